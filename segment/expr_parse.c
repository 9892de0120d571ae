/* Filter expressions: the grammar. A recursive-descent parser with one
 * function per precedence level of Milvus's Plan.g4 (milvus-rest-v2.md
 * §7.2), low to high:
 *   or, and, | , ^ , &, == !=, < <= > >= (and range chains), in / not in,
 *   << >>, + -, * / %, unary + - ~ not, **, postfix like / is null, primary.
 * Each level hands its operands to a builder in expr_build.c, which checks
 * types the way Milvus's visitor does and makes plan nodes.
 *
 * Hostile input: the text is limited to EX_MAX_TEXT bytes and nesting
 * (parentheses, lists, call arguments, prefix operators) to EX_MAX_DEPTH,
 * so neither the parser's nor the evaluator's recursion can exhaust the
 * stack; and/or chains are built as flat lists, not deep trees.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr_int.h"

void *ex_fail(struct ex_parser *p, const char *fmt, ...)
{
    if (!p->rc) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err, sizeof p->err, fmt, ap);
        va_end(ap);
        p->rc = TM_ESTATUS;
    }
    return NULL;
}

void *ex_oom(struct ex_parser *p)
{
    if (!p->rc)
        p->rc = TM_ENOMEM;
    return NULL;
}

struct ex_pres *ex_pres_new(struct ex_parser *p, enum ex_pkind k, size_t pos, size_t end)
{
    struct ex_pres *x = ex_alloc(p->ar, sizeof *x);
    if (!x)
        return ex_oom(p);
    x->k = k;
    x->pos = pos;
    x->end = end;
    return x;
}

/* ---- tokens ---- */

static void next(struct ex_parser *p)
{
    ex_lex_next(&p->lx, &p->tok);
    if (p->lx.oom)
        ex_oom(p);
    else if (p->lx.err[0])
        ex_fail(p, "%s", p->lx.err);
}

static bool take(struct ex_parser *p, enum ex_tok t)
{
    if (p->rc || p->tok.t != t)
        return false;
    next(p);
    return true;
}

/* The token after the current one, without consuming anything. */
static enum ex_tok peek(struct ex_parser *p)
{
    struct ex_lexer save = p->lx;
    struct ex_token t;
    ex_lex_next(&p->lx, &t);
    p->lx = save;
    return t.t;
}

static void *syntax_error(struct ex_parser *p)
{
    const struct ex_token *t = &p->tok;
    if (t->t == T_EOF)
        return ex_fail(p, "line 1:%zu mismatched input '<EOF>'", t->pos);
    return ex_fail(p, "line 1:%zu mismatched input '%.*s'", t->pos,
                   (int)(t->end - t->pos > 40 ? 40 : t->end - t->pos), p->lx.text + t->pos);
}

static bool expect(struct ex_parser *p, enum ex_tok t)
{
    if (take(p, t))
        return true;
    syntax_error(p);
    return false;
}

/* ---- levels ---- */

static struct ex_pres *p_expr(struct ex_parser *p);
static struct ex_pres *p_unary(struct ex_parser *p);

static struct ex_pres *p_list(struct ex_parser *p, size_t pos)
{
    size_t cap = 8, n = 0;
    struct ex_val *items = ex_alloc(p->ar, cap * sizeof *items);
    while (items && !p->rc && p->tok.t != T_RBRACK) {
        struct ex_pres *e = p_expr(p);
        if (!e)
            return NULL;
        if (e->k != PR_CONST)
            return ex_fail(p, "array element type must be generic value, but got: %.*s",
                           (int)(e->end - e->pos), p->lx.text + e->pos);
        if (n == cap) {
            struct ex_val *g = ex_alloc(p->ar, 2 * cap * sizeof *g);
            if (!g)
                return ex_oom(p);
            memcpy(g, items, cap * sizeof *g);
            items = g, cap *= 2;
        }
        items[n++] = e->v;
        if (!take(p, T_COMMA))
            break;
    }
    if (!items)
        return ex_oom(p);
    size_t end = p->tok.end;
    if (!expect(p, T_RBRACK))
        return NULL;
    struct ex_pres *x = ex_pres_new(p, PR_CONST, pos, end);
    if (x)
        x->dep = true, x->v = (struct ex_val){.k = EV_LIST, .items = items, .n = n};
    return x;
}

static struct ex_pres *p_literal(struct ex_parser *p)
{
    struct ex_pres *x = ex_pres_new(p, PR_CONST, p->tok.pos, p->tok.end);
    if (!x)
        return NULL;
    x->dep = true;
    switch (p->tok.t) {
    case T_INT:
        x->v = (struct ex_val){.k = EV_INT, .i = p->tok.i};
        break;
    case T_FLOAT:
        x->v = (struct ex_val){.k = EV_FLOAT, .d = p->tok.d};
        break;
    case T_BOOL:
        x->v = (struct ex_val){.k = EV_BOOL, .b = p->tok.b};
        break;
    default:
        x->v = (struct ex_val){.k = EV_STR, .s = p->tok.s, .len = p->tok.len};
    }
    next(p);
    return x;
}

static struct ex_pres *p_call(struct ex_parser *p, const char *name, size_t pos)
{
    struct ex_pres *args[8];
    size_t n = 0;
    if (ex_func_id(name) < 0) /* refused before its arguments, which may not parse */
        return ex_b_call(p, name, args, 0, pos, pos);
    next(p); /* ( */
    while (!p->rc && p->tok.t != T_RPAREN) {
        if (n == 8)
            return ex_fail(p, "too many arguments to function %s", name);
        if (!(args[n++] = p_expr(p)))
            return NULL;
        if (!take(p, T_COMMA))
            break;
    }
    size_t end = p->tok.end;
    if (!expect(p, T_RPAREN))
        return NULL;
    return ex_b_call(p, name, args, n, pos, end);
}

static bool next_is_paren(const struct ex_parser *p)
{
    size_t k = p->lx.pos;
    while (k < p->lx.len && strchr(" \t\r\n", p->lx.text[k]))
        k++;
    return k < p->lx.len && p->lx.text[k] == '(';
}

static struct ex_pres *p_template(struct ex_parser *p, size_t pos)
{
    next(p); /* { */
    if (p->tok.t != T_IDENT)
        return syntax_error(p);
    const char *name = p->tok.s;
    next(p);
    size_t end = p->tok.end;
    if (!expect(p, T_RBRACE))
        return NULL;
    return ex_b_template(p, name, pos, end);
}

static struct ex_pres *p_nested(struct ex_parser *p, enum ex_tok open)
{
    size_t pos = p->tok.pos;
    struct ex_pres *x;
    next(p);
    if (open == T_LBRACK)
        return p_list(p, pos);
    x = p_expr(p);
    if (x && !expect(p, T_RPAREN))
        return NULL;
    return x;
}

static struct ex_pres *p_primary(struct ex_parser *p)
{
    struct ex_token t = p->tok;
    if (p->rc)
        return NULL;
    switch (t.t) {
    case T_INT:
    case T_FLOAT:
    case T_BOOL:
    case T_STR:
        return p_literal(p);
    case T_LPAREN:
    case T_LBRACK:
        return p_nested(p, t.t);
    case T_LBRACE:
        return p_template(p, t.pos);
    case T_EXISTS:
        next(p);
        return ex_b_exists(p, p_primary(p));
    case T_ISO:
        return ex_fail(p, "timestamptz ISO/INTERVAL expressions are not supported yet");
    case T_IDENT:
        if (next_is_paren(p)) {
            next(p);
            return p_call(p, t.s, t.pos);
        }
        /* fall through */
    case T_JSONID:
        next(p);
        return ex_b_ident(p, &t);
    default:
        return syntax_error(p);
    }
}

static struct ex_pres *p_postfix(struct ex_parser *p)
{
    struct ex_pres *x = p_primary(p);
    if (!x || p->rc)
        return NULL;
    switch (p->tok.t) {
    case T_LIKE:
        next(p);
        return ex_b_like(p, x, p_primary(p));
    case T_ISNULL:
    case T_ISNOTNULL: {
        bool neg = p->tok.t == T_ISNOTNULL;
        next(p);
        return ex_b_isnull(p, x, neg);
    }
    case T_REGEX:
        return ex_fail(p, "regular expression match (=~, !~) is not supported yet");
    default:
        return x;
    }
}

static struct ex_pres *p_pow(struct ex_parser *p)
{
    struct ex_pres *l = p_postfix(p);
    while (l && take(p, T_POW))
        l = ex_b_pow(p, l, p_postfix(p));
    return l;
}

static struct ex_pres *p_unary(struct ex_parser *p)
{
    enum ex_tok op = p->tok.t;
    if (op != T_ADD && op != T_SUB && op != T_BNOT && op != T_NOT)
        return p_pow(p);
    size_t pos = p->tok.pos;
    if (++p->depth > EX_MAX_DEPTH)
        return ex_fail(p, "expression is nested too deeply (limit %d)", EX_MAX_DEPTH);
    next(p);
    struct ex_pres *x = p_unary(p);
    p->depth--;
    if (x)
        x->pos = pos;
    return x ? ex_b_unary(p, op, x) : NULL;
}

static struct ex_pres *p_mul(struct ex_parser *p)
{
    struct ex_pres *l = p_unary(p);
    while (l && !p->rc) {
        enum ex_tok t = p->tok.t;
        enum ex_arith op = t == T_MUL ? AR_MUL : t == T_DIV ? AR_DIV : AR_MOD;
        if (t != T_MUL && t != T_DIV && t != T_MOD)
            break;
        next(p);
        l = ex_b_arith(p, op, l, p_unary(p));
    }
    return l;
}

static struct ex_pres *p_add(struct ex_parser *p)
{
    struct ex_pres *l = p_mul(p);
    while (l && (p->tok.t == T_ADD || p->tok.t == T_SUB) && !p->rc) {
        enum ex_arith op = p->tok.t == T_ADD ? AR_ADD : AR_SUB;
        next(p);
        l = ex_b_arith(p, op, l, p_mul(p));
    }
    return l;
}

static struct ex_pres *p_shift(struct ex_parser *p)
{
    struct ex_pres *l = p_add(p);
    if (l && (p->tok.t == T_SHL || p->tok.t == T_SHR) && !p->rc) {
        next(p);
        struct ex_pres *r = p_add(p);
        if (r)
            ex_fail(p, "shift is not supported: %.*s", (int)(r->end - l->pos), p->lx.text + l->pos);
        return NULL;
    }
    return l;
}

static struct ex_pres *p_in(struct ex_parser *p)
{
    struct ex_pres *l = p_shift(p);
    if (!l || p->rc)
        return NULL;
    bool neg = p->tok.t == T_NOT && peek(p) == T_IN;
    if (neg)
        next(p);
    if (!take(p, T_IN))
        return l;
    return ex_b_in(p, l, p_shift(p), neg);
}

static int rel_op(enum ex_tok t)
{
    switch (t) {
    case T_LT:
        return OP_LT;
    case T_LE:
        return OP_LE;
    case T_GT:
        return OP_GT;
    case T_GE:
        return OP_GE;
    default:
        return -1;
    }
}

static bool same_direction(int a, int b)
{
    return (a == OP_LT || a == OP_LE) == (b == OP_LT || b == OP_LE);
}

/* Relational comparisons, and the range chains `1 < x <= 5` whose middle
 * operand is a single identifier (as in Plan.g4's Range rule). */
static struct ex_pres *p_rel(struct ex_parser *p)
{
    struct ex_pres *l = p_in(p);
    int op1;
    while (l && !p->rc && (op1 = rel_op(p->tok.t)) >= 0) {
        next(p);
        struct ex_token mid = p->tok;
        struct ex_pres *r = p_in(p);
        int op2 = r ? rel_op(p->tok.t) : -1;
        bool ident =
            r && (mid.t == T_IDENT || mid.t == T_JSONID) && r->pos == mid.pos && r->end == mid.end;
        if (ident && op2 >= 0 && same_direction(op1, op2)) {
            next(p);
            l = ex_b_range(p, l, (enum ex_op)op1, r, (enum ex_op)op2, p_in(p));
        } else {
            l = r ? ex_b_compare(p, (enum ex_op)op1, l, r) : NULL;
        }
    }
    return l;
}

static struct ex_pres *p_eq(struct ex_parser *p)
{
    struct ex_pres *l = p_rel(p);
    while (l && (p->tok.t == T_EQ || p->tok.t == T_NE) && !p->rc) {
        enum ex_op op = p->tok.t == T_EQ ? OP_EQ : OP_NE;
        next(p);
        struct ex_pres *r = p_rel(p);
        l = r ? ex_b_compare(p, op, l, r) : NULL;
    }
    return l;
}

/* & ^ | parse (so the message names them) and are refused. */
static struct ex_pres *p_bits(struct ex_parser *p, int level)
{
    static const enum ex_tok toks[] = {T_BOR, T_BXOR, T_BAND};
    static const char *const names[] = {"BitOr", "BitXor", "BitAnd"};
    struct ex_pres *l = level == 2 ? p_eq(p) : p_bits(p, level + 1);
    if (l && p->tok.t == toks[level] && !p->rc) {
        next(p);
        struct ex_pres *r = level == 2 ? p_eq(p) : p_bits(p, level + 1);
        if (r)
            ex_fail(p, "%s is not supported: %.*s", names[level], (int)(r->end - l->pos),
                    p->lx.text + l->pos);
        return NULL;
    }
    return l;
}

static struct ex_pres *p_and(struct ex_parser *p)
{
    struct ex_pres *l = p_bits(p, 0);
    while (l && take(p, T_AND))
        l = ex_b_logic(p, true, l, p_bits(p, 0));
    return l;
}

static struct ex_pres *p_or(struct ex_parser *p)
{
    struct ex_pres *l = p_and(p);
    while (l && take(p, T_OR))
        l = ex_b_logic(p, false, l, p_and(p));
    return l;
}

static struct ex_pres *p_expr(struct ex_parser *p)
{
    if (++p->depth > EX_MAX_DEPTH)
        return ex_fail(p, "expression is nested too deeply (limit %d)", EX_MAX_DEPTH);
    struct ex_pres *x = p_or(p);
    p->depth--;
    return p->rc ? NULL : x;
}

/* ---- entry ---- */

static bool blank(const char *s)
{
    while (*s && strchr(" \t\r\n", *s))
        s++;
    return !*s;
}

static int parse_plan(struct ex_parser *p, struct tm_expr *e)
{
    next(p);
    struct ex_pres *x = p_expr(p);
    if (x && p->tok.t != T_EOF)
        ex_fail(p, "line 1:%zu extraneous input '%.*s'", p->tok.pos,
                (int)(p->tok.end - p->tok.pos > 40 ? 40 : p->tok.end - p->tok.pos),
                p->lx.text + p->tok.pos);
    if (!p->rc && x)
        e->root = ex_b_top(p, x);
    if (p->rc)
        return p->rc;
    e->fids = ex_alloc(&e->ar, (p->nfids + 1) * sizeof *e->fids);
    if (!e->fids)
        return TM_ENOMEM;
    memcpy(e->fids, p->fids, p->nfids * sizeof *e->fids);
    e->nfids = p->nfids;
    return 0;
}

static int report(const struct ex_parser *p, const char *text, struct tm_status *st)
{
    if (p->bare_err)
        return tm_status_set(st, TM_MV_INVALID_PARAM, "failed to create query plan: %s", p->err);
    return tm_status_set(st, TM_MV_INVALID_PARAM,
                         "failed to create query plan: cannot parse expression: %.160s%s, "
                         "error: %s",
                         text, strlen(text) > 160 ? "..." : "", p->err);
}

int tm_expr_parse(const char *text, const json_t *params, const struct tm_schema *s,
                  struct tm_expr **out, struct tm_status *st)
{
    *out = NULL;
    if (!text || blank(text))
        return 0;
    size_t len = strlen(text);
    if (len > EX_MAX_TEXT)
        return tm_status_set(st, TM_MV_INVALID_PARAM,
                             "failed to create query plan: expression is too long (%zu bytes, "
                             "limit %d)",
                             len, EX_MAX_TEXT);
    struct tm_expr *e = calloc(1, sizeof *e);
    struct ex_parser *p = calloc(1, sizeof *p);
    int rc = TM_ENOMEM;
    if (e && p) {
        p->lx = (struct ex_lexer){.text = text, .len = len, .ar = &e->ar};
        p->s = s;
        p->params = params;
        p->ar = &e->ar;
        rc = parse_plan(p, e);
        if (rc == TM_ESTATUS)
            report(p, text, st);
    }
    if (rc)
        tm_expr_free(e);
    else
        *out = e;
    free(p);
    return rc;
}
