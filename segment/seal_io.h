/* Seal ranges on disk: what tm_store_seal takes out of a store, written as
 * binlog segments (binlog.h), and read back into the form
 * tm_store_load_sealed takes.
 *
 * One range is everything a shard's log wrote to one collection between two
 * seal entries. Under a shard's directory it is one segment per partition,
 *   r<log index, 20 digits>-<i, 6 digits>-p<partition id>/
 * numbered in the store's segment order (so a store loaded from disk lists
 * rows in the same order as the one that sealed them), and the range's
 * delete records go into the first of them (or, for a range with deletes and
 * no rows, into r<log index>-d/). The range exists once
 * every one of its segments exists; whoever records the range as durable
 * (the WAL snapshot, docs/segments-design.md) does so only after
 * tm_seal_write returned 0, and ranges it never recorded are leftovers.
 */
#ifndef TM_SEAL_IO_H
#define TM_SEAL_IO_H

#include "binlog.h"
#include "store.h"

/* Writes the range below dir (the shard's directory, created if needed).
 * range gives coll_id, shard, pk_field_id, log_index, last_ts and the first
 * segment id (segment i gets seg_id + i). stats_out, if given, sums what was
 * written (per file kind and type: up to TM_BINLOG_MAX_FILES entries per
 * segment are merged by name). 0 or an error with errmsg set. */
int tm_seal_write(const char *dir, const struct tm_seg_meta *range, const struct tm_seal *seal,
                  enum tm_dtype pk_type, struct tm_binlog_wstats *stats_out, uint32_t *nsegs_out,
                  char errmsg[TM_BINLOG_ERRMSG]);

/* A range tm_store_seal took out of a store, copied so that another thread
 * can write it while the store takes new rows (segment/seal_writer.h): the
 * parts' batch structs and the deletes are copies; the column buffers are
 * still the store's sealed segments', which no apply changes or moves, so
 * the store must outlive the write (no free, compaction or restore until
 * it is done). */
struct tm_seal_copy {
    struct tm_sealed_part *parts;
    struct tm_batch *rows; /* parts[i].rows points here */
    uint32_t nparts;
    struct tm_seg_deletes dels;
};

/* 0, TM_ENOMEM or TM_EINVAL (a key of the wrong type), errmsg set; out is
 * freed with tm_seal_copy_free after a failure too. */
int tm_seal_copy(const struct tm_seal *seal, enum tm_dtype pk_type, struct tm_seal_copy *out,
                 char errmsg[TM_BINLOG_ERRMSG]);
/* How many segment ids its write takes (as tm_seal_write's nsegs_out). */
uint32_t tm_seal_copy_nsegs(const struct tm_seal_copy *c);
/* tm_seal_write of the copy. */
int tm_seal_copy_write(const char *dir, const struct tm_seg_meta *range,
                       const struct tm_seal_copy *c, char errmsg[TM_BINLOG_ERRMSG]);
void tm_seal_copy_free(struct tm_seal_copy *c);

/* The name prefix of every segment of the range sealed at log_index
 * ("r" + 20 digits + "-"): its files are dir/<prefix>.../<file>. */
#define TM_SEAL_PREFIX_LEN 22
void tm_seal_range_prefix(char out[TM_SEAL_PREFIX_LEN + 1], uint64_t log_index);

/* A range read back: owns the rows, timestamps and deletes `seal` points to. */
struct tm_seal_owned {
    struct tm_seal seal;
    struct tm_batch *rows; /* one per part */
    struct tm_buf *ts;
    struct tm_seg_deletes dels;
    struct tm_store_del *recs;
};

/* Reads the range sealed at log_index below dir, verifying every checksum.
 * out is freed with tm_seal_owned_free (also after a failure). 0,
 * TM_ENOTFOUND (no segment of that range), TM_ECORRUPT (errmsg names the
 * file and offset), TM_ENOMEM, -errno. */
int tm_seal_read(const char *dir, uint64_t log_index, struct tm_seal_owned *out,
                 char errmsg[TM_BINLOG_ERRMSG]);
void tm_seal_owned_free(struct tm_seal_owned *o);

/* Removes the segments of the range sealed at log_index below dir (none is
 * fine). 0 or -errno with errmsg set. */
int tm_seal_remove(const char *dir, uint64_t log_index, char errmsg[TM_BINLOG_ERRMSG]);

/* Compaction (store_compact.c): out gets one range holding what a read at
 * or after retention_ts sees of s: per key every version written after it
 * and the version visible at it, and the deletes written after it. Rows are
 * copies; delete records borrow keys from s (valid while s is). Free with
 * tm_seal_owned_free. 0, TM_ENOMEM or TM_EINVAL (a store without schema). */
int tm_store_compact(const struct tm_store *s, uint64_t retention_ts, struct tm_seal_owned *out);

#endif
