/*
 * api_jobs.c - the job routes (api_jobs.h); the registry (src/stream/jobs.c)
 * does the work, this file maps paths and outcomes to HTTP.
 */
#include "server/api_jobs.h"

#include "base/json.h"

#include <stdio.h>
#include <string.h>

/* A job's name: an identifier's characters, at most n - 1 of them. */
static int name_ok(const char *p, size_t len, size_t n)
{
    if (!len || len >= n)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '$' || (unsigned char)c >= 0x80))
            return 0;
    }
    return 1;
}

int api_jobs_match(const char *url, char *name, size_t n)
{
    static const char prefix[] = "/api/jobs/";
    if (!strcmp(url, "/metrics"))
        return API_JOBS_METRICS;
    if (!strcmp(url, "/api/jobs"))
        return API_JOBS_LIST;
    if (strncmp(url, prefix, sizeof prefix - 1))
        return -1;
    const char *p = url + sizeof prefix - 1, *slash = strchr(p, '/');
    size_t len = slash ? (size_t)(slash - p) : strlen(p);
    if (!name_ok(p, len, n))
        return -1;
    memcpy(name, p, len);
    name[len] = 0;
    if (!slash)
        return API_JOBS_DESCRIBE;
    if (!strcmp(slash, "/stop"))
        return API_JOBS_STOP;
    if (!strcmp(slash, "/start"))
        return API_JOBS_START;
    return -1;
}

void api_jobs_reply(stream_server *ss, int op, const char *name, dbuf *out, int *status,
                    const char **ctype)
{
    errmsg e;
    errmsg_clear(&e);
    *ctype = "application/json";
    int rc;
    switch (op) {
    case API_JOBS_METRICS:
        *ctype = "text/plain; version=0.0.4; charset=utf-8";
        rc = stream_server_metrics(ss, out);
        break;
    case API_JOBS_LIST: rc = stream_server_jobs_json(ss, NULL, out, &e); break;
    case API_JOBS_STOP:
    case API_JOBS_START:
        rc = op == API_JOBS_STOP ? stream_server_job_stop(ss, name, &e)
                                 : stream_server_job_start(ss, name, &e);
        if (!rc)
            rc = stream_server_jobs_json(ss, name, out, &e);
        break;
    default: rc = stream_server_jobs_json(ss, name, out, &e); break;
    }
    *status = rc == SL_OK ? 200 : rc == SL_ENOTFOUND ? 404 : rc == SL_EINVAL ? 400 : 500;
    if (rc) {
        dbuf_reset(out);
        jw w;
        jw_init(&w, out);
        jw_obj_begin(&w);
        jw_kv_str(&w, "error", errmsg_str(&e));
        jw_obj_end(&w);
    }
}
