/* Distance kernels for brute-force search: squared L2 and inner product on
 * float32 and int8 vectors, Hamming and Jaccard counts on binary vectors, and
 * float16 / bfloat16 widening, each in one kernel set per instruction set.
 *
 * Dispatch. One translation unit per instruction set fills one
 * struct tm_kernels: distance_scalar.c (the reference, every CPU),
 * distance_avx2.c (x86-64 with AVX2, FMA, F16C and POPCNT),
 * distance_avx512.c (x86-64 with AVX-512 F, BW, VL, DQ and VNNI) and
 * distance_neon.c (aarch64, chosen at compile time since NEON is part of the
 * base architecture). x86 sets are compiled with their own target flags and
 * chosen at run time from cpuid (__builtin_cpu_supports, which also checks
 * that the OS saves the wide registers). Preference: avx512, avx2, neon,
 * scalar. The environment variable TIDEMARK_KERNEL=scalar|avx2|avx512|neon
 * picks a set instead, when it is compiled in and the CPU runs it; otherwise
 * it is ignored with a warning.
 *
 * Exactness. The int8, binary and f16/bf16 kernels of every set return
 * exactly what the scalar ones return, bit for bit (NaN payloads included).
 * The float32 kernels accumulate in float with several independent
 * accumulators, so they sum in another order than the scalar loop and may
 * differ from it in the last bits. Both sums are within d*u*M of the exact
 * one (u = FLT_EPSILON/2; M = the sum of |a_i*b_i| for IP, of (a_i-b_i)^2 for
 * L2), so the tests accept |set - scalar| <= (d + 4) * FLT_EPSILON * M. On
 * typical data the difference is a few ulps of the result.
 *
 * Batches. l2_f32_batch and ip_f32_batch compute nq x n results in
 * register tiles of 4 rows x Q queries (Q = 3 for avx2, 4 for avx512 and
 * neon), so each row load serves Q queries, each query load 4 rows, and
 * four horizontal sums share one shuffle tree. In the SIMD sets the squared
 * L2 distance is computed, as FAISS does for many queries, from the inner
 * product and the squared norms: max(0, (|q|^2 + |x|^2) - 2 q.x), so it
 * costs one FMA per term, not a subtraction and an FMA (which compete for
 * the same pipes on most cores; on the development VM the direct form ran
 * at under 60% of this one's speed). The price is accuracy near zero: the result
 * is within (d + 6) * FLT_EPSILON * (|q|^2 + |x|^2) of the exact distance
 * (each of the three sums is within (d + 4) * u of the sum of its terms'
 * magnitudes, and the add and the subtract round once more each), an
 * error relative to the norms rather than to the distance: for unit
 * vectors at d = 768 at most 1.8e-4, and bench/kernel_bench sees at most
 * 3 ulps of |q|^2 + |x|^2 on random data. The result is never negative,
 * and a row equal to the query, bit for bit, is at distance 0 exactly,
 * because a norm is summed by the same instructions in the same order as
 * the inner product. The scalar set computes every pair directly (l2_f32,
 * ip_f32), as the reference. ip_f32_batch has the bound of ip_f32.
 * In every set a pair's result is the same float, bit for bit, whatever nq,
 * n, ldo and the pair's place in the batch: a query ranks rows identically
 * in any batch. Batch results differ from l2_f32 / *_many (L2 more than in
 * the last bits, for near neighbours); a search must not mix the two.
 *
 * Limits. int8 results are exact in int32 for d <= 32768 (Milvus' maximum
 * dimension); beyond it the squared L2 may overflow. No kernel allocates, and
 * every pointer may be unaligned. Vectors must not contain Inf or NaN for the
 * float tolerances above to mean anything.
 *
 * Speed, as measured once on the 2-core AMD EPYC development VM (gcc 12,
 * -O2), l2_f32_many with d = 768: 128 rows (384 KiB, in cache) scalar
 * 116 us, avx2 10 us; 2048 rows (6 MiB) scalar 2.36 ms, avx2 0.68 ms, where
 * memory bandwidth bounds it. nq = 100 queries x n = 512 rows in cache
 * (bench/kernel_bench), avx2, in distances per second: d = 128 L2 62 M by
 * l2_f32_many once per query, 114 M by l2_f32_batch; IP 79 M, 122 M;
 * d = 768 L2 10 M, 22 M; IP 13 M, 23 M, the VM's peak of about 2 G FMAs
 * of 8 lanes per second. AVX-512 and NEON were not timed (no hardware).
 */
#ifndef TM_DISTANCE_H
#define TM_DISTANCE_H

#include <stddef.h>
#include <stdint.h>

/* A kernel set. Every pointer argument is borrowed for the call; inputs of
 * length 0 are allowed (results 0, nothing written). */
struct tm_kernels {
    const char *name; /* "scalar", "avx2", "avx512", "neon" */
    /* Squared L2 distance of two d-vectors (Milvus reports it squared). */
    float (*l2_f32)(const float *a, const float *b, size_t d);
    /* Inner product of two d-vectors. */
    float (*ip_f32)(const float *a, const float *b, size_t d);
    /* One query q against n vectors stored contiguously (vector i at
     * base + i*d): out[i] for i < n. The hot path of brute-force search;
     * never allocates. out must not overlap q or base. */
    void (*l2_f32_many)(const float *q, const float *base, size_t n, size_t d, float *out);
    void (*ip_f32_many)(const float *q, const float *base, size_t n, size_t d, float *out);
    /* nq queries (query j at q + j*d) against n rows (row i at base + i*d):
     * out[j*ldo + i] = the squared L2 distance / inner product of query j
     * and row i, for j < nq, i < n; nothing else of out is written.
     * ldo >= n. The hot path of brute-force search with many queries: a
     * tile of rows is loaded once for several queries; see Batches above
     * for the L2 form and its error bound. Never allocates (a few hundred
     * bytes of stack); out must not overlap q or base. */
    void (*l2_f32_batch)(const float *q, size_t nq, const float *base, size_t n, size_t d,
                         float *out, size_t ldo);
    void (*ip_f32_batch)(const float *q, size_t nq, const float *base, size_t n, size_t d,
                         float *out, size_t ldo);
    /* Exact int8 inner product and squared L2 (d <= 32768, see Limits). */
    int32_t (*ip_i8)(const int8_t *a, const int8_t *b, size_t d);
    int32_t (*l2_i8)(const int8_t *a, const int8_t *b, size_t d);
    /* Number of differing bits in two nbytes-byte binary vectors. */
    uint32_t (*hamming)(const uint8_t *a, const uint8_t *b, size_t nbytes);
    /* popcount(a & b) and popcount(a | b), for JACCARD = 1 - and/or (0 when
     * or == 0). Both outputs are always written. */
    void (*and_or_count)(const uint8_t *a, const uint8_t *b, size_t nbytes, uint32_t *and_out,
                         uint32_t *or_out);
    /* n IEEE binary16 values (little endian) to float: exact, subnormals
     * kept, signalling NaNs quieted (quiet bit set, payload kept), as the
     * F16C and NEON conversion instructions do. */
    void (*f16_to_f32)(const uint16_t *in, float *out, size_t n);
    /* n bfloat16 values to float: the bits shifted into the upper half,
     * so exact for every pattern (NaNs unchanged). */
    void (*bf16_to_f32)(const uint16_t *in, float *out, size_t n);
    /* 4-bit fast scan (ivf.h, IVF_PQ4). codes holds nblocks blocks of 32
     * vectors, each m * 16 bytes (m even): in sub-space s's 16
     * bytes, byte i holds vector i's 4-bit code in its low nibble and vector
     * i + 16's in its high nibble. lut holds m tables of 16 bytes. For
     * every block b and vector v < 32, out[b * 32 + v] = the sum over s of
     * lut[s * 16 + code(v, s)], exact when every such sum is below 65536
     * (the caller keeps m times its largest entry there), the same
     * in every set. */
    void (*pq4_accumulate)(const uint8_t *codes, size_t nblocks, const uint8_t *lut, size_t m,
                           uint16_t *out);
    /* One int8 query q, every value in [-32, 32], against n vectors of
     * bytes in [0, 127] (vector i at base + i*d): out[i] = the sum over t of
     * q[t] * base[i*d + t], exact in int32 for d <= 65536. The first pass of
     * the IVF coarse search (ivf_search.c), on centroids stored as bytes so
     * that 4,096 of them stay in L2. The bounds let x86 use VPMADDUBSW and
     * add four of its 16-bit pair sums before widening them (distance_avx2.c). */
    void (*dot_s8u8_many)(const int8_t *q, const uint8_t *base, size_t n, size_t d, int32_t *out);
    /* A 4-bit fast-scan probe's table made on the fly (ivf_search.c): the
     * query's table a plus the list's table b (b NULL: a alone), entry by
     * entry. pq4_table_max returns the larger of mx and the largest a[i] +
     * b[i]; pq4_table_bytes writes out[i] = (uint8_t)(int32_t)((a[i] + b[i])
     * * scale + 0.5f) for values in [0, 255.5), each operation rounded to
     * float as written, never fused, so every set gives the scalar bytes. */
    float (*pq4_table_max)(const float *a, const float *b, size_t n, float mx);
    void (*pq4_table_bytes)(const float *a, const float *b, size_t n, float scale, uint8_t *out);
};

/* The set chosen for this process (see Dispatch above). Decided on the first
 * call, once and thread-safely; never NULL. The returned set is static and
 * valid for the life of the process. */
const struct tm_kernels *tm_kernels_best(void);

/* The set named "scalar", "avx2", "avx512" or "neon" if it is compiled in
 * and this CPU runs it, else NULL (also for NULL or an unknown name). The
 * returned set is static. Does not consult TIDEMARK_KERNEL. */
const struct tm_kernels *tm_kernels_by_name(const char *name);

/* One binary16 / bfloat16 value to float, exactly as the array kernels. */
float tm_f16_to_f32(uint16_t h);
float tm_bf16_to_f32(uint16_t h);

/* Euclidean norm sqrt(ip_f32(v, v, d)) computed with set k (not NULL),
 * for COSINE = ip / (norm(a) * norm(b)). */
float tm_norm_f32(const struct tm_kernels *k, const float *v, size_t d);

#endif
