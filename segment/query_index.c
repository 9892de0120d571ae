/* The query role's index definitions, background builder and index files
 * (rules in query_index.h). */
#include "catalog.h"
#include "query_peer.h"
#include "query_role_int.h"
#include "seg_index.h"
#include "store_int.h"
#include "tm_log.h"
#include "tm_time.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RETRY_MS 30000u /* after a transient build failure (ENOMEM, an I/O error) */
#define IDLE_WAIT_MS 1000u
#define MAX_PUT_OFF 64

/* The build in progress. */
struct qjob {
    bool active, cancelled;
    struct qcoll *c;
    uint32_t seg;
    int32_t shard;
    struct qidef def;
    struct tm_ivf_params params;
    const float *x;
    uint64_t n, key;
    /* The vector column a drop took out of the store while this job read
     * it: freed once the build is over (tm_qidx_forget). */
    struct tm_buf stolen;
    struct tm_ivf_watch watch; /* stop: the job was cancelled (a drop) */
};

struct qidx {
    struct tm_query_role *q;
    char dir[3072]; /* "" when index files are not kept */
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    bool woken, stop, sweep_due;
    /* in_build: the builder is reading an index file or building, holding
     * no lock and touching nothing but the job's vectors and the index.
     * detached: the role stopped meanwhile; the builder frees this state
     * itself when that step ends (tm_qidx_stop). */
    bool in_build, detached;
    struct qjob cur;
    /* Jobs whose index another query node builds and has not built yet
     * (query_peer.h): not picked again before `until`. */
    struct put_off {
        int64_t coll, field;
        uint32_t seg;
        uint64_t since, until; /* wall ms */
    } put_off[MAX_PUT_OFF];
    int nput_off;
};

/* ---- definitions ---- */

static bool plan_equal(const struct tm_seg_index_plan *a, const struct tm_seg_index_plan *b)
{
    return a->kind == b->kind && a->metric == b->metric && a->dim == b->dim &&
           a->nlist == b->nlist && a->m == b->m && a->nbits == b->nbits && a->nprobe == b->nprobe &&
           a->refine == b->refine;
}

static const struct qidef *def_find(const struct qidef *defs, size_t n, const struct qidef *d)
{
    for (size_t i = 0; i < n; i++)
        if (defs[i].index_id == d->index_id && defs[i].field_id == d->field_id &&
            plan_equal(&defs[i].plan, &d->plan))
            return &defs[i];
    return NULL;
}

/* The definitions of one catalog entry that seg_index.h builds. */
static int defs_of(const struct tm_collection *coll, struct qidef **out, size_t *n_out)
{
    struct qidef *defs = calloc(coll->nindexes + 1, sizeof *defs);
    size_t n = 0;
    if (!defs)
        return TM_ENOMEM;
    for (size_t i = 0; i < coll->nindexes; i++) {
        const struct tm_index *ix = &coll->indexes[i];
        const struct tm_field *f = tm_schema_field(&coll->schema, ix->field);
        struct qidef *d = &defs[n];
        if (!f)
            continue;
        int rc = tm_seg_index_plan(ix->type, ix->metric, ix->params, ix->nparams, f, &d->plan,
                                   d->reason, sizeof d->reason);
        if (rc == 0)
            continue; /* served by brute force */
        d->index_id = ix->id;
        d->field_id = f->id;
        d->failed = rc < 0;
        n++;
    }
    *out = defs;
    *n_out = n;
    return 0;
}

static int fetch_defs(struct tm_query_role *q, int64_t coll_id, struct qidef **out, size_t *n_out)
{
    struct tm_collection coll;
    *out = NULL;
    *n_out = 0;
    int rc = tm_catalog_collection(q->coord, coll_id, &coll);
    if (rc == TM_ENOTFOUND)
        return 0; /* dropped: no definitions */
    if (rc)
        return rc;
    rc = defs_of(&coll, out, n_out);
    tm_collection_free(&coll);
    return rc;
}

/* Detaches from every segment the indexes no definition in defs wants. */
static bool detach_unwanted(struct tm_store *s, const struct qidef *defs, size_t n)
{
    bool any = false;
    for (uint32_t i = 0; i < s->nsegs; i++) {
        struct tm_seg_index **pp = &s->segs[i].ix;
        while (*pp) {
            bool wanted = false;
            for (size_t d = 0; d < n && !wanted; d++)
                wanted = defs[d].index_id == (*pp)->index_id && defs[d].field_id == (*pp)->field_id;
            if (wanted) {
                pp = &(*pp)->next;
                continue;
            }
            struct tm_seg_index *gone = *pp;
            *pp = gone->next;
            gone->next = NULL;
            tm_seg_index_free(gone);
            any = true;
        }
    }
    return any;
}

/* Replaces c's definitions by defs (owned). Caller holds the store's write
 * lock and x->mu. Returns true when a definition is new. */
static bool apply_defs(struct qidx *x, struct qcoll *c, struct qidef *defs, size_t n)
{
    bool added = false;
    for (size_t i = 0; i < n; i++) {
        const struct qidef *old = def_find(c->idefs, c->nidefs, &defs[i]);
        if (old && !defs[i].failed) { /* keep what the builder learnt */
            defs[i].failed = old->failed;
            defs[i].retry_ms = old->retry_ms;
            memcpy(defs[i].reason, old->reason, sizeof defs[i].reason);
        }
        added |= !old;
    }
    if (x->cur.active && x->cur.c == c && !def_find(defs, n, &x->cur.def))
        x->cur.cancelled = x->cur.watch.stop = true;
    if (detach_unwanted(c->store, defs, n))
        x->sweep_due = true;
    for (size_t i = 0; i < c->nidefs; i++)
        if (!def_find(defs, n, &c->idefs[i]))
            x->sweep_due = true; /* its files may lie around */
    free(c->idefs);
    c->idefs = defs;
    c->nidefs = n;
    c->idefs_stale = false;
    return added;
}

int tm_qidx_refresh(struct tm_query_role *q, struct qcoll *c)
{
    struct qidx *x = q->qidx;
    struct qidef *defs;
    size_t n;
    int rc = c->store ? fetch_defs(q, c->id, &defs, &n) : 0;
    if (rc || !c->store) {
        pthread_mutex_lock(&x->mu);
        c->idefs_stale = rc != 0;
        pthread_mutex_unlock(&x->mu);
        return rc;
    }
    pthread_rwlock_wrlock(&c->store->lock);
    pthread_mutex_lock(&x->mu);
    bool added = false;
    if (c->dead)
        free(defs);
    else
        added = apply_defs(x, c, defs, n);
    pthread_mutex_unlock(&x->mu);
    pthread_rwlock_unlock(&c->store->lock);
    if (added)
        tm_qidx_wake(q);
    return 0;
}

void tm_qidx_forget(struct tm_query_role *q, struct qcoll *c)
{
    struct qidx *x = q->qidx;
    pthread_mutex_lock(&x->mu);
    struct qjob *j = &x->cur;
    if (j->active && j->c == c) {
        j->cancelled = j->watch.stop = true;
        /* Also when an index drop cancelled the job before: the build may
         * still be reading these bytes, so they leave the store with it. */
        struct tm_col *col = tm_batch_col(&c->store->segs[j->seg].rows, j->def.field_id);
        if (col && !j->stolen.data) {
            j->stolen = col->data;
            tm_buf_init(&col->data);
        }
    }
    free(c->idefs);
    c->idefs = NULL;
    c->nidefs = 0;
    x->sweep_due = true;
    pthread_mutex_unlock(&x->mu);
    tm_qidx_wake(q);
}

void tm_qidx_coll_free(struct qcoll *c)
{
    free(c->idefs);
    c->idefs = NULL;
    c->nidefs = 0;
}

/* ---- finding work ---- */

/* Picks a sealed segment of c lacking a live definition's index into
 * x->cur. Caller holds the store's read lock and x->mu. */
static struct put_off *put_off_find(struct qidx *x, int64_t coll, int64_t field, uint32_t seg)
{
    for (int i = 0; i < x->nput_off; i++) {
        struct put_off *p = &x->put_off[i];
        if (p->coll == coll && p->field == field && p->seg == seg)
            return p;
    }
    return NULL;
}

/* Caller holds x->mu. */
static bool put_off(struct qidx *x, int64_t coll, int64_t field, uint32_t seg, uint64_t now)
{
    const struct put_off *p = put_off_find(x, coll, field, seg);
    return p && p->until > now;
}

static bool pick(struct qidx *x, struct qcoll *c, uint64_t now)
{
    struct tm_store *s = c->store;
    for (size_t d = 0; d < c->nidefs; d++) {
        const struct qidef *def = &c->idefs[d];
        if (def->failed || def->retry_ms > now)
            continue;
        for (uint32_t i = 0; i < s->nsegs; i++) {
            const struct tm_store_seg *sg = &s->segs[i];
            const struct tm_col *col = tm_batch_col(&sg->rows, def->field_id);
            if (!sg->sealed || sg->rows.nrows < TM_SEG_INDEX_MIN_ROWS || !col ||
                tm_seg_index_find(sg->ix, def->field_id) ||
                put_off(x, c->id, def->field_id, i, now))
                continue;
            struct qjob *j = &x->cur;
            memset(j, 0, sizeof *j);
            *j = (struct qjob){.active = true,
                               .c = c,
                               .seg = i,
                               .shard = sg->shard,
                               .def = *def,
                               .x = (const float *)col->data.data,
                               .n = sg->rows.nrows};
            tm_buf_init(&j->stolen);
            tm_seg_index_params(&def->plan, j->n, &j->params);
            return true;
        }
    }
    return false;
}

static void refresh_stale(struct qidx *x)
{
    struct tm_query_role *q = x->q;
    size_t n = tm_query_ncolls(q);
    for (size_t i = 0; i < n; i++) {
        struct qcoll *c = &q->colls[i];
        pthread_mutex_lock(&x->mu);
        bool stale = c->idefs_stale && !c->dead && c->store;
        pthread_mutex_unlock(&x->mu);
        if (stale && tm_qidx_refresh(q, c))
            TM_WARN("query", "collection %lld: cannot read its indexes from the catalog",
                    (long long)c->id);
    }
}

static bool find_job(struct qidx *x)
{
    struct tm_query_role *q = x->q;
    size_t n = tm_query_ncolls(q);
    uint64_t now = tm_wall_ms();
    for (size_t i = 0; i < n; i++) {
        struct qcoll *c = &q->colls[i];
        if (!c->store)
            continue;
        pthread_rwlock_rdlock(&c->store->lock);
        pthread_mutex_lock(&x->mu);
        bool found = !c->dead && !x->stop && pick(x, c, now);
        pthread_mutex_unlock(&x->mu);
        /* The key reads the segment's columns: still under the read lock. */
        if (found)
            x->cur.key =
                tm_seg_index_key(c->store, x->cur.seg, x->cur.def.field_id, &x->cur.params);
        pthread_rwlock_unlock(&c->store->lock);
        if (found)
            return true;
    }
    return false;
}

/* ---- one build ---- */

static void file_path(const struct qidx *x, int64_t coll, int64_t field, uint64_t key, char *out,
                      size_t cap)
{
    snprintf(out, cap, "%s/c%" PRId64 "/f%" PRId64 "-%016" PRIx64 ".ivf", x->dir, coll, field, key);
}

static void job_path(const struct qidx *x, const struct qjob *j, char *out, size_t cap)
{
    file_path(x, j->c->id, j->def.field_id, j->key, out, cap);
}

bool tm_qidx_path(struct tm_query_role *q, int64_t coll, int64_t field, uint64_t key, char *path,
                  size_t cap)
{
    struct qidx *x = q->qidx;
    if (!x || !x->dir[0])
        return false;
    file_path(x, coll, field, key, path, cap);
    return true;
}

static bool same_params(const struct tm_ivf_params *a, const struct tm_ivf_params *b)
{
    return a->kind == b->kind && a->metric == b->metric && a->dim == b->dim &&
           a->nlist == b->nlist && a->m == b->m && a->nbits == b->nbits;
}

/* The index from its file, or NULL (none, or one refused and removed). */
static struct tm_ivf *load_file(const struct qjob *j, const char *path)
{
    struct tm_ivf *ivf = NULL;
    char err[4096 + 512] = "";
    int rc = tm_ivf_read(path, j->x, j->n, &ivf, err, sizeof err);
    if (!rc && !same_params(tm_ivf_params_of(ivf), &j->params)) {
        snprintf(err, sizeof err, "index file %s: its parameters are not the key's", path);
        tm_ivf_free(ivf);
        ivf = NULL;
        rc = TM_ECORRUPT;
    }
    if (rc == TM_ECORRUPT) {
        /* Unlike a binlog, an index holds nothing the segment does not:
         * a damaged one is rebuilt, not a reason to stop serving. */
        TM_WARN("query", "%s; removing it and rebuilding the index", err);
        if (unlink(path) && errno != ENOENT)
            TM_WARN("query", "cannot remove %s: %s", path, strerror(errno));
    } else if (rc && rc != -ENOENT) {
        TM_WARN("query", "cannot read index file %s: %s; rebuilding it", path, tm_strerror(rc));
    }
    return rc ? NULL : ivf;
}

static void write_file(const struct qidx *x, const struct qjob *j, const struct tm_ivf *ivf,
                       const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/c%" PRId64, x->dir, j->c->id);
    /* Directories are not fsynced: a file lost with its directory in a crash
     * is only an index to build again. */
    if ((mkdir(x->dir, 0755) && errno != EEXIST) || (mkdir(dir, 0755) && errno != EEXIST)) {
        TM_WARN("query", "cannot create %s: %s; the index is kept in memory only", dir,
                strerror(errno));
        return;
    }
    int rc = tm_ivf_write(ivf, path);
    if (rc)
        TM_WARN("query", "cannot write index file %s: %s; the index is kept in memory only", path,
                tm_strerror(rc));
}

/* Records a failed build on its definition. */
static void job_failed(struct qidx *x, const struct qjob *j, int rc)
{
    pthread_mutex_lock(&x->mu);
    for (size_t i = 0; i < j->c->nidefs; i++) {
        struct qidef *d = &j->c->idefs[i];
        if (d->index_id != j->def.index_id)
            continue;
        if (rc == TM_EINVAL) { /* the parameters cannot work: say so, do not retry */
            d->failed = true;
            snprintf(d->reason, sizeof d->reason, "the index cannot be built: %s", tm_strerror(rc));
        } else {
            d->retry_ms = tm_wall_ms() + RETRY_MS;
        }
    }
    pthread_mutex_unlock(&x->mu);
    TM_WARN("query", "collection %lld: index on field %lld, segment of %llu rows: %s",
            (long long)j->c->id, (long long)j->def.field_id, (unsigned long long)j->n,
            tm_strerror(rc));
}

/* Attaches the finished index, or discards it (and ends the job). */
static void attach(struct qidx *x, struct tm_ivf *ivf)
{
    struct qjob *j = &x->cur;
    struct qcoll *c = j->c;
    pthread_rwlock_wrlock(&c->store->lock);
    pthread_mutex_lock(&x->mu);
    bool keep = ivf && !j->cancelled && !c->dead && j->seg < c->store->nsegs &&
                def_find(c->idefs, c->nidefs, &j->def) &&
                !tm_seg_index_find(c->store->segs[j->seg].ix, j->def.field_id);
    struct tm_seg_index *si = keep ? calloc(1, sizeof *si) : NULL;
    if (si) {
        *si = (struct tm_seg_index){
            .field_id = j->def.field_id,
            .index_id = j->def.index_id,
            .metric = j->def.plan.metric,
            .nprobe = tm_seg_index_default_nprobe(&j->def.plan, tm_ivf_params_of(ivf)),
            .refine = j->def.plan.refine,
            .key = j->key,
            .ivf = ivf,
            .next = c->store->segs[j->seg].ix};
        c->store->segs[j->seg].ix = si;
    } else {
        tm_ivf_free(ivf); /* before the vectors it borrows */
    }
    tm_buf_free(&j->stolen);
    j->active = false;
    j->c = NULL;
    pthread_mutex_unlock(&x->mu);
    pthread_rwlock_unlock(&c->store->lock);
}

static bool cancelled(struct qidx *x)
{
    pthread_mutex_lock(&x->mu);
    bool v = x->cur.cancelled;
    pthread_mutex_unlock(&x->mu);
    return v;
}

/* The unlocked part of a job starts: false when the role is stopping. */
static bool enter_build(struct qidx *x)
{
    pthread_mutex_lock(&x->mu);
    bool go = !x->stop;
    x->in_build = go;
    pthread_mutex_unlock(&x->mu);
    return go;
}

/* ... and ends: true when the role stopped meanwhile (detached). */
static bool leave_build(struct qidx *x)
{
    pthread_mutex_lock(&x->mu);
    x->in_build = false;
    bool detached = x->detached;
    pthread_mutex_unlock(&x->mu);
    return detached;
}

static void qidx_free(struct qidx *x)
{
    tm_buf_free(&x->cur.stolen);
    pthread_mutex_destroy(&x->mu);
    pthread_cond_destroy(&x->wake);
    free(x);
}

/* The job's put-off entry, caller holding x->mu: found or made; NULL when
 * the table is full (the job is then not put off: built here). Evicting
 * would let the evicted job be picked at once with a new `since`, over
 * and over. */
static struct put_off *put_off_get(struct qidx *x, const struct qjob *j, uint64_t now)
{
    struct put_off *p = put_off_find(x, j->c->id, j->def.field_id, j->seg);
    if (p || x->nput_off == MAX_PUT_OFF)
        return p;
    p = &x->put_off[x->nput_off++];
    *p = (struct put_off){j->c->id, j->def.field_id, j->seg, now, now};
    return p;
}

/* Another query node's index to build (query_peer.h): copied into path,
 * pending (the job is put off), or this node's to build after all. */
static enum tm_qpeer_way from_peer(struct qidx *x, const struct qjob *j, const char *path,
                                   char *from, size_t cap)
{
    uint64_t now = tm_wall_ms();
    pthread_mutex_lock(&x->mu);
    bool may_wait = now - put_off_get(x, j, now)->since < TM_QPEER_WAIT_MS;
    pthread_mutex_unlock(&x->mu);
    enum tm_qpeer_way way =
        tm_qpeer_get(x->q, j->c->id, j->def.field_id, j->key, j->shard, may_wait, path, from, cap);
    pthread_mutex_lock(&x->mu);
    struct put_off *p = put_off_get(x, j, now);
    if (way == TM_QPEER_PENDING)
        p->until = tm_wall_ms() + TM_QPEER_RETRY_MS;
    else
        *p = x->put_off[--x->nput_off]; /* done with: forgotten */
    pthread_mutex_unlock(&x->mu);
    return way;
}

/* Reads, copies or builds the job's index and attaches it. Returns false
 * when the role stopped during the build: x is freed then, and the thread
 * ends. */
static bool run_job(struct qidx *x)
{
    struct qjob *j = &x->cur;
    struct tm_ivf *ivf = NULL;
    char path[4096], from[128] = "";
    int rc = 0;
    uint64_t t0 = tm_mono_ns();
    job_path(x, j, path, sizeof path);
    bool have = x->dir[0] && access(path, F_OK) == 0;
    enum tm_qpeer_way way =
        have || !x->dir[0] ? TM_QPEER_BUILD : from_peer(x, j, path, from, sizeof from);
    if (way == TM_QPEER_PENDING || !enter_build(x)) { /* pending: looked at again later */
        attach(x, NULL);
        return true;
    }
    /* A copied file is checked as any file; one refused is built below. */
    struct tm_ivf *read = have || way == TM_QPEER_COPIED ? load_file(j, path) : NULL;
    if (!read)
        rc = tm_ivf_build(&j->params, j->x, j->n, &j->watch, &ivf);
    if (leave_build(x)) {
        tm_ivf_free(read ? read : ivf); /* before the vectors it borrows */
        qidx_free(x);
        return false;
    }
    if (read) {
        TM_INFO("query", "collection %lld: index of field %lld over %llu rows %s %s",
                (long long)j->c->id, (long long)j->def.field_id, (unsigned long long)j->n,
                from[0] && way == TM_QPEER_COPIED ? "copied from" : "read from",
                from[0] && way == TM_QPEER_COPIED ? from : path);
        attach(x, read);
        return true;
    }
    if (rc == TM_ECANCELED) /* a drop called it off: nothing failed */
        TM_INFO("query",
                "collection %lld: index of field %lld over %llu rows dropped %.2f s into "
                "its build",
                (long long)j->c->id, (long long)j->def.field_id, (unsigned long long)j->n,
                (double)(tm_mono_ns() - t0) / 1e9);
    else if (rc)
        job_failed(x, j, rc);
    if (rc) {
        attach(x, NULL);
        return true;
    }
    TM_INFO("query",
            "collection %lld: index of field %lld over %llu rows (nlist %u) built in "
            "%.2f s",
            (long long)j->c->id, (long long)j->def.field_id, (unsigned long long)j->n,
            tm_ivf_params_of(ivf)->nlist, (double)(tm_mono_ns() - t0) / 1e9);
    if (x->dir[0] && !cancelled(x))
        write_file(x, j, ivf, path);
    attach(x, ivf);
    return true;
}

/* ---- sweeping unused files ---- */

struct used {
    int64_t field;
    uint64_t key;
};

/* The (field, key) pairs of c's attached indexes (and of the running job). */
static size_t used_of(struct qcoll *c, struct used **out)
{
    size_t n = 0, cap = 0;
    struct used *u = NULL;
    pthread_rwlock_rdlock(&c->store->lock);
    for (uint32_t i = 0; i < c->store->nsegs; i++) {
        for (const struct tm_seg_index *si = c->store->segs[i].ix; si; si = si->next) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                struct used *g = realloc(u, cap * sizeof *g);
                if (!g)
                    break;
                u = g;
            }
            if (n < cap)
                u[n++] = (struct used){si->field_id, si->key};
        }
    }
    pthread_rwlock_unlock(&c->store->lock);
    *out = u;
    return n;
}

static bool is_used(const struct used *u, size_t n, int64_t field, uint64_t key)
{
    for (size_t i = 0; i < n; i++)
        if (u[i].field == field && u[i].key == key)
            return true;
    return false;
}

/* Removes the files of dir no attached index uses (all of them when c is
 * NULL or dead), and dir itself once empty. A name that cannot be parsed
 * (a temporary file a crash left) is unused too. */
static void sweep_dir(struct qcoll *c, const char *dir)
{
    struct used *u = NULL;
    size_t nu = c && !c->dead && c->store ? used_of(c, &u) : 0;
    DIR *d = opendir(dir);
    char path[4096 + 512];
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        int64_t field;
        uint64_t key;
        char tail[8] = "";
        if (e->d_name[0] == '.')
            continue;
        bool parsed = sscanf(e->d_name, "f%" SCNd64 "-%16" SCNx64 "%7s", &field, &key, tail) == 3 &&
                      strcmp(tail, ".ivf") == 0;
        if (parsed && is_used(u, nu, field, key))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) == 0)
            TM_INFO("query", "removed unused index file %s", path);
    }
    if (d)
        closedir(d);
    free(u);
    rmdir(dir); /* fails, harmlessly, while files remain */
}

static void sweep(struct qidx *x)
{
    DIR *d = opendir(x->dir);
    char path[4096];
    int64_t ids[1024];
    size_t n = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL && n < 1024;)
        if (sscanf(e->d_name, "c%" SCNd64, &ids[n]) == 1)
            n++;
    if (d)
        closedir(d);
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/c%" PRId64, x->dir, ids[i]);
        sweep_dir(tm_query_coll(x->q, ids[i]), path);
    }
}

/* ---- the builder thread ---- */

static void *builder_main(void *arg)
{
    struct qidx *x = arg;
    pthread_setname_np(pthread_self(), "tm-index");
    pthread_mutex_lock(&x->mu);
    while (!x->stop) {
        x->woken = false;
        pthread_mutex_unlock(&x->mu);
        refresh_stale(x);
        bool worked = find_job(x);
        if (worked && !run_job(x))
            return NULL; /* detached by tm_qidx_stop: x is gone */
        pthread_mutex_lock(&x->mu);
        if (!worked && x->sweep_due && x->dir[0]) {
            x->sweep_due = false;
            pthread_mutex_unlock(&x->mu);
            sweep(x);
            pthread_mutex_lock(&x->mu);
        }
        if (!worked && !x->woken && !x->stop) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += IDLE_WAIT_MS / 1000;
            pthread_cond_timedwait(&x->wake, &x->mu, &until);
        }
    }
    pthread_mutex_unlock(&x->mu);
    return NULL;
}

void tm_qidx_wake(struct tm_query_role *q)
{
    struct qidx *x = q->qidx;
    if (!x)
        return;
    pthread_mutex_lock(&x->mu);
    x->woken = true;
    pthread_cond_signal(&x->wake);
    pthread_mutex_unlock(&x->mu);
}

int tm_qidx_init(struct tm_query_role *q, const char *dir)
{
    struct qidx *x = calloc(1, sizeof *x);
    if (!x)
        return TM_ENOMEM;
    x->q = q;
    snprintf(x->dir, sizeof x->dir, "%s", dir ? dir : "");
    pthread_mutex_init(&x->mu, NULL);
    pthread_cond_init(&x->wake, NULL);
    x->sweep_due = true; /* once the start-time work is done */
    tm_buf_init(&x->cur.stolen);
    q->qidx = x;
    return 0;
}

int tm_qidx_run(struct tm_query_role *q)
{
    struct qidx *x = q->qidx;
    if (pthread_create(&x->thread, NULL, builder_main, x))
        return TM_ENOMEM;
    x->started = true;
    return 0;
}

/* A build ends early when told (its watch's stop: within a k-means
 * iteration or an inverted list), but not at once, and a clean stop should
 * not wait even that. So a stop that finds a build running tells it to end
 * and does not wait for it: it takes the vectors the
 * build reads out of their store (nothing else runs in the role now: the
 * tail threads and the RPC server are stopped), leaves the state to the
 * builder and detaches it; the builder frees the index, the vectors and
 * the state when the build returns, touching nothing else, or the process
 * exits first. Any other step of the builder is short and is waited for. */
void tm_qidx_stop(struct tm_query_role *q)
{
    struct qidx *x = q->qidx;
    if (!x)
        return;
    q->qidx = NULL;
    pthread_mutex_lock(&x->mu);
    x->stop = true;
    pthread_cond_signal(&x->wake);
    struct qjob *j = &x->cur;
    j->watch.stop = true; /* a detached build ends within a k-means iteration */
    if (x->in_build && !j->stolen.data) {
        struct tm_col *col = tm_batch_col(&j->c->store->segs[j->seg].rows, j->def.field_id);
        if (col) {
            j->stolen = col->data;
            tm_buf_init(&col->data);
        }
    }
    x->detached = x->in_build;
    bool detach = x->detached;
    pthread_mutex_unlock(&x->mu);
    if (detach) {
        TM_INFO("query", "stopping without waiting for the index build in progress");
        pthread_detach(x->thread);
        return;
    }
    if (x->started)
        pthread_join(x->thread, NULL);
    qidx_free(x);
}

/* ---- calls ---- */

static int parse_ids(struct tm_mpr *body, int64_t *coll, int64_t *field)
{
    *coll = tm_mpr_key_int(*body, "coll", -1);
    *field = tm_mpr_key_int(*body, "field", -1);
    return *coll < 0 ? TM_ECORRUPT : 0;
}

void tm_qidx_call_sync(struct tm_query_role *q, struct tm_mpr *body, struct tm_mpw *reply,
                       struct tm_status *st)
{
    int64_t coll, field;
    (void)reply;
    if (parse_ids(body, &coll, &field)) {
        tm_status_set(st, TM_MV_INTERNAL, "malformed index_sync request");
        return;
    }
    struct qcoll *c = tm_query_coll(q, coll);
    /* A collection the role has not seen reads its definitions when it does. */
    if (c && !c->dead && tm_qidx_refresh(q, c))
        TM_WARN("query", "collection %lld: cannot read its indexes; retrying", (long long)coll);
}

struct progress {
    uint64_t total, indexed;
    bool building;
    const char *state;
    char reason[256];
};

/* Counts c's rows for the index on field. Caller holds the store's read
 * lock and x->mu. */
static void count_progress(struct qcoll *c, int64_t field, struct progress *p)
{
    const struct qidef *def = NULL;
    for (size_t i = 0; i < c->nidefs && !def; i++)
        def = c->idefs[i].field_id == field ? &c->idefs[i] : NULL;
    for (uint32_t i = 0; i < c->store->nsegs; i++) {
        const struct tm_store_seg *sg = &c->store->segs[i];
        p->total += sg->rows.nrows;
        if (!def || !sg->sealed)
            continue; /* growing rows are pending, as in Milvus */
        if (sg->rows.nrows < TM_SEG_INDEX_MIN_ROWS || tm_seg_index_find(sg->ix, field))
            p->indexed += sg->rows.nrows;
        else
            p->building = true;
    }
    if (!def)
        p->indexed = p->total; /* served exactly: nothing to build */
    if (def && def->failed) {
        p->state = "Failed";
        snprintf(p->reason, sizeof p->reason, "%s", def->reason);
    } else if (p->building) {
        p->state = "InProgress";
    }
}

void tm_qidx_call_progress(struct tm_query_role *q, struct tm_mpr *body, struct tm_mpw *reply,
                           struct tm_status *st)
{
    int64_t coll, field;
    struct progress p = {.state = "Finished"};
    if (parse_ids(body, &coll, &field)) {
        tm_status_set(st, TM_MV_INTERNAL, "malformed index_progress request");
        return;
    }
    struct qcoll *c = tm_query_coll(q, coll);
    if (c && !c->dead && c->store) {
        tm_qidx_refresh(q, c); /* on failure, what the role knows */
        pthread_rwlock_rdlock(&c->store->lock);
        pthread_mutex_lock(&q->qidx->mu);
        if (!c->dead)
            count_progress(c, field, &p);
        pthread_mutex_unlock(&q->qidx->mu);
        pthread_rwlock_unlock(&c->store->lock);
    }
    tm_mpw_map(reply, 4);
    tm_mpw_cstr(reply, "state"), tm_mpw_cstr(reply, p.state);
    tm_mpw_cstr(reply, "total"), tm_mpw_uint(reply, p.total);
    tm_mpw_cstr(reply, "indexed"), tm_mpw_uint(reply, p.indexed);
    tm_mpw_cstr(reply, "reason"), tm_mpw_cstr(reply, p.reason);
}
