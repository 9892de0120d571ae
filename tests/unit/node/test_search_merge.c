/* Merging one search's results from query nodes that each answer for
 * their own shards (node/search_merge.h): the merge must equal what one
 * node holding every row would answer. Each case builds the whole ranking,
 * splits it over parts, and compares. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "search_merge.h"

#define PK 100
#define GROUP 101

struct hit {
    int64_t id, group;
    float score;
};

/* A part holding, for each of nq queries, the hits of hits[q] whose id
 * falls to this part (id % nparts == part), in ranked order. */
static void part_of(struct tm_sub_result *r, const struct hit *const *hits, const uint32_t *nhits,
                    uint32_t nq, int part, int nparts)
{
    memset(r, 0, sizeof *r);
    tm_batch_init(&r->rows);
    struct tm_col *pk = tm_batch_add_col(&r->rows, PK, TM_T_INT64, 8, false);
    struct tm_col *g = tm_batch_add_col(&r->rows, GROUP, TM_T_INT64, 8, false);
    r->nq = nq;
    r->topks = calloc(nq + 1, sizeof *r->topks);
    r->scores = malloc(1024 * sizeof *r->scores);
    for (uint32_t q = 0; q < nq; q++)
        for (uint32_t i = 0; i < nhits[q]; i++) {
            const struct hit *h = &hits[q][i];
            if (h->id % nparts != part)
                continue;
            assert_int_equal(tm_col_push(pk, &h->id, 8), 0);
            assert_int_equal(tm_col_push(g, &h->group, 8), 0);
            r->scores[r->n++] = h->score;
            r->topks[q]++;
        }
    r->rows.nrows = r->n;
}

static void expect(const struct tm_sub_result *got, uint32_t q_first_hit, uint32_t q,
                   const int64_t *ids, uint32_t n)
{
    assert_int_equal(got->topks[q], n);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(tm_col_int64(tm_batch_col(&got->rows, PK), q_first_hit + i), ids[i]);
}

static void merge(const struct hit *const *hits, const uint32_t *nhits, uint32_t nq, int nparts,
                  const struct tm_sub_search *ss, struct tm_sub_result *out)
{
    struct tm_sub_result parts[4];
    for (int p = 0; p < nparts; p++)
        part_of(&parts[p], hits, nhits, nq, p, nparts);
    memset(out, 0, sizeof *out);
    tm_batch_init(&out->rows);
    assert_int_equal(tm_search_merge(parts, nparts, ss, out), 0);
    for (int p = 0; p < nparts; p++)
        tm_sub_result_free(&parts[p]);
}

static void test_top_k_by_distance_and_by_similarity(void **state)
{
    (void)state;
    /* L2: smaller first; ids alternate between the two parts */
    static const struct hit l2[] = {{4, 0, 0.1f}, {7, 0, 0.2f}, {2, 0, 0.3f},
                                    {9, 0, 0.4f}, {5, 0, 0.5f}, {6, 0, 0.6f}};
    /* IP: larger first, with a tie broken by part (even ids: part 0) */
    static const struct hit ip[] = {{3, 0, 0.9f}, {8, 0, 0.7f}, {1, 0, 0.7f}, {10, 0, 0.2f}};
    const struct hit *hits[] = {l2, ip};
    struct tm_sub_search ss = {.metric = TM_METRIC_L2, .plan = {.offset = 1, .limit = 3}};
    struct tm_sub_result out;
    uint32_t n[] = {6, 0};
    merge(hits, n, 1, 2, &ss, &out);
    expect(&out, 0, 0, (const int64_t[]){7, 2, 9}, 3);
    assert_true(out.scores[0] == 0.2f && out.scores[2] == 0.4f);
    tm_sub_result_free(&out);

    const struct hit *ip_only[] = {ip};
    uint32_t n_ip[] = {4};
    ss = (struct tm_sub_search){.metric = TM_METRIC_IP, .plan = {.offset = 0, .limit = 10}};
    merge(ip_only, n_ip, 1, 2, &ss, &out);
    expect(&out, 0, 0, (const int64_t[]){3, 8, 1, 10}, 4);
    tm_sub_result_free(&out);
}

static void test_several_queries_and_an_empty_part(void **state)
{
    (void)state;
    static const struct hit a[] = {{1, 0, 0.1f}, {3, 0, 0.2f}};
    static const struct hit b[] = {{2, 0, 0.05f}, {5, 0, 0.3f}, {4, 0, 0.4f}};
    const struct hit *hits[] = {a, b};
    uint32_t n[] = {2, 3};
    struct tm_sub_search ss = {.metric = TM_METRIC_L2, .plan = {.limit = 2}};
    struct tm_sub_result out;
    merge(hits, n, 2, 2, &ss, &out);
    assert_int_equal(out.nq, 2);
    expect(&out, 0, 0, (const int64_t[]){1, 3}, 2);
    expect(&out, 2, 1, (const int64_t[]){2, 5}, 2);
    tm_sub_result_free(&out);

    /* a node that has seen no row of the collection answers nq 0 */
    struct tm_sub_result parts[2];
    part_of(&parts[0], hits, n, 2, 0, 1);
    memset(&parts[1], 0, sizeof parts[1]);
    tm_batch_init(&parts[1].rows);
    memset(&out, 0, sizeof out);
    tm_batch_init(&out.rows);
    assert_int_equal(tm_search_merge(parts, 2, &ss, &out), 0);
    expect(&out, 0, 0, (const int64_t[]){1, 3}, 2);
    expect(&out, 2, 1, (const int64_t[]){2, 5}, 2);
    tm_sub_result_free(&out);
    tm_sub_result_free(&parts[0]);
    tm_sub_result_free(&parts[1]);
}

static void test_grouping_across_parts(void **state)
{
    (void)state;
    /* groups by first appearance: 7 (ids 1, 2, 4), 8 (3, 6), 9 (5) */
    static const struct hit h[] = {{1, 7, 0.1f}, {2, 7, 0.2f}, {3, 8, 0.3f},
                                   {4, 7, 0.4f}, {5, 9, 0.5f}, {6, 8, 0.6f}};
    const struct hit *hits[] = {h};
    uint32_t n[] = {6};
    struct tm_sub_search ss = {
        .metric = TM_METRIC_L2, .group = GROUP, .group_size = 2, .plan = {.offset = 0, .limit = 2}};
    struct tm_sub_result out;
    merge(hits, n, 1, 2, &ss, &out);
    expect(&out, 0, 0, (const int64_t[]){1, 2, 3, 6}, 4);
    tm_sub_result_free(&out);
    ss.plan.offset = 1; /* the offset skips groups */
    merge(hits, n, 1, 3, &ss, &out);
    expect(&out, 0, 0, (const int64_t[]){3, 6, 5}, 3);
    tm_sub_result_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_top_k_by_distance_and_by_similarity),
        cmocka_unit_test(test_several_queries_and_an_empty_part),
        cmocka_unit_test(test_grouping_across_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
