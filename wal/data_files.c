/* The data role's segment files, served to query nodes that do not share
 * its file system (data_role.h "files" and "file").
 *
 * Only paths below the configured root are served: a directory must start
 * with root + "/", and no path may hold a ".." component. Files are read in
 * chunks of at most FILE_CHUNK bytes, so no reply nears the RPC size limit;
 * their integrity is the reader's business (every binlog file carries its
 * own checksums, verified when it is loaded). */
#include "data_role_int.h"
#include "tm_file_call.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_CHUNK (4u << 20)
#define PATH_MAX_LEN 4096

static bool safe_path(const char *p)
{
    for (const char *s = p; (s = strstr(s, "..")) != NULL; s += 2)
        if ((s == p || s[-1] == '/') && (s[2] == '/' || s[2] == '\0'))
            return false;
    return true;
}

/* The request's "dir", checked against the root; NULL with st set. */
static const char *checked_dir(struct tm_data_role *d, struct tm_mpr body, char *dir, size_t cap,
                               struct tm_status *st)
{
    size_t n = strlen(d->files_root);
    if (tm_mpr_find(&body, "dir") || tm_mpr_str_copy(&body, dir, cap) || !d->files_root[0] ||
        strncmp(dir, d->files_root, n) != 0 || dir[n] != '/' || !safe_path(dir)) {
        tm_status_set(st, TM_MV_INTERNAL, "no such segment directory here");
        return NULL;
    }
    return dir;
}

/* Lists the regular files in dir/<entry>/ for every entry starting with
 * prefix (a range's segments are directories of files). */
static void list_files(const char *dir, const char *prefix, struct tm_mpw *w, uint32_t *count,
                       bool emit)
{
    DIR *top = opendir(dir);
    struct dirent *e;
    while (top && (e = readdir(top)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        char sub[PATH_MAX_LEN];
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        DIR *seg = opendir(sub);
        struct dirent *f;
        while (seg && (f = readdir(seg)) != NULL) {
            char path[PATH_MAX_LEN + 256];
            struct stat sb;
            snprintf(path, sizeof path, "%s/%s", sub, f->d_name);
            if (stat(path, &sb) || !S_ISREG(sb.st_mode) || strstr(f->d_name, ".tmp"))
                continue;
            if (emit) {
                char rel[600];
                snprintf(rel, sizeof rel, "%s/%s", e->d_name, f->d_name);
                tm_mpw_array(w, 2);
                tm_mpw_cstr(w, rel);
                tm_mpw_uint(w, (uint64_t)sb.st_size);
            }
            (*count)++;
        }
        if (seg)
            closedir(seg);
    }
    if (top)
        closedir(top);
}

void tm_data_call_files(struct tm_data_role *d, struct tm_mpr *body, struct tm_mpw *reply,
                        struct tm_status *st)
{
    char dir[PATH_MAX_LEN], prefix[64];
    struct tm_mpr m = *body;
    if (!checked_dir(d, *body, dir, sizeof dir, st))
        return;
    if (tm_mpr_find(&m, "prefix") || tm_mpr_str_copy(&m, prefix, sizeof prefix) || !prefix[0] ||
        strchr(prefix, '/')) {
        tm_status_set(st, TM_MV_INTERNAL, "malformed files request");
        return;
    }
    uint32_t n = 0;
    list_files(dir, prefix, reply, &n, false); /* count first: the array header leads */
    tm_mpw_array(reply, n);
    uint32_t again = 0;
    list_files(dir, prefix, reply, &again, true);
    if (again != n) /* the directory changed between the passes */
        tm_status_set(st, TM_MV_INTERNAL, "segment directory changed; retry");
}

void tm_data_call_file(struct tm_data_role *d, struct tm_mpr *body, struct tm_mpw *reply,
                       struct tm_status *st)
{
    char dir[PATH_MAX_LEN], name[600], path[PATH_MAX_LEN + 600];
    struct tm_mpr m = *body;
    if (!checked_dir(d, *body, dir, sizeof dir, st))
        return;
    int64_t offset = tm_mpr_key_int(*body, "offset", -1);
    if (tm_mpr_find(&m, "name") || tm_mpr_str_copy(&m, name, sizeof name) || !name[0] ||
        name[0] == '/' || !safe_path(name) || offset < 0) {
        tm_status_set(st, TM_MV_INTERNAL, "malformed file request");
        return;
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    tm_file_chunk_answer(path, name, (uint64_t)offset, FILE_CHUNK, reply, st);
}
