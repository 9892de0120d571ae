/* The distance kernels (index/distance.h): known answers for the scalar
 * reference, the f16 conversion checked against its definition for every
 * pattern, dispatch and TIDEMARK_KERNEL, and every SIMD set this build has
 * compared with scalar family by family (kernel_compare.c). A set the CPU
 * lacks is reported as skipped, never as passed.
 *
 * Usage: test_kernels [cmocka name filter], e.g. "dispatch*"; ctest runs the
 * dispatch tests again under TIDEMARK_KERNEL=scalar and =bogus. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distance.h"
#include "kernel_compare.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

static uint32_t bits_of(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof(b));
    return b;
}

/* ---- scalar known answers ---- */

static void scalar_float_known(void **state)
{
    (void)state;
    const struct tm_kernels *k = tm_kernels_by_name("scalar");
    const float a[] = {1, 2, 3}, b[] = {4, 6, 8};
    assert_true(k->l2_f32(a, b, 3) == 50.0f); /* 9 + 16 + 25 */
    assert_true(k->ip_f32(a, b, 3) == 40.0f); /* 4 + 12 + 24 */
    assert_true(k->l2_f32(a, b, 0) == 0.0f);
    assert_true(k->ip_f32(a, b, 0) == 0.0f);

    const float base[] = {4, 6, 8, 1, 2, 3, 0, 0, 0};
    float out[4] = {-1, -1, -1, -1};
    k->l2_f32_many(a, base, 3, 3, out);
    assert_true(out[0] == 50.0f && out[1] == 0.0f && out[2] == 14.0f && out[3] == -1.0f);
    k->ip_f32_many(a, base, 3, 3, out);
    assert_true(out[0] == 40.0f && out[1] == 14.0f && out[2] == 0.0f && out[3] == -1.0f);
}

/* The batch of every set on a hand-checked case: two queries against the
 * rows of scalar_float_known, out with a gap (ldo = 4 > n = 3) that must
 * stay untouched. Every value is a small integer, exact in every set and
 * in the norm form of L2 (14 + 116 - 2 * 40 = 50). */
static void batch_known(void **state)
{
    (void)state;
    static const char *const names[] = {"scalar", "avx2", "avx512", "neon"};
    const float q[] = {1, 2, 3, 0, 0, 0};
    const float base[] = {4, 6, 8, 1, 2, 3, 0, 0, 0};
    const float l2[] = {50, 0, 14, -1, 116, 14, 0, -1};
    const float ip[] = {40, 14, 0, -1, 0, 0, 0, -1};
    for (size_t i = 0; i < LEN(names); i++) {
        const struct tm_kernels *k = tm_kernels_by_name(names[i]);
        if (k == NULL)
            continue;
        float out[9];
        for (size_t t = 0; t < LEN(out); t++)
            out[t] = -1;
        k->l2_f32_batch(q, 2, base, 3, 3, out, 4);
        assert_memory_equal(out, l2, sizeof(l2));
        assert_true(out[8] == -1.0f);
        k->ip_f32_batch(q, 2, base, 3, 3, out, 4);
        assert_memory_equal(out, ip, sizeof(ip));
        k->l2_f32_batch(q, 0, base, 3, 3, NULL, 4); /* nothing to write */
        k->ip_f32_batch(q, 2, base, 0, 3, out, 4);
        assert_memory_equal(out, ip, sizeof(ip));
    }
}

/* The scalar batch is the reference for the others, so it is held to the
 * checks they are (shapes, gaps in out, distance 0 for an equal row, a pair
 * alone equal to the pair in a batch), against its own pair kernels. */
static void scalar_batch_compare(void **state)
{
    (void)state;
    const struct tm_kernels *k = tm_kernels_by_name("scalar");
    for (size_t c = 0; c < kc_check_count; c++) {
        if (strcmp(kc_checks[c].name, "f32_batch") != 0)
            continue;
        struct kc_result res = {0, 0};
        kc_checks[c].run(k, k, &res);
        assert_true(res.compared > 0);
        assert_int_equal(res.mismatched, 0);
        return;
    }
    fail_msg("no f32_batch check in kc_checks");
}

static void scalar_int_known(void **state)
{
    (void)state;
    const struct tm_kernels *k = tm_kernels_by_name("scalar");
    const int8_t a[] = {-128, 127, 0, 5}, b[] = {127, -128, 3, -5};
    assert_int_equal(k->ip_i8(a, b, 4), -16256 - 16256 + 0 - 25);
    assert_int_equal(k->l2_i8(a, b, 4), 255 * 255 * 2 + 9 + 100);

    const uint8_t x[] = {0xff, 0x0f, 0x81}, y[] = {0x00, 0xff, 0x01};
    assert_int_equal(k->hamming(x, y, 3), 8 + 4 + 1);
    uint32_t and_c = 99, or_c = 99;
    k->and_or_count(x, y, 3, &and_c, &or_c);
    assert_int_equal(and_c, 0 + 4 + 1);
    assert_int_equal(or_c, 8 + 8 + 2);
    k->and_or_count(x, y, 0, &and_c, &or_c);
    assert_int_equal(and_c, 0);
    assert_int_equal(or_c, 0);
}

static void half_known(void **state)
{
    (void)state;
    static const struct {
        uint16_t h;
        uint32_t f; /* bits of the float */
    } f16[] = {
        {0x3c00, 0x3f800000}, /* 1 */
        {0xc000, 0xc0000000}, /* -2 */
        {0x7bff, 0x477fe000}, /* 65504, the largest half */
        {0x0001, 0x33800000}, /* 2^-24, the smallest subnormal */
        {0x03ff, 0x387fc000}, /* the largest subnormal */
        {0x0400, 0x38800000}, /* 2^-14, the smallest normal */
        {0x8000, 0x80000000}, /* -0 */
        {0x7c00, 0x7f800000}, /* +Inf */
        {0xfc00, 0xff800000}, /* -Inf */
        {0x7e00, 0x7fc00000}, /* quiet NaN */
        {0x7d00, 0x7fe00000}, /* signalling NaN: quieted, payload kept */
        {0xfc01, 0xffc02000}, /* negative signalling NaN, payload 1 */
    };
    for (size_t i = 0; i < LEN(f16); i++)
        assert_int_equal(bits_of(tm_f16_to_f32(f16[i].h)), f16[i].f);
    assert_int_equal(bits_of(tm_bf16_to_f32(0x3f80)), 0x3f800000);
    assert_int_equal(bits_of(tm_bf16_to_f32(0xc040)), 0xc0400000);
    assert_int_equal(bits_of(tm_bf16_to_f32(0x7fa0)), 0x7fa00000); /* NaNs untouched */
}

/* Every half against its definition: (-1)^s * 2^(e-15) * 1.m, or
 * 2^-14 * 0.m when e = 0, Inf and quiet NaN when e = 31. */
static void half_all_patterns(void **state)
{
    (void)state;
    for (uint32_t h = 0; h <= 0xffff; h++) {
        uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff, sign = h >> 15;
        float got = tm_f16_to_f32((uint16_t)h);
        if (e == 31) {
            uint32_t want = (sign << 31) | 0x7f800000u | (m << 13) | (m ? 0x00400000u : 0);
            assert_int_equal(bits_of(got), want);
            continue;
        }
        double v = e ? ldexp(1024.0 + m, (int)e - 25) : ldexp((double)m, -24);
        assert_true((double)got == (sign ? -v : v));
        assert_int_equal(signbit(got) != 0, sign);
        assert_int_equal(bits_of(tm_bf16_to_f32((uint16_t)h)), h << 16);
    }
}

static void norm_known(void **state)
{
    (void)state;
    static const char *const names[] = {"scalar", "avx2", "avx512", "neon"};
    const float v[] = {3, 4};
    for (size_t i = 0; i < LEN(names); i++) {
        const struct tm_kernels *k = tm_kernels_by_name(names[i]);
        if (k != NULL)
            assert_true(tm_norm_f32(k, v, 2) == 5.0f);
    }
}

/* ---- dispatch ---- */

static void dispatch_by_name(void **state)
{
    (void)state;
    assert_null(tm_kernels_by_name(NULL));
    assert_null(tm_kernels_by_name(""));
    assert_null(tm_kernels_by_name("sse2"));
    assert_null(tm_kernels_by_name("AVX2")); /* names are exact */
    const struct tm_kernels *s = tm_kernels_by_name("scalar");
    assert_non_null(s);
    assert_string_equal(s->name, "scalar");
#if !defined(__x86_64__)
    assert_null(tm_kernels_by_name("avx2"));
    assert_null(tm_kernels_by_name("avx512"));
#endif
#if !defined(__aarch64__)
    assert_null(tm_kernels_by_name("neon"));
#endif
}

static void *best_thread(void *arg)
{
    (void)arg;
    return (void *)tm_kernels_best();
}

/* The preference order of distance.h, or TIDEMARK_KERNEL when it names a set
 * this build and CPU run; the same pointer from every thread. */
static void dispatch_best(void **state)
{
    (void)state;
    static const char *const order[] = {"avx512", "avx2", "neon", "scalar"};
    const struct tm_kernels *want = tm_kernels_by_name(getenv("TIDEMARK_KERNEL"));
    for (size_t i = 0; want == NULL && i < LEN(order); i++)
        want = tm_kernels_by_name(order[i]);

    pthread_t t[4];
    for (size_t i = 0; i < LEN(t); i++)
        assert_int_equal(pthread_create(&t[i], NULL, best_thread, NULL), 0);
    for (size_t i = 0; i < LEN(t); i++) {
        void *got = NULL;
        assert_int_equal(pthread_join(t[i], &got), 0);
        assert_ptr_equal(got, want);
    }
    assert_ptr_equal(tm_kernels_best(), want);
    print_message("tm_kernels_best(): %s\n", want->name);
}

/* ---- each SIMD set against scalar ---- */

struct set_check {
    const char *set;
    const struct kc_check *check;
};

static void compare_with_scalar(void **state)
{
    const struct set_check *c = *state;
    const struct tm_kernels *k = tm_kernels_by_name(c->set);
    if (k == NULL) {
        print_message("%s: this CPU does not run it\n", c->set);
        skip();
    }
    struct kc_result res = {0, 0};
    c->check->run(k, tm_kernels_by_name("scalar"), &res);
    print_message("%s %s: %lu compared, %lu mismatched\n", c->set, c->check->name, res.compared,
                  res.mismatched);
    assert_true(res.compared > 0);
    assert_int_equal(res.mismatched, 0);
}

/* The SIMD sets this architecture compiles; the others cannot be tested here
 * (NEON runs under qemu as unit.index.kernels_neon). */
static const char *const simd_sets[] = {
#if defined(__x86_64__)
    "avx2",
    "avx512",
#endif
#if defined(__aarch64__)
    "neon",
#endif
    NULL,
};

#define MAX_COMPARE 32

int main(int argc, char **argv)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(scalar_float_known),   cmocka_unit_test(batch_known),
        cmocka_unit_test(scalar_batch_compare), cmocka_unit_test(scalar_int_known),
        cmocka_unit_test(half_known),           cmocka_unit_test(half_all_patterns),
        cmocka_unit_test(norm_known),           cmocka_unit_test(dispatch_by_name),
        cmocka_unit_test(dispatch_best),
    };
    static struct set_check cases[MAX_COMPARE];
    static char names[MAX_COMPARE][32];
    struct CMUnitTest tests[LEN(fixed) + MAX_COMPARE];
    size_t nt = 0;

    for (size_t i = 0; i < LEN(fixed); i++)
        tests[nt++] = fixed[i];
    for (size_t s = 0; simd_sets[s] != NULL; s++) {
        for (size_t c = 0; c < kc_check_count && nt - LEN(fixed) < MAX_COMPARE; c++) {
            size_t j = nt - LEN(fixed);
            cases[j] = (struct set_check){simd_sets[s], &kc_checks[c]};
            snprintf(names[j], sizeof(names[j]), "%s_%s", simd_sets[s], kc_checks[c].name);
            tests[nt++] = (struct CMUnitTest){
                .name = names[j], .test_func = compare_with_scalar, .initial_state = &cases[j]};
        }
    }
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return _cmocka_run_group_tests("kernels", tests, nt, NULL, NULL);
}
