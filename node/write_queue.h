/* Group commit in the proxy: concurrent writes to one WAL shard travel
 * together in one "writes" call (wal/data_role.h), each still its own
 * entry with its own client id, answered one by one.
 *
 * Each shard's queue has TM_WQ_SENDERS sender threads. A write joins the
 * queue and wakes an idle sender, which takes everything queued (up to
 * TM_DATA_MAX_WRITES, TM_WQ_MAX_BYTES) into one call; under load it lingers
 * first, for a fuller call (TM_WQ_LINGER_US). So a lone client's
 * write goes out at once, and under load the writes that queue while a
 * call is in flight share the next one: the per-call costs (thread
 * hand-offs, nng's locks, the data role's append, the readers' tails) are
 * paid once per call instead of once per write.
 *
 * A write is answered through its item's `done`, on a sender thread: the
 * REST loop thread submits a write and goes on serving other connections
 * (proxy.c, the inline path), a worker thread waits for it
 * (tm_write_queue_call).
 */
#ifndef TM_WRITE_QUEUE_H
#define TM_WRITE_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "tm_mp.h"
#include "tm_rpc.h"

#define TM_WQ_SENDERS 1 /* more calls in flight made smaller calls, and fewer writes/s */
#define TM_WQ_MAX_BYTES (32u << 20)
/* Group commit's linger, as PostgreSQL's commit_delay with commit_siblings:
 * once a call carried TM_WQ_BUSY_WRITES writes or more, the sender waits up
 * to TM_WQ_LINGER_US for as many as that call carried before it sends the
 * next. Each call costs every replica and reader a round of wake-ups, disk
 * writes and messages whatever it carries; on a busy cluster fuller calls
 * leave more CPU for the writes (benchmarks.md, "Fuller calls"). A lone
 * writer never waits: its calls carry one write. Only a cluster's proxy
 * lingers: in one process a call costs no replication round, and the wait
 * only added latency (standalone, 100 clients: 10 % fewer writes/s). */
#define TM_WQ_BUSY_WRITES 4
#define TM_WQ_LINGER_US 2000

struct tm_wq_item {
    const struct tm_mpw *body; /* the "write" body; borrowed until done */
    /* Called once, on a sender thread, with the result set: 0 with ts,
     * TM_ESTATUS with st (the write's own error), or a transport error with
     * st, as tm_rpc_call_uint("write") would. The item may be freed in it. */
    void (*done)(struct tm_wq_item *it);
    int rc;
    uint64_t ts;
    struct tm_status st;
    struct tm_wq_item *next; /* the queue's */
};

struct tm_write_queue {
    pthread_mutex_t mu;
    pthread_cond_t work;
    struct tm_wq_item *head, *tail;
    int idle;            /* senders waiting for work */
    uint32_t queued;     /* items from head to tail */
    size_t queued_bytes; /* their bodies' bytes */
    uint32_t last_n;     /* writes the last call carried */
    uint32_t want;       /* a lingering sender's fill: wake it once queued */
    bool stopping;
    struct tm_rpc_client *to;
    int64_t shard;
    int timeout_ms;
    int linger_us;
    pthread_t senders[TM_WQ_SENDERS];
    int nsenders;
};

/* Starts the senders of shard `shard`'s queue, calling `to`, lingering up to
 * linger_us when busy (0: never). 0 or TM_ENOMEM (nothing left running). */
int tm_write_queue_start(struct tm_write_queue *q, struct tm_rpc_client *to, int64_t shard,
                         int timeout_ms, int linger_us);
/* Sends what is still queued, then joins the senders. Once started, call
 * exactly once, with no submit running or to come. */
void tm_write_queue_stop(struct tm_write_queue *q);
/* Queues a write; it->done answers it later (any thread may submit). */
void tm_write_queue_submit(struct tm_write_queue *q, struct tm_wq_item *it);
/* Submits body and waits for its answer (see tm_wq_item.done). */
int tm_write_queue_call(struct tm_write_queue *q, const struct tm_mpw *body, uint64_t *ts,
                        struct tm_status *st);

#endif
