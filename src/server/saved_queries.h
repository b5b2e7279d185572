/*
 * saved_queries.h - SQL queries saved by name on the server, for the web app's
 * SQL page (so a team shares them).
 *
 * They live in one JSON file, {data_dir}/saved-queries.json (format in
 * docs/internals/http-api.md, "Saved queries"), rewritten whole on each change
 * through a temporary file and rename(2), under a process-wide lock: a reader
 * never sees half a file, and a crash leaves the old or the new one.  Bounded:
 * at most SAVEDQ_MAX_QUERIES queries, names of 1..SAVEDQ_NAME_MAX bytes of
 * [A-Za-z0-9_.-], a body of at most SAVEDQ_BODY_MAX bytes.
 */
#ifndef SL_SERVER_SAVED_QUERIES_H
#define SL_SERVER_SAVED_QUERIES_H
#include "base/dbuf.h"
#include "base/err.h"
#include <stddef.h>

#define SAVEDQ_MAX_QUERIES 1000
#define SAVEDQ_NAME_MAX 100
#define SAVEDQ_BODY_MAX (64u << 10)

/* 0 when name is a valid query name, else SL_EINVAL with the reason in e. */
int savedq_check_name(const char *name, errmsg *e);

/* {"queries": [...]} sorted by name, into out. */
int savedq_list(const char *data_dir, dbuf *out, errmsg *e);

/* One query's object into out; SL_ENOTFOUND when there is none of that name. */
int savedq_get(const char *data_dir, const char *name, dbuf *out, errmsg *e);

/*
 * Creates or replaces name from a JSON body {"sql": text, "description": text,
 * "range": text} (sql required, the others optional).  create_only: SL_EEXIST
 * when the name is taken, nothing changed.  *created tells which happened.
 * SL_EINVAL for a bad body or name, SL_ETOOBIG past the caps.
 */
int savedq_put(const char *data_dir, const char *name, const char *body, size_t len,
               int create_only, int *created, errmsg *e);

/* Deletes name; SL_ENOTFOUND when there is none. */
int savedq_delete(const char *data_dir, const char *name, errmsg *e);

/* Parses a PUT body as savedq_put does, storing nothing (the fuzz target). */
int savedq_check_body(const char *body, size_t len, errmsg *e);

#endif
