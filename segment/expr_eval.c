/* Filter expressions: evaluation over a batch, a column at a time.
 *
 * Every node fills two bitsets over the n rows, TRUE and KNOWN (see expr.h
 * for the three-valued rules). Leaves on fixed-width scalar columns and on
 * VarChar columns run typed loops that write the TRUE bits straight from the
 * column's array; KNOWN then comes from the validity bytes. Every other leaf
 * (JSON paths, Array elements, arithmetic, contains) reads one value per row
 * through expr_src.c.
 */
#include <stdlib.h>
#include <string.h>

#include "expr_int.h"

/* ---- typed kernels for fixed-width columns ---- */

#define SET_LOOP(EXPR)                                                                             \
    for (uint32_t k = 0; k < n; k++)                                                               \
    t[k >> 6] |= (uint64_t)(EXPR) << (k & 63)

/* One compare, range and in kernel per column type. VT is the type the
 * comparison runs in: int64 for integers and bools, double for floats (a
 * Float column's constants were rounded to float at parse time). */
#define DEF_KERNELS(NAME, CT, VT, HAS)                                                             \
    static void NAME##_cmp(const void *data, uint32_t n, enum ex_op op, VT x, uint64_t *t)         \
    {                                                                                              \
        const CT *p = data;                                                                        \
        switch (op) {                                                                              \
        case OP_EQ:                                                                                \
            SET_LOOP((VT)p[k] == x);                                                               \
            break;                                                                                 \
        case OP_NE:                                                                                \
            SET_LOOP((VT)p[k] != x);                                                               \
            break;                                                                                 \
        case OP_LT:                                                                                \
            SET_LOOP((VT)p[k] < x);                                                                \
            break;                                                                                 \
        case OP_LE:                                                                                \
            SET_LOOP((VT)p[k] <= x);                                                               \
            break;                                                                                 \
        case OP_GT:                                                                                \
            SET_LOOP((VT)p[k] > x);                                                                \
            break;                                                                                 \
        case OP_GE:                                                                                \
            SET_LOOP((VT)p[k] >= x);                                                               \
            break;                                                                                 \
        }                                                                                          \
    }                                                                                              \
    static void NAME##_range(const void *data, uint32_t n, VT lo, VT hi, int incl, uint64_t *t)    \
    {                                                                                              \
        const CT *p = data;                                                                        \
        switch (incl) {                                                                            \
        case 0:                                                                                    \
            SET_LOOP((VT)p[k] > lo && (VT)p[k] < hi);                                              \
            break;                                                                                 \
        case 1:                                                                                    \
            SET_LOOP((VT)p[k] >= lo && (VT)p[k] < hi);                                             \
            break;                                                                                 \
        case 2:                                                                                    \
            SET_LOOP((VT)p[k] > lo && (VT)p[k] <= hi);                                             \
            break;                                                                                 \
        default:                                                                                   \
            SET_LOOP((VT)p[k] >= lo && (VT)p[k] <= hi);                                            \
        }                                                                                          \
    }                                                                                              \
    static void NAME##_in(const void *data, uint32_t n, const struct ex_set *s, uint64_t *t)       \
    {                                                                                              \
        const CT *p = data;                                                                        \
        SET_LOOP(HAS(s, (VT)p[k]));                                                                \
    }

#define HAS_BOOL(s, x) ((x) ? (s)->has_true : (s)->has_false)

DEF_KERNELS(k_bool, uint8_t, int64_t, HAS_BOOL)
DEF_KERNELS(k_i8, int8_t, int64_t, ex_set_has_int)
DEF_KERNELS(k_i16, int16_t, int64_t, ex_set_has_int)
DEF_KERNELS(k_i32, int32_t, int64_t, ex_set_has_int)
DEF_KERNELS(k_i64, int64_t, int64_t, ex_set_has_int)
DEF_KERNELS(k_f32, float, double, ex_set_has_dbl)
DEF_KERNELS(k_f64, double, double, ex_set_has_dbl)

struct kernels_i {
    void (*cmp)(const void *, uint32_t, enum ex_op, int64_t, uint64_t *);
    void (*range)(const void *, uint32_t, int64_t, int64_t, int, uint64_t *);
    void (*in)(const void *, uint32_t, const struct ex_set *, uint64_t *);
};

struct kernels_d {
    void (*cmp)(const void *, uint32_t, enum ex_op, double, uint64_t *);
    void (*range)(const void *, uint32_t, double, double, int, uint64_t *);
    void (*in)(const void *, uint32_t, const struct ex_set *, uint64_t *);
};

static const struct kernels_i *kernels_int(enum tm_dtype t)
{
    static const struct kernels_i kb = {k_bool_cmp, k_bool_range, k_bool_in},
                                  k8 = {k_i8_cmp, k_i8_range, k_i8_in},
                                  k16 = {k_i16_cmp, k_i16_range, k_i16_in},
                                  k32 = {k_i32_cmp, k_i32_range, k_i32_in},
                                  k64 = {k_i64_cmp, k_i64_range, k_i64_in};
    switch (t) {
    case TM_T_BOOL:
        return &kb;
    case TM_T_INT8:
        return &k8;
    case TM_T_INT16:
        return &k16;
    case TM_T_INT32:
        return &k32;
    case TM_T_INT64:
        return &k64;
    default:
        return NULL;
    }
}

static int64_t const_int(const struct ex_val *v)
{
    return v->k == EV_BOOL ? v->b : v->i;
}

static int range_incl(const struct ex_node *e)
{
    return (e->lo_incl ? 1 : 0) | (e->hi_incl ? 2 : 0);
}

/* TRUE bits of a compare/range/in leaf on a fixed-width column; false when
 * no kernel fits. */
static bool leaf_fixed(const struct ex_ctx *c, const struct ex_node *e, const struct tm_col *col,
                       uint64_t *t)
{
    const void *p = col->data.data + (size_t)c->from * col->width;
    const struct kernels_i *ki = kernels_int(e->ref.type);
    static const struct kernels_d kf = {k_f32_cmp, k_f32_range, k_f32_in},
                                  kd = {k_f64_cmp, k_f64_range, k_f64_in};
    const struct kernels_d *kdd = e->ref.type == TM_T_FLOAT    ? &kf
                                  : e->ref.type == TM_T_DOUBLE ? &kd
                                                               : NULL;
    if (e->k == EX_IN && (ki || kdd))
        ki ? ki->in(p, c->n, e->set, t) : kdd->in(p, c->n, e->set, t);
    else if (e->k == EX_CMP && ki)
        ki->cmp(p, c->n, e->op, const_int(&e->v), t);
    else if (e->k == EX_CMP && kdd)
        kdd->cmp(p, c->n, e->op, e->v.d, t);
    else if (e->k == EX_RANGE && ki)
        ki->range(p, c->n, const_int(&e->v), const_int(&e->hi), range_incl(e), t);
    else if (e->k == EX_RANGE && kdd)
        kdd->range(p, c->n, e->v.d, e->hi.d, range_incl(e), t);
    else
        return false;
    return true;
}

/* TRUE bits of a compare/in/like leaf on a VarChar column. */
static bool leaf_varchar(const struct ex_ctx *c, const struct ex_node *e, const struct tm_col *col,
                         uint64_t *t)
{
    if (e->k != EX_CMP && e->k != EX_IN && e->k != EX_LIKE)
        return false;
    const uint64_t *ends = (const uint64_t *)col->ends.data;
    const char *base = col->data.data ? (const char *)col->data.data : "";
    uint32_t n = c->n;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t row = c->from + k;
        uint64_t st = row ? ends[row - 1] : 0;
        struct ex_val v = {.k = EV_STR, .s = base + st, .len = (size_t)(ends[row] - st)};
        bool r;
        if (e->k == EX_CMP)
            r = ex_op_holds(e->op, ex_val_cmp(&v, &e->v)) == 1;
        else if (e->k == EX_IN)
            r = ex_set_has_str(e->set, v.s, v.len);
        else
            r = ex_like_match(e->like, v.s, v.len);
        t[k >> 6] |= (uint64_t)r << (k & 63);
    }
    return true;
}

static void known_from_validity(const struct ex_ctx *c, const struct tm_col *col, uint64_t *kn)
{
    if (!col->nullable) {
        memset(kn, 0xff, c->words * 8);
        return;
    }
    const uint8_t *valid = col->valid.data + c->from;
    for (uint32_t k = 0; k < c->n; k++)
        kn[k >> 6] |= (uint64_t)(valid[k] != 0) << (k & 63);
}

static void eval_leaf(struct ex_ctx *c, const struct ex_node *e, uint64_t *t, uint64_t *kn)
{
    const struct tm_col *col = e->ref.k == REF_COL ? tm_batch_col(c->b, e->ref.fid) : NULL;
    bool done = false;
    if (col && e->ref.type == TM_T_VARCHAR)
        done = leaf_varchar(c, e, col, t);
    else if (col && col->width && !e->ref.length)
        done = leaf_fixed(c, e, col, t);
    if (!done) {
        ex_leaf_generic(c, e, t, kn);
        return;
    }
    known_from_validity(c, col, kn);
    for (size_t w = 0; w < c->words; w++)
        t[w] &= kn[w];
}

/* ---- connectives ---- */

static int eval_node(struct ex_ctx *c, const struct ex_node *e, uint64_t *t, uint64_t *kn);

static void combine(const struct ex_ctx *c, bool is_and, uint64_t *t, uint64_t *kn,
                    const uint64_t *t2, const uint64_t *k2)
{
    for (size_t w = 0; w < c->words; w++) {
        uint64_t f1 = kn[w] & ~t[w], f2 = k2[w] & ~t2[w];
        uint64_t tt = is_and ? t[w] & t2[w] : t[w] | t2[w];
        uint64_t ff = is_and ? f1 | f2 : f1 & f2;
        t[w] = tt;
        kn[w] = tt | ff;
    }
}

static int eval_logic(struct ex_ctx *c, const struct ex_node *e, uint64_t *t, uint64_t *kn)
{
    int rc = eval_node(c, e->kids, t, kn);
    if (rc || !e->kids->next)
        return rc;
    uint64_t *t2 = malloc(c->words * 16);
    if (!t2)
        return TM_ENOMEM;
    uint64_t *k2 = t2 + c->words;
    for (const struct ex_node *k = e->kids->next; k && !rc; k = k->next) {
        memset(t2, 0, c->words * 16);
        rc = eval_node(c, k, t2, k2);
        combine(c, e->k == EX_AND, t, kn, t2, k2);
    }
    free(t2);
    return rc;
}

/* Fills t and kn (zeroed by the caller). Recursion depth is bounded by the
 * parser's nesting limit (EX_MAX_DEPTH); and/or chains are flat lists. */
static int eval_node(struct ex_ctx *c, const struct ex_node *e, uint64_t *t, uint64_t *kn)
{
    int rc = 0;
    switch (e->k) {
    case EX_CONST:
        memset(kn, 0xff, c->words * 8);
        memset(t, e->cval ? 0xff : 0, c->words * 8);
        break;
    case EX_AND:
    case EX_OR:
        rc = eval_logic(c, e, t, kn);
        break;
    case EX_NOT:
        rc = eval_node(c, e->kids, t, kn);
        for (size_t w = 0; w < c->words; w++)
            t[w] = kn[w] & ~t[w];
        break;
    default:
        eval_leaf(c, e, t, kn);
    }
    return rc ? rc : c->err;
}

int tm_expr_eval(const struct tm_expr *e, const struct tm_batch *b, uint32_t from, uint32_t n,
                 uint64_t *bits)
{
    size_t words = ((size_t)n + 63) / 64;
    int rc = 0;
    if (!e || !e->root) {
        memset(bits, 0xff, words * 8);
    } else {
        struct ex_ctx c = {.b = b, .from = from, .n = n, .words = words};
        uint64_t *kn = calloc(words ? words : 1, 8);
        if (!kn)
            return TM_ENOMEM;
        memset(bits, 0, words * 8);
        rc = eval_node(&c, e->root, bits, kn);
        ex_ctx_free(&c);
        free(kn);
    }
    if (n % 64)
        bits[words - 1] &= ((uint64_t)1 << (n % 64)) - 1;
    return rc;
}

void tm_expr_free(struct tm_expr *e)
{
    if (!e)
        return;
    ex_arena_free(&e->ar);
    free(e);
}

size_t tm_expr_fields(const struct tm_expr *e, int64_t *ids, size_t cap)
{
    if (!e)
        return 0;
    for (size_t k = 0; k < e->nfids && k < cap; k++)
        ids[k] = e->fids[k];
    return e->nfids;
}
