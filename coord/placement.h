/* Shard placement: which data nodes replicate which WAL shard.
 *
 * The coordinator leader decides it once, when `replicas` data nodes are up,
 * with tm_placement_decide, and commits the decision through its Raft log
 * (DDL op "placement", ddl.h) into the catalog, so every coordinator and
 * every restart answers the same placement. Later decisions are no-ops: the
 * first committed one stands.
 *
 * Rule: the data nodes sorted by id, n of them; shard s is replicated by the
 * `replicas` nodes starting at index s mod n (wrapping). A member's Raft
 * address is its registered Raft base address with port + s: each shard's
 * group listens on its own port of the node.
 *
 * msgpack form (the same in the placement reply, the DDL command and the
 * catalog snapshot):
 *   {"shards": N, "groups": [[{"id": uint, "raft": "h:p", "rpc": "tcp://h:p"}, ...] per shard]}
 * Every group has the same number of members (the replica count).
 */
#ifndef TM_PLACEMENT_H
#define TM_PLACEMENT_H

#include <stddef.h>
#include <stdint.h>

#include "tm_mp.h"

#define TM_PLACEMENT_MAX_SHARDS 256
#define TM_PLACEMENT_MAX_REPLICAS 256
#define TM_ADDR_MAX 64     /* host:port (the Raft and HTTP addresses) */
#define TM_RPC_URL_MAX 128 /* tcp://host:port */

struct tm_placement_member {
    uint64_t id;
    char raft[TM_ADDR_MAX];
    char rpc[TM_RPC_URL_MAX];
};

struct tm_placement {
    uint32_t shards; /* 0: not decided */
    uint32_t replicas;
    struct tm_placement_member *members; /* shards * replicas, shard by shard; owned */
};

/* A data node the decision may use: its Raft base address and RPC url. */
struct tm_placement_node {
    uint64_t id;
    char raft[TM_ADDR_MAX];
    char rpc[TM_RPC_URL_MAX];
};

/* Members of shard s: replicas entries. */
static inline const struct tm_placement_member *tm_placement_group(const struct tm_placement *p,
                                                                   uint32_t s)
{
    return &p->members[(size_t)s * p->replicas];
}

/* Decides placement over nodes (borrowed, any order, distinct ids). Returns
 * 0 with *out filled (free it), 1 when fewer than `replicas` nodes are given
 * (wait for more; *out untouched), TM_EINVAL when shards or replicas is out
 * of range or a node's Raft address is not host:port with room for port +
 * shards - 1, TM_ENOMEM. A pure function: same nodes, same answer. */
int tm_placement_decide(const struct tm_placement_node *nodes, size_t n, uint32_t shards,
                        uint32_t replicas, struct tm_placement *out);

/* Writes base (host:port) with its port advanced by s into dst. 0, or
 * TM_EINVAL when base has no numeric port or the port would pass 65535. */
int tm_addr_port_add(const char *base, uint32_t s, char *dst, size_t cap);

void tm_placement_free(struct tm_placement *p);
void tm_placement_encode(struct tm_mpw *w, const struct tm_placement *p);
/* Reads the form above into *p (zeroed first; free it). 0, TM_ECORRUPT
 * (shape or limits), TM_ETRUNC, TM_ENOMEM. */
int tm_placement_decode(struct tm_mpr *r, struct tm_placement *p);

#endif
