/* The sealer (sealer.h).
 *
 * Sink state in a shard snapshot (version 1): a msgpack map
 *   {"v": 1, "next_seg": next segment id, "ranges": [[collection id, seal ts], ...]}
 * listing, oldest first, the ranges written and made durable before the
 * snapshot. Ranges of collections dropped since are left out when restored
 * (their files are garbage a later clean-up removes).
 */
#include "sealer.h"
#include "seal_fetch.h"
#include "seal_io.h"
#include "seal_writer.h"
#include "store.h"
#include "tm_log.h"
#include "tm_rpc.h"

#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SINK_VERSION 1
/* A collection with this many ranges in a shard is compacted at its next
 * seal (every replica decides the same from its log). */
#define AUTO_COMPACT_RANGES 8
/* Compaction keeps what reads at or after (seal ts - 5 s) see: the Bounded
 * staleness, so no read a client can ask for loses a version. */
#define RETENTION_TS (5000ULL << 18)

struct scoll {
    int64_t id;
    struct tm_store *store; /* NULL: the collection was dropped */
};

struct srange {
    int64_t coll;
    uint64_t index; /* the seal entry's timestamp */
};

struct sshard {
    struct scoll *colls;
    size_t ncolls;
    pthread_mutex_t mu; /* ranges, for list and the writer */
    struct srange *ranges;
    size_t nranges, cap_ranges;
    /* Ranges with the writer, oldest first: ranges has room for them. */
    struct srange *waiting;
    size_t nwaiting, cap_waiting;
    int64_t next_seg;
    /* Ranges replaced by compaction: their files go once a snapshot that no
     * longer lists them is durable (pending until the next snapshot starts,
     * then previous until the one after: libraft starts a snapshot only
     * when the one before has been written). */
    struct srange *pending, *previous;
    size_t npending, nprevious;
};

struct tm_sealer {
    char dir[3072];
    struct tm_rpc_client *coord;
    struct sshard *shards;
    int nshards;
    struct tm_rpc_client **leaders; /* per shard; NULL entries standalone */
    struct tm_seal_writer *writer;
    struct tm_shard_sink sink;
};

static void coll_dir(const struct tm_sealer *s, int shard, int64_t coll, char *out, size_t cap)
{
    snprintf(out, cap, "%s/shard-%d/c%" PRId64, s->dir, shard, coll);
}

/* The shard's store of collection id, made on first sight; *out NULL for a
 * dropped collection. */
static int coll_get(struct tm_sealer *s, struct sshard *sh, int64_t id, struct tm_store **out)
{
    for (size_t i = 0; i < sh->ncolls; i++) {
        if (sh->colls[i].id == id) {
            *out = sh->colls[i].store;
            return 0;
        }
    }
    struct tm_store *store;
    int rc = tm_store_from_catalog(s->coord, id, &store);
    if (rc)
        return rc;
    struct scoll *grown = realloc(sh->colls, (sh->ncolls + 1) * sizeof *grown);
    if (!grown) {
        tm_store_free(store);
        return TM_ENOMEM;
    }
    sh->colls = grown;
    sh->colls[sh->ncolls++] = (struct scoll){id, store};
    *out = store;
    return 0;
}

/* Room in ranges for the queued ones and `more`. Under mu. */
static int ranges_room(struct sshard *sh, size_t more)
{
    size_t need = sh->nranges + sh->nwaiting + more;
    if (need <= sh->cap_ranges)
        return 0;
    struct srange *grown = realloc(sh->ranges, need * 2 * sizeof *grown);
    if (!grown)
        return TM_ENOMEM;
    sh->ranges = grown;
    sh->cap_ranges = need * 2;
    return 0;
}

static int add_range(struct sshard *sh, int64_t coll, uint64_t index)
{
    pthread_mutex_lock(&sh->mu);
    int rc = ranges_room(sh, 1);
    if (!rc)
        sh->ranges[sh->nranges++] = (struct srange){coll, index};
    pthread_mutex_unlock(&sh->mu);
    return rc;
}

/* A range for the writer: waiting until written, then listed
 * (range_written), which cannot fail for want of memory. */
static int queue_range(struct sshard *sh, int64_t coll, uint64_t index)
{
    pthread_mutex_lock(&sh->mu);
    int rc = ranges_room(sh, 1);
    if (!rc && sh->nwaiting == sh->cap_waiting) {
        size_t cap = sh->cap_waiting * 2 + 4;
        struct srange *grown = realloc(sh->waiting, cap * sizeof *grown);
        rc = grown ? 0 : TM_ENOMEM;
        if (grown)
            sh->waiting = grown, sh->cap_waiting = cap;
    }
    if (!rc)
        sh->waiting[sh->nwaiting++] = (struct srange){coll, index};
    pthread_mutex_unlock(&sh->mu);
    return rc;
}

/* Queues one collection's seal range for the writer; nothing when it holds
 * nothing. Its segment ids are taken now, in log order, as every replica
 * takes them. */
static int seal_coll(struct tm_sealer *s, int shard, struct tm_store *store, uint64_t ts)
{
    struct sshard *sh = &s->shards[shard];
    struct tm_seal seal;
    char err[TM_BINLOG_ERRMSG] = "";
    int rc = tm_store_seal(store, &seal);
    if (rc || (seal.nparts == 0 && seal.ndels == 0)) {
        tm_seal_free(&seal);
        return rc;
    }
    struct tm_seal_job *job = calloc(1, sizeof *job);
    rc = job ? queue_range(sh, store->coll_id, ts) : TM_ENOMEM;
    if (!rc && (rc = tm_seal_copy(&seal, tm_schema_pk(store->schema)->type, &job->copy, err))) {
        pthread_mutex_lock(&sh->mu);
        sh->nwaiting--; /* the writer never saw it */
        pthread_mutex_unlock(&sh->mu);
    }
    tm_seal_free(&seal);
    if (rc) {
        TM_ERROR("sealer", "shard %d: %s", shard, err[0] ? err : tm_strerror(rc));
        if (job)
            tm_seal_copy_free(&job->copy);
        free(job);
        return rc;
    }
    job->shard = shard;
    job->coll = store->coll_id;
    coll_dir(s, shard, store->coll_id, job->dir, sizeof job->dir);
    job->range = (struct tm_seg_meta){.seg_id = sh->next_seg,
                                      .coll_id = store->coll_id,
                                      .shard = (uint32_t)shard,
                                      .pk_field_id = store->pk_field_id,
                                      .log_index = ts,
                                      .last_ts = ts};
    sh->next_seg += tm_seal_copy_nsegs(&job->copy);
    tm_seal_writer_push(s->writer, job);
    return 0;
}

/* The writer's: job's range is durable, so snapshots may list it. */
static void range_written(void *arg, const struct tm_seal_job *job)
{
    struct sshard *sh = &((struct tm_sealer *)arg)->shards[job->shard];
    pthread_mutex_lock(&sh->mu);
    /* The oldest waiting: the writer keeps a shard's ranges in order. */
    memmove(sh->waiting, sh->waiting + 1, --sh->nwaiting * sizeof *sh->waiting);
    sh->ranges[sh->nranges++] = (struct srange){job->coll, job->range.log_index};
    pthread_mutex_unlock(&sh->mu);
}

/* coll's ranges, written or not: every replica counts the same at the
 * same entry, however far its writer got. */
static size_t ranges_of(struct sshard *sh, int64_t coll)
{
    size_t n = 0;
    pthread_mutex_lock(&sh->mu);
    for (size_t i = 0; i < sh->nranges; i++)
        n += sh->ranges[i].coll == coll;
    for (size_t i = 0; i < sh->nwaiting; i++)
        n += sh->waiting[i].coll == coll;
    pthread_mutex_unlock(&sh->mu);
    return n;
}

/* Moves coll's ranges from the list to the garbage awaiting a snapshot. */
static int retire_ranges(struct sshard *sh, int64_t coll)
{
    size_t kept = 0;
    int rc = 0;
    pthread_mutex_lock(&sh->mu);
    struct srange *grown = realloc(sh->pending, (sh->npending + sh->nranges + 1) * sizeof *grown);
    if (!grown)
        rc = TM_ENOMEM;
    else
        sh->pending = grown;
    for (size_t i = 0; i < sh->nranges && !rc; i++) {
        if (sh->ranges[i].coll == coll)
            sh->pending[sh->npending++] = sh->ranges[i];
        else
            sh->ranges[kept++] = sh->ranges[i];
    }
    if (!rc)
        sh->nranges = kept;
    pthread_mutex_unlock(&sh->mu);
    return rc;
}

/* A store holding only what the compacted range holds, as a restart would
 * load it; without it the old store kept every version ever written. A new
 * store, not the old one cleared: the range's delete records borrow their
 * keys from the old store's pk index. */
static struct tm_store *reloaded(const struct tm_store *old, const struct tm_seal *range)
{
    struct tm_store *fresh = tm_store_new(old->coll_id);
    int rc = fresh ? tm_store_set_schema(fresh, old->schema) : TM_ENOMEM;
    if (!rc)
        rc = tm_store_load_sealed(fresh, range);
    if (!rc)
        return fresh;
    tm_store_free(fresh);
    TM_WARN("sealer", "collection %lld keeps its old versions in memory: %s",
            (long long)old->coll_id, tm_strerror(rc));
    return NULL;
}

/* Seals *storep and replaces all its ranges with one compacted range at ts,
 * and the store with one that holds only that range. */
static int compact_coll(struct tm_sealer *s, int shard, struct tm_store **storep, uint64_t ts)
{
    struct sshard *sh = &s->shards[shard];
    struct tm_store *store = *storep, *fresh = NULL;
    struct tm_seal seal;
    struct tm_seal_owned o;
    char dir[4096], err[TM_BINLOG_ERRMSG] = "";
    /* The ranges it replaces are durable first, and the store it frees is
     * no queued write's. Compactions are rare: the loop waits. */
    int rc = tm_seal_writer_wait(s->writer, shard, UINT64_MAX);
    if (rc) {
        TM_ERROR("sealer", "shard %d: no compaction while a range fails to write", shard);
        return rc;
    }
    rc = tm_store_seal(store, &seal); /* growing rows are in the compaction */
    tm_seal_free(&seal);
    if (!rc)
        rc = tm_store_compact(store, ts > RETENTION_TS ? ts - RETENTION_TS : 0, &o);
    struct tm_seg_meta range = {.seg_id = sh->next_seg,
                                .coll_id = store->coll_id,
                                .shard = (uint32_t)shard,
                                .pk_field_id = store->pk_field_id,
                                .log_index = ts,
                                .last_ts = ts};
    uint32_t nsegs = 0;
    coll_dir(s, shard, store->coll_id, dir, sizeof dir);
    if (!rc && (o.seal.nparts || o.seal.ndels))
        rc = tm_seal_write(dir, &range, &o.seal, tm_schema_pk(store->schema)->type, NULL, &nsegs,
                           err);
    if (!rc)
        fresh = reloaded(store, &o.seal);
    tm_seal_owned_free(&o);
    if (!rc)
        rc = retire_ranges(sh, store->coll_id);
    if (!rc && nsegs)
        rc = add_range(sh, store->coll_id, ts);
    sh->next_seg += nsegs;
    if (rc)
        TM_ERROR("sealer", "shard %d: compaction: %s", shard, err[0] ? err : tm_strerror(rc));
    else
        TM_INFO("sealer", "shard %d: collection %lld compacted into %u segments", shard,
                (long long)store->coll_id, nsegs);
    if (fresh && !rc) {
        tm_store_free(store);
        *storep = fresh;
    } else {
        tm_store_free(fresh);
    }
    return rc;
}

/* Seals every store of the shard; compacts `compact` (or any collection with
 * AUTO_COMPACT_RANGES ranges) instead of only sealing it. */
static int seal_all(struct tm_sealer *s, int shard, uint64_t ts, int64_t compact)
{
    struct sshard *sh = &s->shards[shard];
    for (size_t i = 0; i < sh->ncolls; i++) {
        struct tm_store *store = sh->colls[i].store;
        if (!store)
            continue;
        bool squash =
            store->coll_id == compact || ranges_of(sh, store->coll_id) >= AUTO_COMPACT_RANGES;
        int rc = squash ? compact_coll(s, shard, &sh->colls[i].store, ts)
                        : seal_coll(s, shard, store, ts);
        if (rc)
            return rc;
    }
    return 0;
}

static int sink_apply(void *arg, int shard, const void *entry, size_t len)
{
    struct tm_sealer *s = arg;
    struct tm_entry_hdr h;
    struct tm_span rows, pks;
    struct tm_store *store;
    int rc = tm_entry_decode(entry, len, &h, &rows, &pks);
    if (rc)
        return rc;
    if (h.kind == TM_ENTRY_SEAL || h.kind == TM_ENTRY_COMPACT)
        return seal_all(s, shard, h.ts, h.kind == TM_ENTRY_COMPACT ? h.coll_id : -1);
    rc = coll_get(s, &s->shards[shard], h.coll_id, &store);
    return rc || !store ? rc : tm_store_apply_entry(store, &h, rows, pks);
}

/* ---- snapshot, restore, list ---- */

/* The ranges retired before the previous snapshot are listed by no durable
 * snapshot any more: their files can go. */
static void collect_garbage(struct tm_sealer *s, int shard)
{
    struct sshard *sh = &s->shards[shard];
    char dir[4096], err[TM_BINLOG_ERRMSG] = "";
    for (size_t i = 0; i < sh->nprevious; i++) {
        coll_dir(s, shard, sh->previous[i].coll, dir, sizeof dir);
        if (tm_seal_remove(dir, sh->previous[i].index, err))
            TM_WARN("sealer", "shard %d: cannot remove a compacted range: %s", shard, err);
    }
    free(sh->previous);
    pthread_mutex_lock(&sh->mu);
    sh->previous = sh->pending;
    sh->nprevious = sh->npending;
    sh->pending = NULL;
    sh->npending = 0;
    pthread_mutex_unlock(&sh->mu);
}

static int sink_snapshot(void *arg, int shard, struct tm_buf *out)
{
    struct tm_sealer *s = arg;
    struct sshard *sh = &s->shards[shard];
    struct tm_mpw w;
    if (tm_seal_writer_busy(s->writer, shard))
        return TM_EAGAIN; /* its ranges are not all durable: libraft tries again later */
    collect_garbage(s, shard);
    tm_mpw_init(&w);
    tm_mpw_map(&w, 3);
    tm_mpw_cstr(&w, "v"), tm_mpw_uint(&w, SINK_VERSION);
    tm_mpw_cstr(&w, "next_seg"), tm_mpw_int(&w, sh->next_seg);
    pthread_mutex_lock(&sh->mu);
    tm_mpw_cstr(&w, "ranges"), tm_mpw_array(&w, (uint32_t)sh->nranges);
    for (size_t i = 0; i < sh->nranges; i++) {
        tm_mpw_array(&w, 2);
        tm_mpw_int(&w, sh->ranges[i].coll);
        tm_mpw_uint(&w, sh->ranges[i].index);
    }
    pthread_mutex_unlock(&sh->mu);
    int rc = tm_mpw_error(&w) ? TM_ENOMEM : tm_buf_append(out, w.buf.data, w.buf.len);
    tm_mpw_free(&w);
    return rc;
}

static void shard_clear(struct sshard *sh)
{
    for (size_t i = 0; i < sh->ncolls; i++)
        tm_store_free(sh->colls[i].store);
    free(sh->colls);
    sh->colls = NULL;
    sh->ncolls = 0;
    pthread_mutex_lock(&sh->mu);
    free(sh->ranges);
    free(sh->pending);
    free(sh->previous);
    sh->ranges = sh->pending = sh->previous = NULL;
    free(sh->waiting);
    sh->waiting = NULL;
    sh->nranges = sh->cap_ranges = sh->nwaiting = sh->cap_waiting = 0;
    sh->npending = sh->nprevious = 0;
    pthread_mutex_unlock(&sh->mu);
}

/* The leader's directory of range (coll, index) of a shard, as its "sealed"
 * call lists it; TM_ENOTFOUND when it lists no such range. */
static int leader_dir(struct tm_rpc_client *c, int shard, int64_t coll, uint64_t index, char *dir,
                      size_t cap)
{
    struct tm_rpc_reply rep;
    struct tm_mpr b;
    uint32_t n;
    uint64_t upto;
    int rc = tm_sealed_list(c, shard, 0, &rep, &b, &n, &upto);
    if (rc)
        return rc;
    rc = TM_ENOTFOUND;
    for (uint32_t i = 0; i < n && rc == TM_ENOTFOUND; i++) {
        int64_t c_id;
        uint64_t at;
        if (tm_sealed_range_read(&b, &c_id, &at, dir, cap))
            rc = TM_ECORRUPT;
        else if (c_id == coll && at == index)
            rc = 0;
    }
    tm_rpc_reply_free(&rep);
    return rc;
}

/* Copies a range a restored snapshot names but this replica never wrote
 * (the leader's snapshot, installed by a replica that fell behind it), or
 * copies it again (`again`: a copy cut short left part of it here). */
static int fetch_from_leader(struct tm_sealer *s, int shard, int64_t coll, uint64_t index,
                             const char *local, bool again)
{
    struct tm_rpc_client *c = s->leaders ? s->leaders[shard] : NULL;
    char remote[4096], prefix[TM_SEAL_PREFIX_LEN + 1];
    if (!c)
        return TM_ENOTFOUND;
    tm_seal_range_prefix(prefix, index);
    int rc = leader_dir(c, shard, coll, index, remote, sizeof remote);
    if (!rc)
        rc = tm_seal_fetch(c, shard, remote, prefix, local, again);
    if (rc)
        TM_ERROR("sealer",
                 "shard %d: cannot copy range %s of collection %" PRId64 " from the leader: %s",
                 shard, prefix, coll, tm_strerror(rc));
    else
        TM_INFO("sealer", "shard %d: copied range %s of collection %" PRId64 " from the leader",
                shard, prefix, coll);
    return rc;
}

/* Loads one durable range into the shard's store of its collection. */
static int load_range(struct tm_sealer *s, int shard, int64_t coll, uint64_t index)
{
    struct tm_store *store;
    char dir[4096], err[TM_BINLOG_ERRMSG] = "";
    struct tm_seal_owned o;
    int rc = coll_get(s, &s->shards[shard], coll, &store);
    if (rc || !store)
        return rc; /* dropped since: its range is garbage */
    coll_dir(s, shard, coll, dir, sizeof dir);
    rc = tm_seal_read(dir, index, &o, err);
    if (rc && fetch_from_leader(s, shard, coll, index, dir, rc != TM_ENOTFOUND) == 0) {
        tm_seal_owned_free(&o);
        err[0] = '\0';
        rc = tm_seal_read(dir, index, &o, err);
    }
    if (!rc)
        rc = tm_store_load_sealed(store, &o.seal);
    tm_seal_owned_free(&o);
    if (rc)
        TM_ERROR("sealer", "shard %d: cannot load a sealed range: %s", shard,
                 err[0] ? err : tm_strerror(rc));
    return rc ? rc : add_range(&s->shards[shard], coll, index);
}

static bool listed(const struct sshard *sh, int64_t coll, uint64_t index)
{
    for (size_t i = 0; i < sh->nranges; i++)
        if (sh->ranges[i].coll == coll && sh->ranges[i].index == index)
            return true;
    return false;
}

/* Removes the ranges of a collection directory that the restored snapshot
 * does not list: ranges a compaction replaced just before a crash, ranges of
 * dropped collections, and seals the log replay is about to write again. */
static void sweep_coll(struct tm_sealer *s, int shard, int64_t coll)
{
    char dir[4096], err[TM_BINLOG_ERRMSG] = "";
    uint64_t done[64];
    size_t ndone = 0;
    coll_dir(s, shard, coll, dir, sizeof dir);
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d)) != NULL && ndone < 64;) {
        uint64_t index;
        if (sscanf(e->d_name, "r%20" SCNu64 "-", &index) == 1 &&
            !listed(&s->shards[shard], coll, index))
            done[ndone++] = index;
    }
    if (d)
        closedir(d);
    for (size_t i = 0; i < ndone; i++)
        if (tm_seal_remove(dir, done[i], err))
            TM_WARN("sealer", "shard %d: cannot remove an unlisted range: %s", shard, err);
}

static void sweep(struct tm_sealer *s, int shard)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/shard-%d", s->dir, shard);
    DIR *d = opendir(dir);
    int64_t colls[256];
    size_t n = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL && n < 256;)
        if (sscanf(e->d_name, "c%" SCNd64, &colls[n]) == 1)
            n++;
    if (d)
        closedir(d);
    for (size_t i = 0; i < n; i++)
        sweep_coll(s, shard, colls[i]);
}

static int sink_restore(void *arg, int shard, const void *p, size_t len)
{
    struct tm_sealer *s = arg;
    struct sshard *sh = &s->shards[shard];
    struct tm_mpr r, m;
    uint32_t n, two;
    tm_mpr_init(&r, p, len);
    tm_seal_writer_cancel(s->writer, shard); /* the snapshot replaces what it writes */
    shard_clear(sh);
    sh->next_seg = tm_mpr_key_int(r, "next_seg", 0);
    m = r;
    if (tm_mpr_key_int(r, "v", 0) != SINK_VERSION || tm_mpr_find(&m, "ranges") ||
        tm_mpr_array(&m, &n))
        return TM_ECORRUPT;
    for (uint32_t i = 0; i < n; i++) {
        int64_t coll;
        uint64_t index;
        if (tm_mpr_array(&m, &two) || two != 2 || tm_mpr_int(&m, &coll) || tm_mpr_uint(&m, &index))
            return TM_ECORRUPT;
        int rc = load_range(s, shard, coll, index);
        if (rc)
            return rc;
    }
    sweep(s, shard);
    return 0;
}

static bool sink_busy(void *arg, int shard)
{
    return tm_seal_writer_busy(((struct tm_sealer *)arg)->writer, shard);
}

static int sink_durable(void *arg, int shard, uint64_t ts)
{
    return tm_seal_writer_wait(((struct tm_sealer *)arg)->writer, shard, ts);
}

static void sink_list(void *arg, int shard, struct tm_mpw *w)
{
    struct tm_sealer *s = arg;
    struct sshard *sh = &s->shards[shard];
    char dir[4096];
    pthread_mutex_lock(&sh->mu);
    tm_mpw_array(w, (uint32_t)sh->nranges);
    for (size_t i = 0; i < sh->nranges; i++) {
        coll_dir(s, shard, sh->ranges[i].coll, dir, sizeof dir);
        tm_mpw_array(w, 3);
        tm_mpw_int(w, sh->ranges[i].coll);
        tm_mpw_uint(w, sh->ranges[i].index);
        tm_mpw_cstr(w, dir);
    }
    pthread_mutex_unlock(&sh->mu);
}

/* ---- lifecycle ---- */

int tm_sealer_open(struct tm_sealer **out, const struct tm_sealer_config *cfg)
{
    struct tm_sealer *s = calloc(1, sizeof *s);
    if (!s)
        return TM_ENOMEM;
    snprintf(s->dir, sizeof s->dir, "%s", cfg->dir);
    s->shards = calloc((size_t)cfg->shards, sizeof *s->shards);
    int rc = s->shards ? tm_rpc_client_open(&s->coord, cfg->coord_url) : TM_ENOMEM;
    if (!rc && cfg->shard_data_urls) {
        s->leaders = calloc((size_t)cfg->shards, sizeof *s->leaders);
        rc = s->leaders ? 0 : TM_ENOMEM;
        for (int i = 0; !rc && i < cfg->shards; i++)
            rc = tm_rpc_client_open(&s->leaders[i], cfg->shard_data_urls[i]);
    }
    for (int i = 0; s->shards && i < cfg->shards; i++, s->nshards++)
        pthread_mutex_init(&s->shards[i].mu, NULL);
    if (!rc)
        rc = tm_seal_writer_start(&s->writer, range_written, s);
    if (rc) {
        tm_sealer_close(s);
        return rc;
    }
    s->sink = (struct tm_shard_sink){.arg = s,
                                     .apply = sink_apply,
                                     .snapshot = sink_snapshot,
                                     .restore = sink_restore,
                                     .list = sink_list,
                                     .busy = sink_busy,
                                     .durable = sink_durable};
    *out = s;
    return 0;
}

void tm_sealer_close(struct tm_sealer *s)
{
    if (!s)
        return;
    tm_seal_writer_stop(s->writer); /* writes what is queued: a start need not */
    for (int i = 0; i < s->nshards; i++) {
        shard_clear(&s->shards[i]);
        pthread_mutex_destroy(&s->shards[i].mu);
    }
    tm_rpc_client_close(s->coord);
    for (int i = 0; s->leaders && i < s->nshards; i++)
        tm_rpc_client_close(s->leaders[i]);
    free(s->leaders);
    free(s->shards);
    free(s);
}

const struct tm_shard_sink *tm_sealer_sink(struct tm_sealer *s)
{
    return &s->sink;
}
