/* test_api_request.c -- the API request parser (daemon/pbrd/api_request.c,
 * SPEC.md section 7): each request gives the op and arguments, or the exact
 * error reply the daemon has always sent; error replies can always be built
 * (UTF-8 cut by the 1023-byte message limit, or not UTF-8 at all).
 * Fuzzed by tests/fuzz/fuzz_api.c.
 */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "pbrd/api_request.c"

/* Parses req; returns the error reply's message (static buffer) or NULL. */
static const char *error_of(const char *req, size_t len, pbrd_api_request *r)
{
    static char msg[2048];
    json_t *reply = (json_t *)1;
    if (pbrd_api_request_parse(req, len, r, &reply) == 0) {
        ck_assert_ptr_null(reply);
        if (r->arg_error == NULL)
            return NULL;
        snprintf(msg, sizeof msg, "%s", r->arg_error);
        return msg;
    }
    ck_assert_ptr_nonnull(reply);
    ck_assert_ptr_null(r->req);
    ck_assert_uint_eq(json_object_size(reply), 1);
    const char *e = json_string_value(json_object_get(reply, "error"));
    ck_assert_ptr_nonnull(e);
    snprintf(msg, sizeof msg, "%s", e);
    json_decref(reply);
    return msg;
}

static const struct {
    const char *req, *want; /* want NULL: accepted */
} CASES[] = {
    {"{\"op\":\"status\"}", NULL},
    {"{\"op\":\"quarantine\",\"limit\":5}", NULL},
    {"{\"op\":\"quarantine\",\"limit\":null}", NULL},
    {"{\"op\":\"contracts\"}", NULL},
    {"{\"op\":\"statement\",\"contract\":\"doncaster\",\"quarter\":\"2012-01-01\"}", NULL},
    {"{\"op\":\"cohorts\",\"contract\":\"doncaster\"}", NULL},
    {"{\"op\":\"settle\",\"quarter\":\"2012-04-01\"}", NULL},
    {"{\"op\":\"settle\",\"quarter\":\"2012-04-01\",\"contract\":null}", NULL},
    {"{\"op\":\"reload\"}", NULL},
    {"{\"op\":\"verify\"}", NULL},
    {"{\"op\":\"statements\",\"contract\":\"doncaster\"}", NULL},
    {"{\"op\":\"explain\",\"contract\":\"d\",\"quarter\":\"2014-01-01\",\"component\":\"r\",\"period\":\"2011-12\"}",
     NULL},
    {"{\"op\":\"explain\",\"contract\":\"d\",\"quarter\":\"2014-01-01\",\"component\":\"r\",\"period\":\"p\","
     "\"segment\":null}",
     NULL},
    {"{\"op\":\"statements\"}", "statements: needs \"contract\""},
    {"{\"op\":\"explain\",\"contract\":\"d\",\"quarter\":\"2014-01-01\",\"component\":\"r\"}",
     "explain: needs \"contract\", \"quarter\" (YYYY-MM-DD), \"component\" and \"period\""},
    {"{\"op\":\"explain\",\"contract\":\"d\",\"quarter\":\"2014-01-01\",\"component\":\"r\",\"period\":\"p\","
     "\"segment\":3}",
     "explain: \"segment\" must be a string or null"},
    {"[1]", "request is not a JSON object: got a JSON array"},
    {"7", "request is not a JSON object: '[' or '{' expected near '7'"},
    {"", "request is not a JSON object: '[' or '{' expected near end of file"},
    {"{\"contract\":\"x\"}", "request has no \"op\" string"},
    {"{\"op\":[]}", "request has no \"op\" string"},
    {"{\"op\":\"frobnicate\"}", "unknown op \"frobnicate\""},
    {"{\"op\":\"quarantine\",\"limit\":0}", "quarantine: limit must be a positive integer"},
    {"{\"op\":\"quarantine\",\"limit\":1.5}", "quarantine: limit must be a positive integer"},
    {"{\"op\":\"quarantine_purge\",\"before\":\"2026-09-01\"}", NULL},
    {"{\"op\":\"quarantine_purge\"}",
     "quarantine_purge: needs \"before\" (YYYY-MM-DD): records stored before that day (UTC) are deleted"},
    {"{\"op\":\"quarantine_purge\",\"before\":20260901}",
     "quarantine_purge: needs \"before\" (YYYY-MM-DD): records stored before that day (UTC) are deleted"},
    {"{\"op\":\"quarantine_purge\",\"before\":\"2026-02-30\"}",
     "quarantine_purge: \"before\" is not a date YYYY-MM-DD"},
    {"{\"op\":\"statement\",\"contract\":\"d\"}", "statement: needs \"contract\" and \"quarter\" (YYYY-MM-DD)"},
    {"{\"op\":\"statement\",\"quarter\":\"2012-01-01\"}", "statement: needs \"contract\" and \"quarter\" (YYYY-MM-DD)"},
    {"{\"op\":\"cohorts\",\"contract\":1}", "cohorts: needs \"contract\""},
    {"{\"op\":\"settle\",\"quarter\":\"2012-02-30\"}",
     "settle: needs \"quarter\" (YYYY-MM-DD, the first day of a quarter)"},
    {"{\"op\":\"settle\",\"quarter\":\"2012-04-01\",\"contract\":[]}", "settle: \"contract\" must be a string"},
};

START_TEST(requests)
{
    pbrd_api_request r;
    const char *got = error_of(CASES[_i].req, strlen(CASES[_i].req), &r);
    if (CASES[_i].want == NULL)
        ck_assert_msg(got == NULL, "%s: %s", CASES[_i].req, got);
    else
        ck_assert_msg(got != NULL && strcmp(got, CASES[_i].want) == 0, "%s:\n got  %s\n want %s", CASES[_i].req,
                      got ? got : "(accepted)", CASES[_i].want);
    pbrd_api_request_clear(&r);
}
END_TEST

START_TEST(arguments)
{
    pbrd_api_request r;
    const char *req = "{\"op\":\"statement\",\"contract\":\"doncaster\",\"quarter\":\"2012-01-01\"}";
    ck_assert_ptr_null(error_of(req, strlen(req), &r));
    ck_assert_int_eq(r.op, PBRD_OP_statement);
    ck_assert_str_eq(r.op_name, "statement");
    ck_assert_int_eq(r.needs_service, 1);
    ck_assert_str_eq(r.contract, "doncaster");
    ck_assert_str_eq(r.quarter, "2012-01-01");
    ck_assert_int_eq(r.quarter_date, pbr_date_from_ymd(2012, 1, 1));
    pbrd_api_request_clear(&r);
    req = "{\"op\":\"quarantine\"}";
    ck_assert_ptr_null(error_of(req, strlen(req), &r));
    ck_assert_int_eq(r.limit, PBRD_API_QUARANTINE_DEFAULT_LIMIT);
    ck_assert_int_eq(r.needs_service, 0);
    pbrd_api_request_clear(&r);
    req = "{\"op\":\"quarantine\",\"limit\":3}";
    ck_assert_ptr_null(error_of(req, strlen(req), &r));
    ck_assert_int_eq(r.limit, 3);
    pbrd_api_request_clear(&r);
    for (int op = 0; op < PBRD_OP_COUNT; op++)
        ck_assert_int_eq(pbrd_api_op_of(pbrd_api_op_name((pbrd_api_op)op)), op);
    ck_assert_int_eq(pbrd_api_op_of("nope"), PBRD_OP_COUNT);
}
END_TEST

/* An unknown op of 700 two-byte characters: "unknown op \"" plus them is cut
 * at 1023 bytes inside a character. The reply used to fail to build
 * (jansson refuses the broken UTF-8) and the daemon answered "out of
 * memory"; now the cut character becomes '?'. */
START_TEST(error_replies_always_build)
{
    char req[2048] = "{\"op\":\"";
    size_t n = strlen(req);
    for (int i = 0; i < 700; i++)
        req[n++] = (char)0xc3, req[n++] = (char)0xa9;
    memcpy(req + n, "\"}", 3);
    pbrd_api_request r;
    const char *got = error_of(req, strlen(req), &r);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(strlen(got), 1023);
    ck_assert(strncmp(got, "unknown op \"\xc3\xa9", 14) == 0);
    ck_assert_int_eq(got[1022], '?');
    json_t *e = pbrd_api_error("bytes %s and %s", "\xff\xfe", "\xed\xa0\x80 ok \xf4\x90\x80\x80");
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(json_string_value(json_object_get(e, "error")), "bytes ?? and ??? ok ????");
    json_decref(e);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("api_request");
    TCase *tc = tcase_create("parse");
    tcase_add_loop_test(tc, requests, 0, (int)(sizeof CASES / sizeof CASES[0]));
    tcase_add_test(tc, arguments);
    tcase_add_test(tc, error_replies_always_build);
    suite_add_tcase(s, tc);
    return s;
}

PBR_CHECK_MAIN(make_suite)
