/*
 * uuid.h - 16-byte identifiers (process, stream, block ids).
 *
 * On the wire a uuid is its 16 raw bytes; in text (SQL, JSON, file paths) it is
 * the canonical lower-case 8-4-4-4-12 form, 36 characters.
 */
#ifndef SL_BASE_UUID_H
#define SL_BASE_UUID_H

#include <stdint.h>

typedef struct sl_uuid {
    uint8_t b[16];
} sl_uuid;

#define UUID_STR_LEN 37 /* 36 characters and the NUL */

/* A random version-4 uuid from getrandom(); returns 0 or SL_EIO. */
int uuid_v4(sl_uuid *out);
void uuid_format(const sl_uuid *u, char out[UUID_STR_LEN]);
/* Accepts exactly the canonical 36-character form (either case); 0 or SL_EINVAL
 * (then *out is left as it was). */
int uuid_parse(const char *s, sl_uuid *out);
int uuid_is_nil(const sl_uuid *u);
int uuid_eq(const sl_uuid *a, const sl_uuid *b);

#endif
