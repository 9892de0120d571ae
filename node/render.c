/* Batch rows to JSON (encodings in render.h). */
#include "render.h"
#include "base64.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void render_array(struct tm_jw *w, const uint8_t *p, size_t len)
{
    struct tm_mpr r;
    uint32_t n;
    tm_mpr_init(&r, p, len);
    tm_jw_arr(w);
    if (tm_mpr_array(&r, &n) == 0) {
        for (uint32_t i = 0; i < n && !r.err; i++) {
            enum tm_mp_type t = tm_mpr_peek(&r);
            int64_t x;
            double d;
            bool b;
            const char *s;
            uint32_t sl;
            if (t == TM_MP_BOOL && !tm_mpr_bool(&r, &b))
                tm_jw_bool(w, b);
            else if ((t == TM_MP_INT || t == TM_MP_UINT) && !tm_mpr_int(&r, &x))
                tm_jw_int(w, x);
            else if (t == TM_MP_FLOAT && r.p[0] == 0xca && !tm_mpr_double(&r, &d))
                tm_jw_float(w, (float)d);
            else if (t == TM_MP_FLOAT && !tm_mpr_double(&r, &d))
                tm_jw_double(w, d);
            else if (t == TM_MP_STR && !tm_mpr_str(&r, &s, &sl))
                tm_jw_str(w, s, sl);
            else
                break;
        }
    }
    tm_jw_arr_end(w);
}

static void render_sparse(struct tm_jw *w, const uint8_t *p, size_t len)
{
    char key[16];
    tm_jw_obj(w);
    for (size_t i = 0; i + 8 <= len; i += 8) {
        uint32_t idx;
        float v;
        memcpy(&idx, p + i, 4);
        memcpy(&v, p + i + 4, 4);
        snprintf(key, sizeof key, "%u", idx);
        tm_jw_key(w, key);
        tm_jw_float(w, v);
    }
    tm_jw_obj_end(w);
}

static void render_base64(struct tm_jw *w, const uint8_t *p, size_t len)
{
    struct tm_buf b;
    tm_buf_init(&b);
    tm_base64_encode(p, len, &b);
    tm_jw_str(w, (const char *)b.data, b.len);
    tm_buf_free(&b);
}

void tm_render_value(struct tm_jw *w, const struct tm_field *f, const struct tm_col *c, uint32_t i,
                     bool int64_as_string)
{
    size_t len;
    const uint8_t *p = tm_col_value(c, i, &len);
    union {
        int16_t i16;
        int32_t i32;
        int64_t i64;
        float f32;
        double f64;
    } u;
    if (tm_col_is_null(c, i)) {
        tm_jw_null(w);
        return;
    }
    if (c->width && c->width <= 8)
        memcpy(&u, p, c->width);
    switch (f->type) {
    case TM_T_BOOL:
        tm_jw_bool(w, p[0] != 0);
        break;
    case TM_T_INT8:
        tm_jw_int(w, (int8_t)p[0]);
        break;
    case TM_T_INT16:
        tm_jw_int(w, u.i16);
        break;
    case TM_T_INT32:
        tm_jw_int(w, u.i32);
        break;
    case TM_T_INT64:
        tm_jw_int64(w, u.i64, int64_as_string);
        break;
    case TM_T_FLOAT:
        tm_jw_float(w, u.f32);
        break;
    case TM_T_DOUBLE:
        tm_jw_double(w, u.f64);
        break;
    case TM_T_VARCHAR:
    case TM_T_JSON:
        tm_jw_str(w, (const char *)p, len);
        break;
    case TM_T_ARRAY:
        render_array(w, p, len);
        break;
    case TM_T_SPARSE_VECTOR:
        render_sparse(w, p, len);
        break;
    case TM_T_FLOAT_VECTOR:
        tm_jw_arr(w);
        for (size_t k = 0; k < len / 4; k++) {
            float v;
            memcpy(&v, p + k * 4, 4);
            tm_jw_float(w, v);
        }
        tm_jw_arr_end(w);
        break;
    default:
        render_base64(w, p, len);
        break;
    }
}

/* Flattens the row's dynamic keys into the row object being written. */
static void render_meta(struct tm_jw *w, const struct tm_col *meta, uint32_t i,
                        const struct tm_out_sel *sel)
{
    size_t len;
    const uint8_t *p = tm_col_value(meta, i, &len);
    json_t *obj = json_loadb((const char *)p, len, 0, NULL);
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool wanted = sel->meta_all;
        for (uint32_t k = 0; k < sel->nmeta_keys && !wanted; k++)
            wanted = strcmp(sel->meta_keys[k], key) == 0;
        if (!wanted)
            continue;
        char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        if (text) {
            tm_jw_key(w, key);
            tm_jw_raw(w, text, strlen(text));
            free(text);
        }
    }
    json_decref(obj);
}

void tm_render_row(struct tm_jw *w, const struct tm_schema *s, const struct tm_batch *b, uint32_t i,
                   const struct tm_out_sel *sel, const float *distance)
{
    const struct tm_col *meta = tm_batch_col(b, TM_META_FIELD_ID);
    tm_jw_obj(w);
    for (uint32_t k = 0; k < sel->nfields; k++) {
        const struct tm_field *f = tm_schema_field_by_id(s, sel->fields[k]);
        const struct tm_col *c = tm_batch_col(b, sel->fields[k]);
        if (!f || !c)
            continue;
        tm_jw_key(w, f->name);
        tm_render_value(w, f, c, i, sel->int64_as_string);
        if (k == 0 && distance) /* after the primary key, as Milvus prints it */
            tm_jw_key(w, "distance"), tm_jw_float(w, *distance);
    }
    if (meta && (sel->meta_all || sel->nmeta_keys))
        render_meta(w, meta, i, sel);
    tm_jw_obj_end(w);
}

void tm_render_rows(struct tm_jw *w, const struct tm_schema *s, const struct tm_batch *b,
                    const struct tm_out_sel *sel)
{
    tm_jw_arr(w);
    for (uint32_t i = 0; i < b->nrows; i++)
        tm_render_row(w, s, b, i, sel, NULL);
    tm_jw_arr_end(w);
}
