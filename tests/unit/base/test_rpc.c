/* tm_rpc: calls, errors and bodies over nng inproc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

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

/* ---- calls an async function takes and answers later ---- */

#define LATER_CALLS 80 /* more than the server holds at once */

/* The taken calls, answered together by the test once all are in: no
 * thread waits for them meanwhile. */
struct later_box {
    pthread_mutex_t mu;
    struct tm_rpc_later *held[LATER_CALLS];
    uint64_t n_of[LATER_CALLS];
    int n;
};

/* Takes "later" (holding it) and "bad" (answered at once with an error);
 * declines the rest. */
static bool take(void *arg, const char *type, struct tm_mpr *body, struct tm_rpc_later *later)
{
    struct later_box *b = arg;
    if (strcmp(type, "bad") == 0) {
        struct tm_status st;
        tm_status_set(&st, 101, "refused at once");
        tm_rpc_answer(later, NULL, &st);
        return true;
    }
    if (strcmp(type, "later") != 0)
        return false;
    uint64_t v = 0;
    tm_mpr_uint(body, &v);
    pthread_mutex_lock(&b->mu);
    b->n_of[b->n] = v;
    b->held[b->n++] = later;
    pthread_mutex_unlock(&b->mu);
    return true;
}

static int held(struct later_box *b)
{
    pthread_mutex_lock(&b->mu);
    int n = b->n;
    pthread_mutex_unlock(&b->mu);
    return n;
}

/* Answers every held call with twice its number. */
static void answer_all(struct later_box *b)
{
    for (int i = 0; i < held(b); i++) {
        struct tm_mpw w;
        tm_mpw_init(&w);
        tm_mpw_uint(&w, b->n_of[i] * 2);
        tm_rpc_answer(b->held[i], &w, NULL);
        tm_mpw_free(&w);
    }
}

struct later_caller {
    struct tm_rpc_client *c;
    uint64_t n, got;
    int rc;
};

static atomic_int g_answered; /* call_later calls that have their answer */

static void *call_later(void *arg)
{
    struct later_caller *lc = arg;
    struct tm_mpw w;
    struct tm_rpc_reply rep;
    struct tm_status st;
    tm_mpw_init(&w);
    tm_mpw_uint(&w, lc->n);
    lc->rc = tm_rpc_call(lc->c, "later", w.buf.data, w.buf.len, 10000, &rep, &st);
    if (lc->rc == 0) {
        tm_mpr_uint(&rep.body, &lc->got);
        tm_rpc_reply_free(&rep);
    }
    tm_mpw_free(&w);
    atomic_fetch_add(&g_answered, 1);
    return NULL;
}

/* Calls beyond those the server holds at once (64) go to the blocking
 * handler (echo: the number itself comes back); the held ones take
 * contexts, not workers, so a blocking call still goes through. */
static void test_async_calls(void **state)
{
    (void)state;
    static struct later_box b = {.mu = PTHREAD_MUTEX_INITIALIZER};
    static struct later_caller lc[LATER_CALLS];
    pthread_t th[LATER_CALLS];
    struct tm_rpc_server *s;
    struct tm_rpc_client *c;
    struct tm_rpc_reply rep;
    struct tm_status st;
    assert_int_equal(tm_rpc_server_start_async(&s, "inproc://test-rpc-async", 2, echo, take, &b),
                     0);
    assert_int_equal(tm_rpc_client_open(&c, "inproc://test-rpc-async"), 0);
    assert_int_equal(tm_rpc_call(c, "bad", NULL, 0, 2000, &rep, &st), TM_ESTATUS);
    assert_int_equal(st.code, 101);
    assert_string_equal(st.msg, "refused at once");
    for (int i = 0; i < LATER_CALLS; i++) {
        lc[i] = (struct later_caller){.c = c, .n = (uint64_t)i + 1, .rc = -1};
        assert_int_equal(pthread_create(&th[i], NULL, call_later, &lc[i]), 0);
    }
    for (int tries = 0; tries < 500 && held(&b) < 64; tries++)
        usleep(10000);
    assert_int_equal(held(&b), 64);
    for (int tries = 0; tries < 500 && atomic_load(&g_answered) < LATER_CALLS - 64; tries++)
        usleep(10000);
    assert_int_equal(atomic_load(&g_answered), LATER_CALLS - 64); /* by the blocking handler */
    assert_int_equal(tm_rpc_call(c, "fail", NULL, 0, 5000, &rep, &st), TM_ESTATUS);
    assert_int_equal(st.code, 100);
    answer_all(&b);
    int doubled = 0;
    for (int i = 0; i < LATER_CALLS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(lc[i].rc, 0);
        assert_true(lc[i].got == lc[i].n * 2 || lc[i].got == lc[i].n);
        doubled += lc[i].got == lc[i].n * 2;
    }
    assert_int_equal(doubled, 64);
    tm_rpc_client_close(c);
    tm_rpc_server_stop(s);
}

struct late_answer {
    struct later_box *b;
    int delay_ms;
};

static void *answer_after(void *arg)
{
    struct late_answer *la = arg;
    usleep((useconds_t)la->delay_ms * 1000u);
    answer_all(la->b);
    return NULL;
}

/* A stop waits for the answer of a call still held. */
static void test_async_stop_waits(void **state)
{
    (void)state;
    static struct later_box b = {.mu = PTHREAD_MUTEX_INITIALIZER};
    static struct later_caller lc;
    struct tm_rpc_server *s;
    struct tm_rpc_client *c;
    pthread_t caller, answerer;
    assert_int_equal(tm_rpc_server_start_async(&s, "inproc://test-rpc-stop", 1, echo, take, &b), 0);
    assert_int_equal(tm_rpc_client_open(&c, "inproc://test-rpc-stop"), 0);
    lc = (struct later_caller){.c = c, .n = 7, .rc = -1};
    assert_int_equal(pthread_create(&caller, NULL, call_later, &lc), 0);
    for (int tries = 0; tries < 500 && held(&b) < 1; tries++)
        usleep(10000);
    assert_int_equal(held(&b), 1);
    struct late_answer la = {&b, 200};
    assert_int_equal(pthread_create(&answerer, NULL, answer_after, &la), 0);
    tm_rpc_server_stop(s); /* returns once the answer is out */
    pthread_join(answerer, NULL);
    pthread_join(caller, NULL);
    tm_rpc_client_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_call_roundtrip),
                                       cmocka_unit_test(test_several_addresses_follow_the_leader),
                                       cmocka_unit_test(test_async_calls),
                                       cmocka_unit_test(test_async_stop_waits)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
