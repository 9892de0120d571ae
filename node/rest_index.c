/* The /v2/vectordb/indexes endpoints (milvus-rest-v2.md §4.5). An index is
 * catalog metadata; the query role builds IVF_FLAT, IVF_PQ and AUTOINDEX
 * indexes on FloatVector fields per sealed segment in the background
 * (segment/query_index.h) and reports their progress to describe; other
 * types are served by exact search. */
#include "ddl.h"
#include "rest_int.h"
#include "schema_json.h"

#include <string.h>

/* Tells the query role that c's indexes changed, so it builds or drops
 * them now rather than when it next reads the catalog. Best effort: the
 * DDL is committed either way. */
static void index_sync(struct tm_req *r, const struct tm_collection *c)
{
    struct tm_mpw w;
    tm_mpw_init(&w);
    tm_mpw_map(&w, 1);
    tm_mpw_cstr(&w, "coll"), tm_mpw_int(&w, c->id);
    tm_proxy_query_each(r, "index_sync", &w);
    tm_mpw_free(&w);
}

static int index_create(struct tm_req *r, const struct tm_collection *c)
{
    const json_t *list = tm_req_get(r, "indexParams");
    size_t i;
    json_t *j;
    if (!json_is_array(list) || json_array_size(list) == 0)
        return tm_status_set(&r->st, TM_MV_MISSING_PARAM,
                             "missing required parameters, error: Key: 'indexParams' "
                             "Error:Field validation for 'IndexParams' failed on the 'required' "
                             "tag");
    json_array_foreach(list, i, j)
    {
        struct tm_ddl d;
        tm_ddl_init(&d, TM_DDL_IDX_CREATE);
        strcpy(d.db, r->db);
        strcpy(d.name, c->name);
        d.has_index = true;
        int rc = tm_index_from_json(r, j, &c->schema, &d.index);
        if (!rc)
            rc = tm_proxy_ddl(r, &d);
        tm_ddl_free(&d);
        if (rc)
            return rc;
    }
    index_sync(r, c);
    tm_jw_obj(&r->data), tm_jw_obj_end(&r->data);
    return 0;
}

/* What the query role says of an index's build (query_index.h). */
struct index_progress {
    char state[16];
    uint64_t total, indexed;
    char reason[256];
};

static int index_progress(struct tm_req *r, const struct tm_collection *c,
                          const struct tm_index *ix, struct index_progress *p)
{
    const struct tm_field *f = tm_schema_field(&c->schema, ix->field);
    struct tm_mpw w;
    struct tm_rpc_reply rep;
    tm_mpw_init(&w);
    tm_mpw_map(&w, 2);
    tm_mpw_cstr(&w, "coll"), tm_mpw_int(&w, c->id);
    tm_mpw_cstr(&w, "field"), tm_mpw_int(&w, f ? f->id : -1);
    int rc = tm_proxy_call(r, r->p->query, "index_progress", &w, &rep);
    tm_mpw_free(&w);
    if (rc)
        return rc;
    struct tm_mpr m = rep.body, b = rep.body;
    p->total = (uint64_t)tm_mpr_key_int(m, "total", 0);
    p->indexed = (uint64_t)tm_mpr_key_int(m, "indexed", 0);
    if (tm_mpr_find(&b, "state") || tm_mpr_str_copy(&b, p->state, sizeof p->state))
        snprintf(p->state, sizeof p->state, "Finished");
    b = rep.body;
    if (tm_mpr_find(&b, "reason") || tm_mpr_str_copy(&b, p->reason, sizeof p->reason))
        p->reason[0] = '\0';
    tm_rpc_reply_free(&rep);
    if (p->indexed > p->total)
        p->indexed = p->total;
    return 0;
}

/* totalRows counts the rows the collection's segments hold (versions a
 * later upsert or delete hides included, until compaction), indexedRows
 * those of sealed segments whose index is built (or that are too small to
 * need one), pendingRows the rest: growing rows and segments awaiting
 * their build, as in Milvus. */
static void describe_one(struct tm_req *r, const struct tm_index *ix,
                         const struct index_progress *p)
{
    struct tm_jw *w = &r->data;
    tm_jw_obj(w);
    tm_jw_key(w, "indexName"), tm_jw_cstr(w, ix->name);
    tm_jw_key(w, "fieldName"), tm_jw_cstr(w, ix->field);
    tm_jw_key(w, "indexType"), tm_jw_cstr(w, ix->type);
    tm_jw_key(w, "metricType"), tm_jw_cstr(w, ix->metric);
    tm_jw_key(w, "indexState"), tm_jw_cstr(w, p->state);
    tm_jw_key(w, "totalRows"), tm_jw_uint(w, p->total);
    tm_jw_key(w, "indexedRows"), tm_jw_uint(w, p->indexed);
    tm_jw_key(w, "pendingRows"), tm_jw_uint(w, p->total - p->indexed);
    tm_jw_key(w, "failReason"), tm_jw_cstr(w, p->reason);
    tm_jw_key(w, "indexParams"), tm_rest_write_kvs(w, ix->params, ix->nparams);
    tm_jw_obj_end(w);
}

static int index_describe(struct tm_req *r, const struct tm_collection *c)
{
    char name[TM_NAME_MAX];
    struct index_progress p;
    int rc = tm_req_name(r, "indexName", name);
    if (rc)
        return rc;
    const struct tm_index *ix = tm_collection_index(c, name);
    if (!ix)
        return tm_status_set(&r->st, TM_MV_INDEX_NOT_FOUND, "index not found[indexName=%s]", name);
    if ((rc = index_progress(r, c, ix, &p)))
        return rc;
    tm_jw_arr(&r->data);
    describe_one(r, ix, &p);
    tm_jw_arr_end(&r->data);
    return 0;
}

static int index_drop(struct tm_req *r, const struct tm_collection *c)
{
    struct tm_ddl d;
    tm_ddl_init(&d, TM_DDL_IDX_DROP);
    strcpy(d.db, r->db);
    strcpy(d.name, c->name);
    int rc = tm_req_name(r, "indexName", d.idx);
    if (!rc)
        rc = tm_proxy_ddl(r, &d);
    tm_ddl_free(&d);
    if (!rc)
        index_sync(r, c);
    if (!rc)
        tm_jw_obj(&r->data), tm_jw_obj_end(&r->data);
    return rc;
}

int tm_rest_index(struct tm_req *r, const char *action)
{
    char name[TM_NAME_MAX];
    struct tm_collection c;
    bool create = strcmp(action, "create") == 0, list = strcmp(action, "list") == 0;
    bool describe = strcmp(action, "describe") == 0, drop = strcmp(action, "drop") == 0;
    if (!create && !list && !describe && !drop)
        return 1;
    int rc = tm_req_name(r, "collectionName", name);
    if (!rc)
        rc = tm_proxy_collection(r, name, &c);
    if (rc)
        return rc;
    if (list) {
        tm_jw_arr(&r->data);
        for (size_t i = 0; i < c.nindexes; i++)
            tm_jw_cstr(&r->data, c.indexes[i].name);
        tm_jw_arr_end(&r->data);
    } else {
        rc = create ? index_create(r, &c) : describe ? index_describe(r, &c) : index_drop(r, &c);
    }
    tm_collection_free(&c);
    r->has_data = rc == 0;
    return rc;
}
