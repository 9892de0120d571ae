/* The query role (calls and consistency rules in query_role.h).
 *
 * One tail thread per shard pulls applied entries from the data role in log
 * order and applies them; tsafe[shard] then rises to the shard's reported
 * safe timestamp. Readers wait on `progress` for tsafe to reach their
 * guarantee timestamp.
 */
#include "query_peer.h"
#include "query_role_int.h"
#include "seal_fetch.h"
#include "seal_io.h"
#include "catalog.h"
#include "store.h"
#include "tm_log.h"
#include "tm_rpc.h"
#include "tm_time.h"
#include "tso.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BOUNDED_STALENESS_MS 5000
#define REPORT_MS 1000 /* at least one "tail" call per shard this often */
#define QUIET_MS 250   /* a live stream silent this long: catch up with "tail" */
/* Larger pushes (a busy shard's) go to the shard's tail thread, so busy
 * shards are applied in parallel, not one after another on the stream
 * thread. */
#define APPLY_PUSHED_MAX (64u << 10)
#define HOLD_MS 5000 /* while sealed ranges load, "hold" calls this often */

/* ---- collections ---- */

/* The collection's entry, created on first sight. NULL on ENOMEM or when the
 * coordinator could not be asked. The pointer stays valid: entries are
 * never removed, only marked dead. */
static struct qcoll *coll_get(struct tm_query_role *q, int64_t id, bool create)
{
    pthread_mutex_lock(&q->colls_mu);
    for (size_t i = 0; i < q->ncolls; i++) {
        if (q->colls[i].id == id) {
            struct qcoll *c = &q->colls[i];
            pthread_mutex_unlock(&q->colls_mu);
            return c;
        }
    }
    pthread_mutex_unlock(&q->colls_mu);
    if (!create)
        return NULL;
    struct tm_store *store;
    if (tm_store_from_catalog(q->coord, id, &store))
        return NULL;
    int64_t pk = store ? store->pk_field_id : 0;
    pthread_mutex_lock(&q->colls_mu);
    struct qcoll *c = NULL;
    for (size_t i = 0; i < q->ncolls && !c; i++)
        c = q->colls[i].id == id ? &q->colls[i] : NULL;
    if (c) { /* another shard's tail thread created it meanwhile */
        pthread_mutex_unlock(&q->colls_mu);
        tm_store_free(store);
        return c;
    }
    /* Entries live in one array that never shrinks; growing it would move
     * them, so it is allocated once with room for every collection. */
    c = q->ncolls < 65536 ? &q->colls[q->ncolls] : NULL;
    if (c) /* its index definitions are read by the builder (idefs_stale) */
        *c = (struct qcoll){
            .id = id, .dead = !store, .pk_field_id = pk, .store = store, .idefs_stale = true};
    q->ncolls += c != NULL;
    pthread_mutex_unlock(&q->colls_mu);
    if (c)
        tm_qidx_wake(q);
    return c;
}

struct qcoll *tm_query_coll(struct tm_query_role *q, int64_t id)
{
    return coll_get(q, id, false);
}

size_t tm_query_ncolls(struct tm_query_role *q)
{
    pthread_mutex_lock(&q->colls_mu);
    size_t n = q->ncolls;
    pthread_mutex_unlock(&q->colls_mu);
    return n;
}

/* ---- tailing ---- */

/* A seal (or compaction) entry of a shard: every collection's growing
 * segments of that shard become sealed here too, at the same log position
 * as in the data role's sealer, so each sealed segment holds the rows of
 * one range segment the data role wrote, and an index built over it is the
 * index of that segment after a restart as well (query_index.h). A
 * compaction's rewritten range is loaded only at the next start; until then
 * the segments sealed here keep serving. */
static int seal_shard(struct tm_query_role *q, int shard)
{
    size_t n = tm_query_ncolls(q);
    for (size_t i = 0; i < n; i++) {
        struct qcoll *c = &q->colls[i];
        struct tm_seal seal;
        if (!c->store)
            continue;
        pthread_rwlock_wrlock(&c->store->lock);
        int rc = c->dead ? 0 : tm_store_seal_shard(c->store, shard, &seal);
        if (!c->dead)
            tm_seal_free(&seal); /* the description only borrows the store's rows */
        pthread_rwlock_unlock(&c->store->lock);
        if (rc)
            return rc;
    }
    tm_qidx_wake(q);
    return 0;
}

/* fetch: may block, asking the coordinator for a collection first seen or
 * waiting for a store's readers. Without it (the stream thread, which
 * serves every shard) such an entry, and a seal, is TM_EAGAIN. */
static int apply_entry(struct tm_query_role *q, int shard, const uint8_t *p, size_t len,
                       uint64_t *ts, bool fetch)
{
    struct tm_entry_hdr h;
    struct tm_span rows, pks;
    int rc = tm_entry_decode(p, len, &h, &rows, &pks);
    if (rc)
        return rc;
    *ts = h.ts;
    /* A data shard that restarted before the snapshot behind its last seal
     * was taken replays the entries before that seal again, and its tail
     * holds them, while the range they went into is loaded already: seals
     * are shard-wide and timestamps rise along the log, so everything at or
     * before the last loaded range's seal timestamp is in the ranges. */
    if (h.ts <= q->shards[shard].sealed_ts)
        return 0;
    if (h.kind == TM_ENTRY_SEAL || h.kind == TM_ENTRY_COMPACT)
        return fetch ? seal_shard(q, shard) : TM_EAGAIN;
    struct qcoll *c = coll_get(q, h.coll_id, fetch);
    if (!c)
        return fetch ? TM_EIO : TM_EAGAIN; /* retried by the tail loop */
    if (c->dead)
        return 0; /* dropped collection: its entries are dead */
    if (fetch)
        pthread_rwlock_wrlock(&c->store->lock);
    else if (pthread_rwlock_trywrlock(&c->store->lock))
        return TM_EAGAIN;          /* a search reads it: not worth stalling the stream */
    c->store->apply_shard = shard; /* new rows go to this shard's growing segments */
    if (!c->dead)
        rc = tm_store_apply_entry(c->store, &h, rows, pks);
    pthread_rwlock_unlock(&c->store->lock);
    return rc;
}

/* An entry's timestamp (its "ts" key; 0 if unreadable: applying it then
 * reports the error). */
static uint64_t entry_ts(const uint8_t *p, size_t len)
{
    struct tm_mpr r;
    tm_mpr_init(&r, p, len);
    int64_t ts = tm_mpr_key_int(r, "ts", 0);
    return ts > 0 ? (uint64_t)ts : 0;
}

/* Applies a "tail" answer or a pushed message (data_role.h): its entries
 * above this shard's position, then its safe timestamp. A pushed message
 * that starts above the position is a gap: TM_EAGAIN, nothing applied.
 * The caller holds sh->apply_mu. */
static int apply_tail_body(struct qshard *sh, struct tm_mpr *b, bool pushed, bool fetch)
{
    uint32_t n, kn, nent = 0;
    const char *k;
    uint64_t safe = 0, after = 0, ts;
    int rc = 0;
    bool placed = !pushed; /* a pushed message says where it starts first */
    tm_mpr_map(b, &n);
    for (uint32_t i = 0; i < n && !b->err && !rc; i++) {
        tm_mpr_str(b, &k, &kn);
        if (KEY_IS(k, kn, "after") && pushed) {
            tm_mpr_uint(b, &after);
            placed = after <= sh->after;
        } else if (KEY_IS(k, kn, "entries") && !placed) {
            return TM_EAGAIN;
        } else if (KEY_IS(k, kn, "entries")) {
            tm_mpr_array(b, &nent);
            for (uint32_t e = 0; e < nent && !b->err && !rc; e++) {
                const uint8_t *p;
                uint32_t len;
                if (tm_mpr_bin(b, &p, &len))
                    continue; /* b->err ends the loop */
                uint64_t at = pushed ? entry_ts(p, len) : UINT64_MAX;
                if (at == 0)
                    rc = TM_ECORRUPT;
                else if (at <= sh->after)
                    continue; /* pushed before this shard caught up to it */
                if (!rc && !(rc = apply_entry(sh->q, sh->id, p, len, &ts, fetch)))
                    sh->after = ts; /* per entry: a retry must not apply one twice */
            }
        } else if (KEY_IS(k, kn, "safe")) {
            tm_mpr_uint(b, &safe);
        } else {
            tm_mpr_skip(b);
        }
    }
    rc = rc ? rc : b->err;
    if (rc || !placed)
        return rc ? rc : TM_EAGAIN;
    struct tm_query_role *q = sh->q;
    pthread_mutex_lock(&q->progress_mu);
    if (safe > q->tsafe[sh->id])
        q->tsafe[sh->id] = safe;
    pthread_cond_broadcast(&q->progress);
    pthread_mutex_unlock(&q->progress_mu);
    return 0;
}

bool tm_query_apply_pushed(struct qshard *sh, const struct tm_stream_msg *m)
{
    if (m->len > APPLY_PUSHED_MAX || !atomic_load(&sh->applies) ||
        pthread_mutex_trylock(&sh->apply_mu))
        return false;
    struct tm_mpr b;
    tm_mpr_init(&b, m->data, m->len);
    int rc = apply_tail_body(sh, &b, true, false);
    pthread_mutex_unlock(&sh->apply_mu);
    return rc == 0;
}

static int tail_call(struct qshard *sh, int wait_ms)
{
    struct tm_mpw w;
    struct tm_rpc_reply rep;
    struct tm_status st;
    tm_mpw_init(&w);
    tm_mpw_map(&w, 4);
    tm_mpw_cstr(&w, "shard"), tm_mpw_int(&w, sh->id);
    tm_mpw_cstr(&w, "after"), tm_mpw_uint(&w, sh->after);
    tm_mpw_cstr(&w, "wait_ms"), tm_mpw_uint(&w, (uint64_t)wait_ms);
    tm_mpw_cstr(&w, "reader"), tm_mpw_uint(&w, sh->q->reader_id);
    int rc = tm_rpc_call(sh->data, "tail", w.buf.data, w.buf.len, 5000, &rep, &st);
    tm_mpw_free(&w);
    if (rc)
        return rc;
    sh->tailed_ms = tm_mono_ms();
    rc = apply_tail_body(sh, &rep.body, false, true);
    tm_rpc_reply_free(&rep);
    return rc;
}

/* Asks the shard's leader for the entries after this shard's position,
 * waiting up to wait_ms for one when there is none yet. Holds apply_mu
 * throughout: the answer starts at the position the call named. */
static int tail_once(struct qshard *sh, int wait_ms)
{
    pthread_mutex_lock(&sh->apply_mu);
    int rc = tail_call(sh, wait_ms);
    pthread_mutex_unlock(&sh->apply_mu);
    return rc;
}

/* One step of a shard's tail: while the leader's pushes arrive, apply the
 * next (a gap, or none for a while, is caught up with a call that does not
 * wait, and so is a second without a call: calls report this node's
 * position, which keeps the leader's log in memory); otherwise ask with
 * "tail" and wait there for entries. */
static int tail_step(struct qshard *sh)
{
    if (!tm_qstream_live(sh))
        return tail_once(sh, 300);
    struct tm_stream_msg m;
    int rc = tm_qstream_next(sh, QUIET_MS, &m);
    if (rc == 0) {
        struct tm_mpr b;
        tm_mpr_init(&b, m.data, m.len);
        pthread_mutex_lock(&sh->apply_mu);
        rc = apply_tail_body(sh, &b, true, true);
        pthread_mutex_unlock(&sh->apply_mu);
        tm_stream_msg_free(&m);
    }
    /* Nothing queued while the stream thread applied the pushes itself. */
    if (rc == TM_ETIMEDOUT && tm_mono_ms() - atomic_load(&sh->pushed_ms) < QUIET_MS)
        rc = 0;
    bool report = rc == 0 && tm_mono_ms() - sh->tailed_ms >= REPORT_MS;
    return rc == TM_EAGAIN || rc == TM_ETIMEDOUT || report ? tail_once(sh, 0) : rc;
}

static void *tail_main(void *arg)
{
    struct qshard *sh = arg;
    pthread_setname_np(pthread_self(), "tm-tail");
    while (!atomic_load(&sh->q->stopping)) {
        int rc = tail_step(sh);
        if (rc && !atomic_load(&sh->q->stopping)) {
            TM_WARN("query", "shard %d: tail failed: %s", sh->id, tm_strerror(rc));
            struct timespec pause = {0, 100 * 1000000};
            nanosleep(&pause, NULL);
        }
    }
    return NULL;
}

/* ---- reads ---- */

static int shard_last_ts(struct tm_query_role *q, int shard, uint64_t *ts)
{
    struct tm_status st;
    return tm_rpc_call_uint_arg(q->shards[shard].data, "last_ts", "shard", shard, 5000, ts, &st);
}

/* The guarantee timestamp of each shard read (0 = no wait). */
static int guarantee(struct tm_query_role *q, const struct read_args *a, uint64_t ask, uint64_t *g)
{
    for (int s = 0; s < q->nshards; s++) {
        g[s] = 0;
        if (!(ask >> s & 1))
            continue;
        if (a->level == TM_CL_STRONG) {
            int rc = shard_last_ts(q, s, &g[s]);
            if (rc)
                return rc;
        } else if (a->level == TM_CL_BOUNDED) {
            uint64_t now = tm_wall_ms();
            g[s] = now > BOUNDED_STALENESS_MS ? tm_ts_make(now - BOUNDED_STALENESS_MS, 0) : 0;
        } else if (a->level == TM_CL_SESSION || a->level == TM_CL_CUSTOMIZED) {
            /* The session's own writes on this shard were acknowledged, so
             * they are at or below the shard's last applied timestamp: no
             * need to wait for an idle shard's next tick to pass gts. */
            int rc = shard_last_ts(q, s, &g[s]);
            if (rc)
                return rc;
            if (a->gts < g[s])
                g[s] = a->gts;
        }
    }
    return 0;
}

/* Waits until tsafe[s] >= g[s] for every shard, or the timeout, and copies
 * each shard's tsafe into read_ts: a shard's rows are read at its own
 * tsafe, where everything it acknowledged up to then is applied. A shard
 * not asked for reads at 0, where none of its rows (all stamped later) is
 * visible. */
static int wait_serviceable(struct tm_query_role *q, const uint64_t *g, uint64_t ask,
                            uint64_t timeout_ms, uint64_t *read_ts)
{
    struct timespec until = tm_deadline_ms(timeout_ms);
    int rc = 0;
    pthread_mutex_lock(&q->progress_mu);
    for (int s = 0; s < q->nshards && !rc; s++)
        while (q->tsafe[s] < g[s] && !rc)
            if (pthread_cond_timedwait(&q->progress, &q->progress_mu, &until))
                rc = TM_ETIMEDOUT;
    for (int s = 0; s < q->nshards; s++)
        read_ts[s] = ask >> s & 1 ? q->tsafe[s] : 0;
    pthread_mutex_unlock(&q->progress_mu);
    return rc;
}

/* The read's filter, parsed against the collection's schema. */
static int parse_filter(const struct qcoll *c, const struct read_args *a, struct tm_expr **out,
                        struct tm_status *st)
{
    *out = NULL;
    if (!a->filter_len)
        return 0;
    json_t *params = NULL;
    if (a->params_len) {
        params = json_loadb(a->params, a->params_len, JSON_DECODE_ANY, NULL);
        if (!params)
            return tm_status_set(st, TM_MV_INVALID_PARAM, "exprParams is not valid JSON");
    }
    char *text = strndup(a->filter, a->filter_len);
    int rc = text ? tm_expr_parse(text, params, c->store->schema, out, st) : TM_ENOMEM;
    free(text);
    json_decref(params);
    return rc;
}

struct qcoll *tm_query_prepare(struct tm_query_role *q, const struct read_args *a,
                               uint64_t *read_ts, struct tm_expr **filter_out, struct tm_status *st)
{
    uint64_t g[64], ask = a->shards ? a->shards : q->serves;
    *filter_out = NULL;
    if (ask & ~q->serves) {
        tm_status_set(st, TM_MV_INVALID_PARAM, "this query node does not serve shard %d",
                      __builtin_ctzll(ask & ~q->serves));
        return NULL;
    }
    int rc = guarantee(q, a, ask, g);
    if (!rc)
        rc = wait_serviceable(q, g, ask, a->timeout_ms, read_ts);
    if (rc) {
        tm_status_set(st, TM_MV_TIMEOUT,
                      "the collection is not serviceable at the requested consistency level "
                      "within %llu ms: %s",
                      (unsigned long long)a->timeout_ms, tm_strerror(rc));
        return NULL;
    }
    /* Not seen in the log yet means no rows yet: an empty result. */
    struct qcoll *c = coll_get(q, a->coll, false);
    if (!c || c->dead)
        return NULL;
    rc = parse_filter(c, a, filter_out, st);
    if (rc && !st->code)
        tm_status_set(st, TM_MV_INTERNAL, "filter: %s", tm_strerror(rc));
    return rc ? NULL : c;
}

struct tm_store_read tm_query_store_read(const struct tm_query_role *q, const struct read_args *a,
                                         const uint64_t *read_ts, const struct tm_expr *filter)
{
    return (struct tm_store_read){.shard_ts = read_ts,
                                  .nshards = (uint32_t)q->nshards,
                                  .parts = a->all_parts ? NULL : a->parts,
                                  .nparts = a->nparts,
                                  .fields = a->fields,
                                  .nfields = a->nfields,
                                  .offset = a->offset,
                                  .limit = a->limit,
                                  .filter = filter};
}

static void call_read(struct tm_query_role *q, struct tm_mpr *body, struct tm_mpw *reply,
                      struct tm_status *st)
{
    struct read_args a;
    struct tm_batch pks, out;
    tm_batch_init(&pks);
    tm_batch_init(&out);
    if (tm_query_parse(body, &a, NULL)) {
        tm_status_set(st, TM_MV_INTERNAL, "malformed read request");
        return;
    }
    struct tm_mpr r;
    if (a.pks.p && (tm_mpr_init(&r, a.pks.p, a.pks.len), tm_batch_decode(&r, &pks))) {
        tm_status_set(st, TM_MV_INTERNAL, "malformed primary keys");
        return;
    }
    uint64_t read_ts[64];
    struct tm_expr *filter;
    struct qcoll *c = tm_query_prepare(q, &a, read_ts, &filter, st);
    if (c && !st->code) {
        struct tm_store_read rq = tm_query_store_read(q, &a, read_ts, filter);
        pthread_rwlock_rdlock(&c->store->lock);
        int rc = c->dead ? 0 : tm_store_read(c->store, a.pks.p ? &pks : NULL, &rq, &out);
        pthread_rwlock_unlock(&c->store->lock);
        if (rc)
            tm_status_set(st, TM_MV_INTERNAL, "read failed: %s", tm_strerror(rc));
        tm_expr_free(filter);
    }
    if (!st->code) {
        tm_mpw_map(reply, 1);
        tm_mpw_cstr(reply, "rows"), tm_batch_encode(reply, &out);
    }
    tm_batch_free(&pks);
    tm_batch_free(&out);
}

static void call_count(struct tm_query_role *q, struct tm_mpr *body, struct tm_mpw *reply,
                       struct tm_status *st)
{
    struct read_args a;
    if (tm_query_parse(body, &a, NULL)) {
        tm_status_set(st, TM_MV_INTERNAL, "malformed count request");
        return;
    }
    uint64_t read_ts[64];
    struct tm_expr *filter;
    struct qcoll *c = tm_query_prepare(q, &a, read_ts, &filter, st);
    if (st->code)
        return;
    uint64_t n = 0;
    if (c) {
        struct tm_store_read rq = tm_query_store_read(q, &a, read_ts, filter);
        pthread_rwlock_rdlock(&c->store->lock);
        int rc = c->dead ? 0 : tm_store_count(c->store, &rq, &n);
        pthread_rwlock_unlock(&c->store->lock);
        tm_expr_free(filter);
        if (rc) {
            tm_status_set(st, TM_MV_INTERNAL, "count failed: %s", tm_strerror(rc));
            return;
        }
    }
    tm_mpw_map(reply, 1);
    tm_mpw_cstr(reply, "n"), tm_mpw_uint(reply, n);
}

static void call_drop(struct tm_query_role *q, struct tm_mpr *body)
{
    struct read_args a;
    if (tm_query_parse(body, &a, NULL))
        return;
    struct qcoll *c = coll_get(q, a.coll, false);
    if (!c)
        return;
    if (!c->store)
        return;
    /* The store struct stays (readers and the tail thread may hold it);
     * its rows are freed under the write lock, after which it reads empty.
     * A build reading one of its segments keeps that segment's vectors
     * until it ends (tm_qidx_forget). */
    pthread_rwlock_wrlock(&c->store->lock);
    c->dead = true;
    tm_qidx_forget(q, c);
    tm_store_clear(c->store);
    pthread_rwlock_unlock(&c->store->lock);
}

static void handle(void *arg, const char *type, struct tm_mpr *body, struct tm_mpw *reply,
                   struct tm_status *st)
{
    struct tm_query_role *q = arg;
    if (strcmp(type, "read") == 0)
        call_read(q, body, reply, st);
    else if (strcmp(type, "count") == 0)
        call_count(q, body, reply, st);
    else if (strcmp(type, "search") == 0)
        tm_query_search(q, body, reply, st);
    else if (strcmp(type, "drop") == 0)
        call_drop(q, body);
    else if (strcmp(type, "index_sync") == 0)
        tm_qidx_call_sync(q, body, reply, st);
    else if (strcmp(type, "index_progress") == 0)
        tm_qidx_call_progress(q, body, reply, st);
    else if (strcmp(type, "index_file") == 0)
        tm_qpeer_call_file(q, body, reply, st);
    else
        tm_status_set(st, TM_MV_INTERNAL, "unknown call %s", type);
}

/* ---- sealed segments, loaded before tailing ---- */

static int load_range(struct tm_query_role *q, int shard, int64_t coll, uint64_t index,
                      const char *dir)
{
    struct qcoll *c = coll_get(q, coll, true);
    if (!c)
        return TM_EIO;
    if (c->dead)
        return 0; /* dropped: its range is garbage */
    struct tm_seal_owned o;
    char err[TM_BINLOG_ERRMSG] = "";
    int rc = tm_qfetch_read(q, shard, coll, index, dir, &o, err);
    if (!rc) {
        pthread_rwlock_wrlock(&c->store->lock);
        c->store->apply_shard = shard;
        rc = tm_store_load_sealed(c->store, &o.seal);
        pthread_rwlock_unlock(&c->store->lock);
    }
    tm_seal_owned_free(&o);
    if (rc)
        TM_ERROR("query", "cannot load a sealed range: %s", err[0] ? err : tm_strerror(rc));
    return rc;
}

/* While ranges load, the shards listed so far (up to `upto`) are reminded
 * where this node will tail from: their leaders keep the log in memory
 * behind a position for TM_DATA_READER_TTL_MS only (wal/data_role.h). */
static void hold_positions(struct tm_query_role *q, int upto, const uint64_t *sealed_ts,
                           uint64_t *held_ms)
{
    if (tm_mono_ms() - *held_ms < HOLD_MS)
        return;
    for (int sh = 0; sh <= upto; sh++) {
        if (!(q->serves >> sh & 1))
            continue;
        struct tm_mpw w;
        struct tm_rpc_reply rep;
        struct tm_status st;
        tm_mpw_init(&w);
        tm_mpw_map(&w, 3);
        tm_mpw_cstr(&w, "shard"), tm_mpw_int(&w, sh);
        tm_mpw_cstr(&w, "after"), tm_mpw_uint(&w, sealed_ts[sh]);
        tm_mpw_cstr(&w, "reader"), tm_mpw_uint(&w, q->reader_id);
        if (tm_rpc_call(q->shards[sh].data, "hold", w.buf.data, w.buf.len, 2000, &rep, &st) == 0)
            tm_rpc_reply_free(&rep);
        tm_mpw_free(&w);
    }
    *held_ms = tm_mono_ms();
}

/* Loads every shard's sealed ranges (the data role's "sealed" list), all of
 * them before any tail thread applies an entry: tm_store_load_sealed must
 * see a range before the entries that follow it. */
static int load_sealed(struct tm_query_role *q, uint64_t *sealed_ts)
{
    int rc = 0;
    uint64_t held_ms = tm_mono_ms();
    for (int sh = 0; sh < q->nshards && !rc; sh++) {
        if (!(q->serves >> sh & 1))
            continue;
        struct tm_rpc_reply rep;
        struct tm_mpr b;
        uint32_t n;
        uint64_t upto;
        rc = tm_sealed_list(q->shards[sh].data, sh, q->reader_id, &rep, &b, &n, &upto);
        if (rc)
            return rc;
        if (upto)
            sealed_ts[sh] = upto;
        for (uint32_t i = 0; i < n && !rc; i++) {
            int64_t coll;
            uint64_t index;
            char dir[4096];
            rc = tm_sealed_range_read(&b, &coll, &index, dir, sizeof dir);
            if (rc)
                break;
            rc = load_range(q, sh, coll, index, dir);
            sealed_ts[sh] = index > sealed_ts[sh] ? index : sealed_ts[sh];
            hold_positions(q, sh, sealed_ts, &held_ms);
        }
        tm_rpc_reply_free(&rep);
    }
    return rc;
}

/* ---- lifecycle ---- */

int tm_query_role_start(struct tm_query_role **out, const struct tm_query_role_config *cfg)
{
    struct tm_query_role *q = calloc(1, sizeof *q);
    if (!q)
        return TM_ENOMEM;
    pthread_mutex_init(&q->colls_mu, NULL);
    pthread_mutex_init(&q->progress_mu, NULL);
    pthread_cond_init(&q->progress, NULL);
    q->colls = calloc(65536, sizeof *q->colls);
    q->shards = calloc((size_t)cfg->shards, sizeof *q->shards);
    q->nshards_alloc = q->shards ? cfg->shards : 0;
    for (int i = 0; i < q->nshards_alloc; i++) /* before anything can fail: stop destroys them */
        pthread_mutex_init(&q->shards[i].apply_mu, NULL);
    snprintf(q->fetch_dir, sizeof q->fetch_dir, "%s", cfg->fetch_dir ? cfg->fetch_dir : "");
    snprintf(q->url, sizeof q->url, "%s", cfg->url);
    q->list_peers = cfg->list_peers;
    q->peers_arg = cfg->peers_arg;
    q->tsafe = calloc((size_t)cfg->shards, sizeof *q->tsafe);
    int rc = q->colls && q->shards && q->tsafe && cfg->shards <= 64 ? 0 : TM_ENOMEM;
    q->nshards = cfg->shards;
    /* Unique enough among a shard's readers; msgpack ints are read signed. */
    q->reader_id =
        ((tm_wall_ms() << 20 ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)q) & (UINT64_MAX >> 1)) |
        1;
    q->serves = cfg->shards >= 64 ? ~0ull : (1ull << cfg->shards) - 1;
    if (cfg->serves)
        q->serves &= cfg->serves;
    for (int i = 0; !rc && i < cfg->shards; i++) {
        q->shards[i].q = q;
        q->shards[i].id = i;
        rc = tm_rpc_client_open(&q->shards[i].data,
                                cfg->shard_data_urls ? cfg->shard_data_urls[i] : cfg->data_url);
    }
    if (!rc)
        rc = tm_rpc_client_open(&q->coord, cfg->coord_url);
    if (!rc)
        rc = tm_qidx_init(q, cfg->index_dir);
    uint64_t sealed_ts[64] = {0};
    if (!rc)
        rc = load_sealed(q, sealed_ts);
    /* After the load: the builder's first sweep must see every segment. */
    if (!rc)
        rc = tm_qidx_run(q);
    if (!rc && cfg->stream_urls) /* before the tails: they look for pushes */
        rc = tm_qstream_start(q, cfg->stream_urls);
    for (int i = 0; !rc && i < cfg->shards; i++) {
        if (!(q->serves >> i & 1))
            continue;
        q->shards[i].sealed_ts = q->shards[i].after = sealed_ts[i];
        atomic_store(&q->shards[i].applies, true);
        rc = pthread_create(&q->shards[i].thread, NULL, tail_main, &q->shards[i]) ? TM_ENOMEM : 0;
        q->shards[i].tailing = !rc;
    }
    if (!rc)
        rc = tm_rpc_server_start(&q->rpc, cfg->url, 32, handle, q);
    if (rc) {
        tm_query_role_stop(q);
        return rc;
    }
    *out = q;
    return 0;
}

void tm_query_role_stop(struct tm_query_role *q)
{
    if (!q)
        return;
    tm_rpc_server_stop(q->rpc);
    atomic_store(&q->stopping, true);
    for (int i = 0; q->shards && i < q->nshards_alloc; i++)
        if (q->shards[i].tailing)
            pthread_join(q->shards[i].thread, NULL);
    tm_qstream_stop(q); /* after the tails: they take its messages */
    tm_qidx_stop(q);    /* before the stores go: the builder reads them */
    for (int i = 0; q->shards && i < q->nshards_alloc; i++) {
        tm_rpc_client_close(q->shards[i].data);
        pthread_mutex_destroy(&q->shards[i].apply_mu);
    }
    tm_rpc_client_close(q->coord);
    for (size_t i = 0; i < q->ncolls; i++) {
        tm_qidx_coll_free(&q->colls[i]);
        tm_store_free(q->colls[i].store);
    }
    free(q->colls);
    free(q->shards);
    free(q->tsafe);
    pthread_mutex_destroy(&q->colls_mu);
    pthread_mutex_destroy(&q->progress_mu);
    pthread_cond_destroy(&q->progress);
    free(q);
}
