/*
 * background.c - leadership, janitor, retention (background.h).
 */
#include "server/background.h"

#include "base/clock.h"
#include "base/log.h"

#include <string.h>

int background_open_meta(const server_config *c, const char *sqlite_path, meta **out, errmsg *e)
{
    if (c->meta_url) {
        /* Connections: the writer, readers, partition lockers and the leader's session. */
        meta_pg_opts po = {.n_readers = c->threads < 4 ? c->threads + 1 : 4, .max_lockers = 8};
        return meta_pg_open(c->meta_url, &po, out, e);
    }
    meta_sqlite_opts mo = {.n_readers = c->threads + 2};
    return meta_sqlite_open(sqlite_path, &mo, out, e);
}

/*
 * Seconds between retention passes: a tenth of the horizon, from 1 s to 10 s.  A
 * pass with nothing to delete is one indexed query; with much to delete it stops
 * after 100 batches and the next pass goes on.
 */
static int retention_period_s(int64_t horizon_ns)
{
    int64_t s = horizon_ns / 10 / 1000000000;
    return s < 1 ? 1 : s > 10 ? 10 : (int)s;
}

static void run_retention(const server_config *c, lake *l)
{
    lake_retention_report r;
    memset(&r, 0, sizeof r);
    errmsg e;
    errmsg_clear(&e);
    int64_t horizon = clock_wall_ns() - c->retention_ns;
    int rc = lake_retention(l, horizon, 1000, 100, &r, &e);
    if (rc)
        log_warn("retention", "%s", errmsg_str(&e));
    if (r.blocks || r.partitions)
        log_info("retention", "removed %llu blocks (%llu payload bytes, %llu payloads) and "
                 "retired %llu partitions older than %lld s",
                 (unsigned long long)r.blocks, (unsigned long long)r.payload_bytes,
                 (unsigned long long)r.payloads, (unsigned long long)r.partitions,
                 (long long)(c->retention_ns / 1000000000));
}

void background_tick(background *bg, const server_config *c, meta *m, lake *l, int tick)
{
    errmsg e;
    errmsg_clear(&e);
    int leader = 0;
    if (meta_leader_poll(m, &leader, &e))
        log_warn("background", "leader lock: %s", errmsg_str(&e));
    if (leader != bg->leader && m->shared)
        log_info("background", leader ? "this server leads background work now"
                                      : "this server no longer leads background work");
    if (leader && !bg->leader) {
        /* A new leader starts its periods now; it sweeps orphan payloads first. */
        bg->last_janitor_tick = bg->last_retention_tick = bg->last_materialize_tick = tick;
        bg->last_payload_sweep_tick = tick - 3600;
    }
    bg->leader = leader;
    if (bg->on_lead)
        bg->on_lead(bg->on_lead_arg, leader);
    lake_set_leader(l, leader);
    if (!leader)
        return;
    if (tick - bg->last_janitor_tick >= 60) {
        bg->last_janitor_tick = tick;
        if (lake_janitor(l, 0, &e))
            log_warn("lake", "cleanup: %s", errmsg_str(&e));
    }
    /* Payloads without a block row (a crash mid-retention or mid-ingestion): hourly. */
    if (tick - bg->last_payload_sweep_tick >= 3600) {
        bg->last_payload_sweep_tick = tick;
        if (lake_janitor_payloads(l, NULL, &e))
            log_warn("lake", "payload cleanup: %s", errmsg_str(&e));
    }
    if (c->retention_ns && tick - bg->last_retention_tick >= retention_period_s(c->retention_ns)) {
        bg->last_retention_tick = tick;
        run_retention(c, l);
    }
    /* The global views kept built for the recent horizon, every 5 s. */
    if (c->materialize_ns && tick - bg->last_materialize_tick >= 5) {
        bg->last_materialize_tick = tick;
        if (lake_materialize_recent(l, clock_wall_ns() - c->materialize_ns, 10000, &e))
            log_warn("lake", "materializer: %s", errmsg_str(&e));
    }
}
