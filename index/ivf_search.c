/* Searching IVF indexes (ivf.h; the design is docs/ivf.md).
 *
 * Per query, batch or not: score every coarse centroid from its bytes, then
 * the short list exactly, and keep the nprobe best lists (select_probes);
 * then score the lists' entries into a pool of candidates:
 *   IVF_FLAT  exact distances from the distance kernels;
 *   IVF_PQ    float lookup tables, one byte code per sub-space;
 *   IVF_PQ4   the probes' tables (the query's part plus each list's
 *             precomputed part) as bytes with one scale per query (an
 *             entry's key is the probe's bias plus its 16-bit sum divided
 *             by the scale), summed 32 entries at a time by
 *             tm_kernels.pq4_accumulate; only sums under the pool's current
 *             threshold are looked at further.
 * PQ candidates are then re-ranked by their exact distance to the raw
 * vectors when asked. Every buffer a query needs is carved from one
 * allocation per call.
 */
#include "ivf_int.h"
#include "distance.h"
#include "kmeans.h"
#include "tm_err.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define COARSE_CHUNK 64u

/* A scored entry (a list or a row) as one integer: the key's bits, made
 * to order as the floats do, above the id. Comparing two hits is then one
 * integer comparison, under which ties of key go to the smaller id, and the
 * selections below run without a branch per element (a float key and an
 * id compared in two steps cost a mispredicted branch every other element,
 * a fifth of a synth-1M search). */
typedef uint64_t hit_t;

static hit_t hit_make(float key, uint32_t id)
{
    uint32_t b;
    key += 0.0f; /* -0 to +0: they compare equal as floats */
    memcpy(&b, &key, sizeof b);
    b ^= (uint32_t)((int32_t)b >> 31) | 0x80000000u;
    return (hit_t)b << 32 | id;
}

static float hit_key(hit_t h)
{
    uint32_t b = (uint32_t)(h >> 32);
    b ^= b & 0x80000000u ? 0x80000000u : 0xffffffffu;
    float key;
    memcpy(&key, &b, sizeof key);
    return key;
}

static uint32_t hit_id(hit_t h)
{
    return (uint32_t)h;
}

static int hit_cmp(const void *a, const void *b)
{
    hit_t x = *(const hit_t *)a, y = *(const hit_t *)b;
    return (x > y) - (x < y);
}

/* Sorts n hits best first: insertion for the short arrays of the hot path
 * (probes, the final k), qsort beyond. */
static void sort_hits(hit_t *h, uint32_t n)
{
    if (n > 32) {
        qsort(h, n, sizeof(hit_t), hit_cmp);
        return;
    }
    for (uint32_t i = 1; i < n; i++) {
        hit_t x = h[i];
        uint32_t j = i;
        for (; j > 0 && h[j - 1] > x; j--)
            h[j] = h[j - 1];
        h[j] = x;
    }
}

/* The index of the median of h[a], h[b], h[c]. */
static uint32_t median3(const hit_t *h, uint32_t a, uint32_t b, uint32_t c)
{
    if (h[a] < h[b])
        return h[b] < h[c] ? b : h[a] < h[c] ? c : a;
    return h[a] < h[c] ? a : h[b] < h[c] ? c : b;
}

/* Rearranges h so that h[0..k) are its k best (in no order), 0 < k <= n:
 * quickselect with a branch-free Lomuto partition (every element is
 * swapped; the ones better than the pivot advance the boundary). */
static void select_best(hit_t *h, uint32_t n, uint32_t k)
{
    uint32_t lo = 0, hi = n - 1, want = k - 1;
    while (lo < hi) {
        uint32_t m = median3(h, lo, lo + (hi - lo) / 2, hi);
        hit_t pivot = h[m];
        h[m] = h[hi];
        uint32_t s = lo;
        for (uint32_t i = lo; i < hi; i++) {
            hit_t t = h[i];
            h[i] = h[s];
            h[s] = t;
            s += t < pivot;
        }
        h[hi] = h[s];
        h[s] = pivot;
        if (want == s)
            return;
        if (want < s)
            hi = s - 1;
        else
            lo = s + 1;
    }
}

/* The candidates of one query: an unordered pool of up to 2 * cap hits
 * with keys at most limit. When it fills, the best cap are kept and limit
 * drops to the worst of them: appends are cheap where a heap would pay a
 * sift per candidate, and the threshold tightens as the scan goes. */
struct pool {
    hit_t *h;
    uint32_t n, cap;
    float limit;
};

static void pool_shrink(struct pool *p)
{
    if (p->n <= p->cap)
        return;
    select_best(p->h, p->n, p->cap);
    p->n = p->cap;
    hit_t worst = p->h[0];
    for (uint32_t i = 1; i < p->n; i++)
        worst = p->h[i] > worst ? p->h[i] : worst;
    p->limit = hit_key(worst);
}

static void pool_add(struct pool *p, float key, uint32_t id)
{
    if (key > p->limit)
        return;
    p->h[p->n++] = hit_make(key, id);
    if (p->n == 2 * p->cap)
        pool_shrink(p);
}

static int allowed(const uint64_t *allow, uint32_t id)
{
    return !allow || (allow[id >> 6] >> (id & 63) & 1);
}

/* ---- one search call ---- */

struct ctx {
    const struct tm_ivf *ix;
    const struct tm_ivf_search_params *sp;
    const struct tm_kernels *k;
    uint32_t nq, nprobe, ncand;
    /* scratch, carved from one allocation */
    hit_t *probes, *cands, *best, *shortlist; /* nprobe, ncand, k, short list */
    float *qbuf;                              /* COARSE_CHUNK queries, normalised for COSINE */
    float *coarse;                            /* nlist exact coarse scores (small nlist) */
    int32_t *idot;                            /* nlist byte-pass dot products */
    int8_t *q8;                               /* dim: the query as bytes */
    float *resid, *lut;                       /* dim; nprobe * mpad * ksub */
    float *bias;                              /* nprobe */
    uint8_t *lut8;                            /* IVF_PQ4: nprobe * mpad * 16 */
    float *scores;                            /* IVF_FLAT: one list's distances */
    uint16_t *acc;                            /* IVF_PQ4: max_list rounded up to 32 */
};

/* Lists short-listed by the byte pass for the exact one: a margin over
 * nprobe that the bytes' rounding (about 1/255 of each dimension's range)
 * cannot reorder past, checked by recall in bench ann. */
static uint32_t shortlist_size(uint32_t nprobe, uint32_t nlist)
{
    uint32_t r = nprobe * 2 > nprobe + 16 ? nprobe * 2 : nprobe + 16;
    return r > nlist ? nlist : r;
}

/* IVF_PQ: a float table per probe; IVF_PQ4: the query's table only (the
 * probes' tables are made on the fly, scan_pq4). */
static size_t lut_floats(const struct tm_ivf *ix, uint32_t nprobe)
{
    if (ix->p.kind == TM_IVF_FLAT)
        return 0;
    return (size_t)(ix->p.kind == TM_IVF_PQ4 ? 1 : nprobe) * ix->mpad * ix->ksub;
}

static void *carve(char **p, size_t bytes)
{
    void *r = *p;
    *p += (bytes + 63) & ~(size_t)63;
    return r;
}

static char *ctx_alloc(struct ctx *c)
{
    const struct tm_ivf *ix = c->ix;
    size_t d = ix->p.dim, nl = ix->p.nlist, lists = ((size_t)ix->max_list + 31) & ~(size_t)31;
    size_t lf = lut_floats(ix, c->nprobe), chunk = c->nq < COARSE_CHUNK ? c->nq : COARSE_CHUNK;
    size_t sizes[] = {c->nprobe * sizeof(hit_t),
                      2 * (size_t)c->ncand * sizeof(hit_t),
                      chunk * d * sizeof(float),
                      d * sizeof(float),
                      lf * sizeof(float),
                      c->nprobe * sizeof(float),
                      ix->p.kind == TM_IVF_PQ4 ? (size_t)c->nprobe * ix->mpad * 16 : 0,
                      lists * sizeof(float),
                      lists * sizeof(uint16_t),
                      nl * sizeof(float),
                      c->sp->k * sizeof(hit_t),
                      (2 * (size_t)nl + 16) * sizeof(hit_t), /* best_lists' pools */
                      nl * sizeof(int32_t),
                      d};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        total += (sizes[i] + 63) & ~(size_t)63;
    char *mem = malloc(total + 64), *p = mem;
    if (!mem)
        return NULL;
    p += (64 - ((uintptr_t)p & 63)) & 63;
    c->probes = carve(&p, sizes[0]), c->cands = carve(&p, sizes[1]);
    c->qbuf = carve(&p, sizes[2]), c->resid = carve(&p, sizes[3]), c->lut = carve(&p, sizes[4]);
    c->bias = carve(&p, sizes[5]), c->lut8 = carve(&p, sizes[6]);
    c->scores = carve(&p, sizes[7]), c->acc = carve(&p, sizes[8]);
    c->coarse = carve(&p, sizes[9]), c->best = carve(&p, sizes[10]);
    c->shortlist = carve(&p, sizes[11]), c->idot = carve(&p, sizes[12]);
    c->q8 = carve(&p, sizes[13]);
    return mem;
}

static float coarse_key(const struct tm_ivf *ix, uint32_t l, float ip)
{
    return ivf_coarse_ip(ix) ? -ip : ix->cnorm[l] - 2.0f * ip;
}

/* How many of keys[0..16) are at most limit: a count, not an "any", so
 * that -O2 vectorizes it. */
static uint32_t count_at_most(const float *keys, float limit)
{
    uint32_t n = 0;
    for (uint32_t j = 0; j < 16; j++)
        n += keys[j] <= limit;
    return n;
}

/* The best k of n keyed lists into the front of buf (room for 2 * k + 16
 * hits), through an unordered pool: a key worse than the k kept so far
 * costs one comparison (few lists enter when k is small against n), and a
 * dense choice a quickselect now and then, not a heap sift per list. Exact
 * under the hits' order. */
static uint32_t best_lists(hit_t *buf, const float *keys, const uint32_t *ids, uint32_t n,
                           uint32_t k)
{
    struct pool pl = {buf, 0, k, INFINITY};
    uint32_t i = 0;
    /* Most keys miss: blocks of 16 are tested in a vectorized loop. A
     * block with a key under the limit is appended without a branch per
     * key (each key is written, and the count moves past the ones that
     * qualify), which is why buf has room for 16 hits past 2 * k. */
    for (; i + 16 <= n; i += 16) {
        if (!count_at_most(keys + i, pl.limit))
            continue;
        for (uint32_t j = i; j < i + 16; j++) {
            pl.h[pl.n] = hit_make(keys[j], ids ? ids[j] : j);
            pl.n += keys[j] <= pl.limit;
        }
        if (pl.n >= 2 * k)
            pool_shrink(&pl);
    }
    for (; i < n; i++)
        pool_add(&pl, keys[i], ids ? ids[i] : i);
    pool_shrink(&pl);
    return pl.n;
}

/* The byte pass's approximate coarse keys (select_probes), 16 at a time
 * in loops of fixed length, which -O2 vectorizes (restrict: the arrays do
 * not overlap). */
static void byte_keys(float *restrict keys, const float *restrict cnorm,
                      const int32_t *restrict idot, uint32_t n, float m2, float add, float mul)
{
    uint32_t l = 0;
    for (; l + 16 <= n; l += 16)
        for (uint32_t j = l; j < l + 16; j++)
            keys[j] = m2 * cnorm[j] + add + mul * (float)idot[j];
    for (; l < n; l++)
        keys[l] = m2 * cnorm[l] + add + mul * (float)idot[l];
}

/* The nprobe best lists for query q, best first, into c->probes. The
 * centroids are scored twice: all of them approximately, from bytes that
 * stay in L2 (a quarter of the float bytes, which at 4,096 x 128 come from
 * L3 or memory on every query), then the short list exactly. */
static uint32_t select_probes(struct ctx *c, const float *q)
{
    const struct tm_ivf *ix = c->ix;
    uint32_t nl = ix->p.nlist, d = ix->p.dim, nr = shortlist_size(c->nprobe, nl);
    uint32_t np = c->nprobe < nl ? c->nprobe : nl;
    float *keys = c->coarse;
    if (nr == nl) {
        c->k->ip_f32_many(q, ix->centroids, nl, d, keys);
        for (uint32_t l = 0; l < nl; l++)
            keys[l] = coarse_key(ix, l, keys[l]);
        np = best_lists(c->shortlist, keys, NULL, nl, np);
    } else {
        float scale, base;
        tm_bytes_of_query(q, d, ix->c_lo, ix->c_step, c->q8, &scale, &base);
        c->k->dot_s8u8_many(c->q8, ix->c_u8, nl, d, c->idot);
        float m2 = ivf_coarse_ip(ix) ? 0.0f : 1.0f;
        float mul = ivf_coarse_ip(ix) ? -scale : -2.0f * scale;
        float add = ivf_coarse_ip(ix) ? -base : -2.0f * base;
        byte_keys(keys, ix->cnorm, c->idot, nl, m2, add, mul);
        /* the byte pass's best nr, then their exact keys */
        nr = best_lists(c->shortlist, keys, NULL, nl, nr);
        uint32_t *ids = (uint32_t *)c->idot; /* the byte dot products are spent */
        for (uint32_t i = 0; i < nr; i++) {
            uint32_t l = ids[i] = hit_id(c->shortlist[i]);
            keys[i] = coarse_key(ix, l, c->k->ip_f32(q, ix->centroids + (size_t)l * d, d));
        }
        np = best_lists(c->shortlist, keys, ids, nr, np);
    }
    memcpy(c->probes, c->shortlist, np * sizeof *c->probes);
    sort_hits(c->probes, np);
    return np;
}

static void scan_flat(struct ctx *c, const float *q, uint32_t np, struct pool *hp)
{
    const struct tm_ivf *ix = c->ix;
    size_t d = ix->p.dim;
    int ip = ix->p.metric != TM_IVF_L2;
    for (uint32_t p = 0; p < np; p++) {
        uint32_t l = hit_id(c->probes[p]);
        uint64_t first = ix->list_off[l], cnt = ix->list_off[l + 1] - first;
        (ip ? c->k->ip_f32_many : c->k->l2_f32_many)(q, ix->vecs + first * d, cnt, d, c->scores);
        for (uint64_t e = 0; e < cnt; e++) {
            uint32_t id = ix->ids[first + e];
            if (allowed(c->sp->allow, id))
                pool_add(hp, ip ? -c->scores[e] : c->scores[e], id);
        }
    }
}

static void scan_pq8(struct ctx *c, const float *q, uint32_t np, struct pool *hp)
{
    const struct tm_ivf *ix = c->ix;
    uint32_t m = ix->p.m, ks = ix->ksub;
    for (uint32_t p = 0; p < np; p++) {
        uint32_t l = hit_id(c->probes[p]);
        float bias;
        ivf_pq_lut(ix, q, l, c->resid, c->lut, &bias);
        for (uint64_t e = ix->list_off[l]; e < ix->list_off[l + 1]; e++) {
            const uint8_t *code = ix->codes + e * m;
            float key = bias;
            for (uint32_t s = 0; s < m; s++)
                key += c->lut[s * ks + code[s]];
            if (key <= hp->limit && allowed(c->sp->allow, ix->ids[e]))
                pool_add(hp, key, ix->ids[e]);
        }
    }
}

/* The largest 16-bit sum whose key, bias + sum / scale, can still enter a
 * heap whose worst key is limit (one more than the exact bound, so rounding
 * never drops a candidate the float comparison in pool_add would take). */
static uint32_t sum_limit(float limit, float bias, float scale)
{
    float v = (limit - bias) * scale + 1.0f;
    return v >= 65535.0f ? 65535u : v < 0 ? 0u : (uint32_t)v;
}

static void scan_pq4_list(struct ctx *c, uint32_t p, float scale, struct pool *hp)
{
    const struct tm_ivf *ix = c->ix;
    uint32_t l = hit_id(c->probes[p]);
    uint64_t first = ix->list_off[l], cnt = ix->list_off[l + 1] - first;
    size_t per = (size_t)ix->mpad * 16;
    const uint8_t *codes = ix->codes + ix->list_blk[l] * per;
    c->k->pq4_accumulate(codes, (cnt + 31) / 32, c->lut8 + p * per, ix->mpad, c->acc);
    float bias = c->bias[p], inv = 1.0f / scale;
    uint32_t lim = sum_limit(hp->limit, bias, scale);
    for (uint64_t e = 0; e < cnt; e++) {
        if (c->acc[e] > lim)
            continue;
        uint32_t id = ix->ids[first + e];
        if (!allowed(c->sp->allow, id))
            continue;
        pool_add(hp, bias + (float)c->acc[e] * inv, id);
        lim = sum_limit(hp->limit, bias, scale);
    }
}

/* IVF_PQ4: every probe's float table is the query's table plus the list's
 * (ivf_int.h, tl): an add per entry, not a distance. Both parts have had
 * their minima per sub-space taken out, so every entry is >= 0 and the
 * probe's bias is the coarse distance (the coarse key, completed by |q|^2
 * for L2) plus those minima. The bytes share one scale, the largest entry
 * of any probe mapped to 255, so that keys (bias + sum / scale) compare
 * across lists; with more than 257 sub-spaces the top byte is lower, so
 * that no 16-bit sum overflows (distance.h, pq4_accumulate). */
/* A probe's float table, tq plus the list's tl (tq alone for IP), exists
 * only on the fly: writing nprobe of them (4 KB each at m = 64) to memory
 * and reading them back cost more than the adds, so the largest entry is
 * found in one pass and the bytes written in a second. */
static float pq4_table_max(const struct ctx *c, const float *tq, uint32_t np, float mx)
{
    const struct tm_ivf *ix = c->ix;
    size_t per = (size_t)ix->mpad * 16;
    for (uint32_t p = 0; p < np; p++)
        mx = c->k->pq4_table_max(tq, ix->tl + (size_t)hit_id(c->probes[p]) * per, per, mx);
    return mx;
}

static void pq4_table_bytes(struct ctx *c, const float *tq, uint32_t p, float scale)
{
    const struct tm_ivf *ix = c->ix;
    size_t per = (size_t)ix->mpad * 16;
    const float *tl =
        ix->p.metric == TM_IVF_IP ? NULL : ix->tl + (size_t)hit_id(c->probes[p]) * per;
    c->k->pq4_table_bytes(tq, tl, per, scale, c->lut8 + p * per); /* >= 0: truncation rounds */
}

static void scan_pq4(struct ctx *c, const float *q, uint32_t np, struct pool *hp)
{
    const struct tm_ivf *ix = c->ix;
    float tq_min, span, top = ix->mpad > 257 ? (float)(65535u / ix->mpad) : 255.0f;
    int l2 = ix->p.metric != TM_IVF_IP;
    float *tq = c->lut;
    ivf_pq4_query_table(ix, q, tq, &tq_min, &span);
    float qn = l2 ? c->k->ip_f32(q, q, ix->p.dim) : 0.0f;
    float mx = l2 ? pq4_table_max(c, tq, np, span) : span;
    for (uint32_t p = 0; p < np; p++) {
        uint32_t l = hit_id(c->probes[p]);
        c->bias[p] = hit_key(c->probes[p]) + tq_min + (l2 ? qn + ix->tl_min[l] : 0.0f);
    }
    float scale = mx > 0 ? top / mx : 1.0f;
    for (uint32_t p = 0; p < np; p++)
        pq4_table_bytes(c, tq, p, scale);
    for (uint32_t p = 0; p < np; p++)
        scan_pq4_list(c, p, scale, hp);
}

/* The exact key of row id for query q (normalised for COSINE). */
static float exact_key(const struct ctx *c, const float *q, uint32_t id)
{
    const struct tm_ivf *ix = c->ix;
    const float *x = ix->raw + (uint64_t)id * ix->p.dim;
    switch (ix->p.metric) {
    case TM_IVF_L2:
        return c->k->l2_f32(q, x, ix->p.dim);
    case TM_IVF_IP:
        return -c->k->ip_f32(q, x, ix->p.dim);
    default:
        return -c->k->ip_f32(q, x, ix->p.dim) * ix->inv_norm[id];
    }
}

/* Re-ranks the candidates in place by their exact keys. */
static void rerank(struct ctx *c, const float *q, struct pool *hp)
{
    /* The rows are scattered over the whole segment: ask for all of them
     * first, so their cache misses overlap instead of queueing one by one. */
    const struct tm_ivf *ix = c->ix;
    for (uint32_t i = 0; i < hp->n; i++)
        for (uint32_t o = 0; o < ix->p.dim; o += 16)
            __builtin_prefetch(ix->raw + (uint64_t)hit_id(hp->h[i]) * ix->p.dim + o);
    for (uint32_t i = 0; i < hp->n; i++)
        hp->h[i] = hit_make(exact_key(c, q, hit_id(hp->h[i])), hit_id(hp->h[i]));
}

/* The final key of an approximate candidate: COSINE PQ keys are squared
 * distances between unit vectors, 2 - 2 cos, reported as -cos. */
static float approx_key(const struct tm_ivf *ix, float key)
{
    return ix->p.metric == TM_IVF_COSINE && ix->p.kind != TM_IVF_FLAT ? key * 0.5f - 1.0f : key;
}

/* The best k of the candidates, best first, into the outputs. */
static void emit(const struct ctx *c, struct pool *hp, int64_t *ids, float *keys)
{
    uint32_t k = c->sp->k, n = hp->n < k ? hp->n : k;
    if (n > 0)
        select_best(hp->h, hp->n, n);
    sort_hits(hp->h, n);
    for (uint32_t r = 0; r < k; r++) {
        ids[r] = r < n ? (int64_t)hit_id(hp->h[r]) : -1;
        keys[r] = r < n ? hit_key(hp->h[r]) : INFINITY;
    }
}

static void search_one(struct ctx *c, const float *q, int64_t *ids, float *keys)
{
    const struct tm_ivf *ix = c->ix;
    uint32_t np = select_probes(c, q);
    int exact = ix->p.kind == TM_IVF_FLAT || (c->sp->rerank > 0 && ix->raw);
    struct pool hp = {c->cands, 0, ix->p.kind == TM_IVF_FLAT ? c->sp->k : c->ncand, INFINITY};
    memset(c->bias, 0, np * sizeof(float));
    if (ix->p.kind == TM_IVF_FLAT)
        scan_flat(c, q, np, &hp);
    else if (ix->p.kind == TM_IVF_PQ)
        scan_pq8(c, q, np, &hp);
    else
        scan_pq4(c, q, np, &hp);
    pool_shrink(&hp);
    if (ix->p.kind != TM_IVF_FLAT && exact)
        rerank(c, q, &hp);
    else if (!exact)
        for (uint32_t i = 0; i < hp.n; i++)
            hp.h[i] = hit_make(approx_key(ix, hit_key(hp.h[i])), hit_id(hp.h[i]));
    emit(c, &hp, ids, keys);
}

/* Queries [j0, j0 + n) as the index compares them (unit vectors for
 * COSINE): q itself, or their normalised copies in c->qbuf. */
static const float *chunk_queries(struct ctx *c, const float *q, uint32_t n)
{
    if (c->ix->p.metric != TM_IVF_COSINE)
        return q;
    uint32_t d = c->ix->p.dim;
    for (uint32_t j = 0; j < n; j++) {
        const float *v = q + (size_t)j * d;
        float nv = tm_norm_f32(c->k, v, d), inv = nv > 0 ? 1.0f / nv : 0.0f;
        for (uint32_t t = 0; t < d; t++)
            c->qbuf[(size_t)j * d + t] = v[t] * inv;
    }
    return c->qbuf;
}

int tm_ivf_search(const struct tm_ivf *ix, const float *q, uint32_t nq,
                  const struct tm_ivf_search_params *sp, int64_t *ids_out, float *keys_out)
{
    uint32_t nl = ix->p.nlist, d = ix->p.dim, k = sp->k;
    if (k == 0)
        return TM_EINVAL;
    struct ctx c = {.ix = ix, .sp = sp, .k = sp->kernels ? sp->kernels : tm_kernels_best()};
    c.nq = nq ? nq : 1;
    c.nprobe = sp->nprobe == 0 ? 1 : sp->nprobe > nl ? nl : sp->nprobe;
    c.ncand = sp->rerank > k ? sp->rerank : k;
    char *mem = ctx_alloc(&c);
    if (!mem)
        return TM_ENOMEM;
    for (uint32_t j0 = 0; j0 < nq; j0 += COARSE_CHUNK) {
        uint32_t n = nq - j0 < COARSE_CHUNK ? nq - j0 : COARSE_CHUNK;
        const float *qs = chunk_queries(&c, q + (size_t)j0 * d, n);
        for (uint32_t j = 0; j < n; j++)
            search_one(&c, qs + (size_t)j * d, ids_out + (size_t)(j0 + j) * k,
                       keys_out + (size_t)(j0 + j) * k);
    }
    free(mem);
    return 0;
}
