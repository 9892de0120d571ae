/* The timestamp oracle (coord/tso.h): monotonic hybrid timestamps whatever
 * the wall clock does, logical overflow, and the persisted high-water mark
 * that keeps a restarted oracle, or a new leader's, above everything handed
 * out before.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tso.h"

#define LOGICAL_MAX (1u << TM_TSO_LOGICAL_BITS)

/* Allocates like the coordinator does: when the oracle asks for a higher
 * mark, "persist" it (record it in *persisted) and raise, then retry.
 * Checks the invariant that every timestamp handed out is below the
 * persisted mark. */
static uint64_t alloc(struct tm_tso *t, uint64_t now_ms, uint32_t n, uint64_t *persisted)
{
    uint64_t ts = 0, need = 0;
    for (int tries = 0; tries < 3; tries++) {
        int rc = tm_tso_alloc(t, now_ms, n, &ts, &need);
        if (rc == 0) {
            uint64_t last = ts + (n ? n : 1) - 1;
            assert_true(last < tm_ts_make(*persisted, 0));
            assert_int_equal(tm_ts_physical_ms(last), tm_ts_physical_ms(ts)); /* one ms */
            return ts;
        }
        assert_int_equal(rc, 1);
        assert_true(need > *persisted);
        *persisted = need;
        tm_tso_raise(t, need);
    }
    fail_msg("tm_tso_alloc kept asking for a higher mark");
    return 0;
}

static void test_first_alloc_needs_a_mark(void **state)
{
    (void)state;
    struct tm_tso t;
    tm_tso_init(&t, 0);
    uint64_t ts = 77, need = 0;
    assert_int_equal(tm_tso_alloc(&t, 1000, 1, &ts, &need), 1);
    assert_int_equal(ts, 77); /* nothing handed out */
    assert_int_equal(need, 1000 + TM_TSO_WINDOW_MS);
    /* asking again without raising gives the same answer */
    assert_int_equal(tm_tso_alloc(&t, 1000, 1, &ts, &need), 1);
    tm_tso_raise(&t, need);
    assert_int_equal(tm_tso_alloc(&t, 1000, 1, &ts, &need), 0);
    assert_true(ts == tm_ts_make(1000, 0));
    tm_tso_destroy(&t);
}

static void test_same_ms_logical_increments(void **state)
{
    (void)state;
    struct tm_tso t;
    uint64_t hw = 10000;
    tm_tso_init(&t, 0);
    tm_tso_raise(&t, hw);
    uint64_t a = alloc(&t, 5000, 1, &hw);
    uint64_t b = alloc(&t, 5000, 1, &hw);
    uint64_t c = alloc(&t, 5000, 10, &hw); /* a range of 10 */
    uint64_t d = alloc(&t, 5000, 0, &hw);  /* n = 0 counts as 1 */
    uint64_t e = alloc(&t, 5000, 1, &hw);
    assert_true(a == tm_ts_make(5000, 0));
    assert_true(b == a + 1);
    assert_true(c == b + 1);
    assert_true(d == c + 10);
    assert_true(e == d + 1);
    /* the next millisecond restarts the logical counter */
    uint64_t f = alloc(&t, 5001, 1, &hw);
    assert_true(f == tm_ts_make(5001, 0));
    tm_tso_destroy(&t);
}

static void test_logical_overflow(void **state)
{
    (void)state;
    struct tm_tso t;
    uint64_t hw = 10000;
    tm_tso_init(&t, 0);
    tm_tso_raise(&t, hw);
    uint32_t half = LOGICAL_MAX / 2; /* the largest n allowed */
    uint64_t a = alloc(&t, 5000, half, &hw);
    uint64_t b = alloc(&t, 5000, half, &hw); /* exactly fills the ms */
    assert_true(a == tm_ts_make(5000, 0));
    assert_true(b == tm_ts_make(5000, half));
    assert_int_equal(tm_ts_physical_ms(b + half - 1), 5000);
    /* the ms is full: the next one moves to 5001 although the clock still says 5000 */
    uint64_t c = alloc(&t, 5000, 1, &hw);
    assert_true(c == tm_ts_make(5001, 0));
    assert_true(c > b + half - 1);
    /* a range that does not fit in what is left of a ms starts the next one */
    uint64_t d = alloc(&t, 5001, half, &hw); /* 5001 now has half - 1 left */
    assert_true(d == tm_ts_make(5001, 1));
    uint64_t e = alloc(&t, 5001, half, &hw);
    assert_int_equal(tm_ts_physical_ms(e), 5002);
    assert_int_equal(e & (LOGICAL_MAX - 1), 0);
    tm_tso_destroy(&t);
}

static void test_clock_backwards(void **state)
{
    (void)state;
    struct tm_tso t;
    uint64_t hw = 0;
    tm_tso_init(&t, 0);
    uint64_t a = alloc(&t, 50000, 1, &hw);
    uint64_t b = alloc(&t, 1000, 1, &hw); /* the clock jumped back 49 s */
    uint64_t c = alloc(&t, 0, 1, &hw);
    assert_true(b > a);
    assert_true(c > b);
    assert_int_equal(tm_ts_physical_ms(c), 50000); /* stays on the last ms */
    uint64_t d = alloc(&t, 50001, 1, &hw);         /* and follows the clock again */
    assert_true(d == tm_ts_make(50001, 0));
    tm_tso_destroy(&t);
}

/* A long run with a jittering clock: every range starts above the last. */
static void test_monotonic_random_clock(void **state)
{
    (void)state;
    struct tm_tso t;
    uint64_t hw = 0, prev_end = 0, now = 1000000;
    tm_tso_init(&t, 0);
    srand(12345);
    for (int i = 0; i < 200000; i++) {
        int r = rand() % 100;
        if (r < 40)
            now += (uint64_t)(rand() % 3);
        else if (r < 45 && now > 500)
            now -= (uint64_t)(rand() % 500); /* backwards */
        else if (r < 46)
            now += 5000; /* a jump past the window */
        uint32_t n = r < 90 ? 1 : (uint32_t)(rand() % 5000) + 1;
        uint64_t ts = alloc(&t, now, n, &hw);
        if (i > 0 && ts <= prev_end)
            fail_msg("step %d: ts %llu not above %llu", i, (unsigned long long)ts,
                     (unsigned long long)prev_end);
        prev_end = ts + n - 1;
    }
    tm_tso_destroy(&t);
}

/* Near the mark the oracle asks for a higher one instead of handing out
 * timestamps it has not persisted. */
static void test_needs_raise_near_mark(void **state)
{
    (void)state;
    struct tm_tso t;
    uint64_t ts, need;
    tm_tso_init(&t, 0);
    tm_tso_raise(&t, 4000);
    assert_int_equal(tm_tso_alloc(&t, 3000, 1, &ts, &need), 0);
    assert_true(tm_ts_physical_ms(ts) == 3000);
    assert_int_equal(tm_tso_alloc(&t, 3998, 1, &ts, &need), 0);
    assert_true(ts < tm_ts_make(4000, 0));
    need = 0;
    assert_int_equal(tm_tso_alloc(&t, 3999, 1, &ts, &need), 1);
    assert_int_equal(need, 3999 + TM_TSO_WINDOW_MS);
    assert_int_equal(tm_tso_alloc(&t, 4500, 1, &ts, &need), 1); /* past the mark */
    assert_int_equal(need, 4500 + TM_TSO_WINDOW_MS);
    /* a raise never lowers the mark */
    tm_tso_raise(&t, 100);
    assert_int_equal(tm_tso_alloc(&t, 3999, 1, &ts, &need), 1);
    tm_tso_raise(&t, need);
    assert_int_equal(tm_tso_alloc(&t, 4500, 1, &ts, &need), 0);
    assert_true(ts == tm_ts_make(4500, 0));
    tm_tso_raise(&t, 10);
    assert_int_equal(tm_tso_alloc(&t, 4600, 1, &ts, &need), 0);
    /* a clock stuck at the same ms still reaches the mark through logical overflow */
    tm_tso_destroy(&t);
    tm_tso_init(&t, 0);
    tm_tso_raise(&t, 1002);
    int asked = 0;
    for (int i = 0; i < 8 && !asked; i++)
        asked = tm_tso_alloc(&t, 1000, LOGICAL_MAX / 2, &ts, &need);
    assert_int_equal(asked, 1);
    tm_tso_destroy(&t);
}

/* After a restart from the persisted mark, every timestamp is above every
 * one handed out before, even when the clock went backwards meanwhile. */
static void test_restart_from_persisted_mark(void **state)
{
    (void)state;
    struct tm_tso t;
    uint64_t hw = 0, max_before = 0;
    tm_tso_init(&t, 0);
    for (uint64_t now = 10000; now < 30000; now += 7) {
        uint64_t ts = alloc(&t, now, 3, &hw);
        max_before = ts + 2;
    }
    tm_tso_destroy(&t);
    assert_true(max_before < tm_ts_make(hw, 0));

    /* restart with the clock 20 s behind */
    uint64_t persisted = hw;
    tm_tso_init(&t, persisted);
    uint64_t ts, need;
    assert_int_equal(tm_tso_alloc(&t, 5000, 1, &ts, &need), 1); /* at the mark: raise first */
    assert_true(need > persisted);
    hw = persisted;
    ts = alloc(&t, 5000, 1, &hw);
    assert_true(ts > max_before);
    assert_true(ts >= tm_ts_make(persisted, 0));
    uint64_t ts2 = alloc(&t, 5000, 1, &hw);
    assert_true(ts2 > ts);
    tm_tso_destroy(&t);

    /* restart with the clock ahead: follows the clock */
    tm_tso_init(&t, persisted);
    hw = persisted;
    ts = alloc(&t, persisted + 100000, 1, &hw);
    assert_true(ts == tm_ts_make(persisted + 100000, 0));
    tm_tso_destroy(&t);
}

/* Leader changes: each new leader resets its oracle from the committed mark
 * (the catalog's, after its barrier). Whatever the clocks and whatever its
 * oracle remembers from an earlier term, it hands out timestamps above all
 * of the previous leaders'. */
static void test_reset_on_leader_change(void **state)
{
    (void)state;
    struct tm_tso a, b;
    uint64_t committed = 0, max_a = 0, max_b = 0, ts;
    tm_tso_init(&a, 0);
    tm_tso_init(&b, 0);
    /* b led first, briefly, with a slow clock: its oracle keeps that state */
    tm_tso_reset(&b, committed);
    for (uint64_t now = 1000; now < 1100; now++)
        max_b = alloc(&b, now, 2, &committed) + 1;
    /* a leads, clock well ahead */
    tm_tso_reset(&a, committed);
    for (uint64_t now = 50000; now < 60000; now += 3)
        max_a = alloc(&a, now, 5, &committed) + 4;
    assert_true(max_a > max_b);
    /* b leads again; its clock is 40 s behind a's and its oracle is stale */
    tm_tso_reset(&b, committed);
    ts = alloc(&b, 20000, 1, &committed);
    assert_true(ts > max_a);
    assert_true(ts >= tm_ts_make(committed - TM_TSO_WINDOW_MS, 0));
    for (uint64_t now = 20000; now < 20500; now++) {
        uint64_t next = alloc(&b, now, 1, &committed);
        assert_true(next > ts);
        ts = next;
    }
    max_b = ts;
    /* a leads again with its old state: above b's */
    tm_tso_reset(&a, committed);
    ts = alloc(&a, 100, 1, &committed);
    assert_true(ts > max_b);
    tm_tso_destroy(&a);
    tm_tso_destroy(&b);
}

/* A reset never moves an oracle backwards, and the first allocation after
 * it persists a new mark before handing anything out. */
static void test_reset_never_backwards(void **state)
{
    (void)state;
    struct tm_tso t;
    uint64_t hw = 0, ts, need = 0;
    tm_tso_init(&t, 0);
    uint64_t last = alloc(&t, 90000, 1, &hw);
    tm_tso_reset(&t, 10); /* a stale, lower mark */
    assert_true(alloc(&t, 5, 1, &hw) > last);
    tm_tso_reset(&t, 0);
    assert_true(alloc(&t, 5, 1, &hw) > last);
    /* a reset to the committed mark: no timestamp until a higher one is persisted */
    tm_tso_reset(&t, hw);
    assert_int_equal(tm_tso_alloc(&t, 1, 1, &ts, &need), 1);
    assert_true(need > hw);
    tm_tso_raise(&t, need);
    assert_int_equal(tm_tso_alloc(&t, 1, 1, &ts, &need), 0);
    assert_true(ts > tm_ts_make(hw, 0));
    tm_tso_destroy(&t);
}

/* ---- threads ---- */

#define THREADS 4
#define PER_THREAD 20000

struct worker {
    struct tm_tso *t;
    uint64_t *out;
    uint64_t clock;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        uint64_t ts, need;
        uint64_t now = w->clock + (uint64_t)(i / 1000);
        while (tm_tso_alloc(w->t, now, 1, &ts, &need) == 1)
            tm_tso_raise(w->t, need);
        w->out[i] = ts;
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void test_threads_unique(void **state)
{
    (void)state;
    struct tm_tso t;
    tm_tso_init(&t, 0);
    uint64_t *all = calloc(THREADS * PER_THREAD, sizeof *all);
    assert_non_null(all);
    pthread_t th[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        /* each thread has its own skewed clock */
        w[i] = (struct worker){&t, all + i * PER_THREAD, 100000 + (uint64_t)i * 3};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    /* within a thread: strictly increasing */
    for (int i = 0; i < THREADS; i++)
        for (int k = 1; k < PER_THREAD; k++)
            assert_true(w[i].out[k] > w[i].out[k - 1]);
    /* across threads: all distinct */
    qsort(all, THREADS * PER_THREAD, sizeof *all, cmp_u64);
    for (int k = 1; k < THREADS * PER_THREAD; k++)
        if (all[k] == all[k - 1])
            fail_msg("timestamp %llu handed out twice", (unsigned long long)all[k]);
    free(all);
    tm_tso_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_alloc_needs_a_mark),
        cmocka_unit_test(test_same_ms_logical_increments),
        cmocka_unit_test(test_logical_overflow),
        cmocka_unit_test(test_clock_backwards),
        cmocka_unit_test(test_monotonic_random_clock),
        cmocka_unit_test(test_needs_raise_near_mark),
        cmocka_unit_test(test_restart_from_persisted_mark),
        cmocka_unit_test(test_reset_on_leader_change),
        cmocka_unit_test(test_reset_never_backwards),
        cmocka_unit_test(test_threads_unique),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
