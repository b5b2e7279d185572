"""pgcluster - a throwaway PostgreSQL 15 server for tests (Debian's postgresql package).

PgCluster() runs initdb into a temporary directory (C locale, UTF8, UTC), starts
postgres on 127.0.0.1 with a free port and a private socket directory, and
stop() shuts it down by its PID and removes the directory.  When the tests run
as root (CI containers do), initdb and postgres run as the `postgres` user,
which they require; the directory is handed to that user.

Only loopback: listen_addresses is 127.0.0.1, and nothing else is touched.
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

PG_BIN = "/usr/lib/postgresql/15/bin"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    def __init__(self, max_connections=20, durable=False):
        self.dir = tempfile.mkdtemp(prefix="sl-pg-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "sock")
        os.mkdir(self.sock)
        self.port = free_port()
        self.proc = None
        self.as_root = os.geteuid() == 0
        if self.as_root:
            pw = pwd.getpwnam("postgres")
            for p in (self.dir, self.sock):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        self._run([os.path.join(PG_BIN, "initdb"), "-D", self.data, "--locale=C",
                   "--encoding=UTF8", "--auth=trust", "--username=postgres", "-N"])
        log = os.path.join(self.dir, "postgres.log")
        # durable: fsync'd commits (benchmarks against fsync'd SQLite); tests skip them
        fast = [] if durable else ["-c", "fsync=off", "-c", "synchronous_commit=off",
                                   "-c", "full_page_writes=off"]
        cmd = [os.path.join(PG_BIN, "postgres"), "-D", self.data, "-p", str(self.port),
               "-k", self.sock, "-c", "listen_addresses=127.0.0.1"] + fast + [
               "-c", "timezone=UTC", "-c", "max_connections=%d" % max_connections,
               "-c", "shared_buffers=64MB"]
        self.logf = open(log, "w")
        self.proc = subprocess.Popen(self._wrap(cmd), stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("postgres exited: " + open(log).read()[-2000:])
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
                r = subprocess.run([os.path.join(PG_BIN, "pg_isready"), "-h", "127.0.0.1",
                                    "-p", str(self.port)], capture_output=True)
                if r.returncode == 0:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("postgres did not start")

    def _wrap(self, cmd):
        return (["runuser", "-u", "postgres", "--"] + cmd) if self.as_root else cmd

    def _run(self, cmd):
        r = subprocess.run(self._wrap(cmd), capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(" ".join(cmd) + ": " + r.stdout + r.stderr)

    def dsn(self):
        return "host=127.0.0.1 port=%d user=postgres dbname=postgres" % self.port

    def url(self, dbname="postgres"):
        return "postgres://postgres@127.0.0.1:%d/%s" % (self.port, dbname)

    def psql(self, sql, dbname="postgres"):
        """Runs sql with psql; its unaligned, tuples-only output."""
        r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            self.url(dbname), "-c", sql], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("psql: " + r.stderr)
        return r.stdout

    def postmaster_signal(self, sig):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                pid = int(f.readline())
            os.kill(pid, sig)
        except (OSError, ValueError):
            self.proc.send_signal(sig)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            # fast shutdown, sent to the postmaster itself: runuser (as root) does
            # not pass SIGINT on, and the wait below would run out
            self.postmaster_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.logf.close()
        shutil.rmtree(self.dir, ignore_errors=True)
