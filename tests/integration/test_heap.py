"""The server's heap settings (node/heap.c): `tidemark serve` runs with one
malloc arena grown 64 MiB at a time (glibc's tunables, set by executing the
binary again at start), and leaves malloc settings the caller gave alone.

The sanitized build's allocator is ASan's, not glibc's: there the test only
checks that the server starts, keeps its process id and answers.

Usage: test_heap.py /path/to/tidemark [unittest args]
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SANITIZED = os.environ.get("TM_SANITIZED") == "1"
TOP_PAD = 64 << 20
ARENA_ALIGN = 64 << 20  # glibc's per-thread arenas are 64-MiB-aligned heaps


def heap_layout(pid):
    """-> (bytes of the sbrk heap, per-thread arena heaps) from /proc/PID/maps."""
    heap = arenas = 0
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            fields = line.split()
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            if len(fields) > 5 and fields[5] == "[heap]":
                heap += hi - lo
            elif len(fields) == 5 and fields[1] == "rw-p" and lo % ARENA_ALIGN == 0:
                arenas += 1
    return heap, arenas


class HeapTest(unittest.TestCase):
    def start(self):
        srv = harness.Server()
        self.addCleanup(srv.close)
        srv.ok("collections/list", {})
        return srv

    def test_server_runs_tuned(self):
        srv = self.start()
        with open("/proc/%d/comm" % srv.proc.pid) as f:
            name = f.read().strip()
        # pgrep and top show this; a restart through /proc/self/exe made it "exe"
        self.assertEqual(name, os.path.basename(os.path.realpath(harness.bin_path()))[:15])
        if SANITIZED:
            return
        heap, arenas = heap_layout(srv.proc.pid)
        self.assertGreaterEqual(heap, TOP_PAD, "the heap did not grow by the 64 MiB top pad")
        self.assertEqual(arenas, 0, "threads got arenas of their own")

    def test_callers_malloc_settings_kept(self):
        old = os.environ.get("GLIBC_TUNABLES")
        os.environ["GLIBC_TUNABLES"] = "glibc.malloc.arena_max=8"
        try:
            srv = self.start()
        finally:
            if old is None:
                del os.environ["GLIBC_TUNABLES"]
            else:
                os.environ["GLIBC_TUNABLES"] = old
        if SANITIZED:
            return
        heap, _ = heap_layout(srv.proc.pid)
        self.assertLess(heap, TOP_PAD, "the server replaced the caller's malloc settings")


if __name__ == "__main__":
    harness.run_tests()
