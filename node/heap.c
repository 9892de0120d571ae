/* The server's heap: one arena, grown 64 MiB at a time, in huge pages.
 *
 * A server's memory only grows while it takes writes (rows in growing
 * segments, the log in memory, libraft's entries), a few KiB per 768-d row
 * on every replica. On the 2-vCPU guests we run on, each fresh 4 KiB page
 * costs 12 – 17 µs to fault in, against 0.24 µs per 4 KiB inside a 2 MiB
 * transparent huge page; the kernel gives huge pages only to memory that
 * asks for them (THP "madvise" mode). glibc asks when
 * glibc.malloc.hugetlb=1, but only for the main arena's sbrk heap and its
 * mmap'd chunks: the per-thread arenas grow a page at a time. So the
 * server keeps every thread on the main arena (arena_max=1) and grows it
 * 64 MiB at a time (top_pad), each step advised as huge pages. Measured in
 * docs/benchmarks.md, "The heap in huge pages"; decided in
 * docs/decisions.md.
 *
 * glibc reads GLIBC_TUNABLES only when a program starts, so tm_heap_setup
 * puts them in the environment and executes the same binary again, once.
 * Malloc settings the caller gave in GLIBC_TUNABLES are left as they are. */
#include "heap.h"
#include "tm_log.h"

#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char g_tunables[] =
    "glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1:glibc.malloc.top_pad=67108864";

static void reexec_tuned(char **argv)
{
    /* Never a third start, whatever glibc does with its variable. */
    if (getenv("TIDEMARK_HEAP_RESTARTED") || setenv("TIDEMARK_HEAP_RESTARTED", "1", 1))
        return;
    const char *given = getenv("GLIBC_TUNABLES");
    if (given && strstr(given, "glibc.malloc."))
        return;  /* the caller's own choice */
    char *value; /* the caller's other tunables after ours */
    if (asprintf(&value, "%s%s%s", g_tunables, given && *given ? ":" : "", given ? given : "") < 0)
        return;
    if (setenv("GLIBC_TUNABLES", value, 1) == 0) {
        /* The binary's own path, so the process keeps its name ("tidemark",
         * what ps, top and pgrep show) rather than "exe"; /proc/self/exe
         * if that path is gone. */
        char path[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
        if (n > 0) {
            path[n] = '\0';
            execv(path, argv);
        }
        execv("/proc/self/exe", argv);
    }
    free(value); /* execv returned: run as started */
    TM_WARN("heap", "could not restart with GLIBC_TUNABLES set; writes will fault "
                    "in 4 KiB pages");
}

void tm_heap_setup(char **argv, bool server)
{
    if (server)
        reexec_tuned(argv);
    /* Requests, WAL entries and tail replies of megabytes are allocated and
     * freed all the time; above glibc's default threshold each one is a
     * fresh mmap whose pages the kernel zeroes (9 % of the cluster's CPU
     * with 1000-row 768-d upserts). Keep them in the heap instead. */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
}
