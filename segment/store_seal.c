/* Sealing a store's growing data and loading sealed ranges back (store.h).
 *
 * A seal range is everything the log wrote since the previous seal: one
 * segment per partition and the delete records. Loading puts the rows back
 * as sealed segments and rebuilds each key's version chain. Chains must be
 * in timestamp order (tm_store_visible walks them newest first), and a key
 * may have versions in several partitions of one range (an override upsert
 * moves it), so rows are linked in one merge by timestamp across the
 * range's partitions, not partition by partition. Each partition's rows are
 * already in timestamp order: a shard's timestamps rise along its log.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

void tm_seal_free(struct tm_seal *seal)
{
    free(seal->parts);
    memset(seal, 0, sizeof *seal);
}

int tm_store_seal(struct tm_store *s, struct tm_seal *out)
{
    return tm_store_seal_shard(s, -1, out);
}

int tm_store_seal_shard(struct tm_store *s, int32_t shard, struct tm_seal *out)
{
    memset(out, 0, sizeof *out);
    out->parts = calloc(s->nsegs ? s->nsegs : 1, sizeof *out->parts);
    if (!out->parts)
        return TM_ENOMEM;
    for (uint32_t i = 0; i < s->nsegs; i++) {
        struct tm_store_seg *sg = &s->segs[i];
        if (sg->sealed || (shard >= 0 && sg->shard != shard))
            continue;
        sg->sealed = true;
        if (sg->rows.nrows == 0)
            continue;
        out->parts[out->nparts++] = (struct tm_sealed_part){
            .part_id = sg->part_id, .rows = &sg->rows, .ts = (const uint64_t *)sg->ts.data};
    }
    out->dels = s->dels + s->dels_sealed;
    out->ndels = (uint64_t)(s->ndels - s->dels_sealed);
    s->dels_sealed = s->ndels;
    return 0;
}

/* A new sealed segment holding a copy of part's rows; its index. */
static int add_sealed_seg(struct tm_store *s, const struct tm_sealed_part *part, uint32_t *idx_out)
{
    struct tm_store_seg *grown = realloc(s->segs, (s->nsegs + 1) * sizeof *grown);
    if (!grown)
        return TM_ENOMEM;
    s->segs = grown;
    struct tm_store_seg *sg = &s->segs[s->nsegs];
    memset(sg, 0, sizeof *sg);
    sg->part_id = part->part_id;
    sg->shard = s->apply_shard;
    sg->sealed = true;
    uint32_t n = part->rows->nrows;
    int rc = tm_batch_clone_layout(&sg->rows, s->schema ? &s->layout : part->rows);
    if (!rc)
        rc = tm_batch_append_rows(&sg->rows, part->rows, 0, n);
    if (!rc)
        rc = tm_buf_append(&sg->ts, part->ts, (size_t)n * 8);
    if (!rc)
        rc = tm_buf_reserve(&sg->prev, (size_t)n * 8);
    if (rc) {
        tm_batch_free(&sg->rows);
        tm_buf_free(&sg->ts);
        tm_buf_free(&sg->prev);
        return rc;
    }
    sg->prev.len = (size_t)n * 8;
    *idx_out = s->nsegs++;
    return 0;
}

/* Makes row `row` of segment seg the newest version of its key. */
static int link_row(struct tm_store *s, uint32_t seg, uint32_t row)
{
    struct tm_store_seg *sg = &s->segs[seg];
    const struct tm_col *pkc = tm_batch_col(&sg->rows, s->pk_field_id);
    struct tm_pk pk = tm_store_pk_at(pkc, row);
    struct tm_pk_entry *e = tm_pkindex_get(&s->pk, &pk);
    if (!e)
        return TM_ENOMEM;
    ((int64_t *)sg->prev.data)[row] = e->row_head;
    s->nreplaced += e->row_head != TM_NO_REF;
    e->row_head = REF(seg, row);
    uint64_t ts = ((const uint64_t *)sg->ts.data)[row];
    if (ts > s->max_ts)
        s->max_ts = ts;
    return 0;
}

/* The part whose next unlinked row is oldest, or -1 when all are linked. */
static int next_part(const struct tm_store *s, const uint32_t *segs, const uint32_t *at, uint32_t n)
{
    int best = -1;
    uint64_t best_ts = 0;
    for (uint32_t p = 0; p < n; p++) {
        const struct tm_store_seg *sg = &s->segs[segs[p]];
        if (at[p] == sg->rows.nrows)
            continue;
        uint64_t ts = ((const uint64_t *)sg->ts.data)[at[p]];
        if (best < 0 || ts < best_ts) {
            best = (int)p;
            best_ts = ts;
        }
    }
    return best;
}

static int link_range(struct tm_store *s, const uint32_t *segs, uint32_t n)
{
    uint32_t *at = calloc(n ? n : 1, sizeof *at);
    if (!at)
        return TM_ENOMEM;
    int rc = 0;
    uint64_t last = 0;
    for (int p; !rc && (p = next_part(s, segs, at, n)) >= 0; at[p]++) {
        uint64_t ts = ((const uint64_t *)s->segs[segs[p]].ts.data)[at[p]];
        rc = ts < last ? TM_ECORRUPT : link_row(s, segs[p], at[p]);
        last = ts;
    }
    free(at);
    return rc;
}

static int load_deletes(struct tm_store *s, const struct tm_seal *in)
{
    for (uint64_t i = 0; i < in->ndels; i++) {
        const struct tm_store_del *d = &in->dels[i];
        struct tm_pk pk = {.is_str = d->skey != NULL, .i = d->ikey, .s = d->skey, .len = d->slen};
        int rc = tm_store_delete_key(s, &pk, d->ts, d->part_id);
        if (rc)
            return rc;
    }
    s->dels_sealed = s->ndels;
    return 0;
}

int tm_store_load_sealed(struct tm_store *s, const struct tm_seal *in)
{
    uint32_t *segs = calloc(in->nparts ? in->nparts : 1, sizeof *segs);
    if (!segs)
        return TM_ENOMEM;
    int rc = 0;
    for (uint32_t p = 0; p < in->nparts && !rc; p++) {
        if (!tm_batch_col(in->parts[p].rows, s->pk_field_id))
            rc = TM_ECORRUPT;
        else
            rc = add_sealed_seg(s, &in->parts[p], &segs[p]);
    }
    if (!rc)
        rc = link_range(s, segs, in->nparts);
    if (!rc)
        rc = load_deletes(s, in);
    free(segs);
    return rc;
}
