/* test_publish.c -- the PUB socket (SPEC.md section 7): a subscriber sees
 * one `statement` message per issued statement, naming its contract,
 * quarter, total and the SHA-256 of the statement's bytes, and one
 * `reload` message per reload carrying the reload reply. The messages are
 * recorded for tests/validate-schemas.py (PBR_SCHEMA_OUT).
 */
#include "pbr/files.h"
#include "pbr/sha256.h"
#include "daemon_harness.h"
#include "settle_helpers.h"

/* Receives one [topic][body] message within timeout_ms: returns 1 and
 * malloc'd *topic, *body, or 0 on timeout. */
static int recv_message(void *sub, int timeout_ms, char **topic, char **body)
{
    zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) != 1)
        return 0;
    zmq_msg_t m;
    char *parts[2] = {NULL, NULL};
    int n = 0, more = 1;
    while (more) {
        zmq_msg_init(&m);
        ck_assert_int_ge(zmq_msg_recv(&m, sub, 0), 0);
        if (n < 2)
            parts[n] = strndup(zmq_msg_data(&m), zmq_msg_size(&m));
        n++;
        more = zmq_msg_more(&m);
        zmq_msg_close(&m);
    }
    ck_assert_int_eq(n, 2);
    *topic = parts[0];
    *body = parts[1];
    harness_record("publish", 2, json_string(*topic), *body);
    return 1;
}

/* A subscriber to everything on d's PUB socket, past the slow-joiner
 * window: a reload is published until one arrives (and discarded). */
static void *subscribe(daemon_t *d)
{
    void *sub = zmq_socket(d->ctx, ZMQ_SUB);
    ck_assert_ptr_nonnull(sub);
    int linger = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    ck_assert_int_eq(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0), 0);
    ck_assert_int_eq(zmq_connect(sub, d->publish), 0);
    for (int i = 0; i < 50; i++) {
        json_decref(api_call(d, "{\"op\":\"reload\"}"));
        char *topic, *body;
        if (recv_message(sub, 200, &topic, &body)) {
            free(topic);
            free(body);
            while (recv_message(sub, 100, &topic, &body)) { /* drain the other reloads */
                free(topic);
                free(body);
            }
            return sub;
        }
    }
    ck_abort_msg("no message on the PUB socket within 10 s");
    return NULL;
}

START_TEST(publish_statement_and_reload_messages)
{
    daemon_t d;
    daemon_prepare(&d, "auto_settle: false\n");
    snprintf(d.now, sizeof d.now, "2030-01-01");
    snprintf(d.contracts, sizeof d.contracts, "%s.contracts", d.dir);
    ck_assert_int_eq(mkdir(d.contracts, 0700), 0);
    char from[1024], to[1024], err[PBR_ERR_MAX];
    size_t len;
    char *text = pbr_read_file(spec_example(from, sizeof from, "example.yaml"), &len, err, sizeof err);
    ck_assert_msg(text != NULL, "%s", err);
    snprintf(to, sizeof to, "%s/example.yaml", d.contracts);
    ck_assert_int_eq(pbr_write_file_atomic(to, text, len, err, sizeof err), 0);
    free(text);
    daemon_start(&d);
    void *sub = subscribe(&d);

    char *events = pbr_read_file(spec_example(from, sizeof from, "example.jsonl"), NULL, err, sizeof err);
    ck_assert_msg(events != NULL, "%s", err);
    json_decref(ingest_batch(&d, events));
    free(events);
    json_t *settled = api_call(&d, "{\"op\":\"settle\",\"quarter\":\"2030-01-01\"}");
    json_t *issued = json_object_get(settled, "issued");
    ck_assert_uint_eq(json_array_size(issued), 12);
    /* one message per statement, in issue order, matching the settle reply and the stored bytes */
    for (size_t i = 0; i < 12; i++) {
        char *topic, *body;
        ck_assert_msg(recv_message(sub, 5000, &topic, &body), "statement message %zu missing", i);
        ck_assert_str_eq(topic, "statement");
        json_t *m = json_loads(body, 0, NULL), *want = json_array_get(issued, i);
        ck_assert_ptr_nonnull(m);
        ck_assert_str_eq(json_string_value(json_object_get(m, "contract")), "example");
        const char *quarter = json_string_value(json_object_get(m, "quarter"));
        ck_assert_str_eq(quarter, json_string_value(json_object_get(want, "quarter")));
        ck_assert_int_eq(geti(m, "total_pence"), geti(want, "total_pence"));
        char req[256], sha[65];
        snprintf(req, sizeof req, "{\"op\":\"statement\",\"contract\":\"example\",\"quarter\":\"%s\"}", quarter);
        char *st = request_d(&d, d.api, req, strlen(req), 30000);
        ck_assert_ptr_nonnull(st);
        pbr_sha256_hex(st, strlen(st), sha);
        ck_assert_str_eq(json_string_value(json_object_get(m, "sha256")), sha);
        free(st);
        json_decref(m);
        free(topic);
        free(body);
    }
    json_decref(settled);

    json_t *reload = api_call(&d, "{\"op\":\"reload\"}");
    char *topic, *body;
    ck_assert(recv_message(sub, 5000, &topic, &body));
    ck_assert_str_eq(topic, "reload");
    json_t *m = json_loads(body, 0, NULL);
    ck_assert_msg(json_equal(m, reload), "reload message %s differs from the reply", body);
    json_decref(m);
    json_decref(reload);
    free(topic);
    free(body);
    zmq_close(sub);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d.contracts);
    ck_assert_int_eq(system(cmd), 0);
    daemon_finish(&d);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("publish");
    TCase *tc = tcase_create("publish");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, publish_statement_and_reload_messages);
    suite_add_tcase(s, tc);
    return s;
}

PBR_CHECK_MAIN(make_suite)
