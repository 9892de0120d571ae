/* k-means training and nearest-centroid assignment (kmeans.h). */
#include "kmeans.h"
#include "distance.h"
#include "tm_err.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Vectors scored per batched kernel call: their scores against every
 * centroid are kept (POINT_CHUNK * k floats: 1 MiB at k = 4096). */
#define POINT_CHUNK 64u
/* The relative nudge that splits a centroid in two for an empty cluster. */
#define SPLIT_EPS (1.0f / 1024.0f)

uint64_t tm_kmeans_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- bytes ---- */

void tm_bytes_of_centroids(const float *c, uint32_t k, uint32_t d, uint8_t *u8_out, float *lo_out,
                           float *step_out)
{
    for (uint32_t t = 0; t < d; t++) {
        float lo = c[t], hi = lo;
        for (uint32_t j = 1; j < k; j++) {
            float v = c[(size_t)j * d + t];
            lo = v < lo ? v : lo, hi = v > hi ? v : hi;
        }
        float step = hi > lo ? (hi - lo) / (float)TM_BYTE_MAX : 1.0f;
        lo_out[t] = lo, step_out[t] = step;
        for (uint32_t j = 0; j < k; j++) {
            float u = (c[(size_t)j * d + t] - lo) / step + 0.5f;
            u8_out[(size_t)j * d + t] = (uint8_t)(u > (float)TM_BYTE_MAX ? (float)TM_BYTE_MAX : u);
        }
    }
}

void tm_bytes_of_query(const float *q, uint32_t d, const float *lo, const float *step, int8_t *w8,
                       float *scale_out, float *base_out)
{
    float mx = 0, base = 0;
    for (uint32_t t = 0; t < d; t++) {
        float w = fabsf(q[t] * step[t]);
        mx = w > mx ? w : mx;
        base += q[t] * lo[t];
    }
    float inv = mx > 0 ? (float)TM_QUERY_BYTE_MAX / mx : 0.0f;
    for (uint32_t t = 0; t < d; t++)
        w8[t] = (int8_t)lrintf(q[t] * step[t] * inv);
    *scale_out = mx > 0 ? mx / (float)TM_QUERY_BYTE_MAX : 0.0f;
    *base_out = base;
}

/* ---- assignment ---- */

struct assign_job {
    const float *c, *cnorm, *x;
    uint32_t k, d;
    int ip;
    uint64_t first, end;
    const struct tm_kernels *kern;
    uint32_t *assign;
    float *scores; /* POINT_CHUNK * k */
};

static uint32_t best_of(const float *ip, const float *cnorm, uint32_t k, int want_ip)
{
    uint32_t best = 0;
    float best_key = FLT_MAX;
    for (uint32_t j = 0; j < k; j++) {
        /* |x - c|^2 = |x|^2 + |c|^2 - 2 x.c; |x|^2 does not change the order */
        float key = want_ip ? -ip[j] : cnorm[j] - 2.0f * ip[j];
        if (key < best_key)
            best_key = key, best = j;
    }
    return best;
}

static void *assign_range(void *arg)
{
    struct assign_job *j = arg;
    for (uint64_t i = j->first; i < j->end; i += POINT_CHUNK) {
        uint64_t n = j->end - i < POINT_CHUNK ? j->end - i : POINT_CHUNK;
        j->kern->ip_f32_batch(j->x + i * j->d, n, j->c, j->k, j->d, j->scores, j->k);
        for (uint64_t r = 0; r < n; r++)
            j->assign[i + r] = best_of(j->scores + r * j->k, j->cnorm, j->k, j->ip);
    }
    return NULL;
}

static int assign_with_norms(const float *c, const float *cnorm, uint32_t k, uint32_t d,
                             const float *x, uint64_t n, int ip, uint32_t threads,
                             const struct tm_kernels *kern, uint32_t *assign_out)
{
    enum { MAX_THREADS = 64 };
    struct assign_job jobs[MAX_THREADS];
    pthread_t tids[MAX_THREADS];
    uint32_t nt = threads == 0 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
    if (n < (uint64_t)nt * POINT_CHUNK)
        nt = 1;
    float *scores = malloc((size_t)nt * POINT_CHUNK * k * sizeof(float));
    if (!scores)
        return TM_ENOMEM;
    bool started[MAX_THREADS] = {false};
    for (uint32_t t = 0; t < nt; t++) {
        jobs[t] = (struct assign_job){c,
                                      cnorm,
                                      x,
                                      k,
                                      d,
                                      ip,
                                      n * t / nt,
                                      n * (t + 1) / nt,
                                      kern,
                                      assign_out,
                                      scores + (size_t)t * POINT_CHUNK * k};
        started[t] = t > 0 && pthread_create(&tids[t], NULL, assign_range, &jobs[t]) == 0;
    }
    assign_range(&jobs[0]);
    for (uint32_t t = 1; t < nt; t++) {
        if (started[t])
            pthread_join(tids[t], NULL);
        else
            assign_range(&jobs[t]); /* the thread could not start: do its share here */
    }
    free(scores);
    return 0;
}

static void norms_of(const struct tm_kernels *kern, const float *c, uint32_t k, uint32_t d,
                     float *out)
{
    for (uint32_t j = 0; j < k; j++)
        out[j] = kern->ip_f32(c + (size_t)j * d, c + (size_t)j * d, d);
}

int tm_kmeans_assign(const float *c, uint32_t k, uint32_t d, const float *x, uint64_t n, int ip,
                     uint32_t threads, const struct tm_kernels *kernels, uint32_t *assign_out)
{
    const struct tm_kernels *kern = kernels ? kernels : tm_kernels_best();
    float *cnorm = malloc((size_t)k * sizeof(float) + 1);
    if (!cnorm)
        return TM_ENOMEM;
    norms_of(kern, c, k, d, cnorm);
    int rc = assign_with_norms(c, cnorm, k, d, x, n, ip, threads, kern, assign_out);
    free(cnorm);
    return rc;
}

/* ---- training ---- */

/* The first `shuffled` indices of a seeded Fisher-Yates shuffle of [0, n).
 * (Each step fixes one more: the first k do not depend on how far the
 * shuffle goes on.) */
static uint64_t *sample_rows(uint64_t n, uint64_t shuffled, uint64_t seed)
{
    uint64_t *idx = malloc(n * sizeof(uint64_t));
    if (!idx)
        return NULL;
    for (uint64_t i = 0; i < n; i++)
        idx[i] = i;
    for (uint64_t i = 0; i < shuffled; i++) {
        uint64_t j = i + tm_kmeans_rand(&seed) % (n - i), t = idx[i];
        idx[i] = idx[j], idx[j] = t;
    }
    return idx;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Moves each centroid to the mean of its members; returns the sizes. */
static void update_means(const float *x, uint64_t n, uint32_t d, uint32_t k, const uint32_t *assign,
                         double *sum, uint64_t *size, float *c)
{
    memset(sum, 0, (size_t)k * d * sizeof(double));
    memset(size, 0, (size_t)k * sizeof(uint64_t));
    for (uint64_t i = 0; i < n; i++) {
        double *s = sum + (size_t)assign[i] * d;
        const float *v = x + i * d;
        for (uint32_t t = 0; t < d; t++)
            s[t] += v[t];
        size[assign[i]]++;
    }
    for (uint32_t j = 0; j < k; j++)
        if (size[j])
            for (uint32_t t = 0; t < d; t++)
                c[(size_t)j * d + t] = (float)(sum[(size_t)j * d + t] / (double)size[j]);
}

/* Empty clusters take half of a large one (chosen with probability growing
 * with its size, seeded), both centroids nudged apart. */
static void split_empty(float *c, uint64_t *size, uint64_t n, uint32_t d, uint32_t k,
                        uint64_t *seed)
{
    for (uint32_t e = 0; e < k; e++) {
        if (size[e] || n <= k)
            continue;
        uint32_t big = 0;
        for (;;) {
            big = (uint32_t)(tm_kmeans_rand(seed) % k);
            double p = (double)(size[big] > 0 ? size[big] - 1 : 0) / (double)(n - k);
            if ((double)(tm_kmeans_rand(seed) >> 11) * 0x1p-53 < p)
                break;
        }
        for (uint32_t t = 0; t < d; t++) {
            float v = c[(size_t)big * d + t], up = v * (1 + SPLIT_EPS), down = v * (1 - SPLIT_EPS);
            c[(size_t)e * d + t] = t % 2 ? up : down;
            c[(size_t)big * d + t] = t % 2 ? down : up;
        }
        size[e] = size[big] / 2;
        size[big] -= size[e];
    }
}

static int lloyd(const float *x, uint64_t n, uint32_t d, uint32_t k, const struct tm_kmeans_opts *o,
                 const struct tm_kernels *kern, float *c)
{
    uint32_t *assign = malloc(n * sizeof(uint32_t));
    double *sum = malloc((size_t)k * d * sizeof(double));
    uint64_t *size = malloc((size_t)k * sizeof(uint64_t));
    float *cnorm = malloc((size_t)k * sizeof(float));
    int rc = assign && sum && size && cnorm ? 0 : TM_ENOMEM;
    uint64_t seed = o->seed ^ 0x6b6d65616e73ull;
    for (uint32_t it = 0; !rc && it < (o->iters ? o->iters : 10); it++) {
        if (o->stop && *o->stop) {
            rc = TM_ECANCELED;
            break;
        }
        norms_of(kern, c, k, d, cnorm);
        rc = assign_with_norms(c, cnorm, k, d, x, n, 0, o->threads, kern, assign);
        if (rc)
            break;
        update_means(x, n, d, k, assign, sum, size, c);
        split_empty(c, size, n, d, k, &seed);
    }
    free(assign), free(sum), free(size), free(cnorm);
    return rc;
}

int tm_kmeans_train(const float *x, uint64_t n, uint32_t d, uint32_t k,
                    const struct tm_kmeans_opts *o, float *centroids_out)
{
    const struct tm_kernels *kern = o->kernels ? o->kernels : tm_kernels_best();
    uint64_t m = o->max_train && o->max_train < n ? o->max_train : n;
    if (m < k && n >= k)
        m = k;
    /* Every row in the sample: only the centroids' seeds need the shuffle. */
    bool all = m == n;
    uint64_t *idx = sample_rows(n, all && k < m ? k : m, o->seed);
    float *xs = all ? NULL : malloc(m * d * sizeof(float) + 1);
    if (!idx || (!all && !xs)) {
        free(idx), free(xs);
        return TM_ENOMEM;
    }
    /* the first k of the shuffle seed the centroids, then the sample is
     * sorted so it is gathered in memory order (all rows: x itself) */
    for (uint32_t j = 0; j < k; j++)
        memcpy(centroids_out + (size_t)j * d, x + idx[j % m] * d, d * sizeof(float));
    if (!all) {
        qsort(idx, m, sizeof(uint64_t), cmp_u64);
        for (uint64_t i = 0; i < m; i++)
            memcpy(xs + i * d, x + idx[i] * d, d * sizeof(float));
    }
    free(idx);
    int rc = m > k ? lloyd(all ? x : xs, m, d, k, o, kern, centroids_out) : 0;
    free(xs);
    return rc;
}
