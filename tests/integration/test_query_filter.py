"""query / get / delete with the full filter language (milvus-rest-v2.md
§4.4.3-4.4.5, §7, output encodings §3.4).

Every filter is checked against the rows this test inserted: the expected
rows are computed in Python next to the filter string. One server for the
read-only classes; the mutating ones make their own collection per test.
Every read is at consistencyLevel Strong.

Usage: test_query_filter.py /path/to/tidemark [unittest args]
"""

import http.client
import json
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import refimpl  # noqa: E402
from refimpl import f32  # noqa: E402

N = 240
STRINGS = ["abc", "abcd", "xyz", "axc", "abyz", "h\u00e9llo", "hallo", "", "a", "mid",
           "zmidz", "cab", "a_c", "a%c", 'say "hi"']
NAMES = ["kappa", "kilo", "lima", "mike"]
PLAN_ERR = "failed to create query plan:"


def schema(name, dynamic=True):
    F = lambda n, t, **kw: dict({"fieldName": n, "dataType": t}, **kw)  # noqa: E731
    return {
        "collectionName": name,
        "schema": {"autoID": False, "enableDynamicField": dynamic, "fields": [
            F("id", "Int64", isPrimary=True),
            F("b", "Bool"), F("i8", "Int8"), F("i16", "Int16"), F("i32", "Int32"),
            F("i64", "Int64"), F("f", "Float"), F("d", "Double"),
            F("s", "VarChar", elementTypeParams={"max_length": 64}),
            F("ni", "Int32", nullable=True),
            F("nsv", "VarChar", nullable=True, elementTypeParams={"max_length": 16}),
            F("meta", "JSON"),
            F("arr", "Array", elementDataType="Int64", elementTypeParams={"max_capacity": 8}),
            F("sarr", "Array", elementDataType="VarChar",
              elementTypeParams={"max_capacity": 4, "max_length": 8}),
            F("narr", "Array", elementDataType="Int32", nullable=True,
              elementTypeParams={"max_capacity": 4}),
            F("vec", "FloatVector", elementTypeParams={"dim": 4})]},
        "indexParams": [{"fieldName": "vec", "indexName": "vec_idx", "metricType": "L2",
                         "indexType": "FLAT"}],
    }


def make_rows(n, seed, base=0):
    rnd = random.Random(seed)
    rows = []
    for k in range(n):
        i = base + k
        meta = {"a": {"b": rnd.randint(0, 3)}, "name": rnd.choice(NAMES),
                "tags": rnd.sample(["x", "y", "z", "w"], rnd.randint(0, 3))}
        if i % 5:
            meta["n"] = rnd.randint(0, 9)
        if i % 6 == 0:
            meta["opt"] = 1
        if rnd.random() < 0.5:
            s = rnd.choice(STRINGS)
        else:
            s = "".join(rnd.choice("abcxyz") for _ in range(rnd.randint(1, 5)))
        r = {"id": i, "b": rnd.random() < 0.5, "i8": rnd.randint(-128, 127),
             "i16": rnd.randint(-1000, 1000), "i32": rnd.randint(0, 60),
             "i64": rnd.choice([rnd.randint(-2 ** 62, 2 ** 62), rnd.randint(-50, 50)]),
             "f": rnd.randint(-40, 40) * 0.25, "d": round(rnd.uniform(-5, 5), 3), "s": s,
             "ni": None if i % 4 == 0 else rnd.randint(0, 10),
             "nsv": None if i % 3 == 0 else rnd.choice(["", "v1", "v12", "w"]),
             "meta": meta, "arr": [rnd.randint(0, 9) for _ in range(rnd.randint(0, 5))],
             "sarr": rnd.sample(["x", "y", "z"], rnd.randint(0, 3)),
             "narr": None if i % 7 == 0 else [rnd.randint(0, 5) for _ in range(rnd.randint(0, 3))],
             "vec": [rnd.uniform(-1, 1) for _ in range(4)]}
        if i % 3:
            r["color"] = rnd.choice(["red", "green", "blue"])
        if i % 2:
            r["size"] = rnd.randint(0, 6)
        rows.append(r)
    return rows


def stored(row):
    """The row as query with outputFields ["*"] returns it, normalised by
    got_row(): vectors float32, JSON parsed."""
    out = dict(row)
    out["vec"] = [f32(x) for x in row["vec"]]
    out["f"] = f32(row["f"])
    return out


def got_row(r):
    g = dict(r)
    if "meta" in g:
        g["meta"] = refimpl.parse_json_field(g["meta"])
    if isinstance(g.get("vec"), list):
        g["vec"] = [f32(x) for x in g["vec"]]
    return g


def cmod(a, b):
    """C (and Milvus) integer remainder: truncates toward zero."""
    return a - b * int(a / b)


def like(pat):
    """SQL like -> a Python predicate on str (only for the patterns used)."""
    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pat)
    return lambda s: s is not None and re.fullmatch(rx, s, re.S) is not None


def jn(r, k):
    """meta[k] as a number, or None if absent."""
    v = r["meta"].get(k)
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def cmp(v, op, c):
    return v is not None and op(v, c)


class FilterCase(refimpl.ReadCase):
    coll = "f"
    rows = []

    def ids(self, filt, coll=None, **extra):
        data = self.query(coll or self.coll, filt, outputFields=["id"], **extra)
        ids = [r["id"] for r in data]
        self.assertEqual(len(ids), len(set(ids)), "duplicate rows for %r" % filt)
        return sorted(ids)

    def check(self, filt, pred, rows=None, coll=None, **extra):
        want = sorted(r["id"] for r in (self.rows if rows is None else rows) if pred(r))
        self.assertEqual(self.ids(filt, coll, **extra), want, "filter %r" % filt)
        return want


class DataCase(FilterCase):
    """N rows of make_rows in collection "f", inserted once per class."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rows = make_rows(N, 1)
        cls.srv.ok("collections/create", schema(cls.coll))
        for at in range(0, N, 120):
            cls.srv.ok("entities/insert", {"collectionName": cls.coll,
                                           "data": cls.rows[at:at + 120]})


class FilterTest(DataCase):
    """Each filter form returns exactly the rows the Python predicate picks."""

    def run_cases(self, cases):
        for filt, pred in cases:
            with self.subTest(filter=filt):
                self.check(filt, pred)

    def test_scalar_comparisons(self):
        r0, r1 = self.rows[10], self.rows[11]
        self.run_cases([
            ("b == true", lambda r: r["b"]), ("b == True", lambda r: r["b"]),
            ("b == FALSE", lambda r: not r["b"]), ("b != true", lambda r: not r["b"]),
            ("i8 < -100", lambda r: r["i8"] < -100), ("i8 >= 100", lambda r: r["i8"] >= 100),
            ("10 < i8", lambda r: r["i8"] > 10),
            ("i16 == %d" % r0["i16"], lambda r: r["i16"] == r0["i16"]),
            ("i16 <= -500", lambda r: r["i16"] <= -500),
            ("i32 != 7", lambda r: r["i32"] != 7), ("i32 > 40", lambda r: r["i32"] > 40),
            ("i64 > 0", lambda r: r["i64"] > 0),
            ("i64 <= -1000000000000", lambda r: r["i64"] <= -10 ** 12),
            ("i64 == %d" % r1["i64"], lambda r: r["i64"] == r1["i64"]),
            ("f > 0.3", lambda r: r["f"] > 0.3), ("f == 1.25", lambda r: r["f"] == 1.25),
            ("f <= -2", lambda r: r["f"] <= -2),
            ("d < -1.5", lambda r: r["d"] < -1.5), ("d >= %r" % r0["d"], lambda r: r["d"] >= r0["d"]),
            ('s == "abc"', lambda r: r["s"] == "abc"), ("s == 'xyz'", lambda r: r["s"] == "xyz"),
            ('s != "abc"', lambda r: r["s"] != "abc"), ('s > "m"', lambda r: r["s"] > "m"),
            ('s == ""', lambda r: r["s"] == ""), ('s == "h\u00e9llo"', lambda r: r["s"] == "h\u00e9llo"),
            ("i32 > i16", lambda r: r["i32"] > r["i16"]),
            ("i32 == 0x1f", lambda r: r["i32"] == 31), ("i32 == 0b101", lambda r: r["i32"] == 5),
            ("i32 == 017", lambda r: r["i32"] == 15),
            ("d > -1e0", lambda r: r["d"] > -1.0), ("f >= 1.5e0", lambda r: r["f"] >= 1.5),
            # string escapes (§7.1): \" inside "...", \uXXXX
            ('s == "say \\"hi\\""', lambda r: r["s"] == 'say "hi"'),
            ("s == 'say \"hi\"'", lambda r: r["s"] == 'say "hi"'),
            ('s == "h\\u00e9llo"', lambda r: r["s"] == "h\u00e9llo"),
            # constants outside the field type's range
            ("i8 < 200", lambda r: True), ("i8 > 300", lambda r: False),
            ("i16 != 70000", lambda r: True),
        ])

    def test_ranges_and_lists(self):
        self.run_cases([
            ("10 < i32 <= 50", lambda r: 10 < r["i32"] <= 50),
            ("50 >= i32 > 10", lambda r: 10 < r["i32"] <= 50),
            ("-1.5 <= d < 1.5", lambda r: -1.5 <= r["d"] < 1.5),
            ('"b" <= s < "c"', lambda r: "b" <= r["s"] < "c"),
            ("i32 in [1, 2, 3]", lambda r: r["i32"] in (1, 2, 3)),
            ("i32 in [1, 2, 3,]", lambda r: r["i32"] in (1, 2, 3)),
            ("i32 IN [4]", lambda r: r["i32"] == 4),
            ("i32 in []", lambda r: False),
            ("i32 not in [1, 2, 3]", lambda r: r["i32"] not in (1, 2, 3)),
            ("i32 NOT IN [1, 2]", lambda r: r["i32"] not in (1, 2)),
            ("i32 > 2 ** 3", lambda r: r["i32"] > 8),
            ('s in ["abc", "xyz"]', lambda r: r["s"] in ("abc", "xyz")),
            ('s not in ["abc"]', lambda r: r["s"] != "abc"),
            ("id in [3, 5, 7, 100000]", lambda r: r["id"] in (3, 5, 7)),
            ("i64 in [%d, %d]" % (self.rows[3]["i64"], self.rows[4]["i64"]),
             lambda r: r["i64"] in (self.rows[3]["i64"], self.rows[4]["i64"])),
        ])

    def test_like(self):
        cases = [(p, like(p)) for p in ("ab%", "%yz", "%mid%", "a%c", "a_c", "abc", "h_llo",
                                        "%", "_", "_b%", "%a_")]
        self.run_cases([('s like "%s"' % p, (lambda pr: lambda r: pr(r["s"]))(pr))
                        for p, pr in cases] + [
            ('s LIKE "x%"', lambda r: r["s"].startswith("x")),
            ('nsv like "v1%"', lambda r: (r["nsv"] or "").startswith("v1")),
            ('meta["name"] like "ki%"', lambda r: r["meta"]["name"].startswith("ki")),
            ('color like "gr%"', lambda r: r.get("color", "").startswith("gr")),
            # `\` escapes a wildcard; the string literal needs it doubled
            ('s like "a\\\\_c"', lambda r: r["s"] == "a_c"),
            ('s like "a\\\\%%"', lambda r: r["s"].startswith("a%")),
        ])

    def test_logic_spellings_and_precedence(self):
        a = lambda r: r["i8"] > 0  # noqa: E731
        b = lambda r: r["b"]  # noqa: E731
        cases = []
        for op in ("and", "AND", "&&"):
            cases.append(("i8 > 0 %s b == true" % op, lambda r: a(r) and b(r)))
        for op in ("or", "OR", "||"):
            cases.append(("i8 > 0 %s b == true" % op, lambda r: a(r) or b(r)))
        for op in ("not ", "NOT ", "!"):
            cases.append(("%s(i8 > 0)" % op, lambda r: not a(r)))
        cases += [
            ("b == true or i32 < 10 and i8 > 0",
             lambda r: r["b"] or (r["i32"] < 10 and r["i8"] > 0)),
            ("(b == true or i32 < 10) and i8 > 0",
             lambda r: (r["b"] or r["i32"] < 10) and r["i8"] > 0),
            ("not (i32 < 30 or b == true)", lambda r: not (r["i32"] < 30 or r["b"])),
            ("!(i8 > 0) && ni is not null", lambda r: r["i8"] <= 0 and r["ni"] is not None),
            ("i32 < 5 || i32 > 55 || s == 'abc'",
             lambda r: r["i32"] < 5 or r["i32"] > 55 or r["s"] == "abc"),
        ]
        self.run_cases(cases)

    def test_arithmetic(self):
        self.run_cases([
            ("id % 2 == 0", lambda r: r["id"] % 2 == 0),
            ("i16 % 7 == -3", lambda r: cmod(r["i16"], 7) == -3),  # C remainder
            ("i16 % 7 == 3", lambda r: cmod(r["i16"], 7) == 3),
            ("f * 2 > 1.0", lambda r: r["f"] * 2 > 1.0),
            ("i32 + 5 < 20", lambda r: r["i32"] + 5 < 20),
            ("i64 - 1 >= 10", lambda r: r["i64"] - 1 >= 10),
            ("d / 2 > 0.5", lambda r: r["d"] / 2 > 0.5),
            ("i32 * 3 != 30", lambda r: r["i32"] * 3 != 30),
            ('meta["n"] % 3 == 1', lambda r: cmp(jn(r, "n"), lambda v, c: v % 3 == c, 1)),
            ("arr[0] % 3 == 0", lambda r: bool(r["arr"]) and r["arr"][0] % 3 == 0),
        ])

    def test_json_paths_and_dynamic_keys(self):
        import operator as o
        self.run_cases([
            ('meta["a"]["b"] == 1', lambda r: r["meta"]["a"]["b"] == 1),
            ('meta["tags"][0] == "x"', lambda r: r["meta"]["tags"][:1] == ["x"]),
            ('meta["n"] > 5', lambda r: cmp(jn(r, "n"), o.gt, 5)),
            ('meta["n"] in [1, 2, 3]', lambda r: jn(r, "n") in (1, 2, 3)),
            ('3 <= meta["n"] < 7', lambda r: cmp(jn(r, "n"), lambda v, c: 3 <= v < c, 7)),
            ("meta['name'] == 'lima'", lambda r: r["meta"]["name"] == "lima"),
            ('exists meta["opt"]', lambda r: "opt" in r["meta"]),
            ('EXISTS meta["n"]', lambda r: "n" in r["meta"]),
            ('color == "red"', lambda r: r.get("color") == "red"),
            ('$meta["color"] == "red"', lambda r: r.get("color") == "red"),
            ('color in ["red", "blue"]', lambda r: r.get("color") in ("red", "blue")),
            ("size >= 3", lambda r: cmp(r.get("size"), o.ge, 3)),
            ('$meta["size"] < 2', lambda r: cmp(r.get("size"), o.lt, 2)),
            ('exists $meta["size"]', lambda r: "size" in r),
            ('color == "green" and size > 2',
             lambda r: r.get("color") == "green" and cmp(r.get("size"), o.gt, 2)),
        ])

    def test_null(self):
        self.run_cases([
            ("ni is null", lambda r: r["ni"] is None),
            ("ni IS NULL", lambda r: r["ni"] is None),
            ("ni is not null", lambda r: r["ni"] is not None),
            ("ni IS NOT NULL", lambda r: r["ni"] is not None),
            ("ni > 5", lambda r: r["ni"] is not None and r["ni"] > 5),
            ("ni != 5", lambda r: r["ni"] is not None and r["ni"] != 5),
            ("ni == 3", lambda r: r["ni"] == 3),
            ("ni in [1, 2]", lambda r: r["ni"] in (1, 2)),
            ("nsv is null", lambda r: r["nsv"] is None),
            ('nsv == ""', lambda r: r["nsv"] == ""),  # empty string is not null
            ("nsv is not null and ni is null", lambda r: r["nsv"] is not None and r["ni"] is None),
            ("narr is null", lambda r: r["narr"] is None),
            ("narr is not null", lambda r: r["narr"] is not None),
        ])

    def test_contains_and_length(self):
        t = lambda r: r["meta"]["tags"]  # noqa: E731
        self.run_cases([
            ('json_contains(meta["tags"], "x")', lambda r: "x" in t(r)),
            ('JSON_CONTAINS(meta["tags"], "y")', lambda r: "y" in t(r)),
            ('json_contains_all(meta["tags"], ["x", "y"])', lambda r: {"x", "y"} <= set(t(r))),
            ('json_contains_any(meta["tags"], ["x", "w"])', lambda r: bool({"x", "w"} & set(t(r)))),
            ('array_contains(meta["tags"], "z")', lambda r: "z" in t(r)),
            ('array_length(meta["tags"]) == 2', lambda r: len(t(r)) == 2),
            ("array_contains(arr, 3)", lambda r: 3 in r["arr"]),
            ("ARRAY_CONTAINS(arr, 4)", lambda r: 4 in r["arr"]),
            ("json_contains(arr, 5)", lambda r: 5 in r["arr"]),
            ("array_contains_all(arr, [1, 2])", lambda r: {1, 2} <= set(r["arr"])),
            ("array_contains_any(arr, [7, 8])", lambda r: bool({7, 8} & set(r["arr"]))),
            ("array_length(arr) == 0", lambda r: not r["arr"]),
            ("array_length(arr) >= 3", lambda r: len(r["arr"]) >= 3),
            ("arr[0] == 1", lambda r: r["arr"][:1] == [1]),
            ("arr[1] > 5", lambda r: len(r["arr"]) > 1 and r["arr"][1] > 5),
            ('array_contains(sarr, "x")', lambda r: "x" in r["sarr"]),
            ('array_contains_any(sarr, ["y", "z"])', lambda r: bool({"y", "z"} & set(r["sarr"]))),
            ("array_contains(narr, 2)", lambda r: 2 in (r["narr"] or [])),
        ])

    def test_templates(self):
        cases = [
            ("i32 > {x} and s in {ss}", {"x": 10, "ss": ["abc", "xyz"]},
             lambda r: r["i32"] > 10 and r["s"] in ("abc", "xyz")),
            ("d < {y}", {"y": 0.5}, lambda r: r["d"] < 0.5),
            ('meta["n"] == {n}', {"n": 4}, lambda r: jn(r, "n") == 4),
            ("s like {p}", {"p": "ab%"}, lambda r: r["s"].startswith("ab")),
            ("array_contains_any(arr, {v})", {"v": [1, 9]}, lambda r: bool({1, 9} & set(r["arr"]))),
            ("b == {t}", {"t": True}, lambda r: r["b"]),
            ("{lo} < i32 <= {hi}", {"lo": 5, "hi": 9}, lambda r: 5 < r["i32"] <= 9),
            ("id in {ids}", {"ids": [1, 2, 999]}, lambda r: r["id"] in (1, 2)),
            ('json_contains(meta["tags"], {t})', {"t": "w"}, lambda r: "w" in r["meta"]["tags"]),
        ]
        for filt, params, pred in cases:
            with self.subTest(filter=filt):
                self.check(filt, pred, exprParams=params)

    def test_rejected_filters(self):
        """1100 `failed to create query plan: ...` on query and delete; the
        delete removes nothing."""
        bad = ["i64 == 2.1", "arr == [1, 2]", "i32 & 1", "i32 >", "i32 == \"abc\"", "vec > 1",
               "not i32", 'i32 like "1%"', "i32 % 0 == 1", "i32 + 1", "i8 > 0 And b == true",
               "no_such_func(i32)", "(i32 > 1", "i32 << 1 == 2", "2 ** i32 > 4", "i32 > {x}",
               "s > i32", "1 < i32 > 5"]
        for filt in bad:
            with self.subTest(filter=filt):
                r = self.post("entities/query", {"collectionName": self.coll, "filter": filt,
                                                 "consistencyLevel": "Strong"})
                self.assertErr(r, 1100, starts=PLAN_ERR)
                r = self.post("entities/delete", {"collectionName": self.coll, "filter": filt})
                self.assertErr(r, 1100, starts=PLAN_ERR)
        self.assertEqual(self.count(self.coll), N)


class OutputTest(DataCase):
    """outputFields, encodings (§3.4), limit/offset, count(*), get."""

    def test_star_returns_every_field(self):
        data = self.query(self.coll, "id < 60", outputFields=["*"])
        want = {r["id"]: stored(r) for r in self.rows if r["id"] < 60}
        got = {r["id"]: r for r in data}
        self.assertEqual(sorted(got), sorted(want))
        for i, r in got.items():
            self.assertIsInstance(r["meta"], str, "JSON field is returned as a string: %r" % r)
            self.assertIsInstance(r["arr"], list, r)
            self.assertEqual(got_row(r), want[i])
        # the default outputFields is ["*"] as well
        data = self.query(self.coll, "id == 7")
        self.assertEqual([got_row(r) for r in data], [stored(self.rows[7])])

    def test_named_fields_and_dynamic_keys(self):
        byid = {r["id"]: r for r in self.rows}
        cases = [(["s", "meta"], lambda r: {"id": r["id"], "s": r["s"], "meta": r["meta"]}),
                 (["color"], lambda r: {"id": r["id"], "color": r.get("color")}),
                 (["vec", "ni"], lambda r: {"id": r["id"], "vec": [f32(x) for x in r["vec"]],
                                            "ni": r["ni"]}),
                 (["arr", "f", "b"], lambda r: {"id": r["id"], "arr": r["arr"], "f": r["f"],
                                                "b": r["b"]})]
        for fields, proj in cases:
            with self.subTest(fields=fields):
                data = self.query(self.coll, "id in [0, 1, 2, 3, 5, 6]", outputFields=fields)
                self.assertEqual(len(data), 6, data)
                for g in data:
                    g = got_row(g)
                    if "color" in fields and "color" not in g:
                        g["color"] = None  # a row without the key may omit it
                    self.assertEqual(g, proj(byid[g["id"]]))

    def test_int64_as_string(self):
        """`Accept-Type-Allow-Int64: false` -> Int64 values (pk, i64) as
        strings; other ints stay numbers."""
        r = self.ok("entities/query", {"collectionName": self.coll, "filter": "id in [4, 5]",
                                       "outputFields": ["i64", "i32"],
                                       "consistencyLevel": "Strong"},
                    headers={"Accept-Type-Allow-Int64": "false"})
        got = sorted(r["data"], key=lambda x: int(x["id"]))
        self.assertEqual(got, [{"id": str(i), "i64": str(self.rows[i]["i64"]),
                                "i32": self.rows[i]["i32"]} for i in (4, 5)])
        # and over a fresh connection with only that header (no harness defaults)
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=30)
        try:
            conn.request("POST", "/v2/vectordb/entities/get", body=json.dumps(
                {"collectionName": self.coll, "id": [6], "outputFields": ["i64"],
                 "consistencyLevel": "Strong"}),
                headers={"Accept-Type-Allow-Int64": "false", "Content-Type": "application/json"})
            reply = json.loads(conn.getresponse().read())
        finally:
            conn.close()
        self.assertEqual(reply.get("data"), [{"id": "6", "i64": str(self.rows[6]["i64"])}], reply)

    def test_limit_default_and_offset(self):
        r = self.ok("entities/query", {"collectionName": self.coll, "filter": "id >= 0",
                                       "outputFields": ["id"], "consistencyLevel": "Strong"})
        ids = [x["id"] for x in r["data"]]
        self.assertEqual(len(ids), 100, "query limit defaults to 100")
        self.assertEqual(len(set(ids)), 100)
        seen = []
        for off in range(0, N + 50, 50):
            page = self.ids("id >= 0", limit=50, offset=off)
            self.assertEqual(len(page), max(0, min(50, N - off)), "offset %d" % off)
            seen += page
        self.assertEqual(sorted(seen), list(range(N)), "pages overlap or miss rows")
        want = [r["id"] for r in self.rows if r["i32"] > 20]
        got = self.ids("i32 > 20", limit=10, offset=5)
        self.assertEqual(len(got), 10)
        self.assertTrue(set(got) <= set(want), got)

    def test_count(self):
        self.assertEqual(self.count(self.coll), N)
        for filt, pred in (("i32 > 30", lambda r: r["i32"] > 30),
                           ('color == "red"', lambda r: r.get("color") == "red"),
                           ("ni is null", lambda r: r["ni"] is None),
                           ("id in [1, 2, 3, 999999]", lambda r: r["id"] in (1, 2, 3)),
                           ("i32 > 1000", lambda r: False)):
            with self.subTest(filter=filt):
                self.assertEqual(self.count(self.coll, filt), sum(map(pred, self.rows)))
        # count ignores limit
        self.assertEqual(self.count(self.coll, "id >= 0", limit=5), N)

    def test_get(self):
        r = self.ok("entities/get", {"collectionName": self.coll, "id": [3, 8, 123456],
                                     "outputFields": ["s", "meta", "size"],
                                     "consistencyLevel": "Strong"})
        got = {x["id"]: got_row(x) for x in r["data"]}
        self.assertEqual(sorted(got), [3, 8])
        for i in (3, 8):
            w = {"id": i, "s": self.rows[i]["s"], "meta": self.rows[i]["meta"],
                 "size": self.rows[i].get("size")}
            got[i].setdefault("size", None)  # a row without the key may omit it
            self.assertEqual(got[i], w)
        r = self.ok("entities/get", {"collectionName": self.coll, "id": 9,
                                     "consistencyLevel": "Strong"})
        self.assertEqual([got_row(x) for x in r["data"]], [stored(self.rows[9])])


class MutationTest(FilterCase):
    """delete by filter, upserts: filters never see a deleted or superseded
    version. A fresh collection per test."""

    def setUp(self):
        self.coll = "m_" + self._testMethodName[-20:]
        self.rows = make_rows(80, 7)
        self.ok("collections/create", schema(self.coll))
        self.insert(self.coll, self.rows)

    def live(self):
        return self.ids("", coll=self.coll)

    def test_delete_by_filter(self):
        for filt, pred, extra in (("i32 > 30", lambda r: r["i32"] > 30, {}),
                                  ('color == "red"', lambda r: r.get("color") == "red", {}),
                                  ("s like {p}", lambda r: r["s"].startswith("a"),
                                   {"exprParams": {"p": "a%"}}),
                                  ("ni is null and b == true",
                                   lambda r: r["ni"] is None and r["b"], {})):
            with self.subTest(filter=filt):
                gone = [r for r in self.rows if pred(r)]
                body = {"collectionName": self.coll, "filter": filt}
                body.update(extra)
                d = self.ok("entities/delete", body)
                self.assertEqual(d["data"]["deleteCount"], len(gone), d)
                self.rows = [r for r in self.rows if not pred(r)]
                self.assertEqual(self.live(), sorted(r["id"] for r in self.rows))
                self.assertEqual(self.ids(filt, coll=self.coll, **extra), [])
                self.assertEqual(self.count(self.coll), len(self.rows))
        self.check("i32 <= 30", lambda r: r["i32"] <= 30, coll=self.coll)

    def test_upserts_never_show_old_versions(self):
        byid = {r["id"]: dict(r) for r in self.rows}
        # override: rows 0..19 get new i32/s, lose their dynamic keys
        new = []
        for i in range(20):
            r = dict(byid[i], i32=1000 + i, s="new", ni=None)
            r.pop("color", None)
            r.pop("size", None)
            new.append(r)
            byid[i] = r
        self.ok("entities/upsert", {"collectionName": self.coll, "data": new})
        # merge: rows 20..29 change s and ni only
        self.ok("entities/upsert", {"collectionName": self.coll, "partialUpdate": True,
                                    "data": [{"id": i, "s": "merged", "ni": 77}
                                             for i in range(20, 30)]})
        for i in range(20, 30):
            byid[i] = dict(byid[i], s="merged", ni=77)
        # delete 25..34 by key and a few by filter
        self.ok("entities/delete", {"collectionName": self.coll,
                                    "filter": "id in [%s]" % ",".join(map(str, range(25, 35)))})
        for i in range(25, 35):
            del byid[i]
        rows = list(byid.values())
        self.check("i32 >= 1000", lambda r: r["i32"] >= 1000, rows, self.coll)
        self.check('s == "merged"', lambda r: r["s"] == "merged", rows, self.coll)
        self.check("ni == 77", lambda r: r["ni"] == 77, rows, self.coll)
        self.check("ni is null", lambda r: r["ni"] is None, rows, self.coll)
        self.check('color == "red"', lambda r: r.get("color") == "red", rows, self.coll)
        self.check("i32 < 100", lambda r: r["i32"] < 100, rows, self.coll)
        self.check("id >= 0", lambda r: True, rows, self.coll)
        self.assertEqual(self.count(self.coll), len(rows))
        self.assertEqual(self.count(self.coll, 's == "new"'), 20)
        data = self.query(self.coll, "id >= 15 and id < 40", outputFields=["*"])
        got = {r["id"]: got_row(r) for r in data}
        self.assertEqual(got, {i: stored(byid[i]) for i in byid if 15 <= i < 40})
        # delete by a filter that matches merged and overridden rows
        d = self.ok("entities/delete", {"collectionName": self.coll,
                                        "filter": 's in ["new", "merged"] and id % 2 == 0'})
        gone = [i for i, r in byid.items() if r["s"] in ("new", "merged") and i % 2 == 0]
        self.assertEqual(d["data"]["deleteCount"], len(gone))
        rows = [r for r in rows if r["id"] not in gone]
        self.check("id >= 0", lambda r: True, rows, self.coll)

    def test_partitions(self):
        """partitionNames scopes query and count; delete with partitionName
        deletes only that partition's matching rows."""
        for p in ("A", "B"):
            self.ok("partitions/create", {"collectionName": self.coll, "partitionName": p})
        a, b = make_rows(30, 8, base=1000), make_rows(30, 9, base=2000)
        self.insert(self.coll, a, "A")
        self.insert(self.coll, b, "B")
        self.check("i32 > 20", lambda r: r["i32"] > 20, a, self.coll, partitionNames=["A"])
        self.check("i32 > 20", lambda r: r["i32"] > 20, a + b, self.coll,
                   partitionNames=["A", "B"])
        self.check("i32 > 20", lambda r: r["i32"] > 20, self.rows + a + b, self.coll)
        self.assertEqual(self.count(self.coll, "", partitionNames=["B"]), 30)
        self.assertEqual(self.count(self.coll, "i32 > 20", partitionNames=["_default"]),
                         sum(r["i32"] > 20 for r in self.rows))
        d = self.ok("entities/delete", {"collectionName": self.coll, "filter": "i32 > 20",
                                        "partitionName": "A"})
        self.assertEqual(d["data"]["deleteCount"], sum(r["i32"] > 20 for r in a))
        a = [r for r in a if r["i32"] <= 20]
        self.check("id >= 0", lambda r: True, self.rows + a + b, self.coll)
        r = self.post("entities/query", {"collectionName": self.coll, "filter": "id > 0",
                                         "partitionNames": ["nope"]})
        self.assertErr(r, 200)


if __name__ == "__main__":
    harness.run_tests()
