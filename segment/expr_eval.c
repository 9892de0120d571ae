/* Filter expressions: evaluation over a batch, a column at a time.
 *
 * Every node fills two bitsets over the n rows, TRUE and KNOWN (see expr.h
 * for the three-valued rules). Leaves on fixed-width scalar columns and on
 * VarChar columns run typed loops that write the TRUE bits straight from the
 * column's array, 64 rows to a word; KNOWN then comes from the validity
 * bytes. Arithmetic on a numeric column runs 64 rows at a time through a
 * small buffer: widen, apply the operator, compare. Every other leaf (JSON
 * paths, Array elements, contains) reads one value per row through
 * expr_src.c.
 */
#include <stdlib.h>
#include <string.h>

#include "expr_int.h"

/* ---- typed kernels for fixed-width columns ---- */

/* Eight bytes of 0 or 1 (x, little-endian) as eight bits, bit i from byte
 * i: the multiply moves byte i's low bit to bit 56 + i, the shift brings
 * that byte down. */
static inline uint64_t pack8(uint64_t x)
{
    return (x * 0x0102040810204080ull) >> 56;
}

/* 64 bytes of 0 or 1 as a word, bit j from byte j. */
static inline uint64_t pack64(const uint8_t *r)
{
    uint64_t w = 0;
    for (unsigned k = 0; k < 64; k += 8) {
        uint64_t x;
        memcpy(&x, r + k, 8);
        w |= pack8(x) << k;
    }
    return w;
}

/* Builds each word of t from 64 evaluations of EXPR (which reads row k);
 * bits past n are zero. The results go to bytes first and are packed 64 at
 * a time: cheaper than shifting each one into place, and the word is
 * written once rather than read and written per row. */
#define WORD_LOOP(EXPR)                                                                            \
    for (uint32_t k0 = 0; k0 < n; k0 += 64) {                                                      \
        uint32_t m_ = n - k0 < 64 ? n - k0 : 64;                                                   \
        uint8_t r_[64];                                                                            \
        for (uint32_t j_ = 0; j_ < m_; j_++) {                                                     \
            uint32_t k = k0 + j_;                                                                  \
            r_[j_] = (uint8_t)(EXPR);                                                              \
        }                                                                                          \
        if (m_ < 64)                                                                               \
            memset(r_ + m_, 0, 64 - m_);                                                           \
        t[k0 >> 6] = pack64(r_);                                                                   \
    }

/* Row loops for the kernels below: EXPR tests X_, the row's value. The
 * vector form takes the 8-byte types two rows at a time with GCC/Clang
 * vector extensions (SSE2 or NEON, no per-ISA build); a comparison gives
 * all-ones lanes, whose sign bits become the row bits. */
#define ROWS_SCALAR(CT, VT, EXPR)                                                                  \
    do {                                                                                           \
        VT X_;                                                                                     \
        WORD_LOOP((X_ = (VT)p[k], (EXPR)));                                                        \
    } while (0)

typedef double ex_v2d __attribute__((vector_size(16)));
typedef int64_t ex_v2i __attribute__((vector_size(16)));

#define ROWS_VEC(CT, V, EXPR)                                                                      \
    for (uint32_t k0 = 0; k0 < n; k0 += 64) {                                                      \
        uint32_t m_ = n - k0 < 64 ? n - k0 : 64, j_ = 0;                                           \
        uint64_t w_ = 0;                                                                           \
        V X_;                                                                                      \
        for (; j_ + 2 <= m_; j_ += 2) {                                                            \
            memcpy(&X_, p + k0 + j_, sizeof X_);                                                   \
            ex_v2i c_ = (ex_v2i)(EXPR);                                                            \
            w_ |= ((uint64_t)c_[0] >> 63 | ((uint64_t)c_[1] >> 63) << 1) << j_;                    \
        }                                                                                          \
        if (j_ < m_) { /* the odd last row */                                                      \
            X_ = (V){p[k0 + j_], p[k0 + j_]};                                                      \
            ex_v2i c_ = (ex_v2i)(EXPR);                                                            \
            w_ |= ((uint64_t)c_[0] >> 63) << j_;                                                   \
        }                                                                                          \
        t[k0 >> 6] = w_;                                                                           \
    }

/* One compare, range and in kernel per column type. VT is the type the
 * comparison runs in: int64 for integers and bools, double for floats (a
 * Float column's constants were rounded to float at parse time); ROWS is
 * the loop, VX the type of X_ in it. */
#define DEF_KERNELS(NAME, CT, VT, HAS, ROWS, VX)                                                   \
    static void NAME##_cmp(const void *data, uint32_t n, enum ex_op op, VT x, uint64_t *t)         \
    {                                                                                              \
        const CT *p = data;                                                                        \
        switch (op) {                                                                              \
        case OP_EQ:                                                                                \
            ROWS(CT, VX, X_ == x);                                                                 \
            break;                                                                                 \
        case OP_NE:                                                                                \
            ROWS(CT, VX, X_ != x);                                                                 \
            break;                                                                                 \
        case OP_LT:                                                                                \
            ROWS(CT, VX, X_ < x);                                                                  \
            break;                                                                                 \
        case OP_LE:                                                                                \
            ROWS(CT, VX, X_ <= x);                                                                 \
            break;                                                                                 \
        case OP_GT:                                                                                \
            ROWS(CT, VX, X_ > x);                                                                  \
            break;                                                                                 \
        case OP_GE:                                                                                \
            ROWS(CT, VX, X_ >= x);                                                                 \
            break;                                                                                 \
        }                                                                                          \
    }                                                                                              \
    static void NAME##_range(const void *data, uint32_t n, VT lo, VT hi, int incl, uint64_t *t)    \
    {                                                                                              \
        const CT *p = data;                                                                        \
        switch (incl) {                                                                            \
        case 0:                                                                                    \
            ROWS(CT, VX, (X_ > lo) & (X_ < hi));                                                   \
            break;                                                                                 \
        case 1:                                                                                    \
            ROWS(CT, VX, (X_ >= lo) & (X_ < hi));                                                  \
            break;                                                                                 \
        case 2:                                                                                    \
            ROWS(CT, VX, (X_ > lo) & (X_ <= hi));                                                  \
            break;                                                                                 \
        default:                                                                                   \
            ROWS(CT, VX, (X_ >= lo) & (X_ <= hi));                                                 \
        }                                                                                          \
    }                                                                                              \
    static void NAME##_in(const void *data, uint32_t n, const struct ex_set *s, uint64_t *t)       \
    {                                                                                              \
        const CT *p = data;                                                                        \
        WORD_LOOP(HAS(s, (VT)p[k]));                                                               \
    }

#define HAS_BOOL(s, x) ((x) ? (s)->has_true : (s)->has_false)
/* Integer columns probe the integer members first; a list of an integer
 * column holds integers only (the parser cast them), so dbls is empty. */
#define HAS_INT(s, x) ((s)->ndbls ? ex_set_has_int(s, x) : ex_iset_has(&(s)->iset, x))

DEF_KERNELS(k_bool, uint8_t, int64_t, HAS_BOOL, ROWS_SCALAR, int64_t)
DEF_KERNELS(k_i8, int8_t, int64_t, HAS_INT, ROWS_SCALAR, int64_t)
DEF_KERNELS(k_i16, int16_t, int64_t, HAS_INT, ROWS_SCALAR, int64_t)
DEF_KERNELS(k_i32, int32_t, int64_t, HAS_INT, ROWS_SCALAR, int64_t)
DEF_KERNELS(k_i64, int64_t, int64_t, HAS_INT, ROWS_VEC, ex_v2i)
DEF_KERNELS(k_f32, float, double, ex_set_has_dbl, ROWS_SCALAR, double)
DEF_KERNELS(k_f64, double, double, ex_set_has_dbl, ROWS_VEC, ex_v2d)

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

static const struct kernels_d *kernels_dbl(enum tm_dtype t)
{
    static const struct kernels_d kf = {k_f32_cmp, k_f32_range, k_f32_in},
                                  kd = {k_f64_cmp, k_f64_range, k_f64_in};
    return t == TM_T_FLOAT ? &kf : t == TM_T_DOUBLE ? &kd : NULL;
}

static int64_t const_int(const struct ex_val *v)
{
    return v->k == EV_BOOL ? v->b : v->i;
}

static int range_incl(const struct ex_node *e)
{
    return (e->lo_incl ? 1 : 0) | (e->hi_incl ? 2 : 0);
}

/* ---- arithmetic on numeric columns ---- */

#define WIDEN(CT)                                                                                  \
    do {                                                                                           \
        const CT *p_ = (const CT *)data + k0;                                                      \
        for (uint32_t j = 0; j < m; j++)                                                           \
            x[j] = p_[j];                                                                          \
    } while (0)

/* Rows [k0, k0 + m) of an integer column as int64 (m <= 64). */
static void widen_int(const void *data, enum tm_dtype t, uint32_t k0, uint32_t m, int64_t *x)
{
    switch (t) {
    case TM_T_INT8:
        WIDEN(int8_t);
        break;
    case TM_T_INT16:
        WIDEN(int16_t);
        break;
    case TM_T_INT32:
        WIDEN(int32_t);
        break;
    default:
        WIDEN(int64_t);
    }
}

/* The same for Float and Double columns, as double. */
static void widen_dbl(const void *data, enum tm_dtype t, uint32_t k0, uint32_t m, double *x)
{
    if (t == TM_T_FLOAT)
        WIDEN(float);
    else
        WIDEN(double);
}

static void mul_int(const int64_t *in, int64_t *out, uint32_t m, uint64_t y)
{
    for (uint32_t j = 0; j < m; j++)
        out[j] = (int64_t)((uint64_t)in[j] * y);
}

/* out = in aop operand, with arith_int's semantics: +, -, * wrap in uint64,
 * / and % truncate; dividing by -1 negates with wrap-around and leaves a
 * remainder of 0 (a divisor of 0 never reaches a plan). */
static void apply_int(const struct ex_node *e, const int64_t *in, int64_t *out, uint32_t m)
{
    uint64_t y = (uint64_t)e->operand.i;
    const struct ex_sdiv *dv = &e->div;
    bool unit = e->operand.i == 1 || e->operand.i == -1; /* no magic number */
    switch (e->aop) {
    case AR_ADD:
        for (uint32_t j = 0; j < m; j++)
            out[j] = (int64_t)((uint64_t)in[j] + y);
        break;
    case AR_SUB:
        for (uint32_t j = 0; j < m; j++)
            out[j] = (int64_t)((uint64_t)in[j] - y);
        break;
    case AR_MUL:
        mul_int(in, out, m, y);
        break;
    case AR_DIV:
        if (unit)
            mul_int(in, out, m, y); /* x / 1 = x * 1, x / -1 = x * -1 */
        else
            for (uint32_t j = 0; j < m; j++)
                out[j] = ex_sdiv_quot(dv, in[j]);
        break;
    case AR_MOD: /* x - trunc(x / y) * y */
        if (unit)
            memset(out, 0, m * sizeof *out);
        else
            for (uint32_t j = 0; j < m; j++)
                out[j] = (int64_t)((uint64_t)in[j] - (uint64_t)ex_sdiv_quot(dv, in[j]) * y);
        break;
    }
}

/* (field aop operand) op v on an integer column, 64 rows at a time: widen
 * (Int64 rows are read in place), apply the operator, compare. */
static void arith_int_rows(const void *data, enum tm_dtype type, uint32_t n,
                           const struct ex_node *e, uint64_t *t)
{
    int64_t x[64];
    for (uint32_t k0 = 0; k0 < n; k0 += 64) {
        uint32_t m = n - k0 < 64 ? n - k0 : 64;
        if (type == TM_T_INT64) {
            apply_int(e, (const int64_t *)data + k0, x, m);
        } else {
            widen_int(data, type, k0, m, x);
            apply_int(e, x, x, m);
        }
        k_i64_cmp(x, m, e->op, e->v.i, t + k0 / 64);
    }
}

static void apply_dbl(enum ex_arith op, double y, const double *in, double *out, uint32_t m)
{
    switch (op) {
    case AR_ADD:
        for (uint32_t j = 0; j < m; j++)
            out[j] = in[j] + y;
        break;
    case AR_SUB:
        for (uint32_t j = 0; j < m; j++)
            out[j] = in[j] - y;
        break;
    case AR_MUL:
        for (uint32_t j = 0; j < m; j++)
            out[j] = in[j] * y;
        break;
    default: /* AR_DIV; arith_fits keeps AR_MOD away */
        for (uint32_t j = 0; j < m; j++)
            out[j] = in[j] / y;
    }
}

/* Float and Double columns compute in double as ex_arith_apply does (Double
 * rows are read in place); a NaN result, or a NaN constant, does not
 * compare, so those rows are UNKNOWN. */
static void arith_dbl_rows(const void *data, enum tm_dtype type, uint32_t n,
                           const struct ex_node *e, uint64_t *t, uint64_t *kn)
{
    double x[64], y = e->operand.k == EV_INT ? (double)e->operand.i : e->operand.d, v = e->v.d;
    uint64_t all = v != v ? ~(uint64_t)0 : 0;
    for (uint32_t k0 = 0; k0 < n; k0 += 64) {
        uint32_t m = n - k0 < 64 ? n - k0 : 64;
        uint8_t nan[64] = {0};
        if (type == TM_T_FLOAT) {
            widen_dbl(data, type, k0, m, x);
            apply_dbl(e->aop, y, x, x, m);
        } else {
            apply_dbl(e->aop, y, (const double *)data + k0, x, m);
        }
        k_f64_cmp(x, m, e->op, v, t + k0 / 64);
        for (uint32_t j = 0; j < m; j++)
            nan[j] = x[j] != x[j];
        kn[k0 / 64] &= ~(pack64(nan) | all);
    }
}

static bool is_int_col(enum tm_dtype t)
{
    return t == TM_T_INT8 || t == TM_T_INT16 || t == TM_T_INT32 || t == TM_T_INT64;
}

/* Whether arithmetic on this column has a typed loop: the plan shapes the
 * parser builds for integer and floating columns (anything else, such as a
 * float operand on an integer column, stays on the general path). */
static bool arith_fits(const struct ex_node *e)
{
    if (is_int_col(e->ref.type))
        return e->operand.k == EV_INT && e->v.k == EV_INT;
    return (e->ref.type == TM_T_FLOAT || e->ref.type == TM_T_DOUBLE) && e->aop != AR_MOD &&
           (e->operand.k == EV_INT || e->operand.k == EV_FLOAT) && e->v.k == EV_FLOAT;
}

/* ---- leaves on fixed-width columns ---- */

static bool fixed_fits(const struct ex_node *e)
{
    enum tm_dtype t = e->ref.type;
    if (e->k == EX_ARITH)
        return arith_fits(e);
    return (e->k == EX_CMP || e->k == EX_RANGE || e->k == EX_IN) &&
           (kernels_int(t) || kernels_dbl(t));
}

/* TRUE bits of a leaf fixed_fits accepted; clears KNOWN bits of rows whose
 * result is undefined. */
static void leaf_fixed(const struct ex_ctx *c, const struct ex_node *e, const struct tm_col *col,
                       uint64_t *t, uint64_t *kn)
{
    const void *p = col->data.data + (size_t)c->from * col->width;
    const struct kernels_i *ki = kernels_int(e->ref.type);
    const struct kernels_d *kd = kernels_dbl(e->ref.type);
    if (e->k == EX_ARITH && ki)
        arith_int_rows(p, e->ref.type, c->n, e, t);
    else if (e->k == EX_ARITH)
        arith_dbl_rows(p, e->ref.type, c->n, e, t, kn);
    else if (e->k == EX_IN)
        ki ? ki->in(p, c->n, e->set, t) : kd->in(p, c->n, e->set, t);
    else if (e->k == EX_CMP && ki)
        ki->cmp(p, c->n, e->op, const_int(&e->v), t);
    else if (e->k == EX_CMP)
        kd->cmp(p, c->n, e->op, e->v.d, t);
    else if (ki)
        ki->range(p, c->n, const_int(&e->v), const_int(&e->hi), range_incl(e), t);
    else
        kd->range(p, c->n, e->v.d, e->hi.d, range_incl(e), t);
}

/* ---- leaves on VarChar columns ---- */

/* The window's strings: row k is base[start(k), ends[k]), start(0) = s0 and
 * start(k) = ends[k - 1]; the column's buffer holds total bytes. */
struct strs {
    const uint64_t *ends;
    const char *base;
    uint64_t s0, total;
};

/* Like WORD_LOOP with row k's string as s and len, and avail = the bytes
 * readable from s to the end of the column's buffer (at least len). */
#define STR_LOOP(EXPR)                                                                             \
    do {                                                                                           \
        uint64_t st_ = v->s0;                                                                      \
        WORD_LOOP((s = v->base + st_, len = (size_t)(v->ends[k] - st_),                            \
                   avail = (size_t)(v->total - st_), st_ = v->ends[k], (EXPR)));                   \
    } while (0)

/* A literal's first 8 bytes as a little-endian word, so that a row's
 * leading bytes compare with one load and a mask rather than a memcmp call
 * (which is most of the cost of a short compare). keep: the bytes that must
 * be equal (not those under a `_`); wild: 0x40 in the bytes under a `_`;
 * be: the word byte-swapped, for ordering. Whole-word loads need 8 readable
 * bytes; a row near the buffer's end takes memcmp instead. */
struct word8 {
    const char *lit;
    size_t len;
    uint64_t w, keep, wild, be;
};

#define LITTLE_ENDIAN_WORDS (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)

static uint64_t load8(const char *s)
{
    uint64_t x;
    memcpy(&x, s, 8);
    return x;
}

static void word8_init(struct word8 *q, const char *lit, size_t len, const uint8_t *any)
{
    size_t n = len < 8 ? len : 8;
    uint8_t keep[8] = {0}, wild[8] = {0};
    for (size_t k = 0; k < n; k++)
        keep[k] = any && any[k] ? 0 : 0xff, wild[k] = any && any[k] ? 0x40 : 0;
    *q = (struct word8){.lit = lit, .len = len};
    if (n) /* lit may be NULL when empty */
        memcpy(&q->w, lit, n);
    memcpy(&q->keep, keep, 8), memcpy(&q->wild, wild, 8);
    q->w &= q->keep;
    q->be = __builtin_bswap64(q->w);
}

/* Whether s starts with the literal (len >= q->len is the caller's). */
static inline bool has_prefix(const struct word8 *q, const char *s, size_t avail)
{
    if (!LITTLE_ENDIAN_WORDS || avail < 8)
        return !memcmp(s, q->lit, q->len);
    return !((load8(s) ^ q->w) & q->keep) &&
           (q->len <= 8 || !memcmp(s + 8, q->lit + 8, q->len - 8));
}

/* Three-way comparison of s with the literal, as memcmp then length. */
static inline int cmp_lit(const struct word8 *q, const char *s, size_t len, size_t avail)
{
    size_t n = len < q->len ? len : q->len;
    if (!LITTLE_ENDIAN_WORDS || avail < 8 || n > 8) {
        int c = memcmp(s, q->lit, n);
        if (c)
            return c < 0 ? -1 : 1;
    } else if (n) {
        uint64_t m = ~(uint64_t)0 << (64 - 8 * n), a = __builtin_bswap64(load8(s)) & m;
        uint64_t b = q->be & m;
        if (a != b)
            return a < b ? -1 : 1;
    }
    return (len > q->len) - (len < q->len);
}

/* abc or abc% with `_` in the literal (len >= q->len is the caller's): when
 * no `_` falls on a UTF-8 lead byte every token takes one byte and the
 * masked word decides; otherwise ex_like_match walks the pattern. */
static inline bool like_wild(const struct ex_like *l, const struct word8 *q, const char *s,
                             size_t len, size_t avail)
{
    if (!LITTLE_ENDIAN_WORDS || avail < 8 || q->len > 8)
        return ex_like_match(l, s, len);
    uint64_t x = load8(s);
    if ((x >> 1) & x & q->wild) /* bits 7 and 6 set: a byte >= 0xc0 under a `_` */
        return ex_like_match(l, s, len);
    return !((x ^ q->w) & q->keep) && (l->k == LK_PREFIX || len == q->len);
}

/* %lit%: one memmem over the window's bytes finds the next occurrence; a row
 * matches when an occurrence lies wholly inside it, and the search resumes
 * at the next row. Rows with no occurrence cost nothing. */
static void like_infix(const struct strs *v, uint32_t n, const struct ex_like *l, uint64_t *t)
{
    uint64_t at = v->s0;
    for (uint32_t k = 0; k < n;) {
        const char *hit = memmem(v->base + at, (size_t)(v->ends[n - 1] - at), l->lit, l->len);
        if (!hit)
            return;
        uint64_t off = (uint64_t)(hit - v->base);
        while (v->ends[k] <= off) /* the row holding the hit; it exists: off < ends[n - 1] */
            k++;
        if (off + l->len <= v->ends[k])
            t[k >> 6] |= (uint64_t)1 << (k & 63);
        at = v->ends[k++];
    }
}

static void leaf_like(const struct strs *v, uint32_t n, const struct ex_like *l, uint64_t *t)
{
    const char *s;
    size_t len, avail, ll = l->len;
    struct word8 q;
    word8_init(&q, l->lit, ll, l->any);
    switch (l->k) {
    case LK_EQ:
    case LK_PREFIX:
        if (l->any)
            STR_LOOP(len >= ll && like_wild(l, &q, s, len, avail));
        else if (l->k == LK_EQ)
            STR_LOOP(len == ll && has_prefix(&q, s, avail));
        else
            STR_LOOP(len >= ll && has_prefix(&q, s, avail));
        break;
    case LK_SUFFIX:
        STR_LOOP(len >= ll && has_prefix(&q, s + len - ll, avail - (len - ll)));
        break;
    case LK_INFIX:
        if (ll)
            like_infix(v, n, l, t);
        else
            STR_LOOP(1);
        break;
    default:
        STR_LOOP(ex_like_match(l, s, len));
    }
}

/* Bit c + 1 of OPMASK[op] says whether op holds for a three-way result c. */
static const unsigned OPMASK[] = {
    [OP_EQ] = 2, [OP_NE] = 5, [OP_LT] = 1, [OP_LE] = 3, [OP_GT] = 4, [OP_GE] = 6};

/* TRUE bits of a compare/in/like leaf on a VarChar column. */
static void leaf_varchar(const struct ex_ctx *c, const struct ex_node *e, const struct tm_col *col,
                         uint64_t *t)
{
    const uint64_t *ends = (const uint64_t *)col->ends.data + c->from;
    struct strs sv = {ends, col->data.data ? (const char *)col->data.data : "",
                      c->from ? ends[-1] : 0, col->data.len};
    const struct strs *v = &sv;
    const char *s;
    uint32_t n = c->n;
    size_t len, avail, vl = e->v.len;
    unsigned mask = OPMASK[e->op], eq = e->op == OP_EQ;
    struct word8 q;
    word8_init(&q, e->v.s, vl, NULL);
    if (e->k == EX_LIKE)
        leaf_like(v, n, e->like, t);
    else if (e->k == EX_IN)
        STR_LOOP(ex_set_has_str(e->set, s, len));
    else if (e->op == OP_EQ || e->op == OP_NE)
        STR_LOOP((len == vl && has_prefix(&q, s, avail)) == eq);
    else
        STR_LOOP(mask >> (cmp_lit(&q, s, len, avail) + 1) & 1);
}

/* ---- the leaf dispatch ---- */

/* Validity bytes [0, n) as bits: bit j of the result is set when byte j is
 * not zero, eight bytes at a time (the add sets the high bit of each
 * non-zero byte; shifted down, pack8 gathers the eight flags). */
static void valid_bits(const uint8_t *v, uint32_t n, uint64_t *out)
{
    const uint64_t lo7 = 0x7f7f7f7f7f7f7f7full;
    uint32_t k = 0;
    for (; k + 8 <= n; k += 8) {
        uint64_t x;
        memcpy(&x, v + k, 8);
        x = ((((x & lo7) + lo7) | x) & ~lo7) >> 7;
        out[k >> 6] |= pack8(x) << (k & 63);
    }
    for (; k < n; k++)
        out[k >> 6] |= (uint64_t)(v[k] != 0) << (k & 63);
}

/* kn (zeroed) = the rows whose value is not null. */
static void known_from_validity(const struct ex_ctx *c, const struct tm_col *col, uint64_t *kn)
{
    if (!col->nullable)
        memset(kn, 0xff, c->words * 8);
    else
        valid_bits(col->valid.data + c->from, c->n, kn);
}

static void eval_leaf(struct ex_ctx *c, const struct ex_node *e, uint64_t *t, uint64_t *kn)
{
    const struct tm_col *col = e->ref.k == REF_COL ? tm_batch_col(c->b, e->ref.fid) : NULL;
    bool str = col && e->ref.type == TM_T_VARCHAR, fixed = col && col->width && !e->ref.length;
    if (e->k == EX_ISNULL && (str || fixed)) { /* null exactly where the validity byte is 0 */
        known_from_validity(c, col, t);
        for (size_t w = 0; w < c->words; w++)
            t[w] = ~t[w];
        memset(kn, 0xff, c->words * 8);
        return;
    }
    bool str_fits = str && (e->k == EX_CMP || e->k == EX_IN || e->k == EX_LIKE);
    if (!str_fits && !(fixed && fixed_fits(e))) {
        ex_leaf_generic(c, e, t, kn);
        return;
    }
    known_from_validity(c, col, kn);
    if (str_fits)
        leaf_varchar(c, e, col, t);
    else
        leaf_fixed(c, e, col, t, kn);
    for (size_t w = 0; w < c->words; w++)
        t[w] &= kn[w];
}

/* ---- connectives ---- */

static int eval_node(struct ex_ctx *c, const struct ex_node *e, uint64_t *t, uint64_t *kn);

/* and: T = T1 & T2, F = F1 | F2; or: T = T1 | T2, F = F1 & F2; K = T | F. */
static void combine(const struct ex_ctx *c, bool is_and, uint64_t *t, uint64_t *kn,
                    const uint64_t *t2, const uint64_t *k2)
{
    if (is_and) {
        for (size_t w = 0; w < c->words; w++) {
            uint64_t tt = t[w] & t2[w], ff = (kn[w] & ~t[w]) | (k2[w] & ~t2[w]);
            t[w] = tt, kn[w] = tt | ff;
        }
    } else {
        for (size_t w = 0; w < c->words; w++) {
            uint64_t tt = t[w] | t2[w], ff = (kn[w] & ~t[w]) & (k2[w] & ~t2[w]);
            t[w] = tt, kn[w] = tt | ff;
        }
    }
}

/* Whether every row is already FALSE (and) or TRUE (or), so that the
 * remaining children cannot change the result and need not run. */
static bool settled(const struct ex_ctx *c, bool is_and, const uint64_t *t, const uint64_t *kn)
{
    uint64_t open = 0;
    for (size_t w = 0; w < c->words; w++) {
        uint64_t live = c->n - w * 64 >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << (c->n % 64)) - 1;
        open |= (is_and ? ~(kn[w] & ~t[w]) : ~t[w]) & live;
    }
    return !open;
}

static int eval_logic(struct ex_ctx *c, const struct ex_node *e, uint64_t *t, uint64_t *kn)
{
    bool is_and = e->k == EX_AND;
    int rc = eval_node(c, e->kids, t, kn);
    if (rc || !e->kids->next || settled(c, is_and, t, kn))
        return rc;
    uint64_t *t2 = malloc(c->words * 16);
    if (!t2)
        return TM_ENOMEM;
    uint64_t *k2 = t2 + c->words;
    for (const struct ex_node *k = e->kids->next; k && !rc; k = k->next) {
        memset(t2, 0, c->words * 16);
        rc = eval_node(c, k, t2, k2);
        combine(c, is_and, t, kn, t2, k2);
        if (settled(c, is_and, t, kn))
            break;
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
