/* Internals of the IVF indexes (ivf.h), shared by ivf.c (build),
 * ivf_pq.c (product quantizers), ivf_search.c, ivf_io.c and the tests. */
#ifndef TM_IVF_INT_H
#define TM_IVF_INT_H

#include "ivf.h"

#include <stddef.h>

struct tm_ivf {
    struct tm_ivf_params p;
    struct tm_ivf_watch *watch; /* during tm_ivf_build only; may be NULL */
    uint64_t n;
    const float *raw; /* borrowed: the n vectors as given */
    float *centroids; /* nlist * dim */
    float *cnorm;     /* squared norm of each centroid */
    /* The centroids as bytes for the first, approximate coarse pass
     * (ivf_search.c): dimension t of centroid l is
     * c_lo[t] + c_step[t] * c_u8[l * dim + t]. Derived, not stored. */
    uint8_t *c_u8;
    float *c_lo, *c_step;
    uint64_t *list_off; /* nlist + 1: list l holds entries [list_off[l], list_off[l + 1]) */
    uint32_t *ids;      /* the row of each entry; lists in order, rows ascending in a list */
    uint64_t max_list;  /* entries of the longest list */
    /* IVF_FLAT: each entry's vector (normalised for COSINE), in entry order */
    float *vecs;
    /* PQ kinds */
    uint32_t dsub, ksub; /* dim / m, 2^nbits */
    float *codebooks;    /* m * ksub * dsub: sub-space s's centroid j at (s * ksub + j) * dsub */
    float *books_t;      /* the same transposed per sub-space: dimension t of j at
                          * (s * dsub + t) * ksub + j (derived, not stored) */
    uint8_t *codes;      /* IVF_PQ: m bytes per entry; IVF_PQ4: blocks (distance.h layout) */
    uint64_t *list_blk;  /* IVF_PQ4: nlist + 1 block offsets of each list */
    uint32_t mpad;       /* IVF_PQ4: m rounded up to even (the pad sub-space is all zero) */
    float *inv_norm;     /* COSINE with PQ: 1 / |x| of each row, for the exact re-rank */
    /* IVF_PQ4 with L2 or COSINE, derived, not stored: each list's own part
     * of its lookup tables. |r - y|^2 with r = q - c splits into |q - c|^2
     * (the coarse distance), -2 q.y (the query's, the same for every list)
     * and |y|^2 + 2 c.y (the list's, known at build). tl holds the last,
     * less its minimum per sub-space: list l's mpad * 16 floats at
     * l * mpad * 16 (zero for the pad sub-space); tl_min[l] the sum of
     * those minima, tl_span[l] the largest range left. */
    float *tl, *tl_min, *tl_span;
};

/* True when lists are chosen by largest inner product (IP), not by L2
 * (L2, and COSINE on normalised vectors). */
static inline int ivf_coarse_ip(const struct tm_ivf *ix)
{
    return ix->p.metric == TM_IVF_IP;
}

/* Fills what is derived from the centroids and not stored in files
 * (cnorm, c_u8, c_lo, c_step). 0 or TM_ENOMEM. */
int ivf_derive(struct tm_ivf *ix);

/* ---- ivf_pq.c ---- */

/* Trains ix->codebooks from the residuals of the sample rows (x already
 * normalised when COSINE), each row's list in assign. 0 or TM_ENOMEM. */
int ivf_pq_train(struct tm_ivf *ix, const float *x, const uint32_t *assign, uint64_t n);
/* The code of residual r (dim floats): one sub-centroid index per
 * sub-space into code_out[0..m). */
void ivf_pq_encode(const struct tm_ivf *ix, const float *r, uint8_t *code_out);
/* The lookup table of query q for list l: lut_out[s * ksub + j] is the key
 * contribution of sub-centroid j of sub-space s, so that an entry's key is
 * *bias_out plus the sum of its codes' entries. resid is dim floats of
 * scratch. */
void ivf_pq_lut(const struct tm_ivf *ix, const float *q, uint32_t l, float *resid, float *lut_out,
                float *bias_out);
/* Fills ix->tl, tl_min and tl_span (IVF_PQ4 with L2 or COSINE; nothing
 * for IP, whose tables do not depend on the list). 0 or TM_ENOMEM. */
int ivf_pq4_list_tables(struct tm_ivf *ix);
/* Query q's part of every IVF_PQ4 table (-2 q.y, or -q.y for IP) less its
 * minimum per sub-space, into out (mpad * 16 floats; zero for the pad):
 * *min_sum_out the sum of those minima, *span_out the largest range. */
void ivf_pq4_query_table(const struct tm_ivf *ix, const float *q, float *out, float *min_sum_out,
                         float *span_out);
/* Fills ix->books_t from ix->codebooks. 0 or TM_ENOMEM. */
int ivf_pq_transpose(struct tm_ivf *ix);
/* Packs the codes of entries [first, first + count) (m bytes each, in
 * codes8) into 4-bit blocks at out (ceil(count / 32) blocks of mpad * 16
 * bytes). */
void ivf_pq4_pack(const struct tm_ivf *ix, const uint8_t *codes8, uint64_t count, uint8_t *out);

#endif
