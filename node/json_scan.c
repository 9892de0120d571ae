/* The strict JSON scanner (json_scan.h). */
#include "json_scan.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void tm_jscan_ws(const char **p, const char *end)
{
    while (*p < end && (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r'))
        (*p)++;
}

bool tm_jscan_expect(const char **p, const char *end, char c)
{
    tm_jscan_ws(p, end);
    if (*p >= end || **p != c)
        return false;
    (*p)++;
    return true;
}

static int hex(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* After a backslash: one escape jansson decodes to a non-NUL, non-surrogate
 * character. */
static bool scan_escape(const char **p, const char *end)
{
    if (*p >= end)
        return false;
    char c = *(*p)++;
    if (strchr("\"\\/bfnrt", c))
        return c != '\0';
    if (c != 'u' || end - *p < 4)
        return false;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex((*p)[i]);
        if (h < 0)
            return false;
        v = v * 16 + h;
    }
    *p += 4;
    return v != 0 && (v < 0xD800 || v > 0xDFFF);
}

/* After the opening quote: printable ASCII and escapes, then the quote. */
static bool scan_string(const char **p, const char *end, bool *escaped)
{
    *escaped = false;
    while (*p < end) {
        unsigned char c = (unsigned char)*(*p)++;
        if (c == '"')
            return true;
        if (c < 0x20 || c >= 0x80)
            return false;
        if (c == '\\' && !(*escaped = true, scan_escape(p, end)))
            return false;
    }
    return false;
}

bool tm_jscan_plain_string(const char **p, const char *end, const char **s, size_t *n)
{
    bool escaped;
    if (!tm_jscan_expect(p, end, '"'))
        return false;
    *s = *p;
    if (!scan_string(p, end, &escaped) || escaped)
        return false;
    *n = (size_t)(*p - *s - 1);
    return true;
}

/* A number token of JSON's grammar. */
struct num {
    uint64_t mant;   /* the first digits, up to 19 */
    int digits;      /* significant digits seen (leading zeros not counted) */
    int exp10;       /* value = mant * 10^exp10, when digits <= 19 */
    int int_digits;  /* digits before the point */
    bool neg, real;  /* a fraction or an exponent: jansson makes a real */
    const char *tok; /* the token's text */
    size_t len;
};

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* Four ASCII digits at p as a number (SWAR: neighbouring digits paired,
 * then the pairs); false if any byte is not a digit. A little-endian load:
 * the first digit is the lowest byte. Groups of four suit the six to nine
 * digits of common float formats as well as eight did, and seventeen
 * nearly as well. */
static bool four_digits(const char *p, uint32_t *v)
{
    uint32_t w;
    memcpy(&w, p, 4);
    if (((w & 0xF0F0F0F0u) | (((w + 0x06060606u) & 0xF0F0F0F0u) >> 4)) != 0x33333333u)
        return false;
    w -= 0x30303030u;
    w = w * 10 + (w >> 8);
    *v = (w & 0xFF) * 100 + ((w >> 16) & 0xFF);
    return true;
}
#endif

/* Leading zeros, then groups of four digits while they fit the 19 kept,
 * then the rest a byte at a time. */
static bool scan_digits(const char **p, const char *end, struct num *x, bool frac)
{
    const char *start = *p;
    for (; x->digits == 0 && *p < end && **p == '0'; (*p)++)
        x->exp10 -= frac;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint32_t v;
    while (end - *p >= 4 && x->digits <= 19 - 4 && four_digits(*p, &v)) {
        x->mant = x->mant * 10000u + v;
        x->digits += 4, *p += 4, x->exp10 -= frac ? 4 : 0;
    }
#endif
    for (; *p < end && **p >= '0' && **p <= '9'; (*p)++) {
        if (x->digits < 19) {
            x->mant = x->mant * 10 + (uint64_t)(**p - '0');
            if (frac)
                x->exp10--;
        } else if (!frac) {
            x->exp10++;
        }
        x->digits++;
    }
    return *p > start;
}

static bool scan_number(const char **p, const char *end, struct num *x)
{
    *x = (struct num){.tok = *p};
    if (*p < end && **p == '-')
        x->neg = true, (*p)++;
    if (*p < end && **p == '0' && *p + 1 < end && (*p)[1] >= '0' && (*p)[1] <= '9')
        return false; /* a leading zero */
    const char *int_start = *p;
    if (!scan_digits(p, end, x, false))
        return false;
    x->int_digits = (int)(*p - int_start);
    if (*p < end && **p == '.') {
        (*p)++;
        x->real = true;
        if (!scan_digits(p, end, x, true))
            return false;
    }
    if (*p < end && (**p == 'e' || **p == 'E')) {
        (*p)++;
        x->real = true;
        bool eneg = *p < end && **p == '-';
        if (*p < end && (**p == '-' || **p == '+'))
            (*p)++;
        int e = 0;
        const char *es = *p;
        for (; *p < end && **p >= '0' && **p <= '9'; (*p)++)
            e = e < 10000 ? e * 10 + (**p - '0') : e;
        if (*p == es)
            return false;
        x->exp10 += eneg ? -e : e;
        x->int_digits += eneg ? -e : e; /* the magnitude's order, roughly */
    }
    x->len = (size_t)(*p - x->tok);
    /* jansson refuses integers outside int64 and reals that overflow. */
    if (!x->real)
        return x->int_digits < 19 ||
               (x->int_digits == 19 && x->digits <= 19 && x->mant <= (uint64_t)INT64_MAX);
    return x->int_digits <= 300;
}

/* After a string's opening quote was expected: the string, escapes allowed. */
static bool scan_quoted(const char **p, const char *end, bool *escaped)
{
    return tm_jscan_expect(p, end, '"') && scan_string(p, end, escaped);
}

static bool record_floats(const char **p, const char *end, struct tm_jscan_arrays *m);

/* tm_jscan_value; m, when not NULL, records the arrays of numbers met. */
static bool scan_value(const char **p, const char *end, int depth, struct tm_jscan_arrays *m)
{
    bool escaped;
    struct num x;
    tm_jscan_ws(p, end);
    if (*p >= end || depth > TM_JSCAN_MAX_DEPTH)
        return false;
    char c = **p;
    if (c == '"')
        return scan_quoted(p, end, &escaped);
    if (c == '-' || (c >= '0' && c <= '9'))
        return scan_number(p, end, &x);
    static const char *const lits[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(lits[i]);
        if ((size_t)(end - *p) >= n && memcmp(*p, lits[i], n) == 0)
            return *p += n, true;
    }
    if (c != '[' && c != '{')
        return false;
    /* Its numbers are one level down, within the depth allowed. */
    if (m && c == '[' && depth < TM_JSCAN_MAX_DEPTH && record_floats(p, end, m))
        return true;
    char close = c == '[' ? ']' : '}';
    (*p)++;
    if (tm_jscan_expect(p, end, close))
        return true;
    do {
        if (close == '}' && !(scan_quoted(p, end, &escaped) && tm_jscan_expect(p, end, ':')))
            return false;
        if (!scan_value(p, end, depth + 1, m))
            return false;
    } while (tm_jscan_expect(p, end, ','));
    return tm_jscan_expect(p, end, close);
}

bool tm_jscan_value(const char **p, const char *end, int depth)
{
    return scan_value(p, end, depth, NULL);
}

static locale_t g_c_locale;
static pthread_once_t g_c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
    g_c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static locale_t c_locale(void)
{
    pthread_once(&g_c_locale_once, c_locale_init);
    return g_c_locale;
}

static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                             1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The double jansson's strtod gives the token (an integer token goes
 * through int64, as json_integer does: "-0" is +0.0). Clinger's fast path
 * when the digits and the power of ten are exact doubles; strtod else. */
static bool num_to_double(const struct num *x, double *out)
{
    if (!x->real) {
        int64_t v = (int64_t)x->mant;
        *out = (double)(x->neg ? -v : v);
        return true;
    }
    if (x->digits <= 15 && x->exp10 >= -22 && x->exp10 <= 22) {
        double d = (double)x->mant;
        d = x->exp10 < 0 ? d / p10[-x->exp10] : d * p10[x->exp10];
        *out = x->neg ? -d : d;
        return true;
    }
    char buf[64];
    locale_t c = c_locale();
    if (x->len >= sizeof buf || c == (locale_t)0)
        return false;
    memcpy(buf, x->tok, x->len);
    buf[x->len] = '\0';
    *out = strtod_l(buf, NULL, c); /* '.' whatever the process's locale */
    return true;
}

/* The float a correctly rounded double of the token casts to, without
 * strtod, for the 16 – 19 significant digits of full-precision clients
 * (a float32 printed as a double: 0.30000001192092896). The mantissa is
 * 19 digits at most (later ones are cut) and each of the two roundings
 * below is half an ulp, so d is within a few ulps of the exact double;
 * both cast to the same float unless a float32 rounding midpoint lies
 * that close, and then the caller asks strtod. False: not sure. */
static bool num_to_float_near(const struct num *x, float *out)
{
    enum { MARGIN = 16 };                   /* double ulps, generous */
    const uint64_t mid = (uint64_t)1 << 28; /* the 29 bits a float drops */
    if (!x->real || x->exp10 > 22 || x->exp10 < -44)
        return false;
    double d = (double)x->mant;
    if (x->exp10 >= 0)
        d *= p10[x->exp10];
    else if (x->exp10 >= -22)
        d /= p10[-x->exp10];
    else
        d = d / p10[22] / p10[-22 - x->exp10];
    if (!(d >= FLT_MIN && d <= FLT_MAX))
        return false; /* subnormal, zero or out of range: strtod decides */
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    uint64_t low = bits & (((uint64_t)1 << 29) - 1);
    if (low > mid - MARGIN && low < mid + MARGIN)
        return false;
    *out = (float)(x->neg ? -d : d);
    return true;
}

/* Whitespace, then a number token that is finite as a float32, into out. */
static bool scan_float(const char **p, const char *end, float *out)
{
    struct num x;
    double d;
    tm_jscan_ws(p, end);
    if (!scan_number(p, end, &x))
        return false;
    if (x.digits > 15 && num_to_float_near(&x, out))
        return true;
    if (!num_to_double(&x, &d))
        return false;
    *out = (float)d;
    return isfinite(d) && isfinite(*out);
}

bool tm_jscan_floats(const char **p, const char *end, float *out, size_t n)
{
    if (!tm_jscan_expect(p, end, '['))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((i && !tm_jscan_expect(p, end, ',')) || !scan_float(p, end, &out[i]))
            return false;
    return tm_jscan_expect(p, end, ']');
}

/* ---- arrays of numbers read while the data is scanned ---- */

static bool arrays_room(struct tm_jscan_arrays *m, size_t more_vals)
{
    if (m->nvals + more_vals > m->vcap) {
        size_t cap = m->vcap ? m->vcap : 1024;
        while (cap < m->nvals + more_vals)
            cap *= 2;
        float *v = realloc(m->vals, cap * sizeof *v);
        if (!v)
            return false;
        m->vals = v, m->vcap = cap;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        struct tm_jscan_array *a = realloc(m->a, cap * sizeof *a);
        if (!a)
            return false;
        m->a = a, m->cap = cap;
    }
    return true;
}

/* At '[': an array of numbers each finite as a float32, read into m, *p
 * past it. False (*p and m as they were) for anything else, or when memory
 * runs out: the caller scans it as any value. */
static bool record_floats(const char **p, const char *end, struct tm_jscan_arrays *m)
{
    const char *q = *p + 1;
    size_t n = 0;
    if (!tm_jscan_expect(&q, end, ']')) {
        do {
            if (!arrays_room(m, n + 1) || !scan_float(&q, end, &m->vals[m->nvals + n]))
                return false;
            n++;
        } while (tm_jscan_expect(&q, end, ','));
        if (!tm_jscan_expect(&q, end, ']'))
            return false;
    }
    if (!arrays_room(m, n))
        return false;
    m->a[m->n++] = (struct tm_jscan_array){.at = *p, .end = q, .off = m->nvals, .n = n};
    m->nvals += n;
    *p = q;
    return true;
}

const float *tm_jscan_arrays_find(struct tm_jscan_arrays *m, const char *at, size_t n,
                                  const char **end)
{
    while (m->next < m->n && m->a[m->next].at < at)
        m->next++;
    if (m->next == m->n || m->a[m->next].at != at || m->a[m->next].n != n)
        return NULL;
    *end = m->a[m->next].end;
    return m->vals + m->a[m->next].off;
}

void tm_jscan_arrays_free(struct tm_jscan_arrays *m)
{
    free(m->a);
    free(m->vals);
    *m = (struct tm_jscan_arrays){0};
}

bool tm_jscan_split_data(const char *body, size_t len, size_t *at, size_t *data_len,
                         struct tm_jscan_arrays *arrays)
{
    const char *p = body, *end = body + len;
    int found = 0;
    if (!tm_jscan_expect(&p, end, '{'))
        return false;
    if (!tm_jscan_expect(&p, end, '}')) {
        do {
            const char *k, *v;
            size_t kn;
            /* An escaped name might spell "data": not sure. */
            if (!tm_jscan_plain_string(&p, end, &k, &kn) || !tm_jscan_expect(&p, end, ':'))
                return false;
            tm_jscan_ws(&p, end);
            v = p;
            bool data = kn == 4 && memcmp(k, "data", 4) == 0;
            if (!scan_value(&p, end, 1, data ? arrays : NULL))
                return false;
            if (kn == 4 && strncasecmp(k, "data", 4) == 0) { /* "Data" is data too */
                if (found++ || *v != '[' || !data)
                    return false;
                *at = (size_t)(v - body);
                *data_len = (size_t)(p - v);
            }
        } while (tm_jscan_expect(&p, end, ','));
        if (!tm_jscan_expect(&p, end, '}'))
            return false;
    }
    tm_jscan_ws(&p, end);
    return p == end && found == 1;
}
