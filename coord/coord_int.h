/* Inside the coordinator role: the state its two files share
 * (coord_role.c: Raft, TSO, DDL and catalog reads; coord_cluster.c: the
 * node registry and the placement).
 *
 * Locks, taken in this order: ddl_mu (one proposal at a time, so a command
 * checked against the catalog still fits when it applies), then lock (the
 * catalog: written only by the Raft loop thread's apply, read by RPC
 * workers). The oracle and the registry have their own mutexes, taken last.
 */
#ifndef TM_COORD_INT_H
#define TM_COORD_INT_H

#include "catalog.h"
#include "coord_role.h"
#include "registry.h"
#include "tm_rpc.h"
#include "tso.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct tm_coord_role {
    struct tm_catalog cat;
    pthread_rwlock_t lock;
    pthread_mutex_t ddl_mu;
    struct tm_tso tso;
    struct tm_raft_group *raft;
    struct tm_rpc_server *rpc;
    uint64_t self_id;
    bool standalone;
    uint32_t shards, replicas; /* for the placement decision */
    /* Set on the loop thread once the oracle restarted above the committed
     * mark (on_leader); workers answer only while it is set. */
    atomic_bool leading;
    struct tm_registry reg;
};

/* Fills st with 10010 and the believed leader's id and returns TM_ESTATUS
 * unless this member is the ready leader (then 0). */
int coord_leader_check(struct tm_coord_role *c, struct tm_status *st);

/* Appends a DDL command to the log and waits until it is applied. The
 * caller holds ddl_mu. 0, TM_ENOTLEADER, or another negative error. */
int coord_propose(struct tm_coord_role *c, const struct tm_ddl *d);

/* Sets st for a failed proposal: 10010 when leadership moved, else 5 with
 * `what` and the error. */
void coord_status_from_rc(struct tm_coord_role *c, struct tm_status *st, int rc, const char *what);

/* Serves "register", "nodes" and "placement" (coord_cluster.c); returns
 * false for any other call. The caller checked leadership. */
bool coord_cluster_call(struct tm_coord_role *c, const char *type, struct tm_mpr *body,
                        struct tm_mpw *reply, struct tm_status *st);

#endif
