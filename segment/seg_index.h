/* Vector indexes of sealed segments: which catalog index definitions are
 * built (and with what IVF parameters), the index attached to a segment,
 * and the content key that names its file.
 *
 * Built: an index of type IVF_FLAT, IVF_PQ or AUTOINDEX on a FloatVector
 * field, metric L2, IP or COSINE, over a sealed segment of at least
 * TM_SEG_INDEX_MIN_ROWS rows. Everything else (FLAT, the types we accept
 * but do not build, the other vector types, small and growing segments) is
 * searched exactly by brute force (search.h).
 *
 *   IVF_FLAT   nlist (default 128, [1, 65536]).
 *   IVF_PQ     nlist (default 128), m (default: the largest divisor of dim
 *              up to dim / 4), nbits 8 (one byte per code) or 4 (the 4-bit
 *              fast-scan layout, m <= 256); other nbits are refused.
 *   AUTOINDEX  4-bit fast scan with 2-dimensional sub-spaces (m = the
 *              largest divisor of dim up to min(dim / 2, 256)) and
 *              nlist = round(4 sqrt(rows)) in [16, 65536], chosen per segment.
 *
 * Search parameters (milvus-rest-v2.md §4.4.6 searchParams): `nprobe`, the
 * lists probed (default 8 for IVF_FLAT and IVF_PQ, as Milvus; nlist / 16,
 * at least 8, for AUTOINDEX), and `refine_k`, the re-rank depth as a
 * factor of k (PQ kinds: the best refine_k * k candidates by the PQ
 * estimate are re-scored exactly against the raw vectors; default 16 for
 * 4-bit codes, 8 for 8-bit). Every hit's reported distance is exact, so
 * hits from indexed, brute-force and growing segments merge on one scale.
 */
#ifndef TM_SEG_INDEX_H
#define TM_SEG_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "ivf.h"
#include "search.h"

struct tm_store;

/* Segments below this many rows are not indexed: a scan of them is about
 * as fast as probing an index, and exact (Milvus's default threshold). */
#define TM_SEG_INDEX_MIN_ROWS 1024u
#define TM_SEG_INDEX_MAX_NPROBE 65536u
#define TM_SEG_INDEX_MAX_REFINE 1024.0

/* What an index definition asks to build, independent of a segment. */
struct tm_seg_index_plan {
    enum tm_ivf_kind kind;
    enum tm_metric metric; /* L2, IP or COSINE */
    uint32_t dim;
    uint32_t nlist; /* 0: from the segment's rows (AUTOINDEX) */
    uint32_t m, nbits;
    uint32_t nprobe; /* default nprobe; 0: nlist / 16, at least 8 */
    double refine;   /* default refine_k (PQ kinds) */
};

/* Reads an index definition (type and metric names, params as the catalog
 * keeps them, the indexed field). Returns 1 with *out filled when it is
 * one we build, 0 when it is served by brute force, or TM_EINVAL with why
 * filled (a Milvus-style message) when a parameter is out of range. */
int tm_seg_index_plan(const char *type, const char *metric, const struct tm_kv *params,
                      size_t nparams, const struct tm_field *f, struct tm_seg_index_plan *out,
                      char *why, size_t why_len);

/* The tm_ivf_build parameters of plan over n rows (threads 1, seed fixed,
 * so the same rows always give the same index). */
void tm_seg_index_params(const struct tm_seg_index_plan *plan, uint64_t n,
                         struct tm_ivf_params *out);

/* The default nprobe of an index built with these parameters. */
uint32_t tm_seg_index_default_nprobe(const struct tm_seg_index_plan *plan,
                                     const struct tm_ivf_params *built);

/* The content key of segment seg's index on field_id: 64 bits that change
 * whenever the rows (count, primary keys, timestamps, vectors) or the build
 * parameters do, so an index file named by it is valid exactly for a
 * segment with the same contents. Caller holds the store's lock (read is
 * enough). */
uint64_t tm_seg_index_key(const struct tm_store *s, uint32_t seg, int64_t field_id,
                          const struct tm_ivf_params *p);

/* An index attached to a sealed segment (struct tm_store_seg.ix): a list,
 * at most one per vector field. ivf borrows the segment's vector column,
 * which never changes once sealed and is freed only after the index. */
struct tm_seg_index {
    int64_t field_id;
    int64_t index_id; /* the catalog's index id */
    enum tm_metric metric;
    uint32_t nprobe; /* defaults for searches that give none */
    double refine;
    uint64_t key;
    struct tm_ivf *ivf; /* owned */
    struct tm_seg_index *next;
};

/* Frees a whole list (NULL is fine). */
void tm_seg_index_free(struct tm_seg_index *list);
/* The index of field_id in a list, or NULL. */
const struct tm_seg_index *tm_seg_index_find(const struct tm_seg_index *list, int64_t field_id);

#endif
