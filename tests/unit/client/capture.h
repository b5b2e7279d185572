/*
 * capture.h - reads back an offline capture directory for the client tests.
 *
 * Decodes every .block file of one process directory with the strict wire
 * decoders and hands each event to a callback together with its block, so
 * tests can count and check what the library wrote.
 */
#ifndef SL_TEST_CAPTURE_H
#define SL_TEST_CAPTURE_H

#include "base/dbuf.h"
#include "wire/wire.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*capture_fn)(void *ctx, const wire_block *b, const wire_payload *pl,
                           const wire_event *ev);

static int capture_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int capture_read(const char *path, dbuf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    dbuf_reset(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        dbuf_append(out, buf, n);
    fclose(f);
    return 0;
}

/*
 * Walks DIR/{the only process}/ in file order. Returns the number of block
 * files, or -1 if any file fails to decode. *process (if not NULL) receives a
 * copy of the process message.
 */
static int capture_walk(const char *dir, capture_fn fn, void *ctx, dbuf *process)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    char pdir[1024] = "";
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            snprintf(pdir, sizeof pdir, "%s/%s", dir, de->d_name);
    closedir(d);
    d = opendir(pdir);
    if (!d)
        return -1;
    char *names[100000];
    int n = 0;
    while ((de = readdir(d)) && n < 100000)
        if (de->d_name[0] != '.')
            names[n++] = strdup(de->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], capture_cmp);
    dbuf m, scratch;
    dbuf_init(&m, WIRE_MAX_BLOCK_MSG);
    dbuf_init(&scratch, WIRE_MAX_BODY);
    int blocks = 0, bad = 0;
    for (int i = 0; i < n; i++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", pdir, names[i]);
        capture_read(path, &m);
        if (strstr(names[i], ".process") && process)
            dbuf_append(process, m.p, m.len);
        if (!strstr(names[i], ".block"))
            continue;
        wire_block b;
        const uint8_t *payload;
        errmsg e;
        arena a;
        arena_init(&a, 1 << 16, 0);
        wire_payload pl;
        if (wire_block_decode(m.p, m.len, &b, &payload, &e) ||
            wire_payload_open(payload, b.payload_size, &scratch, &a, &pl, &e)) {
            fprintf(stderr, "  %s: %s\n", names[i], e.text);
            bad = 1;
        } else {
            wire_event ev;
            int rc;
            while ((rc = wire_payload_next(&pl, &ev, &e)) == 1)
                fn(ctx, &b, &pl, &ev);
            if (rc < 0) {
                fprintf(stderr, "  %s: %s\n", names[i], e.text);
                bad = 1;
            }
        }
        arena_destroy(&a);
        blocks++;
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    dbuf_free(&m);
    dbuf_free(&scratch);
    return bad ? -1 : blocks;
}

/* A fresh empty directory under /tmp for one test. */
static void capture_tmpdir(char *out, size_t n, const char *name)
{
    snprintf(out, n, "/tmp/sl-test-%s-%d", name, (int)getpid());
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", out);
    if (system(cmd) != 0)
        fprintf(stderr, "  cannot clear %s\n", out);
}

#endif
