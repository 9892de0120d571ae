/* The data role: the WAL shards. Each shard is one Raft group; writes from
 * many requests are batched into one append (one fsync: group commit) and
 * acknowledged after they are committed and applied. Applied entries are
 * kept, in log order, for query replicas to tail.
 *
 * Calls (type: request body -> reply body):
 *   "write"   {"shard", "kind", "coll", "part", "cid", "seq", "rows", "pks"}
 *                                   -> {"ts": uint}   the entry's timestamp
 *   "tail"    {"shard", "from", "wait_ms"}
 *                                   -> {"entries": [bin], "next": uint, "safe": uint}
 *             entries from position `from`, waiting up to wait_ms (≤ 1000) for
 *             the first; `safe` is a timestamp below which the shard will
 *             never write again (the tsafe of a replica that applied them all).
 *   "applied" {"shard", "cid", "seq"} -> {"applied": 0|1}: a named write
 *             (Tidemark-Request-Id) was applied already (wal/dedupe.h)
 *   "last_ts" {"shard"}             -> {"ts": uint}   timestamp of the last
 *             applied entry: every acknowledged write is at or below it.
 *
 * Entries are stamped with timestamps from the coordinator's TSO at append
 * time, on the shard's loop thread, so timestamps rise along each log.
 */
#ifndef TM_DATA_ROLE_H
#define TM_DATA_ROLE_H

struct tm_data_role;

struct tm_data_role_config {
    const char *dir;       /* shard state lives in dir/shard-<n> */
    const char *url;       /* where to serve */
    const char *coord_url; /* the coordinator, for timestamps */
    int shards;            /* number of WAL shards (≥ 1) */
};

int tm_data_role_start(struct tm_data_role **out, const struct tm_data_role_config *cfg);
void tm_data_role_stop(struct tm_data_role *d);

#endif
