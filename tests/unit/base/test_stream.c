/* tm_stream: delivery in order, timeouts, shutdown, the receive size limit,
 * a subscriber that does not read, two publishers, and a publisher that
 * restarts, over loopback TCP as in a cluster. */
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
#include "tm_tcp.h"
#include "tm_time.h"

/* A port of this process's own (k < 8), below the ephemeral range and
 * test_rpc.c's. */
static void url_for(char *url, size_t cap, int k)
{
    snprintf(url, cap, "tcp://127.0.0.1:%d", 20000 + (int)(getpid() % 600) * 8 + k);
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
    /* the subscriber drops the connection that announced it, and redials */
    for (int i = 0; i < 200; i++) {
        assert_int_equal(tm_stream_pub_send(p, "after", 5), 0);
        if (tm_stream_sub_recv(s, 20, &m) == 0)
            break;
    }
    assert_non_null(m.msg);
    assert_int_equal(m.len, 5);
    assert_memory_equal(m.data, "after", 5);
    tm_stream_msg_free(&m);
    tm_stream_sub_close(s);
    tm_stream_pub_close(p);
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

/* A subscriber that reads nothing never holds the publisher up: what its
 * socket cannot take is queued, then dropped; once it reads, what it gets is
 * in order, from the first message on. */
static void test_stalled_subscriber_never_blocks(void **state)
{
    (void)state;
    struct tm_stream_pub *p;
    struct tm_stream_sub *s;
    open_pair(2, &p, &s);
    enum { MSG = 256 << 10, COUNT = 400 }; /* 100 MiB: past the socket and the queue */
    uint8_t *buf = calloc(1, MSG);
    assert_non_null(buf);
    uint64_t t0 = tm_mono_ms();
    for (uint32_t i = 0; i < COUNT; i++) {
        memcpy(buf, &i, sizeof i);
        assert_int_equal(tm_stream_pub_send(p, buf, MSG), 0);
    }
    assert_true(tm_mono_ms() - t0 < 5000);
    free(buf);
    struct tm_stream_msg m;
    uint32_t got = 0, prev = 0, n = 0;
    while (tm_stream_sub_recv(s, 300, &m) == 0) {
        assert_int_equal(m.len, MSG);
        memcpy(&got, m.data, sizeof got);
        assert_true(n == 0 ? got == 0 : got > prev);
        prev = got, n++;
        tm_stream_msg_free(&m);
    }
    assert_true(n > 0 && n < COUNT); /* some dropped: the queue has a limit */
    tm_stream_sub_close(s);
    tm_stream_pub_close(p);
}

/* Waits for one message carrying `want` (others are skipped). */
static void recv_text(struct tm_stream_sub *s, const char *want)
{
    struct tm_stream_msg m;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(tm_stream_sub_recv(s, 2000, &m), 0);
        bool match = m.len == strlen(want) && memcmp(m.data, want, m.len) == 0;
        tm_stream_msg_free(&m);
        if (match)
            return;
    }
    fail_msg("never received %s", want);
}

/* One subscriber of two publishers gets both; when one publisher goes and
 * comes back on its address, the subscriber redials it. */
static void test_two_publishers_and_a_restart(void **state)
{
    (void)state;
    char u1[64], u2[64], both[160];
    url_for(u1, sizeof u1, 3);
    url_for(u2, sizeof u2, 4);
    snprintf(both, sizeof both, "%s,%s", u1, u2);
    struct tm_stream_pub *p1, *p2;
    struct tm_stream_sub *s;
    assert_int_equal(tm_stream_pub_open(&p1, u1), 0);
    assert_int_equal(tm_stream_pub_open(&p2, u2), 0);
    assert_int_equal(tm_stream_sub_open(&s, both), 0);
    connect_both(p1, s);
    connect_both(p2, s);
    assert_int_equal(tm_stream_pub_send(p1, "one", 3), 0);
    assert_int_equal(tm_stream_pub_send(p2, "two", 3), 0);
    recv_text(s, "one");
    recv_text(s, "two");
    tm_stream_pub_close(p2);
    assert_int_equal(tm_stream_pub_open(&p2, u2), 0);
    connect_both(p2, s);
    assert_int_equal(tm_stream_pub_send(p2, "again", 5), 0);
    recv_text(s, "again");
    tm_stream_sub_close(s);
    tm_stream_pub_close(p1);
    tm_stream_pub_close(p2);
}

/* An address that answers with something else than the stream's greeting
 * is dropped, not read as messages. */
static void test_a_stranger_is_not_a_stream(void **state)
{
    (void)state;
    char url[64];
    url_for(url, sizeof url, 5);
    struct tm_tcp_addr addr;
    assert_int_equal(tm_tcp_parse(url, &addr), 0);
    int lfd = tm_tcp_listen(&addr);
    assert_true(lfd >= 0);
    struct tm_stream_sub *s;
    assert_int_equal(tm_stream_sub_open(&s, url), 0);
    struct tm_stream_msg m;
    assert_int_equal(tm_stream_sub_recv(s, 100, &m), TM_ETIMEDOUT); /* it dials */
    int fd = -1;
    for (int i = 0; i < 100 && fd < 0; i++, tm_sleep_ms(10))
        fd = accept(lfd, NULL, NULL);
    assert_true(fd >= 0);
    static const uint8_t junk[] = {'H', 'T', 'T', 'P', 0, 0, 0, 1, 'x'};
    assert_int_equal(write(fd, junk, sizeof junk), sizeof junk);
    assert_int_equal(tm_stream_sub_recv(s, 200, &m), TM_ETIMEDOUT);
    char c;
    assert_int_equal(read(fd, &c, 1), 0); /* the subscriber hung up */
    close(fd);
    close(lfd);
    tm_stream_sub_close(s);
}

/* Addresses as nng writes them; anything else is refused. */
static void test_tcp_addresses(void **state)
{
    (void)state;
    struct tm_tcp_addr a;
    assert_int_equal(tm_tcp_parse("tcp://127.0.0.1:19530", &a), 0);
    assert_int_equal(a.sa.ss_family, AF_INET);
    assert_int_equal(tm_tcp_parse("tcp://[::1]:19530", &a), 0);
    assert_int_equal(a.sa.ss_family, AF_INET6);
    assert_int_equal(tm_tcp_parse("tcp://*:19530", &a), 0);
    assert_int_equal(tm_tcp_parse("tcp://127.0.0.1", &a), TM_EINVAL);
    assert_int_equal(tm_tcp_parse("tcp://127.0.0.1:", &a), TM_EINVAL);
    assert_int_equal(tm_tcp_parse("inproc://x:1", &a), TM_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages_arrive_in_order),
        cmocka_unit_test(test_shutdown_ends_a_wait),
        cmocka_unit_test(test_oversized_message_is_dropped),
        cmocka_unit_test(test_stalled_subscriber_never_blocks),
        cmocka_unit_test(test_two_publishers_and_a_restart),
        cmocka_unit_test(test_a_stranger_is_not_a_stream),
        cmocka_unit_test(test_tcp_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
