/* Keeping the best hits of a query: a bounded heap of k, or, for grouping
 * search, a full ranking cut into groups (rules in search.h). */
#include "search_int.h"
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

/* a ranks worse than b: a larger key, or on a tie the later row. */
static bool worse(const struct tm_hit *a, const struct tm_hit *b)
{
    return a->key > b->key || (a->key == b->key && a->ref > b->ref);
}

static int cmp_hit(const void *pa, const void *pb)
{
    const struct tm_hit *a = pa, *b = pb;
    return worse(a, b) ? 1 : worse(b, a) ? -1 : 0;
}

void tm_collector_init(struct tm_collector *c, const struct tm_search_spec *sp,
                       const struct tm_store *s)
{
    memset(c, 0, sizeof *c);
    c->sp = sp;
    c->s = s;
}

void tm_collector_free(struct tm_collector *c)
{
    free(c->hits);
    c->hits = NULL;
    c->n = c->cap = 0;
}

static int grow(struct tm_collector *c, uint64_t want)
{
    if (want <= c->cap)
        return 0;
    uint64_t cap = c->cap ? c->cap * 2 : 64;
    while (cap < want)
        cap *= 2;
    struct tm_hit *h = realloc(c->hits, cap * sizeof *h);
    if (!h)
        return TM_ENOMEM;
    c->hits = h;
    c->cap = cap;
    return 0;
}

static void sift_down(struct tm_hit *h, uint64_t n, uint64_t i)
{
    for (;;) {
        uint64_t l = 2 * i + 1, r = l + 1, top = i;
        if (l < n && worse(&h[l], &h[top]))
            top = l;
        if (r < n && worse(&h[r], &h[top]))
            top = r;
        if (top == i)
            return;
        struct tm_hit t = h[i];
        h[i] = h[top];
        h[top] = t;
        i = top;
    }
}

static void sift_up(struct tm_hit *h, uint64_t i)
{
    while (i > 0) {
        uint64_t p = (i - 1) / 2;
        if (!worse(&h[i], &h[p]))
            return;
        struct tm_hit t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

int tm_collector_offer(struct tm_collector *c, float key, int64_t ref)
{
    struct tm_hit hit = {key, ref};
    if (c->sp->group_field_id) { /* grouping ranks everything */
        if (grow(c, c->n + 1))
            return TM_ENOMEM;
        c->hits[c->n++] = hit;
        return 0;
    }
    if (c->n < c->sp->k) {
        if (grow(c, c->n + 1))
            return TM_ENOMEM;
        c->hits[c->n] = hit;
        sift_up(c->hits, c->n++);
    } else if (worse(&c->hits[0], &hit)) {
        c->hits[0] = hit;
        sift_down(c->hits, c->n, 0);
    }
    return 0;
}

/* ---- grouping ---- */

struct group_table {
    int64_t *first;  /* per slot: a ref holding the group's value; -1 = empty */
    uint32_t *index; /* per slot: the group's rank (order of first appearance) */
    uint32_t *size;  /* per group rank: hits kept */
    uint64_t mask;
    uint32_t ngroups;
};

static uint64_t value_hash(const uint8_t *p, size_t len, bool null)
{
    uint64_t h = null ? 0x9e3779b97f4a7c15ULL : 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static const uint8_t *group_value(const struct tm_collector *c, int64_t ref, size_t *len,
                                  bool *null)
{
    const struct tm_col *col = tm_batch_col(&c->s->segs[REF_SEG(ref)].rows, c->sp->group_field_id);
    *null = !col || tm_col_is_null(col, REF_ROW(ref));
    if (*null) {
        *len = 0;
        return NULL;
    }
    return tm_col_value(col, REF_ROW(ref), len);
}

/* The slot of ref's group: its own, or the empty slot where it would go. */
static uint64_t group_slot(const struct tm_collector *c, const struct group_table *g, int64_t ref)
{
    size_t len, olen;
    bool null, onull;
    const uint8_t *v = group_value(c, ref, &len, &null);
    uint64_t i = value_hash(v, len, null) & g->mask;
    for (;; i = (i + 1) & g->mask) {
        if (g->first[i] < 0)
            return i;
        const uint8_t *o = group_value(c, g->first[i], &olen, &onull);
        if (null == onull && len == olen && (len == 0 || memcmp(v, o, len) == 0))
            return i;
    }
}

static void group_table_free(struct group_table *g)
{
    free(g->first);
    free(g->index);
    free(g->size);
}

static int group_table_init(struct group_table *g, uint64_t k)
{
    uint64_t cap = 4;
    while (cap < 2 * k)
        cap *= 2;
    *g = (struct group_table){malloc(cap * 8), malloc(cap * 4), calloc(k + 1, 4), cap - 1, 0};
    if (!g->first || !g->index || !g->size) {
        group_table_free(g);
        return TM_ENOMEM;
    }
    memset(g->first, 0xff, cap * 8);
    return 0;
}

/* Places the kept hits (in rank order, with their group ranks) grouped:
 * best group first, each group's hits in rank order. */
static void order_by_group(struct tm_collector *c, const struct tm_hit *kept, const uint32_t *gi,
                           uint64_t n, struct group_table *g)
{
    uint32_t at = 0;
    for (uint32_t i = 0; i < g->ngroups; i++) { /* sizes become start offsets */
        uint32_t sz = g->size[i];
        g->size[i] = at;
        at += sz;
    }
    for (uint64_t i = 0; i < n; i++)
        c->hits[g->size[gi[i]]++] = kept[i];
    /* the groups skipped by the offset are the first ones */
    uint32_t skip = c->sp->offset < g->ngroups ? c->sp->offset : g->ngroups;
    c->skip = skip ? g->size[skip - 1] : 0;
    c->n = n;
}

/* Keeps, in rank order, at most group_size hits of each of the first k
 * groups to appear. */
static int cut_groups(struct tm_collector *c)
{
    struct group_table g;
    struct tm_hit *kept = malloc(c->n * sizeof *kept + 1);
    uint32_t *gi = malloc(c->n * 4 + 4);
    int rc = kept && gi ? group_table_init(&g, c->sp->k) : TM_ENOMEM;
    if (rc) {
        free(kept), free(gi);
        return rc;
    }
    uint64_t n = 0;
    for (uint64_t i = 0; i < c->n; i++) {
        uint64_t slot = group_slot(c, &g, c->hits[i].ref);
        if (g.first[slot] < 0) {
            if (g.ngroups == c->sp->k)
                continue;
            g.first[slot] = c->hits[i].ref;
            g.index[slot] = g.ngroups++;
        }
        if (g.size[g.index[slot]] < c->sp->group_size) {
            g.size[g.index[slot]]++;
            gi[n] = g.index[slot];
            kept[n++] = c->hits[i];
        }
    }
    order_by_group(c, kept, gi, n, &g);
    group_table_free(&g);
    free(kept), free(gi);
    return 0;
}

int tm_collectors_finish(struct tm_collector *c, uint32_t nq, bool asc, struct tm_search_hits *out)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < nq; i++) {
        if (c[i].n > 1)
            qsort(c[i].hits, c[i].n, sizeof *c[i].hits, cmp_hit);
        c[i].skip = c[i].sp->offset < c[i].n ? c[i].sp->offset : c[i].n;
        if (c[i].sp->group_field_id && cut_groups(&c[i]))
            return TM_ENOMEM;
        total += c[i].n - c[i].skip;
    }
    out->nq = nq;
    out->n = total;
    out->topks = malloc(nq * sizeof *out->topks + 1);
    out->refs = malloc(total * sizeof *out->refs + 1);
    out->scores = malloc(total * sizeof *out->scores + 1);
    if (!out->topks || !out->refs || !out->scores)
        return TM_ENOMEM;
    uint64_t at = 0;
    for (uint32_t i = 0; i < nq; i++) {
        out->topks[i] = (uint32_t)(c[i].n - c[i].skip);
        for (uint64_t h = c[i].skip; h < c[i].n; h++, at++) {
            out->refs[at] = c[i].hits[h].ref;
            out->scores[at] = asc ? c[i].hits[h].key : -c[i].hits[h].key;
        }
    }
    return 0;
}
