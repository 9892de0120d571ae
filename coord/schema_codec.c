/* msgpack form of schemas, values and key/value lists.
 *
 * Layout (format version 1): a schema is a map
 *   {"auto_id": bool, "dynamic": bool, "desc": str|nil, "fields": [field...]}
 * and a field a map of short keys (see field_encode). Decoders skip unknown
 * keys, so a newer writer may add keys without breaking older readers.
 */
#include "schema.h"

#include <stdlib.h>
#include <string.h>

#define KEY_IS(k, n, lit) ((n) == sizeof(lit) - 1 && memcmp((k), (lit), (n)) == 0)

static char *dup_n(const char *s, uint32_t n)
{
    char *d = malloc((size_t)n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Reads a string or nil into a fresh heap string (NULL for nil). */
static int read_dup(struct tm_mpr *r, char **out)
{
    const char *s;
    uint32_t n;
    *out = NULL;
    if (tm_mpr_nil(r))
        return 0;
    if (tm_mpr_str(r, &s, &n))
        return r->err;
    return (*out = dup_n(s, n)) ? 0 : TM_ENOMEM;
}

void tm_value_encode(struct tm_mpw *w, const struct tm_value *v)
{
    switch (v->kind) {
    case TM_V_BOOL:
        tm_mpw_bool(w, v->b);
        break;
    case TM_V_INT:
        tm_mpw_int(w, v->i);
        break;
    case TM_V_DOUBLE:
        tm_mpw_double(w, v->d);
        break;
    case TM_V_STR:
        tm_mpw_cstr(w, v->s);
        break;
    default:
        tm_mpw_nil(w);
        break;
    }
}

int tm_value_decode(struct tm_mpr *r, struct tm_value *v)
{
    memset(v, 0, sizeof *v);
    switch (tm_mpr_peek(r)) {
    case TM_MP_NIL:
        tm_mpr_nil(r);
        return 0;
    case TM_MP_BOOL:
        v->kind = TM_V_BOOL;
        return tm_mpr_bool(r, &v->b);
    case TM_MP_UINT:
    case TM_MP_INT:
        v->kind = TM_V_INT;
        return tm_mpr_int(r, &v->i);
    case TM_MP_FLOAT:
        v->kind = TM_V_DOUBLE;
        return tm_mpr_double(r, &v->d);
    case TM_MP_STR:
        v->kind = TM_V_STR;
        return read_dup(r, &v->s);
    default:
        return r->err ? r->err : TM_ECORRUPT;
    }
}

void tm_kvs_encode(struct tm_mpw *w, const struct tm_kv *kv, size_t n)
{
    tm_mpw_array(w, (uint32_t)n * 2);
    for (size_t i = 0; i < n; i++) {
        tm_mpw_cstr(w, kv[i].key);
        tm_mpw_cstr(w, kv[i].value);
    }
}

int tm_kvs_decode(struct tm_mpr *r, struct tm_kv **kv_out, size_t *n_out)
{
    uint32_t n;
    *kv_out = NULL;
    *n_out = 0;
    if (tm_mpr_array(r, &n) || n % 2)
        return r->err ? r->err : TM_ECORRUPT;
    if (n == 0)
        return 0;
    struct tm_kv *kv = calloc(n / 2, sizeof *kv);
    if (!kv)
        return TM_ENOMEM;
    int rc = 0;
    for (uint32_t i = 0; i < n / 2 && !rc; i++) {
        rc = read_dup(r, &kv[i].key);
        if (!rc)
            rc = read_dup(r, &kv[i].value);
        if (!rc && (!kv[i].key || !kv[i].value))
            rc = TM_ECORRUPT;
    }
    if (rc) {
        tm_kvs_free(kv, n / 2);
        return rc;
    }
    *kv_out = kv;
    *n_out = n / 2;
    return 0;
}

static void field_encode(struct tm_mpw *w, const struct tm_field *f)
{
    tm_mpw_map(w, 13);
    tm_mpw_cstr(w, "id"), tm_mpw_int(w, f->id);
    tm_mpw_cstr(w, "name"), tm_mpw_cstr(w, f->name);
    tm_mpw_cstr(w, "desc"), tm_mpw_cstr(w, f->description);
    tm_mpw_cstr(w, "type"), tm_mpw_int(w, f->type);
    tm_mpw_cstr(w, "elem"), tm_mpw_int(w, f->elem_type);
    tm_mpw_cstr(w, "flags");
    tm_mpw_uint(w, (uint64_t)(f->primary | f->partition_key << 1 | f->clustering_key << 2 |
                              f->auto_id << 3 | f->nullable << 4));
    tm_mpw_cstr(w, "dim"), tm_mpw_int(w, f->dim);
    tm_mpw_cstr(w, "maxlen"), tm_mpw_int(w, f->max_length);
    tm_mpw_cstr(w, "maxcap"), tm_mpw_int(w, f->max_capacity);
    tm_mpw_cstr(w, "hasdef"), tm_mpw_bool(w, f->default_value.kind != TM_V_NONE);
    tm_mpw_cstr(w, "def"), tm_value_encode(w, &f->default_value);
    tm_mpw_cstr(w, "params"), tm_kvs_encode(w, f->params, f->nparams);
    tm_mpw_cstr(w, "v"), tm_mpw_uint(w, 1);
}

static int field_key(struct tm_mpr *r, struct tm_field *f, const char *k, uint32_t n)
{
    int64_t i = 0;
    uint64_t u = 0;
    if (KEY_IS(k, n, "id"))
        return tm_mpr_int(r, &f->id);
    if (KEY_IS(k, n, "name"))
        return tm_mpr_str_copy(r, f->name, sizeof f->name);
    if (KEY_IS(k, n, "desc"))
        return read_dup(r, &f->description);
    if (KEY_IS(k, n, "type") || KEY_IS(k, n, "elem")) {
        int rc = tm_mpr_int(r, &i);
        *(KEY_IS(k, n, "type") ? &f->type : &f->elem_type) = (enum tm_dtype)i;
        return rc;
    }
    if (KEY_IS(k, n, "flags")) {
        int rc = tm_mpr_uint(r, &u);
        f->primary = u & 1, f->partition_key = u >> 1 & 1, f->clustering_key = u >> 2 & 1;
        f->auto_id = u >> 3 & 1, f->nullable = u >> 4 & 1;
        return rc;
    }
    if (KEY_IS(k, n, "dim"))
        return tm_mpr_int(r, &f->dim);
    if (KEY_IS(k, n, "maxlen"))
        return tm_mpr_int(r, &f->max_length);
    if (KEY_IS(k, n, "maxcap"))
        return tm_mpr_int(r, &f->max_capacity);
    if (KEY_IS(k, n, "def"))
        return tm_value_decode(r, &f->default_value);
    if (KEY_IS(k, n, "params"))
        return tm_kvs_decode(r, &f->params, &f->nparams);
    return tm_mpr_skip(r);
}

static int field_decode(struct tm_mpr *r, struct tm_field *f)
{
    uint32_t n, kn;
    const char *k;
    if (tm_mpr_map(r, &n))
        return r->err;
    for (uint32_t i = 0; i < n; i++) {
        if (tm_mpr_str(r, &k, &kn))
            return r->err;
        int rc = field_key(r, f, k, kn);
        if (rc)
            return rc;
    }
    return r->err;
}

void tm_schema_encode(struct tm_mpw *w, const struct tm_schema *s)
{
    tm_mpw_map(w, 5);
    tm_mpw_cstr(w, "auto_id"), tm_mpw_bool(w, s->auto_id);
    tm_mpw_cstr(w, "dynamic"), tm_mpw_bool(w, s->dynamic);
    tm_mpw_cstr(w, "desc"), tm_mpw_cstr(w, s->description);
    tm_mpw_cstr(w, "pk"), tm_mpw_int(w, s->pk);
    tm_mpw_cstr(w, "fields"), tm_mpw_array(w, (uint32_t)s->nfields);
    for (size_t i = 0; i < s->nfields; i++)
        field_encode(w, &s->fields[i]);
}

static int fields_decode(struct tm_mpr *r, struct tm_schema *s)
{
    uint32_t n;
    if (tm_mpr_array(r, &n))
        return r->err;
    if (n == 0 || n > TM_MAX_FIELDS)
        return TM_ECORRUPT;
    s->fields = calloc(n, sizeof *s->fields);
    if (!s->fields)
        return TM_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        s->nfields++;
        int rc = field_decode(r, &s->fields[i]);
        if (rc)
            return rc;
    }
    return 0;
}

int tm_schema_decode(struct tm_mpr *r, struct tm_schema *s)
{
    uint32_t n, kn;
    const char *k;
    int64_t pk = 0;
    memset(s, 0, sizeof *s);
    int rc = tm_mpr_map(r, &n);
    for (uint32_t i = 0; i < n && !rc; i++) {
        if ((rc = tm_mpr_str(r, &k, &kn)))
            break;
        if (KEY_IS(k, kn, "auto_id"))
            rc = tm_mpr_bool(r, &s->auto_id);
        else if (KEY_IS(k, kn, "dynamic"))
            rc = tm_mpr_bool(r, &s->dynamic);
        else if (KEY_IS(k, kn, "desc"))
            rc = read_dup(r, &s->description);
        else if (KEY_IS(k, kn, "pk"))
            rc = tm_mpr_int(r, &pk);
        else if (KEY_IS(k, kn, "fields"))
            rc = fields_decode(r, s);
        else
            rc = tm_mpr_skip(r);
    }
    if (!rc && (s->nfields == 0 || pk < 0 || (size_t)pk >= s->nfields))
        rc = TM_ECORRUPT;
    if (rc) {
        tm_schema_free(s);
        return rc;
    }
    s->pk = (int)pk;
    return 0;
}
