#!/usr/bin/python3
"""Writes the seed corpus of the SQL fuzz target (tests/fuzz/corpus/sql).

Queries from the differential test's generator over small tables given as a
WITH clause (the fuzz engine has no stored tables), and statements that reach
the other parts of the engine: settings, EXPLAIN, prepared statements,
recursive CTEs, window frames, set operations, casts, time and jsonb
functions.  Run by hand when the generator or the engine grows:

  /usr/bin/python3 tests/fuzz/gen_sql_corpus.py
"""
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "sql"))
import difftest  # noqa: E402

OUT = os.path.join(HERE, "corpus", "sql")

WITH = ("WITH t1(id, a, b, c, d, e, f, g, h) AS (VALUES "
        "(1, 1::int4, 10::int8, 1.5::float8, 2.25::numeric(12,3), 'a'::text, true, "
        "'2024-01-01 00:00:00'::timestamp, '2024-01-01'::date), "
        "(2, NULL, -3, NULL, -1.5, '', false, NULL, NULL), "
        "(3, 2147483647, 9000000000, 1e10, 12345.678, 'héllo', NULL, "
        "'2024-02-29 12:30:00', '2024-02-29'), "
        "(4, -5, 0, -2.5, 0, 'b', true, '2000-01-01 00:00:00', '1999-12-31')), "
        "t2(id, a, e, x) AS (VALUES (1, 1, 'a', 5::int8), (2, NULL, 'b', NULL), "
        "(3, -5, 'zz', -1)) ")

EXTRA = [
    "SELECT 1; SELECT 'x' || 2; SELECT NULL::int + 1",
    "SET work_mem = '32MB'; SHOW work_mem; RESET work_mem; SHOW ALL",
    "EXPLAIN SELECT count(*) FROM generate_series(1, 100) g WHERE g % 3 = 0",
    "EXPLAIN ANALYZE SELECT g % 10, count(*) FROM generate_series(1, 10000) g GROUP BY 1",
    "PREPARE p (int) AS SELECT $1 + 1; EXECUTE p(41); DEALLOCATE p",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 50) "
    "SELECT sum(n) FROM r",
    "SELECT g, sum(g) OVER (ORDER BY g ROWS BETWEEN 2 PRECEDING AND CURRENT ROW), "
    "lag(g, 2) OVER w, ntile(3) OVER w FROM generate_series(1, 20) g WINDOW w AS (ORDER BY g)",
    "SELECT x FROM unnest(ARRAY['a', 'b', NULL]) x UNION SELECT 'c' INTERSECT SELECT 'c'",
    "SELECT '2024-03-10 01:02:03.25'::timestamptz + interval '1 month 2 days 3 hours', "
    "date_trunc('hour', '2024-03-10 01:02:03'::timestamp), extract(epoch FROM "
    "'2024-01-01'::timestamptz), date_bin('15 minutes', '2024-01-01 00:20'::timestamp, "
    "'2024-01-01'::timestamp), to_timestamp(1700000000)",
    "SELECT '{\"a\": [1, 2, {\"b\": null}]}'::jsonb -> 'a' -> 2 ->> 'b', "
    "'{\"k\": 1}'::jsonb ? 'k', jsonb_typeof('[1]'::jsonb), jsonb_array_length('[1,2]')",
    "SELECT CAST('12.5' AS numeric(4,1)) * 3, 7 / 2, 7 % -3, -7 / 2.0, 2 ^ 10, "
    "round(2.5), round(-2.5::numeric), trunc(-1.99), abs(-2147483647)",
    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY g), percentile_disc(0.9) WITHIN GROUP "
    "(ORDER BY g), approx_percentile(g, 0.99), string_agg(g::text, ',' ORDER BY g DESC) "
    "FROM generate_series(1, 100) g",
    "SELECT count(DISTINCT g % 7), count(*) FILTER (WHERE g > 50), bool_and(g > 0), "
    "array_agg(g ORDER BY g) FROM generate_series(1, 100) g",
    "SELECT * FROM generate_series('2024-01-01'::timestamptz, '2024-01-02', '6 hours') t",
    "SELECT lower(e), upper(e), length(e), substr(e, 2), replace(e, 'a', 'b'), "
    "split_part('a,b,c', ',', 2), lpad('7', 3, '0'), e LIKE 'a%', e ILIKE 'A_' FROM "
    "(VALUES ('abc'), ('ABD'), (NULL)) v(e)",
    "SELECT CASE WHEN g % 2 = 0 THEN 'even' ELSE 'odd' END, COALESCE(NULLIF(g, 3), -1), "
    "greatest(g, 5), least(g, 5) FROM generate_series(1, 6) g ORDER BY g DESC LIMIT 3 OFFSET 1",
    "SELECT 1 / 0",
    "SELECT nosuch FROM nowhere",
    "SELECT * FROM read_csv('/etc/passwd')",
    "BEGIN; SELECT 1; COMMIT",
    "SELECT (SELECT max(g) FROM generate_series(1, 5) g WHERE g < o.g) FROM "
    "generate_series(1, 5) o(g) WHERE EXISTS (SELECT 1 FROM generate_series(1, 3) i(g) "
    "WHERE i.g = o.g)",
]


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = random.Random(99)
    gen = difftest.Gen(rng)
    n = 0
    for _ in range(60):
        q, _, _ = gen.query()
        with open(os.path.join(OUT, "gen-%03d.sql" % n), "w") as f:
            f.write(WITH + q)
        n += 1
    for i, q in enumerate(EXTRA):
        with open(os.path.join(OUT, "hand-%03d.sql" % i), "w") as f:
            f.write(q)
    print("wrote %d files to %s" % (n + len(EXTRA), OUT))


if __name__ == "__main__":
    main()
