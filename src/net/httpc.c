/*
 * httpc.c - see httpc.h.  libcurl's global init runs once (pthread_once);
 * each handle keeps its easy handle, so connections are reused.  With
 * STREAMLAKE_API_KEY set, every request carries "Authorization: Bearer KEY"
 * (the server's keys: docs/serve.md), so every command that talks to a server
 * takes its key from there.
 */
#include "net/httpc.h"

#include "base/alloc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct httpc {
    CURL *curl;
    long timeout_ms;
};

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static int g_curl_ok;

static void curl_init_once(void)
{
    g_curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

int httpc_new(long timeout_ms, httpc **out, errmsg *e)
{
    pthread_once(&g_curl_once, curl_init_once);
    if (!g_curl_ok)
        return errmsg_set(e, SL_EINTERNAL, "libcurl failed to initialise");
    httpc *c = sl_calloc(1, sizeof *c);
    if (!c)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    c->curl = curl_easy_init();
    if (!c->curl) {
        sl_free(c);
        return errmsg_set(e, SL_ENOMEM, "libcurl: cannot create a handle");
    }
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
    *out = c;
    return SL_OK;
}

void httpc_free(httpc *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->curl);
    sl_free(c);
}

typedef struct sink {
    dbuf *b;
    int too_big;
    long retry_after_s;
    CURL *h;
    httpc_write_fn write; /* streaming: 2xx bodies go here, others to b */
    void *write_arg;
    int write_failed;
} sink;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    sink *s = arg;
    size_t len = size * n;
    if (s->write) {
        long code = 0;
        curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
        if (code / 100 == 2) {
            if (s->write(s->write_arg, p, len) != 0) {
                s->write_failed = 1;
                return 0;
            }
            return len;
        }
    }
    if (!s->b)
        return len;
    if (dbuf_append(s->b, p, len) != 0) {
        s->too_big = 1;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    sink *s = arg;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
        char v[32];
        size_t vl = len - (sizeof name - 1);
        if (vl >= sizeof v)
            vl = sizeof v - 1;
        memcpy(v, p + sizeof name - 1, vl);
        v[vl] = 0;
        s->retry_after_s = strtol(v, NULL, 10);
    }
    return len;
}

/* Runs one request with s receiving the body and headers; sets *status on success. */
static int perform(httpc *c, const char *url, const void *body, size_t body_len, int is_post,
                   const char *content_type, int *status, sink *s, errmsg *e)
{
    CURL *h = c->curl;
    struct curl_slist *hdrs = NULL;
    char ct[256];
    int rc = SL_OK;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, s);
    const char *key = getenv("STREAMLAKE_API_KEY");
    char auth[512];
    if (key && *key && snprintf(auth, sizeof auth, "Authorization: Bearer %s", key) <
                           (int)sizeof auth)
        hdrs = curl_slist_append(hdrs, auth);
    if (is_post) {
        snprintf(ct, sizeof ct, "Content-Type: %s",
                 content_type ? content_type : "application/octet-stream");
        hdrs = curl_slist_append(hdrs, ct);
        /* No "Expect: 100-continue" round trip: the body follows the headers at once. */
        hdrs = curl_slist_append(hdrs, "Expect:");
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    if (hdrs)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        rc = s->too_big ? errmsg_set(e, SL_ETOOBIG, "%s: response larger than %zu bytes", url,
                                     s->b ? s->b->max : 0)
                        : errmsg_set(e, SL_ENET, "%s: %s", url, curl_easy_strerror(cc));
    } else {
        long code = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        *status = (int)code;
    }
    curl_slist_free_all(hdrs);
    return rc;
}

int httpc_request(httpc *c, const char *url, const void *body, size_t body_len, int is_post,
                  const char *content_type, int *status, dbuf *resp, long *retry_after_s,
                  errmsg *e)
{
    sink s = {resp, 0, -1, c->curl, NULL, NULL, 0};
    int rc = perform(c, url, body, body_len, is_post, content_type, status, &s, e);
    if (!rc && retry_after_s)
        *retry_after_s = s.retry_after_s;
    return rc;
}

int httpc_stream(httpc *c, const char *url, const void *body, size_t body_len, int is_post,
                 const char *content_type, int *status, dbuf *err_body, httpc_write_fn fn,
                 void *arg, errmsg *e)
{
    sink s = {err_body, 0, -1, c->curl, fn, arg, 0};
    int rc = perform(c, url, body, body_len, is_post, content_type, status, &s, e);
    if (s.write_failed)
        rc = errmsg_set(e, SL_EIO, "%s: the output could not be written", url);
    return rc;
}
