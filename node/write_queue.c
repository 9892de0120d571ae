/* The proxy's per-shard group commit (write_queue.h). */
#include "write_queue.h"

#include "tm_time.h"
#include "tm_wait.h"
#include "wal/data_role.h"

#include <string.h>
#include <time.h>

/* Takes writes from the head of the queue into batch; how many. */
static uint32_t take(struct tm_write_queue *q, struct tm_wq_item **batch)
{
    uint32_t n = 0;
    size_t bytes = 0;
    while (q->head && n < TM_DATA_MAX_WRITES &&
           (n == 0 || bytes + q->head->body->buf.len <= TM_WQ_MAX_BYTES)) {
        struct tm_wq_item *it = q->head;
        q->head = it->next;
        bytes += it->body->buf.len;
        batch[n++] = it;
        q->queued--;
        q->queued_bytes -= it->body->buf.len;
    }
    if (!q->head)
        q->tail = NULL;
    return n;
}

/* One reply item: {"ts"} or {"code", "message"}. */
static void read_result(struct tm_mpr *r, struct tm_wq_item *it)
{
    uint32_t n, kn;
    const char *k;
    uint64_t code = 0;
    if (tm_mpr_map(r, &n))
        n = 0;
    tm_status_ok(&it->st);
    for (uint32_t i = 0; i < n && !r->err; i++) {
        if (tm_mpr_str(r, &k, &kn))
            break;
        if (kn == 2 && memcmp(k, "ts", 2) == 0)
            tm_mpr_uint(r, &it->ts);
        else if (kn == 4 && memcmp(k, "code", 4) == 0)
            tm_mpr_uint(r, &code);
        else if (kn == 7 && memcmp(k, "message", 7) == 0)
            tm_mpr_str_copy(r, it->st.msg, sizeof it->st.msg);
        else
            tm_mpr_skip(r);
    }
    if (r->err) {
        tm_status_set(&it->st, TM_MV_INTERNAL, "rpc writes: malformed reply");
        it->rc = TM_ECORRUPT;
    } else if (code)
        it->st.code = (int)code, it->rc = TM_ESTATUS;
    else
        it->rc = 0;
}

/* Sends batch as one call and fills every item's result. */
static void send_batch(struct tm_write_queue *q, struct tm_wq_item **batch, uint32_t n)
{
    struct tm_mpw w;
    struct tm_rpc_reply rep = {0};
    struct tm_status st;
    uint32_t m = 0;
    tm_mpw_init(&w);
    tm_mpw_map(&w, 2);
    tm_mpw_cstr(&w, "shard"), tm_mpw_int(&w, q->shard);
    tm_mpw_cstr(&w, "items"), tm_mpw_array(&w, n);
    for (uint32_t i = 0; i < n; i++)
        tm_mpw_raw(&w, batch[i]->body->buf.data, batch[i]->body->buf.len);
    int rc = tm_mpw_error(&w) ? tm_status_set(&st, TM_MV_INTERNAL, "out of memory"),
        TM_ENOMEM : tm_rpc_call(q->to, "writes", w.buf.data, w.buf.len, q->timeout_ms, &rep, &st);
    tm_mpw_free(&w);
    bool have_reply = rc == 0;
    if (!rc && (tm_mpr_find(&rep.body, "results") || tm_mpr_array(&rep.body, &m) || m != n)) {
        tm_status_set(&st, TM_MV_INTERNAL, "rpc writes: malformed reply");
        rc = TM_ECORRUPT;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (rc) {
            batch[i]->rc = rc;
            batch[i]->st = st;
        } else {
            read_result(&rep.body, batch[i]);
        }
    }
    if (have_reply)
        tm_rpc_reply_free(&rep);
}

/* Whether the queue holds a full call already. */
static bool call_full(const struct tm_write_queue *q, uint32_t want)
{
    return q->queued >= want || q->queued_bytes >= TM_WQ_MAX_BYTES;
}

/* Under load, waits up to q->linger_us for the next call to fill (the
 * caller holds q->mu): see TM_WQ_LINGER_US. */
static void linger(struct tm_write_queue *q)
{
    uint32_t want = q->last_n < TM_DATA_MAX_WRITES ? q->last_n : TM_DATA_MAX_WRITES;
    if (!q->linger_us || want < TM_WQ_BUSY_WRITES || call_full(q, want))
        return;
    uint64_t ns = tm_mono_ns() + (uint64_t)q->linger_us * 1000u;
    struct timespec until = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    q->want = want;
    while (!call_full(q, want) && !q->stopping)
        if (pthread_cond_timedwait(&q->work, &q->mu, &until))
            break;
    q->want = 0;
}

static void *sender_main(void *arg)
{
    struct tm_write_queue *q = arg;
    struct tm_wq_item *batch[TM_DATA_MAX_WRITES];
    pthread_setname_np(pthread_self(), "tm-wq-sender");
    pthread_mutex_lock(&q->mu);
    for (;;) {
        uint64_t idle_from = q->linger_us && !q->head ? tm_mono_ns() : 0;
        q->idle++;
        while (!q->head && !q->stopping)
            pthread_cond_wait(&q->work, &q->mu);
        q->idle--;
        /* After a quiet spell the shard is not busy any more. */
        if (idle_from && tm_mono_ns() - idle_from > (uint64_t)q->linger_us * 1000u)
            q->last_n = 0;
        linger(q);
        uint32_t n = take(q, batch);
        q->last_n = n;
        if (n == 0)
            break; /* stopping, and nothing is left to send */
        pthread_mutex_unlock(&q->mu);
        send_batch(q, batch, n);
        for (uint32_t i = 0; i < n; i++)
            batch[i]->done(batch[i]);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

int tm_write_queue_start(struct tm_write_queue *q, struct tm_rpc_client *to, int64_t shard,
                         int timeout_ms, int linger_us)
{
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t monotonic;
    pthread_condattr_init(&monotonic);
    pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
    pthread_cond_init(&q->work, &monotonic);
    pthread_condattr_destroy(&monotonic);
    q->to = to;
    q->shard = shard;
    q->timeout_ms = timeout_ms;
    q->linger_us = linger_us;
    while (q->nsenders < TM_WQ_SENDERS &&
           pthread_create(&q->senders[q->nsenders], NULL, sender_main, q) == 0)
        q->nsenders++;
    if (q->nsenders == TM_WQ_SENDERS)
        return 0;
    tm_write_queue_stop(q);
    return TM_ENOMEM;
}

void tm_write_queue_stop(struct tm_write_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->stopping = true;
    pthread_cond_broadcast(&q->work);
    pthread_mutex_unlock(&q->mu);
    for (int i = 0; i < q->nsenders; i++)
        pthread_join(q->senders[i], NULL);
    pthread_cond_destroy(&q->work);
    pthread_mutex_destroy(&q->mu);
    memset(q, 0, sizeof *q);
}

void tm_write_queue_submit(struct tm_write_queue *q, struct tm_wq_item *it)
{
    it->next = NULL;
    pthread_mutex_lock(&q->mu);
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    q->queued++;
    q->queued_bytes += it->body->buf.len;
    /* A lingering sender (want set) is woken as its call fills; it is not
     * counted idle. */
    bool wake = q->want ? call_full(q, q->want) : q->idle > 0;
    pthread_mutex_unlock(&q->mu);
    /* Outside the lock: the woken sender does not block on it at once. A
     * sender counted idle is in (or entering) its wait, so it gets this. */
    if (wake)
        pthread_cond_signal(&q->work);
}

struct waited_item {
    struct tm_wq_item it;
    struct tm_wait answered;
};

static void wake_waiter(struct tm_wq_item *it)
{
    struct waited_item *w = (struct waited_item *)it;
    tm_wait_signal(&w->answered, 0);
}

int tm_write_queue_call(struct tm_write_queue *q, const struct tm_mpw *body, uint64_t *ts,
                        struct tm_status *st)
{
    struct waited_item w = {.it = {.body = body, .done = wake_waiter}};
    tm_wait_init(&w.answered);
    tm_write_queue_submit(q, &w.it);
    tm_wait_for(&w.answered);
    tm_wait_destroy(&w.answered);
    *ts = w.it.ts;
    *st = w.it.st;
    return w.it.rc;
}
