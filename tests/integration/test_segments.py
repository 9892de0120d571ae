"""Sealed segments through the real server (docs/segments-design.md).

`collections/flush` and the size and row triggers (`--seal-mb`,
`--seal-rows`) seal each shard's growing data into binlog segments; a Raft snapshot right behind the seal
lets the log be truncated. After kill -9 the server must come back from the
segments plus the log tail with every acknowledged write exactly once: the
same rows, merges resolved against sealed versions, deletes and upserts of
sealed keys honoured, retried writes still recognised. A flipped byte in a
segment must stop the server from serving, with the file named.

Usage: test_segments.py /path/to/tidemark [unittest args]
"""

import glob
import json
import os
import re
import subprocess
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_restart  # noqa: E402
from harness import expected_row, make_row  # noqa: E402

COLL = test_restart.COLL


class SegmentsTest(test_restart.RestartTest):
    # A small seal size so that loading a few thousand rows seals by itself;
    # the base class's crash scenarios then also run across seals.
    server_args = ["--seal-mb", "1"]
    # These three gain nothing from seals and are not repeated.
    test_kill9_twice_then_sigterm = None
    test_kill9_right_after_create_and_single_write = None
    test_drops_survive_restart = None

    def segments(self):
        return glob.glob(os.path.join(self.srv.data_dir, "segments", "shard-*", "c*", "*",
                                      "MANIFEST"))

    def flush(self):
        self.srv.ok("collections/flush", {"collectionName": COLL})

    def merge(self, ids):
        """Partial updates of the live keys among ids: only `title` changes."""
        ids = [i for i in ids if i in self.expected]
        rows = [{"id": i, "title": "merged-%d" % i} for i in ids]
        r = self.srv.ok("entities/upsert", {"collectionName": COLL, "data": rows,
                                            "partialUpdate": True})
        self.assertEqual(r["data"]["upsertCount"], len(rows))
        for i in ids:
            self.expected[i]["title"] = "merged-%d" % i

    def replayed(self):
        """Entries the last start replayed from the WAL (its log line)."""
        with open(self.srv.stderr_path, "rb") as f:
            found = re.findall(rb"shard 0 replayed (\d+) entries", f.read())
        return int(found[-1])

    def test_flush_then_kill9(self):
        self.create()
        self.insert(range(3000))
        self.flush()
        self.assertGreaterEqual(len(self.segments()), 1, "flush wrote no segment")
        # Writes of every kind against sealed rows, then a crash.
        self.upsert_changed(range(0, 300, 7))
        self.merge(range(1, 300, 11))
        self.delete(range(2, 3000, 29))
        self.insert([5])  # a sealed key written again (after no delete)
        self.verify()
        self.srv.kill9()
        self.srv.restart()
        self.verify_schema()
        self.verify()
        # Merges on the restarted server resolve against sealed versions.
        self.merge(range(3, 300, 13))
        self.flush()
        self.insert(range(3000, 3100))
        self.delete([3001, 4])
        self.srv.kill9()
        self.srv.restart()
        self.verify()

    def test_size_seal_truncates_the_log(self):
        self.create()
        writes = 0
        for k in range(0, 36000, 1000):
            self.insert(range(k, k + 1000))
            writes += 1
        harness.wait_until(lambda: len(self.segments()) >= 2, timeout_s=20,
                           what="two size-triggered seals")
        self.delete(range(0, 36000, 31))
        writes += 1
        snaps = glob.glob(os.path.join(self.srv.data_dir, "wal", "shard-0", "snapshot-*"))
        self.assertTrue(snaps, "no WAL snapshot behind the seals")
        self.srv.kill9()
        self.srv.restart()
        self.verify()
        self.assertLess(self.replayed(), writes,
                        "the whole log was replayed: nothing was truncated behind the seals")

    def test_retry_recognised_across_truncation(self):
        self.create()
        rid = {"Tidemark-Request-Id": str(uuid.uuid4())}
        row = make_row(77)
        body = {"collectionName": COLL, "data": [row]}
        self.srv.ok("entities/insert", body, headers=rid)
        self.expected[77] = expected_row(row)
        self.flush()
        self.insert(range(100, 110))  # the snapshot follows the seal
        self.srv.kill9()
        self.srv.restart()
        self.verify()
        self.delete([77])
        # The retry of the first insert must not bring 77 back.
        self.srv.ok("entities/insert", body, headers=rid)
        self.verify()

    def ranges_on_disk(self):
        return {os.path.basename(d).split("-")[0] for d in
                glob.glob(os.path.join(self.srv.data_dir, "segments", "shard-*", "c*", "r*"))}

    def test_replaced_ranges_swept_after_a_crash(self):
        """Ranges a compaction replaced are deleted two snapshots later; a
        crash before that leaves them, and the next start removes them."""
        self.create()
        for k in range(3):
            self.insert(range(k * 100, k * 100 + 100))
            self.flush()
        self.assertEqual(len(self.ranges_on_disk()), 3)
        metas = os.path.join(self.srv.data_dir, "wal", "shard-0", "snapshot-*.meta")
        before = set(glob.glob(metas))
        self.srv.ok("collections/compact", {"collectionName": COLL})
        self.insert([1000])  # the snapshot behind the compaction
        self.assertEqual(len(self.ranges_on_disk()), 4, "the replaced ranges went too early")
        # raft_uv writes the snapshot in the background: wait until it is on
        # disk (a new snapshot file), then a little for its fsyncs.
        harness.wait_until(lambda: set(glob.glob(metas)) - before, timeout_s=10,
                           what="the snapshot behind the compaction")
        time.sleep(0.3)
        self.srv.kill9()
        self.srv.restart()
        self.assertEqual(len(self.ranges_on_disk()), 1, "replaced ranges left after a start")
        self.verify()

    def test_corrupt_segment_is_not_served(self):
        """A flipped byte in a column binlog, the timestamps, the deltalog,
        the stats log or the manifest of a sealed range: the server refuses
        to serve and names the file."""
        self.create()
        self.insert(range(500))
        self.delete(range(0, 500, 50))
        self.flush()
        self.insert([600])  # the snapshot behind the seal needs an apply
        self.assertEqual(self.srv.stop(), 0)
        seg = os.path.join(self.srv.data_dir, "segments", "shard-*", "c*", "*")
        for pattern in ("10*.col", "0.col", "delta.log", "stats.log", "MANIFEST"):
            with self.subTest(file=pattern):
                files = sorted(glob.glob(os.path.join(seg, pattern)))
                self.assertTrue(files, "no %s to damage" % pattern)
                at = min(120, os.path.getsize(files[0]) - 1)
                flip(files[0], at)
                with self.assertRaises(harness.ServerError):
                    self.srv.start()
                with open(self.srv.stderr_path, "rb") as f:
                    log = f.read().decode(errors="replace")
                self.assertIn(os.path.basename(files[0]), log, "the damaged file is not named")
                flip(files[0], at)  # repaired: the next kind is damaged alone
        self.srv.start()
        self.verify()

    def test_crash_matrix_of_a_seal(self):
        """The server dies (as kill -9) at each step of writing a segment
        during a flush, and during a compaction; after a restart every
        acknowledged write is there exactly once, and the next flush
        completes."""
        self.create()
        self.insert(range(300))
        # The same steps of a compaction's write (its range replaces all).
        steps = [(p, n, "flush") for p, n in ((1, 1), (2, 1), (3, 2), (4, 1), (5, 1), (6, 1),
                                              (7, 1))]
        steps += [(p, 1, "compact") for p in (2, 5, 6, 7)]
        for point, nth, call in steps:
            with self.subTest(point=point, nth=nth, call=call):
                self.assertEqual(self.srv.stop(), 0)
                os.environ["TIDEMARK_TEST_CRASH_POINT"] = "%d:%d" % (point, nth)
                try:
                    self.srv.start()
                finally:
                    del os.environ["TIDEMARK_TEST_CRASH_POINT"]
                k = 1000 * point + (500 if call == "compact" else 0)
                self.insert(range(k, k + 50))
                self.upsert_changed([k + 2])
                self.delete([k + 1])
                with self.assertRaises(Exception, msg="the %s survived its crash point" % call):
                    self.srv.post("collections/" + call, {"collectionName": COLL})
                self.assertEqual(self.srv.proc.wait(10), 77, "not the crash point's exit")
                self.srv._drop_proc()
                self.srv.start()
                self.verify()
                self.flush()
                self.verify()


class RowSealTest(test_restart.RestartTest):
    """The row trigger: with --seal-rows 1000 a shard seals once 1,000 rows
    were inserted, upserted or merged since its last seal, long before the
    size trigger (64 MiB by default) would, and never below the limit. The
    count of rows since the last seal is rebuilt on start from the entries
    after that seal, so it survives kill -9."""

    server_args = ["--seal-rows", "1000"]
    ranges_on_disk = SegmentsTest.ranges_on_disk
    replayed = SegmentsTest.replayed

    def wait_ranges(self, n, what):
        harness.wait_until(lambda: len(self.ranges_on_disk()) >= n, timeout_s=5, what=what)
        self.assertEqual(len(self.ranges_on_disk()), n, "more seals than the row limit allows")

    def below_limit_no_seal(self, n):
        """Two ticks (200 ms each) pass without a seal."""
        time.sleep(0.5)
        self.assertEqual(len(self.ranges_on_disk()), n, "sealed below the row limit")

    def test_row_limit_seals_and_survives_kill9(self):
        self.create()
        metas = os.path.join(self.srv.data_dir, "wal", "shard-0", "snapshot-*.meta")
        # 3,500 rows in batches of 500; after each 1,000 a seal of its own.
        for k in range(0, 3000, 1000):
            self.insert(range(k, k + 500))
            self.below_limit_no_seal(k // 1000)
            # The earlier seals' snapshots are on disk by now (0.5 s).
            before = set(glob.glob(metas))
            self.insert(range(k + 500, k + 1000))
            self.wait_ranges(k // 1000 + 1, "a seal after %d rows" % (k + 1000))
        # raft_uv writes the snapshot behind the last seal in the
        # background: wait for its file, then a little for its fsyncs, so
        # that the restart below starts from it.
        harness.wait_until(lambda: set(glob.glob(metas)) - before, timeout_s=10,
                           what="the snapshot behind the last seal")
        time.sleep(0.3)
        self.insert(range(3000, 3500))
        self.below_limit_no_seal(3)
        self.verify()
        self.srv.kill9()
        self.srv.restart()
        self.verify()
        self.assertLess(self.replayed(), 7,
                        "the whole log was replayed: nothing was truncated behind the seals")
        # The 500 rows after the last seal still count: 500 more seal.
        self.insert(range(3500, 4000))
        self.wait_ranges(4, "a seal after 500 rows before and 500 after the restart")
        # Deletes add no rows; upserts do.
        self.delete(range(0, 4000, 3))
        self.upsert_changed(range(1, 1000, 3))
        self.below_limit_no_seal(4)
        self.upsert_changed(range(2, 3000, 3))
        self.wait_ranges(5, "a seal after 1,333 upserted rows")
        self.srv.kill9()
        self.srv.restart()
        self.verify()

    def test_bad_seal_rows_refused(self):
        for bad in ("0", "-5", "12x", "", "1000000001"):
            with self.subTest(value=bad):
                out = subprocess.run([harness.bin_path(), "serve", "--seal-rows", bad],
                                     capture_output=True, timeout=10)
                self.assertEqual(out.returncode, 2)
                self.assertIn(b"--seal-rows must be an integer in [1, 1000000000]", out.stderr)


# Only RowSealTest's own tests: the base class's scenarios gain nothing from
# a row limit (SegmentsTest runs them across seals). None, not a skip, as in
# SegmentsTest: the loader leaves out what is not callable.
for _name in dir(test_restart.RestartTest):
    if _name.startswith("test_") and _name not in vars(RowSealTest):
        setattr(RowSealTest, _name, None)


class UpsertHeavyTest(unittest.TestCase):
    """100,000 keys upserted 20 times each: after compaction the data
    directory is within 1.5x of the size of one version of the data (plus
    the log's trailing entries), and every read shows the last version."""

    KEYS, ROUNDS, BATCH, DIM = 100000, 20, 2000, 8

    def setUp(self):
        self.srv = harness.Server(["--seal-mb", "16"])
        self.addCleanup(self.srv.close)

    def rows(self, k, rnd):
        return [{"id": i, "vector": [float(rnd), float(i % 97), 1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                 "round": rnd} for i in range(k, min(k + self.BATCH, self.KEYS))]

    def dir_bytes(self, sub=""):
        """Bytes on disk below the data directory, leaving out raft_uv's open
        log segments: it preallocates three of 8 MiB per Raft group, a fixed
        cost that holds at most the log's tail, not versions of the data.
        Index files are left out too: they are derived data, and the query
        role keeps the indexes of the segments it sealed itself until its
        next start (decisions.md, Indexes). A file removed while we walk
        counts nothing."""
        total = 0
        for root, dirs, files in os.walk(os.path.join(self.srv.data_dir, sub)):
            if os.path.normpath(root) == os.path.normpath(self.srv.data_dir):
                dirs[:] = [d for d in dirs if d != "indexes"]
            for f in files:
                if not f.startswith("open-"):
                    try:
                        total += os.stat(os.path.join(root, f)).st_blocks * 512
                    except FileNotFoundError:
                        pass
        return total

    def test_upsert_heavy_then_compact(self):
        s = self.srv
        s.ok("collections/create", {"collectionName": "heavy", "dimension": self.DIM,
                                    "metricType": "L2"})
        for rnd in range(self.ROUNDS):
            for k in range(0, self.KEYS, self.BATCH):
                s.ok("entities/upsert", {"collectionName": "heavy", "data": self.rows(k, rnd)})
        r = s.ok("collections/compact", {"collectionName": "heavy"})
        job = r["data"]["compactionID"]
        st = s.ok("collections/get_compaction_state", {"jobID": job})["data"]
        self.assertEqual(st["state"], "Completed")
        s.ok("entities/upsert", {"collectionName": "heavy", "data": self.rows(0, self.ROUNDS)[:1]})
        s.ok("collections/flush", {"collectionName": "heavy"})  # drops the replaced files
        one_version = self.dir_bytes("segments")
        s.ok("collections/flush", {"collectionName": "heavy"})
        # raft_uv removes the log behind a snapshot in the background. It
        # keeps the entries the snapshot trails (8) in whole closed
        # segments, here up to one of its 8 MiB segments of upserts: the
        # log's tail, not a version of the data. (The limit used to be met
        # with room to spare because one_version was measured before the
        # replaced ranges were deleted; a flush now answers after its
        # snapshot, which deletes them.)
        limit = 1.5 * one_version + (8 << 20)
        try:
            harness.wait_until(lambda: self.dir_bytes() <= limit, timeout_s=10,
                               what="the log behind the snapshots to be removed")
        except AssertionError:
            pass
        total = self.dir_bytes()
        self.assertLessEqual(total, limit, "data dir %d bytes, one version %d" % (total, one_version))
        self.srv.kill9()
        self.srv.restart()
        self.check_last_version()

    def check_last_version(self):
        cnt = self.srv.ok("entities/query", {"collectionName": "heavy", "filter": "",
                                             "outputFields": ["count(*)"],
                                             "consistencyLevel": "Strong"})
        self.assertEqual(cnt["data"], [{"count(*)": self.KEYS}])
        stale = self.srv.ok("entities/query", {
            "collectionName": "heavy", "filter": "round < %d" % (self.ROUNDS - 1),
            "outputFields": ["count(*)"], "consistencyLevel": "Strong"})
        self.assertEqual(stale["data"], [{"count(*)": 0}], "an older version is visible")



class CompactedStoreTest(unittest.TestCase):
    """After a compaction the data role keeps in memory only what the
    compacted range holds (segment/sealer.c). Merges resolve against that
    state, a second compaction starts from it, and a restart sees the same."""

    KEYS, ROUNDS, DIM = 2000, 5, 8
    PK = "Int64"

    def setUp(self):
        self.srv = harness.Server(["--seal-mb", "16"])
        self.addCleanup(self.srv.close)

    def vec(self, i, rnd):
        return [float(rnd), float(i % 97), 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]

    def key(self, i):
        return i if self.PK == "Int64" else "k%05d" % i

    def create(self):
        pk = {"fieldName": "id", "dataType": self.PK, "isPrimary": True}
        if self.PK == "VarChar":
            pk["elementTypeParams"] = {"max_length": 16}
        self.srv.ok("collections/create", {"collectionName": "cs", "schema": {
            "enableDynamicField": True, "fields": [
                pk, {"fieldName": "vector", "dataType": "FloatVector",
                     "elementTypeParams": {"dim": self.DIM}}]},
            "indexParams": [{"fieldName": "vector", "metricType": "L2", "indexType": "FLAT"}]})

    def compact(self):
        r = self.srv.ok("collections/compact", {"collectionName": "cs"})
        st = self.srv.ok("collections/get_compaction_state",
                         {"jobID": r["data"]["compactionID"]})["data"]
        self.assertEqual(st["state"], "Completed")

    def check(self):
        got = self.srv.ok("entities/query", {
            "collectionName": "cs", "filter": "id < %s" % json.dumps(self.key(200)),
            "outputFields": ["vector", "round"], "consistencyLevel": "Strong",
            "limit": 1000})["data"]
        last = self.ROUNDS - 1
        want = {self.key(i): (100 if i < 100 else last, self.vec(i, last)) for i in range(200)}
        self.assertEqual({row["id"]: (row["round"], row["vector"]) for row in got}, want)
        cnt = self.srv.ok("entities/query", {"collectionName": "cs", "filter": "",
                                             "outputFields": ["count(*)"],
                                             "consistencyLevel": "Strong"})
        self.assertEqual(cnt["data"], [{"count(*)": self.KEYS}])

    def test_merges_and_a_second_compaction_after_one(self):
        s = self.srv
        self.create()
        for rnd in range(self.ROUNDS):
            s.ok("entities/upsert", {"collectionName": "cs", "data": [
                {"id": self.key(i), "vector": self.vec(i, rnd), "round": rnd}
                for i in range(self.KEYS + 50)]})
            if rnd == self.ROUNDS - 1:  # deletes newer than the retention point
                s.ok("entities/delete", {"collectionName": "cs", "filter": "id >= %s"
                                         % json.dumps(self.key(self.KEYS))})
        self.compact()
        # Merges read each key's latest version from the data role's store.
        s.ok("entities/upsert", {"collectionName": "cs", "partialUpdate": True,
                                 "data": [{"id": self.key(i), "round": 100} for i in range(100)]})
        self.compact()
        self.check()
        s.kill9()
        s.restart()
        self.check()



class CompactedVarCharStoreTest(CompactedStoreTest):
    """The same with VarChar keys: the compacted range's delete records
    borrow their keys from the store they came from."""
    PK = "VarChar"

def flip(path, at):
    with open(path, "r+b") as f:
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ 0x40]))


if __name__ == "__main__":
    harness.run_tests()
