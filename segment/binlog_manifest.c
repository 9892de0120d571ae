/* The manifest and stats logs of a sealed segment (one uncompressed block
 * holding a msgpack map each; keys in docs/formats.md), and recovery: the
 * scan of a segment tree and the removal of a segment.
 */
#include "binlog_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tm_err.h"
#include "tm_mp.h"

/* ---- one-block msgpack files ---- */

static int write_map_file(const char *dir, const char *name, struct bl_hdr *h,
                          const struct tm_mpw *w, struct bl_file *out, uint64_t *raw_out,
                          char *errmsg)
{
    struct bl_writer bw;
    h->codec = BL_CODEC_NONE;
    int rc = tm_mpw_error(w);
    if (rc)
        return bl_err(errmsg, rc, "segment %lld: %s: no memory", (long long)h->seg_id, name);
    rc = bl_writer_open(&bw, dir, name, h, errmsg);
    if (!rc)
        rc = bl_writer_add(&bw, w->buf.data, w->buf.len, 1, errmsg);
    if (!rc)
        rc = bl_writer_finish(&bw, out, errmsg);
    *raw_out = w->buf.len;
    bl_writer_abort(&bw);
    return rc;
}

/* Reads the one block of a msgpack-map file opened in r into raw. */
static int read_map_block(struct bl_reader *r, struct tm_buf *raw, char *errmsg)
{
    if (r->hdr.nblocks != 1)
        return bl_corrupt(r, errmsg, "header", 72, "expected exactly one block");
    return bl_reader_block(r, 0, raw, errmsg);
}

static int key_uint(struct tm_mpr m, const char *key, uint64_t *out)
{
    return tm_mpr_find(&m, key) || tm_mpr_uint(&m, out) ? TM_ECORRUPT : 0;
}

static int key_int(struct tm_mpr m, const char *key, int64_t *out)
{
    return tm_mpr_find(&m, key) || tm_mpr_int(&m, out) ? TM_ECORRUPT : 0;
}

/* ---- manifest ---- */

static void manifest_encode(struct tm_mpw *w, const struct bl_manifest *m)
{
    const struct tm_seg_meta *s = &m->meta;
    tm_mpw_map(w, 11);
    tm_mpw_cstr(w, "v"), tm_mpw_uint(w, TM_BINLOG_VERSION);
    tm_mpw_cstr(w, "seg"), tm_mpw_int(w, s->seg_id);
    tm_mpw_cstr(w, "coll"), tm_mpw_int(w, s->coll_id);
    tm_mpw_cstr(w, "part"), tm_mpw_int(w, s->part_id);
    tm_mpw_cstr(w, "shard"), tm_mpw_uint(w, s->shard);
    tm_mpw_cstr(w, "pk_field"), tm_mpw_int(w, s->pk_field_id);
    tm_mpw_cstr(w, "log_index"), tm_mpw_uint(w, s->log_index);
    tm_mpw_cstr(w, "last_ts"), tm_mpw_uint(w, s->last_ts);
    tm_mpw_cstr(w, "rows"), tm_mpw_uint(w, s->nrows);
    tm_mpw_cstr(w, "deletes"), tm_mpw_uint(w, s->ndeletes);
    tm_mpw_cstr(w, "files"), tm_mpw_array(w, m->nfiles);
    for (uint32_t i = 0; i < m->nfiles; i++) {
        const struct bl_file *f = &m->files[i];
        tm_mpw_array(w, 9);
        tm_mpw_cstr(w, f->name);
        tm_mpw_uint(w, f->kind), tm_mpw_int(w, f->field_id), tm_mpw_uint(w, f->dtype);
        tm_mpw_uint(w, f->width), tm_mpw_bool(w, f->nullable), tm_mpw_uint(w, f->nrows);
        tm_mpw_uint(w, f->size), tm_mpw_uint(w, f->crc);
    }
}

int bl_manifest_write(const char *dir, const struct bl_manifest *m, struct bl_file *out,
                      uint64_t *raw_out, char *errmsg)
{
    struct tm_mpw w;
    tm_mpw_init(&w);
    manifest_encode(&w, m);
    struct bl_hdr h;
    bl_hdr_identity(&h, &m->meta, BL_MANIFEST_KIND);
    int rc = write_map_file(dir, BL_MANIFEST, &h, &w, out, raw_out, errmsg);
    tm_mpw_free(&w);
    return rc;
}

static int file_decode(struct tm_mpr *r, struct bl_file *f)
{
    uint32_t n;
    uint64_t kind, dtype, width, crc;
    if (tm_mpr_array(r, &n) || n < 9 || tm_mpr_str_copy(r, f->name, sizeof f->name))
        return TM_ECORRUPT;
    int rc = tm_mpr_uint(r, &kind) || tm_mpr_int(r, &f->field_id) || tm_mpr_uint(r, &dtype) ||
             tm_mpr_uint(r, &width) || tm_mpr_bool(r, &f->nullable) || tm_mpr_uint(r, &f->nrows) ||
             tm_mpr_uint(r, &f->size) || tm_mpr_uint(r, &crc);
    for (uint32_t i = 9; !rc && i < n; i++)
        rc = tm_mpr_skip(r);
    if (rc || kind > UINT32_MAX || dtype > UINT32_MAX || width > UINT32_MAX || crc > UINT32_MAX)
        return TM_ECORRUPT;
    f->kind = (uint32_t)kind, f->dtype = (uint32_t)dtype, f->width = (uint32_t)width;
    f->crc = (uint32_t)crc;
    return 0;
}

/* The name a listed file must have: nothing outside the directory, and
 * nothing the scan would not recognise as ours. */
static bool file_name_ok(const struct bl_file *f)
{
    char want[TM_BINLOG_NAME_MAX];
    if (f->kind == BL_COLUMN)
        bl_col_name(want, f->field_id);
    else
        snprintf(want, sizeof want, "%s", f->kind == BL_DELTA_KIND ? BL_DELTA : BL_STATS);
    return (f->kind == BL_COLUMN || f->kind == BL_DELTA_KIND || f->kind == BL_STATS_KIND) &&
           !strcmp(want, f->name);
}

static int manifest_decode(const struct tm_buf *raw, struct bl_manifest *m)
{
    struct tm_mpr r;
    struct tm_seg_meta *s = &m->meta;
    uint64_t v, shard;
    uint32_t n;
    tm_mpr_init(&r, raw->data, raw->len);
    if (key_uint(r, "v", &v) || v != TM_BINLOG_VERSION)
        return TM_EVERSION;
    int rc = key_int(r, "seg", &s->seg_id) || key_int(r, "coll", &s->coll_id) ||
             key_int(r, "part", &s->part_id) || key_uint(r, "shard", &shard) ||
             key_int(r, "pk_field", &s->pk_field_id) || key_uint(r, "log_index", &s->log_index) ||
             key_uint(r, "last_ts", &s->last_ts) || key_uint(r, "rows", &s->nrows) ||
             key_uint(r, "deletes", &s->ndeletes) || tm_mpr_find(&r, "files") ||
             tm_mpr_array(&r, &n);
    if (rc || shard > UINT32_MAX || n > TM_BINLOG_MAX_FILES)
        return TM_ECORRUPT;
    s->shard = (uint32_t)shard;
    m->nfiles = n;
    for (uint32_t i = 0; i < n; i++)
        if (file_decode(&r, &m->files[i]) || !file_name_ok(&m->files[i]))
            return TM_ECORRUPT;
    return 0;
}

/* The manifest must agree with its own header and describe a whole
 * segment: a timestamp column and stats, names unique. */
static bool manifest_consistent(const struct bl_manifest *m, const struct bl_hdr *h)
{
    const struct tm_seg_meta *s = &m->meta;
    if (s->seg_id != h->seg_id || s->coll_id != h->coll_id || s->part_id != h->part_id ||
        s->shard != h->shard)
        return false;
    for (uint32_t i = 0; i < m->nfiles; i++)
        for (uint32_t j = 0; j < i; j++)
            if (!strcmp(m->files[i].name, m->files[j].name))
                return false;
    const struct bl_file *ts = bl_manifest_find(m, BL_COLUMN, TM_BINLOG_TS_FIELD);
    const struct bl_file *delta = bl_manifest_find(m, BL_DELTA_KIND, s->pk_field_id);
    return ts && ts->nrows == s->nrows && bl_manifest_find(m, BL_STATS_KIND, s->pk_field_id) &&
           (delta ? delta->nrows : 0) == s->ndeletes;
}

const struct bl_file *bl_manifest_find(const struct bl_manifest *m, uint32_t kind, int64_t field_id)
{
    for (uint32_t i = 0; i < m->nfiles; i++)
        if (m->files[i].kind == kind && (kind != BL_COLUMN || m->files[i].field_id == field_id))
            return &m->files[i];
    return NULL;
}

static int manifest_load(const char *dir, struct bl_manifest *m, char *errmsg)
{
    struct bl_reader r;
    struct tm_buf raw;
    char where[BL_WHERE];
    tm_buf_init(&raw);
    snprintf(where, sizeof where, "%s/" BL_MANIFEST, dir);
    int rc = bl_reader_open(&r, dir, BL_MANIFEST, BL_MANIFEST_KIND, where, errmsg);
    if (rc == -ENOENT)
        rc = bl_err(errmsg, TM_ENOTFOUND, "%s: no manifest: not a segment", where);
    if (!rc)
        rc = read_map_block(&r, &raw, errmsg);
    if (!rc) {
        rc = manifest_decode(&raw, m);
        if (rc == TM_EVERSION)
            bl_err(errmsg, rc, "%s: unknown manifest version", where);
        else if (rc || !manifest_consistent(m, &r.hdr))
            rc = bl_corrupt(&r, errmsg, "block 0", BL_HDR_SIZE, "malformed manifest");
    }
    bl_reader_close(&r);
    tm_buf_free(&raw);
    return rc;
}

int bl_manifest_read(const char *dir, struct bl_manifest *m, char *errmsg)
{
    memset(m, 0, sizeof *m);
    int rc = manifest_load(dir, m, errmsg);
    for (uint32_t i = 0; !rc && i < m->nfiles; i++) {
        struct bl_reader r;
        rc = bl_open_listed(&r, dir, m, &m->files[i], errmsg);
        bl_reader_close(&r);
    }
    return rc;
}

int tm_binlog_read_manifest(const char *dir, struct tm_seg_meta *meta_out,
                            char (*names_out)[TM_BINLOG_NAME_MAX], uint32_t *nfiles_out,
                            char errmsg[TM_BINLOG_ERRMSG])
{
    struct bl_manifest *m = malloc(sizeof *m);
    if (!m)
        return bl_err(errmsg, TM_ENOMEM, "%s: no memory", dir);
    int rc = bl_manifest_read(dir, m, errmsg);
    if (!rc) {
        *meta_out = m->meta;
        for (uint32_t i = 0; names_out && i < m->nfiles; i++)
            memcpy(names_out[i], m->files[i].name, TM_BINLOG_NAME_MAX);
        if (nfiles_out)
            *nfiles_out = m->nfiles;
    }
    free(m);
    return rc;
}

/* ---- stats ---- */

/* Key order: Int64 numerically, VarChar byte-wise with a shorter prefix first. */
static bool pk_less(const struct tm_pk *a, const struct tm_pk *b)
{
    if (!a->is_str)
        return a->i < b->i;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->s, b->s, n) : 0;
    return c < 0 || (c == 0 && a->len < b->len);
}

static void pk_at(const struct tm_col *c, uint32_t i, struct tm_pk *pk)
{
    size_t len;
    const uint8_t *p = tm_col_value(c, i, &len);
    *pk = (struct tm_pk){
        .is_str = c->type == TM_T_VARCHAR, .s = (const char *)p, .len = (uint32_t)len};
    if (!pk->is_str)
        memcpy(&pk->i, p, sizeof pk->i);
}

static void pk_encode(struct tm_mpw *w, const struct tm_pk *pk)
{
    if (pk->is_str)
        tm_mpw_bin(w, pk->s, pk->len);
    else
        tm_mpw_int(w, pk->i);
}

/* {"v", "rows", "pk_type", "min", "max", "bloom_k", "bloom_bits", "bloom"} */
static void stats_encode(struct tm_mpw *w, const struct tm_col *pk, uint32_t nrows,
                         enum tm_dtype pk_type, struct tm_bloom *b)
{
    struct tm_pk lo = {0}, hi = {0}, cur;
    if (nrows)
        pk_at(pk, 0, &lo), hi = lo;
    for (uint32_t i = 1; i < nrows; i++) {
        pk_at(pk, i, &cur);
        if (pk_less(&cur, &lo))
            lo = cur;
        if (pk_less(&hi, &cur))
            hi = cur;
    }
    tm_mpw_map(w, 8);
    tm_mpw_cstr(w, "v"), tm_mpw_uint(w, TM_BINLOG_VERSION);
    tm_mpw_cstr(w, "rows"), tm_mpw_uint(w, nrows);
    tm_mpw_cstr(w, "pk_type"), tm_mpw_uint(w, (uint64_t)pk_type);
    tm_mpw_cstr(w, "min");
    nrows ? pk_encode(w, &lo) : tm_mpw_nil(w);
    tm_mpw_cstr(w, "max");
    nrows ? pk_encode(w, &hi) : tm_mpw_nil(w);
    tm_mpw_cstr(w, "bloom_k"), tm_mpw_uint(w, b->k);
    tm_mpw_cstr(w, "bloom_bits"), tm_mpw_uint(w, b->nbits);
    /* The words are rewritten in place as little-endian bytes (a no-op on
     * little-endian machines); the filter is freed right after. */
    uint8_t *bytes = (uint8_t *)b->words;
    for (uint64_t i = 0; i < b->nbits / 64; i++)
        bl_put64(bytes + 8 * i, b->words[i]);
    tm_mpw_cstr(w, "bloom"), tm_mpw_bin(w, bytes, b->nbits / 8);
}

int bl_stats_write(const char *dir, const struct tm_seg_meta *meta, const struct tm_col *pk,
                   uint32_t nrows, enum tm_dtype pk_type, struct bl_file *out, uint64_t *raw_out,
                   char *errmsg)
{
    struct tm_bloom b;
    if (tm_bloom_init(&b, nrows))
        return bl_err(errmsg, TM_ENOMEM, "segment %lld: no memory for the bloom filter",
                      (long long)meta->seg_id);
    struct tm_pk key;
    for (uint32_t i = 0; i < nrows; i++) {
        pk_at(pk, i, &key);
        tm_bloom_add(&b, &key);
    }
    struct tm_mpw w;
    tm_mpw_init(&w);
    stats_encode(&w, pk, nrows, pk_type, &b);
    tm_bloom_free(&b);
    struct bl_hdr h;
    bl_hdr_identity(&h, meta, BL_STATS_KIND);
    h.field_id = meta->pk_field_id;
    h.dtype = (uint32_t)pk_type;
    int rc = write_map_file(dir, BL_STATS, &h, &w, out, raw_out, errmsg);
    tm_mpw_free(&w);
    return rc;
}

/* An Int64 or VarChar bound; nil when the segment has no rows. */
static int bound_decode(struct tm_mpr m, const char *key, bool is_str, int64_t *i, struct tm_buf *s)
{
    const uint8_t *p;
    uint32_t len;
    if (tm_mpr_find(&m, key))
        return TM_ECORRUPT;
    if (tm_mpr_nil(&m))
        return 1;
    if (!is_str)
        return tm_mpr_int(&m, i) ? TM_ECORRUPT : 0;
    if (tm_mpr_bin(&m, &p, &len))
        return TM_ECORRUPT;
    return tm_buf_append(s, p, len);
}

static int stats_decode(const struct tm_buf *raw, struct tm_seg_stats *st)
{
    struct tm_mpr r, m;
    uint64_t v, type, k, nbits;
    const uint8_t *bits;
    uint32_t blen;
    tm_mpr_init(&r, raw->data, raw->len);
    if (key_uint(r, "v", &v) || v != TM_BINLOG_VERSION)
        return TM_EVERSION;
    if (key_uint(r, "rows", &st->nrows) || key_uint(r, "pk_type", &type) ||
        key_uint(r, "bloom_k", &k) || key_uint(r, "bloom_bits", &nbits))
        return TM_ECORRUPT;
    bool is_str = type == TM_T_VARCHAR;
    st->pk_type = (enum tm_dtype)type;
    int lo = bound_decode(r, "min", is_str, &st->min_i, &st->min_s);
    int hi = bound_decode(r, "max", is_str, &st->max_i, &st->max_s);
    if (lo < 0 || hi < 0 || lo != hi || (lo == 1) != (st->nrows == 0))
        return lo == TM_ENOMEM || hi == TM_ENOMEM ? TM_ENOMEM : TM_ECORRUPT;
    st->has_range = lo == 0;
    m = r;
    if (tm_mpr_find(&m, "bloom") || tm_mpr_bin(&m, &bits, &blen) || k == 0 || k > 64 ||
        nbits == 0 || nbits % 64 || nbits / 8 != blen)
        return TM_ECORRUPT;
    st->bloom.words = malloc(blen);
    if (!st->bloom.words)
        return TM_ENOMEM;
    st->bloom.nbits = nbits, st->bloom.k = (uint32_t)k;
    for (uint64_t i = 0; i < nbits / 64; i++)
        st->bloom.words[i] = bl_get64(bits + 8 * i);
    return 0;
}

int bl_stats_read(const char *dir, const struct bl_manifest *m, struct tm_seg_stats *out,
                  char *errmsg)
{
    memset(out, 0, sizeof *out);
    tm_buf_init(&out->min_s);
    tm_buf_init(&out->max_s);
    const struct bl_file *f = bl_manifest_find(m, BL_STATS_KIND, 0);
    struct bl_reader r;
    struct tm_buf raw;
    tm_buf_init(&raw);
    int rc = bl_open_listed(&r, dir, m, f, errmsg);
    if (!rc)
        rc = read_map_block(&r, &raw, errmsg);
    if (!rc) {
        rc = stats_decode(&raw, out);
        if (rc == TM_ENOMEM)
            bl_err(errmsg, rc, "%s: no memory", r.where);
        else if (rc || out->nrows != m->meta.nrows || out->pk_type != f->dtype)
            rc = bl_corrupt(&r, errmsg, "block 0", BL_HDR_SIZE, "malformed stats");
    }
    bl_reader_close(&r);
    tm_buf_free(&raw);
    return rc;
}

int tm_binlog_read_stats(const char *dir, struct tm_seg_stats *out, char errmsg[TM_BINLOG_ERRMSG])
{
    memset(out, 0, sizeof *out);
    struct bl_manifest *m = malloc(sizeof *m);
    if (!m)
        return bl_err(errmsg, TM_ENOMEM, "%s: no memory", dir);
    int rc = bl_manifest_read(dir, m, errmsg);
    if (!rc)
        rc = bl_stats_read(dir, m, out, errmsg);
    free(m);
    return rc;
}

void tm_seg_stats_free(struct tm_seg_stats *s)
{
    tm_buf_free(&s->min_s);
    tm_buf_free(&s->max_s);
    tm_bloom_free(&s->bloom);
}

/* ---- recovery ---- */

/* Removes dir if it is empty (ENOTEMPTY is not an error) and makes that
 * durable in its parent. */
static int remove_if_empty(const char *dir, char *errmsg)
{
    if (rmdir(dir) < 0)
        return errno == ENOTEMPTY || errno == EEXIST || errno == ENOENT
                   ? 0
                   : bl_err(errmsg, -errno, "%s: rmdir: %s", dir, strerror(errno));
    char parent[PATH_MAX];
    bl_parent_of(dir, parent, sizeof parent);
    return bl_fsync_dir(parent, errmsg);
}

static int scan_segment(const char *dir, tm_binlog_scan_fn cb, void *arg, char *errmsg)
{
    struct bl_manifest *m = malloc(sizeof *m);
    char msg[TM_BINLOG_ERRMSG];
    if (!m)
        return bl_err(errmsg, TM_ENOMEM, "%s: no memory", dir);
    int rc = bl_manifest_read(dir, m, msg);
    if (rc == 0) {
        /* A valid segment: drop what a crashed rewrite may have left. */
        rc = bl_remove_unlisted(dir, m, errmsg);
        if (!rc)
            rc = cb(arg, dir, &m->meta, 0, NULL);
    } else if (rc == TM_ECORRUPT || rc == TM_EVERSION) {
        /* Never delete what may be the only copy: report and leave it. */
        rc = cb(arg, dir, NULL, rc, msg);
    } else {
        memcpy(errmsg, msg, sizeof msg);
    }
    free(m);
    return rc;
}

static bool is_dir_at(const char *dir, const struct dirent *e)
{
    if (e->d_type != DT_UNKNOWN)
        return e->d_type == DT_DIR;
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int scan_dir(const char *dir, bool root, tm_binlog_scan_fn cb, void *arg, char *errmsg)
{
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, alphasort);
    if (n < 0)
        return root && errno == ENOENT
                   ? 0
                   : bl_err(errmsg, -errno, "%s: scandir: %s", dir, strerror(errno));
    bool manifest = false, binlogs = false;
    for (int i = 0; i < n; i++) {
        manifest |= !strcmp(ents[i]->d_name, BL_MANIFEST);
        binlogs |= bl_is_binlog_name(ents[i]->d_name);
    }
    int rc = 0;
    if (manifest) {
        rc = scan_segment(dir, cb, arg, errmsg);
    } else {
        /* Binlog files without a manifest: a seal that did not finish. */
        if (binlogs)
            rc = bl_remove_unlisted(dir, NULL, errmsg);
        for (int i = 0; !rc && i < n; i++) {
            char sub[PATH_MAX];
            const char *name = ents[i]->d_name;
            if (!strcmp(name, ".") || !strcmp(name, "..") || !is_dir_at(dir, ents[i]))
                continue;
            snprintf(sub, sizeof sub, "%s/%s", dir, name);
            rc = scan_dir(sub, false, cb, arg, errmsg);
        }
        if (!rc && !root)
            rc = remove_if_empty(dir, errmsg);
    }
    for (int i = 0; i < n; i++)
        free(ents[i]);
    free(ents);
    return rc;
}

int tm_binlog_scan(const char *root, tm_binlog_scan_fn cb, void *arg, char errmsg[TM_BINLOG_ERRMSG])
{
    errmsg[0] = '\0';
    return scan_dir(root, true, cb, arg, errmsg);
}

int tm_binlog_remove_segment(const char *dir, char errmsg[TM_BINLOG_ERRMSG])
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/" BL_MANIFEST, dir);
    if (unlink(path) < 0 && errno != ENOENT)
        return bl_err(errmsg, -errno, "%s: unlink: %s", path, strerror(errno));
    /* Durable before any data file goes: until then the segment must stay
     * whole, after it a crash leaves manifest-less files the scan removes. */
    int rc = bl_fsync_dir(dir, errmsg);
    if (!rc)
        rc = bl_remove_unlisted(dir, NULL, errmsg);
    return rc ? rc : remove_if_empty(dir, errmsg);
}
