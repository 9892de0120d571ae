/* The node registry: which nodes of the cluster the coordinator leader has
 * heard from, and when.
 *
 * Soft state, on the leader only: every non-coordinator node calls
 * `register` every 500 ms (its heartbeat), so a new leader learns the whole
 * cluster again within a beat and nothing here is persisted. A node silent
 * for TM_NODE_DOWN_MS is down. The table is bounded (TM_REGISTRY_MAX nodes)
 * because it is filled from the network; a node beyond the bound is refused.
 *
 * Times are monotonic milliseconds given by the caller, so tests can drive
 * the clock.
 *
 * Thread-safe (one mutex).
 */
#ifndef TM_REGISTRY_H
#define TM_REGISTRY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "placement.h"
#include "tm_err.h"
#include "tm_mp.h"

#define TM_REGISTRY_MAX 256
#define TM_NODE_DOWN_MS 3000
#define TM_ROLES_MAX 64

struct tm_node {
    uint64_t id;
    char roles[TM_ROLES_MAX]; /* comma-separated: "data,query" */
    char rpc[TM_RPC_URL_MAX];
    char raft[TM_ADDR_MAX];
    char http[TM_ADDR_MAX];
    uint64_t serves;  /* a query node's shards (bit s); 0: all */
    uint64_t seen_ms; /* when it last registered (monotonic) */
};

struct tm_registry {
    pthread_mutex_t mu;
    struct tm_node nodes[TM_REGISTRY_MAX];
    size_t n;
};

void tm_registry_init(struct tm_registry *r);
void tm_registry_destroy(struct tm_registry *r);
/* Forgets every node (a member that starts leading starts afresh). */
void tm_registry_clear(struct tm_registry *r);

/* Records a heartbeat of node (borrowed; its seen_ms is ignored) at now_ms:
 * updates the node with the same id or adds it. 0, or TM_ETOOBIG when the
 * node is new and the table is full. */
int tm_registry_put(struct tm_registry *r, const struct tm_node *node, uint64_t now_ms);

/* Writes the `nodes` reply: [{"id","roles","rpc","raft","http","up","age_ms","serves"}]
 * in registration order. */
void tm_registry_encode(struct tm_registry *r, struct tm_mpw *w, uint64_t now_ms);

/* Copies the nodes that are up at now_ms and have the data role into out
 * (cap entries, TM_REGISTRY_MAX is always enough); returns how many. */
size_t tm_registry_data_nodes(struct tm_registry *r, uint64_t now_ms, struct tm_placement_node *out,
                              size_t cap);

/* Whether the comma-separated list roles names role (whole names only:
 * "metadata" does not name "data"). */
bool tm_roles_has(const char *roles, const char *role);

/* Reads a `register` body {"id","roles","rpc","raft","http","serves"} (r is not
 * advanced) into *node; absent strings read as "". 0, or TM_ESTATUS with st
 * filled (1100) when the id is missing or 0, a string is too long, or a
 * node with the data role lacks rpc or a host:port raft address. */
int tm_node_decode(const struct tm_mpr *r, struct tm_node *node, struct tm_status *st);

#endif
