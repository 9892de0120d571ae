/* A one-way message stream over nng pub/sub (see tm_stream.h). */
#include "tm_stream.h"
#include "tm_log.h"
#include "tm_nng.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <stdlib.h>
#include <string.h>

/* Messages a slow subscriber may have queued before the publisher drops
 * for it (a dropped message is a gap the subscriber catches up on). */
#define PUB_QUEUE 256
#define SUB_QUEUE 1024

struct tm_stream_pub {
    nng_socket sock;
};

struct tm_stream_sub {
    nng_socket sock;
    int timeout_ms; /* the socket's receive timeout now */
};

int tm_stream_pub_open(struct tm_stream_pub **out, const char *url)
{
    struct tm_stream_pub *p = calloc(1, sizeof *p);
    if (!p)
        return TM_ENOMEM;
    int rv = nng_pub0_open(&p->sock);
    if (!rv)
        rv = nng_socket_set_int(p->sock, NNG_OPT_SENDBUF, PUB_QUEUE);
    if (!rv)
        rv = nng_listen(p->sock, url, NULL, 0);
    if (rv) {
        TM_ERROR("stream", "cannot listen on %s: %s", url, nng_strerror(rv));
        nng_close(p->sock);
        free(p);
        return tm_nng_err(rv);
    }
    *out = p;
    return 0;
}

void tm_stream_pub_close(struct tm_stream_pub *p)
{
    if (!p)
        return;
    nng_close(p->sock);
    free(p);
}

int tm_stream_pub_send(struct tm_stream_pub *p, const void *data, size_t len)
{
    nng_msg *m;
    int rv = nng_msg_alloc(&m, len);
    if (rv)
        return tm_nng_err(rv);
    memcpy(nng_msg_body(m), data, len);
    rv = nng_sendmsg(p->sock, m, NNG_FLAG_NONBLOCK);
    if (rv)
        nng_msg_free(m);
    return tm_nng_err(rv);
}

static int sub_dial(struct tm_stream_sub *s, const char *urls)
{
    int rc = 0, more;
    char url[TM_URL_MAX];
    for (const char *u = urls; !rc && (more = tm_url_next(&u, url)) != 0;) {
        int rv = more < 0 ? 0 : nng_dial(s->sock, url, NULL, NNG_FLAG_NONBLOCK);
        if (rv)
            TM_ERROR("stream", "cannot dial %s: %s", url, nng_strerror(rv));
        rc = more < 0 ? more : tm_nng_err(rv);
    }
    return rc;
}

int tm_stream_sub_open(struct tm_stream_sub **out, const char *urls)
{
    struct tm_stream_sub *s = calloc(1, sizeof *s);
    if (!s)
        return TM_ENOMEM;
    int rv = nng_sub0_open(&s->sock);
    if (!rv)
        rv = nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, TM_STREAM_MAX_MSG);
    if (!rv)
        rv = nng_socket_set_int(s->sock, NNG_OPT_RECVBUF, SUB_QUEUE);
    if (!rv)
        rv = nng_socket_set(s->sock, NNG_OPT_SUB_SUBSCRIBE, "", 0);
    if (!rv)
        rv = nng_socket_set_ms(s->sock, NNG_OPT_RECONNMINT, 20);
    if (!rv)
        rv = nng_socket_set_ms(s->sock, NNG_OPT_RECONNMAXT, 500);
    int rc = tm_nng_err(rv);
    if (!rc)
        rc = sub_dial(s, urls);
    if (rc) {
        nng_close(s->sock);
        free(s);
        return rc;
    }
    s->timeout_ms = -2; /* set before the first receive */
    *out = s;
    return 0;
}

void tm_stream_sub_shutdown(struct tm_stream_sub *s)
{
    nng_close(s->sock);
}

void tm_stream_sub_close(struct tm_stream_sub *s)
{
    if (!s)
        return;
    nng_close(s->sock);
    free(s);
}

int tm_stream_sub_recv(struct tm_stream_sub *s, int timeout_ms, struct tm_stream_msg *out)
{
    if (timeout_ms < 0)
        timeout_ms = NNG_DURATION_INFINITE;
    if (timeout_ms != s->timeout_ms) {
        int rv = nng_socket_set_ms(s->sock, NNG_OPT_RECVTIMEO, timeout_ms);
        if (rv)
            return tm_nng_err(rv);
        s->timeout_ms = timeout_ms;
    }
    nng_msg *m;
    int rv = nng_recvmsg(s->sock, &m, 0);
    if (rv)
        return tm_nng_err(rv);
    *out = (struct tm_stream_msg){m, nng_msg_body(m), nng_msg_len(m)};
    return 0;
}

void tm_stream_msg_free(struct tm_stream_msg *m)
{
    nng_msg_free(m->msg);
    m->msg = NULL;
}
