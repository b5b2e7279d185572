/*
 * cmd_materialize.c - `streamlake materialize`: build partitions ahead of time.
 *
 * Readers build what they need just in time; this command does it before
 * anyone asks, for one process or for everything that is new (every process;
 * partitions that are current are left alone, so running it again is cheap).
 */
#include "cli/cli.h"
#include "cli/local.h"

#include "base/arena.h"
#include "base/clock.h"
#include "base/json.h"
#include "net/httpc.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: streamlake materialize [PROCESS_ID | --all]\n"
               "                              [--server URL | " CLI_STORE_SYNOPSIS "]\n\n"
               "Builds the partitions of every view of a process (or of every process\n"
               "with --all, the default) that are missing or stale.\n\n"
               "  --server URL   ask this server (default $STREAMLAKE_SERVER or\n"
               "                 http://127.0.0.1:8080)\n"
               "\nOr the CLI opens the lake itself:\n");
    cli_store_usage(f, 17);
}

static void print_summary(uint64_t processes, const lake_mat_stats *st, double secs)
{
    printf("%llu process%s: %llu partitions, %llu built, %llu already current, "
           "%llu source events read, %.2f s\n",
           (unsigned long long)processes, processes == 1 ? "" : "es",
           (unsigned long long)st->partitions, (unsigned long long)st->built,
           (unsigned long long)(st->partitions - st->built), (unsigned long long)st->source_events,
           secs);
    if (st->failed)
        printf("%llu view instance%s could not be built (reasons above); everything else was\n",
               (unsigned long long)st->failed, st->failed == 1 ? "" : "s");
}

static void print_failure(void *arg, const sl_uuid *process_id, const char *view,
                          const char *instance, int code, const char *message)
{
    (void)arg;
    (void)code;
    char pid[UUID_STR_LEN];
    uuid_format(process_id, pid);
    fprintf(stderr, "streamlake materialize: process %s, %s %s: %s\n", pid, view, instance,
            message);
}

static int take_id(void *arg, const meta_process_summary *row)
{
    dbuf *b = arg;
    return dbuf_append(b, &row->p.process_id, sizeof row->p.process_id);
}

static int via_data(const cli_store_opts *so, const char *pid)
{
    cli_local loc;
    if (cli_local_open("materialize", so, &loc))
        return 1;
    errmsg e;
    errmsg_clear(&e);
    dbuf ids;
    dbuf_init(&ids, (size_t)1 << 30);
    int rc = SL_OK;
    if (pid) {
        sl_uuid id;
        rc = uuid_parse(pid, &id) ? errmsg_set(&e, SL_EINVAL, "'%s' is not a process id", pid)
                                  : dbuf_append(&ids, &id, sizeof id);
    } else {
        rc = meta_processes_list(loc.m, take_id, &ids, &e);
    }
    lake_mat_stats st = {0};
    int64_t t0 = clock_mono_ns();
    size_t n = ids.len / sizeof(sl_uuid);
    /* Every process is built; one that fails is reported and the others go on. */
    for (size_t i = 0; !rc && i < n; i++) {
        const sl_uuid *id = (const sl_uuid *)(const void *)ids.p + i;
        errmsg pe;
        errmsg_clear(&pe);
        int prc = lake_materialize_process(loc.l, id, 0, &st, print_failure, NULL, &pe);
        if (prc && pid) {
            rc = errmsg_set(&e, prc, "%s", errmsg_str(&pe));
        } else if (prc) {
            print_failure(NULL, id, "*", "*", prc, errmsg_str(&pe));
            st.failed++;
        }
    }
    if (rc)
        fprintf(stderr, "streamlake materialize: %s\n", errmsg_str(&e));
    else
        print_summary(n, &st, (double)(clock_mono_ns() - t0) / 1e9);
    dbuf_free(&ids);
    cli_local_close(&loc);
    return rc || st.failed ? 1 : 0;
}

static int via_server(const char *server, const char *pid)
{
    char url[1024];
    snprintf(url, sizeof url, "%s/api/materialize%s%s", server, pid ? "?process_id=" : "",
             pid ? pid : "");
    httpc *c;
    errmsg e;
    errmsg_clear(&e);
    dbuf b;
    dbuf_init(&b, 1 << 20);
    int status = 0;
    int rc = httpc_new(3600L * 1000, &c, &e);
    if (!rc) {
        rc = httpc_post(c, url, "", 0, &status, &b, &e);
        httpc_free(c);
    }
    if (rc) {
        fprintf(stderr, "streamlake materialize: %s\n", errmsg_str(&e));
    } else if (status != 200) {
        fprintf(stderr, "streamlake materialize: HTTP %d: %.*s", status, (int)b.len,
                b.p ? (const char *)b.p : "");
        rc = 1;
    } else {
        arena a;
        arena_init(&a, 4096, 1 << 20);
        json_val *v;
        if (json_parse(&a, (const char *)b.p, b.len, &v, &e) == 0) {
            const json_val *f[5] = {json_get(v, "processes"), json_get(v, "partitions"),
                                    json_get(v, "built"), json_get(v, "source_events"),
                                    json_get(v, "seconds")};
            lake_mat_stats st = {0};
            st.partitions = f[1] ? (uint64_t)f[1]->num : 0;
            st.built = f[2] ? (uint64_t)f[2]->num : 0;
            st.source_events = f[3] ? (uint64_t)f[3]->num : 0;
            const json_val *nf = json_get(v, "failed"), *fl = json_get(v, "failures");
            st.failed = nf ? (uint64_t)nf->num : 0;
            for (size_t i = 0; fl && fl->type == JSON_ARR && i < fl->len; i++) {
                const json_val *x = &fl->items[i];
                const json_val *xs[4] = {json_get(x, "process_id"), json_get(x, "view"),
                                         json_get(x, "instance"), json_get(x, "message")};
                const char *t[4];
                for (int k = 0; k < 4; k++)
                    t[k] = xs[k] && xs[k]->type == JSON_STR ? xs[k]->str : "?";
                fprintf(stderr, "streamlake materialize: process %s, %s %s: %s\n", t[0], t[1],
                        t[2], t[3]);
            }
            print_summary(f[0] ? (uint64_t)f[0]->num : 0, &st, f[4] ? f[4]->num : 0);
            if (st.failed)
                rc = 1;
        } else {
            printf("%.*s\n", (int)b.len, (const char *)b.p);
        }
        arena_destroy(&a);
    }
    dbuf_free(&b);
    return rc ? 1 : 0;
}

int cmd_materialize(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *pid = NULL, *server = NULL;
    cli_store_opts so = {0};
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = cli_opt(argc, argv, &i, "--server", &server)) ||
            (r = cli_store_opt(argc, argv, &i, &so))) {
            if (r < 0)
                return 2;
        } else if (!strcmp(argv[i], "--all")) {
            pid = NULL;
        } else if (argv[i][0] != '-' && !pid) {
            pid = argv[i];
        } else {
            fprintf(stderr, "streamlake materialize: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    int direct;
    if (cli_store_pick("materialize", server, &so, &direct))
        return 2;
    return direct ? via_data(&so, pid) : via_server(cli_default_server(server), pid);
}
