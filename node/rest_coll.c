/* The /v2/vectordb/collections endpoints (milvus-rest-v2.md §4.1). */
#include "ddl.h"
#include "rest_int.h"
#include "schema_json.h"

#include <stdio.h>
#include <string.h>

static int empty_data(struct tm_req *r)
{
    tm_jw_obj(&r->data), tm_jw_obj_end(&r->data);
    r->has_data = true;
    return 0;
}

static int run_ddl(struct tm_req *r, struct tm_ddl *d)
{
    int rc = tm_proxy_ddl(r, d);
    tm_ddl_free(d);
    return rc ? rc : empty_data(r);
}

static int coll_create(struct tm_req *r)
{
    struct tm_ddl d;
    tm_ddl_init(&d, TM_DDL_COLL_CREATE);
    int rc = tm_schema_from_create(r, &d);
    if (rc) {
        tm_ddl_free(&d);
        return rc;
    }
    return run_ddl(r, &d);
}

static int coll_describe(struct tm_req *r)
{
    char name[TM_NAME_MAX];
    struct tm_collection c;
    int rc = tm_req_name(r, "collectionName", name);
    if (!rc)
        rc = tm_proxy_collection(r, name, &c);
    if (rc)
        return rc;
    tm_collection_describe(&r->data, &c, r->db);
    tm_collection_free(&c);
    r->has_data = r->with_message = true;
    return 0;
}

static int coll_has(struct tm_req *r)
{
    char name[TM_NAME_MAX];
    struct tm_collection c;
    int rc = tm_req_name(r, "collectionName", name);
    if (rc)
        return rc;
    rc = tm_proxy_collection(r, name, &c);
    if (rc && r->st.code != TM_MV_COLL_NOT_FOUND)
        return rc;
    if (!rc)
        tm_collection_free(&c);
    tm_status_ok(&r->st);
    tm_jw_obj(&r->data);
    tm_jw_key(&r->data, "has"), tm_jw_bool(&r->data, rc == 0);
    tm_jw_obj_end(&r->data);
    r->has_data = true;
    return 0;
}

/* Drops the collection, then tells the query role to forget its rows. */
static int coll_drop(struct tm_req *r)
{
    struct tm_ddl d;
    struct tm_collection c;
    tm_ddl_init(&d, TM_DDL_COLL_DROP);
    int rc = tm_req_name(r, "collectionName", d.name);
    if (!rc && (rc = tm_proxy_collection(r, d.name, &c)) && r->st.code == TM_MV_COLL_NOT_FOUND) {
        tm_status_ok(&r->st);
        tm_ddl_free(&d);
        return empty_data(r); /* dropping what does not exist succeeds, as in Milvus */
    }
    if (rc) {
        tm_ddl_free(&d);
        return rc;
    }
    strcpy(d.db, r->db);
    int64_t id = c.id;
    tm_collection_free(&c);
    if ((rc = run_ddl(r, &d)))
        return rc;
    struct tm_mpw w;
    tm_mpw_init(&w);
    tm_mpw_map(&w, 1);
    tm_mpw_cstr(&w, "coll"), tm_mpw_int(&w, id);
    tm_proxy_query_each(r, "drop", &w); /* committed; freeing memory is best effort */
    tm_status_ok(&r->st);
    tm_mpw_free(&w);
    return 0;
}

static int coll_rename(struct tm_req *r)
{
    struct tm_ddl d;
    tm_ddl_init(&d, TM_DDL_COLL_RENAME);
    strcpy(d.db, r->db);
    const char *new_db = tm_req_str(r, "newDbName", false);
    int rc = tm_req_name(r, "collectionName", d.name);
    if (!rc)
        rc = tm_req_name(r, "newCollectionName", d.new_name);
    if (!rc && new_db)
        snprintf(d.new_db, sizeof d.new_db, "%s", new_db);
    if (rc || r->st.code) {
        tm_ddl_free(&d);
        return TM_ESTATUS;
    }
    return run_ddl(r, &d);
}

static int coll_simple(struct tm_req *r, enum tm_ddl_op op, bool flag)
{
    struct tm_ddl d;
    tm_ddl_init(&d, op);
    strcpy(d.db, r->db);
    d.flag = flag;
    int rc = tm_req_name(r, "collectionName", d.name);
    if (!rc && op == TM_DDL_COLL_ALTER)
        rc = tm_rest_props(r, "properties", &d);
    if (!rc && op == TM_DDL_COLL_DROP_PROPS)
        rc = tm_rest_prop_keys(r, "propertyKeys", &d);
    if (rc) {
        tm_ddl_free(&d);
        return rc;
    }
    return run_ddl(r, &d);
}

static int coll_stats(struct tm_req *r)
{
    char name[TM_NAME_MAX];
    struct tm_collection c;
    uint64_t n = 0;
    int rc = tm_req_name(r, "collectionName", name);
    if (!rc)
        rc = tm_proxy_collection(r, name, &c);
    if (rc)
        return rc;
    rc = tm_rest_count(r, &c, NULL, 0, &n);
    tm_collection_free(&c);
    if (rc)
        return rc;
    tm_jw_obj(&r->data);
    tm_jw_key(&r->data, "rowCount"), tm_jw_uint(&r->data, n);
    tm_jw_obj_end(&r->data);
    r->has_data = true;
    return 0;
}

static bool parts_loaded(const struct tm_collection *c, const json_t *names, bool *missing)
{
    size_t i;
    json_t *v;
    bool all = json_array_size(names) > 0;
    json_array_foreach(names, i, v)
    {
        const struct tm_partition *p =
            json_is_string(v) ? tm_collection_part(c, json_string_value(v)) : NULL;
        *missing |= !p;
        all &= p && p->loaded;
    }
    return all;
}

static int coll_load_state(struct tm_req *r)
{
    char name[TM_NAME_MAX];
    struct tm_collection c;
    int rc = tm_req_name(r, "collectionName", name);
    if (!rc && (rc = tm_proxy_collection(r, name, &c)) && r->st.code == TM_MV_COLL_NOT_FOUND)
        tm_status_set(&r->st, TM_MV_COLL_NOT_FOUND, "collection not found[collection=%s]", name);
    if (rc)
        return rc;
    const json_t *names = tm_req_get(r, "partitionNames");
    bool missing = false;
    bool loaded = json_array_size(names) ? parts_loaded(&c, names, &missing) : c.loaded;
    tm_collection_free(&c);
    if (missing)
        return tm_status_set(&r->st, TM_MV_PART_NOT_FOUND, "partition not found");
    tm_jw_obj(&r->data);
    tm_jw_key(&r->data, "loadState");
    tm_jw_cstr(&r->data, loaded ? "LoadStateLoaded" : "LoadStateNotLoad");
    if (loaded)
        tm_jw_key(&r->data, "loadProgress"), tm_jw_int(&r->data, 100);
    tm_jw_obj_end(&r->data);
    r->has_data = true;
    r->with_message = loaded;
    return 0;
}

/* Seals the growing data: a seal entry on every shard, each acknowledged
 * once its segments are durable (docs/segments-design.md), so flush returns
 * with the data in sealed segments, as Milvus's master branch does (2.6
 * returns as soon as the flush is triggered). */
static int coll_flush(struct tm_req *r, bool compact)
{
    char name[TM_NAME_MAX];
    struct tm_collection c;
    int rc = tm_req_name(r, "collectionName", name);
    if (!rc)
        rc = tm_proxy_collection(r, name, &c);
    if (rc)
        return rc;
    rc = tm_rest_seal(r, &c, compact);
    tm_collection_free(&c);
    if (rc || !compact)
        return rc ? rc : empty_data(r);
    /* Compaction is done when the call returns; its id is the timestamp of
     * the last shard's compaction entry. */
    tm_jw_obj(&r->data);
    tm_jw_key(&r->data, "compactionID"), tm_jw_int64(&r->data, (int64_t)r->write_ts, false);
    tm_jw_obj_end(&r->data);
    r->has_data = true;
    return 0;
}

/* Every compaction has completed by the time `compact` answers. */
static int coll_compaction_state(struct tm_req *r)
{
    int64_t id;
    if (tm_req_int(r, "jobID", -1, &id) || (id < 0 && tm_req_int(r, "compactionID", 0, &id)))
        return TM_ESTATUS;
    tm_jw_obj(&r->data);
    tm_jw_key(&r->data, "compactionID"), tm_jw_int64(&r->data, id, false);
    tm_jw_key(&r->data, "state"), tm_jw_cstr(&r->data, "Completed");
    tm_jw_key(&r->data, "executingPlanNumber"), tm_jw_int(&r->data, 0);
    tm_jw_key(&r->data, "timeoutPlanNumber"), tm_jw_int(&r->data, 0);
    tm_jw_key(&r->data, "completedPlanNumber"), tm_jw_int(&r->data, r->p->cfg.shards);
    tm_jw_obj_end(&r->data);
    r->has_data = true;
    return 0;
}

int tm_rest_coll(struct tm_req *r, const char *action)
{
    if (strcmp(action, "create") == 0)
        return coll_create(r);
    if (strcmp(action, "describe") == 0)
        return coll_describe(r);
    if (strcmp(action, "list") == 0)
        return tm_rest_list(r, "cat.colls", r->db);
    if (strcmp(action, "has") == 0)
        return coll_has(r);
    if (strcmp(action, "drop") == 0)
        return coll_drop(r);
    if (strcmp(action, "rename") == 0)
        return coll_rename(r);
    if (strcmp(action, "get_stats") == 0)
        return coll_stats(r);
    if (strcmp(action, "get_load_state") == 0)
        return coll_load_state(r);
    if (strcmp(action, "load") == 0 || strcmp(action, "refresh_load") == 0)
        return coll_simple(r, TM_DDL_COLL_LOAD, true);
    if (strcmp(action, "release") == 0)
        return coll_simple(r, TM_DDL_COLL_LOAD, false);
    if (strcmp(action, "alter_properties") == 0)
        return coll_simple(r, TM_DDL_COLL_ALTER, false);
    if (strcmp(action, "drop_properties") == 0)
        return coll_simple(r, TM_DDL_COLL_DROP_PROPS, false);
    if (strcmp(action, "flush") == 0)
        return coll_flush(r, false);
    if (strcmp(action, "compact") == 0)
        return coll_flush(r, true);
    if (strcmp(action, "get_compaction_state") == 0)
        return coll_compaction_state(r);
    return 1;
}
