/* Freeing the log in memory behind its readers (data_role.h, "The log in
 * memory"). Without it a replica kept every entry it applied since it
 * started: memory grew with every write, upserts of the same keys included. */
#include "data_role_int.h"

#include <stdlib.h>
#include <string.h>

static int reader_slot(struct shard *sh, uint64_t reader)
{
    int oldest = 0;
    for (int i = 0; i < sh->nreaders; i++) {
        if (sh->readers[i].id == reader)
            return i;
        if (sh->readers[i].seen_ms < sh->readers[oldest].seen_ms)
            oldest = i;
    }
    return sh->nreaders < MAX_READERS ? sh->nreaders++ : oldest; /* full: the longest silent goes */
}

static void note_reader(struct shard *sh, uint64_t reader, uint64_t after, uint64_t now_ms)
{
    sh->readers[reader_slot(sh, reader)] = (struct tail_reader){reader, after, now_ms};
}

bool tm_data_hold(struct shard *sh, uint64_t reader, uint64_t after, uint64_t now_ms)
{
    if (after < sh->base_ts)
        return false;
    if (reader)
        note_reader(sh, reader, after, now_ms);
    return true;
}

/* How far the log may be freed: the seal before the last, and no further
 * than any reader heard from lately. Under tmu. */
static uint64_t trim_limit(const struct shard *sh, uint64_t now_ms)
{
    uint64_t limit = sh->prev_seal_ts;
    for (int i = 0; i < sh->nreaders; i++) {
        const struct tail_reader *r = &sh->readers[i];
        /* seen_ms may be after now_ms: noted between the caller's clock
         * reading and its taking tmu */
        bool fresh = r->seen_ms >= now_ms || now_ms - r->seen_ms <= TM_DATA_READER_TTL_MS;
        if (fresh && r->after < limit)
            limit = r->after;
    }
    return limit;
}

/* The entries to free: up to and including the newest seal at or below
 * limit (everything up to a seal is in segments), or 0. Under tmu. */
static uint64_t trim_count(const struct shard *sh, uint64_t limit)
{
    if (limit <= sh->base_ts)
        return 0;
    for (uint64_t i = tm_data_first_after(sh, limit); i > 0; i--)
        if (sh->log[i - 1].seal)
            return i;
    return 0;
}

void tm_data_trim_log(struct shard *sh, uint64_t now_ms)
{
    const struct tm_shard_sink *sink = sh->role ? sh->role->sink : NULL;
    if (sink && sink->busy && sink->busy(sink->arg, sh->id))
        return; /* a seal being written still needs its entries here */
    pthread_mutex_lock(&sh->tmu);
    uint64_t n = trim_count(sh, trim_limit(sh, now_ms));
    uint8_t **gone = n ? malloc(n * sizeof *gone) : NULL;
    if (!gone) {
        pthread_mutex_unlock(&sh->tmu);
        return;
    }
    for (uint64_t i = 0; i < n; i++)
        gone[i] = sh->log[i].p;
    sh->base_ts = sh->log[n - 1].ts;
    memmove(sh->log, sh->log + n, (size_t)(sh->nlog - n) * sizeof *sh->log);
    sh->nlog -= n;
    sh->seal_pos -= n; /* the last seal is at or after the one freed */
    pthread_mutex_unlock(&sh->tmu);
    for (uint64_t i = 0; i < n; i++) /* outside the lock: pushes and tails go on */
        free(gone[i]);
    free(gone);
}
