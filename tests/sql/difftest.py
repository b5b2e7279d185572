"""Differential testing of streamlake's SQL engine against PostgreSQL 15.

A throwaway PostgreSQL cluster (pgcluster.py) and a streamlake server both
answer the same generated queries over the same random tables, and the
answers must agree: the same rows (as a list when the query orders every
output column, else as a multiset), in PostgreSQL's text forms, or an error
on both sides.  Floating-point values may differ in their last bits (sums
added in another order by parallel workers): they compare with a relative
tolerance of 1e-9 or an absolute one of 1e-4 (the tables hold 1e10, so a sum
that cancels it keeps an error of that size); everything else compares exactly.

The tables are created on both sides with CREATE TABLE and filled with
INSERT ... VALUES (streamlake stores them as Parquet segments); they hold
NULLs, duplicates and edge values (0, -1, the int4 limits, empty strings,
non-ASCII text).  A second phase runs random UPDATE, DELETE and INSERT ...
SELECT statements on a copy of t1 on both sides, comparing the command tags
and then the whole table after each.

  SL_DIFF_SEED   the seed (default 7)
  SL_DIFF_COUNT  queries to run (default 1500; `make sql-difftest` runs 20000)
  SL_DIFF_SHOW   print every query as it runs

Run with /usr/bin/python3 (psycopg2 from Debian).
"""

import json
import os
import random
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import psycopg2  # noqa: E402
import psycopg2.extensions  # noqa: E402

import sltest  # noqa: E402
from pgcluster import PgCluster  # noqa: E402

# Every value comes back from PostgreSQL as its text form.
for oid in (16, 17, 18, 19, 20, 21, 23, 25, 26, 114, 700, 701, 1042, 1043, 1082, 1083, 1114,
            1184, 1186, 1700, 2950, 3802, 1009, 1007, 1016, 1005, 1021, 1022, 1231):
    psycopg2.extensions.register_type(
        psycopg2.extensions.new_type((oid,), "T%d" % oid, lambda v, c: v))

T1 = [("id", "int4"), ("a", "int4"), ("b", "int8"), ("c", "float8"), ("d", "numeric(12,3)"),
      ("e", "text"), ("f", "bool"), ("g", "timestamp"), ("h", "date")]
T2 = [("id", "int4"), ("a", "int4"), ("e", "text"), ("x", "int8")]


def lit(rng, typ, null_p=0.15):
    if rng.random() < null_p:
        return "NULL::" + typ
    if typ == "int4":
        v = rng.choice([0, 1, -1, 2, 3, 5, 7, 10, 42, 100, -100, 2147483647, -2147483648,
                        rng.randint(-50, 50), rng.randint(-50, 50)])
        return "%d::int4" % v if v >= 0 else "(%d)::int4" % v
    if typ == "int8":
        v = rng.choice([0, 1, -1, 3, 10, 1000, 9000000000, -9000000000, rng.randint(-9, 9),
                        rng.randint(-1000, 1000)])
        return "%d::int8" % v if v >= 0 else "(%d)::int8" % v
    if typ == "float8":
        v = rng.choice(["0", "1.5", "-2.25", "0.1", "1e10", "-3", "100.125", "2.5",
                        str(round(rng.uniform(-100, 100), 3))])
        return "'%s'::float8" % v
    if typ.startswith("numeric"):
        v = rng.choice(["0", "1.5", "-2.25", "0.001", "12345.678", "-3", "100", "7.5",
                        "%.3f" % rng.uniform(-1000, 1000)])
        return "'%s'::%s" % (v, typ)
    if typ == "text":
        v = rng.choice(["", "a", "b", "abc", "ABC", "hello world", "x y", "é", "naïve",
                        "a%b", "under_score", "zz", "Abc", "b", "a"])
        return "'%s'::text" % v.replace("'", "''")
    if typ == "bool":
        return rng.choice(["true", "false"])
    if typ == "timestamp":
        v = rng.choice(["2024-01-01 00:00:00", "2024-01-01 12:30:00", "2023-12-31 23:59:59.5",
                        "2024-02-29 08:00:00", "2024-03-10 01:02:03.25", "2000-01-01 00:00:00"])
        return "'%s'::timestamp" % v
    if typ == "date":
        v = rng.choice(["2024-01-01", "2024-02-29", "2023-12-31", "2000-01-01", "1999-12-31"])
        return "'%s'::date" % v
    raise ValueError(typ)


def table_sql(rng, name, cols, nrows):
    """CREATE TABLE and INSERT statements for one random table."""
    rows = []
    for i in range(nrows):
        vals = []
        for cname, typ in cols:
            if cname == "id":
                vals.append("%d" % (i + 1))
            else:
                vals.append(lit(rng, typ))
        rows.append("(" + ", ".join(vals) + ")")
    # several INSERTs: several segments, so scans and aggregations run on parallel workers
    return ["CREATE TABLE %s (%s)" % (name, ", ".join("%s %s" % c for c in cols))] + \
        ["INSERT INTO %s VALUES %s" % (name, ", ".join(rows[i:i + 12]))
         for i in range(0, len(rows), 12)]


class Gen:
    """Random expressions and queries over t1 and t2."""

    def __init__(self, rng):
        self.r = rng

    def pick(self, xs):
        return self.r.choice(xs)

    # -- expressions, by type; cols: [(sql, type)] available
    def cols_of(self, cols, typ):
        return [c for c, t in cols if t == typ or (typ == "numeric" and t.startswith("numeric"))]

    def int_expr(self, cols, d=0):
        cs = self.cols_of(cols, "int4") + self.cols_of(cols, "int8")
        r = self.r.random()
        if d > 2 or r < 0.35:
            if cs and self.r.random() < 0.8:
                return self.pick(cs)
            return str(self.r.choice([0, 1, 2, 3, -1, 10, 100]))
        k = self.r.randint(0, 10)
        a, b = self.int_expr(cols, d + 1), self.int_expr(cols, d + 1)
        if k == 0:
            return "(%s + %s)" % (a, b)
        if k == 1:
            return "(%s - %s)" % (a, b)
        if k == 2:
            return "(%s * %s)" % (a, self.pick(["2", "3", "-1", "0"]))
        if k == 3:
            return "(%s / %s)" % (a, self.pick(["2", "3", "-7", b]))
        if k == 4:
            return "(%s %% %s)" % (a, self.pick(["2", "3", "5", b]))
        if k == 5:
            return "abs(%s)" % a
        if k == 6:
            return "CASE WHEN %s THEN %s ELSE %s END" % (self.bool_expr(cols, d + 1), a, b)
        if k == 7:
            return "COALESCE(%s, %s)" % (a, b)
        if k == 8:
            tc = self.cols_of(cols, "text")
            return "length(%s)" % (self.pick(tc) if tc else "'abc'")
        if k == 9:
            return "NULLIF(%s, %s)" % (a, self.pick(["0", "1", b]))
        return "greatest(%s, %s)" % (a, b)

    def num_expr(self, cols, d=0):
        cs = self.cols_of(cols, "numeric")
        base = self.pick(cs) if cs else "1.5"
        k = self.r.randint(0, 7)
        if k == 0:
            return base
        if k == 1:
            return "(%s + %s)" % (base, self.int_expr(cols, d + 1))
        if k == 2:
            return "(%s * %s)" % (base, self.pick(["2", "0.5", "-1.25", base]))
        if k == 3:
            return "round(%s, %d)" % (base, self.r.randint(0, 2))
        if k == 4:
            return "(%s / %s)" % (base, self.pick(["3", "7", "2.5", "-4"]))
        if k == 5:
            return "abs(%s)" % base
        if k == 6:
            return "trunc(%s)" % base
        return "(%s - %s)" % (base, self.pick(["1", "0.001", base]))

    def float_expr(self, cols, d=0):
        cs = self.cols_of(cols, "float8")
        base = self.pick(cs) if cs else "2.5::float8"
        k = self.r.randint(0, 5)
        if k == 0:
            return base
        if k == 1:
            return "(%s + %s)" % (base, self.int_expr(cols, d + 1))
        if k == 2:
            return "(%s * 2.5)" % base
        if k == 3:
            return "abs(%s)" % base
        if k == 4:
            return "floor(%s)" % base
        return "(%s / 4)" % base

    def text_expr(self, cols, d=0):
        cs = self.cols_of(cols, "text")
        base = self.pick(cs) if cs else "'abc'"
        k = self.r.randint(0, 10)
        if k <= 2:
            return base
        if k == 3:
            return "upper(%s)" % base
        if k == 4:
            return "lower(%s)" % base
        if k == 5:
            return "(%s || '-' || %s)" % (base, self.int_expr(cols, d + 1))
        if k == 6:
            return "substr(%s, %d, %d)" % (base, self.r.randint(1, 3), self.r.randint(0, 3))
        if k == 7:
            return "trim(%s)" % base
        if k == 8:
            return "replace(%s, 'a', 'X')" % base
        if k == 9:
            return "concat(%s, %s)" % (base, self.int_expr(cols, d + 1))
        return "left(%s, 2)" % base

    def bool_expr(self, cols, d=0):
        r = self.r.randint(0, 13)
        if d > 2:
            r = self.r.randint(0, 3)
        if r == 0:
            return "(%s %s %s)" % (self.int_expr(cols, d + 1), self.pick(["=", "<>", "<", "<=", ">", ">="]),
                                   self.int_expr(cols, d + 1))
        if r == 1:
            return "(%s %s %s)" % (self.text_expr(cols, d + 1), self.pick(["=", "<>", "<", ">="]),
                                   self.pick(["'a'", "'abc'", "''", self.text_expr(cols, d + 1)]))
        if r == 2:
            return "(%s IS %sNULL)" % (self.any_expr(cols, d + 1), self.pick(["", "NOT "]))
        if r == 3:
            bc = self.cols_of(cols, "bool")
            return self.pick(bc) if bc else "true"
        if r == 4:
            return "(%s AND %s)" % (self.bool_expr(cols, d + 1), self.bool_expr(cols, d + 1))
        if r == 5:
            return "(%s OR %s)" % (self.bool_expr(cols, d + 1), self.bool_expr(cols, d + 1))
        if r == 6:
            return "(NOT %s)" % self.bool_expr(cols, d + 1)
        if r == 7:
            return "(%s BETWEEN %s AND %s)" % (self.int_expr(cols, d + 1), self.pick(["-5", "0", "1"]),
                                               self.pick(["5", "10", "100"]))
        if r == 8:
            return "(%s %sIN (%s))" % (self.int_expr(cols, d + 1), self.pick(["", "NOT "]),
                                       ", ".join(self.pick(["0", "1", "2", "3", "NULL", "42", "-1"])
                                                 for _ in range(self.r.randint(1, 4))))
        if r == 9:
            return "(%s %s '%s')" % (self.text_expr(cols, d + 1), self.pick(["LIKE", "NOT LIKE", "ILIKE"]),
                                     self.pick(["a%", "%b%", "_", "%", "A%", "a\\%b", "h_llo%"]))
        if r == 10:
            return "(%s IS %sDISTINCT FROM %s)" % (self.int_expr(cols, d + 1), self.pick(["", "NOT "]),
                                                   self.int_expr(cols, d + 1))
        if r == 11:
            return "(%s %s %s)" % (self.num_expr(cols, d + 1), self.pick(["=", "<", ">="]),
                                   self.pick(["0", "1.5", self.num_expr(cols, d + 1)]))
        if r == 12:
            tc = self.cols_of(cols, "timestamp")
            if tc:
                return "(%s %s '%s')" % (self.pick(tc), self.pick(["<", ">=", "="]),
                                         self.pick(["2024-01-01", "2024-01-01 12:30:00", "2024-02-29"]))
        return "(%s > %s)" % (self.float_expr(cols, d + 1), self.pick(["0", "1.5", "-2"]))

    def any_expr(self, cols, d=0):
        k = self.r.randint(0, 5)
        return [self.int_expr, self.text_expr, self.num_expr, self.float_expr, self.bool_expr,
                self.int_expr][k](cols, d)

    def typed_expr(self, cols):
        k = self.r.randint(0, 5)
        if k <= 1:
            return self.int_expr(cols), "int"
        if k == 2:
            return self.text_expr(cols), "text"
        if k == 3:
            return self.num_expr(cols), "numeric"
        if k == 4:
            return self.float_expr(cols), "float"
        return self.bool_expr(cols), "bool"

    # -- queries
    def t1_cols(self, alias="t1"):
        return [("%s.%s" % (alias, c), t) for c, t in T1]

    def t2_cols(self, alias="t2"):
        return [("%s.%s" % (alias, c), t) for c, t in T2]

    def select_list(self, cols, n=None):
        n = n or self.r.randint(1, 4)
        out = []
        for i in range(n):
            e, t = self.typed_expr(cols)
            out.append(("%s AS c%d" % (e, i), t))
        return out

    def order_all(self, n):
        return " ORDER BY " + ", ".join(str(i + 1) + self.pick(["", " DESC", " NULLS FIRST", " DESC NULLS LAST"])
                                        for i in range(n))

    def q_simple(self):
        cols = self.t1_cols()
        sl = self.select_list(cols)
        q = "SELECT %s%s FROM t1" % (self.pick(["", "", "DISTINCT "]), ", ".join(s for s, _ in sl))
        if self.r.random() < 0.7:
            q += " WHERE " + self.bool_expr(cols)
        ordered = self.r.random() < 0.5
        if ordered:
            q += self.order_all(len(sl))
            if self.r.random() < 0.6:
                q += " LIMIT %d" % self.r.randint(0, 8)
                if self.r.random() < 0.3:
                    q += " OFFSET %d" % self.r.randint(0, 5)
        return q, ordered, [t for _, t in sl]

    def agg(self, cols):
        k = self.r.randint(0, 16)
        ie = self.int_expr(cols)
        if k == 0:
            return "count(*)", "int"
        if k == 1:
            return "count(%s)" % self.any_expr(cols), "int"
        if k == 2:
            return "count(DISTINCT %s)" % ie, "int"
        if k == 3:
            return "sum(%s)" % ie, "int"
        if k == 4:
            return "sum(%s)" % self.num_expr(cols), "numeric"
        if k == 5:
            return "avg(%s)" % ie, "numeric"
        if k == 6:
            return "min(%s)" % self.text_expr(cols), "text"
        if k == 7:
            return "max(%s)" % ie, "int"
        if k == 8:
            return "bool_and(%s)" % self.bool_expr(cols), "bool"
        if k == 9:
            return "bool_or(%s)" % self.bool_expr(cols), "bool"
        if k == 10:  # ORDER BY inside the call, with DISTINCT or FILTER now and then
            t = self.text_expr(cols)
            form = self.r.randint(0, 3)
            if form == 1:
                return "string_agg(DISTINCT %s, ',' ORDER BY %s)" % (t, t), "text"
            if form == 2:
                return "string_agg(%s, ',' ORDER BY %s) FILTER (WHERE %s)" % (
                    t, t, self.bool_expr(cols)), "text"
            return "string_agg(%s, ',' ORDER BY %s)" % (t, t), "text"
        if k == 11:
            return "sum(%s)" % self.float_expr(cols), "float"
        if k == 12:
            return "avg(%s)" % self.num_expr(cols), "numeric"
        if k == 13:
            return "count(*) FILTER (WHERE %s)" % self.bool_expr(cols), "int"
        if k == 14:
            return "max(%s)" % self.num_expr(cols), "numeric"
        if k == 15:
            return "stddev_samp(%s)" % ie, "numeric~"
        return "min(%s)" % self.pick([c for c, t in cols if t in ("timestamp", "date")] or ["1"]), "text"

    def q_group(self):
        cols = self.t1_cols()
        nk = self.r.randint(0, 2)
        keys = []
        for i in range(nk):
            e, t = self.pick([(self.text_expr(cols), "text"), (self.int_expr(cols), "int"),
                              (self.pick(["t1.f", "t1.h", "t1.e", "t1.a"]), "any")])
            keys.append((e, t))
        aggs = [self.agg(cols) for _ in range(self.r.randint(1, 3))]
        sel = ["%s AS k%d" % (e, i) for i, (e, _) in enumerate(keys)] + \
              ["%s AS a%d" % (e, i) for i, (e, _) in enumerate(aggs)]
        q = "SELECT %s FROM t1" % ", ".join(sel)
        if self.r.random() < 0.5:
            q += " WHERE " + self.bool_expr(cols)
        if keys:
            q += " GROUP BY " + ", ".join(str(i + 1) for i in range(len(keys)))
            if self.r.random() < 0.3:
                q += " HAVING count(*) > %d" % self.r.randint(0, 3)
        ordered = self.r.random() < 0.4
        if ordered:
            q += self.order_all(len(sel))
            if self.r.random() < 0.5:
                q += " LIMIT %d" % self.r.randint(1, 5)
        return q, ordered, [t for _, t in keys] + [t for _, t in aggs]

    def q_join(self):
        jt = self.pick(["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN", "JOIN", "LEFT JOIN"])
        cols = self.t1_cols() + self.t2_cols()
        on = self.pick(["t1.a = t2.a", "t1.e = t2.e", "t1.a = t2.a AND t1.e = t2.e",
                        "t1.b = t2.x", "t1.a = t2.a AND %s" % self.bool_expr(cols),
                        "t1.a < t2.a AND t1.e = t2.e", "t1.a > t2.x"])
        if jt == "FULL JOIN" and ("<" in on or ">" in on or "AND" in on and "=" not in on.split("AND")[1]):
            on = "t1.a = t2.a"
        sl = self.select_list(cols)
        if self.r.random() < 0.4:
            sl = [("t1.id AS c0", "int"), ("t2.id AS c1", "int")]
        q = "SELECT %s FROM t1 %s t2 ON %s" % (", ".join(s for s, _ in sl), jt, on)
        if self.r.random() < 0.4:
            q += " WHERE " + self.bool_expr(cols)
        ordered = self.r.random() < 0.3
        if ordered:
            q += self.order_all(len(sl))
            if self.r.random() < 0.5:
                q += " LIMIT %d" % self.r.randint(1, 6)
        return q, ordered, [t for _, t in sl]

    def q_sub(self):
        cols = self.t1_cols()
        k = self.r.randint(0, 5)
        if k == 0:
            w = "t1.a %sIN (SELECT t2.a FROM t2 WHERE %s)" % (
                self.pick(["", "NOT "]), self.bool_expr(self.t2_cols()))
        elif k == 1:
            w = "%sEXISTS (SELECT 1 FROM t2 WHERE t2.a = t1.a AND %s)" % (
                self.pick(["", "NOT "]), self.bool_expr(self.t2_cols()))
        elif k == 2:
            w = "t1.b > (SELECT min(t2.x) FROM t2)"
        elif k == 3:
            w = "t1.e IN (SELECT t2.e FROM t2)"
        elif k == 4:
            w = "t1.a = ANY (SELECT t2.a FROM t2 WHERE t2.x > 0)"
        else:
            w = "t1.a >= ALL (SELECT t2.a FROM t2 WHERE t2.a IS NOT NULL AND t2.e = t1.e)"
        sl = self.select_list(cols, 2)
        x = self.r.random()
        if x < 0.2:
            sl.append(("(SELECT count(*) FROM t2 WHERE t2.e = t1.e) AS s", "int"))
        elif x < 0.3:
            # ARRAY(subquery), correlated; as text: an int4[] or text[] reads the same
            sl.append(("ARRAY(SELECT t2.%s FROM t2 WHERE t2.a = t1.a ORDER BY t2.id)::text AS s"
                       % ("e" if x < 0.25 else "x"), "text"))
        q = "SELECT %s FROM t1 WHERE %s" % (", ".join(s for s, _ in sl), w)
        return q, False, [t for _, t in sl]

    def q_window(self):
        cols = self.t1_cols()
        part = self.pick(["", "PARTITION BY t1.e ", "PARTITION BY t1.f ", "PARTITION BY t1.a % 3 "])
        order = self.pick(["ORDER BY t1.id", "ORDER BY t1.a, t1.id", "ORDER BY t1.e DESC, t1.id"])
        fn = self.pick(["row_number()", "rank()", "dense_rank()", "lag(t1.a)", "lead(t1.e, 2)",
                        "first_value(t1.b)", "sum(t1.a)", "count(*)", "max(t1.d)", "ntile(3)",
                        "last_value(t1.a)", "avg(t1.a)"])
        frame = ""
        if fn.startswith(("sum", "count", "max", "avg")) and self.r.random() < 0.5:
            frame = self.pick([" ROWS BETWEEN 1 PRECEDING AND CURRENT ROW",
                               " ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING",
                               " ROWS BETWEEN CURRENT ROW AND 2 FOLLOWING"])
        if fn.startswith("last_value") and self.r.random() < 0.5:
            frame = " ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING"
        q = "SELECT t1.id, %s OVER (%s%s%s) AS w FROM t1" % (fn, part, order, frame)
        if self.r.random() < 0.3:
            q += " WHERE " + self.bool_expr(cols)
        return q, False, ["int", "any"]

    def q_setop(self):
        op = self.pick(["UNION", "UNION ALL", "INTERSECT", "EXCEPT", "INTERSECT ALL", "EXCEPT ALL"])
        a = "SELECT t1.a, t1.e FROM t1 WHERE %s" % self.bool_expr(self.t1_cols())
        b = "SELECT t2.a, t2.e FROM t2 WHERE %s" % self.bool_expr(self.t2_cols())
        return "%s %s %s" % (a, op, b), False, ["int", "text"]

    def q_cte(self):
        q, _, types = self.q_group()
        return "SELECT * FROM (%s) s" % q, False, types

    def query(self):
        k = self.r.random()
        if k < 0.3:
            return self.q_simple()
        if k < 0.55:
            return self.q_group()
        if k < 0.7:
            return self.q_join()
        if k < 0.8:
            return self.q_sub()
        if k < 0.9:
            return self.q_window()
        if k < 0.96:
            return self.q_setop()
        return self.q_cte()


def norm_ours(v):
    if v is None:
        return None
    if v is True:
        return "t"
    if v is False:
        return "f"
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(", ", ": "))
    return v


def close_enough(a, b):
    if a == b:
        return True
    if a is None or b is None:
        return False
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    # relative 1e-9, or absolute 1e-4: sums of floats up to 1e10 added in another order
    # (parallel partial sums) can lose a few units in the last place of the largest terms
    return abs(x - y) <= max(1e-9 * max(abs(x), abs(y)), 1e-4)


def rows_agree(pg, ours, ordered, loose):
    if len(pg) != len(ours):
        return False
    if not ordered:
        key = lambda r: tuple("" if v is None else v for v in r)  # noqa: E731
        pg = sorted(pg, key=key)
        ours = sorted(ours, key=key)
    for r1, r2 in zip(pg, ours):
        if len(r1) != len(r2):
            return False
        for i, (a, b) in enumerate(zip(r1, r2)):
            if a == b:
                continue
            if not (loose[i] if i < len(loose) else True) or not close_enough(a, b):
                return False
    return True


def loose_sorted_agree(pg, ours, loose):
    """Unordered results with inexact floats: match rows greedily."""
    if len(pg) != len(ours):
        return False
    left = list(ours)
    for r in pg:
        for j, s in enumerate(left):
            if len(r) == len(s) and all(a == b or (loose[i] and close_enough(a, b))
                                        for i, (a, b) in enumerate(zip(r, s))):
                del left[j]
                break
        else:
            return False
    return True


class Ours:
    def __init__(self, server):
        self.server = server

    def run(self, sql, tag=False):
        body = json.dumps({"sql": sql}).encode()
        st, _, data = self.server.post("/api/query?format=json", body)
        lines = data.decode("utf-8", "replace").splitlines()
        if st != 200:
            err = json.loads(lines[0])["error"] if lines else {"sqlstate": "?", "message": str(st)}
            return None, err
        rows = []
        err = None
        end_tag = None
        for ln in lines:
            v = json.loads(ln, parse_float=str, parse_int=str)
            if isinstance(v, list):
                rows.append([norm_ours(x) for x in v])
            elif "error" in v:
                err = v["error"]
            elif "end" in v:
                end_tag = v["end"]["tag"]
        if tag:
            return (None, err) if err else (end_tag, None)
        return (None, err) if err else (rows, None)


DML_TABLE = "t3"


def dml(gen):
    cols = [(c, t) for c, t in gen.t1_cols(DML_TABLE)]
    k = gen.r.randint(0, 4)
    if k <= 1:
        sets = []
        for c, t in gen.r.sample(T1[1:], gen.r.randint(1, 3)):
            e = {"int4": gen.int_expr, "int8": gen.int_expr, "text": gen.text_expr,
                 "numeric(12,3)": gen.num_expr, "float8": gen.float_expr,
                 "bool": gen.bool_expr}.get(t)
            if e:
                sets.append("%s = %s" % (c, e(cols)))
        if not sets:
            sets = ["a = a + 1"]
        return "UPDATE %s SET %s WHERE %s" % (DML_TABLE, ", ".join(sets), gen.bool_expr(cols))
    if k == 2:
        return "DELETE FROM %s WHERE %s" % (DML_TABLE, gen.bool_expr(cols))
    if k == 3:
        return "INSERT INTO %s (id, a, e) SELECT id + 100, a, e FROM t1 WHERE %s" % (
            DML_TABLE, gen.bool_expr(gen.t1_cols()))
    return "INSERT INTO %s (id, b, f) VALUES (%d, %s, %s)" % (
        DML_TABLE, gen.r.randint(200, 300), lit(gen.r, "int8"), lit(gen.r, "bool"))


def main():
    seed = int(os.environ.get("SL_DIFF_SEED", "7"))
    count = int(os.environ.get("SL_DIFF_COUNT", "1500"))
    show = bool(os.environ.get("SL_DIFF_SHOW"))
    rng = random.Random(seed)
    setup = table_sql(rng, "t1", T1, 40) + table_sql(rng, "t2", T2, 25) + \
        ["CREATE TABLE t3 AS SELECT * FROM t1"]
    dml_count = int(os.environ.get("SL_DIFF_DML", str(max(count // 10, 20))))
    pg = PgCluster()
    srv = sltest.Server()
    failures = []
    agreed_errors = 0
    order_diffs = 0
    try:
        ours = Ours(srv)
        conn = psycopg2.connect(pg.dsn())
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute("SET extra_float_digits = 1")
        for st in setup:
            cur.execute(st)
            _, err = ours.run(st, tag=True)
            if err:
                raise RuntimeError("setup failed on streamlake: %s: %s" % (st[:200], err))
        gen = Gen(rng)
        for n in range(count):
            q, ordered, types = gen.query()
            sql = q
            if show:
                print(n, q, flush=True)
            try:
                cur.execute(sql)
                pg_rows = [list(r) for r in cur.fetchall()]
                pg_err = None
            except psycopg2.Error as e:
                pg_rows, pg_err = None, e.pgcode
            try:
                our_rows, our_err = ours.run(sql)
            except Exception as e:  # the server failed: that query is the finding
                failures.append((q, "PostgreSQL: %s" % (pg_err or "%d rows" % len(pg_rows)),
                                 "streamlake: no answer (%s)" % e))
                if srv.proc.poll() is not None:
                    print("the server died; its log:\n" + srv.log_text()[-3000:])
                    break
                continue
            if pg_err or our_err:
                if pg_err and our_err:
                    agreed_errors += 1
                    continue
                # SQL leaves the evaluation order to the implementation: PostgreSQL may
                # never compute a value that fails (a LIMIT stops its sorted aggregate
                # early, a join filter runs only on matched pairs) where we do, or the
                # other way round.  A data exception (class 22) on one side only is
                # such a difference; anything else is a disagreement.
                one = our_err["sqlstate"] if our_err else pg_err
                if one and one.startswith("22"):
                    order_diffs += 1
                    continue
                failures.append((q, "PostgreSQL: %s" % (pg_err or "%d rows" % len(pg_rows)),
                                 "streamlake: %s" % (our_err if our_err else "%d rows" % len(our_rows))))
                continue
            loose = [t in ("float", "any", "numeric~") for t in types] + [True] * 8
            ok = rows_agree(pg_rows, our_rows, ordered, loose) or \
                (not ordered and loose_sorted_agree(pg_rows, our_rows, loose))
            if not ok:
                failures.append((q, "PostgreSQL: %r" % pg_rows[:6], "streamlake: %r" % our_rows[:6]))
        # DML: the statement's tag, then the whole table, must agree
        for n in range(dml_count):
            st = dml(gen)
            if show:
                print("dml", n, st, flush=True)
            try:
                cur.execute(st)
                pg_tag, pg_err = cur.statusmessage, None
            except psycopg2.Error as e:
                pg_tag, pg_err = None, e.pgcode
            try:
                our_tag, our_err = ours.run(st, tag=True)
            except Exception as e:
                failures.append((st, "PostgreSQL: %s" % (pg_err or pg_tag), "streamlake: no answer (%s)" % e))
                break
            if pg_err or our_err:
                one = our_err["sqlstate"] if our_err else pg_err
                if not (pg_err and our_err) and not (one and one.startswith("22")):
                    failures.append((st, "PostgreSQL: %s" % (pg_err or pg_tag),
                                     "streamlake: %s" % (our_err or our_tag)))
                if bool(pg_err) != bool(our_err):
                    break  # the tables differ from here on
                continue
            if pg_tag != our_tag:
                failures.append((st, "PostgreSQL: %s" % pg_tag, "streamlake: %s" % our_tag))
            check = "SELECT * FROM %s" % DML_TABLE
            cur.execute(check)
            pg_rows = [list(r) for r in cur.fetchall()]
            our_rows, our_err = ours.run(check)
            if our_err or not (rows_agree(pg_rows, our_rows, False, [True] * 9) or
                               loose_sorted_agree(pg_rows, our_rows, [True] * 9)):
                failures.append((st + " -- then " + check, "PostgreSQL: %r" % pg_rows[:4],
                                 "streamlake: %r" % (our_err or our_rows[:4])))
                break
        conn.close()
    finally:
        code = srv.stop()
        log = srv.log_text()
        srv.cleanup()
        pg.stop()
    if code != 0:
        # under the sanitizers a leak or an error makes the exit code non-zero
        failures.append(("(server exit)", "exit code %r" % code, log[-4000:]))
    print("difftest: seed %d, %d queries and %d DML statements, %d errors on both sides, %d data "
          "exceptions on one side only (evaluation order), %d disagreements"
          % (seed, count, dml_count, agreed_errors, order_diffs, len(failures)))
    for q, a, b in failures[:40]:
        print("---\n" + q + "\n  " + a + "\n  " + b)
    if failures:
        print("the tables: " + "; ".join(setup)[:4000])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
