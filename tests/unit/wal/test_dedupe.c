/* wal/dedupe.h: a retried (client id, sequence) is seen once within the
 * window, the oldest pairs are evicted in order, and eviction keeps every
 * other pair findable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>

#include "dedupe.h"

static void test_seen_once(void **state)
{
    (void)state;
    struct tm_dedupe d;
    assert_int_equal(tm_dedupe_init(&d), 0);
    assert_false(tm_dedupe_seen(&d, "req-a", 0));
    assert_true(tm_dedupe_seen(&d, "req-a", 0));
    assert_false(tm_dedupe_seen(&d, "req-a", 1)); /* another shard's part */
    assert_false(tm_dedupe_seen(&d, "req-b", 0));
    assert_true(tm_dedupe_seen(&d, "req-b", 0));
    tm_dedupe_free(&d);
}

static void test_window_evicts_oldest(void **state)
{
    (void)state;
    struct tm_dedupe d;
    char id[32];
    assert_int_equal(tm_dedupe_init(&d), 0);
    for (int i = 0; i < TM_DEDUPE_WINDOW + 100; i++) {
        snprintf(id, sizeof id, "r%d", i);
        assert_false(tm_dedupe_seen(&d, id, 0));
    }
    /* Every pair after the first 100 is still there (a seen pair changes
     * nothing, so checking them evicts nothing). */
    for (int i = 100; i < TM_DEDUPE_WINDOW + 100; i++) {
        snprintf(id, sizeof id, "r%d", i);
        if (!tm_dedupe_seen(&d, id, 0))
            fail_msg("r%d forgotten", i);
    }
    /* The first 100 were evicted (asking records them again). */
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "r%d", i);
        if (tm_dedupe_seen(&d, id, 0))
            fail_msg("r%d should have been evicted", i);
    }
    tm_dedupe_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seen_once),
        cmocka_unit_test(test_window_evicts_oldest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
