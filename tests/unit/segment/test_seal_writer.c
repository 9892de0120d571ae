/* The sealer's background writer (segment/seal_writer.h): ranges written in
 * the order they were queued, busy until durable, waits that end when the
 * ranges are on disk or one failed, retries after a failure, and a cancel
 * that drops one shard's ranges. Each range is a deletes-only one (a
 * single delete record): what is written is seal_io's business
 * (test_store_seal.c). */
#include "seal_writer.h"
#include "tm_err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t g_done[64]; /* log indexes, in the order done was called */
static int g_ndone;
static char g_root[64];

static void on_done(void *arg, const struct tm_seal_job *job)
{
    (void)arg;
    pthread_mutex_lock(&g_mu);
    g_done[g_ndone++] = job->range.log_index;
    pthread_mutex_unlock(&g_mu);
}

static int ndone(void)
{
    pthread_mutex_lock(&g_mu);
    int n = g_ndone;
    pthread_mutex_unlock(&g_mu);
    return n;
}

static int setup(void **state)
{
    (void)state;
    g_ndone = 0;
    snprintf(g_root, sizeof g_root, "/tmp/tm-sealw-XXXXXX");
    return mkdtemp(g_root) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_root);
    return system(cmd) == 0 ? 0 : -1;
}

static struct tm_seal_job *job_of(int shard, uint64_t index, const char *sub)
{
    struct tm_seal_job *j = calloc(1, sizeof *j);
    assert_non_null(j);
    j->shard = shard;
    j->coll = 1;
    snprintf(j->dir, sizeof j->dir, "%s/%s", g_root, sub);
    j->range = (struct tm_seg_meta){
        .seg_id = index, .coll_id = 1, .pk_field_id = 100, .log_index = index, .last_ts = index};
    tm_seg_deletes_init(&j->copy.dels, TM_T_INT64);
    struct tm_pk pk = {.i = (int64_t)index};
    assert_int_equal(tm_seg_deletes_add(&j->copy.dels, &pk, index, -1), 0);
    return j;
}

static bool on_disk(const char *sub, uint64_t index)
{
    char dir[256], err[TM_BINLOG_ERRMSG];
    struct tm_seal_owned o;
    snprintf(dir, sizeof dir, "%s/%s", g_root, sub);
    int rc = tm_seal_read(dir, index, &o, err);
    bool ok = rc == 0 && o.seal.ndels == 1;
    tm_seal_owned_free(&o);
    return ok;
}

static void test_ranges_written_in_order_and_waited_for(void **state)
{
    (void)state;
    struct tm_seal_writer *w;
    assert_int_equal(tm_seal_writer_start(&w, on_done, NULL), 0);
    assert_false(tm_seal_writer_busy(w, 0));
    for (uint64_t i = 1; i <= 20; i++)
        tm_seal_writer_push(w, job_of((int)(i % 2), i, i % 2 ? "s1" : "s0"));
    assert_int_equal(tm_seal_writer_wait(w, 0, 10), 0);
    for (uint64_t i = 2; i <= 10; i += 2)
        assert_true(on_disk("s0", i));
    assert_int_equal(tm_seal_writer_wait(w, 0, UINT64_MAX), 0);
    assert_int_equal(tm_seal_writer_wait(w, 1, UINT64_MAX), 0);
    assert_false(tm_seal_writer_busy(w, 0));
    assert_false(tm_seal_writer_busy(w, 1));
    assert_int_equal(ndone(), 20);
    for (int i = 0; i < 20; i++)
        assert_int_equal(g_done[i], (uint64_t)i + 1);
    tm_seal_writer_stop(w);
}

/* A writer whose directory `name` cannot be made: a file stands in the
 * way at blocker, until the test removes it. */
static struct tm_seal_writer *writer_blocked_at(const char *name, char *blocker, size_t cap)
{
    snprintf(blocker, cap, "%s/%s", g_root, name);
    FILE *f = fopen(blocker, "w");
    assert_non_null(f);
    fclose(f);
    struct tm_seal_writer *w;
    assert_int_equal(tm_seal_writer_start(&w, on_done, NULL), 0);
    return w;
}

/* A range that cannot be written stays busy, a wait reports the failure,
 * and once the way is clear the retry writes it. */
static void test_failed_write_retried(void **state)
{
    (void)state;
    char blocker[128];
    struct tm_seal_writer *w = writer_blocked_at("blocked", blocker, sizeof blocker);
    tm_seal_writer_push(w, job_of(0, 5, "blocked/c1"));
    assert_int_equal(tm_seal_writer_wait(w, 0, 5), TM_EIO);
    assert_true(tm_seal_writer_busy(w, 0));
    assert_int_equal(ndone(), 0);
    assert_int_equal(unlink(blocker), 0);
    while (tm_seal_writer_busy(w, 0))
        usleep(10000);
    assert_int_equal(tm_seal_writer_wait(w, 0, 5), 0);
    assert_int_equal(ndone(), 1);
    assert_true(on_disk("blocked/c1", 5));
    tm_seal_writer_stop(w);
}

/* Cancel drops the shard's queued ranges (their stores are about to go)
 * and leaves the other shard's; stop writes what is still queued. */
static void test_cancel_drops_one_shard(void **state)
{
    (void)state;
    char blocker[128];
    struct tm_seal_writer *w = writer_blocked_at("hold", blocker, sizeof blocker);
    /* The first range fails until the blocker goes: the rest stay queued. */
    tm_seal_writer_push(w, job_of(0, 1, "hold/c1"));
    for (uint64_t i = 2; i <= 6; i++)
        tm_seal_writer_push(w, job_of((int)(i % 2), i, i % 2 ? "s1" : "s0"));
    assert_int_equal(tm_seal_writer_wait(w, 0, 1), TM_EIO);
    tm_seal_writer_cancel(w, 0);
    assert_false(tm_seal_writer_busy(w, 0));
    assert_true(tm_seal_writer_busy(w, 1) || ndone() == 2);
    tm_seal_writer_stop(w);
    assert_int_equal(ndone(), 2); /* shard 1's ranges 3 and 5 */
    assert_int_equal(g_done[0], 3);
    assert_int_equal(g_done[1], 5);
    assert_false(on_disk("s0", 2));
    assert_true(on_disk("s1", 5));
    unlink(blocker);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ranges_written_in_order_and_waited_for, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_failed_write_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_drops_one_shard, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
