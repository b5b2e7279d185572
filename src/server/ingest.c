/*
 * ingest.c - validation and storage of process, stream and block messages.
 *
 * Nothing here is stored before the whole message has been checked, and the
 * order "payload object, then metadata row, then reply" makes a 2xx mean
 * durable (ingest.h lists the steps).
 *
 * Why claims: the block path reads "is this block already stored?" and then
 * writes the object; two requests carrying the same block id with different
 * bytes could otherwise both read "no", both write the object (the second
 * replacing the first) and then only one row would commit, leaving a row
 * whose hash does not describe the file.  A claim on the block id makes the
 * read-check-write sequence of one id run alone.  Claims are held only for
 * the duration of one request and keyed by id, so unrelated blocks never wait
 * for each other; the set is a small array because at most one request per
 * server thread can hold a claim.
 *
 * Per-thread scratch: validating a compressed payload needs a buffer the size
 * of its body and an arena for its tables.  Each server thread keeps its own
 * (thread-specific data), reused across requests, so the hot path allocates
 * nothing per event and almost nothing per block.
 */
#include "server/ingest.h"

#include "base/alloc.h"
#include "base/arena.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/json.h"
#include "wire/wire.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define CLAIMS_MAX 1024
#define SCRATCH_ARENA_MAX (64u << 20)

struct ingest {
    meta *m;
    objstore *os;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sl_uuid claims[CLAIMS_MAX];
    int n_claims;
    ingest_hook hook;
    void *hook_arg;
    ingest_block_hook block_hook;
    ingest_insert_hook insert_hook;
    void *block_hook_arg;
};

void ingest_set_block_hook(ingest *g, ingest_block_hook fn, void *arg)
{
    g->block_hook = fn;
    g->block_hook_arg = arg;
}

void ingest_set_insert_hook(ingest *g, ingest_insert_hook fn)
{
    g->insert_hook = fn;
}

void ingest_set_hook(ingest *g, ingest_hook fn, void *arg)
{
    g->hook = fn;
    g->hook_arg = arg;
}

typedef struct scratch {
    dbuf body;   /* decompressed payload body */
    arena a;     /* tables of the payload being validated, strings of messages */
} scratch;

static pthread_key_t g_scratch_key;
static pthread_once_t g_scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
    scratch *s = p;
    dbuf_free(&s->body);
    arena_destroy(&s->a);
    sl_free(s);
}

static void scratch_key_make(void)
{
    pthread_key_create(&g_scratch_key, scratch_free);
}

/* This thread's scratch, reset for a new request; NULL when out of memory. */
static scratch *thread_scratch(void)
{
    pthread_once(&g_scratch_once, scratch_key_make);
    scratch *s = pthread_getspecific(g_scratch_key);
    if (!s) {
        s = sl_calloc(1, sizeof *s);
        if (!s)
            return NULL;
        dbuf_init(&s->body, WIRE_MAX_BODY);
        arena_init(&s->a, 64 * 1024, SCRATCH_ARENA_MAX);
        pthread_setspecific(g_scratch_key, s);
    }
    dbuf_reset(&s->body);
    arena_reset(&s->a);
    return s;
}

int ingest_new(meta *m, objstore *os, ingest **out, errmsg *e)
{
    ingest *g = sl_calloc(1, sizeof *g);
    if (!g)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    g->m = m;
    g->os = os;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    *out = g;
    return SL_OK;
}

void ingest_free(ingest *g)
{
    if (!g)
        return;
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    sl_free(g);
}

int ingest_status_for(int code)
{
    switch (code) {
    case SL_OK:
        return 200;
    case SL_EINVAL:
    case SL_ETRUNC:
    case SL_ECORRUPT:
    case SL_EVERSION:
    case SL_EMISMATCH:
    case SL_EUNSUPPORTED:
        return 400;
    case SL_ETOOBIG:
        return 413;
    case SL_EAGAIN:
        return 409;
    case SL_EEXIST:
        return 422;
    case SL_ESTATE:
    case SL_ENOMEM:
        return 503;
    default:
        return 500;
    }
}

void ingest_block_key(const sl_uuid *process_id, const sl_uuid *stream_id, const sl_uuid *block_id,
                      char *out, size_t out_size)
{
    char p[UUID_STR_LEN], s[UUID_STR_LEN], b[UUID_STR_LEN];
    uuid_format(process_id, p);
    uuid_format(stream_id, s);
    uuid_format(block_id, b);
    snprintf(out, out_size, "blobs/%s/%s/%s", p, s, b);
}

/* Fills r for outcome rc (its message already in r->e when rc < 0). */
static void reply(ingest_reply *r, int rc, int existed)
{
    r->status = ingest_status_for(rc);
    r->existed = rc == SL_OK ? existed : 0;
    r->retry_after = rc == SL_EAGAIN || r->status == 503 ? 1 : 0;
    if (rc == SL_OK)
        errmsg_clear(&r->e);
}

static void reply_init(ingest_reply *r)
{
    memset(r, 0, sizeof *r);
    errmsg_clear(&r->e);
}

/* A wire string as a NUL-terminated copy in the arena ("" when out of memory is refused). */
static const char *cstr(arena *a, wire_str s, int *oom)
{
    char *p = arena_strndup(a, s.p, s.len);
    if (!p)
        *oom = 1;
    return p ? p : "";
}

/* Copies the JSON that w wrote into b to the arena and frees b; fallback on failure. */
static const char *keep_json(arena *a, const jw *w, dbuf *b, const char *fallback, int *oom)
{
    const char *out = w->err ? NULL : arena_strndup(a, (const char *)b->p, b->len);
    dbuf_free(b);
    if (!out)
        *oom = 1;
    return out ? out : fallback;
}

/* Properties as a JSON object of strings (later keys win when a key repeats). */
static const char *kvs_json(arena *a, const wire_kv *kv, uint32_t n, int *oom)
{
    dbuf b;
    dbuf_init(&b, WIRE_MAX_META_MSG * 8);
    jw w;
    jw_init(&w, &b);
    jw_obj_begin(&w);
    for (uint32_t i = 0; i < n && !w.err; i++) {
        jw_key(&w, cstr(a, kv[i].key, oom));
        jw_strn(&w, kv[i].value.p, kv[i].value.len);
    }
    jw_obj_end(&w);
    return keep_json(a, &w, &b, "{}", oom);
}

/* Tags as a JSON array of strings. */
static const char *tags_json(arena *a, const wire_str *tags, uint32_t n, int *oom)
{
    dbuf b;
    dbuf_init(&b, WIRE_MAX_META_MSG * 8);
    jw w;
    jw_init(&w, &b);
    jw_arr_begin(&w);
    for (uint32_t i = 0; i < n; i++)
        jw_strn(&w, tags[i].p, tags[i].len);
    jw_arr_end(&w);
    return keep_json(a, &w, &b, "[]", oom);
}

/* The shape of the three routes once scratch is at hand: 0 or an error with e set. */
typedef int (*route_fn)(ingest *g, scratch *s, const void *body, size_t len, int *existed,
                        errmsg *e);

static void run_route(ingest *g, route_fn fn, const void *body, size_t len, ingest_reply *r)
{
    reply_init(r);
    scratch *s = thread_scratch();
    int existed = 0;
    int rc = s ? fn(g, s, body, len, &existed, &r->e)
               : errmsg_set(&r->e, SL_ENOMEM, "out of memory");
    reply(r, rc, existed);
}

static int oom_fail(errmsg *e)
{
    return errmsg_set(e, SL_ENOMEM, "out of memory");
}

static int do_process(ingest *g, scratch *s, const void *body, size_t len, int *existed,
                      errmsg *e)
{
    wire_process w;
    int rc = wire_process_decode(body, len, &s->a, &w, e);
    if (rc)
        return rc;
    int oom = 0;
    meta_process p = {
        .process_id = w.process_id,
        .parent_process_id = w.parent_process_id,
        .exe = cstr(&s->a, w.exe, &oom),
        .username = cstr(&s->a, w.username, &oom),
        .realname = cstr(&s->a, w.realname, &oom),
        .computer = cstr(&s->a, w.computer, &oom),
        .distro = cstr(&s->a, w.distro, &oom),
        .cpu_brand = cstr(&s->a, w.cpu_brand, &oom),
        .tsc_frequency = w.tsc_frequency,
        .start_time_ns = w.start_time_ns,
        .start_ticks = w.start_ticks,
        .properties_json = kvs_json(&s->a, w.properties, w.n_properties, &oom),
        .content_hash = hash64(body, len),
    };
    return oom ? oom_fail(e) : meta_process_insert(g->m, &p, existed, e);
}

static int do_stream(ingest *g, scratch *s, const void *body, size_t len, int *existed,
                     errmsg *e)
{
    wire_stream w;
    int rc = wire_stream_decode(body, len, &s->a, &w, e);
    if (rc)
        return rc;
    int oom = 0;
    meta_stream st = {
        .stream_id = w.stream_id,
        .process_id = w.process_id,
        .tags_json = tags_json(&s->a, w.tags, w.n_tags, &oom),
        .properties_json = kvs_json(&s->a, w.properties, w.n_properties, &oom),
        .content_hash = hash64(body, len),
    };
    if (oom)
        return oom_fail(e);
    rc = meta_stream_insert(g->m, &st, existed, e);
    if (!rc && !*existed && g->hook)
        g->hook(g->hook_arg, 'S', &w.process_id, &w.stream_id);
    return rc;
}

/* Step 1 of the block path: everything that needs only the bytes. */
static int validate_block(scratch *s, const void *body, size_t len, wire_block *b,
                          const uint8_t **payload, errmsg *e)
{
    int rc = wire_block_decode(body, len, b, payload, e);
    if (rc)
        return rc;
    wire_payload_hdr h;
    if ((rc = wire_payload_hdr_decode(*payload, b->payload_size, &h, e)) ||
        (rc = wire_block_check_payload(b, &h, e)))
        return rc;
    rc = wire_payload_validate(*payload, b->payload_size, &s->body, &s->a, e);
    /* Running out of decoder memory means the payload is beyond what we accept. */
    if (rc == SL_ENOMEM)
        rc = errmsg_set(e, SL_ETOOBIG, "payload needs more decoding memory than the cap "
                        "allows (%s)", e ? e->text : "");
    return rc;
}

static void claim(ingest *g, const sl_uuid *id)
{
    pthread_mutex_lock(&g->mu);
    for (;;) {
        int busy = g->n_claims >= CLAIMS_MAX;
        for (int i = 0; i < g->n_claims && !busy; i++)
            busy = uuid_eq(&g->claims[i], id);
        if (!busy)
            break;
        pthread_cond_wait(&g->cv, &g->mu);
    }
    g->claims[g->n_claims++] = *id;
    pthread_mutex_unlock(&g->mu);
}

static void unclaim(ingest *g, const sl_uuid *id)
{
    pthread_mutex_lock(&g->mu);
    for (int i = 0; i < g->n_claims; i++) {
        if (uuid_eq(&g->claims[i], id)) {
            g->claims[i] = g->claims[--g->n_claims];
            break;
        }
    }
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static int take_clock(void *arg, const meta_process_summary *row)
{
    meta_process *p = arg;
    p->start_time_ns = row->p.start_time_ns;
    p->tsc_frequency = row->p.tsc_frequency;
    return 0;
}

/*
 * The block's ticks must convert to times int64 ns can hold with its process's
 * clock (every event's ticks lie inside the block's range: the payload check).
 * Processes stored before the clock rule of wire_process_decode could fail here.
 */
static int check_block_clock(ingest *g, const wire_block *b, errmsg *e)
{
    meta_process p = {0};
    int rc = meta_process_find(g->m, &b->process_id, take_clock, &p, e);
    if (rc == SL_ENOTFOUND)
        return errmsg_set(e, SL_EAGAIN, "unknown process (send it before its blocks)");
    if (rc)
        return rc;
    int64_t ns;
    if (wire_ticks_to_ns_checked(p.start_time_ns, p.tsc_frequency, b->begin_ticks, &ns) ||
        wire_ticks_to_ns_checked(p.start_time_ns, p.tsc_frequency, b->end_ticks, &ns))
        return errmsg_set(e, SL_EINVAL, "block message: ticks %lld..%lld at bytes 80..95 are "
                          "outside the years 1677..2262 with the process's clock",
                          (long long)b->begin_ticks, (long long)b->end_ticks);
    return SL_OK;
}

/* Steps 3 and 4: 1 when the block is already stored identically, 0 to go on, or an error. */
static int check_stored_state(ingest *g, const wire_block *b, uint64_t hash, errmsg *e)
{
    meta_block have;
    int rc = meta_block_find(g->m, &b->block_id, &have, e);
    if (rc == SL_OK) {
        if (have.content_hash == hash)
            return 1;
        char id[UUID_STR_LEN];
        uuid_format(&b->block_id, id);
        return errmsg_set(e, SL_EEXIST, "block %s already exists with different content", id);
    }
    if (rc != SL_ENOTFOUND)
        return rc;
    meta_stream st;
    char sid[UUID_STR_LEN];
    uuid_format(&b->stream_id, sid);
    rc = meta_stream_find(g->m, &b->stream_id, &st, e);
    if (rc == SL_ENOTFOUND)
        return errmsg_set(e, SL_EAGAIN, "unknown stream %s (send it before its blocks)", sid);
    if (rc)
        return rc;
    if (!uuid_eq(&st.process_id, &b->process_id)) {
        char pid[UUID_STR_LEN];
        uuid_format(&st.process_id, pid);
        return errmsg_set(e, SL_EEXIST, "stream %s belongs to process %s, not to the block's "
                          "process", sid, pid);
    }
    return check_block_clock(g, b, e);
}

static int do_block(ingest *g, scratch *s, const void *body, size_t len, int *existed,
                    errmsg *e)
{
    wire_block b;
    const uint8_t *payload = NULL;
    int rc = validate_block(s, body, len, &b, &payload, e);
    if (rc)
        return rc;
    uint64_t hash = hash64(body, len);
    claim(g, &b.block_id);
    rc = check_stored_state(g, &b, hash, e);
    if (rc == 1) {
        *existed = 1;
        rc = SL_OK;
        goto out;
    }
    if (rc)
        goto out;
    char key[256];
    ingest_block_key(&b.process_id, &b.stream_id, &b.block_id, key, sizeof key);
    /* No row names this object, so whatever a crashed earlier attempt left may go. */
    if ((rc = objstore_put(g->os, key, payload, b.payload_size, OBJSTORE_PUT_REPLACE, e)))
        goto out;
    int64_t begin_ns = g->insert_hook ? g->insert_hook(g->block_hook_arg, 0, false)
                                      : clock_wall_ns();
    meta_block row = {
        .block_id = b.block_id,
        .stream_id = b.stream_id,
        .process_id = b.process_id,
        .begin_time_ns = b.begin_time_ns,
        .end_time_ns = b.end_time_ns,
        .begin_ticks = b.begin_ticks,
        .end_ticks = b.end_ticks,
        .nb_objects = b.nb_objects,
        .object_offset = b.object_offset,
        .payload_size = b.payload_size,
        .content_hash = hash,
        .insert_time_ns = begin_ns, /* (the store sets its own: this is the hooks') */
    };
    rc = meta_block_insert(g->m, &row, existed, e);
    if (!rc && !*existed && g->hook)
        g->hook(g->hook_arg, 'B', &b.process_id, &b.stream_id);
    if (!rc && !*existed && g->block_hook)
        g->block_hook(g->block_hook_arg, &row, payload, b.payload_size);
    if (g->insert_hook)
        g->insert_hook(g->block_hook_arg, begin_ns, true);
    if (rc == SL_EMISMATCH)
        rc = SL_EEXIST; /* the stream belongs to another process: a conflict, not bad bytes */
out:
    unclaim(g, &b.block_id);
    return rc;
}

void ingest_process(ingest *g, const void *body, size_t len, ingest_reply *r)
{
    run_route(g, do_process, body, len, r);
}

void ingest_stream(ingest *g, const void *body, size_t len, ingest_reply *r)
{
    run_route(g, do_stream, body, len, r);
}

void ingest_block(ingest *g, const void *body, size_t len, ingest_reply *r)
{
    run_route(g, do_block, body, len, r);
}
