/* Indexed sealed segments (segment/seg_index.h, search_index.c) and the
 * per-shard sealing the query role relies on (tm_store_seal_shard).
 *
 * The index path is checked against the brute-force path of the same
 * store: a sealed segment with an IVF_FLAT index probed over every list
 * must give exactly the hits and scores of the scan (with upserts and
 * deletes after the index was built, a filter, a filter that leaves a few
 * rows, growing rows beside it, every metric); a 4-bit PQ index must find
 * nearly the same hits and report exact distances. Plans, parameter checks
 * and content keys are checked on their own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"
#include "search.h"
#include "seg_index.h"
#include "store.h"

enum { F_PK = 100, F_VEC };
#define DIM 16
#define NSEALED 3000
#define NGROW 300
#define NQ 4
#define K 10

static struct tm_schema g_schema;
static uint64_t g_seed = 99;

static float rndf(void)
{
    g_seed = g_seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)(g_seed >> 40) / (float)(1 << 24) * 2.0f - 1.0f;
}

static void make_schema(void)
{
    memset(&g_schema, 0, sizeof g_schema);
    g_schema.fields = calloc(2, sizeof *g_schema.fields);
    g_schema.nfields = 2;
    g_schema.fields[0] = (struct tm_field){.id = F_PK, .type = TM_T_INT64, .primary = true};
    g_schema.fields[1] = (struct tm_field){.id = F_VEC, .type = TM_T_FLOAT_VECTOR, .dim = DIM};
    snprintf(g_schema.fields[0].name, TM_NAME_MAX, "id");
    snprintf(g_schema.fields[1].name, TM_NAME_MAX, "vec");
    g_schema.pk = 0;
}

/* Clustered rows (16 centres), as real embeddings are. */
static void row_vec(int64_t id, uint32_t version, float *v)
{
    uint64_t keep = g_seed;
    g_seed = (uint64_t)id * 7919 + version * 104729 + 1;
    float c = (float)(id % 16) / 4.0f;
    for (int i = 0; i < DIM; i++)
        v[i] = (i % 4 == id % 4 ? c : 0.0f) + 0.3f * rndf();
    g_seed = keep;
}

static void apply(struct tm_store *s, enum tm_entry_kind kind, uint64_t ts, int64_t from,
                  uint32_t n, uint32_t version)
{
    struct tm_batch rows, pks;
    tm_batch_init(&rows);
    tm_batch_init(&pks);
    assert_int_equal(tm_batch_layout_from_schema(&rows, &g_schema), 0);
    struct tm_col *pkc = tm_batch_add_col(&pks, F_PK, TM_T_INT64, 8, false);
    for (uint32_t i = 0; i < n; i++) {
        int64_t id = from + i;
        float v[DIM];
        row_vec(id, version, v);
        if (kind != TM_ENTRY_DELETE) {
            assert_int_equal(tm_col_push(tm_batch_col(&rows, F_PK), &id, 8), 0);
            assert_int_equal(tm_col_push(tm_batch_col(&rows, F_VEC), v, sizeof v), 0);
            rows.nrows++;
        }
        if (kind != TM_ENTRY_INSERT) {
            assert_int_equal(tm_col_push(pkc, &id, 8), 0);
            pks.nrows++;
        }
    }
    struct tm_entry_hdr h = {
        .version = TM_ENTRY_VERSION, .kind = kind, .ts = ts, .coll_id = 1, .part_id = 1};
    assert_int_equal(tm_store_apply(s, &h, kind == TM_ENTRY_DELETE ? NULL : &rows,
                                    kind == TM_ENTRY_INSERT ? NULL : &pks, F_PK),
                     0);
    tm_batch_free(&rows);
    tm_batch_free(&pks);
}

/* NSEALED rows sealed into segment 0; the caller attaches an index. */
static struct tm_store *make_store(void)
{
    make_schema();
    struct tm_store *s = tm_store_new(1);
    struct tm_seal seal;
    assert_int_equal(tm_store_set_schema(s, &g_schema), 0);
    apply(s, TM_ENTRY_INSERT, 10, 0, NSEALED, 0);
    assert_int_equal(tm_store_seal(s, &seal), 0);
    assert_int_equal(seal.nparts, 1);
    tm_seal_free(&seal);
    return s;
}

static void attach(struct tm_store *s, enum tm_ivf_kind kind, enum tm_metric metric, uint32_t nlist)
{
    static const enum tm_ivf_metric im[] = {TM_IVF_L2, TM_IVF_IP, TM_IVF_COSINE};
    struct tm_ivf_params p = {.kind = kind,
                              .metric = im[metric],
                              .dim = DIM,
                              .nlist = nlist,
                              .m = kind == TM_IVF_FLAT ? 0 : DIM / 2,
                              .nbits = kind == TM_IVF_PQ4  ? 4
                                       : kind == TM_IVF_PQ ? 8
                                                           : 0,
                              .seed = 1};
    const struct tm_col *col = tm_batch_col(&s->segs[0].rows, F_VEC);
    struct tm_seg_index *si = calloc(1, sizeof *si);
    assert_non_null(si);
    *si = (struct tm_seg_index){
        .field_id = F_VEC, .index_id = 7, .metric = metric, .nprobe = 4, .refine = 16};
    assert_int_equal(
        tm_ivf_build(&p, (const float *)col->data.data, s->segs[0].rows.nrows, NULL, &si->ivf), 0);
    tm_seg_index_free(s->segs[0].ix);
    s->segs[0].ix = si;
}

static void search(struct tm_store *s, const struct tm_expr *filter, enum tm_metric metric,
                   uint32_t nprobe, struct tm_search_hits *out)
{
    float q[NQ * DIM];
    for (int j = 0; j < NQ; j++)
        row_vec(j * 37 + 5, 99, q + j * DIM);
    struct tm_store_read rq = {.ts = UINT64_MAX, .filter = filter};
    struct tm_search_spec sp = {.field_id = F_VEC,
                                .metric = metric,
                                .nq = NQ,
                                .vecs = (const uint8_t *)q,
                                .k = K,
                                .nprobe = nprobe,
                                .refine_k = 64};
    tm_search_hits_init(out);
    assert_int_equal(tm_store_search(s, &rq, &sp, out), 0);
}

/* The same search with the index detached (the brute-force answer). */
static void search_exact(struct tm_store *s, const struct tm_expr *filter, enum tm_metric metric,
                         struct tm_search_hits *out)
{
    struct tm_seg_index *ix = s->segs[0].ix;
    s->segs[0].ix = NULL;
    search(s, filter, metric, 0, out);
    s->segs[0].ix = ix;
}

static int64_t pk_of(const struct tm_store *s, int64_t ref)
{
    const struct tm_col *c = tm_batch_col(&s->segs[ref >> 40].rows, F_PK);
    return tm_col_int64(c, (uint32_t)(ref & ((1LL << 40) - 1)));
}

static void assert_same(const struct tm_store *s, const struct tm_search_hits *a,
                        const struct tm_search_hits *b)
{
    assert_int_equal(a->n, b->n);
    for (uint32_t q = 0; q < a->nq; q++)
        assert_int_equal(a->topks[q], b->topks[q]);
    for (uint64_t i = 0; i < a->n; i++) {
        if (pk_of(s, a->refs[i]) != pk_of(s, b->refs[i]))
            fail_msg("hit %llu: key %lld vs %lld (scores %g, %g)", (unsigned long long)i,
                     (long long)pk_of(s, a->refs[i]), (long long)pk_of(s, b->refs[i]), a->scores[i],
                     b->scores[i]);
        assert_true(fabsf(a->scores[i] - b->scores[i]) <= 1e-4f * (1 + fabsf(b->scores[i])));
    }
}

static struct tm_expr *parse(const char *text)
{
    struct tm_expr *e = NULL;
    struct tm_status st = {0};
    assert_int_equal(tm_expr_parse(text, NULL, &g_schema, &e, &st), 0);
    return e;
}

/* IVF_FLAT over every list is exact: the index path and the scan agree,
 * for every metric, after upserts and deletes of indexed rows, with
 * growing rows beside the segment, with a filter and with a sparse one. */
static void test_flat_matches_scan(void **state)
{
    (void)state;
    for (int m = TM_METRIC_L2; m <= TM_METRIC_COSINE; m++) {
        struct tm_store *s = make_store();
        attach(s, TM_IVF_FLAT, (enum tm_metric)m, 32);
        apply(s, TM_ENTRY_UPSERT, 20, 0, 200, 1);         /* new versions, growing */
        apply(s, TM_ENTRY_DELETE, 30, 500, 300, 0);       /* indexed rows deleted */
        apply(s, TM_ENTRY_INSERT, 40, NSEALED, NGROW, 0); /* growing only */
        struct tm_expr *filters[] = {NULL, parse("id % 3 != 1"), parse("id % 200 == 7")};
        for (int f = 0; f < 3; f++) {
            struct tm_search_hits a, b;
            search(s, filters[f], (enum tm_metric)m, 32, &a);
            search_exact(s, filters[f], (enum tm_metric)m, &b);
            assert_same(s, &a, &b);
            for (uint64_t i = 0; i < a.n; i++) { /* never a hidden version */
                int64_t pk = pk_of(s, a.refs[i]);
                assert_false(pk >= 500 && pk < 800);
                assert_false(pk < 200 && (a.refs[i] >> 40) == 0);
            }
            tm_search_hits_free(&a);
            tm_search_hits_free(&b);
            tm_expr_free(filters[f]);
        }
        /* One list of 32 misses some: proof that the index is what ran. */
        struct tm_search_hits a, b;
        search(s, NULL, (enum tm_metric)m, 1, &a);
        search_exact(s, NULL, (enum tm_metric)m, &b);
        bool differ = a.n != b.n;
        for (uint64_t i = 0; i < a.n && !differ; i++)
            differ = a.refs[i] != b.refs[i];
        assert_true(differ);
        tm_search_hits_free(&a);
        tm_search_hits_free(&b);
        tm_store_free(s);
        tm_schema_free(&g_schema);
    }
}

/* 4-bit PQ with a deep re-rank: nearly the scan's hits, exact distances. */
static void test_pq4_recall_and_exact_scores(void **state)
{
    (void)state;
    struct tm_store *s = make_store();
    attach(s, TM_IVF_PQ4, TM_METRIC_L2, 32);
    struct tm_search_hits a, b;
    search(s, NULL, TM_METRIC_L2, 32, &a);
    search_exact(s, NULL, TM_METRIC_L2, &b);
    assert_int_equal(a.n, b.n);
    uint64_t found = 0;
    for (uint64_t i = 0; i < a.n; i++) {
        uint32_t q = (uint32_t)(i / K);
        for (uint64_t j = (uint64_t)q * K; j < (uint64_t)(q + 1) * K; j++)
            if (a.refs[i] == b.refs[j]) {
                found++;
                assert_true(fabsf(a.scores[i] - b.scores[j]) <= 1e-4f * (1 + b.scores[j]));
            }
    }
    assert_true(found * 10 >= a.n * 9); /* recall >= 0.9 */
    tm_search_hits_free(&a);
    tm_search_hits_free(&b);
    tm_store_free(s);
    tm_schema_free(&g_schema);
}

/* Range and grouping searches do not use the index (they rank everything). */
static void test_range_search_scans(void **state)
{
    (void)state;
    struct tm_store *s = make_store();
    attach(s, TM_IVF_FLAT, TM_METRIC_L2, 32);
    float q[DIM];
    row_vec(5, 99, q); /* search()'s first query */
    struct tm_store_read rq = {.ts = UINT64_MAX};
    struct tm_search_spec sp = {.field_id = F_VEC,
                                .metric = TM_METRIC_L2,
                                .nq = 1,
                                .vecs = (const uint8_t *)q,
                                .k = 50,
                                .nprobe = 1,
                                .has_radius = true,
                                .radius = 1e9};
    struct tm_search_hits a;
    tm_search_hits_init(&a);
    assert_int_equal(tm_store_search(s, &rq, &sp, &a), 0);
    struct tm_search_hits b;
    search_exact(s, NULL, TM_METRIC_L2, &b); /* k 10: a's first 10 are b's query 0 */
    for (int i = 0; i < K; i++)
        assert_true(pk_of(s, a.refs[i]) == pk_of(s, b.refs[i]));
    tm_search_hits_free(&a);
    tm_search_hits_free(&b);
    tm_store_free(s);
    tm_schema_free(&g_schema);
}

static void test_plans(void **state)
{
    (void)state;
    struct tm_field f = {.id = F_VEC, .type = TM_T_FLOAT_VECTOR, .dim = 128};
    struct tm_seg_index_plan p;
    char why[256];
    struct tm_kv nl[] = {{"nlist", "64"}}, bad_nl[] = {{"nlist", "0"}},
                 pq[] = {{"nlist", "32"}, {"m", "16"}}, bad_m[] = {{"m", "5"}},
                 pq4[] = {{"m", "64"}, {"nbits", "4"}}, bad_bits[] = {{"nbits", "6"}};
    assert_int_equal(tm_seg_index_plan("IVF_FLAT", "L2", nl, 1, &f, &p, why, sizeof why), 1);
    assert_int_equal(p.kind, TM_IVF_FLAT);
    assert_int_equal(p.nlist, 64);
    assert_int_equal(p.nprobe, 8);
    assert_int_equal(tm_seg_index_plan("IVF_FLAT", "L2", bad_nl, 1, &f, &p, why, sizeof why),
                     TM_EINVAL);
    assert_non_null(strstr(why, "nlist"));
    assert_int_equal(tm_seg_index_plan("IVF_PQ", "IP", pq, 2, &f, &p, why, sizeof why), 1);
    assert_true(p.kind == TM_IVF_PQ && p.m == 16 && p.nbits == 8 && p.metric == TM_METRIC_IP);
    assert_int_equal(tm_seg_index_plan("IVF_PQ", "L2", bad_m, 1, &f, &p, why, sizeof why),
                     TM_EINVAL);
    assert_int_equal(tm_seg_index_plan("IVF_PQ", "L2", pq4, 2, &f, &p, why, sizeof why), 1);
    assert_true(p.kind == TM_IVF_PQ4 && p.m == 64);
    assert_int_equal(tm_seg_index_plan("IVF_PQ", "L2", bad_bits, 1, &f, &p, why, sizeof why),
                     TM_EINVAL);
    assert_int_equal(tm_seg_index_plan("AUTOINDEX", "COSINE", NULL, 0, &f, &p, why, sizeof why), 1);
    assert_true(p.kind == TM_IVF_PQ4 && p.m == 64 && p.nlist == 0 && p.nprobe == 0);
    struct tm_ivf_params ip;
    tm_seg_index_params(&p, 100000, &ip);
    assert_int_equal(ip.nlist, 1265); /* round(4 sqrt(100000)) */
    assert_int_equal(tm_seg_index_default_nprobe(&p, &ip), 1265 / 16);
    tm_seg_index_params(&p, 500, &ip);
    assert_int_equal(ip.nlist, 89);
    assert_int_equal(tm_seg_index_plan("FLAT", "L2", NULL, 0, &f, &p, why, sizeof why), 0);
    assert_int_equal(tm_seg_index_plan("HNSW", "L2", NULL, 0, &f, &p, why, sizeof why), 0);
    f.type = TM_T_FLOAT16_VECTOR;
    assert_int_equal(tm_seg_index_plan("AUTOINDEX", "L2", NULL, 0, &f, &p, why, sizeof why), 0);
    f = (struct tm_field){.id = F_VEC, .type = TM_T_FLOAT_VECTOR, .dim = 768};
    assert_int_equal(tm_seg_index_plan("AUTOINDEX", "L2", NULL, 0, &f, &p, why, sizeof why), 1);
    assert_int_equal(p.m, 256); /* at most 256 sub-spaces of 4 bits */
}

/* The key follows the contents and the parameters, nothing else. */
static void test_content_key(void **state)
{
    (void)state;
    struct tm_store *a = make_store();
    tm_schema_free(&g_schema);
    struct tm_store *b = make_store();
    struct tm_ivf_params p = {.kind = TM_IVF_FLAT, .metric = TM_IVF_L2, .dim = DIM, .nlist = 8};
    uint64_t ka = tm_seg_index_key(a, 0, F_VEC, &p);
    assert_true(ka == tm_seg_index_key(b, 0, F_VEC, &p));
    p.nlist = 9;
    assert_true(ka != tm_seg_index_key(b, 0, F_VEC, &p));
    p.nlist = 8;
    ((float *)tm_batch_col(&b->segs[0].rows, F_VEC)->data.data)[5] += 1.0f;
    assert_true(ka != tm_seg_index_key(b, 0, F_VEC, &p));
    tm_store_free(a);
    tm_store_free(b);
    tm_schema_free(&g_schema);
}

/* A shard's seal seals its own growing segments only. */
static void test_seal_shard(void **state)
{
    (void)state;
    make_schema();
    struct tm_store *s = tm_store_new(1);
    struct tm_seal seal;
    assert_int_equal(tm_store_set_schema(s, &g_schema), 0);
    s->apply_shard = 0;
    apply(s, TM_ENTRY_INSERT, 10, 0, 10, 0);
    s->apply_shard = 1;
    apply(s, TM_ENTRY_INSERT, 11, 10, 5, 0);
    s->apply_shard = 0;
    apply(s, TM_ENTRY_INSERT, 12, 20, 3, 0);
    assert_int_equal(s->nsegs, 2);
    assert_int_equal(s->segs[0].rows.nrows, 13);
    assert_int_equal(s->segs[1].rows.nrows, 5);
    assert_int_equal(tm_store_seal_shard(s, 1, &seal), 0);
    assert_int_equal(seal.nparts, 1);
    assert_int_equal(seal.parts[0].rows->nrows, 5);
    tm_seal_free(&seal);
    assert_false(s->segs[0].sealed);
    assert_true(s->segs[1].sealed);
    s->apply_shard = 1;
    apply(s, TM_ENTRY_INSERT, 13, 30, 2, 0); /* a new shard-1 segment */
    assert_int_equal(s->nsegs, 3);
    assert_int_equal(s->segs[2].shard, 1);
    tm_store_free(s);
    tm_schema_free(&g_schema);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flat_matches_scan),
        cmocka_unit_test(test_pq4_recall_and_exact_scores),
        cmocka_unit_test(test_range_search_scans),
        cmocka_unit_test(test_plans),
        cmocka_unit_test(test_content_key),
        cmocka_unit_test(test_seal_shard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
