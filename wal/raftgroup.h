/* A Raft group on its own libuv loop thread: canonical/raft 0.15 with the
 * raft_uv disk backend. Used by the coordinator (catalog + TSO) and by each
 * WAL shard of the data role.
 *
 * A group of one (the standalone server) needs no network. A group of
 * several members talks over raft_uv_tcp wrapped so that every connection
 * sets TCP_NODELAY (the stock transport stalls ~40 ms under pipelined
 * appends: Nagle against delayed ACKs, wal-anchor.md §4.1). Starting one
 * makes the process ignore SIGPIPE: libuv writes without MSG_NOSIGNAL.
 *
 * Threading: raft and every callback given here run on the group's loop
 * thread. Other threads reach it only through tm_raft_group_post().
 *
 * Caveats (wal-anchor.md §4):
 * - libraft 0.15 appends no entry when a node becomes leader, so entries of
 *   an earlier term are not applied until something is committed in the new
 *   one. Start therefore runs a barrier and returns only after it applied:
 *   when tm_raft_group_start returns, the whole log has been replayed.
 * - Every entry size must be a multiple of 8 bytes; tm_raft_group_append
 *   refuses others with TM_EINVAL instead of writing an unreadable log.
 * - A failed append (status other than 0 in `done`) has an unknown outcome:
 *   the entry may still be committed later.
 * - With n > 1 buffers, libraft 0.15 calls `done` once the FIRST entry is
 *   applied, not the last (found the hard way: a Strong read missed writes
 *   acknowledged that way). Whoever needs "applied" for each entry learns it
 *   from its own apply callback (the data role does: wal/data_role.c).
 */
#ifndef TM_RAFTGROUP_H
#define TM_RAFTGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tm_buf.h"

struct uv_loop_s;
struct tm_raft_group;

struct tm_raft_member {
    uint64_t id;
    char address[64]; /* host:port of its Raft listener */
};

struct tm_raft_group_config {
    const char *dir;     /* created if missing */
    uint64_t id;         /* this member's Raft id */
    const char *address; /* this member's Raft address */
    /* Applies one committed command entry, in log order. A non-zero return
     * is a bug or corruption: raft stops applying. */
    int (*apply)(void *arg, const void *buf, size_t len);
    /* Optional: serialise the whole state (snapshot) and load it back. */
    int (*snapshot)(void *arg, struct tm_buf *out);
    int (*restore)(void *arg, const void *buf, size_t len);
    void *arg;
    unsigned snapshot_threshold; /* entries between snapshots; 0 = never */
    unsigned snapshot_trailing;  /* entries kept behind a snapshot */
    /* Every member of a group of several (this one included), the same list
     * on each: it bootstraps a fresh group. NULL: a group of one. */
    const struct tm_raft_member *members;
    unsigned nmembers;
    unsigned election_ms; /* 0: 1000 (≥ 1 s on this hardware, wal-anchor.md §5) */
    /* Optional, loop thread: leading = 1 once this member leads AND has
     * applied every entry of earlier terms (a barrier ran), 0 when it stops
     * leading. Appends succeed only in between. */
    void (*on_leader)(void *arg, int leading);
};

/* Opens or bootstraps the group and starts it. A group of one waits until it
 * leads and has replayed its log; a group of several returns once started
 * (entries apply as this member learns they are committed).
 * 0 or a negative error (logged). */
int tm_raft_group_start(struct tm_raft_group **out, const struct tm_raft_group_config *cfg);

/* Stops raft and the loop thread and frees the group. Posted jobs that have
 * not run are run with `stopping` set so their owners can fail them. */
void tm_raft_group_stop(struct tm_raft_group *g);

/* A unit of work for the loop thread, embedded in the caller's struct. */
struct tm_raft_job {
    void (*fn)(struct tm_raft_job *job, int stopping);
    struct tm_raft_job *next;
};

/* Queues job to run on the loop thread. Thread-safe; never fails: after stop
 * began the job runs with stopping = 1 on the calling thread. */
void tm_raft_group_post(struct tm_raft_group *g, struct tm_raft_job *job);

/* Loop thread only. Appends n entries as one batch (one disk write) and calls
 * done(arg, rc) on the loop thread once all are committed and applied (rc 0)
 * or failed. Ownership of each bufs[i] data (from tm_raft_alloc) passes to
 * raft when this returns 0; on failure the caller keeps it and done never runs. */
typedef void (*tm_raft_done_fn)(void *arg, int rc);
struct tm_raft_buf {
    void *base;
    size_t len;
};
int tm_raft_group_append(struct tm_raft_group *g, const struct tm_raft_buf *bufs, unsigned n,
                         tm_raft_done_fn done, void *arg);
void *tm_raft_alloc(size_t n);
void tm_raft_free(void *p);

/* Loop thread only. Makes raft take a snapshot after the next apply (then
 * the configured threshold holds again): libraft 0.15 has no call that
 * snapshots now, only a threshold of entries since the last snapshot. */
void tm_raft_group_snapshot_soon(struct tm_raft_group *g);
/* Loop thread only. Whether that snapshot is still to be taken: libraft
 * checks the threshold only as it applies an entry, and skips the check
 * while another snapshot is being written, so without a later entry it
 * would wait for the next write. */
bool tm_raft_group_snapshot_due(const struct tm_raft_group *g);

/* Loop thread only. Appends a barrier entry and calls done(arg, rc) on the
 * loop thread once it is committed (rc 0: a majority still followed this
 * member when it was, and every earlier entry is applied) or failed. At
 * most one barrier per group at a time: TM_EAGAIN while one runs. libraft
 * 0.15 may call a barrier back twice; the second call is dropped here. */
int tm_raft_group_barrier(struct tm_raft_group *g, tm_raft_done_fn done, void *arg);

/* Any thread: whether this member leads (with its log replayed), and the id
 * of the member it believes leads (0: unknown). */
int tm_raft_group_leading(struct tm_raft_group *g, uint64_t *leader_id);

/* The group's loop, for timers created on the loop thread. */
struct uv_loop_s *tm_raft_group_loop(struct tm_raft_group *g);

#endif
