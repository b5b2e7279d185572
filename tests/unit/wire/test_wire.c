/*
 * test_wire.c - the block format: every message round-trips, and every rule of
 * the strict decoders rejects what it should with the right code.
 */
#include "test.h"

#include "base/bytes.h"
#include "base/hash.h"
#include "wire/wire.h"

static wire_str S(const char *s)
{
    return (wire_str){s, (uint32_t)strlen(s)};
}

static void make_process(wire_process *p, wire_kv *kv)
{
    memset(p, 0, sizeof *p);
    uuid_v4(&p->process_id);
    p->start_time_ns = 1700000000123456789ll;
    p->start_ticks = 987654321;
    p->tsc_frequency = 2400000000ull;
    p->exe = S("/usr/bin/game");
    p->username = S("ana");
    p->realname = S("Ana Lima");
    p->computer = S("box");
    p->distro = S("Debian GNU/Linux 12");
    p->cpu_brand = S("Xeon");
    kv[0] = (wire_kv){S("build"), S("1.2.3")};
    p->properties = kv;
    p->n_properties = 1;
}

TEST(process_roundtrip)
{
    wire_process p, q;
    wire_kv kv[1];
    make_process(&p, kv);
    dbuf b;
    dbuf_init(&b, 1 << 20);
    CHECK_OK(wire_process_encode(&p, &b));
    arena a;
    arena_init(&a, 4096, 0);
    errmsg e;
    CHECK_OK(wire_process_decode(b.p, b.len, &a, &q, &e));
    CHECK(uuid_eq(&p.process_id, &q.process_id));
    CHECK_EQ(q.start_time_ns, p.start_time_ns);
    CHECK_EQ(q.start_ticks, p.start_ticks);
    CHECK_EQ(q.tsc_frequency, p.tsc_frequency);
    CHECK_EQ(q.exe.len, 13);
    CHECK(memcmp(q.realname.p, "Ana Lima", 8) == 0);
    CHECK_EQ(q.n_properties, 1);
    CHECK(memcmp(q.properties[0].value.p, "1.2.3", 5) == 0);
    CHECK_EQ(wire_message_kind(b.p, b.len), 'P');

    /* Every truncation is refused. */
    for (size_t n = 0; n < b.len; n++)
        CHECK(wire_process_decode(b.p, n, &a, &q, &e) < 0);
    /* Version, flags, magic, zero frequency, trailing bytes. */
    b.p[4] = 2;
    CHECK_EQ(wire_process_decode(b.p, b.len, &a, &q, &e), SL_EVERSION);
    b.p[4] = 1;
    b.p[6] = 1;
    CHECK_EQ(wire_process_decode(b.p, b.len, &a, &q, &e), SL_EINVAL);
    b.p[6] = 0;
    b.p[0] = 'X';
    CHECK_EQ(wire_process_decode(b.p, b.len, &a, &q, &e), SL_EINVAL);
    b.p[0] = 'S';
    /* A byte after the last field that total_size counts. */
    CHECK_OK(dbuf_append_byte(&b, 0));
    st_u32le(b.p + 8, (uint32_t)b.len);
    CHECK_EQ(wire_process_decode(b.p, b.len, &a, &q, &e), SL_EINVAL);
    CHECK(strstr(e.text, "after the last field") != NULL);
    b.len--;
    st_u32le(b.p + 8, (uint32_t)b.len);
    memset(b.p + 64, 0, 8);
    CHECK_EQ(wire_process_decode(b.p, b.len, &a, &q, &e), SL_EINVAL);
    CHECK(strstr(e.text, "tsc_frequency") != NULL);
    arena_destroy(&a);
    dbuf_free(&b);
}

TEST(process_string_cap)
{
    wire_process p;
    wire_kv kv[1];
    make_process(&p, kv);
    static char big[WIRE_MAX_STRING + 2];
    memset(big, 'x', sizeof big - 1);
    p.exe = S(big);
    dbuf b;
    dbuf_init(&b, 1 << 20);
    CHECK_EQ(wire_process_encode(&p, &b), SL_ETOOBIG);
    CHECK_EQ(b.len, 0);
    dbuf_free(&b);
}

TEST(stream_roundtrip_and_total_size)
{
    wire_stream s, t;
    memset(&s, 0, sizeof s);
    uuid_v4(&s.stream_id);
    uuid_v4(&s.process_id);
    wire_str tags[1] = {S("cpu")};
    wire_kv kv[2] = {{S("thread-id"), S("1234")}, {S("thread-name"), S("render")}};
    s.tags = tags;
    s.n_tags = 1;
    s.properties = kv;
    s.n_properties = 2;
    dbuf b;
    dbuf_init(&b, 1 << 20);
    CHECK_OK(wire_stream_encode(&s, &b));
    arena a;
    arena_init(&a, 4096, 0);
    errmsg e;
    CHECK_OK(wire_stream_decode(b.p, b.len, &a, &t, &e));
    CHECK_EQ(t.n_tags, 1);
    CHECK_EQ(t.n_properties, 2);
    CHECK(memcmp(t.properties[1].value.p, "render", 6) == 0);
    /* One byte of padding after a valid message: total_size disagrees. */
    dbuf_append_byte(&b, 0);
    CHECK_EQ(wire_stream_decode(b.p, b.len, &a, &t, &e), SL_EINVAL);
    CHECK(strstr(e.text, "total_size") != NULL);
    arena_destroy(&a);
    dbuf_free(&b);
}

/* Builds a payload with one event of every type; returns the number of events. */
static uint32_t build_all_kinds(wire_pb *pb, int64_t t0)
{
    uint32_t dspan, dlog, dmet;
    CHECK_OK(wire_pb_desc(pb, 1, WIRE_DESC_SPAN, 0, "update", "engine", "a.c", 10, NULL, &dspan));
    CHECK_OK(wire_pb_desc(pb, 2, WIRE_DESC_LOG, 4, "hello %d", "net", "b.c", 20, NULL, &dlog));
    CHECK_OK(wire_pb_desc(pb, 3, WIRE_DESC_METRIC, 0, "fps", "render", "c.c", 30, "hz", &dmet));
    uint32_t again;
    CHECK_OK(wire_pb_desc(pb, 1, WIRE_DESC_SPAN, 0, "update", "engine", "a.c", 10, NULL, &again));
    CHECK_EQ(again, dspan);
    wire_event ev[10];
    memset(ev, 0, sizeof ev);
    int64_t t = t0;
    for (int i = 0; i < 10; i++) {
        ev[i].type = (uint8_t)(i + 1);
        ev[i].ticks = t;
        t += 100 + i * 7;
    }
    ev[0].desc = ev[1].desc = ev[2].desc = ev[3].desc = ev[4].desc = ev[5].desc = dspan;
    ev[2].name = ev[3].name = S("frame 7");
    ev[4].span_id = ev[5].span_id = 42;
    ev[4].parent_span_id = ev[5].parent_span_id = 41;
    ev[4].depth = ev[5].depth = 1;
    ev[6].desc = ev[7].desc = dlog;
    ev[7].name = S("hello 3");
    ev[8].desc = ev[9].desc = dmet;
    ev[8].value_i = -77;
    ev[9].value_f = 59.94;
    for (int i = 0; i < 10; i++)
        CHECK_OK(wire_pb_event(pb, &ev[i]));
    return 10;
}

static void make_payload(dbuf *out, int codec, sl_uuid ids[3])
{
    wire_pb *pb;
    CHECK_OK(wire_pb_new(1 << 20, &pb));
    build_all_kinds(pb, 5000);
    for (int i = 0; i < 3; i++)
        uuid_v4(&ids[i]);
    CHECK_OK(wire_pb_finish(pb, codec, &ids[0], &ids[1], &ids[2], wire_pb_min_ticks(pb),
                            wire_pb_max_ticks(pb), out));
    wire_pb_free(pb);
}

static void check_all_kinds(const uint8_t *p, size_t n)
{
    dbuf scratch;
    dbuf_init(&scratch, 64 << 20);
    arena a;
    arena_init(&a, 4096, 0);
    errmsg e;
    wire_payload pl;
    CHECK_OK(wire_payload_open(p, n, &scratch, &a, &pl, &e));
    CHECK_EQ(pl.n_descs, 3);
    CHECK_EQ(pl.n_events, 10);
    wire_event ev;
    int64_t expect_t = 5000;
    for (int i = 0; i < 10; i++) {
        CHECK_EQ(wire_payload_next(&pl, &ev, &e), 1);
        CHECK_EQ(ev.type, i + 1);
        CHECK_EQ(ev.ticks, expect_t);
        expect_t += 100 + i * 7;
    }
    CHECK_EQ(wire_payload_next(&pl, &ev, &e), 0);
    arena_destroy(&a);
    dbuf_free(&scratch);
}

TEST(payload_roundtrip_every_codec)
{
    for (int codec = 0; codec <= 2; codec++) {
        dbuf b;
        dbuf_init(&b, 1 << 20);
        sl_uuid ids[3];
        make_payload(&b, codec, ids);
        check_all_kinds(b.p, b.len);
        wire_payload_hdr h;
        errmsg e;
        CHECK_OK(wire_payload_hdr_decode(b.p, b.len, &h, &e));
        CHECK(uuid_eq(&h.block_id, &ids[0]));
        CHECK_EQ(h.codec, codec);
        dbuf_free(&b);
    }
}

TEST(payload_field_values)
{
    dbuf b;
    dbuf_init(&b, 1 << 20);
    sl_uuid ids[3];
    make_payload(&b, WIRE_CODEC_ZSTD, ids);
    dbuf scratch;
    dbuf_init(&scratch, 1 << 20);
    arena a;
    arena_init(&a, 4096, 0);
    errmsg e;
    wire_payload pl;
    CHECK_OK(wire_payload_open(b.p, b.len, &scratch, &a, &pl, &e));
    wire_event ev[10];
    for (int i = 0; i < 10; i++)
        CHECK_EQ(wire_payload_next(&pl, &ev[i], &e), 1);
    const wire_desc *d = &pl.descs[ev[0].desc];
    CHECK(d->kind == WIRE_DESC_SPAN && d->line == 10 && memcmp(d->name.p, "update", 6) == 0);
    CHECK(memcmp(ev[2].name.p, "frame 7", 7) == 0);
    CHECK_EQ(ev[4].span_id, 42);
    CHECK_EQ(ev[5].parent_span_id, 41);
    CHECK_EQ(pl.descs[ev[6].desc].level, 4);
    CHECK(memcmp(ev[7].name.p, "hello 3", 7) == 0);
    CHECK_EQ(ev[8].value_i, -77);
    CHECK(ev[9].value_f == 59.94);
    CHECK(memcmp(pl.descs[ev[9].desc].unit.p, "hz", 2) == 0);
    arena_destroy(&a);
    dbuf_free(&scratch);
    dbuf_free(&b);
}

TEST(payload_rejects_damage)
{
    dbuf b;
    dbuf_init(&b, 1 << 20);
    sl_uuid ids[3];
    make_payload(&b, WIRE_CODEC_NONE, ids);
    dbuf scratch;
    dbuf_init(&scratch, 1 << 20);
    arena a;
    arena_init(&a, 4096, 0);
    errmsg e;
    /* A flipped body bit is caught by the hash. */
    b.p[WIRE_PAYLOAD_HDR + 5] ^= 1;
    CHECK_EQ(wire_payload_validate(b.p, b.len, &scratch, &a, &e), SL_ECORRUPT);
    CHECK(strstr(e.text, "hash") != NULL);
    b.p[WIRE_PAYLOAD_HDR + 5] ^= 1;
    CHECK_OK(wire_payload_validate(b.p, b.len, &scratch, &a, &e));
    /* Truncation anywhere. */
    for (size_t n = 0; n < b.len; n++)
        CHECK(wire_payload_validate(b.p, n, &scratch, &a, &e) < 0);
    /* A header event count that lies (the hash covers only the body, so it still holds). */
    b.p[72] = 11;
    CHECK_EQ(wire_payload_validate(b.p, b.len, &scratch, &a, &e), SL_ECORRUPT);
    b.p[72] = 10;
    /* Ticks outside the header's range. */
    st_u64le(b.p + 64, 5000);
    CHECK_EQ(wire_payload_validate(b.p, b.len, &scratch, &a, &e), SL_ECORRUPT);
    CHECK(strstr(e.text, "tick") != NULL);
    arena_destroy(&a);
    dbuf_free(&scratch);
    dbuf_free(&b);
}

TEST(payload_rejects_wrong_descriptor_kind)
{
    wire_pb *pb;
    CHECK_OK(wire_pb_new(1 << 20, &pb));
    uint32_t dlog;
    CHECK_OK(wire_pb_desc(pb, 9, WIRE_DESC_LOG, 3, "msg", "t", "f.c", 1, NULL, &dlog));
    wire_event ev = {.type = WIRE_EV_SPAN_BEGIN, .ticks = 1, .desc = dlog};
    CHECK_OK(wire_pb_event(pb, &ev)); /* the builder trusts its caller ... */
    sl_uuid id;
    uuid_v4(&id);
    dbuf b;
    dbuf_init(&b, 1 << 20);
    CHECK_OK(wire_pb_finish(pb, WIRE_CODEC_LZ4, &id, &id, &id, 0, 10, &b));
    dbuf scratch;
    dbuf_init(&scratch, 1 << 20);
    arena a;
    arena_init(&a, 4096, 0);
    errmsg e;
    /* ... the reader does not. */
    CHECK_EQ(wire_payload_validate(b.p, b.len, &scratch, &a, &e), SL_ECORRUPT);
    CHECK(strstr(e.text, "wrong kind") != NULL);
    arena_destroy(&a);
    dbuf_free(&scratch);
    dbuf_free(&b);
    wire_pb_free(pb);
}

TEST(builder_cap_and_dedupe)
{
    wire_pb *pb;
    CHECK_OK(wire_pb_new(4096, &pb));
    uint32_t d;
    CHECK_OK(wire_pb_desc(pb, 1, WIRE_DESC_SPAN, 0, "s", "", "", 0, NULL, &d));
    uint32_t a1, a2;
    CHECK_OK(wire_pb_string(pb, "task-1", 6, &a1));
    CHECK_OK(wire_pb_string(pb, "task-1", 6, &a2));
    CHECK_EQ(a1, a2);
    CHECK_OK(wire_pb_string(pb, "task-", 5, &a2));
    CHECK(a1 != a2);
    int rc = 0, n = 0;
    wire_event ev = {.type = WIRE_EV_SPAN_BEGIN, .desc = d};
    while (!(rc = wire_pb_event(pb, &ev))) {
        ev.ticks += 1000;
        n++;
    }
    CHECK_EQ(rc, SL_ETOOBIG);
    CHECK_EQ(wire_pb_count(pb), n);
    CHECK(wire_pb_body_bytes(pb) <= 4096);
    wire_pb_free(pb);
}

TEST(block_message_checks)
{
    dbuf payload;
    dbuf_init(&payload, 1 << 20);
    sl_uuid ids[3];
    make_payload(&payload, WIRE_CODEC_ZSTD, ids);
    wire_payload_hdr h;
    errmsg e;
    CHECK_OK(wire_payload_hdr_decode(payload.p, payload.len, &h, &e));
    wire_block blk = {.block_id = ids[0], .stream_id = ids[1], .process_id = ids[2],
                      .begin_time_ns = 1, .end_time_ns = 2, .begin_ticks = h.begin_ticks,
                      .end_ticks = h.end_ticks, .nb_objects = 10, .object_offset = 0,
                      .payload_size = (uint32_t)payload.len};
    dbuf m;
    dbuf_init(&m, 8 << 20);
    CHECK_OK(wire_block_encode_header(&blk, &m));
    CHECK_OK(dbuf_append(&m, payload.p, payload.len));
    wire_block got;
    const uint8_t *pp;
    CHECK_OK(wire_block_decode(m.p, m.len, &got, &pp, &e));
    CHECK(pp == m.p + WIRE_BLOCK_HDR);
    CHECK_OK(wire_block_check_payload(&got, &h, &e));
    got.stream_id.b[0] ^= 1;
    CHECK_EQ(wire_block_check_payload(&got, &h, &e), SL_EMISMATCH);
    got.stream_id.b[0] ^= 1;
    got.nb_objects = 9;
    CHECK_EQ(wire_block_check_payload(&got, &h, &e), SL_ECORRUPT);
    /* Truncated block message. */
    CHECK(wire_block_decode(m.p, m.len - 1, &got, &pp, &e) < 0);
    CHECK(wire_block_decode(m.p, 50, &got, &pp, &e) < 0);
    /* nb_objects zero. */
    memset(m.p + 96, 0, 8);
    CHECK_EQ(wire_block_decode(m.p, m.len, &got, &pp, &e), SL_EINVAL);
    dbuf_free(&m);
    dbuf_free(&payload);
}

TEST(zstd_bomb_is_refused)
{
    /* A payload whose header claims a small body but whose zstd frame expands larger. */
    wire_pb *pb;
    CHECK_OK(wire_pb_new(8 << 20, &pb));
    uint32_t d;
    CHECK_OK(wire_pb_desc(pb, 1, WIRE_DESC_SPAN, 0, "s", "", "", 0, NULL, &d));
    wire_event ev = {.type = WIRE_EV_SPAN_BEGIN, .desc = d};
    for (int i = 0; i < 100000; i++)
        CHECK_OK(wire_pb_event(pb, &ev));
    sl_uuid id;
    uuid_v4(&id);
    dbuf b;
    dbuf_init(&b, 8 << 20);
    CHECK_OK(wire_pb_finish(pb, WIRE_CODEC_ZSTD, &id, &id, &id, 0, 0, &b));
    st_u32le(b.p + 76, 1000); /* body_size lies */
    dbuf scratch;
    dbuf_init(&scratch, 64 << 20);
    arena a;
    arena_init(&a, 4096, 0);
    errmsg e;
    CHECK_EQ(wire_payload_validate(b.p, b.len, &scratch, &a, &e), SL_ECORRUPT);
    CHECK(scratch.cap <= 1000 + 64);
    arena_destroy(&a);
    dbuf_free(&scratch);
    dbuf_free(&b);
    wire_pb_free(pb);
}
