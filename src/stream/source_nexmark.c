/*
 * source_nexmark.c - the nexmark connector: a built-in generator of the
 * Nexmark benchmark's three streams (person, auction, bid), for benchmarks
 * and demos.
 *
 * The event sequence is the benchmark's: events are numbered 0, 1, 2, ...;
 * in every run of 50 events the first is a person, the next 3 are auctions
 * and the other 46 are bids (1 : 3 : 46).  Event n happens at
 * base + n / rate seconds (rate: events per second of event time, default
 * 10,000), so event times never go backwards and nothing is late.  Ids
 * follow the benchmark's conventions: persons and auctions from 1000 in the
 * order they are made, categories 10 to 14; an auction's seller is a recent
 * person, a bid's auction a recent auction and its bidder a recent person,
 * with "hot" ones (the auction id rounded down to a multiple of 100, the
 * person id to a multiple of 10) picked half (auctions) or three quarters
 * (persons) of the time, so that keys are skewed as the benchmark's are;
 * bid prices are 10^(6u) dollars in cents, u uniform.  Field values are ours
 * (names, cities, URLs are drawn from short lists).
 *
 * Every field of event n is a function of (seed, n) alone (a counter-based
 * generator, splitmix64), so any reader can make any range of events without
 * the others: the file connector's splits are byte ranges, here they are
 * ranges of event numbers, and "line" n + 1 is event n.  The three tables of a
 * job each generate only their own kind, from the same sequence when their
 * seeds and rates agree (which joins between them need).
 *
 * Options: kind = 'person' | 'auction' | 'bid' (required), events (how many
 * events of the sequence: the source is bounded), rate, seed.  Without
 * events the source is unbounded and paced: one split, whose reader makes
 * event n once the wall clock is n / rate past its first batch (a batch of
 * the events due, at most BATCH_ROWS; nothing due: it waits for the next one,
 * at most PACE_WAIT_MS, and returns an empty batch so that a job's stop flag
 * and checkpoint barriers pass), until a stop (Ctrl-C of `streamlake run`,
 * stream_request_stop; a server's job stop) ends it as an input ends.  The table's
 * columns are any of the kind's fields, by name, with their types; the event
 * time is date_time (event_time may name it; max_delay applies as usual).
 */
#include "stream/stream_int.h"

#include "base/alloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define BATCH_ROWS 8192
#define EPOCH_EVENTS 50
#define FIRST_ID 1000
#define BASE_NS 1704067200000000000LL /* 2024-01-01 00:00:00 */
#define PACE_WAIT_MS 50

enum { NX_PERSON, NX_AUCTION, NX_BID };
enum { F_I64, F_TEXT, F_TIME };

typedef struct nx_field {
    const char *name;
    int kind;
    int type;                /* F_* */
} nx_field;

/* The fields of each kind, in the benchmark's order. */
static const nx_field g_fields[] = {
    {"id", NX_PERSON, F_I64},          {"name", NX_PERSON, F_TEXT},
    {"email_address", NX_PERSON, F_TEXT}, {"credit_card", NX_PERSON, F_TEXT},
    {"city", NX_PERSON, F_TEXT},       {"state", NX_PERSON, F_TEXT},
    {"date_time", NX_PERSON, F_TIME},  {"extra", NX_PERSON, F_TEXT},
    {"id", NX_AUCTION, F_I64},         {"item_name", NX_AUCTION, F_TEXT},
    {"description", NX_AUCTION, F_TEXT}, {"initial_bid", NX_AUCTION, F_I64},
    {"reserve", NX_AUCTION, F_I64},    {"date_time", NX_AUCTION, F_TIME},
    {"expires", NX_AUCTION, F_TIME},   {"seller", NX_AUCTION, F_I64},
    {"category", NX_AUCTION, F_I64},   {"extra", NX_AUCTION, F_TEXT},
    {"auction", NX_BID, F_I64},        {"bidder", NX_BID, F_I64},
    {"price", NX_BID, F_I64},          {"channel", NX_BID, F_TEXT},
    {"url", NX_BID, F_TEXT},           {"date_time", NX_BID, F_TIME},
    {"extra", NX_BID, F_TEXT},
};
#define NFIELDS ((int)(sizeof g_fields / sizeof g_fields[0]))

static const char *const g_kinds[] = {"person", "auction", "bid"};
static const char *const g_first[] = {"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie"};
static const char *const g_last[] = {"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones"};
static const char *const g_city[] = {"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland",
                                     "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"};
static const char *const g_state[] = {"AZ", "CA", "ID", "OR", "WA", "WY"};
static const char *const g_channel[] = {"Google", "Facebook", "Baidu", "Apple"};
#define PICK(list, r) (list[(r) % (sizeof list / sizeof list[0])])

struct stream_nexmark {
    int kind;
    int64_t events;          /* the sequence's length */
    int64_t step_ns;         /* event time between two events (1 / rate) */
    uint64_t seed;
    int *field;              /* per table column: its index in g_fields */
    bool has_events;
};

/* ---- the table ---------------------------------------------------------- */

int stream_nexmark_new(stream_table *t)
{
    stream_nexmark *x = arena_zalloc(&t->run->a, sizeof *x);
    if (!x)
        return SL_ENOMEM;
    x->kind = -1;
    x->step_ns = 100000; /* 10,000 events a second */
    x->seed = 1;
    t->nx = x;
    t->path_opt = "nexmark"; /* no file: what error messages name */
    return SL_OK;
}

static int opt_i64(stream_table *t, const char *k, const char *v, int loc, int64_t lo,
                   int64_t *out, sql_err *e)
{
    char *end;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || x < lo)
        return sql_err_set(e, "22023", loc, "table \"%s\": %s must be an integer of at least "
                           "%lld, not '%s'", t->name, k, (long long)lo, v);
    *out = x;
    return SL_OK;
}

int stream_nexmark_option(stream_table *t, const char *k, const char *v, int loc, sql_err *e)
{
    stream_nexmark *x = t->nx;
    int64_t n;
    int rc;
    if (!strcmp(k, "kind")) {
        for (int i = 0; i < 3; i++)
            if (!strcasecmp(v, g_kinds[i]))
                x->kind = i;
        if (x->kind < 0)
            return sql_err_set(e, "22023", loc, "table \"%s\": kind must be 'person', "
                               "'auction' or 'bid', not '%s'", t->name, v);
        return SL_OK;
    }
    if (!strcmp(k, "events")) {
        x->has_events = true;
        return opt_i64(t, k, v, loc, 0, &x->events, e);
    }
    if (!strcmp(k, "rate")) {
        if ((rc = opt_i64(t, k, v, loc, 1, &n, e)))
            return rc;
        if (n > 1000000000)
            return sql_err_set(e, "22023", loc, "table \"%s\": rate is at most 1000000000 "
                               "events a second", t->name);
        x->step_ns = 1000000000 / n;
        return SL_OK;
    }
    if (!strcmp(k, "seed")) {
        if ((rc = opt_i64(t, k, v, loc, 0, &n, e)))
            return rc;
        x->seed = (uint64_t)n;
        return SL_OK;
    }
    return 1; /* not one of ours */
}

static bool type_fits(int f, sql_type ty)
{
    switch (f) {
    case F_I64: return ty.id == ST_INT8;
    case F_TEXT: return ty.id == ST_TEXT || ty.id == ST_VARCHAR;
    default: return ty.id == ST_TIMESTAMP;
    }
}

int stream_nexmark_check(stream_table *t, sql_err *e)
{
    stream_nexmark *x = t->nx;
    if (x->kind < 0)
        return sql_err_set(e, "22023", -1, "table \"%s\": the nexmark connector needs kind = "
                           "'person', 'auction' or 'bid'", t->name);
    if (!x->has_events)
        x->events = INT64_MAX; /* unbounded, paced by rate */
    if (!(x->field = arena_zalloc(&t->run->a, sizeof *x->field * (size_t)t->ncols)))
        return SL_ENOMEM;
    int tc = -1;
    for (int c = 0; c < t->ncols; c++) {
        int f = -1;
        for (int i = 0; i < NFIELDS && f < 0; i++)
            if (g_fields[i].kind == x->kind && !strcmp(g_fields[i].name, t->names[c]))
                f = i;
        if (f < 0)
            return sql_err_set(e, SQLSTATE_UNDEFINED_COLUMN, -1, "table \"%s\": a nexmark %s "
                               "has no field \"%s\"", t->name, g_kinds[x->kind], t->names[c]);
        if (!type_fits(g_fields[f].type, t->types[c]))
            return sql_err_set(e, SQLSTATE_DATATYPE_MISMATCH, -1, "table \"%s\": field \"%s\" "
                               "is %s", t->name, t->names[c],
                               g_fields[f].type == F_I64 ? "bigint"
                               : g_fields[f].type == F_TEXT ? "text" : "timestamp");
        x->field[c] = f;
        if (!strcmp(t->names[c], "date_time"))
            tc = c;
    }
    if (t->time_col >= 0 && t->time_col != tc)
        return sql_err_set(e, "22023", -1, "table \"%s\": a nexmark table's event time is "
                           "date_time", t->name);
    if (tc < 0)
        return sql_err_set(e, "22023", -1, "table \"%s\": a nexmark table needs its date_time "
                           "column (the event time)", t->name);
    t->time_col = tc;
    return SL_OK;
}

/* ---- the sequence ---------------------------------------------------------- */

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The kind of event n. */
static int kind_of(int64_t n)
{
    int64_t o = n % EPOCH_EVENTS;
    return o == 0 ? NX_PERSON : o <= 3 ? NX_AUCTION : NX_BID;
}

/* The last event of the kind in [begin, end), -1 if none. */
static int64_t last_of(int kind, int64_t begin, int64_t end)
{
    for (int64_t n = end - 1; n >= begin && n >= end - EPOCH_EVENTS; n--)
        if (kind_of(n) == kind)
            return n;
    return -1;
}

/* The first event of the kind at or after n. */
static int64_t next_of(int kind, int64_t n)
{
    while (kind_of(n) != kind)
        n++;
    return n;
}

typedef struct nx_event {
    int64_t n, epoch, ts;
    uint64_t base;           /* the event's random words derive from it */
} nx_event;

/* A recent id of a sequence whose newest is last (ids from FIRST_ID): the hot one
 * (last rounded down to a multiple of hot) unless r says otherwise, else one of
 * the window newest. */
static int64_t recent(int64_t last, uint64_t r, int hot_in, int hot, int64_t window)
{
    int64_t count = last - FIRST_ID + 1;
    if (r % (uint64_t)hot_in) {
        int64_t h = last / hot * hot;
        return h < FIRST_ID ? FIRST_ID : h;
    }
    int64_t w = count < window ? count : window;
    return last - (int64_t)((r >> 8) % (uint64_t)w);
}

static int64_t price(uint64_t r)
{
    double u = (double)(r >> 11) / 9007199254740992.0;
    return (int64_t)llround(pow(10.0, u * 6.0) * 100.0);
}

/* ---- reading ------------------------------------------------------------- */

struct stream_nexmark_reader {
    stream_table *t;
    const stream_nexmark *x;
    int64_t n, end;          /* next event, end of the split */
    bool paced;              /* unbounded: event n made at start_ns + n * step_ns */
    int64_t start_ns;        /* CLOCK_MONOTONIC of the first batch (0: none yet) */
    stream_wm wm;
    uint64_t rows_read;
    char buf[128];
};

int stream_nexmark_reader_open(stream_table *t, const stream_split *sp,
                               stream_nexmark_reader **out)
{
    stream_nexmark_reader *r = sl_calloc(1, sizeof *r);
    if (!(*out = r))
        return SL_ENOMEM;
    r->t = t;
    r->x = t->nx;
    r->n = (int64_t)sp->begin;
    r->end = (int64_t)sp->end;
    r->paced = !t->nx->has_events;
    if (r->paced)
        r->end = INT64_MAX;
    stream_wm_init(&r->wm, t->delay_ns);
    if (sp->start_seen)
        stream_wm_observe(&r->wm, sp->start_max_ns);
    return SL_OK;
}

void stream_nexmark_reader_close(stream_nexmark_reader *r)
{
    sl_free(r);
}

int64_t stream_nexmark_rows(const stream_table *t)
{
    if (!t->nx || !t->nx->has_events)
        return -1;
    static const int share[] = {1, 3, 46}; /* of every EPOCH_EVENTS events */
    return t->nx->events / EPOCH_EVENTS * share[t->nx->kind] + EPOCH_EVENTS;
}

/* Contiguous ranges of event numbers, a few per worker. */
int stream_nexmark_split(const stream_table *t, int nworkers, stream_split **out, int *n)
{
    int64_t ev = t->nx->events;
    int64_t want = nworkers > 1 && t->nx->has_events ? (int64_t)nworkers * 8 : 1;
    if (want > ev / 4096 + 1)
        want = ev / 4096 + 1; /* not less than a few thousand events a split */
    stream_split *s = sl_calloc((size_t)want, sizeof *s);
    if (!s)
        return SL_ENOMEM;
    for (int64_t i = 0; i < want; i++) {
        s[i].begin = (size_t)(ev * i / want);
        s[i].end = (size_t)(ev * (i + 1) / want);
        s[i].line = (int64_t)s[i].begin + 1;
    }
    *out = s;
    *n = (int)want;
    return SL_OK;
}

void stream_nexmark_scan_max(stream_nexmark_reader *r, bool *seen, int64_t *max_ns,
                             int64_t *lines)
{
    int64_t last = last_of(r->x->kind, r->n, r->end);
    *seen = last >= 0;
    *max_ns = last >= 0 ? BASE_NS + last * r->x->step_ns : 0;
    *lines = r->end - r->n;
    r->n = r->end;
}

void stream_nexmark_counts(const stream_nexmark_reader *r, uint64_t *read, bool *seen,
                           int64_t *max_ns)
{
    *read = r->rows_read;
    *seen = r->wm.seen;
    *max_ns = r->wm.max_ns;
}

static int append_text(col_vec *v, const char *s)
{
    return col_vec_append_str(v, s, strlen(s));
}

/* The fields, as indexes into g_fields. */
enum {
    P_ID, P_NAME, P_EMAIL, P_CARD, P_CITY, P_STATE, P_TIME, P_EXTRA,
    A_ID, A_ITEM, A_DESC, A_INITIAL, A_RESERVE, A_TIME, A_EXPIRES, A_SELLER, A_CATEGORY, A_EXTRA,
    B_AUCTION, B_BIDDER, B_PRICE, B_CHANNEL, B_URL, B_TIME, B_EXTRA
};

/* Random word k of the event (k < 8). */
static uint64_t rnd(const nx_event *ev, int k)
{
    return mix64(ev->base + (uint64_t)k);
}

/* Field f of event ev into v: a dispatch over every field of the three kinds. */
static int field_value(stream_nexmark_reader *r, int f, const nx_event *ev, col_vec *v)
{
    char *b = r->buf;
    size_t nb = sizeof r->buf;
    int64_t persons = FIRST_ID + ev->epoch;           /* the newest person so far */
    int64_t auctions = FIRST_ID + ev->epoch * 3 + 2;  /* bids: this epoch's auctions are made */
    uint64_t x;
    switch (f) {
    case P_ID: return col_vec_append_i64(v, persons);
    case P_NAME:
    case P_EMAIL:
        snprintf(b, nb, f == P_NAME ? "%s %s" : "%s.%s@example.com", PICK(g_first, rnd(ev, 0)),
                 PICK(g_last, rnd(ev, 1)));
        return append_text(v, b);
    case P_CARD:
        x = rnd(ev, 2);
        snprintf(b, nb, "%04u %04u %04u %04u", (unsigned)(x % 10000), (unsigned)(x >> 16) % 10000,
                 (unsigned)(x >> 32) % 10000, (unsigned)(x >> 48) % 10000);
        return append_text(v, b);
    case P_CITY: return append_text(v, PICK(g_city, rnd(ev, 3)));
    case P_STATE: return append_text(v, PICK(g_state, rnd(ev, 4)));
    case A_ID: return col_vec_append_i64(v, FIRST_ID + ev->epoch * 3 + ev->n % EPOCH_EVENTS - 1);
    case A_ITEM:
    case A_DESC:
        snprintf(b, nb, "%s %llu", f == A_ITEM ? "item" : "lot of",
                 (unsigned long long)(rnd(ev, 1) % 100000));
        return append_text(v, b);
    case A_INITIAL: return col_vec_append_i64(v, price(rnd(ev, 0)));
    case A_RESERVE: return col_vec_append_i64(v, price(rnd(ev, 0)) + price(rnd(ev, 2)));
    case A_EXPIRES: /* open for up to 2,000 events' time */
        return col_vec_append_i64(v, ev->ts + (int64_t)(rnd(ev, 3) % 2000 + 1) * r->x->step_ns);
    case A_SELLER: return col_vec_append_i64(v, recent(persons, rnd(ev, 4), 4, 10, 1000));
    case A_CATEGORY: return col_vec_append_i64(v, 10 + (int64_t)(rnd(ev, 5) % 5));
    case B_AUCTION: return col_vec_append_i64(v, recent(auctions, rnd(ev, 0), 2, 100, 100));
    case B_BIDDER: return col_vec_append_i64(v, recent(persons, rnd(ev, 1), 4, 10, 1000));
    case B_PRICE: return col_vec_append_i64(v, price(rnd(ev, 2)));
    case B_CHANNEL: return append_text(v, PICK(g_channel, rnd(ev, 3)));
    case B_URL: { /* every bid has one: no snprintf */
        static const char pre[] = "https://www.nexmark.com/item/";
        char digits[24];
        int nd = 0;
        x = rnd(ev, 4) % 100000;
        do
            digits[nd++] = (char)('0' + x % 10);
        while ((x /= 10));
        memcpy(b, pre, sizeof pre - 1);
        for (int i = 0; i < nd; i++)
            b[sizeof pre - 1 + i] = digits[nd - 1 - i];
        return col_vec_append_str(v, b, sizeof pre - 1 + (size_t)nd);
    }
    case P_TIME:
    case A_TIME:
    case B_TIME: return col_vec_append_i64(v, ev->ts);
    default: return append_text(v, ""); /* extra */
    }
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Unbounded: the end of the events due now (waiting up to PACE_WAIT_MS for the
 * next one when none is), or -1 once a stop was asked for. */
static int64_t paced_end(stream_nexmark_reader *r)
{
    if (stream_stop_requested())
        return -1;
    int64_t now = mono_ns();
    if (!r->start_ns)
        r->start_ns = now;
    int64_t step = r->x->step_ns, due = (now - r->start_ns) / step + 1;
    if (due <= r->n) {
        int64_t wait = (r->n - due + 1) * step;
        if (wait > PACE_WAIT_MS * 1000000LL)
            wait = PACE_WAIT_MS * 1000000LL;
        nanosleep(&(struct timespec){wait / 1000000000, wait % 1000000000}, NULL);
        due = (mono_ns() - r->start_ns) / step + 1;
    }
    return due;
}

/* A checkpoint's place: the next event number (offset), its "line", the rows
 * made and the watermark's largest event time. */
void stream_nexmark_save(const stream_nexmark_reader *r, stream_reader_pos *p)
{
    p->offset = (uint64_t)r->n;
    p->line = r->n + 1;
    p->header_done = true;
    p->seen = r->wm.seen;
    p->max_ns = r->wm.max_ns;
    p->rows_read = r->rows_read;
}

int stream_nexmark_restore(stream_nexmark_reader *r, const stream_split *sp,
                           const stream_reader_pos *p)
{
    int64_t n = (int64_t)p->offset;
    if (n < (int64_t)sp->begin || (!r->paced && n > r->end) || p->line != n + 1)
        return SL_EINVAL;
    r->n = n;
    r->wm.seen = p->seen;
    r->wm.max_ns = p->max_ns;
    r->rows_read = p->rows_read;
    /* unbounded: paced on from event n (due at once), not from event 0 again */
    r->start_ns = r->paced ? mono_ns() - n * r->x->step_ns : 0;
    if (r->paced && !r->start_ns)
        r->start_ns = 1;
    return SL_OK;
}

int stream_nexmark_next(stream_nexmark_reader *r, sql_batch **out, int64_t *wm, sql_err *e)
{
    stream_table *t = r->t;
    *out = NULL;
    int64_t end = r->end;
    if (r->paced && (end = paced_end(r)) < 0) {
        *wm = stream_wm_value(&r->wm);
        return SL_OK; /* stopped: the input ends here */
    }
    sql_batch *b;
    if (sql_batch_new(t->ncols, t->types, &b))
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    int rc = SL_OK;
    /* room for a batch at once (text: a URL's length a row), not grown row by row */
    for (int c = 0; c < t->ncols && !rc; c++)
        rc = col_vec_reserve(&b->cols[c], BATCH_ROWS,
                             g_fields[r->x->field[c]].type == F_TEXT ? BATCH_ROWS * 40 : 0);
    nx_event ev;
    while (!rc && b->n < BATCH_ROWS && (r->n = next_of(r->x->kind, r->n)) < end) {
        ev.n = r->n++;
        ev.epoch = ev.n / EPOCH_EVENTS;
        ev.ts = BASE_NS + ev.n * r->x->step_ns;
        ev.base = mix64(r->x->seed * 0x2545f4914f6cdd1dULL + (uint64_t)ev.n) * 8;
        for (int c = 0; c < t->ncols && !rc; c++)
            rc = field_value(r, r->x->field[c], &ev, &b->cols[c]);
        r->rows_read++;
        stream_wm_observe(&r->wm, ev.ts); /* in order: never late */
        b->n++;
    }
    if (r->n > end)
        r->n = end;
    *wm = stream_wm_value(&r->wm);
    if (!rc && !b->n && r->paced) { /* nothing due yet: an empty batch */
        *out = b;
        return SL_OK;
    }
    if (rc || !b->n) {
        sql_batch_free(b);
        return rc ? sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory") : SL_OK;
    }
    *out = b;
    return SL_OK;
}
