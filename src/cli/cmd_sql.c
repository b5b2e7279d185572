/*
 * cmd_sql.c - `streamlake sql [QUERY]`: SQL over the lake.
 *
 * With a query (or -f FILE, or statements on a pipe) it runs them and
 * prints the results; without one on a terminal it opens a shell with line
 * editing and history (~/.streamlake_history), psql-style continuation
 * lines, and backslash commands (\timing, \x, \dt, \d TABLE, \q, \?).
 * With --server the server runs the statements (POST /api/query); with
 * --data DIR (or --meta and --objects, the stores servers share) the CLI
 * opens the lake itself (cli/local.h).  Ctrl-C stops the
 * running statement (the shell keeps going).
 */
#include "cli/cli.h"
#include "cli/local.h"

#include "base/clock.h"
#include "base/json.h"
#include "net/httpc.h"
#include "sql/run.h"

#include <editline/readline.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: streamlake sql [QUERY] [-f FILE]\n"
            "                      [--server URL | " CLI_STORE_SYNOPSIS "]\n"
            "                      [--format table|csv|json] [--begin T] [--end T]\n"
            "                      [--files DIR] [--work-mem SIZE] [--timing]\n\n"
            "Runs SQL (PostgreSQL's dialect) over the lake: the tables processes, streams,\n"
            "blocks, log_entries, measures, log_stats; functions such as\n"
            "view_instance('thread_spans', stream_id) and process_spans(process_id).\n"
            "Without QUERY or -f, on a terminal, opens an interactive shell.\n\n"
            "  QUERY            one or more statements separated by ';'\n"
            "  -f FILE          read the statements from FILE ('-': standard input)\n"
            "  --format F       table (default), csv, or json (JSON lines)\n"
            "  --begin T, --end T\n"
            "                   a time range applied to every lake table, as if each had\n"
            "                   the matching time predicate (RFC 3339 or integer ns)\n"
            "  --server URL     ask this server (default $STREAMLAKE_SERVER or\n"
            "                   http://127.0.0.1:8080); its key, if it has --keys,\n"
            "                   from STREAMLAKE_API_KEY\n"
            "  --timing         print each statement's time (\\timing in the shell)\n"
            "\nOr the CLI opens the lake itself:\n");
    cli_store_usage(f, 19);
    fprintf(f,
            "  --files DIR      (opening the lake itself) read_parquet and read_csv may read\n"
            "                   files under DIR; repeat for several\n"
            "  --work-mem SIZE  (opening the lake itself) memory per query, e.g. 256MB (the\n"
            "                   default)\n\n"
            "docs/sql.md is the reference: tables, columns, functions, settings.\n");
}

static volatile sig_atomic_t g_interrupted;
static _Atomic uint8_t g_cancel;

static void on_sigint(int sig)
{
    (void)sig;
    g_interrupted = 1;
    atomic_store(&g_cancel, 1);
}

static int write_stdout(void *arg, const void *p, size_t n)
{
    (void)arg;
    return fwrite(p, 1, n, stdout) == n ? 0 : -1;
}

typedef struct shell {
    /* local */
    cli_local loc;
    sql_engine *eng;
    sql_session *s;
    /* remote */
    const char *server;
    httpc *hc;
    const char *begin, *end;
    int64_t begin_ns, end_ns;
    sql_fmt_kind format;
    bool expanded, timing;
} shell;

static int run_remote(shell *sh, const char *text)
{
    dbuf body;
    dbuf_init(&body, (size_t)1 << 30);
    jw w;
    jw_init(&w, &body);
    jw_obj_begin(&w);
    jw_key(&w, "sql");
    jw_str(&w, text);
    if (sh->begin) {
        jw_key(&w, "begin");
        jw_str(&w, sh->begin);
    }
    if (sh->end) {
        jw_key(&w, "end");
        jw_str(&w, sh->end);
    }
    jw_obj_end(&w);
    static const char *names[] = {"table", "csv", "json"};
    char url[2048];
    snprintf(url, sizeof url, "%s/api/query?format=%s%s", sh->server, names[sh->format],
             sh->expanded ? "&expanded=1" : "");
    dbuf err;
    dbuf_init(&err, 1 << 20);
    int status = 0;
    errmsg e;
    errmsg_clear(&e);
    int64_t t0 = clock_mono_ns();
    int rc = httpc_stream(sh->hc, url, body.p, body.len, 1, "application/json", &status, &err,
                          write_stdout, NULL, &e);
    fflush(stdout);
    if (rc)
        fprintf(stderr, "streamlake sql: %s\n", errmsg_str(&e));
    else if (status != 200)
        fprintf(stderr, "streamlake sql: HTTP %d: %.*s\n", status, (int)err.len,
                err.p ? (const char *)err.p : "");
    else if (sh->timing)
        printf("Time: %.3f ms\n", (double)(clock_mono_ns() - t0) / 1e6);
    dbuf_free(&err);
    dbuf_free(&body);
    return rc || status != 200;
}

static int run_local(shell *sh, const char *text)
{
    sql_fmt *f;
    if (sql_fmt_new(sh->format, sh->expanded, write_stdout, NULL, &f))
        return 1;
    sql_query_opts o = {.begin_ns = sh->begin_ns, .end_ns = sh->end_ns, .cancel = &g_cancel};
    sql_run_stats st;
    atomic_store(&g_cancel, 0);
    int rc = sql_run_script(sh->s, text, &o, f, &st);
    sql_fmt_free(f);
    fflush(stdout);
    if (!rc && sh->timing)
        printf("Time: %.3f ms\n", st.last_ms);
    if (rc && sh->format != SQL_FMT_TABLE && st.err.state[0])
        fprintf(stderr, "ERROR:  %s\n", st.err.msg);
    return rc ? 1 : 0;
}

static int run_text(shell *sh, const char *text)
{
    return sh->eng ? run_local(sh, text) : run_remote(sh, text);
}

/* ---- the shell ---- */

static void shell_help(void)
{
    printf("  \\q            quit\n"
           "  \\timing       toggle printing each statement's time\n"
           "  \\x            toggle expanded output (one field per line)\n"
           "  \\dt           list tables\n"
           "  \\d NAME       the columns of a table\n"
           "  \\?            this help\n"
           "Statements end with ';'.  Ctrl-C stops the running statement; Ctrl-D quits.\n");
}

static int backslash(shell *sh, const char *line)
{
    while (*line == ' ')
        line++;
    if (!strncmp(line, "\\q", 2))
        return -1;
    if (!strncmp(line, "\\timing", 7)) {
        sh->timing = !sh->timing;
        printf("Timing is %s.\n", sh->timing ? "on" : "off");
    } else if (!strncmp(line, "\\x", 2)) {
        sh->expanded = !sh->expanded;
        printf("Expanded display is %s.\n", sh->expanded ? "on" : "off");
    } else if (!strncmp(line, "\\dt", 3)) {
        run_text(sh, "SELECT table_name AS \"Name\", table_type AS \"Type\" "
                     "FROM information_schema.tables "
                     "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') "
                     "ORDER BY 1");
    } else if (!strncmp(line, "\\d", 2)) {
        const char *name = line + 2;
        while (*name == ' ')
            name++;
        if (!*name) {
            printf("\\d needs a table name (\\dt lists them)\n");
            return 0;
        }
        char q[1024], esc[512];
        size_t k = 0;
        for (const char *c = name; *c && *c != ' ' && k + 2 < sizeof esc; c++) {
            if (*c == '\'')
                esc[k++] = '\'';
            esc[k++] = *c;
        }
        esc[k] = 0;
        snprintf(q, sizeof q,
                 "SELECT column_name AS \"Column\", data_type AS \"Type\" "
                 "FROM information_schema.columns WHERE table_name = '%s' "
                 "ORDER BY ordinal_position",
                 esc);
        run_text(sh, q);
    } else if (!strncmp(line, "\\?", 2) || !strncmp(line, "\\h", 2)) {
        shell_help();
    } else {
        printf("invalid command %s; try \\?\n", line);
    }
    return 0;
}

/* True once buf holds a complete statement: a ';' outside quotes and comments. */
static bool complete(const char *buf)
{
    bool sq = false, dq = false, lc = false;
    int bc = 0;
    bool done = false;
    for (const char *c = buf; *c; c++) {
        if (lc) {
            lc = *c != '\n';
            continue;
        }
        if (bc) {
            if (c[0] == '*' && c[1] == '/')
                bc--, c++;
            continue;
        }
        if (sq) {
            sq = *c != '\'';
            continue;
        }
        if (dq) {
            dq = *c != '"';
            continue;
        }
        if (c[0] == '-' && c[1] == '-')
            lc = true;
        else if (c[0] == '/' && c[1] == '*')
            bc++, c++;
        else if (*c == '\'')
            sq = true;
        else if (*c == '"')
            dq = true;
        else if (*c == ';')
            done = true;
        else if (*c != ' ' && *c != '\n' && *c != '\t')
            done = false;
    }
    return done && !sq && !dq && !bc;
}

static int interactive(shell *sh)
{
    char hist[4096] = "";
    const char *home = getenv("HOME");
    if (home)
        snprintf(hist, sizeof hist, "%s/.streamlake_history", home);
    using_history();
    if (hist[0])
        read_history(hist);
    printf("streamlake sql (%s). Type \\? for help, \\q to quit.\n",
           sh->eng ? "local data directory" : sh->server);
    dbuf buf;
    dbuf_init(&buf, (size_t)64 << 20);
    for (;;) {
        g_interrupted = 0;
        char *line = readline(buf.len ? "streamlake-> " : "streamlake=> ");
        if (!line) {
            printf("\n");
            break;
        }
        if (!buf.len && line[strspn(line, " \t")] == '\\') {
            add_history(line);
            int r = backslash(sh, line);
            free(line);
            if (r < 0)
                break;
            continue;
        }
        if (buf.len)
            dbuf_append_byte(&buf, '\n');
        dbuf_append_str(&buf, line);
        free(line);
        if (!complete((const char *)buf.p))
            continue;
        add_history((const char *)buf.p);
        run_text(sh, (const char *)buf.p);
        dbuf_reset(&buf);
    }
    if (hist[0])
        write_history(hist);
    dbuf_free(&buf);
    return 0;
}

/* "256MB", "1GB", "65536kB" (a bare number is MB); at least 64 kB. */
static int parse_size(const char *s, int64_t *out)
{
    char *end;
    double v = strtod(s, &end);
    double mul = !*end || !strcasecmp(end, "MB") ? 1 << 20
                 : !strcasecmp(end, "GB")        ? 1 << 30
                 : !strcasecmp(end, "kB")        ? 1 << 10
                                                 : 0;
    if (end == s || mul == 0 || v * mul < 65536 || v * mul > 9e18)
        return -1;
    *out = (int64_t)(v * mul);
    return 0;
}

static char *read_all(FILE *f)
{
    dbuf b;
    dbuf_init(&b, (size_t)1 << 30);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (dbuf_append(&b, chunk, n)) {
            dbuf_free(&b);
            return NULL;
        }
    size_t len;
    uint8_t *p = dbuf_take(&b, &len);
    return p ? (char *)p : strdup("");
}

int cmd_sql(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *query = NULL, *file = NULL, *format = "table", *server = NULL,
               *begin = NULL, *end = NULL, *work_mem = NULL, *files[8];
    int nfiles = 0;
    bool timing = false;
    cli_store_opts so = {0};
    for (int i = 1; i < argc; i++) {
        int r;
        const char *fd = NULL;
        if ((r = cli_opt(argc, argv, &i, "--begin", &begin)) ||
            (r = cli_opt(argc, argv, &i, "--end", &end)) ||
            (r = cli_opt(argc, argv, &i, "--format", &format)) ||
            (r = cli_opt(argc, argv, &i, "--server", &server)) ||
            (r = cli_store_opt(argc, argv, &i, &so)) ||
            (r = cli_opt(argc, argv, &i, "--work-mem", &work_mem)) ||
            (r = cli_opt(argc, argv, &i, "-f", &file))) {
            if (r < 0)
                return 2;
        } else if ((r = cli_opt(argc, argv, &i, "--files", &fd))) {
            if (r < 0)
                return 2;
            if (nfiles == 8) {
                fprintf(stderr, "streamlake sql: at most 8 --files directories\n");
                return 2;
            }
            files[nfiles++] = fd;
        } else if (!strcmp(argv[i], "--timing")) {
            timing = true;
        } else if ((argv[i][0] != '-' || !argv[i][1]) && !query) {
            query = argv[i];
        } else {
            fprintf(stderr, "streamlake sql: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    int fk = sql_fmt_parse(format);
    if (fk < 0) {
        fprintf(stderr, "streamlake sql: --format must be table, csv or json, not '%s'\n",
                format);
        return 2;
    }
    int direct;
    if (cli_store_pick("sql", server, &so, &direct))
        return 2;
    if (query && file) {
        fprintf(stderr, "streamlake sql: give QUERY or -f FILE, not both\n");
        return 2;
    }
    if (!direct && (nfiles || work_mem)) {
        fprintf(stderr, "streamlake sql: --files and --work-mem apply when the CLI opens the "
                        "lake itself (--data, or --meta and --objects; a server "
                        "has its own: streamlake serve --files)\n");
        return 2;
    }
    shell sh = {0};
    sh.format = (sql_fmt_kind)fk;
    sh.timing = timing;
    sh.begin = begin;
    sh.end = end;
    sh.begin_ns = INT64_MIN;
    sh.end_ns = INT64_MAX;
    if ((begin && cli_parse_time("--begin", begin, &sh.begin_ns)) ||
        (end && cli_parse_time("--end", end, &sh.end_ns)))
        return 2;
    char *text = NULL;
    if (file) {
        FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
        if (!f) {
            fprintf(stderr, "streamlake sql: cannot read %s\n", file);
            return 1;
        }
        text = read_all(f);
        if (f != stdin)
            fclose(f);
    } else if (!query && !isatty(0)) {
        text = read_all(stdin);
    }
    int rc = 0;
    errmsg e;
    errmsg_clear(&e);
    if (direct) {
        sql_engine_opts eo = {0};
        for (int i = 0; i < nfiles; i++)
            eo.files_dirs[i] = files[i];
        eo.nfiles_dirs = nfiles;
        eo.data_dir = so.data; /* user tables; with --meta and --objects: in memory */
        if (work_mem && parse_size(work_mem, &eo.work_mem_bytes)) {
            fprintf(stderr, "streamlake sql: --work-mem wants a size such as 256MB, not '%s'\n",
                    work_mem);
            free(text);
            return 2;
        }
        if (cli_local_open("sql", &so, &sh.loc)) {
            free(text);
            return 1;
        }
        if ((rc = sql_engine_open(sh.loc.l, sh.loc.m, sh.loc.os, &eo, &sh.eng, &e)) ||
            (rc = sql_session_new(sh.eng, &sh.s))) {
            fprintf(stderr, "streamlake sql: %s\n", e.text[0] ? errmsg_str(&e) : "out of memory");
            sql_engine_close(sh.eng);
            cli_local_close(&sh.loc);
            free(text);
            return 1;
        }
    } else {
        sh.server = cli_default_server(server);
        if (httpc_new(24L * 3600 * 1000, &sh.hc, &e)) {
            fprintf(stderr, "streamlake sql: %s\n", errmsg_str(&e));
            free(text);
            return 1;
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    if (query)
        rc = run_text(&sh, query);
    else if (text)
        rc = run_text(&sh, text);
    else
        rc = interactive(&sh);
    free(text);
    sql_session_free(sh.s);
    sql_engine_close(sh.eng);
    if (sh.eng || sh.loc.l)
        cli_local_close(&sh.loc);
    httpc_free(sh.hc);
    return rc;
}
