/* Timestamp oracle (rules in tso.h). */
#include "tso.h"

#define LOGICAL_MAX (1u << TM_TSO_LOGICAL_BITS)

void tm_tso_init(struct tm_tso *t, uint64_t hw_ms)
{
    pthread_mutex_init(&t->mu, NULL);
    t->hw_ms = hw_ms;
    /* Anything handed out before the restart was below hw_ms << 18. */
    t->last = hw_ms ? tm_ts_make(hw_ms, 0) : 0;
}

void tm_tso_destroy(struct tm_tso *t)
{
    pthread_mutex_destroy(&t->mu);
}

int tm_tso_alloc(struct tm_tso *t, uint64_t now_ms, uint32_t n, uint64_t *ts_out,
                 uint64_t *need_hw_out)
{
    if (n == 0)
        n = 1;
    pthread_mutex_lock(&t->mu);
    uint64_t last_ms = tm_ts_physical_ms(t->last);
    uint64_t ms = now_ms > last_ms ? now_ms : last_ms;
    uint64_t logical = ms == last_ms ? (t->last & (LOGICAL_MAX - 1)) + 1 : 0;
    if (logical + n > LOGICAL_MAX) {
        ms++;
        logical = 0;
    }
    if (ms + 1 >= t->hw_ms) {
        *need_hw_out = ms + TM_TSO_WINDOW_MS;
        pthread_mutex_unlock(&t->mu);
        return 1;
    }
    *ts_out = tm_ts_make(ms, logical);
    t->last = *ts_out + n - 1;
    pthread_mutex_unlock(&t->mu);
    return 0;
}

void tm_tso_raise(struct tm_tso *t, uint64_t hw_ms)
{
    pthread_mutex_lock(&t->mu);
    if (hw_ms > t->hw_ms)
        t->hw_ms = hw_ms;
    pthread_mutex_unlock(&t->mu);
}

void tm_tso_reset(struct tm_tso *t, uint64_t hw_ms)
{
    pthread_mutex_lock(&t->mu);
    if (hw_ms > t->hw_ms)
        t->hw_ms = hw_ms;
    /* Another leader may have handed out anything below hw_ms << 18. */
    if (hw_ms && tm_ts_make(hw_ms, 0) > t->last)
        t->last = tm_ts_make(hw_ms, 0);
    pthread_mutex_unlock(&t->mu);
}
