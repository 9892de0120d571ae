/* The NEON kernel set (aarch64 only, where Advanced SIMD is part of the base
 * architecture, so it is chosen at compile time and needs no flags).
 *
 * Float kernels load four 4-lane registers at a time (LD1 of four) into four
 * independent accumulators, so four FMAs are in flight; *_many walks four
 * rows at once so each query load serves four rows, and the batch tile
 * four rows by four queries. int8 products are exact in int16 (at most
 * 128*128) and are widened into int32 before they are summed; binary
 * kernels use CNT, the per-byte popcount. Tails use the scalar loops of
 * distance_int.h. */
#include <arm_neon.h>

#include "distance.h"
#include "distance_int.h"

static inline float32x4_t neon_step(float32x4_t acc, float32x4_t x, float32x4_t y, int l2)
{
    float32x4_t t = l2 ? vsubq_f32(x, y) : x;
    return vfmaq_f32(acc, t, l2 ? t : y);
}

static inline float neon_tail(const float *a, const float *b, size_t i, size_t d, float s, int l2)
{
    return l2 ? dist_l2_f32_tail(a, b, i, d, s) : dist_ip_f32_tail(a, b, i, d, s);
}

static inline float neon_f32(const float *a, const float *b, size_t d, int l2)
{
    float32x4_t s[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        float32x4x4_t x = vld1q_f32_x4(a + i), y = vld1q_f32_x4(b + i);
        for (int k = 0; k < 4; k++)
            s[k] = neon_step(s[k], x.val[k], y.val[k], l2);
    }
    for (; i + 4 <= d; i += 4)
        s[0] = neon_step(s[0], vld1q_f32(a + i), vld1q_f32(b + i), l2);
    float r = vaddvq_f32(vaddq_f32(vaddq_f32(s[0], s[1]), vaddq_f32(s[2], s[3])));
    return neon_tail(a, b, i, d, r, l2);
}

/* Rows r, r+d, r+2d, r+3d against q, one accumulator per row. */
static inline void neon_f32_x4(const float *q, const float *r, size_t d, float *out, int l2)
{
    float32x4_t s[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        float32x4_t x = vld1q_f32(q + i);
        for (size_t k = 0; k < 4; k++)
            s[k] = neon_step(s[k], x, vld1q_f32(r + k * d + i), l2);
    }
    for (size_t k = 0; k < 4; k++)
        out[k] = neon_tail(q, r + k * d, i, d, vaddvq_f32(s[k]), l2);
}

/* The batch tile: DIST_TILE_R = 4 rows x 4 queries of inner products,
 * sixteen accumulators, eight loads per sixteen FMAs, 21 of the 32 vector
 * registers. L2 comes from the norms (distance.h, Batches). */
#define NEON_TQ 4

/* Lane k of the result is the sum of the lanes of vk (pairs, then pairs
 * of pairs), the same order for every k. */
static inline float32x4_t neon_hsum4(float32x4_t v0, float32x4_t v1, float32x4_t v2, float32x4_t v3)
{
    return vpaddq_f32(vpaddq_f32(v0, v1), vpaddq_f32(v2, v3));
}

/* The tile kernel of DIST_BATCH_DEFINE (distance_int.h): each row load
 * serves four queries. The last d % 4 lanes are added per pair by the
 * scalar loop after the vector sum, as in neon_f32_x4; then for l2 the
 * results become max(0, (qn + rn) - 2 ip). */
DIST_INLINE void neon_f32_tile(const float *const *q, const float *const *r, size_t d,
                               const float *qn, const float *rn, float *dst, size_t ld, int l2)
{
    float32x4_t acc[NEON_TQ][DIST_TILE_R];
    DIST_TILE_ZERO(acc, NEON_TQ, vdupq_n_f32(0))
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        float32x4_t x[NEON_TQ];
        DIST_UNROLL
        for (size_t j = 0; j < NEON_TQ; j++)
            x[j] = vld1q_f32(q[j] + i);
        DIST_UNROLL
        for (size_t k = 0; k < DIST_TILE_R; k++) {
            float32x4_t y = vld1q_f32(r[k] + i);
            DIST_UNROLL
            for (size_t j = 0; j < NEON_TQ; j++)
                acc[j][k] = vfmaq_f32(acc[j][k], x[j], y);
        }
    }
    DIST_UNROLL
    for (size_t j = 0; j < NEON_TQ; j++) {
        float *o = dst + j * ld;
        vst1q_f32(o, neon_hsum4(acc[j][0], acc[j][1], acc[j][2], acc[j][3]));
        for (size_t k = 0; i < d && k < DIST_TILE_R; k++)
            o[k] = dist_ip_f32_tail(q[j], r[k], i, d, o[k]);
        if (l2) {
            float32x4_t s = vld1q_f32(o);
            s = vsubq_f32(vaddq_f32(vdupq_n_f32(qn[j]), vld1q_f32(rn)), vaddq_f32(s, s));
            vst1q_f32(o, vmaxq_f32(s, vdupq_n_f32(0)));
        }
    }
}

/* Squared norms of v[0..4): the tile's inner product of each with itself. */
DIST_INLINE void neon_f32_norms4(const float *const *v, size_t d, float *out)
{
    float32x4_t acc[1][DIST_TILE_R]; /* one query's row of a tile */
    DIST_TILE_ZERO(acc, 1, vdupq_n_f32(0))
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        DIST_UNROLL
        for (size_t k = 0; k < DIST_TILE_R; k++) {
            float32x4_t y = vld1q_f32(v[k] + i);
            acc[0][k] = vfmaq_f32(acc[0][k], y, y);
        }
    }
    vst1q_f32(out, neon_hsum4(acc[0][0], acc[0][1], acc[0][2], acc[0][3]));
    for (size_t k = 0; i < d && k < DIST_TILE_R; k++)
        out[k] = dist_ip_f32_tail(v[k], v[k], i, d, out[k]);
}

DIST_BATCH_DEFINE(neon, NEON_TQ)

/* acc + the squares of the eight int16 lanes of v, in int32. */
static inline int32x4_t neon_add_squares(int32x4_t acc, int16x8_t v)
{
    acc = vmlal_s16(acc, vget_low_s16(v), vget_low_s16(v));
    return vmlal_high_s16(acc, v, v);
}

/* int8 products are exact in int16 (at most 128*128) and pairwise added
 * into int32; differences reach +-255, so they are widened to int16 before
 * squaring. */
static inline int32_t neon_i8(const int8_t *a, const int8_t *b, size_t d, int l2)
{
    int32x4_t acc = vdupq_n_s32(0);
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        int8x16_t x = vld1q_s8(a + i), y = vld1q_s8(b + i);
        if (l2) {
            acc = neon_add_squares(acc, vsubl_s8(vget_low_s8(x), vget_low_s8(y)));
            acc = neon_add_squares(acc, vsubl_high_s8(x, y));
        } else {
            acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(x), vget_low_s8(y)));
            acc = vpadalq_s16(acc, vmull_high_s8(x, y));
        }
    }
    int32_t r = vaddvq_s32(acc);
    return l2 ? dist_l2_i8_tail(a, b, i, d, r) : dist_ip_i8_tail(a, b, i, d, r);
}

DIST_ENTRY_POINTS_DEFINE(neon)

/* acc + the popcount of the sixteen bytes of v, in four uint32 lanes. */
static inline uint32x4_t neon_popcnt_add(uint32x4_t acc, uint8x16_t v)
{
    return vpadalq_u16(acc, vpaddlq_u8(vcntq_u8(v)));
}

static uint32_t neon_hamming(const uint8_t *a, const uint8_t *b, size_t nbytes)
{
    uint32x4_t acc = vdupq_n_u32(0);
    size_t i = 0;
    for (; i + 16 <= nbytes; i += 16)
        acc = neon_popcnt_add(acc, veorq_u8(vld1q_u8(a + i), vld1q_u8(b + i)));
    return vaddvq_u32(acc) + dist_hamming_tail(a, b, i, nbytes);
}

static void neon_and_or_count(const uint8_t *a, const uint8_t *b, size_t nbytes, uint32_t *and_out,
                              uint32_t *or_out)
{
    uint32x4_t acc_and = vdupq_n_u32(0), acc_or = acc_and;
    size_t i = 0;
    for (; i + 16 <= nbytes; i += 16) {
        uint8x16_t x = vld1q_u8(a + i), y = vld1q_u8(b + i);
        acc_and = neon_popcnt_add(acc_and, vandq_u8(x, y));
        acc_or = neon_popcnt_add(acc_or, vorrq_u8(x, y));
    }
    *and_out = vaddvq_u32(acc_and);
    *or_out = vaddvq_u32(acc_or);
    dist_and_or_tail(a, b, i, nbytes, and_out, or_out);
}

/* FCVT from half is exact and quiets signalling NaNs (FPCR.DN is clear on
 * Linux, so payloads are kept), matching tm_f16_to_f32. */
static void neon_f16_to_f32(const uint16_t *in, float *out, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(out + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(in + i))));
    dist_f16_tail(in, out, i, n);
}

static void neon_bf16_to_f32(const uint16_t *in, float *out, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(out + i, vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(in + i), 16)));
    dist_bf16_tail(in, out, i, n);
}

/* Fast scan (distance.h, pq4_accumulate): TBL looks up the 16 low nibbles
 * and the 16 high nibbles of a sub-space in its 16-byte table, and the
 * byte results are widened into four 8-lane 16-bit accumulators. */
static void neon_pq4_accumulate(const uint8_t *codes, size_t nblocks, const uint8_t *lut, size_t m,
                                uint16_t *out)
{
    const uint8x16_t low = vdupq_n_u8(0x0f);
    for (size_t b = 0; b < nblocks; b++) {
        const uint8_t *blk = codes + b * m * 16;
        uint16x8_t a0 = vdupq_n_u16(0), a1 = a0, a2 = a0, a3 = a0;
        for (size_t s = 0; s < m; s++) {
            uint8x16_t c = vld1q_u8(blk + s * 16), t = vld1q_u8(lut + s * 16);
            uint8x16_t rl = vqtbl1q_u8(t, vandq_u8(c, low));
            uint8x16_t rh = vqtbl1q_u8(t, vshrq_n_u8(c, 4));
            a0 = vaddw_u8(a0, vget_low_u8(rl));
            a1 = vaddw_high_u8(a1, rl);
            a2 = vaddw_u8(a2, vget_low_u8(rh));
            a3 = vaddw_high_u8(a3, rh);
        }
        vst1q_u16(out + b * 32, a0);
        vst1q_u16(out + b * 32 + 8, a1);
        vst1q_u16(out + b * 32 + 16, a2);
        vst1q_u16(out + b * 32 + 24, a3);
    }
}

/* dot_s8u8_many (distance.h): bytes widened to 16 bits (a row byte fits a
 * signed 16-bit lane) and multiplied into 32-bit lanes, 16 per step. */
static inline int32x4_t neon_dot_s8u8_step(int32x4_t acc, const int8_t *q, const uint8_t *r)
{
    int16x8_t q0 = vmovl_s8(vld1_s8(q)), q1 = vmovl_s8(vld1_s8(q + 8));
    int16x8_t r0 = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(r)));
    int16x8_t r1 = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(r + 8)));
    acc = vmlal_s16(acc, vget_low_s16(q0), vget_low_s16(r0));
    acc = vmlal_high_s16(acc, q0, r0);
    acc = vmlal_s16(acc, vget_low_s16(q1), vget_low_s16(r1));
    return vmlal_high_s16(acc, q1, r1);
}

static void neon_dot_s8u8_many(const int8_t *q, const uint8_t *base, size_t n, size_t d,
                               int32_t *out)
{
    for (size_t i = 0; i < n; i++) {
        const uint8_t *r = base + i * d;
        int32x4_t acc = vdupq_n_s32(0);
        size_t t = 0;
        for (; t + 16 <= d; t += 16)
            acc = neon_dot_s8u8_step(acc, q + t, r + t);
        out[i] = dist_dot_s8u8_tail(q, r, t, d, vaddvq_s32(acc));
    }
}

/* pq4_table_max and pq4_table_bytes (distance.h), 4 entries per step; the
 * bytes 16 at a time, narrowed 32 -> 16 -> 8 bits with saturation (the
 * values fit). VCVTQ_S32_F32 truncates, as the scalar cast does. */
static inline float32x4_t neon_pq4_entry(const float *a, const float *b, size_t i)
{
    float32x4_t v = vld1q_f32(a + i);
    return b ? vaddq_f32(v, vld1q_f32(b + i)) : v;
}

static float neon_pq4_table_max(const float *a, const float *b, size_t n, float mx)
{
    float32x4_t m = vdupq_n_f32(mx);
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        m = vmaxq_f32(m, neon_pq4_entry(a, b, i));
    return dist_pq4_max_tail(a, b, i, n, vmaxvq_f32(m));
}

static inline uint16x4_t neon_pq4_u16(const float *a, const float *b, size_t i, float32x4_t s)
{
    float32x4_t v = vaddq_f32(vmulq_f32(neon_pq4_entry(a, b, i), s), vdupq_n_f32(0.5f));
    return vqmovun_s32(vcvtq_s32_f32(v));
}

static void neon_pq4_table_bytes(const float *a, const float *b, size_t n, float scale,
                                 uint8_t *out)
{
    const float32x4_t s = vdupq_n_f32(scale);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        uint16x8_t lo = vcombine_u16(neon_pq4_u16(a, b, i, s), neon_pq4_u16(a, b, i + 4, s));
        uint16x8_t hi = vcombine_u16(neon_pq4_u16(a, b, i + 8, s), neon_pq4_u16(a, b, i + 12, s));
        vst1q_u8(out + i, vcombine_u8(vqmovn_u16(lo), vqmovn_u16(hi)));
    }
    dist_pq4_bytes_tail(a, b, i, n, scale, out);
}

DIST_KERNELS_DEFINE(neon);
