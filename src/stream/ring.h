/*
 * ring.h - what partitioned workers hand each other: single-producer
 * single-consumer rings of messages (batches with the producer's watermark),
 * and the doorbells a thread with nothing to do sleeps on.
 *
 * A ring has exactly one producing thread and one consuming thread for its
 * whole life.  It holds `cap` messages (a power of two); a message is a
 * batch (taken by the consumer) and the producer's watermark after it, so
 * watermarks travel in-band, in order with the rows.  No lock is taken: the
 * producer owns `tail`, the consumer `head`, each on its own cache line, and
 * each keeps a cached copy of the other's index so that it reads the shared
 * one only when the cache says full (producer) or empty (consumer).
 *
 * Memory ordering (there is no ThreadSanitizer build here, so the argument
 * is written down):
 *
 *   push  the slot is written with plain stores, then tail is stored with
 *         release: a consumer that loads tail with acquire and sees the new
 *         value sees the slot's contents (and, through the batch pointer,
 *         everything the producer wrote into the batch before pushing).
 *   pop   the slot is read, then head is stored with release: a producer that
 *         loads head with acquire and sees it advanced knows the consumer is
 *         done with the slot before the producer overwrites it.
 *
 * A doorbell (an eventcount over a futex word) lets a thread block until
 * something it waits for may have happened.  A waiter takes a key
 * (stream_bell_prepare: reads seq, counts itself in `waiters`), re-checks
 * its condition, then sleeps only while seq still equals the key.  A ringer
 * publishes its change (the ring store above), then increments seq and wakes
 * sleepers if `waiters` is non-zero.  Both sides put a seq_cst fence between
 * their store and their load (waiter: waiters++ then re-check; ringer:
 * publish then read waiters), so either the waiter's re-check sees the
 * change or the ringer sees the waiter and wakes it; and a ring between the
 * key and the futex call changes seq, so the futex returns at once.  A
 * wake-up can be spurious; callers loop on their condition.  Waiters spin a
 * little before blocking (ARCHITECTURE.md 4, principle 4); nothing sleeps on
 * a timer.
 */
#ifndef SL_STREAM_RING_H
#define SL_STREAM_RING_H

#include "sql/exec/vec.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum {
    STREAM_MSG_ROWS = 1,     /* b (may be NULL: a watermark only), wm after it */
    STREAM_MSG_CHUNK_END,    /* the producer finished input chunk `end` */
    STREAM_MSG_DONE,         /* the producer is done: nothing follows */
    STREAM_MSG_RESULT,       /* b: rows of closed windows ending at `end` */
    STREAM_MSG_UPDATE,       /* b: the new rows of groups that changed (on_update); into
                                a view's log, end says what b is (STREAM_ULOG_*) */
    STREAM_MSG_BARRIER,      /* checkpoint `end` (in-band, like watermarks) */
    STREAM_MSG_PARTIAL,      /* b: a producer's partial table of the window starting
                                at `end` (local-global aggregation) */
    /* formatted: `wm` bytes, the count of rows (uint64_t), then the sink's output of
     * those rows (formatted by a worker) */
    STREAM_MSG_BYTES,        /* formatted rows of an append-only job */
    STREAM_MSG_RESULT_BYTES, /* formatted rows of closed windows ending at `end` */
};

struct sql_aggtab;

typedef struct stream_msg {
    sql_batch *b;            /* taken by the consumer; NULL for none; PARTIAL: the
                                table (stream_msg_table); BYTES, RESULT_BYTES: the
                                bytes, sl_malloc'd (stream_msg_bytes) */
    int64_t wm;              /* the producer's watermark after b */
    int64_t end;             /* RESULT: window_end of b's rows; CHUNK_END: the chunk;
                                PARTIAL: the window's start */
    int kind;                /* STREAM_MSG_* */
} stream_msg;

/* A PARTIAL message's table: carried in b (one pointer slot; the kind tells). */
static inline struct sql_aggtab *stream_msg_table(const stream_msg *m)
{
    return (struct sql_aggtab *)(void *)m->b;
}
/* A BYTES message's bytes (carried in b), and b made from them. */
static inline uint8_t *stream_msg_bytes(const stream_msg *m)
{
    return (uint8_t *)(void *)m->b;
}
static inline sql_batch *stream_bytes_ref(uint8_t *p)
{
    return (sql_batch *)(void *)p;
}
/* Frees what a message carries (a batch, a partial table, or bytes). */
void stream_msg_free(stream_msg *m);

typedef struct stream_bell {
    _Atomic uint32_t seq;
    _Atomic uint32_t waiters;
} stream_bell;

void stream_bell_init(stream_bell *b);
/* Wakes whoever sleeps on b (call after publishing the change they wait for). */
void stream_bell_ring(stream_bell *b);
/*
 * Blocks until ready(arg) is true or b rang (spurious returns allowed: callers
 * loop).  Spins briefly first, then sleeps on the futex.
 */
void stream_bell_wait(stream_bell *b, bool (*ready)(void *arg), void *arg);

typedef struct stream_ring {
    _Alignas(64) _Atomic uint64_t head; /* next slot to pop (consumer's) */
    uint64_t tail_cache;                /* consumer's copy of tail */
    _Alignas(64) _Atomic uint64_t tail; /* next slot to push (producer's) */
    uint64_t head_cache;                /* producer's copy of head */
    _Alignas(64) stream_msg *slots;
    uint32_t mask;
    stream_bell *consumer;   /* rung after a push */
    stream_bell *producer;   /* rung after a pop */
} stream_ring;

/* cap: a power of two >= 2.  The bells belong to the two threads. */
int stream_ring_init(stream_ring *r, uint32_t cap, stream_bell *consumer, stream_bell *producer);
/* Frees the ring and the batches (and bytes) still in it (after both threads are done). */
void stream_ring_free(stream_ring *r);
/* Producer: false when full (nothing done). */
bool stream_ring_push(stream_ring *r, const stream_msg *m);
/* Producer: as push, without ringing the consumer's bell (the caller rings it,
 * stream_bell_ring(r->consumer), before it waits or once a run of pushes ends:
 * one wake-up for many messages). */
bool stream_ring_push_quiet(stream_ring *r, const stream_msg *m);
/* Consumer: false when empty. */
bool stream_ring_pop(stream_ring *r, stream_msg *m);
/* Consumer: whether a pop would find a message. */
bool stream_ring_ready(stream_ring *r);
/* Producer: whether a push would find room. */
bool stream_ring_room(stream_ring *r);

#endif
