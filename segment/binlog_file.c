/* Binlog framing: writing and verifying one file (header, blocks, block
 * index; the layout is in binlog.h), the file-system steps of a durable
 * write, and the crash hook that tests stop a write with.
 */
#include "binlog_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "tm_err.h"

#define BL_ZSTD_LEVEL 3

/* ---- errors and little-endian codecs ---- */

int bl_err(char *errmsg, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg, TM_BINLOG_ERRMSG, fmt, ap);
    va_end(ap);
    return rc;
}

void bl_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void bl_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t bl_get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

uint64_t bl_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* ---- header and index codecs ---- */

static void hdr_encode(uint8_t *p, struct bl_hdr *h)
{
    memset(p, 0, BL_HDR_SIZE);
    memcpy(p, BL_MAGIC, 8);
    bl_put32(p + 8, h->version);
    bl_put32(p + 12, h->kind);
    bl_put64(p + 16, (uint64_t)h->seg_id);
    bl_put64(p + 24, (uint64_t)h->coll_id);
    bl_put64(p + 32, (uint64_t)h->part_id);
    bl_put32(p + 40, h->shard);
    bl_put32(p + 44, h->dtype);
    bl_put64(p + 48, (uint64_t)h->field_id);
    bl_put32(p + 56, h->width);
    p[60] = h->nullable;
    p[61] = h->codec;
    bl_put64(p + 64, h->nrows);
    bl_put32(p + 72, h->nblocks);
    bl_put64(p + 80, h->index_off);
    bl_put64(p + 88, h->file_size);
    bl_put32(p + 96, h->index_crc);
    h->hdr_crc = tm_crc32c(0, p, 100);
    bl_put32(p + 100, h->hdr_crc);
}

static void hdr_decode(const uint8_t *p, struct bl_hdr *h)
{
    h->version = bl_get32(p + 8);
    h->kind = bl_get32(p + 12);
    h->seg_id = (int64_t)bl_get64(p + 16);
    h->coll_id = (int64_t)bl_get64(p + 24);
    h->part_id = (int64_t)bl_get64(p + 32);
    h->shard = bl_get32(p + 40);
    h->dtype = bl_get32(p + 44);
    h->field_id = (int64_t)bl_get64(p + 48);
    h->width = bl_get32(p + 56);
    h->nullable = p[60];
    h->codec = p[61];
    h->nrows = bl_get64(p + 64);
    h->nblocks = bl_get32(p + 72);
    h->index_off = bl_get64(p + 80);
    h->file_size = bl_get64(p + 88);
    h->index_crc = bl_get32(p + 96);
    h->hdr_crc = bl_get32(p + 100);
}

static void entry_encode(uint8_t *p, const struct bl_entry *e)
{
    bl_put64(p, e->first_row);
    bl_put32(p + 8, e->nrows);
    bl_put32(p + 12, e->crc);
    bl_put64(p + 16, e->off);
    bl_put64(p + 24, e->stored);
    bl_put64(p + 32, e->raw);
}

static void entry_decode(const uint8_t *p, struct bl_entry *e)
{
    e->first_row = bl_get64(p);
    e->nrows = bl_get32(p + 8);
    e->crc = bl_get32(p + 12);
    e->off = bl_get64(p + 16);
    e->stored = bl_get64(p + 24);
    e->raw = bl_get64(p + 32);
}

void bl_hdr_identity(struct bl_hdr *h, const struct tm_seg_meta *meta, uint32_t kind)
{
    memset(h, 0, sizeof *h);
    h->version = TM_BINLOG_VERSION;
    h->kind = kind;
    h->seg_id = meta->seg_id;
    h->coll_id = meta->coll_id;
    h->part_id = meta->part_id;
    h->shard = meta->shard;
}

/* ---- raw I/O ---- */

/* Writes (p non-NULL as wp) or reads exactly n bytes at off, retrying
 * short transfers and EINTR. 0, -errno, or TM_ETRUNC when a read meets the
 * end of the file. */
static int io_all(int fd, const void *wp, void *rp, size_t n, uint64_t off)
{
    while (n) {
        ssize_t k = wp ? pwrite(fd, wp, n, (off_t)off) : pread(fd, rp, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? -errno : TM_ETRUNC;
        wp = wp ? (const uint8_t *)wp + k : NULL;
        rp = rp ? (uint8_t *)rp + k : NULL;
        n -= (size_t)k, off += (uint64_t)k;
    }
    return 0;
}

static int pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
    return io_all(fd, p, NULL, n, off);
}

static int pread_all(int fd, void *p, size_t n, uint64_t off)
{
    return io_all(fd, NULL, p, n, off);
}

/* ---- writer ---- */

int bl_writer_open(struct bl_writer *w, const char *dir, const char *name, const struct bl_hdr *h,
                   char *errmsg)
{
    memset(w, 0, sizeof *w);
    w->fd = -1;
    w->dir = dir;
    w->hdr = *h;
    w->hdr.index_off = BL_HDR_SIZE;
    tm_buf_init(&w->zbuf);
    snprintf(w->name, sizeof w->name, "%s", name);
    snprintf(w->where, sizeof w->where, "segment %lld: %s", (long long)h->seg_id, name);
    if ((size_t)snprintf(w->path, sizeof w->path, "%s/%s" BL_TMP, dir, name) >= sizeof w->path)
        return bl_err(errmsg, TM_EINVAL, "%s: path too long", w->where);
    if (h->codec == BL_CODEC_ZSTD && !(w->zctx = ZSTD_createCCtx()))
        return bl_err(errmsg, TM_ENOMEM, "%s: zstd context", w->where);
    /* O_TRUNC: a .tmp of an earlier, unfinished write is simply replaced. */
    w->fd = open(w->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0)
        return bl_err(errmsg, -errno, "%s: open %s: %s", w->where, w->path, strerror(errno));
    return 0;
}

static int writer_store(struct bl_writer *w, const void *raw, size_t len, const void **out,
                        size_t *stored, char *errmsg)
{
    if (w->hdr.codec == BL_CODEC_NONE) {
        *out = raw, *stored = len;
        return 0;
    }
    size_t bound = ZSTD_compressBound(len);
    w->zbuf.len = 0;
    if (tm_buf_reserve(&w->zbuf, bound))
        return bl_err(errmsg, TM_ENOMEM, "%s: no memory for a block", w->where);
    size_t n = ZSTD_compressCCtx(w->zctx, w->zbuf.data, bound, raw, len, BL_ZSTD_LEVEL);
    if (ZSTD_isError(n))
        return bl_err(errmsg, TM_EIO, "%s: zstd: %s", w->where, ZSTD_getErrorName(n));
    *out = w->zbuf.data, *stored = n;
    return 0;
}

int bl_writer_add(struct bl_writer *w, const void *raw, size_t len, uint32_t nrows, char *errmsg)
{
    if (w->hdr.nblocks == w->cap) {
        uint32_t cap = w->cap ? 2 * w->cap : 16;
        struct bl_entry *idx = realloc(w->idx, cap * sizeof *idx);
        if (!idx)
            return bl_err(errmsg, TM_ENOMEM, "%s: no memory for the index", w->where);
        w->idx = idx, w->cap = cap;
    }
    const void *stored = NULL;
    size_t n = 0;
    int rc = writer_store(w, raw, len, &stored, &n, errmsg);
    if (rc)
        return rc;
    struct bl_entry *e = &w->idx[w->hdr.nblocks];
    *e = (struct bl_entry){.first_row = w->hdr.nrows,
                           .nrows = nrows,
                           .crc = tm_crc32c(0, stored, n),
                           .off = w->hdr.index_off,
                           .stored = n,
                           .raw = len};
    if ((rc = pwrite_all(w->fd, stored, n, e->off)))
        return bl_err(errmsg, rc, "%s: write: %s", w->where, strerror(-rc));
    w->hdr.nblocks++;
    w->hdr.nrows += nrows;
    w->hdr.index_off += n;
    w->raw_total += len;
    return 0;
}

static int writer_trailer(struct bl_writer *w, char *errmsg)
{
    size_t ilen = (size_t)w->hdr.nblocks * BL_ENTRY_SIZE;
    uint8_t *ib = malloc(ilen ? ilen : 1);
    if (!ib)
        return bl_err(errmsg, TM_ENOMEM, "%s: no memory for the index", w->where);
    for (uint32_t i = 0; i < w->hdr.nblocks; i++)
        entry_encode(ib + (size_t)i * BL_ENTRY_SIZE, &w->idx[i]);
    w->hdr.index_crc = tm_crc32c(0, ib, ilen);
    w->hdr.file_size = w->hdr.index_off + ilen;
    uint8_t hb[BL_HDR_SIZE];
    hdr_encode(hb, &w->hdr);
    int rc = pwrite_all(w->fd, ib, ilen, w->hdr.index_off);
    free(ib);
    if (!rc)
        rc = pwrite_all(w->fd, hb, sizeof hb, 0);
    if (rc)
        return bl_err(errmsg, rc, "%s: write: %s", w->where, strerror(-rc));
    return 0;
}

int bl_writer_finish(struct bl_writer *w, struct bl_file *out, char *errmsg)
{
    int rc = writer_trailer(w, errmsg);
    if (rc)
        return rc;
    /* fsync before the rename: the final name must never point at a file
     * whose bytes are not yet on disk, or a power cut could leave a named,
     * listed file full of zeros or holes. */
    if (fsync(w->fd) < 0)
        return bl_err(errmsg, -errno, "%s: fsync: %s", w->where, strerror(errno));
    close(w->fd);
    w->fd = -1;
    bool manifest = w->hdr.kind == BL_MANIFEST_KIND;
    rc = bl_crash(manifest ? TM_BINLOG_CRASH_BEFORE_MANIFEST_RENAME : TM_BINLOG_CRASH_BEFORE_RENAME,
                  errmsg);
    if (rc)
        return rc;
    /* rename is atomic: the final name refers either to nothing or to the
     * whole file. It becomes durable with the directory fsync that follows. */
    char final[PATH_MAX];
    snprintf(final, sizeof final, "%s/%s", w->dir, w->name);
    if (rename(w->path, final) < 0)
        return bl_err(errmsg, -errno, "%s: rename: %s", w->where, strerror(errno));
    w->path[0] = '\0';
    *out = (struct bl_file){.kind = w->hdr.kind,
                            .dtype = w->hdr.dtype,
                            .width = w->hdr.width,
                            .field_id = w->hdr.field_id,
                            .nullable = w->hdr.nullable,
                            .nrows = w->hdr.nrows,
                            .size = w->hdr.file_size,
                            .crc = w->hdr.hdr_crc};
    snprintf(out->name, sizeof out->name, "%s", w->name);
    return 0;
}

void bl_writer_abort(struct bl_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    if (w->path[0] && !bl_crash_failed())
        unlink(w->path);
    free(w->idx);
    w->idx = NULL;
    ZSTD_freeCCtx(w->zctx);
    w->zctx = NULL;
    tm_buf_free(&w->zbuf);
}

/* ---- reader ---- */

int bl_corrupt(const struct bl_reader *r, char *errmsg, const char *what, uint64_t off,
               const char *why)
{
    return bl_err(errmsg, TM_ECORRUPT, "%s: %s at offset %llu: %s", r->where, what,
                  (unsigned long long)off, why);
}

static int header_check(struct bl_reader *r, const uint8_t *hb, uint64_t size, uint32_t kind,
                        char *errmsg)
{
    struct bl_hdr *h = &r->hdr;
    if (memcmp(hb, BL_MAGIC, 8))
        return bl_corrupt(r, errmsg, "header", 0, "bad magic");
    hdr_decode(hb, h);
    if (tm_crc32c(0, hb, 100) != h->hdr_crc)
        return bl_corrupt(r, errmsg, "header", 0, "checksum mismatch");
    if (h->version != TM_BINLOG_VERSION)
        return bl_err(errmsg, TM_EVERSION, "%s: format version %u, this build reads %u", r->where,
                      h->version, TM_BINLOG_VERSION);
    if (h->kind != kind)
        return bl_corrupt(r, errmsg, "header", 12, "wrong file kind");
    if (h->file_size != size) {
        char why[96];
        snprintf(why, sizeof why, "file is %llu bytes, header says %llu (truncated or extended)",
                 (unsigned long long)size, (unsigned long long)h->file_size);
        return bl_corrupt(r, errmsg, "end of file", size < h->file_size ? size : h->file_size, why);
    }
    if (h->codec > BL_CODEC_ZSTD || h->nullable > 1 || h->index_off < BL_HDR_SIZE ||
        h->index_off > size || (size - h->index_off) / BL_ENTRY_SIZE != h->nblocks ||
        (size - h->index_off) % BL_ENTRY_SIZE)
        return bl_corrupt(r, errmsg, "header", 0, "inconsistent fields");
    return 0;
}

/* Blocks must tile [BL_HDR_SIZE, index_off) and rows [0, nrows) in order. */
static int index_check(struct bl_reader *r, char *errmsg)
{
    uint64_t off = BL_HDR_SIZE, row = 0;
    for (uint32_t i = 0; i < r->hdr.nblocks; i++) {
        const struct bl_entry *e = &r->idx[i];
        bool bad = e->off != off || e->first_row != row || e->nrows == 0 ||
                   e->stored > r->hdr.index_off - off || e->raw > BL_MAX_RAW ||
                   (r->hdr.codec == BL_CODEC_NONE && e->raw != e->stored);
        if (bad)
            return bl_corrupt(r, errmsg, "block index",
                              r->hdr.index_off + (uint64_t)i * BL_ENTRY_SIZE, "inconsistent entry");
        off += e->stored;
        row += e->nrows;
    }
    if (off != r->hdr.index_off || row != r->hdr.nrows)
        return bl_corrupt(r, errmsg, "block index", r->hdr.index_off,
                          "blocks do not cover the file");
    return 0;
}

static int index_read(struct bl_reader *r, char *errmsg)
{
    size_t ilen = (size_t)r->hdr.nblocks * BL_ENTRY_SIZE;
    uint8_t *ib = malloc(ilen ? ilen : 1);
    r->idx = calloc(r->hdr.nblocks ? r->hdr.nblocks : 1, sizeof *r->idx);
    if (!ib || !r->idx) {
        free(ib);
        return bl_err(errmsg, TM_ENOMEM, "%s: no memory for the index", r->where);
    }
    int rc = pread_all(r->fd, ib, ilen, r->hdr.index_off);
    if (rc == TM_ETRUNC)
        rc = bl_corrupt(r, errmsg, "block index", r->hdr.index_off, "file shrank while read");
    else if (rc)
        rc = bl_err(errmsg, rc, "%s: read: %s", r->where, strerror(-rc));
    else if (tm_crc32c(0, ib, ilen) != r->hdr.index_crc)
        rc = bl_corrupt(r, errmsg, "block index", r->hdr.index_off, "checksum mismatch");
    for (uint32_t i = 0; !rc && i < r->hdr.nblocks; i++)
        entry_decode(ib + (size_t)i * BL_ENTRY_SIZE, &r->idx[i]);
    free(ib);
    return rc ? rc : index_check(r, errmsg);
}

int bl_reader_open(struct bl_reader *r, const char *dir, const char *name, uint32_t kind,
                   const char *where, char *errmsg)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
    snprintf(r->where, sizeof r->where, "%s", where);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return bl_err(errmsg, -errno, "%s: open: %s", r->where, strerror(errno));
    struct stat st;
    if (fstat(r->fd, &st) < 0)
        return bl_err(errmsg, -errno, "%s: stat: %s", r->where, strerror(errno));
    uint64_t size = (uint64_t)st.st_size;
    uint8_t hb[BL_HDR_SIZE];
    int rc = size < BL_HDR_SIZE ? TM_ETRUNC : pread_all(r->fd, hb, sizeof hb, 0);
    if (rc == TM_ETRUNC)
        return bl_corrupt(r, errmsg, "header", size, "file ends inside the header");
    if (rc)
        return bl_err(errmsg, rc, "%s: read: %s", r->where, strerror(-rc));
    if ((rc = header_check(r, hb, size, kind, errmsg)))
        return rc;
    if (r->hdr.codec == BL_CODEC_ZSTD && !(r->dctx = ZSTD_createDCtx()))
        return bl_err(errmsg, TM_ENOMEM, "%s: zstd context", r->where);
    return index_read(r, errmsg);
}

int bl_reader_block(struct bl_reader *r, uint32_t i, struct tm_buf *raw, char *errmsg)
{
    const struct bl_entry *e = &r->idx[i];
    char what[32];
    snprintf(what, sizeof what, "block %u", i);
    uint8_t *stored = malloc(e->stored ? e->stored : 1);
    raw->len = 0;
    if (!stored || tm_buf_reserve(raw, e->raw ? e->raw : 1)) {
        free(stored);
        return bl_err(errmsg, TM_ENOMEM, "%s: no memory for %s", r->where, what);
    }
    int rc = pread_all(r->fd, stored, e->stored, e->off);
    if (rc == TM_ETRUNC)
        rc = bl_corrupt(r, errmsg, what, e->off, "file shrank while read");
    else if (rc)
        rc = bl_err(errmsg, rc, "%s: read: %s", r->where, strerror(-rc));
    else if (tm_crc32c(0, stored, e->stored) != e->crc)
        rc = bl_corrupt(r, errmsg, what, e->off, "checksum mismatch");
    else if (r->hdr.codec == BL_CODEC_NONE)
        memcpy(raw->data, stored, e->stored);
    else {
        size_t n = ZSTD_decompressDCtx(r->dctx, raw->data, e->raw, stored, e->stored);
        if (ZSTD_isError(n) || n != e->raw)
            rc = bl_corrupt(r, errmsg, what, e->off,
                            ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong decompressed size");
    }
    free(stored);
    if (!rc)
        raw->len = e->raw;
    return rc;
}

void bl_reader_close(struct bl_reader *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    free(r->idx);
    r->idx = NULL;
    ZSTD_freeDCtx(r->dctx);
    r->dctx = NULL;
}

int bl_open_listed(struct bl_reader *r, const char *dir, const struct bl_manifest *m,
                   const struct bl_file *f, char *errmsg)
{
    char where[BL_WHERE];
    snprintf(where, sizeof where, "segment %lld: %s", (long long)m->meta.seg_id, f->name);
    int rc = bl_reader_open(r, dir, f->name, f->kind, where, errmsg);
    if (rc == -ENOENT)
        return bl_err(errmsg, TM_ECORRUPT, "%s: listed in the manifest but missing", where);
    if (rc)
        return rc;
    const struct bl_hdr *h = &r->hdr;
    if (h->file_size != f->size || h->hdr_crc != f->crc)
        return bl_corrupt(r, errmsg, "header", 0, "size or checksum differs from the manifest");
    bool same = h->seg_id == m->meta.seg_id && h->coll_id == m->meta.coll_id &&
                h->part_id == m->meta.part_id && h->shard == m->meta.shard &&
                h->field_id == f->field_id && h->dtype == f->dtype && h->width == f->width &&
                h->nullable == f->nullable && h->nrows == f->nrows;
    if (!same)
        return bl_corrupt(r, errmsg, "header", 0, "identity differs from the manifest");
    return 0;
}

/* ---- file system ---- */

void bl_col_name(char name[TM_BINLOG_NAME_MAX], int64_t field_id)
{
    snprintf(name, TM_BINLOG_NAME_MAX, "%lld.col", (long long)field_id);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

bool bl_is_binlog_name(const char *name)
{
    if (!strcmp(name, BL_MANIFEST) || !strcmp(name, BL_DELTA) || !strcmp(name, BL_STATS) ||
        ends_with(name, BL_TMP))
        return true;
    if (!ends_with(name, ".col"))
        return false;
    const char *p = name + (*name == '-');
    size_t digits = strspn(p, "0123456789");
    return digits > 0 && !strcmp(p + digits, ".col");
}

int bl_fsync_dir(const char *dir, char *errmsg)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return bl_err(errmsg, -errno, "%s: open directory: %s", dir, strerror(errno));
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    if (rc)
        return bl_err(errmsg, rc, "%s: fsync directory: %s", dir, strerror(-rc));
    return 0;
}

void bl_parent_of(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, cap, ".");
    else if (slash == path)
        snprintf(out, cap, "/");
    else
        snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

int bl_mkdirs(const char *dir, char *errmsg)
{
    char path[PATH_MAX], parent[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s", dir) >= sizeof path)
        return bl_err(errmsg, TM_EINVAL, "%s: path too long", dir);
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0755) == 0) {
            /* A new directory's own entry lives in its parent: fsync the
             * parent, or a power cut could lose the directory together with
             * the segment that is about to be written into it. */
            bl_parent_of(path, parent, sizeof parent);
            int rc = bl_fsync_dir(parent, errmsg);
            if (rc)
                return rc;
        } else if (errno != EEXIST) {
            return bl_err(errmsg, -errno, "%s: mkdir: %s", path, strerror(errno));
        }
        *p = c;
        if (c == '\0')
            return 0;
    }
}

static bool is_listed(const struct bl_manifest *m, const char *name)
{
    for (uint32_t i = 0; m && i < m->nfiles; i++)
        if (!strcmp(m->files[i].name, name))
            return true;
    return m && !strcmp(name, BL_MANIFEST);
}

int bl_remove_unlisted(const char *dir, const struct bl_manifest *m, char *errmsg)
{
    DIR *d = opendir(dir);
    if (!d)
        return bl_err(errmsg, -errno, "%s: opendir: %s", dir, strerror(errno));
    int rc = 0, removed = 0;
    for (struct dirent *e; !rc && (e = readdir(d));) {
        if (!bl_is_binlog_name(e->d_name) || is_listed(m, e->d_name))
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT)
            rc = bl_err(errmsg, -errno, "%s/%s: unlink: %s", dir, e->d_name, strerror(errno));
        removed++;
    }
    closedir(d);
    /* Make the removals durable, so a later crash cannot resurrect files
     * that a rewrite of this directory no longer expects. */
    if (!rc && removed)
        rc = bl_fsync_dir(dir, errmsg);
    return rc;
}

/* ---- crash hook ---- */

static struct {
    enum tm_binlog_crash_point point;
    unsigned nth, seen;
    enum tm_binlog_crash_action action;
    bool failed;
} crash;

void tm_binlog_set_crash_point(enum tm_binlog_crash_point point, unsigned nth,
                               enum tm_binlog_crash_action action)
{
    crash.point = point;
    crash.nth = nth ? nth : 1;
    crash.seen = 0;
    crash.action = action;
}

int bl_crash(enum tm_binlog_crash_point p, char *errmsg)
{
    if (crash.point == TM_BINLOG_CRASH_NONE || crash.point != p || ++crash.seen < crash.nth)
        return 0;
    crash.point = TM_BINLOG_CRASH_NONE;
    if (crash.action == TM_BINLOG_CRASH_EXIT)
        _exit(TM_BINLOG_CRASH_EXIT_CODE);
    crash.failed = true;
    return bl_err(errmsg, TM_EIO, "crash point %d fired", (int)p);
}

bool bl_crash_failed(void)
{
    return crash.failed;
}

void bl_crash_reset_failed(void)
{
    crash.failed = false;
}
