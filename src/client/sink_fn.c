/*
 * sink_fn.c - in-process delivery: each message goes to a function of the
 * program that embeds the library (client.h, cl_init_in_process).
 *
 * The function runs on the sender thread, one message at a time and in
 * order, exactly as the HTTP sink would post them; its return value has the
 * HTTP sink's meaning (SL_EAGAIN: resend the process and stream; SL_ENET or
 * SL_EIO: retry with backoff; another error: the message is refused).
 */
#include "client/client.h"

#include "base/alloc.h"

typedef struct fn_sink {
    cl_sink base;
    cl_sink_fn fn;
    void *arg;
} fn_sink;

static int fn_send(cl_sink *s, int kind, const uint8_t *msg, size_t len, errmsg *e)
{
    fn_sink *f = (fn_sink *)s;
    return f->fn(f->arg, kind, msg, len, e);
}

static void fn_destroy(cl_sink *s)
{
    sl_free(s);
}

int cl_sink_fn_new(cl_sink_fn fn, void *arg, cl_sink **out)
{
    fn_sink *f = sl_calloc(1, sizeof *f);
    if (!f)
        return SL_ENOMEM;
    f->fn = fn;
    f->arg = arg;
    f->base.send = fn_send;
    f->base.destroy = fn_destroy;
    *out = &f->base;
    return SL_OK;
}
