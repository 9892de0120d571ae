/* tm_mpr, the bounded msgpack reader (base/tm_mp.h): every type and encoding
 * width, integer boundaries, sticky errors, hostile declared lengths, the
 * skip depth limit, str_copy limits. Values are written with tm_mpw (msgpack-c)
 * where that is the natural producer, and as raw bytes where the test needs an
 * exact encoding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "tm_err.h"
#include "tm_mp.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

static struct tm_mpr reader(const void *p, size_t n)
{
    struct tm_mpr r;
    tm_mpr_init(&r, p, n);
    return r;
}

/* ---- every type through the writer ---- */

static void test_scalars_roundtrip(void **state)
{
    (void)state;
    struct tm_mpw w;
    tm_mpw_init(&w);
    tm_mpw_nil(&w);
    tm_mpw_bool(&w, true);
    tm_mpw_bool(&w, false);
    tm_mpw_uint(&w, 7);
    tm_mpw_int(&w, -7);
    tm_mpw_float(&w, 1.5f);
    tm_mpw_double(&w, -2.25e300);
    tm_mpw_cstr(&w, "hello");
    tm_mpw_cstr(&w, NULL); /* nil */
    tm_mpw_bin(&w, "\x00\x01\x02", 3);
    tm_mpw_array(&w, 2);
    tm_mpw_uint(&w, 1), tm_mpw_uint(&w, 2);
    tm_mpw_map(&w, 1);
    tm_mpw_cstr(&w, "k"), tm_mpw_int(&w, -1);
    assert_int_equal(tm_mpw_error(&w), 0);

    struct tm_mpr r = reader(w.buf.data, w.buf.len);
    bool b = false;
    uint64_t u = 0;
    int64_t i = 0;
    double d = 0;
    const char *s = NULL;
    const uint8_t *p = NULL;
    uint32_t n = 0;

    assert_int_equal(tm_mpr_peek(&r), TM_MP_NIL);
    assert_true(tm_mpr_nil(&r));
    assert_int_equal(tm_mpr_peek(&r), TM_MP_BOOL);
    assert_false(tm_mpr_nil(&r)); /* consumes nothing */
    assert_int_equal(tm_mpr_bool(&r, &b), 0);
    assert_true(b);
    assert_int_equal(tm_mpr_bool(&r, &b), 0);
    assert_false(b);
    assert_int_equal(tm_mpr_peek(&r), TM_MP_UINT);
    assert_int_equal(tm_mpr_uint(&r, &u), 0);
    assert_int_equal(u, 7);
    assert_int_equal(tm_mpr_peek(&r), TM_MP_INT);
    assert_int_equal(tm_mpr_int(&r, &i), 0);
    assert_int_equal(i, -7);
    assert_int_equal(tm_mpr_peek(&r), TM_MP_FLOAT);
    assert_int_equal(tm_mpr_double(&r, &d), 0);
    assert_true(d == 1.5);
    assert_int_equal(tm_mpr_double(&r, &d), 0);
    assert_true(d == -2.25e300);
    assert_int_equal(tm_mpr_peek(&r), TM_MP_STR);
    assert_int_equal(tm_mpr_str(&r, &s, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(s, "hello", 5);
    assert_true(tm_mpr_nil(&r));
    assert_int_equal(tm_mpr_peek(&r), TM_MP_BIN);
    assert_int_equal(tm_mpr_bin(&r, &p, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(p, "\x00\x01\x02", 3);
    /* zero-copy: the pointer is inside the input */
    assert_true(p > w.buf.data && p + n <= w.buf.data + w.buf.len);
    assert_int_equal(tm_mpr_peek(&r), TM_MP_ARRAY);
    assert_int_equal(tm_mpr_array(&r, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(tm_mpr_uint(&r, &u), 0);
    assert_int_equal(tm_mpr_uint(&r, &u), 0);
    assert_int_equal(u, 2);
    assert_int_equal(tm_mpr_peek(&r), TM_MP_MAP);
    assert_int_equal(tm_mpr_map(&r, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(tm_mpr_str(&r, &s, &n), 0);
    assert_int_equal(tm_mpr_int(&r, &i), 0);
    assert_int_equal(i, -1);
    assert_int_equal(tm_mpr_remaining(&r), 0);
    assert_int_equal(tm_mpr_peek(&r), TM_MP_INVALID);
    assert_int_equal(r.err, 0);
    tm_mpw_free(&w);
}

/* Strings and binaries of every header width: fix, 8, 16 and 32 bit. */
static void test_str_bin_widths(void **state)
{
    (void)state;
    static const size_t lens[] = {0, 1, 31, 32, 255, 256, 65535, 65536, 70000};
    char *text = malloc(70000);
    assert_non_null(text);
    for (size_t i = 0; i < 70000; i++)
        text[i] = (char)('a' + i % 26);
    for (size_t k = 0; k < LEN(lens); k++) {
        struct tm_mpw w;
        tm_mpw_init(&w);
        tm_mpw_str(&w, text, lens[k]);
        tm_mpw_bin(&w, text, lens[k]);
        struct tm_mpr r = reader(w.buf.data, w.buf.len);
        const char *s;
        const uint8_t *p;
        uint32_t n;
        assert_int_equal(tm_mpr_str(&r, &s, &n), 0);
        assert_int_equal(n, lens[k]);
        if (n)
            assert_memory_equal(s, text, n);
        assert_int_equal(tm_mpr_bin(&r, &p, &n), 0);
        assert_int_equal(n, lens[k]);
        if (n)
            assert_memory_equal(p, text, n);
        assert_int_equal(tm_mpr_remaining(&r), 0);
        tm_mpw_free(&w);
    }
    free(text);
}

/* Arrays and maps with fix, 16 and 32 bit headers. */
static void test_container_widths(void **state)
{
    (void)state;
    static const uint32_t counts[] = {0, 15, 16, 65535, 65536};
    for (size_t k = 0; k < LEN(counts); k++) {
        struct tm_mpw w;
        tm_mpw_init(&w);
        tm_mpw_array(&w, counts[k]);
        for (uint32_t i = 0; i < counts[k]; i++)
            tm_mpw_nil(&w);
        tm_mpw_map(&w, counts[k]);
        for (uint32_t i = 0; i < counts[k]; i++)
            tm_mpw_nil(&w), tm_mpw_bool(&w, true);
        struct tm_mpr r = reader(w.buf.data, w.buf.len);
        uint32_t n = 12345;
        assert_int_equal(tm_mpr_array(&r, &n), 0);
        assert_int_equal(n, counts[k]);
        for (uint32_t i = 0; i < n; i++)
            assert_true(tm_mpr_nil(&r));
        assert_int_equal(tm_mpr_map(&r, &n), 0);
        assert_int_equal(n, counts[k]);
        for (uint32_t i = 0; i < 2 * n; i++)
            assert_int_equal(tm_mpr_skip(&r), 0);
        assert_int_equal(tm_mpr_remaining(&r), 0);
        tm_mpw_free(&w);
    }
}

/* ---- integers at every boundary, as raw bytes ---- */

struct int_case {
    uint8_t bytes[9];
    size_t len;
    int64_t value;
};

static void test_int_boundaries(void **state)
{
    (void)state;
    static const struct int_case cases[] = {
        {{0x00}, 1, 0},
        {{0x7f}, 1, 127},
        {{0xe0}, 1, -32},
        {{0xff}, 1, -1},
        {{0xd0, 0x80}, 2, INT8_MIN},
        {{0xd0, 0x7f}, 2, INT8_MAX},
        {{0xd1, 0x80, 0x00}, 3, INT16_MIN},
        {{0xd1, 0x7f, 0xff}, 3, INT16_MAX},
        {{0xd2, 0x80, 0x00, 0x00, 0x00}, 5, INT32_MIN},
        {{0xd2, 0x7f, 0xff, 0xff, 0xff}, 5, INT32_MAX},
        {{0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0}, 9, INT64_MIN},
        {{0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9, INT64_MAX},
        {{0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}, 9, -2},
        {{0xcc, 0xff}, 2, UINT8_MAX},
        {{0xcd, 0xff, 0xff}, 3, UINT16_MAX},
        {{0xce, 0xff, 0xff, 0xff, 0xff}, 5, UINT32_MAX},
        {{0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9, INT64_MAX},
    };
    for (size_t k = 0; k < LEN(cases); k++) {
        struct tm_mpr r = reader(cases[k].bytes, cases[k].len);
        int64_t v = 0;
        assert_int_equal(tm_mpr_int(&r, &v), 0);
        assert_true(v == cases[k].value);
        assert_int_equal(tm_mpr_remaining(&r), 0);

        /* The same bytes as an unsigned value: fine when not negative. */
        r = reader(cases[k].bytes, cases[k].len);
        uint64_t u = 0;
        if (cases[k].value >= 0) {
            assert_int_equal(tm_mpr_uint(&r, &u), 0);
            assert_true(u == (uint64_t)cases[k].value);
        } else {
            assert_int_equal(tm_mpr_uint(&r, &u), TM_ECORRUPT);
        }

        /* And as a double. */
        r = reader(cases[k].bytes, cases[k].len);
        double d = 0;
        assert_int_equal(tm_mpr_double(&r, &d), 0);
        assert_true(d == (double)cases[k].value);

        /* Every truncation of a multi-byte integer is TM_ETRUNC. */
        for (size_t cut = 0; cut < cases[k].len; cut++) {
            r = reader(cases[k].bytes, cut);
            assert_int_equal(tm_mpr_int(&r, &v), TM_ETRUNC);
        }
    }
}

static void test_uint64_above_int64_max(void **state)
{
    (void)state;
    static const uint8_t big[] = {0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t max[] = {0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    struct tm_mpr r = reader(big, sizeof big);
    uint64_t u = 0;
    int64_t i = 0;
    assert_int_equal(tm_mpr_uint(&r, &u), 0);
    assert_true(u == (uint64_t)INT64_MAX + 1);
    r = reader(max, sizeof max);
    assert_int_equal(tm_mpr_uint(&r, &u), 0);
    assert_true(u == UINT64_MAX);
    /* tm_mpr_int refuses what does not fit in int64 */
    r = reader(big, sizeof big);
    assert_int_equal(tm_mpr_int(&r, &i), TM_ECORRUPT);
    assert_int_equal(r.err, TM_ECORRUPT);
    r = reader(max, sizeof max);
    assert_int_equal(tm_mpr_int(&r, &i), TM_ECORRUPT);
    /* ... but skip still accepts it as a well-formed value */
    r = reader(max, sizeof max);
    assert_int_equal(tm_mpr_skip(&r), 0);
    assert_int_equal(tm_mpr_remaining(&r), 0);
    /* the writer's smallest encodings read back */
    static const int64_t vals[] = {0,
                                   1,
                                   -1,
                                   127,
                                   128,
                                   -32,
                                   -33,
                                   255,
                                   256,
                                   -128,
                                   -129,
                                   65535,
                                   65536,
                                   -32768,
                                   -32769,
                                   INT32_MAX,
                                   (int64_t)INT32_MAX + 1,
                                   INT32_MIN,
                                   (int64_t)INT32_MIN - 1,
                                   INT64_MAX,
                                   INT64_MIN};
    for (size_t k = 0; k < LEN(vals); k++) {
        struct tm_mpw w;
        tm_mpw_init(&w);
        tm_mpw_int(&w, vals[k]);
        r = reader(w.buf.data, w.buf.len);
        assert_int_equal(tm_mpr_int(&r, &i), 0);
        assert_true(i == vals[k]);
        assert_int_equal(tm_mpr_remaining(&r), 0);
        tm_mpw_free(&w);
    }
}

static void test_float_encodings(void **state)
{
    (void)state;
    static const uint8_t f32[] = {0xca, 0x3f, 0xc0, 0x00, 0x00};       /* 1.5f */
    static const uint8_t f64[] = {0xcb, 0xc0, 0x04, 0, 0, 0, 0, 0, 0}; /* -2.5 */
    double d = 0;
    struct tm_mpr r = reader(f32, sizeof f32);
    assert_int_equal(tm_mpr_double(&r, &d), 0);
    assert_true(d == 1.5);
    r = reader(f64, sizeof f64);
    assert_int_equal(tm_mpr_double(&r, &d), 0);
    assert_true(d == -2.5);
    for (size_t cut = 0; cut < sizeof f64; cut++) {
        r = reader(f64, cut);
        assert_int_equal(tm_mpr_double(&r, &d), TM_ETRUNC);
    }
    /* a float is not an integer */
    int64_t i;
    r = reader(f32, sizeof f32);
    assert_int_equal(tm_mpr_int(&r, &i), TM_ECORRUPT);
}

/* ---- type mismatches and sticky errors ---- */

static void test_wrong_types(void **state)
{
    (void)state;
    static const uint8_t str[] = {0xa1, 'x'};
    static const uint8_t bin[] = {0xc4, 0x01, 'x'};
    static const uint8_t arr[] = {0x90};
    static const uint8_t map[] = {0x80};
    static const uint8_t tru[] = {0xc3};
    static const uint8_t never[] = {0xc1}; /* never used in msgpack */
    const char *s;
    const uint8_t *p;
    uint32_t n;
    bool b;
    uint64_t u;
    int64_t i;
    double d;
    struct tm_mpr r;

    r = reader(str, sizeof str);
    assert_int_equal(tm_mpr_bin(&r, &p, &n), TM_ECORRUPT);
    r = reader(bin, sizeof bin);
    assert_int_equal(tm_mpr_str(&r, &s, &n), TM_ECORRUPT);
    r = reader(arr, sizeof arr);
    assert_int_equal(tm_mpr_map(&r, &n), TM_ECORRUPT);
    r = reader(map, sizeof map);
    assert_int_equal(tm_mpr_array(&r, &n), TM_ECORRUPT);
    r = reader(str, sizeof str);
    assert_int_equal(tm_mpr_bool(&r, &b), TM_ECORRUPT);
    r = reader(tru, sizeof tru);
    assert_int_equal(tm_mpr_uint(&r, &u), TM_ECORRUPT);
    r = reader(tru, sizeof tru);
    assert_int_equal(tm_mpr_int(&r, &i), TM_ECORRUPT);
    r = reader(str, sizeof str);
    assert_int_equal(tm_mpr_double(&r, &d), TM_ECORRUPT);
    r = reader(never, sizeof never);
    assert_int_equal(tm_mpr_peek(&r), TM_MP_INVALID);
    assert_int_equal(tm_mpr_skip(&r), TM_ECORRUPT);

    static const uint8_t ext[] = {0xd4, 0x01, 0x02}; /* fixext1 */
    r = reader(ext, sizeof ext);
    assert_int_equal(tm_mpr_peek(&r), TM_MP_EXT);
    assert_int_equal(tm_mpr_skip(&r), TM_ECORRUPT);

    /* every reader at the end of input: TM_ETRUNC */
    r = reader(str, 0);
    assert_int_equal(tm_mpr_peek(&r), TM_MP_INVALID);
    assert_false(tm_mpr_nil(&r));
    assert_int_equal(tm_mpr_skip(&r), TM_ETRUNC);
    r = reader(str, 0);
    assert_int_equal(tm_mpr_str(&r, &s, &n), TM_ETRUNC);
    r = reader(str, 0);
    assert_int_equal(tm_mpr_map(&r, &n), TM_ETRUNC);
    r = reader(str, 0);
    assert_int_equal(tm_mpr_array(&r, &n), TM_ETRUNC);
    r = reader(str, 0);
    assert_int_equal(tm_mpr_bin(&r, &p, &n), TM_ETRUNC);
}

static void test_sticky_error(void **state)
{
    (void)state;
    /* [true, 5, "ab"] read with a wrong first call */
    static const uint8_t buf[] = {0x93, 0xc3, 0x05, 0xa2, 'a', 'b'};
    struct tm_mpr r = reader(buf, sizeof buf);
    uint32_t n;
    uint64_t u;
    bool b;
    const char *s;
    assert_int_equal(tm_mpr_array(&r, &n), 0);
    assert_int_equal(tm_mpr_uint(&r, &u), TM_ECORRUPT); /* it is a bool */
    size_t left = tm_mpr_remaining(&r);
    /* every later call fails with the first error and consumes nothing */
    assert_int_equal(tm_mpr_bool(&r, &b), TM_ECORRUPT);
    assert_int_equal(tm_mpr_uint(&r, &u), TM_ECORRUPT);
    assert_int_equal(tm_mpr_str(&r, &s, &n), TM_ECORRUPT);
    assert_int_equal(tm_mpr_skip(&r), TM_ECORRUPT);
    assert_int_equal(tm_mpr_peek(&r), TM_MP_INVALID);
    assert_false(tm_mpr_nil(&r));
    assert_int_equal(tm_mpr_remaining(&r), left);
    assert_int_equal(r.err, TM_ECORRUPT);

    /* a truncation error is sticky too, and is not replaced by a later type error */
    static const uint8_t cut[] = {0xcd, 0x01};
    r = reader(cut, sizeof cut);
    assert_int_equal(tm_mpr_uint(&r, &u), TM_ETRUNC);
    assert_int_equal(tm_mpr_bool(&r, &b), TM_ETRUNC);
    assert_int_equal(tm_mpr_array(&r, &n), TM_ETRUNC);
    assert_int_equal(r.err, TM_ETRUNC);
}

/* ---- hostile declared lengths ---- */

static void test_hostile_lengths(void **state)
{
    (void)state;
    /* each header claims 2^32-1 (or 2^16-1) elements or bytes, with 3 bytes left */
    static const uint8_t arr32[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 1, 2, 3};
    static const uint8_t map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 1, 2, 3};
    static const uint8_t arr16[] = {0xdc, 0xff, 0xff, 1, 2, 3};
    static const uint8_t map16[] = {0xde, 0xff, 0xff, 1, 2, 3};
    static const uint8_t str32[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a', 'b', 'c'};
    static const uint8_t str16[] = {0xda, 0xff, 0xff, 'a', 'b', 'c'};
    static const uint8_t str8[] = {0xd9, 0xff, 'a', 'b', 'c'};
    static const uint8_t bin32[] = {0xc6, 0xff, 0xff, 0xff, 0xff, 'a', 'b', 'c'};
    static const uint8_t bin16[] = {0xc5, 0xff, 0xff, 'a', 'b', 'c'};
    static const uint8_t bin8[] = {0xc4, 0xff, 'a', 'b', 'c'};
    uint32_t n = 77;
    const char *s = NULL;
    const uint8_t *p = NULL;
    struct tm_mpr r;

    r = reader(arr32, sizeof arr32);
    assert_int_equal(tm_mpr_array(&r, &n), TM_ETRUNC);
    assert_int_equal(n, 77); /* no count handed out */
    r = reader(map32, sizeof map32);
    assert_int_equal(tm_mpr_map(&r, &n), TM_ETRUNC);
    r = reader(arr16, sizeof arr16);
    assert_int_equal(tm_mpr_array(&r, &n), TM_ETRUNC);
    r = reader(map16, sizeof map16);
    assert_int_equal(tm_mpr_map(&r, &n), TM_ETRUNC);
    assert_int_equal(n, 77);
    r = reader(str32, sizeof str32);
    assert_int_equal(tm_mpr_str(&r, &s, &n), TM_ETRUNC);
    assert_null(s);
    r = reader(str16, sizeof str16);
    assert_int_equal(tm_mpr_str(&r, &s, &n), TM_ETRUNC);
    r = reader(str8, sizeof str8);
    assert_int_equal(tm_mpr_str(&r, &s, &n), TM_ETRUNC);
    r = reader(bin32, sizeof bin32);
    assert_int_equal(tm_mpr_bin(&r, &p, &n), TM_ETRUNC);
    assert_null(p);
    r = reader(bin16, sizeof bin16);
    assert_int_equal(tm_mpr_bin(&r, &p, &n), TM_ETRUNC);
    r = reader(bin8, sizeof bin8);
    assert_int_equal(tm_mpr_bin(&r, &p, &n), TM_ETRUNC);
    assert_int_equal(n, 77);
    /* skip and raw refuse the same headers */
    const uint8_t *hostile[] = {arr32, map32, str32, bin32};
    for (size_t k = 0; k < LEN(hostile); k++) {
        size_t len;
        r = reader(hostile[k], 8);
        assert_int_equal(tm_mpr_skip(&r), TM_ETRUNC);
        r = reader(hostile[k], 8);
        assert_int_equal(tm_mpr_raw(&r, &p, &len), TM_ETRUNC);
    }

    /* exact bounds: an array of 3 needs >= 3 bytes, a map of 2 needs >= 4 */
    static const uint8_t arr3[] = {0x93, 0xc0, 0xc0, 0xc0};
    r = reader(arr3, sizeof arr3);
    assert_int_equal(tm_mpr_array(&r, &n), 0);
    assert_int_equal(n, 3);
    r = reader(arr3, sizeof arr3 - 1);
    assert_int_equal(tm_mpr_array(&r, &n), TM_ETRUNC);
    static const uint8_t map2[] = {0x82, 0xc0, 0xc0, 0xc0, 0xc0};
    r = reader(map2, sizeof map2);
    assert_int_equal(tm_mpr_map(&r, &n), 0);
    assert_int_equal(n, 2);
    r = reader(map2, sizeof map2 - 1);
    assert_int_equal(tm_mpr_map(&r, &n), TM_ETRUNC);
    /* a string whose body is exactly the rest of the input is fine; one byte short is not */
    static const uint8_t str3[] = {0xd9, 0x03, 'a', 'b', 'c'};
    r = reader(str3, sizeof str3);
    assert_int_equal(tm_mpr_str(&r, &s, &n), 0);
    assert_int_equal(n, 3);
    r = reader(str3, sizeof str3 - 1);
    assert_int_equal(tm_mpr_str(&r, &s, &n), TM_ETRUNC);
}

/* ---- skip and raw ---- */

/* `depth` nested arrays of one element each, the innermost holding `inner`
 * (a single byte), or empty when inner < 0. */
static uint8_t *nested(int depth, int inner, size_t *len_out)
{
    uint8_t *p = malloc((size_t)depth + 1);
    assert_non_null(p);
    for (int i = 0; i < depth; i++)
        p[i] = i == depth - 1 && inner < 0 ? 0x90 : 0x91;
    size_t len = (size_t)depth;
    if (inner >= 0)
        p[len++] = (uint8_t)inner;
    *len_out = len;
    return p;
}

static void test_skip_depth_limit(void **state)
{
    (void)state;
    size_t len;
    const uint8_t *raw;
    size_t rawlen;
    /* 64 nested arrays, with or without a value inside: accepted */
    uint8_t *p = nested(64, 0x05, &len);
    struct tm_mpr r = reader(p, len);
    assert_int_equal(tm_mpr_skip(&r), 0);
    assert_int_equal(tm_mpr_remaining(&r), 0);
    r = reader(p, len);
    assert_int_equal(tm_mpr_raw(&r, &raw, &rawlen), 0);
    assert_ptr_equal(raw, p);
    assert_int_equal(rawlen, len);
    free(p);
    p = nested(64, -1, &len);
    r = reader(p, len);
    assert_int_equal(tm_mpr_skip(&r), 0);
    free(p);

    /* 65 nested arrays: refused, whether the innermost is empty or not */
    p = nested(65, -1, &len);
    r = reader(p, len);
    assert_int_equal(tm_mpr_skip(&r), TM_ECORRUPT);
    assert_int_equal(r.err, TM_ECORRUPT);
    free(p);
    p = nested(65, 0x05, &len);
    r = reader(p, len);
    assert_int_equal(tm_mpr_skip(&r), TM_ECORRUPT);
    free(p);
    /* deep nesting through maps counts the same way: {nil: {nil: ... nil}} */
    uint8_t m[2 * 65 + 1];
    size_t k = 0;
    for (int i = 0; i < 65; i++) {
        m[k++] = 0x81;
        m[k++] = 0xc0;
    }
    m[k++] = 0xc0; /* innermost value */
    r = reader(m, k);
    assert_int_equal(tm_mpr_skip(&r), TM_ECORRUPT);
    r = reader(m + 2, k - 2); /* 64 levels */
    assert_int_equal(tm_mpr_skip(&r), 0);
    /* a very deep input fails cleanly instead of overflowing the stack */
    p = nested(100000, 0x05, &len);
    r = reader(p, len);
    assert_int_equal(tm_mpr_skip(&r), TM_ECORRUPT);
    free(p);
}

static void test_skip_every_type_and_raw(void **state)
{
    (void)state;
    struct tm_mpw w;
    tm_mpw_init(&w);
    tm_mpw_map(&w, 3);
    tm_mpw_cstr(&w, "a"), tm_mpw_array(&w, 4);
    tm_mpw_nil(&w), tm_mpw_bool(&w, true), tm_mpw_double(&w, 0.5), tm_mpw_float(&w, 2.0f);
    tm_mpw_cstr(&w, "b"), tm_mpw_bin(&w, "xyz", 3);
    tm_mpw_cstr(&w, "c"), tm_mpw_uint(&w, UINT64_MAX);
    size_t first = w.buf.len;
    tm_mpw_int(&w, -5);
    struct tm_mpr r = reader(w.buf.data, w.buf.len);
    const uint8_t *p;
    size_t len;
    assert_int_equal(tm_mpr_raw(&r, &p, &len), 0);
    assert_ptr_equal(p, w.buf.data);
    assert_int_equal(len, first);
    int64_t i;
    assert_int_equal(tm_mpr_int(&r, &i), 0);
    assert_int_equal(i, -5);
    /* every truncation of the map fails with TM_ETRUNC and never reads past the end */
    for (size_t cut = 0; cut < first; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, w.buf.data, cut);
        r = reader(copy, cut);
        assert_int_equal(tm_mpr_skip(&r), TM_ETRUNC);
        free(copy);
    }
    tm_mpw_free(&w);
}

/* ---- str_copy ---- */

static void test_str_copy(void **state)
{
    (void)state;
    static const uint8_t abc[] = {0xa3, 'a', 'b', 'c', 0xa0};
    char buf[8];
    struct tm_mpr r = reader(abc, sizeof abc);
    memset(buf, 'X', sizeof buf);
    assert_int_equal(tm_mpr_str_copy(&r, buf, 4), 0); /* exactly fits with its NUL */
    assert_string_equal(buf, "abc");
    assert_int_equal(tm_mpr_str_copy(&r, buf, 1), 0); /* empty string into 1 byte */
    assert_string_equal(buf, "");

    r = reader(abc, sizeof abc);
    memset(buf, 'X', sizeof buf);
    assert_int_equal(tm_mpr_str_copy(&r, buf, 3), TM_ETOOBIG); /* no room for the NUL */
    assert_int_equal(buf[0], 'X');                             /* nothing written */
    assert_int_equal(buf[3], 'X');
    r = reader(abc, sizeof abc);
    assert_int_equal(tm_mpr_str_copy(&r, buf, 1), TM_ETOOBIG);

    static const uint8_t num[] = {0x05};
    r = reader(num, sizeof num);
    assert_int_equal(tm_mpr_str_copy(&r, buf, sizeof buf), TM_ECORRUPT);
    r = reader(abc, 2);
    assert_int_equal(tm_mpr_str_copy(&r, buf, sizeof buf), TM_ETRUNC);
}

/* tm_mpr_find / tm_mpr_key_int: a key's value in a map, skipping nested
 * values before it; absent keys, non-maps and wrong types give the default. */
static void test_find_key(void **state)
{
    (void)state;
    struct tm_mpw w;
    struct tm_mpr r;
    tm_mpw_init(&w);
    tm_mpw_map(&w, 3);
    tm_mpw_cstr(&w, "a"), tm_mpw_array(&w, 2), tm_mpw_int(&w, 1), tm_mpw_cstr(&w, "x");
    tm_mpw_cstr(&w, "name"), tm_mpw_cstr(&w, "coll");
    tm_mpw_cstr(&w, "shard"), tm_mpw_int(&w, -7);
    tm_mpr_init(&r, w.buf.data, w.buf.len);
    assert_int_equal(tm_mpr_key_int(r, "shard", 0), -7);
    assert_int_equal(tm_mpr_key_int(r, "name", 42), 42); /* a string, not an int */
    assert_int_equal(tm_mpr_key_int(r, "nope", 5), 5);
    assert_int_equal(tm_mpr_find(&r, "name"), 0);
    char name[8];
    assert_int_equal(tm_mpr_str_copy(&r, name, sizeof name), 0);
    assert_string_equal(name, "coll");
    tm_mpr_init(&r, w.buf.data + 1, w.buf.len - 1); /* not on a map */
    assert_int_equal(tm_mpr_find(&r, "a"), TM_ENOTFOUND);
    tm_mpw_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars_roundtrip),
        cmocka_unit_test(test_str_bin_widths),
        cmocka_unit_test(test_container_widths),
        cmocka_unit_test(test_int_boundaries),
        cmocka_unit_test(test_uint64_above_int64_max),
        cmocka_unit_test(test_float_encodings),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_sticky_error),
        cmocka_unit_test(test_hostile_lengths),
        cmocka_unit_test(test_skip_depth_limit),
        cmocka_unit_test(test_skip_every_type_and_raw),
        cmocka_unit_test(test_str_copy),
        cmocka_unit_test(test_find_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
