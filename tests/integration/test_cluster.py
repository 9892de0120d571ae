"""The cluster under kill -9 (docs/cluster.md, DESIGN.md §1, §9).

Each test starts a real cluster on loopback with cluster/tmcluster in a fresh
temporary directory (coordinators, 3 data nodes, 2 query nodes, 1 proxy;
2 WAL shards of 3 replicas) and always stops it, even on failure:

- a WAL shard's leader is killed while a client keeps writing: every
  acknowledged write is recorded; writes resume within 2x the election
  timeout (+0.5 s, see RESUME_LIMIT_S); a Strong read after each
  acknowledged write sees it; the killed node comes back and catches up
  (the replicas' digests agree); every acknowledged key is there exactly
  once.
- a query node is killed while a client searches and queries: every answer
  is right (checked against an exact reference) or a clear error, and the
  restarted node serves again.
- of three coordinators the leader is killed: DDL and writes continue within
  a few seconds, with rising write timestamps; again with the restarted one.
- the shard leaders leave every third push of applied entries unsent (a
  test hook): after each acknowledged write a Strong read sees it and
  every earlier one, so the query nodes found each gap and filled it.
- each query node serves one of the two shards: every read goes to both and
  the proxy merges (top-k, offsets, grouping, filtered queries, counts, gets,
  merge-mode upserts), each answer equal to an exact reference; with one
  node down, reads fail with a clear "service unavailable" until it is back.
- three converged nodes (each a coordinator, a data node and a proxy, two
  of them query nodes; `tmcluster up --converged 3`): the node leading a
  shard is killed while a client writes through another node's proxy, with
  the same checks as the shard leader's kill above.
- a data node is down while its shards seal three times and drop the log
  behind their snapshots (a test hook keeps 16 entries): restarted, it
  installs the leader's snapshot, copying the sealed ranges it names, and
  every replica's digest agrees, also after a clean restart of it;
- the same keys are upserted and flushed three times: the shard leaders free
  the log entries behind their readers (the first entries are gone), every
  read stays right, and a restarted query node alone answers right.

Under ASan (TM_SANITIZED=1) loads are smaller and waits longer. Set
TIDEMARK_KEEP=1 to keep the cluster directories (node logs) after the run;
a failing test keeps its directory and prints where it is.

Usage: test_cluster.py /path/to/tidemark [unittest args]
"""

import http.client
import importlib.machinery
import importlib.util
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402
import refimpl as ref  # noqa: E402


def _load_tmcluster():
    path = os.path.join(HERE, "..", "..", "cluster", "tmcluster")
    loader = importlib.machinery.SourceFileLoader("tmcluster", path)
    spec = importlib.util.spec_from_loader("tmcluster", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


tm = _load_tmcluster()

SANITIZED = os.environ.get("TM_SANITIZED") == "1"
SLOW = 3.0 if SANITIZED else 1.0  # every wait is multiplied by this
ELECTION_MS = 1000
ELECTION_S = ELECTION_MS / 1000.0
# Writes resume within 2x the election timeout, plus a fixed allowance:
# libraft draws each follower's timeout from [T, 2T), so an election may only
# begin 2T after the last heartbeat; the vote, the new leader's barrier and
# the proxy's retry come on top (~0.1 s measured; without the allowance 4 of
# 6 runs stopped for 2.11 s). The sanitized binary gets twice the limit.
FAILOVER_SLACK_S = 0.5
RESUME_LIMIT_S = (2 * ELECTION_S + FAILOVER_SLACK_S) * (2.0 if SANITIZED else 1.0)
# "A few seconds" for the coordinators (election, then clients moving on).
COORD_RESUME_LIMIT_S = max(5.0, 4 * ELECTION_S) * (2.0 if SANITIZED else 1.0)
REQUEST_TIMEOUT_S = 20.0 * SLOW
DIM = 8
NOT_IN_BUILD = "unknown call"  # how a role answers a call it does not have


def require_node_subcommand():
    """Skips (naming the missing piece) when the binary has no `node`."""
    try:
        p = subprocess.run([harness.bin_path(), "node", "--help"], capture_output=True,
                           timeout=20 * SLOW)
        out = (p.stdout + p.stderr).decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        out = ""
    if "unknown command" in out:
        raise unittest.SkipTest("`tidemark node` (docs/cluster.md) is not in this build")


class Rest:
    """A keep-alive HTTP client of the proxy that never raises on transport
    trouble: a failed request answers {"code": -1, "message": ...}, since a
    failover test must keep going and judge the answer."""

    def __init__(self, url, timeout_s=REQUEST_TIMEOUT_S):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.timeout_s = timeout_s
        self.conn = None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def post(self, path, body):
        """-> (reply dict, response headers lower-cased)."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        try:
            self.conn.request("POST", "/v2/vectordb/" + path, body=json.dumps(body).encode(),
                              headers={"Content-Type": "application/json"})
            resp = self.conn.getresponse()
            data = resp.read()
            hdrs = {k.lower(): v for k, v in resp.getheaders()}
            if hdrs.get("connection", "").lower() == "close":
                self.close()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            return {"code": -1, "message": "no answer: %s: %s" % (type(e).__name__, e)}, {}
        if resp.status != 200:
            return {"code": -2, "message": "HTTP %d: %r" % (resp.status, data[:300])}, hdrs
        try:
            return json.loads(data), hdrs
        except ValueError:
            return {"code": -3, "message": "not JSON: %r" % data[:300]}, hdrs

    def call(self, path, body):
        return self.post(path, body)[0]

    def ok(self, path, body):
        r = self.call(path, body)
        if r.get("code") != 0:
            raise AssertionError("%s %s -> %r" % (path, json.dumps(body)[:200], r))
        return r


def bounded(fn, timeout_s, what, interval_s=0.1, max_tries=10000, check=None):
    """Calls fn() until it returns something truthy, at most timeout_s and
    max_tries times; returns that value or fails naming `what` and the last
    value seen. check() runs after each miss (it may fail the test early)."""
    deadline = time.monotonic() + timeout_s
    last = None
    for _ in range(max_tries):
        last = fn()
        if last and not isinstance(last, Failed):
            return last
        if check:
            check()
        if time.monotonic() > deadline:
            break
        time.sleep(interval_s)
    raise AssertionError("timed out after %.1f s waiting for %s (last: %r)"
                         % (timeout_s, what, last))


class Failed:
    """A falsy value that carries why (for bounded's message)."""

    def __init__(self, why):
        self.why = why

    def __bool__(self):
        return False

    def __repr__(self):
        return repr(self.why)


def describe_exits(exits):
    """{id: [statuses]} in words (-13: killed by SIGPIPE)."""
    def one(c):
        if c is not None and c < 0:
            try:
                return "killed by %s" % signal.Signals(-c).name
            except ValueError:
                return "killed by signal %d" % -c
        return "exit status %s" % c
    return "; ".join("node %d: %s" % (n, ", ".join(one(c) for c in cs))
                     for n, cs in sorted(exits.items()))


def vec_of(rnd):
    return [harness.f32(rnd.uniform(-1.0, 1.0)) for _ in range(DIM)]


def schema_body(name):
    return {"collectionName": name,
            "schema": {"autoID": False, "enableDynamicField": False, "fields": [
                {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
                {"fieldName": "vec", "dataType": "FloatVector",
                 "elementTypeParams": {"dim": DIM}},
                {"fieldName": "v", "dataType": "Int64"}]},
            "indexParams": [{"fieldName": "vec", "indexName": "vec_idx", "metricType": "L2",
                             "indexType": "FLAT"}]}


class ClusterCase(unittest.TestCase):
    COORDS = 1
    QUERY_SHARDS = None  # the shards each query node serves ("0;1"); default all
    CONVERGED = 0  # else that many nodes, each running every role (tmcluster --converged)

    def setUp(self):
        require_node_subcommand()
        self.tmp = tempfile.mkdtemp(prefix="tidemark-cl-")
        self.addCleanup(self._teardown)
        self.cl = tm.Cluster.create(self.tmp, die_with_parent=True, quiet=True,
                                    coords=self.COORDS, data=3, query=2, proxies=1, shards=2,
                                    replicas=3, bin_path=harness.bin_path(),
                                    election_ms=ELECTION_MS, query_shards=self.QUERY_SHARDS,
                                    converged=self.CONVERGED)
        try:
            self.cl.up(timeout_s=60 * SLOW)
        except tm.ClusterError as e:
            self.fail("the cluster did not start: %s\n%s" % (e, self.logs()))
        self.rest = Rest(self.cl.rest)

    def _failed(self):
        """Whether this test (or one of its subtests) failed so far."""
        outcome = getattr(self, "_outcome", None)
        if outcome is None:
            return False
        if any(exc for _, exc in getattr(outcome, "errors", []) or []):  # Python < 3.11
            return True
        result = getattr(outcome, "result", None)
        if result is None:
            return False
        return any(getattr(t, "test_case", t) is self for t, _ in result.failures + result.errors)

    def _teardown(self):
        """Stops every node (SIGTERM, SIGKILL after 10 s); fails if a node
        needed SIGKILL, exited non-zero after SIGTERM, or logged a sanitizer
        report. Removes the directory unless kept."""
        if getattr(self, "rest", None):
            self.rest.close()
        problems = []
        cl = getattr(self, "cl", None)
        if cl is not None:
            running = [n for n in cl.ids() if cl.alive(n)]
            try:
                killed = cl.stop_all(timeout_s=10 * SLOW)
            except tm.ClusterError as e:
                killed = running
                problems.append(str(e))
            if killed:
                problems.append("nodes %s did not exit within %.0f s of SIGTERM"
                                % (killed, 10 * SLOW))
            for nid in running:
                codes = cl.exit_codes.get(nid, [])
                if nid not in killed and codes and codes[-1] != 0:
                    problems.append("node %d: exit status %d after SIGTERM\n%s"
                                    % (nid, codes[-1], cl.log_tail(nid, 1500)))
            crashed = cl.unexpected_exits()
            if crashed:
                problems.append("nodes exited without being signalled: %s\n%s"
                                % (describe_exits(crashed), self.logs(list(crashed))))
            for nid, rep in cl.sanitizer_reports().items():
                problems.append("node %d: sanitizer report\n%s" % (nid, rep))
        keep = os.environ.get("TIDEMARK_KEEP") or problems or self._failed()
        if keep:
            sys.stderr.write("\n(cluster directory kept: %s)\n" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        if problems:
            raise AssertionError("\n".join(problems))

    def logs(self, ids=None, nbytes=1500):
        ids = self.cl.ids() if ids is None else ids
        return "\n".join("---- node %d (%s) ----\n%s" % (n, self.cl.node(n)["roles"],
                                                        self.cl.log_tail(n, nbytes))
                         for n in ids)

    # ---- helpers ----

    def assert_no_crash(self):
        """Fails at once if a node exited without the test killing it."""
        crashed = self.cl.unexpected_exits()
        if crashed:
            self.fail("nodes exited without being signalled: %s\n%s"
                      % (describe_exits(crashed), self.logs(list(crashed))))

    def wait(self, fn, timeout_s, what, interval_s=0.1):
        """bounded(), failing early if a node crashed meanwhile."""
        return bounded(fn, timeout_s, what, interval_s, check=self.assert_no_crash)

    def create_collection(self, name):
        """Creates name (retried while the cluster settles: placement needs
        every data node registered)."""
        def attempt():
            r = self.rest.call("collections/create", schema_body(name))
            if r.get("code") == 0:
                return True
            d = self.rest.call("collections/has", {"collectionName": name})
            if d.get("code") == 0 and d.get("data", {}).get("has"):
                return True
            return Failed(r)
        self.wait(attempt, 60 * SLOW, "collections/create %s" % name, interval_s=0.25)

    def write(self, coll, rows, op="upsert"):
        """-> (reply, write timestamp or None)."""
        r, hdrs = self.rest.post("entities/" + op, {"collectionName": coll, "data": rows})
        ts = hdrs.get("tidemark-write-timestamp")
        return r, int(ts) if ts and ts.isdigit() else None

    def write_until_ok(self, coll, rows, timeout_s, what):
        """Repeats an idempotent write (an upsert of fixed rows) until it is
        acknowledged."""
        def attempt():
            r = self.write(coll, rows)
            return r if r[0].get("code") == 0 else Failed(r[0])
        return self.wait(attempt, timeout_s, what, interval_s=0.1)

    def load_vectors(self, coll, rnd, n, per_call, vecs, what):
        """Upserts keys 0..n-1 (a random vector each, kept in vecs; v = 3 k),
        per_call rows a call, each call repeated until acknowledged."""
        for b in range(0, n, per_call):
            rows = []
            for k in range(b, b + per_call):
                vecs[k] = vec_of(rnd)
                rows.append({"id": k, "vec": vecs[k], "v": k * 3})
            self.write_until_ok(coll, rows, 60 * SLOW, what)

    def strong_rows(self, coll, keys, fields=("v",)):
        """{pk: [rows with that pk]} of a Strong query, or Failed(reply)."""
        out = {}
        keys = list(keys)
        for i in range(0, len(keys), 200):
            part = keys[i:i + 200]
            r = self.rest.call("entities/query", {
                "collectionName": coll, "filter": "id in [%s]" % ",".join(map(str, part)),
                "outputFields": list(fields), "limit": 1000, "consistencyLevel": "Strong"})
            if r.get("code") != 0:
                return Failed(r)
            for row in r["data"]:
                out.setdefault(row["id"], []).append(row)
        return out

    def strong_count(self, coll):
        r = self.rest.call("entities/query", {"collectionName": coll, "filter": "",
                                              "outputFields": ["count(*)"],
                                              "consistencyLevel": "Strong"})
        if r.get("code") != 0:
            return Failed(r)
        return r["data"][0]["count(*)"]

    def find_shard_leader(self, shard, timeout_s):
        """The data node leading shard: the one whose `last_ts` answers
        (non-leaders answer 10010), else the logs' latest 'leads' line."""
        def attempt():
            nid = self.cl.shard_leader(shard)
            if nid:
                return nid
            logs = self.cl.leaders_from_logs()
            return logs[shard][0] if shard in logs else None
        try:
            return self.wait(attempt, timeout_s, "a leader of WAL shard %d" % shard, 0.1)
        except AssertionError:
            self.assert_no_crash()
            self.skipTest("no way to find WAL shard %d's leader: neither a data node that "
                          "answers `last_ts` {\"shard\": %d} nor a 'shard %d: this node leads "
                          "(term T)' log line" % (shard, shard, shard))

    def find_coord_leader(self, timeout_s):
        def attempt():
            nid = self.cl.coord_leader()
            return nid or Failed("no coordinator answers `nodes` with status 0")
        try:
            return self.wait(attempt, timeout_s, "a coordinator leader", 0.1)
        except AssertionError:
            self.assert_no_crash()
            self.skipTest("no coordinator answers the `nodes` call with status 0 "
                          "(docs/cluster.md: the leader answers, the others 10010)")

    def check_digests(self, shards, timeout_s):
        """Every replica of every shard reaches the same digest. Whenever two
        replicas report the same number of applied entries their digests must
        be equal (at any moment, not only at the end)."""
        for s in shards:
            def attempt():
                got = self.cl.digests(s)
                bad = {n: v for n, v in got.items() if not isinstance(v, dict)}
                if any(NOT_IN_BUILD in str(v) for v in bad.values()):
                    return "missing"
                if bad:
                    return Failed(got)
                by_n = {}
                for nid, v in got.items():
                    by_n.setdefault(v.get("n"), set()).add(v.get("digest"))
                for n, ds in by_n.items():
                    self.assertEqual(len(ds), 1, "shard %d: replicas that applied %s entries "
                                     "disagree: %r" % (s, n, got))
                if len(got) == 3 and len(by_n) == 1:
                    return got
                return Failed(got)
            got = self.wait(attempt, timeout_s, "shard %d's replicas to agree" % s, 0.2)
            if got == "missing":
                return "the data role's `digest` call (docs/cluster.md) is not in this build"
        return None


class DataLeaderKill(ClusterCase):
    COORDS = 1

    def test_leader_kill_loses_no_acknowledged_write(self):
        coll = "wal"
        self.create_collection(coll)
        rnd = random.Random(7)
        vecs = {}
        maybe = {}  # pk -> values it may hold (its last acknowledged one and any later tries)
        acked = {}  # pk -> value of its last acknowledged write
        # Initial load: a first batch upserted until the shards have leaders,
        # then inserts (not retried: a retried insert could add a key twice),
        # then upserts.
        nload = 60 if SANITIZED else 200
        for b in range(0, nload, 20):
            rows = []
            for k in range(b, b + 20):
                vecs[k] = vec_of(rnd)
                rows.append({"id": k, "vec": vecs[k], "v": 0})
            if b == 0:
                self.write_until_ok(coll, rows, 60 * SLOW, "the first write")
            else:
                r, _ = self.write(coll, rows, op="insert")
                self.assertEqual(r.get("code"), 0, r)
                self.assertEqual(r["data"].get("insertCount"), 20, r)
            for k in range(b, b + 20):
                acked[k] = 0
                maybe[k] = {0}
        rows = [{"id": k, "vec": vecs[k], "v": 1} for k in range(0, nload, 5)]
        self.write_until_ok(coll, rows, 30 * SLOW, "the first upserts")
        for r in rows:
            acked[r["id"]] = 1
            maybe[r["id"]] = {1}

        leaders = [self.find_shard_leader(s, 30 * SLOW) for s in (0, 1)]  # both lead
        shard = self.victim_shard(leaders)
        leader = leaders[shard]

        step = [1]
        next_key = [nload]
        stats = {"ok": 0, "failed": 0, "read_retries": 0}
        failures = []

        def one_write():
            """A batch of 8 rows (4 new keys, 4 existing ones; it touches both
            shards but for a chance of 2^-7), then a Strong read of them."""
            step[0] += 1
            v = step[0]
            keys = list(range(next_key[0], next_key[0] + 4))
            next_key[0] += 4
            keys += rnd.sample(sorted(acked), 4)
            rows = []
            for k in keys:
                vecs.setdefault(k, vec_of(rnd))
                rows.append({"id": k, "vec": vecs[k], "v": v})
                maybe.setdefault(k, set()).add(v)
            r, _ = self.write(coll, rows)
            if r.get("code") != 0:
                self.assert_no_crash()
                stats["failed"] += 1
                if len(failures) < 5:
                    failures.append(r)
                return None
            self.assertEqual(r["data"].get("upsertCount"), 8, r)
            stats["ok"] += 1
            for k in keys:
                acked[k] = v
                maybe[k] = {v}
            t_ack = time.monotonic()
            # A Strong read now must see exactly this write (this client is
            # the only writer). Reads may fail during the election; retried.
            for attempt in range(200):
                got = self.strong_rows(coll, keys)
                if not isinstance(got, Failed):
                    break
                stats["read_retries"] += 1
                self.assert_no_crash()
                if time.monotonic() - t_ack > 30 * SLOW:
                    self.fail("no Strong read answered for %.0f s after an acknowledged "
                              "write: %r" % (30 * SLOW, got))
                time.sleep(0.05)
            else:
                self.fail("Strong reads kept failing: %r" % got)
            for k in keys:
                self.assertEqual([row["v"] for row in got.get(k, [])], [v],
                                 "pk %d after an acknowledged write of v=%d" % (k, v))
            return t_ack

        # Before the kill.
        last_before = None
        for _ in range(10 if SANITIZED else 25):
            t = one_write()
            self.assertIsNotNone(t, "a write failed before any fault: %r" % failures)
            last_before = t
        # kill -9 the leader of shard 0, keep writing.
        self.write_around(leader)
        self.cl.kill(leader, signal.SIGKILL)
        t_kill = time.monotonic()
        first_after = None
        ok_after = 0
        deadline = t_kill + 60 * SLOW
        for _ in range(5000):
            if ok_after >= (15 if SANITIZED else 40) or time.monotonic() > deadline:
                break
            t = one_write()
            if t is not None:
                first_after = first_after or t
                ok_after += 1
            else:
                time.sleep(0.02)
        self.assertIsNotNone(first_after, "no write was acknowledged within %.0f s of killing "
                             "node %d (shard %d's leader): %r\n%s"
                             % (60 * SLOW, leader, shard, failures, self.logs()))
        gap = first_after - last_before
        sys.stderr.write("\n  shard %d leader node %d killed: writes resumed after %.2f s "
                         "(limit %.1f); %s\n" % (shard, leader, gap, RESUME_LIMIT_S, stats))
        self.assertLessEqual(gap, RESUME_LIMIT_S,
                             "writes stopped for %.2f s after killing shard %d's leader "
                             "(election timeout %.1f s)\n%s"
                             % (gap, shard, ELECTION_S, self.logs(self.cl.ids("data"))))
        new_leader = self.find_shard_leader(shard, 30 * SLOW)
        self.assertNotEqual(new_leader, leader)

        # The killed node comes back and catches up; writes go on meanwhile.
        self.cl.start(leader)
        for _ in range(10 if SANITIZED else 20):
            self.assertIsNotNone(one_write(), "a write failed after the restart: %r" % failures)
        with self.subTest("replica digests"):
            missing = self.check_digests(range(self.cl.layout["shards"]), 60 * SLOW)
            if missing:
                self.skipTest(missing)

        # Every acknowledged key exactly once, with its last acknowledged
        # value (or a later unacknowledged one); nothing else.
        got = self.wait(lambda: self.strong_rows(coll, sorted(maybe)), 30 * SLOW,
                        "a Strong query of every key")
        for k in sorted(acked):
            rows = got.get(k, [])
            self.assertEqual(len(rows), 1, "pk %d (acknowledged v=%d): %r" % (k, acked[k], rows))
            self.assertIn(rows[0]["v"], maybe[k], "pk %d" % k)
        for k, rows in got.items():
            self.assertEqual(len(rows), 1, "pk %d: %r" % (k, rows))
            self.assertIn(rows[0]["v"], maybe[k], "pk %d" % k)
        count = self.wait(lambda: self.strong_count(coll), 30 * SLOW, "count(*)")
        self.assertEqual(count, len(got), "count(*) against the rows a pk query finds")


    def victim_shard(self, leaders):
        """The shard whose leader (leaders[shard]) is killed."""
        return 0

    def write_around(self, victim):
        """Before victim is killed: the client keeps to a proxy that survives
        (the proxy has a node of its own here)."""


class ConvergedNodeKill(DataLeaderKill):
    """The shard leader's kill on three converged nodes: the killed node
    takes a coordinator, a data replica, perhaps a query node and a proxy
    with it."""
    CONVERGED = 3

    def victim_shard(self, leaders):
        """The shard the coordinator leader's node leads, if one: its kill
        takes the TSO's leader too."""
        coord = self.find_coord_leader(30 * SLOW)
        return leaders.index(coord) if coord in leaders else 0

    def write_around(self, victim):
        urls = ["http://" + self.cl.node(n)["http"] for n in self.cl.ids("proxy") if n != victim]
        self.rest.close()
        self.rest = Rest(urls[0])


class QueryNodeKill(ClusterCase):
    COORDS = 1

    def search_ok(self, coll, vecs, q, limit=10):
        """One Strong search: None if the answer is right, else the error
        reply. A wrong answer fails the test."""
        r = self.rest.call("entities/search", {"collectionName": coll, "data": [q],
                                               "limit": limit, "outputFields": ["v"],
                                               "consistencyLevel": "Strong"})
        if r.get("code") != 0:
            return r
        ranked = ref.rank(ref.distances(q, vecs, "L2"), "L2")
        ref.check_window(self, r["data"], ranked, 0, limit, 1e-4, what="search %r" % q)
        for h in r["data"]:
            self.assertEqual(h["v"], h["id"] * 3, h)
        return None

    def query_ok(self, coll, vecs, keys):
        got = self.strong_rows(coll, keys, ("vec", "v"))
        if isinstance(got, Failed):
            return got.why
        for k in keys:
            rows = got.get(k, [])
            self.assertEqual(len(rows), 1, "pk %d: %r" % (k, rows))
            self.assertEqual([harness.f32(x) for x in rows[0]["vec"]], vecs[k], "pk %d" % k)
            self.assertEqual(rows[0]["v"], k * 3)
        return None

    def test_query_node_kill_never_wrong(self):
        coll = "qn"
        self.create_collection(coll)
        rnd = random.Random(11)
        vecs = {}
        n = 100 if SANITIZED else 400
        self.load_vectors(coll, rnd, n, 50, vecs, "the initial load")
        # Sealed now: a restarted query node copies the sealed segments from
        # the shard leaders into its own directory (query_fetch.c).
        r = self.rest.call("collections/flush", {"collectionName": coll})
        self.assertEqual(r.get("code"), 0, r)
        q0 = vec_of(rnd)
        self.wait(lambda: self.search_ok(coll, vecs, q0) is None, 60 * SLOW,
                  "a first right search", 0.2)

        # Each query node in turn is killed under reads, then restarted. While
        # the second one is down, the restarted first one is the only query
        # node left: then reads must (also) succeed.
        next_key = [n]
        for phase, victim in enumerate(self.cl.ids("query")):
            self.cl.kill(victim, signal.SIGKILL)
            stats = self.reads_under_fault(coll, vecs, rnd, next_key, 15 * SLOW, 200)
            sys.stderr.write("\n  query node %d killed: %s\n" % (victim, stats))
            if phase > 0:
                self.assertGreater(stats["ok"], 0, "no read succeeded while the restarted "
                                   "query node was the only one: %r" % stats)
            self.cl.start(victim)
            # Right answers again within the limit (it heartbeats, the
            # coordinators see it up, the proxy may use it).
            self.wait(lambda: self.search_ok(coll, vecs, vec_of(rnd)) is None, 60 * SLOW,
                      "a right search after restarting query node %d" % victim, 0.2)
            self.wait(lambda: (self.cl.registered() or {}).get(victim), 30 * SLOW,
                      "the coordinator to list query node %d as up" % victim, 0.2)
            for _ in range(10):
                self.assertIsNone(self.search_ok(coll, vecs, vec_of(rnd)))
                self.assertIsNone(self.query_ok(coll, vecs, rnd.sample(sorted(vecs), 5)))
        self.damaged_copy_fetched_again(coll, vecs, rnd)

    def fetched_files(self, nid):
        root = os.path.join(self.node_dir(nid), "fetched")
        return [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs]

    def node_dir(self, nid):
        return os.path.join(self.tmp, "node-%d" % nid)

    def damaged_copy_fetched_again(self, coll, vecs, rnd):
        """Every restarted query node copied segment files; a flipped byte in
        one copy is found by its checksum at the next start, and the range is
        copied again: answers stay right."""
        victim = self.cl.ids("query")[0]
        files = [f for f in self.fetched_files(victim) if f.endswith(".col")]
        self.assertTrue(files, "query node %d copied no segment file" % victim)
        self.cl.kill(victim, signal.SIGKILL)
        with open(files[0], "r+b") as f:
            f.seek(os.path.getsize(files[0]) // 2)
            b = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([b[0] ^ 0x5A]))
        self.cl.start(victim)
        self.wait(lambda: b"fetching it again" in open(self.cl.path(victim, "log"), "rb").read(),
                  30 * SLOW, "query node %d to copy the damaged range again" % victim, 0.2)
        for _ in range(10):
            self.assertIsNone(self.search_ok(coll, vecs, vec_of(rnd)))
            self.assertIsNone(self.query_ok(coll, vecs, rnd.sample(sorted(vecs), 5)))

    def reads_under_fault(self, coll, vecs, rnd, next_key, seconds, count):
        """Searches and pk queries (and an upsert every 5th round, so that
        Strong reads have new rows to see) for `seconds` or `count` rounds:
        each answer is right or a clear error. -> {"ok", "error", "errors"}."""
        stats = {"ok": 0, "error": 0, "errors": []}
        deadline = time.monotonic() + seconds
        for i in range(count):
            if time.monotonic() > deadline:
                break
            if i % 5 == 4:
                k = next_key[0]
                row = {"id": k, "vec": vec_of(rnd), "v": k * 3}
                self.write_until_ok(coll, [row], 30 * SLOW, "an upsert under the fault")
                vecs[k] = row["vec"]
                next_key[0] += 1
            if i % 2:
                bad = self.search_ok(coll, vecs, vec_of(rnd))
            else:
                bad = self.query_ok(coll, vecs, rnd.sample(sorted(vecs), 5))
            if bad is None:
                stats["ok"] += 1
                continue
            stats["error"] += 1
            self.assert_no_crash()
            if len(stats["errors"]) < 3:
                stats["errors"].append(bad)
            # A clear error: a Milvus code and a message, in time.
            self.assertNotIn(bad.get("code"), (-1, -2, -3),
                             "not an answer: %r\n%s" % (bad, self.logs()))
            self.assertTrue(bad.get("message"), bad)
            time.sleep(0.05)
        return stats


class CoordLeaderKill(ClusterCase):
    COORDS = 3

    def measure(self, fn, what):
        """Seconds from now until fn() is truthy (bounded)."""
        t0 = time.monotonic()
        self.wait(fn, 60 * SLOW, what, 0.05)
        return time.monotonic() - t0

    def test_coordinator_leader_kill(self):
        self.create_collection("c0")
        rnd = random.Random(3)
        rows0 = {}
        # A key's writes all go through its one WAL shard, whose leader stamps
        # them in log order: each probe key's write timestamps must rise, across
        # coordinator failovers too (the TSO never goes back). Eight keys cover
        # both shards but for a chance of 2^-7.
        probes = {k: [] for k in range(900_000, 900_008)}

        def insert_one(coll, k):
            row = {"id": k, "vec": vec_of(rnd), "v": k}
            r, ts = self.write(coll, [row])  # an upsert: a retry writes the same key
            if r.get("code") != 0:
                return Failed(r)
            if coll == "c0":
                rows0[k] = row
                if k in probes and ts is not None:
                    probes[k].append(ts)
            return True

        def probe(what):
            for k in probes:
                self.wait(lambda: insert_one("c0", k), 30 * SLOW, what)

        for k in range(20):
            self.wait(lambda: insert_one("c0", k), 60 * SLOW, "an insert before the kill")
        probe("the first probe writes")

        def ddl(name):
            def attempt():
                r = self.rest.call("collections/create", schema_body(name))
                if r.get("code") == 0:
                    return True
                h = self.rest.call("collections/has", {"collectionName": name})
                return True if h.get("code") == 0 and h["data"].get("has") else Failed(r)
            return attempt

        keys = iter(range(1000, 100000))
        for round_ in range(2):
            leader = self.find_coord_leader(30 * SLOW)
            self.cl.kill(leader, signal.SIGKILL)
            t_ddl = self.measure(ddl("c%d" % (round_ + 1)),
                                 "DDL after killing coordinator %d" % leader)
            k_next = next(keys)
            t_write = self.measure(lambda: insert_one("c0", k_next),
                                   "a write after killing coordinator %d" % leader)
            sys.stderr.write("\n  round %d: coordinator leader %d killed: DDL after %.2f s, "
                             "a write %.2f s later\n" % (round_, leader, t_ddl, t_write))
            self.assertLessEqual(t_ddl, COORD_RESUME_LIMIT_S,
                                 "DDL resumed %.1f s after the coordinator leader died"
                                 % t_ddl)
            self.assertLessEqual(t_ddl + t_write, COORD_RESUME_LIMIT_S + RESUME_LIMIT_S)
            for k in [next(keys) for _ in range(5)]:
                self.wait(lambda: insert_one("c0", k), 30 * SLOW, "more writes")
            probe("probe writes after the failover")
            new_leader = self.find_coord_leader(30 * SLOW)
            self.assertNotEqual(new_leader, leader)
            with self.subTest("write timestamps rise across the failover", round=round_):
                if not any(probes.values()):
                    self.skipTest("writes answer no Tidemark-Write-Timestamp header")
                for k, ts in probes.items():
                    self.assertEqual(len(ts), round_ + 2, "pk %d: %r" % (k, ts))
                    self.assertTrue(all(a < b for a, b in zip(ts, ts[1:])),
                                    "pk %d: write timestamps %r" % (k, ts))
            # The old leader comes back (as a follower); the next round kills
            # the new leader, so the two left must include the restarted one.
            self.cl.start(leader)
            time.sleep(3 * ELECTION_S * SLOW)
            self.assert_no_crash()
            self.assertTrue(self.cl.alive(leader), self.logs([leader]))

        # Nothing acknowledged was lost, and the collections are usable.
        got = self.wait(lambda: self.strong_rows("c0", sorted(rows0)), 30 * SLOW, "c0's rows")
        self.assertEqual(sorted(got), sorted(rows0))
        self.assertTrue(all(len(v) == 1 for v in got.values()))
        self.assertEqual(self.wait(lambda: self.strong_count("c0"), 30 * SLOW, "count(*)"),
                         len(rows0))
        for name in ("c1", "c2"):
            self.wait(lambda: insert_one(name, 1), 30 * SLOW, "an insert into %s" % name)
            self.assertEqual(self.wait(lambda: self.strong_count(name), 30 * SLOW, "count"), 1)


class QueryFanout(ClusterCase):
    COORDS = 1
    QUERY_SHARDS = "0;1"
    GROUPS = 5

    def fanout_schema(self, name):
        body = schema_body(name)
        body["schema"]["fields"].append({"fieldName": "g", "dataType": "Int64"})
        return body

    def load(self, coll, rnd, keys, vecs):
        rows = []
        for k in keys:
            vecs[k] = vec_of(rnd)
            rows.append({"id": k, "vec": vecs[k], "v": k * 3, "g": k % self.GROUPS})
        for i in range(0, len(rows), 50):
            self.write_until_ok(coll, rows[i:i + 50], 30 * SLOW, "a load into %s" % coll)

    def check_searches(self, coll, vecs, vals, rnd):
        qs = [vec_of(rnd), vec_of(rnd)]
        for offset, limit in ((0, 10), (7, 5)):
            r = self.rest.call("entities/search", {
                "collectionName": coll, "data": qs, "limit": limit, "offset": offset,
                "outputFields": ["v"], "consistencyLevel": "Strong"})
            for q, hits in zip(qs, ref.split_topks(self, r, len(qs))):
                ranked = ref.rank(ref.distances(q, vecs, "L2"), "L2")
                ref.check_window(self, hits, ranked, offset, limit, 1e-4,
                                 what="search offset %d limit %d" % (offset, limit))
                self.assertTrue(all(h["v"] == vals[h["id"]] for h in hits), hits)
        q = qs[0]
        r = self.rest.call("entities/search", {
            "collectionName": coll, "data": [q], "limit": 3, "groupingField": "g",
            "groupSize": 2, "outputFields": ["g"], "consistencyLevel": "Strong"})
        self.assertEqual(r.get("code"), 0, r)
        want = ref.group_top(ref.distances(q, vecs, "L2"), "L2",
                             {k: k % self.GROUPS for k in vecs}, 3, 2)
        got = [(h["g"], h["id"]) for h in r["data"]]
        self.assertEqual([g for g, _ in got], [g for g, hits in want for _ in hits], r)
        self.assertEqual([k for _, k in got], [pk for _, hits in want for pk, _ in hits], r)

    def check_queries(self, coll, vecs):
        r = self.rest.call("entities/query", {
            "collectionName": coll, "filter": "v >= 30", "limit": 7, "offset": 4,
            "outputFields": ["v"], "consistencyLevel": "Strong"})
        self.assertEqual(r.get("code"), 0, r)
        ids = [row["id"] for row in r["data"]]
        self.assertEqual(len(ids), 7, r)
        self.assertEqual(len(set(ids)), 7, r)
        self.assertTrue(all(k >= 10 and k in vecs for k in ids), r)
        r = self.rest.call("entities/query", {
            "collectionName": coll, "filter": "g == 1", "outputFields": ["count(*)"],
            "consistencyLevel": "Strong"})
        self.assertEqual(r.get("code"), 0, r)
        self.assertEqual(r["data"][0]["count(*)"],
                         sum(1 for k in vecs if k % self.GROUPS == 1), r)
        self.assertEqual(self.strong_count(coll), len(vecs))
        keys = sorted(random.Random(5).sample(sorted(vecs), 40)) + [10 ** 9]
        r = self.rest.call("entities/get", {"collectionName": coll, "id": keys,
                                            "outputFields": ["v"]})
        self.assertEqual(r.get("code"), 0, r)
        self.assertEqual(sorted(row["id"] for row in r["data"]), keys[:-1], r)

    def test_reads_fan_out_and_merge(self):
        coll = "fo"
        self.wait(lambda: self.rest.call("collections/create", self.fanout_schema(coll))
                  .get("code") == 0 or Failed("create"), 60 * SLOW, "collections/create")
        rnd = random.Random(17)
        vecs = {}
        self.load(coll, rnd, range(0, 300), vecs)
        r = self.rest.call("collections/flush", {"collectionName": coll})
        self.assertEqual(r.get("code"), 0, r)
        self.load(coll, rnd, range(300, 360), vecs)  # growing, beside the sealed
        vals = {k: k * 3 for k in vecs}
        self.check_searches(coll, vecs, vals, rnd)
        self.check_queries(coll, vecs)

        # Merge mode reads the keys' rows from both nodes first.
        r, _ = self.write(coll, [{"id": 4, "v": -1}, {"id": 5, "v": -2}], op="upsert")
        self.assertNotEqual(r.get("code"), 0, "a merge needs partialUpdate: %r" % r)
        r, _ = self.rest.post("entities/upsert", {"collectionName": coll, "partialUpdate": True,
                                                  "data": [{"id": 4, "v": -1}, {"id": 5, "v": -2}]})
        self.assertEqual(r.get("code"), 0, r)
        got = self.strong_rows(coll, [4, 5], ("v", "g"))
        self.assertEqual({k: (rows[0]["v"], rows[0]["g"]) for k, rows in got.items()},
                         {4: (-1, 4), 5: (-2, 0)})
        vals.update({4: -1, 5: -2})

        # A node down: its shard has no other node, so reads fail clearly.
        victim = self.cl.ids("query")[0]
        self.cl.kill(victim, signal.SIGKILL)
        r = self.wait(lambda: (lambda r: r if r.get("code") != 0 else Failed(r))(
            self.rest.call("entities/search", {"collectionName": coll, "data": [vec_of(rnd)],
                                               "limit": 3, "consistencyLevel": "Strong"})),
            30 * SLOW, "a search to fail without the node of shard 0")
        self.assertEqual(r.get("code"), 2, r)
        self.assertIn("shard 0", r.get("message", ""), r)
        self.cl.start(victim)
        self.wait(lambda: self.rest.call("entities/query", {
            "collectionName": coll, "filter": "", "outputFields": ["count(*)"],
            "consistencyLevel": "Strong"}).get("code") == 0 or Failed("count"),
            60 * SLOW, "reads after restarting query node %d" % victim, 0.2)
        self.check_searches(coll, vecs, vals, rnd)


class PushGaps(ClusterCase):
    """The log stream loses messages by design (a subscriber's full queue,
    a connection not up yet); here every third push is never sent."""
    DROP_EVERY = "3"

    def setUp(self):
        os.environ["TIDEMARK_TEST_DROP_PUSH"] = self.DROP_EVERY
        try:
            super().setUp()
        finally:
            del os.environ["TIDEMARK_TEST_DROP_PUSH"]

    def test_dropped_pushes_are_caught_up(self):
        armed = [n for n in self.cl.ids("data")
                 if "test hook: every push number 3 dropped" in self.cl.log_tail(n, 100000)]
        self.assertTrue(armed, "no data node armed the push-dropping hook\n" + self.logs())
        coll = "gaps"
        self.create_collection(coll)
        rnd = random.Random(23)
        n = 30 if SANITIZED else 80
        for k in range(n):
            self.write_until_ok(coll, [{"id": k, "vec": vec_of(rnd), "v": k}], 30 * SLOW,
                                "upsert of key %d" % k)
            got = self.strong_rows(coll, [k])
            self.assertEqual(got.get(k) if got else got, [{"id": k, "v": k}],
                             "a Strong read right after key %d's write" % k)
            self.assertEqual(self.strong_count(coll), k + 1, "Strong count after key %d" % k)
        # Eventually reads converge too: nothing waits for them.
        self.wait(lambda: self.rest.call("entities/query", {
            "collectionName": coll, "filter": "", "outputFields": ["count(*)"],
            "consistencyLevel": "Eventually"}).get("data", [{}])[0].get("count(*)") == n
            or Failed("count"), 10 * SLOW, "an Eventually count of %d" % n)



class LogInMemory(ClusterCase):
    """A replica frees the entries its readers have passed, a seal at a time
    (wal/data_role.h, "The log in memory"): upserts of the same keys must
    not grow its memory for ever, and no reader may lose an entry."""

    def sealed_away(self, shard):
        """Whether shard's leader no longer holds the log's first entries."""
        nid = self.cl.shard_leader(shard)
        if nid is None:
            return Failed("no leader of shard %d" % shard)
        st, msg, _ = self.cl.call(nid, "tail", {"shard": shard, "after": 0})
        return st != 0 and "sealed segments" in msg or Failed((st, msg))

    def check_rows(self, coll, want):
        got = self.strong_rows(coll, sorted(want))
        self.assertEqual({k: rows[0]["v"] for k, rows in got.items() if rows}, want)
        self.assertEqual(self.strong_count(coll), len(want))

    def test_log_freed_behind_readers(self):
        coll = "mem"
        self.create_collection(coll)
        rnd = random.Random(29)
        keys = range(60 if SANITIZED else 100)
        want = {}
        for rnd_no in range(3):  # three seals: the first is then behind the seal before the last
            for i in range(0, len(keys), 20):
                rows = [{"id": k, "vec": vec_of(rnd), "v": k + 1000 * rnd_no}
                        for k in keys[i:i + 20]]
                self.write_until_ok(coll, rows, 30 * SLOW, "round %d" % rnd_no)
                want.update({row["id"]: row["v"] for row in rows})
            r = self.rest.call("collections/flush", {"collectionName": coll})
            self.assertEqual(r.get("code"), 0, r)
        for shard in (0, 1):
            self.wait(lambda: self.sealed_away(shard), 20 * SLOW,
                      "shard %d's leader to free its first entries" % shard, 0.2)
        self.check_rows(coll, want)
        # A query node restarted now loads the sealed ranges and tails the
        # rest; then it alone answers.
        first, second = self.cl.ids("query")[:2]
        self.cl.kill(first, signal.SIGKILL)
        self.cl.start(first)
        self.cl.kill(second, signal.SIGKILL)
        self.wait(lambda: self.strong_count(coll) == len(want) or Failed("count"), 60 * SLOW,
                  "a count from the restarted query node %d" % first, 0.2)
        self.check_rows(coll, want)



class SnapshotInstall(ClusterCase):
    """A replica that was down while its shard sealed, took snapshots and
    dropped the log behind them (a test hook keeps 16 entries, not 4096)
    catches up by installing the leader's snapshot, copying the sealed
    ranges it names from the leader. Restarts from a replica's own snapshot
    keep its digest (the snapshot's digest was lost on restore once)."""

    def setUp(self):
        os.environ["TIDEMARK_TEST_SNAPSHOT_TRAILING"] = "16"
        try:
            super().setUp()
        finally:
            del os.environ["TIDEMARK_TEST_SNAPSHOT_TRAILING"]

    def load(self, coll, rnd, keys, want):
        for k in keys:
            self.write_until_ok(coll, [{"id": k, "vec": vec_of(rnd), "v": k}], 30 * SLOW,
                                "upsert of key %d" % k)
            want[k] = k

    def test_a_replica_behind_the_snapshots_installs_the_leaders(self):
        coll = "snap"
        self.create_collection(coll)
        rnd = random.Random(31)
        want = {}
        self.load(coll, rnd, range(0, 20), want)
        leader = self.find_shard_leader(0, 30 * SLOW)
        behind = [n for n in self.cl.ids("data") if n != leader][0]
        self.cl.kill(behind, signal.SIGKILL)
        n = 60 if SANITIZED else 150
        for part in range(3):  # three seals, each followed by a snapshot
            self.load(coll, rnd, range(20 + part * n, 20 + (part + 1) * n), want)
            r = self.rest.call("collections/flush", {"collectionName": coll})
            self.assertEqual(r.get("code"), 0, r)
        self.cl.start(behind)
        why = self.check_digests((0, 1), 60 * SLOW)
        if why:
            self.skipTest(why)
        self.assertIn("copied range", self.cl.log_tail(behind, 200000),
                      "node %d caught up without installing a snapshot: the test "
                      "did not test it" % behind)
        # Its own snapshot on the next start (a clean restart) keeps the digest.
        self.cl.kill(behind, signal.SIGTERM)
        self.cl.start(behind)
        self.load(coll, rnd, range(10 ** 6, 10 ** 6 + 10), want)
        self.check_digests((0, 1), 60 * SLOW)
        self.assertEqual(self.wait(lambda: self.strong_count(coll), 30 * SLOW, "count"),
                         len(want))


class IndexBuiltOnce(ClusterCase):
    """Each sealed segment's index is built by one of the two query nodes
    and copied by the other (segment/query_peer.h); searches through the
    copied indexes are exact with every list probed."""
    COORDS = 1

    def built_and_copied(self, qids):
        """{rows: [node ids that built]} and {rows: [node ids that copied]}
        from the query nodes' logs."""
        built, copied = {}, {}
        for nid in qids:
            text = self.cl.log_tail(nid, 400000)
            for m in re.finditer(r"over (\d+) rows \(nlist \d+\) built in", text):
                built.setdefault(int(m.group(1)), []).append(nid)
            for m in re.finditer(r"over (\d+) rows copied from", text):
                copied.setdefault(int(m.group(1)), []).append(nid)
        return built, copied

    def test_each_index_built_once(self):
        coll = "once"
        body = schema_body(coll)
        body["indexParams"] = [{"fieldName": "vec", "indexName": "vec_idx", "metricType": "L2",
                                "indexType": "IVF_FLAT", "params": {"nlist": 16}}]
        self.wait(lambda: self.rest.call("collections/create", body).get("code") == 0
                  or Failed("create"), 60 * SLOW, "collections/create", 0.25)
        rnd = random.Random(21)
        vecs = {}
        # two shards: about 1,500 rows each, over the 1,024
        self.load_vectors(coll, rnd, 3000, 500, vecs, "a load")
        r = self.rest.call("collections/flush", {"collectionName": coll})
        self.assertEqual(r.get("code"), 0, r)
        qids = self.cl.ids("query")

        def settled():
            built, copied = self.built_and_copied(qids)
            return (built, copied) if sum(map(len, built.values())) >= 2 and \
                sum(map(len, copied.values())) >= 2 else Failed((built, copied))
        built, copied = self.wait(settled, 90 * SLOW, "two builds and two copies", 0.5)
        sys.stderr.write("\n  built %r, copied %r\n" % (built, copied))
        self.assertEqual(sorted(built), sorted(copied))  # the same two segments
        for rows, nodes in built.items():
            self.assertEqual(len(nodes), 1, "segment of %d rows built by %r" % (rows, nodes))
            self.assertEqual(len(copied[rows]), 1)
            self.assertNotEqual(nodes[0], copied[rows][0])
        for _ in range(10):
            q = vec_of(rnd)
            r = self.rest.call("entities/search", {
                "collectionName": coll, "data": [q], "limit": 10, "outputFields": ["v"],
                "consistencyLevel": "Strong", "searchParams": {"params": {"nprobe": 16}}})
            self.assertEqual(r.get("code"), 0, r)
            ranked = ref.rank(ref.distances(q, vecs, "L2"), "L2")
            ref.check_window(self, r["data"], ranked, 0, 10, 1e-4, what="search %r" % q)


if __name__ == "__main__":
    harness.run_tests()
