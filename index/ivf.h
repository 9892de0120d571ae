/* Inverted-file vector indexes over one immutable set of float vectors (a
 * sealed segment's vector column, or a benchmark's base file):
 *
 *   IVF_FLAT  the vectors, copied into their lists; exact distances.
 *   IVF_PQ    product-quantized residuals, m sub-quantizers of 2^nbits
 *             centroids (nbits 8: one byte per code, asymmetric distance
 *             through a float lookup table per probed list).
 *   IVF_PQ4   4-bit fast scan: the same with 16 centroids per sub-space,
 *             codes packed in blocks of 32 vectors so that a sub-space's
 *             16 table entries sit in one SIMD register and a byte shuffle
 *             does 16 or 32 lookups at once (tm_kernels.pq4_accumulate).
 *
 * Training is k-means (kmeans.h): sampled, seeded and deterministic, so the
 * same vectors and parameters always build the same index, byte for byte.
 *
 * Metrics. L2 ranks by squared distance; IP by inner product; COSINE by
 * the inner product of normalised vectors (the index normalises what it
 * stores and every query). Internally every score is a key where smaller
 * is better: the squared distance, or the negated inner product.
 *
 * Re-ranking. A PQ search may re-rank its best `rerank` candidates by their
 * exact distance to the raw vectors given at build time (tm_ivf_build's x,
 * borrowed for the life of the index); with rerank = 0 the PQ approximation
 * is returned. IVF_FLAT is always exact.
 *
 * Threads. A built index is immutable: any number of threads may search it
 * at once. A search makes one allocation for its scratch, per call (not per
 * query).
 */
#ifndef TM_IVF_H
#define TM_IVF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tm_kernels;

enum tm_ivf_kind { TM_IVF_FLAT, TM_IVF_PQ, TM_IVF_PQ4 };
enum tm_ivf_metric { TM_IVF_L2, TM_IVF_IP, TM_IVF_COSINE };

struct tm_ivf_params {
    enum tm_ivf_kind kind;
    enum tm_ivf_metric metric;
    uint32_t dim;
    uint32_t nlist;          /* coarse centroids; clamped to the number of vectors */
    uint32_t m;              /* PQ sub-quantizers; must divide dim (PQ kinds) */
    uint32_t nbits;          /* 8 for IVF_PQ, 4 for IVF_PQ4 */
    uint64_t seed;           /* k-means sampling and initialisation */
    uint32_t train_per_list; /* training sample: this many vectors per list (0: 64) */
    uint32_t iters;          /* k-means iterations (0: 10) */
    uint32_t threads;        /* build threads (0: 1) */
};

struct tm_ivf;

/* What another thread sees of a build, and how it calls one off. */
struct tm_ivf_watch {
    volatile uint64_t progress; /* vectors added so far (for indexes/describe) */
    volatile bool stop;         /* set: the build ends soon with TM_ECANCELED */
};

/* Trains and fills an index over the n vectors x[i * dim ...]. x is
 * borrowed for the life of the index (re-ranking reads it). watch may be
 * NULL. Returns 0 and *out, or TM_EINVAL (bad params: dim 0, m not
 * dividing dim, nbits not matching the kind, n == 0), TM_ENOMEM or
 * TM_ECANCELED (watch->stop: checked at every k-means iteration and
 * inverted list, so within a fraction of a second). */
int tm_ivf_build(const struct tm_ivf_params *p, const float *x, uint64_t n,
                 struct tm_ivf_watch *watch, struct tm_ivf **out);
void tm_ivf_free(struct tm_ivf *ix);

const struct tm_ivf_params *tm_ivf_params_of(const struct tm_ivf *ix);
uint64_t tm_ivf_size(const struct tm_ivf *ix); /* vectors indexed */
/* Bytes the index holds (centroids, codebooks, codes, ids), not counting the
 * borrowed raw vectors. */
uint64_t tm_ivf_bytes(const struct tm_ivf *ix);

struct tm_ivf_search_params {
    uint32_t nprobe; /* lists probed per query; clamped to [1, nlist] */
    uint32_t k;      /* results per query, >= 1 */
    uint32_t rerank; /* PQ kinds: candidates re-ranked exactly (0: none; < k: k) */
    /* Rows a result may be: bit i of allow[i / 64] set; NULL allows all. */
    const uint64_t *allow;
    /* The kernel set to score with (distance.h); NULL: tm_kernels_best(). */
    const struct tm_kernels *kernels;
};

/* Searches nq queries (query j at q[j * dim ...]). For each query j,
 * ids_out[j * k + r] and keys_out[j * k + r] are the r-th best row (an
 * index into x) and its key (smaller is better: squared L2, or the negated
 * inner product / cosine); when fewer than k rows are found the rest are
 * -1 and +inf. Results are sorted by key, ties by row. Returns 0,
 * TM_EINVAL (k == 0) or TM_ENOMEM. */
int tm_ivf_search(const struct tm_ivf *ix, const float *q, uint32_t nq,
                  const struct tm_ivf_search_params *sp, int64_t *ids_out, float *keys_out);

/* ---- files (ivf_io.c) ---- */

/* Writes ix to path: under a temporary name, fsynced, renamed into place,
 * the directory fsynced. 0 or a negative errno / TM_ENOMEM. */
int tm_ivf_write(const struct tm_ivf *ix, const char *path);
/* Reads an index written by tm_ivf_write, over the same n raw vectors x
 * (borrowed as by tm_ivf_build). 0 and *out; TM_ECORRUPT (a checksum, the
 * magic, the version or a length does not hold, or n differs: the file is
 * named and the offset given in errmsg), or a negative errno. */
int tm_ivf_read(const char *path, const float *x, uint64_t n, struct tm_ivf **out, char *errmsg,
                size_t errmsg_len);

#endif
