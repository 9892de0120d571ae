/* The proxy's cache of collection descriptions, so a write does not ask the
 * coordinator for the schema every time (one role-to-role call saved per
 * request: ~70 µs here, docs/benchmarks.md).
 *
 * Validity: an entry is used only while the cache's generation is the one
 * it was filled at. The proxy bumps the generation before and after every
 * DDL call it makes, so a request that starts after a DDL completed never
 * sees the old description. In a standalone server every DDL goes through
 * this proxy; with several proxies (cluster issue) the coordinator must
 * broadcast invalidations, and entries also expire after TM_CACHE_TTL_MS.
 *
 * Thread-safe.
 */
#ifndef TM_SCHEMA_CACHE_H
#define TM_SCHEMA_CACHE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "tm_buf.h"

#define TM_CACHE_SLOTS 64
#define TM_CACHE_TTL_MS 5000

struct tm_cache_slot {
    char key[520]; /* db \0 name */
    size_t key_len;
    uint64_t gen, filled_ms;
    struct tm_buf bytes; /* the collection, msgpack as the coordinator sent it */
};

struct tm_schema_cache {
    pthread_mutex_t mu;
    atomic_uint_fast64_t gen;
    struct tm_cache_slot slots[TM_CACHE_SLOTS];
    uint32_t next; /* round-robin replacement */
};

void tm_schema_cache_init(struct tm_schema_cache *c);
void tm_schema_cache_free(struct tm_schema_cache *c);
/* Every entry becomes stale. */
void tm_schema_cache_invalidate(struct tm_schema_cache *c);
/* The current generation, to pass to tm_schema_cache_put. */
uint64_t tm_schema_cache_gen(struct tm_schema_cache *c);
/* Copies the cached bytes of (db, name) into out (appending). 0 on a hit,
 * 1 on a miss. */
int tm_schema_cache_get(struct tm_schema_cache *c, const char *db, const char *name,
                        struct tm_buf *out);
/* Stores bytes fetched while the generation was gen (dropped if it moved). */
void tm_schema_cache_put(struct tm_schema_cache *c, const char *db, const char *name, uint64_t gen,
                         const void *bytes, size_t len);

#endif
