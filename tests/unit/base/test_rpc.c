/* tm_rpc: calls, errors and bodies over nng inproc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "tm_rpc.h"

static void echo(void *arg, const char *type, struct tm_mpr *body, struct tm_mpw *reply,
                 struct tm_status *st)
{
    (void)arg;
    if (strcmp(type, "fail") == 0) {
        tm_status_set(st, 100, "no such thing");
        return;
    }
    const uint8_t *p;
    size_t len;
    if (tm_mpr_raw(body, &p, &len) == 0)
        tm_mpw_raw(reply, p, len);
}

static void test_call_roundtrip(void **state)
{
    (void)state;
    struct tm_rpc_server *s;
    struct tm_rpc_client *c;
    assert_int_equal(tm_rpc_server_start(&s, "inproc://test-rpc", 2, echo, NULL), 0);
    assert_int_equal(tm_rpc_client_open(&c, "inproc://test-rpc"), 0);
    struct tm_mpw w;
    tm_mpw_init(&w);
    tm_mpw_map(&w, 1);
    tm_mpw_cstr(&w, "n"), tm_mpw_uint(&w, 42);
    struct tm_rpc_reply rep;
    struct tm_status st;
    int rc = tm_rpc_call(c, "echo", w.buf.data, w.buf.len, 2000, &rep, &st);
    if (rc)
        print_message("call failed: %d %s\n", st.code, st.msg);
    assert_int_equal(rc, 0);
    uint32_t n, kn;
    const char *k;
    uint64_t v = 0;
    assert_int_equal(tm_mpr_map(&rep.body, &n), 0);
    assert_int_equal(tm_mpr_str(&rep.body, &k, &kn), 0);
    assert_int_equal(tm_mpr_uint(&rep.body, &v), 0);
    assert_int_equal(v, 42);
    tm_rpc_reply_free(&rep);
    assert_int_equal(tm_rpc_call(c, "fail", NULL, 0, 2000, &rep, &st), TM_ESTATUS);
    assert_int_equal(st.code, 100);
    assert_string_equal(st.msg, "no such thing");
    tm_mpw_free(&w);
    tm_rpc_client_close(c);
    tm_rpc_server_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_call_roundtrip)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
