/* tm_rpc: calls, errors and bodies over nng inproc; and direct calls over
 * loopback TCP: round trips and errors, calls held by the async function,
 * following the leader, a callee restarted between calls, a callee that
 * hangs up, an oversized frame, and a stop that waits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tm_rpc.h"
#include "tm_tcp.h"
#include "tm_time.h"

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

/* ---- direct calls ("direct://", tm_rpc_server_listen_direct) ---- */

/* Port k (< 8) of this process's own, below the ephemeral range and
 * test_stream's ports. */
static int port_for(int k)
{
    return 25000 + (int)(getpid() % 600) * 8 + k;
}

static void tcp_url(char *url, size_t cap, int k)
{
    snprintf(url, cap, "tcp://127.0.0.1:%d", port_for(k));
}

static void direct_url(char *url, size_t cap, int k)
{
    snprintf(url, cap, "direct://127.0.0.1:%d", port_for(k));
}

/* A server on inproc (nng) and port k (direct), serving with fn. */
static struct tm_rpc_server *start(int k, tm_rpc_handler_fn fn, uintptr_t arg)
{
    char inproc[64], tcp[64];
    snprintf(inproc, sizeof inproc, "inproc://direct-%d", k);
    tcp_url(tcp, sizeof tcp, k);
    struct tm_rpc_server *s;
    assert_int_equal(tm_rpc_server_start(&s, inproc, 2, fn, (void *)arg), 0);
    assert_int_equal(tm_rpc_server_listen_direct(s, tcp), 0);
    return s;
}

static void test_direct_roundtrip(void **state)
{
    (void)state;
    struct tm_rpc_server *s = start(0, echo, 0);
    struct tm_rpc_client *c;
    char url[64];
    direct_url(url, sizeof url, 0);
    assert_int_equal(tm_rpc_client_open(&c, url), 0);
    static uint8_t big[300000]; /* past the first read of an answer */
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    struct tm_mpw w;
    tm_mpw_init(&w);
    tm_mpw_bin(&w, big, sizeof big);
    for (int round = 0; round < 3; round++) { /* the connection is kept between calls */
        struct tm_rpc_reply rep;
        struct tm_status st;
        assert_int_equal(tm_rpc_call(c, "echo", w.buf.data, w.buf.len, 2000, &rep, &st), 0);
        const uint8_t *p;
        uint32_t n;
        assert_int_equal(tm_mpr_bin(&rep.body, &p, &n), 0);
        assert_int_equal(n, sizeof big);
        assert_memory_equal(p, big, sizeof big);
        tm_rpc_reply_free(&rep);
        assert_int_equal(tm_rpc_call(c, "fail", NULL, 0, 2000, &rep, &st), TM_ESTATUS);
        assert_int_equal(st.code, 100);
        assert_string_equal(st.msg, "no such thing");
    }
    tm_mpw_free(&w);
    tm_rpc_client_close(c);
    tm_rpc_server_stop(s);
}

/* A not-leader answer and an address nobody listens on are passed over, as
 * with nng; the leader's change is followed; a callee restarted between two
 * calls (the client's kept connection now dead) is called again at once. */
static void test_direct_follows_the_leader(void **state)
{
    (void)state;
    struct tm_rpc_server *a = start(1, follower, 0), *b = start(2, named, 2);
    char ua[64], ub[64], nobody[64], urls[200];
    direct_url(ua, sizeof ua, 1);
    direct_url(ub, sizeof ub, 2);
    direct_url(nobody, sizeof nobody, 3);
    snprintf(urls, sizeof urls, "%s,%s,%s", ua, nobody, ub);
    struct tm_rpc_client *c;
    assert_int_equal(tm_rpc_client_open(&c, urls), 0);
    int rc;
    assert_int_equal(who(c, 3000, &rc), 2);
    assert_int_equal(rc, 0);
    tm_rpc_server_stop(b);
    b = start(2, named, 22);
    uint64_t t0 = tm_mono_ms();
    assert_int_equal(who(c, 3000, &rc), 22);
    assert_int_equal(rc, 0);
    assert_true(tm_mono_ms() - t0 < 1000);
    tm_rpc_server_stop(a);
    tm_rpc_server_stop(b);
    a = start(1, named, 1);
    b = start(2, follower, 0);
    assert_int_equal(who(c, 5000, &rc), 1);
    assert_int_equal(rc, 0);
    tm_rpc_client_close(c);
    tm_rpc_server_stop(a);
    tm_rpc_server_stop(b);
}

static void wait_held(struct later_box *b, int n)
{
    for (int tries = 0; tries < 500 && held(b) < n; tries++)
        usleep(10000);
    assert_int_equal(held(b), n);
}

#define DIRECT_HELD 12

static struct tm_rpc_server *start_async(int k, struct later_box *b)
{
    char inproc[64], tcp[64];
    snprintf(inproc, sizeof inproc, "inproc://direct-async-%d", k);
    tcp_url(tcp, sizeof tcp, k);
    struct tm_rpc_server *s;
    assert_int_equal(tm_rpc_server_start_async(&s, inproc, 2, echo, take, b), 0);
    assert_int_equal(tm_rpc_server_listen_direct(s, tcp), 0);
    return s;
}

/* Calls from many threads at once, each on a connection of its own, are
 * held and answered later; a call the async function declines goes to the
 * workers meanwhile. */
static void test_direct_async_calls(void **state)
{
    (void)state;
    static struct later_box b = {.mu = PTHREAD_MUTEX_INITIALIZER};
    static struct later_caller lc[DIRECT_HELD];
    pthread_t th[DIRECT_HELD];
    struct tm_rpc_server *s = start_async(4, &b);
    struct tm_rpc_client *c;
    char url[64];
    direct_url(url, sizeof url, 4);
    assert_int_equal(tm_rpc_client_open(&c, url), 0);
    for (int i = 0; i < DIRECT_HELD; i++) {
        lc[i] = (struct later_caller){.c = c, .n = (uint64_t)i + 1, .rc = -1};
        assert_int_equal(pthread_create(&th[i], NULL, call_later, &lc[i]), 0);
    }
    wait_held(&b, DIRECT_HELD);
    uint64_t v = 0;
    struct tm_status st;
    assert_int_equal(tm_rpc_call_uint_arg(c, "echo", "n", 5, 2000, &v, &st), 0); /* declined: */
    assert_int_equal(v, 5); /* the workers answer */
    answer_all(&b);
    for (int i = 0; i < DIRECT_HELD; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(lc[i].rc, 0);
        assert_int_equal(lc[i].got, lc[i].n * 2);
    }
    tm_rpc_client_close(c);
    tm_rpc_server_stop(s);
}

/* A stop waits for the answer of a direct call still held, and the caller
 * gets it. */
static void test_direct_stop_waits(void **state)
{
    (void)state;
    static struct later_box b = {.mu = PTHREAD_MUTEX_INITIALIZER};
    static struct later_caller lc;
    struct tm_rpc_server *s = start_async(5, &b);
    struct tm_rpc_client *c;
    char url[64];
    direct_url(url, sizeof url, 5);
    assert_int_equal(tm_rpc_client_open(&c, url), 0);
    lc = (struct later_caller){.c = c, .n = 7, .rc = -1};
    pthread_t caller, answerer;
    assert_int_equal(pthread_create(&caller, NULL, call_later, &lc), 0);
    wait_held(&b, 1);
    struct late_answer la = {&b, 200};
    assert_int_equal(pthread_create(&answerer, NULL, answer_after, &la), 0);
    tm_rpc_server_stop(s);
    pthread_join(answerer, NULL);
    pthread_join(caller, NULL);
    assert_int_equal(lc.rc, 0);
    assert_int_equal(lc.got, 14);
    tm_rpc_client_close(c);
}

/* A callee that hangs up fails the call at once, not at its timeout. */
static void test_direct_hang_up_fails_fast(void **state)
{
    (void)state;
    char tcp[64], url[64];
    tcp_url(tcp, sizeof tcp, 6);
    direct_url(url, sizeof url, 6);
    struct tm_tcp_addr addr;
    assert_int_equal(tm_tcp_parse(tcp, &addr), 0);
    int lfd = tm_tcp_listen(&addr);
    assert_true(lfd >= 0);
    struct tm_rpc_client *c;
    assert_int_equal(tm_rpc_client_open(&c, url), 0);
    struct later_caller lc = {.c = c, .n = 1, .rc = -1};
    pthread_t th;
    uint64_t t0 = tm_mono_ms();
    assert_int_equal(pthread_create(&th, NULL, call_later, &lc), 0);
    int fd = -1;
    for (int i = 0; i < 200 && fd < 0; i++, usleep(10000))
        fd = accept(lfd, NULL, NULL);
    assert_true(fd >= 0);
    close(fd);
    pthread_join(th, NULL);
    assert_true(lc.rc != 0 && lc.rc != TM_ESTATUS);
    assert_true(tm_mono_ms() - t0 < 5000); /* the call's timeout is 10 s */
    tm_rpc_client_close(c);
    close(lfd);
}

/* A frame announcing more than TM_RPC_MAX_MSG is refused before anything is
 * allocated for it: the connection is dropped, and the server still
 * serves. */
static void test_direct_oversized_frame(void **state)
{
    (void)state;
    struct tm_rpc_server *s = start(7, named, 7);
    char tcp[64], url[64];
    tcp_url(tcp, sizeof tcp, 7);
    direct_url(url, sizeof url, 7);
    struct tm_tcp_addr addr;
    assert_int_equal(tm_tcp_parse(tcp, &addr), 0);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&addr.sa, addr.len), 0);
    static const uint8_t hdr[4] = {0xff, 0xff, 0xff, 0xf0};
    assert_int_equal(write(fd, hdr, 4), 4);
    char got;
    assert_int_equal(read(fd, &got, 1), 0); /* dropped */
    close(fd);
    struct tm_rpc_client *c;
    assert_int_equal(tm_rpc_client_open(&c, url), 0);
    int rc;
    assert_int_equal(who(c, 2000, &rc), 7);
    assert_int_equal(rc, 0);
    tm_rpc_client_close(c);
    tm_rpc_server_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_call_roundtrip),
                                       cmocka_unit_test(test_several_addresses_follow_the_leader),
                                       cmocka_unit_test(test_async_calls),
                                       cmocka_unit_test(test_async_stop_waits),
                                       cmocka_unit_test(test_direct_roundtrip),
                                       cmocka_unit_test(test_direct_follows_the_leader),
                                       cmocka_unit_test(test_direct_async_calls),
                                       cmocka_unit_test(test_direct_stop_waits),
                                       cmocka_unit_test(test_direct_hang_up_fails_fast),
                                       cmocka_unit_test(test_direct_oversized_frame)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
