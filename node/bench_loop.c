/* One thread, many benchmark clients (bench_loop.h). Each socket is
 * registered once, edge-triggered for both directions, and every event
 * tries both: no epoll_ctl per request. */
#include "bench_loop.h"
#include "bench_util.h"
#include "tm_err.h"
#include "tm_time.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define LOOP_EVENTS 256
#define LOOP_TICK_MS 100 /* how often request deadlines are checked */

struct lconn {
    struct tm_bench_conn c; /* fd, and the response buffer */
    int i;
    int port;
    bool busy; /* a request is in flight */
    char head[512];
    struct iovec iov[2];
    size_t sent, total;
    size_t got, head_end, need; /* response bytes read; head size; head + body */
    uint64_t t0;
};

struct loop {
    const char *host;
    const struct tm_bench_client_ops *ops;
    void *arg;
    int ep;
    int running;
    uint64_t timeout_ns;
};

static void finish(struct loop *l, struct lconn *lc, int rc, const char *body)
{
    lc->busy = false;
    l->ops->done(l->arg, lc->i, rc, body, tm_mono_ns() - lc->t0);
}

static void retire(struct loop *l, struct lconn *lc)
{
    if (lc->c.fd >= 0)
        epoll_ctl(l->ep, EPOLL_CTL_DEL, lc->c.fd, NULL);
    tm_bench_conn_close(&lc->c);
    l->running--;
}

static void fail(struct loop *l, struct lconn *lc, int rc)
{
    finish(l, lc, rc, NULL);
    retire(l, lc);
}

/* Writes what the kernel takes of the request; 0 or a negative errno. */
static int flush(struct lconn *lc)
{
    while (lc->sent < lc->total) {
        struct iovec v[2];
        int nv = 0;
        size_t skip = lc->sent;
        for (int k = 0; k < 2; k++) {
            if (skip >= lc->iov[k].iov_len) {
                skip -= lc->iov[k].iov_len;
                continue;
            }
            v[nv].iov_base = (char *)lc->iov[k].iov_base + skip;
            v[nv++].iov_len = lc->iov[k].iov_len - skip;
            skip = 0;
        }
        struct msghdr m = {.msg_iov = v, .msg_iovlen = (size_t)nv};
        ssize_t k = sendmsg(lc->c.fd, &m, MSG_NOSIGNAL); /* a closed peer: EPIPE, no signal */
        if (k < 0)
            return errno == EAGAIN ? 0 : -errno;
        lc->sent += (size_t)k;
    }
    return 0;
}

/* Client lc's next request, sent as far as the kernel takes it; false when
 * the client finished or failed (and was retired). */
static bool start(struct loop *l, struct lconn *lc)
{
    struct tm_bench_req req;
    if (!l->ops->next(l->arg, lc->i, &req)) {
        retire(l, lc);
        return false;
    }
    int hn = snprintf(lc->head, sizeof lc->head,
                      "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      req.path, l->host, lc->port, req.len);
    lc->t0 = tm_mono_ns();
    lc->busy = true;
    if (hn < 0 || (size_t)hn >= sizeof lc->head) {
        fail(l, lc, TM_EINVAL);
        return false;
    }
    lc->iov[0] = (struct iovec){lc->head, (size_t)hn};
    lc->iov[1] = (struct iovec){(void *)req.body, req.len};
    lc->sent = lc->got = lc->head_end = lc->need = 0;
    lc->total = (size_t)hn + req.len;
    int rc = flush(lc);
    if (rc)
        fail(l, lc, rc);
    return rc == 0;
}

/* Reads what has arrived; 1 when the response is complete, 0 when more is
 * to come, or a negative errno. */
static int receive(struct lconn *lc)
{
    for (;;) {
        if (lc->got + 1 >= lc->c.cap) {
            char *grown = realloc(lc->c.buf, lc->c.cap * 2);
            if (!grown)
                return TM_ENOMEM;
            lc->c.buf = grown;
            lc->c.cap *= 2;
        }
        ssize_t k = read(lc->c.fd, lc->c.buf + lc->got, lc->c.cap - lc->got - 1);
        if (k == 0)
            return -ECONNRESET;
        if (k < 0)
            return errno == EAGAIN ? 0 : -errno;
        lc->got += (size_t)k;
        lc->c.buf[lc->got] = '\0';
        if (!lc->head_end) {
            char *e = strstr(lc->c.buf, "\r\n\r\n");
            char *cl = strcasestr(lc->c.buf, "Content-Length:");
            if (!e || !cl)
                continue;
            lc->head_end = (size_t)(e - lc->c.buf) + 4;
            lc->need = lc->head_end + strtoul(cl + 15, NULL, 10);
        }
        if (lc->got >= lc->need)
            return 1;
    }
}

static void on_event(struct loop *l, struct lconn *lc)
{
    while (lc->busy) {
        int rc = flush(lc);
        if (rc == 0 && lc->sent == lc->total)
            rc = receive(lc);
        if (rc < 0) {
            fail(l, lc, rc);
            return;
        }
        if (rc == 0)
            return; /* until the next edge */
        lc->c.buf[lc->need] = '\0';
        finish(l, lc, 0, lc->c.buf + lc->head_end);
        if (!start(l, lc))
            return;
    }
}

static void check_deadlines(struct loop *l, struct lconn *cs, int n)
{
    uint64_t now = tm_mono_ns();
    for (int i = 0; i < n; i++)
        if (cs[i].busy && now - cs[i].t0 > l->timeout_ns)
            fail(l, &cs[i], -ETIMEDOUT);
}

/* Connects every client and registers it; a client that cannot connect is
 * told at once. */
static void open_all(struct loop *l, struct lconn *cs, int n, const int *ports, int nports)
{
    for (int i = 0; i < n; i++) {
        struct lconn *lc = &cs[i];
        lc->i = i;
        lc->port = ports[i % nports];
        l->running++;
        int rc = tm_bench_connect(&lc->c, l->host, lc->port, (int)(l->timeout_ns / 1000000000u));
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = lc};
        if (!rc && fcntl(lc->c.fd, F_SETFL, fcntl(lc->c.fd, F_GETFL) | O_NONBLOCK))
            rc = -errno;
        if (!rc && epoll_ctl(l->ep, EPOLL_CTL_ADD, lc->c.fd, &ev))
            rc = -errno;
        if (rc) {
            lc->t0 = tm_mono_ns();
            fail(l, lc, rc);
        }
    }
}

int tm_bench_loop_run(const char *host, const int *ports, int nports, int n, int timeout_s,
                      const struct tm_bench_client_ops *ops, void *arg)
{
    struct loop l = {host, ops, arg, epoll_create1(0), 0, (uint64_t)timeout_s * 1000000000u};
    struct lconn *cs = calloc((size_t)n, sizeof *cs);
    struct epoll_event *evs = malloc(LOOP_EVENTS * sizeof *evs);
    int rc = l.ep < 0 ? -errno : (!cs || !evs) ? TM_ENOMEM : 0;
    if (!rc) {
        for (int i = 0; i < n; i++)
            cs[i].c.fd = -1;
        open_all(&l, cs, n, ports, nports);
        for (int i = 0; i < n; i++)
            if (cs[i].c.fd >= 0)
                start(&l, &cs[i]);
    }
    while (!rc && l.running > 0) {
        int k = epoll_wait(l.ep, evs, LOOP_EVENTS, LOOP_TICK_MS);
        for (int e = 0; e < k; e++)
            on_event(&l, evs[e].data.ptr);
        check_deadlines(&l, cs, n);
    }
    if (l.ep >= 0)
        close(l.ep);
    free(evs);
    free(cs);
    return rc;
}
