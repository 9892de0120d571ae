/* Copying a sealed range's files from a shard's leader (seal_fetch.h). */
#include "seal_fetch.h"
#include "tm_file_call.h"
#include "tm_err.h"
#include "tm_log.h"
#include "tm_mp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_LEN 4096

static int mkdir_parents(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0755) && errno != EEXIST ? -errno : 0;
        *p = '/';
        if (rc)
            return rc;
    }
    return 0;
}

struct file_req {
    struct tm_rpc_client *c;
    int shard;
    const char *remote_dir, *name;
};

static int ask_chunk(void *arg, uint64_t at, struct tm_rpc_reply *rep, struct tm_status *st)
{
    const struct file_req *f = arg;
    struct tm_mpw w;
    tm_mpw_init(&w);
    tm_mpw_map(&w, 4);
    tm_mpw_cstr(&w, "shard"), tm_mpw_int(&w, f->shard);
    tm_mpw_cstr(&w, "dir"), tm_mpw_cstr(&w, f->remote_dir);
    tm_mpw_cstr(&w, "name"), tm_mpw_cstr(&w, f->name);
    tm_mpw_cstr(&w, "offset"), tm_mpw_uint(&w, at);
    int rc = tm_rpc_call(f->c, "file", w.buf.data, w.buf.len, 30000, rep, st);
    tm_mpw_free(&w);
    return rc;
}

/* Writes one remote file to local, chunk by chunk. */
static int fetch_file(struct tm_rpc_client *c, int shard, const char *remote_dir, const char *name,
                      uint64_t size, const char *local)
{
    struct file_req f = {c, shard, remote_dir, name};
    struct tm_status st;
    return tm_file_copy(ask_chunk, &f, local, size, true, &st);
}

static bool have_file(const char *path, uint64_t size)
{
    struct stat sb;
    return stat(path, &sb) == 0 && (uint64_t)sb.st_size == size;
}

int tm_seal_fetch(struct tm_rpc_client *c, int shard, const char *remote_dir, const char *prefix,
                  const char *local_dir, bool again)
{
    struct tm_mpw w;
    struct tm_rpc_reply rep;
    struct tm_status st;
    tm_mpw_init(&w);
    tm_mpw_map(&w, 3);
    tm_mpw_cstr(&w, "shard"), tm_mpw_int(&w, shard);
    tm_mpw_cstr(&w, "dir"), tm_mpw_cstr(&w, remote_dir);
    tm_mpw_cstr(&w, "prefix"), tm_mpw_cstr(&w, prefix);
    int rc = tm_rpc_call(c, "files", w.buf.data, w.buf.len, 30000, &rep, &st);
    tm_mpw_free(&w);
    if (rc) {
        TM_ERROR("fetch", "shard %d: cannot list %s at the leader: %s", shard, remote_dir, st.msg);
        return rc;
    }
    uint32_t n, two, nlen;
    struct tm_mpr *b = &rep.body;
    rc = tm_mpr_array(b, &n) ? TM_ECORRUPT : 0;
    for (uint32_t i = 0; i < n && !rc; i++) {
        const char *name;
        uint64_t size;
        char path[PATH_LEN], rel[600];
        if (tm_mpr_array(b, &two) || two != 2 || tm_mpr_str(b, &name, &nlen) ||
            nlen >= sizeof rel || tm_mpr_uint(b, &size)) {
            rc = TM_ECORRUPT;
            break;
        }
        memcpy(rel, name, nlen);
        rel[nlen] = '\0';
        snprintf(path, sizeof path, "%s/%s", local_dir, rel);
        if (!again && have_file(path, size))
            continue;
        rc = mkdir_parents(path);
        if (!rc)
            rc = fetch_file(c, shard, remote_dir, rel, size, path);
    }
    tm_rpc_reply_free(&rep);
    return rc;
}

int tm_sealed_range_read(struct tm_mpr *b, int64_t *coll, uint64_t *index, char *dir, size_t cap)
{
    uint32_t three, len;
    const char *d;
    if (tm_mpr_array(b, &three) || three != 3 || tm_mpr_int(b, coll) || tm_mpr_uint(b, index) ||
        tm_mpr_str(b, &d, &len) || len >= cap)
        return TM_ECORRUPT;
    memcpy(dir, d, len);
    dir[len] = '\0';
    return 0;
}

int tm_sealed_list(struct tm_rpc_client *c, int shard, uint64_t reader, struct tm_rpc_reply *rep,
                   struct tm_mpr *ranges, uint32_t *n, uint64_t *upto)
{
    struct tm_mpw w;
    struct tm_status st;
    tm_mpw_init(&w);
    tm_mpw_map(&w, 2);
    tm_mpw_cstr(&w, "shard"), tm_mpw_int(&w, shard);
    tm_mpw_cstr(&w, "reader"), tm_mpw_uint(&w, reader);
    int rc = tm_rpc_call(c, "sealed", w.buf.data, w.buf.len, 10000, rep, &st);
    tm_mpw_free(&w);
    if (rc)
        return rc;
    struct tm_mpr up = rep->body;
    if (tm_mpr_find(&up, "upto") || tm_mpr_uint(&up, upto))
        *upto = 0;
    *ranges = rep->body;
    if (tm_mpr_find(ranges, "ranges") || tm_mpr_array(ranges, n)) {
        tm_rpc_reply_free(rep);
        return TM_ECORRUPT;
    }
    return 0;
}
