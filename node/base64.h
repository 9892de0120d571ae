/* Standard base64 (RFC 4648, with padding), for vector values in JSON. */
#ifndef TM_BASE64_H
#define TM_BASE64_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "tm_buf.h"

/* Decodes text into out (appending). Returns 0 or TM_EINVAL for bad input. */
int tm_base64_decode(const char *text, size_t len, struct tm_buf *out);
/* Encodes bytes, appending the text to out. 0 or TM_ENOMEM. */
int tm_base64_encode(const uint8_t *p, size_t len, struct tm_buf *out);

#endif
