/* The timestamp oracle: hybrid timestamps (physical ms << 18 | logical).
 *
 * Invariant: every timestamp handed out is below (hw_ms << 18), where hw_ms
 * is a high-water mark persisted (through the coordinator's Raft log) BEFORE
 * any timestamp near it is handed out. After a restart the oracle starts at
 * hw_ms << 18, so timestamps never go backwards, whatever the wall clock does.
 * The mark is raised in steps of TM_TSO_WINDOW_MS so that persisting it is rare.
 *
 * Leader changes: a coordinator that starts leading calls tm_tso_reset with
 * the mark its catalog holds once every committed entry is applied. Every
 * earlier leader handed out only timestamps below a committed mark, so the
 * new leader's timestamps are above all of them.
 *
 * Thread-safe.
 */
#ifndef TM_TSO_H
#define TM_TSO_H

#include <pthread.h>
#include <stdint.h>

#define TM_TSO_LOGICAL_BITS 18
#define TM_TSO_WINDOW_MS 3000

struct tm_tso {
    pthread_mutex_t mu;
    uint64_t last;  /* last timestamp handed out */
    uint64_t hw_ms; /* persisted high-water mark */
};

void tm_tso_init(struct tm_tso *t, uint64_t hw_ms);
void tm_tso_destroy(struct tm_tso *t);

/* Allocates n (1..2^17) consecutive timestamps at wall time now_ms and
 * returns the first in *ts_out. Returns 0, or 1 when the high-water mark must
 * be raised first: *need_hw_out is the mark to persist; persist it, call
 * tm_tso_raise, and call again. */
int tm_tso_alloc(struct tm_tso *t, uint64_t now_ms, uint32_t n, uint64_t *ts_out,
                 uint64_t *need_hw_out);
/* Records a persisted high-water mark (never lowers it). */
void tm_tso_raise(struct tm_tso *t, uint64_t hw_ms);
/* Restarts the oracle above (hw_ms << 18), the highest committed mark, as
 * tm_tso_init does, but on a live oracle and never backwards: timestamps
 * this oracle handed out before stay below the next ones. */
void tm_tso_reset(struct tm_tso *t, uint64_t hw_ms);

static inline uint64_t tm_ts_physical_ms(uint64_t ts)
{
    return ts >> TM_TSO_LOGICAL_BITS;
}

static inline uint64_t tm_ts_make(uint64_t ms, uint64_t logical)
{
    return ms << TM_TSO_LOGICAL_BITS | logical;
}

#endif
