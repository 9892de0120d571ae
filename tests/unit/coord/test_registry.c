/* The node registry (coord/registry.h): heartbeats add and refresh nodes,
 * silence marks them down, the table is bounded, the placement sees only
 * data nodes that are up, and `register` bodies are checked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "tm_err.h"

static struct tm_node node_make(uint64_t id, const char *roles)
{
    struct tm_node n = {.id = id};
    snprintf(n.roles, sizeof n.roles, "%s", roles);
    snprintf(n.rpc, sizeof n.rpc, "tcp://127.0.0.1:%llu", 9000 + (unsigned long long)id);
    snprintf(n.raft, sizeof n.raft, "127.0.0.1:%llu", 7000 + 10 * (unsigned long long)id);
    snprintf(n.http, sizeof n.http, "127.0.0.1:%llu", 8000 + (unsigned long long)id);
    return n;
}

/* The `nodes` reply entry for id: its up flag and age, via the encoder. */
static bool reply_entry(struct tm_registry *r, uint64_t now_ms, uint64_t id, bool *up,
                        uint64_t *age, size_t *count)
{
    struct tm_mpw w;
    struct tm_mpr rd;
    uint32_t n;
    bool found = false;
    tm_mpw_init(&w);
    tm_registry_encode(r, &w, now_ms);
    assert_int_equal(tm_mpw_error(&w), 0);
    tm_mpr_init(&rd, w.buf.data, w.buf.len);
    assert_int_equal(tm_mpr_array(&rd, &n), 0);
    *count = n;
    for (uint32_t i = 0; i < n; i++) {
        struct tm_mpr m = rd, v = rd;
        if ((uint64_t)tm_mpr_key_int(m, "id", -1) == id) {
            found = true;
            assert_int_equal(tm_mpr_find(&v, "up"), 0);
            assert_int_equal(tm_mpr_bool(&v, up), 0);
            *age = (uint64_t)tm_mpr_key_int(m, "age_ms", -1);
            v = m;
            char s[128];
            assert_int_equal(tm_mpr_find(&v, "http"), 0);
            assert_int_equal(tm_mpr_str_copy(&v, s, sizeof s), 0);
            assert_true(strncmp(s, "127.0.0.1:", 10) == 0);
        }
        assert_int_equal(tm_mpr_skip(&rd), 0);
    }
    tm_mpw_free(&w);
    return found;
}

static void test_heartbeats_and_ages(void **state)
{
    (void)state;
    struct tm_registry *r = malloc(sizeof *r);
    tm_registry_init(r);
    struct tm_node a = node_make(1, "data"), b = node_make(2, "query,proxy");
    assert_int_equal(tm_registry_put(r, &a, 1000), 0);
    assert_int_equal(tm_registry_put(r, &b, 1500), 0);
    bool up;
    uint64_t age;
    size_t count;
    assert_true(reply_entry(r, 2000, 1, &up, &age, &count));
    assert_int_equal(count, 2);
    assert_true(up);
    assert_int_equal(age, 1000);
    /* silent for 3 s: down */
    assert_true(reply_entry(r, 1000 + TM_NODE_DOWN_MS, 1, &up, &age, &count));
    assert_false(up);
    assert_true(reply_entry(r, 1000 + TM_NODE_DOWN_MS, 2, &up, &age, &count));
    assert_true(up);
    /* a heartbeat brings it back, updating what it says about itself */
    snprintf(a.http, sizeof a.http, "127.0.0.1:8111");
    assert_int_equal(tm_registry_put(r, &a, 5000), 0);
    assert_true(reply_entry(r, 5100, 1, &up, &age, &count));
    assert_true(up);
    assert_int_equal(age, 100);
    assert_int_equal(count, 2);
    /* a clock that reads earlier than the heartbeat counts as age 0 */
    assert_true(reply_entry(r, 4000, 1, &up, &age, &count));
    assert_int_equal(age, 0);
    tm_registry_clear(r);
    assert_false(reply_entry(r, 5100, 1, &up, &age, &count));
    assert_int_equal(count, 0);
    tm_registry_destroy(r);
    free(r);
}

static void test_bounded(void **state)
{
    (void)state;
    struct tm_registry *r = malloc(sizeof *r);
    tm_registry_init(r);
    for (uint64_t id = 1; id <= TM_REGISTRY_MAX; id++) {
        struct tm_node n = node_make(id, "data");
        assert_int_equal(tm_registry_put(r, &n, 0), 0);
    }
    struct tm_node extra = node_make(TM_REGISTRY_MAX + 1, "data");
    assert_int_equal(tm_registry_put(r, &extra, 0), TM_ETOOBIG);
    /* known nodes still beat */
    struct tm_node known = node_make(TM_REGISTRY_MAX, "data");
    assert_int_equal(tm_registry_put(r, &known, 10), 0);
    tm_registry_destroy(r);
    free(r);
}

static void test_data_nodes(void **state)
{
    (void)state;
    struct tm_registry *r = malloc(sizeof *r);
    tm_registry_init(r);
    struct tm_node nodes[] = {node_make(1, "data,query"), node_make(2, "query"),
                              node_make(3, "metadata"), node_make(4, "proxy,data"),
                              node_make(5, "data")};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(tm_registry_put(r, &nodes[i], i == 4 ? 0 : 5000), 0);
    struct tm_placement_node out[TM_REGISTRY_MAX];
    /* node 5 is down; 2 and 3 are no data nodes */
    size_t n = tm_registry_data_nodes(r, 5000 + 100, out, TM_REGISTRY_MAX);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].id, 1);
    assert_int_equal(out[1].id, 4);
    assert_string_equal(out[1].raft, "127.0.0.1:7040");
    assert_string_equal(out[1].rpc, "tcp://127.0.0.1:9004");
    /* cap respected */
    assert_int_equal(tm_registry_data_nodes(r, 5100, out, 1), 1);
    tm_registry_destroy(r);
    free(r);
}

static void test_roles_has(void **state)
{
    (void)state;
    assert_true(tm_roles_has("data", "data"));
    assert_true(tm_roles_has("coord,data,query", "data"));
    assert_true(tm_roles_has("query,data", "data"));
    assert_false(tm_roles_has("metadata", "data"));
    assert_false(tm_roles_has("data2,dat", "data"));
    assert_false(tm_roles_has("", "data"));
    assert_false(tm_roles_has("query,", "data"));
}

/* A register body: {"id": id, "roles": roles, "rpc": rpc, "raft": raft}. */
static int decode_body(int64_t id, const char *roles, const char *rpc, const char *raft,
                       struct tm_node *node, struct tm_status *st)
{
    struct tm_mpw w;
    struct tm_mpr r;
    tm_mpw_init(&w);
    tm_mpw_map(&w, 5);
    tm_mpw_cstr(&w, "id"), tm_mpw_int(&w, id);
    tm_mpw_cstr(&w, "roles"), tm_mpw_cstr(&w, roles);
    tm_mpw_cstr(&w, "rpc"), tm_mpw_cstr(&w, rpc);
    tm_mpw_cstr(&w, "raft"), tm_mpw_cstr(&w, raft);
    tm_mpw_cstr(&w, "future"), tm_mpw_uint(&w, 1);
    tm_mpr_init(&r, w.buf.data, w.buf.len);
    tm_status_ok(st);
    int rc = tm_node_decode(&r, node, st);
    tm_mpw_free(&w);
    return rc;
}

static void test_node_decode(void **state)
{
    (void)state;
    struct tm_node n;
    struct tm_status st;
    assert_int_equal(decode_body(7, "data,query", "tcp://h:1", "h:7000", &n, &st), 0);
    assert_int_equal(n.id, 7);
    assert_string_equal(n.roles, "data,query");
    assert_string_equal(n.rpc, "tcp://h:1");
    assert_string_equal(n.raft, "h:7000");
    assert_string_equal(n.http, ""); /* absent */
    /* a query node needs no Raft address */
    assert_int_equal(decode_body(8, "query", "tcp://h:2", "", &n, &st), 0);
    /* refusals, all 1100 */
    assert_int_equal(decode_body(0, "data", "tcp://h:1", "h:7000", &n, &st), TM_ESTATUS);
    assert_int_equal(st.code, TM_MV_INVALID_PARAM);
    assert_int_equal(decode_body(-3, "data", "tcp://h:1", "h:7000", &n, &st), TM_ESTATUS);
    assert_int_equal(decode_body(9, "data", "tcp://h:1", "h", &n, &st), TM_ESTATUS);
    assert_int_equal(decode_body(9, "data", "", "h:7000", &n, &st), TM_ESTATUS);
    assert_int_equal(st.code, TM_MV_INVALID_PARAM);
    char long_rpc[TM_RPC_URL_MAX + 8];
    memset(long_rpc, 'r', sizeof long_rpc - 1);
    long_rpc[sizeof long_rpc - 1] = '\0';
    assert_int_equal(decode_body(9, "query", long_rpc, "", &n, &st), TM_ESTATUS);
    assert_non_null(strstr(st.msg, "rpc"));
    /* not a map */
    struct tm_mpr r;
    static const uint8_t nil = 0xc0;
    tm_mpr_init(&r, &nil, 1);
    assert_int_equal(tm_node_decode(&r, &n, &st), TM_ESTATUS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heartbeats_and_ages), cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_data_nodes),          cmocka_unit_test(test_roles_has),
        cmocka_unit_test(test_node_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
