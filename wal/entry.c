/* WAL entry codec; the layout and validity rule are in entry.h. */
#include "entry.h"
#include "tm_err.h"
#include "tm_mp.h"

#include <string.h>

#define KEY_IS(k, n, lit) ((n) == sizeof(lit) - 1 && memcmp((k), (lit), (n)) == 0)

static void span_or_nil(struct tm_mpw *w, struct tm_span s)
{
    if (s.p && s.len)
        tm_mpw_raw(w, s.p, s.len);
    else
        tm_mpw_nil(w);
}

int tm_entry_encode(struct tm_buf *out, const struct tm_entry_hdr *h, struct tm_span rows,
                    struct tm_span pks)
{
    struct tm_mpw w;
    tm_mpw_init(&w);
    tm_mpw_map(&w, h->nops ? 11 : 10);
    tm_mpw_cstr(&w, "v"), tm_mpw_uint(&w, TM_ENTRY_VERSION);
    tm_mpw_cstr(&w, "k"), tm_mpw_uint(&w, (uint64_t)h->kind);
    tm_mpw_cstr(&w, "ts"), tm_mpw_uint(&w, h->ts);
    tm_mpw_cstr(&w, "coll"), tm_mpw_int(&w, h->coll_id);
    tm_mpw_cstr(&w, "part"), tm_mpw_int(&w, h->part_id);
    tm_mpw_cstr(&w, "dpart"), tm_mpw_int(&w, h->default_part_id);
    tm_mpw_cstr(&w, "cid"), tm_mpw_cstr(&w, h->client_id[0] ? h->client_id : NULL);
    tm_mpw_cstr(&w, "seq"), tm_mpw_uint(&w, h->seq);
    if (h->nops) {
        tm_mpw_cstr(&w, "ops"), tm_entry_ops_encode(&w, h->ops, h->nops);
    }
    tm_mpw_cstr(&w, "rows"), span_or_nil(&w, rows);
    tm_mpw_cstr(&w, "pks"), span_or_nil(&w, pks);
    tm_buf_pad(&w.buf, 8);
    int rc = tm_mpw_error(&w);
    if (!rc)
        rc = tm_buf_append(out, w.buf.data, w.buf.len);
    tm_mpw_free(&w);
    return rc;
}

static int read_span(struct tm_mpr *r, struct tm_span *s)
{
    s->p = NULL;
    s->len = 0;
    if (tm_mpr_nil(r))
        return 0;
    return tm_mpr_raw(r, &s->p, &s->len);
}

void tm_entry_ops_encode(struct tm_mpw *w, const struct tm_field_op_spec *ops, uint32_t n)
{
    tm_mpw_array(w, n);
    for (uint32_t i = 0; i < n; i++) {
        tm_mpw_array(w, 2);
        tm_mpw_int(w, ops[i].field_id);
        tm_mpw_uint(w, (uint64_t)ops[i].op);
    }
}

int tm_entry_ops_decode(struct tm_mpr *r, struct tm_entry_hdr *h)
{
    uint32_t n, two;
    uint64_t op;
    if (tm_mpr_array(r, &n))
        return r->err;
    if (n > TM_ENTRY_MAX_OPS)
        return TM_ECORRUPT;
    for (uint32_t i = 0; i < n; i++) {
        if (tm_mpr_array(r, &two) || two != 2 || tm_mpr_int(r, &h->ops[i].field_id) ||
            tm_mpr_uint(r, &op) || op > TM_OP_ARRAY_REMOVE)
            return r->err ? r->err : TM_ECORRUPT;
        h->ops[i].op = (enum tm_field_op)op;
    }
    h->nops = n;
    return 0;
}

static int read_key(struct tm_mpr *r, const char *k, uint32_t kn, struct tm_entry_hdr *h,
                    struct tm_span *rows, struct tm_span *pks)
{
    uint64_t u;
    if (KEY_IS(k, kn, "v"))
        return tm_mpr_uint(r, &u) ? r->err : (h->version = (uint32_t)u, u > UINT32_MAX);
    if (KEY_IS(k, kn, "k")) /* range-checked here: the cast would wrap 2^32 + 1 to 1 */
        return tm_mpr_uint(r, &u) ? r->err
                                  : (h->kind = (enum tm_entry_kind)u, u > TM_ENTRY_COMPACT);
    if (KEY_IS(k, kn, "ts"))
        return tm_mpr_uint(r, &h->ts);
    if (KEY_IS(k, kn, "coll"))
        return tm_mpr_int(r, &h->coll_id);
    if (KEY_IS(k, kn, "part"))
        return tm_mpr_int(r, &h->part_id);
    if (KEY_IS(k, kn, "dpart"))
        return tm_mpr_int(r, &h->default_part_id);
    if (KEY_IS(k, kn, "cid")) { /* longer than any encoder writes: malformed */
        int rc = tm_mpr_nil(r) ? 0 : tm_mpr_str_copy(r, h->client_id, sizeof h->client_id);
        return rc == TM_ETOOBIG ? TM_ECORRUPT : rc;
    }
    if (KEY_IS(k, kn, "seq"))
        return tm_mpr_uint(r, &h->seq);
    if (KEY_IS(k, kn, "ops"))
        return tm_entry_ops_decode(r, h);
    if (KEY_IS(k, kn, "rows"))
        return read_span(r, rows);
    if (KEY_IS(k, kn, "pks"))
        return read_span(r, pks);
    return tm_mpr_skip(r);
}

int tm_entry_decode(const void *buf, size_t len, struct tm_entry_hdr *h, struct tm_span *rows,
                    struct tm_span *pks)
{
    struct tm_mpr r;
    uint32_t n, kn;
    const char *k;
    memset(h, 0, sizeof *h);
    memset(rows, 0, sizeof *rows);
    memset(pks, 0, sizeof *pks);
    if (len % 8)
        return TM_ECORRUPT; /* every entry is padded to 8 bytes */
    tm_mpr_init(&r, buf, len);
    if (tm_mpr_map(&r, &n))
        return r.err;
    for (uint32_t i = 0; i < n; i++) {
        if (tm_mpr_str(&r, &k, &kn))
            return r.err;
        int rc = read_key(&r, k, kn, h, rows, pks);
        if (rc)
            return rc < 0 ? rc : TM_ECORRUPT;
    }
    size_t pad = tm_mpr_remaining(&r);
    if (pad >= 8)
        return TM_ECORRUPT;
    for (size_t i = 0; i < pad; i++)
        if (r.p[i] != 0)
            return TM_ECORRUPT;
    if (h->version != TM_ENTRY_VERSION)
        return TM_EVERSION;
    if (h->kind < TM_ENTRY_INSERT || h->kind > TM_ENTRY_COMPACT)
        return TM_ECORRUPT;
    return 0;
}
