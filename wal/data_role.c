/* The data role: WAL shards with group commit, and their tails (see data_role.h).
 *
 * A write request waits on its own tm_wait. The shard's loop thread drains
 * the queue: up to MAX_BATCH requests take consecutive timestamps from the
 * shard's lease and go to Raft as ONE append (one disk write, one fsync:
 * group commit). Each request is acknowledged when its own entry is applied
 * (complete_upto). At most MAX_INFLIGHT entries are in flight; requests
 * arriving meanwhile queue up and form the next batch.
 */
#include "data_role_int.h"
#include "tm_crc32c.h"
#include "tm_log.h"
#include "tm_time.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

/* ---- apply (loop thread) ---- */

/* Folds one applied entry into the shard's running digest (a CRC32C of the
 * entry mixed into 64 bits, order-sensitive). */
void tm_data_digest_add(struct shard *sh, const void *buf, size_t len)
{
    uint64_t x = (sh->digest ^ tm_crc32c(0, buf, len)) * 0x9e3779b97f4a7c15ull;
    pthread_mutex_lock(&sh->tmu);
    sh->digest = x ^ (x >> 29);
    sh->ndigest++;
    pthread_mutex_unlock(&sh->tmu);
}

/* Keeps an applied entry for the tails. */
int tm_data_record_entry(struct shard *sh, const struct tm_entry_hdr *h, const void *buf,
                         size_t len)
{
    uint8_t *copy = malloc(len);
    if (!copy)
        return TM_ENOMEM;
    memcpy(copy, buf, len);
    pthread_mutex_lock(&sh->tmu);
    if (sh->nlog == sh->caplog) {
        uint64_t cap = sh->caplog ? sh->caplog * 2 : 1024;
        struct applied *grown = realloc(sh->log, cap * sizeof *grown);
        if (!grown) {
            pthread_mutex_unlock(&sh->tmu);
            free(copy);
            return TM_ENOMEM;
        }
        sh->log = grown;
        sh->caplog = cap;
    }
    bool seal = h->kind == TM_ENTRY_SEAL || h->kind == TM_ENTRY_COMPACT;
    sh->log[sh->nlog++] = (struct applied){copy, len, h->ts, seal};
    if (h->ts <= sh->last_ts) /* an invariant: timestamps rise along the log */
        TM_ERROR("data", "shard %d: entry ts %llu after %llu", sh->id, (unsigned long long)h->ts,
                 (unsigned long long)sh->last_ts);
    if (h->ts > sh->last_ts)
        sh->last_ts = h->ts;
    if (sh->tick_started)
        sh->tails_to_wake = true; /* at the turn's end */
    else                          /* replay, or stopping: no turn_end runs */
        pthread_cond_broadcast(&sh->tcond);
    pthread_mutex_unlock(&sh->tmu);
    return 0;
}

static void writes_call_step(struct write_req *req, int rc);

/* Ends a request: wakes its waiter, counts it for its call, or frees the
 * shard's own request. */
static void finish_req(struct write_req *req, int rc)
{
    if (req->call) {
        writes_call_step(req, rc);
        return;
    }
    if (!req->internal) {
        tm_wait_signal(&req->wait, rc); /* the waiter owns req from here */
        return;
    }
    if (rc)
        TM_WARN("data", "shard %d: seal failed: %s", req->sh->id, tm_strerror(rc));
    req->sh->seal_queued = false;
    free(req);
}

/* Wakes what the entries applied in this turn of the loop wait for: the
 * tails once, and each acknowledged writer. libraft applies a run of
 * committed entries in one callback; waking per entry would send the tails
 * back for one entry at a time and wake an RPC thread that waits for a
 * whole "writes" call once per entry. */
static void wake_turn(struct shard *sh)
{
    if (sh->tails_to_wake) {
        pthread_mutex_lock(&sh->tmu);
        pthread_cond_broadcast(&sh->tcond);
        pthread_mutex_unlock(&sh->tmu);
        tm_data_push_wake(sh);
        sh->tails_to_wake = false;
    }
    while (sh->acked_head) {
        struct write_req *req = sh->acked_head;
        sh->acked_head = req->pending;
        finish_req(req, 0);
    }
    sh->acked_tail = NULL;
}

static void on_turn_end(uv_check_t *c)
{
    wake_turn(c->data);
}

/* Acknowledges the requests whose entries are applied now (all with ts <= ts:
 * the pending list is in log order). A write is acknowledged only here, once
 * its own entry is applied: libraft 0.15 calls a multi-entry request's
 * callback after its FIRST entry, too early for the others. */
static void complete_upto(struct shard *sh, uint64_t ts)
{
    bool any = false;
    while (sh->pending_head && sh->pending_head->hdr.ts <= ts) {
        struct write_req *req = sh->pending_head;
        sh->pending_head = req->pending;
        if (!sh->pending_head)
            sh->pending_tail = NULL;
        sh->inflight--;
        any = true;
        req->pending = NULL;
        if (!sh->tick_started) {
            finish_req(req, 0);
            continue;
        }
        if (sh->acked_tail)
            sh->acked_tail->pending = req;
        else
            sh->acked_head = req;
        sh->acked_tail = req;
    }
    if (any)
        tm_data_post_drain(sh);
}

static int shard_apply(void *arg, const void *buf, size_t len)
{
    struct shard *sh = arg;
    struct tm_entry_hdr h;
    struct tm_span rows, pks;
    int rc = tm_entry_decode(buf, len, &h, &rows, &pks);
    if (rc)
        return rc;
    /* A retried request (same client id and sequence) was applied already:
     * it stays in the log but never reaches the tail, so readers see it once. */
    pthread_mutex_lock(&sh->tmu);
    bool dup = h.client_id[0] && tm_dedupe_seen(&sh->applied_ids, h.client_id, h.seq);
    pthread_mutex_unlock(&sh->tmu);
    if (!dup && (rc = tm_data_record_entry(sh, &h, buf, len)))
        return rc;
    if (!dup)
        tm_data_digest_add(sh, buf, len);
    if (!dup && (rc = tm_data_after_apply(sh, &h, rows, buf, len)))
        return rc;
    complete_upto(sh, h.ts);
    return 0;
}

/* ---- group commit (loop thread) ---- */

static void drain(struct shard *sh);

/* The callback of one multi-entry append. Success needs nothing here (each
 * request is acknowledged when its entry applies); a failure has an unknown
 * outcome and fails every request still waiting. */
static void on_batch_done(void *arg, int rc)
{
    struct shard *sh = arg;
    sh->batches--;
    while (rc && sh->pending_head) {
        struct write_req *req = sh->pending_head;
        sh->pending_head = req->pending;
        sh->inflight--;
        finish_req(req, rc);
    }
    if (rc)
        sh->pending_tail = NULL;
    drain(sh);
}

static unsigned take_batch(struct shard *sh, struct write_req **reqs, unsigned max)
{
    unsigned n = 0;
    pthread_mutex_lock(&sh->qmu);
    while (sh->qhead && n < max) {
        reqs[n++] = sh->qhead;
        sh->qhead = sh->qhead->next;
    }
    if (!sh->qhead)
        sh->qtail = NULL;
    pthread_mutex_unlock(&sh->qmu);
    return n;
}

static int encode_one(struct write_req *req, uint64_t ts, struct tm_raft_buf *buf)
{
    struct tm_buf out;
    tm_buf_init(&out);
    req->hdr.ts = ts;
    int rc = tm_entry_encode(&out, &req->hdr, req->rows, req->pks);
    buf->base = rc ? NULL : tm_raft_alloc(out.len);
    buf->len = out.len;
    if (buf->base)
        memcpy(buf->base, out.data, out.len);
    tm_buf_free(&out);
    return buf->base ? 0 : TM_ENOMEM;
}

/* Appends n requests as ONE Raft batch: one disk write, one fsync. */
static int append_batch(struct shard *sh, struct write_req **reqs, unsigned n)
{
    struct tm_raft_buf bufs[MAX_BATCH];
    uint64_t ts = 0;
    int rc = tm_data_shard_ts(sh, n, &ts);
    unsigned done = 0;
    for (; !rc && done < n; done++)
        rc = encode_one(reqs[done], ts + done, &bufs[done]);
    if (!rc)
        rc = tm_raft_group_append(sh->raft, bufs, n, on_batch_done, sh);
    if (rc) {
        while (done--)
            tm_raft_free(bufs[done].base);
        return rc;
    }
    for (unsigned i = 0; i < n; i++) {
        reqs[i]->pending = NULL;
        if (sh->pending_tail)
            sh->pending_tail->pending = reqs[i];
        else
            sh->pending_head = reqs[i];
        sh->pending_tail = reqs[i];
    }
    sh->inflight += (int)n;
    sh->batches++;
    return 0;
}

static void requeue_front(struct shard *sh, struct write_req **reqs, unsigned n)
{
    pthread_mutex_lock(&sh->qmu);
    for (unsigned i = n; i-- > 0;) {
        reqs[i]->next = sh->qhead;
        sh->qhead = reqs[i];
        if (!sh->qtail)
            sh->qtail = reqs[i];
    }
    pthread_mutex_unlock(&sh->qmu);
}

static void drain(struct shard *sh)
{
    struct write_req *reqs[MAX_BATCH];
    while (sh->inflight < MAX_INFLIGHT && sh->batches < MAX_BATCHES) {
        unsigned room = MAX_INFLIGHT - (unsigned)sh->inflight;
        unsigned n = take_batch(sh, reqs, room < MAX_BATCH ? room : MAX_BATCH);
        if (n == 0)
            return;
        int rc = append_batch(sh, reqs, n);
        bool stopping = atomic_load(&sh->role->stopping);
        bool may_lead = !sh->role->cluster || atomic_load(&sh->leading);
        if (rc == TM_EAGAIN && !stopping && may_lead) { /* no timestamps yet */
            requeue_front(sh, reqs, n);
            return;
        }
        if (rc == TM_EAGAIN) /* no lease will come: a stop, or a deposed leader */
            rc = stopping ? TM_ESHUTDOWN : TM_ENOTLEADER;
        if (rc) {
            TM_WARN("data", "shard %d: append of %u entries failed: %s", sh->id, n,
                    tm_strerror(rc));
            for (unsigned i = 0; i < n; i++)
                finish_req(reqs[i], rc);
        }
    }
}

static void drain_job(struct tm_raft_job *job, int stopping)
{
    struct shard *sh = (struct shard *)((char *)job - offsetof(struct shard, drain_job));
    struct write_req *reqs[MAX_BATCH];
    unsigned n;
    pthread_mutex_lock(&sh->qmu);
    sh->drain_posted = false;
    pthread_mutex_unlock(&sh->qmu);
    if (!stopping) {
        drain(sh);
        return;
    }
    while ((n = take_batch(sh, reqs, MAX_BATCH)) > 0)
        for (unsigned i = 0; i < n; i++)
            finish_req(reqs[i], TM_ESHUTDOWN);
}

/* Never appends from inside an FSM apply: the loop drains soon after. */
void tm_data_post_drain(struct shard *sh)
{
    pthread_mutex_lock(&sh->qmu);
    bool post = sh->qhead && !sh->drain_posted;
    sh->drain_posted |= post;
    pthread_mutex_unlock(&sh->qmu);
    if (post)
        tm_raft_group_post(sh->raft, &sh->drain_job);
}

/* ---- time ticks (loop thread) ---- */

static void publish_safe(struct shard *sh, uint64_t ts)
{
    pthread_mutex_lock(&sh->tmu);
    if (ts > sh->safe_ts)
        sh->safe_ts = ts;
    pthread_cond_broadcast(&sh->tcond);
    pthread_mutex_unlock(&sh->tmu);
    tm_data_push_wake(sh);
}

/* A tick's barrier committed: a majority still followed this leader after
 * the tick's timestamp was taken, so any later leader stamps above it. */
static void on_tick_committed(void *arg, int rc)
{
    struct shard *sh = arg;
    if (rc == 0 && atomic_load(&sh->leading))
        publish_safe(sh, sh->tick_ts);
}

static void on_snapshot_nudged(void *arg, int rc)
{
    (void)arg, (void)rc; /* the next tick looks again */
}

/* With nothing in flight, every later entry takes a later timestamp from the
 * TSO, so a fresh timestamp is safe: readers may treat the shard as complete
 * up to it. This advances tsafe on idle shards without writing entries of
 * our own. In a cluster the timestamp is published only once a Raft barrier
 * after it commits: a leader cut off from its followers (deposed without
 * knowing it yet) must not vouch for times a new leader may stamp below. */
static void on_tick(uv_timer_t *t)
{
    struct shard *sh = t->data;
    uint64_t ts;
    tm_data_trim_log(sh, tm_mono_ms());
    if (sh->role->cluster && !atomic_load(&sh->leading))
        return; /* only the leader seals and stamps: followers apply its log */
    tm_data_maybe_seal(sh);
    if (sh->inflight || tm_data_shard_ts(sh, 1, &ts))
        return;
    if (!sh->role->cluster) {
        publish_safe(sh, ts);
        /* A seal's snapshot libraft skipped (another was being written)
         * waits for an entry to apply; a barrier is one. In a cluster the
         * ticks' barriers below are. */
        if (tm_raft_group_snapshot_due(sh->raft))
            tm_raft_group_barrier(sh->raft, on_snapshot_nudged, sh);
        return;
    }
    uint64_t running = sh->tick_ts; /* a barrier still running keeps its own */
    sh->tick_ts = ts;
    if (tm_raft_group_barrier(sh->raft, on_tick_committed, sh))
        sh->tick_ts = running;
}

static void tick_start_job(struct tm_raft_job *job, int stopping)
{
    struct shard *sh = (struct shard *)((char *)job - offsetof(struct shard, tick_job));
    if (stopping)
        return;
    if (sh->snapshot_wanted) /* a seal replayed on start */
        tm_raft_group_snapshot_soon(sh->raft);
    sh->snapshot_wanted = false;
    uv_timer_init(tm_raft_group_loop(sh->raft), &sh->tick);
    sh->tick.data = sh;
    uv_timer_start(&sh->tick, on_tick, TICK_MS, TICK_MS);
    uv_check_init(tm_raft_group_loop(sh->raft), &sh->turn_end);
    sh->turn_end.data = sh;
    uv_check_start(&sh->turn_end, on_turn_end);
    pthread_mutex_lock(&sh->tmu);
    sh->pushed_ts = sh->last_ts; /* the replayed log is not pushed */
    sh->push_ready = true;
    pthread_mutex_unlock(&sh->tmu);
    sh->tick_started = true;
}

static void tick_stop_job(struct tm_raft_job *job, int stopping)
{
    struct shard *sh = (struct shard *)((char *)job - offsetof(struct shard, tick_job));
    (void)stopping;
    wake_turn(sh);
    if (sh->tick_started) {
        uv_close((uv_handle_t *)&sh->tick, NULL);
        uv_close((uv_handle_t *)&sh->turn_end, NULL);
    }
    sh->tick_started = false;
}

/* ---- calls ---- */

struct write_args {
    int64_t shard;
    struct write_req req;
};

static int write_key(struct tm_mpr *r, struct write_args *a, const char *k, uint32_t kn)
{
    struct tm_entry_hdr *h = &a->req.hdr;
    uint64_t u;
    if (KEY_IS(k, kn, "shard"))
        return tm_mpr_int(r, &a->shard);
    if (KEY_IS(k, kn, "kind"))
        return tm_mpr_uint(r, &u) ? r->err : (h->kind = (enum tm_entry_kind)u, 0);
    if (KEY_IS(k, kn, "coll"))
        return tm_mpr_int(r, &h->coll_id);
    if (KEY_IS(k, kn, "part"))
        return tm_mpr_int(r, &h->part_id);
    if (KEY_IS(k, kn, "dpart"))
        return tm_mpr_int(r, &h->default_part_id);
    if (KEY_IS(k, kn, "cid"))
        return tm_mpr_nil(r) ? 0 : tm_mpr_str_copy(r, h->client_id, sizeof h->client_id);
    if (KEY_IS(k, kn, "seq"))
        return tm_mpr_uint(r, &h->seq);
    if (KEY_IS(k, kn, "ops"))
        return tm_entry_ops_decode(r, h);
    struct tm_span *s = KEY_IS(k, kn, "rows")  ? &a->req.rows
                        : KEY_IS(k, kn, "pks") ? &a->req.pks
                                               : NULL;
    if (s && !tm_mpr_nil(r))
        return tm_mpr_raw(r, &s->p, &s->len);
    return s ? 0 : tm_mpr_skip(r);
}

static int parse_write(struct tm_mpr *body, struct write_args *a)
{
    uint32_t n, kn;
    const char *k;
    memset(a, 0, sizeof *a);
    a->req.hdr.version = TM_ENTRY_VERSION;
    if (tm_mpr_map(body, &n))
        return body->err;
    for (uint32_t i = 0; i < n; i++) {
        if (tm_mpr_str(body, &k, &kn))
            return body->err;
        int rc = write_key(body, a, k, kn);
        if (rc)
            return rc;
    }
    enum tm_entry_kind kind = a->req.hdr.kind;
    return kind >= TM_ENTRY_INSERT && kind <= TM_ENTRY_COMPACT ? 0 : TM_EINVAL;
}

static struct shard *shard_of(struct tm_data_role *d, int64_t id, struct tm_status *st)
{
    if (id < 0 || id >= d->nshards) {
        tm_status_set(st, TM_MV_INTERNAL, "no WAL shard %lld", (long long)id);
        return NULL;
    }
    if (!d->shards[id].hosted) {
        tm_status_set(st, TM_MV_NOT_LEADER, "WAL shard %lld has no replica here", (long long)id);
        return NULL;
    }
    return &d->shards[id];
}

static bool is_seal(const struct write_args *a)
{
    return a->req.hdr.kind == TM_ENTRY_SEAL || a->req.hdr.kind == TM_ENTRY_COMPACT;
}

#define FLUSH_SNAPSHOT_MS 2000

static void on_snapshot_nudged(void *arg, int rc);
static void wait_ms(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t ms);

/* Asks for the snapshot libraft put off while the seal was written: an
 * entry applied (a barrier) lets it try again. */
static void nudge_job(struct tm_raft_job *job, int stopping)
{
    struct shard *sh = (struct shard *)((char *)job - offsetof(struct shard, nudge_job));
    atomic_store(&sh->nudge_posted, false);
    if (!stopping && tm_raft_group_snapshot_due(sh->raft))
        tm_raft_group_barrier(sh->raft, on_snapshot_nudged, sh);
}

/* A seal (a flush) is answered once its segments are durable and the
 * snapshot behind it is taken, as when seals were written on the loop: a
 * restart then loads the segments instead of replaying the seal. The
 * snapshot is waited for FLUSH_SNAPSHOT_MS at most (it may be refused
 * meanwhile by another seal's write); the segments are durable anyway. */
static int await_segments(struct shard *sh, const struct write_args *a)
{
    const struct tm_shard_sink *sink = sh->role->sink;
    if (!is_seal(a) || !sink || !sink->durable)
        return 0;
    int rc = sink->durable(sink->arg, sh->id, a->req.hdr.ts);
    if (rc)
        return rc;
    if (!atomic_exchange(&sh->nudge_posted, true))
        tm_raft_group_post(sh->raft, &sh->nudge_job);
    uint64_t until = tm_mono_ms() + FLUSH_SNAPSHOT_MS;
    pthread_mutex_lock(&sh->tmu);
    while (sh->snap_seal_ts < a->req.hdr.ts && tm_mono_ms() < until)
        wait_ms(&sh->tcond, &sh->tmu, (int64_t)(until - tm_mono_ms()));
    pthread_mutex_unlock(&sh->tmu);
    return 0;
}

/* Queues each parsed write on sh and waits for them all; a[i].req.rc is
 * write i's result. */
static void write_all(struct shard *sh, struct write_args *a, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        tm_wait_init(&a[i].req.wait);
        tm_data_enqueue(sh, &a[i].req);
    }
    for (uint32_t i = 0; i < n; i++) {
        a[i].req.rc = tm_wait_for(&a[i].req.wait);
        tm_wait_destroy(&a[i].req.wait);
        if (!a[i].req.rc)
            a[i].req.rc = await_segments(sh, &a[i]);
    }
}

static void write_error(const struct write_args *a, char *msg, size_t cap)
{
    if (is_seal(a) && a->req.rc == TM_EIO)
        snprintf(msg, cap, "sealed segments not written yet (the log keeps the rows): %s",
                 tm_strerror(a->req.rc));
    else
        snprintf(msg, cap, "write not committed: %s", tm_strerror(a->req.rc));
}

static void call_write(struct tm_data_role *d, struct tm_mpr *body, struct tm_mpw *reply,
                       struct tm_status *st)
{
    struct write_args a;
    if (parse_write(body, &a)) {
        tm_status_set(st, TM_MV_INTERNAL, "malformed write request");
        return;
    }
    struct shard *sh = shard_of(d, a.shard, st);
    if (!sh)
        return;
    write_all(sh, &a, 1);
    if (a.req.rc) {
        char msg[128];
        write_error(&a, msg, sizeof msg);
        tm_status_set(st, TM_MV_INTERNAL, "%s", msg);
        return;
    }
    tm_mpw_map(reply, 1);
    tm_mpw_cstr(reply, "ts"), tm_mpw_uint(reply, a.req.hdr.ts);
}

static int parse_writes(struct tm_mpr *body, struct write_args **out, uint32_t *n)
{
    int64_t shard = tm_mpr_key_int(*body, "shard", -1);
    if (tm_mpr_find(body, "items") || tm_mpr_array(body, n) || *n == 0 || *n > TM_DATA_MAX_WRITES)
        return TM_ECORRUPT;
    struct write_args *a = calloc(*n, sizeof *a);
    int rc = a ? 0 : TM_ENOMEM;
    for (uint32_t i = 0; i < *n && !rc; i++)
        if (parse_write(body, &a[i]) || a[i].shard != shard)
            rc = TM_ECORRUPT;
    if (rc)
        free(a);
    *out = rc ? NULL : a;
    return rc;
}

/* In a cluster only a shard's leader takes writes and serves reads of its
 * log: a follower may lag, and only the leader stamps time ticks. */
static bool leads(struct tm_data_role *d, struct tm_mpr body, struct tm_status *st)
{
    int64_t id = tm_mpr_key_int(body, "shard", -1);
    if (!d->cluster || id < 0 || id >= d->nshards)
        return true; /* shard_of answers */
    uint64_t leader = 0;
    if (!d->shards[id].hosted) {
        tm_status_set(st, TM_MV_NOT_LEADER, "WAL shard %lld has no replica here", (long long)id);
        return false;
    }
    if (atomic_load(&d->shards[id].leading))
        return true;
    tm_raft_group_leading(d->shards[id].raft, &leader);
    tm_status_set(st, TM_MV_NOT_LEADER, "not the leader of WAL shard %lld (leader: node %llu)",
                  (long long)id, (unsigned long long)leader);
    return false;
}

/* A "writes" call in flight: taken on nng's thread (take_call), answered
 * on the shard's loop thread when its last write is done, so no RPC thread
 * waits for the commit. */
struct writes_call {
    struct tm_rpc_later *later;
    struct write_args *a;
    uint32_t n;
    atomic_uint left;
};

/* {"results": [{"ts"} or {"code", "message"} per write]} */
static void writes_reply(struct tm_mpw *reply, const struct write_args *a, uint32_t n)
{
    tm_mpw_map(reply, 1);
    tm_mpw_cstr(reply, "results"), tm_mpw_array(reply, n);
    for (uint32_t i = 0; i < n; i++) {
        if (a[i].req.rc) {
            char msg[128];
            write_error(&a[i], msg, sizeof msg);
            tm_mpw_map(reply, 2);
            tm_mpw_cstr(reply, "code"), tm_mpw_uint(reply, TM_MV_INTERNAL);
            tm_mpw_cstr(reply, "message"), tm_mpw_cstr(reply, msg);
        } else {
            tm_mpw_map(reply, 1);
            tm_mpw_cstr(reply, "ts"), tm_mpw_uint(reply, a[i].req.hdr.ts);
        }
    }
}

static void writes_call_step(struct write_req *req, int rc)
{
    struct writes_call *wc = req->call;
    req->rc = rc;
    if (atomic_fetch_sub(&wc->left, 1) != 1)
        return;
    struct tm_mpw reply;
    tm_mpw_init(&reply);
    writes_reply(&reply, wc->a, wc->n);
    tm_rpc_answer(wc->later, &reply, NULL);
    tm_mpw_free(&reply);
    free(wc->a);
    free(wc);
}

/* The blocking form, for calls beyond what the server holds at once. */
static void call_writes(struct tm_data_role *d, struct tm_mpr *body, struct tm_mpw *reply,
                        struct tm_status *st)
{
    struct write_args *a;
    uint32_t n;
    if (parse_writes(body, &a, &n)) {
        tm_status_set(st, TM_MV_INTERNAL, "malformed writes request");
        return;
    }
    struct shard *sh = shard_of(d, a[0].shard, st);
    if (sh) {
        write_all(sh, a, n);
        writes_reply(reply, a, n);
    }
    free(a);
}

static bool any_seal(const struct write_args *a, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (is_seal(&a[i]))
            return true;
    return false;
}

/* tm_rpc_async_fn: takes every "writes" call but a flush's, which waits
 * for its segments on an RPC thread (call_writes). */
static bool take_call(void *arg, const char *type, struct tm_mpr *body, struct tm_rpc_later *later)
{
    struct tm_data_role *d = arg;
    struct tm_status st;
    struct write_args *a = NULL;
    uint32_t n = 0;
    if (strcmp(type, "writes") != 0)
        return false;
    struct tm_mpr parsed = *body; /* body stays whole for call_writes */
    tm_status_ok(&st);
    struct writes_call *wc = leads(d, *body, &st) ? calloc(1, sizeof *wc) : NULL;
    struct shard *sh = NULL;
    bool parse_failed = wc && parse_writes(&parsed, &a, &n);
    if (!parse_failed && a && any_seal(a, n)) {
        free(a);
        free(wc);
        return false;
    }
    if (parse_failed)
        tm_status_set(&st, TM_MV_INTERNAL, "malformed writes request");
    else if (wc)
        sh = shard_of(d, a[0].shard, &st);
    else if (!st.code)
        tm_status_set(&st, TM_MV_INTERNAL, "out of memory");
    if (!sh) {
        tm_rpc_answer(later, NULL, &st);
        free(a);
        free(wc);
        return true;
    }
    *wc = (struct writes_call){.later = later, .a = a, .n = n};
    atomic_init(&wc->left, n);
    for (uint32_t i = 0; i < n; i++) { /* wc may be gone after the last */
        a[i].req.call = wc;
        tm_data_enqueue(sh, &a[i].req);
    }
    return true;
}

void tm_data_enqueue(struct shard *sh, struct write_req *req)
{
    req->sh = sh;
    req->next = NULL;
    pthread_mutex_lock(&sh->qmu);
    if (sh->qtail)
        sh->qtail->next = req;
    else
        sh->qhead = req;
    sh->qtail = req;
    bool post = !sh->drain_posted;
    sh->drain_posted = true;
    pthread_mutex_unlock(&sh->qmu);
    if (post)
        tm_raft_group_post(sh->raft, &sh->drain_job);
}

static void wait_ms(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t ms)
{
    struct timespec ts = tm_deadline_ms((uint64_t)ms);
    pthread_cond_timedwait(cond, mu, &ts);
}

uint64_t tm_data_first_after(const struct shard *sh, uint64_t after)
{
    uint64_t lo = 0, hi = sh->nlog;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (sh->log[mid].ts <= after)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Under tmu: whether the entries after `after` are in memory, once the
 * reader is noted and up to wait ms spent waiting for one. The log may be
 * freed past `after` during the wait, so that is checked last. */
static bool tail_wait(struct shard *sh, uint64_t after, uint64_t reader, int64_t wait)
{
    if (!tm_data_hold(sh, reader, after, tm_mono_ms()))
        return false;
    if (wait && tm_data_first_after(sh, after) >= sh->nlog)
        wait_ms(&sh->tcond, &sh->tmu, wait);
    return after >= sh->base_ts;
}

/* Releases tmu and answers that the entries after `after` are freed. */
static void freed_error(struct shard *sh, uint64_t after, struct tm_status *st)
{
    uint64_t base = sh->base_ts;
    pthread_mutex_unlock(&sh->tmu);
    tm_status_set(st, TM_MV_INTERNAL,
                  "shard %d: entries after %llu are in sealed segments here (up to %llu)", sh->id,
                  (unsigned long long)after, (unsigned long long)base);
}

/* "hold": a reader's position noted without a read (a query node loading
 * sealed ranges before its first "tail"). */
static void call_hold(struct tm_data_role *d, struct tm_mpr *body, struct tm_mpw *reply,
                      struct tm_status *st)
{
    struct shard *sh = shard_of(d, tm_mpr_key_int(*body, "shard", -1), st);
    int64_t after = tm_mpr_key_int(*body, "after", -1);
    int64_t reader = tm_mpr_key_int(*body, "reader", 0);
    if (!sh)
        return;
    if (after < 0 || reader <= 0) {
        tm_status_set(st, TM_MV_INTERNAL, "bad hold request");
        return;
    }
    pthread_mutex_lock(&sh->tmu);
    if (!tail_wait(sh, (uint64_t)after, (uint64_t)reader, 0)) {
        freed_error(sh, (uint64_t)after, st);
        return;
    }
    pthread_mutex_unlock(&sh->tmu);
    tm_mpw_map(reply, 0);
}

static void call_tail(struct tm_data_role *d, struct tm_mpr *body, struct tm_mpw *reply,
                      struct tm_status *st)
{
    struct shard *sh = shard_of(d, tm_mpr_key_int(*body, "shard", -1), st);
    int64_t after = tm_mpr_key_int(*body, "after", 0);
    int64_t wait = tm_mpr_key_int(*body, "wait_ms", 0);
    int64_t reader = tm_mpr_key_int(*body, "reader", 0);
    if (!sh)
        return;
    if (after < 0 || wait < 0 || wait > 1000) {
        tm_status_set(st, TM_MV_INTERNAL, "bad tail request");
        return;
    }
    pthread_mutex_lock(&sh->tmu);
    if (!tail_wait(sh, (uint64_t)after, (uint64_t)reader, wait)) {
        freed_error(sh, (uint64_t)after, st);
        return;
    }
    uint64_t first = tm_data_first_after(sh, (uint64_t)after), end = first, bytes = 0;
    while (end < sh->nlog && (end == first || bytes + sh->log[end].len <= TAIL_MAX_BYTES))
        bytes += sh->log[end++].len;
    tm_mpw_map(reply, 2);
    tm_mpw_cstr(reply, "entries"), tm_mpw_array(reply, (uint32_t)(end - first));
    for (uint64_t i = first; i < end; i++)
        tm_mpw_bin(reply, sh->log[i].p, sh->log[i].len);
    /* Everything at or below `safe` is in the entries up to `end`. */
    uint64_t safe = end == sh->nlog ? (sh->last_ts > sh->safe_ts ? sh->last_ts : sh->safe_ts)
                                    : sh->log[end - 1].ts;
    tm_mpw_cstr(reply, "safe"), tm_mpw_uint(reply, safe);
    pthread_mutex_unlock(&sh->tmu);
}

static void call_digest(struct tm_data_role *d, struct tm_mpr *body, struct tm_mpw *reply,
                        struct tm_status *st)
{
    struct shard *sh = shard_of(d, tm_mpr_key_int(*body, "shard", -1), st);
    if (!sh)
        return;
    pthread_mutex_lock(&sh->tmu);
    tm_mpw_map(reply, 4);
    tm_mpw_cstr(reply, "leading"), tm_mpw_bool(reply, !d->cluster || atomic_load(&sh->leading));
    tm_mpw_cstr(reply, "n"), tm_mpw_uint(reply, sh->ndigest);
    tm_mpw_cstr(reply, "ts"), tm_mpw_uint(reply, sh->last_ts);
    tm_mpw_cstr(reply, "digest"), tm_mpw_uint(reply, sh->digest);
    pthread_mutex_unlock(&sh->tmu);
}

static void call_last_ts(struct tm_data_role *d, struct tm_mpr *body, struct tm_mpw *reply,
                         struct tm_status *st)
{
    struct shard *sh = shard_of(d, tm_mpr_key_int(*body, "shard", -1), st);
    if (!sh)
        return;
    pthread_mutex_lock(&sh->tmu);
    uint64_t ts = sh->last_ts;
    pthread_mutex_unlock(&sh->tmu);
    tm_mpw_map(reply, 1);
    tm_mpw_cstr(reply, "ts"), tm_mpw_uint(reply, ts);
}

/* "applied" {"shard", "cid", "seq"} -> {"applied": 0|1}: whether a named
 * write was applied already (a retry the proxy can answer at once). */
static void call_applied(struct tm_data_role *d, struct tm_mpr *body, struct tm_mpw *reply,
                         struct tm_status *st)
{
    struct write_args a;
    if (parse_write(body, &a) != 0 && a.req.hdr.client_id[0] == '\0') {
        tm_status_set(st, TM_MV_INTERNAL, "malformed applied request");
        return;
    }
    struct shard *sh = shard_of(d, a.shard, st);
    if (!sh)
        return;
    pthread_mutex_lock(&sh->tmu);
    bool applied = tm_dedupe_contains(&sh->applied_ids, a.req.hdr.client_id, a.req.hdr.seq);
    pthread_mutex_unlock(&sh->tmu);
    tm_mpw_map(reply, 1);
    tm_mpw_cstr(reply, "applied"), tm_mpw_uint(reply, applied);
}

static void handle(void *arg, const char *type, struct tm_mpr *body, struct tm_mpw *reply,
                   struct tm_status *st)
{
    struct tm_data_role *d = arg;
    if (strcmp(type, "digest") == 0) {
        call_digest(d, body, reply, st);
        return;
    }
    if (!leads(d, *body, st))
        return;
    if (strcmp(type, "applied") == 0)
        call_applied(d, body, reply, st);
    else if (strcmp(type, "write") == 0)
        call_write(d, body, reply, st);
    else if (strcmp(type, "writes") == 0)
        call_writes(d, body, reply, st);
    else if (strcmp(type, "tail") == 0)
        call_tail(d, body, reply, st);
    else if (strcmp(type, "hold") == 0)
        call_hold(d, body, reply, st);
    else if (strcmp(type, "last_ts") == 0)
        call_last_ts(d, body, reply, st);
    else if (strcmp(type, "sealed") == 0)
        tm_data_call_sealed(d, body, reply, st);
    else if (strcmp(type, "files") == 0)
        tm_data_call_files(d, body, reply, st);
    else if (strcmp(type, "file") == 0)
        tm_data_call_file(d, body, reply, st);
    else
        tm_status_set(st, TM_MV_INTERNAL, "unknown call %s", type);
}

/* ---- lifecycle ---- */

/* raftgroup's on_leader, on the shard's loop thread. */
static void shard_on_leader(void *arg, int leading)
{
    struct shard *sh = arg;
    /* A new leader takes a fresh lease: the TSO has moved on past anything
     * the previous leader stamped, so timestamps keep rising along the log.
     * The reset wakes the lease thread, which must see the new leadership
     * (or it sleeps on); a spare it fetched before the reset is dropped. */
    atomic_store(&sh->leading, leading != 0);
    tm_data_lease_reset(sh);
    TM_INFO("data", "shard %d: this node %s", sh->id, leading ? "leads" : "no longer leads");
}

/* Test hook: TIDEMARK_TEST_SNAPSHOT_TRAILING=N keeps only N entries behind
 * a cluster replica's snapshots, so a test's short outage already needs the
 * leader's snapshot. Unset in normal use: 4096. */
static unsigned cluster_trailing(void)
{
    const char *v = getenv("TIDEMARK_TEST_SNAPSHOT_TRAILING");
    unsigned n = v ? (unsigned)strtoul(v, NULL, 10) : 0;
    if (n)
        TM_WARN("data", "test hook: %u entries kept behind a snapshot", n);
    return n ? n : 4096;
}

static const struct tm_data_group *group_of(const struct tm_data_role_config *cfg, int id)
{
    if (!cfg->groups)
        return NULL;
    const struct tm_data_group *g = &cfg->groups[id];
    for (unsigned i = 0; i < g->n; i++)
        if (g->members[i].id == cfg->self_id)
            return g;
    return NULL;
}

static int shard_start(struct tm_data_role *d, struct shard *sh, int id,
                       const struct tm_data_role_config *dc)
{
    char path[4096];
    const char *dir = dc->dir;
    const struct tm_data_group *grp = group_of(dc, id);
    snprintf(path, sizeof path, "%s/shard-%d", dir, id);
    sh->role = d;
    sh->id = id;
    sh->drain_job.fn = drain_job;
    sh->nudge_job.fn = nudge_job;
    pthread_mutex_init(&sh->qmu, NULL);
    pthread_mutex_init(&sh->tmu, NULL);
    pthread_mutex_init(&sh->lease_mu, NULL);
    pthread_cond_init(&sh->tcond, NULL);
    int rc = tm_dedupe_init(&sh->applied_ids);
    sh->hosted = !d->cluster || grp;
    if (rc || !sh->hosted)
        return rc;
    const char *self_addr = "data-1";
    for (unsigned i = 0; grp && i < grp->n; i++)
        if (grp->members[i].id == dc->self_id)
            self_addr = grp->members[i].address;
    struct tm_raft_group_config cfg = {
        .dir = path,
        .id = grp ? dc->self_id : 1,
        .address = self_addr,
        .members = grp ? grp->members : NULL,
        .nmembers = grp ? grp->n : 0,
        .election_ms = dc->election_ms,
        .on_leader = grp ? shard_on_leader : NULL,
        .apply = shard_apply,
        .arg = sh,
        /* Snapshots only right behind a seal (tm_data_after_apply asks for
         * one), never by count: a snapshot elsewhere would have to carry
         * the growing rows. Without a sink, never. */
        .snapshot = d->sink ? tm_data_snapshot : NULL,
        .restore = d->sink ? tm_data_restore : NULL,
        .snapshot_threshold = 0,
        /* Entries kept behind a snapshot: the entries it follows are in
         * segments already, so a few suffice alone. In a cluster, enough
         * that a replica back from a short outage catches up from the log
         * without installing the leader's snapshot (which copies the
         * ranges it names from the leader: segment/sealer.c). */
        .snapshot_trailing = grp ? cluster_trailing() : 8,
    };
    rc = tm_data_push_start(sh); /* first: the loop wakes it from its start */
    if (!rc)
        rc = tm_raft_group_start(&sh->raft, &cfg);
    if (rc)
        return rc;
    sh->tick_job.fn = tick_start_job;
    tm_raft_group_post(sh->raft, &sh->tick_job);
    TM_INFO("data", "shard %d %s %llu entries from %s", id, grp ? "holds" : "replayed",
            (unsigned long long)sh->nlog, path);
    /* The seals replayed are written before the roles that read segments
     * start (as when the loop wrote them): a query role starting now finds
     * them listed, not as rows of the log. */
    if (d->sink && d->sink->durable && d->sink->durable(d->sink->arg, id, UINT64_MAX))
        TM_WARN("data", "shard %d: a replayed seal is not written yet: the log keeps it", id);
    return 0;
}

static void shard_stop(struct shard *sh)
{
    if (sh->raft) {
        sh->tick_job.fn = tick_stop_job;
        tm_raft_group_post(sh->raft, &sh->tick_job);
        tm_raft_group_stop(sh->raft);
    }
    tm_data_push_stop(sh);
    for (uint64_t i = 0; i < sh->nlog; i++)
        free(sh->log[i].p);
    free(sh->log);
    tm_dedupe_free(&sh->applied_ids);
    pthread_mutex_destroy(&sh->qmu);
    pthread_mutex_destroy(&sh->tmu);
    pthread_mutex_destroy(&sh->lease_mu);
    pthread_cond_destroy(&sh->tcond);
}

int tm_data_role_start(struct tm_data_role **out, const struct tm_data_role_config *cfg)
{
    struct tm_data_role *d = calloc(1, sizeof *d);
    if (!d)
        return TM_ENOMEM;
    d->shards = calloc((size_t)cfg->shards, sizeof *d->shards);
    d->sink = cfg->sink;
    d->seal_bytes = cfg->seal_bytes ? cfg->seal_bytes : (64u << 20);
    d->seal_rows = cfg->seal_rows ? cfg->seal_rows : TM_DATA_SEAL_ROWS_DEFAULT;
    int rc = d->shards ? tm_rpc_client_open(&d->coord, cfg->coord_url) : TM_ENOMEM;
    d->cluster = cfg->groups != NULL;
    snprintf(d->files_root, sizeof d->files_root, "%s", cfg->files_dir ? cfg->files_dir : "");
    tm_data_lease_init(d);
    if (!rc && cfg->stream_url) /* before the shards: their pushers send */
        rc = tm_stream_pub_open(&d->stream, cfg->stream_url);
    for (int i = 0; !rc && i < cfg->shards; i++, d->nshards++)
        rc = shard_start(d, &d->shards[i], i, cfg);
    if (!rc)
        rc = tm_data_lease_start(d);
    if (!rc)
        rc = tm_rpc_server_start_async(&d->rpc, cfg->url, 64, handle, take_call, d);
    if (!rc && cfg->writes_url)
        rc = tm_rpc_server_listen_direct(d->rpc, cfg->writes_url);
    if (rc) {
        tm_data_role_stop(d);
        return rc;
    }
    *out = d;
    return 0;
}

void tm_data_role_stop(struct tm_data_role *d)
{
    if (!d)
        return;
    /* The server's stop waits for the writes it holds: queued ones that
     * wait for a lease are failed instead (drain). */
    atomic_store(&d->stopping, true);
    for (int i = 0; i < d->nshards; i++)
        if (d->shards[i].raft)
            tm_data_post_drain(&d->shards[i]);
    tm_rpc_server_stop(d->rpc);
    tm_data_lease_stop(d); /* it posts drains to the shards */
    for (int i = 0; i < d->nshards; i++)
        shard_stop(&d->shards[i]);
    tm_stream_pub_close(d->stream); /* after the shards' pushers */
    tm_rpc_client_close(d->coord);
    tm_data_lease_destroy(d);
    free(d->shards);
    free(d);
}
