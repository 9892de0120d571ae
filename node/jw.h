/* A JSON writer for responses: compact output, commas handled by a nesting
 * stack, float32 values printed with the shortest text that reads back as
 * the same float32 (as Go's encoder does), so `0.1f` prints as 0.1. */
#ifndef TM_JW_H
#define TM_JW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tm_buf.h"

#define TM_JW_DEPTH 64

struct tm_jw {
    struct tm_buf out;
    int depth;
    bool first[TM_JW_DEPTH];
    bool after_key;
};

void tm_jw_init(struct tm_jw *w);
void tm_jw_free(struct tm_jw *w);
void tm_jw_obj(struct tm_jw *w);
void tm_jw_obj_end(struct tm_jw *w);
void tm_jw_arr(struct tm_jw *w);
void tm_jw_arr_end(struct tm_jw *w);
void tm_jw_key(struct tm_jw *w, const char *key);
void tm_jw_str(struct tm_jw *w, const char *s, size_t len);
void tm_jw_cstr(struct tm_jw *w, const char *s);
void tm_jw_int(struct tm_jw *w, int64_t v);
void tm_jw_uint(struct tm_jw *w, uint64_t v);
/* Int64 as a JSON number, or as a decimal string when as_string. */
void tm_jw_int64(struct tm_jw *w, int64_t v, bool as_string);
void tm_jw_bool(struct tm_jw *w, bool v);
void tm_jw_null(struct tm_jw *w);
void tm_jw_float(struct tm_jw *w, float v);
void tm_jw_double(struct tm_jw *w, double v);
/* Inserts already-valid JSON text as one value. */
void tm_jw_raw(struct tm_jw *w, const char *json, size_t len);
/* Shortest decimal text of a float32 into buf (≥ 32 bytes); returns length. */
int tm_jw_format_float(char *buf, float v);

#endif
