/* Decoding of the query role's read, count and search requests (the
 * message shapes are listed in query_role.h). Every length is checked by
 * the msgpack reader against the bytes that remain; the vectors of a
 * search are checked against the collection's schema in query_search.c. */
#include "query_role_int.h"
#include "catalog.h"

#include <string.h>

static int read_ids(struct tm_mpr *r, int64_t *ids, uint32_t cap, uint32_t *n_out)
{
    uint32_t n;
    if (tm_mpr_array(r, &n) || n > cap)
        return r->err ? r->err : TM_ETOOBIG;
    for (uint32_t i = 0; i < n; i++)
        tm_mpr_int(r, &ids[i]);
    *n_out = n;
    return r->err;
}

static int read_text(struct tm_mpr *r, const char **p, uint32_t *len)
{
    return tm_mpr_nil(r) ? 0 : tm_mpr_str(r, p, len);
}

static int optional_double(struct tm_mpr *r, bool *has, double *v)
{
    *has = !tm_mpr_nil(r);
    return *has ? tm_mpr_double(r, v) : 0;
}

static int search_key(struct tm_mpr *r, struct search_args *sa, const char *k, uint32_t kn)
{
    if (KEY_IS(k, kn, "field"))
        return tm_mpr_int(r, &sa->field);
    if (KEY_IS(k, kn, "vecs"))
        return tm_mpr_bin(r, &sa->vecs, &sa->vecs_len);
    if (KEY_IS(k, kn, "ends"))
        return tm_mpr_nil(r) ? 0 : tm_mpr_bin(r, &sa->ends, &sa->ends_len);
    if (KEY_IS(k, kn, "radius"))
        return optional_double(r, &sa->has_radius, &sa->radius);
    if (KEY_IS(k, kn, "range_filter"))
        return optional_double(r, &sa->has_range_filter, &sa->range_filter);
    if (KEY_IS(k, kn, "refine_k"))
        return tm_mpr_double(r, &sa->refine_k);
    uint64_t *u = KEY_IS(k, kn, "metric")       ? &sa->metric
                  : KEY_IS(k, kn, "nq")         ? &sa->nq
                  : KEY_IS(k, kn, "k")          ? &sa->k
                  : KEY_IS(k, kn, "group")      ? &sa->group
                  : KEY_IS(k, kn, "group_size") ? &sa->group_size
                  : KEY_IS(k, kn, "nprobe")     ? &sa->nprobe
                                                : NULL;
    return u ? tm_mpr_uint(r, u) : tm_mpr_skip(r);
}

static int read_key(struct tm_mpr *r, struct read_args *a, struct search_args *sa, const char *k,
                    uint32_t kn)
{
    if (KEY_IS(k, kn, "coll"))
        return tm_mpr_int(r, &a->coll);
    if (KEY_IS(k, kn, "pks"))
        return tm_mpr_nil(r) ? 0 : tm_mpr_raw(r, &a->pks.p, &a->pks.len);
    if (KEY_IS(k, kn, "parts")) {
        a->all_parts = tm_mpr_nil(r);
        return a->all_parts ? 0 : read_ids(r, a->parts, 1024, &a->nparts);
    }
    if (KEY_IS(k, kn, "fields"))
        return read_ids(r, a->fields, TM_BATCH_MAX_COLS, &a->nfields);
    if (KEY_IS(k, kn, "filter"))
        return read_text(r, &a->filter, &a->filter_len);
    if (KEY_IS(k, kn, "params"))
        return read_text(r, &a->params, &a->params_len);
    uint64_t *u = KEY_IS(k, kn, "offset")       ? &a->offset
                  : KEY_IS(k, kn, "limit")      ? &a->limit
                  : KEY_IS(k, kn, "level")      ? &a->level
                  : KEY_IS(k, kn, "gts")        ? &a->gts
                  : KEY_IS(k, kn, "timeout_ms") ? &a->timeout_ms
                  : KEY_IS(k, kn, "shards")     ? &a->shards
                                                : NULL;
    if (u)
        return tm_mpr_uint(r, u);
    return sa ? search_key(r, sa, k, kn) : tm_mpr_skip(r);
}

int tm_query_parse(struct tm_mpr *body, struct read_args *a, struct search_args *sa)
{
    uint32_t n, kn;
    const char *k;
    memset(a, 0, sizeof *a);
    if (sa)
        memset(sa, 0, sizeof *sa);
    a->all_parts = true;
    a->level = TM_CL_BOUNDED;
    a->timeout_ms = 10000;
    if (tm_mpr_map(body, &n))
        return body->err;
    for (uint32_t i = 0; i < n; i++) {
        if (tm_mpr_str(body, &k, &kn))
            return body->err;
        int rc = read_key(body, a, sa, k, kn);
        if (rc)
            return rc;
    }
    return 0;
}
