/* Retried writes applied once: the set of (client id, sequence) pairs a WAL
 * shard has applied, over a bounded window.
 *
 * The set is part of the shard's replicated state: it changes only in the
 * log's apply, in log order, and evicts the oldest pair when full, so every
 * replica (and every replay) decides "duplicate" the same way. A retry that
 * comes after TM_DEDUPE_WINDOW later requests with ids is applied again.
 * A WAL snapshot carries the set (tm_dedupe_encode), oldest first, so a
 * restored window evicts in the same order as the one that was saved.
 */
#ifndef TM_DEDUPE_H
#define TM_DEDUPE_H

#include <stdbool.h>
#include <stdint.h>

#define TM_DEDUPE_WINDOW 65536

struct tm_dedupe {
    char **ring;     /* keys in insertion order; the oldest is evicted */
    uint32_t next;   /* ring slot of the next insertion */
    uint64_t *slots; /* open addressing: ring index + 1, 0 = empty */
    uint64_t *hashes;
    uint32_t cap; /* slots, a power of two, > 2 * window */
};

int tm_dedupe_init(struct tm_dedupe *d);
void tm_dedupe_free(struct tm_dedupe *d);
/* Records (cid, seq) and returns false if new; returns true, changing
 * nothing, if it was seen within the window. -1 (as true) never happens:
 * on allocation failure the pair is treated as new. */
bool tm_dedupe_seen(struct tm_dedupe *d, const char *cid, uint64_t seq);
/* Whether (cid, seq) is in the window, changing nothing. */
bool tm_dedupe_contains(const struct tm_dedupe *d, const char *cid, uint64_t seq);

struct tm_mpw;
struct tm_mpr;
/* The window as a msgpack array of its keys, oldest first. */
void tm_dedupe_encode(const struct tm_dedupe *d, struct tm_mpw *w);
/* Adds the keys of tm_dedupe_encode's form to d (freshly initialised).
 * 0, TM_ECORRUPT or a reader error. */
int tm_dedupe_decode(struct tm_dedupe *d, struct tm_mpr *r);

#endif
