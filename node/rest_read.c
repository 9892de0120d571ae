/* The /v2/vectordb/entities reads, get and query (milvus-rest-v2.md §4.4.4-5): reads go to
 * the query role at the request's consistency level. */
#include "expr.h"
#include "pkfilter.h"
#include "rest_int.h"
#include "render.h"
#include "rows.h"

#include <stdlib.h>
#include <string.h>

#define QUERY_WINDOW_MAX 16384

/* The session timestamp a client echoes back, 0 if it sent none. */
static uint64_t session_ts(const struct tm_req *r)
{
    const char *v = tm_http_request_header(r->http, TM_HEADER_SESSION_TS);
    if (!v)
        v = tm_http_request_header(r->http, TM_HEADER_WRITE_TS);
    return v ? strtoull(v, NULL, 10) : 0;
}

int tm_rest_parse_level(struct tm_req *r, const struct tm_collection *c, struct tm_read_plan *p)
{
    const char *s = tm_req_str(r, "consistencyLevel", false);
    if (r->st.code)
        return TM_ESTATUS;
    p->level = (int)c->consistency;
    if (s && *s && (p->level = tm_consistency_parse(s)) < 0)
        return tm_status_set(&r->st, TM_MV_INVALID_PARAM,
                             "consistencyLevel can only be [Strong, Session, Bounded, "
                             "Eventually, Customized], default: Bounded, err:%s",
                             s);
    /* Session waits for the client's last write; without its timestamp we
     * cannot know it, so we serve Strong (Milvus degrades to Eventually). */
    if (p->level == TM_CL_SESSION || p->level == TM_CL_CUSTOMIZED)
        p->gts = session_ts(r);
    if ((p->level == TM_CL_SESSION || p->level == TM_CL_CUSTOMIZED) && !p->gts)
        p->level = TM_CL_STRONG;
    return 0;
}

/* "Every partition" means the partitions the catalog lists now, never "every
 * row the query role holds": the rows of a dropped partition stay in the
 * query role's memory (and come back when the WAL is replayed), and only
 * this filter hides them. Partition ids are never reused. Reads see only
 * loaded partitions, as in Milvus; counts (get_stats) see every partition. */
static void live_parts(const struct tm_collection *c, struct tm_read_plan *p, bool loaded_only)
{
    p->all_parts = false;
    for (size_t i = 0; i < c->nparts && p->nparts < 1024; i++)
        if (c->parts[i].loaded || !loaded_only)
            p->parts[p->nparts++] = c->parts[i].id;
}

int tm_rest_parse_parts(struct tm_req *r, const struct tm_collection *c, struct tm_read_plan *p)
{
    const json_t *names = tm_req_get(r, "partitionNames");
    size_t i;
    json_t *v;
    if (json_array_size(names) == 0) {
        live_parts(c, p, true);
        return 0;
    }
    json_array_foreach(names, i, v)
    {
        const struct tm_partition *part =
            json_is_string(v) ? tm_collection_part(c, json_string_value(v)) : NULL;
        if (!part)
            return tm_status_set(&r->st, TM_MV_PART_NOT_FOUND, "partition not found[partition=%s]",
                                 json_is_string(v) ? json_string_value(v) : "?");
        if (!part->loaded)
            return tm_status_set(&r->st, TM_MV_PART_NOT_LOADED,
                                 "partition not loaded[partition=%s]", part->name);
        if (p->nparts < 1024)
            p->parts[p->nparts++] = part->id;
    }
    return 0;
}

/* outputFields: "*" (all fields and dynamic keys), field names, dynamic
 * keys, "count(*)". The primary key is always returned. */
int tm_rest_parse_outputs(struct tm_req *r, const struct tm_collection *c, struct tm_read_plan *p,
                          bool star_default)
{
    const struct tm_schema *s = &c->schema;
    const json_t *outs = tm_req_get(r, "outputFields");
    bool star = star_default && json_array_size(outs) == 0;
    size_t i;
    json_t *v;
    p->sel.int64_as_string = r->int64_as_string;
    p->sel.fields[p->sel.nfields++] = tm_schema_pk(s)->id;
    json_array_foreach(outs, i, v)
    {
        const char *name = json_string_value(v);
        const struct tm_field *f = name ? tm_schema_field(s, name) : NULL;
        if (!name)
            return tm_status_set(&r->st, TM_MV_BAD_JSON,
                                 "can only accept json format request, error: outputFields "
                                 "must hold strings");
        if (strcmp(name, "*") == 0)
            star = true;
        else if (strcmp(name, "count(*)") == 0)
            p->count = true;
        else if (strcmp(name, TM_META_FIELD) == 0 && s->dynamic)
            p->sel.meta_all = true;
        else if (f && !f->primary && p->sel.nfields < TM_BATCH_MAX_COLS)
            p->sel.fields[p->sel.nfields++] = f->id;
        else if (!f && s->dynamic && p->sel.nmeta_keys < TM_BATCH_MAX_COLS)
            p->sel.meta_keys[p->sel.nmeta_keys++] = name;
        else if (!f)
            return tm_status_set(&r->st, TM_MV_INVALID_PARAM, "field %s not exist", name);
    }
    if (star) {
        p->sel.nfields = 0;
        for (size_t k = 0; k < s->nfields; k++)
            p->sel.fields[p->sel.nfields++] = s->fields[k].id;
        p->sel.meta_all = s->dynamic;
    }
    return 0;
}

static int parse_window(struct tm_req *r, struct tm_read_plan *p)
{
    int64_t limit, offset;
    if (tm_req_int(r, "limit", 100, &limit) || tm_req_int(r, "offset", 0, &offset))
        return TM_ESTATUS;
    if (limit < 0 || offset < 0 || limit > QUERY_WINDOW_MAX || offset > QUERY_WINDOW_MAX ||
        (limit && limit + offset > QUERY_WINDOW_MAX))
        return tm_status_set(&r->st, TM_MV_UNEXPECTED,
                             "invalid max query result window, (offset+limit) should be in range "
                             "[1, %d], but got offset %lld and limit %lld",
                             QUERY_WINDOW_MAX, (long long)offset, (long long)limit);
    p->limit = (uint64_t)limit;
    p->offset = (uint64_t)offset;
    return 0;
}

void tm_rest_plan_encode(struct tm_mpw *w, const struct tm_collection *c,
                         const struct tm_read_plan *p, const struct tm_batch *pks,
                         uint64_t timeout_ms, uint32_t extra)
{
    tm_mpw_map(w, 11 + extra);
    tm_mpw_cstr(w, "filter");
    if (p->filter)
        tm_mpw_str(w, p->filter, (uint32_t)strlen(p->filter));
    else
        tm_mpw_nil(w);
    tm_mpw_cstr(w, "params");
    if (p->params)
        tm_mpw_str(w, p->params, (uint32_t)strlen(p->params));
    else
        tm_mpw_nil(w);
    tm_mpw_cstr(w, "coll"), tm_mpw_int(w, c->id);
    tm_mpw_cstr(w, "gts"), tm_mpw_uint(w, p->gts);
    tm_mpw_cstr(w, "pks");
    if (pks)
        tm_batch_encode(w, pks);
    else
        tm_mpw_nil(w);
    tm_mpw_cstr(w, "parts");
    if (p->all_parts) {
        tm_mpw_nil(w);
    } else {
        tm_mpw_array(w, p->nparts);
        for (uint32_t i = 0; i < p->nparts; i++)
            tm_mpw_int(w, p->parts[i]);
    }
    tm_mpw_cstr(w, "fields"),
        tm_mpw_array(w, p->sel.nfields + (p->sel.meta_all || p->sel.nmeta_keys));
    for (uint32_t i = 0; i < p->sel.nfields; i++)
        tm_mpw_int(w, p->sel.fields[i]);
    if (p->sel.meta_all || p->sel.nmeta_keys)
        tm_mpw_int(w, TM_META_FIELD_ID);
    tm_mpw_cstr(w, "offset"), tm_mpw_uint(w, p->offset);
    tm_mpw_cstr(w, "limit"), tm_mpw_uint(w, p->limit);
    tm_mpw_cstr(w, "level"), tm_mpw_uint(w, (uint64_t)p->level);
    tm_mpw_cstr(w, "timeout_ms"), tm_mpw_uint(w, timeout_ms);
}

struct plan_call {
    const struct tm_req *r;
    const struct tm_collection *c;
    const struct tm_read_plan *p;
    const struct tm_batch *pks;
};

/* Several nodes answering: each returns its first offset + limit rows and
 * the proxy windows their concatenation. */
static void encode_plan(struct tm_mpw *w, bool whole, void *arg)
{
    const struct plan_call *pc = arg;
    struct tm_read_plan part = *pc->p;
    if (!whole) {
        part.limit = part.limit ? part.limit + part.offset : 0;
        part.offset = 0;
    }
    tm_rest_plan_encode(w, pc->c, &part, pc->pks, (uint64_t)pc->r->p->cfg.request_timeout_ms / 2,
                        0);
}

/* The query nodes' count of the rows the plan selects. */
static int count_call(struct tm_req *r, const struct tm_collection *c, const struct tm_read_plan *p,
                      uint64_t *n)
{
    struct plan_call pc = {r, c, p, NULL};
    struct tm_fanout f;
    int rc = tm_fanout_call(r, "count", encode_plan, &pc, &f);
    *n = 0;
    for (int i = 0; i < f.n && !rc; i++) {
        uint64_t part = 0;
        struct tm_mpr *b = &f.replies[i].body;
        if (tm_mpr_find(b, "n") || tm_mpr_uint(b, &part))
            rc = tm_status_set(&r->st, TM_MV_INTERNAL, "malformed count reply");
        *n += part;
    }
    if (f.n)
        tm_fanout_free(&f);
    return rc;
}

int tm_rest_count(struct tm_req *r, const struct tm_collection *c, const int64_t *parts,
                  uint32_t nparts, uint64_t *n)
{
    struct tm_read_plan p = {.level = TM_CL_STRONG, .nparts = nparts < 1024 ? nparts : 1024};
    for (uint32_t i = 0; i < p.nparts; i++)
        p.parts[i] = parts[i];
    if (!parts)
        live_parts(c, &p, false);
    return count_call(r, c, &p, n);
}

/* Appends the rows of a "read" reply to out. */
static int gather_rows(struct tm_mpr body, struct tm_batch *out)
{
    struct tm_batch part;
    tm_batch_init(&part);
    int rc = tm_mpr_find(&body, "rows") || tm_batch_decode(&body, &part) ? TM_ECORRUPT : 0;
    if (!rc && part.nrows && out->nrows == 0) {
        tm_batch_free(out);
        *out = part; /* out had no rows, and maybe no columns: take part's */
        return 0;
    }
    if (!rc && part.nrows)
        rc = tm_batch_append_rows(out, &part, 0, part.nrows);
    tm_batch_free(&part);
    return rc;
}

/* Keeps rows [offset, offset + limit) of b (limit 0: all after offset). */
static int window_rows(struct tm_batch *b, uint64_t offset, uint64_t limit)
{
    uint32_t from = offset < b->nrows ? (uint32_t)offset : b->nrows;
    uint32_t n = b->nrows - from;
    if (limit && limit < n)
        n = (uint32_t)limit;
    if (from == 0 && n == b->nrows)
        return 0;
    struct tm_batch kept;
    tm_batch_init(&kept);
    int rc = tm_batch_clone_layout(&kept, b);
    if (!rc)
        rc = tm_batch_append_rows(&kept, b, from, n);
    tm_batch_free(b);
    *b = kept;
    return rc;
}

int tm_rest_read_gather(struct tm_req *r, tm_fanout_encode_fn encode, void *arg, uint64_t offset,
                        uint64_t limit, struct tm_batch *out)
{
    struct tm_fanout f;
    int rc = tm_fanout_call(r, "read", encode, arg, &f);
    if (rc)
        return rc;
    for (int i = 0; i < f.n && !rc; i++)
        rc = gather_rows(f.replies[i].body, out);
    if (!rc && f.n > 1)
        rc = window_rows(out, offset, limit);
    tm_fanout_free(&f);
    return rc ? tm_status_set(&r->st, TM_MV_INTERNAL, "malformed read reply") : 0;
}

int tm_rest_read_batch(struct tm_req *r, const struct tm_collection *c,
                       const struct tm_read_plan *p, const struct tm_batch *pks,
                       struct tm_batch *out)
{
    struct plan_call pc = {r, c, p, pks};
    return tm_rest_read_gather(r, encode_plan, &pc, p->offset, p->limit, out);
}

static void write_count(struct tm_req *r, uint64_t n)
{
    tm_jw_arr(&r->data), tm_jw_obj(&r->data);
    tm_jw_key(&r->data, "count(*)");
    tm_jw_int64(&r->data, (int64_t)n, r->int64_as_string); /* an Int64 column in Milvus */
    tm_jw_obj_end(&r->data), tm_jw_arr_end(&r->data);
}

static int read_rows(struct tm_req *r, const struct tm_collection *c, const struct tm_read_plan *p,
                     const struct tm_batch *pks)
{
    /* count(*) without a key filter: the query role counts every visible
     * key that matches; with one, the keys' visible rows are read. */
    if (p->count && !pks) {
        uint64_t n;
        int rc = count_call(r, c, p, &n);
        if (!rc)
            write_count(r, n);
        return rc;
    }
    struct tm_batch rows;
    tm_batch_init(&rows);
    int rc = tm_rest_read_batch(r, c, p, pks, &rows);
    if (!rc && p->count)
        write_count(r, rows.nrows);
    else if (!rc)
        tm_render_rows(&r->data, &c->schema, &rows, &p->sel);
    tm_batch_free(&rows);
    return rc;
}

int tm_rest_check_loaded(struct tm_req *r, const struct tm_collection *c)
{
    if (c->loaded)
        return 0;
    return tm_status_set(&r->st, TM_MV_COLL_NOT_LOADED, "collection not loaded[collection=%s]",
                         c->name);
}

int tm_rest_parse_filter(struct tm_req *r, const struct tm_collection *c, const json_t *filter,
                         const json_t *params, struct tm_read_plan *p)
{
    struct tm_expr *e = NULL;
    if (filter && !json_is_null(filter) && !json_is_string(filter))
        return tm_status_set(&r->st, TM_MV_BAD_JSON,
                             "can only accept json format request, error: filter must be a string");
    if (params && !json_is_null(params) && !json_is_object(params))
        return tm_status_set(&r->st, TM_MV_BAD_JSON,
                             "can only accept json format request, error: exprParams must be an "
                             "object");
    const char *text = json_string_value(filter);
    const json_t *obj = json_is_object(params) ? params : NULL;
    int rc = text ? tm_expr_parse(text, obj, &c->schema, &e, &r->st) : 0;
    if (rc)
        return rc == TM_ESTATUS ? rc : tm_status_set(&r->st, TM_MV_INTERNAL, "out of memory");
    p->filter = e ? text : NULL;
    tm_expr_free(e);
    if (p->filter && obj && !(p->params = json_dumps(obj, JSON_COMPACT)))
        return tm_status_set(&r->st, TM_MV_INTERNAL, "out of memory");
    return 0;
}

json_t *tm_rest_pk_terms(const struct tm_collection *c, const char *filter)
{
    struct tm_status scratch;
    json_t *keys = NULL;
    tm_status_ok(&scratch);
    /* pkfilter reads escapes and number forms more simply than the filter
     * language; only plain key lists may take the shortcut. */
    if (strchr(filter, '\\') || strstr(filter, "0x") || strstr(filter, "0b") ||
        strstr(filter, "0X") || strstr(filter, "0B"))
        return NULL;
    if (tm_pkfilter_parse(filter, &c->schema, &keys, &scratch))
        return NULL;
    return keys;
}

int tm_rest_filter_keys(struct tm_req *r, const struct tm_collection *c, const char *filter,
                        int64_t part, struct tm_batch *pks)
{
    struct tm_read_plan p = {.level = TM_CL_STRONG, .nparts = 1, .parts = {part}};
    json_t *text = json_string(filter);
    int rc = text ? tm_rest_parse_filter(r, c, text, tm_req_get(r, "exprParams"), &p)
                  : tm_status_set(&r->st, TM_MV_INTERNAL, "out of memory");
    if (part < 0)
        live_parts(c, &p, false);
    p.sel.fields[p.sel.nfields++] = tm_schema_pk(&c->schema)->id;
    if (!rc && !p.filter)
        rc = tm_status_set(&r->st, TM_MV_INVALID_PARAM,
                           "failed to create query plan: delete needs a filter");
    if (!rc)
        rc = tm_rest_read_batch(r, c, &p, NULL, pks);
    json_decref(text);
    free(p.params);
    return rc;
}

static int entity_read(struct tm_req *r, bool get)
{
    struct tm_collection c;
    struct tm_batch pks;
    struct tm_read_plan p = {0};
    json_t *keys = NULL;
    int rc = tm_rest_target(r, &c);
    if (rc)
        return rc;
    tm_batch_init(&pks);
    rc = tm_rest_check_loaded(r, &c);
    if (!rc)
        rc = tm_rest_parse_level(r, &c, &p);
    if (!rc)
        rc = tm_rest_parse_parts(r, &c, &p);
    if (!rc)
        rc = tm_rest_parse_outputs(r, &c, &p, true);
    if (!rc && get) {
        const json_t *id = tm_req_get(r, "id");
        if (!id || json_is_null(id))
            rc = tm_status_set(&r->st, TM_MV_MISSING_PARAM,
                               "missing required parameters, error: Key: 'id' Error:Field "
                               "validation for 'ID' failed on the 'required' tag");
        else
            rc = tm_pks_from_json(tm_schema_pk(&c.schema), id, &pks, &r->st);
    } else if (!rc) {
        rc = parse_window(r, &p);
        if (p.count) /* count(*) is not limited (Milvus) */
            p.limit = p.offset = 0;
        if (!rc)
            rc = tm_rest_parse_filter(r, &c, tm_req_get(r, "filter"), tm_req_get(r, "exprParams"),
                                      &p);
        if (!rc && p.filter && !p.params)
            keys = tm_rest_pk_terms(&c, p.filter);
        if (!rc && keys) {
            rc = tm_pks_from_json(tm_schema_pk(&c.schema), keys, &pks, &r->st);
            p.filter = NULL;
        }
        if (!rc && !keys && !p.filter && !p.limit && !p.count)
            rc = tm_status_set(&r->st, TM_MV_INVALID_PARAM,
                               "empty expression should be used with limit: invalid parameter");
    }
    if (!rc && r->st.code)
        rc = TM_ESTATUS;
    if (!rc)
        rc = read_rows(r, &c, &p, get || keys ? &pks : NULL);
    r->has_data = r->with_cost = rc == 0;
    json_decref(keys);
    free(p.params);
    tm_batch_free(&pks);
    tm_collection_free(&c);
    return rc;
}

int tm_rest_read(struct tm_req *r, const char *action)
{
    if (strcmp(action, "get") == 0)
        return entity_read(r, true);
    if (strcmp(action, "query") == 0)
        return entity_read(r, false);
    return 1;
}
