/* Reads across query nodes: the proxy's scatter and gather.
 *
 * Each query node serves some of the WAL shards (all of them unless
 * started with --serve-shards). A read must cover every shard, so
 * tm_fanout_call picks nodes that together serve them all: the node that
 * serves the most of what is left first, then the next, so one node answers
 * alone whenever one serves every shard. The search starts at a node that
 * turns with each read, spreading reads over equal nodes, and tries nodes
 * it is connected to before those it is not. Each chosen node gets the
 * body with "shards" (bit s for shard s) naming what it answers for, all of
 * them at once.
 *
 * A node that cannot be reached, or is slower than the request's timeout
 * allows, is left out and the read planned again without it; a node's own
 * answer of an error (a bad filter, say) fails the read. The caller merges
 * the replies: a search by score (search_merge.h), rows by concatenation,
 * counts by sum.
 */
#ifndef TM_FANOUT_H
#define TM_FANOUT_H

#include "proxy.h"

struct tm_fanout {
    int n; /* parts, each one node's reply */
    int node[TM_PROXY_MAX_QUERY];
    uint64_t shards[TM_PROXY_MAX_QUERY];
    struct tm_rpc_reply replies[TM_PROXY_MAX_QUERY];
};

/* Writes the request body, a msgpack map without "shards". whole: one
 * node answers for every shard, so it may apply the read's offset and
 * limit itself; otherwise the caller windows the merged result. */
typedef void (*tm_fanout_encode_fn)(struct tm_mpw *w, bool whole, void *arg);

/* Sends `type` as above; 0 with f's replies filled (free with
 * tm_fanout_free), or TM_ESTATUS with r->st filled: a node's error, no node
 * serving some shard (2, "service unavailable"), or the timeout. */
int tm_fanout_call(struct tm_req *r, const char *type, tm_fanout_encode_fn encode, void *arg,
                   struct tm_fanout *f);
void tm_fanout_free(struct tm_fanout *f);

#endif
