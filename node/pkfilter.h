/* The primary-key filters the foundation understands: `pk in [a, b, ...]`,
 * `pk == a` (either side), optionally parenthesised, and the empty filter.
 * The full expression language replaces this with the query issue. */
#ifndef TM_PKFILTER_H
#define TM_PKFILTER_H

#include <jansson.h>

#include "schema.h"

/* Parses filter against the schema. On success *keys_out is a new JSON array
 * of the keys (caller decrefs), or NULL for the empty filter (all rows).
 * Returns 0 or TM_ESTATUS with st (1100 "failed to create query plan: ..."). */
int tm_pkfilter_parse(const char *filter, const struct tm_schema *s, json_t **keys_out,
                      struct tm_status *st);

#endif
