/*
 * fuzz_sql.c - fuzz target for the SQL engine from text to rows.
 *
 * The input is SQL text: every statement in it is parsed, bound, optimized
 * and run to the end (its rows formatted as the HTTP API would) in an engine
 * without a lake, in a session whose statement_timeout (200 ms) and work_mem
 * (16 MB) keep a random query from running long or large.  Errors are the
 * expected outcome for most inputs; a crash, a leak, undefined behaviour or a
 * hang is a bug.  The engine is made once per process.
 */
#include "sql/run.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sql_engine *g_eng;

/* SL_FUZZ_SHOW=1 prints the results (to see what a corpus file does). */
static int discard(void *arg, const void *p, size_t n)
{
    (void)arg;
    if (getenv("SL_FUZZ_SHOW"))
        fwrite(p, 1, n, stdout);
    return 0;
}

static void close_engine(void)
{
    sql_engine_close(g_eng);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_eng) {
        sql_engine_opts o = {.work_mem_bytes = 16 << 20, .max_memory_bytes = 64 << 20,
                             .statement_timeout_ms = 200, .workers = 2};
        errmsg e;
        if (sql_engine_open(NULL, NULL, NULL, &o, &g_eng, &e))
            abort();
        atexit(close_engine);
    }
    if (size > 1 << 16)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    sql_session *s;
    sql_fmt *f;
    if (sql_session_new(g_eng, &s)) {
        free(text);
        return 0;
    }
    if (!sql_fmt_new(SQL_FMT_JSON, false, discard, NULL, &f)) {
        sql_run_stats st;
        sql_run_script(s, text, NULL, f, &st);
        sql_fmt_free(f);
    }
    sql_session_free(s);
    free(text);
    return 0;
}
