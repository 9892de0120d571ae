/* The query role's vector indexes (docs/architecture.md, "Indexes"): which
 * index definitions of the catalog it builds, the background builder that
 * builds them per sealed segment, and their files.
 *
 * Definitions: each collection's indexes come from the coordinator's
 * catalog ("cat.coll"), read when the collection is first seen (by the
 * builder, which refreshes every collection marked stale), when the proxy
 * says an index was created or dropped ("index_sync"), and before each
 * "index_progress". Only those seg_index.h builds are kept. A definition
 * that disappears detaches its indexes from every segment (under the
 * store's write lock, so no search is using them) and cancels its build.
 *
 * The builder: one thread, one build at a time, with one build thread
 * (tm_ivf_build threads = 1) so that the other core keeps serving queries.
 * Work is level-triggered: every round it looks for a sealed segment of at
 * least TM_SEG_INDEX_MIN_ROWS rows lacking the index of a live definition,
 * takes the segment's vector column pointer, row count and content key under
 * the store's read lock, and builds without any lock. A sealed segment's
 * vector column never grows or moves again, and the store frees it only in
 * tm_store_clear (a dropped collection) or when the store is freed (the
 * role stops after joining the builder); a drop cancels the running build
 * and takes the column's buffer out of the store (tm_qidx_forget), so the
 * builder frees it once the build it feeds is over. The finished index is
 * attached under the write lock if its definition and collection are
 * still there, and discarded otherwise.
 *
 * Files (docs/formats.md): <dir>/c<collection>/f<field>-<key>.ivf, key the
 * segment's content key (seg_index.h) in 16 hex digits, written after a
 * build (tm_ivf_write: temporary name, fsync, rename, directory fsync).
 * Before building, the builder reads the file of that key if there is one,
 * or in a cluster copies it from the query node whose it is to build
 * (query_peer.h: a job whose builder is not done yet is put off for
 * TM_QPEER_RETRY_MS while the builder goes on with other segments);
 * a file that fails its checks (TM_ECORRUPT) is logged, removed and the
 * index rebuilt: an index is derived data. Files no segment uses are swept
 * once the builder first runs out of work after start (so every loaded
 * segment had its chance to claim its file), and after an index or a
 * collection is dropped.
 *
 * Locks: a store's lock before the builder's mutex, never the reverse.
 */
#ifndef TM_QUERY_INDEX_H
#define TM_QUERY_INDEX_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "schema.h"
#include "seg_index.h"

struct tm_query_role;
struct qcoll;
struct tm_mpr;
struct tm_mpw;
struct tm_status;

/* An index definition the query role builds, kept per collection. */
struct qidef {
    int64_t index_id, field_id;
    struct tm_seg_index_plan plan;
    bool failed; /* cannot be built: reason says why */
    char reason[256];
    uint64_t retry_ms; /* after a transient failure: not before this wall time */
};

/* Creates the builder state (dir: where index files live, NULL for none);
 * the thread starts with tm_qidx_run, once the sealed segments are loaded. */
int tm_qidx_init(struct tm_query_role *q, const char *dir);
int tm_qidx_run(struct tm_query_role *q);
/* Stops and joins the builder (a running build is finished first, then
 * discarded), frees the state. Before the stores are freed. */
void tm_qidx_stop(struct tm_query_role *q);
/* New sealed segments or definitions: look for work now. */
void tm_qidx_wake(struct tm_query_role *q);
/* Reads c's definitions from the catalog and applies them. 0 or an RPC
 * error (then c stays marked stale and the builder retries). */
int tm_qidx_refresh(struct tm_query_role *q, struct qcoll *c);
/* c was dropped: cancels its build, taking the vector buffer the build
 * reads out of the store, and forgets its definitions. Caller holds
 * c->store's write lock and clears the store next. */
void tm_qidx_forget(struct tm_query_role *q, struct qcoll *c);
/* The path of the index file (coll, field, key) in path; false when the
 * role keeps no index files. */
bool tm_qidx_path(struct tm_query_role *q, int64_t coll, int64_t field, uint64_t key, char *path,
                  size_t cap);
/* Frees a collection's definitions (role stop). */
void tm_qidx_coll_free(struct qcoll *c);

/* Calls (query_role.h):
 *   "index_sync"     {"coll": id} -> nil   re-read c's definitions
 *   "index_progress" {"coll": id, "field": id}
 *        -> {"state": "Finished"|"InProgress"|"Failed", "total": rows,
 *            "indexed": rows, "reason": str} */
void tm_qidx_call_sync(struct tm_query_role *q, struct tm_mpr *body, struct tm_mpw *reply,
                       struct tm_status *st);
void tm_qidx_call_progress(struct tm_query_role *q, struct tm_mpr *body, struct tm_mpw *reply,
                           struct tm_status *st);

#endif
