/*
 * pf_sink.c - file and memory sinks for trace chunks (see pf_sink.h).
 */
#include "perfetto/pf_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int pf_file_sink_open(pf_file_sink *fs, const char *path, errmsg *e)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return errmsg_set(e, SL_EIO, "cannot create %s: %s", path, strerror(errno));
    pf_file_sink_init_fd(fs, fd);
    fs->owns_fd = 1;
    return SL_OK;
}

void pf_file_sink_init_fd(pf_file_sink *fs, int fd)
{
    fs->fd = fd;
    fs->owns_fd = 0;
    fs->bytes = 0;
    fs->chunks = 0;
}

static int file_write(void *ctx, const uint8_t *p, size_t n)
{
    pf_file_sink *fs = ctx;
    fs->chunks++;
    while (n > 0) {
        ssize_t k = write(fs->fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return SL_EIO;
        }
        p += k;
        n -= (size_t)k;
        fs->bytes += (uint64_t)k;
    }
    return SL_OK;
}

pf_sink pf_file_sink_get(pf_file_sink *fs)
{
    return (pf_sink){file_write, fs};
}

int pf_file_sink_close(pf_file_sink *fs)
{
    int rc = SL_OK;
    if (fs->owns_fd && fs->fd >= 0 && close(fs->fd) != 0)
        rc = SL_EIO;
    fs->fd = -1;
    fs->owns_fd = 0;
    return rc;
}

void pf_mem_sink_init(pf_mem_sink *ms, size_t max_bytes)
{
    dbuf_init(&ms->buf, max_bytes);
    ms->chunks = 0;
    ms->max_chunk_bytes = 0;
}

static int mem_write(void *ctx, const uint8_t *p, size_t n)
{
    pf_mem_sink *ms = ctx;
    ms->chunks++;
    if (n > ms->max_chunk_bytes)
        ms->max_chunk_bytes = n;
    return dbuf_append(&ms->buf, p, n);
}

pf_sink pf_mem_sink_get(pf_mem_sink *ms)
{
    return (pf_sink){mem_write, ms};
}

void pf_mem_sink_free(pf_mem_sink *ms)
{
    dbuf_free(&ms->buf);
}
