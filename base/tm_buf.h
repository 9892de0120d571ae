/* A growable byte buffer. */
#ifndef TM_BUF_H
#define TM_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tm_buf {
    uint8_t *data; /* owned; NULL while empty */
    size_t len;
    size_t cap;
    int err;       /* sticky: TM_ENOMEM once an append failed (TM_EINVAL: borrowed);
                    * later appends do nothing */
    bool large;    /* tm_buf_set_large */
    bool mapped;   /* data is an mmap of cap bytes, grown by mremap */
    size_t ready;  /* mapped: bytes whose pages are faulted in */
    bool borrowed; /* tm_buf_borrow: data is someone else's */
};

void tm_buf_init(struct tm_buf *b);
/* For a buffer that grows large and lives long (a growing segment's column):
 * past 1 MiB it lives in a mapping of its own, grown by mremap instead of
 * copied, and its pages are faulted in 1 MiB ahead of use with one call
 * (MADV_POPULATE_WRITE) instead of one fault per page. On this project's
 * virtual machines a page fault costs about 11 µs, a populated page 6 µs
 * (benchmarks.md, "Fuller calls"). Kept across tm_buf_free and _steal. */
void tm_buf_set_large(struct tm_buf *b);
void tm_buf_free(struct tm_buf *b);
/* Makes b a read-only view of len bytes at p, which must outlive it: every
 * append fails (TM_EINVAL), tm_buf_free forgets the bytes without freeing
 * them, tm_buf_steal copies them. For decoding without a copy. */
void tm_buf_borrow(struct tm_buf *b, const void *p, size_t len);
/* Ensures room for `extra` more bytes. Returns 0 or TM_ENOMEM (also sticky). */
int tm_buf_reserve(struct tm_buf *b, size_t extra);
int tm_buf_append(struct tm_buf *b, const void *p, size_t n);
int tm_buf_append_str(struct tm_buf *b, const char *s);
int tm_buf_printf(struct tm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends zero bytes until len is a multiple of `align`. */
int tm_buf_pad(struct tm_buf *b, size_t align);
/* Transfers ownership of the bytes to the caller (free() them); b becomes
 * empty. A mapped buffer's bytes are copied to the heap first; if that
 * fails: NULL, and b keeps them with its sticky TM_ENOMEM. */
uint8_t *tm_buf_steal(struct tm_buf *b, size_t *len_out);

#endif
