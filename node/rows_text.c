/* Rows from the text of a "data" array (rows.h, tm_rows_from_text): each
 * row's FloatVector members are read straight into floats, its other
 * members through jansson, one value at a time, into a small row object
 * that goes the usual way (tm_rows_push_row). */
#include "json_scan.h"
#include "rows_int.h"

#include <stdlib.h>
#include <string.h>

struct row_text {
    const struct tm_schema *s;
    struct tm_jscan_arrays *arrays; /* may be NULL */
    const float **fast;             /* per schema field */
    float *vecs;                    /* this row's fast values */
    size_t *at;                     /* per schema field: where its value goes in vecs */
};

/* One member "name": value into row or rt->fast. */
static int read_member(struct row_text *rt, const char **p, const char *end, json_t *row)
{
    const char *k, *v;
    size_t kn;
    char name[TM_NAME_MAX];
    if (!tm_jscan_plain_string(p, end, &k, &kn) || kn >= sizeof name ||
        !tm_jscan_expect(p, end, ':'))
        return TM_EAGAIN;
    memcpy(name, k, kn);
    name[kn] = '\0';
    const struct tm_field *f = tm_schema_field(rt->s, name);
    size_t fi = f ? (size_t)(f - rt->s->fields) : 0;
    tm_jscan_ws(p, end);
    v = *p;
    if (f && f->type == TM_T_FLOAT_VECTOR) {
        const float *read =
            rt->arrays ? tm_jscan_arrays_find(rt->arrays, v, (size_t)f->dim, p) : NULL;
        if (!read && tm_jscan_floats(p, end, rt->vecs + rt->at[fi], (size_t)f->dim))
            read = rt->vecs + rt->at[fi];
        if (read) {
            rt->fast[fi] = read;
            json_object_del(row, name); /* an earlier duplicate: the last one wins */
            return 0;
        }
    }
    *p = v; /* anything else, errors included, is jansson's to read */
    if (!tm_jscan_value(p, end, 1))
        return TM_EAGAIN;
    json_t *jv = json_loadb(v, (size_t)(*p - v), JSON_DECODE_ANY, NULL);
    if (!jv)
        return TM_EAGAIN;
    if (f)
        rt->fast[fi] = NULL;
    return json_object_set_new(row, name, jv) ? TM_ENOMEM : 0;
}

static int read_row(struct row_text *rt, const char **p, const char *end, json_t *row)
{
    memset(rt->fast, 0, rt->s->nfields * sizeof *rt->fast);
    if (!tm_jscan_expect(p, end, '{'))
        return TM_EAGAIN; /* not an object: the JSON path says so */
    if (tm_jscan_expect(p, end, '}'))
        return 0;
    do {
        int rc = read_member(rt, p, end, row);
        if (rc)
            return rc;
    } while (tm_jscan_expect(p, end, ','));
    return tm_jscan_expect(p, end, '}') ? 0 : TM_EAGAIN;
}

static int read_rows(struct row_text *rt, const char *text, size_t len, struct tm_batch *out,
                     struct tm_status *st)
{
    const char *p = text, *end = text + len;
    if (!tm_jscan_expect(&p, end, '[') || tm_jscan_expect(&p, end, ']'))
        return TM_EAGAIN; /* an empty array: the JSON path's error */
    size_t r = 0;
    do {
        json_t *row = json_object();
        int rc = row ? read_row(rt, &p, end, row) : TM_ENOMEM;
        if (!rc)
            rc = tm_rows_push_row(rt->s, row, r++, NULL, false, rt->fast, out, st);
        json_decref(row);
        if (rc)
            return rc;
        out->nrows++;
    } while (tm_jscan_expect(&p, end, ','));
    return tm_jscan_expect(&p, end, ']') ? 0 : TM_EAGAIN;
}

int tm_rows_from_text(const struct tm_schema *s, const char *text, size_t len,
                      struct tm_jscan_arrays *arrays, struct tm_batch *out, struct tm_status *st)
{
    if (s->auto_id)
        return TM_EAGAIN;
    if (arrays)
        arrays->next = 0; /* a worker may read the rows again */
    struct row_text rt = {s, arrays, calloc(s->nfields + 1, sizeof *rt.fast), NULL,
                          calloc(s->nfields + 1, sizeof *rt.at)};
    size_t floats = 0;
    for (size_t i = 0; rt.at && i < s->nfields; i++)
        if (s->fields[i].type == TM_T_FLOAT_VECTOR) {
            rt.at[i] = floats;
            floats += (size_t)s->fields[i].dim;
        }
    rt.vecs = malloc((floats + 1) * sizeof *rt.vecs);
    int rc = !rt.fast || !rt.at || !rt.vecs        ? TM_ENOMEM
             : tm_batch_layout_from_schema(out, s) ? TM_EAGAIN /* the JSON path's error */
                                                   : read_rows(&rt, text, len, out, st);
    free(rt.fast);
    free(rt.at);
    free(rt.vecs);
    if (rc && rc != TM_ESTATUS && rc != TM_EAGAIN)
        rc = tm_status_set(st, TM_MV_INTERNAL, "%s", tm_strerror(rc));
    return rc;
}
