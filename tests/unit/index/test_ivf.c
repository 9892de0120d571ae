/* The IVF indexes (index/ivf.h) on real data: recall against exact ground
 * truth on sift5k-ngt (real SIFT, 128-d, 100 queries) and on the first
 * FM_N rows of fashion-mnist-784 (784-d, FM_NQ queries, ground truth
 * computed here by brute force in double, since the shipped one ranks the
 * full base), every kernel set against scalar, the metrics, filters, bad
 * parameters, and the index files (round trip, every damaged byte and
 * truncation refused).
 *
 * The data sets come from TM_SHARED_DATA (a compile definition set by
 * tests/unit/index/CMakeLists.txt to ../shared/data beside the source
 * tree; the environment variable of that name overrides it). A missing
 * data set fails the test: CI always has it.
 *
 * Sizes. An optimised build runs on all 4,900 sift5k rows and 10,000
 * fashion-mnist rows (not more: the IVF_PQ codebooks train on up to 65,536
 * residuals x 256 centroids x 784 dimensions, about 10 s here). The
 * sanitizer build (-O0, ASan) is some 25 times slower, so there (LIGHT)
 * every test runs on the first 600 sift rows and 1,500 fashion-mnist rows
 * with 4 coarse k-means iterations, 8-bit IVF_PQ (13 s to train on 1,000
 * sift rows there, minutes on 784-d rows) is built on sift only, and a few
 * loops take fewer nprobe values. The same assertions hold in both.
 *
 * Exactness. sift5k's values are integers in [0, 191]: every squared L2
 * distance, norm and inner product of two of its vectors is an integer
 * below 2^24, so every kernel set computes them exactly in float and the
 * index must return the ground truth's ids, ties by smaller row, exactly.
 * fashion-mnist's are integers in [0, 255] over 784 dimensions, whose sums
 * reach 5e7 > 2^24: there a result counts as right when its exact distance
 * is within the kernels' error bound (distance.h) of the true k-th one.
 *
 * Usage: test_ivf [cmocka name filter].
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <float.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "distance.h"
#include "ivf.h"
#include "texmex.h"
#include "tm_err.h"

#ifndef TM_SHARED_DATA
#error "TM_SHARED_DATA must name the shared data directory (see CMakeLists.txt)"
#endif

#if defined(__SANITIZE_ADDRESS__) || !defined(__OPTIMIZE__)
#define LIGHT 1
#define SIFT_N 600
#define FM_N 1500
#define FM_NQ 50
#else
#define LIGHT 0
#define SIFT_N 4900
#define FM_N 10000
#define FM_NQ 100
#endif
#define SIFT_ROWS 4900 /* in the file */
#define K 10
#define NLIST 64
#define SEED 7
#define RERANK 40 /* the fixed re-rank of the recall curves: 4 * K */
#define NKINDS 3
#define NFLIPS 300 /* damaged copies of each index file */

enum { SIFT, FMNIST, NDS };

/* A data set: base x (n x dim), queries q (nq x dim), and the exact L2
 * ground truth gt (nq x gtk ids, ties by smaller row; gtkey their
 * distances when computed here, else NULL). */
struct ds {
    const char *name;
    uint32_t dim, nq, gtk;
    uint64_t n;
    float *x, *q;
    int32_t *gt;
    double *gtkey;
    double *xnorm2;    /* squared norm of every row */
    double max_xnorm2; /* the largest of them */
    /* The PQ shapes tested: IVF_PQ (8 bits) and IVF_PQ4 sub-quantizers. */
    uint32_t m8, m4;
    bool pq8; /* IVF_PQ is tested on it */
};

static struct ds g_ds[NDS];
static struct tm_ivf *g_ix[NDS][NKINDS]; /* L2 indexes, built on first use */
static char g_tmp[] = "/tmp/test_ivf.XXXXXX";

static const enum tm_ivf_kind g_kinds[NKINDS] = {TM_IVF_FLAT, TM_IVF_PQ, TM_IVF_PQ4};
static const char *const g_kind_names[NKINDS] = {"IVF_FLAT", "IVF_PQ", "IVF_PQ4"};

/* ---- data ---- */

static const char *data_dir(void)
{
    const char *e = getenv("TM_SHARED_DATA");
    return e && *e ? e : TM_SHARED_DATA;
}

/* Reads <data>/<file> (max_rows rows, 0: all) or fails the test. */
static void read_or_fail(const char *file, uint64_t max_rows, struct tm_texmex *out)
{
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/%s", data_dir(), file);
    int rc = tm_texmex_read(path, max_rows, out, err, sizeof err);
    if (rc)
        fail_msg("cannot read the test data set (%s): %s. The data sets live in "
                 "../shared/data beside the source tree, or where TM_SHARED_DATA says",
                 tm_strerror(rc), err);
}

/* Squared L2, inner product and squared norm in double (exact for the
 * integer-valued data sets here), four accumulators for speed. */
static double l2_d(const float *a, const float *b, uint32_t d)
{
    double s[4] = {0, 0, 0, 0};
    uint32_t i = 0;
    for (; i + 4 <= d; i += 4)
        for (int t = 0; t < 4; t++) {
            double v = (double)a[i + t] - (double)b[i + t];
            s[t] += v * v;
        }
    for (; i < d; i++)
        s[0] += ((double)a[i] - (double)b[i]) * ((double)a[i] - (double)b[i]);
    return (s[0] + s[1]) + (s[2] + s[3]);
}

static double ip_d(const float *a, const float *b, uint32_t d)
{
    double s[4] = {0, 0, 0, 0};
    uint32_t i = 0;
    for (; i + 4 <= d; i += 4)
        for (int t = 0; t < 4; t++)
            s[t] += (double)a[i + t] * (double)b[i + t];
    for (; i < d; i++)
        s[0] += (double)a[i] * (double)b[i];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

/* The exact key (smaller is better, as ivf.h) of row `row` for query q. */
static double key_d(const struct ds *d, enum tm_ivf_metric m, const float *q, uint64_t row)
{
    const float *x = d->x + row * d->dim;
    switch (m) {
    case TM_IVF_L2:
        return l2_d(q, x, d->dim);
    case TM_IVF_IP:
        return -ip_d(q, x, d->dim);
    default: {
        double qn = sqrt(ip_d(q, q, d->dim)), xn = sqrt(d->xnorm2[row]);
        return qn > 0 && xn > 0 ? -ip_d(q, x, d->dim) / (qn * xn) : 0;
    }
    }
}

static bool allowed(const uint64_t *allow, uint64_t row)
{
    return !allow || (allow[row >> 6] >> (row & 63) & 1);
}

/* Brute force: the kk best rows of every query by exact key, ties by
 * smaller row, into ids_out / keys_out (nq x kk; -1 and +inf past the
 * allowed rows). */
static void brute(const struct ds *d, enum tm_ivf_metric m, uint32_t kk, const uint64_t *allow,
                  int32_t *ids_out, double *keys_out)
{
    for (uint32_t j = 0; j < d->nq; j++) {
        int32_t *ids = ids_out + (size_t)j * kk;
        double *keys = keys_out + (size_t)j * kk;
        for (uint32_t r = 0; r < kk; r++)
            ids[r] = -1, keys[r] = INFINITY;
        for (uint64_t row = 0; row < d->n; row++) {
            if (!allowed(allow, row))
                continue;
            double key = key_d(d, m, d->q + (size_t)j * d->dim, row);
            if (key >= keys[kk - 1]) /* a tie loses to the smaller row kept */
                continue;
            uint32_t r = kk - 1;
            for (; r > 0 && keys[r - 1] > key; r--)
                ids[r] = ids[r - 1], keys[r] = keys[r - 1];
            ids[r] = (int32_t)row, keys[r] = key;
        }
    }
}

static void ds_norms(struct ds *d)
{
    d->xnorm2 = malloc(d->n * sizeof *d->xnorm2);
    assert_non_null(d->xnorm2);
    for (uint64_t i = 0; i < d->n; i++) {
        d->xnorm2[i] = ip_d(d->x + i * d->dim, d->x + i * d->dim, d->dim);
        d->max_xnorm2 = d->xnorm2[i] > d->max_xnorm2 ? d->xnorm2[i] : d->max_xnorm2;
    }
}

/* Computes the exact L2 ground truth of d (top K) into gt and gtkey. */
static void ds_truth(struct ds *d)
{
    d->gtk = K;
    d->gt = malloc((size_t)d->nq * K * sizeof *d->gt);
    d->gtkey = malloc((size_t)d->nq * K * sizeof *d->gtkey);
    assert_non_null(d->gt);
    assert_non_null(d->gtkey);
    brute(d, TM_IVF_L2, K, NULL, d->gt, d->gtkey);
}

/* The first n rows of sift5k and its 100 queries, with the shipped ground
 * truth when n is every row. */
static void load_sift(struct ds *d, uint64_t n)
{
    struct tm_texmex b, q, g = {0};
    read_or_fail("sift5k-ngt/sift5k_base.fvecs", n, &b);
    read_or_fail("sift5k-ngt/sift5k_query.fvecs", 0, &q);
    assert_int_equal(b.n, n);
    assert_int_equal(q.n, 100);
    assert_int_equal(b.dim, 128);
    assert_int_equal(q.dim, 128);
    if (n == SIFT_ROWS) {
        read_or_fail("sift5k-ngt/sift5k_groundtruth.ivecs", 0, &g);
        assert_int_equal(g.n, 100);
        assert_true(g.dim >= K);
    }
    *d = (struct ds){.name = "sift5k",
                     .dim = b.dim,
                     .nq = (uint32_t)q.n,
                     .gtk = g.dim,
                     .n = b.n,
                     .x = b.vecs,
                     .q = q.vecs,
                     .gt = g.ids,
                     .m8 = 16,
                     .m4 = 64,
                     .pq8 = true};
    ds_norms(d);
    if (!d->gt)
        ds_truth(d);
}

/* The first FM_N rows and FM_NQ queries; the ground truth is computed
 * here (the shipped one ranks the full base). m4 = 49 is odd, so IVF_PQ4
 * pads a sub-space. */
static void load_fmnist(struct ds *d)
{
    struct tm_texmex b, q;
    read_or_fail("fashion-mnist-784/fmnist_base.bvecs", FM_N, &b);
    read_or_fail("fashion-mnist-784/fmnist_query.bvecs", FM_NQ, &q);
    assert_int_equal(b.n, FM_N);
    assert_int_equal(q.n, FM_NQ);
    assert_int_equal(b.dim, 784);
    *d = (struct ds){.name = "fmnist",
                     .dim = b.dim,
                     .nq = (uint32_t)q.n,
                     .n = b.n,
                     .x = b.vecs,
                     .q = q.vecs,
                     .m8 = 16,
                     .m4 = 49,
                     .pq8 = !LIGHT};
    ds_norms(d);
    ds_truth(d);
}

static const struct ds *ds_get(int which)
{
    struct ds *d = &g_ds[which];
    if (!d->x && which == SIFT)
        load_sift(d, SIFT_N);
    else if (!d->x)
        load_fmnist(d);
    return d;
}

/* Whether kind (an index into g_kinds) is tested on data set `which`. */
static bool kind_on(int which, int kind)
{
    return g_kinds[kind] != TM_IVF_PQ || ds_get(which)->pq8;
}

/* ---- index helpers ---- */

static struct tm_ivf_params params_of(const struct ds *d, int kind, enum tm_ivf_metric metric)
{
    return (struct tm_ivf_params){
        .kind = g_kinds[kind],
        .metric = metric,
        .dim = d->dim,
        .nlist = NLIST,
        .m = g_kinds[kind] == TM_IVF_PQ    ? d->m8
             : g_kinds[kind] == TM_IVF_PQ4 ? d->m4
                                           : 0,
        .nbits = g_kinds[kind] == TM_IVF_PQ    ? 8
                 : g_kinds[kind] == TM_IVF_PQ4 ? 4
                                               : 0,
        .seed = SEED,
        .iters = LIGHT ? 4 : 0,
        .threads = 2,
    };
}

static struct tm_ivf *build(const struct ds *d, int kind, enum tm_ivf_metric metric)
{
    struct tm_ivf_params p = params_of(d, kind, metric);
    struct tm_ivf *ix = NULL;
    int rc = tm_ivf_build(&p, d->x, d->n, NULL, &ix);
    if (rc)
        fail_msg("%s %s build: %s", d->name, g_kind_names[kind], tm_strerror(rc));
    assert_int_equal(tm_ivf_size(ix), d->n);
    return ix;
}

/* The L2 index of a data set and kind, built once. */
static const struct tm_ivf *ix_get(int which, int kind)
{
    if (!g_ix[which][kind])
        g_ix[which][kind] = build(ds_get(which), kind, TM_IVF_L2);
    return g_ix[which][kind];
}

/* Searches every query of d at once; ids and keys (nq x K, malloc'd). */
static void search_all(const struct tm_ivf *ix, const struct ds *d, uint32_t nprobe,
                       uint32_t rerank, const struct tm_kernels *kern, const uint64_t *allow,
                       int64_t **ids_out, float **keys_out)
{
    struct tm_ivf_search_params sp = {
        .nprobe = nprobe, .k = K, .rerank = rerank, .allow = allow, .kernels = kern};
    *ids_out = malloc((size_t)d->nq * K * sizeof **ids_out);
    *keys_out = malloc((size_t)d->nq * K * sizeof **keys_out);
    assert_non_null(*ids_out);
    assert_non_null(*keys_out);
    assert_int_equal(tm_ivf_search(ix, d->q, d->nq, &sp, *ids_out, *keys_out), 0);
}

/* K-recall@K: the share of the reference's first K ids (gt rows of gtk)
 * found among the K returned. */
static double recall_ids(const struct ds *d, const int64_t *ids, const int32_t *gt, uint32_t gtk)
{
    uint64_t hits = 0;
    for (uint32_t j = 0; j < d->nq; j++)
        for (uint32_t a = 0; a < K; a++)
            for (uint32_t b = 0; b < K; b++)
                if (ids[(size_t)j * K + a] == gt[(size_t)j * gtk + b]) {
                    hits++;
                    break;
                }
    return (double)hits / ((double)d->nq * K);
}

/* The kernels' error bound on a key of query q (distance.h, Exactness and
 * Batches): relative to the norms, not to the key. */
static double tol_of(const struct ds *d, enum tm_ivf_metric m, const float *q)
{
    double qn2 = ip_d(q, q, d->dim), e = (d->dim + 8) * (double)FLT_EPSILON;
    if (m == TM_IVF_L2)
        return e * (qn2 + d->max_xnorm2);
    if (m == TM_IVF_IP)
        return e * sqrt(qn2 * d->max_xnorm2);
    return 4 * e; /* unit vectors, and their normalisation */
}

/* Checks that the K results of every query are distinct rows, sorted by
 * key, each with a reported key within tolerance of its exact one and
 * none worse than the exact K-th key beyond tolerance: the exact answer up
 * to near ties. Returns the number of queries that fail. */
static uint32_t check_exact(const struct ds *d, enum tm_ivf_metric m, const int64_t *ids,
                            const float *keys, const double *refkey, const uint64_t *allow)
{
    uint32_t bad = 0;
    for (uint32_t j = 0; j < d->nq; j++) {
        const float *q = d->q + (size_t)j * d->dim;
        double tol = tol_of(d, m, q), kth = refkey[(size_t)j * K + K - 1];
        bool ok = true;
        for (uint32_t r = 0; ok && r < K; r++) {
            int64_t id = ids[(size_t)j * K + r];
            if (id < 0 || (uint64_t)id >= d->n || !allowed(allow, (uint64_t)id)) {
                ok = isinf(kth) && id == -1; /* fewer allowed rows than K */
                continue;
            }
            for (uint32_t s = 0; s < r; s++)
                ok = ok && ids[(size_t)j * K + s] != id;
            double ex = key_d(d, m, q, (uint64_t)id);
            float key = keys[(size_t)j * K + r];
            ok = ok && fabs((double)key - ex) <= tol && ex <= kth + tol;
            ok = ok && (r == 0 || keys[(size_t)j * K + r - 1] <= key);
        }
        if (!ok && bad++ < 3)
            print_message("%s query %u: not the exact answer (first id %lld)\n", d->name, j,
                          (long long)ids[(size_t)j * K]);
    }
    return bad;
}

/* ---- ground truth ---- */

/* The reader and the brute force agree with the shipped ground truth on
 * the whole of sift5k: all 100 ids of every query, ties by smaller row
 * (exact on this data). */
static void sift_ground_truth(void **state)
{
    (void)state;
    struct ds d;
    load_sift(&d, SIFT_ROWS);
    int32_t *ids = malloc((size_t)d.nq * d.gtk * sizeof *ids);
    double *keys = malloc((size_t)d.nq * d.gtk * sizeof *keys);
    assert_non_null(ids);
    assert_non_null(keys);
    brute(&d, TM_IVF_L2, d.gtk, NULL, ids, keys);
    assert_memory_equal(ids, d.gt, (size_t)d.nq * d.gtk * sizeof *ids);
    free(ids), free(keys);
    free(d.x), free(d.q), free(d.gt), free(d.xnorm2);
}

/* ---- recall ---- */

/* Recall at nprobe 1, 2, 4, ..., NLIST never decreases for IVF_FLAT:
 * more probes only add exact candidates. The PQ kinds with a fixed
 * re-rank may lose a little: with R candidates kept by approximate key, a
 * new list can push a true neighbour out of the R (this happens with exact
 * float tables too), and IVF_PQ4 quantizes all of a query's tables with
 * one scale that grows with the lists probed, so the keys of the first
 * lists get coarser. On fashion-mnist (IVF_PQ4 m=49, R=40) that costs 2
 * hits in 1,000 between nprobe 8 and 16, where float tables lose none;
 * PQ_DIP allows that much and no more. The curve is printed. */
#define PQ_DIP 0.005
static void recall_monotone(int which)
{
    const struct ds *d = ds_get(which);
    for (int kind = 0; kind < NKINDS; kind++) {
        if (!kind_on(which, kind))
            continue;
        const struct tm_ivf *ix = ix_get(which, kind);
        bool flat = g_kinds[kind] == TM_IVF_FLAT;
        uint32_t rerank = flat ? 0 : RERANK;
        double prev = -1, worst = 0;
        char line[512];
        int len =
            snprintf(line, sizeof line, "%s %s rerank %u:", d->name, g_kind_names[kind], rerank);
        for (uint32_t np = 1; np <= NLIST; np *= 2) {
            int64_t *ids;
            float *keys;
            search_all(ix, d, np, rerank, NULL, NULL, &ids, &keys);
            double r = recall_ids(d, ids, d->gt, d->gtk);
            if (len > 0 && (size_t)len < sizeof line)
                len += snprintf(line + len, sizeof line - (size_t)len, " %u:%.4f", np, r);
            worst = prev - r > worst ? prev - r : worst;
            prev = r;
            free(ids);
            free(keys);
        }
        print_message("%s\n", line);
        if (worst > (flat ? 0 : PQ_DIP))
            fail_msg("%s %s: recall fell by %.4f as nprobe grew", d->name, g_kind_names[kind],
                     worst);
    }
}

static void recall_monotone_sift(void **state)
{
    (void)state;
    recall_monotone(SIFT);
}

static void recall_monotone_fmnist(void **state)
{
    (void)state;
    recall_monotone(FMNIST);
}

/* IVF_FLAT probing every list is exact: on sift5k the ground truth's ids
 * in order, with keys equal to the exact distances. */
static void flat_full_probe_sift(void **state)
{
    (void)state;
    const struct ds *d = ds_get(SIFT);
    int64_t *ids;
    float *keys;
    search_all(ix_get(SIFT, 0), d, NLIST, 0, NULL, NULL, &ids, &keys);
    for (uint32_t j = 0; j < d->nq; j++)
        for (uint32_t r = 0; r < K; r++) {
            int64_t id = ids[(size_t)j * K + r];
            assert_int_equal(id, d->gt[(size_t)j * d->gtk + r]);
            assert_true((double)keys[(size_t)j * K + r] ==
                        l2_d(d->q + (size_t)j * d->dim, d->x + (size_t)id * d->dim, d->dim));
        }
    free(ids);
    free(keys);
}

/* On fashion-mnist's first FM_N rows: exact up to near ties. */
static void flat_full_probe_fmnist(void **state)
{
    (void)state;
    const struct ds *d = ds_get(FMNIST);
    int64_t *ids;
    float *keys;
    search_all(ix_get(FMNIST, 0), d, NLIST, 0, NULL, NULL, &ids, &keys);
    assert_int_equal(check_exact(d, TM_IVF_L2, ids, keys, d->gtkey, NULL), 0);
    print_message("fmnist IVF_FLAT nprobe=nlist: recall by ids %.4f\n",
                  recall_ids(d, ids, d->gt, K));
    free(ids);
    free(keys);
}

/* IVF_PQ4 with a large re-rank probing every list finds nearly all. */
static void pq4_rerank_recall(void **state)
{
    (void)state;
    static const uint32_t reranks[] = {40, 100, 200};
    for (int which = 0; which < NDS; which++) {
        const struct ds *d = ds_get(which);
        double r = 0;
        for (size_t i = 0; i < sizeof reranks / sizeof reranks[0]; i++) {
            int64_t *ids;
            float *keys;
            search_all(ix_get(which, 2), d, NLIST, reranks[i], NULL, NULL, &ids, &keys);
            r = recall_ids(d, ids, d->gt, d->gtk);
            print_message("%s IVF_PQ4 m=%u nprobe=%u rerank %u: recall %.4f\n", d->name, d->m4,
                          NLIST, reranks[i], r);
            free(ids);
            free(keys);
        }
        if (r < 0.99)
            fail_msg("%s IVF_PQ4 rerank %u at nprobe=nlist: recall %.4f < 0.99", d->name,
                     reranks[2], r);
    }
}

/* A query's answer does not depend on the batch it comes in: a batch of
 * 65 queries (a chunk of 64 and a last chunk of one, if the search works
 * in chunks) against each of them alone. */
static void batch_equals_single(void **state)
{
    (void)state;
    for (int which = 0; which < NDS; which++) {
        const struct ds *d = ds_get(which);
        uint32_t nb = d->nq < 65 ? d->nq : 65;
        int64_t *ids = malloc((size_t)nb * K * sizeof *ids);
        float *keys = malloc((size_t)nb * K * sizeof *keys);
        assert_true(ids && keys);
        for (int kind = 0; kind < NKINDS; kind++) {
            if (!kind_on(which, kind))
                continue;
            const struct tm_ivf *ix = ix_get(which, kind);
            struct tm_ivf_search_params sp = {.nprobe = 4, .k = K, .rerank = kind ? RERANK : 0};
            assert_int_equal(tm_ivf_search(ix, d->q, nb, &sp, ids, keys), 0);
            uint32_t differ = 0;
            for (uint32_t j = 0; j < nb; j++) {
                int64_t one[K];
                float onek[K];
                assert_int_equal(tm_ivf_search(ix, d->q + (size_t)j * d->dim, 1, &sp, one, onek),
                                 0);
                bool same = memcmp(one, ids + (size_t)j * K, sizeof one) == 0 &&
                            memcmp(onek, keys + (size_t)j * K, sizeof onek) == 0;
                if (!same && differ++ < 3)
                    print_message("%s %s query %u: alone %lld %.9g, in the batch %lld %.9g\n",
                                  d->name, g_kind_names[kind], j, (long long)one[0],
                                  (double)onek[0], (long long)ids[(size_t)j * K],
                                  (double)keys[(size_t)j * K]);
            }
            if (differ)
                fail_msg("%s %s: %u of %u queries answered otherwise alone than batched", d->name,
                         g_kind_names[kind], differ, nb);
        }
        free(ids);
        free(keys);
    }
}

/* ---- kernel sets ---- */

/* Every kernel set this build and CPU have returns the ids scalar returns,
 * for every kind, at a few nprobe (struct tm_ivf_search_params.kernels).
 * A set the CPU lacks is reported, not passed silently. */
static void kernels_agree(void **state)
{
    (void)state;
    static const char *const sets[] = {"avx2", "avx512", "neon"};
    /* nprobe values per data set: every list of fashion-mnist with the
     * scalar kernels is slow, and more so under LIGHT */
    static const uint32_t probes[NDS][3] = {{1, LIGHT ? 16 : 8, LIGHT ? 16 : NLIST},
                                            {LIGHT ? 4 : 1, 8, 8}};
    const struct tm_kernels *scalar = tm_kernels_by_name("scalar");
    assert_non_null(scalar);
    int compared = 0;
    for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++) {
        const struct tm_kernels *kern = tm_kernels_by_name(sets[s]);
        if (!kern) {
            print_message("%s: not compiled in or not run by this CPU, not compared\n", sets[s]);
            continue;
        }
        for (int which = 0; which < NDS; which++) {
            const struct ds *d = ds_get(which);
            for (int kind = 0; kind < NKINDS; kind++)
                for (size_t p = 0; kind_on(which, kind) && p < 3; p++) {
                    if (p && probes[which][p] == probes[which][p - 1])
                        continue;
                    uint32_t rerank = kind ? RERANK : 0;
                    int64_t *a, *b;
                    float *ak, *bk;
                    search_all(ix_get(which, kind), d, probes[which][p], rerank, scalar, NULL, &a,
                               &ak);
                    search_all(ix_get(which, kind), d, probes[which][p], rerank, kern, NULL, &b,
                               &bk);
                    uint32_t differ = 0;
                    for (uint32_t j = 0; j < d->nq; j++)
                        differ += memcmp(a + (size_t)j * K, b + (size_t)j * K, K * sizeof *a) != 0;
                    if (differ)
                        fail_msg("%s %s %s nprobe %u: %u of %u queries differ from scalar", sets[s],
                                 d->name, g_kind_names[kind], probes[which][p], differ, d->nq);
                    free(a), free(b), free(ak), free(bk);
                }
        }
        print_message("%s: same ids as scalar\n", sets[s]);
        compared++;
    }
    print_message("%d SIMD set(s) compared with scalar\n", compared);
}

/* ---- metrics ---- */

/* IVF_FLAT probing every list is exact under IP and COSINE too, against a
 * brute force by the same metric; IVF_PQ4 with a re-rank comes close. */
static void metrics_ip_cosine(void **state)
{
    (void)state;
    static const enum tm_ivf_metric metrics[] = {TM_IVF_IP, TM_IVF_COSINE};
    static const char *const names[] = {"IP", "COSINE"};
    for (int which = 0; which < NDS; which++) {
        const struct ds *d = ds_get(which);
        int32_t *ref = malloc((size_t)d->nq * K * sizeof *ref);
        double *refkey = malloc((size_t)d->nq * K * sizeof *refkey);
        assert_non_null(ref);
        assert_non_null(refkey);
        for (int mi = 0; mi < 2; mi++) {
            brute(d, metrics[mi], K, NULL, ref, refkey);
            for (int kind = 0; kind < NKINDS; kind += 2) { /* IVF_FLAT, IVF_PQ4 */
                /* a PQ build per metric costs too much under LIGHT: there
                 * only COSINE (its own re-rank path) on sift */
                if (kind && LIGHT && (which == FMNIST || metrics[mi] == TM_IVF_IP))
                    continue;
                struct tm_ivf *ix = build(d, kind, metrics[mi]);
                int64_t *ids;
                float *keys;
                search_all(ix, d, NLIST, kind ? 200 : 0, NULL, NULL, &ids, &keys);
                double r = recall_ids(d, ids, ref, K);
                print_message("%s %s %s nprobe=nlist: recall %.4f\n", d->name, g_kind_names[kind],
                              names[mi], r);
                if (kind == 0) {
                    assert_int_equal(check_exact(d, metrics[mi], ids, keys, refkey, NULL), 0);
                    if (which == SIFT && metrics[mi] == TM_IVF_IP) /* exact in float */
                        for (size_t i = 0; i < (size_t)d->nq * K; i++)
                            assert_int_equal(ids[i], ref[i]);
                } else if (r < 0.85) {
                    /* IP assigns rows to the centroid of largest inner
                     * product: on fashion-mnist lists are lopsided (0 to
                     * 2,409 rows of 10,000) and residuals large, and 4-bit
                     * codes reach 0.89 there (0.99 under L2 and COSINE). */
                    fail_msg("%s IVF_PQ4 %s rerank 200: recall %.4f < 0.85", d->name, names[mi], r);
                }
                free(ids);
                free(keys);
                tm_ivf_free(ix);
            }
        }
        free(ref);
        free(refkey);
    }
}

/* ---- filters ---- */

/* With an allow bitmap, IVF_FLAT probing every list is the exact answer
 * over the allowed rows; the PQ kinds return allowed rows only; with fewer
 * allowed rows than k the rest is -1 and +inf. */
static void allow_filter(void **state)
{
    (void)state;
    const struct ds *d = ds_get(SIFT);
    size_t words = (d->n + 63) / 64;
    uint64_t *allow = calloc(words, sizeof *allow);
    int32_t *ref = malloc((size_t)d->nq * K * sizeof *ref);
    double *refkey = malloc((size_t)d->nq * K * sizeof *refkey);
    assert_true(allow && ref && refkey);
    for (uint64_t i = 0; i < d->n; i += 3)
        allow[i >> 6] |= 1ull << (i & 63);
    brute(d, TM_IVF_L2, K, allow, ref, refkey);
    for (int kind = 0; kind < NKINDS; kind++) {
        int64_t *ids;
        float *keys;
        /* IVF_FLAT probes every list to be exact; PQ kinds need not */
        search_all(ix_get(SIFT, kind), d, kind ? 16 : NLIST, kind ? RERANK : 0, NULL, allow, &ids,
                   &keys);
        for (size_t i = 0; i < (size_t)d->nq * K; i++)
            assert_true(ids[i] >= 0 && ids[i] % 3 == 0);
        if (kind == 0)
            for (size_t i = 0; i < (size_t)d->nq * K; i++)
                assert_int_equal(ids[i], ref[i]);
        free(ids);
        free(keys);
    }
    /* five allowed rows */
    uint64_t stride = d->n / 5;
    memset(allow, 0, words * sizeof *allow);
    for (uint64_t i = 0; i < 5; i++)
        allow[(i * stride) >> 6] |= 1ull << ((i * stride) & 63);
    for (int kind = 0; kind < NKINDS; kind++) {
        int64_t *ids;
        float *keys;
        search_all(ix_get(SIFT, kind), d, NLIST, kind ? RERANK : 0, NULL, allow, &ids, &keys);
        for (uint32_t j = 0; j < d->nq; j++)
            for (uint32_t r = 0; r < K; r++) {
                int64_t id = ids[(size_t)j * K + r];
                float key = keys[(size_t)j * K + r];
                if (r < 5)
                    assert_true(id >= 0 && (uint64_t)id % stride == 0 &&
                                (uint64_t)id / stride < 5 && isfinite(key));
                else
                    assert_true(id == -1 && isinf(key) && key > 0);
            }
        free(ids);
        free(keys);
    }
    free(allow);
    free(ref);
    free(refkey);
}

/* ---- parameters ---- */

static int try_build(const struct tm_ivf_params *p, const float *x, uint64_t n)
{
    struct tm_ivf *ix = NULL;
    int rc = tm_ivf_build(p, x, n, NULL, &ix);
    if (rc == 0)
        tm_ivf_free(ix);
    return rc;
}

static void bad_params(void **state)
{
    (void)state;
    const struct ds *d = ds_get(SIFT);
    struct tm_ivf_params p;
    uint64_t n = 500;

    p = params_of(d, 1, TM_IVF_L2);
    p.m = 24; /* 128 % 24 != 0 */
    assert_int_equal(try_build(&p, d->x, n), TM_EINVAL);
    p.m = 0;
    assert_int_equal(try_build(&p, d->x, n), TM_EINVAL);
    p.m = 256; /* more sub-quantizers than dimensions */
    assert_int_equal(try_build(&p, d->x, n), TM_EINVAL);
    p = params_of(d, 2, TM_IVF_L2);
    p.m = 48;
    assert_int_equal(try_build(&p, d->x, n), TM_EINVAL);

    p = params_of(d, 1, TM_IVF_L2);
    p.nbits = 4; /* IVF_PQ takes 8 */
    assert_int_equal(try_build(&p, d->x, n), TM_EINVAL);
    p = params_of(d, 2, TM_IVF_L2);
    p.nbits = 8; /* IVF_PQ4 takes 4 */
    assert_int_equal(try_build(&p, d->x, n), TM_EINVAL);

    for (int kind = 0; kind < NKINDS; kind++) {
        p = params_of(d, kind, TM_IVF_L2);
        assert_int_equal(try_build(&p, d->x, 0), TM_EINVAL);
        p.dim = 0;
        assert_int_equal(try_build(&p, d->x, n), TM_EINVAL);
        p = params_of(d, kind, TM_IVF_L2);
        p.nlist = 0;
        assert_int_equal(try_build(&p, d->x, n), TM_EINVAL);
    }
    p = params_of(d, 0, TM_IVF_L2);
    p.kind = (enum tm_ivf_kind)7;
    assert_int_equal(try_build(&p, d->x, n), TM_EINVAL);
    p = params_of(d, 0, TM_IVF_L2);
    p.metric = (enum tm_ivf_metric)9;
    assert_int_equal(try_build(&p, d->x, n), TM_EINVAL);

    /* nlist above n is clamped, not refused */
    p = params_of(d, 0, TM_IVF_L2);
    p.nlist = 1000;
    struct tm_ivf *ix = NULL;
    assert_int_equal(tm_ivf_build(&p, d->x, 100, NULL, &ix), 0);
    assert_true(tm_ivf_params_of(ix)->nlist <= 100);
    tm_ivf_free(ix);
}

/* ---- files ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static char *slurp(const char *path, size_t *size_out)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    assert_true(size > 0);
    rewind(f);
    char *buf = malloc((size_t)size);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *size_out = (size_t)size;
    return buf;
}

static void spill(const char *path, const char *buf, size_t size)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
}

/* The index written and read back searches exactly as the original. */
static void io_roundtrip(void **state)
{
    (void)state;
    const struct ds *d = ds_get(SIFT);
    for (int kind = 0; kind < NKINDS; kind++) {
        const struct tm_ivf *ix = ix_get(SIFT, kind);
        char path[256], err[512];
        snprintf(path, sizeof path, "%s/rt_%s.ivf", g_tmp, g_kind_names[kind]);
        assert_int_equal(tm_ivf_write(ix, path), 0);
        struct tm_ivf *back = NULL;
        int rc = tm_ivf_read(path, d->x, d->n, &back, err, sizeof err);
        if (rc)
            fail_msg("%s: %s: %s", g_kind_names[kind], tm_strerror(rc), err);
        assert_int_equal(tm_ivf_size(back), d->n);
        assert_int_equal(tm_ivf_bytes(back), tm_ivf_bytes(ix));
        /* The parameters that shape the index; the file does not keep the
         * training ones (train_per_list, iters, threads). */
        const struct tm_ivf_params *pa = tm_ivf_params_of(ix), *pb = tm_ivf_params_of(back);
        assert_true(pa->kind == pb->kind && pa->metric == pb->metric);
        assert_true(pa->dim == pb->dim && pa->nlist == pb->nlist && pa->m == pb->m);
        assert_true(pa->nbits == pb->nbits && pa->seed == pb->seed);
        for (uint32_t np = 1; np <= (LIGHT ? 8 : NLIST); np *= LIGHT ? 8 : 4) {
            int64_t *a, *b;
            float *ak, *bk;
            search_all(ix, d, np, kind ? RERANK : 0, NULL, NULL, &a, &ak);
            search_all(back, d, np, kind ? RERANK : 0, NULL, NULL, &b, &bk);
            assert_memory_equal(a, b, (size_t)d->nq * K * sizeof *a);
            assert_memory_equal(ak, bk, (size_t)d->nq * K * sizeof *ak);
            free(a), free(b), free(ak), free(bk);
        }
        tm_ivf_free(back);
    }
}

/* Reads path expecting TM_ECORRUPT, with errmsg naming the file. */
static void expect_corrupt(const char *path, const struct ds *d, uint64_t n, const char *what)
{
    struct tm_ivf *ix = NULL;
    char err[512] = "";
    int rc = tm_ivf_read(path, d->x, n, &ix, err, sizeof err);
    if (rc == 0)
        tm_ivf_free(ix);
    if (rc != TM_ECORRUPT)
        fail_msg("%s: tm_ivf_read returned %d (%s), not TM_ECORRUPT", what, rc, tm_strerror(rc));
    if (!strstr(err, path))
        fail_msg("%s: errmsg does not name the file: \"%s\"", what, err);
}

/* Any damaged byte is refused: NFLIPS positions spread over each file plus
 * its first 64 bytes, each byte inverted in a copy. */
static void io_flipped_bytes(void **state)
{
    (void)state;
    const struct ds *d = ds_get(SIFT);
    for (int kind = 0; kind < NKINDS; kind++) {
        char path[256], bad[256], what[128];
        snprintf(path, sizeof path, "%s/flip_%s.ivf", g_tmp, g_kind_names[kind]);
        snprintf(bad, sizeof bad, "%s/flip_%s.bad", g_tmp, g_kind_names[kind]);
        assert_int_equal(tm_ivf_write(ix_get(SIFT, kind), path), 0);
        size_t size;
        char *buf = slurp(path, &size);
        for (size_t i = 0; i < NFLIPS + 64; i++) {
            size_t pos = i < 64 ? i : (i - 64) * (size - 1) / (NFLIPS - 1);
            if (pos >= size)
                continue;
            buf[pos] = (char)~buf[pos];
            spill(bad, buf, size);
            buf[pos] = (char)~buf[pos];
            snprintf(what, sizeof what, "%s byte %zu of %zu inverted", g_kind_names[kind], pos,
                     size);
            expect_corrupt(bad, d, d->n, what);
        }
        print_message("%s: %zu-byte file, %d damaged copies refused\n", g_kind_names[kind], size,
                      NFLIPS + 64);
        free(buf);
    }
}

/* A file cut short anywhere, or one with bytes appended, is refused. */
static void io_truncated(void **state)
{
    (void)state;
    const struct ds *d = ds_get(SIFT);
    for (int kind = 0; kind < NKINDS; kind++) {
        char path[256], bad[256], what[128];
        snprintf(path, sizeof path, "%s/trunc_%s.ivf", g_tmp, g_kind_names[kind]);
        snprintf(bad, sizeof bad, "%s/trunc_%s.bad", g_tmp, g_kind_names[kind]);
        assert_int_equal(tm_ivf_write(ix_get(SIFT, kind), path), 0);
        size_t size;
        char *buf = slurp(path, &size);
        const size_t lens[] = {0,        1,        4,        8,        16,      63,
                               size / 3, size / 2, size - 8, size - 4, size - 1};
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            spill(bad, buf, lens[i]);
            snprintf(what, sizeof what, "%s cut to %zu of %zu bytes", g_kind_names[kind], lens[i],
                     size);
            expect_corrupt(bad, d, d->n, what);
        }
        char *longer = malloc(size + 16);
        assert_non_null(longer);
        memcpy(longer, buf, size);
        memset(longer + size, 0, 16);
        spill(bad, longer, size + 16);
        snprintf(what, sizeof what, "%s with 16 bytes appended", g_kind_names[kind]);
        expect_corrupt(bad, d, d->n, what);
        /* the right file over another number of vectors */
        snprintf(what, sizeof what, "%s read with n - 1", g_kind_names[kind]);
        expect_corrupt(path, d, d->n - 1, what);
        free(longer);
        free(buf);
    }
    struct tm_ivf *ix = NULL;
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/missing.ivf", g_tmp);
    assert_int_equal(tm_ivf_read(path, d->x, d->n, &ix, err, sizeof err), -ENOENT);
}

/* The same vectors and parameters build the same index, byte for byte,
 * whatever the number of build threads (one here, two for the first). */
static void build_deterministic(void **state)
{
    (void)state;
    const struct ds *d = ds_get(SIFT);
    for (int kind = 0; kind < NKINDS; kind++) {
        if (LIGHT && g_kinds[kind] == TM_IVF_PQ)
            continue; /* its training is the slowest; the same code as IVF_PQ4's */
        char a[256], b[256];
        snprintf(a, sizeof a, "%s/det_%s.a", g_tmp, g_kind_names[kind]);
        snprintf(b, sizeof b, "%s/det_%s.b", g_tmp, g_kind_names[kind]);
        struct tm_ivf_params p = params_of(d, kind, TM_IVF_L2);
        struct tm_ivf *ix = NULL;
        p.threads = 1;
        assert_int_equal(tm_ivf_build(&p, d->x, d->n, NULL, &ix), 0);
        assert_int_equal(tm_ivf_write(ix, a), 0);
        assert_int_equal(tm_ivf_write(ix_get(SIFT, kind), b), 0);
        tm_ivf_free(ix);
        size_t sa, sb;
        char *ba = slurp(a, &sa), *bb = slurp(b, &sb);
        assert_int_equal(sa, sb);
        assert_memory_equal(ba, bb, sa);
        free(ba);
        free(bb);
    }
}

/* A build told to stop ends with TM_ECANCELED and no index; an unwatched
 * one (and a watched one left alone) builds, the watch counting every
 * vector. */
static void build_stopped(void **state)
{
    (void)state;
    const struct ds *d = ds_get(SIFT);
    uint64_t n = d->n < 1000 ? d->n : 1000;
    for (int kind = 0; kind < NKINDS; kind++) {
        struct tm_ivf_params p = params_of(d, kind, TM_IVF_L2);
        struct tm_ivf_watch stopped = {.stop = true}, watched = {0};
        struct tm_ivf *ix = (struct tm_ivf *)&stopped; /* must come back NULL */
        assert_int_equal(tm_ivf_build(&p, d->x, n, &stopped, &ix), TM_ECANCELED);
        assert_null(ix);
        assert_int_equal(tm_ivf_build(&p, d->x, n, &watched, &ix), 0);
        assert_int_equal(watched.progress, n);
        tm_ivf_free(ix);
    }
}

/* ---- main ---- */

static int group_setup(void **state)
{
    (void)state;
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    for (int w = 0; w < NDS; w++) {
        for (int k = 0; k < NKINDS; k++)
            if (g_ix[w][k])
                tm_ivf_free(g_ix[w][k]);
        free(g_ds[w].x);
        free(g_ds[w].q);
        free(g_ds[w].gt);
        free(g_ds[w].gtkey);
        free(g_ds[w].xnorm2);
    }
    nftw(g_tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(build_stopped),        cmocka_unit_test(sift_ground_truth),
        cmocka_unit_test(recall_monotone_sift), cmocka_unit_test(recall_monotone_fmnist),
        cmocka_unit_test(flat_full_probe_sift), cmocka_unit_test(flat_full_probe_fmnist),
        cmocka_unit_test(pq4_rerank_recall),    cmocka_unit_test(batch_equals_single),
        cmocka_unit_test(kernels_agree),        cmocka_unit_test(metrics_ip_cosine),
        cmocka_unit_test(allow_filter),         cmocka_unit_test(bad_params),
        cmocka_unit_test(io_roundtrip),         cmocka_unit_test(io_flipped_bytes),
        cmocka_unit_test(io_truncated),         cmocka_unit_test(build_deterministic),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
