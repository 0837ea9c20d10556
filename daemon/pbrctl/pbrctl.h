/* pbrctl.h -- the subcommands of pbrctl and the connection options they share.
 *
 * main.c parses the global options (also accepted after the command) and
 * dispatches; each cmd_*.c file owns a group of commands:
 *   cmd_offline.c  check, simulate            (no daemon)
 *   cmd_gen.c      gen                        (also run as `pbrgen`)
 *   cmd_send.c     send
 *   cmd_query.c    status, contracts, statement, cohorts, settle, reload,
 *                  quarantine, verify, backup
 *   cmd_keys.c     keygen
 *   cmd_statements.c  statements             (issued quarters and totals)
 *   cmd_explain.c  explain                    (the rows behind a line)
 *   cmd_diff.c     diff                       (two contract versions, offline)
 *   cmd_report.c   report                     (an HTML page per contract; report.c draws it)
 *   cmd_wait.c     wait
 *   help.c         the per-command --help text
 * A command returns the process exit status: 0 success, 1 the operation
 * reported a problem (rejections, invalid contracts, differences), 2 usage
 * or connection errors.
 */
#ifndef PBRCTL_H
#define PBRCTL_H

#include <stdio.h>

typedef struct pbrctl_opts {
    const char *ingest;     /* --ingest E, default tcp://127.0.0.1:7301 */
    const char *api;        /* --api E, default tcp://127.0.0.1:7302 */
    const char *server_key; /* --server-key FILE (server's public key) */
    const char *key;        /* --key NAME: reads NAME.key and NAME.key_secret */
    int timeout_ms;         /* --timeout MS, default 30000 */
} pbrctl_opts;

/* argv[0] is the command name; the global options have been removed. */
typedef int (*pbrctl_cmd_fn)(const pbrctl_opts *o, int argc, char **argv);

int cmd_check(const pbrctl_opts *o, int argc, char **argv);
int cmd_simulate(const pbrctl_opts *o, int argc, char **argv);
int cmd_gen(const pbrctl_opts *o, int argc, char **argv);
int cmd_send(const pbrctl_opts *o, int argc, char **argv);
int cmd_status(const pbrctl_opts *o, int argc, char **argv);
int cmd_contracts(const pbrctl_opts *o, int argc, char **argv);
int cmd_statement(const pbrctl_opts *o, int argc, char **argv);
int cmd_cohorts(const pbrctl_opts *o, int argc, char **argv);
int cmd_settle(const pbrctl_opts *o, int argc, char **argv);
int cmd_reload(const pbrctl_opts *o, int argc, char **argv);
int cmd_quarantine(const pbrctl_opts *o, int argc, char **argv);
int cmd_verify(const pbrctl_opts *o, int argc, char **argv);
int cmd_backup(const pbrctl_opts *o, int argc, char **argv);
int cmd_keygen(const pbrctl_opts *o, int argc, char **argv);
int cmd_statements(const pbrctl_opts *o, int argc, char **argv);
int cmd_explain(const pbrctl_opts *o, int argc, char **argv);
int cmd_diff(const pbrctl_opts *o, int argc, char **argv);
int cmd_report(const pbrctl_opts *o, int argc, char **argv);
int cmd_wait(const pbrctl_opts *o, int argc, char **argv);

/* help.c: prints `pbrctl CMD --help` to f. Returns 0, or -1 for a command
 * without an entry (gen prints its own). */
int pbrctl_command_help(const char *cmd, FILE *f);

#endif
