/* The proxy role: the Milvus RESTful API v2 front door. It parses and
 * validates requests, then talks to the coord, data and query roles through
 * tm_rpc only.
 *
 * Each REST handler gets a struct tm_req: the parsed body, the database the
 * request addresses, and a JSON writer for the `data` payload. A handler
 * either writes its payload and returns 0, or fills req->st and returns
 * TM_ESTATUS; proxy.c wraps either into the Milvus envelope.
 */
#ifndef TM_PROXY_H
#define TM_PROXY_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#include "catalog.h"
#include "http.h"
#include "json_scan.h"
#include "jw.h"
#include "schema_cache.h"
#include "tm_rpc.h"
#include "wal/entry.h"
#include "write_queue.h"

/* Session consistency over REST (Milvus has none): a write's response
 * carries its timestamp in this header; a read at level Session that sends
 * it back (under either name) waits until that write is visible. */
#define TM_HEADER_WRITE_TS "Tidemark-Write-Timestamp"
#define TM_HEADER_SESSION_TS "Tidemark-Session-Timestamp"
/* A client may name a write; a retry with the same name is applied once
 * (wal/dedupe.h). At most 63 characters. */
#define TM_HEADER_REQUEST_ID "Tidemark-Request-Id"

#define TM_PROXY_MAX_SHARDS 64
#define TM_PROXY_MAX_QUERY 8

struct tm_proxy_config {
    const char *coord_url, *data_url, *query_url;
    int shards;
    int request_timeout_ms;
    size_t max_body;
    /* A cluster (NULL/0 alone): shard s's replicas, comma separated, and
     * each query node's address and the shards it serves (bit s; NULL or
     * 0: all). query_url then lists them all. */
    const char *const *shard_data_urls;
    /* A cluster's shard s's replicas as "direct://" addresses, for the
     * write queues' "writes" calls (base/tm_rpc.h); NULL: shard_data_urls. */
    const char *const *shard_write_urls;
    const char *const *query_urls;
    const uint64_t *query_serves;
    int nquery;
};

struct tm_proxy {
    struct tm_proxy_config cfg;
    struct tm_rpc_client *coord, *query;
    struct tm_rpc_client *data[TM_PROXY_MAX_SHARDS];         /* follows each shard's leader */
    struct tm_rpc_client *data_direct[TM_PROXY_MAX_SHARDS];  /* the same, direct; or NULL */
    struct tm_write_queue write_queues[TM_PROXY_MAX_SHARDS]; /* group commit per shard */
    int queues_started;
    /* Every query node: reads go to those that serve the shards (fanout.h),
     * calls every node must see to all. */
    struct tm_rpc_client *query_each[TM_PROXY_MAX_QUERY];
    _Atomic uint64_t query_serves[TM_PROXY_MAX_QUERY]; /* bit s: serves shard s */
    char query_urls[TM_PROXY_MAX_QUERY][128];
    _Atomic int nquery_each;    /* grows only (tm_proxy_add_query) */
    _Atomic unsigned read_turn; /* where the next read's choice of nodes starts */
    pthread_mutex_t add_mu;
    unsigned nonce; /* names this proxy's writes (tm_req_write_id) */
    _Atomic uint64_t writes;
    struct tm_schema_cache cache;
};

struct tm_req {
    struct tm_proxy *p;
    const struct tm_http_request *http;
    json_t *body;
    /* An insert's or upsert's "data" array, left as text (json_scan.h):
     * body holds null in its place. Read through tm_req_data. */
    const char *data_text;
    size_t data_len;
    struct tm_jscan_arrays data_arrays; /* its arrays of numbers, read */
    char db[TM_NAME_MAX];
    struct tm_jw data;    /* the `data` payload */
    struct tm_jw topks;   /* a search's `topks`; printed when not empty */
    bool has_data;        /* false: the envelope carries no data key */
    bool with_cost;       /* add "cost": 0 (insert, upsert, search, query, get) */
    bool with_message;    /* add "message": "" (describe, get_load_state) */
    bool int64_as_string; /* Accept-Type-Allow-Int64: false */
    uint64_t write_ts;    /* a write's timestamp, sent back in TM_HEADER_WRITE_TS */
    char request_id[64];  /* TM_HEADER_REQUEST_ID, "" when absent */
    uint32_t nops;        /* a merge's fieldOps other than REPLACE */
    struct tm_field_op_spec ops[TM_ENTRY_MAX_OPS];
    struct tm_status st;
    /* Set on the REST loop thread (tm_proxy_serve_inline), where nothing may
     * block: a role call answers TM_EAGAIN instead, before anything is
     * written (a worker then serves the request from its parsed body), and
     * a write, once submitted, returns TM_LATER and is answered through
     * this on a sender thread, which hands the rest to the loop thread. */
    void (*answer_later)(struct tm_req *r, int rc);
    /* Freed with r, on the thread that frees r (a write set the loop
     * thread allocated, answered on a sender thread). */
    void (*release)(void *arg);
    void *release_arg;
};

/* A handler's result besides 0, TM_ESTATUS and 1: the write is submitted
 * and r->answer_later will answer it. r belongs to that answer now. */
#define TM_LATER 2

typedef int (*tm_rest_fn)(struct tm_req *r);

int tm_proxy_init(struct tm_proxy *p, const struct tm_proxy_config *cfg);
void tm_proxy_close(struct tm_proxy *p);
/* The HTTP handler (tm_http_handler_fn) serving every REST route. */
void tm_proxy_serve_http(void *arg, const struct tm_http_request *req,
                         struct tm_http_response *resp);
/* The loop thread's handler (tm_http_inline_fn): inserts and upserts with
 * bodies up to 64 KiB are validated and submitted to the shards' write
 * queues without a worker, and answered when written. One that needs a
 * role call (a schema not cached, autoID keys, a merge's read) goes on to
 * a worker with its parsed body; everything else goes to the workers. */
enum tm_http_inline tm_proxy_serve_inline(void *arg, struct tm_http_call *call,
                                          const struct tm_http_request *req,
                                          struct tm_http_response *resp);

/* ---- helpers for handlers (proxy.c) ---- */

/* Body member by name, matched case-insensitively as Go's binding does. */
json_t *tm_req_get(const struct tm_req *r, const char *key);
/* The body's "data" member, parsed from r->data_text on first use; NULL
 * with r->st set if that parse fails (out of memory). */
const json_t *tm_req_data(struct tm_req *r);
/* String member; NULL when absent. When required, absence or "" fails with
 * 1802 and a wrong JSON type with 1801 (st filled, NULL returned). */
const char *tm_req_str(struct tm_req *r, const char *key, bool required);
/* Copies a required name into dst (TM_NAME_MAX); 0 or TM_ESTATUS. */
int tm_req_name(struct tm_req *r, const char *key, char *dst);
/* Integer member (number or numeric string) or dflt; 1801 for a wrong type. */
int tm_req_int(struct tm_req *r, const char *key, int64_t dflt, int64_t *out);
int tm_req_bool(struct tm_req *r, const char *key, bool dflt, bool *out);
/* Fails with the status of a role call. */
int tm_req_fail_call(struct tm_req *r, const struct tm_status *st);

/* Role calls. Each returns 0 or TM_ESTATUS with r->st filled. */
int tm_proxy_ddl(struct tm_req *r, const struct tm_ddl *d);
int tm_proxy_collection(struct tm_req *r, const char *name, struct tm_collection *out);
int tm_proxy_call(struct tm_req *r, struct tm_rpc_client *to, const char *type,
                  const struct tm_mpw *body, struct tm_rpc_reply *reply);
int tm_proxy_tso(struct tm_req *r, uint32_t n, uint64_t *ts);
/* A query node registered after the proxy started, serving the shards in
 * `serves` (0: all): reads may go to it, and calls every query node must
 * see do. A known node's shards are updated. 0 or an error. */
int tm_proxy_add_query(struct tm_proxy *p, const char *url, uint64_t serves);
/* Sends a call every query node must see (drop, index_sync) to each, best
 * effort: a node that is down learns it from the catalog when it returns. */
void tm_proxy_query_each(struct tm_req *r, const char *type, const struct tm_mpw *body);
/* The client id a write is sent with: the request's Tidemark-Request-Id,
 * or, in a cluster, a name of the proxy's own, so that a write retried on a
 * new shard leader is applied once. NULL: none (a standalone server). */
const char *tm_req_write_id(struct tm_req *r);

/* ---- handlers (rest_*.c): 0, TM_ESTATUS, or 1 for an unknown action ---- */
int tm_rest_db(struct tm_req *r, const char *action);
int tm_rest_coll(struct tm_req *r, const char *action);
int tm_rest_part(struct tm_req *r, const char *action);
int tm_rest_index(struct tm_req *r, const char *action);
int tm_rest_entity(struct tm_req *r, const char *action);

#endif
