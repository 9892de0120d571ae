/* IVF index files (ivf.h).
 *
 * Layout (little-endian):
 *   header, 80 bytes:
 *     0  magic "TMIVFIX1"        8  u32 format version (1)
 *     12 u32 kind   16 u32 metric   20 u32 dim   24 u32 nlist
 *     28 u32 m      32 u32 nbits    36 u32 mpad  40 u64 n (vectors)
 *     48 u64 seed   56 u32 number of sections   60 16 zero bytes
 *     76 u32 CRC32C of bytes 0..76
 *   then each section: u32 id, u32 CRC32C of the payload, u64 payload
 *   length, payload. Sections come in id order; which ones a kind has, and
 *   each one's length, follow from the header:
 *     1 centroids  nlist * dim floats      2 list offsets  (nlist + 1) u64
 *     3 ids        n u32                   4 vectors (FLAT) n * dim floats
 *     5 codebooks  m * ksub * dsub floats  6 codes: PQ n * m bytes, PQ4 the blocks
 *     7 list block offsets (PQ4) (nlist + 1) u64
 *     8 inverse norms (COSINE with PQ) n floats
 *
 * Validity: a file is used only if the header CRC holds, every section is
 * present with its expected id, length and CRC, the file ends right after
 * the last one, and the offsets are consistent (non-decreasing, ending at n;
 * every id below n). Anything else is TM_ECORRUPT with the file and the
 * offset named; nothing is guessed. An index is derived data: the caller
 * rebuilds it from the segment when its file is refused.
 *
 * Writing: a temporary name, fsync, rename, fsync of the directory, so a
 * crash leaves the old file or the new one, never a torn one under the
 * final name.
 */
#include "ivf_int.h"
#include "distance.h"
#include "tm_crc32c.h"
#include "tm_err.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IVF_MAGIC "TMIVFIX1"
#define IVF_VERSION 1u
#define HDR_BYTES 80u
#define HDR_CRC_AT 76u
#define NSECT 8

struct section {
    uint32_t id;
    void **ptr;
    uint64_t len;
};

/* The sections a kind has, with their expected lengths. */
static uint32_t sections_of(struct tm_ivf *ix, struct section *s)
{
    const struct tm_ivf_params *p = &ix->p;
    uint32_t n = 0;
    uint64_t nl = p->nlist;
    s[n++] = (struct section){1, (void **)&ix->centroids, nl * p->dim * 4};
    s[n++] = (struct section){2, (void **)&ix->list_off, (nl + 1) * 8};
    s[n++] = (struct section){3, (void **)&ix->ids, ix->n * 4};
    if (p->kind == TM_IVF_FLAT) {
        s[n++] = (struct section){4, (void **)&ix->vecs, ix->n * p->dim * 4};
        return n;
    }
    s[n++] = (struct section){5, (void **)&ix->codebooks, (uint64_t)p->m * ix->ksub * ix->dsub * 4};
    uint64_t codes = p->kind == TM_IVF_PQ ? ix->n * p->m : 0; /* PQ4: from the block offsets */
    s[n++] = (struct section){6, (void **)&ix->codes, codes};
    if (p->kind == TM_IVF_PQ4)
        s[n++] = (struct section){7, (void **)&ix->list_blk, (nl + 1) * 8};
    if (p->metric == TM_IVF_COSINE)
        s[n++] = (struct section){8, (void **)&ix->inv_norm, ix->n * 4};
    return n;
}

static void put32(uint8_t *b, uint32_t v)
{
    memcpy(b, &v, 4);
}

static void put64(uint8_t *b, uint64_t v)
{
    memcpy(b, &v, 8);
}

static uint32_t get32(const uint8_t *b)
{
    uint32_t v;
    memcpy(&v, b, 4);
    return v;
}

static uint64_t get64(const uint8_t *b)
{
    uint64_t v;
    memcpy(&v, b, 8);
    return v;
}

static void header_encode(const struct tm_ivf *ix, uint32_t nsect, uint8_t *h)
{
    const struct tm_ivf_params *p = &ix->p;
    memset(h, 0, HDR_BYTES);
    memcpy(h, IVF_MAGIC, 8);
    put32(h + 8, IVF_VERSION);
    put32(h + 12, (uint32_t)p->kind), put32(h + 16, (uint32_t)p->metric);
    put32(h + 20, p->dim), put32(h + 24, p->nlist), put32(h + 28, p->m), put32(h + 32, p->nbits);
    put32(h + 36, ix->mpad), put64(h + 40, ix->n), put64(h + 48, p->seed), put32(h + 56, nsect);
    put32(h + HDR_CRC_AT, tm_crc32c(0, h, HDR_CRC_AT));
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        b += w, n -= (size_t)w;
    }
    return 0;
}

static int write_body(int fd, struct tm_ivf *ix)
{
    struct section s[NSECT];
    uint32_t ns = sections_of(ix, s);
    uint8_t h[HDR_BYTES];
    if (ix->p.kind == TM_IVF_PQ4)
        s[4].len = ix->list_blk[ix->p.nlist] * ix->mpad * 16;
    header_encode(ix, ns, h);
    int rc = write_all(fd, h, HDR_BYTES);
    for (uint32_t i = 0; !rc && i < ns; i++) {
        uint8_t sh[16];
        put32(sh, s[i].id), put32(sh + 4, tm_crc32c(0, *s[i].ptr, s[i].len)),
            put64(sh + 8, s[i].len);
        rc = write_all(fd, sh, 16);
        if (!rc)
            rc = write_all(fd, *s[i].ptr, s[i].len);
    }
    return rc;
}

/* fsync of the directory holding path, so the rename is durable. */
static int sync_dir_of(const char *path)
{
    char *dup = strdup(path);
    if (!dup)
        return TM_ENOMEM;
    int fd = open(dirname(dup), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dup);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) ? -errno : 0;
    close(fd);
    return rc;
}

int tm_ivf_write(const struct tm_ivf *ix, const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    /* sections_of takes the index by pointer to name its arrays; writing
     * changes nothing in it */
    int rc = write_body(fd, (struct tm_ivf *)ix);
    if (!rc && fsync(fd))
        rc = -errno;
    if (close(fd) && !rc)
        rc = -errno;
    if (!rc && rename(tmp, path))
        rc = -errno;
    if (!rc)
        rc = sync_dir_of(path);
    if (rc)
        unlink(tmp);
    return rc;
}

/* ---- reading ---- */

struct reader {
    FILE *f;
    const char *path;
    uint64_t off, size;
    char *errmsg;
    size_t errlen;
};

static int corrupt(struct reader *r, const char *what)
{
    if (r->errmsg && r->errlen)
        snprintf(r->errmsg, r->errlen, "index file %s: %s at offset %llu", r->path, what,
                 (unsigned long long)r->off);
    return TM_ECORRUPT;
}

static int read_exact(struct reader *r, void *p, uint64_t n, const char *what)
{
    if (n && fread(p, 1, n, r->f) != n)
        return ferror(r->f) ? -EIO : corrupt(r, what);
    r->off += n;
    return 0;
}

/* The header into ix (params, n, mpad, ksub, dsub), checked. */
static int read_header(struct reader *r, struct tm_ivf *ix, uint64_t n, uint32_t *nsect_out)
{
    uint8_t h[HDR_BYTES];
    int rc = read_exact(r, h, HDR_BYTES, "truncated header");
    if (rc)
        return rc;
    r->off = 0;
    if (memcmp(h, IVF_MAGIC, 8) != 0 || tm_crc32c(0, h, HDR_CRC_AT) != get32(h + HDR_CRC_AT))
        return corrupt(r, "bad magic or header checksum");
    if (get32(h + 8) != IVF_VERSION)
        return corrupt(r, "unknown format version");
    struct tm_ivf_params *p = &ix->p;
    p->kind = (enum tm_ivf_kind)get32(h + 12), p->metric = (enum tm_ivf_metric)get32(h + 16);
    p->dim = get32(h + 20), p->nlist = get32(h + 24), p->m = get32(h + 28);
    p->nbits = get32(h + 32), ix->mpad = get32(h + 36), ix->n = get64(h + 40);
    p->seed = get64(h + 48);
    *nsect_out = get32(h + 56);
    r->off = HDR_BYTES;
    int pq = p->kind == TM_IVF_PQ || p->kind == TM_IVF_PQ4;
    if (p->kind > TM_IVF_PQ4 || p->metric > TM_IVF_COSINE || p->dim == 0 || p->nlist == 0 ||
        p->nlist > ix->n || (pq && (p->m == 0 || p->dim % p->m)) ||
        (pq && p->nbits != (p->kind == TM_IVF_PQ ? 8u : 4u)) ||
        (p->kind == TM_IVF_PQ4 && ix->mpad != ((p->m + 1) & ~1u)))
        return corrupt(r, "inconsistent header");
    if (ix->n != n)
        return corrupt(r, "row count differs from the segment's");
    ix->ksub = pq ? 1u << p->nbits : 0;
    ix->dsub = pq ? p->dim / p->m : 0;
    return 0;
}

static int read_section(struct reader *r, struct section *s)
{
    uint8_t sh[16];
    int rc = read_exact(r, sh, 16, "truncated section header");
    if (rc)
        return rc;
    if (get32(sh) != s->id || get64(sh + 8) != s->len || s->len > r->size - r->off)
        return corrupt(r, "unexpected section id or length");
    *s->ptr = malloc(s->len + 1);
    if (!*s->ptr)
        return TM_ENOMEM;
    uint64_t start = r->off;
    if ((rc = read_exact(r, *s->ptr, s->len, "truncated section")))
        return rc;
    if (tm_crc32c(0, *s->ptr, s->len) != get32(sh + 4)) {
        r->off = start;
        return corrupt(r, "section checksum mismatch");
    }
    return 0;
}

/* Offsets non-decreasing from 0 to end. */
static int offsets_ok(const uint64_t *off, uint32_t nl, uint64_t end)
{
    if (off[0] != 0 || off[nl] != end)
        return 0;
    for (uint32_t l = 0; l < nl; l++)
        if (off[l + 1] < off[l])
            return 0;
    return 1;
}

/* What the checksums cannot vouch for: that the arrays agree. */
static int check_structure(struct reader *r, struct tm_ivf *ix)
{
    uint32_t nl = ix->p.nlist;
    if (!offsets_ok(ix->list_off, nl, ix->n))
        return corrupt(r, "list offsets out of order");
    for (uint64_t e = 0; e < ix->n; e++)
        if (ix->ids[e] >= ix->n)
            return corrupt(r, "row id out of range");
    if (ix->p.kind == TM_IVF_PQ4) {
        for (uint32_t l = 0; l < nl; l++)
            if (ix->list_blk[l + 1] - ix->list_blk[l] !=
                (ix->list_off[l + 1] - ix->list_off[l] + 31) / 32)
                return corrupt(r, "block offsets disagree with the lists");
    }
    for (uint32_t l = 0; l < nl; l++)
        if (ix->list_off[l + 1] - ix->list_off[l] > ix->max_list)
            ix->max_list = ix->list_off[l + 1] - ix->list_off[l];
    return 0;
}

static int read_body(struct reader *r, struct tm_ivf *ix, uint64_t n)
{
    uint32_t nsect;
    int rc = read_header(r, ix, n, &nsect);
    struct section s[NSECT];
    uint32_t ns = rc ? 0 : sections_of(ix, s);
    if (!rc && nsect != ns)
        rc = corrupt(r, "unexpected number of sections");
    for (uint32_t i = 0; !rc && i < ns; i++) {
        if (s[i].id == 6 && ix->p.kind == TM_IVF_PQ4) {
            /* the blocks' length follows from section 7, which comes after:
             * take it from the section header and check it below */
            uint8_t sh[16];
            long at = ftell(r->f);
            if (fread(sh, 1, 16, r->f) != 16 || fseek(r->f, at, SEEK_SET))
                return corrupt(r, "truncated section header");
            s[i].len = get64(sh + 8);
        }
        rc = read_section(r, &s[i]);
    }
    if (!rc && fgetc(r->f) != EOF)
        rc = corrupt(r, "trailing bytes");
    if (!rc && ix->p.kind == TM_IVF_PQ4 &&
        (!offsets_ok(ix->list_blk, ix->p.nlist, ix->list_blk[ix->p.nlist]) ||
         s[4].len != ix->list_blk[ix->p.nlist] * ix->mpad * 16))
        rc = corrupt(r, "code blocks disagree with the block offsets");
    return rc ? rc : check_structure(r, ix);
}

int tm_ivf_read(const char *path, const float *x, uint64_t n, struct tm_ivf **out, char *errmsg,
                size_t errmsg_len)
{
    *out = NULL;
    struct reader r = {fopen(path, "rbe"), path, 0, 0, errmsg, errmsg_len};
    if (!r.f)
        return -errno;
    if (fseek(r.f, 0, SEEK_END) || ftell(r.f) < 0 || fseek(r.f, 0, SEEK_SET)) {
        fclose(r.f);
        return -EIO;
    }
    fseek(r.f, 0, SEEK_END);
    r.size = (uint64_t)ftell(r.f);
    rewind(r.f);
    struct tm_ivf *ix = calloc(1, sizeof *ix);
    int rc = ix ? read_body(&r, ix, n) : TM_ENOMEM;
    fclose(r.f);
    if (!rc)
        rc = ivf_derive(ix);
    if (!rc && ix->p.kind != TM_IVF_FLAT)
        rc = ivf_pq_transpose(ix);
    if (!rc)
        rc = ivf_pq4_list_tables(ix);
    if (rc) {
        tm_ivf_free(ix);
        return rc;
    }
    ix->raw = x;
    *out = ix;
    return 0;
}
