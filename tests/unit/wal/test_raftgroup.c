/* raftgroup: a group of three members on loopback TCP (raft_uv_tcp behind
 * the TCP_NODELAY wrapper) elects one leader, replicates appends to every
 * member's state machine in order, refuses appends on followers, and after
 * the leader stops elects another that has applied everything first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "raftgroup.h"
#include "tm_err.h"
#include "tm_time.h"

#define N 3
#define ENTRIES 20

struct member {
    struct tm_raft_group *g;
    int id;
    atomic_int applied;  /* entries applied */
    atomic_int sum;      /* of their values, to check order-independent content */
    atomic_int last;     /* the last value applied: order */
    atomic_int in_order; /* 1 while every value followed the previous one */
    atomic_int leading;  /* from on_leader */
};

static struct member g_m[N];
static char g_dir[256];

static int apply(void *arg, const void *buf, size_t len)
{
    struct member *m = arg;
    uint64_t v;
    assert_int_equal(len, 8);
    memcpy(&v, buf, 8);
    if ((int)v != atomic_load(&m->last) + 1)
        atomic_store(&m->in_order, 0);
    atomic_store(&m->last, (int)v);
    atomic_fetch_add(&m->sum, (int)v);
    atomic_fetch_add(&m->applied, 1);
    return 0;
}

static void on_leader(void *arg, int leading)
{
    struct member *m = arg;
    atomic_store(&m->leading, leading);
}

static struct tm_raft_member g_members[N];

static void start_member(int i)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/m%d", g_dir, i);
    struct tm_raft_group_config cfg = {.dir = dir,
                                       .id = g_members[i].id,
                                       .address = g_members[i].address,
                                       .apply = apply,
                                       .arg = &g_m[i],
                                       .members = g_members,
                                       .nmembers = N,
                                       .election_ms = 500,
                                       .on_leader = on_leader};
    assert_int_equal(tm_raft_group_start(&g_m[i].g, &cfg), 0);
}

/* Waits up to ms for a member that leads (and says so); -1 if none. */
static int wait_leader(int ms, int except)
{
    for (uint64_t end = tm_mono_ms() + (uint64_t)ms; tm_mono_ms() < end; tm_sleep_ms(10))
        for (int i = 0; i < N; i++)
            if (i != except && g_m[i].g && tm_raft_group_leading(g_m[i].g, NULL) &&
                atomic_load(&g_m[i].leading))
                return i;
    return -1;
}

struct append_job {
    struct tm_raft_job job;
    struct tm_raft_group *g;
    uint64_t value;
    atomic_int rc; /* 1 while pending */
};

static void on_done(void *arg, int rc)
{
    struct append_job *a = arg;
    atomic_store(&a->rc, rc);
}

static void append_on_loop(struct tm_raft_job *job, int stopping)
{
    struct append_job *a = (struct append_job *)job;
    if (stopping) {
        atomic_store(&a->rc, TM_ESHUTDOWN);
        return;
    }
    struct tm_raft_buf b = {tm_raft_alloc(8), 8};
    memcpy(b.base, &a->value, 8);
    int rc = tm_raft_group_append(a->g, &b, 1, on_done, a);
    if (rc) {
        tm_raft_free(b.base);
        atomic_store(&a->rc, rc);
    }
}

/* Appends one value through member i's loop thread; its result. */
static int append(int i, uint64_t value)
{
    struct append_job a = {.job = {.fn = append_on_loop}, .g = g_m[i].g, .value = value};
    atomic_store(&a.rc, 1);
    tm_raft_group_post(g_m[i].g, &a.job);
    for (uint64_t end = tm_mono_ms() + 5000; atomic_load(&a.rc) == 1 && tm_mono_ms() < end;)
        tm_sleep_ms(1);
    return atomic_load(&a.rc);
}

static void wait_applied(int i, int n)
{
    for (uint64_t end = tm_mono_ms() + 5000;
         atomic_load(&g_m[i].applied) < n && tm_mono_ms() < end;)
        tm_sleep_ms(5);
    assert_int_equal(atomic_load(&g_m[i].applied), n);
}

/* Whether a loopback TCP port can be bound now. */
static bool port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* N consecutive free ports in [30000, 32700): below the kernel's ephemeral
 * range (32768 on Linux), where no outgoing connection takes them
 * meanwhile, and above test_stream's and test_rpc's (20000 – 29807). The
 * pid picks where to start, so parallel runs try different ones first. */
static int free_ports(void)
{
    for (int attempt = 0; attempt < 900; attempt++) {
        int base = 30000 + (int)((getpid() + attempt) % 900) * N;
        bool all = true;
        for (int i = 0; i < N && all; i++)
            all = port_free(base + i);
        if (all)
            return base;
    }
    return -1;
}

static void test_three_members_replicate_and_fail_over(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/tm-raftgroup-%d", (int)getpid());
    int base = free_ports();
    assert_true(base > 0);
    for (int i = 0; i < N; i++) {
        g_members[i].id = (uint64_t)i + 1;
        snprintf(g_members[i].address, sizeof g_members[i].address, "127.0.0.1:%d", base + i);
        g_m[i] = (struct member){.id = i + 1};
        atomic_store(&g_m[i].in_order, 1);
    }
    for (int i = 0; i < N; i++)
        start_member(i);
    int leader = wait_leader(10000, -1);
    assert_true(leader >= 0);
    int follower = (leader + 1) % N;
    assert_int_equal(append(follower, 1), TM_ENOTLEADER);
    for (int v = 1; v <= ENTRIES; v++)
        assert_int_equal(append(leader, (uint64_t)v), 0);
    for (int i = 0; i < N; i++) {
        wait_applied(i, ENTRIES);
        assert_int_equal(atomic_load(&g_m[i].sum), ENTRIES * (ENTRIES + 1) / 2);
        assert_true(atomic_load(&g_m[i].in_order));
    }
    /* The leader goes: another is elected and has applied everything. */
    tm_raft_group_stop(g_m[leader].g);
    g_m[leader].g = NULL;
    int next = wait_leader(10000, leader);
    assert_true(next >= 0);
    assert_int_equal(atomic_load(&g_m[next].applied), ENTRIES);
    assert_int_equal(append(next, ENTRIES + 1), 0);
    for (int i = 0; i < N; i++)
        if (i != leader)
            wait_applied(i, ENTRIES + 1);
    /* The old leader comes back as a follower and catches up from the log. */
    atomic_store(&g_m[leader].applied, 0);
    atomic_store(&g_m[leader].sum, 0);
    atomic_store(&g_m[leader].last, 0);
    start_member(leader);
    wait_applied(leader, ENTRIES + 1);
    assert_true(atomic_load(&g_m[leader].in_order));
    for (int i = 0; i < N; i++)
        tm_raft_group_stop(g_m[i].g);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_members_replicate_and_fail_over)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
