/* Incremental HTTP/1.1 request parser (RFC 9112): request line, header
 * fields, and bodies framed by Content-Length or the chunked transfer coding.
 *
 * The parser copies what it consumes: the head into its own buffer, which is
 * split in place into C strings once the empty line arrives, and the body
 * (de-chunked) into a second buffer. The caller's input buffer therefore
 * only ever holds bytes the parser has not consumed yet, whatever the
 * framing, and a finished request can move to another thread whole.
 *
 * The parser is strict where leniency would let a request be read two ways
 * (request smuggling): both Content-Length and Transfer-Encoding, differing
 * Content-Lengths, obsolete line folding, bare CR, NUL, and whitespace
 * before a header's colon are all rejected with 400.
 */
#include "http_int.h"
#include "tm_err.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Helper steps below return an HTTP status, 0 meaning success, because the
 * status is what the client must be told; hp_fail maps it to our codes. */
static int hp_fail(struct http_parser *p, int status)
{
    int rc = TM_ECORRUPT;
    if (status == 431)
        rc = TM_ETOOBIG;
    else if (status == 501)
        rc = TM_EINVAL;
    else if (status == 500)
        rc = TM_ENOMEM;
    p->state = HP_ERROR;
    p->error = rc;
    p->error_status = status;
    return rc;
}

static void hp_reset(struct http_parser *p)
{
    size_t max_body = p->max_body;
    tm_buf_free(&p->head);
    tm_buf_free(&p->body);
    http_msg_free(&p->msg);
    memset(p, 0, sizeof *p);
    p->max_body = max_body;
    p->state = HP_HEAD;
}

void http_parser_init(struct http_parser *p, size_t max_body)
{
    memset(p, 0, sizeof *p);
    p->max_body = max_body;
    p->state = HP_HEAD;
}

void http_parser_free(struct http_parser *p)
{
    hp_reset(p);
}

void http_msg_free(struct http_msg *msg)
{
    free(msg->head);
    free(msg->headers);
    free(msg->body);
    memset(msg, 0, sizeof *msg);
}

/* RFC 9110 §5.6.2 token characters. */
static bool hp_is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool hp_is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!hp_is_tchar((unsigned char)*s))
            return false;
    return true;
}

/* Terminates the line at s (which ends in LF, optionally CR LF), stores its
 * length and returns the start of the next line. Returns NULL for a line
 * holding a NUL (strchr stops there) or a bare CR. */
static char *hp_cut_line(char *s, size_t *len_out)
{
    char *nl = strchr(s, '\n');
    if (!nl)
        return NULL;
    size_t n = (size_t)(nl - s);
    if (n > 0 && s[n - 1] == '\r')
        n--;
    s[n] = '\0';
    *nl = '\0';
    if (memchr(s, '\r', n))
        return NULL;
    *len_out = n;
    return nl + 1;
}

/* Splits the request target into path and query. Origin form ("/p?q") is
 * the norm; absolute form must be accepted too (RFC 9112 §3.2.2), and
 * asterisk form only for OPTIONS. */
static int hp_split_target(struct http_msg *m, char *target)
{
    if (strcmp(target, "*") == 0) {
        m->path = target;
        m->query = target + 1;
        return strcmp(m->method, "OPTIONS") == 0 ? 0 : 400;
    }
    if (strncasecmp(target, "http://", 7) == 0 || strncasecmp(target, "https://", 8) == 0) {
        char *rest = strpbrk(strstr(target, "://") + 3, "/?");
        if (!rest || *rest == '?') {
            m->path = "/";
            m->query = rest ? rest + 1 : "";
            return 0;
        }
        target = rest;
    }
    if (target[0] != '/')
        return 400;
    m->path = target;
    char *q = strchr(target, '?');
    if (q) {
        *q = '\0';
        m->query = q + 1;
    } else {
        m->query = target + strlen(target);
    }
    return 0;
}

/* method SP request-target SP HTTP-version, with exactly one space each. */
static int hp_parse_request_line(struct http_msg *m, char *line)
{
    char *sp1 = strchr(line, ' ');
    char *target = sp1 ? sp1 + 1 : NULL;
    char *sp2 = target ? strchr(target, ' ') : NULL;
    if (!sp2 || sp2 == target)
        return 400;
    *sp1 = *sp2 = '\0';
    const char *version = sp2 + 1;
    if (!hp_is_token(line))
        return 400;
    for (const char *c = target; *c; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
            return 400;
    bool shaped = strlen(version) == 8 && strncmp(version, "HTTP/", 5) == 0 && version[5] >= '0' &&
                  version[5] <= '9' && version[6] == '.' && version[7] >= '0' && version[7] <= '9';
    if (!shaped)
        return 400;
    if (version[5] != '1')
        return 505;
    /* Any HTTP/1.x above 1.0 is served as 1.1 (RFC 9110 §2.5). */
    m->http10 = version[7] == '0';
    m->method = line;
    return hp_split_target(m, target);
}

/* field-name ":" OWS field-value OWS */
static int hp_parse_header_line(char *line, struct tm_http_header *h)
{
    /* Obsolete line folding: RFC 9112 §5.2 lets a server reject it. */
    if (line[0] == ' ' || line[0] == '\t')
        return 400;
    char *colon = strchr(line, ':');
    if (!colon)
        return 400;
    *colon = '\0';
    /* A token check also rejects whitespace before the colon (§5.1). */
    if (!hp_is_token(line))
        return 400;
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    char *e = v + strlen(v);
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *e = '\0';
    for (const char *c = v; *c; c++) {
        unsigned char u = (unsigned char)*c;
        if ((u < 0x20 && u != '\t') || u == 0x7f)
            return 400;
    }
    h->name = line;
    h->value = v;
    return 0;
}

/* Splits the complete head (len bytes, NUL after them) into the request
 * line and the header array. */
static int hp_parse_head(struct http_msg *m, size_t len)
{
    size_t nlines = 0;
    for (size_t i = 0; i < len; i++)
        nlines += m->head[i] == '\n';
    /* The request line and the final empty line are not headers. */
    size_t cap = nlines - 2;
    if (cap > HTTP_MAX_HEADERS)
        return 431;
    if (cap > 0 && !(m->headers = calloc(cap, sizeof *m->headers)))
        return 500;
    size_t n;
    char *line = m->head;
    char *next = hp_cut_line(line, &n);
    if (!next)
        return 400;
    int status = hp_parse_request_line(m, line);
    for (line = next; status == 0; line = next) {
        if (!(next = hp_cut_line(line, &n)))
            return 400;
        if (n == 0)
            break;
        status = hp_parse_header_line(line, &m->headers[m->nheaders++]);
    }
    return status;
}

/* Content-Length: 1*DIGIT. Values past 2^64 saturate; they exceed any
 * max_body, so the request ends as too_large rather than malformed. */
static bool hp_parse_length(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
    }
    *out = v;
    return true;
}

/* True if the comma-separated list holds token, compared case-insensitively. */
static bool hp_list_has(const char *list, const char *token)
{
    size_t tlen = strlen(token);
    while (*list) {
        while (*list == ' ' || *list == '\t' || *list == ',')
            list++;
        size_t n = strcspn(list, ",");
        size_t k = n;
        while (k > 0 && (list[k - 1] == ' ' || list[k - 1] == '\t'))
            k--;
        if (k == tlen && strncasecmp(list, token, tlen) == 0)
            return true;
        list += n;
    }
    return false;
}

struct hp_framing {
    bool chunked;
    bool has_length;
    uint64_t length;
};

/* Reads the headers that decide framing and connection reuse. */
static int hp_read_framing(struct http_msg *m, struct hp_framing *f)
{
    bool close = false, keep = false;
    for (size_t i = 0; i < m->nheaders; i++) {
        const struct tm_http_header *h = &m->headers[i];
        if (strcasecmp(h->name, "Content-Length") == 0) {
            uint64_t v;
            if (!hp_parse_length(h->value, &v) || (f->has_length && v != f->length))
                return 400;
            f->has_length = true;
            f->length = v;
        } else if (strcasecmp(h->name, "Transfer-Encoding") == 0) {
            /* Only plain "chunked" is supported; chunked twice is malformed. */
            if (strcasecmp(h->value, "chunked") != 0)
                return 501;
            if (f->chunked)
                return 400;
            f->chunked = true;
        } else if (strcasecmp(h->name, "Connection") == 0) {
            close = close || hp_list_has(h->value, "close");
            keep = keep || hp_list_has(h->value, "keep-alive");
        } else if (strcasecmp(h->name, "Expect") == 0) {
            m->expect_continue = strcasecmp(h->value, "100-continue") == 0;
        }
    }
    /* Both framings at once is the classic smuggling vector (RFC 9112 §6.3). */
    if (f->chunked && f->has_length)
        return 400;
    m->keep_alive = !close && (!m->http10 || keep);
    return 0;
}

static int hp_too_large(struct http_parser *p)
{
    tm_buf_free(&p->body);
    p->msg.too_large = true;
    p->msg.keep_alive = false;
    p->state = HP_DONE;
    return HTTP_PARSE_DONE;
}

/* The request is complete: hand the body over, NUL-terminated. */
static int hp_finish(struct http_parser *p)
{
    if (p->body.data) {
        if (tm_buf_reserve(&p->body, 1))
            return hp_fail(p, 500);
        p->body.data[p->body.len] = '\0';
        p->msg.body = (char *)tm_buf_steal(&p->body, &p->msg.body_len);
    }
    p->state = HP_DONE;
    return HTTP_PARSE_DONE;
}

static int hp_head_complete(struct http_parser *p)
{
    struct http_msg *m = &p->msg;
    size_t len = p->head.len;
    if (tm_buf_append(&p->head, "", 1))
        return hp_fail(p, 500);
    size_t stolen;
    m->head = (char *)tm_buf_steal(&p->head, &stolen);
    struct hp_framing f = {0};
    int status = hp_parse_head(m, len);
    if (status == 0)
        status = hp_read_framing(m, &f);
    if (status)
        return hp_fail(p, status);
    if (f.chunked) {
        p->state = HP_CHUNK_SIZE;
        return HTTP_PARSE_MORE;
    }
    if (f.length > p->max_body)
        return hp_too_large(p);
    if (f.length == 0)
        return hp_finish(p);
    /* Reserved whole up front: the length is known and within max_body. */
    if (tm_buf_reserve(&p->body, (size_t)f.length + 1))
        return hp_fail(p, 500);
    p->remaining = f.length;
    p->state = HP_BODY_LEN;
    return HTTP_PARSE_MORE;
}

/* Takes bytes up to and including one LF into the head. */
static int hp_step_head(struct http_parser *p, const char *d, size_t n, size_t *used)
{
    size_t i = 0;
    /* RFC 9112 §2.2: ignore empty lines before a request line; some clients
     * send a stray CRLF after a POST body. */
    if (p->head.len == 0)
        while (i < n && (d[i] == '\r' || d[i] == '\n'))
            i++;
    *used = i;
    if (i == n)
        return HTTP_PARSE_MORE;
    const char *nl = memchr(d + i, '\n', n - i);
    size_t take = nl ? (size_t)(nl - (d + i)) + 1 : n - i;
    if (p->head.len + take > HTTP_MAX_HEAD)
        return hp_fail(p, 431);
    if (tm_buf_append(&p->head, d + i, take))
        return hp_fail(p, 500);
    *used = i + take;
    if (!nl)
        return HTTP_PARSE_MORE;
    const char *line = (const char *)p->head.data + p->line_start;
    size_t line_len = p->head.len - p->line_start - 1;
    if (line_len == 0 || (line_len == 1 && line[0] == '\r'))
        return hp_head_complete(p);
    p->line_start = p->head.len;
    return HTTP_PARSE_MORE;
}

static int hp_step_body_len(struct http_parser *p, const char *d, size_t n, size_t *used)
{
    size_t take = n < p->remaining ? n : (size_t)p->remaining;
    if (tm_buf_append(&p->body, d, take))
        return hp_fail(p, 500);
    p->remaining -= take;
    *used = take;
    return p->remaining ? HTTP_PARSE_MORE : hp_finish(p);
}

/* Collects one short line into p->line; *done once its LF arrived, with the
 * line NUL-terminated and CR stripped. */
static int hp_collect_line(struct http_parser *p, const char *d, size_t n, size_t *used, bool *done)
{
    const char *nl = memchr(d, '\n', n);
    size_t take = nl ? (size_t)(nl - d) + 1 : n;
    *used = take;
    *done = nl != NULL;
    if (p->line_len + take >= sizeof p->line)
        return hp_fail(p, 400);
    memcpy(p->line + p->line_len, d, take);
    p->line_len += take;
    if (!nl)
        return 0;
    size_t len = p->line_len - 1;
    if (len > 0 && p->line[len - 1] == '\r')
        len--;
    p->line[len] = '\0';
    p->line_len = 0;
    return memchr(p->line, '\r', len) ? hp_fail(p, 400) : 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* chunk-size [BWS ";" chunk-ext] CRLF; extensions are ignored. */
static int hp_step_chunk_size(struct http_parser *p, const char *d, size_t n, size_t *used)
{
    bool done;
    int rc = hp_collect_line(p, d, n, used, &done);
    if (rc || !done)
        return rc;
    uint64_t size = 0;
    const char *s = p->line;
    for (; hex_value(*s) >= 0; s++) {
        if (s - p->line >= 15) /* keeps size below 2^60: no overflow below */
            return hp_fail(p, 400);
        size = size * 16 + (uint64_t)hex_value(*s);
    }
    while (*s == ' ' || *s == '\t')
        s++;
    if (s == p->line || (*s && *s != ';'))
        return hp_fail(p, 400);
    if (size == 0) {
        p->state = HP_TRAILER;
        return HTTP_PARSE_MORE;
    }
    if (p->body.len + size > p->max_body)
        return hp_too_large(p);
    p->remaining = size;
    p->state = HP_CHUNK_DATA;
    return HTTP_PARSE_MORE;
}

static int hp_step_chunk_data(struct http_parser *p, const char *d, size_t n, size_t *used)
{
    size_t take = n < p->remaining ? n : (size_t)p->remaining;
    if (tm_buf_append(&p->body, d, take))
        return hp_fail(p, 500);
    p->remaining -= take;
    *used = take;
    if (p->remaining == 0)
        p->state = HP_CHUNK_CRLF;
    return HTTP_PARSE_MORE;
}

static int hp_step_chunk_crlf(struct http_parser *p, const char *d, size_t n, size_t *used)
{
    bool done;
    int rc = hp_collect_line(p, d, n, used, &done);
    if (rc || !done)
        return rc;
    if (p->line[0] != '\0')
        return hp_fail(p, 400);
    p->state = HP_CHUNK_SIZE;
    return HTTP_PARSE_MORE;
}

/* Trailer fields are counted against the head limit and dropped: nothing
 * in our API needs them. Only a line's first byte is kept, to spot the
 * empty line (LF or CR LF) that ends the message. */
static int hp_step_trailer(struct http_parser *p, const char *d, size_t n, size_t *used)
{
    const char *nl = memchr(d, '\n', n);
    size_t take = nl ? (size_t)(nl - d) + 1 : n;
    *used = take;
    p->trailer_len += take;
    if (p->trailer_len > HTTP_MAX_HEAD)
        return hp_fail(p, 431);
    if (p->line_len == 0 && take > 0)
        p->line[0] = d[0];
    p->line_len += take;
    if (!nl)
        return HTTP_PARSE_MORE;
    bool empty = p->line_len == 1 || (p->line_len == 2 && p->line[0] == '\r');
    p->line_len = 0;
    return empty ? hp_finish(p) : HTTP_PARSE_MORE;
}

static int hp_step(struct http_parser *p, const char *d, size_t n, size_t *used)
{
    *used = 0;
    switch (p->state) {
    case HP_HEAD:
        return hp_step_head(p, d, n, used);
    case HP_BODY_LEN:
        return hp_step_body_len(p, d, n, used);
    case HP_CHUNK_SIZE:
        return hp_step_chunk_size(p, d, n, used);
    case HP_CHUNK_DATA:
        return hp_step_chunk_data(p, d, n, used);
    case HP_CHUNK_CRLF:
        return hp_step_chunk_crlf(p, d, n, used);
    case HP_TRAILER:
        return hp_step_trailer(p, d, n, used);
    case HP_DONE:
        return HTTP_PARSE_DONE;
    case HP_ERROR:
        break;
    }
    return p->error;
}

int http_parser_feed(struct http_parser *p, const char *data, size_t len, size_t *used_out)
{
    size_t off = 0;
    int rc = p->state == HP_DONE ? HTTP_PARSE_DONE : p->state == HP_ERROR ? p->error : 0;
    while (rc == HTTP_PARSE_MORE && off < len) {
        size_t used = 0;
        bool in_body = p->state != HP_HEAD;
        rc = hp_step(p, data + off, len - off, &used);
        off += used;
        if (in_body)
            p->body_seen += used;
    }
    *used_out = off;
    return rc;
}

bool http_parser_wants_continue(const struct http_parser *p)
{
    bool in_body = p->state == HP_BODY_LEN || p->state == HP_CHUNK_SIZE;
    return in_body && p->msg.expect_continue && p->body_seen == 0;
}

void http_parser_take(struct http_parser *p, struct http_msg *msg_out)
{
    *msg_out = p->msg;
    memset(&p->msg, 0, sizeof p->msg);
    hp_reset(p);
}

void http_msg_request(const struct http_msg *msg, struct tm_http_request *req_out)
{
    memset(req_out, 0, sizeof *req_out);
    req_out->method = msg->method ? msg->method : "";
    req_out->path = msg->path ? msg->path : "";
    req_out->query = msg->query ? msg->query : "";
    req_out->nheaders = msg->nheaders;
    req_out->headers = msg->headers;
    req_out->too_large = msg->too_large;
    req_out->http10 = msg->http10;
    if (!msg->too_large) {
        req_out->body = msg->body ? msg->body : "";
        req_out->body_len = msg->body_len;
    }
}

const char *tm_http_request_header(const struct tm_http_request *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}
