/* `tidemark bench http-search`: vector search through a running server, over
 * real HTTP/1.1 keep-alive connections, on an indexed collection.
 *
 * 1. Data: the first --rows vectors of an .fvecs file (--data) and the
 *    first --nq of another (--queries), or, without --data, the SIFT-like
 *    synthetic mixture of shared/tools/synth (synth.h: 1,000 clusters,
 *    decaying spectrum, fixed random rotation, centre seed 7, rotation seed
 *    12345, base stream 1, query stream 2), generated here with the same
 *    parameters. It is a pessimistic stand-in for real descriptors: its
 *    clusters overlap, so an IVF index must probe more lists than on SIFT.
 * 2. Load (unless --reuse): drop and create the collection (Int64 `id`,
 *    FloatVector `vec`, the --index with --metric and its parameters),
 *    insert the rows over REST (--batch rows per request), flush, and poll
 *    indexes/describe until the index is built (Finished, pendingRows 0),
 *    for at most --wait seconds. Each step is timed.
 * 3. Ground truth: the exact top-k of every query, computed here with the
 *    distance kernels over the same float32 vectors.
 * 4. For each --nprobe: recall@k of the nq queries searched one at a time
 *    (k-recall@k: the share of the true top-k among the k returned), then
 *    --clients threads, one connection each, sending single-query searches
 *    (cycling through the queries) back to back for --seconds (at most
 *    MAX_REQUESTS each): searches/s, p50/p99/max latency (first byte sent to
 *    last byte received) and errors. The request bodies are made before the
 *    clock starts, so the clients spend their time in send and recv.
 *
 * The clients run on the same machine as the server unless --host points
 * elsewhere: on a 2-core machine they take a share of the CPU the figure
 * is measured with, and the line "machine:" says how loaded it was.
 */
#include "bench_util.h"
#include "distance.h"
#include "texmex.h"
#include "tm_err.h"
#include "tm_time.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tm_bench_http_search_main(int argc, char **argv);

#define MAX_PROBES 16
#define MAX_CLIENTS 256
#define MAX_K 1024
#define MAX_REQUESTS 10000000ull /* per client and run: the count bound */
#define MAX_WAIT_S 86400u

struct hs_cfg {
    const char *host, *coll, *data, *queries, *index, *metric;
    int port;
    uint32_t rows, nq, dim, k, clients, batch, nlist, m, wait_s;
    uint32_t nprobes[MAX_PROBES];
    int nnprobe;
    double seconds, refine_k;
    bool reuse;
};

/* ---- HTTP ---- */

/* Send and receive timeout of each connection, in seconds. */
#define CONN_TIMEOUT_S 120

/* POSTs body to /v2/vectordb/<path> on cfg's server (tm_bench_post). */
static int http_post(struct tm_bench_conn *c, const struct hs_cfg *cfg, const char *path,
                     const char *body, size_t len, char **resp)
{
    char full[256];
    snprintf(full, sizeof full, "/v2/vectordb/%s", path);
    return tm_bench_post(c, cfg->host, cfg->port, full, body, len, resp);
}

/* A call whose reply must have code 0; its parsed reply (decref it) or NULL
 * after printing why. */
static json_t *call(struct tm_bench_conn *c, const struct hs_cfg *cfg, const char *path,
                    const char *body)
{
    char *resp;
    if (http_post(c, cfg, path, body, strlen(body), &resp)) {
        fprintf(stderr, "bench: %s: no reply from %s:%d\n", path, cfg->host, cfg->port);
        return NULL;
    }
    json_t *j = json_loads(resp, 0, NULL);
    if (!j || json_integer_value(json_object_get(j, "code")) != 0) {
        fprintf(stderr, "bench: %s: %.300s\n", path, resp);
        json_decref(j);
        return NULL;
    }
    return j;
}

/* ---- data ---- */

/* The synth.h model (see the file comment): splitmix64, Box-Muller. */
struct synth {
    uint64_t s;
    int has_spare;
    double spare;
};

static double synth_unif(struct synth *r)
{
    return ((double)(tm_bench_rng_next(&r->s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double synth_gauss(struct synth *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1 = synth_unif(r), u2 = synth_unif(r);
    double rad = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
    r->spare = rad * sin(th);
    r->has_spare = 1;
    return rad * cos(th);
}

struct synth_model {
    uint32_t d, nc;
    double *spec, *centres, *rot;
};

static int synth_init(struct synth_model *m, uint32_t d)
{
    m->d = d;
    m->nc = 1000;
    m->spec = malloc(sizeof(double) * d);
    m->centres = malloc(sizeof(double) * m->nc * d);
    m->rot = malloc(sizeof(double) * d * d);
    if (!m->spec || !m->centres || !m->rot)
        return TM_ENOMEM;
    for (uint32_t j = 0; j < d; j++)
        m->spec[j] = pow(j + 1.0, -0.5);
    struct synth r = {7, 0, 0};
    for (size_t k = 0; k < m->nc; k++)
        for (uint32_t j = 0; j < d; j++)
            m->centres[k * d + j] = m->spec[j] * synth_gauss(&r);
    struct synth rr = {12345, 0, 0};
    double *R = m->rot;
    for (size_t i = 0; i < (size_t)d * d; i++)
        R[i] = synth_gauss(&rr);
    for (uint32_t i = 0; i < d; i++) { /* Gram-Schmidt */
        double *ri = R + (size_t)i * d, nrm = 0;
        for (uint32_t k = 0; k < i; k++) {
            const double *rk = R + (size_t)k * d;
            double dot = 0;
            for (uint32_t j = 0; j < d; j++)
                dot += ri[j] * rk[j];
            for (uint32_t j = 0; j < d; j++)
                ri[j] -= dot * rk[j];
        }
        for (uint32_t j = 0; j < d; j++)
            nrm += ri[j] * ri[j];
        for (uint32_t j = 0; j < d; j++)
            ri[j] /= sqrt(nrm);
    }
    return 0;
}

static void synth_points(const struct synth_model *m, uint64_t seed, size_t n, float *out)
{
    struct synth r = {seed, 0, 0};
    double u[4096]; /* --dim is at most 4096 */
    uint32_t d = m->d;
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)(synth_unif(&r) * m->nc);
        k = k < m->nc ? k : m->nc - 1;
        for (uint32_t j = 0; j < d; j++)
            u[j] = m->centres[k * d + j] + m->spec[j] * synth_gauss(&r);
        for (uint32_t a = 0; a < d; a++) {
            const double *ra = m->rot + (size_t)a * d;
            double acc = 0;
            for (uint32_t j = 0; j < d; j++)
                acc += ra[j] * u[j];
            out[i * d + a] = (float)(32.0 * acc);
        }
    }
}

static void synth_free(struct synth_model *m)
{
    free(m->spec);
    free(m->centres);
    free(m->rot);
}

/* Base and query vectors into *base, *queries (n * dim floats each). */
static int load_vectors(struct hs_cfg *cfg, float **base, float **queries)
{
    if (!cfg->data) {
        struct synth_model m;
        *base = malloc((size_t)cfg->rows * cfg->dim * sizeof(float));
        *queries = malloc((size_t)cfg->nq * cfg->dim * sizeof(float));
        int rc = *base && *queries ? synth_init(&m, cfg->dim) : TM_ENOMEM;
        if (!rc) {
            synth_points(&m, 1, cfg->rows, *base);
            synth_points(&m, 2, cfg->nq, *queries);
        }
        synth_free(&m);
        return rc;
    }
    struct tm_texmex b = {0}, q = {0};
    char err[512] = "";
    int rc = tm_texmex_read(cfg->data, cfg->rows, &b, err, sizeof err);
    if (!rc)
        rc = tm_texmex_read(cfg->queries, cfg->nq, &q, err, sizeof err);
    if (!rc && (b.dim != q.dim || b.kind == TM_TEXMEX_IVECS || q.kind == TM_TEXMEX_IVECS)) {
        snprintf(err, sizeof err, "base and queries must be vectors of one dimension");
        rc = TM_EINVAL;
    }
    if (rc) {
        fprintf(stderr, "bench: %s\n", err[0] ? err : tm_strerror(rc));
        tm_texmex_free(&b);
        tm_texmex_free(&q);
        return rc;
    }
    cfg->rows = (uint32_t)b.n;
    cfg->nq = (uint32_t)q.n;
    cfg->dim = b.dim;
    *base = b.vecs;
    *queries = q.vecs;
    return 0;
}

/* ---- loading the server ---- */

static size_t put_vec(char *out, const float *v, uint32_t dim)
{
    size_t at = 0;
    out[at++] = '[';
    for (uint32_t j = 0; j < dim; j++)
        at += (size_t)sprintf(out + at, j ? ",%.9g" : "%.9g", (double)v[j]);
    out[at++] = ']';
    out[at] = '\0';
    return at;
}

static int create(struct tm_bench_conn *c, const struct hs_cfg *cfg)
{
    char body[2048], params[256] = "";
    json_t *j;
    snprintf(body, sizeof body, "{\"collectionName\":\"%s\"}", cfg->coll);
    if (!(j = call(c, cfg, "collections/drop", body)))
        return -1;
    json_decref(j);
    if (cfg->nlist && cfg->m)
        snprintf(params, sizeof params, "\"nlist\":%u,\"m\":%u", cfg->nlist, cfg->m);
    else if (cfg->nlist || cfg->m)
        snprintf(params, sizeof params, "\"%s\":%u", cfg->nlist ? "nlist" : "m",
                 cfg->nlist ? cfg->nlist : cfg->m);
    snprintf(body, sizeof body,
             "{\"collectionName\":\"%s\",\"schema\":{\"fields\":["
             "{\"fieldName\":\"id\",\"dataType\":\"Int64\",\"isPrimary\":true},"
             "{\"fieldName\":\"vec\",\"dataType\":\"FloatVector\",\"elementTypeParams\":"
             "{\"dim\":%u}}]},\"indexParams\":[{\"fieldName\":\"vec\",\"indexName\":\"vec_idx\","
             "\"metricType\":\"%s\",\"indexType\":\"%s\",\"params\":{%s}}]}",
             cfg->coll, cfg->dim, cfg->metric, cfg->index, params);
    if (!(j = call(c, cfg, "collections/create", body)))
        return -1;
    json_decref(j);
    return 0;
}

static int insert_all(struct tm_bench_conn *c, const struct hs_cfg *cfg, const float *base)
{
    size_t cap = (size_t)cfg->batch * (cfg->dim * 17 + 32) + 256;
    char *body = malloc(cap);
    int rc = body ? 0 : -1;
    for (uint32_t from = 0; from < cfg->rows && !rc; from += cfg->batch) {
        uint32_t n = cfg->rows - from < cfg->batch ? cfg->rows - from : cfg->batch;
        size_t at = (size_t)sprintf(body, "{\"collectionName\":\"%s\",\"data\":[", cfg->coll);
        for (uint32_t i = 0; i < n; i++) {
            at += (size_t)sprintf(body + at, "%s{\"id\":%u,\"vec\":", i ? "," : "", from + i);
            at += put_vec(body + at, base + (size_t)(from + i) * cfg->dim, cfg->dim);
            body[at++] = '}';
        }
        at += (size_t)sprintf(body + at, "]}");
        json_t *j = call(c, cfg, "entities/insert", body);
        rc = j ? 0 : -1;
        json_decref(j);
    }
    free(body);
    return rc;
}

/* Polls describe until the index covers every row, at most cfg->wait_s. */
static int wait_index(struct tm_bench_conn *c, const struct hs_cfg *cfg)
{
    char body[512];
    snprintf(body, sizeof body, "{\"collectionName\":\"%s\",\"indexName\":\"vec_idx\"}", cfg->coll);
    uint64_t until = tm_mono_ns() + (uint64_t)cfg->wait_s * 1000000000ull;
    while (tm_mono_ns() < until) {
        json_t *j = call(c, cfg, "indexes/describe", body);
        if (!j)
            return -1;
        json_t *d = json_array_get(json_object_get(j, "data"), 0);
        const char *state = json_string_value(json_object_get(d, "indexState"));
        json_int_t pending = json_integer_value(json_object_get(d, "pendingRows"));
        bool done = state && strcmp(state, "Finished") == 0 && pending == 0;
        bool failed = state && strcmp(state, "Failed") == 0;
        if (failed)
            fprintf(stderr, "bench: the index failed: %s\n",
                    json_string_value(json_object_get(d, "failReason")));
        json_decref(j);
        if (done || failed)
            return done ? 0 : -1;
        usleep(200 * 1000);
    }
    fprintf(stderr, "bench: the index was not built within %u s\n", cfg->wait_s);
    return -1;
}

static int load_server(const struct hs_cfg *cfg, const float *base)
{
    struct tm_bench_conn c;
    char body[512];
    if (tm_bench_connect(&c, cfg->host, cfg->port, CONN_TIMEOUT_S)) {
        fprintf(stderr, "bench: cannot connect to %s:%d\n", cfg->host, cfg->port);
        tm_bench_conn_close(&c);
        return -1;
    }
    uint64_t t0 = tm_mono_ns();
    int rc = create(&c, cfg);
    if (!rc)
        rc = insert_all(&c, cfg, base);
    uint64_t t1 = tm_mono_ns();
    snprintf(body, sizeof body, "{\"collectionName\":\"%s\"}", cfg->coll);
    json_t *j = rc ? NULL : call(&c, cfg, "collections/flush", body);
    rc = rc ? rc : j ? 0 : -1;
    json_decref(j);
    uint64_t t2 = tm_mono_ns();
    if (!rc)
        rc = wait_index(&c, cfg);
    uint64_t t3 = tm_mono_ns();
    tm_bench_conn_close(&c);
    if (!rc)
        printf("load: %u rows inserted in %.1f s (%.0f rows/s, %u per request), flush %.1f s, "
               "index built %.1f s after the flush\n",
               cfg->rows, (double)(t1 - t0) / 1e9, cfg->rows / ((double)(t1 - t0) / 1e9),
               cfg->batch, (double)(t2 - t1) / 1e9, (double)(t3 - t2) / 1e9);
    return rc;
}

/* ---- ground truth and recall ---- */

struct best {
    float key;
    int64_t id;
};

/* The exact top k of query q as ids into out (L2 ascending; IP and COSINE
 * by similarity). */
static void exact_topk(const struct hs_cfg *cfg, const float *base, const float *q, float *scores,
                       const float *norms, int64_t *out)
{
    const struct tm_kernels *kn = tm_kernels_best();
    bool l2 = strcmp(cfg->metric, "L2") == 0, cos = strcmp(cfg->metric, "COSINE") == 0;
    (l2 ? kn->l2_f32_many : kn->ip_f32_many)(q, base, cfg->rows, cfg->dim, scores);
    struct best top[MAX_K];
    uint32_t n = 0;
    for (uint32_t i = 0; i < cfg->rows; i++) {
        float key = l2 ? scores[i] : -(cos && norms[i] > 0 ? scores[i] / norms[i] : scores[i]);
        if (n == cfg->k && key >= top[n - 1].key)
            continue;
        uint32_t at = n < cfg->k ? n++ : n - 1;
        while (at > 0 && top[at - 1].key > key) {
            top[at] = top[at - 1];
            at--;
        }
        top[at] = (struct best){key, i};
    }
    for (uint32_t r = 0; r < cfg->k; r++)
        out[r] = r < n ? top[r].id : -1;
}

static int ground_truth(const struct hs_cfg *cfg, const float *base, const float *queries,
                        int64_t *gt)
{
    float *scores = malloc((size_t)cfg->rows * sizeof(float));
    float *norms = malloc((size_t)cfg->rows * sizeof(float));
    if (!scores || !norms) {
        free(scores);
        free(norms);
        return TM_ENOMEM;
    }
    for (uint32_t i = 0; i < cfg->rows; i++)
        norms[i] = tm_norm_f32(tm_kernels_best(), base + (size_t)i * cfg->dim, cfg->dim);
    uint64_t t0 = tm_mono_ns();
    for (uint32_t j = 0; j < cfg->nq; j++)
        exact_topk(cfg, base, queries + (size_t)j * cfg->dim, scores, norms,
                   gt + (size_t)j * cfg->k);
    printf("ground truth: exact top-%u of %u queries in %.1f s\n", cfg->k, cfg->nq,
           (double)(tm_mono_ns() - t0) / 1e9);
    free(scores);
    free(norms);
    return 0;
}

/* The search request of query j (NUL-terminated), made once per nprobe. */
static char *search_body(const struct hs_cfg *cfg, const float *q, uint32_t nprobe)
{
    char *b = malloc((size_t)cfg->dim * 17 + 512);
    if (!b)
        return NULL;
    size_t at = (size_t)sprintf(b, "{\"collectionName\":\"%s\",\"data\":[", cfg->coll);
    at += put_vec(b + at, q, cfg->dim);
    at += (size_t)sprintf(b + at, "],\"limit\":%u,\"searchParams\":{", cfg->k);
    if (nprobe)
        at += (size_t)sprintf(b + at, "\"nprobe\":%u%s", nprobe, cfg->refine_k > 0 ? "," : "");
    if (cfg->refine_k > 0)
        at += (size_t)sprintf(b + at, "\"refine_k\":%g", cfg->refine_k);
    sprintf(b + at, "}}");
    return b;
}

/* recall@k of every query, searched one at a time; -1 on an error. */
static double measure_recall(const struct hs_cfg *cfg, char **bodies, const int64_t *gt)
{
    struct tm_bench_conn c;
    uint64_t found = 0, want = 0;
    int rc = tm_bench_connect(&c, cfg->host, cfg->port, CONN_TIMEOUT_S);
    for (uint32_t j = 0; j < cfg->nq && !rc; j++) {
        json_t *r = call(&c, cfg, "entities/search", bodies[j]);
        json_t *hits = json_object_get(r, "data"), *h;
        size_t i;
        rc = r ? 0 : -1;
        json_array_foreach(hits, i, h)
        {
            int64_t id = json_integer_value(json_object_get(h, "id"));
            for (uint32_t t = 0; t < cfg->k; t++)
                found += gt[(size_t)j * cfg->k + t] == id;
        }
        for (uint32_t t = 0; t < cfg->k; t++)
            want += gt[(size_t)j * cfg->k + t] >= 0;
        json_decref(r);
    }
    tm_bench_conn_close(&c);
    return rc ? -1.0 : want ? (double)found / (double)want : 0.0;
}

/* ---- the timed clients ---- */

struct client {
    const struct hs_cfg *cfg;
    char **bodies;
    uint32_t first;
    uint64_t deadline_ns;
    uint64_t n, errors;
    uint32_t *lat_us; /* per request */
    char first_error[256];
};

static void *client_main(void *arg)
{
    struct client *cl = arg;
    const struct hs_cfg *cfg = cl->cfg;
    struct tm_bench_conn c;
    if (tm_bench_connect(&c, cfg->host, cfg->port, CONN_TIMEOUT_S)) {
        snprintf(cl->first_error, sizeof cl->first_error, "cannot connect");
        cl->errors++;
        tm_bench_conn_close(&c);
        return NULL;
    }
    for (uint32_t j = cl->first; cl->n < MAX_REQUESTS; j = (j + 1) % cfg->nq) {
        uint64_t t0 = tm_mono_ns();
        if (t0 >= cl->deadline_ns)
            break;
        char *resp;
        const char *b = cl->bodies[j];
        int rc = http_post(&c, cfg, "entities/search", b, strlen(b), &resp);
        uint64_t t1 = tm_mono_ns();
        if (rc || strncmp(resp, "{\"code\":0", 9) != 0) {
            if (!cl->errors++)
                snprintf(cl->first_error, sizeof cl->first_error, "%.200s",
                         rc ? "connection lost" : resp);
            if (rc)
                break;
            continue;
        }
        cl->lat_us[cl->n++] = (uint32_t)((t1 - t0) / 1000);
    }
    tm_bench_conn_close(&c);
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* One timed run: searches/s and latency percentiles into the table row. */
static int run_clients(const struct hs_cfg *cfg, char **bodies, double recall, uint32_t nprobe)
{
    struct client cls[MAX_CLIENTS];
    pthread_t th[MAX_CLIENTS];
    uint64_t cap = (uint64_t)(cfg->seconds * 20000.0) + 1024; /* 20k/s per client, at most */
    cap = cap < MAX_REQUESTS ? cap : MAX_REQUESTS;
    uint64_t start = tm_mono_ns(), total = 0, errors = 0;
    uint32_t started = 0;
    for (uint32_t i = 0; i < cfg->clients; i++) {
        cls[i] = (struct client){.cfg = cfg,
                                 .bodies = bodies,
                                 .first = (uint32_t)(((uint64_t)i * cfg->nq) / cfg->clients),
                                 .deadline_ns = start + (uint64_t)(cfg->seconds * 1e9),
                                 .lat_us = malloc(cap * sizeof(uint32_t))};
        if (!cls[i].lat_us || pthread_create(&th[i], NULL, client_main, &cls[i]))
            break;
        started++;
    }
    for (uint32_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    double secs = (double)(tm_mono_ns() - start) / 1e9;
    for (uint32_t i = 0; i < started; i++)
        total += cls[i].n, errors += cls[i].errors;
    uint32_t *all = malloc((total + 1) * sizeof *all);
    uint64_t at = 0;
    for (uint32_t i = 0; all && i < started; i++) {
        memcpy(all + at, cls[i].lat_us, cls[i].n * sizeof *all);
        at += cls[i].n;
    }
    if (all && total)
        qsort(all, total, sizeof *all, cmp_u32);
    printf("| %u | %.4f | %u | %.0f | %.2f | %.2f | %.2f | %llu |\n", nprobe, recall, cfg->clients,
           (double)total / secs, total ? all[total / 2] / 1000.0 : 0,
           total ? all[(total * 99) / 100] / 1000.0 : 0, total ? all[total - 1] / 1000.0 : 0,
           (unsigned long long)errors);
    for (uint32_t i = 0; i < started; i++)
        if (cls[i].errors) {
            printf("first error (client %u): %s\n", i, cls[i].first_error);
            break;
        }
    for (uint32_t i = 0; i < cfg->clients; i++)
        free(cls[i].lat_us);
    free(all);
    return started == cfg->clients && !errors ? 0 : -1;
}

static int run_nprobe(const struct hs_cfg *cfg, const float *queries, const int64_t *gt,
                      uint32_t nprobe)
{
    char **bodies = calloc(cfg->nq, sizeof *bodies);
    int rc = bodies ? 0 : -1;
    for (uint32_t j = 0; j < cfg->nq && !rc; j++)
        rc = (bodies[j] = search_body(cfg, queries + (size_t)j * cfg->dim, nprobe)) ? 0 : -1;
    double recall = rc ? -1 : measure_recall(cfg, bodies, gt);
    if (recall < 0)
        rc = -1;
    if (!rc)
        rc = run_clients(cfg, bodies, recall, nprobe);
    for (uint32_t j = 0; bodies && j < cfg->nq; j++)
        free(bodies[j]);
    free(bodies);
    return rc;
}

/* ---- options ---- */

static const char g_usage[] =
    "usage: tidemark bench http-search [--host 127.0.0.1] [--port 19530]\n"
    "                                  [--data F.fvecs --queries F.fvecs] [--rows 100000]\n"
    "                                  [--nq 1000] [--dim 128] [--k 10]\n"
    "                                  [--index AUTOINDEX|IVF_FLAT|IVF_PQ] [--metric L2]\n"
    "                                  [--nlist N] [--m N] [--nprobe 16,32,64]\n"
    "                                  [--refine-k F] [--clients 8] [--seconds 10]\n"
    "                                  [--batch 1000] [--wait 1800] [--reuse]\n"
    "                                  [--collection tm_bench_search]\n"
    "\n"
    "Against a running server: loads --rows vectors over REST (the first rows of\n"
    "--data, or the SIFT-like synthetic mixture of shared/tools/synth), flushes, waits\n"
    "for the index, computes the exact top-k here, then for each --nprobe (0: the\n"
    "index's default) prints recall@k of --nq queries searched one at a time and the\n"
    "searches/s and latency of --clients connections sending one-query searches for\n"
    "--seconds. --reuse skips the load (the collection must hold the same data).\n";

static bool parse_list(const char *s, struct hs_cfg *cfg)
{
    cfg->nnprobe = 0;
    for (const char *p = s; *p && cfg->nnprobe < MAX_PROBES;
         p = strchr(p, ',') ? strchr(p, ',') + 1 : "") {
        char tmp[16];
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof tmp)
            return false;
        memcpy(tmp, p, len);
        tmp[len] = '\0';
        if (!tm_bench_parse_u32(tmp, 0, 65536, &cfg->nprobes[cfg->nnprobe++]))
            return false;
    }
    return cfg->nnprobe > 0;
}

static int parse_args(int argc, char **argv, struct hs_cfg *cfg)
{
    static const struct option opts[] = {{"host", 1, 0, 'H'},    {"port", 1, 0, 'p'},
                                         {"data", 1, 0, 'd'},    {"queries", 1, 0, 'q'},
                                         {"rows", 1, 0, 'r'},    {"nq", 1, 0, 'n'},
                                         {"dim", 1, 0, 'D'},     {"k", 1, 0, 'k'},
                                         {"index", 1, 0, 'i'},   {"metric", 1, 0, 'M'},
                                         {"nlist", 1, 0, 'l'},   {"m", 1, 0, 'm'},
                                         {"nprobe", 1, 0, 'P'},  {"refine-k", 1, 0, 'R'},
                                         {"clients", 1, 0, 'c'}, {"seconds", 1, 0, 's'},
                                         {"batch", 1, 0, 'b'},   {"wait", 1, 0, 'w'},
                                         {"reuse", 0, 0, 'u'},   {"collection", 1, 0, 'C'},
                                         {"help", 0, 0, 'h'},    {0, 0, 0, 0}};
    int c, port = 0;
    bool ok = true;
    optind = 2; /* argv[1] is "http-search" */
    while (ok && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        uint32_t u = 0;
        switch (c) {
        case 'H':
            cfg->host = optarg;
            break;
        case 'p':
            ok = tm_bench_parse_u32(optarg, 1, 65535, &u), port = (int)u;
            break;
        case 'd':
            cfg->data = optarg;
            break;
        case 'q':
            cfg->queries = optarg;
            break;
        case 'r':
            ok = tm_bench_parse_u32(optarg, 1, 100000000, &cfg->rows);
            break;
        case 'n':
            ok = tm_bench_parse_u32(optarg, 1, 1000000, &cfg->nq);
            break;
        case 'D':
            ok = tm_bench_parse_u32(optarg, 1, 4096, &cfg->dim);
            break;
        case 'k':
            ok = tm_bench_parse_u32(optarg, 1, MAX_K, &cfg->k);
            break;
        case 'i':
            cfg->index = optarg;
            break;
        case 'M':
            cfg->metric = optarg;
            break;
        case 'l':
            ok = tm_bench_parse_u32(optarg, 1, 65536, &cfg->nlist);
            break;
        case 'm':
            ok = tm_bench_parse_u32(optarg, 1, 4096, &cfg->m);
            break;
        case 'P':
            ok = parse_list(optarg, cfg);
            break;
        case 'R':
            cfg->refine_k = strtod(optarg, NULL), ok = cfg->refine_k >= 1;
            break;
        case 'c':
            ok = tm_bench_parse_u32(optarg, 1, MAX_CLIENTS, &cfg->clients);
            break;
        case 's':
            cfg->seconds = strtod(optarg, NULL), ok = cfg->seconds > 0 && cfg->seconds <= 3600;
            break;
        case 'b':
            ok = tm_bench_parse_u32(optarg, 1, 100000, &cfg->batch);
            break;
        case 'w':
            ok = tm_bench_parse_u32(optarg, 1, MAX_WAIT_S, &cfg->wait_s);
            break;
        case 'u':
            cfg->reuse = true;
            break;
        case 'C':
            cfg->coll = optarg;
            break;
        case 'h':
            fputs(g_usage, stdout);
            return 1;
        default:
            ok = false;
        }
    }
    cfg->port = port ? port : cfg->port;
    if (ok && (optind != argc || (cfg->data == NULL) != (cfg->queries == NULL)))
        ok = false;
    if (!ok)
        fputs(g_usage, stderr);
    return ok ? 0 : 2;
}

int tm_bench_http_search_main(int argc, char **argv)
{
    struct hs_cfg cfg = {.host = "127.0.0.1",
                         .port = 19530,
                         .coll = "tm_bench_search",
                         .index = "AUTOINDEX",
                         .metric = "L2",
                         .rows = 100000,
                         .nq = 1000,
                         .dim = 128,
                         .k = 10,
                         .clients = 8,
                         .batch = 1000,
                         .wait_s = 1800,
                         .seconds = 10,
                         .nnprobe = 1};
    int rc = parse_args(argc, argv, &cfg);
    if (rc)
        return rc == 1 ? 0 : rc;
    float *base = NULL, *queries = NULL;
    int64_t *gt = NULL;
    tm_bench_print_machine(argc, argv);
    uint64_t t0 = tm_mono_ns();
    rc = load_vectors(&cfg, &base, &queries);
    if (!rc)
        printf("data: %u x %u-d base, %u queries (%s), ready in %.1f s; index %s, metric %s\n",
               cfg.rows, cfg.dim, cfg.nq, cfg.data ? cfg.data : "synthetic SIFT-like mixture",
               (double)(tm_mono_ns() - t0) / 1e9, cfg.index, cfg.metric);
    if (!rc && !cfg.reuse)
        rc = load_server(&cfg, base);
    if (!rc && !(gt = malloc((size_t)cfg.nq * cfg.k * sizeof *gt)))
        rc = TM_ENOMEM;
    if (!rc)
        rc = ground_truth(&cfg, base, queries, gt);
    if (!rc) {
        fflush(stdout);
        printf("\n| nprobe | recall@%u | clients | searches/s | p50 ms | p99 ms | max ms | errors "
               "|\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
               cfg.k);
        for (int i = 0; i < cfg.nnprobe && !rc; i++)
            rc = run_nprobe(&cfg, queries, gt, cfg.nprobes[i]);
    }
    free(base);
    free(queries);
    free(gt);
    return rc ? 1 : 0;
}
