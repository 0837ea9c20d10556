/* err.h -- error messages: every fallible call of libpbr, pbrd and pbrctl
 * takes (char *err, size_t errlen) and fills it with a message that names
 * the failing call or field.
 */
#ifndef PBR_ERR_H
#define PBR_ERR_H

#include <stddef.h>

/* snprintf into err (if err != NULL and errlen > 0). Returns -1 so callers can
 * write `return pbr_errf(err, n, "...")`. */
int pbr_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
