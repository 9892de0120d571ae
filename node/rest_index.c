/* The /v2/vectordb/indexes endpoints (milvus-rest-v2.md §4.5). Indexes are catalog
 * metadata now: FLAT and AUTOINDEX are served by exact search, other types
 * are recorded and built once sealed segments exist. */
#include "ddl.h"
#include "rest_int.h"
#include "schema_json.h"

#include <string.h>

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
    tm_jw_obj(&r->data), tm_jw_obj_end(&r->data);
    return 0;
}

static void describe_one(struct tm_req *r, const struct tm_index *ix, uint64_t rows)
{
    struct tm_jw *w = &r->data;
    tm_jw_obj(w);
    tm_jw_key(w, "indexName"), tm_jw_cstr(w, ix->name);
    tm_jw_key(w, "fieldName"), tm_jw_cstr(w, ix->field);
    tm_jw_key(w, "indexType"), tm_jw_cstr(w, ix->type);
    tm_jw_key(w, "metricType"), tm_jw_cstr(w, ix->metric);
    tm_jw_key(w, "indexState"), tm_jw_cstr(w, "Finished");
    tm_jw_key(w, "totalRows"), tm_jw_uint(w, rows);
    tm_jw_key(w, "indexedRows"), tm_jw_uint(w, rows);
    tm_jw_key(w, "pendingRows"), tm_jw_uint(w, 0);
    tm_jw_key(w, "failReason"), tm_jw_cstr(w, "");
    tm_jw_key(w, "indexParams"), tm_rest_write_kvs(w, ix->params, ix->nparams);
    tm_jw_obj_end(w);
}

static int index_describe(struct tm_req *r, const struct tm_collection *c)
{
    char name[TM_NAME_MAX];
    uint64_t rows = 0;
    int rc = tm_req_name(r, "indexName", name);
    if (rc)
        return rc;
    const struct tm_index *ix = tm_collection_index(c, name);
    if (!ix)
        return tm_status_set(&r->st, TM_MV_INDEX_NOT_FOUND, "index not found[indexName=%s]", name);
    if ((rc = tm_rest_count(r, c, NULL, 0, &rows)))
        return rc;
    tm_jw_arr(&r->data);
    describe_one(r, ix, rows);
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
