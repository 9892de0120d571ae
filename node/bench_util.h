/* Helpers shared by the benchmarks (`tidemark bench ...`): a seeded
 * generator, a schema built from a table, option parsing, the lines that
 * say where a run was made, and the small HTTP/1.1 client of the benchmarks
 * that talk to a running server (insert, upsert, http-search).
 */
#ifndef TM_BENCH_UTIL_H
#define TM_BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema.h"

/* splitmix64: the next value of the sequence seeded by *s. */
uint64_t tm_bench_rng_next(uint64_t *s);
/* Uniform in [0, 1), 24 random bits. */
float tm_bench_rng_float(uint64_t *s);

/* One field of a benchmark schema. */
struct tm_bench_field {
    const char *name;
    enum tm_dtype type;
};

/* Builds and validates a schema of n fields (ids from 100, in order): the
 * first is the primary key, vector fields get dim and VarChar fields
 * max_length. sc is overwritten; the caller frees it with tm_schema_free,
 * also after a failure. 0, TM_ENOMEM, or TM_ESTATUS after printing why. */
int tm_bench_schema(struct tm_schema *sc, const struct tm_bench_field *defs, int n, uint32_t dim,
                    int64_t max_length);

/* An unsigned decimal in [lo, hi] into *out; false if s is not one. */
bool tm_bench_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out);

/* A comma-separated list of at most max unsigned decimals, each in
 * [lo, hi], into out[0..max). Returns its length, or -1 if s is not such a
 * list (empty, an empty item, a value out of range, or more than max). */
int tm_bench_parse_list(const char *s, uint32_t *out, int max, uint32_t lo, uint32_t hi);

/* Whether the kernel set `name` (--kernel, --compare) is compiled in and
 * run by this CPU; if not, says so on stderr after "<tool>: ". */
bool tm_bench_kernel_ok(const char *tool, const char *name);

/* Prints "command: tidemark <argv...>" and "machine: nproc, CPU model,
 * load average", so a pasted result says how and where it was made. */
void tm_bench_print_machine(int argc, char **argv);

/* A keep-alive HTTP/1.1 client connection, used by one thread at a time.
 * Initialise with {.fd = -1} if tm_bench_conn_close may run before
 * tm_bench_connect. */
struct tm_bench_conn {
    int fd;     /* -1 when not connected */
    char *buf;  /* the last response, head and body, NUL-terminated; owned */
    size_t cap; /* bytes allocated at buf */
};

/* Connects c to host (dotted IPv4) and port over TCP, with TCP_NODELAY and
 * send and receive timeouts of timeout_s seconds each. c is overwritten;
 * host is borrowed for the call. Returns 0, TM_EINVAL if host is not an
 * IPv4 address, TM_ENOMEM, or a negative errno from socket or connect. The
 * caller calls tm_bench_conn_close on c also after a failure. */
int tm_bench_connect(struct tm_bench_conn *c, const char *host, int port, int timeout_s);

/* POSTs the len bytes of the JSON body to path (such as
 * "/v2/vectordb/entities/insert"), naming host:port in the Host header, and
 * reads the response up to its Content-Length. host, path and body are
 * borrowed for the call. On success *resp_out points at the response body,
 * NUL-terminated, inside c's buffer: valid until the next tm_bench_post or
 * tm_bench_conn_close on c. Returns 0, TM_EINVAL if the request head does
 * not fit in 512 bytes, TM_ENOMEM, -ECONNRESET if the server closed the
 * connection first, or a negative errno from send or recv (-EAGAIN when a
 * timeout ran out). After a failure the connection is of no further use. */
int tm_bench_post(struct tm_bench_conn *c, const char *host, int port, const char *path,
                  const char *body, size_t len, char **resp_out);

/* Closes c's socket and frees its buffer, leaving c closed (fd -1, buf
 * NULL); closing again does nothing. */
void tm_bench_conn_close(struct tm_bench_conn *c);

#endif
