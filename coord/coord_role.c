/* The coordinator role (calls listed in coord_role.h): the Raft state
 * machine, leadership, the TSO, DDL and catalog reads. The catalog is
 * changed only by the Raft group's apply on its loop thread, under the
 * write lock; RPC workers read it under the read lock. DDL commands are
 * proposed one at a time (ddl_mu) so a command checked against the current
 * state still fits when it applies. Locks: coord_int.h. */
#include "coord_int.h"
#include "ddl.h"
#include "raftgroup.h"
#include "tm_log.h"
#include "tm_time.h"
#include "tm_wait.h"

#include <stdlib.h>
#include <string.h>

/* ---- state machine ---- */

static int fsm_apply(void *arg, const void *buf, size_t len)
{
    struct tm_coord_role *c = arg;
    struct tm_ddl d;
    int rc = tm_ddl_decode(buf, len, &d);
    if (rc)
        return rc;
    pthread_rwlock_wrlock(&c->lock);
    rc = tm_catalog_apply(&c->cat, &d);
    pthread_rwlock_unlock(&c->lock);
    tm_ddl_free(&d);
    return rc;
}

static int fsm_snapshot(void *arg, struct tm_buf *out)
{
    struct tm_coord_role *c = arg;
    struct tm_mpw w;
    tm_mpw_init(&w);
    pthread_rwlock_rdlock(&c->lock);
    tm_catalog_encode(&w, &c->cat);
    pthread_rwlock_unlock(&c->lock);
    int rc = tm_mpw_error(&w);
    if (!rc)
        rc = tm_buf_append(out, w.buf.data, w.buf.len);
    tm_mpw_free(&w);
    return rc;
}

static int fsm_restore(void *arg, const void *buf, size_t len)
{
    struct tm_coord_role *c = arg;
    struct tm_catalog fresh;
    struct tm_mpr r;
    tm_mpr_init(&r, buf, len);
    int rc = tm_catalog_decode(&r, &fresh);
    if (rc)
        return rc;
    pthread_rwlock_wrlock(&c->lock);
    tm_catalog_free(&c->cat);
    c->cat = fresh;
    pthread_rwlock_unlock(&c->lock);
    return 0;
}

/* ---- leadership ---- */

/* Loop thread, after the barrier that applied every earlier entry: the
 * catalog holds every committed high-water mark, and every earlier leader
 * handed out only timestamps below one of them. So the oracle restarts
 * above the catalog's mark BEFORE workers may use it (leading is set last).
 * Reading the catalog without its lock is safe here: only this thread
 * writes it. */
static void on_leader(void *arg, int leading)
{
    struct tm_coord_role *c = arg;
    if (leading) {
        tm_tso_reset(&c->tso, c->cat.tso_hw_ms);
        /* Soft state from an earlier term is stale; heartbeats refill it. */
        tm_registry_clear(&c->reg);
    }
    atomic_store(&c->leading, leading != 0);
    TM_INFO("coord", "member %llu %s (tso mark %llu ms)", (unsigned long long)c->self_id,
            leading ? "leads" : "stopped leading", (unsigned long long)c->cat.tso_hw_ms);
}

int coord_leader_check(struct tm_coord_role *c, struct tm_status *st)
{
    uint64_t leader = c->self_id;
    bool raft_leads = c->standalone || tm_raft_group_leading(c->raft, &leader);
    if (raft_leads && atomic_load(&c->leading))
        return 0;
    if (leader == c->self_id)
        return tm_status_set(st, TM_MV_NOT_LEADER,
                             "coordinator %llu is not ready to lead yet[leader=%llu]",
                             (unsigned long long)c->self_id, (unsigned long long)leader);
    return tm_status_set(st, TM_MV_NOT_LEADER, "coordinator %llu is not the leader[leader=%llu]",
                         (unsigned long long)c->self_id, (unsigned long long)leader);
}

void coord_status_from_rc(struct tm_coord_role *c, struct tm_status *st, int rc, const char *what)
{
    if (rc == TM_ENOTLEADER && coord_leader_check(c, st))
        return;
    tm_status_set(st, TM_MV_INTERNAL, "%s: %s", what, tm_strerror(rc));
}

/* ---- proposing ---- */

struct proposal {
    struct tm_raft_job job;
    struct tm_coord_role *c;
    struct tm_raft_buf buf;
    struct tm_wait wait;
};

static void on_committed(void *arg, int rc)
{
    tm_wait_signal(&((struct proposal *)arg)->wait, rc);
}

static void propose_on_loop(struct tm_raft_job *job, int stopping)
{
    struct proposal *p = (struct proposal *)job;
    int rc =
        stopping ? TM_ESHUTDOWN : tm_raft_group_append(p->c->raft, &p->buf, 1, on_committed, p);
    if (rc) {
        tm_raft_free(p->buf.base);
        tm_wait_signal(&p->wait, rc);
    }
}

int coord_propose(struct tm_coord_role *c, const struct tm_ddl *d)
{
    struct tm_mpw w;
    tm_mpw_init(&w);
    tm_ddl_encode(&w, d);
    tm_buf_pad(&w.buf, 8);
    int rc = tm_mpw_error(&w);
    struct proposal p = {.job = {.fn = propose_on_loop}, .c = c};
    p.buf.len = w.buf.len;
    p.buf.base = rc ? NULL : tm_raft_alloc(w.buf.len);
    if (!p.buf.base) {
        tm_mpw_free(&w);
        return TM_ENOMEM;
    }
    memcpy(p.buf.base, w.buf.data, w.buf.len);
    tm_mpw_free(&w);
    tm_wait_init(&p.wait);
    tm_raft_group_post(c->raft, &p.job);
    rc = tm_wait_for(&p.wait);
    tm_wait_destroy(&p.wait);
    return rc;
}

/* ---- calls ---- */

/* Allocates n timestamps, persisting a higher mark through Raft first when
 * the oracle asks for one. */
static int tso_next(struct tm_coord_role *c, uint32_t n, uint64_t *ts)
{
    uint64_t need_hw = 0;
    while (tm_tso_alloc(&c->tso, tm_wall_ms(), n, ts, &need_hw) == 1) {
        struct tm_ddl d;
        tm_ddl_init(&d, TM_DDL_TSO_HW);
        d.hw_ms = need_hw;
        pthread_mutex_lock(&c->ddl_mu);
        int rc = coord_propose(c, &d);
        pthread_mutex_unlock(&c->ddl_mu);
        if (rc)
            return rc;
        tm_tso_raise(&c->tso, need_hw);
    }
    return 0;
}

static void call_tso(struct tm_coord_role *c, struct tm_mpr *body, struct tm_mpw *reply,
                     struct tm_status *st)
{
    uint64_t n = 1, ts = 0;
    uint32_t nkeys, kn;
    const char *k;
    if (tm_mpr_map(body, &nkeys) == 0 && nkeys == 1 && tm_mpr_str(body, &k, &kn) == 0)
        tm_mpr_uint(body, &n);
    if (n == 0 || n > (1u << 17))
        n = 1;
    int rc = tso_next(c, (uint32_t)n, &ts);
    if (rc) {
        coord_status_from_rc(c, st, rc, "tso: cannot persist timestamps");
        return;
    }
    tm_mpw_map(reply, 1);
    tm_mpw_cstr(reply, "ts"), tm_mpw_uint(reply, ts);
}

static void call_ddl(struct tm_coord_role *c, struct tm_mpr *body, struct tm_status *st)
{
    struct tm_ddl d;
    if (tm_ddl_decode(body->p, tm_mpr_remaining(body), &d)) {
        tm_status_set(st, TM_MV_INTERNAL, "malformed DDL command");
        return;
    }
    /* The placement is the leader's own decision (coord_cluster.c), never
     * a client's. */
    if (d.op == TM_DDL_PLACEMENT) {
        tm_status_set(st, TM_MV_INVALID_PARAM, "the placement is decided by the coordinator");
        tm_ddl_free(&d);
        return;
    }
    int rc = 0;
    if (d.op == TM_DDL_COLL_CREATE && d.has_coll && (rc = tso_next(c, 1, &d.coll.created_ts))) {
        coord_status_from_rc(c, st, rc, "tso unavailable");
        tm_ddl_free(&d);
        return;
    }
    pthread_mutex_lock(&c->ddl_mu);
    pthread_rwlock_rdlock(&c->lock);
    rc = tm_catalog_check(&c->cat, &d, st);
    pthread_rwlock_unlock(&c->lock);
    if (rc == 0 && (rc = coord_propose(c, &d)))
        coord_status_from_rc(c, st, rc, "DDL not committed");
    pthread_mutex_unlock(&c->ddl_mu);
    tm_ddl_free(&d);
}

/* Reads the string value of `key` from a request map, "" when absent. */
static void body_str(struct tm_mpr body, const char *key, char *dst, size_t cap)
{
    if (tm_mpr_find(&body, key) || tm_mpr_str_copy(&body, dst, cap))
        dst[0] = '\0';
}

static void call_read(struct tm_coord_role *c, const char *type, struct tm_mpr *body,
                      struct tm_mpw *reply, struct tm_status *st)
{
    char db[TM_NAME_MAX], name[TM_NAME_MAX];
    body_str(*body, "db", db, sizeof db);
    body_str(*body, "name", name, sizeof name);
    if (!db[0])
        strcpy(db, TM_DEFAULT_DB);
    const struct tm_catalog *cat = &c->cat;
    pthread_rwlock_rdlock(&c->lock);
    if (strcmp(type, "cat.dbs") == 0) {
        tm_mpw_array(reply, (uint32_t)cat->ndbs);
        for (size_t i = 0; i < cat->ndbs; i++)
            tm_mpw_cstr(reply, cat->dbs[i].name);
    } else if (!tm_catalog_db(cat, db) && strcmp(type, "cat.coll") != 0) {
        tm_status_set(st, TM_MV_DB_NOT_FOUND, "database not found[database=%s]", db);
    } else if (strcmp(type, "cat.db") == 0) {
        tm_database_encode(reply, tm_catalog_db(cat, db));
    } else if (strcmp(type, "cat.colls") == 0) {
        int64_t db_id = tm_catalog_db(cat, db)->id;
        uint32_t n = 0;
        for (size_t i = 0; i < cat->ncolls; i++)
            n += cat->colls[i].db_id == db_id;
        tm_mpw_array(reply, n);
        for (size_t i = 0; i < cat->ncolls; i++)
            if (cat->colls[i].db_id == db_id)
                tm_mpw_cstr(reply, cat->colls[i].name);
    } else if (strcmp(type, "cat.coll") == 0) {
        int64_t id = tm_mpr_key_int(*body, "id", 0);
        const struct tm_collection *coll =
            id ? tm_catalog_coll_by_id(cat, id) : tm_catalog_coll(cat, db, name);
        if (!coll && !id && !tm_catalog_db(cat, db))
            tm_status_set(st, TM_MV_DB_NOT_FOUND, "database not found[database=%s]", db);
        else if (!coll)
            tm_status_set(st, TM_MV_COLL_NOT_FOUND,
                          "can't find collection[database=%s][collection=%s]", db, name);
        else
            tm_collection_encode(reply, coll);
    } else {
        tm_status_set(st, TM_MV_INTERNAL, "unknown call %s", type);
    }
    pthread_rwlock_unlock(&c->lock);
}

static void handle(void *arg, const char *type, struct tm_mpr *body, struct tm_mpw *reply,
                   struct tm_status *st)
{
    struct tm_coord_role *c = arg;
    if (coord_leader_check(c, st))
        return;
    if (strcmp(type, "tso") == 0)
        call_tso(c, body, reply, st);
    else if (strcmp(type, "ddl") == 0)
        call_ddl(c, body, st);
    else if (!coord_cluster_call(c, type, body, reply, st))
        call_read(c, type, body, reply, st);
}

/* This member's Raft id and address: standalone, the fixed "coord-1" of a
 * group that needs no network; in a cluster, its entry in members. */
static int self_of(const struct tm_coord_role_config *cfg, uint64_t *id, const char **address)
{
    *id = cfg->self_id ? cfg->self_id : 1;
    *address = "coord-1";
    if (cfg->nmembers == 0)
        return 0;
    for (unsigned i = 0; i < cfg->nmembers; i++)
        if (cfg->members[i].id == cfg->self_id) {
            *address = cfg->members[i].address;
            return 0;
        }
    TM_ERROR("coord", "member id %llu is not among the %u coordinators",
             (unsigned long long)cfg->self_id, cfg->nmembers);
    return TM_EINVAL;
}

static int raft_start(struct tm_coord_role *c, const struct tm_coord_role_config *cc)
{
    struct tm_raft_group_config cfg = {
        .dir = cc->dir,
        .apply = fsm_apply,
        .snapshot = fsm_snapshot,
        .restore = fsm_restore,
        .arg = c,
        /* The catalog is small: snapshot it often so replay stays short. */
        .snapshot_threshold = 1024,
        .snapshot_trailing = 128,
        .members = cc->nmembers ? cc->members : NULL,
        .nmembers = cc->nmembers,
        .election_ms = cc->election_ms,
        .on_leader = on_leader,
    };
    int rc = self_of(cc, &cfg.id, &cfg.address);
    if (!rc)
        rc = tm_raft_group_start(&c->raft, &cfg);
    /* A group of one leads, its log replayed, when start returns: it
     * becomes the ready leader here, whether or not on_leader ran. */
    if (!rc && c->standalone)
        on_leader(c, 1);
    return rc;
}

static struct tm_coord_role *role_new(const struct tm_coord_role_config *cfg)
{
    struct tm_coord_role *c = calloc(1, sizeof *c);
    if (!c || tm_catalog_init(&c->cat)) {
        free(c);
        return NULL;
    }
    pthread_rwlock_init(&c->lock, NULL);
    pthread_mutex_init(&c->ddl_mu, NULL);
    /* Up before Raft starts: on_leader may run as soon as it does. */
    tm_tso_init(&c->tso, 0);
    tm_registry_init(&c->reg);
    atomic_init(&c->leading, false);
    c->self_id = cfg->self_id ? cfg->self_id : 1;
    c->standalone = cfg->nmembers == 0;
    c->shards = cfg->shards ? cfg->shards : 2;
    c->replicas = cfg->replicas ? cfg->replicas : 3;
    return c;
}

int tm_coord_role_start(struct tm_coord_role **out, const struct tm_coord_role_config *cfg)
{
    struct tm_coord_role *c = role_new(cfg);
    if (!c)
        return TM_ENOMEM;
    int rc = raft_start(c, cfg);
    if (!rc)
        rc = tm_rpc_server_start(&c->rpc, cfg->url, 4, handle, c);
    if (rc) {
        tm_coord_role_stop(c);
        return rc;
    }
    pthread_rwlock_rdlock(&c->lock); /* a member of several may be applying */
    /* "catalog replayed": tests look for this line to find a start in a log. */
    TM_INFO("coord",
            "catalog replayed: %zu databases, %zu collections; member %llu of %u serving on %s",
            c->cat.ndbs, c->cat.ncolls, (unsigned long long)c->self_id,
            cfg->nmembers ? cfg->nmembers : 1, cfg->url);
    pthread_rwlock_unlock(&c->lock);
    *out = c;
    return 0;
}

void tm_coord_role_stop(struct tm_coord_role *c)
{
    if (!c)
        return;
    tm_rpc_server_stop(c->rpc);
    tm_raft_group_stop(c->raft);
    tm_tso_destroy(&c->tso);
    tm_registry_destroy(&c->reg);
    tm_catalog_free(&c->cat);
    pthread_rwlock_destroy(&c->lock);
    pthread_mutex_destroy(&c->ddl_mu);
    free(c);
}
