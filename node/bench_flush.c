/* `tidemark bench flush`: in-process cost of sealing a store into binlogs
 * and of loading them back, straight against a struct tm_store (no server,
 * no WAL), so the numbers are those of tm_store_seal, tm_seal_write and
 * tm_seal_read + tm_store_load_sealed.
 *
 * The history: --rows rows written to one partition of a store (Int64 pk
 * id, FloatVector vec, Int64 tag in [0, 100), Double price, VarChar name
 * "user_<k>", JSON meta {"a": n, "b": "x"}, Bool flag) in entries of at
 * most BATCH_ROWS rows, seeded: vectors are uniform random floats. A
 * --upserts share of the rows rewrites existing keys (UPSERT entries) and
 * --deletes times the rows written deletes existing keys (DELETE entries),
 * so the seals carry superseded versions and deltalogs.
 *
 * Two runs write that same history into fresh stores. "1 seal" seals once
 * at the end; "N ranges" seals every rows/N rows. Entries are split at the
 * range boundaries in both runs, so both stores hold identical data. Each
 * seal is tm_store_seal under the write lock, then tm_seal_write (zstd,
 * fsync of every file, rename, directory fsync) outside it, as a query
 * replica does; both are timed. Then a restart: a fresh store loads every
 * range back, oldest first, timed, after the page cache of the files was
 * dropped (posix_fadvise; --warm skips that). Every store is checked
 * against the first one (count, a filtered count and NPOINTS point reads,
 * all at ts UINT64_MAX): a benchmark of a store that lost rows is
 * worthless, so a mismatch fails the run.
 *
 * Memory: the first run's store is freed before anything is loaded, so at
 * most two copies of the data are alive (a range read back and the store it
 * is loaded into). Disk: one copy at a time (two with --keep).
 */
#include "bench_util.h"
#include "expr.h"
#include "seal_io.h"
#include "store.h"
#include "tm_err.h"
#include "tm_time.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <unistd.h>

int tm_bench_flush_main(int argc, char **argv);

#define BATCH_ROWS 10000 /* rows per entry at most */
#define MAX_ROWS 100000000u
#define MAX_DIM 32768u
#define MAX_RANGES 1024u
#define MAX_VEC_BYTES (8ull << 30)
#define NAME_KEYS 100000 /* names are "user_<k>", k uniform in [0, NAME_KEYS) */
#define TAG_RANGE 100
#define NPOINTS 16
/* Keys picked by one entry are base + i * KEY_STRIDE modulo the keys that
 * exist: a prime above MAX_ROWS is coprime with that count, so the keys of
 * an entry are distinct. */
#define KEY_STRIDE 2147483647ll
/* Per-row bytes besides the vector, in memory (columns, timestamp,
 * version link and pk index, roughly) and in a binlog. */
#define ROW_MEM_EXTRA 128u
#define ROW_DISK_EXTRA 96u

static const char g_filter[] = "tag < 10 and flag == true and name like \"user_1%\"";

/* Field ids: tm_schema_validate numbers fields from 100 in order. */
enum { F_ID = 100, F_VEC, F_TAG, F_PRICE, F_NAME, F_META, F_FLAG, NFIELDS = 7 };

struct bf_cfg {
    uint32_t rows, dim, ranges;
    double upserts, deletes;
    const char *parent;
    bool keep, warm;
    uint64_t seed;
};

/* ---- the write history ---- */

/* Deterministic in the seed: two generators apply identical entries. */
struct bf_gen {
    const struct bf_cfg *cfg;
    const struct tm_schema *sc;
    uint64_t rng, ts;
    int64_t next_id; /* keys [0, next_id) were inserted */
    uint64_t written, upserts, deletes;
    double up_credit, del_credit;     /* fractional upserts and deletes owed */
    int64_t last_upsert, last_delete; /* -1: none yet */
    float *vec;
};

/* Appends the row of key id to b, its values drawn from g. */
static int push_row(struct bf_gen *g, struct tm_batch *b, int64_t id)
{
    for (uint32_t i = 0; i < g->cfg->dim; i++)
        g->vec[i] = tm_bench_rng_float(&g->rng);
    int64_t tag = (int64_t)(tm_bench_rng_next(&g->rng) % TAG_RANGE);
    double price = (double)(tm_bench_rng_next(&g->rng) % 1000000) / 100.0;
    uint64_t r = tm_bench_rng_next(&g->rng);
    uint8_t flag = (uint8_t)(r & 1);
    char name[32], meta[64];
    int nlen = snprintf(name, sizeof name, "user_%u", (unsigned)((r >> 1) % NAME_KEYS));
    int mlen = snprintf(meta, sizeof meta, "{\"a\": %u, \"b\": \"%c\"}",
                        (unsigned)((r >> 24) % 1000), "xyz"[(r >> 40) % 3]);
    int rc;
    if ((rc = tm_col_push(tm_batch_col(b, F_ID), &id, sizeof id)) ||
        (rc = tm_col_push(tm_batch_col(b, F_VEC), g->vec, (size_t)g->cfg->dim * sizeof *g->vec)) ||
        (rc = tm_col_push(tm_batch_col(b, F_TAG), &tag, sizeof tag)) ||
        (rc = tm_col_push(tm_batch_col(b, F_PRICE), &price, sizeof price)) ||
        (rc = tm_col_push(tm_batch_col(b, F_NAME), name, (size_t)nlen)) ||
        (rc = tm_col_push(tm_batch_col(b, F_META), meta, (size_t)mlen)))
        return rc;
    return tm_col_push(tm_batch_col(b, F_FLAG), &flag, sizeof flag);
}

/* Applies one entry at the next timestamp. */
static int apply(struct tm_store *s, struct bf_gen *g, enum tm_entry_kind kind,
                 const struct tm_batch *rows, const struct tm_batch *pks)
{
    struct tm_entry_hdr h = {
        .version = TM_ENTRY_VERSION, .kind = kind, .ts = ++g->ts, .coll_id = 1, .part_id = 1};
    pthread_rwlock_wrlock(&s->lock);
    int rc = tm_store_apply(s, &h, rows, pks, F_ID);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* One entry of n keys: new ones (INSERT), or distinct existing ones
 * (UPSERT, DELETE; n <= next_id). */
static int gen_entry(struct tm_store *s, struct bf_gen *g, enum tm_entry_kind kind, uint32_t n)
{
    struct tm_batch rows, pks;
    bool has_rows = kind != TM_ENTRY_DELETE, has_pks = kind != TM_ENTRY_INSERT;
    tm_batch_init(&rows);
    tm_batch_init(&pks);
    int rc = has_rows ? tm_batch_layout_from_schema(&rows, g->sc) : 0;
    if (!rc && has_pks && !tm_batch_add_col(&pks, F_ID, TM_T_INT64, 8, false))
        rc = TM_EINVAL;
    int64_t base = has_pks ? (int64_t)(tm_bench_rng_next(&g->rng) % (uint64_t)g->next_id) : 0,
            id = 0;
    for (uint32_t i = 0; !rc && i < n; i++) {
        id = has_pks ? (base + i * KEY_STRIDE) % g->next_id : g->next_id + i;
        if (has_pks)
            rc = tm_col_push(&pks.cols[0], &id, sizeof id);
        if (!rc && has_rows)
            rc = push_row(g, &rows, id);
    }
    rows.nrows = has_rows ? n : 0;
    pks.nrows = has_pks ? n : 0;
    if (!rc)
        rc = apply(s, g, kind, has_rows ? &rows : NULL, has_pks ? &pks : NULL);
    tm_batch_free(&rows);
    tm_batch_free(&pks);
    if (kind == TM_ENTRY_INSERT)
        g->next_id += n;
    else if (kind == TM_ENTRY_UPSERT)
        g->upserts += n, g->last_upsert = id;
    else
        g->deletes += n, g->last_delete = id;
    return rc;
}

/* c more rows written: inserts of new keys, then the upserts and deletes
 * owed so far (never more keys than exist). */
static int gen_chunk(struct tm_store *s, struct bf_gen *g, uint32_t c)
{
    g->up_credit += c * g->cfg->upserts;
    uint64_t nu = (uint64_t)g->up_credit;
    nu = nu < c ? nu : c;
    if (g->next_id == 0 || (int64_t)nu > g->next_id + (int64_t)(c - nu))
        nu = 0; /* the very first rows: no key to upsert yet */
    g->up_credit -= (double)nu;
    int rc = c > nu ? gen_entry(s, g, TM_ENTRY_INSERT, c - (uint32_t)nu) : 0;
    if (!rc && nu)
        rc = gen_entry(s, g, TM_ENTRY_UPSERT, (uint32_t)nu);
    g->del_credit += c * g->cfg->deletes;
    uint64_t nd = (uint64_t)g->del_credit;
    nd = (int64_t)nd < g->next_id ? nd : (uint64_t)g->next_id;
    g->del_credit -= (double)nd;
    if (!rc && nd)
        rc = gen_entry(s, g, TM_ENTRY_DELETE, (uint32_t)nd);
    g->written += c;
    return rc;
}

/* Writes entries until `upto` rows were written (inserts + upserts). */
static int gen_until(struct tm_store *s, struct bf_gen *g, uint64_t upto)
{
    int rc = 0;
    while (!rc && g->written < upto) {
        uint64_t c = upto - g->written;
        rc = gen_chunk(s, g, (uint32_t)(c < BATCH_ROWS ? c : BATCH_ROWS));
    }
    return rc;
}

static struct tm_store *store_make(const struct tm_schema *sc)
{
    struct tm_store *s = tm_store_new(1);
    if (s && tm_store_set_schema(s, sc)) {
        tm_store_free(s);
        s = NULL;
    }
    return s;
}

/* ---- what a store reads: the check of every run ---- */

struct bf_probe {
    uint64_t count, fcount; /* visible keys; of them, matching g_filter */
    uint32_t found;         /* point reads that found their key */
    struct tm_mpw points;   /* the point reads' rows, msgpack */
};

/* The point-read keys: spread over the key space, plus the last upserted
 * and the last deleted key (so a lost version or delete shows). */
static uint32_t probe_keys(const struct bf_gen *g, int64_t keys[NPOINTS])
{
    uint32_t n = 0;
    for (; n < NPOINTS - 2; n++)
        keys[n] = g->next_id * n / (NPOINTS - 3);
    keys[n - 1] = g->next_id - 1;
    if (g->last_upsert >= 0)
        keys[n++] = g->last_upsert;
    if (g->last_delete >= 0)
        keys[n++] = g->last_delete;
    return n;
}

static int probe(struct tm_store *s, const int64_t *keys, uint32_t nkeys, struct bf_probe *p)
{
    static const int64_t fields[] = {F_VEC, F_TAG, F_PRICE, F_NAME, F_META, F_FLAG};
    struct tm_store_read q = {.ts = UINT64_MAX, .fields = fields, .nfields = NFIELDS - 1};
    struct tm_status st = {0};
    struct tm_batch pks, out;
    struct tm_expr *e = NULL;
    tm_mpw_init(&p->points);
    tm_batch_init(&pks);
    tm_batch_init(&out);
    struct tm_col *pkc = tm_batch_add_col(&pks, F_ID, TM_T_INT64, 8, false);
    int rc = tm_expr_parse(g_filter, NULL, s->schema, &e, &st);
    for (uint32_t i = 0; !rc && i < nkeys; i++)
        rc = tm_col_push(pkc, &keys[i], sizeof keys[i]);
    pks.nrows = nkeys;
    pthread_rwlock_rdlock(&s->lock);
    if (!rc)
        rc = tm_store_count(s, &q, &p->count);
    if (!rc)
        rc = tm_store_read(s, &pks, &q, &out);
    q.filter = e;
    if (!rc)
        rc = tm_store_count(s, &q, &p->fcount);
    pthread_rwlock_unlock(&s->lock);
    p->found = out.nrows;
    tm_batch_encode(&p->points, &out);
    if (!rc)
        rc = tm_mpw_error(&p->points);
    if (rc)
        fprintf(stderr, "bench: reading the store: %s\n",
                rc == TM_ESTATUS ? st.msg : tm_strerror(rc));
    tm_expr_free(e);
    tm_batch_free(&pks);
    tm_batch_free(&out);
    return rc;
}

/* 0 if s reads as `want` did, else -1 after saying what differs. */
static int verify(struct tm_store *s, const int64_t *keys, uint32_t nkeys,
                  const struct bf_probe *want, const char *what)
{
    struct bf_probe got;
    int rc = probe(s, keys, nkeys, &got);
    if (!rc && (got.count != want->count || got.fcount != want->fcount ||
                got.points.buf.len != want->points.buf.len ||
                memcmp(got.points.buf.data, want->points.buf.data, got.points.buf.len))) {
        fprintf(stderr,
                "bench: WRONG ANSWER after %s: count %llu (want %llu), filtered %llu (want "
                "%llu), point reads %s\n",
                what, (unsigned long long)got.count, (unsigned long long)want->count,
                (unsigned long long)got.fcount, (unsigned long long)want->fcount,
                got.points.buf.len == want->points.buf.len &&
                        !memcmp(got.points.buf.data, want->points.buf.data, got.points.buf.len)
                    ? "equal"
                    : "DIFFER");
        rc = -1;
    }
    tm_mpw_free(&got.points);
    return rc ? -1 : 0;
}

/* ---- the runs ---- */

struct bf_run {
    const char *label;
    uint32_t nseals; /* ranges written */
    uint32_t nsegs;
    uint64_t fill_ns, seal_ns, write_ns, read_ns, load_ns;
    struct tm_binlog_wstats st; /* summed over the ranges, by file name */
    char dir[PATH_MAX];         /* the shard directory the ranges go to */
};

/* Seals s and writes the range at log_index into run->dir. */
static int seal_one(struct tm_store *s, struct bf_run *run, uint64_t log_index, uint64_t last_ts)
{
    struct tm_seal seal;
    struct tm_seg_meta range = {.seg_id = (int64_t)log_index << 10,
                                .coll_id = 1,
                                .pk_field_id = F_ID,
                                .log_index = log_index,
                                .last_ts = last_ts};
    char err[TM_BINLOG_ERRMSG] = "";
    uint32_t nsegs = 0;
    uint64_t t0 = tm_mono_ns();
    pthread_rwlock_wrlock(&s->lock);
    int rc = tm_store_seal(s, &seal);
    pthread_rwlock_unlock(&s->lock);
    uint64_t t1 = tm_mono_ns();
    /* Outside the lock: sealed rows are immutable until the store is
     * cleared or freed (store.h), as when a replica flushes. */
    if (!rc)
        rc = tm_seal_write(run->dir, &range, &seal, TM_T_INT64, &run->st, &nsegs, err);
    run->seal_ns += t1 - t0;
    run->write_ns += tm_mono_ns() - t1;
    run->nsegs += nsegs;
    run->nseals++;
    if (rc)
        fprintf(stderr, "bench: seal %llu: %s\n", (unsigned long long)log_index,
                err[0] ? err : tm_strerror(rc));
    tm_seal_free(&seal);
    return rc;
}

/* Writes the history into a fresh store, sealing at every range boundary
 * (seal_each) or once at the end. The first run (!want) records what its
 * store reads into *want and the point keys; later runs are checked
 * against it. The store is freed before returning. */
static int run_write(const struct bf_cfg *cfg, const struct tm_schema *sc, bool seal_each,
                     struct bf_run *run, struct bf_gen *g, struct bf_probe *want, bool first,
                     int64_t keys[NPOINTS], uint32_t *nkeys)
{
    struct tm_store *s = store_make(sc);
    *g = (struct bf_gen){
        .cfg = cfg, .sc = sc, .rng = cfg->seed ^ 0xf1005ull, .last_upsert = -1, .last_delete = -1};
    g->vec = malloc((size_t)cfg->dim * sizeof *g->vec);
    int rc = s && g->vec ? 0 : TM_ENOMEM;
    for (uint32_t r = 1; !rc && r <= cfg->ranges; r++) {
        uint64_t t0 = tm_mono_ns();
        rc = gen_until(s, g, (uint64_t)cfg->rows * r / cfg->ranges);
        run->fill_ns += tm_mono_ns() - t0;
        if (rc)
            fprintf(stderr, "bench: applying entries: %s\n", tm_strerror(rc));
        else if (seal_each || r == cfg->ranges)
            rc = seal_one(s, run, run->nseals + 1, g->ts);
    }
    if (!rc && first) {
        *nkeys = probe_keys(g, keys);
        rc = probe(s, keys, *nkeys, want);
    } else if (!rc) {
        rc = verify(s, keys, *nkeys, want, "writing the same history again");
    }
    free(g->vec);
    g->vec = NULL;
    tm_store_free(s);
    return rc;
}

static int evict_file(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)ftw;
    int fd = type == FTW_F ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        /* The files were fsynced, so their pages are clean and can go. */
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
    return 0;
}

/* The restart: a fresh store loads every range of run->dir, oldest first. */
static int run_restart(const struct bf_cfg *cfg, const struct tm_schema *sc, struct bf_run *run,
                       const struct bf_probe *want, const int64_t *keys, uint32_t nkeys)
{
    char err[TM_BINLOG_ERRMSG] = "";
    if (!cfg->warm)
        nftw(run->dir, evict_file, 16, FTW_PHYS);
    struct tm_store *s = store_make(sc);
    int rc = s ? 0 : TM_ENOMEM;
    for (uint64_t li = 1; !rc && li <= run->nseals; li++) {
        struct tm_seal_owned o;
        uint64_t t0 = tm_mono_ns();
        rc = tm_seal_read(run->dir, li, &o, err);
        uint64_t t1 = tm_mono_ns();
        pthread_rwlock_wrlock(&s->lock);
        if (!rc && (rc = tm_store_load_sealed(s, &o.seal)))
            snprintf(err, sizeof err, "loading range %llu: %s", (unsigned long long)li,
                     tm_strerror(rc));
        pthread_rwlock_unlock(&s->lock);
        run->read_ns += t1 - t0;
        run->load_ns += tm_mono_ns() - t1;
        tm_seal_owned_free(&o);
    }
    if (rc)
        fprintf(stderr, "bench: restart of %s: %s\n", run->label, err[0] ? err : tm_strerror(rc));
    else
        rc = verify(s, keys, nkeys, want, "a restart");
    tm_store_free(s);
    return rc;
}

/* ---- the report ---- */

static double mb(uint64_t bytes)
{
    return (double)bytes / 1e6;
}

static double secs(uint64_t ns)
{
    return (double)ns / 1e9;
}

/* Raw bytes of the column binlogs (field columns and row timestamps). */
static uint64_t col_raw(const struct tm_binlog_wstats *st, uint64_t *stored_out)
{
    uint64_t raw = 0;
    *stored_out = 0;
    for (uint32_t i = 0; i < st->nfiles; i++) {
        size_t len = strlen(st->files[i].name);
        if (len > 4 && strcmp(st->files[i].name + len - 4, ".col") == 0) {
            raw += st->files[i].raw_bytes;
            *stored_out += st->files[i].stored_bytes;
        }
    }
    return raw;
}

static void print_seal_row(const struct bf_run *r)
{
    uint64_t stored, raw = col_raw(&r->st, &stored);
    double t = secs(r->seal_ns + r->write_ns);
    printf("%-10s %6u %5u %7.2f %8.3f %8.3f %11.1f %10.1f %6.3f %8.1f\n", r->label, r->nseals,
           r->nsegs, secs(r->fill_ns), (double)r->seal_ns / 1e6, secs(r->write_ns), mb(raw),
           mb(stored), stored ? (double)raw / (double)stored : 0.0, t > 0 ? mb(raw) / t : 0.0);
}

/* What a binlog file holds: its field's name, or what the file is for. */
static const char *file_what(const struct tm_schema *sc, const struct tm_binlog_file_stat *f,
                             const char **type_out)
{
    const struct tm_field *fd = tm_schema_field_by_id(sc, f->field_id);
    size_t len = strlen(f->name);
    bool col = len > 4 && strcmp(f->name + len - 4, ".col") == 0;
    *type_out = "-";
    if (col && f->field_id == TM_BINLOG_TS_FIELD) {
        *type_out = "uint64";
        return "(row ts)";
    }
    if (col && fd) {
        *type_out = tm_dtype_name(fd->type) ? tm_dtype_name(fd->type) : "?";
        return fd->name;
    }
    return !strcmp(f->name, "delta.log")   ? "(deletes)"
           : !strcmp(f->name, "stats.log") ? "(pk stats)"
           : !strcmp(f->name, "MANIFEST")  ? "(manifest)"
                                           : "?";
}

static const struct tm_binlog_file_stat *file_by_name(const struct tm_binlog_wstats *st,
                                                      const char *name)
{
    for (uint32_t i = 0; i < st->nfiles; i++)
        if (!strcmp(st->files[i].name, name))
            return &st->files[i];
    return NULL;
}

static double ratio(const struct tm_binlog_file_stat *f)
{
    return f && f->stored_bytes ? (double)f->raw_bytes / (double)f->stored_bytes : 0.0;
}

/* Per file (so per field and type): the first run's bytes and ratio, and
 * the ratio of the other run when there is one. */
static void print_files(const struct tm_schema *sc, const struct bf_run *one,
                        const struct bf_run *many)
{
    printf("\nper file: the bytes of the 1-seal run; ratio = raw / stored of each run\n");
    printf("%-10s %-10s %-12s %10s %10s %8s %9s\n", "file", "field", "type", "raw MB", "stored MB",
           one->label, many ? many->label : "");
    for (uint32_t i = 0; i < one->st.nfiles; i++) {
        const struct tm_binlog_file_stat *f = &one->st.files[i];
        const char *type, *what = file_what(sc, f, &type);
        printf("%-10s %-10s %-12s %10.3f %10.3f %8.2f", f->name, what, type, mb(f->raw_bytes),
               mb(f->stored_bytes), ratio(f));
        if (many)
            printf(" %9.2f", ratio(file_by_name(&many->st, f->name)));
        printf("\n");
    }
    const struct tm_binlog_file_stat all = {.raw_bytes = one->st.raw_bytes,
                                            .stored_bytes = one->st.stored_bytes};
    printf("%-10s %-10s %-12s %10.3f %10.3f %8.2f", "total", "", "", mb(all.raw_bytes),
           mb(all.stored_bytes), ratio(&all));
    if (many) {
        const struct tm_binlog_file_stat mall = {.raw_bytes = many->st.raw_bytes,
                                                 .stored_bytes = many->st.stored_bytes};
        printf(" %9.2f", ratio(&mall));
    }
    printf("\nraw counts the in-memory column bytes, end offsets included. Random float\n"
           "vectors are nearly incompressible (only the exponent bytes repeat); real\n"
           "embeddings compress a little better.\n");
}

static void print_restart_row(const struct bf_run *r, uint64_t rows)
{
    double t = secs(r->read_ns + r->load_ns);
    printf("%-10s %6u %8.3f %8.3f %8.3f %9.2f %9.1f\n", r->label, r->nseals, secs(r->read_ns),
           secs(r->load_ns), t, t > 0 ? (double)rows / t / 1e6 : 0.0,
           t > 0 ? mb(r->st.stored_bytes) / t : 0.0);
}

/* ---- the directory ---- */

static const char *fs_name(long type)
{
    switch (type) {
    case 0xEF53:
        return "ext2/3/4";
    case 0x58465342:
        return "xfs";
    case 0x9123683E:
        return "btrfs";
    case 0x01021994:
        return "tmpfs (fsync is free here: not a disk number)";
    case 0x794c7630:
        return "overlayfs";
    default:
        return "other fs";
    }
}

static int remove_file(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)type, (void)ftw;
    if (remove(path))
        fprintf(stderr, "bench: cannot remove %s: %s\n", path, strerror(errno));
    return 0;
}

static void remove_tree(const char *dir)
{
    nftw(dir, remove_file, 16, FTW_DEPTH | FTW_PHYS);
}

/* MemAvailable in bytes, or 0 when /proc/meminfo says nothing. */
static uint64_t mem_available(void)
{
    char line[256];
    unsigned long long kb = 0;
    FILE *f = fopen("/proc/meminfo", "r");
    while (f && fgets(line, sizeof line, f) && sscanf(line, "MemAvailable: %llu kB", &kb) != 1)
        ;
    if (f)
        fclose(f);
    return (uint64_t)kb * 1024;
}

/* Makes the run directory under cfg->parent and checks that the run fits
 * in memory and on the disk; -1 after printing why not. */
static int make_dir(const struct bf_cfg *cfg, char dir[PATH_MAX])
{
    struct statvfs vfs;
    struct statfs fs;
    uint64_t vec = (uint64_t)cfg->rows * cfg->dim * sizeof(float);
    uint64_t mem = 2 * (vec + (uint64_t)cfg->rows * ROW_MEM_EXTRA), avail = mem_available();
    uint64_t disk = (cfg->keep ? 2 : 1) * (vec + (uint64_t)cfg->rows * ROW_DISK_EXTRA);
    if (vec > MAX_VEC_BYTES || (avail && mem > avail)) {
        fprintf(stderr, "bench: %u rows x %u-d need about %llu MiB of memory (%llu available)\n",
                cfg->rows, cfg->dim, (unsigned long long)(mem >> 20),
                (unsigned long long)(avail >> 20));
        return -1;
    }
    if (snprintf(dir, PATH_MAX, "%s/tm-bench-flush-XXXXXX", cfg->parent) >= PATH_MAX ||
        !mkdtemp(dir)) {
        fprintf(stderr, "bench: cannot make a directory under %s: %s\n", cfg->parent,
                strerror(errno));
        return -1;
    }
    uint64_t avail_disk = statvfs(dir, &vfs) ? 0 : (uint64_t)vfs.f_bavail * vfs.f_frsize;
    printf("dir: %s on %s, %.1f GiB free (%s at the end)\n", dir,
           statfs(dir, &fs) ? "?" : fs_name((long)fs.f_type), (double)avail_disk / 1073741824.0,
           cfg->keep ? "kept" : "removed");
    if (avail_disk < disk + (64ull << 20)) {
        fprintf(stderr, "bench: the binlogs need about %llu MiB on the disk\n",
                (unsigned long long)(disk >> 20));
        remove_tree(dir);
        return -1;
    }
    return 0;
}

/* ---- options ---- */

static const char g_usage[] =
    "usage: tidemark bench flush [--rows 1000000] [--dim 128] [--ranges 8]\n"
    "                            [--upserts 0] [--deletes 0] [--dir /tmp] [--keep]\n"
    "                            [--warm] [--seed 1]\n"
    "\n"
    "In process, no server. Writes --rows rows (Int64 pk, --dim float vector, Int64,\n"
    "Double, VarChar, JSON, Bool; --upserts of them rewrite existing keys, and\n"
    "--deletes x rows keys are deleted) into a store, seals it once and writes the\n"
    "binlogs into a new directory under --dir, then does the same sealing every\n"
    "rows/--ranges rows. Reports seal throughput (raw column MB/s, zstd + fsync\n"
    "included), compression per field, and the restart time (binlogs read back into a\n"
    "fresh store, page cache dropped first unless --warm), checked against the\n"
    "original store. The directory is removed at the end unless --keep.\n";

static bool parse_frac(const char *s, double hi, double *out)
{
    char *end;
    *out = strtod(s, &end);
    return end != s && !*end && *out >= 0 && *out <= hi;
}

static int parse_opts(int argc, char **argv, struct bf_cfg *cfg)
{
    static const struct option opts[] = {{"rows", required_argument, 0, 'r'},
                                         {"dim", required_argument, 0, 'd'},
                                         {"ranges", required_argument, 0, 'R'},
                                         {"upserts", required_argument, 0, 'u'},
                                         {"deletes", required_argument, 0, 'x'},
                                         {"dir", required_argument, 0, 'D'},
                                         {"keep", no_argument, 0, 'k'},
                                         {"warm", no_argument, 0, 'w'},
                                         {"seed", required_argument, 0, 'S'},
                                         {"help", no_argument, 0, 'H'},
                                         {0, 0, 0, 0}};
    char *end;
    bool ok = true;
    int c;
    optind = 2;
    while (ok && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            ok = tm_bench_parse_u32(optarg, 1, MAX_ROWS, &cfg->rows);
            break;
        case 'd':
            ok = tm_bench_parse_u32(optarg, 2, MAX_DIM, &cfg->dim);
            break;
        case 'R':
            ok = tm_bench_parse_u32(optarg, 1, MAX_RANGES, &cfg->ranges);
            break;
        case 'u':
            ok = parse_frac(optarg, 0.9, &cfg->upserts);
            break;
        case 'x':
            ok = parse_frac(optarg, 1.0, &cfg->deletes);
            break;
        case 'D':
            cfg->parent = optarg;
            break;
        case 'k':
            cfg->keep = true;
            break;
        case 'w':
            cfg->warm = true;
            break;
        case 'S':
            cfg->seed = strtoull(optarg, &end, 10);
            ok = end != optarg && !*end;
            break;
        case 'H':
            fputs(g_usage, stdout);
            return 1;
        default:
            ok = false;
        }
    }
    if (ok && cfg->ranges > cfg->rows) {
        fprintf(stderr, "bench: --ranges must not exceed --rows\n");
        ok = false;
    }
    if (!ok || optind < argc) {
        fputs(g_usage, stderr);
        return 2;
    }
    return 0;
}

/* ---- main ---- */

static void print_data(const struct bf_cfg *cfg, const struct bf_gen *g, const struct bf_probe *p,
                       uint32_t nkeys)
{
    printf("data: %llu rows written (%llu inserts, %llu upserts), %llu deletes, %llu entries\n"
           "      %llu keys visible, %u of %u point reads found; vec %u-d uniform random floats,\n"
           "      seed %llu\n\n",
           (unsigned long long)g->written, (unsigned long long)(g->written - g->upserts),
           (unsigned long long)g->upserts, (unsigned long long)g->deletes,
           (unsigned long long)g->ts, (unsigned long long)p->count, p->found, nkeys, cfg->dim,
           (unsigned long long)cfg->seed);
}

/* Both runs, their restarts and the report; dir exists and is empty. */
static int bench(const struct bf_cfg *cfg, const struct tm_schema *sc, const char *dir)
{
    struct bf_run runs[2] = {{.label = "1 seal"}, {.label = "ranges"}};
    char label[32];
    int nruns = cfg->ranges > 1 ? 2 : 1, rc = 0;
    struct bf_probe want = {0};
    struct bf_gen g;
    int64_t keys[NPOINTS];
    uint32_t nkeys = 0;
    snprintf(label, sizeof label, "%u ranges", cfg->ranges);
    runs[1].label = label;
    for (int i = 0; i < nruns; i++)
        if (snprintf(runs[i].dir, sizeof runs[i].dir, "%s/%s", dir, i ? "ranges" : "one") >=
            (int)sizeof runs[i].dir)
            rc = -1;
    if (rc)
        fprintf(stderr, "bench: %s: path too long\n", dir);
    tm_mpw_init(&want.points);
    for (int i = 0; !rc && i < nruns; i++) {
        rc = run_write(cfg, sc, i > 0, &runs[i], &g, &want, i == 0, keys, &nkeys);
        if (!rc && i == 0)
            print_data(cfg, &g, &want, nkeys);
        if (!rc)
            rc = run_restart(cfg, sc, &runs[i], &want, keys, nkeys);
        if (!cfg->keep)
            remove_tree(runs[i].dir);
    }
    if (!rc) {
        printf("%-10s %6s %5s %7s %8s %8s %11s %10s %6s %8s\n", "sealing", "ranges", "segs",
               "fill s", "seal ms", "write s", "col raw MB", "stored MB", "ratio", "MB/s");
        for (int i = 0; i < nruns; i++)
            print_seal_row(&runs[i]);
        printf("MB/s = raw bytes of the column binlogs (*.col: fields and row timestamps)\n"
               "per second of seal + write; MB = 10^6 bytes. seal = tm_store_seal under the\n"
               "write lock; write = tm_seal_write: zstd, fsync of every file, renames and\n"
               "directory fsyncs. fill (applying the entries) is not part of it.\n");
        print_files(sc, &runs[0], nruns > 1 ? &runs[1] : NULL);
        printf("\n%-10s %6s %8s %8s %8s %9s %9s\n", "restart", "ranges", "read s", "load s",
               "total s", "Mrows/s", "MB/s");
        for (int i = 0; i < nruns; i++)
            print_restart_row(&runs[i], cfg->rows);
        printf("read = tm_seal_read (checksums, zstd); load = tm_store_load_sealed (copy,\n"
               "version links, pk index); MB/s = stored MB read per second.\n"
               "Page cache %s.\n"
               "Checked after each run and restart: count %llu, filtered count %llu\n"
               "(%s)\nand %u point reads equal the first store's.\n",
               cfg->warm ? "kept (--warm)" : "dropped before each restart (posix_fadvise)",
               (unsigned long long)want.count, (unsigned long long)want.fcount, g_filter, nkeys);
    }
    tm_mpw_free(&want.points);
    return rc;
}

int tm_bench_flush_main(int argc, char **argv)
{
    static const struct tm_bench_field defs[NFIELDS] = {
        {"id", TM_T_INT64},     {"vec", TM_T_FLOAT_VECTOR}, {"tag", TM_T_INT64},
        {"price", TM_T_DOUBLE}, {"name", TM_T_VARCHAR},     {"meta", TM_T_JSON},
        {"flag", TM_T_BOOL}};
    struct bf_cfg cfg = {.rows = 1000000, .dim = 128, .ranges = 8, .parent = "/tmp", .seed = 1};
    struct tm_schema sc;
    char dir[PATH_MAX];
    int rc = parse_opts(argc, argv, &cfg);
    if (rc)
        return rc == 1 ? 0 : rc;
    tm_bench_print_machine(argc, argv);
    rc = tm_bench_schema(&sc, defs, NFIELDS, cfg.dim, 64);
    if (!rc)
        rc = make_dir(&cfg, dir);
    fflush(stdout);
    if (!rc) {
        rc = bench(&cfg, &sc, dir);
        if (!cfg.keep)
            remove_tree(dir);
    }
    tm_schema_free(&sc);
    return rc ? 1 : 0;
}
