"""sltest - shared helpers for streamlake end-to-end tests (standard library only).

What is here:
  * Server: starts `BUILD/streamlake serve --data DIR --listen 127.0.0.1:0`, reads the
    port from the line "streamlake: listening on http://HOST:PORT", talks HTTP to it,
    and stops it by its PID (SIGTERM, or SIGKILL to simulate a crash).
  * An encoder of the block format written from docs/internals/block-format.md and
    src/wire/*.c's layout, independently of the C code: process, stream and block
    messages, and payloads with codec 0 (none).
  * xxh3_64: the payload body hash.  Python's standard library has no XXH3, so it is
    called through ctypes from the system's libxxhash (Debian libxxhash0, which the
    build needs anyway); that keeps the hash independent of streamlake's own code.

The build directory under test comes from the SL_BUILD_DIR environment variable
(ctest sets it for each build), else ./build.
"""

import atexit
import ctypes
import ctypes.util
import http.client
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import uuid

WIRE_VERSION = 1
BLOCK_HDR = 120
PAYLOAD_HDR = 96

# Event types and descriptor kinds (the numbers are the bytes on the wire).
EV_SPAN_BEGIN, EV_SPAN_END = 1, 2
EV_NAMED_SPAN_BEGIN, EV_NAMED_SPAN_END = 3, 4
EV_ASYNC_BEGIN, EV_ASYNC_END = 5, 6
EV_LOG, EV_LOG_FMT = 7, 8
EV_METRIC_INT, EV_METRIC_FLOAT = 9, 10
DESC_SPAN, DESC_LOG, DESC_METRIC = 1, 2, 3


def build_dir():
    return os.environ.get("SL_BUILD_DIR") or os.path.join(os.getcwd(), "build")


def binary():
    return os.path.join(build_dir(), "streamlake")


# ------------------------------------------------------------------ hashing

_xxh = None


def xxh3_64(data):
    """XXH3-64 (seed 0) of bytes, via the system libxxhash."""
    global _xxh
    if _xxh is None:
        name = ctypes.util.find_library("xxhash") or "libxxhash.so.0"
        lib = ctypes.CDLL(name)
        lib.XXH3_64bits.restype = ctypes.c_uint64
        lib.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        _xxh = lib
    return _xxh.XXH3_64bits(bytes(data), len(data))


# ------------------------------------------------------------------ encoder

def uvarint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def zigzag(v):
    return ((v << 1) ^ (v >> 63)) & 0xFFFFFFFFFFFFFFFF


def _prefix(magic, total):
    return magic + struct.pack("<HHII", WIRE_VERSION, 0, total, 0)


def _str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<H", len(b)) + b


def _props(props):
    out = struct.pack("<H", len(props))
    for k, v in props:
        out += _str(k) + _str(v)
    return out


def process_msg(process_id, exe="/usr/bin/app", username="ana", realname="Ana Lima",
                computer="box", distro="Debian GNU/Linux 12", cpu_brand="Xeon",
                start_time_ns=1_700_000_000_000_000_000, start_ticks=1000,
                tsc_frequency=1_000_000_000, parent=None, props=()):
    body = (process_id.bytes + (parent.bytes if parent else bytes(16)) +
            struct.pack("<qQQ", start_time_ns, start_ticks, tsc_frequency))
    for s in (exe, username, realname, computer, distro, cpu_brand):
        body += _str(s)
    body += _props(list(props))
    return _prefix(b"SLPR", 16 + len(body)) + body


def stream_msg(stream_id, process_id, tags=("cpu",), props=()):
    body = stream_id.bytes + process_id.bytes + struct.pack("<H", len(tags))
    for t in tags:
        body += _str(t)
    body += _props(list(props))
    return _prefix(b"SLST", 16 + len(body)) + body


class Body:
    """A payload body: string table, descriptors, events (ticks as zigzag deltas)."""

    def __init__(self):
        self.strings, self.string_index = [], {}
        self.descs = []
        self.events = bytearray()
        self.n_events = 0
        self.prev_ticks = 0
        self.min_ticks = None
        self.max_ticks = None

    def string(self, s):
        b = s.encode() if isinstance(s, str) else s
        if b not in self.string_index:
            self.string_index[b] = len(self.strings)
            self.strings.append(b)
        return self.string_index[b]

    def desc(self, kind, name, target="app", file="app.c", line=1, level=3, unit=""):
        d = bytes([kind]) + uvarint(self.string(name)) + uvarint(self.string(target))
        d += uvarint(self.string(file)) + uvarint(line)
        if kind == DESC_LOG:
            d += bytes([level])
        elif kind == DESC_METRIC:
            d += uvarint(self.string(unit))
        self.descs.append(d)
        return len(self.descs) - 1

    def event(self, etype, ticks, desc, extra=b""):
        self.events.append(etype)
        self.events += uvarint(zigzag(ticks - self.prev_ticks))
        self.events += uvarint(desc) + extra
        self.prev_ticks = ticks
        self.min_ticks = ticks if self.min_ticks is None else min(self.min_ticks, ticks)
        self.max_ticks = ticks if self.max_ticks is None else max(self.max_ticks, ticks)
        self.n_events += 1

    def encode(self):
        out = bytearray(uvarint(len(self.strings)))
        for s in self.strings:
            out += uvarint(len(s)) + s
        out += uvarint(len(self.descs))
        for d in self.descs:
            out += d
        out += uvarint(self.n_events) + self.events
        return bytes(out)


def span_body(n_pairs, first_tick=100, step=10):
    """A body of n_pairs nested-free span begin/end pairs on one descriptor."""
    b = Body()
    d = b.desc(DESC_SPAN, "work", line=42)
    t = first_tick
    for _ in range(n_pairs):
        b.event(EV_SPAN_BEGIN, t, d)
        b.event(EV_SPAN_END, t + step // 2, d)
        t += step
    return b


def payload(body, block_id, stream_id, process_id, begin_ticks=None, end_ticks=None,
            version=WIRE_VERSION):
    """A payload with codec 0: 96-byte header + the body stored as is."""
    raw = body.encode()
    begin = body.min_ticks if begin_ticks is None else begin_ticks
    end = body.max_ticks if end_ticks is None else end_ticks
    hdr = b"SLPL" + struct.pack("<HBB", version, 0, 0)
    hdr += block_id.bytes + stream_id.bytes + process_id.bytes
    hdr += struct.pack("<qqIIIIQ", begin, end, body.n_events, len(raw), len(raw), 0,
                       xxh3_64(raw))
    assert len(hdr) == PAYLOAD_HDR
    return hdr + raw


def block_msg(block_id, stream_id, process_id, pl, nb_objects, begin_ticks, end_ticks,
              begin_time_ns=1_700_000_000_000_000_100, end_time_ns=1_700_000_000_001_000_000,
              object_offset=0):
    hdr = _prefix(b"SLBK", BLOCK_HDR + len(pl))
    hdr += block_id.bytes + stream_id.bytes + process_id.bytes
    hdr += struct.pack("<qqqqQQII", begin_time_ns, end_time_ns, begin_ticks, end_ticks,
                       nb_objects, object_offset, len(pl), 0)
    assert len(hdr) == BLOCK_HDR
    return hdr + pl


class Block:
    """One ready-to-send block with its ids and payload bytes."""

    def __init__(self, stream_id, process_id, body, block_id=None, object_offset=0):
        self.block_id = block_id or uuid.uuid4()
        self.stream_id, self.process_id = stream_id, process_id
        self.nb_objects = body.n_events
        self.payload = payload(body, self.block_id, stream_id, process_id)
        self.msg = block_msg(self.block_id, stream_id, process_id, self.payload,
                             body.n_events, body.min_ticks, body.max_ticks,
                             object_offset=object_offset)

    def key(self):
        return "blobs/%s/%s/%s" % (self.process_id, self.stream_id, self.block_id)


# ------------------------------------------------------------------ shared stores

# SL_TEST_META=postgres runs every Server on a throwaway PostgreSQL 15 (one database
# per data directory, so servers of one test stay apart as with SQLite);
# SL_TEST_OBJECTS=s3 puts their objects in s3rver (one prefix per data directory).
_shared = {"pg": None, "s3": None, "stores": {}}


def test_meta():
    return os.environ.get("SL_TEST_META", "sqlite")


def test_objects():
    return os.environ.get("SL_TEST_OBJECTS", "local")


def store_shared():
    """True when servers run on shared metadata (several servers could use it)."""
    return test_meta() == "postgres"


def local_stores():
    """True when metadata is the data directory's SQLite and objects its files."""
    return test_meta() == "sqlite" and test_objects() == "local"


def _stop_shared():
    for k in ("pg", "s3"):
        if _shared[k]:
            _shared[k].stop()
            if hasattr(_shared[k], "cleanup"):
                _shared[k].cleanup()
            _shared[k] = None


def pg_cluster():
    """The process's throwaway PostgreSQL (started on first use, stopped at exit)."""
    if not _shared["pg"]:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sql"))
        from pgcluster import PgCluster
        _shared["pg"] = PgCluster(max_connections=200)
        atexit.register(_stop_shared)
    return _shared["pg"]


def s3_server():
    """The process's s3rver (started on first use, stopped at exit)."""
    if not _shared["s3"]:
        from test_s3 import S3rver
        _shared["s3"] = S3rver()
        atexit.register(_stop_shared)
    return _shared["s3"]


S3_KEYS = {"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER",
           "AWS_REGION": "us-east-1"}


def store_args(data_dir):
    """serve arguments for the configured stores; the same ones for the same data_dir."""
    if local_stores():
        return []
    name = _shared["stores"].get(data_dir)
    if not name:
        name = "sl_%d_%d" % (os.getpid(), len(_shared["stores"]))
        _shared["stores"][data_dir] = name
        if test_meta() == "postgres":
            pg_cluster().psql("CREATE DATABASE %s" % name)
    args = []
    if test_meta() == "postgres":
        args += ["--meta", pg_cluster().url(name)]
    if test_objects() == "s3":
        args += ["--objects", "s3://lake/" + name, "--s3-endpoint", s3_server().endpoint]
    return args


# ------------------------------------------------------------------ server

class Server:
    """A `streamlake serve` child process on a free loopback port."""

    def __init__(self, data_dir=None, args=(), ready_timeout=30, self_trace=False, env=None):
        self.owns_dir = data_dir is None
        self.env = env  # extra environment variables for the server (test switches)
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="sl-e2e-")
        # Tests count what they store: the server's own process (on by default in
        # `serve`) only where a test asks for it.
        self.args = list(args) + ([] if self_trace else ["--no-self-trace"])
        self.ready_timeout = ready_timeout
        self.proc = None
        self.port = None
        self.start()

    def start(self, same_port=False):
        """Starts the server (again: same_port keeps its HTTP port, for clients that
        go on sending to it)."""
        self._drop_log()
        self.log_path = os.path.join(tempfile.gettempdir(),
                                     "sl-e2e-%d-%d.log" % (os.getpid(), time.monotonic_ns()))
        self.log = open(self.log_path, "wb")
        cmd = [binary(), "serve", "--data", self.data_dir,
               "--listen", "127.0.0.1:%d" % (self.port if same_port else 0)]
        # the PostgreSQL protocol on a free port too (its default one would be shared)
        pg = "--no-pg" not in self.args
        if pg and not any(a.startswith("--pg-listen") for a in self.args):
            cmd += ["--pg-listen", "127.0.0.1:0"]
        extra = [] if "--meta" in self.args or "--objects" in self.args else \
            store_args(self.data_dir)
        # s3rver's keys unless the environment names others (a test may, on purpose)
        env = dict(S3_KEYS, **os.environ) if "--objects" in extra else None
        if self.env:
            env = dict(env or os.environ, **self.env)
        self.proc = subprocess.Popen(cmd + self.args + extra, stdout=subprocess.PIPE,
                                     stderr=self.log, stdin=subprocess.DEVNULL, env=env)
        line = self._read_line(self.ready_timeout)
        m = re.match(r"streamlake: listening on http://([0-9.]+):(\d+)$", line)
        if not m:
            self.kill()
            raise RuntimeError("server did not start: %r; log:\n%s" % (line, self.log_text()))
        self.host, self.port = m.group(1), int(m.group(2))
        self.pg_port = None
        if pg:
            line = self._read_line(self.ready_timeout)
            m = re.match(r"streamlake: postgres on ([0-9.]+):(\d+)$", line)
            if not m:
                self.kill()
                raise RuntimeError("no PostgreSQL listener: %r; log:\n%s" % (line, self.log_text()))
            self.pg_port = int(m.group(2))

    def _read_line(self, timeout):
        fd = self.proc.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + timeout
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                break
            chunk = os.read(fd, 1)
            if not chunk:
                break
            buf += chunk
        return buf.decode(errors="replace").strip()

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def wait_log(self, text, timeout=30):
        """True once the server's log holds text (what a job's thread logs comes a
        moment after the server is up), False after timeout seconds."""
        deadline = time.monotonic() + timeout
        while text not in self.log_text():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    def request(self, method, path, body=None, headers=None, timeout=60):
        """One request on a fresh connection: (status, headers dict, body bytes)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            conn.close()

    def post(self, path, body, **kw):
        return self.request("POST", path, body, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def get_json(self, path):
        import json
        status, _, data = self.get(path)
        if status != 200:
            raise AssertionError("GET %s: %d %r" % (path, status, data))
        return json.loads(data)

    def stop(self, timeout=60):
        """SIGTERM and wait; returns the exit code."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self._finish()

    def kill(self):
        """SIGKILL (a crash, as far as the server knows) and reap."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        return self._finish()

    def _finish(self):
        code = self.proc.returncode if self.proc else None
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        if not self.log.closed:
            self.log.close()
        return code

    def restart(self):
        self.stop()
        self.start()

    def _drop_log(self):
        path = getattr(self, "log_path", None)
        if path:
            try:
                os.unlink(path)
            except OSError:
                pass

    def cleanup(self):
        self.kill()
        self._drop_log()
        if self.owns_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


# ------------------------------------------------------------------ storage inspection

# The object store of a data directory, as the tests see it: the directory's own files,
# or (SL_TEST_OBJECTS=s3) what s3rver answers through the S3 API under the directory's
# prefix: ListObjectsV2, GetObject and PutObject requests on its HTTP port.  s3rver
# takes unsigned requests as anonymous ones, so these need no signing of their own and
# do not go through streamlake's S3 client.

def _s3_prefix(data_dir):
    return _shared["stores"][data_dir] + "/"


def _s3_request(method, path, body=None):
    import urllib.parse
    s3 = s3_server()
    conn = http.client.HTTPConnection("127.0.0.1", s3.port, timeout=60)
    try:
        conn.request(method, "/lake" + urllib.parse.quote(path, safe="/?=&-_.~%"), body=body)
        r = conn.getresponse()
        data = r.read()
        if r.status // 100 != 2:
            raise AssertionError("s3rver: %s %s: %d %r" % (method, path, r.status, data[:300]))
        return data
    finally:
        conn.close()


def _s3rver_finished(key):
    """Whether s3rver finished the PUT of this key.  s3rver writes a PUT's body straight
    into the object's file and its metadata file last, so a PUT cut off mid-body (a
    client killed by SIGKILL) leaves a short file that its listing shows.  S3 stores
    nothing for an interrupted PUT, so the tests do not count such a file as an object."""
    parts = key.split("/")
    meta = os.path.join(s3_server().dir, "lake", *parts[:-1],
                        parts[-1] + "._S3rver_metadata.json")
    return os.path.exists(meta)


def object_keys(data_dir, prefix=""):
    """Sorted keys (relative to the store's root) of every object whose key starts with prefix."""
    if test_objects() != "s3":
        out = []
        root = os.path.join(data_dir, prefix.rstrip("/")) if prefix else data_dir
        for dirpath, dirs, files in os.walk(root):
            if dirpath == data_dir:
                dirs[:] = [d for d in dirs if d in ("blobs", "views")]
                continue
            out.extend(os.path.relpath(os.path.join(dirpath, f), data_dir) for f in files)
        return sorted(k for k in out if k.startswith(prefix))
    import urllib.parse
    import xml.etree.ElementTree as ET
    base = _s3_prefix(data_dir)
    out, token = [], None
    while True:
        q = "?list-type=2&max-keys=1000&prefix=" + urllib.parse.quote(base + prefix, safe="")
        if token:
            q += "&continuation-token=" + urllib.parse.quote(token, safe="")
        root = ET.fromstring(_s3_request("GET", q))
        for el in root.iter():  # element names without their namespace (s3rver's differs)
            el.tag = el.tag.rsplit("}", 1)[-1]
        out.extend(c.findtext("Key")[len(base):] for c in root.iter("Contents"))
        if root.findtext("IsTruncated") != "true":
            return sorted(k for k in out if _s3rver_finished(base + k))
        token = root.findtext("NextContinuationToken")


def read_object(data_dir, key):
    """The stored bytes of one object."""
    if test_objects() != "s3":
        with open(os.path.join(data_dir, key), "rb") as f:
            return f.read()
    return _s3_request("GET", "/" + _s3_prefix(data_dir) + key)


def overwrite_object(data_dir, key, data):
    """Replaces an object's bytes behind the server's back (tests of damaged storage)."""
    if test_objects() != "s3":
        with open(os.path.join(data_dir, key), "r+b") as f:
            f.truncate(0)
            f.write(data)
        return
    _s3_request("PUT", "/" + _s3_prefix(data_dir) + key, data)


def object_file(data_dir, key):
    """A local file with the object's bytes, for tools that read files (DuckDB): the
    object itself in a local store, else a copy removed at exit."""
    if test_objects() != "s3":
        return os.path.join(data_dir, key)
    fd, path = tempfile.mkstemp(prefix="sl-obj-", suffix=os.path.splitext(key)[1])
    with os.fdopen(fd, "wb") as f:
        f.write(read_object(data_dir, key))
    atexit.register(lambda: os.path.exists(path) and os.unlink(path))
    return path


def blob_files(data_dir):
    """Keys of every payload object (blobs/PROCESS/STREAM/BLOCK)."""
    return object_keys(data_dir, "blobs/")


def temp_files(data_dir):
    """Leftovers of unfinished puts: the local store's temp files (its .lock file is not
    one), or in s3rver the multipart uploads begun under the directory's prefix and
    neither completed nor aborted (s3rver keeps each in BUCKET/._S3rver_uploads/ID/key;
    it does not answer ListMultipartUploads)."""
    if test_objects() != "s3":
        d = os.path.join(data_dir, ".tmp")
        return sorted(f for f in os.listdir(d) if not f.startswith(".")) \
            if os.path.isdir(d) else []
    up = os.path.join(s3_server().dir, "lake", "._S3rver_uploads")
    out = []
    for upload in sorted(os.listdir(up)) if os.path.isdir(up) else []:
        try:
            with open(os.path.join(up, upload, "key")) as f:
                key = f.read()
        except OSError:
            continue
        if key.startswith(_s3_prefix(data_dir)):
            out.append(key)
    return out


def pg_rows(data_dir, sql):
    """Rows (dicts) of a query on the PostgreSQL database of data_dir (SL_TEST_META=postgres)."""
    import json as _json
    out = pg_cluster().psql("SELECT coalesce(json_agg(q), '[]') FROM (%s) q" % sql,
                            _shared["stores"][data_dir])
    return _json.loads(out)


def partition_rows(data_dir, current_only=True):
    """(view, instance, file_path) of the lake's partition rows (current ones by default)."""
    where = " WHERE retired = 0" if current_only else ""
    if test_meta() == "postgres":
        return [(r["view_set_name"], r["view_instance_id"], r["file_path"]) for r in pg_rows(
            data_dir, "SELECT view_set_name, view_instance_id, file_path FROM "
            "lakehouse_partitions" + where)]
    import sqlite3
    path = os.path.join(data_dir, "meta.sqlite")
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        return con.execute("SELECT view_set_name, view_instance_id, file_path FROM "
                           "lakehouse_partitions" + where).fetchall()
    finally:
        con.close()


def rows(data_dir, table):
    """Every row of a metadata table, read with Python's own sqlite3 (read-only), or from
    PostgreSQL (uuids as text, as SQLite stores them)."""
    if test_meta() == "postgres":
        return pg_rows(data_dir, "SELECT * FROM %s" % table)
    import sqlite3
    path = os.path.join(data_dir, "meta.sqlite")
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute("SELECT * FROM %s" % table)]
    finally:
        con.close()
