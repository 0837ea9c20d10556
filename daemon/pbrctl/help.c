/* help.c -- owns the per-command help of pbrctl (`pbrctl COMMAND --help`):
 * one synopsis, one line saying what the command does, and its own options,
 * kept in step with the pbrctl(1) manual page. */
#include <stdio.h>
#include <string.h>

#include "pbrctl/pbrctl.h"

static const struct {
    const char *name, *synopsis, *what, *options;
} help[] = {
    {"send", "FILE|- [--batch N] [--window N] [--max-bytes N]",
     "send events (JSON Lines) to the ingest socket; \"-\" reads standard input",
     "  --batch N      lines per batch, 1..1000000 (default 1000)\n"
     "  --window N     batches in flight before waiting for a reply, 1..1024 (default 16)\n"
     "  --max-bytes N  largest batch in bytes, 64..2147483648 (default 16777216);\n"
     "                 a longer line is reported and not sent\n"
     "exit status: 0 all stored, 1 some lines rejected or batches not stored, 2 usage or connection error\n"},
    {"status", "[--format text|json]", "store counters and the daemon's date",
     "  --format F     text (default) or json\n"},
    {"contracts", "[--format text|json|csv]", "the loaded contracts: id, provider, last statement, SHA-256, title",
     "  --format F     text (default), json or csv\n"},
    {"statement", "CONTRACT QUARTER [--format json|yaml|csv|text]",
     "an issued statement; QUARTER is the quarter's first day, YYYY-MM-DD",
     "  --format F     json (default: the canonical JSON, byte for byte), yaml, csv or text\n"},
    {"cohorts", "CONTRACT [--format text|json|csv]", "provisional figures of CONTRACT as of now (not payable)",
     "  --format F     text (default), json or csv (amount_gbp beside amount_pence)\n"},
    {"statements", "CONTRACT [--format text|json|csv]",
     "the issued quarters of CONTRACT with their totals: fees, outcomes, adjustments",
     "  --format F     text (default: then the totals per settlement year and lifetime), json or csv\n"},
    {"explain",
     "CONTRACT QUARTER COMPONENT PERIOD [SEGMENT] [--format text|json|csv]\n"
     "       pbrctl explain --offline CONTRACT.yaml EVENTS.jsonl QUARTER COMPONENT PERIOD [SEGMENT]",
     "the rows behind one line of the statement of QUARTER, as that statement computed it",
     "  --offline      settle CONTRACT.yaml over EVENTS.jsonl instead of asking the daemon\n"
     "  --format F     text (default), json or csv\n"
     "exit status: 1 when the statement is not issued or has no such line\n"},
    {"diff", "OLD.yaml NEW.yaml EVENTS.jsonl [--through QUARTER] [--format text|json|csv]",
     "settle two versions of a contract offline and compare every line, quarter, year and the lifetime",
     "  --through Q    stop after quarter Q (YYYY-MM-DD)\n"
     "  --format F     text (default; nothing when equal), json or csv\n"
     "exit status: 0 every figure equal, 1 some differ, 2 an error (as diff(1))\n"},
    {"report", "CONTRACT [-o FILE]\n       pbrctl report --offline CONTRACT.yaml EVENTS.jsonl [-o FILE]",
     "one self-contained HTML page of a contract's payments, cohorts, custody nights and statements",
     "  --offline      settle CONTRACT.yaml over EVENTS.jsonl instead of asking the daemon\n"
     "  -o FILE        write the page to FILE atomically (default: standard output)\n"},
    {"settle", "QUARTER [--contract C] [--format text|json]",
     "issue every unissued statement due up to and including QUARTER",
     "  --contract C   only contract C\n"
     "  --format F     text (default) or json\n"},
    {"reload", "[--format text|json]", "re-read the contract files and the clients file",
     "  --format F     text (default) or json\n"
     "exit status: 1 when a contract file or the clients file has an error (the previous version stays in\n"
     "force)\n"},
    {"quarantine", "[--limit N | --purge-before DATE] [--format text|json]",
     "rejected input, newest first: when, why, the raw line",
     "  --limit N      the newest N records (default 100)\n"
     "  --purge-before DATE\n"
     "                 delete the records stored before DATE (YYYY-MM-DD, 00:00 UTC);\n"
     "                 finance and operator roles\n"
     "  --format F     text (default) or json\n"
     "a line that is not UTF-8 text (invalid UTF-8, a NUL byte) is shown as the base64 of its bytes\n"},
    {"verify", "[--format text|json]", "recompute every issued statement from the event log and compare",
     "  --format F     text (default) or json\n"
     "exit status: 1 when any statement differs\n"},
    {"backup", "DIR [--format text|json]",
     "the daemon copies its store and statements into DIR (on its machine) while ingest goes on",
     "  DIR            an absolute path on the daemon's machine, written by the daemon; created 0700\n"
     "                 (files 0600, MANIFEST.json), must be absent or empty; under the unit:\n"
     "                 /var/lib/pbrd-backup/NAME\n"
     "  --format F     text (default) or json\n"
     "waits at least 10 minutes for the reply; finance and operator roles\n"},
    {"wait", "[--after N] [--max-wait MS] [--format text|json]",
     "wait for statements issued for the contracts you may see (a provider: its own)",
     "  --after N      the cursor of the last reply (\"next: pbrctl wait --after N\"); without it,\n"
     "                 from now\n"
     "  --max-wait MS  how long the daemon holds the request, 0..3600000 (default 30000)\n"
     "  --format F     text (default: CONTRACT QUARTER lines) or json\n"
     "exit status: 0 statements listed, 1 none issued before --max-wait passed\n"},
    {"check", "CONTRACT.yaml...", "validate contract files (offline, no daemon)",
     "exit status: 1 when any file is invalid (FILE:LINE:COLUMN: message on standard error)\n"},
    {"simulate", "CONTRACT.yaml EVENTS.jsonl [--through QUARTER] [--format json|yaml|csv|text]",
     "settle a contract offline over an event file, every quarter in order",
     "  --through Q    stop after quarter Q (YYYY-MM-DD; default: the contract's last statement)\n"
     "  --format F     json (default: one statement per line), yaml, csv or text\n"},
    {"keygen", "NAME", "write a CURVE key pair: NAME.key (public) and NAME.key_secret (secret, mode 0600)",
     "  existing files are never overwritten\n"},
};

int pbrctl_command_help(const char *cmd, FILE *f)
{
    for (size_t i = 0; i < sizeof help / sizeof help[0]; i++) {
        if (strcmp(help[i].name, cmd) != 0)
            continue;
        fprintf(f, "usage: pbrctl [connection options] %s %s\n  %s\n%s", help[i].name, help[i].synopsis, help[i].what,
                help[i].options);
        fprintf(f, "see pbrctl(1)%s\n",
                strcmp(cmd, "check") == 0 || strcmp(cmd, "simulate") == 0 ? " and pbrd-contract(5)" : "");
        return 0;
    }
    return -1;
}
