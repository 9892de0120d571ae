/* Searches in the proxy, shared by rest_search.c (search, the sub-search
 * machinery) and rest_rerank.c (hybrid search). Each function that returns
 * int returns 0 or TM_ESTATUS with r->st filled. */
#ifndef TM_REST_SEARCH_H
#define TM_REST_SEARCH_H

#include "rest_int.h"
#include "search.h"

/* One ANN request: a search, or one sub-search of a hybrid search. */
struct tm_sub_search {
    const struct tm_field *f; /* the vector field (annsField) */
    enum tm_metric metric;
    struct tm_batch vecs; /* one column: the query vectors in the field's encoding */
    struct tm_read_plan plan;
    bool has_radius, has_range_filter;
    double radius, range_filter;
    int64_t group; /* groupingField id, 0 for none */
    uint32_t group_size;
    uint32_t nprobe; /* IVF search parameters (segment/seg_index.h); 0: default */
    double refine_k;
};

/* What the query role found: topks[i] hits for query i, flat. */
struct tm_sub_result {
    uint32_t nq, n;
    uint32_t *topks;
    float *scores;
    struct tm_batch rows; /* pk, then the plan's output fields; row i is hit i */
};

/* Level, partitions and output fields of the request (plan->sel, ...). */
int tm_search_common(struct tm_req *r, const struct tm_collection *c, struct tm_read_plan *p);
/* The ANN part of obj (a search body, or a hybrid `search` item):
 * annsField, data, limit, offset, filter, exprParams, groupingField, and
 * the search parameters under params_key ("searchParams" or "params").
 * ss->plan must already hold the common options; ss->vecs be initialised. */
int tm_sub_search_parse(struct tm_req *r, const struct tm_collection *c, const json_t *obj,
                        const char *params_key, struct tm_sub_search *ss);
void tm_sub_search_free(struct tm_sub_search *ss);
/* Runs ss on the query role; res is initialised here, freed by the caller. */
int tm_sub_search_run(struct tm_req *r, const struct tm_collection *c,
                      const struct tm_sub_search *ss, struct tm_sub_result *res);
void tm_sub_result_free(struct tm_sub_result *res);
/* Writes res as the response: data (a flat list of hits) and topks. */
void tm_search_write(struct tm_req *r, const struct tm_collection *c, const struct tm_read_plan *p,
                     const struct tm_sub_result *res);

/* hybrid_search (rest_rerank.c). */
int tm_rest_hybrid(struct tm_req *r);

#endif
