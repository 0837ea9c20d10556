/* utf8.c -- owns UTF-8 validation and lossy repair for the event parser,
 * the ingest socket, the quarantine and the API's error messages, and the
 * base64 form of bytes that are not text (the quarantine's raw lines). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbr/utf8.h"

size_t pbr_utf8_char_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1Fu;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0Fu;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07u;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3Fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

size_t pbr_utf8_valid_prefix(const void *data, size_t len)
{
    const unsigned char *s = data;
    size_t i = 0;
    while (i < len) {
        uint64_t word;
        if (len - i >= sizeof word) { /* ASCII fast path: 8 bytes at a time */
            memcpy(&word, s + i, sizeof word);
            if ((word & UINT64_C(0x8080808080808080)) == 0) {
                i += sizeof word;
                continue;
            }
        }
        size_t k = pbr_utf8_char_len(s + i, len - i);
        if (k == 0)
            return i;
        i += k;
    }
    return len;
}

char *pbr_utf8_lossy(const void *data, size_t len, size_t *outlen)
{
    const unsigned char *s = data;
    if (len > (SIZE_MAX - 1) / 3)
        return NULL;
    char *out = malloc(len * 3 + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0, i = 0;
    while (i < len) {
        size_t ok = pbr_utf8_valid_prefix(s + i, len - i);
        memcpy(out + o, s + i, ok);
        o += ok;
        i += ok;
        if (i < len) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

int pbr_utf8_text_problem(const void *s, size_t len, char *reason, size_t n)
{
    size_t bad = pbr_utf8_valid_prefix(s, len);
    const char *nul = memchr(s, '\0', bad); /* a NUL is valid UTF-8: look before the first bad byte */
    if (nul == NULL && bad == len)
        return 0;
    if (reason != NULL && n > 0) {
        if (nul != NULL)
            snprintf(reason, n, "NUL byte at byte %zu", (size_t)(nul - (const char *)s) + 1);
        else
            snprintf(reason, n, "invalid UTF-8 at byte %zu", bad + 1);
    }
    return 1;
}

char *pbr_base64(const void *data, size_t len)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = data;
    if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
        return NULL;
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        out[o++] = abc[v >> 18];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = abc[(v >> 6) & 63];
        out[o++] = abc[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < len ? (uint32_t)s[i + 1] << 8 : 0);
        out[o++] = abc[v >> 18];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = i + 1 < len ? abc[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}
