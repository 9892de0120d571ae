/* The sealer: the data role's view of each WAL shard as stores, and the
 * seals that turn their growing data into durable binlog segments
 * (docs/segments-design.md). It implements the data role's
 * struct tm_shard_sink (wal/data_role.h).
 *
 * Each shard has its own stores (one per collection it carries rows of),
 * built by applying the shard's entries in log order, merges resolved as
 * the query role resolves them. A TM_ENTRY_SEAL entry at timestamp T seals
 * every store of the shard and queues each collection's range for the
 * writer thread (seal_writer.h), which writes it as segments under
 * <dir>/shard-<n>/c<collection>/ (seal_io.h, range named by T) and then
 * lists it as durable. The shard's snapshot, which lets the log be
 * truncated, is refused (TM_EAGAIN) while a range of the shard is queued.
 *
 * Threading: apply, snapshot and restore run on the shard's loop thread
 * (one thread per shard, so a shard's stores need no lock); list, busy and
 * durable may run on any thread and take the shard's mutex or the
 * writer's. A compaction waits for the shard's queued ranges; a restore
 * drops them (the snapshot it installs replaces them).
 */
#ifndef TM_SEALER_H
#define TM_SEALER_H

#include "data_role.h"

struct tm_sealer;

struct tm_sealer_config {
    const char *dir;       /* the segments root, created if missing */
    const char *coord_url; /* schemas come from the catalog */
    int shards;
    /* A cluster's: each shard's data role replicas (comma-separated URLs;
     * the leader answers). A replica that fell behind the leader's snapshot
     * installs it, and copies the ranges it names from the leader
     * (seal_fetch.h). NULL: none (the standalone server). */
    const char *const *shard_data_urls;
};

/* 0 or TM_ENOMEM / an RPC error. */
int tm_sealer_open(struct tm_sealer **out, const struct tm_sealer_config *cfg);
/* After the data role stopped. */
void tm_sealer_close(struct tm_sealer *s);
/* The sink to give the data role; valid until tm_sealer_close. */
const struct tm_shard_sink *tm_sealer_sink(struct tm_sealer *s);

#endif
