/* Schema type rules (milvus-rest-v2.md §3.1). Messages follow Milvus where
 * clients match on them; all failures are code 1100 (invalid parameter). */
#include "schema.h"

#include <ctype.h>
#include <string.h>

#define BAD(st, ...) tm_status_set(st, TM_MV_INVALID_PARAM, __VA_ARGS__)

/* Milvus names: a letter or underscore, then letters, digits, underscores. */
bool tm_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 255 || !(isalpha((unsigned char)name[0]) || name[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)name[i]) || name[i] == '_'))
            return false;
    return true;
}

static int check_dim(const struct tm_field *f, struct tm_status *st)
{
    if (f->type == TM_T_SPARSE_VECTOR) {
        if (f->dim)
            return BAD(st, "dim should not be specified for sparse vector field %s", f->name);
        return 0;
    }
    int64_t max = f->type == TM_T_BINARY_VECTOR ? 262144 : 32768;
    if (f->dim <= 0)
        return BAD(st,
                   "dimension is not defined in field type params of field %s, please "
                   "check it: invalid parameter",
                   f->name);
    if (f->dim < 2 || f->dim > max)
        return BAD(st,
                   "invalid dimension: %lld of field %s. float vector dimension should be "
                   "in range 2 ~ %lld: invalid parameter",
                   (long long)f->dim, f->name, (long long)max);
    if (f->type == TM_T_BINARY_VECTOR && f->dim % 8)
        return BAD(st,
                   "invalid dimension: %lld of field %s. binary vector dimension should be "
                   "multiple of 8: invalid parameter",
                   (long long)f->dim, f->name);
    return 0;
}

static int check_array(const struct tm_field *f, struct tm_status *st)
{
    enum tm_dtype e = f->elem_type;
    if (e == TM_T_NONE || e == TM_T_ARRAY || e == TM_T_JSON || tm_dtype_is_vector(e))
        return BAD(st, "element data type %s is not valid for array field %s",
                   tm_dtype_name(e) ? tm_dtype_name(e) : "None", f->name);
    if (f->max_capacity <= 0 || f->max_capacity > 4096)
        return BAD(st,
                   "the maximum capacity specified for a Array should be in (0, 4096], "
                   "field: %s",
                   f->name);
    if (e == TM_T_VARCHAR && (f->max_length <= 0 || f->max_length > 65535))
        return BAD(st,
                   "type param(max_length) should be specified for the field(%s) of "
                   "collection",
                   f->name);
    return 0;
}

static int check_default(const struct tm_field *f, struct tm_status *st)
{
    const struct tm_value *v = &f->default_value;
    if (v->kind == TM_V_NONE)
        return 0;
    if (f->primary)
        return BAD(st, "primary field %s can not have default value", f->name);
    bool ok;
    switch (f->type) {
    case TM_T_BOOL:
        ok = v->kind == TM_V_BOOL;
        break;
    case TM_T_INT8:
        ok = v->kind == TM_V_INT && v->i >= INT8_MIN && v->i <= INT8_MAX;
        break;
    case TM_T_INT16:
        ok = v->kind == TM_V_INT && v->i >= INT16_MIN && v->i <= INT16_MAX;
        break;
    case TM_T_INT32:
        ok = v->kind == TM_V_INT && v->i >= INT32_MIN && v->i <= INT32_MAX;
        break;
    case TM_T_INT64:
        ok = v->kind == TM_V_INT;
        break;
    case TM_T_FLOAT:
    case TM_T_DOUBLE:
        ok = v->kind == TM_V_DOUBLE || v->kind == TM_V_INT;
        break;
    case TM_T_VARCHAR:
        ok = v->kind == TM_V_STR && (int64_t)strlen(v->s) <= f->max_length;
        break;
    default:
        return BAD(st, "type not support default value, type:%s, name:%s", tm_dtype_name(f->type),
                   f->name);
    }
    if (!ok)
        return BAD(st, "type (%s) of field (%s) is not equal to the type(%s) of default_value",
                   tm_dtype_name(f->type), f->name,
                   v->kind == TM_V_STR    ? "string"
                   : v->kind == TM_V_BOOL ? "bool"
                                          : "number");
    return 0;
}

static int check_field(struct tm_field *f, struct tm_status *st)
{
    if (!tm_name_valid(f->name))
        return BAD(st,
                   "Invalid field name: %s. the first character of a field name must be an "
                   "underscore or letter, and it can only contain letters, numbers and "
                   "underscores: invalid parameter",
                   f->name);
    if (f->type == TM_T_NONE)
        return BAD(st, "data type of field %s is invalid", f->name);
    if (f->primary && f->type != TM_T_INT64 && f->type != TM_T_VARCHAR)
        return BAD(st, "the data type of primary key should be Int64 or VarChar");
    if (f->primary && f->nullable)
        return BAD(st, "primary field not support null");
    if (!f->primary && f->auto_id)
        return BAD(st, "only primary field can speficy AutoID with true, field name = %s", f->name);
    if (tm_dtype_is_vector(f->type)) {
        if (f->nullable)
            return BAD(st, "vector type not support null, type:%s, name:%s", tm_dtype_name(f->type),
                       f->name);
        int rc = check_dim(f, st);
        if (rc)
            return rc;
    }
    if (f->type == TM_T_VARCHAR && (f->max_length <= 0 || f->max_length > 65535))
        return BAD(st,
                   "the maximum length specified for the field(%s) should be in (0, 65535], "
                   "but got %lld instead: invalid parameter",
                   f->name, (long long)f->max_length);
    if (f->type == TM_T_ARRAY) {
        int rc = check_array(f, st);
        if (rc)
            return rc;
    }
    return check_default(f, st);
}

int tm_schema_validate(struct tm_schema *s, struct tm_status *st)
{
    if (s->nfields == 0)
        return BAD(st, "schema does not contain any field");
    if (s->nfields > TM_MAX_FIELDS)
        return BAD(st, "maximum field's number should be limited to %d", TM_MAX_FIELDS);
    int npk = 0, nvec = 0;
    for (size_t i = 0; i < s->nfields; i++) {
        struct tm_field *f = &s->fields[i];
        f->id = TM_FIELD_ID_BASE + (int64_t)i;
        if (f->primary) {
            s->pk = (int)i;
            f->auto_id = s->auto_id;
            npk++;
        }
        nvec += tm_dtype_is_vector(f->type);
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->fields[j].name, f->name) == 0)
                return BAD(st, "duplicated field name %s found", f->name);
        int rc = check_field(f, st);
        if (rc)
            return rc;
    }
    if (npk != 1)
        return BAD(st,
                   npk ? "there are more than one primary key" : "primary key is not specified");
    if (nvec == 0)
        return BAD(st, "schema does not contain vector field: invalid parameter");
    return 0;
}
