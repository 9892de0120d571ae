/* The log stream's receiving side (query_role_int.h): one thread takes
 * every pushed message and applies it, or queues it for its shard's tail
 * thread, which applies it or, on a gap, calls "tail" (query_role.c). */
#include "query_role_int.h"
#include "tm_log.h"
#include "tm_mp.h"
#include "tm_time.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Messages a shard may have queued; past that the oldest is dropped, which
 * is a gap the tail thread fills with "tail". */
#define QSTREAM_INBOX 64
/* A stream silent this long is not relied on (a leader pushes its safe
 * timestamp every tick, 200 ms, also while idle). */
#define QSTREAM_LIVE_MS 1000

/* The shard a message is for, or -1. */
static int64_t msg_shard(const struct tm_stream_msg *m)
{
    struct tm_mpr r;
    tm_mpr_init(&r, m->data, m->len);
    return tm_mpr_key_int(r, "shard", -1);
}

static void inbox_put(struct qshard *sh, struct tm_stream_msg *m)
{
    pthread_mutex_lock(&sh->in_mu);
    if (sh->in_len == QSTREAM_INBOX) {
        tm_stream_msg_free(&sh->inbox[sh->in_head]);
        sh->in_head = (sh->in_head + 1) % QSTREAM_INBOX;
        sh->in_len--;
    }
    sh->inbox[(sh->in_head + sh->in_len) % QSTREAM_INBOX] = *m;
    sh->in_len++;
    atomic_store(&sh->pushed_ms, tm_mono_ms());
    pthread_cond_signal(&sh->in_cond);
    pthread_mutex_unlock(&sh->in_mu);
}

static bool inbox_empty(struct qshard *sh)
{
    pthread_mutex_lock(&sh->in_mu);
    bool empty = sh->in_len == 0;
    pthread_mutex_unlock(&sh->in_mu);
    return empty;
}

/* Applied here if nothing queued goes before it (only this thread queues),
 * else queued. */
static void deliver(struct qshard *sh, struct tm_stream_msg *m)
{
    atomic_store(&sh->pushed_ms, tm_mono_ms());
    if (inbox_empty(sh) && tm_query_apply_pushed(sh, m))
        tm_stream_msg_free(m);
    else
        inbox_put(sh, m);
}

static void *stream_main(void *arg)
{
    struct tm_query_role *q = arg;
    pthread_setname_np(pthread_self(), "tm-stream");
    while (!atomic_load(&q->stopping)) {
        struct tm_stream_msg m;
        /* tm_qstream_stop shuts the socket down: no timeout needed */
        int rc = tm_stream_sub_recv(q->stream, -1, &m);
        if (rc == TM_ESHUTDOWN)
            break;
        if (rc)
            continue;
        int64_t s = msg_shard(&m);
        if (s >= 0 && s < q->nshards && (q->serves >> s & 1))
            deliver(&q->shards[s], &m);
        else
            tm_stream_msg_free(&m);
    }
    return NULL;
}

int tm_qstream_start(struct tm_query_role *q, const char *urls)
{
    for (int i = 0; i < q->nshards; i++) {
        struct qshard *sh = &q->shards[i];
        sh->inbox = calloc(QSTREAM_INBOX, sizeof *sh->inbox);
        if (!sh->inbox)
            return TM_ENOMEM;
        pthread_mutex_init(&sh->in_mu, NULL);
        pthread_cond_init(&sh->in_cond, NULL);
    }
    int rc = tm_stream_sub_open(&q->stream, urls);
    if (!rc && pthread_create(&q->stream_thread, NULL, stream_main, q))
        rc = TM_ENOMEM;
    q->stream_up = !rc;
    return rc;
}

void tm_qstream_stop(struct tm_query_role *q)
{
    if (q->stream_up) {
        tm_stream_sub_shutdown(q->stream);
        pthread_join(q->stream_thread, NULL);
        q->stream_up = false;
    }
    tm_stream_sub_close(q->stream);
    q->stream = NULL;
    for (int i = 0; q->shards && i < q->nshards_alloc; i++) {
        struct qshard *sh = &q->shards[i];
        if (!sh->inbox)
            continue;
        for (; sh->in_len; sh->in_len--, sh->in_head = (sh->in_head + 1) % QSTREAM_INBOX)
            tm_stream_msg_free(&sh->inbox[sh->in_head]);
        free(sh->inbox);
        sh->inbox = NULL;
        pthread_mutex_destroy(&sh->in_mu);
        pthread_cond_destroy(&sh->in_cond);
    }
}

bool tm_qstream_live(struct qshard *sh)
{
    return sh->inbox && tm_mono_ms() - atomic_load(&sh->pushed_ms) < QSTREAM_LIVE_MS;
}

int tm_qstream_next(struct qshard *sh, int timeout_ms, struct tm_stream_msg *out)
{
    struct timespec until = tm_deadline_ms((uint64_t)timeout_ms);
    pthread_mutex_lock(&sh->in_mu);
    while (sh->in_len == 0 && !atomic_load(&sh->q->stopping))
        if (pthread_cond_timedwait(&sh->in_cond, &sh->in_mu, &until) == ETIMEDOUT)
            break;
    int rc = sh->in_len ? 0 : TM_ETIMEDOUT;
    if (!rc) {
        *out = sh->inbox[sh->in_head];
        sh->in_head = (sh->in_head + 1) % QSTREAM_INBOX;
        sh->in_len--;
    }
    pthread_mutex_unlock(&sh->in_mu);
    return rc;
}
