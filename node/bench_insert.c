/* `tidemark bench insert` and `tidemark bench upsert`: write throughput and
 * latency against a running server, over real HTTP/1.1 keep-alive
 * connections.
 *
 * Each client owns one connection and sends requests of --batch rows of
 * --dim float32 values back to back, for --seconds or --requests per
 * client, whichever ends first; one thread drives them all (bench_loop.h). Latency is measured from
 * the first byte sent to the last byte of the response. Reported: rows/s, requests/s, p50/p99/max
 * latency, and errors (a non-zero Milvus code counts as an error, and the first one is printed).
 *
 * insert: a quick-setup collection (id, vector, dynamic field); every row
 * has a fresh key.
 *
 * upsert: a collection of Int64 pk `id`, FloatVector `vector` and Int64 `n`
 * (default 0). The fraction --existing of the requests names keys that
 * exist: a pool of keys inserted before the clock starts, split evenly among
 * the clients, each cycling through its share (so no request names a key
 * twice). The other requests create fresh keys. A request holds only
 * existing or only new keys, because a merge request must send the same
 * fields in every row (milvus-rest-v2.md §5.3) and a new key must carry the
 * vector; override mode uses the same key stream, so the two modes compare
 * like for like. Rows: override sends id, vector and n; merge
 * (partialUpdate) sends id and n, plus the vector for new keys. Latency is
 * reported per kind of request too: a merge of existing keys that leaves out
 * a required field costs the server a Strong read of the keys first.
 */
#include "bench_loop.h"
#include "bench_util.h"
#include "tm_err.h"
#include "tm_time.h"

#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tm_bench_main(int argc, char **argv);
int tm_bench_search_main(int argc, char **argv);
int tm_bench_flush_main(int argc, char **argv);
int tm_bench_ann_main(int argc, char **argv);
int tm_bench_http_search_main(int argc, char **argv);

#define BENCH_MAX_PORTS 16

enum bench_mode { MODE_INSERT, MODE_OVERRIDE, MODE_MERGE };

struct bench_cfg {
    const char *host;
    int port; /* ports[0]: where the collection is made and the pool loaded */
    int ports[BENCH_MAX_PORTS], nports;
    const char *collection;
    int dim, batch, clients, seconds, requests;
    enum bench_mode mode;
    double existing; /* upsert: fraction of requests on existing keys */
    int64_t pool;    /* upsert: keys inserted before the clock starts */
};

struct client {
    const struct bench_cfg *cfg;
    int id;               /* from 1 */
    uint64_t *lat_ns;     /* one per request */
    uint8_t *on_existing; /* one per request: it named existing keys */
    int nlat, lat_cap, errors;
    char first_error[256];
    int64_t next_new;                   /* the next fresh key */
    int64_t pool_lo, pool_n, pool_next; /* this client's share of the pool */
    double credit;                      /* requests owed to existing keys */
    /* the timed run's request buffers (client_prepare), its end, and
     * whether the request in flight names existing keys */
    char *vec, *body;
    int64_t *ids;
    uint64_t end;
    bool old;
};

/* Send and receive timeout of a client connection. */
#define CONN_TIMEOUT_S 60

/* Appends one row; vec NULL leaves the vector out, n < 0 leaves n out. */
static size_t put_row(char *out, bool first, int64_t id, const char *vec, long long n)
{
    size_t k = (size_t)sprintf(out, "%s{\"id\":%lld", first ? "" : ",", (long long)id);
    if (vec)
        k += (size_t)sprintf(out + k, ",\"vector\":%s", vec);
    if (n >= 0)
        k += (size_t)sprintf(out + k, ",\"n\":%lld", n);
    out[k++] = '}';
    out[k] = '\0';
    return k;
}

/* A request body of nrows rows with the given keys, all sharing one
 * pre-printed vector (or none) and one value of n (or none). */
static size_t build_body(char *out, const char *coll, bool partial, const int64_t *ids, int nrows,
                         const char *vec, long long n)
{
    size_t len = (size_t)sprintf(out, "{\"collectionName\":\"%s\",%s\"data\":[", coll,
                                 partial ? "\"partialUpdate\":true," : "");
    for (int i = 0; i < nrows; i++)
        len += put_row(out + len, i == 0, ids[i], vec, n);
    len += (size_t)sprintf(out + len, "]}");
    return len;
}

static size_t body_cap(const struct bench_cfg *cfg, int nrows, size_t vec_len)
{
    return (size_t)nrows * (vec_len + 80) + strlen(cfg->collection) + 256;
}

static char *vector_text(int dim, unsigned seed)
{
    char *t = malloc((size_t)dim * 16 + 8);
    size_t n = 0;
    if (!t)
        return NULL;
    t[n++] = '[';
    for (int i = 0; i < dim; i++)
        n += (size_t)sprintf(t + n, "%s%.6f", i ? "," : "",
                             (double)(rand_r(&seed) % 20000) / 10000.0 - 1.0);
    t[n++] = ']';
    t[n] = '\0';
    return t;
}

static void client_error(struct client *cl, const char *what)
{
    if (!cl->errors)
        snprintf(cl->first_error, sizeof cl->first_error, "%.200s", what);
    cl->errors++;
}

/* The keys of the next upsert request: the client's next pool keys when the
 * running credit reaches a whole request, else fresh keys. Returns true for
 * existing keys. */
static bool next_keys(struct client *cl, int64_t *ids)
{
    const struct bench_cfg *cfg = cl->cfg;
    bool existing = false;
    cl->credit += cfg->existing;
    if (cl->pool_n > 0 && cl->credit >= 1.0 - 1e-9) {
        cl->credit -= 1.0;
        existing = true;
    }
    for (int i = 0; i < cfg->batch; i++) {
        if (existing) {
            ids[i] = cl->pool_lo + cl->pool_next;
            cl->pool_next = (cl->pool_next + 1) % cl->pool_n;
        } else {
            ids[i] = cl->next_new++;
        }
    }
    return existing;
}

/* The buffers of a client's requests; false when out of memory. */
static bool client_prepare(struct client *cl)
{
    const struct bench_cfg *cfg = cl->cfg;
    cl->vec = vector_text(cfg->dim, (unsigned)cl->id * 7919u + 1);
    cl->body = cl->vec ? malloc(body_cap(cfg, cfg->batch, strlen(cl->vec))) : NULL;
    cl->ids = malloc((size_t)cfg->batch * sizeof *cl->ids);
    return cl->body && cl->ids;
}

static void client_release(struct client *cl)
{
    free(cl->vec);
    free(cl->body);
    free(cl->ids);
}

/* bench_loop.h's next: client i's next request until its time or count
 * runs out. */
static bool client_next(void *arg, int i, struct tm_bench_req *req)
{
    struct client *cl = &((struct client *)arg)[i];
    const struct bench_cfg *cfg = cl->cfg;
    if (cl->nlat >= cl->lat_cap || tm_mono_ns() >= cl->end)
        return false;
    cl->old = false;
    if (cfg->mode == MODE_INSERT)
        for (int k = 0; k < cfg->batch; k++)
            cl->ids[k] = cl->next_new++;
    else
        cl->old = next_keys(cl, cl->ids);
    req->path =
        cfg->mode == MODE_INSERT ? "/v2/vectordb/entities/insert" : "/v2/vectordb/entities/upsert";
    req->body = cl->body;
    req->len = build_body(cl->body, cfg->collection, cfg->mode == MODE_MERGE, cl->ids, cfg->batch,
                          cfg->mode == MODE_MERGE && cl->old ? NULL : cl->vec,
                          cfg->mode == MODE_INSERT ? -1 : cl->nlat + 1);
    return true;
}

static void client_done(void *arg, int i, int rc, const char *body, uint64_t latency_ns)
{
    struct client *cl = &((struct client *)arg)[i];
    cl->lat_ns[cl->nlat] = latency_ns;
    cl->on_existing[cl->nlat++] = cl->old;
    char why[128];
    snprintf(why, sizeof why, "connection to %s:%d failed: %s", cl->cfg->host,
             cl->cfg->ports[i % cl->cfg->nports], tm_strerror(rc));
    if (rc || !strstr(body, "\"code\":0"))
        client_error(cl, rc ? why : body);
}

/* The timed run: every client on one event loop (bench_loop.h). */
static int run_timed(const struct bench_cfg *cfg, struct client *cls)
{
    static const struct tm_bench_client_ops ops = {client_next, client_done};
    uint64_t end = tm_mono_ns() + (uint64_t)cfg->seconds * 1000000000ull;
    for (int i = 0; i < cfg->clients; i++) {
        cls[i].errors = 0;
        cls[i].end = end;
        if (!client_prepare(&cls[i])) {
            fprintf(stderr, "bench: out of memory\n");
            return -1;
        }
    }
    int rc = tm_bench_loop_run(cfg->host, cfg->ports, cfg->nports, cfg->clients, CONN_TIMEOUT_S,
                               &ops, cls);
    if (rc)
        fprintf(stderr, "bench: cannot run the clients: %s\n", tm_strerror(rc));
    return rc;
}

/* Inserts this client's share of the key pool (upsert, before the clock
 * starts), in bodies of about 4 MiB at most. */
static void *preload_main(void *arg)
{
    struct client *cl = arg;
    const struct bench_cfg *cfg = cl->cfg;
    struct tm_bench_conn c = {.fd = -1};
    char *vec = vector_text(cfg->dim, (unsigned)cl->id * 7919u + 1);
    size_t vlen = vec ? strlen(vec) : 0;
    int chunk = (int)((4u << 20) / (vlen + 80));
    chunk = chunk < 1 ? 1 : chunk > 1000 ? 1000 : chunk;
    char *body = vec ? malloc(body_cap(cfg, chunk, vlen)) : NULL;
    int64_t *ids = malloc((size_t)chunk * sizeof *ids);
    if (!body || !ids || tm_bench_connect(&c, cfg->host, cfg->port, CONN_TIMEOUT_S)) {
        client_error(cl, "preload: out of memory or cannot connect");
        goto out;
    }
    for (int64_t k = 0; k < cl->pool_n;) {
        int n = 0;
        for (; n < chunk && k < cl->pool_n; n++, k++)
            ids[n] = cl->pool_lo + k;
        size_t len = build_body(body, cfg->collection, false, ids, n, vec, 0);
        char *resp;
        int rc = tm_bench_post(&c, cfg->host, cfg->port, "/v2/vectordb/entities/insert", body, len,
                               &resp);
        if (rc || !strstr(resp, "\"code\":0")) {
            client_error(cl, rc ? "preload: connection failed" : resp);
            break;
        }
    }
out:
    tm_bench_conn_close(&c);
    free(vec);
    free(body);
    free(ids);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* insert: the quick-setup collection. upsert: id, vector and n (default 0,
 * so a new key in a merge needs only the vector), indexed so that it loads
 * at create (a merge needs a loaded collection). */
static int create_body(const struct bench_cfg *cfg, char *body, size_t cap)
{
    if (cfg->mode == MODE_INSERT)
        return snprintf(body, cap,
                        "{\"collectionName\":\"%s\",\"dimension\":%d,\"metricType\":\"L2\"}",
                        cfg->collection, cfg->dim);
    return snprintf(body, cap,
                    "{\"collectionName\":\"%s\",\"schema\":{\"autoID\":false,"
                    "\"enableDynamicField\":false,\"fields\":["
                    "{\"fieldName\":\"id\",\"dataType\":\"Int64\",\"isPrimary\":true},"
                    "{\"fieldName\":\"vector\",\"dataType\":\"FloatVector\","
                    "\"elementTypeParams\":{\"dim\":%d}},"
                    "{\"fieldName\":\"n\",\"dataType\":\"Int64\",\"defaultValue\":0}]},"
                    "\"indexParams\":[{\"fieldName\":\"vector\",\"metricType\":\"L2\","
                    "\"indexType\":\"AUTOINDEX\"}]}",
                    cfg->collection, cfg->dim);
}

static int create_collection(const struct bench_cfg *cfg)
{
    struct tm_bench_conn c = {.fd = -1};
    char body[1024], *resp;
    int rc = tm_bench_connect(&c, cfg->host, cfg->port, CONN_TIMEOUT_S);
    int n = snprintf(body, sizeof body, "{\"collectionName\":\"%s\"}", cfg->collection);
    if (!rc)
        rc = tm_bench_post(&c, cfg->host, cfg->port, "/v2/vectordb/collections/drop", body,
                           (size_t)n, &resp);
    n = create_body(cfg, body, sizeof body);
    if (!rc && (n < 0 || (size_t)n >= sizeof body))
        rc = -1;
    if (!rc)
        rc = tm_bench_post(&c, cfg->host, cfg->port, "/v2/vectordb/collections/create", body,
                           (size_t)n, &resp);
    if (!rc && !strstr(resp, "\"code\":0")) {
        fprintf(stderr, "bench: create collection failed: %s\n", resp);
        rc = -1;
    } else if (rc) {
        fprintf(stderr, "bench: cannot create the collection on %s:%d\n", cfg->host, cfg->port);
    }
    tm_bench_conn_close(&c);
    return rc;
}

/* Sorted latencies of the requests whose on_existing flag is `kind` (any
 * when kind < 0); *n_out of them, caller frees. */
static uint64_t *latencies(const struct bench_cfg *cfg, const struct client *cls, int kind,
                           int *n_out)
{
    int total = 0, k = 0;
    for (int i = 0; i < cfg->clients; i++)
        total += cls[i].nlat;
    uint64_t *all = malloc((size_t)(total ? total : 1) * sizeof *all);
    if (!all) {
        *n_out = 0;
        return NULL;
    }
    for (int i = 0; i < cfg->clients; i++)
        for (int j = 0; j < cls[i].nlat; j++)
            if (kind < 0 || cls[i].on_existing[j] == kind)
                all[k++] = cls[i].lat_ns[j];
    qsort(all, (size_t)k, sizeof *all, cmp_u64);
    *n_out = k;
    return all;
}

static double pct_ms(const uint64_t *v, int n, double q)
{
    size_t at = (size_t)((double)n * q);
    return n ? (double)v[at < (size_t)n ? at : (size_t)n - 1] / 1e6 : 0;
}

static const char *mode_label(const struct bench_cfg *cfg, char *buf, size_t cap)
{
    if (cfg->mode == MODE_INSERT)
        return "insert";
    snprintf(buf, cap, "upsert mode=%s existing=%.2f",
             cfg->mode == MODE_MERGE ? "merge" : "override", cfg->existing);
    return buf;
}

static void report(const struct bench_cfg *cfg, struct client *cls, double secs)
{
    int total = 0, errors = 0;
    char label[96];
    for (int i = 0; i < cfg->clients; i++)
        errors += cls[i].errors;
    uint64_t *all = latencies(cfg, cls, -1, &total);
    printf("%s dim=%d batch=%d clients=%d: %d requests in %.2f s, %.0f rows/s, %.0f "
           "requests/s, latency p50 %.2f ms p99 %.2f ms max %.2f ms, errors %d\n",
           mode_label(cfg, label, sizeof label), cfg->dim, cfg->batch, cfg->clients, total, secs,
           (double)(total - errors) * cfg->batch / secs, (double)total / secs,
           pct_ms(all, total, 0.5), pct_ms(all, total, 0.99), pct_ms(all, total, 1.0), errors);
    free(all);
    if (cfg->mode != MODE_INSERT)
        for (int kind = 1; kind >= 0; kind--) {
            int n;
            uint64_t *v = latencies(cfg, cls, kind, &n);
            printf("  requests on %s keys: %d, p50 %.2f ms p99 %.2f ms max %.2f ms\n",
                   kind ? "existing" : "new", n, pct_ms(v, n, 0.5), pct_ms(v, n, 0.99),
                   pct_ms(v, n, 1.0));
            free(v);
        }
    for (int i = 0; i < cfg->clients; i++)
        if (cls[i].errors) {
            printf("first error: %s\n", cls[i].first_error);
            break;
        }
}

/* Runs fn on one thread per client and waits for all of them. */
static void run_clients(struct client *cls, int n, void *(*fn)(void *))
{
    pthread_t *th = calloc((size_t)n, sizeof *th);
    int started = 0;
    for (int i = 0; th && i < n; i++, started++)
        if (pthread_create(&th[i], NULL, fn, &cls[i])) {
            client_error(&cls[i], "cannot start a thread");
            break;
        }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (!th)
        client_error(&cls[0], "out of memory");
    free(th);
}

/* Inserts the key pool of an upsert run; 0, or -1 after printing why. */
static int preload(const struct bench_cfg *cfg, struct client *cls)
{
    if (cfg->pool == 0)
        return 0;
    uint64_t t0 = tm_mono_ns();
    run_clients(cls, cfg->clients, preload_main);
    for (int i = 0; i < cfg->clients; i++)
        if (cls[i].errors) {
            fprintf(stderr, "bench: preloading the existing keys failed: %s\n", cls[i].first_error);
            return -1;
        }
    printf("preloaded %lld existing keys in %.2f s\n", (long long)cfg->pool,
           (double)(tm_mono_ns() - t0) / 1e9);
    return 0;
}

static const char g_bench_usage[] =
    "usage: tidemark bench insert [common options]\n"
    "       tidemark bench upsert [--mode override|merge] [--existing 0.5] [--pool 20000]\n"
    "                             [common options]\n"
    "       tidemark bench search [options]   in process, no server (bench search --help)\n"
    "       tidemark bench flush [options]    sealing to binlogs, in process (bench flush --help)\n"
    "       tidemark bench ann [options]      IVF index recall and QPS on texmex files, in\n"
    "                                         process (bench ann --help)\n"
    "       tidemark bench http-search [options]  indexed search over HTTP against a server:\n"
    "                                         recall and searches/s (bench http-search --help)\n"
    "common options: [--host 127.0.0.1] [--port 19530[,19531...]] [--dim 128] [--batch 1]\n"
    "                [--clients 8] [--seconds 10] [--requests 1000000] [--collection tm_bench]\n"
    "\n"
    "Drops and re-creates the collection, then writes from --clients connections for\n"
    "--seconds (or --requests per client), and reports rows/s, requests/s and latency.\n"
    "With several ports (a cluster's proxies), client i connects to the (i mod n)th;\n"
    "the collection is made and the pool loaded through the first.\n"
    "\n"
    "insert  every row a new key, into a quick-setup collection (id, vector).\n"
    "upsert  collection: id Int64, vector, n Int64 (default 0). --existing is the\n"
    "        fraction of requests whose keys already exist: --pool keys (at least\n"
    "        clients x batch) are inserted before the clock starts; the other requests\n"
    "        create new keys. A request holds only existing or only new keys.\n"
    "        --mode override (default) sends id, vector, n; --mode merge (partialUpdate)\n"
    "        sends id and n, plus the vector for new keys.\n";

static int usage(FILE *to, int rc)
{
    fputs(g_bench_usage, to);
    return rc;
}

/* "19530" or "19530,19531,...". */
static int parse_ports(const char *s, struct bench_cfg *cfg)
{
    cfg->nports = 0;
    for (;;) {
        char *end;
        long p = strtol(s, &end, 10);
        if (end == s || p < 1 || p > 65535 || cfg->nports == BENCH_MAX_PORTS)
            return TM_EINVAL;
        cfg->ports[cfg->nports++] = (int)p;
        if (*end != ',')
            return *end ? TM_EINVAL : 0;
        s = end + 1;
    }
}

static int parse_opts(int argc, char **argv, struct bench_cfg *cfg)
{
    static const struct option opts[] = {{"host", required_argument, 0, 'h'},
                                         {"port", required_argument, 0, 'p'},
                                         {"dim", required_argument, 0, 'd'},
                                         {"batch", required_argument, 0, 'b'},
                                         {"clients", required_argument, 0, 'c'},
                                         {"seconds", required_argument, 0, 's'},
                                         {"requests", required_argument, 0, 'r'},
                                         {"collection", required_argument, 0, 'n'},
                                         {"mode", required_argument, 0, 'm'},
                                         {"existing", required_argument, 0, 'e'},
                                         {"pool", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'H'},
                                         {0, 0, 0, 0}};
    bool upsert = strcmp(argv[1], "upsert") == 0;
    char *end;
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            cfg->host = optarg;
            break;
        case 'p':
            if (parse_ports(optarg, cfg))
                return usage(stderr, 2);
            break;
        case 'd':
            cfg->dim = atoi(optarg);
            break;
        case 'b':
            cfg->batch = atoi(optarg);
            break;
        case 'c':
            cfg->clients = atoi(optarg);
            break;
        case 's':
            cfg->seconds = atoi(optarg);
            break;
        case 'r':
            cfg->requests = atoi(optarg);
            break;
        case 'n':
            cfg->collection = optarg;
            break;
        case 'm':
            if (!upsert || (strcmp(optarg, "override") && strcmp(optarg, "merge")))
                return usage(stderr, 2);
            cfg->mode = strcmp(optarg, "merge") ? MODE_OVERRIDE : MODE_MERGE;
            break;
        case 'e':
            cfg->existing = strtod(optarg, &end);
            if (!upsert || *end || end == optarg || !(cfg->existing >= 0 && cfg->existing <= 1))
                return usage(stderr, 2);
            break;
        case 'o':
            cfg->pool = strtoll(optarg, &end, 10);
            if (!upsert || *end || end == optarg || cfg->pool < 0 || cfg->pool > (1ll << 40))
                return usage(stderr, 2);
            break;
        case 'H':
            return usage(stdout, 1);
        default:
            return usage(stderr, 2);
        }
    }
    if (optind < argc || cfg->dim < 2 || cfg->batch < 1 || cfg->clients < 1 ||
        cfg->clients > 1024 || cfg->seconds < 1 || cfg->requests < 1)
        return usage(stderr, 2);
    cfg->port = cfg->ports[0];
    return 0;
}

/* The pool: none without existing keys; else at least one request's worth
 * per client, so no request names a key twice. */
static void split_pool(struct bench_cfg *cfg, struct client *cls)
{
    int64_t need = (int64_t)cfg->clients * cfg->batch;
    if (cfg->mode == MODE_INSERT || cfg->existing <= 0)
        cfg->pool = 0;
    else if (cfg->pool < need)
        cfg->pool = need;
    int64_t share = cfg->pool / cfg->clients;
    cfg->pool = share * cfg->clients;
    for (int i = 0; i < cfg->clients; i++) {
        cls[i].pool_lo = share * i;
        cls[i].pool_n = share;
        /* Clients start at different points of the existing/new cycle. */
        cls[i].credit = (double)i / cfg->clients;
    }
}

int tm_bench_main(int argc, char **argv)
{
    struct bench_cfg cfg = {.host = "127.0.0.1",
                            .ports = {19530},
                            .nports = 1,
                            .collection = "tm_bench",
                            .dim = 128,
                            .batch = 1,
                            .clients = 8,
                            .seconds = 10,
                            .requests = 1000000,
                            .mode = MODE_INSERT,
                            .existing = 0.5,
                            .pool = 20000};
    if (argc >= 2 && strcmp(argv[1], "search") == 0)
        return tm_bench_search_main(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "flush") == 0)
        return tm_bench_flush_main(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "ann") == 0)
        return tm_bench_ann_main(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "http-search") == 0)
        return tm_bench_http_search_main(argc, argv);
    if (argc < 2 || (strcmp(argv[1], "insert") && strcmp(argv[1], "upsert"))) {
        bool help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
                                  !strcmp(argv[1], "help"));
        return usage(help ? stdout : stderr, help ? 0 : 2);
    }
    if (strcmp(argv[1], "upsert") == 0)
        cfg.mode = MODE_OVERRIDE;
    int rc = parse_opts(argc, argv, &cfg);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (create_collection(&cfg))
        return 1;
    struct client *cls = calloc((size_t)cfg.clients, sizeof *cls);
    size_t max_req = (size_t)cfg.requests < 10000000 ? (size_t)cfg.requests : 10000000;
    for (int i = 0; cls && i < cfg.clients; i++) {
        cls[i] = (struct client){.cfg = &cfg,
                                 .id = i + 1,
                                 .lat_ns = malloc(max_req * sizeof(uint64_t)),
                                 .on_existing = malloc(max_req),
                                 .lat_cap = (int)max_req,
                                 .next_new = (int64_t)(i + 1) << 40};
        if (!cls[i].lat_ns || !cls[i].on_existing)
            rc = 1;
    }
    if (!cls || rc) {
        fprintf(stderr, "bench: out of memory\n");
        rc = 1;
    } else {
        split_pool(&cfg, cls);
        rc = preload(&cfg, cls) ? 1 : 0;
    }
    if (!rc) {
        uint64_t t0 = tm_mono_ns();
        rc = run_timed(&cfg, cls) ? 1 : 0;
        if (!rc)
            report(&cfg, cls, (double)(tm_mono_ns() - t0) / 1e9);
    }
    for (int i = 0; cls && i < cfg.clients; i++) {
        client_release(&cls[i]);
        free(cls[i].lat_ns);
        free(cls[i].on_existing);
    }
    free(cls);
    return rc;
}
