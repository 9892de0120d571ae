/* tm_stream: pub/sub delivery in order, timeouts, shutdown and the receive
 * size limit, over loopback TCP as in a cluster. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tm_stream.h"
#include "tm_time.h"

/* A port of this process's own, below the ephemeral range. */
static void url_for(char *url, size_t cap, int k)
{
    snprintf(url, cap, "tcp://127.0.0.1:%d", 20000 + (int)(getpid() % 5000) * 2 + k);
}

/* Sends "hello" until the subscriber receives one: a subscriber sees only
 * what is sent once it is connected. */
static void connect_both(struct tm_stream_pub *p, struct tm_stream_sub *s)
{
    struct tm_stream_msg m;
    for (int i = 0; i < 200; i++) {
        assert_int_equal(tm_stream_pub_send(p, "hello", 5), 0);
        if (tm_stream_sub_recv(s, 20, &m) == 0) {
            tm_stream_msg_free(&m);
            while (tm_stream_sub_recv(s, 50, &m) == 0) /* the other hellos */
                tm_stream_msg_free(&m);
            return;
        }
    }
    fail_msg("the subscriber never connected");
}

static void open_pair(int k, struct tm_stream_pub **p, struct tm_stream_sub **s)
{
    char url[64];
    url_for(url, sizeof url, k);
    assert_int_equal(tm_stream_pub_open(p, url), 0);
    assert_int_equal(tm_stream_sub_open(s, url), 0);
    connect_both(*p, *s);
}

static void test_messages_arrive_in_order(void **state)
{
    (void)state;
    struct tm_stream_pub *p;
    struct tm_stream_sub *s;
    open_pair(0, &p, &s);
    for (uint32_t i = 0; i < 100; i++)
        assert_int_equal(tm_stream_pub_send(p, &i, sizeof i), 0);
    for (uint32_t i = 0; i < 100; i++) {
        struct tm_stream_msg m;
        assert_int_equal(tm_stream_sub_recv(s, 2000, &m), 0);
        assert_int_equal(m.len, sizeof i);
        uint32_t got;
        memcpy(&got, m.data, sizeof got);
        assert_int_equal(got, i);
        tm_stream_msg_free(&m);
    }
    struct tm_stream_msg m;
    assert_int_equal(tm_stream_sub_recv(s, 50, &m), TM_ETIMEDOUT);
    tm_stream_sub_close(s);
    tm_stream_pub_close(p);
}

/* Closing a pair whose connection was cut by an oversized message can
 * hang in nng 1.5.2: its reaper waits for the cut pipe (seen once under
 * ASan in CI, in either order of closing). The product never sends such a
 * message (the pushers stay far below the limit), so the closes run on a
 * thread and the test goes on after CLOSE_LIMIT_MS, saying so; a close
 * that never returns is left behind with its sockets. */
#define CLOSE_LIMIT_MS 10000

/* Set when a close was left behind. nng's stuck reaper then also blocks
 * every later socket's open or close, and nng_fini, which nng registers
 * with atexit: so the oversized case runs last, and main leaves with
 * _exit instead of hanging at exit. */
static bool left_behind;

struct pair_close {
    struct tm_stream_pub *p;
    struct tm_stream_sub *s;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool done;
};

static void *close_pair(void *arg)
{
    struct pair_close *c = arg;
    tm_stream_pub_close(c->p); /* the publisher first: the subscriber's close waited more */
    tm_stream_sub_close(c->s);
    pthread_mutex_lock(&c->mu);
    c->done = true;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static void close_bounded(struct tm_stream_pub *p, struct tm_stream_sub *s)
{
    static struct pair_close c = {.mu = PTHREAD_MUTEX_INITIALIZER,
                                  .cond = PTHREAD_COND_INITIALIZER};
    c.p = p;
    c.s = s;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, close_pair, &c), 0);
    struct timespec until = tm_deadline_ms(CLOSE_LIMIT_MS);
    pthread_mutex_lock(&c.mu);
    while (!c.done && pthread_cond_timedwait(&c.cond, &c.mu, &until) == 0)
        ;
    bool done = c.done;
    pthread_mutex_unlock(&c.mu);
    if (done)
        pthread_join(th, NULL);
    else
        print_message("nng's close of the cut pair still waits after %d ms: left behind\n",
                      CLOSE_LIMIT_MS);
    left_behind = !done;
}

/* A message over the receive limit is dropped, and later ones still come. */
static void test_oversized_message_is_dropped(void **state)
{
    (void)state;
    struct tm_stream_pub *p;
    struct tm_stream_sub *s;
    open_pair(1, &p, &s);
    size_t big = TM_STREAM_MAX_MSG + 1;
    char *buf = calloc(1, big);
    assert_non_null(buf);
    assert_int_equal(tm_stream_pub_send(p, buf, big), 0);
    free(buf);
    struct tm_stream_msg m;
    /* nng closes the connection that carried it; the dialer redials */
    for (int i = 0; i < 200; i++) {
        assert_int_equal(tm_stream_pub_send(p, "after", 5), 0);
        if (tm_stream_sub_recv(s, 20, &m) == 0)
            break;
    }
    assert_non_null(m.msg);
    assert_int_equal(m.len, 5);
    assert_memory_equal(m.data, "after", 5);
    tm_stream_msg_free(&m);
    close_bounded(p, s);
}

static void *shut_later(void *arg)
{
    tm_sleep_ms(50);
    tm_stream_sub_shutdown(arg);
    return NULL;
}

static void test_shutdown_ends_a_wait(void **state)
{
    (void)state;
    char url[64];
    url_for(url, sizeof url, 0);
    struct tm_stream_sub *s;
    assert_int_equal(tm_stream_sub_open(&s, url), 0); /* nobody listens: it redials */
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, shut_later, s), 0);
    struct tm_stream_msg m;
    uint64_t t0 = tm_mono_ms();
    assert_int_equal(tm_stream_sub_recv(s, 5000, &m), TM_ESHUTDOWN);
    assert_true(tm_mono_ms() - t0 < 4000);
    pthread_join(t, NULL);
    tm_stream_sub_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages_arrive_in_order),
        cmocka_unit_test(test_shutdown_ends_a_wait),
        cmocka_unit_test(test_oversized_message_is_dropped), /* last: see left_behind */
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (left_behind) {
        fflush(stdout);
        fflush(stderr);
        _exit(rc);
    }
    return rc;
}
