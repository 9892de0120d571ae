/* Open-addressing hash map from primary key to version chains. */
#include "pkindex.h"

#include <stdlib.h>
#include <string.h>

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h | 1; /* never 0: 0 marks an empty slot */
}

uint64_t tm_pk_hash(const struct tm_pk *pk)
{
    if (!pk->is_str)
        return mix((uint64_t)pk->i);
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (uint32_t i = 0; i < pk->len; i++)
        h = (h ^ (uint8_t)pk->s[i]) * 1099511628211ULL;
    return mix(h);
}

static bool pk_equal(const struct tm_pk_entry *e, const struct tm_pk *pk)
{
    if (!pk->is_str)
        return !e->skey && e->ikey == pk->i;
    return e->skey && e->slen == pk->len && memcmp(e->skey, pk->s, pk->len) == 0;
}

void tm_pkindex_init(struct tm_pkindex *ix)
{
    memset(ix, 0, sizeof *ix);
}

void tm_pkindex_free(struct tm_pkindex *ix)
{
    for (uint64_t i = 0; i < ix->cap; i++)
        free(ix->slots[i].skey);
    free(ix->slots);
    tm_pkindex_init(ix);
}

struct tm_pk_entry *tm_pkindex_find(const struct tm_pkindex *ix, const struct tm_pk *pk)
{
    if (!ix->cap)
        return NULL;
    uint64_t h = tm_pk_hash(pk);
    for (uint64_t i = h & (ix->cap - 1);; i = (i + 1) & (ix->cap - 1)) {
        struct tm_pk_entry *e = &ix->slots[i];
        if (e->hash == 0)
            return NULL;
        if (e->hash == h && pk_equal(e, pk))
            return e;
    }
}

static int grow(struct tm_pkindex *ix)
{
    uint64_t cap = ix->cap ? ix->cap * 2 : 1024;
    struct tm_pk_entry *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (uint64_t i = 0; i < ix->cap; i++) {
        struct tm_pk_entry *e = &ix->slots[i];
        if (!e->hash)
            continue;
        uint64_t j = e->hash & (cap - 1);
        while (slots[j].hash)
            j = (j + 1) & (cap - 1);
        slots[j] = *e;
    }
    free(ix->slots);
    ix->slots = slots;
    ix->cap = cap;
    return 0;
}

struct tm_pk_entry *tm_pkindex_get(struct tm_pkindex *ix, const struct tm_pk *pk)
{
    struct tm_pk_entry *e = tm_pkindex_find(ix, pk);
    if (e)
        return e;
    if ((ix->n + 1) * 10 > ix->cap * 7 && grow(ix))
        return NULL;
    uint64_t h = tm_pk_hash(pk);
    uint64_t i = h & (ix->cap - 1);
    while (ix->slots[i].hash)
        i = (i + 1) & (ix->cap - 1);
    e = &ix->slots[i];
    memset(e, 0, sizeof *e);
    if (pk->is_str) {
        e->skey = malloc(pk->len ? pk->len : 1);
        if (!e->skey)
            return NULL;
        memcpy(e->skey, pk->s, pk->len);
        e->slen = pk->len;
    } else {
        e->ikey = pk->i;
    }
    e->hash = h;
    e->row_head = TM_NO_REF;
    e->del_head = TM_NO_REF;
    ix->n++;
    return e;
}
