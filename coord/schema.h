/* Collection schemas: field types, type rules and their msgpack form.
 *
 * A schema is plain data owned by whoever holds it (the catalog, or a proxy
 * request that decoded a copy). tm_schema_free releases every pointer inside.
 * Field ids start at 100 in declaration order, as in Milvus.
 */
#ifndef TM_SCHEMA_H
#define TM_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tm_err.h"
#include "tm_mp.h"

#define TM_NAME_MAX 256
#define TM_FIELD_ID_BASE 100
#define TM_MAX_FIELDS 64
#define TM_META_FIELD "$meta"

/* Milvus DataType numbers (schema.proto), so describe can print them as Milvus does. */
enum tm_dtype {
    TM_T_NONE = 0,
    TM_T_BOOL = 1,
    TM_T_INT8 = 2,
    TM_T_INT16 = 3,
    TM_T_INT32 = 4,
    TM_T_INT64 = 5,
    TM_T_FLOAT = 10,
    TM_T_DOUBLE = 11,
    TM_T_VARCHAR = 21,
    TM_T_ARRAY = 22,
    TM_T_JSON = 23,
    TM_T_BINARY_VECTOR = 100,
    TM_T_FLOAT_VECTOR = 101,
    TM_T_FLOAT16_VECTOR = 102,
    TM_T_BFLOAT16_VECTOR = 103,
    TM_T_SPARSE_VECTOR = 104,
    TM_T_INT8_VECTOR = 105,
};

/* A scalar value: a default value or a primary key. */
enum tm_vkind { TM_V_NONE, TM_V_BOOL, TM_V_INT, TM_V_DOUBLE, TM_V_STR };
struct tm_value {
    enum tm_vkind kind;
    bool b;
    int64_t i;
    double d;
    char *s; /* owned, NUL-terminated */
};

/* A string key/value pair, as describe prints type params and properties. */
struct tm_kv {
    char *key;
    char *value;
};

struct tm_field {
    int64_t id;
    char name[TM_NAME_MAX];
    char *description;
    enum tm_dtype type;
    enum tm_dtype elem_type; /* Array only */
    bool primary, partition_key, clustering_key, auto_id, nullable;
    int64_t dim;                   /* dense vectors */
    int64_t max_length;            /* VarChar, Array of VarChar */
    int64_t max_capacity;          /* Array */
    struct tm_value default_value; /* kind TM_V_NONE when absent */
    struct tm_kv *params;          /* elementTypeParams as given, for describe */
    size_t nparams;
};

struct tm_schema {
    bool auto_id;
    bool dynamic; /* enableDynamicField */
    char *description;
    struct tm_field *fields;
    size_t nfields;
    int pk; /* index of the primary field */
};

/* Name of a data type as Milvus spells it ("Int64"), or NULL. */
const char *tm_dtype_name(enum tm_dtype t);
/* Parses a case-sensitive Milvus type name; TM_T_NONE if unknown. */
enum tm_dtype tm_dtype_parse(const char *name);
bool tm_dtype_is_vector(enum tm_dtype t);
bool tm_dtype_is_scalar_number(enum tm_dtype t);
/* Bytes per value in a column for fixed-width types (vectors use dim), 0 for
 * variable-width types (VarChar, JSON, Array, sparse). */
uint32_t tm_field_width(const struct tm_field *f);

void tm_value_free(struct tm_value *v);
int tm_value_copy(struct tm_value *dst, const struct tm_value *src);
bool tm_value_equal(const struct tm_value *a, const struct tm_value *b);

void tm_schema_free(struct tm_schema *s);
/* Deep copy; 0 or TM_ENOMEM. */
int tm_schema_copy(struct tm_schema *dst, const struct tm_schema *src);
/* Field by name or id; NULL if absent. Valid while the schema is. */
const struct tm_field *tm_schema_field(const struct tm_schema *s, const char *name);
const struct tm_field *tm_schema_field_by_id(const struct tm_schema *s, int64_t id);
const struct tm_field *tm_schema_pk(const struct tm_schema *s);
/* True when both schemas describe the same collection (create is idempotent then). */
bool tm_schema_equal(const struct tm_schema *a, const struct tm_schema *b);

/* Milvus identifier rule for collection, field and partition names. */
bool tm_name_valid(const char *name);

/* Checks the type rules of milvus-rest-v2.md §3.1 (one primary key of type
 * Int64/VarChar, dims, max_length, capacities, nullable/default rules) and
 * assigns field ids. On failure fills st (code 1100) and returns TM_ESTATUS. */
int tm_schema_validate(struct tm_schema *s, struct tm_status *st);

void tm_schema_encode(struct tm_mpw *w, const struct tm_schema *s);
/* Decodes into *s (owned by the caller on success; left empty on failure). */
int tm_schema_decode(struct tm_mpr *r, struct tm_schema *s);

void tm_value_encode(struct tm_mpw *w, const struct tm_value *v);
int tm_value_decode(struct tm_mpr *r, struct tm_value *v);
void tm_kvs_encode(struct tm_mpw *w, const struct tm_kv *kv, size_t n);
int tm_kvs_decode(struct tm_mpr *r, struct tm_kv **kv_out, size_t *n_out);
void tm_kvs_free(struct tm_kv *kv, size_t n);
/* Sets key to value in a list (replacing an existing key); 0 or TM_ENOMEM. */
int tm_kvs_set(struct tm_kv **kv, size_t *n, const char *key, const char *value);
const char *tm_kvs_get(const struct tm_kv *kv, size_t n, const char *key);

#endif
