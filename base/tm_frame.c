/* Length-prefixed frames (tm_frame.h). */
#include "tm_frame.h"
#include "tm_err.h"
#include "tm_time.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#define FRAME_READ_MIN (64u << 10)
/* An emptied buffer keeps its memory up to this size. */
#define FRAME_KEEP_BYTES (1u << 20)

void tm_frame_iov_advance(struct iovec **v, int *nv, size_t n)
{
    for (; *nv > 0 && n >= (*v)->iov_len; (*nv)--, (*v)++)
        n -= (*v)->iov_len;
    if (*nv > 0) {
        (*v)->iov_base = (uint8_t *)(*v)->iov_base + n;
        (*v)->iov_len -= n;
    }
}

int tm_frame_wait(int fd, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = tm_mono_ms();
        if (now >= deadline)
            return TM_ETIMEDOUT;
        struct pollfd pf = {fd, events, 0};
        int n = poll(&pf, 1, (int)(deadline - now));
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

int tm_frame_send(int fd, const void *data, size_t len, uint64_t deadline)
{
    uint8_t hdr[4];
    tm_frame_hdr(hdr, len);
    struct iovec iov[2] = {{hdr, 4}, {(void *)data, len}}, *v = iov;
    int nv = 2;
    while (nv > 0) {
        struct msghdr mh = {.msg_iov = v, .msg_iovlen = (size_t)nv};
        ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            int rc =
                errno == EAGAIN || errno == EINTR ? tm_frame_wait(fd, POLLOUT, deadline) : -errno;
            if (rc)
                return rc;
            continue;
        }
        tm_frame_iov_advance(&v, &nv, (size_t)n);
    }
    return 0;
}

/* Room for FRAME_READ_MIN, or the rest of an announced frame within limit. */
static int make_room(struct tm_frame_in *in, uint32_t limit)
{
    size_t avail = tm_frame_pending(in), want = FRAME_READ_MIN;
    if (avail == 0 && in->buf.cap > FRAME_KEEP_BYTES) { /* after a large frame */
        tm_buf_free(&in->buf);
        in->at = 0;
    }
    if (in->at && in->buf.cap - in->buf.len < FRAME_READ_MIN) {
        memmove(in->buf.data, in->buf.data + in->at, avail);
        in->buf.len = avail, in->at = 0;
    }
    if (avail >= 4) {
        size_t need = 4 + (size_t)tm_frame_len(in->buf.data + in->at);
        if (need <= 4 + (size_t)limit && need > avail + want)
            want = need - avail;
    }
    return tm_buf_reserve(&in->buf, want);
}

ssize_t tm_frame_read(struct tm_frame_in *in, int fd, uint32_t limit)
{
    if (make_room(in, limit))
        return TM_ENOMEM;
    ssize_t n = recv(fd, in->buf.data + in->buf.len, in->buf.cap - in->buf.len, MSG_DONTWAIT);
    if (n < 0)
        return errno == EINTR ? -EAGAIN : -errno;
    in->buf.len += (size_t)n;
    return n;
}

int tm_frame_next(struct tm_frame_in *in, uint32_t limit, const uint8_t **data, uint32_t *len)
{
    size_t avail = tm_frame_pending(in);
    if (avail < 4)
        return 0;
    uint32_t n = tm_frame_len(in->buf.data + in->at);
    if (n > limit)
        return TM_ETOOBIG;
    if (avail - 4 < n)
        return 0;
    *data = in->buf.data + in->at + 4;
    *len = n;
    in->at += 4 + (size_t)n;
    if (in->at == in->buf.len) /* the frame's bytes stay until the next read */
        in->buf.len = in->at = 0;
    return 1;
}

void tm_frame_reset(struct tm_frame_in *in)
{
    if (in->buf.err) /* sticky: a new connection starts with a new buffer */
        tm_buf_free(&in->buf);
    in->buf.len = in->at = 0;
}

void tm_frame_in_free(struct tm_frame_in *in)
{
    tm_buf_free(&in->buf);
    in->at = 0;
}
