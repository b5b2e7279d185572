/*
 * objstore_s3.c - the object store as an S3 bucket (AWS S3 or a compatible
 * server), over libcurl with our own SigV4 signing (s3_sign.c).
 *
 * Key "a/b/c" of a store opened on s3://bucket/pfx is the object "pfx/a/b/c"
 * of bucket.  With an endpoint given (a local or compatible server) it is
 * addressed path-style (ENDPOINT/bucket/pfx/a/b/c), which every S3-compatible
 * server accepts; against AWS itself (no endpoint) it is addressed
 * virtual-hosted style (https://bucket.s3.REGION.amazonaws.com/pfx/a/b/c), the
 * style AWS recommends, when the bucket name is a valid host label.
 * SL_S3_ADDRESSING=path|virtual overrides the choice.  How each operation maps onto S3
 * (docs/internals/storage.md "S3" has the same table for users):
 *
 *   put      PUT, or above part_bytes a multipart upload (POST ?uploads, PUT
 *            ?partNumber&uploadId per part, POST ?uploadId to complete; aborted
 *            with DELETE ?uploadId on any failure).  S3 makes an object visible
 *            only once its PUT or its completion succeeded: puts are atomic.
 *   once     If-None-Match: * on the PUT (or the completion) when the server
 *            honours it (learnt by a probe at open): 412 means "exists", and the
 *            existing bytes are compared: identical is 0, different SL_EEXIST.
 *            Servers that ignore the header (s3rver) get a HEAD first and the
 *            same comparison; that leaves a window between the HEAD and the PUT
 *            in which two writers of one key with different bytes both succeed
 *            and the last wins.  Streamlake never writes different bytes under
 *            one key on purpose (payload keys are block ids claimed by one
 *            server, partition keys carry a random part), so the window only
 *            matters for a bug, and conditional-write servers close it.  A put
 *            with OBJSTORE_PUT_NEW (a key with a random part) skips that HEAD.
 *   get      GET; a Content-Length past the caller's cap is SL_ETOOBIG before
 *            any body byte is read, and a body without one is cut at the cap.
 *   range    GET with Range: bytes=a-b (206); 416 or a short answer: SL_EINVAL.
 *   stat     HEAD (Content-Length, Last-Modified).
 *   del      HEAD (S3 DELETE answers 204 for absent keys too, the contract wants
 *            SL_ENOTFOUND), then DELETE.
 *   list     ListObjectsV2 (GET ?list-type=2&prefix=...), following
 *            NextContinuationToken; keys are given relative to the store's prefix
 *            and keys that are not valid store keys (the probe) are skipped.
 *
 * Requests are retried with exponential backoff and full jitter on transport
 * failures (refused, reset, timed out), 5xx, 429 and a few retryable 4xx codes
 * (RequestTimeout, ConditionalRequestConflict), at most max_attempts times and
 * max_retry_ms in all; other 4xx fail at once with the key, the status and the
 * server's error code and message.  Each attempt is signed anew (the date is
 * part of the signature).
 *
 * Threads: a store is used by many threads at once.  Each request borrows a
 * curl handle from a small pool (a mutex held only to pop or push a pointer)
 * and returns it after; handles keep their connections alive between
 * requests, so a busy thread reuses its TCP connection.
 */
#include "objstore/objstore.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/json.h"
#include "objstore/s3_sign.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define S3_POOL_MAX 64
#define S3_ERR_BODY_MAX ((size_t)64 << 10)
#define S3_XML_MAX ((size_t)32 << 20) /* one listing page or one small XML answer */
#define S3_COMPARE_CHUNK ((size_t)8 << 20)
#define S3_DEFAULT_PART ((size_t)16 << 20)
#define S3_MAX_PARTS 10000

/* Kinds of request, for the counters (and in this order in /api/stats). */
enum { K_PUT, K_GET, K_RANGE, K_HEAD, K_DELETE, K_LIST, K_MULTIPART, K_NKINDS };
static const char *const g_kind_names[K_NKINDS] = {"put",    "get",  "get_range", "head",
                                                   "delete", "list", "multipart"};

typedef struct s3_store {
    objstore base;
    char *endpoint; /* "http://127.0.0.1:4568": scheme, host, port; no slash */
    char *host;     /* the Host header: "127.0.0.1:4568" */
    char *bucket;
    int vhost;      /* virtual-hosted: the bucket is in the host, not the path */
    char *prefix; /* "" or "pfx/" */
    char *region;
    char *access_key, *secret_key, *session_token;
    size_t part_bytes;
    int max_attempts;
    int64_t max_retry_ms;
    int cond_put; /* the server honours If-None-Match: * on PUT */
    pthread_mutex_t pool_mu;
    CURL *pool[S3_POOL_MAX];
    int npool;
    _Atomic uint64_t n_req[K_NKINDS];
    _Atomic uint64_t bytes_up, bytes_down, retries, failures;
    _Atomic uint64_t gets_in_flight, gets_in_flight_max; /* whole-object GETs */
} s3_store;

/* One request: what to send and where the answer goes. */
typedef struct s3_req {
    const char *method;
    int kind;
    const char *key; /* store-relative key; NULL: the bucket itself */
    s3_kv query[4];
    int nquery;
    s3_kv hdr[4]; /* extra signed headers (range, if-none-match) */
    int nhdr;
    const void *body;
    size_t body_len;
    dbuf *out;            /* a 2xx body goes here (its cap applies); NULL: dropped */
    uint64_t skip_on_200; /* a server that ignored Range: drop this many bytes */
    uint64_t take;        /* keep at most this many body bytes (0: all) */
} s3_req;

typedef struct s3_resp {
    long status;
    int64_t content_length; /* -1: not sent */
    int64_t mtime_ns;       /* Last-Modified, 0: not sent */
    char etag[128];
    char code[64]; /* from an XML error body */
    char message[256];
    int too_big; /* the body did not fit the caller's cap */
    CURLcode curl_rc;
    char curl_err[CURL_ERROR_SIZE];
} s3_resp;

/* State of one transfer, seen by curl's callbacks. */
typedef struct xfer {
    CURL *h;
    const s3_req *rq;
    s3_resp *rs;
    dbuf err; /* a non-2xx body, for its error code and message */
    uint64_t skipped, taken;
} xfer;

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static int g_curl_ok;

static void curl_init_once(void)
{
    g_curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

/* ------------------------------------------------------------ small XML reading */

/* Decodes the five predefined XML entities and numeric ones (&#N; &#xH;) below 128, in
 * place. */
static void xml_unescape(char *s)
{
    static const struct {
        const char *ent;
        char c;
    } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    char *w = s;
    for (const char *r = s; *r;) {
        if (*r == '&') {
            size_t i = 0;
            for (; i < sizeof ents / sizeof ents[0]; i++) {
                size_t n = strlen(ents[i].ent);
                if (!strncmp(r, ents[i].ent, n)) {
                    *w++ = ents[i].c;
                    r += n;
                    break;
                }
            }
            if (i < sizeof ents / sizeof ents[0])
                continue;
            unsigned v;
            int n = 0;
            if (((sscanf(r, "&#x%x;%n", &v, &n) == 1 && n > 0) ||
                 (sscanf(r, "&#%u;%n", &v, &n) == 1 && n > 0)) &&
                v > 0 && v < 128) {
                *w++ = (char)v;
                r += n;
                continue;
            }
        }
        *w++ = *r++;
    }
    *w = 0;
}

/*
 * Finds the first <tag>text</tag> in [p, end) and copies the unescaped text
 * into out (cut to out_size).  Returns a pointer past the closing tag, or NULL.
 */
static const char *xml_text(const char *p, const char *end, const char *tag, char *out,
                            size_t out_size)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *a = memmem(p, (size_t)(end - p), open, strlen(open));
    if (!a)
        return NULL;
    a += strlen(open);
    const char *b = memmem(a, (size_t)(end - a), close, strlen(close));
    if (!b)
        return NULL;
    size_t n = (size_t)(b - a) < out_size - 1 ? (size_t)(b - a) : out_size - 1;
    memcpy(out, a, n);
    out[n] = 0;
    xml_unescape(out);
    return b + strlen(close);
}

/* ISO 8601 "2026-12-02T08:30:32.000Z" to ns since the epoch (0 if malformed). */
static int64_t iso8601_ns(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int ms = 0;
    if (sscanf(s, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &ms) < 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000000000ll + (int64_t)ms * 1000000ll;
}

/* ------------------------------------------------------------ curl handles */

static CURL *handle_get(s3_store *st)
{
    CURL *h = NULL;
    pthread_mutex_lock(&st->pool_mu);
    if (st->npool)
        h = st->pool[--st->npool];
    pthread_mutex_unlock(&st->pool_mu);
    return h ? h : curl_easy_init();
}

static void handle_put(s3_store *st, CURL *h)
{
    pthread_mutex_lock(&st->pool_mu);
    if (st->npool < S3_POOL_MAX) {
        st->pool[st->npool++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&st->pool_mu);
    if (h)
        curl_easy_cleanup(h);
}

/* ------------------------------------------------------------ callbacks */

static int is_2xx(long status)
{
    return status >= 200 && status < 300;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    xfer *x = arg;
    size_t len = size * n;
    long status = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
    if (!is_2xx(status)) {
        size_t room = S3_ERR_BODY_MAX - x->err.len;
        dbuf_append(&x->err, p, len < room ? len : room); /* the rest is not needed */
        return len;
    }
    const s3_req *rq = x->rq;
    if (!rq->out)
        return len;
    size_t off = 0;
    if (status == 200 && x->skipped < rq->skip_on_200) {
        uint64_t want = rq->skip_on_200 - x->skipped;
        off = want < len ? (size_t)want : len;
        x->skipped += off;
    }
    size_t keep = len - off;
    if (rq->take && keep > rq->take - x->taken)
        keep = (size_t)(rq->take - x->taken);
    if (keep && dbuf_append(rq->out, p + off, keep) != 0) {
        x->rs->too_big = 1;
        return 0; /* stops the transfer */
    }
    x->taken += keep;
    return len;
}

/* Copies a header's value (after "name:") trimmed into out. */
static void header_value(const char *p, size_t n, size_t name_len, char *out, size_t out_size)
{
    const char *v = p + name_len, *end = p + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    size_t k = (size_t)(end - v) < out_size - 1 ? (size_t)(end - v) : out_size - 1;
    memcpy(out, v, k);
    out[k] = 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    xfer *x = arg;
    size_t len = size * n;
    s3_resp *rs = x->rs;
    char v[256];
    if (len > 5 && !strncmp(p, "HTTP/", 5)) {
        /* A new response (after 100 Continue or a redirect): forget the last one's. */
        rs->content_length = -1;
        rs->etag[0] = 0;
        rs->mtime_ns = 0;
    } else if (len > 15 && !strncasecmp(p, "content-length:", 15)) {
        header_value(p, len, 15, v, sizeof v);
        rs->content_length = strtoll(v, NULL, 10);
        long status = 0;
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
        const s3_req *rq = x->rq;
        if (status == 200 && rq->out && !rq->take && strcmp(rq->method, "HEAD") != 0) {
            /* The whole object is coming: refuse it before a byte if it cannot fit. */
            uint64_t cl = (uint64_t)rs->content_length;
            if (cl > rq->out->max - rq->out->len) {
                rs->too_big = 1;
                return 0;
            }
            if (dbuf_reserve_exact(rq->out, (size_t)cl) != 0) {
                rs->too_big = 1;
                return 0;
            }
        }
    } else if (len > 5 && !strncasecmp(p, "etag:", 5)) {
        header_value(p, len, 5, rs->etag, sizeof rs->etag);
    } else if (len > 14 && !strncasecmp(p, "last-modified:", 14)) {
        header_value(p, len, 14, v, sizeof v);
        time_t t = curl_getdate(v, NULL);
        rs->mtime_ns = t > 0 ? (int64_t)t * 1000000000ll : 0;
    }
    return len;
}

/* ------------------------------------------------------------ one request */

/* The canonical (and sent) path: /bucket/prefix+key, encoded once. */
static int build_path(const s3_store *st, const char *key, dbuf *path)
{
    int rc = dbuf_append_byte(path, '/') ||
             (!st->vhost && s3_uri_encode(path, st->bucket, strlen(st->bucket), 0));
    if (!rc && key) {
        rc = (!st->vhost && dbuf_append_byte(path, '/')) ||
             s3_uri_encode(path, st->prefix, strlen(st->prefix), 1) ||
             s3_uri_encode(path, key, strlen(key), 1);
    }
    return rc ? SL_ENOMEM : SL_OK;
}

static void amz_now(char out[17])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static int slist_add(struct curl_slist **list, const char *line)
{
    struct curl_slist *t = curl_slist_append(*list, line);
    if (!t)
        return SL_ENOMEM;
    *list = t;
    return SL_OK;
}

/*
 * Builds the header list of one attempt: every signed header as signed (Host
 * too, so that curl's own Host, which drops a default port, cannot differ from
 * the signed one), then Authorization.  NULL when out of memory.
 */
static struct curl_slist *sign_headers(const s3_store *st, const s3_req *rq, const char *path,
                                       const char *payload_hash)
{
    char date[17];
    amz_now(date);
    s3_kv h[S3_SIGN_MAX_KV];
    int nh = 0;
    h[nh++] = (s3_kv){"host", st->host};
    h[nh++] = (s3_kv){"x-amz-date", date};
    h[nh++] = (s3_kv){"x-amz-content-sha256", payload_hash};
    if (st->session_token)
        h[nh++] = (s3_kv){"x-amz-security-token", st->session_token};
    for (int i = 0; i < rq->nhdr; i++)
        h[nh++] = rq->hdr[i];
    s3_sign_in in = {.method = rq->method,
                     .canon_uri = path,
                     .query = rq->query,
                     .nquery = rq->nquery,
                     .headers = h,
                     .nheaders = nh,
                     .payload_sha256 = payload_hash,
                     .amz_date = date,
                     .region = st->region,
                     .service = "s3",
                     .access_key = st->access_key,
                     .secret_key = st->secret_key};
    dbuf auth, line;
    dbuf_init(&auth, (size_t)1 << 16);
    dbuf_init(&line, (size_t)1 << 16);
    struct curl_slist *list = NULL;
    int rc = s3_sign(&in, &auth, NULL, NULL);
    for (int i = 0; !rc && i < nh; i++) {
        dbuf_reset(&line);
        rc = dbuf_printf(&line, "%s: %s", h[i].k, h[i].v) || slist_add(&list, (const char *)line.p);
    }
    if (!rc) {
        dbuf_reset(&line);
        rc = dbuf_printf(&line, "Authorization: %s", (const char *)auth.p) ||
             slist_add(&list, (const char *)line.p) ||
             /* no "Expect: 100-continue" round trip; a body type S3 stores as is */
             slist_add(&list, "Expect:") ||
             slist_add(&list, "Content-Type: application/octet-stream");
    }
    dbuf_free(&auth);
    dbuf_free(&line);
    if (rc) {
        curl_slist_free_all(list);
        return NULL;
    }
    return list;
}

/* Sends one attempt of rq on h; transport result in rs->curl_rc, status in rs->status. */
static int attempt(s3_store *st, CURL *h, const s3_req *rq, const char *url, const char *path,
                   const char *payload_hash, xfer *x)
{
    struct curl_slist *hdrs = sign_headers(st, rq, path, payload_hash);
    if (!hdrs)
        return SL_ENOMEM;
    curl_easy_reset(h); /* keeps the connection cache */
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->rs->curl_err);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    /* A stalled transfer (under 1 byte/s for 30 s) is a timeout; a slow big one is not. */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    if (!strcmp(rq->method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (!strcmp(rq->method, "GET")) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
        if (rq->body || !strcmp(rq->method, "PUT") || !strcmp(rq->method, "POST")) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
        }
    }
    x->rs->curl_err[0] = 0;
    x->rs->curl_rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x->rs->status);
    curl_slist_free_all(hdrs);
    return SL_OK;
}

/* Whether an attempt's outcome is worth another try. */
static int retryable(const s3_resp *rs)
{
    if (rs->too_big)
        return 0;
    switch (rs->curl_rc) {
    case CURLE_OK:
        break;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
        return 1;
    default:
        return 0;
    }
    if (rs->status >= 500 || rs->status == 429)
        return 1;
    return !strcmp(rs->code, "RequestTimeout") || !strcmp(rs->code, "SlowDown") ||
           !strcmp(rs->code, "ConditionalRequestConflict");
}

/* Full jitter: a random sleep in [0, min(5 s, 100 ms * 2^try)]. */
static int64_t backoff_ms(int try_no)
{
    int64_t cap = 100ll << (try_no < 6 ? try_no : 6);
    if (cap > 5000)
        cap = 5000;
    static _Atomic uint64_t seed;
    uint64_t s = atomic_fetch_add(&seed, 0x9e3779b97f4a7c15ull) ^ (uint64_t)clock_mono_ns();
    s ^= s >> 33;
    s *= 0xff51afd7ed558ccdull;
    s ^= s >> 33;
    return (int64_t)(s % (uint64_t)(cap + 1));
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000l};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Reads <Code> and <Message> out of an XML error body. */
static void parse_error_body(xfer *x)
{
    if (!x->err.len)
        return;
    const char *p = (const char *)x->err.p, *end = p + x->err.len;
    xml_text(p, end, "Code", x->rs->code, sizeof x->rs->code);
    xml_text(p, end, "Message", x->rs->message, sizeof x->rs->message);
}

/*
 * Runs rq with retries.  Returns 0 once a response was received (any status:
 * the caller reads rs->status), SL_ENET when the server could not be reached
 * within the attempts, SL_ETOOBIG when the body passed rq->out's cap.
 */
static int s3_call(s3_store *st, const s3_req *rq, s3_resp *rs, errmsg *e)
{
    dbuf path, url;
    dbuf_init(&path, (size_t)1 << 16);
    dbuf_init(&url, (size_t)1 << 16);
    int rc = build_path(st, rq->key, &path);
    if (!rc && (dbuf_printf(&url, "%s%s", st->endpoint, (const char *)path.p) ||
                (rq->nquery &&
                 (dbuf_append_byte(&url, '?') || s3_query_append(&url, rq->query, rq->nquery)))))
        rc = SL_ENOMEM;
    if (rc) {
        rc = errmsg_set(e, SL_ENOMEM, "out of memory");
        goto out;
    }
    char payload_hash[65];
    s3_sha256_hex(rq->body ? rq->body : "", rq->body_len, payload_hash);
    CURL *h = handle_get(st);
    if (!h) {
        rc = errmsg_set(e, SL_ENOMEM, "out of memory (curl handle)");
        goto out;
    }
    size_t out0 = rq->out ? rq->out->len : 0;
    int64_t t0 = clock_mono_ns();
    xfer x = {.h = h, .rq = rq, .rs = rs};
    dbuf_init(&x.err, S3_ERR_BODY_MAX);
    for (int try_no = 0;; try_no++) {
        memset(rs, 0, sizeof *rs);
        rs->content_length = -1;
        dbuf_reset(&x.err);
        x.skipped = x.taken = 0;
        if (rq->out)
            rq->out->len = out0; /* a failed attempt's partial body is dropped */
        atomic_fetch_add(&st->n_req[rq->kind], 1);
        if ((rc =
                 attempt(st, h, rq, (const char *)url.p, (const char *)path.p, payload_hash, &x))) {
            errmsg_set(e, rc, "out of memory");
            break;
        }
        parse_error_body(&x);
        if (!retryable(rs) || try_no + 1 >= st->max_attempts)
            break;
        int64_t wait = backoff_ms(try_no);
        if ((clock_mono_ns() - t0) / 1000000 + wait > st->max_retry_ms)
            break;
        atomic_fetch_add(&st->retries, 1);
        sleep_ms(wait);
    }
    if (rq->out && rq->out->p)
        rq->out->p[rq->out->len] = 0;
    if (!rc) {
        atomic_fetch_add(&st->bytes_up, rq->body_len);
        atomic_fetch_add(&st->bytes_down, rq->out ? rq->out->len - out0 : 0);
    }
    if (!rc && rs->too_big) {
        rc = errmsg_set(e, SL_ETOOBIG, "object %s: larger than the reader's cap of %zu bytes",
                        rq->key ? rq->key : "", rq->out ? rq->out->max : 0);
    } else if (!rc && rs->curl_rc != CURLE_OK) {
        atomic_fetch_add(&st->failures, 1);
        rc = errmsg_set(e, SL_ENET, "s3 %s %s/%s%s: cannot reach %s: %s (%s; %d attempts)",
                        rq->method, st->bucket, st->prefix, rq->key ? rq->key : "", st->endpoint,
                        curl_easy_strerror(rs->curl_rc), rs->curl_err, st->max_attempts);
    }
    dbuf_free(&x.err);
    handle_put(st, h);
out:
    dbuf_free(&path);
    dbuf_free(&url);
    return rc;
}

/*
 * The error for an unexpected status: the key, the status and the server's
 * code and message.  404 is SL_ENOTFOUND unless the bucket is what is missing.
 */
static int http_error(s3_store *st, const s3_req *rq, const s3_resp *rs, errmsg *e)
{
    int code = SL_EIO;
    if (rs->status == 404 && strcmp(rs->code, "NoSuchBucket") != 0 &&
        strcmp(rs->code, "NoSuchUpload") != 0)
        code = SL_ENOTFOUND;
    else if (rs->status == 416)
        code = SL_EINVAL;
    if (code != SL_ENOTFOUND)
        atomic_fetch_add(&st->failures, 1);
    if (code == SL_ENOTFOUND && rq->key)
        return errmsg_set(e, code, "object %s not found", rq->key);
    return errmsg_set(e, code, "s3 %s %s/%s%s: HTTP %ld%s%s%s%s", rq->method, st->bucket,
                      st->prefix, rq->key ? rq->key : "", rs->status, rs->code[0] ? " " : "",
                      rs->code, rs->message[0] ? ": " : "", rs->message);
}

/* ------------------------------------------------------------ operations */

static int s3_stat(objstore *os, const char *key, objstore_stat *out, errmsg *e)
{
    s3_store *st = (s3_store *)os;
    int rc = objstore_key_check(key, e);
    if (rc)
        return rc;
    s3_req rq = {.method = "HEAD", .kind = K_HEAD, .key = key};
    s3_resp rs;
    if ((rc = s3_call(st, &rq, &rs, e)))
        return rc;
    if (rs.status != 200)
        return http_error(st, &rq, &rs, e);
    out->size_bytes = rs.content_length > 0 ? (uint64_t)rs.content_length : 0;
    out->mtime_ns = rs.mtime_ns;
    return SL_OK;
}

static int s3_get(objstore *os, const char *key, dbuf *out, errmsg *e)
{
    s3_store *st = (s3_store *)os;
    int rc = objstore_key_check(key, e);
    if (rc)
        return rc;
    s3_req rq = {.method = "GET", .kind = K_GET, .key = key, .out = out};
    s3_resp rs;
    /* the high-water mark of concurrent GETs: shows objstore_get_many overlapping them */
    uint64_t now = atomic_fetch_add(&st->gets_in_flight, 1) + 1;
    uint64_t top = atomic_load(&st->gets_in_flight_max);
    while (now > top && !atomic_compare_exchange_weak(&st->gets_in_flight_max, &top, now))
        ;
    rc = s3_call(st, &rq, &rs, e);
    atomic_fetch_sub(&st->gets_in_flight, 1);
    if (rc)
        return rc;
    return rs.status == 200 ? SL_OK : http_error(st, &rq, &rs, e);
}

static int s3_get_range(objstore *os, const char *key, uint64_t offset, size_t len, dbuf *out,
                        errmsg *e)
{
    s3_store *st = (s3_store *)os;
    objstore_stat sst;
    int rc;
    if (len == 0) { /* no byte to ask for: only the bounds to check */
        if ((rc = s3_stat(os, key, &sst, e)))
            return rc;
        return offset > sst.size_bytes
                   ? errmsg_set(e, SL_EINVAL, "object %s: range %llu+0 past its end", key,
                                (unsigned long long)offset)
                   : SL_OK;
    }
    if ((rc = objstore_key_check(key, e)))
        return rc;
    if ((rc = dbuf_reserve_exact(out, len)))
        return errmsg_set(e, rc, "object %s: %zu bytes do not fit the reader's buffer", key, len);
    char range[64];
    snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)offset,
             (unsigned long long)(offset + len - 1));
    s3_req rq = {.method = "GET",
                 .kind = K_RANGE,
                 .key = key,
                 .out = out,
                 .hdr = {{"range", range}},
                 .nhdr = 1,
                 .skip_on_200 = offset,
                 .take = len};
    s3_resp rs;
    size_t len0 = out->len;
    if ((rc = s3_call(st, &rq, &rs, e)))
        return rc;
    if (rs.status != 206 && rs.status != 200)
        return rs.status == 416 ? errmsg_set(e, SL_EINVAL,
                                             "object %s: range %llu+%zu past its "
                                             "end",
                                             key, (unsigned long long)offset, len)
                                : http_error(st, &rq, &rs, e);
    if (out->len - len0 != len) { /* the object ends inside the range */
        out->len = len0;
        out->p[out->len] = 0;
        return errmsg_set(e, SL_EINVAL, "object %s: range %llu+%zu past its end", key,
                          (unsigned long long)offset, len);
    }
    return SL_OK;
}

/*
 * Compares the object at key with data: 1 identical, 0 absent, SL_EEXIST
 * different, or an error.  Reads in bounded ranges, never the whole object at once.
 */
static int compare_existing(s3_store *st, const char *key, const void *data, size_t len, errmsg *e)
{
    objstore_stat sst;
    int rc = s3_stat(&st->base, key, &sst, e);
    if (rc == SL_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (sst.size_bytes != len)
        return errmsg_set(e, SL_EEXIST, "object %s exists with different content", key);
    dbuf b;
    dbuf_init(&b, S3_COMPARE_CHUNK);
    for (size_t off = 0; off < len && !rc; off += S3_COMPARE_CHUNK) {
        size_t n = len - off < S3_COMPARE_CHUNK ? len - off : S3_COMPARE_CHUNK;
        dbuf_reset(&b);
        if ((rc = s3_get_range(&st->base, key, off, n, &b, e)))
            break;
        if (memcmp(b.p, (const uint8_t *)data + off, n) != 0)
            rc = errmsg_set(e, SL_EEXIST, "object %s exists with different content", key);
    }
    dbuf_free(&b);
    return rc ? rc : 1;
}

/* 1 when the failed answer means "the key exists" (If-None-Match: * failed). */
static int precondition_failed(const s3_resp *rs)
{
    return rs->status == 412 || !strcmp(rs->code, "PreconditionFailed");
}

/* A single PUT; *exists is set on a failed If-None-Match. */
static int put_single(s3_store *st, const char *key, const void *data, size_t len, int cond,
                      int *exists, errmsg *e)
{
    s3_req rq = {.method = "PUT", .kind = K_PUT, .key = key, .body = data, .body_len = len};
    if (cond)
        rq.hdr[rq.nhdr++] = (s3_kv){"if-none-match", "*"};
    s3_resp rs;
    int rc = s3_call(st, &rq, &rs, e);
    if (rc)
        return rc;
    if (cond && precondition_failed(&rs)) {
        *exists = 1;
        return SL_OK;
    }
    return rs.status == 200 ? SL_OK : http_error(st, &rq, &rs, e);
}

static void abort_upload(s3_store *st, const char *key, const char *upload_id)
{
    s3_req rq = {.method = "DELETE",
                 .kind = K_MULTIPART,
                 .key = key,
                 .query = {{"uploadId", upload_id}},
                 .nquery = 1};
    s3_resp rs;
    errmsg ignored;
    s3_call(st, &rq, &rs, &ignored); /* best effort: a lifecycle rule cleans what is left */
}

/* Uploads the parts of data and appends <Part> elements for the completion to xml. */
static int upload_parts(s3_store *st, const char *key, const char *upload_id, const uint8_t *data,
                        size_t len, dbuf *xml, errmsg *e)
{
    int rc = SL_OK;
    int part = 1;
    for (size_t off = 0; off < len && !rc; off += st->part_bytes, part++) {
        size_t n = len - off < st->part_bytes ? len - off : st->part_bytes;
        char num[16];
        snprintf(num, sizeof num, "%d", part);
        s3_req rq = {.method = "PUT",
                     .kind = K_MULTIPART,
                     .key = key,
                     .body = data + off,
                     .body_len = n,
                     .query = {{"partNumber", num}, {"uploadId", upload_id}},
                     .nquery = 2};
        s3_resp rs;
        if ((rc = s3_call(st, &rq, &rs, e)))
            break;
        if (rs.status != 200 || !rs.etag[0]) {
            rc = rs.status == 200 ? errmsg_set(e, SL_EIO, "s3 part %d of %s: no ETag", part, key)
                                  : http_error(st, &rq, &rs, e);
            break;
        }
        if (dbuf_printf(xml, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", part,
                        rs.etag))
            rc = errmsg_set(e, SL_ENOMEM, "out of memory");
    }
    return rc;
}

/* A multipart upload of data, aborted on any failure; *exists as in put_single. */
static int put_multipart(s3_store *st, const char *key, const void *data, size_t len, int cond,
                         int *exists, errmsg *e)
{
    if ((len + st->part_bytes - 1) / st->part_bytes > S3_MAX_PARTS)
        return errmsg_set(e, SL_ETOOBIG, "object %s: %zu bytes need more than %d parts", key, len,
                          S3_MAX_PARTS);
    dbuf ans, xml;
    dbuf_init(&ans, S3_XML_MAX);
    dbuf_init(&xml, S3_XML_MAX);
    char upload_id[1024] = "";
    s3_req rq = {.method = "POST",
                 .kind = K_MULTIPART,
                 .key = key,
                 .out = &ans,
                 .query = {{"uploads", ""}},
                 .nquery = 1};
    s3_resp rs;
    int rc = s3_call(st, &rq, &rs, e);
    if (rc)
        goto out;
    if (rs.status != 200) {
        rc = http_error(st, &rq, &rs, e);
        goto out;
    }
    const char *a = (const char *)ans.p;
    if (!xml_text(a, a + ans.len, "UploadId", upload_id, sizeof upload_id) || !upload_id[0]) {
        rc = errmsg_set(e, SL_EIO, "s3 multipart upload of %s: no UploadId in the answer", key);
        goto out;
    }
    if (dbuf_append_str(&xml, "<CompleteMultipartUpload>")) {
        rc = errmsg_set(e, SL_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = upload_parts(st, key, upload_id, data, len, &xml, e)))
        goto out;
    if (dbuf_append_str(&xml, "</CompleteMultipartUpload>")) {
        rc = errmsg_set(e, SL_ENOMEM, "out of memory");
        goto out;
    }
    dbuf_reset(&ans);
    s3_req done = {.method = "POST",
                   .kind = K_MULTIPART,
                   .key = key,
                   .out = &ans,
                   .query = {{"uploadId", upload_id}},
                   .nquery = 1,
                   .body = xml.p,
                   .body_len = xml.len};
    if (cond)
        done.hdr[done.nhdr++] = (s3_kv){"if-none-match", "*"};
    if ((rc = s3_call(st, &done, &rs, e)))
        goto out;
    /* A completion can fail after its 200 status line: the error is then in the body. */
    a = (const char *)ans.p;
    if (rs.status == 200 && ans.len && memmem(a, ans.len, "<Error>", 7)) {
        xml_text(a, a + ans.len, "Code", rs.code, sizeof rs.code);
        xml_text(a, a + ans.len, "Message", rs.message, sizeof rs.message);
        rs.status = precondition_failed(&rs) ? 412 : 500;
    }
    if (cond && precondition_failed(&rs))
        *exists = 1;
    else if (rs.status != 200)
        rc = http_error(st, &done, &rs, e);
out:
    if ((rc || *exists) && upload_id[0])
        abort_upload(st, key, upload_id);
    dbuf_free(&ans);
    dbuf_free(&xml);
    return rc;
}

static int s3_put(objstore *os, const char *key, const void *data, size_t len, int mode, errmsg *e)
{
    s3_store *st = (s3_store *)os;
    int rc = objstore_key_check(key, e);
    if (rc)
        return rc;
    int once = mode != OBJSTORE_PUT_REPLACE;
    if (once && !st->cond_put && mode != OBJSTORE_PUT_NEW) {
        /* No conditional writes on this server: look first (see the race above); not
         * for a key made unique by its caller, which nothing can hold yet. */
        rc = compare_existing(st, key, data, len, e);
        if (rc)
            return rc < 0 ? rc : SL_OK; /* 1: the same bytes are there already */
    }
    int cond = once && st->cond_put;
    for (int round = 0; round < 2; round++) {
        int exists = 0;
        rc = len > st->part_bytes ? put_multipart(st, key, data, len, cond, &exists, e)
                                  : put_single(st, key, data, len, cond, &exists, e);
        if (rc || !exists)
            return rc;
        rc = compare_existing(st, key, data, len, e);
        if (rc)
            return rc < 0 ? rc : SL_OK;
        /* 0: deleted between the refused put and the look; put again, once. */
    }
    return errmsg_set(e, SL_EIO, "object %s: refused as existing, then absent, twice", key);
}

static int s3_del(objstore *os, const char *key, errmsg *e)
{
    s3_store *st = (s3_store *)os;
    objstore_stat sst;
    int rc = s3_stat(os, key, &sst, e);
    if (rc)
        return rc;
    s3_req rq = {.method = "DELETE", .kind = K_DELETE, .key = key};
    s3_resp rs;
    if ((rc = s3_call(st, &rq, &rs, e)))
        return rc;
    return rs.status == 204 || rs.status == 200 ? SL_OK : http_error(st, &rq, &rs, e);
}

/* Calls fn for each <Contents> of one listing page; *next gets the continuation token. */
static int list_page(s3_store *st, const dbuf *page, objstore_list_fn fn, void *arg, char *next,
                     size_t next_size)
{
    const char *p = (const char *)page->p, *end = p + page->len;
    size_t np = strlen(st->prefix);
    int rc = SL_OK;
    while (!rc) {
        const char *c = memmem(p, (size_t)(end - p), "<Contents>", 10);
        if (!c)
            break;
        const char *ce = memmem(c, (size_t)(end - c), "</Contents>", 11);
        if (!ce)
            break;
        char key[OBJSTORE_MAX_KEY * 2 + 64], size[32] = "0", mod[64] = "";
        /* A key that filled the buffer was cut: not one of ours, whatever it looks like. */
        if (xml_text(c, ce, "Key", key, sizeof key) && strlen(key) < sizeof key - 1 &&
            !strncmp(key, st->prefix, np) && objstore_key_check(key + np, NULL) == SL_OK) {
            xml_text(c, ce, "Size", size, sizeof size);
            xml_text(c, ce, "LastModified", mod, sizeof mod);
            objstore_stat os = {strtoull(size, NULL, 10), iso8601_ns(mod)};
            rc = fn(arg, key + np, &os);
        }
        p = ce + 11;
    }
    char trunc[16] = "";
    next[0] = 0;
    if (xml_text((const char *)page->p, end, "IsTruncated", trunc, sizeof trunc) &&
        !strcmp(trunc, "true"))
        xml_text((const char *)page->p, end, "NextContinuationToken", next, next_size);
    return rc;
}

static int s3_list(objstore *os, const char *prefix, objstore_list_fn fn, void *arg, errmsg *e)
{
    s3_store *st = (s3_store *)os;
    size_t n = strlen(prefix);
    if (n > OBJSTORE_MAX_KEY || strstr(prefix, "..") || prefix[0] == '/')
        return errmsg_set(e, SL_EINVAL, "bad object key prefix '%s'", prefix);
    char full[OBJSTORE_MAX_KEY * 2 + 64], token[4096] = "";
    snprintf(full, sizeof full, "%s%s", st->prefix, prefix);
    dbuf page;
    dbuf_init(&page, S3_XML_MAX);
    int rc = SL_OK;
    do {
        s3_req rq = {.method = "GET",
                     .kind = K_LIST,
                     .out = &page,
                     .query = {{"list-type", "2"}, {"prefix", full}},
                     .nquery = 2};
        if (token[0])
            rq.query[rq.nquery++] = (s3_kv){"continuation-token", token};
        s3_resp rs;
        dbuf_reset(&page);
        if ((rc = s3_call(st, &rq, &rs, e)))
            break;
        if (rs.status != 200) {
            rc = http_error(st, &rq, &rs, e);
            break;
        }
        char next[sizeof token];
        rc = list_page(st, &page, fn, arg, next, sizeof next);
        memcpy(token, next, sizeof token);
    } while (!rc && token[0]);
    dbuf_free(&page);
    return rc;
}

static void s3_stats_json(objstore *os, jw *w)
{
    s3_store *st = (s3_store *)os;
    jw_key(w, "backend");
    jw_str(w, "s3");
    jw_key(w, "requests");
    jw_obj_begin(w);
    for (int k = 0; k < K_NKINDS; k++) {
        jw_key(w, g_kind_names[k]);
        jw_uint(w, atomic_load(&st->n_req[k]));
    }
    jw_obj_end(w);
    const struct {
        const char *name;
        _Atomic uint64_t *v;
    } figs[] = {{"bytes_uploaded", &st->bytes_up},
                {"bytes_downloaded", &st->bytes_down},
                {"retries", &st->retries},
                {"failures", &st->failures},
                {"gets_in_flight_max", &st->gets_in_flight_max}};
    for (size_t i = 0; i < sizeof figs / sizeof figs[0]; i++) {
        jw_key(w, figs[i].name);
        jw_uint(w, atomic_load(figs[i].v));
    }
    jw_key(w, "conditional_put");
    jw_bool(w, st->cond_put);
}

static void s3_close(objstore *os)
{
    s3_store *st = (s3_store *)os;
    if (!st)
        return;
    for (int i = 0; i < st->npool; i++)
        curl_easy_cleanup(st->pool[i]);
    pthread_mutex_destroy(&st->pool_mu);
    char *strs[] = {st->endpoint, st->host,       st->bucket,     st->prefix,
                    st->region,   st->access_key, st->secret_key, st->session_token};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        if (strs[i] == st->secret_key && strs[i])
            memset(strs[i], 0, strlen(strs[i]));
        sl_free(strs[i]);
    }
    sl_free(st);
}

/* GETs in flight in objstore_get_many: enough to hide a round trip behind seven others
 * with a small object each, few enough that one batch does not crowd the server */
#define S3_PARALLEL_GETS 8

static const objstore_ops g_s3_ops = {s3_put,  s3_get,   s3_get_range, s3_stat,
                                      s3_del,  s3_list,  s3_close,     NULL,
                                      NULL,    s3_stats_json, S3_PARALLEL_GETS};

/* ------------------------------------------------------------ opening */

int objstore_is_s3_url(const char *url)
{
    return url && !strncmp(url, "s3://", 5);
}

/* Splits s3://bucket/prefix into st->bucket and st->prefix ("" or ending in '/'). */
static int parse_url(s3_store *st, const char *url, errmsg *e)
{
    if (!objstore_is_s3_url(url))
        return errmsg_set(e, SL_EINVAL, "object store '%s' is not an s3://bucket/prefix URL",
                          url ? url : "");
    const char *b = url + 5, *slash = strchr(b, '/');
    size_t nb = slash ? (size_t)(slash - b) : strlen(b);
    if (nb < 1 || nb > 255)
        return errmsg_set(e, SL_EINVAL, "'%s': no bucket name", url);
    const char *pfx = slash ? slash + 1 : "";
    size_t np = strlen(pfx);
    while (np && pfx[np - 1] == '/')
        np--;
    if (np > 512)
        return errmsg_set(e, SL_EINVAL, "'%s': prefix longer than 512 bytes", url);
    if (!(st->bucket = sl_strndup(b, nb)) || !(st->prefix = sl_calloc(1, np + 2)))
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    memcpy(st->prefix, pfx, np);
    if (np)
        st->prefix[np] = '/';
    return SL_OK;
}

/* Endpoint "scheme://host[:port][/]" into st->endpoint and st->host. */
static int parse_endpoint(s3_store *st, const char *ep, errmsg *e)
{
    const char *hs = strstr(ep, "://");
    if (!hs || strncmp(ep, "http", 4) != 0)
        return errmsg_set(e, SL_EINVAL,
                          "S3 endpoint '%s' must be http://HOST[:PORT] or "
                          "https://HOST[:PORT]",
                          ep);
    hs += 3;
    size_t nh = strcspn(hs, "/");
    if (!nh || (hs[nh] == '/' && hs[nh + 1]))
        return errmsg_set(e, SL_EINVAL, "S3 endpoint '%s': a path is not supported", ep);
    if (!(st->host = sl_strndup(hs, nh)) ||
        !(st->endpoint = sl_strndup(ep, (size_t)(hs - ep) + nh)))
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    return SL_OK;
}

/*
 * A bucket name usable as a host label under https: 3 to 63 lowercase letters,
 * digits and hyphens, starting and ending with a letter or digit (dots would
 * break the certificate's wildcard, so they go path-style).
 */
static int bucket_is_host_label(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63 || b[0] == '-' || b[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '-'))
            return 0;
    return 1;
}

/* Addressing style into st->vhost; with it, the bucket joins the endpoint's host. */
static int choose_addressing(s3_store *st, const char *style, int endpoint_given, errmsg *e)
{
    if (style && style[0] && strcmp(style, "path") && strcmp(style, "virtual"))
        return errmsg_set(e, SL_EINVAL, "S3 addressing '%s' must be path or virtual", style);
    if (style && style[0])
        st->vhost = !strcmp(style, "virtual");
    else
        st->vhost = !endpoint_given && bucket_is_host_label(st->bucket);
    if (!st->vhost)
        return SL_OK;
    if (!bucket_is_host_label(st->bucket))
        return errmsg_set(e, SL_EINVAL,
                          "S3 bucket '%s' cannot be addressed virtual-hosted style (3 to 63 "
                          "lowercase letters, digits and hyphens): use SL_S3_ADDRESSING=path",
                          st->bucket);
    const char *hs = strstr(st->endpoint, "://") + 3;
    char host[512], ep[600];
    snprintf(host, sizeof host, "%s.%s", st->bucket, st->host);
    snprintf(ep, sizeof ep, "%.*s%s", (int)(hs - st->endpoint), st->endpoint, host);
    sl_free(st->host);
    sl_free(st->endpoint);
    st->host = sl_strdup(host);
    st->endpoint = sl_strdup(ep);
    return st->host && st->endpoint ? SL_OK : errmsg_set(e, SL_ENOMEM, "out of memory");
}

static char *dup_env(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] ? sl_strdup(v) : NULL;
}

/* Options, environment and defaults into st (everything but the probe). */
static int configure(s3_store *st, const objstore_s3_opts *o, errmsg *e)
{
    int rc = parse_url(st, o->url, e);
    if (rc)
        return rc;
    const char *region = o->region ? o->region : getenv("AWS_REGION");
    if (!region || !region[0])
        region = "us-east-1";
    if (!(st->region = sl_strdup(region)))
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    char aws[300];
    const char *ep = o->endpoint ? o->endpoint : getenv("AWS_ENDPOINT_URL");
    int endpoint_given = ep && ep[0];
    if (!endpoint_given) {
        snprintf(aws, sizeof aws, "https://s3.%s.amazonaws.com", st->region);
        ep = aws;
    }
    if ((rc = parse_endpoint(st, ep, e)) ||
        (rc = choose_addressing(st, o->addressing ? o->addressing : getenv("SL_S3_ADDRESSING"),
                                endpoint_given, e)))
        return rc;
    st->access_key = dup_env("AWS_ACCESS_KEY_ID");
    st->secret_key = dup_env("AWS_SECRET_ACCESS_KEY");
    st->session_token = dup_env("AWS_SESSION_TOKEN");
    if (!st->access_key || !st->secret_key)
        return errmsg_set(e, SL_EINVAL,
                          "S3 store %s: set AWS_ACCESS_KEY_ID and "
                          "AWS_SECRET_ACCESS_KEY in the environment",
                          o->url);
    st->part_bytes = o->part_bytes;
    const char *pb = getenv("SL_S3_PART_BYTES");
    if (!st->part_bytes && pb && pb[0])
        st->part_bytes = (size_t)strtoull(pb, NULL, 10);
    if (!st->part_bytes)
        st->part_bytes = S3_DEFAULT_PART;
    if (st->part_bytes < 1024)
        return errmsg_set(e, SL_EINVAL, "S3 part size %zu is below 1024 bytes", st->part_bytes);
    st->max_attempts = o->max_attempts > 0 ? o->max_attempts : 5;
    st->max_retry_ms = o->max_retry_ms > 0 ? o->max_retry_ms : 30000;
    return SL_OK;
}

/*
 * The probe: PUT a small object (credentials, bucket), PUT it again with
 * If-None-Match: * (412: the server writes conditionally), DELETE it.  Its key
 * starts with '.', which no store key does, so listings never show it.
 */
static int probe(s3_store *st, errmsg *e)
{
    char key[96];
    snprintf(key, sizeof key, ".streamlake-probe-%d-%llx", (int)getpid(),
             (unsigned long long)clock_mono_ns());
    static const char body[] = "streamlake probe";
    s3_req rq = {
        .method = "PUT", .kind = K_PUT, .key = key, .body = body, .body_len = sizeof body - 1};
    s3_resp rs;
    int rc = s3_call(st, &rq, &rs, e);
    if (rc)
        return rc;
    if (rs.status != 200) {
        errmsg inner;
        http_error(st, &rq, &rs, &inner);
        return errmsg_set(e, SL_EIO, "S3 store s3://%s/%s at %s cannot be written: %s", st->bucket,
                          st->prefix, st->endpoint, errmsg_str(&inner));
    }
    rq.hdr[rq.nhdr++] = (s3_kv){"if-none-match", "*"};
    if ((rc = s3_call(st, &rq, &rs, e)))
        return rc;
    st->cond_put = precondition_failed(&rs);
    s3_req del = {.method = "DELETE", .kind = K_DELETE, .key = key};
    if ((rc = s3_call(st, &del, &rs, e)))
        return rc;
    return SL_OK;
}

int objstore_s3_open(const objstore_s3_opts *o, objstore **out, errmsg *e)
{
    pthread_once(&g_curl_once, curl_init_once);
    if (!g_curl_ok)
        return errmsg_set(e, SL_EINTERNAL, "libcurl failed to initialise");
    s3_store *st = sl_calloc(1, sizeof *st);
    if (!st)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    st->base.ops = &g_s3_ops;
    pthread_mutex_init(&st->pool_mu, NULL);
    int rc = configure(st, o, e);
    if (!rc)
        rc = probe(st, e);
    if (rc) {
        s3_close(&st->base);
        return rc;
    }
    *out = &st->base;
    return SL_OK;
}
