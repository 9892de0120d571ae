/* The coordinator role: the catalog and the TSO behind one Raft group, served
 * over tm_rpc.
 *
 * Calls (type: request body -> reply body; errors as Milvus statuses):
 *   "tso"       {"n": uint}                 -> {"ts": uint}  first of n timestamps
 *   "ddl"       <DDL command, ddl.h>        -> nil           checked, committed, applied
 *   "cat.dbs"   nil                         -> [db names]
 *   "cat.db"    {"db": str}                 -> database      (800 if absent)
 *   "cat.colls" {"db": str}                 -> [collection names]
 *   "cat.coll"  {"db": str, "name": str}    -> collection    (100 if absent)
 *              or {"id": int}
 */
#ifndef TM_COORD_ROLE_H
#define TM_COORD_ROLE_H

struct tm_coord_role;

/* Opens (or creates) the coordinator's state under dir, replays it, and
 * serves on url. 0 or a negative error. */
int tm_coord_role_start(struct tm_coord_role **out, const char *dir, const char *url);
void tm_coord_role_stop(struct tm_coord_role *c);

#endif
