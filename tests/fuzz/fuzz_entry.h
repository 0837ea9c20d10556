/* fuzz_entry.h -- the fuzzed entry points, shared by the libFuzzer targets
 * (tests/fuzz/fuzz_*.c) and the Check replay of the corpora and of every
 * crash found (tests/test_fuzz_regress.c), so a regression input goes
 * through exactly the code that found it.
 *
 * Each pbr_fuzz_* function takes arbitrary bytes and returns
 *    1  the input was accepted (and every invariant below held),
 *    0  the input was rejected cleanly (an error message, nothing leaked),
 *   -1  an invariant was broken; why holds a message.
 * A crash, a leak or undefined behaviour is caught by the sanitizers (fuzz
 * build) or by Check's fork per test (replay).
 *
 * Invariants checked beyond "does not crash":
 *   event:     an accepted event's canonical form parses again, to the same
 *              canonical bytes (canonicalisation is a fixed point).
 *   contract:  an accepted contract (start..end within 20 years) settles its
 *              first quarter over a small fixed event set, the statement's
 *              canonical JSON renders in every format, and the provisional
 *              lines as of the contract's end can be computed.
 *   statement: rendering never fails on a valid statement (an object with a
 *              "lines" array is the renderer's own test of validity), and
 *              JSON rendering returns the input bytes unchanged.
 * Header-only (static functions): include it in exactly one .c file.
 */
#ifndef PBR_FUZZ_ENTRY_H
#define PBR_FUZZ_ENTRY_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbr/contract.h"
#include "pbr/event.h"
#include "pbr/eventset.h"
#include "pbr/settle.h"
#include "pbr/statement.h"

#define PBR_FUZZ_MAX_SPAN_DAYS (20 * 366) /* contracts longer than this are skipped */

/* The fixed event set contracts are settled over: every event type, the
 * fields where-conditions look at, areas of the example contracts, dates from
 * 2011 to 2022, a void and a late record. */
static const char *const pbr_fuzz_events[] = {
    "{\"id\":\"f1\",\"type\":\"release\",\"offender\":\"A\",\"date\":\"2011-10-15\",\"area\":\"DONCASTER\","
    "\"establishment\":\"HMP-DONCASTER\",\"provider\":\"serco\",\"sentence_days\":120,\"age\":30,\"gender\":\"M\","
    "\"ogrs\":0.62,\"prior_sanctions\":4}",
    "{\"id\":\"f2\",\"type\":\"conviction\",\"offender\":\"A\",\"date\":\"2012-03-01\",\"offence_date\":\"2012-01-05\","
    "\"offences\":2,\"category\":\"acquisitive\",\"disposal\":\"custody\",\"area\":\"DONCASTER\"}",
    "{\"id\":\"f3\",\"type\":\"reception\",\"offender\":\"A\",\"date\":\"2012-03-01\",\"area\":\"DONCASTER\","
    "\"establishment\":\"HMP-DONCASTER\",\"sentence_days\":180,\"age\":31,\"gender\":\"M\"}",
    "{\"id\":\"f4\",\"type\":\"discharge\",\"offender\":\"A\",\"date\":\"2012-06-01\"}",
    "{\"id\":\"f5\",\"type\":\"community_start\",\"offender\":\"B\",\"date\":\"2011-05-10\",\"area\":\"MANCHESTER\","
    "\"provider\":\"crc-gm\",\"order\":\"SSO\",\"sentence_days\":365,\"age\":19,\"gender\":\"F\",\"ogrs\":0.3}",
    "{\"id\":\"f6\",\"type\":\"conviction\",\"offender\":\"B\",\"date\":\"2011-09-01\",\"offence_date\":\"2011-08-20\","
    "\"category\":\"breach\",\"disposal\":\"sso\",\"area\":\"MANCHESTER\"}",
    "{\"id\":\"f7\",\"type\":\"release\",\"offender\":\"C\",\"date\":\"2014-06-30\",\"recorded\":\"2014-09-01\","
    "\"area\":\"NORTH\",\"establishment\":\"HMP-N\",\"sentence_days\":90,\"age\":45,\"gender\":\"M\",\"ogrs\":0.9,"
    "\"flags\":[\"PPO\"]}",
    "{\"id\":\"f8\",\"type\":\"community_start\",\"offender\":\"C\",\"date\":\"2015-01-31\",\"area\":\"NORTH\","
    "\"order\":\"CO\",\"sentence_days\":200,\"age\":45,\"gender\":\"M\",\"ogrs\":1}",
    "{\"id\":\"f9\",\"type\":\"conviction\",\"offender\":\"C\",\"date\":\"2015-12-01\",\"offence_date\":\"2015-07-01\","
    "\"disposal\":\"fine\"}",
    "{\"id\":\"f10\",\"type\":\"reception\",\"offender\":\"D\",\"date\":\"2014-05-01\",\"area\":\"MANCHESTER\","
    "\"establishment\":\"HMP-MANCHESTER\",\"age\":17,\"gender\":\"X\"}",
    "{\"id\":\"f11\",\"type\":\"release\",\"offender\":\"E\",\"date\":\"2010-09-09\",\"area\":\"PETERBOROUGH\","
    "\"establishment\":\"HMP-PETERBOROUGH\",\"sentence_days\":300,\"age\":22,\"gender\":\"M\"}",
    "{\"id\":\"f12\",\"type\":\"conviction\",\"offender\":\"E\",\"date\":\"2011-02-01\",\"offence_date\":\"2010-12-24\","
    "\"offences\":3,\"category\":\"violence\",\"disposal\":\"community\"}",
    "{\"id\":\"f13\",\"type\":\"void\",\"date\":\"2011-03-01\",\"target\":\"f12\",\"reason\":\"wrong person\"}",
    "{\"id\":\"f14\",\"type\":\"release\",\"offender\":\"F\",\"date\":\"2020-04-15\",\"area\":\"X\","
    "\"establishment\":\"HMP-X\",\"sentence_days\":120,\"age\":30,\"gender\":\"M\"}",
    "{\"id\":\"f15\",\"type\":\"conviction\",\"offender\":\"F\",\"date\":\"2020-12-01\",\"offence_date\":\"2020-10-10\"}",
    "{\"id\":\"f16\",\"type\":\"community_start\",\"offender\":\"G\",\"date\":\"2021-02-10\",\"area\":\"LEWISHAM\","
    "\"order\":\"CO\",\"sentence_days\":365,\"age\":60,\"gender\":\"F\",\"ogrs\":0.0001,\"prior_sanctions\":0}",
    "{\"id\":\"f17\",\"type\":\"conviction\",\"offender\":\"G\",\"date\":\"2022-03-31\",\"offence_date\":\"2021-09-29\","
    "\"disposal\":\"discharge\"}",
    "{\"id\":\"f18\",\"type\":\"conviction\",\"offender\":\"G\",\"date\":\"2021-03-31\",\"offence_date\":\"2021-03-01\","
    "\"disposal\":\"caution\",\"category\":\"drugs\"}",
};

/* Builds the fixed event set. Returns it (free with pbr_eventset_free), or
 * NULL with why set. */
static inline pbr_eventset *pbr_fuzz_event_set(char *why, size_t n)
{
    char err[PBR_ERR_MAX];
    pbr_eventset *set = pbr_eventset_new();
    if (set == NULL) {
        snprintf(why, n, "pbr_eventset_new failed");
        return NULL;
    }
    size_t count = sizeof pbr_fuzz_events / sizeof pbr_fuzz_events[0];
    for (size_t i = 0; i < count; i++) {
        pbr_event ev;
        if (pbr_event_parse(pbr_fuzz_events[i], strlen(pbr_fuzz_events[i]), &ev, err, sizeof err) != 0) {
            snprintf(why, n, "fixed event %zu: pbr_event_parse: %s", i + 1, err);
            goto fail;
        }
        int rc = pbr_eventset_add(set, &ev, i + 1, err, sizeof err);
        pbr_event_free(&ev);
        if (rc != 0) {
            snprintf(why, n, "fixed event %zu: pbr_eventset_add: %s", i + 1, err);
            goto fail;
        }
    }
    if (pbr_eventset_finish(set, 1, err, sizeof err) != 0) {
        snprintf(why, n, "pbr_eventset_finish: %s", err);
        goto fail;
    }
    return set;
fail:
    pbr_eventset_free(set);
    return NULL;
}

/* Event parser: parse, canonicalise, re-parse the canonical form. */
static inline int pbr_fuzz_event(const uint8_t *data, size_t size, char *why, size_t n)
{
    char err[PBR_ERR_MAX];
    pbr_event ev, again;
    size_t len = 0, len2 = 0;
    char *canon = NULL, *canon2 = NULL;
    int rc = -1;
    if (pbr_event_parse((const char *)data, size, &ev, err, sizeof err) != 0)
        return 0;
    canon = pbr_event_canonical(&ev, &len);
    if (canon == NULL) {
        snprintf(why, n, "pbr_event_canonical returned NULL");
        goto out_ev;
    }
    if (pbr_event_parse(canon, len, &again, err, sizeof err) != 0) {
        snprintf(why, n, "canonical form does not parse: %s: %.*s", err, (int)(len > 200 ? 200 : len), canon);
        goto out_canon;
    }
    canon2 = pbr_event_canonical(&again, &len2);
    if (canon2 == NULL)
        snprintf(why, n, "pbr_event_canonical returned NULL on the re-parsed event");
    else if (len2 != len || memcmp(canon, canon2, len) != 0)
        snprintf(why, n, "canonical form is not a fixed point: %.*s -> %.*s", (int)(len > 150 ? 150 : len), canon,
                 (int)(len2 > 150 ? 150 : len2), canon2);
    else
        rc = 1;
    free(canon2);
    pbr_event_free(&again);
out_canon:
    free(canon);
out_ev:
    pbr_event_free(&ev);
    return rc;
}

/* Renders a statement's canonical JSON in every format. Returns 1, or -1
 * with why. */
static inline int pbr_fuzz_render_all(const char *json, size_t len, char *why, size_t n)
{
    char err[PBR_ERR_MAX];
    for (int f = PBR_FMT_JSON; f <= PBR_FMT_TEXT; f++) {
        char *text = pbr_statement_render(json, len, (pbr_format)f, err, sizeof err);
        if (text == NULL) {
            snprintf(why, n, "pbr_statement_render format %d of a statement failed: %s", f, err);
            return -1;
        }
        int same = f != PBR_FMT_JSON || (strlen(text) == len && memcmp(text, json, len) == 0);
        free(text);
        if (!same) {
            snprintf(why, n, "JSON rendering changed the statement's bytes");
            return -1;
        }
    }
    return 1;
}

/* Settles c's first quarter over the fixed set and renders the statement;
 * computes the provisional lines as of c's end. Returns 1, or -1 with why.
 * An evaluation error is not an invariant failure (it is an error message),
 * but must leave nothing behind. */
static inline int pbr_fuzz_settle(const pbr_contract *c, char *why, size_t n)
{
    char err[PBR_ERR_MAX];
    int rc = -1;
    pbr_eventset *set = pbr_fuzz_event_set(why, n);
    if (set == NULL)
        return -1;
    pbr_ledger *ledger = pbr_ledger_new();
    if (ledger == NULL) {
        snprintf(why, n, "pbr_ledger_new failed");
        goto out_set;
    }
    pbr_statement *s = NULL;
    pbr_date q = pbr_contract_first_quarter(c);
    if (pbr_settle_quarter(c, NULL, NULL, set, pbr_eventset_last_seq(set), q, ledger, &s, err, sizeof err) == 0) {
        size_t len;
        char *json = pbr_statement_to_json(s, &len);
        if (json == NULL) {
            snprintf(why, n, "pbr_statement_to_json returned NULL");
            pbr_statement_free(s);
            free(s);
            goto out_ledger;
        }
        int r = pbr_fuzz_render_all(json, len, why, n);
        free(json);
        pbr_statement_free(s);
        free(s);
        if (r < 0)
            goto out_ledger;
    }
    pbr_line *lines = NULL;
    size_t nlines = 0;
    if (pbr_provisional_lines(c, set, pbr_eventset_last_seq(set), c->end, &lines, &nlines, err, sizeof err) == 0)
        free(lines);
    rc = 1;
out_ledger:
    pbr_ledger_free(ledger);
out_set:
    pbr_eventset_free(set);
    return rc;
}

/* Contract loader, and the evaluator through whatever contract loads. */
static inline int pbr_fuzz_contract(const uint8_t *data, size_t size, char *why, size_t n)
{
    pbr_contract *c = NULL;
    pbr_diag diag;
    if (pbr_contract_parse("fuzz.yaml", (const char *)data, size, &c, &diag) != 0) {
        if (c != NULL) {
            snprintf(why, n, "pbr_contract_parse failed but returned a contract");
            return -1;
        }
        return 0;
    }
    int rc = 1;
    if (c->end >= c->start && (int64_t)c->end - c->start <= PBR_FUZZ_MAX_SPAN_DAYS)
        rc = pbr_fuzz_settle(c, why, n);
    pbr_contract_free(c);
    return rc;
}

/* Statement renderer, every format, on arbitrary bytes. */
static inline int pbr_fuzz_statement(const uint8_t *data, size_t size, char *why, size_t n)
{
    char err[PBR_ERR_MAX];
    int accepted = 0;
    for (int f = PBR_FMT_JSON; f <= PBR_FMT_TEXT; f++) {
        char *text = pbr_statement_render((const char *)data, size, (pbr_format)f, err, sizeof err);
        if (f == PBR_FMT_JSON)
            accepted = text != NULL;
        else if ((text != NULL) != accepted) {
            snprintf(why, n, "format %d %s what JSON %s", f, text ? "accepted" : "rejected",
                     accepted ? "accepted" : "rejected");
            free(text);
            return -1;
        }
        free(text);
    }
    return accepted;
}

/* The entry point for a corpus directory name ("event", "contract",
 * "statement"), or NULL. */
typedef int (*pbr_fuzz_fn)(const uint8_t *data, size_t size, char *why, size_t n);

static inline pbr_fuzz_fn pbr_fuzz_entry(const char *target)
{
    if (strcmp(target, "event") == 0)
        return pbr_fuzz_event;
    if (strcmp(target, "contract") == 0)
        return pbr_fuzz_contract;
    if (strcmp(target, "statement") == 0)
        return pbr_fuzz_statement;
    return NULL;
}

#endif
