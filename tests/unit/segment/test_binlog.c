/* Sealed-segment binlogs (segment/binlog.h): round trips of every column
 * type, nullable, empty and multi-block columns and both deltalog key
 * types; block-wise column reads; corruption of every file kind (flipped
 * bytes and truncations are all reported with file and offset, never
 * served); the crash points of a write (a forked writer _exits at each,
 * then the scan finds no segment and no leftovers); recovery rules; the
 * bloom filter and CRC32C.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "binlog.h"
#include "binlog_int.h"
#include "tm_err.h"

#define PK_FIELD 100

/* ---- helpers ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static char root[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int setup_root(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/tm_binlog_XXXXXX");
    assert_non_null(mkdtemp(root));
    tm_binlog_set_crash_point(TM_BINLOG_CRASH_NONE, 0, TM_BINLOG_CRASH_EXIT);
    return 0;
}

static int teardown_root(void **state)
{
    (void)state;
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static void seg_path(char *out, size_t cap, const char *rel)
{
    snprintf(out, cap, "%s/%s", root, rel);
}

static struct tm_seg_meta meta_for(int64_t seg_id)
{
    return (struct tm_seg_meta){.seg_id = seg_id,
                                .coll_id = 42,
                                .part_id = 7,
                                .shard = 1,
                                .pk_field_id = PK_FIELD,
                                .log_index = 1000 + (uint64_t)seg_id,
                                .last_ts = 5000 + (uint64_t)seg_id};
}

/* Fills c with n rows of pseudo-random bytes (nulls every third row of a
 * nullable column); variable-width values are 0..maxlen bytes long. */
static void fill_col(struct tm_col *c, uint32_t n, uint32_t maxlen)
{
    uint8_t buf[4096];
    for (uint32_t i = 0; i < n; i++) {
        if (c->nullable && i % 3 == 1) {
            assert_int_equal(tm_col_push_null(c), 0);
            continue;
        }
        size_t len = c->width ? c->width : rnd() % (maxlen + 1);
        assert_true(len <= sizeof buf);
        for (size_t k = 0; k < len; k++)
            buf[k] = (uint8_t)rnd();
        assert_int_equal(tm_col_push(c, buf, len), 0);
    }
}

static void fill_pk(struct tm_col *c, uint32_t n, int64_t base)
{
    for (uint32_t i = 0; i < n; i++) {
        int64_t v = base + 3 * (int64_t)i;
        if (c->type == TM_T_INT64) {
            assert_int_equal(tm_col_push(c, &v, 8), 0);
        } else {
            char s[32];
            int len = snprintf(s, sizeof s, "key-%08lld", (long long)v);
            assert_int_equal(tm_col_push(c, s, (size_t)len), 0);
        }
    }
}

static void fill_ts(struct tm_buf *ts, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        uint64_t t = 1000 + i;
        assert_int_equal(tm_buf_append(ts, &t, 8), 0);
    }
}

static void assert_buf_equal(const struct tm_buf *a, const struct tm_buf *b)
{
    assert_int_equal(a->len, b->len);
    if (a->len)
        assert_memory_equal(a->data, b->data, a->len);
}

static void assert_col_equal(const struct tm_col *a, const struct tm_col *b)
{
    assert_int_equal(a->field_id, b->field_id);
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->width, b->width);
    assert_int_equal(a->nullable, b->nullable);
    assert_buf_equal(&a->data, &b->data);
    assert_buf_equal(&a->ends, &b->ends);
    if (a->nullable)
        assert_buf_equal(&a->valid, &b->valid);
}

static void assert_batch_equal(const struct tm_batch *a, const struct tm_batch *b)
{
    assert_int_equal(a->nrows, b->nrows);
    assert_int_equal(a->ncols, b->ncols);
    for (uint32_t i = 0; i < a->ncols; i++)
        assert_col_equal(&a->cols[i], &b->cols[i]);
}

static void add_dels(struct tm_seg_deletes *d, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        char s[32];
        int len = snprintf(s, sizeof s, "del-%u", i * 7);
        struct tm_pk pk = {.is_str = d->pk.type == TM_T_VARCHAR,
                           .i = -(int64_t)i * 11,
                           .s = s,
                           .len = (uint32_t)len};
        assert_int_equal(tm_seg_deletes_add(d, &pk, 2000 + i, i % 2 ? -1 : 7), 0);
    }
}

static void assert_dels_equal(const struct tm_seg_deletes *a, const struct tm_seg_deletes *b)
{
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->pk.type, b->pk.type);
    assert_buf_equal(&a->pk.data, &b->pk.data);
    assert_buf_equal(&a->pk.ends, &b->pk.ends);
    assert_buf_equal(&a->ts, &b->ts);
    assert_buf_equal(&a->part, &b->part);
}

/* A segment's input: rows (the caller adds columns), one timestamp a row,
 * deletes. */
struct sample {
    struct tm_batch rows;
    struct tm_buf ts;
    struct tm_seg_deletes dels;
};

static void sample_init(struct sample *s, enum tm_dtype del_pk, uint32_t ndels)
{
    tm_batch_init(&s->rows);
    tm_buf_init(&s->ts);
    tm_seg_deletes_init(&s->dels, del_pk);
    add_dels(&s->dels, ndels);
}

/* Sets the row count once the columns are filled, and the timestamps. */
static void sample_rows(struct sample *s, uint32_t n)
{
    s->rows.nrows = n;
    s->ts.len = 0;
    fill_ts(&s->ts, n);
}

static void sample_free(struct sample *s)
{
    tm_batch_free(&s->rows);
    tm_buf_free(&s->ts);
    tm_seg_deletes_free(&s->dels);
}

static int sample_write(const struct sample *s, const char *dir, int64_t seg_id, bool dels,
                        struct tm_binlog_wstats *ws, char *err)
{
    struct tm_seg_meta meta = meta_for(seg_id);
    return tm_binlog_write_segment(dir, &meta, &s->rows, (const uint64_t *)s->ts.data,
                                   dels ? &s->dels : NULL, ws, err);
}

static void sample_write_ok(const struct sample *s, const char *dir, int64_t seg_id)
{
    char err[TM_BINLOG_ERRMSG];
    if (sample_write(s, dir, seg_id, true, NULL, err))
        fail_msg("%s", err);
}

static void read_stats(const char *rel, struct tm_seg_stats *st)
{
    char dir[256], err[TM_BINLOG_ERRMSG];
    seg_path(dir, sizeof dir, rel);
    if (tm_binlog_read_stats(dir, st, err))
        fail_msg("%s", err);
}

static void assert_meta(const struct tm_seg_meta *m, int64_t seg_id, const struct sample *s,
                        bool dels)
{
    struct tm_seg_meta want = meta_for(seg_id);
    assert_int_equal(m->seg_id, seg_id);
    assert_int_equal(m->coll_id, want.coll_id);
    assert_int_equal(m->part_id, want.part_id);
    assert_int_equal(m->shard, want.shard);
    assert_int_equal(m->log_index, want.log_index);
    assert_int_equal(m->last_ts, want.last_ts);
    assert_int_equal(m->nrows, s->rows.nrows);
    assert_int_equal(m->ndeletes, dels ? s->dels.n : 0);
}

/* Writes, reads back whole and column by column, and compares. */
static void round_trip(const char *rel, int64_t seg_id, const struct sample *s, bool dels)
{
    char dir[256], err[TM_BINLOG_ERRMSG];
    struct tm_binlog_wstats ws;
    seg_path(dir, sizeof dir, rel);
    int rc = sample_write(s, dir, seg_id, dels, &ws, err);
    if (rc)
        fail_msg("%s", err);
    assert_int_equal(ws.nfiles, s->rows.ncols + 1 + (dels && s->dels.n ? 1 : 0) + 2);
    assert_true(ws.stored_bytes > 0);

    struct tm_seg_meta m;
    struct tm_batch back;
    struct tm_buf ts_back;
    struct tm_seg_deletes dels_back;
    tm_batch_init(&back);
    tm_buf_init(&ts_back);
    rc = tm_binlog_read_segment(dir, &m, &back, &ts_back, &dels_back, err);
    if (rc)
        fail_msg("%s", err);
    assert_meta(&m, seg_id, s, dels);
    assert_batch_equal(&s->rows, &back);
    assert_buf_equal(&s->ts, &ts_back);
    if (dels)
        assert_dels_equal(&s->dels, &dels_back);
    else
        assert_int_equal(dels_back.n, 0);
    for (uint32_t i = 0; i < s->rows.ncols; i++) {
        struct tm_col c;
        assert_int_equal(tm_binlog_read_column(dir, s->rows.cols[i].field_id, &c, err), 0);
        assert_col_equal(&s->rows.cols[i], &c);
        tm_buf_free(&c.data), tm_buf_free(&c.ends), tm_buf_free(&c.valid);
    }
    tm_batch_free(&back);
    tm_buf_free(&ts_back);
    tm_seg_deletes_free(&dels_back);
}

/* ---- round trips ---- */

static const struct {
    int64_t id;
    enum tm_dtype type;
    uint32_t width;
    bool nullable;
} all_types[] = {
    {PK_FIELD, TM_T_INT64, 8, false},
    {101, TM_T_BOOL, 1, false},
    {102, TM_T_INT8, 1, false},
    {103, TM_T_INT16, 2, false},
    {104, TM_T_INT32, 4, false},
    {105, TM_T_INT64, 8, false},
    {106, TM_T_FLOAT, 4, false},
    {107, TM_T_DOUBLE, 8, false},
    {108, TM_T_VARCHAR, 0, false},
    {109, TM_T_JSON, 0, false},
    {110, TM_T_ARRAY, 0, false},
    {111, TM_T_FLOAT_VECTOR, 4 * 16, false},
    {112, TM_T_FLOAT16_VECTOR, 2 * 16, false},
    {113, TM_T_BFLOAT16_VECTOR, 2 * 16, false},
    {114, TM_T_BINARY_VECTOR, 16 / 8, false},
    {115, TM_T_INT8_VECTOR, 16, false},
    {116, TM_T_SPARSE_VECTOR, 0, false},
    {117, TM_T_INT32, 4, true},
    {118, TM_T_VARCHAR, 0, true},
    {119, TM_T_JSON, 0, true},
    {120, TM_T_FLOAT_VECTOR, 4 * 4, true},
    {121, TM_T_BOOL, 1, true},
    {122, TM_T_DOUBLE, 8, true},
    {123, TM_T_ARRAY, 0, true},
    {TM_META_FIELD_ID, TM_T_JSON, 0, false},
};

static void build_all_types(struct tm_batch *b, uint32_t n)
{
    tm_batch_init(b);
    for (size_t i = 0; i < sizeof all_types / sizeof all_types[0]; i++) {
        struct tm_col *c = tm_batch_add_col(b, all_types[i].id, all_types[i].type,
                                            all_types[i].width, all_types[i].nullable);
        if (all_types[i].id == PK_FIELD)
            fill_pk(c, n, -500);
        else
            fill_col(c, n, 40);
    }
    b->nrows = n;
}

static void test_round_trip_all_types(void **state)
{
    (void)state;
    struct sample s;
    struct tm_seg_stats st;
    rng_state = 1;
    sample_init(&s, TM_T_INT64, 50);
    build_all_types(&s.rows, 1000);
    sample_rows(&s, 1000);
    round_trip("c42/p7/s1/seg-7", 7, &s, true);
    read_stats("c42/p7/s1/seg-7", &st);
    assert_int_equal(st.pk_type, TM_T_INT64);
    assert_int_equal(st.nrows, 1000);
    assert_true(st.has_range);
    assert_int_equal(st.min_i, -500);
    assert_int_equal(st.max_i, -500 + 3 * 999);
    tm_seg_stats_free(&st);
    sample_free(&s);
}

static void test_round_trip_varchar_pk(void **state)
{
    (void)state;
    struct sample s;
    struct tm_seg_stats st;
    rng_state = 2;
    sample_init(&s, TM_T_VARCHAR, 77);
    fill_pk(tm_batch_add_col(&s.rows, PK_FIELD, TM_T_VARCHAR, 0, false), 300, 10);
    fill_col(tm_batch_add_col(&s.rows, 101, TM_T_FLOAT_VECTOR, 32, false), 300, 0);
    sample_rows(&s, 300);
    round_trip("seg-8", 8, &s, true);
    read_stats("seg-8", &st);
    assert_int_equal(st.pk_type, TM_T_VARCHAR);
    assert_int_equal(st.min_s.len, 12);
    assert_memory_equal(st.min_s.data, "key-00000010", 12);
    assert_memory_equal(st.max_s.data, "key-00000907", 12);
    struct tm_pk in = {.is_str = true, .s = "key-00000013", .len = 12};
    assert_true(tm_bloom_maybe(&st.bloom, &in));
    tm_seg_stats_free(&st);
    sample_free(&s);
}

/* No rows: the layout's columns with zero blocks; with and without deletes,
 * and with no columns at all (the deletes then give the pk type). */
static void test_empty_segment(void **state)
{
    (void)state;
    struct sample s;
    struct tm_seg_stats st;
    sample_init(&s, TM_T_INT64, 3);
    build_all_types(&s.rows, 0);
    round_trip("empty", 9, &s, false);
    round_trip("deletes-only", 10, &s, true);
    sample_free(&s);
    sample_init(&s, TM_T_VARCHAR, 3);
    round_trip("nothing", 11, &s, true);
    round_trip("nothing-at-all", 12, &s, false);
    read_stats("empty", &st);
    assert_false(st.has_range);
    assert_int_equal(st.nrows, 0);
    tm_seg_stats_free(&st);
    sample_free(&s);
}

/* Columns over several blocks: by row count (64 Ki) and by bytes (1 MiB);
 * every block read on its own matches its rows. */
static void test_multi_block(void **state)
{
    (void)state;
    const uint32_t n = 150000;
    struct sample s;
    rng_state = 3;
    sample_init(&s, TM_T_INT64, 70000);
    fill_pk(tm_batch_add_col(&s.rows, PK_FIELD, TM_T_INT64, 8, false), n, 0);
    fill_col(tm_batch_add_col(&s.rows, 101, TM_T_FLOAT_VECTOR, 32, true), n, 0);
    fill_col(tm_batch_add_col(&s.rows, 102, TM_T_VARCHAR, 0, true), n, 30);
    sample_rows(&s, n);
    round_trip("multi", 12, &s, true);

    char dir[256], err[TM_BINLOG_ERRMSG];
    const struct tm_col *vec = &s.rows.cols[1];
    seg_path(dir, sizeof dir, "multi");
    struct tm_binlog_col_reader *r;
    assert_int_equal(tm_binlog_col_open(dir, PK_FIELD, &r, err), 0);
    assert_int_equal(tm_binlog_col_nblocks(r), 3); /* 65536 + 65536 + 18928 */
    tm_binlog_col_close(r);
    assert_int_equal(tm_binlog_col_open(dir, 101, &r, err), 0);
    assert_int_equal(tm_binlog_col_nrows(r), n);
    uint32_t nb = tm_binlog_col_nblocks(r);
    assert_true(nb >= 5);             /* 33 bytes a row: 1 MiB is ~31775 rows */
    for (uint32_t i = nb; i-- > 0;) { /* backwards: blocks are independent */
        struct tm_binlog_block_info bi;
        struct tm_col c;
        tm_binlog_col_block_info(r, i, &bi);
        tm_binlog_col_layout(r, &c);
        assert_int_equal(tm_binlog_col_read_block(r, i, &c, err), 0);
        assert_int_equal(c.data.len, (size_t)bi.nrows * 32);
        assert_memory_equal(c.data.data, vec->data.data + bi.first_row * 32, c.data.len);
        assert_memory_equal(c.valid.data, vec->valid.data + bi.first_row, bi.nrows);
        tm_buf_free(&c.data), tm_buf_free(&c.valid);
    }
    assert_int_equal(tm_binlog_col_read_block(r, nb, NULL, err), TM_EINVAL);
    tm_binlog_col_close(r);
    struct tm_col none;
    assert_int_equal(tm_binlog_read_column(dir, 999, &none, err), TM_ENOTFOUND);
    sample_free(&s);
}

static void test_bad_input(void **state)
{
    (void)state;
    struct sample s;
    char dir[256], err[TM_BINLOG_ERRMSG];
    struct tm_seg_meta meta = meta_for(13);
    seg_path(dir, sizeof dir, "bad");
    sample_init(&s, TM_T_VARCHAR, 2);
    fill_pk(tm_batch_add_col(&s.rows, PK_FIELD, TM_T_INT64, 8, false), 10, 0);
    fill_col(tm_batch_add_col(&s.rows, 101, TM_T_INT32, 4, false), 9, 0); /* one row short */
    sample_rows(&s, 10);
    assert_int_equal(sample_write(&s, dir, 13, false, NULL, err), TM_EINVAL);
    fill_col(&s.rows.cols[1], 1, 0);
    assert_int_equal(sample_write(&s, dir, 13, true, NULL, err), TM_EINVAL); /* pk types differ */
    assert_int_equal(tm_binlog_write_segment(dir, &meta, &s.rows, NULL, NULL, NULL, err),
                     TM_EINVAL);
    meta.pk_field_id = 101; /* an Int32 pk */
    const uint64_t *t = (const uint64_t *)s.ts.data;
    assert_int_equal(tm_binlog_write_segment(dir, &meta, &s.rows, t, NULL, NULL, err), TM_EINVAL);
    assert_int_equal(sample_write(&s, dir, 13, false, NULL, err), 0);
    assert_int_equal(sample_write(&s, dir, 13, false, NULL, err), TM_EEXIST);
    struct tm_seg_meta m;
    assert_int_equal(tm_binlog_read_segment(root, &m, NULL, NULL, NULL, err), TM_ENOTFOUND);
    sample_free(&s);
}

/* ---- corruption ---- */

static void write_small_segment(const char *dir, int64_t seg_id)
{
    struct sample s;
    rng_state = 4;
    sample_init(&s, TM_T_VARCHAR, 20);
    fill_pk(tm_batch_add_col(&s.rows, PK_FIELD, TM_T_VARCHAR, 0, false), 40, 0);
    /* 300 KB values of a repeated byte: 4 blocks by size, a few hundred
     * bytes compressed, so every byte of a multi-block file can be tried. */
    struct tm_col *big = tm_batch_add_col(&s.rows, 101, TM_T_JSON, 0, true);
    static uint8_t val[300000];
    for (uint32_t i = 0; i < 40; i++) {
        memset(val, 'a' + (int)(i % 26), sizeof val);
        assert_int_equal(
            i % 5 == 4 ? tm_col_push_null(big) : tm_col_push(big, val, i < 16 ? sizeof val : i), 0);
    }
    sample_rows(&s, 40);
    sample_write_ok(&s, dir, seg_id);
    sample_free(&s);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(*len);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, *len, f), *len);
    fclose(f);
    return p;
}

static void spit(const char *path, const uint8_t *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, len, f), len);
    fclose(f);
}

/* Every reader must refuse the segment and say which file and where; no
 * rows may come back. */
static void assert_refused(const char *dir, const char *file, int64_t field, const char *how)
{
    char err[TM_BINLOG_ERRMSG];
    struct tm_seg_meta m;
    struct tm_batch rows;
    struct tm_buf ts;
    struct tm_seg_deletes d;
    tm_batch_init(&rows);
    tm_buf_init(&ts);
    int rc = tm_binlog_read_segment(dir, &m, &rows, &ts, &d, err);
    if (rc != TM_ECORRUPT || !strstr(err, file) || !strstr(err, "offset"))
        fail_msg("%s %s: rc %d: %s", file, how, rc, err);
    assert_int_equal(rows.ncols, 0);
    assert_int_equal(ts.len, 0);
    assert_int_equal(d.n, 0);
    /* A column read touches its own file and the manifest (which checks
     * every file's header and index), so it must fail for those. */
    struct tm_col c;
    if (field < 0)
        return;
    rc = tm_binlog_read_column(dir, field, &c, err);
    if (rc != TM_ECORRUPT || !strstr(err, file))
        fail_msg("column %lld, %s %s: rc %d: %s", (long long)field, file, how, rc, err);
    assert_null(c.data.data);
}

static bool header_or_index(size_t off, size_t len)
{
    /* index entries of a file with a few blocks sit in the last 200 bytes */
    return off < BL_HDR_SIZE || off + 200 >= len;
}

static void corrupt_file(const char *name, int64_t field)
{
    char dir[256], path[300];
    seg_path(dir, sizeof dir, "corrupt");
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t len;
    uint8_t *orig = slurp(path, &len);
    uint8_t *p = malloc(len + 1);
    char how[64];
    unsigned tried = 0;
    size_t step = len > 6000 ? 7 : 1;
    for (size_t off = 0; off < len; off++) {
        if (!header_or_index(off, len) && off % step)
            continue;
        memcpy(p, orig, len);
        p[off] ^= (uint8_t)(1u << (off % 8));
        spit(path, p, len);
        snprintf(how, sizeof how, "flip at %zu", off);
        assert_refused(dir, name, field, how);
        tried++;
    }
    for (size_t cut = 0; cut < len; cut += cut < BL_HDR_SIZE + 64 || cut + 300 > len ? 1 : step) {
        spit(path, orig, cut);
        snprintf(how, sizeof how, "truncated to %zu", cut);
        assert_refused(dir, name, field, how);
        tried++;
    }
    memcpy(p, orig, len);
    p[len] = 0;
    spit(path, p, len + 1);
    assert_refused(dir, name, field, "one byte appended");
    spit(path, orig, len);
    print_message("%s: %zu bytes, %u damaged copies refused\n", name, len, tried + 1);
    free(p);
    free(orig);
}

static void test_corrupt_each_file_kind(void **state)
{
    (void)state;
    char dir[256], err[TM_BINLOG_ERRMSG];
    seg_path(dir, sizeof dir, "corrupt");
    write_small_segment(dir, 21);
    struct tm_binlog_col_reader *r;
    assert_int_equal(tm_binlog_col_open(dir, 101, &r, err), 0);
    assert_true(tm_binlog_col_nblocks(r) >= 4);
    tm_binlog_col_close(r);
    corrupt_file("101.col", 101);
    corrupt_file("100.col", 100);
    corrupt_file("0.col", TM_BINLOG_TS_FIELD);
    corrupt_file("delta.log", -1);
    corrupt_file("stats.log", -1);
    corrupt_file("MANIFEST", 101);
    struct tm_seg_meta m;
    assert_int_equal(tm_binlog_read_segment(dir, &m, NULL, NULL, NULL, err), 0);
}

/* A missing file, or one swapped in from another segment, is refused too. */
static void test_missing_and_swapped(void **state)
{
    (void)state;
    char a[256], b[256], pa[300], pb[300], err[TM_BINLOG_ERRMSG];
    struct tm_seg_meta m;
    seg_path(a, sizeof a, "swap-a");
    seg_path(b, sizeof b, "swap-b");
    write_small_segment(a, 31);
    write_small_segment(b, 32);
    snprintf(pa, sizeof pa, "%s/100.col", a);
    snprintf(pb, sizeof pb, "%s/100.col", b);
    assert_int_equal(rename(pb, pa), 0);
    assert_int_equal(tm_binlog_read_segment(a, &m, NULL, NULL, NULL, err), TM_ECORRUPT);
    assert_non_null(strstr(err, "100.col"));
    assert_int_equal(tm_binlog_read_segment(b, &m, NULL, NULL, NULL, err), TM_ECORRUPT);
    assert_non_null(strstr(err, "missing"));
}

/* ---- recovery ---- */

struct found {
    int n, corrupt;
    char dirs[16][256];
};

static int on_segment(void *arg, const char *dir, const struct tm_seg_meta *meta, int rc,
                      const char *errmsg)
{
    struct found *f = arg;
    (void)errmsg;
    if (rc) {
        f->corrupt++;
        return 0;
    }
    assert_non_null(meta);
    snprintf(f->dirs[f->n++], sizeof f->dirs[0], "%s", dir);
    return 0;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void write_sample(const char *dir, int64_t seg_id)
{
    struct sample s;
    sample_init(&s, TM_T_INT64, 5);
    build_all_types(&s.rows, 100);
    sample_rows(&s, 100);
    sample_write_ok(&s, dir, seg_id);
    sample_free(&s);
}

static const struct {
    enum tm_binlog_crash_point point;
    unsigned nth;
    bool exists; /* the segment is complete at this point */
} crash_points[] = {
    {TM_BINLOG_CRASH_BEFORE_FILES, 1, false},
    {TM_BINLOG_CRASH_BEFORE_RENAME, 1, false},
    {TM_BINLOG_CRASH_BEFORE_RENAME, 3, false},
    {TM_BINLOG_CRASH_BETWEEN_FILES, 1, false},
    {TM_BINLOG_CRASH_BETWEEN_FILES, 2, false},
    {TM_BINLOG_CRASH_BETWEEN_FILES, 20, false},
    {TM_BINLOG_CRASH_BEFORE_DIR_FSYNC, 1, false},
    {TM_BINLOG_CRASH_BEFORE_MANIFEST, 1, false},
    {TM_BINLOG_CRASH_BEFORE_MANIFEST_RENAME, 1, false},
    {TM_BINLOG_CRASH_BEFORE_FINAL_FSYNC, 1, true},
};

/* A forked writer _exits at each crash point; the scan then finds only the
 * segments that were complete and leaves nothing of the others. */
static void test_crash_points(void **state)
{
    (void)state;
    char done[256], dir[256], err[TM_BINLOG_ERRMSG];
    seg_path(done, sizeof done, "crash/done");
    write_sample(done, 50);
    for (size_t i = 0; i < sizeof crash_points / sizeof crash_points[0]; i++) {
        seg_path(dir, sizeof dir, "crash/p1/s0/seg-51");
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            tm_binlog_set_crash_point(crash_points[i].point, crash_points[i].nth,
                                      TM_BINLOG_CRASH_EXIT);
            write_sample(dir, 51);
            _exit(0);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), TM_BINLOG_CRASH_EXIT_CODE);

        struct found f = {0};
        char croot[256];
        seg_path(croot, sizeof croot, "crash");
        assert_int_equal(tm_binlog_scan(croot, on_segment, &f, err), 0);
        assert_int_equal(f.corrupt, 0);
        assert_int_equal(f.n, crash_points[i].exists ? 2 : 1);
        assert_string_equal(f.dirs[0], done);
        if (crash_points[i].exists) { /* remove it; the next scan drops its parents */
            assert_string_equal(f.dirs[1], dir);
            assert_int_equal(tm_binlog_remove_segment(dir, err), 0);
            assert_int_equal(tm_binlog_scan(croot, on_segment, &f, err), 0);
        }
        /* nothing left of the unfinished segment, not even its directories */
        seg_path(dir, sizeof dir, "crash/p1");
        assert_int_equal(count_entries(dir), -1);
        assert_int_equal(count_entries(croot), 1);
    }
}

/* The FAIL action leaves the files as a crash would; a rewrite into the
 * same directory then cleans them and succeeds. */
static void test_crash_fail_then_rewrite(void **state)
{
    (void)state;
    char dir[256], tmp[300], err[TM_BINLOG_ERRMSG];
    struct sample s;
    seg_path(dir, sizeof dir, "fail/seg-60");
    sample_init(&s, TM_T_INT64, 0);
    build_all_types(&s.rows, 10);
    sample_rows(&s, 10);
    tm_binlog_set_crash_point(TM_BINLOG_CRASH_BEFORE_RENAME, 2, TM_BINLOG_CRASH_FAIL);
    assert_int_equal(sample_write(&s, dir, 60, false, NULL, err), TM_EIO);
    snprintf(tmp, sizeof tmp, "%s/100.col.tmp", dir);
    assert_int_equal(access(tmp, F_OK), 0);
    assert_int_equal(count_entries(dir), 2); /* 0.col and 100.col.tmp */
    assert_int_equal(sample_write(&s, dir, 60, false, NULL, err), 0);
    assert_int_equal(access(tmp, F_OK), -1);
    struct tm_seg_meta m;
    assert_int_equal(tm_binlog_read_segment(dir, &m, NULL, NULL, NULL, err), 0);
    sample_free(&s);
}

/* Scan rules: strays in a valid segment go, a corrupt manifest is reported
 * and kept, empty directories go, a missing root is empty. */
static void test_scan_rules(void **state)
{
    (void)state;
    char sroot[256], a[256], b[256], p[300], err[TM_BINLOG_ERRMSG];
    seg_path(sroot, sizeof sroot, "scan");
    seg_path(a, sizeof a, "scan/x/a");
    seg_path(b, sizeof b, "scan/x/b");
    write_sample(a, 70);
    write_sample(b, 71);
    snprintf(p, sizeof p, "%s/7.col.tmp", a);
    spit(p, (const uint8_t *)"x", 1);
    snprintf(p, sizeof p, "%s/notes.txt", a); /* not ours: kept */
    spit(p, (const uint8_t *)"x", 1);
    snprintf(p, sizeof p, "%s/MANIFEST", b);
    size_t len;
    uint8_t *m = slurp(p, &len);
    m[len / 2] ^= 1;
    spit(p, m, len);
    free(m);
    seg_path(p, sizeof p, "scan/empty/deeper");
    assert_int_equal(bl_mkdirs(p, err), 0);

    struct found f = {0};
    assert_int_equal(tm_binlog_scan(sroot, on_segment, &f, err), 0);
    assert_int_equal(f.n, 1);
    assert_string_equal(f.dirs[0], a);
    assert_int_equal(f.corrupt, 1);
    snprintf(p, sizeof p, "%s/7.col.tmp", a);
    assert_int_equal(access(p, F_OK), -1);
    snprintf(p, sizeof p, "%s/notes.txt", a);
    assert_int_equal(access(p, F_OK), 0);
    assert_true(count_entries(b) > 3); /* the corrupt segment is left whole */
    seg_path(p, sizeof p, "scan/empty");
    assert_int_equal(count_entries(p), -1);

    seg_path(p, sizeof p, "no-such-root");
    assert_int_equal(tm_binlog_scan(p, on_segment, &f, err), 0);
}

/* ---- checksums and bloom ---- */

static void test_crc32c(void **state)
{
    (void)state;
    assert_int_equal(tm_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(tm_crc32c_sw(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(tm_crc32c(0, "", 0), 0);
    static uint8_t buf[4096];
    rng_state = 5;
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)rnd();
    for (size_t off = 0; off < 9; off++)
        for (size_t n = 0; n < 300; n += 1 + n / 16) {
            uint32_t hw = tm_crc32c(0, buf + off, n);
            assert_int_equal(hw, tm_crc32c_sw(0, buf + off, n));
            /* continuing a CRC equals one pass */
            assert_int_equal(
                tm_crc32c(tm_crc32c(0, buf + off, n / 2), buf + off + n / 2, n - n / 2), hw);
        }
}

static double bloom_fpr(bool str)
{
    const uint64_t n = 20000, probes = 200000;
    struct tm_bloom b;
    char s[32];
    assert_int_equal(tm_bloom_init(&b, n), 0);
    for (uint64_t i = 0; i < n; i++) {
        struct tm_pk pk = {.is_str = str, .i = (int64_t)(i * 7919), .s = s};
        pk.len = (uint32_t)snprintf(s, sizeof s, "k%llu", (unsigned long long)i * 7919);
        tm_bloom_add(&b, &pk);
    }
    for (uint64_t i = 0; i < n; i++) { /* no false negatives */
        struct tm_pk pk = {.is_str = str, .i = (int64_t)(i * 7919), .s = s};
        pk.len = (uint32_t)snprintf(s, sizeof s, "k%llu", (unsigned long long)i * 7919);
        assert_true(tm_bloom_maybe(&b, &pk));
    }
    uint64_t fp = 0;
    for (uint64_t i = 0; i < probes; i++) {
        uint64_t v = i * 7919 + 1 + i % 7000; /* never a multiple of 7919 */
        struct tm_pk pk = {.is_str = str, .i = (int64_t)v, .s = s};
        pk.len = (uint32_t)snprintf(s, sizeof s, "k%llu", (unsigned long long)v);
        fp += tm_bloom_maybe(&b, &pk);
    }
    tm_bloom_free(&b);
    return (double)fp / (double)probes;
}

static void test_bloom(void **state)
{
    (void)state;
    double fi = bloom_fpr(false), fs = bloom_fpr(true);
    print_message("bloom false-positive rate: int64 %.3f%%, varchar %.3f%% (documented 0.82%%)\n",
                  fi * 100, fs * 100);
    assert_true(fi > 0.003 && fi < 0.015);
    assert_true(fs > 0.003 && fs < 0.015);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_all_types, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_round_trip_varchar_pk, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_empty_segment, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_multi_block, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_bad_input, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_corrupt_each_file_kind, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_missing_and_swapped, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_crash_points, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_crash_fail_then_rewrite, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_scan_rules, setup_root, teardown_root),
        cmocka_unit_test(test_crc32c),
        cmocka_unit_test(test_bloom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
