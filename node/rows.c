/* JSON rows to columnar batches (rules in rows.h and milvus-rest-v2.md §3.2). */
#include "rows.h"
#include "rows_int.h"
#include "base64.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define INSERT_ERR(st, ...)                                                                        \
    tm_status_set(st, TM_MV_BAD_INSERT, "fail to deal the insert data, error: " __VA_ARGS__)
#define JSON_FIELD_MAX 65536

size_t tm_rows_count(const json_t *data)
{
    return json_is_array(data) ? json_array_size(data) : json_is_object(data) ? 1 : 0;
}

/* ---- scalar conversions (lenient, like Milvus's REST layer) ---- */

static bool parse_int(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return false;
    *out = x;
    return true;
}

static bool parse_double(const json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return true;
    }
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    char *end;
    *out = strtod(s, &end);
    return end != s && !*end;
}

static bool parse_bool(const json_t *v, bool *out)
{
    static const char *yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *no[] = {"0", "f", "F", "FALSE", "false", "False"};
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return true;
    }
    if (!json_is_string(v))
        return false;
    for (int i = 0; i < 6; i++) {
        if (strcmp(json_string_value(v), yes[i]) == 0)
            return *out = true;
        if (strcmp(json_string_value(v), no[i]) == 0)
            return !(*out = false);
    }
    return false;
}

static size_t utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

/* ---- one value per type ---- */

struct cell {
    const struct tm_field *f;
    const json_t *v;
    size_t row;
    struct tm_col *col;
    struct tm_status *st;
};

static int push_int(struct cell *c)
{
    static const int64_t lo[] = {INT8_MIN, INT16_MIN, INT32_MIN};
    static const int64_t hi[] = {INT8_MAX, INT16_MAX, INT32_MAX};
    int64_t x;
    if (!parse_int(c->v, &x))
        return INSERT_ERR(c->st, "failed to parse value of field %s in row %zu as %s", c->f->name,
                          c->row, tm_dtype_name(c->f->type));
    int k = c->f->type - TM_T_INT8;
    if (c->f->type != TM_T_INT64 && (x < lo[k] || x > hi[k]))
        return tm_status_set(c->st, TM_MV_INVALID_PARAM,
                             "the value %lld of field %s in row %zu is out of range of %s",
                             (long long)x, c->f->name, c->row, tm_dtype_name(c->f->type));
    int8_t i8 = (int8_t)x;
    int16_t i16 = (int16_t)x;
    int32_t i32 = (int32_t)x;
    const void *p = k == 0   ? (const void *)&i8
                    : k == 1 ? (const void *)&i16
                    : k == 2 ? (const void *)&i32
                             : (const void *)&x;
    return tm_col_push(c->col, p, c->col->width);
}

static int push_real(struct cell *c)
{
    double d;
    if (!parse_double(c->v, &d))
        return INSERT_ERR(c->st, "failed to parse value of field %s in row %zu as %s", c->f->name,
                          c->row, tm_dtype_name(c->f->type));
    if (!isfinite(d) || (c->f->type == TM_T_FLOAT && !isfinite((float)d)))
        return tm_status_set(c->st, TM_MV_INVALID_PARAM,
                             "value of field %s in row %zu is not a finite number", c->f->name,
                             c->row);
    float f = (float)d;
    return tm_col_push(c->col, c->f->type == TM_T_FLOAT ? (const void *)&f : (const void *)&d,
                       c->col->width);
}

static int push_bool(struct cell *c)
{
    bool b;
    if (!parse_bool(c->v, &b))
        return INSERT_ERR(c->st, "failed to parse value of field %s in row %zu as Bool", c->f->name,
                          c->row);
    uint8_t u = b;
    return tm_col_push(c->col, &u, 1);
}

static int push_varchar(struct cell *c)
{
    char num[64];
    const char *s;
    size_t len;
    if (json_is_string(c->v)) {
        s = json_string_value(c->v);
        len = json_string_length(c->v);
    } else if (json_is_integer(c->v) || json_is_real(c->v) || json_is_boolean(c->v)) {
        char *t = json_dumps(c->v, JSON_ENCODE_ANY | JSON_COMPACT);
        snprintf(num, sizeof num, "%s", t ? t : "");
        free(t);
        s = num;
        len = strlen(num);
    } else {
        return INSERT_ERR(c->st, "failed to parse value of field %s in row %zu as VarChar",
                          c->f->name, c->row);
    }
    size_t chars = utf8_chars(s, len);
    if ((int64_t)chars > c->f->max_length)
        return tm_status_set(c->st, TM_MV_INVALID_PARAM,
                             "length of varchar field %s exceeds max length, row number: %zu, "
                             "length: %zu, max length: %lld",
                             c->f->name, c->row, chars, (long long)c->f->max_length);
    return tm_col_push(c->col, s, len);
}

static int push_json(struct cell *c)
{
    json_t *parsed = NULL;
    const json_t *v = c->v;
    if (json_is_string(v)) {
        parsed = json_loadb(json_string_value(v), json_string_length(v), JSON_DECODE_ANY, NULL);
        if (!parsed)
            return INSERT_ERR(c->st, "field %s in row %zu is not valid JSON", c->f->name, c->row);
        v = parsed;
    }
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(parsed);
    if (!text)
        return TM_ENOMEM;
    size_t len = strlen(text);
    int rc = len > JSON_FIELD_MAX
                 ? tm_status_set(c->st, TM_MV_INVALID_PARAM,
                                 "json field %s in row %zu exceeds the max length %d", c->f->name,
                                 c->row, JSON_FIELD_MAX)
                 : tm_col_push(c->col, text, len);
    free(text);
    return rc;
}

static bool int_fits(enum tm_dtype t, int64_t x)
{
    switch (t) {
    case TM_T_INT8:
        return x >= INT8_MIN && x <= INT8_MAX;
    case TM_T_INT16:
        return x >= INT16_MIN && x <= INT16_MAX;
    case TM_T_INT32:
        return x >= INT32_MIN && x <= INT32_MAX;
    default:
        return true;
    }
}

static int push_array(struct cell *c)
{
    if (!json_is_array(c->v))
        return INSERT_ERR(c->st, "field %s in row %zu must be an array", c->f->name, c->row);
    size_t n = json_array_size(c->v);
    if ((int64_t)n > c->f->max_capacity)
        return tm_status_set(c->st, TM_MV_INVALID_PARAM,
                             "array length %zu of field %s in row %zu exceeds max capacity %lld", n,
                             c->f->name, c->row, (long long)c->f->max_capacity);
    struct tm_mpw w;
    tm_mpw_init(&w);
    tm_mpw_array(&w, (uint32_t)n);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const json_t *e = json_array_get(c->v, i);
        enum tm_dtype t = c->f->elem_type;
        int64_t x;
        double d;
        bool b;
        if (t == TM_T_BOOL && parse_bool(e, &b))
            tm_mpw_bool(&w, b);
        else if (t >= TM_T_INT8 && t <= TM_T_INT64 && json_is_integer(e) && parse_int(e, &x) &&
                 int_fits(t, x))
            tm_mpw_int(&w, x);
        else if (t == TM_T_FLOAT && json_is_number(e) && parse_double(e, &d))
            tm_mpw_float(&w, (float)d);
        else if (t == TM_T_DOUBLE && json_is_number(e) && parse_double(e, &d))
            tm_mpw_double(&w, d);
        else if (t == TM_T_VARCHAR && json_is_string(e) &&
                 (int64_t)utf8_chars(json_string_value(e), json_string_length(e)) <=
                     c->f->max_length)
            tm_mpw_str(&w, json_string_value(e), json_string_length(e));
        else
            rc = INSERT_ERR(c->st, "element %zu of array field %s in row %zu is not a valid %s", i,
                            c->f->name, c->row, tm_dtype_name(t));
    }
    if (!rc)
        rc = tm_mpw_error(&w) ? TM_ENOMEM : tm_col_push(c->col, w.buf.data, w.buf.len);
    tm_mpw_free(&w);
    return rc;
}

static uint16_t float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = x >> 16 & 0x8000, exp = x >> 23 & 0xff, man = x & 0x7fffff;
    if (exp == 0xff)
        return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 31)
        return (uint16_t)(sign | 0x7c00);
    if (e <= 0) {
        if (e < -10)
            return (uint16_t)sign;
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t h = man >> shift;
        if ((man >> (shift - 1)) & 1)
            h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = sign | (uint32_t)e << 10 | man >> 13;
    if (man & 0x1000)
        h++; /* round half up; carries into the exponent correctly */
    return (uint16_t)h;
}

static uint16_t float_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    x += 0x7fff + (x >> 16 & 1); /* round to nearest even */
    return (uint16_t)(x >> 16);
}

static int dim_error(struct cell *c, size_t got)
{
    return INSERT_ERR(c->st, "[]%s size %zu doesn't equal to vector dimension %lld of %s",
                      c->f->type == TM_T_BINARY_VECTOR ? "byte" : "float32", got,
                      (long long)c->f->dim, tm_dtype_name(c->f->type));
}

/* A base64 string holding exactly the column width in bytes. */
static int push_base64(struct cell *c)
{
    struct tm_buf raw;
    tm_buf_init(&raw);
    int rc = tm_base64_decode(json_string_value(c->v), json_string_length(c->v), &raw);
    if (rc || raw.len != c->col->width)
        rc = INSERT_ERR(c->st, "field %s in row %zu: base64 vector of %zu bytes, expected %u",
                        c->f->name, c->row, raw.len, c->col->width);
    else
        rc = tm_col_push(c->col, raw.data, raw.len);
    tm_buf_free(&raw);
    return rc;
}

static int push_dense(struct cell *c)
{
    if (json_is_string(c->v) && c->f->type != TM_T_FLOAT_VECTOR && c->f->type != TM_T_INT8_VECTOR)
        return push_base64(c);
    if (!json_is_array(c->v))
        return INSERT_ERR(c->st, "vector field %s in row %zu must be an array", c->f->name, c->row);
    size_t n = json_array_size(c->v);
    size_t want = c->f->type == TM_T_BINARY_VECTOR ? (size_t)c->f->dim / 8 : (size_t)c->f->dim;
    if (n != want)
        return dim_error(c, n);
    uint8_t stack[4096];
    uint8_t *buf = c->col->width <= sizeof stack ? stack : malloc(c->col->width);
    if (!buf)
        return TM_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const json_t *e = json_array_get(c->v, i);
        double d = json_number_value(e);
        bool ok = json_is_number(e) && isfinite(d) && isfinite((float)d);
        float f = (float)d;
        uint16_t h;
        switch (c->f->type) {
        case TM_T_FLOAT_VECTOR:
            memcpy(buf + i * 4, &f, 4);
            break;
        case TM_T_FLOAT16_VECTOR:
            h = float_to_half(f), memcpy(buf + i * 2, &h, 2);
            break;
        case TM_T_BFLOAT16_VECTOR:
            h = float_to_bf16(f), memcpy(buf + i * 2, &h, 2);
            break;
        case TM_T_INT8_VECTOR:
            ok = json_is_integer(e) && d >= -128 && d <= 127;
            buf[i] = (uint8_t)(int8_t)d;
            break;
        default:
            ok = json_is_integer(e) && d >= 0 && d <= 255;
            buf[i] = (uint8_t)d;
        }
        if (!ok)
            rc = INSERT_ERR(c->st, "element %zu of vector field %s in row %zu is not valid", i,
                            c->f->name, c->row);
    }
    if (!rc)
        rc = tm_col_push(c->col, buf, c->col->width);
    if (buf != stack)
        free(buf);
    return rc;
}

struct sparse_pair {
    uint32_t idx;
    float val;
};

static int cmp_pair(const void *a, const void *b)
{
    uint32_t x = ((const struct sparse_pair *)a)->idx, y = ((const struct sparse_pair *)b)->idx;
    return (x > y) - (x < y);
}

/* Sparse vectors: {"idx": value, ...} (dok) or {"indices": [...], "values": [...]} (coo),
 * stored as (uint32 index, float32 value) pairs sorted by index. */
static int push_sparse(struct cell *c)
{
    const json_t *ind = json_object_get(c->v, "indices"), *vals = json_object_get(c->v, "values");
    bool coo = json_is_array(ind) && json_is_array(vals);
    size_t n = coo ? json_array_size(ind) : json_object_size(c->v);
    if (!json_is_object(c->v) || (coo && json_array_size(vals) != n))
        return INSERT_ERR(c->st, "sparse vector field %s in row %zu is malformed", c->f->name,
                          c->row);
    struct sparse_pair *p = calloc(n ? n : 1, sizeof *p);
    if (!p)
        return TM_ENOMEM;
    size_t i = 0;
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach((json_t *)c->v, key, v)
    {
        if (coo)
            break;
        char *end;
        unsigned long long idx = strtoull(key, &end, 10);
        if (*end || end == key || idx >= UINT32_MAX || !json_is_number(v))
            rc = 1;
        p[i++] = (struct sparse_pair){(uint32_t)idx, (float)json_number_value(v)};
    }
    for (i = 0; coo && i < n; i++) {
        json_int_t idx = json_integer_value(json_array_get(ind, i));
        if (!json_is_integer(json_array_get(ind, i)) || idx < 0 || idx >= UINT32_MAX ||
            !json_is_number(json_array_get(vals, i)))
            rc = 1;
        p[i] =
            (struct sparse_pair){(uint32_t)idx, (float)json_number_value(json_array_get(vals, i))};
    }
    for (i = 0; i < n && !rc; i++)
        rc = !isfinite(p[i].val);
    qsort(p, n, sizeof *p, cmp_pair);
    for (i = 1; i < n && !rc; i++)
        rc = p[i].idx == p[i - 1].idx;
    rc = rc ? INSERT_ERR(c->st, "sparse vector field %s in row %zu has an invalid index or value",
                         c->f->name, c->row)
            : tm_col_push(c->col, p, n * sizeof *p);
    free(p);
    return rc;
}

static int push_value(struct cell *c)
{
    switch (c->f->type) {
    case TM_T_BOOL:
        return push_bool(c);
    case TM_T_INT8:
    case TM_T_INT16:
    case TM_T_INT32:
    case TM_T_INT64:
        return push_int(c);
    case TM_T_FLOAT:
    case TM_T_DOUBLE:
        return push_real(c);
    case TM_T_VARCHAR:
        return push_varchar(c);
    case TM_T_JSON:
        return push_json(c);
    case TM_T_ARRAY:
        return push_array(c);
    case TM_T_SPARSE_VECTOR:
        return push_sparse(c);
    default:
        return push_dense(c);
    }
}

int tm_rows_value_to_col(const struct tm_field *f, const json_t *v, size_t row, struct tm_col *col,
                         struct tm_status *st)
{
    struct cell c = {.f = f, .v = v, .row = row, .col = col, .st = st};
    return push_value(&c);
}

/* ---- rows ---- */

static json_t *default_json(const struct tm_value *v)
{
    switch (v->kind) {
    case TM_V_BOOL:
        return json_boolean(v->b);
    case TM_V_INT:
        return json_integer(v->i);
    case TM_V_DOUBLE:
        return json_real(v->d);
    case TM_V_STR:
        return json_string(v->s);
    default:
        return json_null();
    }
}

static int push_missing(struct cell *c)
{
    const struct tm_field *f = c->f;
    if (f->default_value.kind != TM_V_NONE) {
        json_t *d = default_json(&f->default_value);
        c->v = d;
        int rc = d ? push_value(c) : TM_ENOMEM;
        json_decref(d);
        return rc;
    }
    if (f->nullable)
        return tm_col_push_null(c->col);
    if (tm_dtype_is_vector(f->type))
        return INSERT_ERR(c->st, "missing vector field: %s", f->name);
    return INSERT_ERR(c->st,
                      "field %s is missing or null in row %zu, but it is neither nullable "
                      "nor has a default value",
                      f->name, c->row);
}

static int push_dynamic(const struct tm_schema *s, const json_t *row, size_t r, struct tm_col *meta,
                        struct tm_status *st)
{
    json_t *obj = meta ? json_object() : NULL;
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach((json_t *)row, key, v)
    {
        if (tm_schema_field(s, key))
            continue;
        if (!meta)
            rc = INSERT_ERR(st, "has pass more field without dynamic schema, please check it: "
                                "invalid parameter");
        else if (strcmp(key, TM_META_FIELD) == 0)
            rc = INSERT_ERR(st, "row %zu uses the reserved key %s", r, TM_META_FIELD);
        else if (!json_is_null(v))
            json_object_set(obj, key, v);
        if (rc)
            break;
    }
    if (!rc && meta) {
        char *text = json_dumps(obj, JSON_COMPACT);
        rc = text ? tm_col_push(meta, text, strlen(text)) : TM_ENOMEM;
        free(text);
    }
    json_decref(obj);
    return rc;
}

/* In a merge, a sent null means null for a nullable field, the default for
 * a field with one, and is refused otherwise. */
static int push_partial_null(struct cell *c)
{
    if (c->f->nullable || c->f->default_value.kind != TM_V_NONE)
        return push_missing(c);
    return INSERT_ERR(c->st,
                      "field %s in row %zu is set to null, but it is neither nullable nor "
                      "has a default value",
                      c->f->name, c->row);
}

/* One row into out's columns. A field without a column in out (merge mode:
 * not sent by row 0) must be absent from the row too. fast: per schema
 * field, its value already read from the request text (rows_int.h), or
 * NULL (fast itself may be NULL). */
int tm_rows_push_row(const struct tm_schema *s, const json_t *row, size_t r, const int64_t *gen_ids,
                     bool partial, const float *const *fast, struct tm_batch *out,
                     struct tm_status *st)
{
    if (!json_is_object(row))
        return INSERT_ERR(st, "row %zu is not a JSON object", r);
    for (size_t i = 0; i < s->nfields; i++) {
        const struct tm_field *f = &s->fields[i];
        struct cell c = {f, json_object_get(row, f->name), r, tm_batch_col(out, f->id), st};
        int rc;
        if (f->primary && gen_ids && c.v)
            return INSERT_ERR(st, "no need to pass pk field(%s) when autoid==true in insert",
                              f->name);
        if (partial && !f->primary && (!c.col) != (!c.v))
            return INSERT_ERR(st,
                              "a partial update needs every row to carry the same fields: "
                              "row %zu %s field %s",
                              r, c.v ? "adds" : "lacks", f->name);
        if (!c.col)
            continue;
        if (fast && fast[i])
            rc = tm_col_push(c.col, fast[i], c.col->width);
        else if (f->primary && gen_ids)
            rc = tm_col_push(c.col, &gen_ids[r], 8);
        else if (partial && !f->primary && json_is_null(c.v))
            rc = push_partial_null(&c);
        else if (!c.v || json_is_null(c.v))
            rc = push_missing(&c);
        else
            rc = push_value(&c);
        if (rc)
            return rc;
    }
    return push_dynamic(s, row, r, tm_batch_col(out, TM_META_FIELD_ID), st);
}

static int push_rows(const struct tm_schema *s, const json_t *data, const int64_t *gen_ids,
                     bool partial, struct tm_batch *out, struct tm_status *st)
{
    size_t n = tm_rows_count(data);
    for (size_t r = 0; r < n; r++) {
        const json_t *row = json_is_array(data) ? json_array_get(data, r) : data;
        int rc = tm_rows_push_row(s, row, r, gen_ids, partial, NULL, out, st);
        if (rc)
            return rc == TM_ESTATUS ? rc : tm_status_set(st, TM_MV_INTERNAL, "%s", tm_strerror(rc));
        out->nrows++;
    }
    return 0;
}

int tm_rows_from_json(const struct tm_schema *s, const json_t *data, const int64_t *gen_ids,
                      struct tm_batch *out, struct tm_status *st)
{
    if (tm_rows_count(data) == 0)
        return INSERT_ERR(st, "data must be a non-empty array of row objects");
    if (tm_batch_layout_from_schema(out, s))
        return TM_EINVAL;
    return push_rows(s, data, gen_ids, false, out, st);
}

int tm_rows_partial_from_json(const struct tm_schema *s, const json_t *data, const int64_t *gen_ids,
                              struct tm_batch *out, struct tm_status *st)
{
    const json_t *row0 = json_is_array(data) ? json_array_get(data, 0) : data;
    if (tm_rows_count(data) == 0 || !json_is_object(row0))
        return INSERT_ERR(st, "data must be a non-empty array of row objects");
    for (size_t i = 0; i < s->nfields; i++) {
        const struct tm_field *f = &s->fields[i];
        if ((f->primary || json_object_get(row0, f->name)) &&
            !tm_batch_add_col(out, f->id, f->type, tm_field_width(f), f->nullable))
            return TM_EINVAL;
    }
    if (s->dynamic && !tm_batch_add_col(out, TM_META_FIELD_ID, TM_T_JSON, 0, false))
        return TM_EINVAL;
    return push_rows(s, data, gen_ids, true, out, st);
}

int tm_pks_from_json(const struct tm_field *pk, const json_t *ids, struct tm_batch *out,
                     struct tm_status *st)
{
    struct tm_col *col = tm_batch_add_col(out, pk->id, pk->type, tm_field_width(pk), false);
    size_t n = json_is_array(ids) ? json_array_size(ids) : 1;
    for (size_t i = 0; col && i < n; i++) {
        const json_t *v = json_is_array(ids) ? json_array_get(ids, i) : ids;
        int64_t x;
        int rc;
        if (pk->type == TM_T_INT64 && parse_int(v, &x))
            rc = tm_col_push(col, &x, 8);
        else if (pk->type == TM_T_VARCHAR && json_is_string(v))
            rc = tm_col_push(col, json_string_value(v), json_string_length(v));
        else
            return tm_status_set(st, TM_MV_BAD_PK,
                                 "please check the primary key and its' type can only in "
                                 "[int, string]: the key at position %zu is not a valid %s",
                                 i, tm_dtype_name(pk->type));
        if (rc)
            return tm_status_set(st, TM_MV_INTERNAL, "out of memory");
        out->nrows++;
    }
    return 0;
}
