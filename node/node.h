/* `tidemark node`: some of the roles of a cluster in one process, reached
 * by the others over tcp:// (docs/cluster.md). */
#ifndef TM_NODE_H
#define TM_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tm_node_config {
    uint64_t id;
    char roles[64];        /* comma separated: coord, data, query, proxy */
    char dir[1024];        /* this node's state */
    char coord[1024];      /* every coordinator's RPC address (host:port), comma separated */
    char coord_raft[1024]; /* their Raft addresses, same order (coordinators) */
    char rpc[64];          /* RPC base: coord on its port, data +1, query +2, stream +3 */
    char raft[64];         /* Raft base of the data role: shard s on port + s */
    char http[64];         /* the proxy's REST listener */
    int shards, replicas;  /* coordinators, at the placement decision */
    unsigned election_ms;
    int seal_mb, seal_rows;
    uint64_t serve_shards; /* the query role's shards (bit s); 0: all */
};

int tm_node_parse(struct tm_node_config *c, int argc, char **argv, const char *usage);
bool tm_node_has_role(const struct tm_node_config *c, const char *role);
/* "tcp://h:p+delta,..." from a list of "h:p" (or "tcp://h:p"); 0 or
 * TM_EINVAL (an entry without a port, or dst too small). */
int tm_node_urls(const char *addrs, int delta, char *dst, size_t cap);
/* Runs until SIGINT or SIGTERM; the exit code. */
int tm_node_main(const struct tm_node_config *c);

#endif
