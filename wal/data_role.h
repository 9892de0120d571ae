/* The data role: the WAL shards. Each shard is one Raft group; writes from
 * many requests are batched into one append (one fsync: group commit) and
 * acknowledged after they are committed and applied. Applied entries are
 * kept, in log order, for query replicas to tail.
 *
 * Calls (type: request body -> reply body):
 *   "write"   {"shard", "kind", "coll", "part", "cid", "seq", "rows", "pks"}
 *                                   -> {"ts": uint}   the entry's timestamp
 *   "writes"  {"shard", "items": [write body, ...]} (at most
 *             TM_DATA_MAX_WRITES, every item for that shard)
 *                                   -> {"results": [{"ts"} or {"code", "message"}]}
 *             several writes in one call, each its own entry, queued
 *             together, each answered as "write" would (the proxy's group
 *             commit: node/write_queue.h)
 *   "tail"    {"shard", "after", "wait_ms", "reader"}
 *                                   -> {"entries": [bin], "safe": uint}
 *             the entries with a timestamp above `after`, waiting up to
 *             wait_ms (≤ 1000) for the first; `safe` is a timestamp below
 *             which the shard will never write again (the tsafe of a replica
 *             that applied them all). Timestamps rise along the log and are
 *             the same on every replica, so a reader can move to another
 *             replica and go on. A replica that no longer holds the entries
 *             just above `after` (they are in segments) answers an error.
 *             `reader` (optional, a nonzero id) names the caller: the
 *             replica keeps its log above what each reader heard from in
 *             the last TM_DATA_READER_TTL_MS reported (see "The log in
 *             memory" below).
 *   "applied" {"shard", "cid", "seq"} -> {"applied": 0|1}: a named write
 *             (Tidemark-Request-Id) was applied already (wal/dedupe.h)
 *   "last_ts" {"shard"}             -> {"ts": uint}   timestamp of the last
 *             applied entry: every acknowledged write is at or below it.
 *   "hold"    {"shard", "after", "reader"} -> {}: notes a reader's position
 *             as "tail" does, without reading (a query node loading sealed
 *             ranges before its first "tail"); the error of "tail" when the
 *             entries after `after` are freed already.
 *   "sealed"  {"shard", "reader"}   -> {"upto": ts, "ranges": the sink's list}:
 *             what a reader loads before tailing; everything at or below
 *             `upto` is in those ranges (after a restart this replica's log
 *             in memory starts behind its last seal), so the reader tails
 *             after max(upto, the ranges' seal timestamps). `reader`
 *             (optional) is noted at `upto`, as by "tail".
 *   "files"   {"shard", "dir", "prefix"} -> [[name, size], ...]: the files of
 *             the entries of dir (below files_dir) whose names start with
 *             prefix, one level down: a sealed range's segment files.
 *   "file"    {"shard", "dir", "name", "offset"} -> {"size": uint, "data": bin}
 *             up to 4 MiB of a file from offset (data_files.c).
 *   "digest"  {"shard"} -> {"leading": bool, "n": entries applied, "ts": last ts,
 *                          "digest": uint}
 *             a running hash of every entry applied (retries that were
 *             duplicates excepted): equal on replicas that applied the same
 *             log. Any replica answers it; the other calls only the leader
 *             (TM_MV_NOT_LEADER elsewhere).
 *
 * The log stream (cluster only, with a stream_url): a shard's leader also
 * pushes what it applies, at the end of each turn of its loop and when its
 * safe timestamp rises, as {"v": 1, "shard", "after", "entries", "safe"}
 * (tm_stream.h): the entries with timestamps above `after`, in log order,
 * and the safe timestamp as in a "tail" answer. A query node that applied
 * up to `after` or beyond applies the rest without a call; one that finds a
 * gap (its position is below `after`: a message was dropped, or it was not
 * connected) catches up with "tail". A turn whose entries exceed
 * TAIL_MAX_BYTES pushes none, with `after` at its last: a gap for every
 * reader, which "tail" fills in parts.
 *
 * The log in memory: each replica keeps the entries it applied for "tail"
 * and the pushes, and frees them a seal at a time. On each tick it frees
 * the entries up to the newest seal that is at or below both the seal
 * before its last one and every position a reader reported within
 * TM_DATA_READER_TTL_MS: a live reader never loses an entry it still needs,
 * and readers it has not heard from (those of an earlier leader, one just
 * starting) keep a whole seal interval of slack. A reader that was silent
 * for longer and is further behind than that gets the error above and
 * must be restarted (it then loads the sealed ranges first).
 *
 * Snapshots (with a sink): right after a seal the shard takes a Raft
 * snapshot holding its last timestamp, the dedupe window, the sink's
 * ranges and the raw entries applied since the seal (few: the snapshot
 * follows the seal at once), so no row data is copied and the log is
 * truncated behind the seal (docs/segments-design.md).
 *
 * Entries are stamped with timestamps from the coordinator's TSO at append
 * time, on the shard's loop thread, so timestamps rise along each log.
 */
#ifndef TM_DATA_ROLE_H
#define TM_DATA_ROLE_H

/* How long a reader's reported position holds the log (see above). */
#define TM_DATA_READER_TTL_MS 30000

#include <stddef.h>
#include <stdint.h>

#include "raftgroup.h"

struct tm_data_role;
struct tm_buf;
struct tm_mpw;

/* The sealer the shards feed (segment/sealer.h implements it; kept behind
 * this table so wal/ does not depend on segment/). Every call but `list`
 * runs on the shard's loop thread, in log order. A non-zero return from
 * apply or restore stops the shard: a sealed segment that could not be
 * written or read back must not be papered over. */
struct tm_shard_sink {
    void *arg;
    /* An applied entry (duplicates of retried writes are not passed). A
     * TM_ENTRY_SEAL entry seals the shard's growing data; the segments are
     * written in the background (segment/seal_writer.h). */
    int (*apply)(void *arg, int shard, const void *entry, size_t len);
    /* The sink's part of a shard snapshot (its durable ranges), and back.
     * snapshot answers TM_EAGAIN while busy. */
    int (*snapshot)(void *arg, int shard, struct tm_buf *out);
    int (*restore)(void *arg, int shard, const void *p, size_t len);
    /* The ranges a reader must load for the shard, as a msgpack value
     * (the "sealed" call); any thread. */
    void (*list)(void *arg, int shard, struct tm_mpw *w);
    /* A seal of the shard is not durable yet: its entries must stay in the
     * log (no snapshot, no trimming of the log in memory). Any thread. */
    bool (*busy)(void *arg, int shard);
    /* Waits until the shard's seals at or before ts are durable (a flush
     * answers then): 0, or TM_EIO when one failed to write. Not on the
     * shard's loop thread. */
    int (*durable)(void *arg, int shard, uint64_t ts);
};

/* A cluster's replica set of one shard (coord "placement"). */
#define TM_DATA_MAX_REPLICAS 5
#define TM_DATA_MAX_WRITES 256 /* items of one "writes" call */
struct tm_data_group {
    unsigned n;
    struct tm_raft_member members[TM_DATA_MAX_REPLICAS];
};

struct tm_data_role_config {
    const char *dir;       /* shard state lives in dir/shard-<n> */
    const char *url;       /* where to serve */
    const char *coord_url; /* the coordinator, for timestamps */
    int shards;            /* number of WAL shards (≥ 1) */
    /* Optional: with a sink, a shard seals (appends a TM_ENTRY_SEAL) once
     * seal_bytes of entries, or seal_rows rows, arrived since the last
     * seal, whichever comes first, and after each seal takes a Raft
     * snapshot so the log behind it is truncated. Rows are those of
     * inserts, upserts and merges (a delete adds none). 0 takes the
     * default: 64 MiB, TM_DATA_SEAL_ROWS_DEFAULT rows. */
    const struct tm_shard_sink *sink;
    uint64_t seal_bytes;
    uint64_t seal_rows;
    /* A cluster: shards[s] replicas each (NULL: every shard a group of one,
     * the standalone server). This node hosts the shards whose group names
     * self_id; elsewhere its calls answer TM_MV_NOT_LEADER. */
    const struct tm_data_group *groups;
    /* A cluster's log stream: where this node's shard leaders push applied
     * entries; NULL: none (the query roles only pull with "tail"). */
    const char *stream_url;
    /* A cluster's direct calls ("tcp://host:port"): the same calls as url,
     * framed over plain TCP (tm_rpc_server_listen_direct); the proxies send
     * their "writes" here. NULL: none. */
    const char *writes_url;
    /* The segments root, whose files "files"/"file" serve; NULL: none. */
    const char *files_dir;
    uint64_t self_id;
    unsigned election_ms;
};

/* The row limit of a growing segment when none is configured: the order of
 * magnitude of a Milvus segment (1 GiB of 128-dim float rows is about two
 * million), and a bound on the per-row memory of narrow rows, of which 64
 * MiB of entries would hold many millions (docs/decisions.md). */
#define TM_DATA_SEAL_ROWS_DEFAULT 1000000u

int tm_data_role_start(struct tm_data_role **out, const struct tm_data_role_config *cfg);
void tm_data_role_stop(struct tm_data_role *d);

#endif
