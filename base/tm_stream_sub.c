/* The log stream's receiving side (tm_stream.h): the receiving thread
 * dials, reads and redials every publisher itself; nothing runs between
 * it and the sockets. */
#include "tm_frame.h"
#include "tm_log.h"
#include "tm_nng.h"
#include "tm_stream.h"
#include "tm_tcp.h"
#include "tm_time.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define SUB_MAX_CONNS 64
#define REDIAL_MIN_MS 20
#define REDIAL_MAX_MS 500

enum conn_state { CONN_DOWN, CONN_DIALLING, CONN_GREETING, CONN_OPEN };

struct conn {
    struct tm_tcp_addr addr;
    char url[TM_URL_MAX];
    int fd;
    enum conn_state state;
    uint64_t redial_ms; /* monotonic: when a CONN_DOWN connection is dialled */
    uint32_t backoff_ms;
    struct tm_frame_in in;
};

struct tm_stream_sub {
    struct conn conns[SUB_MAX_CONNS];
    int n;
    int next; /* where the look for a received message starts: no publisher starves */
    int shutfd;
    atomic_bool shut;
};

/* Closes c and dials again after delay_ms; a partial message is lost (the
 * subscriber sees a gap, as for any drop). */
static void conn_down(struct conn *c, uint32_t delay_ms)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->state = CONN_DOWN;
    c->redial_ms = tm_mono_ms() + delay_ms;
    tm_frame_reset(&c->in);
}

/* A failed dial waits longer each time, up to REDIAL_MAX_MS. */
static void conn_failed(struct conn *c)
{
    conn_down(c, c->backoff_ms);
    c->backoff_ms = c->backoff_ms * 2 > REDIAL_MAX_MS ? REDIAL_MAX_MS : c->backoff_ms * 2;
}

static void conn_dial(struct conn *c)
{
    c->fd = tm_tcp_connect(&c->addr);
    if (c->fd < 0)
        conn_failed(c);
    else
        c->state = CONN_DIALLING;
}

/* Takes the next whole message c has received: 1 (out filled), 0 (none yet),
 * or -1 (c broke the protocol and was closed). */
static int conn_take(struct conn *c, struct tm_stream_msg *out)
{
    if (c->state == CONN_GREETING && tm_frame_pending(&c->in) >= 4) {
        if (memcmp(c->in.buf.data + c->in.at, TM_STREAM_HELLO, 4) != 0) {
            TM_WARN("stream", "%s is not a log stream: dropped", c->url);
            return conn_failed(c), -1;
        }
        c->state = CONN_OPEN;
        c->backoff_ms = REDIAL_MIN_MS;
        c->in.at += 4;
    }
    const uint8_t *data;
    uint32_t len;
    int rc = c->state == CONN_OPEN ? tm_frame_next(&c->in, TM_STREAM_MAX_MSG, &data, &len) : 0;
    if (rc == TM_ETOOBIG) {
        TM_WARN("stream", "%s sent a message over the limit: redialling", c->url);
        return conn_down(c, REDIAL_MIN_MS), -1;
    }
    void *m = rc == 1 ? malloc(len ? len : 1) : NULL;
    if (!m)
        return 0; /* or, out of memory, a gap: the tail calls fill it */
    memcpy(m, data, len);
    *out = (struct tm_stream_msg){m, m, len};
    return 1;
}

static bool take_any(struct tm_stream_sub *s, struct tm_stream_msg *out)
{
    for (int k = 0; k < s->n; k++) {
        struct conn *c = &s->conns[(s->next + k) % s->n];
        if (c->state >= CONN_GREETING && conn_take(c, out) == 1) {
            s->next = (s->next + k + 1) % s->n;
            return true;
        }
    }
    return false;
}

static void conn_ready(struct conn *c, short revents)
{
    if (c->state == CONN_DIALLING) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err)
            conn_failed(c);
        else
            c->state = CONN_GREETING;
        return;
    }
    if (!(revents & (POLLIN | POLLHUP | POLLERR)))
        return;
    ssize_t n = tm_frame_read(&c->in, c->fd, TM_STREAM_MAX_MSG);
    if (n == 0 || (n < 0 && n != -EAGAIN))
        conn_down(c, c->state == CONN_OPEN ? REDIAL_MIN_MS : c->backoff_ms);
}

static void dial_due(struct tm_stream_sub *s, uint64_t now)
{
    for (int i = 0; i < s->n; i++)
        if (s->conns[i].state == CONN_DOWN && s->conns[i].redial_ms <= now)
            conn_dial(&s->conns[i]);
}

/* How long poll may wait: to the deadline or the next dial, whichever is
 * first (-1: forever). */
static int poll_wait_ms(const struct tm_stream_sub *s, uint64_t now, uint64_t deadline)
{
    uint64_t until = deadline;
    for (int i = 0; i < s->n; i++)
        if (s->conns[i].state == CONN_DOWN && s->conns[i].redial_ms < until)
            until = s->conns[i].redial_ms;
    if (until == UINT64_MAX)
        return -1;
    return until <= now ? 0 : (int)(until - now);
}

int tm_stream_sub_recv(struct tm_stream_sub *s, int timeout_ms, struct tm_stream_msg *out)
{
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : tm_mono_ms() + (uint64_t)timeout_ms;
    for (;;) {
        if (atomic_load(&s->shut))
            return TM_ESHUTDOWN;
        if (take_any(s, out))
            return 0;
        uint64_t now = tm_mono_ms();
        if (now >= deadline)
            return TM_ETIMEDOUT;
        dial_due(s, now);
        struct pollfd pf[SUB_MAX_CONNS + 1] = {{.fd = s->shutfd, .events = POLLIN}};
        struct conn *polled[SUB_MAX_CONNS + 1];
        nfds_t np = 1;
        for (int i = 0; i < s->n; i++) {
            struct conn *c = &s->conns[i];
            if (c->state == CONN_DOWN)
                continue;
            pf[np] = (struct pollfd){c->fd, c->state == CONN_DIALLING ? POLLOUT : POLLIN, 0};
            polled[np++] = c;
        }
        if (poll(pf, np, poll_wait_ms(s, now, deadline)) < 0 && errno != EINTR)
            return -errno;
        for (nfds_t i = 1; i < np; i++)
            if (pf[i].revents)
                conn_ready(polled[i], pf[i].revents);
    }
}

void tm_stream_msg_free(struct tm_stream_msg *m)
{
    free(m->msg);
    m->msg = NULL;
}

int tm_stream_sub_open(struct tm_stream_sub **out, const char *urls)
{
    struct tm_stream_sub *s = calloc(1, sizeof *s);
    if (!s)
        return TM_ENOMEM;
    int more, rc = 0;
    for (const char *u = urls; !rc && (more = tm_url_next(&u, s->conns[s->n].url)) != 0;) {
        struct conn *c = &s->conns[s->n];
        rc = more < 0                    ? more
             : s->n == SUB_MAX_CONNS - 1 ? TM_ETOOBIG
                                         : tm_tcp_parse(c->url, &c->addr);
        if (rc)
            TM_ERROR("stream", "cannot dial %s: %s", c->url, tm_strerror(rc));
        c->fd = -1;
        c->backoff_ms = REDIAL_MIN_MS;
        s->n += !rc;
    }
    s->shutfd = rc ? -1 : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!rc && s->shutfd < 0)
        rc = -errno;
    if (rc) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void tm_stream_sub_shutdown(struct tm_stream_sub *s)
{
    atomic_store(&s->shut, true);
    uint64_t one = 1;
    if (write(s->shutfd, &one, sizeof one) != sizeof one)
        TM_ERROR("stream", "cannot wake the receiver: %s", strerror(errno));
}

void tm_stream_sub_close(struct tm_stream_sub *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n; i++) {
        if (s->conns[i].fd >= 0)
            close(s->conns[i].fd);
        tm_frame_in_free(&s->conns[i].in);
    }
    close(s->shutfd);
    free(s);
}
