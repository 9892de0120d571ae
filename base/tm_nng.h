/* What base's nng wrappers (tm_rpc.c, tm_stream.c) share. */
#ifndef TM_NNG_H
#define TM_NNG_H

#include <string.h>

#include "tm_err.h"

#define TM_URL_MAX 256

/* An nng error as a TM_E* code (0 stays 0). */
int tm_nng_err(int rv);

/* Copies the next address of a comma-separated list at *p into url and
 * moves *p past it: 1, or 0 at the list's end, or TM_EINVAL for an empty
 * or too long address. */
static inline int tm_url_next(const char **p, char url[TM_URL_MAX])
{
    size_t len = strcspn(*p, ",");
    if (**p == '\0')
        return 0;
    if (len == 0 || len >= TM_URL_MAX)
        return TM_EINVAL;
    memcpy(url, *p, len);
    url[len] = '\0';
    *p += len + ((*p)[len] == ',');
    return 1;
}

#endif
