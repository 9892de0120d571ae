/* The proxy's per-shard group commit (write_queue.h). */
#include "write_queue.h"

#include "wal/data_role.h"

#include <stdbool.h>
#include <string.h>

enum item_state { WAITING, SENDING, DONE };

struct tm_wq_item {
    const struct tm_mpw *body;
    pthread_cond_t cond;
    enum item_state state;
    bool lead; /* its thread is to send the next call */
    int rc;
    uint64_t ts;
    struct tm_status st;
    struct tm_wq_item *next;
};

void tm_write_queue_init(struct tm_write_queue *q)
{
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->mu, NULL);
}

void tm_write_queue_destroy(struct tm_write_queue *q)
{
    pthread_mutex_destroy(&q->mu);
}

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
        it->state = SENDING;
        batch[n++] = it;
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
static void send_batch(struct tm_rpc_client *to, int64_t shard, struct tm_wq_item **batch,
                       uint32_t n, int timeout_ms)
{
    struct tm_mpw w;
    struct tm_rpc_reply rep = {0};
    struct tm_status st;
    uint32_t m = 0;
    tm_mpw_init(&w);
    tm_mpw_map(&w, 2);
    tm_mpw_cstr(&w, "shard"), tm_mpw_int(&w, shard);
    tm_mpw_cstr(&w, "items"), tm_mpw_array(&w, n);
    for (uint32_t i = 0; i < n; i++)
        tm_mpw_raw(&w, batch[i]->body->buf.data, batch[i]->body->buf.len);
    int rc = tm_mpw_error(&w) ? tm_status_set(&st, TM_MV_INTERNAL, "out of memory"),
        TM_ENOMEM : tm_rpc_call(to, "writes", w.buf.data, w.buf.len, timeout_ms, &rep, &st);
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

/* One sending turn, with q->mu held: sends what is queued (if anything),
 * then passes the turn to the first write still queued and not already
 * given one, or gives it back. */
static void send_turn(struct tm_write_queue *q, struct tm_rpc_client *to, int64_t shard,
                      int timeout_ms, const struct tm_wq_item *me)
{
    struct tm_wq_item *batch[TM_DATA_MAX_WRITES];
    uint32_t n = take(q, batch);
    if (n) {
        pthread_mutex_unlock(&q->mu);
        send_batch(to, shard, batch, n, timeout_ms);
        pthread_mutex_lock(&q->mu);
        for (uint32_t i = 0; i < n; i++) {
            batch[i]->state = DONE;
            if (batch[i] != me)
                pthread_cond_signal(&batch[i]->cond);
        }
    }
    struct tm_wq_item *next = q->head;
    while (next && next->lead)
        next = next->next;
    if (next) {
        next->lead = true;
        pthread_cond_signal(&next->cond);
    } else {
        q->sending--;
    }
}

int tm_write_queue_call(struct tm_write_queue *q, struct tm_rpc_client *to, int64_t shard,
                        const struct tm_mpw *body, int timeout_ms, uint64_t *ts,
                        struct tm_status *st)
{
    struct tm_wq_item me = {.body = body, .state = WAITING};
    pthread_cond_init(&me.cond, NULL);
    pthread_mutex_lock(&q->mu);
    if (q->tail)
        q->tail->next = &me;
    else
        q->head = &me;
    q->tail = &me;
    if (q->sending < TM_WQ_SENDERS) {
        q->sending++;
        me.lead = true;
    }
    /* A turn to send is taken even when this write is done already (sent by
     * another thread's call meanwhile): a turn dropped would be a sender
     * slot lost. */
    for (;;) {
        if (me.lead) {
            me.lead = false;
            send_turn(q, to, shard, timeout_ms, &me);
            continue;
        }
        if (me.state == DONE)
            break;
        pthread_cond_wait(&me.cond, &q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    pthread_cond_destroy(&me.cond);
    *ts = me.ts;
    *st = me.st;
    return me.rc;
}
