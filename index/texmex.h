/* Readers of the texmex vector files that ANN benchmarks ship their data
 * sets in (corpus-texmex.irisa.fr; shared/data/README.md), for
 * `tidemark bench ann` and the index tests.
 *
 * Format. A file is a sequence of rows, each a little-endian int32 count d
 * followed by d values: float32 in .fvecs, uint8 in .bvecs, int32 in
 * .ivecs (ground truth: row numbers into the matching base file). Every row
 * of a file has the same d. There is no header, no footer and no checksum,
 * so a reader can only check that the counts agree and that the file ends
 * at a row boundary.
 *
 * Caveats. The byte order is that of the machine (every texmex file is
 * little endian, and so is every platform Tidemark builds for). .bvecs
 * values are widened to float, exactly. A float that is not finite is
 * refused: the distance kernels' error bounds assume finite inputs.
 */
#ifndef TM_TEXMEX_H
#define TM_TEXMEX_H

#include <stddef.h>
#include <stdint.h>

enum tm_texmex_kind { TM_TEXMEX_FVECS, TM_TEXMEX_BVECS, TM_TEXMEX_IVECS };

/* The largest d a row may declare, and the most bytes one read may return
 * (floats or ids): a bound on what a damaged count can make us allocate. */
#define TM_TEXMEX_MAX_DIM 65536u
#define TM_TEXMEX_MAX_BYTES (16ull << 30)

/* What tm_texmex_read returns. Exactly one of vecs and ids is set. */
struct tm_texmex {
    enum tm_texmex_kind kind;
    uint32_t dim; /* values per row (k for ground truth) */
    uint64_t n;   /* rows read */
    float *vecs;  /* .fvecs, .bvecs: n * dim floats, row i at vecs + i * dim */
    int32_t *ids; /* .ivecs: n * dim ids, row i at ids + i * dim */
};

/* The kind named by path's extension (".fvecs", ".bvecs", ".ivecs");
 * 0, or TM_EINVAL for any other name. */
int tm_texmex_kind_of(const char *path, enum tm_texmex_kind *kind_out);

/* Reads the first max_rows rows of path (0: every row; fewer when the file
 * has fewer) into *out, whose arrays the caller owns and frees with
 * tm_texmex_free (also safe on a zeroed struct after a failure). Returns 0,
 * or:
 *   TM_EINVAL    the extension is none of the three;
 *   TM_ETRUNC    the file is empty, or ends inside a row;
 *   TM_ECORRUPT  a row's d is below 1, above TM_TEXMEX_MAX_DIM or not the
 *                first row's, or a float is not finite;
 *   TM_ETOOBIG   the rows would need more than TM_TEXMEX_MAX_BYTES;
 *   TM_ENOMEM, or a negative errno from open or read.
 * On failure errmsg (when not NULL) says why, naming the file, the row and
 * the byte offset; *out is zeroed. */
int tm_texmex_read(const char *path, uint64_t max_rows, struct tm_texmex *out, char *errmsg,
                   size_t errmsg_len);

void tm_texmex_free(struct tm_texmex *t);

#endif
