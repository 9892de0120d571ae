/* Merging a search's results across query nodes (search_merge.h). */
#include "search_merge.h"

#include <stdlib.h>
#include <string.h>

struct cand {
    float score;
    uint16_t part;
    uint32_t row; /* in the part's rows */
};

struct merge {
    const struct tm_sub_result *parts;
    const struct tm_sub_search *ss;
    bool ascending;
    struct cand *c;     /* one query's candidates */
    uint32_t *group_of; /* per kept candidate: its group's rank */
};

static int by_score(const void *a, const void *b, void *arg)
{
    const struct cand *x = a, *y = b;
    bool asc = *(const bool *)arg;
    if (x->score != y->score)
        return (x->score < y->score) == asc ? -1 : 1;
    if (x->part != y->part)
        return x->part < y->part ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

static const uint8_t *group_value(const struct merge *m, const struct cand *c, size_t *len,
                                  bool *null)
{
    const struct tm_col *col = tm_batch_col(&m->parts[c->part].rows, m->ss->group);
    *null = !col || tm_col_is_null(col, c->row);
    return *null ? NULL : tm_col_value(col, c->row, len);
}

static bool same_group(const struct merge *m, const struct cand *a, const struct cand *b)
{
    size_t la = 0, lb = 0;
    bool na, nb;
    const uint8_t *va = group_value(m, a, &la, &na), *vb = group_value(m, b, &lb, &nb);
    return na == nb && (na || (la == lb && memcmp(va, vb, la) == 0));
}

/* Keeps at most group_size candidates of each of the first k groups to
 * appear, ordered by group then rank, the first `offset` groups dropped;
 * returns how many are kept (compacted at the front of m->c). */
static uint32_t cut_groups(struct merge *m, uint32_t n, uint64_t k)
{
    struct cand *firsts = malloc((k + 1) * sizeof *firsts), *kept = malloc((n + 1) * sizeof *kept);
    uint32_t *sizes = calloc(k + 1, sizeof *sizes), ngroups = 0, nkept = 0;
    if (!firsts || !kept || !sizes) {
        free(firsts), free(kept), free(sizes);
        return UINT32_MAX;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t g = 0;
        while (g < ngroups && !same_group(m, &firsts[g], &m->c[i]))
            g++;
        if (g == ngroups && ngroups == k)
            continue;
        if (g == ngroups)
            firsts[ngroups++] = m->c[i];
        if (sizes[g] < m->ss->group_size) {
            sizes[g]++;
            kept[nkept] = m->c[i];
            m->group_of[nkept++] = g;
        }
    }
    uint32_t skip = m->ss->plan.offset < ngroups ? (uint32_t)m->ss->plan.offset : ngroups, out = 0;
    for (uint32_t g = skip; g < ngroups; g++)
        for (uint32_t i = 0; i < nkept; i++)
            if (m->group_of[i] == g)
                m->c[out++] = kept[i];
    free(firsts), free(kept), free(sizes);
    return out;
}

/* Query q's candidates from every part into m->c, ranked; how many.
 * base[p]: where part p's hits of query q start. */
static uint32_t rank(struct merge *m, int nparts, const uint32_t *base, uint32_t q)
{
    uint32_t n = 0;
    for (int p = 0; p < nparts; p++)
        for (uint32_t i = 0; q < m->parts[p].nq && i < m->parts[p].topks[q]; i++) {
            uint32_t row = base[p] + i;
            m->c[n++] = (struct cand){m->parts[p].scores[row], (uint16_t)p, row};
        }
    qsort_r(m->c, n, sizeof *m->c, by_score, &m->ascending);
    return n;
}

static int emit(struct merge *m, const struct cand *c, uint32_t n, struct tm_sub_result *out)
{
    for (uint32_t i = 0; i < n; i++) {
        const struct tm_batch *src = &m->parts[c[i].part].rows;
        if (out->rows.ncols == 0 && tm_batch_clone_layout(&out->rows, src))
            return TM_ENOMEM;
        int rc = tm_batch_append_rows(&out->rows, src, c[i].row, 1);
        if (rc)
            return rc;
        out->scores[out->n++] = c[i].score;
    }
    return 0;
}

static int merge_all(struct merge *m, int nparts, struct tm_sub_result *out)
{
    const struct tm_sub_search *ss = m->ss;
    uint32_t base[TM_PROXY_MAX_QUERY] = {0};
    uint64_t k = ss->plan.offset + ss->plan.limit;
    int rc = 0;
    for (uint32_t q = 0; q < out->nq && !rc; q++) {
        uint32_t n = rank(m, nparts, base, q), from = 0, upto = n;
        for (int p = 0; p < nparts; p++)
            base[p] += q < m->parts[p].nq ? m->parts[p].topks[q] : 0;
        if (ss->group) {
            upto = cut_groups(m, n, k);
            if (upto == UINT32_MAX)
                return TM_ENOMEM;
        } else {
            upto = n < k ? n : (uint32_t)k;
            from = ss->plan.offset < upto ? (uint32_t)ss->plan.offset : upto;
        }
        uint32_t before = out->n;
        rc = emit(m, m->c + from, upto - from, out);
        out->topks[q] = out->n - before;
    }
    return rc;
}

int tm_search_merge(const struct tm_sub_result *parts, int n, const struct tm_sub_search *ss,
                    struct tm_sub_result *out)
{
    uint32_t total = 0, nq = 0;
    for (int p = 0; p < n; p++) {
        /* a node that has seen no row of the collection answers nq 0 */
        if (parts[p].nq && nq && parts[p].nq != nq)
            return TM_ECORRUPT;
        nq = parts[p].nq ? parts[p].nq : nq;
        total += parts[p].n;
    }
    struct merge m = {.parts = parts,
                      .ss = ss,
                      .ascending = tm_metric_ascending(ss->metric),
                      .c = malloc((total + 1) * sizeof *m.c),
                      .group_of = malloc((total + 1) * sizeof *m.group_of)};
    out->nq = nq;
    out->n = 0;
    out->topks = calloc(nq + 1, sizeof *out->topks);
    out->scores = malloc((total + 1) * sizeof *out->scores);
    int rc = m.c && m.group_of && out->topks && out->scores ? merge_all(&m, n, out) : TM_ENOMEM;
    free(m.c);
    free(m.group_of);
    return rc;
}
