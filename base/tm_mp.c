/* msgpack writer (msgpack-c packer into a tm_buf) and bounded reader. */
#include "tm_mp.h"
#include "tm_err.h"

#include <string.h>

/* ---- writer ---- */

static int mpw_write(void *data, const char *buf, size_t len)
{
    return tm_buf_append((struct tm_buf *)data, buf, len) ? -1 : 0;
}

void tm_mpw_init(struct tm_mpw *w)
{
    tm_buf_init(&w->buf);
    msgpack_packer_init(&w->pk, &w->buf, mpw_write);
}

void tm_mpw_free(struct tm_mpw *w)
{
    tm_buf_free(&w->buf);
}

int tm_mpw_error(const struct tm_mpw *w)
{
    return w->buf.err;
}

void tm_mpw_map(struct tm_mpw *w, uint32_t n)
{
    msgpack_pack_map(&w->pk, n);
}

void tm_mpw_array(struct tm_mpw *w, uint32_t n)
{
    msgpack_pack_array(&w->pk, n);
}

void tm_mpw_uint(struct tm_mpw *w, uint64_t v)
{
    msgpack_pack_uint64(&w->pk, v);
}

void tm_mpw_int(struct tm_mpw *w, int64_t v)
{
    msgpack_pack_int64(&w->pk, v);
}

void tm_mpw_bool(struct tm_mpw *w, bool v)
{
    if (v)
        msgpack_pack_true(&w->pk);
    else
        msgpack_pack_false(&w->pk);
}

void tm_mpw_nil(struct tm_mpw *w)
{
    msgpack_pack_nil(&w->pk);
}

void tm_mpw_float(struct tm_mpw *w, float v)
{
    msgpack_pack_float(&w->pk, v);
}

void tm_mpw_double(struct tm_mpw *w, double v)
{
    msgpack_pack_double(&w->pk, v);
}

void tm_mpw_str(struct tm_mpw *w, const char *s, size_t len)
{
    msgpack_pack_str(&w->pk, len);
    msgpack_pack_str_body(&w->pk, s, len);
}

void tm_mpw_cstr(struct tm_mpw *w, const char *s)
{
    if (!s)
        tm_mpw_nil(w);
    else
        tm_mpw_str(w, s, strlen(s));
}

void tm_mpw_bin(struct tm_mpw *w, const void *p, size_t len)
{
    msgpack_pack_bin(&w->pk, len);
    msgpack_pack_bin_body(&w->pk, p, len);
}

void tm_mpw_raw(struct tm_mpw *w, const void *p, size_t len)
{
    tm_buf_append(&w->buf, p, len);
}

/* ---- reader ---- */

void tm_mpr_init(struct tm_mpr *r, const void *data, size_t len)
{
    r->p = data;
    r->end = r->p + len;
    r->err = 0;
}

size_t tm_mpr_remaining(const struct tm_mpr *r)
{
    return (size_t)(r->end - r->p);
}

static int fail(struct tm_mpr *r, int err)
{
    if (!r->err)
        r->err = err;
    return r->err;
}

/* Fails a read that found no value of the wanted type: truncation when the
 * input ended, corruption when another type is there. */
static int mismatch(struct tm_mpr *r)
{
    return fail(r, r->err ? r->err : r->p >= r->end ? TM_ETRUNC : TM_ECORRUPT);
}

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Consumes n bytes and returns a pointer to them, or NULL (sticky error). */
static const uint8_t *take(struct tm_mpr *r, size_t n)
{
    if (r->err)
        return NULL;
    if (tm_mpr_remaining(r) < n) {
        fail(r, TM_ETRUNC);
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

static int take_be(struct tm_mpr *r, int n, uint64_t *v)
{
    const uint8_t *p = take(r, (size_t)n);
    if (!p)
        return r->err;
    *v = be(p, n);
    return 0;
}

enum tm_mp_type tm_mpr_peek(const struct tm_mpr *r)
{
    if (r->err || r->p >= r->end)
        return TM_MP_INVALID;
    uint8_t b = *r->p;
    if (b <= 0x7f || b == 0xcc || b == 0xcd || b == 0xce || b == 0xcf)
        return TM_MP_UINT;
    if (b >= 0xe0 || (b >= 0xd0 && b <= 0xd3))
        return TM_MP_INT;
    if ((b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf)
        return TM_MP_MAP;
    if ((b >= 0x90 && b <= 0x9f) || b == 0xdc || b == 0xdd)
        return TM_MP_ARRAY;
    if ((b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb))
        return TM_MP_STR;
    switch (b) {
    case 0xc0:
        return TM_MP_NIL;
    case 0xc2:
    case 0xc3:
        return TM_MP_BOOL;
    case 0xca:
    case 0xcb:
        return TM_MP_FLOAT;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        return TM_MP_BIN;
    default:
        return (b >= 0xd4 && b <= 0xd8) || (b >= 0xc7 && b <= 0xc9) ? TM_MP_EXT : TM_MP_INVALID;
    }
}

/* Reads a container header; the count is checked against the remaining bytes
 * (each element needs at least `min_bytes_each` bytes) before it is returned. */
static int container(struct tm_mpr *r, uint32_t *n_out, uint8_t fix_lo, uint8_t fix_hi, uint8_t b16,
                     uint8_t b32, size_t min_bytes_each)
{
    const uint8_t *p = take(r, 1);
    if (!p)
        return r->err;
    uint64_t n;
    if (*p >= fix_lo && *p <= fix_hi)
        n = *p & 0x0f;
    else if (*p == b16 && take_be(r, 2, &n) == 0)
        ;
    else if (*p == b32 && take_be(r, 4, &n) == 0)
        ;
    else
        return fail(r, r->err ? r->err : TM_ECORRUPT);
    if (n * min_bytes_each > tm_mpr_remaining(r))
        return fail(r, TM_ETRUNC);
    *n_out = (uint32_t)n;
    return 0;
}

int tm_mpr_map(struct tm_mpr *r, uint32_t *n_out)
{
    return container(r, n_out, 0x80, 0x8f, 0xde, 0xdf, 2);
}

int tm_mpr_array(struct tm_mpr *r, uint32_t *n_out)
{
    return container(r, n_out, 0x90, 0x9f, 0xdc, 0xdd, 1);
}

int tm_mpr_uint(struct tm_mpr *r, uint64_t *v_out)
{
    int64_t v;
    if (tm_mpr_peek(r) == TM_MP_UINT) {
        const uint8_t *p = take(r, 1);
        if (*p <= 0x7f) {
            *v_out = *p;
            return 0;
        }
        return take_be(r, 1 << (*p - 0xcc), v_out);
    }
    if (tm_mpr_int(r, &v))
        return r->err;
    if (v < 0)
        return fail(r, TM_ECORRUPT);
    *v_out = (uint64_t)v;
    return 0;
}

int tm_mpr_int(struct tm_mpr *r, int64_t *v_out)
{
    enum tm_mp_type t = tm_mpr_peek(r);
    if (t == TM_MP_UINT) {
        uint64_t u;
        if (tm_mpr_uint(r, &u))
            return r->err;
        if (u > INT64_MAX)
            return fail(r, TM_ECORRUPT);
        *v_out = (int64_t)u;
        return 0;
    }
    if (t != TM_MP_INT)
        return mismatch(r);
    const uint8_t *p = take(r, 1);
    if (*p >= 0xe0) {
        *v_out = (int8_t)*p;
        return 0;
    }
    int n = 1 << (*p - 0xd0);
    uint64_t u;
    if (take_be(r, n, &u))
        return r->err;
    if (n == 1)
        *v_out = (int8_t)u;
    else if (n == 2)
        *v_out = (int16_t)u;
    else if (n == 4)
        *v_out = (int32_t)u;
    else
        *v_out = (int64_t)u;
    return 0;
}

int tm_mpr_bool(struct tm_mpr *r, bool *v_out)
{
    if (tm_mpr_peek(r) != TM_MP_BOOL)
        return mismatch(r);
    *v_out = *take(r, 1) == 0xc3;
    return 0;
}

int tm_mpr_double(struct tm_mpr *r, double *v_out)
{
    enum tm_mp_type t = tm_mpr_peek(r);
    if (t == TM_MP_UINT || t == TM_MP_INT) {
        int64_t v;
        if (tm_mpr_int(r, &v))
            return r->err;
        *v_out = (double)v;
        return 0;
    }
    if (t != TM_MP_FLOAT)
        return mismatch(r);
    uint8_t b = *take(r, 1);
    uint64_t u;
    if (take_be(r, b == 0xca ? 4 : 8, &u))
        return r->err;
    if (b == 0xca) {
        uint32_t u32 = (uint32_t)u;
        float f;
        memcpy(&f, &u32, 4);
        *v_out = f;
    } else {
        memcpy(v_out, &u, 8);
    }
    return 0;
}

bool tm_mpr_nil(struct tm_mpr *r)
{
    if (tm_mpr_peek(r) != TM_MP_NIL)
        return false;
    r->p++;
    return true;
}

static int blob(struct tm_mpr *r, const uint8_t **p_out, uint32_t *len_out, bool str)
{
    const uint8_t *p = take(r, 1);
    if (!p)
        return r->err;
    uint64_t n;
    if (str && *p >= 0xa0 && *p <= 0xbf)
        n = *p & 0x1f;
    else if ((*p == (str ? 0xd9 : 0xc4)) && take_be(r, 1, &n) == 0)
        ;
    else if ((*p == (str ? 0xda : 0xc5)) && take_be(r, 2, &n) == 0)
        ;
    else if ((*p == (str ? 0xdb : 0xc6)) && take_be(r, 4, &n) == 0)
        ;
    else
        return fail(r, r->err ? r->err : TM_ECORRUPT);
    const uint8_t *body = take(r, (size_t)n);
    if (!body)
        return r->err;
    *p_out = body;
    *len_out = (uint32_t)n;
    return 0;
}

int tm_mpr_str(struct tm_mpr *r, const char **s_out, uint32_t *len_out)
{
    /* Through a local: writing a `const char *` via a `const uint8_t **` would
     * break strict aliasing, and the optimiser does exploit it. */
    const uint8_t *p = NULL;
    int rc = blob(r, &p, len_out, true);
    if (!rc)
        *s_out = (const char *)p;
    return rc;
}

int tm_mpr_bin(struct tm_mpr *r, const uint8_t **p_out, uint32_t *len_out)
{
    return blob(r, p_out, len_out, false);
}

int tm_mpr_str_copy(struct tm_mpr *r, char *dst, size_t cap)
{
    const char *s = "";
    uint32_t n = 0;
    if (tm_mpr_str(r, &s, &n))
        return r->err;
    if (n >= cap)
        return TM_ETOOBIG;
    if (n)
        memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

/* `depth` counts the containers around the value: at most 64 may nest, so
 * a container met at depth 64 is refused (and the recursion stays bounded). */
static int skip_depth(struct tm_mpr *r, int depth)
{
    uint32_t n, len;
    const uint8_t *p;
    int64_t i;
    double d;
    bool b;
    switch (tm_mpr_peek(r)) {
    case TM_MP_NIL:
        r->p++;
        return 0;
    case TM_MP_BOOL:
        return tm_mpr_bool(r, &b);
    case TM_MP_UINT:
    case TM_MP_INT:
        if (*r->p == 0xcf) /* uint64 above INT64_MAX is still a valid value */
            return take(r, 9) ? 0 : r->err;
        return tm_mpr_int(r, &i);
    case TM_MP_FLOAT:
        return tm_mpr_double(r, &d);
    case TM_MP_STR:
        return blob(r, &p, &len, true);
    case TM_MP_BIN:
        return blob(r, &p, &len, false);
    case TM_MP_ARRAY:
        if (depth >= 64)
            return fail(r, TM_ECORRUPT);
        if (tm_mpr_array(r, &n))
            return r->err;
        for (uint32_t k = 0; k < n; k++)
            if (skip_depth(r, depth + 1))
                return r->err;
        return 0;
    case TM_MP_MAP:
        if (depth >= 64)
            return fail(r, TM_ECORRUPT);
        if (tm_mpr_map(r, &n))
            return r->err;
        for (uint32_t k = 0; k < 2 * n; k++)
            if (skip_depth(r, depth + 1))
                return r->err;
        return 0;
    default:
        return mismatch(r);
    }
}

int tm_mpr_skip(struct tm_mpr *r)
{
    return skip_depth(r, 0);
}

int tm_mpr_raw(struct tm_mpr *r, const uint8_t **p_out, size_t *len_out)
{
    const uint8_t *start = r->p;
    if (tm_mpr_skip(r))
        return r->err;
    *p_out = start;
    *len_out = (size_t)(r->p - start);
    return 0;
}

int tm_mpr_find(struct tm_mpr *r, const char *key)
{
    uint32_t n, kn;
    const char *k;
    size_t klen = strlen(key);
    if (tm_mpr_map(r, &n))
        return TM_ENOTFOUND;
    for (uint32_t i = 0; i < n; i++) {
        if (tm_mpr_str(r, &k, &kn))
            return TM_ENOTFOUND;
        if (kn == klen && memcmp(k, key, kn) == 0)
            return 0;
        if (tm_mpr_skip(r))
            return TM_ENOTFOUND;
    }
    return TM_ENOTFOUND;
}

int64_t tm_mpr_key_int(struct tm_mpr m, const char *key, int64_t dflt)
{
    int64_t v;
    return tm_mpr_find(&m, key) == 0 && tm_mpr_int(&m, &v) == 0 ? v : dflt;
}
