/* The dispatch functions of index/distance.h for the kernels_avx512_emulated
 * test, in place of index/distance.c: that file asks cpuid before it hands
 * out the AVX-512 set, and here the set is emulated (avx512_emul.h), so it
 * runs on every CPU. Only the scalar and AVX-512 sets are linked in, and
 * the AVX-512 one is the best, so kernel_check runs the AVX-512 code and
 * says so in its output. */
#include <stddef.h>
#include <string.h>

#include "distance.h"
#include "distance_int.h"

const struct tm_kernels *tm_kernels_by_name(const char *name)
{
    if (name == NULL)
        return NULL;
    if (strcmp(name, tm_kernels_avx512.name) == 0)
        return &tm_kernels_avx512;
    if (strcmp(name, tm_kernels_scalar.name) == 0)
        return &tm_kernels_scalar;
    return NULL;
}

const struct tm_kernels *tm_kernels_best(void)
{
    return &tm_kernels_avx512;
}
