/* A one-shot completion: one thread waits, another signals a result. */
#ifndef TM_WAIT_H
#define TM_WAIT_H

#include <pthread.h>
#include <stdbool.h>

struct tm_wait {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool done;
    int rc;
};

static inline void tm_wait_init(struct tm_wait *w)
{
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->done = false;
    w->rc = 0;
}

static inline void tm_wait_destroy(struct tm_wait *w)
{
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cond);
}

static inline void tm_wait_signal(struct tm_wait *w, int rc)
{
    pthread_mutex_lock(&w->mu);
    w->rc = rc;
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

/* Blocks until signalled; returns the signalled result. */
static inline int tm_wait_for(struct tm_wait *w)
{
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        pthread_cond_wait(&w->cond, &w->mu);
    int rc = w->rc;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

#endif
