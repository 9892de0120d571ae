/* Merge-mode upsert (`partialUpdate: true`, milvus-rest-v2.md §5.3).
 *
 * Unlike Milvus, which reads the rows at the proxy and writes whole rows
 * back (so concurrent partial updates of one key can lose each other's
 * fields), the proxy only validates and sends the partial rows; every
 * replica merges them into the keys' latest versions while it applies the
 * log (segment/store_merge.c). The one read here checks that keys which do
 * not exist yet carry every required field, so the request fails whole, as
 * Milvus's does, instead of writing half of it.
 */
#include "rest_int.h"
#include "rows.h"

#include <string.h>
#include <strings.h>

/* The first field a new key would need but the partial rows do not send. */
static const struct tm_field *missing_required(const struct tm_schema *s,
                                               const struct tm_batch *rows)
{
    for (size_t i = 0; i < s->nfields; i++) {
        const struct tm_field *f = &s->fields[i];
        if (!f->primary && !f->nullable && f->default_value.kind == TM_V_NONE &&
            !tm_batch_col(rows, f->id))
            return f;
    }
    return NULL;
}

/* How many of the keys exist now (a Strong read of the primary keys). */
static int count_existing(struct tm_req *r, const struct tm_collection *c,
                          const struct tm_batch *pks, uint32_t *n_out)
{
    struct tm_read_plan p = {.level = TM_CL_STRONG, .all_parts = true}; /* no field but the pk */
    struct tm_batch found;
    tm_batch_init(&found);
    int rc = tm_rest_read_batch(r, c, &p, pks, &found);
    *n_out = found.nrows;
    tm_batch_free(&found);
    return rc;
}

/* A key that does not exist yet is inserted, so the rows must then carry
 * every required field; otherwise the whole request fails (as Milvus). */
static int check_new_keys(struct tm_req *r, const struct tm_collection *c,
                          const struct tm_batch *rows, const struct tm_batch *pks)
{
    const struct tm_field *f = missing_required(&c->schema, rows);
    uint32_t existing = 0;
    if (!f)
        return 0;
    int rc = count_existing(r, c, pks, &existing);
    if (rc || existing == pks->nrows)
        return rc;
    return tm_status_set(&r->st, TM_MV_INVALID_PARAM,
                         "fieldSchema(%s) has no corresponding fieldData pass in: a partial update "
                         "inserts keys that do not exist yet, and they need every required field",
                         f->name);
}

/* Refuses a key named twice (the old keys of an autoID merge). */
static int check_unique(struct tm_req *r, const struct tm_collection *c, const struct tm_batch *pks)
{
    struct tm_batch copy;
    tm_batch_init(&copy);
    int rc = tm_rest_keys_of_rows(r, c, pks, &copy);
    tm_batch_free(&copy);
    return rc;
}

static int shard_applied(struct tm_req *r, int shard, bool *applied)
{
    struct tm_mpw w;
    struct tm_status st;
    uint64_t v = 0;
    tm_mpw_init(&w);
    tm_mpw_map(&w, 3);
    tm_mpw_cstr(&w, "shard"), tm_mpw_int(&w, shard);
    tm_mpw_cstr(&w, "cid"), tm_mpw_cstr(&w, r->request_id);
    tm_mpw_cstr(&w, "seq"), tm_mpw_uint(&w, (uint64_t)shard);
    int rc =
        tm_rpc_call_uint(r->p->data[shard], "applied", &w, r->p->cfg.request_timeout_ms, &v, &st);
    tm_mpw_free(&w);
    *applied = v != 0;
    return rc ? tm_req_fail_call(r, &st) : 0;
}

/* A named request whose every shard part was applied already is a retry:
 * it is answered without checking the keys again (the first attempt may
 * have moved or deleted them) and without writing. */
static int is_retry(struct tm_req *r, const struct tm_batch *pks, bool *retry)
{
    int shards = r->p->cfg.shards;
    bool touched[64] = {false};
    *retry = false;
    if (!r->request_id[0])
        return 0;
    for (uint32_t i = 0; i < pks->nrows; i++)
        touched[tm_rest_shard_of(&pks->cols[0], i, shards)] = true;
    *retry = true;
    for (int s = 0; s < shards && s < 64 && *retry; s++) {
        bool applied = true;
        if (touched[s]) {
            int rc = shard_applied(r, s, &applied);
            if (rc)
                return rc;
        }
        *retry = applied;
    }
    return 0;
}

static int parse_op(struct tm_req *r, const char *name, int *op)
{
    static const char *names[] = {"REPLACE", "ARRAY_APPEND", "ARRAY_REMOVE"};
    for (int i = 0; i < 3; i++) {
        if (strcasecmp(name, names[i]) == 0) {
            *op = i;
            return 0;
        }
    }
    return tm_status_set(&r->st, TM_MV_INVALID_PARAM, "unsupported partial update op: %s", name);
}

static int add_op(struct tm_req *r, const struct tm_collection *c, const json_t *j, bool *partial)
{
    const char *field = json_string_value(json_object_get(j, "fieldName"));
    const char *name = json_string_value(json_object_get(j, "op"));
    const struct tm_field *f = field ? tm_schema_field(&c->schema, field) : NULL;
    int op = TM_OP_REPLACE;
    if (!field || !name)
        return tm_status_set(&r->st, TM_MV_INVALID_PARAM,
                             "fieldOps entries need a fieldName and an op");
    if (parse_op(r, name, &op))
        return TM_ESTATUS;
    if (!f)
        return tm_status_set(&r->st, TM_MV_INVALID_PARAM, "field %s of fieldOps not exist", field);
    if (op != TM_OP_REPLACE && f->type != TM_T_ARRAY)
        return tm_status_set(&r->st, TM_MV_INVALID_PARAM,
                             "op %s requires Array field, but field \"%s\" is %s", name, field,
                             tm_dtype_name(f->type));
    if (f->primary)
        return tm_status_set(&r->st, TM_MV_INVALID_PARAM,
                             "op %s cannot apply to the primary key %s", name, field);
    for (uint32_t i = 0; i < r->nops; i++)
        if (r->ops[i].field_id == f->id)
            return tm_status_set(&r->st, TM_MV_INVALID_PARAM,
                                 "field %s has more than one op in fieldOps", field);
    if (op == TM_OP_REPLACE)
        return 0;
    if (r->nops >= sizeof r->ops / sizeof r->ops[0])
        return tm_status_set(&r->st, TM_MV_INVALID_PARAM, "too many fieldOps");
    r->ops[r->nops].field_id = f->id;
    r->ops[r->nops++].op = (enum tm_field_op)op;
    *partial = true;
    return 0;
}

int tm_rest_field_ops(struct tm_req *r, const struct tm_collection *c, bool *partial)
{
    const json_t *ops = tm_req_get(r, "fieldOps");
    size_t i;
    json_t *j;
    if (ops && !json_is_array(ops) && !json_is_null(ops))
        return tm_status_set(&r->st, TM_MV_BAD_JSON,
                             "can only accept json format request, error: fieldOps must be a "
                             "list");
    json_array_foreach(ops, i, j)
    {
        if (add_op(r, c, j, partial))
            return TM_ESTATUS;
    }
    return 0;
}

/* Every field an op names must be sent. */
static int check_op_fields(struct tm_req *r, const struct tm_collection *c,
                           const struct tm_batch *rows)
{
    for (uint32_t i = 0; i < r->nops; i++)
        if (!tm_batch_col(rows, r->ops[i].field_id))
            return tm_status_set(&r->st, TM_MV_INVALID_PARAM, "field %s of fieldOps is not in data",
                                 tm_schema_field_by_id(&c->schema, r->ops[i].field_id)->name);
    return 0;
}

int tm_rest_merge(struct tm_req *r, const struct tm_collection *c)
{
    struct tm_batch rows, pks;
    int64_t part[2] = {-1, -1};
    bool explicit_part = tm_req_get(r, "partitionName") != NULL;
    tm_batch_init(&rows);
    tm_batch_init(&pks);
    int rc = c->loaded ? 0
                       : tm_status_set(&r->st, TM_MV_COLL_NOT_LOADED,
                                       "collection not loaded[collection=%s]", c->name);
    /* Without partitionName a merged key keeps its partition; new keys go
     * to _default. With it, the key moves there. */
    if (!rc && explicit_part)
        rc = tm_rest_partition_id(r, c, false, &part[0]);
    if (!rc)
        rc = tm_rest_partition_id(r, c, false, &part[1]);
    if (!rc)
        rc = tm_rest_request_rows(r, c, true, true, &rows, &pks);
    if (!rc)
        rc = c->schema.auto_id ? check_unique(r, c, &pks) : tm_rest_keys_of_rows(r, c, &rows, &pks);
    bool retry = false;
    if (!rc)
        rc = check_op_fields(r, c, &rows);
    if (!rc)
        rc = is_retry(r, &pks, &retry);
    if (!rc && !retry)
        rc = check_new_keys(r, c, &rows, &pks);
    if (!rc && !retry)
        rc = tm_rest_write_all(r, TM_ENTRY_MERGE, c, part, &rows, &pks);
    if (!rc) {
        tm_jw_obj(&r->data);
        tm_jw_key(&r->data, "upsertCount"), tm_jw_uint(&r->data, rows.nrows);
        tm_jw_key(&r->data, "upsertIds"), tm_rest_write_ids(r, &c->schema, &rows);
        tm_jw_obj_end(&r->data);
        r->has_data = r->with_cost = true;
    }
    tm_batch_free(&rows);
    tm_batch_free(&pks);
    return rc;
}
