/* The REST front door's HTTP/1.1 server.
 *
 * One libuv loop thread owns the listening socket and every connection; it
 * parses requests incrementally and hands each complete request to a pool of
 * worker threads, which call the handler. Handlers may block (for seconds);
 * the loop keeps serving other connections meanwhile. The response goes back
 * to the loop thread, which writes it. An optional inline handler sees each
 * request first, on the loop thread, and may answer it there or take it
 * and answer it later from any thread: a request that only needs to start
 * an asynchronous job (a write) then costs no thread hand-off.
 *
 * Protocol behaviour:
 * - Bodies by Content-Length or `Transfer-Encoding: chunked` (trailers are
 *   read and dropped). `Expect: 100-continue` is answered with
 *   `HTTP/1.1 100 Continue` before the body is read.
 * - Keep-alive is the default for HTTP/1.1; HTTP/1.0 closes unless it asks
 *   for keep-alive; `Connection: close` is honoured. A connection that makes
 *   no progress for idle_timeout_ms (idle between requests, or stalled in
 *   the middle of one, or not reading its response) is closed; time spent
 *   in the handler does not count.
 * - One request in flight per connection: pipelined bytes stay buffered and
 *   are parsed after the previous response is written, so responses keep the
 *   order of the requests.
 * - Every response carries Content-Type, Content-Length (except 204 and 304,
 *   where RFC 9110 forbids it), Date, `Access-Control-Allow-Origin: *` and
 *   `X-Content-Type-Options: nosniff`.
 * - OPTIONS is answered 204 with CORS headers by the server itself; the
 *   handler never sees it. HEAD responses carry the handler's headers and
 *   Content-Length but no body.
 * - Malformed requests get a plain-text 400 (431 for a head over 64 KiB or
 *   100 header fields, 501 for transfer codings other than chunked, 505 for
 *   HTTP versions other than 1.x) and the connection is closed.
 *
 * Caveats:
 * - The handler runs on worker threads, concurrently with itself: it must be
 *   thread-safe.
 * - path and query are passed raw; percent-decoding is the handler's job.
 * - Closing after an error or an oversized body is "lingering": the server
 *   sends its response, shuts down its write side and discards what the
 *   client still sends for up to two seconds, so the client reads the
 *   response instead of a reset.
 * - tm_http_server_start ignores SIGPIPE if its disposition is still the
 *   default, because libuv writes to sockets with write(2), which raises it
 *   when a client has gone away.
 */
#ifndef TM_HTTP_H
#define TM_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define TM_HTTP_DEFAULT_MAX_BODY (64u * 1024u * 1024u)
#define TM_HTTP_DEFAULT_WORKERS 4
#define TM_HTTP_DEFAULT_IDLE_MS 120000
#define TM_HTTP_DEFAULT_MAX_CONNS 4096

struct tm_http_header {
    const char *name;
    const char *value; /* leading and trailing whitespace removed */
};

/* A complete request. Every pointer inside is owned by the server and valid
 * only for the handler call. */
struct tm_http_request {
    const char *method; /* "POST" ...; case as sent */
    const char *path;   /* without the query string, not percent-decoded */
    const char *query;  /* after '?', or "" */
    size_t nheaders;
    const struct tm_http_header *headers; /* in the order sent */
    const char *body;                     /* NUL-terminated (extra byte); "" if none */
    size_t body_len;
    bool too_large; /* body exceeded max_body: body is NULL, body_len 0; the handler
                       writes the error (413) and the server then closes the connection */
    bool http10;    /* the request said HTTP/1.0 */
};

/* Case-insensitive lookup of the first header called name; NULL if absent.
 * The result is valid for the handler call. */
const char *tm_http_request_header(const struct tm_http_request *req, const char *name);

/* Filled by the handler. The server zeroes it and sets status 200 first. */
struct tm_http_response {
    int status;               /* default 200; outside 200..599 is sent as 500 */
    char *body;               /* malloc'd by the handler; ownership passes to the server */
    size_t body_len;          /* bytes of body to send */
    const char *content_type; /* static string; NULL = "application/json; charset=utf-8" */
    char extra_headers[512];  /* optional extra header lines, each "Name: value\r\n" */
};

/* Called on a worker thread for every request except OPTIONS. It must not
 * keep pointers from req after returning. */
typedef void (*tm_http_handler_fn)(void *arg, const struct tm_http_request *req,
                                   struct tm_http_response *resp);

/* A request an inline handler took: answered with tm_http_call_done. */
struct tm_http_call;

enum tm_http_inline {
    TM_HTTP_TO_WORKER, /* not taken: a worker calls the handler */
    TM_HTTP_ANSWERED,  /* resp is filled: the loop sends it */
    TM_HTTP_LATER,     /* taken: answered later with tm_http_call_done */
};

/* Called on the loop thread for every request except OPTIONS, before it
 * goes to a worker. It must not block: the loop serves every connection.
 * req and resp stay valid until the call is answered. */
typedef enum tm_http_inline (*tm_http_inline_fn)(void *arg, struct tm_http_call *call,
                                                 const struct tm_http_request *req,
                                                 struct tm_http_response *resp);

/* Sends the response of a call taken with TM_HTTP_LATER; any thread, once.
 * finish(arg), unless NULL, runs first on the loop thread: it fills resp
 * and frees what the inline handler allocated there. (Freeing on the
 * thread that allocated keeps glibc's arenas uncontended: a block freed
 * from another thread takes its arena's lock, which the loop holds for
 * every malloc.) req and resp are gone once the response is sent. */
void tm_http_call_done(struct tm_http_call *call, void (*finish)(void *arg), void *arg);
/* For an inline handler that took a call (it returns TM_HTTP_LATER) and
 * finds it must block after all: a worker runs work(arg), which fills resp,
 * and then sends the response (no tm_http_call_done). The inline
 * handler's work so far is kept: a parsed body is not parsed again. */
void tm_http_call_to_worker(struct tm_http_call *call, void (*work)(void *arg), void *arg);

struct tm_http_config {
    const char *host; /* numeric address or name to bind; NULL or "" = 0.0.0.0 */
    int port;         /* 0 = ephemeral; see tm_http_server_port */
    size_t max_body;  /* bytes; 0 = TM_HTTP_DEFAULT_MAX_BODY */
    int workers;      /* handler threads; <= 0 = TM_HTTP_DEFAULT_WORKERS */
    tm_http_handler_fn handler;
    tm_http_inline_fn inline_handler; /* optional */
    void *arg;           /* passed to both handlers; borrowed until tm_http_server_stop returns */
    int idle_timeout_ms; /* close idle keep-alive connections; <= 0 = TM_HTTP_DEFAULT_IDLE_MS */
    int max_conns;       /* connections beyond this are accepted and closed at once;
                            <= 0 = TM_HTTP_DEFAULT_MAX_CONNS */
};

struct tm_http_server;

/* Binds, listens and starts the loop and worker threads. cfg is borrowed for
 * the call. On success *out is the server, already
 * listening, and 0 is returned; on failure nothing is left running and the
 * result is a negative errno (bind, listen, threads), TM_EINVAL (bad config
 * or an unresolvable host) or TM_ENOMEM. */
int tm_http_server_start(struct tm_http_server **out, const struct tm_http_config *cfg);

/* The bound port (useful after port 0). Safe from any thread. */
int tm_http_server_port(const struct tm_http_server *s);

/* Stops accepting and closes idle connections at once; waits for queued
 * and running handlers, however long they take, and gives their responses
 * up to two seconds to be written (with "Connection: close"); then closes
 * every connection, joins all threads and frees s. Call exactly once, from
 * any thread except the server's own (never from a handler). NULL is a
 * no-op. */
void tm_http_server_stop(struct tm_http_server *s);

#endif
