/* Primary-key index of one collection on one query replica: pk -> the head
 * of its version chain and of its delete chain (see store.h for how they
 * are read). Open addressing with linear probing; grows at 70 % load.
 * Not thread-safe: the owning store's lock protects it.
 */
#ifndef TM_PKINDEX_H
#define TM_PKINDEX_H

#include <stdbool.h>
#include <stdint.h>

#define TM_NO_REF (-1)

struct tm_pk {
    bool is_str;
    int64_t i;
    const char *s; /* borrowed for the call */
    uint32_t len;
};

struct tm_pk_entry {
    uint64_t hash; /* 0 = empty slot */
    int64_t ikey;
    char *skey; /* owned copy for VarChar keys */
    uint32_t slen;
    int64_t row_head; /* newest version (a store row ref) or TM_NO_REF */
    int64_t del_head; /* newest delete (index in the store's delete log) or TM_NO_REF */
};

struct tm_pkindex {
    struct tm_pk_entry *slots;
    uint64_t cap; /* power of two */
    uint64_t n;
};

/* The stable hash of a primary key. It also routes rows to WAL shards
 * (hash % shards), so it is part of the on-disk contract: never change it. */
uint64_t tm_pk_hash(const struct tm_pk *pk);
/* The WAL shard of a key among n. Not tm_pk_hash % n: that hash has its
 * lowest bit set (0 marks an empty slot), so with an even n every key went
 * to odd shards (docs/decisions.md, "The cluster"). */
static inline int tm_pk_shard(const struct tm_pk *pk, uint64_t n)
{
    return (int)((tm_pk_hash(pk) >> 1) % n);
}

void tm_pkindex_init(struct tm_pkindex *ix);
void tm_pkindex_free(struct tm_pkindex *ix);
/* Entry for pk or NULL. Valid until the next insert. */
struct tm_pk_entry *tm_pkindex_find(const struct tm_pkindex *ix, const struct tm_pk *pk);
/* Entry for pk, created with both heads TM_NO_REF if absent; NULL on ENOMEM.
 * Valid until the next insert. */
struct tm_pk_entry *tm_pkindex_get(struct tm_pkindex *ix, const struct tm_pk *pk);

#endif
