/* wal/segment_zero.c: the process's posix_fallocate reserves the range and
 * writes zeros past the file's end, so the blocks libraft appends to are
 * written ones (no unwritten extents), keeps data already in the file, and is
 * the definition libraft.so binds to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "segment_zero.h"

static char g_path[64];

static int setup(void **state)
{
    (void)state;
    snprintf(g_path, sizeof g_path, "/tmp/tm-segment-zero-%d", (int)getpid());
    unlink(g_path);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(g_path);
    return 0;
}

static void assert_zeros(int fd, off_t from, off_t to)
{
    static char buf[1 << 16];
    for (off_t at = from; at < to;) {
        size_t want = to - at < (off_t)sizeof buf ? (size_t)(to - at) : sizeof buf;
        ssize_t n = pread(fd, buf, want, at);
        assert_true(n > 0);
        for (ssize_t i = 0; i < n; i++)
            if (buf[i])
                fail_msg("byte %lld is %d", (long long)(at + i), buf[i]);
        at += n;
    }
}

/* Unwritten extents in the file, or -1 when the file system cannot say. */
static int unwritten_extents(int fd)
{
    enum { MAX_EXTENTS = 64 };
    size_t size = sizeof(struct fiemap) + MAX_EXTENTS * sizeof(struct fiemap_extent);
    struct fiemap *map = calloc(1, size);
    assert_non_null(map);
    map->fm_length = FIEMAP_MAX_OFFSET;
    map->fm_flags = FIEMAP_FLAG_SYNC;
    map->fm_extent_count = MAX_EXTENTS;
    int unwritten = -1;
    if (ioctl(fd, FS_IOC_FIEMAP, map) == 0) {
        unwritten = 0;
        for (unsigned i = 0; i < map->fm_mapped_extents; i++)
            unwritten += (map->fm_extents[i].fe_flags & FIEMAP_EXTENT_UNWRITTEN) != 0;
    }
    free(map);
    return unwritten;
}

static void test_new_file_written_with_zeros(void **state)
{
    (void)state;
    int fd = open(g_path, O_RDWR | O_CREAT | O_EXCL | O_DSYNC, 0600);
    assert_true(fd >= 0);
    off_t len = (3 << 20) + 4096; /* more than one chunk of zeros */
    assert_int_equal(posix_fallocate(fd, 0, len), 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, len);
    assert_true(st.st_blocks * 512 >= len);
    assert_zeros(fd, 0, len);
    int unwritten = unwritten_extents(fd);
    if (unwritten < 0)
        print_message("the file system has no FIEMAP: extents not checked\n");
    else
        assert_int_equal(unwritten, 0);
    close(fd);
}

static void test_existing_data_kept(void **state)
{
    (void)state;
    int fd = open(g_path, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "tidemark", 8, 0), 8);
    assert_int_equal(posix_fallocate(fd, 0, 16384), 0);
    char head[8];
    assert_int_equal(pread(fd, head, sizeof head, 0), 8);
    assert_memory_equal(head, "tidemark", 8);
    assert_zeros(fd, 8, 16384);
    /* A range inside the file changes nothing. */
    assert_int_equal(posix_fallocate(fd, 0, 8), 0);
    assert_int_equal(pread(fd, head, sizeof head, 0), 8);
    assert_memory_equal(head, "tidemark", 8);
    close(fd);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    assert_int_equal(posix_fallocate(-1, 0, 4096), EBADF);
    int fd = open(g_path, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(posix_fallocate(fd, 0, 0), EINVAL);
    assert_int_equal(posix_fallocate(fd, -1, 4096), EINVAL);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, 0);
    close(fd);
}

/* libraft.so looks posix_fallocate up in the global scope: it must find
 * this process's definition first, not the C library's. */
static void test_libraft_binds_here(void **state)
{
    (void)state;
    assert_true(tm_segment_zero_bound());
    void *libc = dlsym(RTLD_NEXT, "posix_fallocate");
    assert_non_null(libc);
    assert_ptr_not_equal(dlsym(RTLD_DEFAULT, "posix_fallocate"), libc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_file_written_with_zeros, setup, teardown),
        cmocka_unit_test_setup_teardown(test_existing_data_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test(test_libraft_binds_here),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
