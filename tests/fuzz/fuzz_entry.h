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
 *   api:       the request parser (daemon/pbrd/api_request.c) either fails
 *              with exactly {"error": string} that serialises (as the daemon
 *              sends it), or names a known op with the request's own "op",
 *              "contract" and "quarter", and complete arguments unless it
 *              gives an argument error; the role check agrees with the role
 *              table of auth.h for finance, operator, provider:serco and
 *              ingest, and for "provider:" + the request's contract.
 *              Accepted = parsed with no argument error.
 * Header-only (static functions): include it in exactly one .c file. The
 * api entry needs daemon/pbrd/api_request.c, auth.c and log.c linked in
 * (tests/fuzz/run.sh links them; tests/test_fuzz_regress.c includes them).
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
#include "pbrd/api_request.h"
#include "pbrd/auth.h"

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
    "{\"id\":\"f12\",\"type\":\"conviction\",\"offender\":\"E\",\"date\":\"2011-02-01\",\"offence_date\":\"2010-12-"
    "24\","
    "\"offences\":3,\"category\":\"violence\",\"disposal\":\"community\"}",
    "{\"id\":\"f13\",\"type\":\"void\",\"date\":\"2011-03-01\",\"target\":\"f12\",\"reason\":\"wrong person\"}",
    "{\"id\":\"f14\",\"type\":\"release\",\"offender\":\"F\",\"date\":\"2020-04-15\",\"area\":\"X\","
    "\"establishment\":\"HMP-X\",\"sentence_days\":120,\"age\":30,\"gender\":\"M\"}",
    "{\"id\":\"f15\",\"type\":\"conviction\",\"offender\":\"F\",\"date\":\"2020-12-01\",\"offence_date\":\"2020-10-"
    "10\"}",
    "{\"id\":\"f16\",\"type\":\"community_start\",\"offender\":\"G\",\"date\":\"2021-02-10\",\"area\":\"LEWISHAM\","
    "\"order\":\"CO\",\"sentence_days\":365,\"age\":60,\"gender\":\"F\",\"ogrs\":0.0001,\"prior_sanctions\":0}",
    "{\"id\":\"f17\",\"type\":\"conviction\",\"offender\":\"G\",\"date\":\"2022-03-31\",\"offence_date\":\"2021-09-"
    "29\","
    "\"disposal\":\"discharge\"}",
    "{\"id\":\"f18\",\"type\":\"conviction\",\"offender\":\"G\",\"date\":\"2021-03-31\",\"offence_date\":\"2021-03-"
    "01\","
    "\"disposal\":\"caution\",\"category\":\"drugs\"}",
};

/* Builds the fixed event set. Returns it (free with pbr_eventset_destroy), or
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
        pbr_event_clear(&ev);
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
    pbr_eventset_destroy(&set);
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
    pbr_event_clear(&again);
out_canon:
    free(canon);
out_ev:
    pbr_event_clear(&ev);
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
    pbr_eval_view view = {.contract = c, .events = set, .events_through = pbr_eventset_last_seq(set)};
    if (pbr_settle_quarter(&view, &(pbr_settle_request){.quarter = q}, ledger, &s, err, sizeof err) == 0) {
        size_t len;
        char *json = pbr_statement_to_json(s, &len);
        if (json == NULL) {
            snprintf(why, n, "pbr_statement_to_json returned NULL");
            pbr_statement_destroy(&s);
            goto out_ledger;
        }
        int r = pbr_fuzz_render_all(json, len, why, n);
        free(json);
        pbr_statement_destroy(&s);
        if (r < 0)
            goto out_ledger;
    }
    pbr_line *lines = NULL;
    size_t nlines = 0;
    view.as_of = c->end;
    if (pbr_provisional_lines(&view, &lines, &nlines, err, sizeof err) == 0)
        free(lines);
    rc = 1;
out_ledger:
    pbr_ledger_destroy(&ledger);
out_set:
    pbr_eventset_destroy(&set);
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
    pbr_contract_destroy(&c);
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

/* Checks that reply is {"error": string} and serialises as the daemon sends
 * it. Returns 0 or -1 with why. */
static inline int pbr_fuzz_error_reply(json_t *reply, char *why, size_t n)
{
    if (reply == NULL) {
        snprintf(why, n, "no error reply (pbrd_api_error returned NULL: the daemon would say \"out of memory\")");
        return -1;
    }
    if (!json_is_object(reply) || json_object_size(reply) != 1 || !json_is_string(json_object_get(reply, "error"))) {
        snprintf(why, n, "error reply is not {\"error\": string}");
        return -1;
    }
    char *text = json_dumps(reply, JSON_COMPACT);
    if (text == NULL) {
        snprintf(why, n, "error reply does not serialise");
        return -1;
    }
    free(text);
    return 0;
}

/* The provider of a contract, as the service would answer it (NULL:
 * unknown contract). */
static inline const char *pbr_fuzz_provider_of(const char *contract)
{
    if (contract == NULL)
        return NULL;
    if (strcmp(contract, "doncaster") == 0 || strcmp(contract, "peterborough") == 0)
        return "serco";
    if (strcmp(contract, "lewisham") == 0)
        return "other";
    return NULL;
}

/* The role table of auth.h (written out again from the comment there, not
 * from auth.c), for op (a known op) and a valid role. */
static inline int pbr_fuzz_role_expect(const char *role, const char *op, const char *provider)
{
    int list_op = strcmp(op, "status") == 0 || strcmp(op, "contracts") == 0 || strcmp(op, "wait") == 0;
    int contract_op = strcmp(op, "statement") == 0 || strcmp(op, "cohorts") == 0 || strcmp(op, "statements") == 0 ||
        strcmp(op, "explain") == 0;
    if (strcmp(role, "finance") == 0)
        return 1;
    if (strcmp(role, "operator") == 0)
        return strcmp(op, "settle") != 0;
    if (strcmp(role, "ingest") == 0)
        return 0;
    /* provider:NAME */
    return list_op || (contract_op && provider != NULL && strcmp(provider, role + 9) == 0);
}

/* API request parser and the role check. */
static inline int pbr_fuzz_api(const uint8_t *data, size_t size, char *why, size_t n)
{
    static const char *const roles[] = {"finance", "operator", "provider:serco", "ingest"};
    pbrd_api_request r;
    json_t *reply = (json_t *)1;
    if (pbrd_api_request_parse((const char *)data, size, &r, &reply) != 0) {
        int bad = pbr_fuzz_error_reply(reply, why, n);
        json_decref(reply);
        if (bad == 0 && (r.req != NULL || r.op_name != NULL || r.contract != NULL)) {
            snprintf(why, n, "a failed parse left a request behind");
            bad = -1;
        }
        return bad < 0 ? -1 : 0;
    }
    int rc = -1;
    const char *op = json_string_value(json_object_get(r.req, "op"));
    if (reply != NULL) {
        snprintf(why, n, "an accepted request came with a reply");
        goto out;
    }
    if (!json_is_object(r.req) || r.op >= PBRD_OP_COUNT || op == NULL || strcmp(op, r.op_name) != 0 ||
        strcmp(pbrd_api_op_name(r.op), r.op_name) != 0 || pbrd_api_op_of(r.op_name) != r.op) {
        snprintf(why, n, "op \"%s\" parsed as %d \"%s\"", op ? op : "(none)", (int)r.op, r.op_name);
        goto out;
    }
    if (r.contract != json_string_value(json_object_get(r.req, "contract")) ||
        r.quarter != json_string_value(json_object_get(r.req, "quarter"))) {
        snprintf(why, n, "contract/quarter are not the request's strings");
        goto out;
    }
    if (r.arg_error != NULL) {
        json_t *e = pbrd_api_error("%s", r.arg_error);
        int bad = pbr_fuzz_error_reply(e, why, n);
        json_decref(e);
        if (bad < 0)
            goto out;
    } else {
        int needs_date = r.op == PBRD_OP_statement || r.op == PBRD_OP_settle;
        int needs_contract = r.op == PBRD_OP_statement || r.op == PBRD_OP_cohorts;
        json_t *c = json_object_get(r.req, "contract");
        char d[PBR_DATE_STRLEN];
        if (needs_date)
            pbr_date_format(r.quarter_date, d);
        if ((needs_contract && r.contract == NULL) ||
            (needs_date && (r.quarter == NULL || strcmp(d, r.quarter) != 0)) ||
            (r.op == PBRD_OP_settle && c != NULL && !json_is_null(c) && !json_is_string(c)) || r.limit < 1) {
            snprintf(why, n, "op %s accepted with incomplete arguments", r.op_name);
            goto out;
        }
    }
    const char *provider = pbr_fuzz_provider_of(r.contract);
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        int got = pbrd_role_allows(roles[i], r.op_name, provider);
        if (got != pbr_fuzz_role_expect(roles[i], r.op_name, provider)) {
            snprintf(why, n, "role %s op %s provider %s: pbrd_role_allows says %d", roles[i], r.op_name,
                     provider ? provider : "(none)", got);
            goto out;
        }
    }
    if (r.contract != NULL && strlen(r.contract) < 200) {
        /* "provider:" + the contract name, as the role and as the provider */
        char role[256];
        snprintf(role, sizeof role, "provider:%s", r.contract);
        size_t len = strlen(r.contract);
        int valid = len >= 1 && len <= 64;
        for (size_t i = 0; valid && i < len; i++)
            valid = (unsigned char)r.contract[i] > 0x20 && (unsigned char)r.contract[i] < 0x7f;
        if (pbrd_role_is_valid(role) != valid) {
            snprintf(why, n, "pbrd_role_is_valid(\"%.80s\") is %d", role, !valid);
            goto out;
        }
        int got = pbrd_role_allows(role, r.op_name, r.contract);
        int want = valid && pbr_fuzz_role_expect(role, r.op_name, r.contract);
        if (got != want) {
            snprintf(why, n, "role \"%.80s\" op %s on its own contract: pbrd_role_allows says %d", role, r.op_name,
                     got);
            goto out;
        }
    }
    rc = r.arg_error == NULL ? 1 : 0;
out:
    pbrd_api_request_clear(&r);
    return rc;
}

/* The entry point for a corpus directory name ("event", "contract",
 * "statement", "api"), or NULL. */
typedef int (*pbr_fuzz_fn)(const uint8_t *data, size_t size, char *why, size_t n);

static inline pbr_fuzz_fn pbr_fuzz_entry(const char *target)
{
    if (strcmp(target, "event") == 0)
        return pbr_fuzz_event;
    if (strcmp(target, "contract") == 0)
        return pbr_fuzz_contract;
    if (strcmp(target, "statement") == 0)
        return pbr_fuzz_statement;
    if (strcmp(target, "api") == 0)
        return pbr_fuzz_api;
    return NULL;
}

#endif
