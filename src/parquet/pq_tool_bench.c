/*
 * pq_tool_bench.c - the benchmark side of pq_tool: thread_spans-shaped rows
 * written and scanned, timed around exactly the library calls.
 *
 *   pq_tool spans FILE --rows N [--codec zstd] [--repeat R]
 *       builds N rows in memory first (not timed), then writes them to FILE
 *       R times and prints the best time as JSON.
 *   pq_tool scan FILE [--columns a,b] [--repeat R]
 *       reads FILE into memory (not timed), then R times: parse the footer,
 *       decode every projected column of every row group into batches; prints
 *       the best time as JSON.
 *
 * The columns follow the thread_spans view: id, parent, depth, hash, begin,
 * end, duration, name, target, filename, line.  Strings are dictionary
 * vectors (about 200 names, 20 targets, 50 files) as the lake produces them.
 */
#include "base/alloc.h"
#include "base/clock.h"
#include "col/col.h"
#include "parquet/parquet.h"
#include "parquet/pq_tool.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static double now_s(void)
{
    return (double)clock_mono_ns() / 1e9;
}

static void check(int rc, const errmsg *e, const char *what)
{
    if (rc) {
        fprintf(stderr, "pq_tool: %s: %s\n", what, e->text[0] ? e->text : sl_strerror(rc));
        exit(1);
    }
}

static col_dict *words(int n, const char *fmt)
{
    col_dict *d = col_dict_new();
    char t[96];
    for (int i = 0; i < n; i++) {
        int len = snprintf(t, sizeof t, fmt, i, i * 7919 % 1000);
        col_vec_append_str(&d->strings, t, (size_t)len);
    }
    return d;
}

static uint64_t g_x = 42;
static uint64_t rnd(void)
{
    g_x ^= g_x << 13;
    g_x ^= g_x >> 7;
    g_x ^= g_x << 17;
    return g_x;
}

static col_schema *spans_schema(void)
{
    col_schema *s = col_schema_new(11);
    col_schema_set(s, 0, "id", COL_INT64, 0, false);
    col_schema_set(s, 1, "parent", COL_INT64, 0, false);
    col_schema_set(s, 2, "depth", COL_UINT32, 0, false);
    col_schema_set(s, 3, "hash", COL_UINT32, 0, false);
    col_schema_set(s, 4, "begin", COL_TS_NS, 0, false);
    col_schema_set(s, 5, "end", COL_TS_NS, 0, false);
    col_schema_set(s, 6, "duration", COL_INT64, 0, false);
    col_schema_set(s, 7, "name", COL_STRING, 0, false);
    col_schema_set(s, 8, "target", COL_STRING, 0, false);
    col_schema_set(s, 9, "filename", COL_STRING, 0, false);
    col_schema_set(s, 10, "line", COL_INT32, 0, false);
    return s;
}

/* Builds all batches up front so the timed part is only the writer. */
static col_batch **spans_batches(col_schema *s, int64_t rows, int *nb_out)
{
    col_dict *names = words(200, "module::function_%03d_%d");
    col_dict *targets = words(20, "crate_%02d::sub_%d");
    col_dict *files = words(50, "src/path/to/file_%02d_%d.rs");
    int nb = (int)((rows + 65535) / 65536);
    col_batch **bs = calloc((size_t)nb + 1, sizeof *bs);
    int64_t last_at_depth[32] = {0}, t = 1700000000000000000ll, id = 0;
    uint32_t depth = 0;
    for (int k = 0; k < nb; k++) {
        int64_t n = rows - (int64_t)k * 65536 < 65536 ? rows - (int64_t)k * 65536 : 65536;
        col_batch *b;
        col_batch_new(s, &b);
        col_vec_init(&b->cols[7], COL_DICT, 1);
        col_vec_init(&b->cols[8], COL_DICT, 1);
        col_vec_init(&b->cols[9], COL_DICT, 1);
        col_vec_set_dict(&b->cols[7], names);
        col_vec_set_dict(&b->cols[8], targets);
        col_vec_set_dict(&b->cols[9], files);
        for (int j = 0; j < 11; j++)
            col_vec_reserve(&b->cols[j], n, 0);
        for (int64_t i = 0; i < n; i++) {
            uint64_t r = rnd();
            /* Depth walks like a call stack; names depend on depth and luck. */
            if (r % 3 == 0 && depth < 30)
                depth++;
            else if (r % 3 == 1 && depth > 0)
                depth--;
            uint32_t name = (uint32_t)((depth * 13 + (r >> 8) % 7) % 200);
            int64_t dur = (int64_t)(50 + (r >> 16) % (depth < 3 ? 1000000 : 5000));
            t += (int64_t)(20 + (r >> 40) % 400);
            last_at_depth[depth] = id;
            col_vec_append_i64(&b->cols[0], id);
            col_vec_append_i64(&b->cols[1], depth ? last_at_depth[depth - 1] : -1);
            col_vec_append_u32(&b->cols[2], depth);
            col_vec_append_u32(&b->cols[3], name * 2654435761u);
            col_vec_append_i64(&b->cols[4], t);
            col_vec_append_i64(&b->cols[5], t + dur);
            col_vec_append_i64(&b->cols[6], dur);
            col_vec_append_key(&b->cols[7], name);
            col_vec_append_key(&b->cols[8], name % 20);
            col_vec_append_key(&b->cols[9], name % 50);
            col_vec_append_i32(&b->cols[10], (int32_t)(name * 37 % 2000 + 1));
            id++;
        }
        b->nrows = n;
        bs[k] = b;
    }
    col_dict_unref(names);
    col_dict_unref(targets);
    col_dict_unref(files);
    *nb_out = nb;
    return bs;
}

int pq_tool_bench_spans(int argc, char **argv)
{
    int64_t rows = atoll(pq_tool_opt(argc, argv, "--rows", "1000000"));
    int repeat = atoi(pq_tool_opt(argc, argv, "--repeat", "1"));
    const char *codec = pq_tool_opt(argc, argv, "--codec", "zstd");
    pq_write_opts o;
    pq_write_opts_default(&o);
    o.codec = !strcmp(codec, "snappy") ? PQ_CODEC_SNAPPY
              : !strcmp(codec, "none") ? PQ_CODEC_UNCOMPRESSED
              : !strcmp(codec, "lz4")  ? PQ_CODEC_LZ4_RAW
                                       : PQ_CODEC_ZSTD;
    o.row_group_rows = atoll(pq_tool_opt(argc, argv, "--rg", "1048576"));
    /* --ts-local: isAdjustedToUTC=false, so DuckDB keeps the nanoseconds. */
    if (pq_tool_flag(argc, argv, "--ts-local"))
        o.ts_utc = false;
    col_schema *s = spans_schema();
    int nb;
    col_batch **bs = spans_batches(s, rows, &nb);
    double best = 1e30;
    int64_t size = 0;
    errmsg e = {0};
    for (int rep = 0; rep < repeat; rep++) {
        int fd = open(argv[0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            check(SL_EIO, &e, "create");
        double t0 = now_s();
        pq_sink sink;
        pq_sink_fd(&sink, fd);
        pq_writer *w;
        check(pq_writer_open(&sink, s, &o, &w, &e), &e, "open");
        pq_writer_set_kv(w, "streamlake.view", "thread_spans", &e);
        for (int k = 0; k < nb; k++)
            check(pq_writer_add_batch(w, bs[k], &e), &e, "add");
        check(pq_writer_close(w, &size, &e), &e, "close");
        double t = now_s() - t0;
        close(fd);
        best = t < best ? t : best;
    }
    for (int k = 0; k < nb; k++)
        col_batch_release(bs[k]);
    free(bs);
    col_schema_unref(s);
    printf("{\"rows\": %lld, \"bytes\": %lld, \"seconds\": %.6f}\n", (long long)rows,
           (long long)size, best);
    return 0;
}

int pq_tool_bench_scan(int argc, char **argv)
{
    int repeat = atoi(pq_tool_opt(argc, argv, "--repeat", "1"));
    const char *cols = pq_tool_opt(argc, argv, "--columns", NULL);
    char *copy = cols ? strdup(cols) : NULL;
    const char *names[64];
    int ncols = copy ? pq_tool_split(copy, names, 64) : 0;
    int fd = open(argv[0], O_RDONLY | O_CLOEXEC);
    struct stat st;
    errmsg e = {0};
    if (fd < 0 || fstat(fd, &st) != 0)
        check(SL_EIO, &e, "open");
    uint8_t *bytes = sl_malloc((size_t)st.st_size);
    for (off_t got = 0; got < st.st_size;) {
        ssize_t k = read(fd, bytes + got, (size_t)(st.st_size - got));
        if (k <= 0)
            check(SL_EIO, &e, "read");
        got += k;
    }
    close(fd);
    double best = 1e30;
    int64_t rows = 0, batches = 0;
    for (int rep = 0; rep < repeat; rep++) {
        double t0 = now_s();
        pq_reader *r;
        check(pq_reader_open(bytes, (size_t)st.st_size, NULL, &r, &e), &e, "reader");
        pq_scan_opts o = {.columns = ncols ? names : NULL, .ncolumns = ncols};
        pq_scan *s;
        check(pq_scan_open(r, &o, &s, &e), &e, "scan");
        rows = batches = 0;
        for (;;) {
            col_batch *b;
            check(pq_scan_next(s, &b, &e), &e, "next");
            if (!b)
                break;
            rows += b->nrows;
            batches++;
            col_batch_release(b);
        }
        pq_scan_close(s);
        pq_reader_close(r);
        double t = now_s() - t0;
        best = t < best ? t : best;
    }
    sl_free(bytes);
    free(copy);
    printf("{\"rows\": %lld, \"batches\": %lld, \"seconds\": %.6f}\n", (long long)rows,
           (long long)batches, best);
    return 0;
}
