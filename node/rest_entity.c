/* The /v2/vectordb/entities writes: insert, upsert (override mode), delete
 * (milvus-rest-v2.md §4.4, §5). Rows are validated whole before anything is
 * written, grouped by WAL shard (pk hash), and written one entry per shard. */
#include "pkindex.h"
#include "proxy.h"
#include "render.h"
#include "rows.h"
#include "rest_int.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "tm_wait.h"

/* ---- shard routing ---- */

int tm_rest_shard_of(const struct tm_col *pkc, uint32_t row, int nshards)
{
    struct tm_pk pk = {0};
    if (pkc->type == TM_T_INT64) {
        pk.i = tm_col_int64(pkc, row);
    } else {
        size_t len;
        pk.is_str = true;
        pk.s = (const char *)tm_col_value(pkc, row, &len);
        pk.len = (uint32_t)len;
    }
    return tm_pk_shard(&pk, (uint64_t)nshards);
}

/* Moves the rows of shard `shard` from src into dst (same layout). */
static int rows_of_shard(const struct tm_batch *src, int64_t pk_id, int shard, int nshards,
                         struct tm_batch *dst)
{
    const struct tm_col *pkc = tm_batch_col(src, pk_id);
    int rc = tm_batch_clone_layout(dst, src);
    for (uint32_t i = 0; i < src->nrows && !rc; i++)
        if (tm_rest_shard_of(pkc, i, nshards) == shard)
            rc = tm_batch_append_rows(dst, src, i, 1);
    return rc;
}

static void span_of(const struct tm_batch *b, struct tm_mpw *w)
{
    if (b && b->nrows)
        tm_batch_encode(w, b);
    else
        tm_mpw_nil(w);
}

/* One shard's part of a request's writes. */
struct shard_write {
    struct write_set *set;
    int shard;
    struct tm_mpw body;
    struct tm_wq_item item;
};

/* One request's writes, one per shard, sent at once and answered
 * together: the handler waits for them, or, on the loop thread
 * (r->answer_later), the last answer finishes the request. */
struct write_set {
    struct tm_req *r;
    int n;
    atomic_int left;
    struct tm_wait answered;
    struct shard_write sw[];
};

static struct write_set *write_set_new(struct tm_req *r, int n)
{
    struct write_set *ws = calloc(1, sizeof *ws + (size_t)n * sizeof ws->sw[0]);
    if (ws)
        ws->r = r;
    return ws;
}

/* The next shard's part, its body to fill. */
static struct shard_write *write_set_add(struct write_set *ws, int shard)
{
    struct shard_write *sw = &ws->sw[ws->n++];
    sw->set = ws;
    sw->shard = shard;
    tm_mpw_init(&sw->body);
    return sw;
}

static void write_set_free(struct write_set *ws)
{
    for (int i = 0; i < ws->n; i++)
        tm_mpw_free(&ws->sw[i].body);
    free(ws);
}

static void write_set_release(void *ws)
{
    write_set_free(ws);
}

/* The first failure's status into r, else 0; r->write_ts covers every
 * shard written (the session timestamp). */
static int write_set_result(struct write_set *ws)
{
    int rc = 0;
    for (int i = 0; i < ws->n; i++) {
        const struct tm_wq_item *it = &ws->sw[i].item;
        if (it->rc && !rc)
            rc = tm_req_fail_call(ws->r, &it->st);
        if (!it->rc && it->ts > ws->r->write_ts)
            ws->r->write_ts = it->ts;
    }
    return rc;
}

static void write_set_answered(struct write_set *ws)
{
    if (!ws->r->answer_later) {
        tm_wait_signal(&ws->answered, 0);
        return;
    }
    struct tm_req *r = ws->r;
    int rc = write_set_result(ws);
    r->release = write_set_release;
    r->release_arg = ws;
    r->answer_later(r, rc);
}

static void shard_written(struct tm_wq_item *it)
{
    struct shard_write *sw =
        (struct shard_write *)((char *)it - offsetof(struct shard_write, item));
    if (atomic_fetch_sub(&sw->set->left, 1) == 1)
        write_set_answered(sw->set);
}

/* Sends every shard's part and answers: 0 or TM_ESTATUS once all are
 * answered, or TM_LATER when r->answer_later will. Takes ws. */
static int write_set_send(struct write_set *ws)
{
    struct tm_req *r = ws->r;
    bool later = r->answer_later != NULL;
    if (ws->n == 0) {
        write_set_free(ws);
        return 0;
    }
    if (!later)
        tm_wait_init(&ws->answered);
    atomic_store(&ws->left, ws->n);
    for (int i = 0, n = ws->n; i < n; i++) { /* ws may be gone after the last */
        struct shard_write *sw = &ws->sw[i];
        sw->item = (struct tm_wq_item){.body = &sw->body, .done = shard_written};
        if (!tm_mpw_error(&sw->body)) {
            tm_write_queue_submit(&r->p->write_queues[sw->shard], &sw->item);
            continue;
        }
        sw->item.rc = TM_ESTATUS;
        tm_status_set(&sw->item.st, TM_MV_INTERNAL, "out of memory");
        shard_written(&sw->item);
    }
    if (later)
        return TM_LATER;
    tm_wait_for(&ws->answered);
    tm_wait_destroy(&ws->answered);
    int rc = write_set_result(ws);
    write_set_free(ws);
    return rc;
}

static void encode_write(struct tm_req *r, struct shard_write *sw, enum tm_entry_kind kind,
                         int64_t coll, const int64_t part[2], const struct tm_batch *rows,
                         const struct tm_batch *pks)
{
    struct tm_mpw *w = &sw->body;
    tm_mpw_map(w, r->nops ? 10 : 9);
    tm_mpw_cstr(w, "shard"), tm_mpw_int(w, sw->shard);
    if (r->nops) {
        tm_mpw_cstr(w, "ops"), tm_entry_ops_encode(w, r->ops, r->nops);
    }
    /* One request may write to several shards: the shard is the sequence. */
    tm_mpw_cstr(w, "cid"), tm_mpw_cstr(w, tm_req_write_id(r));
    tm_mpw_cstr(w, "seq"), tm_mpw_uint(w, (uint64_t)sw->shard);
    tm_mpw_cstr(w, "kind"), tm_mpw_uint(w, (uint64_t)kind);
    tm_mpw_cstr(w, "coll"), tm_mpw_int(w, coll);
    tm_mpw_cstr(w, "part"), tm_mpw_int(w, part[0]);
    tm_mpw_cstr(w, "dpart"), tm_mpw_int(w, part[1]);
    tm_mpw_cstr(w, "rows"), span_of(rows, w);
    tm_mpw_cstr(w, "pks"), span_of(pks, w);
}

/* Writes rows and/or pks, split by shard. */
int tm_rest_write_all(struct tm_req *r, enum tm_entry_kind kind, const struct tm_collection *c,
                      const int64_t part[2], const struct tm_batch *rows,
                      const struct tm_batch *pks)
{
    int n = r->p->cfg.shards, rc = 0;
    int64_t pk_id = tm_schema_pk(&c->schema)->id;
    struct write_set *ws = write_set_new(r, n);
    if (!ws)
        return tm_status_set(&r->st, TM_MV_INTERNAL, "out of memory");
    if (n == 1) {
        encode_write(r, write_set_add(ws, 0), kind, c->id, part, rows, pks);
        return write_set_send(ws);
    }
    for (int s = 0; s < n && !rc; s++) {
        struct tm_batch rs, ps;
        tm_batch_init(&rs);
        tm_batch_init(&ps);
        if (rows)
            rc = rows_of_shard(rows, pk_id, s, n, &rs);
        if (!rc && pks)
            rc = rows_of_shard(pks, pk_id, s, n, &ps);
        if (!rc && (rs.nrows || ps.nrows))
            encode_write(r, write_set_add(ws, s), kind, c->id, part, &rs, &ps);
        tm_batch_free(&rs);
        tm_batch_free(&ps);
    }
    if (rc) {
        write_set_free(ws);
        return tm_status_set(&r->st, TM_MV_INTERNAL, "out of memory");
    }
    return write_set_send(ws);
}

int tm_rest_seal(struct tm_req *r, const struct tm_collection *c, bool compact)
{
    const int64_t part[2] = {-1, -1};
    struct write_set *ws = write_set_new(r, r->p->cfg.shards);
    if (!ws)
        return tm_status_set(&r->st, TM_MV_INTERNAL, "out of memory");
    for (int s = 0; s < r->p->cfg.shards; s++)
        encode_write(r, write_set_add(ws, s), compact ? TM_ENTRY_COMPACT : TM_ENTRY_SEAL, c->id,
                     part, NULL, NULL);
    return write_set_send(ws);
}

/* ---- shared request parts ---- */

int tm_rest_target(struct tm_req *r, struct tm_collection *c)
{
    char name[TM_NAME_MAX];
    int rc = tm_req_name(r, "collectionName", name);
    return rc ? rc : tm_proxy_collection(r, name, c);
}

/* partitionName (default _default) to a partition id; -1 for "every
 * partition" when all_ok and no name was given. */
int tm_rest_partition_id(struct tm_req *r, const struct tm_collection *c, bool all_ok, int64_t *id)
{
    const char *name = tm_req_str(r, "partitionName", false);
    if (r->st.code)
        return TM_ESTATUS;
    if ((!name || !*name) && all_ok) {
        *id = -1;
        return 0;
    }
    for (size_t i = 0; name && *name && i < c->schema.nfields; i++)
        if (c->schema.fields[i].partition_key)
            return tm_status_set(&r->st, TM_MV_INVALID_PARAM,
                                 "not support manually specifying the partition names if "
                                 "partition key mode is used");
    const struct tm_partition *p = tm_collection_part(c, name && *name ? name : "_default");
    if (!p)
        return tm_status_set(&r->st, TM_MV_PART_NOT_FOUND, "partition not found[partition=%s]",
                             name ? name : "_default");
    *id = p->id;
    return 0;
}

void tm_rest_write_ids(struct tm_req *r, const struct tm_schema *s, const struct tm_batch *b)
{
    const struct tm_field *pk = tm_schema_pk(s);
    const struct tm_col *c = tm_batch_col(b, pk->id);
    tm_jw_arr(&r->data);
    for (uint32_t i = 0; c && i < b->nrows; i++)
        tm_render_value(&r->data, pk, c, i, r->int64_as_string);
    tm_jw_arr_end(&r->data);
}

/* AutoID upsert: each row carries the key it replaces; the new row gets a
 * generated key. Collects the old keys and returns the rows without them. */
static int split_old_keys(struct tm_req *r, const struct tm_field *pk, const json_t *data,
                          json_t **stripped, struct tm_batch *old_pks)
{
    json_t *keys = json_array();
    *stripped = json_array();
    size_t n = tm_rows_count(data);
    for (size_t i = 0; i < n; i++) {
        const json_t *row = json_is_array(data) ? json_array_get(data, i) : data;
        json_t *key = json_object_get(row, pk->name);
        if (!json_is_object(row) || !key) {
            json_decref(keys);
            return tm_status_set(&r->st, TM_MV_BAD_INSERT,
                                 "fail to deal the insert data, error: row %zu does not has "
                                 "field %s",
                                 i, pk->name);
        }
        json_t *copy = json_copy((json_t *)row);
        json_object_del(copy, pk->name);
        json_array_append_new(*stripped, copy);
        json_array_append(keys, key);
    }
    int rc = tm_pks_from_json(pk, keys, old_pks, &r->st);
    json_decref(keys);
    return rc;
}

/* Rows of an insert or upsert request, with generated keys for autoID. */
/* Generated keys are TSO timestamps: unique and never reused, even across
 * restarts, because the TSO never goes backwards. An upsert's new key lives
 * in the old key's shard (keys are drawn until their hash lands there): a
 * merge resolves against the old key's version, and the delete of the old
 * key and the insert of the new then share one entry, so a retried upsert
 * (which draws other keys) is recognised as one and applied once. */
static int generate_ids(struct tm_req *r, const struct tm_batch *old_pks, size_t n, int64_t *ids)
{
    int shards = r->p->cfg.shards;
    bool same_shard = old_pks && old_pks->nrows == n && shards > 1;
    uint64_t ts = 0, left = 0;
    for (size_t i = 0; i < n;) {
        if (!left) {
            left = same_shard ? 4 * (uint64_t)shards * (n - i) : n;
            if (left > (1u << 17))
                left = 1u << 17;
            int rc = tm_proxy_tso(r, (uint32_t)left, &ts);
            if (rc)
                return rc;
        }
        struct tm_pk cand = {.i = (int64_t)ts++};
        left--;
        if (same_shard) {
            struct tm_pk old = {.i = tm_col_int64(&old_pks->cols[0], (uint32_t)i)};
            if (tm_pk_shard(&cand, (uint64_t)shards) != tm_pk_shard(&old, (uint64_t)shards))
                continue;
        }
        ids[i++] = cand.i;
    }
    return 0;
}

int tm_rest_request_rows(struct tm_req *r, const struct tm_collection *c, bool upsert, bool partial,
                         struct tm_batch *rows, struct tm_batch *old_pks)
{
    if (r->data_text && !partial) {
        int rc =
            tm_rows_from_text(&c->schema, r->data_text, r->data_len, &r->data_arrays, rows, &r->st);
        if (rc != TM_EAGAIN)
            return rc;
        tm_batch_free(rows);
        tm_batch_init(rows);
    }
    const json_t *data = tm_req_data(r);
    if (!data && r->st.code)
        return TM_ESTATUS;
    size_t n = tm_rows_count(data);
    const struct tm_field *pk = tm_schema_pk(&c->schema);
    if (n == 0)
        return tm_status_set(&r->st, TM_MV_MISSING_PARAM,
                             "missing required parameters, error: Key: 'data' Error:Field "
                             "validation for 'Data' failed on the 'required' tag");
    int64_t *ids = NULL;
    json_t *stripped = NULL;
    int rc = 0;
    if (upsert && c->schema.auto_id) /* the request names the keys it replaces */
        rc = split_old_keys(r, pk, data, &stripped, old_pks);
    if (!rc && c->schema.auto_id) {
        ids = malloc(n * sizeof *ids);
        rc = ids ? generate_ids(r, upsert ? old_pks : NULL, n, ids)
                 : tm_status_set(&r->st, TM_MV_INTERNAL, "out of memory");
    }
    const json_t *in = stripped ? stripped : data;
    if (!rc)
        rc = partial ? tm_rows_partial_from_json(&c->schema, in, ids, rows, &r->st)
                     : tm_rows_from_json(&c->schema, in, ids, rows, &r->st);
    json_decref(stripped);
    free(ids);
    return rc;
}

/* The pk column of rows as a one-column batch; refuses duplicate keys. */
int tm_rest_keys_of_rows(struct tm_req *r, const struct tm_collection *c,
                         const struct tm_batch *rows, struct tm_batch *pks)
{
    const struct tm_field *pk = tm_schema_pk(&c->schema);
    const struct tm_col *src = tm_batch_col(rows, pk->id);
    struct tm_col *dst = tm_batch_add_col(pks, pk->id, pk->type, tm_field_width(pk), false);
    struct tm_pkindex seen;
    tm_pkindex_init(&seen);
    int rc = 0;
    for (uint32_t i = 0; i < rows->nrows && !rc; i++) {
        size_t len;
        const uint8_t *v = tm_col_value(src, i, &len);
        struct tm_pk key = {
            .is_str = pk->type == TM_T_VARCHAR, .s = (const char *)v, .len = (uint32_t)len};
        if (!key.is_str)
            memcpy(&key.i, v, 8);
        if (rows->nrows > 1 && tm_pkindex_find(&seen, &key)) /* one row: nothing to compare */
            rc = tm_status_set(&r->st, TM_MV_INVALID_PARAM,
                               "duplicate primary keys are not allowed in the same batch: "
                               "invalid parameter");
        else if ((rows->nrows > 1 && !tm_pkindex_get(&seen, &key)) || tm_col_push(dst, v, len))
            rc = tm_status_set(&r->st, TM_MV_INTERNAL, "out of memory");
        else
            pks->nrows++;
    }
    tm_pkindex_free(&seen);
    return rc;
}

static int entity_write(struct tm_req *r, bool upsert)
{
    struct tm_collection c;
    struct tm_batch rows, pks;
    int64_t part[2] = {-1, -1};
    bool partial = false;
    int rc = tm_rest_target(r, &c);
    if (rc)
        return rc;
    tm_batch_init(&rows);
    tm_batch_init(&pks);
    if (upsert)
        rc = tm_req_bool(r, "partialUpdate", false, &partial);
    if (!rc && upsert)
        rc = tm_rest_field_ops(r, &c, &partial);
    if (!rc && partial && r->answer_later)
        rc = TM_EAGAIN; /* a merge reads first: a worker's job */
    if (!rc && partial) {
        rc = tm_rest_merge(r, &c);
        tm_collection_free(&c);
        return rc;
    }
    if (!rc)
        rc = tm_rest_partition_id(r, &c, false, &part[0]);
    if (!rc)
        rc = tm_rest_request_rows(r, &c, upsert, false, &rows, &pks);
    if (!rc && upsert && !c.schema.auto_id)
        rc = tm_rest_keys_of_rows(r, &c, &rows, &pks);
    if (!rc) { /* before the write: an answer later needs only r */
        tm_jw_obj(&r->data);
        tm_jw_key(&r->data, upsert ? "upsertCount" : "insertCount");
        tm_jw_uint(&r->data, rows.nrows);
        tm_jw_key(&r->data, upsert ? "upsertIds" : "insertIds");
        tm_rest_write_ids(r, &c.schema, &rows);
        tm_jw_obj_end(&r->data);
        r->has_data = r->with_cost = true;
        rc = tm_rest_write_all(r, upsert ? TM_ENTRY_UPSERT : TM_ENTRY_INSERT, &c, part, &rows,
                               upsert ? &pks : NULL);
    }
    tm_batch_free(&rows);
    tm_batch_free(&pks);
    tm_collection_free(&c);
    return rc;
}

static int entity_delete(struct tm_req *r)
{
    struct tm_collection c;
    struct tm_batch pks;
    json_t *keys = NULL;
    int64_t part[2] = {-1, -1};
    int rc = tm_rest_target(r, &c);
    if (rc)
        return rc;
    tm_batch_init(&pks);
    const char *filter = tm_req_str(r, "filter", true);
    rc = filter ? tm_rest_partition_id(r, &c, true, &part[0]) : TM_ESTATUS;
    /* `pk in [..]` names the keys; any other filter is read first. */
    if (!rc && !tm_req_get(r, "exprParams"))
        keys = tm_rest_pk_terms(&c, filter);
    if (!rc)
        rc = keys ? tm_pks_from_json(tm_schema_pk(&c.schema), keys, &pks, &r->st)
                  : tm_rest_filter_keys(r, &c, filter, part[0], &pks);
    if (!rc && pks.nrows)
        rc = tm_rest_write_all(r, TM_ENTRY_DELETE, &c, part, NULL, &pks);
    if (!rc) {
        tm_jw_obj(&r->data);
        tm_jw_key(&r->data, "deleteCount"), tm_jw_uint(&r->data, pks.nrows);
        tm_jw_obj_end(&r->data);
        r->has_data = true;
    }
    json_decref(keys);
    tm_batch_free(&pks);
    tm_collection_free(&c);
    return rc;
}

int tm_rest_entity(struct tm_req *r, const char *action)
{
    if (strcmp(action, "insert") == 0)
        return entity_write(r, false);
    if (strcmp(action, "upsert") == 0)
        return entity_write(r, true);
    if (strcmp(action, "delete") == 0)
        return entity_delete(r);
    int rc = tm_rest_search(r, action);
    return rc == 1 ? tm_rest_read(r, action) : rc;
}
