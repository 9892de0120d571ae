/* Internals of the row conversion shared by rows.c and rows_text.c. */
#ifndef TM_ROWS_INT_H
#define TM_ROWS_INT_H

#include "rows.h"

/* One row (a JSON object) into out's columns, as tm_rows_from_json
 * converts each. fast, when not NULL, holds per schema field (by index) a
 * FloatVector value already read from the request text, which the row
 * then lacks; NULL for the others. 0, TM_ESTATUS, or TM_ENOMEM. */
int tm_rows_push_row(const struct tm_schema *s, const json_t *row, size_t r, const int64_t *gen_ids,
                     bool partial, const float *const *fast, struct tm_batch *out,
                     struct tm_status *st);

#endif
