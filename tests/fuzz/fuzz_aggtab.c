/*
 * fuzz_aggtab.c - fuzz target for an aggregation table read back from a
 * checkpoint (sql_aggtab_load, src/sql/exec/op_agg.c; the byte table is in
 * docs/internals/stream.md): group keys, aggregate states, what DISTINCT has
 * seen and the rows ORDER BY inside a call keeps, the percentiles' values and
 * approx_percentile's sample.
 *
 * The table is GROUP BY k over (k bigint, v text, t text, x float8) with
 * count(DISTINCT v), string_agg(t, ',' ORDER BY t DESC), percentile_cont and
 * _disc, approx_percentile, sum and avg.  At the start a valid image is made
 * from rows with NULLs and repeats.  The first byte of an input picks what the
 * rest is, modulo 3:
 *   0  the bytes to load, as they are
 *   1  the valid image with patches: (u16 offset modulo its length, byte) pairs
 *   2  the same, cut first at a u16 length (modulo its length)
 * A table that loads is saved again, loads again and saves the same bytes, and
 * gives its groups; one that does not changes nothing.  A crash, an
 * out-of-bounds read, a leak or a save that does not reload is a bug.
 */
#include "sql/query_int.h"
#include "sql/run.h"

#include "base/dbuf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sql_engine *g_eng;
static sql_session *g_s;
static sql_query *g_q;
static sql_op *g_agg;
static dbuf g_img;

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_aggtab: %s\n", what);
    abort();
}

static void close_all(void)
{
    dbuf_free(&g_img);
    sql_query_close(g_q);
    sql_session_free(g_s);
    sql_engine_close(g_eng);
}

/* The table's input: rows of (k, v, t, x) with NULLs, repeats and ties. */
static sql_batch *input_rows(const sql_plan *in)
{
    sql_batch *b;
    if (in->ncols != 4 || sql_batch_new(in->ncols, in->types, &b))
        fail("the aggregation's input is not (k, v, t, x)");
    static const char *words[] = {"ant", "bee", "cat", NULL, "bee", "dog", "", "cat"};
    for (int i = 0; i < 40; i++) {
        const char *v = words[i % 8], *t = words[(i * 3) % 8];
        int rc = i % 11 == 10 ? col_vec_append_null(&b->cols[0])
                              : col_vec_append_i64(&b->cols[0], i % 4);
        rc |= v ? col_vec_append_str(&b->cols[1], v, strlen(v)) : col_vec_append_null(&b->cols[1]);
        rc |= t ? col_vec_append_str(&b->cols[2], t, strlen(t)) : col_vec_append_null(&b->cols[2]);
        rc |= i % 7 == 3 ? col_vec_append_null(&b->cols[3])
                         : col_vec_append_f64(&b->cols[3], (double)(i * 37 % 23) / 4.0);
        if (rc)
            fail("out of memory");
    }
    b->n = 40;
    return b;
}

static void setup(void)
{
    sql_engine_opts o = {.work_mem_bytes = 16 << 20, .max_memory_bytes = 64 << 20,
                         .statement_timeout_ms = 0, .workers = 1};
    errmsg em;
    sql_err e;
    sql_err_clear(&e);
    if (sql_engine_open(NULL, NULL, NULL, &o, &g_eng, &em) || sql_session_new(g_eng, &g_s))
        fail("no engine");
    atexit(close_all);
    const char *text =
        "SELECT k, count(DISTINCT v), string_agg(t, ',' ORDER BY t DESC), "
        "percentile_cont(0.25) WITHIN GROUP (ORDER BY x), percentile_disc(0.5) WITHIN GROUP "
        "(ORDER BY t), approx_percentile(x, 0.9), sum(x), avg(x) FROM (VALUES "
        "(1::bigint, 'a'::text, 'b'::text, 1.5::float8)) AS s(k, v, t, x) GROUP BY k";
    if (sql_query_open_plan(g_s, text, &g_q, &e))
        fail(e.msg);
    for (sql_op *op = g_q->root; op && !g_agg; op = op->child)
        if (op->p->kind == SP_AGG)
            g_agg = op;
    if (!g_agg)
        fail("no aggregation in the plan");
    const char *why = sql_aggtab_unsavable(g_agg);
    if (why)
        fail(why);
    sql_aggtab *t;
    sql_batch *b = input_rows(g_agg->p->child);
    dbuf_init(&g_img, 1u << 24);
    if (sql_aggtab_new(g_agg, &t, &e) || sql_aggtab_add(t, b, &e) || sql_aggtab_save(t, &g_img))
        fail("no valid image");
    sql_batch_free(b);
    sql_aggtab_free(t);
}

/* Loads p[0..n) into a new table: saved again when it loads (into out). */
static int load(const uint8_t *p, size_t n, dbuf *out)
{
    sql_aggtab *t;
    sql_err e;
    sql_err_clear(&e);
    if (sql_aggtab_new(g_agg, &t, &e))
        fail("no table");
    int rc = sql_aggtab_load(t, p, n, &e);
    if (!rc && out && sql_aggtab_save(t, out))
        fail("a loaded table does not save");
    if (!rc && !out) { /* its groups, finalized */
        sql_batch *o;
        while (!sql_aggtab_next(t, &o, &e) && o)
            sql_batch_free(o);
    }
    sql_aggtab_free(t);
    return rc;
}

static void one(const uint8_t *p, size_t n)
{
    dbuf a, b;
    dbuf_init(&a, 1u << 26);
    dbuf_init(&b, 1u << 26);
    if (!load(p, n, &a)) {
        if (load(a.p, a.len, &b) || a.len != b.len || memcmp(a.p, b.p, a.len))
            fail("a saved table does not load back the same");
        load(p, n, NULL);
    }
    dbuf_free(&a);
    dbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_eng)
        setup();
    if (size == 0 || size > 1 << 16)
        return 0;
    int mode = data[0] % 3;
    if (mode == 0) {
        one(data + 1, size - 1);
        return 0;
    }
    size_t n = g_img.len, at = 1;
    if (mode == 2 && size >= 3) {
        n = n ? (size_t)(data[1] | data[2] << 8) % (n + 1) : 0;
        at = 3;
    }
    uint8_t *c = malloc(n ? n : 1);
    if (!c)
        return 0;
    memcpy(c, g_img.p, n);
    for (; n && at + 3 <= size; at += 3)
        c[(size_t)(data[at] | data[at + 1] << 8) % n] = data[at + 2];
    one(c, n);
    free(c);
    return 0;
}
