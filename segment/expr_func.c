/* Filter expressions: resolving identifiers against the schema (fields,
 * JSON paths, array elements, dynamic keys), template values from
 * exprParams, function calls, and the constant casts every comparison uses.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "expr_int.h"

/* ---- names and casts ---- */

const char *ex_kind_name(enum ex_vkind k)
{
    switch (k) {
    case EV_BOOL:
        return "Bool";
    case EV_INT:
        return "Int64";
    case EV_FLOAT:
        return "Double";
    case EV_STR:
        return "VarChar";
    case EV_LIST:
        return "Array";
    default:
        return "None";
    }
}

const char *ex_type_name(enum tm_dtype t)
{
    const char *n = tm_dtype_name(t);
    return n ? n : "None";
}

const char *ex_val_text(const struct ex_val *v, char *buf, size_t cap)
{
    switch (v->k) {
    case EV_BOOL:
        snprintf(buf, cap, "%s", v->b ? "true" : "false");
        break;
    case EV_INT:
        snprintf(buf, cap, "%lld", (long long)v->i);
        break;
    case EV_FLOAT:
        snprintf(buf, cap, "%.17g", v->d);
        break;
    case EV_STR:
        snprintf(buf, cap, "\"%.*s\"", (int)(v->len > 64 ? 64 : v->len), v->s);
        break;
    default:
        snprintf(buf, cap, "[...]");
    }
    return buf;
}

static bool is_int_type(enum tm_dtype t)
{
    return t >= TM_T_INT8 && t <= TM_T_INT64;
}

/* Milvus casts a constant to the column's type before comparing: integers
 * widen to floats, a Float column's constants round to float32 (so
 * `f == 0.1` matches the stored 0.1f), and an integer column takes a float
 * only when it has no fractional part (Milvus refuses every float there;
 * we accept 2.0 as 2). */
bool ex_cast_const(struct ex_parser *p, enum tm_dtype t, const struct ex_val *v, struct ex_val *out)
{
    char buf[96];
    *out = *v;
    if (t == TM_T_JSON && v->k != EV_LIST)
        return true;
    if ((t == TM_T_BOOL && v->k == EV_BOOL) || (t == TM_T_VARCHAR && v->k == EV_STR))
        return true;
    if (is_int_type(t) && v->k == EV_INT)
        return true;
    if (is_int_type(t) && v->k == EV_FLOAT && v->d == floor(v->d) && fabs(v->d) < 9.2e18) {
        *out = (struct ex_val){.k = EV_INT, .i = (int64_t)v->d};
        return true;
    }
    if ((t == TM_T_FLOAT || t == TM_T_DOUBLE) && (v->k == EV_INT || v->k == EV_FLOAT)) {
        double d = v->k == EV_INT ? (double)v->i : v->d;
        *out = (struct ex_val){.k = EV_FLOAT, .d = t == TM_T_FLOAT ? (double)(float)d : d};
        return true;
    }
    ex_fail(p, "cannot cast value to %s, value: %s", ex_type_name(t),
            ex_val_text(v, buf, sizeof buf));
    return false;
}

/* ---- identifiers ---- */

static void note_field(struct ex_parser *p, int64_t fid)
{
    for (size_t k = 0; k < p->nfids; k++)
        if (p->fids[k] == fid)
            return;
    if (p->nfids < TM_BATCH_MAX_COLS)
        p->fids[p->nfids++] = fid;
}

/* The path array of a JSON reference: an optional leading dynamic key,
 * then the segments (index segments as their decimal text). */
static bool set_path(struct ex_parser *p, struct ex_ref *r, const char *lead,
                     const struct ex_token *t)
{
    size_t n = t->nsegs + (lead ? 1 : 0), k = 0;
    const char **path = ex_alloc(p->ar, (n + 1) * sizeof *path);
    if (!path)
        return ex_oom(p), false;
    if (lead)
        path[k++] = lead;
    for (size_t s = 0; s < t->nsegs; s++)
        path[k++] = t->segs[s].s;
    r->path = path;
    r->npath = n;
    return true;
}

static bool array_elem_ref(struct ex_parser *p, const struct tm_field *f, const struct ex_token *t,
                           struct ex_ref *r)
{
    if (t->nsegs != 1 || !t->segs[0].is_index) {
        if (!t->segs[0].is_index)
            return ex_fail(p, "can only access array field with integer index"), false;
        return ex_fail(p, "array field %s supports only one level of index", f->name), false;
    }
    r->k = REF_ELEM;
    r->index = t->segs[0].index;
    return true;
}

static bool field_ref(struct ex_parser *p, const struct tm_field *f, const struct ex_token *t,
                      struct ex_ref *r)
{
    r->fid = f->id;
    r->type = f->type;
    r->elem = f->elem_type;
    r->k = f->type == TM_T_JSON ? REF_JSON : REF_COL;
    if (t->t != T_JSONID)
        return true;
    if (f->type == TM_T_JSON)
        return set_path(p, r, NULL, t);
    if (f->type == TM_T_ARRAY)
        return array_elem_ref(p, f, t, r);
    ex_fail(p, "%s data type not supported accessed with []", ex_type_name(f->type));
    return false;
}

struct ex_pres *ex_b_ident(struct ex_parser *p, const struct ex_token *t)
{
    struct ex_pres *x = ex_pres_new(p, PR_COL, t->pos, t->end);
    if (!x)
        return NULL;
    x->dep = true;
    bool meta = !strcmp(t->s, TM_META_FIELD);
    const struct tm_field *f = meta ? NULL : tm_schema_field(p->s, t->s);
    if (f) {
        if (!field_ref(p, f, t, &x->ref))
            return NULL;
    } else if (!p->s->dynamic) {
        return ex_fail(p, "field %s not exist", t->s);
    } else {
        x->ref = (struct ex_ref){.k = REF_JSON, .fid = TM_META_FIELD_ID, .type = TM_T_JSON};
        if (!set_path(p, &x->ref, meta ? NULL : t->s, t))
            return NULL;
    }
    note_field(p, x->ref.fid);
    return x;
}

/* ---- templates ---- */

/* exprParams typing (§7.4): bool, string, integer -> int64, real -> double,
 * arrays -> lists (nested lists allowed). */
static bool json_const(struct ex_parser *p, const json_t *j, struct ex_val *v, int depth)
{
    memset(v, 0, sizeof *v);
    if (json_is_boolean(j)) {
        v->k = EV_BOOL, v->b = json_is_true(j);
    } else if (json_is_integer(j)) {
        v->k = EV_INT, v->i = json_integer_value(j);
    } else if (json_is_real(j)) {
        v->k = EV_FLOAT, v->d = json_real_value(j);
    } else if (json_is_string(j)) {
        v->k = EV_STR, v->s = json_string_value(j), v->len = json_string_length(j);
        if (!(v->s = ex_strndup(p->ar, v->s, v->len)))
            return ex_oom(p), false;
    } else if (json_is_array(j) && depth < EX_MAX_DEPTH) {
        size_t n = json_array_size(j);
        struct ex_val *items = ex_alloc(p->ar, (n + 1) * sizeof *items);
        if (!items)
            return ex_oom(p), false;
        for (size_t k = 0; k < n; k++)
            if (!json_const(p, json_array_get(j, k), &items[k], depth + 1))
                return false;
        v->k = EV_LIST, v->items = items, v->n = n;
    } else {
        return false;
    }
    return true;
}

struct ex_pres *ex_b_template(struct ex_parser *p, const char *name, size_t pos, size_t end)
{
    const json_t *j = json_is_object(p->params) ? json_object_get(p->params, name) : NULL;
    struct ex_pres *x = ex_pres_new(p, PR_CONST, pos, end);
    if (!x)
        return NULL;
    if (!j)
        return ex_fail(p, "the value of expression template variable name {%s} is not found", name);
    x->dep = x->tmpl = true;
    if (!json_const(p, j, &x->v, 0))
        return p->rc ? NULL
                     : ex_fail(p,
                               "the value of expression template variable name {%s} has an "
                               "unsupported type",
                               name);
    return x;
}

/* ---- function calls ---- */

static bool name_is(const char *name, const char *lower)
{
    size_t n = strlen(lower);
    if (strlen(name) != n)
        return false;
    bool lo = true, up = true;
    for (size_t k = 0; k < n; k++) {
        lo = lo && name[k] == lower[k];
        up =
            up && name[k] == (lower[k] >= 'a' && lower[k] <= 'z' ? lower[k] - 'a' + 'A' : lower[k]);
    }
    return lo || up;
}

static const char *span(const struct ex_parser *p, const struct ex_pres *x, int *len)
{
    *len = (int)(x->end - x->pos);
    return p->lx.text + x->pos;
}

static bool contains_target(const struct ex_pres *x)
{
    return x->k == PR_COL && !x->ref.length &&
           (x->ref.k == REF_JSON || (x->ref.k == REF_COL && x->ref.type == TM_T_ARRAY));
}

/* Array fields check each element against the element type (Milvus's
 * checkContainsElement); JSON paths take any scalar. */
static bool contains_elems(struct ex_parser *p, const struct ex_pres *col, enum ex_contains ck,
                           const struct ex_val *in, struct ex_val *out)
{
    static const char *const opn[] = {"Contains", "ContainsAll", "ContainsAny"};
    enum tm_dtype et = col->ref.k == REF_JSON ? TM_T_JSON : col->ref.elem;
    if (ck == CT_ONE)
        return ex_cast_const(p, et, in, out);
    if (in->k != EV_LIST)
        return ex_fail(p, "%s operation element must be an array", opn[ck]), false;
    struct ex_val *items = ex_alloc(p->ar, (in->n + 1) * sizeof *items);
    if (!items)
        return ex_oom(p), false;
    for (size_t k = 0; k < in->n; k++) {
        const struct ex_val *v = &in->items[k];
        bool num = v->k == EV_INT || v->k == EV_FLOAT;
        bool ok = et == TM_T_JSON || (et == TM_T_BOOL && v->k == EV_BOOL) ||
                  (et == TM_T_VARCHAR && v->k == EV_STR) ||
                  ((is_int_type(et) || et == TM_T_FLOAT || et == TM_T_DOUBLE) && num);
        if (!ok)
            return ex_fail(p, "%s operation can't compare between array element type: %s and %s",
                           opn[ck], ex_type_name(et), ex_kind_name(v->k)),
                   false;
        items[k] = *v;
        if (v->k == EV_FLOAT && et == TM_T_FLOAT)
            items[k].d = (double)(float)v->d;
    }
    *out = (struct ex_val){.k = EV_LIST, .items = items, .n = in->n};
    return true;
}

static struct ex_pres *b_contains(struct ex_parser *p, enum ex_contains ck, struct ex_pres **a,
                                  size_t n)
{
    static const char *const what[] = {"contains", "contains_all", "contains_any"};
    int len;
    const char *txt;
    if (n != 2)
        return ex_fail(p, "%s operation takes two arguments", what[ck]);
    if (!contains_target(a[0]))
        return txt = span(p, a[0], &len),
               ex_fail(p, "%s operation are only supported on json or array fields now, got: %.*s",
                       what[ck], len, txt);
    if (a[1]->k != PR_CONST)
        return txt = span(p, a[1], &len),
               ex_fail(p, "%s operation are only supported explicitly specified element, got: %.*s",
                       what[ck], len, txt);
    if (ck == CT_ONE && a[1]->v.k == EV_LIST)
        return ex_fail(p, "json_contains with a list element is not supported yet");
    struct ex_pres *x = ex_pres_new(p, PR_PRED, a[0]->pos, a[1]->end);
    struct ex_node *e = x ? ex_alloc(p->ar, sizeof *e) : NULL;
    if (!e)
        return ex_oom(p);
    *e = (struct ex_node){.k = EX_CONTAINS, .ref = a[0]->ref, .ck = ck};
    if (!contains_elems(p, a[0], ck, &a[1]->v, &e->v))
        return NULL;
    x->node = e;
    return x;
}

static struct ex_pres *b_array_length(struct ex_parser *p, struct ex_pres **a, size_t n, size_t pos,
                                      size_t end)
{
    if (n != 1 || !contains_target(a[0]))
        return ex_fail(p,
                       "array_length operation are only supported on json or array fields now, "
                       "got: %.*s",
                       (int)(end - pos), p->lx.text + pos);
    struct ex_pres *x = ex_pres_new(p, PR_COL, pos, end);
    if (x) {
        x->dep = true;
        x->ref = a[0]->ref;
        x->ref.length = true;
    }
    return x;
}

int ex_func_id(const char *name)
{
    static const char *const fam[] = {"contains", "contains_all", "contains_any"};
    char buf[32];
    for (int k = 0; k < 3; k++) {
        snprintf(buf, sizeof buf, "json_%s", fam[k]);
        bool json = name_is(name, buf);
        snprintf(buf, sizeof buf, "array_%s", fam[k]);
        if (json || name_is(name, buf))
            return k;
    }
    return name_is(name, "array_length") ? 3 : -1;
}

struct ex_pres *ex_b_call(struct ex_parser *p, const char *name, struct ex_pres **args,
                          size_t nargs, size_t pos, size_t end)
{
    int id = ex_func_id(name);
    if (id == 3)
        return b_array_length(p, args, nargs, pos, end);
    if (id >= 0)
        return b_contains(p, (enum ex_contains)id, args, nargs);
    /* text_match, phrase_match, random_sample, st_*, element_filter,
     * match_*, and scalar functions are refused (docs/decisions.md). */
    return ex_fail(p, "function %s is not supported yet", name);
}
