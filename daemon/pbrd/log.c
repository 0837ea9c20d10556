/* log.c -- owns the daemon's log line format (logfmt on stderr). */
#include "pbrd/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *level_name(pbrd_log_level level)
{
    switch (level) {
    case PBRD_LOG_DEBUG: return "debug";
    case PBRD_LOG_INFO: return "info";
    case PBRD_LOG_WARN: return "warn";
    default: return "error";
    }
}

/* Escapes s into out; truncates silently. Returns out. */
const char *pbrd_log_quote(const char *s, char *out, unsigned long n)
{
    size_t o = 0;
    if (n == 0)
        return out;
    for (; s && *s && o + 5 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, n - o, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return out;
}

/* Formats the line into a stack buffer and writes it with one write(2). */
void pbrd_log(pbrd_log_level level, const char *msg, const char *kvfmt, ...)
{
    char line[2048], qmsg[512], ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int n = snprintf(line, sizeof line, "ts=%s level=%s msg=\"%s\"", ts, level_name(level),
                     pbrd_log_quote(msg, qmsg, sizeof qmsg));
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line - 2)
        n = (int)sizeof line - 2;
    if (kvfmt && *kvfmt) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, kvfmt);
        int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, kvfmt, ap);
        va_end(ap);
        if (m > 0)
            n += m < (int)(sizeof line - (size_t)n - 1) ? m : (int)(sizeof line - (size_t)n - 2);
    }
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
