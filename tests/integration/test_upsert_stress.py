"""Upsert under concurrency (milvus-rest-v2.md §5, §6).

1. Concurrent merge-mode (partialUpdate) upserts: 8 clients each own one of
   the fields f0..f7 and update it on the same 10 keys. Tidemark resolves a
   merge when it applies the log, so no client's update is lost (Milvus
   reads at the proxy and writes whole rows back, and loses some here).
   The same state must come back after kill -9, and a kill -9 in the
   middle of the merges loses no acknowledged one.
2. Strong readers during a stream of override upserts of the same keys see
   every key exactly once (never zero, never two versions), through `get`
   and `query`, and never a row torn between two versions.
3. kill -9 during 4 concurrent override writers: after restart every key
   shows its last acknowledged upsert (or, for a key of the request in
   flight at the kill, that request's value), each key once, and count(*)
   equals the number of live keys.

Every test is bounded in requests and in time.

Usage: test_upsert_stress.py /path/to/tidemark [unittest args]
"""

import http.client
import os
import random
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

NFIELDS = 8  # f0..f7, one per merge client
MERGE_KEYS = list(range(10))
ROW_UPDATES = 1000  # per merge client
# Rows per request of each merge client: single rows interleave finest,
# batches exercise a request that merges into several keys.
MERGE_BATCH = (1, 1, 2, 5, 10, 10, 1, 5)
TEST_DEADLINE_S = 40.0


def collection_body(name, scalars):
    """Int64 pk `id`, FloatVector `v` (dim 4, FLAT index), and an Int64
    field with default 0 for every name in scalars."""
    fields = [{"fieldName": "id", "dataType": "Int64", "isPrimary": True},
              {"fieldName": "v", "dataType": "FloatVector", "elementTypeParams": {"dim": 4}}]
    fields += [{"fieldName": f, "dataType": "Int64", "defaultValue": 0} for f in scalars]
    return {"collectionName": name,
            "schema": {"autoID": False, "enableDynamicField": False, "fields": fields},
            "indexParams": [{"fieldName": "v", "indexName": "v_idx", "metricType": "L2",
                             "indexType": "FLAT"}]}


def vec_of(x):
    """A vector that encodes x exactly in float32 (x < 10^9), so a row whose
    vector and scalars come from different writes is detected."""
    return [float(x % 1000), float(x // 1000 % 1000), float(x // 1000000), 1.0]


def id_filter(keys):
    return "id in [%s]" % ",".join(map(str, keys))


def join_all(threads, deadline):
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()))
    return [t for t in threads if t.is_alive()]


class UpsertStressTest(unittest.TestCase):
    server_args = ("--shards", "2")

    def setUp(self):
        self.srv = harness.Server(self.server_args)
        self.addCleanup(self.srv.close)

    def strong_query(self, coll, keys, fields):
        return self.srv.ok("entities/query", {
            "collectionName": coll, "filter": id_filter(keys), "outputFields": fields,
            "limit": len(keys) + 10, "consistencyLevel": "Strong"})["data"]

    def count_star(self, coll):
        r = self.srv.ok("entities/query", {"collectionName": coll, "filter": "",
                                           "outputFields": ["count(*)"],
                                           "consistencyLevel": "Strong"})
        return r["data"][0]["count(*)"]

    # ---- 1. concurrent partial updates ----

    def run_merge_clients(self, coll):
        """8 clients x 1,000 merge row updates; returns last[c][k], the value
        client c last wrote (and had acknowledged) to key k. A Strong reader
        runs alongside and checks that it never sees less than an already
        acknowledged value, and that no value goes back."""
        fields = ["f%d" % c for c in range(NFIELDS)]
        self.srv.ok("collections/create", collection_body(coll, fields))
        self.srv.ok("entities/insert", {"collectionName": coll,
                                        "data": [{"id": k, "v": vec_of(k)} for k in MERGE_KEYS]})
        acked = [[-1] * len(MERGE_KEYS) for _ in range(NFIELDS)]
        errors = []
        done = threading.Event()
        deadline = time.monotonic() + TEST_DEADLINE_S

        def client(c):
            cl = harness.Client(self.srv.port)
            try:
                u = 0
                while u < ROW_UPDATES and time.monotonic() < deadline:
                    n = min(MERGE_BATCH[c], ROW_UPDATES - u)
                    rows = [{"id": (u + j) % len(MERGE_KEYS), "f%d" % c: u + j} for j in range(n)]
                    r = cl.ok("entities/upsert", {"collectionName": coll, "partialUpdate": True,
                                                  "data": rows})
                    if r["data"]["upsertCount"] != n:
                        raise AssertionError("upsertCount %r for %d rows" % (r["data"], n))
                    for row in rows:  # acknowledged: from now on a Strong read sees it
                        acked[c][row["id"]] = row["f%d" % c]
                    u += n
                if u < ROW_UPDATES:
                    raise AssertionError("client %d: only %d row updates in %.0f s"
                                         % (c, u, TEST_DEADLINE_S))
            except Exception as e:  # noqa: BLE001 - reported by the main thread
                errors.append("client %d: %r" % (c, e))
            finally:
                cl.close()

        def reader():
            cl = harness.Client(self.srv.port)
            seen = [[-1] * len(MERGE_KEYS) for _ in range(NFIELDS)]
            try:
                for _ in range(2000):
                    if done.is_set() or time.monotonic() > deadline:
                        break
                    floor = [list(a) for a in acked]  # acknowledged before the read starts
                    rows = cl.ok("entities/query", {
                        "collectionName": coll, "filter": id_filter(MERGE_KEYS),
                        "outputFields": fields, "limit": 100,
                        "consistencyLevel": "Strong"})["data"]
                    ids = sorted(r["id"] for r in rows)
                    if ids != MERGE_KEYS:
                        raise AssertionError("Strong read returned ids %r" % ids)
                    for row in rows:
                        k = row["id"]
                        for c in range(NFIELDS):
                            got = row["f%d" % c]
                            if got < floor[c][k] or got < seen[c][k]:
                                raise AssertionError(
                                    "key %d f%d = %d, but %d was acknowledged before the read "
                                    "and %d seen earlier" % (k, c, got, floor[c][k], seen[c][k]))
                            seen[c][k] = got
            except Exception as e:  # noqa: BLE001
                errors.append("reader: %r" % (e,))
            finally:
                cl.close()

        threads = [threading.Thread(target=client, args=(c,)) for c in range(NFIELDS)]
        rd = threading.Thread(target=reader)
        for t in threads + [rd]:
            t.start()
        alive = join_all(threads, deadline + 5)
        done.set()
        alive += join_all([rd], deadline + 10)
        self.assertEqual(errors, [])
        self.assertEqual(alive, [], "threads still running after the deadline")
        return acked

    def check_merged(self, coll, last, how):
        fields = ["f%d" % c for c in range(NFIELDS)]
        rows = self.strong_query(coll, MERGE_KEYS, ["v"] + fields)
        self.assertEqual(sorted(r["id"] for r in rows), MERGE_KEYS, how)
        lost = []
        for row in rows:
            k = row["id"]
            self.assertEqual(row["v"], vec_of(k), "%s: key %d lost its vector" % (how, k))
            for c in range(NFIELDS):
                if row["f%d" % c] != last[c][k]:
                    lost.append("key %d f%d = %d, last written %d"
                                % (k, c, row["f%d" % c], last[c][k]))
        self.assertEqual(lost, [], "%s: lost partial updates" % how)
        self.assertEqual(self.count_star(coll), len(MERGE_KEYS), how)

    def test_concurrent_partial_updates_lose_nothing(self):
        last = self.run_merge_clients("merge")
        # Each client's last row update of key k is 990 + k by construction.
        self.assertEqual(last, [[ROW_UPDATES - len(MERGE_KEYS) + k for k in MERGE_KEYS]
                                for _ in range(NFIELDS)])
        self.check_merged("merge", last, "after the run")

    def test_concurrent_partial_updates_survive_kill9(self):
        """Merges are resolved at apply time, so recovery (which applies the
        log again) must resolve them to the same rows."""
        last = self.run_merge_clients("merge9")
        self.check_merged("merge9", last, "before kill -9")
        self.srv.kill9()
        self.srv.restart()
        self.check_merged("merge9", last, "after kill -9 and restart")
        # And merging on top of the recovered rows still works.
        self.srv.ok("entities/upsert", {"collectionName": "merge9", "partialUpdate": True,
                                        "data": [{"id": k, "f3": -k} for k in MERGE_KEYS]})
        for k in MERGE_KEYS:
            last[3][k] = -k
        self.check_merged("merge9", last, "after a merge on the recovered rows")

    def test_kill9_during_partial_updates(self):
        """kill -9 while the 8 merge clients run: after restart each field
        f<c> of each key holds client c's last acknowledged value for it, or
        the value of c's request in flight at the kill."""
        coll = "merge_crash"
        fields = ["f%d" % c for c in range(NFIELDS)]
        self.srv.ok("collections/create", collection_body(coll, fields))
        self.srv.ok("entities/insert", {"collectionName": coll,
                                        "data": [{"id": k, "v": vec_of(k)} for k in MERGE_KEYS]})
        acked = [[0] * len(MERGE_KEYS) for _ in range(NFIELDS)]  # 0: the default
        inflight = [{} for _ in range(NFIELDS)]
        sent = [0] * NFIELDS
        errors = []
        killed = threading.Event()
        deadline = time.monotonic() + 30.0

        def client(c):
            cl = harness.Client(self.srv.port)
            u = 0
            try:
                while not killed.is_set() and time.monotonic() < deadline:
                    rows = [{"id": (u + j) % len(MERGE_KEYS), fields[c]: u + j + 1}
                            for j in range(MERGE_BATCH[c])]
                    inflight[c] = {r["id"]: r[fields[c]] for r in rows}
                    try:
                        cl.ok("entities/upsert", {"collectionName": coll, "partialUpdate": True,
                                                  "data": rows})
                    except ConnectionRefusedError:
                        inflight[c] = {}  # never reached the server
                        raise
                    for r in rows:
                        acked[c][r["id"]] = r[fields[c]]
                    inflight[c] = {}
                    u += len(rows)
                    sent[c] += 1
            except (OSError, http.client.HTTPException, ValueError) as e:
                if not killed.is_set():
                    errors.append("client %d: %r" % (c, e))
            except Exception as e:  # noqa: BLE001
                errors.append("client %d: %r" % (c, e))
            finally:
                cl.close()

        threads = [threading.Thread(target=client, args=(c,)) for c in range(NFIELDS)]
        for t in threads:
            t.start()
        time.sleep(2.0)
        killed.set()
        self.srv.kill9()
        alive = join_all(threads, deadline)
        self.assertEqual(errors, [])
        self.assertEqual(alive, [])
        self.assertTrue(all(n > 0 for n in sent), "a client got no merge through: %r" % sent)
        self.srv.restart()
        rows = self.strong_query(coll, MERGE_KEYS, ["v"] + fields)
        self.assertEqual(sorted(r["id"] for r in rows), MERGE_KEYS)
        wrong = []
        for row in rows:
            k = row["id"]
            if row["v"] != vec_of(k):
                wrong.append("key %d lost its vector: %r" % (k, row))
            for c in range(NFIELDS):
                allowed = {acked[c][k], inflight[c].get(k, acked[c][k])}
                if row[fields[c]] not in allowed:
                    wrong.append("key %d f%d = %d, acknowledged %d, in flight %r"
                                 % (k, c, row[fields[c]], acked[c][k], inflight[c].get(k)))
        self.assertEqual(wrong[:10], [], "%d fields differ after kill -9" % len(wrong))
        self.assertEqual(self.count_star(coll), len(MERGE_KEYS))

    # ---- 2. one version at Strong during override upserts ----

    def test_strong_readers_see_one_version(self):
        coll = "override"
        keys = list(range(100, 120))
        self.srv.ok("collections/create", collection_body(coll, ["w", "n"]))
        self.srv.ok("entities/insert", {"collectionName": coll, "data": [
            {"id": k, "v": vec_of(k), "w": -1, "n": k} for k in keys]})
        iters = 150
        last = {}  # writer -> its last value per key (written in order, so one value)
        errors = []
        deadline = time.monotonic() + 25.0

        def payload(w, i, k):
            return 1_000_000 * (w + 1) + 1000 * i + k

        def writer(w):
            cl = harness.Client(self.srv.port)
            try:
                for i in range(iters):
                    if time.monotonic() > deadline:
                        break
                    order = keys if w == 0 else keys[::-1]  # collide in both directions
                    cl.ok("entities/upsert", {"collectionName": coll, "data": [
                        {"id": k, "v": vec_of(payload(w, i, k)), "w": w, "n": payload(w, i, k)}
                        for k in order]})
                    last[w] = i
            except Exception as e:  # noqa: BLE001
                errors.append("writer %d: %r" % (w, e))
            finally:
                cl.close()

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(2)]
        for t in threads:
            t.start()
        reads = 0
        problems = []
        while any(t.is_alive() for t in threads) and reads < 1500 and not problems:
            if reads % 2 == 0:
                how = "get"
                rows = self.srv.ok("entities/get", {
                    "collectionName": coll, "id": keys, "outputFields": ["v", "w", "n"],
                    "consistencyLevel": "Strong"})["data"]
            else:
                how = "query"
                rows = self.strong_query(coll, keys, ["v", "w", "n"])
            reads += 1
            ids = sorted(r["id"] for r in rows)
            if ids != keys:
                problems.append("%s #%d: ids %r (missing %r)" % (
                    how, reads, ids, sorted(set(keys) - set(ids))))
            for r in rows:
                if r["v"] != vec_of(r["n"]):
                    problems.append("%s #%d: torn row %r" % (how, reads, r))
        alive = join_all(threads, deadline + 10)
        self.assertEqual(problems[:5], [])
        self.assertEqual(errors, [])
        self.assertEqual(alive, [])
        self.assertGreater(reads, 10, "the reader barely overlapped the writers")
        # The final version of each key is one of the two writers' last.
        finals = {k: {payload(w, last[w], k) for w in last} for k in keys}
        for r in self.strong_query(coll, keys, ["n"]):
            self.assertIn(r["n"], finals[r["id"]])

    # ---- 3. kill -9 during concurrent override writers ----

    def test_kill9_during_concurrent_upserts(self):
        coll = "crash"
        nwriters, per_writer, batch = 4, 125, 20
        space = list(range(nwriters * per_writer))
        self.srv.ok("collections/create", collection_body(coll, ["val"]))
        # Half of the keys exist before the writers start; the rest are
        # created by upserts.
        acked = {k: k for k in space if k % 2 == 0}  # key -> last acknowledged val
        self.srv.ok("entities/insert", {"collectionName": coll, "data": [
            {"id": k, "v": vec_of(v), "val": v} for k, v in acked.items()]})
        inflight = [None] * nwriters  # per writer: {key: val} of the unacknowledged request
        sent = [0] * nwriters
        errors = []
        killed = threading.Event()
        run_s, deadline = 3.0, time.monotonic() + 30.0

        def writer(w):
            # Disjoint key ranges: each writer alone orders its keys' writes,
            # so "last acknowledged" needs no lock shared between writers.
            rnd = random.Random(1000 + w)
            mine = space[w * per_writer:(w + 1) * per_writer]
            cl = harness.Client(self.srv.port)
            try:
                while not killed.is_set() and time.monotonic() < deadline:
                    batch_vals = {k: rnd.randrange(1, 10**9) for k in rnd.sample(mine, batch)}
                    inflight[w] = batch_vals
                    try:
                        cl.ok("entities/upsert", {"collectionName": coll, "data": [
                            {"id": k, "v": vec_of(v), "val": v} for k, v in batch_vals.items()]})
                    except ConnectionRefusedError:
                        inflight[w] = None  # never reached the server
                        raise
                    acked.update(batch_vals)  # disjoint keys: no other writer touches them
                    inflight[w] = None
                    sent[w] += 1
            except (OSError, http.client.HTTPException, ValueError) as e:
                if not killed.is_set():
                    errors.append("writer %d: %r" % (w, e))
            except Exception as e:  # noqa: BLE001
                errors.append("writer %d: %r" % (w, e))
            finally:
                cl.close()

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(nwriters)]
        for t in threads:
            t.start()
        time.sleep(run_s)
        killed.set()
        self.srv.kill9()
        alive = join_all(threads, deadline)
        self.assertEqual(errors, [])
        self.assertEqual(alive, [])
        self.assertTrue(all(n > 0 for n in sent), "a writer got no upsert through: %r" % sent)
        self.srv.restart()

        maybe = {}  # key -> the in-flight value, which may or may not have applied
        for b in inflight:
            maybe.update(b or {})
        rows = self.strong_query(coll, space, ["v", "val"])
        got = {}
        for r in rows:
            self.assertNotIn(r["id"], got, "key %d has two live rows" % r["id"])
            got[r["id"]] = r
        wrong = []
        for k in space:
            # None stands for "absent": a key never acknowledged may not exist.
            allowed = {acked.get(k), maybe[k]} if k in maybe else {acked.get(k)}
            have = got[k]["val"] if k in got else None
            if have not in allowed:
                wrong.append("key %d: val %r, acknowledged %r, in flight %r"
                             % (k, have, acked.get(k), maybe.get(k)))
            elif k in got and got[k]["v"] != vec_of(have):
                wrong.append("key %d: torn row %r" % (k, got[k]))
        self.assertEqual(wrong[:10], [], "%d keys differ after kill -9" % len(wrong))
        self.assertEqual(self.count_star(coll), len(got))
        byget = self.srv.ok("entities/get", {"collectionName": coll, "id": space,
                                             "outputFields": ["val"],
                                             "consistencyLevel": "Strong"})["data"]
        self.assertEqual(sorted(r["id"] for r in byget), sorted(got))

        # Upserts on the recovered keys replace them: still one row per key.
        live = sorted(got)
        for i in range(0, len(live), 100):
            self.srv.ok("entities/upsert", {"collectionName": coll, "data": [
                {"id": k, "v": vec_of(7), "val": 7} for k in live[i:i + 100]]})
        rows = self.strong_query(coll, space, ["val"])
        self.assertEqual(sorted(r["id"] for r in rows), live)
        self.assertEqual({r["val"] for r in rows}, {7})
        self.assertEqual(self.count_star(coll), len(live))


if __name__ == "__main__":
    harness.run_tests()
