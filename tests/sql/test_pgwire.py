#!/usr/bin/python3
"""The PostgreSQL wire protocol with real clients against a real `streamlake serve`.

  * psql (Debian's postgresql-client) runs a script: queries, several statements in
    one string, \\x, an error with its caret; its output is compared to the text
    expected.
  * psycopg2: every type the engine has comes back as the Python value PostgreSQL's
    would give; parameters; a server-side error leaves the connection usable;
    transactions report their status; a long query is cancelled (57014).
  * The same query gives the same rows through pgwire, HTTP and the CLI.
  * Bad input: a malformed or oversized message gets an ErrorResponse (08P01) and
    the connection closes; the extended protocol (not yet) answers 0A000 and the
    connection goes on after Sync; past --pg-max-connections: 53300.
  * Load: 100 connections at once for seconds, every answer checked, the 101st
    refused with 53300, peak memory bounded.
  * The server answers after all of it and (under the sanitizers) exits clean.
"""

import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import sltest  # noqa: E402

import psycopg2  # noqa: E402
import psycopg2.errors  # noqa: E402


class Pg:
    srv = None


def setUpModule():
    Pg.srv = sltest.Server(args=["--pg-max-connections", "8"])


def tearDownModule():
    code = Pg.srv.stop()
    log = Pg.srv.log_text()
    Pg.srv.cleanup()
    assert code == 0, "server exit %r:\n%s" % (code, log[-4000:])


def connect(**kw):
    c = psycopg2.connect(host="127.0.0.1", port=Pg.srv.pg_port, user="tester", dbname="lake",
                         connect_timeout=10, **kw)
    return c


def psql(script, *extra):
    return subprocess.run(["psql", "-X", "-h", "127.0.0.1", "-p", str(Pg.srv.pg_port), "-U",
                           "tester", "-d", "lake", "-v", "ON_ERROR_STOP=0", *extra],
                          input=script, capture_output=True, text=True, timeout=120)


def raw(first=None):
    """A raw socket past the startup (or, with first, sending those bytes first)."""
    s = socket.create_connection(("127.0.0.1", Pg.srv.pg_port), timeout=10)
    if first is not None:
        s.sendall(first)
        return s
    params = b"user\x00tester\x00database\x00lake\x00\x00"
    s.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
    read_until(s, b"Z")
    return s


def read_msgs(s, stop=b"Z"):
    """Backend messages as (type, body) until one of type `stop` (or the end)."""
    out, buf = [], b""
    while True:
        while len(buf) >= 5:
            t, n = buf[:1], struct.unpack("!i", buf[1:5])[0]
            if len(buf) < 1 + n:
                break
            out.append((t, buf[5:1 + n]))
            buf = buf[1 + n:]
            if t == stop:
                return out
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            chunk = b""
        if not chunk:
            return out
        buf += chunk


def msg(t, body):
    return t + struct.pack("!i", 4 + len(body)) + body


def read_until(s, t):
    return read_msgs(s, t)


def error_fields(body):
    f = {}
    for part in body.split(b"\x00"):
        if part:
            f[chr(part[0])] = part[1:].decode()
    return f


class Clients(unittest.TestCase):
    def test_psql_script(self):
        out = psql("SELECT 1 AS one, 'x' AS two;\n"
                   "SELECT 2 AS a; SELECT 3 AS b;\n"
                   "\\x on\n"
                   "SELECT 4 AS four, NULL::text AS nothing;\n"
                   "\\x off\n"
                   "SELECT nme FROM (SELECT 1 AS name) s;\n"
                   "SELECT 'still here' AS after;\n")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(" one | two \n-----+-----\n   1 | x\n(1 row)", out.stdout)
        self.assertIn(" a \n---\n 2\n(1 row)", out.stdout)
        self.assertIn(" b \n---\n 3\n(1 row)", out.stdout)
        self.assertIn("-[ RECORD 1 ]\nfour    | 4\nnothing | \n", out.stdout)
        self.assertIn('ERROR:  column "nme" does not exist', out.stderr)
        self.assertIn("LINE 1: SELECT nme FROM (SELECT 1 AS name) s;\n               ^",
                      out.stderr)
        self.assertIn("still here", out.stdout)

    def test_psql_lists_tables(self):
        out = psql("\\dt\n\\dv\n\\dn\n\\l\n\\df\n")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stderr, "")
        for t in ("log_entries", "measures", "processes", "streams", "blocks"):
            self.assertRegex(out.stdout, r"\n public \| %s +\| table \| streamlake\n" % t)
        self.assertRegex(out.stdout, r"\n public \| log_stats \| view \| streamlake\n")
        self.assertRegex(out.stdout, r"\n public \| streamlake\n")
        self.assertRegex(out.stdout, r"\n lake +\| streamlake \| UTF8 ")
        self.assertIn("List of functions", out.stdout)

    def test_sqlalchemy_and_pandas(self):
        import pandas as pd
        import sqlalchemy as sa
        eng = sa.create_engine("postgresql+psycopg2://tester@127.0.0.1:%d/lake" % Pg.srv.pg_port)
        with eng.connect() as c:
            df = pd.read_sql(sa.text("SELECT g, g * 0.5 AS h, 'r' || g AS s FROM "
                                     "generate_series(1, 100) g ORDER BY g"), c)
            self.assertEqual(list(df.columns), ["g", "h", "s"])
            self.assertEqual(len(df), 100)
            self.assertEqual(df["g"].sum(), 5050)
            self.assertEqual(df["s"].iloc[-1], "r100")
            self.assertIn("log_entries", sa.inspect(c).get_table_names())
        eng.dispose()

    def test_psycopg2_types_params_errors(self):
        c = connect()
        c.autocommit = True
        cur = c.cursor()
        cur.execute("SELECT %s::int + 1, %s::text, %s::float8, %s::bool, %s::date, %s::int8",
                    (41, "héllo ✓", 1.5, True, "2024-02-29", 2**40))
        self.assertEqual(cur.fetchone(), (42, "héllo ✓", 1.5, True,
                                          __import__("datetime").date(2024, 2, 29), 2**40))
        cur.execute("SELECT '2024-01-02 03:04:05.123456+00'::timestamptz AS tz, "
                    "'2024-01-02 03:04:05'::timestamp AS ts, interval '1 day 2 hours' AS iv, "
                    "'\\x0102ff'::bytea AS by, 12.50::numeric(6,2) AS nu, '{a,b}'::text[] AS ar, "
                    "'{\"k\": [1, null]}'::jsonb AS js, "
                    "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS id, 7::int2 AS sm, "
                    "2.5::float4 AS f4")
        import datetime
        import decimal
        row = cur.fetchone()
        self.assertEqual(row[0], datetime.datetime(2024, 1, 2, 3, 4, 5, 123456,
                                                   tzinfo=datetime.timezone.utc))
        self.assertEqual(row[1], datetime.datetime(2024, 1, 2, 3, 4, 5))
        self.assertEqual(row[2], datetime.timedelta(days=1, hours=2))
        self.assertEqual(bytes(row[3]), b"\x01\x02\xff")
        self.assertEqual(row[4], decimal.Decimal("12.50"))
        self.assertEqual(row[5], ["a", "b"])
        self.assertEqual(row[6], {"k": [1, None]})
        self.assertEqual(row[7], "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
        self.assertEqual(row[8:], (7, 2.5))
        # the type OIDs PostgreSQL gives
        self.assertEqual([d.type_code for d in cur.description],
                         [1184, 1114, 1186, 17, 1700, 1009, 3802, 2950, 21, 700])
        # an error, then the connection goes on
        with self.assertRaises(psycopg2.errors.DivisionByZero):
            cur.execute("SELECT 1 / 0")
        cur.execute("SELECT 'ok'")
        self.assertEqual(cur.fetchone(), ("ok",))
        # commands and their tags
        cur.execute("CREATE TABLE pg_t (a int, b text)")
        cur.execute("INSERT INTO pg_t VALUES (1, 'x'), (2, NULL), (3, 'it''s')")
        self.assertEqual((cur.rowcount, cur.statusmessage), (3, "INSERT 0 3"))
        cur.execute("SELECT * FROM pg_t WHERE a >= %s ORDER BY a", (2,))
        self.assertEqual(cur.fetchall(), [(2, None), (3, "it's")])
        c.close()

    def test_regex_operators_and_client_functions(self):
        c = connect()
        c.autocommit = True
        cur = c.cursor()
        cur.execute("SELECT 'pg_toast_1' ~ '^pg_toast', 'log_entries' ~ '^(log_entries)$', "
                    "'LOG' ~* '^log', 'abc' !~ 'b', 'ABC' !~* 'x', NULL::text ~ 'a', "
                    "version() LIKE 'PostgreSQL 15%', current_database(), current_schema(), "
                    "format_type(1184, -1), pg_table_is_visible(16384)")
        self.assertEqual(cur.fetchone(), (True, True, True, False, True, None, True, "lake",
                                          "public", "timestamp with time zone", True))
        with self.assertRaises(psycopg2.errors.InvalidRegularExpression):
            cur.execute("SELECT 'a' ~ '('")
        cur.execute("SELECT t.typname FROM pg_type t JOIN pg_namespace n ON t.typnamespace = "
                    "n.oid WHERE n.nspname = 'pg_catalog' AND t.oid IN (23, 1009, 3802) "
                    "ORDER BY t.oid")
        self.assertEqual(cur.fetchall(), [("int4",), ("_text",), ("jsonb",)])
        cur.execute("SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                    "JOIN pg_class c ON a.attrelid = c.oid WHERE c.relname = 'log_entries' "
                    "AND a.attname IN ('time', 'level') ORDER BY a.attnum")
        self.assertEqual(cur.fetchall(), [("time", "timestamp with time zone"),
                                          ("level", "integer")])
        c.close()

    def sample_table(self, name, rows=""):
        """A user table of several types (and, given as VALUES text, rows)."""
        c = connect()
        c.autocommit = True
        c.cursor().execute("DROP TABLE IF EXISTS %s; CREATE TABLE %s (id bigint, name varchar(20), "
                           "price numeric(10,2), tags text[], at timestamptz, ok boolean)%s"
                           % (name, name, "; INSERT INTO %s VALUES %s" % (name, rows) if rows else ""))
        c.close()

    def test_psql_describes_tables_and_roles(self):
        # psql's \d asks pg_catalog with ARRAY(subquery), unnest() of a column of an
        # enclosing query, int2[] subscripts (the publications of the table) and more
        self.sample_table("described")
        out = psql("\\d processes\n\\d described\n\\d+ described\n\\du\n\\d thread_spans\n")
        self.assertEqual(out.returncode, 0, out.stderr)
        # PostgreSQL 15 prints the same for the same table (tables have no indexes,
        # constraints, rules, triggers or publications: those sections are absent)
        self.assertIn(
            '                           Table "public.processes"\n'
            "      Column       |           Type           | Collation | Nullable | Default \n"
            "-------------------+--------------------------+-----------+----------+---------\n"
            " process_id        | uuid                     |           |          | \n"
            " exe               | text                     |           |          | \n"
            " username          | text                     |           |          | \n"
            " realname          | text                     |           |          | \n"
            " computer          | text                     |           |          | \n"
            " distro            | text                     |           |          | \n"
            " cpu_brand         | text                     |           |          | \n"
            " tsc_frequency     | bigint                   |           |          | \n"
            " start_time        | timestamp with time zone |           |          | \n"
            " start_ticks       | bigint                   |           |          | \n"
            " parent_process_id | uuid                     |           |          | \n"
            " properties        | jsonb                    |           |          | \n"
            " insert_time       | timestamp with time zone |           |          | \n\n", out.stdout)
        self.assertIn(
            '                      Table "public.described"\n'
            " Column |           Type           | Collation | Nullable | Default \n"
            "--------+--------------------------+-----------+----------+---------\n"
            " id     | bigint                   |           |          | \n"
            " name   | character varying(20)    |           |          | \n"
            " price  | numeric(10,2)            |           |          | \n"
            " tags   | text[]                   |           |          | \n"
            " at     | timestamp with time zone |           |          | \n"
            " ok     | boolean                  |           |          | \n\n", out.stdout)
        self.assertIn(
            " Column |           Type           | Collation | Nullable | Default | Storage  | "
            "Compression | Stats target | Description \n"
            "--------+--------------------------+-----------+----------+---------+----------+"
            "-------------+--------------+-------------\n"
            " id     | bigint                   |           |          |         | plain    | "
            "            |              | \n"
            " name   | character varying(20)    |           |          |         | extended | "
            "            |              | \n"
            " price  | numeric(10,2)            |           |          |         | main     | "
            "            |              | \n", out.stdout)
        self.assertIn("Access method: heap\n", out.stdout)
        self.assertIn(
            "                             List of roles\n"
            " Role name  |                  Attributes                   | Member of \n"
            "------------+-----------------------------------------------+-----------\n"
            " streamlake | Superuser, Create role, Create DB, Bypass RLS | {}\n", out.stdout)
        # thread_spans is a view of one stream (view_instance), not a relation
        self.assertEqual(out.stderr, 'Did not find any relation named "thread_spans".\n')

    def test_array_subquery_and_set_returning_functions(self):
        c = connect()
        c.autocommit = True
        cur = c.cursor()
        cur.execute("SELECT ARRAY(SELECT g FROM generate_series(1, 4) g WHERE g <> 2 ORDER BY g "
                    "DESC), ARRAY(SELECT 'x' WHERE false), ARRAY(SELECT NULL::text), "
                    "array_to_string(ARRAY(SELECT rolname FROM pg_roles), ',')")
        self.assertEqual(cur.fetchone(), (["4", "3", "1"], [], [None], "streamlake"))
        # correlated: one array per row of the enclosing query
        cur.execute("SELECT x, ARRAY(SELECT y || '.' || x FROM generate_series(1, 2) y) "
                    "FROM generate_series(1, 2) x ORDER BY x")
        self.assertEqual(cur.fetchall(), [(1, ["1.1", "2.1"]), (2, ["1.2", "2.2"])])
        with self.assertRaises(psycopg2.errors.SyntaxError):
            cur.execute("SELECT ARRAY(SELECT 1, 2)")
        cur.execute("SELECT unnest('{3,1,NULL}'::int2[]) AS k, "
                    "generate_subscripts('{3,1,NULL}'::int2[], 1) AS i")
        self.assertEqual(cur.fetchall(), [(3, 1), (1, 2), (None, 3)])
        with self.assertRaises(psycopg2.errors.FeatureNotSupported):
            cur.execute("SELECT 1 WHERE unnest(ARRAY['a']) = 'a'")
        c.close()

    def test_int2_array_in_binary(self):
        # the catalog's int2vector columns are int2[]: oid 1005, int16 elements
        s = raw()
        q = b"SELECT '{7,NULL,-3}'::int2[] AS k"
        s.sendall(msg(b"P", b"\x00" + q + b"\x00" + struct.pack("!h", 0)) +
                  msg(b"B", b"\x00\x00" + struct.pack("!hhhh", 0, 0, 1, 1)) +
                  msg(b"D", b"P\x00") + msg(b"E", b"\x00" + struct.pack("!i", 0)) +
                  msg(b"S", b""))
        msgs = read_msgs(s)
        self.assertEqual([t for t, _ in msgs], [b"1", b"2", b"T", b"D", b"C", b"Z"], msgs)
        self.assertEqual(struct.unpack("!i", msgs[2][1][2 + 2 + 6:2 + 2 + 10])[0], 1005)
        body = msgs[3][1]
        self.assertEqual(body[:6], struct.pack("!hi", 1, len(body) - 6))
        self.assertEqual(body[6:], struct.pack("!iiiii", 1, 1, 21, 3, 1) +
                         struct.pack("!ih", 2, 7) + struct.pack("!i", -1) +
                         struct.pack("!ih", 2, -3))
        s.close()

    def test_sqlalchemy_reflects_columns(self):
        import pandas as pd
        import sqlalchemy as sa
        self.sample_table("reflected", "(1, 'a', 1.50, '{x,y}', '2026-01-02 03:04:05+00', true), "
                                       "(2, NULL, NULL, NULL, NULL, false)")
        eng = sa.create_engine("postgresql+psycopg2://tester@127.0.0.1:%d/streamlake"
                               % Pg.srv.pg_port)
        insp = sa.inspect(eng)
        cols = cols_p = insp.get_columns("processes")
        self.assertEqual([(x["name"], type(x["type"]).__name__, x["nullable"]) for x in cols], [
            ("process_id", "UUID", True), ("exe", "TEXT", True), ("username", "TEXT", True),
            ("realname", "TEXT", True), ("computer", "TEXT", True), ("distro", "TEXT", True),
            ("cpu_brand", "TEXT", True), ("tsc_frequency", "BIGINT", True),
            ("start_time", "TIMESTAMP", True), ("start_ticks", "BIGINT", True),
            ("parent_process_id", "UUID", True), ("properties", "JSONB", True),
            ("insert_time", "TIMESTAMP", True)])
        self.assertTrue(cols[8]["type"].timezone)
        cols = insp.get_columns("reflected")
        self.assertEqual([x["type"].compile(dialect=eng.dialect) for x in cols],
                         ["BIGINT", "VARCHAR(20)", "NUMERIC(10, 2)", "TEXT[]",
                          "TIMESTAMP WITH TIME ZONE", "BOOLEAN"])
        for t in ("processes", "reflected"):
            self.assertEqual(insp.get_pk_constraint(t), {"constrained_columns": [], "name": None})
            self.assertEqual(insp.get_indexes(t), [])
            self.assertEqual(insp.get_foreign_keys(t), [])
            self.assertEqual(insp.get_unique_constraints(t), [])
            self.assertEqual(insp.get_check_constraints(t), [])
        with warnings.catch_warnings():  # pandas' use of SQLAlchemy 1.4 warns of 2.0
            warnings.simplefilter("ignore")
            df = pd.read_sql_table("processes", eng)
            self.assertEqual(list(df.columns), [x["name"] for x in cols_p])
            df = pd.read_sql_table("reflected", eng).sort_values("id")
        self.assertEqual(list(df["name"]), ["a", None])
        self.assertEqual(list(df["tags"]), [["x", "y"], None])
        self.assertEqual(str(df["at"].iloc[0]), "2026-01-02 03:04:05+00:00")
        eng.dispose()

    def test_named_cursors_fetch_in_pages(self):
        c = connect()
        cur = c.cursor(name="big")  # DECLARE "big" CURSOR ... FOR; FETCH FORWARD n
        cur.itersize = 1000
        cur.execute("SELECT g, 'v' || g FROM generate_series(1, 5500) g ORDER BY g")
        rows = list(cur)
        self.assertEqual(len(rows), 5500)
        self.assertEqual(rows[0], (1, "v1"))
        self.assertEqual(rows[-1], (5500, "v5500"))
        cur.close()
        few = c.cursor(name="few")
        few.execute("SELECT g FROM generate_series(1, 10) g ORDER BY g")
        self.assertEqual(few.fetchmany(3), [(1,), (2,), (3,)])
        self.assertEqual(few.fetchmany(3), [(4,), (5,), (6,)])
        self.assertEqual(few.fetchall(), [(7,), (8,), (9,), (10,)])
        few.close()
        c.commit()
        plain = c.cursor()
        for sql, code in (("FETCH 1 FROM nope", "34000"),
                          ("DECLARE bad CURSOR FOR SELECT nme", "42703")):
            with self.assertRaises(psycopg2.Error) as cm:
                plain.execute(sql)
            self.assertEqual(cm.exception.pgcode, code, sql)
            c.rollback()
        c.close()

    def test_copy_to_stdout(self):
        import io
        c = connect()
        c.autocommit = True
        cur = c.cursor()
        buf = io.StringIO()
        cur.copy_expert("COPY (SELECT g, 'v' || g AS s, CASE WHEN g = 2 THEN NULL ELSE g * 0.5 "
                        "END AS h, E'tab\\there' AS t FROM generate_series(1, 3) g ORDER BY g) "
                        "TO STDOUT", buf)
        self.assertEqual(buf.getvalue(), "1\tv1\t0.5\ttab\\there\n2\tv2\t\\N\ttab\\there\n"
                         "3\tv3\t1.5\ttab\\there\n")
        buf = io.StringIO()
        cur.copy_expert("COPY (SELECT 1 AS a, 'x,\"y' AS b, NULL AS c) TO STDOUT WITH (FORMAT csv, "
                        "HEADER)", buf)
        self.assertEqual(buf.getvalue(), 'a,b,c\n1,"x,""y",\n')
        cur.execute("CREATE TABLE cp_t (a int, b text)")
        cur.execute("INSERT INTO cp_t VALUES (1, 'one'), (2, NULL)")
        buf = io.StringIO()
        cur.copy_expert("COPY cp_t (b, a) TO STDOUT CSV", buf)
        self.assertEqual(sorted(buf.getvalue().splitlines()), [",2", "one,1"])
        buf = io.BytesIO()
        cur.copy_expert("COPY (SELECT a, b FROM cp_t ORDER BY a) TO STDOUT (FORMAT binary)", buf)
        data = buf.getvalue()
        self.assertEqual(data[:19], b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8)
        rows, at = [], 19
        while True:
            (n,) = struct.unpack("!h", data[at:at + 2])
            at += 2
            if n == -1:
                break
            row = []
            for _ in range(n):
                (ln,) = struct.unpack("!i", data[at:at + 4])
                at += 4
                row.append(None if ln < 0 else data[at:at + ln])
                at += max(ln, 0)
            rows.append(row)
        self.assertEqual(at, len(data))
        self.assertEqual(rows, [[struct.pack("!i", 1), b"one"], [struct.pack("!i", 2), None]])
        c.close()

    def test_psql_copy_to_and_from_files(self):
        import tempfile
        d = tempfile.mkdtemp(prefix="sl-psql-copy-")
        out = psql("CREATE TABLE pc_t (id int, name text);\n"
                   "\\copy (SELECT g AS id, 'n' || g AS name FROM generate_series(1, 5) g) "
                   "to '%s/a.csv' with (format csv, header)\n"
                   "\\copy pc_t from '%s/a.csv' with (format csv, header)\n"
                   "SELECT count(*), max(name) FROM pc_t;\n"
                   "\\copy pc_t to '%s/b.txt'\n" % (d, d, d))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stderr, "")
        self.assertIn("COPY 5", out.stdout)
        self.assertIn(" count | max \n-------+-----\n     5 | n5\n", out.stdout)
        with open(os.path.join(d, "a.csv")) as f:
            self.assertEqual(f.read(), "id,name\n1,n1\n2,n2\n3,n3\n4,n4\n5,n5\n")
        with open(os.path.join(d, "b.txt")) as f:
            self.assertEqual(sorted(f.read().splitlines()), ["%d\tn%d" % (i, i) for i in range(1, 6)])

    def test_copy_from_stdin(self):
        import io
        c = connect()
        c.autocommit = True
        cur = c.cursor()
        cur.execute("CREATE TABLE ci_t (id int8, name text, v float8, d date, ok bool)")
        # text: escapes, NULLs, a line end of \r\n, and the end marker
        cur.copy_expert("COPY ci_t FROM STDIN", io.StringIO(
            "1\ta\\tb\t1.5\t2026-01-02\tt\n2\t\\N\t\\N\t\\N\tf\r\n"
            "3\tx\\ny\\101\\x42\t3\t2026-03-04\t\\N\n\\.\nignored\n"))
        self.assertEqual(cur.rowcount, 3)
        # CSV with a header, quotes, a quoted newline, and a column list
        cur.copy_expert("COPY ci_t (name, id) FROM STDIN WITH (FORMAT csv, HEADER true)",
                        io.StringIO('name,id\n"he said ""hi""",4\n,5\n"two\nlines",6\n"",7\n'))
        cur.execute("SELECT id, name, v, d::text, ok FROM ci_t ORDER BY id")
        self.assertEqual(cur.fetchall(), [
            (1, "a\tb", 1.5, "2026-01-02", True), (2, None, None, None, False),
            (3, "x\nyAB", 3.0, "2026-03-04", None), (4, 'he said "hi"', None, None, None),
            (5, None, None, None, None), (6, "two\nlines", None, None, None),
            (7, "", None, None, None)])
        # many rows in pieces that do not end on lines (psycopg2 sends 8 KB at a time)
        big = "".join("%d\tname %d\t%d.25\t2026-01-01\tt\n" % (i, i, i)
                      for i in range(100, 200100))
        cur.copy_expert("COPY ci_t FROM STDIN", io.StringIO(big), size=1000)
        self.assertEqual(cur.rowcount, 200000)
        cur.execute("SELECT count(*), sum(id), sum(v) FROM ci_t WHERE id >= 100")
        self.assertEqual(cur.fetchone(), (200000, sum(range(100, 200100)),
                                          sum(range(100, 200100)) + 0.25 * 200000))
        # a round trip: COPY TO STDOUT of the table, COPY FROM STDIN into a copy of it
        for fmt in ("", " WITH (FORMAT csv)"):
            cur.execute("DROP TABLE IF EXISTS ci_u")
            cur.execute("CREATE TABLE ci_u (id int8, name text, v float8, d date, ok bool)")
            out = io.StringIO()
            cur.copy_expert("COPY ci_t TO STDOUT" + fmt, out)
            out.seek(0)
            cur.copy_expert("COPY ci_u FROM STDIN" + fmt, out)
            cur.execute("SELECT count(*) FROM (SELECT * FROM ci_t EXCEPT SELECT * FROM ci_u) x")
            self.assertEqual(cur.fetchone(), (0,), fmt)
            cur.execute("SELECT count(*) FROM ci_u")
            self.assertEqual(cur.fetchone(), (200007,), fmt)
        c.close()

    def test_copy_from_stdin_bad_input_changes_nothing(self):
        import io
        c = connect()
        c.autocommit = True
        cur = c.cursor()
        cur.execute("CREATE TABLE cb_t (id int4, name text)")
        cur.execute("INSERT INTO cb_t VALUES (1, 'kept')")
        good = "".join("%d\tn\n" % i for i in range(2, 150000))
        cases = [
            (good + "x\tbad\n", psycopg2.errors.InvalidTextRepresentation,
             'invalid input syntax for type integer: "x"',
             'COPY cb_t, line 149999, column id: "x"'),
            ("1\tone\textra\n", psycopg2.errors.BadCopyFileFormat,
             "extra data after last expected column", "line 1"),
            ("1\n", psycopg2.errors.BadCopyFileFormat,
             'missing data for column "name"', "line 1"),
            ("99999999999\tbig\n", psycopg2.errors.NumericValueOutOfRange,
             'value "99999999999" is out of range for type integer', "column id"),
        ]
        for data, exc, message, context in cases:
            with self.assertRaises(exc) as cm:
                cur.copy_expert("COPY cb_t FROM STDIN", io.StringIO(data))
            self.assertIn(message, cm.exception.diag.message_primary)
            self.assertIn(context, cm.exception.diag.context)
            cur.execute("SELECT count(*), min(name) FROM cb_t")
            self.assertEqual(cur.fetchone(), (1, "kept"))
        with self.assertRaises(psycopg2.errors.WrongObjectType):
            cur.copy_expert("COPY processes FROM STDIN", io.StringIO(""))
        with self.assertRaises(psycopg2.errors.UndefinedColumn):
            cur.copy_expert("COPY cb_t (nope) FROM STDIN", io.StringIO(""))
        with self.assertRaises(psycopg2.errors.UndefinedTable):
            cur.copy_expert("COPY nowhere FROM STDIN", io.StringIO(""))
        # the client gives up (CopyFail), or goes away mid-copy: nothing is kept
        s = raw()
        s.sendall(msg(b"Q", b"COPY cb_t FROM STDIN\x00"))
        self.assertEqual(read_until(s, b"G")[-1][0], b"G")
        s.sendall(msg(b"d", b"7\tseven\n8\tei") + msg(b"d", b"ght\n") + msg(b"f", b"user said no\x00"))
        got = read_until(s, b"Z")
        err = error_fields([b for t, b in got if t == b"E"][0])
        self.assertEqual((err["C"], err["M"]), ("57014", "COPY from stdin failed: user said no"))
        s.sendall(msg(b"Q", b"COPY cb_t FROM STDIN\x00"))
        read_until(s, b"G")
        s.sendall(msg(b"d", good.encode()))
        s.close()
        time.sleep(0.3)
        cur.execute("SELECT count(*) FROM cb_t")
        self.assertEqual(cur.fetchone(), (1,))
        # and a good copy after all that
        cur.copy_expert("COPY cb_t FROM STDIN", io.StringIO("2\ttwo\n"))
        cur.execute("SELECT count(*) FROM cb_t")
        self.assertEqual(cur.fetchone(), (2,))
        c.close()

    def test_dataframe_of_thread_spans_equals_the_cli(self):
        # pandas through SQLAlchemy over pgwire, and `streamlake sql --format csv` over
        # HTTP: the same thread spans, value for value
        import pandas as pd
        import sqlalchemy as sa
        out = subprocess.run([sltest.binary(), "loadgen", "--json", "--server", Pg.srv.url,
                              "--threads", "2", "--spans", "300", "--depth", "4", "--logs", "0",
                              "--metrics", "0"], capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        pid = json.loads(out.stdout.strip().splitlines()[-1])["process_id"]
        q = ("SELECT stream_id, thread_name, id, parent, depth, begin, \"end\", duration, name, "
             "target FROM process_spans('%s', 'thread') ORDER BY stream_id, begin, id" % pid)
        eng = sa.create_engine("postgresql+psycopg2://tester@127.0.0.1:%d/lake" % Pg.srv.pg_port)
        with eng.connect() as c:
            df = pd.read_sql(sa.text(q), c)
        eng.dispose()
        cli = subprocess.run([sltest.binary(), "sql", "--server", Pg.srv.url, "--format", "csv",
                              q], capture_output=True, text=True, timeout=120)
        self.assertEqual(cli.returncode, 0, cli.stderr)
        import io
        ref = pd.read_csv(io.StringIO(cli.stdout), keep_default_na=False, na_values=[""])
        self.assertEqual(len(df), 600)
        self.assertEqual(list(df.columns), list(ref.columns))
        for col in ("stream_id", "thread_name", "name", "target"):
            self.assertEqual(df[col].astype(str).tolist(), ref[col].astype(str).tolist(), col)
        for col in ("id", "depth", "duration"):
            self.assertEqual(df[col].tolist(), ref[col].tolist(), col)
        for col in ("begin", "end"):
            self.assertEqual(pd.to_datetime(df[col], utc=True).tolist(),
                             pd.to_datetime(ref[col], utc=True).tolist(), col)

    def test_session_time_range(self):
        # SET streamlake.begin / end apply to every lake table, as a Grafana range would
        out = subprocess.run([sltest.binary(), "loadgen", "--server", Pg.srv.url, "--threads",
                              "1", "--spans", "50", "--logs", "20", "--metrics", "0"],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        c = connect()
        c.autocommit = True
        cur = c.cursor()
        cur.execute("SELECT count(*) FROM log_entries")
        (total,) = cur.fetchone()
        self.assertGreaterEqual(total, 20)
        cur.execute("SET streamlake.begin = '2100-01-01T00:00:00Z'")
        cur.execute("SELECT count(*) FROM log_entries")
        self.assertEqual(cur.fetchone(), (0,))
        cur.execute("RESET streamlake.begin")
        # END is a reserved word: PostgreSQL's grammar wants it quoted here too
        cur.execute("SET streamlake.\"end\" = '2000-01-01T00:00:00Z'")
        cur.execute("SELECT count(*) FROM log_entries")
        self.assertEqual(cur.fetchone(), (0,))
        cur.execute("RESET streamlake.\"end\"")
        cur.execute("SELECT count(*) FROM log_entries")
        self.assertEqual(cur.fetchone(), (total,))
        c.close()

    def test_transactions_report_their_status(self):
        c = connect()  # psycopg2 opens a transaction block before the first statement
        cur = c.cursor()
        cur.execute("SELECT 1")
        self.assertEqual(c.get_transaction_status(),
                         psycopg2.extensions.TRANSACTION_STATUS_INTRANS)
        c.commit()
        self.assertEqual(c.get_transaction_status(), psycopg2.extensions.TRANSACTION_STATUS_IDLE)
        c.close()

    def test_cancel_a_long_query(self):
        c = connect()
        c.autocommit = True
        cur = c.cursor()
        done = {}

        def run():
            try:
                cur.execute("SELECT count(*) FROM generate_series(1, 2000000000) g "
                            "WHERE g % 7 = 3")
                done["rows"] = cur.fetchall()
            except Exception as e:  # noqa: BLE001
                done["error"] = e
        t = threading.Thread(target=run)
        t.start()
        time.sleep(0.5)
        t0 = time.time()
        c.cancel()
        t.join(60)
        self.assertFalse(t.is_alive())
        self.assertIsInstance(done.get("error"), psycopg2.errors.QueryCanceled, done)
        self.assertLess(time.time() - t0, 30)
        cur.execute("SELECT 'after'")
        self.assertEqual(cur.fetchone(), ("after",))
        c.close()

    def test_same_rows_through_pgwire_http_and_cli(self):
        q = ("SELECT g, g * 1.5 AS h, 'v' || g AS s, (g % 3 = 0) AS b FROM "
             "generate_series(1, 2000) g ORDER BY g")
        c = connect()
        c.autocommit = True
        cur = c.cursor()
        cur.execute(q)
        via_pg = [[str(v).lower() if isinstance(v, bool) else str(v) for v in r]
                  for r in cur.fetchall()]
        c.close()
        st, _, data = Pg.srv.post("/api/query?format=csv", json.dumps({"sql": q}).encode())
        self.assertEqual(st, 200)
        via_http = [line.split(",") for line in data.decode().splitlines()[1:]]
        cli = subprocess.run([sltest.binary(), "sql", "--server", Pg.srv.url, "--format", "csv",
                              q], capture_output=True, text=True, timeout=120)
        self.assertEqual(cli.returncode, 0, cli.stderr)
        via_cli = [line.split(",") for line in cli.stdout.splitlines()[1:]]
        norm = [[r[0], r[1], r[2], "true" if r[3] == "t" else "false" if r[3] == "f" else r[3]]
                for r in via_http]
        self.assertEqual(len(via_pg), 2000)
        self.assertEqual(via_pg, norm)
        self.assertEqual(via_http, via_cli)


class Load(unittest.TestCase):
    def test_hundred_connections(self):
        # 100 clients at once for a few seconds, each checking every answer; one more
        # past the limit is refused with 53300; the server's memory stays bounded
        srv = sltest.Server(args=["--pg-max-connections", "100"])
        try:
            port = srv.pg_port
            errors, counts = [], []
            start = threading.Barrier(101)

            def client(k):
                try:
                    c = psycopg2.connect(host="127.0.0.1", port=port, user="u%d" % k,
                                         dbname="lake", connect_timeout=30)
                    c.autocommit = True
                    cur = c.cursor()
                    start.wait(60)
                    n, deadline = 0, time.time() + 4
                    while time.time() < deadline:
                        m = 1000 + (k * 7919 + n) % 5000
                        cur.execute("SELECT sum(g), count(*) FROM generate_series(1, %s) g", (m,))
                        if cur.fetchone() != (m * (m + 1) // 2, m):
                            errors.append("wrong answer for %d" % m)
                        n += 1
                    counts.append(n)
                    c.close()
                except Exception as e:  # noqa: BLE001
                    errors.append(repr(e))
                    try:
                        start.abort()
                    except threading.BrokenBarrierError:
                        pass
            ts = [threading.Thread(target=client, args=(k,)) for k in range(100)]
            for t in ts:
                t.start()
            start.wait(60)
            with self.assertRaises(psycopg2.OperationalError) as cm:
                psycopg2.connect(host="127.0.0.1", port=port, user="extra", dbname="lake")
            self.assertIn("too many clients", str(cm.exception))
            for t in ts:
                t.join(120)
            self.assertEqual(errors, [])
            self.assertEqual(len(counts), 100)
            self.assertGreater(min(counts), 0)
            peak_mb = 0
            with open("/proc/%d/status" % srv.proc.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak_mb = int(line.split()[1]) // 1024
            self.assertLess(peak_mb, 1024, "peak RSS %d MB" % peak_mb)
        finally:
            code = srv.stop()
            log = srv.log_text()
            srv.cleanup()
        self.assertEqual(code, 0, log[-3000:])


class Protocol(unittest.TestCase):
    def test_ssl_request_is_answered_n(self):
        s = raw(struct.pack("!ii", 8, 80877103))
        self.assertEqual(s.recv(1), b"N")
        s.close()

    def test_malformed_messages_close_with_08P01(self):
        for name, data in (("huge length", b"Q" + struct.pack("!i", 0x7FFFFFF0)),
                           ("negative length", b"Q" + struct.pack("!i", -5)),
                           ("unterminated query", b"Q" + struct.pack("!i", 8) + b"abcd"),
                           ("unknown type", b"\x01" + struct.pack("!i", 4))):
            s = raw()
            s.sendall(data)
            msgs = read_msgs(s, b"never")
            errs = [error_fields(b) for t, b in msgs if t == b"E"]
            self.assertTrue(errs, name)
            self.assertEqual(errs[0]["C"], "08P01", (name, errs))
            self.assertEqual(errs[0]["S"], "FATAL", name)
            s.close()
        for name, data in (("short startup", struct.pack("!i", 4)),
                           ("unterminated startup", struct.pack("!ii", 12, 196608) + b"user")):
            s = raw(data)
            msgs = read_msgs(s, b"never")
            self.assertTrue(any(t == b"E" for t, _ in msgs), name)
            s.close()
        # truncated: the client goes away mid-message; the server goes on
        s = raw()
        s.sendall(b"Q" + struct.pack("!i", 100) + b"SELECT")
        s.close()
        c = connect()
        c.cursor().execute("SELECT 1")
        c.close()

    def test_extended_protocol_with_row_limits(self):
        s = raw()
        parse = b"q1\x00SELECT g FROM generate_series(1, $1::int) g ORDER BY g\x00" + \
            struct.pack("!hi", 1, 0)
        bind = b"p1\x00q1\x00" + struct.pack("!hhi", 0, 1, 1) + b"5" + struct.pack("!h", 0)
        s.sendall(msg(b"P", parse) + msg(b"D", b"Sq1\x00") + msg(b"B", bind) +
                  msg(b"D", b"Pp1\x00") + msg(b"E", b"p1\x00" + struct.pack("!i", 2)) +
                  msg(b"E", b"p1\x00" + struct.pack("!i", 2)) +
                  msg(b"E", b"p1\x00" + struct.pack("!i", 0)) + msg(b"S", b""))
        msgs = read_msgs(s)
        self.assertEqual([t for t, _ in msgs],
                         [b"1", b"t", b"T", b"2", b"T", b"D", b"D", b"s", b"D", b"D", b"s",
                          b"D", b"C", b"Z"])
        rows = [struct.unpack("!hi", b[:6])[1:] + (b[6:],) for t, b in msgs if t == b"D"]
        self.assertEqual([r[1] for r in rows], [b"1", b"2", b"3", b"4", b"5"])
        self.assertEqual(msgs[-2][1], b"SELECT 5\x00")
        # an error in the middle: the rest up to Sync is skipped, then the connection goes on
        s.sendall(msg(b"P", b"\x00SELECT 1/$1::int\x00" + struct.pack("!h", 0)) +
                  msg(b"B", b"\x00\x00" + struct.pack("!hhi", 0, 1, 1) + b"0" +
                      struct.pack("!h", 0)) +
                  msg(b"E", b"\x00" + struct.pack("!i", 0)) +
                  msg(b"E", b"\x00" + struct.pack("!i", 0)) + msg(b"S", b""))
        msgs = read_msgs(s)
        self.assertEqual([t for t, _ in msgs], [b"1", b"2", b"E", b"Z"])
        self.assertEqual(error_fields(msgs[2][1])["C"], "22012")
        # a missing statement, two statements in one Parse, a result format 2: refused
        for m, code in ((msg(b"B", b"\x00nope\x00" + struct.pack("!hhh", 0, 0, 0)), "26000"),
                        (msg(b"P", b"\x00SELECT 1; SELECT 2\x00" + struct.pack("!h", 0)),
                         "42601"),
                        (msg(b"P", b"\x00SELECT 1\x00" + struct.pack("!h", 0)) +
                         msg(b"B", b"\x00\x00" + struct.pack("!hhhh", 0, 0, 1, 2)), "08P01")):
            s.sendall(m + msg(b"S", b""))
            errs = [error_fields(b) for t, b in read_msgs(s) if t == b"E"]
            self.assertEqual([e["C"] for e in errs], [code])
        q = b"SELECT 7\x00"
        s.sendall(b"Q" + struct.pack("!i", 4 + len(q)) + q)
        self.assertEqual([t for t, _ in read_msgs(s)], [b"T", b"D", b"C", b"Z"])
        s.close()

    def test_catalog_functions_and_information_schema(self):
        c = connect()
        c.autocommit = True
        cur = c.cursor()
        cur.execute("CREATE TABLE cat_t (a int, b text)")
        cur.execute("CREATE VIEW cat_v AS SELECT a FROM cat_t WHERE a > 1")
        cur.execute("SELECT version() LIKE 'PostgreSQL 15%%', current_database(), "
                    "current_schema(), current_setting('server_version_num'), "
                    "pg_backend_pid() = %s, format_type(1700, 655366), "
                    "format_type('int4'::regtype, NULL), pg_get_expr(NULL, 0), "
                    "has_table_privilege('cat_t', 'SELECT'), "
                    "has_schema_privilege('public', 'USAGE'), "
                    "has_database_privilege(current_database(), 'CONNECT'), "
                    "pg_table_is_visible('cat_t'::regclass)", (c.get_backend_pid(),))
        self.assertEqual(cur.fetchone(), (True, "lake", "public", "150000", True,
                                          "numeric(10,2)", "integer", None, True, True, True,
                                          True))
        cur.execute("SELECT schema_name FROM information_schema.schemata ORDER BY 1")
        self.assertEqual([r[0] for r in cur.fetchall()],
                         ["information_schema", "pg_catalog", "public"])
        cur.execute("SELECT table_name, table_type FROM information_schema.tables "
                    "WHERE table_name LIKE 'cat_%' ORDER BY 1")
        self.assertEqual(cur.fetchall(), [("cat_t", "BASE TABLE"), ("cat_v", "VIEW")])
        cur.execute("SELECT table_schema, table_name, view_definition ILIKE '%%a > 1%%', "
                    "check_option, is_updatable FROM information_schema.views "
                    "WHERE table_name = 'cat_v'")
        self.assertEqual(cur.fetchall(), [("public", "cat_v", True, "NONE", "NO")])
        cur.execute("SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_name = 'cat_t' ORDER BY ordinal_position")
        self.assertEqual(cur.fetchall(), [("a", "integer"), ("b", "text")])
        cur.execute("SELECT count(*) > 10 FROM pg_settings")
        self.assertEqual(cur.fetchone(), (True,))
        c.close()

    def test_binary_numerics_byte_for_byte(self):
        """numeric in binary as PostgreSQL's numeric_send writes it: base-10000 digit
        groups, weight, sign, display scale, no leading or trailing zero groups."""
        def pg_bytes(text):
            neg = text.startswith("-")
            t = text.lstrip("-")
            ip, _, fp = t.partition(".")
            dscale = len(fp)
            ip = ip.lstrip("0")
            ip = "0" * (-len(ip) % 4) + ip
            fp = fp + "0" * (-len(fp) % 4)
            groups = [int(ip[i:i + 4]) for i in range(0, len(ip), 4)]
            weight = len(groups) - 1
            groups += [int(fp[i:i + 4]) for i in range(0, len(fp), 4)]
            while groups and groups[0] == 0:
                groups.pop(0)
                weight -= 1
            while groups and groups[-1] == 0:
                groups.pop()
            if not groups:
                weight, neg = 0, False
            return struct.pack("!hhHh", len(groups), weight, 0x4000 if neg else 0, dscale) + \
                struct.pack("!%dh" % len(groups), *groups)
        texts = ["0", "0.00", "12345.67", "-0.000005", "100000000", "0.25", "-1", "9999.9999",
                 "123456789012345678901234567890.5", "-98765432109876.54321", "1.000000000001"]
        s = raw()
        q = ("SELECT " + ", ".join("'%s'::numeric" % t for t in texts)).encode()
        s.sendall(msg(b"P", b"\x00" + q + b"\x00" + struct.pack("!h", 0)) +
                  msg(b"B", b"\x00\x00" + struct.pack("!hhhh", 0, 0, 1, 1)) +
                  msg(b"E", b"\x00" + struct.pack("!i", 0)) + msg(b"S", b""))
        msgs = read_msgs(s)
        body = [b for t, b in msgs if t == b"D"][0]
        at = 2
        for t in texts:
            ln = struct.unpack("!i", body[at:at + 4])[0]
            self.assertEqual(body[at + 4:at + 4 + ln], pg_bytes(t), t)
            at += 4 + ln
        s.close()

    def test_binary_results(self):
        import datetime
        import decimal
        import uuid
        s = raw()
        q = (b"SELECT true, 7::int2, -5::int4, 1099511627776::int8, 1.5::float4, -2.25::float8, "
             b"'-1234.0500'::numeric, 0.0005::numeric, 'h\xc3\xa9'::text, '\\x00ff'::bytea, "
             b"'2024-02-29'::date, '2024-01-02 03:04:05.123456+00'::timestamptz, "
             b"'1969-12-31 23:59:59.5'::timestamp, interval '1 month 2 days 3 seconds', "
             b"'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, '{\"k\": 1}'::jsonb, "
             b"'{a,NULL,c}'::text[], NULL::int4")
        s.sendall(msg(b"P", b"\x00" + q + b"\x00" + struct.pack("!h", 0)) +
                  msg(b"B", b"\x00\x00" + struct.pack("!hhhh", 0, 0, 1, 1)) +
                  msg(b"D", b"P\x00") + msg(b"E", b"\x00" + struct.pack("!i", 0)) +
                  msg(b"S", b""))
        msgs = read_msgs(s)
        self.assertEqual([t for t, _ in msgs], [b"1", b"2", b"T", b"D", b"C", b"Z"], msgs)
        body = msgs[3][1]
        n = struct.unpack("!h", body[:2])[0]
        vals, at = [], 2
        for _ in range(n):
            ln = struct.unpack("!i", body[at:at + 4])[0]
            at += 4
            vals.append(None if ln < 0 else body[at:at + ln])
            at += max(ln, 0)

        def numeric(b):
            nd, weight, sign, dscale = struct.unpack("!hhHh", b[:8])
            digits = struct.unpack("!%dh" % nd, b[8:8 + 2 * nd])
            v = sum(decimal.Decimal(d) * decimal.Decimal(10000) ** (weight - i)
                    for i, d in enumerate(digits))
            return (-v if sign == 0x4000 else v).quantize(decimal.Decimal(1).scaleb(-dscale))
        epoch = datetime.datetime(2000, 1, 1)
        self.assertEqual(vals[0], b"\x01")
        self.assertEqual(struct.unpack("!h", vals[1])[0], 7)
        self.assertEqual(struct.unpack("!i", vals[2])[0], -5)
        self.assertEqual(struct.unpack("!q", vals[3])[0], 2 ** 40)
        self.assertEqual(struct.unpack("!f", vals[4])[0], 1.5)
        self.assertEqual(struct.unpack("!d", vals[5])[0], -2.25)
        self.assertEqual(numeric(vals[6]), decimal.Decimal("-1234.0500"))
        self.assertEqual(numeric(vals[7]), decimal.Decimal("0.0005"))
        self.assertEqual(vals[8].decode(), "hé")
        self.assertEqual(vals[9], b"\x00\xff")
        self.assertEqual(epoch.date() + datetime.timedelta(days=struct.unpack("!i", vals[10])[0]),
                         datetime.date(2024, 2, 29))
        self.assertEqual(epoch + datetime.timedelta(microseconds=struct.unpack("!q", vals[11])[0]),
                         datetime.datetime(2024, 1, 2, 3, 4, 5, 123456))
        self.assertEqual(epoch + datetime.timedelta(microseconds=struct.unpack("!q", vals[12])[0]),
                         datetime.datetime(1969, 12, 31, 23, 59, 59, 500000))
        self.assertEqual(struct.unpack("!qii", vals[13]), (3000000, 2, 1))
        self.assertEqual(uuid.UUID(bytes=vals[14]), uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"))
        self.assertEqual(vals[15], b'\x01{"k": 1}')
        ndim, hasnull, elem, dim, lb = struct.unpack("!iiiii", vals[16][:20])
        self.assertEqual((ndim, hasnull, elem, dim, lb), (1, 1, 25, 3, 1))
        self.assertEqual(vals[16][20:], struct.pack("!i", 1) + b"a" + struct.pack("!i", -1) +
                         struct.pack("!i", 1) + b"c")
        self.assertIsNone(vals[17])
        # the RowDescription says binary for every column
        t = msgs[2][1]
        self.assertEqual(t[-2:], b"\x00\x01")
        s.close()

    def test_node_clients(self):
        out = subprocess.run(["node", "pg_clients.mjs", str(Pg.srv.pg_port)],
                             cwd=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                              "node"),
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        got = json.loads(out.stdout)
        self.assertEqual(got["simple"], [{"one": 1, "two": "two"}])
        self.assertEqual(got["params"], [{"n": 42, "t": "héllo", "b": True}])
        self.assertEqual(got["named1"], [{"g": 1, "d": 2}, {"g": 2, "d": 4}, {"g": 3, "d": 6}])
        self.assertEqual(got["named2"], [{"g": 1, "d": 2}, {"g": 2, "d": 4}])
        self.assertEqual(got["error"]["code"], "22012")
        self.assertEqual(got["after"], [{"still": "here"}])
        self.assertEqual(got["nulls"], [{"a": None, "b": None}])
        self.assertEqual(got["insert"], {"command": "INSERT", "rowCount": 2})
        self.assertEqual(got["rows"], [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])
        self.assertEqual(got["postgres"], [{"n": 6, "t": "xy", "f": 2.5}])

    def test_set_reports_parameter_status(self):
        s = raw()
        q = b"SET application_name = 'dash'\x00"
        s.sendall(b"Q" + struct.pack("!i", 4 + len(q)) + q)
        msgs = read_msgs(s)
        self.assertEqual([t for t, _ in msgs], [b"C", b"S", b"Z"])
        self.assertEqual(msgs[1][1], b"application_name\x00dash\x00")
        s.close()

    def test_empty_query_and_several_statements(self):
        s = raw()
        for q, want in ((b"  \x00", [b"I", b"Z"]),
                        (b"SELECT 1; SELECT 2\x00", [b"T", b"D", b"C", b"T", b"D", b"C", b"Z"]),
                        (b"SELECT 1; SELECT 1/0; SELECT 3\x00", [b"T", b"D", b"C", b"E", b"Z"])):
            s.sendall(b"Q" + struct.pack("!i", 4 + len(q)) + q)
            self.assertEqual([t for t, _ in read_msgs(s)], want, q)
        s.close()

    def test_error_positions_count_from_the_whole_string(self):
        s = raw()
        q = "SELECT 1; SELECT nme".encode() + b"\x00"
        s.sendall(b"Q" + struct.pack("!i", 4 + len(q)) + q)
        errs = [error_fields(b) for t, b in read_msgs(s) if t == b"E"]
        self.assertEqual(errs[0]["C"], "42703")
        self.assertEqual(errs[0]["P"], "18")  # as PostgreSQL: 1-based, in the whole string
        s.close()

    def test_connection_limit(self):
        time.sleep(0.5)  # the connections of earlier tests are gone
        held = [connect() for _ in range(8)]
        try:
            with self.assertRaises(psycopg2.OperationalError) as cm:
                connect()
            self.assertIn("too many clients", str(cm.exception))
        finally:
            for c in held:
                c.close()
        time.sleep(0.2)
        c = connect()
        c.close()


if __name__ == "__main__":
    unittest.main(verbosity=1)
