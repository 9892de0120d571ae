/* Binlogs: the on-disk form of a sealed segment, and its recovery.
 *
 * A sealed segment holds the rows of one (collection, partition, WAL shard)
 * up to a log position, with their version timestamps, and the deletes of
 * that range. It lives in one directory of its own:
 *
 *   <dir>/<field id>.col   one column binlog per field column
 *   <dir>/0.col            the per-row version timestamps (reserved field id 0)
 *   <dir>/delta.log        the deletes (pk, ts, partition or -1)
 *   <dir>/stats.log        pk min/max, row count and a bloom filter over the pks
 *   <dir>/MANIFEST         names every file above with its size and checksum
 *
 * BYTE LAYOUT. Every file is one framing, little-endian throughout:
 *
 *   header (104 bytes) | block 0 | block 1 | ... | block n-1 | block index
 *
 *   header:  off  size
 *              0     8  magic "TMBINLOG"
 *              8     4  format version (1)
 *             12     4  kind: 1 column, 2 deltalog, 3 stats, 4 manifest
 *             16     8  segment id
 *             24     8  collection id
 *             32     8  partition id
 *             40     4  shard
 *             44     4  dtype (Milvus DataType number; pk type for delta/stats)
 *             48     8  field id (column: the field, 0 = row timestamps;
 *                       deltalog and stats: the pk field; manifest: 0)
 *             56     4  width (bytes per value, 0 = variable width)
 *             60     1  nullable (0/1)
 *             61     1  codec: 0 none, 1 zstd
 *             62     2  reserved, 0
 *             64     8  record count (column: rows; deltalog: deletes; stats
 *                       and manifest: 1, their one msgpack map)
 *             72     4  block count
 *             76     4  reserved, 0
 *             80     8  index offset (where the block index starts)
 *             88     8  file size
 *             96     4  CRC32C of the block index
 *            100     4  CRC32C of header bytes 0..99
 *
 *   block index: one 40-byte entry per block, in file order:
 *              0     8  first row
 *              8     4  rows in the block (>= 1)
 *             12     4  CRC32C of the stored block bytes
 *             16     8  offset of the block in the file
 *             24     8  stored (compressed) size
 *             32     8  raw (decompressed) size
 *
 *   A column or deltalog block covers at most TM_BINLOG_BLOCK_ROWS rows and
 *   is closed once its raw form reaches TM_BINLOG_BLOCK_BYTES, so a reader
 *   can decompress only the blocks a query needs. Raw block of rows [r, r+n):
 *     column:   [valid: n bytes, if nullable]
 *               fixed width:    data, n * width bytes
 *               variable width: n uint64 end offsets relative to the block's
 *                               first value, then the value bytes
 *     deltalog: n uint64 ts, n int64 partition ids (-1 = every partition),
 *               then the pks: Int64 as n int64, VarChar as n uint64 relative
 *               end offsets followed by the bytes
 *   Stats and manifest files have one uncompressed block holding a msgpack
 *   map (keys in docs/formats.md; decoders skip unknown keys).
 *
 * THE CHECKSUM CHAIN. The header CRC covers the index CRC, the index covers
 * each block's CRC, and each block CRC covers its stored bytes; so the
 * header CRC (with the file size) fingerprints every byte of the file, and
 * that is the checksum the manifest records per file. A reader checks, in
 * order: magic, header CRC, version, that the file size on disk equals the
 * header's (truncation and appended bytes), the index CRC, that blocks are
 * contiguous from byte 104 to the index and rows contiguous from 0 to the
 * row count, and per block its CRC, its decompressed size and its internal
 * structure (ascending end offsets). Anything else is TM_ECORRUPT naming the
 * file and the byte offset; no data is returned from a file that fails.
 *
 * VALIDITY RULE. A segment exists iff <dir>/MANIFEST is a valid binlog of
 * kind manifest and every file it names exists with the size and header
 * checksum it records (and, when read, verifies itself). Files are written
 * under "<name>.tmp", fsynced, renamed into place, then the directory is
 * fsynced, and the manifest goes last by the same steps; so a manifest can
 * only become durable after every file it names.
 *
 * RECOVERY (tm_binlog_scan). Every directory below the root is visited:
 * - with a MANIFEST that is valid: a segment; stray "*.tmp" and binlog
 *   files the manifest does not name are deleted; the callback runs.
 * - with a MANIFEST that is not valid: corruption (a manifest is renamed
 *   into place whole, so a crash never leaves a torn one): the directory is
 *   left untouched, as evidence and possibly the only copy of its rows, and
 *   the callback runs with TM_ECORRUPT.
 * - with binlog files ("*.col", "delta.log", "stats.log", "*.tmp") but no
 *   MANIFEST: a seal that did not finish; its files are deleted, then the
 *   directory if it is empty.
 * - empty directories below the root are deleted (a seal that crashed
 *   before its first file leaves one); the root itself is kept.
 * The tree under the root therefore belongs to this module: keep nothing
 * else there.
 *
 * Caveats:
 * - Segments are immutable: writing into a directory that already holds a
 *   MANIFEST fails with TM_EEXIST. Leftovers of an unfinished earlier write
 *   there are deleted first.
 * - Every error message is written to a caller-supplied buffer of
 *   TM_BINLOG_ERRMSG bytes and names the file (and offset, for corruption).
 * - The crash hook is process-wide and not synchronised: set it before any
 *   writer runs (tests only).
 */
#ifndef TM_BINLOG_H
#define TM_BINLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "pkindex.h"
#include "tm_buf.h"
#include "tm_crc32c.h"

#define TM_BINLOG_VERSION 1
#define TM_BINLOG_ERRMSG 256
#define TM_BINLOG_TS_FIELD 0 /* field id of the row-timestamp column */
#define TM_BINLOG_BLOCK_ROWS 65536u
#define TM_BINLOG_BLOCK_BYTES (1u << 20)
#define TM_BINLOG_MAX_FILES (TM_BATCH_MAX_COLS + 4)
#define TM_BINLOG_NAME_MAX 32

/* Identity and sealing position of a segment. */
struct tm_seg_meta {
    int64_t seg_id;
    int64_t coll_id;
    int64_t part_id;
    uint32_t shard;
    int64_t pk_field_id; /* the pk column of the rows (Int64 or VarChar) */
    uint64_t log_index;  /* WAL index the segment was sealed at */
    uint64_t last_ts;    /* timestamp of that entry */
    uint64_t nrows;      /* set by the reader (the writer takes rows->nrows) */
    uint64_t ndeletes;   /* set by the reader */
};

/* The deletes of a segment, one record per index. */
struct tm_seg_deletes {
    struct tm_col pk;   /* Int64 (width 8) or VarChar (width 0), not nullable */
    struct tm_buf ts;   /* uint64 per delete */
    struct tm_buf part; /* int64 per delete; -1 = every partition */
    uint64_t n;
};

/* pk_type is TM_T_INT64 or TM_T_VARCHAR. */
void tm_seg_deletes_init(struct tm_seg_deletes *d, enum tm_dtype pk_type);
void tm_seg_deletes_free(struct tm_seg_deletes *d);
/* Appends one delete; the key must match pk_type (pk->is_str). 0 or TM_ENOMEM. */
int tm_seg_deletes_add(struct tm_seg_deletes *d, const struct tm_pk *pk, uint64_t ts,
                       int64_t part_id);

/* What a write stored, for `bench flush`: per file, raw bytes (the in-memory
 * column bytes, offsets and validity included) and bytes on disk. */
struct tm_binlog_file_stat {
    char name[TM_BINLOG_NAME_MAX];
    int64_t field_id;
    enum tm_dtype type;
    uint64_t raw_bytes;
    uint64_t stored_bytes;
};

struct tm_binlog_wstats {
    uint32_t nfiles; /* columns first (timestamps first of all), then delta, stats, manifest */
    struct tm_binlog_file_stat files[TM_BINLOG_MAX_FILES];
    uint64_t raw_bytes, stored_bytes; /* totals */
};

/* Writes a sealed segment into dir (created with its parents if needed):
 * rows (every column rows->nrows long; field ids > 0 and distinct), row_ts
 * (rows->nrows timestamps; may be NULL when there are no rows) and dels (may
 * be NULL: no deletes). Returns 0 once the segment is durable (its manifest
 * and directory entry fsynced); stats_out (optional) is filled then.
 * Errors: TM_EINVAL (bad input), TM_EEXIST (dir already holds a segment),
 * TM_ENOMEM, TM_EIO (zstd), -errno; errmsg says which file. On failure the
 * files written so far are removed (except after a TM_BINLOG_CRASH_FAIL
 * crash point, which leaves them as a crash would). Everything is borrowed. */
int tm_binlog_write_segment(const char *dir, const struct tm_seg_meta *meta,
                            const struct tm_batch *rows, const uint64_t *row_ts,
                            const struct tm_seg_deletes *dels, struct tm_binlog_wstats *stats_out,
                            char errmsg[TM_BINLOG_ERRMSG]);

/* Reads a whole segment, verifying every checksum: meta_out, rows_out
 * (freshly tm_batch_init'ed; columns in the order written, bit-identical),
 * row_ts_out (freshly tm_buf_init'ed; one uint64 per row) and dels_out
 * (uninitialised; set up here). Any of the last three may be NULL to skip
 * it. On success the caller frees them; on failure they are left empty.
 * Errors: TM_ENOTFOUND (no MANIFEST), TM_ECORRUPT, TM_EVERSION, TM_ENOMEM,
 * -errno. */
int tm_binlog_read_segment(const char *dir, struct tm_seg_meta *meta_out, struct tm_batch *rows_out,
                           struct tm_buf *row_ts_out, struct tm_seg_deletes *dels_out,
                           char errmsg[TM_BINLOG_ERRMSG]);

/* Reads and verifies the manifest only (cheap: one small file): meta_out and,
 * if names_out is given, the file names it lists (up to TM_BINLOG_MAX_FILES;
 * *nfiles_out set). Same errors as tm_binlog_read_segment. Also checks that
 * every named file exists with the recorded size and header checksum. */
int tm_binlog_read_manifest(const char *dir, struct tm_seg_meta *meta_out,
                            char (*names_out)[TM_BINLOG_NAME_MAX], uint32_t *nfiles_out,
                            char errmsg[TM_BINLOG_ERRMSG]);

/* One column binlog opened for block-wise reads (TM_BINLOG_TS_FIELD for the
 * timestamps). Opening verifies the manifest, the file's header and block
 * index; each block is verified when it is read. */
struct tm_binlog_col_reader;

struct tm_binlog_block_info {
    uint64_t first_row;
    uint32_t nrows;
    uint64_t offset, stored_bytes, raw_bytes;
};

/* 0 with *out set (close it), TM_ENOTFOUND if the segment has no such
 * column, or the errors of tm_binlog_read_segment. */
int tm_binlog_col_open(const char *dir, int64_t field_id, struct tm_binlog_col_reader **out,
                       char errmsg[TM_BINLOG_ERRMSG]);
void tm_binlog_col_close(struct tm_binlog_col_reader *r);
/* The column's shape; valid until close. */
uint64_t tm_binlog_col_nrows(const struct tm_binlog_col_reader *r);
uint32_t tm_binlog_col_nblocks(const struct tm_binlog_col_reader *r);
void tm_binlog_col_block_info(const struct tm_binlog_col_reader *r, uint32_t i,
                              struct tm_binlog_block_info *out);
/* Starts out as an empty column of this file's field, type, width and
 * nullability (out is overwritten; free its buffers with tm_buf_free, or
 * pass it as a tm_batch column). */
void tm_binlog_col_layout(const struct tm_binlog_col_reader *r, struct tm_col *out);
/* Appends the rows of block i to out (which must have this column's layout
 * and hold rows [0, first row of block i) or be used on its own: end offsets
 * continue from out->data.len). 0, TM_ECORRUPT (errmsg set), TM_ENOMEM, -errno. */
int tm_binlog_col_read_block(struct tm_binlog_col_reader *r, uint32_t i, struct tm_col *out,
                             char errmsg[TM_BINLOG_ERRMSG]);

/* The whole column: out is set to the column (free its three buffers with
 * tm_buf_free); on failure it is left empty. Errors as tm_binlog_col_open. */
int tm_binlog_read_column(const char *dir, int64_t field_id, struct tm_col *out,
                          char errmsg[TM_BINLOG_ERRMSG]);

/* ---- stats: pk range and bloom filter ---- */

/* A bloom filter with k probes from two 64-bit hashes (Kirsch-Mitzenmacher:
 * probe i is h1 + i*h2 mod nbits). At TM_BLOOM_BITS_PER_KEY = 10 bits per key
 * and k = 7 the false-positive rate is (1 - e^(-7/10))^7 ~ 0.82 %. There are
 * no false negatives. */
#define TM_BLOOM_BITS_PER_KEY 10
#define TM_BLOOM_K 7

struct tm_bloom {
    uint64_t nbits; /* multiple of 64, >= 64 */
    uint32_t k;
    uint64_t *words; /* owned */
};

/* Sized for nkeys keys; 0 or TM_ENOMEM. */
int tm_bloom_init(struct tm_bloom *b, uint64_t nkeys);
void tm_bloom_free(struct tm_bloom *b);
void tm_bloom_add(struct tm_bloom *b, const struct tm_pk *pk);
/* False: pk was certainly never added. True: it probably was. */
bool tm_bloom_maybe(const struct tm_bloom *b, const struct tm_pk *pk);

struct tm_seg_stats {
    enum tm_dtype pk_type; /* TM_T_INT64, TM_T_VARCHAR, or TM_T_NONE for no pk column */
    uint64_t nrows;
    bool has_range;             /* false when there are no rows */
    int64_t min_i, max_i;       /* Int64 */
    struct tm_buf min_s, max_s; /* VarChar bytes (byte-wise order) */
    struct tm_bloom bloom;
};

/* Reads and verifies <dir>/stats.log (after the manifest). out is set up
 * here; free it with tm_seg_stats_free, also after a failure. */
int tm_binlog_read_stats(const char *dir, struct tm_seg_stats *out, char errmsg[TM_BINLOG_ERRMSG]);
void tm_seg_stats_free(struct tm_seg_stats *s);

/* ---- recovery ---- */

/* Called for each segment found: rc 0 with its meta, or TM_ECORRUPT (meta
 * NULL, errmsg says why) for a directory whose MANIFEST does not verify.
 * dir and meta are borrowed for the call. A non-zero return stops the scan,
 * which then returns that value. */
typedef int (*tm_binlog_scan_fn)(void *arg, const char *dir, const struct tm_seg_meta *meta, int rc,
                                 const char *errmsg);

/* Recovery: visits the tree below root in name order and applies the rules
 * at the top of this file (deleting leftovers of unfinished writes). 0, the
 * callback's value, or -errno (errmsg set) when the tree cannot be read or
 * a leftover cannot be removed. A missing root is an empty tree. */
int tm_binlog_scan(const char *root, tm_binlog_scan_fn cb, void *arg,
                   char errmsg[TM_BINLOG_ERRMSG]);

/* Deletes a segment: the MANIFEST first and the directory fsynced (from that
 * moment the segment does not exist, and a crash leaves files the scan
 * removes), then its files and the directory. 0 or -errno. */
int tm_binlog_remove_segment(const char *dir, char errmsg[TM_BINLOG_ERRMSG]);

/* ---- fault injection (tests) ---- */

/* The steps of a write, in order. A crash point fires at its nth arrival
 * (1 = first): BEFORE_RENAME and BETWEEN_FILES are reached once per data
 * file, the others once per write. */
enum tm_binlog_crash_point {
    TM_BINLOG_CRASH_NONE,
    TM_BINLOG_CRASH_BEFORE_FILES,           /* directory made, no file written */
    TM_BINLOG_CRASH_BEFORE_RENAME,          /* a data file written and fsynced as .tmp */
    TM_BINLOG_CRASH_BETWEEN_FILES,          /* a data file renamed into place */
    TM_BINLOG_CRASH_BEFORE_DIR_FSYNC,       /* every data file renamed */
    TM_BINLOG_CRASH_BEFORE_MANIFEST,        /* directory fsynced, no manifest */
    TM_BINLOG_CRASH_BEFORE_MANIFEST_RENAME, /* MANIFEST.tmp written and fsynced */
    TM_BINLOG_CRASH_BEFORE_FINAL_FSYNC,     /* MANIFEST renamed: the segment exists */
};

enum tm_binlog_crash_action {
    TM_BINLOG_CRASH_EXIT, /* _exit(TM_BINLOG_CRASH_EXIT_CODE): as kill -9 */
    TM_BINLOG_CRASH_FAIL, /* return TM_EIO, leaving every file as it is */
};

#define TM_BINLOG_CRASH_EXIT_CODE 77

/* Arms one crash point (TM_BINLOG_CRASH_NONE disarms). It fires once, then
 * disarms itself. */
void tm_binlog_set_crash_point(enum tm_binlog_crash_point point, unsigned nth,
                               enum tm_binlog_crash_action action);

#endif
