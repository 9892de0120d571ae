/* Columnar row batches: the one in-memory form of rows, used by the proxy to
 * carry validated rows, by WAL entries, by growing segments, and by read
 * replies.
 *
 * A column holds one field's values for all rows: fixed-width types
 * (numbers, bools, dense vectors) as `nrows * width` bytes; variable-width
 * types (VarChar text, JSON text, Array and sparse values in msgpack) as
 * concatenated bytes plus one uint64 end offset per row. A nullable column
 * has one validity byte per row (1 = value, 0 = null); a null fixed-width
 * value still occupies `width` zero bytes so row i is always at i * width.
 *
 * The dynamic field ($meta) is a JSON-text column with field id
 * TM_META_FIELD_ID.
 */
#ifndef TM_BATCH_H
#define TM_BATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "schema.h"
#include "tm_buf.h"
#include "tm_mp.h"

#define TM_META_FIELD_ID 99
#define TM_BATCH_MAX_COLS (TM_MAX_FIELDS + 1)

struct tm_col {
    int64_t field_id;
    enum tm_dtype type;
    uint32_t width; /* bytes per value; 0 = variable width */
    bool nullable;
    struct tm_buf data;
    struct tm_buf ends;  /* variable width: uint64 end offset per row */
    struct tm_buf valid; /* nullable: one byte per row */
};

struct tm_batch {
    uint32_t nrows;
    uint32_t ncols;
    struct tm_col cols[TM_BATCH_MAX_COLS];
};

void tm_batch_init(struct tm_batch *b);
void tm_batch_free(struct tm_batch *b);
/* Adds an empty column and returns it (valid until the batch is freed), or
 * NULL when the batch already has TM_BATCH_MAX_COLS columns. */
struct tm_col *tm_batch_add_col(struct tm_batch *b, int64_t field_id, enum tm_dtype type,
                                uint32_t width, bool nullable);
/* Column by field id; NULL if absent. */
struct tm_col *tm_batch_col(const struct tm_batch *b, int64_t field_id);

/* Gives an empty batch the full row layout of a schema: one column per
 * field, in schema order, plus the dynamic column when the schema has one.
 * 0 or TM_EINVAL. */
int tm_batch_layout_from_schema(struct tm_batch *b, const struct tm_schema *s);

/* Appending one value. Each returns 0 or TM_ENOMEM. The caller keeps every
 * column of a batch at the same row count and sets nrows. */
int tm_col_push(struct tm_col *c, const void *p, size_t len); /* len must equal width if fixed */
int tm_col_push_null(struct tm_col *c);

/* Reading row i (i < rows in the column). Pointers stay valid until the
 * column is appended to or freed. */
bool tm_col_is_null(const struct tm_col *c, uint32_t i);
const uint8_t *tm_col_value(const struct tm_col *c, uint32_t i, size_t *len_out);
int64_t tm_col_int64(const struct tm_col *c, uint32_t i); /* Int64 columns */

/* Appends rows [from, from+n) of src to dst, column by matching field id.
 * dst must have the same columns; 0 or TM_ENOMEM / TM_EINVAL. */
int tm_batch_append_rows(struct tm_batch *dst, const struct tm_batch *src, uint32_t from,
                         uint32_t n);
/* Gives dst the same columns as src (empty); 0 or TM_ENOMEM. */
int tm_batch_clone_layout(struct tm_batch *dst, const struct tm_batch *src);
/* Marks every column buffer tm_buf_set_large: a growing segment's. */
void tm_batch_set_large(struct tm_batch *b);

/* msgpack form: {"n": nrows, "c": [[fid, type, width, nullable, valid|nil,
 * data, ends|nil], ...]}. The decoder checks every length against nrows
 * before copying, and copies into dst (which must be freshly initialised). */
void tm_batch_encode(struct tm_mpw *w, const struct tm_batch *b);
int tm_batch_decode(struct tm_mpr *r, struct tm_batch *dst);
/* As tm_batch_decode, without the copies: dst's columns refer to the
 * message's bytes (tm_buf_borrow), so dst is read-only and lives no longer
 * than they do; tm_batch_free forgets it. Applying a WAL entry copied every
 * row into a batch, then again into the growing segment (benchmarks.md,
 * "Applying without the copy"). */
int tm_batch_view(struct tm_mpr *r, struct tm_batch *dst);

#endif
