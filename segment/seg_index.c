/* Index definitions to IVF parameters, attached segment indexes and their
 * content keys (seg_index.h). */
#include "seg_index.h"
#include "store.h"
#include "tm_crc32c.h"
#include "tm_err.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_NLIST 128u
#define MAX_NLIST 65536u
#define DEFAULT_NPROBE 8u
#define AUTO_NLIST_MIN 16u
#define PQ4_MAX_M 256u
#define BUILD_SEED 1u

/* An integer parameter: *out = def when absent; -1 when not an integer in
 * [lo, hi]. */
static int int_param(const struct tm_kv *kv, size_t n, const char *key, uint64_t def, uint64_t lo,
                     uint64_t hi, uint64_t *out)
{
    const char *v = tm_kvs_get(kv, n, key);
    if (!v) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < (long long)lo || (uint64_t)x > hi)
        return -1;
    *out = (uint64_t)x;
    return 0;
}

/* The largest divisor of dim that is at most cap (at least 1). */
static uint32_t divisor_upto(uint32_t dim, uint32_t cap)
{
    for (uint32_t m = cap < dim ? cap : dim; m > 1; m--)
        if (dim % m == 0)
            return m;
    return 1;
}

static int refuse(char *why, size_t len, const char *fmt, const char *a, unsigned long long b)
{
    snprintf(why, len, fmt, a, b);
    return TM_EINVAL;
}

static int plan_pq(const struct tm_kv *kv, size_t n, struct tm_seg_index_plan *p, char *why,
                   size_t why_len)
{
    uint64_t m, nbits;
    if (int_param(kv, n, "nbits", 8, 1, 16, &nbits) || (nbits != 4 && nbits != 8))
        return refuse(why, why_len,
                      "invalid parameter: param 'nbits' (%s) is not supported: IVF_PQ is built "
                      "with 4-bit or 8-bit codes (dim %llu)",
                      tm_kvs_get(kv, n, "nbits"), p->dim);
    uint64_t def_m = divisor_upto(p->dim, p->dim / 4 ? p->dim / 4 : 1);
    if (int_param(kv, n, "m", def_m, 1, p->dim, &m) || p->dim % m)
        return refuse(why, why_len,
                      "invalid parameter: the dimension of the vector should be a multiple of "
                      "the number of sub-quantizers, m: %s, dimension: %llu",
                      tm_kvs_get(kv, n, "m"), p->dim);
    if (nbits == 4 && m > PQ4_MAX_M)
        return refuse(why, why_len,
                      "invalid parameter: param 'm' (%s) with nbits 4 should be at most 256 "
                      "(dimension %llu)",
                      tm_kvs_get(kv, n, "m"), p->dim);
    p->kind = nbits == 4 ? TM_IVF_PQ4 : TM_IVF_PQ;
    p->m = (uint32_t)m;
    p->nbits = (uint32_t)nbits;
    p->refine = nbits == 4 ? 16.0 : 8.0;
    return 0;
}

int tm_seg_index_plan(const char *type, const char *metric, const struct tm_kv *params,
                      size_t nparams, const struct tm_field *f, struct tm_seg_index_plan *out,
                      char *why, size_t why_len)
{
    bool flat = strcmp(type, "IVF_FLAT") == 0, pq = strcmp(type, "IVF_PQ") == 0;
    bool autoindex = strcmp(type, "AUTOINDEX") == 0;
    int m = tm_metric_parse(metric);
    memset(out, 0, sizeof *out);
    if (f->type != TM_T_FLOAT_VECTOR || (!flat && !pq && !autoindex) || m < 0 ||
        m > TM_METRIC_COSINE || f->dim <= 0)
        return 0;
    out->metric = (enum tm_metric)m;
    out->dim = (uint32_t)f->dim;
    if (autoindex) {
        out->kind = TM_IVF_PQ4;
        out->m = divisor_upto(out->dim, out->dim / 2 < PQ4_MAX_M ? out->dim / 2 : PQ4_MAX_M);
        out->nbits = 4;
        out->refine = 16.0;
        return 1;
    }
    uint64_t nlist;
    if (int_param(params, nparams, "nlist", DEFAULT_NLIST, 1, MAX_NLIST, &nlist))
        return refuse(why, why_len,
                      "invalid parameter: param 'nlist' (%s) should be in range "
                      "[1, %llu]",
                      tm_kvs_get(params, nparams, "nlist"), MAX_NLIST);
    out->nlist = (uint32_t)nlist;
    out->nprobe = DEFAULT_NPROBE;
    out->kind = TM_IVF_FLAT;
    int rc = pq ? plan_pq(params, nparams, out, why, why_len) : 0;
    return rc ? rc : 1;
}

/* AUTOINDEX lists: about 4 sqrt(n), the usual IVF rule, so a probe scans
 * about sqrt(n) / 4 rows. */
static uint32_t auto_nlist(uint64_t n)
{
    double v = floor(4.0 * sqrt((double)n) + 0.5);
    return v < AUTO_NLIST_MIN ? AUTO_NLIST_MIN : v > MAX_NLIST ? MAX_NLIST : (uint32_t)v;
}

void tm_seg_index_params(const struct tm_seg_index_plan *plan, uint64_t n,
                         struct tm_ivf_params *out)
{
    static const enum tm_ivf_metric metrics[] = {TM_IVF_L2, TM_IVF_IP, TM_IVF_COSINE};
    uint32_t nlist = plan->nlist ? plan->nlist : auto_nlist(n);
    *out = (struct tm_ivf_params){.kind = plan->kind,
                                  .metric = metrics[plan->metric],
                                  .dim = plan->dim,
                                  /* tm_ivf_build clamps to n too; the file key must
                                   * see the number the index really has */
                                  .nlist = n < nlist ? (uint32_t)n : nlist,
                                  .m = plan->kind == TM_IVF_FLAT ? 0 : plan->m,
                                  .nbits = plan->kind == TM_IVF_FLAT ? 0 : plan->nbits,
                                  .seed = BUILD_SEED,
                                  .threads = 1};
}

uint32_t tm_seg_index_default_nprobe(const struct tm_seg_index_plan *plan,
                                     const struct tm_ivf_params *built)
{
    if (plan->nprobe)
        return plan->nprobe;
    uint32_t np = built->nlist / 16;
    return np < DEFAULT_NPROBE ? DEFAULT_NPROBE : np;
}

uint64_t tm_seg_index_key(const struct tm_store *s, uint32_t seg, int64_t field_id,
                          const struct tm_ivf_params *p)
{
    const struct tm_store_seg *sg = &s->segs[seg];
    const struct tm_col *pk = tm_batch_col(&sg->rows, s->pk_field_id);
    const struct tm_col *vec = tm_batch_col(&sg->rows, field_id);
    uint64_t head[10] = {sg->rows.nrows, (uint64_t)field_id, p->kind, p->metric, p->dim, p->nlist,
                         p->m,           p->nbits,           p->seed, p->iters};
    uint32_t hi = tm_crc32c(0, head, sizeof head);
    if (pk) {
        hi = tm_crc32c(hi, pk->data.data, pk->data.len);
        hi = tm_crc32c(hi, pk->ends.data, pk->ends.len);
    }
    hi = tm_crc32c(hi, sg->ts.data, sg->ts.len);
    uint32_t lo = vec ? tm_crc32c(0x5eed, vec->data.data, vec->data.len) : 0;
    return (uint64_t)hi << 32 | lo;
}

void tm_seg_index_free(struct tm_seg_index *list)
{
    while (list) {
        struct tm_seg_index *next = list->next;
        tm_ivf_free(list->ivf);
        free(list);
        list = next;
    }
}

const struct tm_seg_index *tm_seg_index_find(const struct tm_seg_index *list, int64_t field_id)
{
    for (; list; list = list->next)
        if (list->field_id == field_id)
            return list;
    return NULL;
}
