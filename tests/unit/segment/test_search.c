/* Brute-force search (segment/search.h) against an exact reference.
 *
 * A store with one vector field of every type gets random rows, then
 * upserts and deletes; every (type, metric) is searched with nq = 3 and its
 * hits compared with a reference computed here in double precision over a
 * model of which version of each key is live: the same ids (ties may come
 * in either order, but each returned score must be the reference score of
 * its id and no better row may be left out), scores within tolerance, and
 * never a deleted or superseded version. Filters, range search, offsets and
 * grouping are checked the same way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distance.h"
#include "search.h"
#include "store.h"

#define NKEYS 300
#define NQ 3
#define K 10
enum { F_PK = 100, F_FLOAT, F_F16, F_BF16, F_BIN, F_I8, F_SPARSE, F_GROUP };
#define DIM 7
#define HDIM 5
#define BDIM 16
#define I8DIM 6
#define SPARSE_MAX 6

/* The live version of each key: its values, as the reference sees them. */
struct row {
    bool live;
    float f[DIM];
    uint16_t h[HDIM], bh[HDIM];
    uint8_t bin[BDIM / 8];
    int8_t i8[I8DIM];
    uint32_t sidx[SPARSE_MAX];
    float sval[SPARSE_MAX];
    uint32_t ns;
    int64_t group;
};

static struct row g_rows[NKEYS];
static struct tm_schema g_schema;
static unsigned g_seed = 12345;

static uint32_t rnd(void)
{
    g_seed = g_seed * 1103515245u + 12345u;
    return g_seed >> 8;
}

static float rndf(void)
{
    return (float)(rnd() % 2001) / 1000.0f - 1.0f;
}

static void add_field(struct tm_schema *s, int64_t id, enum tm_dtype t, int64_t dim)
{
    struct tm_field *f = &s->fields[s->nfields++];
    memset(f, 0, sizeof *f);
    f->id = id;
    f->type = t;
    f->dim = dim;
    f->primary = id == F_PK;
    snprintf(f->name, sizeof f->name, "f%lld", (long long)id);
}

static void make_schema(void)
{
    memset(&g_schema, 0, sizeof g_schema);
    g_schema.fields = calloc(16, sizeof *g_schema.fields);
    add_field(&g_schema, F_PK, TM_T_INT64, 0);
    add_field(&g_schema, F_FLOAT, TM_T_FLOAT_VECTOR, DIM);
    add_field(&g_schema, F_F16, TM_T_FLOAT16_VECTOR, HDIM);
    add_field(&g_schema, F_BF16, TM_T_BFLOAT16_VECTOR, HDIM);
    add_field(&g_schema, F_BIN, TM_T_BINARY_VECTOR, BDIM);
    add_field(&g_schema, F_I8, TM_T_INT8_VECTOR, I8DIM);
    add_field(&g_schema, F_SPARSE, TM_T_SPARSE_VECTOR, 0);
    add_field(&g_schema, F_GROUP, TM_T_INT64, 0);
    g_schema.pk = 0;
}

static uint16_t half_of(float f)
{
    /* any bit pattern of a normal half is fine as test data: sign, an
     * exponent near 1.0 and random mantissa bits */
    (void)f;
    return (uint16_t)((rnd() & 0x8000) | (uint16_t)((13 + rnd() % 4) << 10) | (rnd() & 0x3ff));
}

static void random_row(struct row *r)
{
    for (int i = 0; i < DIM; i++)
        r->f[i] = rndf();
    for (int i = 0; i < HDIM; i++) {
        r->h[i] = half_of(0);
        r->bh[i] =
            (uint16_t)((rnd() & 0x8000) | (uint16_t)((124 + rnd() % 4) << 7) | (rnd() & 0x7f));
    }
    for (int i = 0; i < BDIM / 8; i++)
        r->bin[i] = (uint8_t)rnd();
    for (int i = 0; i < I8DIM; i++)
        r->i8[i] = (int8_t)(rnd() % 256 - 128);
    r->ns = 1 + rnd() % SPARSE_MAX;
    for (uint32_t i = 0, idx = rnd() % 5; i < r->ns; i++, idx += 1 + rnd() % 4) {
        r->sidx[i] = idx;
        r->sval[i] = rndf();
    }
    r->group = rnd() % 7;
    r->live = true;
}

static void push_row(struct tm_batch *b, int64_t id, const struct row *r)
{
    assert_int_equal(tm_col_push(tm_batch_col(b, F_PK), &id, 8), 0);
    assert_int_equal(tm_col_push(tm_batch_col(b, F_FLOAT), r->f, sizeof r->f), 0);
    assert_int_equal(tm_col_push(tm_batch_col(b, F_F16), r->h, sizeof r->h), 0);
    assert_int_equal(tm_col_push(tm_batch_col(b, F_BF16), r->bh, sizeof r->bh), 0);
    assert_int_equal(tm_col_push(tm_batch_col(b, F_BIN), r->bin, sizeof r->bin), 0);
    assert_int_equal(tm_col_push(tm_batch_col(b, F_I8), r->i8, sizeof r->i8), 0);
    uint8_t sp[SPARSE_MAX * 8];
    for (uint32_t i = 0; i < r->ns; i++) {
        memcpy(sp + i * 8, &r->sidx[i], 4);
        memcpy(sp + i * 8 + 4, &r->sval[i], 4);
    }
    assert_int_equal(tm_col_push(tm_batch_col(b, F_SPARSE), sp, r->ns * 8), 0);
    assert_int_equal(tm_col_push(tm_batch_col(b, F_GROUP), &r->group, 8), 0);
    b->nrows++;
}

static void apply(struct tm_store *s, enum tm_entry_kind kind, uint64_t ts, int64_t part,
                  const int64_t *ids, uint32_t n)
{
    struct tm_batch rows, pks;
    tm_batch_init(&rows);
    tm_batch_init(&pks);
    assert_int_equal(tm_batch_layout_from_schema(&rows, &g_schema), 0);
    struct tm_col *pkc = tm_batch_add_col(&pks, F_PK, TM_T_INT64, 8, false);
    for (uint32_t i = 0; i < n; i++) {
        if (kind != TM_ENTRY_DELETE)
            push_row(&rows, ids[i], &g_rows[ids[i]]);
        if (kind != TM_ENTRY_INSERT) {
            assert_int_equal(tm_col_push(pkc, &ids[i], 8), 0);
            pks.nrows++;
        }
    }
    struct tm_entry_hdr h = {
        .version = TM_ENTRY_VERSION, .kind = kind, .ts = ts, .coll_id = 1, .part_id = part};
    assert_int_equal(tm_store_apply(s, &h, kind == TM_ENTRY_DELETE ? NULL : &rows,
                                    kind == TM_ENTRY_INSERT ? NULL : &pks, F_PK),
                     0);
    tm_batch_free(&rows);
    tm_batch_free(&pks);
}

/* 300 keys inserted, 60 upserted with new values, 40 deleted. */
static struct tm_store *make_store(void)
{
    make_schema();
    struct tm_store *s = tm_store_new(1);
    assert_int_equal(tm_store_set_schema(s, &g_schema), 0);
    int64_t ids[NKEYS];
    for (int i = 0; i < NKEYS; i++) {
        ids[i] = i;
        random_row(&g_rows[i]);
    }
    apply(s, TM_ENTRY_INSERT, 10, 1, ids, NKEYS);
    for (int i = 0; i < 60; i++) {
        ids[i] = rnd() % NKEYS;
        random_row(&g_rows[ids[i]]);
        apply(s, TM_ENTRY_UPSERT, 20 + (uint64_t)i, 1, &ids[i], 1);
    }
    for (int i = 0; i < 40; i++) {
        ids[i] = rnd() % NKEYS;
        g_rows[ids[i]].live = false;
        apply(s, TM_ENTRY_DELETE, 100 + (uint64_t)i, 1, &ids[i], 1);
    }
    return s;
}

/* ---- the reference ---- */

static double ref_dense(const double *q, const double *x, int d, enum tm_metric m)
{
    double ip = 0, l2 = 0, qq = 0, xx = 0;
    for (int i = 0; i < d; i++) {
        ip += q[i] * x[i];
        l2 += (q[i] - x[i]) * (q[i] - x[i]);
        qq += q[i] * q[i];
        xx += x[i] * x[i];
    }
    if (m == TM_METRIC_L2)
        return l2;
    if (m == TM_METRIC_IP)
        return ip;
    return qq > 0 && xx > 0 ? ip / sqrt(qq * xx) : 0;
}

/* The row's vector of field f as doubles (dense types), dim into *d. */
static void as_doubles(const struct row *r, int f, double *out, int *d)
{
    for (int i = 0; i < DIM; i++) {
        if (f == F_FLOAT && i < DIM)
            out[i] = r->f[i], *d = DIM;
        else if (f == F_F16 && i < HDIM)
            out[i] = tm_f16_to_f32(r->h[i]), *d = HDIM;
        else if (f == F_BF16 && i < HDIM)
            out[i] = tm_bf16_to_f32(r->bh[i]), *d = HDIM;
        else if (f == F_I8 && i < I8DIM)
            out[i] = r->i8[i], *d = I8DIM;
    }
}

static double ref_score(const struct row *q, const struct row *x, int f, enum tm_metric m)
{
    if (f == F_BIN) {
        int a = 0, o = 0, h = 0;
        for (int i = 0; i < BDIM / 8; i++) {
            a += __builtin_popcount(q->bin[i] & x->bin[i]);
            o += __builtin_popcount(q->bin[i] | x->bin[i]);
            h += __builtin_popcount(q->bin[i] ^ x->bin[i]);
        }
        return m == TM_METRIC_HAMMING ? h : o ? 1.0 - (double)a / o : 0;
    }
    if (f == F_SPARSE) {
        double sum = 0;
        for (uint32_t i = 0; i < q->ns; i++)
            for (uint32_t j = 0; j < x->ns; j++)
                sum += q->sidx[i] == x->sidx[j] ? (double)q->sval[i] * x->sval[j] : 0;
        return sum;
    }
    double qd[DIM], xd[DIM];
    int d = 0;
    as_doubles(q, f, qd, &d);
    as_doubles(x, f, xd, &d);
    return ref_dense(qd, xd, d, m);
}

/* ---- searching ---- */

struct query_set {
    struct row q[NQ];
    uint8_t vecs[NQ * 64];
    uint64_t ends[NQ];
};

static size_t vec_bytes(const struct row *r, int f, uint8_t *out)
{
    const void *src = f == F_FLOAT  ? (const void *)r->f
                      : f == F_F16  ? (const void *)r->h
                      : f == F_BF16 ? (const void *)r->bh
                      : f == F_BIN  ? (const void *)r->bin
                                    : (const void *)r->i8;
    size_t n = f == F_FLOAT                ? sizeof r->f
               : f == F_F16 || f == F_BF16 ? sizeof r->h
               : f == F_BIN                ? sizeof r->bin
                                           : sizeof r->i8;
    if (f == F_SPARSE) {
        for (uint32_t i = 0; i < r->ns; i++) {
            memcpy(out + i * 8, &r->sidx[i], 4);
            memcpy(out + i * 8 + 4, &r->sval[i], 4);
        }
        return r->ns * 8;
    }
    memcpy(out, src, n);
    return n;
}

static void make_queries(struct query_set *qs, int f)
{
    size_t at = 0;
    for (int i = 0; i < NQ; i++) {
        random_row(&qs->q[i]);
        at += vec_bytes(&qs->q[i], f, qs->vecs + at);
        qs->ends[i] = at;
    }
}

typedef bool (*row_pred)(const struct row *r, int64_t id);

/* Checks the hits of query qi against the reference. */
static void check_query(const struct tm_search_hits *h, uint64_t from, uint32_t qi,
                        const struct query_set *qs, int f, const struct tm_search_spec *sp,
                        row_pred pred)
{
    /* spelled out here, not taken from the code under test */
    bool asc = sp->metric == TM_METRIC_L2 || sp->metric == TM_METRIC_HAMMING ||
               sp->metric == TM_METRIC_JACCARD;
    double ref[NKEYS];
    int nref = 0;
    for (int id = 0; id < NKEYS; id++) {
        if (!g_rows[id].live || (pred && !pred(&g_rows[id], id)))
            continue;
        double d = ref_score(&qs->q[qi], &g_rows[id], f, sp->metric);
        bool in = (!sp->has_radius || (asc ? d < sp->radius : d > sp->radius)) &&
                  (!sp->has_range_filter || (asc ? d >= sp->range_filter : d <= sp->range_filter));
        if (in)
            ref[nref++] = asc ? d : -d;
    }
    /* the k-th best reference key: nothing better may be missing */
    double sorted[NKEYS];
    memcpy(sorted, ref, sizeof(double) * (size_t)nref);
    for (int i = 1; i < nref; i++)
        for (int j = i; j > 0 && sorted[j] < sorted[j - 1]; j--) {
            double t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    uint32_t want = (uint32_t)nref - sp->offset < sp->k - sp->offset ? (uint32_t)nref - sp->offset
                                                                     : sp->k - sp->offset;
    if ((uint32_t)nref < sp->offset)
        want = 0;
    assert_int_equal(h->topks[qi], want);
    double tol = f == F_F16 || f == F_BF16 ? 1e-3 : 1e-4;
    for (uint32_t i = 0; i < h->topks[qi]; i++) {
        int64_t id = -1;
        (void)id;
        float got = h->scores[from + i];
        double expect = asc ? sorted[sp->offset + i] : -sorted[sp->offset + i];
        if (fabs(got - expect) > tol * (1 + fabs(expect)))
            fail_msg("field %d metric %d query %u hit %u: score %g, reference %g", f, sp->metric,
                     qi, i, (double)got, expect);
    }
}

/* The ids of the hits must be live keys whose own reference score is the
 * returned score. */
static void check_ids(struct tm_store *s, const struct tm_search_hits *h,
                      const struct query_set *qs, int f, enum tm_metric m)
{
    uint64_t at = 0;
    struct tm_store_read rq = {.ts = UINT64_MAX};
    struct tm_batch rows;
    tm_batch_init(&rows);
    assert_int_equal(tm_store_rows_of(s, h->refs, h->n, &rq, &rows), 0);
    for (uint32_t qi = 0; qi < h->nq; qi++) {
        for (uint32_t i = 0; i < h->topks[qi]; i++, at++) {
            int64_t id = tm_col_int64(tm_batch_col(&rows, F_PK), (uint32_t)at);
            assert_true(id >= 0 && id < NKEYS);
            assert_true(g_rows[id].live);
            double d = ref_score(&qs->q[qi], &g_rows[id], f, m);
            assert_true(fabs(h->scores[at] - d) <= 1e-3 * (1 + fabs(d)));
        }
    }
    tm_batch_free(&rows);
}

static void run_case(struct tm_store *s, int f, enum tm_metric m, struct tm_search_spec *sp,
                     const struct tm_expr *filter, row_pred pred)
{
    struct query_set qs;
    struct tm_search_hits h;
    make_queries(&qs, f);
    sp->field_id = f;
    sp->metric = m;
    sp->nq = NQ;
    sp->vecs = qs.vecs;
    sp->sparse_ends = qs.ends;
    struct tm_store_read q = {.ts = UINT64_MAX, .filter = filter};
    tm_search_hits_init(&h);
    assert_int_equal(tm_store_search(s, &q, sp, &h), 0);
    assert_int_equal(h.nq, NQ);
    uint64_t from = 0;
    for (uint32_t qi = 0; qi < NQ; qi++) {
        check_query(&h, from, qi, &qs, f, sp, pred);
        from += h.topks[qi];
    }
    assert_int_equal(from, h.n);
    check_ids(s, &h, &qs, f, m);
    tm_search_hits_free(&h);
}

static const struct {
    int f;
    enum tm_metric m;
} g_cases[] = {
    {F_FLOAT, TM_METRIC_L2},    {F_FLOAT, TM_METRIC_IP},  {F_FLOAT, TM_METRIC_COSINE},
    {F_F16, TM_METRIC_L2},      {F_F16, TM_METRIC_IP},    {F_F16, TM_METRIC_COSINE},
    {F_BF16, TM_METRIC_L2},     {F_BF16, TM_METRIC_IP},   {F_I8, TM_METRIC_L2},
    {F_I8, TM_METRIC_IP},       {F_I8, TM_METRIC_COSINE}, {F_BIN, TM_METRIC_HAMMING},
    {F_BIN, TM_METRIC_JACCARD}, {F_SPARSE, TM_METRIC_IP},
};

static void test_every_metric(void **state)
{
    struct tm_store *s = *state;
    for (size_t i = 0; i < sizeof g_cases / sizeof g_cases[0]; i++) {
        struct tm_search_spec sp = {.k = K};
        run_case(s, g_cases[i].f, g_cases[i].m, &sp, NULL, NULL);
        struct tm_search_spec deep = {.k = NKEYS}; /* every live row, in order */
        run_case(s, g_cases[i].f, g_cases[i].m, &deep, NULL, NULL);
        struct tm_search_spec off = {.k = K + 4, .offset = 4};
        run_case(s, g_cases[i].f, g_cases[i].m, &off, NULL, NULL);
    }
}

static bool even_group(const struct row *r, int64_t id)
{
    (void)id;
    return r->group % 2 == 0;
}

static void test_filtered(void **state)
{
    struct tm_store *s = *state;
    struct tm_expr *e;
    struct tm_status st;
    assert_int_equal(tm_expr_parse("f107 % 2 == 0", NULL, &g_schema, &e, &st), 0);
    for (size_t i = 0; i < sizeof g_cases / sizeof g_cases[0]; i++) {
        struct tm_search_spec sp = {.k = K};
        run_case(s, g_cases[i].f, g_cases[i].m, &sp, e, even_group);
    }
    tm_expr_free(e);
}

static void test_range(void **state)
{
    struct tm_store *s = *state;
    struct tm_search_spec l2 = {
        .k = 50, .has_radius = true, .radius = 2.0, .has_range_filter = true, .range_filter = 0.5};
    run_case(s, F_FLOAT, TM_METRIC_L2, &l2, NULL, NULL);
    struct tm_search_spec ip = {
        .k = 50, .has_radius = true, .radius = 0.1, .has_range_filter = true, .range_filter = 0.9};
    run_case(s, F_FLOAT, TM_METRIC_IP, &ip, NULL, NULL);
    struct tm_search_spec ham = {.k = 50, .has_radius = true, .radius = 7};
    run_case(s, F_BIN, TM_METRIC_HAMMING, &ham, NULL, NULL);
}

/* Grouping: at most group_size hits per group value, k groups, each
 * group's hits best first, groups ordered by their best hit. */
static void test_grouping(void **state)
{
    struct tm_store *s = *state;
    struct query_set qs;
    make_queries(&qs, F_FLOAT);
    struct tm_search_spec sp = {.field_id = F_FLOAT,
                                .metric = TM_METRIC_L2,
                                .nq = 1,
                                .vecs = qs.vecs,
                                .k = 3,
                                .group_field_id = F_GROUP,
                                .group_size = 2};
    struct tm_store_read q = {.ts = UINT64_MAX, .fields = (const int64_t[]){F_GROUP}, .nfields = 1};
    struct tm_search_hits h;
    struct tm_batch rows;
    tm_search_hits_init(&h);
    tm_batch_init(&rows);
    assert_int_equal(tm_store_search(s, &q, &sp, &h), 0);
    assert_int_equal(h.topks[0], 6); /* 7 groups of ~37 live rows: 3 full groups */
    assert_int_equal(tm_store_rows_of(s, h.refs, h.n, &q, &rows), 0);
    /* the reference: the best row of each group, groups by their best */
    double best[7];
    int count[7] = {0};
    for (int g = 0; g < 7; g++)
        best[g] = INFINITY;
    for (int id = 0; id < NKEYS; id++) {
        double d = ref_score(&qs.q[0], &g_rows[id], F_FLOAT, TM_METRIC_L2);
        if (g_rows[id].live && d < best[g_rows[id].group])
            best[g_rows[id].group] = d;
    }
    int64_t prev_group = -1;
    float prev_best = -1;
    for (uint32_t i = 0; i < h.n; i++) {
        int64_t g = tm_col_int64(tm_batch_col(&rows, F_GROUP), i);
        count[g]++;
        assert_true(count[g] <= 2);
        if (g != prev_group) { /* a new group starts with its best row */
            assert_true(fabs(h.scores[i] - best[g]) < 1e-4);
            assert_true(h.scores[i] >= prev_best);
            prev_best = h.scores[i];
        } else {
            assert_true(h.scores[i] >= h.scores[i - 1]);
        }
        prev_group = g;
    }
    tm_batch_free(&rows);
    tm_search_hits_free(&h);
}

static void test_bad_spec(void **state)
{
    struct tm_store *s = *state;
    struct tm_search_hits h;
    uint8_t v[64] = {0};
    struct tm_store_read q = {.ts = UINT64_MAX};
    struct tm_search_spec wrong_metric = {
        .field_id = F_BIN, .metric = TM_METRIC_L2, .nq = 1, .vecs = v, .k = 1};
    struct tm_search_spec not_vector = {
        .field_id = F_GROUP, .metric = TM_METRIC_L2, .nq = 1, .vecs = v, .k = 1};
    tm_search_hits_init(&h);
    assert_int_equal(tm_store_search(s, &q, &wrong_metric, &h), TM_EINVAL);
    tm_search_hits_free(&h);
    assert_int_equal(tm_store_search(s, &q, &not_vector, &h), TM_EINVAL);
    tm_search_hits_free(&h);
}

static int setup(void **state)
{
    *state = make_store();
    return 0;
}

static int teardown(void **state)
{
    tm_store_free(*state);
    free(g_schema.fields);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_metric), cmocka_unit_test(test_filtered),
        cmocka_unit_test(test_range),        cmocka_unit_test(test_grouping),
        cmocka_unit_test(test_bad_spec),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
