/* Internals of the HTTP/1.1 server: the incremental request parser that
 * http_parse.c implements and http.c drives. Tests may include this header.
 *
 * Parser states and transitions:
 *
 *   HEAD --(empty line; no body)---------------------------------> DONE
 *   HEAD --(Content-Length n <= max_body)--> BODY_LEN --(n bytes)--> DONE
 *   HEAD --(chunked)--> CHUNK_SIZE --(size 0)--> TRAILER --(empty line)--> DONE
 *                       CHUNK_SIZE --(size k)--> CHUNK_DATA --(k bytes)--> CHUNK_CRLF
 *                       CHUNK_CRLF --(CRLF)--> CHUNK_SIZE
 *   any body state --(body would exceed max_body)--> DONE with too_large
 *   any state --(malformed input)--> ERROR (sticky until reset)
 *
 * Invariant: the parser consumes every byte it is fed until it reaches DONE,
 * so whatever is left unconsumed belongs to the next (pipelined) request.
 */
#ifndef TM_HTTP_INT_H
#define TM_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "tm_buf.h"

#define HTTP_MAX_HEAD (64u * 1024u) /* request line + headers, bytes */
#define HTTP_MAX_HEADERS 100
#define HTTP_MAX_CHUNK_LINE 256 /* chunk-size line with extensions */

/* A parsed request. Owned by whoever holds it; http_msg_free releases it. */
struct http_msg {
    char *head;                     /* owned: the head, split in place by NULs */
    struct tm_http_header *headers; /* owned array; names and values point into head */
    size_t nheaders;
    char *body; /* owned, NUL-terminated; NULL if there was no body or too_large */
    size_t body_len;
    const char *method; /* these three point into head (query may be "") */
    const char *path;
    const char *query;
    bool http10;
    bool keep_alive;      /* the connection may serve another request */
    bool expect_continue; /* "Expect: 100-continue" */
    bool too_large;
};

enum http_pstate {
    HP_HEAD,
    HP_BODY_LEN,
    HP_CHUNK_SIZE,
    HP_CHUNK_DATA,
    HP_CHUNK_CRLF,
    HP_TRAILER,
    HP_DONE,
    HP_ERROR,
};

struct http_parser {
    size_t max_body;
    enum http_pstate state;
    int error;                      /* negative code once state is HP_ERROR */
    int error_status;               /* the HTTP status to answer the error with */
    struct tm_buf head;             /* raw head bytes received so far */
    size_t line_start;              /* offset in head of the line being received */
    struct tm_buf body;             /* decoded body so far */
    uint64_t remaining;             /* bytes left of the Content-Length body or the current chunk */
    size_t body_seen;               /* bytes consumed after the head, framing included */
    char line[HTTP_MAX_CHUNK_LINE]; /* current chunk-size, chunk-CRLF or trailer line */
    size_t line_len;                /* bytes of that line so far (trailers: not all stored) */
    size_t trailer_len;             /* bytes of trailer section so far */
    struct http_msg msg;            /* filled in when the head completes */
};

enum { HTTP_PARSE_MORE = 0, HTTP_PARSE_DONE = 1 };

/* Prepares p for the first request. Bodies above max_body end as too_large. */
void http_parser_init(struct http_parser *p, size_t max_body);

/* Frees everything p holds, including a partial request. */
void http_parser_free(struct http_parser *p);

/* Consumes up to len bytes of data (borrowed for the call) and sets *used_out
 * to how many. Returns HTTP_PARSE_MORE if every byte was consumed and the
 * request is not complete yet, HTTP_PARSE_DONE when a request is complete
 * (bytes after it are left unconsumed; fetch it with http_parser_take), or a
 * negative code with p->error_status set: TM_ECORRUPT (400, or 505 for an
 * unsupported version), TM_ETOOBIG (431), TM_EINVAL (501, unsupported
 * transfer coding), TM_ENOMEM (500). Errors are sticky. */
int http_parser_feed(struct http_parser *p, const char *data, size_t len, size_t *used_out);

/* True when the head is complete, asked for 100-continue, and no body byte
 * has arrived yet: the moment to send "100 Continue". */
bool http_parser_wants_continue(const struct http_parser *p);

/* After HTTP_PARSE_DONE: moves the request into *msg_out (the caller owns it)
 * and resets p for the next request. */
void http_parser_take(struct http_parser *p, struct http_msg *msg_out);

/* Frees what msg owns and zeroes it. */
void http_msg_free(struct http_msg *msg);

/* Fills *req_out with a view of msg, valid while msg lives unchanged. */
void http_msg_request(const struct http_msg *msg, struct tm_http_request *req_out);

#endif
