/* Growable byte buffer with a sticky allocation error. */
#include "tm_buf.h"
#include "tm_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tm_buf_init(struct tm_buf *b)
{
    memset(b, 0, sizeof *b);
}

void tm_buf_free(struct tm_buf *b)
{
    free(b->data);
    tm_buf_init(b);
}

int tm_buf_reserve(struct tm_buf *b, size_t extra)
{
    if (b->err)
        return b->err;
    if (b->len + extra <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra)
        cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p)
        return b->err = TM_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int tm_buf_append(struct tm_buf *b, const void *p, size_t n)
{
    int rc = tm_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int tm_buf_append_str(struct tm_buf *b, const char *s)
{
    return tm_buf_append(b, s, strlen(s));
}

int tm_buf_printf(struct tm_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return TM_EINVAL;
    int rc = tm_buf_reserve(b, (size_t)n + 1);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int tm_buf_pad(struct tm_buf *b, size_t align)
{
    static const uint8_t zeros[16];
    size_t rem = b->len % align;
    return rem ? tm_buf_append(b, zeros, align - rem) : 0;
}

uint8_t *tm_buf_steal(struct tm_buf *b, size_t *len_out)
{
    uint8_t *p = b->data;
    *len_out = b->len;
    tm_buf_init(b);
    return p;
}
