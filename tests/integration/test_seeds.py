"""The code examples of the upsert seed documents, over REST.

Seeds (/work/shared/seeds/): upsert-entities-v2.6.md, upsert-entities-v2.3.md,
pymilvus-milvusclient-upsert.md, go-sdk-upsert.md, zilliz-cloud-upsert.md.

* cURL examples are sent verbatim (same JSON bodies, byte for byte, and the
  same headers); only the endpoint is the test server's.
* Python / Java / Node / Go examples are translated to the REST calls their
  SDKs make, with the same data (column-based data becomes rows).
* Each example gets the collection its document assumes (created with a
  REST create call) and its documented outcome is checked: upsertCount /
  upsertIds, then the stored rows read back with get / query at
  consistencyLevel Strong (override and merge results, nullable, dynamic
  and JSON fields, autoID, partitions).

Every test starts its own server. Each test's docstring names the seed file
and section.

Usage: test_seeds.py /path/to/tidemark [unittest args]
"""

import json
import os
import random
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

f32 = harness.f32
TOKEN_HEADERS = {"Authorization": "Bearer root:Milvus", "Content-Type": "application/json"}

# ---------------------------------------------------------------------------
# upsert-entities-v2.6.md data

# "Upsert entities in a collection": Python, Java and NodeJS rows.
V26_ROWS = [
    {"id": 0,
     "vector": [-0.619954382375778, 0.4479436794798608, -0.17493894838751745,
                -0.4248030059917294, -0.8648452746018911],
     "title": "Artificial Intelligence in Real Life", "issue": "vol.12"},
    {"id": 1,
     "vector": [0.4762662251462588, -0.6942502138717026, -0.4490002642657902,
                -0.628696575798281, 0.9660395877041965],
     "title": "Hollow Man", "issue": "vol.19"},
    {"id": 2,
     "vector": [-0.8864122635045097, 0.9260170474445351, 0.801326976181461,
                0.6383943392381306, 0.7563037341572827],
     "title": "Treasure Hunt in Missouri", "issue": "vol.12"},
]

# The Go and cURL examples use these vectors (same titles and issues).
V26_GO_CURL_VECTORS = [
    [0.3580376395471989, -0.6023495712049978, 0.18414012509913835, -0.26286205330961354,
     0.9029438446296592],
    [0.19886812562848388, 0.06023560599112088, 0.6976963061752597, 0.2614474506242501,
     0.838729485096104],
    [0.43742130801983836, -0.5597502546264526, 0.6457887650909682, 0.7894058910881185,
     0.20785793220625592],
]
V26_TITLES = ["Artificial Intelligence in Real Life", "Hollow Man", "Treasure Hunt in Missouri"]
V26_ISSUES = ["vol.12", "vol.19", "vol.12"]

# The cURL call of "Upsert entities in a collection", verbatim (note the
# trailing commas the document has after the last row).
V26_CURL_BODY = """{
    "data": [
        {"id": 0, "vector": [0.3580376395471989, -0.6023495712049978, 0.18414012509913835, -0.26286205330961354, 0.9029438446296592], "title": "Artificial Intelligence in Real Life", "issue": "vol.12"},
        {"id": 1, "vector": [0.19886812562848388, 0.06023560599112088, 0.6976963061752597, 0.2614474506242501, 0.838729485096104], "title": "Hollow Man", "issue": "vol.19"},
        {"id": 2, "vector": [0.43742130801983836, -0.5597502546264526, 0.6457887650909682, 0.7894058910881185, 0.20785793220625592], "title": "Treasure Hunt in Missouri", "issue": "vol.12"},
],
    "collectionName": "my_collection"
}"""  # noqa: E501

# "Upsert entities in a partition": Python, Java, NodeJS and cURL rows.
V26_PART_ROWS = [
    {"id": 10,
     "vector": [0.06998888224297328, 0.8582816610326578, -0.9657938677934292,
                0.6527905683627726, -0.8668460657158576],
     "title": "Layour Design Reference", "issue": "vol.34"},
    {"id": 11,
     "vector": [0.6060703043917468, -0.3765080534566074, -0.7710758854987239,
                0.36993888322346136, 0.5507513364206531],
     "title": "Doraemon and His Friends", "issue": "vol.2"},
    {"id": 12,
     "vector": [-0.9041813104515337, -0.9610546012461163, 0.20033003106083358,
                0.11842506351635174, 0.8327356724591011],
     "title": "Pikkachu and Pokemon", "issue": "vol.12"},
]
V26_PART_TITLES = ["Layour Design Reference", "Doraemon and His Friends", "Pikkachu and Pokemon"]
V26_PART_ISSUES = ["vol.34", "vol.2", "vol.12"]

V26_PART_CURL_BODY = """{
    "data": [
        {"id": 10, "vector": [0.06998888224297328, 0.8582816610326578, -0.9657938677934292, 0.6527905683627726, -0.8668460657158576], "title": "Layour Design Reference", "issue": "vol.34"},
        {"id": 11, "vector": [0.6060703043917468, -0.3765080534566074, -0.7710758854987239, 0.36993888322346136, 0.5507513364206531], "title": "Doraemon and His Friends", "issue": "vol.2"},
        {"id": 12, "vector": [-0.9041813104515337, -0.9610546012461163, 0.20033003106083358, 0.11842506351635174, 0.8327356724591011], "title": "Pikkachu and Pokemon", "issue": "vol.12"},
    ],
    "collectionName": "my_collection",
    "partitionName": "partitionA"
}"""  # noqa: E501

# "Upsert entities in merge mode".
V26_MERGE_ROWS = [{"id": 3, "issue": "vol.14"}, {"id": 12, "issue": "vol.7"}]
V26_MERGE_CURL_BODY = """{
    "data": [
        {"id": 3, "issue": "vol.14"},
        {"id": 12, "issue": "vol.7"}
    ],
    "collectionName": "my_collection",
    "partialUpdate": true
}"""


def without_trailing_commas(text):
    """The same JSON text with the commas before a closing bracket removed
    (the only thing that keeps the documents' cURL bodies from parsing)."""
    return re.sub(r",(\s*[\]}])", r"\1", text)


def rows_of_columns(**cols):
    """Column-based SDK data as REST rows (all columns of equal length)."""
    names = list(cols)
    n = len(cols[names[0]])
    assert all(len(cols[k]) == n for k in names), {k: len(v) for k, v in cols.items()}
    return [{k: cols[k][i] for k in names} for i in range(n)]


def my_collection_body(nullable_issue=False, dynamic=False, extras=False, auto_id=False):
    """upsert-entities-v2.6.md's my_collection: id (Int64 pk), vector
    (FloatVector dim 5), title and issue (VarChar); the special notes add a
    nullable issue, the dynamic field and a JSON field `extras`."""
    issue = {"fieldName": "issue", "dataType": "VarChar", "elementTypeParams": {"max_length": 512}}
    if nullable_issue:
        issue["nullable"] = True
    fields = [{"fieldName": "id", "dataType": "Int64", "isPrimary": True},
              {"fieldName": "vector", "dataType": "FloatVector", "elementTypeParams": {"dim": 5}},
              {"fieldName": "title", "dataType": "VarChar",
               "elementTypeParams": {"max_length": 512}},
              issue]
    if extras:
        fields.append({"fieldName": "extras", "dataType": "JSON"})
    return {"collectionName": "my_collection",
            "schema": {"autoID": auto_id, "enableDynamicField": dynamic, "fields": fields},
            "indexParams": [{"fieldName": "vector", "indexName": "vector_idx",
                             "metricType": "COSINE", "indexType": "AUTOINDEX"}]}


class SeedCase(unittest.TestCase):
    """A fresh server per test; Strong reads; row comparison."""

    def setUp(self):
        self.srv = harness.Server()
        self.addCleanup(self.srv.close)

    def ok(self, path, body):
        return self.srv.ok(path, body)

    def upsert(self, coll, rows, partial=False, partition=None):
        body = {"collectionName": coll, "data": rows}
        if partial:
            body["partialUpdate"] = True
        if partition is not None:
            body["partitionName"] = partition
        return self.srv.post("entities/upsert", body)

    def upsert_ok(self, coll, rows, partial=False, partition=None):
        r = self.upsert(coll, rows, partial, partition)
        self.assertEqual(r.get("code"), 0, "upsert -> %r" % r)
        return r["data"]

    def curl(self, body_text):
        """The documents' cURL call: POST /v2/vectordb/entities/upsert with
        the Authorization and Content-Type headers and the body as given."""
        status, _, payload = self.srv.raw("POST", "/v2/vectordb/entities/upsert",
                                          body_text.encode(), TOKEN_HEADERS)
        self.assertEqual(status, 200, payload[:300])
        return json.loads(payload)

    def get(self, coll, keys, partitions=None, fields=None):
        body = {"collectionName": coll, "id": list(keys), "consistencyLevel": "Strong"}
        if partitions is not None:
            body["partitionNames"] = partitions
        if fields is not None:
            body["outputFields"] = fields
        return {r[self.pk]: r for r in self.ok("entities/get", body)["data"]}

    def count(self, coll, partitions=None):
        body = {"collectionName": coll, "filter": "", "outputFields": ["count(*)"],
                "consistencyLevel": "Strong"}
        if partitions is not None:
            body["partitionNames"] = partitions
        return self.ok("entities/query", body)["data"][0]["count(*)"]

    def norm(self, row, vec_fields=("vector", "embeddings", "book_intro", "title_vector"),
             json_fields=("extras",)):
        r = dict(row)
        for vf in vec_fields:
            if isinstance(r.get(vf), list):
                r[vf] = [f32(x) for x in r[vf]]
        for jf in json_fields:
            if isinstance(r.get(jf), str):
                r[jf] = json.loads(r[jf])
        return r

    def assertRows(self, coll, want_rows, partitions=None):
        """Each row of want_rows is stored exactly (every field, nothing
        else), read back with get at Strong."""
        got = self.get(coll, [w[self.pk] for w in want_rows], partitions)
        self.assertEqual(sorted(got), sorted(w[self.pk] for w in want_rows),
                         "keys found %r" % sorted(got))
        for w in want_rows:
            self.assertEqual(self.norm(got[w[self.pk]]), self.norm(w))

    pk = "id"


# ---------------------------------------------------------------------------

class UpsertEntitiesV26Test(SeedCase):
    """upsert-entities-v2.6.md"""

    OLD = [{"id": 0, "vector": [1, 1, 1, 1, 1], "title": "old 0", "issue": "old"},
           {"id": 1, "vector": [2, 2, 2, 2, 2], "title": "old 1", "issue": "old"}]

    def make(self, **kw):
        self.ok("collections/create", my_collection_body(**kw))
        self.ok("partitions/create", {"collectionName": "my_collection",
                                      "partitionName": "partitionA"})

    def prepare_collection_example(self):
        """my_collection with ids 0 and 1 stored (old values); id 2 absent,
        so the example both overrides and inserts."""
        self.make()
        self.ok("entities/insert", {"collectionName": "my_collection", "data": self.OLD})

    def check_collection_example(self, rows):
        self.assertRows("my_collection", rows)
        self.assertEqual(self.count("my_collection"), 3)
        self.assertEqual(self.count("my_collection", ["_default"]), 3)

    # ---- "Upsert entities in a collection" ----

    def test_collection_python(self):
        """upsert-entities-v2.6.md, "Upsert entities in a collection", Python:
        client.upsert(collection_name='my_collection', data=data) ->
        {'upsert_count': 3}; ids 0..2 hold exactly the sent rows."""
        self.prepare_collection_example()
        d = self.upsert_ok("my_collection", V26_ROWS)
        self.assertEqual(d["upsertCount"], 3)
        self.check_collection_example(V26_ROWS)

    def test_collection_java(self):
        """upsert-entities-v2.6.md, "Upsert entities in a collection", Java:
        UpsertReq(collectionName my_collection, data) -> UpsertResp(upsertCnt=3).
        (The document's `"\\vol.12"` is a Java escape typo for "vol.12".)"""
        self.prepare_collection_example()
        d = self.upsert_ok("my_collection", V26_ROWS)
        self.assertEqual(d["upsertCount"], 3)
        self.check_collection_example(V26_ROWS)

    def test_collection_node(self):
        """upsert-entities-v2.6.md, "Upsert entities in a collection", NodeJS:
        client.upsert({collection_name, data}) -> upsert_cnt 3."""
        self.prepare_collection_example()
        d = self.upsert_ok("my_collection", V26_ROWS)
        self.assertEqual(d["upsertCount"], 3)
        self.check_collection_example(V26_ROWS)

    def test_collection_go(self):
        """upsert-entities-v2.6.md, "Upsert entities in a collection", Go:
        the title, issue and vector columns hold 3 values, so the 3 complete
        rows (ids 0..2) are upserted; they are stored as sent."""
        self.prepare_collection_example()
        rows = rows_of_columns(id=[0, 1, 2], vector=V26_GO_CURL_VECTORS, title=V26_TITLES,
                               issue=V26_ISSUES)
        d = self.upsert_ok("my_collection", rows)
        self.assertEqual(d["upsertCount"], 3)
        self.check_collection_example(rows)

    def test_collection_go_as_written(self):
        """upsert-entities-v2.6.md, "Upsert entities in a collection", Go, as
        written: the id column has 10 values (0..9) but vector, title and
        issue only 3. As rows: ids 3..9 carry no vector/title/issue, so the
        request must fail whole (1804, missing fields) and write nothing."""
        self.prepare_collection_example()
        before = self.get("my_collection", [0, 1])
        rows = rows_of_columns(id=[0, 1, 2], vector=V26_GO_CURL_VECTORS, title=V26_TITLES,
                               issue=V26_ISSUES) + [{"id": i} for i in range(3, 10)]
        r = self.upsert("my_collection", rows)
        self.assertIn(r.get("code"), (1804, 1100), r)
        self.assertEqual(self.get("my_collection", range(10)), before)
        self.assertEqual(self.count("my_collection"), 2)

    def test_collection_curl(self):
        """upsert-entities-v2.6.md, "Upsert entities in a collection", cURL,
        body as documented but without the trailing commas after the last
        row: {"code":0,"data":{"upsertCount":3,"upsertIds":[0,1,2]}}."""
        self.prepare_collection_example()
        r = self.curl(without_trailing_commas(V26_CURL_BODY))
        self.assertEqual(r.get("code"), 0, r)
        self.assertEqual(r["data"]["upsertCount"], 3)
        self.assertEqual(sorted(r["data"]["upsertIds"]), [0, 1, 2])
        self.check_collection_example(rows_of_columns(
            id=[0, 1, 2], vector=V26_GO_CURL_VECTORS, title=V26_TITLES, issue=V26_ISSUES))

    def test_collection_curl_verbatim(self):
        """upsert-entities-v2.6.md, "Upsert entities in a collection", cURL,
        verbatim -- including the trailing comma after the last row (`},\\n],`).
        Documented outcome: {"code":0,"data":{"upsertCount":3,"upsertIds":[0,1,2]}}."""
        self.prepare_collection_example()
        r = self.curl(V26_CURL_BODY)
        self.assertEqual(r.get("code"), 0, "verbatim cURL body of the seed -> %r" % r)
        self.assertEqual(r["data"]["upsertCount"], 3)
        self.assertEqual(sorted(r["data"]["upsertIds"]), [0, 1, 2])
        self.check_collection_example(rows_of_columns(
            id=[0, 1, 2], vector=V26_GO_CURL_VECTORS, title=V26_TITLES, issue=V26_ISSUES))

    # ---- "Upsert entities in a partition" ----

    def prepare_partition_example(self):
        """my_collection with partitionA holding ids 10 and 11 (old values);
        id 12 absent."""
        self.make()
        old = [{"id": 10, "vector": [1, 0, 0, 0, 0], "title": "old", "issue": "old"},
               {"id": 11, "vector": [0, 1, 0, 0, 0], "title": "old", "issue": "old"}]
        self.ok("entities/insert", {"collectionName": "my_collection", "data": old,
                                    "partitionName": "partitionA"})

    def check_partition_example(self, rows):
        self.assertRows("my_collection", rows, partitions=["partitionA"])
        self.assertEqual(self.get("my_collection", [r["id"] for r in rows],
                                  partitions=["_default"]), {})
        self.assertEqual(self.count("my_collection", ["partitionA"]), 3)
        self.assertEqual(self.count("my_collection"), 3)

    def test_partition_python(self):
        """upsert-entities-v2.6.md, "Upsert entities in a partition", Python:
        client.upsert(..., partition_name="partitionA") -> {'upsert_count': 3};
        the rows live in partitionA only."""
        self.prepare_partition_example()
        d = self.upsert_ok("my_collection", V26_PART_ROWS, partition="partitionA")
        self.assertEqual(d["upsertCount"], 3)
        self.check_partition_example(V26_PART_ROWS)

    def test_partition_java(self):
        """upsert-entities-v2.6.md, "Upsert entities in a partition", Java:
        .partitionName("partitionA") -> UpsertResp(upsertCnt=3)."""
        self.prepare_partition_example()
        d = self.upsert_ok("my_collection", V26_PART_ROWS, partition="partitionA")
        self.assertEqual(d["upsertCount"], 3)
        self.check_partition_example(V26_PART_ROWS)

    def test_partition_node(self):
        """upsert-entities-v2.6.md, "Upsert entities in a partition", NodeJS:
        partition_name "partitionA" -> upsert_cnt 3."""
        self.prepare_partition_example()
        d = self.upsert_ok("my_collection", V26_PART_ROWS, partition="partitionA")
        self.assertEqual(d["upsertCount"], 3)
        self.check_partition_example(V26_PART_ROWS)

    def test_partition_go(self):
        """upsert-entities-v2.6.md, "Upsert entities in a partition", Go:
        WithPartition("partitionA"); the vector/title/issue columns hold 3
        values, so ids 10..12 with those values are upserted."""
        self.prepare_partition_example()
        rows = rows_of_columns(id=[10, 11, 12], vector=V26_GO_CURL_VECTORS,
                               title=V26_PART_TITLES, issue=V26_PART_ISSUES)
        d = self.upsert_ok("my_collection", rows, partition="partitionA")
        self.assertEqual(d["upsertCount"], 3)
        self.check_partition_example(rows)

    def test_partition_go_as_written(self):
        """upsert-entities-v2.6.md, "Upsert entities in a partition", Go, as
        written: 10 ids (10..19) but 3 vectors/titles/issues; as rows, ids
        13..19 lack required fields -> the request fails whole (1804),
        nothing written."""
        self.prepare_partition_example()
        before = self.get("my_collection", [10, 11])
        rows = rows_of_columns(id=[10, 11, 12], vector=V26_GO_CURL_VECTORS,
                               title=V26_PART_TITLES, issue=V26_PART_ISSUES)
        rows += [{"id": i} for i in range(13, 20)]
        r = self.upsert("my_collection", rows, partition="partitionA")
        self.assertIn(r.get("code"), (1804, 1100), r)
        self.assertEqual(self.get("my_collection", range(10, 20)), before)

    def test_partition_curl(self):
        """upsert-entities-v2.6.md, "Upsert entities in a partition", cURL,
        without the trailing commas: upsertCount 3, upsertIds [10,11,12]."""
        self.prepare_partition_example()
        r = self.curl(without_trailing_commas(V26_PART_CURL_BODY))
        self.assertEqual(r.get("code"), 0, r)
        self.assertEqual(r["data"]["upsertCount"], 3)
        self.assertEqual(sorted(r["data"]["upsertIds"]), [10, 11, 12])
        self.check_partition_example(V26_PART_ROWS)

    def test_partition_curl_verbatim(self):
        """upsert-entities-v2.6.md, "Upsert entities in a partition", cURL,
        verbatim (trailing comma after the last row). Documented outcome:
        {"code":0,"data":{"upsertCount":3,"upsertIds":[10,11,12]}}."""
        self.prepare_partition_example()
        r = self.curl(V26_PART_CURL_BODY)
        self.assertEqual(r.get("code"), 0, "verbatim cURL body of the seed -> %r" % r)
        self.assertEqual(r["data"]["upsertCount"], 3)
        self.assertEqual(sorted(r["data"]["upsertIds"]), [10, 11, 12])
        self.check_partition_example(V26_PART_ROWS)

    # ---- "Upsert entities in merge mode" ----

    ID3 = {"id": 3, "vector": [0.5, -0.5, 0.25, -0.25, 1.0], "title": "Three", "issue": "vol.3"}

    def prepare_merge_example(self):
        """The state the document's flow leaves: id 3 in _default, ids
        10..12 in partitionA (the partition example)."""
        self.make()
        self.ok("entities/insert", {"collectionName": "my_collection", "data": [self.ID3]})
        self.ok("entities/insert", {"collectionName": "my_collection", "data": V26_PART_ROWS,
                                    "partitionName": "partitionA"})

    def check_merge_example(self, issue3, issue12):
        """Only `issue` changed; id 12 stayed in partitionA, id 3 in _default."""
        self.assertRows("my_collection", [dict(self.ID3, issue=issue3)], partitions=["_default"])
        self.assertRows("my_collection", [dict(V26_PART_ROWS[2], issue=issue12),
                                          V26_PART_ROWS[0], V26_PART_ROWS[1]],
                        partitions=["partitionA"])
        self.assertEqual(self.count("my_collection"), 4)

    def test_merge_python(self):
        """upsert-entities-v2.6.md, "Upsert entities in merge mode", Python:
        partial_update=True, rows {id 3, issue vol.14}, {id 12, issue vol.7}
        -> {'upsert_count': 2}; only issue changes."""
        self.prepare_merge_example()
        d = self.upsert_ok("my_collection", V26_MERGE_ROWS, partial=True)
        self.assertEqual(d["upsertCount"], 2)
        self.check_merge_example("vol.14", "vol.7")

    def test_merge_java(self):
        """upsert-entities-v2.6.md, "Upsert entities in merge mode", Java:
        .partialUpdate(true) -> UpsertResp(upsertCnt=2)."""
        self.prepare_merge_example()
        d = self.upsert_ok("my_collection", [{"id": 3, "issue": "vol.14"},
                                             {"id": 12, "issue": "vol.7"}], partial=True)
        self.assertEqual(d["upsertCount"], 2)
        self.check_merge_example("vol.14", "vol.7")

    def test_merge_go(self):
        """upsert-entities-v2.6.md, "Upsert entities in merge mode", Go:
        id column [3, 12], issue column ["vol.17", "vol.7"],
        WithPartialUpdate(true)."""
        self.prepare_merge_example()
        d = self.upsert_ok("my_collection", rows_of_columns(id=[3, 12], issue=["vol.17", "vol.7"]),
                           partial=True)
        self.assertEqual(d["upsertCount"], 2)
        self.check_merge_example("vol.17", "vol.7")

    def test_merge_node(self):
        """upsert-entities-v2.6.md, "Upsert entities in merge mode", NodeJS:
        partial_update: true -> 2."""
        self.prepare_merge_example()
        d = self.upsert_ok("my_collection", V26_MERGE_ROWS, partial=True)
        self.assertEqual(d["upsertCount"], 2)
        self.check_merge_example("vol.14", "vol.7")

    def test_merge_curl_verbatim(self):
        """upsert-entities-v2.6.md, "Upsert entities in merge mode", cURL,
        verbatim ("partialUpdate": true): upsertCount 2, upsertIds [3, 12]."""
        self.prepare_merge_example()
        r = self.curl(V26_MERGE_CURL_BODY)
        self.assertEqual(r.get("code"), 0, r)
        self.assertEqual(r["data"]["upsertCount"], 2)
        self.assertEqual(sorted(r["data"]["upsertIds"]), [3, 12])
        self.check_merge_example("vol.14", "vol.7")

    def test_merge_missing_key_fails(self):
        """upsert-entities-v2.6.md, "Upsert entities in merge mode", run on a
        collection where id 3 does not exist: the merge would insert id 3
        without vector/title, so the whole request fails (1100 `fieldSchema`,
        milvus-rest-v2.md §5.3) and id 12 is not changed either."""
        self.make()
        self.ok("entities/insert", {"collectionName": "my_collection", "data": V26_PART_ROWS,
                                    "partitionName": "partitionA"})
        r = self.curl(V26_MERGE_CURL_BODY)
        self.assertEqual(r.get("code"), 1100, r)
        self.assertIn("fieldSchema", r.get("message", ""))
        self.assertRows("my_collection", V26_PART_ROWS, partitions=["partitionA"])
        self.assertEqual(self.get("my_collection", [3]), {})

    # ---- "Upsert behaviors: special notes" and "Overview" ----

    def test_note_nullable_override(self):
        """upsert-entities-v2.6.md, "Upsert behaviors: special notes", nullable:
        omitting the nullable `issue` with partial_update disabled sets it to
        null instead of keeping it."""
        self.make(nullable_issue=True)
        row = {"id": 1, "vector": [1, 2, 3, 4, 5], "title": "T", "issue": "vol.1"}
        self.ok("entities/insert", {"collectionName": "my_collection", "data": [row]})
        self.upsert_ok("my_collection", [{"id": 1, "vector": [1, 2, 3, 4, 5], "title": "T2"}])
        self.assertRows("my_collection", [dict(row, title="T2", issue=None)])

    def test_note_nullable_merge(self):
        """upsert-entities-v2.6.md, "Upsert behaviors: special notes", nullable:
        to keep `issue`, enable partial_update and omit it, or send its
        original value."""
        self.make(nullable_issue=True)
        row = {"id": 1, "vector": [1, 2, 3, 4, 5], "title": "T", "issue": "vol.1"}
        self.ok("entities/insert", {"collectionName": "my_collection", "data": [row]})
        self.upsert_ok("my_collection", [{"id": 1, "title": "T2"}], partial=True)
        self.assertRows("my_collection", [dict(row, title="T2")])
        self.upsert_ok("my_collection", [{"id": 1, "vector": [1, 2, 3, 4, 5], "title": "T3",
                                          "issue": "vol.1"}])
        self.assertRows("my_collection", [dict(row, title="T3")])

    DYN = {"author": "John", "year": 2020, "tags": ["fiction"]}

    def test_note_dynamic_override(self):
        """upsert-entities-v2.6.md, "Upsert behaviors: special notes", dynamic
        field, partial_update disabled: stored {"author":"John","year":2020,
        "tags":["fiction"]}, request {"author":"Jane","genre":"fantasy"} ->
        the dynamic field is exactly {"author":"Jane","genre":"fantasy"}."""
        self.make(nullable_issue=True, dynamic=True)
        base = {"id": 1, "vector": [1, 2, 3, 4, 5], "title": "T", "issue": "vol.1"}
        self.ok("entities/insert", {"collectionName": "my_collection",
                                    "data": [dict(base, **self.DYN)]})
        self.assertRows("my_collection", [dict(base, **self.DYN)])
        self.upsert_ok("my_collection", [dict(base, author="Jane", genre="fantasy")])
        self.assertRows("my_collection", [dict(base, author="Jane", genre="fantasy")])

    def test_note_dynamic_merge(self):
        """upsert-entities-v2.6.md, "Upsert behaviors: special notes", dynamic
        field, partial_update enabled: request {"author":"Jane","genre":
        "fantasy"} -> {"author":"Jane","year":2020,"tags":["fiction"],
        "genre":"fantasy"}."""
        self.make(nullable_issue=True, dynamic=True)
        base = {"id": 1, "vector": [1, 2, 3, 4, 5], "title": "T", "issue": "vol.1"}
        self.ok("entities/insert", {"collectionName": "my_collection",
                                    "data": [dict(base, **self.DYN)]})
        self.upsert_ok("my_collection", [{"id": 1, "author": "Jane", "genre": "fantasy"}],
                       partial=True)
        self.assertRows("my_collection", [dict(base, author="Jane", year=2020, tags=["fiction"],
                                               genre="fantasy")])

    def test_note_json_override(self):
        """upsert-entities-v2.6.md, "Upsert behaviors: special notes", JSON
        field `extras`, partial_update disabled: {extras: {"author":"Jane",
        "genre":"fantasy"}} replaces the stored value whole."""
        self.make(nullable_issue=True, extras=True)
        base = {"id": 1, "vector": [1, 2, 3, 4, 5], "title": "T", "issue": "vol.1"}
        self.ok("entities/insert", {"collectionName": "my_collection",
                                    "data": [dict(base, extras=self.DYN)]})
        new = {"author": "Jane", "genre": "fantasy"}
        self.upsert_ok("my_collection", [dict(base, extras=new)])
        self.assertRows("my_collection", [dict(base, extras=new)])

    def test_note_json_merge(self):
        """upsert-entities-v2.6.md, "Upsert behaviors: special notes", JSON
        field `extras`, partial_update enabled: {extras: {"author":"Jane",
        "genre":"fantasy"}} -> {"author":"Jane","year":2020,"tags":
        ["fiction"],"genre":"fantasy"}."""
        self.make(nullable_issue=True, extras=True)
        base = {"id": 1, "vector": [1, 2, 3, 4, 5], "title": "T", "issue": "vol.1"}
        self.ok("entities/insert", {"collectionName": "my_collection",
                                    "data": [dict(base, extras=self.DYN)]})
        self.upsert_ok("my_collection", [{"id": 1, "extras": {"author": "Jane",
                                                              "genre": "fantasy"}}], partial=True)
        self.assertRows("my_collection", [dict(base, extras={
            "author": "Jane", "year": 2020, "tags": ["fiction"], "genre": "fantasy"})])

    def test_overview_autoid(self):
        """upsert-entities-v2.6.md, "Upsert in override mode": with autoid on
        the primary field, a new primary key is generated for the data before
        it is inserted (the old entity is deleted)."""
        self.make(auto_id=True)
        old = self.ok("entities/insert", {"collectionName": "my_collection", "data": [
            {k: v for k, v in V26_ROWS[0].items() if k != "id"}]})["data"]["insertIds"][0]
        d = self.upsert_ok("my_collection", [dict(V26_ROWS[1], id=old)])
        (new,) = d["upsertIds"]
        self.assertNotEqual(new, old)
        self.assertEqual(self.get("my_collection", [old]), {})
        self.assertRows("my_collection", [dict(V26_ROWS[1], id=new)])
        self.assertEqual(self.count("my_collection"), 1)

    def test_limits(self):
        """upsert-entities-v2.6.md, "Limits & Restrictions": the request must
        include the primary keys; every field must exist in the schema; values
        must match the schema types; for merge the collection must be loaded.
        Each violation fails the request and changes nothing."""
        self.make()
        row = {"id": 1, "vector": [1, 2, 3, 4, 5], "title": "T", "issue": "vol.1"}
        self.ok("entities/insert", {"collectionName": "my_collection", "data": [row]})
        cases = [
            ("no primary key", [{"vector": [1, 2, 3, 4, 5], "title": "x", "issue": "y"}], False,
             (1804, 1100)),
            ("no primary key, merge", [{"issue": "y"}], True, (1804, 1100)),
            ("field not in schema", [dict(row, author="x")], False, (1804,)),
            ("field not in schema, merge", [{"id": 1, "author": "x"}], True, (1804,)),
            ("wrong type", [dict(row, vector="abc")], False, (1804,)),
            ("wrong type, merge", [{"id": 1, "vector": "abc"}], True, (1804,)),
            ("wrong vector length", [dict(row, vector=[1, 2])], False, (1804,)),
        ]
        for what, rows, partial, codes in cases:
            with self.subTest(what):
                r = self.upsert("my_collection", rows, partial)
                self.assertIn(r.get("code"), codes, r)
        self.assertRows("my_collection", [row])
        self.assertEqual(self.count("my_collection"), 1)
        self.ok("collections/release", {"collectionName": "my_collection"})
        r = self.upsert("my_collection", [{"id": 1, "issue": "z"}], partial=True)
        self.assertEqual(r.get("code"), 101, r)


# ---------------------------------------------------------------------------

class UpsertEntitiesV23Test(SeedCase):
    """upsert-entities-v2.3.md"""

    pk = "book_id"

    def book_body(self):
        """The v2.3 docs' `book` collection (Create a Collection): book_id
        Int64 pk, book_name VarChar(200), word_count Int64, book_intro
        FloatVector (dim 8 here, as the example's data), dynamic field on (the
        fifth column, str("dy"*i), is a dynamic value)."""
        return {"collectionName": "book",
                "schema": {"autoID": False, "enableDynamicField": True, "fields": [
                    {"fieldName": "book_id", "dataType": "Int64", "isPrimary": True},
                    {"fieldName": "book_name", "dataType": "VarChar",
                     "elementTypeParams": {"max_length": 200}},
                    {"fieldName": "word_count", "dataType": "Int64"},
                    {"fieldName": "book_intro", "dataType": "FloatVector",
                     "elementTypeParams": {"dim": 8}}]},
                "indexParams": [{"fieldName": "book_intro", "indexName": "intro_idx",
                                 "metricType": "L2", "indexType": "IVF_FLAT",
                                 "params": {"nlist": 1024}}]}

    def norm(self, row, **kw):
        return super().norm(row, vec_fields=("book_intro", "embeddings"))

    def test_python_collection_upsert(self):
        """upsert-entities-v2.3.md, "Prepare data" + "Upsert data" + "Flush
        data", Python: nb = 3000, dim = 8; columns [i], [str(i)],
        [10000+i], vectors, [str("dy"*i)]; collection.upsert(data) over
        existing rows, then flush: 3000 rows, each once, holding the
        upserted values."""
        self.ok("collections/create", self.book_body())
        rnd = random.Random(23)
        nb, dim = 3000, 8
        old = [{"book_id": i, "book_name": "old", "word_count": -i,
                "book_intro": [0.0] * dim, "dy": "old"} for i in range(0, nb, 2)]
        self.ok("entities/insert", {"collectionName": "book", "data": old})
        vectors = [[rnd.random() for _ in range(dim)] for _ in range(nb)]
        data = rows_of_columns(book_id=list(range(nb)), book_name=[str(i) for i in range(nb)],
                               word_count=list(range(10000, 10000 + nb)), book_intro=vectors,
                               dy=[str("dy" * i) for i in range(nb)])
        d = self.upsert_ok("book", data)
        self.assertEqual(d["upsertCount"], nb)
        self.assertEqual(sorted(d["upsertIds"]), list(range(nb)))
        self.ok("collections/flush", {"collectionName": "book"})
        self.assertEqual(self.count("book"), nb)
        sample = [0, 1, 2, 1499, 2998, 2999]
        self.assertRows("book", [data[i] for i in sample])
        # the dynamic column is filterable back, as the example meant it
        got = self.get("book", [2999], fields=["dy"])
        self.assertEqual(got[2999]["dy"], "dy" * 2999)

    def go_body(self, with_default=True):
        """The Go example's collection: ID Int64 pk, random Double,
        embeddings FloatVector dim 8. The upsert omits `random`; the
        document's note says scalar fields with a default may be left empty."""
        random_field = {"fieldName": "random", "dataType": "Double"}
        if with_default:
            random_field["defaultValue"] = 0.5
        return {"collectionName": "book",
                "schema": {"autoID": False, "enableDynamicField": False, "fields": [
                    {"fieldName": "ID", "dataType": "Int64", "isPrimary": True},
                    random_field,
                    {"fieldName": "embeddings", "dataType": "FloatVector",
                     "elementTypeParams": {"dim": 8}}]},
                "indexParams": [{"fieldName": "embeddings", "indexName": "e_idx",
                                 "metricType": "L2", "indexType": "FLAT"}]}

    def go_data(self):
        rnd = random.Random(2323)
        return [{"ID": i, "embeddings": [rnd.random() for _ in range(8)]} for i in range(3000)]

    def test_go_upsert(self):
        """upsert-entities-v2.3.md, "Prepare data" + "Upsert data", Go:
        c.Upsert(ctx, collectionName, "", idColData, embeddingColData) --
        3000 rows without the `random` column (it has a default value): all
        stored, `random` = the default, in the default partition."""
        self.ok("collections/create", self.go_body())
        self.ok("entities/insert", {"collectionName": "book", "data": [
            {"ID": i, "random": 9.0, "embeddings": [1.0] * 8} for i in range(100)]})
        data = self.go_data()
        d = self.upsert_ok("book", data, partition="")
        self.assertEqual(d["upsertCount"], 3000)
        self.assertEqual(sorted(d["upsertIds"]), list(range(3000)))
        self.assertEqual(self.count("book"), 3000)
        self.assertEqual(self.count("book", ["_default"]), 3000)
        self.pk = "ID"
        self.assertRows("book", [dict(data[i], random=0.5) for i in (0, 99, 100, 2999)])

    def test_go_upsert_required_field_missing(self):
        """upsert-entities-v2.3.md, "Prepare data": "The type of data to
        upsert must match the schema of the collection, otherwise Milvus will
        raise an exception" -- the Go upsert without `random` on a collection
        where `random` has no default fails (1804) and writes nothing."""
        self.ok("collections/create", self.go_body(with_default=False))
        r = self.upsert("book", self.go_data())
        self.assertEqual(r.get("code"), 1804, r)
        self.assertEqual(self.count("book"), 0)


# ---------------------------------------------------------------------------

class PymilvusClientUpsertTest(SeedCase):
    """pymilvus-milvusclient-upsert.md"""

    INSERTED = [
        {"id": 0, "vector": [0.37417449965222693, -0.9401784221711342, -0.8344432775467099,
                             0.9797361846081416, 0.6294256393761057]},
        {"id": 1, "vector": [0.37417449965222693, -0.9401784221711342, 0.9197526367693833,
                             0.49519396415367245, -0.558567588166478]},
        {"id": 2, "vector": [0.46949086179692356, -0.533609076732849, -0.8344432775467099,
                             0.9797361846081416, 0.6294256393761057]},
    ]
    RECORD0 = {"id": 0, "vector": [0.6186516144460161, 0.5927442462488592, 0.848608119657156,
                                   0.9287046808231654, -0.42215796530168403]}
    MULTI = [
        {"id": 1, "vector": [0.3457690490452393, -0.9401784221711342, 0.9123948134344333,
                             0.49519396415367245, -0.558567588166478]},
        {"id": 2, "vector": [0.42349086179692356, -0.533609076732849, -0.8344432775467099,
                             0.675761846081416, 0.57094256393761057]},
    ]

    def setUp(self):
        super().setUp()
        # 2. client.create_collection(collection_name="test_collection", dimension=5)
        self.ok("collections/create", {"collectionName": "test_collection", "dimension": 5})
        # 3. Insert records -> {'insert_count': 3}
        r = self.ok("entities/insert", {"collectionName": "test_collection",
                                        "data": self.INSERTED})
        self.assertEqual(r["data"]["insertCount"], 3)

    def test_example_as_written(self):
        """pymilvus-milvusclient-upsert.md, "Examples", as written: step "4.
        Upsert a record" calls client.insert for id 0 (its comment says
        {'upsert_count': 1}); Tidemark keeps one row per key (the newest,
        docs/decisions.md), so id 0 then holds the new vector. Step "4. Upsert
        multiple records" -> {'upsert_count': 2}. Three rows in the end."""
        r = self.ok("entities/insert", {"collectionName": "test_collection",
                                        "data": [self.RECORD0]})
        self.assertEqual(r["data"]["insertCount"], 1)
        self.assertRows("test_collection", [self.RECORD0])
        d = self.upsert_ok("test_collection", self.MULTI)
        self.assertEqual(d["upsertCount"], 2)
        self.assertRows("test_collection", [self.RECORD0] + self.MULTI)
        self.assertEqual(self.count("test_collection"), 3)

    def test_example_upsert_record(self):
        """pymilvus-milvusclient-upsert.md, "Examples", step "4. Upsert a
        record" as its output describes it (an upsert): {'upsert_count': 1};
        then "Upsert multiple records" -> {'upsert_count': 2}."""
        d = self.upsert_ok("test_collection", [self.RECORD0])
        self.assertEqual(d["upsertCount"], 1)
        self.assertEqual(d["upsertIds"], [0])
        self.assertRows("test_collection", [self.RECORD0] + self.INSERTED[1:])
        d = self.upsert_ok("test_collection", self.MULTI)
        self.assertEqual(d["upsertCount"], 2)
        self.assertEqual(sorted(d["upsertIds"]), [1, 2])
        self.assertRows("test_collection", [self.RECORD0] + self.MULTI)
        self.assertEqual(self.count("test_collection"), 3)

    def test_parameters_data_forms(self):
        """pymilvus-milvusclient-upsert.md, "PARAMETERS", data: a dictionary
        (id 0) or a list of dictionaries (ids 1, 2) on the id/vector (dim 5)
        collection; pymilvus sends a dict as a one-row list."""
        one = {"id": 0, "vector": [0.6186516144460161, 0.5927442462488592, 0.848608119657156,
                                   0.9287046808231654, -0.42215796530168403]}
        many = [{"id": 1, "vector": [0.37417449965222693, -0.9401784221711342,
                                     0.9197526367693833, 0.49519396415367245,
                                     -0.558567588166478]},
                {"id": 2, "vector": [0.46949086179692356, -0.533609076732849,
                                     -0.8344432775467099, 0.9797361846081416,
                                     0.6294256393761057]}]
        self.assertEqual(self.upsert_ok("test_collection", [one])["upsertCount"], 1)
        self.assertEqual(self.upsert_ok("test_collection", many)["upsertCount"], 2)
        self.assertRows("test_collection", [one] + many)
        self.assertEqual(self.count("test_collection"), 3)

    def test_partition_name(self):
        """pymilvus-milvusclient-upsert.md, "PARAMETERS", partition_name: the
        data is inserted or updated in the specified partition."""
        self.ok("partitions/create", {"collectionName": "test_collection",
                                      "partitionName": "p1"})
        d = self.upsert_ok("test_collection", self.MULTI, partition="p1")
        self.assertEqual(d["upsertCount"], 2)
        self.assertRows("test_collection", self.MULTI, partitions=["p1"])
        self.assertEqual(self.get("test_collection", [1, 2], partitions=["_default"]), {})
        self.assertEqual(self.count("test_collection"), 3)


# ---------------------------------------------------------------------------

class GoSdkUpsertTest(SeedCase):
    """go-sdk-upsert.md"""

    pk = "book_id"

    def norm(self, row, **kw):
        return super().norm(row, vec_fields=("book_intro",))

    def test_example(self):
        """go-sdk-upsert.md, "Example": milvusClient.Upsert(ctx, "book", "",
        idColumn, wordColumn, introColumn) with 2000 rows (book_id i,
        word_count i+10000, book_intro dim 2) into the default partition;
        "Return": the IDs of the upserted data. Existing ids are overwritten."""
        self.ok("collections/create", {
            "collectionName": "book",
            "schema": {"autoID": False, "enableDynamicField": False, "fields": [
                {"fieldName": "book_id", "dataType": "Int64", "isPrimary": True},
                {"fieldName": "word_count", "dataType": "Int64"},
                {"fieldName": "book_intro", "dataType": "FloatVector",
                 "elementTypeParams": {"dim": 2}}]},
            "indexParams": [{"fieldName": "book_intro", "indexName": "intro_idx",
                             "metricType": "L2", "indexType": "FLAT"}]})
        self.ok("entities/insert", {"collectionName": "book", "data": [
            {"book_id": i, "word_count": 0, "book_intro": [9.0, 9.0]} for i in range(0, 2000, 3)]})
        rnd = random.Random(2000)
        data = rows_of_columns(book_id=list(range(2000)),
                               word_count=[i + 10000 for i in range(2000)],
                               book_intro=[[rnd.random(), rnd.random()] for _ in range(2000)])
        d = self.upsert_ok("book", data, partition="")
        self.assertEqual(d["upsertCount"], 2000)
        self.assertEqual(d["upsertIds"], list(range(2000)))
        self.assertEqual(self.count("book"), 2000)
        self.assertEqual(self.count("book", ["_default"]), 2000)
        self.assertRows("book", [data[i] for i in (0, 1, 3, 1000, 1998, 1999)])

    def test_collection_not_exists(self):
        """go-sdk-upsert.md, "Errors": ErrCollectionNotExists -- over REST,
        code 100 `can't find collection`."""
        r = self.upsert("book", [{"book_id": 1, "word_count": 1, "book_intro": [0, 0]}])
        self.assertEqual(r.get("code"), 100, r)
        self.assertIn("can't find collection", r.get("message", ""))


# ---------------------------------------------------------------------------

class ZillizCloudUpsertTest(SeedCase):
    """zilliz-cloud-upsert.md"""

    FIRST_VECTOR_PREFIX = [
        0.041732933, 0.013779674, -0.027564144, -0.013061441, 0.009748648, 0.00082446384,
        -0.00071647146, 0.048612226, -0.04836573, -0.04567751, 0.018008126, 0.0063936645,
        -0.011913628, 0.030776596, -0.018274948, 0.019929802, 0.020547243, 0.032735646,
        -0.031652678, -0.033816382, -0.051087562, -0.033748355, 0.0039493158]
    FIRST = {"id": 0,
             "title": "The Reported Mortality Rate of Coronavirus Is Not Important",
             "link": "https://medium.com/swlh/the-reported-mortality-rate-of-coronavirus-is-not-"
                     "important-369989c8d912",
             "reading_time": 13, "publication": "The Startup", "claps": 1100, "responses": 18}

    def norm(self, row, **kw):
        return super().norm(row, vec_fields=("title_vector",))

    def rows(self):
        """The first 100 rows of the example dataset's shape: row 0 as the
        document prints it (the vector's shown 23 values, the rest of its 768
        made up), rows 1..99 made up."""
        rnd = random.Random(768)
        out = []
        for i in range(100):
            vec = [rnd.uniform(-0.06, 0.06) for _ in range(768)]
            if i == 0:
                row = dict(self.FIRST)
                vec[:len(self.FIRST_VECTOR_PREFIX)] = self.FIRST_VECTOR_PREFIX
            else:
                row = {"id": i, "title": "Article %d" % i, "link": "https://medium.com/a/%d" % i,
                       "reading_time": i % 20, "publication": "Pub %d" % (i % 5),
                       "claps": i * 10, "responses": i % 7}
            row["title_vector"] = vec
            out.append(row)
        return out

    def test_upsert_first_100(self):
        """zilliz-cloud-upsert.md, "Prepare data" + "Upsert data": upsert the
        first 100 entities (id, title, title_vector dim 768, link,
        reading_time, publication, claps, responses) into medium_articles,
        flush -> "Upserted rows: 100"; existing ids are overwritten, the
        others inserted."""
        self.ok("collections/create", {
            "collectionName": "medium_articles",
            "schema": {"autoID": False, "enableDynamicField": False, "fields": [
                {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
                {"fieldName": "title", "dataType": "VarChar",
               "elementTypeParams": {"max_length": 512}},
                {"fieldName": "title_vector", "dataType": "FloatVector",
                 "elementTypeParams": {"dim": 768}},
                {"fieldName": "link", "dataType": "VarChar",
                 "elementTypeParams": {"max_length": 512}},
                {"fieldName": "reading_time", "dataType": "Int64"},
                {"fieldName": "publication", "dataType": "VarChar",
                 "elementTypeParams": {"max_length": 512}},
                {"fieldName": "claps", "dataType": "Int64"},
                {"fieldName": "responses", "dataType": "Int64"}]},
            "indexParams": [{"fieldName": "title_vector", "indexName": "tv_idx",
                             "metricType": "L2", "indexType": "AUTOINDEX"}]})
        data = self.rows()
        old = [dict(r, title="old", claps=0) for r in data[:50]]
        self.ok("entities/insert", {"collectionName": "medium_articles", "data": old})
        d = self.upsert_ok("medium_articles", data)
        self.assertEqual(d["upsertCount"], 100)
        self.assertEqual(sorted(d["upsertIds"]), list(range(100)))
        self.ok("collections/flush", {"collectionName": "medium_articles"})
        self.assertEqual(self.count("medium_articles"), 100)
        self.assertRows("medium_articles", [data[i] for i in (0, 1, 49, 50, 99)])


if __name__ == "__main__":
    harness.run_tests()
