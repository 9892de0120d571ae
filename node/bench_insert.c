/* `tidemark bench insert`: insert throughput and latency against a running
 * server, over real HTTP/1.1 keep-alive connections.
 *
 * Each client thread owns one connection and sends insert requests of
 * --batch rows of --dim float32 values back to back, for --seconds or
 * --requests per client, whichever ends first. Latency is measured from the
 * first byte sent to the last byte of the response. Reported: rows/s,
 * requests/s, p50/p99/max latency, and errors (a non-zero Milvus code counts
 * as an error, and the first one is printed).
 */
#include "tm_time.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int tm_bench_main(int argc, char **argv);

struct bench_cfg {
    const char *host;
    int port;
    const char *collection;
    int dim, batch, clients, seconds, requests;
};

struct client {
    const struct bench_cfg *cfg;
    int id;
    uint64_t *lat_ns; /* one per request */
    int nlat, errors;
    char first_error[256];
};

struct conn {
    int fd;
    char *buf;
    size_t cap;
};

static int conn_open(struct conn *c, const char *host, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {60, 0};
    int one = 1;
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0)
        return -1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa)) {
        close(c->fd);
        return -1;
    }
    c->cap = 1 << 16;
    c->buf = malloc(c->cap);
    return c->buf ? 0 : -1;
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* POSTs body to path; leaves the response body NUL-terminated in c->buf. */
static int http_post(struct conn *c, const char *host, int port, const char *path, const char *body,
                     size_t len, char **resp_body)
{
    char head[512];
    int hn = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      path, host, port, len);
    if (send_all(c->fd, head, (size_t)hn) || send_all(c->fd, body, len))
        return -1;
    size_t got = 0, need = 0, head_end = 0;
    for (;;) {
        if (got + 1 >= c->cap) {
            char *grown = realloc(c->buf, c->cap * 2);
            if (!grown)
                return -1;
            c->buf = grown;
            c->cap *= 2;
        }
        ssize_t k = recv(c->fd, c->buf + got, c->cap - got - 1, 0);
        if (k <= 0)
            return -1;
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
    *resp_body = c->buf + head_end;
    return 0;
}

/* A request body of `batch` rows with ids from first_id, reusing pre-printed vectors. */
static size_t build_body(char *out, const struct bench_cfg *cfg, const char *vec_text,
                         int64_t first_id)
{
    size_t n = (size_t)sprintf(out, "{\"collectionName\":\"%s\",\"data\":[", cfg->collection);
    for (int i = 0; i < cfg->batch; i++)
        n += (size_t)sprintf(out + n, "%s{\"id\":%lld,\"vector\":%s}", i ? "," : "",
                             (long long)(first_id + i), vec_text);
    n += (size_t)sprintf(out + n, "]}");
    return n;
}

static char *vector_text(int dim, unsigned seed)
{
    char *t = malloc((size_t)dim * 16 + 8);
    size_t n = 0;
    t[n++] = '[';
    for (int i = 0; i < dim; i++)
        n += (size_t)sprintf(t + n, "%s%.6f", i ? "," : "",
                             (double)(rand_r(&seed) % 20000) / 10000.0 - 1.0);
    t[n++] = ']';
    t[n] = '\0';
    return t;
}

static void *client_main(void *arg)
{
    struct client *cl = arg;
    const struct bench_cfg *cfg = cl->cfg;
    struct conn c = {.fd = -1};
    char *vec = vector_text(cfg->dim, (unsigned)cl->id * 7919u + 1);
    char *body = malloc((size_t)cfg->batch * (strlen(vec) + 48) + 256);
    if (!vec || !body || conn_open(&c, cfg->host, cfg->port)) {
        snprintf(cl->first_error, sizeof cl->first_error, "cannot connect to %s:%d", cfg->host,
                 cfg->port);
        cl->errors++;
        goto out;
    }
    uint64_t end = tm_mono_ns() + (uint64_t)cfg->seconds * 1000000000ull;
    int64_t next_id = (int64_t)cl->id << 40;
    for (int r = 0; r < cfg->requests && tm_mono_ns() < end; r++) {
        size_t len = build_body(body, cfg, vec, next_id);
        next_id += cfg->batch;
        char *resp;
        uint64_t t0 = tm_mono_ns();
        int rc =
            http_post(&c, cfg->host, cfg->port, "/v2/vectordb/entities/insert", body, len, &resp);
        cl->lat_ns[cl->nlat++] = tm_mono_ns() - t0;
        if (rc || !strstr(resp, "\"code\":0")) {
            if (!cl->errors)
                snprintf(cl->first_error, sizeof cl->first_error, "%.200s",
                         rc ? "connection failed" : resp);
            cl->errors++;
            if (rc)
                break;
        }
    }
out:
    conn_close(&c);
    free(vec);
    free(body);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int create_collection(const struct bench_cfg *cfg)
{
    struct conn c = {.fd = -1};
    char body[512], *resp;
    int rc = conn_open(&c, cfg->host, cfg->port);
    int n = snprintf(body, sizeof body, "{\"collectionName\":\"%s\"}", cfg->collection);
    if (!rc)
        rc = http_post(&c, cfg->host, cfg->port, "/v2/vectordb/collections/drop", body, (size_t)n,
                       &resp);
    n = snprintf(body, sizeof body,
                 "{\"collectionName\":\"%s\",\"dimension\":%d,\"metricType\":\"L2\"}",
                 cfg->collection, cfg->dim);
    if (!rc)
        rc = http_post(&c, cfg->host, cfg->port, "/v2/vectordb/collections/create", body, (size_t)n,
                       &resp);
    if (!rc && !strstr(resp, "\"code\":0")) {
        fprintf(stderr, "bench: create collection failed: %s\n", resp);
        rc = -1;
    }
    conn_close(&c);
    return rc;
}

static void report(const struct bench_cfg *cfg, struct client *cls, double secs)
{
    int total = 0, errors = 0;
    for (int i = 0; i < cfg->clients; i++)
        total += cls[i].nlat, errors += cls[i].errors;
    uint64_t *all = malloc((size_t)(total ? total : 1) * sizeof *all);
    int k = 0;
    for (int i = 0; i < cfg->clients; i++)
        for (int j = 0; j < cls[i].nlat; j++)
            all[k++] = cls[i].lat_ns[j];
    qsort(all, (size_t)total, sizeof *all, cmp_u64);
    double p50 = total ? (double)all[total / 2] / 1e6 : 0;
    double p99 = total ? (double)all[(size_t)((double)total * 0.99)] / 1e6 : 0;
    double max = total ? (double)all[total - 1] / 1e6 : 0;
    printf("insert dim=%d batch=%d clients=%d: %d requests in %.2f s, %.0f rows/s, %.0f "
           "requests/s, latency p50 %.2f ms p99 %.2f ms max %.2f ms, errors %d\n",
           cfg->dim, cfg->batch, cfg->clients, total, secs,
           (double)(total - errors) * cfg->batch / secs, (double)total / secs, p50, p99, max,
           errors);
    for (int i = 0; i < cfg->clients; i++)
        if (cls[i].errors) {
            printf("first error: %s\n", cls[i].first_error);
            break;
        }
    free(all);
}

static const char g_bench_usage[] =
    "usage: tidemark bench insert [--host 127.0.0.1] [--port 19530] [--dim 128] [--batch 1]\n"
    "                             [--clients 8] [--seconds 10] [--requests 1000000]\n"
    "                             [--collection tm_bench]\n"
    "Drops and re-creates the collection, then inserts from --clients connections.\n";

int tm_bench_main(int argc, char **argv)
{
    static const struct option opts[] = {{"host", required_argument, 0, 'h'},
                                         {"port", required_argument, 0, 'p'},
                                         {"dim", required_argument, 0, 'd'},
                                         {"batch", required_argument, 0, 'b'},
                                         {"clients", required_argument, 0, 'c'},
                                         {"seconds", required_argument, 0, 's'},
                                         {"requests", required_argument, 0, 'r'},
                                         {"collection", required_argument, 0, 'n'},
                                         {0, 0, 0, 0}};
    struct bench_cfg cfg = {"127.0.0.1", 19530, "tm_bench", 128, 1, 8, 10, 1000000};
    if (argc < 2 || strcmp(argv[1], "insert") != 0) {
        fputs(g_bench_usage, argc < 2 ? stderr : stdout);
        return argc < 2 || strcmp(argv[1], "--help") ? 2 : 0;
    }
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            cfg.host = optarg;
            break;
        case 'p':
            cfg.port = atoi(optarg);
            break;
        case 'd':
            cfg.dim = atoi(optarg);
            break;
        case 'b':
            cfg.batch = atoi(optarg);
            break;
        case 'c':
            cfg.clients = atoi(optarg);
            break;
        case 's':
            cfg.seconds = atoi(optarg);
            break;
        case 'r':
            cfg.requests = atoi(optarg);
            break;
        case 'n':
            cfg.collection = optarg;
            break;
        default:
            fputs(g_bench_usage, stderr);
            return 2;
        }
    }
    if (cfg.dim < 2 || cfg.batch < 1 || cfg.clients < 1 || cfg.clients > 1024 || cfg.seconds < 1 ||
        cfg.requests < 1) {
        fputs(g_bench_usage, stderr);
        return 2;
    }
    if (create_collection(&cfg))
        return 1;
    struct client *cls = calloc((size_t)cfg.clients, sizeof *cls);
    pthread_t *th = calloc((size_t)cfg.clients, sizeof *th);
    size_t max_req = (size_t)cfg.requests < 10000000 ? (size_t)cfg.requests : 10000000;
    uint64_t t0 = tm_mono_ns();
    for (int i = 0; i < cfg.clients; i++) {
        cls[i] =
            (struct client){.cfg = &cfg, .id = i + 1, .lat_ns = malloc(max_req * sizeof(uint64_t))};
        pthread_create(&th[i], NULL, client_main, &cls[i]);
    }
    for (int i = 0; i < cfg.clients; i++)
        pthread_join(th[i], NULL);
    report(&cfg, cls, (double)(tm_mono_ns() - t0) / 1e9);
    for (int i = 0; i < cfg.clients; i++)
        free(cls[i].lat_ns);
    free(cls);
    free(th);
    return 0;
}
