/* settle_helpers.h -- shared by the settlement tests: the spec's example
 * files, pbrgen's generated streams, and settling a contract file over an
 * event file exactly as `pbrctl simulate --format json` does
 * (pbr_settle_all), as JSON Lines.
 */
#ifndef PBR_SETTLE_HELPERS_H
#define PBR_SETTLE_HELPERS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "pbr/contract.h"
#include "pbr/eventset.h"
#include "pbr/gen.h"
#include "pbr/ledger_json.h"
#include "pbr/settle.h"
#include "pbr/mem.h"

/* Not every test program uses every helper. */
#define SETTLE_HELPER static __attribute__((unused))

/* A file of the spec's worked examples: $PBR_SPEC/example/FILE, or the copy
 * of ../shared/spec/example/ kept in tests/spec-example/ (so that a clean
 * checkout tests itself; test_example checks the copy is still identical
 * when the spec is beside the repository). Returns buf. */
SETTLE_HELPER const char *spec_example(char *buf, size_t n, const char *file)
{
    const char *spec = getenv("PBR_SPEC");
    if (spec && *spec)
        snprintf(buf, n, "%s/example/%s", spec, file);
    else
        snprintf(buf, n, "%s/tests/spec-example/%s", pbr_test_root(), file);
    return buf;
}

/* pbrgen's stream for o generated into memory: malloc'd and NUL-terminated,
 * *len bytes; *lines (when not NULL) gets the lines written. Fails the test
 * unless some were. */
SETTLE_HELPER char *gen_text(const pbr_gen_opts *o, size_t *len, int64_t *lines)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    ck_assert_ptr_nonnull(f);
    int64_t n = pbr_gen_write(o, f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_gt(n, 0);
    *len = size;
    if (lines)
        *lines = n;
    return text;
}

typedef struct jsonl_buf {
    char *p;
    size_t len, cap;
} jsonl_buf;

static int append_statement(void *ctx, const pbr_statement *s)
{
    jsonl_buf *b = ctx;
    size_t jl;
    char *j = pbr_statement_to_json(s, &jl);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(pbr_grow((void **)&b->p, &b->cap, b->len + jl + 2, 1), 0);
    memcpy(b->p + b->len, j, jl);
    b->len += jl;
    b->p[b->len++] = '\n';
    b->p[b->len] = '\0';
    free(j);
    return 0;
}

/* Loads a contract (failing the test with file:line:col on error). */
SETTLE_HELPER pbr_contract *load_contract_or_fail(const char *path)
{
    pbr_contract *c;
    pbr_diag d;
    ck_assert_msg(pbr_contract_load(path, &c, &d) == 0, "%s:%d:%d: %s", d.file, d.line, d.column, d.message);
    return c;
}

/* Reads an event file as a set; *n = events read. */
SETTLE_HELPER pbr_eventset *load_events_or_fail(const char *path, uint64_t *n)
{
    char err[PBR_ERR_MAX];
    pbr_eventset *set = pbr_eventset_new();
    ck_assert_ptr_nonnull(set);
    ck_assert_msg(pbr_eventset_read_jsonl(set, path, NULL, NULL, n, err, sizeof err) == 0, "%s", err);
    return set;
}

/* Every statement of the contract file over the event file, as JSON Lines
 * (malloc'd): what `pbrctl simulate CONTRACT EVENTS --format json` prints. */
SETTLE_HELPER char *simulate_jsonl(const char *contract_path, const char *events_path)
{
    char err[PBR_ERR_MAX];
    uint64_t n;
    pbr_contract *c = load_contract_or_fail(contract_path);
    pbr_eventset *set = load_events_or_fail(events_path, &n);
    jsonl_buf b = {calloc(1, 1), 0, 1};
    pbr_eval_view view = {.contract = c, .events = set, .events_through = n};
    pbr_series_request series = {.through = PBR_DATE_MAX, .each = append_statement, .ctx = &b};
    ck_assert_msg(pbr_settle_all(&view, &series, err, sizeof err) == 0, "%s", err);
    pbr_eventset_destroy(&set);
    pbr_contract_destroy(&c);
    return b.p;
}

#endif
