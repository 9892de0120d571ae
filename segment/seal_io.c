/* Seal ranges as binlog segments (layout in seal_io.h). */
#include "seal_io.h"
#include "store_int.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RANGE_PREFIX_LEN TM_SEAL_PREFIX_LEN

void tm_seal_range_prefix(char out[TM_SEAL_PREFIX_LEN + 1], uint64_t log_index)
{
    snprintf(out, RANGE_PREFIX_LEN + 1, "r%020" PRIu64 "-", log_index);
}

static int deletes_of(const struct tm_seal *seal, enum tm_dtype pk_type, struct tm_seg_deletes *d)
{
    tm_seg_deletes_init(d, pk_type);
    for (uint64_t i = 0; i < seal->ndels; i++) {
        const struct tm_store_del *r = &seal->dels[i];
        struct tm_pk pk = {.is_str = r->skey != NULL, .i = r->ikey, .s = r->skey, .len = r->slen};
        if (pk.is_str != (pk_type == TM_T_VARCHAR))
            return TM_EINVAL;
        int rc = tm_seg_deletes_add(d, &pk, r->ts, r->part_id);
        if (rc)
            return rc;
    }
    return 0;
}

static void add_stats(struct tm_binlog_wstats *sum, const struct tm_binlog_wstats *one)
{
    sum->raw_bytes += one->raw_bytes;
    sum->stored_bytes += one->stored_bytes;
    for (uint32_t i = 0; i < one->nfiles; i++) {
        uint32_t j = 0;
        while (j < sum->nfiles && strcmp(sum->files[j].name, one->files[i].name) != 0)
            j++;
        if (j == sum->nfiles && sum->nfiles == TM_BINLOG_MAX_FILES)
            continue;
        if (j == sum->nfiles)
            sum->files[sum->nfiles++] = (struct tm_binlog_file_stat){
                .field_id = one->files[i].field_id, .type = one->files[i].type};
        memcpy(sum->files[j].name, one->files[i].name, TM_BINLOG_NAME_MAX);
        sum->files[j].raw_bytes += one->files[i].raw_bytes;
        sum->files[j].stored_bytes += one->files[i].stored_bytes;
    }
}

static int list_range(const char *dir, uint64_t log_index, char ***names_out, uint32_t *n_out);

/* Removes what an earlier write of the same range left: a seal replayed
 * after a crash that came before the snapshot behind it was durable writes
 * its range again, with the same rows. */
int tm_seal_remove(const char *dir, uint64_t log_index, char errmsg[TM_BINLOG_ERRMSG])
{
    char **names = NULL, path[4096];
    uint32_t n = 0;
    int rc = list_range(dir, log_index, &names, &n);
    rc = rc == TM_ENOTFOUND ? 0 : rc;
    for (uint32_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (!rc)
            rc = tm_binlog_remove_segment(path, errmsg);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* Writes one segment of the range: part i, or the deletes-only one (part NULL). */
static int write_one(const char *dir, const struct tm_seg_meta *range, uint32_t i,
                     const struct tm_sealed_part *part, const struct tm_seg_deletes *dels,
                     struct tm_binlog_wstats *stats, char *errmsg)
{
    char prefix[RANGE_PREFIX_LEN + 1], path[4096];
    struct tm_seg_meta meta = *range;
    struct tm_batch none;
    struct tm_binlog_wstats one = {0};
    tm_seal_range_prefix(prefix, range->log_index);
    meta.seg_id = range->seg_id + i;
    meta.part_id = part ? part->part_id : -1;
    if (part)
        snprintf(path, sizeof path, "%s/%s%06u-p%" PRId64, dir, prefix, i, part->part_id);
    else
        snprintf(path, sizeof path, "%s/%sd", dir, prefix);
    tm_batch_init(&none);
    int rc = tm_binlog_write_segment(path, &meta, part ? part->rows : &none, part ? part->ts : NULL,
                                     dels, &one, errmsg);
    if (!rc && stats)
        add_stats(stats, &one);
    return rc;
}

/* The range's segments: one per part, the deletes (if any) in the first,
 * or in a segment of their own when there are no rows. */
static int write_parts(const char *dir, const struct tm_seg_meta *range,
                       const struct tm_sealed_part *parts, uint32_t nparts,
                       const struct tm_seg_deletes *dels, struct tm_binlog_wstats *stats_out,
                       uint32_t *nsegs_out, char *errmsg)
{
    int rc = tm_seal_remove(dir, range->log_index, errmsg);
    uint32_t n = 0;
    const struct tm_seg_deletes *d = dels->n ? dels : NULL;
    for (uint32_t i = 0; i < nparts && !rc; i++, n++, d = NULL)
        rc = write_one(dir, range, i, &parts[i], d, stats_out, errmsg);
    if (!rc && nparts == 0 && d) {
        rc = write_one(dir, range, 0, NULL, d, stats_out, errmsg);
        n++;
    }
    if (nsegs_out)
        *nsegs_out = rc ? 0 : n;
    return rc;
}

/* deletes_of, with errmsg set on failure. */
static int deletes_copied(const struct tm_seal *seal, enum tm_dtype pk_type,
                          struct tm_seg_deletes *d, char *errmsg)
{
    int rc = deletes_of(seal, pk_type, d);
    if (rc)
        snprintf(errmsg, TM_BINLOG_ERRMSG, "seal: deletes: %s", tm_strerror(rc));
    return rc;
}

int tm_seal_write(const char *dir, const struct tm_seg_meta *range, const struct tm_seal *seal,
                  enum tm_dtype pk_type, struct tm_binlog_wstats *stats_out, uint32_t *nsegs_out,
                  char errmsg[TM_BINLOG_ERRMSG])
{
    struct tm_seg_deletes dels;
    int rc = deletes_copied(seal, pk_type, &dels, errmsg);
    if (!rc)
        rc =
            write_parts(dir, range, seal->parts, seal->nparts, &dels, stats_out, nsegs_out, errmsg);
    else if (nsegs_out)
        *nsegs_out = 0;
    tm_seg_deletes_free(&dels);
    return rc;
}

/* ---- a range copied to be written on another thread ---- */

int tm_seal_copy(const struct tm_seal *seal, enum tm_dtype pk_type, struct tm_seal_copy *out,
                 char errmsg[TM_BINLOG_ERRMSG])
{
    memset(out, 0, sizeof *out);
    int rc = deletes_copied(seal, pk_type, &out->dels, errmsg);
    out->nparts = seal->nparts;
    out->parts = calloc(seal->nparts ? seal->nparts : 1, sizeof *out->parts);
    out->rows = calloc(seal->nparts ? seal->nparts : 1, sizeof *out->rows);
    if (!rc && (!out->parts || !out->rows)) {
        snprintf(errmsg, TM_BINLOG_ERRMSG, "seal: out of memory");
        rc = TM_ENOMEM;
    }
    /* By value: the store's segment array may move as it grows, the
     * sealed columns themselves do not. */
    for (uint32_t i = 0; !rc && i < seal->nparts; i++) {
        out->rows[i] = *seal->parts[i].rows;
        out->parts[i] = seal->parts[i];
        out->parts[i].rows = &out->rows[i];
    }
    return rc;
}

uint32_t tm_seal_copy_nsegs(const struct tm_seal_copy *c)
{
    return c->nparts ? c->nparts : c->dels.n ? 1 : 0;
}

int tm_seal_copy_write(const char *dir, const struct tm_seg_meta *range,
                       const struct tm_seal_copy *c, char errmsg[TM_BINLOG_ERRMSG])
{
    return write_parts(dir, range, c->parts, c->nparts, &c->dels, NULL, NULL, errmsg);
}

void tm_seal_copy_free(struct tm_seal_copy *c)
{
    free(c->parts);
    free(c->rows); /* copies of the struct only: the columns are the store's */
    tm_seg_deletes_free(&c->dels);
    memset(c, 0, sizeof *c);
}

/* ---- reading ---- */

void tm_seal_owned_free(struct tm_seal_owned *o)
{
    for (uint32_t i = 0; o->rows && i < o->seal.nparts; i++) {
        tm_batch_free(&o->rows[i]);
        tm_buf_free(&o->ts[i]);
    }
    free(o->rows);
    free(o->ts);
    free(o->recs);
    tm_seg_deletes_free(&o->dels);
    tm_seal_free(&o->seal);
    memset(o, 0, sizeof *o);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the range's segment directories, sorted; *n_out of them. */
static int list_range(const char *dir, uint64_t log_index, char ***names_out, uint32_t *n_out)
{
    char prefix[RANGE_PREFIX_LEN + 1];
    tm_seal_range_prefix(prefix, log_index);
    DIR *d = opendir(dir);
    if (!d)
        return TM_ENOTFOUND;
    char **names = NULL;
    uint32_t n = 0;
    int rc = 0;
    for (struct dirent *e; !rc && (e = readdir(d)) != NULL;) {
        if (strncmp(e->d_name, prefix, RANGE_PREFIX_LEN) != 0)
            continue;
        char **grown = realloc(names, (n + 1) * sizeof *names);
        char *copy = strdup(e->d_name);
        if (grown)
            names = grown;
        if (!grown || !copy) {
            free(copy);
            rc = TM_ENOMEM;
        } else {
            names[n++] = copy;
        }
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_name);
    *names_out = names;
    *n_out = n;
    return rc ? rc : n ? 0 : TM_ENOTFOUND;
}

/* The delete records tm_store_load_sealed takes, pointing into o->dels. */
static int make_records(struct tm_seal_owned *o)
{
    o->recs = calloc(o->dels.n + 1, sizeof *o->recs);
    if (!o->recs)
        return TM_ENOMEM;
    const uint64_t *ts = (const uint64_t *)o->dels.ts.data;
    const int64_t *part = (const int64_t *)o->dels.part.data;
    for (uint64_t i = 0; i < o->dels.n; i++) {
        struct tm_pk pk = tm_store_pk_at(&o->dels.pk, (uint32_t)i);
        o->recs[i] = (struct tm_store_del){.ts = ts[i],
                                           .part_id = part[i],
                                           .prev = TM_NO_REF,
                                           .ikey = pk.i,
                                           .skey = pk.is_str ? pk.s : NULL,
                                           .slen = pk.len};
    }
    o->seal.dels = o->recs;
    o->seal.ndels = o->dels.n;
    return 0;
}

/* Reads segment `name`: a part (its rows) or the deletes-only one. */
static int read_one(const char *dir, const char *name, struct tm_seal_owned *o, char *errmsg)
{
    char path[4096];
    struct tm_seg_meta meta;
    struct tm_seg_deletes dels;
    uint32_t i = o->seal.nparts;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    tm_batch_init(&o->rows[i]);
    tm_buf_init(&o->ts[i]);
    int rc = tm_binlog_read_segment(path, &meta, &o->rows[i], &o->ts[i], &dels, errmsg);
    if (rc)
        return rc;
    /* Nothing reads the stats log yet, but a damaged one is reported now,
     * not when a later reader trusts it. */
    struct tm_seg_stats stats;
    rc = tm_binlog_read_stats(path, &stats, errmsg);
    tm_seg_stats_free(&stats);
    if (rc && rc != TM_ENOTFOUND) {
        tm_seg_deletes_free(&dels);
        tm_batch_free(&o->rows[i]);
        tm_buf_free(&o->ts[i]);
        return rc;
    }
    if (dels.n && o->dels.n) {
        tm_seg_deletes_free(&dels);
        return TM_ECORRUPT; /* a range has one set of deletes */
    }
    if (dels.n)
        o->dels = dels;
    else
        tm_seg_deletes_free(&dels);
    if (meta.part_id >= 0) /* not the deletes-only segment */
        o->seal.parts[o->seal.nparts++] = (struct tm_sealed_part){
            .part_id = meta.part_id, .rows = &o->rows[i], .ts = (const uint64_t *)o->ts[i].data};
    else
        tm_batch_free(&o->rows[i]), tm_buf_free(&o->ts[i]);
    return 0;
}

int tm_seal_read(const char *dir, uint64_t log_index, struct tm_seal_owned *out,
                 char errmsg[TM_BINLOG_ERRMSG])
{
    char **names = NULL;
    uint32_t n = 0;
    memset(out, 0, sizeof *out);
    errmsg[0] = '\0';
    int rc = list_range(dir, log_index, &names, &n);
    if (!rc) {
        out->seal.parts = calloc(n, sizeof *out->seal.parts);
        out->rows = calloc(n, sizeof *out->rows);
        out->ts = calloc(n, sizeof *out->ts);
        rc = out->seal.parts && out->rows && out->ts ? 0 : TM_ENOMEM;
    }
    for (uint32_t i = 0; i < n && !rc; i++)
        rc = read_one(dir, names[i], out, errmsg);
    if (!rc)
        rc = make_records(out);
    if (rc == TM_ENOTFOUND || (rc && !errmsg[0]))
        snprintf(errmsg, TM_BINLOG_ERRMSG, "seal range %" PRIu64 " in %s: %s", log_index, dir,
                 tm_strerror(rc));
    for (uint32_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}
