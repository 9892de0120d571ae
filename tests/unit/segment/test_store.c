/* MVCC visibility of a collection's growing data (segment/store.h).
 *
 * The rule under test: at read timestamp R a key shows its newest version v
 * with ts(v) <= R, unless a delete d applying to v's partition has
 * ts(v) < ts(d) <= R. So an upsert (delete + insert at one T) shows exactly
 * one version to every reader, and a delete at T never hides the row written
 * at T. Every read below is checked both as a scan and as a point read, and
 * against tm_store_count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkindex.h"
#include "store.h"
#include "tm_err.h"

#define COLL 7
#define PK 100
#define VAL 101
#define NONE (-1)

/* ---- writing ---- */

/* A batch of int keys, with a value column when vals is given (rows), or
 * the key column only (a pks batch). */
static void rows_int(struct tm_batch *rows, const int64_t *ids, const int32_t *vals, uint32_t n)
{
    tm_batch_init(rows);
    struct tm_col *pk = tm_batch_add_col(rows, PK, TM_T_INT64, 8, false);
    struct tm_col *val = vals ? tm_batch_add_col(rows, VAL, TM_T_INT32, 4, false) : NULL;
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(tm_col_push(pk, &ids[i], 8), 0);
        if (vals)
            assert_int_equal(tm_col_push(val, &vals[i], 4), 0);
    }
    rows->nrows = n;
}

static void rows_str(struct tm_batch *rows, const char *const *ids, const int32_t *vals, uint32_t n)
{
    tm_batch_init(rows);
    struct tm_col *pk = tm_batch_add_col(rows, PK, TM_T_VARCHAR, 0, false);
    struct tm_col *val = vals ? tm_batch_add_col(rows, VAL, TM_T_INT32, 4, false) : NULL;
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(tm_col_push(pk, ids[i], strlen(ids[i])), 0);
        if (vals)
            assert_int_equal(tm_col_push(val, &vals[i], 4), 0);
    }
    rows->nrows = n;
}

static void apply(struct tm_store *s, enum tm_entry_kind kind, uint64_t ts, int64_t part,
                  struct tm_batch *rows, struct tm_batch *pks)
{
    struct tm_entry_hdr h = {
        .version = TM_ENTRY_VERSION, .kind = kind, .ts = ts, .coll_id = COLL, .part_id = part};
    pthread_rwlock_wrlock(&s->lock);
    int rc = tm_store_apply(s, &h, kind == TM_ENTRY_DELETE ? NULL : rows,
                            kind == TM_ENTRY_INSERT ? NULL : pks, PK);
    pthread_rwlock_unlock(&s->lock);
    assert_int_equal(rc, 0);
}

/* Writes one entry of int keys: rows (ids, vals) and/or pks (ids). */
static void write_int(struct tm_store *s, enum tm_entry_kind kind, uint64_t ts, int64_t part,
                      const int64_t *ids, const int32_t *vals, uint32_t n)
{
    struct tm_batch rows, pks;
    rows_int(&rows, ids, vals ? vals : (const int32_t[]){0}, kind == TM_ENTRY_DELETE ? 0 : n);
    rows_int(&pks, ids, NULL, kind == TM_ENTRY_INSERT ? 0 : n);
    apply(s, kind, ts, part, &rows, &pks);
    tm_batch_free(&rows);
    tm_batch_free(&pks);
}

static void insert1(struct tm_store *s, uint64_t ts, int64_t part, int64_t id, int32_t val)
{
    write_int(s, TM_ENTRY_INSERT, ts, part, &id, &val, 1);
}

static void upsert1(struct tm_store *s, uint64_t ts, int64_t part, int64_t id, int32_t val)
{
    write_int(s, TM_ENTRY_UPSERT, ts, part, &id, &val, 1);
}

static void delete1(struct tm_store *s, uint64_t ts, int64_t part, int64_t id)
{
    write_int(s, TM_ENTRY_DELETE, ts, part, &id, NULL, 1);
}

/* ---- reading ---- */

static int read_q(struct tm_store *s, const struct tm_batch *pks, const struct tm_store_read *q,
                  struct tm_batch *out)
{
    tm_batch_init(out);
    pthread_rwlock_rdlock(&s->lock);
    int rc = tm_store_read(s, pks, q, out);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

static const int64_t g_val_field[] = {VAL};

static struct tm_store_read query(uint64_t ts, const int64_t *parts, uint32_t nparts)
{
    return (struct tm_store_read){
        .ts = ts, .parts = parts, .nparts = nparts, .fields = g_val_field, .nfields = 1};
}

/* Finds int key id in out: returns its value, NONE if absent, and fails
 * when the key appears more than once. */
static int32_t find_int(const struct tm_batch *out, int64_t id)
{
    if (out->nrows == 0)
        return NONE;
    const struct tm_col *pk = tm_batch_col(out, PK), *val = tm_batch_col(out, VAL);
    assert_non_null(pk);
    assert_non_null(val);
    int found = 0;
    int32_t v = NONE;
    for (uint32_t i = 0; i < out->nrows; i++) {
        if (tm_col_int64(pk, i) != id)
            continue;
        size_t len;
        memcpy(&v, tm_col_value(val, i, &len), 4);
        found++;
    }
    if (found > 1)
        fail_msg("key %lld seen %d times", (long long)id, found);
    return v;
}

/* The value key id shows at ts within parts (NULL = all), or NONE. Checks
 * that a scan and a point read agree. */
static int32_t seen(struct tm_store *s, uint64_t ts, int64_t id, const int64_t *parts,
                    uint32_t nparts)
{
    struct tm_store_read q = query(ts, parts, nparts);
    struct tm_batch all, one, pks;
    assert_int_equal(read_q(s, NULL, &q, &all), 0);
    int32_t a = find_int(&all, id);
    rows_int(&pks, &id, NULL, 1);
    assert_int_equal(read_q(s, &pks, &q, &one), 0);
    int32_t b = find_int(&one, id);
    assert_true(one.nrows <= 1);
    if (a != b)
        fail_msg("key %lld at ts %llu: scan sees %d, point read sees %d", (long long)id,
                 (unsigned long long)ts, a, b);
    tm_batch_free(&all);
    tm_batch_free(&one);
    tm_batch_free(&pks);
    return a;
}

static uint64_t count(struct tm_store *s, uint64_t ts, const int64_t *parts, uint32_t nparts)
{
    struct tm_store_read q = query(ts, parts, nparts);
    pthread_rwlock_rdlock(&s->lock);
    uint64_t n;
    assert_int_equal(tm_store_count(s, &q, &n), 0);
    pthread_rwlock_unlock(&s->lock);
    /* the count is the number of rows a scan returns */
    struct tm_batch out;
    assert_int_equal(read_q(s, NULL, &q, &out), 0);
    assert_int_equal(out.nrows, n);
    tm_batch_free(&out);
    return n;
}

static int setup(void **state)
{
    *state = tm_store_new(COLL);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    tm_store_free(*state);
    return 0;
}

/* ---- visibility ---- */

/* Insert at 10, upsert (delete + insert) at 20, delete at 30. */
static void test_upsert_visibility(void **state)
{
    struct tm_store *s = *state;
    insert1(s, 10, 1, 1, 111);
    upsert1(s, 20, 1, 1, 222);
    for (uint64_t ts = 0; ts <= 40; ts++) {
        int32_t want = ts < 10 ? NONE : ts < 20 ? 111 : 222;
        int32_t got = seen(s, ts, 1, NULL, 0);
        if (got != want)
            fail_msg("ts %llu: saw %d, want %d", (unsigned long long)ts, got, want);
        assert_int_equal(count(s, ts, NULL, 0), ts < 10 ? 0 : 1);
    }
    delete1(s, 30, 1, 1);
    for (uint64_t ts = 0; ts <= 40; ts++) {
        int32_t want = ts < 10 ? NONE : ts < 20 ? 111 : ts < 30 ? 222 : NONE;
        int32_t got = seen(s, ts, 1, NULL, 0);
        if (got != want)
            fail_msg("after delete, ts %llu: saw %d, want %d", (unsigned long long)ts, got, want);
    }
    assert_int_equal(count(s, UINT64_MAX, NULL, 0), 0);
    /* a later upsert brings the key back, still exactly once */
    upsert1(s, 50, 1, 1, 333);
    assert_int_equal(seen(s, 49, 1, NULL, 0), NONE);
    assert_int_equal(seen(s, 50, 1, NULL, 0), 333);
    assert_int_equal(seen(s, 25, 1, NULL, 0), 222);
}

/* The same scenario with the delete and the insert as separate entries at one ts. */
static void test_delete_at_t_never_hides_row_at_t(void **state)
{
    struct tm_store *s = *state;
    /* delete first, then insert, both at 20 */
    insert1(s, 10, 1, 2, 1);
    delete1(s, 20, 1, 2);
    insert1(s, 20, 1, 2, 2);
    assert_int_equal(seen(s, 19, 2, NULL, 0), 1);
    assert_int_equal(seen(s, 20, 2, NULL, 0), 2);
    assert_int_equal(seen(s, 99, 2, NULL, 0), 2);
    /* insert first, then delete, both at 20 */
    insert1(s, 20, 1, 3, 3);
    delete1(s, 20, 1, 3);
    assert_int_equal(seen(s, 20, 3, NULL, 0), 3);
    assert_int_equal(seen(s, 99, 3, NULL, 0), 3);
    /* a delete after the write hides it from then on */
    insert1(s, 10, 1, 4, 4);
    delete1(s, 20, 1, 4);
    assert_int_equal(seen(s, 19, 4, NULL, 0), 4);
    assert_int_equal(seen(s, 20, 4, NULL, 0), NONE);
    /* an all-partition delete at T does not hide the row written at T either */
    insert1(s, 30, 1, 5, 5);
    delete1(s, 30, -1, 5);
    assert_int_equal(seen(s, 30, 5, NULL, 0), 5);
}

/* Two rows with one key in one insert: one version is visible, never two. */
static void test_duplicate_key_in_one_entry(void **state)
{
    struct tm_store *s = *state;
    const int64_t ids[] = {8, 8, 9};
    const int32_t vals[] = {1, 2, 3};
    write_int(s, TM_ENTRY_INSERT, 10, 1, ids, vals, 3);
    assert_int_equal(seen(s, 10, 8, NULL, 0), 2); /* the later row wins */
    assert_int_equal(count(s, 10, NULL, 0), 2);
}

static void test_delete_unknown_key(void **state)
{
    struct tm_store *s = *state;
    delete1(s, 10, 1, 50); /* never inserted */
    assert_int_equal(count(s, 10, NULL, 0), 0);
    assert_int_equal(seen(s, 10, 50, NULL, 0), NONE);
    insert1(s, 20, 1, 50, 5);
    assert_int_equal(seen(s, 15, 50, NULL, 0), NONE);
    assert_int_equal(seen(s, 20, 50, NULL, 0), 5);
    assert_int_equal(count(s, 20, NULL, 0), 1);
}

/* ---- partitions ---- */

static void test_partition_scoped_delete(void **state)
{
    struct tm_store *s = *state;
    insert1(s, 10, 1, 5, 55);
    delete1(s, 20, 2, 5); /* another partition: no effect */
    assert_int_equal(seen(s, 25, 5, NULL, 0), 55);
    delete1(s, 30, 1, 5); /* its own partition */
    assert_int_equal(seen(s, 29, 5, NULL, 0), 55);
    assert_int_equal(seen(s, 30, 5, NULL, 0), NONE);

    insert1(s, 10, 2, 6, 66);
    delete1(s, 40, -1, 6); /* every partition */
    assert_int_equal(seen(s, 39, 6, NULL, 0), 66);
    assert_int_equal(seen(s, 40, 6, NULL, 0), NONE);
}

static void test_partition_filters(void **state)
{
    struct tm_store *s = *state;
    for (int64_t i = 0; i < 5; i++) {
        insert1(s, 10, 1, 10 + i, (int32_t)(10 + i));
        insert1(s, 10, 2, 20 + i, (int32_t)(20 + i));
    }
    const int64_t p1[] = {1}, p2[] = {2}, both[] = {2, 1}, p3[] = {3};
    assert_int_equal(count(s, 10, NULL, 0), 10);
    assert_int_equal(count(s, 10, p1, 1), 5);
    assert_int_equal(count(s, 10, p2, 1), 5);
    assert_int_equal(count(s, 10, both, 2), 10);
    assert_int_equal(count(s, 10, p3, 1), 0);
    assert_int_equal(count(s, 10, p1, 0), 0); /* an empty list selects nothing */
    for (int64_t i = 0; i < 5; i++) {
        assert_int_equal(seen(s, 10, 10 + i, p1, 1), 10 + i);
        assert_int_equal(seen(s, 10, 10 + i, p2, 1), NONE);
        assert_int_equal(seen(s, 10, 20 + i, p2, 1), 20 + i);
        assert_int_equal(seen(s, 10, 20 + i, p1, 1), NONE);
        assert_int_equal(seen(s, 10, 20 + i, both, 2), 20 + i);
    }
    /* deletes in one partition change only its count */
    delete1(s, 20, 1, 10);
    delete1(s, 20, 1, 20); /* 20 lives in partition 2: no effect */
    assert_int_equal(count(s, 20, p1, 1), 4);
    assert_int_equal(count(s, 20, p2, 1), 5);
}

/* An upsert's delete spans the collection: upserting a key into another
 * partition moves it there. */
static void test_upsert_moves_partition(void **state)
{
    struct tm_store *s = *state;
    const int64_t p1[] = {1}, p2[] = {2};
    insert1(s, 10, 1, 7, 1);
    upsert1(s, 20, 2, 7, 2);
    assert_int_equal(seen(s, 15, 7, p1, 1), 1);
    assert_int_equal(seen(s, 15, 7, p2, 1), NONE);
    assert_int_equal(seen(s, 25, 7, p1, 1), NONE);
    assert_int_equal(seen(s, 25, 7, p2, 1), 2);
    assert_int_equal(seen(s, 25, 7, NULL, 0), 2);
    assert_int_equal(count(s, 25, NULL, 0), 1);
    assert_int_equal(count(s, 15, NULL, 0), 1);
}

/* ---- counts, offsets, fields ---- */

static void test_count_many(void **state)
{
    struct tm_store *s = *state;
    enum { N = 5000, CHUNK = 500 };
    int64_t ids[CHUNK];
    int32_t vals[CHUNK];
    for (int64_t base = 0; base < N; base += CHUNK) {
        for (int i = 0; i < CHUNK; i++)
            ids[i] = base + i, vals[i] = (int32_t)(base + i);
        write_int(s, TM_ENTRY_INSERT, 10, 1, ids, vals, CHUNK);
    }
    assert_int_equal(count(s, 10, NULL, 0), N);
    int ndel = 0;
    for (int64_t i = 0; i < N; i += 3, ndel++)
        delete1(s, 20, 1, i);
    assert_int_equal(count(s, 15, NULL, 0), N);
    assert_int_equal(count(s, 20, NULL, 0), N - ndel);
    /* upserting live and deleted keys: each key still counts once */
    for (int i = 0; i < 10; i++)
        ids[i] = i, vals[i] = -i;
    write_int(s, TM_ENTRY_UPSERT, 30, 1, ids, vals, 10);
    assert_int_equal(count(s, 30, NULL, 0), N - ndel + 4); /* 0, 3, 6, 9 came back */
    assert_int_equal(seen(s, 30, 3, NULL, 0), -3);
    assert_int_equal(seen(s, 25, 3, NULL, 0), NONE);
    assert_int_equal(seen(s, 30, N - 1, NULL, 0), N - 1);
}

static void read_keys(struct tm_store *s, uint64_t offset, uint64_t limit, int64_t *keys,
                      uint32_t *n)
{
    struct tm_store_read q = query(100, NULL, 0);
    q.offset = offset;
    q.limit = limit;
    struct tm_batch out;
    assert_int_equal(read_q(s, NULL, &q, &out), 0);
    *n = out.nrows;
    for (uint32_t i = 0; i < out.nrows; i++)
        keys[i] = tm_col_int64(tm_batch_col(&out, PK), i);
    tm_batch_free(&out);
}

static void test_offset_limit(void **state)
{
    struct tm_store *s = *state;
    for (int64_t i = 0; i < 10; i++)
        insert1(s, 10 + (uint64_t)i, 1, 100 + i, (int32_t)i);
    int64_t keys[16];
    uint32_t n;
    read_keys(s, 0, 0, keys, &n); /* limit 0: no limit, insertion order */
    assert_int_equal(n, 10);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(keys[i], 100 + i);
    read_keys(s, 3, 4, keys, &n);
    assert_int_equal(n, 4);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(keys[i], 103 + i);
    read_keys(s, 8, 5, keys, &n);
    assert_int_equal(n, 2);
    assert_int_equal(keys[0], 108);
    read_keys(s, 10, 5, keys, &n);
    assert_int_equal(n, 0);
    read_keys(s, 1000, 0, keys, &n);
    assert_int_equal(n, 0);
    read_keys(s, 0, 1, keys, &n);
    assert_int_equal(n, 1);
    assert_int_equal(keys[0], 100);
}

/* A limit far beyond the row count means "the rest": offset + limit must not
 * wrap around (store.c computes q->offset + q->limit unchecked). */
static void test_offset_limit_overflow(void **state)
{
    struct tm_store *s = *state;
    for (int64_t i = 0; i < 10; i++)
        insert1(s, 10, 1, 100 + i, (int32_t)i);
    int64_t keys[16];
    uint32_t n;
    read_keys(s, 1, UINT64_MAX - 1000, keys, &n);
    assert_int_equal(n, 9);
    read_keys(s, 1, UINT64_MAX, keys, &n);
    assert_int_equal(n, 9);
    read_keys(s, 2, UINT64_MAX - 1, keys, &n);
    assert_int_equal(n, 8);
}

static void test_fields_returned(void **state)
{
    struct tm_store *s = *state;
    insert1(s, 10, 1, 1, 5);
    struct tm_batch out;
    struct tm_store_read q = {.ts = 10};
    assert_int_equal(read_q(s, NULL, &q, &out), 0); /* no fields: the pk only */
    assert_int_equal(out.ncols, 1);
    assert_int_equal(out.cols[0].field_id, PK);
    assert_int_equal(out.nrows, 1);
    tm_batch_free(&out);
    const int64_t fields[] = {999, PK, VAL};
    q.fields = fields;
    q.nfields = 3;
    assert_int_equal(read_q(s, NULL, &q, &out), 0); /* unknown ignored, pk not doubled */
    assert_int_equal(out.ncols, 2);
    assert_int_equal(out.cols[0].field_id, PK);
    assert_int_equal(out.cols[1].field_id, VAL);
    tm_batch_free(&out);
}

static void test_point_read_mixed_keys(void **state)
{
    struct tm_store *s = *state;
    const int64_t ids[] = {1, 2, 3};
    const int32_t vals[] = {10, 20, 30};
    write_int(s, TM_ENTRY_INSERT, 10, 1, ids, vals, 3);
    delete1(s, 20, 1, 2);
    const int64_t want[] = {3, 999, 2, 1};
    struct tm_batch pks, out;
    rows_int(&pks, want, NULL, 4);
    struct tm_store_read q = query(20, NULL, 0);
    assert_int_equal(read_q(s, &pks, &q, &out), 0);
    assert_int_equal(out.nrows, 2); /* 999 never existed, 2 is deleted */
    assert_int_equal(find_int(&out, 3), 30);
    assert_int_equal(find_int(&out, 1), 10);
    tm_batch_free(&out);
    /* a key listed twice (`pk in [1, 1]`) is still one row */
    const int64_t twice[] = {1, 1, 3, 1};
    struct tm_batch dup;
    rows_int(&dup, twice, NULL, 4);
    assert_int_equal(read_q(s, &dup, &q, &out), 0);
    assert_int_equal(out.nrows, 2);
    assert_int_equal(find_int(&out, 1), 10);
    tm_batch_free(&out);
    tm_batch_free(&dup);
    /* a pks batch must have exactly one column */
    struct tm_batch two;
    rows_int(&two, want, vals, 3);
    assert_int_equal(read_q(s, &two, &q, &out), TM_EINVAL);
    tm_batch_free(&out);
    tm_batch_free(&two);
    tm_batch_free(&pks);
}

static void test_empty_and_clear(void **state)
{
    struct tm_store *s = *state;
    struct tm_batch out;
    struct tm_store_read q = query(100, NULL, 0);
    assert_int_equal(read_q(s, NULL, &q, &out), 0);
    assert_int_equal(out.nrows, 0);
    tm_batch_free(&out);
    assert_int_equal(count(s, 100, NULL, 0), 0);
    insert1(s, 10, 1, 1, 1);
    assert_int_equal(count(s, 100, NULL, 0), 1);
    pthread_rwlock_wrlock(&s->lock);
    tm_store_clear(s);
    pthread_rwlock_unlock(&s->lock);
    assert_int_equal(count(s, 100, NULL, 0), 0);
    assert_int_equal(seen(s, 100, 1, NULL, 0), NONE);
    insert1(s, 200, 1, 1, 2); /* usable after a clear */
    assert_int_equal(seen(s, 200, 1, NULL, 0), 2);
}

/* ---- VarChar keys ---- */

static int32_t seen_str(struct tm_store *s, uint64_t ts, const char *id)
{
    struct tm_store_read q = query(ts, NULL, 0);
    struct tm_batch pks, out;
    rows_str(&pks, &id, NULL, 1);
    assert_int_equal(read_q(s, &pks, &q, &out), 0);
    int32_t v = NONE;
    assert_true(out.nrows <= 1);
    if (out.nrows) {
        size_t len;
        const uint8_t *p = tm_col_value(tm_batch_col(&out, PK), 0, &len);
        assert_int_equal(len, strlen(id));
        assert_memory_equal(p, id, len);
        memcpy(&v, tm_col_value(tm_batch_col(&out, VAL), 0, &len), 4);
    }
    tm_batch_free(&out);
    tm_batch_free(&pks);
    return v;
}

static void write_str(struct tm_store *s, enum tm_entry_kind kind, uint64_t ts, int64_t part,
                      const char *const *ids, const int32_t *vals, uint32_t n)
{
    struct tm_batch rows, pks;
    rows_str(&rows, ids, vals ? vals : (const int32_t[]){0}, kind == TM_ENTRY_DELETE ? 0 : n);
    rows_str(&pks, ids, NULL, kind == TM_ENTRY_INSERT ? 0 : n);
    apply(s, kind, ts, part, &rows, &pks);
    tm_batch_free(&rows);
    tm_batch_free(&pks);
}

static void test_varchar_keys(void **state)
{
    struct tm_store *s = *state;
    const char *const ids[] = {"a", "b", "\xc3\xbc", "", "ab"};
    const int32_t vals[] = {1, 2, 3, 4, 5};
    write_str(s, TM_ENTRY_INSERT, 10, 1, ids, vals, 5);
    const char *a = "a", *b = "b";
    const int32_t v2 = 11;
    write_str(s, TM_ENTRY_UPSERT, 20, 1, &a, &v2, 1);
    write_str(s, TM_ENTRY_DELETE, 30, 1, &b, NULL, 1);
    assert_int_equal(seen_str(s, 5, "a"), NONE);
    assert_int_equal(seen_str(s, 15, "a"), 1);
    assert_int_equal(seen_str(s, 20, "a"), 11);
    assert_int_equal(seen_str(s, 29, "b"), 2);
    assert_int_equal(seen_str(s, 30, "b"), NONE);
    assert_int_equal(seen_str(s, 30, "\xc3\xbc"), 3);
    assert_int_equal(seen_str(s, 30, ""), 4);
    assert_int_equal(seen_str(s, 30, "ab"), 5);
    assert_int_equal(seen_str(s, 30, "abc"), NONE);
    assert_int_equal(seen_str(s, 30, "A"), NONE);
    struct tm_store_read q = query(30, NULL, 0);
    pthread_rwlock_rdlock(&s->lock);
    uint64_t n;
    assert_int_equal(tm_store_count(s, &q, &n), 0);
    assert_int_equal(n, 4);
    q.ts = 20;
    assert_int_equal(tm_store_count(s, &q, &n), 0);
    assert_int_equal(n, 5);
    pthread_rwlock_unlock(&s->lock);
}

/* Rows of two shards, each applied as its shard's entries (a segment
 * holds one shard's rows). A shard read at 0 shows none of its rows, the
 * other shard's show at their own timestamp: what a query node answering
 * for some shards returns. With deletes, the per-key path must agree. */
static void shard_rows(struct tm_store *s, int64_t n, uint32_t *per_shard)
{
    per_shard[0] = per_shard[1] = 0;
    for (int64_t id = 0; id < n; id++) {
        struct tm_pk pk = {.i = id};
        int shard = tm_pk_shard(&pk, 2);
        pthread_rwlock_wrlock(&s->lock);
        s->apply_shard = shard;
        pthread_rwlock_unlock(&s->lock);
        insert1(s, 10, 1, id, (int32_t)id);
        per_shard[shard]++;
    }
}

static uint32_t rows_at(struct tm_store *s, uint64_t ts0, uint64_t ts1, int want_shard)
{
    const uint64_t ts[2] = {ts0, ts1};
    struct tm_store_read q = query(0, NULL, 0);
    q.shard_ts = ts;
    q.nshards = 2;
    struct tm_batch out;
    uint64_t n;
    assert_int_equal(read_q(s, NULL, &q, &out), 0);
    pthread_rwlock_rdlock(&s->lock);
    assert_int_equal(tm_store_count(s, &q, &n), 0);
    pthread_rwlock_unlock(&s->lock);
    assert_int_equal(n, out.nrows);
    for (uint32_t i = 0; i < out.nrows && want_shard >= 0; i++) {
        struct tm_pk pk = {.i = tm_col_int64(tm_batch_col(&out, PK), i)};
        assert_int_equal(tm_pk_shard(&pk, 2), want_shard);
    }
    tm_batch_free(&out);
    return (uint32_t)n;
}

static void test_shard_read_at_zero_shows_none(void **state)
{
    struct tm_store *s = *state;
    uint32_t per[2];
    shard_rows(s, 200, per);
    assert_true(per[0] > 0 && per[1] > 0);
    assert_int_equal(rows_at(s, 10, 10, -1), 200);
    assert_int_equal(rows_at(s, 10, 0, 0), per[0]);
    assert_int_equal(rows_at(s, 0, 10, 1), per[1]);
    assert_int_equal(rows_at(s, 0, 0, -1), 0);
    assert_int_equal(rows_at(s, 5, 10, 1), per[1]); /* shard 0 read before its rows */
    /* a delete leaves the only-versions fast path: the per-key path agrees */
    struct tm_pk pk = {.i = 0};
    pthread_rwlock_wrlock(&s->lock);
    s->apply_shard = tm_pk_shard(&pk, 2);
    pthread_rwlock_unlock(&s->lock);
    delete1(s, 20, 1, 0);
    uint32_t own = (uint32_t)tm_pk_shard(&pk, 2);
    assert_int_equal(rows_at(s, own ? 0 : 30, own ? 30 : 0, (int)own), per[own] - 1);
    assert_int_equal(rows_at(s, own ? 30 : 0, own ? 0 : 30, (int)!own), per[!own]);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_upsert_visibility),
        T(test_delete_at_t_never_hides_row_at_t),
        T(test_duplicate_key_in_one_entry),
        T(test_delete_unknown_key),
        T(test_partition_scoped_delete),
        T(test_partition_filters),
        T(test_upsert_moves_partition),
        T(test_count_many),
        T(test_offset_limit),
        T(test_offset_limit_overflow),
        T(test_fields_returned),
        T(test_point_read_mixed_keys),
        T(test_empty_and_clear),
        T(test_varchar_keys),
        T(test_shard_read_at_zero_shows_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
