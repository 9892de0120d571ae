/* Raft groups on a libuv loop thread (see raftgroup.h). */
#include "raftgroup.h"
#include "segment_zero.h"
#include "tm_err.h"
#include "tm_log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <raft.h>
#include <raft/uv.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

struct tm_raft_group {
    struct tm_raft_group_config cfg;
    char dir[4096];
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t ready_timer;
    pthread_t thread;
    struct raft_uv_transport transport;
    struct raft_uv_transport tcp; /* wrapped by transport in a group of several */
    raft_uv_accept_cb accept_cb;
    raft_uv_transport_close_cb close_cb;
    bool tcp_up;
    struct raft_io io;
    /* raft_uv's start, and libraft's tick and receive callbacks, which ours
     * call first (io_start) */
    int (*uv_start)(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv);
    raft_io_tick_cb raft_tick;
    raft_io_recv_cb raft_recv;
    struct raft_fsm fsm;
    struct raft raft;
    struct raft_barrier barrier;
    int stage; /* of raft_setup: 1 raft_uv initialised, 2 raft too */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct tm_raft_job *jobs, *jobs_tail;
    int start_rc;  /* 1 while starting, then 0 or an error */
    bool stopping; /* guarded by mu */
    /* leadership, written on the loop thread */
    bool barrier_running;
    struct raft_barrier user_barrier; /* tm_raft_group_barrier */
    tm_raft_done_fn user_done;
    void *user_arg;
    bool snapshot_due;   /* tm_raft_group_snapshot_soon, loop thread only */
    atomic_bool leading; /* leads and applied every earlier entry */
    atomic_uint_fast64_t leader_id;
};

/* ---- a transport for single-member groups ----
 * A group of one never talks to a peer, so it needs no socket; the cluster
 * issue swaps in raft_uv_tcp wrapped to set TCP_NODELAY. */

static int null_init(struct raft_uv_transport *t, raft_id id, const char *address)
{
    (void)t, (void)id, (void)address;
    return 0;
}

static int null_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
    (void)t, (void)cb;
    return 0;
}

static int null_connect(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
                        const char *address, raft_uv_connect_cb cb)
{
    (void)t, (void)req, (void)id, (void)address, (void)cb;
    return RAFT_NOCONNECTION;
}

static void null_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
    if (cb)
        cb(t);
}

/* ---- raft_uv_tcp with TCP_NODELAY on every connection ----
 * The stock transport never sets it, and pipelined AppendEntries then wait
 * for delayed ACKs (~40 ms per round, wal-anchor.md §4.1). The wrapper hands
 * every call to raft_uv_tcp and sets the option on each stream it returns. */

static struct tm_raft_group *group_of_tcp(struct raft_uv_transport *tcp)
{
    return (struct tm_raft_group *)((char *)tcp - offsetof(struct tm_raft_group, tcp));
}

static struct tm_raft_group *group_of_transport(struct raft_uv_transport *t)
{
    return (struct tm_raft_group *)((char *)t - offsetof(struct tm_raft_group, transport));
}

static int nodelay_init(struct raft_uv_transport *t, raft_id id, const char *address)
{
    struct tm_raft_group *g = group_of_transport(t);
    return g->tcp.init(&g->tcp, id, address);
}

static void nodelay_accepted(struct raft_uv_transport *tcp, raft_id id, const char *address,
                             struct uv_stream_s *stream)
{
    struct tm_raft_group *g = group_of_tcp(tcp);
    uv_tcp_nodelay((uv_tcp_t *)stream, 1);
    g->accept_cb(&g->transport, id, address, stream);
}

static int nodelay_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
    struct tm_raft_group *g = group_of_transport(t);
    g->accept_cb = cb;
    return g->tcp.listen(&g->tcp, nodelay_accepted);
}

struct nodelay_connect {
    struct raft_uv_connect req; /* what raft_uv_tcp sees */
    struct raft_uv_connect *outer;
    raft_uv_connect_cb cb;
};

static void nodelay_connected(struct raft_uv_connect *req, struct uv_stream_s *stream, int status)
{
    struct nodelay_connect *c = req->data;
    if (status == 0)
        uv_tcp_nodelay((uv_tcp_t *)stream, 1);
    c->cb(c->outer, stream, status);
    free(c);
}

static int nodelay_connect(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
                           const char *address, raft_uv_connect_cb cb)
{
    struct tm_raft_group *g = group_of_transport(t);
    struct nodelay_connect *c = calloc(1, sizeof *c);
    if (!c)
        return RAFT_NOMEM;
    c->req.data = c;
    c->outer = req;
    c->cb = cb;
    int rv = g->tcp.connect(&g->tcp, &c->req, id, address, nodelay_connected);
    if (rv)
        free(c);
    return rv;
}

static void nodelay_closed(struct raft_uv_transport *tcp)
{
    struct tm_raft_group *g = group_of_tcp(tcp);
    if (g->close_cb)
        g->close_cb(&g->transport);
}

static void nodelay_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
    struct tm_raft_group *g = group_of_transport(t);
    g->close_cb = cb;
    g->tcp.close(&g->tcp, nodelay_closed);
}

static int transport_setup(struct tm_raft_group *g)
{
    if (!g->cfg.members) {
        g->transport = (struct raft_uv_transport){
            .init = null_init, .listen = null_listen, .connect = null_connect, .close = null_close};
        return 0;
    }
    /* libuv writes to sockets without MSG_NOSIGNAL: a peer that died
     * mid-write must cost an error, not this process. */
    signal(SIGPIPE, SIG_IGN);
    int rv = raft_uv_tcp_init(&g->tcp, &g->loop);
    if (rv)
        return TM_ERROR("raft", "%s: raft_uv_tcp_init: %d", g->dir, rv), TM_EIO;
    g->tcp_up = true;
    g->transport = (struct raft_uv_transport){.init = nodelay_init,
                                              .listen = nodelay_listen,
                                              .connect = nodelay_connect,
                                              .close = nodelay_close};
    return 0;
}

/* ---- FSM adapter ---- */

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    struct tm_raft_group *g = fsm->data;
    *result = NULL;
    int rc = g->cfg.apply(g->cfg.arg, buf->base, buf->len);
    if (rc)
        TM_ERROR("raft", "%s: apply failed: %s", g->dir, tm_strerror(rc));
    return rc ? RAFT_INVALID : 0;
}

static unsigned threshold_of(const struct tm_raft_group *g)
{
    return g->cfg.snapshot_threshold ? g->cfg.snapshot_threshold : UINT32_MAX;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n)
{
    struct tm_raft_group *g = fsm->data;
    struct tm_buf out;
    tm_buf_init(&out);
    int rc = g->cfg.snapshot ? g->cfg.snapshot(g->cfg.arg, &out) : TM_EINVAL;
    if (rc || tm_buf_pad(&out, 8)) {
        tm_buf_free(&out);
        /* RAFT_BUSY: libraft tries again after the next entry it applies */
        return rc == TM_EAGAIN ? RAFT_BUSY : RAFT_NOMEM;
    }
    *bufs = raft_malloc(sizeof **bufs);
    void *data = raft_malloc(out.len ? out.len : 8);
    if (!*bufs || !data) {
        raft_free(*bufs);
        raft_free(data);
        tm_buf_free(&out);
        return RAFT_NOMEM;
    }
    memcpy(data, out.data, out.len);
    (*bufs)[0].base = data;
    (*bufs)[0].len = out.len;
    *n = 1;
    tm_buf_free(&out);
    /* A snapshot asked for by tm_raft_group_snapshot_soon is taken: back to
     * the configured rhythm. */
    raft_set_snapshot_threshold(&g->raft, threshold_of(g));
    g->snapshot_due = false;
    return 0;
}

void tm_raft_group_snapshot_soon(struct tm_raft_group *g)
{
    raft_set_snapshot_threshold(&g->raft, 1);
    g->snapshot_due = true;
}

bool tm_raft_group_snapshot_due(const struct tm_raft_group *g)
{
    return g->snapshot_due;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    struct tm_raft_group *g = fsm->data;
    int rc = g->cfg.restore ? g->cfg.restore(g->cfg.arg, buf->base, buf->len) : TM_EINVAL;
    if (rc)
        return RAFT_CORRUPT;
    raft_free(buf->base);
    return 0;
}

/* ---- jobs ---- */

static struct tm_raft_job *jobs_take(struct tm_raft_group *g)
{
    pthread_mutex_lock(&g->mu);
    struct tm_raft_job *j = g->jobs;
    g->jobs = g->jobs_tail = NULL;
    pthread_mutex_unlock(&g->mu);
    return j;
}

static void run_jobs(struct tm_raft_job *j, int stopping)
{
    while (j) {
        struct tm_raft_job *next = j->next;
        j->fn(j, stopping);
        j = next;
    }
}

static void on_wake(uv_async_t *h)
{
    struct tm_raft_group *g = h->data;
    run_jobs(jobs_take(g), 0);
}

void tm_raft_group_post(struct tm_raft_group *g, struct tm_raft_job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&g->mu);
    bool stopping = g->stopping;
    if (!stopping) {
        if (g->jobs_tail)
            g->jobs_tail->next = job;
        else
            g->jobs = job;
        g->jobs_tail = job;
    }
    pthread_mutex_unlock(&g->mu);
    if (stopping)
        job->fn(job, 1);
    else
        uv_async_send(&g->wake);
}

/* ---- start ---- */

/* How often leadership is checked besides after libraft's ticks and
 * messages: a safety net (a barrier that failed is run again by then). */
#define READY_POLL_MS 100

static void start_done(struct tm_raft_group *g, int rc)
{
    pthread_mutex_lock(&g->mu);
    g->start_rc = rc;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->mu);
}

static void on_barrier(struct raft_barrier *req, int status)
{
    struct tm_raft_group *g = req->data;
    g->barrier_running = false;
    if (!g->cfg.members) {
        if (status)
            TM_ERROR("raft", "%s: replay barrier failed: %s", g->dir, raft_strerror(status));
        start_done(g, status ? TM_EIO : 0);
        return;
    }
    /* Leadership may have moved while the barrier ran: the next poll says. */
    if (status == 0 && raft_state(&g->raft) == RAFT_LEADER && !atomic_load(&g->leading)) {
        atomic_store(&g->leading, true);
        TM_INFO("raft", "%s: member %llu leads (term %llu)", g->dir, (unsigned long long)g->cfg.id,
                (unsigned long long)g->raft.current_term);
        if (g->cfg.on_leader)
            g->cfg.on_leader(g->cfg.arg, 1);
    }
}

static void run_barrier(struct tm_raft_group *g)
{
    g->barrier.data = g;
    g->barrier_running = true;
    int rv = raft_barrier(&g->raft, &g->barrier, on_barrier);
    if (rv) {
        g->barrier_running = false;
        TM_ERROR("raft", "%s: barrier: %s", g->dir, raft_strerror(rv));
        if (!g->cfg.members)
            start_done(g, TM_EIO);
    }
}

/* A group of one: once this member leads, replays the log with a barrier.
 * A group of several: follows leadership for the group's life. libraft
 * 0.15 appends nothing on election, so a new leader runs a barrier before
 * it calls itself leading: entries of earlier terms are applied first, and
 * every acknowledged write is in its state. Called after each of libraft's
 * ticks and received messages, where its state changes, and by a slow
 * timer for anything else. */
static void follow_leadership(struct tm_raft_group *g)
{
    if (raft_state(&g->raft) == RAFT_UNAVAILABLE)
        return; /* closing, or not started */
    raft_id id = 0;
    const char *addr = NULL;
    raft_leader(&g->raft, &id, &addr);
    atomic_store(&g->leader_id, id);
    bool leader = raft_state(&g->raft) == RAFT_LEADER;
    if (!g->cfg.members) { /* started once it replayed: nothing more to follow */
        if (leader && !g->barrier_running && g->start_rc == 1)
            run_barrier(g);
        if (g->start_rc != 1)
            uv_timer_stop(&g->ready_timer);
        return;
    }
    if (leader && !atomic_load(&g->leading) && !g->barrier_running)
        run_barrier(g);
    if (!leader && atomic_load(&g->leading)) {
        atomic_store(&g->leading, false);
        TM_INFO("raft", "%s: member %llu stopped leading", g->dir, (unsigned long long)g->cfg.id);
        if (g->cfg.on_leader)
            g->cfg.on_leader(g->cfg.arg, 0);
    }
}

static void on_ready_timer(uv_timer_t *t)
{
    follow_leadership(t->data);
}

static struct tm_raft_group *group_of_io(struct raft_io *io)
{
    return (struct tm_raft_group *)((char *)io - offsetof(struct tm_raft_group, io));
}

static void on_tick(struct raft_io *io)
{
    struct tm_raft_group *g = group_of_io(io);
    g->raft_tick(io);
    follow_leadership(g);
}

static void on_recv(struct raft_io *io, struct raft_message *msg)
{
    struct tm_raft_group *g = group_of_io(io);
    g->raft_recv(io, msg);
    follow_leadership(g);
}

/* Wraps libraft's tick and receive callbacks, so that a change of leader
 * is seen where it happens instead of by polling (each poll a wake-up of
 * the loop thread: 200 a second per group at the 5 ms it used to be). */
static int io_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv)
{
    struct tm_raft_group *g = group_of_io(io);
    g->raft_tick = tick;
    g->raft_recv = recv;
    return g->uv_start(io, msecs, on_tick, on_recv);
}

int tm_raft_group_leading(struct tm_raft_group *g, uint64_t *leader_id)
{
    if (leader_id)
        *leader_id = atomic_load(&g->leader_id);
    return atomic_load(&g->leading);
}

/* After a failed start: raft's close callback releases raft_uv, then the
 * wake handle goes and the loop ends with nothing left allocated. */
static void on_failed_close(struct raft *r)
{
    struct tm_raft_group *g = r->data;
    raft_uv_close(&g->io);
    uv_close((uv_handle_t *)&g->wake, NULL);
}

static int bootstrap(struct tm_raft_group *g)
{
    struct raft_configuration conf;
    raft_configuration_init(&conf);
    int rv = 0;
    if (!g->cfg.members)
        rv = raft_configuration_add(&conf, g->cfg.id, g->cfg.address, RAFT_VOTER);
    for (unsigned i = 0; !rv && i < g->cfg.nmembers; i++)
        rv = raft_configuration_add(&conf, g->cfg.members[i].id, g->cfg.members[i].address,
                                    RAFT_VOTER);
    if (!rv)
        rv = raft_bootstrap(&g->raft, &conf);
    raft_configuration_close(&conf);
    if (rv && rv != RAFT_CANTBOOTSTRAP) /* CANTBOOTSTRAP: it has state already */
        return TM_ERROR("raft", "%s: bootstrap: %s", g->dir, raft_strerror(rv)), TM_EIO;
    return 0;
}

static int raft_setup(struct tm_raft_group *g)
{
    int rc = transport_setup(g);
    if (rc)
        return rc;
    if (!tm_segment_zero_bound())
        TM_WARN("raft", "libraft's segments keep unwritten extents: each append "
                        "falls back to its thread pool");
    int rv = raft_uv_init(&g->io, &g->loop, g->dir, &g->transport);
    if (rv)
        return TM_ERROR("raft", "%s: raft_uv_init: %s", g->dir, g->io.errmsg), TM_EIO;
    g->stage = 1;
    g->uv_start = g->io.start;
    g->io.start = io_start;
    /* A restarted peer is reachable again after 100 ms, not the default 1 s. */
    raft_uv_set_connect_retry_delay(&g->io, 100);
    g->fsm = (struct raft_fsm){.version = 1,
                               .data = g,
                               .apply = fsm_apply,
                               .snapshot = fsm_snapshot,
                               .restore = fsm_restore};
    rv = raft_init(&g->raft, &g->io, &g->fsm, g->cfg.id, g->cfg.address);
    if (rv)
        return TM_ERROR("raft", "%s: raft_init: %s", g->dir, raft_strerror(rv)), TM_EIO;
    g->raft.data = g;
    g->stage = 2;
    if ((rc = bootstrap(g)))
        return rc;
    /* Election timeout ≥ 1 s on this hardware (wal-anchor.md §5); pre-vote
     * keeps a member cut off from the others from raising terms. */
    raft_set_election_timeout(&g->raft, g->cfg.election_ms ? g->cfg.election_ms : 1000);
    raft_set_heartbeat_timeout(&g->raft, 100);
    raft_set_pre_vote(&g->raft, g->cfg.members != NULL);
    raft_set_snapshot_threshold(&g->raft, threshold_of(g));
    raft_set_snapshot_trailing(&g->raft, g->cfg.snapshot_trailing ? g->cfg.snapshot_trailing : 128);
    rv = raft_start(&g->raft);
    if (rv)
        return TM_ERROR("raft", "%s: start: %s", g->dir, raft_strerror(rv)), TM_EIO;
    uv_timer_init(&g->loop, &g->ready_timer);
    g->ready_timer.data = g;
    uv_timer_start(&g->ready_timer, on_ready_timer, 0, READY_POLL_MS);
    if (g->cfg.members)
        start_done(g, 0);
    return 0;
}

static void *loop_main(void *arg)
{
    struct tm_raft_group *g = arg;
    pthread_setname_np(pthread_self(), "tm-raft");
    int rc = raft_setup(g);
    if (rc) {
        start_done(g, rc);
        if (g->stage == 2) {
            raft_close(&g->raft, on_failed_close);
        } else {
            if (g->stage == 1)
                raft_uv_close(&g->io);
            uv_close((uv_handle_t *)&g->wake, NULL);
        }
    }
    uv_run(&g->loop, UV_RUN_DEFAULT);
    if (g->tcp_up)
        raft_uv_tcp_close(&g->tcp);
    return NULL;
}

static int mkdir_p(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    return mkdir(tmp, 0755) && errno != EEXIST ? -errno : 0;
}

int tm_raft_group_start(struct tm_raft_group **out, const struct tm_raft_group_config *cfg)
{
    struct tm_raft_group *g = calloc(1, sizeof *g);
    if (!g)
        return TM_ENOMEM;
    g->cfg = *cfg;
    snprintf(g->dir, sizeof g->dir, "%s", cfg->dir);
    int rc = mkdir_p(g->dir);
    if (rc) {
        TM_ERROR("raft", "cannot create %s: %s", g->dir, tm_strerror(rc));
        free(g);
        return rc;
    }
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cond, NULL);
    g->start_rc = 1;
    uv_loop_init(&g->loop);
    uv_async_init(&g->loop, &g->wake, on_wake);
    g->wake.data = g;
    pthread_create(&g->thread, NULL, loop_main, g);
    pthread_mutex_lock(&g->mu);
    while (g->start_rc == 1)
        pthread_cond_wait(&g->cond, &g->mu);
    rc = g->start_rc;
    pthread_mutex_unlock(&g->mu);
    if (rc) {
        pthread_join(g->thread, NULL);
        uv_loop_close(&g->loop);
        free(g);
        return rc;
    }
    *out = g;
    return 0;
}

/* ---- append ---- */

struct append_req {
    struct raft_apply req;
    tm_raft_done_fn done;
    void *arg;
};

static void on_applied(struct raft_apply *req, int status, void *result)
{
    struct append_req *a = req->data;
    (void)result;
    a->done(a->arg, status ? (status == RAFT_NOTLEADER ? TM_ENOTLEADER : TM_EIO) : 0);
    free(a);
}

int tm_raft_group_append(struct tm_raft_group *g, const struct tm_raft_buf *bufs, unsigned n,
                         tm_raft_done_fn done, void *arg)
{
    struct raft_buffer rb[64];
    if (n == 0 || n > 64)
        return TM_EINVAL;
    if (g->cfg.members && !atomic_load(&g->leading))
        return TM_ENOTLEADER; /* maybe elected, but earlier terms not applied yet */
    for (unsigned i = 0; i < n; i++) {
        if (bufs[i].len % 8)
            return TM_EINVAL;
        rb[i].base = bufs[i].base;
        rb[i].len = bufs[i].len;
    }
    struct append_req *a = calloc(1, sizeof *a);
    if (!a)
        return TM_ENOMEM;
    a->req.data = a;
    a->done = done;
    a->arg = arg;
    int rv = raft_apply(&g->raft, &a->req, rb, n, on_applied);
    if (rv) {
        free(a);
        return rv == RAFT_NOTLEADER ? TM_ENOTLEADER : TM_EIO;
    }
    return 0;
}

static void on_user_barrier(struct raft_barrier *req, int status)
{
    struct tm_raft_group *g = req->data;
    tm_raft_done_fn done = g->user_done;
    g->user_done = NULL;
    if (done) /* NULL: the duplicate call of libraft 0.15 */
        done(g->user_arg, status ? (status == RAFT_NOTLEADER ? TM_ENOTLEADER : TM_EIO) : 0);
}

int tm_raft_group_barrier(struct tm_raft_group *g, tm_raft_done_fn done, void *arg)
{
    if (g->user_done)
        return TM_EAGAIN;
    g->user_barrier.data = g;
    g->user_done = done;
    g->user_arg = arg;
    int rv = raft_barrier(&g->raft, &g->user_barrier, on_user_barrier);
    if (rv) {
        g->user_done = NULL;
        return rv == RAFT_NOTLEADER ? TM_ENOTLEADER : TM_EIO;
    }
    return 0;
}

void *tm_raft_alloc(size_t n)
{
    return raft_malloc(n);
}

void tm_raft_free(void *p)
{
    raft_free(p);
}

struct uv_loop_s *tm_raft_group_loop(struct tm_raft_group *g)
{
    return &g->loop;
}

/* ---- stop ---- */

static void on_raft_closed(struct raft *r)
{
    struct tm_raft_group *g = r->data;
    raft_uv_close(&g->io);
    uv_close((uv_handle_t *)&g->ready_timer, NULL);
    uv_close((uv_handle_t *)&g->wake, NULL);
}

struct stop_job {
    struct tm_raft_job job;
    struct tm_raft_group *g;
};

static void stop_job(struct tm_raft_job *job, int stopping)
{
    struct tm_raft_group *g = ((struct stop_job *)job)->g;
    (void)stopping;
    run_jobs(jobs_take(g), 1);
    g->raft.data = g;
    raft_close(&g->raft, on_raft_closed);
}

void tm_raft_group_stop(struct tm_raft_group *g)
{
    if (!g)
        return;
    /* The stop job is queued last; jobs queued before it still run normally. */
    struct stop_job stop = {.job = {.fn = stop_job}, .g = g};
    pthread_mutex_lock(&g->mu);
    g->stopping = true;
    if (g->jobs_tail)
        g->jobs_tail->next = &stop.job;
    else
        g->jobs = &stop.job;
    g->jobs_tail = &stop.job;
    pthread_mutex_unlock(&g->mu);
    uv_async_send(&g->wake);
    pthread_join(g->thread, NULL);
    uv_loop_close(&g->loop);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cond);
    free(g);
}
