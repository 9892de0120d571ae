/* Sealed segments as binlogs: the column and deltalog block codecs, the
 * durable write of a whole segment, and reading it back (whole, or one
 * column block by block). The byte layout, the validity rule and the
 * recovery algorithm are at the top of binlog.h.
 */
#include "binlog_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tm_err.h"

/* ---- deletes ---- */

void tm_seg_deletes_init(struct tm_seg_deletes *d, enum tm_dtype pk_type)
{
    memset(d, 0, sizeof *d);
    d->pk.type = pk_type;
    d->pk.width = pk_type == TM_T_VARCHAR ? 0 : 8;
}

void tm_seg_deletes_free(struct tm_seg_deletes *d)
{
    enum tm_dtype type = d->pk.type;
    tm_buf_free(&d->pk.data);
    tm_buf_free(&d->pk.ends);
    tm_buf_free(&d->pk.valid);
    tm_buf_free(&d->ts);
    tm_buf_free(&d->part);
    tm_seg_deletes_init(d, type);
}

int tm_seg_deletes_add(struct tm_seg_deletes *d, const struct tm_pk *pk, uint64_t ts,
                       int64_t part_id)
{
    int rc = pk->is_str ? tm_col_push(&d->pk, pk->s, pk->len) : tm_col_push(&d->pk, &pk->i, 8);
    if (!rc)
        rc = tm_buf_append(&d->ts, &ts, sizeof ts);
    if (!rc)
        rc = tm_buf_append(&d->part, &part_id, sizeof part_id);
    if (!rc)
        d->n++;
    return rc;
}

/* ---- block codec ----
 *
 * A block is the rows [r0, r0+n) of one or more columns of equal length,
 * one column after another: validity bytes if nullable, then fixed-width
 * values, or relative end offsets then bytes. A column binlog has one
 * column; a deltalog has three (ts, partition, pk).
 */

static uint64_t row_start(const struct tm_col *c, uint64_t row)
{
    uint64_t end;
    if (row == 0)
        return 0;
    memcpy(&end, c->ends.data + (row - 1) * 8, 8);
    return end;
}

/* How many rows from r0 the next block takes: up to TM_BINLOG_BLOCK_ROWS,
 * stopping once the raw bytes reach TM_BINLOG_BLOCK_BYTES. */
static uint32_t block_rows(const struct tm_col *cols, uint32_t ncols, uint64_t r0, uint64_t nrows)
{
    uint64_t max = nrows - r0 < TM_BINLOG_BLOCK_ROWS ? nrows - r0 : TM_BINLOG_BLOCK_ROWS;
    uint64_t n = 0, bytes = 0;
    while (n < max && bytes < TM_BINLOG_BLOCK_BYTES) {
        for (uint32_t k = 0; k < ncols; k++) {
            const struct tm_col *c = &cols[k];
            bytes += c->nullable +
                     (c->width ? c->width : 8 + row_start(c, r0 + n + 1) - row_start(c, r0 + n));
        }
        n++;
    }
    return (uint32_t)n;
}

static int encode_values(struct tm_buf *out, const struct tm_col *c, uint64_t r0, uint32_t n)
{
    if (c->width)
        return tm_buf_append(out, c->data.data + r0 * c->width, (size_t)n * c->width);
    uint64_t base = row_start(c, r0), end = row_start(c, r0 + n);
    if (tm_buf_reserve(out, (size_t)n * 8 + (end - base)))
        return TM_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        bl_put64(out->data + out->len, row_start(c, r0 + i + 1) - base);
        out->len += 8;
    }
    return end > base ? tm_buf_append(out, c->data.data + base, end - base) : 0;
}

static int encode_block(const struct tm_col *cols, uint32_t ncols, uint64_t r0, uint32_t n,
                        struct tm_buf *out)
{
    int rc = 0;
    out->len = 0;
    for (uint32_t k = 0; k < ncols && !rc; k++) {
        if (cols[k].nullable)
            rc = tm_buf_append(out, cols[k].valid.data + r0, n);
        if (!rc)
            rc = encode_values(out, &cols[k], r0, n);
    }
    return rc;
}

/* Appends one column's part of a block; TM_ECORRUPT if it does not parse. */
static int decode_values(struct tm_col *c, const uint8_t **p, const uint8_t *end, uint32_t n)
{
    size_t left = (size_t)(end - *p);
    if (c->nullable) {
        if (left < n || tm_buf_append(&c->valid, *p, n))
            return left < n ? TM_ECORRUPT : TM_ENOMEM;
        *p += n, left -= n;
    }
    if (c->width) {
        uint64_t len = (uint64_t)n * c->width;
        if (left < len || tm_buf_append(&c->data, *p, len))
            return left < len ? TM_ECORRUPT : TM_ENOMEM;
        *p += len;
        return 0;
    }
    if (left / 8 < n)
        return TM_ECORRUPT;
    const uint8_t *rel = *p;
    uint64_t base = c->data.len, prev = 0;
    left -= (size_t)n * 8;
    if (tm_buf_reserve(&c->ends, (size_t)n * 8))
        return TM_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t e = bl_get64(rel + 8 * i), abs = base + e;
        if (e < prev || e > left)
            return TM_ECORRUPT;
        memcpy(c->ends.data + c->ends.len, &abs, 8);
        c->ends.len += 8, prev = e;
    }
    *p += (size_t)n * 8;
    if (tm_buf_append(&c->data, *p, prev))
        return TM_ENOMEM;
    *p += prev;
    return 0;
}

/* Appends a block's rows to cols; on failure cols are as they were. */
static int decode_block(struct tm_col *cols, uint32_t ncols, const struct tm_buf *raw, uint32_t n)
{
    size_t lens[4][3];
    const uint8_t *p = raw->data, *end = raw->data + raw->len;
    int rc = 0;
    for (uint32_t k = 0; k < ncols; k++) {
        lens[k][0] = cols[k].data.len, lens[k][1] = cols[k].ends.len;
        lens[k][2] = cols[k].valid.len;
    }
    for (uint32_t k = 0; k < ncols && !rc; k++)
        rc = decode_values(&cols[k], &p, end, n);
    if (!rc && p != end)
        rc = TM_ECORRUPT;
    for (uint32_t k = 0; k < ncols && rc; k++) {
        cols[k].data.len = lens[k][0], cols[k].ends.len = lens[k][1];
        cols[k].valid.len = lens[k][2];
    }
    return rc;
}

/* ---- writing ---- */

struct seg_writer {
    const char *dir;
    const struct tm_seg_meta *meta;
    struct bl_manifest *m;
    struct tm_binlog_wstats *stats; /* optional */
    struct tm_buf raw;
    char *errmsg;
};

static void note_file(struct seg_writer *sw, const struct bl_file *f, uint64_t raw)
{
    if (!sw->stats || sw->stats->nfiles >= TM_BINLOG_MAX_FILES)
        return;
    struct tm_binlog_file_stat *s = &sw->stats->files[sw->stats->nfiles++];
    memcpy(s->name, f->name, sizeof s->name);
    s->field_id = f->field_id;
    s->type = (enum tm_dtype)f->dtype;
    s->raw_bytes = raw;
    s->stored_bytes = f->size;
    sw->stats->raw_bytes += raw;
    sw->stats->stored_bytes += f->size;
}

/* Adds a renamed data file to the manifest, then offers the crash point. */
static int file_done(struct seg_writer *sw, const struct bl_file *f, uint64_t raw)
{
    sw->m->files[sw->m->nfiles++] = *f;
    note_file(sw, f, raw);
    return bl_crash(TM_BINLOG_CRASH_BETWEEN_FILES, sw->errmsg);
}

/* Writes one zstd-framed file of ncols equal-length columns; the header
 * describes the last column (the pk of a deltalog). */
static int write_cols(struct seg_writer *sw, const char *name, uint32_t kind, int64_t field_id,
                      const struct tm_col *cols, uint32_t ncols, uint64_t nrows)
{
    const struct tm_col *main = &cols[ncols - 1];
    struct bl_hdr h;
    struct bl_writer w;
    struct bl_file f;
    bl_hdr_identity(&h, sw->meta, kind);
    h.field_id = field_id, h.dtype = (uint32_t)main->type, h.width = main->width;
    h.nullable = main->nullable, h.codec = BL_CODEC_ZSTD;
    int rc = bl_writer_open(&w, sw->dir, name, &h, sw->errmsg);
    for (uint64_t r0 = 0, n; !rc && r0 < nrows; r0 += n) {
        n = block_rows(cols, ncols, r0, nrows);
        bool direct = ncols == 1 && main->width && !main->nullable;
        if (direct) /* the raw block is the column's bytes as they are */
            rc = bl_writer_add(&w, main->data.data + r0 * main->width, n * main->width, (uint32_t)n,
                               sw->errmsg);
        else if ((rc = encode_block(cols, ncols, r0, (uint32_t)n, &sw->raw)))
            bl_err(sw->errmsg, rc, "segment %lld: %s: no memory", (long long)h.seg_id, name);
        else
            rc = bl_writer_add(&w, sw->raw.data, sw->raw.len, (uint32_t)n, sw->errmsg);
    }
    if (!rc)
        rc = bl_writer_finish(&w, &f, sw->errmsg);
    uint64_t raw = w.raw_total;
    bl_writer_abort(&w);
    return rc ? rc : file_done(sw, &f, raw);
}

static int write_column(struct seg_writer *sw, const struct tm_col *c, uint64_t nrows)
{
    char name[TM_BINLOG_NAME_MAX];
    bl_col_name(name, c->field_id);
    return write_cols(sw, name, BL_COLUMN, c->field_id, c, 1, nrows);
}

/* A fixed-width column view of n uint64/int64 values (borrowed). */
static struct tm_col u64_col(const void *p, uint64_t n)
{
    struct tm_col c = {.type = TM_T_INT64, .width = 8};
    c.data.data = (uint8_t *)p;
    c.data.len = c.data.cap = n * 8;
    return c;
}

static int write_deletes(struct seg_writer *sw, const struct tm_seg_deletes *d)
{
    struct tm_col cols[3] = {u64_col(d->ts.data, d->n), u64_col(d->part.data, d->n), d->pk};
    return write_cols(sw, BL_DELTA, BL_DELTA_KIND, sw->meta->pk_field_id, cols, 3, d->n);
}

static int write_stats(struct seg_writer *sw, const struct tm_batch *rows, enum tm_dtype pk_type)
{
    struct bl_file f;
    uint64_t raw = 0;
    const struct tm_col *pk = tm_batch_col(rows, sw->meta->pk_field_id);
    int rc = bl_stats_write(sw->dir, &sw->m->meta, pk, rows->nrows, pk_type, &f, &raw, sw->errmsg);
    return rc ? rc : file_done(sw, &f, raw);
}

/* The manifest last, after the directory fsync, so it can never be durable
 * while a file it names is not. */
static int write_manifest(struct seg_writer *sw)
{
    struct bl_file f;
    uint64_t raw = 0;
    int rc = bl_crash(TM_BINLOG_CRASH_BEFORE_DIR_FSYNC, sw->errmsg);
    if (!rc)
        rc = bl_fsync_dir(sw->dir, sw->errmsg);
    if (!rc)
        rc = bl_crash(TM_BINLOG_CRASH_BEFORE_MANIFEST, sw->errmsg);
    if (!rc)
        rc = bl_manifest_write(sw->dir, sw->m, &f, &raw, sw->errmsg);
    if (rc)
        return rc;
    note_file(sw, &f, raw);
    rc = bl_crash(TM_BINLOG_CRASH_BEFORE_FINAL_FSYNC, sw->errmsg);
    /* The manifest's rename must be durable before the caller truncates the
     * WAL behind this segment: until this fsync the segment may vanish. */
    return rc ? rc : bl_fsync_dir(sw->dir, sw->errmsg);
}

static bool col_shape_ok(const struct tm_col *c, uint64_t n)
{
    if (c->nullable && c->valid.len != n)
        return false;
    if (c->width)
        return c->data.len == n * c->width;
    if (c->ends.len != n * 8)
        return false;
    for (uint64_t i = 0; i < n; i++)
        if (row_start(c, i + 1) < row_start(c, i))
            return false;
    return row_start(c, n) == c->data.len;
}

static bool pk_type_ok(const struct tm_col *c)
{
    return !c->nullable &&
           ((c->type == TM_T_INT64 && c->width == 8) || (c->type == TM_T_VARCHAR && c->width == 0));
}

static int check_input(const struct tm_seg_meta *meta, const struct tm_batch *rows,
                       const uint64_t *row_ts, const struct tm_seg_deletes *d, char *errmsg)
{
    const struct tm_col *pk = tm_batch_col(rows, meta->pk_field_id);
    for (uint32_t i = 0; i < rows->ncols; i++) {
        const struct tm_col *c = &rows->cols[i];
        if (c->field_id <= TM_BINLOG_TS_FIELD || tm_batch_col(rows, c->field_id) != c ||
            !col_shape_ok(c, rows->nrows))
            return bl_err(errmsg, TM_EINVAL, "segment %lld: column %lld: bad id or shape",
                          (long long)meta->seg_id, (long long)c->field_id);
    }
    if (rows->nrows && (!row_ts || !pk || !pk_type_ok(pk)))
        return bl_err(errmsg, TM_EINVAL, "segment %lld: rows need timestamps and a pk column",
                      (long long)meta->seg_id);
    bool bad_dels = d && (!pk_type_ok(&d->pk) || d->ts.len != d->n * 8 || d->part.len != d->n * 8 ||
                          !col_shape_ok(&d->pk, d->n) || (pk && pk->type != d->pk.type));
    if (bad_dels)
        return bl_err(errmsg, TM_EINVAL, "segment %lld: malformed deletes",
                      (long long)meta->seg_id);
    return 0;
}

/* Creates dir, refuses an existing segment, and clears what an unfinished
 * earlier write left there. */
static int prepare_dir(const char *dir, const struct tm_seg_meta *meta, char *errmsg)
{
    char path[PATH_MAX];
    struct stat st;
    int rc = bl_mkdirs(dir, errmsg);
    if (rc)
        return rc;
    snprintf(path, sizeof path, "%s/" BL_MANIFEST, dir);
    if (stat(path, &st) == 0)
        return bl_err(errmsg, TM_EEXIST, "segment %lld: %s already holds a segment",
                      (long long)meta->seg_id, dir);
    return bl_remove_unlisted(dir, NULL, errmsg);
}

static int write_all(struct seg_writer *sw, const struct tm_batch *rows, const uint64_t *row_ts,
                     const struct tm_seg_deletes *dels)
{
    const struct tm_col *pk = tm_batch_col(rows, sw->meta->pk_field_id);
    enum tm_dtype pk_type = pk ? pk->type : dels ? dels->pk.type : TM_T_NONE;
    struct tm_col ts = u64_col(row_ts, rows->nrows);
    int rc = bl_crash(TM_BINLOG_CRASH_BEFORE_FILES, sw->errmsg);
    if (!rc)
        rc = write_column(sw, &ts, rows->nrows);
    for (uint32_t i = 0; !rc && i < rows->ncols; i++)
        rc = write_column(sw, &rows->cols[i], rows->nrows);
    if (!rc && dels && dels->n)
        rc = write_deletes(sw, dels);
    if (!rc)
        rc = write_stats(sw, rows, pk_type);
    return rc ? rc : write_manifest(sw);
}

int tm_binlog_write_segment(const char *dir, const struct tm_seg_meta *meta,
                            const struct tm_batch *rows, const uint64_t *row_ts,
                            const struct tm_seg_deletes *dels, struct tm_binlog_wstats *stats_out,
                            char errmsg[TM_BINLOG_ERRMSG])
{
    int rc = check_input(meta, rows, row_ts, dels, errmsg);
    if (rc)
        return rc;
    struct seg_writer sw = {.dir = dir, .meta = meta, .stats = stats_out, .errmsg = errmsg};
    if (!(sw.m = calloc(1, sizeof *sw.m)))
        return bl_err(errmsg, TM_ENOMEM, "segment %lld: no memory", (long long)meta->seg_id);
    sw.m->meta = *meta;
    sw.m->meta.nrows = rows->nrows;
    sw.m->meta.ndeletes = dels ? dels->n : 0;
    if (stats_out)
        memset(stats_out, 0, sizeof *stats_out);
    tm_buf_init(&sw.raw);
    bl_crash_reset_failed();
    rc = prepare_dir(dir, meta, errmsg);
    if (!rc && (rc = write_all(&sw, rows, row_ts, dels)) && !bl_crash_failed()) {
        /* Undo: the manifest first (tm_binlog_remove_segment), so no crash
         * during the clean-up can leave a manifest naming a removed file. */
        char ignored[TM_BINLOG_ERRMSG];
        tm_binlog_remove_segment(dir, ignored);
    }
    tm_buf_free(&sw.raw);
    free(sw.m);
    return rc;
}

/* ---- reading ---- */

/* Reads, verifies and decodes block i of r into cols, with raw as scratch. */
static int read_block(struct bl_reader *r, uint32_t i, struct tm_buf *raw, struct tm_col *cols,
                      uint32_t ncols, char *errmsg)
{
    int rc = bl_reader_block(r, i, raw, errmsg);
    if (!rc && (rc = decode_block(cols, ncols, raw, r->idx[i].nrows)) == TM_ECORRUPT) {
        char what[32];
        snprintf(what, sizeof what, "block %u", i);
        bl_corrupt(r, errmsg, what, r->idx[i].off, "malformed contents");
    } else if (rc == TM_ENOMEM) {
        bl_err(errmsg, rc, "%s: no memory", r->where);
    }
    return rc;
}

/* Reads every block of an opened file into cols. */
static int read_cols(struct bl_reader *r, struct tm_col *cols, uint32_t ncols, char *errmsg)
{
    struct tm_buf raw;
    tm_buf_init(&raw);
    int rc = 0;
    for (uint32_t i = 0; !rc && i < r->hdr.nblocks; i++)
        rc = read_block(r, i, &raw, cols, ncols, errmsg);
    tm_buf_free(&raw);
    return rc;
}

static void col_layout(const struct bl_file *f, struct tm_col *c)
{
    memset(c, 0, sizeof *c);
    c->field_id = f->field_id;
    c->type = (enum tm_dtype)f->dtype;
    c->width = f->width;
    c->nullable = f->nullable;
}

static void col_free(struct tm_col *c)
{
    tm_buf_free(&c->data);
    tm_buf_free(&c->ends);
    tm_buf_free(&c->valid);
}

static int read_listed(const char *dir, const struct bl_manifest *m, const struct bl_file *f,
                       struct tm_col *cols, uint32_t ncols, char *errmsg)
{
    struct bl_reader r;
    int rc = bl_open_listed(&r, dir, m, f, errmsg);
    if (!rc)
        rc = read_cols(&r, cols, ncols, errmsg);
    bl_reader_close(&r);
    return rc;
}

static int read_rows(const char *dir, const struct bl_manifest *m, struct tm_batch *rows,
                     char *errmsg)
{
    rows->nrows = (uint32_t)m->meta.nrows;
    if (m->meta.nrows > UINT32_MAX)
        return bl_err(errmsg, TM_ECORRUPT, "segment %lld: %llu rows", (long long)m->meta.seg_id,
                      (unsigned long long)m->meta.nrows);
    int rc = 0;
    for (uint32_t i = 0; !rc && i < m->nfiles; i++) {
        const struct bl_file *f = &m->files[i];
        if (f->kind != BL_COLUMN || f->field_id == TM_BINLOG_TS_FIELD)
            continue;
        struct tm_col *c =
            tm_batch_add_col(rows, f->field_id, (enum tm_dtype)f->dtype, f->width, f->nullable);
        rc = c ? read_listed(dir, m, f, c, 1, errmsg)
               : bl_err(errmsg, TM_ECORRUPT, "segment %lld: too many columns",
                        (long long)m->meta.seg_id);
    }
    return rc;
}

static int read_ts(const char *dir, const struct bl_manifest *m, struct tm_buf *out, char *errmsg)
{
    struct tm_col c;
    const struct bl_file *f = bl_manifest_find(m, BL_COLUMN, TM_BINLOG_TS_FIELD);
    col_layout(f, &c);
    int rc = read_listed(dir, m, f, &c, 1, errmsg);
    if (!rc && (c.width != 8 || c.nullable))
        rc = bl_err(errmsg, TM_ECORRUPT, "segment %lld: %s: not a timestamp column",
                    (long long)m->meta.seg_id, f->name);
    if (!rc) {
        *out = c.data;
        tm_buf_init(&c.data);
    }
    col_free(&c);
    return rc;
}

static int read_dels(const char *dir, const struct bl_manifest *m, struct tm_seg_deletes *d,
                     char *errmsg)
{
    const struct bl_file *f = bl_manifest_find(m, BL_DELTA_KIND, 0);
    const struct bl_file *st = bl_manifest_find(m, BL_STATS_KIND, 0);
    enum tm_dtype type = (enum tm_dtype)(f ? f->dtype : st->dtype);
    tm_seg_deletes_init(d, type == TM_T_VARCHAR ? TM_T_VARCHAR : TM_T_INT64);
    if (!f)
        return 0;
    struct tm_col cols[3] = {u64_col(NULL, 0), u64_col(NULL, 0), d->pk};
    if (!pk_type_ok(&cols[2]) || f->dtype != (uint32_t)cols[2].type)
        return bl_err(errmsg, TM_ECORRUPT, "segment %lld: %s: bad pk type",
                      (long long)m->meta.seg_id, f->name);
    int rc = read_listed(dir, m, f, cols, 3, errmsg);
    d->ts = cols[0].data, d->part = cols[1].data, d->pk = cols[2];
    d->n = rc ? 0 : f->nrows;
    return rc;
}

static int read_all(const char *dir, struct bl_manifest *m, struct tm_batch *rows,
                    struct tm_buf *row_ts, struct tm_seg_deletes *dels, char *errmsg)
{
    int rc = bl_manifest_read(dir, m, errmsg);
    if (!rc && rows)
        rc = read_rows(dir, m, rows, errmsg);
    if (!rc && row_ts)
        rc = read_ts(dir, m, row_ts, errmsg);
    if (!rc && dels)
        rc = read_dels(dir, m, dels, errmsg);
    if (!rc) { /* verified too, though not returned here */
        struct tm_seg_stats st;
        rc = bl_stats_read(dir, m, &st, errmsg);
        tm_seg_stats_free(&st);
    }
    return rc;
}

int tm_binlog_read_segment(const char *dir, struct tm_seg_meta *meta_out, struct tm_batch *rows_out,
                           struct tm_buf *row_ts_out, struct tm_seg_deletes *dels_out,
                           char errmsg[TM_BINLOG_ERRMSG])
{
    struct bl_manifest *m = calloc(1, sizeof *m);
    if (dels_out)
        tm_seg_deletes_init(dels_out, TM_T_INT64);
    if (!m)
        return bl_err(errmsg, TM_ENOMEM, "%s: no memory", dir);
    int rc = read_all(dir, m, rows_out, row_ts_out, dels_out, errmsg);
    if (!rc)
        *meta_out = m->meta;
    if (rc && rows_out)
        tm_batch_free(rows_out);
    if (rc && row_ts_out)
        tm_buf_free(row_ts_out);
    if (rc && dels_out)
        tm_seg_deletes_free(dels_out);
    free(m);
    return rc;
}

/* ---- one column, block by block ---- */

struct tm_binlog_col_reader {
    struct bl_reader r;
    struct bl_file f;
    struct tm_buf raw;
};

int tm_binlog_col_open(const char *dir, int64_t field_id, struct tm_binlog_col_reader **out,
                       char errmsg[TM_BINLOG_ERRMSG])
{
    struct tm_binlog_col_reader *cr = calloc(1, sizeof *cr);
    struct bl_manifest *m = malloc(sizeof *m);
    int rc = cr && m ? bl_manifest_read(dir, m, errmsg)
                     : bl_err(errmsg, TM_ENOMEM, "%s: no memory", dir);
    const struct bl_file *f = rc ? NULL : bl_manifest_find(m, BL_COLUMN, field_id);
    if (!rc && !f)
        rc = bl_err(errmsg, TM_ENOTFOUND, "segment %lld: no column %lld", (long long)m->meta.seg_id,
                    (long long)field_id);
    if (!rc) {
        cr->f = *f;
        tm_buf_init(&cr->raw);
        rc = bl_open_listed(&cr->r, dir, m, f, errmsg);
        if (rc)
            bl_reader_close(&cr->r);
    }
    free(m);
    if (rc)
        free(cr);
    else
        *out = cr;
    return rc;
}

void tm_binlog_col_close(struct tm_binlog_col_reader *r)
{
    if (!r)
        return;
    bl_reader_close(&r->r);
    tm_buf_free(&r->raw);
    free(r);
}

uint64_t tm_binlog_col_nrows(const struct tm_binlog_col_reader *r)
{
    return r->r.hdr.nrows;
}

uint32_t tm_binlog_col_nblocks(const struct tm_binlog_col_reader *r)
{
    return r->r.hdr.nblocks;
}

void tm_binlog_col_block_info(const struct tm_binlog_col_reader *r, uint32_t i,
                              struct tm_binlog_block_info *out)
{
    const struct bl_entry *e = &r->r.idx[i];
    *out = (struct tm_binlog_block_info){.first_row = e->first_row,
                                         .nrows = e->nrows,
                                         .offset = e->off,
                                         .stored_bytes = e->stored,
                                         .raw_bytes = e->raw};
}

void tm_binlog_col_layout(const struct tm_binlog_col_reader *r, struct tm_col *out)
{
    col_layout(&r->f, out);
}

int tm_binlog_col_read_block(struct tm_binlog_col_reader *r, uint32_t i, struct tm_col *out,
                             char errmsg[TM_BINLOG_ERRMSG])
{
    if (i >= r->r.hdr.nblocks)
        return bl_err(errmsg, TM_EINVAL, "%s: no block %u", r->r.where, i);
    return read_block(&r->r, i, &r->raw, out, 1, errmsg);
}

int tm_binlog_read_column(const char *dir, int64_t field_id, struct tm_col *out,
                          char errmsg[TM_BINLOG_ERRMSG])
{
    struct tm_binlog_col_reader *r;
    memset(out, 0, sizeof *out);
    int rc = tm_binlog_col_open(dir, field_id, &r, errmsg);
    if (rc)
        return rc;
    tm_binlog_col_layout(r, out);
    for (uint32_t i = 0; !rc && i < r->r.hdr.nblocks; i++)
        rc = tm_binlog_col_read_block(r, i, out, errmsg);
    tm_binlog_col_close(r);
    if (rc)
        col_free(out);
    return rc;
}
