/*
 * base64.c - strict base64 and base64url (see base64.h).
 */
#include "base/base64.h"

#include "base/err.h"

static const char g_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char g_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t b64_encode(const uint8_t *p, size_t n, char *out, size_t out_size, bool url)
{
    const char *a = url ? g_url : g_std;
    size_t need = url ? (n * 4 + 2) / 3 : B64_ENCODED_LEN(n);
    if (out_size <= need)
        return 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        size_t left = n - i;
        if (left > 1)
            v |= (uint32_t)p[i + 1] << 8;
        if (left > 2)
            v |= p[i + 2];
        out[k++] = a[v >> 18 & 63];
        out[k++] = a[v >> 12 & 63];
        if (left > 1)
            out[k++] = a[v >> 6 & 63];
        else if (!url)
            out[k++] = '=';
        if (left > 2)
            out[k++] = a[v & 63];
        else if (!url)
            out[k++] = '=';
    }
    out[k] = 0;
    return k;
}

/* The 6-bit value of a standard-alphabet character, or -1. */
static int sextet(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

int b64_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    *out_len = 0;
    if (n % 4)
        return SL_ECORRUPT;
    size_t pad = n && s[n - 1] == '=' ? (s[n - 2] == '=' ? 2 : 1) : 0;
    size_t len = n / 4 * 3 - pad;
    if (len > cap)
        return SL_ETOOBIG;
    size_t k = 0;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = 0;
        int chars = i + 4 < n ? 4 : 4 - (int)pad;
        for (int j = 0; j < 4; j++) {
            int x = j < chars ? sextet(s[i + (size_t)j]) : 0;
            if (x < 0 || (j >= chars && s[i + (size_t)j] != '='))
                return SL_ECORRUPT;
            v = v << 6 | (uint32_t)x;
        }
        /* the bits after the last byte must be zero: one text per value */
        if ((chars == 2 && (v & 0xFFFF)) || (chars == 3 && (v & 0xFF)))
            return SL_ECORRUPT;
        out[k++] = (uint8_t)(v >> 16);
        if (chars > 2)
            out[k++] = (uint8_t)(v >> 8);
        if (chars > 3)
            out[k++] = (uint8_t)v;
    }
    *out_len = k;
    return SL_OK;
}
