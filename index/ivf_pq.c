/* Product quantization of IVF residuals (ivf_int.h): codebook training,
 * encoding, per-query lookup tables and the 4-bit block packing. */
#include "ivf_int.h"
#include "kmeans.h"
#include "tm_err.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

/* Residuals the codebooks are trained on: 256 per sub-centroid at 8 bits,
 * as FAISS does, and never fewer than 16,384. */
#define PQ_TRAIN_MIN 16384u
#define PQ_ITERS 15u

static float sq_dist(const float *a, const float *b, uint32_t d)
{
    float s = 0;
    for (uint32_t t = 0; t < d; t++) {
        float u = a[t] - b[t];
        s += u * u;
    }
    return s;
}

static float dot(const float *a, const float *b, uint32_t d)
{
    float s = 0;
    for (uint32_t t = 0; t < d; t++)
        s += a[t] * b[t];
    return s;
}

/* The residuals of an evenly spaced sample of rows, sub-space by
 * sub-space: sub-space s's vectors at out + s * count * dsub. */
static float *sample_residuals(const struct tm_ivf *ix, const float *x, const uint32_t *assign,
                               uint64_t n, uint64_t count)
{
    uint32_t d = ix->p.dim, ds = ix->dsub;
    float *out = malloc(count * d * sizeof(float));
    if (!out)
        return NULL;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t row = i * n / count;
        const float *v = x + row * d, *c = ix->centroids + (size_t)assign[row] * d;
        for (uint32_t s = 0; s < ix->p.m; s++)
            for (uint32_t t = 0; t < ds; t++)
                out[((uint64_t)s * count + i) * ds + t] = v[s * ds + t] - c[s * ds + t];
    }
    return out;
}

int ivf_pq_train(struct tm_ivf *ix, const float *x, const uint32_t *assign, uint64_t n)
{
    uint64_t want =
        (uint64_t)ix->ksub * 256 > PQ_TRAIN_MIN ? (uint64_t)ix->ksub * 256 : PQ_TRAIN_MIN;
    uint64_t count = n < want ? n : want;
    size_t book = (size_t)ix->ksub * ix->dsub;
    ix->codebooks = calloc((size_t)ix->p.m * book, sizeof(float));
    float *res = sample_residuals(ix, x, assign, n, count);
    int rc = ix->codebooks && res ? 0 : TM_ENOMEM;
    for (uint32_t s = 0; !rc && s < ix->p.m; s++) {
        struct tm_kmeans_opts o = {.iters = PQ_ITERS,
                                   .seed = ix->p.seed + 1 + s,
                                   .threads = ix->p.threads,
                                   .stop = ix->watch ? &ix->watch->stop : NULL};
        rc = tm_kmeans_train(res + (uint64_t)s * count * ix->dsub, count, ix->dsub, ix->ksub, &o,
                             ix->codebooks + s * book);
    }
    free(res);
    return rc;
}

void ivf_pq_encode(const struct tm_ivf *ix, const float *r, uint8_t *code_out)
{
    uint32_t ds = ix->dsub;
    for (uint32_t s = 0; s < ix->p.m; s++) {
        const float *book = ix->codebooks + (size_t)s * ix->ksub * ds;
        float best = FLT_MAX;
        uint32_t arg = 0;
        for (uint32_t j = 0; j < ix->ksub; j++) {
            float dj = sq_dist(r + s * ds, book + (size_t)j * ds, ds);
            if (dj < best)
                best = dj, arg = j;
        }
        code_out[s] = (uint8_t)arg;
    }
}

static void lut_row(const float *bt, const float *v, uint32_t ds, uint32_t ks, int l2, float *out)
{
    for (uint32_t j = 0; j < ks; j++)
        out[j] = 0.0f;
    for (uint32_t t = 0; t < ds; t++) {
        const float *row = bt + (size_t)t * ks;
        float vt = v[t];
        for (uint32_t j = 0; j < ks; j++)
            out[j] += l2 ? (vt - row[j]) * (vt - row[j]) : -vt * row[j];
    }
}

static void lut_row16(const float *bt, const float *v, uint32_t ds, int l2, float *out)
{
    float acc[16] = {0};
    for (uint32_t t = 0; t < ds; t++) {
        const float *row = bt + (size_t)t * 16;
        float vt = v[t];
        if (l2)
            for (int j = 0; j < 16; j++)
                acc[j] += (vt - row[j]) * (vt - row[j]);
        else
            for (int j = 0; j < 16; j++)
                acc[j] -= vt * row[j];
    }
    memcpy(out, acc, sizeof acc);
}

void ivf_pq_lut(const struct tm_ivf *ix, const float *q, uint32_t l, float *resid, float *lut_out,
                float *bias_out)
{
    uint32_t d = ix->p.dim, ds = ix->dsub, ks = ix->ksub;
    const float *c = ix->centroids + (size_t)l * d;
    int l2 = ix->p.metric == TM_IVF_L2 || ix->p.metric == TM_IVF_COSINE;
    /* COSINE: unit query and unit rows, so |q - x|^2 = 2 - 2 cos ranks as
     * the cosine does; the key is turned back into -cos by the caller. */
    if (l2)
        for (uint32_t t = 0; t < d; t++)
            resid[t] = q[t] - c[t];
    *bias_out = l2 ? 0.0f : -dot(q, c, d);
    /* over the transposed codebooks (ivf_int.h, books_t), so that the
     * inner loop runs along the sub-centroids; 4-bit codes get a loop of
     * constant length, which the compiler vectorizes */
    for (uint32_t s = 0; s < ix->p.m; s++) {
        const float *bt = ix->books_t + (size_t)s * ds * ks;
        const float *v = (l2 ? resid : q) + s * ds;
        float *out = lut_out + (size_t)s * ks;
        if (ks == 16)
            lut_row16(bt, v, ds, l2, out);
        else
            lut_row(bt, v, ds, ks, l2, out);
    }
}

int ivf_pq_transpose(struct tm_ivf *ix)
{
    uint32_t ds = ix->dsub, ks = ix->ksub;
    ix->books_t = malloc((size_t)ix->p.m * ds * ks * sizeof(float) + 1);
    if (!ix->books_t)
        return TM_ENOMEM;
    for (uint32_t s = 0; s < ix->p.m; s++)
        for (uint32_t j = 0; j < ks; j++)
            for (uint32_t t = 0; t < ds; t++)
                ix->books_t[((size_t)s * ds + t) * ks + j] =
                    ix->codebooks[((size_t)s * ks + j) * ds + t];
    return 0;
}

void ivf_pq4_pack(const struct tm_ivf *ix, const uint8_t *codes8, uint64_t count, uint8_t *out)
{
    uint32_t m = ix->p.m, mp = ix->mpad;
    for (uint64_t b = 0; b * 32 < count; b++) {
        uint8_t *blk = out + b * mp * 16;
        memset(blk, 0, (size_t)mp * 16);
        for (uint32_t i = 0; i < 32 && b * 32 + i < count; i++) {
            const uint8_t *code = codes8 + (b * 32 + i) * m;
            for (uint32_t s = 0; s < m; s++)
                blk[s * 16 + i % 16] |= (uint8_t)(i < 16 ? code[s] : code[s] << 4);
        }
    }
}

/* The least and the largest of v[0..16), four lanes at a time so that -O2
 * makes them MINPS and MAXPS. */
static void min_max16(const float *v, float *mn_out, float *mx_out)
{
    float mn[4], mx[4];
    memcpy(mn, v, sizeof mn);
    memcpy(mx, v, sizeof mx);
    for (int j = 4; j < 16; j += 4)
        for (int k = 0; k < 4; k++) {
            mn[k] = v[j + k] < mn[k] ? v[j + k] : mn[k];
            mx[k] = v[j + k] > mx[k] ? v[j + k] : mx[k];
        }
    for (int k = 1; k < 4; k++) {
        mn[0] = mn[k] < mn[0] ? mn[k] : mn[0];
        mx[0] = mx[k] > mx[0] ? mx[k] : mx[0];
    }
    *mn_out = mn[0], *mx_out = mx[0];
}

/* Subtracts the minimum of each of the n 16-entry tables at t; returns
 * their sum, and the largest range left in *span_out. */
static float shift_to_zero(float *t, uint32_t n, float *span_out)
{
    float sum = 0, span = 0;
    for (uint32_t s = 0; s < n; s++) {
        float *v = t + (size_t)s * 16, mn, mx;
        min_max16(v, &mn, &mx);
        for (int j = 0; j < 16; j++)
            v[j] -= mn;
        sum += mn;
        span = mx - mn > span ? mx - mn : span;
    }
    *span_out = span;
    return sum;
}

int ivf_pq4_list_tables(struct tm_ivf *ix)
{
    if (ix->p.kind != TM_IVF_PQ4 || ix->p.metric == TM_IVF_IP)
        return 0;
    uint32_t nl = ix->p.nlist, d = ix->p.dim, ds = ix->dsub, mp = ix->mpad;
    ix->tl = calloc((size_t)nl * mp * 16, sizeof(float));
    ix->tl_min = malloc((size_t)nl * sizeof(float));
    ix->tl_span = malloc((size_t)nl * sizeof(float));
    if (!ix->tl || !ix->tl_min || !ix->tl_span)
        return TM_ENOMEM;
    for (uint32_t l = 0; l < nl; l++) {
        const float *c = ix->centroids + (size_t)l * d;
        float *t = ix->tl + (size_t)l * mp * 16;
        for (uint32_t s = 0; s < ix->p.m; s++)
            for (uint32_t j = 0; j < 16; j++) {
                const float *y = ix->codebooks + ((size_t)s * 16 + j) * ds;
                t[s * 16 + j] = dot(y, y, ds) + 2.0f * dot(c + s * ds, y, ds);
            }
        ix->tl_min[l] = shift_to_zero(t, ix->p.m, &ix->tl_span[l]);
    }
    return 0;
}

void ivf_pq4_query_table(const struct tm_ivf *ix, const float *q, float *out, float *min_sum_out,
                         float *span_out)
{
    float f = ix->p.metric == TM_IVF_IP ? -1.0f : -2.0f;
    uint32_t ds = ix->dsub, m = ix->p.m;
    for (uint32_t s = 0; s < m; s++) {
        const float *bt = ix->books_t + (size_t)s * ds * 16;
        float acc[16] = {0}; /* in registers: out could alias bt for the compiler */
        for (uint32_t t = 0; t < ds; t++) {
            float v = f * q[s * ds + t];
            for (int j = 0; j < 16; j++)
                acc[j] += v * bt[(size_t)t * 16 + j];
        }
        memcpy(out + (size_t)s * 16, acc, sizeof acc);
    }
    memset(out + (size_t)m * 16, 0, (size_t)(ix->mpad - m) * 16 * sizeof(float));
    *min_sum_out = shift_to_zero(out, m, span_out);
}
