/*
 * log.h - the server's own diagnostics on stderr.
 *
 * One line per message: RFC 3339 time, level, subsystem, text.  This is for
 * operators of the streamlake server; it is not the tracing library.
 */
#ifndef SL_BASE_LOG_H
#define SL_BASE_LOG_H

enum { LOG_ERROR = 2, LOG_WARN = 3, LOG_INFO = 4, LOG_DEBUG = 5 };

void log_set_level(int level);
int log_get_level(void);
void log_msg(int level, const char *subsystem, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * A second destination for every line that passes the level: fn gets the
 * level, the subsystem and the message (without time and level).  `serve`
 * uses it to record its log lines in its own lake (server/self_trace.c).
 * NULL removes it.  Set it while no other thread logs.
 */
typedef void (*log_hook_fn)(int level, const char *subsystem, const char *message);
void log_set_hook(log_hook_fn fn);

#define log_error(sub, ...) log_msg(LOG_ERROR, sub, __VA_ARGS__)
#define log_warn(sub, ...) log_msg(LOG_WARN, sub, __VA_ARGS__)
#define log_info(sub, ...) log_msg(LOG_INFO, sub, __VA_ARGS__)
#define log_debug(sub, ...) log_msg(LOG_DEBUG, sub, __VA_ARGS__)

#endif
