/* The /v2/vectordb/entities searches (milvus-rest-v2.md §4.4.6-7): `search`
 * and `hybrid_search` (alias `advanced_search`). The proxy checks the
 * request and turns the query vectors into their column encoding; the
 * query role runs the search (segment/search.h: brute force, or the IVF
 * index of a sealed segment, segment/seg_index.h). A hybrid
 * search runs each sub-search there and fuses the ranked lists here
 * (rest_rerank.c). */
#include "rest_search.h"
#include "fanout.h"
#include "search_merge.h"
#include "index_types.h"
#include "rows.h"
#include "search.h"
#include "seg_index.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEARCH_WINDOW_MAX 16384

/* ---- the request ---- */

/* annsField, or the only vector field. */
static int pick_field(struct tm_req *r, const struct tm_collection *c, const json_t *name,
                      struct tm_sub_search *ss)
{
    const struct tm_schema *s = &c->schema;
    if (json_is_string(name) && json_string_length(name) > 0) {
        ss->f = tm_schema_field(s, json_string_value(name));
        if (!ss->f || !tm_dtype_is_vector(ss->f->type))
            return tm_status_set(&r->st, TM_MV_INVALID_PARAM,
                                 "failed to get field schema by name: fieldName(%s) not found",
                                 json_string_value(name));
        return 0;
    }
    char names[1024] = "";
    size_t nvec = 0;
    for (size_t i = 0; i < s->nfields; i++) {
        if (!tm_dtype_is_vector(s->fields[i].type))
            continue;
        ss->f = &s->fields[i];
        size_t at = strlen(names);
        snprintf(names + at, sizeof names - at, "%s%s", nvec++ ? "," : "", s->fields[i].name);
    }
    if (nvec == 1)
        return 0;
    return tm_status_set(&r->st, TM_MV_BAD_JSON,
                         "search without annsField, but already found multiple vector fields: "
                         "[%s]",
                         names);
}

/* The metric of the field's index (the collection default when it has
 * none); a metricType the request names must agree with it. */
static int pick_metric(struct tm_req *r, const struct tm_collection *c, const json_t *asked,
                       struct tm_sub_search *ss)
{
    const char *metric = tm_index_default_metric(ss->f->type);
    for (size_t i = 0; i < c->nindexes; i++)
        if (strcmp(c->indexes[i].field, ss->f->name) == 0 && c->indexes[i].metric[0])
            metric = c->indexes[i].metric;
    const char *want = json_string_value(asked);
    if (want && *want && strcmp(want, metric) != 0)
        return tm_status_set(&r->st, TM_MV_INVALID_PARAM,
                             "metric type not match: invalid parameter[expected=%s][actual=%s]",
                             metric, want);
    int m = tm_metric_parse(metric);
    if (m < 0)
        return tm_status_set(&r->st, TM_MV_INVALID_PARAM, "metric type %s is not supported",
                             metric);
    ss->metric = m;
    return 0;
}

/* The query vectors, in the column encoding of the field. */
static int parse_vectors(struct tm_req *r, const json_t *data, struct tm_sub_search *ss)
{
    size_t n = json_array_size(data);
    if (n == 0 || n > SEARCH_WINDOW_MAX)
        return tm_status_set(&r->st, TM_MV_MISSING_PARAM,
                             "missing required parameters, error: data must hold 1 to %d "
                             "query vectors",
                             SEARCH_WINDOW_MAX);
    struct tm_col *col =
        tm_batch_add_col(&ss->vecs, ss->f->id, ss->f->type, tm_field_width(ss->f), false);
    static const char insert_prefix[] = "fail to deal the insert data, error: ";
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(data, i);
        size_t want =
            ss->f->type == TM_T_BINARY_VECTOR ? (size_t)ss->f->dim / 8 : (size_t)ss->f->dim;
        if (json_is_array(v) && ss->f->type != TM_T_SPARSE_VECTOR && json_array_size(v) != want)
            return tm_status_set(&r->st, TM_MV_BAD_JSON,
                                 "can only accept json format request, error: vector dimension "
                                 "mismatch, dimension: %lld, but length of query vector %zu: %zu",
                                 (long long)ss->f->dim, i, json_array_size(v));
        if (tm_rows_value_to_col(ss->f, v, i, col, &r->st)) {
            /* the row converter's words, with search's code and prefix */
            char msg[TM_STATUS_MSG];
            const char *m = r->st.msg;
            if (strncmp(m, insert_prefix, sizeof insert_prefix - 1) == 0)
                m += sizeof insert_prefix - 1;
            snprintf(msg, sizeof msg, "%s", m);
            return tm_status_set(&r->st, TM_MV_BAD_JSON,
                                 "can only accept json format request, error: query vector %zu: "
                                 "%s",
                                 i, msg);
        }
    }
    ss->vecs.nrows = (uint32_t)n;
    return 0;
}

static const struct tm_col *pk_col(const struct tm_batch *b, const struct tm_collection *c)
{
    return tm_batch_col(b, tm_schema_pk(&c->schema)->id);
}

static bool same_pk(const struct tm_col *a, uint32_t i, const struct tm_col *b, uint32_t j)
{
    size_t la, lb;
    const uint8_t *pa = tm_col_value(a, i, &la), *pb = tm_col_value(b, j, &lb);
    return la == lb && memcmp(pa, pb, la) == 0;
}

/* Search by `ids` (2.6): the stored vectors of those keys, read at the
 * request's consistency level, become the query vectors, in the order given. */
static int vectors_of_ids(struct tm_req *r, const struct tm_collection *c, const json_t *ids,
                          struct tm_sub_search *ss)
{
    struct tm_batch pks, rows;
    struct tm_read_plan p = ss->plan;
    tm_batch_init(&pks);
    tm_batch_init(&rows);
    p.filter = NULL;
    p.params = NULL;
    p.sel.nfields = 0;
    p.sel.fields[p.sel.nfields++] = ss->f->id;
    p.sel.meta_all = false;
    p.sel.nmeta_keys = 0;
    int rc = tm_pks_from_json(tm_schema_pk(&c->schema), ids, &pks, &r->st);
    if (!rc)
        rc = tm_rest_read_batch(r, c, &p, &pks, &rows);
    struct tm_col *out =
        rc ? NULL
           : tm_batch_add_col(&ss->vecs, ss->f->id, ss->f->type, tm_field_width(ss->f), false);
    for (uint32_t i = 0; out && i < pks.nrows && !rc; i++) {
        uint32_t j = 0;
        while (j < rows.nrows && !same_pk(&pks.cols[0], i, pk_col(&rows, c), j))
            j++;
        size_t len;
        const uint8_t *v =
            j < rows.nrows ? tm_col_value(tm_batch_col(&rows, ss->f->id), j, &len) : NULL;
        rc = v ? tm_col_push(out, v, len)
               : tm_status_set(&r->st, TM_MV_INVALID_PARAM,
                               "search by ids: the entity at position %u of ids does not exist", i);
    }
    ss->vecs.nrows = rc ? 0 : pks.nrows;
    tm_batch_free(&pks);
    tm_batch_free(&rows);
    return rc;
}

static bool number_of(const json_t *params, const char *key, double *out)
{
    const json_t *v = json_object_get(params, key);
    if (json_is_number(v))
        *out = json_number_value(v);
    else if (json_is_string(v))
        *out = strtod(json_string_value(v), NULL);
    return v && (json_is_number(v) || json_is_string(v));
}

/* radius and range_filter, flat or under "params" (both are merged, as
 * Milvus 2.5.2+ does). */
static void parse_range(const json_t *sp, struct tm_sub_search *ss)
{
    const json_t *inner = json_object_get(sp, "params");
    ss->has_radius =
        number_of(sp, "radius", &ss->radius) || number_of(inner, "radius", &ss->radius);
    ss->has_range_filter = number_of(sp, "range_filter", &ss->range_filter) ||
                           number_of(inner, "range_filter", &ss->range_filter);
}

/* A numeric search parameter given flat or under "params": false when
 * absent; *v is NaN when it is there but not a number. */
static bool ann_number(const json_t *sp, const char *key, double *v)
{
    const json_t *j = json_object_get(sp, key);
    j = j ? j : json_object_get(json_object_get(sp, "params"), key);
    char *end = NULL;
    *v = json_is_number(j)   ? json_number_value(j)
         : json_is_string(j) ? strtod(json_string_value(j), &end)
                             : NAN;
    if (end && (end == json_string_value(j) || *end))
        *v = NAN; /* "16" is 16, "abc" is nothing */
    return j != NULL;
}

/* nprobe and refine_k, the IVF index's search parameters (seg_index.h):
 * refused with 1100 outside Milvus's ranges, ignored by segments searched
 * exactly. */
static int parse_ann_params(struct tm_req *r, const json_t *sp, struct tm_sub_search *ss)
{
    double v;
    ss->nprobe = 0;
    ss->refine_k = 0;
    if (ann_number(sp, "nprobe", &v)) {
        if (!(v >= 1 && v <= TM_SEG_INDEX_MAX_NPROBE) || v != floor(v))
            return tm_status_set(&r->st, TM_MV_INVALID_PARAM,
                                 "invalid parameter: param 'nprobe' (%g) should be an integer "
                                 "in range [1, %u]",
                                 v, TM_SEG_INDEX_MAX_NPROBE);
        ss->nprobe = (uint32_t)v;
    }
    if (ann_number(sp, "refine_k", &v)) {
        if (!(v >= 1 && v <= TM_SEG_INDEX_MAX_REFINE))
            return tm_status_set(&r->st, TM_MV_INVALID_PARAM,
                                 "invalid parameter: param 'refine_k' (%g) should be in range "
                                 "[1, %g]",
                                 v, TM_SEG_INDEX_MAX_REFINE);
        ss->refine_k = v;
    }
    return 0;
}

/* Milvus merges flat search parameters into `params`; a key given in both
 * with different values is refused rather than guessed. */
static int check_ambiguous(struct tm_req *r, const json_t *sp)
{
    const json_t *inner = json_object_get(sp, "params"), *v;
    const char *key;
    json_object_foreach((json_t *)sp, key, v)
    {
        const json_t *other = json_object_get(inner, key);
        if (strcmp(key, "params") != 0 && other && !json_equal(v, other))
            return tm_status_set(&r->st, TM_MV_INVALID_PARAM,
                                 "ambiguous parameter: %s is given in searchParams and in "
                                 "searchParams.params with different values",
                                 key);
    }
    return 0;
}

static int parse_window(struct tm_req *r, const json_t *obj, struct tm_sub_search *ss)
{
    const json_t *l = json_object_get(obj, "limit"), *o = json_object_get(obj, "offset");
    int64_t limit = l ? json_integer_value(l) : 100, offset = o ? json_integer_value(o) : 0;
    if ((l && !json_is_integer(l)) || (o && !json_is_integer(o)))
        return tm_status_set(&r->st, TM_MV_BAD_JSON,
                             "can only accept json format request, error: limit and offset "
                             "must be integers");
    if (limit <= 0 || limit > SEARCH_WINDOW_MAX || offset < 0 || limit + offset > SEARCH_WINDOW_MAX)
        return tm_status_set(&r->st, TM_MV_UNEXPECTED,
                             "topk [%lld] is invalid, it should be in range [1, %d], and offset "
                             "[%lld] + topk should not exceed %d",
                             (long long)limit, SEARCH_WINDOW_MAX, (long long)offset,
                             SEARCH_WINDOW_MAX);
    ss->plan.limit = (uint64_t)limit;
    ss->plan.offset = (uint64_t)offset;
    return 0;
}

static int parse_grouping(struct tm_req *r, const struct tm_collection *c, const json_t *obj,
                          struct tm_sub_search *ss)
{
    const char *name = json_string_value(json_object_get(obj, "groupingField"));
    if (!name || !*name)
        return 0;
    const struct tm_field *g = tm_schema_field(&c->schema, name);
    bool ok = g && (g->type == TM_T_BOOL || (g->type >= TM_T_INT8 && g->type <= TM_T_INT64) ||
                    g->type == TM_T_VARCHAR);
    if (!ok)
        return tm_status_set(&r->st, TM_MV_INVALID_PARAM,
                             "groupBy field %s not found or of an unsupported type (Bool, Int8, "
                             "Int16, Int32, Int64 or VarChar)",
                             name);
    json_int_t size = json_integer_value(json_object_get(obj, "groupSize"));
    ss->group = g->id;
    ss->group_size = size > 0 ? (uint32_t)size : 1;
    return 0;
}

int tm_sub_search_parse(struct tm_req *r, const struct tm_collection *c, const json_t *obj,
                        const char *params_key, struct tm_sub_search *ss)
{
    const json_t *sp = json_object_get(obj, params_key);
    int rc = json_is_object(sp) ? check_ambiguous(r, sp) : 0;
    if (!rc)
        rc = pick_field(r, c, json_object_get(obj, "annsField"), ss);
    if (!rc)
        rc = pick_metric(r, c, json_object_get(sp, "metricType"), ss);
    const json_t *ids = json_object_get(obj, "ids"), *data = json_object_get(obj, "data");
    if (!rc && ids && data)
        rc =
            tm_status_set(&r->st, TM_MV_INVALID_PARAM, "search takes either data or ids, not both");
    if (!rc)
        rc = ids ? vectors_of_ids(r, c, ids, ss) : parse_vectors(r, data, ss);
    if (!rc)
        rc = parse_window(r, obj, ss);
    if (!rc)
        rc = tm_rest_parse_filter(r, c, json_object_get(obj, "filter"),
                                  json_object_get(obj, "exprParams"), &ss->plan);
    if (!rc)
        rc = parse_grouping(r, c, obj, ss);
    if (!rc)
        rc = parse_ann_params(r, sp, ss);
    parse_range(sp, ss);
    return rc;
}

void tm_sub_search_free(struct tm_sub_search *ss)
{
    tm_batch_free(&ss->vecs);
    free(ss->plan.params);
    ss->plan.params = NULL;
}

/* ---- the call ---- */

static void encode_search(struct tm_mpw *w, const struct tm_req *r, const struct tm_collection *c,
                          const struct tm_sub_search *ss)
{
    const struct tm_col *v = &ss->vecs.cols[0];
    tm_rest_plan_encode(w, c, &ss->plan, NULL, (uint64_t)r->p->cfg.request_timeout_ms / 2, 12);
    tm_mpw_cstr(w, "field"), tm_mpw_int(w, ss->f->id);
    tm_mpw_cstr(w, "metric"), tm_mpw_uint(w, (uint64_t)ss->metric);
    tm_mpw_cstr(w, "nq"), tm_mpw_uint(w, ss->vecs.nrows);
    tm_mpw_cstr(w, "vecs"), tm_mpw_bin(w, v->data.data, (uint32_t)v->data.len);
    tm_mpw_cstr(w, "ends");
    if (v->width == 0)
        tm_mpw_bin(w, v->ends.data, (uint32_t)v->ends.len);
    else
        tm_mpw_nil(w);
    tm_mpw_cstr(w, "k"), tm_mpw_uint(w, ss->plan.limit + ss->plan.offset);
    tm_mpw_cstr(w, "radius");
    ss->has_radius ? tm_mpw_double(w, ss->radius) : tm_mpw_nil(w);
    tm_mpw_cstr(w, "range_filter");
    ss->has_range_filter ? tm_mpw_double(w, ss->range_filter) : tm_mpw_nil(w);
    tm_mpw_cstr(w, "group"), tm_mpw_int(w, ss->group);
    tm_mpw_cstr(w, "group_size"), tm_mpw_uint(w, ss->group_size);
    tm_mpw_cstr(w, "nprobe"), tm_mpw_uint(w, ss->nprobe);
    tm_mpw_cstr(w, "refine_k"), tm_mpw_double(w, ss->refine_k);
}

static int decode_topks(struct tm_mpr *b, struct tm_sub_result *res)
{
    uint32_t n;
    if (tm_mpr_array(b, &n))
        return b->err;
    res->topks = calloc(n + 1, sizeof *res->topks);
    if (!res->topks)
        return TM_ENOMEM;
    res->nq = n;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t k;
        tm_mpr_uint(b, &k);
        res->topks[i] = (uint32_t)k;
        res->n += (uint32_t)k;
    }
    return b->err;
}

static int decode_result(struct tm_mpr *b, struct tm_sub_result *res)
{
    uint32_t n, kn, slen = 0;
    const char *k;
    const uint8_t *scores = NULL;
    int rc = tm_mpr_map(b, &n);
    for (uint32_t i = 0; i < n && !rc; i++) {
        rc = tm_mpr_str(b, &k, &kn);
        if (rc)
            break;
        if (kn == 5 && memcmp(k, "topks", 5) == 0)
            rc = decode_topks(b, res);
        else if (kn == 6 && memcmp(k, "scores", 6) == 0)
            rc = tm_mpr_bin(b, &scores, &slen);
        else if (kn == 4 && memcmp(k, "rows", 4) == 0)
            rc = tm_batch_decode(b, &res->rows);
        else
            rc = tm_mpr_skip(b);
    }
    if (!rc && (slen != res->n * 4 || res->rows.nrows != res->n))
        rc = TM_ECORRUPT;
    if (!rc && (res->scores = malloc(slen + 4)) == NULL)
        rc = TM_ENOMEM;
    if (!rc)
        memcpy(res->scores, scores, slen);
    return rc;
}

struct search_call {
    const struct tm_req *r;
    const struct tm_collection *c;
    const struct tm_sub_search *ss;
};

/* Several nodes answering: each returns the first offset + limit hits
 * (groups), and for grouping the grouping field, which the merge needs. */
static void encode_part(struct tm_mpw *w, bool whole, void *arg)
{
    const struct search_call *sc = arg;
    if (whole) {
        encode_search(w, sc->r, sc->c, sc->ss);
        return;
    }
    struct tm_sub_search part = *sc->ss;
    part.plan.limit += part.plan.offset;
    part.plan.offset = 0;
    bool has_group = !part.group;
    for (uint32_t i = 0; i < part.plan.sel.nfields && !has_group; i++)
        has_group = part.plan.sel.fields[i] == part.group;
    if (!has_group && part.plan.sel.nfields < TM_BATCH_MAX_COLS)
        part.plan.sel.fields[part.plan.sel.nfields++] = part.group;
    encode_search(w, sc->r, sc->c, &part);
}

static int merge_parts(struct tm_req *r, const struct tm_sub_search *ss, struct tm_fanout *f,
                       struct tm_sub_result *res)
{
    struct tm_sub_result parts[TM_PROXY_MAX_QUERY] = {0};
    int rc = 0, n = 0;
    for (; n < f->n && !rc; n++) {
        memset(&parts[n], 0, sizeof parts[n]);
        tm_batch_init(&parts[n].rows);
        rc = decode_result(&f->replies[n].body, &parts[n]);
    }
    if (!rc && n == 1) {
        *res = parts[0];
        return 0;
    }
    if (!rc)
        rc = tm_search_merge(parts, n, ss, res);
    for (int i = 0; i < n; i++)
        tm_sub_result_free(&parts[i]);
    return rc ? tm_status_set(&r->st, TM_MV_INTERNAL, "malformed search reply") : 0;
}

int tm_sub_search_run(struct tm_req *r, const struct tm_collection *c,
                      const struct tm_sub_search *ss, struct tm_sub_result *res)
{
    struct search_call sc = {r, c, ss};
    struct tm_fanout f;
    memset(res, 0, sizeof *res);
    tm_batch_init(&res->rows);
    int rc = tm_fanout_call(r, "search", encode_part, &sc, &f);
    if (rc)
        return rc;
    rc = merge_parts(r, ss, &f, res);
    tm_fanout_free(&f);
    return rc;
}

void tm_sub_result_free(struct tm_sub_result *res)
{
    free(res->topks);
    free(res->scores);
    tm_batch_free(&res->rows);
    memset(res, 0, sizeof *res);
}

/* ---- search ---- */

/* Read options shared by a search and a hybrid search's sub-searches. */
int tm_search_common(struct tm_req *r, const struct tm_collection *c, struct tm_read_plan *p)
{
    int rc = tm_rest_check_loaded(r, c);
    if (!rc)
        rc = tm_rest_parse_level(r, c, p);
    if (!rc)
        rc = tm_rest_parse_parts(r, c, p);
    if (!rc)
        rc = tm_rest_parse_outputs(r, c, p, false);
    if (!rc && p->count)
        rc = tm_status_set(&r->st, TM_MV_INVALID_PARAM, "count(*) is not an output of search");
    return rc;
}

/* The hits as Milvus prints them: a flat list, and topks when any query
 * found something. */
void tm_search_write(struct tm_req *r, const struct tm_collection *c, const struct tm_read_plan *p,
                     const struct tm_sub_result *res)
{
    tm_jw_arr(&r->data);
    for (uint32_t i = 0; i < res->n; i++)
        tm_render_row(&r->data, &c->schema, &res->rows, i, &p->sel, &res->scores[i]);
    tm_jw_arr_end(&r->data);
    r->has_data = r->with_cost = true;
    if (res->n == 0)
        return; /* Milvus prints no topks when nothing was found */
    tm_jw_arr(&r->topks);
    for (uint32_t i = 0; i < res->nq; i++)
        tm_jw_uint(&r->topks, res->topks[i]);
    tm_jw_arr_end(&r->topks);
}

static int search(struct tm_req *r)
{
    struct tm_collection c;
    struct tm_sub_search ss;
    struct tm_sub_result res = {0};
    int rc = tm_rest_target(r, &c);
    if (rc)
        return rc;
    memset(&ss, 0, sizeof ss);
    tm_batch_init(&ss.vecs);
    tm_batch_init(&res.rows);
    rc = tm_search_common(r, &c, &ss.plan);
    if (!rc)
        rc = tm_sub_search_parse(r, &c, r->body, "searchParams", &ss);
    if (!rc)
        rc = tm_sub_search_run(r, &c, &ss, &res);
    if (!rc)
        tm_search_write(r, &c, &ss.plan, &res);
    tm_sub_result_free(&res);
    tm_sub_search_free(&ss);
    tm_collection_free(&c);
    return rc;
}

int tm_rest_search(struct tm_req *r, const char *action)
{
    if (strcmp(action, "search") == 0)
        return search(r);
    if (strcmp(action, "hybrid_search") == 0 || strcmp(action, "advanced_search") == 0)
        return tm_rest_hybrid(r);
    return 1;
}
