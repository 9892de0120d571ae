/* Fuzz target: the strict JSON scanner (node/json_scan.h) against jansson.
 * Whatever the scanner is sure of, jansson must accept; the "data" text it
 * splits off must equal jansson's parse of the member; and every float it
 * reads (alone or in the split's arrays) must have the bits of jansson's
 * double, cast. A difference aborts.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_value(const char *buf, size_t size)
{
    const char *p = buf, *end = buf + size;
    if (!tm_jscan_value(&p, end, 0))
        return;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    json_t *j = p == end ? json_loadb(buf, size, JSON_DECODE_ANY, NULL) : (json_t *)1;
    if (!j) {
        fprintf(stderr, "the scanner took what jansson refuses\n");
        abort();
    }
    if (p == end)
        json_decref(j);
}

/* Every array the split read as floats holds jansson's numbers, cast. */
static void check_arrays(const struct tm_jscan_arrays *m, const char *end)
{
    for (size_t k = 0; k < m->n; k++) {
        const struct tm_jscan_array *a = &m->a[k];
        json_t *j = a->end <= end ? json_loadb(a->at, (size_t)(a->end - a->at), 0, NULL) : NULL;
        if (!j || json_array_size(j) != a->n)
            abort();
        for (size_t i = 0; i < a->n; i++) {
            float want = (float)json_number_value(json_array_get(j, i));
            if (memcmp(&want, &m->vals[a->off + i], 4) != 0) {
                fprintf(stderr, "array float %zu: split %a, jansson %a\n", i,
                        (double)m->vals[a->off + i], (double)want);
                abort();
            }
        }
        json_decref(j);
    }
}

static void check_split(const char *buf, size_t size)
{
    size_t at, n;
    struct tm_jscan_arrays m = {0};
    if (!tm_jscan_split_data(buf, size, &at, &n, &m)) {
        tm_jscan_arrays_free(&m);
        return;
    }
    json_t *full = json_loadb(buf, size, 0, NULL);
    json_t *d = json_loadb(buf + at, n, JSON_DECODE_ANY, NULL);
    if (!full || !d || !json_equal(d, json_object_get(full, "data"))) {
        fprintf(stderr, "the split data differs from jansson's member\n");
        abort();
    }
    check_arrays(&m, buf + size);
    tm_jscan_arrays_free(&m);
    json_decref(d);
    json_decref(full);
}

static void check_floats(const char *buf, size_t size)
{
    for (size_t k = 1; k <= 4; k++) {
        float out[4];
        const char *p = buf;
        if (!tm_jscan_floats(&p, buf + size, out, k))
            continue;
        json_t *j = json_loadb(buf, (size_t)(p - buf), JSON_DECODE_ANY, NULL);
        if (!j || json_array_size(j) != k)
            abort();
        for (size_t i = 0; i < k; i++) {
            float want = (float)json_number_value(json_array_get(j, i));
            if (memcmp(&want, &out[i], 4) != 0) {
                fprintf(stderr, "float %zu: scanner %a, jansson %a\n", i, (double)out[i],
                        (double)want);
                abort();
            }
        }
        json_decref(j);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1); /* exactly size: reads past it trip ASan */
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    check_value(buf, size);
    check_split(buf, size);
    check_floats(buf, size);
    free(buf);
    return 0;
}
