"""`tidemark bench ann` smoke test on the sift5k-ngt fixture (shared/data).

Runs the benchmark with a tiny index and short timings, and checks that it
exits 0 and prints its markdown table with one row per nprobe whose recall
is a number in [0, 1], rising to 1.0 for IVF_FLAT probing every list (the
fixture's distances are exact in float). Then checks that a damaged data
file is refused with a clear message and a failing exit status.

Usage: test_bench_ann.py /path/to/tidemark /path/to/shared/data [unittest args]
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

BIN = None
DATA = None
TIMEOUT = 300


def run(*args):
    return subprocess.run([BIN, "bench", "ann", *args], capture_output=True, text=True,
                          timeout=TIMEOUT)


def files(base=None):
    d = os.path.join(DATA, "sift5k-ngt")
    return ["--base", base or os.path.join(d, "sift5k_base.fvecs"),
            "--queries", os.path.join(d, "sift5k_query.fvecs"),
            "--gt", os.path.join(d, "sift5k_groundtruth.ivecs")]


def table(out):
    """The table's rows as (nprobe, recall, qps1, qpsb, qpst) tuples."""
    rows = []
    for line in out.splitlines():
        m = re.match(r"^\| (\d+) \| ([0-9.]+) \| (\d+) \| (\d+) \| (\d+) \|$", line)
        if m:
            rows.append((int(m[1]), float(m[2]), int(m[3]), int(m[4]), int(m[5])))
    return rows


class BenchAnnTest(unittest.TestCase):
    def setUp(self):
        # CI always has the data sets; a missing one is a failure, not a skip.
        self.assertTrue(os.path.isdir(os.path.join(DATA, "sift5k-ngt")),
                        f"no sift5k-ngt under {DATA}")

    def check_run(self, args, nprobes):
        p = run(*files(), *args)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("| nprobe | recall@10 |", p.stdout)
        self.assertIn("command: tidemark bench ann", p.stdout)
        rows = table(p.stdout)
        self.assertEqual([r[0] for r in rows], nprobes, p.stdout)
        for r in rows:
            self.assertTrue(0.0 <= r[1] <= 1.0, p.stdout)
            self.assertTrue(min(r[2:]) > 0, p.stdout)
        self.assertNotIn("warning", p.stdout)
        self.assertIn("kernel: ", p.stdout)
        return rows

    def test_pq4(self):
        rows = self.check_run(["--nlist", "8", "--nprobe", "1,8", "--seconds", "0.05",
                               "--m", "32"], [1, 8])
        self.assertGreater(rows[-1][1], 0.9)

    def test_flat_exact(self):
        rows = self.check_run(["--index", "IVF_FLAT", "--nlist", "8", "--nprobe", "2,8",
                               "--seconds", "0.05", "--threads", "2"], [2, 8])
        self.assertEqual(rows[-1][1], 1.0)

    def test_scalar_kernel_cosine(self):
        # (8-bit IVF_PQ is left out: its codebook training alone takes most
        # of a minute in the sanitizer build.)
        rows = self.check_run(["--metric", "COSINE", "--nlist", "8", "--nprobe", "4",
                              "--seconds", "0.05", "--kernel", "scalar", "--nq", "20"], [4])
        self.assertGreater(rows[0][1], 0.5)

    def test_compare_kernels(self):
        # The second table: both sets timed, and the same ids from each.
        p = run(*files(), "--nlist", "8", "--nprobe", "2,8", "--seconds", "0.02", "--nq", "50",
                "--compare", "scalar")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        rows = re.findall(r"^\| (\d+) \| (\d+) \| (\d+) \| ([0-9.]+) \| (\d+) \|$", p.stdout,
                          re.M)
        self.assertEqual([int(r[0]) for r in rows], [2, 8], p.stdout)
        for r in rows:
            self.assertTrue(int(r[1]) > 0 and int(r[2]) > 0, p.stdout)
            self.assertEqual(r[4], "0", p.stdout)
        p = run(*files(), "--compare", "no-such-set")
        self.assertEqual(p.returncode, 2)
        self.assertIn("no-such-set", p.stderr)

    def test_bad_files(self):
        tmp = tempfile.mkdtemp(prefix="bench_ann.")
        self.addCleanup(shutil.rmtree, tmp)
        src = os.path.join(DATA, "sift5k-ngt", "sift5k_base.fvecs")
        torn = os.path.join(tmp, "torn.fvecs")
        with open(src, "rb") as f, open(torn, "wb") as g:
            g.write(f.read()[:-100])
        p = run(*files(torn), "--nlist", "4", "--seconds", "0.05")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("truncated", p.stderr)
        self.assertIn(torn, p.stderr)
        p = run(*files(os.path.join(tmp, "missing.fvecs")), "--seconds", "0.05")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("cannot open", p.stderr)
        p = run("--base", src)
        self.assertEqual(p.returncode, 2)
        self.assertIn("required", p.stderr)


if __name__ == "__main__":
    BIN = os.path.abspath(sys.argv.pop(1))
    DATA = os.path.abspath(sys.argv.pop(1))
    unittest.main()
