/*
 * pf_intern.h - bounded interning tables of one Perfetto packet sequence.
 *
 * Perfetto interning (trace/interned_data/interned_data.proto) lets a packet
 * refer to an event name, a category or a source location by a small integer
 * "iid" once an earlier packet of the same sequence has defined it.  Each kind
 * has its own iid space; iids start at 1 (0 means "not set") and we hand them
 * out densely, so they encode in one or two varint bytes.
 *
 * A call site (pf_site: name, category = the span's target, file, line) is
 * resolved to its three iids in one lookup through a site cache keyed by a
 * 64-bit hash (the caller's, e.g. the views' `hash` column, or ours).  A hit is
 * verified against the stored strings, so a colliding or wrong caller key can
 * never produce a wrong name: it only costs a miss.
 *
 * Memory is bounded: the tables hold at most max_entries entries in total and
 * max_bytes bytes of strings.  When a site would not fit, the tables are reset
 * whole (a new "generation") before it is added; the sequence writer then
 * clears the sequence's incremental state in the trace
 * (SEQ_INCREMENTAL_STATE_CLEARED) so that readers reset their tables at the
 * same point.  Strings longer than PF_STR_MAX_BYTES are cut at a UTF-8
 * character boundary, which bounds every packet.
 *
 * Invariants: an iid of generation g is only ever defined once; after a reset
 * no iid of an older generation is returned; a table never holds two equal
 * entries.  Not thread-safe: one pf_intern belongs to one sequence.
 */
#ifndef SL_PERFETTO_PF_INTERN_H
#define SL_PERFETTO_PF_INTERN_H

#include "base/dbuf.h"
#include "base/err.h"

#include <stddef.h>
#include <stdint.h>

#define PF_STR_MAX_BYTES 4096
#define PF_INTERN_MAX_BYTES_DEFAULT (1024 * 1024)
#define PF_INTERN_MAX_ENTRIES_DEFAULT 65536u

/* The static description of a slice: what it is and where it was emitted. */
typedef struct pf_site {
    const char *name;       /* event name; empty: no name */
    const char *category;   /* the span's target; empty: no category */
    const char *file;       /* source file; empty with line 0: no location */
    uint32_t name_len;
    uint32_t category_len;
    uint32_t file_len;
    uint32_t line;
    uint64_t key;           /* caller's hash of the four fields above, or 0 */
} pf_site;

/* The iids of one site; 0 where the site has no such field. */
typedef struct pf_iids {
    uint32_t name;
    uint32_t cat;
    uint32_t loc;
} pf_iids;

/* Bits of pf_intern_site's *fresh: which iids were defined by this call. */
enum { PF_FRESH_NAME = 1, PF_FRESH_CAT = 2, PF_FRESH_LOC = 4 };

typedef struct pf_intern_ent {
    uint64_t hash;
    uint32_t off;  /* bytes in pool */
    uint32_t len;
    uint32_t line; /* source locations only */
} pf_intern_ent;

typedef struct pf_strtab {
    pf_intern_ent *ents; /* iid = index + 1 */
    uint32_t n, cap;
    uint32_t *slots;     /* 0 = empty, else entry index + 1 */
    uint32_t mask;       /* slot count - 1 (power of two) */
} pf_strtab;

typedef struct pf_site_ent {
    uint64_t key;
    pf_iids iids;
} pf_site_ent;

typedef struct pf_intern {
    pf_strtab names, cats, locs;
    pf_site_ent *sites;
    uint32_t nsites, sites_cap;
    uint32_t *site_slots;
    uint32_t site_mask;
    dbuf pool;             /* string bytes of the current generation */
    size_t max_bytes;
    uint32_t max_entries;
    uint32_t generation;   /* starts at 1; +1 on every reset */
    uint64_t resets;       /* resets forced by the caps */
} pf_intern;

/* Empty tables.  0 takes the defaults above; smaller caps than
 * 4 * PF_STR_MAX_BYTES and 16 entries are raised to those minimums so that
 * any one site always fits. */
void pf_intern_init(pf_intern *in, size_t max_bytes, uint32_t max_entries);
void pf_intern_free(pf_intern *in);
/* Forget every entry and start a new generation. */
void pf_intern_reset(pf_intern *in);

/*
 * Resolve site to its iids, adding what is missing.  *fresh receives the
 * PF_FRESH_* bits of iids defined by this call (the caller must emit them in
 * interned_data of the packet that uses them); *did_reset is set to 1 when
 * the caps forced a reset first (the caller must clear the sequence's
 * incremental state before that packet).  0, or SL_ENOMEM.
 */
int pf_intern_site(pf_intern *in, const pf_site *site, pf_iids *out, unsigned *fresh,
                   int *did_reset);

/* The bytes of an iid of the current generation (table: names, cats, locs). */
const char *pf_intern_bytes(const pf_intern *in, const pf_strtab *t, uint32_t iid,
                            uint32_t *len_out, uint32_t *line_out);

/* Length of the longest prefix of s that is valid UTF-8 (RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF). */
size_t pf_utf8_valid_len(const char *s, size_t len);

/* Length of s cut to at most max bytes without splitting a UTF-8 character. */
uint32_t pf_str_clamp(const char *s, size_t len, uint32_t max);

#endif
