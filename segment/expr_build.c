/* Filter expressions: the operators' type checks and plan nodes, following
 * Milvus's parser visitor (which operand kinds each operator takes, how
 * constants are cast, and its error texts), plus constant folding. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "expr_int.h"

#define SPAN(p, a, b) (int)((b)->end - (a)->pos), (p)->lx.text + (a)->pos

static struct ex_pres *pred(struct ex_parser *p, const struct ex_pres *a, const struct ex_pres *b,
                            const struct ex_node *tmpl)
{
    struct ex_pres *x = ex_pres_new(p, PR_PRED, a->pos, b->end);
    struct ex_node *e = x ? ex_alloc(p->ar, sizeof *e) : NULL;
    if (!e)
        return ex_oom(p);
    *e = *tmpl;
    x->node = e;
    return x;
}

static struct ex_pres *const_bool(struct ex_parser *p, const struct ex_pres *a,
                                  const struct ex_pres *b, bool v)
{
    struct ex_pres *x = ex_pres_new(p, PR_CONST, a->pos, b->end);
    if (x)
        x->v = (struct ex_val){.k = EV_BOOL, .b = v};
    return x;
}

static enum tm_dtype ref_type(const struct ex_ref *r)
{
    if (r->length)
        return TM_T_INT64;
    return r->k == REF_JSON ? TM_T_JSON : r->k == REF_ELEM ? r->elem : r->type;
}

static bool whole_array(struct ex_parser *p, const struct ex_pres *x)
{
    if (x->k == PR_COL && x->ref.k == REF_COL && x->ref.type == TM_T_ARRAY && !x->ref.length)
        return ex_fail(p, "can not comparisons array fields directly"), true;
    return false;
}

static bool is_num_type(enum tm_dtype t)
{
    return tm_dtype_is_scalar_number(t);
}

/* Milvus's canBeComparedDataType for a column and a constant kind. */
static bool comparable(enum tm_dtype t, enum ex_vkind k)
{
    if (t == TM_T_JSON)
        return k != EV_LIST;
    if (t == TM_T_BOOL)
        return k == EV_BOOL;
    if (t == TM_T_VARCHAR)
        return k == EV_STR;
    return is_num_type(t) && (k == EV_INT || k == EV_FLOAT);
}

static bool same_family(enum tm_dtype a, enum tm_dtype b)
{
    return (is_num_type(a) && is_num_type(b)) || (a == b && (a == TM_T_BOOL || a == TM_T_VARCHAR));
}

static enum ex_op reverse_op(enum ex_op op)
{
    static const enum ex_op rev[] = {OP_EQ, OP_NE, OP_GT, OP_GE, OP_LT, OP_LE};
    return rev[op];
}

/* ---- comparisons ---- */

static struct ex_pres *fold_compare(struct ex_parser *p, enum ex_op op, struct ex_pres *l,
                                    struct ex_pres *r)
{
    if (l->tmpl || r->tmpl)
        return ex_fail(p, "placeholder was not supported between two constants with operator: %s",
                       (const char *[]){"==", "!=", "<", "<=", ">", ">="}[op]);
    int h = ex_op_holds(op, ex_val_cmp(&l->v, &r->v));
    if (h < 0)
        return ex_fail(p,
                       "comparison operations cannot be applied to two incompatible operands: "
                       "%.*s",
                       SPAN(p, l, r));
    return const_bool(p, l, r, h == 1);
}

static struct ex_pres *compare_fields(struct ex_parser *p, enum ex_op op, struct ex_pres *l,
                                      struct ex_pres *r)
{
    enum tm_dtype a = ref_type(&l->ref), b = ref_type(&r->ref);
    if (whole_array(p, l) || whole_array(p, r))
        return NULL;
    if (a == TM_T_JSON || b == TM_T_JSON)
        return ex_fail(p, "two column comparison with JSON type is not supported");
    if (!same_family(a, b))
        return ex_fail(p, "comparisons between %s and %s are not supported", ex_type_name(a),
                       ex_type_name(b));
    return pred(p, l, r, &(struct ex_node){.k = EX_FCMP, .ref = l->ref, .ref2 = r->ref, .op = op});
}

static struct ex_pres *compare_arith(struct ex_parser *p, enum ex_op op, struct ex_pres *l,
                                     struct ex_pres *r)
{
    enum tm_dtype ct = ref_type(&l->ref);
    bool int_result =
        ct != TM_T_FLOAT && ct != TM_T_DOUBLE && (ct != TM_T_JSON || l->operand.k == EV_INT);
    struct ex_node e = {
        .k = EX_ARITH, .ref = l->ref, .op = op, .aop = l->aop, .operand = l->operand};
    if (!ex_cast_const(p, int_result ? TM_T_INT64 : TM_T_DOUBLE, &r->v, &e.v))
        return NULL;
    if (e.operand.k == EV_INT && (e.aop == AR_DIV || e.aop == AR_MOD))
        ex_sdiv_init(&e.div, e.operand.i);
    return pred(p, l, r, &e);
}

static struct ex_pres *compare_value(struct ex_parser *p, enum ex_op op, struct ex_pres *l,
                                     struct ex_pres *r)
{
    enum tm_dtype t = ref_type(&l->ref);
    if (l->k == PR_ARITH)
        return compare_arith(p, op, l, r);
    if (whole_array(p, l))
        return NULL;
    if (!comparable(t, r->v.k))
        return ex_fail(p, "comparisons between %s and %s are not supported", ex_type_name(t),
                       ex_kind_name(r->v.k));
    struct ex_node e = {.k = EX_CMP, .ref = l->ref, .op = op};
    if (!ex_cast_const(p, t, &r->v, &e.v))
        return NULL;
    return pred(p, l, r, &e);
}

struct ex_pres *ex_b_compare(struct ex_parser *p, enum ex_op op, struct ex_pres *l,
                             struct ex_pres *r)
{
    if (!l || !r)
        return NULL;
    if (l->k == PR_CONST && r->k == PR_CONST)
        return fold_compare(p, op, l, r);
    if (l->k == PR_PRED || r->k == PR_PRED)
        return ex_fail(p,
                       "comparison between a boolean expression and a value is not supported: "
                       "%.*s",
                       SPAN(p, l, r));
    if (l->k == PR_CONST) {
        struct ex_pres *x = compare_value(p, reverse_op(op), r, l);
        if (x)
            x->pos = l->pos, x->end = r->end;
        return x;
    }
    if (r->k == PR_CONST)
        return compare_value(p, op, l, r);
    if (l->k == PR_ARITH || r->k == PR_ARITH)
        return ex_fail(p, "not supported to do arithmetic operations between multiple fields");
    return compare_fields(p, op, l, r);
}

/* ---- range chains ---- */

/* Milvus's castRangeValue: a range bound must fit the column's family. */
static bool range_bound(struct ex_parser *p, enum tm_dtype t, const struct ex_val *v,
                        struct ex_val *out)
{
    if (t == TM_T_BOOL)
        return ex_fail(p, "invalid range operations on boolean expr"), false;
    bool ok = t == TM_T_JSON      ? v->k != EV_LIST
              : t == TM_T_VARCHAR ? v->k == EV_STR
              : is_num_type(t)    ? v->k == EV_INT || v->k == EV_FLOAT
                                  : false;
    if (!ok)
        return ex_fail(p, "invalid range operations"), false;
    return ex_cast_const(p, t, v, out);
}

static bool range_order_ok(struct ex_parser *p, const struct ex_node *e)
{
    int c = ex_val_cmp(&e->v, &e->hi);
    bool bad = c != EX_INCOMPARABLE && (e->lo_incl && e->hi_incl ? c > 0 : c >= 0);
    if (bad)
        ex_fail(p, "invalid range: lowerbound is greater than upperbound");
    return !bad;
}

struct ex_pres *ex_b_range(struct ex_parser *p, struct ex_pres *a, enum ex_op op1,
                           struct ex_pres *col, enum ex_op op2, struct ex_pres *b)
{
    if (!a || !col || !b)
        return NULL;
    bool up = op1 == OP_LT || op1 == OP_LE; /* a < col < b, else a > col > b */
    struct ex_pres *lo = up ? a : b, *hi = up ? b : a;
    if (whole_array(p, col))
        return NULL;
    if (lo->k != PR_CONST)
        return ex_fail(p, "lowerbound cannot be a non-const expression: %.*s", SPAN(p, lo, lo));
    if (hi->k != PR_CONST)
        return ex_fail(p, "upperbound cannot be a non-const expression: %.*s", SPAN(p, hi, hi));
    enum tm_dtype t = ref_type(&col->ref);
    struct ex_node e = {.k = EX_RANGE, .ref = col->ref};
    e.lo_incl = up ? op1 == OP_LE : op2 == OP_GE;
    e.hi_incl = up ? op2 == OP_LE : op1 == OP_GE;
    if (!range_bound(p, t, &lo->v, &e.v) || !range_bound(p, t, &hi->v, &e.hi) ||
        !range_order_ok(p, &e))
        return NULL;
    return pred(p, a, b, &e);
}

/* ---- in, like, is null, exists ---- */

static struct ex_pres *negate(struct ex_parser *p, struct ex_pres *x)
{
    if (!x)
        return NULL;
    struct ex_node *n = ex_alloc(p->ar, sizeof *n);
    if (!n)
        return ex_oom(p);
    *n = (struct ex_node){.k = EX_NOT, .kids = x->node, .last = x->node};
    x->node = n;
    return x;
}

static bool cast_list(struct ex_parser *p, enum tm_dtype t, const struct ex_val *list,
                      struct ex_val *out)
{
    struct ex_val *items = ex_alloc(p->ar, (list->n + 1) * sizeof *items);
    char buf[96];
    if (!items)
        return ex_oom(p), false;
    for (size_t k = 0; k < list->n; k++) {
        const struct ex_val *v = &list->items[k];
        if (!comparable(t, v->k) || !ex_cast_const(p, t, v, &items[k])) {
            p->rc = 0; /* replace the cast's message with Milvus's wording for lists */
            return ex_fail(p, "value '%s' in list cannot be casted to %s",
                           ex_val_text(v, buf, sizeof buf), ex_type_name(t)),
                   false;
        }
    }
    *out = (struct ex_val){.k = EV_LIST, .items = items, .n = list->n};
    return true;
}

struct ex_pres *ex_b_in(struct ex_parser *p, struct ex_pres *col, struct ex_pres *list, bool neg)
{
    if (!col || !list)
        return NULL;
    if (col->k == PR_CONST)
        return ex_fail(p, "'term' can only be used on non-const expression, but got: %.*s",
                       SPAN(p, col, col));
    if (col->k != PR_COL)
        return ex_fail(p, "'term' can only be used on single field, but got: %.*s",
                       SPAN(p, col, col));
    if (list->k != PR_CONST)
        return ex_fail(p, "value '%.*s' in list cannot be a non-const expression",
                       SPAN(p, list, list));
    if (list->v.k != EV_LIST)
        return ex_fail(p, "the right-hand side of 'in' must be a list, but got: %.*s",
                       SPAN(p, list, list));
    struct ex_node e = {.k = EX_IN, .ref = col->ref};
    struct ex_val items;
    if (!cast_list(p, ref_type(&col->ref), &list->v, &items))
        return NULL;
    if (!(e.set = ex_set_build(p->ar, &items)))
        return ex_oom(p);
    struct ex_pres *x = pred(p, col, list, &e);
    return neg ? negate(p, x) : x;
}

struct ex_pres *ex_b_like(struct ex_parser *p, struct ex_pres *col, struct ex_pres *pat)
{
    if (!col || !pat)
        return NULL;
    if (col->k != PR_COL)
        return ex_fail(p, "the left operand of like is invalid");
    if (whole_array(p, col))
        return NULL;
    enum tm_dtype t = ref_type(&col->ref);
    if (t != TM_T_VARCHAR && t != TM_T_JSON)
        return ex_fail(p, "like operation on non-string or no-json field is unsupported");
    if (pat->k != PR_CONST || pat->v.k != EV_STR)
        return ex_fail(p, "the pattern of like must be a string, got: %.*s", SPAN(p, pat, pat));
    struct ex_node e = {.k = EX_LIKE, .ref = col->ref};
    if (!(e.like = ex_like_compile(p->ar, pat->v.s, pat->v.len)))
        return ex_oom(p);
    return pred(p, col, pat, &e);
}

struct ex_pres *ex_b_isnull(struct ex_parser *p, struct ex_pres *col, bool neg)
{
    if (!col)
        return NULL;
    if (col->k != PR_COL || col->ref.length)
        return ex_fail(p, "is null operations are only supported on fields, got: %.*s",
                       SPAN(p, col, col));
    if (tm_dtype_is_vector(col->ref.type))
        return ex_fail(p, "is null operations are not supported on vector field, got: %s",
                       ex_type_name(col->ref.type));
    struct ex_pres *x = pred(p, col, col, &(struct ex_node){.k = EX_ISNULL, .ref = col->ref});
    if (x)
        x->end = p->tok.pos;
    return neg ? negate(p, x) : x;
}

/* exists p == p is not null: the path leads to a non-null value. */
struct ex_pres *ex_b_exists(struct ex_parser *p, struct ex_pres *col)
{
    if (!col)
        return NULL;
    if (col->k != PR_COL)
        return ex_fail(p, "exists operations are only supported on single fields now, got: %.*s",
                       SPAN(p, col, col));
    if (col->ref.k != REF_JSON || col->ref.length)
        return ex_fail(p, "exists operations are only supportted on json field, got:%s",
                       ex_type_name(ref_type(&col->ref)));
    if (!col->ref.npath)
        return ex_fail(p, "exists operations are only supportted on json key");
    return ex_b_isnull(p, col, true);
}

/* ---- logic ---- */

static void add_kid(struct ex_node *parent, struct ex_node *kid)
{
    if (kid->k == parent->k) { /* splice a same-kind chain: and/or stay flat */
        parent->last->next = kid->kids;
        parent->last = kid->last;
    } else {
        parent->last->next = kid;
        parent->last = kid;
    }
}

struct ex_pres *ex_b_logic(struct ex_parser *p, bool is_and, struct ex_pres *l, struct ex_pres *r)
{
    const char *name = is_and ? "'and'" : "'or'";
    if (!l || !r)
        return NULL;
    if (l->k == PR_CONST && r->k == PR_CONST && l->v.k == EV_BOOL && r->v.k == EV_BOOL && !l->dep &&
        !r->dep)
        return const_bool(p, l, r, is_and ? l->v.b && r->v.b : l->v.b || r->v.b);
    if (l->k != PR_PRED || r->k != PR_PRED)
        return ex_fail(p, "%s can only be used between boolean expressions", name);
    enum ex_kind k = is_and ? EX_AND : EX_OR;
    struct ex_node *n = l->node;
    if (n->k != k) {
        if (!(n = ex_alloc(p->ar, sizeof *n)))
            return ex_oom(p);
        *n = (struct ex_node){.k = k, .kids = l->node, .last = l->node};
    }
    add_kid(n, r->node);
    l->node = n;
    l->end = r->end;
    return l;
}

/* An and of `col > a` (or >=) and `col < b` (or <=) on one numeric column
 * becomes one range leaf, so that the column is read once rather than
 * twice. The same rows result: both forms are UNKNOWN exactly where the
 * value is null, and the typed kernels compare alike (a NaN is FALSE under
 * either). Other and-children keep their order; recursion depth is bounded
 * by EX_MAX_DEPTH. */
static bool range_half(const struct ex_node *e)
{
    return e->k == EX_CMP && e->ref.k == REF_COL && !e->ref.length && is_num_type(e->ref.type) &&
           e->op != OP_EQ && e->op != OP_NE;
}

static bool is_lower(enum ex_op op)
{
    return op == OP_GT || op == OP_GE;
}

/* Merges *pb into a, which are halves of one range, and unlinks *pb. */
static void fuse_pair(struct ex_node *parent, struct ex_node *a, struct ex_node **pb)
{
    struct ex_node *b = *pb;
    const struct ex_node *lo = is_lower(a->op) ? a : b, *hi = lo == a ? b : a;
    struct ex_val lv = lo->v, hv = hi->v;
    bool li = lo->op == OP_GE, hinc = hi->op == OP_LE;
    a->k = EX_RANGE, a->v = lv, a->hi = hv, a->lo_incl = li, a->hi_incl = hinc;
    *pb = b->next;
    if (parent->last == b)
        for (parent->last = parent->kids; parent->last->next;)
            parent->last = parent->last->next;
}

static void fuse_ranges(struct ex_node *e)
{
    for (struct ex_node *k = e->kids; k; k = k->next)
        fuse_ranges(k);
    if (e->k != EX_AND)
        return;
    for (struct ex_node *a = e->kids; a; a = a->next) {
        if (!range_half(a))
            continue;
        for (struct ex_node **pb = &a->next; *pb; pb = &(*pb)->next) {
            const struct ex_node *b = *pb;
            if (range_half(b) && b->ref.fid == a->ref.fid && is_lower(b->op) != is_lower(a->op)) {
                fuse_pair(e, a, pb);
                break;
            }
        }
    }
}

/* ---- arithmetic ---- */

static struct ex_pres *fold_num(struct ex_parser *p, struct ex_pres *l, struct ex_pres *r,
                                struct ex_val v)
{
    struct ex_pres *x = ex_pres_new(p, PR_CONST, l->pos, r->end);
    if (x)
        x->dep = true, x->v = v;
    return x;
}

static bool num(const struct ex_val *v)
{
    return v->k == EV_INT || v->k == EV_FLOAT;
}

static bool zero(const struct ex_val *v)
{
    return v->k == EV_INT ? v->i == 0 : v->d == 0;
}

static struct ex_pres *fold_arith(struct ex_parser *p, enum ex_arith op, struct ex_pres *l,
                                  struct ex_pres *r)
{
    static const char *const sym[] = {"+", "-", "*", "/", "%"};
    if (l->tmpl || r->tmpl)
        return ex_fail(p, "placeholder was not supported between two constants with operator: %s",
                       sym[op]);
    if (!num(&l->v) || !num(&r->v))
        return ex_fail(p, "arithmetic operations on non-numeric constants are not supported: %.*s",
                       SPAN(p, l, r));
    if (op == AR_MOD && (l->v.k != EV_INT || r->v.k != EV_INT))
        return ex_fail(p, "modulo can only apply on integer types");
    if ((op == AR_DIV || op == AR_MOD) && zero(&r->v))
        return ex_fail(p, "division or modulus by zero");
    return fold_num(p, l, r, ex_arith_apply(op, &l->v, &r->v));
}

/* Milvus's canArithmeticDataType: integer columns take integers, float
 * columns and JSON take any number; modulo wants integers on both sides. */
static bool arith_types_ok(struct ex_parser *p, enum ex_arith op, enum tm_dtype t,
                           const struct ex_val *v)
{
    static const char *const name[] = {"add", "sub", "mul", "div", "mod"};
    bool int_col = t >= TM_T_INT8 && t <= TM_T_INT64;
    bool ok = int_col ? v->k == EV_INT : (is_num_type(t) || t == TM_T_JSON) && num(v);
    if (!ok)
        return ex_fail(p, "'%s' cannot perform arithmetic between %s field and %s", name[op],
                       ex_type_name(t), ex_kind_name(v->k)),
               false;
    if (op == AR_MOD && (v->k != EV_INT || (!int_col && t != TM_T_JSON)))
        return ex_fail(p, "modulo can only apply on integer types"), false;
    if ((op == AR_DIV || op == AR_MOD) && zero(v))
        return ex_fail(p, "division or modulus by zero"), false;
    return true;
}

struct ex_pres *ex_b_arith(struct ex_parser *p, enum ex_arith op, struct ex_pres *l,
                           struct ex_pres *r)
{
    if (!l || !r)
        return NULL;
    if (l->k == PR_CONST && r->k == PR_CONST)
        return fold_arith(p, op, l, r);
    if (l->k == PR_CONST) { /* const op field: only + and * commute */
        if (op != AR_ADD && op != AR_MUL)
            return ex_fail(p, "module field is not yet supported");
        struct ex_pres *t = l;
        l = r, r = t;
    }
    if (l->k == PR_ARITH)
        return ex_fail(p, "complicated arithmetic operations are not supported");
    if (l->k != PR_COL || r->k != PR_CONST) {
        if (l->k == PR_COL && r->k == PR_COL)
            return ex_fail(p, "not supported to do arithmetic operations between multiple fields");
        return ex_fail(p, "invalid arithmetic expression: %.*s", SPAN(p, l, r));
    }
    if (whole_array(p, l) || !arith_types_ok(p, op, ref_type(&l->ref), &r->v))
        return NULL;
    struct ex_pres *x = ex_pres_new(p, PR_ARITH, l->pos < r->pos ? l->pos : r->pos,
                                    l->end > r->end ? l->end : r->end);
    if (x)
        x->dep = true, x->ref = l->ref, x->aop = op, x->operand = r->v;
    return x;
}

struct ex_pres *ex_b_pow(struct ex_parser *p, struct ex_pres *l, struct ex_pres *r)
{
    if (!l || !r)
        return NULL;
    if (l->k != PR_CONST || r->k != PR_CONST || !num(&l->v) || !num(&r->v))
        return ex_fail(p, "power can only apply on constants: %.*s", SPAN(p, l, r));
    double a = l->v.k == EV_INT ? (double)l->v.i : l->v.d;
    double b = r->v.k == EV_INT ? (double)r->v.i : r->v.d;
    return fold_num(p, l, r, (struct ex_val){.k = EV_FLOAT, .d = pow(a, b)});
}

/* ---- unary and the top ---- */

static struct ex_pres *unary_const(struct ex_parser *p, enum ex_tok op, struct ex_pres *x)
{
    if (op == T_ADD && num(&x->v))
        return x;
    if (op == T_SUB && num(&x->v)) {
        if (x->v.k == EV_INT)
            x->v.i = (int64_t)(0 - (uint64_t)x->v.i);
        else
            x->v.d = -x->v.d;
        return x;
    }
    if (op == T_NOT && x->v.k == EV_BOOL) {
        x->v.b = !x->v.b;
        return x;
    }
    if (op == T_BNOT)
        return ex_fail(p, "BitNot is not supported: %.*s", SPAN(p, x, x));
    return ex_fail(p, "unexpected op: %s", op == T_NOT ? "not" : op == T_SUB ? "-" : "+");
}

struct ex_pres *ex_b_unary(struct ex_parser *p, enum ex_tok op, struct ex_pres *x)
{
    if (!x)
        return NULL;
    if (x->k == PR_CONST)
        return unary_const(p, op, x);
    if (whole_array(p, x))
        return NULL;
    if (op == T_ADD)
        return x;
    if (op == T_NOT && x->k == PR_PRED)
        return negate(p, x);
    if (op == T_NOT)
        return ex_fail(p, "not op can only be applied on boolean expression");
    if (op == T_BNOT)
        return ex_fail(p, "BitNot is not supported: %.*s", SPAN(p, x, x));
    return ex_fail(p, "unexpected op: -");
}

struct ex_node *ex_b_top(struct ex_parser *p, struct ex_pres *x)
{
    if (x->k == PR_PRED) {
        fuse_ranges(x->node);
        return x->node;
    }
    if (x->k == PR_CONST && x->v.k == EV_BOOL && !x->dep) {
        struct ex_node *e = ex_alloc(p->ar, sizeof *e);
        if (!e)
            return ex_oom(p);
        *e = (struct ex_node){.k = EX_CONST, .cval = x->v.b};
        return e;
    }
    const char *t = x->k == PR_CONST ? ex_kind_name(x->v.k) : ex_type_name(ref_type(&x->ref));
    p->bare_err = true;
    return ex_fail(p, "predicate is not a boolean expression: %.*s, data type: %s",
                   (int)(p->lx.len > 160 ? 160 : p->lx.len), p->lx.text, t);
}
