/* Tests for the HTTP/1.1 server (node/http.c) and its parser (node/http_parse.c).
 *
 * Server tests start a real server on 127.0.0.1, port 0, with a small echo
 * handler, and talk to it over plain POSIX sockets. Every client socket has
 * send and receive timeouts, and main() arms an alarm, so a server bug fails
 * the run instead of hanging CI.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "http_int.h"
#include "tm_err.h"

#define IO_TIMEOUT_S 5
#define WATCHDOG_S 180
#define SMALL_MAX_BODY 1024

/* ---- the echo handler ---- */

struct echo {
    atomic_int calls;
    atomic_int too_large;
};

static void reply_text(struct tm_http_response *resp, int status, const char *text)
{
    resp->status = status;
    resp->body = strdup(text);
    resp->body_len = strlen(text);
    resp->content_type = "text/plain";
}

/* /sleep?MS sleeps; /header?NAME returns that header; /fixed returns a
 * fixed body; /json returns 201 "{}" with the default content type; anything else echoes the body,
 * with method, path and query in extra headers. */
static void echo_handler(void *arg, const struct tm_http_request *req,
                         struct tm_http_response *resp)
{
    struct echo *e = arg;
    atomic_fetch_add(&e->calls, 1);
    if (req->too_large) {
        atomic_fetch_add(&e->too_large, 1);
        reply_text(resp, 413, req->body == NULL ? "too large" : "body not NULL");
        return;
    }
    if (strcmp(req->path, "/sleep") == 0) {
        usleep((useconds_t)atoi(req->query) * 1000u);
        reply_text(resp, 200, "slept");
    } else if (strcmp(req->path, "/header") == 0) {
        const char *v = tm_http_request_header(req, req->query);
        reply_text(resp, v ? 200 : 404, v ? v : "absent");
    } else if (strcmp(req->path, "/json") == 0) {
        reply_text(resp, 201, "{}");
        resp->content_type = NULL;
        strcpy(resp->extra_headers, "X-No-Crlf: 1");
    } else if (strcmp(req->path, "/fixed") == 0) {
        reply_text(resp, 200, "fixed-body");
    } else {
        resp->body = malloc(req->body_len + 1);
        memcpy(resp->body, req->body, req->body_len + 1); /* includes the NUL */
        resp->body_len = req->body_len;
        resp->content_type = "text/plain";
        snprintf(resp->extra_headers, sizeof resp->extra_headers,
                 "X-Method: %s\r\nX-Path: %s\r\nX-Query: %s\r\n", req->method, req->path,
                 req->query);
    }
}

struct fixture {
    struct tm_http_server *srv;
    struct echo echo;
    int port;
};

static struct fixture *fixture_start_inline(size_t max_body, int idle_ms, int max_conns,
                                            tm_http_inline_fn inline_handler)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct tm_http_config cfg = {
        .host = "127.0.0.1",
        .port = 0,
        .max_body = max_body,
        .workers = 4,
        .handler = echo_handler,
        .inline_handler = inline_handler,
        .arg = &f->echo,
        .idle_timeout_ms = idle_ms,
        .max_conns = max_conns,
    };
    int rc = tm_http_server_start(&f->srv, &cfg);
    assert_int_equal(rc, 0);
    f->port = tm_http_server_port(f->srv);
    assert_true(f->port > 0);
    return f;
}

static struct fixture *fixture_start(size_t max_body, int idle_ms, int max_conns)
{
    return fixture_start_inline(max_body, idle_ms, max_conns, NULL);
}

static void fixture_stop(struct fixture *f)
{
    tm_http_server_stop(f->srv);
    free(f);
}

static int setup(void **state)
{
    *state = fixture_start(SMALL_MAX_BODY, 0, 0);
    return 0;
}

static int teardown(void **state)
{
    fixture_stop(*state);
    return 0;
}

/* ---- a tiny blocking HTTP client ---- */

struct client {
    int fd;
    size_t len;
    char buf[256 * 1024];
};

struct reply {
    int status;
    char head[8192];
    char *body;
    size_t body_len;
};

static struct client *client_open(int port)
{
    struct client *c = calloc(1, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(c->fd);
        free(c);
        return NULL;
    }
    return c;
}

static void client_close(struct client *c)
{
    if (c) {
        close(c->fd);
        free(c);
    }
}

/* Returns 0 once all of data is sent; -1 on error or timeout. */
static int client_send(struct client *c, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static int client_send_str(struct client *c, const char *s)
{
    return client_send(c, s, strlen(s));
}

static int client_fill(struct client *c)
{
    if (c->len == sizeof c->buf)
        return -1;
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (n <= 0)
        return -1;
    c->len += (size_t)n;
    return 0;
}

/* Copies the value of header `name` from r into out; false if absent. */
static bool reply_header(const struct reply *r, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    for (const char *l = strstr(r->head, "\r\n"); l && l[2] != '\r'; l = strstr(l + 2, "\r\n")) {
        const char *line = l + 2;
        if (strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
            continue;
        const char *v = line + nlen + 1;
        while (*v == ' ')
            v++;
        size_t vlen = (size_t)(strstr(v, "\r\n") - v);
        snprintf(out, cap, "%.*s", (int)vlen, v);
        return true;
    }
    return false;
}

static bool reply_has(const struct reply *r, const char *name, const char *value)
{
    char v[1024];
    return reply_header(r, name, v, sizeof v) && strcmp(v, value) == 0;
}

/* Reads one response. head_request: the body is not sent (HEAD). */
static int client_read_reply_ex(struct client *c, struct reply *r, bool head_request)
{
    memset(r, 0, sizeof *r);
    char *end;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
        if (client_fill(c))
            return -1;
    size_t hlen = (size_t)(end + 4 - c->buf);
    if (hlen >= sizeof r->head)
        return -1;
    memcpy(r->head, c->buf, hlen);
    if (sscanf(r->head, "HTTP/1.1 %d ", &r->status) != 1)
        return -1;
    char v[64];
    size_t blen = 0;
    if (!head_request && reply_header(r, "Content-Length", v, sizeof v))
        blen = strtoul(v, NULL, 10);
    while (c->len < hlen + blen)
        if (client_fill(c))
            return -1;
    r->body = malloc(blen + 1);
    memcpy(r->body, c->buf + hlen, blen);
    r->body[blen] = '\0';
    r->body_len = blen;
    c->len -= hlen + blen;
    memmove(c->buf, c->buf + hlen + blen, c->len);
    return 0;
}

static int client_read_reply(struct client *c, struct reply *r)
{
    return client_read_reply_ex(c, r, false);
}

static void reply_free(struct reply *r)
{
    free(r->body);
    r->body = NULL;
}

/* True if the server closed the connection (EOF or reset) before the
 * receive timeout, with nothing unread in between. */
static bool client_closed(struct client *c)
{
    if (c->len > 0)
        return false;
    char b;
    ssize_t n = recv(c->fd, &b, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* Sends one request and expects status and body back. */
static void roundtrip(struct client *c, const char *request, int status, const char *body)
{
    struct reply r;
    assert_int_equal(client_send_str(c, request), 0);
    assert_int_equal(client_read_reply(c, &r), 0);
    assert_int_equal(r.status, status);
    assert_string_equal(r.body, body);
    reply_free(&r);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- server tests ---- */

static void test_post_content_length(void **state)
{
    struct fixture *f = *state;
    struct client *c = client_open(f->port);
    struct reply r;
    assert_int_equal(client_send_str(c, "POST /v2/echo?db=a&x=1 HTTP/1.1\r\nHost: t\r\n"
                                        "Content-Type: application/json\r\n"
                                        "Content-Length: 13\r\n\r\n{\"hello\": 42}"),
                     0);
    assert_int_equal(client_read_reply(c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"hello\": 42}");
    assert_true(reply_has(&r, "Content-Length", "13"));
    assert_true(reply_has(&r, "Content-Type", "text/plain"));
    assert_true(reply_has(&r, "Access-Control-Allow-Origin", "*"));
    assert_true(reply_has(&r, "X-Content-Type-Options", "nosniff"));
    assert_true(reply_has(&r, "X-Method", "POST"));
    assert_true(reply_has(&r, "X-Path", "/v2/echo"));
    assert_true(reply_has(&r, "X-Query", "db=a&x=1"));
    char date[64];
    assert_true(reply_header(&r, "Date", date, sizeof date));
    assert_non_null(strstr(date, " GMT"));
    reply_free(&r);
    client_close(c);
}

static void test_default_content_type(void **state)
{
    struct fixture *f = *state;
    struct client *c = client_open(f->port);
    struct reply r;
    assert_int_equal(client_send_str(c, "GET /json HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    assert_int_equal(client_read_reply(c, &r), 0);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.body, "{}");
    assert_true(reply_has(&r, "Content-Type", "application/json; charset=utf-8"));
    assert_true(reply_has(&r, "X-No-Crlf", "1")); /* the server completed the line */
    reply_free(&r);
    client_close(c);
}

static void test_keep_alive(void **state)
{
    struct fixture *f = *state;
    struct client *c = client_open(f->port);
    roundtrip(c, "POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\none", 200, "one");
    roundtrip(c, "POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\ntwo", 200, "two");
    roundtrip(c, "GET /fixed HTTP/1.1\r\nHost: t\r\n\r\n", 200, "fixed-body");
    assert_int_equal(atomic_load(&f->echo.calls), 3);
    client_close(c);
}

static void test_pipelined(void **state)
{
    struct fixture *f = *state;
    struct client *c = client_open(f->port);
    /* The first request is slow, so only ordering can put it first. */
    const char *two = "GET /sleep?150 HTTP/1.1\r\nHost: t\r\n\r\n"
                      "POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nsecond"
                      "GET /fixed HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_int_equal(client_send_str(c, two), 0);
    struct reply r;
    assert_int_equal(client_read_reply(c, &r), 0);
    assert_string_equal(r.body, "slept");
    reply_free(&r);
    assert_int_equal(client_read_reply(c, &r), 0);
    assert_string_equal(r.body, "second");
    reply_free(&r);
    assert_int_equal(client_read_reply(c, &r), 0);
    assert_string_equal(r.body, "fixed-body");
    reply_free(&r);
    client_close(c);
}

/* A client may send its request and shut its write side: the EOF the
 * server reads while the handler runs must not cost the answer. */
static void test_half_close_gets_answer(void **state)
{
    struct fixture *f = *state;
    struct client *c = client_open(f->port);
    assert_int_equal(client_send_str(c, "GET /sleep?100 HTTP/1.1\r\nHost: t\r\n\r\n"
                                        "GET /fixed HTTP/1.1\r\nHost: t\r\n\r\n"),
                     0);
    assert_int_equal(shutdown(c->fd, SHUT_WR), 0);
    struct reply r;
    assert_int_equal(client_read_reply(c, &r), 0);
    assert_string_equal(r.body, "slept");
    reply_free(&r);
    assert_int_equal(client_read_reply(c, &r), 0); /* buffered before the EOF */
    assert_string_equal(r.body, "fixed-body");
    reply_free(&r);
    assert_true(client_closed(c));
    client_close(c);
}

#define BURST 1200 /* requests behind a slow one: more bytes than one read buffer holds */

/* Pipelined bytes that arrive while a request is answered wait, and reads
 * stop once they pass the server's limit; every request is still answered,
 * in order. */
static void test_pipelined_burst(void **state)
{
    struct fixture *f = *state;
    struct client *c = client_open(f->port);
    static char burst[BURST * 80];
    size_t n = (size_t)sprintf(burst, "GET /sleep?100 HTTP/1.1\r\nHost: t\r\n\r\n");
    for (int i = 0; i < BURST; i++)
        n += (size_t)sprintf(burst + n,
                             "POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 8\r\n\r\nreq%05d", i);
    assert_true(n > 64 * 1024);
    assert_int_equal(client_send(c, burst, n), 0);
    struct reply r;
    assert_int_equal(client_read_reply(c, &r), 0);
    assert_string_equal(r.body, "slept");
    reply_free(&r);
    for (int i = 0; i < BURST; i++) {
        char want[16];
        snprintf(want, sizeof want, "req%05d", i);
        assert_int_equal(client_read_reply(c, &r), 0);
        assert_string_equal(r.body, want);
        reply_free(&r);
    }
    client_close(c);
}

/* Responses the server writes at once (OPTIONS is answered without the
 * handler) to a pipeline: each is followed by the next request's parse, in
 * order, to the last. */
static void test_pipelined_answered_at_once(void **state)
{
    struct fixture *f = *state;
    struct client *c = client_open(f->port);
    static char burst[BURST * 48];
    size_t n = 0;
    for (int i = 0; i < BURST; i++)
        n += (size_t)sprintf(burst + n, "OPTIONS /o%05d HTTP/1.1\r\nHost: t\r\n\r\n", i);
    n += (size_t)sprintf(burst + n, "GET /fixed HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(client_send(c, burst, n), 0);
    struct reply r;
    for (int i = 0; i < BURST; i++) {
        assert_int_equal(client_read_reply(c, &r), 0);
        assert_int_equal(r.status, 204);
        reply_free(&r);
    }
    assert_int_equal(client_read_reply(c, &r), 0);
    assert_string_equal(r.body, "fixed-body");
    reply_free(&r);
    client_close(c);
}

static void test_chunked(void **state)
{
    struct fixture *f = *state;
    struct client *c = client_open(f->port);
    roundtrip(c,
              "POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
              "5\r\nhello\r\n6;name=value\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n",
              200, "hello world");
    /* Upper-case hex, and a second request on the same connection. */
    roundtrip(c,
              "POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: Chunked\r\n\r\n"
              "A\r\n0123456789\r\n0\r\n\r\n",
              200, "0123456789");
    roundtrip(c, "POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 200,
              "");
    client_close(c);
}

static void test_header_case_insensitive(void **state)
{
    struct fixture *f = *state;
    struct client *c = client_open(f->port);
    roundtrip(c,
              "GET /header?X-Test-Header HTTP/1.1\r\nHost: t\r\nx-TeSt-HeAdEr:   abc def \r\n\r\n",
              200, "abc def");
    roundtrip(c, "GET /header?HOST HTTP/1.1\r\nhost: example\r\n\r\n", 200, "example");
    roundtrip(c, "GET /header?X-Missing HTTP/1.1\r\nHost: t\r\n\r\n", 404, "absent");
    client_close(c);
}

static void expect_too_large(struct fixture *f, const char *head, size_t body_len)
{
    struct client *c = client_open(f->port);
    assert_int_equal(client_send_str(c, head), 0);
    char *body = malloc(body_len);
    memset(body, 'x', body_len);
    /* The server may answer before reading it all; ignore a failed send. */
    (void)client_send(c, body, body_len);
    free(body);
    struct reply r;
    assert_int_equal(client_read_reply(c, &r), 0);
    assert_int_equal(r.status, 413);
    assert_string_equal(r.body, "too large");
    assert_true(reply_has(&r, "Connection", "close"));
    reply_free(&r);
    assert_true(client_closed(c));
    assert_int_equal(atomic_load(&f->echo.too_large), 1);
    client_close(c);
}

static void test_too_large_content_length(void **state)
{
    expect_too_large(*state, "POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 4096\r\n\r\n", 4096);
}

static void test_too_large_chunked(void **state)
{
    struct fixture *f = *state;
    struct client *c = client_open(f->port);
    char chunk[600 + 16];
    snprintf(chunk, sizeof chunk, "258\r\n%0600d\r\n", 0);
    assert_int_equal(
        client_send_str(c, "POST /big HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"),
        0);
    assert_int_equal(client_send_str(c, chunk), 0);
    (void)client_send_str(c, chunk); /* 1200 > 1024 */
    struct reply r;
    assert_int_equal(client_read_reply(c, &r), 0);
    assert_int_equal(r.status, 413);
    reply_free(&r);
    assert_true(client_closed(c));
    assert_int_equal(atomic_load(&f->echo.too_large), 1);
    client_close(c);
}

static void expect_rejected(struct fixture *f, const char *request, int status)
{
    struct client *c = client_open(f->port);
    struct reply r;
    assert_int_equal(client_send_str(c, request), 0);
    assert_int_equal(client_read_reply(c, &r), 0);
    assert_int_equal(r.status, status);
    assert_true(reply_has(&r, "Content-Type", "text/plain; charset=utf-8"));
    assert_true(reply_has(&r, "Connection", "close"));
    reply_free(&r);
    assert_true(client_closed(c));
    client_close(c);
}

static void test_malformed(void **state)
{
    struct fixture *f = *state;
    expect_rejected(f, "GARBAGE\r\n\r\n", 400);
    expect_rejected(f, "GET /x HTTP/1.1 extra\r\n\r\n", 400);
    expect_rejected(f, "GET  /x HTTP/1.1\r\n\r\n", 400);
    expect_rejected(f, "GET x HTTP/1.1\r\n\r\n", 400);
    expect_rejected(f, "GET / HTTP/2.0\r\n\r\n", 505);
    expect_rejected(f, "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 400);
    expect_rejected(f, "GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400);
    expect_rejected(f, "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400);
    expect_rejected(f, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501);
    expect_rejected(f, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400);
    assert_int_equal(atomic_load(&f->echo.calls), 0);
}

static void test_header_limits(void **state)
{
    struct fixture *f = *state;
    char *req = malloc(80 * 1024);
    size_t n = (size_t)sprintf(req, "GET /fixed HTTP/1.1\r\n");
    for (int i = 0; i < 100; i++) /* exactly at the limit: served */
        n += (size_t)sprintf(req + n, "X-H%d: v\r\n", i);
    strcpy(req + n, "\r\n");
    struct client *c = client_open(f->port);
    roundtrip(c, req, 200, "fixed-body");
    client_close(c);
    n = (size_t)sprintf(req, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 101; i++)
        n += (size_t)sprintf(req + n, "X-H%d: v\r\n", i);
    strcpy(req + n, "\r\n");
    expect_rejected(f, req, 431);
    n = (size_t)sprintf(req, "GET / HTTP/1.1\r\nX-Big: ");
    memset(req + n, 'a', 70 * 1024);
    strcpy(req + n + 70 * 1024, "\r\n\r\n");
    expect_rejected(f, req, 431);
    free(req);
    assert_int_equal(atomic_load(&f->echo.calls), 1);
}

/* Clients that vanish mid-request or mid-handler cost nothing lasting. */
static void test_client_gone(void **state)
{
    struct fixture *f = *state;
    const char *partial[] = {
        "GET /sleep?100 HTTP/1.1\r\nHost: t\r\n\r\n", /* gone while the handler runs */
        "POST /x HTTP/1.1\r\nHost: t\r\nContent-Le",  /* gone mid-head */
        "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc",  /* mid-body */
        "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", /* mid-chunk */
    };
    for (size_t i = 0; i < sizeof partial / sizeof partial[0]; i++) {
        struct client *c = client_open(f->port);
        assert_int_equal(client_send_str(c, partial[i]), 0);
        client_close(c);
    }
    sleep_ms(200);
    struct client *c = client_open(f->port);
    roundtrip(c, "GET /fixed HTTP/1.1\r\nHost: t\r\n\r\n", 200, "fixed-body");
    client_close(c);
    assert_int_equal(atomic_load(&f->echo.calls), 2);
}

static void test_options(void **state)
{
    struct fixture *f = *state;
    struct client *c = client_open(f->port);
    struct reply r;
    assert_int_equal(client_send_str(c, "OPTIONS /v2/vectordb/entities/search HTTP/1.1\r\n"
                                        "Host: t\r\nOrigin: http://ui\r\n"
                                        "Access-Control-Request-Method: POST\r\n"
                                        "Access-Control-Request-Headers: content-type, "
                                        "authorization\r\n\r\n"),
                     0);
    assert_int_equal(client_read_reply(c, &r), 0);
    assert_int_equal(r.status, 204);
    char v[256];
    assert_true(reply_header(&r, "Access-Control-Allow-Methods", v, sizeof v));
    assert_non_null(strstr(v, "POST"));
    assert_true(reply_has(&r, "Access-Control-Allow-Headers", "content-type, authorization"));
    assert_true(reply_has(&r, "Access-Control-Allow-Origin", "*"));
    assert_false(reply_header(&r, "Content-Length", v, sizeof v));
    reply_free(&r);
    /* The connection stays usable, and the handler never saw OPTIONS. */
    roundtrip(c, "GET /fixed HTTP/1.1\r\nHost: t\r\n\r\n", 200, "fixed-body");
    assert_int_equal(atomic_load(&f->echo.calls), 1);
    client_close(c);
}

static void test_head(void **state)
{
    struct fixture *f = *state;
    struct client *c = client_open(f->port);
    struct reply r;
    assert_int_equal(client_send_str(c, "HEAD /fixed HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    assert_int_equal(client_read_reply_ex(c, &r, true), 0);
    assert_int_equal(r.status, 200);
    assert_true(reply_has(&r, "Content-Length", "10"));
    reply_free(&r);
    /* Had a body followed, it would be read as this response's head. */
    roundtrip(c, "POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok", 200, "ok");
    client_close(c);
}

static void test_split_body(void **state)
{
    struct fixture *f = *state;
    struct client *c = client_open(f->port);
    char body[301];
    for (int i = 0; i < 300; i++)
        body[i] = (char)('a' + i % 26);
    body[300] = '\0';
    char req[512];
    int n = snprintf(req, sizeof req,
                     "POST /split HTTP/1.1\r\nHost: t\r\nContent-Length: 300\r\n\r\n%s", body);
    for (int i = 0; i < n; i++) {
        assert_int_equal(client_send(c, req + i, 1), 0);
        if (i % 50 == 0)
            sleep_ms(1); /* make sure some bytes arrive as separate reads */
    }
    struct reply r;
    assert_int_equal(client_read_reply(c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, body);
    reply_free(&r);
    /* Chunked, one byte at a time. */
    const char *chunked = "POST /split HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
    for (size_t i = 0; i < strlen(chunked); i++)
        assert_int_equal(client_send(c, chunked + i, 1), 0);
    assert_int_equal(client_read_reply(c, &r), 0);
    assert_string_equal(r.body, "abcde");
    reply_free(&r);
    client_close(c);
}

static void test_expect_continue(void **state)
{
    struct fixture *f = *state;
    struct client *c = client_open(f->port);
    struct reply r;
    assert_int_equal(client_send_str(c, "POST /e HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                                        "Content-Length: 5\r\n\r\n"),
                     0);
    assert_int_equal(client_read_reply(c, &r), 0);
    assert_int_equal(r.status, 100);
    assert_string_equal(r.head, "HTTP/1.1 100 Continue\r\n\r\n");
    reply_free(&r);
    assert_int_equal(client_send_str(c, "hello"), 0);
    assert_int_equal(client_read_reply(c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello");
    reply_free(&r);
    client_close(c);
}

static void test_expect_continue_too_large(void **state)
{
    struct fixture *f = *state;
    struct client *c = client_open(f->port);
    struct reply r;
    /* No 100 Continue: the final status comes at once, then the close. */
    assert_int_equal(client_send_str(c, "POST /e HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                                        "Content-Length: 5000\r\n\r\n"),
                     0);
    assert_int_equal(client_read_reply(c, &r), 0);
    assert_int_equal(r.status, 413);
    reply_free(&r);
    assert_true(client_closed(c));
    client_close(c);
}

static void test_connection_close(void **state)
{
    struct fixture *f = *state;
    struct client *c = client_open(f->port);
    struct reply r;
    assert_int_equal(
        client_send_str(c, "GET /fixed HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"), 0);
    assert_int_equal(client_read_reply(c, &r), 0);
    assert_true(reply_has(&r, "Connection", "close"));
    reply_free(&r);
    assert_true(client_closed(c));
    client_close(c);
}

static void test_http10(void **state)
{
    struct fixture *f = *state;
    struct client *c = client_open(f->port);
    struct reply r;
    assert_int_equal(client_send_str(c, "GET /fixed HTTP/1.0\r\n\r\n"), 0);
    assert_int_equal(client_read_reply(c, &r), 0);
    assert_true(reply_has(&r, "Connection", "close"));
    reply_free(&r);
    assert_true(client_closed(c));
    client_close(c);

    c = client_open(f->port);
    assert_int_equal(client_send_str(c, "GET /fixed HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"),
                     0);
    assert_int_equal(client_read_reply(c, &r), 0);
    assert_true(reply_has(&r, "Connection", "keep-alive"));
    reply_free(&r);
    roundtrip(c, "GET /fixed HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200, "fixed-body");
    client_close(c);
}

static void test_slow_handler_does_not_block_others(void **state)
{
    struct fixture *f = *state;
    struct client *slow = client_open(f->port);
    struct client *fast = client_open(f->port);
    assert_int_equal(client_send_str(slow, "GET /sleep?1000 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    sleep_ms(50);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    roundtrip(fast, "GET /fixed HTTP/1.1\r\nHost: t\r\n\r\n", 200, "fixed-body");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    assert_true(ms < 800);
    struct reply r;
    assert_int_equal(client_read_reply(slow, &r), 0);
    assert_string_equal(r.body, "slept");
    reply_free(&r);
    client_close(slow);
    client_close(fast);
}

#define CONC_THREADS 8
#define CONC_REQUESTS 50

struct conc_arg {
    int port;
    int id;
    int failures;
};

/* cmocka asserts must stay on the main thread, so this counts failures. */
static void *conc_client(void *p)
{
    struct conc_arg *a = p;
    struct client *c = NULL;
    for (int i = 0; i < CONC_REQUESTS; i++) {
        if (i % 10 == 0) { /* a fresh connection now and then */
            client_close(c);
            if (!(c = client_open(a->port))) {
                a->failures++;
                return NULL;
            }
        }
        char body[64], req[256];
        int blen = snprintf(body, sizeof body, "thread %d request %d", a->id, i);
        snprintf(req, sizeof req, "POST /conc HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s",
                 blen, body);
        struct reply r;
        if (client_send_str(c, req) || client_read_reply(c, &r)) {
            a->failures++;
            break;
        }
        if (r.status != 200 || strcmp(r.body, body) != 0)
            a->failures++;
        reply_free(&r);
    }
    client_close(c);
    return NULL;
}

static void test_concurrent_clients(void **state)
{
    struct fixture *f = *state;
    pthread_t th[CONC_THREADS];
    struct conc_arg args[CONC_THREADS];
    for (int i = 0; i < CONC_THREADS; i++) {
        args[i] = (struct conc_arg){.port = f->port, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, conc_client, &args[i]), 0);
    }
    int failures = 0;
    for (int i = 0; i < CONC_THREADS; i++) {
        pthread_join(th[i], NULL);
        failures += args[i].failures;
    }
    assert_int_equal(failures, 0);
    assert_int_equal(atomic_load(&f->echo.calls), CONC_THREADS * CONC_REQUESTS);
}

static void test_large_body(void **state)
{
    (void)state;
    struct fixture *f = fixture_start(0, 0, 0); /* default max_body */
    struct client *c = client_open(f->port);
    size_t len = 200 * 1024;
    char *req = malloc(len + 128);
    int n = sprintf(req, "POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", len);
    for (size_t i = 0; i < len; i++)
        req[(size_t)n + i] = (char)('A' + i % 23);
    assert_int_equal(client_send(c, req, (size_t)n + len), 0);
    struct reply r;
    assert_int_equal(client_read_reply(c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, len);
    assert_memory_equal(r.body, req + n, len);
    reply_free(&r);
    free(req);
    client_close(c);
    fixture_stop(f);
}

static void test_idle_timeout(void **state)
{
    (void)state;
    struct fixture *f = fixture_start(SMALL_MAX_BODY, 200, 0);
    struct client *c = client_open(f->port);
    roundtrip(c, "GET /fixed HTTP/1.1\r\nHost: t\r\n\r\n", 200, "fixed-body");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_true(client_closed(c));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < IO_TIMEOUT_S - 1);
    client_close(c);
    fixture_stop(f);
}

static void test_max_conns(void **state)
{
    (void)state;
    struct fixture *f = fixture_start(SMALL_MAX_BODY, 0, 2);
    struct client *a = client_open(f->port);
    struct client *b = client_open(f->port);
    roundtrip(a, "GET /fixed HTTP/1.1\r\nHost: t\r\n\r\n", 200, "fixed-body");
    roundtrip(b, "GET /fixed HTTP/1.1\r\nHost: t\r\n\r\n", 200, "fixed-body");
    struct client *c = client_open(f->port); /* the kernel accepts; the server refuses */
    assert_non_null(c);
    (void)client_send_str(c, "GET /fixed HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(client_closed(c));
    client_close(c);
    /* Once one closes, a new connection is served again. */
    client_close(a);
    sleep_ms(100);
    c = client_open(f->port);
    roundtrip(c, "GET /fixed HTTP/1.1\r\nHost: t\r\n\r\n", 200, "fixed-body");
    client_close(c);
    client_close(b);
    fixture_stop(f);
}

static void *stop_thread(void *f)
{
    fixture_stop(f);
    return NULL;
}

/* stop() waits for the running handler and still delivers its response;
 * idle connections are closed at once. */
static void test_stop_with_request_in_flight(void **state)
{
    (void)state;
    struct fixture *f = fixture_start(SMALL_MAX_BODY, 0, 0);
    struct client *busy = client_open(f->port);
    struct client *idle = client_open(f->port);
    roundtrip(idle, "GET /fixed HTTP/1.1\r\nHost: t\r\n\r\n", 200, "fixed-body");
    assert_int_equal(client_send_str(busy, "GET /sleep?300 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    sleep_ms(50);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stop_thread, f), 0);
    assert_true(client_closed(idle));
    struct reply r;
    assert_int_equal(client_read_reply(busy, &r), 0);
    assert_string_equal(r.body, "slept");
    assert_true(reply_has(&r, "Connection", "close"));
    reply_free(&r);
    assert_true(client_closed(busy));
    /* Closing our end lets the server's lingering close finish now. */
    client_close(busy);
    client_close(idle);
    pthread_join(th, NULL);
}

/* A client that never reads its response cannot hold stop() for long. */
static void test_stop_with_unread_response(void **state)
{
    (void)state;
    struct fixture *f = fixture_start(SMALL_MAX_BODY, 0, 0);
    struct client *c = client_open(f->port);
    assert_int_equal(client_send_str(c, "GET /sleep?100 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    sleep_ms(20);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fixture_stop(f);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    assert_true(ms < 3500); /* handler 100 ms + grace period 2 s */
    client_close(c);
}

/* ---- the inline handler ---- */

struct later_answer {
    struct tm_http_call *call;
    struct tm_http_response *resp;
    int ms;
};

/* Runs on the loop thread: the response is filled there. */
static void finish_later(void *arg)
{
    struct later_answer *a = arg;
    reply_text(a->resp, 200, "later");
    free(a);
}

static void *answer_later_main(void *arg)
{
    struct later_answer *a = arg;
    sleep_ms(a->ms);
    tm_http_call_done(a->call, finish_later, a);
    return NULL;
}

static void deferred_work(void *arg)
{
    reply_text(arg, 200, "on a worker");
}

/* /now is answered on the loop, /later?MS from another thread after MS,
 * /defer by a worker running deferred_work; the rest goes to the echo
 * handler's workers. */
static enum tm_http_inline inline_handler(void *arg, struct tm_http_call *call,
                                          const struct tm_http_request *req,
                                          struct tm_http_response *resp)
{
    (void)arg;
    if (strcmp(req->path, "/now") == 0) {
        reply_text(resp, 200, "now");
        return TM_HTTP_ANSWERED;
    }
    if (strcmp(req->path, "/defer") == 0) {
        tm_http_call_to_worker(call, deferred_work, resp);
        return TM_HTTP_LATER;
    }
    if (strcmp(req->path, "/later") != 0)
        return TM_HTTP_TO_WORKER;
    struct later_answer *a = malloc(sizeof *a);
    *a = (struct later_answer){.call = call, .resp = resp, .ms = atoi(req->query)};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, answer_later_main, a), 0);
    pthread_detach(th);
    return TM_HTTP_LATER;
}

/* A call taken for later holds only its connection: others are answered
 * meanwhile, a pipelined request waits its turn, the workers still serve
 * what the inline handler passes on, and stop() waits for the answer. */
static void test_inline_handler(void **state)
{
    (void)state;
    struct fixture *f = fixture_start_inline(SMALL_MAX_BODY, 0, 0, inline_handler);
    struct client *slow = client_open(f->port), *other = client_open(f->port);
    assert_int_equal(client_send_str(slow, "GET /later?300 HTTP/1.1\r\nHost: t\r\n\r\n"
                                           "GET /now HTTP/1.1\r\nHost: t\r\n\r\n"),
                     0);
    sleep_ms(20);
    roundtrip(other, "GET /now HTTP/1.1\r\nHost: t\r\n\r\n", 200, "now");
    roundtrip(other, "GET /fixed HTTP/1.1\r\nHost: t\r\n\r\n", 200, "fixed-body");
    roundtrip(other, "GET /defer HTTP/1.1\r\nHost: t\r\n\r\n", 200, "on a worker");
    assert_int_equal(atomic_load(&f->echo.calls), 1); /* only /fixed reached the handler */
    roundtrip(slow, "", 200, "later");
    struct reply r;
    assert_int_equal(client_read_reply(slow, &r), 0);
    assert_string_equal(r.body, "now");
    reply_free(&r);

    assert_int_equal(client_send_str(slow, "GET /later?200 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    sleep_ms(20);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stop_thread, f), 0);
    assert_int_equal(client_read_reply(slow, &r), 0);
    assert_string_equal(r.body, "later");
    assert_true(reply_has(&r, "Connection", "close"));
    reply_free(&r);
    client_close(slow);
    client_close(other);
    pthread_join(th, NULL);
}

static void test_start_errors(void **state)
{
    struct fixture *f = *state;
    struct tm_http_server *s = NULL;
    struct tm_http_config cfg = {
        .host = "127.0.0.1", .port = f->port, .handler = echo_handler, .arg = &f->echo};
    assert_int_equal(tm_http_server_start(&s, &cfg), -EADDRINUSE);
    assert_null(s);
    cfg.port = 0;
    cfg.handler = NULL;
    assert_int_equal(tm_http_server_start(&s, &cfg), TM_EINVAL);
    cfg.handler = echo_handler;
    cfg.port = 70000;
    assert_int_equal(tm_http_server_start(&s, &cfg), TM_EINVAL);
    assert_null(s);
    tm_http_server_stop(NULL);
}

/* ---- parser tests (no sockets) ---- */

/* Feeds text in pieces of `step` bytes; returns the final result. */
static int parse_in_steps(struct http_parser *p, const char *text, size_t step, size_t *rest_out)
{
    size_t len = strlen(text), off = 0;
    int rc = HTTP_PARSE_MORE;
    while (off < len && rc == HTTP_PARSE_MORE) {
        size_t n = len - off < step ? len - off : step, used;
        rc = http_parser_feed(p, text + off, n, &used);
        off += used;
    }
    *rest_out = len - off;
    return rc;
}

static void test_parser_byte_by_byte(void **state)
{
    (void)state;
    const char *text = "\r\nPOST http://host:80/p/q?a=b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                       "Connection: close\r\n\r\n4\r\nwiki\r\n5\r\npedia\r\n0\r\n\r\nGET";
    for (size_t step = 1; step <= strlen(text); step += 7) {
        struct http_parser p;
        http_parser_init(&p, 100);
        size_t rest;
        assert_int_equal(parse_in_steps(&p, text, step, &rest), HTTP_PARSE_DONE);
        assert_int_equal(rest, 3); /* "GET" belongs to the next request */
        struct http_msg m;
        http_parser_take(&p, &m);
        assert_string_equal(m.method, "POST");
        assert_string_equal(m.path, "/p/q");
        assert_string_equal(m.query, "a=b");
        assert_string_equal(m.body, "wikipedia");
        assert_int_equal(m.body_len, 9);
        assert_false(m.keep_alive);
        assert_int_equal(m.nheaders, 2);
        http_msg_free(&m);
        http_parser_free(&p);
    }
}

static void expect_parse_error(const char *text, int rc, int status)
{
    struct http_parser p;
    http_parser_init(&p, 100);
    size_t rest;
    assert_int_equal(parse_in_steps(&p, text, strlen(text), &rest), rc);
    assert_int_equal(p.error_status, status);
    http_parser_free(&p);
}

static void test_parser_rejects(void **state)
{
    (void)state;
    expect_parse_error("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                       TM_ECORRUPT, 400);
    expect_parse_error("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
                       TM_ECORRUPT, 400);
    expect_parse_error("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", TM_ECORRUPT, 400);
    expect_parse_error("GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", TM_ECORRUPT, 400);
    expect_parse_error("GET / HTTP/1.1\r\nA : b\r\n\r\n", TM_ECORRUPT, 400);
    expect_parse_error("GET * HTTP/1.1\r\n\r\n", TM_ECORRUPT, 400);
    expect_parse_error("GET / HTTP/3.0\r\n\r\n", TM_ECORRUPT, 505);
    expect_parse_error("GET / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", TM_EINVAL,
                       501);
    expect_parse_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "1000000000000000\r\n",
                       TM_ECORRUPT, 400);
    expect_parse_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
                       TM_ECORRUPT, 400);
    /* A NUL inside the head. */
    struct http_parser p;
    http_parser_init(&p, 100);
    size_t used;
    assert_int_equal(http_parser_feed(&p, "GET / HTTP/1.1\r\nA: \0b\r\n\r\n", 25, &used),
                     TM_ECORRUPT);
    http_parser_free(&p);
}

static void test_parser_misc(void **state)
{
    (void)state;
    struct http_parser p;
    struct http_msg m;
    size_t rest;
    /* OPTIONS *, HTTP/1.1 minor versions above 1, a body exactly max_body. */
    http_parser_init(&p, 4);
    assert_int_equal(parse_in_steps(&p, "OPTIONS * HTTP/1.9\r\n\r\n", 5, &rest), HTTP_PARSE_DONE);
    http_parser_take(&p, &m);
    assert_string_equal(m.path, "*");
    assert_true(m.keep_alive);
    http_msg_free(&m);
    assert_int_equal(
        parse_in_steps(&p, "PUT /x HTTP/1.0\r\nContent-Length: 4\r\n\r\nabcd", 3, &rest),
        HTTP_PARSE_DONE);
    http_parser_take(&p, &m);
    assert_true(m.http10);
    assert_false(m.keep_alive);
    assert_string_equal(m.body, "abcd");
    assert_string_equal(m.query, "");
    http_msg_free(&m);
    /* One byte over: too_large as soon as the head is complete. */
    assert_int_equal(parse_in_steps(&p, "PUT /x HTTP/1.1\r\nContent-Length: 5\r\n\r\n", 64, &rest),
                     HTTP_PARSE_DONE);
    http_parser_take(&p, &m);
    assert_true(m.too_large);
    assert_null(m.body);
    struct tm_http_request req;
    http_msg_request(&m, &req);
    assert_true(req.too_large);
    assert_null(req.body);
    http_msg_free(&m);
    /* 100-continue is due only until the first body byte. */
    assert_int_equal(parse_in_steps(&p,
                                    "PUT /x HTTP/1.1\r\nExpect: 100-Continue\r\n"
                                    "Content-Length: 2\r\n\r\n",
                                    64, &rest),
                     HTTP_PARSE_MORE);
    assert_true(http_parser_wants_continue(&p));
    assert_int_equal(parse_in_steps(&p, "a", 1, &rest), HTTP_PARSE_MORE);
    assert_false(http_parser_wants_continue(&p));
    http_parser_free(&p);
}

int main(void)
{
    /* A hang anywhere (even inside stop()) kills the run instead of CI. */
    alarm(WATCHDOG_S);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parser_byte_by_byte),
        cmocka_unit_test(test_parser_rejects),
        cmocka_unit_test(test_parser_misc),
        cmocka_unit_test_setup_teardown(test_post_content_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_content_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_alive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_half_close_gets_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_burst, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_answered_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_case_insensitive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_large_content_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_large_chunked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expect_continue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expect_continue_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http10, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_handler_does_not_block_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_errors, setup, teardown),
        cmocka_unit_test(test_large_body),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_max_conns),
        cmocka_unit_test(test_stop_with_request_in_flight),
        cmocka_unit_test(test_stop_with_unread_response),
        cmocka_unit_test(test_inline_handler),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
