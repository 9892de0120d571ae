/* The serving side of direct calls (tm_rpc_server_listen_direct): one
 * thread accepts connections and reads their frames; each call is handed
 * to the server's async function or its workers, as nng's are, and its
 * answer is written to the connection by whichever thread makes it. */
#include "tm_frame.h"
#include "tm_log.h"
#include "tm_rpc_int.h"
#include "tm_tcp.h"
#include "tm_time.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define DIRECT_MAX_CONNS 256
/* An answer the caller's socket does not take in this long drops the
 * connection (the caller gave up, or is stuck). */
#define DIRECT_SEND_MS 10000

/* A caller's connection: the listener's until the caller hangs up, and
 * each held call's until answered. */
struct tm_rpc_dconn {
    int fd;
    atomic_int refs;
    pthread_mutex_t wmu;   /* one answer written at a time */
    struct tm_frame_in in; /* the listener's */
};

struct tm_rpc_direct {
    struct tm_rpc_server *s;
    int lfd, epfd, stopfd;
    pthread_t thread;
    bool running;
    struct tm_rpc_dconn *conns[DIRECT_MAX_CONNS]; /* the listener thread's */
    int n;
};

static void conn_unref(struct tm_rpc_dconn *c)
{
    if (atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    close(c->fd);
    tm_frame_in_free(&c->in);
    pthread_mutex_destroy(&c->wmu);
    free(c);
}

void tm_rpc_direct_answer(struct tm_rpc_later *c, const struct tm_mpw *out, bool may_block)
{
    struct tm_rpc_dconn *conn = c->conn;
    uint64_t deadline = tm_mono_ms() + (may_block ? DIRECT_SEND_MS : 0);
    pthread_mutex_lock(&conn->wmu);
    int rc = tm_mpw_error(out) ? TM_ENOMEM
                               : tm_frame_send(conn->fd, out->buf.data, out->buf.len, deadline);
    if (rc) { /* the caller's call fails as if the peer were gone */
        TM_WARN("rpc", "a direct answer not taken (%s): connection dropped", tm_strerror(rc));
        shutdown(conn->fd, SHUT_RDWR);
    }
    pthread_mutex_unlock(&conn->wmu);
    free(c->frame);
    free(c);
    conn_unref(conn);
}

/* Hands one received frame on as a call. false when it cannot (the server
 * stops, or memory ran out): the connection is then dropped. */
static bool take_call(struct tm_rpc_direct *d, struct tm_rpc_dconn *conn, const uint8_t *data,
                      uint32_t len)
{
    struct tm_rpc_later *c = calloc(1, sizeof *c);
    uint8_t *frame = malloc(len ? len : 1);
    if (!c || !frame) {
        free(c), free(frame);
        return false;
    }
    memcpy(frame, data, len);
    *c = (struct tm_rpc_later){.s = d->s, .conn = conn, .frame = frame};
    c->env_rc = tm_rpc_envelope_decode(frame, len, &c->env);
    atomic_fetch_add(&conn->refs, 1);
    if (tm_rpc_dispatch(d->s, c))
        return true;
    free(frame);
    free(c);
    conn_unref(conn);
    return false;
}

/* Hands on every whole frame received. false: drop the connection. */
static bool take_frames(struct tm_rpc_direct *d, struct tm_rpc_dconn *conn)
{
    const uint8_t *data;
    uint32_t len;
    int rc;
    while ((rc = tm_frame_next(&conn->in, TM_RPC_MAX_MSG, &data, &len)) == 1)
        if (!take_call(d, conn, data, len))
            return false;
    if (rc == TM_ETOOBIG)
        TM_WARN("rpc", "a direct call over the size limit: connection dropped");
    return rc == 0;
}

static void conn_drop(struct tm_rpc_direct *d, int i)
{
    struct tm_rpc_dconn *conn = d->conns[i];
    epoll_ctl(d->epfd, EPOLL_CTL_DEL, conn->fd, NULL);
    shutdown(conn->fd, SHUT_RDWR); /* held calls' answers go nowhere */
    d->conns[i] = d->conns[--d->n];
    conn_unref(conn);
}

static void conn_readable(struct tm_rpc_direct *d, int i)
{
    struct tm_rpc_dconn *conn = d->conns[i];
    ssize_t n = tm_frame_read(&conn->in, conn->fd, TM_RPC_MAX_MSG);
    if (n == -EAGAIN)
        return;
    if (n <= 0 || !take_frames(d, conn))
        conn_drop(d, i);
}

static void accept_all(struct tm_rpc_direct *d)
{
    int fd;
    while ((fd = tm_tcp_accept(d->lfd)) >= 0) {
        struct tm_rpc_dconn *conn = d->n < DIRECT_MAX_CONNS ? calloc(1, sizeof *conn) : NULL;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = conn};
        if (!conn || epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev)) {
            TM_WARN("rpc", "a direct caller turned away (%d connected)", d->n);
            free(conn);
            close(fd);
            continue;
        }
        conn->fd = fd;
        atomic_init(&conn->refs, 1);
        pthread_mutex_init(&conn->wmu, NULL);
        d->conns[d->n++] = conn;
    }
}

static int conn_index(const struct tm_rpc_direct *d, const struct tm_rpc_dconn *conn)
{
    for (int i = 0; i < d->n; i++)
        if (d->conns[i] == conn)
            return i;
    return -1;
}

static void *direct_main(void *arg)
{
    struct tm_rpc_direct *d = arg;
    pthread_setname_np(pthread_self(), "tm-rpc-direct");
    for (;;) {
        struct epoll_event evs[16];
        int n = epoll_wait(d->epfd, evs, 16, -1);
        for (int k = 0; k < n; k++) {
            void *ptr = evs[k].data.ptr;
            if (ptr == &d->stopfd)
                return NULL;
            if (ptr == &d->lfd) {
                accept_all(d);
                continue;
            }
            int i = conn_index(d, ptr); /* an earlier event of this batch may have dropped it */
            if (i >= 0)
                conn_readable(d, i);
        }
    }
}

void tm_rpc_direct_free(struct tm_rpc_direct *d)
{
    if (!d)
        return;
    tm_rpc_direct_stop(d);
    while (d->n > 0)
        conn_drop(d, d->n - 1);
    int fds[] = {d->lfd, d->epfd, d->stopfd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(d);
}

void tm_rpc_direct_stop(struct tm_rpc_direct *d)
{
    if (!d || !d->running)
        return;
    uint64_t one = 1;
    if (write(d->stopfd, &one, sizeof one) == sizeof one)
        pthread_join(d->thread, NULL);
    else
        TM_ERROR("rpc", "cannot stop the direct listener: %s", strerror(errno));
    d->running = false;
}

int tm_rpc_server_listen_direct(struct tm_rpc_server *s, const char *url)
{
    struct tm_tcp_addr addr;
    struct tm_rpc_direct *d = calloc(1, sizeof *d);
    int rc = d ? tm_tcp_parse(url, &addr) : TM_ENOMEM;
    if (rc) {
        free(d);
        return rc;
    }
    d->s = s;
    d->lfd = tm_tcp_listen(&addr);
    d->epfd = epoll_create1(EPOLL_CLOEXEC);
    d->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    rc = d->lfd < 0 ? d->lfd : d->epfd < 0 || d->stopfd < 0 ? -errno : 0;
    if (!rc)
        rc = tm_tcp_epoll_in(d->epfd, d->lfd, &d->lfd);
    if (!rc)
        rc = tm_tcp_epoll_in(d->epfd, d->stopfd, &d->stopfd);
    if (!rc && pthread_create(&d->thread, NULL, direct_main, d))
        rc = TM_ENOMEM;
    d->running = !rc;
    if (rc) {
        TM_ERROR("rpc", "cannot listen for direct calls on %s: %s", url, tm_strerror(rc));
        tm_rpc_direct_free(d);
        return rc;
    }
    s->direct = d;
    return 0;
}
