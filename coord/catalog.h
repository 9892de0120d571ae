/* The catalog: databases, collections (schema, partitions, indexes,
 * properties, load state), the TSO high-water mark and the cluster's shard
 * placement (placement.h).
 *
 * State machine: the catalog changes only by applying DDL commands taken
 * from the coordinator's Raft log (tm_catalog_apply), in log order, so a
 * restart replays it exactly. Commands are checked against the current state
 * before they are proposed (tm_catalog_check); the coordinator proposes one
 * DDL command at a time, so a checked command still applies cleanly. Apply
 * re-checks anyway and turns a command that no longer fits into a no-op:
 * replay must never fail on a stale command.
 *
 * Ids (databases, collections, partitions, indexes) come from one counter in
 * the catalog, advanced at apply time, so every replica assigns the same ids.
 *
 * Command form (msgpack map, version 1): {"v": 1, "op": <op>, ...arguments}
 * where op is one of the strings in catalog.c's op table.
 */
#ifndef TM_CATALOG_H
#define TM_CATALOG_H

#include <stdbool.h>
#include <stdint.h>

#include "placement.h"
#include "schema.h"

#define TM_DEFAULT_DB "default"
#define TM_DEFAULT_PARTITION "_default"

enum tm_consistency {
    TM_CL_STRONG = 0,
    TM_CL_SESSION = 1,
    TM_CL_BOUNDED = 2,
    TM_CL_EVENTUALLY = 3,
    TM_CL_CUSTOMIZED = 4,
};
const char *tm_consistency_name(enum tm_consistency c);
/* Case-sensitive parse; -1 if unknown. */
int tm_consistency_parse(const char *s);

struct tm_partition {
    int64_t id;
    char name[TM_NAME_MAX];
    bool loaded;
};

struct tm_index {
    int64_t id;
    char name[TM_NAME_MAX];
    char field[TM_NAME_MAX];
    char type[32];   /* AUTOINDEX, FLAT, IVF_FLAT, IVF_PQ, ... */
    char metric[16]; /* L2, IP, COSINE, ... */
    struct tm_kv *params;
    size_t nparams;
};

struct tm_collection {
    int64_t id;
    int64_t db_id;
    char name[TM_NAME_MAX];
    struct tm_schema schema;
    enum tm_consistency consistency;
    int32_t shards;
    bool loaded;
    uint64_t created_ts;
    struct tm_partition *parts;
    size_t nparts;
    struct tm_index *indexes;
    size_t nindexes;
    struct tm_kv *props;
    size_t nprops;
};

struct tm_database {
    int64_t id;
    char name[TM_NAME_MAX];
    struct tm_kv *props;
    size_t nprops;
};

struct tm_catalog {
    struct tm_database *dbs;
    size_t ndbs;
    struct tm_collection *colls;
    size_t ncolls;
    int64_t next_id;
    uint64_t tso_hw_ms;            /* no timestamp at or above (hw_ms << 18) was ever handed out */
    struct tm_placement placement; /* shards == 0 until decided; then never changes */
};

/* A fresh catalog holding the `default` database. 0 or TM_ENOMEM. */
int tm_catalog_init(struct tm_catalog *c);
void tm_catalog_free(struct tm_catalog *c);

const struct tm_database *tm_catalog_db(const struct tm_catalog *c, const char *name);
const struct tm_collection *tm_catalog_coll(const struct tm_catalog *c, const char *db,
                                            const char *name);
const struct tm_collection *tm_catalog_coll_by_id(const struct tm_catalog *c, int64_t id);
const struct tm_partition *tm_collection_part(const struct tm_collection *coll, const char *name);
const struct tm_index *tm_collection_index(const struct tm_collection *coll, const char *name);

struct tm_ddl;
/* Checks a command against the current state; fills st (Milvus code) and
 * returns TM_ESTATUS if it must not be proposed. Returns 1 (and leaves st
 * clear) when the command would change nothing, e.g. dropping a collection
 * that does not exist: the caller answers success without proposing. */
int tm_catalog_check(const struct tm_catalog *c, const struct tm_ddl *d, struct tm_status *st);
/* Applies a committed command at timestamp-free log position. Returns 0
 * (also for a command that no longer fits, which changes nothing) or
 * TM_ENOMEM. The command's owned parts may be moved into the catalog. */
int tm_catalog_apply(struct tm_catalog *c, struct tm_ddl *d);

/* Whole-catalog msgpack form, for snapshots:
 *   {"v": 1|2, "next_id", "hw", "dbs", "colls", "placement": placement|nil}
 * Version 2 added "placement"; version-1 snapshots (no placement) still
 * read, as an undecided placement. */
void tm_catalog_encode(struct tm_mpw *w, const struct tm_catalog *c);
int tm_catalog_decode(struct tm_mpr *r, struct tm_catalog *c);

/* One collection / database, for replies to the proxy and query role. */
void tm_collection_encode(struct tm_mpw *w, const struct tm_collection *coll);
int tm_collection_decode(struct tm_mpr *r, struct tm_collection *coll);
void tm_collection_free(struct tm_collection *coll);
void tm_database_encode(struct tm_mpw *w, const struct tm_database *db);
int tm_database_decode(struct tm_mpr *r, struct tm_database *db);

#endif
