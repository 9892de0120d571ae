/* Collection description cache of the proxy (validity rules in schema_cache.h). */
#include "schema_cache.h"
#include "tm_time.h"

#include <stdio.h>
#include <string.h>

void tm_schema_cache_init(struct tm_schema_cache *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    atomic_init(&c->gen, 1);
}

void tm_schema_cache_free(struct tm_schema_cache *c)
{
    for (int i = 0; i < TM_CACHE_SLOTS; i++)
        tm_buf_free(&c->slots[i].bytes);
    pthread_mutex_destroy(&c->mu);
}

void tm_schema_cache_invalidate(struct tm_schema_cache *c)
{
    atomic_fetch_add(&c->gen, 1);
}

uint64_t tm_schema_cache_gen(struct tm_schema_cache *c)
{
    return atomic_load(&c->gen);
}

static size_t make_key(char *key, size_t cap, const char *db, const char *name)
{
    int n = snprintf(key, cap, "%s%c%s", db, '\0', name);
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

int tm_schema_cache_get(struct tm_schema_cache *c, const char *db, const char *name,
                        struct tm_buf *out)
{
    char key[520];
    size_t len = make_key(key, sizeof key, db, name);
    uint64_t gen = tm_schema_cache_gen(c), now = tm_wall_ms();
    int rc = 1;
    pthread_mutex_lock(&c->mu);
    for (int i = 0; len && i < TM_CACHE_SLOTS && rc; i++) {
        struct tm_cache_slot *s = &c->slots[i];
        if (s->key_len == len && memcmp(s->key, key, len) == 0 && s->gen == gen &&
            now - s->filled_ms < TM_CACHE_TTL_MS)
            rc = tm_buf_append(out, s->bytes.data, s->bytes.len) ? 1 : 0;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void tm_schema_cache_put(struct tm_schema_cache *c, const char *db, const char *name, uint64_t gen,
                         const void *bytes, size_t len)
{
    char key[520];
    size_t klen = make_key(key, sizeof key, db, name);
    if (!klen || gen != tm_schema_cache_gen(c))
        return;
    pthread_mutex_lock(&c->mu);
    struct tm_cache_slot *s = NULL;
    for (int i = 0; i < TM_CACHE_SLOTS && !s; i++)
        if (c->slots[i].key_len == klen && memcmp(c->slots[i].key, key, klen) == 0)
            s = &c->slots[i];
    if (!s) {
        s = &c->slots[c->next];
        c->next = (c->next + 1) % TM_CACHE_SLOTS;
    }
    memcpy(s->key, key, klen);
    s->key_len = klen;
    s->gen = gen;
    s->filled_ms = tm_wall_ms();
    s->bytes.len = 0;
    tm_buf_append(&s->bytes, bytes, len);
    pthread_mutex_unlock(&c->mu);
}
