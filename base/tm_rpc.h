/* Role-to-role calls: versioned msgpack messages over nng req/rep.
 *
 * Every role (coord, data, query) serves its calls on one nng address:
 * `inproc://...` when all roles share a process, `tcp://...` in a cluster.
 * No role calls another role's functions; they only exchange these messages.
 *
 * Request envelope (msgpack map, format version TM_RPC_VERSION):
 *   {"v": 1, "t": <call type str>, "id": <request id uint>, "b": <body>}
 * Reply envelope:
 *   {"v": 1, "id": <same id>, "st": <Milvus code, 0 = ok>, "msg": <str>, "b": <body>}
 * A body is any one msgpack value (nil when a call has nothing to say).
 *
 * Caveats:
 * - Every socket sets a receive size limit (TM_RPC_MAX_MSG): a larger
 *   message is dropped by nng, and the caller's call times out.
 * - REQ resend is disabled: a call is sent once. A retried write must be
 *   made idempotent by its client id and sequence number, not by nng.
 */
#ifndef TM_RPC_H
#define TM_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tm_err.h"
#include "tm_mp.h"

#define TM_RPC_VERSION 1
#define TM_RPC_MAX_MSG (256u << 20)
#define TM_RPC_TYPE_MAX 64
#define TM_RPC_MAX_ADDRS 8

/* Handles one call. `body` reads the request body; the handler writes exactly
 * one msgpack value to `reply` (or nothing, which sends nil) and sets st on
 * failure. Runs on one of the server's worker threads; it may block. */
typedef void (*tm_rpc_handler_fn)(void *arg, const char *type, struct tm_mpr *body,
                                  struct tm_mpw *reply, struct tm_status *st);

struct tm_rpc_server;

/* Listens on url with `workers` threads calling handler. 0 or negative error. */
int tm_rpc_server_start(struct tm_rpc_server **out, const char *url, int workers,
                        tm_rpc_handler_fn handler, void *arg);
/* A call an async function took (tm_rpc_server_start_async), until its
 * answer. */
struct tm_rpc_later;

/* Decides, on nng's thread that received the call and without blocking,
 * whether to answer `type` later: returns true and keeps `later` (the body
 * stays readable until the answer), or false to send the call to the
 * workers' blocking handler. */
typedef bool (*tm_rpc_async_fn)(void *arg, const char *type, struct tm_mpr *body,
                                struct tm_rpc_later *later);

/* tm_rpc_server_start, plus calls that `async` takes and answers itself:
 * no thread waits for those (a write waits for its Raft commit). Past 64
 * calls held at once, calls go to the blocking handler instead, which must
 * serve every type `async` takes, too. */
int tm_rpc_server_start_async(struct tm_rpc_server **out, const char *url, int workers,
                              tm_rpc_handler_fn handler, tm_rpc_async_fn async, void *arg);

/* Also serves the same calls as framed messages over plain TCP on url
 * ("tcp://host:port"), read and answered without nng's threads: a write's
 * call then wakes one thread on its way in (the listener's, which hands it to
 * the async function) and none on its way out (the answer is written by the
 * thread that makes it). Clients reach it with "direct://host:port"
 * addresses. Frame: a 4-byte big-endian length, then the envelope above;
 * over TM_RPC_MAX_MSG the connection is dropped. 0 or a negative error. */
int tm_rpc_server_listen_direct(struct tm_rpc_server *s, const char *url);

/* Answers a taken call, once, from any thread: reply (one msgpack value;
 * NULL or empty sends nil) when st is NULL or clear, else st's error. */
void tm_rpc_answer(struct tm_rpc_later *later, const struct tm_mpw *reply,
                   const struct tm_status *st);

/* Stops receiving, waits for running handlers and for the answers of
 * taken calls, frees the server. */
void tm_rpc_server_stop(struct tm_rpc_server *s);

struct tm_rpc_client;

/* Opens a client dialling url (the dial retries in the background if the
 * server is not up yet). Thread-safe: many threads may call at once.
 * An address "direct://host:port" calls a server's direct listener
 * (tm_rpc_server_listen_direct) over a connection of its own per call in
 * flight, kept for the next; "tcp://..." and "inproc://..." go through nng.
 * `urls` may list up to TM_RPC_MAX_ADDRS replicas of one service, comma
 * separated: a call then goes to the one that answered last and moves on to
 * the next while one cannot be reached or answers TM_MV_NOT_LEADER, until
 * its timeout. */
int tm_rpc_client_open(struct tm_rpc_client **out, const char *urls);
void tm_rpc_client_close(struct tm_rpc_client *c);
/* Adds an address to the client's list (nothing if it is there already),
 * while other threads call through it: a replica that joined later.
 * Addresses are never removed. 0, TM_ETOOBIG past TM_RPC_MAX_ADDRS, or a
 * dial error. */
int tm_rpc_client_add(struct tm_rpc_client *c, const char *url);
/* Makes a one-address client give up a call once its peer has had no
 * connection for 200 ms, as a several-address client does (a caller that
 * can go elsewhere: the proxy's query nodes). */
void tm_rpc_client_watch(struct tm_rpc_client *c);
/* Whether the client holds a connection to any of its addresses now. */
bool tm_rpc_client_connected(struct tm_rpc_client *c);

/* A reply: its body is readable with `body` until tm_rpc_reply_free. */
struct tm_rpc_reply {
    void *msg;   /* nng_msg, or a direct call's frame (heap), owned */
    bool direct; /* msg is a frame */
    struct tm_mpr body;
};

/* Sends `type` with the msgpack body bytes (NULL/0 sends nil) and waits up to
 * timeout_ms for the reply. Returns 0 with *reply filled (free it) and st
 * cleared; TM_ESTATUS when the callee answered with an error (st filled, no
 * reply to free); or a negative error for transport failures (st filled with
 * code 5 or 10001 and a message). */
int tm_rpc_call(struct tm_rpc_client *c, const char *type, const void *body, size_t len,
                int timeout_ms, struct tm_rpc_reply *reply, struct tm_status *st);
void tm_rpc_reply_free(struct tm_rpc_reply *reply);

/* A call whose reply body is a one-key map {name: uint}: sends body (NULL
 * for nil) and returns the value in *out. Same results as tm_rpc_call, plus
 * TM_ECORRUPT (st filled) when the reply has another shape. */
int tm_rpc_call_uint(struct tm_rpc_client *c, const char *type, const struct tm_mpw *body,
                     int timeout_ms, uint64_t *out, struct tm_status *st);

/* tm_rpc_call_uint with the one-key body {key: arg}. */
int tm_rpc_call_uint_arg(struct tm_rpc_client *c, const char *type, const char *key, int64_t arg,
                         int timeout_ms, uint64_t *out, struct tm_status *st);

#endif
