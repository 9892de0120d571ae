/* Kernel dispatch: which compiled-in kernel sets this CPU runs, and the one
 * the process uses (see distance.h). The choice is made once under
 * pthread_once, because callers keep the returned pointer and every search
 * of a process must rank with the same arithmetic. */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "distance.h"
#include "distance_int.h"
#include "tm_log.h"

/* A compiled-in set and whether this CPU runs it. */
struct dist_entry {
    const struct tm_kernels *k;
    bool (*supported)(void);
};

static bool dist_always(void)
{
    return true;
}

#if defined(__x86_64__)
/* The features each x86 file is compiled for (its -m flags in
 * index/CMakeLists.txt): the compiler may use any of them anywhere in that
 * file, so all must be present, not only the ones the intrinsics name.
 * __builtin_cpu_supports also requires the OS to save the YMM/ZMM state. */
static bool dist_avx2_supported(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c") && __builtin_cpu_supports("popcnt");
}

static bool dist_avx512_supported(void)
{
    __builtin_cpu_init();
    return dist_avx2_supported() && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni");
}
#endif

/* Best first. */
static const struct dist_entry dist_sets[] = {
#if defined(__x86_64__)
    {&tm_kernels_avx512, dist_avx512_supported},
    {&tm_kernels_avx2, dist_avx2_supported},
#endif
#if defined(__aarch64__)
    {&tm_kernels_neon, dist_always},
#endif
    {&tm_kernels_scalar, dist_always},
};

const struct tm_kernels *tm_kernels_by_name(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(dist_sets) / sizeof(dist_sets[0]); i++)
        if (strcmp(dist_sets[i].k->name, name) == 0)
            return dist_sets[i].supported() ? dist_sets[i].k : NULL;
    return NULL;
}

static const struct tm_kernels *dist_first_supported(void)
{
    for (size_t i = 0; i < sizeof(dist_sets) / sizeof(dist_sets[0]); i++)
        if (dist_sets[i].supported())
            return dist_sets[i].k;
    return &tm_kernels_scalar; /* not reached: scalar is always supported */
}

static pthread_once_t dist_once = PTHREAD_ONCE_INIT;
static const struct tm_kernels *dist_best;

static void dist_choose(void)
{
    const char *want = getenv("TIDEMARK_KERNEL");
    const struct tm_kernels *k = NULL;
    if (want != NULL && want[0] != '\0') {
        k = tm_kernels_by_name(want);
        if (k == NULL)
            TM_WARN("index",
                    "TIDEMARK_KERNEL=%s names no kernel set this build and CPU run; "
                    "ignoring it",
                    want);
    }
    if (k == NULL)
        k = dist_first_supported();
    TM_DEBUG("index", "distance kernels: %s", k->name);
    dist_best = k;
}

const struct tm_kernels *tm_kernels_best(void)
{
    pthread_once(&dist_once, dist_choose);
    return dist_best;
}

float tm_norm_f32(const struct tm_kernels *k, const float *v, size_t d)
{
    return sqrtf(k->ip_f32(v, v, d));
}
