/* Collection schemas (coord/schema.h): the type rules of tm_schema_validate
 * (milvus-rest-v2.md §3.1), the msgpack round trip, copies and equality,
 * type names and widths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "tm_err.h"

/* ---- building schemas ---- */

static void schema_new(struct tm_schema *s)
{
    memset(s, 0, sizeof *s);
    s->fields = calloc(TM_MAX_FIELDS + 8, sizeof *s->fields);
    assert_non_null(s->fields);
}

static struct tm_field *add(struct tm_schema *s, const char *name, enum tm_dtype type)
{
    assert_true(s->nfields < TM_MAX_FIELDS + 8);
    struct tm_field *f = &s->fields[s->nfields++];
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    f->type = type;
    return f;
}

static struct tm_field *add_vec(struct tm_schema *s, const char *name, enum tm_dtype type,
                                int64_t dim)
{
    struct tm_field *f = add(s, name, type);
    f->dim = dim;
    return f;
}

/* id Int64 primary key + v FloatVector dim 4. */
static void schema_base(struct tm_schema *s)
{
    schema_new(s);
    add(s, "id", TM_T_INT64)->primary = true;
    add_vec(s, "v", TM_T_FLOAT_VECTOR, 4);
}

static void set_str(struct tm_value *v, const char *text)
{
    v->kind = TM_V_STR;
    v->s = strdup(text);
    assert_non_null(v->s);
}

/* Validates s and frees it; returns the rc and fills st. */
static int validate_free(struct tm_schema *s, struct tm_status *st)
{
    tm_status_ok(st);
    int rc = tm_schema_validate(s, st);
    tm_schema_free(s);
    return rc;
}

#define EXPECT_OK(s)                                                                               \
    do {                                                                                           \
        struct tm_status st_;                                                                      \
        int rc_ = validate_free((s), &st_);                                                        \
        if (rc_)                                                                                   \
            fail_msg("line %d: refused: %d %s", __LINE__, st_.code, st_.msg);                      \
    } while (0)

/* Refused with code 1100 and a message containing `sub`. */
#define EXPECT_BAD(s, sub)                                                                         \
    do {                                                                                           \
        struct tm_status st_;                                                                      \
        int rc_ = validate_free((s), &st_);                                                        \
        if (rc_ != TM_ESTATUS)                                                                     \
            fail_msg("line %d: accepted (rc %d), want \"%s\"", __LINE__, rc_, (sub));              \
        assert_int_equal(st_.code, TM_MV_INVALID_PARAM);                                           \
        if (!strstr(st_.msg, (sub)))                                                               \
            fail_msg("line %d: message \"%s\" lacks \"%s\"", __LINE__, st_.msg, (sub));            \
    } while (0)

/* ---- validation ---- */

static void test_valid_schema_gets_ids(void **state)
{
    (void)state;
    struct tm_schema s;
    struct tm_status st;
    schema_new(&s);
    add(&s, "title", TM_T_VARCHAR)->max_length = 64;
    add_vec(&s, "v", TM_T_FLOAT_VECTOR, 8);
    add(&s, "pk", TM_T_INT64)->primary = true;
    s.auto_id = true;
    assert_int_equal(tm_schema_validate(&s, &st), 0);
    assert_int_equal(s.fields[0].id, TM_FIELD_ID_BASE);
    assert_int_equal(s.fields[1].id, TM_FIELD_ID_BASE + 1);
    assert_int_equal(s.fields[2].id, TM_FIELD_ID_BASE + 2);
    assert_int_equal(s.pk, 2);
    assert_string_equal(tm_schema_pk(&s)->name, "pk");
    assert_true(tm_schema_pk(&s)->auto_id); /* schema autoID applies to the pk */
    assert_false(s.fields[0].auto_id);
    assert_ptr_equal(tm_schema_field(&s, "v"), &s.fields[1]);
    assert_ptr_equal(tm_schema_field_by_id(&s, 102), &s.fields[2]);
    assert_null(tm_schema_field(&s, "V"));
    assert_null(tm_schema_field_by_id(&s, 99));
    tm_schema_free(&s);
}

static void test_primary_key_rules(void **state)
{
    (void)state;
    struct tm_schema s;
    /* none */
    schema_new(&s);
    add(&s, "id", TM_T_INT64);
    add_vec(&s, "v", TM_T_FLOAT_VECTOR, 4);
    EXPECT_BAD(&s, "primary key is not specified");
    /* two */
    schema_base(&s);
    add(&s, "id2", TM_T_INT64)->primary = true;
    EXPECT_BAD(&s, "more than one primary key");
    /* types */
    static const enum tm_dtype bad_types[] = {TM_T_INT32,  TM_T_INT8, TM_T_FLOAT,
                                              TM_T_DOUBLE, TM_T_BOOL, TM_T_JSON};
    for (size_t k = 0; k < sizeof bad_types / sizeof bad_types[0]; k++) {
        schema_new(&s);
        add(&s, "id", bad_types[k])->primary = true;
        add_vec(&s, "v", TM_T_FLOAT_VECTOR, 4);
        EXPECT_BAD(&s, "primary key should be Int64 or VarChar");
    }
    schema_new(&s);
    struct tm_field *f = add(&s, "id", TM_T_VARCHAR);
    f->primary = true;
    f->max_length = 36;
    add_vec(&s, "v", TM_T_FLOAT_VECTOR, 4);
    EXPECT_OK(&s);
    /* not nullable */
    schema_base(&s);
    s.fields[0].nullable = true;
    EXPECT_BAD(&s, "primary field not support null");
    /* no default value */
    schema_base(&s);
    s.fields[0].default_value = (struct tm_value){.kind = TM_V_INT, .i = 1};
    EXPECT_BAD(&s, "can not have default value");
    schema_new(&s);
    f = add(&s, "id", TM_T_VARCHAR);
    f->primary = true;
    f->max_length = 8;
    set_str(&f->default_value, "x");
    add_vec(&s, "v", TM_T_FLOAT_VECTOR, 4);
    EXPECT_BAD(&s, "can not have default value");
    /* AutoID on another field */
    schema_base(&s);
    add(&s, "n", TM_T_INT64)->auto_id = true;
    EXPECT_BAD(&s, "only primary field can speficy AutoID");
}

static void expect_dim(enum tm_dtype t, int64_t dim, bool ok, const char *sub)
{
    struct tm_schema s;
    schema_base(&s);
    add_vec(&s, "w", t, dim);
    if (ok) {
        EXPECT_OK(&s);
    } else {
        EXPECT_BAD(&s, sub);
    }
}

static void test_vector_dims(void **state)
{
    (void)state;
    static const enum tm_dtype dense[] = {TM_T_FLOAT_VECTOR, TM_T_FLOAT16_VECTOR,
                                          TM_T_BFLOAT16_VECTOR, TM_T_INT8_VECTOR};
    for (size_t k = 0; k < sizeof dense / sizeof dense[0]; k++) {
        expect_dim(dense[k], 0, false, "dimension is not defined");
        expect_dim(dense[k], -4, false, "dimension is not defined");
        expect_dim(dense[k], 1, false, "invalid dimension: 1");
        expect_dim(dense[k], 2, true, NULL);
        expect_dim(dense[k], 768, true, NULL);
        expect_dim(dense[k], 32768, true, NULL);
        expect_dim(dense[k], 32769, false, "invalid dimension: 32769");
    }
    expect_dim(TM_T_BINARY_VECTOR, 0, false, "dimension is not defined");
    expect_dim(TM_T_BINARY_VECTOR, 8, true, NULL);
    expect_dim(TM_T_BINARY_VECTOR, 12, false, "multiple of 8");
    expect_dim(TM_T_BINARY_VECTOR, 4, false, "invalid dimension");
    expect_dim(TM_T_BINARY_VECTOR, 32768 + 8, true, NULL); /* binary goes up to 262144 */
    expect_dim(TM_T_BINARY_VECTOR, 262144, true, NULL);
    expect_dim(TM_T_BINARY_VECTOR, 262152, false, "invalid dimension");
    /* sparse: no dim at all */
    expect_dim(TM_T_SPARSE_VECTOR, 0, true, NULL);
    expect_dim(TM_T_SPARSE_VECTOR, 4, false, "dim should not be specified for sparse");
    /* vectors are never nullable */
    struct tm_schema s;
    schema_base(&s);
    s.fields[1].nullable = true;
    EXPECT_BAD(&s, "vector type not support null");
    schema_base(&s);
    add_vec(&s, "sp", TM_T_SPARSE_VECTOR, 0)->nullable = true;
    EXPECT_BAD(&s, "vector type not support null");
}

static void expect_varchar(int64_t max_length, bool ok)
{
    struct tm_schema s;
    schema_base(&s);
    add(&s, "t", TM_T_VARCHAR)->max_length = max_length;
    if (ok) {
        EXPECT_OK(&s);
    } else {
        EXPECT_BAD(&s, "maximum length specified for the field(t)");
    }
}

static void test_varchar_max_length(void **state)
{
    (void)state;
    expect_varchar(0, false);
    expect_varchar(-1, false);
    expect_varchar(1, true);
    expect_varchar(65535, true);
    expect_varchar(65536, false);
    /* the pk too */
    struct tm_schema s;
    schema_new(&s);
    struct tm_field *f = add(&s, "id", TM_T_VARCHAR);
    f->primary = true;
    add_vec(&s, "v", TM_T_FLOAT_VECTOR, 4);
    EXPECT_BAD(&s, "maximum length");
}

static struct tm_field *add_array(struct tm_schema *s, enum tm_dtype elem, int64_t cap)
{
    struct tm_field *f = add(s, "arr", TM_T_ARRAY);
    f->elem_type = elem;
    f->max_capacity = cap;
    return f;
}

static void test_array_rules(void **state)
{
    (void)state;
    struct tm_schema s;
    static const enum tm_dtype ok_elems[] = {TM_T_BOOL,  TM_T_INT8,  TM_T_INT16, TM_T_INT32,
                                             TM_T_INT64, TM_T_FLOAT, TM_T_DOUBLE};
    for (size_t k = 0; k < sizeof ok_elems / sizeof ok_elems[0]; k++) {
        schema_base(&s);
        add_array(&s, ok_elems[k], 16);
        EXPECT_OK(&s);
    }
    static const enum tm_dtype bad_elems[] = {TM_T_NONE,          TM_T_ARRAY,
                                              TM_T_JSON,          TM_T_FLOAT_VECTOR,
                                              TM_T_SPARSE_VECTOR, TM_T_BINARY_VECTOR};
    for (size_t k = 0; k < sizeof bad_elems / sizeof bad_elems[0]; k++) {
        schema_base(&s);
        add_array(&s, bad_elems[k], 16);
        EXPECT_BAD(&s, "is not valid for array field arr");
    }
    /* capacity in (0, 4096] */
    schema_base(&s);
    add_array(&s, TM_T_INT64, 0);
    EXPECT_BAD(&s, "maximum capacity");
    schema_base(&s);
    add_array(&s, TM_T_INT64, 4097);
    EXPECT_BAD(&s, "maximum capacity");
    schema_base(&s);
    add_array(&s, TM_T_INT64, 1);
    EXPECT_OK(&s);
    schema_base(&s);
    add_array(&s, TM_T_INT64, 4096);
    EXPECT_OK(&s);
    /* VarChar elements need max_length */
    schema_base(&s);
    add_array(&s, TM_T_VARCHAR, 4);
    EXPECT_BAD(&s, "max_length");
    schema_base(&s);
    add_array(&s, TM_T_VARCHAR, 4)->max_length = 65536;
    EXPECT_BAD(&s, "max_length");
    schema_base(&s);
    add_array(&s, TM_T_VARCHAR, 4)->max_length = 10;
    EXPECT_OK(&s);
}

static void expect_default(enum tm_dtype t, struct tm_value v, bool ok)
{
    struct tm_schema s;
    schema_base(&s);
    struct tm_field *f = add(&s, "d", t);
    f->max_length = 3; /* VarChar */
    f->default_value = v;
    if (t == TM_T_ARRAY)
        f->elem_type = TM_T_INT64, f->max_capacity = 4;
    if (tm_dtype_is_vector(t) && t != TM_T_SPARSE_VECTOR)
        f->dim = 8;
    if (ok) {
        EXPECT_OK(&s);
    } else {
        EXPECT_BAD(&s, "default");
    }
}

static struct tm_value vint(int64_t i)
{
    return (struct tm_value){.kind = TM_V_INT, .i = i};
}

static struct tm_value vdbl(double d)
{
    return (struct tm_value){.kind = TM_V_DOUBLE, .d = d};
}

static struct tm_value vbool(bool b)
{
    return (struct tm_value){.kind = TM_V_BOOL, .b = b};
}

static struct tm_value vstr(const char *text)
{
    struct tm_value v = {0};
    set_str(&v, text);
    return v;
}

static void test_default_values(void **state)
{
    (void)state;
    expect_default(TM_T_BOOL, vbool(true), true);
    expect_default(TM_T_BOOL, vint(1), false);
    expect_default(TM_T_BOOL, vstr("true"), false);
    expect_default(TM_T_INT8, vint(127), true);
    expect_default(TM_T_INT8, vint(-128), true);
    expect_default(TM_T_INT8, vint(128), false);
    expect_default(TM_T_INT8, vint(-129), false);
    expect_default(TM_T_INT16, vint(32767), true);
    expect_default(TM_T_INT16, vint(32768), false);
    expect_default(TM_T_INT32, vint(INT32_MIN), true);
    expect_default(TM_T_INT32, vint((int64_t)INT32_MAX + 1), false);
    expect_default(TM_T_INT64, vint(INT64_MIN), true);
    expect_default(TM_T_INT64, vdbl(1.5), false);
    expect_default(TM_T_INT64, vstr("1"), false);
    expect_default(TM_T_INT32, vbool(true), false);
    expect_default(TM_T_FLOAT, vdbl(1.5), true);
    expect_default(TM_T_FLOAT, vint(2), true);
    expect_default(TM_T_DOUBLE, vdbl(-1e300), true);
    expect_default(TM_T_DOUBLE, vstr("1.5"), false);
    expect_default(TM_T_VARCHAR, vstr("abc"), true); /* max_length 3 */
    expect_default(TM_T_VARCHAR, vstr(""), true);
    expect_default(TM_T_VARCHAR, vstr("abcd"), false);
    expect_default(TM_T_VARCHAR, vint(1), false);
    expect_default(TM_T_JSON, vstr("{}"), false);
    expect_default(TM_T_ARRAY, vint(1), false);
    expect_default(TM_T_FLOAT_VECTOR, vdbl(0), false);
    expect_default(TM_T_SPARSE_VECTOR, vdbl(0), false);
    /* a nullable field may also have a default */
    struct tm_schema s;
    schema_base(&s);
    struct tm_field *f = add(&s, "n", TM_T_INT32);
    f->nullable = true;
    f->default_value = vint(5);
    EXPECT_OK(&s);
}

static void test_names(void **state)
{
    (void)state;
    char long_name[300];
    memset(long_name, 'a', sizeof long_name);
    long_name[255] = '\0';
    assert_true(tm_name_valid(long_name)); /* 255 characters */
    long_name[255] = 'a';
    long_name[256] = '\0';
    assert_false(tm_name_valid(long_name));
    static const char *good[] = {"a", "_", "_a1", "A_b_9", "vector"};
    static const char *bad[] = {"", "1a", "a-b", "a b", "$meta", "a.b", "é", "a$"};
    for (size_t k = 0; k < sizeof good / sizeof good[0]; k++)
        assert_true(tm_name_valid(good[k]));
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        assert_false(tm_name_valid(bad[k]));
        struct tm_schema s;
        schema_base(&s);
        add(&s, bad[k], TM_T_INT64);
        EXPECT_BAD(&s, "Invalid field name");
    }
    /* duplicates, even between a scalar and a vector */
    struct tm_schema s;
    schema_base(&s);
    add(&s, "v", TM_T_INT64);
    EXPECT_BAD(&s, "duplicated field name v");
    schema_base(&s);
    add(&s, "x", TM_T_INT64);
    add(&s, "x", TM_T_INT32);
    EXPECT_BAD(&s, "duplicated field name x");
    /* names are case-sensitive: id and ID are two fields */
    schema_base(&s);
    add(&s, "ID", TM_T_INT64);
    EXPECT_OK(&s);
}

static void test_field_counts_and_vectors(void **state)
{
    (void)state;
    struct tm_schema s;
    schema_new(&s);
    EXPECT_BAD(&s, "does not contain any field");
    schema_new(&s);
    add(&s, "id", TM_T_INT64)->primary = true;
    add(&s, "n", TM_T_INT32);
    EXPECT_BAD(&s, "does not contain vector field");
    /* TM_MAX_FIELDS fields are fine, one more is not */
    char name[16];
    schema_base(&s);
    while (s.nfields < TM_MAX_FIELDS) {
        snprintf(name, sizeof name, "f%zu", s.nfields);
        add(&s, name, TM_T_INT32);
    }
    EXPECT_OK(&s);
    schema_base(&s);
    while (s.nfields < TM_MAX_FIELDS + 1) {
        snprintf(name, sizeof name, "f%zu", s.nfields);
        add(&s, name, TM_T_INT32);
    }
    EXPECT_BAD(&s, "maximum field's number");
    /* a field without a type */
    schema_base(&s);
    add(&s, "x", TM_T_NONE);
    EXPECT_BAD(&s, "data type of field x is invalid");
}

/* ---- msgpack round trip ---- */

/* A schema that uses every field property the codec carries. */
static void schema_rich(struct tm_schema *s)
{
    struct tm_status st;
    schema_new(s);
    s->dynamic = true;
    s->description = strdup("all the things");
    struct tm_field *f = add(s, "id", TM_T_VARCHAR);
    f->primary = true;
    f->max_length = 64;
    f->description = strdup("the key");
    f = add(s, "b", TM_T_BOOL);
    f->default_value = vbool(true);
    f = add(s, "i8", TM_T_INT8);
    f->nullable = true;
    f->default_value = vint(-5);
    f = add(s, "i64", TM_T_INT64);
    f->partition_key = true;
    f->clustering_key = true;
    f = add(s, "x", TM_T_DOUBLE);
    f->default_value = vdbl(0.125);
    f = add(s, "title", TM_T_VARCHAR);
    f->max_length = 100;
    f->default_value = vstr("none");
    assert_int_equal(tm_kvs_set(&f->params, &f->nparams, "max_length", "100"), 0);
    assert_int_equal(tm_kvs_set(&f->params, &f->nparams, "enable_analyzer", "true"), 0);
    f = add(s, "meta", TM_T_JSON);
    f->nullable = true;
    f = add(s, "tags", TM_T_ARRAY);
    f->elem_type = TM_T_VARCHAR;
    f->max_capacity = 16;
    f->max_length = 8;
    add_vec(s, "v", TM_T_FLOAT_VECTOR, 128);
    add_vec(s, "bv", TM_T_BINARY_VECTOR, 64);
    add_vec(s, "sp", TM_T_SPARSE_VECTOR, 0);
    assert_int_equal(tm_schema_validate(s, &st), 0);
}

static void assert_fields_same(const struct tm_field *a, const struct tm_field *b)
{
    assert_int_equal(a->id, b->id);
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->elem_type, b->elem_type);
    assert_int_equal(a->primary, b->primary);
    assert_int_equal(a->partition_key, b->partition_key);
    assert_int_equal(a->clustering_key, b->clustering_key);
    assert_int_equal(a->auto_id, b->auto_id);
    assert_int_equal(a->nullable, b->nullable);
    assert_int_equal(a->dim, b->dim);
    assert_int_equal(a->max_length, b->max_length);
    assert_int_equal(a->max_capacity, b->max_capacity);
    assert_true(tm_value_equal(&a->default_value, &b->default_value));
    if (a->description || b->description) {
        assert_non_null(a->description);
        assert_non_null(b->description);
        assert_string_equal(a->description, b->description);
    }
    assert_int_equal(a->nparams, b->nparams);
    for (size_t i = 0; i < a->nparams; i++) {
        assert_string_equal(a->params[i].key, b->params[i].key);
        assert_string_equal(a->params[i].value, b->params[i].value);
    }
}

static void assert_schemas_same(const struct tm_schema *a, const struct tm_schema *b)
{
    assert_true(tm_schema_equal(a, b));
    assert_int_equal(a->pk, b->pk);
    assert_int_equal(a->nfields, b->nfields);
    if (a->description || b->description)
        assert_string_equal(a->description, b->description);
    for (size_t i = 0; i < a->nfields; i++)
        assert_fields_same(&a->fields[i], &b->fields[i]);
}

static void test_roundtrip(void **state)
{
    (void)state;
    struct tm_schema s, d;
    schema_rich(&s);
    struct tm_mpw w, w2;
    tm_mpw_init(&w);
    tm_schema_encode(&w, &s);
    assert_int_equal(tm_mpw_error(&w), 0);
    struct tm_mpr r;
    tm_mpr_init(&r, w.buf.data, w.buf.len);
    assert_int_equal(tm_schema_decode(&r, &d), 0);
    assert_int_equal(tm_mpr_remaining(&r), 0);
    assert_schemas_same(&s, &d);
    assert_int_equal(d.pk, 0);
    assert_true(d.dynamic);
    /* the decoded schema encodes to the same bytes */
    tm_mpw_init(&w2);
    tm_schema_encode(&w2, &d);
    assert_int_equal(w2.buf.len, w.buf.len);
    assert_memory_equal(w2.buf.data, w.buf.data, w.buf.len);
    tm_mpw_free(&w2);
    tm_schema_free(&d);

    /* an Int64 autoID schema with no descriptions */
    struct tm_schema a;
    struct tm_status st;
    schema_base(&a);
    a.auto_id = true;
    assert_int_equal(tm_schema_validate(&a, &st), 0);
    tm_mpw_free(&w);
    tm_mpw_init(&w);
    tm_schema_encode(&w, &a);
    tm_mpr_init(&r, w.buf.data, w.buf.len);
    assert_int_equal(tm_schema_decode(&r, &d), 0);
    assert_schemas_same(&a, &d);
    assert_true(d.auto_id);
    assert_true(d.fields[0].auto_id);
    assert_null(d.description);
    tm_schema_free(&d);
    tm_schema_free(&a);
    tm_mpw_free(&w);
    tm_schema_free(&s);
}

static void test_decode_errors(void **state)
{
    (void)state;
    struct tm_schema s, d;
    schema_rich(&s);
    struct tm_mpw w;
    tm_mpw_init(&w);
    tm_schema_encode(&w, &s);
    struct tm_mpr r;
    /* every truncation fails and leaves d empty (ASan checks for leaks) */
    for (size_t len = 0; len < w.buf.len; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, w.buf.data, len);
        tm_mpr_init(&r, copy, len);
        int rc = tm_schema_decode(&r, &d);
        if (rc != TM_ETRUNC && rc != TM_ECORRUPT)
            fail_msg("prefix %zu/%zu: rc %d", len, w.buf.len, rc);
        assert_int_equal(d.nfields, 0);
        assert_null(d.fields);
        free(copy);
    }
    tm_mpw_free(&w);
    tm_schema_free(&s);

    /* pk index out of range, no fields, too many fields */
    struct {
        int64_t pk;
        uint32_t nfields;
    } cases[] = {{-1, 2}, {2, 2}, {0, 0}, {0, TM_MAX_FIELDS + 1}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        tm_mpw_init(&w);
        tm_mpw_map(&w, 2);
        tm_mpw_cstr(&w, "pk"), tm_mpw_int(&w, cases[k].pk);
        tm_mpw_cstr(&w, "fields"), tm_mpw_array(&w, cases[k].nfields);
        for (uint32_t i = 0; i < cases[k].nfields; i++) {
            tm_mpw_map(&w, 1);
            tm_mpw_cstr(&w, "name"), tm_mpw_cstr(&w, "f");
        }
        tm_mpr_init(&r, w.buf.data, w.buf.len);
        assert_int_equal(tm_schema_decode(&r, &d), TM_ECORRUPT);
        assert_int_equal(d.nfields, 0);
        tm_mpw_free(&w);
    }
    /* a field name longer than TM_NAME_MAX is refused, not truncated */
    char long_name[TM_NAME_MAX + 10];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    tm_mpw_init(&w);
    tm_mpw_map(&w, 1);
    tm_mpw_cstr(&w, "fields"), tm_mpw_array(&w, 1);
    tm_mpw_map(&w, 1);
    tm_mpw_cstr(&w, "name"), tm_mpw_cstr(&w, long_name);
    tm_mpr_init(&r, w.buf.data, w.buf.len);
    assert_true(tm_schema_decode(&r, &d) < 0);
    assert_int_equal(d.nfields, 0);
    tm_mpw_free(&w);
}

static void test_copy_and_equal(void **state)
{
    (void)state;
    struct tm_schema s, c;
    schema_rich(&s);
    assert_int_equal(tm_schema_copy(&c, &s), 0);
    assert_schemas_same(&s, &c);
    /* deep: the copy owns its strings */
    assert_ptr_not_equal(c.description, s.description);
    assert_ptr_not_equal(c.fields[5].default_value.s, s.fields[5].default_value.s);
    assert_ptr_not_equal(c.fields[5].params, s.fields[5].params);
    /* each difference that matters makes them unequal */
    c.fields[1].nullable = !c.fields[1].nullable;
    assert_false(tm_schema_equal(&s, &c));
    c.fields[1].nullable = s.fields[1].nullable;
    c.fields[8].dim = 64;
    assert_false(tm_schema_equal(&s, &c));
    c.fields[8].dim = s.fields[8].dim;
    c.dynamic = false;
    assert_false(tm_schema_equal(&s, &c));
    c.dynamic = true;
    c.fields[4].default_value.d = 0.25;
    assert_false(tm_schema_equal(&s, &c));
    c.fields[4].default_value.d = 0.125;
    assert_true(tm_schema_equal(&s, &c));
    tm_schema_free(&c);
    tm_schema_free(&s);
}

/* ---- type names and widths ---- */

static void test_dtype_names(void **state)
{
    (void)state;
    static const char *names[] = {
        "Bool",         "Int8",        "Int16",         "Int32",          "Int64",
        "Float",        "Double",      "VarChar",       "Array",          "JSON",
        "BinaryVector", "FloatVector", "Float16Vector", "BFloat16Vector", "SparseFloatVector",
        "Int8Vector"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        enum tm_dtype t = tm_dtype_parse(names[k]);
        assert_int_not_equal(t, TM_T_NONE);
        assert_string_equal(tm_dtype_name(t), names[k]);
    }
    assert_int_equal(tm_dtype_parse("Int64"), TM_T_INT64);
    assert_int_equal(tm_dtype_parse("FloatVector"), TM_T_FLOAT_VECTOR);
    /* case-sensitive, and nothing else */
    static const char *bad[] = {"int64",  "INT64", "Varchar",     "varchar",
                                "json",   "Json",  "floatvector", "FLOATVECTOR",
                                "String", "",      "Int64 ",      "None"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        assert_int_equal(tm_dtype_parse(bad[k]), TM_T_NONE);
    assert_null(tm_dtype_name(TM_T_NONE));
    assert_null(tm_dtype_name((enum tm_dtype)42));
    assert_true(tm_dtype_is_vector(TM_T_SPARSE_VECTOR));
    assert_true(tm_dtype_is_vector(TM_T_INT8_VECTOR));
    assert_false(tm_dtype_is_vector(TM_T_ARRAY));
    assert_true(tm_dtype_is_scalar_number(TM_T_INT8));
    assert_true(tm_dtype_is_scalar_number(TM_T_DOUBLE));
    assert_false(tm_dtype_is_scalar_number(TM_T_BOOL));
    assert_false(tm_dtype_is_scalar_number(TM_T_VARCHAR));
}

static void test_field_width(void **state)
{
    (void)state;
    struct {
        enum tm_dtype t;
        int64_t dim;
        uint32_t width;
    } cases[] = {
        {TM_T_BOOL, 0, 1},
        {TM_T_INT8, 0, 1},
        {TM_T_INT16, 0, 2},
        {TM_T_INT32, 0, 4},
        {TM_T_INT64, 0, 8},
        {TM_T_FLOAT, 0, 4},
        {TM_T_DOUBLE, 0, 8},
        {TM_T_VARCHAR, 0, 0},
        {TM_T_JSON, 0, 0},
        {TM_T_ARRAY, 0, 0},
        {TM_T_SPARSE_VECTOR, 0, 0},
        {TM_T_FLOAT_VECTOR, 128, 512},
        {TM_T_FLOAT16_VECTOR, 128, 256},
        {TM_T_BFLOAT16_VECTOR, 128, 256},
        {TM_T_BINARY_VECTOR, 128, 16},
        {TM_T_INT8_VECTOR, 128, 128},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct tm_field f = {.type = cases[k].t, .dim = cases[k].dim};
        assert_int_equal(tm_field_width(&f), cases[k].width);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_schema_gets_ids),
        cmocka_unit_test(test_primary_key_rules),
        cmocka_unit_test(test_vector_dims),
        cmocka_unit_test(test_varchar_max_length),
        cmocka_unit_test(test_array_rules),
        cmocka_unit_test(test_default_values),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_field_counts_and_vectors),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_copy_and_equal),
        cmocka_unit_test(test_dtype_names),
        cmocka_unit_test(test_field_width),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
