/* Helpers shared by the in-process benchmarks (`tidemark bench search`,
 * `tidemark bench flush`): a seeded generator, a schema built from a table,
 * option parsing and the lines that say where a run was made.
 */
#ifndef TM_BENCH_UTIL_H
#define TM_BENCH_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "schema.h"

/* splitmix64: the next value of the sequence seeded by *s. */
uint64_t tm_bench_rng_next(uint64_t *s);
/* Uniform in [0, 1), 24 random bits. */
float tm_bench_rng_float(uint64_t *s);

/* One field of a benchmark schema. */
struct tm_bench_field {
    const char *name;
    enum tm_dtype type;
};

/* Builds and validates a schema of n fields (ids from 100, in order): the
 * first is the primary key, vector fields get dim and VarChar fields
 * max_length. sc is overwritten; the caller frees it with tm_schema_free,
 * also after a failure. 0, TM_ENOMEM, or TM_ESTATUS after printing why. */
int tm_bench_schema(struct tm_schema *sc, const struct tm_bench_field *defs, int n, uint32_t dim,
                    int64_t max_length);

/* An unsigned decimal in [lo, hi] into *out; false if s is not one. */
bool tm_bench_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out);

/* Prints "command: tidemark <argv...>" and "machine: nproc, CPU model,
 * load average", so a pasted result says how and where it was made. */
void tm_bench_print_machine(int argc, char **argv);

#endif
