/* Entity rows from JSON (node/rows.h, milvus-rest-v2.md §3.2): every scalar
 * type and its lenient forms, range and length limits, JSON and Array fields,
 * every vector type in every accepted encoding, nullable/default/missing
 * fields, the dynamic field, autoID, and primary keys for get/delete.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "rows.h"
#include "tm_err.h"

/* ---- schemas ---- */

static void schema_new(struct tm_schema *s)
{
    memset(s, 0, sizeof *s);
    s->fields = calloc(TM_MAX_FIELDS, sizeof *s->fields);
    assert_non_null(s->fields);
}

static struct tm_field *add(struct tm_schema *s, const char *name, enum tm_dtype type)
{
    struct tm_field *f = &s->fields[s->nfields++];
    snprintf(f->name, sizeof f->name, "%s", name);
    f->type = type;
    return f;
}

static void schema_done(struct tm_schema *s)
{
    struct tm_status st;
    if (tm_schema_validate(s, &st))
        fail_msg("test schema refused: %s", st.msg);
}

/* id Int64 pk, then one field of each scalar type, then v FloatVector dim 2. */
static void schema_scalars(struct tm_schema *s)
{
    schema_new(s);
    add(s, "id", TM_T_INT64)->primary = true;
    add(s, "b", TM_T_BOOL);
    add(s, "i8", TM_T_INT8);
    add(s, "i16", TM_T_INT16);
    add(s, "i32", TM_T_INT32);
    add(s, "i64", TM_T_INT64);
    add(s, "f", TM_T_FLOAT);
    add(s, "d", TM_T_DOUBLE);
    add(s, "s", TM_T_VARCHAR)->max_length = 5;
    add(s, "j", TM_T_JSON);
    add(s, "v", TM_T_FLOAT_VECTOR)->dim = 2;
    schema_done(s);
}

/* id + one field under test (name "x") + v FloatVector dim 2. */
static void schema_one(struct tm_schema *s, enum tm_dtype type, struct tm_field **x_out)
{
    schema_new(s);
    add(s, "id", TM_T_INT64)->primary = true;
    struct tm_field *x = add(s, "x", type);
    add(s, "v", TM_T_FLOAT_VECTOR)->dim = 2;
    *x_out = x;
}

/* ---- running ---- */

static int convert(const struct tm_schema *s, const char *text, const int64_t *gen,
                   struct tm_batch *out, struct tm_status *st)
{
    json_error_t err;
    json_t *data = json_loads(text, JSON_DECODE_ANY, &err);
    if (!data)
        fail_msg("bad test JSON %s: %s", text, err.text);
    tm_batch_init(out);
    tm_status_ok(st);
    int rc = tm_rows_from_json(s, data, gen, out, st);
    json_decref(data);
    return rc;
}

/* Converts text; fails the test unless it succeeds. The caller frees out. */
static void expect_ok(const struct tm_schema *s, const char *text, struct tm_batch *out, int line)
{
    struct tm_status st;
    int rc = convert(s, text, NULL, out, &st);
    if (rc)
        fail_msg("line %d: %s refused: %d %s", line, text, st.code, st.msg);
}

static void expect_err(const struct tm_schema *s, const char *text, int code, const char *sub,
                       int line)
{
    struct tm_status st;
    struct tm_batch out;
    int rc = convert(s, text, NULL, &out, &st);
    tm_batch_free(&out);
    if (rc != TM_ESTATUS)
        fail_msg("line %d: %s accepted (rc %d), want code %d", line, text, rc, code);
    if (st.code != code)
        fail_msg("line %d: %s: code %d (%s), want %d", line, text, st.code, st.msg, code);
    if (sub && !strstr(st.msg, sub))
        fail_msg("line %d: %s: message \"%s\" lacks \"%s\"", line, text, st.msg, sub);
}

#define OK(s, text, out) expect_ok((s), (text), (out), __LINE__)
#define ERR(s, text, code, sub) expect_err((s), (text), (code), (sub), __LINE__)

static const struct tm_col *col(const struct tm_batch *b, const struct tm_schema *s,
                                const char *name)
{
    const struct tm_col *c = tm_batch_col(b, tm_schema_field(s, name)->id);
    assert_non_null(c);
    return c;
}

static void value(const struct tm_batch *b, const struct tm_schema *s, const char *name,
                  uint32_t row, void *dst, size_t len)
{
    size_t n;
    const uint8_t *p = tm_col_value(col(b, s, name), row, &n);
    assert_int_equal(n, len);
    memcpy(dst, p, len);
}

static void assert_text(const struct tm_batch *b, const struct tm_schema *s, const char *name,
                        uint32_t row, const char *want)
{
    size_t n;
    const uint8_t *p = tm_col_value(col(b, s, name), row, &n);
    if (n != strlen(want) || memcmp(p, want, n) != 0)
        fail_msg("%s row %u: \"%.*s\", want \"%s\"", name, row, (int)n, (const char *)p, want);
}

/* JSON texts compared as JSON values (key order aside). */
static void assert_json_text(const struct tm_batch *b, const struct tm_schema *s, const char *name,
                             uint32_t row, const char *want)
{
    size_t n;
    const uint8_t *p = tm_col_value(col(b, s, name), row, &n);
    json_t *got = json_loadb((const char *)p, n, JSON_DECODE_ANY, NULL);
    json_t *exp = json_loads(want, JSON_DECODE_ANY, NULL);
    assert_non_null(got);
    assert_non_null(exp);
    if (!json_equal(got, exp))
        fail_msg("%s row %u: %.*s, want %s", name, row, (int)n, (const char *)p, want);
    json_decref(got);
    json_decref(exp);
}

/* ---- scalars ---- */

#define ROW_TAIL "\"j\": {}, \"v\": [1, 2]"

static void test_scalars(void **state)
{
    (void)state;
    struct tm_schema s;
    struct tm_batch out;
    schema_scalars(&s);
    OK(&s,
       "[{\"id\": 1, \"b\": true, \"i8\": -128, \"i16\": 32767, \"i32\": -5, "
       "\"i64\": 9007199254740993, \"f\": 1.5, \"d\": 0.1, \"s\": \"h\\u00e9llo\", "
       "\"j\": {\"a\": [1, 2]}, \"v\": [0.25, -1]},"
       " {\"id\": \"2\", \"b\": \"false\", \"i8\": \"127\", \"i16\": \"-32768\", \"i32\": \"7\", "
       "\"i64\": \"-9223372036854775808\", \"f\": \"2.5\", \"d\": \"1e300\", \"s\": 123, "
       "\"j\": \"{\\\"x\\\": 1}\", \"v\": [1, 2]}]",
       &out);
    assert_int_equal(out.nrows, 2);
    assert_int_equal(out.ncols, s.nfields); /* no dynamic column */
    int64_t i64;
    int32_t i32;
    int16_t i16;
    int8_t i8;
    uint8_t b;
    float f, v[2];
    double d;
    value(&out, &s, "id", 0, &i64, 8);
    assert_int_equal(i64, 1);
    value(&out, &s, "id", 1, &i64, 8);
    assert_int_equal(i64, 2);
    value(&out, &s, "b", 0, &b, 1);
    assert_int_equal(b, 1);
    value(&out, &s, "b", 1, &b, 1);
    assert_int_equal(b, 0);
    value(&out, &s, "i8", 0, &i8, 1);
    assert_int_equal(i8, -128);
    value(&out, &s, "i8", 1, &i8, 1);
    assert_int_equal(i8, 127);
    value(&out, &s, "i16", 0, &i16, 2);
    assert_int_equal(i16, 32767);
    value(&out, &s, "i16", 1, &i16, 2);
    assert_int_equal(i16, -32768);
    value(&out, &s, "i32", 0, &i32, 4);
    assert_int_equal(i32, -5);
    value(&out, &s, "i32", 1, &i32, 4);
    assert_int_equal(i32, 7);
    value(&out, &s, "i64", 0, &i64, 8);
    assert_true(i64 == 9007199254740993LL); /* not through a double */
    value(&out, &s, "i64", 1, &i64, 8);
    assert_true(i64 == INT64_MIN);
    value(&out, &s, "f", 0, &f, 4);
    assert_true(f == 1.5f);
    value(&out, &s, "f", 1, &f, 4);
    assert_true(f == 2.5f);
    value(&out, &s, "d", 0, &d, 8);
    assert_true(d == 0.1);
    value(&out, &s, "d", 1, &d, 8);
    assert_true(d == 1e300);
    assert_text(&out, &s, "s", 0, "h\xc3\xa9llo");
    assert_text(&out, &s, "s", 1, "123"); /* any scalar's text */
    assert_json_text(&out, &s, "j", 0, "{\"a\":[1,2]}");
    assert_json_text(&out, &s, "j", 1, "{\"x\":1}"); /* the string's content */
    value(&out, &s, "v", 0, v, 8);
    assert_true(v[0] == 0.25f && v[1] == -1.0f);
    tm_batch_free(&out);
    /* a single object counts as one row */
    OK(&s,
       "{\"id\": 3, \"b\": \"1\", \"i8\": 0, \"i16\": 0, \"i32\": 0, \"i64\": 0, \"f\": 0, "
       "\"d\": 0, \"s\": true, " ROW_TAIL "}",
       &out);
    assert_int_equal(out.nrows, 1);
    assert_text(&out, &s, "s", 0, "true");
    tm_batch_free(&out);
    tm_schema_free(&s);
}

static void test_bool_forms(void **state)
{
    (void)state;
    struct tm_schema s;
    struct tm_field *x;
    schema_one(&s, TM_T_BOOL, &x);
    schema_done(&s);
    static const char *yes[] = {"true",     "\"1\"",    "\"t\"",   "\"T\"",
                                "\"TRUE\"", "\"true\"", "\"True\""};
    static const char *no[] = {"false",     "\"0\"",     "\"f\"",    "\"F\"",
                               "\"FALSE\"", "\"false\"", "\"False\""};
    static const char *bad[] = {"\"yes\"", "\"\"", "1", "0", "[]", "\"tRuE\""};
    char row[128];
    struct tm_batch out;
    uint8_t b;
    for (size_t k = 0; k < 7; k++) {
        snprintf(row, sizeof row, "{\"id\": 1, \"x\": %s, \"v\": [1, 2]}", yes[k]);
        OK(&s, row, &out);
        value(&out, &s, "x", 0, &b, 1);
        assert_int_equal(b, 1);
        tm_batch_free(&out);
        snprintf(row, sizeof row, "{\"id\": 1, \"x\": %s, \"v\": [1, 2]}", no[k]);
        OK(&s, row, &out);
        value(&out, &s, "x", 0, &b, 1);
        assert_int_equal(b, 0);
        tm_batch_free(&out);
    }
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        snprintf(row, sizeof row, "{\"id\": 1, \"x\": %s, \"v\": [1, 2]}", bad[k]);
        ERR(&s, row, TM_MV_BAD_INSERT, "fail to deal the insert data");
    }
    tm_schema_free(&s);
}

static void expect_int(enum tm_dtype t, const char *json, int code)
{
    struct tm_schema s;
    struct tm_field *x;
    char row[160];
    schema_one(&s, t, &x);
    schema_done(&s);
    snprintf(row, sizeof row, "{\"id\": 1, \"x\": %s, \"v\": [1, 2]}", json);
    if (code == 0) {
        struct tm_batch out;
        OK(&s, row, &out);
        tm_batch_free(&out);
    } else {
        ERR(&s, row, code, NULL);
    }
    tm_schema_free(&s);
}

static void test_integer_ranges(void **state)
{
    (void)state;
    expect_int(TM_T_INT8, "127", 0);
    expect_int(TM_T_INT8, "-128", 0);
    expect_int(TM_T_INT8, "128", TM_MV_INVALID_PARAM);
    expect_int(TM_T_INT8, "-129", TM_MV_INVALID_PARAM);
    expect_int(TM_T_INT8, "\"200\"", TM_MV_INVALID_PARAM);
    expect_int(TM_T_INT16, "32768", TM_MV_INVALID_PARAM);
    expect_int(TM_T_INT16, "-32769", TM_MV_INVALID_PARAM);
    expect_int(TM_T_INT32, "2147483647", 0);
    expect_int(TM_T_INT32, "2147483648", TM_MV_INVALID_PARAM);
    expect_int(TM_T_INT32, "-2147483649", TM_MV_INVALID_PARAM);
    expect_int(TM_T_INT64, "9223372036854775807", 0);
    expect_int(TM_T_INT64, "\"9223372036854775808\"", TM_MV_BAD_INSERT);
    /* not integers */
    expect_int(TM_T_INT64, "1.5", TM_MV_BAD_INSERT);
    expect_int(TM_T_INT64, "1.0", TM_MV_BAD_INSERT);
    expect_int(TM_T_INT32, "\"abc\"", TM_MV_BAD_INSERT);
    expect_int(TM_T_INT32, "\"12abc\"", TM_MV_BAD_INSERT);
    expect_int(TM_T_INT32, "\"\"", TM_MV_BAD_INSERT);
    expect_int(TM_T_INT32, "true", TM_MV_BAD_INSERT);
    expect_int(TM_T_INT32, "[1]", TM_MV_BAD_INSERT);
    expect_int(TM_T_INT32, "{}", TM_MV_BAD_INSERT);
    /* the Int8 message names the field and the type */
    struct tm_schema s;
    struct tm_field *x;
    schema_one(&s, TM_T_INT8, &x);
    schema_done(&s);
    ERR(&s, "{\"id\": 1, \"x\": 300, \"v\": [1, 2]}", TM_MV_INVALID_PARAM, "out of range of Int8");
    tm_schema_free(&s);
}

static void test_reals(void **state)
{
    (void)state;
    expect_int(TM_T_FLOAT, "\"abc\"", TM_MV_BAD_INSERT);
    expect_int(TM_T_FLOAT, "true", TM_MV_BAD_INSERT);
    expect_int(TM_T_FLOAT, "1e39", TM_MV_INVALID_PARAM); /* not finite as float32 */
    expect_int(TM_T_FLOAT, "\"inf\"", TM_MV_INVALID_PARAM);
    expect_int(TM_T_DOUBLE, "\"nan\"", TM_MV_INVALID_PARAM);
    expect_int(TM_T_DOUBLE, "1e39", 0);
    expect_int(TM_T_DOUBLE, "-5", 0);
    expect_int(TM_T_DOUBLE, "\"1.5x\"", TM_MV_BAD_INSERT);
}

static void test_varchar_length_in_characters(void **state)
{
    (void)state;
    struct tm_schema s;
    struct tm_field *x;
    schema_one(&s, TM_T_VARCHAR, &x);
    x->max_length = 5;
    schema_done(&s);
    struct tm_batch out;
    /* five characters, ten bytes */
    OK(&s, "{\"id\": 1, \"x\": \"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\", \"v\": [1, 2]}", &out);
    assert_text(&out, &s, "x", 0, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
    tm_batch_free(&out);
    OK(&s, "{\"id\": 1, \"x\": \"\\ud83d\\ude00abcd\", \"v\": [1, 2]}", &out); /* emoji: 1 char */
    tm_batch_free(&out);
    OK(&s, "{\"id\": 1, \"x\": \"\", \"v\": [1, 2]}", &out);
    assert_text(&out, &s, "x", 0, "");
    tm_batch_free(&out);
    ERR(&s, "{\"id\": 1, \"x\": \"abcdef\", \"v\": [1, 2]}", TM_MV_INVALID_PARAM,
        "length of varchar field x exceeds max length");
    ERR(&s, "{\"id\": 1, \"x\": \"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\", \"v\": [1, 2]}",
        TM_MV_INVALID_PARAM, "exceeds max length");
    ERR(&s, "{\"id\": 1, \"x\": 123456, \"v\": [1, 2]}", TM_MV_INVALID_PARAM, "max length");
    ERR(&s, "{\"id\": 1, \"x\": {\"a\": 1}, \"v\": [1, 2]}", TM_MV_BAD_INSERT, NULL);
    ERR(&s, "{\"id\": 1, \"x\": [\"a\"], \"v\": [1, 2]}", TM_MV_BAD_INSERT, NULL);
    tm_schema_free(&s);
}

static void test_json_field(void **state)
{
    (void)state;
    struct tm_schema s;
    struct tm_field *x;
    schema_one(&s, TM_T_JSON, &x);
    schema_done(&s);
    struct tm_batch out;
    OK(&s,
       "[{\"id\": 1, \"x\": {\"a\": {\"b\": [1, \"two\", null]}}, \"v\": [1, 2]},"
       " {\"id\": 2, \"x\": \"{\\\"k\\\": [true]}\", \"v\": [1, 2]},"
       " {\"id\": 3, \"x\": [1, 2], \"v\": [1, 2]},"
       " {\"id\": 4, \"x\": 42, \"v\": [1, 2]},"
       " {\"id\": 5, \"x\": \"\\\"quoted\\\"\", \"v\": [1, 2]}]",
       &out);
    assert_json_text(&out, &s, "x", 0, "{\"a\":{\"b\":[1,\"two\",null]}}");
    assert_json_text(&out, &s, "x", 1, "{\"k\":[true]}");
    assert_json_text(&out, &s, "x", 2, "[1,2]");
    assert_json_text(&out, &s, "x", 3, "42");
    assert_json_text(&out, &s, "x", 4, "\"quoted\"");
    assert_text(&out, &s, "x", 1, "{\"k\":[true]}"); /* stored compact */
    tm_batch_free(&out);
    ERR(&s, "{\"id\": 1, \"x\": \"{not json\", \"v\": [1, 2]}", TM_MV_BAD_INSERT, "not valid JSON");
    ERR(&s, "{\"id\": 1, \"x\": \"plain text\", \"v\": [1, 2]}", TM_MV_BAD_INSERT, NULL);
    tm_schema_free(&s);
}

/* ---- arrays ---- */

static void array_schema(struct tm_schema *s, enum tm_dtype elem, int64_t cap)
{
    struct tm_field *x;
    schema_one(s, TM_T_ARRAY, &x);
    x->elem_type = elem;
    x->max_capacity = cap;
    x->max_length = 3;
    schema_done(s);
}

static void expect_array(enum tm_dtype elem, const char *json, int code)
{
    struct tm_schema s;
    char row[256];
    array_schema(&s, elem, 3);
    snprintf(row, sizeof row, "{\"id\": 1, \"x\": %s, \"v\": [1, 2]}", json);
    if (code == 0) {
        struct tm_batch out;
        OK(&s, row, &out);
        tm_batch_free(&out);
    } else {
        ERR(&s, row, code, NULL);
    }
    tm_schema_free(&s);
}

static void test_arrays(void **state)
{
    (void)state;
    struct tm_schema s;
    struct tm_batch out;
    array_schema(&s, TM_T_INT32, 3);
    OK(&s, "[{\"id\": 1, \"x\": [1, -2, 3], \"v\": [1, 2]}, {\"id\": 2, \"x\": [], \"v\": [1, 2]}]",
       &out);
    /* stored as a msgpack array */
    size_t n;
    const uint8_t *p = tm_col_value(col(&out, &s, "x"), 0, &n);
    struct tm_mpr r;
    uint32_t count;
    int64_t e;
    tm_mpr_init(&r, p, n);
    assert_int_equal(tm_mpr_array(&r, &count), 0);
    assert_int_equal(count, 3);
    assert_int_equal(tm_mpr_int(&r, &e), 0);
    assert_int_equal(e, 1);
    assert_int_equal(tm_mpr_int(&r, &e), 0);
    assert_int_equal(e, -2);
    assert_int_equal(tm_mpr_int(&r, &e), 0);
    assert_int_equal(tm_mpr_remaining(&r), 0);
    p = tm_col_value(col(&out, &s, "x"), 1, &n);
    tm_mpr_init(&r, p, n);
    assert_int_equal(tm_mpr_array(&r, &count), 0);
    assert_int_equal(count, 0);
    tm_batch_free(&out);
    /* capacity */
    ERR(&s, "{\"id\": 1, \"x\": [1, 2, 3, 4], \"v\": [1, 2]}", TM_MV_INVALID_PARAM,
        "exceeds max capacity");
    ERR(&s, "{\"id\": 1, \"x\": 5, \"v\": [1, 2]}", TM_MV_BAD_INSERT, "must be an array");
    tm_schema_free(&s);

    /* element types */
    expect_array(TM_T_INT64, "[9223372036854775807]", 0);
    expect_array(TM_T_INT64, "[1.5]", TM_MV_BAD_INSERT);
    expect_array(TM_T_INT64, "[\"1\"]", TM_MV_BAD_INSERT);
    expect_array(TM_T_INT32, "[\"a\"]", TM_MV_BAD_INSERT);
    expect_array(TM_T_BOOL, "[true, false]", 0);
    expect_array(TM_T_BOOL, "[1]", TM_MV_BAD_INSERT);
    expect_array(TM_T_FLOAT, "[1.5, 2]", 0);
    expect_array(TM_T_FLOAT, "[\"x\"]", TM_MV_BAD_INSERT);
    expect_array(TM_T_DOUBLE, "[1e300]", 0);
    expect_array(TM_T_VARCHAR, "[\"abc\", \"\"]", 0);
    expect_array(TM_T_VARCHAR, "[\"abcd\"]", TM_MV_BAD_INSERT); /* max_length 3 */
    expect_array(TM_T_VARCHAR, "[1]", TM_MV_BAD_INSERT);
    expect_array(TM_T_VARCHAR, "[null]", TM_MV_BAD_INSERT);

    /* VarChar elements as written */
    array_schema(&s, TM_T_VARCHAR, 3);
    OK(&s, "{\"id\": 1, \"x\": [\"ab\", \"\\u00e9\\u00e9\\u00e9\"], \"v\": [1, 2]}", &out);
    p = tm_col_value(col(&out, &s, "x"), 0, &n);
    const char *str;
    uint32_t slen;
    tm_mpr_init(&r, p, n);
    assert_int_equal(tm_mpr_array(&r, &count), 0);
    assert_int_equal(count, 2);
    assert_int_equal(tm_mpr_str(&r, &str, &slen), 0);
    assert_int_equal(slen, 2);
    assert_memory_equal(str, "ab", 2);
    tm_batch_free(&out);
    tm_schema_free(&s);
}

/* Elements of a small integer array must fit the element type, as a scalar
 * of that type must (the Int8 scalar case above is refused with 1100). */
static void test_array_int_element_range(void **state)
{
    (void)state;
    static const struct {
        enum tm_dtype elem;
        const char *json;
    } cases[] = {
        {TM_T_INT8, "[1000]"},
        {TM_T_INT8, "[-129]"},
        {TM_T_INT16, "[40000]"},
        {TM_T_INT32, "[4294967296]"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct tm_schema s;
        struct tm_status st;
        struct tm_batch out;
        char row[128];
        array_schema(&s, cases[k].elem, 3);
        snprintf(row, sizeof row, "{\"id\": 1, \"x\": %s, \"v\": [1, 2]}", cases[k].json);
        int rc = convert(&s, row, NULL, &out, &st);
        tm_batch_free(&out);
        tm_schema_free(&s);
        if (rc != TM_ESTATUS)
            fail_msg("Array of %s accepted %s", tm_dtype_name(cases[k].elem), cases[k].json);
        assert_true(st.code == TM_MV_INVALID_PARAM || st.code == TM_MV_BAD_INSERT);
    }
}

/* ---- vectors ---- */

static void vec_schema(struct tm_schema *s, enum tm_dtype type, int64_t dim)
{
    schema_new(s);
    add(s, "id", TM_T_INT64)->primary = true;
    struct tm_field *x = add(s, "x", type);
    x->dim = dim;
    add(s, "v", TM_T_FLOAT_VECTOR)->dim = 2;
    schema_done(s);
}

/* Converts one row {"id": 1, "x": <json>, "v": [1, 2]} and compares x's bytes. */
static void expect_vec_bytes(const struct tm_schema *s, const char *json, const void *want,
                             size_t len, int line)
{
    char row[512];
    struct tm_batch out;
    snprintf(row, sizeof row, "{\"id\": 1, \"x\": %s, \"v\": [1, 2]}", json);
    expect_ok(s, row, &out, line);
    size_t n;
    const uint8_t *p = tm_col_value(col(&out, s, "x"), 0, &n);
    if (n != len || memcmp(p, want, len) != 0)
        fail_msg("line %d: %s stored %zu bytes, not the expected %zu", line, json, n, len);
    tm_batch_free(&out);
}

static void expect_vec_err(const struct tm_schema *s, const char *json, const char *sub, int line)
{
    char row[512];
    snprintf(row, sizeof row, "{\"id\": 1, \"x\": %s, \"v\": [1, 2]}", json);
    expect_err(s, row, TM_MV_BAD_INSERT, sub, line);
}

#define VEC_OK(s, json, want, len) expect_vec_bytes((s), (json), (want), (len), __LINE__)
#define VEC_ERR(s, json, sub) expect_vec_err((s), (json), (sub), __LINE__)

/* The JSON string literal of base64(p, len). */
static void b64_json(const void *p, size_t len, char *out, size_t cap)
{
    struct tm_buf b;
    tm_buf_init(&b);
    assert_int_equal(tm_base64_encode(p, len, &b), 0);
    snprintf(out, cap, "\"%.*s\"", (int)b.len, (const char *)b.data);
    tm_buf_free(&b);
}

static void test_float_vector(void **state)
{
    (void)state;
    struct tm_schema s;
    vec_schema(&s, TM_T_FLOAT_VECTOR, 4);
    const float want[4] = {0.5f, -1.0f, 3.25f, 1e-7f};
    VEC_OK(&s, "[0.5, -1, 3.25, 1e-7]", want, 16);
    VEC_ERR(&s, "[1, 2, 3]", "dimension");
    VEC_ERR(&s, "[1, 2, 3, 4, 5]", "[]float32 size 5 doesn't equal to vector dimension 4");
    VEC_ERR(&s, "[]", "dimension");
    VEC_ERR(&s, "[1, 2, \"3\", 4]", NULL);
    VEC_ERR(&s, "[1, 2, 1e39, 4]", NULL);              /* not finite as float32 */
    VEC_ERR(&s, "\"AAAAAAAAAAAAAAAAAAAAAA==\"", NULL); /* no base64 for FloatVector */
    VEC_ERR(&s, "{}", NULL);
    tm_schema_free(&s);
}

static void test_half_vectors(void **state)
{
    (void)state;
    struct tm_schema s;
    char b64[64];
    /* Float16: 1, -2, 0.5, 65504 (the largest half), little-endian */
    vec_schema(&s, TM_T_FLOAT16_VECTOR, 4);
    const uint16_t h[4] = {0x3c00, 0xc000, 0x3800, 0x7bff};
    VEC_OK(&s, "[1, -2, 0.5, 65504]", h, 8);
    const uint16_t tiny[4] = {0x0001, 0x0000, 0x0400, 0x3555}; /* 2^-24, 0, 2^-14, ~1/3 */
    VEC_OK(&s, "[5.960464477539063e-8, 0, 6.103515625e-5, 0.333333333]", tiny, 8);
    b64_json(h, 8, b64, sizeof b64);
    VEC_OK(&s, b64, h, 8); /* base64 of dim*2 bytes */
    b64_json(h, 6, b64, sizeof b64);
    VEC_ERR(&s, b64, NULL); /* 6 bytes, not 8 */
    VEC_ERR(&s, "\"!!!!\"", NULL);
    VEC_ERR(&s, "[1, 2]", "dimension");
    tm_schema_free(&s);

    /* BFloat16: 1, -2, 0.5, 3, rounding to nearest even */
    vec_schema(&s, TM_T_BFLOAT16_VECTOR, 4);
    const uint16_t bf[4] = {0x3f80, 0xc000, 0x3f00, 0x4040};
    VEC_OK(&s, "[1, -2, 0.5, 3]", bf, 8);
    /* 1.00390625 is halfway between 0x3f80 and 0x3f81: even wins; 1.01171875 -> 0x3f82 */
    const uint16_t bf_round[4] = {0x3f80, 0x3f82, 0x3f80, 0x3f80};
    VEC_OK(&s, "[1.00390625, 1.01171875, 1, 1]", bf_round, 8);
    b64_json(bf, 8, b64, sizeof b64);
    VEC_OK(&s, b64, bf, 8);
    VEC_ERR(&s, "\"AAAA\"", NULL);
    tm_schema_free(&s);
}

static void test_binary_and_int8_vectors(void **state)
{
    (void)state;
    struct tm_schema s;
    char b64[64];
    vec_schema(&s, TM_T_BINARY_VECTOR, 16);
    const uint8_t bits[2] = {0xff, 0x01};
    VEC_OK(&s, "[255, 1]", bits, 2);
    b64_json(bits, 2, b64, sizeof b64);
    assert_string_equal(b64, "\"/wE=\"");
    VEC_OK(&s, b64, bits, 2);
    VEC_ERR(&s, "[256, 1]", NULL);
    VEC_ERR(&s, "[-1, 1]", NULL);
    VEC_ERR(&s, "[1.5, 1]", NULL);
    VEC_ERR(&s, "[1]", "dimension");
    VEC_ERR(&s, "\"/w==\"", NULL); /* one byte */
    tm_schema_free(&s);

    vec_schema(&s, TM_T_INT8_VECTOR, 4);
    const int8_t i8[4] = {-128, 127, 0, 5};
    VEC_OK(&s, "[-128, 127, 0, 5]", i8, 4);
    VEC_ERR(&s, "[128, 0, 0, 0]", NULL);
    VEC_ERR(&s, "[-129, 0, 0, 0]", NULL);
    VEC_ERR(&s, "[0.5, 0, 0, 0]", NULL);
    VEC_ERR(&s, "[0, 0, 0]", "dimension");
    tm_schema_free(&s);
}

struct pair {
    uint32_t idx;
    float val;
};

static void test_sparse_vectors(void **state)
{
    (void)state;
    struct tm_schema s;
    vec_schema(&s, TM_T_SPARSE_VECTOR, 0);
    /* stored as (uint32 index, float value) pairs sorted by index */
    const struct pair want[3] = {{1, 0.25f}, {3, 0.5f}, {4294967294u, -1.0f}};
    VEC_OK(&s, "{\"3\": 0.5, \"1\": 0.25, \"4294967294\": -1}", want, sizeof want);
    VEC_OK(&s, "{\"indices\": [3, 4294967294, 1], \"values\": [0.5, -1, 0.25]}", want, sizeof want);
    const struct pair one[1] = {{7, 2.0f}};
    VEC_OK(&s, "{\"7\": 2}", one, sizeof one);
    VEC_ERR(&s, "{\"a\": 1}", NULL);
    VEC_ERR(&s, "{\"4294967295\": 1}", NULL); /* index must be < 2^32 - 1 */
    VEC_ERR(&s, "{\"-1\": 1}", NULL);
    VEC_ERR(&s, "{\"1x\": 1}", NULL);
    VEC_ERR(&s, "{\"1\": \"x\"}", NULL);
    VEC_ERR(&s, "{\"1\": 1e39}", NULL);                             /* not finite as float32 */
    VEC_ERR(&s, "{\"indices\": [1, 1], \"values\": [1, 2]}", NULL); /* duplicate index */
    VEC_ERR(&s, "{\"indices\": [1, 2], \"values\": [1]}", NULL);
    VEC_ERR(&s, "{\"indices\": [1.5], \"values\": [1]}", NULL);
    VEC_ERR(&s, "{\"indices\": [-1], \"values\": [1]}", NULL);
    VEC_ERR(&s, "[1, 2]", NULL);
    tm_schema_free(&s);
}

/* ---- nullable, default, missing ---- */

static void test_nullable_default_missing(void **state)
{
    (void)state;
    struct tm_schema s;
    schema_new(&s);
    add(&s, "id", TM_T_INT64)->primary = true;
    add(&s, "n", TM_T_INT32)->nullable = true;
    add(&s, "dflt", TM_T_INT32)->default_value = (struct tm_value){.kind = TM_V_INT, .i = 5};
    struct tm_field *f = add(&s, "nd", TM_T_INT32);
    f->nullable = true;
    f->default_value = (struct tm_value){.kind = TM_V_INT, .i = 7};
    f = add(&s, "t", TM_T_VARCHAR);
    f->nullable = true;
    f->max_length = 10;
    f = add(&s, "ts", TM_T_VARCHAR);
    f->max_length = 10;
    f->default_value.kind = TM_V_STR;
    f->default_value.s = strdup("none");
    add(&s, "v", TM_T_FLOAT_VECTOR)->dim = 2;
    schema_done(&s);

    struct tm_batch out;
    OK(&s,
       "[{\"id\": 1, \"v\": [1, 2]},"
       " {\"id\": 2, \"v\": [1, 2], \"n\": null, \"dflt\": null, \"nd\": null, \"t\": null, "
       "\"ts\": null},"
       " {\"id\": 3, \"v\": [1, 2], \"n\": 4, \"dflt\": 6, \"nd\": 8, \"t\": \"x\", \"ts\": "
       "\"y\"}]",
       &out);
    int32_t x;
    for (uint32_t r = 0; r < 2; r++) { /* omitted and null behave the same */
        assert_true(tm_col_is_null(col(&out, &s, "n"), r));
        assert_false(tm_col_is_null(col(&out, &s, "dflt"), r));
        value(&out, &s, "dflt", r, &x, 4);
        assert_int_equal(x, 5);
        /* nullable with a default: the default, not null */
        assert_false(tm_col_is_null(col(&out, &s, "nd"), r));
        value(&out, &s, "nd", r, &x, 4);
        assert_int_equal(x, 7);
        assert_true(tm_col_is_null(col(&out, &s, "t"), r));
        assert_text(&out, &s, "ts", r, "none");
    }
    assert_false(tm_col_is_null(col(&out, &s, "n"), 2));
    value(&out, &s, "n", 2, &x, 4);
    assert_int_equal(x, 4);
    value(&out, &s, "dflt", 2, &x, 4);
    assert_int_equal(x, 6);
    value(&out, &s, "nd", 2, &x, 4);
    assert_int_equal(x, 8);
    assert_text(&out, &s, "t", 2, "x");
    assert_text(&out, &s, "ts", 2, "y");
    tm_batch_free(&out);

    /* a vector may be neither omitted nor null */
    ERR(&s, "{\"id\": 1}", TM_MV_BAD_INSERT, "missing vector field: v");
    ERR(&s, "{\"id\": 1, \"v\": null}", TM_MV_BAD_INSERT, "missing vector field: v");
    /* nor the (non-autoID) primary key */
    ERR(&s, "{\"v\": [1, 2]}", TM_MV_BAD_INSERT, NULL);
    tm_schema_free(&s);

    /* a plain field may be neither omitted nor null */
    struct tm_field *r;
    schema_one(&s, TM_T_INT32, &r);
    schema_done(&s);
    ERR(&s, "{\"id\": 1, \"v\": [1, 2]}", TM_MV_BAD_INSERT,
        "neither nullable nor has a default value");
    ERR(&s, "{\"id\": 1, \"x\": null, \"v\": [1, 2]}", TM_MV_BAD_INSERT, "x");
    /* the second row is the bad one: the whole request fails */
    ERR(&s, "[{\"id\": 1, \"x\": 1, \"v\": [1, 2]}, {\"id\": 2, \"v\": [1, 2]}]", TM_MV_BAD_INSERT,
        "row 1");
    tm_schema_free(&s);
}

/* ---- dynamic field, autoID, request shape ---- */

static void test_dynamic_field(void **state)
{
    (void)state;
    struct tm_schema s;
    schema_new(&s);
    s.dynamic = true;
    add(&s, "id", TM_T_INT64)->primary = true;
    add(&s, "v", TM_T_FLOAT_VECTOR)->dim = 2;
    schema_done(&s);
    struct tm_batch out;
    OK(&s,
       "[{\"id\": 1, \"v\": [1, 2], \"color\": \"red\", \"n\": 3, \"x\": 1.5, \"gone\": null, "
       "\"obj\": {\"a\": [1, null]}},"
       " {\"id\": 2, \"v\": [1, 2]}]",
       &out);
    assert_int_equal(out.ncols, 3); /* id, v, $meta */
    const struct tm_col *meta = tm_batch_col(&out, TM_META_FIELD_ID);
    assert_non_null(meta);
    assert_int_equal(meta->type, TM_T_JSON);
    size_t n;
    const uint8_t *p = tm_col_value(meta, 0, &n);
    json_t *got = json_loadb((const char *)p, n, 0, NULL);
    json_t *want = json_loads(
        "{\"color\": \"red\", \"n\": 3, \"x\": 1.5, \"obj\": {\"a\": [1, null]}}", 0, NULL);
    assert_non_null(got);
    if (!json_equal(got, want))
        fail_msg("$meta is %.*s", (int)n, (const char *)p);
    assert_null(json_object_get(got, "gone")); /* null dynamic keys are dropped */
    assert_true(json_is_integer(json_object_get(got, "n")));
    assert_true(json_is_real(json_object_get(got, "x")));
    json_decref(got);
    json_decref(want);
    p = tm_col_value(meta, 1, &n);
    assert_int_equal(n, 2);
    assert_memory_equal(p, "{}", 2);
    tm_batch_free(&out);
    ERR(&s, "{\"id\": 1, \"v\": [1, 2], \"$meta\": {\"a\": 1}}", TM_MV_BAD_INSERT, "$meta");
    tm_schema_free(&s);

    /* without a dynamic field, an unknown key is refused */
    schema_new(&s);
    add(&s, "id", TM_T_INT64)->primary = true;
    add(&s, "v", TM_T_FLOAT_VECTOR)->dim = 2;
    schema_done(&s);
    ERR(&s, "{\"id\": 1, \"v\": [1, 2], \"color\": \"red\"}", TM_MV_BAD_INSERT, "dynamic schema");
    ERR(&s, "{\"id\": 1, \"v\": [1, 2], \"$meta\": {}}", TM_MV_BAD_INSERT, "dynamic schema");
    OK(&s, "{\"id\": 1, \"v\": [1, 2]}", &out);
    assert_int_equal(out.ncols, 2);
    assert_null(tm_batch_col(&out, TM_META_FIELD_ID));
    tm_batch_free(&out);
    tm_schema_free(&s);
}

static void test_auto_id(void **state)
{
    (void)state;
    struct tm_schema s;
    schema_new(&s);
    s.auto_id = true;
    add(&s, "id", TM_T_INT64)->primary = true;
    add(&s, "v", TM_T_FLOAT_VECTOR)->dim = 2;
    schema_done(&s);
    const int64_t gen[2] = {1000001, 1000002};
    struct tm_batch out;
    struct tm_status st;
    assert_int_equal(convert(&s, "[{\"v\": [1, 2]}, {\"v\": [3, 4]}]", gen, &out, &st), 0);
    assert_int_equal(out.nrows, 2);
    assert_int_equal(tm_col_int64(col(&out, &s, "id"), 0), 1000001);
    assert_int_equal(tm_col_int64(col(&out, &s, "id"), 1), 1000002);
    tm_batch_free(&out);
    assert_int_equal(convert(&s, "[{\"v\": [1, 2]}, {\"id\": 5, \"v\": [3, 4]}]", gen, &out, &st),
                     TM_ESTATUS);
    tm_batch_free(&out);
    assert_int_equal(st.code, TM_MV_BAD_INSERT);
    assert_non_null(strstr(st.msg, "no need to pass pk field(id) when autoid==true"));
    tm_schema_free(&s);
}

static void test_request_shape(void **state)
{
    (void)state;
    struct tm_schema s;
    schema_scalars(&s);
    ERR(&s, "[]", TM_MV_BAD_INSERT, "fail to deal the insert data");
    ERR(&s, "\"rows\"", TM_MV_BAD_INSERT, NULL);
    ERR(&s, "42", TM_MV_BAD_INSERT, NULL);
    ERR(&s, "[1]", TM_MV_BAD_INSERT, NULL);
    ERR(&s, "[[]]", TM_MV_BAD_INSERT, NULL);
    json_t *j = json_loads("[{}, {}, {}]", 0, NULL);
    assert_int_equal(tm_rows_count(j), 3);
    json_decref(j);
    j = json_loads("{}", 0, NULL);
    assert_int_equal(tm_rows_count(j), 1);
    json_decref(j);
    j = json_integer(3);
    assert_int_equal(tm_rows_count(j), 0);
    json_decref(j);
    tm_schema_free(&s);
}

/* ---- primary keys for get/delete ---- */

static int pks(const struct tm_field *pk, const char *text, struct tm_batch *out,
               struct tm_status *st)
{
    json_t *ids = json_loads(text, JSON_DECODE_ANY, NULL);
    assert_non_null(ids);
    tm_batch_init(out);
    tm_status_ok(st);
    int rc = tm_pks_from_json(pk, ids, out, st);
    json_decref(ids);
    return rc;
}

static void test_pks_from_json(void **state)
{
    (void)state;
    struct tm_field ipk = {.id = 100, .type = TM_T_INT64, .primary = true};
    struct tm_field spk = {.id = 100, .type = TM_T_VARCHAR, .primary = true, .max_length = 8};
    struct tm_batch out;
    struct tm_status st;
    assert_int_equal(pks(&ipk, "[1, \"2\", -3, 9223372036854775807]", &out, &st), 0);
    assert_int_equal(out.nrows, 4);
    assert_int_equal(out.ncols, 1);
    assert_int_equal(out.cols[0].field_id, 100);
    assert_int_equal(tm_col_int64(&out.cols[0], 1), 2);
    assert_int_equal(tm_col_int64(&out.cols[0], 2), -3);
    assert_true(tm_col_int64(&out.cols[0], 3) == INT64_MAX);
    tm_batch_free(&out);
    assert_int_equal(pks(&ipk, "7", &out, &st), 0); /* a single key */
    assert_int_equal(out.nrows, 1);
    assert_int_equal(tm_col_int64(&out.cols[0], 0), 7);
    tm_batch_free(&out);
    assert_int_equal(pks(&ipk, "[]", &out, &st), 0);
    assert_int_equal(out.nrows, 0);
    tm_batch_free(&out);
    static const char *bad_int[] = {
        "[1, \"abc\"]", "[1.5]", "[true]", "[null]", "[{}]", "\"x\"", "[\"9223372036854775808\"]"};
    for (size_t k = 0; k < sizeof bad_int / sizeof bad_int[0]; k++) {
        assert_int_equal(pks(&ipk, bad_int[k], &out, &st), TM_ESTATUS);
        assert_int_equal(st.code, TM_MV_BAD_PK);
        assert_non_null(strstr(st.msg, "please check the primary key"));
        tm_batch_free(&out);
    }
    assert_int_equal(pks(&spk, "[\"a\", \"\", \"\\u00e9\"]", &out, &st), 0);
    assert_int_equal(out.nrows, 3);
    size_t n;
    const uint8_t *p = tm_col_value(&out.cols[0], 2, &n);
    assert_int_equal(n, 2);
    assert_memory_equal(p, "\xc3\xa9", 2);
    tm_batch_free(&out);
    assert_int_equal(pks(&spk, "[\"a\", 1]", &out, &st), TM_ESTATUS);
    assert_int_equal(st.code, TM_MV_BAD_PK);
    tm_batch_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_bool_forms),
        cmocka_unit_test(test_integer_ranges),
        cmocka_unit_test(test_reals),
        cmocka_unit_test(test_varchar_length_in_characters),
        cmocka_unit_test(test_json_field),
        cmocka_unit_test(test_arrays),
        cmocka_unit_test(test_array_int_element_range),
        cmocka_unit_test(test_float_vector),
        cmocka_unit_test(test_half_vectors),
        cmocka_unit_test(test_binary_and_int8_vectors),
        cmocka_unit_test(test_sparse_vectors),
        cmocka_unit_test(test_nullable_default_missing),
        cmocka_unit_test(test_dynamic_field),
        cmocka_unit_test(test_auto_id),
        cmocka_unit_test(test_request_shape),
        cmocka_unit_test(test_pks_from_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
