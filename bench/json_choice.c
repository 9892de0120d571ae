/* Tidemark: which JSON library for the REST front door (Milvus RESTful v2)?
 * Standalone benchmark + correctness probe; NOT part of the CMake build.
 *
 * Build and run (Debian 12: libjansson-dev 2.14, libjson-c-dev 0.16, libcjson-dev 1.7.15):
 *   cc -std=c11 -O2 -Wall -Wextra -Ibase -o /tmp/json_choice bench/json_choice.c \
 *      node/jw.c base/tm_buf.c $(pkg-config --cflags --libs jansson json-c libcjson) -lm
 *   /tmp/json_choice            # >= 1 s per timed case (each case capped at 5 s / 2e6 reps)
 *   /tmp/json_choice --quick    # >= 0.1 s per case, for a smoke run
 *
 * What it does:
 *   A. Parse benchmark: seeded (splitmix64) Milvus insert bodies
 *      {"collectionName":"c","data":[{"id":<int64>,"vector":[dim floats],"title":"...","n":5},...]}
 *      for rows in {1, 1000} x dim in {128, 768}.  Per library: parse -> DOM, walk every row
 *      reading every field as the server would (id as exact int64, floats as double -> float
 *      into a column buffer, title bytes, n), verify against the generated values, free.
 *      Extra row "jn+arena": jansson with a bump arena behind json_set_alloc_funcs().
 *   B. Serialization: a 1000-row search response (id, 128 floats, title) built as each
 *      library's DOM and dumped with its own printer, vs. a hand-written writer that prints
 *      float32 shortest round-trip repr.  Output is re-parsed and checked (ids, f32 values).
 *   C. Memory: heap held by the DOM (mallinfo2) and peak RSS (forked child) for 1000x768.
 *   D. Correctness: int64 round-trip, malformed input, duplicate keys, float printing,
 *      nesting depth.
 *   E. Self-check: fmt_f32_fast() == snprintf/strtof shortest loop on 2M floats.
 * Results and the decision: docs/json-library.md.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
/* jansson and json-c cannot share a translation unit: json-c's types `json_object`,
 * `json_type`, `json_object_iter` clash with jansson's json_object(), json_type,
 * json_object_iter(), and BOTH libraries export functions named json_object_get and
 * json_object_iter_next with different signatures (each .so versions its symbols, so the
 * libraries themselves are fine at run time, but this program's references bind to whichever
 * -l comes first: jansson).  Rename json-c's names while including its headers, and never
 * call json-c's json_object_get / json_object_iter_next. */
#define json_object jc_object
#define json_type jc_type
#define json_object_iter jc_object_iter
#define json_object_get jc_object_get_NOT_CALLABLE
#define json_object_iter_next jc_object_iter_next_NOT_CALLABLE
#include <json-c/json.h>
#undef json_object
#undef json_type
#undef json_object_iter
#undef json_object_get
#undef json_object_iter_next
#include <cjson/cJSON.h>

typedef struct jc_object jc_obj;

/* ------------------------------------------------------------------ utilities */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng_state;
static uint64_t rng_next(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

struct sbuf {
    char *p;
    size_t len, cap;
};

static void sb_reserve(struct sbuf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        perror("realloc");
        exit(2);
    }
    b->p = p;
    b->cap = cap;
}
static void sb_put(struct sbuf *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}
static void sb_puts(struct sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}
static void sb_putc(struct sbuf *b, char c)
{
    sb_put(b, &c, 1);
}

/* Shortest decimal that round-trips through float32 (same digits as Go's
 * strconv.FormatFloat(f, 'g', -1, 32); exponent style is C's %g).  f must be finite. */
static int fmt_f32_shortest(char *out, float f)
{
    int n = snprintf(out, 32, "%.8g", (double)f);
    if (strtof(out, NULL) != f)
        return snprintf(out, 32, "%.9g", (double)f);
    char tmp[32];
    for (int p = 7; p >= 1; p--) {
        int m = snprintf(tmp, sizeof tmp, "%.*g", p, (double)f);
        if (strtof(tmp, NULL) != f)
            break;
        memcpy(out, tmp, (size_t)m + 1);
        n = m;
    }
    return n;
}

/* The server's formatter (node/jw.c): exact shortest float32 for |f| in
 * [1e-4, 10), the snprintf loop elsewhere. Linked in by the build line. */
int tm_jw_format_float(char *buf, float v);
#define fmt_f32_fast tm_jw_format_float

static int fmt_i64(char *out, int64_t v)
{
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    int k = 0;
    if (v < 0)
        out[k++] = '-';
    while (n)
        out[k++] = tmp[--n];
    out[k] = 0;
    return k;
}

static void sb_put_jstring(struct sbuf *b, const char *s, size_t n)
{
    sb_reserve(b, n * 6 + 2);
    char *o = b->p + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20) {
            o += sprintf(o, "\\u%04x", c);
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
    b->p[b->len] = 0;
}

/* ------------------------------------------------------------------ data sets */

#define TITLE_MAX 64
struct dataset {
    size_t rows, dim;
    int64_t *ids;
    float *vecs;
    char (*titles)[TITLE_MAX];
    size_t *tlen;
};

static void ds_make(struct dataset *d, size_t rows, size_t dim, uint64_t seed)
{
    rng_state = seed;
    d->rows = rows;
    d->dim = dim;
    d->ids = malloc(rows * sizeof *d->ids);
    d->vecs = malloc(rows * dim * sizeof *d->vecs);
    d->titles = malloc(rows * sizeof *d->titles);
    d->tlen = malloc(rows * sizeof *d->tlen);
    for (size_t r = 0; r < rows; r++) {
        d->ids[r] = (int64_t)rng_next(); /* full int64 range, mostly > 2^53 */
        for (size_t i = 0; i < dim; i++) /* uniform in [-1, 1) with 24 random bits */
            d->vecs[r * dim + i] =
                (float)((int64_t)(rng_next() >> 40) - (1 << 23)) / (float)(1 << 23);
        int n = snprintf(d->titles[r], TITLE_MAX, "row %zu \"doc\" caf\xc3\xa9 %08" PRIx64, r,
                         rng_next() >> 32);
        d->tlen[r] = (size_t)n;
    }
}

static void ds_free(struct dataset *d)
{
    free(d->ids);
    free(d->vecs);
    free(d->titles);
    free(d->tlen);
}

static void gen_insert_body(struct sbuf *b, const struct dataset *d)
{
    char num[32];
    sb_puts(b, "{\"collectionName\":\"c\",\"data\":[");
    for (size_t r = 0; r < d->rows; r++) {
        if (r)
            sb_putc(b, ',');
        sb_puts(b, "{\"id\":");
        sb_put(b, num, (size_t)fmt_i64(num, d->ids[r]));
        sb_puts(b, ",\"vector\":[");
        for (size_t i = 0; i < d->dim; i++) {
            if (i)
                sb_putc(b, ',');
            sb_put(b, num, (size_t)fmt_f32_fast(num, d->vecs[r * d->dim + i]));
        }
        sb_puts(b, "],\"title\":");
        sb_put_jstring(b, d->titles[r], d->tlen[r]);
        sb_puts(b, ",\"n\":5}");
    }
    sb_puts(b, "]}");
}

/* ------------------------------------------------------------------ walks */

struct walk {
    size_t rows, bad_id, bad_f, bad_other;
};

enum { K_ID, K_VECTOR, K_TITLE, K_N, K_UNKNOWN };
static int key_of(const char *k)
{
    if (!strcmp(k, "id"))
        return K_ID;
    if (!strcmp(k, "vector"))
        return K_VECTOR;
    if (!strcmp(k, "title"))
        return K_TITLE;
    if (!strcmp(k, "n"))
        return K_N;
    return K_UNKNOWN;
}

static void check_title(const struct dataset *d, size_t r, const char *s, size_t n, struct walk *w)
{
    if (n != d->tlen[r] || memcmp(s, d->titles[r], n))
        w->bad_other++;
}

/* jansson */
static int jn_walk(json_t *root, const struct dataset *d, float *col, struct walk *w)
{
    if (!json_is_string(json_object_get(root, "collectionName")))
        return -1;
    json_t *data = json_object_get(root, "data");
    if (!json_is_array(data) || json_array_size(data) != d->rows)
        return -1;
    for (size_t r = 0; r < d->rows; r++) {
        json_t *row = json_array_get(data, r), *v;
        const char *key;
        if (!json_is_object(row))
            return -1;
        json_object_foreach(row, key, v)
        {
            switch (key_of(key)) {
            case K_ID:
                if (!json_is_integer(v))
                    return -1;
                if ((int64_t)json_integer_value(v) != d->ids[r])
                    w->bad_id++;
                break;
            case K_VECTOR: {
                if (!json_is_array(v) || json_array_size(v) != d->dim)
                    return -1;
                float *dst = col + r * d->dim;
                const float *exp = d->vecs + r * d->dim;
                for (size_t i = 0; i < d->dim; i++) {
                    json_t *e = json_array_get(v, i);
                    if (!json_is_number(e))
                        return -1;
                    dst[i] = (float)json_number_value(e);
                    w->bad_f += dst[i] != exp[i];
                }
                break;
            }
            case K_TITLE:
                if (!json_is_string(v))
                    return -1;
                check_title(d, r, json_string_value(v), json_string_length(v), w);
                break;
            case K_N:
                if (!json_is_integer(v) || json_integer_value(v) != 5)
                    w->bad_other++;
                break;
            default:
                return -1;
            }
        }
        w->rows++;
    }
    return 0;
}

/* json-c */
static int jc_walk(jc_obj *root, const struct dataset *d, float *col, struct walk *w)
{
    jc_obj *cn, *data;
    if (!json_object_object_get_ex(root, "collectionName", &cn) ||
        !json_object_is_type(cn, json_type_string))
        return -1;
    if (!json_object_object_get_ex(root, "data", &data) ||
        !json_object_is_type(data, json_type_array) || json_object_array_length(data) != d->rows)
        return -1;
    for (size_t r = 0; r < d->rows; r++) {
        jc_obj *row = json_object_array_get_idx(data, r);
        if (!json_object_is_type(row, json_type_object))
            return -1;
        for (struct lh_entry *e = lh_table_head(json_object_get_object(row)); e;
             e = lh_entry_next(e)) {
            const char *key = lh_entry_k(e);
            jc_obj *v = (jc_obj *)lh_entry_v(e);
            switch (key_of(key)) {
            case K_ID:
                if (!json_object_is_type(v, json_type_int))
                    return -1;
                if (json_object_get_int64(v) != d->ids[r])
                    w->bad_id++;
                break;
            case K_VECTOR: {
                if (!json_object_is_type(v, json_type_array) ||
                    json_object_array_length(v) != d->dim)
                    return -1;
                float *dst = col + r * d->dim;
                const float *exp = d->vecs + r * d->dim;
                for (size_t i = 0; i < d->dim; i++) {
                    jc_obj *x = json_object_array_get_idx(v, i);
                    if (!json_object_is_type(x, json_type_double) &&
                        !json_object_is_type(x, json_type_int))
                        return -1;
                    dst[i] = (float)json_object_get_double(x);
                    w->bad_f += dst[i] != exp[i];
                }
                break;
            }
            case K_TITLE:
                if (!json_object_is_type(v, json_type_string))
                    return -1;
                check_title(d, r, json_object_get_string(v), (size_t)json_object_get_string_len(v),
                            w);
                break;
            case K_N:
                if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) != 5)
                    w->bad_other++;
                break;
            default:
                return -1;
            }
        }
        w->rows++;
    }
    return 0;
}

/* cJSON: numbers are doubles only; an "int64" is whatever the double holds. */
static int cj_to_i64(const cJSON *v, int64_t *out)
{
    double x = v->valuedouble;
    if (!(x >= -9223372036854775808.0 && x < 9223372036854775808.0) || x != floor(x))
        return -1;
    *out = (int64_t)x;
    return 0;
}

static int cj_walk(cJSON *root, const struct dataset *d, float *col, struct walk *w)
{
    if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(root, "collectionName")))
        return -1;
    cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    if (!cJSON_IsArray(data))
        return -1;
    size_t r = 0;
    for (cJSON *row = data->child; row; row = row->next, r++) {
        if (r >= d->rows || !cJSON_IsObject(row))
            return -1;
        for (cJSON *v = row->child; v; v = v->next) {
            switch (key_of(v->string)) {
            case K_ID: {
                int64_t id;
                if (!cJSON_IsNumber(v))
                    return -1;
                if (cj_to_i64(v, &id) || id != d->ids[r])
                    w->bad_id++;
                break;
            }
            case K_VECTOR: {
                if (!cJSON_IsArray(v))
                    return -1;
                float *dst = col + r * d->dim;
                const float *exp = d->vecs + r * d->dim;
                size_t i = 0;
                for (cJSON *x = v->child; x; x = x->next, i++) {
                    if (i >= d->dim || !cJSON_IsNumber(x))
                        return -1;
                    dst[i] = (float)x->valuedouble;
                    w->bad_f += dst[i] != exp[i];
                }
                if (i != d->dim)
                    return -1;
                break;
            }
            case K_TITLE:
                if (!cJSON_IsString(v))
                    return -1;
                check_title(d, r, v->valuestring, strlen(v->valuestring), w);
                break;
            case K_N:
                if (!cJSON_IsNumber(v) || v->valuedouble != 5.0)
                    w->bad_other++;
                break;
            default:
                return -1;
            }
        }
        w->rows++;
    }
    return r == d->rows ? 0 : -1;
}

/* ------------------------------------------------------------------ parsers (server mode) */

/* jansson: json_loadb, flags 0 (EOF check on, UTF-8 validated, \u0000 rejected). */
static void *jn_parse(const char *buf, size_t len, char *err, size_t errlen)
{
    json_error_t e;
    json_t *j = json_loadb(buf, len, 0, &e);
    if (!j && err)
        snprintf(err, errlen, "%s", e.text);
    return j;
}
static void jn_free(void *p)
{
    json_decref(p);
}

/* json-c: tokener with STRICT|VALIDATE_UTF8, whole buffer must be consumed. */
static void *jc_parse(const char *buf, size_t len, char *err, size_t errlen)
{
    struct json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    jc_obj *o = json_tokener_parse_ex(tok, buf, (int)len);
    enum json_tokener_error je = json_tokener_get_error(tok);
    if (o && json_tokener_get_parse_end(tok) != len) {
        json_object_put(o);
        o = NULL;
        if (err)
            snprintf(err, errlen, "did not consume whole buffer");
    } else if (!o && err) {
        snprintf(err, errlen, "%s", json_tokener_error_desc(je));
    }
    json_tokener_free(tok);
    return o;
}
/* json-c default entry point: json_tokener_parse(NUL-terminated string). */
static void *jc_parse_default(const char *buf, size_t len, char *err, size_t errlen)
{
    (void)len;
    enum json_tokener_error je;
    jc_obj *o = json_tokener_parse_verbose(buf, &je);
    if (!o && err)
        snprintf(err, errlen, "%s", json_tokener_error_desc(je));
    return o;
}
static void jc_free(void *p)
{
    json_object_put(p);
}

/* cJSON: ParseWithLengthOpts(require_null_terminated=1) = the strictest it offers.  In 1.7.15
 * the length must COUNT the NUL terminator (buf[len] == 0), else every document is rejected. */
static void *cj_parse(const char *buf, size_t len, char *err, size_t errlen)
{
    cJSON *c = cJSON_ParseWithLengthOpts(buf, len + 1, NULL, 1);
    if (!c && err)
        snprintf(err, errlen, "error near offset %td",
                 cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - buf : -1);
    return c;
}
static void *cj_parse_default(const char *buf, size_t len, char *err, size_t errlen)
{
    (void)len;
    cJSON *c = cJSON_Parse(buf);
    if (!c && err)
        snprintf(err, errlen, "error");
    return c;
}
static void cj_free(void *p)
{
    cJSON_Delete(p);
}

static char *jn_dump(void *p)
{
    return json_dumps(p, JSON_COMPACT);
}
static char *jc_dump(void *p)
{
    return strdup(json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN));
}
static char *cj_dump(void *p)
{
    return cJSON_PrintUnformatted(p);
}

static int jn_walk_v(void *p, const struct dataset *d, float *c, struct walk *w)
{
    return jn_walk(p, d, c, w);
}
static int jc_walk_v(void *p, const struct dataset *d, float *c, struct walk *w)
{
    return jc_walk(p, d, c, w);
}
static int cj_walk_v(void *p, const struct dataset *d, float *c, struct walk *w)
{
    return cj_walk(p, d, c, w);
}

struct lib {
    const char *name;
    void *(*parse)(const char *, size_t, char *, size_t);
    void (*free_)(void *);
    char *(*dump)(void *);
    int (*walk)(void *, const struct dataset *, float *, struct walk *);
};
static const struct lib LIBS[] = {
    {"jansson", jn_parse, jn_free, jn_dump, jn_walk_v},
    {"json-c", jc_parse, jc_free, jc_dump, jc_walk_v},
    {"cJSON", cj_parse, cj_free, cj_dump, cj_walk_v},
};
#define NLIBS (sizeof LIBS / sizeof LIBS[0])

/* jansson with a bump arena behind json_set_alloc_funcs() (free is a no-op, the arena is
 * rewound after each body): measures how much of jansson's time is malloc/free.  The hooks
 * are process-wide, so they are installed only around that one timed case. */
struct ar_chunk {
    struct ar_chunk *next;
    size_t cap, used;
    max_align_t data[];
};
static struct ar_chunk *ar_head, *ar_cur;
static void *ar_malloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    while (ar_cur && ar_cur->used + n > ar_cur->cap)
        ar_cur = ar_cur->next;
    if (!ar_cur) {
        size_t cap = n > (1u << 20) ? n : (1u << 20);
        struct ar_chunk *c = malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = ar_head; /* new chunks go in front; rewinding walks them all */
        ar_head = ar_cur = c;
    }
    void *p = (char *)ar_cur->data + ar_cur->used;
    ar_cur->used += n;
    return p;
}
static void ar_free(void *p)
{
    (void)p;
}
static void ar_reset(void)
{
    for (struct ar_chunk *c = ar_head; c; c = c->next)
        c->used = 0;
    ar_cur = ar_head;
}
static void ar_release(void)
{
    while (ar_head) {
        struct ar_chunk *n = ar_head->next;
        free(ar_head);
        ar_head = n;
    }
    ar_cur = NULL;
}
static void jn_free_arena(void *p)
{
    json_decref(p);
    ar_reset();
}
static const struct lib LIB_JN_ARENA = {"jn+arena", jn_parse, jn_free_arena, jn_dump, jn_walk_v};

/* ------------------------------------------------------------------ timing */

static double g_min_s = 1.0;
#define MAX_REPS 2000000L

struct run_ctx {
    const struct lib *lib;
    const char *buf;
    size_t len;
    const struct dataset *d;
    float *col;
    int do_walk;
    struct walk w;
};

static int run_parse(void *vctx)
{
    struct run_ctx *c = vctx;
    void *dom = c->lib->parse(c->buf, c->len, NULL, 0);
    if (!dom)
        return -1;
    int rc = 0;
    if (c->do_walk) {
        memset(&c->w, 0, sizeof c->w);
        rc = c->lib->walk(dom, c->d, c->col, &c->w);
    }
    c->lib->free_(dom);
    return rc;
}

/* Mean seconds per call; runs >= g_min_s and >= 3 reps, at most MAX_REPS or 5*g_min_s. */
static double time_it(int (*fn)(void *), void *ctx, long *reps)
{
    if (fn(ctx)) /* warm-up */
        return -1;
    long n = 0;
    double t0 = now_s(), t;
    do {
        if (fn(ctx))
            return -1;
        n++;
        t = now_s() - t0;
    } while (n < MAX_REPS && t < 5 * g_min_s && (t < g_min_s || n < 3));
    *reps = n;
    return t / (double)n;
}

/* ------------------------------------------------------------------ serialization */

static const struct dataset *g_resp;

static void *jn_build(const struct dataset *d)
{
    json_t *root = json_object(), *data = json_array();
    json_object_set_new(root, "code", json_integer(0));
    json_object_set_new(root, "cost", json_integer(0));
    for (size_t r = 0; r < d->rows; r++) {
        json_t *row = json_object(), *vec = json_array();
        json_object_set_new(row, "id", json_integer(d->ids[r]));
        json_object_set_new(row, "title", json_stringn(d->titles[r], d->tlen[r]));
        for (size_t i = 0; i < d->dim; i++)
            json_array_append_new(vec, json_real((double)d->vecs[r * d->dim + i]));
        json_object_set_new(row, "vector", vec);
        json_array_append_new(data, row);
    }
    json_object_set_new(root, "data", data);
    return root;
}
static void *jc_build(const struct dataset *d)
{
    jc_obj *root = json_object_new_object(), *data = json_object_new_array_ext((int)d->rows);
    json_object_object_add(root, "code", json_object_new_int64(0));
    json_object_object_add(root, "cost", json_object_new_int64(0));
    for (size_t r = 0; r < d->rows; r++) {
        jc_obj *row = json_object_new_object(), *vec = json_object_new_array_ext((int)d->dim);
        json_object_object_add(row, "id", json_object_new_int64(d->ids[r]));
        json_object_object_add(row, "title",
                               json_object_new_string_len(d->titles[r], (int)d->tlen[r]));
        for (size_t i = 0; i < d->dim; i++)
            json_object_array_add(vec, json_object_new_double((double)d->vecs[r * d->dim + i]));
        json_object_object_add(row, "vector", vec);
        json_object_array_add(data, row);
    }
    json_object_object_add(root, "data", data);
    return root;
}
static void *cj_build(const struct dataset *d)
{
    cJSON *root = cJSON_CreateObject(), *data = cJSON_CreateArray();
    cJSON_AddNumberToObject(root, "code", 0);
    cJSON_AddNumberToObject(root, "cost", 0);
    for (size_t r = 0; r < d->rows; r++) {
        cJSON *row = cJSON_CreateObject(), *vec = cJSON_CreateArray();
        cJSON_AddNumberToObject(row, "id", (double)d->ids[r]); /* lossy above 2^53 */
        cJSON_AddStringToObject(row, "title", d->titles[r]);
        for (size_t i = 0; i < d->dim; i++)
            cJSON_AddItemToArray(vec, cJSON_CreateNumber((double)d->vecs[r * d->dim + i]));
        cJSON_AddItemToObject(row, "vector", vec);
        cJSON_AddItemToArray(data, row);
    }
    cJSON_AddItemToObject(root, "data", data);
    return root;
}

/* Our writer: keys in sorted order (as Go's encoding/json prints a map), exact int64,
 * floats as mode 2 = fast float32 shortest, 1 = snprintf/strtof-loop shortest,
 * 0 = %.9g (always round-trips float32, not shortest). */
static char *own_write(const struct dataset *d, int mode, size_t *outlen)
{
    struct sbuf b = {0};
    char num[32];
    sb_reserve(&b, d->rows * (d->dim * 12 + 96) + 64);
    sb_puts(&b, "{\"code\":0,\"cost\":0,\"data\":[");
    for (size_t r = 0; r < d->rows; r++) {
        if (r)
            sb_putc(&b, ',');
        sb_puts(&b, "{\"id\":");
        sb_put(&b, num, (size_t)fmt_i64(num, d->ids[r]));
        sb_puts(&b, ",\"title\":");
        sb_put_jstring(&b, d->titles[r], d->tlen[r]);
        sb_puts(&b, ",\"vector\":[");
        for (size_t i = 0; i < d->dim; i++) {
            if (i)
                sb_putc(&b, ',');
            float f = d->vecs[r * d->dim + i];
            int n = mode == 2   ? fmt_f32_fast(num, f)
                    : mode == 1 ? fmt_f32_shortest(num, f)
                                : snprintf(num, sizeof num, "%.9g", (double)f);
            sb_put(&b, num, (size_t)n);
        }
        sb_puts(&b, "]}");
    }
    sb_puts(&b, "]}");
    *outlen = b.len;
    return b.p;
}

struct ser_ctx {
    int which; /* 0..2 = LIBS, 3 = own fast shortest, 4 = own loop shortest, 5 = own %.9g */
    int dump_only;
    void *dom; /* for dump_only */
    size_t outlen;
};
static void *(*const BUILDERS[])(const struct dataset *) = {jn_build, jc_build, cj_build};

static int run_ser(void *vctx)
{
    struct ser_ctx *c = vctx;
    char *s;
    if (c->which >= 3) {
        s = own_write(g_resp, 5 - c->which, &c->outlen);
        free(s);
        return 0;
    }
    const struct lib *L = &LIBS[c->which];
    void *dom = c->dump_only ? c->dom : BUILDERS[c->which](g_resp);
    if (c->which == 1) { /* json-c prints into the object's own buffer; no copy */
        size_t n;
        json_object_to_json_string_length(dom, JSON_C_TO_STRING_PLAIN, &n);
        c->outlen = n;
    } else {
        s = L->dump(dom);
        c->outlen = strlen(s);
        free(s);
    }
    if (!c->dump_only)
        L->free_(dom);
    return 0;
}

/* Re-parse a response with jansson and count ids / float32 values that did not survive. */
static void verify_response(const char *s, size_t len, size_t *bad_id, size_t *bad_f)
{
    *bad_id = *bad_f = 0;
    json_t *root = json_loadb(s, len, 0, NULL);
    json_t *data = json_object_get(root, "data");
    if (!root || json_array_size(data) != g_resp->rows) {
        *bad_id = *bad_f = (size_t)-1;
        json_decref(root);
        return;
    }
    for (size_t r = 0; r < g_resp->rows; r++) {
        json_t *row = json_array_get(data, r), *id = json_object_get(row, "id");
        json_t *vec = json_object_get(row, "vector");
        if (!json_is_integer(id) || json_integer_value(id) != g_resp->ids[r])
            (*bad_id)++;
        for (size_t i = 0; i < g_resp->dim; i++)
            if ((float)json_number_value(json_array_get(vec, i)) !=
                g_resp->vecs[r * g_resp->dim + i])
                (*bad_f)++;
    }
    json_decref(root);
}

static char *ser_once(int which, size_t *len)
{
    if (which >= 3)
        return own_write(g_resp, 5 - which, len);
    void *dom = BUILDERS[which](g_resp);
    char *s = LIBS[which].dump(dom);
    LIBS[which].free_(dom);
    *len = strlen(s);
    return s;
}

/* ------------------------------------------------------------------ memory */

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static long status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t fl = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, fl) && line[fl] == ':') {
            v = strtol(line + fl + 1, NULL, 10);
            break;
        }
    if (f)
        fclose(f);
    return v;
}

/* ------------------------------------------------------------------ correctness probes */

static const char *jn_kind(const json_t *v)
{
    return json_is_integer(v) ? "int" : json_is_real(v) ? "real" : "other";
}

static void probe_int64(const char *text)
{
    size_t len = strlen(text);
    printf("  input %s\n", text);
    for (size_t l = 0; l < NLIBS; l++) {
        char err[160] = "";
        void *dom = LIBS[l].parse(text, len, err, sizeof err);
        if (!dom) {
            printf("    %-8s rejected: %s\n", LIBS[l].name, err);
            continue;
        }
        char got[64] = "?";
        if (l == 0) {
            json_t *v = json_object_get(dom, "id");
            snprintf(got, sizeof got, "%" JSON_INTEGER_FORMAT " (%s)", json_integer_value(v),
                     jn_kind(v));
        } else if (l == 1) {
            jc_obj *v = json_object_object_get(dom, "id");
            snprintf(got, sizeof got, "%" PRId64 " (%s)", json_object_get_int64(v),
                     json_type_to_name(json_object_get_type(v)));
        } else {
            cJSON *v = cJSON_GetObjectItemCaseSensitive(dom, "id");
            int64_t i;
            if (cj_to_i64(v, &i))
                snprintf(got, sizeof got, "not representable (double %.17g)", v->valuedouble);
            else
                snprintf(got, sizeof got, "%" PRId64 " (double)", i);
        }
        char *out = LIBS[l].dump(dom);
        printf("    %-8s read %-36s dump %s\n", LIBS[l].name, got, out);
        free(out);
        LIBS[l].free_(dom);
    }
}

struct bad_case {
    const char *label;
    const char *text;
    size_t len; /* 0 = strlen */
    int valid;
};

static void probe_malformed(void)
{
    const struct bad_case cases[] = {
        {"valid, trailing ws", "{\"a\":1} \n", 0, 1},
        {"trailing garbage", "{\"a\":1} x", 0, 0},
        {"two documents", "{\"a\":1}{\"b\":2}", 0, 0},
        {"truncated array", "{\"a\":[1,2", 0, 0},
        {"truncated string", "{\"a\":\"ab", 0, 0},
        {"truncated after key", "{\"a\"", 0, 0},
        {"empty body", "", 0, 0},
        {"trailing comma obj", "{\"a\":1,}", 0, 0},
        {"trailing comma arr", "[1,2,]", 0, 0},
        {"NaN literal", "{\"a\":NaN}", 0, 0},
        {"leading zero", "{\"a\":01}", 0, 0},
        {"single quotes", "{'a':1}", 0, 0},
        {"invalid UTF-8 (\\xff)", "{\"a\":\"\xff\"}", 0, 0},
        {"lone surrogate \\ud800", "{\"a\":\"\\ud800\"}", 0, 0},
        {"\\u0000 in string", "{\"a\":\"x\\u0000y\"}", 0, 0},
        {"NUL byte then junk", "{\"a\":1}\0junk", 12, 0},
        {"int > INT64_MAX", "{\"a\":9223372036854775808}", 0, 0},
    };
    const struct {
        const char *name;
        void *(*parse)(const char *, size_t, char *, size_t);
        void (*free_)(void *);
    } P[] = {
        {"jansson loadb", jn_parse, jn_free}, {"json-c parse()", jc_parse_default, jc_free},
        {"json-c strict", jc_parse, jc_free}, {"cJSON_Parse", cj_parse_default, cj_free},
        {"cJSON strict", cj_parse, cj_free},
    };
    printf("  %-26s", "input (want)");
    for (size_t p = 0; p < sizeof P / sizeof P[0]; p++)
        printf(" %-15s", P[p].name);
    printf("\n");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct bad_case *c = &cases[i];
        size_t len = c->len ? c->len : strlen(c->text);
        printf("  %-22s %-3s", c->label, c->valid ? "ok" : "rej");
        for (size_t p = 0; p < sizeof P / sizeof P[0]; p++) {
            char *copy = malloc(len + 1); /* exact-length buffer so overreads show up under ASan */
            memcpy(copy, c->text, len);
            copy[len] = 0;
            void *dom = P[p].parse(copy, len, NULL, 0);
            int ok = dom != NULL;
            printf(" %-15s", ok == c->valid ? (ok ? "accept" : "reject")
                                            : (ok ? "ACCEPT <-BAD" : "REJECT <-BAD"));
            if (dom)
                P[p].free_(dom);
            free(copy);
        }
        printf("\n");
    }
}

static void probe_dups(void)
{
    const char *t = "{\"a\":1,\"a\":2}";
    size_t len = strlen(t);
    json_error_t e;
    json_t *j = json_loadb(t, len, 0, &e);
    printf("    jansson  default: a=%" JSON_INTEGER_FORMAT ", %zu member(s) (last wins)\n",
           json_integer_value(json_object_get(j, "a")), json_object_size(j));
    json_decref(j);
    j = json_loadb(t, len, JSON_REJECT_DUPLICATES, &e);
    printf("    jansson  JSON_REJECT_DUPLICATES: %s%s\n",
           j ? "accepted" : "rejected: ", j ? "" : e.text);
    json_decref(j);
    jc_obj *o = jc_parse(t, len, NULL, 0);
    printf("    json-c   a=%" PRId64 ", %d member(s); no option to reject\n",
           json_object_get_int64(json_object_object_get(o, "a")), json_object_object_length(o));
    json_object_put(o);
    cJSON *c = cJSON_Parse(t);
    char *s = cJSON_PrintUnformatted(c);
    printf("    cJSON    GetObjectItem a=%g, %d member(s) kept, dump %s; no option to reject\n",
           cJSON_GetObjectItemCaseSensitive(c, "a")->valuedouble, cJSON_GetArraySize(c), s);
    free(s);
    cJSON_Delete(c);
    c = cJSON_Parse("{\"ID\":7}");
    cJSON *hit = cJSON_GetObjectItem(c, "id");
    printf(
        "    cJSON    note: cJSON_GetObjectItem(\"id\") on {\"ID\":7} -> %s (case-insensitive)\n",
        hit ? "found" : "not found");
    cJSON_Delete(c);
}

static void probe_floats(void)
{
    const float f = 0.1f;
    const double vals[] = {(double)f, 0.1, (double)1e-7f, (double)123456.7f};
    const char *labels[] = {"(double)0.1f", "0.1 (double)", "(double)1e-7f", "(double)123456.7f"};
    for (size_t k = 0; k < 4; k++) {
        printf("  %s\n", labels[k]);
        json_t *j = json_pack("[f]", vals[k]);
        char *a = json_dumps(j, JSON_COMPACT),
             *a9 = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(9));
        printf("    jansson  %-28s JSON_REAL_PRECISION(9): %s\n", a, a9);
        free(a);
        free(a9);
        json_decref(j);
        jc_obj *o = json_object_new_array();
        json_object_array_add(o, json_object_new_double(vals[k]));
        char *b = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_c_set_serialization_double_format("%.9g", JSON_C_OPTION_THREAD);
        json_object_put(o); /* format is applied at print time; rebuild to avoid cached text */
        o = json_object_new_array();
        json_object_array_add(o, json_object_new_double(vals[k]));
        printf("    json-c   %-28s double_format %%.9g: %s\n", b,
               json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_c_set_serialization_double_format(NULL, JSON_C_OPTION_THREAD);
        free(b);
        json_object_put(o);
        cJSON *c = cJSON_CreateArray();
        cJSON_AddItemToArray(c, cJSON_CreateNumber(vals[k]));
        char *s = cJSON_PrintUnformatted(c);
        printf("    cJSON    %-28s (no option)\n", s);
        free(s);
        cJSON_Delete(c);
        char num[32];
        fmt_f32_shortest(num, (float)vals[k]);
        printf("    ours     [%s]  (float32 shortest)\n", num);
    }
    /* json-c keeps the source text of parsed doubles and re-prints it verbatim */
    jc_obj *o = jc_parse("[0.10000000149011612,1e2]", 25, NULL, 0);
    printf("  json-c parse->dump of [0.10000000149011612,1e2]: %s (source text kept)\n",
           json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
}

static void probe_depth(void)
{
    const size_t N = 100000;
    char *open = malloc(N + 1), *bal = malloc(2 * N + 1);
    memset(open, '[', N);
    open[N] = 0;
    memset(bal, '[', N);
    memset(bal + N, ']', N);
    bal[2 * N] = 0;
    const struct {
        const char *name;
        void *(*parse)(const char *, size_t, char *, size_t);
        void (*free_)(void *);
    } P[] = {
        {"jansson", jn_parse, jn_free},
        {"json-c", jc_parse, jc_free},
        {"json-c parse()", jc_parse_default, jc_free},
        {"cJSON", cj_parse, cj_free},
        {"cJSON_Parse", cj_parse_default, cj_free},
    };
    for (size_t p = 0; p < sizeof P / sizeof P[0]; p++) {
        char e1[160] = "", e2[160] = "";
        void *a = P[p].parse(open, N, e1, sizeof e1), *b = P[p].parse(bal, 2 * N, e2, sizeof e2);
        printf("    %-15s 1e5 x '[': %s%s | 1e5 x '[' + 1e5 x ']': %s%s\n", P[p].name,
               a ? "ACCEPTED " : "rejected ", a ? "" : e1, b ? "ACCEPTED " : "rejected ",
               b ? "" : e2);
        if (a)
            P[p].free_(a);
        if (b)
            P[p].free_(b);
    }
    /* What depth does each accept?  Probe 32/33/1000/1001/2048/2049 (balanced arrays). */
    const size_t depths[] = {32, 33, 1000, 1001, 2048, 2049};
    printf("    max depth accepted (balanced [[..]]):");
    for (size_t p = 0; p < sizeof P / sizeof P[0]; p++) {
        if (p == 2 || p == 4)
            continue;
        size_t best = 0;
        for (size_t k = 0; k < 6; k++) {
            size_t n = depths[k];
            memset(bal, '[', n);
            memset(bal + n, ']', n);
            bal[2 * n] = 0;
            void *x = P[p].parse(bal, 2 * n, NULL, 0);
            if (x) {
                best = n;
                P[p].free_(x);
            }
        }
        printf(" %s %zu;", P[p].name, best);
    }
    printf("\n");
    free(open);
    free(bal);
}

/* The fast float32 formatter must print exactly what the snprintf/strtof loop prints. */
static void selfcheck_f32(void)
{
    const long N = 2000000;
    long bad = 0, fast = 0;
    rng_state = 0x5eedu;
    for (long i = 0; i < N + 8; i++) {
        float f;
        if (i < 8) {
            const float special[8] = {0.1f, 1e-4f, 9.9999999f, 9.999999f,
                                      1.0f, 0.5f,  2.0f,       1.00000012f};
            f = special[i];
        } else {
            uint64_t r = rng_next();
            uint32_t exp = 127 - 16 + (uint32_t)(r % 22); /* 2^-16 .. 2^5: around the fast range */
            uint32_t bits =
                (uint32_t)((r >> 8) & 0x7fffff) | (exp << 23) | ((uint32_t)(r >> 63) << 31);
            memcpy(&f, &bits, sizeof f);
        }
        char a[40], b[40];
        fmt_f32_fast(a, f);
        fmt_f32_shortest(b, f);
        float af = fabsf(f);
        fast += af >= 1e-4f && af < 10.0f;
        if (strcmp(a, b)) {
            if (bad < 5)
                printf("    MISMATCH %a: fast %s loop %s\n", (double)f, a, b);
            bad++;
        }
    }
    printf("  fast float32 formatter vs snprintf/strtof loop: %ld/%ld differ (%ld took the fast "
           "path)\n",
           bad, N + 8, fast);
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--quick"))
        g_min_s = 0.1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("json_choice: jansson %s, json-c %s, cJSON %s; min %.1f s per case\n\n", JANSSON_VERSION,
           json_c_version(), cJSON_Version(), g_min_s);

    /* A. parse + walk */
    printf("A. Parse insert body -> DOM, walk every field, free (mean per body)\n");
    printf("  %-12s %9s %-8s %10s %9s %12s %9s %8s  %s\n", "case", "bytes", "lib", "us/body",
           "MB/s", "parse+free us", "reps", "walk_ok", "mismatches id/f32/other");
    const size_t rowsv[] = {1, 1000}, dimv[] = {128, 768};
    struct dataset big = {0};
    struct sbuf bigbody = {0};
    for (size_t ri = 0; ri < 2; ri++)
        for (size_t di = 0; di < 2; di++) {
            struct dataset d;
            ds_make(&d, rowsv[ri], dimv[di], 0x7157u + ri * 10 + di);
            struct sbuf body = {0};
            gen_insert_body(&body, &d);
            float *col = malloc(d.rows * d.dim * sizeof *col);
            char label[32];
            snprintf(label, sizeof label, "%zux%zu", d.rows, d.dim);
            for (size_t l = 0; l <= NLIBS; l++) {
                const struct lib *L = l < NLIBS ? &LIBS[l] : &LIB_JN_ARENA;
                struct run_ctx c = {L, body.p, body.len, &d, col, 1, {0}};
                long reps = 0, reps0 = 0;
                if (L == &LIB_JN_ARENA)
                    json_set_alloc_funcs(ar_malloc, ar_free);
                double t = time_it(run_parse, &c, &reps);
                struct walk w = c.w;
                c.do_walk = 0;
                double t0 = time_it(run_parse, &c, &reps0);
                if (L == &LIB_JN_ARENA) {
                    json_set_alloc_funcs(malloc, free);
                    ar_release();
                }
                if (t < 0 || t0 < 0) {
                    printf("  %-12s %9zu %-8s FAILED to parse/walk\n", label, body.len, L->name);
                    continue;
                }
                printf("  %-12s %9zu %-8s %10.1f %9.1f %12.1f %9ld %8s  %zu/%zu/%zu\n", label,
                       body.len, L->name, t * 1e6, (double)body.len / t / 1e6, t0 * 1e6, reps,
                       w.rows == d.rows ? "yes" : "no", w.bad_id, w.bad_f, w.bad_other);
            }
            free(col);
            if (ri == 1 && di == 1) {
                big = d;
                bigbody = body;
            } else {
                ds_free(&d);
                free(body.p);
            }
        }

    /* B. serialization */
    printf("\nB. Serialize a 1000-row search response (id, 128 floats, title)\n");
    struct dataset resp;
    ds_make(&resp, 1000, 128, 0xfeedu);
    g_resp = &resp;
    printf("  %-22s %9s %12s %10s %12s %8s  %s\n", "writer", "out bytes", "build+dump us", "MB/s",
           "dump-only us", "reps", "re-parse mismatches id/f32");
    const char *wname[] = {"jansson json_dumps",     "json-c to_json_string",
                           "cJSON_PrintUnformatted", "ours f32-shortest fast",
                           "ours f32-shortest loop", "ours %.9g"};
    for (int k = 0; k < 6; k++) {
        struct ser_ctx c = {k, 0, NULL, 0};
        long reps = 0, reps2 = 0;
        double t = time_it(run_ser, &c, &reps), t2 = -1;
        if (k < 3) {
            struct ser_ctx c2 = {k, 1, BUILDERS[k](&resp), 0};
            t2 = time_it(run_ser, &c2, &reps2);
            LIBS[k].free_(c2.dom);
        }
        size_t len, bi, bf;
        char *s = ser_once(k, &len);
        verify_response(s, len, &bi, &bf);
        free(s);
        char dump_only[32] = "-";
        if (t2 > 0)
            snprintf(dump_only, sizeof dump_only, "%.0f", t2 * 1e6);
        printf("  %-22s %9zu %12.0f %10.1f %12s %8ld  %zu/%zu\n", wname[k], len, t * 1e6,
               (double)len / t / 1e6, dump_only, reps, bi, bf);
    }
    ds_free(&resp);

    /* C. memory for the 1000x768 body */
    printf("\nC. Memory for the 1000x768 insert body (%zu bytes)\n", bigbody.len);
    for (size_t l = 0; l < NLIBS; l++) {
        malloc_trim(0);
        size_t h0 = heap_in_use();
        void *dom = LIBS[l].parse(bigbody.p, bigbody.len, NULL, 0);
        size_t h1 = heap_in_use();
        LIBS[l].free_(dom);
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            malloc_trim(0); /* give back heap the parent freed, so growth is this parse only */
            FILE *f = fopen("/proc/self/clear_refs", "w"); /* "5" resets VmHWM */
            if (f) {
                fputs("5", f);
                fclose(f);
            }
            long rss0 = status_kb("VmRSS");
            void *x = LIBS[l].parse(bigbody.p, bigbody.len, NULL, 0);
            LIBS[l].free_(x);
            long hwm = status_kb("VmHWM");
            printf("  %-8s DOM heap %7.1f MB (%.1fx body); child peak RSS growth %7.1f MB\n",
                   LIBS[l].name, (double)(h1 - h0) / 1e6, (double)(h1 - h0) / (double)bigbody.len,
                   (double)(hwm - rss0) / 1024.0);
            _exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
    }
    ds_free(&big);
    free(bigbody.p);

    /* D. correctness */
    printf("\nD1. int64 primary keys (parse -> read as int64 -> dump)\n");
    probe_int64("{\"id\":9007199254740993}");
    probe_int64("{\"id\":-9223372036854775808}");
    probe_int64("{\"id\":9223372036854775807}");
    probe_int64("{\"id\":9223372036854775808}");
    printf("\nD2. Malformed input (accept/reject; <-BAD marks a wrong answer)\n");
    probe_malformed();
    printf("\nD3. Duplicate keys {\"a\":1,\"a\":2}\n");
    probe_dups();
    printf("\nD4. Float printing (library default dump, best option, ours)\n");
    probe_floats();
    printf("\nD5. Nesting depth (must not crash)\n");
    probe_depth();
    printf("\nE. Self-check\n");
    selfcheck_f32();

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("\nprocess peak RSS %.1f MB\n", (double)ru.ru_maxrss / 1024.0);
    return 0;
}
