/* Entity rows from JSON to a columnar batch, validated against the schema
 * (milvus-rest-v2.md §3.2). The whole request is validated before anything
 * is written: one bad row fails the request with its Milvus code and message.
 */
#ifndef TM_ROWS_H
#define TM_ROWS_H

#include <jansson.h>

#include "batch.h"
#include "schema.h"

/* Converts `data` (a JSON array of row objects; a single object counts as one
 * row) to out, which gets one column per schema field plus the dynamic
 * column when the schema has one. For an autoID schema the primary key must
 * be absent from the rows and is taken from gen_ids (one per row); pass NULL
 * otherwise. Returns 0, or TM_ESTATUS with st filled (1804 for values the
 * REST layer cannot convert, 1100 for values the core refuses). */
int tm_rows_from_json(const struct tm_schema *s, const json_t *data, const int64_t *gen_ids,
                      struct tm_batch *out, struct tm_status *st);

/* tm_rows_from_json for the text of a "data" array (as the request has
 * it), without autoID: the same rows, or the same error, as converting
 * jansson's parse of it, with FloatVector values read straight from the
 * text (json_scan.h). TM_EAGAIN when the text holds something the scanner
 * is not sure of, or autoID: then reset out and take the JSON path.
 * `arrays` (may be NULL): the text's arrays of numbers, already read by
 * tm_jscan_split_data; a vector found there is not read again. */
struct tm_jscan_arrays;
int tm_rows_from_text(const struct tm_schema *s, const char *text, size_t len,
                      struct tm_jscan_arrays *arrays, struct tm_batch *out, struct tm_status *st);

/* Merge-mode rows (partialUpdate): out gets columns only for the primary
 * key, the fields row 0 sends, and the dynamic column (the non-schema keys
 * of each row, to merge key-wise). Every row must send the same fields
 * (1804 otherwise, as Milvus). A sent null means null for a nullable field,
 * the default for a field with one, and is refused otherwise. */
int tm_rows_partial_from_json(const struct tm_schema *s, const json_t *data, const int64_t *gen_ids,
                              struct tm_batch *out, struct tm_status *st);

/* One value of field f, in any form a row may give it, appended to col
 * (which has f's layout); `row` only numbers error messages. Returns 0 or
 * TM_ESTATUS (st filled as for rows). Search uses it for query vectors. */
int tm_rows_value_to_col(const struct tm_field *f, const json_t *v, size_t row, struct tm_col *col,
                         struct tm_status *st);

/* Number of rows in `data` (array length, 1 for an object, 0 otherwise). */
size_t tm_rows_count(const json_t *data);

/* Primary keys from JSON (get's `id`, or values of a filter) into a
 * one-column batch of the pk's type. Int64 keys may be numbers or numeric
 * strings. Returns 0 or TM_ESTATUS (1806 for a key of the wrong type). */
int tm_pks_from_json(const struct tm_field *pk, const json_t *ids, struct tm_batch *out,
                     struct tm_status *st);

#endif
