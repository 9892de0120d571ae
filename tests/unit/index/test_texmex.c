/* The texmex reader (index/texmex.h): the three formats read back, a row
 * limit, and every kind of bad file refused with its own code and a
 * message that names the file and the row: torn rows, a row of another
 * size, a bad first count, non-finite floats, an empty file, an unknown
 * extension, a missing file and a directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "texmex.h"
#include "tm_err.h"

static char g_tmp[] = "/tmp/test_texmex.XXXXXX";

static const char *path_of(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", g_tmp, name);
    return path;
}

/* Writes rows of d values of elt bytes each, from vals (rows * d * elt
 * bytes), each with count `count` (d unless testing a bad one), then the
 * first `extra` bytes of one more such row (its count, then 0x11 bytes).
 * Returns the path. */
static const char *put(const char *name, int32_t count, uint32_t d, size_t elt, uint32_t rows,
                       const void *vals, size_t extra)
{
    const char *path = path_of(name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (uint32_t r = 0; r < rows; r++) {
        assert_int_equal(fwrite(&count, 4, 1, f), 1);
        assert_int_equal(fwrite((const char *)vals + (size_t)r * d * elt, elt, d, f), d);
    }
    for (size_t i = 0; i < extra; i++) {
        int c = i < 4 ? ((const unsigned char *)&count)[i] : 0x11;
        assert_int_equal(fputc(c, f), c);
    }
    assert_int_equal(fclose(f), 0);
    return path;
}

/* Reads path expecting rc, and (on failure) a message holding path and
 * the words in `says`. */
static void expect(const char *path, uint64_t max_rows, int rc, const char *says)
{
    struct tm_texmex t;
    char err[512] = "x";
    int got = tm_texmex_read(path, max_rows, &t, err, sizeof err);
    if (got != rc)
        fail_msg("%s: got %d (%s), want %d (%s); \"%s\"", path, got, tm_strerror(got), rc,
                 tm_strerror(rc), err);
    if (rc) {
        assert_null(t.vecs);
        assert_null(t.ids);
        if (!strstr(err, path) || (says && !strstr(err, says)))
            fail_msg("message \"%s\" should name %s and say \"%s\"", err, path, says);
    }
    tm_texmex_free(&t);
}

static void reads_fvecs(void **state)
{
    (void)state;
    const float v[3][4] = {{1, 2, 3, 4}, {-1.5f, 0, 1e30f, 7}, {9, 8, 7, 6}};
    const char *p = put("a.fvecs", 4, 4, 4, 3, v, 0);
    struct tm_texmex t;
    assert_int_equal(tm_texmex_read(p, 0, &t, NULL, 0), 0);
    assert_int_equal(t.kind, TM_TEXMEX_FVECS);
    assert_int_equal(t.dim, 4);
    assert_int_equal(t.n, 3);
    assert_null(t.ids);
    assert_memory_equal(t.vecs, v, sizeof v);
    tm_texmex_free(&t);
    assert_int_equal(tm_texmex_read(p, 2, &t, NULL, 0), 0); /* the first two rows */
    assert_int_equal(t.n, 2);
    assert_memory_equal(t.vecs, v, 2 * sizeof v[0]);
    tm_texmex_free(&t);
    assert_int_equal(tm_texmex_read(p, 10, &t, NULL, 0), 0); /* more than there are */
    assert_int_equal(t.n, 3);
    tm_texmex_free(&t);
}

static void reads_bvecs_and_ivecs(void **state)
{
    (void)state;
    const uint8_t b[2][3] = {{0, 128, 255}, {1, 2, 3}};
    struct tm_texmex t;
    assert_int_equal(tm_texmex_read(put("a.bvecs", 3, 3, 1, 2, b, 0), 0, &t, NULL, 0), 0);
    assert_int_equal(t.kind, TM_TEXMEX_BVECS);
    assert_int_equal(t.n, 2);
    assert_int_equal(t.dim, 3);
    const float want[6] = {0, 128, 255, 1, 2, 3};
    assert_memory_equal(t.vecs, want, sizeof want);
    tm_texmex_free(&t);

    const int32_t ids[2][2] = {{5, 0}, {-1, 2147483647}};
    assert_int_equal(tm_texmex_read(put("a.ivecs", 2, 2, 4, 2, ids, 0), 0, &t, NULL, 0), 0);
    assert_int_equal(t.kind, TM_TEXMEX_IVECS);
    assert_null(t.vecs);
    assert_memory_equal(t.ids, ids, sizeof ids);
    tm_texmex_free(&t);
}

/* A file that ends inside a row, wherever: in the last row's count, in
 * its values, or inside the first row. */
static void refuses_truncated(void **state)
{
    (void)state;
    const float v[2][4] = {{1, 2, 3, 4}, {5, 6, 7, 8}};
    for (size_t extra = 1; extra < 20; extra++)
        expect(put("t.fvecs", 4, 4, 4, 2, v, extra), 0, TM_ETRUNC, "row 2");
    /* the tail is not looked at when fewer rows are asked for */
    expect(put("t.fvecs", 4, 4, 4, 2, v, 3), 2, 0, NULL);
    expect(put("t.fvecs", 4, 4, 4, 2, v, 3), 3, TM_ETRUNC, "truncated");
    /* a first row cut short */
    const char *p = path_of("t1.fvecs");
    FILE *f = fopen(p, "wb");
    int32_t d = 4;
    float x = 1;
    fwrite(&d, 4, 1, f);
    fwrite(&x, 4, 1, f);
    fclose(f);
    expect(p, 0, TM_ETRUNC, "row 0");
    f = fopen(p, "wb");
    fwrite(&d, 2, 1, f); /* two bytes of a count */
    fclose(f);
    expect(p, 0, TM_ETRUNC, "row 0");
    expect(put("empty.ivecs", 1, 0, 4, 0, NULL, 0), 0, TM_ETRUNC, "empty");
}

/* Counts that do not hold: a bad first one, or a row of another size. */
static void refuses_bad_counts(void **state)
{
    (void)state;
    const float v[2][4] = {{1, 2, 3, 4}, {5, 6, 7, 8}};
    expect(put("c0.fvecs", 0, 0, 4, 1, v, 0), 0, TM_ECORRUPT, "row 0");
    expect(put("cneg.fvecs", -4, 4, 4, 2, v, 0), 0, TM_ECORRUPT, "row 0");
    expect(put("cbig.fvecs", 1 << 20, 4, 4, 2, v, 0), 0, TM_ECORRUPT, "row 0");
    /* row 1 declares 3 values: 8 + 16 + 4 + 12 bytes, not a whole number of rows */
    const char *p = path_of("mixed.fvecs");
    FILE *f = fopen(p, "wb");
    int32_t d4 = 4, d3 = 3;
    fwrite(&d4, 4, 1, f);
    fwrite(v[0], 4, 4, f);
    fwrite(&d3, 4, 1, f);
    fwrite(v[1], 4, 3, f);
    fclose(f);
    expect(p, 0, TM_ECORRUPT, "row 1 at offset 20");
    /* the same with a row that keeps the file a multiple of the row size */
    f = fopen(p, "wb");
    int32_t d2 = 2;
    fwrite(&d4, 4, 1, f);
    fwrite(v[0], 4, 4, f);
    fwrite(&d2, 4, 1, f);
    fwrite(v[1], 4, 4, f); /* 2 values then 8 bytes of garbage as row 2's start */
    fclose(f);
    expect(p, 0, TM_ECORRUPT, "row 1");
}

static void refuses_non_finite(void **state)
{
    (void)state;
    float v[2][3] = {{1, 2, 3}, {4, 5, 6}};
    v[1][2] = NAN;
    expect(put("nan.fvecs", 3, 3, 4, 2, v, 0), 0, TM_ECORRUPT, "row 1 value 2");
    v[1][2] = INFINITY;
    expect(put("inf.fvecs", 3, 3, 4, 2, v, 0), 0, TM_ECORRUPT, "not finite");
    /* the same bytes as ground truth ids are fine */
    expect(put("inf.ivecs", 3, 3, 4, 2, v, 0), 0, 0, NULL);
}

static void refuses_other_files(void **state)
{
    (void)state;
    const float v[1][2] = {{1, 2}};
    expect(put("a.txt", 2, 2, 4, 1, v, 0), 0, TM_EINVAL, "not a .fvecs");
    expect(path_of("missing.fvecs"), 0, -ENOENT, "cannot open");
    char dir[300];
    snprintf(dir, sizeof dir, "%s/dir.fvecs", g_tmp);
    assert_int_equal(mkdir(dir, 0700), 0);
    expect(dir, 0, TM_EINVAL, "regular");
    enum tm_texmex_kind k;
    assert_int_equal(tm_texmex_kind_of("x/y.bvecs", &k), 0);
    assert_int_equal(k, TM_TEXMEX_BVECS);
    assert_int_equal(tm_texmex_kind_of(NULL, &k), TM_EINVAL);
    assert_int_equal(tm_texmex_kind_of("y.fvecs.gz", &k), TM_EINVAL);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int group_setup(void **state)
{
    (void)state;
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    nftw(g_tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_fvecs),        cmocka_unit_test(reads_bvecs_and_ivecs),
        cmocka_unit_test(refuses_truncated),  cmocka_unit_test(refuses_bad_counts),
        cmocka_unit_test(refuses_non_finite), cmocka_unit_test(refuses_other_files),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
