/* Test-only stand-in for <immintrin.h> that lets index/distance_avx512.c
 * compile and run on a CPU without AVX-512: SIMDe (libsimde-dev) implements
 * the intrinsics in portable C, and this header adds the ones SIMDe 0.7.4
 * lacks. It is force-included (-include) ahead of the kernel file, with no
 * -mavx512 flags, by the kernels_avx512_emulated test (CMakeLists.txt here).
 *
 * What the stand-ins must model faithfully, because the kernels depend on it:
 * a masked load reads only the lanes in its mask (the others are zero), so
 * an exactly sized buffer under ASan shows any lane the kernel should not
 * have touched; a masked store writes only the lanes in its mask. The
 * reductions and conversions follow the instructions' results: integer sums
 * wrap, VCVTPH2PS is exact and quiets a signalling NaN. */
#ifndef TM_AVX512_EMUL_H
#define TM_AVX512_EMUL_H

#if defined(__AVX512F__)
#error "avx512_emul.h is for builds without -mavx512f; the native kernels need no emulation"
#endif

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <simde/x86/f16c.h>
#include <stdint.h>
#include <string.h>

/* SIMDe now provides __m512 and friends under their native names, so the
 * compiler's own <immintrin.h>, which the kernel file includes next, must
 * not declare them again: mark it as already included (GCC's guard, then
 * Clang's). Had it been included first, the build would fail loudly on the
 * duplicate types rather than test anything else. */
#define _IMMINTRIN_H_INCLUDED
#define __IMMINTRIN_H

/* SIMDe 0.7.4 names the mask types only with its prefix. */
typedef simde__mmask16 __mmask16;
typedef simde__mmask32 __mmask32;
typedef simde__mmask64 __mmask64;

/* SIMDe 0.7.4's alias for this one takes four arguments by mistake. */
#undef _mm512_madd_epi16
#define _mm512_madd_epi16(a, b) simde_mm512_madd_epi16(a, b)

/* vec name(mask m, const void *p): lane i is p[i] if bit i of m is set,
 * else 0; lanes outside the mask are not read. */
#define AVX512_EMUL_MASKZ_LOADU(name, vec, T, lanes, mask_t)                                       \
    static inline vec name(mask_t m, const void *p)                                                \
    {                                                                                              \
        T v[lanes];                                                                                \
        const T *src = p;                                                                          \
        for (unsigned i = 0; i < (lanes); i++)                                                     \
            v[i] = (m >> i) & 1u ? src[i] : (T)0;                                                  \
        vec r;                                                                                     \
        memcpy(&r, v, sizeof(r));                                                                  \
        return r;                                                                                  \
    }

AVX512_EMUL_MASKZ_LOADU(avx512_emul_maskz_loadu_ps, __m512, float, 16, __mmask16)
AVX512_EMUL_MASKZ_LOADU(avx512_emul_maskz_loadu_epi8_256, __m256i, int8_t, 32, __mmask32)
AVX512_EMUL_MASKZ_LOADU(avx512_emul_maskz_loadu_epi8_512, __m512i, int8_t, 64, __mmask64)
AVX512_EMUL_MASKZ_LOADU(avx512_emul_maskz_loadu_epi16_256, __m256i, uint16_t, 16, __mmask16)

#define _mm512_maskz_loadu_ps(m, p) avx512_emul_maskz_loadu_ps(m, p)
#define _mm256_maskz_loadu_epi8(m, p) avx512_emul_maskz_loadu_epi8_256(m, p)
#define _mm512_maskz_loadu_epi8(m, p) avx512_emul_maskz_loadu_epi8_512(m, p)
#define _mm256_maskz_loadu_epi16(m, p) avx512_emul_maskz_loadu_epi16_256(m, p)

/* Writes lane i of v to p[i] only if bit i of m is set. */
static inline void avx512_emul_mask_storeu_ps(void *p, __mmask16 m, __m512 v)
{
    float f[16];
    float *dst = p;
    memcpy(f, &v, sizeof(f));
    for (unsigned i = 0; i < 16; i++)
        if ((m >> i) & 1u)
            dst[i] = f[i];
}
#define _mm512_mask_storeu_ps(p, m, v) avx512_emul_mask_storeu_ps(p, m, v)

/* Halving tree, the order GCC's _mm512_reduce_add_ps adds in. */
static inline float avx512_emul_reduce_add_ps(__m512 v)
{
    float f[16];
    memcpy(f, &v, sizeof(f));
    for (unsigned w = 8; w >= 1; w /= 2)
        for (unsigned i = 0; i < w; i++)
            f[i] += f[i + w];
    return f[0];
}
#define _mm512_reduce_add_ps(v) avx512_emul_reduce_add_ps(v)

/* Integer sums wrap, as the adds of the real instruction sequence do. */
static inline int avx512_emul_reduce_add_epi32(__m512i v)
{
    uint32_t x[16], s = 0;
    memcpy(x, &v, sizeof(x));
    for (unsigned i = 0; i < 16; i++)
        s += x[i];
    return (int)s;
}
#define _mm512_reduce_add_epi32(v) avx512_emul_reduce_add_epi32(v)

static inline long long avx512_emul_reduce_add_epi64(__m512i v)
{
    uint64_t x[8], s = 0;
    memcpy(x, &v, sizeof(x));
    for (unsigned i = 0; i < 8; i++)
        s += x[i];
    return (long long)s;
}
#define _mm512_reduce_add_epi64(v) avx512_emul_reduce_add_epi64(v)

/* Zero-extends 16 uint16 lanes to uint32. */
static inline __m512i avx512_emul_cvtepu16_epi32(__m256i h)
{
    uint16_t x[16];
    uint32_t y[16];
    memcpy(x, &h, sizeof(x));
    for (unsigned i = 0; i < 16; i++)
        y[i] = x[i];
    __m512i r;
    memcpy(&r, y, sizeof(r));
    return r;
}
#define _mm512_cvtepu16_epi32(h) avx512_emul_cvtepu16_epi32(h)

/* VCVTPH2PS on 16 lanes: SIMDe's F16C conversion on each half, which is
 * exact but (in its portable form) keeps a signalling NaN signalling, so the
 * quiet bit is set here as the instruction does. Not tm_f16_to_f32: that is
 * the reference the test compares with. */
static inline __m512 avx512_emul_cvtph_ps(__m256i h)
{
    uint16_t x[16];
    float f[16];
    memcpy(x, &h, sizeof(x));
    for (unsigned half = 0; half < 2; half++) {
        simde__m128i in;
        memcpy(&in, x + 8 * half, sizeof(in));
        simde__m256 out = simde_mm256_cvtph_ps(in);
        memcpy(f + 8 * half, &out, sizeof(out));
    }
    for (unsigned i = 0; i < 16; i++) {
        if ((x[i] & 0x7c00u) == 0x7c00u && (x[i] & 0x3ffu) != 0) {
            uint32_t bits;
            memcpy(&bits, &f[i], sizeof(bits));
            bits |= 0x00400000u;
            memcpy(&f[i], &bits, sizeof(bits));
        }
    }
    __m512 r;
    memcpy(&r, f, sizeof(r));
    return r;
}
#define _mm512_cvtph_ps(h) avx512_emul_cvtph_ps(h)

/* The largest lane (no NaNs in the kernels' inputs). */
static inline float avx512_emul_reduce_max_ps(__m512 v)
{
    float f[16];
    memcpy(f, &v, sizeof(f));
    float m = f[0];
    for (unsigned i = 1; i < 16; i++)
        m = f[i] > m ? f[i] : m;
    return m;
}
#define _mm512_reduce_max_ps(v) avx512_emul_reduce_max_ps(v)

/* VCVTTPS2DQ: truncation; out of range or NaN gives INT32_MIN. */
static inline __m512i avx512_emul_cvttps_epi32(__m512 v)
{
    float f[16];
    int32_t r[16];
    memcpy(f, &v, sizeof(f));
    for (unsigned i = 0; i < 16; i++)
        r[i] = f[i] > -2147483648.0f && f[i] < 2147483648.0f ? (int32_t)f[i] : INT32_MIN;
    __m512i out;
    memcpy(&out, r, sizeof(out));
    return out;
}
#define _mm512_cvttps_epi32(v) avx512_emul_cvttps_epi32(v)

/* VPMOVUSDB: each lane as unsigned 32 bits, saturated to a byte. */
static inline __m128i avx512_emul_cvtusepi32_epi8(__m512i v)
{
    uint32_t x[16];
    uint8_t r[16];
    memcpy(x, &v, sizeof(x));
    for (unsigned i = 0; i < 16; i++)
        r[i] = x[i] > 255u ? 255u : (uint8_t)x[i];
    __m128i out;
    memcpy(&out, r, sizeof(out));
    return out;
}
#define _mm512_cvtusepi32_epi8(v) avx512_emul_cvtusepi32_epi8(v)

#endif
