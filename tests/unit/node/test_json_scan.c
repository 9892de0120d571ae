/* The strict JSON scanner (node/json_scan.h) and rows from text
 * (tm_rows_from_text), checked against jansson: every float the scanner
 * reads must have the bits jansson's double gives once cast, and every body
 * the text path converts must give the same batch, or the same error, as
 * the JSON path given jansson's parse of it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"
#include "rows.h"
#include "tm_err.h"

static bool scans(const char *text)
{
    const char *p = text, *end = text + strlen(text);
    return tm_jscan_value(&p, end, 0) && p == end;
}

static bool jansson_takes(const char *text)
{
    json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
    json_decref(j);
    return j != NULL;
}

static void test_values(void **state)
{
    (void)state;
    const char *good[] = {
        "0",     "-0",   "1.5e3", "-12.25E-2", "\"a\\\"b\\u00e9\\n\"",  "true",
        "false", "null", "[]",    "{}",        " [1, {\"a\": [null]}]", "9223372036854775807",
        "1e299"};
    const char *bad[] = {"01", "1.", ".5", "+1", "1e", "-", "\"\\u0000\"", "\"\\ud800\"",
                         "\"\xc3\xa9\"", "\"a\tb\"", "[1,]", "{\"a\"}", "{1:2}", "tru", "nul",
                         "9223372036854775808", "1e300", "[1 2]", "\"\\x\"",
                         /* deeper than TM_JSCAN_MAX_DEPTH */
                         "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                         "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        if (!scans(good[i]))
            fail_msg("not scanned: %s", good[i]);
        assert_true(jansson_takes(good[i])); /* never sure of what jansson refuses */
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(scans(bad[i]));
}

/* The float jansson gives token, cast as push_dense casts it. */
static float jansson_float(const char *token)
{
    json_t *j = json_loads(token, JSON_DECODE_ANY, NULL);
    assert_non_null(j);
    float f = (float)json_number_value(j);
    json_decref(j);
    return f;
}

static void check_float(const char *token)
{
    char text[128];
    float got;
    snprintf(text, sizeof text, "[%s]", token);
    const char *p = text;
    assert_true(tm_jscan_floats(&p, text + strlen(text), &got, 1));
    float want = jansson_float(token);
    if (memcmp(&got, &want, 4) != 0)
        fail_msg("%s: scanner %a, jansson %a", token, (double)got, (double)want);
}

static void test_floats_match_jansson(void **state)
{
    (void)state;
    const char *tokens[] = {"0",
                            "-0",
                            "-0.0",
                            "0.1",
                            "-0.7",
                            "1e-7",
                            "3.4028234e38",
                            "1.17549435e-38",
                            "1.4e-45",
                            "1e-50",
                            "123456789012345678",
                            "9007199254740993",
                            "1e22",
                            "1e23",
                            "0.30000000000000004",
                            "1.00000000000000000001",
                            "2.2250738585072011e-308",
                            "0.000000000000000000000000000001",
                            "1234567.8901234567"};
    for (size_t i = 0; i < sizeof tokens / sizeof *tokens; i++)
        check_float(tokens[i]);
    uint64_t seed = 42;
    for (int i = 0; i < 20000; i++) { /* what clients print: %.6f, %.9g, %.17g */
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        double d = (double)(int64_t)seed / 9.2e18 * pow(10, (int)(seed >> 59) - 16);
        char tok[64];
        snprintf(tok, sizeof tok, i % 3 == 0 ? "%.6f" : i % 3 == 1 ? "%.9g" : "%.17g", d);
        check_float(tok);
    }
}

/* Full-precision tokens (16 digits and more) are converted without strtod
 * unless a float32 rounding midpoint is near: tokens at, beside and between
 * such midpoints, and float32 values printed as doubles. */
static void test_floats_near_midpoints(void **state)
{
    (void)state;
    uint64_t seed = 7;
    for (int i = 0; i < 20000; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        float f = (float)((double)(int64_t)seed / 9.2e18 * pow(10, (int)(seed >> 59) % 12 - 6));
        double mid = ((double)f + (double)nextafterf(f, INFINITY)) / 2; /* exact */
        double near = nextafter(mid, (seed & 1) ? INFINITY : -INFINITY);
        for (int k = (int)(seed >> 40) % 40; k > 0; k--)
            near = nextafter(near, (seed & 1) ? INFINITY : -INFINITY);
        char tok[64];
        const char *fmts[] = {"%.17g", "%.19g", "%.25g"};
        snprintf(tok, sizeof tok, fmts[i % 3], mid);
        check_float(tok);
        snprintf(tok, sizeof tok, fmts[(i + 1) % 3], near);
        check_float(tok);
        snprintf(tok, sizeof tok, "%.17g", (double)f);
        check_float(tok);
    }
}

static void test_floats_refused(void **state)
{
    (void)state;
    const char *texts[] = {
        "[1, 2]", "[1, 2, 3, 4]", "[1, \"2\", 3]", "[1, null, 3]", "[1, 2, 3.5e38]", "[1,2,3",
        "{}"};
    float out[3];
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        const char *p = texts[i];
        assert_false(tm_jscan_floats(&p, texts[i] + strlen(texts[i]), out, 3));
    }
}

static void check_split(const char *body, const char *want)
{
    size_t at = 0, n = 0;
    bool ok = tm_jscan_split_data(body, strlen(body), &at, &n, NULL);
    if (!want) {
        assert_false(ok);
        return;
    }
    assert_true(ok);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(body + at, want, n);
}

static void test_split_data(void **state)
{
    (void)state;
    check_split("{\"collectionName\":\"c\",\"data\":[{\"id\":1}]}", "[{\"id\":1}]");
    check_split(" { \"data\" : [ ] , \"x\" : {\"data\": 1} } ", "[ ]");
    check_split("{\"collectionName\":\"c\"}", NULL);  /* no data */
    check_split("{\"data\":[1],\"data\":[2]}", NULL); /* twice: jansson's last */
    check_split("{\"Data\":[1]}", NULL);              /* handlers match "Data" */
    check_split("{\"data\":[1],\"DATA\":[2]}", NULL);
    check_split("{\"d\\u0061ta\":[1]}", NULL);              /* escaped names */
    check_split("{\"data\":{\"id\":1}}", NULL);             /* one row as an object */
    check_split("{\"data\":[1]} x", NULL);                  /* trailing bytes */
    check_split("{\"data\":[1],}", NULL);                   /* a trailing comma */
    check_split("[{\"data\":[1]}]", NULL);                  /* not an object */
    check_split("{\"data\":[1],\"s\":\"\xc3\xa9\"}", NULL); /* not ASCII */
}

/* The floats tm_jscan_floats reads from text, n of them. */
static void read_floats(const char *text, float *out, size_t n)
{
    const char *p = text;
    assert_true(tm_jscan_floats(&p, text + strlen(text), out, n));
}

static void test_split_records_number_arrays(void **state)
{
    (void)state;
    const char *body = "{\"x\":[9],\"data\":[{\"v\":[0.1, -2 ,3e-3],\"s\":[1,\"a\"],"
                       "\"m\":[[1,2],[]],\"big\":[1e39],\"n\":[17,0.30000001192092896]}],"
                       "\"y\":[8]}";
    struct tm_jscan_arrays m = {0};
    size_t at, n;
    assert_true(tm_jscan_split_data(body, strlen(body), &at, &n, &m));
    /* [0.1,...], [1,2], [] and [17,...]: not the string's, the outer [[..]]
     * (arrays, not numbers), 1e39 (no float32) or those outside "data" */
    assert_int_equal(m.n, 4);
    const char *end, *v = strstr(body, "[0.1");
    const float *got = tm_jscan_arrays_find(&m, v, 3, &end);
    float want[3];
    read_floats(v, want, 3);
    assert_non_null(got);
    assert_memory_equal(got, want, sizeof want);
    assert_ptr_equal(end, strstr(body, ",\"s\""));
    assert_null(tm_jscan_arrays_find(&m, strstr(body, "[1,\"a"), 2, &end));
    assert_null(tm_jscan_arrays_find(&m, strstr(body, "[1,2]"), 3, &end)); /* not 3 long */
    v = strstr(body, "[17");
    got = tm_jscan_arrays_find(&m, v, 2, &end);
    read_floats(v, want, 2);
    assert_non_null(got);
    assert_memory_equal(got, want, 2 * sizeof *want);
    assert_null(tm_jscan_arrays_find(&m, body, 1, &end)); /* behind: lookups go forward */
    tm_jscan_arrays_free(&m);
    assert_null(m.a);
}

/* ---- rows: the text path against the JSON path ---- */

static struct tm_schema g_schema;

static void add(const char *name, enum tm_dtype type, int64_t dim)
{
    struct tm_field *f = &g_schema.fields[g_schema.nfields++];
    snprintf(f->name, sizeof f->name, "%s", name);
    f->type = type;
    f->dim = dim;
    f->max_length = 16;
}

static int setup(void **state)
{
    (void)state;
    memset(&g_schema, 0, sizeof g_schema);
    g_schema.fields = calloc(TM_MAX_FIELDS, sizeof *g_schema.fields);
    add("id", TM_T_INT64, 0);
    g_schema.fields[0].primary = true;
    add("vec", TM_T_FLOAT_VECTOR, 3);
    add("v2", TM_T_FLOAT_VECTOR, 2);
    add("title", TM_T_VARCHAR, 0);
    add("meta", TM_T_JSON, 0);
    add("n", TM_T_INT32, 0);
    g_schema.fields[4].nullable = true;
    g_schema.fields[5].nullable = true;
    g_schema.dynamic = true;
    struct tm_status st;
    if (tm_schema_validate(&g_schema, &st))
        fail_msg("test schema refused: %s", st.msg);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tm_schema_free(&g_schema);
    return 0;
}

static void assert_same_batch(const struct tm_batch *a, const struct tm_batch *b)
{
    assert_int_equal(a->nrows, b->nrows);
    assert_int_equal(a->ncols, b->ncols);
    for (uint32_t c = 0; c < a->ncols; c++) {
        assert_int_equal(a->cols[c].field_id, b->cols[c].field_id);
        for (uint32_t r = 0; r < a->nrows; r++) {
            size_t na, nb;
            const uint8_t *va = tm_col_value(&a->cols[c], r, &na);
            const uint8_t *vb = tm_col_value(&b->cols[c], r, &nb);
            assert_int_equal(tm_col_is_null(&a->cols[c], r), tm_col_is_null(&b->cols[c], r));
            assert_int_equal(na, nb);
            assert_memory_equal(va, vb, na);
        }
    }
}

/* The text path's rows of data, as the proxy reads them: the body split,
 * with the arrays of numbers it read or without them. With them the rows
 * are read twice, as a worker taking a request over does. */
static int text_way(const char *data, bool arrays, struct tm_batch *out, struct tm_status *st)
{
    char *body = malloc(strlen(data) + 16);
    assert_non_null(body);
    sprintf(body, "{\"data\": %s}", data);
    struct tm_jscan_arrays m = {0}, *mp = arrays ? &m : NULL;
    size_t at, n;
    int rc = TM_EAGAIN; /* a body the split is not sure of goes the JSON path */
    if (tm_jscan_split_data(body, strlen(body), &at, &n, mp))
        rc = tm_rows_from_text(&g_schema, body + at, n, mp, out, st);
    if (rc != TM_EAGAIN && arrays) {
        struct tm_batch again;
        struct tm_status st2;
        tm_batch_init(&again);
        assert_int_equal(tm_rows_from_text(&g_schema, body + at, n, mp, &again, &st2), rc);
        if (rc == 0)
            assert_same_batch(&again, out);
        tm_batch_free(&again);
    }
    tm_jscan_arrays_free(&m);
    free(body);
    return rc;
}

/* Converts data both ways; returns the text path's rc (TM_EAGAIN: it was
 * not sure, and nothing is compared). */
static int both_ways(const char *data)
{
    struct tm_batch bt, ba, bj;
    struct tm_status st_t, st_a, st_j;
    tm_batch_init(&bt);
    tm_batch_init(&ba);
    tm_batch_init(&bj);
    tm_status_ok(&st_t);
    tm_status_ok(&st_j);
    int rt = text_way(data, false, &bt, &st_t);
    int ra = text_way(data, true, &ba, &st_a);
    json_t *j = json_loads(data, JSON_DECODE_ANY, NULL);
    assert_non_null(j);
    int rj = tm_rows_from_json(&g_schema, j, NULL, &bj, &st_j);
    json_decref(j);
    assert_int_equal(ra, rt);
    if (rt != TM_EAGAIN) {
        if (rt != rj)
            fail_msg("text path %d (%s), JSON path %d (%s)", rt, st_t.msg, rj, st_j.msg);
        assert_int_equal(st_t.code, st_j.code);
        assert_string_equal(st_t.msg, st_j.msg);
        assert_string_equal(st_a.msg, st_j.msg);
        if (rt == 0) {
            assert_same_batch(&bt, &bj);
            assert_same_batch(&ba, &bj);
        }
    }
    tm_batch_free(&bt);
    tm_batch_free(&ba);
    tm_batch_free(&bj);
    return rt;
}

static void test_rows_same_as_json(void **state)
{
    (void)state;
    /* converted, same rows */
    assert_int_equal(both_ways("[{\"id\":1,\"vec\":[0.1,-2,3e-3],\"v2\":[1,2],\"title\":\"t\","
                               "\"meta\":{\"vec\":[1]},\"n\":5,\"extra\":[1.5,2]},"
                               "{\"v2\":[0.5,0.25],\"id\":2,\"vec\":[1,2,3],\"title\":\"u\","
                               "\"meta\":null,\"n\":null}]"),
                     0);
    /* duplicate keys: the last wins, either way round */
    assert_int_equal(both_ways("[{\"id\":1,\"vec\":[1,2,3],\"vec\":[4,5,6],\"v2\":[1,2],"
                               "\"title\":\"a\",\"meta\":1},"
                               "{\"id\":2,\"vec\":\"x\",\"vec\":[4,5,6],\"v2\":[1,2],"
                               "\"title\":\"a\",\"meta\":1}]"),
                     0);
    /* errors, the same ones: wrong size, bad element, wrong type, missing,
     * a duplicate whose last value is bad, a later row's error */
    const char *errors[] = {
        "[{\"id\":1,\"vec\":[1,2],\"v2\":[1,2],\"title\":\"a\",\"meta\":1}]",
        "[{\"id\":1,\"vec\":[1,\"2\",3],\"v2\":[1,2],\"title\":\"a\",\"meta\":1}]",
        "[{\"id\":1,\"vec\":[1,2,1e39],\"v2\":[1,2],\"title\":\"a\",\"meta\":1}]",
        "[{\"id\":1,\"vec\":{},\"v2\":[1,2],\"title\":\"a\",\"meta\":1}]",
        "[{\"id\":1,\"v2\":[1,2],\"title\":\"a\",\"meta\":1}]",
        "[{\"id\":1,\"vec\":[1,2,3],\"vec\":[1],\"v2\":[1,2],\"title\":\"a\",\"meta\":1}]",
        "[{\"id\":1,\"vec\":[1,2,3],\"v2\":[1,2],\"title\":\"a\",\"meta\":1},"
        "{\"id\":\"x\",\"vec\":[1,2,3],\"v2\":[1,2],\"title\":\"a\",\"meta\":1}]",
        "[{\"id\":1,\"vec\":[1,2,3],\"v2\":[1,2],\"title\":\"far too long a title\","
        "\"meta\":1}]",
    };
    for (size_t i = 0; i < sizeof errors / sizeof *errors; i++)
        assert_int_equal(both_ways(errors[i]), TM_ESTATUS);
    /* not sure: the JSON path takes these */
    assert_int_equal(both_ways("[1]"), TM_EAGAIN);
    assert_int_equal(both_ways("[]"), TM_EAGAIN);
    assert_int_equal(both_ways("[{\"t\\u0069tle\":\"a\"}]"), TM_EAGAIN);
}

/* The rows take a vector from the split's arrays rather than read it
 * again: a value changed there shows in the row. */
static void test_rows_take_read_arrays(void **state)
{
    (void)state;
    const char *body = "{\"data\":[{\"id\":1,\"vec\":[1,2,3],\"v2\":[4,5],\"title\":\"a\","
                       "\"meta\":1}]}";
    struct tm_jscan_arrays m = {0};
    size_t at, n;
    assert_true(tm_jscan_split_data(body, strlen(body), &at, &n, &m));
    assert_int_equal(m.n, 2);
    m.vals[m.a[0].off + 1] = 42.5f;
    struct tm_batch b;
    struct tm_status st;
    tm_batch_init(&b);
    assert_int_equal(tm_rows_from_text(&g_schema, body + at, n, &m, &b, &st), 0);
    size_t len;
    const float *vec =
        (const float *)tm_col_value(tm_batch_col(&b, g_schema.fields[1].id), 0, &len);
    assert_int_equal(len, 3 * sizeof(float));
    assert_true(vec[0] == 1.0f && vec[1] == 42.5f && vec[2] == 3.0f);
    tm_batch_free(&b);
    tm_jscan_arrays_free(&m);
}

static void test_autoid_not_taken(void **state)
{
    (void)state;
    g_schema.auto_id = true;
    struct tm_batch b;
    struct tm_status st;
    tm_batch_init(&b);
    const char *data = "[{\"vec\":[1,2,3],\"v2\":[1,2],\"title\":\"a\",\"meta\":1}]";
    assert_int_equal(tm_rows_from_text(&g_schema, data, strlen(data), NULL, &b, &st), TM_EAGAIN);
    tm_batch_free(&b);
    g_schema.auto_id = false;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_floats_match_jansson),
        cmocka_unit_test(test_floats_near_midpoints),
        cmocka_unit_test(test_floats_refused),
        cmocka_unit_test(test_split_data),
        cmocka_unit_test(test_split_records_number_arrays),
        cmocka_unit_test_setup_teardown(test_rows_same_as_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rows_take_read_arrays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_autoid_not_taken, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
