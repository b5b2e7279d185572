/*
 * meta_queue.h - group commit: the write queue shared by the metadata backends.
 *
 * Inserting threads queue a request and wait; one writer thread takes every
 * queued request (up to max_batch), hands the batch to the backend, which
 * applies it in one transaction and sets each request's rc, then wakes them
 * all.  N concurrent inserts cost one commit, not N.
 *
 * Also the pool of reader connections both backends keep: mslots hands out the
 * index of a free slot (waiting while all are busy) and takes it back.
 */
#ifndef SL_META_QUEUE_H
#define SL_META_QUEUE_H

#include "base/err.h"

#include <pthread.h>

typedef struct wreq wreq;
struct wreq {
    int kind;
    const void *rec;
    int *existed;
    errmsg *e;
    int rc;
    int done;
    wreq *next;
};

typedef struct mqueue {
    pthread_t writer;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t req_cv;   /* the writer waits for requests */
    pthread_cond_t done_cv;  /* requesters wait for their batch */
    wreq *head, *tail;
    int stop;
    int max_batch;
    void (*run_batch)(void *ctx, wreq *batch); /* sets every request's rc */
    void *ctx;
} mqueue;

void mqueue_init(mqueue *q, int max_batch, void (*run_batch)(void *ctx, wreq *batch), void *ctx);
/* Starts the writer thread. */
int mqueue_start(mqueue *q, errmsg *e);
/* Queues one request and waits for the commit that carries it. */
int mqueue_submit(mqueue *q, int kind, const void *rec, int *existed, errmsg *e);
/* Lets the writer finish what is queued, joins it; later submits fail. */
void mqueue_stop(mqueue *q);
void mqueue_destroy(mqueue *q);

/* n slots, each free or busy; the backend keeps its connections in a parallel array. */
typedef struct mslots {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned char *busy;
    int n;
} mslots;

int mslots_init(mslots *s, int n);
/* The index of a free slot, now busy (waits while every slot is busy). */
int mslots_take(mslots *s);
void mslots_give(mslots *s, int i);
void mslots_destroy(mslots *s);

#endif
