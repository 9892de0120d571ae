/* What a fresh page costs on this machine: a 256 MiB anonymous mapping
 * touched page by page (one fault each), then populated first with one
 * MADV_POPULATE_WRITE call, then populated 1 MiB at a time (as
 * tm_buf_set_large does), then in 2 MiB transparent huge pages populated
 * one at a time, twice. Each page is written once after it is populated:
 * on a PVM guest that first write costs more than the populating. Prints
 * microseconds per 4 KiB for each.
 *
 *   build/bench/page_fault_bench
 *
 * On the project's 2-vCPU PVM guests a fault costs ~11 µs, a populated page
 * ~6 µs (benchmarks.md, "Fuller calls"), a 4 KiB share of a huge page
 * 0.3 µs when the guest reuses memory and 7 µs when the host has to back
 * it first (benchmarks.md, "Where the CPU of a lone write goes"); on bare
 * metal all are well under a microsecond. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define SIZE ((size_t)256 << 20)
#define PAGE 4096u
#define STEP ((size_t)1 << 20)
#define HUGE ((size_t)2 << 20)

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* SIZE bytes of a fresh mapping, on a 2 MiB boundary when huge (and then
 * advised as transparent huge pages). */
static char *map_size(bool huge, char **base, size_t *len)
{
    *len = SIZE + (huge ? HUGE : 0);
    *base = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (*base == MAP_FAILED)
        return NULL;
    char *p = huge ? *base + (HUGE - (uintptr_t)*base % HUGE) % HUGE : *base;
    if (huge && madvise(p, SIZE, MADV_HUGEPAGE))
        perror("madvise(MADV_HUGEPAGE)");
    return p;
}

static int run(const char *name, size_t populate_step, bool huge)
{
    char *base;
    size_t len;
    char *p = map_size(huge, &base, &len);
    if (!p)
        return perror("mmap"), 1;
    double t0 = now_s();
    for (size_t at = 0; populate_step && at < SIZE; at += populate_step)
        if (madvise(p + at, populate_step, MADV_POPULATE_WRITE))
            return perror("madvise(MADV_POPULATE_WRITE)"), munmap(base, len), 1;
    for (size_t at = 0; at < SIZE; at += PAGE)
        p[at] = 1;
    printf("%-36s %6.2f us per 4 KiB\n", name, (now_s() - t0) * 1e6 / (double)(SIZE / PAGE));
    munmap(base, len);
    return 0;
}

int main(void)
{
    /* Huge pages twice: the first time the guest may hand out memory the
     * host has never backed, the second time it reuses what it just freed. */
    return run("faulted page by page", 0, false) | run("populated in one call", SIZE, false) |
           run("populated 1 MiB at a time", STEP, false) |
           run("huge pages, populated 2 MiB at a time", HUGE, true) |
           run("the same again", HUGE, true);
}
