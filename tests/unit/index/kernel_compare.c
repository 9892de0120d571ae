/* The comparisons behind kernel_compare.h. Inputs come from a fixed-seed
 * generator so that a failure repeats; every buffer is allocated to its exact
 * size at an offset that breaks vector alignment, so an over-read is an ASan
 * error rather than a silent pass. */
#include "kernel_compare.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Dimensions past the 1..300 sweep: the register and unroll boundaries of
 * 512, the common embedding sizes, and Milvus' maximum for int8. */
static const size_t kc_large_dims[] = {511, 512, 513, 768, 1024, 1536, 4097};
#define KC_NLARGE (sizeof(kc_large_dims) / sizeof(kc_large_dims[0]))
#define KC_SWEEP 300
#define KC_MAX_N 37
#define KC_REPORT_MAX 20

/* splitmix64: small, fast and good enough to scatter test inputs. */
static uint64_t kc_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t kc_below(uint64_t *s, size_t n)
{
    return (size_t)(kc_next(s) % n);
}

/* Uniform in [-scale, scale), 24 random bits so every value is exact. */
static float kc_uniform(uint64_t *s, float scale)
{
    float u = (float)(kc_next(s) >> 40) * 0x1p-24f;
    return scale * (2.0f * u - 1.0f);
}

static void *kc_alloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (p == NULL) {
        fprintf(stderr, "kernel_compare: out of memory\n");
        abort();
    }
    return p;
}

static void kc_fail(struct kc_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void kc_fail(struct kc_result *res, const char *fmt, ...)
{
    if (res->mismatched++ < KC_REPORT_MAX) {
        va_list ap;
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
}

/* Exact results (int8 and binary): d is the length in elements or bytes. */
static void kc_expect_eq(struct kc_result *res, const char *what, size_t d, long long got,
                         long long want)
{
    res->compared++;
    if (got != want)
        kc_fail(res, "%s d=%zu: got %lld want %lld", what, d, got, want);
}

/* n bytes at a random offset 0..31 of an allocation of exactly that much;
 * free *mem_out. */
static uint8_t *kc_bytes(uint64_t *s, uint8_t **mem_out, size_t n)
{
    size_t off = kc_below(s, 32);
    *mem_out = kc_alloc(off + n);
    return *mem_out + off;
}

typedef void (*kc_case_fn)(const struct tm_kernels *k, const struct tm_kernels *ref, uint64_t *s,
                           size_t d, struct kc_result *res);

/* fn for every d in 0..KC_SWEEP, reps times each with fresh inputs, then
 * once for each large dimension. */
static void kc_sweep(kc_case_fn fn, int reps, uint64_t seed, const struct tm_kernels *k,
                     const struct tm_kernels *ref, struct kc_result *res)
{
    for (size_t d = 0; d <= KC_SWEEP; d++)
        for (int rep = 0; rep < reps; rep++)
            fn(k, ref, &seed, d, res);
    for (size_t i = 0; i < KC_NLARGE; i++)
        fn(k, ref, &seed, kc_large_dims[i], res);
}

/* ---- float32 ---- */

static void kc_expect_close(struct kc_result *res, const char *what, size_t d, float got,
                            float want, double mag)
{
    double tol = (double)(d + 4) * FLT_EPSILON * mag + FLT_MIN;
    res->compared++;
    if (!(fabs((double)got - (double)want) <= tol))
        kc_fail(res, "%s d=%zu: got %.9g want %.9g (tolerance %.3g)", what, d, (double)got,
                (double)want, tol);
}

/* Sums of magnitudes in double (products of floats are exact there). */
static void kc_mags(const float *a, const float *b, size_t d, double *l2_out, double *ip_out)
{
    double l2 = 0, ip = 0;
    for (size_t i = 0; i < d; i++) {
        double t = (double)a[i] - (double)b[i];
        l2 += t * t;
        ip += fabs((double)a[i] * (double)b[i]);
    }
    *l2_out = l2;
    *ip_out = ip;
}

static float *kc_f32_vec(uint64_t *s, float **mem_out, size_t off, size_t d, float scale)
{
    *mem_out = kc_alloc((off + d) * sizeof(float));
    float *v = *mem_out + off;
    for (size_t i = 0; i < d; i++)
        v[i] = kc_uniform(s, scale);
    return v;
}

static void kc_f32_case(const struct tm_kernels *k, const struct tm_kernels *ref, uint64_t *s,
                        size_t d, struct kc_result *res)
{
    float *ma, *mb;
    float scale = d % 3 == 0 ? 100.0f : 1.0f;
    float *a = kc_f32_vec(s, &ma, kc_below(s, 8), d, scale);
    float *b = kc_f32_vec(s, &mb, kc_below(s, 8), d, scale);
    double l2m, ipm;
    kc_mags(a, b, d, &l2m, &ipm);
    kc_expect_close(res, "l2_f32", d, k->l2_f32(a, b, d), ref->l2_f32(a, b, d), l2m);
    kc_expect_close(res, "ip_f32", d, k->ip_f32(a, b, d), ref->ip_f32(a, b, d), ipm);
    res->compared++;
    if (k->l2_f32(a, a, d) != 0.0f)
        kc_fail(res, "l2_f32(a, a) d=%zu: not 0", d);
    free(ma);
    free(mb);
}

static void kc_run_f32(const struct tm_kernels *k, const struct tm_kernels *ref,
                       struct kc_result *res)
{
    kc_sweep(kc_f32_case, 3, 1, k, ref, res);
}

/* n rows against q, each result checked against ref's one-pair kernel, and
 * the slot after out[n-1] checked untouched. */
static void kc_many_case(const struct tm_kernels *k, const struct tm_kernels *ref, uint64_t *s,
                         size_t n, size_t d, struct kc_result *res)
{
    float *mq, *mbase, out[KC_MAX_N + 1];
    const float *q = kc_f32_vec(s, &mq, kc_below(s, 8), d, 1.0f);
    const float *base = kc_f32_vec(s, &mbase, kc_below(s, 8), n * d, 1.0f);
    for (int l2 = 0; l2 < 2; l2++) {
        for (size_t i = 0; i <= n; i++)
            out[i] = -7.0f;
        (l2 ? k->l2_f32_many : k->ip_f32_many)(q, base, n, d, out);
        for (size_t i = 0; i < n; i++) {
            const float *row = base + i * d;
            double l2m, ipm;
            kc_mags(q, row, d, &l2m, &ipm);
            float want = l2 ? ref->l2_f32(q, row, d) : ref->ip_f32(q, row, d);
            kc_expect_close(res, l2 ? "l2_f32_many" : "ip_f32_many", d, out[i], want,
                            l2 ? l2m : ipm);
        }
        res->compared++;
        if (out[n] != -7.0f)
            kc_fail(res, "%s n=%zu d=%zu: wrote out[n]", l2 ? "l2_f32_many" : "ip_f32_many", n, d);
    }
    free(mq);
    free(mbase);
}

static void kc_run_f32_many(const struct tm_kernels *k, const struct tm_kernels *ref,
                            struct kc_result *res)
{
    static const size_t dims[] = {1, 3, 4, 8, 15, 16, 17, 31, 32, 33, 64, 100, 768, 1024};
    uint64_t s = 2;
    for (size_t d = 1; d <= KC_SWEEP; d++)
        kc_many_case(k, ref, &s, d % (KC_MAX_N + 1), d, res);
    for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++)
        for (size_t n = 0; n <= KC_MAX_N; n++)
            kc_many_case(k, ref, &s, n, dims[i], res);
}

/* ---- float32 batches ---- */

/* Sum of squares in double (exact squares, so only the sum rounds). */
static double kc_sq(const float *v, size_t d)
{
    double s = 0;
    for (size_t i = 0; i < d; i++)
        s += (double)v[i] * (double)v[i];
    return s;
}

/* One result of a batch against the scalar pair kernel. IP: the bound of
 * ip_f32. L2: the batch's bound, (d + 6) eps (|q|^2 + |x|^2) for the norm
 * form of the SIMD sets (distance.h, Batches), plus the scalar reference's
 * own, (d + 4) eps sum (q-x)^2; and never negative. */
static void kc_batch_expect(const struct tm_kernels *ref, struct kc_result *res, int l2,
                            const float *q, const float *x, size_t d, float got)
{
    double l2m, ipm;
    kc_mags(q, x, d, &l2m, &ipm);
    if (!l2) {
        kc_expect_close(res, "ip_f32_batch", d, got, ref->ip_f32(q, x, d), ipm);
        return;
    }
    float want = ref->l2_f32(q, x, d);
    double tol = (double)(d + 6) * FLT_EPSILON * (kc_sq(q, d) + kc_sq(x, d)) +
                 (double)(d + 4) * FLT_EPSILON * l2m + FLT_MIN;
    res->compared++;
    if (!(fabs((double)got - (double)want) <= tol) || got < 0.0f)
        kc_fail(res, "l2_f32_batch d=%zu: got %.9g want %.9g (tolerance %.3g)", d, (double)got,
                (double)want, tol);
}

/* Rows that test the edge of the L2 form: row n/2 is query 0 bit for bit
 * (distance 0 exactly, not a rounding residue), and row n-1 is query nq-1
 * nudged by 1e-3 of the scale (a near neighbour, where the norm form is
 * least accurate). */
static void kc_batch_plant(uint64_t *s, const float *q, size_t nq, float *base, size_t n, size_t d,
                           float scale)
{
    if (n == 0 || nq == 0)
        return;
    if (n > 1)
        for (size_t t = 0; t < d; t++)
            base[(n - 1) * d + t] = q[(nq - 1) * d + t] + kc_uniform(s, 1e-3f * scale);
    memcpy(base + n / 2 * d, q, d * sizeof(float));
}

/* The batch of one metric into out (stride ldo, len floats plus one
 * sentinel, all set to -7 first), checked pair by pair, the gaps between
 * the rows of out and the sentinel checked untouched. */
static void kc_batch_metric(const struct tm_kernels *k, const struct tm_kernels *ref, int l2,
                            const float *q, size_t nq, const float *base, size_t n, size_t d,
                            float *out, size_t ldo, size_t len, struct kc_result *res)
{
    const char *what = l2 ? "l2_f32_batch" : "ip_f32_batch";
    for (size_t i = 0; i <= len; i++)
        out[i] = -7.0f;
    (l2 ? k->l2_f32_batch : k->ip_f32_batch)(q, nq, base, n, d, out, ldo);
    for (size_t j = 0; j < nq; j++)
        for (size_t i = 0; i < n; i++)
            kc_batch_expect(ref, res, l2, q + j * d, base + i * d, d, out[j * ldo + i]);
    for (size_t p = 0; p <= len; p++) {
        if (p < len && p % ldo < n)
            continue;
        res->compared++;
        if (out[p] != -7.0f)
            kc_fail(res, "%s nq=%zu n=%zu ldo=%zu: wrote out[%zu], not a result", what, nq, n, ldo,
                    p);
    }
    if (l2 && n > 0 && nq > 0) {
        res->compared++;
        if (out[n / 2] != 0.0f)
            kc_fail(res, "l2_f32_batch d=%zu: a row equal to the query at %.9g, not 0", d,
                    (double)out[n / 2]);
    }
}

/* One pair of the batch computed alone (nq = n = 1) must give the same
 * bits: a pair's result does not depend on its place in the batch. */
static void kc_batch_alone(const struct tm_kernels *k, int l2, const float *q, size_t nq,
                           const float *base, size_t n, size_t d, size_t j, size_t i,
                           const float *out, size_t ldo, struct kc_result *res)
{
    if (j >= nq || i >= n)
        return;
    float alone[2] = {-7.0f, -7.0f};
    (l2 ? k->l2_f32_batch : k->ip_f32_batch)(q + j * d, 1, base + i * d, 1, d, alone, 1);
    res->compared++;
    if (memcmp(&alone[0], &out[j * ldo + i], sizeof(float)) != 0 || alone[1] != -7.0f)
        kc_fail(res, "%s d=%zu: pair (%zu, %zu) of nq=%zu n=%zu is %.9g, alone %.9g",
                l2 ? "l2_f32_batch" : "ip_f32_batch", d, j, i, nq, n, (double)out[j * ldo + i],
                (double)alone[0]);
}

static void kc_batch_case(const struct tm_kernels *k, const struct tm_kernels *ref, uint64_t *s,
                          size_t nq, size_t n, size_t d, struct kc_result *res)
{
    float *mq, *mbase;
    float scale = d % 3 == 0 ? 100.0f : 1.0f;
    const float *q = kc_f32_vec(s, &mq, kc_below(s, 8), nq * d, scale);
    float *base = kc_f32_vec(s, &mbase, kc_below(s, 8), n * d, scale);
    kc_batch_plant(s, q, nq, base, n, d, scale);
    size_t ldo = n + kc_below(s, 4);
    size_t len = nq ? (nq - 1) * ldo + n : 0; /* out[len] is one past the last result */
    float *out = kc_alloc((len + 1) * sizeof(float));
    for (int l2 = 0; l2 < 2; l2++) {
        kc_batch_metric(k, ref, l2, q, nq, base, n, d, out, ldo, len, res);
        kc_batch_alone(k, l2, q, nq, base, n, d, nq - 1, n - 1, out, ldo, res);
        size_t j = kc_below(s, nq + 1); /* apart: argument order is unspecified */
        size_t i = kc_below(s, n + 1);
        kc_batch_alone(k, l2, q, nq, base, n, d, j, i, out, ldo, res);
    }
    free(mq);
    free(mbase);
    free(out);
}

/* Every d of the sweep at a shape that moves with d; every nq 1..9 with
 * every n 0..KC_MAX_N at the dimensions around the register widths and
 * two common ones; and batches of more than one query chunk (64, see
 * distance_int.h) and larger blocks. */
static void kc_run_f32_batch(const struct tm_kernels *k, const struct tm_kernels *ref,
                             struct kc_result *res)
{
    static const size_t dims[] = {1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 128, 768};
    static const size_t big[][3] = {{65, 5, 40}, {70, 129, 33}, {130, 64, 128}, {3, 300, 768}};
    uint64_t s = 5;
    for (size_t d = 1; d <= KC_SWEEP; d++)
        kc_batch_case(k, ref, &s, 1 + d % 9, d % (KC_MAX_N + 1), d, res);
    for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++)
        for (size_t nq = 1; nq <= 9; nq++)
            for (size_t n = 0; n <= KC_MAX_N; n++)
                kc_batch_case(k, ref, &s, nq, n, dims[i], res);
    for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++)
        kc_batch_case(k, ref, &s, big[i][0], big[i][1], big[i][2], res);
}

/* ---- int8 ---- */

static void kc_i8_fill_case(const struct tm_kernels *k, const struct tm_kernels *ref, uint64_t *s,
                            size_t d, int fill, struct kc_result *res)
{
    uint8_t *ma, *mb;
    int8_t *a = (int8_t *)kc_bytes(s, &ma, d), *b = (int8_t *)kc_bytes(s, &mb, d);
    for (size_t i = 0; i < d; i++) {
        /* fill 0: random; 1: the extremes that give the largest results. */
        a[i] = fill ? INT8_MIN : (int8_t)(uint8_t)kc_next(s);
        b[i] = fill ? INT8_MAX : (int8_t)(uint8_t)kc_next(s);
    }
    kc_expect_eq(res, "ip_i8", d, k->ip_i8(a, b, d), ref->ip_i8(a, b, d));
    kc_expect_eq(res, "l2_i8", d, k->l2_i8(a, b, d), ref->l2_i8(a, b, d));
    kc_expect_eq(res, "ip_i8(a, a)", d, k->ip_i8(a, a, d), ref->ip_i8(a, a, d));
    if (fill) {
        kc_expect_eq(res, "l2_i8 extreme", d, k->l2_i8(a, b, d), (int32_t)d * 255 * 255);
        kc_expect_eq(res, "ip_i8 extreme", d, k->ip_i8(a, b, d), (int32_t)d * -128 * 127);
    }
    free(ma);
    free(mb);
}

/* Random inputs, then the extremes, at the same d. */
static void kc_i8_case(const struct tm_kernels *k, const struct tm_kernels *ref, uint64_t *s,
                       size_t d, struct kc_result *res)
{
    kc_i8_fill_case(k, ref, s, d, 0, res);
    kc_i8_fill_case(k, ref, s, d, 1, res);
}

static void kc_run_i8(const struct tm_kernels *k, const struct tm_kernels *ref,
                      struct kc_result *res)
{
    uint64_t s = 3;
    kc_sweep(kc_i8_case, 1, 3, k, ref, res);
    kc_i8_fill_case(k, ref, &s, 32768, 1, res); /* Milvus' largest dimension */
}

/* ---- binary ---- */

static void kc_bin_case(const struct tm_kernels *k, const struct tm_kernels *ref, uint64_t *s,
                        size_t n, struct kc_result *res)
{
    uint8_t *ma, *mb;
    uint8_t *a = kc_bytes(s, &ma, n), *b = kc_bytes(s, &mb, n);
    /* Mostly random bytes; every fourth vector pair is all ones against
     * random, so every count reaches its extreme somewhere. */
    for (size_t i = 0; i < n; i++) {
        a[i] = n % 4 == 0 ? 0xff : (uint8_t)kc_next(s);
        b[i] = (uint8_t)kc_next(s);
    }
    kc_expect_eq(res, "hamming", n, k->hamming(a, b, n), ref->hamming(a, b, n));
    uint32_t and_k = 0xdeadbeef, or_k = 0xdeadbeef, and_r, or_r;
    k->and_or_count(a, b, n, &and_k, &or_k);
    ref->and_or_count(a, b, n, &and_r, &or_r);
    kc_expect_eq(res, "and_or_count and", n, and_k, and_r);
    kc_expect_eq(res, "and_or_count or", n, or_k, or_r);
    free(ma);
    free(mb);
}

static void kc_run_binary(const struct tm_kernels *k, const struct tm_kernels *ref,
                          struct kc_result *res)
{
    kc_sweep(kc_bin_case, 2, 4, k, ref, res);
}

/* ---- f16 and bf16 ---- */

typedef void (*kc_convert_fn)(const uint16_t *in, float *out, size_t n);

/* in[0..n) converted by got and want; compares bits, and checks that got
 * wrote nothing past out[n-1]. */
static void kc_convert_case(const char *what, kc_convert_fn got, kc_convert_fn want,
                            const uint16_t *in, size_t n, struct kc_result *res)
{
    size_t off = n % 7; /* output start off vector alignment */
    float *mg = kc_alloc((off + n + 1) * sizeof(float)), *w = kc_alloc((n + 1) * sizeof(float));
    float *g = mg + off;
    memset(g, 0xa5, (n + 1) * sizeof(float));
    got(in, g, n);
    want(in, w, n);
    for (size_t i = 0; i < n; i++) {
        uint32_t gb, wb;
        memcpy(&gb, &g[i], sizeof(gb));
        memcpy(&wb, &w[i], sizeof(wb));
        res->compared++;
        if (gb != wb)
            kc_fail(res, "%s of 0x%04x: got bits 0x%08x want 0x%08x", what, in[i], gb, wb);
    }
    uint32_t past;
    memcpy(&past, &g[n], sizeof(past));
    res->compared++;
    if (past != 0xa5a5a5a5u)
        kc_fail(res, "%s n=%zu: wrote past the end", what, n);
    free(mg);
    free(w);
}

/* Every one of the 65536 patterns from four starting points, so that each
 * pattern passes through more than one lane, then every short length, which
 * is all tail. */
static void kc_run_convert(const char *what, kc_convert_fn got, kc_convert_fn want,
                           struct kc_result *res)
{
    const size_t all = 65536, pad = 4;
    uint16_t *in = kc_alloc((all + pad) * sizeof(uint16_t));
    for (size_t i = 0; i < all + pad; i++)
        in[i] = (uint16_t)(i * 40503u); /* odd multiplier: a permutation */
    for (size_t start = 0; start < pad; start++)
        kc_convert_case(what, got, want, in + start, all, res);
    for (size_t n = 0; n <= 40; n++)
        kc_convert_case(what, got, want, in + n % pad, n, res);
    free(in);
}

static void kc_run_f16(const struct tm_kernels *k, const struct tm_kernels *ref,
                       struct kc_result *res)
{
    kc_run_convert("f16_to_f32", k->f16_to_f32, ref->f16_to_f32, res);
}

static void kc_run_bf16(const struct tm_kernels *k, const struct tm_kernels *ref,
                        struct kc_result *res)
{
    kc_run_convert("bf16_to_f32", k->bf16_to_f32, ref->bf16_to_f32, res);
}

/* Fast scan: random codes and tables (extreme bytes included, so the
 * 16-bit sums reach their maximum) for every even m up to 70 and m = 256,
 * 1 to 5 blocks, at an unaligned start; every sum must equal scalar's. */
static void kc_pq4_case(const struct tm_kernels *k, const struct tm_kernels *ref, uint64_t *s,
                        size_t m, size_t nblocks, struct kc_result *res)
{
    uint8_t *cmem, *lmem;
    uint8_t *codes = kc_bytes(s, &cmem, nblocks * m * 16), *lut = kc_bytes(s, &lmem, m * 16);
    uint16_t *got = kc_alloc(nblocks * 32 * sizeof(uint16_t) + 1);
    uint16_t *want = kc_alloc(nblocks * 32 * sizeof(uint16_t) + 1);
    bool saturate = kc_below(s, 4) == 0;
    for (size_t i = 0; i < nblocks * m * 16; i++)
        codes[i] = (uint8_t)kc_next(s);
    for (size_t i = 0; i < m * 16; i++)
        lut[i] = saturate ? 255 : (uint8_t)kc_next(s);
    k->pq4_accumulate(codes, nblocks, lut, m, got);
    ref->pq4_accumulate(codes, nblocks, lut, m, want);
    for (size_t i = 0; i < nblocks * 32; i++)
        kc_expect_eq(res, "pq4_accumulate", m, got[i], want[i]);
    free(cmem), free(lmem), free(got), free(want);
}

static void kc_run_pq4(const struct tm_kernels *k, const struct tm_kernels *ref,
                       struct kc_result *res)
{
    uint64_t seed = 0x5eed4;
    for (size_t m = 2; m <= 70; m += 2)
        for (size_t nb = 1; nb <= 5; nb += 2)
            kc_pq4_case(k, ref, &seed, m, nb, res);
    for (int rep = 0; rep < 8; rep++)
        kc_pq4_case(k, ref, &seed, 256, 2, res);
}

/* dot_s8u8_many: queries in [-32, 32] against rows of bytes in [0, 127],
 * every d to 130 and a few large ones, n = 0..9 rows, unaligned. A third of
 * the cases are extremes (queries all 32, all -32 or alternating, rows all
 * 127), so that the x86 16-bit sums reach their bounds. */
static void kc_dot_s8u8_case(const struct tm_kernels *k, const struct tm_kernels *ref, uint64_t *s,
                             size_t d, struct kc_result *res)
{
    size_t n = kc_below(s, 10);
    uint8_t *qmem, *bmem;
    int8_t *q = (int8_t *)kc_bytes(s, &qmem, d);
    uint8_t *base = kc_bytes(s, &bmem, n * d);
    int32_t *got = kc_alloc(n * sizeof(int32_t) + 1), *want = kc_alloc(n * sizeof(int32_t) + 1);
    bool extreme = kc_below(s, 3) == 0;
    int sign = kc_below(s, 3) == 0 ? -1 : 1, alternate = kc_below(s, 2) == 0;
    for (size_t t = 0; t < d; t++)
        q[t] =
            (int8_t)(extreme ? sign * (alternate && t % 2 ? -32 : 32) : (int)kc_below(s, 65) - 32);
    for (size_t i = 0; i < n * d; i++)
        base[i] = extreme ? 127 : (uint8_t)(kc_next(s) & 127);
    k->dot_s8u8_many(q, base, n, d, got);
    ref->dot_s8u8_many(q, base, n, d, want);
    for (size_t i = 0; i < n; i++)
        kc_expect_eq(res, "dot_s8u8_many", d, got[i], want[i]);
    free(qmem), free(bmem), free(got), free(want);
}

static void kc_run_dot_s8u8(const struct tm_kernels *k, const struct tm_kernels *ref,
                            struct kc_result *res)
{
    kc_sweep(kc_dot_s8u8_case, 3, 0xd07, k, ref, res);
}

/* A probe's table on the fly: floats >= 0 below a random range, with and
 * without b, every n to 300 and a few large ones, at unaligned addresses;
 * the scale maps the largest entry to 255. The largest entry and every
 * byte must equal scalar's bit for bit. */
static void kc_pq4_table_case(const struct tm_kernels *k, const struct tm_kernels *ref, uint64_t *s,
                              size_t n, struct kc_result *res)
{
    float *amem, *bmem, range = 1.0f + (float)kc_below(s, 1000);
    uint8_t *gmem, *wmem;
    /* uniform in [-range/2, range/2), moved up to [0, range) */
    float *a = kc_f32_vec(s, &amem, n % 3, n, range / 2),
          *b = kc_f32_vec(s, &bmem, n % 5, n, range / 2);
    for (size_t i = 0; i < n; i++)
        a[i] += range / 2, b[i] += range / 2;
    uint8_t *got = kc_bytes(s, &gmem, n), *want = kc_bytes(s, &wmem, n);
    const float *bs[2] = {b, NULL};
    for (int with_b = 0; with_b < 2; with_b++) {
        float mx0 = kc_below(s, 2) ? 0.0f : range / 4;
        float mg = k->pq4_table_max(a, bs[with_b], n, mx0);
        float mw = ref->pq4_table_max(a, bs[with_b], n, mx0);
        res->compared++;
        if (memcmp(&mg, &mw, sizeof mg))
            kc_fail(res, "pq4_table_max n=%zu: got %.9g want %.9g", n, (double)mg, (double)mw);
        float scale = mw > 0 ? 255.0f / mw : 1.0f;
        k->pq4_table_bytes(a, bs[with_b], n, scale, got);
        ref->pq4_table_bytes(a, bs[with_b], n, scale, want);
        for (size_t i = 0; i < n; i++)
            kc_expect_eq(res, "pq4_table_bytes", n, got[i], want[i]);
    }
    free(amem), free(bmem), free(gmem), free(wmem);
}

static void kc_run_pq4_table(const struct tm_kernels *k, const struct tm_kernels *ref,
                             struct kc_result *res)
{
    kc_sweep(kc_pq4_table_case, 2, 0x7ab1e, k, ref, res);
}

const struct kc_check kc_checks[] = {
    {"f32", kc_run_f32},
    {"f32_many", kc_run_f32_many},
    {"f32_batch", kc_run_f32_batch},
    {"i8", kc_run_i8},
    {"binary", kc_run_binary},
    {"f16", kc_run_f16},
    {"bf16", kc_run_bf16},
    {"pq4", kc_run_pq4},
    {"dot_s8u8", kc_run_dot_s8u8},
    {"pq4_table", kc_run_pq4_table},
};
const size_t kc_check_count = sizeof(kc_checks) / sizeof(kc_checks[0]);
