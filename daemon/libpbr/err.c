/* err.c -- pbr_errf: the one way library functions fill a caller's error
 * buffer and fail. */
#include <stdarg.h>
#include <stdio.h>

#include "pbr/err.h"

int pbr_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}
