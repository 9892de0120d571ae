/* Timestamp leases of the data role's shards, fetched ahead of need.
 *
 * A shard stamps entries on its Raft loop thread, and a call to the TSO
 * from there would block the loop: while the coordinators elect a new
 * leader (a second or two) the shard would send no heartbeats, and its
 * followers would depose it. So one thread per data role keeps a spare
 * lease ready for every shard this node leads, fetched at most LEASE_MS / 2
 * before it is taken; the loop thread only swaps it in. A shard with no
 * fresh spare stamps nothing (TM_EAGAIN): its writes wait in the queue, and
 * the thread asks the loop to drain once a lease arrives.
 *
 * Timestamps still rise along each log: a spare is fetched after the lease
 * in use was (leases come from the spares in turn, and the TSO only goes
 * up), and a new leader drops both, so it stamps only timestamps fetched
 * after it became leader, above anything the previous leader fetched. */
#include "data_role_int.h"
#include "tm_time.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

#define RETRY_MS 10
#define IDLE_MS 1000

static bool wants_spare(struct shard *sh, uint64_t now)
{
    if (!sh->hosted || (sh->role->cluster && !atomic_load(&sh->leading)))
        return false;
    pthread_mutex_lock(&sh->lease_mu);
    bool want = sh->spare_end == 0 || now - sh->spare_ms > LEASE_MS / 2;
    pthread_mutex_unlock(&sh->lease_mu);
    return want;
}

/* Fetches a spare for the shard; wakes its loop if writes wait for one. */
static void refill(struct shard *sh)
{
    uint64_t gen = atomic_load(&sh->lease_gen), ts = 0;
    uint64_t at = tm_wall_ms();
    struct tm_status st;
    if (tm_rpc_call_uint_arg(sh->role->coord, "tso", "n", LEASE_COUNT, 2000, &ts, &st))
        return;
    pthread_mutex_lock(&sh->lease_mu);
    /* A leadership change meanwhile: this lease may predate it. */
    bool keep = gen == atomic_load(&sh->lease_gen);
    if (keep) {
        sh->spare_next = ts;
        sh->spare_end = ts + LEASE_COUNT;
        sh->spare_ms = at;
    }
    bool starved = keep && sh->starved;
    if (keep) /* a dropped lease feeds no one: the starved shard waits for the next */
        sh->starved = false;
    pthread_mutex_unlock(&sh->lease_mu);
    if (starved)
        tm_data_post_drain(sh);
}

/* When the shard next wants a spare (wall ms), or UINT64_MAX: not leading. */
static uint64_t spare_due(struct shard *sh)
{
    if (!sh->hosted || (sh->role->cluster && !atomic_load(&sh->leading)))
        return UINT64_MAX;
    pthread_mutex_lock(&sh->lease_mu);
    uint64_t due = sh->spare_end ? sh->spare_ms + LEASE_MS / 2 + 1 : 0;
    pthread_mutex_unlock(&sh->lease_mu);
    return due;
}

/* How long the thread may sleep: until the first spare is due, at least
 * RETRY_MS after a refill was tried (a failed one is retried no sooner
 * unless the thread is woken), and at most IDLE_MS. A shard that starts
 * leading, or takes the spare, wakes the thread (tm_data_shard_ts). It
 * used to wake every 10 ms, about 300 context switches a second per node
 * for nothing. */
static uint64_t sleep_ms(struct tm_data_role *d, bool tried)
{
    uint64_t now = tm_wall_ms(), due = UINT64_MAX;
    for (int i = 0; i < d->nshards; i++) {
        uint64_t at = spare_due(&d->shards[i]);
        due = at < due ? at : due;
    }
    uint64_t ms = due == UINT64_MAX ? IDLE_MS : due > now ? due - now : 0;
    if (tried && ms < RETRY_MS)
        ms = RETRY_MS;
    return ms < IDLE_MS ? ms : IDLE_MS;
}

static void *lease_main(void *arg)
{
    struct tm_data_role *d = arg;
    pthread_setname_np(pthread_self(), "tm-lease");
    pthread_mutex_lock(&d->lease_wait_mu);
    while (!d->lease_stop) {
        d->lease_kick = false;
        pthread_mutex_unlock(&d->lease_wait_mu);
        bool tried = false;
        for (int i = 0; i < d->nshards; i++)
            if (wants_spare(&d->shards[i], tm_wall_ms()))
                refill(&d->shards[i]), tried = true;
        uint64_t ms = sleep_ms(d, tried);
        pthread_mutex_lock(&d->lease_wait_mu);
        struct timespec until = tm_deadline_ms(ms);
        if (!d->lease_stop && !d->lease_kick && ms)
            pthread_cond_timedwait(&d->lease_wake, &d->lease_wait_mu, &until);
    }
    pthread_mutex_unlock(&d->lease_wait_mu);
    return NULL;
}

static void wake_thread(struct tm_data_role *d)
{
    pthread_mutex_lock(&d->lease_wait_mu);
    d->lease_kick = true;
    pthread_cond_signal(&d->lease_wake);
    pthread_mutex_unlock(&d->lease_wait_mu);
}

int tm_data_shard_ts(struct shard *sh, uint32_t n, uint64_t *ts)
{
    uint64_t now = tm_wall_ms();
    if (sh->lease_next + n > sh->lease_end || now - sh->lease_ms > LEASE_MS) {
        pthread_mutex_lock(&sh->lease_mu);
        bool fresh =
            sh->spare_end && now - sh->spare_ms <= LEASE_MS && sh->spare_next + n <= sh->spare_end;
        if (fresh) {
            sh->lease_next = sh->spare_next;
            sh->lease_end = sh->spare_end;
            sh->lease_ms = sh->spare_ms;
            sh->spare_end = 0;
        }
        sh->starved = !fresh;
        pthread_mutex_unlock(&sh->lease_mu);
        wake_thread(sh->role);
        if (!fresh)
            return TM_EAGAIN;
    }
    *ts = sh->lease_next;
    sh->lease_next += n;
    return 0;
}

void tm_data_lease_reset(struct shard *sh)
{
    pthread_mutex_lock(&sh->lease_mu);
    atomic_fetch_add(&sh->lease_gen, 1);
    sh->lease_next = sh->lease_end = 0;
    sh->spare_end = 0;
    pthread_mutex_unlock(&sh->lease_mu);
    wake_thread(sh->role);
}

void tm_data_lease_init(struct tm_data_role *d)
{
    pthread_mutex_init(&d->lease_wait_mu, NULL);
    pthread_cond_init(&d->lease_wake, NULL);
}

int tm_data_lease_start(struct tm_data_role *d)
{
    d->lease_up = pthread_create(&d->lease_thread, NULL, lease_main, d) == 0;
    return d->lease_up ? 0 : TM_ENOMEM;
}

void tm_data_lease_stop(struct tm_data_role *d)
{
    if (!d->lease_up)
        return;
    pthread_mutex_lock(&d->lease_wait_mu);
    d->lease_stop = true;
    pthread_cond_signal(&d->lease_wake);
    pthread_mutex_unlock(&d->lease_wait_mu);
    pthread_join(d->lease_thread, NULL);
    d->lease_up = false;
}

void tm_data_lease_destroy(struct tm_data_role *d)
{
    pthread_mutex_destroy(&d->lease_wait_mu);
    pthread_cond_destroy(&d->lease_wake);
}
