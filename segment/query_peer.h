/* Each sealed segment's index built once in a cluster: the query nodes
 * serving its shard agree, without talking, on the one that builds it (the
 * index's content key modulo their number, in the order of their
 * addresses); the others copy that node's index file ("index_file") instead
 * of building the same index again. Milvus, too, builds an index once, on an
 * index node, and its query nodes load it.
 *
 * A node that cannot reach the builder, or finds the builder has not built
 * it within TM_QPEER_WAIT_MS, builds the index itself: a copy only spares
 * work, nothing waits for it. A copied file is checked as any index file is
 * (tm_ivf_read: its checksums and parameters) before it is used; a file that
 * fails is removed and the index built.
 *
 * Call: "index_file" {"coll", "field", "key", "offset"} -> {"size": file
 * bytes, "data": bin} (at most TM_QPEER_CHUNK bytes from offset;
 * base/tm_file_call.h), or an error status while this node has no such
 * file (it has not built it yet).
 */
#ifndef TM_QUERY_PEER_H
#define TM_QUERY_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TM_QPEER_MAX 16
#define TM_QPEER_CHUNK (16u << 20)
#define TM_QPEER_WAIT_MS 60000u /* then build it here after all */
#define TM_QPEER_RETRY_MS 500u  /* between looks at a builder not done yet */

struct tm_query_role;
struct tm_mpr;
struct tm_mpw;
struct tm_status;

enum tm_qpeer_way {
    TM_QPEER_BUILD,   /* this node builds it */
    TM_QPEER_COPIED,  /* the builder's file is now at path */
    TM_QPEER_PENDING, /* the builder has not built it yet: look again later */
};

/* For the index (coll, field, key) of a segment of `shard`, to be kept at
 * path: this node's to build, or copied from the node whose it is (whose
 * address goes to from), or pending there. With may_wait false, pending is
 * BUILD. */
enum tm_qpeer_way tm_qpeer_get(struct tm_query_role *q, int64_t coll, int64_t field, uint64_t key,
                               int shard, bool may_wait, const char *path, char *from,
                               size_t from_cap);

/* The "index_file" call. */
void tm_qpeer_call_file(struct tm_query_role *q, struct tm_mpr *body, struct tm_mpw *reply,
                        struct tm_status *st);

#endif
