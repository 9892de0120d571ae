/* Sealing and snapshots of a data shard (data_role.h).
 *
 * Snapshot byte layout (version 2): one msgpack map
 *   {"v": 2, "last": last timestamp, "dedupe": [key, ...] (oldest first),
 *    "tail": [entry bytes, ...] (applied after the last seal, in log order),
 *    "sink": bin (the sink's own state: its durable ranges),
 *    "dg": running digest, "dn": entries in it (data_role.h "digest"),
 *    "st": the timestamp of the seal the snapshot follows: every entry at or
 *          below it is in segments, every later one in "tail" or the log}
 * Version 1 (no digest) is still read: its digest starts again from zero.
 * padded to 8 bytes by raftgroup.c.
 *
 * Why it holds no rows: a snapshot is asked for right after a seal entry
 * applied, and it is taken only once the sink has written the shard's
 * sealed data as durable segments (the sink's snapshot answers TM_EAGAIN,
 * and libraft tries again after its next apply, while a range is being
 * written: segment/seal_writer.h). What the sealed segments do not hold is
 * the entries applied between the seal and the snapshot, kept here as they
 * are. libraft then truncates the log behind the snapshot, never behind
 * the seal it follows.
 *
 * Restore (on start, before the log after the snapshot is replayed): the
 * sink loads its segments, the tail entries are recorded again for readers
 * and re-applied to the sink, and the dedupe window and last timestamp come
 * back, so retries are still recognised across the truncation.
 */
#include "data_role_int.h"
#include "tm_log.h"
#include "tm_time.h"

#include <stdlib.h>
#include <string.h>

#define SNAP_VERSION 2

/* Rows an entry adds to the growing data: the count of its `rows` batch
 * ({"n": nrows, ...}, segment/batch.h) for an insert, upsert or merge, none
 * for a delete or a seal. An unreadable count adds none: the trigger is a
 * heuristic, and the sink's apply, which decodes the whole batch, has
 * accepted the entry already. */
static uint64_t entry_rows(const struct tm_entry_hdr *h, struct tm_span rows)
{
    if (h->kind != TM_ENTRY_INSERT && h->kind != TM_ENTRY_UPSERT && h->kind != TM_ENTRY_MERGE)
        return 0;
    if (!rows.p)
        return 0;
    struct tm_mpr r;
    tm_mpr_init(&r, rows.p, rows.len);
    int64_t n = tm_mpr_key_int(r, "n", 0);
    return n > 0 ? (uint64_t)n : 0;
}

/* Counts an applied entry towards the next seal. The counts are not in the
 * snapshot: they cover exactly the entries after the last seal, which a
 * start applies again (the snapshot's tail, then the log after it), so
 * they come back by counting those the same way. */
static void count_since_seal(struct shard *sh, const struct tm_entry_hdr *h, struct tm_span rows,
                             size_t len)
{
    sh->bytes_since_seal += len;
    sh->rows_since_seal += entry_rows(h, rows);
}

int tm_data_after_apply(struct shard *sh, const struct tm_entry_hdr *h, struct tm_span rows,
                        const void *buf, size_t len)
{
    const struct tm_shard_sink *sink = sh->role->sink;
    if (!sink)
        return 0;
    int rc = sink->apply(sink->arg, sh->id, buf, len);
    if (rc)
        return rc;
    if (h->kind != TM_ENTRY_SEAL && h->kind != TM_ENTRY_COMPACT) {
        count_since_seal(sh, h, rows, len);
        return 0;
    }
    pthread_mutex_lock(&sh->tmu);
    sh->seal_pos = sh->nlog; /* the seal itself is the last recorded entry */
    sh->prev_seal_ts = sh->seal_ts;
    sh->seal_ts = h->ts;
    pthread_mutex_unlock(&sh->tmu);
    sh->bytes_since_seal = sh->rows_since_seal = 0;
    /* While the log replays on start the group is not ours yet: the
     * snapshot is asked for once it is (tick_start_job). */
    if (sh->raft)
        tm_raft_group_snapshot_soon(sh->raft);
    else
        sh->snapshot_wanted = true;
    return 0;
}

void tm_data_maybe_seal(struct shard *sh)
{
    const struct tm_data_role *d = sh->role;
    if (!d->sink || sh->seal_queued)
        return;
    if (sh->bytes_since_seal < d->seal_bytes && sh->rows_since_seal < d->seal_rows)
        return;
    struct write_req *req = calloc(1, sizeof *req);
    if (!req)
        return; /* the next tick tries again */
    req->internal = true;
    req->hdr.version = TM_ENTRY_VERSION;
    req->hdr.kind = TM_ENTRY_SEAL;
    req->hdr.part_id = -1;
    sh->seal_queued = true;
    TM_INFO("data", "shard %d: sealing after %llu bytes, %llu rows", sh->id,
            (unsigned long long)sh->bytes_since_seal, (unsigned long long)sh->rows_since_seal);
    tm_data_enqueue(sh, req);
}

/* ---- snapshot ---- */

int tm_data_snapshot(void *arg, struct tm_buf *out)
{
    struct shard *sh = arg;
    const struct tm_shard_sink *sink = sh->role->sink;
    struct tm_buf sink_state;
    struct tm_mpw w;
    tm_buf_init(&sink_state);
    int rc = sink->snapshot(sink->arg, sh->id, &sink_state);
    if (rc) {
        tm_buf_free(&sink_state);
        return rc;
    }
    tm_mpw_init(&w);
    tm_mpw_map(&w, 8);
    tm_mpw_cstr(&w, "v"), tm_mpw_uint(&w, SNAP_VERSION);
    pthread_mutex_lock(&sh->tmu);
    uint64_t seal_ts = sh->seal_pos ? sh->log[sh->seal_pos - 1].ts : sh->base_ts;
    tm_mpw_cstr(&w, "st"), tm_mpw_uint(&w, seal_ts);
    tm_mpw_cstr(&w, "dg"), tm_mpw_uint(&w, sh->digest);
    tm_mpw_cstr(&w, "dn"), tm_mpw_uint(&w, sh->ndigest);
    tm_mpw_cstr(&w, "last"), tm_mpw_uint(&w, sh->last_ts);
    tm_mpw_cstr(&w, "dedupe"), tm_dedupe_encode(&sh->applied_ids, &w);
    tm_mpw_cstr(&w, "tail"), tm_mpw_array(&w, (uint32_t)(sh->nlog - sh->seal_pos));
    for (uint64_t i = sh->seal_pos; i < sh->nlog; i++)
        tm_mpw_bin(&w, sh->log[i].p, (uint32_t)sh->log[i].len);
    pthread_mutex_unlock(&sh->tmu);
    tm_mpw_cstr(&w, "sink"), tm_mpw_bin(&w, sink_state.data, (uint32_t)sink_state.len);
    tm_buf_free(&sink_state);
    rc = tm_mpw_error(&w) ? TM_ENOMEM : tm_buf_append(out, w.buf.data, w.buf.len);
    tm_mpw_free(&w);
    if (rc)
        return rc;
    TM_INFO("data", "shard %d: snapshot of %zu bytes behind the seal", sh->id, out->len);
    pthread_mutex_lock(&sh->tmu);
    sh->snap_seal_ts = seal_ts;
    pthread_cond_broadcast(&sh->tcond); /* a flush waits for it */
    pthread_mutex_unlock(&sh->tmu);
    return 0;
}

/* ---- restore ---- */

/* Forgets what the shard recorded (a restore replaces the whole state). */
static void reset_log(struct shard *sh)
{
    for (uint64_t i = 0; i < sh->nlog; i++)
        free(sh->log[i].p);
    sh->nlog = sh->seal_pos = 0;
    sh->last_ts = 0;
    /* The restored tail is counted again (restore_tail). */
    sh->bytes_since_seal = sh->rows_since_seal = 0;
}

static int restore_tail(struct shard *sh, struct tm_mpr *r)
{
    const struct tm_shard_sink *sink = sh->role->sink;
    uint32_t n, len;
    const uint8_t *p;
    if (tm_mpr_array(r, &n))
        return r->err;
    for (uint32_t i = 0; i < n; i++) {
        struct tm_entry_hdr h;
        struct tm_span rows, pks;
        int rc = tm_mpr_bin(r, &p, &len);
        if (!rc)
            rc = tm_entry_decode(p, len, &h, &rows, &pks);
        if (!rc)
            rc = tm_data_record_entry(sh, &h, p, len);
        if (!rc)
            rc = sink->apply(sink->arg, sh->id, p, len);
        if (rc)
            return rc;
        count_since_seal(sh, &h, rows, len);
    }
    return 0;
}

/* The unsigned value of key in map r, or 0. */
static uint64_t key_uint(struct tm_mpr r, const char *key)
{
    uint64_t v = 0;
    if (tm_mpr_find(&r, key) || tm_mpr_uint(&r, &v))
        return 0;
    return v;
}

/* The digest, and where the log in memory starts: everything up to the
 * seal the snapshot follows is in segments. */
static void restore_digest(struct shard *sh, struct tm_mpr r)
{
    /* Each key is looked up from the map's start: a lookup from where the
     * previous one stopped found no "dg", and every replica restarted from
     * a snapshot had a digest of its own. */
    uint64_t seal_ts = key_uint(r, "st"), dg = key_uint(r, "dg"), dn = key_uint(r, "dn");
    pthread_mutex_lock(&sh->tmu);
    sh->digest = dg;
    sh->ndigest = dn;
    /* Without "st" (version 1): no later than the first restored entry. */
    sh->base_ts = seal_ts ? seal_ts : sh->nlog ? sh->log[0].ts - 1 : sh->last_ts;
    sh->seal_ts = sh->prev_seal_ts = sh->base_ts;
    pthread_mutex_unlock(&sh->tmu);
}

int tm_data_restore(void *arg, const void *buf, size_t len)
{
    struct shard *sh = arg;
    const struct tm_shard_sink *sink = sh->role->sink;
    struct tm_mpr r;
    uint64_t v = 0, last = 0;
    const uint8_t *state = NULL;
    uint32_t state_len = 0;
    tm_mpr_init(&r, buf, len);
    struct tm_mpr m = r;
    int rc =
        tm_mpr_find(&m, "v") || tm_mpr_uint(&m, &v) || v < 1 || v > SNAP_VERSION ? TM_EVERSION : 0;
    if (!rc && ((m = r), tm_mpr_find(&m, "sink") || tm_mpr_bin(&m, &state, &state_len)))
        rc = TM_ECORRUPT;
    if (!rc)
        rc = sink->restore(sink->arg, sh->id, state, state_len);
    pthread_mutex_lock(&sh->tmu);
    reset_log(sh);
    tm_dedupe_free(&sh->applied_ids);
    if (!rc)
        rc = tm_dedupe_init(&sh->applied_ids);
    if (!rc && ((m = r), tm_mpr_find(&m, "dedupe") == 0))
        rc = tm_dedupe_decode(&sh->applied_ids, &m);
    pthread_mutex_unlock(&sh->tmu);
    if (!rc && ((m = r), tm_mpr_find(&m, "tail") == 0))
        rc = restore_tail(sh, &m);
    if (!rc && ((m = r), tm_mpr_find(&m, "last") == 0) && !tm_mpr_uint(&m, &last)) {
        pthread_mutex_lock(&sh->tmu);
        if (last > sh->last_ts)
            sh->last_ts = last;
        pthread_mutex_unlock(&sh->tmu);
    }
    if (!rc)
        restore_digest(sh, r);
    if (rc)
        TM_ERROR("data", "shard %d: snapshot cannot be restored: %s", sh->id, tm_strerror(rc));
    return rc;
}

/* ---- the "sealed" call ---- */

void tm_data_call_sealed(struct tm_data_role *d, struct tm_mpr *body, struct tm_mpw *reply,
                         struct tm_status *st)
{
    int64_t id = tm_mpr_key_int(*body, "shard", -1);
    if (id < 0 || id >= d->nshards) {
        tm_status_set(st, TM_MV_INTERNAL, "no WAL shard %lld", (long long)id);
        return;
    }
    struct shard *sh = &d->shards[id];
    int64_t reader = tm_mpr_key_int(*body, "reader", 0);
    pthread_mutex_lock(&sh->tmu);
    uint64_t upto = sh->base_ts;
    if (reader > 0) /* it tails from upto or later: hold the log there meanwhile */
        tm_data_hold(sh, (uint64_t)reader, upto, tm_mono_ms());
    pthread_mutex_unlock(&sh->tmu);
    tm_mpw_map(reply, 2);
    tm_mpw_cstr(reply, "upto"), tm_mpw_uint(reply, upto);
    tm_mpw_cstr(reply, "ranges");
    if (d->sink)
        d->sink->list(d->sink->arg, (int)id, reply);
    else
        tm_mpw_array(reply, 0);
}
