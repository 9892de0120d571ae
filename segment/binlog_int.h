/* Binlog internals shared by binlog*.c and the tests: the framing of one
 * file (header, blocks, block index; layout in binlog.h), the manifest and
 * stats payloads, and the file-system steps of a durable write.
 */
#ifndef TM_BINLOG_INT_H
#define TM_BINLOG_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "binlog.h"

#define BL_MAGIC "TMBINLOG"
#define BL_HDR_SIZE 104u
#define BL_ENTRY_SIZE 40u
#define BL_MANIFEST "MANIFEST"
#define BL_DELTA "delta.log"
#define BL_STATS "stats.log"
#define BL_TMP ".tmp"
/* A block's raw size is bounded so that a reader never allocates more than
 * this for one block, whatever an index says. */
#define BL_MAX_RAW (1ull << 31)
#define BL_WHERE 160

enum bl_kind { BL_COLUMN = 1, BL_DELTA_KIND = 2, BL_STATS_KIND = 3, BL_MANIFEST_KIND = 4 };
enum bl_codec { BL_CODEC_NONE = 0, BL_CODEC_ZSTD = 1 };

struct bl_hdr {
    uint32_t version, kind;
    int64_t seg_id, coll_id, part_id;
    uint32_t shard, dtype;
    int64_t field_id;
    uint32_t width;
    uint8_t nullable, codec;
    uint64_t nrows;
    uint32_t nblocks;
    uint64_t index_off, file_size;
    uint32_t index_crc, hdr_crc;
};

struct bl_entry {
    uint64_t first_row;
    uint32_t nrows, crc;
    uint64_t off, stored, raw;
};

/* A file as the manifest lists it. */
struct bl_file {
    char name[TM_BINLOG_NAME_MAX];
    uint32_t kind, dtype, width;
    int64_t field_id;
    bool nullable;
    uint64_t nrows, size;
    uint32_t crc; /* the file's header CRC */
};

struct bl_manifest {
    struct tm_seg_meta meta;
    uint32_t nfiles;
    struct bl_file files[TM_BINLOG_MAX_FILES];
};

/* ---- errors ---- */

/* Formats errmsg and returns rc. */
int bl_err(char *errmsg, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- writing one file ---- */

struct bl_writer {
    int fd;
    char path[PATH_MAX];
    const char *dir;
    char name[TM_BINLOG_NAME_MAX];
    struct bl_hdr hdr;
    struct bl_entry *idx;
    uint32_t cap;
    uint64_t raw_total;
    void *zctx; /* ZSTD_CCtx, for codec zstd */
    struct tm_buf zbuf;
    char where[BL_WHERE];
};

/* Creates <dir>/<name>.tmp for a file with header h (its row count, block
 * count, offsets and CRCs are filled in as blocks are added). */
int bl_writer_open(struct bl_writer *w, const char *dir, const char *name, const struct bl_hdr *h,
                   char *errmsg);
/* Compresses (codec zstd) and appends one block of nrows rows. */
int bl_writer_add(struct bl_writer *w, const void *raw, size_t len, uint32_t nrows, char *errmsg);
/* Writes the index and header, fsyncs, and renames into place; fills out. */
int bl_writer_finish(struct bl_writer *w, struct bl_file *out, char *errmsg);
/* Closes and (unless the crash hook left it) removes the temporary file. */
void bl_writer_abort(struct bl_writer *w);

/* ---- reading one file ---- */

struct bl_reader {
    int fd;
    struct bl_hdr hdr;
    struct bl_entry *idx;
    void *dctx;           /* ZSTD_DCtx */
    char where[BL_WHERE]; /* "segment 7: 101.col" */
};

/* Opens <dir>/<name>, verifying header and index; `where` prefixes errors. */
int bl_reader_open(struct bl_reader *r, const char *dir, const char *name, uint32_t kind,
                   const char *where, char *errmsg);
/* Reads, verifies and decompresses block i into raw (replacing its contents). */
int bl_reader_block(struct bl_reader *r, uint32_t i, struct tm_buf *raw, char *errmsg);
void bl_reader_close(struct bl_reader *r);
/* TM_ECORRUPT with "<where>: <what> at offset <off>: <why>". */
int bl_corrupt(const struct bl_reader *r, char *errmsg, const char *what, uint64_t off,
               const char *why);
/* Opens a file the manifest lists and checks it is that file (size, header
 * CRC, identity, shape). */
int bl_open_listed(struct bl_reader *r, const char *dir, const struct bl_manifest *m,
                   const struct bl_file *f, char *errmsg);

/* Fills a header with the segment identity. */
void bl_hdr_identity(struct bl_hdr *h, const struct tm_seg_meta *meta, uint32_t kind);

/* ---- manifest and stats ---- */

int bl_manifest_write(const char *dir, const struct bl_manifest *m, struct bl_file *out,
                      uint64_t *raw_out, char *errmsg);
/* Reads and verifies <dir>/MANIFEST and every file header it lists.
 * TM_ENOTFOUND when there is no MANIFEST. */
int bl_manifest_read(const char *dir, struct bl_manifest *m, char *errmsg);
const struct bl_file *bl_manifest_find(const struct bl_manifest *m, uint32_t kind,
                                       int64_t field_id);

/* Computes and writes stats.log from the pk column (NULL when there is none). */
int bl_stats_write(const char *dir, const struct tm_seg_meta *meta, const struct tm_col *pk,
                   uint32_t nrows, enum tm_dtype pk_type, struct bl_file *out, uint64_t *raw_out,
                   char *errmsg);
int bl_stats_read(const char *dir, const struct bl_manifest *m, struct tm_seg_stats *out,
                  char *errmsg);

/* ---- file system ---- */

/* The name of a column binlog: "<field id>.col". */
void bl_col_name(char name[TM_BINLOG_NAME_MAX], int64_t field_id);
/* True for names this module writes (data files, MANIFEST and *.tmp). */
bool bl_is_binlog_name(const char *name);
int bl_mkdirs(const char *dir, char *errmsg);
/* The directory that holds path ("." or "/" at the top). */
void bl_parent_of(const char *path, char *out, size_t cap);
/* fsyncs a directory, so the entries created, renamed or removed in it are durable. */
int bl_fsync_dir(const char *dir, char *errmsg);
/* Removes every binlog-named file in dir not listed in m (all of them when m
 * is NULL); fsyncs dir when it removed something. */
int bl_remove_unlisted(const char *dir, const struct bl_manifest *m, char *errmsg);

/* Fires the armed crash point if it is p and this is its nth arrival:
 * _exit or TM_EIO. 0 otherwise. */
int bl_crash(enum tm_binlog_crash_point p, char *errmsg);
/* True once a FAIL crash point fired in this write (files are left as they are). */
bool bl_crash_failed(void);
void bl_crash_reset_failed(void);

/* Little-endian codecs. */
void bl_put32(uint8_t *p, uint32_t v);
void bl_put64(uint8_t *p, uint64_t v);
uint32_t bl_get32(const uint8_t *p);
uint64_t bl_get64(const uint8_t *p);

#endif
