/* The catalog state machine (coord/catalog.h) driven by DDL commands
 * (coord/ddl.h): check rules and Milvus codes, apply, stale commands as
 * no-ops, and the msgpack forms of the catalog and of commands.
 *
 * Commands go the way the coordinator sends them: checked against the
 * catalog, then encoded, decoded (as from the Raft log) and applied.
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
#include "tm_err.h"

/* ---- building commands ---- */

static struct tm_ddl ddl(enum tm_ddl_op op, const char *db, const char *name)
{
    struct tm_ddl d;
    tm_ddl_init(&d, op);
    snprintf(d.db, sizeof d.db, "%s", db);
    snprintf(d.name, sizeof d.name, "%s", name ? name : "");
    return d;
}

/* id Int64 pk + v FloatVector dim 4, plus b BinaryVector dim 16 when two_vectors. */
static void schema_make(struct tm_schema *s, bool two_vectors)
{
    struct tm_status st;
    memset(s, 0, sizeof *s);
    s->fields = calloc(3, sizeof *s->fields);
    assert_non_null(s->fields);
    strcpy(s->fields[0].name, "id");
    s->fields[0].type = TM_T_INT64;
    s->fields[0].primary = true;
    strcpy(s->fields[1].name, "v");
    s->fields[1].type = TM_T_FLOAT_VECTOR;
    s->fields[1].dim = 4;
    s->nfields = 2;
    if (two_vectors) {
        strcpy(s->fields[2].name, "b");
        s->fields[2].type = TM_T_BINARY_VECTOR;
        s->fields[2].dim = 16;
        s->nfields = 3;
    }
    assert_int_equal(tm_schema_validate(s, &st), 0);
}

static struct tm_ddl ddl_coll(const char *db, const char *name, bool two_vectors)
{
    struct tm_ddl d = ddl(TM_DDL_COLL_CREATE, db, name);
    d.has_coll = true;
    snprintf(d.coll.name, sizeof d.coll.name, "%s", name);
    schema_make(&d.coll.schema, two_vectors);
    d.coll.consistency = TM_CL_BOUNDED;
    d.coll.shards = 1;
    d.coll.created_ts = 12345;
    return d;
}

static struct tm_ddl ddl_index(const char *db, const char *coll, const char *idx, const char *field,
                               const char *type)
{
    struct tm_ddl d = ddl(TM_DDL_IDX_CREATE, db, coll);
    d.has_index = true;
    snprintf(d.idx, sizeof d.idx, "%s", idx);
    snprintf(d.index.name, sizeof d.index.name, "%s", idx);
    snprintf(d.index.field, sizeof d.index.field, "%s", field);
    snprintf(d.index.type, sizeof d.index.type, "%s", type);
    snprintf(d.index.metric, sizeof d.index.metric, "%s", "L2");
    return d;
}

static struct tm_ddl ddl_part(enum tm_ddl_op op, const char *coll, const char *part)
{
    struct tm_ddl d = ddl(op, TM_DEFAULT_DB, coll);
    snprintf(d.part, sizeof d.part, "%s", part);
    return d;
}

static struct tm_ddl ddl_load(enum tm_ddl_op op, const char *coll, bool load, const char *part)
{
    struct tm_ddl d = ddl(op, TM_DEFAULT_DB, coll);
    d.flag = load;
    if (part)
        assert_int_equal(tm_ddl_add_name(&d, part), 0);
    return d;
}

/* ---- running commands ---- */

/* Encodes, decodes and applies d, as a committed log entry. */
static void apply_logged(struct tm_catalog *c, const struct tm_ddl *d)
{
    struct tm_mpw w;
    struct tm_ddl logged;
    tm_mpw_init(&w);
    tm_ddl_encode(&w, d);
    assert_int_equal(tm_mpw_error(&w), 0);
    assert_int_equal(tm_ddl_decode(w.buf.data, w.buf.len, &logged), 0);
    assert_int_equal(tm_catalog_apply(c, &logged), 0);
    tm_ddl_free(&logged);
    tm_mpw_free(&w);
}

/* Checks d; applies it when the check passes. Frees d. Returns the check's rc. */
static int run(struct tm_catalog *c, struct tm_ddl d, struct tm_status *st)
{
    int rc = tm_catalog_check(c, &d, st);
    if (rc == 0)
        apply_logged(c, &d);
    tm_ddl_free(&d);
    return rc;
}

#define EXPECT_OK(c, d)                                                                            \
    do {                                                                                           \
        struct tm_status st_;                                                                      \
        int rc_ = run((c), (d), &st_);                                                             \
        if (rc_)                                                                                   \
            fail_msg("line %d: rc %d code %d: %s", __LINE__, rc_, st_.code, st_.msg);              \
    } while (0)

/* Nothing to do: check says 1 with a clear status. */
#define EXPECT_NOOP(c, d)                                                                          \
    do {                                                                                           \
        struct tm_status st_;                                                                      \
        int rc_ = run((c), (d), &st_);                                                             \
        if (rc_ != 1)                                                                              \
            fail_msg("line %d: rc %d code %d: %s, want no-op", __LINE__, rc_, st_.code, st_.msg);  \
        assert_int_equal(st_.code, 0);                                                             \
    } while (0)

#define EXPECT_CODE(c, d, want, sub)                                                               \
    do {                                                                                           \
        struct tm_status st_;                                                                      \
        int rc_ = run((c), (d), &st_);                                                             \
        if (rc_ != TM_ESTATUS || st_.code != (want))                                               \
            fail_msg("line %d: rc %d code %d (%s), want code %d", __LINE__, rc_, st_.code,         \
                     st_.msg, (want));                                                             \
        if (!strstr(st_.msg, (sub)))                                                               \
            fail_msg("line %d: message \"%s\" lacks \"%s\"", __LINE__, st_.msg, (sub));            \
    } while (0)

static const struct tm_collection *coll(const struct tm_catalog *c, const char *name)
{
    return tm_catalog_coll(c, TM_DEFAULT_DB, name);
}

static int setup(void **state)
{
    struct tm_catalog *c = malloc(sizeof *c);
    if (!c || tm_catalog_init(c))
        return -1;
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    tm_catalog_free(*state);
    free(*state);
    return 0;
}

/* ---- databases ---- */

static void test_init(void **state)
{
    struct tm_catalog *c = *state;
    assert_int_equal(c->ndbs, 1);
    assert_non_null(tm_catalog_db(c, TM_DEFAULT_DB));
    assert_int_equal(tm_catalog_db(c, TM_DEFAULT_DB)->id, 1);
    assert_int_equal(c->ncolls, 0);
    assert_int_equal(c->next_id, 1000);
    assert_null(tm_catalog_db(c, "Default"));
}

static void test_databases(void **state)
{
    struct tm_catalog *c = *state;
    EXPECT_OK(c, ddl(TM_DDL_DB_CREATE, "db1", NULL));
    assert_non_null(tm_catalog_db(c, "db1"));
    assert_int_equal(tm_catalog_db(c, "db1")->id, 1000);
    assert_int_equal(c->next_id, 1001);
    EXPECT_CODE(c, ddl(TM_DDL_DB_CREATE, "db1", NULL), TM_MV_UNEXPECTED, "database already exist");
    EXPECT_CODE(c, ddl(TM_DDL_DB_CREATE, "1db", NULL), TM_MV_INVALID_PARAM,
                "Invalid database name");
    EXPECT_CODE(c, ddl(TM_DDL_DB_CREATE, "", NULL), TM_MV_INVALID_PARAM, "Invalid database name");

    /* properties */
    struct tm_ddl d = ddl(TM_DDL_DB_ALTER, "db1", NULL);
    assert_int_equal(tm_kvs_set(&d.props, &d.nprops, "database.replica.number", "1"), 0);
    assert_int_equal(tm_kvs_set(&d.props, &d.nprops, "k", "v"), 0);
    EXPECT_OK(c, d);
    const struct tm_database *db = tm_catalog_db(c, "db1");
    assert_int_equal(db->nprops, 2);
    assert_string_equal(tm_kvs_get(db->props, db->nprops, "k"), "v");
    d = ddl(TM_DDL_DB_ALTER, "db1", NULL);
    assert_int_equal(tm_kvs_set(&d.props, &d.nprops, "k", "w"), 0); /* replaces */
    EXPECT_OK(c, d);
    db = tm_catalog_db(c, "db1");
    assert_int_equal(db->nprops, 2);
    assert_string_equal(tm_kvs_get(db->props, db->nprops, "k"), "w");
    d = ddl(TM_DDL_DB_DROP_PROPS, "db1", NULL);
    assert_int_equal(tm_ddl_add_name(&d, "k"), 0);
    assert_int_equal(tm_ddl_add_name(&d, "absent"), 0);
    EXPECT_OK(c, d);
    db = tm_catalog_db(c, "db1");
    assert_int_equal(db->nprops, 1);
    assert_null(tm_kvs_get(db->props, db->nprops, "k"));
    EXPECT_CODE(c, ddl(TM_DDL_DB_ALTER, "nope", NULL), TM_MV_DB_NOT_FOUND, "database not found");

    /* drop */
    EXPECT_NOOP(c, ddl(TM_DDL_DB_DROP, "nope", NULL));
    EXPECT_CODE(c, ddl(TM_DDL_DB_DROP, TM_DEFAULT_DB, NULL), TM_MV_UNEXPECTED,
                "can not drop default database");
    EXPECT_OK(c, ddl_coll("db1", "c1", false));
    EXPECT_CODE(c, ddl(TM_DDL_DB_DROP, "db1", NULL), TM_MV_UNEXPECTED, "not empty");
    EXPECT_OK(c, ddl(TM_DDL_COLL_DROP, "db1", "c1"));
    EXPECT_OK(c, ddl(TM_DDL_DB_DROP, "db1", NULL));
    assert_null(tm_catalog_db(c, "db1"));
    assert_int_equal(c->ndbs, 1);
}

static void test_database_limit(void **state)
{
    struct tm_catalog *c = *state;
    char name[16];
    while (c->ndbs < 64) {
        snprintf(name, sizeof name, "db%zu", c->ndbs);
        EXPECT_OK(c, ddl(TM_DDL_DB_CREATE, name, NULL));
    }
    EXPECT_CODE(c, ddl(TM_DDL_DB_CREATE, "one_more", NULL), TM_MV_UNEXPECTED, "exceeds");
}

/* ---- collections ---- */

static void test_collections(void **state)
{
    struct tm_catalog *c = *state;
    EXPECT_OK(c, ddl_coll(TM_DEFAULT_DB, "c1", false));
    const struct tm_collection *c1 = coll(c, "c1");
    assert_non_null(c1);
    assert_int_equal(c1->id, 1000);
    assert_int_equal(c1->db_id, 1);
    assert_int_equal(c1->nparts, 1);
    assert_string_equal(c1->parts[0].name, TM_DEFAULT_PARTITION);
    assert_int_equal(c1->parts[0].id, 1001);
    assert_false(c1->loaded);
    assert_false(c1->parts[0].loaded);
    assert_int_equal(c1->schema.nfields, 2);
    assert_int_equal(c1->created_ts, 12345);
    assert_ptr_equal(tm_catalog_coll_by_id(c, 1000), c1);
    assert_null(tm_catalog_coll_by_id(c, 1001));

    /* identical again: nothing to do */
    int64_t next = c->next_id;
    EXPECT_NOOP(c, ddl_coll(TM_DEFAULT_DB, "c1", false));
    assert_int_equal(c->ncolls, 1);
    assert_int_equal(c->next_id, next);
    /* same name, different schema */
    EXPECT_CODE(c, ddl_coll(TM_DEFAULT_DB, "c1", true), TM_MV_UNEXPECTED,
                "create duplicate collection with different parameters");
    struct tm_ddl d = ddl_coll(TM_DEFAULT_DB, "c1", false);
    d.coll.schema.dynamic = true;
    EXPECT_CODE(c, d, TM_MV_UNEXPECTED, "different parameters");
    EXPECT_CODE(c, ddl_coll("nope", "c2", false), TM_MV_DB_NOT_FOUND, "database not found");
    EXPECT_CODE(c, ddl_coll(TM_DEFAULT_DB, "2c", false), TM_MV_INVALID_PARAM,
                "Invalid collection name");
    d = ddl(TM_DDL_COLL_CREATE, TM_DEFAULT_DB, "c3");
    EXPECT_CODE(c, d, TM_MV_INVALID_PARAM, "missing collection");

    /* the same name in another database is another collection */
    EXPECT_OK(c, ddl(TM_DDL_DB_CREATE, "db1", NULL));
    EXPECT_OK(c, ddl_coll("db1", "c1", true));
    assert_int_equal(c->ncolls, 2);
    assert_int_equal(tm_catalog_coll(c, "db1", "c1")->schema.nfields, 3);
    assert_int_equal(coll(c, "c1")->schema.nfields, 2);

    /* properties */
    d = ddl(TM_DDL_COLL_ALTER, TM_DEFAULT_DB, "c1");
    assert_int_equal(tm_kvs_set(&d.props, &d.nprops, "collection.ttl.seconds", "60"), 0);
    EXPECT_OK(c, d);
    assert_string_equal(
        tm_kvs_get(coll(c, "c1")->props, coll(c, "c1")->nprops, "collection.ttl.seconds"), "60");
    d = ddl(TM_DDL_COLL_DROP_PROPS, TM_DEFAULT_DB, "c1");
    assert_int_equal(tm_ddl_add_name(&d, "collection.ttl.seconds"), 0);
    EXPECT_OK(c, d);
    assert_int_equal(coll(c, "c1")->nprops, 0);
    EXPECT_CODE(c, ddl(TM_DDL_COLL_ALTER, TM_DEFAULT_DB, "zz"), TM_MV_COLL_NOT_FOUND,
                "collection not found");

    /* drop */
    EXPECT_OK(c, ddl(TM_DDL_COLL_DROP, TM_DEFAULT_DB, "c1"));
    assert_null(coll(c, "c1"));
    assert_non_null(tm_catalog_coll(c, "db1", "c1"));
    EXPECT_NOOP(c, ddl(TM_DDL_COLL_DROP, TM_DEFAULT_DB, "c1"));
    EXPECT_CODE(c, ddl(TM_DDL_COLL_DROP, "nope", "c1"), TM_MV_DB_NOT_FOUND, "database not found");
}

static void test_rename(void **state)
{
    struct tm_catalog *c = *state;
    EXPECT_OK(c, ddl_coll(TM_DEFAULT_DB, "a", false));
    EXPECT_OK(c, ddl_coll(TM_DEFAULT_DB, "b", false));
    EXPECT_OK(c, ddl(TM_DDL_DB_CREATE, "db1", NULL));
    int64_t id = coll(c, "a")->id;

    struct tm_ddl d = ddl(TM_DDL_COLL_RENAME, TM_DEFAULT_DB, "a");
    strcpy(d.new_name, "c");
    EXPECT_OK(c, d);
    assert_null(coll(c, "a"));
    assert_int_equal(coll(c, "c")->id, id);

    d = ddl(TM_DDL_COLL_RENAME, TM_DEFAULT_DB, "c");
    strcpy(d.new_name, "b");
    EXPECT_CODE(c, d, TM_MV_UNEXPECTED, "duplicated new collection name");
    d = ddl(TM_DDL_COLL_RENAME, TM_DEFAULT_DB, "zz");
    strcpy(d.new_name, "y");
    EXPECT_CODE(c, d, TM_MV_COLL_NOT_FOUND, "collection not found");
    d = ddl(TM_DDL_COLL_RENAME, TM_DEFAULT_DB, "c");
    strcpy(d.new_name, "bad-name");
    EXPECT_CODE(c, d, TM_MV_INVALID_PARAM, "Invalid collection name");
    d = ddl(TM_DDL_COLL_RENAME, TM_DEFAULT_DB, "c");
    strcpy(d.new_db, "nope");
    strcpy(d.new_name, "c");
    EXPECT_CODE(c, d, TM_MV_DB_NOT_FOUND, "database not found");

    /* across databases, keeping the name */
    d = ddl(TM_DDL_COLL_RENAME, TM_DEFAULT_DB, "c");
    strcpy(d.new_db, "db1");
    strcpy(d.new_name, "c");
    EXPECT_OK(c, d);
    assert_null(coll(c, "c"));
    assert_int_equal(tm_catalog_coll(c, "db1", "c")->id, id);
    assert_int_equal(tm_catalog_coll(c, "db1", "c")->db_id, tm_catalog_db(c, "db1")->id);
}

/* ---- partitions, indexes and load ---- */

static void test_partitions(void **state)
{
    struct tm_catalog *c = *state;
    EXPECT_OK(c, ddl_coll(TM_DEFAULT_DB, "c", false));
    EXPECT_OK(c, ddl_part(TM_DDL_PART_CREATE, "c", "p1"));
    const struct tm_partition *p = tm_collection_part(coll(c, "c"), "p1");
    assert_non_null(p);
    assert_true(p->id >= 1000);
    assert_false(p->loaded);
    assert_int_equal(coll(c, "c")->nparts, 2);
    EXPECT_NOOP(c, ddl_part(TM_DDL_PART_CREATE, "c", "p1"));
    EXPECT_CODE(c, ddl_part(TM_DDL_PART_CREATE, "c", "p-1"), TM_MV_INVALID_PARAM,
                "Invalid partition name");
    EXPECT_CODE(c, ddl_part(TM_DDL_PART_CREATE, "zz", "p1"), TM_MV_COLL_NOT_FOUND,
                "collection not found");
    EXPECT_CODE(c, ddl_part(TM_DDL_PART_DROP, "c", TM_DEFAULT_PARTITION), TM_MV_INVALID_PARAM,
                "default partition cannot be deleted");
    EXPECT_NOOP(c, ddl_part(TM_DDL_PART_DROP, "c", "absent"));

    /* loading a partition needs the vector index too */
    EXPECT_CODE(c, ddl_load(TM_DDL_PART_LOAD, "c", true, "p1"), TM_MV_INDEX_NOT_FOUND,
                "there is no vector index on field: [v]");
    EXPECT_CODE(c, ddl_load(TM_DDL_PART_LOAD, "c", true, "zz"), TM_MV_PART_NOT_FOUND,
                "partition not found");
    EXPECT_OK(c, ddl_index(TM_DEFAULT_DB, "c", "v_idx", "v", "HNSW"));
    EXPECT_OK(c, ddl_load(TM_DDL_PART_LOAD, "c", true, "p1"));
    assert_true(tm_collection_part(coll(c, "c"), "p1")->loaded);
    assert_false(tm_collection_part(coll(c, "c"), TM_DEFAULT_PARTITION)->loaded);
    assert_true(coll(c, "c")->loaded);
    EXPECT_CODE(c, ddl_part(TM_DDL_PART_DROP, "c", "p1"), TM_MV_UNEXPECTED, "partition is loaded");
    /* a partition created in a loaded collection is loaded */
    EXPECT_OK(c, ddl_part(TM_DDL_PART_CREATE, "c", "p2"));
    assert_true(tm_collection_part(coll(c, "c"), "p2")->loaded);
    /* releasing every loaded partition releases the collection */
    EXPECT_OK(c, ddl_load(TM_DDL_PART_LOAD, "c", false, "p1"));
    assert_false(tm_collection_part(coll(c, "c"), "p1")->loaded);
    assert_true(coll(c, "c")->loaded); /* p2 still */
    EXPECT_OK(c, ddl_load(TM_DDL_PART_LOAD, "c", false, "p2"));
    assert_false(coll(c, "c")->loaded);
    EXPECT_OK(c, ddl_part(TM_DDL_PART_DROP, "c", "p1"));
    assert_null(tm_collection_part(coll(c, "c"), "p1"));
    assert_int_equal(coll(c, "c")->nparts, 2);
}

static void test_indexes(void **state)
{
    struct tm_catalog *c = *state;
    EXPECT_OK(c, ddl_coll(TM_DEFAULT_DB, "c", true));
    EXPECT_CODE(c, ddl_index(TM_DEFAULT_DB, "c", "i", "nope", "HNSW"), TM_MV_INVALID_PARAM,
                "cannot create index on non-exist field: nope");
    struct tm_ddl d = ddl(TM_DDL_IDX_CREATE, TM_DEFAULT_DB, "c");
    EXPECT_CODE(c, d, TM_MV_INVALID_PARAM, "non-exist field");
    EXPECT_CODE(c, ddl_index(TM_DEFAULT_DB, "zz", "i", "v", "HNSW"), TM_MV_COLL_NOT_FOUND,
                "collection not found");

    d = ddl_index(TM_DEFAULT_DB, "c", "v_idx", "v", "HNSW");
    assert_int_equal(tm_kvs_set(&d.index.params, &d.index.nparams, "M", "16"), 0);
    EXPECT_OK(c, d);
    const struct tm_index *ix = tm_collection_index(coll(c, "c"), "v_idx");
    assert_non_null(ix);
    assert_string_equal(ix->field, "v");
    assert_string_equal(ix->type, "HNSW");
    assert_string_equal(tm_kvs_get(ix->params, ix->nparams, "M"), "16");
    assert_true(ix->id >= 1000);
    EXPECT_NOOP(c, ddl_index(TM_DEFAULT_DB, "c", "v_idx", "v", "HNSW"));
    EXPECT_CODE(c, ddl_index(TM_DEFAULT_DB, "c", "v_idx", "v", "IVF_FLAT"), TM_MV_UNEXPECTED,
                "at most one distinct index is allowed per field");
    EXPECT_CODE(c, ddl_index(TM_DEFAULT_DB, "c", "other", "v", "HNSW"), TM_MV_UNEXPECTED,
                "at most one distinct index");
    EXPECT_CODE(c, ddl_index(TM_DEFAULT_DB, "c", "v_idx", "b", "BIN_FLAT"), TM_MV_INDEX_DUP,
                "index duplicates");
    assert_int_equal(coll(c, "c")->nindexes, 1);

    /* drop */
    d = ddl(TM_DDL_IDX_DROP, TM_DEFAULT_DB, "c");
    strcpy(d.idx, "absent");
    EXPECT_CODE(c, d, TM_MV_INDEX_NOT_FOUND, "index not found");
    EXPECT_OK(c, ddl_index(TM_DEFAULT_DB, "c", "b_idx", "b", "BIN_FLAT"));
    EXPECT_OK(c, ddl_load(TM_DDL_COLL_LOAD, "c", true, NULL));
    d = ddl(TM_DDL_IDX_DROP, TM_DEFAULT_DB, "c");
    strcpy(d.idx, "v_idx");
    EXPECT_CODE(c, d, TM_MV_UNEXPECTED, "collection is loaded");
    EXPECT_OK(c, ddl_load(TM_DDL_COLL_LOAD, "c", false, NULL));
    d = ddl(TM_DDL_IDX_DROP, TM_DEFAULT_DB, "c");
    strcpy(d.idx, "v_idx");
    EXPECT_OK(c, d);
    assert_null(tm_collection_index(coll(c, "c"), "v_idx"));
    assert_non_null(tm_collection_index(coll(c, "c"), "b_idx"));
}

static void test_load_needs_index_on_every_vector_field(void **state)
{
    struct tm_catalog *c = *state;
    EXPECT_OK(c, ddl_coll(TM_DEFAULT_DB, "c", true));
    EXPECT_CODE(c, ddl_load(TM_DDL_COLL_LOAD, "c", true, NULL), TM_MV_INDEX_NOT_FOUND,
                "there is no vector index on field: [v]");
    EXPECT_OK(c, ddl_index(TM_DEFAULT_DB, "c", "v_idx", "v", "HNSW"));
    EXPECT_CODE(c, ddl_load(TM_DDL_COLL_LOAD, "c", true, NULL), TM_MV_INDEX_NOT_FOUND,
                "there is no vector index on field: [b]");
    assert_false(coll(c, "c")->loaded);
    EXPECT_OK(c, ddl_index(TM_DEFAULT_DB, "c", "b_idx", "b", "BIN_FLAT"));
    EXPECT_OK(c, ddl_load(TM_DDL_COLL_LOAD, "c", true, NULL));
    assert_true(coll(c, "c")->loaded);
    for (size_t i = 0; i < coll(c, "c")->nparts; i++)
        assert_true(coll(c, "c")->parts[i].loaded);
    /* release never needs an index */
    EXPECT_OK(c, ddl_load(TM_DDL_COLL_LOAD, "c", false, NULL));
    assert_false(coll(c, "c")->loaded);
    assert_false(coll(c, "c")->parts[0].loaded);
    EXPECT_OK(c, ddl_coll(TM_DEFAULT_DB, "d", false));
    EXPECT_OK(c, ddl_load(TM_DDL_COLL_LOAD, "d", false, NULL));
    EXPECT_CODE(c, ddl_load(TM_DDL_COLL_LOAD, "zz", true, NULL), TM_MV_COLL_NOT_FOUND,
                "collection not found");
}

/* ---- stale commands ---- */

static void catalog_bytes(const struct tm_catalog *c, struct tm_mpw *w)
{
    tm_mpw_init(w);
    tm_catalog_encode(w, c);
    assert_int_equal(tm_mpw_error(w), 0);
}

/* Applying a command that no longer fits changes nothing and succeeds:
 * replay of any log prefix must never fail. */
static void test_stale_apply_is_noop(void **state)
{
    struct tm_catalog *c = *state;
    EXPECT_OK(c, ddl(TM_DDL_DB_CREATE, "db1", NULL));
    EXPECT_OK(c, ddl_coll(TM_DEFAULT_DB, "c", false));
    EXPECT_OK(c, ddl_coll(TM_DEFAULT_DB, "e", false));
    EXPECT_OK(c, ddl_part(TM_DDL_PART_CREATE, "c", "p1"));
    EXPECT_OK(c, ddl_index(TM_DEFAULT_DB, "c", "v_idx", "v", "HNSW"));
    EXPECT_OK(c, ddl_load(TM_DDL_COLL_LOAD, "c", true, NULL));

    struct tm_ddl stale[20];
    size_t n = 0;
    stale[n++] = ddl(TM_DDL_DB_CREATE, "db1", NULL);
    stale[n++] = ddl(TM_DDL_DB_DROP, "nope", NULL);
    stale[n++] = ddl(TM_DDL_DB_DROP, TM_DEFAULT_DB, NULL);
    stale[n++] = ddl(TM_DDL_DB_ALTER, "nope", NULL);
    stale[n++] = ddl_coll(TM_DEFAULT_DB, "c", false); /* identical: already done */
    stale[n++] = ddl_coll(TM_DEFAULT_DB, "c", true);  /* different */
    stale[n++] = ddl_coll("nope", "x", false);
    stale[n++] = ddl(TM_DDL_COLL_DROP, TM_DEFAULT_DB, "nope");
    stale[n] = ddl(TM_DDL_COLL_RENAME, TM_DEFAULT_DB, "c");
    strcpy(stale[n++].new_name, "e");
    stale[n++] = ddl_part(TM_DDL_PART_CREATE, "c", "p1");
    stale[n++] = ddl_part(TM_DDL_PART_DROP, "c", "p1"); /* loaded */
    stale[n++] = ddl_part(TM_DDL_PART_DROP, "c", "absent");
    stale[n++] = ddl_index(TM_DEFAULT_DB, "c", "v_idx", "v", "IVF_FLAT");
    stale[n] = ddl(TM_DDL_IDX_DROP, TM_DEFAULT_DB, "c"); /* loaded */
    strcpy(stale[n++].idx, "v_idx");
    stale[n++] = ddl_load(TM_DDL_COLL_LOAD, "e", true, NULL); /* no index */
    stale[n++] = ddl_load(TM_DDL_PART_LOAD, "c", true, "absent");
    stale[n++] = ddl(TM_DDL_NONE, TM_DEFAULT_DB, "c");

    struct tm_mpw before, after;
    catalog_bytes(c, &before);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(tm_catalog_apply(c, &stale[i]), 0);
        catalog_bytes(c, &after);
        if (after.buf.len != before.buf.len ||
            memcmp(after.buf.data, before.buf.data, before.buf.len) != 0)
            fail_msg("stale command %zu (op %d) changed the catalog", i, stale[i].op);
        tm_mpw_free(&after);
        tm_ddl_free(&stale[i]);
    }
    tm_mpw_free(&before);

    /* replaying a whole log twice gives the same catalog as once */
    struct tm_catalog fresh;
    assert_int_equal(tm_catalog_init(&fresh), 0);
    struct tm_ddl log[] = {ddl(TM_DDL_DB_CREATE, "db1", NULL), ddl_coll(TM_DEFAULT_DB, "c", false),
                           ddl_part(TM_DDL_PART_CREATE, "c", "p1")};
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < sizeof log / sizeof log[0]; i++)
            apply_logged(&fresh, &log[i]);
    assert_int_equal(fresh.ndbs, 2);
    assert_int_equal(fresh.ncolls, 1);
    assert_int_equal(tm_catalog_coll(&fresh, TM_DEFAULT_DB, "c")->nparts, 2);
    assert_int_equal(fresh.next_id, 1000 + 1 + 2 + 1); /* db, coll + _default, p1 */
    for (size_t i = 0; i < sizeof log / sizeof log[0]; i++)
        tm_ddl_free(&log[i]);
    tm_catalog_free(&fresh);
}

static void test_tso_hw(void **state)
{
    struct tm_catalog *c = *state;
    struct tm_ddl d = ddl(TM_DDL_TSO_HW, "", NULL);
    d.hw_ms = 5000;
    EXPECT_OK(c, d);
    assert_int_equal(c->tso_hw_ms, 5000);
    d = ddl(TM_DDL_TSO_HW, "", NULL);
    d.hw_ms = 3000; /* never lowered */
    EXPECT_OK(c, d);
    assert_int_equal(c->tso_hw_ms, 5000);
}

/* ---- msgpack forms ---- */

static void assert_kvs_same(const struct tm_kv *a, size_t na, const struct tm_kv *b, size_t nb)
{
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_string_equal(a[i].key, b[i].key);
        assert_string_equal(a[i].value, b[i].value);
    }
}

static void assert_colls_same(const struct tm_collection *a, const struct tm_collection *b)
{
    assert_int_equal(a->id, b->id);
    assert_int_equal(a->db_id, b->db_id);
    assert_string_equal(a->name, b->name);
    assert_true(tm_schema_equal(&a->schema, &b->schema));
    assert_int_equal(a->schema.pk, b->schema.pk);
    assert_int_equal(a->consistency, b->consistency);
    assert_int_equal(a->shards, b->shards);
    assert_int_equal(a->loaded, b->loaded);
    assert_int_equal(a->created_ts, b->created_ts);
    assert_int_equal(a->nparts, b->nparts);
    for (size_t i = 0; i < a->nparts; i++) {
        assert_int_equal(a->parts[i].id, b->parts[i].id);
        assert_string_equal(a->parts[i].name, b->parts[i].name);
        assert_int_equal(a->parts[i].loaded, b->parts[i].loaded);
    }
    assert_int_equal(a->nindexes, b->nindexes);
    for (size_t i = 0; i < a->nindexes; i++) {
        const struct tm_index *x = &a->indexes[i], *y = &b->indexes[i];
        assert_int_equal(x->id, y->id);
        assert_string_equal(x->name, y->name);
        assert_string_equal(x->field, y->field);
        assert_string_equal(x->type, y->type);
        assert_string_equal(x->metric, y->metric);
        assert_kvs_same(x->params, x->nparams, y->params, y->nparams);
    }
    assert_kvs_same(a->props, a->nprops, b->props, b->nprops);
}

/* A catalog with a bit of everything. */
static void populate(struct tm_catalog *c)
{
    struct tm_ddl d = ddl(TM_DDL_DB_CREATE, "db1", NULL);
    assert_int_equal(tm_kvs_set(&d.props, &d.nprops, "a", "1"), 0);
    EXPECT_OK(c, d);
    EXPECT_OK(c, ddl_coll(TM_DEFAULT_DB, "c", true));
    d = ddl_coll("db1", "c", false);
    d.coll.consistency = TM_CL_STRONG;
    d.coll.shards = 4;
    EXPECT_OK(c, d);
    EXPECT_OK(c, ddl_part(TM_DDL_PART_CREATE, "c", "p1"));
    d = ddl_index(TM_DEFAULT_DB, "c", "v_idx", "v", "IVF_PQ");
    assert_int_equal(tm_kvs_set(&d.index.params, &d.index.nparams, "nlist", "128"), 0);
    assert_int_equal(tm_kvs_set(&d.index.params, &d.index.nparams, "m", "4"), 0);
    EXPECT_OK(c, d);
    EXPECT_OK(c, ddl_index(TM_DEFAULT_DB, "c", "b_idx", "b", "BIN_FLAT"));
    EXPECT_OK(c, ddl_load(TM_DDL_PART_LOAD, "c", true, "p1"));
    d = ddl(TM_DDL_COLL_ALTER, TM_DEFAULT_DB, "c");
    assert_int_equal(tm_kvs_set(&d.props, &d.nprops, "mmap.enabled", "true"), 0);
    EXPECT_OK(c, d);
    d = ddl(TM_DDL_TSO_HW, "", NULL);
    d.hw_ms = 1700000000000ULL;
    EXPECT_OK(c, d);
}

static void test_catalog_roundtrip(void **state)
{
    struct tm_catalog *c = *state, d;
    populate(c);
    struct tm_mpw w, w2;
    catalog_bytes(c, &w);
    struct tm_mpr r;
    tm_mpr_init(&r, w.buf.data, w.buf.len);
    assert_int_equal(tm_catalog_decode(&r, &d), 0);
    assert_int_equal(tm_mpr_remaining(&r), 0);
    assert_int_equal(d.next_id, c->next_id);
    assert_int_equal(d.tso_hw_ms, c->tso_hw_ms);
    assert_int_equal(d.ndbs, c->ndbs);
    for (size_t i = 0; i < c->ndbs; i++) {
        assert_int_equal(d.dbs[i].id, c->dbs[i].id);
        assert_string_equal(d.dbs[i].name, c->dbs[i].name);
        assert_kvs_same(d.dbs[i].props, d.dbs[i].nprops, c->dbs[i].props, c->dbs[i].nprops);
    }
    assert_int_equal(d.ncolls, c->ncolls);
    for (size_t i = 0; i < c->ncolls; i++)
        assert_colls_same(&d.colls[i], &c->colls[i]);
    /* same bytes again, and the decoded catalog keeps working */
    catalog_bytes(&d, &w2);
    assert_int_equal(w2.buf.len, w.buf.len);
    assert_memory_equal(w2.buf.data, w.buf.data, w.buf.len);
    tm_mpw_free(&w2);
    EXPECT_OK(&d, ddl_part(TM_DDL_PART_CREATE, "c", "p2"));
    assert_int_equal(tm_collection_part(coll(&d, "c"), "p2")->id, c->next_id);
    tm_catalog_free(&d);

    /* every truncation fails and leaves nothing behind */
    for (size_t len = 0; len < w.buf.len; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, w.buf.data, len);
        tm_mpr_init(&r, copy, len);
        int rc = tm_catalog_decode(&r, &d);
        if (rc != TM_ETRUNC && rc != TM_ECORRUPT)
            fail_msg("prefix %zu/%zu: rc %d", len, w.buf.len, rc);
        assert_int_equal(d.ndbs, 0);
        assert_int_equal(d.ncolls, 0);
        free(copy);
    }
    tm_mpw_free(&w);

    /* an unknown format version (2 added the placement) */
    tm_mpw_init(&w);
    tm_mpw_map(&w, 2);
    tm_mpw_cstr(&w, "v"), tm_mpw_uint(&w, 3);
    tm_mpw_cstr(&w, "next_id"), tm_mpw_int(&w, 5);
    tm_mpr_init(&r, w.buf.data, w.buf.len);
    assert_int_equal(tm_catalog_decode(&r, &d), TM_EVERSION);
    tm_mpw_free(&w);
}

static void assert_ddls_same(const struct tm_ddl *a, const struct tm_ddl *b)
{
    assert_int_equal(a->op, b->op);
    assert_string_equal(a->db, b->db);
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->new_db, b->new_db);
    assert_string_equal(a->new_name, b->new_name);
    assert_string_equal(a->part, b->part);
    assert_string_equal(a->idx, b->idx);
    assert_int_equal(a->flag, b->flag);
    assert_int_equal(a->hw_ms, b->hw_ms);
    assert_kvs_same(a->props, a->nprops, b->props, b->nprops);
    assert_int_equal(a->nnames, b->nnames);
    for (size_t i = 0; i < a->nnames; i++)
        assert_string_equal(a->names[i], b->names[i]);
    assert_int_equal(a->has_coll, b->has_coll);
    if (a->has_coll)
        assert_colls_same(&a->coll, &b->coll);
    assert_int_equal(a->has_index, b->has_index);
    if (a->has_index) {
        assert_string_equal(a->index.name, b->index.name);
        assert_string_equal(a->index.field, b->index.field);
        assert_string_equal(a->index.type, b->index.type);
        assert_string_equal(a->index.metric, b->index.metric);
        assert_kvs_same(a->index.params, a->index.nparams, b->index.params, b->index.nparams);
    }
}

static void check_ddl_roundtrip(const struct tm_ddl *in)
{
    struct tm_mpw w, w2;
    struct tm_ddl out;
    tm_mpw_init(&w);
    tm_ddl_encode(&w, in);
    assert_int_equal(tm_mpw_error(&w), 0);
    assert_int_equal(tm_ddl_decode(w.buf.data, w.buf.len, &out), 0);
    assert_ddls_same(in, &out);
    tm_mpw_init(&w2);
    tm_ddl_encode(&w2, &out);
    assert_int_equal(w2.buf.len, w.buf.len);
    assert_memory_equal(w2.buf.data, w.buf.data, w.buf.len);
    tm_mpw_free(&w2);
    tm_ddl_free(&out);
    /* every truncation fails cleanly */
    for (size_t len = 0; len < w.buf.len; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, w.buf.data, len);
        int rc = tm_ddl_decode(copy, len, &out);
        if (rc != TM_ETRUNC && rc != TM_ECORRUPT)
            fail_msg("op %d prefix %zu/%zu: rc %d", in->op, len, w.buf.len, rc);
        assert_int_equal(out.nnames, 0);
        assert_false(out.has_coll);
        free(copy);
    }
    tm_mpw_free(&w);
}

static void test_ddl_roundtrip(void **state)
{
    (void)state;
    for (int op = TM_DDL_DB_CREATE; op <= TM_DDL_TSO_HW; op++) {
        struct tm_ddl d = op == TM_DDL_COLL_CREATE ? ddl_coll("db1", "coll1", true)
                          : op == TM_DDL_IDX_CREATE
                              ? ddl_index("db1", "coll1", "v_idx", "v", "HNSW")
                              : ddl((enum tm_ddl_op)op, "db1", "coll1");
        d.op = (enum tm_ddl_op)op;
        strcpy(d.new_db, "db2");
        strcpy(d.new_name, "coll2");
        strcpy(d.part, "p1");
        strcpy(d.idx, "v_idx");
        d.flag = op % 2;
        d.hw_ms = UINT64_MAX - (uint64_t)op;
        assert_int_equal(tm_kvs_set(&d.props, &d.nprops, "k1", "v1"), 0);
        assert_int_equal(tm_kvs_set(&d.props, &d.nprops, "k2", ""), 0);
        assert_int_equal(tm_ddl_add_name(&d, "n1"), 0);
        assert_int_equal(tm_ddl_add_name(&d, "n2"), 0);
        if (d.has_coll) {
            d.coll.nparts = 1;
            d.coll.parts = calloc(1, sizeof *d.coll.parts);
            strcpy(d.coll.parts[0].name, "custom");
        }
        if (d.has_index)
            assert_int_equal(tm_kvs_set(&d.index.params, &d.index.nparams, "M", "8"), 0);
        check_ddl_roundtrip(&d);
        tm_ddl_free(&d);
    }
    /* a bare command */
    struct tm_ddl d = ddl(TM_DDL_COLL_DROP, "default", "x");
    check_ddl_roundtrip(&d);
    tm_ddl_free(&d);
}

/* A command map with the given version (or none) and op. */
static int decode_crafted(bool with_v, uint64_t v, const char *op)
{
    struct tm_mpw w;
    struct tm_ddl d;
    tm_mpw_init(&w);
    tm_mpw_map(&w, (uint32_t)(2 + with_v));
    if (with_v)
        tm_mpw_cstr(&w, "v"), tm_mpw_uint(&w, v);
    tm_mpw_cstr(&w, "op"), tm_mpw_cstr(&w, op);
    tm_mpw_cstr(&w, "db"), tm_mpw_cstr(&w, "default");
    int rc = tm_ddl_decode(w.buf.data, w.buf.len, &d);
    if (rc == 0) {
        assert_string_equal(d.db, "default");
        tm_ddl_free(&d);
    }
    tm_mpw_free(&w);
    return rc;
}

static void test_ddl_decode_errors(void **state)
{
    (void)state;
    assert_int_equal(decode_crafted(true, 1, "coll_drop"), 0);
    assert_int_equal(decode_crafted(true, 1, "no_such_op"), TM_ECORRUPT);
    assert_int_equal(decode_crafted(true, 1, ""), TM_ECORRUPT);
    assert_int_equal(decode_crafted(true, 1, "COLL_DROP"), TM_ECORRUPT);
    /* a command from a newer format must not be applied as if it were this
     * one (version 2 added the placement and reads version-1 commands) */
    assert_int_equal(decode_crafted(true, 2, "coll_drop"), 0);
    assert_int_equal(decode_crafted(true, 3, "coll_drop"), TM_EVERSION);
    assert_int_equal(decode_crafted(true, 0, "coll_drop"), TM_EVERSION);
    /* no op at all */
    struct tm_mpw w;
    struct tm_ddl d;
    tm_mpw_init(&w);
    tm_mpw_map(&w, 1);
    tm_mpw_cstr(&w, "v"), tm_mpw_uint(&w, 1);
    assert_int_equal(tm_ddl_decode(w.buf.data, w.buf.len, &d), TM_ECORRUPT);
    tm_mpw_free(&w);
    /* a name longer than TM_NAME_MAX is corrupt, not truncated */
    char long_name[TM_NAME_MAX + 1];
    memset(long_name, 'x', TM_NAME_MAX);
    long_name[TM_NAME_MAX] = '\0';
    tm_mpw_init(&w);
    tm_mpw_map(&w, 3);
    tm_mpw_cstr(&w, "v"), tm_mpw_uint(&w, 1);
    tm_mpw_cstr(&w, "op"), tm_mpw_cstr(&w, "db_create");
    tm_mpw_cstr(&w, "db"), tm_mpw_cstr(&w, long_name);
    assert_int_equal(tm_ddl_decode(w.buf.data, w.buf.len, &d), TM_ECORRUPT);
    tm_mpw_free(&w);
    /* a hostile names count */
    static const uint8_t hostile[] = {0x82, 0xa2, 'o',  'p',  0xa7, 'd',  'b', '_', 'd',
                                      'r',  'o',  'p',  0xa5, 'n',  'a',  'm', 'e', 's',
                                      0xdd, 0xff, 0xff, 0xff, 0xff, 0xa1, 'x'};
    assert_int_equal(tm_ddl_decode(hostile, sizeof hostile, &d), TM_ETRUNC);
}

static void test_consistency_names(void **state)
{
    (void)state;
    static const char *names[] = {"Strong", "Session", "Bounded", "Eventually", "Customized"};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(tm_consistency_parse(names[i]), i);
        assert_string_equal(tm_consistency_name((enum tm_consistency)i), names[i]);
    }
    assert_int_equal(tm_consistency_parse("strong"), -1);
    assert_int_equal(tm_consistency_parse(""), -1);
    assert_string_equal(tm_consistency_name((enum tm_consistency)9), "Bounded");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_init),
        T(test_databases),
        T(test_database_limit),
        T(test_collections),
        T(test_rename),
        T(test_partitions),
        T(test_indexes),
        T(test_load_needs_index_on_every_vector_field),
        T(test_stale_apply_is_noop),
        T(test_tso_hw),
        T(test_catalog_roundtrip),
        cmocka_unit_test(test_ddl_roundtrip),
        cmocka_unit_test(test_ddl_decode_errors),
        cmocka_unit_test(test_consistency_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
