/* tm_rpc: calls, errors and bodies over nng inproc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
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

/* A replica that is not the leader: answers every call with 10010. */
static void follower(void *arg, const char *type, struct tm_mpr *body, struct tm_mpw *reply,
                     struct tm_status *st)
{
    (void)arg, (void)type, (void)body, (void)reply;
    tm_status_set(st, TM_MV_NOT_LEADER, "not the leader");
}

static void named(void *arg, const char *type, struct tm_mpr *body, struct tm_mpw *reply,
                  struct tm_status *st)
{
    (void)type, (void)body;
    if (strcmp(type, "fail") == 0) {
        tm_status_set(st, 100, "no such thing");
        return;
    }
    tm_mpw_map(reply, 1);
    tm_mpw_cstr(reply, "who"), tm_mpw_uint(reply, (uint64_t)(uintptr_t)arg);
}

static uint64_t who(struct tm_rpc_client *c, int timeout_ms, int *rc_out)
{
    uint64_t v = 0;
    struct tm_status st;
    *rc_out = tm_rpc_call_uint(c, "who", NULL, timeout_ms, &v, &st);
    return v;
}

/* Several addresses: a follower's 10010 and an address nobody listens on
 * are passed over; the leader answers; a leader change is followed; any
 * other status comes back at once; with no leader the call times out. */
static void test_several_addresses_follow_the_leader(void **state)
{
    (void)state;
    struct tm_rpc_server *a, *b;
    struct tm_rpc_client *c;
    int rc;
    assert_int_equal(tm_rpc_server_start(&a, "inproc://rpc-a", 2, follower, NULL), 0);
    assert_int_equal(tm_rpc_server_start(&b, "inproc://rpc-b", 2, named, (void *)2), 0);
    assert_int_equal(tm_rpc_client_open(&c, "inproc://rpc-a,inproc://rpc-nobody,inproc://rpc-b"),
                     0);
    assert_int_equal(who(c, 3000, &rc), 2);
    assert_int_equal(rc, 0);
    assert_int_equal(who(c, 3000, &rc), 2); /* straight to the one that answered */
    struct tm_rpc_reply rep;
    struct tm_status st;
    assert_int_equal(tm_rpc_call(c, "fail", NULL, 0, 3000, &rep, &st), TM_ESTATUS);
    assert_int_equal(st.code, 100);
    /* leadership moves: b now refuses, a leads */
    tm_rpc_server_stop(b);
    tm_rpc_server_stop(a);
    assert_int_equal(tm_rpc_server_start(&a, "inproc://rpc-a", 2, named, (void *)1), 0);
    assert_int_equal(tm_rpc_server_start(&b, "inproc://rpc-b", 2, follower, NULL), 0);
    assert_int_equal(who(c, 5000, &rc), 1);
    assert_int_equal(rc, 0);
    /* nobody leads: the call ends at its timeout with a 10010 or a timeout */
    tm_rpc_server_stop(a);
    assert_int_equal(tm_rpc_server_start(&a, "inproc://rpc-a", 2, follower, NULL), 0);
    who(c, 300, &rc);
    assert_true(rc != 0);
    tm_rpc_client_close(c);
    tm_rpc_server_stop(a);
    tm_rpc_server_stop(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_call_roundtrip),
                                       cmocka_unit_test(test_several_addresses_follow_the_leader)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
