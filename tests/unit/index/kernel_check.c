/* kernel_check [set...]: compares the named kernel sets (by default every
 * SIMD set this build and CPU run) with the scalar one, family by family,
 * and prints what it compared. Plain C with no test framework, so that it
 * can be cross-compiled statically for aarch64 and run under qemu-user; the
 * NEON set is tested this way (ctest unit.index.kernels_neon).
 *
 * Exit status: 0 if everything matched, 1 on any mismatch, 2 if a set named
 * on the command line is not available (a test asked for by name must not
 * pass by being skipped). */
#include <stdio.h>

#include "distance.h"
#include "kernel_compare.h"

/* Every family of one set; returns the number of mismatches. */
static unsigned long check_set(const struct tm_kernels *k, const struct tm_kernels *ref)
{
    unsigned long bad = 0;
    for (size_t i = 0; i < kc_check_count; i++) {
        struct kc_result res = {0, 0};
        kc_checks[i].run(k, ref, &res);
        printf("%-7s %-9s %9lu compared with scalar, %lu mismatched\n", k->name, kc_checks[i].name,
               res.compared, res.mismatched);
        bad += res.mismatched;
    }
    return bad;
}

int main(int argc, char **argv)
{
    static const char *const simd[] = {"avx2", "avx512", "neon"};
    const struct tm_kernels *ref = tm_kernels_by_name("scalar");
    unsigned long bad = 0;

    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            const struct tm_kernels *k = tm_kernels_by_name(argv[i]);
            if (k == NULL) {
                fprintf(stderr, "kernel_check: set %s is not available here\n", argv[i]);
                return 2;
            }
            bad += check_set(k, ref);
        }
    } else {
        for (size_t i = 0; i < sizeof(simd) / sizeof(simd[0]); i++) {
            const struct tm_kernels *k = tm_kernels_by_name(simd[i]);
            if (k != NULL)
                bad += check_set(k, ref);
            else
                printf("%-7s not available here (skipped)\n", simd[i]);
        }
    }
    printf("tm_kernels_best(): %s\n", tm_kernels_best()->name);
    printf("%s\n", bad ? "FAILED" : "all matched");
    return bad ? 1 : 0;
}
