"""make demo's main job (scripts/demo.sh), smaller, against this build's binary.

The README's first command must keep working: the demo runs once (DEMO_ONCE=1)
with 4 threads and 200,000 Nexmark events a generator, into a temporary data
directory, and every step it shows is checked: the continuous job over the live
telemetry read every span the loadgen recorded and closed its windows (the demo
exits 3 when a wait gives up), the job reading its view caught up, the two
Nexmark joins finished, the Perfetto trace and the analysis report were written,
and psql read spans through the PostgreSQL protocol.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
THREADS, SPANS = 4, 2000


class Demo(unittest.TestCase):
    def test_demo_once(self):
        tmp = tempfile.mkdtemp(prefix="sl-demo-")
        try:
            trace = os.path.join(tmp, "demo.pftrace")
            env = dict(os.environ, DEMO_ONCE="1", DEMO_BIN=sltest.binary(),
                       DEMO_DATA=os.path.join(tmp, "data"), DEMO_TRACE=trace,
                       DEMO_THREADS=str(THREADS), DEMO_SPANS=str(SPANS), DEMO_ASYNC="20",
                       DEMO_LOGS="50", DEMO_METRICS="20", DEMO_EVENTS="200000")
            p = subprocess.run(["bash", os.path.join(ROOT, "scripts", "demo.sh")], env=env,
                               capture_output=True, text=True, timeout=900)
            out = p.stdout
            self.assertEqual(p.returncode, 0, "demo failed (%d):\n%s\n%s"
                             % (p.returncode, out[-3000:], p.stderr[-3000:]))
            self.assertNotIn("demo: ", p.stderr)
            # the continuous job read every span of the loadgen (50 per thread are
            # async, in async_events: not in thread_spans)
            m = re.search(r"^span_stats\s+\S+\s+(\d+)\s+(\d+)\s+(\d+)", out, re.M)
            self.assertTrue(m, out)
            self.assertEqual(int(m.group(1)), THREADS * SPANS, "rows read: " + m.group(0))
            self.assertEqual(int(m.group(2)), 0, "late rows: " + m.group(0))
            self.assertGreater(int(m.group(3)), 0, "windows written: " + m.group(0))
            # the two Nexmark joins finished and their views hold rows
            self.assertRegex(out, r"highest_bid \| finished \|\s+[1-9]")
            self.assertRegex(out, r"new_sellers_per_minute \| finished \|\s+[1-9]")
            # the trace, the report, psql's rows
            self.assertGreater(os.path.getsize(trace), 1000)
            rep = re.search(r"^analysis report: (\S+)", out, re.M)
            self.assertTrue(rep and os.path.getsize(rep.group(1)) > 0, out[-2000:])
            shutil.rmtree(os.path.dirname(rep.group(1)), ignore_errors=True)
            self.assertRegex(out, r"== psql, through the PostgreSQL protocol[^\n]*\n[^\n]*"
                                  r"thread_name \| spans")
            # killed and started again: the job over log_entries resumed and replayed,
            # and its view equals the batch query (the demo checked, else "demo: ")
            self.assertRegex(out, r"job logs_per_level: resuming from checkpoint \d+")
            self.assertRegex(out, r"table live_logs: worker \d+ replayed \d+ blocks")
            # ... and so did the span job, with the spans open at its checkpoint: every
            # span of both loadgen runs read once (the demo checked it)
            self.assertRegex(out, r"job span_stats: resuming from checkpoint \d+")
            self.assertIn("each of the %d spans read once" % (THREADS * SPANS + 200), out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
