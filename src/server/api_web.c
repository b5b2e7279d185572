/*
 * api_web.c - serves the embedded web app and the saved-queries routes.
 *
 * Files: an exact path gets its file; Vite's hashed files under /assets/ are
 * cached for a year (their name changes with their content), everything else
 * is revalidated (no-cache).  The app's own routes (/processes, /process/...,
 * ...) get index.html, so a reload or a shared link opens the right page; any
 * other unknown path is 404.
 */
#include "server/api_web.h"

#include "base/alloc.h"
#include "base/dbuf.h"
#include "base/err.h"
#include "server/saved_queries.h"
#include "server/web_assets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAVED_PREFIX "/api/saved-queries"

/* First path segments that are pages of the app (web/src/main.tsx's router). */
static const char *const app_routes[] = {"processes", "process", "logs", "charts",
                                         "flame",     "report",  "sql",  "jobs"};

static const char *content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"},
        {".json", "application/json"},         {".map", "application/json"},
        {".png", "image/png"},                 {".ico", "image/x-icon"},
        {".woff2", "font/woff2"},              {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(dot, types[i].ext))
            return types[i].type;
    return "application/octet-stream";
}

static int cmp_asset(const void *key, const void *elem)
{
    return strcmp(key, ((const web_asset *)elem)->path);
}

static const web_asset *find_asset(const char *path)
{
    return bsearch(path, web_assets, web_assets_count, sizeof web_assets[0], cmp_asset);
}

/* Whether the first segment of url is one of the app's pages. */
static int is_app_route(const char *url)
{
    const char *seg = url + 1, *end = strchr(seg, '/');
    size_t n = end ? (size_t)(end - seg) : strlen(seg);
    for (size_t i = 0; i < sizeof app_routes / sizeof app_routes[0]; i++)
        if (strlen(app_routes[i]) == n && !strncmp(seg, app_routes[i], n))
            return 1;
    return 0;
}

int api_web_route(const char *method, const char *url, int *status, const char **allow)
{
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    if (!strncmp(url, SAVED_PREFIX "/", sizeof SAVED_PREFIX) && url[sizeof SAVED_PREFIX]) {
        if (get || !strcmp(method, "PUT") || !strcmp(method, "DELETE"))
            return 1;
        *status = 405;
        *allow = "GET, HEAD, PUT, DELETE";
        return -1;
    }
    int ours = !strcmp(url, SAVED_PREFIX) || !strcmp(url, "/") || is_app_route(url) ||
               find_asset(url);
    if (!ours)
        return 0;
    if (get)
        return 1;
    *status = 405;
    *allow = "GET, HEAD";
    return -1;
}

static enum MHD_Result reply(struct MHD_Connection *c, int status, const char *type,
                             const void *p, size_t len, enum MHD_ResponseMemoryMode mode,
                             const char *cache)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)p, mode);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (cache)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache);
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, int status, const char *line)
{
    char text[400];
    int n = snprintf(text, sizeof text, "%s\n", line);
    return reply(c, status, "text/plain; charset=utf-8", text,
                 n < (int)sizeof text ? (size_t)n : sizeof text - 1, MHD_RESPMEM_MUST_COPY,
                 NULL);
}

static enum MHD_Result serve_file(struct MHD_Connection *c, const char *url)
{
    const web_asset *a = find_asset(url);
    if (!a && web_assets_count == 0)
        return reply_text(c, 404, "this streamlake was built without the web app "
                                  "(configure with -DSL_WEB=ON and nodejs/npm installed)");
    if (!a)
        a = find_asset("/index.html");
    if (!a)
        return reply_text(c, 404, "no index.html in the embedded web app");
    int hashed = !strncmp(a->path, "/assets/", 8);
    return reply(c, 200, content_type(a->path), a->data, a->len, MHD_RESPMEM_PERSISTENT,
                 hashed ? "public, max-age=31536000, immutable" : "no-cache");
}

static int status_of(int rc)
{
    switch (rc) {
    case SL_EINVAL:
        return 400;
    case SL_ENOTFOUND:
        return 404;
    case SL_EEXIST:
        return 412;
    case SL_ETOOBIG:
        return 413;
    case SL_ENOMEM:
        return 503;
    default:
        return 500;
    }
}

static enum MHD_Result serve_saved(struct MHD_Connection *c, const char *data_dir,
                                   const char *method, const char *url, const void *body,
                                   size_t len)
{
    const char *name = url[sizeof SAVED_PREFIX - 1] ? url + sizeof SAVED_PREFIX : NULL;
    dbuf b;
    dbuf_init(&b, SAVEDQ_MAX_QUERIES * (size_t)SAVEDQ_BODY_MAX * 2);
    errmsg e;
    errmsg_clear(&e);
    int rc, status = 200;
    if (!name) {
        rc = savedq_list(data_dir, &b, &e);
    } else if (!strcmp(method, "PUT")) {
        const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                      MHD_HTTP_HEADER_IF_NONE_MATCH);
        int created = 0;
        rc = savedq_put(data_dir, name, body, len, inm && !strcmp(inm, "*"), &created, &e);
        if (!rc)
            rc = savedq_get(data_dir, name, &b, &e);
        status = created ? 201 : 200;
    } else if (!strcmp(method, "DELETE")) {
        rc = savedq_delete(data_dir, name, &e);
        if (!rc)
            rc = dbuf_append_str(&b, "{\"status\":\"deleted\"}");
    } else {
        rc = savedq_get(data_dir, name, &b, &e);
    }
    enum MHD_Result ok;
    if (rc)
        ok = reply_text(c, status_of(rc), errmsg_str(&e));
    else
        ok = reply(c, status, "application/json", b.p, b.len, MHD_RESPMEM_MUST_COPY, "no-store");
    dbuf_free(&b);
    return ok;
}

enum MHD_Result api_web_run(struct MHD_Connection *c, const char *data_dir, const char *method,
                            const char *url, const void *body, size_t len)
{
    if (!strncmp(url, SAVED_PREFIX, sizeof SAVED_PREFIX - 1))
        return serve_saved(c, data_dir, method, url, body, len);
    return serve_file(c, url);
}
