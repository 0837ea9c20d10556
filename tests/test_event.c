/* test_event.c -- SPEC.md section 3: parsing, validation messages, defaults,
 * exact OGRS, canonical form and robustness of pbr_event_parse.
 * Expected values and messages are written by hand from the spec and
 * include/pbr/event.h.
 */
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "pbr/event.h"
#include "pbr/gen.h"
#include "settle_helpers.h"

/* Parses a NUL-terminated line; fails the test with the error if invalid. */
static void parse_ok(const char *json, pbr_event *ev)
{
    char err[PBR_ERR_MAX];
    int rc = pbr_event_parse(json, strlen(json), ev, err, sizeof err);
    ck_assert_msg(rc == 0, "expected success for %s, got: %s", json, err);
}

/* Checks that json is rejected with exactly msg and leaves the event empty. */
static void expect_error(const char *json, const char *msg)
{
    char err[PBR_ERR_MAX];
    pbr_event ev;
    memset(&ev, 0x5a, sizeof ev);
    int rc = pbr_event_parse(json, strlen(json), &ev, err, sizeof err);
    ck_assert_msg(rc == -1, "expected failure for %s", json);
    ck_assert_str_eq(err, msg);
    ck_assert_ptr_null(ev.id);
    ck_assert_ptr_null(ev.flags);
    ck_assert_uint_eq(ev.nflags, 0);
}

/* Checks that json is rejected with a message starting with prefix. */
static void expect_error_prefix(const char *json, size_t len, const char *prefix)
{
    char err[PBR_ERR_MAX];
    pbr_event ev;
    int rc = pbr_event_parse(json, len, &ev, err, sizeof err);
    ck_assert_msg(rc == -1, "expected failure for %.*s", (int)len, json);
    ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "error \"%s\" does not start with \"%s\"", err, prefix);
    ck_assert_ptr_null(ev.id);
}

/* Returns the ogrs of a release line carrying the given ogrs text, or the
 * error through err. */
static int ogrs_of(const char *ogrs_text, int32_t *ogrs, char *err, size_t errlen)
{
    char json[512];
    pbr_event ev;
    snprintf(json, sizeof json,
             "{\"id\":\"r1\",\"type\":\"release\",\"offender\":\"A\",\"date\":\"2020-04-15\",\"area\":\"N\","
             "\"establishment\":\"H\",\"sentence_days\":1,\"age\":30,\"gender\":\"M\",\"ogrs\":%s}",
             ogrs_text);
    int rc = pbr_event_parse(json, strlen(json), &ev, err, errlen);
    if (rc == 0) {
        *ogrs = ev.ogrs;
        pbr_event_clear(&ev);
    }
    return rc;
}

#define REL_HEAD "{\"id\":\"r1\",\"type\":\"release\",\"offender\":\"A\",\"date\":\"2020-04-15\","
#define REL_BODY "\"area\":\"NORTH\",\"establishment\":\"HMP-N\",\"sentence_days\":120,\"age\":30,\"gender\":\"M\""
#define REL_OK REL_HEAD REL_BODY "}"
#define CONV_HEAD "{\"id\":\"c1\",\"type\":\"conviction\",\"offender\":\"A\",\"date\":\"2021-03-01\","

/* ---- valid events --------------------------------------------------- */

START_TEST(release_with_every_field)
{
    pbr_event ev;
    parse_ok("{\"id\":\"r1\",\"type\":\"release\",\"offender\":\"PNC/12A\",\"date\":\"2020-04-15\","
             "\"recorded\":\"2020-04-20\",\"area\":\"NORTH\",\"establishment\":\"HMP-N\",\"provider\":\"serco\","
             "\"sentence_days\":120,\"age\":30,\"gender\":\"F\",\"ogrs\":0.25,\"prior_sanctions\":3,"
             "\"flags\":[\"PPO\",\"X\"]}",
             &ev);
    ck_assert_str_eq(ev.id, "r1");
    ck_assert_int_eq(ev.type, PBR_EV_RELEASE);
    ck_assert_str_eq(ev.offender, "PNC/12A");
    ck_assert_int_eq(ev.date, pbr_date_from_ymd(2020, 4, 15));
    ck_assert_int_eq(ev.recorded, pbr_date_from_ymd(2020, 4, 20));
    ck_assert_str_eq(ev.area, "NORTH");
    ck_assert_str_eq(ev.establishment, "HMP-N");
    ck_assert_str_eq(ev.provider, "serco");
    ck_assert_ptr_null(ev.order);
    ck_assert_int_eq(ev.sentence_days, 120);
    ck_assert_int_eq(ev.age, 30);
    ck_assert_int_eq(ev.gender, 'F');
    ck_assert_int_eq(ev.ogrs, 2500);
    ck_assert_int_eq(ev.prior_sanctions, 3);
    ck_assert_uint_eq(ev.nflags, 2);
    ck_assert_str_eq(ev.flags[0], "PPO");
    ck_assert_str_eq(ev.flags[1], "X");
    pbr_event_clear(&ev);
    ck_assert_ptr_null(ev.id);
    pbr_event_clear(&ev); /* safe twice */
}
END_TEST

START_TEST(community_start_defaults)
{
    pbr_event ev;
    parse_ok("{\"id\":\"a1\",\"type\":\"community_start\",\"offender\":\"A\",\"date\":\"2021-01-31\","
             "\"area\":\"NORTH\",\"order\":\"CO\",\"sentence_days\":0,\"age\":100,\"gender\":\"X\"}",
             &ev);
    ck_assert_int_eq(ev.type, PBR_EV_COMMUNITY_START);
    ck_assert_str_eq(ev.order, "CO");
    ck_assert_int_eq(ev.sentence_days, 0);
    ck_assert_int_eq(ev.age, 100);
    ck_assert_int_eq(ev.gender, 'X');
    ck_assert_int_eq(ev.recorded, ev.date); /* recorded defaults to date */
    ck_assert_ptr_null(ev.provider);
    ck_assert_ptr_null(ev.establishment);
    ck_assert_int_eq(ev.ogrs, -1);
    ck_assert_int_eq(ev.prior_sanctions, -1);
    ck_assert_uint_eq(ev.nflags, 0);
    ck_assert_ptr_null(ev.flags);
    pbr_event_clear(&ev);
}
END_TEST

START_TEST(conviction_defaults_and_fields)
{
    pbr_event ev;
    parse_ok(CONV_HEAD "\"offence_date\":\"2021-03-01\"}", &ev);
    ck_assert_int_eq(ev.type, PBR_EV_CONVICTION);
    ck_assert_int_eq(ev.offence_date, pbr_date_from_ymd(2021, 3, 1)); /* equal to date is fine */
    ck_assert_int_eq(ev.offences, 1);
    ck_assert_int_eq(ev.disposal, PBR_DISP_OTHER);
    ck_assert_ptr_null(ev.category);
    ck_assert_ptr_null(ev.area);
    pbr_event_clear(&ev);

    parse_ok(CONV_HEAD "\"offence_date\":\"2021-01-05\",\"offences\":3,\"category\":\"breach\","
                       "\"disposal\":\"sso\",\"area\":\"SOUTH\",\"recorded\":\"2022-03-15\"}",
             &ev);
    ck_assert_int_eq(ev.offence_date, pbr_date_from_ymd(2021, 1, 5));
    ck_assert_int_eq(ev.recorded, pbr_date_from_ymd(2022, 3, 15));
    ck_assert_int_eq(ev.offences, 3);
    ck_assert_str_eq(ev.category, "breach");
    ck_assert_int_eq(ev.disposal, PBR_DISP_SSO);
    ck_assert_str_eq(ev.area, "SOUTH");
    pbr_event_clear(&ev);
}
END_TEST

START_TEST(reception_discharge_void)
{
    pbr_event ev;
    parse_ok("{\"id\":\"r3\",\"type\":\"reception\",\"offender\":\"E\",\"date\":\"2021-05-01\",\"area\":\"NORTH\","
             "\"establishment\":\"HMP-N\",\"age\":19,\"gender\":\"M\"}",
             &ev);
    ck_assert_int_eq(ev.type, PBR_EV_RECEPTION);
    ck_assert_int_eq(ev.sentence_days, -1); /* remand */
    ck_assert_str_eq(ev.establishment, "HMP-N");
    pbr_event_clear(&ev);

    parse_ok("{\"id\":\"r4\",\"type\":\"reception\",\"offender\":\"F\",\"date\":\"2021-04-01\",\"area\":\"SOUTH\","
             "\"establishment\":\"HMP-S\",\"sentence_days\":30,\"age\":40,\"gender\":\"M\"}",
             &ev);
    ck_assert_int_eq(ev.sentence_days, 30);
    pbr_event_clear(&ev);

    parse_ok("{\"id\":\"r2\",\"type\":\"discharge\",\"offender\":\"D\",\"date\":\"2021-04-10\"}", &ev);
    ck_assert_int_eq(ev.type, PBR_EV_DISCHARGE);
    ck_assert_str_eq(ev.offender, "D");
    ck_assert_int_eq(ev.date, pbr_date_from_ymd(2021, 4, 10));
    pbr_event_clear(&ev);

    parse_ok(
        "{\"id\":\"e12\",\"type\":\"void\",\"date\":\"2020-09-01\",\"target\":\"e11\",\"reason\":\"wrong person\"}",
        &ev);
    ck_assert_int_eq(ev.type, PBR_EV_VOID);
    ck_assert_ptr_null(ev.offender);
    ck_assert_str_eq(ev.target, "e11");
    ck_assert_str_eq(ev.reason, "wrong person");
    ck_assert_int_eq(ev.recorded, pbr_date_from_ymd(2020, 9, 1));
    pbr_event_clear(&ev);
}
END_TEST

START_TEST(example_files_parse)
{
    const char *files[] = {"tests/spec-example/example.jsonl", "tests/spec-example/example2.jsonl"};
    for (size_t f = 0; f < 2; f++) {
        char path[1024];
        pbr_test_path(path, sizeof path, files[f]);
        FILE *fp = fopen(path, "r");
        if (!fp)
            continue; /* the spec lives outside the repository; optional */
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        int count = 0;
        while ((n = getline(&line, &cap, fp)) > 0) {
            pbr_event ev;
            char err[PBR_ERR_MAX];
            ck_assert_msg(pbr_event_parse(line, (size_t)n, &ev, err, sizeof err) == 0, "%s: %s", path, err);
            pbr_event_clear(&ev);
            count++;
        }
        ck_assert_int_gt(count, 0);
        free(line);
        fclose(fp);
    }
}
END_TEST

/* ---- one test per validation rule ------------------------------------ */

START_TEST(rule_unknown_type)
{
    expect_error("{\"id\":\"x1\",\"type\":\"parole\",\"offender\":\"A\",\"date\":\"2020-01-01\"}",
                 "event \"x1\": unknown type \"parole\"");
    expect_error("{\"id\":\"x1\",\"type\":7,\"offender\":\"A\",\"date\":\"2020-01-01\"}",
                 "event \"x1\": field \"type\" must be a string");
    expect_error("{\"id\":\"x1\",\"offender\":\"A\",\"date\":\"2020-01-01\"}",
                 "event \"x1\": missing required field \"type\"");
}
END_TEST

START_TEST(rule_id)
{
    expect_error("{\"type\":\"discharge\",\"offender\":\"A\",\"date\":\"2020-01-01\"}",
                 "event: missing required field \"id\"");
    expect_error("{\"id\":12,\"type\":\"discharge\",\"offender\":\"A\",\"date\":\"2020-01-01\"}",
                 "event: field \"id\" must be a string");
    expect_error("{\"id\":\"a b\",\"type\":\"discharge\",\"offender\":\"A\",\"date\":\"2020-01-01\"}",
                 "event: field \"id\" must be 1..64 printable ASCII bytes without spaces");
    expect_error("{\"id\":\"\",\"type\":\"discharge\",\"offender\":\"A\",\"date\":\"2020-01-01\"}",
                 "event: field \"id\" must be 1..64 printable ASCII bytes without spaces");
    expect_error("{\"id\":\"caf\xc3\xa9\",\"type\":\"discharge\",\"offender\":\"A\",\"date\":\"2020-01-01\"}",
                 "event: field \"id\" must be 1..64 printable ASCII bytes without spaces");
    /* 64 bytes are fine, 65 are not */
    char id64[65], json[256];
    memset(id64, 'a', 64);
    id64[64] = '\0';
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"type\":\"discharge\",\"offender\":\"A\",\"date\":\"2020-01-01\"}",
             id64);
    pbr_event ev;
    parse_ok(json, &ev);
    ck_assert_uint_eq(strlen(ev.id), 64);
    pbr_event_clear(&ev);
    snprintf(json, sizeof json, "{\"id\":\"%sa\",\"type\":\"discharge\",\"offender\":\"A\",\"date\":\"2020-01-01\"}",
             id64);
    expect_error(json, "event: field \"id\" must be 1..64 printable ASCII bytes without spaces");
}
END_TEST

START_TEST(rule_missing_required_fields)
{
    expect_error(REL_HEAD "\"establishment\":\"H\",\"sentence_days\":1,\"age\":30,\"gender\":\"M\"}",
                 "release \"r1\": missing required field \"area\"");
    expect_error(REL_HEAD "\"area\":\"N\",\"sentence_days\":1,\"age\":30,\"gender\":\"M\"}",
                 "release \"r1\": missing required field \"establishment\"");
    expect_error(REL_HEAD "\"area\":\"N\",\"establishment\":\"H\",\"age\":30,\"gender\":\"M\"}",
                 "release \"r1\": missing required field \"sentence_days\"");
    expect_error(REL_HEAD "\"area\":\"N\",\"establishment\":\"H\",\"sentence_days\":1,\"gender\":\"M\"}",
                 "release \"r1\": missing required field \"age\"");
    expect_error(REL_HEAD "\"area\":\"N\",\"establishment\":\"H\",\"sentence_days\":1,\"age\":30}",
                 "release \"r1\": missing required field \"gender\"");
    expect_error("{\"id\":\"r1\",\"type\":\"release\",\"date\":\"2020-04-15\"," REL_BODY "}",
                 "release \"r1\": missing required field \"offender\"");
    expect_error("{\"id\":\"r1\",\"type\":\"release\",\"offender\":\"A\"," REL_BODY "}",
                 "release \"r1\": missing required field \"date\"");
    expect_error("{\"id\":\"a1\",\"type\":\"community_start\",\"offender\":\"A\",\"date\":\"2021-01-31\","
                 "\"area\":\"N\",\"sentence_days\":365,\"age\":30,\"gender\":\"M\"}",
                 "community_start \"a1\": missing required field \"order\"");
    expect_error("{\"id\":\"q1\",\"type\":\"reception\",\"offender\":\"A\",\"date\":\"2021-01-31\","
                 "\"area\":\"N\",\"age\":30,\"gender\":\"M\"}",
                 "reception \"q1\": missing required field \"establishment\"");
    expect_error(CONV_HEAD "\"offences\":2}", "conviction \"c1\": missing required field \"offence_date\"");
    expect_error("{\"id\":\"v1\",\"type\":\"void\",\"date\":\"2020-09-01\",\"reason\":\"x\"}",
                 "void \"v1\": missing required field \"target\"");
    expect_error("{\"id\":\"v1\",\"type\":\"void\",\"date\":\"2020-09-01\",\"target\":\"e1\"}",
                 "void \"v1\": missing required field \"reason\"");
    expect_error("{\"id\":\"d1\",\"type\":\"discharge\",\"date\":\"2020-09-01\"}",
                 "discharge \"d1\": missing required field \"offender\"");
}
END_TEST

START_TEST(rule_unknown_fields)
{
    expect_error(REL_HEAD REL_BODY ",\"colour\":\"blue\"}", "release \"r1\": unknown field \"colour\"");
    /* a field of another type is unknown for this one */
    expect_error(REL_HEAD REL_BODY ",\"order\":\"CO\"}", "release \"r1\": unknown field \"order\"");
    expect_error("{\"id\":\"a1\",\"type\":\"community_start\",\"offender\":\"A\",\"date\":\"2021-01-31\","
                 "\"area\":\"N\",\"order\":\"CO\",\"sentence_days\":365,\"age\":30,\"gender\":\"M\","
                 "\"establishment\":\"H\"}",
                 "community_start \"a1\": unknown field \"establishment\"");
    expect_error("{\"id\":\"v1\",\"type\":\"void\",\"offender\":\"A\",\"date\":\"2020-09-01\",\"target\":\"e1\","
                 "\"reason\":\"x\"}",
                 "void \"v1\": unknown field \"offender\"");
    expect_error("{\"id\":\"d1\",\"type\":\"discharge\",\"offender\":\"A\",\"date\":\"2020-09-01\",\"area\":\"N\"}",
                 "discharge \"d1\": unknown field \"area\"");
    expect_error(CONV_HEAD "\"offence_date\":\"2021-01-01\",\"ogrs\":0.5}",
                 "conviction \"c1\": unknown field \"ogrs\"");
    expect_error("{\"id\":\"q1\",\"type\":\"reception\",\"offender\":\"A\",\"date\":\"2021-01-31\",\"area\":\"N\","
                 "\"establishment\":\"H\",\"age\":30,\"gender\":\"M\",\"provider\":\"p\"}",
                 "reception \"q1\": unknown field \"provider\"");
}
END_TEST

START_TEST(rule_wrong_json_types)
{
    expect_error(REL_HEAD "\"area\":\"N\",\"establishment\":\"H\",\"sentence_days\":1,\"age\":\"30\",\"gender\":\"M\"}",
                 "release \"r1\": field \"age\" must be an integer");
    expect_error(REL_HEAD "\"area\":\"N\",\"establishment\":\"H\",\"sentence_days\":1,\"age\":30.0,\"gender\":\"M\"}",
                 "release \"r1\": field \"age\" must be an integer");
    expect_error(REL_HEAD "\"area\":null,\"establishment\":\"H\",\"sentence_days\":1,\"age\":30,\"gender\":\"M\"}",
                 "release \"r1\": field \"area\" must be a string");
    expect_error(REL_HEAD "\"area\":[\"N\"],\"establishment\":\"H\",\"sentence_days\":1,\"age\":30,\"gender\":\"M\"}",
                 "release \"r1\": field \"area\" must be a string");
    expect_error("{\"id\":\"r1\",\"type\":\"release\",\"offender\":5,\"date\":\"2020-04-15\"," REL_BODY "}",
                 "release \"r1\": field \"offender\" must be a string");
    expect_error(REL_HEAD REL_BODY ",\"flags\":\"PPO\"}", "release \"r1\": field \"flags\" must be a list of strings");
    expect_error(REL_HEAD REL_BODY ",\"flags\":[\"PPO\",1]}",
                 "release \"r1\": field \"flags\" must be a list of strings");
    expect_error(REL_HEAD REL_BODY ",\"ogrs\":\"0.5\"}", "release \"r1\": field \"ogrs\" must be a number");
    expect_error(REL_HEAD REL_BODY ",\"ogrs\":true}", "release \"r1\": field \"ogrs\" must be a number");
    expect_error(CONV_HEAD "\"offence_date\":20210101}",
                 "conviction \"c1\": field \"offence_date\" must be a YYYY-MM-DD string");
    expect_error(CONV_HEAD "\"offence_date\":\"2021-01-01\",\"disposal\":3}",
                 "conviction \"c1\": field \"disposal\" must be a string");
    expect_error("{\"id\":\"v1\",\"type\":\"void\",\"date\":\"2020-09-01\",\"target\":\"e 1\",\"reason\":\"x\"}",
                 "void \"v1\": field \"target\" must be 1..64 printable ASCII bytes without spaces");
}
END_TEST

START_TEST(rule_dates)
{
    expect_error("{\"id\":\"r1\",\"type\":\"release\",\"offender\":\"A\",\"date\":\"2023-02-30\"," REL_BODY "}",
                 "release \"r1\": date \"2023-02-30\" is not a real day");
    expect_error("{\"id\":\"r1\",\"type\":\"release\",\"offender\":\"A\",\"date\":\"2023-2-3\"," REL_BODY "}",
                 "release \"r1\": date \"2023-2-3\" is not a YYYY-MM-DD date");
    expect_error("{\"id\":\"r1\",\"type\":\"release\",\"offender\":\"A\",\"date\":\"2023-02-03T00:00\"," REL_BODY "}",
                 "release \"r1\": date \"2023-02-03T00:00\" is not a YYYY-MM-DD date");
    expect_error(REL_HEAD REL_BODY ",\"recorded\":\"2021-13-01\"}",
                 "release \"r1\": recorded \"2021-13-01\" is not a real day");
    expect_error(CONV_HEAD "\"offence_date\":\"2021-02-29\"}",
                 "conviction \"c1\": offence_date \"2021-02-29\" is not a real day");
    pbr_event ev;
    parse_ok(CONV_HEAD "\"offence_date\":\"2020-02-29\"}", &ev); /* a real leap day */
    ck_assert_int_eq(ev.offence_date, pbr_date_from_ymd(2020, 2, 29));
    pbr_event_clear(&ev);
}
END_TEST

START_TEST(rule_offence_date_after_date)
{
    expect_error("{\"id\":\"c-991\",\"type\":\"conviction\",\"offender\":\"A\",\"date\":\"2024-02-28\","
                 "\"offence_date\":\"2024-03-02\"}",
                 "conviction \"c-991\": offence_date 2024-03-02 is after date 2024-02-28");
}
END_TEST

START_TEST(rule_recorded_before_date)
{
    expect_error("{\"id\":\"r1\",\"type\":\"release\",\"offender\":\"A\",\"date\":\"2020-02-01\","
                 "\"recorded\":\"2020-01-01\"," REL_BODY "}",
                 "release \"r1\": recorded 2020-01-01 is before date 2020-02-01");
    expect_error(
        "{\"id\":\"v1\",\"type\":\"void\",\"date\":\"2020-09-01\",\"recorded\":\"2020-08-31\",\"target\":\"e1\","
        "\"reason\":\"x\"}",
        "void \"v1\": recorded 2020-08-31 is before date 2020-09-01");
}
END_TEST

START_TEST(rule_number_ranges)
{
    expect_error(REL_HEAD "\"area\":\"N\",\"establishment\":\"H\",\"sentence_days\":1,\"age\":7,\"gender\":\"M\"}",
                 "release \"r1\": age 7 is out of range 10..100");
    expect_error(REL_HEAD "\"area\":\"N\",\"establishment\":\"H\",\"sentence_days\":1,\"age\":101,\"gender\":\"M\"}",
                 "release \"r1\": age 101 is out of range 10..100");
    expect_error(REL_HEAD "\"area\":\"N\",\"establishment\":\"H\",\"sentence_days\":-1,\"age\":30,\"gender\":\"M\"}",
                 "release \"r1\": sentence_days -1 is out of range: must be 0 or more");
    expect_error(REL_HEAD
                 "\"area\":\"N\",\"establishment\":\"H\",\"sentence_days\":3000000000,\"age\":30,\"gender\":\"M\"}",
                 "release \"r1\": sentence_days 3000000000 is out of range: must be 0 or more");
    expect_error(REL_HEAD REL_BODY ",\"prior_sanctions\":-2}",
                 "release \"r1\": prior_sanctions -2 is out of range: must be 0 or more");
    expect_error(CONV_HEAD "\"offence_date\":\"2021-01-01\",\"offences\":0}",
                 "conviction \"c1\": offences 0 is out of range: must be 1 or more");
    pbr_event ev;
    parse_ok(REL_HEAD "\"area\":\"N\",\"establishment\":\"H\",\"sentence_days\":0,\"age\":10,\"gender\":\"M\","
                      "\"prior_sanctions\":0}",
             &ev);
    ck_assert_int_eq(ev.age, 10);
    ck_assert_int_eq(ev.sentence_days, 0);
    ck_assert_int_eq(ev.prior_sanctions, 0);
    pbr_event_clear(&ev);
}
END_TEST

START_TEST(rule_enums)
{
    expect_error(REL_HEAD "\"area\":\"N\",\"establishment\":\"H\",\"sentence_days\":1,\"age\":30,\"gender\":\"male\"}",
                 "release \"r1\": gender \"male\" is not one of M, F, X");
    expect_error(REL_HEAD "\"area\":\"N\",\"establishment\":\"H\",\"sentence_days\":1,\"age\":30,\"gender\":\"m\"}",
                 "release \"r1\": gender \"m\" is not one of M, F, X");
    expect_error(CONV_HEAD "\"offence_date\":\"2021-01-01\",\"disposal\":\"prison\"}",
                 "conviction \"c1\": disposal \"prison\" is not one of custody, sso, community, fine, discharge, "
                 "caution, other");
}
END_TEST

START_TEST(rule_string_lengths)
{
    char json[2048], s[400];
    pbr_event ev;
    /* 256 bytes fine, 257 too long; counted in bytes (2-byte UTF-8 chars) */
    memset(s, 'a', 256);
    s[256] = '\0';
    snprintf(json, sizeof json, REL_HEAD REL_BODY ",\"provider\":\"%s\"}", s);
    parse_ok(json, &ev);
    ck_assert_uint_eq(strlen(ev.provider), 256);
    pbr_event_clear(&ev);
    snprintf(json, sizeof json, REL_HEAD REL_BODY ",\"provider\":\"%sa\"}", s);
    expect_error(json, "release \"r1\": field \"provider\" is longer than 256 bytes");
    s[0] = '\0';
    for (int i = 0; i < 129; i++)
        strcat(s, "\xc3\xa9");
    snprintf(json, sizeof json,
             "{\"id\":\"v1\",\"type\":\"void\",\"date\":\"2020-09-01\",\"target\":\"e1\",\"reason\":\"%s\"}", s);
    expect_error(json, "void \"v1\": field \"reason\" is longer than 256 bytes");
    s[256] = '\0'; /* 128 two-byte characters */
    snprintf(json, sizeof json,
             "{\"id\":\"v1\",\"type\":\"void\",\"date\":\"2020-09-01\",\"target\":\"e1\",\"reason\":\"%s\"}", s);
    parse_ok(json, &ev);
    ck_assert_uint_eq(strlen(ev.reason), 256);
    pbr_event_clear(&ev);
    expect_error(REL_HEAD "\"area\":\"\",\"establishment\":\"H\",\"sentence_days\":1,\"age\":30,\"gender\":\"M\"}",
                 "release \"r1\": field \"area\" is empty");
    /* offender is an identifier */
    memset(s, 'p', 65);
    s[65] = '\0';
    snprintf(json, sizeof json,
             "{\"id\":\"r1\",\"type\":\"release\",\"offender\":\"%s\",\"date\":\"2020-04-15\"," REL_BODY "}", s);
    expect_error(json, "release \"r1\": field \"offender\" must be 1..64 printable ASCII bytes without spaces");
    expect_error("{\"id\":\"r1\",\"type\":\"release\",\"offender\":\"A\\tB\",\"date\":\"2020-04-15\"," REL_BODY "}",
                 "release \"r1\": field \"offender\" must be 1..64 printable ASCII bytes without spaces");
}
END_TEST

START_TEST(rule_flags_limit)
{
    char json[2048];
    size_t n = (size_t)snprintf(json, sizeof json, "%s", REL_HEAD REL_BODY ",\"flags\":[");
    for (int i = 0; i < 32; i++)
        n += (size_t)snprintf(json + n, sizeof json - n, "%s\"F%d\"", i ? "," : "", i);
    snprintf(json + n, sizeof json - n, "]}");
    pbr_event ev;
    parse_ok(json, &ev);
    ck_assert_uint_eq(ev.nflags, 32);
    ck_assert_str_eq(ev.flags[31], "F31");
    pbr_event_clear(&ev);
    snprintf(json + n, sizeof json - n, ",\"F32\"]}");
    expect_error(json, "release \"r1\": field \"flags\" has 33 entries, more than 32");
    expect_error(REL_HEAD REL_BODY ",\"flags\":[\"PPO\",\"\"]}", "release \"r1\": field \"flags\" is empty");
}
END_TEST

/* ---- OGRS exactness ---------------------------------------------------- */

START_TEST(ogrs_exact)
{
    struct {
        const char *text;
        int32_t want;
    } ok[] = {
        {"0.1234", 1234}, {"1", 10000},  {"0", 0},         {"0.5", 5000},     {"0.25", 2500}, {"1.0", 10000},
        {"0.9999", 9999}, {"0.0001", 1}, {"0.1235", 1235}, {"0.12340", 1234}, {"5e-1", 5000}, {"1E0", 10000},
        {"0.0", 0},       {"-0", 0},     {"0.3", 3000},    {"1.0000", 10000},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int32_t v = -5;
        char err[PBR_ERR_MAX];
        ck_assert_msg(ogrs_of(ok[i].text, &v, err, sizeof err) == 0, "ogrs %s: %s", ok[i].text, err);
        ck_assert_msg(v == ok[i].want, "ogrs %s read as %d", ok[i].text, (int)v);
    }
    struct {
        const char *text;
        const char *msg;
    } bad[] = {
        {"0.12345", "release \"r1\": ogrs 0.12345 has more than 4 decimal places"},
        {"1.5", "release \"r1\": ogrs 1.5 is out of range 0..1"},
        {"-0.1", "release \"r1\": ogrs -0.1 is out of range 0..1"},
        {"1.0001", "release \"r1\": ogrs 1.0001 is out of range 0..1"},
        {"2", "release \"r1\": ogrs 2 is out of range 0..1"},
        {"1e-5", "release \"r1\": ogrs 1e-5 has more than 4 decimal places"},
        {"0.33333333333333333333333333333333333333",
         "release \"r1\": ogrs 0.33333333333333333333333333333333333333 has more than 4 decimal places"},
        {"1e400", "release \"r1\": ogrs 1e400 is out of range 0..1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int32_t v;
        char err[PBR_ERR_MAX];
        ck_assert_msg(ogrs_of(bad[i].text, &v, err, sizeof err) == -1, "ogrs %s accepted", bad[i].text);
        if (strstr(err, "not a JSON object") == NULL) /* 1e400 overflows jansson's double */
            ck_assert_str_eq(err, bad[i].msg);
    }
}
END_TEST

START_TEST(ogrs_found_by_key_not_by_text)
{
    pbr_event ev;
    /* an escaped key, and "ogrs" text inside other strings and nested lists */
    parse_ok(REL_HEAD "\"flags\":[\"\\\"ogrs\\\":0.9\",\"ogrs\"]," REL_BODY ",\"\\u006fgrs\" : 0.1234 }", &ev);
    ck_assert_int_eq(ev.ogrs, 1234);
    ck_assert_uint_eq(ev.nflags, 2);
    ck_assert_str_eq(ev.flags[0], "\"ogrs\":0.9");
    pbr_event_clear(&ev);
    parse_ok("{\"ogrs\":0.0002,\"id\":\"r1\",\"type\":\"release\",\"offender\":\"A\",\"date\":\"2020-04-15\"," REL_BODY
             "}",
             &ev);
    ck_assert_int_eq(ev.ogrs, 2);
    pbr_event_clear(&ev);
}
END_TEST

/* ---- not an object, broken JSON -------------------------------------- */

START_TEST(broken_input)
{
    expect_error("[1,2]", "line is not a JSON object: it is an array");
    const char *prefix = "line is not a JSON object: ";
    const char *cases[] = {
        "42",
        "\"release\"",
        "",
        "   ",
        "null",
        "{\"id\":\"a\"",
        "{\"id\":\"a\"} x",
        "{} {}",
        "{\"id\":\"a\",\"id\":\"b\",\"type\":\"discharge\",\"offender\":\"A\",\"date\":\"2020-01-01\"}",
        "{\"id\":\"a\\u0000b\",\"type\":\"discharge\",\"offender\":\"A\",\"date\":\"2020-01-01\"}",
        "{\"id\":\"a\",\"type\":\"discharge\",\"offender\":\"\xff\",\"date\":\"2020-01-01\"}",
        "{'id':'a'}",
        "{\"id\":\"a\",}",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_error_prefix(cases[i], strlen(cases[i]), prefix);
    /* duplicate keys, even spelt differently */
    expect_error_prefix("{\"id\":\"a\",\"\\u0069d\":\"a\"}", strlen("{\"id\":\"a\",\"\\u0069d\":\"a\"}"),
                        "line is not a JSON object: duplicate object key");
    /* an embedded NUL inside the given length */
    const char nul[] = "{\"id\":\"a\",\"type\":\"discharge\",\"offender\":\"A\",\0\"date\":\"2020-01-01\"}";
    expect_error_prefix(nul, sizeof nul - 1, prefix);
    const char nul_in_string[] = "{\"id\":\"a\",\"type\":\"discharge\",\"offender\":\"A\0B\",\"date\":\"2020-01-01\"}";
    expect_error_prefix(nul_in_string, sizeof nul_in_string - 1, prefix);
    /* the length is honoured: no NUL terminator needed, bytes beyond ignored */
    const char *line = "{\"id\":\"d1\",\"type\":\"discharge\",\"offender\":\"A\",\"date\":\"2020-01-01\"}GARBAGE";
    pbr_event ev;
    char err[PBR_ERR_MAX];
    ck_assert_int_eq(pbr_event_parse(line, strlen(line) - 7, &ev, err, sizeof err), 0);
    ck_assert_str_eq(ev.id, "d1");
    pbr_event_clear(&ev);
    /* NULL input and a tiny error buffer */
    ck_assert_int_eq(pbr_event_parse(NULL, 0, &ev, err, sizeof err), -1);
    char tiny[8];
    ck_assert_int_eq(pbr_event_parse("[]", 2, &ev, tiny, sizeof tiny), -1);
    ck_assert_uint_lt(strlen(tiny), sizeof tiny);
    ck_assert_int_eq(pbr_event_parse("[]", 2, &ev, NULL, 0), -1);
}
END_TEST

START_TEST(unknown_type_echo_is_sanitised)
{
    expect_error("{\"id\":\"x1\",\"type\":\"a\\\"b\\n\",\"offender\":\"A\",\"date\":\"2020-01-01\"}",
                 "event \"x1\": unknown type \"a\\x22b\\x0a\"");
}
END_TEST

/* Every prefix of valid lines and many byte mutations: no crash, no leak
 * (run under ASan), and only the whole line parses. */
START_TEST(mutations_never_crash)
{
    const char *lines[] = {
        "{\"id\":\"r1\",\"type\":\"release\",\"offender\":\"A\",\"date\":\"2020-04-15\",\"area\":\"N\","
        "\"establishment\":\"H\",\"provider\":\"p\",\"sentence_days\":1,\"age\":30,\"gender\":\"M\",\"ogrs\":0.25,"
        "\"prior_sanctions\":2,\"flags\":[\"PPO\",\"Y\"]}",
        CONV_HEAD "\"offence_date\":\"2021-01-05\",\"offences\":3,\"category\":\"breach\",\"disposal\":\"sso\"}",
        "{\"id\":\"v1\",\"type\":\"void\",\"date\":\"2020-09-01\",\"target\":\"e11\",\"reason\":\"wrong\"}",
    };
    uint64_t x = 12345;
    for (size_t k = 0; k < 3; k++) {
        size_t len = strlen(lines[k]);
        char buf[512];
        for (size_t cut = 0; cut < len; cut++) {
            pbr_event ev;
            char err[PBR_ERR_MAX];
            ck_assert_int_eq(pbr_event_parse(lines[k], cut, &ev, err, sizeof err), -1);
        }
        for (int it = 0; it < 3000; it++) {
            memcpy(buf, lines[k], len);
            for (int m = 0; m < 1 + it % 3; m++) {
                x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                size_t pos = (size_t)(x >> 33) % len;
                static const char alphabet[] = "{}[]\",:0123456789.-eE\\u \x00\xff"
                                               "abcdefghijklmnopqrstuvwxyz";
                buf[pos] = alphabet[(x >> 13) % (sizeof alphabet - 1)];
            }
            pbr_event ev;
            char err[PBR_ERR_MAX];
            if (pbr_event_parse(buf, len, &ev, err, sizeof err) == 0) {
                size_t clen;
                char *c = pbr_event_canonical(&ev, &clen);
                ck_assert_ptr_nonnull(c);
                pbr_event ev2;
                ck_assert_msg(pbr_event_parse(c, clen, &ev2, err, sizeof err) == 0, "canonical %s: %s", c, err);
                pbr_event_clear(&ev2);
                free(c);
                pbr_event_clear(&ev);
            }
        }
    }
}
END_TEST

/* ---- fast path == reference parser ------------------------------------- */

/* Returns 1 if two optional strings are equal (both NULL or same bytes). */
static int same_string(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Parses json[0..len) with pbr_event_parse and with the jansson reference
 * parser and fails unless they agree: same result, same error text, same
 * fields and same canonical bytes. Returns 1 if the line was valid. */
static int check_same_as_reference(const char *json, size_t len)
{
    char err1[PBR_ERR_MAX], err2[PBR_ERR_MAX];
    pbr_event a, b;
    int ra = pbr_event_parse(json, len, &a, err1, sizeof err1);
    int rb = pbr_event_parse_reference(json, len, &b, err2, sizeof err2);
    ck_assert_msg(ra == rb, "fast %d (%s) vs reference %d (%s) for %.*s", ra, err1, rb, err2, (int)len, json);
    ck_assert_msg(strcmp(err1, err2) == 0, "error \"%s\" vs reference \"%s\" for %.*s", err1, err2, (int)len, json);
    if (ra != 0) {
        ck_assert_ptr_null(a.id);
        ck_assert_ptr_null(a.flags);
        return 0;
    }
    ck_assert(same_string(a.id, b.id) && same_string(a.offender, b.offender) && same_string(a.area, b.area));
    ck_assert(same_string(a.provider, b.provider) && same_string(a.establishment, b.establishment));
    ck_assert(same_string(a.order, b.order) && same_string(a.category, b.category));
    ck_assert(same_string(a.target, b.target) && same_string(a.reason, b.reason));
    ck_assert_int_eq(a.type, b.type);
    ck_assert_int_eq(a.date, b.date);
    ck_assert_int_eq(a.recorded, b.recorded);
    ck_assert_int_eq(a.offence_date, b.offence_date);
    ck_assert_int_eq(a.sentence_days, b.sentence_days);
    ck_assert_int_eq(a.age, b.age);
    ck_assert_int_eq(a.gender, b.gender);
    ck_assert_int_eq(a.ogrs, b.ogrs);
    ck_assert_int_eq(a.prior_sanctions, b.prior_sanctions);
    ck_assert_int_eq(a.offences, b.offences);
    ck_assert_int_eq(a.disposal, b.disposal);
    ck_assert_uint_eq(a.nflags, b.nflags);
    for (size_t i = 0; i < a.nflags; i++)
        ck_assert_str_eq(a.flags[i], b.flags[i]);
    size_t la, lb;
    char *ca = pbr_event_canonical(&a, &la), *cb = pbr_event_canonical(&b, &lb);
    ck_assert_ptr_nonnull(ca);
    ck_assert_ptr_nonnull(cb);
    ck_assert_uint_eq(la, lb);
    ck_assert_uint_eq(strlen(ca), la);
    ck_assert_str_eq(ca, cb);
    free(ca);
    free(cb);
    pbr_event_clear(&a);
    pbr_event_clear(&b);
    return 1;
}

static int check_line_same(const char *json)
{
    return check_same_as_reference(json, strlen(json));
}

/* Generated streams with malformed lines, and byte mutations of each line:
 * both parsers agree on every one. */
START_TEST(fast_path_matches_reference_on_generated_lines)
{
    pbr_gen_opts o;
    pbr_gen_defaults(&o);
    o.seed = 7;
    o.offenders = 300;
    o.malformed_rate = 0.1;
    size_t size;
    char *text = gen_text(&o, &size, NULL);
    static const char alphabet[] = "{}[]\",:0123456789.-+eE\\u/ \t\x00\x7f\xc3\xa9\xed\xa0\x80\xf0\x9f"
                                   "abcdefMFXnrt";
    size_t lines = 0, valid = 0, mutated_valid = 0;
    uint64_t x = 99;
    char buf[1024];
    for (char *p = text; p < text + size;) {
        char *nl = memchr(p, '\n', (size_t)(text + size - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(text + size - p);
        lines++;
        valid += (size_t)check_same_as_reference(p, len);
        if (len < sizeof buf) {
            for (int it = 0; it < 8; it++) {
                memcpy(buf, p, len);
                for (int m = 0; m < 1 + it % 2; m++) {
                    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                    buf[(x >> 33) % len] = alphabet[(x >> 13) % (sizeof alphabet - 1)];
                }
                mutated_valid += (size_t)check_same_as_reference(buf, len);
            }
        }
        p = nl ? nl + 1 : text + size;
    }
    free(text);
    /* the stream exercises both outcomes: mostly valid, some malformed */
    ck_assert_uint_gt(lines, 1000);
    ck_assert_uint_gt(valid, lines / 2);
    ck_assert_uint_lt(valid, lines);
    ck_assert_uint_gt(mutated_valid, 0);
}
END_TEST

#define FP_REL                                                                                       \
    "{\"id\":\"r1\",\"type\":\"release\",\"offender\":\"A\",\"date\":\"2020-04-15\",\"area\":\"N\"," \
    "\"establishment\":\"H\",\"sentence_days\":1,\"age\":30,\"gender\":\"M\""

/* Hand-picked corners of JSON strings, numbers and structure: the fast path
 * agrees with the reference; the expected outcome is from RFC 8259 and the
 * spec's field rules. */
START_TEST(fast_path_matches_reference_on_json_corners)
{
    static const struct {
        const char *json;
        int valid;
    } cases[] = {
        /* string escapes decode to the same bytes */
        {FP_REL ",\"provider\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"}", 1},
        {FP_REL ",\"provider\":\"\\u00e9\\u4e2d\\ud83d\\ude00\"}", 1},
        {FP_REL ",\"provider\":\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\"}", 1},
        {FP_REL ",\"provider\":\"\\u0001\"}", 1},
        {FP_REL ",\"provider\":\"\\u0000\"}", 0},          /* NUL: jansson refuses */
        {FP_REL ",\"provider\":\"\\ud800\"}", 0},          /* lone high surrogate */
        {FP_REL ",\"provider\":\"\\udc00\"}", 0},          /* lone low surrogate */
        {FP_REL ",\"provider\":\"\\ud800\\u0041\"}", 0},   /* high + non-low */
        {FP_REL ",\"provider\":\"\\x41\"}", 0},            /* no such escape */
        {FP_REL ",\"provider\":\"\\u12G4\"}", 0},          /* bad hex */
        {FP_REL ",\"provider\":\"a\tb\"}", 0},             /* raw control character */
        {FP_REL ",\"provider\":\"\xc0\xaf\"}", 0},         /* overlong */
        {FP_REL ",\"provider\":\"\xed\xa0\x80\"}", 0},     /* encoded surrogate */
        {FP_REL ",\"provider\":\"\xf4\x90\x80\x80\"}", 0}, /* above U+10FFFF */
        {FP_REL ",\"provider\":\"\xe4\xb8\"}", 0},         /* truncated sequence */
        {FP_REL ",\"provider\":\"\"}", 0},                 /* empty string */
        /* keys: escaped names are the same field; duplicates are refused */
        {FP_REL ",\"\\u0070rovider\":\"p\"}", 1},
        {FP_REL ",\"provider\":\"p\",\"provider\":\"p\"}", 0},
        {FP_REL ",\"age\":31}", 0},
        {FP_REL ",\"Provider\":\"p\"}", 0},
        /* numbers */
        {FP_REL ",\"prior_sanctions\":0}", 1},
        {FP_REL ",\"prior_sanctions\":-0}", 1},
        {FP_REL ",\"prior_sanctions\":2147483647}", 1},
        {FP_REL ",\"prior_sanctions\":2147483648}", 0},
        {FP_REL ",\"prior_sanctions\":99999999999999999999999}", 0}, /* too big for jansson */
        {FP_REL ",\"prior_sanctions\":007}", 0},
        {FP_REL ",\"prior_sanctions\":1.0}", 0},
        {FP_REL ",\"prior_sanctions\":1e2}", 0},
        {FP_REL ",\"prior_sanctions\":-1}", 0},
        {FP_REL ",\"prior_sanctions\":+1}", 0},
        {FP_REL ",\"prior_sanctions\":1.}", 0},
        {FP_REL ",\"ogrs\":0.1234}", 1},
        {FP_REL ",\"ogrs\":1}", 1},
        {FP_REL ",\"ogrs\":-0.0}", 1},
        {FP_REL ",\"ogrs\":5E-1}", 1},
        {FP_REL ",\"ogrs\":0.00001e+1}", 1},
        {FP_REL ",\"ogrs\":0e999}", 1},
        {FP_REL ",\"ogrs\":1e400}", 0},
        {FP_REL ",\"ogrs\":0.12345}", 0},
        {FP_REL ",\"ogrs\":.5}", 0},
        {FP_REL ",\"ogrs\":\"0.5\"}", 0},
        /* values of the wrong JSON type */
        {FP_REL ",\"provider\":null}", 0},
        {FP_REL ",\"provider\":true}", 0},
        {FP_REL ",\"provider\":[\"p\"]}", 0},
        {FP_REL ",\"provider\":{}}", 0},
        {FP_REL ",\"flags\":[]}", 1},
        {FP_REL ",\"flags\":[ \"a\" , \"\\u00e9\" ]}", 1},
        {FP_REL ",\"flags\":[\"a\",]}", 0},
        {FP_REL ",\"flags\":[\"a\",1]}", 0},
        {FP_REL ",\"flags\":[[\"a\"]]}", 0},
        {FP_REL ",\"flags\":[\"\"]}", 0},
        {FP_REL ",\"flags\":\"PPO\"}", 0},
        /* structure and whitespace */
        {" \t\r\n" FP_REL " } \r\n\t", 1},
        {"{ \"id\" : \"r1\" , \"type\" : \"discharge\" , \"offender\" : \"A\" , \"date\" : \"2020-04-15\" }", 1},
        {FP_REL "}x", 0},
        {FP_REL "}}", 0},
        {FP_REL ",}", 0},
        {FP_REL "", 0},
        {"{}", 0},
        {"", 0},
        {"[]", 0},
        {FP_REL "}\f", 0},
        {"\xef\xbb\xbf" FP_REL "}", 0}, /* byte order mark */
        /* rules between fields */
        {FP_REL ",\"recorded\":\"2020-04-14\"}", 0},
        {FP_REL ",\"recorded\":\"2020-04-15\"}", 1},
        {"{\"id\":\"c1\",\"type\":\"conviction\",\"offender\":\"A\",\"date\":\"2021-03-01\","
         "\"offence_date\":\"2021-03-02\"}",
         0},
        {"{\"id\":\"c1\",\"type\":\"conviction\",\"offender\":\"A\",\"date\":\"2021-03-01\","
         "\"offence_date\":\"2021-03-01\",\"disposal\":\"fine\",\"offences\":2,\"category\":\"x\"}",
         1},
        {"{\"id\":\"c1\",\"type\":\"conviction\",\"offender\":\"A\",\"date\":\"2021-03-01\","
         "\"offence_date\":\"2021-03-01\",\"disposal\":\"fin\"}",
         0},
        {"{\"id\":\"v1\",\"type\":\"void\",\"date\":\"2020-09-01\",\"target\":\"e11\",\"reason\":\"r\"}", 1},
        {"{\"id\":\"v1\",\"type\":\"void\",\"date\":\"2020-09-01\",\"target\":\"e 11\",\"reason\":\"r\"}", 0},
        {"{\"id\":\"r 1\",\"type\":\"discharge\",\"offender\":\"A\",\"date\":\"2020-04-15\"}", 0},
        {"{\"id\":\"r1\",\"type\":\"discharge\",\"offender\":\"A\",\"date\":\"2020-02-30\"}", 0},
        {"{\"id\":\"r1\",\"type\":\"Discharge\",\"offender\":\"A\",\"date\":\"2020-02-03\"}", 0},
        {"{\"type\":\"discharge\",\"id\":\"r1\",\"offender\":\"A\",\"date\":\"2020-02-03\"}", 1},
        {FP_REL ",\"gender\":\"F\"}", 0},
        {"{\"id\":\"r1\",\"type\":\"release\",\"offender\":\"A\",\"date\":\"2020-04-15\",\"area\":\"N\","
         "\"establishment\":\"H\",\"sentence_days\":1,\"age\":30,\"gender\":\"Q\"}",
         0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(check_line_same(cases[i].json) == cases[i].valid, "case %zu: %s", i, cases[i].json);
}
END_TEST

/* Long lines (decoded off the stack), string and flag limits, and lines
 * that are not NUL terminated. */
START_TEST(fast_path_matches_reference_on_limits)
{
    char big[12000], s256[257], s257[258];
    memset(s256, 'p', 256);
    s256[256] = '\0';
    memset(s257, 'p', 257);
    s257[257] = '\0';
    snprintf(big, sizeof big, FP_REL ",\"provider\":\"%s\"}", s256);
    ck_assert_int_eq(check_line_same(big), 1);
    snprintf(big, sizeof big, FP_REL ",\"provider\":\"%s\"}", s257);
    ck_assert_int_eq(check_line_same(big), 0);
    /* 32 flags of 256 bytes: a ~8 KB line, valid; 33 flags are too many */
    for (int nflags = 31; nflags <= 33; nflags++) {
        size_t n = (size_t)snprintf(big, sizeof big, "%s", FP_REL ",\"flags\":[");
        for (int i = 0; i < nflags; i++)
            n += (size_t)snprintf(big + n, sizeof big - n, "%s\"%s\"", i ? "," : "", s256);
        snprintf(big + n, sizeof big - n, "]}");
        ck_assert_int_eq(check_line_same(big), nflags <= 32);
    }
    /* a 64-byte id is the limit */
    char id[80];
    memset(id, 'i', 65);
    id[65] = '\0';
    snprintf(big, sizeof big, "{\"id\":\"%s\",\"type\":\"discharge\",\"offender\":\"A\",\"date\":\"2020-04-15\"}", id);
    ck_assert_int_eq(check_line_same(big), 0);
    id[64] = '\0';
    snprintf(big, sizeof big, "{\"id\":\"%s\",\"type\":\"discharge\",\"offender\":\"A\",\"date\":\"2020-04-15\"}", id);
    ck_assert_int_eq(check_line_same(big), 1);
    /* every prefix of a valid line, not NUL terminated: only the whole parses */
    const char *line = FP_REL ",\"ogrs\":0.25,\"flags\":[\"PPO\",\"\\u00e9\"]}";
    size_t len = strlen(line);
    for (size_t cut = 0; cut <= len; cut++) {
        char *copy = malloc(cut ? cut : 1);
        memcpy(copy, line, cut);
        ck_assert_int_eq(check_same_as_reference(copy, cut), cut == len);
        free(copy);
    }
}
END_TEST

/* pbr_event_clear releases events of both parsers (ASan checks the frees). */
START_TEST(free_handles_both_parsers)
{
    const char *line = FP_REL ",\"provider\":\"P\",\"flags\":[\"a\",\"b\"]}";
    char err[PBR_ERR_MAX];
    pbr_event a, b;
    ck_assert_int_eq(pbr_event_parse(line, strlen(line), &a, err, sizeof err), 0);
    ck_assert_int_eq(pbr_event_parse_reference(line, strlen(line), &b, err, sizeof err), 0);
    ck_assert_str_eq(a.provider, "P");
    ck_assert_str_eq(b.flags[1], "b");
    pbr_event_clear(&a);
    pbr_event_clear(&b);
    ck_assert_ptr_null(a.id);
    ck_assert_ptr_null(b.flags);
    pbr_event_clear(&a);
}
END_TEST

/* ---- fixtures -------------------------------------------------------- */

/* Reads a fixture file into lines (caller frees each and the array). */
static size_t read_lines(const char *rel, char ***out)
{
    char path[1024];
    FILE *fp = fopen(pbr_test_path(path, sizeof path, rel), "r");
    ck_assert_msg(fp != NULL, "cannot open %s", path);
    char *line = NULL, **lines = NULL;
    size_t cap = 0, n = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, fp)) > 0) {
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        lines = realloc(lines, (n + 1) * sizeof *lines);
        lines[n++] = strdup(line);
    }
    free(line);
    fclose(fp);
    *out = lines;
    return n;
}

START_TEST(fixture_files)
{
    char **valid, **invalid, **expected;
    size_t nv = read_lines("tests/data/events/valid.jsonl", &valid);
    ck_assert_uint_eq(nv, 8);
    for (size_t i = 0; i < nv; i++) {
        pbr_event ev;
        parse_ok(valid[i], &ev);
        pbr_event_clear(&ev);
        free(valid[i]);
    }
    size_t ni = read_lines("tests/data/events/invalid.jsonl", &invalid);
    size_t ne = read_lines("tests/data/events/invalid.expected", &expected);
    ck_assert_uint_eq(ni, ne);
    for (size_t i = 0; i < ni; i++) {
        expect_error(invalid[i], expected[i]);
        free(invalid[i]);
        free(expected[i]);
    }
    free(valid);
    free(invalid);
    free(expected);
}
END_TEST

/* ---- canonical form ------------------------------------------------- */

/* Returns the canonical form of json (caller frees). */
static char *canonical_of(const char *json)
{
    pbr_event ev;
    parse_ok(json, &ev);
    size_t len;
    char *c = pbr_event_canonical(&ev, &len);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(len, strlen(c));
    pbr_event_clear(&ev);
    return c;
}

START_TEST(canonical_exact_text)
{
    char *c = canonical_of(REL_HEAD REL_BODY ",\"ogrs\":0.250,\"flags\":[\"PPO\"],\"provider\":\"serco\"}");
    ck_assert_str_eq(
        c,
        "{\"id\":\"r1\",\"type\":\"release\",\"offender\":\"A\",\"date\":\"2020-04-15\","
        "\"recorded\":\"2020-04-15\",\"area\":\"NORTH\",\"establishment\":\"HMP-N\",\"provider\":\"serco\","
        "\"sentence_days\":120,\"age\":30,\"gender\":\"M\",\"ogrs\":0.25,\"flags\":[\"PPO\"]}");
    free(c);
    c = canonical_of(CONV_HEAD "\"offence_date\":\"2021-01-05\"}");
    ck_assert_str_eq(
        c,
        "{\"id\":\"c1\",\"type\":\"conviction\",\"offender\":\"A\",\"date\":\"2021-03-01\","
        "\"recorded\":\"2021-03-01\",\"offence_date\":\"2021-01-05\",\"offences\":1,\"disposal\":\"other\"}");
    free(c);
    c = canonical_of("{\"type\":\"void\",\"reason\":\"said "
                     "\\\"no\\\"\\n\\u00e9\",\"target\":\"e1\",\"date\":\"2020-09-01\",\"id\":\"v1\"}");
    ck_assert_str_eq(c,
                     "{\"id\":\"v1\",\"type\":\"void\",\"date\":\"2020-09-01\",\"recorded\":\"2020-09-01\","
                     "\"target\":\"e1\",\"reason\":\"said \\\"no\\\"\\u000a\xc3\xa9\"}");
    free(c);
    c = canonical_of("{\"id\":\"q\",\"type\":\"reception\",\"offender\":\"A\",\"date\":\"2021-01-31\",\"area\":\"N\","
                     "\"establishment\":\"H\",\"age\":30,\"gender\":\"F\"}");
    ck_assert_str_eq(c,
                     "{\"id\":\"q\",\"type\":\"reception\",\"offender\":\"A\",\"date\":\"2021-01-31\","
                     "\"recorded\":\"2021-01-31\",\"area\":\"N\",\"establishment\":\"H\",\"age\":30,\"gender\":\"F\"}");
    free(c);
    struct {
        const char *in, *out;
    } og[] = {{"1", "\"ogrs\":1}"},
              {"0", "\"ogrs\":0}"},
              {"0.05", "\"ogrs\":0.05}"},
              {"0.1234", "\"ogrs\":0.1234}"},
              {"0.1", "\"ogrs\":0.1}"}};
    for (size_t i = 0; i < 5; i++) {
        char json[512];
        snprintf(json, sizeof json, REL_HEAD REL_BODY ",\"ogrs\":%s}", og[i].in);
        c = canonical_of(json);
        size_t n = strlen(c), m = strlen(og[i].out);
        ck_assert_msg(n > m && strcmp(c + n - m, og[i].out) == 0, "%s -> %s", og[i].in, c);
        free(c);
    }
}
END_TEST

START_TEST(canonical_same_for_same_content)
{
    char *a = canonical_of(CONV_HEAD "\"offence_date\":\"2021-01-05\"}");
    char *b = canonical_of("{ \"offence_date\" : \"2021-01-05\", \"disposal\":\"other\",\n\t\"offences\":1,"
                           "\"recorded\":\"2021-03-01\", \"date\":\"2021-03-01\",\"offender\":\"A\","
                           "\"type\":\"conviction\",\"id\":\"c1\" }\r\n");
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    a = canonical_of(REL_HEAD REL_BODY ",\"ogrs\":0.5}");
    b = canonical_of(
        "{\"ogrs\":5e-1,\"gender\":\"M\",\"age\":30,\"sentence_days\":120,\"establishment\":\"HMP-N\","
        "\"area\":\"NORTH\",\"date\":\"2020-04-15\",\"offender\":\"A\",\"type\":\"release\",\"id\":\"r1\"}");
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
}
END_TEST

START_TEST(canonical_differs_for_different_content)
{
    const char *variants[] = {
        REL_HEAD REL_BODY "}",
        REL_HEAD "\"area\":\"NORTH\",\"establishment\":\"HMP-N\",\"sentence_days\":120,\"age\":31,\"gender\":\"M\"}",
        REL_HEAD REL_BODY ",\"recorded\":\"2020-04-16\"}",
        REL_HEAD REL_BODY ",\"ogrs\":0.5}",
        REL_HEAD REL_BODY ",\"ogrs\":0.5001}",
        REL_HEAD REL_BODY ",\"prior_sanctions\":0}",
        REL_HEAD REL_BODY ",\"flags\":[\"PPO\"]}",
        REL_HEAD REL_BODY ",\"provider\":\"p\"}",
        "{\"id\":\"r2\",\"type\":\"release\",\"offender\":\"A\",\"date\":\"2020-04-15\"," REL_BODY "}",
        "{\"id\":\"r1\",\"type\":\"release\",\"offender\":\"B\",\"date\":\"2020-04-15\"," REL_BODY "}",
    };
    size_t n = sizeof variants / sizeof variants[0];
    char *c[16];
    for (size_t i = 0; i < n; i++)
        c[i] = canonical_of(variants[i]);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            ck_assert_msg(strcmp(c[i], c[j]) != 0, "variants %zu and %zu share %s", i, j, c[i]);
    for (size_t i = 0; i < n; i++) {
        /* and the canonical form is a fixed point */
        char *again = canonical_of(c[i]);
        ck_assert_str_eq(again, c[i]);
        free(again);
        free(c[i]);
    }
}
END_TEST

START_TEST(canonical_to_matches_canonical)
{
    /* 30 flags of 40 bytes: a canonical form longer than 1 KiB */
    char longflags[2048] = REL_HEAD REL_BODY ",\"flags\":[";
    for (int i = 0; i < 30; i++) {
        size_t n = strlen(longflags);
        snprintf(longflags + n, sizeof longflags - n, "%s\"flag-%02d-%.31s\"", i ? "," : "", i,
                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    }
    strcat(longflags, "]}");
    const char *lines[] = {
        REL_HEAD REL_BODY ",\"ogrs\":0.250,\"flags\":[\"PPO\",\"a\\\"b\"],\"provider\":\"serco\"}",
        CONV_HEAD "\"offence_date\":\"2021-01-05\"}",
        "{\"type\":\"void\",\"reason\":\"said "
        "\\\"no\\\"\\n\\u00e9\",\"target\":\"e1\",\"date\":\"2020-09-01\",\"id\":\"v1\"}",
        longflags,
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        pbr_event ev;
        char err[PBR_ERR_MAX];
        ck_assert_msg(pbr_event_parse(lines[i], strlen(lines[i]), &ev, err, sizeof err) == 0, "%s", err);
        size_t len = 0;
        char *c = pbr_event_canonical(&ev, &len);
        ck_assert_ptr_nonnull(c);
        /* measuring: nothing written, the exact length returned */
        ck_assert_uint_eq(pbr_event_canonical_to(&ev, NULL, 0), len);
        char *buf = malloc(len + 16);
        ck_assert_ptr_nonnull(buf);
        /* one byte short (no room for the NUL): the length, and not a byte past cap */
        memset(buf, '#', len + 16);
        ck_assert_uint_eq(pbr_event_canonical_to(&ev, buf, len), len);
        for (size_t k = len; k < len + 16; k++)
            ck_assert_int_eq(buf[k], '#');
        /* exact fit and roomy: the same bytes as pbr_event_canonical, NUL-terminated */
        ck_assert_uint_eq(pbr_event_canonical_to(&ev, buf, len + 1), len);
        ck_assert_str_eq(buf, c);
        memset(buf, '#', len + 16);
        ck_assert_uint_eq(pbr_event_canonical_to(&ev, buf, len + 16), len);
        ck_assert_str_eq(buf, c);
        free(buf);
        free(c);
        pbr_event_clear(&ev);
    }
}
END_TEST

START_TEST(name_tables)
{
    const char *types[] = {"release", "community_start", "conviction", "reception", "discharge", "void"};
    for (int i = 0; i < PBR_EV_TYPE_COUNT; i++) {
        ck_assert_str_eq(pbr_event_type_name((pbr_event_type)i), types[i]);
        ck_assert_int_eq(pbr_event_type_from_name(types[i]), i);
    }
    ck_assert_int_eq(pbr_event_type_from_name("Release"), -1);
    ck_assert_int_eq(pbr_event_type_from_name(NULL), -1);
    const char *disp[] = {"custody", "sso", "community", "fine", "discharge", "caution", "other"};
    for (int i = 0; i < PBR_DISP_COUNT; i++) {
        ck_assert_str_eq(pbr_disposal_name((pbr_disposal)i), disp[i]);
        ck_assert_int_eq(pbr_disposal_from_name(disp[i]), i);
    }
    ck_assert_int_eq(pbr_disposal_from_name("prison"), -1);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("event");
    TCase *tc = tcase_create("valid");
    tcase_add_test(tc, release_with_every_field);
    tcase_add_test(tc, community_start_defaults);
    tcase_add_test(tc, conviction_defaults_and_fields);
    tcase_add_test(tc, reception_discharge_void);
    tcase_add_test(tc, example_files_parse);
    tcase_add_test(tc, fixture_files);
    tcase_add_test(tc, name_tables);
    suite_add_tcase(s, tc);
    tc = tcase_create("rules");
    tcase_add_test(tc, rule_unknown_type);
    tcase_add_test(tc, rule_id);
    tcase_add_test(tc, rule_missing_required_fields);
    tcase_add_test(tc, rule_unknown_fields);
    tcase_add_test(tc, rule_wrong_json_types);
    tcase_add_test(tc, rule_dates);
    tcase_add_test(tc, rule_offence_date_after_date);
    tcase_add_test(tc, rule_recorded_before_date);
    tcase_add_test(tc, rule_number_ranges);
    tcase_add_test(tc, rule_enums);
    tcase_add_test(tc, rule_string_lengths);
    tcase_add_test(tc, rule_flags_limit);
    suite_add_tcase(s, tc);
    tc = tcase_create("ogrs");
    tcase_add_test(tc, ogrs_exact);
    tcase_add_test(tc, ogrs_found_by_key_not_by_text);
    suite_add_tcase(s, tc);
    tc = tcase_create("robustness");
    tcase_add_test(tc, broken_input);
    tcase_add_test(tc, unknown_type_echo_is_sanitised);
    tcase_add_test(tc, mutations_never_crash);
    suite_add_tcase(s, tc);
    tc = tcase_create("canonical");
    tcase_add_test(tc, canonical_exact_text);
    tcase_add_test(tc, canonical_same_for_same_content);
    tcase_add_test(tc, canonical_differs_for_different_content);
    tcase_add_test(tc, canonical_to_matches_canonical);
    suite_add_tcase(s, tc);
    tc = tcase_create("fast_path");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, fast_path_matches_reference_on_generated_lines);
    tcase_add_test(tc, fast_path_matches_reference_on_json_corners);
    tcase_add_test(tc, fast_path_matches_reference_on_limits);
    tcase_add_test(tc, free_handles_both_parsers);
    suite_add_tcase(s, tc);
    return s;
}

PBR_CHECK_MAIN(make_suite)
