/* Columnar row batches (segment/batch.h): building, the msgpack round trip
 * with fixed, variable-width and nullable columns, the decoder's consistency
 * checks, and tm_batch_append_rows.
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
#include "tm_err.h"

#define NROWS 5

enum {
    F_ID = 100,   /* Int64 */
    F_VEC = 101,  /* FloatVector dim 3 */
    F_STR = 102,  /* VarChar */
    F_NINT = 103, /* Int32, nullable */
    F_NSTR = 104, /* VarChar, nullable */
    F_JSON = 105, /* JSON */
    F_BOOL = 106, /* Bool */
};

static void row_str(uint32_t i, char *buf, size_t cap)
{
    /* row 2 is the empty string; the others grow with i */
    size_t n = i == 2 ? 0 : i + 1;
    for (size_t k = 0; k < n && k + 1 < cap; k++)
        buf[k] = (char)('a' + i);
    buf[n] = '\0';
}

static bool nint_null(uint32_t i)
{
    return i % 2 == 1;
}

static bool nstr_null(uint32_t i)
{
    return i % 3 == 0;
}

/* The sample batch: NROWS rows over seven columns. */
static void build_sample(struct tm_batch *b)
{
    tm_batch_init(b);
    struct tm_col *id = tm_batch_add_col(b, F_ID, TM_T_INT64, 8, false);
    struct tm_col *vec = tm_batch_add_col(b, F_VEC, TM_T_FLOAT_VECTOR, 12, false);
    struct tm_col *str = tm_batch_add_col(b, F_STR, TM_T_VARCHAR, 0, false);
    struct tm_col *nint = tm_batch_add_col(b, F_NINT, TM_T_INT32, 4, true);
    struct tm_col *nstr = tm_batch_add_col(b, F_NSTR, TM_T_VARCHAR, 0, true);
    struct tm_col *json = tm_batch_add_col(b, F_JSON, TM_T_JSON, 0, false);
    struct tm_col *flag = tm_batch_add_col(b, F_BOOL, TM_T_BOOL, 1, false);
    assert_non_null(flag);
    for (uint32_t i = 0; i < NROWS; i++) {
        int64_t v64 = 10 * (int64_t)i - 7;
        float v[3] = {(float)i, (float)i + 0.5f, -(float)i};
        char s[16], js[32];
        int32_t v32 = -(int32_t)i * 1000;
        uint8_t bl = (uint8_t)(i % 2);
        row_str(i, s, sizeof s);
        snprintf(js, sizeof js, "{\"i\":%u}", i);
        assert_int_equal(tm_col_push(id, &v64, 8), 0);
        assert_int_equal(tm_col_push(vec, v, 12), 0);
        assert_int_equal(tm_col_push(str, s, strlen(s)), 0);
        assert_int_equal(nint_null(i) ? tm_col_push_null(nint) : tm_col_push(nint, &v32, 4), 0);
        if (nstr_null(i))
            assert_int_equal(tm_col_push_null(nstr), 0);
        else
            assert_int_equal(tm_col_push(nstr, "ns", 2), 0);
        assert_int_equal(tm_col_push(json, js, strlen(js)), 0);
        assert_int_equal(tm_col_push(flag, &bl, 1), 0);
    }
    b->nrows = NROWS;
}

/* Checks that row `row` of b holds sample row `i`. */
static void check_row(const struct tm_batch *b, uint32_t row, uint32_t i)
{
    size_t len;
    const uint8_t *p;
    char s[16], js[32];
    row_str(i, s, sizeof s);
    snprintf(js, sizeof js, "{\"i\":%u}", i);

    const struct tm_col *c = tm_batch_col(b, F_ID);
    assert_non_null(c);
    assert_int_equal(tm_col_int64(c, row), 10 * (int64_t)i - 7);
    assert_false(tm_col_is_null(c, row));

    c = tm_batch_col(b, F_VEC);
    float v[3] = {(float)i, (float)i + 0.5f, -(float)i};
    p = tm_col_value(c, row, &len);
    assert_int_equal(len, 12);
    assert_memory_equal(p, v, 12);

    c = tm_batch_col(b, F_STR);
    p = tm_col_value(c, row, &len);
    assert_int_equal(len, strlen(s));
    if (len)
        assert_memory_equal(p, s, len);

    c = tm_batch_col(b, F_NINT);
    assert_int_equal(tm_col_is_null(c, row), nint_null(i));
    p = tm_col_value(c, row, &len);
    assert_int_equal(len, 4);
    int32_t v32;
    memcpy(&v32, p, 4);
    /* a null fixed-width value still occupies `width` zero bytes */
    assert_int_equal(v32, nint_null(i) ? 0 : -(int32_t)i * 1000);

    c = tm_batch_col(b, F_NSTR);
    assert_int_equal(tm_col_is_null(c, row), nstr_null(i));
    p = tm_col_value(c, row, &len);
    assert_int_equal(len, nstr_null(i) ? 0 : 2);
    if (len)
        assert_memory_equal(p, "ns", 2);

    c = tm_batch_col(b, F_JSON);
    p = tm_col_value(c, row, &len);
    assert_int_equal(len, strlen(js));
    assert_memory_equal(p, js, len);

    c = tm_batch_col(b, F_BOOL);
    p = tm_col_value(c, row, &len);
    assert_int_equal(len, 1);
    assert_int_equal(p[0], i % 2);
}

static void check_sample(const struct tm_batch *b)
{
    assert_int_equal(b->nrows, NROWS);
    assert_int_equal(b->ncols, 7);
    for (uint32_t i = 0; i < NROWS; i++)
        check_row(b, i, i);
}

static int decode_from(const uint8_t *p, size_t len, struct tm_batch *out)
{
    struct tm_mpr r;
    tm_mpr_init(&r, p, len);
    tm_batch_init(out);
    return tm_batch_decode(&r, out);
}

/* ---- building and the round trip ---- */

static void test_build_layout(void **state)
{
    (void)state;
    struct tm_batch b;
    build_sample(&b);
    check_sample(&b);
    const struct tm_col *c = tm_batch_col(&b, F_NINT);
    assert_int_equal(c->data.len, NROWS * 4);
    assert_int_equal(c->valid.len, NROWS);
    c = tm_batch_col(&b, F_STR);
    assert_int_equal(c->ends.len, NROWS * 8);
    assert_int_equal(c->valid.len, 0);
    assert_null(tm_batch_col(&b, 999));
    tm_batch_free(&b);
    assert_int_equal(b.ncols, 0);
    assert_int_equal(b.nrows, 0);
}

static void test_max_columns(void **state)
{
    (void)state;
    struct tm_batch b;
    tm_batch_init(&b);
    for (int i = 0; i < TM_BATCH_MAX_COLS; i++)
        assert_non_null(tm_batch_add_col(&b, 100 + i, TM_T_INT64, 8, false));
    assert_null(tm_batch_add_col(&b, 1000, TM_T_INT64, 8, false));
    assert_int_equal(b.ncols, TM_BATCH_MAX_COLS);
    tm_batch_free(&b);
}

static void test_roundtrip(void **state)
{
    (void)state;
    struct tm_batch b, d;
    build_sample(&b);
    struct tm_mpw w, w2;
    tm_mpw_init(&w);
    tm_batch_encode(&w, &b);
    assert_int_equal(tm_mpw_error(&w), 0);
    assert_int_equal(decode_from(w.buf.data, w.buf.len, &d), 0);
    check_sample(&d);
    for (uint32_t i = 0; i < b.ncols; i++) {
        const struct tm_col *x = &b.cols[i], *y = &d.cols[i];
        assert_int_equal(x->field_id, y->field_id);
        assert_int_equal(x->type, y->type);
        assert_int_equal(x->width, y->width);
        assert_int_equal(x->nullable, y->nullable);
        assert_int_equal(x->data.len, y->data.len);
        assert_int_equal(x->ends.len, y->ends.len);
        assert_int_equal(x->valid.len, y->valid.len);
        if (x->data.len)
            assert_memory_equal(x->data.data, y->data.data, x->data.len);
        if (x->ends.len)
            assert_memory_equal(x->ends.data, y->ends.data, x->ends.len);
        if (x->valid.len)
            assert_memory_equal(x->valid.data, y->valid.data, x->valid.len);
    }
    /* re-encoding the decoded batch gives the same bytes */
    tm_mpw_init(&w2);
    tm_batch_encode(&w2, &d);
    assert_int_equal(w2.buf.len, w.buf.len);
    assert_memory_equal(w2.buf.data, w.buf.data, w.buf.len);
    tm_mpw_free(&w2);
    tm_mpw_free(&w);
    tm_batch_free(&b);
    tm_batch_free(&d);
}

/* A view reads the same rows as a decode, from the message's own bytes, at
 * an offset no column is aligned to; it refuses appends and frees nothing. */
static void test_view(void **state)
{
    (void)state;
    struct tm_batch b, v, copy;
    build_sample(&b);
    struct tm_mpw w;
    tm_mpw_init(&w);
    tm_batch_encode(&w, &b);
    uint8_t *msg = malloc(w.buf.len + 1);
    assert_non_null(msg);
    memcpy(msg + 1, w.buf.data, w.buf.len);
    struct tm_mpr r;
    tm_mpr_init(&r, msg + 1, w.buf.len);
    tm_batch_init(&v);
    assert_int_equal(tm_batch_view(&r, &v), 0);
    check_sample(&v);
    for (uint32_t i = 0; i < v.ncols; i++) {
        const uint8_t *p = v.cols[i].data.data;
        assert_true(v.cols[i].data.len == 0 || (p > msg && p < msg + 1 + w.buf.len));
    }
    struct tm_col *str = tm_batch_col(&v, F_STR);
    assert_int_equal(tm_col_push(str, "x", 1), TM_EINVAL);
    assert_int_equal(tm_col_push_null(tm_batch_col(&v, F_NINT)), TM_EINVAL);
    check_sample(&v);
    tm_batch_init(&copy);
    assert_int_equal(tm_batch_clone_layout(&copy, &v), 0);
    assert_int_equal(tm_batch_append_rows(&copy, &v, 0, v.nrows), 0);
    tm_batch_free(&v); /* frees none of msg: ASan would see the double free */
    memset(msg, 0, w.buf.len + 1);
    free(msg);
    check_sample(&copy);
    tm_batch_free(&copy);
    tm_mpw_free(&w);
    tm_batch_free(&b);
}

static void test_roundtrip_empty(void **state)
{
    (void)state;
    struct tm_batch b, d;
    tm_batch_init(&b);
    tm_batch_add_col(&b, F_ID, TM_T_INT64, 8, false);
    tm_batch_add_col(&b, F_STR, TM_T_VARCHAR, 0, true);
    struct tm_mpw w;
    tm_mpw_init(&w);
    tm_batch_encode(&w, &b);
    assert_int_equal(decode_from(w.buf.data, w.buf.len, &d), 0);
    assert_int_equal(d.nrows, 0);
    assert_int_equal(d.ncols, 2);
    assert_int_equal(d.cols[1].type, TM_T_VARCHAR);
    assert_true(d.cols[1].nullable);
    tm_mpw_free(&w);
    tm_batch_free(&d);

    /* no columns at all */
    tm_batch_free(&b);
    tm_batch_init(&b);
    tm_mpw_init(&w);
    tm_batch_encode(&w, &b);
    assert_int_equal(decode_from(w.buf.data, w.buf.len, &d), 0);
    assert_int_equal(d.ncols, 0);
    tm_mpw_free(&w);
    tm_batch_free(&d);
}

/* Every prefix of an encoding fails cleanly and leaves dst empty (ASan's
 * leak check covers the columns decoded before the cut). */
static void test_truncated_every_length(void **state)
{
    (void)state;
    struct tm_batch b, d;
    build_sample(&b);
    struct tm_mpw w;
    tm_mpw_init(&w);
    tm_batch_encode(&w, &b);
    for (size_t len = 0; len < w.buf.len; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, w.buf.data, len);
        int rc = decode_from(copy, len, &d);
        if (rc != TM_ETRUNC && rc != TM_ECORRUPT)
            fail_msg("prefix %zu/%zu: rc %d", len, w.buf.len, rc);
        assert_int_equal(d.ncols, 0);
        assert_int_equal(d.nrows, 0);
        free(copy);
    }
    tm_mpw_free(&w);
    tm_batch_free(&b);
}

/* ---- decoder consistency checks, on hand-written encodings ---- */

struct colspec {
    int64_t fid;
    uint64_t type, width;
    bool nullable;
    const void *valid; /* NULL = nil */
    size_t vlen;
    const void *data;
    size_t dlen;
    const void *ends; /* NULL = nil */
    size_t elen;
    int items; /* 0 = the normal 7 */
};

static void put_col(struct tm_mpw *w, const struct colspec *c)
{
    int items = c->items ? c->items : 7;
    tm_mpw_array(w, (uint32_t)items);
    const int written = items < 7 ? items : 7;
    for (int k = 0; k < written; k++) {
        switch (k) {
        case 0:
            tm_mpw_int(w, c->fid);
            break;
        case 1:
            tm_mpw_uint(w, c->type);
            break;
        case 2:
            tm_mpw_uint(w, c->width);
            break;
        case 3:
            tm_mpw_bool(w, c->nullable);
            break;
        case 4:
            c->valid ? tm_mpw_bin(w, c->valid, c->vlen) : tm_mpw_nil(w);
            break;
        case 5:
            tm_mpw_bin(w, c->data ? c->data : "", c->dlen);
            break;
        default:
            c->ends ? tm_mpw_bin(w, c->ends, c->elen) : tm_mpw_nil(w);
            break;
        }
    }
    for (int k = written; k < items; k++)
        tm_mpw_nil(w);
}

static int decode_cols(uint64_t nrows, const struct colspec *cols, size_t ncols)
{
    struct tm_mpw w;
    struct tm_batch d;
    tm_mpw_init(&w);
    tm_mpw_map(&w, 2);
    tm_mpw_cstr(&w, "n"), tm_mpw_uint(&w, nrows);
    tm_mpw_cstr(&w, "c"), tm_mpw_array(&w, (uint32_t)ncols);
    for (size_t i = 0; i < ncols; i++)
        put_col(&w, &cols[i]);
    int rc = decode_from(w.buf.data, w.buf.len, &d);
    if (rc) {
        assert_int_equal(d.ncols, 0);
    } else {
        assert_int_equal(d.nrows, nrows);
        assert_int_equal(d.ncols, ncols);
    }
    tm_batch_free(&d);
    tm_mpw_free(&w);
    return rc;
}

static const uint8_t g_zeros[64];
static const uint8_t g_ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};

static struct colspec fixed_col(uint64_t width, size_t dlen)
{
    return (struct colspec){
        .fid = 100, .type = TM_T_INT64, .width = width, .data = g_zeros, .dlen = dlen};
}

static struct colspec var_col(const uint64_t *ends, size_t nends, size_t dlen)
{
    return (struct colspec){.fid = 101,
                            .type = TM_T_VARCHAR,
                            .data = "abcdefgh",
                            .dlen = dlen,
                            .ends = ends,
                            .elen = nends * 8};
}

static void test_decode_fixed_lengths(void **state)
{
    (void)state;
    struct colspec c = fixed_col(8, 16);
    assert_int_equal(decode_cols(2, &c, 1), 0);
    c = fixed_col(8, 8); /* data len != n * width */
    assert_int_equal(decode_cols(2, &c, 1), TM_ECORRUPT);
    c = fixed_col(8, 24);
    assert_int_equal(decode_cols(2, &c, 1), TM_ECORRUPT);
    c = fixed_col(8, 0);
    assert_int_equal(decode_cols(0, &c, 1), 0);
    assert_int_equal(decode_cols(1, &c, 1), TM_ECORRUPT);
    c = fixed_col((uint64_t)UINT32_MAX + 1, 0); /* width beyond uint32 */
    assert_int_equal(decode_cols(0, &c, 1), TM_ECORRUPT);
    /* a fixed-width column must not carry end offsets */
    c = fixed_col(8, 16);
    c.ends = g_zeros, c.elen = 16;
    int rc = decode_cols(2, &c, 1);
    assert_true(rc == 0 || rc == TM_ECORRUPT); /* tolerated or refused, never a crash */
}

/* A column's width must match its type: an Int64 column 4 bytes wide would
 * make tm_col_int64 (which reads 8 bytes per row) read past the data. */
static void test_decode_width_matches_type(void **state)
{
    (void)state;
    struct colspec c = fixed_col(4, 8);
    assert_int_equal(decode_cols(2, &c, 1), TM_ECORRUPT);
    c = fixed_col(1, 2);
    assert_int_equal(decode_cols(2, &c, 1), TM_ECORRUPT);
    c = (struct colspec){.fid = 100, .type = TM_T_INT32, .width = 8, .data = g_zeros, .dlen = 16};
    assert_int_equal(decode_cols(2, &c, 1), TM_ECORRUPT);
    c = (struct colspec){.fid = 100, .type = TM_T_INT32, .width = 4, .data = g_zeros, .dlen = 8};
    assert_int_equal(decode_cols(2, &c, 1), 0);
    c = (struct colspec){
        .fid = 100, .type = TM_T_FLOAT_VECTOR, .width = 12, .data = g_zeros, .dlen = 24};
    assert_int_equal(decode_cols(2, &c, 1), 0);
    /* VarChar must be variable width */
    c = (struct colspec){.fid = 101, .type = TM_T_VARCHAR, .width = 8, .data = g_zeros, .dlen = 16};
    assert_int_equal(decode_cols(2, &c, 1), TM_ECORRUPT);
    /* unknown type */
    c = (struct colspec){.fid = 100, .type = 77, .width = 8, .data = g_zeros, .dlen = 16};
    assert_int_equal(decode_cols(2, &c, 1), TM_ECORRUPT);
    c = (struct colspec){
        .fid = 100, .type = (1ULL << 32) + TM_T_INT64, .width = 8, .data = g_zeros, .dlen = 16};
    assert_int_equal(decode_cols(2, &c, 1), TM_ECORRUPT);
}

static void test_decode_variable_lengths(void **state)
{
    (void)state;
    static const uint64_t good[] = {1, 1, 5};
    static const uint64_t not_monotone[] = {3, 2, 5};
    static const uint64_t past_data[] = {1, 9, 5};
    static const uint64_t short_of_data[] = {1, 2, 3};
    struct colspec c = var_col(good, 3, 5);
    assert_int_equal(decode_cols(3, &c, 1), 0);
    c = var_col(not_monotone, 3, 5);
    assert_int_equal(decode_cols(3, &c, 1), TM_ECORRUPT);
    c = var_col(past_data, 3, 5);
    assert_int_equal(decode_cols(3, &c, 1), TM_ECORRUPT);
    c = var_col(short_of_data, 3, 5); /* last end must equal the data length */
    assert_int_equal(decode_cols(3, &c, 1), TM_ECORRUPT);
    c = var_col(good, 2, 5); /* ends len != 8 * n */
    assert_int_equal(decode_cols(3, &c, 1), TM_ECORRUPT);
    c = var_col(good, 3, 5);
    c.elen = 23;
    assert_int_equal(decode_cols(3, &c, 1), TM_ECORRUPT);
    c = var_col(NULL, 0, 5); /* variable width needs ends */
    assert_int_equal(decode_cols(3, &c, 1), TM_ECORRUPT);
    c = var_col(good, 0, 0); /* zero rows: empty ends and data */
    assert_int_equal(decode_cols(0, &c, 1), 0);
    c = var_col(good, 0, 3); /* zero rows but data */
    assert_int_equal(decode_cols(0, &c, 1), TM_ECORRUPT);
}

static void test_decode_validity(void **state)
{
    (void)state;
    struct colspec c = fixed_col(8, 16);
    c.nullable = true;
    c.valid = g_ones, c.vlen = 2;
    assert_int_equal(decode_cols(2, &c, 1), 0);
    c.vlen = 1; /* valid len != n */
    assert_int_equal(decode_cols(2, &c, 1), TM_ECORRUPT);
    c.vlen = 3;
    assert_int_equal(decode_cols(2, &c, 1), TM_ECORRUPT);
    c.valid = NULL; /* nullable without validity bytes */
    assert_int_equal(decode_cols(2, &c, 1), TM_ECORRUPT);
    c = fixed_col(8, 16); /* validity bytes on a column that is not nullable */
    c.valid = g_ones, c.vlen = 2;
    assert_int_equal(decode_cols(2, &c, 1), TM_ECORRUPT);
}

static void test_decode_structure(void **state)
{
    (void)state;
    struct colspec c = fixed_col(8, 16);
    c.items = 6;
    assert_int_equal(decode_cols(2, &c, 1), TM_ECORRUPT);
    c.items = 8;
    assert_int_equal(decode_cols(2, &c, 1), TM_ECORRUPT);
    c = fixed_col(8, 0);
    assert_int_equal(decode_cols((uint64_t)UINT32_MAX + 1, &c, 1), TM_ECORRUPT);

    /* more columns than a batch holds */
    struct colspec many[TM_BATCH_MAX_COLS + 1];
    for (int i = 0; i <= TM_BATCH_MAX_COLS; i++) {
        many[i] = fixed_col(8, 8);
        many[i].fid = 100 + i;
    }
    assert_int_equal(decode_cols(1, many, TM_BATCH_MAX_COLS), 0);
    assert_int_equal(decode_cols(1, many, TM_BATCH_MAX_COLS + 1), TM_ECORRUPT);

    struct tm_mpw w;
    struct tm_batch d;
    /* "c" before "n": the row count is unknown while the columns are checked */
    tm_mpw_init(&w);
    tm_mpw_map(&w, 2);
    tm_mpw_cstr(&w, "c"), tm_mpw_array(&w, 1);
    c = fixed_col(8, 8);
    put_col(&w, &c);
    tm_mpw_cstr(&w, "n"), tm_mpw_uint(&w, 1);
    assert_int_equal(decode_from(w.buf.data, w.buf.len, &d), TM_ECORRUPT);
    assert_int_equal(d.ncols, 0);
    tm_mpw_free(&w);

    /* a second "n" after the columns were checked against the first one
     * would leave columns shorter than nrows */
    tm_mpw_init(&w);
    tm_mpw_map(&w, 3);
    tm_mpw_cstr(&w, "n"), tm_mpw_uint(&w, 1);
    tm_mpw_cstr(&w, "c"), tm_mpw_array(&w, 1);
    put_col(&w, &c);
    tm_mpw_cstr(&w, "n"), tm_mpw_uint(&w, 1000);
    int rc = decode_from(w.buf.data, w.buf.len, &d);
    if (rc == 0) {
        /* accepted: then every column must hold nrows rows */
        assert_int_equal(d.cols[0].data.len, (size_t)d.nrows * 8);
    }
    assert_int_equal(rc, TM_ECORRUPT);
    tm_batch_free(&d);
    tm_mpw_free(&w);

    /* unknown keys are skipped */
    tm_mpw_init(&w);
    tm_mpw_map(&w, 3);
    tm_mpw_cstr(&w, "n"), tm_mpw_uint(&w, 1);
    tm_mpw_cstr(&w, "zz"), tm_mpw_array(&w, 2), tm_mpw_nil(&w), tm_mpw_cstr(&w, "x");
    tm_mpw_cstr(&w, "c"), tm_mpw_array(&w, 1);
    put_col(&w, &c);
    assert_int_equal(decode_from(w.buf.data, w.buf.len, &d), 0);
    assert_int_equal(d.nrows, 1);
    assert_int_equal(tm_col_int64(&d.cols[0], 0), 0);
    tm_batch_free(&d);
    tm_mpw_free(&w);

    /* not a map */
    static const uint8_t arr[] = {0x90};
    assert_int_equal(decode_from(arr, sizeof arr, &d), TM_ECORRUPT);
}

/* ---- tm_batch_append_rows ---- */

static void snapshot_lens(const struct tm_batch *b, size_t *lens)
{
    for (uint32_t i = 0; i < b->ncols; i++) {
        lens[3 * i] = b->cols[i].data.len;
        lens[3 * i + 1] = b->cols[i].ends.len;
        lens[3 * i + 2] = b->cols[i].valid.len;
    }
}

static void test_append_rows(void **state)
{
    (void)state;
    struct tm_batch src, dst;
    build_sample(&src);
    tm_batch_init(&dst);
    assert_int_equal(tm_batch_clone_layout(&dst, &src), 0);
    assert_int_equal(dst.ncols, src.ncols);
    assert_int_equal(dst.nrows, 0);
    assert_int_equal(dst.cols[3].nullable, true);
    assert_int_equal(dst.cols[3].data.len, 0);

    assert_int_equal(tm_batch_append_rows(&dst, &src, 1, 2), 0);
    assert_int_equal(dst.nrows, 2);
    check_row(&dst, 0, 1);
    check_row(&dst, 1, 2);
    assert_int_equal(tm_batch_append_rows(&dst, &src, 0, NROWS), 0);
    assert_int_equal(dst.nrows, 2 + NROWS);
    for (uint32_t i = 0; i < NROWS; i++)
        check_row(&dst, 2 + i, i);
    assert_int_equal(tm_batch_append_rows(&dst, &src, NROWS, 0), 0); /* empty range */
    assert_int_equal(dst.nrows, 2 + NROWS);

    /* the appended batch still encodes and decodes consistently */
    struct tm_mpw w;
    struct tm_batch d;
    tm_mpw_init(&w);
    tm_batch_encode(&w, &dst);
    assert_int_equal(decode_from(w.buf.data, w.buf.len, &d), 0);
    for (uint32_t i = 0; i < NROWS; i++)
        check_row(&d, 2 + i, i);
    tm_batch_free(&d);
    tm_mpw_free(&w);
    tm_batch_free(&dst);
    tm_batch_free(&src);
}

static void test_append_rows_out_of_range(void **state)
{
    (void)state;
    struct tm_batch src, dst;
    build_sample(&src);
    tm_batch_init(&dst);
    tm_batch_clone_layout(&dst, &src);
    assert_int_equal(tm_batch_append_rows(&dst, &src, 3, 3), TM_EINVAL);
    assert_int_equal(tm_batch_append_rows(&dst, &src, NROWS + 1, 0), TM_EINVAL);
    /* from + n must not wrap around */
    assert_int_equal(tm_batch_append_rows(&dst, &src, 1, UINT32_MAX), TM_EINVAL);
    assert_int_equal(tm_batch_append_rows(&dst, &src, UINT32_MAX, 2), TM_EINVAL);
    assert_int_equal(dst.nrows, 0);
    for (uint32_t i = 0; i < dst.ncols; i++)
        assert_int_equal(dst.cols[i].data.len, 0);
    tm_batch_free(&dst);
    tm_batch_free(&src);
}

static void test_append_rows_layout_rules(void **state)
{
    (void)state;
    struct tm_batch src, dst;
    build_sample(&src);

    /* dst has an extra nullable column src lacks: it gets nulls */
    tm_batch_init(&dst);
    tm_batch_clone_layout(&dst, &src);
    tm_batch_add_col(&dst, 200, TM_T_INT64, 8, true);
    tm_batch_add_col(&dst, 201, TM_T_JSON, 0, true);
    assert_int_equal(tm_batch_append_rows(&dst, &src, 0, 3), 0);
    assert_int_equal(dst.nrows, 3);
    for (uint32_t i = 0; i < 3; i++) {
        check_row(&dst, i, i);
        assert_true(tm_col_is_null(tm_batch_col(&dst, 200), i));
        assert_true(tm_col_is_null(tm_batch_col(&dst, 201), i));
        assert_int_equal(tm_col_int64(tm_batch_col(&dst, 200), i), 0);
    }
    tm_batch_free(&dst);

    /* src has a column dst lacks: ignored */
    tm_batch_init(&dst);
    tm_batch_add_col(&dst, F_ID, TM_T_INT64, 8, false);
    assert_int_equal(tm_batch_append_rows(&dst, &src, 2, 2), 0);
    assert_int_equal(tm_col_int64(&dst.cols[0], 1), 10 * 3 - 7);
    tm_batch_free(&dst);

    /* a non-nullable src column into a nullable dst column: all valid */
    tm_batch_init(&dst);
    tm_batch_add_col(&dst, F_ID, TM_T_INT64, 8, true);
    assert_int_equal(tm_batch_append_rows(&dst, &src, 0, 2), 0);
    assert_false(tm_col_is_null(&dst.cols[0], 0));
    assert_false(tm_col_is_null(&dst.cols[0], 1));
    assert_int_equal(dst.cols[0].valid.len, 2);
    tm_batch_free(&dst);

    /* refused appends leave dst exactly as it was: a missing non-nullable
     * column, a nullable src column into a non-nullable one, a width change.
     * Each bad column comes after good ones, which must not be appended. */
    for (int variant = 0; variant < 3; variant++) {
        tm_batch_init(&dst);
        tm_batch_clone_layout(&dst, &src);
        if (variant == 0)
            tm_batch_add_col(&dst, 300, TM_T_INT64, 8, false);
        else if (variant == 1)
            dst.cols[4].nullable = false; /* F_NSTR is nullable in src */
        else
            dst.cols[dst.ncols - 1].width = 2; /* F_BOOL is 1 byte wide in src */
        size_t before[3 * TM_BATCH_MAX_COLS];
        snapshot_lens(&dst, before);
        uint32_t nrows = dst.nrows;
        assert_int_equal(tm_batch_append_rows(&dst, &src, 1, 2), TM_EINVAL);
        assert_int_equal(dst.nrows, nrows);
        size_t after[3 * TM_BATCH_MAX_COLS];
        snapshot_lens(&dst, after);
        for (uint32_t i = 0; i < 3 * dst.ncols; i++)
            if (before[i] != after[i])
                fail_msg("variant %d: column %u changed (%zu -> %zu bytes)", variant, i / 3,
                         before[i], after[i]);
        tm_batch_free(&dst);
    }
    tm_batch_free(&src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_layout),
        cmocka_unit_test(test_max_columns),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_roundtrip_empty),
        cmocka_unit_test(test_view),
        cmocka_unit_test(test_truncated_every_length),
        cmocka_unit_test(test_decode_fixed_lengths),
        cmocka_unit_test(test_decode_width_matches_type),
        cmocka_unit_test(test_decode_variable_lengths),
        cmocka_unit_test(test_decode_validity),
        cmocka_unit_test(test_decode_structure),
        cmocka_unit_test(test_append_rows),
        cmocka_unit_test(test_append_rows_out_of_range),
        cmocka_unit_test(test_append_rows_layout_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
