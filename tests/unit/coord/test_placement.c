/* Shard placement (coord/placement.h): the decision rule, the Raft
 * addresses it derives, its msgpack form, the DDL command that commits it
 * (coord/ddl.h, version 2) and the catalog snapshot that keeps it
 * (coord/catalog.h), including version-1 snapshots written before it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "ddl.h"
#include "placement.h"
#include "tm_err.h"

/* ---- helpers ---- */

/* Node id i gets Raft base 10.0.0.<i>:7000 and rpc tcp://10.0.0.<i>:9000. */
static struct tm_placement_node node_make(uint64_t id)
{
    struct tm_placement_node n = {.id = id};
    snprintf(n.raft, sizeof n.raft, "10.0.0.%llu:7000", (unsigned long long)id);
    snprintf(n.rpc, sizeof n.rpc, "tcp://10.0.0.%llu:9000", (unsigned long long)id);
    return n;
}

static void nodes_make(struct tm_placement_node *out, const uint64_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = node_make(ids[i]);
}

static void assert_member(const struct tm_placement_member *m, uint64_t id, uint32_t shard)
{
    char raft[64], rpc[128];
    snprintf(raft, sizeof raft, "10.0.0.%llu:%u", (unsigned long long)id, 7000 + shard);
    snprintf(rpc, sizeof rpc, "tcp://10.0.0.%llu:9000", (unsigned long long)id);
    assert_int_equal(m->id, id);
    assert_string_equal(m->raft, raft);
    assert_string_equal(m->rpc, rpc);
}

static void assert_placements_same(const struct tm_placement *a, const struct tm_placement *b)
{
    assert_int_equal(a->shards, b->shards);
    assert_int_equal(a->replicas, b->replicas);
    for (size_t i = 0; i < (size_t)a->shards * a->replicas; i++) {
        assert_int_equal(a->members[i].id, b->members[i].id);
        assert_string_equal(a->members[i].raft, b->members[i].raft);
        assert_string_equal(a->members[i].rpc, b->members[i].rpc);
    }
}

/* A decided placement over data nodes 1..n. */
static struct tm_placement placement_make(size_t n, uint32_t shards, uint32_t replicas)
{
    struct tm_placement_node nodes[16];
    struct tm_placement p;
    for (size_t i = 0; i < n; i++)
        nodes[i] = node_make(i + 1);
    assert_int_equal(tm_placement_decide(nodes, n, shards, replicas, &p), 0);
    return p;
}

static void placement_bytes(const struct tm_placement *p, struct tm_mpw *w)
{
    tm_mpw_init(w);
    tm_placement_encode(w, p);
    assert_int_equal(tm_mpw_error(w), 0);
}

/* ---- addresses ---- */

static void test_port_add(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(tm_addr_port_add("127.0.0.1:7000", 2, out, sizeof out), 0);
    assert_string_equal(out, "127.0.0.1:7002");
    assert_int_equal(tm_addr_port_add("node-a:7000", 0, out, sizeof out), 0);
    assert_string_equal(out, "node-a:7000");
    assert_int_equal(tm_addr_port_add("[::1]:7000", 1, out, sizeof out), 0);
    assert_string_equal(out, "[::1]:7001");
    assert_int_equal(tm_addr_port_add("h:65535", 0, out, sizeof out), 0);
    assert_int_equal(tm_addr_port_add("h:65535", 1, out, sizeof out), TM_EINVAL);
    assert_int_equal(tm_addr_port_add("h:65000", 536, out, sizeof out), TM_EINVAL);
    static const char *bad[] = {"", "nohost", ":7000", "h:", "h:7x00", "h:0", "h:123456", "h:-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (tm_addr_port_add(bad[i], 0, out, sizeof out) != TM_EINVAL)
            fail_msg("\"%s\" accepted", bad[i]);
    /* the result must fit */
    assert_int_equal(tm_addr_port_add("127.0.0.1:7000", 0, out, 8), TM_EINVAL);
}

/* ---- the decision ---- */

/* Three nodes, registered out of order, two shards of three: every node
 * replicates both shards, each group starting one node further. */
static void test_decide_sorted_by_id(void **state)
{
    (void)state;
    struct tm_placement_node nodes[3];
    nodes_make(nodes, (const uint64_t[]){30, 10, 20}, 3);
    struct tm_placement p;
    assert_int_equal(tm_placement_decide(nodes, 3, 2, 3, &p), 0);
    assert_int_equal(p.shards, 2);
    assert_int_equal(p.replicas, 3);
    const struct tm_placement_member *g0 = tm_placement_group(&p, 0),
                                     *g1 = tm_placement_group(&p, 1);
    assert_member(&g0[0], 10, 0);
    assert_member(&g0[1], 20, 0);
    assert_member(&g0[2], 30, 0);
    assert_member(&g1[0], 20, 1);
    assert_member(&g1[1], 30, 1);
    assert_member(&g1[2], 10, 1);
    tm_placement_free(&p);
    assert_int_equal(p.shards, 0);
    assert_null(p.members);
}

/* More nodes than replicas: shard s takes `replicas` nodes from s mod n,
 * wrapping round the sorted list. */
static void test_decide_wraps(void **state)
{
    (void)state;
    struct tm_placement_node nodes[5];
    nodes_make(nodes, (const uint64_t[]){5, 4, 3, 2, 1}, 5);
    struct tm_placement p;
    assert_int_equal(tm_placement_decide(nodes, 5, 7, 3, &p), 0);
    for (uint32_t s = 0; s < 7; s++)
        for (uint32_t k = 0; k < 3; k++)
            assert_member(&tm_placement_group(&p, s)[k], (s + k) % 5 + 1, s);
    tm_placement_free(&p);
    /* one replica per shard: shards spread one per node */
    assert_int_equal(tm_placement_decide(nodes, 5, 3, 1, &p), 0);
    for (uint32_t s = 0; s < 3; s++)
        assert_member(tm_placement_group(&p, s), s + 1, s);
    tm_placement_free(&p);
}

/* The answer depends on the set of nodes, never on their order. */
static void test_decide_order_independent(void **state)
{
    (void)state;
    struct tm_placement_node nodes[6];
    nodes_make(nodes, (const uint64_t[]){11, 3, 42, 7, 19, 5}, 6);
    struct tm_placement first;
    assert_int_equal(tm_placement_decide(nodes, 6, 4, 3, &first), 0);
    srand(7);
    for (int round = 0; round < 50; round++) {
        for (size_t i = 5; i > 0; i--) {
            size_t j = (size_t)rand() % (i + 1);
            struct tm_placement_node t = nodes[i];
            nodes[i] = nodes[j];
            nodes[j] = t;
        }
        struct tm_placement p;
        assert_int_equal(tm_placement_decide(nodes, 6, 4, 3, &p), 0);
        assert_placements_same(&p, &first);
        tm_placement_free(&p);
    }
    tm_placement_free(&first);
}

static void test_decide_waits_and_refuses(void **state)
{
    (void)state;
    struct tm_placement_node nodes[3];
    nodes_make(nodes, (const uint64_t[]){1, 2, 3}, 3);
    struct tm_placement p = {.shards = 77};
    /* fewer data nodes than replicas: wait, nothing written */
    assert_int_equal(tm_placement_decide(nodes, 2, 2, 3, &p), 1);
    assert_int_equal(tm_placement_decide(nodes, 0, 2, 3, &p), 1);
    assert_int_equal(p.shards, 77);
    /* settings out of range */
    assert_int_equal(tm_placement_decide(nodes, 3, 0, 3, &p), TM_EINVAL);
    assert_int_equal(tm_placement_decide(nodes, 3, 2, 0, &p), TM_EINVAL);
    assert_int_equal(tm_placement_decide(nodes, 3, TM_PLACEMENT_MAX_SHARDS + 1, 3, &p), TM_EINVAL);
    assert_int_equal(tm_placement_decide(nodes, 3, 2, TM_PLACEMENT_MAX_REPLICAS + 1, &p),
                     TM_EINVAL);
    /* a Raft base without room for every shard's port (ASan: nothing leaks) */
    snprintf(nodes[2].raft, sizeof nodes[2].raft, "10.0.0.3:65535");
    assert_int_equal(tm_placement_decide(nodes, 3, 2, 3, &p), TM_EINVAL);
    assert_int_equal(tm_placement_decide(nodes, 3, 1, 3, &p), 0);
    tm_placement_free(&p);
    snprintf(nodes[2].raft, sizeof nodes[2].raft, "no-port");
    assert_int_equal(tm_placement_decide(nodes, 3, 1, 3, &p), TM_EINVAL);
}

/* ---- msgpack form ---- */

static void test_codec_roundtrip(void **state)
{
    (void)state;
    struct tm_placement p = placement_make(4, 3, 2), q;
    struct tm_mpw w, w2;
    struct tm_mpr r;
    placement_bytes(&p, &w);
    tm_mpr_init(&r, w.buf.data, w.buf.len);
    assert_int_equal(tm_placement_decode(&r, &q), 0);
    assert_int_equal(tm_mpr_remaining(&r), 0);
    assert_placements_same(&q, &p);
    placement_bytes(&q, &w2);
    assert_int_equal(w2.buf.len, w.buf.len);
    assert_memory_equal(w2.buf.data, w.buf.data, w.buf.len);
    tm_mpw_free(&w2);
    tm_placement_free(&q);
    /* every truncation fails and leaves nothing behind */
    for (size_t len = 0; len < w.buf.len; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, w.buf.data, len);
        tm_mpr_init(&r, copy, len);
        int rc = tm_placement_decode(&r, &q);
        if (rc != TM_ETRUNC && rc != TM_ECORRUPT)
            fail_msg("prefix %zu/%zu: rc %d", len, w.buf.len, rc);
        assert_null(q.members);
        assert_int_equal(q.shards, 0);
        free(copy);
    }
    tm_mpw_free(&w);
    tm_placement_free(&p);
}

/* One member map; id 0 leaves it out. */
static void member_write(struct tm_mpw *w, uint64_t id, const char *raft)
{
    tm_mpw_map(w, id ? 4 : 3);
    if (id)
        tm_mpw_cstr(w, "id"), tm_mpw_uint(w, id);
    tm_mpw_cstr(w, "raft"), tm_mpw_cstr(w, raft);
    tm_mpw_cstr(w, "rpc"), tm_mpw_cstr(w, "tcp://h:1");
    tm_mpw_cstr(w, "future"), tm_mpw_bool(w, true); /* unknown keys are skipped */
}

/* {"shards": shards, "groups": [group sizes...]} with members 1, 2, ... */
static int decode_crafted(uint64_t shards, const uint32_t *sizes, uint32_t ngroups,
                          const char *raft, uint64_t first_id)
{
    struct tm_mpw w;
    struct tm_mpr r;
    struct tm_placement p;
    tm_mpw_init(&w);
    tm_mpw_map(&w, 2);
    tm_mpw_cstr(&w, "groups"), tm_mpw_array(&w, ngroups); /* any key order */
    for (uint32_t g = 0; g < ngroups; g++) {
        tm_mpw_array(&w, sizes[g]);
        for (uint32_t k = 0; k < sizes[g]; k++)
            member_write(&w, g == 0 && k == 0 ? first_id : k + 1, raft);
    }
    tm_mpw_cstr(&w, "shards"), tm_mpw_uint(&w, shards);
    tm_mpr_init(&r, w.buf.data, w.buf.len);
    int rc = tm_placement_decode(&r, &p);
    if (rc == 0) {
        assert_int_equal(p.shards, shards);
        tm_placement_free(&p);
    } else {
        assert_null(p.members);
    }
    tm_mpw_free(&w);
    return rc;
}

static void test_codec_rejects(void **state)
{
    (void)state;
    const uint32_t three[] = {3, 3, 3}, uneven[] = {3, 2, 3}, empty[] = {0, 0};
    assert_int_equal(decode_crafted(3, three, 3, "h:1", 1), 0);
    assert_int_equal(decode_crafted(0, three, 0, "h:1", 1), 0);           /* undecided */
    assert_int_equal(decode_crafted(2, three, 3, "h:1", 1), TM_ECORRUPT); /* counts disagree */
    assert_int_equal(decode_crafted(3, uneven, 3, "h:1", 1), TM_ECORRUPT);
    assert_int_equal(decode_crafted(2, empty, 2, "h:1", 1), TM_ECORRUPT);
    assert_int_equal(decode_crafted(3, three, 3, "h:1", 0), TM_ECORRUPT); /* no id */
    assert_int_equal(decode_crafted(3, three, 3, "", 1), TM_ECORRUPT);    /* no raft */
    char long_raft[TM_ADDR_MAX + 1];
    memset(long_raft, 'x', TM_ADDR_MAX);
    long_raft[TM_ADDR_MAX] = '\0';
    assert_int_equal(decode_crafted(3, three, 3, long_raft, 1), TM_ECORRUPT);
}

/* ---- the DDL command ---- */

static uint64_t version_of(const struct tm_mpw *w)
{
    struct tm_mpr r;
    tm_mpr_init(&r, w->buf.data, w->buf.len);
    return (uint64_t)tm_mpr_key_int(r, "v", -1);
}

static void test_ddl_placement_roundtrip(void **state)
{
    (void)state;
    struct tm_ddl d, out;
    struct tm_mpw w, w2;
    tm_ddl_init(&d, TM_DDL_PLACEMENT);
    d.placement = placement_make(3, 2, 3);
    d.has_placement = true;
    tm_mpw_init(&w);
    tm_ddl_encode(&w, &d);
    assert_int_equal(tm_mpw_error(&w), 0);
    /* only a placement needs version 2 */
    assert_int_equal(version_of(&w), 2);
    assert_int_equal(tm_ddl_decode(w.buf.data, w.buf.len, &out), 0);
    assert_int_equal(out.op, TM_DDL_PLACEMENT);
    assert_true(out.has_placement);
    assert_placements_same(&out.placement, &d.placement);
    tm_mpw_init(&w2);
    tm_ddl_encode(&w2, &out);
    assert_int_equal(w2.buf.len, w.buf.len);
    assert_memory_equal(w2.buf.data, w.buf.data, w.buf.len);
    tm_mpw_free(&w2);
    tm_ddl_free(&out);
    for (size_t len = 0; len < w.buf.len; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, w.buf.data, len);
        int rc = tm_ddl_decode(copy, len, &out);
        if (rc != TM_ETRUNC && rc != TM_ECORRUPT)
            fail_msg("prefix %zu/%zu: rc %d", len, w.buf.len, rc);
        assert_false(out.has_placement);
        free(copy);
    }
    tm_mpw_free(&w);
    tm_ddl_free(&d);

    /* other commands keep version 1, readable by older coordinators */
    tm_ddl_init(&d, TM_DDL_TSO_HW);
    d.hw_ms = 123;
    tm_mpw_init(&w);
    tm_ddl_encode(&w, &d);
    assert_int_equal(version_of(&w), 1);
    assert_int_equal(tm_ddl_decode(w.buf.data, w.buf.len, &out), 0);
    assert_false(out.has_placement);
    assert_int_equal(out.hw_ms, 123);
    tm_ddl_free(&out);
    tm_ddl_free(&d);
    tm_mpw_free(&w);
}

/* {"v": v, "op": "placement", "placement": <3 nodes, 1 shard> or nil} */
static int decode_placement_cmd(uint64_t v, bool with_placement)
{
    struct tm_mpw w;
    struct tm_ddl d;
    tm_mpw_init(&w);
    tm_mpw_map(&w, 3);
    tm_mpw_cstr(&w, "v"), tm_mpw_uint(&w, v);
    tm_mpw_cstr(&w, "op"), tm_mpw_cstr(&w, "placement");
    tm_mpw_cstr(&w, "placement");
    struct tm_placement p = placement_make(3, 1, 3);
    if (with_placement)
        tm_placement_encode(&w, &p);
    else
        tm_mpw_nil(&w);
    tm_placement_free(&p);
    int rc = tm_ddl_decode(w.buf.data, w.buf.len, &d);
    if (rc == 0)
        tm_ddl_free(&d);
    tm_mpw_free(&w);
    return rc;
}

static void test_ddl_placement_rejects(void **state)
{
    (void)state;
    assert_int_equal(decode_placement_cmd(2, true), 0);
    assert_int_equal(decode_placement_cmd(1, true), TM_ECORRUPT); /* version 1 had none */
    assert_int_equal(decode_placement_cmd(2, false), TM_ECORRUPT);
    assert_int_equal(decode_placement_cmd(3, true), TM_EVERSION);
}

/* ---- the catalog ---- */

/* Encodes, decodes and applies d as a committed log entry; frees d. */
static int apply_logged(struct tm_catalog *c, struct tm_ddl *d)
{
    struct tm_mpw w;
    struct tm_ddl logged;
    tm_mpw_init(&w);
    tm_ddl_encode(&w, d);
    tm_ddl_free(d);
    assert_int_equal(tm_ddl_decode(w.buf.data, w.buf.len, &logged), 0);
    tm_mpw_free(&w);
    int rc = tm_catalog_apply(c, &logged);
    tm_ddl_free(&logged);
    return rc;
}

static struct tm_ddl placement_cmd(size_t n, uint32_t shards, uint32_t replicas)
{
    struct tm_ddl d;
    tm_ddl_init(&d, TM_DDL_PLACEMENT);
    d.placement = placement_make(n, shards, replicas);
    d.has_placement = true;
    return d;
}

/* Decided once: the first committed decision stands, a later one (another
 * leader's, racing) applies as a no-op. */
static void test_catalog_placement_once(void **state)
{
    (void)state;
    struct tm_catalog c;
    struct tm_status st;
    assert_int_equal(tm_catalog_init(&c), 0);
    assert_int_equal(c.placement.shards, 0);
    struct tm_ddl first = placement_cmd(3, 2, 3), second = placement_cmd(5, 4, 3), bare;
    struct tm_placement expect = placement_make(3, 2, 3);
    assert_int_equal(tm_catalog_check(&c, &first, &st), 0);
    assert_int_equal(apply_logged(&c, &first), 0);
    assert_placements_same(&c.placement, &expect);
    assert_int_equal(tm_catalog_check(&c, &second, &st), 1);
    assert_int_equal(st.code, 0);
    assert_int_equal(apply_logged(&c, &second), 0);
    assert_placements_same(&c.placement, &expect);
    /* a placement command must carry a placement */
    tm_ddl_init(&bare, TM_DDL_PLACEMENT);
    assert_int_equal(tm_catalog_check(&c, &bare, &st), TM_ESTATUS);
    assert_int_equal(st.code, TM_MV_INVALID_PARAM);
    tm_placement_free(&expect);
    tm_catalog_free(&c);
    assert_null(c.placement.members);
}

static void catalog_roundtrip(const struct tm_catalog *c, struct tm_catalog *out)
{
    struct tm_mpw w, w2;
    struct tm_mpr r;
    tm_mpw_init(&w);
    tm_catalog_encode(&w, c);
    assert_int_equal(version_of(&w), 2);
    tm_mpr_init(&r, w.buf.data, w.buf.len);
    assert_int_equal(tm_catalog_decode(&r, out), 0);
    assert_int_equal(tm_mpr_remaining(&r), 0);
    tm_mpw_init(&w2);
    tm_catalog_encode(&w2, out);
    assert_int_equal(w2.buf.len, w.buf.len);
    assert_memory_equal(w2.buf.data, w.buf.data, w.buf.len);
    tm_mpw_free(&w2);
    for (size_t len = 0; len < w.buf.len; len++) {
        struct tm_catalog t;
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, w.buf.data, len);
        tm_mpr_init(&r, copy, len);
        int rc = tm_catalog_decode(&r, &t);
        if (rc != TM_ETRUNC && rc != TM_ECORRUPT)
            fail_msg("prefix %zu/%zu: rc %d", len, w.buf.len, rc);
        assert_null(t.placement.members);
        free(copy);
    }
    tm_mpw_free(&w);
}

static void test_snapshot_with_placement(void **state)
{
    (void)state;
    struct tm_catalog c, d;
    assert_int_equal(tm_catalog_init(&c), 0);
    c.tso_hw_ms = 1700000000000ULL;
    /* undecided: written as nil, read back undecided */
    catalog_roundtrip(&c, &d);
    assert_int_equal(d.placement.shards, 0);
    tm_catalog_free(&d);
    struct tm_ddl cmd = placement_cmd(4, 3, 3);
    assert_int_equal(apply_logged(&c, &cmd), 0);
    catalog_roundtrip(&c, &d);
    assert_placements_same(&d.placement, &c.placement);
    assert_int_equal(d.tso_hw_ms, c.tso_hw_ms);
    assert_int_equal(d.ndbs, 1);
    tm_catalog_free(&d);
    tm_catalog_free(&c);
}

/* A snapshot written by the version-1 encoder (before placements) still
 * loads, with the placement undecided. */
static void test_snapshot_version1_reads(void **state)
{
    (void)state;
    struct tm_mpw w;
    struct tm_mpr r;
    struct tm_catalog c;
    tm_mpw_init(&w);
    tm_mpw_map(&w, 5);
    tm_mpw_cstr(&w, "v"), tm_mpw_uint(&w, 1);
    tm_mpw_cstr(&w, "next_id"), tm_mpw_int(&w, 1234);
    tm_mpw_cstr(&w, "hw"), tm_mpw_uint(&w, 99);
    tm_mpw_cstr(&w, "dbs"), tm_mpw_array(&w, 1);
    tm_mpw_map(&w, 3);
    tm_mpw_cstr(&w, "id"), tm_mpw_int(&w, 1);
    tm_mpw_cstr(&w, "name"), tm_mpw_cstr(&w, "default");
    tm_mpw_cstr(&w, "props"), tm_mpw_array(&w, 0);
    tm_mpw_cstr(&w, "colls"), tm_mpw_array(&w, 0);
    tm_mpr_init(&r, w.buf.data, w.buf.len);
    int rc = tm_catalog_decode(&r, &c);
    if (rc)
        fail_msg("version-1 snapshot: %s", tm_strerror(rc));
    assert_int_equal(c.next_id, 1234);
    assert_int_equal(c.tso_hw_ms, 99);
    assert_int_equal(c.placement.shards, 0);
    assert_non_null(tm_catalog_db(&c, "default"));
    tm_catalog_free(&c);
    tm_mpw_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_port_add),
        cmocka_unit_test(test_decide_sorted_by_id),
        cmocka_unit_test(test_decide_wraps),
        cmocka_unit_test(test_decide_order_independent),
        cmocka_unit_test(test_decide_waits_and_refuses),
        cmocka_unit_test(test_codec_roundtrip),
        cmocka_unit_test(test_codec_rejects),
        cmocka_unit_test(test_ddl_placement_roundtrip),
        cmocka_unit_test(test_ddl_placement_rejects),
        cmocka_unit_test(test_catalog_placement_once),
        cmocka_unit_test(test_snapshot_with_placement),
        cmocka_unit_test(test_snapshot_version1_reads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
