/* The HTTP/1.1 server: one libuv loop thread that owns every socket, and a
 * pool of worker threads that run the handler. Behaviour is in http.h; the
 * request parser is http_parse.c.
 *
 * Threads and ownership:
 * - The loop thread owns the listener, every connection, and every job that
 *   is neither on the todo queue nor being run by a worker.
 * - A job on the todo queue or being run belongs to the pool; it comes back
 *   through the done queue, and `wake` tells the loop it is there. A job the
 *   inline handler took (TM_HTTP_LATER) comes back the same way, through
 *   tm_http_call_done, and its finish runs on the loop thread.
 * - mu guards the two queues and the two stop flags; nothing else is shared.
 *
 * Connection states (loop thread only):
 *   READING  reads feed the parser. A complete request moves to BUSY; OPTIONS
 *            and malformed requests are answered at once (WRITING).
 *   BUSY     the request is with a worker (c->job_out). Reads go on, but
 *            what arrives (pipelined requests) only waits in c->in, up to
 *            HTTP_PIPELINE_MAX bytes before reads stop; the next request is
 *            parsed after this response is written, so responses stay in
 *            order. Reading through keeps the socket's epoll registration
 *            as it is: stopping and restarting reads cost two epoll_ctl
 *            calls per request. A peer's EOF in BUSY or WRITING waits for
 *            the response (c->peer_done): a client may half-close after
 *            sending its request.
 *   WRITING  the response is being written; then back to READING (buffered
 *            bytes are parsed first), or LINGER when the connection must end.
 *   LINGER   our write side is shut down; input is discarded until EOF or the
 *            deadline, so unread request bytes do not make the kernel answer
 *            with a reset that could destroy the response in flight.
 * Any state can be cut short by uv_close (c->closing); the connection is
 * freed once the close callback has run and no worker holds its job.
 *
 * Deadlines: every connection not held by a worker carries one (idle,
 * linger, or the stop grace period); a periodic sweep closes the late ones.
 */
#include "http.h"
#include "http_int.h"
#include "tm_buf.h"
#include "tm_err.h"
#include "tm_log.h"

#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#define HTTP_READ_CHUNK (16u * 1024u)
#define HTTP_PIPELINE_MAX (64u * 1024u)
#define HTTP_LINGER_MS 2000u
#define HTTP_STOP_GRACE_MS 2000u
#define HTTP_BACKLOG 511
#define HTTP_TEXT "text/plain; charset=utf-8"
#define HTTP_JSON "application/json; charset=utf-8"
#define HTTP_CORS_METHODS "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"
#define HTTP_CORS_HEADERS "Authorization, Content-Type, Accept, Request-Timeout"

struct http_conn;

struct http_job {
    struct http_job *next; /* on the todo or done queue */
    struct http_conn *conn;
    void (*work)(void *arg); /* instead of the handler (tm_http_call_to_worker) */
    void *work_arg;
    void (*finish)(void *arg); /* on the loop thread (tm_http_call_done) */
    void *finish_arg;
    struct http_msg msg; /* the request; zeroed for a malformed one */
    struct tm_http_response resp;
    bool close_after;
    uv_write_t wreq;
    struct tm_buf out; /* status line and headers */
};

enum conn_state { CS_READING, CS_BUSY, CS_WRITING, CS_LINGER };

struct http_conn {
    uv_tcp_t tcp;
    struct tm_http_server *srv;
    struct http_conn *prev, *next;
    enum conn_state state;
    bool reading;
    bool peer_done;                 /* EOF read while a request was answered */
    bool processing, process_again; /* http_conn_process is running; run it again */
    bool job_out;                   /* a worker holds this connection's job */
    bool continue_sent;
    bool closing;
    bool handle_closed;
    uint64_t deadline; /* uv_now() milliseconds */
    struct tm_buf in;  /* received bytes the parser has not consumed */
    struct http_parser parser;
    uv_shutdown_t sreq;
};

struct tm_http_server {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_async_t wake; /* workers: jobs are done; stop(): begin stopping */
    uv_timer_t sweep;
    pthread_t loop_thread;
    pthread_t *workers;
    int nworkers;
    tm_http_handler_fn handler;
    tm_http_inline_fn inline_handler;
    void *arg;
    size_t max_body;
    uint64_t idle_ms;
    int max_conns;
    int port;

    pthread_mutex_t mu;
    pthread_cond_t cv; /* todo queue non-empty or quit_workers */
    struct http_job *todo_head, *todo_tail;
    struct http_job *done_head, *done_tail;
    bool stop_requested;
    bool quit_workers;

    /* Loop thread only. */
    struct http_conn *conns;
    int nconns;
    bool stopping;
    bool finished;
    uint64_t stop_deadline; /* uv_now() ms: the grace period ends */
    uint64_t warned_ms;     /* uv_now() ms of the last accept warning */
    time_t date_sec;
    char date[64];
};

static void http_conn_process(struct http_conn *c);

/* ---- jobs and the worker pool ---- */

static void http_queue_push(struct http_job **head, struct http_job **tail, struct http_job *j)
{
    j->next = NULL;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

static struct http_job *http_queue_pop(struct http_job **head, struct http_job **tail)
{
    struct http_job *j = *head;
    if (j) {
        *head = j->next;
        if (!*head)
            *tail = NULL;
        j->next = NULL;
    }
    return j;
}

static struct http_job *http_job_new(struct http_conn *c)
{
    struct http_job *job = calloc(1, sizeof *job);
    if (job) {
        job->conn = c;
        job->resp.status = 200;
        job->wreq.data = job;
    }
    return job;
}

static void http_job_free(struct http_job *job)
{
    http_msg_free(&job->msg);
    free(job->resp.body);
    tm_buf_free(&job->out);
    free(job);
}

/* Hands a job's response back to the loop, with s->mu held. */
static void http_job_done_locked(struct tm_http_server *s, struct http_job *job)
{
    http_queue_push(&s->done_head, &s->done_tail, job);
    /* Sent under mu: the loop closes `wake` under mu, and only once no job
     * is out, so this can never touch a closed handle. */
    uv_async_send(&s->wake);
}

static void *http_worker_main(void *arg)
{
    struct tm_http_server *s = arg;
    pthread_setname_np(pthread_self(), "tm-http-worker");
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->todo_head && !s->quit_workers)
            pthread_cond_wait(&s->cv, &s->mu);
        struct http_job *job = http_queue_pop(&s->todo_head, &s->todo_tail);
        if (!job)
            break;
        pthread_mutex_unlock(&s->mu);
        if (job->work) {
            job->work(job->work_arg);
        } else {
            struct tm_http_request req;
            http_msg_request(&job->msg, &req);
            s->handler(s->arg, &req, &job->resp);
        }
        pthread_mutex_lock(&s->mu);
        http_job_done_locked(s, job);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void http_job_queue(struct tm_http_server *s, struct http_job *job)
{
    pthread_mutex_lock(&s->mu);
    http_queue_push(&s->todo_head, &s->todo_tail, job);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void tm_http_call_to_worker(struct tm_http_call *call, void (*work)(void *arg), void *arg)
{
    struct http_job *job = (struct http_job *)call;
    job->work = work;
    job->work_arg = arg;
    http_job_queue(job->conn->srv, job);
}

void tm_http_call_done(struct tm_http_call *call, void (*finish)(void *arg), void *arg)
{
    struct http_job *job = (struct http_job *)call;
    struct tm_http_server *s = job->conn->srv;
    job->finish = finish;
    job->finish_arg = arg;
    pthread_mutex_lock(&s->mu);
    http_job_done_locked(s, job);
    pthread_mutex_unlock(&s->mu);
}

static void http_workers_stop(struct tm_http_server *s, int n)
{
    pthread_mutex_lock(&s->mu);
    s->quit_workers = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < n; i++)
        pthread_join(s->workers[i], NULL);
}

/* ---- responses ---- */

static const char *http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

/* IMF-fixdate, built by hand so the C locale cannot change it; cached per
 * second because every response carries it. */
static const char *http_date(struct tm_http_server *s)
{
    static const char days[][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    struct tm t;
    if (now != s->date_sec && gmtime_r(&now, &t)) {
        snprintf(s->date, sizeof s->date, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[t.tm_wday],
                 t.tm_mday, months[t.tm_mon], t.tm_year + 1900, t.tm_hour, t.tm_min, t.tm_sec);
        s->date_sec = now;
    }
    return s->date;
}

/* Writes the status line and headers into job->out. Returns whether a body
 * follows them: never for HEAD, 204 or 304 (RFC 9110 §6.4.1). */
static bool http_job_format(struct tm_http_server *s, struct http_job *job)
{
    struct tm_http_response *r = &job->resp;
    int status = r->status >= 200 && r->status <= 599 ? r->status : 500;
    bool bodiless = status == 204 || status == 304;
    if (!r->body)
        r->body_len = 0;
    struct tm_buf *b = &job->out;
    tm_buf_printf(b, "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: %s\r\n", status,
                  http_reason(status), http_date(s), r->content_type ? r->content_type : HTTP_JSON);
    if (!bodiless)
        tm_buf_printf(b, "Content-Length: %zu\r\n", r->body_len);
    tm_buf_append_str(b, "Access-Control-Allow-Origin: *\r\nX-Content-Type-Options: nosniff\r\n");
    if (job->close_after)
        tm_buf_append_str(b, "Connection: close\r\n");
    else if (job->msg.http10)
        tm_buf_append_str(b, "Connection: keep-alive\r\n");
    r->extra_headers[sizeof r->extra_headers - 1] = '\0';
    size_t n = strlen(r->extra_headers);
    tm_buf_append(b, r->extra_headers, n);
    /* A forgotten final CRLF would glue the next header onto the last one. */
    if (n > 0 && (n < 2 || strcmp(r->extra_headers + n - 2, "\r\n") != 0))
        tm_buf_append_str(b, "\r\n");
    tm_buf_append_str(b, "\r\n");
    bool head = job->msg.method && strcmp(job->msg.method, "HEAD") == 0;
    return !bodiless && !head && r->body_len > 0;
}

/* The CORS preflight answer. Requested headers are echoed when they look
 * like a plain list of tokens; anything else gets our fixed list. */
static void http_job_options(struct http_job *job)
{
    struct tm_http_request req;
    http_msg_request(&job->msg, &req);
    const char *want = tm_http_request_header(&req, "Access-Control-Request-Headers");
    if (want && (strlen(want) > 256 || want[strspn(want, "abcdefghijklmnopqrstuvwxyz"
                                                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                         "0123456789-_, ")] != '\0'))
        want = NULL;
    job->resp.status = 204;
    job->resp.content_type = HTTP_TEXT;
    snprintf(job->resp.extra_headers, sizeof job->resp.extra_headers,
             "Access-Control-Allow-Methods: %s\r\nAccess-Control-Allow-Headers: %s\r\n"
             "Access-Control-Max-Age: 86400\r\n",
             HTTP_CORS_METHODS, want && *want ? want : HTTP_CORS_HEADERS);
}

/* ---- connections ---- */

static void http_maybe_finish(struct tm_http_server *s);

static void http_conn_maybe_free(struct http_conn *c)
{
    struct tm_http_server *s = c->srv;
    if (!c->handle_closed || c->job_out)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    http_parser_free(&c->parser);
    tm_buf_free(&c->in);
    free(c);
    http_maybe_finish(s);
}

static void http_on_conn_closed(uv_handle_t *h)
{
    struct http_conn *c = h->data;
    c->handle_closed = true;
    http_conn_maybe_free(c);
}

/* Safe to call more than once. Pending writes and the shutdown complete
 * with UV_ECANCELED before the close callback runs. */
static void http_conn_close(struct http_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    uv_close((uv_handle_t *)&c->tcp, http_on_conn_closed);
}

/* While stopping, no deadline may pass the end of the grace period. */
static void http_conn_set_deadline(struct http_conn *c, uint64_t ms_from_now)
{
    struct tm_http_server *s = c->srv;
    c->deadline = uv_now(&s->loop) + ms_from_now;
    if (s->stopping && c->deadline > s->stop_deadline)
        c->deadline = s->stop_deadline;
}

static void http_on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct http_conn *c = h->data;
    (void)hint;
    if (tm_buf_reserve(&c->in, HTTP_READ_CHUNK)) {
        *buf = uv_buf_init(NULL, 0); /* libuv answers with UV_ENOBUFS */
        return;
    }
    buf->base = (char *)c->in.data + c->in.len;
    buf->len = c->in.cap - c->in.len;
}

static void http_conn_read_stop(struct http_conn *c)
{
    if (c->reading)
        uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
}

static void http_on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct http_conn *c = st->data;
    (void)buf;
    bool answering = c->state == CS_BUSY || c->state == CS_WRITING;
    if (nread == UV_EOF && answering) {
        c->peer_done = true;
        http_conn_read_stop(c);
        return;
    }
    if (nread < 0) {
        http_conn_close(c); /* EOF or error: nothing more can be answered */
        return;
    }
    if (nread == 0 || c->state == CS_LINGER)
        return; /* lingering: the bytes are dropped by not counting them */
    c->in.len += (size_t)nread;
    if (answering) {
        if (c->in.len >= HTTP_PIPELINE_MAX)
            http_conn_read_stop(c);
        return;
    }
    http_conn_set_deadline(c, c->srv->idle_ms);
    http_conn_process(c);
}

static int http_conn_read_start(struct http_conn *c)
{
    if (c->reading)
        return 0;
    int rc = uv_read_start((uv_stream_t *)&c->tcp, http_on_alloc, http_on_read);
    c->reading = rc == 0;
    return rc;
}

static void http_on_shutdown(uv_shutdown_t *req, int status)
{
    struct http_conn *c = req->data;
    if (c->closing)
        return;
    c->in.len = 0;
    if (status < 0 || http_conn_read_start(c))
        http_conn_close(c);
}

static void http_conn_linger(struct http_conn *c)
{
    c->state = CS_LINGER;
    http_conn_set_deadline(c, HTTP_LINGER_MS);
    c->sreq.data = c;
    if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, http_on_shutdown))
        http_conn_close(c);
}

/* The response of job is out (status 0) or could not be sent. */
static void http_conn_written(struct http_conn *c, struct http_job *job, int status)
{
    bool close_after = job->close_after;
    http_job_free(job);
    if (c->closing)
        return;
    if (status < 0) {
        http_conn_close(c);
    } else if (close_after || c->srv->stopping) {
        http_conn_linger(c);
    } else {
        c->state = CS_READING;
        http_conn_set_deadline(c, c->srv->idle_ms);
        http_conn_process(c);
    }
}

static void http_on_written(uv_write_t *req, int status)
{
    struct http_job *job = req->data;
    http_conn_written(job->conn, job, status);
}

/* Writes what the socket takes now, advancing bufs past it: uv_write's
 * completion would cost an epoll_ctl (libuv re-registers the socket when
 * its write queue drains), and a response usually fits the socket buffer.
 * Bytes written, or a libuv error; 0 when the socket takes nothing now. */
static int http_try_write(struct http_conn *c, uv_buf_t *bufs, unsigned n)
{
    int k = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
    if (k == UV_EAGAIN || k == UV_ENOSYS)
        return 0;
    for (unsigned i = 0, left = k > 0 ? (unsigned)k : 0; i < n && left; i++) {
        unsigned used = left < bufs[i].len ? left : (unsigned)bufs[i].len;
        bufs[i].base += used;
        bufs[i].len -= used;
        left -= used;
    }
    return k;
}

static bool http_may_warn(struct tm_http_server *s);

/* Takes ownership of job and writes its response. */
static void http_conn_respond(struct http_conn *c, struct http_job *job)
{
    struct tm_http_server *s = c->srv;
    if (s->stopping)
        job->close_after = true;
    bool with_body = http_job_format(s, job);
    uv_buf_t bufs[2] = {uv_buf_init((char *)job->out.data, (unsigned)job->out.len)};
    bufs[1].base = job->resp.body;
    bufs[1].len = with_body ? job->resp.body_len : 0;
    int rc = job->out.err;
    if (rc == 0)
        rc = http_try_write(c, bufs, 2);
    if (rc >= 0 && bufs[0].len + bufs[1].len == 0) {
        c->state = CS_WRITING;
        http_conn_written(c, job, 0);
        return;
    }
    if (rc >= 0)
        rc = uv_write(&job->wreq, (uv_stream_t *)&c->tcp, bufs[0].len ? bufs : bufs + 1,
                      (bufs[0].len ? 1u : 0u) + (bufs[1].len ? 1u : 0u), http_on_written);
    if (rc) {
        /* A client gone before its answer is no news (uv_write reported
         * it through the callback, silently). */
        if (rc != UV_EPIPE && rc != UV_ECONNRESET && http_may_warn(s))
            TM_WARN("http", "cannot send response: %s", tm_strerror(rc));
        http_job_free(job);
        http_conn_close(c);
        return;
    }
    c->state = CS_WRITING;
    http_conn_set_deadline(c, s->idle_ms);
}

/* Answers a request the parser rejected, then closes. */
static void http_conn_reject(struct http_conn *c, int status)
{
    struct http_job *job = http_job_new(c);
    if (!job) {
        http_conn_close(c);
        return;
    }
    char text[64];
    int n = snprintf(text, sizeof text, "%s\n", http_reason(status));
    job->close_after = true;
    job->resp.status = status;
    job->resp.content_type = HTTP_TEXT;
    job->resp.body = strdup(text);
    job->resp.body_len = job->resp.body ? (size_t)n : 0;
    http_conn_respond(c, job);
}

/* A request is complete: answer OPTIONS here, queue the rest. */
static void http_conn_dispatch(struct http_conn *c)
{
    struct tm_http_server *s = c->srv;
    struct http_job *job = http_job_new(c);
    if (!job) {
        http_conn_close(c);
        return;
    }
    http_parser_take(&c->parser, &job->msg);
    c->continue_sent = false;
    job->close_after = !job->msg.keep_alive;
    if (!job->msg.too_large && strcmp(job->msg.method, "OPTIONS") == 0) {
        http_job_options(job);
        http_conn_respond(c, job);
        return;
    }
    enum tm_http_inline taken = TM_HTTP_TO_WORKER;
    if (s->inline_handler) {
        struct tm_http_request req;
        http_msg_request(&job->msg, &req);
        taken = s->inline_handler(s->arg, (struct tm_http_call *)job, &req, &job->resp);
    }
    if (taken == TM_HTTP_ANSWERED) {
        http_conn_respond(c, job);
        return;
    }
    c->state = CS_BUSY;
    c->job_out = true; /* a worker's, or the inline handler's until answered */
    if (taken != TM_HTTP_LATER)
        http_job_queue(s, job);
}

static void http_on_continue_written(uv_write_t *req, int status)
{
    struct http_conn *c = req->data;
    free(req);
    if (status < 0 && !c->closing)
        http_conn_close(c);
}

static int http_conn_send_continue(struct http_conn *c)
{
    static char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    uv_write_t *req = malloc(sizeof *req);
    if (!req)
        return TM_ENOMEM;
    uv_buf_t b = uv_buf_init(line, sizeof line - 1);
    req->data = c;
    int rc = uv_write(req, (uv_stream_t *)&c->tcp, &b, 1, http_on_continue_written);
    if (rc)
        free(req);
    c->continue_sent = rc == 0;
    return rc;
}

/* Parses what c->in holds; then dispatches, rejects, or reads on. */
static void http_conn_process_once(struct http_conn *c)
{
    int rc = HTTP_PARSE_MORE;
    if (c->in.len > 0) {
        size_t used = 0;
        rc = http_parser_feed(&c->parser, (const char *)c->in.data, c->in.len, &used);
        memmove(c->in.data, c->in.data + used, c->in.len - used);
        c->in.len -= used;
    }
    /* Idle connections keep no read buffer; on_alloc makes a new one. */
    if (c->in.len == 0)
        tm_buf_free(&c->in);
    if (rc == HTTP_PARSE_DONE) {
        http_conn_dispatch(c);
        return;
    }
    if (rc < 0) {
        http_conn_reject(c, c->parser.error_status);
        return;
    }
    if (c->peer_done) {
        http_conn_close(c); /* the rest of a request will not come */
        return;
    }
    rc = 0;
    if (http_parser_wants_continue(&c->parser) && !c->continue_sent)
        rc = http_conn_send_continue(c);
    if (rc == 0)
        rc = http_conn_read_start(c);
    if (rc)
        http_conn_close(c);
}

/* A response written at once (http_conn_respond) comes back here from
 * inside the dispatch of its request: the loop below parses the next
 * pipelined request instead of a recursion as deep as the pipeline. */
static void http_conn_process(struct http_conn *c)
{
    if (c->processing) {
        c->process_again = true;
        return;
    }
    c->processing = true;
    do {
        c->process_again = false;
        http_conn_process_once(c);
    } while (c->process_again && !c->closing);
    c->processing = false;
}

/* Accept trouble comes in floods; one warning a second is enough. */
static bool http_may_warn(struct tm_http_server *s)
{
    uint64_t now = uv_now(&s->loop);
    if (s->warned_ms && now - s->warned_ms < 1000)
        return false;
    s->warned_ms = now;
    return true;
}

static void http_on_refused_closed(uv_handle_t *h)
{
    free(h);
}

/* Beyond max_conns (or out of memory) a connection is accepted and closed
 * at once: leaving it in the backlog would stall the listener. */
static void http_refuse(struct tm_http_server *s)
{
    uv_tcp_t *t = malloc(sizeof *t);
    if (!t || uv_tcp_init(&s->loop, t)) {
        free(t);
        TM_ERROR("http", "cannot refuse a connection: out of memory");
        return;
    }
    if (uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)t) == 0 && http_may_warn(s))
        TM_WARN("http", "refusing connections: %d open", s->nconns);
    uv_close((uv_handle_t *)t, http_on_refused_closed);
}

static void http_on_connection(uv_stream_t *listener, int status)
{
    struct tm_http_server *s = listener->data;
    if (status < 0) {
        if (http_may_warn(s))
            TM_WARN("http", "accept: %s", tm_strerror(status));
        return;
    }
    struct http_conn *c = s->nconns < s->max_conns ? calloc(1, sizeof *c) : NULL;
    if (!c || uv_tcp_init(&s->loop, &c->tcp)) {
        free(c);
        http_refuse(s);
        return;
    }
    c->tcp.data = c;
    c->srv = s;
    http_parser_init(&c->parser, s->max_body);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    http_conn_set_deadline(c, s->idle_ms);
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) || http_conn_read_start(c)) {
        http_conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
}

/* ---- the loop thread ---- */

static void http_on_sweep(uv_timer_t *t)
{
    struct tm_http_server *s = t->data;
    uint64_t now = uv_now(&s->loop);
    for (struct http_conn *c = s->conns; c; c = c->next)
        if (!c->closing && !c->job_out && now >= c->deadline)
            http_conn_close(c);
}

/* Once stopping and every connection is gone, close the last handles so
 * uv_run returns. */
static void http_maybe_finish(struct tm_http_server *s)
{
    if (!s->stopping || s->conns || s->finished)
        return;
    s->finished = true;
    uv_close((uv_handle_t *)&s->sweep, NULL);
    pthread_mutex_lock(&s->mu);
    uv_close((uv_handle_t *)&s->wake, NULL);
    pthread_mutex_unlock(&s->mu);
}

/* Idle and half-read connections close now; those with a response coming
 * or going get the grace period to finish writing it. */
static void http_begin_stop(struct tm_http_server *s)
{
    s->stopping = true;
    s->stop_deadline = uv_now(&s->loop) + HTTP_STOP_GRACE_MS;
    uv_close((uv_handle_t *)&s->listener, NULL);
    /* Sweep often now, so stop() ends close to the grace period. */
    uv_timer_start(&s->sweep, http_on_sweep, 20, 20);
    for (struct http_conn *c = s->conns; c; c = c->next) {
        if (c->state == CS_READING)
            http_conn_close(c);
        else
            http_conn_set_deadline(c, HTTP_STOP_GRACE_MS);
    }
    http_maybe_finish(s);
}

static void http_job_returned(struct http_job *job)
{
    struct http_conn *c = job->conn;
    c->job_out = false;
    if (job->finish) {
        job->finish(job->finish_arg);
        job->finish = NULL;
    }
    if (c->closing) {
        http_job_free(job);
        http_conn_maybe_free(c);
        return;
    }
    http_conn_respond(c, job);
}

static void http_on_wake(uv_async_t *h)
{
    struct tm_http_server *s = h->data;
    pthread_mutex_lock(&s->mu);
    struct http_job *done = s->done_head;
    s->done_head = s->done_tail = NULL;
    bool stop = s->stop_requested;
    pthread_mutex_unlock(&s->mu);
    while (done) {
        struct http_job *next = done->next;
        http_job_returned(done);
        done = next;
    }
    if (stop && !s->stopping)
        http_begin_stop(s);
}

static void *http_loop_main(void *arg)
{
    struct tm_http_server *s = arg;
    pthread_setname_np(pthread_self(), "tm-http-loop");
    uv_run(&s->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* ---- start and stop ---- */

static int http_bind(struct tm_http_server *s, const char *host, int port)
{
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    if (getaddrinfo(host && *host ? host : "0.0.0.0", service, &hints, &ai) != 0)
        return TM_EINVAL;
    /* libuv reports EADDRINUSE from uv_listen, not from uv_tcp_bind. */
    int rc = uv_tcp_bind(&s->listener, ai->ai_addr, 0);
    freeaddrinfo(ai);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, HTTP_BACKLOG, http_on_connection);
    struct sockaddr_storage ss;
    int len = (int)sizeof ss;
    if (rc == 0)
        rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
    if (rc == 0)
        s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    return rc;
}

/* Closes the handles that `opened` counts (in init order) and the loop;
 * only while no loop thread runs. */
static void http_loop_teardown(struct tm_http_server *s, int opened)
{
    if (opened > 0)
        uv_close((uv_handle_t *)&s->listener, NULL);
    if (opened > 1)
        uv_close((uv_handle_t *)&s->wake, NULL);
    if (opened > 2)
        uv_close((uv_handle_t *)&s->sweep, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&s->loop))
        TM_ERROR("http", "event loop still busy at close");
}

static int http_loop_open(struct tm_http_server *s, const struct tm_http_config *cfg)
{
    int rc = uv_loop_init(&s->loop);
    if (rc)
        return rc;
    int opened = 0;
    rc = uv_tcp_init(&s->loop, &s->listener);
    if (rc == 0) {
        opened = 1;
        rc = uv_async_init(&s->loop, &s->wake, http_on_wake);
    }
    if (rc == 0) {
        opened = 2;
        rc = uv_timer_init(&s->loop, &s->sweep);
    }
    if (rc == 0) {
        opened = 3;
        s->listener.data = s->wake.data = s->sweep.data = s;
        rc = http_bind(s, cfg->host, cfg->port);
    }
    /* Sweeping at a quarter of the idle timeout (10 ms .. 1 s) closes an
     * idle connection at most 25% late, and a lingering one (2 s) at most
     * a second late. Stopping sweeps faster: see http_begin_stop. */
    uint64_t every = s->idle_ms / 4;
    every = every < 10 ? 10 : every > 1000 ? 1000 : every;
    if (rc == 0)
        rc = uv_timer_start(&s->sweep, http_on_sweep, every, every);
    if (rc)
        http_loop_teardown(s, opened);
    return rc;
}

static int http_threads_start(struct tm_http_server *s)
{
    s->workers = calloc((size_t)s->nworkers, sizeof *s->workers);
    if (!s->workers)
        return TM_ENOMEM;
    for (int i = 0; i < s->nworkers; i++) {
        int rc = pthread_create(&s->workers[i], NULL, http_worker_main, s);
        if (rc) {
            http_workers_stop(s, i);
            return -rc;
        }
    }
    int rc = pthread_create(&s->loop_thread, NULL, http_loop_main, s);
    if (rc) {
        http_workers_stop(s, s->nworkers);
        return -rc;
    }
    return 0;
}

static void http_server_free(struct tm_http_server *s)
{
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->workers);
    free(s);
}

/* libuv writes with write(2); a peer that went away must not kill us. */
static void http_ignore_sigpipe(void)
{
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_IGN;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGPIPE, &sa, NULL);
    }
}

int tm_http_server_start(struct tm_http_server **out, const struct tm_http_config *cfg)
{
    *out = NULL;
    if (!cfg || !cfg->handler || cfg->port < 0 || cfg->port > 65535)
        return TM_EINVAL;
    struct tm_http_server *s = calloc(1, sizeof *s);
    if (!s)
        return TM_ENOMEM;
    s->handler = cfg->handler;
    s->inline_handler = cfg->inline_handler;
    s->arg = cfg->arg;
    s->max_body = cfg->max_body ? cfg->max_body : TM_HTTP_DEFAULT_MAX_BODY;
    s->nworkers = cfg->workers > 0 ? cfg->workers : TM_HTTP_DEFAULT_WORKERS;
    s->idle_ms =
        (uint64_t)(cfg->idle_timeout_ms > 0 ? cfg->idle_timeout_ms : TM_HTTP_DEFAULT_IDLE_MS);
    s->max_conns = cfg->max_conns > 0 ? cfg->max_conns : TM_HTTP_DEFAULT_MAX_CONNS;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    http_ignore_sigpipe();
    int rc = http_loop_open(s, cfg);
    if (rc == 0) {
        rc = http_threads_start(s);
        if (rc)
            http_loop_teardown(s, 3);
    }
    if (rc) {
        http_server_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int tm_http_server_port(const struct tm_http_server *s)
{
    return s->port;
}

void tm_http_server_stop(struct tm_http_server *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop_requested = true;
    uv_async_send(&s->wake);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->loop_thread, NULL);
    /* The loop ended only after every job came back, so the queues are
     * empty and the workers are idle. */
    http_workers_stop(s, s->nworkers);
    if (uv_loop_close(&s->loop))
        TM_ERROR("http", "event loop still busy at close");
    http_server_free(s);
}
