/*
 * sink_http.c - sends messages to a streamlake server with libcurl.
 *
 *   'P' -> POST {url}/ingestion/insert_process
 *   'S' -> POST {url}/ingestion/insert_stream
 *   'B' -> POST {url}/ingestion/insert_block
 *
 * With STREAMLAKE_API_KEY set, every request carries "Authorization: Bearer KEY".
 * One easy handle, reused, so the connection stays open between blocks.
 * Status mapping (docs/internals/http-api.md): 2xx stored; 409 the server lacks
 * the process or stream (SL_EAGAIN: resend them); 408, 429 and 5xx, or no
 * answer at all, are worth retrying (SL_ENET); any other status is a refusal.
 */
#include "client/client.h"

#include "base/alloc.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct http_sink {
    cl_sink base;
    CURL *curl;
    struct curl_slist *headers;
    char *url;
    char reply[256];
    size_t reply_len;
} http_sink;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    http_sink *h = arg;
    size_t len = size * n;
    size_t room = sizeof h->reply - 1 - h->reply_len;
    size_t take = len < room ? len : room;
    memcpy(h->reply + h->reply_len, p, take);
    h->reply_len += take;
    h->reply[h->reply_len] = 0;
    return len;
}

static int http_send(cl_sink *s, int kind, const uint8_t *msg, size_t len, errmsg *e)
{
    http_sink *h = (http_sink *)s;
    const char *route = kind == 'P' ? "insert_process" : kind == 'S' ? "insert_stream"
                                                                      : "insert_block";
    char url[1024];
    snprintf(url, sizeof url, "%s/ingestion/%s", h->url, route);
    h->reply_len = 0;
    h->reply[0] = 0;
    curl_easy_setopt(h->curl, CURLOPT_URL, url);
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, (const char *)msg);
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    CURLcode cc = curl_easy_perform(h->curl);
    if (cc != CURLE_OK)
        return errmsg_set(e, SL_ENET, "%s: %s", url, curl_easy_strerror(cc));
    long status = 0;
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300)
        return SL_OK;
    char *nl = strchr(h->reply, '\n');
    if (nl)
        *nl = 0;
    if (status == 409)
        return errmsg_set(e, SL_EAGAIN, "HTTP 409: %s", h->reply);
    if (status == 408 || status == 429 || status >= 500)
        return errmsg_set(e, SL_ENET, "HTTP %ld: %s", status, h->reply);
    return errmsg_set(e, SL_EINVAL, "HTTP %ld: %s", status, h->reply);
}

static void http_destroy(cl_sink *s)
{
    http_sink *h = (http_sink *)s;
    curl_slist_free_all(h->headers);
    curl_easy_cleanup(h->curl);
    sl_free(h->url);
    sl_free(h);
}

int cl_sink_http_new(const char *url, cl_sink **out, errmsg *e)
{
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return errmsg_set(e, SL_EINVAL, "server url must start with http:// or https://: %s",
                          url);
    http_sink *h = sl_calloc(1, sizeof *h);
    if (!h)
        return SL_ENOMEM;
    h->url = sl_strdup(url);
    size_t n = strlen(h->url);
    while (n && h->url[n - 1] == '/')
        h->url[--n] = 0;
    h->curl = curl_easy_init();
    h->headers = curl_slist_append(NULL, "Content-Type: application/octet-stream");
    h->headers = curl_slist_append(h->headers, "Expect:");
    const char *key = getenv(CL_API_KEY_ENV);
    if (h->headers && key && *key) {
        char auth[512];
        if (snprintf(auth, sizeof auth, "Authorization: Bearer %s", key) < (int)sizeof auth)
            h->headers = curl_slist_append(h->headers, auth);
    }
    if (!h->curl || !h->headers) {
        http_destroy(&h->base);
        return SL_ENOMEM;
    }
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->headers);
    curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h->curl, CURLOPT_NOPROXY, "*");
    h->base.send = http_send;
    h->base.destroy = http_destroy;
    *out = &h->base;
    return SL_OK;
}
