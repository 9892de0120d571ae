"""Integration-test harness: runs the real `tidemark serve` binary on loopback.

Each Server starts the binary on an ephemeral port (--port 0) in a fresh
temporary data directory, reads the port from the ready line, and talks to
it over one keep-alive HTTP/1.1 connection. It only ever signals the PID it
started, and it always reaps that process and removes the data directory,
even when a test fails (use it as a context manager, or call close()).

The binary path comes from argv[1] (as ctest passes it) or TIDEMARK_BIN.
Set TIDEMARK_KEEP=1 to keep the data directories and the servers' stderr
logs (<data dir>.stderr) for a look after the run.
"""

import atexit
import http.client
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
REQUEST_TIMEOUT_S = 60.0
READY_PREFIX = "tidemark: serving the Milvus REST API on http://"


def binary_path():
    """The tidemark binary: argv[1] if given (removed from argv so unittest
    does not see it), else $TIDEMARK_BIN."""
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-") and os.path.isfile(sys.argv[1]):
        path = sys.argv.pop(1)
    else:
        path = os.environ.get("TIDEMARK_BIN", "")
    if not path or not os.access(path, os.X_OK):
        raise SystemExit("usage: %s /path/to/tidemark [unittest args] (or set TIDEMARK_BIN)"
                         % sys.argv[0])
    return os.path.abspath(path)


BIN = None


def bin_path():
    global BIN
    if BIN is None:
        BIN = binary_path()
    return BIN


class ServerError(Exception):
    pass


# Every Server not yet closed, so an interpreter exit (an uncaught error, a
# failed setUpClass) still kills and reaps the processes we started.
_LIVE = set()


@atexit.register
def _close_all():
    for s in list(_LIVE):
        try:
            s.close()
        except ServerError as e:
            sys.stderr.write("%s\n" % e)


class Server:
    """One tidemark process (restartable on the same data directory)."""

    def __init__(self, extra_args=(), data_dir=None):
        self.bin = bin_path()
        self.extra_args = list(extra_args)
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="tidemark-it-")
        self.proc = None
        self.port = None
        self.conn = None
        self.stderr_path = self.data_dir + ".stderr"
        self._stderr = None
        _LIVE.add(self)
        try:
            self.start()
        except BaseException:
            try:
                self.close()
            except ServerError as e:  # the start failure is the news
                sys.stderr.write("%s\n" % e)
            raise

    # ---- lifecycle ----

    def start(self):
        if self.proc is not None:
            raise ServerError("already running")
        self._stderr = open(self.stderr_path, "ab")
        args = [self.bin, "serve", "--host", "127.0.0.1", "--port", "0",
                "--data-dir", self.data_dir] + self.extra_args
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self._stderr,
                                     stdin=subprocess.DEVNULL)
        line = self._read_ready_line()
        if not line.startswith(READY_PREFIX):
            self._reap_now()
            raise ServerError("tidemark did not become ready: %r\n%s" % (line, self.stderr_tail()))
        hostport = line[len(READY_PREFIX):].split()[0]
        self.port = int(hostport.rsplit(":", 1)[1])
        self._connect()

    def _read_ready_line(self):
        """Reads the first stdout line with a bounded wait (a reader thread,
        because a blocking readline has no timeout)."""
        box = []

        def reader():
            try:
                box.append(self.proc.stdout.readline().decode("utf-8", "replace"))
            except Exception as e:  # the pipe closed under us
                box.append("<read error %s>" % e)

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        t.join(READY_TIMEOUT_S)
        if not box:
            self._reap_now()
            raise ServerError("no ready line within %.0f s\n%s" % (READY_TIMEOUT_S,
                                                                 self.stderr_tail()))
        return box[0].strip()

    def _connect(self):
        self.close_conn()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_S)

    def close_conn(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _reap_now(self):
        """SIGKILLs and reaps our own process, if still there."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pass
        self._drop_proc()

    def _drop_proc(self):
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None
        self.close_conn()
        if self._stderr:
            self._stderr.close()
            self._stderr = None

    def kill9(self):
        """kill -9: no chance to flush anything that was not already durable."""
        if not self.running():
            raise ServerError("kill9: server is not running")
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(STOP_TIMEOUT_S)
        self._drop_proc()

    def stop(self):
        """SIGTERM and wait up to STOP_TIMEOUT_S for a clean exit; returns the
        exit status. A server that does not stop in time is killed and the
        test fails."""
        if not self.running():
            raise ServerError("stop: server is not running")
        self.close_conn()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._reap_now()
            raise ServerError("tidemark did not exit within %.0f s of SIGTERM" % STOP_TIMEOUT_S)
        self._drop_proc()
        return rc

    def restart(self):
        """Starts again on the same data directory (after kill9 or stop)."""
        if self.running():
            self.stop()
        self.start()

    def close(self):
        """Always safe: stops our process if it runs (SIGTERM, so sanitizer
        builds run their exit-time leak check; SIGKILL if that fails), removes
        the data dir, and then fails if the server's stderr holds a sanitizer
        report or the clean stop failed."""
        _LIVE.discard(self)
        problem = None
        if self.running():
            try:
                rc = self.stop()
                if rc != 0:
                    problem = "exit status %d after SIGTERM" % rc
            except ServerError as e:
                problem = str(e)
        self._reap_now()
        report = self.sanitizer_report()
        if self.own_dir and not os.environ.get("TIDEMARK_KEEP"):
            shutil.rmtree(self.data_dir, ignore_errors=True)
            try:
                os.unlink(self.stderr_path)
            except OSError:
                pass
        if report or problem:
            raise ServerError("tidemark: %s\n%s" % (problem or "sanitizer report", report))

    SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                       "WARNING: ThreadSanitizer", "ERROR: UndefinedBehaviorSanitizer")

    def sanitizer_report(self):
        """The sanitizer output in the server's stderr (all runs of this
        data dir), or ""."""
        try:
            with open(self.stderr_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        for mark in self.SANITIZER_MARKS:
            at = text.find(mark)
            if at >= 0:
                return text[max(0, at - 200):at + 6000]
        return ""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def stderr_tail(self, n=4000):
        try:
            with open(self.stderr_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - n))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # ---- requests ----

    def raw(self, method, path, body=b"", headers=None):
        """Sends one request on the keep-alive connection; returns
        (status, headers dict lower-cased, body bytes). Reconnects once if
        the server closed an idle connection."""
        if not self.running():
            raise ServerError("request to a server that is not running")
        hdrs = {"Content-Type": "application/json"}
        hdrs.update(headers or {})
        for attempt in range(2):
            if self.conn is None:
                self._connect()
            try:
                self.conn.request(method, path, body=body, headers=hdrs)
                resp = self.conn.getresponse()
                data = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.close_conn()
                return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close_conn()
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def post(self, path, body=None, headers=None, raw_body=None):
        """POSTs JSON (or raw_body bytes as given) to /v2/vectordb/<path>;
        returns the parsed JSON reply. HTTP status must be 200."""
        if not path.startswith("/"):
            path = "/v2/vectordb/" + path
        data = raw_body if raw_body is not None else json.dumps(body).encode()
        status, _, payload = self.raw("POST", path, data, headers)
        if status != 200:
            raise ServerError("HTTP %d on %s: %r" % (status, path, payload[:300]))
        try:
            return json.loads(payload)
        except ValueError:
            raise ServerError("reply to %s is not JSON: %r" % (path, payload[:300]))

    def ok(self, path, body=None, headers=None):
        """post() that requires code 0 and returns the reply."""
        r = self.post(path, body, headers)
        if r.get("code") != 0:
            raise AssertionError("%s %s -> %r" % (path, json.dumps(body)[:300], r))
        return r


class Client:
    """A second keep-alive connection to a running server, for concurrent
    clients in tests (one per thread)."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)

    def ok(self, path, body):
        self.conn.request("POST", "/v2/vectordb/" + path, body=json.dumps(body).encode(),
                          headers={"Content-Type": "application/json"})
        resp = self.conn.getresponse()
        r = json.loads(resp.read())
        if resp.status != 200 or r.get("code") != 0:
            raise AssertionError("%s -> HTTP %d %r" % (path, resp.status, r))
        return r

    def close(self):
        self.conn.close()


def wait_until(fn, timeout_s=10.0, interval_s=0.05, what="condition"):
    """Polls fn() until it is truthy, at most timeout_s; returns its value."""
    deadline = time.monotonic() + timeout_s
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout_s, what))
        time.sleep(interval_s)


def f32(x):
    """x rounded to float32, as the server stores it."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def run_tests():
    """Entry point for the test scripts: resolves the binary, then unittest."""
    bin_path()
    unittest.main(verbosity=2)


# ---- the full schema shared by the tests (milvus-rest-v2.md §4.1.1) ----

DIM = 16


def full_schema_body(name, dynamic=True, index=True, auto_id=False, extra_params=None):
    """create-collection body: Int64 pk `id`, FloatVector `vec` (dim 16),
    VarChar `title` (64), Int32 `n` default 5, nullable Double `score`, JSON
    `meta`, Array<Int64> `tags` (capacity 8)."""
    body = {
        "collectionName": name,
        "schema": {
            "autoID": auto_id,
            "enableDynamicField": dynamic,
            "fields": [
                {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
                {"fieldName": "vec", "dataType": "FloatVector",
                 "elementTypeParams": {"dim": DIM}},
                {"fieldName": "title", "dataType": "VarChar",
                 "elementTypeParams": {"max_length": 64}},
                {"fieldName": "n", "dataType": "Int32", "defaultValue": 5},
                {"fieldName": "score", "dataType": "Double", "nullable": True},
                {"fieldName": "meta", "dataType": "JSON"},
                {"fieldName": "tags", "dataType": "Array", "elementDataType": "Int64",
                 "elementTypeParams": {"max_capacity": 8}},
            ],
        },
    }
    if index:
        body["indexParams"] = [{"fieldName": "vec", "indexName": "vec_idx",
                                "metricType": "L2", "indexType": "FLAT"}]
    if extra_params:
        body["params"] = extra_params
    return body


def make_row(i, dynamic=True):
    """A deterministic row for key i, exercising every field (defaults,
    nulls, unicode, big Int64 array elements, dynamic keys)."""
    rnd = random.Random(i)
    row = {
        "id": i,
        "vec": [rnd.uniform(-1.0, 1.0) for _ in range(DIM)],
        "title": ("t\u00e9-%d-" % i) + "x" * (i % 40),
        "meta": {"i": i, "s": "m%d" % (i % 7), "nested": {"a": [i, i + 1], "b": i % 2 == 0}},
        "tags": [(1 << 40) + i * k for k in range(i % 9)],
    }
    if i % 3 != 0:
        row["n"] = i % 100000 - 50000
    # else omitted: the default 5 applies
    if i % 7 == 0:
        row["score"] = None
    elif i % 11 != 0:
        row["score"] = i * 0.25 + 1.0 / 3.0
    # else omitted: nullable, so null
    if dynamic:
        row["color"] = ["red", "green", "blue"][i % 3]
        if i % 2:
            row["weight"] = i + 0.5
        if i % 5 == 0:
            row["gone"] = None  # a null dynamic value is dropped
    return row


def expected_row(row):
    """What the server returns for `row` with outputFields ["*"], in a form
    comparable with normalize()."""
    i = row["id"]
    out = {
        "id": i,
        "vec": [f32(x) for x in row["vec"]],
        "title": row["title"],
        "n": row.get("n", 5),
        "score": row.get("score"),
        "meta": row["meta"],
        "tags": list(row["tags"]),
    }
    for k, v in row.items():
        if k not in out and k not in ("id",) and v is not None:
            out[k] = v
    return out


def normalize(got):
    """A returned row made comparable: vectors as float32, the JSON field
    (returned as a string holding JSON) parsed."""
    g = dict(got)
    if "vec" in g and isinstance(g["vec"], list):
        g["vec"] = [f32(x) for x in g["vec"]]
    if isinstance(g.get("meta"), str):
        g["meta"] = json.loads(g["meta"])
    return g
