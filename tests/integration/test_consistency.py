"""Consistency levels over REST (milvus-rest-v2.md §6, DESIGN.md §3).

Strong reads see every acknowledged write, on one shard and across three;
Session reads that send back the write timestamp (Tidemark-Write-Timestamp,
a header Milvus does not have) see that write; Bounded and Eventually are
accepted. Runs one server with three WAL shards.

Usage: test_consistency.py /path/to/tidemark [unittest args]
"""

import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def vec(i):
    return [float(i % 7), 1.0, 0.5, -0.25]


class ConsistencyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = harness.Server(extra_args=("--shards", "3"))
        cls.srv.ok("collections/create", {"collectionName": "cons", "dimension": 4})

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    def test_strong_reads_every_acknowledged_write(self):
        """Each insert is followed at once by a Strong get of its key (keys
        spread over three shards): it is always there."""
        for i in range(200):
            self.srv.ok("entities/insert", {"collectionName": "cons",
                                            "data": [{"id": 10_000 + i, "vector": vec(i)}]})
            got = self.srv.ok("entities/get", {"collectionName": "cons", "id": [10_000 + i],
                                               "consistencyLevel": "Strong"})["data"]
            self.assertEqual([r["id"] for r in got], [10_000 + i])

    def test_session_timestamp_header(self):
        """A write answers with its timestamp; a Session read that sends back
        the newest one it saw sees the write; a key's writes get rising
        timestamps (timestamps rise along each shard's log)."""
        last = {}  # per key: a key's writes all go through its one shard, in order
        session = 0
        for i in range(50):
            status, headers, body = self.srv.raw(
                "POST", "/v2/vectordb/entities/upsert",
                ('{"collectionName":"cons","data":[{"id":%d,"vector":[1,2,3,4],"n":%d}]}'
                 % (20_000 + i % 5, i)).encode())
            self.assertEqual(status, 200, body)
            ts = int(headers["tidemark-write-timestamp"])
            self.assertGreater(ts, last.get(i % 5, 0))
            last[i % 5] = ts
            session = max(session, ts)  # what an SDK keeps: the newest timestamp it saw
            got = self.srv.ok("entities/get", {"collectionName": "cons", "id": [20_000 + i % 5],
                                               "outputFields": ["n"],
                                               "consistencyLevel": "Session"},
                              headers={"Tidemark-Session-Timestamp": str(session)})["data"]
            self.assertEqual(got, [{"id": 20_000 + i % 5, "n": i}])

    def test_strong_reads_during_concurrent_upserts_see_one_version(self):
        """Readers at Strong while writers replace the same keys: every key
        is always there exactly once, never zero, never two."""
        keys = list(range(30_000, 30_020))
        self.srv.ok("entities/insert", {"collectionName": "cons",
                                        "data": [{"id": k, "vector": vec(k), "v": 0} for k in keys]})
        stop = threading.Event()
        errors = []

        def writer(w):
            srv = harness.Client(self.srv.port)
            try:
                for n in range(60):
                    srv.ok("entities/upsert", {"collectionName": "cons", "data": [
                        {"id": k, "vector": vec(k), "v": n * 10 + w} for k in keys]})
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
            finally:
                srv.close()

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(2)]
        for t in threads:
            t.start()
        reads = 0
        while any(t.is_alive() for t in threads) and reads < 400:
            got = self.srv.ok("entities/get", {"collectionName": "cons", "id": keys,
                                               "consistencyLevel": "Strong"})["data"]
            self.assertEqual(sorted(r["id"] for r in got), keys)
            reads += 1
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertGreater(reads, 0)

    def test_levels_accepted(self):
        self.srv.ok("entities/insert", {"collectionName": "cons",
                                        "data": [{"id": 40_000, "vector": vec(1)}]})
        for level in ("Strong", "Session", "Bounded", "Eventually", "Customized"):
            self.srv.ok("entities/query", {"collectionName": "cons", "filter": "id in [40000]",
                                           "consistencyLevel": level})
        r = self.srv.post("entities/query", {"collectionName": "cons", "filter": "id in [1]",
                                             "consistencyLevel": "strong"})
        self.assertEqual(r["code"], 1100)
        # Bounded allows at most 5 s of staleness: the row shows up well within it.
        harness.wait_until(lambda: self.srv.ok("entities/get", {
            "collectionName": "cons", "id": [40_000], "consistencyLevel": "Bounded"})["data"],
            timeout_s=6, what="a Bounded read of an acknowledged row")


if __name__ == "__main__":
    harness.run_tests()
