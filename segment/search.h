/* Brute-force vector search over a store's growing data (DESIGN.md §6):
 * exact distances from the kernels of index/distance.h to every row that is
 * visible at the read's timestamps, in a selected partition, and matched by
 * the filter; the best k per query.
 *
 * Scores are what Milvus reports (milvus-rest-v2.md §4.4.6): L2 is the
 * squared distance, IP the inner product, COSINE the cosine similarity,
 * HAMMING the number of differing bits, JACCARD 1 - |a&b| / |a|b|. L2,
 * HAMMING and JACCARD rank ascending; IP and COSINE descending. Ties are
 * broken by insertion order (the older row first), so results are
 * deterministic.
 *
 * Range search keeps only scores in the band Milvus defines: ascending
 * metrics range_filter <= d < radius, descending radius < d <= range_filter.
 *
 * Grouping keeps at most group_size hits per distinct value of a scalar
 * field (rows whose value is null form one group) and returns the best k
 * groups, best group first, each group's hits best first.
 */
#ifndef TM_SEARCH_H
#define TM_SEARCH_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

enum tm_metric {
    TM_METRIC_L2,
    TM_METRIC_IP,
    TM_METRIC_COSINE,
    TM_METRIC_HAMMING,
    TM_METRIC_JACCARD
};

/* The metric named as Milvus spells it ("L2"); -1 if unknown. */
int tm_metric_parse(const char *name);
/* True when smaller scores are better (L2, HAMMING, JACCARD). */
bool tm_metric_ascending(enum tm_metric m);

struct tm_search_spec {
    int64_t field_id; /* the vector column searched */
    enum tm_metric metric;
    uint32_t nq;
    /* Query vectors in the column's own encoding: dense types nq * width
     * bytes; sparse vectors as sorted (uint32 index, float value) pairs,
     * query i spanning [ends[i-1], ends[i]) bytes. Borrowed for the call. */
    const uint8_t *vecs;
    const uint64_t *sparse_ends;
    uint32_t k;      /* hits (or groups) to rank per query: limit + offset */
    uint32_t offset; /* of those, the first `offset` hits (or groups) are skipped */
    bool has_radius, has_range_filter;
    double radius, range_filter;
    int64_t group_field_id; /* 0: no grouping */
    uint32_t group_size;    /* >= 1 when grouping */
    /* Sealed segments with an index on the field (seg_index.h) are searched
     * through it unless the search is a range or grouping search: nprobe
     * lists probed, refine_k * k candidates re-ranked exactly (0: the
     * index's defaults). */
    uint32_t nprobe;
    double refine_k;
};

struct tm_search_hits {
    uint32_t nq;
    uint32_t *topks; /* hits per query */
    int64_t *refs;   /* store row refs, all queries' hits in order */
    float *scores;
    uint64_t n; /* total hits */
};

void tm_search_hits_init(struct tm_search_hits *h);
void tm_search_hits_free(struct tm_search_hits *h);

/* Searches s. q selects the read timestamps, partitions and filter (as
 * tm_store_read). Growing and un-indexed segments are scanned exactly;
 * indexed ones are probed (above), their hits merged with the others by
 * score under the same visibility and filter rules. The caller holds the
 * store's read lock, which must stay held while out->refs are used.
 * Returns 0, TM_EINVAL (the field is not a vector column of the store, or
 * the metric does not fit its type) or TM_ENOMEM. */
int tm_store_search(struct tm_store *s, const struct tm_store_read *q,
                    const struct tm_search_spec *sp, struct tm_search_hits *out);

/* Copies the rows of refs into out (pk column first, then q->fields), as
 * tm_store_read lays them out. out is freshly initialised. */
int tm_store_rows_of(struct tm_store *s, const int64_t *refs, uint64_t n,
                     const struct tm_store_read *q, struct tm_batch *out);

#endif
