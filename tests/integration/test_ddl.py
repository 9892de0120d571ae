"""DDL and the entity semantics around it, against one real server.

Databases, collections (quick setup and full schema), partitions, indexes,
load state, the Accept-Type-Allow-Int64 header, autoID, override-mode upsert
and consistency levels (milvus-rest-v2.md §1.3, §4, §5, §6). Each test uses
its own collection names, so the tests are independent of their order.

Usage: test_ddl.py /path/to/tidemark [unittest args]
"""

import http.client
import json
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import DIM, expected_row, f32, full_schema_body, make_row, normalize  # noqa: E402


class DdlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = harness.Server()

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    # ---- helpers ----

    def ok(self, path, body=None, headers=None):
        r = self.srv.post(path, body, headers)
        self.assertEqual(r.get("code"), 0, "%s %s -> %r" % (path, body, r))
        return r

    def err(self, path, body, code=None):
        r = self.srv.post(path, body)
        self.assertNotEqual(r.get("code"), 0, "%s %s should fail: %r" % (path, body, r))
        if code is not None:
            self.assertEqual(r["code"], code, "%s %s -> %r" % (path, body, r))
        self.assertTrue(r.get("message"), r)
        self.assertNotIn("data", r)
        return r

    def query(self, coll, filt, **kw):
        body = {"collectionName": coll, "filter": filt, "outputFields": ["*"],
                "consistencyLevel": "Strong"}
        body.update(kw)
        return self.srv.post("entities/query", body)

    def ids_of(self, reply):
        self.assertEqual(reply.get("code"), 0, reply)
        return sorted(row["id"] for row in reply["data"])

    def count(self, coll, **kw):
        return self.ok("collections/get_stats", dict(collectionName=coll, **kw))["data"]["rowCount"]

    # ---- databases ----

    def test_databases(self):
        dbs = self.ok("databases/list", {})["data"]
        self.assertIn("default", dbs)
        self.assertEqual(self.ok("databases/create", {"dbName": "db_a"})["data"], {})
        self.err("databases/create", {"dbName": "db_a"})  # exists
        self.err("databases/create", {"dbName": "1bad name"})
        self.err("databases/create", {}, 1802)
        self.assertIn("db_a", self.ok("databases/list", {})["data"])
        d = self.ok("databases/describe", {"dbName": "db_a"})["data"]
        self.assertEqual(d["dbName"], "db_a")
        self.assertIsInstance(d["dbID"], int)
        self.assertEqual(d["properties"], [])
        self.err("databases/describe", {"dbName": "db_missing"}, 800)

        # A collection in db_a is separate from one of the same name in default.
        self.ok("collections/create", {"dbName": "db_a", "collectionName": "same",
                                       "dimension": 2})
        self.assertIn("same", self.ok("collections/list", {"dbName": "db_a"})["data"])
        self.assertNotIn("same", self.ok("collections/list", {})["data"])
        self.ok("entities/insert", {"dbName": "db_a", "collectionName": "same",
                                    "data": [{"id": 1, "vector": [1, 2]}]})
        self.assertEqual(self.ids_of(self.query("same", "id in [1]", dbName="db_a")), [1])
        # The DB-Name header selects the database when the body has none.
        self.assertIn("same", self.ok("collections/list", {}, {"DB-Name": "db_a"})["data"])
        self.err("collections/describe", {"collectionName": "same"}, 100)

        # A database with collections cannot be dropped; empty, it can.
        self.err("databases/drop", {"dbName": "db_a"})
        self.ok("collections/drop", {"dbName": "db_a", "collectionName": "same"})
        self.ok("databases/drop", {"dbName": "db_a"})
        self.assertNotIn("db_a", self.ok("databases/list", {})["data"])
        self.err("databases/describe", {"dbName": "db_a"}, 800)

        # default cannot be dropped and is still there.
        self.err("databases/drop", {"dbName": "default"})
        self.assertIn("default", self.ok("databases/list", {})["data"])

    # ---- collections ----

    def test_quick_setup_describe(self):
        self.assertEqual(self.ok("collections/create",
                                 {"collectionName": "quick", "dimension": 8})["data"], {})
        r = self.ok("collections/describe", {"collectionName": "quick"})
        self.assertEqual(r.get("message"), "")
        d = r["data"]
        self.assertEqual(d["collectionName"], "quick")
        self.assertIsInstance(d["collectionID"], int)
        self.assertFalse(d["autoId"])
        self.assertEqual(d["load"], "LoadStateLoaded")
        self.assertTrue(d["enableDynamicField"])
        self.assertEqual(d["consistencyLevel"], "Bounded")
        self.assertEqual(d["shardsNum"], 1)
        self.assertEqual(d["partitionsNum"], 1)
        self.assertEqual(d["aliases"], [])
        self.assertEqual(d["functions"], [])
        self.assertEqual(d["properties"], [])
        self.assertEqual(d["description"], "")
        f = {x["name"]: x for x in d["fields"]}
        self.assertEqual([x["name"] for x in d["fields"]], ["id", "vector"])
        self.assertEqual(f["id"]["type"], "Int64")
        self.assertTrue(f["id"]["primaryKey"])
        self.assertFalse(f["id"]["autoId"])
        self.assertEqual(f["id"]["params"], [])
        self.assertEqual(f["vector"]["type"], "FloatVector")
        self.assertFalse(f["vector"]["primaryKey"])
        self.assertEqual(f["vector"]["params"], [{"key": "dim", "value": "8"}])
        for x in d["fields"]:
            for key in ("id", "partitionKey", "clusteringKey", "nullable", "description"):
                self.assertIn(key, x)
            self.assertNotIn("defaultValue", x)
            self.assertNotIn("elementType", x)
        self.assertEqual(d["indexes"], [{"indexName": "vector", "fieldName": "vector",
                                         "metricType": "COSINE"}])
        st = self.ok("collections/get_load_state", {"collectionName": "quick"})
        self.assertEqual(st["data"]["loadState"], "LoadStateLoaded")
        self.assertEqual(st["data"]["loadProgress"], 100)
        # Loaded right away: insert and read back.
        self.ok("entities/insert", {"collectionName": "quick",
                                    "data": [{"id": 7, "vector": [0.5] * 8, "extra": "x"}]})
        rows = self.query("quick", "id == 7")["data"]
        self.assertEqual(rows, [{"id": 7, "vector": [0.5] * 8, "extra": "x"}])

    def test_quick_setup_options(self):
        self.ok("collections/create", {
            "collectionName": "quick_opts", "dimension": 4, "metricType": "L2",
            "idType": "VarChar", "primaryFieldName": "pk", "vectorFieldName": "v",
            "params": {"max_length": 32, "enableDynamicField": False,
                       "consistencyLevel": "Strong"}})
        d = self.ok("collections/describe", {"collectionName": "quick_opts"})["data"]
        f = {x["name"]: x for x in d["fields"]}
        self.assertEqual(f["pk"]["type"], "VarChar")
        self.assertEqual(f["pk"]["params"], [{"key": "max_length", "value": "32"}])
        self.assertEqual(f["v"]["params"], [{"key": "dim", "value": "4"}])
        self.assertFalse(d["enableDynamicField"])
        self.assertEqual(d["consistencyLevel"], "Strong")
        self.assertEqual(d["indexes"], [{"indexName": "v", "fieldName": "v", "metricType": "L2"}])
        r = self.ok("entities/insert", {"collectionName": "quick_opts",
                                        "data": [{"pk": "a", "v": [1, 2, 3, 4]}]})
        self.assertEqual(r["data"]["insertIds"], ["a"])
        r = self.ok("entities/get", {"collectionName": "quick_opts", "id": ["a", "b"]})
        self.assertEqual(r["data"], [{"pk": "a", "v": [1.0, 2.0, 3.0, 4.0]}])
        # Bad quick-setup requests.
        self.err("collections/create", {"collectionName": "q_bad"}, 1100)  # no dimension
        self.err("collections/create", {"collectionName": "q_bad", "dimension": 4,
                                        "idType": "Float"}, 1100)
        self.err("collections/create", {"collectionName": "q_bad", "dimension": 4,
                                        "params": {"consistencyLevel": "Sometimes"}}, 1100)
        self.assertFalse(self.ok("collections/has", {"collectionName": "q_bad"})["data"]["has"])

    def test_create_is_idempotent_for_same_schema(self):
        body = full_schema_body("idem")
        self.ok("collections/create", body)
        self.ok("collections/create", body)
        other = full_schema_body("idem")
        other["schema"]["fields"][1]["elementTypeParams"]["dim"] = DIM * 2
        self.err("collections/create", other, 65535)
        self.assertEqual(self.ok("collections/list", {})["data"].count("idem"), 1)

    def test_full_schema_without_index(self):
        c = "noidx"
        self.ok("collections/create", full_schema_body(c, index=False))
        d = self.ok("collections/describe", {"collectionName": c})["data"]
        self.assertEqual(d["load"], "LoadStateNotLoad")
        self.assertEqual(d["indexes"], [])
        self.assertTrue(d["enableDynamicField"])
        f = {x["name"]: x for x in d["fields"]}
        self.assertEqual([x["name"] for x in d["fields"]],
                         ["id", "vec", "title", "n", "score", "meta", "tags"])
        self.assertEqual(f["n"]["defaultValue"], {"Data": {"IntData": 5}})
        self.assertTrue(f["score"]["nullable"])
        self.assertFalse(f["title"]["nullable"])
        self.assertEqual(f["tags"]["elementType"], "Int64")
        self.assertEqual(f["tags"]["params"], [{"key": "max_capacity", "value": "8"}])
        self.assertEqual(f["title"]["params"], [{"key": "max_length", "value": "64"}])
        self.assertEqual(f["meta"]["type"], "JSON")
        st = self.ok("collections/get_load_state", {"collectionName": c})["data"]
        self.assertEqual(st, {"loadState": "LoadStateNotLoad"})

        # Insert works while not loaded; reads do not.
        self.ok("entities/insert", {"collectionName": c, "data": [make_row(i) for i in range(5)]})
        self.assertEqual(self.query(c, "id in [1]")["code"], 101)
        self.assertEqual(self.srv.post("entities/get", {"collectionName": c, "id": [1]})["code"],
                         101)
        # Load needs an index on every vector field.
        self.err("collections/load", {"collectionName": c})
        self.assertEqual(self.ok("collections/get_load_state", {"collectionName": c})
                         ["data"]["loadState"], "LoadStateNotLoad")
        self.ok("indexes/create", {"collectionName": c, "indexParams": [
            {"fieldName": "vec", "indexName": "vi", "metricType": "IP", "indexType": "HNSW",
             "params": {"M": 8, "efConstruction": 64}}]})
        self.assertEqual(self.query(c, "id in [1]")["code"], 101)  # indexed, still not loaded
        self.ok("collections/load", {"collectionName": c})
        st = self.ok("collections/get_load_state", {"collectionName": c})["data"]
        self.assertEqual(st["loadState"], "LoadStateLoaded")
        rows = self.query(c, "id in [0, 1, 2, 3, 4]")["data"]
        self.assertEqual(sorted((normalize(r) for r in rows), key=lambda r: r["id"]),
                         [expected_row(make_row(i)) for i in range(5)])
        # Release: reads refused again, data kept.
        self.ok("collections/release", {"collectionName": c})
        self.assertEqual(self.query(c, "id in [1]")["code"], 101)
        self.ok("collections/load", {"collectionName": c})
        self.assertEqual(self.ids_of(self.query(c, "id in [1, 2]")), [1, 2])

    def test_has_list_rename_drop(self):
        self.ok("collections/create", {"collectionName": "ren_a", "dimension": 2})
        self.ok("entities/insert", {"collectionName": "ren_a",
                                    "data": [{"id": i, "vector": [i, 1]} for i in range(3)]})
        self.assertTrue(self.ok("collections/has", {"collectionName": "ren_a"})["data"]["has"])
        self.assertFalse(self.ok("collections/has", {"collectionName": "ren_b"})["data"]["has"])
        self.assertIn("ren_a", self.ok("collections/list", {})["data"])
        self.ok("collections/create", {"collectionName": "ren_c", "dimension": 2})
        self.err("collections/rename", {"collectionName": "ren_a",
                                        "newCollectionName": "ren_c"})  # taken
        self.err("collections/rename", {"collectionName": "ren_missing",
                                        "newCollectionName": "ren_x"}, 100)
        self.err("collections/rename", {"collectionName": "ren_a"}, 1802)
        self.ok("collections/rename", {"collectionName": "ren_a", "newCollectionName": "ren_b"})
        names = self.ok("collections/list", {})["data"]
        self.assertIn("ren_b", names)
        self.assertNotIn("ren_a", names)
        self.assertFalse(self.ok("collections/has", {"collectionName": "ren_a"})["data"]["has"])
        # The data moved with the name.
        self.assertEqual(self.ids_of(self.query("ren_b", "id in [0, 1, 2]")), [0, 1, 2])
        self.assertEqual(self.count("ren_b"), 3)
        # Drop; dropping again (or something that never existed) succeeds.
        self.assertEqual(self.ok("collections/drop", {"collectionName": "ren_b"})["data"], {})
        self.ok("collections/drop", {"collectionName": "ren_b"})
        self.ok("collections/drop", {"collectionName": "never_existed"})
        self.assertFalse(self.ok("collections/has", {"collectionName": "ren_b"})["data"]["has"])
        self.err("entities/query", {"collectionName": "ren_b", "filter": "id in [1]"}, 100)
        # A new collection of the same name starts empty.
        self.ok("collections/create", {"collectionName": "ren_b", "dimension": 2})
        self.assertEqual(self.count("ren_b"), 0)
        self.assertEqual(self.ids_of(self.query("ren_b", "id in [0, 1, 2]")), [])

    # ---- partitions ----

    def test_partitions(self):
        c = "parts"
        self.ok("collections/create", {"collectionName": c, "dimension": 2})
        self.assertEqual(self.ok("partitions/list", {"collectionName": c})["data"], ["_default"])
        self.ok("partitions/create", {"collectionName": c, "partitionName": "p1"})
        self.ok("partitions/create", {"collectionName": c, "partitionName": "p2"})
        self.assertEqual(sorted(self.ok("partitions/list", {"collectionName": c})["data"]),
                         ["_default", "p1", "p2"])
        has = lambda p: self.ok("partitions/has", {"collectionName": c,  # noqa: E731
                                                   "partitionName": p})["data"]["has"]
        self.assertTrue(has("p1"))
        self.assertFalse(has("p9"))
        self.err("partitions/create", {"collectionName": c}, 1802)
        self.err("partitions/list", {"collectionName": "no_coll"}, 100)

        # Rows go to the named partition; reads and counts can be scoped.
        self.ok("entities/insert", {"collectionName": c,
                                    "data": [{"id": i, "vector": [i, 0]} for i in range(0, 3)]})
        self.ok("entities/insert", {"collectionName": c, "partitionName": "p1",
                                    "data": [{"id": i, "vector": [i, 0]} for i in range(10, 14)]})
        self.ok("entities/insert", {"collectionName": c, "partitionName": "p2",
                                    "data": [{"id": i, "vector": [i, 0]} for i in range(20, 25)]})
        self.err("entities/insert", {"collectionName": c, "partitionName": "p9",
                                     "data": [{"id": 99, "vector": [0, 0]}]}, 200)
        pstats = lambda p: self.ok("partitions/get_stats", {  # noqa: E731
            "collectionName": c, "partitionName": p})["data"]["rowCount"]
        self.assertEqual(pstats("_default"), 3)
        self.assertEqual(pstats("p1"), 4)
        self.assertEqual(pstats("p2"), 5)
        self.assertEqual(self.count(c), 12)
        self.err("partitions/get_stats", {"collectionName": c, "partitionName": "p9"}, 200)
        all_ids = "id in [%s]" % ",".join(map(str, list(range(3)) + list(range(10, 14)) +
                                          list(range(20, 25))))
        self.assertEqual(len(self.ids_of(self.query(c, all_ids))), 12)
        self.assertEqual(self.ids_of(self.query(c, all_ids, partitionNames=["p1"])),
                         [10, 11, 12, 13])
        self.assertEqual(self.ids_of(self.query(c, all_ids, partitionNames=["p1", "_default"])),
                         [0, 1, 2, 10, 11, 12, 13])
        r = self.ok("entities/get", {"collectionName": c, "id": [1, 11, 21],
                                     "partitionNames": ["p2"]})
        self.assertEqual(self.ids_of(r), [21])
        self.assertEqual(self.query(c, all_ids, partitionNames=["p9"])["code"], 200)
        cnt = self.ok("entities/query", {"collectionName": c, "filter": "",
                                         "outputFields": ["count(*)"], "partitionNames": ["p2"],
                                         "consistencyLevel": "Strong"})
        self.assertEqual(cnt["data"], [{"count(*)": 5}])

        # Delete scoped to a partition leaves other partitions alone.
        self.ok("entities/delete", {"collectionName": c, "partitionName": "p2",
                                    "filter": "id in [1, 21]"})
        self.assertEqual(pstats("p2"), 4)
        self.assertEqual(pstats("_default"), 3)

        # A released partition is left out of reads, named it is refused (201);
        # counts still include it, and loading it again brings its rows back.
        self.ok("partitions/release", {"collectionName": c, "partitionNames": ["p2"]})
        st = self.ok("collections/get_load_state", {"collectionName": c,
                                                    "partitionNames": ["p2"]})["data"]
        self.assertEqual(st["loadState"], "LoadStateNotLoad")
        self.assertEqual(self.ids_of(self.query(c, all_ids)), [0, 1, 2, 10, 11, 12, 13])
        self.assertEqual(self.query(c, all_ids, partitionNames=["p2"])["code"], 201)
        self.assertEqual(self.count(c), 11)
        self.assertEqual(pstats("p2"), 4)
        self.ok("partitions/load", {"collectionName": c, "partitionNames": ["p2"]})
        self.assertEqual(len(self.ids_of(self.query(c, all_ids))), 11)

        # _default cannot be dropped; a loaded partition must be released first.
        self.err("partitions/drop", {"collectionName": c, "partitionName": "_default"})
        self.err("partitions/drop", {"collectionName": c, "partitionName": "p1"})
        self.assertTrue(has("p1"))
        self.ok("partitions/release", {"collectionName": c, "partitionNames": ["p1"]})
        self.ok("partitions/drop", {"collectionName": c, "partitionName": "p1"})
        self.assertFalse(has("p1"))
        self.assertEqual(sorted(self.ok("partitions/list", {"collectionName": c})["data"]),
                         ["_default", "p2"])
        # The dropped partition's rows are gone; the others stay.
        self.assertEqual(self.count(c), 7)
        self.assertEqual(self.ids_of(self.query(c, all_ids)), [0, 1, 2, 20, 22, 23, 24])
        # A new partition of the same name starts empty.
        self.ok("partitions/create", {"collectionName": c, "partitionName": "p1"})
        self.assertEqual(pstats("p1"), 0)

    # ---- indexes ----

    def test_indexes(self):
        c = "idx"
        self.ok("collections/create", full_schema_body(c, index=False))
        self.assertEqual(self.ok("indexes/list", {"collectionName": c})["data"], [])
        self.err("indexes/describe", {"collectionName": c, "indexName": "nope"}, 700)
        self.err("indexes/create", {"collectionName": c, "indexParams": [
            {"fieldName": "nope", "indexName": "x", "metricType": "L2"}]}, 1802)
        self.err("indexes/create", {"collectionName": c}, 1802)
        self.ok("indexes/create", {"collectionName": c, "indexParams": [
            {"fieldName": "vec", "indexName": "vec_idx", "metricType": "L2",
             "indexType": "IVF_FLAT", "params": {"nlist": 16}}]})
        # The same index again is fine; another one on the same field is not.
        self.ok("indexes/create", {"collectionName": c, "indexParams": [
            {"fieldName": "vec", "indexName": "vec_idx", "metricType": "L2",
             "indexType": "IVF_FLAT", "params": {"nlist": 16}}]})
        self.err("indexes/create", {"collectionName": c, "indexParams": [
            {"fieldName": "vec", "indexName": "vec_idx2", "metricType": "IP",
             "indexType": "FLAT"}]})
        self.ok("indexes/create", {"collectionName": c, "indexParams": [
            {"fieldName": "title", "indexName": "title_idx", "indexType": "INVERTED"}]})
        self.assertEqual(sorted(self.ok("indexes/list", {"collectionName": c})["data"]),
                         ["title_idx", "vec_idx"])
        self.ok("entities/insert", {"collectionName": c, "data": [make_row(i) for i in range(3)]})

        def described():
            d = self.ok("indexes/describe", {"collectionName": c, "indexName": "vec_idx"})["data"]
            return d if d and d[0]["totalRows"] == 3 else None
        # The counts are the query nodes' (eventual, as in Milvus): they
        # follow the write once the query node has tailed it.
        d = harness.wait_until(described, timeout_s=5, what="totalRows 3")
        self.assertEqual(len(d), 1)
        d = d[0]
        self.assertEqual(d["indexName"], "vec_idx")
        self.assertEqual(d["fieldName"], "vec")
        self.assertEqual(d["indexType"], "IVF_FLAT")
        self.assertEqual(d["metricType"], "L2")
        self.assertIn(d["indexState"], ("Finished", "InProgress"))
        self.assertEqual(d["totalRows"], 3)
        self.assertIn({"key": "nlist", "value": "16"}, d["indexParams"])
        desc = self.ok("collections/describe", {"collectionName": c})["data"]
        self.assertEqual(desc["indexes"], [{"indexName": "vec_idx", "fieldName": "vec",
                                            "metricType": "L2"}])
        # Drop: not while loaded, then fine once released.
        self.ok("collections/load", {"collectionName": c})
        self.err("indexes/drop", {"collectionName": c, "indexName": "vec_idx"})
        self.ok("collections/release", {"collectionName": c})
        self.ok("indexes/drop", {"collectionName": c, "indexName": "vec_idx"})
        self.err("indexes/drop", {"collectionName": c, "indexName": "vec_idx"}, 700)
        self.assertEqual(self.ok("indexes/list", {"collectionName": c})["data"], ["title_idx"])
        self.err("indexes/describe", {"collectionName": c, "indexName": "vec_idx"}, 700)
        self.err("collections/load", {"collectionName": c})  # vec has no index now
        self.err("indexes/list", {"collectionName": "no_coll"}, 100)

    def test_load_state(self):
        c = "ls"
        self.ok("collections/create", full_schema_body(c))
        st = self.ok("collections/get_load_state", {"collectionName": c})
        self.assertEqual(st["data"]["loadState"], "LoadStateLoaded")
        self.assertEqual(st["data"]["loadProgress"], 100)
        self.assertEqual(st.get("message"), "")
        st = self.ok("collections/get_load_state", {"collectionName": c,
                                                    "partitionNames": ["_default"]})
        self.assertEqual(st["data"]["loadState"], "LoadStateLoaded")
        self.ok("collections/release", {"collectionName": c})
        st = self.ok("collections/get_load_state", {"collectionName": c})
        self.assertEqual(st["data"], {"loadState": "LoadStateNotLoad"})
        self.assertEqual(self.ok("collections/describe", {"collectionName": c})["data"]["load"],
                         "LoadStateNotLoad")
        self.err("collections/get_load_state", {"collectionName": c,
                                                "partitionNames": ["nope"]}, 200)
        self.ok("collections/load", {"collectionName": c})
        self.assertEqual(self.ok("collections/describe", {"collectionName": c})["data"]["load"],
                         "LoadStateLoaded")
        r = self.err("collections/get_load_state", {"collectionName": "nope"}, 100)
        self.assertIn("collection not found", r["message"])

    # ---- entity semantics ----

    def test_int64_as_string_header(self):
        c = "i64"
        self.ok("collections/create", full_schema_body(c))
        big = (1 << 62) + 12345
        row = make_row(big)
        row["tags"] = [big, -big]
        hdr = {"Accept-Type-Allow-Int64": "false"}
        r = self.ok("entities/insert", {"collectionName": c, "data": [row]}, hdr)
        self.assertEqual(r["data"]["insertIds"], [str(big)])
        r = self.ok("entities/get", {"collectionName": c, "id": [str(big)],
                                     "consistencyLevel": "Strong"}, hdr)
        self.assertEqual(len(r["data"]), 1)
        got = r["data"][0]
        self.assertEqual(got["id"], str(big))
        self.assertEqual(got["n"], row["n"])  # Int32 stays a number
        # Without the header (or with true) Int64 values are exact JSON numbers.
        for h in ({}, {"Accept-Type-Allow-Int64": "true"}):
            r = self.ok("entities/get", {"collectionName": c, "id": [big],
                                         "consistencyLevel": "Strong"}, h)
            self.assertEqual(r["data"][0]["id"], big)
            self.assertEqual(normalize(r["data"][0]), expected_row(row))
        r = self.ok("entities/upsert", {"collectionName": c, "data": [row]}, hdr)
        self.assertEqual(r["data"]["upsertIds"], [str(big)])

    def test_autoid_insert(self):
        c = "auto"
        self.ok("collections/create", full_schema_body(c, auto_id=True))
        d = self.ok("collections/describe", {"collectionName": c})["data"]
        self.assertTrue(d["autoId"])
        rows = [make_row(i) for i in range(50)]
        for r in rows:
            del r["id"]
        r = self.ok("entities/insert", {"collectionName": c, "data": rows})
        ids = r["data"]["insertIds"]
        self.assertEqual(r["data"]["insertCount"], 50)
        self.assertEqual(len(ids), 50)
        self.assertEqual(len(set(ids)), 50)
        self.assertTrue(all(isinstance(i, int) and i > 0 for i in ids), ids)
        r2 = self.ok("entities/insert", {"collectionName": c, "data": rows[:5]})
        self.assertFalse(set(r2["data"]["insertIds"]) & set(ids), "generated ids reused")
        got = self.ok("entities/get", {"collectionName": c, "id": ids,
                                       "consistencyLevel": "Strong"})["data"]
        self.assertEqual(len(got), 50)
        by_id = {g["id"]: normalize(g) for g in got}
        for k, i in enumerate(ids):
            want = expected_row(dict(rows[k], id=i))
            self.assertEqual(by_id[i], want)
        self.assertEqual(self.count(c), 55)
        r = self.ok("entities/insert", {"collectionName": c, "data": rows[:2]},
                    {"Accept-Type-Allow-Int64": "false"})
        self.assertTrue(all(isinstance(i, str) and int(i) > 0 for i in r["data"]["insertIds"]))

    def test_autoid_upsert(self):
        """Upsert on an autoID collection: each row names the key it replaces;
        that key is deleted and the row is stored under a new generated key."""
        c = "auto_up"
        self.ok("collections/create", {"collectionName": c, "dimension": 2, "autoID": True})
        ids = self.ok("entities/insert", {"collectionName": c, "data": [
            {"vector": [1, 1], "v": 1}, {"vector": [2, 2], "v": 2}]})["data"]["insertIds"]
        r = self.ok("entities/upsert", {"collectionName": c,
                                        "data": [{"id": ids[0], "vector": [3, 3], "v": 3}]})
        self.assertEqual(r["data"]["upsertCount"], 1)
        new_id = r["data"]["upsertIds"][0]
        self.assertNotIn(new_id, ids)
        got = self.ok("entities/get", {"collectionName": c, "id": ids + [new_id],
                                       "consistencyLevel": "Strong"})["data"]
        self.assertEqual(sorted(got, key=lambda g: g["id"]),
                         sorted([{"id": ids[1], "vector": [2, 2], "v": 2},
                                 {"id": new_id, "vector": [3, 3], "v": 3}],
                                key=lambda g: g["id"]))
        self.assertEqual(self.count(c), 2)
        # The key to replace is required.
        self.err("entities/upsert", {"collectionName": c, "data": [{"vector": [3, 3]}]}, 1804)
        self.assertEqual(self.count(c), 2)

    def test_concurrent_clients(self):
        """Eight clients write and read at once: each reads its own writes at
        Strong, and concurrent upserts of shared keys leave one row per key."""
        c = "conc"
        self.ok("collections/create", full_schema_body(c))
        port = self.srv.port
        failures = []

        def client(w):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

            def post(path, body):
                conn.request("POST", "/v2/vectordb/" + path, json.dumps(body))
                return json.loads(conn.getresponse().read())
            try:
                for k in range(15):
                    ids = [w * 10000 + k * 10 + j for j in range(10)]
                    r = post("entities/insert", {"collectionName": c,
                                                 "data": [make_row(i) for i in ids]})
                    if r.get("code") != 0:
                        failures.append(r)
                        return
                    r = post("entities/get", {"collectionName": c, "id": ids,
                                              "consistencyLevel": "Strong"})
                    if sorted(x["id"] for x in r.get("data", [])) != ids:
                        failures.append(("read-your-writes", w, k, r.get("code")))
                        return
                    shared = [make_row(k % 5), make_row(5 + w % 3)]
                    r = post("entities/upsert", {"collectionName": c, "data": shared})
                    if r.get("code") != 0:
                        failures.append(r)
                        return
            except Exception as e:  # reported below, with the others
                failures.append(repr(e))
            finally:
                conn.close()

        threads = [threading.Thread(target=client, args=(w + 1,)) for w in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
            self.assertFalse(t.is_alive())
        self.assertEqual(failures, [])
        rows = self.query(c, "id in [0,1,2,3,4,5,6,7]", limit=100)["data"]
        self.assertEqual(sorted(r["id"] for r in rows), list(range(8)))
        for r in rows:
            self.assertEqual(normalize(r), expected_row(make_row(r["id"])))
        self.assertEqual(self.count(c), 8 * 15 * 10 + 8)

    def test_upsert_override(self):
        c = "ups"
        self.ok("collections/create", full_schema_body(c))
        first = make_row(1)
        first.update({"n": 9, "score": 2.5, "title": "first", "size": 3})
        r = self.ok("entities/upsert", {"collectionName": c, "data": [first]})
        self.assertEqual(r["data"], {"upsertCount": 1, "upsertIds": [1]})
        self.assertEqual(normalize(self.query(c, "id == 1")["data"][0]), expected_row(first))
        # Same key again, with n and score omitted and other dynamic keys.
        second = {"id": 1, "vec": [0.25] * DIM, "title": "second", "meta": {"v": 2},
                  "tags": [], "color": "blue"}
        r = self.ok("entities/upsert", {"collectionName": c, "data": [second]})
        self.assertEqual(r["data"], {"upsertCount": 1, "upsertIds": [1]})
        rows = self.query(c, "id in [1]")["data"]
        self.assertEqual(len(rows), 1, "one live row per key after an upsert")
        want = {"id": 1, "vec": [f32(0.25)] * DIM, "title": "second", "n": 5, "score": None,
                "meta": {"v": 2}, "tags": [], "color": "blue"}
        self.assertEqual(normalize(rows[0]), want)  # size is gone, n back to its default
        self.assertEqual(self.count(c), 1)
        # Upsert of a new key inserts it; of a deleted key brings it back.
        self.ok("entities/upsert", {"collectionName": c, "data": [make_row(2), make_row(3)]})
        self.ok("entities/delete", {"collectionName": c, "filter": "id in [2]"})
        self.ok("entities/upsert", {"collectionName": c, "data": [make_row(2)]})
        self.assertEqual(self.ids_of(self.query(c, "id in [1, 2, 3]")), [1, 2, 3])
        self.assertEqual(self.count(c), 3)
        # Duplicate keys inside one request are refused as a whole.
        r = self.err("entities/upsert", {"collectionName": c,
                                         "data": [make_row(4), make_row(5), make_row(4)]}, 1100)
        self.assertIn("duplicate primary keys", r["message"])
        self.assertEqual(self.ids_of(self.query(c, "id in [4, 5]")), [])
        # Insert does not check uniqueness, upsert then leaves one row.
        self.ok("entities/insert", {"collectionName": c, "data": [make_row(6)]})
        self.ok("entities/upsert", {"collectionName": c, "data": [make_row(6)]})
        self.assertEqual(len(self.query(c, "id == 6")["data"]), 1)
        self.assertEqual(self.count(c), 4)
        # Upsert moves a key between partitions (one live row, in the new one).
        self.ok("partitions/create", {"collectionName": c, "partitionName": "px"})
        self.ok("entities/upsert", {"collectionName": c, "partitionName": "px",
                                    "data": [make_row(3)]})
        self.assertEqual(len(self.query(c, "id == 3")["data"]), 1)
        self.assertEqual(self.ids_of(self.query(c, "id == 3", partitionNames=["px"])), [3])

    def test_consistency_levels(self):
        c = "cl"
        self.ok("collections/create", full_schema_body(c))
        self.ok("entities/insert", {"collectionName": c, "data": [make_row(1)]})
        for level in ("Strong", "Session", "Bounded", "Eventually", "Customized"):
            r = self.srv.post("entities/query", {"collectionName": c, "filter": "id in [1]",
                                                 "consistencyLevel": level})
            self.assertEqual(r["code"], 0, (level, r))
            r = self.srv.post("entities/get", {"collectionName": c, "id": [1],
                                               "consistencyLevel": level})
            self.assertEqual(r["code"], 0, (level, r))
        # Strong and Session (served as Strong over REST) read their own writes.
        for k, level in enumerate(("Strong", "Session")):
            i = 100 + k
            self.ok("entities/insert", {"collectionName": c, "data": [make_row(i)]})
            r = self.ok("entities/get", {"collectionName": c, "id": [i],
                                         "consistencyLevel": level})
            self.assertEqual(self.ids_of(r), [i], level)
        # Eventually and Bounded converge.
        self.ok("entities/insert", {"collectionName": c, "data": [make_row(200)]})
        for level in ("Eventually", "Bounded"):
            harness.wait_until(lambda: self.ok("entities/get", {
                "collectionName": c, "id": [200], "consistencyLevel": level})["data"],
                timeout_s=10, what="%s read of a write" % level)
        for bad in ("strong", "STRONG", "Immediate", "", 3):
            body = {"collectionName": c, "filter": "id in [1]", "consistencyLevel": bad}
            r = self.srv.post("entities/query", body)
            if bad == "":
                self.assertEqual(r["code"], 0, r)  # empty means the collection's level
            else:
                self.assertIn(r["code"], (1100, 1801) if bad == 3 else (1100,), r)
        r = self.err("entities/get", {"collectionName": c, "id": [1],
                                      "consistencyLevel": "Weak"}, 1100)
        self.assertIn("consistencyLevel can only be", r["message"])
        # Collection-level default from create params.
        self.ok("collections/create", full_schema_body("cl_strong",
                                                       extra_params={"consistencyLevel": "Strong"}))
        self.assertEqual(self.ok("collections/describe", {"collectionName": "cl_strong"})
                         ["data"]["consistencyLevel"], "Strong")
        self.ok("entities/insert", {"collectionName": "cl_strong", "data": [make_row(1)]})
        self.assertEqual(self.ids_of(self.ok("entities/get", {"collectionName": "cl_strong",
                                                              "id": [1]})), [1])

    def test_query_window_and_count(self):
        c = "win"
        self.ok("collections/create", full_schema_body(c))
        self.ok("entities/insert", {"collectionName": c,
                                    "data": [make_row(i) for i in range(150)]})
        r = self.ok("entities/query", {"collectionName": c, "filter": "",
                                       "consistencyLevel": "Strong", "outputFields": ["id"]})
        self.assertEqual(len(r["data"]), 100)  # the REST default limit
        self.assertEqual(set(r["data"][0]), {"id"})
        r = self.ok("entities/query", {"collectionName": c, "filter": "", "limit": 30,
                                       "offset": 140, "consistencyLevel": "Strong"})
        self.assertEqual(len(r["data"]), 10)
        ids = ",".join(map(str, range(150)))
        r = self.ok("entities/query", {"collectionName": c, "filter": "id in [%s]" % ids,
                                       "limit": 150, "consistencyLevel": "Strong",
                                       "outputFields": ["title", "color"]})
        self.assertEqual(len(r["data"]), 150)
        for row in r["data"]:
            self.assertEqual(set(row), {"id", "title", "color"})
        r = self.ok("entities/query", {"collectionName": c, "filter": "",
                                       "outputFields": ["count(*)"],
                                       "consistencyLevel": "Strong"})
        self.assertEqual(r["data"], [{"count(*)": 150}])
        r = self.srv.post("entities/query", {"collectionName": c, "filter": "", "limit": 16000,
                                             "offset": 1000})
        self.assertEqual(r["code"], 65535, r)
        # A key listed twice is still one row.
        r = self.ok("entities/get", {"collectionName": c, "id": [3, 3, 4, 3],
                                     "consistencyLevel": "Strong"})
        self.assertEqual(self.ids_of(r), [3, 4])
        self.assertEqual(self.ids_of(self.query(c, "id in [5, 5, 999]")), [5])
        self.assertEqual(self.ids_of(self.query(c, "id == 6")), [6])
        self.assertEqual(self.ids_of(self.query(c, "(6 == id)")), [6])
        # Everything deleted: reads are empty, not errors.
        self.ok("entities/delete", {"collectionName": c,
                                    "filter": "id in [%s]" % ",".join(map(str, range(150)))})
        r = self.ok("entities/query", {"collectionName": c, "filter": "",
                                       "consistencyLevel": "Strong"})
        self.assertEqual(r["data"], [])
        self.assertEqual(self.count(c), 0)


if __name__ == "__main__":
    harness.run_tests()
