/*
 * background.h - the server's background work and the choice of metadata store.
 *
 * Once a second the server's background thread calls background_tick: it asks
 * the metadata store who leads (always this server with SQLite; with
 * PostgreSQL, whoever holds the leader's advisory lock), and the leader alone
 * runs the janitor (every minute; orphan payloads when it becomes leader, then
 * hourly), retention (--retention) and the global-view
 * materializer.  docs/internals/meta-postgres.md describes the protocol.
 */
#ifndef SL_SERVER_BACKGROUND_H
#define SL_SERVER_BACKGROUND_H

#include "lake/lake.h"
#include "meta/meta.h"
#include "server/server.h"

typedef struct background {
    int leader;             /* as of the last tick */
    int last_janitor_tick;
    int last_retention_tick;
    int last_materialize_tick;
    int last_payload_sweep_tick;
    /* told the outcome of each poll at once, before the leader's work of the tick
     * (the continuous jobs follow the lead: src/stream/jobs.c) */
    void (*on_lead)(void *arg, int leader);
    void *on_lead_arg;
} background;

/* Opens the metadata store: PostgreSQL if c->meta_url is set, else SQLite at sqlite_path. */
int background_open_meta(const server_config *c, const char *sqlite_path, meta **out, errmsg *e);

/* One second of background work (tick counts seconds since start). */
void background_tick(background *bg, const server_config *c, meta *m, lake *l, int tick);

#endif
