"""Vector indexes through the real server (segment/query_index.h).

Rows inserted over REST are searched exactly while they are growing; after
`collections/flush` the query role builds each sealed segment's index in
the background and `indexes/describe` reports it (indexState, indexedRows,
totalRows, pendingRows). The same searches must then find (nearly) the
same hits through the index:

* AUTOINDEX (4-bit PQ, L2): recall@10 >= 0.95 with the default search
  parameters; IVF_FLAT (COSINE) probing every list: exactly the exact hits
  and distances; IVF_PQ (m = 16) created on already sealed data.
* After indexing, deleted and upserted rows never come back in their old
  versions (the index's allow bitset carries the visibility rules); a
  filter returns only matching rows; a bad nprobe is refused with 1100.
* kill -9: the index files are read back, not rebuilt (same files, same
  mtimes, describe Finished at once); a damaged file is logged, removed
  and rebuilt, never served; dropping the index removes its files.

The exact answers come from the server itself, searched before the flush
(growing rows are always searched by brute force): numpy is not a
dependency. The data is a seeded Gaussian mixture (clustered, as real
embeddings are; uniform random vectors have no neighbourhoods for an IVF
index to find).

Usage: test_index.py /path/to/tidemark [unittest args]
"""

import glob
import os
import random
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# Under ASan+UBSan (TM_SANITIZED, set by CMake) the binary runs about 25x
# slower, index builds included: fewer rows and a longer bound on the wait.
SANITIZED = os.environ.get("TM_SANITIZED") == "1"
DIM = 128
N = 9000 if SANITIZED else 20000  # IndexFilesTest uses the first 9,000
NQ = 50
K = 10
WAIT_S = 600.0 if SANITIZED else 60.0


def mixture(n, dim, seed, centres=64, spread=0.35):
    """n vectors around seeded centres (rounded to 4 decimals: smaller JSON)."""
    rnd = random.Random(seed)
    cs = [[rnd.gauss(0, 1) for _ in range(dim)] for _ in range(centres)]
    out = []
    for _ in range(n):
        c = cs[rnd.randrange(centres)]
        out.append([round(x + rnd.gauss(0, spread), 4) for x in c])
    return out


VECS = None
QUERIES = None


def data():
    global VECS, QUERIES
    if VECS is None:
        VECS = mixture(N + NQ, DIM, 7)
        QUERIES = VECS[N:]
        VECS = VECS[:N]
    return VECS, QUERIES


def schema(name, index=None):
    body = {"collectionName": name, "schema": {"fields": [
        {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
        {"fieldName": "vec", "dataType": "FloatVector", "elementTypeParams": {"dim": DIM}}]}}
    if index:
        body["indexParams"] = [dict(index, fieldName="vec", indexName="vi")]
    return body


def insert(srv, name, vecs, first=0, batch=2000):
    for k in range(0, len(vecs), batch):
        rows = [{"id": first + k + i, "vec": v} for i, v in enumerate(vecs[k:k + batch])]
        srv.ok("entities/insert", {"collectionName": name, "data": rows})


def search(srv, name, queries, **extra):
    """[[(id, distance), ...] per query], Strong consistency."""
    out = []
    for q in queries:
        body = {"collectionName": name, "data": [q], "limit": K, "consistencyLevel": "Strong"}
        body.update(extra)
        out.append([(h["id"], h["distance"]) for h in srv.ok("entities/search", body)["data"]])
    return out


def recall(exact, got):
    hits = sum(len({i for i, _ in e} & {i for i, _ in g}) for e, g in zip(exact, got))
    return hits / float(sum(len(e) for e in exact))


def describe(srv, name):
    return srv.ok("indexes/describe", {"collectionName": name, "indexName": "vi"})["data"][0]


def wait_indexed(srv, name, timeout_s=WAIT_S):
    """Polls describe until every row is in a built index; returns it."""
    return harness.wait_until(
        lambda: (lambda d: d if d["indexState"] == "Finished" and d["pendingRows"] == 0
                 else None)(describe(srv, name)),
        timeout_s=timeout_s, interval_s=0.1, what="index of %s built" % name)


def index_files(srv):
    return sorted(glob.glob(os.path.join(srv.data_dir, "indexes", "c*", "*.ivf")))


class IndexSearchTest(unittest.TestCase):
    """Recall and the MVCC rules on three index kinds, one server."""

    @classmethod
    def setUpClass(cls):
        cls.srv = harness.Server()
        vecs, queries = data()
        s = cls.srv
        s.ok("collections/create", schema("auto", {"metricType": "L2", "indexType": "AUTOINDEX"}))
        s.ok("collections/create", schema("flat", {"metricType": "COSINE", "indexType": "IVF_FLAT",
                                                   "params": {"nlist": 64}}))
        s.ok("collections/create", schema("pq"))  # its index comes after the seal
        for name in ("auto", "flat", "pq"):
            insert(s, name, vecs)
        # Growing rows are searched exactly: the reference answers.
        cls.exact_l2 = search(s, "auto", queries)
        cls.exact_cos = search(s, "flat", queries)
        cls.exact_filtered = search(s, "auto", queries[:10], filter="id % 10 == 3")
        for name in ("auto", "flat", "pq"):
            s.ok("collections/flush", {"collectionName": name})
        s.ok("indexes/create", {"collectionName": "pq", "indexParams": [
            {"fieldName": "vec", "indexName": "vi", "metricType": "L2", "indexType": "IVF_PQ",
             "params": {"nlist": 128, "m": 16}}]})
        s.ok("collections/load", {"collectionName": "pq"})
        for name in ("auto", "flat", "pq"):
            d = wait_indexed(s, name)
            assert d["totalRows"] == N and d["indexedRows"] == N, d

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    def test_autoindex_recall_with_defaults(self):
        got = search(self.srv, "auto", data()[1])
        r = recall(self.exact_l2, got)
        self.assertGreaterEqual(r, 0.95, "AUTOINDEX recall@10 %.3f" % r)
        # Distances are exact (re-ranked): a hit found is reported as brute force does.
        for e, g in zip(self.exact_l2, got):
            exact = dict(e)
            for i, d in g:
                if i in exact:
                    self.assertAlmostEqual(d, exact[i], delta=1e-4 * (1 + abs(d)))
        more = recall(self.exact_l2, search(self.srv, "auto", data()[1],
                                            searchParams={"params": {"nprobe": 128}}))
        self.assertGreaterEqual(more, r - 0.01)

    def test_ivf_flat_probing_every_list_is_exact(self):
        got = search(self.srv, "flat", data()[1], searchParams={"nprobe": 64})
        self.assertEqual(recall(self.exact_cos, got), 1.0)
        for e, g in zip(self.exact_cos, got):
            for (ei, ed), (gi, gd) in zip(e, g):
                self.assertAlmostEqual(ed, gd, delta=1e-4)
        # One list of 64 is an approximation: proof that the index ran.
        self.assertLess(recall(self.exact_cos, search(self.srv, "flat", data()[1],
                                                      searchParams={"nprobe": 1})), 1.0)

    def test_ivf_pq_built_on_sealed_data(self):
        d = describe(self.srv, "pq")
        self.assertEqual(d["indexType"], "IVF_PQ")
        r = recall(self.exact_l2, search(self.srv, "pq", data()[1]))
        self.assertGreaterEqual(r, 0.85, "IVF_PQ m=16 nprobe 8 recall@10 %.3f" % r)
        r = recall(self.exact_l2, search(self.srv, "pq", data()[1],
                                         searchParams={"params": {"nprobe": 32, "refine_k": 32}}))
        self.assertGreaterEqual(r, 0.95, "IVF_PQ m=16 nprobe 32 recall@10 %.3f" % r)

    def test_filter_through_the_index(self):
        got = search(self.srv, "auto", data()[1][:10], filter="id % 10 == 3")
        for qs in got:
            self.assertEqual(len(qs), K)
            self.assertTrue(all(i % 10 == 3 for i, _ in qs), qs)
        self.assertGreaterEqual(recall(self.exact_filtered, got), 0.9)
        # A filter that leaves a handful of rows is still answered in full.
        few = search(self.srv, "auto", data()[1][:3], filter="id < 7")
        for qs in few:
            self.assertEqual(sorted(i for i, _ in qs), list(range(7)))

    def test_bad_search_params(self):
        for bad in ({"nprobe": 0}, {"params": {"nprobe": 65537}}, {"nprobe": "x"},
                    {"nprobe": 2.5}, {"params": {"refine_k": 0.5}}):
            r = self.srv.post("entities/search", {"collectionName": "auto", "data": [data()[1][0]],
                                                  "limit": K, "searchParams": bad})
            self.assertEqual(r["code"], 1100, (bad, r))
        r = self.srv.post("indexes/create", {"collectionName": "pq", "indexParams": [
            {"fieldName": "vec", "indexName": "x", "metricType": "L2", "indexType": "IVF_PQ",
             "params": {"m": 7}}]})
        self.assertEqual(r["code"], 1100, r)

    def test_deletes_and_upserts_after_indexing(self):
        s = self.srv
        queries = data()[1]
        # A fresh collection: this test changes rows the others compare.
        s.ok("collections/create", schema("mvcc", {"metricType": "L2",
                                                   "indexType": "AUTOINDEX"}))
        insert(s, "mvcc", data()[0][:5000])
        before = search(s, "mvcc", queries[:20])
        s.ok("collections/flush", {"collectionName": "mvcc"})
        wait_indexed(s, "mvcc")
        deleted = sorted({qs[0][0] for qs in before[:10]})
        moved = sorted({qs[1][0] for qs in before[:10]} - set(deleted))
        s.ok("entities/delete", {"collectionName": "mvcc", "filter": "id in %s" % deleted})
        far = [100.0] * DIM
        s.ok("entities/upsert", {"collectionName": "mvcc",
                                 "data": [{"id": i, "vec": far} for i in moved]})
        # A row becomes query 15 itself: it must now be that query's first hit.
        twin = max(set(range(4900, 5000)) - set(deleted) - set(moved))
        s.ok("entities/upsert", {"collectionName": "mvcc",
                                 "data": [{"id": twin, "vec": queries[15]}]})
        after = search(s, "mvcc", queries[:20])
        for qs in after:
            ids = [i for i, _ in qs]
            self.assertFalse(set(ids) & set(deleted), ids)
            self.assertFalse(set(ids) & set(moved), ids)
            self.assertEqual(len(ids), K)
        self.assertEqual(after[15][0][0], twin)
        self.assertAlmostEqual(after[15][0][1], 0.0, delta=1e-3)
        # The sealed segment stays indexed; the upserts are growing rows.
        d = describe(s, "mvcc")
        self.assertEqual(d["indexState"], "Finished")
        self.assertEqual(d["totalRows"], 5000 + len(moved) + 1)
        self.assertEqual(d["pendingRows"], len(moved) + 1)
        s.ok("collections/drop", {"collectionName": "mvcc"})


class IndexFilesTest(unittest.TestCase):
    """Index files across kill -9: reused, or rebuilt when damaged."""

    def setUp(self):
        self.srv = harness.Server()

    def tearDown(self):
        self.srv.close()

    def test_files_reused_then_damaged_then_dropped(self):
        s = self.srv
        vecs, queries = data()
        s.ok("collections/create", schema("r", {"metricType": "L2", "indexType": "IVF_FLAT",
                                                "params": {"nlist": 32}}))
        insert(s, "r", vecs[:6000])
        s.ok("collections/flush", {"collectionName": "r"})
        insert(s, "r", vecs[6000:9000], first=6000)
        s.ok("collections/flush", {"collectionName": "r"})
        wait_indexed(s, "r")
        files = index_files(s)
        self.assertEqual(len(files), 2, files)  # one per sealed segment
        mtimes = [os.stat(f).st_mtime_ns for f in files]
        answer = search(s, "r", queries[:10], searchParams={"nprobe": 4})

        s.kill9()
        s.start()
        d = wait_indexed(s, "r", timeout_s=10)
        self.assertEqual(d["indexedRows"], 9000)
        self.assertEqual(index_files(s), files)
        self.assertEqual([os.stat(f).st_mtime_ns for f in files], mtimes)
        self.assertEqual(search(s, "r", queries[:10], searchParams={"nprobe": 4}), answer)
        self.assertNotIn(b"built in", self.log_since_start())

        # A flipped byte: the file is refused, removed and rebuilt.
        with open(files[0], "r+b") as f:
            f.seek(os.path.getsize(files[0]) // 2)
            b = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([b[0] ^ 0x5a]))
        s.kill9()
        s.start()
        wait_indexed(s, "r")
        log = self.log_since_start()
        self.assertIn(b"removing it and rebuilding the index", log)
        self.assertIn(files[0].encode(), log)
        self.assertEqual(search(s, "r", queries[:10], searchParams={"nprobe": 4}), answer)
        harness.wait_until(lambda: index_files(s) == files, timeout_s=10, what="file rewritten")

        # Dropping the index (after a release, as Milvus asks) removes its files.
        s.ok("collections/release", {"collectionName": "r"})
        s.ok("indexes/drop", {"collectionName": "r", "indexName": "vi"})
        harness.wait_until(lambda: index_files(s) == [], timeout_s=10, what="files removed")

    def log_since_start(self):
        with open(self.srv.stderr_path, "rb") as f:
            text = f.read()
        at = text.rfind(b"catalog replayed")
        return text[at:]


if __name__ == "__main__":
    harness.run_tests()
