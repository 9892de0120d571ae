/* The WAL entry codec (wal/entry.h): round trips of every kind, the 8-byte
 * size rule and its zero padding, truncation and mutation of every byte,
 * versions and kinds, and hostile declared lengths.
 *
 * "Refused before any allocation" is checked with a link-time malloc
 * counter: the test is linked with -Wl,--wrap=malloc (and calloc, realloc),
 * so every allocation made by the static Tidemark libraries goes through the
 * __wrap_ functions below. cmocka's test_malloc needs the code under test to
 * be compiled with UNIT_TESTING, which ours is not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "entry.h"
#include "tm_err.h"
#include "tm_mp.h"

/* ---- allocation counter ---- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

static long g_allocs;

void *__wrap_malloc(size_t n)
{
    g_allocs++;
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
    g_allocs++;
    return __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
    g_allocs++;
    return __real_realloc(p, n);
}

/* ---- helpers ---- */

#define PK_FIELD 100
#define VEC_FIELD 101
#define TAG_FIELD 102

/* Encodes a rows batch: Int64 pk, FloatVector dim 2, nullable VarChar. */
static void rows_encode(struct tm_mpw *w, uint32_t nrows)
{
    struct tm_batch b;
    tm_batch_init(&b);
    struct tm_col *pk = tm_batch_add_col(&b, PK_FIELD, TM_T_INT64, 8, false);
    struct tm_col *vec = tm_batch_add_col(&b, VEC_FIELD, TM_T_FLOAT_VECTOR, 8, false);
    struct tm_col *tag = tm_batch_add_col(&b, TAG_FIELD, TM_T_VARCHAR, 0, true);
    for (uint32_t i = 0; i < nrows; i++) {
        int64_t id = 1000 + i;
        float v[2] = {(float)i, -(float)i};
        assert_int_equal(tm_col_push(pk, &id, 8), 0);
        assert_int_equal(tm_col_push(vec, v, 8), 0);
        if (i % 2)
            assert_int_equal(tm_col_push_null(tag), 0);
        else
            assert_int_equal(tm_col_push(tag, "tag", 3), 0);
    }
    b.nrows = nrows;
    tm_batch_encode(w, &b);
    tm_batch_free(&b);
}

static void pks_encode(struct tm_mpw *w, uint32_t nrows)
{
    struct tm_batch b;
    tm_batch_init(&b);
    struct tm_col *pk = tm_batch_add_col(&b, PK_FIELD, TM_T_INT64, 8, false);
    for (uint32_t i = 0; i < nrows; i++) {
        int64_t id = 1000 + i;
        assert_int_equal(tm_col_push(pk, &id, 8), 0);
    }
    b.nrows = nrows;
    tm_batch_encode(w, &b);
    tm_batch_free(&b);
}

static struct tm_entry_hdr hdr(enum tm_entry_kind kind, const char *cid)
{
    struct tm_entry_hdr h;
    memset(&h, 0, sizeof h);
    h.kind = kind;
    h.ts = 0x0123456789abcdefULL;
    h.coll_id = 4242;
    h.part_id = kind == TM_ENTRY_DELETE ? -1 : 1001;
    snprintf(h.client_id, sizeof h.client_id, "%s", cid);
    h.seq = 99;
    return h;
}

static struct tm_span span_of(const struct tm_mpw *w)
{
    return (struct tm_span){w->buf.data, w->buf.len};
}

/* Bytes of the msgpack map at the start of an entry (the rest is padding). */
static size_t map_end(const uint8_t *p, size_t len)
{
    struct tm_mpr r;
    tm_mpr_init(&r, p, len);
    assert_int_equal(tm_mpr_skip(&r), 0);
    return len - tm_mpr_remaining(&r);
}

/* Decodes from an exact-size heap copy, so ASan sees any read past the end. */
static int decode_copy(const uint8_t *p, size_t len, struct tm_entry_hdr *h, struct tm_span *rows,
                       struct tm_span *pks, uint8_t **copy_out)
{
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, p, len);
    int rc = tm_entry_decode(copy, len, h, rows, pks);
    if (copy_out)
        *copy_out = copy;
    else
        free(copy);
    return rc;
}

static bool is_decode_error(int rc)
{
    return rc == TM_ETRUNC || rc == TM_ECORRUPT || rc == TM_EVERSION;
}

/* Pads a hand-written entry and appends it to out. */
static void pad8(struct tm_mpw *w)
{
    assert_int_equal(tm_buf_pad(&w->buf, 8), 0);
}

/* A hand-written entry: version, kind and one optional extra key/value. */
static void craft(struct tm_mpw *w, bool with_v, uint64_t v, uint64_t kind, const char *extra_key,
                  void (*extra)(struct tm_mpw *w))
{
    tm_mpw_map(w, (uint32_t)(7 + with_v + (extra_key != NULL)));
    if (with_v)
        tm_mpw_cstr(w, "v"), tm_mpw_uint(w, v);
    tm_mpw_cstr(w, "k"), tm_mpw_uint(w, kind);
    tm_mpw_cstr(w, "ts"), tm_mpw_uint(w, 5);
    tm_mpw_cstr(w, "coll"), tm_mpw_int(w, 7);
    tm_mpw_cstr(w, "part"), tm_mpw_int(w, -1);
    tm_mpw_cstr(w, "cid"), tm_mpw_nil(w);
    tm_mpw_cstr(w, "seq"), tm_mpw_uint(w, 0);
    tm_mpw_cstr(w, "pks"), tm_mpw_nil(w);
    if (extra_key) {
        tm_mpw_cstr(w, extra_key);
        extra(w);
    }
    pad8(w);
}

static int decode_buf(const struct tm_mpw *w)
{
    struct tm_entry_hdr h;
    struct tm_span rows, pks;
    return decode_copy(w->buf.data, w->buf.len, &h, &rows, &pks, NULL);
}

/* ---- round trips ---- */

static void check_roundtrip(enum tm_entry_kind kind, const char *cid)
{
    struct tm_mpw rows_w, pks_w;
    tm_mpw_init(&rows_w);
    tm_mpw_init(&pks_w);
    rows_encode(&rows_w, 3);
    pks_encode(&pks_w, 2);
    struct tm_span rows_in = kind == TM_ENTRY_DELETE ? (struct tm_span){0} : span_of(&rows_w);
    struct tm_span pks_in = kind == TM_ENTRY_INSERT ? (struct tm_span){0} : span_of(&pks_w);
    struct tm_entry_hdr in = hdr(kind, cid), out;
    struct tm_buf buf;
    tm_buf_init(&buf);
    assert_int_equal(tm_entry_encode(&buf, &in, rows_in, pks_in), 0);
    assert_int_equal(buf.len % 8, 0);

    struct tm_span rows, pks;
    long before = g_allocs;
    assert_int_equal(tm_entry_decode(buf.data, buf.len, &out, &rows, &pks), 0);
    assert_int_equal(g_allocs, before); /* decoding an entry never allocates */
    assert_int_equal(out.version, TM_ENTRY_VERSION);
    assert_int_equal(out.kind, kind);
    assert_true(out.ts == in.ts);
    assert_int_equal(out.coll_id, in.coll_id);
    assert_int_equal(out.part_id, in.part_id);
    assert_string_equal(out.client_id, cid);
    assert_int_equal(out.seq, in.seq);

    /* spans point into the entry and hold the batch bytes verbatim */
    if (rows_in.p) {
        assert_int_equal(rows.len, rows_in.len);
        assert_true(rows.p >= buf.data && rows.p + rows.len <= buf.data + buf.len);
        assert_memory_equal(rows.p, rows_in.p, rows.len);
        struct tm_batch b;
        struct tm_mpr r;
        tm_batch_init(&b);
        tm_mpr_init(&r, rows.p, rows.len);
        assert_int_equal(tm_batch_decode(&r, &b), 0);
        assert_int_equal(b.nrows, 3);
        assert_int_equal(b.ncols, 3);
        assert_int_equal(tm_col_int64(tm_batch_col(&b, PK_FIELD), 2), 1002);
        assert_true(tm_col_is_null(tm_batch_col(&b, TAG_FIELD), 1));
        tm_batch_free(&b);
    } else {
        assert_null(rows.p);
        assert_int_equal(rows.len, 0);
    }
    if (pks_in.p) {
        assert_int_equal(pks.len, pks_in.len);
        assert_memory_equal(pks.p, pks_in.p, pks.len);
    } else {
        assert_null(pks.p);
        assert_int_equal(pks.len, 0);
    }
    tm_buf_free(&buf);
    tm_mpw_free(&rows_w);
    tm_mpw_free(&pks_w);
}

static void test_roundtrip_every_kind(void **state)
{
    (void)state;
    static const char max_cid[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"; /* 63 chars */
    assert_int_equal(strlen(max_cid), TM_CLIENT_ID_MAX - 1);
    const enum tm_entry_kind kinds[] = {TM_ENTRY_INSERT, TM_ENTRY_DELETE, TM_ENTRY_UPSERT};
    for (size_t k = 0; k < 3; k++) {
        check_roundtrip(kinds[k], "");
        check_roundtrip(kinds[k], "client-7");
        check_roundtrip(kinds[k], max_cid);
    }
}

static void test_extreme_header_values(void **state)
{
    (void)state;
    struct tm_entry_hdr in = hdr(TM_ENTRY_DELETE, "c"), out;
    in.ts = UINT64_MAX;
    in.coll_id = INT64_MIN;
    in.part_id = INT64_MAX;
    in.seq = UINT64_MAX;
    struct tm_buf buf;
    struct tm_span rows, pks;
    tm_buf_init(&buf);
    assert_int_equal(tm_entry_encode(&buf, &in, (struct tm_span){0}, (struct tm_span){0}), 0);
    assert_int_equal(tm_entry_decode(buf.data, buf.len, &out, &rows, &pks), 0);
    assert_true(out.ts == UINT64_MAX);
    assert_true(out.coll_id == INT64_MIN);
    assert_true(out.part_id == INT64_MAX);
    assert_true(out.seq == UINT64_MAX);
    tm_buf_free(&buf);
}

/* tm_entry_encode appends: what was in the buffer stays. */
static void test_encode_appends(void **state)
{
    (void)state;
    struct tm_entry_hdr h = hdr(TM_ENTRY_INSERT, "x");
    struct tm_buf a, b;
    tm_buf_init(&a);
    tm_buf_init(&b);
    assert_int_equal(tm_buf_append(&a, "abc", 3), 0);
    assert_int_equal(tm_entry_encode(&a, &h, (struct tm_span){0}, (struct tm_span){0}), 0);
    assert_int_equal(tm_entry_encode(&b, &h, (struct tm_span){0}, (struct tm_span){0}), 0);
    assert_int_equal(a.len, 3 + b.len);
    assert_memory_equal(a.data, "abc", 3);
    assert_memory_equal(a.data + 3, b.data, b.len);
    tm_buf_free(&a);
    tm_buf_free(&b);
}

/* ---- size and padding ---- */

static void test_size_multiple_of_8_zero_padding(void **state)
{
    (void)state;
    unsigned pads_seen = 0;
    char cid[TM_CLIENT_ID_MAX];
    for (size_t n = 0; n < 24; n++) {
        memset(cid, 'c', n);
        cid[n] = '\0';
        struct tm_entry_hdr h = hdr(TM_ENTRY_DELETE, cid);
        struct tm_buf buf;
        tm_buf_init(&buf);
        assert_int_equal(tm_entry_encode(&buf, &h, (struct tm_span){0}, (struct tm_span){0}), 0);
        assert_int_equal(buf.len % 8, 0);
        size_t end = map_end(buf.data, buf.len);
        size_t pad = buf.len - end;
        assert_true(pad < 8);
        for (size_t i = end; i < buf.len; i++)
            assert_int_equal(buf.data[i], 0);
        pads_seen |= 1u << pad;
        tm_buf_free(&buf);
    }
    assert_int_equal(pads_seen, 0xff); /* every pad length 0..7 was exercised */
}

/* An entry whose padding is `want` bytes long. */
static void entry_with_pad(size_t want, struct tm_buf *out)
{
    char cid[TM_CLIENT_ID_MAX];
    for (size_t n = 1; n < 20; n++) {
        memset(cid, 'p', n);
        cid[n] = '\0';
        struct tm_entry_hdr h = hdr(TM_ENTRY_DELETE, cid);
        tm_buf_init(out);
        assert_int_equal(tm_entry_encode(out, &h, (struct tm_span){0}, (struct tm_span){0}), 0);
        if (out->len - map_end(out->data, out->len) == want)
            return;
        tm_buf_free(out);
    }
    fail_msg("no entry with %zu padding bytes", want);
}

static void test_padding_rules(void **state)
{
    (void)state;
    struct tm_entry_hdr h;
    struct tm_span rows, pks;
    for (size_t want = 1; want < 8; want++) {
        struct tm_buf buf;
        entry_with_pad(want, &buf);
        assert_int_equal(decode_copy(buf.data, buf.len, &h, &rows, &pks, NULL), 0);
        /* any non-zero padding byte makes the entry corrupt */
        for (size_t i = buf.len - want; i < buf.len; i++) {
            uint8_t saved = buf.data[i];
            buf.data[i] = 1;
            assert_int_equal(decode_copy(buf.data, buf.len, &h, &rows, &pks, NULL), TM_ECORRUPT);
            buf.data[i] = 0x80;
            assert_int_equal(decode_copy(buf.data, buf.len, &h, &rows, &pks, NULL), TM_ECORRUPT);
            buf.data[i] = saved;
        }
        /* eight or more bytes after the map are refused even when zero */
        uint8_t zeros[16] = {0};
        assert_int_equal(tm_buf_append(&buf, zeros, 8), 0);
        assert_int_equal(decode_copy(buf.data, buf.len, &h, &rows, &pks, NULL), TM_ECORRUPT);
        tm_buf_free(&buf);
    }
    struct tm_buf buf;
    entry_with_pad(0, &buf);
    uint8_t zeros[8] = {0};
    assert_int_equal(tm_buf_append(&buf, zeros, 8), 0); /* exactly 8 zero pad bytes */
    assert_int_equal(decode_copy(buf.data, buf.len, &h, &rows, &pks, NULL), TM_ECORRUPT);
    tm_buf_free(&buf);
}

/* ---- truncation and mutation ---- */

static void test_truncated_every_length(void **state)
{
    (void)state;
    struct tm_mpw rows_w, pks_w;
    tm_mpw_init(&rows_w);
    tm_mpw_init(&pks_w);
    rows_encode(&rows_w, 4);
    pks_encode(&pks_w, 4);
    struct tm_entry_hdr in = hdr(TM_ENTRY_UPSERT, "client"), out;
    struct tm_buf buf;
    tm_buf_init(&buf);
    assert_int_equal(tm_entry_encode(&buf, &in, span_of(&rows_w), span_of(&pks_w)), 0);
    size_t end = map_end(buf.data, buf.len);
    struct tm_span rows, pks;
    for (size_t len = 0; len < buf.len; len++) {
        long before = g_allocs;
        int rc = decode_copy(buf.data, len, &out, &rows, &pks, NULL);
        assert_int_equal(g_allocs, before + 1); /* only decode_copy's own copy */
        if (len < end) {
            /* the map is cut: the entry is refused */
            if (rc != TM_ETRUNC && rc != TM_ECORRUPT)
                fail_msg("prefix of %zu/%zu bytes: rc %d", len, buf.len, rc);
        } else {
            /* Only padding is cut: the size is no longer a multiple of 8,
             * which the validity rule in entry.h refuses. */
            assert_int_equal(rc, TM_ECORRUPT);
        }
    }
    tm_buf_free(&buf);
    tm_mpw_free(&rows_w);
    tm_mpw_free(&pks_w);
}

/* Every byte replaced by a few troublesome values: the decoder either
 * accepts the entry with spans inside the buffer or refuses it; ASan checks
 * that it never reads outside. */
static void test_mutated_bytes(void **state)
{
    (void)state;
    struct tm_mpw rows_w;
    tm_mpw_init(&rows_w);
    rows_encode(&rows_w, 2);
    struct tm_entry_hdr in = hdr(TM_ENTRY_INSERT, "m"), out;
    struct tm_buf buf;
    tm_buf_init(&buf);
    assert_int_equal(tm_entry_encode(&buf, &in, span_of(&rows_w), (struct tm_span){0}), 0);
    struct tm_span rows, pks;
    for (size_t i = 0; i < buf.len; i++) {
        const uint8_t vals[] = {0x00,
                                0xff,
                                0xc1,
                                0xdf,
                                0xdb,
                                0xc6,
                                0xdd,
                                0x7f,
                                (uint8_t)(buf.data[i] ^ 0x01),
                                (uint8_t)(buf.data[i] ^ 0x80)};
        for (size_t k = 0; k < sizeof vals; k++) {
            uint8_t saved = buf.data[i];
            buf.data[i] = vals[k];
            uint8_t *copy;
            int rc = decode_copy(buf.data, buf.len, &out, &rows, &pks, &copy);
            if (rc == 0) {
                assert_true(out.kind >= TM_ENTRY_INSERT && out.kind <= TM_ENTRY_UPSERT);
                assert_int_equal(out.version, TM_ENTRY_VERSION);
                if (rows.p)
                    assert_true(rows.p >= copy && rows.p + rows.len <= copy + buf.len);
                if (pks.p)
                    assert_true(pks.p >= copy && pks.p + pks.len <= copy + buf.len);
            } else if (!is_decode_error(rc)) {
                fail_msg("byte %zu = 0x%02x: rc %d", i, vals[k], rc);
            }
            free(copy);
            buf.data[i] = saved;
        }
    }
    tm_buf_free(&buf);
    tm_mpw_free(&rows_w);
}

/* ---- versions, kinds and field types ---- */

static void put_nil(struct tm_mpw *w)
{
    tm_mpw_nil(w);
}

static void test_versions(void **state)
{
    (void)state;
    static const uint64_t bad[] = {0, 2, 3, 255, 65536, UINT32_MAX};
    struct tm_mpw w;
    tm_mpw_init(&w);
    craft(&w, true, 1, TM_ENTRY_DELETE, NULL, NULL);
    assert_int_equal(decode_buf(&w), 0);
    tm_mpw_free(&w);
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        tm_mpw_init(&w);
        craft(&w, true, bad[k], TM_ENTRY_DELETE, NULL, NULL);
        assert_int_equal(decode_buf(&w), TM_EVERSION);
        tm_mpw_free(&w);
    }
    /* no version at all is not version 1 */
    tm_mpw_init(&w);
    craft(&w, false, 0, TM_ENTRY_DELETE, "rows", put_nil);
    assert_int_equal(decode_buf(&w), TM_EVERSION);
    tm_mpw_free(&w);
    /* an unknown version is reported even when the rest looks odd */
    tm_mpw_init(&w);
    craft(&w, true, 9, 77, NULL, NULL);
    int rc = decode_buf(&w);
    assert_true(rc == TM_EVERSION || rc == TM_ECORRUPT);
    tm_mpw_free(&w);
}

static void test_kinds(void **state)
{
    (void)state;
    /* 2^32 + 1 must not wrap to a valid kind */
    static const uint64_t bad[] = {0, 7, 255, (1ULL << 32) + 1, (1ULL << 32) + 3, UINT64_MAX};
    struct tm_mpw w;
    for (uint64_t k = TM_ENTRY_INSERT; k <= TM_ENTRY_COMPACT; k++) {
        tm_mpw_init(&w);
        craft(&w, true, 1, k, NULL, NULL);
        assert_int_equal(decode_buf(&w), 0);
        tm_mpw_free(&w);
    }
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        tm_mpw_init(&w);
        craft(&w, true, 1, bad[k], NULL, NULL);
        int rc = decode_buf(&w);
        if (rc != TM_ECORRUPT)
            fail_msg("kind %llu: rc %d", (unsigned long long)bad[k], rc);
        tm_mpw_free(&w);
    }
}

static void put_long_cid(struct tm_mpw *w)
{
    char cid[TM_CLIENT_ID_MAX + 1];
    memset(cid, 'z', TM_CLIENT_ID_MAX);
    cid[TM_CLIENT_ID_MAX] = '\0';
    tm_mpw_cstr(w, cid); /* 64 chars: one more than the header holds */
}

static void put_str(struct tm_mpw *w)
{
    tm_mpw_cstr(w, "x");
}

static void put_double(struct tm_mpw *w)
{
    tm_mpw_double(w, 1.5);
}

static void put_nested(struct tm_mpw *w)
{
    tm_mpw_array(w, 2);
    tm_mpw_uint(w, 1);
    tm_mpw_map(w, 1);
    tm_mpw_cstr(w, "a"), tm_mpw_bin(w, "xy", 2);
}

static void put_neg(struct tm_mpw *w)
{
    tm_mpw_int(w, -1);
}

static void test_field_types(void **state)
{
    (void)state;
    struct tm_mpw w;
    struct {
        const char *key;
        void (*put)(struct tm_mpw *w);
        int want;
    } cases[] = {
        {"future_key", put_nested, 0}, /* unknown keys are skipped */
        {"rows", put_nil, 0},
        {"cid", put_long_cid, TM_ECORRUPT}, /* malformed: longer than the header holds */
        {"cid", put_double, TM_ECORRUPT},
        {"ts", put_str, TM_ECORRUPT},
        {"ts", put_neg, TM_ECORRUPT},
        {"seq", put_double, TM_ECORRUPT},
        {"coll", put_str, TM_ECORRUPT},
        {"k", put_str, TM_ECORRUPT},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        tm_mpw_init(&w);
        craft(&w, true, 1, TM_ENTRY_DELETE, cases[k].key, cases[k].put);
        int rc = decode_buf(&w);
        if (rc != cases[k].want)
            fail_msg("key %s case %zu: rc %d, want %d", cases[k].key, k, rc, cases[k].want);
        tm_mpw_free(&w);
    }
    /* not a map at all */
    static const uint8_t arr[8] = {0x91, 0x01};
    static const uint8_t empty[1] = {0};
    struct tm_entry_hdr h;
    struct tm_span rows, pks;
    assert_int_equal(decode_copy(arr, sizeof arr, &h, &rows, &pks, NULL), TM_ECORRUPT);
    assert_int_equal(decode_copy(empty, 0, &h, &rows, &pks, NULL), TM_ETRUNC);
}

/* ---- hostile declared lengths ---- */

static void test_hostile_lengths_entry(void **state)
{
    (void)state;
    struct tm_entry_hdr h;
    struct tm_span rows, pks;
    /* map32 claiming 2^32-1 pairs */
    static const uint8_t map32[16] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'v', 0x01};
    /* {"rows": bin32 claiming 2^32-1 bytes} */
    static const uint8_t bin32[16] = {0x81, 0xa4, 'r', 'o', 'w', 's', 0xc6, 0xff, 0xff, 0xff, 0xff};
    /* {"rows": array32 claiming 2^32-1 elements} */
    static const uint8_t arr32[16] = {0x81, 0xa4, 'r', 'o', 'w', 's', 0xdd, 0xff, 0xff, 0xff, 0xff};
    /* {"rows": map32 claiming 2^32-1 pairs} */
    static const uint8_t mp32[16] = {0x81, 0xa4, 'r', 'o', 'w', 's', 0xdf, 0xff, 0xff, 0xff, 0xff};
    /* a key that is a str32 claiming 2^32-1 bytes */
    static const uint8_t str32[16] = {0x81, 0xdb, 0xff, 0xff, 0xff, 0xff, 'v'};
    /* {"cid": str32 claiming 2^32-1 bytes} */
    static const uint8_t cid32[16] = {0x81, 0xa3, 'c', 'i', 'd', 0xdb, 0xff, 0xff, 0xff, 0xff};
    const uint8_t *cases[] = {map32, bin32, arr32, mp32, str32, cid32};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        g_allocs = 0;
        int rc = tm_entry_decode(cases[k], 16, &h, &rows, &pks);
        assert_int_equal(g_allocs, 0);
        if (rc != TM_ETRUNC)
            fail_msg("case %zu: rc %d", k, rc);
    }
}

/* The same for the batch decoder that reads an entry's spans: a hostile count
 * or length fails before the decoder allocates anything. */
static void test_hostile_lengths_batch(void **state)
{
    (void)state;
    static const uint8_t cols32[] = {0x82, 0xa1, 'n',  0x01, 0xa1, 'c',  0xdd, 0xff, 0xff,
                                     0xff, 0xff, 0x97, 0x64, 0x05, 0x08, 0xc2, 0xc0};
    /* one column whose data bin claims 2^32-1 bytes */
    static const uint8_t data32[] = {0x82, 0xa1, 'n',  0x01, 0xa1, 'c',  0x91, 0x97,
                                     0x64, 0x05, 0x08, 0xc2, 0xc0, 0xc6, 0xff, 0xff,
                                     0xff, 0xff, 1,    2,    3,    4};
    /* a variable-width column whose ends bin claims 2^32-1 bytes */
    static const uint8_t ends32[] = {0x82, 0xa1, 'n',  0x01, 0xa1, 'c',  0x91,
                                     0x97, 0x64, 0x15, 0x00, 0xc2, 0xc0, 0xc4,
                                     0x00, 0xc6, 0xff, 0xff, 0xff, 0xff, 1};
    /* a column whose validity bin claims 2^32-1 bytes */
    static const uint8_t valid32[] = {0x82, 0xa1, 'n',  0x01, 0xa1, 'c',  0x91, 0x97, 0x64, 0x05,
                                      0x08, 0xc3, 0xc6, 0xff, 0xff, 0xff, 0xff, 1,    2,    3};
    /* the top-level map claims 2^32-1 pairs */
    static const uint8_t top32[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'n', 0x01};
    /* a column array claims 2^32-1 items */
    static const uint8_t col32[] = {0x82, 0xa1, 'n',  0x01, 0xa1, 'c',  0x91,
                                    0xdd, 0xff, 0xff, 0xff, 0xff, 0x64, 0x05};
    struct {
        const uint8_t *p;
        size_t len;
    } cases[] = {{cols32, sizeof cols32},   {data32, sizeof data32}, {ends32, sizeof ends32},
                 {valid32, sizeof valid32}, {top32, sizeof top32},   {col32, sizeof col32}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct tm_batch b;
        struct tm_mpr r;
        tm_batch_init(&b);
        tm_mpr_init(&r, cases[k].p, cases[k].len);
        g_allocs = 0;
        int rc = tm_batch_decode(&r, &b);
        long allocs = g_allocs;
        if (rc != TM_ETRUNC)
            fail_msg("case %zu: rc %d", k, rc);
        assert_int_equal(allocs, 0);
        assert_int_equal(b.ncols, 0);
    }
    /* sanity: the counter does see the decoder's allocations on good input */
    struct tm_mpw w;
    tm_mpw_init(&w);
    rows_encode(&w, 2);
    struct tm_batch b;
    struct tm_mpr r;
    tm_batch_init(&b);
    tm_mpr_init(&r, w.buf.data, w.buf.len);
    g_allocs = 0;
    assert_int_equal(tm_batch_decode(&r, &b), 0);
    assert_true(g_allocs > 0);
    tm_batch_free(&b);
    tm_mpw_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_every_kind),
        cmocka_unit_test(test_extreme_header_values),
        cmocka_unit_test(test_encode_appends),
        cmocka_unit_test(test_size_multiple_of_8_zero_padding),
        cmocka_unit_test(test_padding_rules),
        cmocka_unit_test(test_truncated_every_length),
        cmocka_unit_test(test_mutated_bytes),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_field_types),
        cmocka_unit_test(test_hostile_lengths_entry),
        cmocka_unit_test(test_hostile_lengths_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
