/*
 * log.c - one formatted line per message on stderr, written with one write()
 * so that lines from several threads never interleave.
 */
#include "base/log.h"

#include "base/clock.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

static _Atomic int g_level = LOG_INFO;
static _Atomic(log_hook_fn) g_hook;

void log_set_hook(log_hook_fn fn)
{
    atomic_store(&g_hook, fn);
}

void log_set_level(int level)
{
    atomic_store(&g_level, level);
}

int log_get_level(void)
{
    return atomic_load(&g_level);
}

void log_msg(int level, const char *subsystem, const char *fmt, ...)
{
    if (level > atomic_load_explicit(&g_level, memory_order_relaxed))
        return;
    static const char *names[] = {"", "FATAL", "ERROR", "WARN", "INFO", "DEBUG"};
    char ts[40];
    clock_format_rfc3339(clock_wall_ns(), ts, sizeof ts);
    char line[1024];
    int n = snprintf(line, sizeof line, "%.23sZ %-5s %s: ", ts,
                     level >= 1 && level <= 5 ? names[level] : "?", subsystem);
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(2, line, len);
    (void)w;
    log_hook_fn hook = atomic_load_explicit(&g_hook, memory_order_acquire);
    if (hook) {
        line[len - 1] = 0;
        hook(level, subsystem, line + n);
    }
}
