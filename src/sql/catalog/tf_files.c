/*
 * tf_files.c - read_parquet(path) and read_csv(path, ...): files as tables.
 *
 * Only files under the directories the server was given (--files DIR) can be
 * read: the path is resolved (symbolic links and `..` included) and must lie
 * inside one of them; anything else is refused with SQLSTATE 42501, and with
 * no --files at all both functions are off.  A path may be a glob pattern
 * (`logs/day-?.csv`, `*` works too); every match is checked the same way.
 *
 * read_parquet reads our Parquet subset (docs/internals/parquet.md), one
 * unit per file.  read_csv maps the file and cuts it into byte ranges that
 * workers parse in parallel (each range starts after a line break and ends at
 * the first line break past its end), unless a quote character appears in the
 * first 64 KiB, in which case one worker reads the file in order (a quoted
 * field may hold a line break).  Options, positional or named:
 *
 *   read_csv(path, header => true, delimiter => ',', columns => 'a int8, b text')
 *
 * Without `columns`, types are inferred from the first 1,000 lines: bigint,
 * double precision, date, timestamp, boolean, else text.  An empty unquoted
 * field is NULL.  A value that does not fit its column's type fails the query
 * with the file and the byte offset.
 */
#include "sql/catalog/tfuncs.h"

#include "base/alloc.h"
#include "parquet/parquet.h"
#include "sql/catalog/lakescan.h"
#include "sql/engine_int.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILES 4096

static int oom(sql_err *e)
{
    return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
}

/* ---- the allowlist ---- */

static bool under(const char *real, const char *dir)
{
    size_t n = strlen(dir);
    return !strncmp(real, dir, n) && (real[n] == '/' || real[n] == 0 || (n && dir[n - 1] == '/'));
}

/*
 * The files a path names (a glob), each resolved and checked against the
 * allowed directories; copied into f->mem.
 */
static int resolve_files(sql_engine *eng, ftab *f, const char *fn, const char *path,
                         char ***out, int *n, sql_err *e)
{
    if (!eng->o.nfiles_dirs)
        return sql_err_set(e, "42501", -1, "%s: reading files is off; start the server with "
                                           "--files DIR to allow files under DIR",
                           fn);
    glob_t g;
    memset(&g, 0, sizeof g);
    int gr = glob(path, 0, NULL, &g);
    if (gr == GLOB_NOMATCH || (gr == 0 && g.gl_pathc == 0)) {
        globfree(&g);
        return sql_err_set(e, "58P01", -1, "%s: could not open file \"%s\": No such file or "
                                           "directory", fn, path);
    }
    if (gr) {
        globfree(&g);
        return oom(e);
    }
    if (g.gl_pathc > MAX_FILES) {
        globfree(&g);
        return sql_err_set(e, "54000", -1, "%s: \"%s\" matches more than %d files", fn, path,
                           MAX_FILES);
    }
    char **files = arena_zalloc(&f->mem, sizeof *files * g.gl_pathc);
    if (!files) {
        globfree(&g);
        return oom(e);
    }
    int rc = SL_OK;
    for (size_t i = 0; i < g.gl_pathc && !rc; i++) {
        char real[PATH_MAX];
        if (!realpath(g.gl_pathv[i], real)) {
            rc = sql_err_set(e, "58P01", -1, "%s: could not open file \"%s\": %s", fn,
                             g.gl_pathv[i], strerror(errno));
            break;
        }
        bool ok = false;
        for (int d = 0; d < eng->o.nfiles_dirs && !ok; d++)
            ok = under(real, eng->files_dirs[d]);
        if (!ok) {
            rc = sql_err_set(e, "42501", -1, "%s: \"%s\" is not under a directory the server "
                                             "allows (--files)", fn, g.gl_pathv[i]);
            break;
        }
        if (!(files[i] = arena_strndup(&f->mem, real, strlen(real))))
            rc = oom(e);
    }
    *n = (int)g.gl_pathc;
    globfree(&g);
    *out = files;
    return rc;
}

/* ---- read_parquet ---- */

typedef struct pq_impl {
    char **files;
    int nfiles;
    uint8_t conv[FTAB_MAXCOLS]; /* 1: uint32 -> int8 */
} pq_impl;

typedef struct pqt_scan {
    sql_scan base;
    pq_reader *r;
    pq_scan *s;
    const sql_scan_req *req;
    ftab *f;
    const char *file;
} pqt_scan;

static int pqt_next(sql_scan *s, sql_batch **out, sql_err *e)
{
    pqt_scan *p = (pqt_scan *)s;
    pq_impl *pi = p->f->impl;
    *out = NULL;
    for (;;) {
        if (p->req->cancel && *p->req->cancel)
            return sql_err_set(e, SQLSTATE_CANCELED, -1,
                               "canceling statement due to user request");
        col_batch *cb;
        errmsg em = {0};
        if (pq_scan_next(p->s, &cb, &em))
            return sql_err_set(e, "XX001", -1, "read_parquet: %s: %s", p->file, em.text);
        if (!cb)
            return SL_OK;
        if (!cb->nrows) {
            col_batch_release(cb);
            continue;
        }
        lakescan_col cols[FTAB_MAXCOLS];
        memset(cols, 0, sizeof cols[0] * (size_t)p->req->ncols);
        for (int i = 0; i < p->req->ncols; i++)
            cols[i].conv = pi->conv[p->req->cols[i]] ? LC_U32_I8 : LC_SHARE;
        int rc = lakescan_convert(cb, NULL, cols, p->req->ncols, NULL, out, e);
        col_batch_release(cb);
        return rc;
    }
}

static void pqt_close(sql_scan *s)
{
    pqt_scan *p = (pqt_scan *)s;
    if (p->s)
        pq_scan_close(p->s);
    if (p->r)
        pq_reader_close(p->r);
    sl_free(p);
}

static const sql_scan_ops g_pqt_scan = {pqt_next, pqt_close};

static int pq_units(sql_table *t, sql_scan_req *req, int64_t *n, sql_err *e)
{
    (void)req;
    (void)e;
    *n = ((pq_impl *)((ftab *)t)->impl)->nfiles;
    return SL_OK;
}

static int pq_open(sql_table *t, const sql_scan_req *req, int64_t unit, sql_scan **out,
                   sql_err *e)
{
    ftab *f = (ftab *)t;
    pq_impl *pi = f->impl;
    pqt_scan *p = sl_calloc(1, sizeof *p);
    if (!p)
        return oom(e);
    p->base.ops = &g_pqt_scan;
    p->req = req;
    p->f = f;
    p->file = pi->files[unit];
    errmsg em = {0};
    const char *names[FTAB_MAXCOLS];
    for (int i = 0; i < req->ncols; i++)
        names[i] = f->names[req->cols[i]];
    pq_scan_opts so = {.columns = names, .ncolumns = req->ncols,
                       .batch_rows = req->batch_rows > 0 ? req->batch_rows : 8192};
    if (pq_reader_open_file(p->file, &p->r, &em) || pq_scan_open(p->r, &so, &p->s, &em)) {
        pqt_close(&p->base);
        return sql_err_set(e, "XX001", -1, "read_parquet: %s: %s", pi->files[unit], em.text);
    }
    *out = &p->base;
    return SL_OK;
}

static double pq_estimate(sql_table *t, const sql_scan_req *req)
{
    (void)req;
    return 1e5 * ((pq_impl *)((ftab *)t)->impl)->nfiles;
}

static const sql_table_ops g_pq_ops;

static void files_free(ftab *f)
{
    (void)f;
}

int sql_read_parquet_bind(sql_engine *eng, const sql_datum *args, const sql_type *types,
                          int nargs, sql_table **out, sql_err *e)
{
    (void)types;
    (void)nargs;
    if (args[0].null)
        return sql_err_set(e, "22004", -1, "read_parquet: the path must not be null");
    ftab *f = ftab_new(eng, "read_parquet", 0, &g_pq_ops);
    pq_impl *pi = f ? arena_zalloc(&f->mem, sizeof *pi) : NULL;
    if (!pi) {
        if (f)
            f->t.ops->free(&f->t);
        return oom(e);
    }
    f->impl = pi;
    f->on_free = files_free;
    const char *path = ftab_text(f, &args[0]);
    int rc = path ? resolve_files(eng, f, "read_parquet", path, &pi->files, &pi->nfiles, e)
                  : oom(e);
    /* the schema of the first file is the table's */
    pq_reader *r = NULL;
    errmsg em = {0};
    if (!rc && pq_reader_open_file(pi->files[0], &r, &em))
        rc = sql_err_set(e, "XX001", -1, "read_parquet: %s: %s", pi->files[0], em.text);
    if (!rc) {
        const col_schema *s = pq_footer_schema(pq_reader_footer(r));
        if (s->ncols > FTAB_MAXCOLS)
            rc = sql_err_set(e, SQLSTATE_FEATURE, -1, "read_parquet: %s has %d columns (at most "
                                                      "%d)", pi->files[0], s->ncols, FTAB_MAXCOLS);
        for (int i = 0; !rc && i < s->ncols; i++) {
            sql_tid t;
            switch (s->fields[i].type) {
            case COL_BOOL: t = ST_BOOL; break;
            case COL_INT32: t = ST_INT4; break;
            case COL_INT64:
            case COL_UINT64: t = ST_INT8; break;
            case COL_UINT32: t = ST_INT8; pi->conv[i] = 1; break;
            case COL_DOUBLE: t = ST_FLOAT8; break;
            case COL_TS_NS: t = ST_TIMESTAMPTZ; break;
            case COL_BINARY: t = ST_BYTEA; break;
            default: t = ST_TEXT; break;
            }
            const char *nm = arena_strndup(&f->mem, s->fields[i].name, strlen(s->fields[i].name));
            if (!nm)
                rc = oom(e);
            ftab_col(f, i, nm, t);
        }
        f->t.ncols = rc ? 0 : s->ncols;
    }
    if (r)
        pq_reader_close(r);
    if (rc) {
        f->t.ops->free(&f->t);
        return rc;
    }
    *out = &f->t;
    return SL_OK;
}

/* ---- read_csv ---- */

#define CSV_UNIT_BYTES ((size_t)8 << 20)
#define CSV_SNIFF_BYTES 65536
#define CSV_INFER_LINES 1000

typedef struct csv_impl {
    char *file;
    const char *map;         /* the whole file, mapped */
    size_t size;
    size_t data_start;       /* after the header line */
    char delim;
    bool quoted;             /* a quote was seen: one unit, read in order */
    int64_t nunits;
} csv_impl;

typedef struct csv_scan {
    sql_scan base;
    ftab *f;
    const sql_scan_req *req;
    const char *p, *end;     /* the unit's lines */
    const char *released;    /* pages before this were given back to the kernel */
    int out_of[FTAB_MAXCOLS];/* table column -> output column, -1: skipped */
    dbuf field;              /* a quoted field, unescaped */
    arena scratch;
} csv_scan;

/* Finds the end of the field at p: the delimiter, '\n' or end; unquotes into buf. */
static const char *csv_field(const char *p, const char *end, char delim, dbuf *buf,
                             const char **fs, size_t *fn, bool *quoted, bool *bad)
{
    *quoted = false;
    if (p < end && *p == '"') {
        *quoted = true;
        dbuf_reset(buf);
        p++;
        for (;;) {
            const char *q = memchr(p, '"', (size_t)(end - p));
            if (!q) {
                *bad = true;
                return end;
            }
            if (dbuf_append(buf, p, (size_t)(q - p))) {
                *bad = true;
                return end;
            }
            p = q + 1;
            if (p < end && *p == '"') {
                dbuf_append_byte(buf, '"');
                p++;
                continue;
            }
            break;
        }
        *fs = (const char *)buf->p;
        *fn = buf->len;
        if (!*fs)
            *fs = "";
        while (p < end && *p != delim && *p != '\n')
            p++; /* junk after the closing quote is ignored, as DuckDB does */
        return p;
    }
    const char *s = p;
    while (p < end && *p != delim && *p != '\n')
        p++;
    *fs = s;
    *fn = (size_t)(p - s);
    if (*fn && s[*fn - 1] == '\r')
        (*fn)--;
    return p;
}

static const double g_pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21,
                                  1e22};

/* "-12.3" style numbers exactly (a mantissa below 2^53 over a power of ten up to 22 is
 * correctly rounded by one IEEE division); false to fall back to the full parser. */
static bool fast_double(const char *s, size_t n, double *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    uint64_t m = 0;
    int digits = 0, frac = -1;
    for (; i < n; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            if (++digits > 15)
                return false;
            m = m * 10 + (uint64_t)(c - '0');
            if (frac >= 0)
                frac++;
        } else if (c == '.' && frac < 0) {
            frac = 0;
        } else {
            return false;
        }
    }
    if (!digits)
        return false;
    double v = (double)m;
    if (frac > 0)
        v /= g_pow10[frac];
    *out = neg ? -v : v;
    return true;
}

static bool fast_int(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    if (i == n || n - i > 18)
        return false;
    int64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return true;
}

static int csv_put(csv_scan *c, col_vec *v, sql_type t, const char *s, size_t n, bool quoted)
{
    if (!n && !quoted)
        return col_vec_append_null(v);
    switch (t.id) {
    case ST_TEXT: return col_vec_append_str(v, s, n);
    case ST_INT8: {
        int64_t x;
        if (fast_int(s, n, &x))
            return col_vec_append_i64(v, x);
        break;
    }
    case ST_FLOAT8: {
        double x;
        if (fast_double(s, n, &x))
            return col_vec_append_f64(v, x);
        break;
    }
    default: break;
    }
    sql_datum d;
    const char *state = NULL;
    arena_reset(&c->scratch);
    if (sql_datum_parse(t, s, n, &c->scratch, &d, &state))
        return -1000 - (int)(state && !strcmp(state, "22003")); /* csv_fail says what */
    return sql_datum_append(t, &d, v);
}

static int csv_fail(csv_scan *c, int rc, int col, const char *s, size_t n, const char *at,
                    sql_err *e)
{
    csv_impl *ci = c->f->impl;
    if (rc > -1000)
        return oom(e);
    char tn[64];
    sql_type_name(c->f->types[col], tn, sizeof tn);
    return sql_err_set(e, rc == -1001 ? SQLSTATE_OUT_OF_RANGE : SQLSTATE_INVALID_TEXT, -1,
                       "read_csv: %s, byte %zu, column \"%s\": invalid input for type %s: "
                       "\"%.*s\"",
                       ci->file, (size_t)(at - ci->map), c->f->names[col], tn,
                       (int)(n > 64 ? 64 : n), s);
}

static int csv_next(sql_scan *s, sql_batch **out, sql_err *e)
{
    csv_scan *c = (csv_scan *)s;
    csv_impl *ci = c->f->impl;
    const sql_scan_req *req = c->req;
    *out = NULL;
    if (c->p >= c->end)
        return SL_OK;
    if (req->cancel && *req->cancel)
        return sql_err_set(e, SQLSTATE_CANCELED, -1, "canceling statement due to user request");
    sql_batch *b;
    if (sql_batch_new(req->ncols, NULL, &b))
        return oom(e);
    int64_t want = req->batch_rows > 0 ? req->batch_rows : 8192;
    for (int i = 0; i < req->ncols; i++) {
        col_vec_init(&b->cols[i], sql_type_phys(c->f->types[req->cols[i]]), 0);
        if (col_vec_reserve(&b->cols[i], want, 0)) {
            sql_batch_free(b);
            return oom(e);
        }
    }
    int ncols = c->f->t.ncols;
    int64_t rows = 0;
    const char *p = c->p, *end = c->end;
    int rc = SL_OK;
    while (p < end && rows < want && !rc) {
        const char *line = p;
        if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n')) {
            p += *p == '\n' ? 1 : 2; /* blank line */
            continue;
        }
        for (int col = 0; col < ncols; col++) {
            const char *fs;
            size_t fn;
            bool q, bad = false;
            const char *at = p;
            p = csv_field(p, end, ci->delim, &c->field, &fs, &fn, &q, &bad);
            if (bad) {
                rc = sql_err_set(e, SQLSTATE_INVALID_TEXT, -1, "read_csv: %s, byte %zu: "
                                 "unterminated quoted field", ci->file, (size_t)(at - ci->map));
                break;
            }
            bool last = col == ncols - 1;
            if (!last && (p >= end || *p == '\n')) {
                rc = sql_err_set(e, SQLSTATE_INVALID_TEXT, -1, "read_csv: %s, byte %zu: the "
                                 "line has %d fields, expected %d", ci->file,
                                 (size_t)(line - ci->map), col + 1, ncols);
                break;
            }
            if (last && p < end && *p != '\n') {
                rc = sql_err_set(e, SQLSTATE_INVALID_TEXT, -1, "read_csv: %s, byte %zu: the "
                                 "line has more than %d fields", ci->file,
                                 (size_t)(line - ci->map), ncols);
                break;
            }
            if (p < end)
                p++; /* the delimiter or the line break */
            int o = c->out_of[col];
            if (o < 0)
                continue;
            int r = csv_put(c, &b->cols[o], c->f->types[col], fs, fn, q);
            if (r) {
                rc = csv_fail(c, r, col, fs, fn, at, e);
                break;
            }
        }
        rows++;
    }
    c->p = p;
    /* the bytes parsed are copied into the batch: their pages leave the process's
     * memory (they stay in the page cache), so a file of any size keeps the resident
     * memory to the units being read */
    uintptr_t pg = 4096, from = ((uintptr_t)c->released + pg - 1) & ~(pg - 1),
              to = (uintptr_t)p & ~(pg - 1);
    if (to > from && (to - from >= ((uintptr_t)4 << 20) || p >= c->end)) {
        madvise((void *)from, to - from, MADV_DONTNEED);
        c->released = (const char *)to;
    }
    if (rc || !rows) {
        sql_batch_free(b);
        return rc;
    }
    b->n = rows;
    *out = b;
    return SL_OK;
}

static void csv_close(sql_scan *s)
{
    csv_scan *c = (csv_scan *)s;
    dbuf_free(&c->field);
    arena_destroy(&c->scratch);
    sl_free(c);
}

static const sql_scan_ops g_csv_scan = {csv_next, csv_close};

/* The first byte of the line containing or following offset off (after data_start). */
static size_t line_start(const csv_impl *ci, size_t off)
{
    if (off <= ci->data_start)
        return ci->data_start;
    if (off >= ci->size)
        return ci->size;
    if (ci->map[off - 1] == '\n')
        return off;
    const char *nl = memchr(ci->map + off, '\n', ci->size - off);
    return nl ? (size_t)(nl - ci->map) + 1 : ci->size;
}

static int csv_units(sql_table *t, sql_scan_req *req, int64_t *n, sql_err *e)
{
    (void)req;
    (void)e;
    *n = ((csv_impl *)((ftab *)t)->impl)->nunits;
    return SL_OK;
}

static int csv_open(sql_table *t, const sql_scan_req *req, int64_t unit, sql_scan **out,
                    sql_err *e)
{
    ftab *f = (ftab *)t;
    csv_impl *ci = f->impl;
    csv_scan *c = sl_calloc(1, sizeof *c);
    if (!c)
        return oom(e);
    c->base.ops = &g_csv_scan;
    c->f = f;
    c->req = req;
    dbuf_init(&c->field, 1u << 30);
    arena_init(&c->scratch, 1024, 1u << 20);
    for (int i = 0; i < FTAB_MAXCOLS; i++)
        c->out_of[i] = -1;
    for (int i = 0; i < req->ncols; i++)
        c->out_of[req->cols[i]] = i;
    size_t body = ci->size - ci->data_start;
    size_t a = ci->data_start + (size_t)unit * (body / (size_t)ci->nunits);
    size_t b = unit == ci->nunits - 1 ? ci->size
                                      : ci->data_start + (size_t)(unit + 1) * (body / (size_t)ci->nunits);
    c->p = ci->map + line_start(ci, a);
    c->end = ci->map + line_start(ci, b);
    c->released = c->p;
    *out = &c->base;
    return SL_OK;
}

static double csv_estimate(sql_table *t, const sql_scan_req *req)
{
    (void)req;
    csv_impl *ci = ((ftab *)t)->impl;
    return (double)ci->size / 32 + 1;
}

static void csv_free(ftab *f)
{
    csv_impl *ci = f->impl;
    if (ci && ci->map && ci->size)
        munmap((void *)ci->map, ci->size);
}

static const sql_table_ops g_csv_ops;

/* The narrowest of bigint, double precision, date, timestamp, boolean, text holding s. */
enum { INF_NONE, INF_INT, INF_FLOAT, INF_DATE, INF_TS, INF_BOOL, INF_TEXT };

static int infer_one(const char *s, size_t n)
{
    int64_t i;
    double d;
    if (fast_int(s, n, &i))
        return INF_INT;
    char *endp;
    char tmp[64];
    if (n < sizeof tmp) {
        memcpy(tmp, s, n);
        tmp[n] = 0;
        if (fast_double(s, n, &d) || (n && (strtod(tmp, &endp), *endp == 0)))
            return INF_FLOAT;
    }
    int32_t day;
    int64_t ts;
    if (n == 10 && !dt_parse_date(s, n, &day))
        return INF_DATE;
    if (n >= 10 && n < 40 && (s[4] == '-') && !dt_parse_timestamp(s, n, false, &ts))
        return INF_TS;
    if ((n == 4 && !strncasecmp(s, "true", 4)) || (n == 5 && !strncasecmp(s, "false", 5)))
        return INF_BOOL;
    return INF_TEXT;
}

static int merge_inf(int a, int b)
{
    if (a == INF_NONE)
        return b;
    if (b == INF_NONE || a == b)
        return a;
    if ((a == INF_INT && b == INF_FLOAT) || (a == INF_FLOAT && b == INF_INT))
        return INF_FLOAT;
    if ((a == INF_DATE && b == INF_TS) || (a == INF_TS && b == INF_DATE))
        return INF_TS;
    return INF_TEXT;
}

bool sql_read_csv_args(const sql_type *given, int nargs, sql_type *want)
{
    (void)given;
    static const sql_tid w[] = {ST_TEXT, ST_BOOL, ST_TEXT, ST_TEXT};
    for (int i = 0; i < nargs; i++)
        want[i] = sql_type_of(w[i]);
    return true;
}

/* 'name type, name type' (types as SQL spells them). */
static int parse_columns(ftab *f, const char *spec, sql_err *e)
{
    int n = 0;
    const char *p = spec;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n')
            p++;
        if (!*p)
            break;
        const char *ns = p;
        while (*p && *p != ' ' && *p != ',')
            p++;
        const char *ne = p;
        while (*p == ' ')
            p++;
        const char *ts = p;
        int depth = 0;
        while (*p && (depth || *p != ',')) {
            depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
            p++;
        }
        const char *te = p;
        while (te > ts && te[-1] == ' ')
            te--;
        if (n >= FTAB_MAXCOLS)
            return sql_err_set(e, SQLSTATE_FEATURE, -1, "read_csv: at most %d columns",
                               FTAB_MAXCOLS);
        char tname[64];
        if (ne == ns || te == ts || (size_t)(te - ts) >= sizeof tname)
            return sql_err_set(e, "22023", -1, "read_csv: columns must read 'name type, ...', "
                                               "not '%s'", spec);
        memcpy(tname, ts, (size_t)(te - ts));
        tname[te - ts] = 0;
        for (char *q = tname; *q; q++)
            if (*q >= 'A' && *q <= 'Z')
                *q = (char)(*q - 'A' + 'a');
        sql_type t;
        /* strip a modifier: numeric(10,2) keeps its mods */
        int32_t mods[2];
        int nmods = 0;
        char *paren = strchr(tname, '(');
        if (paren) {
            *paren = 0;
            char *q = paren + 1;
            while (*q && nmods < 2) {
                mods[nmods++] = (int32_t)strtol(q, &q, 10);
                while (*q == ',' || *q == ' ')
                    q++;
                if (*q == ')')
                    break;
            }
            for (char *z = paren - 1; z >= tname && *z == ' '; z--)
                *z = 0;
        }
        if (!sql_type_lookup(tname, mods, nmods, false, &t))
            return sql_err_set(e, "42704", -1, "read_csv: type \"%s\" does not exist", tname);
        const char *nm = arena_strndup(&f->mem, ns, (size_t)(ne - ns));
        if (!nm)
            return oom(e);
        f->names[n] = nm;
        f->types[n] = t;
        n++;
    }
    if (!n)
        return sql_err_set(e, "22023", -1, "read_csv: no columns in '%s'", spec);
    f->t.ncols = n;
    return SL_OK;
}

int sql_read_csv_bind(sql_engine *eng, const sql_datum *args, const sql_type *types, int nargs,
                      sql_table **out, sql_err *e)
{
    (void)types;
    if (args[0].null)
        return sql_err_set(e, "22004", -1, "read_csv: the path must not be null");
    ftab *f = ftab_new(eng, "read_csv", 0, &g_csv_ops);
    csv_impl *ci = f ? arena_zalloc(&f->mem, sizeof *ci) : NULL;
    if (!ci) {
        if (f)
            f->t.ops->free(&f->t);
        return oom(e);
    }
    f->impl = ci;
    f->on_free = csv_free;
    bool header = nargs > 1 && !args[1].null ? args[1].b : true;
    ci->delim = ',';
    if (nargs > 2 && !args[2].null) {
        if (args[2].s.n != 1) {
            f->t.ops->free(&f->t);
            return sql_err_set(e, "22023", -1, "read_csv: the delimiter must be one character");
        }
        ci->delim = (char)args[2].s.p[0];
    }
    const char *path = ftab_text(f, &args[0]);
    char **files;
    int nfiles = 0;
    int rc = path ? resolve_files(eng, f, "read_csv", path, &files, &nfiles, e) : oom(e);
    if (!rc && nfiles != 1)
        rc = sql_err_set(e, SQLSTATE_FEATURE, -1, "read_csv: \"%s\" matches %d files; read_csv "
                                                  "reads one", path, nfiles);
    int fd = -1;
    struct stat st;
    if (!rc) {
        ci->file = files[0];
        if ((fd = open(ci->file, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st))
            rc = sql_err_set(e, "58P01", -1, "read_csv: could not open file \"%s\": %s",
                             ci->file, strerror(errno));
    }
    if (!rc && !S_ISREG(st.st_mode))
        rc = sql_err_set(e, "58P01", -1, "read_csv: \"%s\" is not a regular file", ci->file);
    if (!rc && st.st_size > 0) {
        ci->size = (size_t)st.st_size;
        void *m = mmap(NULL, ci->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            ci->size = 0;
            rc = sql_err_set(e, "58030", -1, "read_csv: could not map \"%s\": %s", ci->file,
                             strerror(errno));
        } else {
            ci->map = m;
            madvise(m, ci->size, MADV_SEQUENTIAL);
        }
    }
    if (fd >= 0)
        close(fd);
    if (rc) {
        f->t.ops->free(&f->t);
        return rc;
    }
    /* the header line: names (or skipped when columns are given) */
    const char *p = ci->map ? ci->map : "", *end = p + ci->size;
    const char *nl = ci->size ? memchr(p, '\n', ci->size) : NULL;
    const char *hend = nl ? nl : end;
    ci->data_start = header ? (size_t)(hend - p) + (nl ? 1 : 0) : 0;
    size_t sniff = ci->size < CSV_SNIFF_BYTES ? ci->size : CSV_SNIFF_BYTES;
    ci->quoted = sniff && memchr(p, '"', sniff) != NULL;
    if (nargs > 3 && !args[3].null) {
        const char *spec = ftab_text(f, &args[3]);
        rc = spec ? parse_columns(f, spec, e) : oom(e);
    } else {
        /* names from the header (or column0..), types from the first lines */
        dbuf fb;
        dbuf_init(&fb, 1u << 20);
        int n = 0;
        const char *q = p;
        while (!rc && q < hend + (hend < end) && q <= hend) {
            const char *fs;
            size_t fn;
            bool qu, bad = false;
            q = csv_field(q, hend, ci->delim, &fb, &fs, &fn, &qu, &bad);
            if (n >= FTAB_MAXCOLS) {
                rc = sql_err_set(e, SQLSTATE_FEATURE, -1, "read_csv: at most %d columns",
                                 FTAB_MAXCOLS);
                break;
            }
            char gen[32];
            snprintf(gen, sizeof gen, "column%d", n);
            const char *nm = header ? arena_strndup(&f->mem, fs, fn)
                                    : arena_strndup(&f->mem, gen, strlen(gen));
            if (!nm)
                rc = oom(e);
            f->names[n++] = nm;
            if (q >= hend)
                break;
            q++;
        }
        dbuf_free(&fb);
        f->t.ncols = n;
        int inf[FTAB_MAXCOLS] = {0};
        const char *r = p + ci->data_start;
        dbuf qb;
        dbuf_init(&qb, 1u << 20);
        for (int line = 0; !rc && line < CSV_INFER_LINES && r < end; line++) {
            for (int col = 0; col < n && r < end; col++) {
                const char *fs;
                size_t fn;
                bool qu, bad = false;
                r = csv_field(r, end, ci->delim, &qb, &fs, &fn, &qu, &bad);
                if (fn)
                    inf[col] = merge_inf(inf[col], qu ? INF_TEXT : infer_one(fs, fn));
                if (r < end && *r == '\n') {
                    break;
                }
                if (r < end)
                    r++;
            }
            const char *nl2 = r < end ? memchr(r, '\n', (size_t)(end - r)) : NULL;
            r = nl2 ? nl2 + 1 : end;
        }
        dbuf_free(&qb);
        static const sql_tid map[] = {ST_TEXT, ST_INT8, ST_FLOAT8, ST_DATE, ST_TIMESTAMP,
                                      ST_BOOL, ST_TEXT};
        for (int i = 0; i < n; i++)
            f->types[i] = sql_type_of(map[inf[i]]);
    }
    if (rc) {
        f->t.ops->free(&f->t);
        return rc;
    }
    size_t body = ci->size - ci->data_start;
    ci->nunits = ci->quoted || body < CSV_UNIT_BYTES ? 1 : (int64_t)(body / CSV_UNIT_BYTES);
    if (ci->nunits > 100000)
        ci->nunits = 100000;
    *out = &f->t;
    return SL_OK;
}

static void ft_free_files(sql_table *t)
{
    ftab *f = (ftab *)t;
    if (f->on_free)
        f->on_free(f);
    arena_destroy(&f->mem);
    sl_free(f);
}

static const sql_table_ops g_pq_ops = {pq_units, NULL, pq_open, pq_estimate, ft_free_files};
static const sql_table_ops g_csv_ops = {csv_units, NULL, csv_open, csv_estimate, ft_free_files};
