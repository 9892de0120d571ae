/* What the proxy's JSON scanner costs per vector: a one-row insert body
 * with a DIM-d vector (768 by default), its floats printed as clients
 * print them (%.6f, %.9g, and %.17g: a float32 printed as a double, as
 * Python clients send it), then tm_jscan_split_data over the whole body
 * (alone, and reading the data's arrays of numbers as the proxy does) and
 * tm_jscan_floats over the vector, each timed over REPS calls.
 * Prints microseconds per call for each format.
 *
 *   build/bench/json_scan_bench [DIM] [REPS]
 */
#include "json_scan.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* The body, and where its vector's '[' is. */
static char *make_body(const char *fmt, int dim, size_t *len, size_t *vec_at)
{
    char *body = malloc((size_t)dim * 32 + 128);
    if (!body)
        return NULL;
    size_t n = (size_t)sprintf(body, "{\"collectionName\":\"c\",\"data\":[{\"id\":123,\"vector\":");
    *vec_at = n;
    uint64_t seed = 1;
    for (int i = 0; i < dim; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        float v = (float)((double)(seed >> 11) / (double)(1ull << 53) * 2 - 1);
        n += (size_t)sprintf(body + n, i ? "," : "[");
        n += (size_t)sprintf(body + n, fmt, (double)v);
    }
    n += (size_t)sprintf(body + n, "]}]}");
    *len = n;
    return body;
}

static int run(const char *fmt, int dim, int reps, float *out)
{
    size_t len, vec_at, at, data_len;
    char *body = make_body(fmt, dim, &len, &vec_at);
    if (!body)
        return 1;
    double split = 0, reading = 0, floats = 0;
    for (int r = 0; r < reps; r++) {
        struct tm_jscan_arrays m = {0};
        double t0 = now_us();
        bool ok = tm_jscan_split_data(body, len, &at, &data_len, NULL);
        double t1 = now_us();
        ok = ok && tm_jscan_split_data(body, len, &at, &data_len, &m);
        double t2 = now_us();
        const char *p = body + vec_at;
        ok = ok && tm_jscan_floats(&p, body + len, out, (size_t)dim);
        double t3 = now_us();
        tm_jscan_arrays_free(&m);
        if (!ok) {
            fprintf(stderr, "json_scan_bench: the %s body did not scan\n", fmt);
            free(body);
            return 1;
        }
        split += t1 - t0;
        reading += t2 - t1;
        floats += t3 - t2;
    }
    printf("%-6s %d-d body %6zu B: split_data %6.1f us, reading its arrays %6.1f us, "
           "floats %6.1f us\n",
           fmt, dim, len, split / reps, reading / reps, floats / reps);
    free(body);
    return 0;
}

int main(int argc, char **argv)
{
    int dim = argc > 1 ? atoi(argv[1]) : 768, reps = argc > 2 ? atoi(argv[2]) : 20000;
    if (dim < 1 || dim > 65536 || reps < 1) {
        fprintf(stderr, "usage: json_scan_bench [DIM] [REPS]\n");
        return 2;
    }
    float *out = malloc((size_t)dim * sizeof *out);
    int rc = !out || run("%.6f", dim, reps, out) || run("%.9g", dim, reps, out) ||
             run("%.17g", dim, reps, out);
    free(out);
    return rc;
}
