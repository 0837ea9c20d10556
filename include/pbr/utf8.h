/* utf8.h -- strict UTF-8, the one definition every module uses: no overlong
 * forms, no surrogates, nothing above U+10FFFF (what jansson accepts); and
 * base64, for showing bytes that are not such text.
 */
#ifndef PBR_UTF8_H
#define PBR_UTF8_H

#include <stddef.h>

/* The length (1..4) of the well-formed character at s (n >= 1 bytes
 * available), or 0 when the bytes there are not one. */
size_t pbr_utf8_char_len(const unsigned char *s, size_t n);

/* The offset of the first byte of s[0..len) that does not start a
 * well-formed character, or len when all of it is valid UTF-8. */
size_t pbr_utf8_valid_prefix(const void *s, size_t len);

/* A copy of s[0..len) with every byte that is not part of a well-formed
 * character replaced by U+FFFD, NUL-terminated, its length in *outlen.
 * Returns malloc'd text (caller frees), or NULL when out of memory. */
char *pbr_utf8_lossy(const void *s, size_t len, size_t *outlen);

/* Whether s[0..len) is text an event line may be: valid UTF-8 without a
 * NUL byte. Returns 0 when it is; otherwise 1 with reason set to what is
 * wrong at the first bad byte ("NUL byte at byte 5", "invalid UTF-8 at
 * byte 17"; bytes counted from 1). reason may be NULL. */
int pbr_utf8_text_problem(const void *s, size_t len, char *reason, size_t n);

/* The standard base64 (RFC 4648 section 4, padded) of s[0..len): how
 * bytes that are not text are shown. Returns malloc'd NUL-terminated text
 * (caller frees), or NULL when out of memory. */
char *pbr_base64(const void *s, size_t len);

#endif
