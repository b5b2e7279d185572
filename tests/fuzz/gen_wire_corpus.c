/*
 * gen_wire_corpus.c - writes the seed corpus of the wire fuzz target.
 *
 * Deterministic (fixed ids and ticks) so the files in tests/fuzz/corpus/wire/
 * are reproducible and the examples in docs/internals/block-format.md can be
 * compared with them byte for byte.  Valid examples first, then damaged ones:
 * each damage is one rule of the strict decoder.
 *
 * usage: gen_wire_corpus OUTDIR
 */
#include "base/bytes.h"
#include "base/hash.h"
#include "wire/wire.h"

#include <stdio.h>
#include <string.h>

static const char *g_dir;

static void put(const char *name, const uint8_t *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) {
        perror(path);
        return;
    }
    fclose(f);
}

static wire_str S(const char *s)
{
    return (wire_str){s, (uint32_t)strlen(s)};
}

static sl_uuid id(uint8_t fill)
{
    sl_uuid u;
    memset(u.b, fill, 16);
    return u;
}

/* Rewrites the payload's body hash after a test edited the stored bytes. */
static void rehash(uint8_t *payload, size_t len)
{
    st_u64le(payload + 88, hash64(payload + WIRE_PAYLOAD_HDR, len - WIRE_PAYLOAD_HDR));
}

static void processes(dbuf *b)
{
    wire_process p;
    memset(&p, 0, sizeof p);
    p.process_id = id(0x11);
    p.start_time_ns = 1700000000000000000ll;
    p.start_ticks = 1000;
    p.tsc_frequency = 1000000000;
    p.exe = S("app");
    p.username = S("u");
    p.computer = S("h");
    wire_kv kv = {S("k"), S("v")};
    p.properties = &kv;
    p.n_properties = 1;
    dbuf_reset(b);
    wire_process_encode(&p, b);
    put("process-valid.bin", b->p, b->len);
    b->p[4] = 2;
    put("process-bad-version.bin", b->p, b->len);
    b->p[4] = 1;
    put("process-truncated.bin", b->p, b->len - 3);
    st_u32le(b->p + 8, 0x7fffffff);
    put("process-lying-total-size.bin", b->p, b->len);
    st_u32le(b->p + 8, (uint32_t)b->len);
    st_u16le(b->p + WIRE_PROCESS_HDR, 0xffff); /* exe length runs past the end */
    put("process-string-past-end.bin", b->p, b->len);
}

static void streams(dbuf *b)
{
    wire_stream s;
    memset(&s, 0, sizeof s);
    s.stream_id = id(0x22);
    s.process_id = id(0x11);
    wire_str tag = S("cpu");
    wire_kv kv[2] = {{S("thread-id"), S("7")}, {S("thread-name"), S("main")}};
    s.tags = &tag;
    s.n_tags = 1;
    s.properties = kv;
    s.n_properties = 2;
    dbuf_reset(b);
    wire_stream_encode(&s, b);
    put("stream-valid.bin", b->p, b->len);
    st_u16le(b->p + WIRE_STREAM_HDR, 60000); /* tag count over the cap */
    put("stream-too-many-tags.bin", b->p, b->len);
    st_u16le(b->p + WIRE_STREAM_HDR, 1);
    memset(b->p + 16, 0, 16);
    put("stream-nil-id.bin", b->p, b->len);
}

/* The payload of the documented example: one span, begin at tick 0x10, end at 0x30. */
static void example_payload(dbuf *out, int codec)
{
    wire_pb *pb;
    wire_pb_new(1 << 20, &pb);
    uint32_t d;
    wire_pb_desc(pb, 1, WIRE_DESC_SPAN, 0, "run", "app", "a.c", 7, NULL, &d);
    wire_event ev = {.type = WIRE_EV_SPAN_BEGIN, .ticks = 0x10, .desc = d};
    wire_pb_event(pb, &ev);
    ev.type = WIRE_EV_SPAN_END;
    ev.ticks = 0x30;
    wire_pb_event(pb, &ev);
    sl_uuid blk = id(0x33), st = id(0x22), pr = id(0x11);
    dbuf_reset(out);
    wire_pb_finish(pb, codec, &blk, &st, &pr, 0x10, 0x30, out);
    wire_pb_free(pb);
}

static void blocks(dbuf *b, dbuf *pl)
{
    example_payload(pl, WIRE_CODEC_NONE);
    put("payload-valid.bin", pl->p, pl->len);
    wire_block blk = {.block_id = id(0x33), .stream_id = id(0x22), .process_id = id(0x11),
                      .begin_time_ns = 1700000000000000016ll,
                      .end_time_ns = 1700000000000000048ll, .begin_ticks = 0x10,
                      .end_ticks = 0x30, .nb_objects = 2, .object_offset = 0,
                      .payload_size = (uint32_t)pl->len};
    dbuf_reset(b);
    wire_block_encode_header(&blk, b);
    dbuf_append(b, pl->p, pl->len);
    put("block-valid.bin", b->p, b->len);
    put("block-truncated.bin", b->p, b->len - 1);
    /* The payload says another block id. */
    b->p[WIRE_BLOCK_HDR + 8] ^= 0xff;
    put("block-payload-id-mismatch.bin", b->p, b->len);
    b->p[WIRE_BLOCK_HDR + 8] ^= 0xff;
    /* An event points at a descriptor that does not exist (hash kept valid). */
    size_t last = b->len - 1; /* the end event's descriptor index */
    b->p[last] = 9;
    rehash(b->p + WIRE_BLOCK_HDR, b->len - WIRE_BLOCK_HDR);
    put("block-bad-descriptor-index.bin", b->p, b->len);
    b->p[last] = 0;
    rehash(b->p + WIRE_BLOCK_HDR, b->len - WIRE_BLOCK_HDR);
    /* A damaged byte without a new hash. */
    b->p[b->len - 2] ^= 0x40;
    put("block-hash-mismatch.bin", b->p, b->len);
    b->p[b->len - 2] ^= 0x40;
    /* Payload claims zstd but holds plain bytes. */
    b->p[WIRE_BLOCK_HDR + 6] = WIRE_CODEC_ZSTD;
    put("block-bad-zstd.bin", b->p, b->len);
    b->p[WIRE_BLOCK_HDR + 6] = WIRE_CODEC_NONE;
    /* nb_objects disagrees between message and payload. */
    st_u64le(b->p + 96, 3);
    put("block-count-mismatch.bin", b->p, b->len);
    st_u64le(b->p + 96, 2);

    example_payload(pl, WIRE_CODEC_ZSTD);
    put("payload-zstd.bin", pl->p, pl->len);
    example_payload(pl, WIRE_CODEC_LZ4);
    put("payload-lz4.bin", pl->p, pl->len);
    /* A body_size far beyond the cap. */
    st_u32le(pl->p + 76, 0xffffffff);
    put("payload-body-over-cap.bin", pl->p, pl->len);
}

/* Every event type in one zstd block, as the library writes them. */
static void all_types(dbuf *b, dbuf *pl)
{
    wire_pb *pb;
    wire_pb_new(1 << 20, &pb);
    uint32_t ds, dl, dm;
    wire_pb_desc(pb, 1, WIRE_DESC_SPAN, 0, "frame", "render", "r.c", 10, NULL, &ds);
    wire_pb_desc(pb, 2, WIRE_DESC_LOG, 3, "low disk: %d%%", "io", "io.c", 20, NULL, &dl);
    wire_pb_desc(pb, 3, WIRE_DESC_METRIC, 0, "fps", "render", "r.c", 30, "hz", &dm);
    wire_event ev[10];
    memset(ev, 0, sizeof ev);
    for (int i = 0; i < 10; i++) {
        ev[i].type = (uint8_t)(i + 1);
        ev[i].ticks = 100 + i * 10;
        ev[i].desc = i < 6 ? ds : i < 8 ? dl : dm;
    }
    ev[2].name = ev[3].name = S("frame 42");
    ev[4].span_id = ev[5].span_id = 5;
    ev[7].name = S("low disk: 3%");
    ev[8].value_i = -1;
    ev[9].value_f = 59.5;
    for (int i = 0; i < 10; i++)
        wire_pb_event(pb, &ev[i]);
    sl_uuid blk = id(0x44), st = id(0x22), pr = id(0x11);
    dbuf_reset(pl);
    wire_pb_finish(pb, WIRE_CODEC_ZSTD, &blk, &st, &pr, 100, 190, pl);
    wire_pb_free(pb);
    wire_block h = {.block_id = blk, .stream_id = st, .process_id = pr, .begin_time_ns = 1,
                    .end_time_ns = 2, .begin_ticks = 100, .end_ticks = 190, .nb_objects = 10,
                    .payload_size = (uint32_t)pl->len};
    dbuf_reset(b);
    wire_block_encode_header(&h, b);
    dbuf_append(b, pl->p, pl->len);
    put("block-all-event-types.bin", b->p, b->len);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_wire_corpus OUTDIR\n");
        return 2;
    }
    g_dir = argv[1];
    dbuf b, pl;
    dbuf_init(&b, 1 << 24);
    dbuf_init(&pl, 1 << 24);
    processes(&b);
    streams(&b);
    blocks(&b, &pl);
    all_types(&b, &pl);
    dbuf_free(&b);
    dbuf_free(&pl);
    return 0;
}
