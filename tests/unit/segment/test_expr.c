/* Filter expressions (segment/expr.h): the exact rows every operator and
 * function of milvus-rest-v2.md §7.2-7.4 selects on every type it applies
 * to, three-valued null semantics, templates, literal forms and keyword
 * spellings, and each refused form with its message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "expr.h"
#include "expr_int.h"
#include "tm_err.h"

#define NROWS 8

enum {
    F_ID = 100,
    F_FLAG,
    F_I8,
    F_I16,
    F_I32,
    F_F,
    F_D,
    F_S,
    F_NS,
    F_J,
    F_AI,
    F_AS,
    F_V,
};

static struct tm_field g_fields[] = {
    {.id = F_ID, .name = "id", .type = TM_T_INT64, .primary = true},
    {.id = F_FLAG, .name = "flag", .type = TM_T_BOOL},
    {.id = F_I8, .name = "i8", .type = TM_T_INT8},
    {.id = F_I16, .name = "i16", .type = TM_T_INT16},
    {.id = F_I32, .name = "i32", .type = TM_T_INT32, .nullable = true},
    {.id = F_F, .name = "f", .type = TM_T_FLOAT},
    {.id = F_D, .name = "d", .type = TM_T_DOUBLE, .nullable = true},
    {.id = F_S, .name = "s", .type = TM_T_VARCHAR, .max_length = 64},
    {.id = F_NS, .name = "ns", .type = TM_T_VARCHAR, .max_length = 64, .nullable = true},
    {.id = F_J, .name = "j", .type = TM_T_JSON, .nullable = true},
    {.id = F_AI,
     .name = "ai",
     .type = TM_T_ARRAY,
     .elem_type = TM_T_INT64,
     .nullable = true,
     .max_capacity = 8},
    {.id = F_AS,
     .name = "as",
     .type = TM_T_ARRAY,
     .elem_type = TM_T_VARCHAR,
     .max_capacity = 8,
     .max_length = 8},
    {.id = F_V, .name = "v", .type = TM_T_FLOAT_VECTOR, .dim = 2},
};

static struct tm_schema g_schema = {.dynamic = true, .fields = g_fields, .nfields = 13};
static struct tm_schema g_static = {.dynamic = false, .fields = g_fields, .nfields = 13};
static struct tm_batch g_b;

static const char *const S[NROWS] = {"apple", "banana",       "cherry", "apricot",
                                     "",      "\xc3\x81pfel", "a_b",    "a%b"};
static const char *const J[NROWS] = {
    "{\"a\":1,\"b\":\"x\",\"arr\":[1,2,3],\"n\":null}",
    "{\"a\":2.5,\"b\":\"y\",\"arr\":[4]}",
    "{\"a\":\"str\",\"arr\":[]}",
    NULL,
    "{\"a\":true}",
    "{\"a\":10,\"arr\":[1,\"x\",2.0],\"o\":{\"k\":[5,6]}}",
    "[1,2]",
    "{\"a\":-1,\"b\":\"xyz\"}",
};
static const char *const META[NROWS] = {
    "{\"color\":\"red\",\"size\":10}",
    "{\"color\":\"green\",\"size\":3}",
    "{}",
    "{\"color\":\"red\"}",
    "{\"size\":7.5}",
    "{\"color\":null}",
    "{\"color\":\"blue\",\"size\":12}",
    "{}",
};
static const int AI_N[NROWS] = {3, 0, 1, -1, 2, 4, 1, 2};
static const int64_t AI[NROWS][4] = {{1, 2, 3}, {0}, {5}, {0}, {1, 1}, {7, 8, 9, 10}, {2}, {3, 1}};
static const char *const AS[NROWS][3] = {{"a", "b"}, {"c"}, {NULL},     {"a"},
                                         {"b", "c"}, {"x"}, {"a", "c"}, {"z"}};

static void push(struct tm_col *c, const void *p, size_t len)
{
    assert_int_equal(tm_col_push(c, p, len), 0);
}

static void push_mp(struct tm_col *c, struct tm_mpw *w)
{
    push(c, w->buf.data, w->buf.len);
    tm_mpw_free(w);
    tm_mpw_init(w);
}

static void push_scalars(uint32_t i)
{
    int64_t id = i;
    uint8_t flag = i % 2 == 0;
    int8_t i8 = (int8_t)(i - 3);
    int16_t i16 = (int16_t)(i * 100);
    int32_t i32 = (int32_t)(i * 10);
    float f = i == 7 ? 0.1f : (float)i * 0.5f, v[2] = {(float)i, (float)i};
    double d = i * 1.5;
    char ns[8];
    snprintf(ns, sizeof ns, "x%u", i);
    push(tm_batch_col(&g_b, F_ID), &id, 8);
    push(tm_batch_col(&g_b, F_FLAG), &flag, 1);
    push(tm_batch_col(&g_b, F_I8), &i8, 1);
    push(tm_batch_col(&g_b, F_I16), &i16, 2);
    if (i == 1 || i == 5)
        assert_int_equal(tm_col_push_null(tm_batch_col(&g_b, F_I32)), 0);
    else
        push(tm_batch_col(&g_b, F_I32), &i32, 4);
    push(tm_batch_col(&g_b, F_F), &f, 4);
    if (i == 3)
        assert_int_equal(tm_col_push_null(tm_batch_col(&g_b, F_D)), 0);
    else
        push(tm_batch_col(&g_b, F_D), &d, 8);
    push(tm_batch_col(&g_b, F_S), S[i], strlen(S[i]));
    if (i % 2 == 0)
        assert_int_equal(tm_col_push_null(tm_batch_col(&g_b, F_NS)), 0);
    else
        push(tm_batch_col(&g_b, F_NS), ns, strlen(ns));
    push(tm_batch_col(&g_b, F_V), v, 8);
}

static void push_nested(uint32_t i, struct tm_mpw *w)
{
    if (J[i])
        push(tm_batch_col(&g_b, F_J), J[i], strlen(J[i]));
    else
        assert_int_equal(tm_col_push_null(tm_batch_col(&g_b, F_J)), 0);
    push(tm_batch_col(&g_b, TM_META_FIELD_ID), META[i], strlen(META[i]));
    if (AI_N[i] < 0) {
        assert_int_equal(tm_col_push_null(tm_batch_col(&g_b, F_AI)), 0);
    } else {
        tm_mpw_array(w, (uint32_t)AI_N[i]);
        for (int k = 0; k < AI_N[i]; k++)
            tm_mpw_int(w, AI[i][k]);
        push_mp(tm_batch_col(&g_b, F_AI), w);
    }
    uint32_t n = 0;
    while (n < 3 && AS[i][n])
        n++;
    tm_mpw_array(w, n);
    for (uint32_t k = 0; k < n; k++)
        tm_mpw_cstr(w, AS[i][k]);
    push_mp(tm_batch_col(&g_b, F_AS), w);
}

static int setup(void **state)
{
    (void)state;
    struct tm_mpw w;
    tm_batch_init(&g_b);
    for (size_t k = 0; k < g_schema.nfields; k++)
        g_fields[k].id = F_ID + (int64_t)k;
    assert_int_equal(tm_batch_layout_from_schema(&g_b, &g_schema), 0);
    tm_mpw_init(&w);
    for (uint32_t i = 0; i < NROWS; i++) {
        push_scalars(i);
        push_nested(i, &w);
    }
    tm_mpw_free(&w);
    g_b.nrows = NROWS;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tm_batch_free(&g_b);
    return 0;
}

/* ---- helpers ---- */

#define R(...) rowmask((const int[]){__VA_ARGS__, -1})
#define NONE 0u
#define ALL 0xffu

static unsigned rowmask(const int *rows)
{
    unsigned m = 0;
    for (; *rows >= 0; rows++)
        m |= 1u << *rows;
    return m;
}

static unsigned eval_with(const char *text, const json_t *params, const struct tm_schema *s)
{
    struct tm_status st = {0};
    struct tm_expr *e = NULL;
    int rc = tm_expr_parse(text, params, s, &e, &st);
    if (rc)
        fail_msg("parse of `%s` failed: %s", text, st.msg);
    uint64_t bits = ~(uint64_t)0;
    assert_int_equal(tm_expr_eval(e, &g_b, 0, NROWS, &bits), 0);
    tm_expr_free(e);
    assert_int_equal(bits >> NROWS, 0);
    return (unsigned)bits;
}

static void expect_rows(const char *text, unsigned want)
{
    unsigned got = eval_with(text, NULL, &g_schema);
    if (got != want)
        fail_msg("`%s`: rows 0x%02x, want 0x%02x", text, got, want);
}

static void expect_err_with(const char *text, const json_t *params, const struct tm_schema *s,
                            const char *part)
{
    struct tm_status st = {0};
    struct tm_expr *e = NULL;
    int rc = tm_expr_parse(text, params, s, &e, &st);
    if (rc != TM_ESTATUS)
        fail_msg("`%s` parsed (rc %d), want error containing \"%s\"", text, rc, part);
    assert_null(e);
    assert_int_equal(st.code, TM_MV_INVALID_PARAM);
    if (strncmp(st.msg, "failed to create query plan: ", 29) || !strstr(st.msg, part))
        fail_msg("`%s`: message \"%s\" lacks \"%s\"", text, st.msg, part);
}

static void expect_err(const char *text, const char *part)
{
    expect_err_with(text, NULL, &g_schema, part);
}

/* ---- tests ---- */

static void test_empty_matches_all(void **state)
{
    (void)state;
    struct tm_status st = {0};
    struct tm_expr *e = (struct tm_expr *)1;
    assert_int_equal(tm_expr_parse(" \t\n", NULL, &g_schema, &e, &st), 0);
    assert_null(e);
    assert_int_equal(tm_expr_parse("", NULL, &g_schema, &e, &st), 0);
    assert_null(e);
    uint64_t bits[2] = {0, 0};
    assert_int_equal(tm_expr_eval(NULL, &g_b, 0, 70, bits), 0);
    assert_true(bits[0] == ~(uint64_t)0 && bits[1] == 0x3f);
    assert_int_equal(tm_expr_fields(NULL, NULL, 0), 0);
}

static void test_int_compare(void **state)
{
    (void)state;
    expect_rows("id == 3", R(3));
    expect_rows("id != 3", ALL & ~R(3));
    expect_rows("id < 2", R(0, 1));
    expect_rows("id <= 2", R(0, 1, 2));
    expect_rows("id > 5", R(6, 7));
    expect_rows("id >= 5", R(5, 6, 7));
    expect_rows("2 > id", R(0, 1));
    expect_rows("5 <= id", R(5, 6, 7));
    expect_rows("i8 < 0", R(0, 1, 2));
    expect_rows("i8 == -3", R(0));
    expect_rows("i8 > 300", NONE);
    expect_rows("i8 > -300", ALL);
    expect_rows("i16 >= 500", R(5, 6, 7));
    expect_rows("i16 == 200.0", R(2));
    expect_rows("i32 > 25", R(3, 4, 6, 7));
    expect_rows("i32 != 20", R(0, 3, 4, 6, 7));
}

static void test_float_compare(void **state)
{
    (void)state;
    expect_rows("f == 0.1", R(7));
    expect_rows("f > 1", R(3, 4, 5, 6));
    expect_rows("f <= 0.5", R(0, 1, 7));
    expect_rows("f != 0", ALL & ~R(0));
    expect_rows("d >= 6", R(4, 5, 6, 7));
    expect_rows("d < 1.5", R(0));
    expect_rows("d == 3", R(2));
    expect_rows("1.5e0 == d", R(1));
}

static void test_bool_and_varchar(void **state)
{
    (void)state;
    expect_rows("flag == true", R(0, 2, 4, 6));
    expect_rows("flag != True", R(1, 3, 5, 7));
    expect_rows("flag == FALSE", R(1, 3, 5, 7));
    expect_rows("flag in [false]", R(1, 3, 5, 7));
    expect_rows("flag in [true, false]", ALL);
    expect_rows("s == \"apple\"", R(0));
    expect_rows("s == ''", R(4));
    expect_rows("s > 'b'", R(1, 2, 5));
    expect_rows("s <= 'apricot'", R(0, 3, 4, 6, 7));
    expect_rows("s != 'apple'", ALL & ~R(0));
    expect_rows("ns == 'x3'", R(3));
    expect_rows("ns != 'x3'", R(1, 5, 7));
}

static void test_like(void **state)
{
    (void)state;
    expect_rows("s like \"ap%\"", R(0, 3));
    expect_rows("s LIKE '%y'", R(2));
    expect_rows("s like '%an%'", R(1));
    expect_rows("s like 'cherry'", R(2));
    expect_rows("s like 'a_b'", R(6, 7));
    expect_rows("s like 'a\\\\_b'", R(6));
    expect_rows("s like 'a\\%b'", R(7));
    expect_rows("s like '_pfel'", R(5));
    expect_rows("s like '%'", ALL);
    expect_rows("s like ''", R(4));
    expect_rows("s like 'a%c%t'", R(3));
    expect_rows("s like '%p%e'", R(0));
    expect_rows("ns like 'x%'", R(1, 3, 5, 7));
    expect_rows("not (ns like 'x1')", R(3, 5, 7));
    expect_rows("j[\"b\"] like 'x%'", R(0, 7));
    expect_rows("color like '%e%'", R(0, 1, 3, 6));
    expect_err("id like 'a%'", "like operation on non-string or no-json field is unsupported");
    expect_err("ai like 'a%'", "can not comparisons array fields directly");
}

static void test_null_semantics(void **state)
{
    (void)state;
    expect_rows("i32 is null", R(1, 5));
    expect_rows("i32 IS NOT NULL", ALL & ~R(1, 5));
    expect_rows("not (i32 > 25)", R(0, 2));
    expect_rows("not (i32 is null)", ALL & ~R(1, 5));
    expect_rows("i32 > 25 or id == 1", R(1, 3, 4, 6, 7));
    expect_rows("not (i32 > 25 or id == 5)", R(0, 2));
    expect_rows("not (i32 > 25 and id == 1)", ALL & ~R(1));
    expect_rows("not (i32 == 0) and not (d == 0)", R(2, 4, 6, 7));
    expect_rows("d is null", R(3));
    expect_rows("ns is not null", R(1, 3, 5, 7));
    expect_rows("s is null", NONE);
    expect_rows("j is null", R(3));
    expect_rows("ai is null", R(3));
    expect_rows("as is not null", ALL);
    expect_rows("j[\"a\"] is null", R(3, 6));
    expect_rows("j['n'] is null", ALL);
    expect_rows("j['b'] is not null", R(0, 1, 7));
    expect_rows("ai[1] is null", R(1, 2, 3, 6));
    expect_err("v is null", "vector");
}

static void test_range(void **state)
{
    (void)state;
    expect_rows("1 < id <= 3", R(2, 3));
    expect_rows("1 <= id < 3", R(1, 2));
    expect_err("10 > i16 / 100 >= 2", "comparison between a boolean expression and a value");
    expect_rows("500 > i16 >= 200", R(2, 3, 4));
    expect_rows("0.5 < f < 2.5", R(2, 3, 4));
    expect_rows("-1 <= i8 <= 1", R(2, 3, 4));
    expect_rows("10 <= i32 <= 40", R(2, 3, 4));
    expect_rows("not (10 <= i32 <= 40)", R(0, 6, 7));
    expect_rows("'b' <= s < 'd'", R(1, 2));
    expect_rows("0 < j['a'] < 5", R(0, 1));
    expect_rows("0 < size <= 10", R(0, 1, 4));
    expect_rows("1 <= ai[0] < 3", R(0, 4, 6));
    expect_err("3 < id < 1", "invalid range: lowerbound is greater than upperbound");
    expect_err("1 < id < 1", "invalid range: lowerbound is greater than upperbound");
    expect_err("1 < flag < 2", "invalid range operations on boolean expr");
    expect_err("1 < s < 2", "invalid range operations");
    expect_err("1 < ai < 3", "can not comparisons array fields directly");
}

static void test_in(void **state)
{
    (void)state;
    expect_rows("id in [1, 3, 5]", R(1, 3, 5));
    expect_rows("id not in [1, 3, 5]", R(0, 2, 4, 6, 7));
    expect_rows("id IN []", NONE);
    expect_rows("id NOT IN []", ALL);
    expect_rows("i8 in [-3, 4, 100]", R(0, 7));
    expect_rows("i32 not in [0, 20]", R(3, 4, 6, 7));
    expect_rows("f in [0.1, 3]", R(6, 7));
    expect_rows("d in [1.5, 9, 100]", R(1, 6));
    expect_rows("s in ['apple', 'a_b', 'zzz']", R(0, 6));
    expect_rows("ns not in ['x1']", R(3, 5, 7));
    expect_rows("j['a'] in [1, 10, 'str']", R(0, 2, 5));
    expect_rows("j['a'] in [2.5, 1.0]", R(0, 1));
    expect_rows("j['a'] not in [1, 2]", R(1, 2, 4, 5, 7)); /* a string is simply not a member */
    expect_rows("color in ['red', 'blue']", R(0, 3, 6));
    expect_rows("ai[0] in [1, 7]", R(0, 4, 5));
    expect_err("id in [1, 'a']", "value '\"a\"' in list cannot be casted to Int64");
    expect_err("id in [1.5]", "cannot be casted to Int64");
    expect_err("id in 1", "the right-hand side of 'in' must be a list");
    expect_err("1 in [1]", "'term' can only be used on non-const expression");
    expect_err("id in [id]", "array element type must be generic value");
    expect_err("ai in [1]", "cannot be casted to Array");
}

static void test_json_paths(void **state)
{
    (void)state;
    expect_rows("j['a'] == 1", R(0));
    expect_rows("j[\"a\"] > 1", R(1, 5));
    expect_rows("j['a'] >= 1.0", R(0, 1, 5));
    expect_rows("j['a'] == 'str'", R(2));
    expect_rows("j['a'] == true", R(4));
    expect_rows("not (j['a'] == 1)", R(1, 5, 7));
    expect_rows("j['a'] != 'x'", R(2));
    expect_rows("j['arr'][1] == 2", R(0));
    expect_rows("j['arr'][2] == 2", R(5));
    expect_rows("j['arr'][0] == 1", R(0, 5));
    expect_rows("j['o']['k'][1] == 6", R(5));
    expect_rows("j[0] == 1", R(6));
    expect_rows("j == 1", NONE);
    expect_rows("$meta['color'] == 'red'", R(0, 3));
    expect_rows("color == 'red'", R(0, 3));
    expect_rows("size > 5", R(0, 4, 6));
    expect_rows("not (color == 'red')", R(1, 6));
    expect_rows("exists j['b']", R(0, 1, 7));
    expect_rows("EXISTS color", R(0, 1, 3, 6));
    expect_rows("color is null", R(2, 4, 5, 7));
    expect_rows("exists $meta['size'] and color is not null", R(0, 1, 6));
    expect_err("exists j", "exists operations are only supportted on json key");
    expect_err("exists id", "exists operations are only supportted on json field");
    expect_err("j['a'] == [1]", "comparisons between JSON and Array are not supported");
    expect_err_with("nope == 1", NULL, &g_static, "field nope not exist");
    expect_err_with("$meta['x'] == 1", NULL, &g_static, "field $meta not exist");
    expect_err("id['a'] == 1", "Int64 data type not supported accessed with []");
    expect_err("j[a] == 1", "json key must be enclosed in double quotes or single quotes");
}

static void test_arrays(void **state)
{
    (void)state;
    expect_rows("ai[0] == 1", R(0, 4));
    expect_rows("ai[1] > 1", R(0, 5));
    expect_rows("ai[3] == 10", R(5));
    expect_rows("not (ai[1] > 1)", R(4, 7));
    expect_rows("as[0] == 'a'", R(0, 3, 6));
    expect_rows("as[1] like 'c'", R(4, 6));
    expect_rows("array_contains(ai, 1)", R(0, 4, 7));
    expect_rows("ARRAY_CONTAINS(ai, 2)", R(0, 6));
    expect_rows("not array_contains(ai, 1)", R(1, 2, 5, 6));
    expect_rows("array_contains_all(ai, [1, 3])", R(0, 7));
    expect_rows("array_contains_all(ai, [])", ALL & ~R(3));
    expect_rows("array_contains_any(ai, [3, 8])", R(0, 5, 7));
    expect_rows("array_contains_any(ai, [])", NONE);
    expect_rows("json_contains(as, 'c')", R(1, 4, 6));
    expect_rows("array_contains_any(as, ['x', 'z'])", R(5, 7));
    expect_rows("json_contains(j['arr'], 1)", R(0, 5));
    expect_rows("JSON_CONTAINS(j['arr'], 'x')", R(5));
    expect_rows("json_contains_all(j['arr'], [1, 2])", R(0, 5));
    expect_rows("json_contains_any(j['arr'], [4, 'x'])", R(1, 5));
    expect_rows("json_contains(j, 2)", R(6));
    expect_rows("array_length(ai) == 0", R(1));
    expect_rows("array_length(ai) >= 2", R(0, 4, 5, 7));
    expect_rows("ARRAY_LENGTH(as) < 1", R(2));
    expect_rows("array_length(j['arr']) == 3", R(0, 5));
    expect_rows("array_length(j) == 2", R(6));
    expect_err("ai == 1", "can not comparisons array fields directly");
    expect_err("ai > 1", "can not comparisons array fields directly");
    expect_err("ai['k'] == 1", "can only access array field with integer index");
    expect_err("array_contains(ai, 'x')", "cannot cast value to Int64");
    expect_err("array_contains_all(ai, 1)", "ContainsAll operation element must be an array");
    expect_err("array_contains_any(ai, ['x'])",
               "ContainsAny operation can't compare between array element type: Int64 and VarChar");
    expect_err("array_contains(id, 1)",
               "contains operation are only supported on json or array fields now, got: id");
    expect_err("array_contains(ai, id)", "only supported explicitly specified element");
    expect_err("array_length(id) == 1", "array_length operation are only supported on json or");
}

static void test_arith(void **state)
{
    (void)state;
    expect_rows("id % 2 == 0", R(0, 2, 4, 6));
    expect_rows("id % 3 != 0", R(1, 2, 4, 5, 7));
    expect_rows("id + 1 == 3", R(2));
    expect_rows("1 + id == 3", R(2));
    expect_rows("id - 1 < 1", R(0, 1));
    expect_rows("id * 2 >= 12", R(6, 7));
    expect_rows("2 * id == 4", R(2));
    expect_rows("id / 2 == 1", R(2, 3));
    expect_rows("i8 * 100 < -150", R(0, 1));
    expect_rows("i32 / 10 == 4", R(4));
    expect_rows("not (i32 % 20 == 0)", R(3, 7));
    expect_rows("f * 2 == 3", R(3));
    expect_rows("d - 0.5 > 8", R(6, 7));
    expect_rows("j['a'] + 1 == 2", R(0));
    expect_rows("j['a'] * 2 == 5", R(1));
    expect_rows("j['a'] % 3 == 1", R(0, 5));
    expect_rows("size / 2 > 3", R(0, 4, 6));
    expect_rows("ai[0] % 2 == 1", R(0, 2, 4, 5, 7));
    expect_rows("(id + 1) > 7", R(7));
    expect_rows("id == 2 ** 2", R(4));
    expect_rows("id > 3 - 1 * 2", ALL & ~R(0, 1));
    expect_rows("id == (1 + 2) * 2", R(6));
    expect_rows("id == -(-3)", R(3));
    expect_err("id / 0 == 1", "division or modulus by zero");
    expect_err("id % 0 == 1", "division or modulus by zero");
    expect_err("id == 1 / 0", "division or modulus by zero");
    expect_err("f % 2 == 1", "modulo can only apply on integer types");
    expect_err("id + 1.5 == 2", "cannot perform arithmetic between Int64 field and Double");
    expect_err("s + 1 == 2", "cannot perform arithmetic between VarChar field and Int64");
    expect_err("2 - id == 1", "module field is not yet supported");
    expect_err("id + i8 == 2", "not supported to do arithmetic operations between multiple fields");
    expect_err("(id + 1) * 2 == 4", "complicated arithmetic operations are not supported");
    expect_err("id ** 2 == 4", "power can only apply on constants");
    expect_err("id + 1 == 2.5", "cannot cast value to Int64");
    expect_err("id + 1", "predicate is not a boolean expression");
    expect_err("ai + 1 == 2", "can not comparisons array fields directly");
}

static void test_logic_and_fields(void **state)
{
    (void)state;
    expect_rows("id > 2 and id < 5", R(3, 4));
    expect_rows("id > 2 && id < 5 AND flag == true", R(4));
    expect_rows("id < 1 or id > 6 || id == 3 OR id == 4", R(0, 3, 4, 7));
    expect_rows("id < 2 or id > 5 and flag == true", R(0, 1, 6));
    expect_rows("(id < 2 or id > 5) and flag == true", R(0, 6));
    expect_rows("not (id < 2) and NOT (id > 5)", R(2, 3, 4, 5));
    expect_rows("!(id < 7)", R(7));
    expect_rows("not not (id < 1)", R(0));
    expect_rows("i8 < i16", ALL);
    expect_err("i8 * 100 >= i16",
               "not supported to do arithmetic operations between multiple fields");
    expect_rows("i32 >= id", ALL & ~R(1, 5));
    expect_rows("f < d", R(1, 2, 4, 5, 6, 7));
    expect_rows("s != ns", R(1, 3, 5, 7));
    expect_rows("flag == flag", ALL);
    expect_rows("1 == 1", ALL);
    expect_rows("1 > 2", NONE);
    expect_err("id == s", "comparisons between Int64 and VarChar are not supported");
    expect_err("id == j", "two column comparison with JSON type is not supported");
    expect_err("id == 'a'", "comparisons between Int64 and VarChar are not supported");
    expect_err("s == 1", "comparisons between VarChar and Int64 are not supported");
    expect_err("flag == 1", "comparisons between Bool and Int64 are not supported");
    expect_err("id == 2.5", "cannot cast value to Int64, value: 2.5");
    expect_err("v == 1", "comparisons between FloatVector and Int64 are not supported");
    expect_err("flag", "predicate is not a boolean expression: flag, data type: Bool");
    expect_err("not flag", "not op can only be applied on boolean expression");
    expect_err("id > 1 and 1", "'and' can only be used between boolean expressions");
    expect_err("id > 1 or s", "'or' can only be used between boolean expressions");
    expect_err("1 == 'a'", "comparison operations cannot be applied to two incompatible operands");
    expect_err("true", "predicate is not a boolean expression");
}

static void test_literals_and_keywords(void **state)
{
    (void)state;
    expect_rows("id == 0x7", R(7));
    expect_rows("id == 0X6", R(6));
    expect_rows("id == 07", R(7));
    expect_rows("id == 010 - 3", R(5));
    expect_rows("id == 0b101", R(5));
    expect_rows("id == 0", R(0));
    expect_rows("d == 1.5e0 or d == 15e-1", R(1));
    expect_rows("d == .15E1", R(1));
    expect_rows("d == 3.", R(2));
    expect_rows("s == \"a\\u0025b\"", R(7));
    expect_rows("s == '\\u00c1pfel'", R(5));
    expect_rows("s == \"\\x61pple\"", R(0));
    expect_rows("s == 'a\\x5fb'", R(6));
    expect_rows("s in ['apple', \"cherry\",]", R(0, 2));
    expect_rows("s == r'a%b'", R(7));
    expect_rows("tRUE == 1 or id == 1", R(1)); /* tRUE is a dynamic key */
    expect_err("flag == tRUE", "two column comparison with JSON type is not supported");
    expect_rows("id in [1,2] AND id NOT IN [2] OR id == 7", R(1, 7));
    expect_rows("ns IS NULL", R(0, 2, 4, 6));
    expect_rows("s LIKE 'b%' || NOT (id > 0)", R(0, 1));
    expect_rows("\tid\n==\r1 ", R(1));
    expect_err("id == 1 aNd id == 2", "extraneous input");
    expect_err("ns Is Null", "extraneous input");
    expect_err("ns is  null", "extraneous input");
    expect_err("id == 0x", "invalid numeric literal");
    expect_err("id == 99999999999999999999", "out of range");
    expect_err("s == 'abc", "unterminated string literal");
    expect_err("id == 1 )", "extraneous input ')'");
    expect_err("(id == 1", "mismatched input '<EOF>'");
    expect_err("id == @", "token recognition error");
}

static void test_templates(void **state)
{
    (void)state;
    json_t *p = json_pack("{s:i, s:[s,s], s:f, s:s, s:b, s:[i,i], s:o, s:[]}", "n", 3, "names",
                          "apple", "cherry", "x", 1.5, "pat", "a%", "t", 1, "ids", 2, 6, "obj",
                          json_object(), "none");
    assert_non_null(p);
    assert_int_equal(eval_with("id > {n}", p, &g_schema), R(4, 5, 6, 7));
    assert_int_equal(eval_with("{n} > id", p, &g_schema), R(0, 1, 2));
    assert_int_equal(eval_with("s in {names}", p, &g_schema), R(0, 2));
    assert_int_equal(eval_with("id in {ids} and d > {x}", p, &g_schema), R(2, 6));
    assert_int_equal(eval_with("d == {x}", p, &g_schema), R(1));
    assert_int_equal(eval_with("s like {pat}", p, &g_schema), R(0, 3, 6, 7));
    assert_int_equal(eval_with("flag == {t}", p, &g_schema), R(0, 2, 4, 6));
    assert_int_equal(eval_with("{n} < id <= 5", p, &g_schema), R(4, 5));
    assert_int_equal(eval_with("array_contains_any(ai, {ids})", p, &g_schema), R(0, 6));
    assert_int_equal(eval_with("id not in {none}", p, &g_schema), ALL);
    expect_err_with("id > {missing}", p, &g_schema,
                    "the value of expression template variable name {missing} is not found");
    expect_err_with("id > {n}", NULL, &g_schema, "{n} is not found");
    expect_err_with("id > {obj}", p, &g_schema, "unsupported type");
    expect_err_with("id == {n} + {n}", p, &g_schema,
                    "placeholder was not supported between two constants with operator: +");
    expect_err_with("id == {x}", p, &g_schema, "cannot cast value to Int64");
    json_decref(p);
}

static void test_refused(void **state)
{
    (void)state;
    expect_err("id & 1 == 1", "BitAnd is not supported");
    expect_err("id | 1 == 1", "BitOr is not supported");
    expect_err("id ^ 1 == 1", "BitXor is not supported");
    expect_err("id << 1 == 2", "shift is not supported");
    expect_err("~id == 1", "BitNot is not supported");
    expect_err("-id == 1", "unexpected op: -");
    expect_err("text_match(s, 'a b', minimum_should_match=2)",
               "function text_match is not supported yet");
    expect_err("phrase_match(s, 'a b', 2)", "phrase_match is not supported yet");
    expect_err("id > 1 and random_sample(0.5)", "random_sample is not supported yet");
    expect_err("st_within(s, 'POINT(0 0)')", "st_within is not supported yet");
    expect_err("ST_DWITHIN(s, 'POINT(0 0)', 1)", "ST_DWITHIN is not supported yet");
    expect_err("empty(s)", "function empty is not supported yet");
    expect_err("id > ISO '2025-01-01T00:00:00Z'", "ISO/INTERVAL");
    expect_err("s =~ 'a.*'", "regular expression");
}

static void test_limits(void **state)
{
    (void)state;
    char *deep = malloc(2 * 1000 + 16);
    assert_non_null(deep);
    size_t n = 0;
    for (int k = 0; k < 1000; k++)
        deep[n++] = '(';
    memcpy(deep + n, "id == 1", 7), n += 7;
    for (int k = 0; k < 1000; k++)
        deep[n++] = ')';
    deep[n] = '\0';
    expect_err(deep, "nested too deeply");
    memset(deep, '!', 1000);
    memcpy(deep + 1000, "(id == 1)", 10);
    expect_err(deep, "nested too deeply");
    free(deep);
    expect_rows("((((id == 1))))", R(1));

    size_t big = EX_MAX_TEXT + 10;
    char *lng = malloc(big + 1);
    assert_non_null(lng);
    memset(lng, ' ', big);
    memcpy(lng, "id == 1", 7);
    lng[big] = '\0';
    expect_err(lng, "expression is too long");
    free(lng);

    /* a long flat or-chain is fine: and/or are lists, not deep trees */
    size_t cap = 3000 * 16;
    char *chain = malloc(cap);
    assert_non_null(chain);
    n = (size_t)snprintf(chain, cap, "id == 7");
    for (int k = 0; k < 3000; k++)
        n += (size_t)snprintf(chain + n, cap - n, " or id == %d", 100 + k);
    expect_rows(chain, R(7));
    free(chain);
}

static void test_fields_and_absent_columns(void **state)
{
    (void)state;
    struct tm_status st = {0};
    struct tm_expr *e = NULL;
    int64_t ids[8] = {0};
    assert_int_equal(tm_expr_parse("id > 1 and (color == 'x' or i32 < id) and j['a'] == 1", NULL,
                                   &g_schema, &e, &st),
                     0);
    assert_int_equal(tm_expr_fields(e, ids, 8), 4);
    assert_int_equal(ids[0], F_ID);
    assert_int_equal(ids[1], TM_META_FIELD_ID);
    assert_int_equal(ids[2], F_I32);
    assert_int_equal(ids[3], F_J);
    assert_int_equal(tm_expr_fields(e, ids, 1), 4);
    tm_expr_free(e);

    /* a batch with only the id column: everything else reads as null */
    struct tm_batch b;
    tm_batch_init(&b);
    struct tm_col *c = tm_batch_add_col(&b, F_ID, TM_T_INT64, 8, false);
    for (int64_t i = 0; i < 3; i++)
        push(c, &i, 8);
    b.nrows = 3;
    static const struct {
        const char *f;
        uint64_t want;
    } cases[] = {{"i32 is null", 7},           {"not (i32 > 1)", 0},     {"id > 0 or i32 > 1", 6},
                 {"j['a'] is null", 7},        {"color is not null", 0}, {"s like 'a%'", 0},
                 {"array_length(ai) == 0", 0}, {"not (s in ['a'])", 0}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint64_t bits = 0;
        assert_int_equal(tm_expr_parse(cases[k].f, NULL, &g_schema, &e, &st), 0);
        assert_int_equal(tm_expr_eval(e, &b, 0, 3, &bits), 0);
        if (bits != cases[k].want)
            fail_msg("absent columns, `%s`: 0x%llx", cases[k].f, (unsigned long long)bits);
        tm_expr_free(e);
    }
    tm_batch_free(&b);
}

/* Windows not aligned to 64 rows over a 300-row batch. */
static void test_windows(void **state)
{
    (void)state;
    struct tm_batch b;
    struct tm_status st = {0};
    struct tm_expr *e = NULL;
    tm_batch_init(&b);
    struct tm_col *c = tm_batch_add_col(&b, F_ID, TM_T_INT64, 8, false);
    for (int64_t i = 0; i < 300; i++)
        push(c, &i, 8);
    b.nrows = 300;
    assert_int_equal(tm_expr_parse("id % 3 == 0 or id == 131", NULL, &g_schema, &e, &st), 0);
    static const uint32_t win[][2] = {{0, 300}, {1, 64}, {63, 65}, {70, 129}, {299, 1}, {5, 0}};
    for (size_t w = 0; w < sizeof win / sizeof win[0]; w++) {
        uint64_t bits[6];
        memset(bits, 0xa5, sizeof bits);
        uint32_t from = win[w][0], n = win[w][1];
        assert_int_equal(tm_expr_eval(e, &b, from, n, bits), 0);
        for (uint32_t k = 0; k < ((n + 63) / 64) * 64; k++) {
            bool want = k < n && ((from + k) % 3 == 0 || from + k == 131);
            assert_int_equal(bits[k / 64] >> (k % 64) & 1, want);
        }
    }
    tm_expr_free(e);
    tm_batch_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_matches_all),
        cmocka_unit_test(test_int_compare),
        cmocka_unit_test(test_float_compare),
        cmocka_unit_test(test_bool_and_varchar),
        cmocka_unit_test(test_like),
        cmocka_unit_test(test_null_semantics),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_in),
        cmocka_unit_test(test_json_paths),
        cmocka_unit_test(test_arrays),
        cmocka_unit_test(test_arith),
        cmocka_unit_test(test_logic_and_fields),
        cmocka_unit_test(test_literals_and_keywords),
        cmocka_unit_test(test_templates),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_fields_and_absent_columns),
        cmocka_unit_test(test_windows),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
