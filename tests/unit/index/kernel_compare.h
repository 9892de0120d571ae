/* Comparison of one kernel set with the scalar reference (index/distance.h),
 * shared by the cmocka test (test_kernels.c) and by the plain-C checker that
 * runs the NEON set under qemu (kernel_check.c), so both test the same
 * things. Plain C, no test framework: a check counts what it compared and
 * what did not match, and prints the first mismatches to stderr.
 *
 * What "match" means follows distance.h: float32 results within
 * (d + 4) * FLT_EPSILON * M of the scalar ones (M the sum of term magnitudes,
 * computed in double), batch L2 results within the bound of its norm form
 * (distance.h, Batches) plus the scalar one, never negative, 0 for a row
 * equal to the query, and the same bits for a pair alone as in a batch;
 * everything else bit for bit. */
#ifndef TM_KERNEL_COMPARE_H
#define TM_KERNEL_COMPARE_H

#include <stddef.h>

#include "distance.h"

struct kc_result {
    unsigned long compared;
    unsigned long mismatched;
};

/* One family of kernels: run(k, ref, res) compares every function of the
 * family in k with ref on deterministic random inputs (any d, unaligned
 * starts, exactly sized buffers so that a read past the end shows under
 * ASan) and adds to *res. */
struct kc_check {
    const char *name;
    void (*run)(const struct tm_kernels *k, const struct tm_kernels *ref, struct kc_result *res);
};

/* Every family, in a fixed order; kc_check_count entries. */
extern const struct kc_check kc_checks[];
extern const size_t kc_check_count;

#endif
