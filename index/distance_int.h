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
        .ip_i8 = isa##_ip_i8,                                                                      \
        .l2_i8 = isa##_l2_i8,                                                                      \
        .hamming = isa##_hamming,                                                                  \
        .and_or_count = isa##_and_or_count,                                                        \
        .f16_to_f32 = isa##_f16_to_f32,                                                            \
        .bf16_to_f32 = isa##_bf16_to_f32,                                                          \
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
