/*
 * bench_sql.c - SQL in process: a query suite's times and peak memory, and
 * the cost of setting a query up.
 *
 *   bench_sql DATA_DIR QUERIES.tsv [--workers N] [--reps N] [--files DIR]
 *       runs each query of the file (lines "name<TAB>our sql<TAB>DuckDB's sql";
 *       "$P" is replaced by the data's first process id) --reps times after one
 *       warm-up run, and
 *       prints per query: the median and best wall time, the rows, and the
 *       process's peak resident memory during the query (VmHWM, reset before
 *       each query through /proc/self/clear_refs), as tab-separated lines:
 *         query NAME MEDIAN_MS BEST_MS ROWS PEAK_RSS_MB
 *   bench_sql DATA_DIR --setup [--reps N]
 *       the end-to-end time of a trivial query (SELECT 1) and of a point lookup
 *       on processes, open -> rows -> close, in process: median and p99 in us.
 *   bench_sql --setup-http HOST:PORT PROCESS_ID [--reps N]
 *       the same two queries through a running server's POST /api/query on
 *       loopback, the whole exchange: on one kept-alive connection, then on a
 *       new connection per query: median and p99 in us.
 *
 * The data directory is opened as `streamlake sql --data` does (no server may
 * use it).  Nothing here is a test; bench/RESULTS.md keeps the figures.
 */
#include "lake/lake.h"
#include "meta/meta.h"
#include "objstore/objstore.h"
#include "sql/sql.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static long status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = 0;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

static void reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Runs sql to the end: rows, or -1 (the error printed). */
static int64_t run(sql_session *s, const char *sql)
{
    sql_query *q;
    sql_err e;
    if (sql_query_open(s, sql, NULL, &q, &e)) {
        fprintf(stderr, "bench_sql: %s: %s\n", e.state, e.msg);
        return -1;
    }
    int64_t rows = 0;
    for (;;) {
        const sql_batch *b;
        if (sql_query_next(q, &b, &e)) {
            fprintf(stderr, "bench_sql: %s: %s\n", e.state, e.msg);
            sql_query_close(q);
            return -1;
        }
        if (!b)
            break;
        rows += b->n;
    }
    sql_query_close(q);
    return rows;
}

static char *first_process(sql_session *s)
{
    static char id[64];
    sql_query *q;
    sql_err e;
    id[0] = 0;
    if (sql_query_open(s, "SELECT process_id::text FROM processes ORDER BY start_time LIMIT 1",
                       NULL, &q, &e))
        return id;
    const sql_batch *b;
    if (!sql_query_next(q, &b, &e) && b && b->n) {
        size_t n;
        const uint8_t *p = col_vec_str(&b->cols[0], 0, &n);
        snprintf(id, sizeof id, "%.*s", (int)n, (const char *)p);
    }
    sql_query_close(q);
    return id;
}

static char *replace_all(const char *s, const char *what, const char *with)
{
    size_t n = strlen(s) + 1, wl = strlen(what), rl = strlen(with);
    for (const char *p = strstr(s, what); p; p = strstr(p + wl, what))
        n += rl;
    char *out = malloc(n), *o = out;
    while (*s) {
        if (!strncmp(s, what, wl)) {
            memcpy(o, with, rl);
            o += rl;
            s += wl;
        } else {
            *o++ = *s++;
        }
    }
    *o = 0;
    return out;
}

static void setup_bench(sql_session *s, int reps)
{
    const char *pid = first_process(s);
    char point[256];
    snprintf(point, sizeof point, "SELECT * FROM processes WHERE process_id = '%s'", pid);
    const char *names[2] = {"trivial (SELECT 1)", "point lookup on processes"};
    const char *sqls[2] = {"SELECT 1", point};
    int64_t *t = malloc(sizeof *t * (size_t)reps);
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 50; i++)
            run(s, sqls[k]);
        for (int i = 0; i < reps; i++) {
            int64_t t0 = now_ns();
            if (run(s, sqls[k]) != 1) {
                fprintf(stderr, "bench_sql: %s did not return one row\n", names[k]);
                exit(1);
            }
            t[i] = now_ns() - t0;
        }
        qsort(t, (size_t)reps, sizeof *t, cmp_i64);
        printf("setup\t%s\t%.1f\t%.1f\n", names[k], (double)t[reps / 2] / 1e3,
               (double)t[reps * 99 / 100] / 1e3);
    }
    free(t);
}

static int http_connect(const struct sockaddr_in *sa)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (const struct sockaddr *)sa, sizeof *sa)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One POST /api/query: on *fd (kept open: keep-alive) or, with *fd < 0, on a new
 * connection closed after it.  The rows the answer reports, -1 on failure. */
static int http_query(const struct sockaddr_in *sa, int *fd, const char *sql)
{
    char body[1024], req[2048], buf[16384];
    bool keep = *fd >= 0;
    int bl = snprintf(body, sizeof body, "{\"sql\": \"%s\"}", sql);
    int rl = snprintf(req, sizeof req,
                      "POST /api/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                      "application/json\r\nContent-Length: %d\r\n%s\r\n%s",
                      bl, keep ? "" : "Connection: close\r\n", body);
    int c = keep ? *fd : http_connect(sa);
    if (c < 0 || write(c, req, (size_t)rl) != rl) {
        if (c >= 0 && !keep)
            close(c);
        return -1;
    }
    /* the answer is chunked: it ends with the empty chunk (or the connection) */
    size_t got = 0;
    ssize_t n;
    while (got < sizeof buf - 1 && (n = read(c, buf + got, sizeof buf - 1 - got)) > 0) {
        got += (size_t)n;
        if (got >= 5 && !memcmp(buf + got - 5, "0\r\n\r\n", 5))
            break;
    }
    if (!keep)
        close(c);
    buf[got] = 0;
    if (strncmp(buf, "HTTP/1.1 200", 12))
        return -1;
    /* the last JSON line says how many rows went out: {"end":{"tag":..,"rows":N,..}} */
    const char *end = strstr(buf, "{\"end\":");
    const char *r = end ? strstr(end, "\"rows\":") : NULL;
    return r ? atoi(r + 7) : -1;
}

static int setup_http(const char *hostport, const char *pid, int reps)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    const char *colon = strrchr(hostport, ':');
    char host[64];
    if (!colon || (size_t)(colon - hostport) >= sizeof host)
        return 2;
    snprintf(host, sizeof host, "%.*s", (int)(colon - hostport), hostport);
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return 2;
    char point[256];
    snprintf(point, sizeof point, "SELECT * FROM processes WHERE process_id = '%s'", pid);
    const char *names[2] = {"trivial (SELECT 1)", "point lookup on processes"};
    const char *sqls[2] = {"SELECT 1", point};
    int64_t *t = malloc(sizeof *t * (size_t)reps);
    for (int keep = 1; keep >= 0; keep--) {
        int fd = keep ? http_connect(&sa) : -1;
        for (int k = 0; k < 2; k++) {
            for (int i = 0; i < 50; i++)
                http_query(&sa, &fd, sqls[k]);
            for (int i = 0; i < reps; i++) {
                int64_t t0 = now_ns();
                if (http_query(&sa, &fd, sqls[k]) != 1) {
                    fprintf(stderr, "bench_sql: %s did not return one row\n", names[k]);
                    return 1;
                }
                t[i] = now_ns() - t0;
            }
            qsort(t, (size_t)reps, sizeof *t, cmp_i64);
            printf("setup\t%s, HTTP %s\t%.1f\t%.1f\n", names[k],
                   keep ? "keep-alive" : "new connection", (double)t[reps / 2] / 1e3,
                   (double)t[reps * 99 / 100] / 1e3);
        }
        if (fd >= 0)
            close(fd);
    }
    free(t);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "--setup-http")) {
        int reps = argc >= 6 && !strcmp(argv[4], "--reps") ? atoi(argv[5]) : 2000;
        return setup_http(argv[2], argv[3], reps > 0 ? reps : 2000);
    }
    if (argc < 3) {
        fprintf(stderr, "usage: bench_sql DATA_DIR QUERIES.tsv [--workers N] [--reps N]\n"
                        "       bench_sql DATA_DIR --setup [--reps N]\n"
                        "       bench_sql --setup-http HOST:PORT PROCESS_ID [--reps N]\n");
        return 2;
    }
    /* the allocator as the streamlake binary sets it (src/cli/main.c): batches and
     * decoded pages reuse freed memory instead of mapping and faulting it again */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    const char *dir = argv[1], *file = argv[2], *files = NULL;
    int workers = 0, reps = 3;
    bool setup = !strcmp(file, "--setup");
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--workers"))
            workers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps"))
            reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--files"))
            files = argv[i + 1];
    }
    errmsg e = {0};
    objstore *os;
    meta *m;
    lake *l;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/meta.sqlite", dir);
    if (objstore_local_open(dir, &os, &e) || meta_sqlite_open(path, NULL, &m, &e) ||
        lake_open(m, os, NULL, &l, &e)) {
        fprintf(stderr, "bench_sql: %s: %s\n", dir, e.text);
        return 1;
    }
    sql_engine_opts o = {.workers = workers, .work_mem_bytes = (int64_t)2 << 30};
    if (files) {
        o.files_dirs[0] = files;
        o.nfiles_dirs = 1;
    }
    sql_engine *eng;
    sql_session *s;
    if (sql_engine_open(l, m, os, &o, &eng, &e) || sql_session_new(eng, &s)) {
        fprintf(stderr, "bench_sql: %s\n", e.text);
        return 1;
    }
    if (setup) {
        setup_bench(s, reps < 1000 ? 2000 : reps);
    } else {
        FILE *f = fopen(file, "r");
        if (!f) {
            fprintf(stderr, "bench_sql: cannot read %s\n", file);
            return 1;
        }
        const char *pid = first_process(s);
        char line[8192];
        int64_t *t = malloc(sizeof *t * (size_t)(reps > 0 ? reps : 1));
        while (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\n")] = 0;
            char *tab = strchr(line, '\t');
            if (!tab || line[0] == '#')
                continue;
            *tab = 0;
            char *end = strchr(tab + 1, '\t'); /* a third field is DuckDB's version */
            if (end)
                *end = 0;
            char *sql = replace_all(tab + 1, "$P", pid);
            int64_t rows = run(s, sql); /* warm-up: partitions cached, pages in memory */
            reset_peak();
            long base = status_kb("VmRSS");
            for (int i = 0; i < reps && rows >= 0; i++) {
                int64_t t0 = now_ns();
                rows = run(s, sql);
                t[i] = now_ns() - t0;
            }
            long peak = status_kb("VmHWM");
            if (rows < 0) {
                printf("query\t%s\tERROR\n", line);
            } else {
                qsort(t, (size_t)reps, sizeof *t, cmp_i64);
                printf("query\t%s\t%.2f\t%.2f\t%lld\t%.1f\n", line, (double)t[reps / 2] / 1e6,
                       (double)t[0] / 1e6, (long long)rows, (double)(peak - base) / 1024);
            }
            fflush(stdout);
            free(sql);
        }
        free(t);
        fclose(f);
    }
    sql_session_free(s);
    sql_engine_close(eng);
    lake_close(l);
    meta_close(m);
    objstore_close(os);
    return 0;
}
