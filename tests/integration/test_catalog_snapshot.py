"""The coordinator's Raft group snapshots the catalog every 1024 entries and
truncates its log behind the snapshot. After enough DDL to take a snapshot,
kill -9 and restart must bring back exactly the catalog (databases,
collections, partitions), the rows, and a TSO that never goes backwards.

Usage: test_catalog_snapshot.py /path/to/tidemark [unittest args]
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class CatalogSnapshotTest(unittest.TestCase):
    def setUp(self):
        self.srv = harness.Server()

    def tearDown(self):
        self.srv.close()

    def test_restart_from_snapshot(self):
        ok = self.srv.ok
        ok("collections/create", {"collectionName": "snap", "dimension": 2,
                                  "params": {"consistencyLevel": "Strong"}})
        ok("entities/insert", {"collectionName": "snap",
                               "data": [{"id": 1, "vector": [1, 2]}]})
        ok("partitions/create", {"collectionName": "snap", "partitionName": "kept"})
        # 600 create/drop pairs: 1200 committed DDL entries, past the
        # snapshot threshold (1024), so the restart starts from a snapshot.
        for i in range(600):
            ok("databases/create", {"dbName": "tmp%d" % i})
            ok("databases/drop", {"dbName": "tmp%d" % i})
        ok("databases/create", {"dbName": "last"})
        before = ok("entities/insert", {"collectionName": "snap", "data": [
            {"id": 2, "vector": [3, 4]}]}, headers=None)
        coord_dir = os.path.join(self.srv.data_dir, "coord")
        self.assertTrue(any(f.startswith("snapshot-") for f in os.listdir(coord_dir)),
                        "no snapshot in %r" % os.listdir(coord_dir))
        status, headers, _ = self.srv.raw("POST", "/v2/vectordb/entities/insert",
                                          b'{"collectionName":"snap","data":[{"id":3,"vector":[5,6]}]}')
        self.assertEqual(status, 200)
        ts_before = int(headers["tidemark-write-timestamp"])
        self.assertEqual(before["code"], 0)

        self.srv.kill9()
        self.srv.restart()

        self.assertEqual(sorted(ok("databases/list", {})["data"]), ["default", "last"])
        self.assertEqual(ok("collections/list", {})["data"], ["snap"])
        self.assertEqual(sorted(ok("partitions/list", {"collectionName": "snap"})["data"]),
                         ["_default", "kept"])
        rows = ok("entities/get", {"collectionName": "snap", "id": [1, 2, 3],
                                   "consistencyLevel": "Strong"})["data"]
        self.assertEqual(sorted(r["id"] for r in rows), [1, 2, 3])
        status, headers, _ = self.srv.raw("POST", "/v2/vectordb/entities/insert",
                                          b'{"collectionName":"snap","data":[{"id":4,"vector":[7,8]}]}')
        self.assertEqual(status, 200)
        self.assertGreater(int(headers["tidemark-write-timestamp"]), ts_before,
                           "timestamps went backwards across the restart")


if __name__ == "__main__":
    harness.run_tests()
