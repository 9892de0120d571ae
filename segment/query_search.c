/* The query role's "search" call: a search of one collection at the
 * request's consistency level (search.h): growing and small segments by
 * brute force, indexed sealed segments through their index (seg_index.h).
 *
 *   "search" {read keys: "coll", "parts", "fields", "level", "gts",
 *             "timeout_ms", "filter", "params", "offset";
 *             "field": vector field id, "metric": enum tm_metric,
 *             "nq": uint, "vecs": bin, "ends": bin|nil (sparse: uint64 end
 *             offset per query), "k": limit + offset, "radius",
 *             "range_filter": double|nil, "group": field id|0,
 *             "group_size": uint, "nprobe": uint (0: default),
 *             "refine_k": double (0: default)}
 *     -> {"topks": [uint], "scores": bin (float per hit), "rows": batch}
 */
#include "query_role_int.h"
#include "store_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SEARCH_MAX_NQ 16384
#define SEARCH_MAX_K 16384

static int bad(struct tm_status *st, const char *what)
{
    return tm_status_set(st, TM_MV_INVALID_PARAM, "malformed search request: %s", what);
}

/* Checks the query vectors against the column they are searched in. */
static int check_vectors(const struct tm_store *s, const struct search_args *sa,
                         struct tm_status *st)
{
    const struct tm_col *lc = tm_batch_col(&s->layout, sa->field);
    if (!lc || !tm_dtype_is_vector(lc->type))
        return bad(st, "the field is not a vector field");
    if (sa->nq == 0 || sa->nq > SEARCH_MAX_NQ)
        return bad(st, "nq out of range");
    if (lc->type != TM_T_SPARSE_VECTOR)
        return (uint64_t)sa->vecs_len == sa->nq * lc->width ? 0 : bad(st, "vector size");
    if (sa->ends_len != sa->nq * 8)
        return bad(st, "sparse offsets");
    uint64_t prev = 0;
    for (uint64_t i = 0; i < sa->nq; i++) {
        uint64_t end;
        memcpy(&end, sa->ends + i * 8, 8);
        if (end < prev || end > sa->vecs_len || (end - prev) % 8)
            return bad(st, "sparse offsets");
        prev = end;
    }
    return 0;
}

static void spec_of(const struct read_args *a, const struct search_args *sa,
                    struct tm_search_spec *sp, uint64_t *ends)
{
    if (sa->ends)
        memcpy(ends, sa->ends, sa->ends_len);
    *sp = (struct tm_search_spec){.field_id = sa->field,
                                  .metric = (enum tm_metric)sa->metric,
                                  .nq = (uint32_t)sa->nq,
                                  .vecs = sa->vecs,
                                  .sparse_ends = sa->ends ? ends : NULL,
                                  .k = (uint32_t)sa->k,
                                  .offset = (uint32_t)a->offset,
                                  .has_radius = sa->has_radius,
                                  .radius = sa->radius,
                                  .has_range_filter = sa->has_range_filter,
                                  .range_filter = sa->range_filter,
                                  .group_field_id = sa->group,
                                  .group_size = sa->group_size ? (uint32_t)sa->group_size : 1,
                                  .nprobe = (uint32_t)sa->nprobe,
                                  .refine_k = sa->refine_k};
}

static void encode_hits(struct tm_mpw *reply, const struct tm_search_hits *h,
                        const struct tm_batch *rows)
{
    tm_mpw_map(reply, 3);
    tm_mpw_cstr(reply, "topks"), tm_mpw_array(reply, h->nq);
    for (uint32_t i = 0; i < h->nq; i++)
        tm_mpw_uint(reply, h->topks[i]);
    tm_mpw_cstr(reply, "scores"), tm_mpw_bin(reply, h->scores, (uint32_t)(h->n * 4));
    tm_mpw_cstr(reply, "rows"), tm_batch_encode(reply, rows);
}

/* Runs the search on c under its read lock and writes the reply. */
static void run(struct tm_query_role *q, struct qcoll *c, const struct read_args *a,
                const struct search_args *sa, const uint64_t *read_ts, struct tm_expr *filter,
                struct tm_mpw *reply, struct tm_status *st)
{
    struct tm_search_spec sp;
    struct tm_search_hits hits;
    struct tm_batch rows;
    /* the sparse offsets, copied out of the message to be aligned */
    uint64_t *ends_buf = sa->ends ? malloc(sa->ends_len) : NULL;
    /* the read's offset and limit are unused: sp.k and sp.offset window a search */
    struct tm_store_read rq = tm_query_store_read(q, a, read_ts, filter);
    tm_search_hits_init(&hits);
    tm_batch_init(&rows);
    if (sa->ends && !ends_buf) {
        tm_status_set(st, TM_MV_INTERNAL, "out of memory");
        return;
    }
    spec_of(a, sa, &sp, ends_buf);
    pthread_rwlock_rdlock(&c->store->lock);
    int rc = c->dead ? 0 : check_vectors(c->store, sa, st);
    if (!rc && !c->dead)
        rc = tm_store_search(c->store, &rq, &sp, &hits);
    if (!rc && !c->dead)
        rc = tm_store_rows_of(c->store, hits.refs, hits.n, &rq, &rows);
    pthread_rwlock_unlock(&c->store->lock);
    if (rc && !st->code)
        tm_status_set(st, rc == TM_EINVAL ? TM_MV_INVALID_PARAM : TM_MV_INTERNAL,
                      "search failed: %s", tm_strerror(rc));
    if (!rc)
        encode_hits(reply, &hits, &rows);
    free(ends_buf);
    tm_search_hits_free(&hits);
    tm_batch_free(&rows);
}

void tm_query_search(struct tm_query_role *q, struct tm_mpr *body, struct tm_mpw *reply,
                     struct tm_status *st)
{
    struct read_args a;
    struct search_args sa;
    if (tm_query_parse(body, &a, &sa)) {
        bad(st, "undecodable");
        return;
    }
    if (sa.k == 0 || sa.k > SEARCH_MAX_K || sa.metric > TM_METRIC_JACCARD) {
        bad(st, "k or metric out of range");
        return;
    }
    /* The proxy refuses these with Milvus's words; this guards the role. */
    if (sa.nprobe > TM_SEG_INDEX_MAX_NPROBE || sa.refine_k < 0 ||
        sa.refine_k > TM_SEG_INDEX_MAX_REFINE || isnan(sa.refine_k)) {
        bad(st, "nprobe or refine_k out of range");
        return;
    }
    uint64_t read_ts[64];
    struct tm_expr *filter;
    struct qcoll *c = tm_query_prepare(q, &a, read_ts, &filter, st);
    if (st->code)
        return;
    if (!c) { /* no rows yet */
        struct tm_search_hits none = {.nq = 0};
        struct tm_batch empty;
        tm_batch_init(&empty);
        encode_hits(reply, &none, &empty);
        return;
    }
    run(q, c, &a, &sa, read_ts, filter, reply, st);
    tm_expr_free(filter);
}
