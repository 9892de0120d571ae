/* Filter expressions, private parts shared by expr_*.c and the tests: the
 * plan's node and value structs, the arena that owns a plan, the lexer, and
 * the per-row value readers the evaluator uses for JSON and Array columns.
 *
 * Everything a plan points to lives in the plan's arena, so a plan is freed
 * in one step and a failed parse frees its partial plan the same way.
 */
#ifndef TM_EXPR_INT_H
#define TM_EXPR_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "expr.h"

#define EX_MAX_DEPTH 200        /* nesting of parentheses, lists and prefix operators */
#define EX_MAX_TEXT (64 * 1024) /* bytes of filter text */

/* ---- arena ---- */

struct ex_blk;
struct ex_arena {
    struct ex_blk *head;
};
/* Zeroed memory valid until ex_arena_free; NULL when out of memory. */
void *ex_alloc(struct ex_arena *a, size_t n);
char *ex_strndup(struct ex_arena *a, const char *s, size_t n);
void ex_arena_free(struct ex_arena *a);

/* ---- values ----
 * One struct for plan constants and for values read from a row. Row values
 * point into the batch or into a parsed JSON document and live only while
 * the evaluation that read them runs. */
enum ex_vkind { EV_NULL, EV_BOOL, EV_INT, EV_FLOAT, EV_STR, EV_LIST, EV_OTHER };

struct ex_val {
    enum ex_vkind k;
    bool b;
    int64_t i;
    double d;
    const char *s; /* EV_STR: bytes, not NUL-terminated */
    size_t len;
    const struct ex_val *items; /* EV_LIST */
    size_t n;
};

enum ex_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };
enum ex_arith { AR_ADD, AR_SUB, AR_MUL, AR_DIV, AR_MOD };

/* Three-way comparison of a row value with a constant (or another row
 * value): -1, 0, 1, or EX_INCOMPARABLE for null or mismatched kinds. */
#define EX_INCOMPARABLE 2
int ex_val_cmp(const struct ex_val *a, const struct ex_val *b);
/* 1/0 for a comparison result c under op, -1 if c is EX_INCOMPARABLE. */
int ex_op_holds(enum ex_op op, int c);
/* a (row value) op b (constant); EV_NULL when a is not a number or the
 * operation is undefined (integer modulo of a float). Integers wrap. */
struct ex_val ex_arith_apply(enum ex_arith op, const struct ex_val *a, const struct ex_val *b);

/* Signed 64-bit division by a constant as a multiply and a shift (Hacker's
 * Delight §10-1, after Granlund and Montgomery), so that a typed loop for
 * `field / c` or `field % c` pays no hardware divide per row. For |d| >= 2,
 * ex_sdiv_quot(v, x) == x / d exactly (C truncation); d = 1 and d = -1 have
 * no magic number and are the caller's (arith_int's x and 0 - x). */
struct ex_sdiv {
    int64_t d, magic;
    int shift;
    uint64_t addm, subm; /* ~0 when x must be added to / taken from the product */
};
void ex_sdiv_init(struct ex_sdiv *v, int64_t d);

__extension__ typedef __int128 ex_i128;

static inline int64_t ex_sdiv_quot(const struct ex_sdiv *v, int64_t x)
{
    uint64_t q = (uint64_t)(int64_t)(((ex_i128)v->magic * x) >> 64);
    q = q + ((uint64_t)x & v->addm) - ((uint64_t)x & v->subm);
    int64_t r = (int64_t)q >> v->shift;
    return r + (int64_t)((uint64_t)r >> 63);
}

/* ---- column references ---- */

enum ex_ref_kind {
    REF_COL,  /* a whole scalar, Array or vector column */
    REF_JSON, /* a JSON column at path (npath may be 0: the whole document) */
    REF_ELEM, /* element `index` of an Array column */
};

struct ex_ref {
    enum ex_ref_kind k;
    int64_t fid;
    enum tm_dtype type; /* the column's type */
    enum tm_dtype elem; /* Array element type */
    const char *const *path;
    size_t npath;
    int64_t index;
    bool length; /* array_length(): the value is the array's length */
};

/* ---- sets (in) and like patterns ---- */

struct ex_strslot {
    const char *s; /* NULL = empty slot */
    size_t len;
};

/* The integer members in the form fastest to probe: a bitmap when they
 * span a small range, else a hash table when there are more than a few,
 * else the sorted array itself. */
struct ex_iset {
    const int64_t *sorted;
    size_t n;
    const uint64_t *bm; /* bit x - lo for member x, span bits */
    int64_t lo;
    uint64_t span;
    const int64_t *slots; /* open addressing, mask + 1 slots; `empty` is no member */
    uint64_t mask;
    int64_t empty;
    int shift; /* 64 - log2(slots) for the Fibonacci hash */
};

#define EX_ISET_LINEAR 8 /* members scanned linearly up to this many */

static inline bool ex_iset_has(const struct ex_iset *s, int64_t x)
{
    if (s->bm) {
        uint64_t o = (uint64_t)x - (uint64_t)s->lo;
        return o < s->span && (s->bm[o >> 6] >> (o & 63) & 1);
    }
    if (s->slots) {
        uint64_t h = ((uint64_t)x * 0x9E3779B97F4A7C15ull) >> s->shift;
        for (;; h = (h + 1) & s->mask) {
            int64_t v = s->slots[h];
            if (v == s->empty) /* first: x may equal the sentinel */
                return false;
            if (v == x)
                return true;
        }
    }
    bool hit = false;
    for (size_t k = 0; k < s->n; k++)
        hit |= s->sorted[k] == x;
    return hit;
}

struct ex_set {
    int64_t *ints; /* sorted, distinct */
    size_t nints;
    struct ex_iset iset; /* the same members, for probing */
    double *dbls;        /* sorted, no NaN */
    size_t ndbls;
    struct ex_strslot *strs; /* open addressing, power-of-two cap */
    size_t scap;
    bool has_true, has_false;
};

/* 1 member, 0 not, -1 unknown (null or not a scalar). */
int ex_set_has(const struct ex_set *s, const struct ex_val *v);
bool ex_set_has_int(const struct ex_set *s, int64_t x);
bool ex_set_has_dbl(const struct ex_set *s, double x);
bool ex_set_has_str(const struct ex_set *s, const char *p, size_t len);
/* Builds a set from the items of a list constant; NULL when out of memory. */
struct ex_set *ex_set_build(struct ex_arena *a, const struct ex_val *list);

enum ex_like_kind { LK_EQ, LK_PREFIX, LK_SUFFIX, LK_INFIX, LK_GENERAL };
#define LK_ANY_SEQ (-1) /* % */
#define LK_ANY_ONE (-2) /* _ : one UTF-8 character */

struct ex_like {
    enum ex_like_kind k;
    const char *lit; /* the literal part for LK_EQ..LK_INFIX */
    size_t len;
    const uint8_t *any; /* LK_EQ, LK_PREFIX: 1 where the literal has a `_` (NULL: none) */
    const int16_t *tok; /* LK_GENERAL: bytes, LK_ANY_SEQ, LK_ANY_ONE */
    size_t ntok;
};

/* Compiles a Milvus like pattern (% _ and \ escapes); NULL when out of memory.
 * abc, abc%, %abc and %abc% get a literal matcher; so do abc and abc% with
 * `_` in the literal (l->any). */
struct ex_like *ex_like_compile(struct ex_arena *a, const char *pat, size_t len);
bool ex_like_match(const struct ex_like *l, const char *s, size_t len);

/* ---- plan nodes ---- */

enum ex_kind {
    EX_CONST,    /* cval for every row (a folded constant predicate) */
    EX_AND,      /* kids */
    EX_OR,       /* kids */
    EX_NOT,      /* kids (one) */
    EX_CMP,      /* ref op v */
    EX_RANGE,    /* v (lower) <(=) ref <(=) hi */
    EX_IN,       /* ref in set */
    EX_ISNULL,   /* ref is null (always known) */
    EX_LIKE,     /* ref like pattern */
    EX_ARITH,    /* (ref aop operand) op v */
    EX_FCMP,     /* ref op ref2 */
    EX_CONTAINS, /* ck(ref, v) */
};

enum ex_contains { CT_ONE, CT_ALL, CT_ANY };

struct ex_node {
    enum ex_kind k;
    struct ex_node *kids, *next; /* children; siblings */
    struct ex_node *last;        /* last child (and/or chains grow at parse time) */
    struct ex_ref ref, ref2;
    enum ex_op op;
    struct ex_val v, hi;
    bool lo_incl, hi_incl, cval;
    enum ex_arith aop;
    struct ex_val operand;
    struct ex_sdiv div; /* EX_ARITH, integer / and %: operand.i prepared */
    const struct ex_set *set;
    const struct ex_like *like;
    enum ex_contains ck;
};

struct tm_expr {
    struct ex_arena ar;
    const struct ex_node *root;
    int64_t *fids;
    size_t nfids;
};

/* ---- lexer ---- */

enum ex_tok {
    T_EOF,
    T_INT,
    T_FLOAT,
    T_STR,
    T_BOOL,
    T_IDENT,  /* identifier or $meta, text in s */
    T_JSONID, /* identifier or $meta followed by [..] segments */
    T_AND,
    T_OR,
    T_NOT,
    T_IN,
    T_LIKE,
    T_EXISTS,
    T_ISNULL,
    T_ISNOTNULL,
    T_ISO, /* iso / interval: timestamptz forms we refuse */
    T_LPAREN,
    T_RPAREN,
    T_LBRACK,
    T_RBRACK,
    T_LBRACE,
    T_RBRACE,
    T_COMMA,
    T_EQ,
    T_NE,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_ADD,
    T_SUB,
    T_MUL,
    T_DIV,
    T_MOD,
    T_POW,
    T_SHL,
    T_SHR,
    T_BAND,
    T_BOR,
    T_BXOR,
    T_BNOT,
    T_REGEX, /* =~ and !~ */
    T_ASSIGN,
};

/* A JSON/array path segment: a quoted key, or a decimal index. */
struct ex_seg {
    const char *s;
    size_t len;
    bool is_index;
    int64_t index;
};

struct ex_token {
    enum ex_tok t;
    size_t pos, end; /* byte span in the text */
    int64_t i;
    double d;
    bool b;
    const char *s; /* T_STR (unescaped, arena), T_IDENT/T_JSONID name (arena) */
    size_t len;
    struct ex_seg *segs; /* T_JSONID */
    size_t nsegs;
};

struct ex_lexer {
    const char *text;
    size_t len, pos;
    struct ex_arena *ar;
    char err[256]; /* set on a lexical error (token is then T_EOF) */
    bool oom;
};

/* Reads the next token; on error fills lx->err and returns T_EOF. */
void ex_lex_next(struct ex_lexer *lx, struct ex_token *tok);

/* ---- parser internals (expr_parse.c grammar, expr_build.c checks) ---- */

/* What a sub-expression turned out to be, as Milvus's ExprWithType. */
enum ex_pkind { PR_CONST, PR_COL, PR_ARITH, PR_PRED };

struct ex_pres {
    enum ex_pkind k;
    bool dep;          /* "node dependent" in Milvus: a literal or a column, not a predicate */
    bool tmpl;         /* a template placeholder's value */
    struct ex_val v;   /* PR_CONST */
    struct ex_ref ref; /* PR_COL, PR_ARITH */
    enum ex_arith aop; /* PR_ARITH: ref aop operand */
    struct ex_val operand;
    struct ex_node *node; /* PR_PRED */
    size_t pos, end;      /* source span */
};

struct ex_parser {
    struct ex_lexer lx;
    struct ex_token tok;
    const struct tm_schema *s;
    const json_t *params;
    struct ex_arena *ar;
    int depth;
    int rc;        /* 0, TM_ESTATUS or TM_ENOMEM */
    bool bare_err; /* err is the whole reason, not wrapped in "cannot parse expression" */
    char err[TM_STATUS_MSG];
    int64_t fids[TM_BATCH_MAX_COLS];
    size_t nfids;
};

/* Records a failure (the first one wins) and returns NULL. */
void *ex_fail(struct ex_parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void *ex_oom(struct ex_parser *p);
struct ex_pres *ex_pres_new(struct ex_parser *p, enum ex_pkind k, size_t pos, size_t end);

struct ex_pres *ex_b_ident(struct ex_parser *p, const struct ex_token *t);
struct ex_pres *ex_b_template(struct ex_parser *p, const char *name, size_t pos, size_t end);
struct ex_pres *ex_b_compare(struct ex_parser *p, enum ex_op op, struct ex_pres *l,
                             struct ex_pres *r);
struct ex_pres *ex_b_range(struct ex_parser *p, struct ex_pres *a, enum ex_op op1,
                           struct ex_pres *col, enum ex_op op2, struct ex_pres *b);
struct ex_pres *ex_b_in(struct ex_parser *p, struct ex_pres *col, struct ex_pres *list, bool neg);
struct ex_pres *ex_b_like(struct ex_parser *p, struct ex_pres *col, struct ex_pres *pat);
struct ex_pres *ex_b_isnull(struct ex_parser *p, struct ex_pres *col, bool neg);
struct ex_pres *ex_b_exists(struct ex_parser *p, struct ex_pres *col);
struct ex_pres *ex_b_logic(struct ex_parser *p, bool is_and, struct ex_pres *l, struct ex_pres *r);
struct ex_pres *ex_b_unary(struct ex_parser *p, enum ex_tok op, struct ex_pres *x);
struct ex_pres *ex_b_arith(struct ex_parser *p, enum ex_arith op, struct ex_pres *l,
                           struct ex_pres *r);
struct ex_pres *ex_b_pow(struct ex_parser *p, struct ex_pres *l, struct ex_pres *r);
/* 0..2: the contains family (enum ex_contains), 3: array_length, -1: other. */
int ex_func_id(const char *name);
struct ex_pres *ex_b_call(struct ex_parser *p, const char *name, struct ex_pres **args,
                          size_t nargs, size_t pos, size_t end);
struct ex_node *ex_b_top(struct ex_parser *p, struct ex_pres *x);

/* Casting constants to a column's type, and the names messages use. */
bool ex_cast_const(struct ex_parser *p, enum tm_dtype t, const struct ex_val *v,
                   struct ex_val *out);
const char *ex_kind_name(enum ex_vkind k);
const char *ex_type_name(enum tm_dtype t);
/* Renders a constant for a message into buf. */
const char *ex_val_text(const struct ex_val *v, char *buf, size_t cap);

/* ---- evaluation internals (expr_src.c) ---- */

struct ex_jcache; /* parsed JSON documents of one column for one evaluation */

struct ex_ctx {
    const struct tm_batch *b;
    uint32_t from, n;
    size_t words;
    struct ex_jcache *jc;
    size_t njc, jcap;
    struct ex_val *scratch; /* array elements of one row */
    size_t scap;
    int err; /* sticky TM_ENOMEM */
};

/* A column reference bound to one batch for one leaf. */
struct ex_src {
    struct ex_ctx *c;
    const struct ex_ref *r;
    const struct tm_col *col; /* NULL: absent, every row is null */
    size_t jidx;              /* JSON columns: 1 + index into c->jc (which may move), 0 none */
};

void ex_src_open(struct ex_ctx *c, const struct ex_ref *r, struct ex_src *src);
/* The value of row from + k (EV_NULL for null, missing or out of range). */
void ex_src_value(struct ex_src *src, uint32_t k, struct ex_val *out);
/* The array elements of row from + k; false when it is null or not an
 * array. *items is scratch valid until the next call. */
bool ex_src_elems(struct ex_src *src, uint32_t k, const struct ex_val **items, size_t *n);
void ex_ctx_free(struct ex_ctx *c);

/* Evaluates one leaf row by row through ex_src_value (the general path):
 * fills t and kn for the ctx's rows. */
void ex_leaf_generic(struct ex_ctx *c, const struct ex_node *e, uint64_t *t, uint64_t *kn);

#endif
