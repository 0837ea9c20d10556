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
void pbrd_log(pbrd_log_level level, const char *msg, const char *kvfmt, ...) __attribute__((format(printf, 3, 4)));

/* Sets, once at start-up before any thread runs, the least level that is
 * written (lower ones are dropped) and whether each line starts with the
 * sd-daemon(3) priority prefix (<3> error, <4> warn, <6> info, <7> debug)
 * that journald reads, so `journalctl -p err` works. The defaults: info,
 * no prefix. */
void pbrd_log_setup(pbrd_log_level min_level, int journal_prefix);

/* Parses "debug", "info", "warn" or "error" into *out. Returns 0 or -1. */
int pbrd_log_level_parse(const char *s, pbrd_log_level *out);

/* Whether stderr is the journal: $JOURNAL_STREAM ("DEV:INODE", set by
 * systemd) names the file stderr is (sd-daemon(3) asks for this check, as
 * a child may inherit the variable with another stderr). Returns 1 or 0. */
int pbrd_log_stderr_is_journal(void);

/* Copies s into out (n bytes, always NUL terminated) with '"', '\\' and
 * control characters escaped, for use inside a quoted log value. Returns out. */
const char *pbrd_log_quote(const char *s, char *out, unsigned long n);

#endif
