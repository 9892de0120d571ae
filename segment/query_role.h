/* The query role: tails every WAL shard of the data role, applies entries
 * into per-collection stores (store.h), and answers reads at a consistency
 * level.
 *
 * Calls (type: request body -> reply body):
 *   "read"  {"coll": id, "pks": batch|nil, "parts": [id]|nil, "fields": [id],
 *            "offset": uint, "limit": uint, "level": consistency, "gts": uint,
 *            "timeout_ms": uint, "shards": uint}
 *                           -> {"rows": batch}  visible rows (pk column first)
 *   Every read ("read", "count", "search") may name the shards it reads,
 *   bit s for shard s ("shards", absent or 0: all this node serves): rows
 *   of other shards are left out, and only the named shards are waited
 *   for. A shard the node does not serve is refused.
 *   "count" {"coll", "parts", "level", "gts", "timeout_ms"} -> {"n": uint}
 *   "drop"  {"coll": id}    -> nil   forget a dropped collection
 *   "search" (query_search.c), "index_sync" and "index_progress"
 *   (query_index.h), "index_file" (query_peer.h)
 *
 * Segments: each shard's rows go to growing segments of their own (per
 * partition); the shard's seal entry seals them, as the data role does, and
 * sealed segments of indexed vector fields get their index built in the
 * background (query_index.h).
 *
 * Consistency (DESIGN.md §3): before reading, the replica waits until its
 * serviceable time (tsafe) on every shard reaches the guarantee timestamp:
 * Strong = the last timestamp each shard acknowledged when the read
 * arrived (so every acknowledged write is seen); Bounded = now - 5 s;
 * Session = "gts", the client's last write timestamp; Eventually = none.
 */
#ifndef TM_QUERY_ROLE_H
#define TM_QUERY_ROLE_H

struct tm_query_role;

/* Another query node, as the coordinators list it (query_peer.h). */
struct tm_qpeer {
    char url[128];   /* its query role's address */
    uint64_t serves; /* its shards (bit s); 0: all */
};

struct tm_query_role_config {
    const char *url;
    const char *data_url;
    /* A cluster: shard s's replicas' addresses, comma separated (tm_rpc
     * follows the leader); NULL: every shard at data_url. */
    const char *const *shard_data_urls;
    const char *coord_url;
    /* The data nodes' log streams (comma-separated; data_role.h, "The log
     * stream"): the tails take pushed entries from there and call "tail"
     * only to fill gaps. NULL: they only call "tail". */
    const char *stream_urls;
    int shards;
    /* Where index files live (query_index.h), created when first needed;
     * NULL: indexes are built in memory only, and again after a restart. */
    const char *index_dir;
    /* A cluster: where sealed segments copied from the shard leaders go
     * (query_fetch.c); NULL: read in place (the same file system). */
    const char *fetch_dir;
    /* The shards this node tails and answers (bit s for shard s); 0: all.
     * A cluster may spread shards over query nodes; the proxy sends each
     * read to nodes that together serve every shard and merges. */
    uint64_t serves;
    /* A cluster: every query node, this one included (its url is `url`),
     * so that each sealed segment's index is built by one of them and
     * fetched by the others (query_peer.h). Fills up to max, returns how
     * many. NULL: this node builds every index itself. */
    int (*list_peers)(void *arg, struct tm_qpeer *out, int max);
    void *peers_arg;
};

int tm_query_role_start(struct tm_query_role **out, const struct tm_query_role_config *cfg);
void tm_query_role_stop(struct tm_query_role *q);

#endif
