/* The /v2/vectordb/partitions endpoints (milvus-rest-v2.md §4.3). */
#include "ddl.h"
#include "rest_int.h"

#include <string.h>

static int read_names(struct tm_req *r, struct tm_ddl *d)
{
    const json_t *names = tm_req_get(r, "partitionNames");
    size_t i;
    json_t *v;
    if (!json_is_array(names) || json_array_size(names) == 0)
        return tm_status_set(&r->st, TM_MV_MISSING_PARAM,
                             "missing required parameters, error: Key: 'partitionNames' "
                             "Error:Field validation for 'PartitionNames' failed on the "
                             "'required' tag");
    json_array_foreach(names, i, v)
    {
        if (!json_is_string(v) || tm_ddl_add_name(d, json_string_value(v)))
            return tm_status_set(&r->st, TM_MV_BAD_JSON,
                                 "can only accept json format request, error: partitionNames "
                                 "must hold strings");
    }
    return 0;
}

static int part_list_or_has(struct tm_req *r, bool has)
{
    char name[TM_NAME_MAX], part[TM_NAME_MAX];
    struct tm_collection c;
    int rc = tm_req_name(r, "collectionName", name);
    if (!rc && has)
        rc = tm_req_name(r, "partitionName", part);
    if (!rc)
        rc = tm_proxy_collection(r, name, &c);
    if (rc)
        return rc;
    if (has) {
        tm_jw_obj(&r->data);
        tm_jw_key(&r->data, "has"), tm_jw_bool(&r->data, tm_collection_part(&c, part) != NULL);
        tm_jw_obj_end(&r->data);
    } else {
        tm_jw_arr(&r->data);
        for (size_t i = 0; i < c.nparts; i++)
            tm_jw_cstr(&r->data, c.parts[i].name);
        tm_jw_arr_end(&r->data);
    }
    tm_collection_free(&c);
    r->has_data = true;
    return 0;
}

static int part_stats(struct tm_req *r)
{
    char name[TM_NAME_MAX], part[TM_NAME_MAX];
    struct tm_collection c;
    uint64_t n = 0;
    int rc = tm_req_name(r, "collectionName", name);
    if (!rc)
        rc = tm_req_name(r, "partitionName", part);
    if (!rc)
        rc = tm_proxy_collection(r, name, &c);
    if (rc)
        return rc;
    const struct tm_partition *p = tm_collection_part(&c, part);
    if (!p)
        rc = tm_status_set(&r->st, TM_MV_PART_NOT_FOUND, "partition not found[partition=%s]", part);
    else
        rc = tm_rest_count(r, &c, &p->id, 1, &n);
    tm_collection_free(&c);
    if (rc)
        return rc;
    tm_jw_obj(&r->data);
    tm_jw_key(&r->data, "rowCount"), tm_jw_uint(&r->data, n);
    tm_jw_obj_end(&r->data);
    r->has_data = true;
    return 0;
}

int tm_rest_part(struct tm_req *r, const char *action)
{
    struct tm_ddl d;
    if (strcmp(action, "list") == 0 || strcmp(action, "has") == 0)
        return part_list_or_has(r, action[0] == 'h');
    if (strcmp(action, "get_stats") == 0)
        return part_stats(r);
    enum tm_ddl_op op = strcmp(action, "create") == 0    ? TM_DDL_PART_CREATE
                        : strcmp(action, "drop") == 0    ? TM_DDL_PART_DROP
                        : strcmp(action, "load") == 0    ? TM_DDL_PART_LOAD
                        : strcmp(action, "release") == 0 ? TM_DDL_PART_LOAD
                                                         : TM_DDL_NONE;
    if (op == TM_DDL_NONE)
        return 1;
    tm_ddl_init(&d, op);
    strcpy(d.db, r->db);
    d.flag = strcmp(action, "load") == 0;
    int rc = tm_req_name(r, "collectionName", d.name);
    if (!rc && op == TM_DDL_PART_LOAD)
        rc = read_names(r, &d);
    else if (!rc)
        rc = tm_req_name(r, "partitionName", d.part);
    if (!rc)
        rc = tm_proxy_ddl(r, &d);
    tm_ddl_free(&d);
    if (rc)
        return rc;
    tm_jw_obj(&r->data), tm_jw_obj_end(&r->data);
    r->has_data = true;
    return 0;
}
