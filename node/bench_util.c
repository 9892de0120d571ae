/* Helpers shared by the in-process benchmarks (bench_util.h). */
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint64_t tm_bench_rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

float tm_bench_rng_float(uint64_t *s)
{
    return (float)(tm_bench_rng_next(s) >> 40) / 16777216.0f;
}

int tm_bench_schema(struct tm_schema *sc, const struct tm_bench_field *defs, int n, uint32_t dim,
                    int64_t max_length)
{
    struct tm_status st = {0};
    memset(sc, 0, sizeof *sc);
    sc->fields = calloc((size_t)n, sizeof *sc->fields);
    if (!sc->fields)
        return TM_ENOMEM;
    sc->nfields = (size_t)n;
    for (int i = 0; i < n; i++) {
        struct tm_field *f = &sc->fields[i];
        snprintf(f->name, TM_NAME_MAX, "%s", defs[i].name);
        f->type = defs[i].type;
        f->primary = i == 0;
        if (tm_dtype_is_vector(f->type))
            f->dim = dim;
        if (f->type == TM_T_VARCHAR)
            f->max_length = max_length;
    }
    int rc = tm_schema_validate(sc, &st);
    if (rc)
        fprintf(stderr, "bench: schema: %s\n", st.msg);
    return rc;
}

bool tm_bench_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    *out = (uint32_t)v;
    return end != s && !*end && v >= lo && v <= hi;
}

void tm_bench_print_machine(int argc, char **argv)
{
    char model[256] = "unknown", line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0 && strchr(line, ':')) {
            snprintf(model, sizeof model, "%s", strchr(line, ':') + 2);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    if (f)
        fclose(f);
    double load[1] = {0};
    if (getloadavg(load, 1) < 1)
        load[0] = -1;
    printf("command:");
    for (int i = -1; i < argc; i++)
        printf(" %s", i < 0 ? "tidemark" : argv[i]);
    printf("\nmachine: nproc %ld, %s, loadavg %.2f\n", sysconf(_SC_NPROCESSORS_ONLN), model,
           load[0]);
}
