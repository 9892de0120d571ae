/* What the serving side's two transports share (tm_rpc_server.c: nng's
 * req/rep; tm_rpc_direct.c: framed calls over plain TCP). */
#ifndef TM_RPC_INT_H
#define TM_RPC_INT_H

#include "tm_rpc.h"

#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#define TM_RPC_ASYNC_CTXS 64
#define KEY_IS(k, n, lit) ((n) == sizeof(lit) - 1 && memcmp((k), (lit), (n)) == 0)

struct envelope {
    uint64_t version, id;
    char type[TM_RPC_TYPE_MAX];
    const uint8_t *body;
    size_t body_len;
};

struct tm_rpc_direct;
struct tm_rpc_dconn;

/* One call from receipt to answer. nng's are the server's contexts, reused;
 * a direct call's is its own allocation, freed once answered. */
struct tm_rpc_later {
    struct tm_rpc_server *s;
    nng_ctx ctx;
    nng_aio *aio;
    nng_msg *msg;        /* the call, until its answer replaces it */
    struct envelope env; /* the call's, decoded once on receipt (body points into it) */
    int env_rc;          /* its decoding's result */
    bool sending;
    struct tm_rpc_dconn *conn; /* a direct call's connection; NULL for nng's */
    uint8_t *frame;            /* a direct call's bytes */
    struct tm_rpc_later *next; /* in the workers' queue */
};

struct tm_rpc_server {
    nng_socket sock;
    tm_rpc_handler_fn handler;
    tm_rpc_async_fn async;
    void *arg;
    struct tm_rpc_later *ctxs;
    int nctxs;
    pthread_t *threads;
    int nworkers;
    pthread_mutex_t mu;
    pthread_cond_t cond;     /* work queued, or stopping: the workers' */
    pthread_cond_t answered; /* a taken call answered: the stop's */
    struct tm_rpc_later *qhead, *qtail;
    int taken; /* calls the async function took, not yet answered */
    atomic_bool stopping;
    struct tm_rpc_direct *direct; /* tm_rpc_server_listen_direct */
};

int tm_rpc_envelope_decode(const void *data, size_t len, struct envelope *e);
/* A received call, decoded: taken by the async function, or queued for the
 * workers. false when the server is stopping (the caller frees the call). */
bool tm_rpc_dispatch(struct tm_rpc_server *s, struct tm_rpc_later *c);
/* Writes a direct call's encoded answer and frees the call. Unless
 * may_block, an answer the caller's socket cannot take at once drops the
 * connection (the caller retries elsewhere or again) instead of waiting:
 * held calls are answered on a Raft loop. */
void tm_rpc_direct_answer(struct tm_rpc_later *c, const struct tm_mpw *out, bool may_block);
/* Stops taking direct calls (the answers of those held still go out). */
void tm_rpc_direct_stop(struct tm_rpc_direct *d);
/* Frees the listener once every held call is answered. */
void tm_rpc_direct_free(struct tm_rpc_direct *d);

/* A "direct://host:port" address's calling side (tm_rpc_dclient.c). */
struct tm_rpc_dclient;
int tm_rpc_dclient_open(struct tm_rpc_dclient **out, const char *url);
void tm_rpc_dclient_close(struct tm_rpc_dclient *c);
/* Sends one request envelope and returns the answer's envelope (heap,
 * *out). 0, TM_ETIMEDOUT, TM_ETOOBIG, TM_ECORRUPT (an answer over the
 * limit), TM_EIO or a negative errno (the callee cannot be reached or hung
 * up). Any number of threads may call at once. */
int tm_rpc_dclient_call(struct tm_rpc_dclient *c, const void *req, size_t len, int timeout_ms,
                        uint8_t **out, size_t *out_len);
/* false while the last call could not reach the callee. */
bool tm_rpc_dclient_up(struct tm_rpc_dclient *c);

#endif
