/* A one-way message stream over plain TCP: the WAL shard leaders push the
 * entries they apply to the query nodes (DESIGN.md §4, "a streaming socket
 * for log tailing").
 *
 * The stream is lossy by design: the publisher drops a message for a
 * subscriber that has fallen too far behind, and a subscriber sees nothing
 * sent while it was not connected. Every message therefore says where it
 * starts, and a subscriber that finds a gap catches up with a "tail" call
 * (data_role.h); the stream only spares the calls while nothing is lost.
 *
 * Not nng's pub/sub: nng hands every message to a task thread at each end,
 * four thread hand-offs per push on each query node (benchmarks.md, "The
 * stream and the writes without nng"). Here the pushing thread writes each subscriber's
 * socket itself, and the subscriber's receiving thread reads it.
 *
 * Wire: the publisher greets each connection with TM_STREAM_HELLO; then
 * every message is a 4-byte big-endian length and that many bytes. A
 * subscriber drops (and redials) a connection that greets otherwise or
 * announces more than TM_STREAM_MAX_MSG, before allocating for it.
 */
#ifndef TM_STREAM_H
#define TM_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "tm_err.h"

#define TM_STREAM_MAX_MSG (64u << 20)
#define TM_STREAM_HELLO "TMS1"

struct tm_stream_pub;
struct tm_stream_sub;

/* Listens on url ("tcp://host:port"), accepting subscribers on a thread of
 * its own. 0 or a negative error. */
int tm_stream_pub_open(struct tm_stream_pub **out, const char *url);
void tm_stream_pub_close(struct tm_stream_pub *p);
/* Sends one message to every connected subscriber; never blocks (what a
 * subscriber's socket cannot take now is queued, up to a limit, and written
 * by the publisher's thread). Thread-safe. */
int tm_stream_pub_send(struct tm_stream_pub *p, const void *data, size_t len);

/* Dials every address in the comma-separated urls; one that is down or
 * drops is redialled while tm_stream_sub_recv waits (20 ms, doubling to
 * 500 ms). One thread at a time may receive. */
int tm_stream_sub_open(struct tm_stream_sub **out, const char *urls);
/* Closes and frees; while a thread may be receiving, call
 * tm_stream_sub_shutdown first and this once that thread has returned. */
void tm_stream_sub_close(struct tm_stream_sub *s);
/* Makes tm_stream_sub_recv return TM_ESHUTDOWN (from any thread). */
void tm_stream_sub_shutdown(struct tm_stream_sub *s);

/* A received message: data/len are valid until tm_stream_msg_free. */
struct tm_stream_msg {
    void *msg; /* owned; free with tm_stream_msg_free */
    const uint8_t *data;
    size_t len;
};

/* Waits up to timeout_ms (negative: until shutdown) for the next message:
 * 0, TM_ETIMEDOUT, or TM_ESHUTDOWN. */
int tm_stream_sub_recv(struct tm_stream_sub *s, int timeout_ms, struct tm_stream_msg *out);
void tm_stream_msg_free(struct tm_stream_msg *m);

#endif
