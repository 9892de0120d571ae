/* Primary-key filter parsing (grammar in pkfilter.h). */
#include "pkfilter.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

struct lex {
    const char *p;
};

static void skip_ws(struct lex *l)
{
    while (isspace((unsigned char)*l->p))
        l->p++;
}

static bool eat(struct lex *l, const char *tok)
{
    skip_ws(l);
    size_t n = strlen(tok);
    if (strncmp(l->p, tok, n) != 0)
        return false;
    if (isalpha((unsigned char)tok[0]) && (isalnum((unsigned char)l->p[n]) || l->p[n] == '_'))
        return false;
    l->p += n;
    return true;
}

static bool ident(struct lex *l, char *out, size_t cap)
{
    skip_ws(l);
    size_t n = 0;
    if (!isalpha((unsigned char)*l->p) && *l->p != '_')
        return false;
    while ((isalnum((unsigned char)l->p[n]) || l->p[n] == '_') && n + 1 < cap)
        n++;
    memcpy(out, l->p, n);
    out[n] = '\0';
    l->p += n;
    return true;
}

/* An integer or a quoted string literal (with backslash escapes). */
static json_t *literal(struct lex *l)
{
    skip_ws(l);
    char q = *l->p;
    if (q == '"' || q == '\'') {
        char buf[65536];
        size_t n = 0;
        for (l->p++; *l->p && *l->p != q && n + 1 < sizeof buf; l->p++) {
            if (*l->p == '\\' && l->p[1])
                l->p++;
            buf[n++] = *l->p;
        }
        if (*l->p != q)
            return NULL;
        l->p++;
        return json_stringn(buf, n);
    }
    char *end;
    long long v = strtoll(l->p, &end, 0);
    if (end == l->p || *end == '.' || *end == 'e' || *end == 'E')
        return NULL;
    l->p = end;
    return json_integer(v);
}

static json_t *list(struct lex *l)
{
    json_t *arr = json_array();
    if (!eat(l, "["))
        goto bad;
    if (eat(l, "]"))
        return arr;
    do {
        if (eat(l, "]")) /* trailing comma */
            return arr;
        json_t *v = literal(l);
        if (!v)
            goto bad;
        json_array_append_new(arr, v);
    } while (eat(l, ","));
    if (eat(l, "]"))
        return arr;
bad:
    json_decref(arr);
    return NULL;
}

static json_t *pk_expr(struct lex *l, const char *pk)
{
    char name[256];
    struct lex save = *l;
    if (eat(l, "(")) {
        json_t *inner = pk_expr(l, pk);
        if (inner && eat(l, ")"))
            return inner;
        json_decref(inner);
        *l = save;
        return NULL;
    }
    json_t *lit = literal(l);
    if (lit) { /* x == pk */
        if (eat(l, "==") && ident(l, name, sizeof name) && strcmp(name, pk) == 0)
            return json_pack("[o]", lit);
        json_decref(lit);
        return NULL;
    }
    if (!ident(l, name, sizeof name) || strcmp(name, pk) != 0)
        return NULL;
    if (eat(l, "==")) {
        lit = literal(l);
        return lit ? json_pack("[o]", lit) : NULL;
    }
    if (eat(l, "in") || eat(l, "IN"))
        return list(l);
    return NULL;
}

int tm_pkfilter_parse(const char *filter, const struct tm_schema *s, json_t **keys_out,
                      struct tm_status *st)
{
    struct lex l = {filter ? filter : ""};
    *keys_out = NULL;
    skip_ws(&l);
    if (!*l.p)
        return 0;
    const char *pk = tm_schema_pk(s)->name;
    json_t *keys = pk_expr(&l, pk);
    skip_ws(&l);
    if (keys && !*l.p) {
        *keys_out = keys;
        return 0;
    }
    json_decref(keys);
    return tm_status_set(st, TM_MV_INVALID_PARAM,
                         "failed to create query plan: cannot parse expression: %s: this server "
                         "accepts `%s in [...]` and `%s == value` until the full filter "
                         "language lands",
                         filter, pk, pk);
}
