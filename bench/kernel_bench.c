/* kernel_bench: distances per second of brute-force search with many
 * queries, the old way (l2_f32_many / ip_f32_many once per query) against
 * the batched kernels (l2_f32_batch / ip_f32_batch), on one thread.
 *
 * Workload: nq = 100 queries against a block of n = 512 rows, d = 128 and
 * 768, the same block again and again so that it stays in cache (512 x 768
 * floats is 1.5 MiB: L3 on the development VM, L2 for d = 128). Inputs are
 * uniform in [-1, 1) from a fixed seed. Each figure is the best of five
 * timed runs of at least 0.2 s (0.02 s with --quick), which filters out the
 * other tenants of a shared VM better than a mean would.
 *
 * Usage: kernel_bench [--quick] [set...]   sets as in tm_kernels_by_name;
 * by default the one tm_kernels_best() picks. Built by CMake as the target
 * kernel_bench (not a test): make kernel_bench && bench/kernel_bench */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "distance.h"

#define NQ 100
#define NROWS 512
#define RUNS 5

typedef void (*many_fn)(const float *q, const float *base, size_t n, size_t d, float *out);
typedef void (*batch_fn)(const float *q, size_t nq, const float *base, size_t n, size_t d,
                         float *out, size_t ldo);

struct workload {
    size_t d;
    float *q;    /* NQ x d */
    float *base; /* NROWS x d */
    float *out;  /* NQ x NROWS */
};

/* What one timed call computes: one pass of the old or the new path. */
struct path {
    many_fn many; /* used when batch is NULL */
    batch_fn batch;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void pass(const struct path *p, const struct workload *w)
{
    if (p->batch != NULL) {
        p->batch(w->q, NQ, w->base, NROWS, w->d, w->out, NROWS);
        return;
    }
    for (size_t j = 0; j < NQ; j++)
        p->many(w->q + j * w->d, w->base, NROWS, w->d, w->out + j * NROWS);
}

/* Best distances per second over RUNS runs of at least min_s seconds. */
static double rate(const struct path *p, const struct workload *w, double min_s)
{
    double best = 0;
    pass(p, w); /* warm the caches */
    for (int run = 0; run < RUNS; run++) {
        unsigned long passes = 0;
        double t0 = now_s(), t;
        do {
            pass(p, w);
            passes++;
            t = now_s() - t0;
        } while (t < min_s);
        double r = (double)passes * NQ * NROWS / t;
        if (r > best)
            best = r;
    }
    return best;
}

static uint64_t seed = 42;

static float uniform(void)
{
    uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (float)(z >> 40) * 0x1p-23f - 1.0f;
}

static float *random_floats(size_t n)
{
    float *v = malloc(n * sizeof(float));
    if (v == NULL) {
        fprintf(stderr, "kernel_bench: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        v[i] = uniform();
    return v;
}

/* Squared norm in double. */
static double sq(const float *v, size_t d)
{
    double s = 0;
    for (size_t i = 0; i < d; i++)
        s += (double)v[i] * (double)v[i];
    return s;
}

/* Largest difference between the two paths' results, in units of
 * |q|^2 + |x|^2 (the scale of the batch L2 error bound, distance.h), as a
 * check that the batch computes what the old path does. */
static double max_diff(const struct path *old, const struct path *batch, const struct workload *w,
                       float *scratch)
{
    pass(old, w);
    memcpy(scratch, w->out, NQ * NROWS * sizeof(float));
    pass(batch, w);
    double worst = 0;
    for (size_t j = 0; j < NQ; j++) {
        double qn = sq(w->q + j * w->d, w->d);
        for (size_t i = 0; i < NROWS; i++) {
            size_t p = j * NROWS + i;
            double rel = fabs((double)w->out[p] - (double)scratch[p]) /
                         (qn + sq(w->base + i * w->d, w->d) + 1e-30);
            worst = rel > worst ? rel : worst;
        }
    }
    return worst;
}

static void bench_set(const struct tm_kernels *k, size_t d, double min_s)
{
    struct workload w = {d, random_floats(NQ * d), random_floats(NROWS * d),
                         random_floats(NQ * NROWS)};
    float *scratch = random_floats(NQ * NROWS);
    const struct {
        const char *metric;
        struct path old, batch;
    } m[] = {
        {"L2", {k->l2_f32_many, NULL}, {NULL, k->l2_f32_batch}},
        {"IP", {k->ip_f32_many, NULL}, {NULL, k->ip_f32_batch}},
    };
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        double old = rate(&m[i].old, &w, min_s), batch = rate(&m[i].batch, &w, min_s);
        double diff = max_diff(&m[i].old, &m[i].batch, &w, scratch);
        printf("%-7s d=%-4zu %s  per-query %8.1f M/s   batch %8.1f M/s   x%.2f   "
               "(max diff %.1e of |q|^2+|x|^2)\n",
               k->name, d, m[i].metric, old * 1e-6, batch * 1e-6, batch / old, diff);
    }
    free(w.q);
    free(w.base);
    free(w.out);
    free(scratch);
}

int main(int argc, char **argv)
{
    double min_s = 0.2;
    int named = 0;
    static const size_t dims[] = {128, 768};

    printf("nq=%d queries x n=%d rows, one thread, distances per second (best of %d)\n", NQ, NROWS,
           RUNS);
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--quick") == 0) {
            min_s = 0.02;
            continue;
        }
        const struct tm_kernels *k = tm_kernels_by_name(argv[a]);
        if (k == NULL) {
            fprintf(stderr, "kernel_bench: set %s is not available here\n", argv[a]);
            return 2;
        }
        named = 1;
        for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++)
            bench_set(k, dims[i], min_s);
    }
    if (!named)
        for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++)
            bench_set(tm_kernels_best(), dims[i], min_s);
    return 0;
}
