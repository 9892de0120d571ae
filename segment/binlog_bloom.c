/* The stats log's bloom filter over primary keys (the binlogs' CRC32C is
 * base/tm_crc32c.c). */
#include "binlog_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tm_err.h"

/* ---- bloom filter ---- */

/* murmur3's 64-bit finaliser: every input bit affects every output bit.
 * Not tm_pk_hash (pkindex.h), though it mixes the same way: that hash
 * routes keys to shards, so within one shard's segment it is constant
 * modulo the shard count, which would leave most filter bits unused. */
static uint64_t fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

/* Two 64-bit hashes of a key; h2 is odd so the probe sequence never stalls. */
static void pk_hashes(const struct tm_pk *pk, uint64_t *h1, uint64_t *h2)
{
    uint64_t h = (uint64_t)pk->i;
    if (pk->is_str) {
        h = 0xcbf29ce484222325ull; /* FNV-1a 64 */
        for (uint32_t i = 0; i < pk->len; i++)
            h = (h ^ (uint8_t)pk->s[i]) * 0x100000001b3ull;
    }
    *h1 = fmix64(h);
    *h2 = fmix64(h ^ 0x9e3779b97f4a7c15ull) | 1;
}

int tm_bloom_init(struct tm_bloom *b, uint64_t nkeys)
{
    uint64_t bits = (nkeys ? nkeys : 1) * TM_BLOOM_BITS_PER_KEY;
    b->nbits = (bits + 63) / 64 * 64;
    b->k = TM_BLOOM_K;
    b->words = calloc(b->nbits / 64, sizeof *b->words);
    return b->words ? 0 : TM_ENOMEM;
}

void tm_bloom_free(struct tm_bloom *b)
{
    free(b->words);
    memset(b, 0, sizeof *b);
}

void tm_bloom_add(struct tm_bloom *b, const struct tm_pk *pk)
{
    uint64_t h1, h2;
    pk_hashes(pk, &h1, &h2);
    for (uint32_t i = 0; i < b->k; i++) {
        uint64_t bit = (h1 + i * h2) % b->nbits;
        b->words[bit / 64] |= 1ull << (bit % 64);
    }
}

bool tm_bloom_maybe(const struct tm_bloom *b, const struct tm_pk *pk)
{
    uint64_t h1, h2;
    pk_hashes(pk, &h1, &h2);
    for (uint32_t i = 0; i < b->k; i++) {
        uint64_t bit = (h1 + i * h2) % b->nbits;
        if (!(b->words[bit / 64] >> (bit % 64) & 1))
            return false;
    }
    return true;
}
