/*
 * user.c - user tables and views: CREATE/DROP TABLE, CREATE TABLE AS,
 * INSERT, UPDATE, DELETE, TRUNCATE, CREATE/DROP VIEW, CREATE INDEX.
 *
 * A table is a list of immutable Parquet segments in the object store
 * (sql/tables/{uid}/{segment}.parquet) and one row of the metadata store's
 * sql_tables holding its definition: columns, segments, version.  A
 * statement that changes a table writes its new segments first, then
 * replaces the definition with a compare-and-set on the version, the way
 * partitions are written (file, then row):
 *
 *   - an acknowledged statement survives kill -9 (the row is committed and
 *     fsynced, its files were stored before it);
 *   - a statement that fails, or a process killed mid-statement, leaves
 *     files no definition names: nothing to see, and they are removed when
 *     the engine opens (after a grace period, so another server's statement
 *     in flight keeps its files);
 *   - two statements racing on one table: the second's compare-and-set
 *     fails and it reports 40001 (serialization failure), having changed
 *     nothing.  On one server, writers of the user tables take turns.
 *
 * UPDATE and DELETE rewrite only the segments where a row changes.  Replaced
 * segments are deleted a minute after the change (queries that started
 * before it still read them).  docs/internals/sql.md has the definition's
 * JSON and the segment layout; numeric and interval columns are 16-byte
 * binary values in the segments (the engine's own representation).
 */
#include "sql/query_int.h"
#include "sql/catalog/lakescan.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/uuid.h"
#include "meta/meta.h"
#include "objstore/objstore.h"
#include "parquet/parquet.h"

#include <stdio.h>
#include <string.h>

#define SEGMENT_ROWS ((int64_t)1 << 20)
#define SEGMENT_MAX_BYTES ((size_t)1 << 30)
#define RETIRE_GRACE_NS ((int64_t)60 * 1000000000)
#define ORPHAN_GRACE_NS ((int64_t)600 * 1000000000)
#define TABLES_PREFIX "sql/tables/"
#define USER_MAX_COLS 256

int sql_user_open(sql_engine *eng, errmsg *e);
void sql_user_close(sql_engine *eng);
struct sql_table *sql_user_lookup(sql_engine *eng, const char *name, arena *a, sql_err *e);

enum { UK_TABLE = 1, UK_VIEW };

typedef struct useg {
    const char *key;
    int64_t rows;
    int64_t bytes;
} useg;

/* A definition, parsed (strings in an arena). */
typedef struct udef {
    int kind;
    const char *uid;           /* the table's directory: unique per CREATE */
    int ncols;
    const char **names;
    sql_type *types;
    int nseg;
    useg *segs;
    const char *view_sql;
    int64_t version;
} udef;

typedef struct retired {
    struct retired *next;
    int64_t at;
    char key[];
} retired;

typedef struct sql_user_catalog {
    pthread_mutex_t write_mu;  /* writers of user tables take turns on this server */
    pthread_mutex_t retire_mu;
    retired *retired;
} sql_user_catalog;

/* ---- types as text ---- */

/* "numeric(12,3)", "character varying(10)", "text[]", "timestamp with time zone" */
static bool type_from_text(const char *s, sql_type *out)
{
    char name[64];
    int32_t mods[2];
    int nmods = 0;
    size_t n = strcspn(s, "([");
    if (n >= sizeof name)
        return false;
    memcpy(name, s, n);
    name[n] = 0;
    while (n && name[n - 1] == ' ')
        name[--n] = 0;
    const char *p = s + strcspn(s, "([");
    if (*p == '(') {
        p++;
        while (*p && *p != ')' && nmods < 2) {
            char *end;
            mods[nmods++] = (int32_t)strtol(p, &end, 10);
            p = end;
            while (*p == ',' || *p == ' ')
                p++;
        }
        if (*p == ')')
            p++;
    }
    bool array = !strcmp(p, "[]");
    return sql_type_lookup(name, mods, nmods, array, out);
}

/* ---- definitions as JSON ---- */

static int def_json(const udef *d, dbuf *out)
{
    jw w;
    jw_init(&w, out);
    jw_obj_begin(&w);
    jw_key(&w, "format");
    jw_int(&w, 1);
    jw_key(&w, "kind");
    jw_str(&w, d->kind == UK_VIEW ? "view" : "table");
    if (d->uid) {
        jw_key(&w, "uid");
        jw_str(&w, d->uid);
    }
    jw_key(&w, "columns");
    jw_arr_begin(&w);
    for (int i = 0; i < d->ncols; i++) {
        char tn[64];
        jw_obj_begin(&w);
        jw_key(&w, "name");
        jw_str(&w, d->names[i]);
        if (d->kind == UK_TABLE) {
            jw_key(&w, "type");
            jw_str(&w, sql_type_name(d->types[i], tn, sizeof tn));
        }
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    if (d->kind == UK_TABLE) {
        jw_key(&w, "segments");
        jw_arr_begin(&w);
        for (int i = 0; i < d->nseg; i++) {
            jw_obj_begin(&w);
            jw_key(&w, "key");
            jw_str(&w, d->segs[i].key);
            jw_key(&w, "rows");
            jw_int(&w, d->segs[i].rows);
            jw_key(&w, "bytes");
            jw_int(&w, d->segs[i].bytes);
            jw_obj_end(&w);
        }
        jw_arr_end(&w);
    } else {
        jw_key(&w, "sql");
        jw_str(&w, d->view_sql);
    }
    jw_obj_end(&w);
    return out->len ? SL_OK : SL_ENOMEM;
}

static int def_parse(arena *a, const char *text, int64_t version, udef *d)
{
    memset(d, 0, sizeof *d);
    json_val *j;
    errmsg e;
    if (json_parse(a, text, strlen(text), &j, &e) || j->type != JSON_OBJ)
        return SL_EINVAL;
    const json_val *k = json_get(j, "kind"), *c = json_get(j, "columns");
    if (!k || k->type != JSON_STR || !c || c->type != JSON_ARR)
        return SL_EINVAL;
    d->kind = !strcmp(k->str, "view") ? UK_VIEW : UK_TABLE;
    d->version = version;
    const json_val *u = json_get(j, "uid");
    d->uid = u && u->type == JSON_STR ? u->str : NULL;
    d->ncols = (int)c->len;
    d->names = arena_zalloc(a, sizeof *d->names * (size_t)(d->ncols + 1));
    d->types = arena_zalloc(a, sizeof *d->types * (size_t)(d->ncols + 1));
    if (!d->names || !d->types)
        return SL_ENOMEM;
    for (int i = 0; i < d->ncols; i++) {
        const json_val *n = json_get(&c->items[i], "name"), *t = json_get(&c->items[i], "type");
        if (!n || n->type != JSON_STR)
            return SL_EINVAL;
        d->names[i] = n->str;
        d->types[i] = sql_type_of(ST_TEXT);
        if (d->kind == UK_TABLE && (!t || t->type != JSON_STR || !type_from_text(t->str, &d->types[i])))
            return SL_EINVAL;
    }
    if (d->kind == UK_VIEW) {
        const json_val *q = json_get(j, "sql");
        if (!q || q->type != JSON_STR)
            return SL_EINVAL;
        d->view_sql = q->str;
        return SL_OK;
    }
    const json_val *s = json_get(j, "segments");
    if (!s || s->type != JSON_ARR)
        return SL_EINVAL;
    d->nseg = (int)s->len;
    d->segs = arena_zalloc(a, sizeof *d->segs * (size_t)(d->nseg + 1));
    if (!d->segs)
        return SL_ENOMEM;
    for (int i = 0; i < d->nseg; i++) {
        const json_val *key = json_get(&s->items[i], "key"), *r = json_get(&s->items[i], "rows"),
                       *b = json_get(&s->items[i], "bytes");
        if (!key || key->type != JSON_STR || !r || !r->is_int)
            return SL_EINVAL;
        d->segs[i].key = key->str;
        d->segs[i].rows = r->i;
        d->segs[i].bytes = b && b->is_int ? b->i : 0;
    }
    return SL_OK;
}

typedef struct get_ctx {
    arena *a;
    udef *d;
    int rc;
    bool found;
} get_ctx;

static int got_row(void *arg, const meta_sql_table *row)
{
    get_ctx *g = arg;
    g->found = true;
    g->rc = def_parse(g->a, row->def, row->version, g->d);
    return 0;
}

/* The current definition of name: 1 found, 0 absent, negative on failure (e set). */
static int def_get(sql_engine *eng, const char *name, arena *a, udef *d, sql_err *e)
{
    get_ctx g = {a, d, 0, false};
    errmsg em = {0};
    int rc = meta_sql_table_list(eng->m, name, got_row, &g, &em);
    if (rc)
        return sql_err_set(e, "58030", -1, "catalog: %s", em.text);
    if (g.found && g.rc)
        return sql_err_set(e, SQLSTATE_INTERNAL, -1, "the definition of \"%s\" cannot be read",
                           name);
    return g.found ? 1 : 0;
}

/* Stores d as name's definition (expect: its current version, 0 to create). */
static int def_put(sql_engine *eng, const char *name, const udef *d, int64_t expect, sql_err *e)
{
    dbuf j;
    dbuf_init(&j, (size_t)64 << 20);
    int rc = d ? def_json(d, &j) : SL_OK;
    errmsg em = {0};
    int64_t nv;
    if (!rc)
        rc = meta_sql_table_put(eng->m, name, expect, d ? (const char *)j.p : NULL, &nv, &em);
    dbuf_free(&j);
    if (rc == SL_EEXIST)
        return sql_err_set(e, SQLSTATE_DUPLICATE_TABLE, -1, "relation \"%s\" already exists",
                           name);
    if (rc == SL_ESTATE)
        return sql_err_set(e, "40001", -1, "could not serialize access due to concurrent "
                                           "update of \"%s\"", name);
    if (rc)
        return sql_err_set(e, "58030", -1, "catalog: %s", em.text[0] ? em.text : sl_strerror(rc));
    return SL_OK;
}

/* ---- retiring segments ---- */

static void retire_later(sql_user_catalog *uc, const char *key)
{
    size_t n = strlen(key) + 1;
    retired *r = sl_malloc(sizeof *r + n);
    if (!r)
        return; /* the orphan sweep at the next start removes it */
    r->at = clock_mono_ns();
    memcpy(r->key, key, n);
    pthread_mutex_lock(&uc->retire_mu);
    r->next = uc->retired;
    uc->retired = r;
    pthread_mutex_unlock(&uc->retire_mu);
}

/* Deletes retired segments older than the grace period (all of them at close). */
static void retire_sweep(sql_engine *eng, bool all)
{
    sql_user_catalog *uc = eng->users;
    int64_t now = clock_mono_ns();
    pthread_mutex_lock(&uc->retire_mu);
    retired **pp = &uc->retired, *keep = NULL, *del = NULL;
    while (*pp) {
        retired *r = *pp;
        *pp = r->next;
        if (all || now - r->at > RETIRE_GRACE_NS) {
            r->next = del;
            del = r;
        } else {
            r->next = keep;
            keep = r;
        }
    }
    uc->retired = keep;
    pthread_mutex_unlock(&uc->retire_mu);
    while (del) {
        retired *n = del->next;
        errmsg em;
        objstore_delete(eng->os, del->key, &em);
        sl_free(del);
        del = n;
    }
}

/* ---- the orphan sweep at open ---- */

typedef struct refs {
    char **keys;
    size_t n, cap;
    int rc;
} refs;

static int collect_refs(void *arg, const meta_sql_table *row)
{
    refs *r = arg;
    arena a;
    arena_init(&a, 4096, (size_t)64 << 20);
    udef d;
    if (!def_parse(&a, row->def, row->version, &d)) {
        for (int i = 0; i < d.nseg; i++) {
            if (r->n == r->cap) {
                size_t nc = r->cap ? r->cap * 2 : 64;
                char **k = sl_realloc(r->keys, sizeof *k * nc);
                if (!k) {
                    r->rc = SL_ENOMEM;
                    break;
                }
                r->keys = k;
                r->cap = nc;
            }
            if (!(r->keys[r->n] = sl_strdup(d.segs[i].key))) {
                r->rc = SL_ENOMEM;
                break;
            }
            r->n++;
        }
    }
    arena_destroy(&a);
    return r->rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct sweep {
    sql_engine *eng;
    refs *r;
    int64_t now_wall;
} sweep;

static int maybe_orphan(void *arg, const char *key, const objstore_stat *st)
{
    sweep *s = arg;
    const char *k = key;
    if (s->r->n && bsearch(&k, s->r->keys, s->r->n, sizeof *s->r->keys, cmp_str))
        return 0;
    if (s->now_wall - st->mtime_ns < ORPHAN_GRACE_NS)
        return 0; /* perhaps a statement of another server in flight */
    errmsg em;
    objstore_delete(s->eng->os, key, &em);
    return 0;
}

int sql_user_open(sql_engine *eng, errmsg *e)
{
    sql_user_catalog *uc = sl_calloc(1, sizeof *uc);
    if (!uc)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    pthread_mutex_init(&uc->write_mu, NULL);
    pthread_mutex_init(&uc->retire_mu, NULL);
    eng->users = uc;
    if (!eng->m || !eng->os)
        return SL_OK;
    refs r = {0};
    int rc = meta_sql_table_list(eng->m, NULL, collect_refs, &r, e);
    if (!rc && !r.rc) {
        if (r.n)
            qsort(r.keys, r.n, sizeof *r.keys, cmp_str);
        sweep s = {eng, &r, clock_wall_ns()};
        errmsg le;
        objstore_list(eng->os, TABLES_PREFIX, maybe_orphan, &s, &le);
    }
    for (size_t i = 0; i < r.n; i++)
        sl_free(r.keys[i]);
    sl_free(r.keys);
    return rc;
}

void sql_user_close(sql_engine *eng)
{
    sql_user_catalog *uc = eng->users;
    if (!uc)
        return;
    if (eng->os)
        retire_sweep(eng, true);
    pthread_mutex_destroy(&uc->write_mu);
    pthread_mutex_destroy(&uc->retire_mu);
    sl_free(uc);
    eng->users = NULL;
}

/* ---- reading a table ---- */

typedef struct utab {
    sql_table t;
    sql_engine *eng;
    udef d;
    int only_seg;            /* >= 0: this segment alone (UPDATE/DELETE work per segment) */
} utab;

typedef struct useg_scan {
    sql_scan base;
    utab *u;
    const sql_scan_req *req;
    dbuf bytes;
    pq_reader *r;
    pq_scan *s;
} useg_scan;

static int oom(sql_err *e)
{
    return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
}

static int us_next(sql_scan *s, sql_batch **out, sql_err *e)
{
    useg_scan *u = (useg_scan *)s;
    *out = NULL;
    for (;;) {
        if (u->req->cancel && *u->req->cancel)
            return sql_err_set(e, SQLSTATE_CANCELED, -1,
                               "canceling statement due to user request");
        col_batch *cb;
        errmsg em = {0};
        if (pq_scan_next(u->s, &cb, &em))
            return sql_err_set(e, "XX001", -1, "table \"%s\": %s", u->u->t.name, em.text);
        if (!cb)
            return SL_OK;
        if (!cb->nrows) {
            col_batch_release(cb);
            continue;
        }
        lakescan_col cols[USER_MAX_COLS];
        for (int i = 0; i < u->req->ncols; i++) {
            memset(&cols[i], 0, sizeof cols[i]);
            cols[i].type = u->u->d.types[u->req->cols[i]];
            cols[i].conv = sql_type_phys(cols[i].type) == COL_FIXED16 ? LC_BIN16 : LC_SHARE;
        }
        int rc = lakescan_convert(cb, NULL, cols, u->req->ncols, NULL, out, e);
        col_batch_release(cb);
        return rc;
    }
}

static void us_close(sql_scan *s)
{
    useg_scan *u = (useg_scan *)s;
    if (u->s)
        pq_scan_close(u->s);
    if (u->r)
        pq_reader_close(u->r);
    dbuf_free(&u->bytes);
    sl_free(u);
}

static const sql_scan_ops g_us_ops = {us_next, us_close};

static int ut_units(sql_table *t, sql_scan_req *req, int64_t *n, sql_err *e)
{
    (void)req;
    (void)e;
    utab *u = (utab *)t;
    *n = u->only_seg >= 0 ? 1 : u->d.nseg;
    return SL_OK;
}

static int ut_open(sql_table *t, const sql_scan_req *req, int64_t unit, sql_scan **out,
                   sql_err *e)
{
    utab *u = (utab *)t;
    const useg *sg = &u->d.segs[u->only_seg >= 0 ? u->only_seg : unit];
    useg_scan *s = sl_calloc(1, sizeof *s);
    if (!s)
        return oom(e);
    s->base.ops = &g_us_ops;
    s->u = u;
    s->req = req;
    dbuf_init(&s->bytes, SEGMENT_MAX_BYTES);
    errmsg em = {0};
    char names[USER_MAX_COLS][12];
    const char *np[USER_MAX_COLS];
    for (int i = 0; i < req->ncols && i < USER_MAX_COLS; i++) {
        snprintf(names[i], sizeof names[i], "c%d", req->cols[i]);
        np[i] = names[i];
    }
    pq_scan_opts so = {.columns = np, .ncolumns = req->ncols,
                       .batch_rows = req->batch_rows > 0 ? req->batch_rows : 8192};
    if (objstore_get(u->eng->os, sg->key, &s->bytes, &em) ||
        pq_reader_open(s->bytes.p, s->bytes.len, NULL, &s->r, &em) ||
        pq_scan_open(s->r, &so, &s->s, &em)) {
        us_close(&s->base);
        return sql_err_set(e, "58030", -1, "table \"%s\": segment %s: %s", t->name, sg->key,
                           em.text);
    }
    *out = &s->base;
    return SL_OK;
}

static double ut_estimate(sql_table *t, const sql_scan_req *req)
{
    (void)req;
    utab *u = (utab *)t;
    double n = 0;
    for (int i = 0; i < u->d.nseg; i++)
        n += (double)u->d.segs[i].rows;
    return n;
}

static void ut_free(sql_table *t)
{
    (void)t; /* in the query's arena */
}

static const sql_table_ops g_ut_ops = {ut_units, NULL, ut_open, ut_estimate, ut_free};

static sql_table *table_of(sql_engine *eng, const char *name, const udef *d, arena *a)
{
    utab *u = arena_zalloc(a, sizeof *u);
    if (!u)
        return NULL;
    u->eng = eng;
    u->d = *d;
    u->only_seg = -1;
    u->t.name = arena_strndup(a, name, strlen(name));
    u->t.schema = "public";
    u->t.kind = d->kind == UK_VIEW ? TABLE_VIEW : TABLE_USER;
    u->t.ncols = d->ncols;
    u->t.colnames = d->names;
    u->t.coltypes = d->types;
    u->t.time_col = u->t.end_col = u->t.id_col = -1;
    u->t.ops = &g_ut_ops;
    u->t.impl = u;
    u->t.view_sql = d->view_sql;
    return u->t.name ? &u->t : NULL;
}

struct sql_table *sql_user_lookup(sql_engine *eng, const char *name, arena *a, sql_err *e)
{
    if (!eng->m)
        return NULL;
    udef d;
    int rc = def_get(eng, name, a, &d, e);
    if (rc <= 0)
        return NULL;
    return table_of(eng, name, &d, a);
}

/* ---- writing segments ---- */

typedef struct segw {
    sql_engine *eng;
    const udef *d;
    arena *a;
    col_schema *schema;
    pq_writer *w;
    dbuf buf;
    int64_t rows;
    useg *out;               /* segments written */
    int nout, cap;
    sql_err *e;
} segw;

static col_type seg_col_type(sql_type t)
{
    col_type p = sql_type_phys(t);
    return p == COL_FIXED16 ? COL_BINARY : p;
}

static int segw_init(segw *s, sql_engine *eng, const udef *d, arena *a, sql_err *e)
{
    memset(s, 0, sizeof *s);
    s->eng = eng;
    s->d = d;
    s->a = a;
    s->e = e;
    if (!(s->schema = col_schema_new(d->ncols)))
        return oom(e);
    for (int i = 0; i < d->ncols; i++) {
        char n[12];
        snprintf(n, sizeof n, "c%d", i);
        if (col_schema_set(s->schema, i, n, seg_col_type(d->types[i]), 0, true))
            return oom(e);
    }
    return SL_OK;
}

/* Closes the segment being written and stores it. */
static int segw_flush(segw *s)
{
    if (!s->w)
        return SL_OK;
    errmsg em = {0};
    int64_t size;
    int rc = pq_writer_close(s->w, &size, &em); /* frees the writer */
    s->w = NULL;
    if (rc) {
        dbuf_free(&s->buf);
        return sql_err_set(s->e, "58030", -1, "writing a segment: %s", em.text);
    }
    sl_uuid id;
    uuid_v4(&id);
    char uid[UUID_STR_LEN], key[256];
    uuid_format(&id, uid);
    snprintf(key, sizeof key, TABLES_PREFIX "%s/%s.parquet", s->d->uid, uid);
    rc = objstore_put(s->eng->os, key, s->buf.p, s->buf.len, OBJSTORE_PUT_ONCE, &em);
    size_t len = s->buf.len;
    dbuf_free(&s->buf);
    if (rc)
        return sql_err_set(s->e, "58030", -1, "storing a segment: %s", em.text);
    if (s->nout == s->cap) {
        int nc = s->cap ? s->cap * 2 : 8;
        useg *n = arena_alloc(s->a, sizeof *n * (size_t)nc);
        if (!n)
            return oom(s->e);
        if (s->out)
            memcpy(n, s->out, sizeof *n * (size_t)s->nout);
        s->out = n;
        s->cap = nc;
    }
    s->out[s->nout].key = arena_strndup(s->a, key, strlen(key));
    s->out[s->nout].rows = s->rows;
    s->out[s->nout].bytes = (int64_t)len;
    if (!s->out[s->nout].key)
        return oom(s->e);
    s->nout++;
    s->rows = 0;
    return SL_OK;
}

/* Adds rows (the table's columns, in order) to the segment being written. */
static int segw_add(segw *s, const sql_batch *b)
{
    if (!b->n)
        return SL_OK;
    errmsg em = {0};
    if (!s->w) {
        dbuf_init(&s->buf, SEGMENT_MAX_BYTES);
        pq_sink sink;
        pq_sink_dbuf(&sink, &s->buf);
        pq_write_opts o;
        pq_write_opts_default(&o);
        o.row_group_rows = 131072;
        if (pq_writer_open(&sink, s->schema, &o, &s->w, &em)) {
            s->w = NULL;
            dbuf_free(&s->buf);
            return sql_err_set(s->e, "58030", -1, "writing a segment: %s", em.text);
        }
    }
    col_batch *cb;
    if (col_batch_new(s->schema, &cb))
        return oom(s->e);
    cb->nrows = b->n;
    int rc = SL_OK;
    for (int i = 0; i < s->d->ncols && !rc; i++) {
        col_vec_release(&cb->cols[i]);
        const col_vec *v = &b->cols[i];
        if (v->type != COL_FIXED16) {
            sql_vec_share(v, &cb->cols[i]);
            continue;
        }
        col_vec_init(&cb->cols[i], COL_BINARY, 0);
        for (int64_t r = 0; r < b->n && !rc; r++)
            rc = col_vec_is_valid(v, r) ? col_vec_append_str(&cb->cols[i], v->values->p + 16 * r, 16)
                                        : col_vec_append_null(&cb->cols[i]);
    }
    if (!rc && pq_writer_add_batch(s->w, cb, &em))
        rc = sql_err_set(s->e, "58030", -1, "writing a segment: %s", em.text);
    else if (rc)
        rc = oom(s->e);
    col_batch_release(cb);
    if (rc)
        return rc;
    s->rows += b->n;
    return s->rows >= SEGMENT_ROWS ? segw_flush(s) : SL_OK;
}

static void segw_abort(segw *s)
{
    if (s->w)
        pq_writer_free(s->w);
    s->w = NULL;
    dbuf_free(&s->buf);
    /* segments already stored are orphans: removed when no definition names them */
    for (int i = 0; i < s->nout; i++)
        retire_later(s->eng->users, s->out[i].key);
    col_schema_unref(s->schema);
    s->schema = NULL;
}

static void segw_done(segw *s)
{
    col_schema_unref(s->schema);
    s->schema = NULL;
}

static int write_rows(void *arg, const sql_batch *b)
{
    return segw_add(arg, b);
}

/* ---- statements ---- */

static bool builtin_name(sql_engine *eng, const char *name)
{
    return sql_builtin_table(eng, NULL, name, NULL) != NULL;
}

static const char *rel_name(sql_query *q, const PgQuery__RangeVar *rv)
{
    const char *schema = pstr(rv->schemaname);
    if (schema && strcmp(schema, "public")) {
        sql_err_set(q->e, "3F000", rv->location, "schema \"%s\" does not exist (user tables "
                                                 "live in public)", schema);
        return NULL;
    }
    if (strlen(rv->relname) > 63) {
        sql_err_set(q->e, "42622", rv->location, "identifier \"%.20s...\" is too long",
                    rv->relname);
        return NULL;
    }
    return rv->relname;
}

static char *new_uid(arena *a)
{
    sl_uuid id;
    uuid_v4(&id);
    char t[UUID_STR_LEN];
    uuid_format(&id, t);
    return arena_strndup(a, t, strlen(t));
}

static int create_table(sql_query *q, binder *b, const PgQuery__CreateStmt *c)
{
    snprintf(q->tag, sizeof q->tag, "CREATE TABLE");
    const char *name = rel_name(q, c->relation);
    if (!name)
        return SL_EINVAL;
    if ((c->relation->relpersistence && c->relation->relpersistence[0] == 't') || c->n_inh_relations || c->partspec || c->of_typename)
        return sql_err_set(q->e, SQLSTATE_FEATURE, c->relation->location, "temporary, inherited, "
                                                                        "partitioned and typed "
                                                                        "tables are not supported");
    if (builtin_name(q->s->eng, name))
        return sql_err_set(q->e, SQLSTATE_DUPLICATE_TABLE, c->relation->location,
                           "relation \"%s\" already exists (a lake table)", name);
    udef d = {.kind = UK_TABLE, .uid = new_uid(&q->a)};
    int n = (int)c->n_table_elts;
    d.names = arena_zalloc(&q->a, sizeof *d.names * (size_t)(n + 1));
    d.types = arena_zalloc(&q->a, sizeof *d.types * (size_t)(n + 1));
    if (!d.names || !d.types || !d.uid)
        return oom(q->e);
    for (int i = 0; i < n; i++) {
        const PgQuery__Node *el = c->table_elts[i];
        if (el->node_case != PG_QUERY__NODE__NODE_COLUMN_DEF) {
            if (el->node_case == PG_QUERY__NODE__NODE_CONSTRAINT)
                continue; /* PRIMARY KEY (...), UNIQUE (...): accepted, not enforced */
            return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "this table element is not supported");
        }
        const PgQuery__ColumnDef *cd = el->column_def;
        for (int k = 0; k < d.ncols; k++)
            if (!strcmp(d.names[k], cd->colname))
                return sql_err_set(q->e, "42701", cd->location, "column \"%s\" specified more "
                                                                 "than once", cd->colname);
        if (!bind_typename(b, cd->type_name, &d.types[d.ncols]))
            return q->e->code ? q->e->code : SL_EINVAL;
        if (d.types[d.ncols].id == ST_UNKNOWN || d.types[d.ncols].id == ST_NULL)
            return sql_err_set(q->e, SQLSTATE_FEATURE, cd->location, "column \"%s\" needs a "
                                                                     "type", cd->colname);
        d.names[d.ncols++] = cd->colname;
    }
    if (d.ncols > USER_MAX_COLS)
        return sql_err_set(q->e, "54011", -1, "tables can have at most %d columns", USER_MAX_COLS);
    int rc = def_put(q->s->eng, name, &d, 0, q->e);
    if (rc && c->if_not_exists && !strcmp(q->e->state, SQLSTATE_DUPLICATE_TABLE)) {
        sql_err_clear(q->e);
        return SL_OK;
    }
    return rc;
}

/* Writes every row of plan p into new segments of table d (columns already coerced). */
static int fill(sql_query *q, sql_plan *p, const udef *d, segw *w, uint64_t *rows)
{
    int rc = segw_init(w, q->s->eng, d, &q->a, q->e);
    uint64_t before = q->nrows;
    if (!rc)
        rc = sql_run_plan_all(q, p, false, write_rows, w);
    if (!rc)
        rc = segw_flush(w);
    *rows = q->nrows - before;
    return rc;
}

static int create_table_as(sql_query *q, binder *b, const PgQuery__CreateTableAsStmt *c)
{
    snprintf(q->tag, sizeof q->tag, "SELECT");
    if (c->objtype != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE)
        return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "CREATE MATERIALIZED VIEW is not "
                                                       "supported; use CREATE TABLE AS");
    const PgQuery__IntoClause *into = c->into;
    const char *name = rel_name(q, into->rel);
    if (!name)
        return SL_EINVAL;
    if (builtin_name(q->s->eng, name))
        return sql_err_set(q->e, SQLSTATE_DUPLICATE_TABLE, into->rel->location,
                           "relation \"%s\" already exists (a lake table)", name);
    if (!c->query || c->query->node_case != PG_QUERY__NODE__NODE_SELECT_STMT)
        return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "CREATE TABLE AS needs a SELECT");
    udef exist;
    int ex = def_get(q->s->eng, name, &q->a, &exist, q->e);
    if (ex < 0)
        return ex;
    if (ex) {
        if (c->if_not_exists) {
            snprintf(q->tag, sizeof q->tag, "CREATE TABLE AS");
            return SL_OK;
        }
        return sql_err_set(q->e, SQLSTATE_DUPLICATE_TABLE, into->rel->location,
                           "relation \"%s\" already exists", name);
    }
    sql_plan *p = bind_select(b, NULL, c->query->select_stmt);
    if (!p)
        return q->e->code ? q->e->code : SL_EINVAL;
    if ((int)into->n_col_names > p->ncols)
        return sql_err_set(q->e, "42601", -1, "CREATE TABLE AS specifies too many column names");
    udef d = {.kind = UK_TABLE, .uid = new_uid(&q->a), .ncols = p->ncols,
              .names = arena_zalloc(&q->a, sizeof(char *) * (size_t)(p->ncols + 1)),
              .types = arena_zalloc(&q->a, sizeof(sql_type) * (size_t)(p->ncols + 1))};
    if (!d.names || !d.types || !d.uid)
        return oom(q->e);
    for (int i = 0; i < p->ncols; i++) {
        d.names[i] = i < (int)into->n_col_names ? node_str(into->col_names[i]) : p->names[i];
        d.types[i] = p->types[i].id == ST_UNKNOWN || p->types[i].id == ST_NULL
                         ? sql_type_of(ST_TEXT) : p->types[i];
        for (int k = 0; k < i; k++)
            if (!strcmp(d.names[k], d.names[i]))
                return sql_err_set(q->e, "42701", -1, "column \"%s\" specified more than once",
                                   d.names[i]);
    }
    if (d.ncols > USER_MAX_COLS)
        return sql_err_set(q->e, "54011", -1, "tables can have at most %d columns", USER_MAX_COLS);
    segw w;
    uint64_t rows = 0;
    int rc = into->skip_data ? segw_init(&w, q->s->eng, &d, &q->a, q->e)
                             : fill(q, p, &d, &w, &rows);
    if (!rc) {
        d.segs = w.out;
        d.nseg = w.nout;
        rc = def_put(q->s->eng, name, &d, 0, q->e);
    }
    if (rc)
        segw_abort(&w);
    else
        segw_done(&w);
    q->nrows = rows;
    snprintf(q->tag, sizeof q->tag, "SELECT %llu", (unsigned long long)rows);
    return rc;
}

/* A projection casting p's columns to the table's (assignment casts), in table order. */
static sql_plan *to_table_row(binder *b, sql_plan *p, const udef *d, const int *target, int nt)
{
    sql_plan *pr = mk_plan(b, SP_PROJECT, d->ncols);
    if (!pr)
        return NULL;
    pr->child = p;
    pr->est_rows = p->est_rows;
    for (int c = 0; c < d->ncols; c++) {
        int src = -1;
        for (int k = 0; k < nt; k++)
            if (target[k] == c)
                src = k;
        sql_expr *e;
        if (src < 0) {
            sql_datum nd = sql_datum_null();
            e = mk_const(b, d->types[c], &nd, -1);
        } else {
            e = mk_col(b, src, p->types[src], -1);
            char what[96];
            snprintf(what, sizeof what, "column \"%s\"", d->names[c]);
            if (e && !sql_type_eq(e->type, d->types[c]))
                e = coerce(b, e, d->types[c], 'a', what);
        }
        if (!e)
            return NULL;
        pr->project.exprs[c] = e;
        pr->types[c] = d->types[c];
        pr->names[c] = d->names[c];
    }
    return pr;
}

/* INSERT ... VALUES: each value bound with its target column's type in view. */
static sql_plan *insert_values(binder *b, const PgQuery__SelectStmt *s, const udef *d,
                               const int *target, int nt)
{
    int nrows = (int)s->n_values_lists;
    sql_plan *v = mk_plan(b, SP_VALUES, nt);
    if (!v)
        return NULL;
    v->values.nrows = nrows;
    v->values.rows = arena_zalloc(b->a, sizeof *v->values.rows * (size_t)nrows);
    if (!v->values.rows)
        return NULL;
    bind_scope sc = {0};
    for (int r = 0; r < nrows; r++) {
        const PgQuery__List *l = s->values_lists[r]->list;
        if ((int)l->n_items != nt) {
            bind_fail(b, "42601", -1, (int)l->n_items > nt
                                          ? "INSERT has more expressions than target columns"
                                          : "INSERT has more target columns than expressions");
            return NULL;
        }
        if (!(v->values.rows[r] = arena_zalloc(b->a, sizeof(sql_expr *) * (size_t)nt)))
            return NULL;
        for (int k = 0; k < nt; k++) {
            const PgQuery__Node *n = l->items[k];
            sql_type t = d->types[target[k]];
            sql_expr *e;
            if (n->node_case == PG_QUERY__NODE__NODE_SET_TO_DEFAULT) {
                sql_datum nd = sql_datum_null();
                e = mk_const(b, t, &nd, -1);
            } else {
                e = bind_expr(b, &sc, n);
                char what[96];
                snprintf(what, sizeof what, "column \"%s\"", d->names[target[k]]);
                if (e && e->kind == SE_PARAM && e->type.id == ST_UNKNOWN)
                    param_infer(b, e->col, t);
                if (e && !sql_type_eq(e->type, t))
                    e = coerce(b, e, t, 'a', what);
            }
            if (!e)
                return NULL;
            v->values.rows[r][k] = e;
            v->types[k] = t;
            v->names[k] = d->names[target[k]];
        }
    }
    v->est_rows = nrows;
    return v;
}

static int insert(sql_query *q, binder *b, const PgQuery__InsertStmt *s)
{
    snprintf(q->tag, sizeof q->tag, "INSERT 0 0");
    if (s->n_returning_list || s->on_conflict_clause || s->with_clause)
        return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "INSERT with RETURNING, ON CONFLICT or "
                                                       "WITH is not supported");
    const char *name = rel_name(q, s->relation);
    if (!name)
        return SL_EINVAL;
    udef d;
    int ex = def_get(q->s->eng, name, &q->a, &d, q->e);
    if (ex < 0)
        return ex;
    if (!ex || d.kind != UK_TABLE)
        return sql_err_set(q->e, builtin_name(q->s->eng, name) || ex ? "42809"
                                                                     : SQLSTATE_UNDEFINED_TABLE,
                           s->relation->location,
                           builtin_name(q->s->eng, name) || ex
                               ? "cannot insert into \"%s\": it is not a user table"
                               : "relation \"%s\" does not exist",
                           name);
    int nt = s->n_cols ? (int)s->n_cols : d.ncols;
    int *target = arena_zalloc(&q->a, sizeof *target * (size_t)(nt + 1));
    if (!target)
        return oom(q->e);
    for (int k = 0; k < nt; k++) {
        if (!s->n_cols) {
            target[k] = k;
            continue;
        }
        const PgQuery__ResTarget *rt = s->cols[k]->res_target;
        target[k] = -1;
        for (int c = 0; c < d.ncols; c++)
            if (!strcmp(d.names[c], rt->name))
                target[k] = c;
        if (target[k] < 0)
            return sql_err_set(q->e, SQLSTATE_UNDEFINED_COLUMN, rt->location, "column \"%s\" "
                               "of relation \"%s\" does not exist", rt->name, name);
        for (int j = 0; j < k; j++)
            if (target[j] == target[k])
                return sql_err_set(q->e, "42701", rt->location, "column \"%s\" specified more "
                                                                "than once", rt->name);
    }
    sql_plan *p;
    const PgQuery__SelectStmt *sel = s->select_stmt ? s->select_stmt->select_stmt : NULL;
    if (!sel) {
        /* INSERT ... DEFAULT VALUES */
        p = mk_plan(b, SP_RESULT, 0);
        nt = 0;
        if (p)
            p->est_rows = 1;
    } else if (sel->n_values_lists && !sel->n_sort_clause && !sel->limit_count) {
        p = insert_values(b, sel, &d, target, nt);
    } else {
        p = bind_select(b, NULL, sel);
        if (p && p->ncols != nt)
            return sql_err_set(q->e, "42601", -1, p->ncols > nt
                                   ? "INSERT has more expressions than target columns"
                                   : "INSERT has more target columns than expressions");
    }
    if (!p || !(p = to_table_row(b, p, &d, target, nt)))
        return q->e->code ? q->e->code : SL_EINVAL;
    sql_user_catalog *uc = q->s->eng->users;
    pthread_mutex_lock(&uc->write_mu);
    segw w;
    uint64_t rows = 0;
    int rc = fill(q, p, &d, &w, &rows);
    if (!rc && w.nout) {
        /* the definition as it is now (another statement may have added segments) */
        udef cur;
        int cx = def_get(q->s->eng, name, &q->a, &cur, q->e);
        rc = cx < 0 ? cx : !cx || strcmp(cur.uid ? cur.uid : "", d.uid ? d.uid : "")
                                 ? sql_err_set(q->e, "40001", -1, "could not serialize access: "
                                               "\"%s\" was dropped or replaced", name)
                                 : SL_OK;
        if (!rc) {
            useg *all = arena_alloc(&q->a, sizeof *all * (size_t)(cur.nseg + w.nout + 1));
            if (!all)
                rc = oom(q->e);
            else {
                if (cur.nseg)
                    memcpy(all, cur.segs, sizeof *all * (size_t)cur.nseg);
                memcpy(all + cur.nseg, w.out, sizeof *all * (size_t)w.nout);
                cur.segs = all;
                cur.nseg += w.nout;
                rc = def_put(q->s->eng, name, &cur, cur.version, q->e);
            }
        }
    }
    pthread_mutex_unlock(&uc->write_mu);
    if (rc)
        segw_abort(&w);
    else
        segw_done(&w);
    q->nrows = rc ? 0 : rows;
    snprintf(q->tag, sizeof q->tag, "INSERT 0 %llu", (unsigned long long)(rc ? 0 : rows));
    return rc;
}

/* UPDATE and DELETE: every segment read once, rewritten only if a row changes. */
typedef struct rewrite {
    segw w;
    int ncols;               /* the table's columns; a batch may carry one more (the flag) */
    uint64_t changed;
    bool flag;               /* the batch's last column says whether the row changed */
} rewrite;

static int rewrite_rows(void *arg, const sql_batch *b)
{
    rewrite *r = arg;
    if (r->flag) {
        const col_vec *f = &b->cols[r->ncols];
        for (int64_t i = 0; i < b->n; i++)
            r->changed += col_vec_is_valid(f, i) && col_vec_bool(f, i);
    }
    sql_batch t = *b;
    t.ncols = r->ncols;
    return segw_add(&r->w, &t);
}

static int update_or_delete(sql_query *q, binder *b, const PgQuery__RangeVar *rel,
                            const PgQuery__Node *where, PgQuery__Node **set, int nset,
                            bool is_delete)
{
    const char *name = rel_name(q, rel);
    if (!name)
        return SL_EINVAL;
    udef d;
    int ex = def_get(q->s->eng, name, &q->a, &d, q->e);
    if (ex < 0)
        return ex;
    bool builtin = builtin_name(q->s->eng, name);
    if (!ex || d.kind != UK_TABLE)
        return sql_err_set(q->e, builtin || ex ? "42809" : SQLSTATE_UNDEFINED_TABLE, rel->location,
                           builtin || ex ? "cannot change \"%s\": it is not a user table"
                                         : "relation \"%s\" does not exist",
                           name);
    sql_table *t = table_of(q->s->eng, name, &d, &q->a);
    if (!t)
        return oom(q->e);
    const char *alias = rel->alias && pstr(rel->alias->aliasname) ? rel->alias->aliasname : name;
    /* the expressions: SET values (by column), then WHERE */
    const PgQuery__Node **nodes = arena_zalloc(&q->a, sizeof *nodes * (size_t)(d.ncols + 1));
    sql_expr **ex_out = arena_zalloc(&q->a, sizeof *ex_out * (size_t)(d.ncols + 1));
    if (!nodes || !ex_out)
        return oom(q->e);
    for (int i = 0; i < nset; i++) {
        const PgQuery__ResTarget *rt = set[i]->res_target;
        int c = -1;
        for (int k = 0; k < d.ncols; k++)
            if (!strcmp(d.names[k], rt->name))
                c = k;
        if (c < 0)
            return sql_err_set(q->e, SQLSTATE_UNDEFINED_COLUMN, rt->location, "column \"%s\" of "
                               "relation \"%s\" does not exist", rt->name, name);
        if (rt->n_indirection)
            return sql_err_set(q->e, SQLSTATE_FEATURE, rt->location, "assigning to a part of a "
                                                                     "column is not supported");
        if (nodes[c])
            return sql_err_set(q->e, "42601", rt->location, "multiple assignments to same column "
                                                            "\"%s\"", rt->name);
        nodes[c] = rt->val;
    }
    nodes[d.ncols] = where;
    sql_plan *scan = bind_table_exprs(b, t, alias, nodes, d.ncols + 1, true, ex_out);
    if (!scan)
        return q->e->code ? q->e->code : SL_EINVAL;
    sql_expr *cond = ex_out[d.ncols];
    /* the flag: the condition is true (a NULL condition changes nothing) */
    sql_expr *flag;
    if (cond) {
        flag = mk_expr(b, SE_BOOLTEST, sql_type_of(ST_BOOL), -1, 1);
        if (!flag)
            return oom(q->e);
        flag->test = 1;
        flag->args[0] = cond;
    } else {
        flag = mk_bool_const(b, true);
    }
    sql_user_catalog *uc = q->s->eng->users;
    pthread_mutex_lock(&uc->write_mu);
    int rc = SL_OK;
    uint64_t changed = 0;
    useg *segs = arena_alloc(&q->a, sizeof *segs * (size_t)(d.nseg * 2 + 1));
    int nseg = 0;
    bool any = false;
    char **replaced = arena_zalloc(&q->a, sizeof *replaced * (size_t)(d.nseg + 1));
    if (!segs || !replaced)
        rc = oom(q->e);
    segw all = {0};
    if (!rc)
        rc = segw_init(&all, q->s->eng, &d, &q->a, q->e);
    for (int sgi = 0; sgi < d.nseg && !rc; sgi++) {
        ((utab *)t)->only_seg = sgi;
        /* the per-segment plan: the scan, then the new row and the flag */
        sql_plan *p = mk_plan(b, SP_PROJECT, d.ncols + 1);
        if (!p) {
            rc = oom(q->e);
            break;
        }
        sql_plan *sc = mk_plan(b, SP_SCAN, scan->ncols);
        if (!sc) {
            rc = oom(q->e);
            break;
        }
        *sc = *scan; /* a fresh node: the optimizer rewrites plans in place */
        sc->types = scan->types;
        sc->names = scan->names;
        int *cols = arena_alloc(&q->a, sizeof *cols * (size_t)(d.ncols + 1));
        if (!cols) {
            rc = oom(q->e);
            break;
        }
        memcpy(cols, scan->scan.cols, sizeof *cols * (size_t)d.ncols);
        sc->scan.cols = cols;
        sc->scan.filter = NULL;
        p->child = sc;
        if (is_delete) {
            /* survivors: rows whose condition is not true */
            sql_plan *f = mk_plan(b, SP_FILTER, d.ncols);
            sql_expr *keep = mk_expr(b, SE_NOT, sql_type_of(ST_BOOL), -1, 1);
            if (!f || !keep) {
                rc = oom(q->e);
                break;
            }
            keep->args[0] = flag;
            f->child = sc;
            f->filter.pred = keep;
            memcpy(f->types, d.types, sizeof *d.types * (size_t)d.ncols);
            memcpy(f->names, d.names, sizeof *d.names * (size_t)d.ncols);
            p->child = f;
        }
        for (int c = 0; c < d.ncols; c++) {
            sql_expr *col = mk_col(b, c, d.types[c], -1), *e = col;
            if (!is_delete && ex_out[c]) {
                char what[96];
                snprintf(what, sizeof what, "column \"%s\"", d.names[c]);
                sql_expr *nv = ex_out[c];
                if (nv->kind == SE_PARAM && nv->type.id == ST_UNKNOWN)
                    param_infer(b, nv->col, d.types[c]);
                if (!sql_type_eq(nv->type, d.types[c]) && !(nv = coerce(b, nv, d.types[c], 'a', what))) {
                    rc = q->e->code ? q->e->code : SL_EINVAL;
                    break;
                }
                /* CASE WHEN flag THEN new ELSE old END */
                e = mk_expr(b, SE_CASE, d.types[c], -1, 3);
                if (!e) {
                    rc = oom(q->e);
                    break;
                }
                e->has_else = 1;
                e->args[0] = flag;
                e->args[1] = nv;
                e->args[2] = col;
            }
            p->project.exprs[c] = e;
            p->types[c] = d.types[c];
            p->names[c] = d.names[c];
        }
        if (rc)
            break;
        p->project.exprs[d.ncols] = is_delete ? mk_bool_const(b, false) : flag;
        p->types[d.ncols] = sql_type_of(ST_BOOL);
        p->names[d.ncols] = "?changed?";
        rewrite r = {.ncols = d.ncols, .flag = !is_delete};
        if ((rc = segw_init(&r.w, q->s->eng, &d, &q->a, q->e)))
            break;
        uint64_t before = q->nrows;
        rc = sql_run_plan_all(q, p, false, rewrite_rows, &r);
        /* the plan ran in q's executor: free its operators before the next segment */
        if (q->root) {
            sql_op_close(q->root);
            q->root = NULL;
        }
        if (q->x_on) {
            void sql_exec_free_ctes(sql_exec * x);
            void sql_exec_free_subqueries(sql_exec * x);
            sql_exec_free_ctes(&q->x);
            sql_exec_free_subqueries(&q->x);
            pthread_mutex_destroy(&q->x.mu);
            q->x_on = false;
        }
        uint64_t kept = q->nrows - before;
        uint64_t seg_changed = is_delete ? (uint64_t)d.segs[sgi].rows - kept : r.changed;
        if (!rc && seg_changed == 0) {
            /* nothing changed here: the segment stays, what was written goes */
            if (r.w.w) {
                pq_writer_free(r.w.w);
                r.w.w = NULL;
                dbuf_free(&r.w.buf);
            }
            segw_done(&r.w);
            segs[nseg++] = d.segs[sgi];
            continue;
        }
        if (!rc)
            rc = segw_flush(&r.w);
        if (rc) {
            segw_abort(&r.w);
            break;
        }
        changed += seg_changed;
        any = true;
        replaced[sgi] = (char *)d.segs[sgi].key;
        for (int k = 0; k < r.w.nout; k++)
            segs[nseg++] = r.w.out[k];
        /* keep track of the new segments for an abort */
        for (int k = 0; k < r.w.nout; k++) {
            if (all.nout == all.cap) {
                int nc = all.cap ? all.cap * 2 : 8;
                useg *nn = arena_alloc(&q->a, sizeof *nn * (size_t)nc);
                if (!nn) {
                    rc = oom(q->e);
                    break;
                }
                if (all.out)
                    memcpy(nn, all.out, sizeof *nn * (size_t)all.nout);
                all.out = nn;
                all.cap = nc;
            }
            all.out[all.nout++] = r.w.out[k];
        }
        segw_done(&r.w);
    }
    if (!rc && any) {
        udef nd = d;
        nd.segs = segs;
        nd.nseg = nseg;
        rc = def_put(q->s->eng, name, &nd, d.version, q->e);
    }
    pthread_mutex_unlock(&uc->write_mu);
    if (rc) {
        segw_abort(&all);
        q->nrows = 0;
        return rc;
    }
    segw_done(&all);
    for (int i = 0; i < d.nseg; i++)
        if (replaced[i])
            retire_later(uc, replaced[i]);
    retire_sweep(q->s->eng, false);
    q->nrows = changed;
    snprintf(q->tag, sizeof q->tag, "%s %llu", is_delete ? "DELETE" : "UPDATE",
             (unsigned long long)changed);
    return SL_OK;
}

static int truncate_tables(sql_query *q, const PgQuery__TruncateStmt *t)
{
    snprintf(q->tag, sizeof q->tag, "TRUNCATE TABLE");
    sql_user_catalog *uc = q->s->eng->users;
    for (size_t i = 0; i < t->n_relations; i++) {
        const PgQuery__RangeVar *rv = t->relations[i]->range_var;
        const char *name = rel_name(q, rv);
        if (!name)
            return SL_EINVAL;
        udef d;
        int ex = def_get(q->s->eng, name, &q->a, &d, q->e);
        if (ex < 0)
            return ex;
        if (!ex || d.kind != UK_TABLE)
            return sql_err_set(q->e, ex ? "42809" : SQLSTATE_UNDEFINED_TABLE, rv->location,
                               ex ? "\"%s\" is not a table" : "relation \"%s\" does not exist",
                               name);
        udef nd = d;
        nd.nseg = 0;
        pthread_mutex_lock(&uc->write_mu);
        int rc = def_put(q->s->eng, name, &nd, d.version, q->e);
        pthread_mutex_unlock(&uc->write_mu);
        if (rc)
            return rc;
        for (int k = 0; k < d.nseg; k++)
            retire_later(uc, d.segs[k].key);
    }
    return SL_OK;
}

static int drop(sql_query *q, const PgQuery__DropStmt *ds)
{
    bool view = ds->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_VIEW;
    bool index = ds->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_INDEX;
    snprintf(q->tag, sizeof q->tag, view ? "DROP VIEW" : index ? "DROP INDEX" : "DROP TABLE");
    if (index)
        return SL_OK; /* indexes are not kept: dropping one changes nothing */
    if (!view && ds->remove_type != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE)
        return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "only DROP TABLE, DROP VIEW and DROP "
                                                       "INDEX are supported");
    sql_user_catalog *uc = q->s->eng->users;
    for (size_t i = 0; i < ds->n_objects; i++) {
        const PgQuery__List *l = ds->objects[i]->list;
        const char *name = l && l->n_items ? node_str(l->items[l->n_items - 1]) : NULL;
        if (!name)
            return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "DROP: unsupported object name");
        udef d;
        int ex = def_get(q->s->eng, name, &q->a, &d, q->e);
        if (ex < 0)
            return ex;
        if (!ex) {
            if (ds->missing_ok)
                continue;
            if (builtin_name(q->s->eng, name))
                return sql_err_set(q->e, "42809", -1, "\"%s\" is a lake table; it cannot be "
                                                      "dropped", name);
            return sql_err_set(q->e, SQLSTATE_UNDEFINED_TABLE, -1, "%s \"%s\" does not exist",
                               view ? "view" : "table", name);
        }
        if ((d.kind == UK_VIEW) != view)
            return sql_err_set(q->e, "42809", -1, "\"%s\" is not a %s", name,
                               view ? "view" : "table");
        pthread_mutex_lock(&uc->write_mu);
        int rc = def_put(q->s->eng, name, NULL, d.version, q->e);
        pthread_mutex_unlock(&uc->write_mu);
        if (rc)
            return rc;
        for (int k = 0; k < d.nseg; k++)
            retire_later(uc, d.segs[k].key);
    }
    retire_sweep(q->s->eng, false);
    return SL_OK;
}

/* The SELECT of a view as text: PostgreSQL's own deparser over its parse tree. */
static char *deparse_select(arena *a, PgQuery__Node *query)
{
    PgQuery__RawStmt raw = PG_QUERY__RAW_STMT__INIT;
    raw.stmt = query;
    PgQuery__RawStmt *rp = &raw;
    PgQuery__ParseResult pr = PG_QUERY__PARSE_RESULT__INIT;
    pr.version = PG_VERSION_NUM;
    pr.n_stmts = 1;
    pr.stmts = &rp;
    size_t n = pg_query__parse_result__get_packed_size(&pr);
    uint8_t *buf = sl_malloc(n ? n : 1);
    if (!buf)
        return NULL;
    pg_query__parse_result__pack(&pr, buf);
    PgQueryProtobuf pb = {n, (char *)buf};
    PgQueryDeparseResult r = pg_query_deparse_protobuf(pb);
    sl_free(buf);
    char *out = NULL;
    if (!r.error && r.query)
        out = arena_strndup(a, r.query, strlen(r.query));
    pg_query_free_deparse_result(r);
    return out;
}

static int create_view(sql_query *q, binder *b, PgQuery__ViewStmt *v)
{
    snprintf(q->tag, sizeof q->tag, "CREATE VIEW");
    const char *name = rel_name(q, v->view);
    if (!name)
        return SL_EINVAL;
    if (builtin_name(q->s->eng, name))
        return sql_err_set(q->e, SQLSTATE_DUPLICATE_TABLE, v->view->location,
                           "relation \"%s\" already exists (a lake table)", name);
    if (!v->query || v->query->node_case != PG_QUERY__NODE__NODE_SELECT_STMT)
        return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "a view is a SELECT");
    /* bound now, so a wrong view is refused when created */
    sql_plan *p = bind_select(b, NULL, v->query->select_stmt);
    if (!p)
        return q->e->code ? q->e->code : SL_EINVAL;
    if ((int)v->n_aliases > p->ncols)
        return sql_err_set(q->e, "42601", -1, "CREATE VIEW specifies more column names than "
                                              "columns");
    udef d = {.kind = UK_VIEW, .ncols = p->ncols,
              .names = arena_zalloc(&q->a, sizeof(char *) * (size_t)(p->ncols + 1)),
              .view_sql = deparse_select(&q->a, v->query)};
    if (!d.names || !d.view_sql)
        return sql_err_set(q->e, SQLSTATE_INTERNAL, -1, "the view's query cannot be stored");
    for (int i = 0; i < p->ncols; i++)
        d.names[i] = i < (int)v->n_aliases ? node_str(v->aliases[i]) : p->names[i];
    udef old;
    int ex = def_get(q->s->eng, name, &q->a, &old, q->e);
    if (ex < 0)
        return ex;
    if (ex && (!v->replace || old.kind != UK_VIEW))
        return sql_err_set(q->e, SQLSTATE_DUPLICATE_TABLE, v->view->location,
                           "relation \"%s\" already exists", name);
    sql_user_catalog *uc = q->s->eng->users;
    pthread_mutex_lock(&uc->write_mu);
    int rc = def_put(q->s->eng, name, &d, ex ? old.version : 0, q->e);
    pthread_mutex_unlock(&uc->write_mu);
    return rc;
}

static int create_index(sql_query *q, const PgQuery__IndexStmt *ix)
{
    snprintf(q->tag, sizeof q->tag, "CREATE INDEX");
    const char *name = rel_name(q, ix->relation);
    if (!name)
        return SL_EINVAL;
    udef d;
    int ex = def_get(q->s->eng, name, &q->a, &d, q->e);
    if (ex < 0)
        return ex;
    if (!ex && !builtin_name(q->s->eng, name))
        return sql_err_set(q->e, SQLSTATE_UNDEFINED_TABLE, ix->relation->location,
                           "relation \"%s\" does not exist", name);
    return SL_OK; /* accepted: scans are columnar and parallel; no index is kept */
}

int sql_user_statement(sql_query *q, binder *b, const PgQuery__Node *st)
{
    if (!q->s->eng->m || !q->s->eng->os)
        return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "user tables need a data directory");
    switch (st->node_case) {
    case PG_QUERY__NODE__NODE_CREATE_STMT: return create_table(q, b, st->create_stmt);
    case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
        return create_table_as(q, b, st->create_table_as_stmt);
    case PG_QUERY__NODE__NODE_INSERT_STMT: return insert(q, b, st->insert_stmt);
    case PG_QUERY__NODE__NODE_UPDATE_STMT: {
        const PgQuery__UpdateStmt *u = st->update_stmt;
        snprintf(q->tag, sizeof q->tag, "UPDATE 0");
        if (u->n_from_clause || u->n_returning_list || u->with_clause)
            return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "UPDATE with FROM, RETURNING or WITH "
                                                           "is not supported");
        return update_or_delete(q, b, u->relation, u->where_clause, u->target_list,
                                (int)u->n_target_list, false);
    }
    case PG_QUERY__NODE__NODE_DELETE_STMT: {
        const PgQuery__DeleteStmt *d = st->delete_stmt;
        snprintf(q->tag, sizeof q->tag, "DELETE 0");
        if (d->n_using_clause || d->n_returning_list || d->with_clause)
            return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "DELETE with USING, RETURNING or WITH "
                                                           "is not supported");
        return update_or_delete(q, b, d->relation, d->where_clause, NULL, 0, true);
    }
    case PG_QUERY__NODE__NODE_DROP_STMT: return drop(q, st->drop_stmt);
    case PG_QUERY__NODE__NODE_VIEW_STMT: return create_view(q, b, st->view_stmt);
    case PG_QUERY__NODE__NODE_INDEX_STMT: return create_index(q, st->index_stmt);
    case PG_QUERY__NODE__NODE_TRUNCATE_STMT: return truncate_tables(q, st->truncate_stmt);
    default: return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "this statement is not supported");
    }
}

/* Every user table and view (for information_schema): fn(arg, name, def) per row. */
typedef struct each_ctx {
    sql_engine *eng;
    arena *a;
    int (*fn)(void *arg, sql_table *t);
    void *arg;
} each_ctx;

static int each_user(void *arg, const meta_sql_table *row)
{
    each_ctx *c = arg;
    udef d;
    if (def_parse(c->a, row->def, row->version, &d))
        return 0;
    sql_table *t = table_of(c->eng, row->name, &d, c->a);
    return t ? c->fn(c->arg, t) : SL_ENOMEM;
}

int sql_user_each(sql_engine *eng, arena *a, int (*fn)(void *arg, sql_table *t), void *arg);
int sql_user_each(sql_engine *eng, arena *a, int (*fn)(void *arg, sql_table *t), void *arg)
{
    if (!eng->m)
        return SL_OK;
    each_ctx c = {eng, a, fn, arg};
    errmsg em;
    return meta_sql_table_list(eng->m, NULL, each_user, &c, &em);
}
