/*
 * test_server.c - the ingestion rules without HTTP (ingest_*), then the HTTP
 * glue of a real server on a free loopback port: routing, methods, caps.
 *
 * Every refused request is checked for what it must not leave behind: no
 * metadata row, no payload object, no temp file.
 */
#include "test.h"
#include "tmpdir.h"

#include "base/bytes.h"
#include "base/hash.h"
#include "net/httpc.h"
#include "server/ingest.h"
#include "server/server.h"
#include "wire/wire.h"

#include <dirent.h>
#include <sys/stat.h>

typedef struct env {
    char dir[256];
    objstore *os;
    meta *m;
    ingest *g;
} env;

static void env_open(env *v)
{
    test_tmpdir(v->dir, sizeof v->dir, "ingest");
    errmsg e;
    char path[300];
    snprintf(path, sizeof path, "%s/meta.sqlite", v->dir);
    CHECK_OK(objstore_local_open(v->dir, &v->os, &e));
    CHECK_OK(meta_sqlite_open(path, NULL, &v->m, &e));
    CHECK_OK(ingest_new(v->m, v->os, &v->g, &e));
}

static void env_close(env *v)
{
    ingest_free(v->g);
    meta_close(v->m);
    objstore_close(v->os);
    test_rmtree(v->dir);
}

static wire_str S(const char *s)
{
    return (wire_str){s, (uint32_t)strlen(s)};
}

static void process_msg(const sl_uuid *pid, const char *exe, dbuf *out)
{
    wire_process p;
    memset(&p, 0, sizeof p);
    p.process_id = *pid;
    p.start_time_ns = 1700000000000000000ll;
    p.start_ticks = 1000;
    p.tsc_frequency = 1000000000;
    p.exe = S(exe);
    p.username = S("ana");
    p.computer = S("box");
    dbuf_reset(out);
    CHECK_OK(wire_process_encode(&p, out));
}

static void stream_msg(const sl_uuid *sid, const sl_uuid *pid, const char *thread_name, dbuf *out)
{
    wire_stream s;
    memset(&s, 0, sizeof s);
    s.stream_id = *sid;
    s.process_id = *pid;
    wire_str tags[1] = {S("cpu")};
    wire_kv kv[2] = {{S("thread-id"), S("7")}, {S("thread-name"), S(thread_name)}};
    s.tags = tags;
    s.n_tags = 1;
    s.properties = kv;
    s.n_properties = 2;
    dbuf_reset(out);
    CHECK_OK(wire_stream_encode(&s, out));
}

/* A block message of n span begin/end pairs, codec as given. */
static void block_msg(const sl_uuid *bid, const sl_uuid *sid, const sl_uuid *pid, int n, int codec,
                      dbuf *out)
{
    wire_pb *pb;
    CHECK_OK(wire_pb_new(1 << 20, &pb));
    uint32_t d;
    CHECK_OK(wire_pb_desc(pb, 1, WIRE_DESC_SPAN, 0, "work", "test", "t.c", 10, NULL, &d));
    for (int i = 0; i < n; i++) {
        wire_event ev = {.type = WIRE_EV_SPAN_BEGIN, .ticks = 100 + 10 * i, .desc = d};
        CHECK_OK(wire_pb_event(pb, &ev));
        ev.type = WIRE_EV_SPAN_END;
        ev.ticks += 5;
        CHECK_OK(wire_pb_event(pb, &ev));
    }
    dbuf payload;
    dbuf_init(&payload, WIRE_MAX_PAYLOAD);
    CHECK_OK(wire_pb_finish(pb, codec, bid, sid, pid, 100, 100 + 10 * n, &payload));
    wire_block b = {.block_id = *bid, .stream_id = *sid, .process_id = *pid,
                    .begin_time_ns = 1700000000000000100ll, .end_time_ns = 1700000000000009000ll,
                    .begin_ticks = 100, .end_ticks = 100 + 10 * n,
                    .nb_objects = (uint64_t)(2 * n), .object_offset = 0,
                    .payload_size = (uint32_t)payload.len};
    dbuf_reset(out);
    CHECK_OK(wire_block_encode_header(&b, out));
    CHECK_OK(dbuf_append(out, payload.p, payload.len));
    dbuf_free(&payload);
    wire_pb_free(pb);
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue; /* ".", "..", and the store's lock file */
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
            n += count_files(p);
        else
            n++;
    }
    closedir(d);
    return n;
}

/* Payload objects and temp files present under the data directory. */
static int n_blobs(const env *v)
{
    char p[300];
    snprintf(p, sizeof p, "%s/blobs", v->dir);
    return count_files(p);
}

static int n_temps(const env *v)
{
    char p[300];
    snprintf(p, sizeof p, "%s/.tmp", v->dir);
    return count_files(p);
}

static int n_rows_block(env *v, const sl_uuid *bid)
{
    meta_block b;
    errmsg e;
    return meta_block_find(v->m, bid, &b, &e) == 0;
}

typedef struct ids {
    sl_uuid p, s, b;
} ids;

static void new_ids(ids *x)
{
    uuid_v4(&x->p);
    uuid_v4(&x->s);
    uuid_v4(&x->b);
}

/* Inserts the process and the stream of x, expecting 200. */
static void insert_deps(env *v, const ids *x, dbuf *m)
{
    ingest_reply r;
    process_msg(&x->p, "/bin/game", m);
    ingest_process(v->g, m->p, m->len, &r);
    CHECK_EQ(r.status, 200);
    stream_msg(&x->s, &x->p, "main", m);
    ingest_stream(v->g, m->p, m->len, &r);
    CHECK_EQ(r.status, 200);
}

TEST(block_stored_once_and_idempotent)
{
    env v;
    env_open(&v);
    dbuf m;
    dbuf_init(&m, WIRE_MAX_BLOCK_MSG);
    ids x;
    new_ids(&x);
    insert_deps(&v, &x, &m);
    ingest_reply r;
    block_msg(&x.b, &x.s, &x.p, 1000, WIRE_CODEC_ZSTD, &m);
    ingest_block(v.g, m.p, m.len, &r);
    CHECK_EQ(r.status, 200);
    CHECK_EQ(r.existed, 0);
    /* The payload is stored verbatim at blobs/{process}/{stream}/{block}. */
    char key[256];
    ingest_block_key(&x.p, &x.s, &x.b, key, sizeof key);
    dbuf got;
    dbuf_init(&got, WIRE_MAX_PAYLOAD);
    errmsg e;
    CHECK_OK(objstore_get(v.os, key, &got, &e));
    CHECK_EQ(got.len, m.len - WIRE_BLOCK_HDR);
    CHECK(memcmp(got.p, m.p + WIRE_BLOCK_HDR, got.len) == 0);
    CHECK(memcmp(got.p, "SLPL", 4) == 0);
    /* The same block again: 200, existed, still one object and one row. */
    ingest_block(v.g, m.p, m.len, &r);
    CHECK_EQ(r.status, 200);
    CHECK_EQ(r.existed, 1);
    CHECK_EQ(n_blobs(&v), 1);
    CHECK_EQ(n_temps(&v), 0);
    meta_block row;
    CHECK_OK(meta_block_find(v.m, &x.b, &row, &e));
    CHECK_EQ(row.nb_objects, 2000);
    CHECK_EQ(row.payload_size, got.len);
    /* Process and stream re-sends are idempotent too. */
    process_msg(&x.p, "/bin/game", &m);
    ingest_process(v.g, m.p, m.len, &r);
    CHECK_EQ(r.status, 200);
    CHECK_EQ(r.existed, 1);
    dbuf_free(&got);
    dbuf_free(&m);
    env_close(&v);
}

TEST(missing_dependency_is_409_then_succeeds)
{
    env v;
    env_open(&v);
    dbuf m;
    dbuf_init(&m, WIRE_MAX_BLOCK_MSG);
    ids x;
    new_ids(&x);
    ingest_reply r;
    block_msg(&x.b, &x.s, &x.p, 10, WIRE_CODEC_NONE, &m);
    dbuf blk;
    dbuf_init(&blk, WIRE_MAX_BLOCK_MSG);
    CHECK_OK(dbuf_append(&blk, m.p, m.len));
    ingest_block(v.g, blk.p, blk.len, &r);
    CHECK_EQ(r.status, 409);
    CHECK_EQ(r.retry_after, 1);
    char sid[UUID_STR_LEN];
    uuid_format(&x.s, sid);
    CHECK(strstr(r.e.text, sid) != NULL);
    CHECK_EQ(n_blobs(&v), 0);
    /* A stream before its process: 409 as well, naming the process. */
    stream_msg(&x.s, &x.p, "main", &m);
    ingest_stream(v.g, m.p, m.len, &r);
    CHECK_EQ(r.status, 409);
    char pid[UUID_STR_LEN];
    uuid_format(&x.p, pid);
    CHECK(strstr(r.e.text, pid) != NULL);
    insert_deps(&v, &x, &m);
    ingest_block(v.g, blk.p, blk.len, &r);
    CHECK_EQ(r.status, 200);
    CHECK_EQ(n_blobs(&v), 1);
    dbuf_free(&blk);
    dbuf_free(&m);
    env_close(&v);
}

/* Sends a bad block and checks: 4xx status, a reason, nothing stored. */
static void refused(env *v, const dbuf *m, const sl_uuid *bid, int status, const char *reason)
{
    ingest_reply r;
    ingest_block(v->g, m->p, m->len, &r);
    if (r.status != status)
        TEST_FAIL("status %d, wanted %d (%s)", r.status, status, r.e.text);
    CHECK(r.e.text[0] != 0);
    CHECK(strchr(r.e.text, '\n') == NULL);
    if (reason && !strstr(r.e.text, reason))
        TEST_FAIL("reason '%s' lacks '%s'", r.e.text, reason);
    CHECK(!n_rows_block(v, bid));
    CHECK_EQ(n_blobs(v), 0);
    CHECK_EQ(n_temps(v), 0);
}

/* Re-seals the payload's body hash after an edit of its body. */
static void reseal(dbuf *m)
{
    uint8_t *pl = m->p + WIRE_BLOCK_HDR;
    uint32_t stored = ld_u32le(pl + 80);
    st_u64le(pl + 88, hash64(pl + WIRE_PAYLOAD_HDR, stored));
}

TEST(bad_blocks_store_nothing)
{
    env v;
    env_open(&v);
    dbuf m, good;
    dbuf_init(&m, WIRE_MAX_BLOCK_MSG);
    dbuf_init(&good, WIRE_MAX_BLOCK_MSG);
    ids x;
    new_ids(&x);
    insert_deps(&v, &x, &m);
    block_msg(&x.b, &x.s, &x.p, 50, WIRE_CODEC_NONE, &good);

    /* Truncated anywhere. */
    for (size_t n = 0; n < good.len; n += 37) {
        dbuf_reset(&m);
        CHECK_OK(dbuf_append(&m, good.p, n));
        refused(&v, &m, &x.b, 400, NULL);
    }
    /* Not a block message at all. */
    dbuf_reset(&m);
    CHECK_OK(dbuf_append(&m, "GET / HTTP/1.1\r\n\r\n", 18));
    refused(&v, &m, &x.b, 400, "magic");
    /* Unknown version of the message, then of the payload. */
    dbuf_reset(&m);
    CHECK_OK(dbuf_append(&m, good.p, good.len));
    m.p[4] = 9;
    refused(&v, &m, &x.b, 400, "version");
    m.p[4] = 1;
    m.p[WIRE_BLOCK_HDR + 4] = 9;
    refused(&v, &m, &x.b, 400, "version");
    m.p[WIRE_BLOCK_HDR + 4] = 1;
    /* Body damaged in transit: hash mismatch. */
    m.p[m.len - 1] ^= 0x55;
    refused(&v, &m, &x.b, 400, "hash");
    /* A bad event with a valid hash: the whole payload is walked. */
    m.p[m.len - 1] ^= 0x55;
    m.p[m.len - 1] = 0x05; /* last event's descriptor index: only 0 exists */
    reseal(&m);
    refused(&v, &m, &x.b, 400, "event");
    /* Ids of message and payload disagree. */
    dbuf_reset(&m);
    CHECK_OK(dbuf_append(&m, good.p, good.len));
    m.p[16] ^= 1; /* block_id of the message */
    sl_uuid other;
    memcpy(other.b, m.p + 16, 16);
    refused(&v, &m, &other, 400, "block_id");
    /* Event count of message and payload disagree. */
    dbuf_reset(&m);
    CHECK_OK(dbuf_append(&m, good.p, good.len));
    st_u64le(m.p + 96, 99);
    refused(&v, &m, &x.b, 400, "nb_objects");
    /* Trailing garbage after the payload. */
    dbuf_reset(&m);
    CHECK_OK(dbuf_append(&m, good.p, good.len));
    CHECK_OK(dbuf_append(&m, "xx", 2));
    refused(&v, &m, &x.b, 400, NULL);
    /* The good one still goes in afterwards. */
    ingest_reply r;
    ingest_block(v.g, good.p, good.len, &r);
    CHECK_EQ(r.status, 200);
    dbuf_free(&m);
    dbuf_free(&good);
    env_close(&v);
}

TEST(conflicts_are_422)
{
    env v;
    env_open(&v);
    dbuf m, first;
    dbuf_init(&m, WIRE_MAX_BLOCK_MSG);
    dbuf_init(&first, WIRE_MAX_BLOCK_MSG);
    ids x;
    new_ids(&x);
    insert_deps(&v, &x, &m);
    ingest_reply r;
    block_msg(&x.b, &x.s, &x.p, 20, WIRE_CODEC_NONE, &first);
    ingest_block(v.g, first.p, first.len, &r);
    CHECK_EQ(r.status, 200);
    /* Same block id, different content: 422, the stored object is unchanged. */
    block_msg(&x.b, &x.s, &x.p, 21, WIRE_CODEC_NONE, &m);
    ingest_block(v.g, m.p, m.len, &r);
    CHECK_EQ(r.status, 422);
    CHECK(strstr(r.e.text, "different content") != NULL);
    char key[256];
    ingest_block_key(&x.p, &x.s, &x.b, key, sizeof key);
    dbuf got;
    dbuf_init(&got, WIRE_MAX_PAYLOAD);
    errmsg e;
    CHECK_OK(objstore_get(v.os, key, &got, &e));
    CHECK_EQ(got.len, first.len - WIRE_BLOCK_HDR);
    /* Same process id, different content. */
    process_msg(&x.p, "/bin/other", &m);
    ingest_process(v.g, m.p, m.len, &r);
    CHECK_EQ(r.status, 422);
    /* Same stream id, different content. */
    stream_msg(&x.s, &x.p, "renamed", &m);
    ingest_stream(v.g, m.p, m.len, &r);
    CHECK_EQ(r.status, 422);
    /* A block naming a stream that belongs to another process. */
    ids y;
    new_ids(&y);
    process_msg(&y.p, "/bin/second", &m);
    ingest_process(v.g, m.p, m.len, &r);
    CHECK_EQ(r.status, 200);
    block_msg(&y.b, &x.s, &y.p, 5, WIRE_CODEC_NONE, &m);
    ingest_block(v.g, m.p, m.len, &r);
    CHECK_EQ(r.status, 422);
    CHECK(strstr(r.e.text, "belongs to process") != NULL);
    CHECK(!n_rows_block(&v, &y.b));
    CHECK_EQ(n_blobs(&v), 1);
    dbuf_free(&got);
    dbuf_free(&m);
    dbuf_free(&first);
    env_close(&v);
}

TEST(status_table)
{
    CHECK_EQ(ingest_status_for(SL_OK), 200);
    CHECK_EQ(ingest_status_for(SL_ETRUNC), 400);
    CHECK_EQ(ingest_status_for(SL_EVERSION), 400);
    CHECK_EQ(ingest_status_for(SL_EMISMATCH), 400);
    CHECK_EQ(ingest_status_for(SL_ETOOBIG), 413);
    CHECK_EQ(ingest_status_for(SL_EAGAIN), 409);
    CHECK_EQ(ingest_status_for(SL_EEXIST), 422);
    CHECK_EQ(ingest_status_for(SL_EIO), 500);
}

/* ------------------------------------------------------------ over HTTP */

static server *start(env *v, size_t max_body)
{
    test_tmpdir(v->dir, sizeof v->dir, "server");
    server_config c;
    server_config_defaults(&c);
    c.data_dir = v->dir;
    c.port = 0;
    c.threads = 2;
    c.max_body_bytes = max_body;
    server *s = NULL;
    errmsg e;
    if (server_start(&c, &s, &e) != 0)
        TEST_FAIL("server_start: %s", e.text);
    CHECK(server_port(s) != 0);
    return s;
}

static int request(server *s, const char *path, const void *body, size_t len, int post,
                   dbuf *resp, long *retry_after)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", server_port(s), path);
    httpc *c;
    errmsg e;
    CHECK_OK(httpc_new(10000, &c, &e));
    int status = 0;
    if (resp)
        dbuf_reset(resp);
    int rc = httpc_request(c, url, body, len, post, NULL, &status, resp, retry_after, &e);
    if (rc)
        TEST_FAIL("%s: %s", url, e.text);
    httpc_free(c);
    return status;
}

TEST(http_routes)
{
    env v;
    server *s = start(&v, 1 << 20);
    dbuf resp, m;
    dbuf_init(&resp, 1 << 20);
    dbuf_init(&m, WIRE_MAX_BLOCK_MSG);
    CHECK_EQ(request(s, "/health", NULL, 0, 0, &resp, NULL), 200);
    CHECK_EQ(request(s, "/nowhere", NULL, 0, 0, &resp, NULL), 404);
    CHECK_EQ(request(s, "/ingestion/insert_block", NULL, 0, 0, &resp, NULL), 405);
    CHECK_EQ(request(s, "/api/processes", "x", 1, 1, &resp, NULL), 405);
    CHECK_EQ(request(s, "/bench/discard", "x", 1, 1, &resp, NULL), 404); /* off by default */
    CHECK_EQ(request(s, "/api/processes/not-a-uuid/streams", NULL, 0, 0, &resp, NULL), 404);
    CHECK_EQ(request(s, "/api/processes/00000000-0000-4000-8000-000000000000/streams", NULL, 0,
                     0, &resp, NULL), 404);
    CHECK(strstr((char *)resp.p, "unknown process") != NULL);
    /* An empty body is a truncated message. */
    CHECK_EQ(request(s, "/ingestion/insert_process", "", 0, 1, &resp, NULL), 400);
    /* Over the cap (Content-Length known): 413 before the body is read. */
    uint8_t *big = calloc(1, 2 << 20);
    CHECK_EQ(request(s, "/ingestion/insert_block", big, 2 << 20, 1, &resp, NULL), 413);
    free(big);
    /* A block before its stream: 409 with Retry-After: 1. */
    ids x;
    new_ids(&x);
    block_msg(&x.b, &x.s, &x.p, 10, WIRE_CODEC_LZ4, &m);
    long ra = 0;
    CHECK_EQ(request(s, "/ingestion/insert_block", m.p, m.len, 1, &resp, &ra), 409);
    CHECK_EQ(ra, 1);
    dbuf msg;
    dbuf_init(&msg, 1 << 20);
    process_msg(&x.p, "/usr/bin/http", &msg);
    CHECK_EQ(request(s, "/ingestion/insert_process", msg.p, msg.len, 1, &resp, NULL), 200);
    stream_msg(&x.s, &x.p, "main", &msg);
    CHECK_EQ(request(s, "/ingestion/insert_stream", msg.p, msg.len, 1, &resp, NULL), 200);
    CHECK_EQ(request(s, "/ingestion/insert_block", m.p, m.len, 1, &resp, NULL), 200);
    CHECK(strstr((char *)resp.p, "inserted") != NULL);
    CHECK_EQ(request(s, "/ingestion/insert_block", m.p, m.len, 1, &resp, NULL), 200);
    CHECK(strstr((char *)resp.p, "exists") != NULL);
    CHECK_EQ(request(s, "/api/processes", NULL, 0, 0, &resp, NULL), 200);
    CHECK(strstr((char *)resp.p, "\"event_count\":20") != NULL);
    CHECK(strstr((char *)resp.p, "\"thread_count\":1") != NULL);
    char path[128], pid[UUID_STR_LEN];
    uuid_format(&x.p, pid);
    snprintf(path, sizeof path, "/api/processes/%s/streams", pid);
    CHECK_EQ(request(s, path, NULL, 0, 0, &resp, NULL), 200);
    CHECK(strstr((char *)resp.p, "\"thread_name\":\"main\"") != NULL);
    CHECK(strstr((char *)resp.p, "\"tags\":[\"cpu\"]") != NULL);
    dbuf_free(&msg);
    dbuf_free(&m);
    dbuf_free(&resp);
    server_stop(s);
    test_rmtree(v.dir);
}
