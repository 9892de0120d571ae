/* Columnar row batches and their msgpack codec. */
#include "batch.h"

#include <string.h>

/* Only the counts: the columns past ncols are never read, and
 * tm_batch_add_col clears each one it adds. Zeroing the whole array
 * (TM_BATCH_MAX_COLS columns, 9.1 KiB) cost every write a dozen such
 * clears on the proxy and more on each replica. */
void tm_batch_init(struct tm_batch *b)
{
    b->nrows = 0;
    b->ncols = 0;
}

void tm_batch_free(struct tm_batch *b)
{
    for (uint32_t i = 0; i < b->ncols; i++) {
        tm_buf_free(&b->cols[i].data);
        tm_buf_free(&b->cols[i].ends);
        tm_buf_free(&b->cols[i].valid);
    }
    tm_batch_init(b);
}

struct tm_col *tm_batch_add_col(struct tm_batch *b, int64_t field_id, enum tm_dtype type,
                                uint32_t width, bool nullable)
{
    if (b->ncols >= TM_BATCH_MAX_COLS)
        return NULL;
    struct tm_col *c = &b->cols[b->ncols++];
    memset(c, 0, sizeof *c);
    c->field_id = field_id;
    c->type = type;
    c->width = width;
    c->nullable = nullable;
    return c;
}

int tm_batch_layout_from_schema(struct tm_batch *b, const struct tm_schema *s)
{
    for (size_t i = 0; i < s->nfields; i++) {
        const struct tm_field *f = &s->fields[i];
        if (!tm_batch_add_col(b, f->id, f->type, tm_field_width(f), f->nullable))
            return TM_EINVAL;
    }
    if (s->dynamic && !tm_batch_add_col(b, TM_META_FIELD_ID, TM_T_JSON, 0, false))
        return TM_EINVAL;
    return 0;
}

struct tm_col *tm_batch_col(const struct tm_batch *b, int64_t field_id)
{
    for (uint32_t i = 0; i < b->ncols; i++)
        if (b->cols[i].field_id == field_id)
            return (struct tm_col *)&b->cols[i];
    return NULL;
}

static int push_end(struct tm_col *c)
{
    uint64_t end = c->data.len;
    return tm_buf_append(&c->ends, &end, sizeof end);
}

int tm_col_push(struct tm_col *c, const void *p, size_t len)
{
    int rc = tm_buf_append(&c->data, p, len);
    if (!rc && c->width == 0)
        rc = push_end(c);
    if (!rc && c->nullable)
        rc = tm_buf_append(&c->valid, "\1", 1);
    return rc;
}

int tm_col_push_null(struct tm_col *c)
{
    static const uint8_t zeros[64];
    int rc = 0;
    for (uint32_t left = c->width; left && !rc;) {
        uint32_t n = left < sizeof zeros ? left : (uint32_t)sizeof zeros;
        rc = tm_buf_append(&c->data, zeros, n);
        left -= n;
    }
    if (!rc && c->width == 0)
        rc = push_end(c);
    if (!rc)
        rc = tm_buf_append(&c->valid, "\0", 1);
    return rc;
}

bool tm_col_is_null(const struct tm_col *c, uint32_t i)
{
    return c->nullable && c->valid.data[i] == 0;
}

const uint8_t *tm_col_value(const struct tm_col *c, uint32_t i, size_t *len_out)
{
    if (c->width) {
        *len_out = c->width;
        return c->data.data + (size_t)i * c->width;
    }
    /* memcpy: a view's offsets sit anywhere in its message (tm_batch_view) */
    uint64_t start = 0, end;
    if (i)
        memcpy(&start, c->ends.data + (size_t)(i - 1) * 8, 8);
    memcpy(&end, c->ends.data + (size_t)i * 8, 8);
    *len_out = (size_t)(end - start);
    return c->data.data ? c->data.data + start : (const uint8_t *)"";
}

int64_t tm_col_int64(const struct tm_col *c, uint32_t i)
{
    int64_t v;
    memcpy(&v, c->data.data + (size_t)i * 8, 8);
    return v;
}

int tm_batch_clone_layout(struct tm_batch *dst, const struct tm_batch *src)
{
    for (uint32_t i = 0; i < src->ncols; i++) {
        const struct tm_col *c = &src->cols[i];
        if (!tm_batch_add_col(dst, c->field_id, c->type, c->width, c->nullable))
            return TM_EINVAL;
    }
    return 0;
}

void tm_batch_set_large(struct tm_batch *b)
{
    for (uint32_t i = 0; i < b->ncols; i++) {
        tm_buf_set_large(&b->cols[i].data);
        tm_buf_set_large(&b->cols[i].ends);
        tm_buf_set_large(&b->cols[i].valid);
    }
}

static int col_append_rows(struct tm_col *d, const struct tm_col *s, uint32_t from, uint32_t n)
{
    if (d->width != s->width || (s->nullable && !d->nullable))
        return TM_EINVAL;
    int rc = 0;
    if (s->width) {
        rc = tm_buf_append(&d->data, s->data.data + (size_t)from * s->width, (size_t)n * s->width);
    } else {
        for (uint32_t i = from; i < from + n && !rc; i++) {
            size_t len;
            const uint8_t *p = tm_col_value(s, i, &len);
            rc = tm_buf_append(&d->data, p, len);
            if (!rc)
                rc = push_end(d);
        }
    }
    if (!rc && d->nullable && s->nullable)
        rc = tm_buf_append(&d->valid, s->valid.data + from, n);
    else if (!rc && d->nullable)
        for (uint32_t i = 0; i < n && !rc; i++)
            rc = tm_buf_append(&d->valid, "\1", 1);
    return rc;
}

/* Whether every column of dst can take rows of src; checked before any
 * column is appended to, so a refused append leaves dst as it was. */
static bool layout_fits(const struct tm_batch *dst, const struct tm_batch *src)
{
    for (uint32_t i = 0; i < dst->ncols; i++) {
        const struct tm_col *d = &dst->cols[i];
        const struct tm_col *s = tm_batch_col(src, d->field_id);
        if (s ? d->width != s->width || (s->nullable && !d->nullable) : !d->nullable)
            return false;
    }
    return true;
}

int tm_batch_append_rows(struct tm_batch *dst, const struct tm_batch *src, uint32_t from,
                         uint32_t n)
{
    /* written so that from + n cannot wrap around */
    if (from > src->nrows || n > src->nrows - from || !layout_fits(dst, src))
        return TM_EINVAL;
    for (uint32_t i = 0; i < dst->ncols; i++) {
        struct tm_col *d = &dst->cols[i];
        const struct tm_col *s = tm_batch_col(src, d->field_id);
        int rc;
        if (s) {
            rc = col_append_rows(d, s, from, n);
        } else {
            rc = d->nullable ? 0 : TM_EINVAL;
            for (uint32_t k = 0; k < n && !rc; k++)
                rc = tm_col_push_null(d);
        }
        if (rc)
            return rc;
    }
    dst->nrows += n;
    return 0;
}

/* ---- codec ---- */

static void bin_or_nil(struct tm_mpw *w, const struct tm_buf *b, bool present)
{
    if (present)
        tm_mpw_bin(w, b->data ? (const void *)b->data : "", b->len);
    else
        tm_mpw_nil(w);
}

void tm_batch_encode(struct tm_mpw *w, const struct tm_batch *b)
{
    tm_mpw_map(w, 2);
    tm_mpw_cstr(w, "n"), tm_mpw_uint(w, b->nrows);
    tm_mpw_cstr(w, "c"), tm_mpw_array(w, b->ncols);
    for (uint32_t i = 0; i < b->ncols; i++) {
        const struct tm_col *c = &b->cols[i];
        tm_mpw_array(w, 7);
        tm_mpw_int(w, c->field_id);
        tm_mpw_uint(w, (uint64_t)c->type);
        tm_mpw_uint(w, c->width);
        tm_mpw_bool(w, c->nullable);
        bin_or_nil(w, &c->valid, c->nullable);
        bin_or_nil(w, &c->data, true);
        bin_or_nil(w, &c->ends, c->width == 0);
    }
}

/* Whether a column's width is the one its type implies (any non-zero width
 * for dense vectors): readers such as tm_col_int64 rely on it. */
static bool width_fits(uint64_t type, uint64_t width)
{
    switch (type) {
    case TM_T_BOOL:
    case TM_T_INT8:
        return width == 1;
    case TM_T_INT16:
        return width == 2;
    case TM_T_INT32:
    case TM_T_FLOAT:
        return width == 4;
    case TM_T_INT64:
    case TM_T_DOUBLE:
        return width == 8;
    case TM_T_VARCHAR:
    case TM_T_ARRAY:
    case TM_T_JSON:
    case TM_T_SPARSE_VECTOR:
        return width == 0;
    case TM_T_BINARY_VECTOR:
    case TM_T_FLOAT_VECTOR:
    case TM_T_FLOAT16_VECTOR:
    case TM_T_BFLOAT16_VECTOR:
    case TM_T_INT8_VECTOR:
        return width > 0;
    default:
        return false;
    }
}

/* Checks that variable-width end offsets rise monotonically to the data size. */
static bool ends_valid(const uint8_t *ends, uint32_t nrows, uint32_t data_len)
{
    uint64_t prev = 0, e = 0;
    for (uint32_t i = 0; i < nrows; i++) {
        memcpy(&e, ends + (size_t)i * 8, 8);
        if (e < prev || e > data_len)
            return false;
        prev = e;
    }
    return e == data_len;
}

/* The column's bytes, copied or (borrow) referred to in place. */
static int col_fill(struct tm_buf *b, const uint8_t *p, uint32_t len, bool borrow)
{
    if (!borrow)
        return tm_buf_append(b, p, len);
    tm_buf_borrow(b, p, len);
    return 0;
}

static int col_decode(struct tm_mpr *r, struct tm_batch *dst, uint32_t nrows, bool borrow)
{
    uint32_t n, vlen = 0, dlen, elen = 0;
    int64_t fid;
    uint64_t type, width;
    bool nullable;
    const uint8_t *valid = NULL, *data, *ends = NULL;
    if (tm_mpr_array(r, &n) || n != 7)
        return r->err ? r->err : TM_ECORRUPT;
    tm_mpr_int(r, &fid), tm_mpr_uint(r, &type), tm_mpr_uint(r, &width), tm_mpr_bool(r, &nullable);
    if (!tm_mpr_nil(r))
        tm_mpr_bin(r, &valid, &vlen);
    tm_mpr_bin(r, &data, &dlen);
    if (!tm_mpr_nil(r))
        tm_mpr_bin(r, &ends, &elen);
    if (r->err)
        return r->err;
    if (width > UINT32_MAX || !width_fits(type, width) || (nullable != (valid != NULL)) ||
        (valid && vlen != nrows) || (width && (uint64_t)dlen != width * nrows) ||
        (!width && (!ends || elen != (uint64_t)nrows * 8 || !ends_valid(ends, nrows, dlen))))
        return TM_ECORRUPT;
    struct tm_col *c = tm_batch_add_col(dst, fid, (enum tm_dtype)type, (uint32_t)width, nullable);
    if (!c)
        return TM_ECORRUPT;
    int rc = col_fill(&c->data, data, dlen, borrow);
    if (!rc && ends)
        rc = col_fill(&c->ends, ends, elen, borrow);
    if (!rc && valid)
        rc = col_fill(&c->valid, valid, vlen, borrow);
    return rc;
}

static int batch_decode(struct tm_mpr *r, struct tm_batch *dst, bool borrow)
{
    uint32_t n, kn, ncols = 0;
    const char *k;
    uint64_t nrows = UINT64_MAX;
    if (tm_mpr_map(r, &n))
        return r->err;
    int rc = 0;
    for (uint32_t i = 0; i < n && !rc; i++) {
        if ((rc = tm_mpr_str(r, &k, &kn)))
            break;
        if (kn == 1 && k[0] == 'n' && nrows == UINT64_MAX) {
            rc = tm_mpr_uint(r, &nrows);
        } else if (kn == 1 && k[0] == 'c' && nrows <= UINT32_MAX) {
            rc = tm_mpr_array(r, &ncols);
            for (uint32_t j = 0; j < ncols && !rc; j++)
                rc = col_decode(r, dst, (uint32_t)nrows, borrow);
        } else {
            /* "c" before "n", or a second "n" the columns were not checked against */
            rc = kn == 1 && (k[0] == 'c' || k[0] == 'n') ? TM_ECORRUPT : tm_mpr_skip(r);
        }
    }
    if (!rc && nrows > UINT32_MAX)
        rc = TM_ECORRUPT;
    if (rc) {
        tm_batch_free(dst);
        return rc;
    }
    dst->nrows = (uint32_t)nrows;
    return 0;
}

int tm_batch_decode(struct tm_mpr *r, struct tm_batch *dst)
{
    return batch_decode(r, dst, false);
}

int tm_batch_view(struct tm_mpr *r, struct tm_batch *dst)
{
    return batch_decode(r, dst, true);
}
