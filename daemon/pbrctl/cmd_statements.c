/* cmd_statements.c -- `pbrctl statements CONTRACT [--format text|json|csv]`:
 * the issued quarters of a contract with their totals split into fees,
 * outcomes and adjustments, then (text) the totals per settlement year and
 * lifetime. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbrctl/tools.h"

enum { F_TEXT, F_JSON, F_CSV };
static const char *const formats[] = {"text", "json", "csv", NULL};

static int64_t pence(json_t *o, const char *k)
{
    return (int64_t)json_integer_value(json_object_get(o, k));
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void print_csv(json_t *r)
{
    printf("contract,title,quarter,label,as_of,events_through,lines,fees_pence,fees_gbp,outcomes_pence,"
           "outcomes_gbp,adjustments_pence,adjustments_gbp,total_pence,total_gbp\n");
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(r, "statements"), i, s)
    {
        csv_cell(stdout, 1, str(r, "contract"), 1);
        csv_cell(stdout, 0, str(r, "title"), 1);
        csv_cell(stdout, 0, str(s, "quarter"), 0);
        csv_cell(stdout, 0, str(s, "label"), 1);
        csv_cell(stdout, 0, str(s, "as_of"), 0);
        printf(",%lld,%lld", (long long)pence(s, "events_through"), (long long)pence(s, "lines"));
        csv_money(stdout, pence(s, "fees_pence"));
        csv_money(stdout, pence(s, "outcomes_pence"));
        csv_money(stdout, pence(s, "adjustments_pence"));
        csv_money(stdout, pence(s, "total_pence"));
        putchar('\n');
    }
}

static int print_text(json_t *r)
{
    char a[PBR_GBP_MAX];
    pbr_totals t = {NULL, 0, 0, {0, 0, 0}};
    printf("Statements of %s: %s\n", str(r, "contract"), str(r, "title"));
    printf("%-11s %-11s %-11s %7s %5s%18s%18s%18s%18s\n", "QUARTER", "LABEL", "AS OF", "EVENTS", "LINES", "FEES",
           "OUTCOMES", "ADJUSTMENTS", "TOTAL");
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(r, "statements"), i, s)
    {
        pbr_split sp = {pence(s, "fees_pence"), pence(s, "outcomes_pence"), pence(s, "adjustments_pence")};
        printf("%-11s %-11s %-11s %7lld %5lld", str(s, "quarter"), str(s, "label"), str(s, "as_of"),
               (long long)pence(s, "events_through"), (long long)pence(s, "lines"));
        print_right(stdout, fmt_gbp(sp.fees, a), 18);
        print_right(stdout, fmt_gbp(sp.outcomes, a), 18);
        print_right(stdout, fmt_gbp(sp.adjustments, a), 18);
        print_right(stdout, fmt_gbp(pence(s, "total_pence"), a), 18);
        putchar('\n');
        if (pbr_totals_add(&t, str(s, "label"), &sp) != 0) {
            fprintf(stderr, "pbrctl statements: out of memory\n");
            pbr_totals_clear(&t);
            return 2;
        }
    }
    if (json_array_size(json_object_get(r, "statements")) == 0)
        printf("(no statement issued yet)\n");
    else
        print_totals(stdout, &t);
    pbr_totals_clear(&t);
    return 0;
}

int cmd_statements(const pbrctl_opts *o, int argc, char **argv)
{
    const char *contract = NULL;
    int fmt = F_TEXT;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--format") && i + 1 < argc) {
            if ((fmt = tools_format_index(argv[0], argv[++i], formats)) < 0)
                return 2;
        } else if (argv[i][0] == '-' || contract != NULL) {
            contract = NULL;
            break;
        } else {
            contract = argv[i];
        }
    }
    if (contract == NULL) {
        fprintf(stderr, "usage: pbrctl statements CONTRACT [--format text|json|csv]\n");
        return 2;
    }
    int st;
    json_t *r = tools_api_call(o, argv[0], json_pack("{ss ss}", "op", "statements", "contract", contract), &st);
    if (r == NULL)
        return st;
    if (fmt == F_JSON) {
        char *text = json_dumps(r, JSON_INDENT(2));
        if (text)
            printf("%s\n", text);
        free(text);
    } else if (fmt == F_CSV) {
        print_csv(r);
    } else {
        st = print_text(r);
    }
    json_decref(r);
    return st;
}
