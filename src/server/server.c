/*
 * server.c - libmicrohttpd glue: routing, bounded request bodies, replies.
 *
 * libmicrohttpd calls the access handler several times per request: once
 * when the headers are in (we route, and refuse what we can at once), once
 * per piece of body (we append to a capped buffer), and once more at the end
 * (we run the route).  A body over the cap is never kept: it is read and
 * dropped, and 413 is answered at its end (libmicrohttpd cannot reply
 * mid-body, and replying before the body is read lets a connection reset
 * swallow the reply).  Clients that wait for "100 Continue", and bodies
 * announced larger than the drain limit, are answered 413 before any body.
 * All bodies in memory together are bounded by the in-flight budget; a
 * request that does not fit gets 503 and is retried.
 *
 * Route handlers run on the daemon's worker threads and may block (fsync,
 * group commit): each thread serves its own connections, so a blocked thread
 * delays only those.  The request context is freed by the completion callback,
 * whatever way the request ended.
 */
#define SL_TARGET "streamlake.server"
#include "server/server.h"

#include "base/alloc.h"
#include "base/budget.h"
#include "base/clock.h"
#include "base/dbuf.h"
#include "base/pool.h"
#include "base/log.h"
#include "meta/meta.h"
#include "objstore/objstore.h"
#include "lake/lake.h"
#include "perfetto/pf_gen.h"
#include "server/api.h"
#include "server/api_analyze.h"
#include "server/api_jobs.h"
#include "server/api_lake.h"
#include "server/api_otlp.h"
#include "server/api_sql.h"
#include "server/api_trace.h"
#include "server/api_web.h"
#include "server/auth_http.h"
#include "server/background.h"
#include "server/ingest.h"
#include "server/keys.h"
#include "server/pgwire.h"
#include "server/self_trace.h"
#include "streamlake/trace.h"
#include "wire/wire.h"

#include <arpa/inet.h>
#include <limits.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <errno.h>
#include <unistd.h>

#define API_REPLY_MAX (256u << 20)

struct server {
    server_config cfg;
    objstore *os;
    meta *m;
    ingest *g;
    lake *lake;
    sql_engine *sql;
    stream_server *jobs;         /* continuous jobs (src/stream/jobs.c) */
    pgwire *pg;
    pgwire_tls *pg_tls;          /* --tls-cert / --tls-key, NULL without */
    keyset *keys;                /* --keys, NULL without */
    int self_traced;             /* this server started the tracing library (self_trace.h) */
    http_auth *auth;             /* --keys: Bearer keys on HTTP; NULL without */
    struct MHD_Daemon *d;
    api_trace_stats tstats;
    pthread_t janitor;
    int janitor_started;
    background bg;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    int stopping;
    uint16_t port;
    int listen_fd;               /* bound before the stores open; then the daemon's */
    _Atomic uint64_t inflight_bytes; /* request-body memory held by all connections */
    budget bud;                      /* streamed responses: memory and worker threads */
};

/* Routes from R_HEALTH on are GET routes (no body); the code relies on that order. */
enum route {
    R_NONE = 0,
    R_REFUSED,   /* the request line was over a cap (uri_check): answer 414 */
    R_PROCESS,
    R_STREAM,
    R_BLOCK,
    R_DISCARD,
    R_API_MATERIALIZE,
    R_API_PERFETTO,
    R_API_QUERY,
    R_WEB,       /* the web app and /api/saved-queries (api_web.c): any method it takes */
    R_OTLP_LOGS,   /* the three OTLP routes, in otlp_signal order */
    R_OTLP_METRICS,
    R_OTLP_TRACES,
    R_JOBS_POST,  /* POST /api/jobs/{name}/stop|start (api_jobs.h) */
    R_HEALTH,
    R_API_PROCESSES,
    R_API_STREAMS,
    R_API_STATS,
    R_API_VIEW,
    R_API_TRACE,
    R_API_ANALYZE,
    R_JOBS,       /* GET /api/jobs[/{name}], /metrics */
};

typedef struct req {
    int route;
    int over_cap;    /* the body passed its cap: drain it, answer 413 */
    int busy;        /* the body did not fit the server's budget: drain it, answer 503 */
    dbuf body;
    uint64_t seen_bytes;
    uint64_t reserved; /* bytes of the in-flight budget this request holds */
    sl_uuid id;  /* R_API_STREAMS: the process */
    char view[64], instance[64]; /* R_API_VIEW */
    char job[128];               /* R_JOBS, R_JOBS_POST: the job's name */
    int job_op;                  /* ... API_JOBS_* */
    char refusal[128];           /* R_REFUSED, deny: why */
    int deny;                    /* 401 or 403 (auth_http.h): drain the body, answer that */
    unsigned scopes;             /* the key's (all without keys) */
} req;

/*
 * Request lines the server refuses before libmicrohttpd parses them: its parser
 * stores every query parameter in the connection's fixed memory pool, and when
 * the pool runs out its own 431 never reaches the client (the connection hangs
 * until the timeout).  The URI log callback sees the raw request line first, so
 * a line over these caps has its query cut off there (nothing left to parse)
 * and the access handler answers 414 at once.
 */
#define URI_MAX_BYTES 8192
#define URI_MAX_PARAMS 64

/* Marks a refused request line when even its context cannot be allocated. */
static req g_uri_oom = {.route = R_REFUSED, .refusal = "out of memory"};

void server_config_defaults(server_config *c)
{
    memset(c, 0, sizeof *c);
    c->data_dir = "streamlake-data";
    c->host = "127.0.0.1";
    c->port = 8080;
    c->threads = 8;
    c->max_body_bytes = WIRE_MAX_BLOCK_MSG;
    c->max_inflight_bytes = (size_t)1 << 30;
    unsigned cores = pool_default_threads();
    c->max_response_bytes = (size_t)256 << 20;
    c->max_workers = (int)(8 * cores);
    c->max_request_jobs = cores < 2 ? 2 : (int)cores;
    c->client_timeout_s = 30;
    c->sql_work_mem_bytes = (size_t)64 << 20;
    c->sql_memory_bytes = (size_t)1 << 30;
    c->pg_mode = 1;
    c->pg_host = "127.0.0.1";
    c->pg_port = 5433;
}

/* The PostgreSQL listener: a default address that is taken is a warning, not a failure. */
static int start_pg(server *s, errmsg *e)
{
    if (!s->cfg.pg_mode)
        return SL_OK;
    pgwire_config pc = {.host = s->cfg.pg_host, .port = s->cfg.pg_port,
                        .max_conns = s->cfg.pg_max_conns,
                        .idle_timeout_s = s->cfg.pg_idle_timeout_s, .tls = s->pg_tls,
                        .require_tls = s->cfg.pg_require_tls, .keys = s->keys};
    errmsg pe = {0};
    int rc = pgwire_start(&pc, s->sql, &s->pg, &pe);
    if (rc && s->cfg.pg_mode == 1) {
        log_warn("pgwire", "%s; the PostgreSQL protocol is off (--pg-listen HOST:PORT picks "
                 "another address)", errmsg_str(&pe));
        return SL_OK;
    }
    return rc ? errmsg_set(e, rc, "%s", errmsg_str(&pe)) : SL_OK;
}

/*
 * The TLS certificate and the keys file, read before the stores open: a wrong
 * path, a certificate without its key, a malformed line stop the start-up.
 */
static int load_credentials(server *s, errmsg *e)
{
    const server_config *c = &s->cfg;
    if (!c->pg_tls_cert != !c->pg_tls_key)
        return errmsg_set(e, SL_EINVAL, "--tls-cert and --tls-key go together");
    if (c->pg_require_tls && !c->pg_tls_cert)
        return errmsg_set(e, SL_EINVAL, "--pg-require-tls needs --tls-cert and --tls-key");
    int rc = c->pg_tls_cert ? pgwire_tls_new(c->pg_tls_cert, c->pg_tls_key, &s->pg_tls, e) : 0;
    if (rc || !c->keys_file)
        return rc;
    if ((rc = keys_load(c->keys_file, &s->keys, e)) || (rc = http_auth_new(s->keys, &s->auth, e)))
        return rc;
    struct stat st;
    if (!stat(c->keys_file, &st) && (st.st_mode & 077))
        log_warn("serve", "keys file %s can be read by other users (mode %03o): chmod 600 it",
                 c->keys_file, (unsigned)(st.st_mode & 0777));
    log_info("serve", "%d keys from %s: HTTP requests need Authorization: Bearer KEY, "
             "PostgreSQL clients authenticate with SCRAM-SHA-256", keys_count(s->keys),
             c->keys_file);
    return SL_OK;
}

uint16_t server_pg_port(const server *s)
{
    return s->pg ? pgwire_port(s->pg) : 0;
}

/*
 * The in-flight budget bounds the memory of all request bodies together: each
 * body may be up to the cap, and many connections at once must not add up to
 * more than the machine has.  A request that does not fit gets 503 with
 * Retry-After, which clients retry with backoff.  Returns 1 when n more bytes
 * were granted to q.
 */
static int inflight_take(server *s, req *q, uint64_t n)
{
    uint64_t now = atomic_fetch_add(&s->inflight_bytes, n) + n;
    if (now > s->cfg.max_inflight_bytes) {
        atomic_fetch_sub(&s->inflight_bytes, n);
        return 0;
    }
    q->reserved += n;
    return 1;
}

static void inflight_give(server *s, req *q)
{
    atomic_fetch_sub(&s->inflight_bytes, q->reserved);
    q->reserved = 0;
}

/* How much of a refused body is read and dropped so that the refusal arrives intact. */
static uint64_t drain_limit(const server *s)
{
    return 2 * (uint64_t)s->cfg.max_body_bytes + 65536;
}

/* ------------------------------------------------------------ replies */

static enum MHD_Result send_buf(struct MHD_Connection *c, int status, const char *type,
                                void *buf, size_t len, int owned)
{
    struct MHD_Response *r =
        owned ? MHD_create_response_from_buffer_with_free_callback(len, buf, sl_free)
              : MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_COPY);
    if (!r) {
        if (owned)
            sl_free(buf);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

/* A one-line text reply: the reason, newlines flattened, then "\n"; one extra header. */
static enum MHD_Result send_error_hdr(struct MHD_Connection *c, int status, const char *reason,
                                      int retry_after, const char *hname, const char *hval)
{
    char line[320];
    snprintf(line, sizeof line, "%s", reason);
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    size_t n = strlen(line);
    line[n++] = '\n';
    struct MHD_Response *r = MHD_create_response_from_buffer(n, line, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (retry_after > 0) {
        char v[16];
        snprintf(v, sizeof v, "%d", retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    if (hval)
        MHD_add_response_header(r, hname, hval);
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_error(struct MHD_Connection *c, int status, const char *reason,
                                  int retry_after, const char *allow)
{
    return send_error_hdr(c, status, reason, retry_after, MHD_HTTP_HEADER_ALLOW, allow);
}

/* 401 (with its challenge) or 403 for a request refused by http_auth_check. */
static enum MHD_Result send_denied(struct MHD_Connection *c, int status, const char *reason)
{
    return send_error_hdr(c, status, reason, 0, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                          status == 401 ? HTTP_AUTH_CHALLENGE : NULL);
}

/*
 * The scope a route needs when keys are configured (docs/internals/http-api.md,
 * "Keys").  A route not listed needs admin: a new route is closed until placed.
 */
static unsigned route_scope(int route, const char *url)
{
    switch (route) {
    case R_PROCESS: case R_STREAM: case R_BLOCK: case R_DISCARD:
    case R_OTLP_LOGS: case R_OTLP_METRICS: case R_OTLP_TRACES:
        return KEY_SCOPE_INGEST;
    case R_HEALTH:
        return 0;
    case R_WEB: /* the app's files are public; its saved queries are data */
        return strncmp(url, "/api/", 5) ? 0 : KEY_SCOPE_QUERY;
    case R_API_PERFETTO: case R_API_QUERY: case R_API_PROCESSES: case R_API_STREAMS:
    case R_API_STATS: case R_API_VIEW: case R_API_TRACE: case R_API_ANALYZE: case R_JOBS:
        return KEY_SCOPE_QUERY;
    default: /* R_API_MATERIALIZE, R_JOBS_POST */
        return KEY_SCOPE_ADMIN;
    }
}

static enum MHD_Result send_json_buf(struct MHD_Connection *c, int status, dbuf *b)
{
    size_t len;
    uint8_t *p = dbuf_take(b, &len);
    if (!p)
        return send_error(c, 500, "out of memory", 0, NULL);
    return send_buf(c, status, "application/json", p, len, 1);
}

/* ------------------------------------------------------------ routing */

/*
 * Maps method and path to a route.  On a miss returns R_NONE with *status 404
 * or 405 (and *allow the methods the path takes).
 */
static int route_of(const server *s, const char *method, const char *url, req *q,
                    int *status, const char **allow)
{
    static const struct {
        const char *path;
        int route;
        int post;
    } fixed[] = {
        {"/ingestion/insert_process", R_PROCESS, 1},
        {"/ingestion/insert_stream", R_STREAM, 1},
        {"/ingestion/insert_block", R_BLOCK, 1},
        {"/bench/discard", R_DISCARD, 1},
        {"/api/materialize", R_API_MATERIALIZE, 1},
        {"/api/query", R_API_QUERY, 1},
        {"/v1/logs", R_OTLP_LOGS, 1},
        {"/v1/metrics", R_OTLP_METRICS, 1},
        {"/v1/traces", R_OTLP_TRACES, 1},
        {"/health", R_HEALTH, 0},
        {"/api/processes", R_API_PROCESSES, 0},
        {"/api/stats", R_API_STATS, 0},
    };
    int is_post = !strcmp(method, "POST");
    int is_get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    int route = R_NONE, wants_post = 0;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        if (!strcmp(url, fixed[i].path)) {
            route = fixed[i].route;
            wants_post = fixed[i].post;
        }
    }
    /* /api/processes/{id}/streams, /api/processes/{id}/trace.pftrace, /api/perfetto/{id}/generate,
     * /api/analyze/{id} */
    static const struct {
        const char *prefix, *suffix;
        int route, post;
    } with_id[] = {
        {"/api/processes/", "/streams", R_API_STREAMS, 0},
        {"/api/processes/", "/trace.pftrace", R_API_TRACE, 0},
        {"/api/perfetto/", "/generate", R_API_PERFETTO, 1},
        {"/api/analyze/", "", R_API_ANALYZE, 0},
    };
    size_t n = strlen(url);
    for (size_t i = 0; route == R_NONE && i < sizeof with_id / sizeof with_id[0]; i++) {
        size_t pl = strlen(with_id[i].prefix), sl = strlen(with_id[i].suffix);
        if (n != pl + 36 + sl || strncmp(url, with_id[i].prefix, pl) ||
            strcmp(url + n - sl, with_id[i].suffix))
            continue;
        char text[UUID_STR_LEN];
        memcpy(text, url + pl, 36);
        text[36] = 0;
        if (uuid_parse(text, &q->id) == 0) {
            route = with_id[i].route;
            wants_post = with_id[i].post;
        }
    }
    /* /api/views/{view}/{instance} */
    static const char vprefix[] = "/api/views/";
    if (route == R_NONE && !strncmp(url, vprefix, sizeof vprefix - 1)) {
        const char *v = url + sizeof vprefix - 1, *slash = strchr(v, '/');
        if (slash && slash > v && (size_t)(slash - v) < sizeof q->view && slash[1] &&
            strlen(slash + 1) < sizeof q->instance && !strchr(slash + 1, '/')) {
            snprintf(q->view, sizeof q->view, "%.*s", (int)(slash - v), v);
            snprintf(q->instance, sizeof q->instance, "%s", slash + 1);
            route = R_API_VIEW;
        }
    }
    int op = route == R_NONE ? api_jobs_match(url, q->job, sizeof q->job) : -1;
    if (op >= 0) {
        q->job_op = op;
        wants_post = api_jobs_post(op);
        route = wants_post ? R_JOBS_POST : R_JOBS;
    }
    if (route == R_DISCARD && !s->cfg.discard_route)
        route = R_NONE;
    *status = 404;
    if (route == R_NONE) {
        int web = api_web_route(method, url, status, allow);
        return web > 0 ? R_WEB : R_NONE;
    }
    if ((wants_post && !is_post) || (!wants_post && !is_get)) {
        *status = 405;
        *allow = wants_post ? "POST" : "GET, HEAD";
        return R_NONE;
    }
    return route;
}

/* ------------------------------------------------------------ route handlers */

/*
 * A streamed response: the producer (a view or a trace) and its connection.
 * libmicrohttpd measures a connection's timeout from its last socket activity
 * and checks it right after our callbacks return, so a callback that worked
 * for long (a cold JIT before a trace's first chunk) would have its client
 * dropped as if it had stalled.  After such a callback the timer is restarted
 * (the public way: setting the timeout to 0 marks activity, then back); a
 * client that really stops reading is never called back, and times out.
 */
typedef struct stream_resp {
    struct MHD_Connection *c;
    unsigned timeout_s;
    ssize_t (*read)(void *obj, char *buf, size_t max);
    void (*close)(void *obj);
    void *obj;
} stream_resp;

/*
 * Per connection, libmicrohttpd keeps one memory pool (headers, the read
 * buffer, the response's write buffer) of CONNECTION_POOL_BYTES; a streamed
 * response writes STREAM_BLOCK_BYTES at a time from it.  With the connection
 * limit they bound what connections cost outside the response budget: a
 * stalled client holds its pool and its producer's grant, nothing else.
 */
#define CONNECTION_POOL_BYTES (128u << 10)
#define STREAM_BLOCK_BYTES (32u << 10)

/* Work longer than this inside a callback restarts the connection's timer. */
#define SLOW_CALLBACK_NS 500000000ll

static void touch_connection(struct MHD_Connection *c, unsigned timeout_s)
{
    MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, timeout_s);
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream_resp *r = cls;
    int64_t t0 = clock_mono_ns();
    ssize_t n = r->read(r->obj, buf, max);
    if (clock_mono_ns() - t0 > SLOW_CALLBACK_NS)
        touch_connection(r->c, r->timeout_s);
    return n > 0 ? n : n == 0 ? (ssize_t)MHD_CONTENT_READER_END_OF_STREAM
                              : (ssize_t)MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_free(void *cls)
{
    stream_resp *r = cls;
    r->close(r->obj);
    sl_free(r);
}

static ssize_t view_read(void *obj, char *buf, size_t max)
{
    return api_view_read(obj, buf, max);
}

static void view_close(void *obj)
{
    api_view_close(obj);
}

static ssize_t trace_read(void *obj, char *buf, size_t max)
{
    return api_trace_read(obj, buf, max);
}

static void trace_close(void *obj)
{
    api_trace_close(obj);
}

/* Queues a 200 streamed from obj (closed by the response, or here on failure). */
static enum MHD_Result queue_stream(server *s, struct MHD_Connection *c, void *obj,
                                    ssize_t (*rd)(void *, char *, size_t),
                                    void (*cl)(void *), const char *type, const char *disp)
{
    stream_resp *r = sl_calloc(1, sizeof *r);
    struct MHD_Response *resp = NULL;
    if (r) {
        *r = (stream_resp){c, (unsigned)s->cfg.client_timeout_s, rd, cl, obj};
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK_BYTES,
                                                 stream_reader, r, stream_free);
    }
    if (!resp) {
        sl_free(r);
        cl(obj);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (disp)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disp);
    enum MHD_Result ok = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* Streams a view: the scan is open (errors already answered) before the first byte. */
static enum MHD_Result run_view(server *s, struct MHD_Connection *c, const req *q)
{
    const char *a[3] = {"begin", "end", "format"};
    const char *v[3];
    for (int i = 0; i < 3; i++)
        v[i] = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, a[i]);
    api_view *view;
    int status = 500;
    errmsg e;
    errmsg_clear(&e);
    if (api_view_open(s->lake, &s->bud, q->view, q->instance, v[0], v[1], v[2], &view,
                      &status, &e))
        return send_error(c, status, errmsg_str(&e), status == 503 ? 1 : 0, NULL);
    return queue_stream(s, c, view, view_read, view_close, api_view_content_type(view), NULL);
}

/* Workers for one request: what it asked (else serve --jobs, else the cores), capped. */
static unsigned request_jobs(const server *s, unsigned asked)
{
    unsigned j = asked ? asked : s->cfg.jobs > 0 ? (unsigned)s->cfg.jobs : pool_default_threads();
    return j > (unsigned)s->cfg.max_request_jobs ? (unsigned)s->cfg.max_request_jobs : j;
}

/*
 * A trace, plain (GET .../trace.pftrace) or as the progress frame stream (POST
 * /api/perfetto/{id}/generate).  The generator is open, and the process known,
 * before the first byte; closing the response (done, or the client left) closes it.
 */
static enum MHD_Result run_trace(server *s, struct MHD_Connection *c, const req *q)
{
    api_trace_req rq = {.kinds = 3, .frames = q->route == R_API_PERFETTO};
    errmsg e;
    errmsg_clear(&e);
    int rc = SL_OK;
    if (rq.frames) {
        rc = api_trace_parse_body((const char *)q->body.p, q->body.len, &rq, &e);
    } else {
        const char *kinds = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "kinds");
        if (kinds && *kinds && pf_gen_kinds_parse(kinds, &rq.kinds))
            rc = errmsg_set(&e, SL_EINVAL, "kinds=%s: use thread, async or both", kinds);
        if (!rc)
            rc = api_parse_time(
                MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "begin"), &rq.has_begin,
                &rq.begin_ns, "begin", &e);
        if (!rc)
            rc = api_parse_time(MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "end"),
                                      &rq.has_end, &rq.end_ns, "end", &e);
    }
    if (rc)
        return send_error(c, 400, errmsg_str(&e), 0, NULL);
    rq.jobs = request_jobs(s, rq.jobs);
    char pid[UUID_STR_LEN];
    uuid_format(&q->id, pid);
    api_trace *t;
    int status = 500;
    if (api_trace_open(s->lake, &s->bud, &s->tstats, pid, &rq, &t, &status, &e))
        return send_error(c, status, errmsg_str(&e), status == 503 ? 1 : 0, NULL);
    char disp[128];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s.pftrace\"", pid);
    return queue_stream(s, c, t, trace_read, trace_close, "application/octet-stream",
                        rq.frames ? NULL : disp);
}

/* GET /api/analyze/{id}: the report's JSON, computed before the status line. */
static enum MHD_Result run_analyze(server *s, struct MHD_Connection *c, const req *q)
{
    char pid[UUID_STR_LEN];
    uuid_format(&q->id, pid);
    api_analyze_req rq = {pid, NULL, NULL, NULL, NULL, NULL};
    const char *names[5] = {"begin", "end", "kinds", "top", "max_spans"};
    const char **vals[5] = {&rq.begin, &rq.end, &rq.kinds, &rq.top, &rq.max_spans};
    for (int i = 0; i < 5; i++)
        *vals[i] = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, names[i]);
    dbuf b;
    dbuf_init(&b, API_REPLY_MAX);
    errmsg e;
    errmsg_clear(&e);
    int status = 500;
    enum MHD_Result ok;
    sl_async_span sp = SL_ASYNC_BEGIN("analyze", NULL);
    int arc = api_analyze_json(s->sql, &rq, &b, &status, &e);
    sl_async_end(&sp);
    if (arc == SL_OK)
        ok = send_json_buf(c, 200, &b);
    else
        ok = send_error(c, status, errmsg_str(&e), status == 503 ? 1 : 0, NULL);
    dbuf_free(&b);
    return ok;
}

static enum MHD_Result run_jobs(server *s, struct MHD_Connection *c, const req *q)
{
    dbuf b;
    dbuf_init(&b, API_REPLY_MAX);
    int status;
    const char *ctype;
    api_jobs_reply(s->jobs, q->job_op, q->job, &b, &status, &ctype);
    size_t len;
    uint8_t *p = dbuf_take(&b, &len);
    dbuf_free(&b);
    return p ? send_buf(c, status, ctype, p, len, 1) : send_error(c, 500, "out of memory", 0, NULL);
}

static enum MHD_Result run_get(server *s, struct MHD_Connection *c, const req *q)
{
    if (q->route == R_JOBS)
        return run_jobs(s, c, q);
    if (q->route == R_API_ANALYZE)
        return run_analyze(s, c, q);
    if (q->route == R_API_VIEW)
        return run_view(s, c, q);
    if (q->route == R_API_TRACE)
        return run_trace(s, c, q);
    dbuf b;
    dbuf_init(&b, API_REPLY_MAX);
    errmsg e;
    errmsg_clear(&e);
    int rc = SL_OK;
    if (q->route == R_HEALTH)
        rc = dbuf_append_str(&b, "{\"status\":\"ok\"}");
    else if (q->route == R_API_PROCESSES)
        rc = api_processes_json(s->m, &b, &e);
    else if (q->route == R_API_STATS)
        rc = api_stats_json(s->lake, &s->tstats, &s->bud, s->sql, s->os, &b, &e);
    else
        rc = api_streams_json(s->m, &q->id, &b, &e);
    enum MHD_Result ok;
    if (rc == SL_OK)
        ok = send_json_buf(c, 200, &b);
    else
        ok = send_error(c, rc == SL_ENOTFOUND ? 404 : 500, errmsg_str(&e), 0, NULL);
    dbuf_free(&b);
    return ok;
}

static enum MHD_Result run_materialize(server *s, struct MHD_Connection *c)
{
    const char *pid = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "process_id");
    dbuf b;
    dbuf_init(&b, API_REPLY_MAX);
    errmsg e;
    errmsg_clear(&e);
    int status = 500;
    enum MHD_Result ok;
    if (api_materialize_json(s->lake, s->m, &s->bud, pid, request_jobs(s, 0), &b, &status,
                             &e) == SL_OK)
        ok = send_json_buf(c, 200, &b);
    else
        ok = send_error(c, status, errmsg_str(&e), status == 503 ? 1 : 0, NULL);
    dbuf_free(&b);
    return ok;
}

static ssize_t query_read(void *obj, char *buf, size_t max)
{
    return api_query_read(obj, buf, max);
}

static void query_close(void *obj)
{
    api_query_close(obj);
}

/* POST /api/query: the first statement runs before the status line (errors are 400). */
static enum MHD_Result run_query(server *s, struct MHD_Connection *c, req *q)
{
    const char *format = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
    const char *expanded = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "expanded");
    const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
    api_query *a;
    int status = 500;
    dbuf err;
    dbuf_init(&err, 64 * 1024);
    int rc = api_query_open(s->sql, &s->bud, (const char *)q->body.p, q->body.len, format,
                            accept, expanded && !strcmp(expanded, "1"),
                            (q->scopes & KEY_SCOPE_ADMIN) != 0, &a, &status, &err);
    dbuf_free(&q->body);
    inflight_give(s, q);
    if (rc) {
        enum MHD_Result ok = send_buf(c, status, "application/json", err.p ? err.p : (void *)"",
                                      err.len, 0);
        dbuf_free(&err);
        return ok;
    }
    dbuf_free(&err);
    return queue_stream(s, c, a, query_read, query_close, api_query_content_type(a), NULL);
}

/* POST /v1/{logs,metrics,traces}: api_otlp.c does the work. */
static enum MHD_Result run_otlp(server *s, struct MHD_Connection *c, req *q)
{
    api_otlp_reply r;
    api_otlp_handle(s->g, (otlp_signal)(q->route - R_OTLP_LOGS), q->body.p, q->body.len,
                    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
                    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding"), &r);
    dbuf_free(&q->body);
    inflight_give(s, q);
    enum MHD_Result ok = send_buf(c, r.status, r.content_type, r.body.p ? r.body.p : (void *)"",
                                  r.body.len, 0);
    dbuf_free(&r.body);
    return ok;
}

static enum MHD_Result run_post(server *s, struct MHD_Connection *c, req *q)
{
    ingest_reply r;
    if (q->route >= R_OTLP_LOGS && q->route <= R_OTLP_TRACES)
        return run_otlp(s, c, q);
    if (q->route == R_JOBS_POST)
        return run_jobs(s, c, q);
    if (q->route == R_API_QUERY)
        return run_query(s, c, q);
    if (q->route == R_API_MATERIALIZE) {
        dbuf_free(&q->body);
        inflight_give(s, q);
        return run_materialize(s, c);
    }
    if (q->route == R_API_PERFETTO) {
        enum MHD_Result ok = run_trace(s, c, q);
        dbuf_free(&q->body);
        inflight_give(s, q);
        return ok;
    }
    if (q->route == R_DISCARD) {
        char ok[64];
        int n = snprintf(ok, sizeof ok, "{\"status\":\"discarded\",\"bytes\":%zu}", q->body.len);
        return send_buf(c, 200, "application/json", ok, (size_t)n, 0);
    }
    /* Only here, never on the server's own in-process path (self_trace.h). */
    sl_async_span sp;
    if (q->route == R_PROCESS) {
        sp = SL_ASYNC_BEGIN("ingest.process", NULL);
        ingest_process(s->g, q->body.p, q->body.len, &r);
    } else if (q->route == R_STREAM) {
        sp = SL_ASYNC_BEGIN("ingest.stream", NULL);
        ingest_stream(s->g, q->body.p, q->body.len, &r);
    } else {
        sp = SL_ASYNC_BEGIN("ingest.block", NULL);
        ingest_block(s->g, q->body.p, q->body.len, &r);
    }
    sl_async_end(&sp);
    /* The body is not needed any more; free it before the reply is sent. */
    dbuf_free(&q->body);
    inflight_give(s, q);
    if (r.status / 100 == 2) {
        const char *text = r.existed ? "{\"status\":\"exists\"}" : "{\"status\":\"inserted\"}";
        return send_buf(c, r.status, "application/json", (void *)text, strlen(text), 0);
    }
    if (r.status >= 500)
        log_warn("ingest", "%d: %s", r.status, errmsg_str(&r.e));
    return send_error(c, r.status, errmsg_str(&r.e), r.retry_after, NULL);
}

/* ------------------------------------------------------------ the access handler */

static enum MHD_Result send_busy(server *s, struct MHD_Connection *c)
{
    char msg[160];
    snprintf(msg, sizeof msg, "server busy: request bodies in memory would pass %zu bytes; retry",
             s->cfg.max_inflight_bytes);
    return send_error(c, 503, msg, 1, NULL);
}

/* First call: route, refuse early what we can, set up the body buffer. */
static enum MHD_Result on_headers(server *s, struct MHD_Connection *c, const char *url,
                                  const char *method, void **con_cls)
{
    req probe;
    memset(&probe, 0, sizeof probe);
    probe.scopes = KEY_SCOPE_INGEST | KEY_SCOPE_QUERY | KEY_SCOPE_ADMIN;
    int status = 404;
    const char *allow = NULL;
    int route = route_of(s, method, url, &probe, &status, &allow);
    if (route == R_NONE) {
        char msg[160];
        snprintf(msg, sizeof msg, status == 404 ? "no route %s %.100s" : "%s not allowed on %.100s",
                 method, url);
        return send_error(c, status, msg, 0, allow);
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long len = cl ? strtoull(cl, NULL, 10) : 0;
    /* GET routes take no body: their cap is zero. */
    size_t cap = route >= R_HEALTH ? 0 : s->cfg.max_body_bytes;
    /* Keys: a refusal with a body to come drains it first, as 413 does (below). */
    if (s->auth && (probe.deny = http_auth_check(
                        s->auth, MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                             MHD_HTTP_HEADER_AUTHORIZATION),
                        route_scope(route, url), &probe.scopes, probe.refusal,
                        sizeof probe.refusal)) &&
        (!len || MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT) ||
         len > drain_limit(s)))
        return send_denied(c, probe.deny, probe.refusal);
    /*
     * Over the cap: answering at once closes the connection while the client may
     * still be sending, and the reset can destroy the 413 before the client reads
     * it (it would then retry a body that can never fit).  So a body up to the
     * drain limit is read and dropped and 413 goes out at its end; only clients
     * that wait for "100 Continue" (they have sent nothing yet) and bodies past
     * the drain limit get the answer at once.
     */
    if (len > cap && (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT) ||
                      len > drain_limit(s))) {
        char msg[128];
        snprintf(msg, sizeof msg, "body of %llu bytes is over the cap of %zu bytes", len, cap);
        return send_error(c, 413, msg, 0, NULL);
    }
    req *q = sl_calloc(1, sizeof *q);
    if (!q)
        return send_error(c, 503, "out of memory", 0, NULL);
    *q = probe;
    q->route = route;
    dbuf_init(&q->body, cap);
    if (len > cap || q->deny) {
        q->over_cap = 1;
        *con_cls = q;
        return MHD_YES;
    }
    if (len && (!inflight_take(s, q, len) || dbuf_reserve(&q->body, (size_t)len) != 0)) {
        int busy = q->reserved == 0;
        inflight_give(s, q);
        dbuf_free(&q->body);
        sl_free(q);
        return busy ? send_busy(s, c) : send_error(c, 503, "out of memory", 1, NULL);
    }
    *con_cls = q;
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    server *s = cls;
    req *q = *con_cls;
    if (!q)
        return on_headers(s, c, url, method, con_cls);
    if (q->route == R_REFUSED)
        return send_error(c, 414, q->refusal, 0, NULL);
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        q->seen_bytes += n;
        *upload_data_size = 0;
        /* A body without Content-Length takes budget as it grows. */
        uint64_t need = q->body.len + n > q->reserved ? q->body.len + n - q->reserved : 0;
        if (!q->over_cap && !q->busy && need && !inflight_take(s, q, need)) {
            q->busy = 1;
            dbuf_free(&q->body);
            inflight_give(s, q);
        }
        if (!q->over_cap && !q->busy && dbuf_append(&q->body, upload_data, n) != 0) {
            /* Past the cap (a body without Content-Length): keep nothing more. */
            q->over_cap = 1;
            dbuf_free(&q->body);
            inflight_give(s, q);
        }
        /*
         * libmicrohttpd cannot answer in the middle of a body, so the rest is read
         * and dropped and 413 (or 503) goes out at its end; a body that goes on
         * past the drain limit is not worth reading and the connection is closed.
         */
        if ((q->over_cap || q->busy) && q->seen_bytes > drain_limit(s))
            return MHD_NO;
        return MHD_YES;
    }
    if (q->deny)
        return send_denied(c, q->deny, q->refusal);
    if (q->busy)
        return send_busy(s, c);
    if (q->over_cap) {
        char msg[128];
        snprintf(msg, sizeof msg, "body is over the cap of %zu bytes", q->body.max);
        return send_error(c, 413, msg, 0, NULL);
    }
    int64_t t0 = clock_mono_ns();
    enum MHD_Result ok =
        q->route == R_WEB ? api_web_run(c, s->cfg.data_dir, method, url, q->body.p, q->body.len)
        : q->route >= R_HEALTH ? run_get(s, c, q) : run_post(s, c, q);
    if (clock_mono_ns() - t0 > SLOW_CALLBACK_NS)
        touch_connection(c, (unsigned)s->cfg.client_timeout_s); /* see stream_resp */
    return ok;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)c;
    (void)toe;
    server *s = cls;
    req *q = *con_cls;
    if (!q || q == &g_uri_oom)
        return;
    dbuf_free(&q->body);
    inflight_give(s, q);
    sl_free(q);
    *con_cls = NULL;
}

/* ------------------------------------------------------------ start / stop */

/* New streams and blocks change what the lake caches about their process and stream. */
static void on_block(void *arg, const meta_block *row, const void *payload, size_t len)
{
    server *s = arg;
    stream_hub_block(stream_server_hub(s->jobs), row, payload, len);
}

static int64_t on_insert(void *arg, int64_t begin_ns, bool done)
{
    server *s = arg;
    return stream_hub_insert(stream_server_hub(s->jobs), begin_ns, done);
}

static void on_stored(void *arg, int kind, const sl_uuid *process_id, const sl_uuid *stream_id)
{
    server *s = arg;
    if (kind == 'S')
        lake_notify_stream(s->lake, process_id, stream_id);
    else
        lake_notify_block(s->lake, stream_id);
}

int server_open_objects(const server_config *c, objstore **out, errmsg *e)
{
    if (!c->objects_url)
        return objstore_local_open(c->data_dir, out, e);
    objstore_s3_opts o = {.url = c->objects_url, .endpoint = c->s3_endpoint,
                          .region = c->s3_region};
    return objstore_s3_open(&o, out, e);
}

/*
 * With objects in S3 (--objects s3://...) the data directory holds only the
 * metadata and local state, and is created here since no local object store
 * does it.
 */
static int open_objects(server *s, errmsg *e)
{
    if (s->cfg.objects_url && mkdir(s->cfg.data_dir, 0755) != 0 && errno != EEXIST)
        return errmsg_set(e, SL_EIO, "cannot create %s: %s", s->cfg.data_dir, strerror(errno));
    return server_open_objects(&s->cfg, &s->os, e);
}

/* The continuous jobs of a shared lake follow its lead (background.c tells). */
static void lead_jobs(void *arg, int leader)
{
    server *s = arg;
    stream_server_lead(s->jobs, leader != 0);
}

static int open_stores(server *s, errmsg *e)
{
    int rc = open_objects(s, e);
    if (rc)
        return rc;
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/meta.sqlite", s->cfg.data_dir) >= (int)sizeof path)
        return errmsg_set(e, SL_EINVAL, "data directory path too long");
    if ((rc = background_open_meta(&s->cfg, path, &s->m, e)))
        return rc;
    if ((rc = ingest_new(s->m, s->os, &s->g, e)))
        return rc;
    lake_opts lo = {.cache_bytes = s->cfg.cache_bytes, .jobs = s->cfg.jobs,
                    .max_partition_events = s->cfg.max_partition_events};
    if ((rc = lake_open(s->m, s->os, &lo, &s->lake, e)))
        return rc;
    sql_engine_opts so = {.work_mem_bytes = (int64_t)s->cfg.sql_work_mem_bytes,
                          .max_memory_bytes = (int64_t)s->cfg.sql_memory_bytes,
                          .statement_timeout_ms = s->cfg.sql_timeout_ms,
                          .workers = s->cfg.max_request_jobs,
                          .data_dir = s->cfg.data_dir};
    for (int i = 0; i < s->cfg.nfiles_dirs && i < 8; i++)
        so.files_dirs[i] = s->cfg.files_dirs[i];
    so.nfiles_dirs = s->cfg.nfiles_dirs;
    if ((rc = sql_engine_open(s->lake, s->m, s->os, &so, &s->sql, e)))
        return rc;
    ingest_set_hook(s->g, on_stored, s);
    stream_server_opts jo = {.eng = s->sql, .l = s->lake, .m = s->m,
                             .workers = s->cfg.stream_workers, .output_dir = s->cfg.data_dir,
                             .os = s->os, .checkpoint_ms = s->cfg.stream_checkpoint_ms,
                             .shared = s->m->shared};
    if ((rc = stream_server_open(&jo, &s->jobs, e)))
        return rc;
    s->bg.on_lead = lead_jobs;
    s->bg.on_lead_arg = s;
    if (s->m->shared) { /* the jobs of a shared lake start here if this server leads it */
        int lead = 0;
        errmsg le;
        errmsg_clear(&le);
        if (!meta_leader_poll(s->m, &lead, &le))
            stream_server_lead(s->jobs, lead);
    }
    ingest_set_block_hook(s->g, on_block, s);
    ingest_set_insert_hook(s->g, on_insert);
    return SL_OK;
}

/* The figures of /api/stats, as metrics of the server's own process. */
static void record_stats(server *s)
{
    int64_t t0 = self_trace_thread_cpu_ns();
    dbuf b;
    dbuf_init(&b, API_REPLY_MAX);
    errmsg e;
    errmsg_clear(&e);
    if (api_stats_json(s->lake, &s->tstats, &s->bud, s->sql, s->os, &b, &e) == SL_OK)
        self_trace_metrics((const char *)b.p, b.len);
    dbuf_free(&b);
    self_trace_charge_metrics(t0); /* the cost of self-tracing (bench_ingest shows it) */
}

/*
 * Background work: every second, record the figures when the server traces
 * itself, give freed heap back to the system once the response budget has gone
 * idle (budget_trim_if_idle), and the leader's work (background.c: janitor,
 * retention).
 */
static void *janitor_main(void *arg)
{
    server *s = arg;
    int ticks = 0;
    pthread_mutex_lock(&s->stop_mu);
    while (!s->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&s->stop_cv, &s->stop_mu, &ts);
        if (s->stopping)
            break;
        pthread_mutex_unlock(&s->stop_mu);
        budget_trim_if_idle(&s->bud);
        if (s->self_traced)
            record_stats(s);
        background_tick(&s->bg, &s->cfg, s->m, s->lake, ++ticks);
        pthread_mutex_lock(&s->stop_mu);
    }
    pthread_mutex_unlock(&s->stop_mu);
    return NULL;
}

static int hexdigit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/*
 * Percent-decoding of paths and query values, except %00: a NUL would cut the
 * C string that routes see ("global%00x" read as "global"), so it stays as the
 * three characters, which no id, time or view name accepts: the request is
 * refused with 400 instead of being taken for something it is not.
 */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    char *w = s;
    for (const char *r = s; *r;) {
        int hi, lo;
        if (r[0] == '%' && (hi = hexdigit(r[1])) >= 0 && (lo = hexdigit(r[2])) >= 0 &&
            (hi | lo) != 0) {
            *w++ = (char)(hi << 4 | lo);
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = 0;
    return (size_t)(w - s);
}

/* NULL for a request line within the caps, else a context whose route is R_REFUSED. */
static void *uri_check(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    size_t len = strlen(uri);
    char *q = strchr(uri, '?');
    size_t params = 0;
    for (const char *p = q; p && *p; p++)
        params += *p == '&' || *p == ';';
    if (q)
        params++;
    if (len <= URI_MAX_BYTES && params <= URI_MAX_PARAMS)
        return NULL;
    if (q)
        q[1] = 0; /* the request line is in the connection's buffer, which MHD edits too */
    req *r = sl_calloc(1, sizeof *r);
    if (!r)
        return &g_uri_oom;
    r->route = R_REFUSED;
    if (len > URI_MAX_BYTES)
        snprintf(r->refusal, sizeof r->refusal, "request target of %zu bytes is over the cap "
                 "of %d bytes", len, URI_MAX_BYTES);
    else
        snprintf(r->refusal, sizeof r->refusal, "request target has %zu query parameters; the "
                 "cap is %d", params, URI_MAX_PARAMS);
    return r;
}

/*
 * Binds and listens before anything else happens, so an address that cannot be
 * used (taken, not local, not an address) is reported before the data
 * directory is created or opened.
 */
static int bind_listener(server *s, errmsg *e)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(s->cfg.port);
    const char *host = !strcmp(s->cfg.host, "localhost") ? "127.0.0.1" : s->cfg.host;
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return errmsg_set(e, SL_EINVAL, "listen address '%s' is not an IPv4 address",
                          s->cfg.host);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errmsg_set(e, SL_EIO, "socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 128) != 0) {
        int err = errno;
        close(fd);
        return errmsg_set(e, SL_EIO, "cannot listen on %s:%u: %s", s->cfg.host, s->cfg.port,
                          strerror(err));
    }
    socklen_t sl = sizeof sa;
    if (getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
        s->port = ntohs(sa.sin_port);
    s->listen_fd = fd;
    return SL_OK;
}

static int start_daemon(server *s, errmsg *e)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    s->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, s->listen_fd,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->cfg.threads,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_POOL_BYTES,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->cfg.client_timeout_s,
        MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)1000, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_URI_LOG_CALLBACK, uri_check,
        NULL, MHD_OPTION_END);
    if (!s->d)
        return errmsg_set(e, SL_EIO, "cannot start the HTTP server on %s:%u", s->cfg.host,
                          s->port);
    s->listen_fd = -1; /* the daemon's now; MHD_stop_daemon closes it */
    return SL_OK;
}

/* Not fatal: the server serves without recording itself (self_trace.h). */
static void start_self_trace(server *s)
{
    char listen[96];
    snprintf(listen, sizeof listen, "%s:%u", s->cfg.host, s->port);
    errmsg e;
    errmsg_clear(&e);
    if (self_trace_start(s->g, listen, &e)) {
        log_warn("serve", "not recording itself: %s", errmsg_str(&e));
        return;
    }
    s->self_traced = 1;
    log_info("serve", "recording itself as process %s (--no-self-trace turns it off)",
             sl_process_id());
}

int server_start(const server_config *c, server **out, errmsg *e)
{
    server *s = sl_calloc(1, sizeof *s);
    if (!s)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    s->cfg = *c;
    pthread_mutex_init(&s->stop_mu, NULL);
    pthread_cond_init(&s->stop_cv, NULL);
    pthread_mutex_init(&s->tstats.mu, NULL);
    if (s->cfg.threads < 1)
        s->cfg.threads = 1;
    if (s->cfg.max_body_bytes == 0 || s->cfg.max_body_bytes > WIRE_MAX_BLOCK_MSG)
        s->cfg.max_body_bytes = WIRE_MAX_BLOCK_MSG;
    /* One body of the largest size must always fit an idle server. */
    if (s->cfg.max_inflight_bytes < s->cfg.max_body_bytes)
        s->cfg.max_inflight_bytes = s->cfg.max_body_bytes;
    if (s->cfg.max_workers < 1)
        s->cfg.max_workers = 1;
    if (s->cfg.max_request_jobs < 1)
        s->cfg.max_request_jobs = 1;
    if (s->cfg.client_timeout_s < 1)
        s->cfg.client_timeout_s = 1;
    budget_init(&s->bud, s->cfg.max_response_bytes, (uint32_t)s->cfg.max_workers);
    /*
     * A fixed mmap threshold: glibc's sliding one climbs after large frees, and
     * then large buffers come from arenas that never shrink.  With it fixed, a
     * buffer of 1 MiB or more is its own mapping and goes back to the system
     * when freed; the rest is trimmed when the budget goes idle.  Not on every
     * free: glibc's default (128 KiB past the top) would give pages back and
     * fault them in again on each request (a query's arenas and batches).
     */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    s->listen_fd = -1;
    /* Before anything is bound: an exposed listener without keys never listens. */
    int rc = http_auth_exposure_check(s->cfg.host, s->cfg.pg_mode ? s->cfg.pg_host : NULL,
                                      s->cfg.keys_file != NULL, e);
    if (!rc)
        rc = bind_listener(s, e);
    if (!rc)
        rc = load_credentials(s, e);
    if (!rc)
        rc = open_stores(s, e);
    if (!rc)
        rc = start_daemon(s, e);
    if (!rc)
        rc = start_pg(s, e);
    if (!rc && s->cfg.self_trace)
        start_self_trace(s);
    if (!rc && pthread_create(&s->janitor, NULL, janitor_main, s) == 0)
        s->janitor_started = 1;
    if (rc) {
        server_stop(s);
        return rc;
    }
    *out = s;
    return SL_OK;
}

uint16_t server_port(const server *s)
{
    return s->port;
}

void server_stop(server *s)
{
    if (!s)
        return;
    if (s->janitor_started) {
        pthread_mutex_lock(&s->stop_mu);
        s->stopping = 1;
        pthread_cond_broadcast(&s->stop_cv);
        pthread_mutex_unlock(&s->stop_mu);
        pthread_join(s->janitor, NULL);
    }
    pgwire_stop(s->pg);
    pgwire_tls_free(s->pg_tls);
    if (s->d)
        MHD_stop_daemon(s->d);
    http_auth_free(s->auth);
    keys_free(s->keys);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->self_traced)
        self_trace_stop(); /* stores what is recorded (ingestion still feeds the jobs'
                            * telemetry), before the jobs and the stores close */
    stream_server_close(s->jobs);
    sql_engine_close(s->sql);
    lake_close(s->lake);
    ingest_free(s->g);
    pthread_mutex_destroy(&s->stop_mu);
    pthread_cond_destroy(&s->stop_cv);
    pthread_mutex_destroy(&s->tstats.mu);
    meta_close(s->m);
    objstore_close(s->os);
    sl_free(s);
}
