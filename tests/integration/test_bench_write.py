"""`tidemark bench insert` and `bench upsert` against a real server.

Short runs with a few clients; the report's counts must match what the
server then holds: every acknowledged insert is a new row, and an upsert
run leaves exactly the preloaded pool plus one row per key its requests on
new keys wrote. A bench against a port where nothing listens fails with a
clear message, and with several ports the clients take them in turn.
Figures are not checked: speed is shown by benchmarks, not
by tests.

Usage: test_bench_write.py /path/to/tidemark [unittest args]
"""

import os
import re
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

RUN_TIMEOUT_S = 120
REPORT = re.compile(r"clients=(\d+): (\d+) requests in [0-9.]+ s, (\d+) rows/s, .*errors (\d+)$",
                    re.M)


def bench(port, *args):
    return subprocess.run([harness.bin_path(), "bench", *args, "--port", str(port)],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S)


class BenchWriteTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = harness.Server()

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    def report(self, p):
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        m = REPORT.search(p.stdout)
        self.assertIsNotNone(m, p.stdout)
        self.assertEqual(int(m[4]), 0, p.stdout)
        return int(m[2])

    def count(self, coll):
        r = self.srv.ok("/v2/vectordb/entities/query",
                        {"collectionName": coll, "filter": "", "outputFields": ["count(*)"],
                         "consistencyLevel": "Strong"})
        return r["data"][0]["count(*)"]

    def test_insert_rows_land(self):
        p = bench(self.srv.port, "insert", "--dim", "8", "--batch", "3", "--clients", "5",
                  "--requests", "40", "--collection", "bw_insert")
        requests = self.report(p)
        self.assertEqual(requests, 5 * 40)
        self.assertEqual(self.count("bw_insert"), 5 * 40 * 3)

    def test_upsert_pool_and_new_keys(self):
        p = bench(self.srv.port, "upsert", "--dim", "8", "--clients", "4", "--requests", "50",
                  "--existing", "0.5", "--pool", "40", "--collection", "bw_upsert")
        requests = self.report(p)
        self.assertEqual(requests, 4 * 50)
        m = re.search(r"requests on new keys: (\d+)", p.stdout)
        self.assertIsNotNone(m, p.stdout)
        self.assertEqual(self.count("bw_upsert"), 40 + int(m[1]))

    def test_nothing_listening(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # bound, not listening: connections are refused
            p = bench(port, "upsert", "--dim", "8", "--clients", "2", "--seconds", "1")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("cannot", p.stderr)

    def test_clients_take_the_ports_in_turn(self):
        """--port P,Q: client 0 on P (the server), client 1 on Q (refused)."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            refused = s.getsockname()[1]
            p = bench("%d,%d" % (self.srv.port, refused), "insert", "--dim", "8",
                      "--clients", "2", "--requests", "30", "--collection", "bw_ports")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        m = REPORT.search(p.stdout)
        self.assertIsNotNone(m, p.stdout)
        self.assertEqual((int(m[2]), int(m[4])), (31, 1), p.stdout)
        self.assertIn("127.0.0.1:%d failed" % refused, p.stdout)
        self.assertEqual(self.count("bw_ports"), 30)

    def test_bad_port_list(self):
        for ports in ("1,", "1,x", ",1", "0"):
            p = bench(ports, "insert", "--dim", "8", "--clients", "1", "--seconds", "1")
            self.assertEqual(p.returncode, 2, ports + ": " + p.stdout + p.stderr)


if __name__ == "__main__":
    harness.run_tests()
