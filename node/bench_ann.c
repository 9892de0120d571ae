/* `tidemark bench ann`: recall and throughput of the IVF indexes
 * (index/ivf.h) on a texmex data set (index/texmex.h), in process, straight
 * against tm_ivf_build and tm_ivf_search: the numbers are the index's own.
 *
 * The base vectors are read, the index built once (timed; its size is
 * reported in bytes per vector, tm_ivf_bytes / n, and the raw vectors that
 * re-ranking reads are counted apart). Then, for each --nprobe, one table
 * row:
 *
 *   recall@k  k-recall@k over every query: the share of the ground truth's
 *             first k ids found among the k returned, averaged, from one
 *             batched search of all queries (not timed).
 *   QPS 1 query, 1 thread   tm_ivf_search with nq = 1, in a loop over the
 *             queries, for --seconds (or MAX_SINGLE queries).
 *   QPS batch, 1 thread     one tm_ivf_search call with every query,
 *             repeated until --seconds have passed (at least once).
 *   QPS batch, T threads    the queries split into --threads slices, each
 *             thread one call with its slice, the threads started together
 *             from a pool that lives for the whole run (so each thread's
 *             search scratch is allocated once, as in a query node); timed
 *             from the start signal until the last slice is done.
 *
 * QPS is the best of TRIALS trials. A batched trial cannot stop inside a
 * call, so one call over all queries is its unit of time: --nq limits the
 * queries used (and the ground truth rows read) when that is too long.
 *
 * Before a row is timed, the first NCHECK queries are searched one at a
 * time too and compared with the batched answer: a query's result must not
 * depend on the batch it came in (distance.h, Batches). A difference is
 * reported under the table, not hidden.
 *
 * The ground truth must rank by --metric: the texmex files rank by squared
 * L2, so with --metric IP or COSINE the recall column compares with an L2
 * answer (the header says so) and only the QPS columns mean much.
 */
#include "bench_util.h"
#include "distance.h"
#include "ivf.h"
#include "texmex.h"
#include "tm_err.h"
#include "tm_time.h"

#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tm_bench_ann_main(int argc, char **argv);

#define MAX_PROBES 32
#define MAX_THREADS 64
#define MAX_K 1024
#define TRIALS 3
#define NCHECK 100                  /* queries compared one at a time vs batched */
#define MAX_SINGLE 100000000ull     /* single-query searches per trial: the count bound */
#define MAX_CALLS 1000000ull        /* batched calls per trial */
#define DEFAULT_RERANK_FACTOR 16.0  /* PQ kinds re-rank 16 * k candidates by default */
#define MAX_VEC_BYTES (16ull << 30) /* base + queries, as floats */

struct ab_cfg {
    const char *base, *queries, *gt, *kernel, *compare;
    enum tm_ivf_kind kind;
    enum tm_ivf_metric metric;
    uint32_t nlist, m, nbits, k, threads, nq;
    uint32_t nprobes[MAX_PROBES];
    int nnprobe;
    /* Re-ranking: rerank candidates, or rerank_factor * k when that came
     * last (rerank < 0 then). */
    int64_t rerank;
    double rerank_factor;
    double seconds;
    uint64_t seed;
};

struct ab_data {
    struct tm_texmex base, queries, gt;
    uint32_t dim, nq;
};

/* The thread pool of the multi-threaded column: one round is one call per
 * thread on its slice of the queries. */
struct ab_pool {
    pthread_t th[MAX_THREADS];
    uint32_t n, started;
    pthread_barrier_t go, done;
    bool quit;
    /* The round's work, written by the main thread before `go`. */
    const struct tm_ivf *ix;
    const float *q;
    uint32_t nq, dim;
    struct tm_ivf_search_params sp;
    int64_t *ids;
    float *keys;
    int rc[MAX_THREADS];
};

struct ab_worker {
    struct ab_pool *pool;
    uint32_t i;
};

/* ---- options ---- */

static const char g_usage[] =
    "usage: tidemark bench ann --base F.fvecs|F.bvecs --queries F --gt F.ivecs\n"
    "                          [--index IVF_FLAT|IVF_PQ|IVF_PQ4] [--metric L2|IP|COSINE]\n"
    "                          [--nlist N] [--m N] [--nbits N] [--nprobe 1,2,4,8,16]\n"
    "                          [--rerank N | --rerank-factor F] [--k 10] [--threads 2]\n"
    "                          [--seconds 1] [--nq N] [--seed 1]\n"
    "                          [--kernel scalar|avx2|avx512|neon] [--compare SET]\n"
    "\n"
    "In process, no server. Reads a texmex data set (.fvecs float32 or .bvecs uint8\n"
    "vectors, .ivecs ground truth), builds the index once (build time, bytes per\n"
    "vector), then for each --nprobe prints a markdown row: recall@k over every query,\n"
    "QPS one query per call on one thread, QPS one call with every query on one\n"
    "thread, and QPS with the queries split over --threads threads (best of 3 trials\n"
    "of --seconds each; a batched trial is at least one call).\n"
    "\n"
    "  --index      default IVF_PQ4 (4-bit fast scan)\n"
    "  --nlist      coarse lists (default 4 * sqrt(n))\n"
    "  --m          PQ sub-quantizers, must divide the dimension (default: the largest\n"
    "               divisor of the dimension up to dim/2 for IVF_PQ4, dim/4 for IVF_PQ)\n"
    "  --nbits      8 for IVF_PQ, 4 for IVF_PQ4 (the defaults)\n"
    "  --rerank N   re-rank N candidates exactly (PQ kinds; 0: none)\n"
    "  --rerank-factor F   re-rank ceil(F * k) candidates (default 16); the later of\n"
    "               --rerank and --rerank-factor wins\n"
    "  --threads    threads of the last column, and of the build (default 2)\n"
    "  --nq         use only the first N queries (default all)\n"
    "  --kernel     sets TIDEMARK_KERNEL, the distance kernel set, before first use\n"
    "  --compare    a second table: QPS one query at a time with the kernel set in use\n"
    "               and with SET (e.g. avx2), trials taken in turn, their ratio, and\n"
    "               how many queries' ids differ between the two sets\n"
    "\n"
    "The ground truth must rank by --metric (texmex files rank by squared L2).\n";

static bool parse_kind(const char *s, enum tm_ivf_kind *out)
{
    static const char *const names[] = {"IVF_FLAT", "IVF_PQ", "IVF_PQ4"};
    static const enum tm_ivf_kind kinds[] = {TM_IVF_FLAT, TM_IVF_PQ, TM_IVF_PQ4};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = kinds[i];
            return true;
        }
    return false;
}

static bool parse_metric(const char *s, enum tm_ivf_metric *out)
{
    static const char *const names[] = {"L2", "IP", "COSINE"};
    static const enum tm_ivf_metric metrics[] = {TM_IVF_L2, TM_IVF_IP, TM_IVF_COSINE};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = metrics[i];
            return true;
        }
    return false;
}

static const char *kind_name(enum tm_ivf_kind k)
{
    return k == TM_IVF_FLAT ? "IVF_FLAT" : k == TM_IVF_PQ ? "IVF_PQ" : "IVF_PQ4";
}

static const char *metric_name(enum tm_ivf_metric m)
{
    return m == TM_IVF_L2 ? "L2" : m == TM_IVF_IP ? "IP" : "COSINE";
}

static bool parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    *out = strtod(s, &end);
    return end != s && !*end && *out >= lo && *out <= hi;
}

/* One option (getopt's c and optarg) into cfg; false if it is bad. */
static bool parse_opt(int c, const char *arg, struct ab_cfg *cfg)
{
    char *end;
    switch (c) {
    case 'b':
        return (cfg->base = arg) != NULL;
    case 'q':
        return (cfg->queries = arg) != NULL;
    case 'g':
        return (cfg->gt = arg) != NULL;
    case 'i':
        return parse_kind(arg, &cfg->kind);
    case 'M':
        return parse_metric(arg, &cfg->metric);
    case 'l':
        return tm_bench_parse_u32(arg, 1, 1u << 24, &cfg->nlist);
    case 'm':
        return tm_bench_parse_u32(arg, 1, 65536, &cfg->m);
    case 'n':
        return tm_bench_parse_u32(arg, 1, 16, &cfg->nbits);
    case 'p':
        return (cfg->nnprobe = tm_bench_parse_list(arg, cfg->nprobes, MAX_PROBES, 1, 1u << 24)) > 0;
    case 'r': {
        uint32_t v;
        bool ok = tm_bench_parse_u32(arg, 0, 1u << 24, &v);
        cfg->rerank = v;
        return ok;
    }
    case 'f':
        cfg->rerank = -1;
        return parse_double(arg, 0, 1e6, &cfg->rerank_factor);
    case 'k':
        return tm_bench_parse_u32(arg, 1, MAX_K, &cfg->k);
    case 't':
        return tm_bench_parse_u32(arg, 1, MAX_THREADS, &cfg->threads);
    case 's':
        return parse_double(arg, 1e-3, 600, &cfg->seconds);
    case 'Q':
        return tm_bench_parse_u32(arg, 1, 1u << 30, &cfg->nq);
    case 'S':
        cfg->seed = strtoull(arg, &end, 10);
        return end != arg && !*end;
    case 'K':
        return (cfg->kernel = arg) != NULL;
    case 'C':
        return (cfg->compare = arg) != NULL;
    default:
        return false;
    }
}

/* 0, 1 after --help, or 2 after printing the usage. */
static int parse_opts(int argc, char **argv, struct ab_cfg *cfg)
{
    static const struct option opts[] = {{"base", required_argument, 0, 'b'},
                                         {"queries", required_argument, 0, 'q'},
                                         {"gt", required_argument, 0, 'g'},
                                         {"index", required_argument, 0, 'i'},
                                         {"metric", required_argument, 0, 'M'},
                                         {"nlist", required_argument, 0, 'l'},
                                         {"m", required_argument, 0, 'm'},
                                         {"nbits", required_argument, 0, 'n'},
                                         {"nprobe", required_argument, 0, 'p'},
                                         {"rerank", required_argument, 0, 'r'},
                                         {"rerank-factor", required_argument, 0, 'f'},
                                         {"k", required_argument, 0, 'k'},
                                         {"threads", required_argument, 0, 't'},
                                         {"seconds", required_argument, 0, 's'},
                                         {"nq", required_argument, 0, 'Q'},
                                         {"seed", required_argument, 0, 'S'},
                                         {"kernel", required_argument, 0, 'K'},
                                         {"compare", required_argument, 0, 'C'},
                                         {"help", no_argument, 0, 'H'},
                                         {0, 0, 0, 0}};
    bool ok = true;
    int c;
    optind = 2;
    while (ok && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'H') {
            fputs(g_usage, stdout);
            return 1;
        }
        ok = parse_opt(c, optarg, cfg);
        if (!ok && c != '?')
            fprintf(stderr, "bench ann: bad option value '%s'\n", optarg);
    }
    if (ok && cfg->compare && !tm_bench_kernel_ok("bench ann", cfg->compare))
        ok = false;
    if (ok && (!cfg->base || !cfg->queries || !cfg->gt)) {
        fprintf(stderr, "bench ann: --base, --queries and --gt are required\n");
        ok = false;
    }
    if (!ok || optind < argc) {
        fputs(g_usage, stderr);
        return 2;
    }
    return 0;
}

/* ---- data ---- */

static int load_file(const char *path, uint64_t max_rows, struct tm_texmex *out, bool want_ids)
{
    char err[512];
    int rc = tm_texmex_read(path, max_rows, out, err, sizeof err);
    if (rc) {
        fprintf(stderr, "bench ann: %s (%s)\n", err, tm_strerror(rc));
        return -1;
    }
    if (want_ids != (out->kind == TM_TEXMEX_IVECS)) {
        fprintf(stderr, "bench ann: %s: expected %s\n", path,
                want_ids ? "an .ivecs ground truth file" : "an .fvecs or .bvecs vector file");
        return -1;
    }
    return 0;
}

/* The ground truth must cover every query with at least k ids, each a row
 * of the base. -1 after printing why. */
static int check_gt(const struct ab_cfg *cfg, const struct ab_data *d)
{
    const struct tm_texmex *gt = &d->gt;
    if (gt->n < d->nq || gt->dim < cfg->k) {
        fprintf(stderr, "bench ann: %s has %llu rows of %u ids; %u queries of k=%u need more\n",
                cfg->gt, (unsigned long long)gt->n, gt->dim, d->nq, cfg->k);
        return -1;
    }
    for (uint64_t i = 0; i < (uint64_t)d->nq * gt->dim; i++)
        if (gt->ids[i] < 0 || (uint64_t)gt->ids[i] >= d->base.n) {
            fprintf(stderr, "bench ann: %s row %llu names row %ld; the base has %llu rows\n",
                    cfg->gt, (unsigned long long)(i / gt->dim), (long)gt->ids[i],
                    (unsigned long long)d->base.n);
            return -1;
        }
    return 0;
}

static int load_data(const struct ab_cfg *cfg, struct ab_data *d)
{
    uint64_t t0 = tm_mono_ns();
    if (load_file(cfg->base, 0, &d->base, false) ||
        load_file(cfg->queries, cfg->nq, &d->queries, false) ||
        load_file(cfg->gt, d->queries.n, &d->gt, true))
        return -1;
    if (d->base.dim != d->queries.dim) {
        fprintf(stderr, "bench ann: the base is %u-d, the queries %u-d\n", d->base.dim,
                d->queries.dim);
        return -1;
    }
    if ((d->base.n + d->queries.n) * d->base.dim * sizeof(float) > MAX_VEC_BYTES) {
        fprintf(stderr, "bench ann: the vectors need more than %llu GiB\n", MAX_VEC_BYTES >> 30);
        return -1;
    }
    d->dim = d->base.dim;
    d->nq = (uint32_t)d->queries.n;
    if (check_gt(cfg, d))
        return -1;
    printf("data: %llu x %u-d base, %u queries, ground truth top-%u; read in %.2f s\n",
           (unsigned long long)d->base.n, d->dim, d->nq, d->gt.dim,
           (double)(tm_mono_ns() - t0) / 1e9);
    return 0;
}

/* ---- the index ---- */

/* The largest divisor of dim not above dim / (IVF_PQ4 ? 2 : 4), at least 1. */
static uint32_t default_m(enum tm_ivf_kind kind, uint32_t dim)
{
    uint32_t m = dim / (kind == TM_IVF_PQ4 ? 2 : 4);
    while (m > 1 && dim % m)
        m--;
    return m ? m : 1;
}

static void fill_params(const struct ab_cfg *cfg, const struct ab_data *d, struct tm_ivf_params *p)
{
    uint32_t nlist = cfg->nlist;
    if (!nlist)
        nlist = (uint32_t)lround(4.0 * sqrt((double)d->base.n));
    *p = (struct tm_ivf_params){
        .kind = cfg->kind,
        .metric = cfg->metric,
        .dim = d->dim,
        .nlist = nlist ? nlist : 1,
        .m = cfg->kind == TM_IVF_FLAT ? 0
             : cfg->m                 ? cfg->m
                                      : default_m(cfg->kind, d->dim),
        .nbits = cfg->kind == TM_IVF_FLAT ? 0
                 : cfg->nbits             ? cfg->nbits
                 : cfg->kind == TM_IVF_PQ ? 8
                                          : 4,
        .seed = cfg->seed,
        .threads = cfg->threads,
    };
}

/* Builds the index over the base and prints its parameters, build time
 * and size. NULL after printing why. */
static struct tm_ivf *build(const struct ab_cfg *cfg, const struct ab_data *d, uint32_t rerank)
{
    struct tm_ivf_params p;
    struct tm_ivf *ix = NULL;
    fill_params(cfg, d, &p);
    uint64_t t0 = tm_mono_ns();
    int rc = tm_ivf_build(&p, d->base.vecs, d->base.n, NULL, &ix);
    double secs = (double)(tm_mono_ns() - t0) / 1e9;
    if (rc) {
        fprintf(stderr, "bench ann: build %s nlist %u m %u nbits %u: %s\n", kind_name(p.kind),
                p.nlist, p.m, p.nbits, tm_strerror(rc));
        if (rc == TM_EINVAL)
            fprintf(stderr,
                    "bench ann: m must divide the dimension (%u), nbits be 8 for IVF_PQ and 4 "
                    "for IVF_PQ4, and IVF_PQ4 takes m <= 256\n",
                    d->dim);
        return NULL;
    }
    const struct tm_ivf_params *q = tm_ivf_params_of(ix);
    printf("index: %s, metric %s, nlist %u", kind_name(q->kind), metric_name(q->metric), q->nlist);
    if (q->kind != TM_IVF_FLAT)
        printf(", m %u, nbits %u", q->m, q->nbits);
    printf(", seed %llu; built in %.2f s on %u threads\n", (unsigned long long)q->seed, secs,
           p.threads);
    double per = (double)tm_ivf_bytes(ix) / (double)tm_ivf_size(ix);
    printf("size: %.1f B/vector in the index (tm_ivf_bytes / n)", per);
    if (q->kind != TM_IVF_FLAT && rerank)
        printf(", + %u B/vector of raw float vectors read by re-ranking", d->dim * 4);
    printf("\n");
    return ix;
}

/* ---- searching ---- */

/* k-recall@k of the results against the ground truth's first k ids. */
static double recall(const struct ab_data *d, const int64_t *ids, uint32_t k)
{
    uint64_t hits = 0;
    for (uint32_t j = 0; j < d->nq; j++) {
        const int32_t *g = d->gt.ids + (uint64_t)j * d->gt.dim;
        const int64_t *r = ids + (uint64_t)j * k;
        for (uint32_t a = 0; a < k; a++)
            for (uint32_t b = 0; b < k; b++)
                if (r[a] == g[b]) {
                    hits++;
                    break;
                }
    }
    return (double)hits / ((double)d->nq * k);
}

static void *pool_worker(void *arg)
{
    struct ab_worker *w = arg;
    struct ab_pool *p = w->pool;
    for (;;) {
        pthread_barrier_wait(&p->go);
        if (p->quit)
            return NULL;
        uint32_t lo = (uint32_t)((uint64_t)p->nq * w->i / p->n);
        uint32_t hi = (uint32_t)((uint64_t)p->nq * (w->i + 1) / p->n);
        size_t k = p->sp.k;
        p->rc[w->i] = hi > lo ? tm_ivf_search(p->ix, p->q + (size_t)lo * p->dim, hi - lo, &p->sp,
                                              p->ids + lo * k, p->keys + lo * k)
                              : 0;
        pthread_barrier_wait(&p->done);
    }
}

static struct ab_worker g_workers[MAX_THREADS];

static int pool_start(struct ab_pool *p, uint32_t n)
{
    memset(p, 0, sizeof *p);
    p->n = n;
    if (pthread_barrier_init(&p->go, NULL, n + 1) || pthread_barrier_init(&p->done, NULL, n + 1))
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        g_workers[i] = (struct ab_worker){p, i};
        if (pthread_create(&p->th[i], NULL, pool_worker, &g_workers[i]))
            return -1;
        p->started++;
    }
    return 0;
}

/* One round: every thread searches its slice; 0 or the first error. */
static int pool_round(struct ab_pool *p)
{
    pthread_barrier_wait(&p->go);
    pthread_barrier_wait(&p->done);
    for (uint32_t i = 0; i < p->n; i++)
        if (p->rc[i])
            return p->rc[i];
    return 0;
}

/* Stops the threads. Only after pool_start succeeded: the barriers count
 * every thread. */
static void pool_stop(struct ab_pool *p)
{
    p->quit = true;
    pthread_barrier_wait(&p->go);
    for (uint32_t i = 0; i < p->started; i++)
        pthread_join(p->th[i], NULL);
    pthread_barrier_destroy(&p->go);
    pthread_barrier_destroy(&p->done);
}

enum ab_mode { AB_SINGLE, AB_BATCH, AB_THREADS };

/* One row's search state. */
struct ab_run {
    const struct ab_cfg *cfg;
    const struct ab_data *d;
    const struct tm_ivf *ix;
    struct tm_ivf_search_params sp;
    int64_t *ids; /* nq * k */
    float *keys;
    struct ab_pool *pool;
};

/* One timed trial of a mode: queries per second into *qps. */
static int trial(struct ab_run *r, enum ab_mode mode, double *qps)
{
    const struct ab_data *d = r->d;
    uint64_t t0 = tm_mono_ns(), budget = (uint64_t)(r->cfg->seconds * 1e9), done = 0, t = t0;
    int rc = 0;
    if (mode == AB_SINGLE) {
        for (uint32_t j = 0; !rc && t - t0 < budget && done < MAX_SINGLE; done++) {
            rc = tm_ivf_search(r->ix, d->queries.vecs + (size_t)j * d->dim, 1, &r->sp,
                               r->ids + (size_t)j * r->sp.k, r->keys + (size_t)j * r->sp.k);
            j = j + 1 == d->nq ? 0 : j + 1;
            t = tm_mono_ns();
        }
    } else {
        for (uint64_t calls = 0; !rc && t - t0 < budget && calls < MAX_CALLS; calls++) {
            rc = mode == AB_BATCH
                     ? tm_ivf_search(r->ix, d->queries.vecs, d->nq, &r->sp, r->ids, r->keys)
                     : pool_round(r->pool);
            done += d->nq;
            t = tm_mono_ns();
        }
    }
    *qps = (double)done / ((double)(t - t0) / 1e9);
    return rc;
}

/* Best of TRIALS. */
static int measure(struct ab_run *r, enum ab_mode mode, double *best)
{
    *best = 0;
    for (int i = 0; i < TRIALS; i++) {
        double qps;
        int rc = trial(r, mode, &qps);
        if (rc)
            return rc;
        *best = qps > *best ? qps : *best;
    }
    return 0;
}

/* Searches the first NCHECK queries one at a time and counts those whose
 * ids differ from the batched answer in r->ids. */
static int check_single(struct ab_run *r, uint32_t *differ)
{
    uint32_t k = r->sp.k, n = r->d->nq < NCHECK ? r->d->nq : NCHECK;
    int64_t *ids = malloc((size_t)k * sizeof *ids);
    float *keys = malloc((size_t)k * sizeof *keys);
    int rc = ids && keys ? 0 : TM_ENOMEM;
    *differ = 0;
    for (uint32_t j = 0; !rc && j < n; j++) {
        rc = tm_ivf_search(r->ix, r->d->queries.vecs + (size_t)j * r->d->dim, 1, &r->sp, ids, keys);
        *differ += !rc && memcmp(ids, r->ids + (size_t)j * k, k * sizeof *ids) != 0;
    }
    free(ids);
    free(keys);
    return rc;
}

/* One table row: recall, the single-query check, then the three timings. */
static int run_row(struct ab_run *r, uint32_t nprobe, uint32_t *differ_total)
{
    r->sp.nprobe = nprobe;
    r->pool->ix = r->ix;
    r->pool->q = r->d->queries.vecs;
    r->pool->nq = r->d->nq;
    r->pool->dim = r->d->dim;
    r->pool->sp = r->sp;
    r->pool->ids = r->ids;
    r->pool->keys = r->keys;
    uint32_t differ = 0;
    double rec = 0, q1 = 0, qb = 0, qt = 0;
    int rc = tm_ivf_search(r->ix, r->d->queries.vecs, r->d->nq, &r->sp, r->ids, r->keys);
    if (!rc) {
        rec = recall(r->d, r->ids, r->sp.k);
        rc = check_single(r, &differ);
    }
    if (!rc)
        rc = measure(r, AB_SINGLE, &q1);
    if (!rc)
        rc = measure(r, AB_BATCH, &qb);
    if (!rc)
        rc = measure(r, AB_THREADS, &qt);
    if (rc) {
        fprintf(stderr, "bench ann: search at nprobe %u: %s\n", nprobe, tm_strerror(rc));
        return -1;
    }
    printf("| %u | %.4f | %.0f | %.0f | %.0f |\n", nprobe, rec, q1, qb, qt);
    fflush(stdout);
    *differ_total += differ;
    return 0;
}

/* --compare: trials alternate between the two sets (A B A B ...), so that a
 * change in the machine's speed during the run (other tenants of a VM)
 * falls on both, and each set keeps its best. */
#define COMPARE_TRIALS 5

/* Queries whose ids differ between the batched answers of sets a and b. */
static int compare_ids(struct ab_run *r, const struct tm_kernels *a, const struct tm_kernels *b,
                       uint32_t *differ)
{
    size_t n = (size_t)r->d->nq * r->sp.k;
    int64_t *ids = malloc(n * sizeof *ids);
    int rc = ids ? 0 : TM_ENOMEM;
    r->sp.kernels = a;
    if (!rc)
        rc = tm_ivf_search(r->ix, r->d->queries.vecs, r->d->nq, &r->sp, r->ids, r->keys);
    r->sp.kernels = b;
    if (!rc)
        rc = tm_ivf_search(r->ix, r->d->queries.vecs, r->d->nq, &r->sp, ids, r->keys);
    *differ = 0;
    for (uint32_t j = 0; !rc && j < r->d->nq; j++) {
        size_t at = (size_t)j * r->sp.k;
        *differ += memcmp(ids + at, r->ids + at, r->sp.k * sizeof *ids) != 0;
    }
    free(ids);
    return rc;
}

static int compare_row(struct ab_run *r, uint32_t nprobe, const struct tm_kernels *other)
{
    const struct tm_kernels *sets[2] = {tm_kernels_best(), other};
    double best[2] = {0, 0};
    uint32_t differ = 0;
    r->sp.nprobe = nprobe;
    int rc = compare_ids(r, sets[0], sets[1], &differ);
    for (int i = 0; !rc && i < 2 * COMPARE_TRIALS; i++) {
        double qps;
        r->sp.kernels = sets[i & 1];
        rc = trial(r, AB_SINGLE, &qps);
        best[i & 1] = qps > best[i & 1] ? qps : best[i & 1];
    }
    r->sp.kernels = NULL;
    if (rc) {
        fprintf(stderr, "bench ann: compare at nprobe %u: %s\n", nprobe, tm_strerror(rc));
        return -1;
    }
    printf("| %u | %.0f | %.0f | %.3f | %u |\n", nprobe, best[0], best[1], best[1] / best[0],
           differ);
    fflush(stdout);
    return 0;
}

static int compare_table(struct ab_run *r, const char *name)
{
    const struct tm_kernels *other = tm_kernels_by_name(name);
    printf("\nkernel sets, QPS 1 query, 1 thread, best of %d trials each taken in turn:\n\n",
           COMPARE_TRIALS);
    printf("| nprobe | %s | %s | %s / %s | queries with other ids |\n", tm_kernels_best()->name,
           name, name, tm_kernels_best()->name);
    printf("| ---: | ---: | ---: | ---: | ---: |\n");
    int rc = 0;
    for (int i = 0; !rc && i < r->cfg->nnprobe; i++)
        rc = compare_row(r, r->cfg->nprobes[i], other);
    return rc;
}

static uint32_t rerank_of(const struct ab_cfg *cfg)
{
    if (cfg->kind == TM_IVF_FLAT)
        return 0;
    if (cfg->rerank >= 0)
        return (uint32_t)cfg->rerank;
    double r = ceil(cfg->rerank_factor * cfg->k);
    return r > (double)(1u << 24) ? 1u << 24 : (uint32_t)r;
}

static int run_table(const struct ab_cfg *cfg, const struct ab_data *d, const struct tm_ivf *ix,
                     uint32_t rerank)
{
    struct ab_pool pool;
    struct ab_run r = {.cfg = cfg, .d = d, .ix = ix, .pool = &pool};
    r.sp = (struct tm_ivf_search_params){.k = cfg->k, .rerank = rerank};
    r.ids = malloc((size_t)d->nq * cfg->k * sizeof *r.ids);
    r.keys = malloc((size_t)d->nq * cfg->k * sizeof *r.keys);
    if (!r.ids || !r.keys || pool_start(&pool, cfg->threads)) {
        fprintf(stderr, "bench ann: out of memory or threads\n");
        free(r.ids);
        free(r.keys);
        return -1;
    }
    printf("search: k %u, rerank %u, %u queries; QPS best of %d trials of %.2f s\n\n", cfg->k,
           rerank, d->nq, TRIALS, cfg->seconds);
    printf("| nprobe | recall@%u | QPS 1 query, 1 thread | QPS batch, 1 thread "
           "| QPS batch, %u threads |\n",
           cfg->k, cfg->threads);
    printf("| ---: | ---: | ---: | ---: | ---: |\n");
    uint32_t differ = 0;
    int rc = 0;
    for (int i = 0; !rc && i < cfg->nnprobe; i++)
        rc = run_row(&r, cfg->nprobes[i], &differ);
    if (!rc && differ)
        printf("\nwarning: %u query searches (of the first %d queries at each nprobe) returned "
               "other ids one at a time than in the batch\n",
               differ, NCHECK);
    if (!rc && cfg->compare)
        rc = compare_table(&r, cfg->compare);
    pool_stop(&pool);
    free(r.ids);
    free(r.keys);
    return rc;
}

/* Applies --kernel: TIDEMARK_KERNEL is read once, at the first kernel use,
 * so this must come before anything searches or builds. -1 after printing
 * why. */
static int apply_kernel(const struct ab_cfg *cfg)
{
    if (cfg->kernel) {
        if (!tm_bench_kernel_ok("bench ann", cfg->kernel))
            return -1;
        setenv("TIDEMARK_KERNEL", cfg->kernel, 1);
        if (strcmp(tm_kernels_best()->name, cfg->kernel)) {
            fprintf(stderr, "bench ann: asked for kernel %s, got %s\n", cfg->kernel,
                    tm_kernels_best()->name);
            return -1;
        }
    }
    const char *env = getenv("TIDEMARK_KERNEL");
    printf("kernel: %s (TIDEMARK_KERNEL=%s)\n", tm_kernels_best()->name, env ? env : "unset");
    return 0;
}

int tm_bench_ann_main(int argc, char **argv)
{
    struct ab_cfg cfg = {.kind = TM_IVF_PQ4,
                         .metric = TM_IVF_L2,
                         .k = 10,
                         .threads = 2,
                         .nprobes = {1, 2, 4, 8, 16},
                         .nnprobe = 5,
                         .rerank = -1,
                         .rerank_factor = DEFAULT_RERANK_FACTOR,
                         .seconds = 1,
                         .seed = 1};
    int rc = parse_opts(argc, argv, &cfg);
    if (rc)
        return rc == 1 ? 0 : rc;
    tm_bench_print_machine(argc, argv);
    if (apply_kernel(&cfg))
        return 1;
    if (cfg.metric != TM_IVF_L2)
        printf("note: recall is against %s, which must rank by %s (texmex files rank by L2)\n",
               cfg.gt, metric_name(cfg.metric));
    struct ab_data d = {0};
    struct tm_ivf *ix = NULL;
    uint32_t rerank = rerank_of(&cfg);
    rc = load_data(&cfg, &d) ? 1 : 0;
    if (!rc && !(ix = build(&cfg, &d, rerank)))
        rc = 1;
    if (!rc)
        rc = run_table(&cfg, &d, ix, rerank) ? 1 : 0;
    if (ix)
        tm_ivf_free(ix);
    tm_texmex_free(&d.base);
    tm_texmex_free(&d.queries);
    tm_texmex_free(&d.gt);
    return rc;
}
