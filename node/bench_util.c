/* Helpers shared by the benchmarks (bench_util.h). */
#include "bench_util.h"

#include "distance.h"
#include "tm_err.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/time.h>
#include <unistd.h>

uint64_t tm_bench_rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

float tm_bench_rng_float(uint64_t *s)
{
    return (float)(tm_bench_rng_next(s) >> 40) / 16777216.0f;
}

int tm_bench_schema(struct tm_schema *sc, const struct tm_bench_field *defs, int n, uint32_t dim,
                    int64_t max_length)
{
    struct tm_status st = {0};
    memset(sc, 0, sizeof *sc);
    sc->fields = calloc((size_t)n, sizeof *sc->fields);
    if (!sc->fields)
        return TM_ENOMEM;
    sc->nfields = (size_t)n;
    for (int i = 0; i < n; i++) {
        struct tm_field *f = &sc->fields[i];
        snprintf(f->name, TM_NAME_MAX, "%s", defs[i].name);
        f->type = defs[i].type;
        f->primary = i == 0;
        if (tm_dtype_is_vector(f->type))
            f->dim = dim;
        if (f->type == TM_T_VARCHAR)
            f->max_length = max_length;
    }
    int rc = tm_schema_validate(sc, &st);
    if (rc)
        fprintf(stderr, "bench: schema: %s\n", st.msg);
    return rc;
}

bool tm_bench_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    *out = (uint32_t)v;
    return end != s && !*end && v >= lo && v <= hi;
}

int tm_bench_parse_list(const char *s, uint32_t *out, int max, uint32_t lo, uint32_t hi)
{
    int n = 0;
    for (;;) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (end == s || v < lo || v > hi || n == max || (*end && *end != ','))
            return -1;
        out[n++] = (uint32_t)v;
        if (!*end)
            return n;
        s = end + 1;
    }
}

void tm_bench_print_machine(int argc, char **argv)
{
    char model[256] = "unknown", line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0 && strchr(line, ':')) {
            snprintf(model, sizeof model, "%s", strchr(line, ':') + 2);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    if (f)
        fclose(f);
    double load[1] = {0};
    if (getloadavg(load, 1) < 1)
        load[0] = -1;
    printf("command:");
    for (int i = -1; i < argc; i++)
        printf(" %s", i < 0 ? "tidemark" : argv[i]);
    printf("\nmachine: nproc %ld, %s, loadavg %.2f\n", sysconf(_SC_NPROCESSORS_ONLN), model,
           load[0]);
}

int tm_bench_connect(struct tm_bench_conn *c, const char *host, int port, int timeout_s)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {timeout_s, 0};
    int one = 1;
    c->fd = -1;
    c->buf = NULL;
    c->cap = 0;
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return TM_EINVAL;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0)
        return -errno;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    /* On failure the socket stays in c->fd for tm_bench_conn_close. */
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa))
        return -errno;
    c->cap = 1 << 16;
    c->buf = malloc(c->cap);
    return c->buf ? 0 : TM_ENOMEM;
}

void tm_bench_conn_close(struct tm_bench_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    c->fd = -1;
    c->buf = NULL;
    c->cap = 0;
}

/* Sends head and body, in one segment when they fit (as HTTP clients send a
 * small request), whatever the kernel takes at a time. */
static int send_request(int fd, const char *head, size_t hn, const char *body, size_t len)
{
    struct iovec v[2] = {{(void *)head, hn}, {(void *)body, len}};
    struct msghdr m = {.msg_iov = v, .msg_iovlen = 2};
    while (v[0].iov_len + v[1].iov_len) {
        ssize_t k = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (k <= 0)
            return k < 0 ? -errno : -ECONNRESET;
        for (int i = 0; i < 2; i++) {
            size_t used = (size_t)k < v[i].iov_len ? (size_t)k : v[i].iov_len;
            v[i].iov_base = (char *)v[i].iov_base + used;
            v[i].iov_len -= used;
            k -= (ssize_t)used;
        }
    }
    return 0;
}

/* Reads one response into c->buf, growing it, until the head and
 * Content-Length bytes of body have arrived; the body's offset into
 * *body_at. */
static int recv_response(struct tm_bench_conn *c, size_t *body_at)
{
    size_t got = 0, need = 0, head_end = 0;
    for (;;) {
        if (got + 1 >= c->cap) {
            char *grown = realloc(c->buf, c->cap * 2);
            if (!grown)
                return TM_ENOMEM;
            c->buf = grown;
            c->cap *= 2;
        }
        ssize_t k = recv(c->fd, c->buf + got, c->cap - got - 1, 0);
        if (k <= 0)
            return k < 0 ? -errno : -ECONNRESET;
        got += (size_t)k;
        c->buf[got] = '\0';
        if (!head_end) {
            char *e = strstr(c->buf, "\r\n\r\n");
            char *cl = strcasestr(c->buf, "Content-Length:");
            if (!e || !cl)
                continue;
            head_end = (size_t)(e - c->buf) + 4;
            need = head_end + strtoul(cl + 15, NULL, 10);
        }
        if (got >= need)
            break;
    }
    *body_at = head_end;
    return 0;
}

int tm_bench_post(struct tm_bench_conn *c, const char *host, int port, const char *path,
                  const char *body, size_t len, char **resp_out)
{
    char head[512];
    size_t body_at = 0;
    int hn = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      path, host, port, len);
    if (hn < 0 || (size_t)hn >= sizeof head)
        return TM_EINVAL;
    int rc = send_request(c->fd, head, (size_t)hn, body, len);
    if (!rc)
        rc = recv_response(c, &body_at);
    if (!rc)
        *resp_out = c->buf + body_at;
    return rc;
}

bool tm_bench_kernel_ok(const char *tool, const char *name)
{
    if (tm_kernels_by_name(name))
        return true;
    fprintf(stderr, "%s: kernel set '%s' is not compiled in or not run by this CPU\n", tool, name);
    return false;
}
