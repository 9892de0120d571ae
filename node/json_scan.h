/* A strict JSON scanner for the hot path of insert and upsert bodies:
 * jansson builds one allocated node per number, and a 1000-row batch of
 * 768-d vectors is 768,000 numbers (docs/decisions.md, "Rows from text").
 *
 * The scanner accepts a subset of what jansson accepts, and reads it the
 * same way: plain ASCII strings (escapes allowed, but no \u0000 and no
 * surrogates), numbers of JSON's grammar that jansson converts without an
 * error (integers within int64, reals far from overflow), nesting to
 * TM_JSCAN_MAX_DEPTH. Anything else makes it answer "not sure" (false),
 * and the caller hands the text to jansson, which gives the answer and
 * the error message it always gave. So a body never gets a different
 * answer for taking the fast path.
 */
#ifndef TM_JSON_SCAN_H
#define TM_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#define TM_JSCAN_MAX_DEPTH 64

/* Moves *p past whitespace. */
void tm_jscan_ws(const char **p, const char *end);

/* Whitespace, then one value: *p moves past it. False if not sure. */
bool tm_jscan_value(const char **p, const char *end, int depth);

/* Whitespace, then a string without escapes: its bytes (borrowed) and
 * *p past the closing quote. False for anything else. */
bool tm_jscan_plain_string(const char **p, const char *end, const char **s, size_t *n);

/* Whitespace, then the byte c: *p past it. */
bool tm_jscan_expect(const char **p, const char *end, char c);

/* Whitespace, then an array of exactly n numbers, each of which is finite
 * as a float32, into out: the floats jansson's double would give, cast.
 * False (*p unspecified) for anything else. */
bool tm_jscan_floats(const char **p, const char *end, float *out, size_t n);

/* The arrays of numbers in a body's "data", read as floats while
 * tm_jscan_split_data checks them, so that the rows need not read them
 * again: each array whose members are all numbers finite as float32, as
 * tm_jscan_floats reads it, keyed by where its text starts. Zeroed to
 * begin; tm_jscan_arrays_free when done. */
struct tm_jscan_arrays {
    struct tm_jscan_array {
        const char *at, *end; /* its '[' and past its ']' */
        size_t off, n;        /* its floats: vals[off, off + n) */
    } * a;
    size_t n, cap;
    float *vals;
    size_t nvals, vcap;
    size_t next; /* tm_jscan_arrays_find's place */
};

/* The floats of the recorded array whose '[' is at `at`, if it has n
 * members (*end then past its ']'); NULL otherwise. Calls must come in the
 * order of the text. */
const float *tm_jscan_arrays_find(struct tm_jscan_arrays *m, const char *at, size_t n,
                                  const char **end);
void tm_jscan_arrays_free(struct tm_jscan_arrays *m);

/* The body is one object whose member "data" (exactly one such member,
 * its name without escapes and in lower case: handlers also match names
 * case-insensitively) is an array, and all of it scans: the array's text
 * is body[*at, *at + *data_len). False if not sure. `arrays` (NULL: not
 * wanted) gets the data's arrays of numbers; it holds pointers into body. */
bool tm_jscan_split_data(const char *body, size_t len, size_t *at, size_t *data_len,
                         struct tm_jscan_arrays *arrays);

#endif
