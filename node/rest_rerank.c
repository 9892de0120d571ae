/* hybrid_search (milvus-rest-v2.md §4.4.7): every sub-search runs on the
 * query role; their ranked lists are fused here, per query, by primary key.
 *
 * RRF: score = sum over the lists that hold the key of 1 / (k + rank), rank
 * counted from 1 (k defaults to 60, in (0, 16384)).
 * Weighted (as Milvus 2.6's weighted function): score = sum of
 * weight_i * norm(score_i), one weight in [0, 1] per sub-search. With
 * `norm_score: true` scores are first mapped onto [0, 1]: COSINE
 * (1 + s) / 2, IP 0.5 + atan(s) / pi, distances (L2, HAMMING, JACCARD)
 * 1 - 2 atan(s) / pi. Without it (the default over REST: Milvus sets it only
 * when sent) scores are summed raw, except that when the sub-searches rank
 * in opposite directions a distance is still mapped by 1 - 2 atan(s) / pi
 * so that larger is better for every list.
 * The fused list is ordered by score, descending, except for a raw weighted
 * sum of distances only, which ascends. A key's row (its output fields)
 * comes from the first sub-search that found it.
 */
#include "rest_search.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HYBRID_MAX_SUBS 16

enum strategy { RRF, WEIGHTED };

struct rerank {
    enum strategy strategy;
    double k;
    double weights[HYBRID_MAX_SUBS];
    bool norm;
    bool mixed;     /* weighted: the sub-searches rank in opposite directions */
    bool ascending; /* the fused score: smaller is better */
};

/* A hit of one sub-search, with its contribution to the fused score. */
struct cand {
    uint32_t sub, row;
    double score;
};

struct fuse_ctx {
    const struct tm_sub_result *res;
    int64_t pk_id;
    bool ascending;
};

static int parse_rerank(struct tm_req *r, const json_t *rr, size_t nsubs, struct rerank *out)
{
    const char *strategy = json_string_value(json_object_get(rr, "strategy"));
    const json_t *params = json_object_get(rr, "params");
    *out = (struct rerank){.strategy = RRF, .k = 60, .norm = true};
    if (!strategy || strcmp(strategy, "rrf") == 0) {
        const json_t *k = json_object_get(params, "k");
        if (k)
            out->k = json_number_value(k);
        if (k && (!json_is_number(k) || out->k <= 0 || out->k >= 16384))
            return tm_status_set(&r->st, TM_MV_INVALID_PARAM,
                                 "The rank params k should be in range (0, 16384)");
        return 0;
    }
    if (strcmp(strategy, "weighted") != 0)
        return tm_status_set(&r->st, TM_MV_INVALID_PARAM,
                             "unsupported rerank strategy %s (rrf or weighted)", strategy);
    out->strategy = WEIGHTED;
    const json_t *w = json_object_get(params, "weights"),
                 *norm = json_object_get(params, "norm_score");
    out->norm = json_is_true(norm);
    if (json_array_size(w) != nsubs)
        return tm_status_set(&r->st, TM_MV_INVALID_PARAM,
                             "the length of weights param mismatch with ann search requests: "
                             "invalid parameter[expected=%zu][actual=%zu]",
                             nsubs, json_array_size(w));
    for (size_t i = 0; i < nsubs; i++) {
        out->weights[i] = json_number_value(json_array_get(w, i));
        if (!json_is_number(json_array_get(w, i)) || out->weights[i] < 0 || out->weights[i] > 1)
            return tm_status_set(&r->st, TM_MV_INVALID_PARAM,
                                 "rank param weight should be in range [0, 1]");
    }
    return 0;
}

/* Where the weighted scores go, once the sub-searches' metrics are known. */
static void weighted_direction(struct rerank *rr, const struct tm_sub_search *subs, size_t n)
{
    size_t asc = 0;
    for (size_t i = 0; i < n; i++)
        asc += tm_metric_ascending(subs[i].metric);
    rr->mixed = asc && asc < n;
    rr->ascending = rr->strategy == WEIGHTED && !rr->norm && asc == n;
}

static double normalised(enum tm_metric m, const struct rerank *rr, double s)
{
    if (!rr->norm && (!rr->mixed || !tm_metric_ascending(m)))
        return s;
    if (m == TM_METRIC_COSINE)
        return (1 + s) / 2;
    if (m == TM_METRIC_IP)
        return 0.5 + atan(s) / M_PI;
    return 1 - 2 * atan(s) / M_PI;
}

static int cmp_pk(const struct fuse_ctx *fc, const struct cand *a, const struct cand *b)
{
    const struct tm_col *ca = tm_batch_col(&fc->res[a->sub].rows, fc->pk_id);
    const struct tm_col *cb = tm_batch_col(&fc->res[b->sub].rows, fc->pk_id);
    size_t la, lb;
    const uint8_t *pa = tm_col_value(ca, a->row, &la), *pb = tm_col_value(cb, b->row, &lb);
    if (ca->type == TM_T_INT64) {
        int64_t x = tm_col_int64(ca, a->row), y = tm_col_int64(cb, b->row);
        return (x > y) - (x < y);
    }
    int c = memcmp(pa, pb, la < lb ? la : lb);
    return c ? c : (la > lb) - (la < lb);
}

static int by_pk(const void *a, const void *b, void *ctx)
{
    int c = cmp_pk(ctx, a, b);
    if (c)
        return c;
    const struct cand *x = a, *y = b; /* the first sub-search's row first */
    return (x->sub > y->sub) - (x->sub < y->sub);
}

static int by_score(const void *a, const void *b, void *ctx)
{
    const struct cand *x = a, *y = b;
    const struct fuse_ctx *fc = ctx;
    if (x->score != y->score)
        return (x->score < y->score) != fc->ascending ? 1 : -1;
    return cmp_pk(ctx, x, y);
}

/* The candidates of query qi from every sub-search, with their own
 * contributions; returns how many. */
static uint32_t gather(const struct tm_sub_result *res, size_t nsubs,
                       const struct tm_sub_search *subs, const struct rerank *rr, uint32_t qi,
                       struct cand *out)
{
    uint32_t n = 0;
    for (size_t s = 0; s < nsubs; s++) {
        uint32_t from = 0;
        for (uint32_t q = 0; q < qi; q++)
            from += res[s].topks[q];
        for (uint32_t h = 0; h < res[s].topks[qi]; h++) {
            double score =
                rr->strategy == RRF
                    ? 1.0 / (rr->k + h + 1)
                    : rr->weights[s] * normalised(subs[s].metric, rr, res[s].scores[from + h]);
            out[n++] = (struct cand){(uint32_t)s, from + h, score};
        }
    }
    return n;
}

/* Sums the contributions of each key into its first candidate; returns the
 * number of distinct keys, moved to the front. */
static uint32_t merge_keys(struct cand *c, uint32_t n, struct fuse_ctx *fc)
{
    qsort_r(c, n, sizeof *c, by_pk, fc);
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (kept && cmp_pk(fc, &c[kept - 1], &c[i]) == 0)
            c[kept - 1].score += c[i].score;
        else
            c[kept++] = c[i];
    }
    return kept;
}

static void write_fused(struct tm_req *r, const struct tm_collection *c,
                        const struct tm_read_plan *top, const struct tm_sub_result *res,
                        const struct cand *cands, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        float score = (float)cands[i].score;
        tm_render_row(&r->data, &c->schema, &res[cands[i].sub].rows, cands[i].row, &top->sel,
                      &score);
    }
}

/* Fuses the sub-results query by query and writes the response. */
static int fuse(struct tm_req *r, const struct tm_collection *c, const struct tm_read_plan *top,
                const struct tm_sub_search *subs, const struct tm_sub_result *res, size_t nsubs,
                const struct rerank *rr)
{
    uint64_t total = 0;
    for (size_t s = 0; s < nsubs; s++)
        total += res[s].n;
    struct cand *cands = malloc((total + 1) * sizeof *cands);
    uint32_t *topks = calloc(res[0].nq + 1, sizeof *topks), found = 0;
    if (!cands || !topks) {
        free(cands), free(topks);
        return tm_status_set(&r->st, TM_MV_INTERNAL, "out of memory");
    }
    struct fuse_ctx fc = {res, tm_schema_pk(&c->schema)->id, rr->ascending};
    tm_jw_arr(&r->data);
    for (uint32_t qi = 0; qi < res[0].nq; qi++) {
        uint32_t n = merge_keys(cands, gather(res, nsubs, subs, rr, qi, cands), &fc);
        qsort_r(cands, n, sizeof *cands, by_score, &fc);
        uint32_t from = top->offset < n ? (uint32_t)top->offset : n;
        uint32_t take = n - from < top->limit ? n - from : (uint32_t)top->limit;
        write_fused(r, c, top, res, cands + from, take);
        topks[qi] = take;
        found += take;
    }
    tm_jw_arr_end(&r->data);
    r->has_data = r->with_cost = true;
    if (found) {
        tm_jw_arr(&r->topks);
        for (uint32_t qi = 0; qi < res[0].nq; qi++)
            tm_jw_uint(&r->topks, topks[qi]);
        tm_jw_arr_end(&r->topks);
    }
    free(cands);
    free(topks);
    return 0;
}

static int parse_top_window(struct tm_req *r, struct tm_read_plan *top)
{
    int64_t limit, offset;
    if (tm_req_int(r, "limit", 100, &limit) || tm_req_int(r, "offset", 0, &offset))
        return TM_ESTATUS;
    if (limit <= 0 || limit > 16384 || offset < 0 || limit + offset > 16384)
        return tm_status_set(&r->st, TM_MV_UNEXPECTED,
                             "topk [%lld] is invalid, it should be in range [1, 16384], and "
                             "offset [%lld] + topk should not exceed 16384",
                             (long long)limit, (long long)offset);
    top->limit = (uint64_t)limit;
    top->offset = (uint64_t)offset;
    return 0;
}

/* Parses and runs every sub-search; *n_out counts those that need freeing. */
static int run_subs(struct tm_req *r, const struct tm_collection *c, const json_t *items,
                    const struct tm_read_plan *top, struct tm_sub_search *subs,
                    struct tm_sub_result *res, size_t *n_out)
{
    int rc = 0;
    for (size_t i = 0; i < json_array_size(items) && !rc; i++) {
        struct tm_sub_search *ss = &subs[i];
        memset(ss, 0, sizeof *ss);
        memset(&res[i], 0, sizeof res[i]);
        tm_batch_init(&ss->vecs);
        tm_batch_init(&res[i].rows);
        ss->plan = *top;
        ss->plan.params = NULL;
        *n_out = i + 1;
        rc = tm_sub_search_parse(r, c, json_array_get(items, i), "params", ss);
        if (!rc)
            rc = tm_sub_search_run(r, c, ss, &res[i]);
        if (!rc && res[i].nq != res[0].nq)
            rc = tm_status_set(&r->st, TM_MV_INVALID_PARAM,
                               "every sub-search must have the same number of query vectors");
    }
    return rc;
}

int tm_rest_hybrid(struct tm_req *r)
{
    struct tm_collection c;
    struct tm_read_plan top = {0};
    struct tm_sub_search subs[HYBRID_MAX_SUBS];
    struct tm_sub_result res[HYBRID_MAX_SUBS];
    struct rerank rr;
    size_t nsubs = 0;
    int rc = tm_rest_target(r, &c);
    if (rc)
        return rc;
    const json_t *items = tm_req_get(r, "search");
    size_t n = json_array_size(items);
    rc = tm_search_common(r, &c, &top);
    if (!rc && (n == 0 || n > HYBRID_MAX_SUBS))
        rc = tm_status_set(&r->st, TM_MV_INVALID_PARAM,
                           "hybrid search needs 1 to %d sub-searches in `search`", HYBRID_MAX_SUBS);
    if (!rc)
        rc = parse_top_window(r, &top);
    if (!rc)
        rc = parse_rerank(r, tm_req_get(r, "rerank"), n, &rr);
    if (!rc)
        rc = run_subs(r, &c, items, &top, subs, res, &nsubs);
    if (!rc) {
        weighted_direction(&rr, subs, nsubs);
        rc = fuse(r, &c, &top, subs, res, nsubs, &rr);
    }
    for (size_t i = 0; i < nsubs; i++) {
        tm_sub_search_free(&subs[i]);
        tm_sub_result_free(&res[i]);
    }
    tm_collection_free(&c);
    return rc;
}
