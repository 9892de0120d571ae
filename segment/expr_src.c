/* Filter expressions: reading one value per row from a column reference
 * (scalar columns, JSON paths, Array elements and lengths), and the general
 * row-at-a-time leaf evaluator used where no typed kernel applies.
 *
 * JSON documents are parsed at most once per evaluation and column: the
 * first leaf that reads a row parses it into the evaluation's cache, later
 * leaves on the same column reuse the tree.
 */
#include <stdlib.h>
#include <string.h>

#include "expr_int.h"

struct ex_jcache {
    int64_t fid;
    json_t **docs;
    uint8_t *done;
};

static struct ex_jcache *jcache_get(struct ex_ctx *c, int64_t fid)
{
    for (size_t k = 0; k < c->njc; k++)
        if (c->jc[k].fid == fid)
            return &c->jc[k];
    if (c->njc == c->jcap) {
        size_t cap = c->jcap ? 2 * c->jcap : 4;
        struct ex_jcache *g = realloc(c->jc, cap * sizeof *g);
        if (!g)
            return NULL;
        c->jc = g, c->jcap = cap;
    }
    struct ex_jcache *j = &c->jc[c->njc];
    j->fid = fid;
    j->docs = calloc(c->n ? c->n : 1, sizeof *j->docs);
    j->done = calloc(c->n ? c->n : 1, 1);
    if (!j->docs || !j->done) {
        free(j->docs), free(j->done);
        return NULL;
    }
    c->njc++;
    return j;
}

void ex_ctx_free(struct ex_ctx *c)
{
    for (size_t k = 0; k < c->njc; k++) {
        for (uint32_t i = 0; i < c->n; i++)
            json_decref(c->jc[k].docs[i]);
        free(c->jc[k].docs);
        free(c->jc[k].done);
    }
    free(c->jc);
    free(c->scratch);
}

void ex_src_open(struct ex_ctx *c, const struct ex_ref *r, struct ex_src *src)
{
    src->c = c;
    src->r = r;
    src->col = tm_batch_col(c->b, r->fid);
    src->jidx = 0;
    if (src->col && r->k == REF_JSON) {
        struct ex_jcache *j = jcache_get(c, r->fid);
        if (!j)
            c->err = TM_ENOMEM;
        src->jidx = j ? (size_t)(j - c->jc) + 1 : 0;
    }
}

static json_t *src_doc(struct ex_src *src, uint32_t k)
{
    struct ex_jcache *j = &src->c->jc[src->jidx - 1];
    uint32_t row = src->c->from + k;
    if (!j->done[k]) {
        j->done[k] = 1;
        if (!tm_col_is_null(src->col, row)) {
            size_t len;
            const uint8_t *p = tm_col_value(src->col, row, &len);
            j->docs[k] = json_loadb((const char *)p, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        }
    }
    return j->docs[k];
}

/* Follows a path: keys index objects; an all-digit key also indexes an
 * array, as a JSON pointer would. */
static json_t *json_walk(json_t *v, const char *const *path, size_t npath)
{
    for (size_t k = 0; k < npath && v; k++) {
        const char *key = path[k];
        if (json_is_object(v)) {
            v = json_object_get(v, key);
        } else if (json_is_array(v) && key[0] >= '0' && key[0] <= '9') {
            char *end;
            unsigned long long idx = strtoull(key, &end, 10);
            v = *end ? NULL : json_array_get(v, (size_t)idx);
        } else {
            v = NULL;
        }
    }
    return v;
}

static void json_to_val(const json_t *v, struct ex_val *out)
{
    memset(out, 0, sizeof *out);
    switch (json_typeof(v)) {
    case JSON_INTEGER:
        out->k = EV_INT, out->i = json_integer_value(v);
        break;
    case JSON_REAL:
        out->k = EV_FLOAT, out->d = json_real_value(v);
        break;
    case JSON_STRING:
        out->k = EV_STR, out->s = json_string_value(v), out->len = json_string_length(v);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        out->k = EV_BOOL, out->b = json_is_true(v);
        break;
    case JSON_NULL:
        out->k = EV_NULL;
        break;
    default:
        out->k = EV_OTHER;
    }
}

static void fixed_value(const struct tm_col *col, enum tm_dtype t, uint32_t row, struct ex_val *out)
{
    const uint8_t *p = col->data.data + (size_t)row * col->width;
    int8_t i8;
    int16_t i16;
    int32_t i32;
    float f;
    out->k = EV_INT;
    switch (t) {
    case TM_T_BOOL:
        out->k = EV_BOOL, out->b = *p != 0;
        break;
    case TM_T_INT8:
        memcpy(&i8, p, 1), out->i = i8;
        break;
    case TM_T_INT16:
        memcpy(&i16, p, 2), out->i = i16;
        break;
    case TM_T_INT32:
        memcpy(&i32, p, 4), out->i = i32;
        break;
    case TM_T_INT64:
        memcpy(&out->i, p, 8);
        break;
    case TM_T_FLOAT:
        memcpy(&f, p, 4), out->k = EV_FLOAT, out->d = f;
        break;
    case TM_T_DOUBLE:
        memcpy(&out->d, p, 8), out->k = EV_FLOAT;
        break;
    default:
        out->k = EV_OTHER;
    }
}

static void mp_to_val(struct tm_mpr *r, struct ex_val *out)
{
    memset(out, 0, sizeof *out);
    switch (tm_mpr_peek(r)) {
    case TM_MP_BOOL:
        out->k = tm_mpr_bool(r, &out->b) ? EV_NULL : EV_BOOL;
        break;
    case TM_MP_INT:
    case TM_MP_UINT:
        out->k = tm_mpr_int(r, &out->i) ? EV_NULL : EV_INT;
        break;
    case TM_MP_FLOAT:
        out->k = tm_mpr_double(r, &out->d) ? EV_NULL : EV_FLOAT;
        break;
    case TM_MP_STR: {
        uint32_t len = 0;
        out->k = tm_mpr_str(r, &out->s, &len) ? EV_NULL : EV_STR;
        out->len = len;
        break;
    }
    default:
        out->k = tm_mpr_skip(r) ? EV_NULL : EV_OTHER;
    }
}

/* Opens the msgpack array of row `row`; false when it is null or malformed. */
static bool array_open(const struct tm_col *col, uint32_t row, struct tm_mpr *r, uint32_t *n)
{
    size_t len;
    if (tm_col_is_null(col, row))
        return false;
    const uint8_t *p = tm_col_value(col, row, &len);
    tm_mpr_init(r, p, len);
    return tm_mpr_array(r, n) == 0;
}

static void elem_value(const struct ex_src *src, uint32_t row, struct ex_val *out)
{
    struct tm_mpr r;
    uint32_t n;
    out->k = EV_NULL;
    if (!array_open(src->col, row, &r, &n) || src->r->index >= n)
        return;
    for (int64_t k = 0; k < src->r->index; k++)
        if (tm_mpr_skip(&r))
            return;
    mp_to_val(&r, out);
}

static void json_value(struct ex_src *src, uint32_t k, struct ex_val *out)
{
    json_t *v = json_walk(src_doc(src, k), src->r->path, src->r->npath);
    if (src->r->length) {
        memset(out, 0, sizeof *out);
        out->k = json_is_array(v) ? EV_INT : EV_NULL;
        out->i = (int64_t)json_array_size(v);
        return;
    }
    if (!v)
        out->k = EV_NULL;
    else
        json_to_val(v, out);
}

static void col_value(const struct ex_src *src, uint32_t row, struct ex_val *out)
{
    const struct tm_col *col = src->col;
    enum tm_dtype t = src->r->type;
    if (t == TM_T_VARCHAR) {
        out->k = EV_STR;
        out->s = (const char *)tm_col_value(col, row, &out->len);
    } else if (t == TM_T_ARRAY) {
        struct tm_mpr r;
        uint32_t n = 0;
        bool ok = array_open(col, row, &r, &n);
        out->k = !ok ? EV_NULL : src->r->length ? EV_INT : EV_OTHER;
        out->i = n;
    } else if (col->width) {
        fixed_value(col, t, row, out);
    } else {
        out->k = EV_OTHER;
    }
}

void ex_src_value(struct ex_src *src, uint32_t k, struct ex_val *out)
{
    uint32_t row = src->c->from + k;
    memset(out, 0, sizeof *out);
    if (!src->col || (src->r->k == REF_JSON && !src->jidx) || tm_col_is_null(src->col, row))
        out->k = EV_NULL;
    else if (src->r->k == REF_JSON)
        json_value(src, k, out);
    else if (src->r->k == REF_ELEM)
        elem_value(src, row, out);
    else
        col_value(src, row, out);
}

static struct ex_val *scratch(struct ex_ctx *c, size_t n)
{
    if (n > c->scap) {
        struct ex_val *g = realloc(c->scratch, n * sizeof *g);
        if (!g) {
            c->err = TM_ENOMEM;
            return NULL;
        }
        c->scratch = g, c->scap = n;
    }
    return c->scratch;
}

static bool json_elems(struct ex_src *src, uint32_t k, const struct ex_val **items, size_t *n)
{
    json_t *v = json_walk(src_doc(src, k), src->r->path, src->r->npath);
    if (!json_is_array(v))
        return false;
    *n = json_array_size(v);
    struct ex_val *out = scratch(src->c, *n + 1);
    if (!out)
        return false;
    for (size_t i = 0; i < *n; i++)
        json_to_val(json_array_get(v, i), &out[i]);
    *items = out;
    return true;
}

bool ex_src_elems(struct ex_src *src, uint32_t k, const struct ex_val **items, size_t *n)
{
    uint32_t row = src->c->from + k, cnt;
    struct tm_mpr r;
    if (!src->col || tm_col_is_null(src->col, row))
        return false;
    if (src->r->k == REF_JSON)
        return src->jidx && json_elems(src, k, items, n);
    if (src->r->type != TM_T_ARRAY || !array_open(src->col, row, &r, &cnt))
        return false;
    struct ex_val *out = scratch(src->c, (size_t)cnt + 1);
    if (!out)
        return false;
    for (uint32_t i = 0; i < cnt; i++)
        mp_to_val(&r, &out[i]);
    *items = out;
    *n = cnt;
    return true;
}

/* ---- the general leaf ---- */

static bool elems_have(const struct ex_val *items, size_t n, const struct ex_val *v)
{
    for (size_t k = 0; k < n; k++)
        if (ex_val_cmp(&items[k], v) == 0)
            return true;
    return false;
}

static int contains_row(struct ex_src *src, const struct ex_node *e, uint32_t k)
{
    const struct ex_val *items;
    size_t n = 0;
    if (!ex_src_elems(src, k, &items, &n))
        return -1;
    if (e->ck == CT_ONE)
        return elems_have(items, n, &e->v);
    for (size_t j = 0; j < e->v.n; j++) {
        bool has = elems_have(items, n, &e->v.items[j]);
        if (has != (e->ck == CT_ALL))
            return has;
    }
    return e->ck == CT_ALL;
}

static int range_row(const struct ex_node *e, const struct ex_val *v)
{
    int lo = ex_val_cmp(v, &e->v), hi = ex_val_cmp(v, &e->hi);
    if (lo == EX_INCOMPARABLE || hi == EX_INCOMPARABLE)
        return -1;
    return (e->lo_incl ? lo >= 0 : lo > 0) && (e->hi_incl ? hi <= 0 : hi < 0);
}

/* 1 true, 0 false, -1 unknown for row k. */
static int leaf_row(const struct ex_node *e, struct ex_src *a, struct ex_src *b, uint32_t k)
{
    struct ex_val v, w;
    if (e->k == EX_CONTAINS)
        return contains_row(a, e, k);
    ex_src_value(a, k, &v);
    switch (e->k) {
    case EX_ISNULL:
        return v.k == EV_NULL;
    case EX_CMP:
        return ex_op_holds(e->op, ex_val_cmp(&v, &e->v));
    case EX_RANGE:
        return range_row(e, &v);
    case EX_IN:
        return ex_set_has(e->set, &v);
    case EX_LIKE:
        return v.k == EV_STR ? ex_like_match(e->like, v.s, v.len) : -1;
    case EX_ARITH:
        w = ex_arith_apply(e->aop, &v, &e->operand);
        return ex_op_holds(e->op, ex_val_cmp(&w, &e->v));
    case EX_FCMP:
        ex_src_value(b, k, &w);
        return ex_op_holds(e->op, ex_val_cmp(&v, &w));
    default:
        return -1;
    }
}

void ex_leaf_generic(struct ex_ctx *c, const struct ex_node *e, uint64_t *t, uint64_t *kn)
{
    struct ex_src a, b;
    ex_src_open(c, &e->ref, &a);
    if (e->k == EX_FCMP)
        ex_src_open(c, &e->ref2, &b);
    for (uint32_t k = 0; k < c->n && !c->err; k++) {
        int r = leaf_row(e, &a, &b, k);
        uint64_t bit = (uint64_t)1 << (k & 63);
        if (r >= 0)
            kn[k >> 6] |= bit;
        if (r > 0)
            t[k >> 6] |= bit;
    }
}
