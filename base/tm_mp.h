/* msgpack helpers: a writer over struct tm_buf (msgpack-c's packer) and a
 * bounded, zero-copy reader of our own.
 *
 * Why our own reader: every decoder must refuse a declared length larger than
 * the bytes that remain BEFORE it allocates (DESIGN.md §4). msgpack-c's
 * unpacker allocates object arrays from the declared count first. The reader
 * below never allocates: strings and binaries are returned as pointers into
 * the input, valid as long as the input buffer is.
 *
 * Caveats:
 * - The reader's error is sticky: after the first failure every call returns
 *   the same error, so a decoder can read a whole structure and check once.
 * - Array and map counts are checked against the remaining bytes (every
 *   element takes at least one byte), so a hostile count fails with
 *   TM_ETRUNC before a caller sizes an allocation from it.
 */
#ifndef TM_MP_H
#define TM_MP_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tm_buf.h"

/* ---- writer ---- */

struct tm_mpw {
    struct tm_buf buf;
    msgpack_packer pk;
};

void tm_mpw_init(struct tm_mpw *w);
void tm_mpw_free(struct tm_mpw *w);
/* Returns the sticky buffer error (0 or TM_ENOMEM). */
int tm_mpw_error(const struct tm_mpw *w);

void tm_mpw_map(struct tm_mpw *w, uint32_t n);
void tm_mpw_array(struct tm_mpw *w, uint32_t n);
void tm_mpw_uint(struct tm_mpw *w, uint64_t v);
void tm_mpw_int(struct tm_mpw *w, int64_t v);
void tm_mpw_bool(struct tm_mpw *w, bool v);
void tm_mpw_nil(struct tm_mpw *w);
void tm_mpw_float(struct tm_mpw *w, float v);
void tm_mpw_double(struct tm_mpw *w, double v);
void tm_mpw_str(struct tm_mpw *w, const char *s, size_t len);
void tm_mpw_cstr(struct tm_mpw *w, const char *s); /* NULL writes nil */
void tm_mpw_bin(struct tm_mpw *w, const void *p, size_t len);
/* Appends already-encoded msgpack bytes verbatim. */
void tm_mpw_raw(struct tm_mpw *w, const void *p, size_t len);

/* ---- reader ---- */

enum tm_mp_type {
    TM_MP_NIL,
    TM_MP_BOOL,
    TM_MP_UINT,
    TM_MP_INT,
    TM_MP_FLOAT,
    TM_MP_STR,
    TM_MP_BIN,
    TM_MP_ARRAY,
    TM_MP_MAP,
    TM_MP_EXT,
    TM_MP_INVALID,
};

struct tm_mpr {
    const uint8_t *p;
    const uint8_t *end;
    int err; /* sticky: 0, TM_ETRUNC or TM_ECORRUPT */
};

void tm_mpr_init(struct tm_mpr *r, const void *data, size_t len);
size_t tm_mpr_remaining(const struct tm_mpr *r);
/* Type of the next value without consuming it (TM_MP_INVALID at end/error). */
enum tm_mp_type tm_mpr_peek(const struct tm_mpr *r);

int tm_mpr_map(struct tm_mpr *r, uint32_t *n_out);
int tm_mpr_array(struct tm_mpr *r, uint32_t *n_out);
int tm_mpr_uint(struct tm_mpr *r, uint64_t *v_out);
int tm_mpr_int(struct tm_mpr *r, int64_t *v_out); /* accepts uint ≤ INT64_MAX too */
int tm_mpr_bool(struct tm_mpr *r, bool *v_out);
int tm_mpr_double(struct tm_mpr *r, double *v_out); /* float32, float64 or integer */
/* Consumes a nil and returns true, or returns false and consumes nothing. */
bool tm_mpr_nil(struct tm_mpr *r);
/* Strings and binaries point into the input (not NUL-terminated). */
int tm_mpr_str(struct tm_mpr *r, const char **s_out, uint32_t *len_out);
int tm_mpr_bin(struct tm_mpr *r, const uint8_t **p_out, uint32_t *len_out);
/* Reads a string into a NUL-terminated buffer of `cap` bytes; TM_ETOOBIG if it does not fit. */
int tm_mpr_str_copy(struct tm_mpr *r, char *dst, size_t cap);
/* Skips one whole value, nested up to 64 levels deep. */
int tm_mpr_skip(struct tm_mpr *r);
/* Returns the bytes of the next whole value and skips it. */
int tm_mpr_raw(struct tm_mpr *r, const uint8_t **p_out, size_t *len_out);

/* Moves r (a reader positioned on a map) to the value of `key`. Returns 0,
 * or TM_ENOTFOUND when the map has no such key (or r is not on a map). */
int tm_mpr_find(struct tm_mpr *r, const char *key);
/* The integer at `key` of the map m reads (m itself is not advanced), or dflt. */
int64_t tm_mpr_key_int(struct tm_mpr m, const char *key, int64_t dflt);

#endif
