/* wal/data_trim.c: a replica frees its log in memory a seal at a time,
 * never past the seal before its last one nor past a reader heard from
 * lately; readers silent for longer than the TTL no longer hold it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "data_role_int.h"

#define NOW 1000000u

/* A shard whose log holds entries at 10, 20, ... 80, with seals at 30, 50
 * and 70 (the last two seals' timestamps set as apply sets them). */
static struct shard *shard_new(void)
{
    static const uint64_t ts[] = {10, 20, 30, 40, 50, 60, 70, 80};
    struct shard *sh = calloc(1, sizeof *sh);
    assert_non_null(sh);
    pthread_mutex_init(&sh->tmu, NULL);
    sh->caplog = sh->nlog = sizeof ts / sizeof ts[0];
    sh->log = calloc(sh->caplog, sizeof *sh->log);
    assert_non_null(sh->log);
    for (uint64_t i = 0; i < sh->nlog; i++) {
        sh->log[i] =
            (struct applied){malloc(8), 8, ts[i], ts[i] == 30 || ts[i] == 50 || ts[i] == 70};
        assert_non_null(sh->log[i].p);
    }
    sh->seal_pos = 7; /* after the seal at 70 */
    sh->seal_ts = 70;
    sh->prev_seal_ts = 50;
    return sh;
}

static void shard_free(struct shard *sh)
{
    for (uint64_t i = 0; i < sh->nlog; i++)
        free(sh->log[i].p);
    free(sh->log);
    pthread_mutex_destroy(&sh->tmu);
    free(sh);
}

static void assert_starts_at(struct shard *sh, uint64_t base, uint64_t first_ts, uint64_t nlog)
{
    assert_int_equal(sh->base_ts, base);
    assert_int_equal(sh->nlog, nlog);
    assert_int_equal(sh->log[0].ts, first_ts);
    assert_int_equal(sh->log[sh->seal_pos - 1].ts, 70); /* still after the last seal */
}

static void test_no_readers_frees_up_to_the_seal_before_last(void **state)
{
    (void)state;
    struct shard *sh = shard_new();
    tm_data_trim_log(sh, NOW);
    assert_starts_at(sh, 50, 60, 3);
    tm_data_trim_log(sh, NOW); /* nothing more until the next seal */
    assert_starts_at(sh, 50, 60, 3);
    shard_free(sh);
}

static void test_a_reader_behind_holds_the_log(void **state)
{
    (void)state;
    struct shard *sh = shard_new();
    tm_data_hold(sh, 7, 45, NOW - 10);
    tm_data_trim_log(sh, NOW);
    assert_starts_at(sh, 30, 40, 5); /* the newest seal at or below 45 */
    tm_data_hold(sh, 7, 25, NOW);    /* behind what is freed already: nothing more */
    tm_data_trim_log(sh, NOW);
    assert_starts_at(sh, 30, 40, 5);
    tm_data_hold(sh, 7, 80, NOW); /* caught up: the seal before last is the limit */
    tm_data_trim_log(sh, NOW);
    assert_starts_at(sh, 50, 60, 3);
    shard_free(sh);
}

static void test_a_reader_before_every_seal_holds_everything(void **state)
{
    (void)state;
    struct shard *sh = shard_new();
    tm_data_hold(sh, 1, 80, NOW);
    tm_data_hold(sh, 2, 20, NOW);
    tm_data_trim_log(sh, NOW);
    assert_starts_at(sh, 0, 10, 8);
    shard_free(sh);
}

static void test_a_reader_noted_after_the_clock_reading_holds(void **state)
{
    (void)state;
    struct shard *sh = shard_new();
    tm_data_hold(sh, 4, 20, NOW + 3);
    tm_data_trim_log(sh, NOW);
    assert_starts_at(sh, 0, 10, 8);
    shard_free(sh);
}

static void test_a_silent_reader_stops_holding(void **state)
{
    (void)state;
    struct shard *sh = shard_new();
    tm_data_hold(sh, 3, 20, NOW - TM_DATA_READER_TTL_MS - 1);
    tm_data_trim_log(sh, NOW);
    assert_starts_at(sh, 50, 60, 3);
    shard_free(sh);
}

static void test_a_full_table_forgets_the_longest_silent(void **state)
{
    (void)state;
    struct shard *sh = shard_new();
    tm_data_hold(sh, 100, 20, NOW - 5000); /* the longest silent */
    for (uint64_t r = 1; r < MAX_READERS; r++)
        tm_data_hold(sh, r, 80, NOW - 10);
    tm_data_hold(sh, 999, 80, NOW); /* takes reader 100's place */
    assert_int_equal(sh->nreaders, MAX_READERS);
    tm_data_trim_log(sh, NOW);
    assert_starts_at(sh, 50, 60, 3);
    shard_free(sh);
}

static void test_a_reader_behind_the_freed_log_is_not_noted(void **state)
{
    (void)state;
    struct shard *sh = shard_new();
    tm_data_trim_log(sh, NOW);
    assert_false(tm_data_hold(sh, 5, 20, NOW)); /* stuck: it must not hold the log */
    assert_int_equal(sh->nreaders, 0);
    assert_true(tm_data_hold(sh, 5, 60, NOW));
    assert_int_equal(sh->nreaders, 1);
    assert_true(tm_data_hold(sh, 0, 60, NOW)); /* no name: nothing noted */
    assert_int_equal(sh->nreaders, 1);
    shard_free(sh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_readers_frees_up_to_the_seal_before_last),
        cmocka_unit_test(test_a_reader_behind_holds_the_log),
        cmocka_unit_test(test_a_reader_before_every_seal_holds_everything),
        cmocka_unit_test(test_a_reader_noted_after_the_clock_reading_holds),
        cmocka_unit_test(test_a_silent_reader_stops_holding),
        cmocka_unit_test(test_a_full_table_forgets_the_longest_silent),
        cmocka_unit_test(test_a_reader_behind_the_freed_log_is_not_noted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
