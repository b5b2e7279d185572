"""gen_checkpoint_corpus.py - seed corpus for fuzz_checkpoint: manifests and
worker parts as docs/internals/stream.md lays them out (versions 1 to 3; version 2:
kafka partitions in a position, the session state of a worker part in rows of
(bigint, text, timestamp); version 3: the manifest's sink run), valid and a few
nasty ones.  Run by hand:
python3 tests/fuzz/gen_checkpoint_corpus.py"""

import os
import struct
import zlib

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "checkpoint")


def obj(kind, seq, body, version=3):
    b = b"SLCK" + struct.pack("<HHQ", version, kind, seq) + body
    return b + struct.pack("<I", zlib.crc32(b))


def pos(offset=1234, line=40, header=1, seen=1, mx=10**18, r=39, late=1, bad=0):
    return struct.pack("<QqBBqQQQ", offset, line, header, seen, mx, r, late, bad)


def parts(k, count=None):
    """Version 2's tail of a position: K partitions (count overrides the K written)."""
    b = struct.pack("<I", k if count is None else count)
    for i in range(k):
        b += struct.pack("<iqBq", i * 3, 100 + i if i else -2, 1 if i else 0, 10**18 + i)
    return b


def tail(version, k, count):
    """A position's partitions: none in version 1."""
    return parts(k, count) if version >= 2 else b""


def manifest(seq=3, workers=2, splits=8, chunk=-1, has_pos=0, k=0, count=None, version=3,
             run=0):
    body = struct.pack("<QQIIQiB", 0xABCDEF, 1 << 20, workers, splits, 4096, chunk, has_pos)
    body += pos() + tail(version, k, count)
    if version >= 3:
        body += struct.pack("<Q", run)
    return obj(1, seq, body, version)


def cell(v):
    if v is None:
        return b"\x01"
    return b"\x00" + struct.pack("<I", len(v)) + v


def sessions(rows):
    if not rows:
        return struct.pack("<II", 0, 0)
    b = struct.pack("<II", len(rows), 3)
    for r in rows:
        b += b"".join(cell(v) for v in r)
    return b


ROWS = [(b"1", b"x", b"2024-01-01 00:00:01"), (b"1", None, b"2024-01-01 00:00:01.5"),
        (None, b"y", b"2024-01-01 00:00:09")]


def part(seq=3, worker=1, nprod=2, wins=((0, 10**10, b"\x01\x00\x00\x00" + b"\x00" * 8),),
         sess=None, version=3, k=0, count=None):
    body = struct.pack("<IiB", worker, 2, 1) + pos() + tail(version, k, count)
    body += struct.pack("<QQQBqqqI", 39, 1, 0, 1, 10**18, 10**18 - 5, 10**18 - 10, nprod)
    body += b"".join(struct.pack("<q", 10**18 - 10) for _ in range(nprod))
    body += struct.pack("<I", len(wins))
    for s, e, st in wins:
        body += struct.pack("<qqI", s, e, len(st)) + st
    if version >= 2:
        st = b"" if sess is None else sess
        body += struct.pack("<I", len(st)) + st
    return obj(2, seq, body, version)


def live(seq=3, worker=1, low=10**18, blocks=((b"\x11" * 16, 10**18 + 5),), n=None,
         version=10, spans=None):
    """A telemetry job's blocks taken (version 10): worker, low, count, (id, at)s;
    over thread_spans (version 12), then the states' length and the states."""
    body = struct.pack("<IqI", worker, low, len(blocks) if n is None else n)
    body += b"".join(i + struct.pack("<q", at) for i, at in blocks)
    if spans is not None:
        body += struct.pack("<I", len(spans)) + spans
    return obj(3, seq, body, version)


def states(entries=((b"\x21" * 16, b"\x01\x02\x04\x00"), (b"\x22" * 16, b"\x01\x00\x00\x01"
                    b"\x02\x00\x00\x06\x00\x01a\x01b\x01c")), count=None):
    """thread_spans states: count, then (stream id, length, state)s."""
    return struct.pack("<I", len(entries) if count is None else count) + b"".join(
        i + struct.pack("<I", len(st)) + st for i, st in entries)


def gauges(series=(('{target="a"}', (0.0, 3.0)), ('{target=""}', (0.0, 1.5))), ncols=2,
           version=11, tail=b""):
    """A metrics sink's gauges (version 11): series, columns, then each series."""
    body = struct.pack("<II", len(series), ncols)
    for lab, vals in series:
        body += struct.pack("<I", len(lab)) + lab.encode() + struct.pack("<%dd" % len(vals), *vals)
    return obj(4, 5, body + tail, version)


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {
        "manifest": manifest(),
        "manifest_cut": manifest(chunk=5, has_pos=1),
        "manifest_bad_chunk": manifest(chunk=9),
        "part": part(),
        "part_empty": part(wins=()),
        "part_many": part(wins=[(i * 10, i * 10 + 10, bytes([i]) * i) for i in range(20)]),
        "part_unsorted": part(wins=((20, 30, b""), (10, 20, b""))),
        "part_len_past_end": part()[:-9] + b"\xff\xff\xff\xff" + part()[-5:],
        "truncated": manifest()[:30],
        "manifest_v1": manifest(version=1),
        "v2_manifest_kafka": manifest(has_pos=1, k=2),
        "v2_part_kafka": part(k=3),
        "v2_part_count_past_end": part(k=2, count=1 << 30),
        "v2_part_too_many": part(k=1, count=257),
        "v4_unknown_version": obj(1, 4, b"", version=4),
        "v2_manifest": manifest(version=2),
        "v2_part": part(version=2),
        "v3_manifest_table": manifest(run=0x1234ABCD5678EF01),
        "v3_manifest_run_cut": manifest(run=7)[:-8] + manifest(run=7)[-4:],
        "part_v1": part(version=1),
        "part_sessions": part(wins=(), sess=sessions(ROWS)),
        "part_sessions_none": part(wins=(), sess=sessions([])),
        "part_sessions_bad_time": part(wins=(), sess=sessions([(b"1", b"x", b"yesterday!")])),
        "part_sessions_many_rows": part(wins=(), sess=struct.pack("<II", 1 << 30, 3) + b"\x01" * 9),
        "part_kafka_sessions": part(k=2, sess=sessions(ROWS)),
        # version 6: a join of windows' part per source (no producers, no windows,
        # the held rows in the session section)
        "v6_part_join": part(nprod=0, wins=(), sess=sessions(ROWS), version=6),
        "v6_manifest_join": manifest(splits=2, version=6),
        "v7_unknown_version": obj(1, 4, b"", version=7),
        # version 10: a telemetry job's live-I object
        "v10_live": live(),
        "v10_live_empty": live(blocks=()),
        "v10_live_many": live(blocks=[(bytes([i]) * 16, 10**18 + i) for i in range(40)]),
        "v10_live_count_past_end": live(n=1 << 30),
        "v10_live_short": live()[:-10] + live()[-4:],
        "v9_live": live(version=9),
        # version 11: a metrics sink's gauges
        "v11_gauges": gauges(),
        "v11_gauges_empty": gauges(series=()),
        "v11_gauges_dup": gauges(series=(('{t="a"}', (0.0, 1.0)), ('{t="a"}', (0.0, 2.0)))),
        "v11_gauges_cols": gauges(ncols=3),
        "v11_gauges_nobrace": gauges(series=(('t="a"', (0.0, 1.0)),)),
        "v11_gauges_trailing": gauges(tail=b"\x00"),
        "v10_gauges": gauges(version=10),
        # version 12: a job over thread_spans ends live-I with its streams' states
        "v12_live_spans": live(spans=states(), version=12),
        "v12_live_spans_none": live(spans=states(()), version=12),
        "v12_live_spans_no_blocks": live(blocks=(), spans=states(), version=12),
        "v12_live_spans_dup": live(spans=states(((b"\x21" * 16, b"\x01"),
                                                 (b"\x21" * 16, b"\x02"))), version=12),
        "v12_live_spans_count_past_end": live(spans=states(count=3), version=12),
        "v12_live_spans_len_past_end": live(spans=states()[:-2], version=12),
        "v12_live_spans_bad_length": live(version=12)[:-4] + b"\x05\x00" + live()[-4:],
        "v11_live_spans": live(spans=states(), version=11),
    }
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
