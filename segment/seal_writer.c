/* The sealer's background writer (seal_writer.h). */
#include "seal_writer.h"
#include "tm_log.h"
#include "tm_time.h"

#include <pthread.h>
#include <stdlib.h>

#define RETRY_MS 1000

struct tm_seal_writer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a job queued, done or dropped; stopping */
    struct tm_seal_job *head, *tail;
    struct tm_seal_job *cur; /* being written, off the queue */
    bool cur_failed;         /* its last attempt failed */
    bool cur_cancelled;      /* tm_seal_writer_cancel: drop it after this attempt */
    bool stopping;
    tm_seal_done_fn done;
    void *arg;
};

static void job_free(struct tm_seal_job *job)
{
    tm_seal_copy_free(&job->copy);
    free(job);
}

/* Under mu: the oldest job, or NULL. */
static struct tm_seal_job *take(struct tm_seal_writer *w)
{
    struct tm_seal_job *job = w->head;
    if (job) {
        w->head = job->next;
        if (!w->head)
            w->tail = NULL;
    }
    return job;
}

/* Under mu: ends cur (done, dropped or abandoned). */
static void finish_cur(struct tm_seal_writer *w)
{
    job_free(w->cur);
    w->cur = NULL;
    w->cur_failed = w->cur_cancelled = false;
    pthread_cond_broadcast(&w->cv);
}

/* Under mu: sleeps up to ms, or until woken (a cancel, stopping). */
static void pause_ms(struct tm_seal_writer *w, unsigned ms)
{
    struct timespec until = tm_deadline_ms(ms);
    pthread_cond_timedwait(&w->cv, &w->mu, &until);
}

/* One attempt at cur, outside the lock; true when it is durable. */
static bool write_cur(struct tm_seal_writer *w, struct tm_seal_job *job)
{
    char err[TM_BINLOG_ERRMSG] = "";
    int rc = tm_seal_copy_write(job->dir, &job->range, &job->copy, err);
    if (!rc) {
        w->done(w->arg, job);
        return true;
    }
    TM_ERROR("sealer", "shard %d: range %llu not written (tried again in %d ms): %s", job->shard,
             (unsigned long long)job->range.log_index, RETRY_MS, err[0] ? err : tm_strerror(rc));
    return false;
}

static void *writer_main(void *arg)
{
    struct tm_seal_writer *w = arg;
    pthread_setname_np(pthread_self(), "tm-seal");
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->stopping)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!(w->cur = take(w)))
            break; /* stopping, and nothing is queued */
        for (;;) {
            struct tm_seal_job *job = w->cur;
            pthread_mutex_unlock(&w->mu);
            bool durable = write_cur(w, job);
            pthread_mutex_lock(&w->mu);
            if (durable || w->cur_cancelled || w->stopping) {
                if (!durable && !w->cur_cancelled)
                    TM_WARN("sealer", "shard %d: range %llu left to the log's replay", job->shard,
                            (unsigned long long)job->range.log_index);
                break;
            }
            w->cur_failed = true;
            pthread_cond_broadcast(&w->cv); /* waiters learn of the failure */
            pause_ms(w, RETRY_MS);
            if (w->cur_cancelled || w->stopping)
                break;
        }
        finish_cur(w);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int tm_seal_writer_start(struct tm_seal_writer **out, tm_seal_done_fn done, void *arg)
{
    struct tm_seal_writer *w = calloc(1, sizeof *w);
    if (!w)
        return TM_ENOMEM;
    w->done = done;
    w->arg = arg;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w)) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return TM_ENOMEM;
    }
    *out = w;
    return 0;
}

void tm_seal_writer_push(struct tm_seal_writer *w, struct tm_seal_job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->tail)
        w->tail->next = job;
    else
        w->head = job;
    w->tail = job;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Under mu: the oldest of shard's ranges not yet durable, or NULL (the
 * queue is in seal order, and cur is older than all of it). */
static const struct tm_seal_job *oldest_of(const struct tm_seal_writer *w, int shard)
{
    if (w->cur && w->cur->shard == shard)
        return w->cur;
    for (const struct tm_seal_job *j = w->head; j; j = j->next)
        if (j->shard == shard)
            return j;
    return NULL;
}

bool tm_seal_writer_busy(struct tm_seal_writer *w, int shard)
{
    pthread_mutex_lock(&w->mu);
    bool busy = oldest_of(w, shard) != NULL;
    pthread_mutex_unlock(&w->mu);
    return busy;
}

int tm_seal_writer_wait(struct tm_seal_writer *w, int shard, uint64_t upto)
{
    int rc = 0;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        const struct tm_seal_job *j = oldest_of(w, shard);
        if (!j || j->range.log_index > upto)
            break;
        if (j == w->cur && w->cur_failed) {
            rc = TM_EIO;
            break;
        }
        pthread_cond_wait(&w->cv, &w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

void tm_seal_writer_cancel(struct tm_seal_writer *w, int shard)
{
    pthread_mutex_lock(&w->mu);
    struct tm_seal_job **pp = &w->head;
    w->tail = NULL;
    while (*pp) {
        struct tm_seal_job *j = *pp;
        if (j->shard == shard) {
            *pp = j->next;
            job_free(j);
        } else {
            w->tail = j;
            pp = &j->next;
        }
    }
    while (w->cur && w->cur->shard == shard) {
        w->cur_cancelled = true;
        pthread_cond_broadcast(&w->cv);
        pthread_cond_wait(&w->cv, &w->mu);
    }
    pthread_mutex_unlock(&w->mu);
}

void tm_seal_writer_stop(struct tm_seal_writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
