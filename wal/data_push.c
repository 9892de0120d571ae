/* The log stream's sending side (data_role.h, "The log stream"): a thread
 * per shard pushes what the shard applied while this replica leads. The
 * loop thread, which also runs Raft for the shard, only wakes it (where it
 * wakes the tails) and does no encoding or sending itself: done on the loop,
 * pushing made the leaders' loops the slower part. */
#include "data_role_int.h"
#include "tm_log.h"
#include "tm_mp.h"
#include "tm_time.h"

#include <stdlib.h>

/* Encodes the entries after `after` (all of them, or none when they exceed
 * TAIL_MAX_BYTES: then `after` moves to the last). Under tmu. The message
 * must hold every entry above its `after`, and the log in memory holds
 * those above base_ts only (a restored snapshot starts it at its seal), so
 * `after` is at least base_ts: a reader further behind sees a gap. */
static void encode_push(struct shard *sh, uint64_t after, uint64_t safe, struct tm_mpw *w)
{
    if (after < sh->base_ts)
        after = sh->base_ts;
    uint64_t first = tm_data_first_after(sh, after), bytes = 0;
    for (uint64_t i = first; i < sh->nlog; i++)
        bytes += sh->log[i].len;
    if (bytes > TAIL_MAX_BYTES) {
        first = sh->nlog;
        after = sh->last_ts;
    }
    tm_mpw_map(w, 5);
    tm_mpw_cstr(w, "v"), tm_mpw_uint(w, 1);
    tm_mpw_cstr(w, "shard"), tm_mpw_int(w, sh->id);
    tm_mpw_cstr(w, "after"), tm_mpw_uint(w, after);
    tm_mpw_cstr(w, "entries"), tm_mpw_array(w, (uint32_t)(sh->nlog - first));
    for (uint64_t i = first; i < sh->nlog; i++)
        tm_mpw_bin(w, sh->log[i].p, sh->log[i].len);
    tm_mpw_cstr(w, "safe"), tm_mpw_uint(w, safe);
}

/* Under tmu: encodes what is new since the last push into w, if this
 * replica leads; a follower only keeps its place, so that if it comes to
 * lead it pushes from there (readers behind catch up with "tail"). */
static bool take_push(struct shard *sh, struct tm_mpw *w)
{
    uint64_t safe = sh->last_ts > sh->safe_ts ? sh->last_ts : sh->safe_ts;
    bool send =
        atomic_load(&sh->leading) && (sh->last_ts != sh->pushed_ts || safe != sh->pushed_safe);
    if (send)
        encode_push(sh, sh->pushed_ts, safe, w);
    sh->pushed_ts = sh->last_ts;
    sh->pushed_safe = safe;
    return send && !w->buf.err;
}

/* Test hook: TIDEMARK_TEST_DROP_PUSH=N leaves every Nth push of a shard
 * unsent, as a full queue would, so a test can see the query nodes find the
 * gaps and fill them. Unset in normal use: 0, nothing dropped. */
static unsigned drop_every(void)
{
    const char *v = getenv("TIDEMARK_TEST_DROP_PUSH");
    return v ? (unsigned)strtoul(v, NULL, 10) : 0;
}

static void *pusher_main(void *arg)
{
    struct shard *sh = arg;
    unsigned drop = drop_every(), pushes = 0;
    pthread_setname_np(pthread_self(), "tm-push");
    if (drop)
        TM_WARN("data", "shard %d: test hook: every push number %u dropped", sh->id, drop);
    pthread_mutex_lock(&sh->tmu);
    while (!sh->push_stop) {
        struct tm_mpw w;
        tm_mpw_init(&w);
        if (sh->push_ready && take_push(sh, &w)) {
            pthread_mutex_unlock(&sh->tmu);
            bool dropped = drop && ++pushes % drop == 0;
            int rc = dropped ? 0 : tm_stream_pub_send(sh->role->stream, w.buf.data, w.buf.len);
            if (rc)
                TM_WARN("data", "shard %d: push failed: %s", sh->id, tm_strerror(rc));
            tm_mpw_free(&w);
            pthread_mutex_lock(&sh->tmu);
            continue;
        }
        tm_mpw_free(&w);
        struct timespec until = tm_deadline_ms(TICK_MS);
        pthread_cond_timedwait(&sh->push_cond, &sh->tmu, &until);
    }
    pthread_mutex_unlock(&sh->tmu);
    return NULL;
}

void tm_data_push_wake(struct shard *sh)
{
    if (sh->role->stream && atomic_load(&sh->leading))
        pthread_cond_signal(&sh->push_cond);
}

int tm_data_push_start(struct shard *sh)
{
    if (!sh->role->stream)
        return 0;
    pthread_cond_init(&sh->push_cond, NULL);
    int rc = pthread_create(&sh->pusher, NULL, pusher_main, sh) ? TM_ENOMEM : 0;
    sh->pusher_up = !rc;
    return rc;
}

void tm_data_push_stop(struct shard *sh)
{
    if (!sh->pusher_up)
        return;
    pthread_mutex_lock(&sh->tmu);
    sh->push_stop = true;
    pthread_cond_signal(&sh->push_cond);
    pthread_mutex_unlock(&sh->tmu);
    pthread_join(sh->pusher, NULL);
    pthread_cond_destroy(&sh->push_cond);
    sh->pusher_up = false;
}
