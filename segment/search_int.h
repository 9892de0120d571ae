/* Internals of the brute-force search shared by search.c and
 * search_collect.c (and the tests). */
#ifndef TM_SEARCH_INT_H
#define TM_SEARCH_INT_H

#include "distance.h"
#include "search.h"

/* A candidate: key is the score made "smaller is better". */
struct tm_hit {
    float key;
    int64_t ref;
};

/* The best hits of one query: a bounded max-heap of k, or, when grouping,
 * every candidate (groups are only known once all are ranked). */
struct tm_collector {
    const struct tm_search_spec *sp;
    const struct tm_store *s;
    struct tm_hit *hits;
    uint64_t n, cap;
    uint64_t skip; /* hits before the offset, once ranked */
};

void tm_collector_init(struct tm_collector *c, const struct tm_search_spec *sp,
                       const struct tm_store *s);
void tm_collector_free(struct tm_collector *c);
int tm_collector_offer(struct tm_collector *c, float key, int64_t ref);
/* Ranks every query's hits and fills out (scores back in the metric's own
 * sign: negated again when descending). 0 or TM_ENOMEM. */
int tm_collectors_finish(struct tm_collector *c, uint32_t nq, bool asc, struct tm_search_hits *out);

/* One search in progress (search.c). */
struct tm_scan {
    struct tm_store *s;
    const struct tm_search_spec *sp;
    const struct tm_kernels *k;
    enum tm_dtype type;
    enum tm_metric metric;
    bool asc;
    uint32_t dim, width, block;
    float *qf, *qnorm;               /* float family: queries as floats, and norms */
    float *scratch, *scores, *xnorm; /* one block's converted rows, scores, norms */
    struct tm_collector *coll;       /* one per query */
};

/* Searches segment seg through its index ix for every query, offering the
 * hits to sc->coll; only rows whose bit is set in bits are returned
 * (search_index.c). 0, TM_ENOMEM, or 1 when the caller should scan the
 * segment exactly instead (a filter left too few rows for the probes). */
struct tm_seg_index;
int tm_scan_indexed(struct tm_scan *sc, uint32_t seg, const struct tm_seg_index *ix,
                    const uint64_t *bits);
/* The index to search segment seg with, or NULL to scan it. */
const struct tm_seg_index *tm_scan_index_of(const struct tm_scan *sc, uint32_t seg);

/* The output layout of a read: the pk column, then q->fields (store.c). */
int tm_store_out_layout(const struct tm_store *s, const struct tm_store_read *q,
                        struct tm_batch *out);

#endif
