/*
 * api.h - the JSON API for people and tools (docs/internals/http-api.md).
 *
 *   GET /api/processes                      -> [process summary, ...]
 *   GET /api/processes/{process_id}/streams -> [stream summary, ...]
 *
 * Both write a JSON array into out (whose max caps the reply).
 */
#ifndef SL_SERVER_API_H
#define SL_SERVER_API_H

#include "base/dbuf.h"
#include "base/err.h"
#include "meta/meta.h"

int api_processes_json(meta *m, dbuf *out, errmsg *e);
/* SL_ENOTFOUND (with a message) when the process is unknown. */
int api_streams_json(meta *m, const sl_uuid *process_id, dbuf *out, errmsg *e);

#endif
