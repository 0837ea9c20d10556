/* main.c -- owns pbrctl's command line: the global connection options
 * (accepted before or after the command), usage, and dispatch to the
 * commands of pbrctl.h; run as `pbrgen` it is the generator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbr/version.h"
#include "pbrctl/pbrctl.h"

static const struct {
    const char *name;
    pbrctl_cmd_fn fn;
    const char *args;
} commands[] = {
    {"send", cmd_send, "FILE|- [--batch N] ...    send events (JSON Lines) to the ingest socket"},
    {"status", cmd_status, "[--format text|json]      store counters and the daemon's date"},
    {"contracts", cmd_contracts, "[--format text|json|csv]   loaded contracts"},
    {"statement", cmd_statement, "CONTRACT QUARTER [--format json|yaml|csv|text]  an issued statement"},
    {"cohorts", cmd_cohorts, "CONTRACT [--format text|json|csv]  provisional figures now"},
    {"settle", cmd_settle, "QUARTER [--contract C]    issue statements up to QUARTER"},
    {"reload", cmd_reload, "                           reload the contract files"},
    {"quarantine", cmd_quarantine, "[--limit N | --purge-before DATE] [--format json]  rejected input"},
    {"statements", cmd_statements, "CONTRACT [--format text|json|csv]  issued quarters with their totals"},
    {"explain", cmd_explain,
     "CONTRACT QUARTER COMPONENT PERIOD [SEGMENT]  the rows behind a line (--offline C.yaml E.jsonl ...)"},
    {"verify", cmd_verify, "                           recompute issued statements and compare"},
    {"wait", cmd_wait, "[--after N] [--max-wait MS] wait for statements you may see"},
    {"backup", cmd_backup, "DIR                        back the store up into DIR (on the daemon's machine)"},
    {"check", cmd_check, "FILE...                    validate contract files (offline)"},
    {"simulate", cmd_simulate, "CONTRACT.yaml EVENTS.jsonl [--through QUARTER]  settle offline"},
    {"diff", cmd_diff, "OLD.yaml NEW.yaml EVENTS.jsonl [--through Q] [--format text|json|csv]  what a change pays"},
    {"report", cmd_report, "CONTRACT [-o FILE] | --offline C.yaml E.jsonl [-o FILE]  an HTML report with charts"},
    {"gen", cmd_gen, "[options]                  synthetic events (also run as pbrgen)"},
    {"keygen", cmd_keygen, "NAME                       write NAME.key and NAME.key_secret (CURVE)"},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pbrctl [--ingest E] [--api E] [--server-key FILE --key NAME] [--timeout MS] COMMAND ...\n"
            "\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].args);
    fprintf(f,
            "\nconnection options (also accepted after the command):\n"
            "  --ingest E        ingest endpoint (default tcp://127.0.0.1:7301)\n"
            "  --api E           API endpoint (default tcp://127.0.0.1:7302)\n"
            "  --server-key FILE the server's public key (enables CURVE)\n"
            "  --key NAME        client key pair NAME.key / NAME.key_secret\n"
            "  --timeout MS      how long to wait for a reply (default 30000)\n"
            "exit status: 0 ok, 1 the operation reported problems, 2 usage or connection error\n"
            "pbrctl COMMAND --help describes a command; pbrctl --version; see pbrctl(1)\n");
}

/* If argv[*i] is a global option, stores it (consuming its value) and
 * returns 1; returns 0 if not; -1 on a missing or bad value. */
static int take_global_option(pbrctl_opts *o, int argc, char **argv, int *i)
{
    static const char *const names[] = {"--ingest", "--api", "--server-key", "--key", "--timeout"};
    const char *arg = argv[*i], *val = NULL;
    for (size_t k = 0; k < 5; k++) {
        size_t n = strlen(names[k]);
        if (strncmp(arg, names[k], n) != 0 || (arg[n] != '\0' && arg[n] != '='))
            continue;
        if (arg[n] == '=') {
            val = arg + n + 1;
        } else if (*i + 1 < argc) {
            val = argv[++*i];
        } else {
            fprintf(stderr, "pbrctl: %s needs a value\n", names[k]);
            return -1;
        }
        switch (k) {
        case 0: o->ingest = val; break;
        case 1: o->api = val; break;
        case 2: o->server_key = val; break;
        case 3: o->key = val; break;
        default: {
            char *end = NULL;
            long ms = strtol(val, &end, 10);
            if (!*val || *end || ms <= 0 || ms > 86400000) {
                fprintf(stderr, "pbrctl: --timeout must be milliseconds (1..86400000), got \"%s\"\n", val);
                return -1;
            }
            o->timeout_ms = (int)ms;
        }
        }
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *prog = strrchr(argv[0], '/');
    prog = prog ? prog + 1 : argv[0];
    pbrctl_opts o = {"tcp://127.0.0.1:7301", "tcp://127.0.0.1:7302", NULL, NULL, 30000};
    if (!strcmp(prog, "pbrgen")) {
        if (argc == 2 && !strcmp(argv[1], "--version"))
            return printf("pbrgen %s\n", PBR_VERSION) < 0;
        return cmd_gen(&o, argc, argv);
    }

    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest) {
        fprintf(stderr, "pbrctl: calloc: out of memory\n");
        return 2;
    }
    int nrest = 0, rc;
    for (int i = 1; i < argc; i++) {
        if (nrest == 0 && (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))) {
            usage(stdout);
            free(rest);
            return 0;
        }
        if (nrest == 0 && !strcmp(argv[i], "--version")) {
            printf("pbrctl %s\n", PBR_VERSION);
            free(rest);
            return 0;
        }
        rc = take_global_option(&o, argc, argv, &i);
        if (rc < 0) {
            free(rest);
            return 2;
        }
        if (rc == 0) {
            if (nrest == 0 && argv[i][0] == '-') {
                fprintf(stderr, "pbrctl: unknown option \"%s\"\n", argv[i]);
                usage(stderr);
                free(rest);
                return 2;
            }
            rest[nrest++] = argv[i];
        }
    }
    if (nrest == 0) {
        usage(stderr);
        free(rest);
        return 2;
    }
    for (int i = 1; i < nrest; i++)
        if ((!strcmp(rest[i], "--help") || !strcmp(rest[i], "-h")) && pbrctl_command_help(rest[0], stdout) == 0) {
            free(rest);
            return 0;
        }
    rc = -1;
    for (size_t k = 0; k < NCOMMANDS; k++)
        if (!strcmp(rest[0], commands[k].name)) {
            rc = commands[k].fn(&o, nrest, rest);
            break;
        }
    if (rc == -1) {
        fprintf(stderr, "pbrctl: unknown command \"%s\"\n", rest[0]);
        usage(stderr);
        rc = 2;
    }
    free(rest);
    return rc;
}
