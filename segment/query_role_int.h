/* Internals of the query role shared by query_role.c and query_search.c. */
#ifndef TM_QUERY_ROLE_INT_H
#define TM_QUERY_ROLE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "expr.h"
#include "query_index.h"
#include "query_role.h"
#include "search.h"
#include "store.h"
#include "tm_rpc.h"
#include "tm_stream.h"

#define KEY_IS(k, n, lit) ((n) == sizeof(lit) - 1 && memcmp((k), (lit), (n)) == 0)

struct qcoll {
    int64_t id;
    bool dead;
    int64_t pk_field_id;
    struct tm_store *store;
    /* The index definitions built for it (query_index.h), guarded by the
     * builder's mutex; stale until read from the catalog. */
    struct qidef *idefs;
    size_t nidefs;
    bool idefs_stale;
};

struct qshard {
    struct tm_query_role *q;
    int id;
    pthread_t thread;
    struct tm_rpc_client *data; /* the shard's replicas: the leader answers */
    /* Applying the shard's entries: its tail thread, or the stream thread
     * (tm_query_apply_pushed) when the tail thread is not at it. */
    pthread_mutex_t apply_mu;
    atomic_bool applies; /* after is set: the stream thread may apply */
    uint64_t after;      /* the timestamp of the last entry applied */
    /* Entries at or before this timestamp are in the sealed ranges loaded
     * at start (the latest range's seal timestamp, or the leader's "upto"
     * if later): skipped by the tail. */
    uint64_t sealed_ts;
    bool tailing; /* a tail thread runs (joined at stop) */
    /* Pushed messages of this shard (query_stream.c), guarded by in_mu. */
    pthread_mutex_t in_mu;
    pthread_cond_t in_cond;
    struct tm_stream_msg *inbox; /* a ring of QSTREAM_INBOX */
    unsigned in_head, in_len;
    atomic_uint_fast64_t pushed_ms; /* tm_mono_ms() of the last message */
    uint64_t tailed_ms;             /* tm_mono_ms() of the last "tail" answer (tail thread) */
};

struct tm_query_role {
    uint64_t reader_id; /* names this role in "tail" calls (wal/data_role.h) */
    struct tm_rpc_client *coord;
    struct tm_rpc_server *rpc;
    struct qshard *shards;
    int nshards;       /* in the cluster */
    int nshards_alloc; /* with a client (closed at stop) */
    uint64_t serves;   /* the shards tailed and answered (bit s) */
    atomic_bool stopping;
    /* collections, guarded by colls_mu */
    pthread_mutex_t colls_mu;
    struct qcoll *colls;
    size_t ncolls;
    /* tsafe per shard, guarded by progress_mu */
    pthread_mutex_t progress_mu;
    pthread_cond_t progress;
    uint64_t *tsafe;
    struct qidx *qidx; /* the index builder (query_index.c) */
    /* the log stream (query_stream.c): NULL when the shards are only pulled */
    struct tm_stream_sub *stream;
    pthread_t stream_thread;
    bool stream_up;
    char fetch_dir[1024]; /* "": sealed segments are read where the data role wrote them */
    char url[128];        /* this role's address, as its peers list it */
    int (*list_peers)(void *arg, struct tm_qpeer *out, int max);
    void *peers_arg;
};

/* query_stream.c: receives the shard leaders' pushed entries (data_role.h,
 * "The log stream") and applies each at once (tm_query_apply_pushed) or
 * hands it to its shard's inbox for the tail thread. Start once the shards
 * are set up, stop before they are freed. */
int tm_qstream_start(struct tm_query_role *q, const char *urls);
void tm_qstream_stop(struct tm_query_role *q);
/* Whether the shard's stream delivered lately: its tail thread then waits
 * for pushes instead of calling "tail" and waiting there. */
bool tm_qstream_live(struct qshard *sh);
/* The shard's next pushed message, waiting up to timeout_ms: 0 or
 * TM_ETIMEDOUT. */
int tm_qstream_next(struct qshard *sh, int timeout_ms, struct tm_stream_msg *out);

struct tm_seal_owned;
/* query_fetch.c: reads the range sealed at index that the shard leader
 * holds in remote_dir, copying its files into fetch_dir first when the
 * query role has one. As tm_seal_read (seal_io.h). */
int tm_qfetch_read(struct tm_query_role *q, int shard, int64_t coll, uint64_t index,
                   const char *remote_dir, struct tm_seal_owned *o, char *err);

struct read_args {
    int64_t coll;
    struct tm_span pks;
    const char *filter, *params; /* filter text and exprParams JSON text, not terminated */
    uint32_t filter_len, params_len;
    int64_t parts[1024];
    uint32_t nparts;
    bool all_parts;
    int64_t fields[TM_BATCH_MAX_COLS];
    uint32_t nfields;
    uint64_t offset, limit, level, gts, timeout_ms;
    uint64_t shards; /* the shards read (bit s); 0: all served */
};

/* What a search adds to a read. */
struct search_args {
    int64_t field;
    uint64_t metric, nq, k, group, group_size;
    const uint8_t *vecs, *ends;
    uint32_t vecs_len, ends_len;
    bool has_radius, has_range_filter;
    double radius, range_filter;
    uint64_t nprobe; /* 0: the index's default */
    double refine_k; /* 0: the index's default */
};

/* The collection's entry, or NULL when the role has not seen it (entries
 * are never removed, only marked dead). */
struct qcoll *tm_query_coll(struct tm_query_role *q, int64_t id);
/* On the stream thread, for a message none of its shard's queued ones go
 * before: applies it unless it is large, the tail thread is applying, the
 * message starts after a gap, or an entry would block (a catalog call, a
 * store a search reads, a seal) or fails. Never blocks. Each message then
 * costs one thread's wake-up instead of two (benchmarks.md, "Applying
 * without the copy"). false: nothing or part applied; queue it. */
bool tm_query_apply_pushed(struct qshard *sh, const struct tm_stream_msg *m);
/* The number of collection entries (q->colls[0 .. n) may be read). */
size_t tm_query_ncolls(struct tm_query_role *q);

/* Decodes a read (and, when sa is given, a search) request. */
int tm_query_parse(struct tm_mpr *body, struct read_args *a, struct search_args *sa);
/* Resolves the collection, waits for the read's consistency level and
 * parses its filter into *filter_out (NULL for none). NULL with st set on
 * failure; NULL with st clear when the collection has no rows yet. */
struct qcoll *tm_query_prepare(struct tm_query_role *q, const struct read_args *a,
                               uint64_t *read_ts, struct tm_expr **filter_out,
                               struct tm_status *st);
/* What a read selects in a store: the shards' read timestamps, the
 * request's partitions, fields, window and filter (borrowed). */
struct tm_store_read tm_query_store_read(const struct tm_query_role *q, const struct read_args *a,
                                         const uint64_t *read_ts, const struct tm_expr *filter);
/* The "search" call (query_search.c). */
void tm_query_search(struct tm_query_role *q, struct tm_mpr *body, struct tm_mpw *reply,
                     struct tm_status *st);

#endif
