/* Checksums and hashes of the binlogs: CRC32C (SSE4.2 or slice-by-8
 * tables, written here from the polynomial) and the stats log's bloom
 * filter over primary keys.
 */
#include "binlog_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tm_err.h"

/* ---- CRC32C ---- */

#define CRC32C_POLY 0x82F63B78u /* Castagnoli, bit-reflected */

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int b = 0; b < 8; b++)
            c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        crc_table[0][i] = c;
    }
    for (int k = 1; k < 8; k++)
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = crc_table[k - 1][i];
            crc_table[k][i] = (c >> 8) ^ crc_table[0][c & 0xff];
        }
}

uint32_t bl_crc32c_sw(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&crc_once, crc_init);
    const uint8_t *b = p;
    crc = ~crc;
    for (; n >= 8; n -= 8, b += 8) {
        uint64_t w = bl_get64(b) ^ crc;
        crc = crc_table[7][w & 0xff] ^ crc_table[6][(w >> 8) & 0xff] ^
              crc_table[5][(w >> 16) & 0xff] ^ crc_table[4][(w >> 24) & 0xff] ^
              crc_table[3][(w >> 32) & 0xff] ^ crc_table[2][(w >> 40) & 0xff] ^
              crc_table[1][(w >> 48) & 0xff] ^ crc_table[0][w >> 56];
    }
    while (n--)
        crc = (crc >> 8) ^ crc_table[0][(crc ^ *b++) & 0xff];
    return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t c = ~crc;
    for (; n >= 8; n -= 8, b += 8) {
        uint64_t w;
        memcpy(&w, b, 8); /* x86 is little-endian */
        c = __builtin_ia32_crc32di(c, w);
    }
    uint32_t c32 = (uint32_t)c;
    while (n--)
        c32 = __builtin_ia32_crc32qi(c32, *b++);
    return ~c32;
}

uint32_t tm_crc32c(uint32_t crc, const void *p, size_t n)
{
    static int hw = -1; /* benign race: every thread computes the same value */
    if (hw < 0)
        hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
    return hw ? crc32c_hw(crc, p, n) : bl_crc32c_sw(crc, p, n);
}
#else
uint32_t tm_crc32c(uint32_t crc, const void *p, size_t n)
{
    return bl_crc32c_sw(crc, p, n);
}
#endif

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
