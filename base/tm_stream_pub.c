/* The log stream's publishing side (tm_stream.h): the sending thread writes
 * each subscriber's socket itself; the publisher's own thread accepts
 * subscribers, notices them leave, and writes what a socket could not take
 * at once. */
#include "tm_frame.h"
#include "tm_log.h"
#include "tm_stream.h"
#include "tm_tcp.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

/* Bytes a slow subscriber may have queued before messages are dropped for
 * it (each dropped message is a gap it catches up on with a "tail" call). */
#define PUB_QUEUE_BYTES (32u << 20)
#define PUB_MAX_PEERS 64
/* A drained queue keeps its memory up to this size. */
#define PUB_KEEP_BYTES (1u << 20)

struct peer {
    int fd;
    struct tm_buf out; /* bytes the socket has not taken, from out_at */
    size_t out_at;
    bool dropping; /* messages dropped since the queue last drained */
};

struct tm_stream_pub {
    int lfd, epfd, stopfd;
    pthread_t thread;
    pthread_mutex_t mu; /* the peers and their queues */
    struct peer *peers[PUB_MAX_PEERS];
    int npeers;
};

static int peer_index(struct tm_stream_pub *p, const struct peer *pe)
{
    for (int i = 0; i < p->npeers; i++)
        if (p->peers[i] == pe)
            return i;
    return -1;
}

/* Closing the socket also takes it out of the epoll set. */
static void peer_drop(struct tm_stream_pub *p, int i)
{
    struct peer *pe = p->peers[i];
    close(pe->fd);
    tm_buf_free(&pe->out);
    free(pe);
    p->peers[i] = p->peers[--p->npeers];
}

static void peer_watch(struct tm_stream_pub *p, struct peer *pe, bool writable)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (writable ? EPOLLOUT : 0),
                             .data.ptr = pe};
    epoll_ctl(p->epfd, EPOLL_CTL_MOD, pe->fd, &ev);
}

static bool pending(const struct peer *pe)
{
    return pe->out_at < pe->out.len;
}

/* Writes what the socket takes of the queue. 0 (maybe some left) or a
 * negative errno. */
static int flush(struct peer *pe)
{
    while (pending(pe)) {
        ssize_t n = send(pe->fd, pe->out.data + pe->out_at, pe->out.len - pe->out_at,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -errno;
        if (n < 0) {
            /* A subscriber that stays behind never drains: the sent part
             * goes, so the queue holds only what is unsent. */
            if (pe->out_at > pe->out.len / 2) {
                memmove(pe->out.data, pe->out.data + pe->out_at, pe->out.len - pe->out_at);
                pe->out.len -= pe->out_at;
                pe->out_at = 0;
            }
            return 0;
        }
        pe->out_at += (size_t)n;
    }
    pe->out.len = pe->out_at = 0;
    if (pe->out.cap > PUB_KEEP_BYTES)
        tm_buf_free(&pe->out);
    pe->dropping = false;
    return 0;
}

/* Sends one frame (hdr, then data) to a peer: at once while nothing is
 * queued, else behind the queue, or dropped past PUB_QUEUE_BYTES. 0 or a
 * negative errno (the peer is gone). */
static int send_to(struct tm_stream_pub *p, struct peer *pe, const uint8_t hdr[4], const void *data,
                   size_t len)
{
    size_t sent = 0;
    if (pending(pe)) {
        if (pe->out.len - pe->out_at + 4 + len > PUB_QUEUE_BYTES) {
            if (!pe->dropping)
                TM_WARN("stream", "a subscriber is %zu bytes behind: dropping its messages",
                        pe->out.len - pe->out_at);
            pe->dropping = true;
            return 0;
        }
    } else {
        struct iovec iov[2] = {{(void *)hdr, 4}, {(void *)data, len}};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
        ssize_t n = sendmsg(pe->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -errno;
        sent = n < 0 ? 0 : (size_t)n;
        if (sent == 4 + len)
            return 0;
        peer_watch(p, pe, true);
    }
    /* The frame's rest must follow, whatever its size: the stream is framed. */
    if (sent < 4)
        tm_buf_append(&pe->out, hdr + sent, 4 - sent);
    size_t from = sent > 4 ? sent - 4 : 0;
    tm_buf_append(&pe->out, (const uint8_t *)data + from, len - from);
    return pe->out.err ? TM_ENOMEM : 0;
}

int tm_stream_pub_send(struct tm_stream_pub *p, const void *data, size_t len)
{
    if (len > UINT32_MAX)
        return TM_ETOOBIG;
    uint8_t hdr[4];
    tm_frame_hdr(hdr, len);
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->npeers; i++) {
        int rc = send_to(p, p->peers[i], hdr, data, len);
        if (rc) {
            TM_INFO("stream", "a subscriber left: %s", tm_strerror(rc));
            peer_drop(p, i--);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return 0;
}

static void accept_all(struct tm_stream_pub *p)
{
    int fd;
    while ((fd = tm_tcp_accept(p->lfd)) >= 0) {
        struct peer *pe = calloc(1, sizeof *pe);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = pe};
        pthread_mutex_lock(&p->mu);
        bool ok = pe && p->npeers < PUB_MAX_PEERS &&
                  send(fd, TM_STREAM_HELLO, 4, MSG_NOSIGNAL | MSG_DONTWAIT) == 4 &&
                  epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) == 0;
        if (ok) {
            pe->fd = fd;
            p->peers[p->npeers++] = pe;
        }
        int connected = p->npeers;
        pthread_mutex_unlock(&p->mu);
        if (!ok) {
            TM_WARN("stream", "a subscriber turned away (%d connected)", connected);
            free(pe);
            close(fd);
        }
    }
}

/* A subscriber sends nothing: readable means it left (or misbehaves). */
static bool peer_left(int fd)
{
    char junk[256];
    ssize_t n = recv(fd, junk, sizeof junk, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

static void peer_event(struct tm_stream_pub *p, const struct epoll_event *ev)
{
    pthread_mutex_lock(&p->mu);
    int i = peer_index(p, ev->data.ptr); /* it may have left since */
    struct peer *pe = i >= 0 ? p->peers[i] : NULL;
    bool gone =
        pe && (ev->events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && peer_left(pe->fd);
    if (pe && !gone && (ev->events & EPOLLOUT)) {
        gone = flush(pe) != 0;
        if (!gone && !pending(pe))
            peer_watch(p, pe, false);
    }
    if (gone)
        peer_drop(p, i);
    pthread_mutex_unlock(&p->mu);
}

static void *pub_main(void *arg)
{
    struct tm_stream_pub *p = arg;
    pthread_setname_np(pthread_self(), "tm-stream-pub");
    for (;;) {
        struct epoll_event evs[16];
        int n = epoll_wait(p->epfd, evs, 16, -1);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &p->stopfd)
                return NULL;
            if (evs[i].data.ptr == &p->lfd)
                accept_all(p);
            else
                peer_event(p, &evs[i]);
        }
    }
}

static void close_fds(struct tm_stream_pub *p)
{
    for (int i = p->npeers - 1; i >= 0; i--)
        peer_drop(p, i);
    int fds[] = {p->lfd, p->epfd, p->stopfd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

int tm_stream_pub_open(struct tm_stream_pub **out, const char *url)
{
    struct tm_tcp_addr addr;
    int rc = tm_tcp_parse(url, &addr);
    if (rc) {
        TM_ERROR("stream", "not a tcp:// address: %s", url);
        return rc;
    }
    struct tm_stream_pub *p = calloc(1, sizeof *p);
    if (!p)
        return TM_ENOMEM;
    p->lfd = tm_tcp_listen(&addr);
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    p->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    rc = p->lfd < 0 ? p->lfd : p->epfd < 0 || p->stopfd < 0 ? -errno : 0;
    if (!rc)
        rc = tm_tcp_epoll_in(p->epfd, p->lfd, &p->lfd);
    if (!rc)
        rc = tm_tcp_epoll_in(p->epfd, p->stopfd, &p->stopfd);
    pthread_mutex_init(&p->mu, NULL);
    if (!rc && pthread_create(&p->thread, NULL, pub_main, p))
        rc = TM_ENOMEM;
    if (rc) {
        TM_ERROR("stream", "cannot listen on %s: %s", url, tm_strerror(rc));
        close_fds(p);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void tm_stream_pub_close(struct tm_stream_pub *p)
{
    if (!p)
        return;
    uint64_t one = 1;
    if (write(p->stopfd, &one, sizeof one) != sizeof one)
        TM_ERROR("stream", "cannot stop the publisher's thread: %s", strerror(errno));
    pthread_join(p->thread, NULL);
    close_fds(p);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
