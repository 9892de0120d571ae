/* Merge entries (partial updates), resolved while the log is applied.
 *
 * Each partial row is merged into its key's latest version at that point of
 * the log: sent fields replace, other fields are kept, and JSON values (a
 * JSON field, or the dynamic field) merge key-wise at the top level when the
 * old and the new value are both objects. The merged row replaces the old
 * version at the entry's timestamp (a delete of the old key and an insert of
 * the merged row, both at T), so two concurrent partial updates of the same
 * key, ordered by the log, both land: neither reads a stale row.
 *
 * A key with no version yet is inserted; fields not sent take their default,
 * or null. The proxy refuses a request whose new keys lack a required field;
 * if a key vanished between that check and the apply (a concurrent delete)
 * and its row lacks a required field, the row is dropped here: the delete,
 * ordered first, wins. Every replica decides this the same way.
 */
#include "store_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int col_copy(struct tm_col *d, const struct tm_col *src, uint32_t i)
{
    size_t len;
    if (tm_col_is_null(src, i))
        return tm_col_push_null(d);
    const uint8_t *p = tm_col_value(src, i, &len);
    return tm_col_push(d, p, len);
}

static int push_default(struct tm_col *d, const struct tm_field *f)
{
    const struct tm_value *v = &f->default_value;
    union {
        uint8_t u8;
        int16_t i16;
        int32_t i32;
        int64_t i64;
        float f32;
        double f64;
    } u;
    double dv = v->kind == TM_V_DOUBLE ? v->d : (double)v->i;
    switch (f->type) {
    case TM_T_BOOL:
        u.u8 = v->b;
        break;
    case TM_T_INT8:
        u.u8 = (uint8_t)(int8_t)v->i;
        break;
    case TM_T_INT16:
        u.i16 = (int16_t)v->i;
        break;
    case TM_T_INT32:
        u.i32 = (int32_t)v->i;
        break;
    case TM_T_INT64:
        u.i64 = v->i;
        break;
    case TM_T_FLOAT:
        u.f32 = (float)dv;
        break;
    case TM_T_DOUBLE:
        u.f64 = dv;
        break;
    case TM_T_VARCHAR:
        return tm_col_push(d, v->s, strlen(v->s));
    default:
        return TM_ECORRUPT;
    }
    return tm_col_push(d, &u, d->width);
}

/* Top-level key-wise merge of two JSON texts when both are objects;
 * otherwise the new value replaces the old. */
static int push_json_merge(struct tm_col *d, const struct tm_col *oc, uint32_t orow,
                           const struct tm_col *nc, uint32_t nrow)
{
    size_t olen, nlen;
    const uint8_t *op = tm_col_value(oc, orow, &olen);
    const uint8_t *np = tm_col_value(nc, nrow, &nlen);
    json_t *old = json_loadb((const char *)op, olen, JSON_DECODE_ANY, NULL);
    json_t *upd = json_loadb((const char *)np, nlen, JSON_DECODE_ANY, NULL);
    int rc;
    if (json_is_object(old) && json_is_object(upd) && json_object_update(old, upd) == 0) {
        char *text = json_dumps(old, JSON_COMPACT);
        rc = text ? tm_col_push(d, text, strlen(text)) : TM_ENOMEM;
        free(text);
    } else {
        rc = tm_col_push(d, np, nlen);
    }
    json_decref(old);
    json_decref(upd);
    return rc;
}

/* The raw msgpack bytes of each element of an array value. */
static int array_items(const uint8_t *p, size_t len, struct tm_span *items, uint32_t cap,
                       uint32_t *n_out)
{
    struct tm_mpr r;
    uint32_t n;
    tm_mpr_init(&r, p, len);
    if (tm_mpr_array(&r, &n) || n > cap)
        return TM_ECORRUPT;
    for (uint32_t i = 0; i < n; i++)
        if (tm_mpr_raw(&r, &items[i].p, &items[i].len))
            return r.err;
    *n_out = n;
    return 0;
}

static bool item_in(const struct tm_span *it, const struct tm_span *set, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (set[i].len == it->len && memcmp(set[i].p, it->p, it->len) == 0)
            return true;
    return false;
}

/* ARRAY_APPEND / ARRAY_REMOVE of the sent elements to the old array. An
 * append past max_capacity cannot fail a committed entry: it leaves the old
 * array as it was (the proxy refuses what it can see in advance). */
static int push_array_op(struct tm_col *d, const struct tm_field *f, enum tm_field_op op,
                         const struct tm_col *oc, uint32_t orow, const struct tm_col *nc,
                         uint32_t nrow)
{
    size_t olen, nlen;
    const uint8_t *op_ = tm_col_value(oc, orow, &olen), *np = tm_col_value(nc, nrow, &nlen);
    uint32_t no, ns, cap = (uint32_t)f->max_capacity; /* ≤ 4096 (schema rule) */
    struct tm_span *old = calloc(2 * (size_t)cap + 2, sizeof *old), *sent = old + cap + 1;
    if (!old)
        return TM_ENOMEM;
    if (array_items(op_, olen, old, cap, &no) || array_items(np, nlen, sent, cap, &ns)) {
        free(old);
        return TM_ECORRUPT;
    }
    if (op == TM_OP_ARRAY_APPEND && (int64_t)(no + ns) > f->max_capacity) {
        free(old);
        return col_copy(d, oc, orow);
    }
    struct tm_mpw w;
    uint32_t keep = 0;
    for (uint32_t i = 0; i < no; i++)
        keep += op == TM_OP_ARRAY_APPEND || !item_in(&old[i], sent, ns);
    tm_mpw_init(&w);
    tm_mpw_array(&w, keep + (op == TM_OP_ARRAY_APPEND ? ns : 0));
    for (uint32_t i = 0; i < no; i++)
        if (op == TM_OP_ARRAY_APPEND || !item_in(&old[i], sent, ns))
            tm_mpw_raw(&w, old[i].p, old[i].len);
    for (uint32_t i = 0; op == TM_OP_ARRAY_APPEND && i < ns; i++)
        tm_mpw_raw(&w, sent[i].p, sent[i].len);
    int rc = tm_mpw_error(&w) ? TM_ENOMEM : tm_col_push(d, w.buf.data, w.buf.len);
    tm_mpw_free(&w);
    free(old);
    return rc;
}

static enum tm_field_op op_of(const struct tm_entry_hdr *h, int64_t field_id)
{
    for (uint32_t i = 0; i < h->nops; i++)
        if (h->ops[i].field_id == field_id)
            return h->ops[i].op;
    return TM_OP_REPLACE;
}

/* One column of the merged row. Sets *skip for a new key lacking a required field. */
static int merged_value(const struct tm_store *s, const struct tm_entry_hdr *h, struct tm_col *d,
                        const struct tm_batch *partial, uint32_t i, int64_t base, bool *skip)
{
    const struct tm_col *pc = tm_batch_col(partial, d->field_id);
    const struct tm_col *bc =
        base == TM_NO_REF ? NULL : tm_batch_col(&s->segs[REF_SEG(base)].rows, d->field_id);
    uint32_t brow = base == TM_NO_REF ? 0 : REF_ROW(base);
    enum tm_field_op op = pc ? op_of(h, d->field_id) : TM_OP_REPLACE;
    if (op != TM_OP_REPLACE && tm_col_is_null(pc, i)) /* a null array: nothing to do */
        pc = NULL;
    if (op != TM_OP_REPLACE && pc && bc && !tm_col_is_null(bc, brow))
        return push_array_op(d, tm_schema_field_by_id(s->schema, d->field_id), op, bc, brow, pc, i);
    if (op == TM_OP_ARRAY_REMOVE && pc) /* nothing to remove from */
        pc = NULL;
    if (pc && bc && d->type == TM_T_JSON && !tm_col_is_null(pc, i) && !tm_col_is_null(bc, brow))
        return push_json_merge(d, bc, brow, pc, i);
    if (pc)
        return col_copy(d, pc, i);
    if (bc)
        return col_copy(d, bc, brow);
    if (d->field_id == TM_META_FIELD_ID)
        return tm_col_push(d, "{}", 2);
    const struct tm_field *f = tm_schema_field_by_id(s->schema, d->field_id);
    if (f && f->default_value.kind != TM_V_NONE)
        return push_default(d, f);
    if (f && f->nullable)
        return tm_col_push_null(d);
    *skip = true;
    return 0;
}

static int merge_row(struct tm_store *s, const struct tm_entry_hdr *h, const struct tm_batch *rows,
                     const struct tm_batch *pks, uint32_t i)
{
    struct tm_pk old = tm_store_pk_at(&pks->cols[0], i);
    const struct tm_pk_entry *e = tm_pkindex_find(&s->pk, &old);
    int64_t base = e ? tm_store_visible(s, e, h->ts) : TM_NO_REF;
    struct tm_batch out;
    bool skip = false;
    tm_batch_init(&out);
    int rc = tm_batch_clone_layout(&out, &s->layout);
    for (uint32_t c = 0; c < out.ncols && !rc && !skip; c++)
        rc = merged_value(s, h, &out.cols[c], rows, i, base, &skip);
    struct tm_entry_hdr at = *h;
    at.part_id = h->part_id >= 0     ? h->part_id
                 : base != TM_NO_REF ? s->segs[REF_SEG(base)].part_id
                                     : h->default_part_id;
    out.nrows = 1;
    if (!rc && !skip && base != TM_NO_REF)
        rc = tm_store_delete_key(s, &old, h->ts, -1);
    if (!rc && !skip)
        rc = tm_store_insert_rows(s, &at, &out, s->pk_field_id);
    tm_batch_free(&out);
    return rc;
}

int tm_store_merge(struct tm_store *s, const struct tm_entry_hdr *h, const struct tm_batch *rows,
                   const struct tm_batch *pks)
{
    if (pks->ncols != 1 || pks->nrows != rows->nrows || !tm_batch_col(rows, s->pk_field_id))
        return TM_ECORRUPT;
    for (uint32_t i = 0; i < rows->nrows; i++) {
        int rc = merge_row(s, h, rows, pks, i);
        if (rc)
            return rc;
    }
    return 0;
}
