/* Milvus filter expressions (milvus-rest-v2.md §7): a parser from filter text
 * to a typed plan, and an evaluator that runs the plan over columnar batches
 * one column at a time, producing bitsets.
 *
 * Evaluation model: SQL three-valued logic. Every plan node yields two
 * bitsets over the rows it is asked about, TRUE and KNOWN. A leaf is UNKNOWN
 * for a row when the value it reads is null: a null column value, a column
 * absent from the batch, a missing JSON key, a JSON null, an array index out
 * of range, or a JSON value whose kind does not compare with the constant
 * (a string against a number, say). Connectives combine as in SQL:
 *   not: T = K & ~T1                      (K unchanged)
 *   and: T = T1 & T2, F = F1 | F2, K = T | F   (F = K & ~T)
 *   or:  T = T1 | T2, F = F1 & F2, K = T | F
 * Only TRUE rows match. So `not (x > 1)` does not return rows where x is
 * null; `x is null` / `x is not null` / `exists` are always KNOWN.
 *
 * Caveats:
 * - A plan is immutable after tm_expr_parse; any number of threads may
 *   evaluate one plan at once.
 * - The plan keeps no pointer into the schema, the params or the text.
 * - Evaluation allocates scratch memory per call (bitsets per plan node, a
 *   parsed-JSON cache for JSON columns); nothing is retained.
 */
#ifndef TM_EXPR_H
#define TM_EXPR_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "schema.h"
#include "tm_err.h"

struct tm_expr;

/* Parses a Milvus filter against schema s. params is the request's
 * exprParams object (borrowed for the call; NULL if absent). Empty or
 * whitespace-only text: *out = NULL (matches every row), returns 0.
 * On success *out is owned by the caller (tm_expr_free). On a bad filter
 * returns TM_ESTATUS with st->code TM_MV_INVALID_PARAM and st->msg
 * "failed to create query plan: <reason>" using Milvus's reason texts where
 * known; TM_ENOMEM if memory ran out. */
int tm_expr_parse(const char *text, const json_t *params, const struct tm_schema *s,
                  struct tm_expr **out, struct tm_status *st);

/* Frees a plan; NULL is fine. */
void tm_expr_free(struct tm_expr *e);

/* Evaluates rows [from, from + n) of b. Sets bit k of bits
 * (bits[k / 64] >> (k % 64) & 1) iff row from + k matches. bits has
 * (n + 63) / 64 words, is caller-owned and fully overwritten (bits past n are
 * zero). Columns are found by field id; a column absent from b counts as all
 * null. e == NULL (the empty filter) matches every row. Returns 0 or
 * TM_ENOMEM (bits are then undefined). */
int tm_expr_eval(const struct tm_expr *e, const struct tm_batch *b, uint32_t from, uint32_t n,
                 uint64_t *bits);

/* Copies up to cap distinct field ids the expression reads into ids (the
 * dynamic field as TM_META_FIELD_ID) and returns how many there are, which
 * may exceed cap. 0 for e == NULL. */
size_t tm_expr_fields(const struct tm_expr *e, int64_t *ids, size_t cap);

#endif
