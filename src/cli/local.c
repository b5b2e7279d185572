/*
 * local.c - opening a data directory from the CLI (see local.h).
 */
#include "cli/local.h"

#include "base/json.h"
#include "net/httpc.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_local_open(const char *dir, cli_local *c)
{
    memset(c, 0, sizeof *c);
    errmsg e;
    errmsg_clear(&e);
    int rc = objstore_local_open(dir, &c->os, &e);
    if (rc == SL_ESTATE) {
        fprintf(stderr, "streamlake: %s is in use by a running server; ask it with "
                        "--server URL instead (%s)\n", dir, errmsg_str(&e));
        return 1;
    }
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/meta.sqlite", dir);
    if (!rc)
        rc = meta_sqlite_open(path, NULL, &c->m, &e);
    if (!rc)
        rc = lake_open(c->m, c->os, NULL, &c->l, &e);
    if (rc) {
        fprintf(stderr, "streamlake: cannot open %s: %s\n", dir, errmsg_str(&e));
        cli_local_close(c);
        return 1;
    }
    return 0;
}

void cli_local_close(cli_local *c)
{
    lake_close(c->l);
    meta_close(c->m);
    objstore_close(c->os);
    memset(c, 0, sizeof *c);
}

void cli_url_escape(const char *s, char *out, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s && o + 4 < n; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    out[o] = 0;
}

const char *cli_default_server(const char *given)
{
    if (given)
        return given;
    const char *env = getenv("STREAMLAKE_SERVER");
    return env && *env ? env : "http://127.0.0.1:8080";
}

int cli_api_fetch(const char *prog, const char *server, const char *path, int post, dbuf *out)
{
    char url[2048];
    size_t sl = strlen(server);
    while (sl && server[sl - 1] == '/')
        sl--;
    snprintf(url, sizeof url, "%.*s%s", (int)sl, server, path);
    httpc *c = NULL;
    errmsg e;
    errmsg_clear(&e);
    int status = 0, rc = 1;
    if (httpc_new(30000, &c, &e) != 0 ||
        (post ? httpc_post(c, url, "", 0, &status, out, &e) : httpc_get(c, url, &status, out, &e)))
        fprintf(stderr, "streamlake %s: %s\n", prog, errmsg_str(&e));
    else if (status != 200)
        fprintf(stderr, "streamlake %s: %s answered %d: %.300s\n", prog, url, status,
                out->len ? (const char *)out->p : "");
    else
        rc = 0;
    httpc_free(c);
    return rc;
}

const char *cli_json_str(const json_val *o, const char *k)
{
    const json_val *v = json_get(o, k);
    return v && v->type == JSON_STR ? v->str : "";
}
