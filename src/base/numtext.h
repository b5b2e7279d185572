/*
 * numtext.h - integers as decimal text, fast (two digits a step, no printf):
 * the hot path of every text result (DataRows, COPY, CSV, casts to text).
 */
#ifndef SL_BASE_NUMTEXT_H
#define SL_BASE_NUMTEXT_H

#include <stdint.h>
#include <string.h>

#define SL_I64_TEXT_MAX 21 /* "-9223372036854775808" and a spare byte */

/* Writes v's digits at out (no terminator); returns their count (1..20). */
static inline int sl_u64_text(uint64_t v, char *out)
{
    static const char pairs[201] = "00010203040506070809101112131415161718192021222324"
                                   "25262728293031323334353637383940414243444546474849"
                                   "50515253545556575859606162636465666768697071727374"
                                   "75767778798081828384858687888990919293949596979899";
    char tmp[24];
    int i = 24;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        i -= 2;
        memcpy(tmp + i, pairs + 2 * r, 2);
    }
    if (v >= 10) {
        i -= 2;
        memcpy(tmp + i, pairs + 2 * v, 2);
    } else {
        tmp[--i] = (char)('0' + v);
    }
    memcpy(out, tmp + i, (size_t)(24 - i));
    return 24 - i;
}

/* Writes v (a minus sign first when negative) at out; returns the length. */
static inline int sl_i64_text(int64_t v, char *out)
{
    if (v >= 0)
        return sl_u64_text((uint64_t)v, out);
    out[0] = '-';
    return 1 + sl_u64_text(-(uint64_t)v, out + 1);
}

#endif
