"""Upsert semantics (milvus-rest-v2.md §5 and docs/decisions.md "Upsert").

* The worked examples of §5.5, on exactly the schema given there.
* Override mode: omitted nullable -> null, omitted default -> default,
  dynamic field replaced wholesale, JSON field replaced whole.
* Merge mode (`"partialUpdate": true`): only sent fields change; dynamic keys
  merge key-wise; a schema JSON field merges key-wise at the top level when
  old and new are both objects (our documented choice, after the v2.6 seed),
  otherwise it is replaced; explicit null -> null or the default; a missing
  key is inserted, and the request fails whole (1100 `fieldSchema(..)`) if
  such a row lacks a required field.
* Whole-request failure: duplicate keys (1100), one bad row (1804), missing
  pk, wrong dimension, type mismatch, unknown field without dynamic field --
  and nothing of the request is written.
* autoID upsert (new key in upsertIds, old key gone; merge carries untouched
  fields to the new key).
* Partitions: `partitionName` targets a partition; upserting into B a key
  living in A moves it (one row, in B); a merge without partitionName keeps
  the key in its partition.
* Retries: `Tidemark-Request-Id` makes a retried write apply once.
* Also: VarChar pk, numeric-string Int64 pk, `Accept-Type-Allow-Int64`,
  core validation (max_length, max_capacity), `fieldOps` (§5.3), and a
  partition-key collection (§5.1.5).

Every read is at consistencyLevel Strong. Each test starts its own server.

Usage: test_upsert_semantics.py /path/to/tidemark [unittest args]
"""

import json
import os
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

f32 = harness.f32


# ---- schemas ----

def s55_body(name, auto_id=False, dynamic=True):
    """The §5.5 schema: id Int64 PK, title VarChar nullable, n Int32 default
    5, v FloatVector dim 2, dynamic field on; FLAT index, so it is loaded."""
    return {
        "collectionName": name,
        "schema": {
            "autoID": auto_id,
            "enableDynamicField": dynamic,
            "fields": [
                {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
                {"fieldName": "title", "dataType": "VarChar", "nullable": True,
                 "elementTypeParams": {"max_length": 64}},
                {"fieldName": "n", "dataType": "Int32", "defaultValue": 5},
                {"fieldName": "v", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}},
            ],
        },
        "indexParams": [{"fieldName": "v", "indexName": "v_idx", "metricType": "L2",
                         "indexType": "FLAT"}],
    }


def vec16(seed):
    """A 16-dim vector of float32-exact values, distinct per seed."""
    return [float((seed * 7 + k) % 13) - 6.0 for k in range(harness.DIM)]


def full_row(i, **over):
    """A complete row of harness.full_schema_body (every required field)."""
    row = {"id": i, "vec": vec16(i), "title": "title-%d" % i, "n": 100 + i, "score": i + 0.5,
           "meta": {"a": i, "b": {"c": 1, "d": 2}}, "tags": [i, i + 1]}
    row.update(over)
    return row


class UpsertCase(unittest.TestCase):
    """A fresh server per test; helpers for Strong reads and error checks."""

    server_args = ()

    def setUp(self):
        self.srv = harness.Server(self.server_args)
        self.addCleanup(self.srv.close)

    def ok(self, path, body, headers=None):
        return self.srv.ok(path, body, headers)

    def upsert(self, coll, rows, partial=False, headers=None, **extra):
        body = {"collectionName": coll, "data": rows}
        if partial:
            body["partialUpdate"] = True
        body.update(extra)
        return self.srv.post("entities/upsert", body, headers)

    def upsert_ok(self, coll, rows, partial=False, headers=None, **extra):
        r = self.upsert(coll, rows, partial, headers, **extra)
        self.assertEqual(r.get("code"), 0, "upsert %s partial=%s %s -> %r"
                         % (json.dumps(rows)[:300], partial, extra, r))
        self.assertEqual(r["data"]["upsertCount"], len(rows), r)
        return r["data"]

    def upsert_err(self, coll, rows, codes, partial=False, must_contain=None, **extra):
        """The upsert fails with one of codes (and a message holding
        must_contain, if given); returns the reply."""
        r = self.upsert(coll, rows, partial, **extra)
        self.assertIn(r.get("code"), codes, "upsert %s partial=%s %s -> %r"
                      % (json.dumps(rows)[:300], partial, extra, r))
        self.assertNotIn("data", r, r)
        if must_contain:
            self.assertIn(must_contain, r.get("message", ""), r)
        return r

    def get(self, coll, keys, fields=None, partitions=None):
        body = {"collectionName": coll, "id": list(keys), "consistencyLevel": "Strong"}
        if fields is not None:
            body["outputFields"] = fields
        if partitions is not None:
            body["partitionNames"] = partitions
        rows = self.ok("entities/get", body)["data"]
        return {r["id"]: r for r in rows}

    def get_one(self, coll, key):
        rows = self.get(coll, [key])
        self.assertEqual(list(rows), [key], "key %r: %r" % (key, rows))
        return rows[key]

    def query(self, coll, filt="", partitions=None, fields=None, limit=1000):
        body = {"collectionName": coll, "filter": filt, "limit": limit,
                "consistencyLevel": "Strong"}
        if partitions is not None:
            body["partitionNames"] = partitions
        if fields is not None:
            body["outputFields"] = fields
        return self.ok("entities/query", body)["data"]

    def count(self, coll, partitions=None):
        body = {"collectionName": coll, "filter": "", "outputFields": ["count(*)"],
                "consistencyLevel": "Strong"}
        if partitions is not None:
            body["partitionNames"] = partitions
        return self.ok("entities/query", body)["data"][0]["count(*)"]

    def snapshot(self, coll):
        """Every row of coll, keyed by id (JSON fields parsed)."""
        return {r["id"]: harness.normalize(r) for r in self.query(coll)}

    def assertRow(self, got, want):
        """got (a returned row) equals want exactly, modulo float32 vectors
        and the JSON field returned as a JSON string."""
        g = harness.normalize(got)
        for vf in ("v", "vec"):
            if isinstance(g.get(vf), list):
                g[vf] = [f32(x) for x in g[vf]]
        w = dict(want)
        for vf in ("v", "vec"):
            if isinstance(w.get(vf), list):
                w[vf] = [f32(x) for x in w[vf]]
        self.assertEqual(g, w)

    def create_s55(self, name="c55", **kw):
        self.ok("collections/create", s55_body(name, **kw))
        return name

    def create_full(self, name="full", **kw):
        self.ok("collections/create", harness.full_schema_body(name, **kw))
        return name


# ---------------------------------------------------------------------------

class WorkedExamplesTest(UpsertCase):
    """milvus-rest-v2.md §5.5, verbatim."""

    STORED = {"id": 1, "title": "a", "n": 9, "v": [1, 0], "color": "red", "size": 3}

    def setUp(self):
        super().setUp()
        self.c = self.create_s55()
        self.ok("entities/insert", {"collectionName": self.c, "data": [self.STORED]})
        self.assertRow(self.get_one(self.c, 1), self.STORED)

    def test_override(self):
        """§5.5: override {"id":1,"v":[0,1],"color":"blue"} -> title null,
        n 5, v [0,1], color blue, size gone."""
        d = self.upsert_ok(self.c, [{"id": 1, "v": [0, 1], "color": "blue"}])
        self.assertEqual(d["upsertIds"], [1])
        self.assertRow(self.get_one(self.c, 1),
                       {"id": 1, "title": None, "n": 5, "v": [0, 1], "color": "blue"})
        self.assertEqual(self.count(self.c), 1)

    def test_merge_dynamic_key(self):
        """§5.5: merge {"id":1,"color":"blue"} -> only color changes."""
        d = self.upsert_ok(self.c, [{"id": 1, "color": "blue"}], partial=True)
        self.assertEqual(d["upsertIds"], [1])
        self.assertRow(self.get_one(self.c, 1), {"id": 1, "title": "a", "n": 9, "v": [1, 0],
                                                 "color": "blue", "size": 3})
        self.assertEqual(self.count(self.c), 1)

    def test_merge_null_title(self):
        """§5.5: merge {"id":1,"title":null} -> title null, rest kept."""
        self.upsert_ok(self.c, [{"id": 1, "title": None}], partial=True)
        self.assertRow(self.get_one(self.c, 1), {"id": 1, "title": None, "n": 9, "v": [1, 0],
                                                 "color": "red", "size": 3})

    def test_merge_null_default(self):
        """§5.5: merge {"id":1,"n":null} -> n = 5 (the default), rest kept."""
        self.upsert_ok(self.c, [{"id": 1, "n": None}], partial=True)
        self.assertRow(self.get_one(self.c, 1), {"id": 1, "title": "a", "n": 5, "v": [1, 0],
                                                 "color": "red", "size": 3})

    def test_merge_new_key_without_vector_fails(self):
        """§5.5: merge {"id":2,"title":"x"} with id 2 absent -> error (v
        missing): 1100 `fieldSchema(v) has no corresponding fieldData pass in`."""
        self.upsert_err(self.c, [{"id": 2, "title": "x"}], (1100,), partial=True,
                        must_contain="fieldSchema")
        self.assertEqual(self.get(self.c, [2]), {})
        self.assertEqual(self.count(self.c), 1)

    def test_merge_new_key_inserted(self):
        """§5.5: merge {"id":2,"v":[1,1]} with id 2 absent -> inserted with
        title null, n 5."""
        d = self.upsert_ok(self.c, [{"id": 2, "v": [1, 1]}], partial=True)
        self.assertEqual(d["upsertIds"], [2])
        self.assertRow(self.get_one(self.c, 2), {"id": 2, "title": None, "n": 5, "v": [1, 1]})
        self.assertRow(self.get_one(self.c, 1), self.STORED)
        self.assertEqual(self.count(self.c), 2)


# ---------------------------------------------------------------------------

class OverrideModeTest(UpsertCase):
    """§5.2: delete + insert; values come only from the request."""

    def test_omitted_fields(self):
        """Omitted nullable -> null; omitted default -> default; dynamic
        field replaced wholesale; JSON field replaced whole (no merge)."""
        c = self.create_full()
        self.ok("entities/insert", {"collectionName": c, "data": [
            full_row(1, color="red", size=3), full_row(2, color="green")]})
        new = {"id": 1, "vec": vec16(50), "title": "new", "meta": {"z": 1}, "tags": [],
               "shape": "square"}
        self.assertEqual(self.upsert_ok(c, [new])["upsertIds"], [1])
        self.assertRow(self.get_one(c, 1), {"id": 1, "vec": vec16(50), "title": "new", "n": 5,
                                            "score": None, "meta": {"z": 1}, "tags": [],
                                            "shape": "square"})
        # the other key is untouched
        self.assertRow(self.get_one(c, 2), full_row(2, color="green"))
        self.assertEqual(self.count(c), 2)

    def test_explicit_nulls(self):
        """Explicit null on a nullable field -> null, on a field with a
        default -> the default; a dynamic key sent as null is dropped."""
        c = self.create_full()
        self.ok("entities/insert", {"collectionName": c, "data": [full_row(1, color="red")]})
        self.upsert_ok(c, [full_row(1, n=None, score=None, color=None, size=4)])
        self.assertRow(self.get_one(c, 1), full_row(1, n=5, score=None, size=4))

    def test_no_dynamic_keys_clears_dynamic_field(self):
        """An override row without non-schema keys leaves no dynamic keys."""
        c = self.create_s55()
        self.ok("entities/insert", {"collectionName": c, "data": [
            {"id": 1, "title": "a", "n": 9, "v": [1, 0], "color": "red", "size": 3}]})
        self.upsert_ok(c, [{"id": 1, "title": "b", "n": 9, "v": [1, 0]}])
        self.assertRow(self.get_one(c, 1), {"id": 1, "title": "b", "n": 9, "v": [1, 0]})

    def test_missing_required_field(self):
        """Override omitting a non-nullable, non-default field (the VarChar
        `title`, the JSON `meta`, the vector) -> 1804 (spec §5.2 / §3.2:
        rejecting an omitted VarChar is the sane behaviour), nothing written."""
        c = self.create_full()
        self.ok("entities/insert", {"collectionName": c, "data": [full_row(1)]})
        before = self.snapshot(c)
        for drop in ("title", "meta", "vec", "tags"):
            row = full_row(1, n=1)
            del row[drop]
            with self.subTest(omitted=drop):
                self.upsert_err(c, [row], (1804, 1100))
        self.assertEqual(self.snapshot(c), before)

    def test_new_key_inserted(self):
        """Override of a key that does not exist inserts it."""
        c = self.create_s55()
        d = self.upsert_ok(c, [{"id": 7, "v": [0.5, 0.25]}])
        self.assertEqual(d["upsertIds"], [7])
        self.assertRow(self.get_one(c, 7), {"id": 7, "title": None, "n": 5, "v": [0.5, 0.25]})
        self.assertEqual(self.count(c), 1)

    def test_repeated_upserts_leave_one_row(self):
        """Ten override upserts of the same keys: each key once, last wins."""
        c = self.create_s55()
        for r in range(10):
            self.upsert_ok(c, [{"id": k, "v": [r, k], "n": r} for k in range(5)])
        self.assertEqual(self.count(c), 5)
        rows = self.get(c, range(5))
        self.assertEqual(sorted(rows), list(range(5)))
        for k, row in rows.items():
            self.assertEqual(row["n"], 9)
            self.assertEqual(row["v"], [9.0, float(k)])


# ---------------------------------------------------------------------------

class MergeModeTest(UpsertCase):
    """§5.3 with our documented choices (decisions.md "Upsert")."""

    def test_only_sent_fields_change(self):
        """Merge of one scalar keeps the vector, other scalars, JSON, array
        and dynamic keys; another key in the collection is untouched."""
        c = self.create_full()
        r1 = full_row(1, color="red")
        r2 = full_row(2, color="green")
        self.ok("entities/insert", {"collectionName": c, "data": [r1, r2]})
        d = self.upsert_ok(c, [{"id": 1, "title": "changed"}], partial=True)
        self.assertEqual(d["upsertIds"], [1])
        self.assertRow(self.get_one(c, 1), dict(r1, title="changed"))
        self.assertRow(self.get_one(c, 2), r2)
        # the vector alone
        self.upsert_ok(c, [{"id": 1, "vec": vec16(99)}], partial=True)
        self.assertRow(self.get_one(c, 1), dict(r1, title="changed", vec=vec16(99)))
        # several fields, several keys, one request
        self.upsert_ok(c, [{"id": 1, "n": -1, "tags": [7]}, {"id": 2, "n": -2, "tags": []}],
                       partial=True)
        self.assertRow(self.get_one(c, 1), dict(r1, title="changed", vec=vec16(99), n=-1,
                                                tags=[7]))
        self.assertRow(self.get_one(c, 2), dict(r2, n=-2, tags=[]))
        self.assertEqual(self.count(c), 2)

    def test_dynamic_keys_merge(self):
        """Dynamic keys merge key-wise (shallow): sent keys overwrite or add,
        the others survive; a nested dynamic object is replaced, not merged;
        a dynamic key sent as null is dropped, so the stored one stays."""
        c = self.create_s55()
        self.ok("entities/insert", {"collectionName": c, "data": [
            {"id": 1, "title": "a", "n": 9, "v": [1, 0], "color": "red", "size": 3,
             "w": {"x": 1, "y": 1}}]})
        self.upsert_ok(c, [{"id": 1, "size": 4, "shape": "sq", "w": {"y": 2}, "color": None}],
                       partial=True)
        self.assertRow(self.get_one(c, 1), {"id": 1, "title": "a", "n": 9, "v": [1, 0],
                                            "color": "red", "size": 4, "shape": "sq",
                                            "w": {"y": 2}})

    def test_json_field_merges_top_level_keys(self):
        """A schema JSON field merges key-wise at the top level when the old
        and the new value are both objects (decisions.md, after the v2.6
        seed's `extras` example); nested objects are replaced whole."""
        c = self.create_full()
        r1 = full_row(1, meta={"author": "John", "year": 2020, "tags": ["fiction"],
                               "b": {"c": 1, "d": 2}})
        self.ok("entities/insert", {"collectionName": c, "data": [r1]})
        self.upsert_ok(c, [{"id": 1, "meta": {"author": "Jane", "genre": "fantasy",
                                              "b": {"c": 9}}}], partial=True)
        self.assertRow(self.get_one(c, 1), dict(r1, meta={
            "author": "Jane", "year": 2020, "tags": ["fiction"], "genre": "fantasy",
            "b": {"c": 9}}))

    def test_json_field_replaced_unless_both_objects(self):
        """Object -> array, array -> object, object -> number, number ->
        object: the new value replaces the old (no merge unless both sides
        are objects); then object + object merges again."""
        c = self.create_full()
        r1 = full_row(1, meta={"a": 1})
        self.ok("entities/insert", {"collectionName": c, "data": [r1]})
        steps = [([1, 2, {"a": 3}], [1, 2, {"a": 3}]),
                 ({"z": 1}, {"z": 1}),
                 (7, 7),
                 ({"q": [1]}, {"q": [1]}),
                 ({"r": 2}, {"q": [1], "r": 2})]
        for new, want in steps:
            with self.subTest(new=new):
                self.upsert_ok(c, [{"id": 1, "meta": new}], partial=True)
                self.assertRow(self.get_one(c, 1), dict(r1, meta=want))

    def test_explicit_null_nullable_and_default(self):
        """Merge: explicit null sets a nullable field to null and a field
        with a default to its default; the other fields are kept."""
        c = self.create_full()
        r1 = full_row(1, color="red")
        self.ok("entities/insert", {"collectionName": c, "data": [r1]})
        self.upsert_ok(c, [{"id": 1, "score": None, "n": None}], partial=True)
        self.assertRow(self.get_one(c, 1), dict(r1, score=None, n=5))

    def test_explicit_null_required_field_fails(self):
        """Merge: null on a field that is neither nullable nor has a default
        (title VarChar) -> 1804 (§3.2), nothing written."""
        c = self.create_full()
        self.ok("entities/insert", {"collectionName": c, "data": [full_row(1)]})
        before = self.snapshot(c)
        self.upsert_err(c, [{"id": 1, "title": None}], (1804, 1100), partial=True)
        self.assertEqual(self.snapshot(c), before)

    def test_new_key_inserted_with_defaults(self):
        """Merge of a key that does not exist inserts it (insert semantics:
        omitted nullable -> null, omitted default -> default, dynamic keys
        kept), alongside an update of an existing key."""
        c = self.create_full()
        r1 = full_row(1)
        self.ok("entities/insert", {"collectionName": c, "data": [r1]})
        rows = [{"id": 1, "vec": vec16(5), "title": "one", "meta": {"k": 1}, "tags": [1],
                 "color": "x"},
                {"id": 2, "vec": vec16(6), "title": "two", "meta": {"k": 2}, "tags": [2],
                 "color": "y"}]
        d = self.upsert_ok(c, rows, partial=True)
        self.assertEqual(sorted(d["upsertIds"]), [1, 2])
        self.assertRow(self.get_one(c, 1), dict(r1, vec=vec16(5), title="one",
                                                meta={"k": 1, "a": 1, "b": {"c": 1, "d": 2}},
                                                tags=[1], color="x"))
        self.assertRow(self.get_one(c, 2), {"id": 2, "vec": vec16(6), "title": "two", "n": 5,
                                            "score": None, "meta": {"k": 2}, "tags": [2],
                                            "color": "y"})
        self.assertEqual(self.count(c), 2)

    def test_new_key_missing_required_fails_whole_request(self):
        """Merge of [existing key 1, missing key 3] where the rows lack a
        required field: 1100 `fieldSchema(..) ...`, and key 1 is NOT updated
        either (nothing of the request is written)."""
        c = self.create_full()
        self.ok("entities/insert", {"collectionName": c, "data": [full_row(1), full_row(2)]})
        before = self.snapshot(c)
        for rows in ([{"id": 1, "title": "x"}, {"id": 3, "title": "y"}],
                     [{"id": 3, "title": "y"}, {"id": 1, "title": "x"}],
                     [{"id": 3, "title": "y"}],
                     # every required field but the vector
                     [{"id": 1, "title": "x", "meta": {}, "tags": []},
                      {"id": 3, "title": "y", "meta": {}, "tags": []}]):
            with self.subTest(rows=rows):
                self.upsert_err(c, rows, (1100,), partial=True, must_contain="fieldSchema")
        self.assertEqual(self.snapshot(c), before)

    def test_rows_with_different_fields_fail(self):
        """Every row of a merge request must send the same fields (1804, as
        Milvus; decisions.md); nothing written."""
        c = self.create_full()
        self.ok("entities/insert", {"collectionName": c, "data": [full_row(1), full_row(2)]})
        before = self.snapshot(c)
        self.upsert_err(c, [{"id": 1, "title": "x"}, {"id": 2, "n": 3}], (1804,), partial=True)
        self.assertEqual(self.snapshot(c), before)

    def test_merge_twice_accumulates(self):
        """Successive merges of different fields all land."""
        c = self.create_full()
        r1 = full_row(1)
        self.ok("entities/insert", {"collectionName": c, "data": [r1]})
        self.upsert_ok(c, [{"id": 1, "title": "t2"}], partial=True)
        self.upsert_ok(c, [{"id": 1, "n": 42}], partial=True)
        self.upsert_ok(c, [{"id": 1, "meta": {"extra": True}}], partial=True)
        self.upsert_ok(c, [{"id": 1, "dyn": "d"}], partial=True)
        self.assertRow(self.get_one(c, 1), dict(r1, title="t2", n=42, dyn="d",
                                                meta=dict(r1["meta"], extra=True)))

    def test_json_string_holding_json_merges(self):
        """A JSON value sent as a string holding JSON is that JSON (§3.2), so
        in merge mode an object in a string merges like an object."""
        c = self.create_full()
        r1 = full_row(1, meta={"a": 1})
        self.ok("entities/insert", {"collectionName": c, "data": [r1]})
        self.upsert_ok(c, [{"id": 1, "meta": json.dumps({"x": 1})}], partial=True)
        self.assertRow(self.get_one(c, 1), dict(r1, meta={"a": 1, "x": 1}))

    def test_pk_only_row(self):
        """A merge row with just the pk changes nothing for an existing key,
        and fails (1100 fieldSchema) for a missing one."""
        c = self.create_full()
        r1 = full_row(1, color="red")
        self.ok("entities/insert", {"collectionName": c, "data": [r1]})
        self.assertEqual(self.upsert_ok(c, [{"id": 1}], partial=True)["upsertIds"], [1])
        self.assertRow(self.get_one(c, 1), r1)
        self.upsert_err(c, [{"id": 99}], (1100,), partial=True, must_contain="fieldSchema")
        self.assertEqual(self.count(c), 1)

    def test_varchar_pk(self):
        """A VarChar primary key: merge changes only the sent field, a
        duplicate key in one request -> 1100, a missing key without the
        required fields -> 1100 fieldSchema; upsertIds are strings."""
        c = "vc"
        self.ok("collections/create", {
            "collectionName": c,
            "schema": {"autoID": False, "enableDynamicField": True, "fields": [
                {"fieldName": "pk", "dataType": "VarChar", "isPrimary": True,
                 "elementTypeParams": {"max_length": 16}},
                {"fieldName": "v", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}},
                {"fieldName": "t", "dataType": "VarChar",
                 "elementTypeParams": {"max_length": 16}}]},
            "indexParams": [{"fieldName": "v", "indexName": "v", "metricType": "L2",
                             "indexType": "FLAT"}]})
        d = self.upsert_ok(c, [{"pk": "a", "v": [1, 0], "t": "x", "k": 1},
                               {"pk": "b", "v": [0, 1], "t": "y"}])
        self.assertEqual(sorted(d["upsertIds"]), ["a", "b"])
        d = self.upsert_ok(c, [{"pk": "a", "t": "z"}], partial=True)
        self.assertEqual(d["upsertIds"], ["a"])
        self.upsert_err(c, [{"pk": "b", "t": "1"}, {"pk": "b", "t": "2"}], (1100,), partial=True,
                        must_contain="duplicate primary keys")
        self.upsert_err(c, [{"pk": "a", "v": [1, 1], "t": "1"}, {"pk": "a", "v": [1, 1], "t": "2"}],
                        (1100,), must_contain="duplicate primary keys")
        self.upsert_err(c, [{"pk": "n", "t": "q"}], (1100,), partial=True,
                        must_contain="fieldSchema")
        self.upsert_err(c, [{"v": [1, 1], "t": "q"}], (1804, 1100))
        rows = {r["pk"]: r for r in self.ok("entities/get", {
            "collectionName": c, "id": ["a", "b", "n"], "consistencyLevel": "Strong"})["data"]}
        self.assertEqual(rows, {"a": {"pk": "a", "v": [1, 0], "t": "z", "k": 1},
                                "b": {"pk": "b", "v": [0, 1], "t": "y"}})

    def test_field_ops(self):
        """fieldOps (§4.4.2, §5.3, 2.6): ARRAY_APPEND appends the sent
        elements, ARRAY_REMOVE removes every occurrence of each sent element,
        REPLACE replaces; ops are case-insensitive; an unknown op -> 1100
        `unsupported partial update op: X`; an op on a non-Array field ->
        1100 `op ARRAY_APPEND requires Array field ...`; nothing written on
        error."""
        c = self.create_full()
        r1 = full_row(1, tags=[1, 2, 1])
        self.ok("entities/insert", {"collectionName": c, "data": [r1]})

        def op(name, tags, field="tags", **extra):
            return self.upsert(c, [{"id": 1, field: tags}], partial=True,
                               fieldOps=[{"fieldName": field, "op": name}], **extra)

        r = op("ARRAY_APPEND", [3])
        self.assertEqual(r.get("code"), 0, r)
        self.assertEqual(self.get_one(c, 1)["tags"], [1, 2, 1, 3])
        r = op("array_remove", [1])
        self.assertEqual(r.get("code"), 0, r)
        self.assertEqual(self.get_one(c, 1)["tags"], [2, 3])
        r = op("REPLACE", [9])
        self.assertEqual(r.get("code"), 0, r)
        self.assertEqual(self.get_one(c, 1)["tags"], [9])
        before = self.snapshot(c)
        r = op("ARRAY_SHUFFLE", [1])
        self.assertEqual(r.get("code"), 1100, r)
        self.assertIn("unsupported partial update op", r.get("message", ""))
        r = op("ARRAY_APPEND", "x", field="title")
        self.assertEqual(r.get("code"), 1100, r)
        self.assertIn("requires Array field", r.get("message", ""))
        self.assertEqual(self.snapshot(c), before)

    def test_merge_on_released_collection(self):
        """Merge needs a loaded collection (§2.1 code 101, v2.6 seed "The
        target collection must be loaded"); override does not (§5.2)."""
        c = self.create_s55()
        self.ok("entities/insert", {"collectionName": c, "data": [
            {"id": 1, "title": "a", "n": 9, "v": [1, 0]}]})
        self.ok("collections/release", {"collectionName": c})
        self.upsert_err(c, [{"id": 1, "title": "b"}], (101,), partial=True)
        self.upsert_ok(c, [{"id": 1, "title": "c", "v": [0, 1]}])
        self.ok("collections/load", {"collectionName": c})
        harness.wait_until(lambda: self.ok("collections/get_load_state", {
            "collectionName": c})["data"]["loadState"] == "LoadStateLoaded", what="load")
        self.assertRow(self.get_one(c, 1), {"id": 1, "title": "c", "n": 5, "v": [0, 1]})


# ---------------------------------------------------------------------------

class WholeRequestTest(UpsertCase):
    """§5.1: duplicate keys, bad rows and validation failures fail the whole
    request, and nothing of it is written."""

    def setUp(self):
        super().setUp()
        self.c = self.create_full(dynamic=False)
        self.ok("entities/insert", {"collectionName": self.c,
                                    "data": [full_row(1), full_row(2)]})
        self.before = self.snapshot(self.c)

    def unchanged(self):
        self.assertEqual(self.snapshot(self.c), self.before)

    def test_duplicate_pk_override(self):
        """Override with key 1 twice (plus a new key 5) -> 1100 `duplicate
        primary keys are not allowed in the same batch`; nothing written."""
        self.upsert_err(self.c, [full_row(5), full_row(1, n=7), full_row(1, n=8)], (1100,),
                        must_contain="duplicate primary keys")
        self.unchanged()

    def test_duplicate_pk_merge(self):
        """Same in merge mode."""
        self.upsert_err(self.c, [{"id": 1, "n": 7}, {"id": 2, "n": 8}, {"id": 1, "n": 9}],
                        (1100,), partial=True, must_contain="duplicate primary keys")
        self.unchanged()

    def test_one_bad_row_override(self):
        """Rows [update of 1, new key 3, bad row] -> 1804; neither 1 nor 3
        is written, for each kind of bad row."""
        bad_rows = {
            "wrong dim": full_row(4, vec=[1.0] * (harness.DIM + 1)),
            "type mismatch": full_row(4, n="abc"),
            "Int64 not integral": full_row(4, tags=[1.5]),
            "vector element not a number": full_row(4, vec=["x"] * harness.DIM),
            "unknown field": full_row(4, nosuch=1),
        }
        for what, bad in bad_rows.items():
            with self.subTest(bad=what):
                self.upsert_err(self.c, [full_row(1, n=77), full_row(3), bad], (1804,))
        self.unchanged()

    def test_one_bad_row_merge(self):
        """Merge rows [1, 2, bad] -> 1804, nothing written."""
        for what, bad in {"wrong dim": {"id": 2, "vec": [1.0, 2.0]},
                          "type mismatch": {"id": 2, "vec": ["x"] * harness.DIM}}.items():
            with self.subTest(bad=what):
                self.upsert_err(self.c, [{"id": 1, "vec": vec16(40)}, bad], (1804,),
                                partial=True)
        self.upsert_err(self.c, [{"id": 1, "n": 1}, {"id": 2, "n": "abc"}], (1804,),
                        partial=True)
        self.unchanged()

    def test_wrong_dimension(self):
        """Vector length != dim -> 1804 `... doesn't equal to vector dimension
        ...` (§3.2), override and merge."""
        for partial in (False, True):
            for n in (harness.DIM - 1, harness.DIM + 1, 0):
                row = {"id": 1, "vec": [0.5] * n} if partial else full_row(1, vec=[0.5] * n)
                with self.subTest(partial=partial, length=n):
                    r = self.upsert_err(self.c, [row], (1804,), partial=partial)
                    if n:
                        self.assertIn("dimension", r["message"])
        self.unchanged()

    def test_type_mismatch(self):
        """A value of the wrong type -> 1804 (override and merge)."""
        cases = [("n", "abc"), ("n", [1]), ("id", 1.5), ("id", "abc"), ("tags", ["x"]),
                 ("tags", 3), ("score", "high"), ("vec", "notavector")]
        for partial in (False, True):
            for field, value in cases:
                row = {"id": 1, field: value} if partial else full_row(1, **{field: value})
                with self.subTest(partial=partial, field=field, value=value):
                    self.upsert_err(self.c, [row], (1804,), partial=partial)
        self.unchanged()

    def test_unknown_field_without_dynamic(self):
        """An unknown field without the dynamic field -> 1804 `... without
        dynamic schema ...` (§3.2), override and merge."""
        self.upsert_err(self.c, [full_row(1, color="red")], (1804,),
                        must_contain="dynamic schema")
        self.upsert_err(self.c, [{"id": 1, "color": "red"}], (1804,), partial=True,
                        must_contain="dynamic schema")
        self.unchanged()

    def test_missing_pk(self):
        """A row without the pk -> 1804 (REST layer) or 1100 `must assign pk
        when upsert` (core), §5.1.1; override and merge; also a null pk."""
        row = full_row(9)
        del row["id"]
        for partial, rows in ((False, [row]), (True, [{"title": "x"}]),
                              (False, [full_row(1, n=3), row]),
                              (True, [{"id": 1, "title": "x"}, {"title": "y"}]),
                              (False, [dict(full_row(9), id=None)]),
                              (True, [{"id": None, "title": "x"}])):
            with self.subTest(partial=partial, rows=json.dumps(rows)[:80]):
                r = self.upsert_err(self.c, rows, (1804, 1100), partial=partial)
                if r["code"] == 1100:
                    self.assertIn("must assign pk", r["message"])
                else:
                    self.assertIn("fail to deal the insert data", r["message"])
        self.unchanged()

    def test_core_validation_failures(self):
        """VarChar over max_length and Array over max_capacity -> 1100 (§5.1.3),
        override and merge, in a batch with valid rows; nothing written."""
        long_title = "x" * 65
        over = list(range(9))
        self.upsert_err(self.c, [full_row(1, n=1), full_row(3), full_row(4, title=long_title)],
                        (1100,), must_contain="max length")
        self.upsert_err(self.c, [full_row(1, n=1), full_row(4, tags=over)], (1100,),
                        must_contain="capacity")
        self.upsert_err(self.c, [{"id": 1, "title": "ok"}, {"id": 2, "title": long_title}],
                        (1100,), partial=True, must_contain="max length")
        self.upsert_err(self.c, [{"id": 2, "tags": over}], (1100,), partial=True,
                        must_contain="capacity")
        self.unchanged()

    def test_numeric_string_pk_is_the_same_key(self):
        """An Int64 pk may come as a numeric string (§3.2): 1 and "1" in one
        request are duplicates (1100); "2" alone updates key 2."""
        self.upsert_err(self.c, [full_row(1, n=1), full_row(1, id="1", n=2)], (1100,),
                        must_contain="duplicate primary keys")
        self.upsert_err(self.c, [{"id": 1, "n": 1}, {"id": "1", "n": 2}], (1100,), partial=True,
                        must_contain="duplicate primary keys")
        self.unchanged()
        self.assertEqual(self.upsert_ok(self.c, [{"id": "2", "n": 3}], partial=True)["upsertIds"],
                         [2])
        self.assertEqual(self.get_one(self.c, 2)["n"], 3)

    def test_int64_as_strings_header(self):
        """`Accept-Type-Allow-Int64: false` -> upsertIds as decimal strings
        (§1.3), override and merge."""
        h = {"Accept-Type-Allow-Int64": "false"}
        r = self.upsert(self.c, [full_row(1, n=4)], headers=h)
        self.assertEqual(r["data"]["upsertIds"], ["1"], r)
        r = self.upsert(self.c, [{"id": 2, "n": 4}], partial=True, headers=h)
        self.assertEqual(r["data"]["upsertIds"], ["2"], r)

    def test_unknown_partition(self):
        """partitionName that does not exist -> 200 `partition not found`."""
        self.upsert_err(self.c, [full_row(1, n=3)], (200,), partitionName="nope")
        self.upsert_err(self.c, [{"id": 1, "n": 3}], (200,), partial=True,
                        partitionName="nope")
        self.unchanged()


# ---------------------------------------------------------------------------

class AutoIdTest(UpsertCase):
    """§5.2 / §5.3 autoID: the sent key is deleted and the row re-inserted
    under a new generated key, returned in upsertIds."""

    def setUp(self):
        super().setUp()
        self.c = self.create_s55("auto", auto_id=True)
        r = self.ok("entities/insert", {"collectionName": self.c, "data": [
            {"title": "a", "n": 9, "v": [1, 0], "color": "red", "size": 3},
            {"title": "b", "n": 8, "v": [0, 1]}]})
        self.k1, self.k2 = r["data"]["insertIds"]

    def test_override_new_key(self):
        """Override upsert of k1 -> a new key k3 in upsertIds; k1 gone, k3
        holds the request's values; k2 untouched."""
        d = self.upsert_ok(self.c, [{"id": self.k1, "v": [0.5, 0.5], "color": "blue"}])
        (k3,) = d["upsertIds"]
        self.assertNotIn(k3, (self.k1, self.k2))
        self.assertEqual(self.get(self.c, [self.k1]), {})
        self.assertRow(self.get_one(self.c, k3), {"id": k3, "title": None, "n": 5,
                                                  "v": [0.5, 0.5], "color": "blue"})
        self.assertRow(self.get_one(self.c, self.k2), {"id": self.k2, "title": "b", "n": 8,
                                                       "v": [0, 1]})
        self.assertEqual(self.count(self.c), 2)

    def test_merge_carries_untouched_fields(self):
        """Merge upsert of k1 -> new key k3; k1 gone; the untouched fields
        (title, n, v, dynamic keys) carry over to k3."""
        d = self.upsert_ok(self.c, [{"id": self.k1, "title": "merged", "size": 4}],
                           partial=True)
        (k3,) = d["upsertIds"]
        self.assertNotIn(k3, (self.k1, self.k2))
        self.assertEqual(self.get(self.c, [self.k1]), {})
        self.assertRow(self.get_one(self.c, k3), {"id": k3, "title": "merged", "n": 9,
                                                  "v": [1, 0], "color": "red", "size": 4})
        self.assertEqual(self.count(self.c), 2)
        # and again, from the new key
        d = self.upsert_ok(self.c, [{"id": k3, "n": None}], partial=True)
        (k4,) = d["upsertIds"]
        self.assertNotIn(k4, (self.k1, self.k2, k3))
        self.assertEqual(self.get(self.c, [k3]), {})
        self.assertRow(self.get_one(self.c, k4), {"id": k4, "title": "merged", "n": 5,
                                                  "v": [1, 0], "color": "red", "size": 4})

    def test_merge_missing_key_inserted_under_new_key(self):
        """Merge of a key that does not exist, with every required field ->
        inserted under a new generated key (§5.3)."""
        missing = max(self.k1, self.k2) + 1000003
        d = self.upsert_ok(self.c, [{"id": missing, "v": [2, 2], "title": "z"}], partial=True)
        (k3,) = d["upsertIds"]
        self.assertNotIn(k3, (self.k1, self.k2))
        self.assertRow(self.get_one(self.c, k3), {"id": k3, "title": "z", "n": 5, "v": [2, 2]})
        self.assertEqual(self.count(self.c), 3)
        # without the vector: 1100 fieldSchema, nothing written
        self.upsert_err(self.c, [{"id": missing + 1, "title": "z"}], (1100,), partial=True,
                        must_contain="fieldSchema")
        self.assertEqual(self.count(self.c), 3)

    def test_several_rows_distinct_new_keys(self):
        """Override of both keys: two new distinct keys, the old ones gone."""
        d = self.upsert_ok(self.c, [{"id": self.k1, "v": [1, 1]}, {"id": self.k2, "v": [2, 2]}])
        new = d["upsertIds"]
        self.assertEqual(len(set(new)), 2)
        self.assertFalse(set(new) & {self.k1, self.k2})
        self.assertEqual(self.get(self.c, [self.k1, self.k2]), {})
        self.assertEqual(sorted(self.get(self.c, new)), sorted(new))
        self.assertEqual(self.count(self.c), 2)

    def test_missing_pk(self):
        """autoID upsert still needs the pk (§5.1.1): 1804 `... does not has
        field id` or 1100 `must assign pk`; nothing written."""
        for partial, row in ((False, {"v": [1, 1]}), (True, {"title": "q"})):
            with self.subTest(partial=partial):
                r = self.upsert_err(self.c, [row], (1804, 1100), partial=partial)
                self.assertTrue("id" in r["message"] or "pk" in r["message"], r)
        self.assertEqual(self.count(self.c), 2)
        self.assertEqual(sorted(self.get(self.c, [self.k1, self.k2])), sorted([self.k1, self.k2]))


# ---------------------------------------------------------------------------

class PartitionTest(UpsertCase):
    """§5.1.5 and decisions.md: keys are unique across the collection."""

    def setUp(self):
        super().setUp()
        self.c = self.create_s55()
        for p in ("A", "B"):
            self.ok("partitions/create", {"collectionName": self.c, "partitionName": p})

    def where(self, key):
        """The partitions holding key (each checked on its own)."""
        return sorted(p for p in ("_default", "A", "B")
                      if self.get(self.c, [key], partitions=[p]))

    def test_partition_name_targets_partition(self):
        """Upsert with partitionName A writes into A only."""
        d = self.upsert_ok(self.c, [{"id": 1, "v": [1, 0], "title": "a"}], partitionName="A")
        self.assertEqual(d["upsertIds"], [1])
        self.assertEqual(self.where(1), ["A"])
        self.assertEqual(self.count(self.c, ["A"]), 1)
        self.assertEqual(self.count(self.c, ["B"]), 0)
        self.upsert_ok(self.c, [{"id": 2, "v": [1, 0]}])
        self.assertEqual(self.where(2), ["_default"])

    def test_override_moves_key(self):
        """A key living in A, upserted (override) into B: afterwards exactly
        one row, in B, with the new values (Milvus would leave two)."""
        self.upsert_ok(self.c, [{"id": 1, "v": [1, 0], "title": "a"}], partitionName="A")
        self.upsert_ok(self.c, [{"id": 1, "v": [0, 1], "title": "b"}], partitionName="B")
        self.assertEqual(self.where(1), ["B"])
        self.assertEqual(self.count(self.c), 1)
        rows = self.query(self.c, "id in [1]")
        self.assertEqual(len(rows), 1, rows)
        self.assertRow(rows[0], {"id": 1, "title": "b", "n": 5, "v": [0, 1]})
        # and into _default without partitionName
        self.upsert_ok(self.c, [{"id": 1, "v": [0, 1], "title": "c"}])
        self.assertEqual(self.where(1), ["_default"])
        self.assertEqual(self.count(self.c), 1)

    def test_merge_without_partition_keeps_partition(self):
        """A merge without partitionName keeps the key in its partition (and
        merges); a new key of that merge goes to _default."""
        self.upsert_ok(self.c, [{"id": 1, "v": [1, 0], "title": "a", "n": 9}], partitionName="A")
        self.upsert_ok(self.c, [{"id": 1, "title": "m", "v": [3, 3]},
                                {"id": 2, "title": "new", "v": [4, 4]}], partial=True)
        self.assertEqual(self.where(1), ["A"])
        self.assertEqual(self.where(2), ["_default"])
        self.assertRow(self.get_one(self.c, 1), {"id": 1, "title": "m", "n": 9, "v": [3, 3]})
        self.assertEqual(self.count(self.c), 2)

    def test_merge_with_partition_moves_key(self):
        """A merge with partitionName B of a key in A moves it to B
        (decisions.md), with the untouched fields carried over."""
        self.upsert_ok(self.c, [{"id": 1, "v": [1, 0], "title": "a", "n": 9, "color": "red"}],
                       partitionName="A")
        self.upsert_ok(self.c, [{"id": 1, "title": "m"}], partial=True, partitionName="B")
        self.assertEqual(self.where(1), ["B"])
        self.assertEqual(self.count(self.c), 1)
        self.assertRow(self.get_one(self.c, 1), {"id": 1, "title": "m", "n": 9, "v": [1, 0],
                                                 "color": "red"})


    def test_partition_key_collection(self):
        """With a partition-key field (§5.1.5): an explicit partitionName is
        rejected (`not support manually specifying the partition names if
        partition key mode is used`), and changing the key's partition-key
        value by upsert leaves one row with the new value."""
        c = "pkc"
        self.ok("collections/create", {
            "collectionName": c,
            "schema": {"autoID": False, "enableDynamicField": False, "fields": [
                {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
                {"fieldName": "k", "dataType": "Int64", "isPartitionKey": True},
                {"fieldName": "v", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}}]},
            "params": {"partitionsNum": 4},
            "indexParams": [{"fieldName": "v", "indexName": "v", "metricType": "L2",
                             "indexType": "FLAT"}]})
        self.upsert_ok(c, [{"id": 1, "k": 1, "v": [1, 1]}])
        self.upsert_ok(c, [{"id": 1, "k": 2, "v": [1, 2]}])
        self.upsert_ok(c, [{"id": 1, "k": 3}], partial=True)
        rows = self.query(c)
        self.assertEqual(rows, [{"id": 1, "k": 3, "v": [1, 2]}])
        r = self.upsert(c, [{"id": 1, "k": 4, "v": [1, 1]}], partitionName="_default")
        self.assertNotEqual(r.get("code"), 0, r)
        self.assertIn("partition key", r.get("message", ""))
        self.assertEqual(self.query(c), [{"id": 1, "k": 3, "v": [1, 2]}])


# ---------------------------------------------------------------------------

class RetryTest(UpsertCase):
    """decisions.md "Retries": a write sent with `Tidemark-Request-Id` is
    applied once. Two WAL shards, so a request spans both."""

    server_args = ("--shards", "2")

    def rid(self):
        return {"Tidemark-Request-Id": str(uuid.uuid4())}

    def test_retried_merge_not_reapplied(self):
        """R1 merge sets title "first"; R2 (another id) overrides with
        "second"; a retry of R1 must not re-apply: title stays "second"."""
        c = self.create_s55()
        self.ok("entities/insert", {"collectionName": c, "data": [
            {"id": 1, "title": "orig", "n": 9, "v": [1, 0]}]})
        r1, r2 = self.rid(), self.rid()
        merge = [{"id": 1, "title": "first"}]
        self.upsert_ok(c, merge, partial=True, headers=r1)
        self.assertEqual(self.get_one(c, 1)["title"], "first")
        self.upsert_ok(c, [{"id": 1, "title": "second", "n": 2, "v": [0, 1]}], headers=r2)
        self.assertRow(self.get_one(c, 1), {"id": 1, "title": "second", "n": 2, "v": [0, 1]})
        self.upsert_ok(c, merge, partial=True, headers=r1)  # the retry
        self.assertRow(self.get_one(c, 1), {"id": 1, "title": "second", "n": 2, "v": [0, 1]})
        # a new id with the same body does apply
        self.upsert_ok(c, merge, partial=True, headers=self.rid())
        self.assertRow(self.get_one(c, 1), {"id": 1, "title": "first", "n": 2, "v": [0, 1]})

    def test_retried_override_not_reapplied(self):
        """R3 override sets n 7 on keys 0..19; R4 merge sets n 8; a retry of
        R3 leaves n 8 everywhere (keys on both shards)."""
        c = self.create_s55()
        keys = list(range(20))
        r3, r4 = self.rid(), self.rid()
        override = [{"id": k, "v": [k, 1], "n": 7, "title": "o"} for k in keys]
        self.upsert_ok(c, override, headers=r3)
        self.upsert_ok(c, [{"id": k, "n": 8} for k in keys], partial=True, headers=r4)
        self.upsert_ok(c, override, headers=r3)
        rows = self.get(c, keys)
        self.assertEqual(sorted(rows), keys)
        self.assertEqual({k: r["n"] for k, r in rows.items()}, {k: 8 for k in keys})
        self.assertEqual(self.count(c), 20)

    def test_retried_autoid_upsert_applies_once(self):
        """An autoID override upsert retried: the first attempt replaced k1
        by a new key; the retry must not insert another row."""
        c = self.create_s55("auto", auto_id=True)
        k1 = self.ok("entities/insert", {"collectionName": c, "data": [
            {"v": [1, 0], "title": "a"}]})["data"]["insertIds"][0]
        h = self.rid()
        k2 = self.upsert_ok(c, [{"id": k1, "v": [0, 1], "title": "b"}], headers=h)["upsertIds"][0]
        self.upsert_ok(c, [{"id": k1, "v": [0, 1], "title": "b"}], headers=h)
        self.assertEqual(self.count(c), 1)
        self.assertEqual(list(self.get(c, [k1, k2])), [k2])
        rows = self.query(c)
        self.assertEqual([r["id"] for r in rows], [k2])

    def send_retry(self, c, rows, partial, headers):
        """Sends a retry; returns its reply (checked by the caller after the
        state, so a wrong reply and a wrong state are told apart)."""
        return self.upsert(c, rows, partial, headers)

    def test_retried_autoid_merge_applies_once(self):
        """An autoID merge retried after another update: one row, the later
        update's value; the retry of an applied request answers code 0 (the
        client retries because it lost the first answer)."""
        c = self.create_s55("auto", auto_id=True)
        k1 = self.ok("entities/insert", {"collectionName": c, "data": [
            {"v": [1, 0], "title": "a", "n": 1}]})["data"]["insertIds"][0]
        h = self.rid()
        k2 = self.upsert_ok(c, [{"id": k1, "n": 2}], partial=True, headers=h)["upsertIds"][0]
        k3 = self.upsert_ok(c, [{"id": k2, "n": 3}], partial=True,
                            headers=self.rid())["upsertIds"][0]
        reply = self.send_retry(c, [{"id": k1, "n": 2}], True, h)
        rows = self.query(c)
        self.assertEqual([(r["id"], r["n"], r["title"]) for r in rows], [(k3, 3, "a")])
        self.assertEqual(reply.get("code"), 0, "retry of an applied merge -> %r" % reply)

    def test_retried_merge_after_delete(self):
        """A merge of key 1 (title only) applied, then key 1 deleted; the
        retry must not re-apply (key 1 stays deleted) and answers code 0."""
        c = self.create_s55()
        self.ok("entities/insert", {"collectionName": c, "data": [
            {"id": 1, "title": "orig", "n": 9, "v": [1, 0]}]})
        h = self.rid()
        self.upsert_ok(c, [{"id": 1, "title": "first"}], partial=True, headers=h)
        self.ok("entities/delete", {"collectionName": c, "filter": "id in [1]"})
        reply = self.send_retry(c, [{"id": 1, "title": "first"}], True, h)
        self.assertEqual(self.get(c, [1]), {})
        self.assertEqual(self.count(c), 0)
        self.assertEqual(reply.get("code"), 0, "retry of an applied merge -> %r" % reply)

    def test_retry_after_kill9(self):
        """The request-id window survives a crash: R1 merge applied, R2
        override applied, kill -9, restart; a retry of R1 is not re-applied."""
        c = self.create_s55()
        self.ok("entities/insert", {"collectionName": c, "data": [
            {"id": k, "title": "orig", "n": 9, "v": [1, 0]} for k in range(10)]})
        r1 = self.rid()
        merge = [{"id": k, "title": "first"} for k in range(10)]
        self.upsert_ok(c, merge, partial=True, headers=r1)
        self.upsert_ok(c, [{"id": k, "title": "second", "v": [0, 1]} for k in range(10)],
                       headers=self.rid())
        self.srv.kill9()
        self.srv.restart()
        harness.wait_until(lambda: self.srv.post("entities/query", {
            "collectionName": c, "filter": "", "outputFields": ["count(*)"],
            "consistencyLevel": "Strong"}).get("code") == 0, timeout_s=20, what="reads")
        reply = self.send_retry(c, merge, True, r1)
        rows = self.get(c, range(10))
        self.assertEqual({k: r["title"] for k, r in rows.items()}, {k: "second" for k in range(10)})
        self.assertEqual(reply.get("code"), 0, reply)

    def test_failed_request_id_not_remembered(self):
        """A request that failed validation writes nothing, so sending it
        again (fixed) under the same id applies."""
        c = self.create_s55()
        h = self.rid()
        r = self.upsert(c, [{"id": 1, "v": [1, 2, 3]}], headers=h)
        self.assertEqual(r["code"], 1804, r)
        self.upsert_ok(c, [{"id": 1, "v": [1, 2]}], headers=h)
        self.assertRow(self.get_one(c, 1), {"id": 1, "title": None, "n": 5, "v": [1, 2]})


# ---------------------------------------------------------------------------
# The same merge, autoID and partition tests with three WAL shards: a
# request's keys span shards, and an autoID merge must find the old key's
# latest version on its shard.

class MergeModeShardsTest(MergeModeTest):
    server_args = ("--shards", "3")


class AutoIdShardsTest(AutoIdTest):
    server_args = ("--shards", "3")


class PartitionShardsTest(PartitionTest):
    server_args = ("--shards", "3")


if __name__ == "__main__":
    harness.run_tests()
