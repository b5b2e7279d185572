/*
 * error.c - SQL errors (see error.h).
 */
#include "sql/front/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void sql_err_clear(sql_err *e)
{
    if (!e)
        return;
    memset(e, 0, sizeof *e);
}

int sql_state_code(const char *state)
{
    if (!strncmp(state, "53", 2))
        return SL_ENOMEM;
    if (!strcmp(state, "57014"))
        return SL_ECANCELED;
    if (!strncmp(state, "XX", 2))
        return SL_EINTERNAL;
    if (!strcmp(state, "0A000"))
        return SL_EUNSUPPORTED;
    if (!strncmp(state, "58", 2))
        return SL_EIO;
    return SL_EINVAL;
}

int sql_err_set(sql_err *e, const char *state, int byte_pos, const char *fmt, ...)
{
    int code = sql_state_code(state);
    if (!e)
        return code;
    memset(e, 0, sizeof *e);
    snprintf(e->state, sizeof e->state, "%s", state);
    e->code = code;
    e->position = byte_pos >= 0 ? byte_pos + 1 : 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

/* detail, hint and context: the same formatting into a field of e */
#define SET_FIELD(e, field, fmt)                                                              \
    do {                                                                                      \
        if (!(e))                                                                             \
            return;                                                                           \
        va_list ap;                                                                           \
        va_start(ap, fmt);                                                                    \
        vsnprintf((e)->field, sizeof(e)->field, fmt, ap);                                     \
        va_end(ap);                                                                           \
    } while (0)

void sql_err_detail(sql_err *e, const char *fmt, ...)
{
    SET_FIELD(e, detail, fmt);
}

void sql_err_hint(sql_err *e, const char *fmt, ...)
{
    SET_FIELD(e, hint, fmt);
}

void sql_err_context(sql_err *e, const char *fmt, ...)
{
    SET_FIELD(e, context, fmt);
}

void sql_err_fix_position(sql_err *e, const char *text)
{
    if (!e || e->position <= 0 || !text)
        return;
    int bytes = e->position - 1, chars = 0;
    size_t n = strlen(text);
    for (int i = 0; i < bytes && (size_t)i < n; i++)
        if (((unsigned char)text[i] & 0xC0) != 0x80)
            chars++;
    e->position = chars + 1;
}

int sql_err_format(const sql_err *e, const char *text, dbuf *out)
{
    int rc = dbuf_printf(out, "ERROR:  %s\n", e->msg);
    if (!rc && e->position > 0 && text) {
        /* the line holding the position (in characters), and a caret under it */
        int line = 1, col = 0, chars = 0;
        const char *ls = text, *p = text;
        for (; *p && chars < e->position - 1; p++) {
            if (((unsigned char)*p & 0xC0) == 0x80)
                continue;
            chars++;
            if (*p == '\n') {
                line++;
                ls = p + 1;
            }
        }
        const char *le = strchr(ls, '\n');
        size_t len = le ? (size_t)(le - ls) : strlen(ls);
        for (const char *q = ls; q < p; q++)
            if (((unsigned char)*q & 0xC0) != 0x80)
                col++;
        char prefix[32];
        int pl = snprintf(prefix, sizeof prefix, "LINE %d: ", line);
        rc = dbuf_printf(out, "%s%.*s\n%*s^\n", prefix, (int)len, ls, pl + col, "");
    }
    if (!rc && e->detail[0])
        rc = dbuf_printf(out, "DETAIL:  %s\n", e->detail);
    if (!rc && e->hint[0])
        rc = dbuf_printf(out, "HINT:  %s\n", e->hint);
    return rc;
}
