/* The proxy's group commit (node/write_queue.h) against a real tm_rpc
 * server on nng inproc that plays the data role's "writes" call: every
 * write gets its own answer, writes that queue meanwhile share calls, and
 * a refused call fails each of its writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "write_queue.h"

#define THREADS 16
#define WRITES 50 /* per thread */

static atomic_int g_calls, g_items;

/* "writes": answers item i {"ts": its "seq" * 10}, or {"code": 1100} for
 * seq 13; a call for shard 9 is refused whole. Slow enough (1 ms) that
 * writes queue behind a call in flight. */
static void data_role(void *arg, const char *type, struct tm_mpr *body, struct tm_mpw *reply,
                      struct tm_status *st)
{
    (void)arg;
    uint32_t n;
    if (strcmp(type, "writes") || tm_mpr_key_int(*body, "shard", -1) == 9) {
        tm_status_set(st, 10001, "refused");
        return;
    }
    assert_int_equal(tm_mpr_find(body, "items"), 0);
    assert_int_equal(tm_mpr_array(body, &n), 0);
    atomic_fetch_add(&g_calls, 1);
    atomic_fetch_add(&g_items, (int)n);
    nanosleep(&(struct timespec){0, 1000000}, NULL);
    tm_mpw_map(reply, 1);
    tm_mpw_cstr(reply, "results"), tm_mpw_array(reply, n);
    for (uint32_t i = 0; i < n; i++) {
        int64_t seq = tm_mpr_key_int(*body, "seq", -1);
        assert_int_equal(tm_mpr_skip(body), 0);
        tm_mpw_map(reply, 1);
        if (seq == 13) {
            tm_mpw_cstr(reply, "code"), tm_mpw_uint(reply, 1100);
        } else {
            tm_mpw_cstr(reply, "ts"), tm_mpw_uint(reply, (uint64_t)seq * 10);
        }
    }
}

struct writer {
    struct tm_write_queue *q;
    int id, shard, wrong;
};

static int write_one(struct writer *w, int64_t seq, uint64_t *ts, struct tm_status *st)
{
    struct tm_mpw body;
    tm_mpw_init(&body);
    tm_mpw_map(&body, 2);
    tm_mpw_cstr(&body, "shard"), tm_mpw_int(&body, w->shard);
    tm_mpw_cstr(&body, "seq"), tm_mpw_int(&body, seq);
    int rc = tm_write_queue_call(w->q, &body, ts, st);
    tm_mpw_free(&body);
    return rc;
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    for (int i = 0; i < WRITES; i++) {
        int64_t seq = 100 + w->id * WRITES + i;
        uint64_t ts = 0;
        struct tm_status st;
        if (write_one(w, seq, &ts, &st) || ts != (uint64_t)seq * 10)
            w->wrong++;
    }
    return NULL;
}

static void test_each_write_its_answer_calls_shared(void **state)
{
    (void)state;
    struct tm_rpc_server *s;
    struct tm_rpc_client *c;
    struct tm_write_queue q;
    assert_int_equal(tm_rpc_server_start(&s, "inproc://test-wq", 8, data_role, NULL), 0);
    assert_int_equal(tm_rpc_client_open(&c, "inproc://test-wq"), 0);
    assert_int_equal(tm_write_queue_start(&q, c, 0, 5000, 0), 0);

    /* alone: one call per write, each answered */
    struct writer one = {.q = &q, .id = 0};
    uint64_t ts;
    struct tm_status st;
    assert_int_equal(write_one(&one, 7, &ts, &st), 0);
    assert_int_equal(ts, 70);
    assert_int_equal(write_one(&one, 13, &ts, &st), TM_ESTATUS); /* its own error */
    assert_int_equal(st.code, 1100);
    assert_int_equal(atomic_load(&g_calls), 2);

    atomic_store(&g_calls, 0), atomic_store(&g_items, 0);
    pthread_t t[THREADS];
    struct writer w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct writer){.q = &q, .id = i};
        assert_int_equal(pthread_create(&t[i], NULL, writer_main, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].wrong, 0);
    }
    assert_int_equal(atomic_load(&g_items), THREADS * WRITES);
    print_message("%d writes in %d calls\n", THREADS * WRITES, atomic_load(&g_calls));
    assert_true(atomic_load(&g_calls) < THREADS * WRITES);

    tm_write_queue_stop(&q);

    /* a refused call fails its writes with the call's status */
    struct tm_write_queue refused;
    assert_int_equal(tm_write_queue_start(&refused, c, 9, 5000, 0), 0);
    struct writer bad = {.q = &refused, .shard = 9};
    assert_int_equal(write_one(&bad, 1, &ts, &st), TM_ESTATUS);
    assert_int_equal(st.code, 10001);
    assert_null(refused.head); /* taken before it was answered */
    tm_write_queue_stop(&refused);

    tm_rpc_client_close(c);
    tm_rpc_server_stop(s);
}

struct async_write {
    struct tm_wq_item item;
    struct tm_mpw body;
    int64_t seq;
};

static atomic_int g_answered_right;

static void async_done(struct tm_wq_item *it)
{
    struct async_write *a = (struct async_write *)it;
    if (it->rc == 0 && it->ts == (uint64_t)a->seq * 10)
        atomic_fetch_add(&g_answered_right, 1);
}

/* Submitted writes are answered through their callbacks, and stopping the
 * queue right after submitting still sends every one of them. */
static void test_submitted_writes_answered_stop_drains(void **state)
{
    (void)state;
    enum { N = 200 };
    struct tm_rpc_server *s;
    struct tm_rpc_client *c;
    struct tm_write_queue q;
    static struct async_write a[N];
    assert_int_equal(tm_rpc_server_start(&s, "inproc://test-wq-async", 4, data_role, NULL), 0);
    assert_int_equal(tm_rpc_client_open(&c, "inproc://test-wq-async"), 0);
    assert_int_equal(tm_write_queue_start(&q, c, 0, 5000, 0), 0);
    for (int i = 0; i < N; i++) {
        a[i].seq = 1000 + i;
        tm_mpw_init(&a[i].body);
        tm_mpw_map(&a[i].body, 2);
        tm_mpw_cstr(&a[i].body, "shard"), tm_mpw_int(&a[i].body, 0);
        tm_mpw_cstr(&a[i].body, "seq"), tm_mpw_int(&a[i].body, a[i].seq);
        a[i].item = (struct tm_wq_item){.body = &a[i].body, .done = async_done};
        tm_write_queue_submit(&q, &a[i].item);
    }
    tm_write_queue_stop(&q);
    assert_int_equal(atomic_load(&g_answered_right), N);
    for (int i = 0; i < N; i++)
        tm_mpw_free(&a[i].body);
    tm_rpc_client_close(c);
    tm_rpc_server_stop(s);
}

/* ---- linger: a gated data role, each call held until the test lets it go ---- */

static pthread_mutex_t g_gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_gate_cond = PTHREAD_COND_INITIALIZER;
static int g_gate_calls, g_gate_released;
static uint32_t g_gate_n[64];
static uint64_t g_gate_arrived_ns[64];

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void gated_role(void *arg, const char *type, struct tm_mpr *body, struct tm_mpw *reply,
                       struct tm_status *st)
{
    (void)arg, (void)type, (void)st;
    uint32_t n;
    assert_int_equal(tm_mpr_find(body, "items"), 0);
    assert_int_equal(tm_mpr_array(body, &n), 0);
    pthread_mutex_lock(&g_gate_mu);
    int k = g_gate_calls++;
    g_gate_n[k] = n;
    g_gate_arrived_ns[k] = now_ns();
    pthread_cond_broadcast(&g_gate_cond);
    while (g_gate_released <= k)
        pthread_cond_wait(&g_gate_cond, &g_gate_mu);
    pthread_mutex_unlock(&g_gate_mu);
    tm_mpw_map(reply, 1);
    tm_mpw_cstr(reply, "results"), tm_mpw_array(reply, n);
    for (uint32_t i = 0; i < n; i++) {
        tm_mpw_map(reply, 1);
        tm_mpw_cstr(reply, "ts"), tm_mpw_uint(reply, 1);
    }
}

/* Waits for call k to reach the role; how many writes it carries. */
static uint32_t gate_arrived(int k)
{
    pthread_mutex_lock(&g_gate_mu);
    while (g_gate_calls <= k)
        pthread_cond_wait(&g_gate_cond, &g_gate_mu);
    uint32_t n = g_gate_n[k];
    pthread_mutex_unlock(&g_gate_mu);
    return n;
}

/* Lets the oldest held call go; when (taken before the sender can move). */
static uint64_t gate_release(void)
{
    pthread_mutex_lock(&g_gate_mu);
    uint64_t at = now_ns();
    g_gate_released++;
    pthread_cond_broadcast(&g_gate_cond);
    pthread_mutex_unlock(&g_gate_mu);
    return at;
}

static atomic_int g_linger_done;

static void linger_done(struct tm_wq_item *it)
{
    (void)it;
    atomic_fetch_add(&g_linger_done, 1);
}

static void submit_n(struct tm_write_queue *q, struct tm_wq_item *items, int n)
{
    for (int i = 0; i < n; i++)
        tm_write_queue_submit(q, &items[i]);
}

static bool lingering(struct tm_write_queue *q)
{
    pthread_mutex_lock(&q->mu);
    bool yes = q->want > 0;
    pthread_mutex_unlock(&q->mu);
    return yes;
}

/* Once a call carried TM_WQ_BUSY_WRITES writes, the next waits (up to the
 * linger) for as many, and goes as soon as they are there; a call of one
 * write never makes the next wait, nor does a write after a quiet spell.
 * The linger here is long (LINGER_NS), so that "at once" and "after the
 * linger" cannot be mistaken for each other on a loaded machine. */
#define LINGER_NS 1000000000ull
#define AT_ONCE_NS (LINGER_NS / 2)

static void wait_lingering(struct tm_write_queue *q)
{
    while (!lingering(q))
        nanosleep(&(struct timespec){0, 100000}, NULL);
}

static void test_busy_calls_linger_for_a_full_call(void **state)
{
    (void)state;
    enum { ITEMS = 64 };
    struct tm_rpc_server *s;
    struct tm_rpc_client *c;
    struct tm_write_queue q;
    static struct tm_wq_item it[ITEMS];
    struct tm_mpw body;
    tm_mpw_init(&body);
    tm_mpw_map(&body, 0);
    for (int i = 0; i < ITEMS; i++)
        it[i] = (struct tm_wq_item){.body = &body, .done = linger_done};
    assert_int_equal(tm_rpc_server_start(&s, "inproc://test-wq-linger", 4, gated_role, NULL), 0);
    assert_int_equal(tm_rpc_client_open(&c, "inproc://test-wq-linger"), 0);
    assert_int_equal(tm_write_queue_start(&q, c, 0, 5000, (int)(LINGER_NS / 1000)), 0);

    int used = 0, k = 0;
    submit_n(&q, &it[used], 1), used += 1;
    assert_int_equal(gate_arrived(k), 1);
    submit_n(&q, &it[used], TM_WQ_BUSY_WRITES), used += TM_WQ_BUSY_WRITES;
    uint64_t released = gate_release(); /* after a call of one, no wait */
    assert_int_equal(gate_arrived(++k), TM_WQ_BUSY_WRITES);
    assert_true(g_gate_arrived_ns[k] - released < AT_ONCE_NS);

    /* After four: two wait for two more, which fill the call at once. */
    submit_n(&q, &it[used], 2), used += 2;
    gate_release();
    wait_lingering(&q);
    /* Before the submit: the call may reach the role before this thread
     * reads the clock again (then arrived - filled went below zero, as an
     * unsigned difference, and failed 1 run in 40). */
    uint64_t filled = now_ns();
    submit_n(&q, &it[used], 2), used += 2;
    assert_int_equal(gate_arrived(++k), TM_WQ_BUSY_WRITES);
    assert_true(g_gate_arrived_ns[k] - filled < AT_ONCE_NS);

    /* After four again: two wait for two more in vain, the whole linger. */
    submit_n(&q, &it[used], 2), used += 2;
    released = gate_release();
    assert_int_equal(gate_arrived(++k), 2);
    assert_true(g_gate_arrived_ns[k] - released >= LINGER_NS);

    /* A quiet spell longer than the linger: a lone write goes at once. */
    gate_release();
    while (atomic_load(&g_linger_done) < used)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    nanosleep(&(struct timespec){1, 100000000}, NULL);
    filled = now_ns();
    submit_n(&q, &it[used], 1), used += 1;
    assert_int_equal(gate_arrived(++k), 1);
    assert_true(g_gate_arrived_ns[k] - filled < AT_ONCE_NS);
    gate_release();

    tm_write_queue_stop(&q);
    assert_int_equal(atomic_load(&g_linger_done), used);
    tm_mpw_free(&body);
    tm_rpc_client_close(c);
    tm_rpc_server_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_write_its_answer_calls_shared),
        cmocka_unit_test(test_submitted_writes_answered_stop_drains),
        cmocka_unit_test(test_busy_calls_linger_for_a_full_call),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
