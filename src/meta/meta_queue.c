/*
 * meta_queue.c - the group-commit queue of the metadata backends (meta_queue.h).
 */
#include "meta/meta_queue.h"

#include "base/alloc.h"

void mqueue_init(mqueue *q, int max_batch, void (*run_batch)(void *ctx, wreq *batch), void *ctx)
{
    q->started = 0;
    q->head = q->tail = NULL;
    q->stop = 0;
    q->max_batch = max_batch > 0 ? max_batch : 256;
    q->run_batch = run_batch;
    q->ctx = ctx;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->req_cv, NULL);
    pthread_cond_init(&q->done_cv, NULL);
}

static void *writer_main(void *arg)
{
    mqueue *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->head && !q->stop)
            pthread_cond_wait(&q->req_cv, &q->mu);
        if (!q->head && q->stop)
            break;
        /* Take up to max_batch requests; the rest wait for the next commit. */
        wreq *batch = q->head, *last = q->head;
        for (int n = 1; n < q->max_batch && last->next; n++)
            last = last->next;
        q->head = last->next;
        if (!q->head)
            q->tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&q->mu);
        q->run_batch(q->ctx, batch);
        pthread_mutex_lock(&q->mu);
        for (wreq *r = batch, *nx; r; r = nx) {
            nx = r->next; /* r belongs to its requester once done is set */
            r->done = 1;
        }
        pthread_cond_broadcast(&q->done_cv);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

int mqueue_start(mqueue *q, errmsg *e)
{
    if (pthread_create(&q->writer, NULL, writer_main, q) != 0)
        return errmsg_set(e, SL_EINTERNAL, "metadata: cannot start the writer thread");
    q->started = 1;
    return SL_OK;
}

int mqueue_submit(mqueue *q, int kind, const void *rec, int *existed, errmsg *e)
{
    int dummy = 0;
    wreq r = {kind, rec, existed ? existed : &dummy, e, 0, 0, NULL};
    pthread_mutex_lock(&q->mu);
    if (q->stop) {
        pthread_mutex_unlock(&q->mu);
        return errmsg_set(e, SL_ESTATE, "metadata store is closing");
    }
    if (q->tail)
        q->tail->next = &r;
    else
        q->head = &r;
    q->tail = &r;
    pthread_cond_signal(&q->req_cv);
    while (!r.done)
        pthread_cond_wait(&q->done_cv, &q->mu);
    pthread_mutex_unlock(&q->mu);
    return r.rc;
}

void mqueue_stop(mqueue *q)
{
    if (!q->started)
        return;
    pthread_mutex_lock(&q->mu);
    q->stop = 1;
    pthread_cond_signal(&q->req_cv);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->writer, NULL);
    q->started = 0;
}

void mqueue_destroy(mqueue *q)
{
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->req_cv);
    pthread_cond_destroy(&q->done_cv);
}

int mslots_init(mslots *s, int n)
{
    s->n = n;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->busy = sl_calloc((size_t)n, 1);
    return s->busy ? SL_OK : SL_ENOMEM;
}

int mslots_take(mslots *s)
{
    pthread_mutex_lock(&s->mu);
    for (;;) {
        for (int i = 0; i < s->n; i++) {
            if (!s->busy[i]) {
                s->busy[i] = 1;
                pthread_mutex_unlock(&s->mu);
                return i;
            }
        }
        pthread_cond_wait(&s->cv, &s->mu);
    }
}

void mslots_give(mslots *s, int i)
{
    pthread_mutex_lock(&s->mu);
    s->busy[i] = 0;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void mslots_destroy(mslots *s)
{
    sl_free(s->busy);
    s->busy = NULL;
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
}
