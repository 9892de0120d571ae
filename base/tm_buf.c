/* Growable byte buffer with a sticky allocation error. */
#include "tm_buf.h"
#include "tm_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#define MAP_MIN (1u << 20)
#define POPULATE_STEP (1u << 20)

void tm_buf_set_large(struct tm_buf *b)
{
    b->large = true;
}

/* Faults in the pages up to `need` bytes ahead of use, a step at a time. */
static void populate(struct tm_buf *b, size_t need)
{
    if (need <= b->ready)
        return;
    size_t to = (need + POPULATE_STEP - 1) / POPULATE_STEP * POPULATE_STEP;
    if (to > b->cap)
        to = b->cap;
    if (madvise(b->data + b->ready, to - b->ready, MADV_POPULATE_WRITE))
        to = b->cap; /* an older kernel: pages fault in as they are touched */
    b->ready = to;
}

/* Moves b to a mapping of cap bytes, or grows its mapping (no copy). */
static int grow_mapped(struct tm_buf *b, size_t cap)
{
    uint8_t *old = b->data;
    uint8_t *p = b->mapped
                     ? mremap(old, b->cap, cap, MREMAP_MAYMOVE)
                     : mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return b->err = TM_ENOMEM;
    b->data = p;
    b->cap = cap;
    if (!b->mapped) {
        b->mapped = true;
        b->ready = 0;
        populate(b, b->len);
        if (b->len)
            memcpy(p, old, b->len);
        free(old);
    }
    return 0;
}

void tm_buf_init(struct tm_buf *b)
{
    memset(b, 0, sizeof *b);
}

void tm_buf_borrow(struct tm_buf *b, const void *p, size_t len)
{
    tm_buf_init(b);
    b->data = (uint8_t *)p; /* never written through: err refuses appends */
    b->len = b->cap = len;
    b->err = TM_EINVAL;
    b->borrowed = true;
}

void tm_buf_free(struct tm_buf *b)
{
    bool large = b->large;
    if (b->borrowed)
        ;
    else if (b->mapped)
        munmap(b->data, b->cap);
    else
        free(b->data);
    tm_buf_init(b);
    b->large = large;
}

int tm_buf_reserve(struct tm_buf *b, size_t extra)
{
    if (b->err)
        return b->err;
    if (b->len + extra <= b->cap) {
        if (b->mapped)
            populate(b, b->len + extra);
        return 0;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra)
        cap *= 2;
    if (b->large && cap >= MAP_MIN) {
        int rc = grow_mapped(b, cap);
        if (!rc)
            populate(b, b->len + extra);
        return rc;
    }
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
    if (b->mapped || b->borrowed) { /* the caller will free() it */
        p = malloc(b->len ? b->len : 1);
        if (!p) {
            b->err = TM_ENOMEM;
            *len_out = 0;
            return NULL; /* b keeps its bytes */
        }
        if (b->len)
            memcpy(p, b->data, b->len);
        if (b->mapped)
            munmap(b->data, b->cap);
    }
    bool large = b->large;
    *len_out = b->len;
    tm_buf_init(b);
    b->large = large;
    return p;
}
