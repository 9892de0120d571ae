/* The scalar kernel set: the reference every SIMD set is tested against, and
 * the set used where no SIMD set applies. Plain loops in index order, one
 * accumulator, so the result is the one a reader computes by hand. The
 * build is ISO C (-std=c11), which keeps GCC from contracting a*b+s into an
 * FMA here; the SIMD sets use FMA and are held to a tolerance instead. */
#include <stdint.h>
#include <string.h>

#include "distance.h"
#include "distance_int.h"

float tm_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t bits;

    if (exp == 0x1f) {
        /* Inf stays Inf; a NaN keeps its payload and becomes quiet, as
         * IEEE 754 asks of a conversion and as F16C and NEON do. */
        bits = sign | 0x7f800000u | (man << 13) | (man ? 0x00400000u : 0);
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (man << 13); /* rebias 15 -> 127 */
    } else if (man == 0) {
        bits = sign; /* signed zero */
    } else {
        /* A subnormal half is man * 2^-24 and normal as a float: shift the
         * leading one up to the hidden-bit position (bit 10) and lower the
         * exponent once per shift from that of 2^-14, the smallest normal. */
        uint32_t shift = (uint32_t)__builtin_clz(man) - 21;
        bits = sign | ((113 - shift) << 23) | (((man << shift) & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof(f));
    return f;
}

float tm_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof(f));
    return f;
}

static float scalar_l2_f32(const float *a, const float *b, size_t d)
{
    return dist_l2_f32_tail(a, b, 0, d, 0.0f);
}

static float scalar_ip_f32(const float *a, const float *b, size_t d)
{
    return dist_ip_f32_tail(a, b, 0, d, 0.0f);
}

static void scalar_l2_f32_many(const float *q, const float *base, size_t n, size_t d, float *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = scalar_l2_f32(q, base + i * d, d);
}

static void scalar_ip_f32_many(const float *q, const float *base, size_t n, size_t d, float *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = scalar_ip_f32(q, base + i * d, d);
}

/* The batch reference: every pair by the one-pair kernel, so that a batch
 * result equals l2_f32 / ip_f32 bit for bit in this set. */
static void scalar_f32_batch(const float *q, size_t nq, const float *base, size_t n, size_t d,
                             float *out, size_t ldo, int l2)
{
    for (size_t j = 0; j < nq; j++)
        for (size_t i = 0; i < n; i++)
            out[j * ldo + i] = l2 ? scalar_l2_f32(q + j * d, base + i * d, d)
                                  : scalar_ip_f32(q + j * d, base + i * d, d);
}

static void scalar_l2_f32_batch(const float *q, size_t nq, const float *base, size_t n, size_t d,
                                float *out, size_t ldo)
{
    scalar_f32_batch(q, nq, base, n, d, out, ldo, 1);
}

static void scalar_ip_f32_batch(const float *q, size_t nq, const float *base, size_t n, size_t d,
                                float *out, size_t ldo)
{
    scalar_f32_batch(q, nq, base, n, d, out, ldo, 0);
}

static int32_t scalar_ip_i8(const int8_t *a, const int8_t *b, size_t d)
{
    return dist_ip_i8_tail(a, b, 0, d, 0);
}

static int32_t scalar_l2_i8(const int8_t *a, const int8_t *b, size_t d)
{
    return dist_l2_i8_tail(a, b, 0, d, 0);
}

static uint32_t scalar_hamming(const uint8_t *a, const uint8_t *b, size_t nbytes)
{
    return dist_hamming_tail(a, b, 0, nbytes);
}

static void scalar_and_or_count(const uint8_t *a, const uint8_t *b, size_t nbytes,
                                uint32_t *and_out, uint32_t *or_out)
{
    *and_out = 0;
    *or_out = 0;
    dist_and_or_tail(a, b, 0, nbytes, and_out, or_out);
}

static void scalar_f16_to_f32(const uint16_t *in, float *out, size_t n)
{
    dist_f16_tail(in, out, 0, n);
}

static void scalar_bf16_to_f32(const uint16_t *in, float *out, size_t n)
{
    dist_bf16_tail(in, out, 0, n);
}

static void scalar_pq4_accumulate(const uint8_t *codes, size_t nblocks, const uint8_t *lut,
                                  size_t m, uint16_t *out)
{
    for (size_t b = 0; b < nblocks; b++) {
        memset(out + b * 32, 0, 32 * sizeof(uint16_t));
        dist_pq4_block_tail(codes + b * m * 16, lut, 0, m, out + b * 32);
    }
}

static void scalar_dot_s8u8_many(const int8_t *q, const uint8_t *base, size_t n, size_t d,
                                 int32_t *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = dist_dot_s8u8_tail(q, base + i * d, 0, d, 0);
}

static float scalar_pq4_table_max(const float *a, const float *b, size_t n, float mx)
{
    return dist_pq4_max_tail(a, b, 0, n, mx);
}

static void scalar_pq4_table_bytes(const float *a, const float *b, size_t n, float scale,
                                   uint8_t *out)
{
    dist_pq4_bytes_tail(a, b, 0, n, scale, out);
}

DIST_KERNELS_DEFINE(scalar);
