/* Catalog state, lookups, and the DDL state machine (see catalog.h). */
#include "catalog.h"
#include "ddl.h"

#include <stdlib.h>
#include <string.h>

#define BAD(st, code, ...) tm_status_set(st, code, __VA_ARGS__)
#define MAX_PARTITIONS 1024

static const char *g_cl_names[] = {"Strong", "Session", "Bounded", "Eventually", "Customized"};

const char *tm_consistency_name(enum tm_consistency c)
{
    return (unsigned)c < 5 ? g_cl_names[c] : "Bounded";
}

int tm_consistency_parse(const char *s)
{
    for (int i = 0; i < 5; i++)
        if (strcmp(s, g_cl_names[i]) == 0)
            return i;
    return -1;
}

int tm_catalog_init(struct tm_catalog *c)
{
    memset(c, 0, sizeof *c);
    c->dbs = calloc(1, sizeof *c->dbs);
    if (!c->dbs)
        return TM_ENOMEM;
    c->dbs[0].id = 1;
    strcpy(c->dbs[0].name, TM_DEFAULT_DB);
    c->ndbs = 1;
    c->next_id = 1000;
    return 0;
}

void tm_catalog_free(struct tm_catalog *c)
{
    for (size_t i = 0; i < c->ndbs; i++)
        tm_kvs_free(c->dbs[i].props, c->dbs[i].nprops);
    free(c->dbs);
    for (size_t i = 0; i < c->ncolls; i++)
        tm_collection_free(&c->colls[i]);
    free(c->colls);
    tm_placement_free(&c->placement);
    memset(c, 0, sizeof *c);
}

const struct tm_database *tm_catalog_db(const struct tm_catalog *c, const char *name)
{
    for (size_t i = 0; i < c->ndbs; i++)
        if (strcmp(c->dbs[i].name, name) == 0)
            return &c->dbs[i];
    return NULL;
}

const struct tm_collection *tm_catalog_coll(const struct tm_catalog *c, const char *db,
                                            const char *name)
{
    const struct tm_database *d = tm_catalog_db(c, db);
    for (size_t i = 0; d && i < c->ncolls; i++)
        if (c->colls[i].db_id == d->id && strcmp(c->colls[i].name, name) == 0)
            return &c->colls[i];
    return NULL;
}

const struct tm_collection *tm_catalog_coll_by_id(const struct tm_catalog *c, int64_t id)
{
    for (size_t i = 0; i < c->ncolls; i++)
        if (c->colls[i].id == id)
            return &c->colls[i];
    return NULL;
}

const struct tm_partition *tm_collection_part(const struct tm_collection *coll, const char *name)
{
    for (size_t i = 0; i < coll->nparts; i++)
        if (strcmp(coll->parts[i].name, name) == 0)
            return &coll->parts[i];
    return NULL;
}

const struct tm_index *tm_collection_index(const struct tm_collection *coll, const char *name)
{
    for (size_t i = 0; i < coll->nindexes; i++)
        if (strcmp(coll->indexes[i].name, name) == 0)
            return &coll->indexes[i];
    return NULL;
}

/* ---- checks ---- */

static int check_db(const struct tm_catalog *c, const char *db, struct tm_status *st)
{
    if (!tm_catalog_db(c, db))
        return BAD(st, TM_MV_DB_NOT_FOUND, "database not found[database=%s]", db);
    return 0;
}

static int check_coll(const struct tm_catalog *c, const struct tm_ddl *d,
                      const struct tm_collection **out, struct tm_status *st)
{
    int rc = check_db(c, d->db, st);
    if (rc)
        return rc;
    *out = tm_catalog_coll(c, d->db, d->name);
    if (!*out)
        return BAD(st, TM_MV_COLL_NOT_FOUND, "collection not found[database=%s][collection=%s]",
                   d->db, d->name);
    return 0;
}

static bool db_empty(const struct tm_catalog *c, int64_t db_id)
{
    for (size_t i = 0; i < c->ncolls; i++)
        if (c->colls[i].db_id == db_id)
            return false;
    return true;
}

static int check_db_op(const struct tm_catalog *c, const struct tm_ddl *d, struct tm_status *st)
{
    const struct tm_database *db = tm_catalog_db(c, d->db);
    switch (d->op) {
    case TM_DDL_DB_CREATE:
        if (!tm_name_valid(d->db))
            return BAD(st, TM_MV_INVALID_PARAM, "Invalid database name: %s", d->db);
        if (db)
            return BAD(st, TM_MV_UNEXPECTED, "database already exist: %s", d->db);
        if (c->ndbs >= 64)
            return BAD(st, TM_MV_UNEXPECTED, "database number (64) exceeds max configuration");
        return 0;
    case TM_DDL_DB_DROP:
        if (strcmp(d->db, TM_DEFAULT_DB) == 0)
            return BAD(st, TM_MV_UNEXPECTED, "can not drop default database");
        if (!db)
            return 1;
        if (!db_empty(c, db->id))
            return BAD(st, TM_MV_UNEXPECTED,
                       "can not drop database %s: database is not empty, drop its "
                       "collections first",
                       d->db);
        return 0;
    default:
        return db ? 0 : check_db(c, d->db, st);
    }
}

static bool vector_fields_indexed(const struct tm_collection *coll, const char **missing)
{
    for (size_t i = 0; i < coll->schema.nfields; i++) {
        const struct tm_field *f = &coll->schema.fields[i];
        if (!tm_dtype_is_vector(f->type))
            continue;
        bool found = false;
        for (size_t j = 0; j < coll->nindexes && !found; j++)
            found = strcmp(coll->indexes[j].field, f->name) == 0;
        if (!found) {
            *missing = f->name;
            return false;
        }
    }
    return true;
}

static int check_coll_create(const struct tm_catalog *c, const struct tm_ddl *d,
                             struct tm_status *st)
{
    int rc = check_db(c, d->db, st);
    if (rc)
        return rc;
    if (!d->has_coll)
        return BAD(st, TM_MV_INVALID_PARAM, "missing collection");
    if (!tm_name_valid(d->coll.name))
        return BAD(st, TM_MV_INVALID_PARAM,
                   "Invalid collection name: %s. the first character of a collection name must "
                   "be an underscore or letter: invalid parameter",
                   d->coll.name);
    const struct tm_collection *old = tm_catalog_coll(c, d->db, d->coll.name);
    if (old && tm_schema_equal(&old->schema, &d->coll.schema))
        return 1;
    if (old)
        return BAD(st, TM_MV_UNEXPECTED,
                   "create duplicate collection with different parameters, collection: %s",
                   d->coll.name);
    if (c->ncolls >= 65536)
        return BAD(st, TM_MV_UNEXPECTED, "exceeded the limit number of collections");
    return 0;
}

static int check_rename(const struct tm_catalog *c, const struct tm_ddl *d, struct tm_status *st)
{
    const struct tm_collection *coll;
    int rc = check_coll(c, d, &coll, st);
    if (rc)
        return rc;
    const char *new_db = d->new_db[0] ? d->new_db : d->db;
    if ((rc = check_db(c, new_db, st)))
        return rc;
    if (!tm_name_valid(d->new_name))
        return BAD(st, TM_MV_INVALID_PARAM, "Invalid collection name: %s", d->new_name);
    if (tm_catalog_coll(c, new_db, d->new_name))
        return BAD(st, TM_MV_UNEXPECTED,
                   "duplicated new collection name %s:%s with other collection name or alias",
                   new_db, d->new_name);
    return 0;
}

static int check_part_op(const struct tm_collection *coll, const struct tm_ddl *d,
                         struct tm_status *st)
{
    const struct tm_partition *p = tm_collection_part(coll, d->part);
    switch (d->op) {
    case TM_DDL_PART_CREATE:
        for (size_t i = 0; i < coll->schema.nfields; i++)
            if (coll->schema.fields[i].partition_key)
                return BAD(st, TM_MV_INVALID_PARAM,
                           "disable create partition if partition key mode is used");
        if (!tm_name_valid(d->part))
            return BAD(st, TM_MV_INVALID_PARAM, "Invalid partition name: %s", d->part);
        if (p)
            return 1;
        if (coll->nparts >= MAX_PARTITIONS)
            return BAD(st, TM_MV_UNEXPECTED, "partition number (%d) exceeds max configuration",
                       MAX_PARTITIONS);
        return 0;
    case TM_DDL_PART_DROP:
        if (strcmp(d->part, TM_DEFAULT_PARTITION) == 0)
            return BAD(st, TM_MV_INVALID_PARAM, "default partition cannot be deleted");
        if (!p)
            return 1;
        if (p->loaded)
            return BAD(st, TM_MV_UNEXPECTED,
                       "partition cannot be dropped, partition is loaded, please release it "
                       "first");
        return 0;
    default:
        for (size_t i = 0; i < d->nnames; i++)
            if (!tm_collection_part(coll, d->names[i]))
                return BAD(st, TM_MV_PART_NOT_FOUND, "partition not found[partition=%s]",
                           d->names[i]);
        if (d->flag) {
            const char *missing = NULL;
            if (!vector_fields_indexed(coll, &missing))
                return BAD(st, TM_MV_INDEX_NOT_FOUND,
                           "there is no vector index on field: [%s], please create index "
                           "firstly: collection=%s: index not found",
                           missing, coll->name);
        }
        return 0;
    }
}

static int check_index_op(const struct tm_collection *coll, const struct tm_ddl *d,
                          struct tm_status *st)
{
    if (d->op == TM_DDL_IDX_DROP) {
        if (!tm_collection_index(coll, d->idx))
            return BAD(st, TM_MV_INDEX_NOT_FOUND, "index not found[indexName=%s]", d->idx);
        if (coll->loaded)
            return BAD(st, TM_MV_UNEXPECTED,
                       "index cannot be dropped, collection is loaded, please release it first");
        return 0;
    }
    if (!d->has_index || !tm_schema_field(&coll->schema, d->index.field))
        return BAD(st, TM_MV_INVALID_PARAM, "cannot create index on non-exist field: %s",
                   d->has_index ? d->index.field : "");
    for (size_t i = 0; i < coll->nindexes; i++) {
        const struct tm_index *ix = &coll->indexes[i];
        bool same_field = strcmp(ix->field, d->index.field) == 0;
        bool same_name = strcmp(ix->name, d->index.name) == 0;
        if (same_field && same_name && strcmp(ix->type, d->index.type) == 0 &&
            strcmp(ix->metric, d->index.metric) == 0)
            return 1;
        if (same_field)
            return BAD(st, TM_MV_UNEXPECTED,
                       "CreateIndex failed: at most one distinct index is allowed per field");
        if (same_name)
            return BAD(st, TM_MV_INDEX_DUP, "index duplicates[indexName=%s]", d->index.name);
    }
    return 0;
}

static int check_coll_op(const struct tm_catalog *c, const struct tm_ddl *d, struct tm_status *st)
{
    const struct tm_collection *coll;
    int rc = check_coll(c, d, &coll, st);
    if (rc)
        return d->op == TM_DDL_COLL_DROP && st->code == TM_MV_COLL_NOT_FOUND ? (tm_status_ok(st), 1)
                                                                             : rc;
    switch (d->op) {
    case TM_DDL_COLL_LOAD: {
        const char *missing = NULL;
        if (d->flag && !vector_fields_indexed(coll, &missing))
            return BAD(st, TM_MV_INDEX_NOT_FOUND,
                       "there is no vector index on field: [%s], please create index firstly: "
                       "collection=%s: index not found",
                       missing, coll->name);
        return 0;
    }
    case TM_DDL_PART_CREATE:
    case TM_DDL_PART_DROP:
    case TM_DDL_PART_LOAD:
        return check_part_op(coll, d, st);
    case TM_DDL_IDX_CREATE:
    case TM_DDL_IDX_DROP:
        return check_index_op(coll, d, st);
    default:
        return 0;
    }
}

/* The placement is decided once: a second decision changes nothing. */
static int check_placement(const struct tm_catalog *c, const struct tm_ddl *d, struct tm_status *st)
{
    if (!d->has_placement || d->placement.shards == 0)
        return BAD(st, TM_MV_INVALID_PARAM, "placement command without a placement");
    return c->placement.shards ? 1 : 0;
}

int tm_catalog_check(const struct tm_catalog *c, const struct tm_ddl *d, struct tm_status *st)
{
    tm_status_ok(st);
    switch (d->op) {
    case TM_DDL_DB_CREATE:
    case TM_DDL_DB_DROP:
    case TM_DDL_DB_ALTER:
    case TM_DDL_DB_DROP_PROPS:
        return check_db_op(c, d, st);
    case TM_DDL_COLL_CREATE:
        return check_coll_create(c, d, st);
    case TM_DDL_COLL_RENAME:
        return check_rename(c, d, st);
    case TM_DDL_TSO_HW:
        return 0;
    case TM_DDL_PLACEMENT:
        return check_placement(c, d, st);
    case TM_DDL_NONE:
        return BAD(st, TM_MV_INVALID_PARAM, "unknown DDL command");
    default:
        return check_coll_op(c, d, st);
    }
}
