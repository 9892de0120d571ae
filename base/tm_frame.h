/* Length-prefixed frames over a byte stream (the log stream, direct calls):
 * a 4-byte big-endian length, then that many bytes. */
#ifndef TM_FRAME_H
#define TM_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "tm_buf.h"

static inline void tm_frame_hdr(uint8_t out[4], size_t len)
{
    out[0] = (uint8_t)(len >> 24), out[1] = (uint8_t)(len >> 16);
    out[2] = (uint8_t)(len >> 8), out[3] = (uint8_t)len;
}

static inline uint32_t tm_frame_len(const uint8_t p[4])
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Moves *v and *nv past n bytes written (or read). */
void tm_frame_iov_advance(struct iovec **v, int *nv, size_t n);

/* Waits until fd is ready for `events` (poll's) or the monotonic deadline
 * (tm_mono_ms) passes: 0, TM_ETIMEDOUT or a negative errno. */
int tm_frame_wait(int fd, short events, uint64_t deadline);
/* Writes one frame (the length, then data) to a non-blocking socket,
 * waiting for room until the deadline (one already past: no waiting). 0,
 * TM_ETIMEDOUT (maybe part of it written) or a negative errno. */
int tm_frame_send(int fd, const void *data, size_t len, uint64_t deadline);

/* Bytes received from a socket, taken a frame at a time. Zeroed: empty. */
struct tm_frame_in {
    struct tm_buf buf;
    size_t at; /* taken up to here */
};

/* Reads what fd has now (one recv, MSG_DONTWAIT) into room for at least
 * 64 KiB, or for the rest of the frame under way when it announced at most
 * `limit`. The bytes read (> 0), 0 when the peer hung up, or a negative
 * errno (-EAGAIN: nothing yet; TM_ENOMEM). */
ssize_t tm_frame_read(struct tm_frame_in *in, int fd, uint32_t limit);
/* Takes the next whole frame: 1 with *data (valid until the next read) and
 * *len, 0 when it has not all come, TM_ETOOBIG when it announces more than
 * `limit` (nothing is allocated for it). */
int tm_frame_next(struct tm_frame_in *in, uint32_t limit, const uint8_t **data, uint32_t *len);
/* Bytes received and not taken. */
static inline size_t tm_frame_pending(const struct tm_frame_in *in)
{
    return in->buf.len - in->at;
}
/* Forgets what was received (a connection dropped mid-frame). */
void tm_frame_reset(struct tm_frame_in *in);
void tm_frame_in_free(struct tm_frame_in *in);

#endif
