/* Reading texmex .fvecs, .bvecs and .ivecs files (texmex.h).
 *
 * The file's size decides how many rows there are: the first row's count
 * gives the row size, so a file of size S holds S / row-size whole rows.
 * Each of them is read and its count checked against the first, then what
 * is left after the last whole row (when the caller asked for every row) is
 * looked at, so a torn last row is reported as a truncation and a row of
 * another size as corruption, each with its offset. Every loop is bounded
 * by that row count, itself bounded by the file size and TM_TEXMEX_MAX_BYTES.
 */
#include "texmex.h"
#include "tm_err.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>
#include <sys/stat.h>

/* One file being read. */
struct tx_file {
    const char *path;
    FILE *f;
    uint64_t size;
    enum tm_texmex_kind kind;
    uint32_t dim;
    size_t elt; /* bytes per value */
    char *errmsg;
    size_t errmsg_len;
};

static int tx_fail(const struct tx_file *tx, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fills errmsg with "<path>: <message>" and returns rc. */
static int tx_fail(const struct tx_file *tx, int rc, const char *fmt, ...)
{
    if (!tx->errmsg || !tx->errmsg_len)
        return rc;
    int used = snprintf(tx->errmsg, tx->errmsg_len, "%s: ", tx->path);
    if (used >= 0 && (size_t)used < tx->errmsg_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(tx->errmsg + used, tx->errmsg_len - (size_t)used, fmt, ap);
        va_end(ap);
    }
    return rc;
}

int tm_texmex_kind_of(const char *path, enum tm_texmex_kind *kind_out)
{
    static const char *const exts[] = {".fvecs", ".bvecs", ".ivecs"};
    static const enum tm_texmex_kind kinds[] = {TM_TEXMEX_FVECS, TM_TEXMEX_BVECS, TM_TEXMEX_IVECS};
    size_t len = path ? strlen(path) : 0;
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        size_t el = strlen(exts[i]);
        if (len > el && strcmp(path + len - el, exts[i]) == 0) {
            *kind_out = kinds[i];
            return 0;
        }
    }
    return TM_EINVAL;
}

/* The error of a short fread at offset off: a read error, or the end of
 * the file inside row `row`. */
static int tx_short(const struct tx_file *tx, uint64_t row, uint64_t off)
{
    if (ferror(tx->f)) {
        int rc = errno ? -errno : -EIO;
        return tx_fail(tx, rc, "read failed near offset %llu: %s", (unsigned long long)off,
                       strerror(-rc));
    }
    return tx_fail(tx, TM_ETRUNC,
                   "truncated: the file (%llu bytes) ends inside row %llu, which starts at "
                   "offset %llu",
                   (unsigned long long)tx->size, (unsigned long long)row, (unsigned long long)off);
}

/* Reads the count of row `row` (at offset off): for row 0 it sets
 * tx->dim, for any other it must equal it. */
static int tx_read_count(struct tx_file *tx, uint64_t row, uint64_t off)
{
    int32_t d;
    if (fread(&d, sizeof d, 1, tx->f) != 1)
        return tx_short(tx, row, off);
    if (row == 0) {
        if (d < 1 || (uint32_t)d > TM_TEXMEX_MAX_DIM)
            return tx_fail(tx, TM_ECORRUPT, "row 0 declares %ld values; a row holds 1 to %u",
                           (long)d, TM_TEXMEX_MAX_DIM);
        tx->dim = (uint32_t)d;
    } else if (d < 0 || (uint32_t)d != tx->dim) {
        return tx_fail(tx, TM_ECORRUPT, "row %llu at offset %llu declares %ld values, row 0 %u",
                       (unsigned long long)row, (unsigned long long)off, (long)d, tx->dim);
    }
    return 0;
}

/* Reads the values of row `row` (at offset off) into out, widened to
 * float for .bvecs; tmp holds dim bytes. */
static int tx_read_values(struct tx_file *tx, uint64_t row, uint64_t off, void *out, uint8_t *tmp)
{
    void *dst = tx->kind == TM_TEXMEX_BVECS ? (void *)tmp : out;
    if (fread(dst, tx->elt, tx->dim, tx->f) != tx->dim)
        return tx_short(tx, row, off);
    if (tx->kind == TM_TEXMEX_BVECS) {
        float *v = out;
        for (uint32_t j = 0; j < tx->dim; j++)
            v[j] = (float)tmp[j];
    } else if (tx->kind == TM_TEXMEX_FVECS) {
        const float *v = out;
        for (uint32_t j = 0; j < tx->dim; j++)
            if (!isfinite(v[j]))
                return tx_fail(tx, TM_ECORRUPT, "row %llu value %u (offset %llu) is not finite",
                               (unsigned long long)row, j,
                               (unsigned long long)(off + 4 + (uint64_t)j * 4));
    }
    return 0;
}

/* After the last whole row, at offset off: the end of the file, or the
 * start of a row that is refused (another count) or torn. */
static int tx_check_tail(struct tx_file *tx, uint64_t row, uint64_t off)
{
    if (off == tx->size)
        return 0;
    int rc = tx_read_count(tx, row, off);
    return rc ? rc : tx_short(tx, row, off);
}

/* Opens tx->path and reads row 0's count: sets f, size and dim. */
static int tx_open(struct tx_file *tx)
{
    struct stat st;
    tx->f = fopen(tx->path, "rb");
    if (!tx->f)
        return tx_fail(tx, -errno, "cannot open: %s", strerror(errno));
    if (fstat(fileno(tx->f), &st) != 0)
        return tx_fail(tx, -errno, "cannot stat: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return tx_fail(tx, TM_EINVAL, "not a regular file");
    tx->size = (uint64_t)st.st_size;
    if (tx->size == 0)
        return tx_fail(tx, TM_ETRUNC, "truncated: the file is empty");
    return tx_read_count(tx, 0, 0);
}

/* Reads rows [0, want) after row 0's count was read, into out. */
static int tx_read_rows(struct tx_file *tx, uint64_t want, struct tm_texmex *out)
{
    uint64_t rec = 4 + (uint64_t)tx->dim * tx->elt, off = 0;
    uint8_t *tmp = malloc(tx->dim);
    if (!tmp)
        return TM_ENOMEM;
    int rc = 0;
    for (uint64_t r = 0; !rc && r < want; r++, off += rec) {
        if (r > 0)
            rc = tx_read_count(tx, r, off);
        void *dst = tx->kind == TM_TEXMEX_IVECS ? (void *)(out->ids + r * tx->dim)
                                                : (void *)(out->vecs + r * tx->dim);
        if (!rc)
            rc = tx_read_values(tx, r, off, dst, tmp);
    }
    free(tmp);
    return rc;
}

/* Memory for the vectors, on transparent huge pages where the kernel
 * grants them (madvise mode): an index re-ranks by reading rows scattered
 * over the whole set, and with 4 KiB pages nearly every one of those reads
 * also misses the TLB (at 1M x 128, IVF_PQ4 with 160 re-ranked candidates,
 * 5.6k single queries per second became 7.1k on the development VM). free()
 * releases it as any allocation. */
static float *vectors_alloc(size_t bytes)
{
    const size_t huge = 2u << 20;
    if (bytes < huge)
        return malloc(bytes ? bytes : 1);
    size_t rounded = (bytes + huge - 1) & ~(huge - 1);
    float *p = aligned_alloc(huge, rounded);
    if (p)
        (void)madvise(p, rounded, MADV_HUGEPAGE); /* advice only: fine if refused */
    return p;
}

int tm_texmex_read(const char *path, uint64_t max_rows, struct tm_texmex *out, char *errmsg,
                   size_t errmsg_len)
{
    struct tx_file tx = {.path = path, .errmsg = errmsg, .errmsg_len = errmsg_len};
    memset(out, 0, sizeof *out);
    if (errmsg && errmsg_len)
        errmsg[0] = '\0';
    if (tm_texmex_kind_of(path, &tx.kind))
        return tx_fail(&tx, TM_EINVAL, "not a .fvecs, .bvecs or .ivecs file");
    tx.elt = tx.kind == TM_TEXMEX_BVECS ? 1 : 4;
    int rc = tx_open(&tx);
    uint64_t rec = 4 + (uint64_t)tx.dim * tx.elt;
    uint64_t whole = rc ? 0 : tx.size / rec;
    uint64_t want = max_rows && max_rows < whole ? max_rows : whole;
    if (!rc && want == 0)
        rc = tx_short(&tx, 0, 0); /* the first row is torn */
    if (!rc && want * tx.dim * 4 > TM_TEXMEX_MAX_BYTES)
        rc = tx_fail(&tx, TM_ETOOBIG, "%llu rows of %u values exceed %llu GiB",
                     (unsigned long long)want, tx.dim, TM_TEXMEX_MAX_BYTES >> 30);
    if (!rc) {
        out->kind = tx.kind;
        out->dim = tx.dim;
        out->n = want;
        if (tx.kind == TM_TEXMEX_IVECS)
            out->ids = malloc(want * tx.dim * sizeof *out->ids);
        else
            out->vecs = vectors_alloc(want * tx.dim * sizeof *out->vecs);
        rc = out->ids || out->vecs ? 0 : TM_ENOMEM;
    }
    if (!rc)
        rc = tx_read_rows(&tx, want, out);
    if (!rc && (max_rows == 0 || max_rows > want))
        rc = tx_check_tail(&tx, want, want * rec);
    if (tx.f)
        fclose(tx.f);
    if (rc)
        tm_texmex_free(out);
    return rc;
}

void tm_texmex_free(struct tm_texmex *t)
{
    free(t->vecs);
    free(t->ids);
    memset(t, 0, sizeof *t);
}
