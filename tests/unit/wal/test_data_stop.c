/* The data role's stop while it holds a "writes" call that cannot finish:
 * no coordinator answers, so the shard never gets the timestamps its
 * writes wait for. The stop must fail them and return (the RPC server's
 * stop waits for the calls it holds).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data_role.h"
#include "entry.h"
#include "tm_rpc.h"

#define STOP_LIMIT_S 20

static atomic_bool g_stopped;

static void *stopper(void *arg)
{
    tm_data_role_stop(arg);
    atomic_store(&g_stopped, true);
    return NULL;
}

static void test_stop_fails_writes_waiting_for_a_lease(void **state)
{
    (void)state;
    char dir[] = "/tmp/tm-data-stop-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct tm_data_role_config cfg = {.dir = dir,
                                      .url = "inproc://test-data-stop",
                                      .coord_url = "inproc://test-data-stop-no-coord",
                                      .shards = 1};
    struct tm_data_role *d;
    assert_int_equal(tm_data_role_start(&d, &cfg), 0);
    struct tm_rpc_client *c;
    assert_int_equal(tm_rpc_client_open(&c, "inproc://test-data-stop"), 0);
    struct tm_mpw w;
    tm_mpw_init(&w);
    tm_mpw_map(&w, 2);
    tm_mpw_cstr(&w, "shard"), tm_mpw_int(&w, 0);
    tm_mpw_cstr(&w, "items"), tm_mpw_array(&w, 1);
    tm_mpw_map(&w, 3);
    tm_mpw_cstr(&w, "shard"), tm_mpw_int(&w, 0);
    tm_mpw_cstr(&w, "kind"), tm_mpw_uint(&w, TM_ENTRY_DELETE);
    tm_mpw_cstr(&w, "coll"), tm_mpw_int(&w, 1);
    struct tm_rpc_reply rep;
    struct tm_status st;
    /* The call waits for the lease until the caller gives up; the role
     * still holds it. */
    assert_int_equal(tm_rpc_call(c, "writes", w.buf.data, w.buf.len, 500, &rep, &st), TM_ETIMEDOUT);
    tm_mpw_free(&w);
    tm_rpc_client_close(c);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stopper, d), 0);
    for (int i = 0; i < STOP_LIMIT_S * 10 && !atomic_load(&g_stopped); i++)
        usleep(100000);
    if (!atomic_load(&g_stopped))
        fail_msg("the data role's stop still waits after %d s", STOP_LIMIT_S);
    pthread_join(th, NULL);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_fails_writes_waiting_for_a_lease),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
