/* Files served over calls, a chunk at a time (tm_file_call.h). */
#include "tm_file_call.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void tm_file_chunk_answer(const char *path, const char *name, uint64_t offset, size_t chunk,
                          struct tm_mpw *reply, struct tm_status *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb)) {
        tm_status_set(st, TM_MV_INTERNAL, "cannot open %s: %s", name, strerror(errno));
        if (fd >= 0)
            close(fd);
        return;
    }
    uint64_t size = (uint64_t)sb.st_size;
    size_t want = offset >= size ? 0 : (size - offset < chunk ? (size_t)(size - offset) : chunk);
    uint8_t *buf = malloc(want ? want : 1);
    ssize_t got = buf ? pread(fd, buf, want, (off_t)offset) : -1;
    close(fd);
    if (got < 0 || (size_t)got != want) {
        tm_status_set(st, TM_MV_INTERNAL, "cannot read %s", name);
    } else {
        tm_mpw_map(reply, 2);
        tm_mpw_cstr(reply, "size"), tm_mpw_uint(reply, size);
        tm_mpw_cstr(reply, "data"), tm_mpw_bin(reply, buf, (uint32_t)want);
    }
    free(buf);
}

/* Writes one answer's chunk to fd: *size is the file's (the same in every
 * answer), *at moves past the chunk. */
static int take_chunk(struct tm_mpr body, int fd, uint64_t *size, uint64_t *at)
{
    struct tm_mpr r = body;
    uint64_t total = 0;
    const uint8_t *data;
    uint32_t len;
    if (tm_mpr_find(&r, "size") || tm_mpr_uint(&r, &total))
        return TM_ECORRUPT;
    r = body;
    if (tm_mpr_find(&r, "data") || tm_mpr_bin(&r, &data, &len))
        return TM_ECORRUPT;
    if ((*at && total != *size) || *at + len > total || (len == 0 && *at < total))
        return TM_ECORRUPT;
    *size = total;
    for (uint32_t done = 0; done < len;) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno != EINTR)
            return -errno;
        done += w > 0 ? (uint32_t)w : 0;
    }
    *at += len;
    return 0;
}

int tm_file_copy(tm_file_chunk_fn call, void *arg, const char *local, uint64_t expect, bool durable,
                 struct tm_status *st)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.part", local);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    uint64_t size = 0, at = 0;
    int rc;
    do {
        struct tm_rpc_reply rep = {0};
        rc = call(arg, at, &rep, st);
        if (!rc)
            rc = take_chunk(rep.body, fd, &size, &at);
        if (rep.msg)
            tm_rpc_reply_free(&rep);
    } while (!rc && at < size);
    if (!rc && expect && size != expect)
        rc = TM_ECORRUPT;
    if (!rc && durable && fsync(fd))
        rc = -errno;
    if (close(fd) && !rc)
        rc = -errno;
    if (!rc && rename(tmp, local))
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}
