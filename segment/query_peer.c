/* Each sealed segment's index built once in a cluster (query_peer.h). */
#include "query_peer.h"
#include "query_role_int.h"
#include "tm_file_call.h"
#include "tm_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CALL_MS 5000

static int by_url(const void *a, const void *b)
{
    return strcmp(((const struct tm_qpeer *)a)->url, ((const struct tm_qpeer *)b)->url);
}

/* The query nodes serving shard, this one included, in address order. */
static int serving(struct tm_query_role *q, int shard, struct tm_qpeer *out)
{
    struct tm_qpeer all[TM_QPEER_MAX];
    int n = q->list_peers(q->peers_arg, all, TM_QPEER_MAX), m = 0;
    bool self = false;
    for (int i = 0; i < n; i++) {
        if (all[i].serves && !(all[i].serves >> shard & 1))
            continue;
        self |= strcmp(all[i].url, q->url) == 0;
        out[m++] = all[i];
    }
    if (!self && m < TM_QPEER_MAX) { /* not registered yet: it serves the shard all the same */
        snprintf(out[m].url, sizeof out[m].url, "%s", q->url);
        out[m++].serves = 0;
    }
    qsort(out, (size_t)m, sizeof *out, by_url);
    return m;
}

struct index_req {
    struct tm_rpc_client *c;
    int64_t coll, field;
    uint64_t key;
};

static int ask_chunk(void *arg, uint64_t offset, struct tm_rpc_reply *rep, struct tm_status *st)
{
    const struct index_req *r = arg;
    struct tm_mpw w;
    tm_mpw_init(&w);
    tm_mpw_map(&w, 4);
    tm_mpw_cstr(&w, "coll"), tm_mpw_int(&w, r->coll);
    tm_mpw_cstr(&w, "field"), tm_mpw_int(&w, r->field);
    tm_mpw_cstr(&w, "key"), tm_mpw_uint(&w, r->key);
    tm_mpw_cstr(&w, "offset"), tm_mpw_uint(&w, offset);
    int rc = tm_rpc_call(r->c, "index_file", w.buf.data, w.buf.len, CALL_MS, rep, st);
    tm_mpw_free(&w);
    return rc;
}

/* Copies the peer's file to path. 0, TM_ESTATUS (the peer has no such
 * file: st says why), or an error. An index is derived data: the copy is
 * not fsynced (a crash loses at most an index to copy again). */
static int copy_file(const char *url, int64_t coll, int64_t field, uint64_t key, const char *path,
                     struct tm_status *st)
{
    char root[4200], dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    snprintf(root, sizeof root, "%s", dir);
    slash = strrchr(root, '/');
    if (slash)
        *slash = '\0';
    struct index_req r = {NULL, coll, field, key};
    int rc = tm_rpc_client_open(&r.c, url);
    if (rc)
        return tm_status_set(st, TM_MV_INTERNAL, "cannot call %s", url), rc;
    tm_rpc_client_watch(r.c); /* a builder that is down: given up in 200 ms */
    mkdir(root, 0755);        /* as write_file does */
    mkdir(dir, 0755);
    rc = tm_file_copy(ask_chunk, &r, path, 0, false, st);
    tm_rpc_client_close(r.c);
    return rc;
}

enum tm_qpeer_way tm_qpeer_get(struct tm_query_role *q, int64_t coll, int64_t field, uint64_t key,
                               int shard, bool may_wait, const char *path, char *from,
                               size_t from_cap)
{
    struct tm_qpeer peers[TM_QPEER_MAX];
    int n = q->list_peers ? serving(q, shard, peers) : 0;
    if (n <= 1)
        return TM_QPEER_BUILD;
    const struct tm_qpeer *owner = &peers[key % (uint64_t)n];
    if (strcmp(owner->url, q->url) == 0)
        return TM_QPEER_BUILD;
    snprintf(from, from_cap, "%s", owner->url);
    struct tm_status st;
    tm_status_ok(&st);
    int rc = copy_file(owner->url, coll, field, key, path, &st);
    if (!rc)
        return TM_QPEER_COPIED;
    if (rc == TM_ESTATUS && may_wait)
        return TM_QPEER_PENDING;
    TM_INFO("query",
            "collection %lld: the index of key %016llx is %s's to build (%s); building "
            "it here",
            (long long)coll, (unsigned long long)key, owner->url,
            rc == TM_ESTATUS ? "not built there in time"
            : st.msg[0]      ? st.msg
                             : tm_strerror(rc));
    return TM_QPEER_BUILD;
}

void tm_qpeer_call_file(struct tm_query_role *q, struct tm_mpr *body, struct tm_mpw *reply,
                        struct tm_status *st)
{
    struct tm_mpr r = *body;
    uint64_t key = 0, offset = 0;
    int64_t coll = tm_mpr_key_int(*body, "coll", -1), field = tm_mpr_key_int(*body, "field", -1);
    bool ok = coll >= 0 && field >= 0 && !tm_mpr_find(&r, "key") && !tm_mpr_uint(&r, &key);
    r = *body;
    ok = ok && !tm_mpr_find(&r, "offset") && !tm_mpr_uint(&r, &offset);
    char path[4200];
    if (!ok || !tm_qidx_path(q, coll, field, key, path, sizeof path)) {
        tm_status_set(st, TM_MV_INTERNAL, ok ? "no index files here" : "malformed index_file");
        return;
    }
    tm_file_chunk_answer(path, path, offset, TM_QPEER_CHUNK, reply, st);
}
