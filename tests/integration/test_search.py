"""search and hybrid_search against an exact reference (milvus-rest-v2.md
§4.4.6-4.4.7, §3.3-3.4; refimpl.py computes the distances).

* Every (vector type, metric): FloatVector L2/IP/COSINE, Float16Vector and
  BFloat16Vector L2/IP, Int8Vector L2/IP, BinaryVector HAMMING/JACCARD,
  SparseFloatVector IP. Each collection gets a few hundred seeded rows, then
  override upserts, a merge upsert and deletes; searches with nq 1 and 3,
  filter, offset and outputFields must return the reference's hits (same
  order, exact ties in any order) and distances.
* Range search, group-by, default limit, partitions, empty results, Int64
  as strings, and the errors (limit, dimension, annsField).
* hybrid_search with rrf and weighted rerank (norm_score on and off).

Every read is at consistencyLevel Strong.

Usage: test_search.py /path/to/tidemark [unittest args]
"""

import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import refimpl as ref  # noqa: E402
from refimpl import f32  # noqa: E402

N = 300
DIM = 16
BDIM = 64


# ---- vector kinds: (wire value, stored value) generators ----

def gen_float(rnd):
    v = [rnd.uniform(-1, 1) for _ in range(DIM)]
    return v, [f32(x) for x in v]


def gen_f16(rnd):
    v = [ref.f16_round(rnd.uniform(-1, 1)) for _ in range(DIM)]
    return ref.f16_b64(v), v


def gen_bf16(rnd):
    v = [ref.bf16_round(rnd.uniform(-1, 1)) for _ in range(DIM)]
    return ref.bf16_b64(v), v


def gen_int8(rnd):
    v = [rnd.randint(-128, 127) for _ in range(DIM)]
    return v, v


def gen_binary(rnd):
    v = [rnd.randint(0, 255) for _ in range(BDIM // 8)]
    if not any(v):
        v[0] = 1
    return ref.bin_b64(v), v


def gen_sparse(rnd):
    sp = {k: f32(rnd.uniform(0.05, 1.0)) for k in rnd.sample(range(40), rnd.randint(3, 8))}
    return ref.sparse_json(sp), sp


# name -> (dataType, dim or None, generator, output encoding of a stored vector)
KINDS = {
    "float": ("FloatVector", DIM, gen_float, lambda v: v),
    "f16": ("Float16Vector", DIM, gen_f16, ref.f16_b64),
    "bf16": ("BFloat16Vector", DIM, gen_bf16, ref.bf16_b64),
    "int8": ("Int8Vector", DIM, gen_int8, ref.int8_b64),
    "binary": ("BinaryVector", BDIM, gen_binary, ref.bin_b64),
    "sparse": ("SparseFloatVector", None, gen_sparse, ref.sparse_json),
}


def vec_field(name, kind):
    dtype, dim = KINDS[kind][0], KINDS[kind][1]
    f = {"fieldName": name, "dataType": dtype}
    if dim:
        f["elementTypeParams"] = {"dim": dim}
    return f


def coll_body(name, vecs):
    """vecs: [(field name, kind, metric)]; scalars id (pk), g Int64 (0..14),
    s VarChar, x Double."""
    return {"collectionName": name,
            "schema": {"autoID": False, "enableDynamicField": False, "fields": [
                {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
                {"fieldName": "g", "dataType": "Int64"},
                {"fieldName": "s", "dataType": "VarChar", "elementTypeParams": {"max_length": 16}},
                {"fieldName": "x", "dataType": "Double"}] + [vec_field(f, k) for f, k, _ in vecs]},
            "indexParams": [{"fieldName": f, "indexName": f + "_idx", "metricType": m,
                             "indexType": "AUTOINDEX"} for f, _, m in vecs]}


class Fixture:
    """A collection and its reference state: rows[pk] = {"g","s","x", field:
    (wire, stored)}."""

    def __init__(self, tc, name, vecs, seed, n=N):
        self.tc, self.name, self.vecs = tc, name, vecs
        self.rnd = random.Random(seed)
        self.rows = {}
        tc.ok("collections/create", coll_body(name, vecs))
        tc.insert(name, [self.wire(self.new_row(i)) for i in range(n)])

    def new_row(self, i, partition=None):
        rnd = self.rnd
        r = {"id": i, "g": rnd.randint(0, 14), "s": rnd.choice(["a", "ab", "b", "c"]) + str(i % 10),
             "x": round(rnd.uniform(-1, 1), 4), "part": partition}
        for f, kind, _ in self.vecs:
            r[f] = KINDS[kind][2](rnd)
        self.rows[i] = r
        return r

    def wire(self, r, fields=None):
        out = {k: (v[0] if isinstance(v, tuple) else v) for k, v in r.items()
               if k != "part" and (fields is None or k in fields or k == "id")}
        return out

    def mutate(self):
        """Override 0..19 (new vectors and scalars), merge s of 20..29,
        delete 30..44 by key and x < -0.9 by filter."""
        c, tc = self.name, self.tc
        # the versions that must never be found again: overridden 0 and 1,
        # deleted 30
        self.old = {f: [self.rows[i][f] for i in (0, 1, 30)] for f, _, _ in self.vecs}
        tc.ok("entities/upsert", {"collectionName": c,
                                  "data": [self.wire(self.new_row(i)) for i in range(20)]})
        tc.ok("entities/upsert", {"collectionName": c, "partialUpdate": True,
                                  "data": [{"id": i, "s": "merged"} for i in range(20, 30)]})
        for i in range(20, 30):
            self.rows[i]["s"] = "merged"
        tc.ok("entities/delete", {"collectionName": c,
                                  "filter": "id in [%s]" % ",".join(map(str, range(30, 45)))})
        gone = [i for i, r in self.rows.items() if 30 <= i < 45 or r["x"] < -0.9]
        d = tc.ok("entities/delete", {"collectionName": c, "filter": "x < -0.9"})
        tc.assertEqual(d["data"]["deleteCount"], sum(self.rows[i]["x"] < -0.9 for i in gone
                                                     if not 30 <= i < 45))
        for i in gone:
            del self.rows[i]

    def stored(self, field, pred=None, parts=None):
        return {i: r[field][1] for i, r in self.rows.items()
                if (pred is None or pred(r)) and (parts is None or (r["part"] or "_default") in parts)}

    def queries(self, field, nq):
        kind = next(k for f, k, _ in self.vecs if f == field)
        return [KINDS[kind][2](self.rnd) for _ in range(nq)]

    def expect(self, field, metric, q, pred=None, parts=None):
        return ref.rank(ref.distances(q, self.stored(field, pred, parts), metric), metric)


class SearchCase(ref.ReadCase):

    def check_search(self, fx, field, metric, nq=1, limit=10, offset=0, filt=None, pred=None,
                     out=None, rel=1e-4, parts=None, qs=None, **extra):
        qs = qs or fx.queries(field, nq)
        nq = len(qs)
        body = dict(extra)
        body["limit"] = limit
        if offset:
            body["offset"] = offset
        if filt is not None:
            body["filter"] = filt
        if out is not None:
            body["outputFields"] = out
        if parts is not None:
            body["partitionNames"] = parts
        if len(fx.vecs) > 1:
            body["annsField"] = field
        reply = self.search(fx.name, [w for w, _ in qs], **body)
        per_q = ref.split_topks(self, reply, nq)
        for qi, ((_, q), hits) in enumerate(zip(qs, per_q)):
            ranked = fx.expect(field, metric, q, pred, parts)
            what = "%s %s q%d %s" % (fx.name, metric, qi, body)
            ref.check_window(self, hits, ranked, offset, limit, rel, what=what)
            for h in hits:
                row = fx.rows[h["id"]]
                self.assertEqual(set(h), {"id", "distance"} | set(out or ()), h)
                for f in out or ():
                    self.assertEqual(self.out_value(fx, f, h[f]), self.out_value(fx, f, row[f], True),
                                     "%s of %r" % (f, h["id"]))
        return per_q

    def out_value(self, fx, f, v, stored=False):
        """A field value as returned (stored=False) or as the reference
        expects it (stored=True), made comparable."""
        kind = next((k for fn, k, _ in fx.vecs if fn == f), None)
        if kind is None:
            return v
        if stored:
            v = KINDS[kind][3](v[1])
        if kind == "float":
            return [f32(x) for x in v]
        if kind == "sparse":
            return {str(k): f32(x) for k, x in v.items()}
        return v


# (kind, metric, seed, tolerance): one collection each
CASES = [("float", "L2", 1, 1e-4), ("float", "IP", 2, 1e-4), ("float", "COSINE", 3, 1e-4),
         ("f16", "L2", 4, 1e-3), ("f16", "IP", 5, 1e-3), ("bf16", "L2", 6, 1e-3),
         ("bf16", "IP", 7, 1e-3), ("int8", "L2", 8, 1e-4), ("int8", "IP", 9, 1e-4),
         ("binary", "HAMMING", 10, 1e-4), ("binary", "JACCARD", 11, 1e-4),
         ("sparse", "IP", 12, 1e-4)]


class VectorTypesTest(SearchCase):
    """Each (type, metric) against the reference, after upserts and deletes."""

    def run_case(self, kind, metric, seed, rel):
        fx = Fixture(self, "c_%s_%s" % (kind, metric.lower()), [("v", kind, metric)], seed)
        fx.mutate()
        m = "SPARSE_IP" if kind == "sparse" else metric
        even = lambda r: r["g"] % 2 == 0  # noqa: E731
        self.check_search(fx, "v", m, nq=1, rel=rel)
        self.check_search(fx, "v", m, qs=fx.old["v"], rel=rel)  # old versions are gone
        self.check_search(fx, "v", m, nq=3, rel=rel)
        self.check_search(fx, "v", m, nq=3, filt="g % 2 == 0", pred=even, rel=rel)
        self.check_search(fx, "v", m, nq=1, offset=5, rel=rel,
                          filt='s like "a%" or s == "merged"',
                          pred=lambda r: r["s"].startswith("a") or r["s"] == "merged")
        self.check_search(fx, "v", m, nq=2, limit=7, out=["s", "g", "v"], rel=rel)
        self.check_search(fx, "v", m, nq=1, limit=5, filt="g in {gs} and x > {lo}",
                          pred=lambda r: r["g"] in (1, 2, 3) and r["x"] > -0.5, rel=rel,
                          exprParams={"gs": [1, 2, 3], "lo": -0.5})
        # query/get return the stored vector in the type's encoding (§3.4)
        keys = sorted(fx.rows)[:5]
        got = self.ok("entities/get", {"collectionName": fx.name, "id": keys,
                                       "outputFields": ["v"], "consistencyLevel": "Strong"})
        self.assertEqual({r["id"]: self.out_value(fx, "v", r["v"]) for r in got["data"]},
                         {i: self.out_value(fx, "v", fx.rows[i]["v"], True) for i in keys})

    def test_float_l2(self):
        self.run_case(*CASES[0])

    def test_float_ip(self):
        self.run_case(*CASES[1])

    def test_float_cosine(self):
        self.run_case(*CASES[2])

    def test_float16_l2(self):
        self.run_case(*CASES[3])

    def test_float16_ip(self):
        self.run_case(*CASES[4])

    def test_bfloat16_l2(self):
        self.run_case(*CASES[5])

    def test_bfloat16_ip(self):
        self.run_case(*CASES[6])

    def test_int8_l2(self):
        self.run_case(*CASES[7])

    def test_int8_ip(self):
        self.run_case(*CASES[8])

    def test_binary_hamming(self):
        self.run_case(*CASES[9])

    def test_binary_jaccard(self):
        self.run_case(*CASES[10])

    def test_sparse_ip(self):
        self.run_case(*CASES[11])


class SearchFeaturesTest(SearchCase):
    """Range search, group-by, defaults, partitions, errors, on float
    collections."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        tc = cls("test_errors")
        cls.fx = {m: Fixture(tc, "feat_" + m.lower(), [("v", "float", m)], 100 + i)
                  for i, m in enumerate(("L2", "IP", "COSINE"))}

    def setUp(self):
        for fx in self.fx.values():
            fx.rnd = random.Random(self._testMethodName)  # queries per test

    def test_range_search(self):
        """L2: radius > d >= range_filter; IP/COSINE: radius < d <= range_filter."""
        for metric, fx in self.fx.items():
            for limit in (10, 50):
                with self.subTest(metric=metric, limit=limit):
                    wire, q = fx.queries("v", 1)[0]
                    ranked = fx.expect("v", metric, q)
                    ds = [d for _, d in ranked]
                    rf, rad = (ds[4] + ds[5]) / 2, (ds[29] + ds[30]) / 2
                    params = {"radius": rad, "range_filter": rf}
                    # since 2.5.2 the keys may also come flat (§4.4.6)
                    sp = {"params": params} if limit == 10 else params
                    reply = self.search(fx.name, [wire], limit=limit, searchParams=sp)
                    (hits,) = ref.split_topks(self, reply, 1)
                    inr = [(i, d) for i, d in ranked if ref.in_range(d, metric, rad, rf)]
                    self.assertEqual(len(inr), 25)
                    ref.check_window(self, hits, inr, 0, limit, what="range %s" % metric)

    def test_grouping(self):
        fx = self.fx["L2"]
        for size in (None, 3):
            with self.subTest(groupSize=size):
                wire, q = fx.queries("v", 1)[0]
                body = {"limit": 5, "groupingField": "g", "outputFields": ["g"]}
                if size:
                    body["groupSize"] = size
                hits = ref.split_topks(self, self.search(fx.name, [wire], **body), 1)[0]
                dist = ref.distances(q, fx.stored("v"), "L2")
                want = ref.group_top(dist, "L2", {i: r["g"] for i, r in fx.rows.items()}, 5,
                                     size or 1)
                self.assertEqual(len(hits), sum(len(h) for _, h in want), hits)
                got = {}
                for h in hits:
                    self.assertEqual(h["g"], fx.rows[h["id"]]["g"], h)
                    self.assertLessEqual(abs(h["distance"] - dist[h["id"]]), 1e-4, h)
                    got.setdefault(h["g"], []).append(h["distance"])
                self.assertEqual(sorted(got), sorted(g for g, _ in want), hits)
                for g, grp in want:
                    self.assertEqual(len(got[g]), len(grp), (g, hits))
                    for a, (_, b) in zip(sorted(got[g]), grp):
                        self.assertLessEqual(abs(a - b), 1e-4, (g, hits))

    def test_default_limit_and_shapes(self):
        fx = self.fx["IP"]
        wire, q = fx.queries("v", 1)[0]
        hits = ref.split_topks(self, self.search(fx.name, [wire]), 1)[0]
        ref.check_window(self, hits, fx.expect("v", "IP", q), 0, 100, what="default limit 100")
        # fewer matches than limit: all of them, topks says how many
        self.check_search(fx, "v", "IP", nq=2, limit=50, filt="g == 3",
                          pred=lambda r: r["g"] == 3)
        # no match: data [] and no topks
        r = self.search(fx.name, [wire], filter="g > 1000", limit=10)
        self.assertEqual(r.get("code"), 0, r)
        self.assertEqual(r["data"], [], r)
        self.assertNotIn("topks", r, r)
        # Int64 pk as a string with Accept-Type-Allow-Int64: false
        r = self.srv.post("entities/search", {"collectionName": fx.name, "data": [wire],
                                              "limit": 3, "consistencyLevel": "Strong"},
                          headers={"Accept-Type-Allow-Int64": "false"})
        want = fx.expect("v", "IP", q)[:3]
        self.assertEqual([h["id"] for h in r["data"]], [str(i) for i, _ in want], r)
        self.assertEqual(r["topks"], [3], r)

    def test_partitions(self):
        fx = Fixture(self, "parts", [("v", "float", "COSINE")], 200, n=100)
        self.ok("partitions/create", {"collectionName": fx.name, "partitionName": "P1"})
        self.insert(fx.name, [fx.wire(fx.new_row(1000 + i, "P1")) for i in range(60)], "P1")
        for parts in (["P1"], ["_default"], ["_default", "P1"]):
            with self.subTest(parts=parts):
                self.check_search(fx, "v", "COSINE", nq=2, parts=parts)
                self.check_search(fx, "v", "COSINE", nq=1, parts=parts, filt="g < 7",
                                  pred=lambda r: r["g"] < 7)
        self.check_search(fx, "v", "COSINE", nq=1, limit=20)
        r = self.search(fx.name, [fx.queries("v", 1)[0][0]], partitionNames=["nope"])
        self.assertErr(r, 200)

    def test_errors(self):
        fx = self.fx["L2"]
        wire = fx.queries("v", 1)[0][0]
        for extra in ({"limit": 0}, {"limit": 16385}, {"limit": 10, "offset": 16380}):
            with self.subTest(**extra):
                self.assertErr(self.search(fx.name, [wire], **extra), 65535)
        r = self.search(fx.name, [wire[:DIM - 1]], limit=5)
        self.assertNotEqual(r.get("code"), 0, r)
        self.assertNotIn("data", r, r)
        self.assertIn("dim", r.get("message", "").lower(), r)
        r = self.search(fx.name, [wire], filter="g >", limit=5)
        self.assertErr(r, 1100, starts="failed to create query plan:")
        # a parameter given flat and under params with different values
        r = self.search(fx.name, [wire], limit=5,
                        searchParams={"radius": 9.0, "params": {"radius": 8.0}})
        self.assertErr(r, 1100, starts="ambiguous parameter")
        r = self.search(fx.name, [wire], limit=5,
                        searchParams={"nprobe": 8, "params": {"nprobe": 8}})
        self.assertEqual(r.get("code"), 0, r)


# ---- hybrid_search ----

HVECS = [("v1", "float", "L2"), ("v2", "float", "IP"), ("v3", "float", "COSINE"),
         ("v4", "float", "L2")]
METRIC = {f: m for f, _, m in HVECS}


class HybridTest(SearchCase):
    """Four float vector fields (L2, IP, COSINE, L2). Expected fused scores
    follow Milvus 2.6 internal/util/function/rerank (rrf_function.go,
    weighted_function.go, util.go getNormalizeFunc):
    * rrf: score = sum over sub-searches of 1/(k + rank), rank from 1, k
      default 60; descending.
    * weighted, norm_score true: each score normalised first -- COSINE
      (1+d)/2, IP 0.5+atan(d)/pi, L2 1-2*atan(d)/pi -- then sum of
      weight*score, descending.
    * weighted, norm_score absent/false: raw weight*score summed; if all
      sub-searches are IP/COSINE, descending; if all are L2, ascending (the
      raw weighted L2 sum); if mixed, L2 scores become 1-2*atan(d)/pi and the
      result is descending.
    Each sub-search contributes its own top `limit` hits."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fx = Fixture(cls("test_rrf"), "hyb", HVECS, 300)
        cls.fx.mutate()

    def setUp(self):
        self.fx.rnd = random.Random(self._testMethodName)  # queries per test

    def hybrid(self, subs, rerank, limit=10, offset=0, out=None):
        """subs: [(field, sub limit, filter, pred)] -> (reply, per-sub
        reference hits)."""
        fx = self.fx
        body = {"collectionName": fx.name, "search": [], "rerank": rerank, "limit": limit,
                "consistencyLevel": "Strong"}
        if offset:
            body["offset"] = offset
        if out:
            body["outputFields"] = out
        refs = []
        for field, sub_limit, filt, pred in subs:
            wire, q = fx.queries(field, 1)[0]
            s = {"data": [wire], "annsField": field, "limit": sub_limit}
            if filt:
                s["filter"] = filt
            body["search"].append(s)
            refs.append(fx.expect(field, METRIC[field], q, pred)[:sub_limit])
        return self.post("entities/hybrid_search", body), refs

    def check_fused(self, reply, scores, descending, limit, offset, rel, out=None):
        (hits,) = ref.split_topks(self, reply, 1)
        ranked = ref.rank(scores, "IP" if descending else "L2")
        ref.check_window(self, hits, ranked, offset, limit, rel, what="hybrid")
        for h in hits:
            self.assertEqual(set(h), {"id", "distance"} | set(out or ()), h)
            for f in out or ():
                self.assertEqual(self.out_value(self.fx, f, h[f]),
                                 self.out_value(self.fx, f, self.fx.rows[h["id"]][f], True))

    def test_rrf(self):
        for params, k in (({}, 60.0), ({"k": 60}, 60.0), ({"k": 10}, 10.0)):
            for offset in (0, 4):
                with self.subTest(params=params, offset=offset):
                    reply, refs = self.hybrid([("v1", 20, None, None), ("v2", 30, None, None)],
                                              {"strategy": "rrf", "params": params},
                                              offset=offset, out=["s"] if offset else None)
                    scores = ref.rrf([[i for i, _ in r] for r in refs], k)
                    self.check_fused(reply, scores, True, 10, offset, 1e-6,
                                     out=["s"] if offset else None)

    def test_rrf_with_filters(self):
        reply, refs = self.hybrid([("v3", 15, "g < 8", lambda r: r["g"] < 8),
                                   ("v4", 15, 's like "b%"', lambda r: r["s"].startswith("b"))],
                                  {"strategy": "rrf", "params": {"k": 30}}, limit=12,
                                  out=["g", "v3"])
        self.check_fused(reply, ref.rrf([[i for i, _ in r] for r in refs], 30.0), True, 12, 0,
                         1e-6, out=["g", "v3"])

    def weighted_case(self, fields, weights, norm):
        rerank = {"strategy": "weighted", "params": {"weights": weights}}
        if norm is not None:
            rerank["params"]["norm_score"] = norm
        reply, refs = self.hybrid([(f, 20, None, None) for f in fields], rerank)
        scores, desc = ref.weighted(refs, [METRIC[f] for f in fields], weights, bool(norm))
        self.check_fused(reply, scores, desc, 10, 0, 1e-5)

    def test_weighted_norm_score(self):
        for fields, w in ((("v1", "v2"), [0.3, 0.7]), (("v2", "v3"), [0.5, 0.5]),
                          (("v1", "v3", "v4"), [0.2, 0.5, 0.3])):
            with self.subTest(fields=fields):
                self.weighted_case(fields, w, True)

    def test_weighted_norm_score_defaults_off(self):
        """Milvus 2.6 turns the REST `params` into a weighted function whose
        norm_score is false unless sent (weighted_function.go `needNorm :=
        false`; pymilvus's WeightedRanker sends norm_score itself)."""
        self.weighted_case(("v2", "v3"), [0.6, 0.4], None)

    def test_weighted_raw_similarities(self):
        self.weighted_case(("v2", "v3"), [0.6, 0.4], False)

    def test_weighted_raw_l2_ascending(self):
        self.weighted_case(("v1", "v4"), [0.8, 0.2], False)

    def test_weighted_raw_mixed(self):
        """L2 with COSINE: the L2 list's hits score 1-2*atan(d)/pi, and with
        these weights they outrank most COSINE-only hits."""
        self.weighted_case(("v1", "v3"), [1.0, 0.1], False)
        self.weighted_case(("v1", "v2"), [0.5, 0.5], False)

    def test_ann_field_required(self):
        wire = self.fx.queries("v1", 1)[0][0]
        r = self.search(self.fx.name, [wire], limit=5)
        self.assertErr(r, 1801, contains="multiple vector fields")
        for f in ("v2", "v4"):
            with self.subTest(annsField=f):
                self.check_search(self.fx, f, METRIC[f], nq=2, limit=8)


if __name__ == "__main__":
    harness.run_tests()
