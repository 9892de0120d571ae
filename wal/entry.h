/* WAL entries: the bytes of one Raft log entry of a shard.
 *
 * Byte layout (format version TM_ENTRY_VERSION = 1): one msgpack map
 *   {"v": 1, "k": kind, "ts": hybrid timestamp, "coll": collection id,
 *    "part": partition id (-1 = every partition), "dpart": partition id,
 *    "cid": client id str|nil, "seq": client sequence number,
 *    "ops": [[field id, op], ...] (merge only; absent = all REPLACE),
 *    "rows": batch|nil, "pks": batch|nil}
 * followed by 0..7 zero bytes so the entry size is a multiple of 8: libraft
 * 0.15 writes segments it cannot read back otherwise (wal-anchor.md §4.3).
 *
 * Validity rule: an entry is valid when its size is a multiple of 8, the map
 * decodes completely, its version is known, and every byte after the map is
 * zero and fewer than 8.
 * `rows` and `pks` are tm_batch encodings (segment/batch.h): rows to insert,
 * and a one-column batch of primary keys to delete. All events of an entry
 * share its one timestamp: an upsert is a delete of its keys and an insert of
 * its rows at the same ts, so a reader sees exactly one version of each key.
 *
 * A merge (partial update) carries in `rows` the primary key (the new one,
 * for autoID) and the fields the request sent, and in `pks` the keys whose
 * latest versions it merges into. Every replica resolves the merge while it
 * applies the entry, against the key's latest version at that point of the
 * log, so concurrent partial updates of one key never lose each other's
 * fields. With part -1 a merged key keeps its partition (a new key goes to
 * "dpart"); otherwise it moves to `part`.
 */
#ifndef TM_ENTRY_H
#define TM_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "tm_buf.h"

#define TM_ENTRY_VERSION 1
#define TM_CLIENT_ID_MAX 64

enum tm_entry_kind {
    TM_ENTRY_INSERT = 1, /* rows */
    TM_ENTRY_DELETE = 2, /* pks */
    TM_ENTRY_UPSERT = 3, /* pks deleted and rows inserted at one ts */
    TM_ENTRY_MERGE = 4,  /* partial rows merged into the latest versions of pks */
    /* No rows: every replica seals the shard's growing data of every
     * collection at this point of the log (docs/segments-design.md). */
    TM_ENTRY_SEAL = 5,
    /* A seal that also compacts collection `coll` in the shard: its sealed
     * ranges become one, without what no read after the retention point
     * can see (segment/store_compact.c). */
    TM_ENTRY_COMPACT = 6,
};

/* Per-field merge operations (milvus-rest-v2.md §4.4.2 fieldOps). */
enum tm_field_op { TM_OP_REPLACE = 0, TM_OP_ARRAY_APPEND = 1, TM_OP_ARRAY_REMOVE = 2 };
#define TM_ENTRY_MAX_OPS 16

struct tm_field_op_spec {
    int64_t field_id;
    enum tm_field_op op;
};

struct tm_entry_hdr {
    uint32_t version;
    enum tm_entry_kind kind;
    uint64_t ts;
    int64_t coll_id;
    int64_t part_id;
    int64_t default_part_id;          /* MERGE with part_id -1: where a new key goes */
    char client_id[TM_CLIENT_ID_MAX]; /* "" when the request carried none */
    uint64_t seq;
    uint32_t nops; /* MERGE: fields merged by an op other than REPLACE */
    struct tm_field_op_spec ops[TM_ENTRY_MAX_OPS];
};

/* A byte range inside an entry (points into the entry; NULL/0 when absent). */
struct tm_span {
    const uint8_t *p;
    size_t len;
};

/* Encodes header + the pre-encoded batches (each a span, possibly empty) and
 * the padding into out (appending). Returns 0 or TM_ENOMEM. */
int tm_entry_encode(struct tm_buf *out, const struct tm_entry_hdr *h, struct tm_span rows,
                    struct tm_span pks);

/* Writes the "ops" array of n field operations (the value only, no key). */
struct tm_mpw;
void tm_entry_ops_encode(struct tm_mpw *w, const struct tm_field_op_spec *ops, uint32_t n);
/* Reads an "ops" array ([[field id, op], ...]) into h. 0, TM_ECORRUPT or TM_ETRUNC. */
struct tm_mpr;
int tm_entry_ops_decode(struct tm_mpr *r, struct tm_entry_hdr *h);

/* Decodes the header and locates the batches inside buf. Returns 0,
 * TM_ECORRUPT / TM_ETRUNC for malformed bytes, TM_EVERSION for an unknown
 * version. Spans point into buf. */
int tm_entry_decode(const void *buf, size_t len, struct tm_entry_hdr *h, struct tm_span *rows,
                    struct tm_span *pks);

#endif
