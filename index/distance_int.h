/* Private to the distance kernels and their tests: the per-instruction-set
 * kernel tables and the scalar loops the SIMD files reuse for their tails.
 *
 * The helpers are static inline on purpose: each SIMD file compiles its own
 * copy with its own target flags (the AVX2 one turns __builtin_popcountll
 * into POPCNT), and no copy built for a wider ISA can leak into the scalar
 * path through the linker. */
#ifndef TM_DISTANCE_INT_H
#define TM_DISTANCE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "distance.h"

/* Each table exists only where its file is compiled: the x86 ones on
 * x86-64, the NEON one on aarch64. The scalar table always exists. */
extern const struct tm_kernels tm_kernels_scalar;
#if defined(__x86_64__)
extern const struct tm_kernels tm_kernels_avx2;
extern const struct tm_kernels tm_kernels_avx512;
#endif
#if defined(__aarch64__)
extern const struct tm_kernels tm_kernels_neon;
#endif

/* Defines tm_kernels_<isa> from the static functions <isa>_l2_f32 and so on,
 * so that every file names its kernels the same way and no table can point
 * one slot at another slot's function. */
#define DIST_KERNELS_DEFINE(isa)                                                                   \
    const struct tm_kernels tm_kernels_##isa = {                                                   \
        .name = #isa,                                                                              \
        .l2_f32 = isa##_l2_f32,                                                                    \
        .ip_f32 = isa##_ip_f32,                                                                    \
        .l2_f32_many = isa##_l2_f32_many,                                                          \
        .ip_f32_many = isa##_ip_f32_many,                                                          \
        .l2_f32_batch = isa##_l2_f32_batch,                                                        \
        .ip_f32_batch = isa##_ip_f32_batch,                                                        \
        .ip_i8 = isa##_ip_i8,                                                                      \
        .l2_i8 = isa##_l2_i8,                                                                      \
        .hamming = isa##_hamming,                                                                  \
        .and_or_count = isa##_and_or_count,                                                        \
        .f16_to_f32 = isa##_f16_to_f32,                                                            \
        .bf16_to_f32 = isa##_bf16_to_f32,                                                          \
        .pq4_accumulate = isa##_pq4_accumulate,                                                    \
        .dot_s8u8_many = isa##_dot_s8u8_many,                                                      \
        .pq4_table_max = isa##_pq4_table_max,                                                      \
        .pq4_table_bytes = isa##_pq4_table_bytes,                                                  \
    }

/* The float and int8 entry points, the same for every SIMD file, built from
 * the file's generic kernels, whose last argument l2 selects squared L2 (1)
 * or inner product (0) and is always a constant, so each entry point
 * compiles to its own branch-free loop:
 *   float isa_f32(a, b, d, l2)          one pair;
 *   void isa_f32_x4(q, r, d, out, l2)   q against rows r, r+d, r+2d, r+3d;
 *   int32_t isa_i8(a, b, d, l2)         one int8 pair.
 * The *_many kernels take rows four at a time, so each load of q serves four
 * rows, and finish the last n % 4 rows one by one. */
#define DIST_ENTRY_POINTS_DEFINE(isa)                                                              \
    DIST_PAIR_DEFINE(float, float, isa##_l2_f32, isa##_f32, 1)                                     \
    DIST_PAIR_DEFINE(float, float, isa##_ip_f32, isa##_f32, 0)                                     \
    DIST_PAIR_DEFINE(int32_t, int8_t, isa##_l2_i8, isa##_i8, 1)                                    \
    DIST_PAIR_DEFINE(int32_t, int8_t, isa##_ip_i8, isa##_i8, 0)                                    \
    static inline void isa##_f32_many(const float *q, const float *base, size_t n, size_t d,       \
                                      float *out, int l2)                                          \
    {                                                                                              \
        size_t i = 0;                                                                              \
        for (; i + 4 <= n; i += 4)                                                                 \
            isa##_f32_x4(q, base + i * d, d, out + i, l2);                                         \
        for (; i < n; i++)                                                                         \
            out[i] = isa##_f32(q, base + i * d, d, l2);                                            \
    }                                                                                              \
    static void isa##_l2_f32_many(const float *q, const float *base, size_t n, size_t d,           \
                                  float *out)                                                      \
    {                                                                                              \
        isa##_f32_many(q, base, n, d, out, 1);                                                     \
    }                                                                                              \
    static void isa##_ip_f32_many(const float *q, const float *base, size_t n, size_t d,           \
                                  float *out)                                                      \
    {                                                                                              \
        isa##_f32_many(q, base, n, d, out, 0);                                                     \
    }

/* For the batch kernels, whose l2 argument and tile shape must be constants
 * where the loops are compiled: GCC at -O2 neither inlines a function this
 * size into two callers nor fully unrolls the constant loops over a tile
 * (and so keeps the accumulators in memory) unless told to. */
#define DIST_INLINE static inline __attribute__((always_inline))
#define DIST_UNROLL _Pragma("GCC unroll 8")

/* acc[j][k] = zero for the Q x DIST_TILE_R accumulators of a tile, unrolled
 * so that they stay in registers (a memset of the array did not, in GCC 12
 * with AVX-512). */
#define DIST_TILE_ZERO(acc, Q, zero)                                                               \
    DIST_UNROLL                                                                                    \
    for (size_t j_ = 0; j_ < (Q); j_++) {                                                          \
        DIST_UNROLL                                                                                \
        for (size_t k_ = 0; k_ < DIST_TILE_R; k_++)                                                \
            (acc)[j_][k_] = (zero);                                                                \
    }

/* The batched entry points isa_l2_f32_batch and isa_ip_f32_batch of a SIMD
 * file, built on two kernels of that file:
 *   void isa_f32_tile(const float *const *q, const float *const *r, size_t d,
 *                     const float *qn, const float *rn, float *dst, size_t ld, int l2)
 * the inner products of queries q[0..Q) with rows r[0..DIST_TILE_R) into
 * dst[j*ld + k], or for l2 the squared distances from them and the squared
 * norms qn[j], rn[k]: max(0, (qn[j] + rn[k]) - 2 ip), see distance.h; and
 *   void isa_f32_norms4(const float *const *v, size_t d, float *out)
 * the squared norms of v[0..4) into out[0..4), by the same instructions in
 * the same order as the tile's inner product of a vector with itself, so
 * that a row equal to the query comes out at distance 0 exactly.
 *
 * The tile always computes all of its pairs: at the edges of the batch the
 * missing rows and queries are stood in for by the last real one
 * (dist_tile_ptrs), and only the real pairs are copied out. So no kernel
 * has a second code path for a partial tile, and every pair is computed by
 * the same instructions in the same order wherever it lies, which makes a
 * pair's result independent of nq, n and ldo (distance.h, Batches).
 *
 * Queries go in chunks of DIST_QCHUNK, whose norms are kept on the stack
 * (the kernels never allocate). Within a chunk rows are the outer loop: a
 * row tile stays in L1 while the chunk's queries stream past it from L2
 * (64 queries of d = 1536 are 384 KiB), and each row's norm is computed
 * once per chunk. */
#define DIST_TILE_R 4
#define DIST_QCHUNK 64
#define DIST_BATCH_DEFINE(isa, Q)                                                                  \
    /* The query tiles of chunk qc[0..nqc) against one row tile of nr real rows. */                \
    DIST_INLINE void isa##_f32_row_tile(const float *qc, size_t nqc, const float *const *rows,     \
                                        size_t nr, const float *qn, const float *rn, size_t d,     \
                                        float *out, size_t ldo, int l2)                            \
    {                                                                                              \
        const float *qs[Q];                                                                        \
        float part[DIST_TILE_R * (Q)];                                                             \
        for (size_t j = 0; j < nqc; j += (Q)) {                                                    \
            size_t nqt = dist_tile_ptrs(qs, (Q), qc, j, nqc, d);                                   \
            float *dst = out + j * ldo;                                                            \
            if (nr == DIST_TILE_R && nqt == (Q)) {                                                 \
                isa##_f32_tile(qs, rows, d, qn + j, rn, dst, ldo, l2);                             \
            } else {                                                                               \
                isa##_f32_tile(qs, rows, d, qn + j, rn, part, DIST_TILE_R, l2);                    \
                dist_tile_copy(part, DIST_TILE_R, nqt, nr, dst, ldo);                              \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    DIST_INLINE void isa##_f32_batch(const float *q, size_t nq, const float *base, size_t n,       \
                                     size_t d, float *out, size_t ldo, int l2)                     \
    {                                                                                              \
        const float *v[DIST_TILE_R];                                                               \
        /* Zeroed: the last query tile of a chunk may read up to Q-1 norms                         \
         * past the chunk, for stand-in queries whose results are dropped. */                      \
        float qn[DIST_QCHUNK + DIST_TILE_R] = {0}, rn[DIST_TILE_R];                                \
        for (size_t j0 = 0; j0 < nq; j0 += DIST_QCHUNK) {                                          \
            size_t nqc = nq - j0 < DIST_QCHUNK ? nq - j0 : DIST_QCHUNK;                            \
            const float *qc = q + j0 * d;                                                          \
            for (size_t j = 0; l2 && j < nqc; j += DIST_TILE_R) {                                  \
                dist_tile_ptrs(v, DIST_TILE_R, qc, j, nqc, d);                                     \
                isa##_f32_norms4(v, d, qn + j);                                                    \
            }                                                                                      \
            for (size_t i = 0; i < n; i += DIST_TILE_R) {                                          \
                size_t nr = dist_tile_ptrs(v, DIST_TILE_R, base, i, n, d);                         \
                if (l2)                                                                            \
                    isa##_f32_norms4(v, d, rn);                                                    \
                isa##_f32_row_tile(qc, nqc, v, nr, qn, rn, d, out + j0 * ldo + i, ldo, l2);        \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    static void isa##_l2_f32_batch(const float *q, size_t nq, const float *base, size_t n,         \
                                   size_t d, float *out, size_t ldo)                               \
    {                                                                                              \
        isa##_f32_batch(q, nq, base, n, d, out, ldo, 1);                                           \
    }                                                                                              \
    static void isa##_ip_f32_batch(const float *q, size_t nq, const float *base, size_t n,         \
                                   size_t d, float *out, size_t ldo)                               \
    {                                                                                              \
        isa##_f32_batch(q, nq, base, n, d, out, ldo, 0);                                           \
    }

/* ptr[t] = v + (first + t) * d for t < width, vectors past count replaced by
 * the last one (first < count). Returns how many are real. */
static inline size_t dist_tile_ptrs(const float **ptr, size_t width, const float *v, size_t first,
                                    size_t count, size_t d)
{
    size_t real = count - first < width ? count - first : width;
    for (size_t t = 0; t < width; t++)
        ptr[t] = v + (first + (t < real ? t : real - 1)) * d;
    return real;
}

/* The nq x nr corner of a tile (row stride ld_src) into dst (stride ldo). */
static inline void dist_tile_copy(const float *src, size_t ld_src, size_t nq, size_t nr, float *dst,
                                  size_t ldo)
{
    for (size_t j = 0; j < nq; j++)
        memcpy(dst + j * ldo, src + j * ld_src, nr * sizeof(float));
}

/* static ret name(const T *a, const T *b, size_t d), calling generic with l2. */
#define DIST_PAIR_DEFINE(ret, T, name, generic, l2)                                                \
    static ret name(const T *a, const T *b, size_t d)                                              \
    {                                                                                              \
        return generic(a, b, d, l2);                                                               \
    }

/* Sum of (a[j]-b[j])^2 for j in [i, d), added to s in index order. */
static inline float dist_l2_f32_tail(const float *a, const float *b, size_t i, size_t d, float s)
{
    for (; i < d; i++) {
        float t = a[i] - b[i];
        s += t * t;
    }
    return s;
}

/* Sum of a[j]*b[j] for j in [i, d), added to s in index order. */
static inline float dist_ip_f32_tail(const float *a, const float *b, size_t i, size_t d, float s)
{
    for (; i < d; i++)
        s += a[i] * b[i];
    return s;
}

static inline int32_t dist_ip_i8_tail(const int8_t *a, const int8_t *b, size_t i, size_t d,
                                      int32_t s)
{
    for (; i < d; i++)
        s += (int32_t)a[i] * (int32_t)b[i];
    return s;
}

static inline int32_t dist_l2_i8_tail(const int8_t *a, const int8_t *b, size_t i, size_t d,
                                      int32_t s)
{
    for (; i < d; i++) {
        int32_t t = (int32_t)a[i] - (int32_t)b[i];
        s += t * t;
    }
    return s;
}

/* Bytes [i, n) as 64-bit words and then single bytes. memcpy is the
 * strict-aliasing-safe unaligned load; compilers make it one mov. */
static inline uint64_t dist_word_at(const uint8_t *p, size_t i)
{
    uint64_t w;
    memcpy(&w, p + i, sizeof(w));
    return w;
}

static inline uint32_t dist_hamming_tail(const uint8_t *a, const uint8_t *b, size_t i, size_t n)
{
    uint32_t c = 0;
    for (; i + 8 <= n; i += 8)
        c += (uint32_t)__builtin_popcountll(dist_word_at(a, i) ^ dist_word_at(b, i));
    for (; i < n; i++)
        c += (uint32_t)__builtin_popcount((unsigned)(a[i] ^ b[i]));
    return c;
}

static inline void dist_and_or_tail(const uint8_t *a, const uint8_t *b, size_t i, size_t n,
                                    uint32_t *and_io, uint32_t *or_io)
{
    for (; i + 8 <= n; i += 8) {
        uint64_t x = dist_word_at(a, i), y = dist_word_at(b, i);
        *and_io += (uint32_t)__builtin_popcountll(x & y);
        *or_io += (uint32_t)__builtin_popcountll(x | y);
    }
    for (; i < n; i++) {
        *and_io += (uint32_t)__builtin_popcount((unsigned)(a[i] & b[i]));
        *or_io += (uint32_t)__builtin_popcount((unsigned)(a[i] | b[i]));
    }
}

/* The fast-scan sums of one block (distance.h, pq4_accumulate), sub-spaces
 * [s0, m) added to out[0..32): the scalar reference, and the SIMD sets' tail
 * when m is not a multiple of their stride. */
static inline void dist_pq4_block_tail(const uint8_t *block, const uint8_t *lut, size_t s0,
                                       size_t m, uint16_t *out)
{
    for (size_t s = s0; s < m; s++) {
        const uint8_t *c = block + s * 16, *t = lut + s * 16;
        for (size_t i = 0; i < 16; i++) {
            out[i] = (uint16_t)(out[i] + t[c[i] & 15]);
            out[i + 16] = (uint16_t)(out[i + 16] + t[c[i] >> 4]);
        }
    }
}

/* Sum of q[t] * v[t] for t in [i, d), added to s (dot_s8u8_many). */
static inline int32_t dist_dot_s8u8_tail(const int8_t *q, const uint8_t *v, size_t i, size_t d,
                                         int32_t s)
{
    for (; i < d; i++)
        s += (int32_t)q[i] * (int32_t)v[i];
    return s;
}

/* pq4_table_max and pq4_table_bytes (distance.h) for entries [i, n): the
 * scalar reference, and the SIMD sets' tail. */
static inline float dist_pq4_max_tail(const float *a, const float *b, size_t i, size_t n, float mx)
{
    for (; i < n; i++) {
        float v = b ? a[i] + b[i] : a[i];
        mx = v > mx ? v : mx;
    }
    return mx;
}

static inline void dist_pq4_bytes_tail(const float *a, const float *b, size_t i, size_t n,
                                       float scale, uint8_t *out)
{
    for (; i < n; i++) {
        float v = b ? a[i] + b[i] : a[i];
        out[i] = (uint8_t)(int32_t)(v * scale + 0.5f);
    }
}

static inline void dist_f16_tail(const uint16_t *in, float *out, size_t i, size_t n)
{
    for (; i < n; i++)
        out[i] = tm_f16_to_f32(in[i]);
}

static inline void dist_bf16_tail(const uint16_t *in, float *out, size_t i, size_t n)
{
    for (; i < n; i++)
        out[i] = tm_bf16_to_f32(in[i]);
}

#endif
