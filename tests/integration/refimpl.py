"""A small pure-Python reference for the read tests (test_query_filter.py,
test_search.py): vector encodings as the server stores them, exact distance
functions, top-k, range search, group-by, RRF and weighted rerank, and the
shared HTTP helpers of those tests.

Filters are not evaluated here: each test computes its expected rows from the
rows it inserted, in Python, next to the filter string it sends.

Distances are computed in double precision from the exact values the server
stores (float32 for FloatVector and sparse values, the half/bfloat16 values
for Float16/BFloat16, ints for Int8Vector, bytes for BinaryVector), so the
server's float32 arithmetic agrees within a small relative tolerance.
"""

import base64
import json
import math
import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

f32 = harness.f32

# ---- encodings (milvus-rest-v2.md §3.2-3.4) ----


def f16_round(x):
    """x as IEEE half (round to nearest even), back as a float."""
    return struct.unpack("<e", struct.pack("<e", x))[0]


def bf16_bits(x):
    """The bfloat16 bits of x: the top 16 bits of its float32 after
    round-to-nearest-even."""
    (b,) = struct.unpack("<I", struct.pack("<f", x))
    return ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) & 0xFFFF


def bf16_round(x):
    return struct.unpack("<f", struct.pack("<I", bf16_bits(x) << 16))[0]


def f16_b64(vec):
    """base64 of the little-endian halves of vec (what the server stores)."""
    return base64.b64encode(b"".join(struct.pack("<e", x) for x in vec)).decode()


def bf16_b64(vec):
    return base64.b64encode(b"".join(struct.pack("<H", bf16_bits(x)) for x in vec)).decode()


def int8_b64(vec):
    return base64.b64encode(struct.pack("<%db" % len(vec), *vec)).decode()


def bin_b64(data):
    return base64.b64encode(bytes(data)).decode()


def sparse_json(sp):
    """{index: float32 value} as the request/response object (string keys)."""
    return {str(k): v for k, v in sorted(sp.items())}


# ---- distances ----


def l2(a, b):
    """Squared Euclidean distance (Milvus L2)."""
    return sum((x - y) * (x - y) for x, y in zip(a, b))


def ip(a, b):
    return sum(x * y for x, y in zip(a, b))


def cosine(a, b):
    na = math.sqrt(ip(a, a))
    nb = math.sqrt(ip(b, b))
    return ip(a, b) / (na * nb)


def hamming(a, b):
    return sum(bin(x ^ y).count("1") for x, y in zip(a, b))


def jaccard(a, b):
    """Jaccard distance of two bit vectors: 1 - |a&b| / |a|b|."""
    inter = sum(bin(x & y).count("1") for x, y in zip(a, b))
    union = sum(bin(x | y).count("1") for x, y in zip(a, b))
    return 1.0 - inter / union if union else 0.0


def sparse_ip(a, b):
    return sum(v * b[k] for k, v in a.items() if k in b)


DIST = {"L2": l2, "IP": ip, "COSINE": cosine, "HAMMING": hamming, "JACCARD": jaccard,
        "SPARSE_IP": sparse_ip}


def higher_better(metric):
    """IP, COSINE (and sparse IP, BM25) are similarities: larger first."""
    return metric in ("IP", "COSINE", "SPARSE_IP")


def rank(cands, metric):
    """cands {pk: distance} -> [(pk, distance)] best first (ties by pk)."""
    if higher_better(metric):
        return sorted(cands.items(), key=lambda kv: (-kv[1], kv[0]))
    return sorted(cands.items(), key=lambda kv: (kv[1], kv[0]))


def distances(query, stored, metric):
    """{pk: distance of query to stored[pk]} (stored: {pk: stored vector})."""
    fn = DIST[metric]
    return {pk: fn(query, v) for pk, v in stored.items()}


def in_range(d, metric, radius, range_filter):
    """Range search (§4.4.6): L2-like R > d >= F; IP/COSINE R < d <= F."""
    if higher_better(metric):
        return d > radius and (range_filter is None or d <= range_filter)
    return d < radius and (range_filter is None or d >= range_filter)


def group_top(cands, metric, group_of, limit, group_size):
    """Group-by search: groups ordered by their best hit, the top `limit`
    groups, each with its best `group_size` hits. -> [(group, [(pk, d)])]."""
    groups = {}
    order = []
    for pk, d in rank(cands, metric):
        g = group_of[pk]
        if g not in groups:
            groups[g] = []
            order.append(g)
        if len(groups[g]) < group_size:
            groups[g].append((pk, d))
    return [(g, groups[g]) for g in order[:limit]]


# ---- hybrid rerank (§4.4.7 and Milvus 2.6 internal/util/function/rerank) ----


def rrf(ranked_lists, k=60.0):
    """ranked_lists: per sub-search, its pks best first. score = sum over the
    lists holding pk of 1 / (k + rank), rank from 1."""
    scores = {}
    for lst in ranked_lists:
        for i, pk in enumerate(lst):
            scores[pk] = scores.get(pk, 0.0) + 1.0 / (k + i + 1)
    return scores


def weighted_norm(metric, d, norm, mixed):
    """Milvus 2.6 getNormalizeFunc: with norm_score, COSINE (1+d)/2, IP
    0.5+atan(d)/pi, L2-like 1-2*atan(d)/pi. Without it, scores are raw, except
    that when the sub-searches mix directions (L2 with IP/COSINE) an L2-like
    score is turned into 1-2*atan(d)/pi so that larger is better."""
    if not norm:
        if mixed and not higher_better(metric):
            return 1.0 - 2.0 * math.atan(d) / math.pi
        return d
    if metric == "COSINE":
        return (1.0 + d) * 0.5
    if metric == "IP":
        return 0.5 + math.atan(d) / math.pi
    return 1.0 - 2.0 * math.atan(d) / math.pi


def weighted(sub_results, metrics, weights, norm=False):
    """sub_results: per sub-search [(pk, distance)] best first. Returns
    ({pk: fused score}, descending) -- descending unless every sub-search is
    L2-like and norm_score is off (then ascending, raw weighted sum)."""
    larger = [higher_better(m) for m in metrics]
    mixed = any(larger) and not all(larger)
    scores = {}
    for hits, m, w in zip(sub_results, metrics, weights):
        for pk, d in hits:
            scores[pk] = scores.get(pk, 0.0) + w * weighted_norm(m, d, norm, mixed)
    return scores, norm or mixed or all(larger)


# ---- checking a result window against the reference ----


def tol_for(d, rel):
    return rel * max(1.0, abs(d))


def check_window(tc, hits, ranked, offset, limit, rel=1e-4, pk="id", what=""):
    """hits (returned, in order) must be ranked[offset:offset+limit] up to
    ties: the i-th hit's distance equals the i-th expected distance, and each
    returned pk really has that distance (so no better row was skipped, and
    rows within `rel` of each other may come in either order)."""
    want = ranked[offset:offset + limit]
    exact = dict(ranked)
    got = [(h[pk], h["distance"]) for h in hits]
    msg = "%s\n got  %s\n want %s" % (what, got[:12], want[:12])
    tc.assertEqual(len(got), len(want), msg)
    tc.assertEqual(len({g for g, _ in got}), len(got), "duplicate pks: " + msg)
    for (gpk, gd), (_, wd) in zip(got, want):
        tc.assertIn(gpk, exact, "pk %r is not a candidate: %s" % (gpk, msg))
        tc.assertLessEqual(abs(gd - wd), tol_for(wd, rel), "distance at rank: " + msg)
        tc.assertLessEqual(abs(exact[gpk] - gd), tol_for(gd, rel),
                           "pk %r has distance %r, not %r: %s" % (gpk, exact[gpk], gd, msg))


def split_topks(tc, reply, nq):
    """A search reply -> per-query lists of hits, checking topks."""
    tc.assertEqual(reply.get("code"), 0, reply)
    data = reply["data"]
    tc.assertIsInstance(data, list, reply)
    if not data:
        return [[] for _ in range(nq)]
    topks = reply.get("topks")
    tc.assertIsInstance(topks, list, reply)
    tc.assertEqual(len(topks), nq, reply)
    tc.assertEqual(sum(topks), len(data), reply)
    out, at = [], 0
    for k in topks:
        out.append(data[at:at + k])
        at += k
    return out


# ---- a test case bound to one server per class ----


class ReadCase(unittest.TestCase):
    """One server for the class; helpers for Strong reads and errors."""

    srv = None

    @classmethod
    def setUpClass(cls):
        cls.srv = harness.Server()

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    def ok(self, path, body, headers=None):
        return self.srv.ok(path, body, headers)

    def post(self, path, body, headers=None):
        return self.srv.post(path, body, headers)

    def insert(self, coll, rows, partition=None):
        for at in range(0, len(rows), 200):
            body = {"collectionName": coll, "data": rows[at:at + 200]}
            if partition:
                body["partitionName"] = partition
            self.ok("entities/insert", body)

    def query(self, coll, filt="", **extra):
        body = {"collectionName": coll, "filter": filt, "limit": 16384,
                "consistencyLevel": "Strong"}
        body.update(extra)
        return self.ok("entities/query", body)["data"]

    def count(self, coll, filt="", **extra):
        body = {"collectionName": coll, "filter": filt, "outputFields": ["count(*)"],
                "consistencyLevel": "Strong"}
        body.update(extra)
        data = self.ok("entities/query", body)["data"]
        self.assertEqual(len(data), 1, data)
        self.assertEqual(list(data[0]), ["count(*)"], data)
        return data[0]["count(*)"]

    def search(self, coll, data, **extra):
        body = {"collectionName": coll, "data": data, "consistencyLevel": "Strong"}
        body.update(extra)
        return self.post("entities/search", body)

    def assertErr(self, reply, codes, contains=None, starts=None):
        if isinstance(codes, int):
            codes = (codes,)
        self.assertIn(reply.get("code"), codes, reply)
        self.assertNotIn("data", reply, reply)
        msg = reply.get("message", "")
        if contains:
            self.assertIn(contains.lower(), msg.lower(), reply)
        if starts:
            self.assertTrue(msg.startswith(starts), reply)


def parse_json_field(v):
    """The JSON field comes back as a string holding JSON (§3.4)."""
    return json.loads(v) if isinstance(v, str) else v
