/* node/schema_cache.h: hits within a generation, misses after an
 * invalidation, and no caching of bytes fetched before one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "schema_cache.h"

static void test_hit_and_invalidate(void **state)
{
    (void)state;
    struct tm_schema_cache c;
    struct tm_buf out;
    tm_schema_cache_init(&c);
    tm_buf_init(&out);
    assert_int_equal(tm_schema_cache_get(&c, "default", "a", &out), 1);
    tm_schema_cache_put(&c, "default", "a", tm_schema_cache_gen(&c), "xyz", 3);
    assert_int_equal(tm_schema_cache_get(&c, "default", "a", &out), 0);
    assert_memory_equal(out.data, "xyz", 3);
    /* Same name, other database: a different entry. */
    assert_int_equal(tm_schema_cache_get(&c, "db2", "a", &out), 1);
    tm_schema_cache_invalidate(&c);
    assert_int_equal(tm_schema_cache_get(&c, "default", "a", &out), 1);
    tm_buf_free(&out);
    tm_schema_cache_free(&c);
}

static void test_stale_fill_dropped(void **state)
{
    (void)state;
    struct tm_schema_cache c;
    struct tm_buf out;
    tm_schema_cache_init(&c);
    tm_buf_init(&out);
    uint64_t gen = tm_schema_cache_gen(&c);
    tm_schema_cache_invalidate(&c); /* a DDL ran while the fetch was in flight */
    tm_schema_cache_put(&c, "default", "a", gen, "old", 3);
    assert_int_equal(tm_schema_cache_get(&c, "default", "a", &out), 1);
    /* Many collections: replacement keeps the newest. */
    char name[16];
    for (int i = 0; i < 3 * TM_CACHE_SLOTS; i++) {
        snprintf(name, sizeof name, "c%d", i);
        tm_schema_cache_put(&c, "default", name, tm_schema_cache_gen(&c), name, strlen(name));
    }
    snprintf(name, sizeof name, "c%d", 3 * TM_CACHE_SLOTS - 1);
    assert_int_equal(tm_schema_cache_get(&c, "default", name, &out), 0);
    tm_buf_free(&out);
    tm_schema_cache_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_and_invalidate),
        cmocka_unit_test(test_stale_fill_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
