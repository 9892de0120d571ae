/* Base64 codec (RFC 4648). */
#include "base64.h"
#include "tm_err.h"

static const char g_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int sextet(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

int tm_base64_decode(const char *text, size_t len, struct tm_buf *out)
{
    if (len % 4)
        return TM_EINVAL;
    for (size_t i = 0; i < len; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = text[i + k];
            bool last = i + 4 == len;
            if (c == '=' && last && k >= 2) {
                v[k] = 0;
                pad++;
            } else if ((v[k] = sextet(c)) < 0 || pad) {
                return TM_EINVAL;
            }
        }
        uint32_t bits = (uint32_t)(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
        uint8_t b[3] = {(uint8_t)(bits >> 16), (uint8_t)(bits >> 8), (uint8_t)bits};
        if (tm_buf_append(out, b, (size_t)(3 - pad)))
            return TM_ENOMEM;
    }
    return 0;
}

int tm_base64_encode(const uint8_t *p, size_t len, struct tm_buf *out)
{
    for (size_t i = 0; i < len; i += 3) {
        uint32_t bits = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            bits |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len)
            bits |= p[i + 2];
        char q[4] = {g_alphabet[bits >> 18 & 63], g_alphabet[bits >> 12 & 63],
                     i + 1 < len ? g_alphabet[bits >> 6 & 63] : '=',
                     i + 2 < len ? g_alphabet[bits & 63] : '='};
        if (tm_buf_append(out, q, 4))
            return TM_ENOMEM;
    }
    return 0;
}
