/* The sealer's background writer (sealer.h): seal ranges are compressed,
 * written and fsynced on a thread of their own, in the order they were
 * sealed, so that a shard's Raft loop does not stop for a seal (written on
 * the loop, 64 MiB of 768-d rows held every write for about 300 ms).
 *
 * A range is durable once its job is done. Until then the shard's log still
 * holds every entry the range has, so nothing is lost if the node stops:
 * what may drop log entries waits (sealer.c refuses the shard's snapshot
 * while it is busy, the data role does not trim its log in memory), and a
 * restart replays the seal. A flush answers once its range is durable
 * (tm_seal_writer_wait). A write that fails (a full disk) is tried again
 * every second.
 */
#ifndef TM_SEAL_WRITER_H
#define TM_SEAL_WRITER_H

#include "seal_io.h"

#include <stdbool.h>
#include <stdint.h>

struct tm_seal_job {
    struct tm_seal_job *next;
    int shard;
    int64_t coll;
    char dir[4096];           /* the collection's directory of the shard */
    struct tm_seg_meta range; /* range.log_index: the seal entry's timestamp */
    struct tm_seal_copy copy; /* owned */
};

/* Runs on the writer thread once job's files are durable, before the job
 * stops counting as busy. */
typedef void (*tm_seal_done_fn)(void *arg, const struct tm_seal_job *job);

struct tm_seal_writer;

/* 0 or TM_ENOMEM. */
int tm_seal_writer_start(struct tm_seal_writer **out, tm_seal_done_fn done, void *arg);
/* Queues job (malloc'ed; the writer frees it and its copy). */
void tm_seal_writer_push(struct tm_seal_writer *w, struct tm_seal_job *job);
/* Whether a range of shard is queued or being written. Any thread. */
bool tm_seal_writer_busy(struct tm_seal_writer *w, int shard);
/* Waits until every range of shard sealed at or before upto is durable: 0,
 * or TM_EIO as soon as one of them failed to write (it is still retried). */
int tm_seal_writer_wait(struct tm_seal_writer *w, int shard, uint64_t upto);
/* Drops shard's ranges not yet durable, after the write in progress (a
 * snapshot being installed replaces them; their stores are about to go). */
void tm_seal_writer_cancel(struct tm_seal_writer *w, int shard);
/* Writes what is queued (giving up on a range that fails: the log replays
 * it), then ends the thread and frees w. NULL is fine. */
void tm_seal_writer_stop(struct tm_seal_writer *w);

#endif
