/*
 * base64.h - base64 (RFC 4648 section 4) and base64url (section 5), strict.
 *
 * For credentials and protocol fields, where one value must have one text:
 * the decoder accepts only the canonical form (standard alphabet, '=' padding
 * to a multiple of 4, no whitespace, zero bits after the last byte), so a
 * value that decodes also re-encodes to the same text.  No allocation: the
 * caller gives the output buffer.
 */
#ifndef SL_BASE_BASE64_H
#define SL_BASE_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Characters b64_encode writes for n bytes (without the NUL). */
#define B64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)

/*
 * Encodes p[0, n) into out (NUL-terminated).  url: the base64url alphabet
 * ('-', '_') without padding.  Returns the characters written, or 0 when out
 * (out_size bytes) is too small for them and the NUL.
 */
size_t b64_encode(const uint8_t *p, size_t n, char *out, size_t out_size, bool url);
/*
 * Decodes s[0, n) (standard alphabet, canonical) into out (cap bytes).
 * SL_OK with *out_len set; SL_ECORRUPT for a text that is not canonical
 * base64; SL_ETOOBIG when the bytes do not fit cap.
 */
int b64_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len);

#endif
