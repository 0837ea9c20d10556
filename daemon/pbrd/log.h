/* log.h -- structured log lines on stderr, one write(2) per line so lines
 * from the ingest and API threads never interleave:
 *   ts=2026-11-23T09:00:00Z level=info msg="ingest bound" endpoint=tcp://127.0.0.1:7301
 */
#ifndef PBRD_LOG_H
#define PBRD_LOG_H

typedef enum { PBRD_LOG_DEBUG = 0, PBRD_LOG_INFO, PBRD_LOG_WARN, PBRD_LOG_ERROR } pbrd_log_level;

/* Writes one line: ts, level, msg (quoted and escaped) and then the
 * key=value text made from kvfmt (printf format, may be NULL). Values that
 * may contain spaces should be quoted by the caller with %s inside "..."
 * after passing them through pbrd_log_quote. Never fails visibly. */
void pbrd_log(pbrd_log_level level, const char *msg, const char *kvfmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copies s into out (n bytes, always NUL terminated) with '"', '\\' and
 * control characters escaped, for use inside a quoted log value. Returns out. */
const char *pbrd_log_quote(const char *s, char *out, unsigned long n);

#endif
