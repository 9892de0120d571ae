/* Compaction of a store's data into one seal range (store.h).
 *
 * The range keeps exactly what a read at any timestamp >= R (the retention
 * point) can see: for each key, every version written after R, and the
 * version visible at R (none if a delete at or before R hides it); and the
 * delete records written after R, which still hide some of those versions
 * from reads before them. Older versions and deletes are dropped: a read at
 * R or later gives the same answer from the compacted range as from the
 * full history, which is the rule the upsert-heavy test checks.
 */
#include "seal_io.h"
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

struct kept {
    int64_t part;
    uint64_t ts;
    int64_t ref;
};

static int cmp_kept(const void *a, const void *b)
{
    const struct kept *x = a, *y = b;
    if (x->part != y->part)
        return x->part < y->part ? -1 : 1;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return (x->ref > y->ref) - (x->ref < y->ref);
}

/* The versions to keep, sorted by partition, then timestamp. */
static int collect_kept(const struct tm_store *s, uint64_t r, struct kept **out, uint64_t *n_out)
{
    struct tm_buf buf;
    tm_buf_init(&buf);
    for (uint64_t i = 0; i < s->pk.cap; i++) {
        const struct tm_pk_entry *e = &s->pk.slots[i];
        if (!e->hash)
            continue;
        int64_t v = e->row_head;
        for (; v != TM_NO_REF && tm_store_row_ts(s, v) > r; v = tm_store_row_prev(s, v)) {
            struct kept k = {s->segs[REF_SEG(v)].part_id, tm_store_row_ts(s, v), v};
            if (tm_buf_append(&buf, &k, sizeof k)) {
                tm_buf_free(&buf);
                return TM_ENOMEM;
            }
        }
        int64_t at_r = v == TM_NO_REF ? TM_NO_REF : tm_store_visible(s, e, r);
        struct kept k = {at_r == TM_NO_REF ? 0 : s->segs[REF_SEG(at_r)].part_id,
                         at_r == TM_NO_REF ? 0 : tm_store_row_ts(s, at_r), at_r};
        if (at_r != TM_NO_REF && tm_buf_append(&buf, &k, sizeof k)) {
            tm_buf_free(&buf);
            return TM_ENOMEM;
        }
    }
    *n_out = buf.len / sizeof(struct kept);
    if (*n_out > 1)
        qsort(buf.data, *n_out, sizeof(struct kept), cmp_kept);
    *out = (struct kept *)buf.data;
    return 0;
}

/* Copies the kept rows into one batch per partition of o. */
static int build_parts(const struct tm_store *s, const struct kept *k, uint64_t n,
                       struct tm_seal_owned *o)
{
    uint32_t nparts = 0;
    for (uint64_t i = 0; i < n; i++)
        nparts += i == 0 || k[i].part != k[i - 1].part;
    o->seal.parts = calloc(nparts + 1, sizeof *o->seal.parts);
    o->rows = calloc(nparts + 1, sizeof *o->rows);
    o->ts = calloc(nparts + 1, sizeof *o->ts);
    if (!o->seal.parts || !o->rows || !o->ts)
        return TM_ENOMEM;
    int rc = 0;
    for (uint64_t i = 0; i < n && !rc; i++) {
        uint32_t p = o->seal.nparts;
        if (i == 0 || k[i].part != k[i - 1].part) {
            tm_batch_init(&o->rows[p]);
            tm_buf_init(&o->ts[p]);
            o->seal.nparts++;
            rc = tm_batch_clone_layout(&o->rows[p], &s->layout);
        } else {
            p--;
        }
        if (!rc)
            rc = tm_batch_append_rows(&o->rows[p], &s->segs[REF_SEG(k[i].ref)].rows,
                                      REF_ROW(k[i].ref), 1);
        if (!rc)
            rc = tm_buf_append(&o->ts[p], &k[i].ts, 8);
        o->seal.parts[p] = (struct tm_sealed_part){.part_id = k[i].part, .rows = &o->rows[p]};
    }
    for (uint32_t p = 0; p < o->seal.nparts; p++)
        o->seal.parts[p].ts = (const uint64_t *)o->ts[p].data;
    return rc;
}

/* The delete records after r, oldest first (the store's log is in apply
 * order, which is timestamp order within a shard). */
static int keep_deletes(const struct tm_store *s, uint64_t r, struct tm_seal_owned *o)
{
    uint64_t n = 0;
    o->recs = calloc((size_t)s->ndels + 1, sizeof *o->recs);
    if (!o->recs)
        return TM_ENOMEM;
    for (int64_t i = 0; i < s->ndels; i++)
        if (s->dels[i].ts > r)
            o->recs[n++] = s->dels[i];
    o->seal.dels = o->recs;
    o->seal.ndels = n;
    return 0;
}

int tm_store_compact(const struct tm_store *s, uint64_t retention_ts, struct tm_seal_owned *out)
{
    struct kept *k = NULL;
    uint64_t n = 0;
    memset(out, 0, sizeof *out);
    int rc = s->schema ? collect_kept(s, retention_ts, &k, &n) : TM_EINVAL;
    if (!rc)
        rc = build_parts(s, k, n, out);
    if (!rc)
        rc = keep_deletes(s, retention_ts, out);
    free(k);
    return rc;
}
