/* The growing data of one collection on a query replica: one growing
 * segment per partition, a primary-key index, and a delete log.
 *
 * Versions: every inserted row is a version of its primary key, stamped
 * with its entry's timestamp; the pk index points at the newest version,
 * and each version at the one it superseded. A delete record (ts, partition
 * or all) is chained per key the same way.
 *
 * Visibility at read timestamp R (milvus-rest-v2.md §5.4): take the newest
 * version v with ts(v) <= R; the key is visible iff such a v exists and no
 * delete d applying to v's partition has ts(v) < ts(d) <= R. A delete at T
 * therefore hides versions older than T and never the row written at T, so
 * an upsert (delete + insert at one T) shows exactly one version to every
 * reader. A primary key is unique across the collection: the newest version
 * wins whatever partition it was written to.
 *
 * Locking: the caller holds `lock` (write for apply, read for reads).
 */
#ifndef TM_STORE_H
#define TM_STORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "batch.h"
#include "entry.h"
#include "expr.h"
#include "pkindex.h"

struct tm_seg_index;

struct tm_store_seg {
    int64_t part_id;
    int32_t shard; /* the WAL shard whose entries it holds (s->apply_shard when made) */
    bool sealed;   /* no more rows: its partition's new rows go to a new segment */
    struct tm_batch rows;
    struct tm_buf ts;   /* uint64 per row */
    struct tm_buf prev; /* int64 row ref of the superseded version, per row */
    /* Vector indexes over this sealed segment's rows (seg_index.h), owned,
     * freed with the segment; NULL when none. Attached and detached under
     * the write lock; searches read them under the read lock. */
    struct tm_seg_index *ix;
};

struct tm_store_del {
    uint64_t ts;
    int64_t part_id; /* -1: every partition */
    int64_t prev;
    /* The deleted key: ikey, or skey/slen borrowed from the pk index's own
     * copy (which lives as long as the store). */
    int64_t ikey;
    const char *skey;
    uint32_t slen;
};

struct tm_store {
    int64_t coll_id;
    pthread_rwlock_t lock;
    struct tm_store_seg *segs;
    uint32_t nsegs;
    struct tm_pkindex pk;
    struct tm_store_del *dels;
    int64_t ndels, cap_dels;
    int64_t dels_sealed; /* deletes [0, dels_sealed) belong to sealed segments */
    /* Rows that superseded an earlier version of their key, and the newest
     * row timestamp: while nreplaced and ndels are 0, every row is the only
     * version of its key, which lets scans skip the per-key visibility walk. */
    uint64_t nreplaced;
    uint64_t max_ts;
    int64_t pk_field_id;      /* 0 until the first insert */
    struct tm_schema *schema; /* optional (tm_store_set_schema); merges need it */
    struct tm_batch layout;   /* the schema's row layout, no rows */
    /* The shard whose entry is being applied (set by the caller with the
     * write lock held; 0 when one store serves one shard). A growing
     * segment holds one (partition, shard)'s rows, so a shard's seal entry
     * seals exactly the rows that shard's log wrote (tm_store_seal_shard). */
    int32_t apply_shard;
};

/* What a read selects. */
struct tm_store_read {
    uint64_t ts; /* MVCC read timestamp, unless shard_ts is given */
    /* Per-shard read timestamps: a key is read at shard_ts[tm_pk_shard(pk, nshards)],
     * the serviceable time of the shard that owns it (as Milvus, each shard
     * reads at its own tsafe; per key the read is a consistent snapshot). */
    const uint64_t *shard_ts;
    uint32_t nshards;
    const int64_t *parts; /* partition ids, or NULL for all */
    uint32_t nparts;
    const int64_t *fields; /* field ids to return (the pk is always returned) */
    uint32_t nfields;
    uint64_t offset, limit;       /* limit 0 = none */
    const struct tm_expr *filter; /* rows must match it; NULL = every row */
};

struct tm_store *tm_store_new(int64_t coll_id);
void tm_store_free(struct tm_store *s);
/* Gives the store its collection's schema (copied): every segment then
 * has the schema's layout, and merge entries can be applied (defaults and
 * required fields come from it). 0 or TM_ENOMEM. */
int tm_store_set_schema(struct tm_store *s, const struct tm_schema *schema);

struct tm_rpc_client;
struct tm_collection;
/* Collection coll_id as the coordinator's catalog has it ("cat.coll"), into
 * *out (freed by the caller with tm_collection_free): 0, TM_ENOTFOUND when
 * the collection does not exist (dropped), or the RPC's error. */
int tm_catalog_collection(struct tm_rpc_client *coord, int64_t coll_id, struct tm_collection *out);
/* A new store for collection coll_id with its schema from the coordinator's
 * catalog ("cat.coll"), or *out NULL (and 0) when the collection does not
 * exist: it was dropped, and its entries are dead. An error when the
 * coordinator could not answer: the caller retries, since "dropped" would
 * hide rows (store_entry.c). */
int tm_store_from_catalog(struct tm_rpc_client *coord, int64_t coll_id, struct tm_store **out);
/* Decodes an entry's row and key batches and applies them (tm_store_apply).
 * Caller holds the write lock. */
int tm_store_apply_entry(struct tm_store *s, const struct tm_entry_hdr *h, struct tm_span rows,
                         struct tm_span pks);

/* Drops every row and delete; the store reads empty afterwards. Caller
 * holds the write lock. */
void tm_store_clear(struct tm_store *s);

/* Applies a decoded entry at h->ts: deletes first, then inserts; a merge
 * resolves each partial row against its key's latest version.
 * pk_field_id names the pk column in rows. 0 or TM_ENOMEM / TM_ECORRUPT. */
int tm_store_apply(struct tm_store *s, const struct tm_entry_hdr *h, const struct tm_batch *rows,
                   const struct tm_batch *pks, int64_t pk_field_id);

/* Visible rows for the keys in the single-column batch `pks` (q->filter is
 * not applied then), or for every key that matches q->filter when pks is
 * NULL, in insertion order, into out (freshly initialised; freed by the
 * caller). 0 or TM_ENOMEM / TM_EINVAL. */
int tm_store_read(struct tm_store *s, const struct tm_batch *pks, const struct tm_store_read *q,
                  struct tm_batch *out);
/* Number of visible keys that match q->filter into *n_out; 0 or TM_ENOMEM. */
int tm_store_count(struct tm_store *s, const struct tm_store_read *q, uint64_t *n_out);

/* ---- sealing (store_seal.c) ---- */

/* One partition's rows of a seal range: every version written to it since
 * the previous seal, with their timestamps (ascending). */
struct tm_sealed_part {
    int64_t part_id;
    const struct tm_batch *rows;
    const uint64_t *ts;
};

/* What one seal takes out of a store, and what loading puts back: the rows
 * of each partition and the delete records applied in the same range of
 * the log. */
struct tm_seal {
    struct tm_sealed_part *parts; /* owned array (tm_seal_free) */
    uint32_t nparts;
    const struct tm_store_del *dels; /* ndels records, oldest first */
    uint64_t ndels;
};

/* Seals the store's growing data: every growing segment becomes sealed
 * (its partition's next rows start a new segment) and out describes them
 * and the deletes applied since the previous seal. The rows and deletes
 * out points to belong to the store and stay valid, unchanged, until the
 * store is cleared or freed. Caller holds the write lock. 0 or TM_ENOMEM. */
int tm_store_seal(struct tm_store *s, struct tm_seal *out);
/* tm_store_seal limited to the growing segments of one shard (the query
 * role's store holds every shard's rows; each shard's seal entry seals its
 * own, as the data role's per-shard sealer does). The deletes out lists
 * are every delete since the previous seal of any shard. */
int tm_store_seal_shard(struct tm_store *s, int32_t shard, struct tm_seal *out);
void tm_seal_free(struct tm_seal *seal);

/* Loads one sealed range (as tm_store_seal gave it, e.g. read back from
 * binlogs) as sealed segments, relinking each key's versions in timestamp
 * order across the range's partitions, then its deletes. Ranges must be
 * loaded oldest first and before any later entry is applied. Caller holds
 * the write lock. 0, TM_ENOMEM, or TM_ECORRUPT (rows without the pk column,
 * timestamps out of order). */
int tm_store_load_sealed(struct tm_store *s, const struct tm_seal *in);

#endif
