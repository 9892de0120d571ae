/* nng req/rep transport for role-to-role calls. */
#include "tm_nng.h"
#include "tm_rpc_int.h"
#include "tm_log.h"
#include "tm_time.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

int tm_nng_err(int rv)
{
    switch (rv) {
    case 0:
        return 0;
    case NNG_ENOMEM:
        return TM_ENOMEM;
    case NNG_ETIMEDOUT:
        return TM_ETIMEDOUT;
    case NNG_ECLOSED:
        return TM_ESHUTDOWN;
    default:
        return TM_EIO;
    }
}

/* ---- client ---- */

/* One address of a client: its socket and how many live connections it has
 * (kept by nng's pipe callbacks), so a call can skip an address whose peer
 * is gone instead of waiting for its timeout. */
struct rpc_addr {
    nng_socket sock;
    atomic_int pipes;
    char url[256];
    struct tm_rpc_dclient *direct; /* a "direct://" address: no socket, no pipes */
};

static bool addr_up(const struct rpc_addr *a)
{
    return a->direct ? tm_rpc_dclient_up(a->direct) : atomic_load(&a->pipes) > 0;
}

struct tm_rpc_client {
    struct rpc_addr addrs[TM_RPC_MAX_ADDRS];
    atomic_int n;           /* addrs[0..n) are open; grows only (tm_rpc_client_add) */
    pthread_mutex_t add_mu; /* serialises additions */
    atomic_int cur;         /* the address that answered last */
    atomic_uint_fast64_t next_id;
    atomic_bool watch; /* tm_rpc_client_watch */
};

static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    struct rpc_addr *a = arg;
    (void)p;
    atomic_fetch_add(&a->pipes, ev == NNG_PIPE_EV_ADD_POST ? 1 : -1);
}

static int addr_open(struct rpc_addr *a, const char *url)
{
    snprintf(a->url, sizeof a->url, "%s", url);
    if (strncmp(url, "direct://", 9) == 0) {
        int rc = tm_rpc_dclient_open(&a->direct, url);
        if (rc)
            TM_ERROR("rpc", "cannot call %s: %s", url, tm_strerror(rc));
        return rc;
    }
    int rv = nng_req0_open(&a->sock);
    if (!rv)
        rv = nng_socket_set_size(a->sock, NNG_OPT_RECVMAXSZ, TM_RPC_MAX_MSG);
    if (!rv)
        rv = nng_socket_set_ms(a->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    if (!rv)
        rv = nng_socket_set_ms(a->sock, NNG_OPT_RECONNMINT, 20);
    if (!rv)
        rv = nng_socket_set_ms(a->sock, NNG_OPT_RECONNMAXT, 500);
    if (!rv)
        rv = nng_pipe_notify(a->sock, NNG_PIPE_EV_ADD_POST, on_pipe, a);
    if (!rv)
        rv = nng_pipe_notify(a->sock, NNG_PIPE_EV_REM_POST, on_pipe, a);
    if (!rv)
        rv = nng_dial(a->sock, url, NULL, NNG_FLAG_NONBLOCK);
    if (rv) {
        TM_ERROR("rpc", "cannot dial %s: %s", url, nng_strerror(rv));
        nng_close(a->sock);
    }
    return tm_nng_err(rv);
}

int tm_rpc_client_open(struct tm_rpc_client **out, const char *urls)
{
    struct tm_rpc_client *c = calloc(1, sizeof *c);
    if (!c)
        return TM_ENOMEM;
    pthread_mutex_init(&c->add_mu, NULL);
    int rc = 0, more;
    char url[TM_URL_MAX];
    for (const char *u = urls; !rc && (more = tm_url_next(&u, url)) != 0;)
        rc = more < 0 ? more : tm_rpc_client_add(c, url);
    if (!rc && atomic_load(&c->n) == 0)
        rc = TM_EINVAL;
    if (rc) {
        TM_ERROR("rpc", "cannot open a client for '%s': %s", urls, tm_strerror(rc));
        tm_rpc_client_close(c);
        return rc;
    }
    atomic_init(&c->next_id, 1);
    *out = c;
    return 0;
}

int tm_rpc_client_add(struct tm_rpc_client *c, const char *url)
{
    pthread_mutex_lock(&c->add_mu);
    int n = atomic_load(&c->n), rc = 0;
    for (int i = 0; i < n && !rc; i++)
        rc = strcmp(c->addrs[i].url, url) == 0 ? 1 : 0;
    if (rc == 0 && n == TM_RPC_MAX_ADDRS)
        rc = TM_ETOOBIG;
    if (rc == 0 && (rc = addr_open(&c->addrs[n], url)) == 0)
        atomic_store(&c->n, n + 1); /* after the address is whole: callers read n first */
    pthread_mutex_unlock(&c->add_mu);
    return rc == 1 ? 0 : rc;
}

void tm_rpc_client_close(struct tm_rpc_client *c)
{
    if (!c)
        return;
    for (int i = 0; i < atomic_load(&c->n); i++)
        if (c->addrs[i].direct)
            tm_rpc_dclient_close(c->addrs[i].direct);
        else
            nng_close(c->addrs[i].sock);
    pthread_mutex_destroy(&c->add_mu);
    free(c);
}

void tm_rpc_reply_free(struct tm_rpc_reply *reply)
{
    if (reply->msg && reply->direct)
        free(reply->msg);
    else if (reply->msg)
        nng_msg_free(reply->msg);
    reply->msg = NULL;
}

static void request_encode(struct tm_mpw *w, const char *type, uint64_t id, const void *body,
                           size_t len)
{
    tm_mpw_map(w, 4);
    tm_mpw_cstr(w, "v"), tm_mpw_uint(w, TM_RPC_VERSION);
    tm_mpw_cstr(w, "t"), tm_mpw_cstr(w, type);
    tm_mpw_cstr(w, "id"), tm_mpw_uint(w, id);
    tm_mpw_cstr(w, "b");
    if (body && len)
        tm_mpw_raw(w, body, len);
    else
        tm_mpw_nil(w);
}

/* Reads the reply envelope; the body stays inside its bytes. */
static int reply_decode(const void *data, size_t size, uint64_t id, struct tm_rpc_reply *reply,
                        struct tm_status *st)
{
    struct tm_mpr r;
    uint32_t n, kn;
    const char *k;
    uint64_t got_id = 0;
    int64_t code = 0;
    tm_mpr_init(&r, data, size);
    tm_mpr_map(&r, &n);
    for (uint32_t i = 0; i < n && !r.err; i++) {
        tm_mpr_str(&r, &k, &kn);
        if (KEY_IS(k, kn, "id"))
            tm_mpr_uint(&r, &got_id);
        else if (KEY_IS(k, kn, "st"))
            tm_mpr_int(&r, &code);
        else if (KEY_IS(k, kn, "msg"))
            (void)(tm_mpr_nil(&r) || tm_mpr_str_copy(&r, st->msg, sizeof st->msg));
        else if (KEY_IS(k, kn, "b")) {
            const uint8_t *p;
            size_t len;
            if (!tm_mpr_raw(&r, &p, &len))
                tm_mpr_init(&reply->body, p, len);
        } else
            tm_mpr_skip(&r);
    }
    if (r.err || got_id != id)
        return tm_status_set(st, TM_MV_INTERNAL, "malformed rpc reply"), TM_ECORRUPT;
    st->code = (int)code;
    return code ? TM_ESTATUS : 0;
}

/* A call's one aio: the send's callback posts the receive itself, so the
 * calling thread wakes once per call, for the reply. */
struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool done;
    bool receiving;
    nng_ctx ctx;
    nng_aio *aio;
};

static void on_aio(void *arg)
{
    struct waiter *w = arg;
    if (!w->receiving && nng_aio_result(w->aio) == 0) {
        w->receiving = true;
        nng_ctx_recv(w->ctx, w->aio); /* with the same timeout again, as before */
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

/* Waits for the aio; with `watch`, gives up early (cancels it) once the
 * address has had no connection for a while: its peer is gone, and with
 * resend disabled nng would wait for the whole timeout. */
static void aio_wait_watch(nng_aio *aio, struct waiter *w, const struct rpc_addr *watch)
{
    int idle_slices = 0;
    pthread_mutex_lock(&w->mu);
    while (!w->done && !watch)
        pthread_cond_wait(&w->cond, &w->mu); /* one address: nothing to give up for */
    while (!w->done) {
        struct timespec ts = tm_deadline_ms(50);
        if (pthread_cond_timedwait(&w->cond, &w->mu, &ts) == 0)
            continue;
        idle_slices = atomic_load(&watch->pipes) > 0 ? 0 : idle_slices + 1;
        if (idle_slices >= 4) { /* again each slice: a cancel may meet the send just done */
            pthread_mutex_unlock(&w->mu);
            nng_aio_cancel(aio);
            pthread_mutex_lock(&w->mu);
        }
    }
    pthread_mutex_unlock(&w->mu);
}

/* Sends *msg on ctx and replaces it with the reply. On failure the message
 * is freed and *msg is NULL. */
static int ctx_roundtrip(nng_ctx ctx, nng_msg **msg, int timeout_ms, const struct rpc_addr *watch)
{
    struct waiter w = {.done = false, .ctx = ctx};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cond, NULL);
    int rc = tm_nng_err(nng_aio_alloc(&w.aio, on_aio, &w));
    if (rc) {
        nng_msg_free(*msg);
        *msg = NULL;
    } else {
        nng_aio_set_timeout(w.aio, timeout_ms);
        nng_aio_set_msg(w.aio, *msg);
        nng_ctx_send(ctx, w.aio);
        aio_wait_watch(w.aio, &w, watch);
        rc = tm_nng_err(nng_aio_result(w.aio));
        if (rc && !w.receiving)
            nng_msg_free(*msg); /* the send failed: the message is still ours */
        *msg = rc ? NULL : nng_aio_get_msg(w.aio);
        nng_aio_free(w.aio);
    }
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cond);
    return rc;
}

/* One attempt on one address through nng: the reply's message, or NULL
 * with the error. */
static int nng_roundtrip(struct tm_rpc_client *c, int i, const struct tm_mpw *req, int timeout_ms,
                         nng_msg **msg)
{
    nng_ctx ctx;
    int rc = tm_nng_err(nng_msg_alloc(msg, 0));
    if (!rc && (rc = tm_nng_err(nng_msg_append(*msg, req->buf.data, req->buf.len))))
        nng_msg_free(*msg);
    if (!rc && (rc = tm_nng_err(nng_ctx_open(&ctx, c->addrs[i].sock))))
        nng_msg_free(*msg);
    if (rc) {
        *msg = NULL;
        return rc;
    }
    bool watch = atomic_load(&c->n) > 1 || atomic_load(&c->watch);
    rc = ctx_roundtrip(ctx, msg, timeout_ms, watch ? &c->addrs[i] : NULL);
    nng_ctx_close(ctx);
    return rc;
}

/* One attempt on one address. */
static int call_addr(struct tm_rpc_client *c, int i, const char *type, const void *body, size_t len,
                     int timeout_ms, struct tm_rpc_reply *reply, struct tm_status *st)
{
    uint64_t id = atomic_fetch_add(&c->next_id, 1);
    struct tm_mpw req;
    tm_status_ok(st);
    memset(reply, 0, sizeof *reply);
    tm_mpw_init(&req);
    request_encode(&req, type, id, body, len);
    int rc = tm_mpw_error(&req);
    if (rc) {
        tm_mpw_free(&req);
        return tm_status_set(st, TM_MV_INTERNAL, "rpc %s: %s", type, tm_strerror(rc)), rc;
    }
    struct tm_rpc_dclient *direct = c->addrs[i].direct;
    nng_msg *msg = NULL;
    uint8_t *frame = NULL;
    size_t frame_len = 0;
    rc = direct ? tm_rpc_dclient_call(direct, req.buf.data, req.buf.len, timeout_ms, &frame,
                                      &frame_len)
                : nng_roundtrip(c, i, &req, timeout_ms, &msg);
    tm_mpw_free(&req);
    if (rc) {
        int code = rc == TM_ETIMEDOUT ? TM_MV_TIMEOUT : TM_MV_INTERNAL;
        return tm_status_set(st, code, "rpc %s failed: %s", type, tm_strerror(rc)), rc;
    }
    rc = direct ? reply_decode(frame, frame_len, id, reply, st)
                : reply_decode(nng_msg_body(msg), nng_msg_len(msg), id, reply, st);
    *reply =
        (struct tm_rpc_reply){direct ? (void *)frame : (void *)msg, direct != NULL, reply->body};
    if (rc)
        tm_rpc_reply_free(reply);
    return rc;
}

void tm_rpc_client_watch(struct tm_rpc_client *c)
{
    atomic_store(&c->watch, true);
}

bool tm_rpc_client_connected(struct tm_rpc_client *c)
{
    for (int i = 0; i < atomic_load(&c->n); i++)
        if (addr_up(&c->addrs[i]))
            return true;
    return false;
}

/* Several addresses: the one that answered last first, then the others in
 * turn, while the callee says "not the leader" or cannot be reached, until
 * the timeout. A write retried this way must carry its client id and
 * sequence (wal/dedupe.h): its first attempt may have been applied. */
int tm_rpc_call(struct tm_rpc_client *c, const char *type, const void *body, size_t len,
                int timeout_ms, struct tm_rpc_reply *reply, struct tm_status *st)
{
    int n = atomic_load(&c->n);
    if (n == 1)
        return call_addr(c, 0, type, body, len, timeout_ms, reply, st);
    uint64_t deadline = tm_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 1);
    int start = atomic_load(&c->cur), rc = TM_ETIMEDOUT;
    for (int attempt = 0;; attempt++) {
        uint64_t now = tm_mono_ms();
        if (now >= deadline)
            return rc;
        int i = (start + attempt) % n;
        if (!addr_up(&c->addrs[i]) && attempt % (2 * n) < n)
            continue; /* unreachable now: try those connected first */
        rc = call_addr(c, i, type, body, len, (int)(deadline - now), reply, st);
        if (rc == 0 || (rc == TM_ESTATUS && st->code != TM_MV_NOT_LEADER)) {
            atomic_store(&c->cur, i);
            return rc;
        }
        if ((attempt + 1) % n == 0) /* a whole round failed: an election, maybe */
            tm_sleep_ms(tm_mono_ms() + 50 < deadline ? 50 : 1);
    }
}

int tm_rpc_call_uint_arg(struct tm_rpc_client *c, const char *type, const char *key, int64_t arg,
                         int timeout_ms, uint64_t *out, struct tm_status *st)
{
    struct tm_mpw w;
    tm_mpw_init(&w);
    tm_mpw_map(&w, 1);
    tm_mpw_cstr(&w, key), tm_mpw_int(&w, arg);
    int rc = tm_rpc_call_uint(c, type, &w, timeout_ms, out, st);
    tm_mpw_free(&w);
    return rc;
}

int tm_rpc_call_uint(struct tm_rpc_client *c, const char *type, const struct tm_mpw *body,
                     int timeout_ms, uint64_t *out, struct tm_status *st)
{
    struct tm_rpc_reply rep;
    uint32_t n, kn;
    const char *k;
    int rc = tm_rpc_call(c, type, body ? body->buf.data : NULL, body ? body->buf.len : 0,
                         timeout_ms, &rep, st);
    if (rc)
        return rc;
    if (tm_mpr_map(&rep.body, &n) || n != 1 || tm_mpr_str(&rep.body, &k, &kn) ||
        tm_mpr_uint(&rep.body, out)) {
        tm_status_set(st, TM_MV_INTERNAL, "rpc %s: malformed reply", type);
        rc = TM_ECORRUPT;
    }
    tm_rpc_reply_free(&rep);
    return rc;
}
