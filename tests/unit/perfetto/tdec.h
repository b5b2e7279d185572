/*
 * tdec.h - a small Perfetto trace decoder for the unit tests.
 *
 * It is written from the public format rules, not from our writer: it walks
 * Trace.packet, applies each packet's sequence state in the order readers do
 * (clear, defaults, interned data, clock snapshot, then the payload),
 * resolves interned iids per sequence and generation, rebuilds absolute
 * timestamps of the incremental clock, and flattens track events and
 * descriptors into arrays the tests can inspect.  Any rule broken (an iid
 * used before it is defined, a packet needing state before a clear, the
 * incremental clock used without a snapshot, malformed protobuf) makes
 * tdec_run fail with a message in d->err.  Strings point into the trace
 * buffer, which must outlive the decoder's results.
 */
#ifndef SL_TESTS_PERFETTO_TDEC_H
#define SL_TESTS_PERFETTO_TDEC_H

#include "base/alloc.h"
#include "base/bytes.h"

#include <stdio.h>
#include <string.h>

typedef struct tstr {
    const char *p;
    size_t n;
} tstr;

typedef struct tev {
    uint32_t seq;
    uint64_t track;
    int type;
    int64_t ts;
    tstr name, cat, file;
    uint32_t line;
} tev;

typedef struct tdesc {
    uint32_t seq;
    uint64_t uuid, parent;
    int kind; /* 0 process, 1 thread, 2 named */
    int64_t pid, tid;
    tstr name;
    uint64_t merge;
} tdesc;

typedef struct tloc {
    tstr file;
    uint32_t line;
} tloc;

#define TDEC_MAX_IID 70000
#define TDEC_MAX_SEQ 128

typedef struct tseq {
    uint32_t id;
    int valid, has_incr;
    uint64_t def_clock, def_track;
    int64_t incr_last;
    uint32_t clears;
    tstr *names, *cats; /* [TDEC_MAX_IID] */
    tloc *locs;
} tseq;

typedef struct tdec {
    tev *ev;
    size_t nev, evcap;
    tdesc desc[512];
    size_t ndesc;
    tseq seqs[TDEC_MAX_SEQ];
    size_t nseq;
    size_t npackets;
    char err[256];
} tdec;

static inline void tdec_free(tdec *d)
{
    for (size_t i = 0; i < d->nseq; i++) {
        sl_free(d->seqs[i].names);
        sl_free(d->seqs[i].cats);
        sl_free(d->seqs[i].locs);
    }
    sl_free(d->ev);
    memset(d, 0, sizeof *d);
}

/* One protobuf field: number, wire type, value or bytes. */
typedef struct tfield {
    uint32_t num;
    int wt;
    uint64_t v;
    const uint8_t *p;
    size_t n;
} tfield;

static inline int tfield_next(rd *r, tfield *f)
{
    if (rd_left(r) == 0)
        return 0;
    uint64_t key = rd_uvarint(r);
    f->num = (uint32_t)(key >> 3);
    f->wt = (int)(key & 7);
    f->p = NULL;
    f->n = 0;
    f->v = 0;
    switch (f->wt) {
    case 0:
        f->v = rd_uvarint(r);
        break;
    case 1:
        f->v = rd_u64(r);
        break;
    case 2:
        f->n = (size_t)rd_uvarint(r);
        f->p = rd_bytes(r, f->n);
        break;
    case 5:
        f->v = rd_u32(r);
        break;
    default:
        r->err = SL_ECORRUPT;
    }
    return r->err == 0;
}

static inline tseq *tdec_seq(tdec *d, uint32_t id)
{
    for (size_t i = 0; i < d->nseq; i++)
        if (d->seqs[i].id == id)
            return &d->seqs[i];
    if (d->nseq == TDEC_MAX_SEQ)
        return NULL;
    tseq *s = &d->seqs[d->nseq++];
    memset(s, 0, sizeof *s);
    s->id = id;
    s->names = sl_calloc(TDEC_MAX_IID, sizeof *s->names);
    s->cats = sl_calloc(TDEC_MAX_IID, sizeof *s->cats);
    s->locs = sl_calloc(TDEC_MAX_IID, sizeof *s->locs);
    return s;
}

#define TDEC_FAIL(...)                                                                          \
    do {                                                                                        \
        snprintf(d->err, sizeof d->err, __VA_ARGS__);                                          \
        return -1;                                                                              \
    } while (0)

static inline int tdec_interned(tdec *d, tseq *s, const uint8_t *p, size_t n)
{
    rd r, e;
    tfield f, g;
    rd_init(&r, p, n);
    while (tfield_next(&r, &f)) {
        if (f.wt != 2 || (f.num != 1 && f.num != 2 && f.num != 4))
            TDEC_FAIL("unexpected InternedData field %u", f.num);
        uint64_t iid = 0;
        tstr str = {NULL, 0};
        uint32_t line = 0;
        rd_init(&e, f.p, f.n);
        while (tfield_next(&e, &g)) {
            if (g.num == 1)
                iid = g.v;
            else if (g.num == 2)
                str = (tstr){(const char *)g.p, g.n};
            else if (g.num == 4 && f.num == 4)
                line = (uint32_t)g.v;
        }
        if (iid == 0 || iid >= TDEC_MAX_IID)
            TDEC_FAIL("interned entry with iid %llu", (unsigned long long)iid);
        tstr *slot = f.num == 1 ? &s->cats[iid] : f.num == 2 ? &s->names[iid] : &s->locs[iid].file;
        if (slot->p || (f.num == 4 && s->locs[iid].line))
            TDEC_FAIL("iid %llu of field %u defined twice in one generation",
                      (unsigned long long)iid, f.num);
        *slot = str.p ? str : (tstr){"", 0};
        if (f.num == 4)
            s->locs[iid].line = line;
    }
    return r.err ? -1 : 0;
}

static inline int tdec_defaults(tseq *s, const uint8_t *p, size_t n)
{
    rd r, e;
    tfield f, g;
    rd_init(&r, p, n);
    while (tfield_next(&r, &f)) {
        if (f.num == 58)
            s->def_clock = f.v;
        if (f.num == 11 && f.wt == 2) {
            rd_init(&e, f.p, f.n);
            while (tfield_next(&e, &g))
                if (g.num == 11)
                    s->def_track = g.v;
        }
    }
    return r.err ? -1 : 0;
}

static inline int tdec_clocks(tdec *d, tseq *s, const uint8_t *p, size_t n)
{
    rd r, c;
    tfield f, g;
    rd_init(&r, p, n);
    while (tfield_next(&r, &f)) {
        if (f.num != 1 || f.wt != 2)
            continue;
        uint64_t id = 0, ts = 0, incr = 0;
        rd_init(&c, f.p, f.n);
        while (tfield_next(&c, &g)) {
            if (g.num == 1)
                id = g.v;
            else if (g.num == 2)
                ts = g.v;
            else if (g.num == 3)
                incr = g.v;
        }
        if (incr && (id < 64 || id > 127))
            TDEC_FAIL("incremental clock %llu is not sequence-scoped", (unsigned long long)id);
        if (incr) {
            s->has_incr = 1;
            s->incr_last = (int64_t)ts;
        }
    }
    return r.err ? -1 : 0;
}

static inline int tdec_event(tdec *d, tseq *s, int64_t ts, const uint8_t *p, size_t n)
{
    rd r;
    tfield f;
    tev ev = {.seq = s->id, .track = s->def_track, .ts = ts};
    rd_init(&r, p, n);
    while (tfield_next(&r, &f)) {
        if (f.num == 9)
            ev.type = (int)f.v;
        else if (f.num == 11)
            ev.track = f.v;
        else if (f.num == 10) {
            if (f.v >= TDEC_MAX_IID || !s->names[f.v].p)
                TDEC_FAIL("name iid %llu undefined on seq %u", (unsigned long long)f.v, s->id);
            ev.name = s->names[f.v];
        } else if (f.num == 3) {
            if (f.v >= TDEC_MAX_IID || !s->cats[f.v].p)
                TDEC_FAIL("category iid %llu undefined on seq %u", (unsigned long long)f.v, s->id);
            ev.cat = s->cats[f.v];
        } else if (f.num == 34) {
            if (f.v >= TDEC_MAX_IID || (!s->locs[f.v].file.p && !s->locs[f.v].line))
                TDEC_FAIL("location iid %llu undefined on seq %u", (unsigned long long)f.v, s->id);
            ev.file = s->locs[f.v].file;
            ev.line = s->locs[f.v].line;
        } else {
            TDEC_FAIL("unexpected TrackEvent field %u", f.num);
        }
    }
    if (r.err)
        TDEC_FAIL("bad TrackEvent");
    if (d->nev == d->evcap) {
        d->evcap = d->evcap ? d->evcap * 2 : 1024;
        d->ev = sl_realloc(d->ev, d->evcap * sizeof *d->ev);
    }
    d->ev[d->nev++] = ev;
    return 0;
}

static inline int tdec_desc(tdec *d, uint32_t seq, const uint8_t *p, size_t n)
{
    rd r, e;
    tfield f, g;
    if (d->ndesc == sizeof d->desc / sizeof d->desc[0])
        TDEC_FAIL("too many descriptors for the test decoder");
    tdesc *t = &d->desc[d->ndesc++];
    memset(t, 0, sizeof *t);
    t->seq = seq;
    t->kind = 2;
    rd_init(&r, p, n);
    while (tfield_next(&r, &f)) {
        if (f.num == 1)
            t->uuid = f.v;
        else if (f.num == 5)
            t->parent = f.v;
        else if (f.num == 2)
            t->name = (tstr){(const char *)f.p, f.n};
        else if (f.num == 15)
            t->merge = f.v;
        else if (f.num == 3 || f.num == 4) {
            t->kind = f.num == 3 ? 0 : 1;
            rd_init(&e, f.p, f.n);
            while (tfield_next(&e, &g)) {
                if (g.num == 1)
                    t->pid = (int64_t)g.v;
                else if (g.num == 2 && f.num == 4)
                    t->tid = (int64_t)g.v;
                else if ((g.num == 6 && f.num == 3) || (g.num == 5 && f.num == 4))
                    t->name = (tstr){(const char *)g.p, g.n};
            }
        }
    }
    return r.err ? -1 : 0;
}

typedef struct tpkt {
    uint64_t ts, clock, seq, flags;
    int has_ts, has_seq;
    tfield defaults, interned, clocks, event, desc;
} tpkt;

static inline int tdec_packet(tdec *d, const uint8_t *p, size_t n)
{
    rd r;
    tfield f;
    tpkt k;
    memset(&k, 0, sizeof k);
    rd_init(&r, p, n);
    while (tfield_next(&r, &f)) {
        switch (f.num) {
        case 8: k.ts = f.v; k.has_ts = 1; break;
        case 58: k.clock = f.v; break;
        case 10: k.seq = f.v; k.has_seq = 1; break;
        case 13: k.flags = f.v; break;
        case 59: k.defaults = f; break;
        case 12: k.interned = f; break;
        case 6: k.clocks = f; break;
        case 11: k.event = f; break;
        case 60: k.desc = f; break;
        case 87: break;
        default: TDEC_FAIL("unexpected TracePacket field %u", f.num);
        }
    }
    if (r.err)
        TDEC_FAIL("malformed packet at packet %zu", d->npackets);
    tseq *s = tdec_seq(d, (uint32_t)k.seq);
    if (!s || !k.has_seq || k.seq == 0)
        TDEC_FAIL("packet %zu has no usable trusted_packet_sequence_id", d->npackets);
    if (k.flags & 1) {
        s->valid = 1;
        s->clears++;
        s->def_clock = s->def_track = 0;
        memset(s->names, 0, TDEC_MAX_IID * sizeof *s->names);
        memset(s->cats, 0, TDEC_MAX_IID * sizeof *s->cats);
        memset(s->locs, 0, TDEC_MAX_IID * sizeof *s->locs);
    }
    if ((k.flags & 2) && !s->valid)
        TDEC_FAIL("packet %zu needs incremental state before any clear", d->npackets);
    if (k.defaults.p && tdec_defaults(s, k.defaults.p, k.defaults.n))
        TDEC_FAIL("bad defaults");
    if (k.interned.p && tdec_interned(d, s, k.interned.p, k.interned.n))
        return -1;
    if (k.clocks.p)
        return tdec_clocks(d, s, k.clocks.p, k.clocks.n);
    int64_t ts = (int64_t)k.ts;
    uint64_t clock = k.clock ? k.clock : s->def_clock;
    if (k.has_ts && clock == 64) {
        if (!s->has_incr)
            TDEC_FAIL("incremental clock used before its snapshot on seq %u", s->id);
        s->incr_last += (int64_t)k.ts;
        ts = s->incr_last;
    }
    if (k.event.p && tdec_event(d, s, ts, k.event.p, k.event.n))
        return -1;
    if (k.desc.p && tdec_desc(d, s->id, k.desc.p, k.desc.n))
        return -1;
    return 0;
}

/* Decodes a whole trace; 0, or -1 with d->err set. */
static inline int tdec_run(tdec *d, const uint8_t *p, size_t n)
{
    rd r;
    tfield f;
    rd_init(&r, p, n);
    while (tfield_next(&r, &f)) {
        if (f.num != 1 || f.wt != 2)
            TDEC_FAIL("Trace field %u is not a packet", f.num);
        if (tdec_packet(d, f.p, f.n))
            return -1;
        d->npackets++;
    }
    if (r.err)
        TDEC_FAIL("truncated trace at byte %zu", r.err_off);
    return 0;
}

static inline int tstr_eq(tstr a, const char *b)
{
    return a.p && a.n == strlen(b) && memcmp(a.p, b, a.n) == 0;
}

#endif
