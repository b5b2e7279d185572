/*
 * source_kafka.c - the kafka connector (librdkafka): a topic read as a
 * source, and written as a sink.
 *
 * Source.  A topic's partitions are the splits: with N workers, worker w
 * reads the partitions p with p mod N = w, through its own consumer handle
 * and rd_kafka_assign (no consumer group rebalance, so who reads what does
 * not depend on timing; offsets are never committed to the cluster: they go
 * into the job's checkpoints).  A job starts at start_offset ('earliest',
 * the default, or 'latest') or, when it resumes, at the offsets of its
 * checkpoint.  With bounded = true the high watermark of every partition is
 * read once when the job starts, and each partition ends there; the job ends
 * when all did (the rule "a job ends when its bounded sources end").  Else
 * the source runs until stream_request_stop (Ctrl-C of `streamlake run`).
 *
 * Messages are records in the table's format: a JSON object (jsonl) or one
 * CSV record without a header (csv), parsed by the file connector's own
 * record code (stream_reader_parse_msg), so a message means what the same
 * line of a file means.  A bad message fails the job naming the topic, the
 * partition and the offset, or is counted and skipped with on_error = 'skip'.
 *
 * Watermarks (docs/streaming.md, "Kafka").  Arrival order is defined per
 * partition: offset order.  Each partition has the watermark of rule 2 over
 * its own rows, and a row is late iff it is late under its partition's
 * watermark, so which rows are dropped does not depend on how partitions are
 * interleaved, nor on the number of workers.  The source's watermark is the
 * minimum over its partitions that have not ended (none while any partition
 * has had no row yet): a reader hands on the minimum over its partitions,
 * and the owners already take the minimum over readers.  A row on time in
 * its partition is at or above that partition's watermark, hence above the
 * minimum, so a window closed by the minimum never receives a row later.
 *
 * Idle partitions (idle_timeout = D, off by default).  A partition from which
 * no message came for D of wall-clock time (since the reader started, or its
 * last message) does not hold the minimum back; when every partition of a
 * reader is idle, the reader hands on the largest of their watermarks.  The
 * watermark a reader hands on never decreases, and it is also a floor for
 * lateness: a row below it is late whatever its partition's own watermark,
 * so a partition coming back from idleness with old rows cannot reopen a
 * closed window.  Without idleness the floor never bites (a row on time in
 * its partition is at or above the minimum).  With it, which rows are late
 * depends on timing: that is the price of closing windows while a partition
 * is quiet.
 *
 * Sink.  Each row becomes one message: a JSON object (format = 'jsonl', the
 * default for a kafka table) or one CSV record, with the message key made of
 * the columns named by `key` (their text joined by ','), else no key.
 * Produce calls are asynchronous; a checkpoint and the end of the job flush
 * and check every delivery report, and a failed delivery fails the job.
 * The guarantee is at-least-once: rows written after the last checkpoint are
 * written again by the resumed job (no transactions: librdkafka's mock
 * cluster, which the tests run against, does not implement them).
 */
#include "stream/stream_int.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/dbuf.h"

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BATCH_ROWS 8192
#define POLL_MS 100
#define META_MS 10000

struct stream_kafka {
    const char *topic;
    const char *servers;
    const char *group;
    bool latest;             /* start_offset = 'latest' */
    bool bounded;
    int64_t idle_ns;         /* idle_timeout (0: off) */
    const char *key_opt;     /* sink: key = 'a,b' */
    int nkeys;
    int keys[16];
    bool key_json;           /* a derived key (no key option): a JSON object of its columns */
    /* of the running job (stream_kafka_start) */
    int nparts;
    int64_t *lo, *hi;        /* bounded: each partition's first and end offsets */
};

/* ---- the table ---------------------------------------------------------- */

int stream_kafka_new(stream_table *t)
{
    stream_kafka *k = arena_zalloc(&t->run->a, sizeof *k);
    if (!k)
        return SL_ENOMEM;
    t->kf = k;
    t->format = STREAM_FMT_JSONL;
    t->header = false;
    return SL_OK;
}

static const char *dup(stream_table *t, const char *v)
{
    return arena_strndup(&t->run->a, v, strlen(v));
}

int stream_kafka_option(stream_table *t, const char *k, const char *v, int loc, sql_err *e)
{
    stream_kafka *x = t->kf;
    const char **s = !strcmp(k, "topic")               ? &x->topic
                     : !strcmp(k, "bootstrap_servers") ? &x->servers
                     : !strcmp(k, "group_id")          ? &x->group
                     : !strcmp(k, "key")               ? &x->key_opt
                                                       : NULL;
    if (s)
        return (*s = dup(t, v)) ? SL_OK : SL_ENOMEM;
    if (!strcmp(k, "start_offset")) {
        if (strcasecmp(v, "earliest") && strcasecmp(v, "latest"))
            return sql_err_set(e, "22023", loc, "table \"%s\": start_offset must be 'earliest' "
                               "or 'latest', not '%s'", t->name, v);
        x->latest = !strcasecmp(v, "latest");
        return SL_OK;
    }
    if (!strcmp(k, "bounded")) {
        if (!strcasecmp(v, "true") || !strcasecmp(v, "on") || !strcmp(v, "1"))
            x->bounded = true;
        else if (!strcasecmp(v, "false") || !strcasecmp(v, "off") || !strcmp(v, "0"))
            x->bounded = false;
        else
            return sql_err_set(e, "22023", loc, "table \"%s\": bounded must be true or false",
                               t->name);
        return SL_OK;
    }
    if (!strcmp(k, "idle_timeout")) {
        char what[200];
        snprintf(what, sizeof what, "table \"%s\": idle_timeout", t->name);
        int rc = stream_interval_ns(what, v, &x->idle_ns, e);
        if (!rc && x->idle_ns <= 0)
            return sql_err_set(e, "22023", loc, "table \"%s\": idle_timeout must be positive",
                               t->name);
        return rc;
    }
    if (!strcmp(k, "path") || !strcmp(k, "follow"))
        return sql_err_set(e, "22023", loc, "table \"%s\": unknown option \"%s\" (the kafka "
                           "connector takes topic, bootstrap_servers, group_id, start_offset, "
                           "bounded, idle_timeout, key, format, delimiter, event_time, "
                           "max_delay, late, on_error)", t->name, k);
    return 1;
}

int stream_kafka_check(stream_table *t, sql_err *e)
{
    stream_kafka *x = t->kf;
    if (!x->topic || !x->servers)
        return sql_err_set(e, "22023", -1, "table \"%s\": the kafka connector needs topic and "
                           "bootstrap_servers", t->name);
    t->path_opt = x->topic; /* what the file connector's messages name */
    for (const char *p = x->key_opt; p && *p;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        int col = -1;
        for (int i = 0; i < t->ncols && col < 0; i++)
            if (strlen(t->names[i]) == n && !strncmp(t->names[i], p, n))
                col = i;
        if (col < 0 || x->nkeys == 16)
            return sql_err_set(e, SQLSTATE_UNDEFINED_COLUMN, -1, "table \"%s\": key names "
                               "\"%.*s\", not one of its columns (at most 16)", t->name,
                               (int)n, p);
        x->keys[x->nkeys++] = col;
        p = c ? c + 1 : p + n;
    }
    return SL_OK;
}

/* A client of the table's cluster (a consumer unless producer). */
static rd_kafka_t *client(const stream_table *t, bool producer, sql_err *e)
{
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    const stream_kafka *x = t->kf;
    if (rd_kafka_conf_set(c, "bootstrap.servers", x->servers, err, sizeof err) ||
        rd_kafka_conf_set(c, "client.id", "streamlake", err, sizeof err) ||
        (!producer &&
         (rd_kafka_conf_set(c, "group.id", x->group ? x->group : "streamlake", err,
                            sizeof err) ||
          rd_kafka_conf_set(c, "enable.auto.commit", "false", err, sizeof err) ||
          rd_kafka_conf_set(c, "enable.partition.eof", "false", err, sizeof err))) ||
        (producer && rd_kafka_conf_set(c, "linger.ms", "5", err, sizeof err))) {
        rd_kafka_conf_destroy(c);
        sql_err_set(e, "22023", -1, "table \"%s\": kafka: %s", t->name, err);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(producer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER, c, err,
                                  sizeof err);
    if (!rk)
        sql_err_set(e, "08001", -1, "table \"%s\": kafka: %s", t->name, err);
    return rk;
}

int stream_kafka_start(stream_table *t, sql_err *e)
{
    stream_kafka *x = t->kf;
    rd_kafka_t *rk = client(t, false, e);
    if (!rk)
        return SL_EINVAL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, x->topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rkt ? rd_kafka_metadata(rk, 0, rkt, &md, META_MS)
                                  : RD_KAFKA_RESP_ERR__INVALID_ARG;
    int rc = SL_OK;
    if (err || md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt < 1)
        rc = sql_err_set(e, "08001", -1, "source \"%s\": kafka topic \"%s\" at %s: %s",
                         t->name, x->topic, x->servers,
                         rd_kafka_err2str(err ? err : md->topic_cnt == 1 && md->topics[0].err
                                                          ? md->topics[0].err
                                                          : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
    if (!rc) {
        x->nparts = md->topics[0].partition_cnt;
        sl_free(x->lo);
        sl_free(x->hi);
        x->lo = sl_calloc((size_t)x->nparts, sizeof *x->lo);
        x->hi = sl_calloc((size_t)x->nparts, sizeof *x->hi);
        if (!x->lo || !x->hi)
            rc = sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    }
    for (int p = 0; !rc && x->bounded && p < x->nparts; p++) {
        err = rd_kafka_query_watermark_offsets(rk, x->topic, p, &x->lo[p], &x->hi[p], META_MS);
        if (err)
            rc = sql_err_set(e, "08001", -1, "source \"%s\": kafka topic \"%s\" partition %d: "
                             "%s", t->name, x->topic, p, rd_kafka_err2str(err));
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return rc;
}

void stream_kafka_stop(stream_table *t)
{
    sl_free(t->kf->lo);
    sl_free(t->kf->hi);
    t->kf->lo = t->kf->hi = NULL;
}

bool stream_kafka_from_latest(const stream_table *t)
{
    return t->kf && t->kf->latest;
}

int stream_kafka_nparts(const stream_table *t)
{
    return t->kf->nparts;
}

int stream_kafka_split(const stream_table *t, int nworkers, stream_split **out, int *n)
{
    (void)t;
    stream_split *s = sl_calloc((size_t)nworkers, sizeof *s);
    if (!s)
        return SL_ENOMEM;
    for (int i = 0; i < nworkers; i++) { /* split i: the partitions p = i mod nworkers */
        s[i].begin = (size_t)i;
        s[i].end = (size_t)nworkers;
        s[i].line = 1;
    }
    *out = s;
    *n = nworkers;
    return SL_OK;
}

/* ---- a reader: one worker's partitions --------------------------------------- */

typedef struct part {
    int32_t id;
    int64_t next;            /* the offset of the next message to read (< 0: a logical start) */
    int64_t end;             /* bounded: where it ends; -1 unbounded */
    stream_wm wm;            /* rule 2 over this partition's rows */
    bool done;
    int64_t last_mono;       /* idle_timeout: when its last message came (or the start) */
} part;

struct stream_kafka_reader {
    stream_table *t;
    rd_kafka_t *rk;
    part *parts;
    int nparts;
    bool assigned;
    uint64_t rows_read, late;
    int64_t floor;           /* the largest watermark handed on (STREAM_WM_NONE: none) */
};

int stream_kafka_reader_open(stream_table *t, const stream_split *sp,
                             stream_kafka_reader **out, sql_err *e)
{
    stream_kafka *x = t->kf;
    stream_kafka_reader *r = sl_calloc(1, sizeof *r);
    int stride = (int)sp->end, first = (int)sp->begin;
    int n = first < x->nparts ? (x->nparts - first + stride - 1) / stride : 0;
    if (n > STREAM_POS_MAX_PARTS) {
        sl_free(r);
        return sql_err_set(e, "54000", -1, "source \"%s\": %d partitions for one worker (at "
                           "most %d: use more --workers)", t->name, n, STREAM_POS_MAX_PARTS);
    }
    if (!r || !(r->parts = sl_calloc((size_t)(n ? n : 1), sizeof *r->parts))) {
        sl_free(r);
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    }
    r->t = t;
    r->nparts = n;
    r->floor = STREAM_WM_NONE;
    int64_t now = clock_mono_ns();
    for (int i = 0; i < n; i++) {
        part *p = &r->parts[i];
        p->id = first + i * stride;
        p->next = x->latest ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
        p->end = x->bounded ? x->hi[p->id] : -1;
        if (x->bounded) /* a logical start resolved: what is there when the job starts */
            p->next = x->latest ? x->hi[p->id] : x->lo[p->id];
        stream_wm_init(&p->wm, t->delay_ns);
        p->done = x->bounded && p->next >= p->end;
        p->last_mono = now;
    }
    if (n && !(r->rk = client(t, false, e))) {
        stream_kafka_reader_close(r);
        return SL_EINVAL;
    }
    *out = r;
    return SL_OK;
}

void stream_kafka_reader_close(stream_kafka_reader *r)
{
    if (!r)
        return;
    if (r->rk) {
        rd_kafka_assign(r->rk, NULL);
        rd_kafka_consumer_close(r->rk);
        rd_kafka_destroy(r->rk);
    }
    sl_free(r->parts);
    sl_free(r);
}

/* The partitions not yet ended, assigned at their next offsets. */
static int assign(stream_kafka_reader *r, sql_err *e)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(r->nparts);
    for (int i = 0; i < r->nparts; i++) {
        part *p = &r->parts[i];
        if (p->done)
            continue;
        if (p->end >= 0 && p->next >= p->end) {
            p->done = true;
            continue;
        }
        rd_kafka_topic_partition_list_add(l, r->t->kf->topic, p->id)->offset = p->next;
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(r->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    r->assigned = true;
    if (err)
        return sql_err_set(e, "08001", -1, "source \"%s\": kafka: %s", r->t->name,
                           rd_kafka_err2str(err));
    return SL_OK;
}

static part *find_part(stream_kafka_reader *r, int32_t id)
{
    for (int i = 0; i < r->nparts; i++)
        if (r->parts[i].id == id)
            return &r->parts[i];
    return NULL;
}

static bool all_done(const stream_kafka_reader *r)
{
    for (int i = 0; i < r->nparts; i++)
        if (!r->parts[i].done)
            return false;
    return true;
}

/* The minimum watermark over the partitions not ended and not idle; the largest
 * over the idle ones when all are; STREAM_WM_END when all ended.  Never below
 * what was handed on before (r->floor, which it moves). */
static int64_t reader_wm(stream_kafka_reader *r)
{
    int64_t m = STREAM_WM_END, idle_max = STREAM_WM_NONE, now = 0, idle_ns = r->t->kf->idle_ns;
    bool active = false;
    if (idle_ns)
        now = clock_mono_ns();
    for (int i = 0; i < r->nparts; i++) {
        const part *p = &r->parts[i];
        if (p->done)
            continue;
        int64_t w = stream_wm_value(&p->wm);
        if (idle_ns && now - p->last_mono >= idle_ns) {
            idle_max = w > idle_max ? w : idle_max; /* (STREAM_WM_NONE is the smallest) */
            continue;
        }
        active = true;
        m = w < m ? w : m;
    }
    if (!active && idle_max != STREAM_WM_NONE)
        m = idle_max;
    else if (!active && !all_done(r))
        m = STREAM_WM_NONE;
    if (r->floor != STREAM_WM_NONE && (m == STREAM_WM_NONE || m < r->floor))
        m = r->floor;
    if (m != STREAM_WM_END && m != STREAM_WM_NONE)
        r->floor = m;
    return m;
}

/* At the end: the minimum over all partitions, ended or not. */
static int64_t last_wm(const stream_kafka_reader *r)
{
    int64_t m = r->nparts ? STREAM_WM_END : STREAM_WM_NONE;
    for (int i = 0; i < r->nparts; i++) {
        int64_t w = stream_wm_value(&r->parts[i].wm);
        m = w < m ? w : m;
    }
    return m;
}

/* One message: parsed, judged late under its partition's watermark, appended to b. */
static int take_msg(stream_kafka_reader *r, stream_reader *rd, part *p,
                    const rd_kafka_message_t *m, sql_batch *b, sql_err *e)
{
    stream_table *t = r->t;
    char where[256];
    snprintf(where, sizeof where, "topic \"%s\" partition %d offset %lld", t->kf->topic,
             (int)p->id, (long long)m->offset);
    sql_datum *vals;
    int good = stream_reader_parse_msg(rd, m->payload ? m->payload : "", m->len, where, &vals,
                                       e);
    p->next = m->offset + 1;
    p->last_mono = clock_mono_ns();
    if (p->end >= 0 && p->next >= p->end)
        p->done = true;
    if (good <= 0)
        return good;
    r->rows_read++;
    if (t->time_col >= 0 && !vals[t->time_col].null) {
        int64_t ts = vals[t->time_col].i;
        if (stream_wm_late(&p->wm, ts) || (r->floor != STREAM_WM_NONE && ts < r->floor)) {
            if (t->late_error)
                return sql_err_set(e, "22000", -1, "source \"%s\": %s: late row (event time "
                                   "before the watermark, max_delay exceeded)", t->name, where);
            r->late++;
            return SL_OK;
        }
        stream_wm_observe(&p->wm, ts);
    }
    for (int c = 0; c < t->ncols; c++)
        if (sql_datum_append(t->types[c], &vals[c], &b->cols[c]))
            return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    b->n++;
    return SL_OK;
}

int stream_kafka_next(stream_kafka_reader *r, stream_reader *rd, sql_batch **out, int64_t *wm,
                      sql_err *e)
{
    stream_table *t = r->t;
    *out = NULL;
    *wm = reader_wm(r);
    if (all_done(r) || (!t->kf->bounded && stream_stop_requested())) {
        *wm = last_wm(r); /* never STREAM_WM_END: the caller knows the end */
        return SL_OK;
    }
    int rc = r->assigned ? SL_OK : assign(r, e);
    sql_batch *b;
    if (!rc && sql_batch_new(t->ncols, t->types, &b))
        rc = sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    if (rc)
        return rc;
    /* up to a batch, or what came within a poll interval: an empty batch lets the
     * caller pass a checkpoint barrier while the topic is quiet */
    while (b->n < BATCH_ROWS && !rc && !all_done(r)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, b->n ? 0 : POLL_MS);
        if (!m)
            break;
        part *p = m->err ? NULL : find_part(r, m->partition);
        if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF &&
            (rd_kafka_fatal_error(r->rk, NULL, 0) || m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
             m->err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION))
            rc = sql_err_set(e, "08006", -1, "source \"%s\": kafka topic \"%s\": %s", t->name,
                             t->kf->topic, rd_kafka_message_errstr(m));
        else if (p && !p->done && (p->next < 0 || m->offset >= p->next))
            rc = take_msg(r, rd, p, m, b, e);
        rd_kafka_message_destroy(m);
    }
    if (rc) {
        sql_batch_free(b);
        return rc;
    }
    *wm = reader_wm(r);
    if (!b->n && all_done(r)) {
        sql_batch_free(b);
        *wm = last_wm(r);
        return SL_OK;
    }
    *out = b; /* (possibly empty: see above) */
    return SL_OK;
}

void stream_kafka_counts(const stream_kafka_reader *r, uint64_t *read, uint64_t *late)
{
    *read = r->rows_read;
    *late = r->late;
}

void stream_kafka_final_max(const stream_kafka_reader *r, bool *seen, int64_t *max_ns)
{
    *seen = false;
    *max_ns = 0;
    for (int i = 0; i < r->nparts; i++) {
        const stream_wm *w = &r->parts[i].wm;
        if (w->seen && (!*seen || w->max_ns > *max_ns))
            *max_ns = w->max_ns;
        *seen |= w->seen;
    }
}

void stream_kafka_save(const stream_kafka_reader *r, stream_reader_pos *pos)
{
    pos->nparts = (uint32_t)r->nparts;
    for (int i = 0; i < r->nparts && i < STREAM_POS_MAX_PARTS; i++) {
        stream_part_pos *q = &pos->parts[i];
        q->partition = r->parts[i].id;
        q->next = r->parts[i].next;
        q->seen = r->parts[i].wm.seen;
        q->max_ns = r->parts[i].wm.max_ns;
    }
    pos->rows_read = r->rows_read;
    pos->late = r->late;
}

int stream_kafka_restore(stream_kafka_reader *r, const stream_reader_pos *pos)
{
    if (pos->nparts != (uint32_t)r->nparts)
        return SL_EINVAL;
    for (int i = 0; i < r->nparts; i++) {
        const stream_part_pos *q = &pos->parts[i];
        part *p = &r->parts[i];
        if (q->partition != p->id)
            return SL_EINVAL;
        p->next = q->next;
        if (p->end >= 0 && p->next < 0) /* nothing read then: a logical start, resolved */
            p->next = q->next == RD_KAFKA_OFFSET_BEGINNING ? r->t->kf->lo[p->id] : p->end;
        p->wm.seen = q->seen;
        p->wm.max_ns = q->max_ns;
        p->done = p->end >= 0 && p->next >= p->end;
    }
    r->rows_read = pos->rows_read;
    r->late = pos->late;
    return SL_OK;
}

/* ---- the sink ---------------------------------------------------------------- */

struct stream_kafka_sink {
    stream_table *t;
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    dbuf body, val, key;
    _Atomic uint64_t failed;
    char first_err[256];
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)opaque;
    stream_kafka_sink *k = rd_kafka_opaque(rk);
    if (!m->err)
        return;
    if (atomic_fetch_add(&k->failed, 1) == 0)
        snprintf(k->first_err, sizeof k->first_err, "%s", rd_kafka_err2str(m->err));
}

int stream_kafka_sink_open(stream_table *t, stream_kafka_sink **out, sql_err *e)
{
    *out = NULL;
    stream_kafka_sink *k = sl_calloc(1, sizeof *k);
    if (!k)
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    k->t = t;
    dbuf_init(&k->body, 16u << 20);
    dbuf_init(&k->val, 16u << 20);
    dbuf_init(&k->key, 16u << 20);
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    const stream_kafka *x = t->kf;
    if (rd_kafka_conf_set(c, "bootstrap.servers", x->servers, err, sizeof err) ||
        rd_kafka_conf_set(c, "linger.ms", "5", err, sizeof err) ||
        rd_kafka_conf_set(c, "enable.idempotence", "false", err, sizeof err)) {
        rd_kafka_conf_destroy(c);
        stream_kafka_sink_close(k);
        return sql_err_set(e, "22023", -1, "sink \"%s\": kafka: %s", t->name, err);
    }
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    rd_kafka_conf_set_opaque(c, k);
    if (!(k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err))) {
        stream_kafka_sink_close(k);
        return sql_err_set(e, "08001", -1, "sink \"%s\": kafka: %s", t->name, err);
    }
    /* keyed: a key's messages in one partition, in order, an empty key too (the
     * default partitioner spreads empty keys at random); murmur2 is the Java
     * producer's, so keys land where a Java producer would put them */
    rd_kafka_topic_conf_t *tc = x->nkeys ? rd_kafka_topic_conf_new() : NULL;
    if (tc && rd_kafka_topic_conf_set(tc, "partitioner", "murmur2", err, sizeof err)) {
        rd_kafka_topic_conf_destroy(tc);
        stream_kafka_sink_close(k);
        return sql_err_set(e, "08001", -1, "sink \"%s\": kafka: %s", t->name, err);
    }
    if (!(k->rkt = rd_kafka_topic_new(k->rk, x->topic, tc))) {
        stream_kafka_sink_close(k);
        return sql_err_set(e, "08001", -1, "sink \"%s\": kafka topic \"%s\": %s", t->name,
                           x->topic, rd_kafka_err2str(rd_kafka_last_error()));
    }
    *out = k;
    return SL_OK;
}

/* Row r as one CSV record (no line break) into k->body. */
static void csv_row(stream_kafka_sink *k, const sql_batch *b, int64_t r)
{
    const stream_table *t = k->t;
    dbuf_reset(&k->body);
    for (int c = 0; c < t->ncols; c++) {
        if (c)
            dbuf_append_byte(&k->body, (uint8_t)t->delim);
        if (!stream_cell_text(b, c, r, &k->val))
            continue;
        bool q = !k->val.len || memchr(k->val.p, '"', k->val.len) ||
                 memchr(k->val.p, t->delim, k->val.len) || memchr(k->val.p, '\n', k->val.len);
        if (!q) {
            dbuf_append(&k->body, k->val.p, k->val.len);
            continue;
        }
        dbuf_append_byte(&k->body, '"');
        for (size_t i = 0; i < k->val.len; i++) {
            if (k->val.p[i] == '"')
                dbuf_append_byte(&k->body, '"');
            dbuf_append_byte(&k->body, k->val.p[i]);
        }
        dbuf_append_byte(&k->body, '"');
    }
}

bool stream_kafka_sink_key(stream_table *t, const int *cols, int n)
{
    stream_kafka *x = t->kf;
    if (x->key_opt)
        return false;
    x->nkeys = 0;
    for (int i = 0; i < n && i < 16; i++)
        x->keys[x->nkeys++] = cols[i];
    x->key_json = x->nkeys > 0;
    return true;
}

int stream_kafka_sink_write(stream_kafka_sink *k, const sql_batch *b, bool del, sql_err *e)
{
    stream_table *t = k->t;
    const stream_kafka *x = t->kf;
    del = del && x->nkeys && t->op_col < 0; /* a tombstone needs a key; op_column says it */
    for (int64_t r = 0; r < b->n; r++) {
        if (del)
            dbuf_reset(&k->body);
        else if (t->format == STREAM_FMT_JSONL ? stream_row_json(t, b, r, &k->body, &k->val)
                                               : (csv_row(k, b, r), SL_OK))
            return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
        dbuf_reset(&k->key);
        if (x->key_json && stream_cols_json(t, b, r, x->keys, x->nkeys, &k->key, &k->val))
            return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
        for (int i = 0; !x->key_json && i < x->nkeys; i++) {
            if (i)
                dbuf_append_byte(&k->key, ',');
            if (stream_cell_text(b, x->keys[i], r, &k->val))
                dbuf_append(&k->key, k->val.p, k->val.len);
        }
        for (;;) {
            int pr = rd_kafka_produce(k->rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                                      del ? NULL : k->body.p, del ? 0 : k->body.len,
                                      x->nkeys ? (k->key.p ? (const void *)k->key.p : "") : NULL,
                                      x->nkeys ? k->key.len : 0, NULL);
            if (!pr)
                break;
            rd_kafka_resp_err_t err = rd_kafka_last_error();
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                return sql_err_set(e, "58030", -1, "sink \"%s\": kafka topic \"%s\": %s",
                                   t->name, x->topic, rd_kafka_err2str(err));
            rd_kafka_poll(k->rk, POLL_MS); /* the queue drains as deliveries come back */
        }
    }
    rd_kafka_poll(k->rk, 0);
    t->rows_written += (uint64_t)b->n;
    return SL_OK;
}

int stream_kafka_sink_flush(stream_kafka_sink *k, sql_err *e)
{
    rd_kafka_resp_err_t err;
    while ((err = rd_kafka_flush(k->rk, 1000)) == RD_KAFKA_RESP_ERR__TIMED_OUT &&
           !rd_kafka_fatal_error(k->rk, NULL, 0))
        ;
    if (err || atomic_load(&k->failed))
        return sql_err_set(e, "58030", -1, "sink \"%s\": kafka topic \"%s\": %llu message(s) "
                           "not delivered: %s", k->t->name, k->t->kf->topic,
                           (unsigned long long)atomic_load(&k->failed),
                           err ? rd_kafka_err2str(err) : k->first_err);
    return SL_OK;
}

void stream_kafka_sink_close(stream_kafka_sink *k)
{
    if (!k)
        return;
    if (k->rkt)
        rd_kafka_topic_destroy(k->rkt);
    if (k->rk) {
        rd_kafka_flush(k->rk, 2000);
        rd_kafka_destroy(k->rk);
    }
    dbuf_free(&k->body);
    dbuf_free(&k->val);
    dbuf_free(&k->key);
    sl_free(k);
}
