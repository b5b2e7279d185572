/*
 * user.c - user tables and views: their definitions, segments, and reading
 * and writing them (the statements are in user_stmt.c).
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
#include "sql/catalog/user_int.h"

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

int sql_user_open(sql_engine *eng, errmsg *e);
void sql_user_close(sql_engine *eng);
struct sql_table *sql_user_lookup(sql_engine *eng, const char *name, arena *a, sql_err *e);

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

static void def_ent_free(struct def_ent *d)
{
    sl_free(d->name);
    arena_destroy(&d->pa);
}

/* A copy of s in a (the strings and arrays too): a query keeps it after the cache moves on. */
static int udef_copy(arena *a, const udef *s, udef *d)
{
    *d = *s;
    d->uid = s->uid ? arena_strndup(a, s->uid, strlen(s->uid)) : NULL;
    d->view_sql = s->view_sql ? arena_strndup(a, s->view_sql, strlen(s->view_sql)) : NULL;
    d->names = arena_alloc(a, sizeof *d->names * (size_t)(s->ncols + 1));
    d->types = arena_alloc(a, sizeof *d->types * (size_t)(s->ncols + 1));
    d->segs = arena_alloc(a, sizeof *d->segs * (size_t)(s->nseg + 1));
    if ((s->uid && !d->uid) || (s->view_sql && !d->view_sql) || !d->names || !d->types ||
        !d->segs)
        return SL_ENOMEM;
    for (int i = 0; i < s->ncols; i++) {
        d->names[i] = arena_strndup(a, s->names[i], strlen(s->names[i]));
        d->types[i] = s->types[i];
        if (!d->names[i])
            return SL_ENOMEM;
    }
    for (int i = 0; i < s->nseg; i++) {
        d->segs[i] = s->segs[i];
        if (!(d->segs[i].key = arena_strndup(a, s->segs[i].key, strlen(s->segs[i].key))))
            return SL_ENOMEM;
    }
    return SL_OK;
}

static void defs_clear(sql_user_catalog *uc)
{
    pthread_mutex_lock(&uc->def_mu);
    for (int i = 0; i < uc->ndefs; i++)
        def_ent_free(&uc->defs[i]);
    uc->ndefs = 0;
    uc->def_gen++;
    pthread_mutex_unlock(&uc->def_mu);
}

/* The cached definition of name into g (1), or 0 when it is not cached. */
static int defs_get(sql_user_catalog *uc, const char *name, get_ctx *g)
{
    int hit = 0;
    pthread_mutex_lock(&uc->def_mu);
    for (int i = 0; i < uc->ndefs && !hit; i++) {
        if (strcmp(uc->defs[i].name, name))
            continue;
        hit = 1;
        if ((g->found = uc->defs[i].found))
            g->rc = udef_copy(g->a, &uc->defs[i].ud, g->d);
    }
    pthread_mutex_unlock(&uc->def_mu);
    return hit;
}

/* Reads name's definition from the catalog, parsed once into an entry that is kept (absent
 * too) unless a change came meanwhile; g gets a copy. */
static int defs_load(sql_engine *eng, const char *name, get_ctx *g, errmsg *em)
{
    struct def_ent d = {0};
    arena_init(&d.pa, 4096, (size_t)64 << 20);
    get_ctx lg = {&d.pa, &d.ud, 0, false};
    sql_user_catalog *uc = eng->users;
    pthread_mutex_lock(&uc->def_mu);
    uint64_t gen = uc->def_gen;
    pthread_mutex_unlock(&uc->def_mu);
    int rc = meta_sql_table_list(eng->m, name, got_row, &lg, em);
    d.found = lg.found;
    g->found = lg.found;
    g->rc = lg.rc ? lg.rc : lg.found ? udef_copy(g->a, &d.ud, g->d) : SL_OK;
    bool kept = false;
    if (!rc && !lg.rc && (d.name = sl_strdup(name))) {
        pthread_mutex_lock(&uc->def_mu);
        if (gen == uc->def_gen) { /* else changed meanwhile: not kept */
            if (uc->ndefs == (int)(sizeof uc->defs / sizeof uc->defs[0])) {
                def_ent_free(&uc->defs[0]);
                uc->defs[0] = uc->defs[--uc->ndefs];
            }
            uc->defs[uc->ndefs++] = d;
            kept = true;
        }
        pthread_mutex_unlock(&uc->def_mu);
    }
    if (!kept)
        def_ent_free(&d);
    return rc;
}

/* The current definition of name: 1 found, 0 absent, negative on failure (e set). */
int user_def_get(sql_engine *eng, const char *name, arena *a, udef *d, sql_err *e)
{
    get_ctx g = {a, d, 0, false};
    errmsg em = {0};
    /* A shared store (several servers) is changed by others: read it every time. */
    int rc = !eng->m->shared && defs_get(eng->users, name, &g) ? SL_OK
                                                                : defs_load(eng, name, &g, &em);
    if (rc)
        return sql_err_set(e, "58030", -1, "catalog: %s", em.text);
    if (g.found && g.rc)
        return sql_err_set(e, SQLSTATE_INTERNAL, -1, "the definition of \"%s\" cannot be read",
                           name);
    return g.found ? 1 : 0;
}

/* Stores d as name's definition (expect: its current version, 0 to create). */
int user_def_put(sql_engine *eng, const char *name, const udef *d, int64_t expect, sql_err *e)
{
    dbuf j;
    dbuf_init(&j, (size_t)64 << 20);
    int rc = d ? def_json(d, &j) : SL_OK;
    errmsg em = {0};
    int64_t nv;
    defs_clear(eng->users); /* before and after: a reader in between reads the catalog */
    if (!rc)
        rc = meta_sql_table_put(eng->m, name, expect, d ? (const char *)j.p : NULL, &nv, &em);
    defs_clear(eng->users);
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

int user_def_change(sql_engine *eng, const char *name, const char *uid,
                    int (*fn)(void *arg, udef *d, arena *a, bool *changed), void *arg,
                    arena *a, sql_err *e)
{
    sql_user_catalog *uc = eng->users;
    pthread_mutex_lock(&uc->write_mu);
    /* the definition as it is now (another statement may have changed it) */
    udef cur;
    int cx = user_def_get(eng, name, a, &cur, e);
    int rc = cx < 0 ? cx
             : !cx || cur.kind != UK_TABLE || (uid && strcmp(cur.uid ? cur.uid : "", uid))
                 ? sql_err_set(e, "40001", -1, "could not serialize access: \"%s\" was dropped "
                               "or replaced", name)
                 : SL_OK;
    bool changed = false;
    if (!rc && (rc = fn(arg, &cur, a, &changed)) == SL_ENOMEM && !e->state[0])
        sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    if (!rc && changed)
        rc = user_def_put(eng, name, &cur, cur.version, e);
    pthread_mutex_unlock(&uc->write_mu);
    return rc;
}

typedef struct seg_list {
    const useg *segs;
    int n;
} seg_list;

static int append_segs(void *arg, udef *d, arena *a, bool *changed)
{
    const seg_list *l = arg;
    useg *all = arena_alloc(a, sizeof *all * (size_t)(d->nseg + l->n + 1));
    if (!all)
        return SL_ENOMEM;
    if (d->nseg)
        memcpy(all, d->segs, sizeof *all * (size_t)d->nseg);
    memcpy(all + d->nseg, l->segs, sizeof *all * (size_t)l->n);
    d->segs = all;
    d->nseg += l->n;
    *changed = true;
    return SL_OK;
}

int sql_user_add_segments(sql_engine *eng, const char *name, const udef *d, const useg *segs,
                          int n, arena *a, sql_err *e)
{
    seg_list l = {segs, n};
    return user_def_change(eng, name, d->uid ? d->uid : "", append_segs, &l, a, e);
}

/* ---- retiring segments ---- */

void user_retire_later(sql_user_catalog *uc, const char *key)
{
    size_t n = strlen(key) + 1;
    retired *r = sl_malloc(sizeof *r + n);
    if (!r)
        return; /* the orphan sweep at the next start removes it */
    user_cache_drop(uc->cache, key);
    r->at = clock_mono_ns();
    memcpy(r->key, key, n);
    pthread_mutex_lock(&uc->retire_mu);
    r->next = uc->retired;
    uc->retired = r;
    pthread_mutex_unlock(&uc->retire_mu);
}

/* Deletes retired segments older than the grace period (all of them at close). */
void user_retire_sweep(sql_engine *eng, bool all)
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
    pthread_mutex_init(&uc->def_mu, NULL);
    eng->users = uc;
    if (user_cache_new(&uc->cache))
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    if (!eng->m || !eng->os)
        return SL_OK;
    refs r = {0};
    int rc = meta_sql_table_list(eng->m, NULL, collect_refs, &r, e);
    if (!rc && !r.rc) {
        if (r.n)
            qsort(r.keys, r.n, sizeof *r.keys, cmp_str);
        sweep s = {eng, &r, clock_wall_ns()};
        errmsg le;
        objstore_list(eng->os, USER_TABLES_PREFIX, maybe_orphan, &s, &le);
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
        user_retire_sweep(eng, true);
    pthread_mutex_destroy(&uc->write_mu);
    pthread_mutex_destroy(&uc->retire_mu);
    defs_clear(uc);
    pthread_mutex_destroy(&uc->def_mu);
    user_cache_free(uc->cache);
    sl_free(uc);
    eng->users = NULL;
}

/* ---- reading a table ---- */

typedef struct useg_scan {
    sql_scan base;
    utab *u;
    const sql_scan_req *req;
    dbuf bytes;
    pq_reader *r;
    pq_scan *s;
    sql_batch *cached;       /* a small segment's rows, from the cache */
} useg_scan;

static int oom(sql_err *e)
{
    return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
}

static int us_next(sql_scan *s, sql_batch **out, sql_err *e)
{
    useg_scan *u = (useg_scan *)s;
    *out = NULL;
    if (u->cached || !u->s) {
        *out = u->cached; /* the whole segment at once, then the end */
        u->cached = NULL;
        return SL_OK;
    }
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
    sql_batch_free(u->cached);
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

/* Opens the Parquet reader of a segment for columns cols[0..n) (the table's indexes). */
static int seg_open(useg_scan *s, const useg *sg, const int *cols, int n, int batch_rows,
                    errmsg *em)
{
    char names[USER_MAX_COLS][12];
    const char *np[USER_MAX_COLS];
    for (int i = 0; i < n && i < USER_MAX_COLS; i++) {
        snprintf(names[i], sizeof names[i], "c%d", cols[i]);
        np[i] = names[i];
    }
    pq_scan_opts so = {.columns = np, .ncolumns = n, .batch_rows = batch_rows};
    return objstore_get(s->u->eng->os, sg->key, &s->bytes, em) ||
           pq_reader_open(s->bytes.p, s->bytes.len, NULL, &s->r, em) ||
           pq_scan_open(s->r, &so, &s->s, em);
}

/* A small segment (one batch): every column decoded into the cache, then this scan's
 * columns shared from it.  0 when it worked, else the caller reads it the usual way. */
static int cache_small(useg_scan *s, const useg *sg)
{
    utab *u = s->u;
    int all[USER_MAX_COLS];
    lakescan_col cols[USER_MAX_COLS];
    for (int i = 0; i < u->d.ncols; i++) {
        all[i] = i;
        memset(&cols[i], 0, sizeof cols[i]);
        cols[i].type = u->d.types[i];
        cols[i].conv = sql_type_phys(cols[i].type) == COL_FIXED16 ? LC_BIN16 : LC_SHARE;
    }
    errmsg em = {0};
    col_batch *cb = NULL, *more = NULL;
    sql_batch *b = NULL;
    sql_err ce;
    int rc = seg_open(s, sg, all, u->d.ncols, (int)sg->rows, &em) ||
             pq_scan_next(s->s, &cb, &em) || !cb || cb->nrows != sg->rows ||
             pq_scan_next(s->s, &more, &em) || more ||
             lakescan_convert(cb, NULL, cols, u->d.ncols, NULL, &b, &ce);
    col_batch_release(cb);
    col_batch_release(more);
    if (s->s)
        pq_scan_close(s->s);
    if (s->r)
        pq_reader_close(s->r);
    s->s = NULL;
    s->r = NULL;
    dbuf_free(&s->bytes);
    if (rc) {
        sql_batch_free(b);
        return -1;
    }
    user_cache_put(u->eng->users->cache, sg->key, b);
    return user_cache_get(u->eng->users->cache, sg->key, s->req->cols, s->req->ncols,
                          &s->cached) ? 0 : -1;
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
    int batch = req->batch_rows > 0 ? req->batch_rows : 8192;
    if (sg->rows > 0 && sg->rows <= batch &&
        (user_cache_get(u->eng->users->cache, sg->key, req->cols, req->ncols, &s->cached) ||
         !cache_small(s, sg))) {
        *out = &s->base;
        return SL_OK;
    }
    errmsg em = {0};
    if (seg_open(s, sg, req->cols, req->ncols, batch, &em)) {
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

sql_table *user_table_of(sql_engine *eng, const char *name, const udef *d, arena *a)
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
    int rc = user_def_get(eng, name, a, &d, e);
    if (rc <= 0)
        return NULL;
    return user_table_of(eng, name, &d, a);
}

/* ---- writing segments ---- */

static col_type seg_col_type(sql_type t)
{
    col_type p = sql_type_phys(t);
    return p == COL_FIXED16 ? COL_BINARY : p;
}

int user_segw_init(segw *s, sql_engine *eng, const udef *d, arena *a, sql_err *e)
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
int user_segw_flush(segw *s)
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
    char uid[UUID_STR_LEN + 32], key[300];
    if (s->tag) { /* a staged append's (user_stage.c): numbered, so it can be found again */
        snprintf(uid, sizeof uid, "%s-%010lld", s->tag, (long long)s->next_k++);
    } else {
        sl_uuid id;
        uuid_v4(&id);
        uuid_format(&id, uid);
    }
    snprintf(key, sizeof key, USER_TABLES_PREFIX "%s/%s.parquet", s->d->uid, uid);
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
int user_segw_add(segw *s, const sql_batch *b)
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
    return s->rows >= SEGMENT_ROWS ? user_segw_flush(s) : SL_OK;
}

void user_segw_abort(segw *s)
{
    if (s->w)
        pq_writer_free(s->w);
    s->w = NULL;
    dbuf_free(&s->buf);
    /* segments already stored are orphans: removed when no definition names them */
    for (int i = 0; i < s->nout; i++)
        user_retire_later(s->eng->users, s->out[i].key);
    col_schema_unref(s->schema);
    s->schema = NULL;
}

void user_segw_done(segw *s)
{
    col_schema_unref(s->schema);
    s->schema = NULL;
}

int user_write_rows(void *arg, const sql_batch *b)
{
    return user_segw_add(arg, b);
}

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
    sql_table *t = user_table_of(c->eng, row->name, &d, c->a);
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
