/*
 * cmd_import.c - `streamlake import DIR --server URL`: sends an offline capture.
 *
 * DIR is what the tracing library's directory sink wrote: one subdirectory per
 * process holding numbered message files (NNNNNNNNNNNN.process, .stream,
 * .block).  Files are sent in number order, which is the order they were
 * written, so every stream arrives before its blocks.  Sending is idempotent
 * on the server, so an interrupted import can simply be run again.
 *
 * It uses the library's own HTTP sink, so retry rules are the library's:
 * a missing process or stream, network and server errors are retried with
 * backoff (up to --retries times); a refused file is reported and skipped.
 */
#include "cli/cli.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "client/client.h"
#include "wire/wire.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

typedef struct import_stats {
    uint64_t files, blocks, events, bytes, refused;
} import_stats;

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the message files in dir (NNN.process/.stream/.block). */
static void free_names(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        sl_free(names[i]);
    sl_free(names);
}

/* The message files of dir, sorted; NULL with errno set if it cannot be read. */
static char **list_messages(const char *dir, size_t *n_out)
{
    *n_out = 0;
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    size_t n = 0, cap = 64;
    char **names = sl_malloc(cap * sizeof *names);
    int ok = names != NULL;
    struct dirent *de;
    while (ok && (de = readdir(d))) {
        const char *dot = strrchr(de->d_name, '.');
        if (de->d_name[0] == '.' || !dot ||
            (strcmp(dot, ".process") && strcmp(dot, ".stream") && strcmp(dot, ".block")))
            continue;
        if (n == cap) {
            char **more = sl_realloc(names, (cap *= 2) * sizeof *names);
            if (!(ok = more != NULL))
                break;
            names = more;
        }
        if ((ok = (names[n] = sl_strdup(de->d_name)) != NULL))
            n++;
    }
    closedir(d);
    if (!ok) {
        free_names(names, n);
        errno = ENOMEM;
        return NULL;
    }
    qsort(names, n, sizeof *names, cmp_names);
    *n_out = n;
    return names;
}

static int read_file(const char *path, dbuf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return SL_EIO;
    dbuf_reset(out);
    char buf[65536];
    size_t got;
    int rc = 0;
    while (!rc && (got = fread(buf, 1, sizeof buf, f)) > 0)
        rc = dbuf_append(out, buf, got);
    if (ferror(f))
        rc = SL_EIO;
    fclose(f);
    return rc;
}

static int send_with_retries(cl_sink *s, int kind, const dbuf *m, int retries, errmsg *e)
{
    int rc = 0;
    int delay_ms = 100;
    for (int attempt = 0; attempt <= retries; attempt++) {
        rc = s->send(s, kind, m->p, m->len, e);
        if ((rc != SL_EAGAIN && rc != SL_ENET) || attempt == retries)
            return rc;
        struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        delay_ms = delay_ms * 2 > 5000 ? 5000 : delay_ms * 2;
    }
    return rc;
}

/* Sends the message files names[0..n) of dir in that order; 1 if any was refused. */
static int import_messages(cl_sink *s, const char *dir, char **names, size_t n, int retries,
                           import_stats *st)
{
    dbuf m;
    dbuf_init(&m, WIRE_MAX_BLOCK_MSG);
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        errmsg e;
        errmsg_clear(&e);
        int kind = 0;
        int rc = read_file(path, &m);
        if (!rc)
            kind = wire_message_kind(m.p, m.len);
        if (!rc && kind != 'P' && kind != 'S' && kind != 'B')
            rc = errmsg_set(&e, SL_EINVAL, "not a process, stream or block message");
        if (!rc)
            rc = send_with_retries(s, kind, &m, retries, &e);
        if (rc) {
            fprintf(stderr, "streamlake import: %s: %s\n", path, errmsg_str(&e));
            st->refused++;
            failed = 1;
        } else if (kind == 'B') {
            wire_block b;
            const uint8_t *payload;
            if (wire_block_decode(m.p, m.len, &b, &payload, NULL) == 0)
                st->events += b.nb_objects;
            st->blocks++;
        }
        st->files++;
        st->bytes += m.len;
    }
    dbuf_free(&m);
    return failed;
}

static int import_process_dir(cl_sink *s, const char *dir, int retries, import_stats *st)
{
    size_t n = 0;
    char **names = list_messages(dir, &n);
    if (!names) {
        fprintf(stderr, "streamlake import: cannot read %s: %s\n", dir, strerror(errno));
        return 1;
    }
    int failed = import_messages(s, dir, names, n, retries, st);
    free_names(names, n);
    return failed;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: streamlake import DIR --server URL [--retries N]\n\n"
               "Sends an offline capture (written by the tracing library with\n"
               "STREAMLAKE_DIR or sl_config.directory) to a server.  DIR may be the\n"
               "capture directory or one process's subdirectory.  Safe to repeat.\n\n"
               "  --server URL   the streamlake server (e.g. http://127.0.0.1:8080)\n"
               "  --retries N    retries per file after the first attempt, with backoff, when\n"
               "                 the server is unreachable or busy or lacks the process or\n"
               "                 stream yet (default 10)\n");
}

int cmd_import(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *server = NULL, *dir = NULL, *v;
    uint64_t retries = 10;
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = cli_opt(argc, argv, &i, "--server", &server))) {
            if (r < 0)
                return 2;
        } else if ((r = cli_opt(argc, argv, &i, "--retries", &v))) {
            if (r < 0 || cli_parse_u64("--retries", v, &retries))
                return 2;
        } else if (argv[i][0] != '-' && !dir) {
            dir = argv[i];
        } else {
            fprintf(stderr, "streamlake import: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!dir || !server) {
        usage(stderr);
        return 2;
    }
    cl_sink *s;
    errmsg e;
    errmsg_clear(&e);
    if (cl_sink_http_new(server, &s, &e)) {
        fprintf(stderr, "streamlake import: %s\n", errmsg_str(&e));
        return 2;
    }
    import_stats st = {0};
    int64_t t0 = clock_mono_ns();
    int failed = 0;
    size_t n_here = 0;
    char **here = list_messages(dir, &n_here);
    if (here && n_here) {
        failed = import_messages(s, dir, here, n_here, (int)retries, &st);
    } else {
        /* A capture directory: one subdirectory per process. */
        DIR *d = opendir(dir);
        struct dirent *de;
        if (!d) {
            fprintf(stderr, "streamlake import: cannot open %s: %s\n", dir, strerror(errno));
            failed = 1;
        }
        while (d && (de = readdir(d))) {
            char sub[4096];
            struct stat sb;
            snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name);
            if (de->d_name[0] != '.' && stat(sub, &sb) == 0 && S_ISDIR(sb.st_mode))
                failed |= import_process_dir(s, sub, (int)retries, &st);
        }
        if (d)
            closedir(d);
    }
    free_names(here, n_here);
    s->destroy(s);
    double secs = (double)(clock_mono_ns() - t0) / 1e9;
    printf("imported %llu files (%llu blocks, %llu events, %.1f MB) in %.2f s; %llu refused\n",
           (unsigned long long)st.files, (unsigned long long)st.blocks,
           (unsigned long long)st.events, (double)st.bytes / 1e6, secs,
           (unsigned long long)st.refused);
    if (!st.files && !failed) {
        fprintf(stderr, "streamlake import: no message files found in %s\n", dir);
        return 1;
    }
    return failed;
}
