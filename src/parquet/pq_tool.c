/*
 * pq_tool.c - a command-line tool over the Parquet reader and writer, used by
 * the interoperability tests (tests/node) and the benchmark (bench/).
 *
 *   pq_tool gen FILE [options]     write a file from a deterministic generator;
 *                                  --expect OUT writes the generated rows as
 *                                  canonical JSON lines
 *   pq_tool dump FILE [--columns a,b] [--batch N]
 *                                  read FILE with our reader, print canonical
 *                                  JSON lines (first line: the schema)
 *   pq_tool meta FILE              print the footer as JSON
 *   pq_tool spans FILE --rows N    write thread_spans-shaped rows (benchmark)
 *   pq_tool scan FILE [--columns a,b] [--repeat N]
 *                                  scan from memory, print rows and seconds
 *
 * Canonical cells: null; true/false; integers and timestamps (ns) as decimal
 * strings; doubles as "0x" + the 16 hex digits of their bits; strings as JSON
 * strings; binary as "hex:" + hex digits.  Exact in every case, so the node
 * side compares values, not formatting.
 */
#include "base/alloc.h"
#include "base/json.h"
#include "col/col.h"
#include "parquet/parquet.h"
#include "parquet/pq_tool.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void die(const char *what, int rc, const errmsg *e)
{
    fprintf(stderr, "pq_tool: %s: %s (%s)\n", what, e && e->text[0] ? e->text : "",
            sl_strerror(rc));
    exit(1);
}

#define TRY(what, expr)                                                                            \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_)                                                                                   \
            die(what, rc_, &e);                                                                    \
    } while (0)

/* --- options (see pq_tool.h) ---------------------------------------------- */

const char *pq_tool_opt(int argc, char **argv, const char *name, const char *dflt)
{
    for (int i = 0; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return dflt;
}

bool pq_tool_flag(int argc, char **argv, const char *name)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return true;
    return false;
}

int pq_tool_split(char *s, const char **names, int max)
{
    int n = 0;
    for (char *tok = strtok(s, ","); tok && n < max; tok = strtok(NULL, ","))
        names[n++] = tok;
    return n;
}

/* --- canonical dump -------------------------------------------------------- */

static void cell(jw *w, const col_vec *v, int64_t i)
{
    char t[40];
    if (!col_vec_is_valid(v, i)) {
        jw_null(w);
        return;
    }
    switch (v->type) {
    case COL_BOOL:
        jw_bool(w, col_vec_bool(v, i));
        return;
    case COL_INT32:
        snprintf(t, sizeof t, "%d", col_vec_i32(v, i));
        break;
    case COL_UINT32:
        snprintf(t, sizeof t, "%u", (uint32_t)col_vec_i32(v, i));
        break;
    case COL_UINT64:
        snprintf(t, sizeof t, "%llu", (unsigned long long)col_vec_i64(v, i));
        break;
    case COL_DOUBLE: {
        double d = col_vec_f64(v, i);
        uint64_t u;
        memcpy(&u, &d, 8);
        snprintf(t, sizeof t, "0x%016llx", (unsigned long long)u);
        break;
    }
    case COL_STRING:
    case COL_DICT: {
        size_t n;
        const uint8_t *p = col_vec_str(v, i, &n);
        jw_strn(w, (const char *)p, n);
        return;
    }
    case COL_BINARY: {
        size_t n;
        const uint8_t *p = col_vec_str(v, i, &n);
        dbuf h;
        dbuf_init(&h, (size_t)1 << 30);
        dbuf_append_str(&h, "hex:");
        for (size_t k = 0; k < n; k++)
            dbuf_printf(&h, "%02x", p[k]);
        jw_strn(w, (const char *)h.p, h.len);
        dbuf_free(&h);
        return;
    }
    default:
        snprintf(t, sizeof t, "%lld", (long long)col_vec_i64(v, i));
        break;
    }
    jw_str(w, t);
}

static void dump_batch(FILE *out, const col_batch *b)
{
    dbuf d;
    dbuf_init(&d, (size_t)1 << 31);
    for (int64_t i = 0; i < b->nrows; i++) {
        jw w;
        jw_init(&w, &d);
        jw_arr_begin(&w);
        for (int c = 0; c < b->ncols; c++)
            cell(&w, &b->cols[c], i);
        jw_arr_end(&w);
        dbuf_append_byte(&d, '\n');
        if (d.len > (1 << 20)) {
            fwrite(d.p, 1, d.len, out);
            dbuf_reset(&d);
        }
    }
    fwrite(d.p, 1, d.len, out);
    dbuf_free(&d);
}

static void dump_header(FILE *out, const col_schema *s, int64_t rows)
{
    dbuf d;
    dbuf_init(&d, 1 << 20);
    jw w;
    jw_init(&w, &d);
    jw_obj_begin(&w);
    jw_key(&w, "rows");
    jw_int(&w, rows);
    jw_key(&w, "columns");
    jw_arr_begin(&w);
    for (int i = 0; i < s->ncols; i++) {
        jw_obj_begin(&w);
        jw_key(&w, "name");
        jw_str(&w, s->fields[i].name);
        jw_key(&w, "type");
        jw_str(&w, col_type_name(s->fields[i].type));
        jw_key(&w, "nullable");
        jw_bool(&w, s->fields[i].nullable);
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_obj_end(&w);
    fprintf(out, "%s\n", (const char *)d.p);
    dbuf_free(&d);
}

static int cmd_dump(int argc, char **argv)
{
    errmsg e = {0};
    pq_reader *r;
    TRY("open", pq_reader_open_file(argv[0], &r, &e));
    const char *names[256], *list = pq_tool_opt(argc, argv, "--columns", NULL);
    char *cols = list ? strdup(list) : NULL;
    pq_scan_opts o = {.batch_rows = atoll(pq_tool_opt(argc, argv, "--batch", "0"))};
    if (cols) {
        o.columns = names;
        o.ncolumns = pq_tool_split(cols, names, 256);
    }
    pq_scan *s;
    TRY("scan", pq_scan_open(r, &o, &s, &e));
    int64_t rows = pq_footer_num_rows(pq_reader_footer(r));
    col_batch *b;
    bool header = false;
    for (;;) {
        TRY("next", pq_scan_next(s, &b, &e));
        if (!header) {
            dump_header(stdout, b ? b->schema : pq_footer_schema(pq_reader_footer(r)), rows);
            header = true;
        }
        if (!b)
            break;
        dump_batch(stdout, b);
        col_batch_release(b);
    }
    pq_scan_close(s);
    pq_reader_close(r);
    free(cols);
    return 0;
}

/* --- meta ------------------------------------------------------------------ */

static void stat_json(jw *w, const char *key, const pq_bytes *b)
{
    dbuf h;
    dbuf_init(&h, 1 << 20);
    for (size_t k = 0; k < b->n; k++)
        dbuf_printf(&h, "%02x", b->p[k]);
    jw_key(w, key);
    jw_strn(w, h.p ? (const char *)h.p : "", h.len);
    dbuf_free(&h);
}

static int cmd_meta(int argc, char **argv)
{
    (void)argc;
    errmsg e = {0};
    pq_reader *r;
    TRY("open", pq_reader_open_file(argv[0], &r, &e));
    const pq_footer *f = pq_reader_footer(r);
    const pq_file_meta *m = pq_footer_meta(f);
    dbuf d;
    dbuf_init(&d, (size_t)1 << 30);
    jw w;
    jw_init(&w, &d);
    jw_obj_begin(&w);
    jw_key(&w, "version");
    jw_int(&w, m->version);
    jw_key(&w, "num_rows");
    jw_int(&w, m->num_rows);
    jw_key(&w, "created_by");
    jw_str(&w, m->created_by);
    jw_key(&w, "kv");
    jw_obj_begin(&w);
    for (int i = 0; i < m->nkv; i++) {
        jw_key(&w, m->kv[i].key);
        jw_str(&w, m->kv[i].value);
    }
    jw_obj_end(&w);
    jw_key(&w, "row_groups");
    jw_arr_begin(&w);
    for (int g = 0; g < m->nrgs; g++) {
        jw_obj_begin(&w);
        jw_key(&w, "num_rows");
        jw_int(&w, m->rgs[g].num_rows);
        jw_key(&w, "columns");
        jw_arr_begin(&w);
        for (int c = 0; c < m->rgs[g].ncols; c++) {
            const pq_chunk *ch = &m->rgs[g].cols[c];
            jw_obj_begin(&w);
            jw_key(&w, "codec");
            jw_str(&w, pq_codec_name(ch->codec));
            jw_key(&w, "encodings");
            jw_arr_begin(&w);
            for (int k = 0; k < 32; k++)
                if (ch->encodings & (1u << k))
                    jw_str(&w, pq_encoding_name(k));
            jw_arr_end(&w);
            if (ch->stats.has & PQ_ST_NULLS) {
                jw_key(&w, "null_count");
                jw_int(&w, ch->stats.null_count);
            }
            if (ch->stats.has & PQ_ST_MIN_VALUE)
                stat_json(&w, "min_value", &ch->stats.min_value);
            if (ch->stats.has & PQ_ST_MAX_VALUE)
                stat_json(&w, "max_value", &ch->stats.max_value);
            int64_t lo, hi;
            if (pq_footer_stats_i64(f, g, c, &lo, &hi) == SL_OK) {
                jw_key(&w, "min_i64");
                jw_int(&w, lo);
                jw_key(&w, "max_i64");
                jw_int(&w, hi);
            }
            jw_obj_end(&w);
        }
        jw_arr_end(&w);
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_obj_end(&w);
    printf("%s\n", (const char *)d.p);
    dbuf_free(&d);
    pq_reader_close(r);
    return 0;
}

/* --- generator ------------------------------------------------------------- */

static uint64_t g_rng;

static uint64_t rnd(void)
{
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static const char *k_odd[] = {
    "",
    "plain",
    "with \"quotes\"",
    "line\nbreak",
    "tab\tand\\backslash",
    "caf\xc3\xa9",
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
    "emoji \xf0\x9f\x98\x80",
    "ctrl\x01\x1f",
    "'single'",
    " leading and trailing ",
    "comma,separated",
    "{\"json\": [1, 2]}",
    "a",
    "zz\x7f",
};
#define N_ODD (sizeof k_odd / sizeof k_odd[0])

enum { G_ID, G_I64, G_I32, G_U32, G_U64, G_D, G_TS, G_B, G_S, G_DS, G_BIN, G_NCOLS };

static col_schema *gen_schema(void)
{
    static const struct {
        const char *name;
        col_type t;
        bool nullable;
    } cols[G_NCOLS] = {
        {"id", COL_INT64, false},  {"i64", COL_INT64, true},  {"i32", COL_INT32, true},
        {"u32", COL_UINT32, true}, {"u64", COL_UINT64, true}, {"d", COL_DOUBLE, true},
        {"ts", COL_TS_NS, true},   {"b", COL_BOOL, true},     {"s", COL_STRING, true},
        {"ds", COL_STRING, true},  {"bin", COL_BINARY, true},
    };
    col_schema *s = col_schema_new(G_NCOLS);
    for (int i = 0; i < G_NCOLS; i++)
        col_schema_set(s, i, cols[i].name, cols[i].t, 0, cols[i].nullable);
    return s;
}

static col_dict *gen_dict(int n, const char *prefix)
{
    col_dict *d = col_dict_new();
    char t[64];
    for (int i = 0; i < n; i++) {
        int len = snprintf(t, sizeof t, "%s%03d%s", prefix, i, i % 7 == 0 ? " \xc3\xbc" : "");
        col_vec_append_str(&d->strings, t, (size_t)len);
    }
    return d;
}

static double gen_double(void)
{
    static const double special[] = {0.0,     -0.0,     1.0,       -1.5,       1e308,
                                     -1e-308, 4.9e-324, 1.0 / 0.0, -1.0 / 0.0, 3.141592653589793};
    uint64_t r = rnd();
    if (r % 5 == 0)
        return special[(r >> 8) % 10];
    if (r % 5 == 1)
        return (double)(int64_t)(rnd() % 2000001) - 1000000.0;
    uint64_t bits = rnd();
    double d;
    memcpy(&d, &bits, 8);
    if (d != d) /* only the canonical NaN, which every peer preserves */
        bits = 0x7ff8000000000000ull;
    memcpy(&d, &bits, 8);
    return d;
}

static void gen_row(col_batch *b, int64_t row, int null_pct, col_dict *dict, int cardinality)
{
    col_vec *c = b->cols;
    col_vec_append_i64(&c[G_ID], row * 3 - 1000000000000ll);
    for (int k = G_I64; k < G_NCOLS; k++) {
        if ((int)(rnd() % 100) < null_pct) {
            col_vec_append_null(&c[k]);
            continue;
        }
        uint64_t r = rnd();
        switch (k) {
        case G_I64:
            col_vec_append_i64(&c[k], r % 50 == 0   ? INT64_MIN
                                      : r % 50 == 1 ? INT64_MAX
                                                    : (int64_t)r);
            break;
        case G_I32:
            col_vec_append_i32(&c[k], (int32_t)(uint32_t)r);
            break;
        case G_U32:
            col_vec_append_u32(&c[k], r % 10 == 0 ? UINT32_MAX : (uint32_t)(r >> 7));
            break;
        case G_U64:
            col_vec_append_u64(&c[k], r % 10 == 0 ? UINT64_MAX : r);
            break;
        case G_D:
            col_vec_append_f64(&c[k], gen_double());
            break;
        case G_TS:
            col_vec_append_i64(&c[k], 1700000000000000000ll + row * 1234567 + (int64_t)(r % 1000));
            break;
        case G_B:
            col_vec_append_bool(&c[k], r & 1);
            break;
        case G_S: {
            char t[48];
            if (r % 3 == 0) {
                const char *z = k_odd[(r >> 4) % N_ODD];
                col_vec_append_str(&c[k], z, strlen(z));
            } else {
                int len = snprintf(t, sizeof t, "v%llu",
                                   (unsigned long long)((r >> 8) % (uint64_t)cardinality));
                col_vec_append_str(&c[k], t, (size_t)len);
            }
            break;
        }
        case G_DS:
            col_vec_append_key(&c[k], (r >> 3) % (uint64_t)dict->strings.len);
            break;
        case G_BIN: {
            uint8_t t[12];
            size_t n = (size_t)(r % 12);
            for (size_t i = 0; i < n; i++)
                t[i] = (uint8_t)(rnd() >> 11);
            col_vec_append_str(&c[k], t, n);
            break;
        }
        }
    }
}

static int parse_codec(const char *z)
{
    if (!strcmp(z, "zstd"))
        return PQ_CODEC_ZSTD;
    if (!strcmp(z, "snappy"))
        return PQ_CODEC_SNAPPY;
    if (!strcmp(z, "lz4"))
        return PQ_CODEC_LZ4_RAW;
    if (!strcmp(z, "none"))
        return PQ_CODEC_UNCOMPRESSED;
    fprintf(stderr, "pq_tool: unknown codec %s\n", z);
    exit(2);
}

static void apply_write_opts(int argc, char **argv, pq_write_opts *o)
{
    pq_write_opts_default(o);
    o->codec = parse_codec(pq_tool_opt(argc, argv, "--codec", "zstd"));
    o->row_group_rows = atoll(pq_tool_opt(argc, argv, "--rg", "1048576"));
    o->page_bytes = (size_t)atoll(pq_tool_opt(argc, argv, "--page", "1048576"));
    o->dictionary = !pq_tool_flag(argc, argv, "--no-dict");
    o->dict_max_entries = atoll(pq_tool_opt(argc, argv, "--dict-max", "65536"));
    o->level = atoi(pq_tool_opt(argc, argv, "--level", "3"));
    o->ts_utc = !pq_tool_flag(argc, argv, "--ts-local");
}

static int cmd_gen(int argc, char **argv)
{
    errmsg e = {0};
    int64_t rows = atoll(pq_tool_opt(argc, argv, "--rows", "1000"));
    int64_t batch = atoll(pq_tool_opt(argc, argv, "--batch", "10000"));
    int null_pct = atoi(pq_tool_opt(argc, argv, "--nulls", "10"));
    int card = atoi(pq_tool_opt(argc, argv, "--cardinality", "100000"));
    g_rng = (uint64_t)atoll(pq_tool_opt(argc, argv, "--seed", "1"));
    const char *expect = pq_tool_opt(argc, argv, "--expect", NULL);
    pq_write_opts o;
    apply_write_opts(argc, argv, &o);
    col_schema *s = gen_schema();
    col_dict *da = gen_dict(200, "name_"), *db = gen_dict(37, "other_");
    int fd = open(argv[0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        die("create", SL_EIO, NULL);
    FILE *ex = expect ? fopen(expect, "w") : NULL;
    if (ex)
        dump_header(ex, s, rows);
    pq_sink sink;
    pq_sink_fd(&sink, fd);
    pq_writer *w;
    TRY("open", pq_writer_open(&sink, s, &o, &w, &e));
    TRY("kv", pq_writer_set_kv(w, "streamlake.view", "interop", &e));
    TRY("kv", pq_writer_set_kv(w, "streamlake.schema_version", "1", &e));
    for (int64_t done = 0, k = 0; done < rows; k++) {
        int64_t n = rows - done < batch ? rows - done : batch;
        col_batch *b;
        TRY("batch", col_batch_new(s, &b));
        /* Batches alternate between two dictionaries to exercise remapping. */
        col_dict *d = k % 3 == 2 ? db : da;
        col_vec_init(&b->cols[G_DS], COL_DICT, col_dict_key_bytes(d->strings.len));
        col_vec_set_dict(&b->cols[G_DS], d);
        for (int64_t i = 0; i < n; i++)
            gen_row(b, done + i, null_pct, d, card);
        b->nrows = n;
        if (ex)
            dump_batch(ex, b);
        TRY("add", pq_writer_add_batch(w, b, &e));
        col_batch_release(b);
        done += n;
    }
    int64_t size;
    TRY("close", pq_writer_close(w, &size, &e));
    close(fd);
    if (ex)
        fclose(ex);
    col_dict_unref(da);
    col_dict_unref(db);
    col_schema_unref(s);
    fprintf(stderr, "pq_tool: wrote %lld rows, %lld bytes\n", (long long)rows, (long long)size);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: pq_tool gen|dump|meta|spans|scan FILE [options]\n");
        return 2;
    }
    const char *cmd = argv[1];
    argc -= 2;
    argv += 2;
    if (!strcmp(cmd, "gen"))
        return cmd_gen(argc, argv);
    if (!strcmp(cmd, "dump"))
        return cmd_dump(argc, argv);
    if (!strcmp(cmd, "meta"))
        return cmd_meta(argc, argv);
    if (!strcmp(cmd, "spans"))
        return pq_tool_bench_spans(argc, argv);
    if (!strcmp(cmd, "scan"))
        return pq_tool_bench_scan(argc, argv);
    fprintf(stderr, "pq_tool: unknown command %s\n", cmd);
    return 2;
}
