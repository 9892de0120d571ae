/* The AVX2 kernel set (x86-64 with AVX2, FMA, F16C and POPCNT; this file is
 * compiled with -mavx2 -mfma -mf16c -mpopcnt and only called after
 * distance.c has seen those features in cpuid).
 *
 * Float kernels keep four independent 8-lane accumulators so that four FMAs
 * are in flight per iteration (an FMA's latency is four cycles on the cores
 * we target). The *_many kernels instead walk four base vectors at once, one
 * accumulator each, so every query load serves four rows. Tails shorter than
 * a register go through the scalar loops of distance_int.h: a masked load
 * would save a few cycles per vector, the scalar loop is obviously right.
 * The batch tile is the exception: it would need twelve scalar tails per
 * tile, so it uses VMASKMOVPS (see avx2_load). */
#include <immintrin.h>

#include "distance.h"
#include "distance_int.h"
#include "distance_x86_int.h"

/* The eight lanes of v added into one float. */
static inline float avx2_hsum(__m256 v)
{
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_shuffle_ps(x, x, 1));
    return _mm_cvtss_f32(x);
}

/* acc + (x-y)^2 for L2, acc + x*y for IP. Called with a constant l2, so
 * every caller compiles to a loop with no branch inside. */
static inline __m256 avx2_step(__m256 acc, __m256 x, __m256 y, int l2)
{
    __m256 t = l2 ? _mm256_sub_ps(x, y) : x;
    return _mm256_fmadd_ps(t, l2 ? t : y, acc);
}

static inline float avx2_f32(const float *a, const float *b, size_t d, int l2)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        s0 = avx2_step(s0, _mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), l2);
        s1 = avx2_step(s1, _mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), l2);
        s2 = avx2_step(s2, _mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), l2);
        s3 = avx2_step(s3, _mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), l2);
    }
    for (; i + 8 <= d; i += 8)
        s0 = avx2_step(s0, _mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), l2);
    float s = avx2_hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    return l2 ? dist_l2_f32_tail(a, b, i, d, s) : dist_ip_f32_tail(a, b, i, d, s);
}

/* Rows r[0..3] of length d against q, results to out[0..3]. */
static inline void avx2_f32_x4(const float *q, const float *r, size_t d, float *out, int l2)
{
    const float *r0 = r, *r1 = r + d, *r2 = r + 2 * d, *r3 = r + 3 * d;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 8 <= d; i += 8) {
        __m256 x = _mm256_loadu_ps(q + i);
        s0 = avx2_step(s0, x, _mm256_loadu_ps(r0 + i), l2);
        s1 = avx2_step(s1, x, _mm256_loadu_ps(r1 + i), l2);
        s2 = avx2_step(s2, x, _mm256_loadu_ps(r2 + i), l2);
        s3 = avx2_step(s3, x, _mm256_loadu_ps(r3 + i), l2);
    }
    const float *rows[4] = {r0, r1, r2, r3};
    float sums[4] = {avx2_hsum(s0), avx2_hsum(s1), avx2_hsum(s2), avx2_hsum(s3)};
    for (int k = 0; k < 4; k++)
        out[k] = l2 ? dist_l2_f32_tail(q, rows[k], i, d, sums[k])
                    : dist_ip_f32_tail(q, rows[k], i, d, sums[k]);
}

/* The batch tile: DIST_TILE_R = 4 rows x AVX2_TQ queries of inner products,
 * one accumulator per pair. 4 x 3 makes twelve accumulators, three query
 * registers and a row register, 16 of the 16 YMM registers, and seven loads
 * per twelve FMAs; 4 x 2 and 4 x 4 were 10-25% slower in bench/kernel_bench
 * on the development VM (4 x 4 spills). L2 comes from the norms
 * (distance.h, Batches), so its loop is this one. */
#define AVX2_TQ 3

/* Lanes [i, i+8) of p, or with tail set only the lanes in mask m: the rest
 * read as 0, adding nothing to a sum, and are not touched, so the load
 * stays inside the vector. A scalar tail would cost one short loop per
 * pair, twelve per tile, as much as the vector work at small d. */
DIST_INLINE __m256 avx2_load(const float *p, size_t i, __m256i m, int tail)
{
    return tail ? _mm256_maskload_ps(p + i, m) : _mm256_loadu_ps(p + i);
}

/* The mask of the last d - i (< 8) lanes, for avx2_load. */
static inline __m256i avx2_tail_mask(size_t d, size_t i)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(d - i)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* One step of 8 lanes for every pair of the tile: each row is loaded once
 * for all queries, each query once for all rows. */
DIST_INLINE void avx2_tile_step(__m256 acc[AVX2_TQ][DIST_TILE_R], const float *const *q,
                                const float *const *r, size_t i, __m256i m, int tail)
{
    __m256 x[AVX2_TQ];
    DIST_UNROLL
    for (size_t j = 0; j < AVX2_TQ; j++)
        x[j] = avx2_load(q[j], i, m, tail);
    DIST_UNROLL
    for (size_t k = 0; k < DIST_TILE_R; k++) {
        __m256 y = avx2_load(r[k], i, m, tail);
        DIST_UNROLL
        for (size_t j = 0; j < AVX2_TQ; j++)
            acc[j][k] = _mm256_fmadd_ps(x[j], y, acc[j][k]);
    }
}

/* The tile kernel of DIST_BATCH_DEFINE (distance_int.h). */
DIST_INLINE void avx2_f32_tile(const float *const *q, const float *const *r, size_t d,
                               const float *qn, const float *rn, float *dst, size_t ld, int l2)
{
    __m256 acc[AVX2_TQ][DIST_TILE_R];
    DIST_TILE_ZERO(acc, AVX2_TQ, _mm256_setzero_ps())
    size_t i = 0;
    for (; i + 8 <= d; i += 8)
        avx2_tile_step(acc, q, r, i, _mm256_setzero_si256(), 0);
    if (i < d)
        avx2_tile_step(acc, q, r, i, avx2_tail_mask(d, i), 1);
    DIST_UNROLL
    for (size_t j = 0; j < AVX2_TQ; j++) {
        __m128 s = dist_x86_hsum4(acc[j][0], acc[j][1], acc[j][2], acc[j][3]);
        _mm_storeu_ps(dst + j * ld, dist_x86_tile_result(s, qn[j], rn, l2));
    }
}

/* Squared norms of v[0..4): the tile's inner product of each with itself. */
DIST_INLINE void avx2_f32_norms4(const float *const *v, size_t d, float *out)
{
    __m256 acc[1][DIST_TILE_R]; /* one query's row of a tile */
    DIST_TILE_ZERO(acc, 1, _mm256_setzero_ps())
    for (size_t i = 0; i < d; i += 8) {
        int tail = i + 8 > d;
        __m256i m = tail ? avx2_tail_mask(d, i) : _mm256_setzero_si256();
        DIST_UNROLL
        for (size_t k = 0; k < DIST_TILE_R; k++) {
            __m256 y = avx2_load(v[k], i, m, tail);
            acc[0][k] = _mm256_fmadd_ps(y, y, acc[0][k]);
        }
    }
    _mm_storeu_ps(out, dist_x86_hsum4(acc[0][0], acc[0][1], acc[0][2], acc[0][3]));
}

DIST_BATCH_DEFINE(avx2, AVX2_TQ)

/* int8: sixteen bytes widened to int16, then VPMADDWD multiplies and adds
 * neighbouring pairs into int32. A product is at most 128*128 and a squared
 * difference at most 255*255, so a pair sum fits int32 and the total is the
 * exact integer the scalar loop computes. */
static inline int32_t avx2_i8(const int8_t *a, const int8_t *b, size_t d, int l2)
{
    __m256i acc = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        __m256i x = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + i)));
        __m256i y = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + i)));
        if (l2) {
            x = _mm256_sub_epi16(x, y);
            y = x;
        }
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(x, y));
    }
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    int32_t r = _mm_cvtsi128_si32(s);
    return l2 ? dist_l2_i8_tail(a, b, i, d, r) : dist_ip_i8_tail(a, b, i, d, r);
}

DIST_ENTRY_POINTS_DEFINE(avx2)

/* Per-byte popcount by two 16-entry table lookups (one per nibble) with
 * VPSHUFB, then VPSADBW sums each group of eight bytes into a 64-bit lane.
 * On AVX2 cores this beats four scalar POPCNTs per 32 bytes. */
static inline __m256i avx2_popcnt_bytes(__m256i v)
{
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2,
                                         1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    __m256i lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(v, low));
    __m256i hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
    return _mm256_sad_epu8(_mm256_add_epi8(lo, hi), _mm256_setzero_si256());
}

static inline uint32_t avx2_sum_u64(__m256i v)
{
    __m128i s = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi64(s, _mm_unpackhi_epi64(s, s));
    return (uint32_t)_mm_cvtsi128_si64(s);
}

static uint32_t avx2_hamming(const uint8_t *a, const uint8_t *b, size_t nbytes)
{
    __m256i acc = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 32 <= nbytes; i += 32) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(a + i));
        __m256i y = _mm256_loadu_si256((const __m256i *)(b + i));
        acc = _mm256_add_epi64(acc, avx2_popcnt_bytes(_mm256_xor_si256(x, y)));
    }
    return avx2_sum_u64(acc) + dist_hamming_tail(a, b, i, nbytes);
}

static void avx2_and_or_count(const uint8_t *a, const uint8_t *b, size_t nbytes, uint32_t *and_out,
                              uint32_t *or_out)
{
    __m256i acc_and = _mm256_setzero_si256(), acc_or = acc_and;
    size_t i = 0;
    for (; i + 32 <= nbytes; i += 32) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(a + i));
        __m256i y = _mm256_loadu_si256((const __m256i *)(b + i));
        acc_and = _mm256_add_epi64(acc_and, avx2_popcnt_bytes(_mm256_and_si256(x, y)));
        acc_or = _mm256_add_epi64(acc_or, avx2_popcnt_bytes(_mm256_or_si256(x, y)));
    }
    *and_out = avx2_sum_u64(acc_and);
    *or_out = avx2_sum_u64(acc_or);
    dist_and_or_tail(a, b, i, nbytes, and_out, or_out);
}

/* VCVTPH2PS is exact for every half, subnormals included, and quiets
 * signalling NaNs the way tm_f16_to_f32 does; MXCSR does not affect it. */
static void avx2_f16_to_f32(const uint16_t *in, float *out, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(in + i))));
    dist_f16_tail(in, out, i, n);
}

static void avx2_bf16_to_f32(const uint16_t *in, float *out, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(in + i)));
        _mm256_storeu_ps(out + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
    }
    dist_bf16_tail(in, out, i, n);
}

/* Fast scan (distance.h, pq4_accumulate). One 32-byte load holds the codes
 * of sub-spaces s and s + 1 (one per 128-bit lane) and one 32-byte load
 * their two tables, so VPSHUFB looks up 16 vectors in each lane at once:
 * the low nibbles give vectors 0..15, the high nibbles 16..31. The byte
 * results are summed in 16-bit lanes without unpacking, as FAISS does: a
 * 16-bit add of the raw result adds each even byte plus 256 times its odd
 * neighbour, a second accumulator adds the odd bytes alone (>> 8), and the
 * even sums are recovered at the end as acc - (odd << 8), exact modulo
 * 2^16 since the true sums stay below it. */
static inline void avx2_pq4_store(__m256i acc, __m256i odd, uint16_t *out)
{
    __m256i even = _mm256_sub_epi16(acc, _mm256_slli_epi16(odd, 8));
    __m128i e = _mm_add_epi16(_mm256_castsi256_si128(even), _mm256_extracti128_si256(even, 1));
    __m128i o = _mm_add_epi16(_mm256_castsi256_si128(odd), _mm256_extracti128_si256(odd, 1));
    _mm_storeu_si128((__m128i *)out, _mm_unpacklo_epi16(e, o));
    _mm_storeu_si128((__m128i *)(out + 8), _mm_unpackhi_epi16(e, o));
}

static void avx2_pq4_accumulate(const uint8_t *codes, size_t nblocks, const uint8_t *lut, size_t m,
                                uint16_t *out)
{
    const __m256i low = _mm256_set1_epi8(0x0f);
    size_t m2 = m & ~(size_t)1;
    for (size_t b = 0; b < nblocks; b++) {
        const uint8_t *blk = codes + b * m * 16;
        __m256i acc_lo = _mm256_setzero_si256(), odd_lo = acc_lo, acc_hi = acc_lo, odd_hi = acc_lo;
        for (size_t s = 0; s < m2; s += 2) {
            __m256i c = _mm256_loadu_si256((const __m256i *)(blk + s * 16));
            __m256i t = _mm256_loadu_si256((const __m256i *)(lut + s * 16));
            __m256i rl = _mm256_shuffle_epi8(t, _mm256_and_si256(c, low));
            __m256i rh = _mm256_shuffle_epi8(t, _mm256_and_si256(_mm256_srli_epi16(c, 4), low));
            acc_lo = _mm256_add_epi16(acc_lo, rl);
            odd_lo = _mm256_add_epi16(odd_lo, _mm256_srli_epi16(rl, 8));
            acc_hi = _mm256_add_epi16(acc_hi, rh);
            odd_hi = _mm256_add_epi16(odd_hi, _mm256_srli_epi16(rh, 8));
        }
        avx2_pq4_store(acc_lo, odd_lo, out + b * 32);
        avx2_pq4_store(acc_hi, odd_hi, out + b * 32 + 16);
        dist_pq4_block_tail(blk, lut, m2, m, out + b * 32);
    }
}

/* dot_s8u8_many (distance.h): VPMADDUBSW multiplies the row's bytes by
 * the query's and adds neighbouring pairs into 16 bits. The bounds keep a
 * span of 128 bytes within 16 bits (4 * 2 * 127 * 32 = 32,512), so a
 * span's products are added as 16 bits and widened once, by VPMADDWD with
 * ones: where one vector multiplier does both (Zen 1), that is 2.5
 * multiplies per 32 bytes instead of 4. Four rows per pass share each
 * query load. */
#define AVX2_DOT_SPAN 128u

static inline __m256i avx2_dot16(__m256i acc, const uint8_t *row, __m256i q)
{
    return _mm256_add_epi16(acc, _mm256_maddubs_epi16(_mm256_loadu_si256((const __m256i *)row), q));
}

static inline __m256i avx2_widen_add(__m256i acc, __m256i sum16)
{
    return _mm256_add_epi32(acc, _mm256_madd_epi16(sum16, _mm256_set1_epi16(1)));
}

static inline int32_t avx2_hsum_epi32(__m256i v)
{
    __m128i x = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0x4e));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0xb1));
    return _mm_cvtsi128_si32(x);
}

static void avx2_dot_s8u8_rows4(const int8_t *q, const uint8_t *r, size_t d, size_t dv,
                                int32_t *out)
{
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t t0 = 0; t0 < dv; t0 += AVX2_DOT_SPAN) {
        size_t end = dv - t0 > AVX2_DOT_SPAN ? t0 + AVX2_DOT_SPAN : dv;
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
        for (size_t t = t0; t < end; t += 32) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(q + t));
            a0 = avx2_dot16(a0, r + t, x);
            a1 = avx2_dot16(a1, r + d + t, x);
            a2 = avx2_dot16(a2, r + 2 * d + t, x);
            a3 = avx2_dot16(a3, r + 3 * d + t, x);
        }
        s0 = avx2_widen_add(s0, a0), s1 = avx2_widen_add(s1, a1);
        s2 = avx2_widen_add(s2, a2), s3 = avx2_widen_add(s3, a3);
    }
    _mm_storeu_si128((__m128i *)out, dist_x86_hsum4_epi32(s0, s1, s2, s3));
}

static int32_t avx2_dot_s8u8_row(const int8_t *q, const uint8_t *r, size_t dv)
{
    __m256i s = _mm256_setzero_si256();
    for (size_t t0 = 0; t0 < dv; t0 += AVX2_DOT_SPAN) {
        size_t end = dv - t0 > AVX2_DOT_SPAN ? t0 + AVX2_DOT_SPAN : dv;
        __m256i a = _mm256_setzero_si256();
        for (size_t t = t0; t < end; t += 32)
            a = avx2_dot16(a, r + t, _mm256_loadu_si256((const __m256i *)(q + t)));
        s = avx2_widen_add(s, a);
    }
    return avx2_hsum_epi32(s);
}

static void avx2_dot_s8u8_many(const int8_t *q, const uint8_t *base, size_t n, size_t d,
                               int32_t *out)
{
    size_t i = 0, dv = d & ~(size_t)31;
    for (; i + 4 <= n; i += 4) {
        const uint8_t *r = base + i * d;
        avx2_dot_s8u8_rows4(q, r, d, dv, out + i);
        if (dv < d)
            for (size_t k = 0; k < 4; k++)
                out[i + k] = dist_dot_s8u8_tail(q, r + k * d, dv, d, out[i + k]);
    }
    for (; i < n; i++)
        out[i] = dist_dot_s8u8_tail(q, base + i * d, dv, d, avx2_dot_s8u8_row(q, base + i * d, dv));
}

/* pq4_table_max and pq4_table_bytes (distance.h): 8 entries per step; the
 * bytes 32 at a time, packed 32 -> 16 -> 8 bits (the packs interleave the
 * 128-bit lanes, which one permutation puts back in order). */
static inline __m256 avx2_pq4_entry(const float *a, const float *b, size_t i)
{
    __m256 v = _mm256_loadu_ps(a + i);
    return b ? _mm256_add_ps(v, _mm256_loadu_ps(b + i)) : v;
}

static float avx2_pq4_table_max(const float *a, const float *b, size_t n, float mx)
{
    __m256 m = _mm256_set1_ps(mx);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        m = _mm256_max_ps(m, avx2_pq4_entry(a, b, i));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
    return dist_pq4_max_tail(a, b, i, n, _mm_cvtss_f32(h));
}

static inline __m256i avx2_pq4_ints(const float *a, const float *b, size_t i, __m256 scale)
{
    __m256 v = _mm256_add_ps(_mm256_mul_ps(avx2_pq4_entry(a, b, i), scale), _mm256_set1_ps(0.5f));
    return _mm256_cvttps_epi32(v);
}

static void avx2_pq4_table_bytes(const float *a, const float *b, size_t n, float scale,
                                 uint8_t *out)
{
    const __m256 s = _mm256_set1_ps(scale);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i w01 = _mm256_packus_epi32(avx2_pq4_ints(a, b, i, s), avx2_pq4_ints(a, b, i + 8, s));
        __m256i w23 =
            _mm256_packus_epi32(avx2_pq4_ints(a, b, i + 16, s), avx2_pq4_ints(a, b, i + 24, s));
        __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(w01, w23), order);
        _mm256_storeu_si256((__m256i *)(out + i), bytes);
    }
    dist_pq4_bytes_tail(a, b, i, n, scale, out);
}

DIST_KERNELS_DEFINE(avx2);
