/* DDL commands: what the proxy asks of the catalog, and what the
 * coordinator's Raft log records. msgpack form:
 *   {"v": 1|2, "op": str, "db": str, "name": str, "new_db": str, "new_name": str,
 *    "part": str, "idx": str, "flag": bool, "hw": uint, "props": kvs,
 *    "names": [str], "coll": collection|nil, "index": index|nil,
 *    "placement": placement|nil}
 * Unused arguments are written empty; decoders skip unknown keys.
 *
 * Versions: 2 added the op "placement" and its argument (placement.h). A
 * command is written with the lowest version that holds it (2 only for
 * "placement"), so a log without placements stays readable by a version-1
 * reader, and a version-1 reader stops at a placement with TM_EVERSION
 * instead of misreading it.
 */
#ifndef TM_DDL_H
#define TM_DDL_H

#define TM_DDL_VERSION 2 /* the newest version this code reads and writes */

#include "catalog.h"

enum tm_ddl_op {
    TM_DDL_NONE,
    TM_DDL_DB_CREATE,
    TM_DDL_DB_DROP,
    TM_DDL_DB_ALTER,
    TM_DDL_DB_DROP_PROPS,
    TM_DDL_COLL_CREATE,
    TM_DDL_COLL_DROP,
    TM_DDL_COLL_RENAME,
    TM_DDL_COLL_LOAD,
    TM_DDL_COLL_ALTER,
    TM_DDL_COLL_DROP_PROPS,
    TM_DDL_PART_CREATE,
    TM_DDL_PART_DROP,
    TM_DDL_PART_LOAD,
    TM_DDL_IDX_CREATE,
    TM_DDL_IDX_DROP,
    TM_DDL_TSO_HW,
    TM_DDL_PLACEMENT, /* version 2: the shard placement, decided once */
};

struct tm_ddl {
    enum tm_ddl_op op;
    char db[TM_NAME_MAX];
    char name[TM_NAME_MAX];
    char new_db[TM_NAME_MAX];
    char new_name[TM_NAME_MAX];
    char part[TM_NAME_MAX];
    char idx[TM_NAME_MAX];
    bool flag;      /* load (true) or release (false) */
    uint64_t hw_ms; /* TSO high-water mark */
    struct tm_kv *props;
    size_t nprops;
    char **names; /* partitions to load/release, or property keys to drop */
    size_t nnames;
    bool has_coll;
    struct tm_collection coll; /* COLL_CREATE: the new collection (ids unset) */
    bool has_index;
    struct tm_index index; /* IDX_CREATE */
    bool has_placement;
    struct tm_placement placement; /* PLACEMENT */
};

void tm_ddl_init(struct tm_ddl *d, enum tm_ddl_op op);
void tm_ddl_free(struct tm_ddl *d);
/* Adds a name to d->names; 0 or TM_ENOMEM. */
int tm_ddl_add_name(struct tm_ddl *d, const char *name);
void tm_ddl_encode(struct tm_mpw *w, const struct tm_ddl *d);
int tm_ddl_decode(const void *buf, size_t len, struct tm_ddl *d);

void tm_index_encode(struct tm_mpw *w, const struct tm_index *ix);
int tm_index_decode(struct tm_mpr *r, struct tm_index *ix);
void tm_index_free(struct tm_index *ix);

#endif
