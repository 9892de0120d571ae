/* Sealing and loading back (segment/store.h, store_seal.c).
 *
 * Store A applies a random history (inserts, override upserts that move
 * keys across partitions, deletes in one partition or all) and is sealed at
 * random points; store B is built only by loading A's sealed ranges, oldest
 * first. Every read of B at every timestamp must equal A's: the same rows in
 * the same order, the same counts, the same point reads. A seal must also
 * leave A's own reads unchanged, and new rows must go to new segments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seal_io.h"
#include "store.h"

#include <unistd.h>

#define PK 100
#define VAL 101
#define NKEYS 40
#define NOPS 600

static struct tm_field g_fields[2];
static struct tm_schema g_schema = {.fields = g_fields, .nfields = 2, .pk = 0};
static unsigned g_seed;
/* When set, seals travel through binlogs in this directory (seal_io.h). */
static const char *g_dir;
static uint64_t g_log_index;

static uint32_t rnd(void)
{
    g_seed = g_seed * 1103515245u + 12345u;
    return g_seed >> 8;
}

static void make_schema(enum tm_dtype pk_type)
{
    memset(g_fields, 0, sizeof g_fields);
    g_fields[0] = (struct tm_field){
        .id = PK, .name = "pk", .type = pk_type, .primary = true, .max_length = 16};
    g_fields[1] = (struct tm_field){.id = VAL, .name = "val", .type = TM_T_INT32};
}

static struct tm_store *new_store(void)
{
    struct tm_store *s = tm_store_new(1);
    assert_int_equal(tm_store_set_schema(s, &g_schema), 0);
    return s;
}

static void push_key(struct tm_col *c, int64_t id)
{
    if (c->type == TM_T_INT64) {
        assert_int_equal(tm_col_push(c, &id, 8), 0);
    } else {
        char k[16];
        int n = snprintf(k, sizeof k, "k%lld", (long long)id);
        assert_int_equal(tm_col_push(c, k, (size_t)n), 0);
    }
}

/* One entry of one key: kind, partition (-1 for a delete in all). */
static void apply1(struct tm_store *s, enum tm_entry_kind kind, uint64_t ts, int64_t part,
                   int64_t id, int32_t val)
{
    struct tm_batch rows, pks;
    tm_batch_init(&rows);
    tm_batch_init(&pks);
    assert_int_equal(tm_batch_layout_from_schema(&rows, &g_schema), 0);
    struct tm_col *pkc =
        tm_batch_add_col(&pks, PK, g_fields[0].type, tm_field_width(&g_fields[0]), false);
    if (kind != TM_ENTRY_DELETE) {
        push_key(tm_batch_col(&rows, PK), id);
        assert_int_equal(tm_col_push(tm_batch_col(&rows, VAL), &val, 4), 0);
        rows.nrows = 1;
    }
    if (kind != TM_ENTRY_INSERT) {
        push_key(pkc, id);
        pks.nrows = 1;
    }
    struct tm_entry_hdr h = {
        .version = TM_ENTRY_VERSION, .kind = kind, .ts = ts, .coll_id = 1, .part_id = part};
    pthread_rwlock_wrlock(&s->lock);
    assert_int_equal(tm_store_apply(s, &h, kind == TM_ENTRY_DELETE ? NULL : &rows,
                                    kind == TM_ENTRY_INSERT ? NULL : &pks, PK),
                     0);
    pthread_rwlock_unlock(&s->lock);
    tm_batch_free(&rows);
    tm_batch_free(&pks);
}

/* Writes the seal as binlogs, reads it back and loads that into b. */
static void load_via_disk(struct tm_store *b, const struct tm_seal *seal)
{
    char err[TM_BINLOG_ERRMSG] = "";
    struct tm_seg_meta range = {.seg_id = (int64_t)g_log_index * 100,
                                .coll_id = 1,
                                .shard = 0,
                                .pk_field_id = PK,
                                .log_index = ++g_log_index};
    uint32_t nsegs;
    if (tm_seal_write(g_dir, &range, seal, g_fields[0].type, NULL, &nsegs, err))
        fail_msg("seal write: %s", err);
    struct tm_seal_owned o;
    int rc = tm_seal_read(g_dir, range.log_index, &o, err);
    if (rc == TM_ENOTFOUND && seal->nparts == 0 && seal->ndels == 0) {
        tm_seal_owned_free(&o);
        return; /* an empty range writes nothing */
    }
    if (rc)
        fail_msg("seal read: %s", err);
    assert_int_equal(o.seal.nparts, seal->nparts);
    assert_int_equal(o.seal.ndels, seal->ndels);
    assert_int_equal(tm_store_load_sealed(b, &o.seal), 0);
    tm_seal_owned_free(&o);
}

/* Seals a and loads the range into b. */
static void seal_into(struct tm_store *a, struct tm_store *b)
{
    struct tm_seal seal;
    pthread_rwlock_wrlock(&a->lock);
    assert_int_equal(tm_store_seal(a, &seal), 0);
    pthread_rwlock_unlock(&a->lock);
    for (uint32_t i = 0; i < a->nsegs; i++)
        assert_true(a->segs[i].sealed);
    pthread_rwlock_wrlock(&b->lock);
    if (g_dir)
        load_via_disk(b, &seal);
    else
        assert_int_equal(tm_store_load_sealed(b, &seal), 0);
    pthread_rwlock_unlock(&b->lock);
    tm_seal_free(&seal);
}

/* A's and B's reads at ts, whole and per partition, must be identical. */
static void compare_at(struct tm_store *a, struct tm_store *b, uint64_t ts, const int64_t *parts,
                       uint32_t nparts)
{
    static const int64_t fields[] = {VAL};
    struct tm_store_read q = {
        .ts = ts, .parts = parts, .nparts = nparts, .fields = fields, .nfields = 1};
    struct tm_batch ra, rb;
    struct tm_mpw wa, wb;
    tm_batch_init(&ra);
    tm_batch_init(&rb);
    assert_int_equal(tm_store_read(a, NULL, &q, &ra), 0);
    assert_int_equal(tm_store_read(b, NULL, &q, &rb), 0);
    tm_mpw_init(&wa);
    tm_mpw_init(&wb);
    tm_batch_encode(&wa, &ra);
    tm_batch_encode(&wb, &rb);
    if (ra.nrows != rb.nrows || wa.buf.len != wb.buf.len ||
        memcmp(wa.buf.data, wb.buf.data, wa.buf.len) != 0)
        fail_msg("seed %u ts %llu: %u rows read from the live store, %u after loading seals",
                 g_seed, (unsigned long long)ts, ra.nrows, rb.nrows);
    uint64_t na, nb;
    assert_int_equal(tm_store_count(a, &q, &na), 0);
    assert_int_equal(tm_store_count(b, &q, &nb), 0);
    assert_int_equal(na, nb);
    assert_int_equal(na, ra.nrows);
    tm_mpw_free(&wa);
    tm_mpw_free(&wb);
    tm_batch_free(&ra);
    tm_batch_free(&rb);
}

/* The same visible rows (as a set: compaction reorders rows) at ts. */
static void compare_rows_at(struct tm_store *a, struct tm_store *b, uint64_t ts)
{
    static const int64_t fields[] = {VAL};
    struct tm_store_read q = {.ts = ts, .fields = fields, .nfields = 1};
    uint64_t na, nb;
    assert_int_equal(tm_store_count(a, &q, &na), 0);
    assert_int_equal(tm_store_count(b, &q, &nb), 0);
    if (na != nb)
        fail_msg("seed %u ts %llu: %llu rows live, %llu after compaction", g_seed,
                 (unsigned long long)ts, (unsigned long long)na, (unsigned long long)nb);
    for (int64_t id = 0; id < NKEYS; id++) {
        struct tm_batch pks, ra, rb;
        tm_batch_init(&pks);
        tm_batch_init(&ra);
        tm_batch_init(&rb);
        push_key(tm_batch_add_col(&pks, PK, g_fields[0].type, tm_field_width(&g_fields[0]), false),
                 id);
        pks.nrows = 1;
        assert_int_equal(tm_store_read(a, &pks, &q, &ra), 0);
        assert_int_equal(tm_store_read(b, &pks, &q, &rb), 0);
        assert_int_equal(ra.nrows, rb.nrows);
        if (ra.nrows) {
            size_t la, lb;
            const uint8_t *va = tm_col_value(tm_batch_col(&ra, VAL), 0, &la);
            const uint8_t *vb = tm_col_value(tm_batch_col(&rb, VAL), 0, &lb);
            if (memcmp(va, vb, 4) != 0)
                fail_msg("seed %u ts %llu key %lld: another version after compaction", g_seed,
                         (unsigned long long)ts, (long long)id);
        }
        tm_batch_free(&pks);
        tm_batch_free(&ra);
        tm_batch_free(&rb);
    }
}

static void random_history(enum tm_dtype pk_type, unsigned seed)
{
    make_schema(pk_type);
    g_seed = seed;
    struct tm_store *a = new_store(), *b = new_store();
    uint64_t ts = 10;
    for (int op = 0; op < NOPS; op++, ts += 1 + rnd() % 3) {
        int64_t id = rnd() % NKEYS, part = 1 + rnd() % 3;
        uint32_t kind = rnd() % 10;
        if (kind < 4)
            apply1(a, TM_ENTRY_INSERT, ts, part, id, op);
        else if (kind < 7)
            apply1(a, TM_ENTRY_UPSERT, ts, part, id, op);
        else
            apply1(a, TM_ENTRY_DELETE, ts, kind == 9 ? -1 : part, id, 0);
        if (rnd() % 60 == 0)
            seal_into(a, b);
    }
    seal_into(a, b);
    static const int64_t p2[] = {2}, p13[] = {1, 3};
    for (uint64_t t = 0; t <= ts + 1; t++) {
        compare_at(a, b, t, NULL, 0);
        compare_at(a, b, t, p2, 1);
        compare_at(a, b, t, p13, 2);
    }
    /* Compaction at a retention point r keeps every read at or after r. */
    for (uint64_t r = 10; r <= ts; r += ts / 4) {
        struct tm_seal_owned o;
        struct tm_store *c = new_store();
        assert_int_equal(tm_store_compact(a, r, &o), 0);
        assert_int_equal(tm_store_load_sealed(c, &o.seal), 0);
        for (uint64_t t = r; t <= ts + 1; t++)
            compare_rows_at(a, c, t);
        tm_seal_owned_free(&o);
        tm_store_free(c);
    }
    /* After a seal, new rows start new growing segments in both. */
    uint32_t before = a->nsegs;
    apply1(a, TM_ENTRY_INSERT, ts + 5, 2, 1000, 7);
    apply1(b, TM_ENTRY_INSERT, ts + 5, 2, 1000, 7);
    assert_int_equal(a->nsegs, before + 1);
    assert_false(a->segs[a->nsegs - 1].sealed);
    compare_at(a, b, ts + 5, NULL, 0);
    tm_store_free(a);
    tm_store_free(b);
}

static void test_int_keys(void **state)
{
    (void)state;
    for (unsigned seed = 1; seed <= 20; seed++)
        random_history(TM_T_INT64, seed);
}

static void test_varchar_keys(void **state)
{
    (void)state;
    for (unsigned seed = 101; seed <= 110; seed++)
        random_history(TM_T_VARCHAR, seed);
}

/* The same histories, with every seal written to binlogs and read back. */
static void test_through_binlogs(void **state)
{
    (void)state;
    char dir[] = "/tmp/tm-seal-XXXXXX";
    assert_non_null(mkdtemp(dir));
    g_dir = dir;
    for (unsigned seed = 201; seed <= 206; seed++)
        random_history(seed % 2 ? TM_T_INT64 : TM_T_VARCHAR, seed);
    g_dir = NULL;
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* A range whose rows go back in time is refused, not linked wrongly. */
static void test_out_of_order_refused(void **state)
{
    (void)state;
    make_schema(TM_T_INT64);
    struct tm_store *s = new_store();
    struct tm_batch rows;
    tm_batch_init(&rows);
    assert_int_equal(tm_batch_layout_from_schema(&rows, &g_schema), 0);
    for (int64_t id = 0; id < 2; id++) {
        int32_t v = 0;
        push_key(tm_batch_col(&rows, PK), id);
        assert_int_equal(tm_col_push(tm_batch_col(&rows, VAL), &v, 4), 0);
    }
    rows.nrows = 2;
    uint64_t ts[2] = {20, 10};
    struct tm_sealed_part part = {.part_id = 1, .rows = &rows, .ts = ts};
    struct tm_seal seal = {.parts = &part, .nparts = 1};
    assert_int_equal(tm_store_load_sealed(s, &seal), TM_ECORRUPT);
    tm_batch_free(&rows);
    tm_store_free(s);
}

/* A range copied for the writer thread (tm_seal_copy) is written after the
 * store went on: rows in 200 new partitions (its segment array moved) and
 * more deletes (its delete array moved). What is read back is the sealed
 * range alone. */
static void test_copy_written_after_the_store_moved_on(void **state)
{
    (void)state;
    make_schema(TM_T_VARCHAR);
    struct tm_store *s = new_store();
    uint64_t ts = 0;
    for (int64_t id = 0; id < 50; id++)
        apply1(s, TM_ENTRY_INSERT, ++ts, 1, id, (int32_t)id);
    apply1(s, TM_ENTRY_DELETE, ++ts, -1, 7, 0);
    struct tm_seal seal;
    struct tm_seal_copy copy;
    char err[TM_BINLOG_ERRMSG] = "";
    pthread_rwlock_wrlock(&s->lock);
    assert_int_equal(tm_store_seal(s, &seal), 0);
    pthread_rwlock_unlock(&s->lock);
    assert_int_equal(tm_seal_copy(&seal, TM_T_VARCHAR, &copy, err), 0);
    tm_seal_free(&seal);
    assert_int_equal(tm_seal_copy_nsegs(&copy), 1);
    for (int64_t p = 2; p < 202; p++) {
        apply1(s, TM_ENTRY_INSERT, ++ts, p, 1000 + p, 0);
        apply1(s, TM_ENTRY_DELETE, ++ts, -1, 1000 + p, 0);
    }
    char dir[] = "/tmp/tm-seal-copy-XXXXXX", cmd[64];
    assert_non_null(mkdtemp(dir));
    struct tm_seg_meta range = {.coll_id = 1, .pk_field_id = PK, .log_index = 9, .last_ts = 9};
    assert_int_equal(tm_seal_copy_write(dir, &range, &copy, err), 0);
    tm_seal_copy_free(&copy);
    struct tm_seal_owned o;
    assert_int_equal(tm_seal_read(dir, 9, &o, err), 0);
    assert_int_equal(o.seal.nparts, 1);
    assert_int_equal(o.seal.ndels, 1);
    assert_int_equal(o.rows[0].nrows, 50);
    for (uint32_t i = 0; i < 50; i++) {
        size_t len;
        const uint8_t *k = tm_col_value(tm_batch_col(&o.rows[0], PK), i, &len);
        char want[16];
        snprintf(want, sizeof want, "k%u", i);
        assert_int_equal(len, strlen(want));
        assert_memory_equal(k, want, len);
    }
    tm_seal_owned_free(&o);
    tm_store_free(s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy_written_after_the_store_moved_on),
        cmocka_unit_test(test_int_keys),
        cmocka_unit_test(test_varchar_keys),
        cmocka_unit_test(test_through_binlogs),
        cmocka_unit_test(test_out_of_order_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
