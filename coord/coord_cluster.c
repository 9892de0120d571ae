/* The coordinator's cluster calls (coord_role.h): the node registry
 * (soft state on the leader, registry.h) and the shard placement, decided
 * once by the leader and committed through the Raft log (placement.h). */
#include "coord_int.h"
#include "ddl.h"
#include "tm_log.h"
#include "tm_time.h"

#include <stdlib.h>
#include <string.h>

static bool placement_decided(struct tm_coord_role *c)
{
    pthread_rwlock_rdlock(&c->lock);
    bool decided = c->cat.placement.shards != 0;
    pthread_rwlock_unlock(&c->lock);
    return decided;
}

/* Commits a decision unless one is already in the catalog (then 1).
 * Checked again under ddl_mu: another worker may have committed one
 * meanwhile, and the first committed decision stands (a later one would
 * apply as a no-op). */
static int placement_commit(struct tm_coord_role *c, const struct tm_ddl *d)
{
    int rc = 1;
    pthread_mutex_lock(&c->ddl_mu);
    if (!placement_decided(c))
        rc = coord_propose(c, d);
    pthread_mutex_unlock(&c->ddl_mu);
    return rc;
}

/* Decides and commits the placement when enough data nodes are up. Returns
 * 0 (decided, now or before), 1 (waiting: *ndata_out data nodes are up) or
 * a negative error. Shards and replicas are this coordinator's settings at
 * the moment of the decision, which then holds for good. */
static int placement_try(struct tm_coord_role *c, size_t *ndata_out)
{
    *ndata_out = 0;
    if (placement_decided(c))
        return 0;
    struct tm_placement_node *nodes = malloc(TM_REGISTRY_MAX * sizeof *nodes);
    if (!nodes)
        return TM_ENOMEM;
    size_t n = tm_registry_data_nodes(&c->reg, tm_mono_ms(), nodes, TM_REGISTRY_MAX);
    *ndata_out = n;
    struct tm_ddl d;
    tm_ddl_init(&d, TM_DDL_PLACEMENT);
    int rc = tm_placement_decide(nodes, n, c->shards, c->replicas, &d.placement);
    free(nodes);
    if (rc)
        return rc;
    d.has_placement = true;
    rc = placement_commit(c, &d);
    if (rc == 1)
        rc = 0; /* decided meanwhile by another worker */
    else if (!rc)
        TM_INFO("coord", "placement decided: %u shards x %u replicas over %zu data nodes",
                d.placement.shards, d.placement.replicas, n);
    tm_ddl_free(&d);
    return rc;
}

static void call_register(struct tm_coord_role *c, struct tm_mpr *body, struct tm_status *st)
{
    struct tm_node node;
    char probe[TM_ADDR_MAX];
    if (tm_node_decode(body, &node, st))
        return;
    /* Refused now rather than failing every later decision: each shard's
     * group listens on the node's Raft port + s. */
    if (tm_roles_has(node.roles, "data") &&
        tm_addr_port_add(node.raft, c->shards - 1, probe, sizeof probe)) {
        tm_status_set(st, TM_MV_INVALID_PARAM,
                      "register: raft %s leaves no room for %u shard ports", node.raft, c->shards);
        return;
    }
    if (tm_registry_put(&c->reg, &node, tm_mono_ms())) {
        tm_status_set(st, TM_MV_INTERNAL,
                      "register: the coordinator tracks at most %d nodes; node %llu refused",
                      TM_REGISTRY_MAX, (unsigned long long)node.id);
        return;
    }
    /* A data node's arrival may complete the set the placement waits for.
     * The heartbeat succeeds whatever the decision does: `placement`
     * reports its state. */
    size_t ndata;
    int rc = tm_roles_has(node.roles, "data") ? placement_try(c, &ndata) : 0;
    if (rc < 0)
        TM_WARN("coord", "placement not committed: %s", tm_strerror(rc));
}

static void call_placement(struct tm_coord_role *c, struct tm_mpw *reply, struct tm_status *st)
{
    size_t ndata;
    int rc = placement_try(c, &ndata);
    if (rc < 0) {
        coord_status_from_rc(c, st, rc, "placement not decided");
        return;
    }
    pthread_rwlock_rdlock(&c->lock);
    if (c->cat.placement.shards)
        tm_placement_encode(reply, &c->cat.placement);
    else
        tm_status_set(st, TM_MV_INTERNAL, "placement not decided: %zu of %u data nodes registered",
                      ndata, c->replicas);
    pthread_rwlock_unlock(&c->lock);
}

bool coord_cluster_call(struct tm_coord_role *c, const char *type, struct tm_mpr *body,
                        struct tm_mpw *reply, struct tm_status *st)
{
    if (strcmp(type, "register") == 0)
        call_register(c, body, st);
    else if (strcmp(type, "nodes") == 0)
        tm_registry_encode(&c->reg, reply, tm_mono_ms());
    else if (strcmp(type, "placement") == 0)
        call_placement(c, reply, st);
    else
        return false;
    return true;
}
