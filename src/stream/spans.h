/*
 * spans.h - thread_spans states (spans.c).
 */
#ifndef SL_STREAM_SPANS_H
#define SL_STREAM_SPANS_H

#include "base/dbuf.h"
#include "base/uuid.h"

#include <stddef.h>
#include <stdint.h>

typedef struct stream_spans stream_spans;

/*
 * The lake builder's state (the open spans) of each stream after its latest block,
 * for at most max streams (0: STREAM_SPANS_MAX; the least recently used forgotten
 * first).  The hub keeps one for the jobs it decodes blocks for together; a job
 * taking checkpoints keeps one per worker (the state after each block it took),
 * which its checkpoints save and a resumed job replays from.
 */
#define STREAM_SPANS_MAX 4096
stream_spans *stream_spans_new(int max);
void stream_spans_free(stream_spans *m);
/* The state after the stream's latest block (NULL, *n 0: none). */
const uint8_t *stream_spans_get(stream_spans *m, const sl_uuid *stream, size_t *n);
/* The state after the stream's latest block (copied): 0 or SL_ENOMEM. */
int stream_spans_set(stream_spans *m, const sl_uuid *stream, const void *p, size_t n);
/* ... taking p (allocated; freed if SL_ENOMEM). */
int stream_spans_adopt(stream_spans *m, const sl_uuid *stream, uint8_t *p, size_t n);
/* Every state of from set in into (0; SL_ENOMEM: some are missing). */
int stream_spans_merge(stream_spans *into, const stream_spans *from);
/* Checkpoints: u32 count, then count x (16-byte stream id, u32 length, the state),
 * least recently used first; load replaces m's states (0; SL_EINVAL for bytes that
 * are not such a list, m unchanged; SL_ENOMEM). */
int stream_spans_save(const stream_spans *m, dbuf *out);
int stream_spans_load(stream_spans *m, const uint8_t *p, size_t n);

#endif
