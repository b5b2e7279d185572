/*
 * keys.h - the keys file: named credentials with scopes, for `streamlake
 * serve --keys FILE` and `streamlake keys add|list`.
 *
 * One key a line (docs/internals/pgwire.md, "The keys file", format 1):
 *
 *   NAME SCOPES VERIFIER
 *
 * NAME is 1 to 63 characters of [A-Za-z0-9_.@-] (a PostgreSQL user name;
 * later an HTTP API key's id), SCOPES a comma list of ingest, query and admin,
 * VERIFIER a SCRAM-SHA-256 verifier in PostgreSQL's text (scram.h): the file
 * never holds a secret.  Fields are separated by spaces or tabs; '#' starts a
 * comment line; blank lines are skipped; a comment "# streamlake-keys N"
 * declares the format (1 when absent; a newer N is refused).  Parsing is
 * strict: anything else is an error naming the line.
 *
 * A keyset is immutable once loaded, so connection threads read it without a
 * lock.
 */
#ifndef SL_SERVER_KEYS_H
#define SL_SERVER_KEYS_H

#include "base/err.h"
#include "server/scram.h"

#include <stddef.h>

#define KEYS_FORMAT_VERSION 1
#define KEYS_NAME_MAX 63
#define KEYS_LINE_MAX 1024           /* characters of one line */
#define KEYS_MAX 10000               /* keys in one file */
#define KEYS_FILE_MAX (16u << 20)    /* bytes of one file */

enum { KEY_SCOPE_INGEST = 1, KEY_SCOPE_QUERY = 2, KEY_SCOPE_ADMIN = 4 };

typedef struct key_entry {
    char name[KEYS_NAME_MAX + 1];    /* NUL-padded to its size */
    unsigned scopes;                 /* KEY_SCOPE_* bits */
    int line;                        /* 1-based, in its file */
    scram_verifier verifier;
} key_entry;

typedef struct keyset keyset;

/* Parses a whole file's text; e says "line N: what" for the first bad line. */
int keys_parse(const char *text, size_t n, keyset **out, errmsg *e);
/* Reads and parses path; e says "PATH:N: what" (or why it cannot be read). */
int keys_load(const char *path, keyset **out, errmsg *e);
void keys_free(keyset *ks);
int keys_count(const keyset *ks);
const key_entry *keys_at(const keyset *ks, int i);
/* The key of this name, or NULL; the time taken does not depend on which key matches. */
const key_entry *keys_find(const keyset *ks, const char *name);
/*
 * A made-up verifier for a name that has no key: the same salt for the same
 * name for the life of the keyset (from a random secret drawn at load), the
 * salt length and iteration count of the file's keys, so an exchange for an
 * unknown user looks like one for a known user with a wrong password.
 */
void keys_mock_verifier(const keyset *ks, const char *name, scram_verifier *v);

/* "query,ingest" -> bits; SL_EINVAL for an empty list, an unknown or repeated scope. */
int keys_scopes_parse(const char *s, size_t n, unsigned *out);
/* bits -> "ingest,query,admin" order, into buf. */
const char *keys_scopes_text(unsigned scopes, char *buf, size_t size);
/* 0 when name is a valid key name. */
int keys_name_check(const char *name, size_t n);

/*
 * Appends a new key to path (created with mode 0600 if missing, locked while
 * it is read and written): a random secret "sl_" + 32 base64url characters,
 * its verifier line.  The secret is written into secret (at least 40 bytes)
 * and nowhere else.  SL_EEXIST for a name already in the file.
 */
int keys_add(const char *path, const char *name, unsigned scopes, char *secret,
             size_t secret_size, errmsg *e);

#endif
