/* cmd_report.c -- `pbrctl report CONTRACT [-o FILE]` (from the daemon) and
 * `pbrctl report --offline CONTRACT.yaml EVENTS.jsonl [-o FILE]`: one
 * self-contained HTML file per contract (report.h). The daemon mode reads
 * the issued statements (statements and statement ops) and the provisional
 * figures of today (cohorts op); the offline mode settles every quarter as
 * simulate does and takes the provisional figures of the last statement.
 * Without -o the page goes to stdout; with -o it is written atomically.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbr/contract.h"
#include "pbr/eventset.h"
#include "pbr/num.h"
#include "pbr/settle.h"
#include "pbr/files.h"
#include "pbrctl/report.h"
#include "pbrctl/tools.h"

typedef struct collect_ctx {
    json_t *statements;
    progress *prog;
    uint64_t done, total;
} collect_ctx;

/* Appends each statement (parsed) to the model's "statements". */
static int add_statement(void *ctx, const pbr_statement *s)
{
    collect_ctx *cc = ctx;
    size_t len;
    char *j = pbr_statement_to_json(s, &len);
    json_t *o = j ? json_loadb(j, len, 0, NULL) : NULL;
    free(j);
    progress_update(cc->prog, ++cc->done, cc->total);
    return o == NULL || json_array_append_new(cc->statements, o) != 0;
}

static json_t *model_offline(const char *contract, const char *events, int *status)
{
    pbr_contract *c = NULL;
    pbr_diag d;
    char err[PBR_ERR_MAX], msg[PBR_ERR_MAX + 300];
    *status = 1;
    if (pbr_contract_load(contract, &c, &d) != 0) {
        pbr_diag_format(&d, msg, sizeof msg);
        fprintf(stderr, "%s\n", msg);
        return NULL;
    }
    uint64_t n = 0;
    json_t *model = NULL, *sts = json_array();
    pbr_eventset *ev = pbr_eventset_new();
    if (ev == NULL || sts == NULL || pbr_eventset_read_jsonl(ev, events, NULL, NULL, &n, err, sizeof err) != 0) {
        fprintf(stderr, "pbrctl report: %s\n", ev && sts ? err : "out of memory");
        goto out;
    }
    progress prog;
    progress_start(&prog, "report");
    collect_ctx cc = {sts, &prog, 0, 0};
    for (pbr_date q = pbr_contract_first_quarter(c); q <= pbr_contract_last_quarter(c); q = pbr_add_months(q, 3))
        cc.total++;
    pbr_eval_view view = {.contract = c, .events = ev, .events_through = n};
    pbr_series_request series = {.through = PBR_DATE_MAX, .each = add_statement, .ctx = &cc};
    int rc = pbr_settle_all(&view, &series, err, sizeof err);
    progress_done(&prog);
    if (rc != 0) {
        fprintf(stderr, "pbrctl report: %s\n", rc < 0 ? err : "out of memory");
        goto out;
    }
    json_t *last = json_array_get(sts, json_array_size(sts) - 1);
    json_t *cap = c->has_contract_cap ? json_integer((json_int_t)pbr_pounds_to_pence(c->contract_cap)) : json_null();
    char source[PBR_ERR_MAX + 64];
    snprintf(source, sizeof source, "offline simulation over %s", events);
    model = json_pack("{ss ss ss so ss sO sO sO}", "contract", c->id, "title", c->title, "provider", c->provider,
                      "contract_cap_pence", cap, "source", source, "statements", sts, "provisional_as_of",
                      last ? json_object_get(last, "as_of") : json_null(), "provisional",
                      last ? json_object_get(last, "provisional") : json_array());
    if (model == NULL)
        fprintf(stderr, "pbrctl report: out of memory\n");
    else
        *status = 0;
out:
    json_decref(sts);
    pbr_eventset_destroy(&ev);
    pbr_contract_destroy(&c);
    return model;
}

static json_t *model_daemon(const pbrctl_opts *o, const char *contract, int *status)
{
    json_t *list = tools_api_call(o, "report", json_pack("{ss ss}", "op", "statements", "contract", contract), status);
    if (list == NULL)
        return NULL;
    json_t *sts = json_array(), *model = NULL, *coh = NULL;
    size_t i;
    json_t *row;
    progress prog;
    progress_start(&prog, "report");
    json_array_foreach(json_object_get(list, "statements"), i, row)
    {
        json_t *s = tools_api_call(o, "report",
                                   json_pack("{ss ss sO}", "op", "statement", "contract", contract, "quarter",
                                             json_object_get(row, "quarter")),
                                   status);
        if (s == NULL || json_array_append_new(sts, s) != 0)
            goto out;
        progress_update(&prog, i + 1, json_array_size(json_object_get(list, "statements")));
    }
    coh = tools_api_call(o, "report", json_pack("{ss ss}", "op", "cohorts", "contract", contract), status);
    if (coh == NULL)
        goto out;
    model = json_pack("{sO sO sO sO ss sO sO sO}", "contract", json_object_get(list, "contract"), "title",
                      json_object_get(list, "title"), "provider", json_object_get(list, "provider"),
                      "contract_cap_pence", json_object_get(list, "contract_cap_pence"), "source",
                      "issued statements from pbrd", "statements", sts, "provisional_as_of",
                      json_object_get(coh, "as_of"), "provisional", json_object_get(coh, "provisional"));
    if (model == NULL) {
        fprintf(stderr, "pbrctl report: the daemon's replies lack a field (an older pbrd?)\n");
        *status = 1;
    }
out:
    progress_done(&prog);
    json_decref(coh);
    json_decref(sts);
    json_decref(list);
    return model;
}

int cmd_report(const pbrctl_opts *o, int argc, char **argv)
{
    const char *pos[2] = {NULL, NULL}, *out = NULL;
    int npos = 0, offline = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--offline")) {
            offline = 1;
        } else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
            out = argv[++i];
        } else if ((argv[i][0] == '-' && argv[i][1] != '\0') || npos == 2) {
            npos = 99;
            break;
        } else {
            pos[npos++] = argv[i];
        }
    }
    if (npos != (offline ? 2 : 1)) {
        fprintf(stderr,
                "usage: pbrctl report CONTRACT [-o FILE]\n"
                "       pbrctl report --offline CONTRACT.yaml EVENTS.jsonl [-o FILE]\n");
        return 2;
    }
    int st;
    json_t *model = offline ? model_offline(pos[0], pos[1], &st) : model_daemon(o, pos[0], &st);
    if (model == NULL)
        return st;
    char *html = NULL, err[PBR_ERR_MAX];
    size_t len = 0;
    FILE *mem = open_memstream(&html, &len);
    int rc = mem ? report_write(mem, model) : -1;
    if (mem && fclose(mem) != 0)
        rc = -1;
    json_decref(model);
    if (rc != 0) {
        fprintf(stderr, "pbrctl report: out of memory\n");
        free(html);
        return 2;
    }
    if (out == NULL) {
        fwrite(html, 1, len, stdout);
    } else if (pbr_write_file_atomic(out, html, len, err, sizeof err) != 0) {
        fprintf(stderr, "pbrctl report: %s\n", err);
        free(html);
        return 2;
    }
    free(html);
    return 0;
}
