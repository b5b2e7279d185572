#!/usr/bin/env python3
"""Checks docs/internals/block-format.md against the code.

Every example in the document is introduced by a comment line
    <!-- example: FILE valid -->        or
    <!-- example: FILE rejects: TEXT -->
followed by a ```hex block.  For each one this test checks that
  * FILE exists in the wire fuzz corpus and holds exactly those bytes, and
  * `streamlake decode FILE` accepts it (valid) or refuses it with an error
    containing TEXT (rejects).
It also checks that every corpus file named anywhere in the document exists, so
the document cannot describe inputs the fuzzer does not replay.

usage: doc_examples.py DOC CORPUS_DIR STREAMLAKE_BINARY
"""
import json
import os
import re
import subprocess
import sys


def main():
    doc, corpus, binary = sys.argv[1:4]
    text = open(doc, encoding="utf-8").read()
    pattern = re.compile(
        r"<!-- example: (\S+) (valid|rejects: ([^>]*?)) -->\s*```hex\n(.*?)```", re.S)
    passed = failed = 0
    examples = pattern.findall(text)
    if not examples:
        print("no examples found in", doc)
        failed += 1
    for name, verdict, reason, hexdump in examples:
        problems = []
        want = bytes.fromhex("".join(hexdump.split()))
        path = os.path.join(corpus, name)
        if not os.path.exists(path):
            problems.append("not in the corpus")
        elif open(path, "rb").read() != want:
            problems.append("corpus file differs from the document's hex")
        else:
            out = subprocess.run([binary, "decode", path], capture_output=True, text=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            if verdict == "valid" and "error" in result:
                problems.append("refused: " + result["error"])
            if verdict != "valid":
                if "error" not in result:
                    problems.append("accepted, but the document says it is refused")
                elif reason.strip() not in result["error"]:
                    problems.append("error %r lacks %r" % (result["error"], reason.strip()))
        status = "FAIL" if problems else "ok  "
        print("%s %s %s" % (status, name, "; ".join(problems)))
        failed += bool(problems)
        passed += not problems
    for name in sorted(set(re.findall(r"`([a-z0-9-]+\.bin)`", text))):
        ok = os.path.exists(os.path.join(corpus, name))
        print("%s %s named in the text" % ("ok  " if ok else "FAIL", name))
        passed += ok
        failed += not ok
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
