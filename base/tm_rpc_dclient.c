/* The calling side of direct calls (tm_rpc.h, "direct://" addresses): the
 * calling thread writes its frame and reads the answer on a connection of
 * its own, taken from the address's idle ones or made for it. No other
 * thread is involved, so a call wakes nothing but the callee. */
#include "tm_frame.h"
#include "tm_log.h"
#include "tm_nng.h"
#include "tm_rpc_int.h"
#include "tm_tcp.h"
#include "tm_time.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define DCLIENT_IDLE 8

struct tm_rpc_dclient {
    struct tm_tcp_addr addr;
    pthread_mutex_t mu;
    int idle[DCLIENT_IDLE]; /* connections between calls */
    int nidle;
    atomic_bool down; /* the last call could not connect, or its connection broke */
};

int tm_rpc_dclient_open(struct tm_rpc_dclient **out, const char *url)
{
    char tcp[TM_URL_MAX];
    if (strncmp(url, "direct://", 9) != 0 ||
        snprintf(tcp, sizeof tcp, "tcp://%s", url + 9) >= (int)sizeof tcp)
        return TM_EINVAL;
    struct tm_rpc_dclient *c = calloc(1, sizeof *c);
    if (!c)
        return TM_ENOMEM;
    int rc = tm_tcp_parse(tcp, &c->addr);
    if (rc) {
        free(c);
        return rc;
    }
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return 0;
}

void tm_rpc_dclient_close(struct tm_rpc_dclient *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->nidle; i++)
        close(c->idle[i]);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

bool tm_rpc_dclient_up(struct tm_rpc_dclient *c)
{
    return !atomic_load(&c->down);
}

/* An idle connection (*reused set), or a new one. */
static int take_conn(struct tm_rpc_dclient *c, uint64_t deadline, bool *reused)
{
    pthread_mutex_lock(&c->mu);
    int fd = c->nidle ? c->idle[--c->nidle] : -1;
    pthread_mutex_unlock(&c->mu);
    *reused = fd >= 0;
    if (fd >= 0)
        return fd;
    fd = tm_tcp_connect(&c->addr);
    int rc = fd < 0 ? fd : tm_frame_wait(fd, POLLOUT, deadline), err = 0;
    socklen_t len = sizeof err;
    if (!rc && (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) || err))
        rc = err ? -err : -errno;
    if (rc && fd >= 0)
        close(fd);
    return rc ? rc : fd;
}

static void keep_conn(struct tm_rpc_dclient *c, int fd)
{
    pthread_mutex_lock(&c->mu);
    bool kept = c->nidle < DCLIENT_IDLE;
    if (kept)
        c->idle[c->nidle++] = fd;
    pthread_mutex_unlock(&c->mu);
    if (!kept)
        close(fd);
}

/* Reads exactly len bytes into buf. */
static int read_full(int fd, uint8_t *buf, size_t len, uint64_t deadline)
{
    for (size_t got = 0; got < len;) {
        ssize_t n = recv(fd, buf + got, len - got, MSG_DONTWAIT);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        int rc = n == 0                              ? TM_EIO
                 : errno == EAGAIN || errno == EINTR ? tm_frame_wait(fd, POLLIN, deadline)
                                                     : -errno;
        if (rc)
            return rc;
    }
    return 0;
}

/* The answer's frame: its length (checked against the limit before
 * allocating), then the bytes. The first read takes what has come, which
 * for most answers is all of it. */
static int recv_frame(int fd, uint64_t deadline, uint8_t **out, size_t *out_len)
{
    uint8_t first[4096];
    ssize_t n;
    int rc;
    while ((n = recv(fd, first, sizeof first, MSG_DONTWAIT)) < 0)
        if ((rc = errno == EAGAIN || errno == EINTR ? tm_frame_wait(fd, POLLIN, deadline) : -errno))
            return rc;
    if (n == 0)
        return TM_EIO;
    if (n < 4 && (rc = read_full(fd, first + n, (size_t)(4 - n), deadline)))
        return rc;
    size_t have = n < 4 ? 4 : (size_t)n;
    uint32_t len =
        (uint32_t)first[0] << 24 | (uint32_t)first[1] << 16 | (uint32_t)first[2] << 8 | first[3];
    if (len > TM_RPC_MAX_MSG || have - 4 > len)
        return TM_ECORRUPT;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return TM_ENOMEM;
    memcpy(buf, first + 4, have - 4);
    if ((rc = read_full(fd, buf + (have - 4), len - (have - 4), deadline))) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

int tm_rpc_dclient_call(struct tm_rpc_dclient *c, const void *req, size_t len, int timeout_ms,
                        uint8_t **out, size_t *out_len)
{
    uint64_t deadline = tm_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 1);
    if (len > TM_RPC_MAX_MSG)
        return TM_ETOOBIG;
    bool reused;
    int rc;
    do {
        int fd = take_conn(c, deadline, &reused);
        rc = fd < 0 ? fd : tm_frame_send(fd, req, len, deadline);
        if (!rc)
            rc = recv_frame(fd, deadline, out, out_len);
        /* A timed-out call's answer may still come: its connection is not reused. */
        if (!rc)
            keep_conn(c, fd);
        else if (fd >= 0)
            close(fd);
        /* An idle connection the callee closed meanwhile (it restarted): once
         * more on a new one. A write carries its id, so a second delivery
         * is applied once. */
    } while (rc && reused && (rc == TM_EIO || rc == -ECONNRESET || rc == -EPIPE));
    atomic_store(&c->down, rc != 0 && rc != TM_ETIMEDOUT);
    return rc;
}
