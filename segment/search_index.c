/* Searching a sealed segment through its vector index (search_int.h).
 *
 * The segment's eligible rows (visible at the read's timestamps, in a
 * selected partition, matched by the filter: store_scan.c) are the index
 * search's `allow` bitset, so a probe never returns a deleted, superseded
 * or filtered-out row, and the hits join the same per-query collectors as
 * the scanned segments'. Index keys are already "smaller is better" (the
 * squared L2 distance, the negated inner product or cosine), which is the
 * collectors' key, and they are exact: PQ candidates are re-ranked against
 * the raw vectors before they come back.
 *
 * A filter (or deletes) that leaves few rows would starve the probed lists:
 * they hold about eligible * nprobe / nlist of them, and when that is below
 * 2k the segment is scored exactly instead, row by row over the eligible
 * rows when they are sparse (under 1/16), by the block scan otherwise.
 */
#include "distance.h"
#include "search_int.h"
#include "seg_index.h"
#include "store_int.h"

#include <math.h>
#include <stdlib.h>

/* ids and keys one tm_ivf_search call fills: queries per call * k. */
#define MAX_RESULTS 65536u
#define MAX_RERANK 65536u

const struct tm_seg_index *tm_scan_index_of(const struct tm_scan *sc, uint32_t seg)
{
    const struct tm_search_spec *sp = sc->sp;
    if (sc->type != TM_T_FLOAT_VECTOR || sp->has_radius || sp->has_range_filter ||
        sp->group_field_id)
        return NULL; /* range and grouping searches rank every candidate: brute force */
    const struct tm_seg_index *ix = tm_seg_index_find(sc->s->segs[seg].ix, sp->field_id);
    return ix && ix->metric == sc->metric ? ix : NULL;
}

/* The key of row x for query qi, as the brute-force scan computes it. */
static float exact_key(const struct tm_scan *sc, uint32_t qi, const float *x, float xnorm)
{
    const float *q = sc->qf + (size_t)qi * sc->dim;
    if (sc->metric == TM_METRIC_L2)
        return sc->k->l2_f32(q, x, sc->dim);
    float ip = sc->k->ip_f32(q, x, sc->dim);
    if (sc->metric == TM_METRIC_COSINE) {
        float qn = sc->qnorm[qi];
        ip = qn > 0 && xnorm > 0 ? ip / (qn * xnorm) : 0.0f;
    }
    return -ip;
}

/* Exact scores of the eligible rows only: few of them, so one at a time. */
static int scan_eligible(struct tm_scan *sc, uint32_t seg, const uint64_t *bits)
{
    const struct tm_store_seg *sg = &sc->s->segs[seg];
    const struct tm_col *col = tm_batch_col(&sg->rows, sc->sp->field_id);
    const float *x = (const float *)col->data.data;
    int rc = 0;
    for (uint64_t w = 0; w < ((uint64_t)sg->rows.nrows + 63) / 64 && !rc; w++) {
        for (uint64_t m = bits[w]; m && !rc; m &= m - 1) {
            uint32_t row = (uint32_t)(w * 64 + (uint64_t)__builtin_ctzll(m));
            const float *xr = x + (size_t)row * sc->dim;
            float xn = sc->metric == TM_METRIC_COSINE ? tm_norm_f32(sc->k, xr, sc->dim) : 0.0f;
            for (uint32_t qi = 0; qi < sc->sp->nq && !rc; qi++) {
                float key = exact_key(sc, qi, xr, xn);
                if (!isnan(key))
                    rc = tm_collector_offer(&sc->coll[qi], key, REF(seg, row));
            }
        }
    }
    return rc;
}

static uint32_t rerank_of(const struct tm_scan *sc, const struct tm_seg_index *ix,
                          const struct tm_ivf_params *p)
{
    if (p->kind == TM_IVF_FLAT)
        return 0;
    double f = sc->sp->refine_k > 0 ? sc->sp->refine_k : ix->refine;
    double r = ceil(f * (double)sc->sp->k);
    return r < sc->sp->k ? sc->sp->k : r > MAX_RERANK ? MAX_RERANK : (uint32_t)r;
}

/* Probes the index for every query, a chunk of queries per call. */
static int probe(struct tm_scan *sc, uint32_t seg, const struct tm_seg_index *ix,
                 const struct tm_ivf_search_params *isp)
{
    uint32_t k = isp->k, chunk = MAX_RESULTS / k ? MAX_RESULTS / k : 1;
    chunk = chunk < sc->sp->nq ? chunk : sc->sp->nq;
    int64_t *ids = malloc((size_t)chunk * k * sizeof *ids);
    float *keys = malloc((size_t)chunk * k * sizeof *keys);
    int rc = ids && keys ? 0 : TM_ENOMEM;
    for (uint32_t j0 = 0; j0 < sc->sp->nq && !rc; j0 += chunk) {
        uint32_t n = sc->sp->nq - j0 < chunk ? sc->sp->nq - j0 : chunk;
        rc = tm_ivf_search(ix->ivf, sc->qf + (size_t)j0 * sc->dim, n, isp, ids, keys);
        for (uint32_t j = 0; j < n && !rc; j++) {
            for (uint32_t r = 0; r < k && !rc; r++) {
                int64_t id = ids[(size_t)j * k + r];
                float key = keys[(size_t)j * k + r];
                if (id < 0)
                    break; /* fewer than k found */
                if (!isnan(key))
                    rc = tm_collector_offer(&sc->coll[j0 + j], key, REF(seg, id));
            }
        }
    }
    free(ids);
    free(keys);
    return rc;
}

/* Set bits among the first n, cheap for the usual all-set and all-clear
 * words (the portable build has no popcount instruction: one libgcc call
 * per word otherwise, on every search). */
static uint64_t count_bits(const uint64_t *bits, uint32_t n)
{
    uint64_t c = 0;
    for (uint32_t w = 0; w < n / 64; w++)
        c += bits[w] == ~0ULL ? 64 : bits[w] ? (uint64_t)__builtin_popcountll(bits[w]) : 0;
    if (n % 64)
        c += (uint64_t)__builtin_popcountll(bits[n / 64] & ((1ULL << (n % 64)) - 1));
    return c;
}

int tm_scan_indexed(struct tm_scan *sc, uint32_t seg, const struct tm_seg_index *ix,
                    const uint64_t *bits)
{
    uint32_t nrows = sc->s->segs[seg].rows.nrows;
    uint64_t eligible = count_bits(bits, nrows);
    if (eligible == 0)
        return 0;
    const struct tm_ivf_params *p = tm_ivf_params_of(ix->ivf);
    uint32_t nprobe = sc->sp->nprobe ? sc->sp->nprobe : ix->nprobe;
    nprobe = nprobe < p->nlist ? nprobe : p->nlist;
    if (eligible < nrows && (double)eligible * nprobe < 2.0 * sc->sp->k * p->nlist)
        return eligible * 16 < nrows ? scan_eligible(sc, seg, bits) : 1;
    struct tm_ivf_search_params isp = {.nprobe = nprobe,
                                       .k = sc->sp->k,
                                       .rerank = rerank_of(sc, ix, p),
                                       .allow = eligible == nrows ? NULL : bits,
                                       .kernels = sc->k};
    return probe(sc, seg, ix, &isp);
}
