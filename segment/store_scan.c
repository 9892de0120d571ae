/* Scans of a store: which rows a read may return, as one bitset per
 * segment (store_int.h), and the filtered reads and counts built on them.
 *
 * Visibility is decided per key (the pk index knows each key's version
 * chain); the filter is evaluated per segment a column at a time
 * (expr.h). A row is eligible only when both say so, so a filter never sees
 * through to a deleted or superseded version.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

static uint64_t words_of(uint64_t nbits)
{
    return (nbits + 63) / 64;
}

uint64_t tm_bits_count(const uint64_t *bits, uint64_t n)
{
    uint64_t c = 0, w = n / 64;
    for (uint64_t i = 0; i < w; i++)
        c += (uint64_t)__builtin_popcountll(bits[i]);
    if (n % 64)
        c += (uint64_t)__builtin_popcountll(bits[w] & ((1ULL << (n % 64)) - 1));
    return c;
}

void tm_store_bits_free(const struct tm_store *s, uint64_t **bits)
{
    if (!bits)
        return;
    for (uint32_t i = 0; i < s->nsegs; i++)
        free(bits[i]);
    free(bits);
}

static uint64_t **bits_alloc(const struct tm_store *s)
{
    uint64_t **bits = calloc(s->nsegs ? s->nsegs : 1, sizeof *bits);
    for (uint32_t i = 0; bits && i < s->nsegs; i++) {
        bits[i] = calloc(words_of(s->segs[i].rows.nrows) + 1, 8);
        if (!bits[i]) {
            tm_store_bits_free(s, bits);
            return NULL;
        }
    }
    return bits;
}

/* The read timestamp of segment i's rows: a segment holds one shard's
 * rows (store.h), read at that shard's timestamp. */
static uint64_t seg_read_ts(const struct tm_store *s, uint32_t i, const struct tm_store_read *q)
{
    int32_t sh = s->segs[i].shard;
    if (!q->nshards)
        return q->ts;
    return sh >= 0 && (uint32_t)sh < q->nshards ? q->shard_ts[sh] : 0;
}

/* The lowest read timestamp of the shards the store holds rows of: a
 * query node serving some shards, or a read asking for some, reads the
 * others at 0, and they must not cost every row a visibility check. */
static uint64_t min_read_ts(const struct tm_store *s, const struct tm_store_read *q)
{
    uint64_t m = UINT64_MAX;
    for (uint32_t i = 0; i < s->nsegs; i++) {
        uint64_t t = seg_read_ts(s, i, q);
        m = t < m ? t : m;
    }
    return m;
}

/* The fast path of mark_visible, for a store where every row is the only
 * version of its key and nothing was deleted: a row is visible iff it was
 * written at or before its key's read timestamp. */
static void mark_only_versions(const struct tm_store *s, const struct tm_store_read *q,
                               uint64_t **bits)
{
    bool all = min_read_ts(s, q) >= s->max_ts;
    for (uint32_t i = 0; i < s->nsegs; i++) {
        const struct tm_store_seg *sg = &s->segs[i];
        if (!tm_store_seg_selected(s, i, q) || seg_read_ts(s, i, q) == 0)
            continue; /* a shard not read: none of its rows (timestamps > 0) */
        if (all) {    /* every row: whole words at once (a search's fixed cost) */
            uint32_t n = sg->rows.nrows;
            memset(bits[i], 0xff, (size_t)(n / 64) * 8);
            if (n % 64)
                bits[i][n / 64] = (1ULL << (n % 64)) - 1;
            continue;
        }
        const struct tm_col *pkc = tm_batch_col(&sg->rows, s->pk_field_id);
        const uint64_t *ts = (const uint64_t *)sg->ts.data;
        for (uint32_t r = 0; r < sg->rows.nrows; r++) {
            bool vis = all;
            if (!vis) {
                struct tm_pk pk = tm_store_pk_at(pkc, r);
                vis = ts[r] <= (q->nshards ? q->shard_ts[tm_pk_shard(&pk, q->nshards)] : q->ts);
            }
            bits[i][r / 64] |= (uint64_t)vis << (r % 64);
        }
    }
}

/* Sets the bit of every key's visible version in a selected segment. */
static void mark_visible(const struct tm_store *s, const struct tm_store_read *q, uint64_t **bits)
{
    if (s->nreplaced == 0 && s->ndels == 0 && s->pk_field_id) {
        mark_only_versions(s, q, bits);
        return;
    }
    for (uint64_t i = 0; i < s->pk.cap; i++) {
        const struct tm_pk_entry *e = &s->pk.slots[i];
        if (!e->hash || e->row_head == TM_NO_REF)
            continue;
        int64_t v = tm_store_visible(s, e, tm_store_read_ts(e, q));
        if (v == TM_NO_REF || !tm_store_seg_selected(s, REF_SEG(v), q))
            continue;
        uint32_t row = REF_ROW(v);
        bits[REF_SEG(v)][row / 64] |= 1ULL << (row % 64);
    }
}

static int apply_filter(const struct tm_store *s, const struct tm_expr *f, uint64_t **bits)
{
    for (uint32_t i = 0; i < s->nsegs; i++) {
        uint32_t n = s->segs[i].rows.nrows;
        uint64_t w = words_of(n);
        if (tm_bits_count(bits[i], n) == 0)
            continue; /* nothing visible here: skip evaluating the filter */
        uint64_t *m = malloc((w ? w : 1) * 8);
        int rc = m ? tm_expr_eval(f, &s->segs[i].rows, 0, n, m) : TM_ENOMEM;
        for (uint64_t k = 0; !rc && k < w; k++)
            bits[i][k] &= m[k];
        free(m);
        if (rc)
            return rc;
    }
    return 0;
}

int tm_store_eligible(struct tm_store *s, const struct tm_store_read *q, uint64_t ***bits_out)
{
    uint64_t **bits = bits_alloc(s);
    if (!bits)
        return TM_ENOMEM;
    mark_visible(s, q, bits);
    int rc = q->filter ? apply_filter(s, q->filter, bits) : 0;
    if (rc) {
        tm_store_bits_free(s, bits);
        return rc;
    }
    *bits_out = bits;
    return 0;
}

/* The eligible rows as refs in insertion order (segment, then row). */
int tm_store_scan_refs(struct tm_store *s, const struct tm_store_read *q, struct tm_buf *refs)
{
    uint64_t **bits;
    int rc = tm_store_eligible(s, q, &bits);
    for (uint32_t i = 0; !rc && i < s->nsegs; i++) {
        for (uint64_t w = 0; w < words_of(s->segs[i].rows.nrows) && !rc; w++) {
            for (uint64_t m = bits[i][w]; m && !rc; m &= m - 1) {
                int64_t ref = REF(i, w * 64 + (uint64_t)__builtin_ctzll(m));
                rc = tm_buf_append(refs, &ref, 8);
            }
        }
    }
    if (bits)
        tm_store_bits_free(s, bits);
    return rc;
}

int tm_store_count_filtered(struct tm_store *s, const struct tm_store_read *q, uint64_t *n_out)
{
    uint64_t **bits;
    int rc = tm_store_eligible(s, q, &bits);
    if (rc)
        return rc;
    uint64_t n = 0;
    for (uint32_t i = 0; i < s->nsegs; i++)
        n += tm_bits_count(bits[i], s->segs[i].rows.nrows);
    tm_store_bits_free(s, bits);
    *n_out = n;
    return 0;
}
