/*
 * local.c - the store options and opening a lake from the CLI (see local.h).
 */
#include "cli/local.h"

#include "cli/cli.h"
#include "base/json.h"
#include "net/httpc.h"
#include "server/background.h"
#include "server/server.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_store_opt(int argc, char **argv, int *i, cli_store_opts *o)
{
    static const char *const names[] = {"--data", "--meta", "--objects", "--s3-endpoint",
                                        "--s3-region"};
    const char **const dst[] = {&o->data, &o->meta_url, &o->objects_url, &o->s3_endpoint,
                                &o->s3_region};
    return cli_opt_any(argc, argv, i, names, dst, sizeof names / sizeof names[0]);
}

int cli_store_given(const cli_store_opts *o)
{
    return o->data || o->meta_url || o->objects_url || o->s3_endpoint || o->s3_region;
}

int cli_store_check(const char *prog, const cli_store_opts *o, int direct)
{
    if (o->objects_url && strncmp(o->objects_url, "s3://", 5) != 0) {
        fprintf(stderr, "streamlake %s: --objects wants s3://BUCKET/PREFIX, got '%s' (local "
                "objects live in --data)\n", prog, o->objects_url);
        return 2;
    }
    if (o->meta_url && strncmp(o->meta_url, "postgres://", 11) != 0 &&
        strncmp(o->meta_url, "postgresql://", 13) != 0) {
        fprintf(stderr, "streamlake %s: --meta wants postgres://USER@HOST:PORT/DB, got '%s' "
                "(SQLite metadata lives in --data)\n", prog, o->meta_url);
        return 2;
    }
    if ((o->s3_endpoint || o->s3_region) && !o->objects_url) {
        fprintf(stderr, "streamlake %s: --s3-endpoint and --s3-region need --objects\n", prog);
        return 2;
    }
    if (!direct)
        return 0;
    /* serve keeps local state in --data whatever the stores; a command does not. */
    if (o->objects_url && !o->meta_url) {
        fprintf(stderr, "streamlake %s: --objects needs --meta postgres://...: with SQLite "
                "metadata nothing keeps a server from using the same file, so ask the "
                "server (--server URL)\n", prog);
        return 2;
    }
    if (o->meta_url && !o->objects_url && !o->data) {
        fprintf(stderr, "streamlake %s: --meta needs --objects s3://BUCKET/PREFIX (or --data DIR "
                "when the objects are in a directory)\n", prog);
        return 2;
    }
    if (o->meta_url && o->objects_url && o->data) {
        fprintf(stderr, "streamlake %s: with --meta and --objects nothing is in --data; leave "
                "it out\n", prog);
        return 2;
    }
    return 0;
}

int cli_store_pick(const char *prog, const char *srv, const cli_store_opts *o, int *direct)
{
    *direct = cli_store_given(o);
    if (srv && *direct) {
        fprintf(stderr, "streamlake %s: give --server or the stores (--data, --meta, "
                "--objects), not both\n", prog);
        return 2;
    }
    return *direct ? cli_store_check(prog, o, 1) : 0;
}

void cli_store_usage(FILE *f, int col)
{
    static const char *const text[][4] = {
        {"--data DIR", "open a data directory directly (no server may be", "using it)", NULL},
        {"--meta URL", "metadata in PostgreSQL (postgres://USER@HOST:PORT/DB);",
         "with --objects, a lake shared by servers, opened", "directly while they run"},
        {"--objects s3://BUCKET/PREFIX", "objects in S3; keys from AWS_ACCESS_KEY_ID and",
         "AWS_SECRET_ACCESS_KEY", NULL},
        {"--s3-endpoint URL", "the S3 server, path-style (default: AWS_ENDPOINT_URL)", NULL,
         NULL},
        {"--s3-region REGION", "signing region (default: AWS_REGION, else us-east-1)", NULL,
         NULL},
    };
    for (size_t k = 0; k < sizeof text / sizeof text[0]; k++) {
        int n = (int)strlen(text[k][0]) + 2;
        if (n < col)
            fprintf(f, "  %s%*s%s\n", text[k][0], col - n, "", text[k][1]);
        else
            fprintf(f, "  %s\n%*s%s\n", text[k][0], col, "", text[k][1]);
        for (int j = 2; j < 4 && text[k][j]; j++)
            fprintf(f, "%*s%s\n", col, "", text[k][j]);
    }
}

int cli_local_open(const char *prog, const cli_store_opts *o, cli_local *c)
{
    memset(c, 0, sizeof *c);
    server_config sc;
    server_config_defaults(&sc);
    sc.data_dir = o->data;
    sc.objects_url = o->objects_url;
    sc.s3_endpoint = o->s3_endpoint;
    sc.s3_region = o->s3_region;
    sc.meta_url = o->meta_url;
    errmsg e;
    errmsg_clear(&e);
    const char *where = o->objects_url ? "the objects (--objects)" : o->data;
    int rc = server_open_objects(&sc, &c->os, &e);
    if (rc == SL_ESTATE) {
        fprintf(stderr, "streamlake %s: %s is in use by a running server; ask it with "
                "--server URL instead (%s)\n", prog, o->data, errmsg_str(&e));
        return 1;
    }
    char path[PATH_MAX] = "";
    if (!rc && !o->meta_url &&
        snprintf(path, sizeof path, "%s/meta.sqlite", o->data) >= (int)sizeof path)
        rc = errmsg_set(&e, SL_EINVAL, "data directory path too long");
    if (!rc) {
        where = o->meta_url ? "the metadata (--meta)" : path;
        rc = background_open_meta(&sc, path, &c->m, &e);
    }
    if (!rc) {
        where = "the lake";
        rc = lake_open(c->m, c->os, NULL, &c->l, &e);
    }
    if (rc) {
        fprintf(stderr, "streamlake %s: cannot open %s: %s\n", prog, where, errmsg_str(&e));
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

int cli_api_fetch(const char *prog, const char *srv, const char *path, int post, dbuf *out)
{
    char url[2048];
    size_t sl = strlen(srv);
    while (sl && srv[sl - 1] == '/')
        sl--;
    snprintf(url, sizeof url, "%.*s%s", (int)sl, srv, path);
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
