/* Internals of the data role shared by data_role.c and data_snap.c. */
#ifndef TM_DATA_ROLE_INT_H
#define TM_DATA_ROLE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <uv.h>

#include "data_role.h"
#include "dedupe.h"
#include "entry.h"
#include "raftgroup.h"
#include "tm_rpc.h"
#include "tm_stream.h"
#include "tm_wait.h"

#define MAX_BATCH 64
#define MAX_INFLIGHT 256 /* entries appended and not yet applied */
/* Appends in flight. Requests that arrive meanwhile wait and go out
 * together as the next append: each append costs libraft a disk write and
 * a message to every follower (each of which writes too), so many small
 * appends cost more than the waiting saves. */
#define MAX_BATCHES 2
#define TICK_MS 200
#define TAIL_MAX_BYTES (8u << 20)
#define LEASE_COUNT 4096
#define LEASE_MS 100
#define KEY_IS(k, n, lit) ((n) == sizeof(lit) - 1 && memcmp((k), (lit), (n)) == 0)

struct write_req {
    struct shard *sh;
    bool internal; /* the shard's own (a seal): freed, not signalled, when done */
    struct tm_entry_hdr hdr;
    struct tm_span rows, pks; /* borrowed from the RPC request for the wait */
    struct tm_wait wait;
    /* A "writes" call answered when its last write is done (data_role.c):
     * then wait is unused, and rc is this write's result. */
    struct writes_call *call;
    int rc;
    struct write_req *next;    /* in the shard's queue */
    struct write_req *pending; /* appended, waiting for its entry to apply */
};

struct applied {
    uint8_t *p;
    size_t len;
    uint64_t ts;
    bool seal; /* a seal or compaction: everything up to it is in segments */
};

#define MAX_READERS 16

/* A reader's last reported position (the "tail" call's reader and after). */
struct tail_reader {
    uint64_t id, after, seen_ms;
};

struct shard {
    struct tm_data_role *role;
    int id;
    struct tm_raft_group *raft;
    /* write queue, guarded by qmu */
    pthread_mutex_t qmu;
    struct write_req *qhead, *qtail;
    bool drain_posted;
    struct tm_raft_job drain_job;
    int inflight; /* entries appended, not yet applied; loop thread only */
    int batches;  /* appends whose callback has not run; loop thread only */
    struct write_req *pending_head, *pending_tail; /* those requests, in log order */
    /* applied entries, guarded by tmu */
    pthread_mutex_t tmu;
    pthread_cond_t tcond;
    struct applied *log;
    uint64_t nlog, caplog;
    uint64_t last_ts, safe_ts;
    uint64_t tick_ts; /* a tick's timestamp while its barrier runs; loop thread only */
    struct tm_raft_job tick_job;
    uv_timer_t tick;
    bool tick_started;
    /* Wake-ups held to the end of the loop's turn (loop thread only): the
     * tails and the writers of a run of entries applied in one turn are
     * woken once, not once per entry (data_role.c, on_turn_end). */
    uv_check_t turn_end;
    bool tails_to_wake;
    struct write_req *acked_head, *acked_tail;
    struct tm_dedupe applied_ids; /* changed by apply; guarded by tmu */
    /* sealing, loop thread only: where the tail starts after the last seal,
     * bytes and rows applied since, whether a seal is queued */
    uint64_t seal_pos, bytes_since_seal, rows_since_seal;
    bool seal_queued, snapshot_wanted;
    /* a cluster's replica: whether it leads (set by raftgroup's on_leader)
     * and the running digest of applied entries (guarded by tmu) */
    atomic_bool leading;
    bool hosted;
    uint64_t digest, ndigest;
    uint64_t base_ts; /* the log before log[0] is in segments up to this ts */
    /* the last two seals' timestamps, and the readers heard from; the log
     * is freed behind them (data_role.h, "The log in memory") */
    uint64_t seal_ts, prev_seal_ts;
    /* the seal the latest snapshot follows (guarded by tmu; tcond
     * broadcast when it moves), and the job that asks for that snapshot
     * at once rather than at the next tick (a flush waits for it) */
    uint64_t snap_seal_ts;
    atomic_bool nudge_posted;
    struct tm_raft_job nudge_job;
    struct tail_reader readers[MAX_READERS];
    int nreaders;
    /* the log stream's pusher (data_push.c), guarded by tmu: the last
     * entry's and the safe timestamp pushed; ready once the replayed log is
     * behind (it is not pushed) */
    uint64_t pushed_ts, pushed_safe;
    bool push_ready, push_stop, pusher_up;
    pthread_t pusher;
    pthread_cond_t push_cond;
    /* timestamp lease, loop thread only (lease.c) */
    uint64_t lease_next, lease_end, lease_ms;
    /* the spare lease, fetched ahead by the lease thread; lease_gen counts
     * leadership changes, so a lease fetched across one is dropped */
    pthread_mutex_t lease_mu;
    uint64_t spare_next, spare_end, spare_ms;
    bool starved; /* a write waits for a spare */
    atomic_uint_fast64_t lease_gen;
};

struct tm_data_role {
    struct shard *shards;
    int nshards;
    const struct tm_shard_sink *sink;
    uint64_t seal_bytes, seal_rows;
    struct tm_rpc_client *coord;
    struct tm_rpc_server *rpc;
    struct tm_stream_pub *stream; /* NULL: the query roles only pull */
    bool cluster;
    atomic_bool stopping;  /* tm_data_role_stop began: queued writes fail */
    char files_root[1024]; /* segment files served by "files" and "file" */
    /* the lease thread (lease.c) */
    pthread_t lease_thread;
    pthread_mutex_t lease_wait_mu;
    pthread_cond_t lease_wake;
    bool lease_up, lease_stop;
    bool lease_kick; /* woken since the thread last looked: look again at once */
};

/* data_role.c */
int tm_data_record_entry(struct shard *sh, const struct tm_entry_hdr *h, const void *buf,
                         size_t len);
void tm_data_enqueue(struct shard *sh, struct write_req *req);
void tm_data_digest_add(struct shard *sh, const void *buf, size_t len);
/* The first position whose entry has a timestamp above `after` (the log's
 * timestamps rise). Under tmu. */
uint64_t tm_data_first_after(const struct shard *sh, uint64_t after);
/* data_trim.c. Under tmu: whether the entries after `after` are in memory;
 * if so, notes reader (when nonzero) there. A reader already behind is not
 * noted: stuck there, it would hold the log for good. */
bool tm_data_hold(struct shard *sh, uint64_t reader, uint64_t after, uint64_t now_ms);
/* Frees the entries every reader has passed (loop thread; takes tmu). */
void tm_data_trim_log(struct shard *sh, uint64_t now_ms);
/* data_push.c: the shard's pusher thread (none without a stream); stop it
 * before the shard's log is freed. */
int tm_data_push_start(struct shard *sh);
void tm_data_push_stop(struct shard *sh);
/* After entries applied or the safe timestamp rose (changed under tmu, woken
 * after it is released, so the pusher does not wake only to wait for the
 * lock): wakes the pusher if this replica leads (a follower's wakes every
 * tick only). */
void tm_data_push_wake(struct shard *sh);
/* Asks the shard's loop to drain its queue soon (any thread). */
void tm_data_post_drain(struct shard *sh);
/* lease.c: n consecutive timestamps from the shard's lease (loop thread),
 * or TM_EAGAIN when no fresh lease is at hand yet (the lease thread then
 * posts a drain when one arrives). */
int tm_data_shard_ts(struct shard *sh, uint32_t n, uint64_t *ts);
/* After a leadership change: drops the lease and the spare. */
void tm_data_lease_reset(struct shard *sh);
void tm_data_lease_init(struct tm_data_role *d); /* before the shards start */
int tm_data_lease_start(struct tm_data_role *d); /* the thread, after */
void tm_data_lease_stop(struct tm_data_role *d); /* before the shards stop */
void tm_data_lease_destroy(struct tm_data_role *d);
/* data_snap.c (loop thread) */
int tm_data_snapshot(void *arg, struct tm_buf *out);
int tm_data_restore(void *arg, const void *buf, size_t len);
/* After an applied entry (rows: its decoded `rows` span): tells the sink,
 * counts its bytes and rows towards the next seal, and after a seal asks
 * for a snapshot. */
int tm_data_after_apply(struct shard *sh, const struct tm_entry_hdr *h, struct tm_span rows,
                        const void *buf, size_t len);
/* From the tick: queues a seal once enough bytes or rows were written since
 * the last. */
void tm_data_maybe_seal(struct shard *sh);
/* data_files.c */
void tm_data_call_files(struct tm_data_role *d, struct tm_mpr *body, struct tm_mpw *reply,
                        struct tm_status *st);
void tm_data_call_file(struct tm_data_role *d, struct tm_mpr *body, struct tm_mpw *reply,
                       struct tm_status *st);
void tm_data_call_sealed(struct tm_data_role *d, struct tm_mpr *body, struct tm_mpw *reply,
                         struct tm_status *st);

#endif
