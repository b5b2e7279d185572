"""gen_checkpoint_corpus.py - seed corpus for fuzz_checkpoint: manifests and
worker parts as docs/internals/stream.md lays them out (versions 1 and 2: kafka
partitions in a position), valid and a few nasty ones.  Run by hand: python3 tests/fuzz/gen_checkpoint_corpus.py"""

import os
import struct
import zlib

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "checkpoint")


def obj(kind, seq, body, version=1):
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


def manifest_v2(k=2, count=None, chunk=-1):
    return obj(1, 4, struct.pack("<QQIIQiB", 0xABCDEF, 3, 2, 2, 0, chunk, 1) + pos() +
               parts(k, count), version=2)


def part_v2(k=3, count=None):
    body = struct.pack("<IiB", 0, 0, 1) + pos() + parts(k, count)
    body += struct.pack("<QQQBqqqI", 39, 1, 0, 1, 10**18, 10**18 - 5, 10**18 - 10, 1)
    body += struct.pack("<q", 10**18 - 10) + struct.pack("<I", 0)
    return obj(2, 4, body, version=2)


def manifest(seq=3, workers=2, splits=8, chunk=-1, has_pos=0):
    return obj(1, seq, struct.pack("<QQIIQiB", 0xABCDEF, 1 << 20, workers, splits, 4096, chunk,
                                   has_pos) + pos())


def part(seq=3, worker=1, nprod=2, wins=((0, 10**10, b"\x01\x00\x00\x00" + b"\x00" * 8),)):
    body = struct.pack("<IiB", worker, 2, 1) + pos()
    body += struct.pack("<QQQBqqqI", 39, 1, 0, 1, 10**18, 10**18 - 5, 10**18 - 10, nprod)
    body += b"".join(struct.pack("<q", 10**18 - 10) for _ in range(nprod))
    body += struct.pack("<I", len(wins))
    for s, e, st in wins:
        body += struct.pack("<qqI", s, e, len(st)) + st
    return obj(2, seq, body)


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
        "v2_manifest_kafka": manifest_v2(),
        "v2_manifest_no_parts": manifest_v2(0),
        "v2_part_kafka": part_v2(),
        "v2_part_count_past_end": part_v2(2, 1 << 30),
        "v2_part_too_many": part_v2(1, 257),
        "v3_unknown_version": obj(1, 4, b"", version=3),
    }
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
