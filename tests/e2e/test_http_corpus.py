#!/usr/bin/python3
"""Replays a corpus of nasty raw HTTP requests against a real server.

Each file in corpus/http/ is sent as-is on a fresh connection.  Its name starts with
what the server must do: an exact status (404-...), a class (4xx-..., 5xx-...), or
"any-" (any reply, no reply, or closing the connection, is fine).  Three requests too large to
keep as files (huge header, huge URL, many headers) are generated here.  After each
one the server must still answer /health, and at the end nothing may be stored.
"""

import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "http")
HOST = b"Host: 127.0.0.1\r\n"


def generated():
    return {
        "4xx-huge-header": b"GET /health HTTP/1.1\r\n" + HOST + b"X-Big: " + b"a" * 400000 +
                           b"\r\n\r\n",
        "4xx-huge-url": b"GET /" + b"a" * 400000 + b" HTTP/1.1\r\n" + HOST + b"\r\n",
        "4xx-many-headers": b"GET /health HTTP/1.1\r\n" + HOST +
                            b"".join(b"X-H%d: v\r\n" % i for i in range(20000)) + b"\r\n",
    }


def corpus():
    cases = {}
    for name in sorted(os.listdir(CORPUS)):
        if name.endswith(".req"):
            with open(os.path.join(CORPUS, name), "rb") as f:
                cases[name[:-4]] = f.read()
    cases.update(generated())
    return cases


def send_raw(host, port, data, timeout=20):
    """Sends data, half-closes, returns the status code or None if closed silently."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may stop reading and close early; read what it said
        reply = b""
        while not reply.endswith(b"\r\n\r\n") and len(reply) < 65536:
            try:
                chunk = s.recv(4096)
            except OSError:
                break
            if not chunk:
                break
            reply += chunk
            if b"\r\n" in reply:
                break
    finally:
        s.close()
    line = reply.split(b"\r\n", 1)[0].split()
    if len(line) >= 2 and line[0].startswith(b"HTTP/") and line[1].isdigit():
        return int(line[1])
    return None


class HttpCorpusTest(unittest.TestCase):
    def test_corpus(self):
        srv = sltest.Server(args=["--threads", "2", "--max-body-bytes", "1048576"])
        try:
            for name, data in corpus().items():
                with self.subTest(name):
                    # A body cut short gets no reply: the server waits for the rest
                    # until its connection timeout; do not wait that long here.
                    status = send_raw(srv.host, srv.port, data,
                                      timeout=2 if "cut-short" in name else 20)
                    want = name.split("-", 1)[0]
                    if want == "any":
                        pass
                    elif want.endswith("xx"):
                        # A class: that status class, or a closed connection.
                        if status is not None:
                            self.assertEqual(status // 100, int(want[0]), status)
                    else:
                        self.assertEqual(status, int(want))
                    self.assertEqual(srv.get("/health")[0], 200, "server unhealthy after " + name)
            self.assertEqual(sltest.blob_files(srv.data_dir), [])
            self.assertEqual(sltest.temp_files(srv.data_dir), [])
            self.assertEqual(sltest.rows(srv.data_dir, "processes"), [])
            self.assertEqual(srv.stop(), 0, srv.log_text())
        finally:
            srv.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
