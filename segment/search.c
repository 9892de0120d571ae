/* Brute-force search (rules in search.h).
 *
 * The scan runs segment by segment and, inside a segment, block by block:
 * a block of rows is scored against every query before the next block is
 * read, so with nq > 1 the rows are fetched from memory once, not nq
 * times. Each query keeps its best k in a bounded max-heap keyed so that
 * smaller is better (descending metrics are negated).
 */
#include "search.h"
#include "distance.h"
#include "search_int.h"
#include "store_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rows scored per block: about 256 KiB of float data, so a block stays in
 * the L2 cache while every query is scored against it. */
#define BLOCK_BYTES (256u * 1024u)
/* Queries scored per batched kernel call (their scores for one block are
 * kept: QUERY_CHUNK * block floats). */
#define QUERY_CHUNK 32u

int tm_metric_parse(const char *name)
{
    static const char *const names[] = {"L2", "IP", "COSINE", "HAMMING", "JACCARD"};
    for (int i = 0; i < 5; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

bool tm_metric_ascending(enum tm_metric m)
{
    return m != TM_METRIC_IP && m != TM_METRIC_COSINE;
}

void tm_search_hits_init(struct tm_search_hits *h)
{
    memset(h, 0, sizeof *h);
}

void tm_search_hits_free(struct tm_search_hits *h)
{
    free(h->topks);
    free(h->refs);
    free(h->scores);
    tm_search_hits_init(h);
}

/* ---- scoring ---- */

static bool metric_fits(enum tm_dtype t, enum tm_metric m)
{
    switch (t) {
    case TM_T_FLOAT_VECTOR:
    case TM_T_FLOAT16_VECTOR:
    case TM_T_BFLOAT16_VECTOR:
    case TM_T_INT8_VECTOR:
        return m == TM_METRIC_L2 || m == TM_METRIC_IP || m == TM_METRIC_COSINE;
    case TM_T_BINARY_VECTOR:
        return m == TM_METRIC_HAMMING || m == TM_METRIC_JACCARD;
    case TM_T_SPARSE_VECTOR:
        return m == TM_METRIC_IP;
    default:
        return false;
    }
}

static bool is_float_family(enum tm_dtype t)
{
    return t == TM_T_FLOAT_VECTOR || t == TM_T_FLOAT16_VECTOR || t == TM_T_BFLOAT16_VECTOR;
}

/* Query vectors as floats (float family), with their norms for COSINE. */
static int prepare_queries(struct tm_scan *sc)
{
    const struct tm_search_spec *sp = sc->sp;
    if (!is_float_family(sc->type))
        return 0;
    size_t d = sc->dim;
    sc->qf = malloc((size_t)sp->nq * d * sizeof(float) + 1);
    sc->qnorm = malloc((size_t)sp->nq * sizeof(float) + 1);
    if (!sc->qf || !sc->qnorm)
        return TM_ENOMEM;
    for (uint32_t i = 0; i < sp->nq; i++) {
        float *dst = sc->qf + (size_t)i * d;
        const uint8_t *src = sp->vecs + (size_t)i * sc->width;
        if (sc->type == TM_T_FLOAT_VECTOR)
            memcpy(dst, src, d * sizeof(float));
        else if (sc->type == TM_T_FLOAT16_VECTOR)
            sc->k->f16_to_f32((const uint16_t *)src, dst, d);
        else
            sc->k->bf16_to_f32((const uint16_t *)src, dst, d);
        sc->qnorm[i] = tm_norm_f32(sc->k, dst, d);
    }
    return 0;
}

/* The block's rows as floats: the column itself for FloatVector, else
 * converted into the scan's scratch. */
static const float *block_floats(struct tm_scan *sc, const uint8_t *rows, uint32_t n)
{
    if (sc->type == TM_T_FLOAT_VECTOR)
        return (const float *)rows;
    size_t cnt = (size_t)n * sc->dim;
    if (sc->type == TM_T_FLOAT16_VECTOR)
        sc->k->f16_to_f32((const uint16_t *)rows, sc->scratch, cnt);
    else
        sc->k->bf16_to_f32((const uint16_t *)rows, sc->scratch, cnt);
    return sc->scratch;
}

static float cosine(float ip, float qn, float xn)
{
    return qn > 0 && xn > 0 ? ip / (qn * xn) : 0.0f;
}

/* Scores of n consecutive rows against queries [q0, q0 + nq) into out,
 * query j's at out + j * n. One batched kernel call for all of them, so each
 * row is loaded once per group of queries (index/distance.h). */
static void score_float_block(struct tm_scan *sc, uint32_t q0, uint32_t nq, const float *x,
                              uint32_t n, float *out)
{
    const float *q = sc->qf + (size_t)q0 * sc->dim;
    /* A lone query reads each row once anyway; the batch would add a pass
     * for the row norms. Chunks are the same in every block, so a query
     * takes the same path everywhere. */
    if (nq == 1 && sc->metric == TM_METRIC_L2)
        sc->k->l2_f32_many(q, x, n, sc->dim, out);
    else if (nq == 1)
        sc->k->ip_f32_many(q, x, n, sc->dim, out);
    else if (sc->metric == TM_METRIC_L2)
        sc->k->l2_f32_batch(q, nq, x, n, sc->dim, out, n);
    else
        sc->k->ip_f32_batch(q, nq, x, n, sc->dim, out, n);
    if (sc->metric == TM_METRIC_L2)
        return;
    if (sc->metric == TM_METRIC_COSINE)
        for (uint32_t j = 0; j < nq; j++)
            for (uint32_t r = 0; r < n; r++)
                out[(size_t)j * n + r] =
                    cosine(out[(size_t)j * n + r], sc->qnorm[q0 + j], sc->xnorm[r]);
}

static float score_int8(const struct tm_scan *sc, const int8_t *q, const int8_t *x)
{
    if (sc->metric == TM_METRIC_L2)
        return (float)sc->k->l2_i8(q, x, sc->dim);
    float ip = (float)sc->k->ip_i8(q, x, sc->dim);
    if (sc->metric == TM_METRIC_IP)
        return ip;
    float qn = sqrtf((float)sc->k->ip_i8(q, q, sc->dim));
    float xn = sqrtf((float)sc->k->ip_i8(x, x, sc->dim));
    return cosine(ip, qn, xn);
}

static float score_binary(const struct tm_scan *sc, const uint8_t *q, const uint8_t *x)
{
    if (sc->metric == TM_METRIC_HAMMING)
        return (float)sc->k->hamming(q, x, sc->width);
    uint32_t a, o;
    sc->k->and_or_count(q, x, sc->width, &a, &o);
    return o ? 1.0f - (float)a / (float)o : 0.0f;
}

/* Inner product of two sparse vectors: sorted (index, value) pairs. */
static float score_sparse(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    float sum = 0;
    size_t i = 0, j = 0;
    while (i + 8 <= alen && j + 8 <= blen) {
        uint32_t ia, ib;
        memcpy(&ia, a + i, 4);
        memcpy(&ib, b + j, 4);
        if (ia == ib) {
            float va, vb;
            memcpy(&va, a + i + 4, 4);
            memcpy(&vb, b + j + 4, 4);
            sum += va * vb;
        }
        i += ia <= ib ? 8 : 0;
        j += ib <= ia ? 8 : 0;
    }
    return sum;
}

/* Scores of row `row` (one at a time: int8, binary, sparse). */
static float score_row(struct tm_scan *sc, uint32_t qi, const struct tm_col *col, uint32_t row)
{
    size_t len;
    const uint8_t *x = tm_col_value(col, row, &len);
    if (sc->type == TM_T_SPARSE_VECTOR) {
        uint64_t from = qi ? sc->sp->sparse_ends[qi - 1] : 0;
        return score_sparse(sc->sp->vecs + from, sc->sp->sparse_ends[qi] - from, x, len);
    }
    const uint8_t *q = sc->sp->vecs + (size_t)qi * sc->width;
    if (sc->type == TM_T_INT8_VECTOR)
        return score_int8(sc, (const int8_t *)q, (const int8_t *)x);
    return score_binary(sc, q, x);
}

/* ---- the scan ---- */

static bool in_range(const struct tm_scan *sc, float d)
{
    const struct tm_search_spec *sp = sc->sp;
    if (sc->asc)
        return (!sp->has_radius || d < sp->radius) &&
               (!sp->has_range_filter || d >= sp->range_filter);
    return (!sp->has_radius || d > sp->radius) && (!sp->has_range_filter || d <= sp->range_filter);
}

static int offer(struct tm_scan *sc, uint32_t qi, float score, int64_t ref)
{
    float key = sc->asc ? score : -score;
    const struct tm_collector *c = &sc->coll[qi];
    /* Most rows lose to a full heap's worst hit: refuse them before the
     * range check and the call (a later row never wins a tie). */
    if (c->n == sc->sp->k && !sc->sp->group_field_id && !(key < c->hits[0].key))
        return 0;
    if (isnan(score) || !in_range(sc, score))
        return 0;
    return tm_collector_offer(&sc->coll[qi], key, ref);
}

static int scan_block(struct tm_scan *sc, uint32_t seg, const struct tm_col *col, uint32_t from,
                      uint32_t n, const uint64_t *bits)
{
    bool dense_float = is_float_family(sc->type);
    const float *x = NULL;
    if (dense_float) {
        x = block_floats(sc, col->data.data + (size_t)from * sc->width, n);
        if (sc->metric == TM_METRIC_COSINE)
            for (uint32_t r = 0; r < n; r++)
                sc->xnorm[r] = tm_norm_f32(sc->k, x + (size_t)r * sc->dim, sc->dim);
    }
    int rc = 0;
    for (uint32_t qi = 0; qi < sc->sp->nq && !rc; qi++) {
        uint32_t j = qi % QUERY_CHUNK; /* the query's scores in the chunk */
        if (dense_float && j == 0) {
            uint32_t nq = sc->sp->nq - qi < QUERY_CHUNK ? sc->sp->nq - qi : QUERY_CHUNK;
            score_float_block(sc, qi, nq, x, n, sc->scores);
        }
        const float *scores = sc->scores + (size_t)j * n;
        for (uint32_t r = 0; r < n && !rc; r++) {
            uint32_t row = from + r;
            if (!(bits[row / 64] >> (row % 64) & 1) || (col->nullable && tm_col_is_null(col, row)))
                continue;
            float d = dense_float ? scores[r] : score_row(sc, qi, col, row);
            rc = offer(sc, qi, d, REF(seg, row));
        }
    }
    return rc;
}

static bool any_bit(const uint64_t *bits, uint32_t from, uint32_t n)
{
    for (uint32_t r = from; r < from + n; r++)
        if (bits[r / 64] >> (r % 64) & 1)
            return true;
    return false;
}

static int scan_segment(struct tm_scan *sc, uint32_t seg, const uint64_t *bits)
{
    const struct tm_store_seg *sg = &sc->s->segs[seg];
    const struct tm_col *col = tm_batch_col(&sg->rows, sc->sp->field_id);
    if (!col)
        return 0;
    int rc = 0;
    for (uint32_t from = 0; from < sg->rows.nrows && !rc; from += sc->block) {
        uint32_t n = sg->rows.nrows - from < sc->block ? sg->rows.nrows - from : sc->block;
        if (any_bit(bits, from, n))
            rc = scan_block(sc, seg, col, from, n, bits);
    }
    return rc;
}

static int scan_init(struct tm_scan *sc, struct tm_store *s, const struct tm_search_spec *sp)
{
    memset(sc, 0, sizeof *sc);
    sc->s = s;
    sc->sp = sp;
    sc->k = tm_kernels_best();
    const struct tm_col *lc = tm_batch_col(&s->layout, sp->field_id);
    const struct tm_field *f = s->schema ? tm_schema_field_by_id(s->schema, sp->field_id) : NULL;
    if (!lc || !f || !metric_fits(lc->type, sp->metric) || sp->k == 0)
        return TM_EINVAL;
    sc->type = lc->type;
    sc->width = lc->width;
    sc->dim = (uint32_t)f->dim;
    sc->metric = sp->metric;
    sc->asc = tm_metric_ascending(sp->metric);
    uint32_t row_bytes = sc->dim ? sc->dim * 4 : 4;
    sc->block = BLOCK_BYTES / row_bytes ? BLOCK_BYTES / row_bytes : 1;
    sc->scratch = malloc((size_t)sc->block * row_bytes);
    sc->scores = malloc((size_t)sc->block * QUERY_CHUNK * sizeof(float));
    sc->xnorm = malloc((size_t)sc->block * sizeof(float));
    sc->coll = calloc(sp->nq ? sp->nq : 1, sizeof *sc->coll);
    if (!sc->scratch || !sc->scores || !sc->xnorm || !sc->coll)
        return TM_ENOMEM;
    for (uint32_t i = 0; i < sp->nq; i++)
        tm_collector_init(&sc->coll[i], sp, s);
    return prepare_queries(sc);
}

static void scan_free(struct tm_scan *sc)
{
    for (uint32_t i = 0; sc->coll && i < sc->sp->nq; i++)
        tm_collector_free(&sc->coll[i]);
    free(sc->coll);
    free(sc->scratch);
    free(sc->scores);
    free(sc->xnorm);
    free(sc->qf);
    free(sc->qnorm);
}

int tm_store_search(struct tm_store *s, const struct tm_store_read *q,
                    const struct tm_search_spec *sp, struct tm_search_hits *out)
{
    struct tm_scan sc;
    uint64_t **bits = NULL;
    int rc = scan_init(&sc, s, sp);
    if (!rc)
        rc = tm_store_eligible(s, q, &bits);
    for (uint32_t i = 0; !rc && i < s->nsegs; i++) {
        const struct tm_seg_index *ix = tm_scan_index_of(&sc, i);
        rc = ix ? tm_scan_indexed(&sc, i, ix, bits[i]) : 1;
        if (rc == 1) /* no index, or one that would find too few of the eligible rows */
            rc = scan_segment(&sc, i, bits[i]);
    }
    if (!rc)
        rc = tm_collectors_finish(sc.coll, sp->nq, sc.asc, out);
    tm_store_bits_free(s, bits);
    scan_free(&sc);
    return rc;
}

int tm_store_rows_of(struct tm_store *s, const int64_t *refs, uint64_t n,
                     const struct tm_store_read *q, struct tm_batch *out)
{
    if (!s->schema && !s->nsegs)
        return 0; /* no rows, and no layout to give */
    int rc = tm_store_out_layout(s, q, out);
    for (uint64_t i = 0; i < n && !rc; i++)
        rc = tm_batch_append_rows(out, &s->segs[REF_SEG(refs[i])].rows, REF_ROW(refs[i]), 1);
    return rc;
}
