/*
 * source_csv.c - the file connector's reader (csv, and jsonl: one JSON
 * object per line, its keys the column names): a bounded file read in line
 * order, a batch at a time, with the watermark and lateness applied at the
 * source (window.h has the rules).
 *
 * A record is one line, or more when a quoted field holds a line break
 * (RFC 4180: fields in double quotes, a doubled quote inside is a quote).
 * An empty unquoted field is NULL, a quoted one the empty string, and values
 * are read by the SQL engine's own text input functions (sql_datum_parse), so
 * a row means here exactly what read_csv makes of it.  Blank lines are
 * skipped.  A record is checked whole before any of it is kept: a wrong field
 * count or a value its column's type refuses fails the job with the source,
 * the line and the column, or with on_error = 'skip' is counted as bad and
 * left out.  Then, if the table has an event time: a row that is late under
 * the watermark in force is dropped and counted (late = 'error': fails),
 * else it moves the watermark.  Every record costs no allocation beyond its
 * values (a scratch arena reset per record, one buffer for quoted fields).
 *
 * The file is mapped once (stream_file) and read by one reader per split:
 * byte ranges that start after a line break, so that partitioned workers
 * each read their own (docs/internals/stream.md).  A reader of a split that
 * is not the first starts with the largest event time of the splits before
 * it (found by a first pass, stream_reader_scan_max, and a prefix maximum),
 * so its watermark and its lateness decisions are exactly those of one
 * reader going through the file in line order; or it keeps late rows
 * (stream_reader_defer_late) for the worker to decide once that maximum is
 * known, and counts lines from the split's start (split.line 0: the lines
 * before it are counted for an error's message only).  A quoted field may hold a
 * line break, so a byte offset alone cannot tell whether it starts a record: a
 * CSV file with a double quote in it is cut where records end, found by
 * walking the records around each quote (quoted_split_end), unless each split
 * checks its own start as it is read (stream_file_split's STREAM_CUT_CHECKED).
 *
 * Pages already parsed are given back as in read_csv.
 */
#include "stream/stream_int.h"

#include "base/alloc.h"
#include "base/json.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH_ROWS 8192
#define MAX_FIELDS 1024
#define SPLIT_MIN ((size_t)16 << 10) /* bytes of a chunk, at least / at most */
#define SPLIT_MAX ((size_t)8 << 20)
#define SPLIT_MAX_N 4096

typedef struct field {
    size_t off, len;         /* in the map, or in `quoted` when q */
    bool q;
} field;

struct stream_file {
    stream_table *t;
    const char *map;
    size_t size;
    size_t cut;              /* follow = true: the bytes its splits are cut from (the
                                size a checkpoint's run found; the file grows on) */
};

struct stream_reader {
    stream_table *t;
    const char *map;         /* the whole file's */
    size_t size;             /* the end of this reader's range (where records start) */
    size_t fsize;            /* the file's (where a record that starts in range may end) */
    const char *p, *released;
    int64_t line;            /* the line p is on (1-based; from the split's start when
                                line_rel: the lines before it counted on an error) */
    bool line_rel;
    size_t begin;            /* the start of this reader's range */
    bool defer_late;         /* every good row kept: the caller decides lateness */
    bool header_done;        /* (or: the range does not start the file) */
    stream_wm wm;
    dbuf quoted;             /* unescaped quoted fields of the current record */
    field f[MAX_FIELDS];
    sql_datum *vals;         /* the current record's values */
    arena scratch;
    uint64_t rows_read, late, bad;
    stream_nexmark_reader *nx; /* a nexmark table's: everything goes to it */
    stream_kafka_reader *kf; /* a kafka table's: it reads, this parses (parse_msg) */
    stream_view_reader *vw;  /* a materialized view's (source_view.c) */
    const char *where;       /* a message's place, named in errors instead of a line */
    /* follow = true, the last split: the reader maps the grown file itself */
    bool grows;
    bool own_map;
    size_t mapped;
    size_t shared;           /* the file's map (its bytes when the job started) */
    int notify;              /* inotify descriptor (-1: none, wait by timeout) */
    _Atomic int *stop;       /* its job's stop flag (a server's job), or NULL */
};

static _Atomic int g_stop;

void stream_request_stop(void)
{
    atomic_store(&g_stop, 1);
}

bool stream_stop_requested(void)
{
    return atomic_load(&g_stop) != 0;
}

void stream_reader_set_stop(stream_reader *r, _Atomic int *stop)
{
    r->stop = stop;
}

int stream_path_resolve(char *out, size_t n, const char *dir, const char *path)
{
    int k = path[0] == '/' || !dir ? snprintf(out, n, "%s", path)
                                   : snprintf(out, n, "%s/%s", dir, path);
    return k < 0 || (size_t)k >= n ? SL_EINVAL : SL_OK;
}

int stream_file_open(stream_table *t, stream_file **out, sql_err *e)
{
    *out = NULL;
    if (t->nx || t->kf || t->vw) { /* a generator, a topic, a view: no file
                                      (source_nexmark.c, _kafka.c, _view.c) */
        int rc = t->kf ? stream_kafka_start(t, e) : SL_OK;
        if (!rc && !(*out = sl_calloc(1, sizeof **out)))
            rc = sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
        if (!rc)
            (*out)->t = t;
        return rc;
    }
    if (t->ncols > MAX_FIELDS)
        return sql_err_set(e, "54011", -1, "source \"%s\": at most %d columns", t->name,
                           MAX_FIELDS);
    int fd = open(t->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st)) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        return sql_err_set(e, "58P01", -1, "source \"%s\": could not open file \"%s\": %s",
                           t->name, t->path, strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return sql_err_set(e, "58P01", -1, "source \"%s\": \"%s\" is not a file", t->name,
                           t->path);
    }
    stream_file *f = sl_calloc(1, sizeof *f);
    if (!f) {
        close(fd);
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    }
    f->t = t;
    f->size = f->cut = (size_t)st.st_size;
    if (f->size) {
        void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int err = errno;
            close(fd);
            sl_free(f);
            return sql_err_set(e, "58030", -1, "source \"%s\": could not map \"%s\": %s",
                               t->name, t->path, strerror(err));
        }
        f->map = m;
    }
    close(fd);
    *out = f;
    return SL_OK;
}

void stream_file_close(stream_file *f)
{
    if (!f)
        return;
    if (f->t->kf)
        stream_kafka_stop(f->t);
    if (f->map)
        munmap((void *)f->map, f->size);
    sl_free(f);
}

/* A share of work run by spread: its thread first in each share's struct. */
typedef struct spread_share {
    pthread_t th;
    bool started;
} spread_share;

/* Runs fn on each of n shares (structs of sz bytes, each starting with a
 * spread_share), on threads of their own but the first, which is the calling
 * thread's (as is a share whose thread could not start); returns once all ran. */
static void spread(void *shares, size_t sz, int n, void *(*fn)(void *))
{
    for (int i = 1; i < n; i++) {
        spread_share *s = (spread_share *)((char *)shares + sz * (size_t)i);
        s->started = !pthread_create(&s->th, NULL, fn, s);
    }
    for (int i = 0; i < n; i++) {
        spread_share *s = (spread_share *)((char *)shares + sz * (size_t)i);
        if (i > 0 && s->started)
            pthread_join(s->th, NULL);
        else
            fn(s);
    }
}

/* How many threads share a pass over the file (64 at most). */
static int spread_n(int nthreads)
{
    return nthreads < 1 ? 1 : nthreads > 64 ? 64 : nthreads;
}

typedef struct quote_scan {
    spread_share sh;
    const char *p;
    size_t n;
    bool found;
} quote_scan;

static void *quote_main(void *arg)
{
    quote_scan *q = arg;
    q->found = memchr(q->p, '"', q->n) != NULL;
    return NULL;
}

/* Whether the file holds a double quote: one byte range per worker looked at in
 * parallel (the first touch of every page of the map, before the workers start,
 * costs as much as the search). */
static bool has_quote(const stream_file *f, int nthreads)
{
    quote_scan q[64];
    int n = spread_n(nthreads);
    for (int i = 0; i < n; i++) {
        size_t a = (size_t)((unsigned __int128)f->size * i / n),
               b = (size_t)((unsigned __int128)f->size * (i + 1) / n);
        q[i] = (quote_scan){.p = f->map + a, .n = b - a};
    }
    spread(q, sizeof *q, n, quote_main);
    bool found = false;
    for (int i = 0; i < n; i++)
        found |= q[i].found;
    return found;
}

static const char *field_end(const char *p, const char *end, char delim);

/* The end of the CSV record starting at p (after its line break; end if none), as
 * split_record reads it: a double quote opens a quoted field only at a field's
 * start, a doubled one inside is a quote, and after the closing one the bytes up
 * to the delimiter are skipped. */
static const char *record_end(const char *p, const char *end, char delim)
{
    for (;;) {
        if (p < end && *p == '"') {
            for (p++;;) {
                const char *q = memchr(p, '"', (size_t)(end - p));
                if (!q)
                    return end; /* unterminated: the reader reports it */
                p = q + 1;
                if (p < end && *p == '"')
                    p++;
                else
                    break;
            }
            while (p < end && *p != delim && *p != '\n')
                p++;
        } else {
            p = field_end(p, end, delim);
        }
        if (p >= end)
            return end;
        if (*p == '\n')
            return p + 1;
        p++; /* the delimiter */
    }
}

/*
 * A CSV file holding double quotes: the end of the first record that ends at or
 * after target, from pos, a record's start.  Between pos and the next double
 * quote every line break ends a record (a quote opens a field only at a field's
 * start), so those are found with memchr; the records around a quote are walked
 * from the line break before it (record_end) until one ends past it.
 */
static size_t quoted_split_end(const char *map, size_t size, size_t pos, size_t target,
                               char delim)
{
    while (pos < size) {
        const char *q = memchr(map + pos, '"', size - pos);
        size_t qo = q ? (size_t)(q - map) : size;
        size_t from = target > pos + 1 ? target - 1 : pos;
        const char *nl = from < qo ? memchr(map + from, '\n', qo - from) : NULL;
        if (nl)
            return (size_t)(nl - map) + 1;
        if (qo == size)
            return size;
        const char *lb = qo > pos ? memrchr(map + pos, '\n', qo - pos) : NULL;
        size_t r = lb ? (size_t)(lb - map) + 1 : pos;
        do {
            r = (size_t)(record_end(map + r, map + size, delim) - map);
            if (r >= target)
                return r;
        } while (r <= qo);
        pos = r;
    }
    return size;
}

/* The nominal end of split i of want (the file cut into equal byte ranges). */
static size_t nominal_end(size_t size, int i, int want)
{
    return i == want - 1 ? size : (size_t)((unsigned __int128)size * (size_t)(i + 1) / (size_t)want);
}

/* After the first line break at or after b - 1 (b >= 1), or the file's end: where a
 * split cut at b ends in a file without quotes. */
static size_t line_end_after(const char *map, size_t size, size_t b)
{
    const char *nl = b < size ? memchr(map + b - 1, '\n', size - b + 1) : NULL;
    return nl ? (size_t)(nl - map) + 1 : size;
}

/*
 * Cutting a quoted file in parallel: each thread takes a run of the splits and,
 * for each, guesses its start (after the first line break at its nominal start,
 * as for a file without quotes) and walks from there to its end
 * (quoted_split_end).  A guess is right when the splits before it end exactly
 * there (the first record end at or after the nominal start is that line
 * break), which stream_file_split checks in order, walking again from the true
 * start only for a split whose guess was wrong (its nominal start inside a
 * quoted field holding a line break).
 */
typedef struct cut_scan {
    spread_share sh;
    const stream_file *f;
    int want, from, to;      /* splits [from, to) */
    size_t *guess, *end;     /* per split: its guessed start, its end from there */
} cut_scan;

static void *cut_main(void *arg)
{
    cut_scan *c = arg;
    const char *map = c->f->map;
    size_t size = c->f->size;
    for (int i = c->from; i < c->to; i++) {
        size_t g = i > 0 ? line_end_after(map, size, nominal_end(size, i - 1, c->want)) : 0;
        size_t e = nominal_end(size, i, c->want);
        c->guess[i] = g;
        c->end[i] = e >= size ? size : e <= g ? g : quoted_split_end(map, size, g, e,
                                                                       c->f->t->delim);
    }
    return NULL;
}

/* Every split's guessed start and end (see cut_scan), on nthreads threads. */
static void quoted_cuts(const stream_file *f, int want, int nthreads, size_t *guess,
                        size_t *end)
{
    cut_scan c[64];
    int n = spread_n(nthreads);
    if (n > want)
        n = want;
    for (int t = 0; t < n; t++)
        c[t] = (cut_scan){.f = f, .want = want, .from = want * t / n,
                          .to = want * (t + 1) / n, .guess = guess, .end = end};
    spread(c, sizeof *c, n, cut_main);
}

int stream_file_split(stream_file *f, int nworkers, int how, bool follow_cut,
                      stream_split **out, int *n)
{
    *out = NULL;
    *n = 0;
    if (f->t->nx)
        return stream_nexmark_split(f->t, nworkers, out, n);
    if (f->t->vw)
        return stream_view_split(out, n);
    if (f->t->kf)
        return stream_kafka_split(f->t, nworkers, out, n);
    stream_file cut = *f; /* a followed file: what it held when the job first started */
    if (f->t->follow) {
        cut.size = f->cut;
        f = &cut;
    }
    int want = 1;
    bool quoted = false;
    if (nworkers > 1 && f->size && (!f->t->follow || follow_cut)) {
        /* a few chunks per worker, so that a pass-through job's output (kept in
         * line order) lets workers run ahead of each other */
        size_t chunk = f->size / ((size_t)nworkers * 8);
        chunk = chunk < SPLIT_MIN ? SPLIT_MIN : chunk > SPLIT_MAX ? SPLIT_MAX : chunk;
        want = (int)((f->size + chunk - 1) / chunk);
        if (want > SPLIT_MAX_N)
            want = SPLIT_MAX_N;
        /* a quoted field may hold a line break: then each split ends where a record
         * does, found by walking the records around each quote (see above) */
        quoted = want > 1 && how != STREAM_CUT_CHECKED && f->t->format == STREAM_FMT_CSV &&
                 has_quote(f, nworkers);
    }
    stream_split *s = sl_calloc((size_t)want, sizeof *s);
    size_t *guess = quoted ? sl_malloc(sizeof *guess * 2 * (size_t)want) : NULL;
    if (!s || (quoted && !guess)) {
        sl_free(s);
        return SL_ENOMEM;
    }
    if (quoted)
        quoted_cuts(f, want, nworkers, guess, guess + want);
    /* as checked: the splits are the line cuts' (line_at: where the line cut
     * stands), each starting where the one before it stopped (at), empty when a
     * quoted field ran over it */
    bool as_checked = how == STREAM_CUT_AS_CHECKED;
    size_t at = 0, line_at = 0;
    int k = 0;
    for (int i = 0; i < want && (as_checked ? line_at : at) < f->size; i++) {
        size_t end = nominal_end(f->size, i, want);
        if (end <= (as_checked ? line_at : at))
            continue;
        line_at = line_end_after(f->map, f->size, end);
        if (!quoted)
            end = line_at;
        else if (at >= line_at)
            end = at;
        else if (end < f->size) /* the walk from the guessed start, if it starts there */
            end = at == guess[i] ? guess[want + i]
                                 : quoted_split_end(f->map, f->size, at, end, f->t->delim);
        s[k].begin = at;
        s[k].end = end;
        s[k].line = 1;
        k++;
        at = end;
    }
    sl_free(guess);
    if (!k) { /* an empty file: one empty split */
        s[0].begin = s[0].end = 0;
        s[0].line = 1;
        k = 1;
    }
    if (f->t->follow) { /* a growing file: complete lines only, the rest later */
        const char *nl = f->size ? memrchr(f->map, '\n', f->size) : NULL;
        size_t end = nl ? (size_t)(nl - f->map) + 1 : 0;
        s[k - 1].end = end > s[k - 1].begin ? end : s[k - 1].begin;
        s[k - 1].tail = true;
    }
    *out = s;
    *n = k;
    return SL_OK;
}

int stream_reader_open(stream_file *f, const stream_split *sp, stream_reader **out,
                       sql_err *e)
{
    *out = NULL;
    stream_table *t = f->t;
    stream_reader *r = sl_calloc(1, sizeof *r);
    if (!r || !(r->vals = sl_calloc((size_t)t->ncols, sizeof *r->vals))) {
        sl_free(r);
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    }
    r->t = t;
    r->notify = -2;
    if (t->nx && stream_nexmark_reader_open(t, sp, &r->nx)) {
        sl_free(r->vals);
        sl_free(r);
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    }
    int rc = t->kf ? stream_kafka_reader_open(t, sp, &r->kf, e) : SL_OK;
    if (!rc && t->vw && stream_view_reader_open(t, sp->keyed, &r->vw))
        rc = sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    if (rc) {
        sl_free(r->vals);
        sl_free(r);
        return rc;
    }
    r->map = f->map;
    r->size = sp->end;
    r->grows = t->follow && sp->tail;
    r->fsize = r->grows ? 0 : f->size; /* a followed file's tail may be half written */
    r->shared = f->size;
    r->p = r->released = f->map + sp->begin;
    r->line = sp->line ? sp->line : 1;
    r->line_rel = !sp->line;
    r->begin = sp->begin;
    r->header_done = sp->begin > 0;
    stream_wm_init(&r->wm, t->delay_ns);
    if (sp->start_seen)
        stream_wm_observe(&r->wm, sp->start_max_ns);
    dbuf_init(&r->quoted, 256u << 20);
    arena_init(&r->scratch, 4096, 256u << 20);
    *out = r;
    return SL_OK;
}

size_t stream_reader_stop(const stream_reader *r)
{
    return (size_t)(r->p - r->map);
}

void stream_reader_defer_late(stream_reader *r)
{
    r->defer_late = true;
}

bool stream_reader_grows(const stream_reader *r)
{
    return r->grows;
}

void stream_reader_late_from(stream_reader *r, const stream_wm *wm)
{
    r->defer_late = false;
    r->wm = *wm;
}

void stream_reader_save(const stream_reader *r, stream_reader_pos *p)
{
    memset(p, 0, offsetof(stream_reader_pos, parts));
    if (r->kf) {
        stream_kafka_save(r->kf, p);
        return;
    }
    if (r->nx) {
        stream_nexmark_save(r->nx, p);
        return;
    }
    p->offset = (uint64_t)(r->p - r->map);
    p->line = r->line;
    p->header_done = r->header_done;
    p->seen = r->wm.seen;
    p->max_ns = r->wm.max_ns;
    p->rows_read = r->rows_read;
    p->late = r->late;
    p->bad = r->bad;
}

int stream_reader_restore(stream_reader *r, const stream_split *sp, const stream_reader_pos *p)
{
    if (r->kf)
        return stream_kafka_restore(r->kf, p);
    if (r->nx)
        return stream_nexmark_restore(r->nx, sp, p);
    /* a followed file's last split: the place may be past where the split was cut
     * (lines read after), within what the file holds now */
    size_t end = r->grows && !r->own_map ? r->shared : sp->end;
    if (p->offset < sp->begin || p->offset > end || p->line < sp->line)
        return SL_EINVAL;
    if (r->grows && p->offset > r->size)
        r->size = (size_t)p->offset; /* (its first wait maps the file again) */
    r->p = r->released = r->map + p->offset;
    r->line = p->line;
    r->header_done = p->header_done || sp->begin > 0;
    r->wm.seen = p->seen;
    r->wm.max_ns = p->max_ns;
    r->rows_read = p->rows_read;
    r->late = p->late;
    r->bad = p->bad;
    return SL_OK;
}

uint64_t stream_file_size(const stream_file *f)
{
    if (f->t->kf) /* a topic: its partition count stands for the shape */
        return (uint64_t)stream_kafka_nparts(f->t);
    return f->t->follow ? f->cut : f->size;
}

int stream_file_cut_at(stream_file *f, uint64_t cut)
{
    if (!f->t->follow || cut > f->size)
        return SL_EINVAL;
    f->cut = (size_t)cut;
    return SL_OK;
}

void stream_reader_close(stream_reader *r)
{
    if (!r)
        return;
    if (r->own_map && r->map)
        munmap((void *)r->map, r->mapped);
    if (r->notify >= 0)
        close(r->notify);
    stream_nexmark_reader_close(r->nx);
    stream_kafka_reader_close(r->kf);
    stream_view_reader_close(r->vw);
    dbuf_free(&r->quoted);
    arena_destroy(&r->scratch);
    sl_free(r->vals);
    sl_free(r);
}

void stream_reader_counts(const stream_reader *r, uint64_t *read, uint64_t *late, uint64_t *bad)
{
    if (r->nx || r->vw) {
        bool seen;
        int64_t mx;
        if (r->nx)
            stream_nexmark_counts(r->nx, read, &seen, &mx);
        else
            stream_view_counts(r->vw, read, &seen, &mx);
        *late = *bad = 0;
        return;
    }
    if (r->kf) {
        stream_kafka_counts(r->kf, read, late);
        *bad = r->bad;
        return;
    }
    *read = r->rows_read;
    *late = r->late;
    *bad = r->bad;
}

/* A quoted field at p (after its opening quote): unescaped into r->quoted; the
 * position after the closing quote, NULL if the file ends first. */
static const char *quoted_field(stream_reader *r, const char *p, const char *end, field *f)
{
    f->q = true;
    f->off = r->quoted.len;
    for (;;) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q)
            return NULL;
        for (const char *c = p; c < q; c++)
            r->line += *c == '\n';
        if (dbuf_append(&r->quoted, p, (size_t)(q - p)))
            return NULL;
        p = q + 1;
        if (p < end && *p == '"') {
            if (dbuf_append_byte(&r->quoted, '"'))
                return NULL;
            p++;
            continue;
        }
        f->len = r->quoted.len - f->off;
        return p;
    }
}

/* The first delimiter or line break at or after p (end if none): eight bytes a
 * step (a byte equal to either leaves a zero byte in one of the words below; the
 * lowest flagged byte is the first such, the ones above it may be false). */
static const char *field_end(const char *p, const char *end, char delim)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    const uint64_t dl = ones * (uint8_t)delim, nl = ones * (uint8_t)'\n';
    for (; end - p >= 8; p += 8) {
        uint64_t w, a, b;
        memcpy(&w, p, 8);
        a = w ^ dl;
        b = w ^ nl;
        uint64_t z = ((a - ones) & ~a & highs) | ((b - ones) & ~b & highs);
        if (z)
            return p + (__builtin_ctzll(z) >> 3);
    }
    while (p < end && *p != delim && *p != '\n')
        p++;
    return p;
}

/*
 * Splits the record at r->p into fields: how many (more than MAX_FIELDS counts as
 * MAX_FIELDS + 1), or -1 for an unterminated quote.  r->p moves past the record.
 */
static int split_record(stream_reader *r)
{
    const char *p = r->p, *end = r->map + (r->fsize > r->size ? r->fsize : r->size);
    char delim = r->t->delim;
    int n = 0;
    dbuf_reset(&r->quoted);
    for (;;) {
        field tmp, *f = n < MAX_FIELDS ? &r->f[n] : &tmp;
        n += n <= MAX_FIELDS;
        if (p < end && *p == '"') {
            if (!(p = quoted_field(r, p + 1, end, f)))
                return -1;
            while (p < end && *p != delim && *p != '\n')
                p++; /* after the closing quote, up to the delimiter: ignored */
        } else {
            const char *s = p;
            p = field_end(p, end, delim);
            f->q = false;
            f->off = (size_t)(s - r->map);
            f->len = (size_t)(p - s);
        }
        if (p >= end || *p == '\n') {
            if (!f->q && f->len && r->map[f->off + f->len - 1] == '\r')
                f->len--;
            if (p < end)
                p++;
            r->line++;
            break;
        }
        p++; /* the delimiter */
    }
    r->p = p;
    return n;
}

static const char *field_ptr(const stream_reader *r, const field *f)
{
    return f->q ? (const char *)r->quoted.p + f->off : r->map + f->off;
}

/* The file's line a line of this reader is on: with lines counted from the split's
 * start (no first pass), the line breaks before the split are counted now (an
 * error's message only). */
static int64_t file_line(const stream_reader *r, int64_t line)
{
    if (!r->line_rel)
        return line;
    for (const char *p = r->map, *end = r->map + r->begin;
         p < end && (p = memchr(p, '\n', (size_t)(end - p))); p++)
        line++;
    return line;
}

/* A bad record: fails the job, or counts it (on_error = 'skip'). */
static int bad_record(stream_reader *r, sql_err *e, const char *state, int64_t line,
                      const char *fmt, const char *detail)
{
    if (r->t->skip_bad) {
        r->bad++;
        return SL_OK;
    }
    line = file_line(r, line);
    if (r->where) { /* "... line %lld: ..." or "... line %lld, column ...": the same mark */
        const char *l = strstr(fmt, "%lld");
        return sql_err_set(e, state, -1, "source \"%s\": %s%c %s", r->t->name, r->where,
                           l && l[4] == ',' ? ',' : ':', detail);
    }
    return sql_err_set(e, state, -1, fmt, r->t->name, r->t->path_opt, (long long)line, detail);
}

/* The record's values into r->vals: 1 when it is good, 0 when it was skipped. */
static int parse_record(stream_reader *r, int nf, int64_t line, sql_err *e)
{
    stream_table *t = r->t;
    char msg[512];
    if (nf != t->ncols) {
        snprintf(msg, sizeof msg, "%d field%s, expected %d", nf > MAX_FIELDS ? MAX_FIELDS : nf,
                 nf == 1 ? "" : "s", t->ncols);
        int rc = bad_record(r, e, SQLSTATE_INVALID_TEXT, line,
                            "source \"%s\": %s line %lld: %s", msg);
        return rc ? rc : 0;
    }
    arena_reset(&r->scratch);
    for (int c = 0; c < t->ncols; c++) {
        const field *f = &r->f[c];
        const char *s = field_ptr(r, f);
        if (!f->len && !f->q) {
            r->vals[c] = sql_datum_null();
            continue;
        }
        const char *state = NULL;
        if (!sql_datum_parse(t->types[c], s, f->len, &r->scratch, &r->vals[c], &state))
            continue;
        char tn[64];
        sql_type_name(t->types[c], tn, sizeof tn);
        snprintf(msg, sizeof msg, "column \"%s\": invalid input for type %s: \"%.*s\"",
                 t->names[c], tn, (int)(f->len > 64 ? 64 : f->len), s);
        int rc = bad_record(r, e, state && !strcmp(state, "22003") ? SQLSTATE_OUT_OF_RANGE
                                                                   : SQLSTATE_INVALID_TEXT,
                            line, "source \"%s\": %s line %lld, %s", msg);
        return rc ? rc : 0;
    }
    return 1;
}

/* A JSON value's text for its column's input function (in r->scratch), NULL for a
 * JSON null; *bad: an array or object, which no column type reads. */
static const char *json_text(stream_reader *r, const json_val *v, size_t *len, bool *bad)
{
    *bad = false;
    switch (v->type) {
    case JSON_NULL: return NULL;
    case JSON_STR: *len = v->len; return v->str;
    case JSON_BOOL: *len = v->b ? 4 : 5; return v->b ? "true" : "false";
    case JSON_NUM: {
        char *buf = arena_alloc(&r->scratch, 40);
        if (!buf)
            return NULL;
        int n = v->is_int ? snprintf(buf, 40, "%lld", (long long)v->i)
                          : snprintf(buf, 40, "%.17g", v->num);
        *len = (size_t)n;
        return buf;
    }
    default: *bad = true; return NULL;
    }
}

/*
 * The JSON line at r->p (one object; keys are column names, a missing key or null
 * is NULL, other keys are ignored) into r->vals: 1 good, 0 skipped as bad.
 */
static int json_record(stream_reader *r, int64_t line, sql_err *e)
{
    stream_table *t = r->t;
    const char *end = r->map + r->size, *p = r->p;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = (size_t)((nl ? nl : end) - p);
    r->p = nl ? nl + 1 : end;
    r->line++;
    if (n && p[n - 1] == '\r')
        n--;
    arena_reset(&r->scratch);
    json_val *v = NULL;
    errmsg em;
    errmsg_clear(&em);
    char msg[512];
    if (json_parse(&r->scratch, p, n, &v, &em) || v->type != JSON_OBJ) {
        snprintf(msg, sizeof msg, "not a JSON object: %s", v ? "another JSON value"
                                                             : errmsg_str(&em));
        int rc = bad_record(r, e, SQLSTATE_INVALID_TEXT, line,
                            "source \"%s\": %s line %lld: %s", msg);
        return rc ? rc : 0;
    }
    for (int c = 0; c < t->ncols; c++) {
        const json_val *jv = json_get(v, t->names[c]);
        size_t len = 0;
        bool bad = false;
        const char *txt = jv ? json_text(r, jv, &len, &bad) : NULL;
        const char *state = NULL;
        char tn[64];
        sql_type_name(t->types[c], tn, sizeof tn);
        if (!txt && !bad) {
            r->vals[c] = sql_datum_null();
            continue;
        }
        if (!bad && !sql_datum_parse(t->types[c], txt, len, &r->scratch, &r->vals[c], &state))
            continue;
        if (bad)
            snprintf(msg, sizeof msg, "column \"%s\": a JSON %s is not a value of type %s",
                     t->names[c], jv->type == JSON_ARR ? "array" : "object", tn);
        else
            snprintf(msg, sizeof msg, "column \"%s\": invalid input for type %s: \"%.*s\"",
                     t->names[c], tn, (int)(len > 64 ? 64 : len), txt);
        int rc = bad_record(r, e, state && !strcmp(state, "22003") ? SQLSTATE_OUT_OF_RANGE
                                                                   : SQLSTATE_INVALID_TEXT,
                            line, "source \"%s\": %s line %lld, %s", msg);
        return rc ? rc : 0;
    }
    return 1;
}

/* The record at r->p into r->vals (r->p moves past it): 1 good, 0 skipped (the
 * header, a bad record with on_error = 'skip'), or a negative code with e set. */
static int read_record(stream_reader *r, int64_t line, sql_err *e)
{
    stream_table *t = r->t;
    if (t->format == STREAM_FMT_JSONL)
        return json_record(r, line, e);
    int nf = split_record(r);
    if (nf < 0 && r->where)
        return sql_err_set(e, SQLSTATE_INVALID_TEXT, -1, "source \"%s\": %s: unterminated "
                           "quoted field", t->name, r->where);
    if (nf < 0)
        return sql_err_set(e, SQLSTATE_INVALID_TEXT, -1, "source \"%s\": %s line %lld: "
                           "unterminated quoted field", t->name, t->path_opt,
                           (long long)file_line(r, line));
    if (t->header && !r->header_done) {
        r->header_done = true;
        return 0;
    }
    return parse_record(r, nf, line, e);
}

/* Lateness and the watermark for a good record: 1 keep it, 0 dropped late. */
static int admit(stream_reader *r, int64_t line, sql_err *e)
{
    stream_table *t = r->t;
    r->rows_read++;
    if (t->time_col < 0 || r->vals[t->time_col].null)
        return 1;
    int64_t ts = r->vals[t->time_col].i;
    if (!r->defer_late && stream_wm_late(&r->wm, ts)) {
        if (t->late_error)
            return sql_err_set(e, "22000", -1, "source \"%s\": %s line %lld: late row (event "
                               "time before the watermark, max_delay exceeded)", t->name,
                               t->path_opt, (long long)file_line(r, line));
        r->late++;
        return 0;
    }
    stream_wm_observe(&r->wm, ts);
    return 1;
}

static void release_pages(stream_reader *r)
{
    uintptr_t pg = 4096, from = ((uintptr_t)r->released + pg - 1) & ~(pg - 1),
              to = (uintptr_t)r->p & ~(pg - 1);
    if (to > from && to - from >= ((uintptr_t)4 << 20)) {
        madvise((void *)from, to - from, MADV_DONTNEED);
        r->released = (const char *)to;
    }
}

/* A blank line at r->p: skipped (1), or not one (0). */
static int skip_blank(stream_reader *r, const char *end)
{
    if (*r->p == '\n' || (*r->p == '\r' && r->p + 1 < end && r->p[1] == '\n')) {
        r->p += *r->p == '\n' ? 1 : 2;
        r->line++;
        return 1;
    }
    return 0;
}

/* Whether s is a timestamp of the fixed layout YYYY-MM-DD HH:MM:SS[.f...] (a space
 * or T between): two such texts of one length and separator are in time order
 * as bytes, when both are valid. */
static bool iso_layout(const char *s, size_t n)
{
    static const char pat[] = "dddd-dd-dd?dd:dd:dd";
    if (n < 19 || (n > 19 && (n == 20 || s[19] != '.')))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = i < 19 ? pat[i] : i == 19 ? '.' : 'd';
        bool ok = c == 'd' ? s[i] >= '0' && s[i] <= '9' : c == '?' ? s[i] == ' ' || s[i] == 'T'
                                                                     : s[i] == c;
        if (!ok)
            return false;
    }
    return true;
}

/* The first pass's largest event time so far as its text (a timestamp of the
 * fixed layout), so that smaller or equal ones are skipped without parsing. */
typedef struct scan_best {
    const char *s;           /* NULL: none yet */
    size_t n;
    int64_t ns;              /* its value (at most the largest seen) */
} scan_best;

/*
 * The first pass over one line of a range without a quote (CSV, on_error =
 * 'fail', a timestamp event time): the event-time field found by walking to
 * its delimiter, skipped when its text is not above the best's, else parsed.
 * r->p moves past the line.
 */
static void scan_line(stream_reader *r, const char *end, stream_wm *w, scan_best *b)
{
    const char *p = r->p, *s = NULL, *fe = NULL;
    char delim = r->t->delim;
    int k = 0, tc = r->t->time_col;
    for (const char *c = p;; c++) {
        if (c == end || *c == '\n' || *c == delim) {
            if (k == tc) {
                s = k ? s : p;
                fe = c;
                break;
            }
            if (c == end || *c == '\n')
                break; /* too few fields: the reading pass reports it */
            k++;
            s = c + 1;
        }
    }
    const char *eol = fe && fe < end && *fe == '\n' ? fe : memchr(fe ? fe : p, '\n',
                                                                  (size_t)(end - (fe ? fe : p)));
    r->p = eol ? eol + 1 : end;
    r->line++;
    if (r->t->header && !r->header_done) {
        r->header_done = true;
        return;
    }
    if (!fe)
        return;
    if ((fe == end || *fe == '\n') && fe > s && fe[-1] == '\r')
        fe--;
    size_t n = (size_t)(fe - s);
    if (!n)
        return;
    bool iso = iso_layout(s, n);
    if (iso && b->s && n == b->n && s[10] == b->s[10] && memcmp(s, b->s, n) <= 0)
        return;
    sql_datum v;
    const char *state = NULL;
    arena_reset(&r->scratch);
    if (sql_datum_parse(r->t->types[tc], s, n, &r->scratch, &v, &state))
        return; /* a bad value: the reading pass fails on it */
    stream_wm_observe(w, v.i);
    if (iso && (!b->s || v.i > b->ns)) {
        b->s = s;
        b->n = n;
        b->ns = v.i;
    }
}

int stream_reader_parse_msg(stream_reader *r, const char *p, size_t n, const char *where,
                            sql_datum **vals, sql_err *e)
{
    r->map = r->p = r->released = p;
    r->size = n;
    r->fsize = 0;
    r->header_done = true;
    r->where = where;
    int rc = read_record(r, 0, e);
    r->where = NULL;
    *vals = r->vals;
    return rc;
}

int stream_reader_scan_max(stream_reader *r, bool *seen, int64_t *max_ns, int64_t *lines)
{
    if (r->kf || r->vw) { /* not used: partitions and views have no first pass */
        *seen = false;
        *max_ns = *lines = 0;
        return SL_OK;
    }
    if (r->nx) {
        stream_nexmark_scan_max(r->nx, seen, max_ns, lines);
        return SL_OK;
    }
    stream_table *t = r->t;
    const char *end = r->map + r->size;
    int64_t line0 = r->line;
    int tc = t->time_col;
    stream_wm w;
    stream_wm_init(&w, 0);
    bool fast = t->format != STREAM_FMT_JSONL && !t->skip_bad && tc >= 0 &&
                t->types[tc].id == ST_TIMESTAMP && !memchr(r->p, '"', (size_t)(end - r->p));
    scan_best best = {NULL, 0, 0};
    while (r->p < end) {
        if (skip_blank(r, end))
            continue;
        int64_t line = r->line;
        if (fast) {
            scan_line(r, end, &w, &best);
            continue;
        }
        if (t->format == STREAM_FMT_JSONL) {
            /* the whole record: a JSON line is parsed whole anyway */
            sql_err e;
            if (read_record(r, line, &e) > 0 && tc >= 0 && !r->vals[tc].null)
                stream_wm_observe(&w, r->vals[tc].i);
            continue;
        }
        int nf = split_record(r);
        if (nf < 0)
            break; /* the reading pass reports it */
        if (t->header && !r->header_done) {
            r->header_done = true;
            continue;
        }
        if (tc < 0 || nf <= tc)
            continue;
        if (t->skip_bad) {
            /* a bad record must not move the watermark: the whole record is checked */
            sql_err e;
            if (parse_record(r, nf, line, &e) > 0 && !r->vals[tc].null)
                stream_wm_observe(&w, r->vals[tc].i);
            continue;
        }
        /* on_error = 'fail': a bad record fails the job in the reading pass, so the
         * event time alone is enough here */
        const field *f = &r->f[tc];
        const char *state = NULL;
        arena_reset(&r->scratch);
        if ((f->len || f->q) && !sql_datum_parse(t->types[tc], field_ptr(r, f), f->len,
                                                 &r->scratch, &r->vals[tc], &state))
            stream_wm_observe(&w, r->vals[tc].i);
    }
    release_pages(r);
    *seen = w.seen;
    *max_ns = w.max_ns;
    *lines = r->line - line0;
    r->bad = 0;
    return SL_OK;
}

void stream_reader_final_max(const stream_reader *r, bool *seen, int64_t *max_ns)
{
    if (r->nx || r->vw) {
        uint64_t read;
        if (r->nx)
            stream_nexmark_counts(r->nx, &read, seen, max_ns);
        else
            stream_view_counts(r->vw, &read, seen, max_ns);
        return;
    }
    if (r->kf) {
        stream_kafka_final_max(r->kf, seen, max_ns);
        return;
    }
    *seen = r->wm.seen;
    *max_ns = r->wm.max_ns;
}

/* follow = true: the file grown past what is mapped is mapped again, and the
 * reader's end moves to after its last complete line; whether it moved. */
static bool grow(stream_reader *r)
{
    struct stat st;
    if (stat(r->t->path, &st) || (size_t)st.st_size <= r->mapped)
        return false;
    int fd = open(r->t->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    size_t n = (size_t)st.st_size;
    void *m = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return false;
    size_t at = r->map ? (size_t)(r->p - r->map) : 0;
    size_t rel = r->map ? (size_t)(r->released - r->map) : 0;
    if (r->own_map && r->map)
        munmap((void *)r->map, r->mapped);
    r->map = m;
    r->mapped = n;
    r->own_map = true;
    r->p = r->map + at;
    r->released = r->map + rel;
    const char *nl = memrchr(r->map + r->size, '\n', n - r->size);
    if (!nl)
        return false;
    r->size = (size_t)(nl - r->map) + 1;
    return true;
}

/* follow = true: waits until the file changes or a short time passed (to see a
 * stop request): inotify, or a plain timeout without it. */
static void wait_change(stream_reader *r)
{
    if (r->notify == -2) { /* the first wait */
        r->notify = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (r->notify >= 0 && inotify_add_watch(r->notify, r->t->path, IN_MODIFY) < 0) {
            close(r->notify);
            r->notify = -1;
        }
    }
    struct pollfd pf = {r->notify, POLLIN, 0};
    if (poll(r->notify >= 0 ? &pf : NULL, r->notify >= 0 ? 1 : 0, 100) > 0) {
        char buf[4096];
        while (read(r->notify, buf, sizeof buf) > 0)
            ;
    }
}

static int read_next(stream_reader *r, sql_batch **out, int64_t *wm, sql_err *e);

long stream_test_batch_delay(void)
{
    const char *v = getenv("SL_STREAM_TEST_BATCH_DELAY_US");
    long n = v ? strtol(v, NULL, 10) : 0;
    return n > 0 && n < 1000000 ? n : 0;
}

int stream_reader_next(stream_reader *r, sql_batch **out, int64_t *wm, sql_err *e)
{
    if (r->nx)
        return stream_nexmark_next(r->nx, out, wm, e);
    if (r->vw)
        return stream_view_next(r->vw, out, wm, e);
    if (r->kf)
        return stream_kafka_next(r->kf, r, out, wm, e);
    if (!r->grows || r->defer_late) /* (read ahead: up to the end found) */
        return read_next(r, out, wm, e);
    if (!r->mapped)
        r->mapped = r->size; /* the split's end: the file as the job found it (or less) */
    for (bool waited = false;; waited = true) {
        int rc = read_next(r, out, wm, e);
        if (rc || *out)
            return rc;
        if (grow(r))
            continue;
        if (atomic_load(&g_stop) || (r->stop && atomic_load(r->stop)))
            return SL_OK; /* the end, as for a bounded file */
        if (waited) { /* quiet: an empty batch, so the caller may checkpoint or stop */
            *wm = stream_wm_value(&r->wm);
            return sql_batch_new(r->t->ncols, r->t->types, out)
                       ? sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory")
                       : SL_OK;
        }
        wait_change(r);
    }
}

/* The next batch of what is mapped. */
static int read_next(stream_reader *r, sql_batch **out, int64_t *wm, sql_err *e)
{
    stream_table *t = r->t;
    *out = NULL;
    sql_batch *b;
    if (sql_batch_new(t->ncols, t->types, &b))
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    const char *end = r->map + r->size;
    int rc = SL_OK;
    while (r->p < end && b->n < BATCH_ROWS && !rc) {
        /* the bytes some twenty records on: the file comes from memory at
         * page-cache speed, and the hardware's prefetcher stops at each page */
        __builtin_prefetch(r->p + 768);
        if (skip_blank(r, end))
            continue;
        int64_t line = r->line;
        int good = read_record(r, line, e);
        if (good > 0)
            good = admit(r, line, e);
        if (good < 0) {
            rc = good;
            break;
        }
        for (int c = 0; good && c < t->ncols && !rc; c++)
            rc = sql_datum_append(t->types[c], &r->vals[c], &b->cols[c]);
        if (rc > 0) /* unreachable: appends return 0 or a negative code */
            rc = SL_EINVAL;
        if (rc && !e->state[0])
            sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
        b->n += good && !rc;
    }
    release_pages(r);
    if (rc || !b->n) {
        sql_batch_free(b);
        *wm = stream_wm_value(&r->wm);
        return rc;
    }
    *wm = stream_wm_value(&r->wm);
    *out = b;
    return SL_OK;
}
