/* Raft log segments are created with their blocks already written.
 *
 * libraft 0.15 prepares each open segment (8 MiB) with posix_fallocate in its
 * thread pool, which on ext4 leaves "unwritten" extents. Its appends then go
 * out as O_DIRECT + O_DSYNC writes with RWF_NOWAIT, and each append rewrites
 * the segment's last, partly filled block together with fresh ones. A write
 * that spans a written and an unwritten extent is not a plain overwrite, so
 * ext4 refuses it under RWF_NOWAIT (EAGAIN); libraft then submits it again,
 * blocking, from a thread-pool thread. Every append thus paid a wasted
 * submit, two thread hand-offs and the journal commit that converts the
 * extent (docs/decisions.md, "Raft segments are written with zeros first").
 *
 * This definition takes the place of the C library's for the whole process
 * (libraft.so calls posix_fallocate; the executable's definition wins, and
 * raftgroup.c checks that it did). It reserves the range
 * as before, then writes zeros over the part past the file's end (libraft's
 * files are new and empty; data already there is left as it is), so every
 * later append is an overwrite of written blocks, and drops the zeros from
 * the page cache: libraft writes the file with O_DIRECT. Nothing else in
 * Tidemark calls posix_fallocate. */
#include "segment_zero.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

enum { ZERO_CHUNK = 1 << 20 };

static char zeros[ZERO_CHUNK]; /* never written: .bss, not 1 MiB of the binary */

static int write_zeros(int fd, off_t offset, off_t len)
{
    while (len > 0) {
        size_t n = len < ZERO_CHUNK ? (size_t)len : ZERO_CHUNK;
        ssize_t written = pwrite(fd, zeros, n, offset);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0)
            return written < 0 ? errno : EIO;
        offset += written;
        len -= written;
    }
    return 0;
}

int posix_fallocate(int fd, off_t offset, off_t len)
{
    if (offset < 0 || len <= 0)
        return EINVAL;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return errno;
    /* ENOSPC now, not mid-append; a file system without fallocate gets its
     * blocks from the zeros below. */
    if (fallocate(fd, 0, offset, len) != 0 && errno != EOPNOTSUPP)
        return errno;
    off_t from = offset > st.st_size ? offset : st.st_size;
    if (from >= offset + len)
        return 0;
    int rc = write_zeros(fd, from, offset + len - from);
    if (rc)
        return rc;
    if (fdatasync(fd) != 0) /* cheap: libraft opens it O_DSYNC */
        return errno;
    (void)posix_fadvise(fd, from, offset + len - from, POSIX_FADV_DONTNEED);
    return 0;
}

bool tm_segment_zero_bound(void)
{
    return dlsym(RTLD_DEFAULT, "posix_fallocate") == (void *)posix_fallocate;
}
