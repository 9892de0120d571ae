/* Rows from a columnar batch to JSON (milvus-rest-v2.md §3.4): JSON fields
 * as a string holding the JSON text, Arrays as native arrays, FloatVector as
 * numbers, other dense vectors as base64, sparse as {"index": value}, dynamic
 * keys flattened into the row. */
#ifndef TM_RENDER_H
#define TM_RENDER_H

#include <stdbool.h>

#include "batch.h"
#include "jw.h"
#include "schema.h"

struct tm_out_sel {
    int64_t fields[TM_BATCH_MAX_COLS]; /* schema fields to print, in order */
    uint32_t nfields;
    bool meta_all;                            /* print every dynamic key */
    const char *meta_keys[TM_BATCH_MAX_COLS]; /* or just these (borrowed) */
    uint32_t nmeta_keys;
    bool int64_as_string; /* Accept-Type-Allow-Int64: false */
};

/* Writes a JSON array of row objects. */
void tm_render_rows(struct tm_jw *w, const struct tm_schema *s, const struct tm_batch *b,
                    const struct tm_out_sel *sel);
/* Writes row i as one object; with distance, a "distance" key follows the
 * first selected field (the primary key). */
void tm_render_row(struct tm_jw *w, const struct tm_schema *s, const struct tm_batch *b, uint32_t i,
                   const struct tm_out_sel *sel, const float *distance);
/* Writes one value of column c at row i (used for ids lists too). */
void tm_render_value(struct tm_jw *w, const struct tm_field *f, const struct tm_col *c, uint32_t i,
                     bool int64_as_string);

#endif
