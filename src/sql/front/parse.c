/*
 * parse.c - libpg_query glue (see parse.h).
 */
#include "sql/front/parse.h"

#include <string.h>

int sql_parse(const char *text, sql_parsed *out, sql_err *e)
{
    memset(out, 0, sizeof *out);
    PgQueryProtobufParseResult r = pg_query_parse_protobuf(text);
    if (r.error) {
        /* PostgreSQL's own message; cursorpos is already its 1-based character position */
        int rc = sql_err_set(e, SQLSTATE_SYNTAX, -1, "%s", r.error->message);
        if (e)
            e->position = r.error->cursorpos;
        pg_query_free_protobuf_parse_result(r);
        return rc;
    }
    out->tree = pg_query__parse_result__unpack(NULL, r.parse_tree.len,
                                               (const uint8_t *)r.parse_tree.data);
    pg_query_free_protobuf_parse_result(r);
    if (!out->tree)
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory parsing the query");
    out->n_stmts = out->tree->n_stmts;
    return SL_OK;
}

void sql_parsed_free(sql_parsed *p)
{
    if (p && p->tree)
        pg_query__parse_result__free_unpacked(p->tree, NULL);
    if (p)
        memset(p, 0, sizeof *p);
}

void sql_parsed_stmt_text(const sql_parsed *p, const char *text, size_t i, const char **s,
                          size_t *n)
{
    const PgQuery__RawStmt *r = p->tree->stmts[i];
    size_t len = strlen(text);
    size_t start = (size_t)r->stmt_location <= len ? (size_t)r->stmt_location : len;
    size_t l = r->stmt_len ? (size_t)r->stmt_len : len - start;
    if (start + l > len)
        l = len - start;
    *s = text + start;
    *n = l;
}
