/* Building IVF indexes (ivf.h): train the coarse quantizer, split the rows
 * into lists, then copy (IVF_FLAT) or encode (IVF_PQ, IVF_PQ4) each list. */
#include "ivf_int.h"
#include "distance.h"
#include "kmeans.h"
#include "tm_err.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TRAIN_PER_LIST 64u
#define DEFAULT_ITERS 10u

static int params_valid(const struct tm_ivf_params *p, uint64_t n)
{
    if (p->dim == 0 || p->nlist == 0 || n == 0 || n > UINT32_MAX || p->metric > TM_IVF_COSINE)
        return 0;
    switch (p->kind) {
    case TM_IVF_FLAT:
        return 1;
    case TM_IVF_PQ:
        return p->m > 0 && p->dim % p->m == 0 && p->nbits == 8;
    case TM_IVF_PQ4:
        return p->m > 0 && p->m <= 65535 && p->dim % p->m == 0 && p->nbits == 4;
    }
    return 0;
}

/* A normalised copy of x (zero vectors stay zero), for COSINE. */
static float *normalised(const float *x, uint64_t n, uint32_t d)
{
    const struct tm_kernels *k = tm_kernels_best();
    float *out = malloc(n * d * sizeof(float));
    if (!out)
        return NULL;
    for (uint64_t i = 0; i < n; i++) {
        const float *v = x + i * d;
        float nv = tm_norm_f32(k, v, d), inv = nv > 0 ? 1.0f / nv : 0.0f;
        for (uint32_t t = 0; t < d; t++)
            out[i * d + t] = v[t] * inv;
    }
    return out;
}

/* Counting sort of the rows by list: list_off and ids, rows ascending. */
static int split_lists(struct tm_ivf *ix, const uint32_t *assign)
{
    uint32_t nl = ix->p.nlist;
    ix->list_off = calloc((size_t)nl + 1, sizeof(uint64_t));
    ix->ids = malloc(ix->n * sizeof(uint32_t));
    if (!ix->list_off || !ix->ids)
        return TM_ENOMEM;
    for (uint64_t i = 0; i < ix->n; i++)
        ix->list_off[assign[i] + 1]++;
    for (uint32_t l = 0; l < nl; l++) {
        if (ix->list_off[l + 1] > ix->max_list)
            ix->max_list = ix->list_off[l + 1];
        ix->list_off[l + 1] += ix->list_off[l];
    }
    uint64_t *fill = malloc((size_t)nl * sizeof(uint64_t) + 1);
    if (!fill)
        return TM_ENOMEM;
    memcpy(fill, ix->list_off, (size_t)nl * sizeof(uint64_t));
    for (uint64_t i = 0; i < ix->n; i++)
        ix->ids[fill[assign[i]]++] = (uint32_t)i;
    free(fill);
    return 0;
}

static int fill_flat(struct tm_ivf *ix, const float *xs)
{
    uint32_t d = ix->p.dim;
    ix->vecs = malloc(ix->n * d * sizeof(float));
    if (!ix->vecs)
        return TM_ENOMEM;
    for (uint64_t e = 0; e < ix->n; e++)
        memcpy(ix->vecs + e * d, xs + (uint64_t)ix->ids[e] * d, d * sizeof(float));
    if (ix->watch)
        ix->watch->progress = ix->n;
    return 0;
}

/* Every entry's code, in entry order (m bytes each), into *out. */
static int encode_all(struct tm_ivf *ix, const float *xs, uint8_t **out)
{
    uint32_t d = ix->p.dim, m = ix->p.m;
    uint8_t *codes = malloc(ix->n * m);
    float *r = malloc(d * sizeof(float));
    int rc = codes && r ? 0 : TM_ENOMEM;
    for (uint32_t l = 0; !rc && l < ix->p.nlist; l++) {
        const float *c = ix->centroids + (size_t)l * d;
        for (uint64_t e = ix->list_off[l]; e < ix->list_off[l + 1]; e++) {
            const float *v = xs + (uint64_t)ix->ids[e] * d;
            for (uint32_t t = 0; t < d; t++)
                r[t] = v[t] - c[t];
            ivf_pq_encode(ix, r, codes + e * m);
        }
        if (ix->watch) {
            ix->watch->progress = ix->list_off[l + 1];
            rc = ix->watch->stop ? TM_ECANCELED : 0;
        }
    }
    free(r);
    if (rc)
        free(codes);
    *out = rc ? NULL : codes;
    return rc;
}

static int pack_pq4(struct tm_ivf *ix, uint8_t *codes8)
{
    uint32_t nl = ix->p.nlist;
    ix->list_blk = malloc(((size_t)nl + 1) * sizeof(uint64_t));
    if (!ix->list_blk)
        return TM_ENOMEM;
    ix->list_blk[0] = 0;
    for (uint32_t l = 0; l < nl; l++)
        ix->list_blk[l + 1] = ix->list_blk[l] + (ix->list_off[l + 1] - ix->list_off[l] + 31) / 32;
    size_t block = (size_t)ix->mpad * 16;
    ix->codes = calloc(ix->list_blk[nl] * block + 1, 1);
    if (!ix->codes)
        return TM_ENOMEM;
    for (uint32_t l = 0; l < nl; l++)
        ivf_pq4_pack(ix, codes8 + ix->list_off[l] * ix->p.m, ix->list_off[l + 1] - ix->list_off[l],
                     ix->codes + ix->list_blk[l] * block);
    return 0;
}

static int fill_inv_norms(struct tm_ivf *ix)
{
    const struct tm_kernels *k = tm_kernels_best();
    ix->inv_norm = malloc(ix->n * sizeof(float));
    if (!ix->inv_norm)
        return TM_ENOMEM;
    for (uint64_t i = 0; i < ix->n; i++) {
        float nv = tm_norm_f32(k, ix->raw + i * ix->p.dim, ix->p.dim);
        ix->inv_norm[i] = nv > 0 ? 1.0f / nv : 0.0f;
    }
    return 0;
}

static int fill_pq(struct tm_ivf *ix, const float *xs, const uint32_t *assign)
{
    ix->ksub = 1u << ix->p.nbits;
    ix->dsub = ix->p.dim / ix->p.m;
    ix->mpad = (ix->p.m + 1) & ~1u;
    int rc = ivf_pq_train(ix, xs, assign, ix->n);
    if (!rc)
        rc = ivf_pq_transpose(ix);
    if (!rc)
        rc = ivf_pq4_list_tables(ix);
    if (rc)
        return rc;
    uint8_t *codes8;
    if ((rc = encode_all(ix, xs, &codes8)))
        return rc;
    if (ix->p.kind == TM_IVF_PQ) {
        ix->codes = codes8;
    } else {
        rc = pack_pq4(ix, codes8);
        free(codes8);
    }
    if (!rc && ix->p.metric == TM_IVF_COSINE)
        rc = fill_inv_norms(ix);
    return rc;
}

static void sq_norms(const float *v, uint32_t n, uint32_t d, float *out)
{
    const struct tm_kernels *k = tm_kernels_best();
    for (uint32_t j = 0; j < n; j++)
        out[j] = k->ip_f32(v + (size_t)j * d, v + (size_t)j * d, d);
}

int ivf_derive(struct tm_ivf *ix)
{
    uint32_t nl = ix->p.nlist, d = ix->p.dim;
    ix->cnorm = malloc((size_t)nl * sizeof(float));
    ix->c_u8 = malloc((size_t)nl * d);
    ix->c_lo = malloc(d * sizeof(float));
    ix->c_step = malloc(d * sizeof(float));
    if (!ix->cnorm || !ix->c_u8 || !ix->c_lo || !ix->c_step)
        return TM_ENOMEM;
    sq_norms(ix->centroids, nl, d, ix->cnorm);
    tm_bytes_of_centroids(ix->centroids, nl, d, ix->c_u8, ix->c_lo, ix->c_step);
    return 0;
}

static int train_and_fill(struct tm_ivf *ix, const float *xs)
{
    const struct tm_ivf_params *p = &ix->p;
    const struct tm_kernels *k = tm_kernels_best();
    struct tm_kmeans_opts o = {.iters = p->iters,
                               .seed = p->seed,
                               .max_train = (uint64_t)p->nlist * p->train_per_list,
                               .threads = p->threads,
                               .stop = ix->watch ? &ix->watch->stop : NULL};
    ix->centroids = malloc((size_t)p->nlist * p->dim * sizeof(float));
    uint32_t *assign = malloc(ix->n * sizeof(uint32_t));
    int rc = ix->centroids && assign ? 0 : TM_ENOMEM;
    if (!rc)
        rc = tm_kmeans_train(xs, ix->n, p->dim, p->nlist, &o, ix->centroids);
    if (!rc)
        rc = ivf_derive(ix);
    if (!rc)
        rc = tm_kmeans_assign(ix->centroids, p->nlist, p->dim, xs, ix->n, ivf_coarse_ip(ix),
                              p->threads, k, assign);
    if (!rc)
        rc = split_lists(ix, assign);
    if (!rc)
        rc = p->kind == TM_IVF_FLAT ? fill_flat(ix, xs) : fill_pq(ix, xs, assign);
    free(assign);
    return rc;
}

int tm_ivf_build(const struct tm_ivf_params *p, const float *x, uint64_t n,
                 struct tm_ivf_watch *watch, struct tm_ivf **out)
{
    *out = NULL;
    if (!params_valid(p, n))
        return TM_EINVAL;
    struct tm_ivf *ix = calloc(1, sizeof *ix);
    if (!ix)
        return TM_ENOMEM;
    ix->p = *p;
    ix->n = n;
    ix->raw = x;
    if (ix->p.nlist > n)
        ix->p.nlist = (uint32_t)n;
    if (!ix->p.train_per_list)
        ix->p.train_per_list = DEFAULT_TRAIN_PER_LIST;
    if (!ix->p.iters)
        ix->p.iters = DEFAULT_ITERS;
    if (!ix->p.threads)
        ix->p.threads = 1;
    float *xn = p->metric == TM_IVF_COSINE ? normalised(x, n, p->dim) : NULL;
    int rc = p->metric == TM_IVF_COSINE && !xn ? TM_ENOMEM : 0;
    ix->watch = watch;
    if (!rc)
        rc = train_and_fill(ix, xn ? xn : x);
    ix->watch = NULL;
    free(xn);
    if (rc) {
        tm_ivf_free(ix);
        return rc;
    }
    *out = ix;
    return 0;
}

void tm_ivf_free(struct tm_ivf *ix)
{
    if (!ix)
        return;
    free(ix->centroids), free(ix->cnorm), free(ix->c_u8), free(ix->c_lo), free(ix->books_t),
        free(ix->tl), free(ix->tl_min), free(ix->tl_span), free(ix->c_step), free(ix->list_off),
        free(ix->ids), free(ix->vecs);
    free(ix->codebooks), free(ix->codes), free(ix->list_blk), free(ix->inv_norm);
    free(ix);
}

const struct tm_ivf_params *tm_ivf_params_of(const struct tm_ivf *ix)
{
    return &ix->p;
}

uint64_t tm_ivf_size(const struct tm_ivf *ix)
{
    return ix->n;
}

uint64_t tm_ivf_bytes(const struct tm_ivf *ix)
{
    const struct tm_ivf_params *p = &ix->p;
    uint64_t b = (uint64_t)p->nlist * (p->dim + 1) * 4 + ((uint64_t)p->nlist + 1) * 8 + ix->n * 4;
    if (p->kind == TM_IVF_FLAT)
        return b + ix->n * p->dim * 4;
    b += (uint64_t)p->m * ix->ksub * ix->dsub * 4;
    if (p->kind == TM_IVF_PQ)
        b += ix->n * p->m;
    else
        b += ix->list_blk[p->nlist] * ix->mpad * 16 + ((uint64_t)p->nlist + 1) * 8;
    return b + (ix->inv_norm ? ix->n * 4 : 0);
}
