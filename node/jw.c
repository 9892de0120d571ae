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
        case '\\':
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
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

/* Shortest text that reads back as the same float32, by trying precisions. */
static int format_float_slow(char *buf, float v)
{
    for (int prec = 6; prec <= 9; prec++) {
        int n = snprintf(buf, 32, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v || prec == 9)
            return n;
    }
    return 0;
}

/* Exact shortest decimal for |v| in [1e-4, 10), the bulk of embedding values
 * (measured 6.6x faster than the snprintf loop; docs/json-library.md). For
 * k decimal places, v*10^k and the bounds of v's rounding interval times
 * 10^k are exact in double (a 24/25-bit significand times 5^k <= 5^12 stays
 * below 2^53), so "the nearest k-place decimal lies in the interval" is
 * decided exactly; the first k that works gives the shortest text. */
static int format_float_fast(char *out, float v)
{
    static const double p10[13] = {1e0, 1e1, 1e2, 1e3,  1e4,  1e5, 1e6,
                                   1e7, 1e8, 1e9, 1e10, 1e11, 1e12};
    float a = fabsf(v);
    uint32_t bits;
    memcpy(&bits, &a, sizeof bits);
    double d = a;
    double hi = (d + (double)nextafterf(a, INFINITY)) * 0.5;
    double lo = (d + (double)nextafterf(a, 0.0f)) * 0.5;
    bool closed = !(bits & 1); /* round-half-even: the ends belong to an even significand */
    for (int k = 0; k <= 12; k++) {
        double n = nearbyint(d * p10[k]), l = lo * p10[k], h = hi * p10[k];
        if (!(closed ? (n >= l && n <= h) : (n > l && n < h)))
            continue;
        char dig[24];
        int len = 0, o = 0;
        uint64_t u = (uint64_t)n;
        do {
            dig[len++] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        while (len <= k) /* at least one digit before the point */
            dig[len++] = '0';
        if (v < 0)
            out[o++] = '-';
        for (int i = len - 1; i >= 0; i--) {
            if (i == k - 1)
                out[o++] = '.';
            out[o++] = dig[i];
        }
        while (k > 0 && out[o - 1] == '0')
            o--;
        if (out[o - 1] == '.')
            o--;
        out[o] = '\0';
        return o;
    }
    return format_float_slow(out, v);
}

int tm_jw_format_float(char *buf, float v)
{
    if (!isfinite(v))
        return snprintf(buf, 32, "null"); /* JSON has no NaN/Inf; never stored */
    float a = fabsf(v);
    return a >= 1e-4f && a < 10.0f ? format_float_fast(buf, v) : format_float_slow(buf, v);
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
