/* Compact JSON writer (see jw.h). */
#include "jw.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tm_jw_init(struct tm_jw *w)
{
    memset(w, 0, sizeof *w);
    tm_buf_init(&w->out);
    w->first[0] = true;
}

void tm_jw_free(struct tm_jw *w)
{
    tm_buf_free(&w->out);
}

/* Writes the separator a new value needs at the current position. */
static void value_start(struct tm_jw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (!w->first[w->depth])
        tm_buf_append(&w->out, ",", 1);
    w->first[w->depth] = false;
}

static void open(struct tm_jw *w, char c)
{
    value_start(w);
    tm_buf_append(&w->out, &c, 1);
    if (w->depth + 1 < TM_JW_DEPTH)
        w->depth++;
    w->first[w->depth] = true;
}

static void close_(struct tm_jw *w, char c)
{
    tm_buf_append(&w->out, &c, 1);
    if (w->depth > 0)
        w->depth--;
}

void tm_jw_obj(struct tm_jw *w)
{
    open(w, '{');
}

void tm_jw_obj_end(struct tm_jw *w)
{
    close_(w, '}');
}

void tm_jw_arr(struct tm_jw *w)
{
    open(w, '[');
}

void tm_jw_arr_end(struct tm_jw *w)
{
    close_(w, ']');
}

static void escaped(struct tm_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    tm_buf_append(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        tm_buf_append(b, s + run, i - run);
        run = i + 1;
        char esc[7] = {'\\', (char)c, 0};
        size_t n = 2;
        switch (c) {
        case '"':
        case '\\': break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        tm_buf_append(b, esc, n);
    }
    tm_buf_append(b, s + run, len - run);
    tm_buf_append(b, "\"", 1);
}

void tm_jw_key(struct tm_jw *w, const char *key)
{
    value_start(w);
    escaped(&w->out, key, strlen(key));
    tm_buf_append(&w->out, ":", 1);
    w->after_key = true;
}

void tm_jw_str(struct tm_jw *w, const char *s, size_t len)
{
    value_start(w);
    escaped(&w->out, s, len);
}

void tm_jw_cstr(struct tm_jw *w, const char *s)
{
    tm_jw_str(w, s ? s : "", s ? strlen(s) : 0);
}

void tm_jw_int(struct tm_jw *w, int64_t v)
{
    value_start(w);
    tm_buf_printf(&w->out, "%" PRId64, v);
}

void tm_jw_uint(struct tm_jw *w, uint64_t v)
{
    value_start(w);
    tm_buf_printf(&w->out, "%" PRIu64, v);
}

void tm_jw_int64(struct tm_jw *w, int64_t v, bool as_string)
{
    value_start(w);
    tm_buf_printf(&w->out, as_string ? "\"%" PRId64 "\"" : "%" PRId64, v);
}

void tm_jw_bool(struct tm_jw *w, bool v)
{
    value_start(w);
    tm_buf_append_str(&w->out, v ? "true" : "false");
}

void tm_jw_null(struct tm_jw *w)
{
    value_start(w);
    tm_buf_append(&w->out, "null", 4);
}

int tm_jw_format_float(char *buf, float v)
{
    if (!isfinite(v))
        return snprintf(buf, 32, "null"); /* JSON has no NaN/Inf; never stored */
    for (int prec = 6; prec <= 9; prec++) {
        int n = snprintf(buf, 32, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v || prec == 9)
            return n;
    }
    return 0;
}

void tm_jw_float(struct tm_jw *w, float v)
{
    char buf[32];
    value_start(w);
    tm_buf_append(&w->out, buf, (size_t)tm_jw_format_float(buf, v));
}

void tm_jw_double(struct tm_jw *w, double v)
{
    char buf[40];
    value_start(w);
    if (!isfinite(v)) {
        tm_buf_append(&w->out, "null", 4);
        return;
    }
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    tm_buf_append(&w->out, buf, (size_t)n);
}

void tm_jw_raw(struct tm_jw *w, const char *json, size_t len)
{
    value_start(w);
    tm_buf_append(&w->out, json, len);
}
