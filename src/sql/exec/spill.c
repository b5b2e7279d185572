/*
 * spill.c - batches written to an anonymous temporary file and read back
 * (sorts larger than work_mem: see spill.h).
 */
#include "sql/exec/spill.h"

#include "base/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SPILL_MAGIC 0x50534c53u /* "SLSP" */

typedef struct spill_head {
    uint32_t magic;
    uint32_t ncols;
    uint64_t nrows;
} spill_head;

typedef struct spill_col {
    uint8_t type;            /* col_type (never COL_DICT: written as strings) */
    uint8_t has_validity;
    uint8_t pad[6];
    uint64_t null_count;
    uint64_t values_len, data_len;
} spill_col;

static int fail(sql_err *e, const char *what)
{
    return sql_err_set(e, "58030", -1, "temporary file for a sort: %s: %s", what, strerror(errno));
}

int sql_spill_open(sql_spill *sp, sql_err *e)
{
    memset(sp, 0, sizeof *sp);
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    /* unnamed from the start: nothing to clean up after a crash */
    sp->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (sp->fd < 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/streamlake-sort-XXXXXX", dir);
        sp->fd = mkstemp(path);
        if (sp->fd >= 0)
            unlink(path);
    }
    return sp->fd < 0 ? fail(e, dir) : SL_OK;
}

void sql_spill_close(sql_spill *sp)
{
    if (sp->fd > 0)
        close(sp->fd);
    sp->fd = -1;
}

static int put(sql_spill *sp, const void *p, size_t n, sql_err *e)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = pwrite(sp->fd, b, n, (off_t)sp->end);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return fail(e, "write");
        b += w;
        n -= (size_t)w;
        sp->end += (uint64_t)w;
    }
    return SL_OK;
}

static int get(const sql_spill *sp, uint64_t *at, void *p, size_t n, sql_err *e)
{
    uint8_t *b = p;
    while (n) {
        ssize_t r = pread(sp->fd, b, n, (off_t)*at);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO;
            return fail(e, "read");
        }
        b += r;
        n -= (size_t)r;
        *at += (uint64_t)r;
    }
    return SL_OK;
}

int sql_spill_write(sql_spill *sp, const sql_batch *b, sql_err *e)
{
    spill_head h = {SPILL_MAGIC, (uint32_t)b->ncols, (uint64_t)b->n};
    int rc = put(sp, &h, sizeof h, e);
    for (int c = 0; !rc && c < b->ncols; c++) {
        const col_vec *v = &b->cols[c];
        col_vec plain;
        if (v->type == COL_DICT) {
            col_vec_init(&plain, COL_STRING, 0);
            if (col_vec_expand(v, &plain))
                return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
            v = &plain;
        }
        spill_col sc = {.type = (uint8_t)v->type,
                        .has_validity = v->validity && v->null_count > 0,
                        .null_count = (uint64_t)v->null_count,
                        .values_len = col_vec_values_bytes(v, v->len),
                        .data_len = v->data ? (uint64_t)((const int32_t *)(const void *)
                                                             v->values->p)[v->len]
                                            : 0};
        if (v->type != COL_STRING && v->type != COL_BINARY)
            sc.data_len = 0;
        rc = put(sp, &sc, sizeof sc, e);
        if (!rc && sc.has_validity)
            rc = put(sp, v->validity->p, ((size_t)v->len + 7) / 8, e);
        if (!rc && sc.values_len)
            rc = put(sp, v->values->p, sc.values_len, e);
        if (!rc && sc.data_len)
            rc = put(sp, v->data->p, sc.data_len, e);
        if (v == &plain)
            col_vec_release(&plain);
    }
    return rc;
}

/* A buffer of n bytes read from the file (at least one byte allocated). */
static int read_buf(const sql_spill *sp, uint64_t *at, size_t n, col_buf **out, sql_err *e)
{
    if (!(*out = col_buf_new(n ? n : 1)))
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    (*out)->len_bytes = n;
    return n ? get(sp, at, (*out)->p, n, e) : SL_OK;
}

int sql_spill_read(const sql_spill *sp, uint64_t *at, int ncols, const sql_type *types,
                   sql_batch **out, sql_err *e)
{
    spill_head h;
    int rc = get(sp, at, &h, sizeof h, e);
    if (rc)
        return rc;
    if (h.magic != SPILL_MAGIC || h.ncols != (uint32_t)ncols)
        return sql_err_set(e, SQLSTATE_INTERNAL, -1, "temporary file for a sort is damaged");
    sql_batch *b;
    if (sql_batch_new(ncols, types, &b))
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    b->n = (int64_t)h.nrows;
    for (int c = 0; !rc && c < ncols; c++) {
        spill_col sc;
        if ((rc = get(sp, at, &sc, sizeof sc, e)))
            break;
        col_vec *v = &b->cols[c];
        col_vec_release(v);
        col_vec_init(v, (col_type)sc.type, 0);
        v->len = (int64_t)h.nrows;
        v->null_count = (int64_t)sc.null_count;
        if (sc.has_validity)
            rc = read_buf(sp, at, ((size_t)h.nrows + 7) / 8, &v->validity, e);
        if (!rc)
            rc = read_buf(sp, at, sc.values_len, &v->values, e);
        if (!rc && (sc.type == COL_STRING || sc.type == COL_BINARY))
            rc = read_buf(sp, at, sc.data_len, &v->data, e);
    }
    if (rc) {
        sql_batch_free(b);
        return rc;
    }
    *out = b;
    return SL_OK;
}
