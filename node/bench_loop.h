/* The load generator of `tidemark bench insert` and `bench upsert`: many
 * keep-alive HTTP/1.1 connections ("clients"), each with one request in
 * flight at a time, all driven by one thread with epoll.
 *
 * One thread rather than one per client: a blocked client thread costs two
 * context switches per request, on the same two cores the server is being
 * measured on (etcd's benchmark tool multiplexes its clients over
 * goroutines for the same reason). Each request goes out in one writev,
 * head and body together, as HTTP clients send small requests.
 */
#ifndef TM_BENCH_LOOP_H
#define TM_BENCH_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One POST: path and body are borrowed until the request's done. */
struct tm_bench_req {
    const char *path;
    const char *body;
    size_t len;
};

struct tm_bench_client_ops {
    /* Client i's next request into *req, or false when it has finished. */
    bool (*next)(void *arg, int i, struct tm_bench_req *req);
    /* Client i's answer: rc 0 with the response body (NUL-terminated,
     * borrowed for the call), or a transport error (then the client stops:
     * its connection is of no further use). latency_ns runs from the first
     * byte sent to the last byte received. */
    void (*done)(void *arg, int i, int rc, const char *body, uint64_t latency_ns);
};

/* Runs clients 0..n-1 against host (dotted IPv4), client i on
 * ports[i % nports], until each one's next
 * returns false or its request fails; a request that takes longer than
 * timeout_s fails with -ETIMEDOUT. A client whose connection cannot be made
 * is told through done. 0, or TM_ENOMEM / a negative errno when the loop
 * itself could not start (then no client ran). */
int tm_bench_loop_run(const char *host, const int *ports, int nports, int n, int timeout_s,
                      const struct tm_bench_client_ops *ops, void *arg);

#endif
