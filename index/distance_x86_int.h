/* Private to the x86 kernel files (distance_avx2.c, distance_avx512.c):
 * the 128- and 256-bit steps their batch tiles share. Each file compiles
 * its own copy with its own target flags (both include AVX2 and FMA), as
 * with distance_int.h, so no copy crosses from one ISA to the other. */
#ifndef TM_DISTANCE_X86_INT_H
#define TM_DISTANCE_X86_INT_H

#include <immintrin.h>

/* Lane k of the result is the sum of the eight lanes of vk. Every vk is
 * added in the same order (neighbours, then pairs, then the 128-bit
 * halves), so a result does not depend on which slot its row took. */
static inline __m128 dist_x86_hsum4(__m256 v0, __m256 v1, __m256 v2, __m256 v3)
{
    __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(v0, v1), _mm256_hadd_ps(v2, v3));
    return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

/* The integer form of dist_x86_hsum4: lane k is the sum of vk's lanes. */
static inline __m128i dist_x86_hsum4_epi32(__m256i s0, __m256i s1, __m256i s2, __m256i s3)
{
    __m256i t = _mm256_hadd_epi32(_mm256_hadd_epi32(s0, s1), _mm256_hadd_epi32(s2, s3));
    return _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
}

/* Four results of one query from its inner products s with four rows: s,
 * or for l2 the clamped max(0, (qn + rn[k]) - 2 s) of distance.h, Batches
 * (2 s is exact, so a row equal to the query gives (2n - 2n) = 0). */
static inline __m128 dist_x86_tile_result(__m128 s, float qn, const float *rn, int l2)
{
    if (!l2)
        return s;
    __m128 t = _mm_sub_ps(_mm_add_ps(_mm_set1_ps(qn), _mm_loadu_ps(rn)), _mm_add_ps(s, s));
    return _mm_max_ps(t, _mm_setzero_ps());
}

#endif
