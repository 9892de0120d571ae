/* The coordinator role: the catalog, the TSO and the cluster's shard
 * placement behind one Raft group (one member standalone, several in a
 * cluster), served over tm_rpc.
 *
 * Calls (type: request body -> reply body; errors as Milvus statuses):
 *   "tso"       {"n": uint}                 -> {"ts": uint}  first of n timestamps
 *   "ddl"       <DDL command, ddl.h>        -> nil           checked, committed, applied
 *   "cat.dbs"   nil                         -> [db names]
 *   "cat.db"    {"db": str}                 -> database      (800 if absent)
 *   "cat.colls" {"db": str}                 -> [collection names]
 *   "cat.coll"  {"db": str, "name": str}    -> collection    (100 if absent)
 *              or {"id": int}
 *   "register"  {"id": uint, "roles": "data,query", "rpc": "tcp://h:p",
 *                "raft": "h:p", "http": "h:p"}
 *                                           -> nil           a node's heartbeat (every 500 ms)
 *   "nodes"     nil                         -> [{"id", "roles", "rpc", "raft", "http",
 *                                                "up": bool, "age_ms"}]
 *                                              down after 3 s of silence (registry.h)
 *   "placement" nil                         -> {"shards": N, "groups": [[{"id", "raft",
 *                                                "rpc"}...] per shard]} (placement.h);
 *                                              5 "placement not decided: k of R data
 *                                              nodes registered" until R are up
 *
 * Every call, catalog reads included, is answered by the leader only: a
 * member that is not the leader, or not ready yet (it has not applied the
 * earlier terms' entries), answers 10010 (TM_MV_NOT_LEADER) with
 * "[leader=N]" in the message (0: unknown), because a follower's catalog may
 * be stale and only the leader's oracle and registry are live.
 */
#ifndef TM_COORD_ROLE_H
#define TM_COORD_ROLE_H

#include <stdint.h>

#include "raftgroup.h"

struct tm_coord_role;

struct tm_coord_role_config {
    const char *dir;  /* state directory; borrowed for the call */
    const char *url;  /* RPC listen url (inproc:// or tcp://); borrowed for the call */
    uint64_t self_id; /* this member's id, one of members[].id; 0 = 1 when standalone */
    /* Every coordinator (this one included), the same list on each; borrowed
     * for the call. nmembers 0: a standalone group of one. */
    const struct tm_raft_member *members;
    unsigned nmembers;
    uint32_t shards;      /* WAL shards at the placement decision; 0 = 2 */
    uint32_t replicas;    /* replicas per shard; 0 = 3 */
    unsigned election_ms; /* Raft election timeout; 0 = raftgroup's default */
};

/* Opens (or creates) the coordinator's state under cfg->dir and serves on
 * cfg->url. Standalone, it returns leading with the catalog replayed; a
 * member of several returns once started, and answers 10010 until it leads.
 * 0 or a negative error (TM_EINVAL: self_id not among members). */
int tm_coord_role_start(struct tm_coord_role **out, const struct tm_coord_role_config *cfg);
void tm_coord_role_stop(struct tm_coord_role *c);

#endif
