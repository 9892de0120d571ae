/* The serving side of role-to-role calls (tm_rpc.h).
 *
 * Every nng context of the REP socket is driven by its aio callback, on
 * nng's task threads: receive, then serve, then send, then receive again.
 * A call the role's async function takes is answered later by
 * tm_rpc_answer from whatever thread finishes it (a write: the Raft loop
 * that applies it), so no thread waits for it. Every other call goes to a
 * queue that the worker threads serve with the blocking handler.
 *
 * A context holds one call from receive to sent answer: there are
 * `workers` + TM_RPC_ASYNC_CTXS of them. At most TM_RPC_ASYNC_CTXS calls
 * are taken at a time; past that, calls go to the workers' blocking
 * handler (which must then serve them too), so held calls never keep the
 * workers' calls from being received.
 */
#include "tm_log.h"
#include "tm_nng.h"
#include "tm_rpc_int.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

int tm_rpc_envelope_decode(const void *data, size_t len, struct envelope *e)
{
    struct tm_mpr r;
    uint32_t n, kn;
    const char *k;
    memset(e, 0, sizeof *e);
    tm_mpr_init(&r, data, len);
    if (tm_mpr_map(&r, &n))
        return r.err;
    for (uint32_t i = 0; i < n; i++) {
        if (tm_mpr_str(&r, &k, &kn))
            return r.err;
        if (KEY_IS(k, kn, "v"))
            tm_mpr_uint(&r, &e->version);
        else if (KEY_IS(k, kn, "id"))
            tm_mpr_uint(&r, &e->id);
        else if (KEY_IS(k, kn, "t")) {
            if (tm_mpr_str_copy(&r, e->type, sizeof e->type))
                return TM_ECORRUPT;
        } else if (KEY_IS(k, kn, "b"))
            tm_mpr_raw(&r, &e->body, &e->body_len);
        else
            tm_mpr_skip(&r);
    }
    if (r.err)
        return r.err;
    return e->version == TM_RPC_VERSION && e->type[0] && e->body ? 0 : TM_EVERSION;
}

static void reply_encode(struct tm_mpw *out, uint64_t id, const struct tm_status *st,
                         const struct tm_mpw *body)
{
    tm_mpw_map(out, 5);
    tm_mpw_cstr(out, "v"), tm_mpw_uint(out, TM_RPC_VERSION);
    tm_mpw_cstr(out, "id"), tm_mpw_uint(out, id);
    tm_mpw_cstr(out, "st"), tm_mpw_int(out, st->code);
    tm_mpw_cstr(out, "msg"), tm_mpw_cstr(out, st->msg);
    tm_mpw_cstr(out, "b");
    if (st->code == 0 && body && body->buf.len)
        tm_mpw_raw(out, body->buf.data, body->buf.len);
    else
        tm_mpw_nil(out);
}

static void recv_next(struct tm_rpc_later *c)
{
    c->sending = false;
    c->msg = NULL;
    nng_ctx_recv(c->ctx, c->aio);
}

/* Sends the encoded answer in place of the call; a direct call's waits
 * for its caller's socket only when the answering thread may block. */
static void send_answer(struct tm_rpc_later *c, const struct tm_mpw *out, bool may_block)
{
    if (c->conn) {
        tm_rpc_direct_answer(c, out, may_block);
        return;
    }
    nng_msg *msg = c->msg;
    nng_msg_clear(msg);
    if (tm_mpw_error(out) || nng_msg_append(msg, out->buf.data, out->buf.len) != 0) {
        nng_msg_free(msg); /* the caller's call times out */
        recv_next(c);
        return;
    }
    c->msg = NULL;
    c->sending = true;
    nng_aio_set_msg(c->aio, msg);
    nng_ctx_send(c->ctx, c->aio);
}

/* A worker's call: the blocking handler's answer, or the envelope's error. */
static void serve_blocking(struct tm_rpc_server *s, struct tm_rpc_later *c)
{
    const struct envelope *e = &c->env;
    struct tm_status st;
    struct tm_mpw body, out;
    tm_status_ok(&st);
    tm_mpw_init(&body);
    tm_mpw_init(&out);
    if (c->env_rc) {
        tm_status_set(&st, TM_MV_INTERNAL, "malformed rpc message: %s", tm_strerror(c->env_rc));
    } else {
        struct tm_mpr r;
        tm_mpr_init(&r, e->body, e->body_len);
        s->handler(s->arg, e->type, &r, &body, &st);
        if (!st.code && tm_mpw_error(&body))
            tm_status_set(&st, TM_MV_INTERNAL, "out of memory encoding the reply");
    }
    reply_encode(&out, e->id, &st, &body);
    send_answer(c, &out, true);
    tm_mpw_free(&body);
    tm_mpw_free(&out);
}

static void *server_worker(void *arg)
{
    struct tm_rpc_server *s = arg;
    pthread_setname_np(pthread_self(), "tm-rpc-server");
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->qhead && !s->stopping)
            pthread_cond_wait(&s->cond, &s->mu);
        struct tm_rpc_later *c = s->qhead;
        if (!c)
            break;
        s->qhead = c->next;
        if (!s->qhead)
            s->qtail = NULL;
        pthread_mutex_unlock(&s->mu);
        serve_blocking(s, c);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* On nng's thread: whether the async function took the call received. */
static bool offer(struct tm_rpc_server *s, struct tm_rpc_later *c)
{
    if (!s->async || c->env_rc)
        return false;
    pthread_mutex_lock(&s->mu);
    bool room = !s->stopping && s->taken < TM_RPC_ASYNC_CTXS; /* a stop counts on taken */
    s->taken += room; /* before the offer: the answer may come at once */
    pthread_mutex_unlock(&s->mu);
    if (!room)
        return false;
    struct tm_mpr r;
    tm_mpr_init(&r, c->env.body, c->env.body_len);
    if (s->async(s->arg, c->env.type, &r, c))
        return true;
    pthread_mutex_lock(&s->mu);
    if (--s->taken == 0 && s->stopping)
        pthread_cond_signal(&s->answered);
    pthread_mutex_unlock(&s->mu);
    return false;
}

static void on_ctx(void *arg)
{
    struct tm_rpc_later *c = arg;
    struct tm_rpc_server *s = c->s;
    int rv = nng_aio_result(c->aio);
    if (c->sending && rv)
        nng_msg_free(nng_aio_get_msg(c->aio));
    if (atomic_load(&s->stopping)) { /* no more calls: tm_rpc_server_stop */
        if (!c->sending && !rv)
            nng_msg_free(nng_aio_get_msg(c->aio));
        c->sending = false;
        return;
    }
    if (c->sending || rv) {
        recv_next(c);
        return;
    }
    c->msg = nng_aio_get_msg(c->aio);
    c->env_rc = tm_rpc_envelope_decode(nng_msg_body(c->msg), nng_msg_len(c->msg), &c->env);
    if (!tm_rpc_dispatch(s, c)) {
        nng_msg_free(c->msg);
        c->msg = NULL;
    }
}

bool tm_rpc_dispatch(struct tm_rpc_server *s, struct tm_rpc_later *c)
{
    if (offer(s, c))
        return true;
    c->next = NULL;
    pthread_mutex_lock(&s->mu);
    bool open = !s->stopping; /* else the workers may be gone */
    if (open) {
        if (s->qtail)
            s->qtail->next = c;
        else
            s->qhead = c;
        s->qtail = c;
        pthread_cond_signal(&s->cond);
    }
    pthread_mutex_unlock(&s->mu);
    return open;
}

void tm_rpc_answer(struct tm_rpc_later *later, const struct tm_mpw *reply,
                   const struct tm_status *st)
{
    struct tm_rpc_server *s = later->s;
    struct tm_status ok;
    struct tm_mpw out;
    tm_status_ok(&ok);
    tm_mpw_init(&out);
    if (!st)
        st = &ok;
    if (!st->code && reply && tm_mpw_error(reply))
        tm_status_set(&ok, TM_MV_INTERNAL, "out of memory encoding the reply"), st = &ok;
    reply_encode(&out, later->env.id, st, reply);
    /* in flight now: a stop waits for its callback; the answering thread
     * (a Raft loop) must not block */
    send_answer(later, &out, false);
    tm_mpw_free(&out);
    pthread_mutex_lock(&s->mu);
    if (--s->taken == 0 && s->stopping)
        pthread_cond_signal(&s->answered);
    pthread_mutex_unlock(&s->mu);
}

static int open_ctxs(struct tm_rpc_server *s, int n)
{
    s->ctxs = calloc((size_t)n, sizeof *s->ctxs);
    if (!s->ctxs)
        return TM_ENOMEM;
    for (; s->nctxs < n; s->nctxs++) {
        struct tm_rpc_later *c = &s->ctxs[s->nctxs];
        c->s = s;
        if (nng_ctx_open(&c->ctx, s->sock))
            return TM_ENOMEM;
        if (nng_aio_alloc(&c->aio, on_ctx, c)) {
            nng_ctx_close(c->ctx);
            return TM_ENOMEM;
        }
    }
    for (int i = 0; i < n; i++)
        recv_next(&s->ctxs[i]);
    return 0;
}

int tm_rpc_server_start_async(struct tm_rpc_server **out, const char *url, int workers,
                              tm_rpc_handler_fn handler, tm_rpc_async_fn async, void *arg)
{
    struct tm_rpc_server *s = calloc(1, sizeof *s);
    if (!s)
        return TM_ENOMEM;
    s->handler = handler;
    s->async = async;
    s->arg = arg;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cond, NULL);
    pthread_cond_init(&s->answered, NULL);
    int rv = nng_rep0_open(&s->sock);
    if (!rv)
        rv = nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, TM_RPC_MAX_MSG);
    if (!rv)
        rv = nng_listen(s->sock, url, NULL, 0);
    if (rv) {
        TM_ERROR("rpc", "cannot listen on %s: %s", url, nng_strerror(rv));
        nng_close(s->sock);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cond);
        pthread_cond_destroy(&s->answered);
        free(s);
        return tm_nng_err(rv);
    }
    s->threads = calloc((size_t)workers, sizeof *s->threads);
    for (int i = 0; s->threads && i < workers; i++)
        if (pthread_create(&s->threads[s->nworkers], NULL, server_worker, s) == 0)
            s->nworkers++;
    int rc = s->nworkers ? open_ctxs(s, workers + (async ? TM_RPC_ASYNC_CTXS : 0)) : TM_ENOMEM;
    if (rc) {
        tm_rpc_server_stop(s);
        return rc;
    }
    *out = s;
    return 0;
}

int tm_rpc_server_start(struct tm_rpc_server **out, const char *url, int workers,
                        tm_rpc_handler_fn handler, void *arg)
{
    return tm_rpc_server_start_async(out, url, workers, handler, NULL, arg);
}

void tm_rpc_server_stop(struct tm_rpc_server *s)
{
    if (!s)
        return;
    /* The socket closes last: nng 1.5 may use a context freed by the
     * socket's close in a send started beside it. */
    tm_rpc_direct_stop(s->direct); /* what it took is queued or held: answered below */
    pthread_mutex_lock(&s->mu);
    atomic_store(&s->stopping, true);
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->nworkers; i++) /* they answer what is queued first */
        pthread_join(s->threads[i], NULL);
    pthread_mutex_lock(&s->mu);
    while (s->taken > 0) /* taken calls are answered, as waiting workers were joined */
        pthread_cond_wait(&s->answered, &s->mu);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->nctxs; i++)
        nng_aio_stop(s->ctxs[i].aio); /* a receive or a queued send is cancelled */
    nng_close(s->sock);
    for (int i = 0; i < s->nctxs; i++) {
        nng_ctx_close(s->ctxs[i].ctx);
        nng_aio_free(s->ctxs[i].aio);
    }
    tm_rpc_direct_free(s->direct);
    free(s->ctxs);
    free(s->threads);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cond);
    pthread_cond_destroy(&s->answered);
    free(s);
}
