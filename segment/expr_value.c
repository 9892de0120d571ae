/* Filter expressions: comparing and computing with values, the sets behind
 * `in`, and the compiled `like` matcher. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "expr_int.h"

/* ---- comparison ---- */

static bool is_num(const struct ex_val *v)
{
    return v->k == EV_INT || v->k == EV_FLOAT;
}

/* Why long double: it holds every int64 exactly on our targets (x86-64's
 * 80-bit format), so a JSON integer compares exactly with a float literal. */
static int cmp_num(const struct ex_val *a, const struct ex_val *b)
{
    if (a->k == EV_INT && b->k == EV_INT)
        return (a->i > b->i) - (a->i < b->i);
    long double x = a->k == EV_INT ? (long double)a->i : (long double)a->d;
    long double y = b->k == EV_INT ? (long double)b->i : (long double)b->d;
    if (isnan(x) || isnan(y))
        return EX_INCOMPARABLE;
    return (x > y) - (x < y);
}

static int cmp_str(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c)
        return c < 0 ? -1 : 1;
    return (alen > blen) - (alen < blen);
}

int ex_val_cmp(const struct ex_val *a, const struct ex_val *b)
{
    if (is_num(a) && is_num(b))
        return cmp_num(a, b);
    if (a->k == EV_STR && b->k == EV_STR)
        return cmp_str(a->s, a->len, b->s, b->len);
    if (a->k == EV_BOOL && b->k == EV_BOOL)
        return (a->b > b->b) - (a->b < b->b);
    return EX_INCOMPARABLE;
}

int ex_op_holds(enum ex_op op, int c)
{
    if (c == EX_INCOMPARABLE)
        return -1;
    switch (op) {
    case OP_EQ:
        return c == 0;
    case OP_NE:
        return c != 0;
    case OP_LT:
        return c < 0;
    case OP_LE:
        return c <= 0;
    case OP_GT:
        return c > 0;
    default:
        return c >= 0;
    }
}

/* ---- arithmetic ---- */

/* Integer arithmetic wraps (computed in uint64) so that no input can reach
 * signed-overflow undefined behaviour, INT64_MIN / -1 included. */
static struct ex_val arith_int(enum ex_arith op, int64_t a, int64_t b)
{
    struct ex_val r = {.k = EV_INT};
    uint64_t x = (uint64_t)a, y = (uint64_t)b;
    switch (op) {
    case AR_ADD:
        r.i = (int64_t)(x + y);
        break;
    case AR_SUB:
        r.i = (int64_t)(x - y);
        break;
    case AR_MUL:
        r.i = (int64_t)(x * y);
        break;
    case AR_DIV:
        if (b == 0)
            r.k = EV_NULL;
        else
            r.i = b == -1 ? (int64_t)(0 - x) : a / b;
        break;
    case AR_MOD:
        if (b == 0)
            r.k = EV_NULL;
        else
            r.i = b == -1 ? 0 : a % b;
        break;
    }
    return r;
}

struct ex_val ex_arith_apply(enum ex_arith op, const struct ex_val *a, const struct ex_val *b)
{
    struct ex_val r = {.k = EV_NULL};
    if (!is_num(a) || !is_num(b))
        return r;
    if (a->k == EV_INT && b->k == EV_INT)
        return arith_int(op, a->i, b->i);
    if (op == AR_MOD)
        return r;
    double x = a->k == EV_INT ? (double)a->i : a->d;
    double y = b->k == EV_INT ? (double)b->i : b->d;
    r.k = EV_FLOAT;
    r.d = op == AR_ADD ? x + y : op == AR_SUB ? x - y : op == AR_MUL ? x * y : x / y;
    return r;
}

/* Hacker's Delight figure 10-1 widened to 64 bits: the least shift p >= 64
 * for which magic = ceil(2^p / |d|) divides every int64 exactly. Needs
 * |d| >= 2; INT64_MIN included (ad is then 2^63 as an unsigned). */
void ex_sdiv_init(struct ex_sdiv *v, int64_t d)
{
    const uint64_t two63 = (uint64_t)1 << 63;
    uint64_t ad = d < 0 ? 0 - (uint64_t)d : (uint64_t)d;
    *v = (struct ex_sdiv){.d = d};
    if (ad < 2)
        return; /* 0 is refused by the parser; 1 and -1 need no magic */
    uint64_t t = two63 + ((uint64_t)d >> 63), anc = t - 1 - t % ad;
    uint64_t q1 = two63 / anc, r1 = two63 - q1 * anc, q2 = two63 / ad, r2 = two63 - q2 * ad;
    uint64_t delta;
    int p = 63;
    do {
        p++;
        q1 *= 2, r1 *= 2;
        if (r1 >= anc)
            q1++, r1 -= anc;
        q2 *= 2, r2 *= 2;
        if (r2 >= ad)
            q2++, r2 -= ad;
        delta = ad - r2;
    } while (q1 < delta || (q1 == delta && r1 == 0));
    uint64_t m = q2 + 1;
    v->magic = (int64_t)(d < 0 ? 0 - m : m);
    v->shift = p - 64;
    v->addm = d > 0 && v->magic < 0 ? ~(uint64_t)0 : 0;
    v->subm = d < 0 && v->magic > 0 ? ~(uint64_t)0 : 0;
}

/* ---- sets ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static uint64_t hash_bytes(const char *p, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t k = 0; k < len; k++)
        h = (h ^ (uint8_t)p[k]) * 1099511628211ull;
    return h;
}

/* Whether sorted a[0..n) holds x; false for NaN (which equals nothing). */
static bool dbl_find(const double *a, size_t n, double x)
{
    size_t lo = 0;
    while (n > 1) { /* branch-free lower bound */
        size_t half = n / 2;
        lo = a[lo + half - 1] < x ? lo + half : lo;
        n -= half;
    }
    return n && a[lo] == x;
}

bool ex_set_has_int(const struct ex_set *s, int64_t x)
{
    if (ex_iset_has(&s->iset, x))
        return true;
    if (!s->ndbls)
        return false;
    double d = (double)x;
    return dbl_find(s->dbls, s->ndbls, d) && (long double)d == (long double)x;
}

bool ex_set_has_dbl(const struct ex_set *s, double x)
{
    if (s->ndbls && dbl_find(s->dbls, s->ndbls, x))
        return true;
    if (!s->nints || x != floor(x) || x < -9.2233720368547758e18 || x >= 9.2233720368547758e18)
        return false;
    return ex_iset_has(&s->iset, (int64_t)x);
}

bool ex_set_has_str(const struct ex_set *s, const char *p, size_t len)
{
    if (!s->scap)
        return false;
    size_t mask = s->scap - 1;
    for (size_t h = (size_t)hash_bytes(p, len) & mask;; h = (h + 1) & mask) {
        const struct ex_strslot *sl = &s->strs[h];
        if (!sl->s)
            return false;
        if (sl->len == len && !memcmp(sl->s, p, len))
            return true;
    }
}

/* A non-null scalar is simply a member or not (a string is not in a list of
 * numbers); only null and non-scalar values are unknown. */
int ex_set_has(const struct ex_set *s, const struct ex_val *v)
{
    switch (v->k) {
    case EV_INT:
        return ex_set_has_int(s, v->i);
    case EV_FLOAT:
        return !isnan(v->d) && ex_set_has_dbl(s, v->d);
    case EV_STR:
        return ex_set_has_str(s, v->s, v->len);
    case EV_BOOL:
        return v->b ? s->has_true : s->has_false;
    default:
        return -1;
    }
}

static void set_add_str(struct ex_set *s, const char *p, size_t len)
{
    if (ex_set_has_str(s, p, len))
        return;
    size_t mask = s->scap - 1, h = (size_t)hash_bytes(p, len) & mask;
    while (s->strs[h].s)
        h = (h + 1) & mask;
    s->strs[h] = (struct ex_strslot){p, len};
}

static void set_add(struct ex_set *s, const struct ex_val *v)
{
    switch (v->k) {
    case EV_INT:
        s->ints[s->nints++] = v->i;
        break;
    case EV_FLOAT:
        if (!isnan(v->d))
            s->dbls[s->ndbls++] = v->d;
        break;
    case EV_STR:
        set_add_str(s, v->s, v->len);
        break;
    case EV_BOOL:
        *(v->b ? &s->has_true : &s->has_false) = true;
        break;
    default:
        break;
    }
}

#define ISET_BITMAP_BITS 65536 /* a bitmap of at most 8 KiB is always worth it */

/* A value no member equals: below the least, above the greatest, or in the
 * first gap (there is one: n is far below 2^64). */
static int64_t iset_nonmember(const int64_t *v, size_t n)
{
    if (v[0] > INT64_MIN)
        return v[0] - 1;
    if (v[n - 1] < INT64_MAX)
        return v[n - 1] + 1;
    size_t k = 0;
    while (v[k] + 1 == v[k + 1])
        k++;
    return v[k] + 1;
}

static bool iset_hash(struct ex_arena *a, struct ex_iset *s, const int64_t *v, size_t n)
{
    int bits = 4;
    while (((size_t)1 << bits) < 2 * n)
        bits++;
    size_t cap = (size_t)1 << bits;
    int64_t *slots = ex_alloc(a, cap * sizeof *slots);
    if (!slots)
        return false;
    s->empty = iset_nonmember(v, n);
    for (size_t k = 0; k < cap; k++)
        slots[k] = s->empty;
    s->mask = cap - 1, s->shift = 64 - bits;
    for (size_t k = 0; k < n; k++) { /* members are distinct */
        uint64_t h = ((uint64_t)v[k] * 0x9E3779B97F4A7C15ull) >> s->shift;
        while (slots[h] != s->empty)
            h = (h + 1) & s->mask;
        slots[h] = v[k];
    }
    s->slots = slots;
    return true;
}

/* v: n sorted distinct members, owned by the arena. */
static bool iset_build(struct ex_arena *a, struct ex_iset *s, const int64_t *v, size_t n)
{
    *s = (struct ex_iset){.sorted = v, .n = n};
    if (!n)
        return true;
    uint64_t span = (uint64_t)v[n - 1] - (uint64_t)v[0] + 1; /* 0: the whole int64 range */
    if (span && span <= ISET_BITMAP_BITS) {
        uint64_t *bm = ex_alloc(a, (span + 63) / 64 * sizeof *bm);
        if (!bm)
            return false;
        for (size_t k = 0; k < n; k++) {
            uint64_t o = (uint64_t)v[k] - (uint64_t)v[0];
            bm[o >> 6] |= (uint64_t)1 << (o & 63);
        }
        s->bm = bm, s->lo = v[0], s->span = span;
        return true;
    }
    return n <= EX_ISET_LINEAR || iset_hash(a, s, v, n);
}

struct ex_set *ex_set_build(struct ex_arena *a, const struct ex_val *list)
{
    struct ex_set *s = ex_alloc(a, sizeof *s);
    size_t n = list->n, cap = 8;
    while (cap < 2 * n)
        cap *= 2;
    if (!s || !(s->ints = ex_alloc(a, (n + 1) * sizeof *s->ints)) ||
        !(s->dbls = ex_alloc(a, (n + 1) * sizeof *s->dbls)) ||
        !(s->strs = ex_alloc(a, cap * sizeof *s->strs)))
        return NULL;
    s->scap = cap;
    for (size_t k = 0; k < n; k++)
        set_add(s, &list->items[k]);
    qsort(s->ints, s->nints, sizeof *s->ints, cmp_i64);
    qsort(s->dbls, s->ndbls, sizeof *s->dbls, cmp_dbl);
    size_t m = 0;
    for (size_t k = 0; k < s->nints; k++)
        if (!m || s->ints[k] != s->ints[m - 1])
            s->ints[m++] = s->ints[k];
    s->nints = m;
    return iset_build(a, &s->iset, s->ints, m) ? s : NULL;
}

/* ---- like ---- */

/* Tokens of a pattern: bytes, LK_ANY_SEQ for %, LK_ANY_ONE for _; a
 * backslash makes the next byte literal. */
static size_t like_tokens(const char *pat, size_t len, int16_t *tok)
{
    size_t n = 0;
    for (size_t k = 0; k < len; k++) {
        if (pat[k] == '\\' && k + 1 < len)
            tok[n++] = (int16_t)(uint8_t)pat[++k];
        else if (pat[k] == '%')
            tok[n++] = LK_ANY_SEQ;
        else if (pat[k] == '_')
            tok[n++] = LK_ANY_ONE;
        else
            tok[n++] = (int16_t)(uint8_t)pat[k];
    }
    return n;
}

/* Picks the cheap matcher when the wildcards allow: abc, abc%, %abc, %abc%,
 * and for the first two `_` in the literal too. */
static bool like_classify(struct ex_arena *a, struct ex_like *l, char *lit)
{
    size_t n = l->ntok, lo = 0, hi = n;
    bool lead = n && l->tok[0] == LK_ANY_SEQ, trail = n > lead && l->tok[n - 1] == LK_ANY_SEQ;
    uint8_t *any = NULL;
    lo += lead, hi -= trail;
    for (size_t k = lo; k < hi; k++) {
        if (l->tok[k] == LK_ANY_SEQ || (l->tok[k] == LK_ANY_ONE && lead))
            return true; /* stays LK_GENERAL */
        if (l->tok[k] == LK_ANY_ONE && !any && !(any = ex_alloc(a, hi - lo)))
            return false;
        if (l->tok[k] == LK_ANY_ONE)
            any[l->len] = 1;
        lit[l->len++] = l->tok[k] == LK_ANY_ONE ? 0 : (char)l->tok[k];
    }
    l->lit = lit;
    l->any = any;
    l->k = lead && trail ? LK_INFIX : lead ? LK_SUFFIX : trail ? LK_PREFIX : LK_EQ;
    return true;
}

struct ex_like *ex_like_compile(struct ex_arena *a, const char *pat, size_t len)
{
    struct ex_like *l = ex_alloc(a, sizeof *l);
    int16_t *tok = ex_alloc(a, (len + 1) * sizeof *tok);
    char *lit = ex_alloc(a, len + 1);
    if (!l || !tok || !lit)
        return NULL;
    l->tok = tok;
    l->ntok = like_tokens(pat, len, tok);
    l->k = LK_GENERAL;
    if (!like_classify(a, l, lit))
        return NULL;
    if (l->k == LK_GENERAL)
        l->len = 0;
    return l;
}

static size_t utf8_step(const char *s, size_t len, size_t at)
{
    uint8_t c = (uint8_t)s[at];
    size_t w = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return at + w > len ? len - at : w;
}

/* Wildcard matching with one backtrack point (the last %), linear in
 * practice; `_` consumes one UTF-8 character. */
static bool like_general(const int16_t *p, size_t pn, const char *s, size_t sn)
{
    size_t pi = 0, si = 0, star = SIZE_MAX, mark = 0;
    while (si < sn) {
        if (pi < pn && p[pi] == LK_ANY_ONE) {
            si += utf8_step(s, sn, si);
            pi++;
        } else if (pi < pn && p[pi] >= 0 && p[pi] == (uint8_t)s[si]) {
            pi++, si++;
        } else if (pi < pn && p[pi] == LK_ANY_SEQ) {
            star = pi++;
            mark = si;
        } else if (star != SIZE_MAX) {
            pi = star + 1;
            mark += utf8_step(s, sn, mark);
            si = mark;
        } else {
            return false;
        }
    }
    while (pi < pn && p[pi] == LK_ANY_SEQ)
        pi++;
    return pi == pn;
}

/* abc or abc% with `_` at the positions l->any marks. A `_` takes one byte
 * when the byte there is below 0xc0 (ASCII, or a stray continuation byte as
 * utf8_step reads it); then the literal covers exactly l->len bytes and one
 * masked compare decides. Only a row with a UTF-8 lead byte under a `_`
 * takes the general walk. */
static bool like_fixed(const struct ex_like *l, const char *s, size_t len)
{
    if (len < l->len) /* every token takes at least one byte */
        return false;
    unsigned bad = 0, wide = 0;
    for (size_t k = 0; k < l->len; k++) {
        uint8_t c = (uint8_t)s[k];
        bad |= l->any[k] ? 0 : (unsigned)(c ^ (uint8_t)l->lit[k]);
        wide |= l->any[k] & (c >= 0xc0);
    }
    if (wide)
        return like_general(l->tok, l->ntok, s, len);
    return !bad && (l->k == LK_PREFIX || len == l->len);
}

bool ex_like_match(const struct ex_like *l, const char *s, size_t len)
{
    if (l->any)
        return like_fixed(l, s, len);
    switch (l->k) {
    case LK_EQ:
        return len == l->len && !memcmp(s, l->lit, len);
    case LK_PREFIX:
        return len >= l->len && !memcmp(s, l->lit, l->len);
    case LK_SUFFIX:
        return len >= l->len && !memcmp(s + len - l->len, l->lit, l->len);
    case LK_INFIX:
        return !l->len || memmem(s, len, l->lit, l->len) != NULL;
    default:
        return like_general(l->tok, l->ntok, s, len);
    }
}
