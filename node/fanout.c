/* The proxy's reads across query nodes (fanout.h). */
#include "fanout.h"

#include "tm_time.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

/* How long a read waits for a connection to a node it needs before trying
 * the node anyway (docs/decisions.md, "Reads fan out"). */
#define FANOUT_CONNECT_MS 3000

static uint64_t every_shard(const struct tm_proxy *p)
{
    return p->cfg.shards >= 64 ? ~0ull : (1ull << p->cfg.shards) - 1;
}

/* Chooses nodes (none in `avoid`; with connected_only, none without a
 * connection) covering every shard into f; 0, or the shards left over. */
static uint64_t plan(struct tm_proxy *p, uint64_t avoid, bool connected_only, struct tm_fanout *f)
{
    int n = atomic_load(&p->nquery_each);
    unsigned start = n ? atomic_fetch_add(&p->read_turn, 1) % (unsigned)n : 0;
    uint64_t need = every_shard(p);
    f->n = 0;
    for (int pass = 0; pass < (connected_only ? 1 : 2) && need; pass++) {
        for (;;) {
            int best = -1, best_cover = 0;
            uint64_t best_serves = 0;
            for (int j = 0; j < n; j++) {
                int i = (int)((start + (unsigned)j) % (unsigned)n);
                if (avoid >> i & 1 || (pass == 0 && !tm_rpc_client_connected(p->query_each[i])))
                    continue;
                uint64_t serves = atomic_load(&p->query_serves[i]);
                int cover = __builtin_popcountll(serves & need);
                if (cover > best_cover)
                    best = i, best_cover = cover, best_serves = serves;
            }
            if (best < 0)
                break;
            f->node[f->n] = best;
            f->shards[f->n++] = best_serves & need;
            need &= ~best_serves;
        }
    }
    /* parts ordered by their shard sets, whichever node was looked at first: merged
     * results (rows concatenated, score ties) do not depend on the turn */
    for (int i = 1; i < f->n; i++)
        for (int j = i; j > 0 && f->shards[j] < f->shards[j - 1]; j--) {
            int node = f->node[j];
            uint64_t shards = f->shards[j];
            f->node[j] = f->node[j - 1], f->shards[j] = f->shards[j - 1];
            f->node[j - 1] = node, f->shards[j - 1] = shards;
        }
    return need;
}

/* body with "shards": shards added to its top-level map. */
static int with_shards(const struct tm_mpw *body, uint64_t shards, struct tm_mpw *out)
{
    struct tm_mpr r;
    uint32_t n;
    tm_mpr_init(&r, body->buf.data, body->buf.len);
    if (tm_mpr_map(&r, &n))
        return TM_ECORRUPT;
    tm_mpw_map(out, n + 1);
    tm_mpw_cstr(out, "shards"), tm_mpw_uint(out, shards);
    tm_mpw_raw(out, r.p, tm_mpr_remaining(&r));
    return tm_mpw_error(out);
}

struct part {
    struct tm_rpc_client *to;
    const char *type;
    struct tm_mpw body; /* with "shards" */
    const void *data;   /* what is sent: body, or the caller's */
    size_t len;
    int timeout_ms, rc;
    struct tm_rpc_reply *reply;
    struct tm_status st;
    pthread_t thread;
    bool threaded;
};

static void *part_main(void *arg)
{
    struct part *pt = arg;
    pt->rc = tm_rpc_call(pt->to, pt->type, pt->data, pt->len, pt->timeout_ms, pt->reply, &pt->st);
    return NULL;
}

/* Calls every part of f at once. 0; TM_ESTATUS with *st a node's error; or
 * a transport error with *failed the nodes that could not answer. Replies
 * are kept only when every part succeeded. */
static int run_parts(struct tm_proxy *p, struct tm_fanout *f, const char *type,
                     const struct tm_mpw *body, int timeout_ms, uint64_t *failed,
                     struct tm_status *st)
{
    struct part parts[TM_PROXY_MAX_QUERY];
    int rc = 0;
    for (int i = 0; i < f->n; i++) {
        struct part *pt = &parts[i];
        *pt = (struct part){.to = p->query_each[f->node[i]],
                            .type = type,
                            .timeout_ms = timeout_ms,
                            .reply = &f->replies[i]};
        memset(pt->reply, 0, sizeof *pt->reply);
        tm_mpw_init(&pt->body);
        /* one node answering for every shard: the body as it is */
        pt->rc = f->n == 1 ? 0 : with_shards(body, f->shards[i], &pt->body);
        pt->data = f->n == 1 ? body->buf.data : pt->body.buf.data;
        pt->len = f->n == 1 ? body->buf.len : pt->body.buf.len;
        /* the first part runs on this thread, after the others started */
        if (i > 0 && !pt->rc)
            pt->threaded = pthread_create(&pt->thread, NULL, part_main, pt) == 0;
        if (i > 0 && !pt->rc && !pt->threaded)
            part_main(pt);
    }
    if (f->n && !parts[0].rc)
        part_main(&parts[0]);
    *failed = 0;
    for (int i = 0; i < f->n; i++) {
        if (parts[i].threaded)
            pthread_join(parts[i].thread, NULL);
        tm_mpw_free(&parts[i].body);
        if (parts[i].rc == TM_ESTATUS && rc != TM_ESTATUS)
            *st = parts[i].st, rc = TM_ESTATUS;
        else if (parts[i].rc && parts[i].rc != TM_ESTATUS) {
            *failed |= 1ull << f->node[i];
            if (!rc)
                *st = parts[i].st, rc = parts[i].rc;
        }
    }
    if (rc)
        for (int i = 0; i < f->n; i++)
            if (!parts[i].rc)
                tm_rpc_reply_free(&f->replies[i]);
    return rc;
}

int tm_fanout_call(struct tm_req *r, const char *type, tm_fanout_encode_fn encode, void *arg,
                   struct tm_fanout *f)
{
    struct tm_proxy *p = r->p;
    uint64_t now = tm_mono_ms(), avoid = 0;
    uint64_t deadline = now + (uint64_t)p->cfg.request_timeout_ms, grace = now + FANOUT_CONNECT_MS;
    for (;;) {
        /* a node that registered but is not connected yet (starting, or
         * its dial retrying) is given a moment before it is tried: tried,
         * it is given up after 200 ms without a connection */
        uint64_t missing = plan(p, avoid, true, f), failed = 0;
        if (missing && tm_mono_ms() < grace && tm_mono_ms() < deadline) {
            tm_sleep_ms(20);
            continue;
        }
        /* planned once when every node needed is connected: each plan
         * moves the starting node on, and two per read would send every
         * read of one client to the same one of two equal nodes */
        if (missing)
            missing = plan(p, avoid, false, f);
        if (missing) {
            f->n = 0;
            return tm_status_set(&r->st, TM_MV_UNAVAILABLE,
                                 "service unavailable: no query node that serves shard %d "
                                 "can be reached",
                                 __builtin_ctzll(missing));
        }
        struct tm_mpw body;
        struct tm_status st;
        tm_mpw_init(&body);
        encode(&body, f->n == 1, arg);
        now = tm_mono_ms();
        int rc = now < deadline ? run_parts(p, f, type, &body, (int)(deadline - now), &failed, &st)
                                : TM_ETIMEDOUT;
        tm_mpw_free(&body);
        if (!rc)
            return 0;
        f->n = 0;
        if (rc == TM_ETIMEDOUT && tm_mono_ms() >= deadline)
            return tm_status_set(&r->st, TM_MV_TIMEOUT, "%s: no answer within %d ms", type,
                                 p->cfg.request_timeout_ms);
        if (rc == TM_ESTATUS || tm_mono_ms() >= deadline)
            return tm_req_fail_call(r, &st);
        avoid |= failed;
    }
}

void tm_fanout_free(struct tm_fanout *f)
{
    for (int i = 0; i < f->n; i++)
        tm_rpc_reply_free(&f->replies[i]);
    f->n = 0;
}
