/* The /v2/vectordb/databases endpoints (milvus-rest-v2.md §4.2). */
#include "ddl.h"
#include "rest_int.h"

#include <string.h>

/* Reads `properties` (an object of scalar values, stringified) into d. */
int tm_rest_props(struct tm_req *r, const char *key, struct tm_ddl *d)
{
    json_t *props = tm_req_get(r, key);
    const char *k;
    json_t *v;
    if (props && !json_is_object(props) && !json_is_null(props))
        return tm_status_set(&r->st, TM_MV_BAD_JSON,
                             "can only accept json format request, error: %s must be an object",
                             key);
    json_object_foreach(props, k, v)
    {
        char *text = json_is_string(v) ? strdup(json_string_value(v))
                                       : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        int rc = text ? tm_kvs_set(&d->props, &d->nprops, k, text) : TM_ENOMEM;
        free(text);
        if (rc)
            return tm_status_set(&r->st, TM_MV_INTERNAL, "out of memory");
    }
    return 0;
}

int tm_rest_prop_keys(struct tm_req *r, const char *key, struct tm_ddl *d)
{
    json_t *keys = tm_req_get(r, key);
    size_t i;
    json_t *v;
    if (!json_is_array(keys))
        return tm_status_set(&r->st, TM_MV_MISSING_PARAM,
                             "missing required parameters, error: Key: '%s' Error:Field "
                             "validation for '%s' failed on the 'required' tag",
                             key, key);
    json_array_foreach(keys, i, v)
    {
        if (!json_is_string(v) || tm_ddl_add_name(d, json_string_value(v)))
            return tm_status_set(&r->st, TM_MV_BAD_JSON,
                                 "can only accept json format request, error: %s must hold "
                                 "strings",
                                 key);
    }
    return 0;
}

void tm_rest_write_kvs(struct tm_jw *w, const struct tm_kv *kv, size_t n)
{
    tm_jw_arr(w);
    for (size_t i = 0; i < n; i++) {
        tm_jw_obj(w);
        tm_jw_key(w, "key"), tm_jw_cstr(w, kv[i].key);
        tm_jw_key(w, "value"), tm_jw_cstr(w, kv[i].value);
        tm_jw_obj_end(w);
    }
    tm_jw_arr_end(w);
}

/* Writes a list reply (a msgpack array of strings) as a JSON array. */
int tm_rest_list(struct tm_req *r, const char *call, const char *db)
{
    struct tm_mpw w;
    struct tm_rpc_reply rep;
    tm_mpw_init(&w);
    tm_mpw_map(&w, 1);
    tm_mpw_cstr(&w, "db"), tm_mpw_cstr(&w, db);
    int rc = tm_proxy_call(r, r->p->coord, call, &w, &rep);
    tm_mpw_free(&w);
    if (rc)
        return rc;
    uint32_t n;
    tm_jw_arr(&r->data);
    if (tm_mpr_array(&rep.body, &n) == 0) {
        for (uint32_t i = 0; i < n; i++) {
            const char *s;
            uint32_t len;
            if (tm_mpr_str(&rep.body, &s, &len))
                break;
            tm_jw_str(&r->data, s, len);
        }
    }
    tm_jw_arr_end(&r->data);
    tm_rpc_reply_free(&rep);
    r->has_data = true;
    return 0;
}

static int db_describe(struct tm_req *r, const char *name)
{
    struct tm_mpw w;
    struct tm_rpc_reply rep;
    struct tm_database db;
    tm_mpw_init(&w);
    tm_mpw_map(&w, 1);
    tm_mpw_cstr(&w, "db"), tm_mpw_cstr(&w, name);
    int rc = tm_proxy_call(r, r->p->coord, "cat.db", &w, &rep);
    tm_mpw_free(&w);
    if (rc)
        return rc;
    rc = tm_database_decode(&rep.body, &db);
    tm_rpc_reply_free(&rep);
    if (rc)
        return tm_status_set(&r->st, TM_MV_INTERNAL, "malformed database from coordinator");
    tm_jw_obj(&r->data);
    tm_jw_key(&r->data, "dbName"), tm_jw_cstr(&r->data, db.name);
    tm_jw_key(&r->data, "dbID"), tm_jw_int(&r->data, db.id);
    tm_jw_key(&r->data, "properties"), tm_rest_write_kvs(&r->data, db.props, db.nprops);
    tm_jw_obj_end(&r->data);
    tm_kvs_free(db.props, db.nprops);
    r->has_data = true;
    return 0;
}

int tm_rest_db(struct tm_req *r, const char *action)
{
    struct tm_ddl d;
    enum tm_ddl_op op;
    if (strcmp(action, "list") == 0)
        return tm_rest_list(r, "cat.dbs", "");
    if (strcmp(action, "create") == 0)
        op = TM_DDL_DB_CREATE;
    else if (strcmp(action, "drop") == 0)
        op = TM_DDL_DB_DROP;
    else if (strcmp(action, "alter") == 0 || strcmp(action, "alter_properties") == 0)
        op = TM_DDL_DB_ALTER;
    else if (strcmp(action, "drop_properties") == 0)
        op = TM_DDL_DB_DROP_PROPS;
    else if (strcmp(action, "describe") == 0)
        op = TM_DDL_NONE;
    else
        return 1;
    tm_ddl_init(&d, op);
    int rc = tm_req_name(r, "dbName", d.db);
    if (!rc && op == TM_DDL_NONE)
        rc = db_describe(r, d.db);
    else if (!rc && op == TM_DDL_DB_DROP_PROPS)
        rc = tm_rest_prop_keys(r, "propertyKeys", &d);
    else if (!rc && op != TM_DDL_DB_DROP)
        rc = tm_rest_props(r, "properties", &d);
    if (!rc && op != TM_DDL_NONE && !(rc = tm_proxy_ddl(r, &d))) {
        tm_jw_obj(&r->data), tm_jw_obj_end(&r->data);
        r->has_data = true;
    }
    tm_ddl_free(&d);
    return rc;
}
