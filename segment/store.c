/* Growing data of one collection: versions, deletes, MVCC reads (rules in store.h). */
#include "store.h"
#include "search_int.h"
#include "seg_index.h"
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

struct tm_store *tm_store_new(int64_t coll_id)
{
    struct tm_store *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->coll_id = coll_id;
    pthread_rwlock_init(&s->lock, NULL);
    tm_pkindex_init(&s->pk);
    return s;
}

void tm_store_clear(struct tm_store *s)
{
    for (uint32_t i = 0; i < s->nsegs; i++) {
        tm_seg_index_free(s->segs[i].ix); /* before the vectors it borrows */
        tm_batch_free(&s->segs[i].rows);
        tm_buf_free(&s->segs[i].ts);
        tm_buf_free(&s->segs[i].prev);
    }
    free(s->segs);
    free(s->dels);
    tm_pkindex_free(&s->pk);
    s->segs = NULL;
    s->nsegs = 0;
    s->nreplaced = 0;
    s->max_ts = 0;
    s->dels = NULL;
    s->ndels = s->cap_dels = s->dels_sealed = 0;
}

int tm_store_set_schema(struct tm_store *s, const struct tm_schema *schema)
{
    struct tm_schema *copy = calloc(1, sizeof *copy);
    if (!copy || tm_schema_copy(copy, schema)) {
        free(copy);
        return TM_ENOMEM;
    }
    s->schema = copy;
    s->pk_field_id = tm_schema_pk(copy)->id;
    return tm_batch_layout_from_schema(&s->layout, copy) ? TM_ENOMEM : 0;
}

void tm_store_free(struct tm_store *s)
{
    if (!s)
        return;
    tm_store_clear(s);
    if (s->schema) {
        tm_schema_free(s->schema);
        free(s->schema);
    }
    tm_batch_free(&s->layout);
    pthread_rwlock_destroy(&s->lock);
    free(s);
}

struct tm_pk tm_store_pk_at(const struct tm_col *c, uint32_t i)
{
    struct tm_pk pk = {0};
    if (c->type == TM_T_INT64) {
        pk.i = tm_col_int64(c, i);
    } else {
        size_t len;
        pk.is_str = true;
        pk.s = (const char *)tm_col_value(c, i, &len);
        pk.len = (uint32_t)len;
    }
    return pk;
}

uint64_t tm_store_row_ts(const struct tm_store *s, int64_t ref)
{
    return ((const uint64_t *)s->segs[REF_SEG(ref)].ts.data)[REF_ROW(ref)];
}

int64_t tm_store_row_prev(const struct tm_store *s, int64_t ref)
{
    return ((const int64_t *)s->segs[REF_SEG(ref)].prev.data)[REF_ROW(ref)];
}

/* ---- apply ---- */

int tm_store_delete_key(struct tm_store *s, const struct tm_pk *pk, uint64_t ts, int64_t part)
{
    struct tm_pk_entry *e = tm_pkindex_get(&s->pk, pk);
    if (!e)
        return TM_ENOMEM;
    if (s->ndels == s->cap_dels) {
        int64_t cap = s->cap_dels ? s->cap_dels * 2 : 1024;
        struct tm_store_del *grown = realloc(s->dels, (size_t)cap * sizeof *grown);
        if (!grown)
            return TM_ENOMEM;
        s->dels = grown;
        s->cap_dels = cap;
    }
    s->dels[s->ndels] = (struct tm_store_del){ts, part, e->del_head, e->ikey, e->skey, e->slen};
    e->del_head = s->ndels++;
    return 0;
}

static int apply_deletes(struct tm_store *s, const struct tm_entry_hdr *h,
                         const struct tm_batch *pks)
{
    if (pks->ncols != 1)
        return TM_ECORRUPT;
    /* An upsert's delete spans the collection: a key lives in one partition,
     * so upserting it into another moves it. */
    int64_t part = h->kind == TM_ENTRY_UPSERT ? -1 : h->part_id;
    for (uint32_t i = 0; i < pks->nrows; i++) {
        struct tm_pk pk = tm_store_pk_at(&pks->cols[0], i);
        int rc = tm_store_delete_key(s, &pk, h->ts, part);
        if (rc)
            return rc;
    }
    return 0;
}

static int seg_for(struct tm_store *s, int64_t part_id, const struct tm_batch *layout,
                   uint32_t *idx_out)
{
    for (uint32_t i = 0; i < s->nsegs; i++) {
        if (s->segs[i].part_id == part_id && s->segs[i].shard == s->apply_shard &&
            !s->segs[i].sealed) {
            *idx_out = i;
            return 0;
        }
    }
    struct tm_store_seg *grown = realloc(s->segs, (s->nsegs + 1) * sizeof *grown);
    if (!grown)
        return TM_ENOMEM;
    s->segs = grown;
    struct tm_store_seg *seg = &s->segs[s->nsegs];
    memset(seg, 0, sizeof *seg);
    seg->part_id = part_id;
    seg->shard = s->apply_shard;
    /* With a schema every segment has the schema's full layout, whatever
     * the entry that created it carried (a merge carries only some fields). */
    int rc = tm_batch_clone_layout(&seg->rows, s->schema ? &s->layout : layout);
    if (rc) {
        tm_batch_free(&seg->rows);
        return rc;
    }
    tm_batch_set_large(&seg->rows);
    tm_buf_set_large(&seg->ts);
    tm_buf_set_large(&seg->prev);
    *idx_out = s->nsegs++;
    return 0;
}

int tm_store_insert_rows(struct tm_store *s, const struct tm_entry_hdr *h,
                         const struct tm_batch *rows, int64_t pk_field_id)
{
    const struct tm_col *pkc = tm_batch_col(rows, pk_field_id);
    uint32_t si;
    if (!pkc || (pkc->type != TM_T_INT64 && pkc->type != TM_T_VARCHAR))
        return TM_ECORRUPT;
    int rc = seg_for(s, h->part_id, rows, &si);
    if (rc)
        return rc;
    if (h->ts > s->max_ts)
        s->max_ts = h->ts;
    struct tm_store_seg *seg = &s->segs[si];
    uint32_t base = seg->rows.nrows;
    if ((rc = tm_batch_append_rows(&seg->rows, rows, 0, rows->nrows)))
        return rc;
    s->pk_field_id = pk_field_id;
    for (uint32_t i = 0; i < rows->nrows; i++) {
        struct tm_pk pk = tm_store_pk_at(pkc, i);
        struct tm_pk_entry *e = tm_pkindex_get(&s->pk, &pk);
        if (!e || tm_buf_append(&seg->ts, &h->ts, 8) || tm_buf_append(&seg->prev, &e->row_head, 8))
            return TM_ENOMEM;
        s->nreplaced += e->row_head != TM_NO_REF;
        e->row_head = REF(si, base + i);
    }
    return 0;
}

int tm_store_apply(struct tm_store *s, const struct tm_entry_hdr *h, const struct tm_batch *rows,
                   const struct tm_batch *pks, int64_t pk_field_id)
{
    int rc = 0;
    if (h->kind == TM_ENTRY_MERGE)
        return s->schema && rows && pks ? tm_store_merge(s, h, rows, pks) : TM_ECORRUPT;
    if (pks && pks->nrows)
        rc = apply_deletes(s, h, pks);
    if (!rc && rows && rows->nrows)
        rc = tm_store_insert_rows(s, h, rows, pk_field_id);
    return rc;
}

/* ---- reads ---- */

/* The visible version of a key at ts, or TM_NO_REF. */
int64_t tm_store_visible(const struct tm_store *s, const struct tm_pk_entry *e, uint64_t ts)
{
    int64_t v = e->row_head;
    while (v != TM_NO_REF && tm_store_row_ts(s, v) > ts)
        v = tm_store_row_prev(s, v);
    if (v == TM_NO_REF)
        return TM_NO_REF;
    uint64_t vts = tm_store_row_ts(s, v);
    int64_t part = s->segs[REF_SEG(v)].part_id;
    for (int64_t d = e->del_head; d != TM_NO_REF; d = s->dels[d].prev) {
        const struct tm_store_del *del = &s->dels[d];
        if (del->ts <= vts)
            break; /* older deletes cannot hide v */
        if (del->ts <= ts && (del->part_id < 0 || del->part_id == part))
            return TM_NO_REF;
    }
    return v;
}

uint64_t tm_store_read_ts(const struct tm_pk_entry *e, const struct tm_store_read *q)
{
    if (!q->nshards)
        return q->ts;
    struct tm_pk pk = {.is_str = e->skey != NULL, .i = e->ikey, .s = e->skey, .len = e->slen};
    return q->shard_ts[tm_pk_shard(&pk, q->nshards)];
}

bool tm_store_seg_selected(const struct tm_store *s, uint32_t seg, const struct tm_store_read *q)
{
    if (!q->parts)
        return true;
    int64_t part = s->segs[seg].part_id;
    for (uint32_t i = 0; i < q->nparts; i++)
        if (q->parts[i] == part)
            return true;
    return false;
}

static int cmp_ref(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Collects the refs of the given keys' visible, selected versions. */
static int collect(struct tm_store *s, const struct tm_batch *pks, const struct tm_store_read *q,
                   struct tm_buf *refs)
{
    for (uint32_t i = 0; i < pks->nrows; i++) {
        struct tm_pk pk = tm_store_pk_at(&pks->cols[0], i);
        const struct tm_pk_entry *e = tm_pkindex_find(&s->pk, &pk);
        int64_t v = e ? tm_store_visible(s, e, tm_store_read_ts(e, q)) : TM_NO_REF;
        if (v != TM_NO_REF && tm_store_seg_selected(s, REF_SEG(v), q) && tm_buf_append(refs, &v, 8))
            return TM_ENOMEM;
    }
    /* Insertion order, as a scan of segments would return them; a key the
     * caller listed twice (`pk in [1, 1]`) is still one row. */
    int64_t *r = (int64_t *)refs->data;
    size_t n_refs = refs->len / 8, kept = 0;
    if (n_refs > 1)
        qsort(r, n_refs, 8, cmp_ref);
    for (size_t i = 0; i < n_refs; i++)
        if (kept == 0 || r[i] != r[kept - 1])
            r[kept++] = r[i];
    refs->len = kept * 8;
    return 0;
}

int tm_store_out_layout(const struct tm_store *s, const struct tm_store_read *q,
                        struct tm_batch *out)
{
    const struct tm_batch *l = s->schema ? &s->layout : &s->segs[0].rows;
    const struct tm_col *pkc = tm_batch_col(l, s->pk_field_id);
    if (!tm_batch_add_col(out, pkc->field_id, pkc->type, pkc->width, pkc->nullable))
        return TM_EINVAL;
    for (uint32_t i = 0; i < q->nfields; i++) {
        const struct tm_col *c = tm_batch_col(l, q->fields[i]);
        if (c && c->field_id != s->pk_field_id &&
            !tm_batch_add_col(out, c->field_id, c->type, c->width, c->nullable))
            return TM_EINVAL;
    }
    return 0;
}

int tm_store_read(struct tm_store *s, const struct tm_batch *pks, const struct tm_store_read *q,
                  struct tm_batch *out)
{
    if (s->nsegs == 0)
        return 0;
    if (pks && pks->ncols != 1)
        return TM_EINVAL;
    struct tm_buf refs;
    tm_buf_init(&refs);
    int rc = pks ? collect(s, pks, q, &refs) : tm_store_scan_refs(s, q, &refs);
    if (!rc)
        rc = tm_store_out_layout(s, q, out);
    const int64_t *r = (const int64_t *)refs.data;
    uint64_t n = refs.len / 8;
    uint64_t start = q->offset < n ? q->offset : n;
    uint64_t end = q->limit && q->limit < n - start ? start + q->limit : n; /* no wrap-around */
    for (uint64_t i = start; i < end && !rc; i++)
        rc = tm_batch_append_rows(out, &s->segs[REF_SEG(r[i])].rows, REF_ROW(r[i]), 1);
    tm_buf_free(&refs);
    return rc;
}

int tm_store_count(struct tm_store *s, const struct tm_store_read *q, uint64_t *n_out)
{
    if (q->filter || (s->nreplaced == 0 && s->ndels == 0)) /* bitsets are cheaper then */
        return tm_store_count_filtered(s, q, n_out);
    uint64_t n = 0;
    for (uint64_t i = 0; i < s->pk.cap; i++) {
        const struct tm_pk_entry *e = &s->pk.slots[i];
        if (!e->hash)
            continue;
        int64_t v = tm_store_visible(s, e, tm_store_read_ts(e, q));
        n += v != TM_NO_REF && tm_store_seg_selected(s, REF_SEG(v), q);
    }
    *n_out = n;
    return 0;
}
