/*
 * sink_dir.c - offline capture: writes each message as a file.
 *
 *   DIR/{process_id}/{seq:012}.process | .stream | .block
 *
 * seq counts messages in the order they were sent, so `streamlake import`
 * replays them in an order the server accepts (process, then each stream
 * before its blocks).  A file appears under its final name only when complete
 * (written to a temporary name, then renamed), so a crash never leaves a
 * truncated message for import to trip on.
 */
#include "client/client.h"

#include "base/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct dir_sink {
    cl_sink base;
    char *dir;
    uint64_t seq;
} dir_sink;

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int dir_send(cl_sink *s, int kind, const uint8_t *msg, size_t len, errmsg *e)
{
    dir_sink *d = (dir_sink *)s;
    const char *ext = kind == 'P' ? "process" : kind == 'S' ? "stream" : "block";
    char final[4096], tmp[4200];
    snprintf(final, sizeof final, "%s/%012llu.%s", d->dir, (unsigned long long)d->seq, ext);
    snprintf(tmp, sizeof tmp, "%s/.tmp-%012llu", d->dir, (unsigned long long)d->seq);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return errmsg_set(e, SL_EIO, "%s: %s", tmp, strerror(errno));
    int bad = write_all(fd, msg, len);
    if (close(fd) || bad || rename(tmp, final)) {
        int err = errno;
        unlink(tmp);
        return errmsg_set(e, SL_EIO, "%s: %s", final, strerror(err));
    }
    d->seq++;
    return SL_OK;
}

static void dir_destroy(cl_sink *s)
{
    dir_sink *d = (dir_sink *)s;
    /* Make the capture durable as a whole once, rather than per message. */
    int fd = open(d->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        syncfs(fd);
        close(fd);
    }
    sl_free(d->dir);
    sl_free(d);
}

int cl_sink_dir_new(const char *dir, const char *process_id, cl_sink **out, errmsg *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, process_id);
    if (mkdir(dir, 0755) && errno != EEXIST)
        return errmsg_set(e, SL_EIO, "cannot create %s: %s", dir, strerror(errno));
    if (mkdir(path, 0755) && errno != EEXIST)
        return errmsg_set(e, SL_EIO, "cannot create %s: %s", path, strerror(errno));
    dir_sink *d = sl_calloc(1, sizeof *d);
    if (!d)
        return SL_ENOMEM;
    d->dir = sl_strdup(path);
    d->base.send = dir_send;
    d->base.destroy = dir_destroy;
    *out = &d->base;
    return SL_OK;
}
