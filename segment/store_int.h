/* Internals of the store shared by store.c and store_merge.c (and tests). */
#ifndef TM_STORE_INT_H
#define TM_STORE_INT_H

#include "store.h"

/* A row reference: segment index << 40 | row. */
#define REF(seg, row) ((int64_t)(seg) << 40 | (int64_t)(row))
#define REF_SEG(ref) ((uint32_t)((ref) >> 40))
#define REF_ROW(ref) ((uint32_t)((ref) & ((1LL << 40) - 1)))

struct tm_pk tm_store_pk_at(const struct tm_col *c, uint32_t i);
uint64_t tm_store_row_ts(const struct tm_store *s, int64_t ref);
int64_t tm_store_row_prev(const struct tm_store *s, int64_t ref);
/* The version of a key visible at ts (store.h's rule), or TM_NO_REF. */
int64_t tm_store_visible(const struct tm_store *s, const struct tm_pk_entry *e, uint64_t ts);
/* Records a delete of pk at ts in partition part (-1 = every partition). */
int tm_store_delete_key(struct tm_store *s, const struct tm_pk *pk, uint64_t ts, int64_t part);
/* Appends rows as new versions at h->ts in partition h->part_id. */
int tm_store_insert_rows(struct tm_store *s, const struct tm_entry_hdr *h,
                         const struct tm_batch *rows, int64_t pk_field_id);
/* Applies a merge entry (store_merge.c). */
int tm_store_merge(struct tm_store *s, const struct tm_entry_hdr *h, const struct tm_batch *rows,
                   const struct tm_batch *pks);

/* The read timestamp of a key: its shard's, or q->ts. */
uint64_t tm_store_read_ts(const struct tm_pk_entry *e, const struct tm_store_read *q);
/* True when segment seg's partition is one q selects. */
bool tm_store_seg_selected(const struct tm_store *s, uint32_t seg, const struct tm_store_read *q);
/* The rows a scan may return, per segment: bit r of (*bits_out)[seg] is
 * set iff row r is the version of its key visible at q's timestamps, lies in
 * a selected partition and matches q->filter. Free with tm_store_bits_free.
 * 0 or TM_ENOMEM (store_scan.c). */
int tm_store_eligible(struct tm_store *s, const struct tm_store_read *q, uint64_t ***bits_out);
void tm_store_bits_free(const struct tm_store *s, uint64_t **bits);
/* Eligible rows as refs in insertion order; filtered counts (store_scan.c). */
int tm_store_scan_refs(struct tm_store *s, const struct tm_store_read *q, struct tm_buf *refs);
int tm_store_count_filtered(struct tm_store *s, const struct tm_store_read *q, uint64_t *n_out);
/* Number of set bits among the first n. */
uint64_t tm_bits_count(const uint64_t *bits, uint64_t n);

#endif
