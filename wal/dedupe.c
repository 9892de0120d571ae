/* Applied-once window of (client id, sequence) pairs (rules in dedupe.h). */
#include "dedupe.h"
#include "tm_err.h"
#include "tm_mp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tm_dedupe_init(struct tm_dedupe *d)
{
    memset(d, 0, sizeof *d);
    d->cap = 1u << 18; /* > 2 * TM_DEDUPE_WINDOW keeps probes short */
    d->ring = calloc(TM_DEDUPE_WINDOW, sizeof *d->ring);
    d->slots = calloc(d->cap, sizeof *d->slots);
    d->hashes = calloc(d->cap, sizeof *d->hashes);
    if (!d->ring || !d->slots || !d->hashes) {
        tm_dedupe_free(d);
        return TM_ENOMEM;
    }
    return 0;
}

void tm_dedupe_free(struct tm_dedupe *d)
{
    for (uint32_t i = 0; d->ring && i < TM_DEDUPE_WINDOW; i++)
        free(d->ring[i]);
    free(d->ring);
    free(d->slots);
    free(d->hashes);
    memset(d, 0, sizeof *d);
}

static uint64_t hash_key(const char *k)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *k; k++)
        h = (h ^ (uint8_t)*k) * 1099511628211ULL;
    return h | 1;
}

/* The slot holding key, or the empty slot where it would go. */
static uint32_t probe(const struct tm_dedupe *d, const char *key, uint64_t h)
{
    uint32_t i = (uint32_t)h & (d->cap - 1);
    while (d->slots[i] && !(d->hashes[i] == h && strcmp(d->ring[d->slots[i] - 1], key) == 0))
        i = (i + 1) & (d->cap - 1);
    return i;
}

/* Removes the slot of ring entry r, re-inserting the probe chain after it. */
static void evict(struct tm_dedupe *d, uint32_t r)
{
    uint64_t h = hash_key(d->ring[r]);
    uint32_t i = probe(d, d->ring[r], h);
    d->slots[i] = 0;
    for (uint32_t j = (i + 1) & (d->cap - 1); d->slots[j]; j = (j + 1) & (d->cap - 1)) {
        uint64_t s = d->slots[j], hj = d->hashes[j];
        d->slots[j] = 0;
        uint32_t k = probe(d, d->ring[s - 1], hj);
        d->slots[k] = s;
        d->hashes[k] = hj;
    }
    free(d->ring[r]);
    d->ring[r] = NULL;
}

/* Records key; true if it was in the window already (rules in dedupe.h). */
static bool seen_key(struct tm_dedupe *d, const char *key)
{
    uint64_t h = hash_key(key);
    uint32_t i = probe(d, key, h);
    if (d->slots[i])
        return true;
    uint32_t r = d->next;
    if (d->ring[r]) {
        evict(d, r);
        i = probe(d, key, h);
    }
    d->ring[r] = strdup(key);
    if (!d->ring[r])
        return false;
    d->slots[i] = (uint64_t)r + 1;
    d->hashes[i] = h;
    d->next = (r + 1) % TM_DEDUPE_WINDOW;
    return false;
}

bool tm_dedupe_contains(const struct tm_dedupe *d, const char *cid, uint64_t seq)
{
    char key[128];
    snprintf(key, sizeof key, "%s#%llu", cid, (unsigned long long)seq);
    return d->slots && d->slots[probe(d, key, hash_key(key))] != 0;
}

bool tm_dedupe_seen(struct tm_dedupe *d, const char *cid, uint64_t seq)
{
    char key[128];
    snprintf(key, sizeof key, "%s#%llu", cid, (unsigned long long)seq);
    return seen_key(d, key);
}

void tm_dedupe_encode(const struct tm_dedupe *d, struct tm_mpw *w)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < TM_DEDUPE_WINDOW; i++)
        n += d->ring[i] != NULL;
    tm_mpw_array(w, n);
    for (uint32_t k = 0; k < TM_DEDUPE_WINDOW; k++) { /* oldest first */
        const char *key = d->ring[(d->next + k) % TM_DEDUPE_WINDOW];
        if (key)
            tm_mpw_cstr(w, key);
    }
}

int tm_dedupe_decode(struct tm_dedupe *d, struct tm_mpr *r)
{
    uint32_t n, len;
    const char *s;
    char key[128];
    if (tm_mpr_array(r, &n) || n > TM_DEDUPE_WINDOW)
        return r->err ? r->err : TM_ECORRUPT;
    for (uint32_t i = 0; i < n; i++) {
        if (tm_mpr_str(r, &s, &len))
            return r->err;
        if (len >= sizeof key)
            return TM_ECORRUPT;
        memcpy(key, s, len);
        key[len] = '\0';
        seen_key(d, key);
    }
    return 0;
}
