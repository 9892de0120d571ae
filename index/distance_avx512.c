/* The AVX-512 kernel set (x86-64 with AVX-512 F, BW, VL and DQ, the set
 * every AVX-512 server core since Skylake-SP has; compiled with those flags
 * and only called after distance.c has seen all four in cpuid).
 *
 * The same algorithms as distance_avx2.c on 64-byte registers, except that
 * tails use masked loads instead of scalar loops: lanes outside the mask
 * read as zero and add nothing to a sum, and a masked load does not fault on
 * the bytes it skips, so reading past the end of a vector is never done.
 * VPOPCNTQ would count bits faster but is missing on Skylake/Cascade Lake,
 * so the byte-table popcount of the AVX2 file is kept (it needs only BW). */
#include <immintrin.h>

#include "distance.h"
#include "distance_int.h"
#include "distance_x86_int.h"

/* The first r lanes (0 <= r <= width) of a 16-, 32- or 64-lane register. */
static inline __mmask16 avx512_mask16(size_t r)
{
    return (__mmask16)(r >= 16 ? 0xffffu : (1u << r) - 1u);
}

static inline __mmask32 avx512_mask32(size_t r)
{
    return (__mmask32)(r >= 32 ? 0xffffffffu : (1u << r) - 1u);
}

static inline __mmask64 avx512_mask64(size_t r)
{
    return (__mmask64)(r >= 64 ? ~0ull : (1ull << r) - 1ull);
}

static inline __m512 avx512_step(__m512 acc, __m512 x, __m512 y, int l2)
{
    __m512 t = l2 ? _mm512_sub_ps(x, y) : x;
    return _mm512_fmadd_ps(t, l2 ? t : y, acc);
}

/* Four accumulators over 64 floats per iteration, then 16 at a time with the
 * last block masked. */
static inline float avx512_f32(const float *a, const float *b, size_t d, int l2)
{
    __m512 s[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                   _mm512_setzero_ps()};
    size_t i = 0;
    for (; i + 64 <= d; i += 64)
        for (size_t k = 0; k < 4; k++)
            s[k] = avx512_step(s[k], _mm512_loadu_ps(a + i + 16 * k),
                               _mm512_loadu_ps(b + i + 16 * k), l2);
    for (; i < d; i += 16) {
        __mmask16 m = avx512_mask16(d - i);
        s[0] =
            avx512_step(s[0], _mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), l2);
    }
    return _mm512_reduce_add_ps(
        _mm512_add_ps(_mm512_add_ps(s[0], s[1]), _mm512_add_ps(s[2], s[3])));
}

/* Rows r, r+d, r+2d, r+3d against q, one accumulator per row. */
static inline void avx512_f32_x4(const float *q, const float *r, size_t d, float *out, int l2)
{
    __m512 s[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                   _mm512_setzero_ps()};
    for (size_t i = 0; i < d; i += 16) {
        __mmask16 m = avx512_mask16(d - i);
        __m512 x = _mm512_maskz_loadu_ps(m, q + i);
        for (size_t k = 0; k < 4; k++)
            s[k] = avx512_step(s[k], x, _mm512_maskz_loadu_ps(m, r + k * d + i), l2);
    }
    for (size_t k = 0; k < 4; k++)
        out[k] = _mm512_reduce_add_ps(s[k]);
}

/* The batch tile: DIST_TILE_R = 4 rows x 4 queries of inner products,
 * sixteen accumulators, eight loads per sixteen FMAs, 21 of the 32 ZMM
 * registers. L2 comes from the norms (distance.h, Batches). */
#define AVX512_TQ 4

/* Lanes l and l + 8 of v added, into eight lanes. */
static inline __m256 avx512_fold(__m512 v)
{
    __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    return _mm256_add_ps(_mm512_castps512_ps256(v), hi);
}

/* Lane k of the result is the sum of the sixteen lanes of vk, each added
 * in the same order, so a result does not depend on its row's slot. */
static inline __m128 avx512_hsum4(__m512 v0, __m512 v1, __m512 v2, __m512 v3)
{
    return dist_x86_hsum4(avx512_fold(v0), avx512_fold(v1), avx512_fold(v2), avx512_fold(v3));
}

/* The tile kernel of DIST_BATCH_DEFINE (distance_int.h): each row load
 * serves four queries; for l2 the results are max(0, (qn + rn) - 2 ip). */
DIST_INLINE void avx512_f32_tile(const float *const *q, const float *const *r, size_t d,
                                 const float *qn, const float *rn, float *dst, size_t ld, int l2)
{
    __m512 acc[AVX512_TQ][DIST_TILE_R];
    DIST_TILE_ZERO(acc, AVX512_TQ, _mm512_setzero_ps())
    for (size_t i = 0; i < d; i += 16) {
        __mmask16 m = avx512_mask16(d - i);
        __m512 x[AVX512_TQ];
        DIST_UNROLL
        for (size_t j = 0; j < AVX512_TQ; j++)
            x[j] = _mm512_maskz_loadu_ps(m, q[j] + i);
        DIST_UNROLL
        for (size_t k = 0; k < DIST_TILE_R; k++) {
            __m512 y = _mm512_maskz_loadu_ps(m, r[k] + i);
            DIST_UNROLL
            for (size_t j = 0; j < AVX512_TQ; j++)
                acc[j][k] = _mm512_fmadd_ps(x[j], y, acc[j][k]);
        }
    }
    DIST_UNROLL
    for (size_t j = 0; j < AVX512_TQ; j++) {
        __m128 s = avx512_hsum4(acc[j][0], acc[j][1], acc[j][2], acc[j][3]);
        _mm_storeu_ps(dst + j * ld, dist_x86_tile_result(s, qn[j], rn, l2));
    }
}

/* Squared norms of v[0..4): the tile's inner product of each with itself. */
DIST_INLINE void avx512_f32_norms4(const float *const *v, size_t d, float *out)
{
    __m512 acc[1][DIST_TILE_R]; /* one query's row of a tile */
    DIST_TILE_ZERO(acc, 1, _mm512_setzero_ps())
    for (size_t i = 0; i < d; i += 16) {
        __mmask16 m = avx512_mask16(d - i);
        DIST_UNROLL
        for (size_t k = 0; k < DIST_TILE_R; k++) {
            __m512 y = _mm512_maskz_loadu_ps(m, v[k] + i);
            acc[0][k] = _mm512_fmadd_ps(y, y, acc[0][k]);
        }
    }
    _mm_storeu_ps(out, avx512_hsum4(acc[0][0], acc[0][1], acc[0][2], acc[0][3]));
}

DIST_BATCH_DEFINE(avx512, AVX512_TQ)

/* int8: 32 bytes widened to int16 per step and VPMADDWD into int32 pairs, as
 * in the AVX2 file; masked-off bytes load as 0 and contribute 0. */
static inline int32_t avx512_i8(const int8_t *a, const int8_t *b, size_t d, int l2)
{
    __m512i acc = _mm512_setzero_si512();
    for (size_t i = 0; i < d; i += 32) {
        __mmask32 m = avx512_mask32(d - i);
        __m512i x = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, a + i));
        __m512i y = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, b + i));
        if (l2) {
            x = _mm512_sub_epi16(x, y);
            y = x;
        }
        acc = _mm512_add_epi32(acc, _mm512_madd_epi16(x, y));
    }
    return (int32_t)_mm512_reduce_add_epi32(acc);
}

DIST_ENTRY_POINTS_DEFINE(avx512)

/* Per-byte popcount by nibble table lookups, summed per 64-bit lane. */
static inline __m512i avx512_popcnt_bytes(__m512i v)
{
    const __m512i lut =
        _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4));
    const __m512i low = _mm512_set1_epi8(0x0f);
    __m512i lo = _mm512_shuffle_epi8(lut, _mm512_and_si512(v, low));
    __m512i hi = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(v, 4), low));
    return _mm512_sad_epu8(_mm512_add_epi8(lo, hi), _mm512_setzero_si512());
}

static uint32_t avx512_hamming(const uint8_t *a, const uint8_t *b, size_t nbytes)
{
    __m512i acc = _mm512_setzero_si512();
    for (size_t i = 0; i < nbytes; i += 64) {
        __mmask64 m = avx512_mask64(nbytes - i);
        __m512i x = _mm512_maskz_loadu_epi8(m, a + i);
        __m512i y = _mm512_maskz_loadu_epi8(m, b + i);
        acc = _mm512_add_epi64(acc, avx512_popcnt_bytes(_mm512_xor_si512(x, y)));
    }
    return (uint32_t)_mm512_reduce_add_epi64(acc);
}

static void avx512_and_or_count(const uint8_t *a, const uint8_t *b, size_t nbytes,
                                uint32_t *and_out, uint32_t *or_out)
{
    __m512i acc_and = _mm512_setzero_si512(), acc_or = acc_and;
    for (size_t i = 0; i < nbytes; i += 64) {
        __mmask64 m = avx512_mask64(nbytes - i);
        __m512i x = _mm512_maskz_loadu_epi8(m, a + i);
        __m512i y = _mm512_maskz_loadu_epi8(m, b + i);
        acc_and = _mm512_add_epi64(acc_and, avx512_popcnt_bytes(_mm512_and_si512(x, y)));
        acc_or = _mm512_add_epi64(acc_or, avx512_popcnt_bytes(_mm512_or_si512(x, y)));
    }
    *and_out = (uint32_t)_mm512_reduce_add_epi64(acc_and);
    *or_out = (uint32_t)_mm512_reduce_add_epi64(acc_or);
}

/* VCVTPH2PS, exact and NaN-quieting like the F16C form; masked load and
 * store keep the tail inside both arrays. */
static void avx512_f16_to_f32(const uint16_t *in, float *out, size_t n)
{
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = avx512_mask16(n - i);
        __m512 v = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, in + i));
        _mm512_mask_storeu_ps(out + i, m, v);
    }
}

static void avx512_bf16_to_f32(const uint16_t *in, float *out, size_t n)
{
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = avx512_mask16(n - i);
        __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, in + i));
        _mm512_mask_storeu_ps(out + i, m, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
    }
}

/* Fast scan (distance.h, pq4_accumulate), as the AVX2 kernel with four
 * sub-spaces per 64-byte load: VPSHUFB works within 128-bit lanes, so
 * lane j looks up sub-space s + j. The four lanes' sums are added at the
 * end; a last pair of sub-spaces (m % 4 == 2) goes through the scalar tail. */
static inline void avx512_pq4_store(__m512i acc, __m512i odd, uint16_t *out)
{
    __m512i even = _mm512_sub_epi16(acc, _mm512_slli_epi16(odd, 8));
    __m256i e2 = _mm256_add_epi16(_mm512_castsi512_si256(even), _mm512_extracti64x4_epi64(even, 1));
    __m256i o2 = _mm256_add_epi16(_mm512_castsi512_si256(odd), _mm512_extracti64x4_epi64(odd, 1));
    __m128i e = _mm_add_epi16(_mm256_castsi256_si128(e2), _mm256_extracti128_si256(e2, 1));
    __m128i o = _mm_add_epi16(_mm256_castsi256_si128(o2), _mm256_extracti128_si256(o2, 1));
    _mm_storeu_si128((__m128i *)out, _mm_unpacklo_epi16(e, o));
    _mm_storeu_si128((__m128i *)(out + 8), _mm_unpackhi_epi16(e, o));
}

static void avx512_pq4_accumulate(const uint8_t *codes, size_t nblocks, const uint8_t *lut,
                                  size_t m, uint16_t *out)
{
    const __m512i low = _mm512_set1_epi8(0x0f);
    size_t m4 = m & ~(size_t)3;
    for (size_t b = 0; b < nblocks; b++) {
        const uint8_t *blk = codes + b * m * 16;
        __m512i acc_lo = _mm512_setzero_si512(), odd_lo = acc_lo, acc_hi = acc_lo, odd_hi = acc_lo;
        for (size_t s = 0; s < m4; s += 4) {
            __m512i c = _mm512_loadu_si512((const void *)(blk + s * 16));
            __m512i t = _mm512_loadu_si512((const void *)(lut + s * 16));
            __m512i rl = _mm512_shuffle_epi8(t, _mm512_and_si512(c, low));
            __m512i rh = _mm512_shuffle_epi8(t, _mm512_and_si512(_mm512_srli_epi16(c, 4), low));
            acc_lo = _mm512_add_epi16(acc_lo, rl);
            odd_lo = _mm512_add_epi16(odd_lo, _mm512_srli_epi16(rl, 8));
            acc_hi = _mm512_add_epi16(acc_hi, rh);
            odd_hi = _mm512_add_epi16(odd_hi, _mm512_srli_epi16(rh, 8));
        }
        avx512_pq4_store(acc_lo, odd_lo, out + b * 32);
        avx512_pq4_store(acc_hi, odd_hi, out + b * 32 + 16);
        dist_pq4_block_tail(blk, lut, m4, m, out + b * 32);
    }
}

/* dot_s8u8_many (distance.h): VPDPBUSD multiplies the row's unsigned bytes
 * by the query's signed ones and adds each group of four products into a
 * 32-bit lane, one instruction for what AVX2 needs three for, and no 16-bit
 * sums to widen (Zen 5, 4,096 rows of 128 bytes: 4.5 us against 6.6 us).
 * Four rows per pass share each query load; a row's last d % 64 bytes come
 * by a masked load. */
static inline __m512i avx512_dot32(__m512i acc, __mmask64 m, const uint8_t *row, __m512i q)
{
    return _mm512_dpbusd_epi32(acc, _mm512_maskz_loadu_epi8(m, row), q);
}

static inline __m256i avx512_fold_epi32(__m512i v)
{
    return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
}

/* Whole 64-byte steps with plain loads (a masked load at every step made
 * the kernel 18 % slower), then the rest, if any, masked. */
static void avx512_dot_s8u8_rows4(const int8_t *q, const uint8_t *r, size_t d, int32_t *out)
{
    __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
    size_t t = 0;
    for (; t + 64 <= d; t += 64) {
        __m512i x = _mm512_loadu_si512((const void *)(q + t));
        s0 = avx512_dot32(s0, ~0ull, r + t, x);
        s1 = avx512_dot32(s1, ~0ull, r + d + t, x);
        s2 = avx512_dot32(s2, ~0ull, r + 2 * d + t, x);
        s3 = avx512_dot32(s3, ~0ull, r + 3 * d + t, x);
    }
    if (t < d) {
        __mmask64 m = avx512_mask64(d - t);
        __m512i x = _mm512_maskz_loadu_epi8(m, q + t);
        s0 = avx512_dot32(s0, m, r + t, x);
        s1 = avx512_dot32(s1, m, r + d + t, x);
        s2 = avx512_dot32(s2, m, r + 2 * d + t, x);
        s3 = avx512_dot32(s3, m, r + 3 * d + t, x);
    }
    __m128i sums = dist_x86_hsum4_epi32(avx512_fold_epi32(s0), avx512_fold_epi32(s1),
                                        avx512_fold_epi32(s2), avx512_fold_epi32(s3));
    _mm_storeu_si128((__m128i *)out, sums);
}

static int32_t avx512_dot_s8u8_row(const int8_t *q, const uint8_t *r, size_t d)
{
    __m512i s = _mm512_setzero_si512();
    for (size_t t = 0; t < d; t += 64) {
        __mmask64 m = avx512_mask64(d - t);
        s = avx512_dot32(s, m, r + t, _mm512_maskz_loadu_epi8(m, q + t));
    }
    return _mm512_reduce_add_epi32(s);
}

static void avx512_dot_s8u8_many(const int8_t *q, const uint8_t *base, size_t n, size_t d,
                                 int32_t *out)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        avx512_dot_s8u8_rows4(q, base + i * d, d, out + i);
    for (; i < n; i++)
        out[i] = avx512_dot_s8u8_row(q, base + i * d, d);
}

/* pq4_table_max and pq4_table_bytes (distance.h), 16 entries per step;
 * VPMOVUSDB narrows 32-bit lanes to bytes in order. */
static inline __m512 avx512_pq4_entry(const float *a, const float *b, size_t i)
{
    __m512 v = _mm512_loadu_ps(a + i);
    return b ? _mm512_add_ps(v, _mm512_loadu_ps(b + i)) : v;
}

static float avx512_pq4_table_max(const float *a, const float *b, size_t n, float mx)
{
    __m512 m = _mm512_set1_ps(mx);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        m = _mm512_max_ps(m, avx512_pq4_entry(a, b, i));
    return dist_pq4_max_tail(a, b, i, n, _mm512_reduce_max_ps(m));
}

static void avx512_pq4_table_bytes(const float *a, const float *b, size_t n, float scale,
                                   uint8_t *out)
{
    const __m512 s = _mm512_set1_ps(scale), half = _mm512_set1_ps(0.5f);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_add_ps(_mm512_mul_ps(avx512_pq4_entry(a, b, i), s), half);
        _mm_storeu_si128((__m128i *)(out + i), _mm512_cvtusepi32_epi8(_mm512_cvttps_epi32(v)));
    }
    dist_pq4_bytes_tail(a, b, i, n, scale, out);
}

DIST_KERNELS_DEFINE(avx512);
