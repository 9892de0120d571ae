"""Durability across restarts: every acknowledged write survives kill -9.

One server, one collection with the full schema. Rows are written in
batches; each reply is checked, and only what the server acknowledged is
expected back. The server is then killed with SIGKILL (nothing gets a chance
to flush), restarted on the same data directory, and every row is read back
with `get` and `query` and compared value by value; deleted keys must stay
deleted and get_stats must count exactly the live rows.

Usage: test_restart.py /path/to/tidemark [unittest args]
"""

import http.client
import json
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import expected_row, f32, full_schema_body, make_row, normalize  # noqa: E402

COLL = "durable"
BATCH = 500
READ_BATCH = 500


class RestartTest(unittest.TestCase):
    # With one WAL shard a request is one log entry, so all or nothing; with
    # several, a request is split by key and each part is atomic on its own.
    atomic_batches = True
    server_args = []

    def setUp(self):
        self.srv = harness.Server(self.server_args)
        self.addCleanup(self.srv.close)
        self.expected = {}  # id -> expected row (acknowledged and live)
        self.deleted = set()  # ids acknowledged as deleted and not re-written

    # ---- writes, each checked against its acknowledgement ----

    def create(self):
        self.srv.ok("collections/create", full_schema_body(COLL))
        st = self.srv.ok("collections/get_load_state", {"collectionName": COLL})
        self.assertEqual(st["data"]["loadState"], "LoadStateLoaded")

    def insert(self, ids):
        ids = list(ids)
        for k in range(0, len(ids), BATCH):
            chunk = ids[k:k + BATCH]
            rows = [make_row(i) for i in chunk]
            r = self.srv.ok("entities/insert", {"collectionName": COLL, "data": rows})
            self.assertEqual(r["data"]["insertCount"], len(chunk))
            self.assertEqual(r["data"]["insertIds"], chunk)
            for row in rows:
                self.expected[row["id"]] = expected_row(row)
                self.deleted.discard(row["id"])

    def upsert_changed(self, ids):
        """Override-mode upsert that changes every field of existing rows."""
        rows = []
        for i in ids:
            row = make_row(i + 1000003)
            row["id"] = i
            row["title"] = "upserted-%d" % i
            row.pop("n", None)  # omitted: the default applies again
            rows.append(row)
        r = self.srv.ok("entities/upsert", {"collectionName": COLL, "data": rows})
        self.assertEqual(r["data"]["upsertCount"], len(rows))
        self.assertEqual(r["data"]["upsertIds"], list(ids))
        for row in rows:
            self.expected[row["id"]] = expected_row(row)
            self.deleted.discard(row["id"])

    def delete(self, ids):
        ids = list(ids)
        r = self.srv.ok("entities/delete", {"collectionName": COLL,
                                            "filter": "id in [%s]" % ",".join(map(str, ids))})
        self.assertEqual(r["data"]["deleteCount"], len(ids))
        for i in ids:
            self.expected.pop(i, None)
            self.deleted.add(i)

    # ---- verification ----

    def all_ids(self):
        return sorted(set(self.expected) | self.deleted)

    def check_rows(self, rows, ids, how):
        got = {}
        for row in rows:
            self.assertFalse(row["id"] in got, "%s returned id %s twice" % (how, row["id"]))
            got[row["id"]] = normalize(row)
        for i in ids:
            if i in self.deleted:
                self.assertFalse(i in got, "%s: deleted id %d is back" % (how, i))
            else:
                self.assertTrue(i in got, "%s: acknowledged id %d is missing" % (how, i))
                self.assertEqual(got[i], self.expected[i], "%s: id %d differs" % (how, i))
        extra = sorted(set(got) - set(ids))[:10]
        self.assertEqual(extra, [], "%s returned ids it was not asked for" % how)

    def verify(self):
        ids = self.all_ids()
        for k in range(0, len(ids), READ_BATCH):
            chunk = ids[k:k + READ_BATCH]
            r = self.srv.ok("entities/get", {"collectionName": COLL, "id": chunk,
                                             "outputFields": ["*"],
                                             "consistencyLevel": "Strong"})
            self.check_rows(r["data"], chunk, "get")
            r = self.srv.ok("entities/query", {
                "collectionName": COLL, "filter": "id in [%s]" % ",".join(map(str, chunk)),
                "outputFields": ["*"], "limit": len(chunk), "consistencyLevel": "Strong"})
            self.check_rows(r["data"], chunk, "query")
        st = self.srv.ok("collections/get_stats", {"collectionName": COLL})
        self.assertEqual(st["data"]["rowCount"], len(self.expected))
        cnt = self.srv.ok("entities/query", {"collectionName": COLL, "filter": "",
                                             "outputFields": ["count(*)"],
                                             "consistencyLevel": "Strong"})
        self.assertEqual(cnt["data"], [{"count(*)": len(self.expected)}])

    def verify_schema(self):
        d = self.srv.ok("collections/describe", {"collectionName": COLL})["data"]
        self.assertEqual([f["name"] for f in d["fields"]],
                         ["id", "vec", "title", "n", "score", "meta", "tags"])
        self.assertEqual(d["load"], "LoadStateLoaded")
        self.assertTrue(d["enableDynamicField"])

    # ---- the tests ----

    def test_kill9_twice_then_sigterm(self):
        self.create()
        self.insert(range(10000))
        self.delete(range(0, 10000, 13))
        self.delete([10, 20, 30, 9999, 123456])  # 123456 never existed
        self.verify()

        # Cycle 1: kill -9 right after the last acknowledged write.
        self.srv.kill9()
        self.srv.restart()
        self.verify_schema()
        self.verify()

        # Cycle 2: more writes of every kind on the restarted server.
        self.insert(range(10000, 12000))
        self.upsert_changed(range(1, 400, 3))
        self.insert([13, 26])  # deleted keys written again
        self.delete(range(10000, 12000, 17))
        self.srv.kill9()
        self.srv.restart()
        self.verify_schema()
        self.verify()

        # Cycle 3: a clean SIGTERM stop, then one more write after restart.
        self.assertEqual(self.srv.stop(), 0, "SIGTERM exit status")
        self.srv.restart()
        self.verify()
        self.insert(range(12000, 12010))
        self.verify()

    def test_kill9_right_after_create_and_single_write(self):
        """A collection created and written just before the kill: the catalog
        entry and the one row are both acknowledged and must survive."""
        self.create()
        self.insert([42])
        self.srv.kill9()
        self.srv.restart()
        self.verify_schema()
        self.verify()
        # Writes and deletes keep working after the restart.
        self.insert([43])
        self.delete([42])
        self.srv.kill9()
        self.srv.restart()
        self.verify()

    def test_drops_survive_restart(self):
        """Dropped partitions and collections stay dropped after the WAL that
        still holds their rows is replayed."""
        self.create()
        s = self.srv
        s.ok("partitions/create", {"collectionName": COLL, "partitionName": "p1"})
        s.ok("entities/insert", {"collectionName": COLL, "partitionName": "p1",
                                 "data": [make_row(i) for i in range(100, 110)]})
        self.insert(range(10))
        s.ok("partitions/release", {"collectionName": COLL, "partitionNames": ["p1"]})
        s.ok("partitions/drop", {"collectionName": COLL, "partitionName": "p1"})
        self.deleted.update(range(100, 110))  # gone with their partition
        s.ok("collections/create", {"collectionName": "gone", "dimension": 2})
        s.ok("entities/insert", {"collectionName": "gone",
                                 "data": [{"id": i, "vector": [i, 1]} for i in range(5)]})
        s.ok("collections/drop", {"collectionName": "gone"})
        self.verify()
        self.srv.kill9()
        self.srv.restart()
        self.verify()
        parts = s.ok("partitions/list", {"collectionName": COLL})["data"]
        self.assertEqual(parts, ["_default"])
        self.assertFalse(s.ok("collections/has", {"collectionName": "gone"})["data"]["has"])
        # Same names again start empty.
        s.ok("partitions/create", {"collectionName": COLL, "partitionName": "p1"})
        st = s.ok("partitions/get_stats", {"collectionName": COLL, "partitionName": "p1"})
        self.assertEqual(st["data"]["rowCount"], 0)
        s.ok("collections/create", {"collectionName": "gone", "dimension": 2})
        r = s.ok("entities/query", {"collectionName": "gone", "filter": "id in [0,1,2,3,4]",
                                    "consistencyLevel": "Strong"})
        self.assertEqual(r["data"], [])
        self.verify()

    def test_ddl_survives_kill9(self):
        """Every acknowledged DDL is in the catalog after kill -9: describe,
        lists and load states read back exactly as before."""
        s = self.srv
        s.ok("databases/create", {"dbName": "d1", "properties": {"database.max.collections": 9}})
        s.ok("collections/create", dict(full_schema_body("c1", index=False), dbName="d1",
                                        params={"consistencyLevel": "Eventually",
                                                "ttlSeconds": 60}))
        s.ok("indexes/create", {"dbName": "d1", "collectionName": "c1", "indexParams": [
            {"fieldName": "vec", "indexName": "v", "metricType": "IP", "indexType": "HNSW",
             "params": {"M": 8}}, {"fieldName": "title", "indexName": "t"}]})
        s.ok("collections/load", {"dbName": "d1", "collectionName": "c1"})
        s.ok("partitions/create", {"dbName": "d1", "collectionName": "c1", "partitionName": "p1"})
        s.ok("partitions/create", {"dbName": "d1", "collectionName": "c1", "partitionName": "p2"})
        s.ok("partitions/release", {"dbName": "d1", "collectionName": "c1",
                                    "partitionNames": ["p2"]})
        s.ok("collections/create", {"collectionName": "c2", "dimension": 3})
        s.ok("collections/rename", {"collectionName": "c2", "newCollectionName": "c3"})
        s.ok("collections/create", {"collectionName": "c4", "dimension": 3})
        s.ok("collections/release", {"collectionName": "c4"})
        s.ok("collections/create", {"collectionName": "c5", "dimension": 3})
        s.ok("collections/drop", {"collectionName": "c5"})

        def state():
            out = {"dbs": sorted(s.ok("databases/list", {})["data"]),
                   "d1": s.ok("databases/describe", {"dbName": "d1"})["data"]}
            for db in ("default", "d1"):
                names = sorted(s.ok("collections/list", {"dbName": db})["data"])
                out[db + ".colls"] = names
                for c in names:
                    key = "%s.%s." % (db, c)
                    body = {"dbName": db, "collectionName": c}
                    out[key + "describe"] = s.ok("collections/describe", body)["data"]
                    out[key + "parts"] = sorted(s.ok("partitions/list", body)["data"])
                    out[key + "indexes"] = sorted(s.ok("indexes/list", body)["data"])
                    out[key + "load"] = s.ok("collections/get_load_state", body)["data"]
                    for p in out[key + "parts"]:
                        out[key + p] = s.ok("collections/get_load_state", dict(
                            body, partitionNames=[p]))["data"]
            return out

        before = state()
        self.assertEqual(before["default.colls"], ["c3", "c4"])
        self.assertEqual(before["d1.c1.parts"], ["_default", "p1", "p2"])
        self.assertEqual(before["d1.c1.p2"]["loadState"], "LoadStateNotLoad")
        self.assertEqual(before["d1.c1.p1"]["loadState"], "LoadStateLoaded")
        self.assertEqual(before["default.c4.load"]["loadState"], "LoadStateNotLoad")
        self.assertEqual(before["d1.c1.describe"]["consistencyLevel"], "Eventually")
        self.srv.kill9()
        self.srv.restart()
        self.assertEqual(state(), before)

    def test_autoid_unique_across_restarts(self):
        """Generated keys come from the TSO, which must never go backwards,
        even when the server is killed right after handing some out."""
        s = self.srv
        s.ok("collections/create", {"collectionName": "ai", "dimension": 2, "autoID": True})
        seen = {}
        for cycle in range(3):
            for k in range(3):
                r = s.ok("entities/insert", {"collectionName": "ai", "data": [
                    {"vector": [cycle, j], "c": cycle, "j": k * 100 + j} for j in range(100)]})
                for j, i in enumerate(r["data"]["insertIds"]):
                    self.assertNotIn(i, seen, "generated key %d handed out twice" % i)
                    seen[i] = (cycle, k * 100 + j)
            self.srv.kill9()
            self.srv.restart()
            ids = sorted(seen)
            for k in range(0, len(ids), READ_BATCH):
                chunk = ids[k:k + READ_BATCH]
                got = s.ok("entities/get", {"collectionName": "ai", "id": chunk,
                                            "consistencyLevel": "Strong"})["data"]
                self.assertEqual(len(got), len(chunk))
                for g in got:
                    self.assertEqual((g["c"], g["j"]), seen[g["id"]])
        st = s.ok("collections/get_stats", {"collectionName": "ai"})
        self.assertEqual(st["data"]["rowCount"], len(seen))

    def test_all_types_survive_restart(self):
        """Every field type, with the lenient input forms of §3.2, reads back
        in the output encoding of §3.4 before and after kill -9."""
        s = self.srv
        fields = [
            {"fieldName": "pk", "dataType": "VarChar", "isPrimary": True,
             "elementTypeParams": {"max_length": 16}},
            {"fieldName": "b", "dataType": "Bool"},
            {"fieldName": "i8", "dataType": "Int8"},
            {"fieldName": "i16", "dataType": "Int16"},
            {"fieldName": "f", "dataType": "Float", "nullable": True},
            {"fieldName": "d", "dataType": "Double", "defaultValue": 1.5},
            {"fieldName": "s", "dataType": "VarChar", "elementTypeParams": {"max_length": 8},
             "defaultValue": "dflt"},
            {"fieldName": "af", "dataType": "Array", "elementDataType": "Float",
             "elementTypeParams": {"max_capacity": 4}},
            {"fieldName": "as", "dataType": "Array", "elementDataType": "VarChar",
             "elementTypeParams": {"max_capacity": 4, "max_length": 3}},
            {"fieldName": "ab", "dataType": "Array", "elementDataType": "Bool",
             "elementTypeParams": {"max_capacity": 4}, "nullable": True},
            {"fieldName": "j", "dataType": "JSON", "nullable": True},
            {"fieldName": "fv", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}},
            {"fieldName": "hv", "dataType": "Float16Vector", "elementTypeParams": {"dim": 2}},
            {"fieldName": "bv", "dataType": "BinaryVector", "elementTypeParams": {"dim": 16}},
            {"fieldName": "sv", "dataType": "SparseFloatVector"},
            {"fieldName": "i8v", "dataType": "Int8Vector", "elementTypeParams": {"dim": 2}},
        ]
        idx = [{"fieldName": "fv", "metricType": "L2"}, {"fieldName": "hv", "metricType": "L2"},
               {"fieldName": "bv", "metricType": "HAMMING"},
               {"fieldName": "sv", "metricType": "IP"}, {"fieldName": "i8v", "metricType": "L2"}]
        s.ok("collections/create", {"collectionName": "types", "indexParams": idx,
                                    "schema": {"enableDynamicField": True, "fields": fields}})
        rows = [{"pk": "a", "b": "true", "i8": "-128", "i16": 32767, "f": 0.1, "af": [0.1, 2],
                 "as": ["x", "yz"], "ab": [True, False], "j": "{\"a\":[1,2]}",
                 "fv": [0.1, 0.2], "hv": [0.5, -2], "bv": [1, 255], "sv": {"3": 0.5, "1": 0.25},
                 "i8v": [-1, 127], "dyn": 1, "dd": 1.5, "ds": "s", "dl": [1, {"x": None}]},
                {"pk": "b", "b": "0", "i8": 1, "i16": "2", "s": 123, "af": [], "as": [],
                 "j": None, "fv": [1, 2], "hv": "AAAAAA==", "bv": "AQI=",
                 "sv": {"indices": [5], "values": [1.5]}, "i8v": [0, 0]}]
        want = {
            "a": {"pk": "a", "b": True, "i8": -128, "i16": 32767, "f": f32(0.1), "d": 1.5,
                  "s": "dflt", "af": [f32(0.1), 2.0], "as": ["x", "yz"], "ab": [True, False],
                  "j": {"a": [1, 2]}, "fv": [f32(0.1), f32(0.2)], "hv": "ADgAwA==",
                  "bv": "Af8=", "sv": {"1": 0.25, "3": 0.5}, "i8v": "/38=", "dyn": 1,
                  "dd": 1.5, "ds": "s", "dl": [1, {"x": None}]},
            "b": {"pk": "b", "b": False, "i8": 1, "i16": 2, "f": None, "d": 1.5, "s": "123",
                  "af": [], "as": [], "ab": None, "j": None, "fv": [1.0, 2.0],
                  "hv": "AAAAAA==", "bv": "AQI=", "sv": {"5": 1.5}, "i8v": "AAA="},
        }
        r = s.ok("entities/insert", {"collectionName": "types", "data": rows})
        self.assertEqual(r["data"]["insertIds"], ["a", "b"])

        def check():
            got = s.ok("entities/get", {"collectionName": "types", "id": ["a", "b", "c"],
                                        "consistencyLevel": "Strong"})["data"]
            self.assertEqual(len(got), 2)
            for g in got:
                g = dict(g)
                for k in ("f",):
                    if g[k] is not None:
                        g[k] = f32(g[k])
                for k in ("af", "fv"):
                    g[k] = [f32(x) for x in g[k]]
                if isinstance(g["j"], str):
                    g["j"] = json.loads(g["j"])
                self.assertEqual(g, want[g["pk"]])
        check()
        self.srv.kill9()
        self.srv.restart()
        check()

    def test_kill9_during_concurrent_writes(self):
        """Writers keep inserting while the server is killed: every batch that
        was acknowledged is back in full, and a batch that was in flight is
        either wholly there or wholly absent (one shard: one WAL entry)."""
        self.writes_interrupted_by(self.srv.kill9, shutdown=False)

    def test_sigterm_during_concurrent_writes(self):
        """The same with SIGTERM: the server exits cleanly within the stop
        timeout while requests are in flight; a request it answers with an
        error during shutdown counts as in flight (it may have committed)."""
        def stop():
            self.assertEqual(self.srv.stop(), 0, "SIGTERM exit status")
        self.writes_interrupted_by(stop, shutdown=True)

    def writes_interrupted_by(self, interrupt, shutdown):
        self.create()
        port = self.srv.port
        acked, inflight, errors = [], [], []
        stop = threading.Event()

        def writer(base):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                for k in range(10000):  # bounded; the interrupt ends it far sooner
                    if stop.is_set():
                        return
                    ids = list(range(base + k * 20, base + k * 20 + 20))
                    inflight.append(ids)
                    body = json.dumps({"collectionName": COLL,
                                       "data": [make_row(i) for i in ids]})
                    conn.request("POST", "/v2/vectordb/entities/insert", body)
                    reply = json.loads(conn.getresponse().read())
                    if reply.get("code") == 0 and reply["data"]["insertIds"] == ids:
                        acked.append(ids)
                        continue
                    if not (shutdown and reply.get("code")):
                        errors.append(reply)
                    return
            except (OSError, http.client.HTTPException, ValueError):
                return  # the server went away under us
            finally:
                conn.close()

        threads = [threading.Thread(target=writer, args=(w * 1000000,)) for w in range(4)]
        for t in threads:
            t.start()
        harness.wait_until(lambda: len(acked) >= 40 or errors, timeout_s=30,
                           what="40 acknowledged batches")
        interrupt()
        stop.set()
        for t in threads:
            t.join(30)
            self.assertFalse(t.is_alive(), "writer thread did not finish")
        self.assertEqual(errors, [])
        self.srv.restart()
        acked_ids = [i for ids in acked for i in ids]
        for ids in acked:
            for i in ids:
                self.expected[i] = expected_row(make_row(i))
        self.verify_ids(acked_ids)
        # Batches in flight at the interrupt: all or nothing.
        acked_set = set(acked_ids)
        extra = 0
        for ids in inflight:
            if ids[0] in acked_set:
                continue
            r = self.srv.ok("entities/get", {"collectionName": COLL, "id": ids,
                                             "consistencyLevel": "Strong"})
            if self.atomic_batches:
                self.assertIn(len(r["data"]), (0, len(ids)), "a batch was half written")
            for row in r["data"]:
                self.assertEqual(normalize(row), expected_row(make_row(row["id"])))
            extra += len(r["data"])
        st = self.srv.ok("collections/get_stats", {"collectionName": COLL})
        self.assertEqual(st["data"]["rowCount"], len(acked_set) + extra)

    def verify_ids(self, ids):
        for k in range(0, len(ids), READ_BATCH):
            chunk = ids[k:k + READ_BATCH]
            r = self.srv.ok("entities/get", {"collectionName": COLL, "id": chunk,
                                             "consistencyLevel": "Strong"})
            self.check_rows(r["data"], chunk, "get")


class RestartShardedTest(RestartTest):
    """The same with three WAL shards (three Raft groups, rows split by key)."""

    atomic_batches = False
    server_args = ["--shards", "3"]

    def test_kill9_twice_then_sigterm(self):
        self.create()
        self.insert(range(3000))
        self.delete(range(0, 3000, 7))
        self.upsert_changed(range(1, 300, 5))
        self.srv.kill9()
        self.srv.restart()
        self.verify_schema()
        self.verify()
        self.insert(range(3000, 3500))
        self.srv.kill9()
        self.srv.restart()
        self.verify()
        self.assertEqual(self.srv.stop(), 0)
        self.srv.restart()
        self.verify()


if __name__ == "__main__":
    harness.run_tests()
