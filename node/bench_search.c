/* `tidemark bench search`: in-process throughput of brute-force vector
 * search and of filtered counts, straight against a struct tm_store (no
 * server, no HTTP), so the numbers are those of the scan and the kernels.
 *
 * Search: for every --dims D, a store of --rows rows (Int64 pk, D-d
 * FloatVector, Int64 tag, Double price, VarChar name) is filled with seeded
 * uniform [0, 1) vectors (or the vectors of an .fvecs file, --data), then
 * for every --nq and --threads, T threads send L2 top-10 requests of nq
 * queries back to back under the store's read lock for --seconds (or
 * MAX_REQUESTS requests per thread, whichever ends first). QPS counts
 * queries, so one nq=100 request is 100 queries; Mdist/s is distances per
 * second (QPS x rows) and GB/s the vector bytes read per second (one pass
 * over the column per request, whatever nq). Before the clock starts,
 * a few queries are checked against a naive double-precision scan: a
 * benchmark of wrong answers is worthless, so a mismatch aborts the run.
 *
 * Filter: a store of --filter-rows rows with 8-d vectors; tm_store_count
 * with a few parsed filters, each repeated for --seconds; reported as rows
 * scanned per second, with the match count checked against a C predicate.
 *
 * The kernel set is the one tm_kernels_best() picks; --kernel NAME sets
 * TIDEMARK_KERNEL before the first kernel call so sets can be compared.
 */
#include "bench_util.h"
#include "distance.h"
#include "expr.h"
#include "search.h"
#include "store.h"
#include "tm_err.h"
#include "tm_time.h"

#include <float.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tm_bench_search_main(int argc, char **argv);

#define MAX_LIST 8
#define MAX_NQ 1024
#define QPOOL 256 /* distinct query start points cycled through */
#define TOPK 10
#define NCHECK 3                  /* queries checked against the naive scan */
#define BATCH_ROWS 10000          /* rows per insert entry */
#define MAX_REQUESTS 100000000ull /* per thread and cell: the count bound */
#define MAX_FILTER_RUNS 100000ull
#define FILTER_DIM 8
#define NAME_KEYS 100000 /* names are "user_<k>", k uniform in [0, NAME_KEYS) */

/* Field ids: tm_schema_validate numbers fields from 100 in order. */
enum { F_ID = 100, F_VEC, F_TAG, F_PRICE, F_NAME, NFIELDS = 5 };

struct sb_cfg {
    uint32_t rows, filter_rows;
    uint32_t dims[MAX_LIST], nqs[MAX_LIST], threads[MAX_LIST];
    int ndims, nnq, nthreads;
    double seconds;
    uint64_t seed;
    const char *kernel, *data;
};

/* ---- data ---- */

/* Where row vectors come from: the rng, or an .fvecs file (records of an
 * int32 dimension then that many floats). */
struct sb_source {
    uint64_t rng;
    FILE *f;
};

/* The next vector into out: 0, 1 at the end of the file, -1 on a bad record. */
static int source_vec(struct sb_source *src, float *out, uint32_t dim)
{
    int32_t d;
    if (!src->f) {
        for (uint32_t i = 0; i < dim; i++)
            out[i] = tm_bench_rng_float(&src->rng);
        return 0;
    }
    if (fread(&d, sizeof d, 1, src->f) != 1)
        return 1;
    if (d != (int32_t)dim || fread(out, sizeof *out, dim, src->f) != dim)
        return -1;
    return 0;
}

/* The dimension of an .fvecs file (its first record's), or 0. */
static uint32_t fvecs_dim(const char *path)
{
    FILE *f = fopen(path, "rb");
    int32_t d = 0;
    if (!f || fread(&d, sizeof d, 1, f) != 1 || d < 2 || d > 32768)
        d = 0;
    if (f)
        fclose(f);
    return (uint32_t)d;
}

/* id Int64 pk, vec FloatVector(dim), tag Int64, price Double, name VarChar. */
static int schema_build(struct tm_schema *sc, uint32_t dim)
{
    static const struct tm_bench_field defs[NFIELDS] = {{"id", TM_T_INT64},
                                                        {"vec", TM_T_FLOAT_VECTOR},
                                                        {"tag", TM_T_INT64},
                                                        {"price", TM_T_DOUBLE},
                                                        {"name", TM_T_VARCHAR}};
    return tm_bench_schema(sc, defs, NFIELDS, dim, 64);
}

/* Appends row `id` to b: its vector from src, the scalars from *rng.
 * 0, 1 when src is exhausted, or a negative error. */
static int push_row(struct tm_batch *b, struct sb_source *src, uint64_t *rng, int64_t id,
                    float *vec, uint32_t dim)
{
    int rc = source_vec(src, vec, dim);
    if (rc)
        return rc;
    int64_t tag = (int64_t)(tm_bench_rng_next(rng) % 1000);
    double price = (double)(tm_bench_rng_next(rng) % 1000000) / 10000.0;
    char name[32];
    int nlen =
        snprintf(name, sizeof name, "user_%u", (unsigned)(tm_bench_rng_next(rng) % NAME_KEYS));
    if ((rc = tm_col_push(tm_batch_col(b, F_ID), &id, sizeof id)) ||
        (rc = tm_col_push(tm_batch_col(b, F_VEC), vec, (size_t)dim * sizeof *vec)) ||
        (rc = tm_col_push(tm_batch_col(b, F_TAG), &tag, sizeof tag)) ||
        (rc = tm_col_push(tm_batch_col(b, F_PRICE), &price, sizeof price)))
        return rc;
    return tm_col_push(tm_batch_col(b, F_NAME), name, (size_t)nlen);
}

/* Inserts up to n rows (ids 0..) in entries of BATCH_ROWS, one partition;
 * *n_out is how many there were (fewer when an .fvecs file ends). */
static int store_load(struct tm_store *s, const struct tm_schema *sc, struct sb_source *src,
                      uint64_t seed, uint32_t n, uint32_t *n_out)
{
    uint32_t dim = (uint32_t)tm_schema_field_by_id(sc, F_VEC)->dim, done = 0;
    float *vec = malloc((size_t)dim * sizeof *vec);
    uint64_t rng = seed ^ 0x5ca1ab1eull;
    int rc = vec ? 0 : TM_ENOMEM, end = 0;
    for (uint64_t ts = 1; !rc && !end && done < n; ts++) {
        struct tm_batch b;
        struct tm_entry_hdr h = {.version = TM_ENTRY_VERSION,
                                 .kind = TM_ENTRY_INSERT,
                                 .ts = ts,
                                 .coll_id = 1,
                                 .part_id = 1};
        tm_batch_init(&b);
        rc = tm_batch_layout_from_schema(&b, sc);
        while (!rc && b.nrows < BATCH_ROWS && done + b.nrows < n) {
            end = push_row(&b, src, &rng, (int64_t)(done + b.nrows), vec, dim);
            if (end < 0)
                rc = end == -1 ? TM_ECORRUPT : end;
            b.nrows += end == 0;
            if (end)
                break;
        }
        pthread_rwlock_wrlock(&s->lock);
        if (!rc && b.nrows)
            rc = tm_store_apply(s, &h, &b, NULL, F_ID);
        pthread_rwlock_unlock(&s->lock);
        done += b.nrows;
        tm_batch_free(&b);
    }
    free(vec);
    *n_out = done;
    return rc;
}

/* Builds and fills a store; NULL after printing why. */
static struct tm_store *store_make(const struct sb_cfg *cfg, uint32_t dim, uint32_t n,
                                   bool use_data, uint32_t *n_out)
{
    struct tm_schema sc;
    struct sb_source src = {.rng = cfg->seed};
    struct tm_store *s = tm_store_new(1);
    int rc = s ? schema_build(&sc, dim) : TM_ENOMEM;
    if (!rc && use_data && !(src.f = fopen(cfg->data, "rb")))
        rc = TM_ENOTFOUND;
    uint64_t t0 = tm_mono_ns();
    if (!rc)
        rc = tm_store_set_schema(s, &sc);
    if (!rc)
        rc = store_load(s, &sc, &src, cfg->seed, n, n_out);
    if (!rc)
        printf("loaded %u rows x %u-d in %.2f s\n", *n_out, dim, (double)(tm_mono_ns() - t0) / 1e9);
    if (src.f)
        fclose(src.f);
    if (s)
        tm_schema_free(&sc);
    if (!rc && *n_out < TOPK)
        rc = TM_EINVAL;
    if (rc) {
        fprintf(stderr, "bench: cannot build the %u-d store: %s\n", dim, tm_strerror(rc));
        tm_store_free(s);
        return NULL;
    }
    return s;
}

/* The query pool: nvec vectors, uniform random, or with --data rows of the
 * store spread over it (queries from the data's own distribution). */
static float *queries_make(const struct sb_cfg *cfg, struct tm_store *s, uint32_t dim,
                           uint32_t nvec, uint32_t nrows)
{
    float *q = malloc((size_t)nvec * dim * sizeof *q);
    uint64_t rng = cfg->seed ^ 0x9e77e5ull;
    const struct tm_col *col = tm_batch_col(&s->segs[0].rows, F_VEC);
    size_t len;
    for (uint32_t i = 0; q && i < nvec; i++) {
        if (!cfg->data) {
            for (uint32_t j = 0; j < dim; j++)
                q[(size_t)i * dim + j] = tm_bench_rng_float(&rng);
            continue;
        }
        uint32_t row = (uint32_t)(((uint64_t)i * 7919u) % nrows);
        memcpy(q + (size_t)i * dim, tm_col_value(col, row, &len), (size_t)dim * sizeof *q);
    }
    return q;
}

/* ---- correctness ---- */

static double exact_l2(const float *a, const float *b, uint32_t dim)
{
    double sum = 0;
    for (uint32_t i = 0; i < dim; i++) {
        double d = (double)a[i] - (double)b[i];
        sum += d * d;
    }
    return sum;
}

/* The float kernels' error bound (distance.h, Exactness), doubled for the
 * rounding of the reported score, plus a little absolute slack. */
static double tol_of(double dist, uint32_t dim)
{
    return 2.0 * (dim + 4) * FLT_EPSILON * dist + 1e-6;
}

/* Exact distances of q to every row into ex[id] (ids are row numbers);
 * returns the TOPK-th smallest. */
static double exact_scan(struct tm_store *s, const float *q, uint32_t dim, uint32_t nrows,
                         double *ex)
{
    double best[TOPK];
    for (int i = 0; i < TOPK; i++)
        best[i] = INFINITY;
    for (uint32_t g = 0; g < s->nsegs; g++) {
        const struct tm_col *ids = tm_batch_col(&s->segs[g].rows, F_ID);
        const struct tm_col *vc = tm_batch_col(&s->segs[g].rows, F_VEC);
        for (uint32_t r = 0; r < s->segs[g].rows.nrows; r++) {
            size_t len;
            int64_t id = tm_col_int64(ids, r);
            double d = exact_l2(q, (const float *)(const void *)tm_col_value(vc, r, &len), dim);
            if (id >= 0 && id < nrows)
                ex[id] = d;
            int j = TOPK - 1;
            if (d >= best[j])
                continue;
            for (; j > 0 && best[j - 1] > d; j--)
                best[j] = best[j - 1];
            best[j] = d;
        }
    }
    return best[TOPK - 1];
}

/* Checks one query's hits: TOPK distinct ids, each score within tolerance
 * of its exact distance, and none farther than the exact TOPK-th (so only
 * near-ties may differ from the exact order). */
static int check_query(const struct tm_col *ids, uint32_t from, const float *scores,
                       const double *ex, double kth, uint32_t nrows, uint32_t dim)
{
    for (uint32_t j = 0; j < TOPK; j++) {
        int64_t id = tm_col_int64(ids, from + j);
        if (id < 0 || id >= nrows)
            return -1;
        for (uint32_t i = 0; i < j; i++)
            if (tm_col_int64(ids, from + i) == id)
                return -1;
        double d = ex[id];
        if (fabs((double)scores[from + j] - d) > tol_of(d, dim) || d > kth + tol_of(kth, dim) ||
            (j && scores[from + j] < scores[from + j - 1]))
            return -1;
    }
    return 0;
}

/* Runs NCHECK queries in one request and compares them with the naive
 * scan; 0, or -1 after printing what differed. */
static int check_search(struct tm_store *s, const float *qpool, uint32_t dim, uint32_t nrows)
{
    struct tm_store_read q = {.ts = UINT64_MAX};
    struct tm_search_spec sp = {.field_id = F_VEC,
                                .metric = TM_METRIC_L2,
                                .nq = NCHECK,
                                .vecs = (const uint8_t *)qpool,
                                .k = TOPK};
    struct tm_search_hits hits;
    struct tm_batch rows;
    double *ex = calloc(nrows, sizeof *ex);
    tm_search_hits_init(&hits);
    tm_batch_init(&rows);
    pthread_rwlock_rdlock(&s->lock);
    int rc = ex ? tm_store_search(s, &q, &sp, &hits) : TM_ENOMEM;
    if (!rc)
        rc = tm_store_rows_of(s, hits.refs, hits.n, &q, &rows);
    const struct tm_col *ids = tm_batch_col(&rows, F_ID);
    if (!rc && (!ids || hits.nq != NCHECK || hits.n != (uint64_t)NCHECK * TOPK)) {
        fprintf(stderr, "bench: WRONG ANSWER: %llu hits for %d queries of top-%d\n",
                (unsigned long long)hits.n, NCHECK, TOPK);
        rc = -1;
    }
    for (uint32_t i = 0, from = 0; !rc && i < NCHECK; from += hits.topks[i++]) {
        double kth = exact_scan(s, qpool + (size_t)i * dim, dim, nrows, ex);
        if (hits.topks[i] != TOPK || check_query(ids, from, hits.scores, ex, kth, nrows, dim)) {
            fprintf(stderr,
                    "bench: WRONG ANSWER: %u-d query %u top-%d differs from the naive scan\n", dim,
                    i, TOPK);
            rc = -1;
        }
    }
    pthread_rwlock_unlock(&s->lock);
    if (rc && rc != -1)
        fprintf(stderr, "bench: search failed: %s\n", tm_strerror(rc));
    tm_batch_free(&rows);
    tm_search_hits_free(&hits);
    free(ex);
    return rc ? -1 : 0;
}

/* ---- timed search ---- */

struct sb_cell {
    struct tm_store *s;
    const float *qpool; /* QPOOL + nq - 1 vectors */
    uint32_t dim, nq;
    uint64_t deadline_ns;
    pthread_barrier_t start;
};

struct sb_worker {
    struct sb_cell *cell;
    uint32_t idx;
    uint64_t requests, busy_ns;
    int rc;
};

static void *search_worker(void *arg)
{
    struct sb_worker *w = arg;
    struct sb_cell *c = w->cell;
    struct tm_store_read q = {.ts = UINT64_MAX};
    struct tm_search_spec sp = {.field_id = F_VEC, .metric = TM_METRIC_L2, .nq = c->nq, .k = TOPK};
    pthread_barrier_wait(&c->start);
    uint64_t now = tm_mono_ns();
    for (uint64_t r = 0; r < MAX_REQUESTS && now < c->deadline_ns; r++) {
        struct tm_search_hits hits;
        size_t at = (size_t)((r * 37 + w->idx * 101) % QPOOL);
        sp.vecs = (const uint8_t *)(c->qpool + at * c->dim);
        tm_search_hits_init(&hits);
        pthread_rwlock_rdlock(&c->s->lock);
        w->rc = tm_store_search(c->s, &q, &sp, &hits);
        pthread_rwlock_unlock(&c->s->lock);
        tm_search_hits_free(&hits);
        uint64_t t = tm_mono_ns();
        w->busy_ns += t - now;
        now = t;
        if (w->rc)
            break;
        w->requests++;
    }
    return NULL;
}

/* One table row: nthreads threads searching for cfg->seconds. */
static int search_cell(const struct sb_cfg *cfg, struct sb_cell *c, uint32_t nthreads,
                       uint32_t nrows)
{
    pthread_t th[64];
    struct sb_worker w[64];
    uint32_t started = 0;
    int rc = 0;
    pthread_barrier_init(&c->start, NULL, nthreads + 1);
    for (; started < nthreads; started++) {
        w[started] = (struct sb_worker){.cell = c, .idx = started};
        if (pthread_create(&th[started], NULL, search_worker, &w[started]))
            break;
    }
    if (started < nthreads) {
        fprintf(stderr, "bench: cannot start a thread\n");
        exit(1); /* the barrier would never open */
    }
    uint64_t t0 = tm_mono_ns();
    c->deadline_ns = t0 + (uint64_t)(cfg->seconds * 1e9);
    pthread_barrier_wait(&c->start);
    uint64_t requests = 0, busy = 0;
    for (uint32_t i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        requests += w[i].requests;
        busy += w[i].busy_ns;
        rc = rc ? rc : w[i].rc;
    }
    double secs = (double)(tm_mono_ns() - t0) / 1e9;
    pthread_barrier_destroy(&c->start);
    if (rc) {
        fprintf(stderr, "bench: search failed: %s\n", tm_strerror(rc));
        return -1;
    }
    double qps = (double)(requests * c->nq) / secs;
    printf("%6u %5u %8u  %-7s %9llu %7.2f %11.1f %9.3f %10.1f %7.2f\n", c->dim, c->nq, nthreads,
           tm_kernels_best()->name, (unsigned long long)requests, secs, qps,
           requests ? (double)busy / 1e6 / (double)requests : 0.0, qps * nrows / 1e6,
           (double)requests / secs * nrows * c->dim * sizeof(float) / 1e9);
    fflush(stdout);
    return 0;
}

/* Every nq x threads cell of one dimension; -1 after printing why. */
static int search_dim(const struct sb_cfg *cfg, uint32_t dim)
{
    uint32_t nrows, maxnq = 1;
    struct tm_store *s = store_make(cfg, dim, cfg->rows, cfg->data != NULL, &nrows);
    for (int i = 0; i < cfg->nnq; i++)
        maxnq = cfg->nqs[i] > maxnq ? cfg->nqs[i] : maxnq;
    float *qpool = s ? queries_make(cfg, s, dim, QPOOL + maxnq, nrows) : NULL;
    int rc = qpool ? check_search(s, qpool, dim, nrows) : -1;
    if (!rc)
        printf("check: %d queries x top-%d agree with a naive double-precision scan\n", NCHECK,
               TOPK);
    printf("%6s %5s %8s  %-7s %9s %7s %11s %9s %10s %7s\n", "dim", "nq", "threads", "kernel",
           "requests", "secs", "QPS", "ms/req", "Mdist/s", "GB/s");
    for (int i = 0; !rc && i < cfg->nnq; i++)
        for (int j = 0; !rc && j < cfg->nthreads; j++) {
            struct sb_cell c = {.s = s, .qpool = qpool, .dim = dim, .nq = cfg->nqs[i]};
            rc = search_cell(cfg, &c, cfg->threads[j], nrows);
        }
    free(qpool);
    tm_store_free(s);
    return rc;
}

/* ---- filtered counts ---- */

static const int64_t g_in_tags[] = {1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987};

static bool match_none(int64_t tag, double price, const char *name, size_t len)
{
    (void)tag, (void)price, (void)name, (void)len;
    return true;
}

static bool match_mod_and(int64_t tag, double price, const char *name, size_t len)
{
    (void)name, (void)len;
    return tag % 7 == 3 && price > 10.5;
}

static bool match_in(int64_t tag, double price, const char *name, size_t len)
{
    (void)price, (void)name, (void)len;
    for (size_t i = 0; i < sizeof g_in_tags / sizeof *g_in_tags; i++)
        if (tag == g_in_tags[i])
            return true;
    return false;
}

static bool match_like(int64_t tag, double price, const char *name, size_t len)
{
    (void)tag, (void)price;
    return len >= 6 && memcmp(name, "user_1", 6) == 0;
}

static bool match_range_or(int64_t tag, double price, const char *name, size_t len)
{
    (void)name, (void)len;
    return (price >= 25.0 && price < 75.0) || tag == 7;
}

struct sb_filter {
    const char *text; /* "" = no filter */
    bool (*match)(int64_t tag, double price, const char *name, size_t len);
};

static const struct sb_filter g_filters[] = {
    {"", match_none},
    {"tag % 7 == 3 and price > 10.5", match_mod_and},
    {"tag in [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987]", match_in},
    {"name like \"user_1%\"", match_like},
    {"price >= 25.0 and price < 75.0 or tag == 7", match_range_or},
};

/* The rows a filter should match, from the columns directly. */
static uint64_t naive_count(const struct tm_store *s, const struct sb_filter *f)
{
    uint64_t n = 0;
    for (uint32_t g = 0; g < s->nsegs; g++) {
        const struct tm_batch *b = &s->segs[g].rows;
        const struct tm_col *tag = tm_batch_col(b, F_TAG), *price = tm_batch_col(b, F_PRICE);
        const struct tm_col *name = tm_batch_col(b, F_NAME);
        for (uint32_t r = 0; r < b->nrows; r++) {
            size_t len;
            double p;
            memcpy(&p, tm_col_value(price, r, &len), sizeof p);
            const char *nm = (const char *)tm_col_value(name, r, &len);
            n += f->match(tm_col_int64(tag, r), p, nm, len);
        }
    }
    return n;
}

/* One filter row: tm_store_count repeated for cfg->seconds. */
static int filter_row(const struct sb_cfg *cfg, struct tm_store *s, const struct sb_filter *f,
                      uint32_t nrows)
{
    struct tm_status st = {0};
    struct tm_expr *e = NULL;
    struct tm_store_read q = {.ts = UINT64_MAX};
    uint64_t n = 0, runs = 0, want = naive_count(s, f);
    int rc = tm_expr_parse(f->text, NULL, s->schema, &e, &st);
    if (rc) {
        fprintf(stderr, "bench: filter '%s': %s\n", f->text,
                rc == TM_ESTATUS ? st.msg : tm_strerror(rc));
        return -1;
    }
    q.filter = e;
    uint64_t t0 = tm_mono_ns(), end = t0 + (uint64_t)(cfg->seconds * 1e9);
    do {
        pthread_rwlock_rdlock(&s->lock);
        rc = tm_store_count(s, &q, &n);
        pthread_rwlock_unlock(&s->lock);
        runs += !rc;
    } while (!rc && runs < MAX_FILTER_RUNS && tm_mono_ns() < end);
    double secs = (double)(tm_mono_ns() - t0) / 1e9;
    tm_expr_free(e);
    if (rc || n != want) {
        fprintf(stderr, "bench: filter '%s': %s (%llu matches, naive count %llu)\n", f->text,
                rc ? tm_strerror(rc) : "WRONG ANSWER", (unsigned long long)n,
                (unsigned long long)want);
        return -1;
    }
    printf("%-68s %6llu %9.2f %9llu %9.2f\n", *f->text ? f->text : "(no filter)",
           (unsigned long long)runs, secs * 1e3 / (double)runs, (unsigned long long)n,
           (double)nrows * (double)runs / secs / 1e6);
    fflush(stdout);
    return 0;
}

static int filter_all(const struct sb_cfg *cfg)
{
    uint32_t nrows;
    struct tm_store *s = store_make(cfg, FILTER_DIM, cfg->filter_rows, false, &nrows);
    int rc = s ? 0 : -1;
    if (s)
        printf("%-68s %6s %9s %9s %9s\n", "filter (tm_store_count, 1 thread)", "runs", "ms/run",
               "matches", "Mrows/s");
    for (size_t i = 0; !rc && i < sizeof g_filters / sizeof *g_filters; i++)
        rc = filter_row(cfg, s, &g_filters[i], nrows);
    tm_store_free(s);
    return rc;
}

/* ---- options ---- */

static const char g_usage[] =
    "usage: tidemark bench search [--rows 100000] [--dims 128,768] [--nq 1,100]\n"
    "                             [--threads 1,2] [--seconds 3] [--filter-rows 1000000]\n"
    "                             [--seed 1] [--kernel scalar|avx2|avx512|neon]\n"
    "                             [--data FILE.fvecs]\n"
    "\n"
    "In process, no server. For each --dims, loads --rows random vectors (or the\n"
    "vectors of --data, whose dimension then replaces --dims) and measures brute-force\n"
    "L2 top-10 search for each --nq and --threads for --seconds: QPS counts queries\n"
    "(an nq=100 request is 100). A few queries are first checked against a naive\n"
    "scan. Then times filtered counts over --filter-rows rows (0 skips them).\n"
    "--kernel sets TIDEMARK_KERNEL, the distance kernel set to use.\n";

static int parse_opts(int argc, char **argv, struct sb_cfg *cfg)
{
    static const struct option opts[] = {{"rows", required_argument, 0, 'r'},
                                         {"dims", required_argument, 0, 'd'},
                                         {"nq", required_argument, 0, 'q'},
                                         {"threads", required_argument, 0, 't'},
                                         {"seconds", required_argument, 0, 's'},
                                         {"filter-rows", required_argument, 0, 'f'},
                                         {"seed", required_argument, 0, 'S'},
                                         {"kernel", required_argument, 0, 'k'},
                                         {"data", required_argument, 0, 'D'},
                                         {"help", no_argument, 0, 'H'},
                                         {0, 0, 0, 0}};
    char *end;
    bool ok = true;
    int c;
    optind = 2;
    while (ok && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            ok = tm_bench_parse_u32(optarg, TOPK, 100000000, &cfg->rows);
            break;
        case 'd':
            ok = (cfg->ndims = tm_bench_parse_list(optarg, cfg->dims, MAX_LIST, 2, 32768)) > 0;
            break;
        case 'q':
            ok = (cfg->nnq = tm_bench_parse_list(optarg, cfg->nqs, MAX_LIST, 1, MAX_NQ)) > 0;
            break;
        case 't':
            ok = (cfg->nthreads = tm_bench_parse_list(optarg, cfg->threads, MAX_LIST, 1, 64)) > 0;
            break;
        case 's':
            cfg->seconds = strtod(optarg, &end);
            ok = end != optarg && !*end && cfg->seconds > 0 && cfg->seconds <= 600;
            break;
        case 'f':
            ok = tm_bench_parse_u32(optarg, 0, 100000000, &cfg->filter_rows);
            break;
        case 'S':
            cfg->seed = strtoull(optarg, &end, 10);
            ok = end != optarg && !*end;
            break;
        case 'k':
            cfg->kernel = optarg;
            break;
        case 'D':
            cfg->data = optarg;
            break;
        case 'H':
            fputs(g_usage, stdout);
            return 1;
        default:
            ok = false;
        }
    }
    if (!ok || optind < argc) {
        fputs(g_usage, stderr);
        return 2;
    }
    return 0;
}

/* Applies --kernel and --data to the configuration; -1 after printing why. */
static int resolve_cfg(struct sb_cfg *cfg)
{
    if (cfg->kernel) {
        if (!tm_bench_kernel_ok("bench", cfg->kernel))
            return -1;
        /* Before the first tm_kernels_best(), which reads it once. */
        setenv("TIDEMARK_KERNEL", cfg->kernel, 1);
    }
    if (cfg->data) {
        cfg->dims[0] = fvecs_dim(cfg->data);
        cfg->ndims = 1;
        if (!cfg->dims[0]) {
            fprintf(stderr, "bench: %s is not a readable .fvecs file\n", cfg->data);
            return -1;
        }
    }
    uint64_t bytes = 0;
    for (int i = 0; i < cfg->ndims; i++)
        bytes = (uint64_t)cfg->rows * cfg->dims[i] * 4 > bytes
                    ? (uint64_t)cfg->rows * cfg->dims[i] * 4
                    : bytes;
    if (bytes > (8ull << 30)) {
        fprintf(stderr, "bench: --rows x --dims needs %llu MiB of vectors; 8 GiB at most\n",
                (unsigned long long)(bytes >> 20));
        return -1;
    }
    return 0;
}

static void print_header(int argc, char **argv, const struct sb_cfg *cfg)
{
    tm_bench_print_machine(argc, argv);
    const char *env = getenv("TIDEMARK_KERNEL");
    printf("kernel: %s (TIDEMARK_KERNEL=%s)\n", tm_kernels_best()->name, env ? env : "unset");
    printf("search: brute force, L2, k=%d, %u rows, %.1f s per cell\n\n", TOPK, cfg->rows,
           cfg->seconds);
    fflush(stdout);
}

int tm_bench_search_main(int argc, char **argv)
{
    struct sb_cfg cfg = {.rows = 100000,
                         .filter_rows = 1000000,
                         .dims = {128, 768},
                         .nqs = {1, 100},
                         .threads = {1, 2},
                         .ndims = 2,
                         .nnq = 2,
                         .nthreads = 2,
                         .seconds = 3,
                         .seed = 1};
    int rc = parse_opts(argc, argv, &cfg);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (resolve_cfg(&cfg))
        return 1;
    print_header(argc, argv, &cfg);
    if (cfg.kernel && strcmp(tm_kernels_best()->name, cfg.kernel)) {
        fprintf(stderr, "bench: asked for kernel %s, got %s\n", cfg.kernel,
                tm_kernels_best()->name);
        return 1;
    }
    for (int i = 0; !rc && i < cfg.ndims; i++) {
        rc = search_dim(&cfg, cfg.dims[i]);
        printf("\n");
    }
    if (!rc && cfg.filter_rows)
        rc = filter_all(&cfg);
    return rc ? 1 : 0;
}
