/* Primary-key filters (node/pkfilter.h): `pk in [...]`, `pk == v` on either
 * side, parentheses, the empty filter, and everything else refused with
 * 1100 "failed to create query plan".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "pkfilter.h"
#include "tm_err.h"

static void schema_make(struct tm_schema *s, const char *pk, enum tm_dtype type)
{
    struct tm_status st;
    memset(s, 0, sizeof *s);
    s->fields = calloc(2, sizeof *s->fields);
    assert_non_null(s->fields);
    strcpy(s->fields[0].name, pk);
    s->fields[0].type = type;
    s->fields[0].primary = true;
    s->fields[0].max_length = 64;
    strcpy(s->fields[1].name, "vec");
    s->fields[1].type = TM_T_FLOAT_VECTOR;
    s->fields[1].dim = 2;
    s->nfields = 2;
    assert_int_equal(tm_schema_validate(s, &st), 0);
}

/* Parses filter and compares the keys with want (JSON text, or NULL for "all rows"). */
static void expect_keys(const struct tm_schema *s, const char *filter, const char *want, int line)
{
    json_t *keys = (json_t *)1;
    struct tm_status st;
    tm_status_ok(&st);
    int rc = tm_pkfilter_parse(filter, s, &keys, &st);
    if (rc)
        fail_msg("line %d: \"%s\" refused: %s", line, filter ? filter : "(null)", st.msg);
    if (!want) {
        if (keys)
            fail_msg("line %d: \"%s\" gave keys, want none", line, filter ? filter : "(null)");
        return;
    }
    json_t *exp = json_loads(want, 0, NULL);
    assert_non_null(exp);
    if (!keys || !json_equal(keys, exp)) {
        char *got = keys ? json_dumps(keys, JSON_COMPACT) : NULL;
        fail_msg("line %d: \"%s\" gave %s, want %s", line, filter, got ? got : "NULL", want);
    }
    json_decref(exp);
    json_decref(keys);
}

static void expect_refused(const struct tm_schema *s, const char *filter, int line)
{
    json_t *keys = (json_t *)1;
    struct tm_status st;
    tm_status_ok(&st);
    int rc = tm_pkfilter_parse(filter, s, &keys, &st);
    if (rc != TM_ESTATUS) {
        char *got = keys ? json_dumps(keys, JSON_COMPACT) : NULL;
        fail_msg("line %d: \"%s\" accepted as %s", line, filter, got ? got : "all rows");
    }
    assert_null(keys);
    assert_int_equal(st.code, TM_MV_INVALID_PARAM);
    if (!strstr(st.msg, "failed to create query plan"))
        fail_msg("line %d: message \"%s\"", line, st.msg);
}

#define KEYS(s, f, want) expect_keys((s), (f), (want), __LINE__)
#define REFUSED(s, f) expect_refused((s), (f), __LINE__)

static void test_int_filters(void **state)
{
    (void)state;
    struct tm_schema s;
    schema_make(&s, "id", TM_T_INT64);
    KEYS(&s, "id in [1,2]", "[1, 2]");
    KEYS(&s, "id in [1, 2, 3]", "[1, 2, 3]");
    KEYS(&s, "  id   in   [ 7 ]  ", "[7]");
    KEYS(&s, "id in [1, 2,]", "[1, 2]"); /* trailing comma */
    KEYS(&s, "id IN [5]", "[5]");
    KEYS(&s, "id == 3", "[3]");
    KEYS(&s, "id==3", "[3]");
    KEYS(&s, "3 == id", "[3]");
    KEYS(&s, "id == -4", "[-4]");
    KEYS(&s, "(id in [])", "[]");
    KEYS(&s, "id in []", "[]");
    KEYS(&s, "((id == 9))", "[9]");
    KEYS(&s, "(3 == id)", "[3]");
    KEYS(&s, "id == 9223372036854775807", "[9223372036854775807]");
    /* the empty filter selects everything */
    KEYS(&s, "", NULL);
    KEYS(&s, "   ", NULL);
    KEYS(&s, NULL, NULL);
    /* everything else is refused */
    REFUSED(&s, "id > 3");
    REFUSED(&s, "id != 3");
    REFUSED(&s, "id in [1, 2] and id == 3");
    REFUSED(&s, "id in [1, 2] or id in [3]");
    REFUSED(&s, "id in [1");
    REFUSED(&s, "id in 1, 2");
    REFUSED(&s, "id in (1, 2)");
    REFUSED(&s, "id in [1 2]");
    REFUSED(&s, "id ==");
    REFUSED(&s, "== 3");
    REFUSED(&s, "id == 1.5");
    REFUSED(&s, "id == 1e3");
    REFUSED(&s, "id = 3");
    REFUSED(&s, "idx == 3");
    REFUSED(&s, "ID == 3");
    REFUSED(&s, "other in [1]");
    REFUSED(&s, "(id == 3");
    REFUSED(&s, "id == 3)");
    REFUSED(&s, "3 == 3");
    REFUSED(&s, "not id in [1]");
    REFUSED(&s, "id in [1] extra");
    REFUSED(&s, "id inn [1]");
    tm_schema_free(&s);
}

static void test_varchar_filters(void **state)
{
    (void)state;
    struct tm_schema s;
    schema_make(&s, "pk", TM_T_VARCHAR);
    KEYS(&s, "pk in [\"a\", 'b']", "[\"a\", \"b\"]");
    KEYS(&s, "pk == \"x y\"", "[\"x y\"]");
    KEYS(&s, "'x' == pk", "[\"x\"]");
    KEYS(&s, "pk in [\"\"]", "[\"\"]");
    KEYS(&s, "pk in [\"c\\\"d\", 'it\\'s']", "[\"c\\\"d\", \"it's\"]"); /* escaped quotes */
    KEYS(&s, "pk in [\"]\", \",\"]", "[\"]\", \",\"]");                 /* brackets in strings */
    KEYS(&s, "(pk in ['\xc3\xa9'])", "[\"\xc3\xa9\"]");
    REFUSED(&s, "pk in [\"unterminated]");
    REFUSED(&s, "pk == 'a");
    REFUSED(&s, "pk == \"a\" \"b\"");
    REFUSED(&s, "pk like \"a%\"");
    /* the message names the expression and the pk */
    json_t *keys;
    struct tm_status st;
    assert_int_equal(tm_pkfilter_parse("pk > 'a'", &s, &keys, &st), TM_ESTATUS);
    assert_non_null(strstr(st.msg, "pk > 'a'"));
    tm_schema_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int_filters),
        cmocka_unit_test(test_varchar_filters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
