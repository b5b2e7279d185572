/*
 * error.h - SQL errors as PostgreSQL reports them.
 *
 * Every failure of the engine that a user can cause carries a SQLSTATE, a
 * message, and where it applies a detail, a hint and a cursor position (the
 * 1-based character offset into the statement text, as PostgreSQL's
 * ErrorResponse field P).  sql_err_format renders the way psql shows it:
 *
 *   ERROR:  column "nme" does not exist
 *   LINE 1: SELECT nme FROM t
 *                  ^
 *   HINT:  Perhaps you meant to reference the column "t.name".
 *
 * Functions that can fail return a negative SL_E* code with the sql_err
 * filled; the code says what kind of failure it is for the caller's control
 * flow (SL_EINVAL for bad input, SL_ENOMEM, SL_ECANCELED...), the SQLSTATE
 * says it to the user.
 */
#ifndef SL_SQL_FRONT_ERROR_H
#define SL_SQL_FRONT_ERROR_H

#include "base/dbuf.h"
#include "base/err.h"

typedef struct sql_err {
    char state[6];
    int code;          /* SL_E* */
    int position;      /* 1-based character offset in the statement text; 0: none */
    char msg[512];
    char detail[256];
    char hint[256];
    char context[256]; /* where it happened (PostgreSQL's CONTEXT), e.g. a COPY line */
} sql_err;

void sql_err_clear(sql_err *e);
/* Sets state, position (a byte offset into the text, -1 for none: converted to
 * PostgreSQL's 1-based character position by the caller that knows the text)
 * and message.  Returns the SL_E* code that goes with the state's class. */
int sql_err_set(sql_err *e, const char *state, int byte_pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void sql_err_detail(sql_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sql_err_hint(sql_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sql_err_context(sql_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The SL_E* code for a SQLSTATE ("53200": SL_ENOMEM, "57014": SL_ECANCELED, ...). */
int sql_state_code(const char *state);

/* sql_err_set stores byte offsets + 1 in position; this turns it into characters
 * of text (UTF-8) as PostgreSQL counts them. */
void sql_err_fix_position(sql_err *e, const char *text);

/* psql's rendering: ERROR line, LINE n with the caret, DETAIL, HINT. */
int sql_err_format(const sql_err *e, const char *text, dbuf *out);

/* Common ones. */
#define SQLSTATE_SYNTAX "42601"
#define SQLSTATE_UNDEFINED_COLUMN "42703"
#define SQLSTATE_UNDEFINED_TABLE "42P01"
#define SQLSTATE_UNDEFINED_FUNCTION "42883"
#define SQLSTATE_AMBIGUOUS_COLUMN "42702"
#define SQLSTATE_DATATYPE_MISMATCH "42804"
#define SQLSTATE_CANNOT_COERCE "42846"
#define SQLSTATE_GROUPING "42803"
#define SQLSTATE_FEATURE "0A000"
#define SQLSTATE_INVALID_TEXT "22P02"
#define SQLSTATE_OUT_OF_RANGE "22003"
#define SQLSTATE_DIV_ZERO "22012"
#define SQLSTATE_OUT_OF_MEMORY "53200"
#define SQLSTATE_CANCELED "57014"
#define SQLSTATE_DUPLICATE_TABLE "42P07"
#define SQLSTATE_INTERNAL "XX000"

#endif
