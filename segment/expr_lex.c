/* Filter expressions: the arena that owns a plan, and the lexer (Milvus
 * Plan.g4's tokens: literals with C escapes, keywords in all-lower or
 * all-upper case only, identifiers with their [..] path segments). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr_int.h"

/* ---- arena ---- */

struct ex_blk {
    struct ex_blk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

#define EX_BLK_SIZE 8192

void *ex_alloc(struct ex_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct ex_blk *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > EX_BLK_SIZE ? n : EX_BLK_SIZE;
        b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

char *ex_strndup(struct ex_arena *a, const char *s, size_t n)
{
    char *p = ex_alloc(a, n + 1);
    if (p)
        memcpy(p, s, n);
    return p;
}

void ex_arena_free(struct ex_arena *a)
{
    while (a->head) {
        struct ex_blk *b = a->head;
        a->head = b->next;
        free(b);
    }
}

/* ---- helpers ---- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident(char c)
{
    return is_ident_start(c) || is_digit(c);
}

static int hex_val(char c)
{
    if (!isxdigit((unsigned char)c))
        return -1;
    return is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
}

static void lex_error(struct ex_lexer *lx, size_t pos, const char *what)
{
    if (!lx->err[0])
        snprintf(lx->err, sizeof lx->err, "line 1:%zu %s", pos, what);
}

static size_t put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Reads `digits` hex digits at s; -1 if they are not all there. */
static int64_t read_hex(const char *s, size_t avail, size_t digits)
{
    int64_t v = 0;
    if (avail < digits)
        return -1;
    for (size_t k = 0; k < digits; k++) {
        int h = hex_val(s[k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static const char *simple_escape(char c)
{
    switch (c) {
    case 'n':
        return "\n";
    case 't':
        return "\t";
    case 'r':
        return "\r";
    case 'a':
        return "\a";
    case 'b':
        return "\b";
    case 'f':
        return "\f";
    case 'v':
        return "\v";
    case '\\':
        return "\\";
    case '\'':
        return "'";
    case '"':
        return "\"";
    case '?':
        return "?";
    default:
        return NULL;
    }
}

/* Decodes one escape after a backslash at s[0] (s[1] is the escape char).
 * Writes the bytes to out, returns the input bytes consumed or 0 on error.
 * Unknown escapes (\% and \_ in like patterns) keep their backslash so the
 * pattern compiler sees them. */
static size_t unescape_one(const char *s, size_t avail, char *out, size_t *olen)
{
    const char *simple = simple_escape(s[1]);
    if (simple) {
        out[0] = simple[0];
        *olen = 1;
        return 2;
    }
    if (s[1] == 'u' || s[1] == 'U') {
        size_t digits = s[1] == 'u' ? 4 : 8;
        int64_t cp = read_hex(s + 2, avail - 2, digits);
        if (cp < 0 || cp > 0x10ffff)
            return 0;
        *olen = put_utf8(out, (uint32_t)cp);
        return 2 + digits;
    }
    if (s[1] == 'x') {
        size_t k = 2;
        int v = 0;
        while (k < avail && k < 4 && hex_val(s[k]) >= 0)
            v = v * 16 + hex_val(s[k++]);
        if (k == 2)
            return 0;
        out[0] = (char)v;
        *olen = 1;
        return k;
    }
    if (s[1] >= '0' && s[1] <= '7') {
        size_t k = 1;
        int v = 0;
        while (k < avail && k < 4 && s[k] >= '0' && s[k] <= '7')
            v = v * 8 + (s[k++] - '0');
        out[0] = (char)v;
        *olen = 1;
        return k;
    }
    out[0] = '\\';
    out[1] = s[1];
    *olen = 2;
    return 2;
}

/* A quoted string at lx->pos (the opening quote); raw strings keep every
 * backslash. */
static bool lex_string(struct ex_lexer *lx, bool raw, const char **s_out, size_t *len_out)
{
    const char *t = lx->text;
    char q = t[lx->pos];
    size_t start = lx->pos++;
    char *buf = ex_alloc(lx->ar, lx->len - start + 1);
    size_t n = 0;
    if (!buf) {
        lx->oom = true;
        return false;
    }
    while (lx->pos < lx->len && t[lx->pos] != q) {
        char c = t[lx->pos];
        if (c == '\n' || c == '\r')
            break;
        if (c == '\\' && lx->pos + 1 < lx->len) {
            size_t olen = 0, used;
            if (raw) {
                buf[n++] = c;
                buf[n++] = t[lx->pos + 1];
                lx->pos += 2;
                continue;
            }
            used = unescape_one(t + lx->pos, lx->len - lx->pos, buf + n, &olen);
            if (!used) {
                lex_error(lx, lx->pos, "invalid escape sequence in string literal");
                return false;
            }
            n += olen;
            lx->pos += used;
            continue;
        }
        buf[n++] = c;
        lx->pos++;
    }
    if (lx->pos >= lx->len || t[lx->pos] != q) {
        lex_error(lx, start, "unterminated string literal");
        return false;
    }
    lx->pos++;
    *s_out = buf;
    *len_out = n;
    return true;
}

/* ---- numbers ---- */

static bool lex_number(struct ex_lexer *lx, struct ex_token *tok)
{
    const char *t = lx->text, *p = t + lx->pos;
    size_t k = 0;
    bool hex = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
    bool bin = p[0] == '0' && (p[1] == 'b' || p[1] == 'B');
    bool is_float = false;
    if (hex || bin)
        k = 2;
    while (lx->pos + k < lx->len) {
        char c = p[k];
        bool exp = hex ? (c == 'p' || c == 'P') : (c == 'e' || c == 'E');
        if (exp && lx->pos + k + 1 < lx->len && (p[k + 1] == '+' || p[k + 1] == '-'))
            k++, is_float = true;
        else if (c == '.' || exp)
            is_float = true;
        else if (!is_ident(c))
            break;
        k++;
    }
    char buf[128];
    if (k >= sizeof buf) {
        lex_error(lx, lx->pos, "numeric literal is too long");
        return false;
    }
    memcpy(buf, p, k);
    buf[k] = '\0';
    char *end;
    errno = 0;
    if (is_float) {
        tok->t = T_FLOAT;
        tok->d = strtod(buf, &end);
    } else {
        int base = hex ? 16 : bin ? 2 : buf[0] == '0' ? 8 : 10;
        tok->t = T_INT;
        tok->i = strtoll(buf + (hex || bin ? 2 : 0), &end, base);
        if (end == buf + 2 && (hex || bin))
            end = buf; /* "0x" alone */
    }
    if (*end || errno == ERANGE) {
        lex_error(lx, lx->pos,
                  errno == ERANGE ? "numeric literal out of range" : "invalid numeric literal");
        return false;
    }
    lx->pos += k;
    return true;
}

/* ---- words ---- */

struct kw {
    const char *lower;
    enum ex_tok t;
};

static const struct kw g_kws[] = {
    {"and", T_AND},       {"or", T_OR},   {"not", T_NOT},      {"in", T_IN},     {"like", T_LIKE},
    {"exists", T_EXISTS}, {"iso", T_ISO}, {"interval", T_ISO}, {"true", T_BOOL}, {"false", T_BOOL},
};

/* Keywords match all-lower or all-upper spellings; booleans also Title case. */
static bool word_is(const char *w, size_t n, const char *lower, bool title_ok)
{
    if (strlen(lower) != n)
        return false;
    bool lo = true, up = true, title = title_ok;
    for (size_t k = 0; k < n; k++) {
        char c = lower[k], u = (char)(c - 'a' + 'A');
        lo = lo && w[k] == c;
        up = up && w[k] == u;
        title = title && w[k] == (k ? c : u);
    }
    return lo || up || title;
}

/* "is null" / "is not null" with single spaces, all-lower or all-upper. */
static enum ex_tok lex_is(struct ex_lexer *lx)
{
    static const char *const forms[] = {"is null", "IS NULL", "is not null", "IS NOT NULL"};
    const char *p = lx->text + lx->pos;
    for (size_t k = 0; k < 4; k++) {
        size_t n = strlen(forms[k]);
        if (lx->pos + n <= lx->len && !memcmp(p, forms[k], n) &&
            (lx->pos + n == lx->len || !is_ident(p[n]))) {
            lx->pos += n;
            return k < 2 ? T_ISNULL : T_ISNOTNULL;
        }
    }
    return T_EOF;
}

/* Path segments after an identifier: ["key"], ['key'], [0]. */
static bool lex_segs(struct ex_lexer *lx, struct ex_token *tok)
{
    size_t cap = 4;
    tok->segs = ex_alloc(lx->ar, cap * sizeof *tok->segs);
    while (tok->segs && lx->pos < lx->len && lx->text[lx->pos] == '[') {
        struct ex_seg sg = {0};
        char c = lx->pos + 1 < lx->len ? lx->text[lx->pos + 1] : '\0';
        lx->pos++;
        if (c == '"' || c == '\'') {
            if (!lex_string(lx, false, &sg.s, &sg.len))
                return false;
        } else {
            size_t st = lx->pos;
            while (lx->pos < lx->len && is_ident(lx->text[lx->pos]))
                lx->pos++;
            char *end;
            sg.s = ex_strndup(lx->ar, lx->text + st, lx->pos - st);
            sg.len = lx->pos - st;
            if (!sg.s)
                break;
            sg.index = strtoll(sg.s, &end, 10);
            sg.is_index = true;
            if (!sg.len || *end || !is_digit(sg.s[0])) {
                char m[160];
                snprintf(m, sizeof m,
                         "json key must be enclosed in double quotes or single quotes: \"%.*s\"",
                         (int)(sg.len > 64 ? 64 : sg.len), sg.s);
                lex_error(lx, st, m);
                return false;
            }
        }
        if (lx->pos >= lx->len || lx->text[lx->pos] != ']') {
            lex_error(lx, lx->pos, "missing ']' in json path");
            return false;
        }
        lx->pos++;
        if (tok->nsegs == cap) {
            struct ex_seg *g = ex_alloc(lx->ar, 2 * cap * sizeof *g);
            if (!g)
                break;
            memcpy(g, tok->segs, cap * sizeof *g);
            tok->segs = g, cap *= 2;
        }
        tok->segs[tok->nsegs++] = sg;
    }
    if (!tok->segs || (tok->nsegs && !tok->segs[tok->nsegs - 1].s))
        lx->oom = true;
    return !lx->oom;
}

static bool lex_word(struct ex_lexer *lx, struct ex_token *tok)
{
    const char *t = lx->text;
    size_t st = lx->pos, n;
    if (t[st] == '$')
        lx->pos += 5; /* $meta, checked by the caller */
    else
        while (lx->pos < lx->len && is_ident(t[lx->pos]))
            lx->pos++;
    n = lx->pos - st;
    if (word_is(t + st, n, "is", false)) {
        lx->pos = st;
        if ((tok->t = lex_is(lx)) != T_EOF)
            return true;
        lx->pos = st + n;
    }
    for (size_t k = 0; k < sizeof g_kws / sizeof g_kws[0]; k++) {
        if (word_is(t + st, n, g_kws[k].lower, g_kws[k].t == T_BOOL)) {
            tok->t = g_kws[k].t;
            tok->b = tok->t == T_BOOL && (t[st] == 't' || t[st] == 'T');
            return true;
        }
    }
    if ((t[st] == 'r' || t[st] == 'R') && n == 1 && lx->pos < lx->len &&
        (t[lx->pos] == '"' || t[lx->pos] == '\'')) {
        tok->t = T_STR;
        return lex_string(lx, true, &tok->s, &tok->len);
    }
    tok->t = T_IDENT;
    tok->s = ex_strndup(lx->ar, t + st, n);
    tok->len = n;
    if (!tok->s) {
        lx->oom = true;
        return false;
    }
    if (lx->pos < lx->len && t[lx->pos] == '[') {
        tok->t = T_JSONID;
        return lex_segs(lx, tok);
    }
    return true;
}

/* ---- operators ---- */

struct op2 {
    const char *s;
    enum ex_tok t;
};

static const struct op2 g_ops[] = {
    {"**", T_POW},   {"<<", T_SHL},   {">>", T_SHR},   {"<=", T_LE},    {">=", T_GE},
    {"==", T_EQ},    {"!=", T_NE},    {"&&", T_AND},   {"||", T_OR},    {"=~", T_REGEX},
    {"!~", T_REGEX}, {"(", T_LPAREN}, {")", T_RPAREN}, {"[", T_LBRACK}, {"]", T_RBRACK},
    {"{", T_LBRACE}, {"}", T_RBRACE}, {",", T_COMMA},  {"<", T_LT},     {">", T_GT},
    {"+", T_ADD},    {"-", T_SUB},    {"*", T_MUL},    {"/", T_DIV},    {"%", T_MOD},
    {"&", T_BAND},   {"|", T_BOR},    {"^", T_BXOR},   {"~", T_BNOT},   {"!", T_NOT},
    {"=", T_ASSIGN},
};

static bool lex_op(struct ex_lexer *lx, struct ex_token *tok)
{
    const char *p = lx->text + lx->pos;
    size_t avail = lx->len - lx->pos;
    for (size_t k = 0; k < sizeof g_ops / sizeof g_ops[0]; k++) {
        size_t n = strlen(g_ops[k].s);
        if (n <= avail && !memcmp(p, g_ops[k].s, n)) {
            tok->t = g_ops[k].t;
            lx->pos += n;
            return true;
        }
    }
    char m[64];
    snprintf(m, sizeof m, "token recognition error at: '%c'", *p);
    lex_error(lx, lx->pos, m);
    return false;
}

static bool lex_any(struct ex_lexer *lx, struct ex_token *tok)
{
    const char *t = lx->text;
    char c = t[lx->pos];
    char c1 = lx->pos + 1 < lx->len ? t[lx->pos + 1] : '\0';
    if (is_digit(c) || (c == '.' && is_digit(c1)))
        return lex_number(lx, tok);
    if (c == '"' || c == '\'') {
        tok->t = T_STR;
        return lex_string(lx, false, &tok->s, &tok->len);
    }
    if (is_ident_start(c) ||
        (c == '$' && lx->len - lx->pos >= 5 && !memcmp(t + lx->pos, "$meta", 5) &&
         (lx->pos + 5 == lx->len || !is_ident(t[lx->pos + 5]))))
        return lex_word(lx, tok);
    return lex_op(lx, tok);
}

void ex_lex_next(struct ex_lexer *lx, struct ex_token *tok)
{
    memset(tok, 0, sizeof *tok);
    while (lx->pos < lx->len && strchr(" \t\r\n", lx->text[lx->pos]))
        lx->pos++;
    tok->pos = lx->pos;
    if (lx->pos < lx->len && !lex_any(lx, tok)) {
        tok->t = T_EOF;
        if (!lx->err[0] && !lx->oom)
            lex_error(lx, tok->pos, "syntax error");
    }
    tok->end = lx->pos;
}
