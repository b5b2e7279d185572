/*
 * uuid.c - random uuids and their text form.
 */
#include "base/uuid.h"

#include "base/err.h"

#include <string.h>
#include <sys/random.h>

int uuid_v4(sl_uuid *out)
{
    size_t got = 0;
    while (got < 16) {
        ssize_t n = getrandom(out->b + got, 16 - got, 0);
        if (n < 0)
            return SL_EIO;
        got += (size_t)n;
    }
    out->b[6] = (uint8_t)((out->b[6] & 0x0f) | 0x40);
    out->b[8] = (uint8_t)((out->b[8] & 0x3f) | 0x80);
    return SL_OK;
}

void uuid_format(const sl_uuid *u, char out[UUID_STR_LEN])
{
    static const char hex[] = "0123456789abcdef";
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[u->b[i] >> 4];
        out[o++] = hex[u->b[i] & 15];
    }
    out[o] = 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int uuid_parse(const char *s, sl_uuid *out)
{
    /* Parsed into a copy, so that text refused halfway leaves *out as it was. */
    sl_uuid u;
    int j = 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return SL_EINVAL;
            continue;
        }
        int hi = hexval(s[i]);
        if (hi < 0)
            return SL_EINVAL;
        int lo = hexval(s[++i]);
        if (lo < 0)
            return SL_EINVAL;
        u.b[j++] = (uint8_t)(hi << 4 | lo);
    }
    if (s[36] != 0)
        return SL_EINVAL;
    *out = u;
    return SL_OK;
}

int uuid_is_nil(const sl_uuid *u)
{
    static const sl_uuid nil;
    return memcmp(u->b, nil.b, 16) == 0;
}

int uuid_eq(const sl_uuid *a, const sl_uuid *b)
{
    return memcmp(a->b, b->b, 16) == 0;
}
