/* The response JSON writer (node/jw.h): float32 printing (the shortest text
 * that reads back as the same float32, milvus-rest-v2.md §1.7), doubles,
 * integers, escaping and separators.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jw.h"

static const char *fmt(float v, char *buf)
{
    int n = tm_jw_format_float(buf, v);
    assert_int_equal(n, (int)strlen(buf));
    return buf;
}

static void test_float_exact_texts(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(fmt(0.1f, buf), "0.1");
    assert_string_equal(fmt(-0.1f, buf), "-0.1");
    assert_string_equal(fmt(0.3f, buf), "0.3");
    assert_string_equal(fmt(1.0f, buf), "1");
    assert_string_equal(fmt(-1.5f, buf), "-1.5");
    assert_string_equal(fmt(0.0f, buf), "0");
    assert_string_equal(fmt(3.14159f, buf), "3.14159");
    assert_string_equal(fmt(100.0f, buf), "100");
    assert_string_equal(fmt(-42.25f, buf), "-42.25");
    assert_string_equal(fmt(0.2f + 0.1f, buf), "0.3"); /* 0.3f exactly in float32 */
    /* 16777217 is not a float32: it rounds to 16777216, printed exactly */
    assert_true(strtof(fmt(16777216.0f, buf), NULL) == 16777216.0f);
    assert_null(strchr(fmt(0.1f, buf), 'e'));
}

/* Reads back as the same float32, and is a JSON number. */
static void check_roundtrip(float v)
{
    char buf[32];
    fmt(v, buf);
    float back = strtof(buf, NULL);
    if (memcmp(&back, &v, sizeof v) != 0 && !(back == 0 && v == 0))
        fail_msg("%.9g printed as %s reads back as %.9g", (double)v, buf, (double)back);
    json_t *j = json_loads(buf, JSON_DECODE_ANY, NULL);
    if (!j || !json_is_number(j))
        fail_msg("%.9g printed as %s, not a JSON number", (double)v, buf);
    json_decref(j);
}

static void test_float_roundtrips(void **state)
{
    (void)state;
    static const float special[] = {1e-10f,   -1e-10f,      1e-45f,   -1e-45f,  FLT_MIN,
                                    -FLT_MIN, FLT_MAX,      -FLT_MAX, 1e10f,    1e21f,
                                    1e-7f,    123456789.0f, 0.1f,     -0.1f,    1.0f / 3,
                                    2.0f / 3, -0.0f,        65504.0f, 1.00001f, 0.999999f};
    for (size_t k = 0; k < sizeof special / sizeof special[0]; k++)
        check_roundtrip(special[k]);
    char buf[32];
    /* 1e-10f reads back exactly, and briefly */
    fmt(1e-10f, buf);
    assert_true(strtof(buf, NULL) == 1e-10f);
    assert_true(strlen(buf) <= 6);
    /* negatives carry their sign */
    assert_int_equal(fmt(-1e-10f, buf)[0], '-');
    assert_int_equal(fmt(-FLT_MAX, buf)[0], '-');
    /* random bit patterns */
    srand(4242);
    for (int i = 0; i < 200000; i++) {
        uint32_t bits = (uint32_t)rand() << 16 ^ (uint32_t)rand();
        float v;
        memcpy(&v, &bits, 4);
        if (isfinite(v))
            check_roundtrip(v);
    }
}

/* Shortest: no text with fewer significant digits reads back as the value. */
static void test_float_shortest(void **state)
{
    (void)state;
    srand(777);
    for (int i = 0; i < 50000; i++) {
        float v = (float)rand() / (float)RAND_MAX * powf(10.0f, (float)(rand() % 20 - 10));
        if (rand() % 2)
            v = -v;
        int best = 9;
        char tmp[40];
        for (int p = 1; p <= 9; p++) {
            snprintf(tmp, sizeof tmp, "%.*g", p, (double)v);
            if (strtof(tmp, NULL) == v) {
                best = p;
                break;
            }
        }
        char buf[32];
        fmt(v, buf);
        int digits = 0;
        bool leading = true;
        for (const char *c = buf; *c && *c != 'e'; c++) {
            if (*c >= '1' && *c <= '9')
                leading = false;
            if (*c >= '0' && *c <= '9' && !leading)
                digits++;
        }
        /* trailing zeros of an integer part may count; allow them */
        if (digits > best && strchr(buf, '.'))
            fail_msg("%.9g printed as %s (%d digits), %.*g is enough", (double)v, buf, digits, best,
                     (double)v);
    }
}

static void test_non_finite(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(fmt(NAN, buf), "null");
    assert_string_equal(fmt(INFINITY, buf), "null");
    struct tm_jw w;
    tm_jw_init(&w);
    tm_jw_arr(&w);
    tm_jw_double(&w, -INFINITY);
    tm_jw_float(&w, NAN);
    tm_jw_arr_end(&w);
    assert_int_equal(w.out.len, strlen("[null,null]"));
    assert_memory_equal(w.out.data, "[null,null]", w.out.len);
    tm_jw_free(&w);
}

static void assert_out(struct tm_jw *w, const char *want)
{
    if (w->out.len != strlen(want) || memcmp(w->out.data, want, w->out.len) != 0)
        fail_msg("wrote %.*s, want %s", (int)w->out.len, (const char *)w->out.data, want);
}

static void test_writer(void **state)
{
    (void)state;
    struct tm_jw w;
    tm_jw_init(&w);
    tm_jw_obj(&w);
    tm_jw_key(&w, "a");
    tm_jw_int(&w, -12);
    tm_jw_key(&w, "b");
    tm_jw_arr(&w);
    tm_jw_bool(&w, true);
    tm_jw_null(&w);
    tm_jw_cstr(&w, "x\"y\\z\n\t\x01");
    tm_jw_float(&w, 0.1f);
    tm_jw_float(&w, -2.5f);
    tm_jw_double(&w, 0.1);
    tm_jw_arr_end(&w);
    tm_jw_key(&w, "c");
    tm_jw_obj(&w);
    tm_jw_obj_end(&w);
    tm_jw_key(&w, "d");
    tm_jw_int64(&w, INT64_MIN, true);
    tm_jw_key(&w, "e");
    tm_jw_int64(&w, INT64_MAX, false);
    tm_jw_key(&w, "f");
    tm_jw_uint(&w, UINT64_MAX);
    tm_jw_key(&w, "g");
    tm_jw_raw(&w, "{\"r\":[1]}", 9);
    tm_jw_key(&w, "h");
    tm_jw_arr(&w);
    tm_jw_arr_end(&w);
    tm_jw_obj_end(&w);
    assert_out(&w, "{\"a\":-12,\"b\":[true,null,\"x\\\"y\\\\z\\n\\t\\u0001\",0.1,-2.5,0.1],"
                   "\"c\":{},\"d\":\"-9223372036854775808\",\"e\":9223372036854775807,"
                   "\"f\":18446744073709551615,\"g\":{\"r\":[1]},\"h\":[]}");
    /* and it is valid JSON (as reals: "f" is beyond jansson's int64) */
    json_t *j = json_loadb((const char *)w.out.data, w.out.len, JSON_DECODE_INT_AS_REAL, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "b"), 2)),
                        "x\"y\\z\n\t\x01");
    json_decref(j);
    tm_jw_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_float_exact_texts),
        cmocka_unit_test(test_float_roundtrips),
        cmocka_unit_test(test_float_shortest),
        cmocka_unit_test(test_non_finite),
        cmocka_unit_test(test_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
