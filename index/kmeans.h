/* k-means for the IVF coarse quantizer and the PQ codebooks (ivf.h).
 *
 * Lloyd's algorithm on a seeded sample: the initial centroids are k
 * distinct sample vectors chosen by a seeded shuffle, each iteration assigns
 * every sample vector to its nearest centroid (squared L2, computed from
 * norms and the batched inner-product kernel, as FAISS does) and moves each
 * centroid to its members' mean. A centroid left empty takes over half of
 * the largest cluster: it is set to that cluster's centroid nudged apart
 * by a small symmetric perturbation, as FAISS does, so no list stays empty.
 * Everything is deterministic for a given seed, thread count aside: the
 * assignment of a vector does not depend on which thread computed it.
 */
#ifndef TM_KMEANS_H
#define TM_KMEANS_H

#include <stdbool.h>
#include <stdint.h>

struct tm_kernels;

struct tm_kmeans_opts {
    uint32_t iters;                   /* Lloyd iterations (0: 10) */
    uint64_t seed;                    /* sampling and initialisation */
    uint64_t max_train;               /* sample at most this many vectors (0: all) */
    uint32_t threads;                 /* assignment threads (0: 1) */
    const struct tm_kernels *kernels; /* NULL: tm_kernels_best() */
    /* Set by another thread: the training stops at its next iteration
     * with TM_ECANCELED. NULL: never. */
    const volatile bool *stop;
};

/* Trains k centroids of dimension d from the n vectors x (row i at
 * x + i * d) into centroids_out (k * d floats, caller-owned). n >= 1; when
 * n < k the missing centroids repeat sample vectors. Returns 0 or
 * TM_ENOMEM. */
int tm_kmeans_train(const float *x, uint64_t n, uint32_t d, uint32_t k,
                    const struct tm_kmeans_opts *o, float *centroids_out);

/* For each of the n vectors x, the index of the nearest of the k centroids
 * c into assign_out[i]: by squared L2, or by largest inner product when ip
 * is set. Returns 0 or TM_ENOMEM. */
int tm_kmeans_assign(const float *c, uint32_t k, uint32_t d, const float *x, uint64_t n, int ip,
                     uint32_t threads, const struct tm_kernels *kernels, uint32_t *assign_out);

/* The ranges of tm_kernels.dot_s8u8_many: centroid bytes in
 * [0, TM_BYTE_MAX], query bytes in [-TM_QUERY_BYTE_MAX, TM_QUERY_BYTE_MAX]. */
#define TM_BYTE_MAX 127
#define TM_QUERY_BYTE_MAX 32

/* Centroids as bytes, for a first approximate pass over many of them (the
 * coarse search in ivf_search.c): per dimension t, the centroids' range in
 * TM_BYTE_MAX steps, c[j][t] ~ lo[t] + step[t] * u8[j*d + t]. A quarter of
 * the float bytes, so 4,096 x 128 stay in a 1 MiB L2. */
void tm_bytes_of_centroids(const float *c, uint32_t k, uint32_t d, uint8_t *u8_out, float *lo_out,
                           float *step_out);
/* Query q in those bytes' terms: w8 (d values in [-TM_QUERY_BYTE_MAX,
 * TM_QUERY_BYTE_MAX]) with q.c ~ *base_out + *scale_out * dot(w8, u8). */
void tm_bytes_of_query(const float *q, uint32_t d, const float *lo, const float *step, int8_t *w8,
                       float *scale_out, float *base_out);

/* splitmix64, the generator every seeded choice of the index uses. */
uint64_t tm_kmeans_rand(uint64_t *state);

#endif
