#!/usr/bin/python3
"""Every ```sql example in docs/sql.md runs, in order, without an error.

A server ingests one `streamlake loadgen` process; '<process_id>' and
'<stream_id>' in the examples become its id and one of its threads'.  An
example that fails (SQLSTATE, message) fails the test with its text, so the
reference never shows a query that does not work.
"""
import json
import os
import re
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import sltest  # noqa: E402

DOC = os.path.join(HERE, "..", "..", "docs", "sql.md")


class Docs(unittest.TestCase):
    def test_every_example_runs(self):
        with open(DOC) as f:
            examples = re.findall(r"```sql\n(.*?)```", f.read(), re.S)
        self.assertGreater(len(examples), 10)
        srv = sltest.Server()
        try:
            out = subprocess.run([sltest.binary(), "loadgen", "--json", "--server", srv.url,
                                  "--threads", "3", "--spans", "2000", "--async", "20",
                                  "--logs", "50", "--metrics", "50"],
                                 capture_output=True, text=True, timeout=600)
            self.assertEqual(out.returncode, 0, out.stderr)
            pid = json.loads(out.stdout.strip().splitlines()[-1])["process_id"]
            sid = [s["stream_id"] for s in srv.get_json("/api/processes/%s/streams" % pid)
                   if "cpu" in s["tags"]][0]
            for ex in examples:
                sql = ex.replace("<process_id>", pid).replace("<stream_id>", sid)
                st, _, body = srv.post("/api/query", json.dumps({"sql": sql}).encode(),
                                       timeout=300)
                lines = [json.loads(x) for x in body.decode().splitlines()]
                errors = [x for x in lines if isinstance(x, dict) and "error" in x]
                self.assertEqual((st, errors), (200, []), sql)
                self.assertIn("end", lines[-1], sql)
        finally:
            code = srv.stop()
            log = srv.log_text()
            srv.cleanup()
        self.assertEqual(code, 0, log[-3000:])


if __name__ == "__main__":
    unittest.main()
