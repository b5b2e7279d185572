/*
 * user_stage.c - staged appends to a user table (user_stage.h).
 *
 * Rows go through the same segment writer as INSERT (user.c), whose segments
 * are then keyed {tag}-{k} instead of a fresh uuid.  Publishing adds the
 * stored segments to the definition under the writers' lock, as INSERT does
 * (a compare-and-set on the definition's version): all of them become visible
 * in one change, or none.  Truncating removes the tag's segments numbered at
 * or past a bound in one change as well; their files are retired (deleted
 * after the grace period, as UPDATE and DELETE retire replaced segments).
 *
 * Memory: the segment being written (at most one segment's rows, as an
 * INSERT holds) and the keys of stored, unpublished segments, dropped at each
 * publication (their arena is reset then).
 */
#include "sql/catalog/user_stage.h"
#include "sql/catalog/user_int.h"

#include "base/alloc.h"
#include "objstore/objstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sql_user_stage {
    sql_engine *eng;
    char *name;
    char tag[SQL_USER_STAGE_TAG_MAX + 1];
    arena da;                /* the definition as opened (uid, columns) */
    arena sa;                /* the unpublished segments' keys: reset at each publication */
    udef d;
    segw w;
    sql_err err;             /* the segment writer's */
};

static int oom(sql_err *e)
{
    return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
}

static bool tag_ok(const char *tag)
{
    size_t n = strlen(tag);
    if (!n || n > SQL_USER_STAGE_TAG_MAX)
        return false;
    for (const char *p = tag; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return false;
    return true;
}

void sql_user_stage_close(sql_user_stage *s)
{
    if (!s)
        return;
    if (s->w.w)
        pq_writer_free(s->w.w);
    dbuf_free(&s->w.buf);
    user_segw_done(&s->w);
    arena_destroy(&s->sa);
    arena_destroy(&s->da);
    sl_free(s->name);
    sl_free(s);
}

/* A stored segment of the tag: the next number goes past it. */
static int past_last(void *arg, const char *key, const objstore_stat *st)
{
    (void)st;
    segw *w = arg;
    const char *dash = strrchr(key, '-');
    char *end;
    long long k = dash ? strtoll(dash + 1, &end, 10) : -1;
    if (dash && end != dash + 1 && !strcmp(end, ".parquet") && k >= w->next_k)
        w->next_k = k + 1;
    return 0;
}

int sql_user_stage_open(sql_engine *eng, const char *name, const char *tag, int64_t first,
                        int ncols, const sql_type *types, sql_user_stage **out, sql_err *e)
{
    *out = NULL;
    if (!eng->m || !eng->os)
        return sql_err_set(e, SQLSTATE_FEATURE, -1, "user tables need a data directory");
    if (!tag_ok(tag))
        return sql_err_set(e, SQLSTATE_INTERNAL, -1, "staged append: bad tag \"%s\"", tag);
    sql_user_stage *s = sl_calloc(1, sizeof *s);
    if (!s || !(s->name = sl_strdup(name))) {
        sl_free(s);
        return oom(e);
    }
    s->eng = eng;
    snprintf(s->tag, sizeof s->tag, "%s", tag);
    arena_init(&s->da, 4096, (size_t)64 << 20);
    arena_init(&s->sa, 4096, (size_t)64 << 20);
    int rc = user_def_get(eng, name, &s->da, &s->d, e);
    if (rc == 0 || (rc > 0 && s->d.kind != UK_TABLE))
        rc = sql_err_set(e, "42809", -1, "\"%s\" is not a user table", name);
    else if (rc > 0)
        rc = SL_OK;
    bool same = !rc && s->d.ncols == ncols;
    for (int i = 0; same && i < ncols; i++)
        same = sql_type_eq(s->d.types[i], types[i]);
    if (!rc && !same)
        rc = sql_err_set(e, SQLSTATE_DATATYPE_MISMATCH, -1, "user table \"%s\" does not have "
                         "the sink's columns (their number and types must be the same)", name);
    if (!rc && (rc = user_segw_init(&s->w, eng, &s->d, &s->sa, &s->err)))
        *e = s->err;
    if (rc) {
        sql_user_stage_close(s);
        return rc;
    }
    s->w.tag = s->tag;
    s->w.next_k = first;
    /* Numbers past first may name stored segments already (a crashed writer's, never
     * published or cut back since): new ones are numbered after them, as segments are
     * stored create-only. */
    char prefix[300];
    snprintf(prefix, sizeof prefix, USER_TABLES_PREFIX "%s/%s-", s->d.uid ? s->d.uid : "",
             s->tag);
    errmsg em = {0};
    if (objstore_list(eng->os, prefix, past_last, &s->w, &em)) {
        rc = sql_err_set(e, "58030", -1, "listing %s: %s", prefix, em.text);
        sql_user_stage_close(s);
        return rc;
    }
    *out = s;
    return SL_OK;
}

int sql_user_stage_add(sql_user_stage *s, const sql_batch *b, sql_err *e)
{
    sql_err_clear(&s->err);
    int rc = user_segw_add(&s->w, b);
    if (rc)
        *e = s->err.state[0] ? s->err : (oom(e), *e);
    return rc;
}

int sql_user_stage_publish(sql_user_stage *s, int64_t *next, sql_err *e)
{
    sql_err_clear(&s->err);
    int rc = user_segw_flush(&s->w);
    if (rc) {
        *e = s->err.state[0] ? s->err : (oom(e), *e);
        return rc;
    }
    if (s->w.nout) {
        arena a;
        arena_init(&a, 4096, (size_t)256 << 20);
        rc = sql_user_add_segments(s->eng, s->name, &s->d, s->w.out, s->w.nout, &a, e);
        arena_destroy(&a);
        if (rc)
            return rc;
    }
    s->w.out = NULL;
    s->w.nout = s->w.cap = 0;
    arena_reset(&s->sa);
    *next = s->w.next_k;
    return SL_OK;
}

typedef struct cut {
    const char *tag;
    int64_t keep_below;
    const char **gone;       /* keys removed (in the change's arena) */
    int ngone;
} cut;

/* Whether key is sql/tables/{uid}/{tag}-{k}.parquet with k >= keep_below. */
static bool past_cut(const cut *c, const char *uid, const char *key)
{
    size_t pl = strlen(USER_TABLES_PREFIX), ul = strlen(uid), tl = strlen(c->tag);
    if (strncmp(key, USER_TABLES_PREFIX, pl) || strncmp(key + pl, uid, ul) ||
        key[pl + ul] != '/')
        return false;
    const char *t = key + pl + ul + 1;
    if (strncmp(t, c->tag, tl) || t[tl] != '-' || t[tl + 1] < '0' || t[tl + 1] > '9')
        return false;
    char *end;
    long long k = strtoll(t + tl + 1, &end, 10);
    return !strcmp(end, ".parquet") && k >= c->keep_below;
}

static int drop_segs(void *arg, udef *d, arena *a, bool *changed)
{
    cut *c = arg;
    if (!d->uid || !d->nseg)
        return SL_OK;
    if (!(c->gone = arena_alloc(a, sizeof *c->gone * (size_t)d->nseg)))
        return SL_ENOMEM;
    int n = 0;
    for (int i = 0; i < d->nseg; i++) {
        if (past_cut(c, d->uid, d->segs[i].key))
            c->gone[c->ngone++] = d->segs[i].key;
        else
            d->segs[n++] = d->segs[i];
    }
    d->nseg = n;
    *changed = c->ngone > 0;
    return SL_OK;
}

int sql_user_stage_truncate(sql_engine *eng, const char *name, const char *tag,
                            int64_t keep_below, sql_err *e)
{
    if (!eng->m || !eng->os)
        return sql_err_set(e, SQLSTATE_FEATURE, -1, "user tables need a data directory");
    if (!tag_ok(tag))
        return sql_err_set(e, SQLSTATE_INTERNAL, -1, "staged append: bad tag \"%s\"", tag);
    cut c = {.tag = tag, .keep_below = keep_below};
    arena a;
    arena_init(&a, 4096, (size_t)256 << 20);
    int rc = user_def_change(eng, name, NULL, drop_segs, &c, &a, e);
    /* the definition without them stored: the files go after the grace period */
    for (int i = 0; !rc && i < c.ngone; i++)
        user_retire_later(eng->users, c.gone[i]);
    arena_destroy(&a);
    return rc;
}
