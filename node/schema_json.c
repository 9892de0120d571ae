/* Create-collection requests to schemas, and schemas to describe replies. */
#include "schema_json.h"
#include "index_types.h"
#include "seg_index.h"
#include "rest_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BAD(r, code, ...) tm_status_set(&(r)->st, code, __VA_ARGS__)

/* Case-insensitive member lookup, as Go's binding matches keys. */
static json_t *member(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    const char *k;
    if (v || !json_is_object(obj))
        return v;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (strcasecmp(k, key) == 0)
            return v;
    }
    return NULL;
}

static bool member_bool(const json_t *obj, const char *key, bool dflt)
{
    json_t *v = member(obj, key);
    if (json_is_boolean(v))
        return json_is_true(v);
    if (json_is_string(v))
        return strcasecmp(json_string_value(v), "true") == 0;
    return dflt;
}

/* A type parameter given as a number or a numeric string; -1 if absent or bad. */
static int64_t type_param(const json_t *params, const char *key)
{
    json_t *v = member(params, key);
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_string(v)) {
        char *end;
        long long x = strtoll(json_string_value(v), &end, 10);
        return *end || end == json_string_value(v) ? -1 : x;
    }
    return v ? -1 : 0;
}

/* Keeps elementTypeParams as strings, for describe. */
static int keep_params(struct tm_field *f, const json_t *params)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)params, k, v)
    {
        char *text = json_is_string(v) ? strdup(json_string_value(v))
                                       : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        int rc = text ? tm_kvs_set(&f->params, &f->nparams, k, text) : TM_ENOMEM;
        free(text);
        if (rc)
            return rc;
    }
    return 0;
}

static int default_value(struct tm_req *r, struct tm_field *f, const json_t *v)
{
    struct tm_value *d = &f->default_value;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_boolean(v))
        *d = (struct tm_value){.kind = TM_V_BOOL, .b = json_is_true(v)};
    else if (json_is_integer(v) && f->type != TM_T_FLOAT && f->type != TM_T_DOUBLE)
        *d = (struct tm_value){.kind = TM_V_INT, .i = (int64_t)json_integer_value(v)};
    else if (json_is_number(v))
        *d = (struct tm_value){.kind = TM_V_DOUBLE, .d = json_number_value(v)};
    else if (json_is_string(v))
        *d = (struct tm_value){.kind = TM_V_STR, .s = strdup(json_string_value(v))};
    else
        return BAD(r, TM_MV_INVALID_PARAM,
                   "convert defaultValue fail, err: cannot use the value of field %s", f->name);
    return d->kind == TM_V_STR && !d->s ? TM_ENOMEM : 0;
}

static int field_from_json(struct tm_req *r, const json_t *j, struct tm_field *f)
{
    const char *name = json_string_value(member(j, "fieldName"));
    const char *type = json_string_value(member(j, "dataType"));
    const char *elem = json_string_value(member(j, "elementDataType"));
    const char *desc = json_string_value(member(j, "description"));
    if (!name || !*name || !type || !*type)
        return BAD(r, TM_MV_MISSING_PARAM,
                   "missing required parameters, error: Key: 'FieldSchema.%s' Error:Field "
                   "validation for '%s' failed on the 'required' tag",
                   name && *name ? "DataType" : "FieldName",
                   name && *name ? "DataType" : "FieldName");
    if (strlen(name) >= TM_NAME_MAX)
        return BAD(r, TM_MV_INVALID_PARAM, "the length of a field name must be less than %d",
                   TM_NAME_MAX);
    strcpy(f->name, name);
    f->type = tm_dtype_parse(type);
    if (f->type == TM_T_NONE)
        return BAD(r, TM_MV_INVALID_PARAM,
                   "invalid parameter, data type %s is invalid(case sensitive).", type);
    f->elem_type = elem ? tm_dtype_parse(elem) : TM_T_NONE;
    if (f->type == TM_T_ARRAY && f->elem_type == TM_T_NONE)
        return BAD(r, TM_MV_INVALID_PARAM,
                   "invalid parameter, element data type %s is invalid(case sensitive).",
                   elem ? elem : "");
    f->primary = member_bool(j, "isPrimary", false);
    f->partition_key = member_bool(j, "isPartitionKey", false);
    f->clustering_key = member_bool(j, "isClusteringKey", false);
    f->nullable = member_bool(j, "nullable", false);
    if (desc && !(f->description = strdup(desc)))
        return TM_ENOMEM;
    const json_t *params = member(j, "elementTypeParams");
    f->dim = type_param(params, "dim");
    f->max_length = type_param(params, "max_length");
    f->max_capacity = type_param(params, "max_capacity");
    if (f->dim < 0 || f->max_length < 0 || f->max_capacity < 0)
        return BAD(r, TM_MV_INVALID_PARAM, "type params of field %s must be integers", f->name);
    if (keep_params(f, params))
        return TM_ENOMEM;
    return default_value(r, f, member(j, "defaultValue"));
}

static int add_field(struct tm_schema *s, struct tm_field **out)
{
    if (s->nfields >= TM_MAX_FIELDS)
        return TM_ETOOBIG;
    struct tm_field *grown = realloc(s->fields, (s->nfields + 1) * sizeof *grown);
    if (!grown)
        return TM_ENOMEM;
    s->fields = grown;
    *out = memset(&grown[s->nfields++], 0, sizeof **out);
    return 0;
}

static int full_schema(struct tm_req *r, const json_t *schema, struct tm_schema *s)
{
    const json_t *fields = member(schema, "fields");
    size_t i;
    json_t *j;
    s->auto_id = member_bool(schema, "autoID", false);
    s->dynamic = member_bool(schema, "enableDynamicField", false);
    if (json_array_size(member(schema, "functions")) > 0)
        return BAD(r, TM_MV_INVALID_PARAM,
                   "schema functions (BM25, text embedding) are not supported by this server");
    json_array_foreach(fields, i, j)
    {
        struct tm_field *f;
        int rc = add_field(s, &f);
        if (rc == TM_ETOOBIG)
            return BAD(r, TM_MV_INVALID_PARAM, "maximum field's number should be limited to %d",
                       TM_MAX_FIELDS);
        if (rc || (rc = field_from_json(r, j, f)))
            return rc;
    }
    return 0;
}

static const char *param_str(const json_t *params, const char *key, char *buf, size_t cap)
{
    json_t *v = member(params, key);
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_number(v) || json_is_boolean(v)) {
        char *t = json_dumps(v, JSON_ENCODE_ANY);
        snprintf(buf, cap, "%s", t ? t : "");
        free(t);
        return buf;
    }
    return NULL;
}

static int quick_schema(struct tm_req *r, const json_t *params, struct tm_schema *s,
                        struct tm_ddl *d)
{
    int64_t dim;
    char buf[64];
    const char *id_type = tm_req_str(r, "idType", false);
    const char *pk_name = tm_req_str(r, "primaryFieldName", false);
    const char *vec_name = tm_req_str(r, "vectorFieldName", false);
    const char *metric = tm_req_str(r, "metricType", false);
    if (r->st.code || tm_req_int(r, "dimension", 0, &dim))
        return TM_ESTATUS;
    if (dim <= 0)
        return BAD(r, TM_MV_INVALID_PARAM,
                   "dimension is required for quickly create collection(default metric type: "
                   "COSINE): invalid parameter");
    bool varchar = id_type && strcasecmp(id_type, "varchar") == 0;
    if (id_type && *id_type && !varchar && strcasecmp(id_type, "int64") != 0)
        return BAD(r, TM_MV_INVALID_PARAM,
                   "idType can only be [Int64, VarChar], default: Int64: invalid parameter");
    struct tm_field *pk, *vec;
    if (add_field(s, &pk) || add_field(s, &vec))
        return TM_ENOMEM;
    pk = &s->fields[0];
    snprintf(pk->name, sizeof pk->name, "%s", pk_name && *pk_name ? pk_name : "id");
    pk->type = varchar ? TM_T_VARCHAR : TM_T_INT64;
    pk->primary = true;
    const char *maxlen = param_str(params, "max_length", buf, sizeof buf);
    pk->max_length = varchar ? (maxlen ? atoll(maxlen) : 0) : 0;
    if (varchar && pk->max_length <= 0)
        return BAD(r, TM_MV_INVALID_PARAM,
                   "max_length should be specified for a VarChar primary key in params");
    snprintf(vec->name, sizeof vec->name, "%s", vec_name && *vec_name ? vec_name : "vector");
    vec->type = TM_T_FLOAT_VECTOR;
    vec->dim = dim;
    tm_req_bool(r, "autoID", false, &s->auto_id);
    const char *dyn = param_str(params, "enableDynamicField", buf, sizeof buf);
    s->dynamic = !dyn || strcasecmp(dyn, "false") != 0;
    /* Quick setup indexes the vector field (AUTOINDEX) and loads it. */
    struct tm_index *ix = &d->index;
    d->has_index = true;
    snprintf(ix->name, sizeof ix->name, "%s", vec->name);
    snprintf(ix->field, sizeof ix->field, "%s", vec->name);
    strcpy(ix->type, "AUTOINDEX");
    snprintf(ix->metric, sizeof ix->metric, "%s", metric && *metric ? metric : "COSINE");
    if (!tm_index_metric_valid(ix->metric, TM_T_FLOAT_VECTOR))
        return BAD(r, TM_MV_INVALID_PARAM, "metric type %s is invalid for FloatVector", ix->metric);
    return r->st.code ? TM_ESTATUS : 0;
}

int tm_index_from_json(struct tm_req *r, const json_t *j, const struct tm_schema *s,
                       struct tm_index *ix)
{
    const char *field = json_string_value(member(j, "fieldName"));
    const char *name = json_string_value(member(j, "indexName"));
    const char *metric = json_string_value(member(j, "metricType"));
    const json_t *params = member(j, "params");
    const char *type = json_string_value(member(j, "indexType"));
    if (!type)
        type = json_string_value(member(params, "index_type"));
    memset(ix, 0, sizeof *ix);
    if (!field || !*field)
        return BAD(r, TM_MV_MISSING_PARAM,
                   "missing required parameters, error: Key: 'IndexParam.FieldName' Error:Field "
                   "validation for 'FieldName' failed on the 'required' tag");
    const struct tm_field *f = tm_schema_field(s, field);
    if (!f)
        return BAD(r, TM_MV_MISSING_PARAM,
                   "missing required parameters, error: `%s` hasn't defined in schema", field);
    snprintf(ix->field, sizeof ix->field, "%s", field);
    snprintf(ix->name, sizeof ix->name, "%s", name && *name ? name : field);
    snprintf(ix->type, sizeof ix->type, "%s", type && *type ? type : "AUTOINDEX");
    if (!tm_index_type_valid(ix->type, f->type))
        return BAD(r, TM_MV_INVALID_PARAM, "invalid index type: %s for field %s of type %s",
                   ix->type, field, tm_dtype_name(f->type));
    if (tm_dtype_is_vector(f->type)) {
        snprintf(ix->metric, sizeof ix->metric, "%s",
                 metric && *metric ? metric : tm_index_default_metric(f->type));
        if (!tm_index_metric_valid(ix->metric, f->type))
            return BAD(r, TM_MV_INVALID_PARAM, "metric type %s is invalid for %s", ix->metric,
                       tm_dtype_name(f->type));
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)params, k, v)
    {
        char *text = json_is_string(v) ? strdup(json_string_value(v))
                                       : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        int rc = text ? tm_kvs_set(&ix->params, &ix->nparams, k, text) : TM_ENOMEM;
        free(text);
        if (rc)
            return rc;
    }
    /* The parameters of an index the query role builds are checked now, so
     * that a build never fails on them later (segment/seg_index.h). */
    struct tm_seg_index_plan plan;
    char why[256];
    if (tm_seg_index_plan(ix->type, ix->metric, ix->params, ix->nparams, f, &plan, why,
                          sizeof why) < 0)
        return BAD(r, TM_MV_INVALID_PARAM, "%s", why);
    return 0;
}

static int collection_params(struct tm_req *r, const json_t *params, struct tm_collection *c)
{
    char buf[64];
    const char *cl = param_str(params, "consistencyLevel", buf, sizeof buf);
    c->consistency = TM_CL_BOUNDED;
    if (cl) {
        int level = tm_consistency_parse(cl);
        if (level < 0)
            return BAD(r, TM_MV_INVALID_PARAM,
                       "consistencyLevel can only be [Strong, Session, Bounded, Eventually, "
                       "Customized], default: Bounded, err:%s",
                       cl);
        c->consistency = (enum tm_consistency)level;
    }
    const char *shards = param_str(params, "shardsNum", buf, sizeof buf);
    c->shards = shards ? atoi(shards) : 1;
    if (c->shards < 1 || c->shards > 16)
        return BAD(r, TM_MV_INVALID_PARAM, "shardsNum must be in [1, 16]");
    const char *ttl = param_str(params, "ttlSeconds", buf, sizeof buf);
    if (ttl && tm_kvs_set(&c->props, &c->nprops, "collection.ttl.seconds", ttl))
        return TM_ENOMEM;
    return 0;
}

/* indexParams of a full-schema create: the first goes into d->index, the
 * rest are recorded on the collection directly (its creation is atomic). */
static int create_indexes(struct tm_req *r, const json_t *list, struct tm_collection *c)
{
    size_t i;
    json_t *j;
    json_array_foreach(list, i, j)
    {
        struct tm_index ix;
        int rc = tm_index_from_json(r, j, &c->schema, &ix);
        if (!rc) {
            struct tm_index *grown = realloc(c->indexes, (c->nindexes + 1) * sizeof *grown);
            rc = grown ? 0 : TM_ENOMEM;
            if (grown) {
                c->indexes = grown;
                c->indexes[c->nindexes++] = ix;
            }
        }
        if (rc) {
            tm_index_free(&ix);
            return rc;
        }
    }
    return 0;
}

/* Milvus loads after creating indexes; loading needs every vector indexed. */
static bool all_vectors_indexed(const struct tm_collection *c)
{
    for (size_t i = 0; i < c->schema.nfields; i++) {
        bool found = !tm_dtype_is_vector(c->schema.fields[i].type);
        for (size_t k = 0; k < c->nindexes && !found; k++)
            found = strcmp(c->indexes[k].field, c->schema.fields[i].name) == 0;
        if (!found)
            return false;
    }
    return true;
}

int tm_schema_from_create(struct tm_req *r, struct tm_ddl *d)
{
    struct tm_collection *c = &d->coll;
    const json_t *schema = tm_req_get(r, "schema");
    const json_t *params = tm_req_get(r, "params");
    const char *desc = tm_req_str(r, "description", false);
    d->has_coll = true;
    int rc = tm_req_name(r, "collectionName", c->name);
    if (rc)
        return rc;
    strcpy(d->db, r->db);
    bool full = json_array_size(member(schema, "fields")) > 0;
    rc = full ? full_schema(r, schema, &c->schema) : quick_schema(r, params, &c->schema, d);
    if (!rc && desc && !(c->schema.description = strdup(desc)))
        rc = TM_ENOMEM;
    if (!rc && tm_schema_validate(&c->schema, &r->st))
        rc = TM_ESTATUS;
    if (!rc)
        rc = collection_params(r, params, c);
    if (!rc && full)
        rc = create_indexes(r, tm_req_get(r, "indexParams"), c);
    if (!rc && d->has_index) { /* quick setup: move its index into the collection */
        c->indexes = malloc(sizeof *c->indexes);
        rc = c->indexes ? 0 : TM_ENOMEM;
        if (c->indexes) {
            c->indexes[0] = d->index;
            c->nindexes = 1;
            memset(&d->index, 0, sizeof d->index);
            d->has_index = false;
        }
    }
    c->loaded = c->nindexes > 0 && all_vectors_indexed(c);
    return rc == TM_ENOMEM ? BAD(r, TM_MV_INTERNAL, "out of memory") : rc;
}

/* ---- describe ---- */

static void write_default(struct tm_jw *w, const struct tm_field *f)
{
    static const struct {
        enum tm_dtype t;
        const char *kind;
    } kinds[] = {{TM_T_BOOL, "BoolData"},     {TM_T_INT8, "IntData"},
                 {TM_T_INT16, "IntData"},     {TM_T_INT32, "IntData"},
                 {TM_T_INT64, "LongData"},    {TM_T_FLOAT, "FloatData"},
                 {TM_T_DOUBLE, "DoubleData"}, {TM_T_VARCHAR, "StringData"}};
    const struct tm_value *v = &f->default_value;
    const char *kind = "StringData";
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].t == f->type)
            kind = kinds[i].kind;
    /* Milvus 2.5/2.6 print the protobuf shape here; clients assert on it. */
    tm_jw_obj(w);
    tm_jw_key(w, "Data");
    tm_jw_obj(w);
    tm_jw_key(w, kind);
    if (v->kind == TM_V_BOOL)
        tm_jw_bool(w, v->b);
    else if (v->kind == TM_V_INT && f->type != TM_T_FLOAT && f->type != TM_T_DOUBLE)
        tm_jw_int(w, v->i);
    else if (v->kind == TM_V_INT)
        tm_jw_double(w, (double)v->i);
    else if (v->kind == TM_V_DOUBLE)
        tm_jw_double(w, v->d);
    else
        tm_jw_cstr(w, v->s);
    tm_jw_obj_end(w);
    tm_jw_obj_end(w);
}

static void write_type_params(struct tm_jw *w, const struct tm_field *f)
{
    struct tm_kv *kv = NULL;
    size_t n = 0;
    char num[32];
    if (f->dim > 0 && tm_dtype_is_vector(f->type))
        snprintf(num, sizeof num, "%lld", (long long)f->dim), tm_kvs_set(&kv, &n, "dim", num);
    if (f->max_length > 0)
        snprintf(num, sizeof num, "%lld", (long long)f->max_length),
            tm_kvs_set(&kv, &n, "max_length", num);
    if (f->max_capacity > 0)
        snprintf(num, sizeof num, "%lld", (long long)f->max_capacity),
            tm_kvs_set(&kv, &n, "max_capacity", num);
    for (size_t i = 0; i < f->nparams; i++)
        if (!tm_kvs_get(kv, n, f->params[i].key))
            tm_kvs_set(&kv, &n, f->params[i].key, f->params[i].value);
    tm_rest_write_kvs(w, kv, n);
    tm_kvs_free(kv, n);
}

static void write_field(struct tm_jw *w, const struct tm_field *f)
{
    tm_jw_obj(w);
    tm_jw_key(w, "name"), tm_jw_cstr(w, f->name);
    tm_jw_key(w, "id"), tm_jw_int(w, f->id);
    tm_jw_key(w, "type"), tm_jw_cstr(w, tm_dtype_name(f->type));
    if (f->type == TM_T_ARRAY)
        tm_jw_key(w, "elementType"), tm_jw_cstr(w, tm_dtype_name(f->elem_type));
    tm_jw_key(w, "primaryKey"), tm_jw_bool(w, f->primary);
    tm_jw_key(w, "partitionKey"), tm_jw_bool(w, f->partition_key);
    tm_jw_key(w, "clusteringKey"), tm_jw_bool(w, f->clustering_key);
    tm_jw_key(w, "autoId"), tm_jw_bool(w, f->auto_id);
    tm_jw_key(w, "nullable"), tm_jw_bool(w, f->nullable);
    tm_jw_key(w, "description"), tm_jw_cstr(w, f->description);
    tm_jw_key(w, "params"), write_type_params(w, f);
    if (f->default_value.kind != TM_V_NONE)
        tm_jw_key(w, "defaultValue"), write_default(w, f);
    tm_jw_obj_end(w);
}

static void write_indexes(struct tm_jw *w, const struct tm_collection *c)
{
    const char *first_vec = NULL;
    for (size_t i = 0; i < c->schema.nfields && !first_vec; i++)
        if (tm_dtype_is_vector(c->schema.fields[i].type))
            first_vec = c->schema.fields[i].name;
    tm_jw_arr(w);
    for (size_t i = 0; i < c->nindexes; i++) {
        const struct tm_index *ix = &c->indexes[i];
        if (!first_vec || strcmp(ix->field, first_vec) != 0)
            continue;
        tm_jw_obj(w);
        tm_jw_key(w, "indexName"), tm_jw_cstr(w, ix->name);
        tm_jw_key(w, "fieldName"), tm_jw_cstr(w, ix->field);
        tm_jw_key(w, "metricType"), tm_jw_cstr(w, ix->metric);
        tm_jw_obj_end(w);
    }
    tm_jw_arr_end(w);
}

void tm_collection_describe(struct tm_jw *w, const struct tm_collection *c, const char *db)
{
    tm_jw_obj(w);
    tm_jw_key(w, "collectionName"), tm_jw_cstr(w, c->name);
    tm_jw_key(w, "collectionID"), tm_jw_int(w, c->id);
    tm_jw_key(w, "dbName"), tm_jw_cstr(w, db);
    tm_jw_key(w, "description"), tm_jw_cstr(w, c->schema.description);
    tm_jw_key(w, "autoId"), tm_jw_bool(w, c->schema.auto_id);
    tm_jw_key(w, "fields"), tm_jw_arr(w);
    for (size_t i = 0; i < c->schema.nfields; i++)
        write_field(w, &c->schema.fields[i]);
    tm_jw_arr_end(w);
    tm_jw_key(w, "functions"), tm_jw_arr(w), tm_jw_arr_end(w);
    tm_jw_key(w, "aliases"), tm_jw_arr(w), tm_jw_arr_end(w);
    tm_jw_key(w, "indexes"), write_indexes(w, c);
    tm_jw_key(w, "load"), tm_jw_cstr(w, c->loaded ? "LoadStateLoaded" : "LoadStateNotLoad");
    tm_jw_key(w, "shardsNum"), tm_jw_int(w, c->shards);
    tm_jw_key(w, "partitionsNum"), tm_jw_uint(w, c->nparts);
    tm_jw_key(w, "consistencyLevel"), tm_jw_cstr(w, tm_consistency_name(c->consistency));
    tm_jw_key(w, "enableDynamicField"), tm_jw_bool(w, c->schema.dynamic);
    tm_jw_key(w, "createdTime"), tm_jw_uint(w, c->created_ts);
    tm_jw_key(w, "properties"), tm_rest_write_kvs(w, c->props, c->nprops);
    tm_jw_obj_end(w);
}
