#!/usr/bin/python3
"""TLS and SCRAM-SHA-256 on the PostgreSQL listener, with real clients.

Three servers, all on 127.0.0.1 with a self-signed certificate made here by the
`openssl` command (subjectAltName IP:127.0.0.1, so clients can verify it):

  * `keyed`: --tls-cert, --tls-key and --keys (keys made by `streamlake keys add`):
    psql (PGPASSWORD, sslmode=require and verify-full), psycopg2
    (conn.info.ssl_in_use) and node-postgres connect with the secret; a wrong
    secret and an unknown user are refused alike (28P01, the same message, the same
    exchange: a stable made-up salt of the same shape); a key without the query
    scope is refused (28000); garbage SASL messages get an ErrorResponse (08P01)
    and the connection closes, and the server goes on serving. A SCRAM client
    written here from RFC 5802 (hashlib, hmac) checks the exchange byte by byte.
  * `required`: --pg-require-tls (trust): sslmode=require works, sslmode=disable
    and a plaintext StartupMessage are refused (28000); CancelRequest still works
    in plaintext, as in PostgreSQL; clients that leave mid-handshake free
    everything (the sanitizer build checks the exit).
  * `idle`: TLS with --pg-idle-timeout 1: two queries in one TLS record are both
    answered (the bytes OpenSSL holds are read before any poll), and an idle TLS
    connection is closed with 57P05.

And the start-up errors: a malformed keys file (the file and line named), a
missing certificate, a key that is not the certificate's, --pg-require-tls
without a certificate: a clear message and a non-zero exit.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import ssl
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import sltest  # noqa: E402

import psycopg2  # noqa: E402
import psycopg2.errors  # noqa: E402

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "node")


class Env:
    tmp = None
    cert = key = keys = None
    secret = ingest_secret = None
    keyed = required = idle = None


def run(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120, **kw)


def make_cert(d, name):
    cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
    r = run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
            "-out", cert, "-days", "2", "-subj", "/CN=streamlake-test",
            "-addext", "subjectAltName=IP:127.0.0.1")
    assert r.returncode == 0, r.stderr
    return cert, key


def keys_add(path, name, *extra):
    return run(sltest.binary(), "keys", "add", path, name, *extra)


def setUpModule():
    Env.tmp = tempfile.mkdtemp(prefix="sl-pgauth-")
    Env.cert, Env.key = make_cert(Env.tmp, "server")
    Env.keys = os.path.join(Env.tmp, "keys")
    r = keys_add(Env.keys, "alice", "--scopes", "query,ingest")
    assert r.returncode == 0, r.stderr
    Env.secret = r.stdout.strip()
    r = keys_add(Env.keys, "feeder", "--scopes", "ingest")
    assert r.returncode == 0, r.stderr
    Env.ingest_secret = r.stdout.strip()
    tls = ["--tls-cert", Env.cert, "--tls-key", Env.key]
    Env.keyed = sltest.Server(args=tls + ["--keys", Env.keys])
    Env.required = sltest.Server(args=tls + ["--pg-require-tls"])
    Env.idle = sltest.Server(args=tls + ["--pg-idle-timeout", "1"])


def tearDownModule():
    failures = []
    for srv in (Env.keyed, Env.required, Env.idle):
        if srv is None:
            continue
        code = srv.stop()
        if code != 0:
            failures.append("server exit %r:\n%s" % (code, srv.log_text()[-4000:]))
        srv.cleanup()
    shutil.rmtree(Env.tmp, ignore_errors=True)
    assert not failures, "\n".join(failures)


def dsn(srv, user="alice", sslmode="require", **kw):
    parts = {"host": "127.0.0.1", "port": srv.pg_port, "user": user, "dbname": "lake",
             "sslmode": sslmode, "connect_timeout": 10}
    parts.update(kw)
    return " ".join("%s=%s" % (k, v) for k, v in parts.items())


def psql(conninfo, sql, password=None):
    env = dict(os.environ)
    env.pop("PGPASSWORD", None)
    if password is not None:
        env["PGPASSWORD"] = password
    return subprocess.run(["psql", "-X", "-w", conninfo, "-At", "-c", sql], capture_output=True,
                          text=True, timeout=60, env=env)


# ---- raw protocol ----

def msg(t, body):
    return t + struct.pack("!i", 4 + len(body)) + body


def startup_packet(user):
    params = b"user\x00" + user.encode() + b"\x00database\x00lake\x00\x00"
    return struct.pack("!ii", 8 + len(params), 196608) + params


def read_msg(s):
    """One backend message (type, body), or (None, b"") when the server closed."""
    head = b""
    while len(head) < 5:
        try:
            chunk = s.recv(5 - len(head))
        except (ConnectionResetError, socket.timeout, ssl.SSLError):
            chunk = b""
        if not chunk:
            return None, b""
        head += chunk
    n = struct.unpack("!i", head[1:5])[0] - 4
    body = b""
    while len(body) < n:
        chunk = s.recv(n - len(body))
        if not chunk:
            return None, b""
        body += chunk
    return head[:1], body


def error_fields(body):
    return {chr(p[0]): p[1:].decode() for p in body.split(b"\x00") if p}


def closed(s):
    """True when the server closes the connection (nothing more comes)."""
    s.settimeout(10)
    t, _ = read_msg(s)
    return t is None


def tls_socket(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(struct.pack("!ii", 8, 80877103))
    assert s.recv(1) == b"S"
    ctx = ssl.create_default_context(cafile=Env.cert)
    return ctx.wrap_socket(s, server_hostname="127.0.0.1")


def tls_session(port):
    """A TLS connection past its startup (trust), ReadyForQuery read."""
    s = tls_socket(port)
    s.sendall(startup_packet("x"))
    while read_msg(s)[0] not in (b"Z", None):
        pass
    return s


def sasl_start(port, user, tls=True):
    """A connection past its StartupMessage, with AuthenticationSASL read."""
    s = tls_socket(port) if tls else socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(startup_packet(user))
    t, body = read_msg(s)
    assert (t, body) == (b"R", struct.pack("!i", 10) + b"SCRAM-SHA-256\x00\x00"), (t, body)
    return s


def sasl_initial(first, mech=b"SCRAM-SHA-256"):
    return msg(b"p", mech + b"\x00" + struct.pack("!i", len(first)) + first)


def scram_login(port, user, password, tls=True, gs2=b"n,,"):
    """RFC 5802's client, written here: (server-first-message, messages after the proof)."""
    s = sasl_start(port, user, tls)
    nonce = base64.b64encode(os.urandom(18))
    bare = b"n=,r=" + nonce
    s.sendall(sasl_initial(gs2 + bare))
    t, body = read_msg(s)
    assert t == b"R" and body[:4] == struct.pack("!i", 11), (t, body)
    server_first = body[4:]
    attrs = dict(a.split(b"=", 1) for a in server_first.split(b","))
    assert attrs[b"r"].startswith(nonce) and len(attrs[b"r"]) == len(nonce) + 24
    salt, iters = base64.b64decode(attrs[b"s"]), int(attrs[b"i"])
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iters)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = b"c=" + base64.b64encode(gs2) + b",r=" + attrs[b"r"]
    auth = bare + b"," + server_first + b"," + without_proof
    sig = hmac.new(stored_key, auth, "sha256").digest()
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    s.sendall(msg(b"p", without_proof + b",p=" + base64.b64encode(proof)))
    out = []
    while True:
        t, body = read_msg(s)
        if t is None:
            break
        out.append((t, body))
        if t in (b"Z", b"E"):
            break
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    want_final = b"v=" + base64.b64encode(hmac.new(server_key, auth, "sha256").digest())
    s.close()
    return server_first, out, want_final


class Keys(unittest.TestCase):
    def test_keys_add_and_list(self):
        path = os.path.join(Env.tmp, "cli-keys")
        r = keys_add(path, "one")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^sl_[A-Za-z0-9_-]{32}\n$")
        self.assertIn("shown this once", r.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        r = keys_add(path, "two", "--scopes", "admin,ingest")
        self.assertEqual(r.returncode, 0, r.stderr)
        secret = r.stdout.strip()
        r = keys_add(path, "one", "--scopes", "admin")
        self.assertEqual(r.returncode, 1)
        self.assertIn('key "one" exists', r.stderr)
        r = keys_add(path, "x", "--scopes", "read")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--scopes", r.stderr)
        r = keys_add(path, "bad name!")
        self.assertNotEqual(r.returncode, 0)
        r = run(sltest.binary(), "keys", "list", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split("\n")[1:], ["one" + " " * 30 + "query",
                                                    "two" + " " * 30 + "ingest,admin", ""])
        with open(path) as f:
            text = f.read()
        self.assertNotIn(secret, text)
        self.assertNotIn(secret, r.stdout)
        self.assertIn("# streamlake-keys 1\n", text)
        self.assertRegex(text, r"\ntwo ingest,admin SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]{24}\$"
                               r"[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}\n")
        for args in (["keys", "--help"], ["keys", "add", "--help"], ["keys", "list", "--help"]):
            r = run(sltest.binary(), *args)
            self.assertEqual(r.returncode, 0, args)
            self.assertIn("streamlake keys add FILE NAME", r.stdout)
        r = run(sltest.binary(), "serve", "--help")
        for flag in ("--tls-cert", "--tls-key", "--pg-require-tls", "--keys"):
            self.assertIn(flag, r.stdout)


class Scram(unittest.TestCase):
    def test_psql_with_the_secret_over_tls(self):
        r = psql(dsn(Env.keyed), "SELECT 40 + 2", Env.secret)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "42\n", ""))
        # verify-full: the certificate is checked against the CA and the address
        r = psql(dsn(Env.keyed, sslmode="verify-full", sslrootcert=Env.cert), "\\conninfo",
                 Env.secret)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('as user "alice"', r.stdout)
        self.assertIn("SSL connection (protocol: TLSv1.", r.stdout)
        # without TLS too (not required here): SCRAM with the gs2 flag n
        r = psql(dsn(Env.keyed, sslmode="disable"), "SELECT 1", Env.secret)
        self.assertEqual((r.returncode, r.stdout), (0, "1\n"), r.stderr)

    def test_psql_refused_alike(self):
        wrong = psql(dsn(Env.keyed), "SELECT 1", Env.secret + "x")
        unknown = psql(dsn(Env.keyed, user="nobody"), "SELECT 1", Env.secret)
        for r, user in ((wrong, "alice"), (unknown, "nobody")):
            self.assertEqual(r.returncode, 2)
            self.assertIn('FATAL:  password authentication failed for user "%s"' % user, r.stderr)
        none = psql(dsn(Env.keyed), "SELECT 1")
        self.assertEqual(none.returncode, 2)
        self.assertIn("no password supplied", none.stderr)

    def test_psycopg2(self):
        c = psycopg2.connect(dsn(Env.keyed, password=Env.secret))
        self.assertTrue(c.info.ssl_in_use)
        self.assertEqual(c.info.ssl_attribute("protocol")[:5], "TLSv1")
        c.autocommit = True
        cur = c.cursor()
        cur.execute("SELECT %s::int * 2", (21,))
        self.assertEqual(cur.fetchone(), (42,))
        # a big result: many TLS records
        cur.execute("SELECT g, repeat('x', 100) FROM generate_series(1, 50000) g")
        rows = cur.fetchall()
        self.assertEqual((len(rows), rows[-1][0]), (50000, 50000))
        c.close()
        messages = []
        for user, password in (("alice", "nope"), ("nobody", Env.secret)):
            with self.assertRaises(psycopg2.OperationalError) as cm:
                psycopg2.connect(dsn(Env.keyed, user=user, password=password))
            messages.append(str(cm.exception))
        self.assertIn('password authentication failed for user "alice"', messages[0])
        self.assertEqual(messages[0].replace('"alice"', '"nobody"'), messages[1])

    def test_node_pg_with_tls_and_scram(self):
        out = subprocess.run(["node", "pg_auth.mjs", str(Env.keyed.pg_port), "alice", Env.secret,
                              Env.cert], cwd=NODE_DIR, capture_output=True, text=True,
                             timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        got = json.loads(out.stdout)
        self.assertTrue(got["encrypted"])
        self.assertRegex(got["protocol"], r"^TLSv1\.[23]$")
        self.assertEqual(got["rows"], [{"n": 42, "u": True}])
        self.assertEqual(got["wrong"], {"code": "28P01", "message":
                                        'password authentication failed for user "alice"'})
        self.assertEqual(got["unknown"], {"code": "28P01", "message":
                                          'password authentication failed for user "nobody"'})

    def test_the_exchange_byte_by_byte(self):
        first, out, want = scram_login(Env.keyed.pg_port, "alice", Env.secret)
        self.assertEqual([t for t, _ in out][:2], [b"R", b"R"])
        self.assertEqual(out[0][1], struct.pack("!i", 12) + want)
        self.assertEqual(out[1][1], struct.pack("!i", 0))
        self.assertEqual(out[-1], (b"Z", b"I"))
        # the same with the gs2 flag y (a client that could bind the channel), in the clear
        _, out, want = scram_login(Env.keyed.pg_port, "alice", Env.secret, tls=False, gs2=b"y,,")
        self.assertEqual(out[0][1], struct.pack("!i", 12) + want)

    def test_unknown_user_looks_like_a_wrong_secret(self):
        def salt_and_error(user, password):
            first, out, _ = scram_login(Env.keyed.pg_port, user, password)
            attrs = dict(a.split(b"=", 1) for a in first.split(b","))
            self.assertEqual([t for t, _ in out], [b"E"])
            return attrs[b"s"], attrs[b"i"], error_fields(out[0][1])

        s1, i1, e1 = salt_and_error("alice", "wrong")
        s2, i2, e2 = salt_and_error("nobody", "wrong")
        s3, _, _ = salt_and_error("nobody", "other")
        s4, _, _ = salt_and_error("somebody", "wrong")
        s5, _, _ = salt_and_error("alice", "other")
        self.assertEqual((s1, s2), (s5, s3))            # stable salts, known or not
        self.assertNotEqual(s2, s4)
        self.assertEqual((len(base64.b64decode(s2)), i2), (len(base64.b64decode(s1)), i1))
        self.assertEqual((e1["S"], e1["C"]), ("FATAL", "28P01"))
        self.assertEqual(e1["M"].replace("alice", "X"), e2["M"].replace("nobody", "X"))
        self.assertEqual(set(e1), set(e2))

    def test_key_without_query_scope(self):
        r = psql(dsn(Env.keyed, user="feeder"), "SELECT 1", Env.ingest_secret)
        self.assertEqual(r.returncode, 2)
        self.assertIn('FATAL:  key "feeder" may not run SQL', r.stderr)

    def test_garbage_sasl_messages(self):
        port = Env.keyed.pg_port
        cases = [
            (sasl_initial(b"n,,n=,r=abc", b"SCRAM-SHA-256-PLUS"), "invalid SASL authentication"),
            (sasl_initial(b"p=tls-server-end-point,,n=,r=abc"), "channel binding"),
            (sasl_initial(b"n,a=root,n=,r=abc"), "authorization identity"),
            (sasl_initial(b"\x00\xff garbage"), "malformed SCRAM message"),
            (sasl_initial(b"n,,n=,r="), "malformed SCRAM message"),
            (msg(b"p", b"SCRAM-SHA-256\x00" + struct.pack("!i", 99) + b"short"), "SASL"),
            (msg(b"p", b"SCRAM-SHA-256"), "SASL"),
            (msg(b"Q", b"SELECT 1\x00"), "expected a SASL response"),
            (b"p" + struct.pack("!i", 1 << 20), "invalid SASL message length"),
        ]
        for data, text in cases:
            s = sasl_start(port, "alice")
            s.sendall(data)
            t, body = read_msg(s)
            self.assertEqual(t, b"E", data)
            f = error_fields(body)
            self.assertEqual((f["S"], f["C"]), ("FATAL", "08P01"), f)
            self.assertIn(text, f["M"] + f.get("D", ""))
            self.assertTrue(closed(s))
            s.close()
        # a client-final-message that is garbage, or not for this exchange
        for final in (b"garbage", b"c=biws,r=other,p=" + base64.b64encode(bytes(32)),
                      b"c=eSws,r=%s,p=" + base64.b64encode(bytes(32))):
            s = sasl_start(port, "alice")
            s.sendall(sasl_initial(b"n,,n=,r=abcdef"))
            t, body = read_msg(s)
            self.assertEqual(t, b"R")
            nonce = dict(a.split(b"=", 1) for a in body[4:].split(b","))[b"r"]
            s.sendall(msg(b"p", final.replace(b"%s", nonce)))
            t, body = read_msg(s)
            f = error_fields(body)
            self.assertEqual((t, f["C"], f["M"]), (b"E", "08P01", "malformed SCRAM message"), f)
            self.assertTrue(closed(s))
            s.close()
        # clients that leave in the middle
        s = sasl_start(port, "alice")
        s.close()
        s = sasl_start(port, "alice", tls=False)
        s.sendall(sasl_initial(b"n,,n=,r=abcdef"))
        read_msg(s)
        s.close()
        # the server goes on
        c = psycopg2.connect(dsn(Env.keyed, password=Env.secret))
        c.close()


class RequireTls(unittest.TestCase):
    def test_tls_works_and_plaintext_is_refused(self):
        r = psql(dsn(Env.required), "SELECT 'over tls'")
        self.assertEqual((r.returncode, r.stdout), (0, "over tls\n"), r.stderr)
        r = psql(dsn(Env.required, sslmode="disable"), "SELECT 1")
        self.assertEqual(r.returncode, 2)
        self.assertIn("FATAL:  this server accepts only TLS connections", r.stderr)
        with self.assertRaises(psycopg2.OperationalError) as cm:
            psycopg2.connect(dsn(Env.required, sslmode="disable"))
        self.assertIn("accepts only TLS", str(cm.exception))
        c = psycopg2.connect(dsn(Env.required, sslmode="require"))
        self.assertTrue(c.info.ssl_in_use)
        c.close()
        s = socket.create_connection(("127.0.0.1", Env.required.pg_port), timeout=10)
        s.sendall(startup_packet("x"))
        t, body = read_msg(s)
        f = error_fields(body)
        self.assertEqual((t, f["S"], f["C"]), (b"E", "FATAL", "28000"))
        self.assertIn("sslmode=require", f["D"])
        self.assertTrue(closed(s))
        s.close()

    def test_cancel_request_in_plaintext(self):
        c = psycopg2.connect(dsn(Env.required))
        c.autocommit = True
        cur = c.cursor()
        done = {}

        def go():
            try:
                cur.execute("SELECT count(*) FROM generate_series(1, 2000000000) g "
                            "WHERE g % 7 = 3")
            except Exception as e:  # noqa: BLE001
                done["error"] = e

        th = threading.Thread(target=go)
        th.start()
        time.sleep(0.5)
        c.cancel()  # libpq sends CancelRequest on a new plaintext connection
        th.join(60)
        self.assertFalse(th.is_alive())
        self.assertIsInstance(done.get("error"), psycopg2.errors.QueryCanceled)
        cur.execute("SELECT 1")
        self.assertEqual(cur.fetchone(), (1,))
        c.close()

    def test_clients_that_leave_mid_handshake(self):
        port = Env.required.pg_port
        for step in range(4):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(struct.pack("!ii", 8, 80877103))
            if step > 0:
                self.assertEqual(s.recv(1), b"S")
            if step == 2:
                s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(40))
            if step == 3:
                s.sendall(b"not tls at all" * 10)
                s.settimeout(10)
                try:
                    s.recv(100)
                except OSError:
                    pass
            s.close()
        # a finished handshake, then gone without a word
        s = tls_socket(port)
        s.close()
        c = psycopg2.connect(dsn(Env.required))
        c.close()


class IdleTimeout(unittest.TestCase):
    def test_two_queries_in_one_tls_record(self):
        s = tls_session(Env.idle.pg_port)
        # one sendall: one TLS record holding both queries; the second is read from
        # OpenSSL's buffer at once, not after the idle timeout
        t0 = time.monotonic()
        s.sendall(msg(b"Q", b"SELECT 1\x00") + msg(b"Q", b"SELECT 2\x00"))
        types = []
        while types.count(b"Z") < 2:
            t, body = read_msg(s)
            self.assertIsNotNone(t)
            self.assertNotEqual(t, b"E", error_fields(body) if t == b"E" else None)
            types.append(t)
        self.assertLess(time.monotonic() - t0, 0.9)
        s.close()

    def test_idle_tls_connection_is_closed(self):
        s = tls_session(Env.idle.pg_port)
        t0 = time.monotonic()
        s.settimeout(30)
        t, body = read_msg(s)
        f = error_fields(body)
        self.assertEqual((t, f["S"], f["C"]), (b"E", "FATAL", "57P05"))
        self.assertGreater(time.monotonic() - t0, 0.8)
        self.assertTrue(closed(s))
        s.close()
        # libpq sees the connection closed (it reports the close, not the FATAL, as it does
        # for PostgreSQL's idle_session_timeout)
        c = psycopg2.connect(dsn(Env.idle))
        self.assertTrue(c.info.ssl_in_use)
        time.sleep(2.5)
        with self.assertRaises(psycopg2.OperationalError):
            c.cursor().execute("SELECT 1")
        c.close()


class StartupErrors(unittest.TestCase):
    def serve(self, *args):
        data = tempfile.mkdtemp(prefix="sl-pgauth-data-", dir=Env.tmp)
        r = subprocess.run([sltest.binary(), "serve", "--data", data, "--listen", "127.0.0.1:0",
                            "--pg-listen", "127.0.0.1:0", *args], capture_output=True,
                           text=True, timeout=60, stdin=subprocess.DEVNULL)
        return r

    def test_malformed_keys_file(self):
        path = os.path.join(Env.tmp, "bad-keys")
        with open(Env.keys) as f:
            good = f.read()
        with open(path, "w") as f:
            f.write(good + "carol query\n")
        os.chmod(path, 0o600)
        nlines = good.count("\n")
        r = self.serve("--keys", path)
        self.assertEqual(r.returncode, 1)
        self.assertIn("keys file %s, line %d: expected three fields" % (path, nlines + 1),
                      r.stderr)
        self.assertEqual(r.stdout, "")
        r = self.serve("--keys", os.path.join(Env.tmp, "missing"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("No such file or directory", r.stderr)
        r = run(sltest.binary(), "keys", "list", path)
        self.assertEqual(r.returncode, 1)
        self.assertIn("line %d" % (nlines + 1), r.stderr)

    def test_bad_certificates(self):
        other_cert, other_key = make_cert(Env.tmp, "other")
        cases = [
            (["--tls-cert", os.path.join(Env.tmp, "nope.pem"), "--tls-key", Env.key],
             "--tls-cert %s: No such file" % os.path.join(Env.tmp, "nope.pem")),
            (["--tls-cert", Env.cert, "--tls-key", other_key], "does not match"),
            (["--tls-cert", Env.keys, "--tls-key", Env.key], "not a PEM certificate"),
            (["--tls-cert", Env.cert, "--tls-key", Env.cert], "not a PEM private key"),
            (["--tls-cert", Env.cert], "--tls-cert and --tls-key go together"),
            (["--pg-require-tls"], "--pg-require-tls needs --tls-cert and --tls-key"),
        ]
        for args, text in cases:
            r = self.serve(*args)
            self.assertEqual(r.returncode, 1, args)
            self.assertIn(text, r.stderr, args)
            self.assertEqual(r.stdout, "", args)


if __name__ == "__main__":
    unittest.main(verbosity=2)
