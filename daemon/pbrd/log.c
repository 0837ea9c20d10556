/* log.c -- owns the daemon's log line format (logfmt on stderr), its
 * level threshold and the journald priority prefix. */
#include "pbrd/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Set once by pbrd_log_setup before any thread starts, then only read. */
static pbrd_log_level log_min_level = PBRD_LOG_INFO;
static int log_journal_prefix;

void pbrd_log_setup(pbrd_log_level min_level, int journal_prefix)
{
    log_min_level = min_level;
    log_journal_prefix = journal_prefix;
}

int pbrd_log_level_parse(const char *s, pbrd_log_level *out)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; s != NULL && i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (pbrd_log_level)i;
            return 0;
        }
    }
    return -1;
}

int pbrd_log_stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) != 0)
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* The sd-daemon(3) priority prefix of a level. */
static const char *journal_prefix(pbrd_log_level level)
{
    switch (level) {
    case PBRD_LOG_DEBUG: return "<7>";
    case PBRD_LOG_INFO: return "<6>";
    case PBRD_LOG_WARN: return "<4>";
    default: return "<3>";
    }
}

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
    if (level < log_min_level)
        return;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int n = snprintf(line, sizeof line, "%sts=%s level=%s msg=\"%s\"", log_journal_prefix ? journal_prefix(level) : "",
                     ts, level_name(level), pbrd_log_quote(msg, qmsg, sizeof qmsg));
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
