/* Applying committed DDL commands to the catalog (the state machine's
 * transitions; the rules are in catalog.h). Every transition first re-runs
 * the check: a command that no longer fits changes nothing, so replay of any
 * log prefix is safe. */
#include "catalog.h"
#include "ddl.h"

#include <stdlib.h>
#include <string.h>

#define REMOVE_AT(arr, n, i)                                                                       \
    do {                                                                                           \
        memmove(&(arr)[i], &(arr)[(i) + 1], ((n) - (i)-1) * sizeof *(arr));                        \
        (n)--;                                                                                     \
    } while (0)

static struct tm_collection *coll_mut(struct tm_catalog *c, const char *db, const char *name)
{
    return (struct tm_collection *)tm_catalog_coll(c, db, name);
}

static int props_merge(struct tm_kv **kv, size_t *n, const struct tm_ddl *d)
{
    for (size_t i = 0; i < d->nprops; i++)
        if (tm_kvs_set(kv, n, d->props[i].key, d->props[i].value))
            return TM_ENOMEM;
    return 0;
}

static void props_drop(struct tm_kv *kv, size_t *n, const struct tm_ddl *d)
{
    for (size_t k = 0; k < d->nnames; k++) {
        for (size_t i = 0; i < *n; i++) {
            if (strcmp(kv[i].key, d->names[k]) != 0)
                continue;
            free(kv[i].key);
            free(kv[i].value);
            REMOVE_AT(kv, *n, i);
            break;
        }
    }
}

static int apply_db(struct tm_catalog *c, struct tm_ddl *d)
{
    struct tm_database *db = (struct tm_database *)tm_catalog_db(c, d->db);
    if (d->op == TM_DDL_DB_CREATE) {
        struct tm_database *grown = realloc(c->dbs, (c->ndbs + 1) * sizeof *grown);
        if (!grown)
            return TM_ENOMEM;
        c->dbs = grown;
        db = &c->dbs[c->ndbs++];
        memset(db, 0, sizeof *db);
        db->id = c->next_id++;
        strcpy(db->name, d->db);
        return props_merge(&db->props, &db->nprops, d);
    }
    if (d->op == TM_DDL_DB_DROP) {
        tm_kvs_free(db->props, db->nprops);
        REMOVE_AT(c->dbs, c->ndbs, (size_t)(db - c->dbs));
        return 0;
    }
    if (d->op == TM_DDL_DB_ALTER)
        return props_merge(&db->props, &db->nprops, d);
    props_drop(db->props, &db->nprops, d);
    return 0;
}

static int apply_coll_create(struct tm_catalog *c, struct tm_ddl *d)
{
    struct tm_collection *grown = realloc(c->colls, (c->ncolls + 1) * sizeof *grown);
    if (!grown)
        return TM_ENOMEM;
    c->colls = grown;
    struct tm_collection *coll = &c->colls[c->ncolls++];
    *coll = d->coll; /* moved: the command no longer owns it */
    d->has_coll = false;
    memset(&d->coll, 0, sizeof d->coll);
    coll->id = c->next_id++;
    coll->db_id = tm_catalog_db(c, d->db)->id;
    if (coll->nparts == 0) {
        free(coll->parts); /* the decoder's empty array */
        coll->parts = calloc(1, sizeof *coll->parts);
        if (!coll->parts)
            return TM_ENOMEM;
        strcpy(coll->parts[0].name, TM_DEFAULT_PARTITION);
        coll->nparts = 1;
    }
    for (size_t i = 0; i < coll->nparts; i++) {
        coll->parts[i].id = c->next_id++;
        coll->parts[i].loaded = coll->loaded;
    }
    for (size_t i = 0; i < coll->nindexes; i++)
        coll->indexes[i].id = c->next_id++;
    return 0;
}

static int apply_part(struct tm_catalog *c, struct tm_collection *coll, struct tm_ddl *d)
{
    if (d->op == TM_DDL_PART_CREATE) {
        struct tm_partition *grown = realloc(coll->parts, (coll->nparts + 1) * sizeof *grown);
        if (!grown)
            return TM_ENOMEM;
        coll->parts = grown;
        struct tm_partition *p = &coll->parts[coll->nparts++];
        memset(p, 0, sizeof *p);
        p->id = c->next_id++;
        strcpy(p->name, d->part);
        p->loaded = coll->loaded;
        return 0;
    }
    if (d->op == TM_DDL_PART_DROP) {
        size_t i = (size_t)(tm_collection_part(coll, d->part) - coll->parts);
        REMOVE_AT(coll->parts, coll->nparts, i);
        return 0;
    }
    bool any = false;
    for (size_t i = 0; i < coll->nparts; i++) {
        for (size_t k = 0; k < d->nnames; k++)
            if (strcmp(coll->parts[i].name, d->names[k]) == 0)
                coll->parts[i].loaded = d->flag;
        any |= coll->parts[i].loaded;
    }
    coll->loaded = any;
    return 0;
}

static int apply_index(struct tm_catalog *c, struct tm_collection *coll, struct tm_ddl *d)
{
    if (d->op == TM_DDL_IDX_DROP) {
        size_t i = (size_t)(tm_collection_index(coll, d->idx) - coll->indexes);
        tm_index_free(&coll->indexes[i]);
        REMOVE_AT(coll->indexes, coll->nindexes, i);
        return 0;
    }
    struct tm_index *grown = realloc(coll->indexes, (coll->nindexes + 1) * sizeof *grown);
    if (!grown)
        return TM_ENOMEM;
    coll->indexes = grown;
    coll->indexes[coll->nindexes] = d->index; /* moved */
    coll->indexes[coll->nindexes++].id = c->next_id++;
    d->has_index = false;
    memset(&d->index, 0, sizeof d->index);
    return 0;
}

static int apply_coll(struct tm_catalog *c, struct tm_ddl *d)
{
    struct tm_collection *coll = coll_mut(c, d->db, d->name);
    switch (d->op) {
    case TM_DDL_COLL_DROP:
        tm_collection_free(coll);
        REMOVE_AT(c->colls, c->ncolls, (size_t)(coll - c->colls));
        return 0;
    case TM_DDL_COLL_RENAME:
        coll->db_id = tm_catalog_db(c, d->new_db[0] ? d->new_db : d->db)->id;
        strcpy(coll->name, d->new_name);
        return 0;
    case TM_DDL_COLL_LOAD:
        coll->loaded = d->flag;
        for (size_t i = 0; i < coll->nparts; i++)
            coll->parts[i].loaded = d->flag;
        return 0;
    case TM_DDL_COLL_ALTER:
        return props_merge(&coll->props, &coll->nprops, d);
    case TM_DDL_COLL_DROP_PROPS:
        props_drop(coll->props, &coll->nprops, d);
        return 0;
    case TM_DDL_IDX_CREATE:
    case TM_DDL_IDX_DROP:
        return apply_index(c, coll, d);
    default:
        return apply_part(c, coll, d);
    }
}

int tm_catalog_apply(struct tm_catalog *c, struct tm_ddl *d)
{
    struct tm_status st;
    if (d->op == TM_DDL_TSO_HW) {
        if (d->hw_ms > c->tso_hw_ms)
            c->tso_hw_ms = d->hw_ms;
        return 0;
    }
    if (tm_catalog_check(c, d, &st) != 0)
        return 0;
    if (d->op == TM_DDL_PLACEMENT) {
        c->placement = d->placement; /* moved */
        d->has_placement = false;
        memset(&d->placement, 0, sizeof d->placement);
        return 0;
    }
    switch (d->op) {
    case TM_DDL_DB_CREATE:
    case TM_DDL_DB_DROP:
    case TM_DDL_DB_ALTER:
    case TM_DDL_DB_DROP_PROPS:
        return apply_db(c, d);
    case TM_DDL_COLL_CREATE:
        return apply_coll_create(c, d);
    default:
        return apply_coll(c, d);
    }
}
