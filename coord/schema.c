/* Schema type rules and msgpack codec. */
#include "schema.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    enum tm_dtype t;
    const char *name;
} g_types[] = {
    {TM_T_BOOL, "Bool"},
    {TM_T_INT8, "Int8"},
    {TM_T_INT16, "Int16"},
    {TM_T_INT32, "Int32"},
    {TM_T_INT64, "Int64"},
    {TM_T_FLOAT, "Float"},
    {TM_T_DOUBLE, "Double"},
    {TM_T_VARCHAR, "VarChar"},
    {TM_T_ARRAY, "Array"},
    {TM_T_JSON, "JSON"},
    {TM_T_BINARY_VECTOR, "BinaryVector"},
    {TM_T_FLOAT_VECTOR, "FloatVector"},
    {TM_T_FLOAT16_VECTOR, "Float16Vector"},
    {TM_T_BFLOAT16_VECTOR, "BFloat16Vector"},
    {TM_T_SPARSE_VECTOR, "SparseFloatVector"},
    {TM_T_INT8_VECTOR, "Int8Vector"},
};

const char *tm_dtype_name(enum tm_dtype t)
{
    for (size_t i = 0; i < sizeof g_types / sizeof g_types[0]; i++)
        if (g_types[i].t == t)
            return g_types[i].name;
    return NULL;
}

enum tm_dtype tm_dtype_parse(const char *name)
{
    for (size_t i = 0; i < sizeof g_types / sizeof g_types[0]; i++)
        if (strcmp(g_types[i].name, name) == 0)
            return g_types[i].t;
    return TM_T_NONE;
}

bool tm_dtype_is_vector(enum tm_dtype t)
{
    return t >= TM_T_BINARY_VECTOR && t <= TM_T_INT8_VECTOR;
}

bool tm_dtype_is_scalar_number(enum tm_dtype t)
{
    return (t >= TM_T_INT8 && t <= TM_T_INT64) || t == TM_T_FLOAT || t == TM_T_DOUBLE;
}

uint32_t tm_field_width(const struct tm_field *f)
{
    switch (f->type) {
    case TM_T_BOOL:
    case TM_T_INT8:
        return 1;
    case TM_T_INT16:
        return 2;
    case TM_T_INT32:
    case TM_T_FLOAT:
        return 4;
    case TM_T_INT64:
    case TM_T_DOUBLE:
        return 8;
    case TM_T_FLOAT_VECTOR:
        return (uint32_t)f->dim * 4;
    case TM_T_FLOAT16_VECTOR:
    case TM_T_BFLOAT16_VECTOR:
        return (uint32_t)f->dim * 2;
    case TM_T_BINARY_VECTOR:
        return (uint32_t)f->dim / 8;
    case TM_T_INT8_VECTOR:
        return (uint32_t)f->dim;
    default:
        return 0;
    }
}

/* ---- values and key/value lists ---- */

void tm_value_free(struct tm_value *v)
{
    free(v->s);
    memset(v, 0, sizeof *v);
}

int tm_value_copy(struct tm_value *dst, const struct tm_value *src)
{
    *dst = *src;
    if (src->s && !(dst->s = strdup(src->s)))
        return TM_ENOMEM;
    return 0;
}

bool tm_value_equal(const struct tm_value *a, const struct tm_value *b)
{
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case TM_V_BOOL:
        return a->b == b->b;
    case TM_V_INT:
        return a->i == b->i;
    case TM_V_DOUBLE:
        return a->d == b->d;
    case TM_V_STR:
        return strcmp(a->s, b->s) == 0;
    default:
        return true;
    }
}

void tm_kvs_free(struct tm_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

const char *tm_kvs_get(const struct tm_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return kv[i].value;
    return NULL;
}

int tm_kvs_set(struct tm_kv **kv, size_t *n, const char *key, const char *value)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp((*kv)[i].key, key) == 0) {
            char *v = strdup(value);
            if (!v)
                return TM_ENOMEM;
            free((*kv)[i].value);
            (*kv)[i].value = v;
            return 0;
        }
    }
    struct tm_kv *grown = realloc(*kv, (*n + 1) * sizeof **kv);
    if (!grown)
        return TM_ENOMEM;
    *kv = grown;
    grown[*n].key = strdup(key);
    grown[*n].value = strdup(value);
    if (!grown[*n].key || !grown[*n].value) {
        free(grown[*n].key);
        free(grown[*n].value);
        return TM_ENOMEM;
    }
    (*n)++;
    return 0;
}

static int kvs_copy(struct tm_kv **dst, size_t *ndst, const struct tm_kv *src, size_t n)
{
    *dst = NULL;
    *ndst = 0;
    for (size_t i = 0; i < n; i++)
        if (tm_kvs_set(dst, ndst, src[i].key, src[i].value))
            return TM_ENOMEM;
    return 0;
}

/* ---- schema ---- */

static void field_free(struct tm_field *f)
{
    free(f->description);
    tm_value_free(&f->default_value);
    tm_kvs_free(f->params, f->nparams);
}

void tm_schema_free(struct tm_schema *s)
{
    for (size_t i = 0; i < s->nfields; i++)
        field_free(&s->fields[i]);
    free(s->fields);
    free(s->description);
    memset(s, 0, sizeof *s);
}

int tm_schema_copy(struct tm_schema *dst, const struct tm_schema *src)
{
    *dst = *src;
    dst->description = NULL;
    dst->fields = calloc(src->nfields ? src->nfields : 1, sizeof *dst->fields);
    if (!dst->fields)
        return TM_ENOMEM;
    dst->nfields = 0;
    int rc = 0;
    if (src->description && !(dst->description = strdup(src->description)))
        rc = TM_ENOMEM;
    for (size_t i = 0; i < src->nfields && !rc; i++) {
        struct tm_field *f = &dst->fields[i];
        *f = src->fields[i];
        f->description = NULL;
        f->params = NULL;
        f->nparams = 0;
        f->default_value.s = NULL;
        dst->nfields++;
        if (src->fields[i].description && !(f->description = strdup(src->fields[i].description)))
            rc = TM_ENOMEM;
        if (!rc)
            rc = tm_value_copy(&f->default_value, &src->fields[i].default_value);
        if (!rc)
            rc = kvs_copy(&f->params, &f->nparams, src->fields[i].params, src->fields[i].nparams);
    }
    if (rc)
        tm_schema_free(dst);
    return rc;
}

const struct tm_field *tm_schema_field(const struct tm_schema *s, const char *name)
{
    for (size_t i = 0; i < s->nfields; i++)
        if (strcmp(s->fields[i].name, name) == 0)
            return &s->fields[i];
    return NULL;
}

const struct tm_field *tm_schema_field_by_id(const struct tm_schema *s, int64_t id)
{
    for (size_t i = 0; i < s->nfields; i++)
        if (s->fields[i].id == id)
            return &s->fields[i];
    return NULL;
}

const struct tm_field *tm_schema_pk(const struct tm_schema *s)
{
    return &s->fields[s->pk];
}

static bool field_equal(const struct tm_field *a, const struct tm_field *b)
{
    return strcmp(a->name, b->name) == 0 && a->type == b->type && a->elem_type == b->elem_type &&
           a->primary == b->primary && a->partition_key == b->partition_key &&
           a->auto_id == b->auto_id && a->nullable == b->nullable && a->dim == b->dim &&
           a->max_length == b->max_length && a->max_capacity == b->max_capacity &&
           tm_value_equal(&a->default_value, &b->default_value);
}

bool tm_schema_equal(const struct tm_schema *a, const struct tm_schema *b)
{
    if (a->auto_id != b->auto_id || a->dynamic != b->dynamic || a->nfields != b->nfields)
        return false;
    for (size_t i = 0; i < a->nfields; i++)
        if (!field_equal(&a->fields[i], &b->fields[i]))
            return false;
    return true;
}
