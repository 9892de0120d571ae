/* Fuzz target for filter expressions (segment/expr.h): the input is filter
 * text, parsed against a fixed schema that has every field type and the
 * dynamic field, with fixed exprParams for templates. A plan that parses is
 * evaluated over a fixed 70-row batch (nulls, limits of every width, NaN and
 * infinities, multi-byte UTF-8, JSON of every kind, a malformed array) and
 * checked for what expr.h promises: every row window agrees with the
 * whole-batch evaluation, bits past n are zero, a batch without the columns
 * evaluates. Any crash, sanitizer report, leak or abort() here is a bug.
 *
 * Built twice: into fuzz_expr (libFuzzer, Clang only) and, with replay.c,
 * into fuzz_expr_replay, which ctest runs over corpus/expr.
 */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "expr.h"
#include "tm_err.h"
#include "tm_mp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NROWS 70

enum {
    F_ID = 100,
    F_B,
    F_I8,
    F_I16,
    F_I32,
    F_I64,
    F_F,
    F_D,
    F_S,
    F_NS,
    F_J,
    F_AI,
    F_AS,
    F_AD,
    F_FV,
    F_BV,
    F_SV,
    F_GONE,
    NFIELDS = F_GONE - F_ID + 1
};

static struct tm_field g_fields[NFIELDS] = {
    {.name = "id", .type = TM_T_INT64, .primary = true},
    {.name = "b", .type = TM_T_BOOL, .nullable = true},
    {.name = "i8", .type = TM_T_INT8},
    {.name = "i16", .type = TM_T_INT16, .nullable = true},
    {.name = "i32", .type = TM_T_INT32},
    {.name = "i64", .type = TM_T_INT64, .nullable = true},
    {.name = "f", .type = TM_T_FLOAT},
    {.name = "d", .type = TM_T_DOUBLE, .nullable = true},
    {.name = "s", .type = TM_T_VARCHAR, .max_length = 64},
    {.name = "ns", .type = TM_T_VARCHAR, .max_length = 64, .nullable = true},
    {.name = "j", .type = TM_T_JSON, .nullable = true},
    {.name = "ai", .type = TM_T_ARRAY, .elem_type = TM_T_INT64, .nullable = true},
    {.name = "as", .type = TM_T_ARRAY, .elem_type = TM_T_VARCHAR, .max_length = 8},
    {.name = "ad", .type = TM_T_ARRAY, .elem_type = TM_T_DOUBLE},
    {.name = "fv", .type = TM_T_FLOAT_VECTOR, .dim = 2},
    {.name = "bv", .type = TM_T_BINARY_VECTOR, .dim = 8},
    {.name = "sv", .type = TM_T_SPARSE_VECTOR},
    {.name = "gone", .type = TM_T_INT64, .nullable = true}, /* in the schema, not the batch */
};
static struct tm_schema g_schema = {.dynamic = true, .fields = g_fields, .nfields = NFIELDS};

static struct tm_batch g_b, g_bare; /* the rows; the same row count with no columns */
static json_t *g_params;

static const int64_t I64[] = {0,
                              1,
                              -1,
                              7,
                              -7,
                              INT64_MAX,
                              INT64_MIN,
                              INT64_MIN + 1,
                              (int64_t)1 << 62,
                              -((int64_t)1 << 62),
                              1000,
                              3,
                              127,
                              -128,
                              32767,
                              -32768,
                              2147483647,
                              -2147483647 - 1,
                              4294967296,
                              10};
#define NI64 (sizeof I64 / sizeof *I64)

static const double DBL[] = {0.0,
                             -0.0,
                             1.5,
                             NAN,
                             INFINITY,
                             -INFINITY,
                             1e30,
                             FLT_MIN,
                             0.1,
                             -2.5,
                             1e308,
                             DBL_MIN,
                             9.2233720368547758e18,
                             3.0,
                             -1.0};
#define NDBL (sizeof DBL / sizeof *DBL)

struct str {
    const char *s;
    size_t len;
};
#define STR(x)                                                                                     \
    {                                                                                              \
        x, sizeof x - 1                                                                            \
    }
static const struct str STRS[] = {
    STR(""),
    STR("a"),
    STR("abc"),
    STR("a%b"),
    STR("a_b"),
    STR("\\"),
    STR("\xc3\xa9"),
    STR("\xe2\x82\xac"
        "uro"),
    STR("\xf0\x9f\x98\x80"
        "x"),
    STR("user_1"),
    STR("AbC"),
    STR("a\0b"),
    STR("\xff\xfe"),
    STR("\xc3"),
    STR("0123456789012345678901234567890123456789012345678901234567890123")};
#define NSTRS (sizeof STRS / sizeof *STRS)

static const char *const JSON[] = {
    "{\"a\":1,\"b\":\"x\",\"arr\":[1,2,3],\"n\":null}",
    "{\"a\":2.5,\"b\":\"y\",\"arr\":[4]}",
    "[1,2]",
    "null",
    "1",
    "\"str\"",
    "{\"a\":{\"b\":{\"c\":[1,{\"d\":2}]}}}",
    "{\"a\":9223372036854775807,\"arr\":[9223372036854775807,-9223372036854775808]}",
    "{\"a\":-9223372036854775808}",
    "{\"a\":1e308,\"arr\":[1e308,-0.0]}",
    "{\"arr\":[]}",
    "{\"arr\":[1,\"x\",2.0,true,null,[1],{\"k\":1}]}",
    "{bad",
    "{\"\":1,\"0\":[5],\"a\":\"\xc3\xa9\"}",
    "{\"a\":true,\"b\":false}",
    NULL,
};
#define NJSON (sizeof JSON / sizeof *JSON)

static const char *const META[] = {
    "{\"color\":\"red\",\"size\":10,\"a\":1}",
    "{\"color\":\"green\",\"size\":3.5}",
    "{}",
    "{\"color\":null,\"k\":[1,2]}",
    "{\"size\":-7,\"a\":{\"b\":1}}",
    "{\"a\":\"x\"}",
};
#define NMETA (sizeof META / sizeof *META)

/* Appends p (len bytes) to column fid, or a null when null is set. */
static void push(int64_t fid, bool null, const void *p, size_t len)
{
    struct tm_col *c = tm_batch_col(&g_b, fid);
    if (null)
        tm_col_push_null(c);
    else
        tm_col_push(c, p, len);
}

static void push_fixed(uint32_t i)
{
    int64_t id = i, x = I64[i % NI64];
    uint8_t b = (uint8_t)(i % 3 == 0);
    int8_t i8 = (int8_t)(uint8_t)x;
    int16_t i16 = (int16_t)(uint16_t)x;
    int32_t i32 = (int32_t)(uint32_t)I64[(i * 7) % NI64];
    float f = (float)DBL[i % NDBL], fv[2] = {f, (float)i};
    double d = DBL[(i * 3) % NDBL];
    uint8_t bv = (uint8_t)i;
    push(F_ID, false, &id, 8);
    push(F_B, i % 5 == 1, &b, 1);
    push(F_I8, false, &i8, 1);
    push(F_I16, i % 6 == 2, &i16, 2);
    push(F_I32, false, &i32, 4);
    push(F_I64, i % 7 == 3, &x, 8);
    push(F_F, false, &f, 4);
    push(F_D, i % 4 == 0, &d, 8);
    push(F_FV, false, fv, 8);
    push(F_BV, false, &bv, 1);
}

static void push_mp(int64_t fid, struct tm_mpw *w)
{
    push(fid, false, w->buf.data, w->buf.len);
    tm_mpw_free(w);
    tm_mpw_init(w);
}

static void push_arrays(uint32_t i, struct tm_mpw *w)
{
    uint32_t n = i % 5;
    if (i % 9 == 4) {
        push(F_AI, true, NULL, 0);
    } else if (i == 13) { /* malformed: claims 3 elements, holds 1 */
        tm_mpw_array(w, 3), tm_mpw_int(w, 1);
        push_mp(F_AI, w);
    } else {
        tm_mpw_array(w, n);
        for (uint32_t k = 0; k < n; k++)
            tm_mpw_int(w, I64[(i + k) % NI64]);
        push_mp(F_AI, w);
    }
    tm_mpw_array(w, n);
    for (uint32_t k = 0; k < n; k++)
        tm_mpw_str(w, STRS[(i + k) % NSTRS].s, STRS[(i + k) % NSTRS].len);
    push_mp(F_AS, w);
    tm_mpw_array(w, n);
    for (uint32_t k = 0; k < n; k++)
        tm_mpw_double(w, DBL[(i + k) % NDBL]);
    push_mp(F_AD, w);
    tm_mpw_map(w, 1), tm_mpw_uint(w, i), tm_mpw_float(w, 0.5f);
    push_mp(F_SV, w);
}

static void push_row(uint32_t i, struct tm_mpw *w)
{
    const struct str *s = &STRS[i % NSTRS], *ns = &STRS[(i * 5) % NSTRS];
    const char *j = JSON[i % NJSON], *m = META[i % NMETA];
    push_fixed(i);
    push(F_S, false, s->s, s->len);
    push(F_NS, i % 3 == 2, ns->s, ns->len);
    push(F_J, !j, j, j ? strlen(j) : 0);
    push(TM_META_FIELD_ID, false, m, strlen(m));
    push_arrays(i, w);
}

static void setup(void)
{
    struct tm_schema present = g_schema;
    struct tm_mpw w;
    for (size_t k = 0; k < NFIELDS; k++)
        g_fields[k].id = F_ID + (int64_t)k;
    present.nfields = NFIELDS - 1; /* "gone" has no column */
    tm_batch_init(&g_b);
    tm_batch_init(&g_bare);
    if (tm_batch_layout_from_schema(&g_b, &present))
        abort();
    tm_mpw_init(&w);
    for (uint32_t i = 0; i < NROWS; i++)
        push_row(i, &w);
    tm_mpw_free(&w);
    g_b.nrows = g_bare.nrows = NROWS;
    for (uint32_t c = 0; c < g_b.ncols; c++)
        if (g_b.cols[c].data.err || g_b.cols[c].ends.err || g_b.cols[c].valid.err)
            abort();
    g_params = json_pack("{s:i, s:f, s:s, s:b, s:[i,i,i], s:[s,s], s:I, s:i, s:[], s:{}, "
                         "s:[[i]], s:n, s:[f,i]}",
                         "n", 3, "x", 1.5, "pat", "a%", "t", 1, "ids", 1, 2, 3, "names", "a", "abc",
                         "big", (json_int_t)INT64_MAX, "neg", -1, "empty", "obj", "nested", 1,
                         "nul", "mixed", 2.5, 7);
    if (!g_params)
        abort();
}

static bool bit(const uint64_t *bits, uint32_t k)
{
    return bits[k / 64] >> (k % 64) & 1;
}

/* Rows [from, from + n) evaluated alone must match the whole batch's bits,
 * and the bits past n must be zero. */
static void check_window(const struct tm_expr *e, const uint64_t *all, uint32_t from, uint32_t n)
{
    uint64_t bits[(NROWS + 63) / 64 + 1];
    memset(bits, 0xa5, sizeof bits);
    if (tm_expr_eval(e, &g_b, from, n, bits))
        abort();
    for (uint32_t k = 0; k < (n + 63) / 64 * 64; k++)
        if (bit(bits, k) != (k < n && bit(all, from + k)))
            abort();
}

static void check_plan(const struct tm_expr *e)
{
    static const uint32_t win[][2] = {{0, 1}, {1, 64}, {5, 60}, {63, 7}, {69, 1}, {70, 0}};
    uint64_t all[(NROWS + 63) / 64], none[(NROWS + 63) / 64];
    int64_t ids[4];
    if (tm_expr_eval(e, &g_b, 0, NROWS, all))
        abort();
    if (all[NROWS / 64] >> (NROWS % 64))
        abort();
    for (size_t w = 0; w < sizeof win / sizeof *win; w++)
        check_window(e, all, win[w][0], win[w][1]);
    if (tm_expr_eval(e, &g_bare, 0, NROWS, none)) /* every column absent: all null */
        abort();
    if (tm_expr_fields(e, ids, 4) > TM_BATCH_MAX_COLS)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    struct tm_status st = {0};
    struct tm_expr *e = NULL;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    if (!ready)
        setup(), ready = true;
    memcpy(text, data, size);
    text[size] = '\0';
    int rc = tm_expr_parse(text, g_params, &g_schema, &e, &st);
    if (rc == 0 && e)
        check_plan(e);
    else if (rc == TM_ESTATUS && (e || strncmp(st.msg, "failed to create query plan: ", 29)))
        abort();
    else if (rc && rc != TM_ESTATUS && rc != TM_ENOMEM)
        abort();
    tm_expr_free(e);
    free(text);
    return 0;
}
