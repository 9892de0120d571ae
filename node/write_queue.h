/* Group commit in the proxy: concurrent writes to one WAL shard travel
 * together in one "writes" call (wal/data_role.h), each still its own
 * entry with its own client id, answered one by one.
 *
 * A write joins its shard's queue. While fewer than TM_WQ_SENDERS calls are
 * in flight its thread sends at once, taking everything queued (up to
 * TM_DATA_MAX_WRITES, TM_WQ_MAX_BYTES); otherwise it waits, and when a call
 * returns its sender hands the next call to the first write still queued.
 * So a lone client's write goes out immediately, and under load the
 * writes that queue while a call is in flight share the next one: the
 * per-call costs (the proxy's and data role's thread hand-offs, nng's
 * locks) are paid once per call instead of once per write.
 */
#ifndef TM_WRITE_QUEUE_H
#define TM_WRITE_QUEUE_H

#include <pthread.h>
#include <stdint.h>

#include "tm_mp.h"
#include "tm_rpc.h"

#define TM_WQ_SENDERS 2 /* the data role keeps two appends in flight per shard */
#define TM_WQ_MAX_BYTES (32u << 20)

struct tm_wq_item;

struct tm_write_queue {
    pthread_mutex_t mu;
    struct tm_wq_item *head, *tail;
    int sending; /* calls in flight, or handed to a queued write to send */
};

void tm_write_queue_init(struct tm_write_queue *q);
void tm_write_queue_destroy(struct tm_write_queue *q);

/* Sends the "write" body (a msgpack map whose "shard" is this queue's
 * shard) through the queue and waits for its answer: 0 with *ts set,
 * TM_ESTATUS with st filled, or a transport error with st filled, as
 * tm_rpc_call_uint("write") would. */
int tm_write_queue_call(struct tm_write_queue *q, struct tm_rpc_client *to, int64_t shard,
                        const struct tm_mpw *body, int timeout_ms, uint64_t *ts,
                        struct tm_status *st);

#endif
