/* What a fresh page costs on this machine: a 256 MiB anonymous mapping
 * touched page by page (one fault each), then populated first with one
 * MADV_POPULATE_WRITE call, then populated 1 MiB at a time (as
 * tm_buf_set_large does). Prints microseconds per 4 KiB page for each.
 *
 *   build/bench/page_fault_bench
 *
 * On the project's 2-vCPU PVM guests a fault costs ~11 µs, a populated page
 * ~6 µs (benchmarks.md, "Fuller calls"); on bare metal both are well under
 * a microsecond. */
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

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int run(const char *name, size_t populate_step)
{
    char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return perror("mmap"), 1;
    double t0 = now_s();
    for (size_t at = 0; populate_step && at < SIZE; at += populate_step)
        if (madvise(p + at, populate_step, MADV_POPULATE_WRITE))
            return perror("madvise(MADV_POPULATE_WRITE)"), munmap(p, SIZE), 1;
    for (size_t at = 0; at < SIZE; at += PAGE)
        p[at] = 1;
    printf("%-28s %6.2f us per page\n", name, (now_s() - t0) * 1e6 / (double)(SIZE / PAGE));
    munmap(p, SIZE);
    return 0;
}

int main(void)
{
    return run("faulted page by page", 0) | run("populated in one call", SIZE) |
           run("populated 1 MiB at a time", STEP);
}
