"""Bad input is refused with the Milvus code, and refused input changes nothing.

Every case sends one bad request, checks the Milvus error code (and the
message substring where milvus-rest-v2.md quotes one), then checks that the
stored data is unchanged: the row counts of both collections (get_stats) and
a full `get` of a known row are compared with a snapshot taken before.

Usage: test_bad_input.py /path/to/tidemark [unittest args]
"""

import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import DIM, full_schema_body, make_row  # noqa: E402

STRICT = "strict"  # full schema, no dynamic field
AUTO = "auto"      # quick setup, autoID
NROWS = 20


class BadInputTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = harness.Server(["--max-body-mb", "1"])
        try:
            s = cls.srv
            s.ok("collections/create", full_schema_body(STRICT, dynamic=False))
            s.ok("entities/insert", {"collectionName": STRICT,
                                     "data": [make_row(i, dynamic=False) for i in range(NROWS)]})
            s.ok("collections/create", {"collectionName": AUTO, "dimension": 4, "autoID": True})
            r = s.ok("entities/insert", {"collectionName": AUTO,
                                         "data": [{"vector": [1, 2, 3, 4], "k": 1}]})
            cls.auto_id = r["data"]["insertIds"][0]
        except BaseException:
            cls.srv.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    # ---- the unchanged-data check ----

    def snapshot(self):
        s = self.srv
        snap = {}
        for coll, key in ((STRICT, 1), (AUTO, self.auto_id)):
            snap[coll + ".count"] = s.ok("collections/get_stats",
                                         {"collectionName": coll})["data"]["rowCount"]
            snap[coll + ".row"] = s.ok("entities/get", {"collectionName": coll, "id": [key],
                                                        "consistencyLevel": "Strong"})["data"]
        self.assertEqual(snap[STRICT + ".count"], NROWS)
        self.assertEqual(snap[AUTO + ".count"], 1)
        self.assertEqual(len(snap[STRICT + ".row"]), 1)
        return snap

    def setUp(self):
        self.before = self.snapshot()

    def tearDown(self):
        # Runs even after a failed assertion; a second failure here is fine.
        self.assertEqual(self.snapshot(), self.before, "a refused request changed stored data")

    def expect(self, reply, code, *substrings):
        self.assertEqual(reply.get("code"), code, reply)
        self.assertNotIn("data", reply, reply)
        msg = reply.get("message", "")
        self.assertIsInstance(msg, str)
        self.assertTrue(msg, "an error needs a message: %r" % reply)
        for sub in substrings:
            self.assertIn(sub, msg, reply)

    def insert(self, rows, coll=STRICT):
        return self.srv.post("entities/insert", {"collectionName": coll, "data": rows})

    def absent(self, ids, coll=STRICT):
        got = self.srv.ok("entities/get", {"collectionName": coll, "id": list(ids),
                                           "consistencyLevel": "Strong"})["data"]
        self.assertEqual(got, [], "rows of a refused request were written")

    # ---- request-level errors ----

    def test_malformed_json(self):
        for body in (b'{"collectionName": "strict", "data": [', b"{'a': 1}", b"nope",
                     b'{"collectionName": "strict"} trailing'):
            r = self.srv.post("entities/insert", raw_body=body)
            self.expect(r, 1801, "can only accept json format request")

    def test_not_an_object(self):
        r = self.srv.post("entities/insert", raw_body=b"[1, 2]")
        self.expect(r, 1801, "can only accept json format request")

    def test_empty_body(self):
        for path in ("entities/insert", "entities/query", "collections/describe"):
            r = self.srv.post(path, raw_body=b"")
            self.expect(r, 1801, "can only accept json format request")

    def test_missing_collection_name(self):
        for path, body in (("entities/insert", {"data": [make_row(100, dynamic=False)]}),
                           ("entities/query", {"filter": "id in [1]"}),
                           ("entities/delete", {"filter": "id in [1]"}),
                           ("collections/describe", {}),
                           ("entities/insert", {"collectionName": "",
                                                "data": [make_row(100, dynamic=False)]})):
            r = self.srv.post(path, body)
            self.expect(r, 1802, "missing required parameters")
        self.absent([100])

    def test_missing_filter_on_delete(self):
        r = self.srv.post("entities/delete", {"collectionName": STRICT})
        self.expect(r, 1802, "missing required parameters")

    def test_wrong_json_type(self):
        r = self.srv.post("entities/query", {"collectionName": STRICT,
                                             "filter": "id in [1]", "limit": "10"})
        self.expect(r, 1801, "can only accept json format request")
        r = self.srv.post("entities/insert", {"collectionName": 7,
                                              "data": [make_row(101, dynamic=False)]})
        self.expect(r, 1801, "can only accept json format request")
        self.absent([101])

    def test_bad_filter(self):
        r = self.srv.post("entities/delete", {"collectionName": STRICT, "filter": "id in [1,"})
        self.expect(r, 1100, "failed to create query plan")
        r = self.srv.post("entities/query", {"collectionName": STRICT, "filter": "id in ["})
        self.expect(r, 1100, "failed to create query plan")

    def test_bad_id_type_on_get(self):
        r = self.srv.post("entities/get", {"collectionName": STRICT, "id": [{"x": 1}]})
        self.expect(r, 1806)

    def test_bad_consistency_level(self):
        r = self.srv.post("entities/query", {"collectionName": STRICT, "filter": "id in [1]",
                                             "consistencyLevel": "strong"})
        self.expect(r, 1100, "consistencyLevel can only be")

    def test_unknown_collection(self):
        for path, body in (("entities/insert", {"data": [make_row(1, dynamic=False)]}),
                           ("entities/upsert", {"data": [make_row(1, dynamic=False)]}),
                           ("entities/delete", {"filter": "id in [1]"}),
                           ("entities/get", {"id": [1]}),
                           ("entities/query", {"filter": "id in [1]"}),
                           ("collections/describe", {}),
                           ("collections/get_stats", {})):
            body = dict(body, collectionName="no_such_coll")
            r = self.srv.post(path, body)
            self.expect(r, 100, "can't find collection")
        r = self.srv.post("collections/get_load_state", {"collectionName": "no_such_coll"})
        self.expect(r, 100, "collection not found")

    def test_unknown_database(self):
        for path, body in (("entities/insert", {"collectionName": STRICT,
                                                "data": [make_row(102, dynamic=False)]}),
                           ("entities/query", {"collectionName": STRICT, "filter": "id in [1]"}),
                           ("collections/list", {}),
                           ("collections/describe", {"collectionName": STRICT}),
                           ("databases/describe", {})):
            r = self.srv.post(path, dict(body, dbName="no_such_db"))
            self.expect(r, 800, "database not found")
        # The DB-Name header selects the database when the body has none.
        r = self.srv.post("entities/insert", {"collectionName": STRICT,
                                              "data": [make_row(102, dynamic=False)]},
                          headers={"DB-Name": "no_such_db"})
        self.expect(r, 800, "database not found")
        self.absent([102])

    def test_oversized_body(self):
        """The server runs with --max-body-mb 1: a 2 MiB body is refused with
        a clear error, the connection is closed, and the server serves on."""
        rows = [make_row(1000 + i, dynamic=False) for i in range(2)]
        body = {"collectionName": STRICT, "data": rows, "pad": "x" * (2 << 20)}
        data = json.dumps(body).encode()
        self.assertGreater(len(data), 1 << 20)
        status, headers, payload = self.srv.raw("POST", "/v2/vectordb/entities/insert", data)
        self.assertIn(status, (200, 413), payload[:200])
        r = json.loads(payload)
        self.expect(r, 1801, "too large")
        self.srv.close_conn()
        self.absent([1000, 1001])
        # Just under the limit is accepted as JSON (and fails only on content).
        small = json.dumps({"collectionName": STRICT, "pad": "y" * ((1 << 20) - 100)}).encode()
        self.assertLessEqual(len(small), 1 << 20)
        r = self.srv.post("entities/insert", raw_body=small)
        self.expect(r, 1802, "missing required parameters")

    def test_default_body_limit(self):
        """Without --max-body-mb the limit is 64 MiB (and documented)."""
        out = subprocess.run([harness.bin_path(), "serve", "--help"], capture_output=True,
                             timeout=10)
        self.assertEqual(out.returncode, 0)
        self.assertIn(b"--max-body-mb", out.stdout)
        with harness.Server() as srv:
            srv.ok("collections/create", {"collectionName": "c", "dimension": 2})
            row = [{"id": 1, "vector": [1, 2]}]
            big = json.dumps({"collectionName": "c", "data": row,
                              "pad": "x" * (65 << 20)}).encode()
            status, _, payload = srv.raw("POST", "/v2/vectordb/entities/insert", big)
            self.assertIn(status, (200, 413))
            self.expect(json.loads(payload), 1801, "too large")
            srv.close_conn()
            del big
            self.assertEqual(srv.ok("entities/get", {"collectionName": "c", "id": [1]})["data"],
                             [])
            # 60 MiB is under the limit: accepted (the unknown key is ignored).
            ok = json.dumps({"collectionName": "c", "data": row,
                             "pad": "x" * (60 << 20)}).encode()
            status, _, payload = srv.raw("POST", "/v2/vectordb/entities/insert", ok)
            self.assertEqual(json.loads(payload)["code"], 0, payload[:200])
            self.assertEqual(len(srv.ok("entities/get", {"collectionName": "c", "id": [1],
                                                         "consistencyLevel": "Strong"})["data"]), 1)

    def test_unknown_path_is_plain_404(self):
        for method, path in (("POST", "/v2/vectordb/nope/insert"),
                             ("POST", "/v2/vectordb/entities/nope"),
                             ("POST", "/v2/vectordb/entities"),
                             ("POST", "/v1/vector/collections"),
                             ("GET", "/v2/vectordb/entities/query"),
                             ("PUT", "/v2/vectordb/entities/insert")):
            status, headers, payload = self.srv.raw(method, path, b"{}")
            self.assertEqual(status, 404, (method, path))
            self.assertTrue(headers.get("content-type", "").startswith("text/plain"), headers)
            self.assertEqual(payload.strip(), b"404 page not found")

    # ---- row conversion errors (1804) ----

    def test_wrong_value_type(self):
        cases = [("n", "abc"), ("n", [1]), ("n", 1.5), ("score", "x"), ("score", {}),
                 ("vec", "not a vector"), ("tags", 5), ("tags", ["a"]), ("title", {"a": 1}),
                 ("title", [1]), ("meta", "{not json")]
        for field, value in cases:
            row = make_row(103, dynamic=False)
            row[field] = value
            r = self.insert([row])
            self.expect(r, 1804, "fail to deal the insert data")
        row = make_row(103, dynamic=False)
        row["id"] = 1.5
        self.expect(self.insert([row]), 1804, "fail to deal the insert data")
        row["id"] = "abc"
        self.expect(self.insert([row]), 1804, "fail to deal the insert data")
        self.absent([103])

    def test_null_or_missing_required_field(self):
        for field in ("vec", "title", "meta", "tags", "id"):
            for missing in (True, False):
                row = make_row(104, dynamic=False)
                if missing:
                    del row[field]
                else:
                    row[field] = None
                self.expect(self.insert([row]), 1804, "fail to deal the insert data")
        self.absent([104])

    def test_wrong_dimension(self):
        for n in (DIM - 1, DIM + 1, 0):
            row = make_row(105, dynamic=False)
            row["vec"] = [0.5] * n
            r = self.insert([row])
            self.expect(r, 1804, "dimension", str(DIM))
        self.absent([105])

    def test_vector_with_bad_element(self):
        row = make_row(106, dynamic=False)
        row["vec"] = [0.5] * (DIM - 1) + ["x"]
        self.expect(self.insert([row]), 1804)
        row["vec"] = [0.5] * (DIM - 1) + [1e39]  # not a finite float32
        r = self.insert([row])
        self.assertIn(r["code"], (1100, 1804), r)
        self.absent([106])

    def test_unknown_field_without_dynamic(self):
        row = make_row(107, dynamic=False)
        row["color"] = "red"
        r = self.insert([row])
        self.expect(r, 1804, "dynamic schema")
        r = self.srv.post("entities/upsert", {"collectionName": STRICT, "data": [row]})
        self.expect(r, 1804, "dynamic schema")
        self.absent([107])

    def test_reserved_meta_key(self):
        r = self.insert([{"vector": [1, 2, 3, 4], "$meta": {"a": 1}}], coll=AUTO)
        self.assertIn(r["code"], (1100, 1804), r)

    def test_autoid_with_pk(self):
        r = self.insert([{"id": 5, "vector": [1, 2, 3, 4]}], coll=AUTO)
        self.expect(r, 1804, "no need to pass pk field")
        self.absent([5], coll=AUTO)

    def test_empty_data(self):
        for data in ([], None):
            r = self.srv.post("entities/insert", {"collectionName": STRICT, "data": data})
            self.assertIn(r["code"], (1802, 1804), r)
        r = self.srv.post("entities/insert", {"collectionName": STRICT})
        self.assertIn(r["code"], (1802, 1804), r)

    # ---- core validation errors (1100) ----

    def test_varchar_too_long(self):
        row = make_row(108, dynamic=False)
        row["title"] = "\u00e9" * 65
        r = self.insert([row])
        self.expect(r, 1100, "length of varchar field title exceeds max length")
        r = self.srv.post("entities/upsert", {"collectionName": STRICT, "data": [row]})
        self.expect(r, 1100, "exceeds max length")
        self.absent([108])

    def test_array_over_capacity(self):
        row = make_row(109, dynamic=False)
        row["tags"] = list(range(9))
        r = self.insert([row])
        self.assertEqual(r["code"], 1100, r)
        self.absent([109])

    def test_int32_out_of_range(self):
        row = make_row(110, dynamic=False)
        row["n"] = 1 << 31
        r = self.insert([row])
        self.assertIn(r["code"], (1100, 1804), r)
        self.absent([110])

    def test_duplicate_pk_in_upsert_batch(self):
        rows = [make_row(1, dynamic=False), make_row(1, dynamic=False)]
        r = self.srv.post("entities/upsert", {"collectionName": STRICT, "data": rows})
        self.expect(r, 1100, "duplicate primary keys are not allowed in the same batch")

    def test_only_last_row_bad(self):
        """Validation is all-or-nothing: one bad row at the end refuses the
        whole request, so none of the good rows before it are written."""
        ids = list(range(200, 300))
        bad_cases = [("vec", [0.1] * (DIM - 1), 1804), ("n", "x", 1804),
                     ("title", "z" * 65, 1100), ("extra", 1, 1804)]
        for field, value, code in bad_cases:
            rows = [make_row(i, dynamic=False) for i in ids]
            rows[-1][field] = value
            r = self.insert(rows)
            self.assertEqual(r["code"], code, (field, r))
            # The same for upsert, where existing keys would also be deleted.
            rows[0]["id"] = 1
            r = self.srv.post("entities/upsert", {"collectionName": STRICT, "data": rows})
            self.assertEqual(r["code"], code, (field, r))
        self.absent(ids)

    def test_bad_partition(self):
        r = self.srv.post("entities/insert", {"collectionName": STRICT, "partitionName": "nope",
                                              "data": [make_row(111, dynamic=False)]})
        self.expect(r, 200, "partition not found")
        self.absent([111])


if __name__ == "__main__":
    harness.run_tests()
