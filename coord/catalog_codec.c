/* msgpack forms of catalog objects and DDL commands (layouts in catalog.h
 * and ddl.h). Decoders skip unknown keys and check every count against the
 * bytes that remain before allocating (tm_mpr does). */
#include "ddl.h"

#include <stdlib.h>
#include <string.h>

#define KEY_IS(k, n, lit) ((n) == sizeof(lit) - 1 && memcmp((k), (lit), (n)) == 0)

/* Iterates the keys of a map: `body` runs with k/kn set and must consume the value. */
#define FOR_KEYS(r, k, kn, rc, body)                                                               \
    do {                                                                                           \
        uint32_t n_;                                                                               \
        if (((rc) = tm_mpr_map((r), &n_)))                                                         \
            break;                                                                                 \
        for (uint32_t i_ = 0; i_ < n_ && !(rc); i_++) {                                            \
            if (((rc) = tm_mpr_str((r), &(k), &(kn))))                                             \
                break;                                                                             \
            body                                                                                   \
        }                                                                                          \
    } while (0)

static int read_name(struct tm_mpr *r, char *dst, size_t cap)
{
    if (tm_mpr_nil(r)) {
        dst[0] = '\0';
        return 0;
    }
    int rc = tm_mpr_str_copy(r, dst, cap);
    return rc == TM_ETOOBIG ? TM_ECORRUPT : rc;
}

/* ---- index ---- */

void tm_index_free(struct tm_index *ix)
{
    tm_kvs_free(ix->params, ix->nparams);
    ix->params = NULL;
    ix->nparams = 0;
}

void tm_index_encode(struct tm_mpw *w, const struct tm_index *ix)
{
    tm_mpw_map(w, 6);
    tm_mpw_cstr(w, "id"), tm_mpw_int(w, ix->id);
    tm_mpw_cstr(w, "name"), tm_mpw_cstr(w, ix->name);
    tm_mpw_cstr(w, "field"), tm_mpw_cstr(w, ix->field);
    tm_mpw_cstr(w, "type"), tm_mpw_cstr(w, ix->type);
    tm_mpw_cstr(w, "metric"), tm_mpw_cstr(w, ix->metric);
    tm_mpw_cstr(w, "params"), tm_kvs_encode(w, ix->params, ix->nparams);
}

int tm_index_decode(struct tm_mpr *r, struct tm_index *ix)
{
    const char *k;
    uint32_t kn;
    int rc;
    memset(ix, 0, sizeof *ix);
    FOR_KEYS(r, k, kn, rc, {
        if (KEY_IS(k, kn, "id"))
            rc = tm_mpr_int(r, &ix->id);
        else if (KEY_IS(k, kn, "name"))
            rc = read_name(r, ix->name, sizeof ix->name);
        else if (KEY_IS(k, kn, "field"))
            rc = read_name(r, ix->field, sizeof ix->field);
        else if (KEY_IS(k, kn, "type"))
            rc = read_name(r, ix->type, sizeof ix->type);
        else if (KEY_IS(k, kn, "metric"))
            rc = read_name(r, ix->metric, sizeof ix->metric);
        else if (KEY_IS(k, kn, "params"))
            rc = tm_kvs_decode(r, &ix->params, &ix->nparams);
        else
            rc = tm_mpr_skip(r);
    });
    if (rc)
        tm_index_free(ix);
    return rc;
}

/* ---- partition ---- */

static void part_encode(struct tm_mpw *w, const struct tm_partition *p)
{
    tm_mpw_array(w, 3);
    tm_mpw_int(w, p->id);
    tm_mpw_cstr(w, p->name);
    tm_mpw_bool(w, p->loaded);
}

static int part_decode(struct tm_mpr *r, struct tm_partition *p)
{
    uint32_t n;
    if (tm_mpr_array(r, &n) || n != 3)
        return r->err ? r->err : TM_ECORRUPT;
    tm_mpr_int(r, &p->id);
    int rc = read_name(r, p->name, sizeof p->name);
    tm_mpr_bool(r, &p->loaded);
    return rc ? rc : r->err;
}

/* ---- collection ---- */

void tm_collection_free(struct tm_collection *coll)
{
    tm_schema_free(&coll->schema);
    for (size_t i = 0; i < coll->nindexes; i++)
        tm_index_free(&coll->indexes[i]);
    free(coll->indexes);
    free(coll->parts);
    tm_kvs_free(coll->props, coll->nprops);
    memset(coll, 0, sizeof *coll);
}

void tm_collection_encode(struct tm_mpw *w, const struct tm_collection *c)
{
    tm_mpw_map(w, 11);
    tm_mpw_cstr(w, "id"), tm_mpw_int(w, c->id);
    tm_mpw_cstr(w, "db"), tm_mpw_int(w, c->db_id);
    tm_mpw_cstr(w, "name"), tm_mpw_cstr(w, c->name);
    tm_mpw_cstr(w, "schema"), tm_schema_encode(w, &c->schema);
    tm_mpw_cstr(w, "cl"), tm_mpw_int(w, c->consistency);
    tm_mpw_cstr(w, "shards"), tm_mpw_int(w, c->shards);
    tm_mpw_cstr(w, "loaded"), tm_mpw_bool(w, c->loaded);
    tm_mpw_cstr(w, "cts"), tm_mpw_uint(w, c->created_ts);
    tm_mpw_cstr(w, "parts"), tm_mpw_array(w, (uint32_t)c->nparts);
    for (size_t i = 0; i < c->nparts; i++)
        part_encode(w, &c->parts[i]);
    tm_mpw_cstr(w, "indexes"), tm_mpw_array(w, (uint32_t)c->nindexes);
    for (size_t i = 0; i < c->nindexes; i++)
        tm_index_encode(w, &c->indexes[i]);
    tm_mpw_cstr(w, "props"), tm_kvs_encode(w, c->props, c->nprops);
}

static int parts_decode(struct tm_mpr *r, struct tm_collection *c)
{
    uint32_t n;
    if (tm_mpr_array(r, &n))
        return r->err;
    c->parts = calloc(n ? n : 1, sizeof *c->parts);
    if (!c->parts)
        return TM_ENOMEM;
    int rc = 0;
    for (uint32_t i = 0; i < n && !rc; i++, c->nparts++)
        rc = part_decode(r, &c->parts[i]);
    return rc;
}

static int indexes_decode(struct tm_mpr *r, struct tm_collection *c)
{
    uint32_t n;
    if (tm_mpr_array(r, &n))
        return r->err;
    c->indexes = calloc(n ? n : 1, sizeof *c->indexes);
    if (!c->indexes)
        return TM_ENOMEM;
    int rc = 0;
    for (uint32_t i = 0; i < n && !rc; i++) {
        rc = tm_index_decode(r, &c->indexes[i]);
        if (!rc)
            c->nindexes++;
    }
    return rc;
}

static int coll_key(struct tm_mpr *r, struct tm_collection *c, const char *k, uint32_t kn)
{
    int64_t v;
    int rc;
    if (KEY_IS(k, kn, "id"))
        return tm_mpr_int(r, &c->id);
    if (KEY_IS(k, kn, "db"))
        return tm_mpr_int(r, &c->db_id);
    if (KEY_IS(k, kn, "name"))
        return read_name(r, c->name, sizeof c->name);
    if (KEY_IS(k, kn, "schema"))
        return tm_schema_decode(r, &c->schema);
    if (KEY_IS(k, kn, "cl") || KEY_IS(k, kn, "shards")) {
        if ((rc = tm_mpr_int(r, &v)))
            return rc;
        if (KEY_IS(k, kn, "cl"))
            c->consistency = (enum tm_consistency)v;
        else
            c->shards = (int32_t)v;
        return 0;
    }
    if (KEY_IS(k, kn, "loaded"))
        return tm_mpr_bool(r, &c->loaded);
    if (KEY_IS(k, kn, "cts"))
        return tm_mpr_uint(r, &c->created_ts);
    if (KEY_IS(k, kn, "parts"))
        return parts_decode(r, c);
    if (KEY_IS(k, kn, "indexes"))
        return indexes_decode(r, c);
    if (KEY_IS(k, kn, "props"))
        return tm_kvs_decode(r, &c->props, &c->nprops);
    return tm_mpr_skip(r);
}

int tm_collection_decode(struct tm_mpr *r, struct tm_collection *c)
{
    const char *k;
    uint32_t kn;
    int rc;
    memset(c, 0, sizeof *c);
    FOR_KEYS(r, k, kn, rc, { rc = coll_key(r, c, k, kn); });
    if (!rc && c->schema.nfields == 0)
        rc = TM_ECORRUPT;
    if (rc)
        tm_collection_free(c);
    return rc;
}

/* ---- database ---- */

void tm_database_encode(struct tm_mpw *w, const struct tm_database *db)
{
    tm_mpw_map(w, 3);
    tm_mpw_cstr(w, "id"), tm_mpw_int(w, db->id);
    tm_mpw_cstr(w, "name"), tm_mpw_cstr(w, db->name);
    tm_mpw_cstr(w, "props"), tm_kvs_encode(w, db->props, db->nprops);
}

int tm_database_decode(struct tm_mpr *r, struct tm_database *db)
{
    const char *k;
    uint32_t kn;
    int rc;
    memset(db, 0, sizeof *db);
    FOR_KEYS(r, k, kn, rc, {
        if (KEY_IS(k, kn, "id"))
            rc = tm_mpr_int(r, &db->id);
        else if (KEY_IS(k, kn, "name"))
            rc = read_name(r, db->name, sizeof db->name);
        else if (KEY_IS(k, kn, "props"))
            rc = tm_kvs_decode(r, &db->props, &db->nprops);
        else
            rc = tm_mpr_skip(r);
    });
    if (rc) {
        tm_kvs_free(db->props, db->nprops);
        db->props = NULL;
    }
    return rc;
}

/* ---- whole catalog ---- */

/* A placement, or nil when there is none (undecided, or not a placement
 * command). */
static void placement_or_nil(struct tm_mpw *w, bool present, const struct tm_placement *p)
{
    if (present && p->shards)
        tm_placement_encode(w, p);
    else
        tm_mpw_nil(w);
}

static int placement_or_nil_decode(struct tm_mpr *r, struct tm_placement *p)
{
    return tm_mpr_nil(r) ? 0 : tm_placement_decode(r, p);
}

void tm_catalog_encode(struct tm_mpw *w, const struct tm_catalog *c)
{
    tm_mpw_map(w, 6);
    tm_mpw_cstr(w, "v"), tm_mpw_uint(w, 2);
    tm_mpw_cstr(w, "next_id"), tm_mpw_int(w, c->next_id);
    tm_mpw_cstr(w, "hw"), tm_mpw_uint(w, c->tso_hw_ms);
    tm_mpw_cstr(w, "dbs"), tm_mpw_array(w, (uint32_t)c->ndbs);
    for (size_t i = 0; i < c->ndbs; i++)
        tm_database_encode(w, &c->dbs[i]);
    tm_mpw_cstr(w, "colls"), tm_mpw_array(w, (uint32_t)c->ncolls);
    for (size_t i = 0; i < c->ncolls; i++)
        tm_collection_encode(w, &c->colls[i]);
    tm_mpw_cstr(w, "placement"), placement_or_nil(w, true, &c->placement);
}

static int dbs_decode(struct tm_mpr *r, struct tm_catalog *c)
{
    uint32_t n;
    if (tm_mpr_array(r, &n))
        return r->err;
    c->dbs = calloc(n ? n : 1, sizeof *c->dbs);
    if (!c->dbs)
        return TM_ENOMEM;
    int rc = 0;
    for (uint32_t i = 0; i < n && !rc; i++)
        if (!(rc = tm_database_decode(r, &c->dbs[i])))
            c->ndbs++;
    return rc;
}

static int colls_decode(struct tm_mpr *r, struct tm_catalog *c)
{
    uint32_t n;
    if (tm_mpr_array(r, &n))
        return r->err;
    c->colls = calloc(n ? n : 1, sizeof *c->colls);
    if (!c->colls)
        return TM_ENOMEM;
    int rc = 0;
    for (uint32_t i = 0; i < n && !rc; i++)
        if (!(rc = tm_collection_decode(r, &c->colls[i])))
            c->ncolls++;
    return rc;
}

int tm_catalog_decode(struct tm_mpr *r, struct tm_catalog *c)
{
    const char *k;
    uint32_t kn;
    int rc;
    uint64_t version = 0;
    memset(c, 0, sizeof *c);
    FOR_KEYS(r, k, kn, rc, {
        if (KEY_IS(k, kn, "v"))
            rc = tm_mpr_uint(r, &version);
        else if (KEY_IS(k, kn, "next_id"))
            rc = tm_mpr_int(r, &c->next_id);
        else if (KEY_IS(k, kn, "hw"))
            rc = tm_mpr_uint(r, &c->tso_hw_ms);
        else if (KEY_IS(k, kn, "dbs"))
            rc = dbs_decode(r, c);
        else if (KEY_IS(k, kn, "colls"))
            rc = colls_decode(r, c);
        else if (KEY_IS(k, kn, "placement"))
            rc = placement_or_nil_decode(r, &c->placement);
        else
            rc = tm_mpr_skip(r);
    });
    /* Version 1 is version 2 without a placement: it reads as undecided. */
    if (!rc && (version < 1 || version > 2))
        rc = TM_EVERSION;
    if (rc)
        tm_catalog_free(c);
    return rc;
}

/* ---- DDL commands ---- */

static const char *g_ops[] = {
    [TM_DDL_DB_CREATE] = "db_create",     [TM_DDL_DB_DROP] = "db_drop",
    [TM_DDL_DB_ALTER] = "db_alter",       [TM_DDL_DB_DROP_PROPS] = "db_drop_props",
    [TM_DDL_COLL_CREATE] = "coll_create", [TM_DDL_COLL_DROP] = "coll_drop",
    [TM_DDL_COLL_RENAME] = "coll_rename", [TM_DDL_COLL_LOAD] = "coll_load",
    [TM_DDL_COLL_ALTER] = "coll_alter",   [TM_DDL_COLL_DROP_PROPS] = "coll_drop_props",
    [TM_DDL_PART_CREATE] = "part_create", [TM_DDL_PART_DROP] = "part_drop",
    [TM_DDL_PART_LOAD] = "part_load",     [TM_DDL_IDX_CREATE] = "idx_create",
    [TM_DDL_IDX_DROP] = "idx_drop",       [TM_DDL_TSO_HW] = "tso_hw",
    [TM_DDL_PLACEMENT] = "placement",
};

void tm_ddl_init(struct tm_ddl *d, enum tm_ddl_op op)
{
    memset(d, 0, sizeof *d);
    d->op = op;
}

void tm_ddl_free(struct tm_ddl *d)
{
    tm_kvs_free(d->props, d->nprops);
    for (size_t i = 0; i < d->nnames; i++)
        free(d->names[i]);
    free(d->names);
    if (d->has_coll)
        tm_collection_free(&d->coll);
    if (d->has_index)
        tm_index_free(&d->index);
    if (d->has_placement)
        tm_placement_free(&d->placement);
    memset(d, 0, sizeof *d);
}

int tm_ddl_add_name(struct tm_ddl *d, const char *name)
{
    char **grown = realloc(d->names, (d->nnames + 1) * sizeof *grown);
    if (!grown)
        return TM_ENOMEM;
    d->names = grown;
    if (!(grown[d->nnames] = strdup(name)))
        return TM_ENOMEM;
    d->nnames++;
    return 0;
}

void tm_ddl_encode(struct tm_mpw *w, const struct tm_ddl *d)
{
    tm_mpw_map(w, 16);
    /* The lowest version that holds the command (ddl.h). */
    tm_mpw_cstr(w, "v"), tm_mpw_uint(w, d->op == TM_DDL_PLACEMENT ? 2 : 1);
    tm_mpw_cstr(w, "op"), tm_mpw_cstr(w, g_ops[d->op] ? g_ops[d->op] : "");
    tm_mpw_cstr(w, "db"), tm_mpw_cstr(w, d->db);
    tm_mpw_cstr(w, "name"), tm_mpw_cstr(w, d->name);
    tm_mpw_cstr(w, "new_db"), tm_mpw_cstr(w, d->new_db);
    tm_mpw_cstr(w, "new_name"), tm_mpw_cstr(w, d->new_name);
    tm_mpw_cstr(w, "part"), tm_mpw_cstr(w, d->part);
    tm_mpw_cstr(w, "idx"), tm_mpw_cstr(w, d->idx);
    tm_mpw_cstr(w, "flag"), tm_mpw_bool(w, d->flag);
    tm_mpw_cstr(w, "hw"), tm_mpw_uint(w, d->hw_ms);
    tm_mpw_cstr(w, "props"), tm_kvs_encode(w, d->props, d->nprops);
    tm_mpw_cstr(w, "names"), tm_mpw_array(w, (uint32_t)d->nnames);
    for (size_t i = 0; i < d->nnames; i++)
        tm_mpw_cstr(w, d->names[i]);
    tm_mpw_cstr(w, "coll");
    if (d->has_coll)
        tm_collection_encode(w, &d->coll);
    else
        tm_mpw_nil(w);
    tm_mpw_cstr(w, "index");
    if (d->has_index)
        tm_index_encode(w, &d->index);
    else
        tm_mpw_nil(w);
    tm_mpw_cstr(w, "placement"), placement_or_nil(w, d->has_placement, &d->placement);
    tm_mpw_cstr(w, "_"), tm_mpw_nil(w);
}

static int op_decode(struct tm_mpr *r, struct tm_ddl *d)
{
    char op[32];
    if (read_name(r, op, sizeof op))
        return TM_ECORRUPT;
    for (size_t i = 1; i < sizeof g_ops / sizeof g_ops[0]; i++)
        if (g_ops[i] && strcmp(g_ops[i], op) == 0)
            d->op = (enum tm_ddl_op)i;
    return d->op == TM_DDL_NONE ? TM_ECORRUPT : 0;
}

static int names_decode(struct tm_mpr *r, struct tm_ddl *d)
{
    uint32_t n;
    char name[TM_NAME_MAX];
    if (tm_mpr_array(r, &n))
        return r->err;
    for (uint32_t i = 0; i < n; i++) {
        int rc = read_name(r, name, sizeof name);
        if (!rc)
            rc = tm_ddl_add_name(d, name);
        if (rc)
            return rc;
    }
    return 0;
}

static int ddl_key(struct tm_mpr *r, struct tm_ddl *d, const char *k, uint32_t kn)
{
    if (KEY_IS(k, kn, "op"))
        return op_decode(r, d);
    if (KEY_IS(k, kn, "db"))
        return read_name(r, d->db, sizeof d->db);
    if (KEY_IS(k, kn, "name"))
        return read_name(r, d->name, sizeof d->name);
    if (KEY_IS(k, kn, "new_db"))
        return read_name(r, d->new_db, sizeof d->new_db);
    if (KEY_IS(k, kn, "new_name"))
        return read_name(r, d->new_name, sizeof d->new_name);
    if (KEY_IS(k, kn, "part"))
        return read_name(r, d->part, sizeof d->part);
    if (KEY_IS(k, kn, "idx"))
        return read_name(r, d->idx, sizeof d->idx);
    if (KEY_IS(k, kn, "flag"))
        return tm_mpr_bool(r, &d->flag);
    if (KEY_IS(k, kn, "hw"))
        return tm_mpr_uint(r, &d->hw_ms);
    if (KEY_IS(k, kn, "props"))
        return tm_kvs_decode(r, &d->props, &d->nprops);
    if (KEY_IS(k, kn, "names"))
        return names_decode(r, d);
    if (KEY_IS(k, kn, "coll") && !tm_mpr_nil(r)) {
        int rc = tm_collection_decode(r, &d->coll);
        d->has_coll = rc == 0;
        return rc;
    }
    if (KEY_IS(k, kn, "index") && !tm_mpr_nil(r)) {
        int rc = tm_index_decode(r, &d->index);
        d->has_index = rc == 0;
        return rc;
    }
    if (KEY_IS(k, kn, "placement") && !tm_mpr_nil(r)) {
        int rc = tm_placement_decode(r, &d->placement);
        d->has_placement = rc == 0;
        return rc;
    }
    if (KEY_IS(k, kn, "coll") || KEY_IS(k, kn, "index") || KEY_IS(k, kn, "placement"))
        return 0;
    return tm_mpr_skip(r);
}

int tm_ddl_decode(const void *buf, size_t len, struct tm_ddl *d)
{
    struct tm_mpr r;
    const char *k;
    uint32_t kn;
    int rc;
    uint64_t version = 0;
    tm_ddl_init(d, TM_DDL_NONE);
    tm_mpr_init(&r, buf, len);
    FOR_KEYS(&r, k, kn, rc, {
        if (KEY_IS(k, kn, "v"))
            rc = tm_mpr_uint(&r, &version);
        else
            rc = ddl_key(&r, d, k, kn);
    });
    /* A newer format must not be applied as if it were this one. */
    if (!rc && (version < 1 || version > TM_DDL_VERSION))
        rc = TM_EVERSION;
    if (!rc && d->op == TM_DDL_PLACEMENT && (version < 2 || !d->has_placement))
        rc = TM_ECORRUPT;
    if (!rc && d->op == TM_DDL_NONE)
        rc = TM_ECORRUPT;
    if (rc)
        tm_ddl_free(d);
    return rc;
}
