/* test_auth.c -- tests of pbrd's CURVE authentication (daemon/pbrd/auth.c):
 * the clients file (values and error positions counted by hand from the
 * YAML texts below), the role policy of SPEC.md section 7 (a table written
 * from the spec), the ZAP handler speaking RFC 27 frame by frame, and real
 * CURVE handshakes over tcp://127.0.0.1 on a free port: known keys get
 * their role through the User-Id property, unknown and plain clients get
 * nothing through, reloaded tables take effect, and every socket and thread
 * is gone before zmq_ctx_term (which must return).
 *
 * The daemon's sources are not in libpbr, so this program compiles auth.c
 * and log.c in directly.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "check_main.h"

#ifndef ZMQ_METADATA
#define ZMQ_METADATA 95 /* draft in 4.3's zmq.h; Debian's libzmq 4.3.4 accepts it */
#endif
#include "pbrd/auth.c"
#include "pbrd/log.c"

#include "daemon_harness.h"

/* ---- helpers ---------------------------------------------------------------- */

/* Parses text as a clients file named "clients.yaml". Returns the rc. */
static int parse(const char *text, pbrd_auth_clients **out, char *err, size_t errlen)
{
    return pbrd_auth_clients_parse(text, strlen(text), "clients.yaml", out, err, errlen);
}

/* Asserts that text fails to parse with exactly the message want. */
static void assert_parse_error(const char *text, const char *want)
{
    pbrd_auth_clients *c = (pbrd_auth_clients *)1;
    char err[512] = "";
    ck_assert_int_eq(parse(text, &c, err, sizeof err), -1);
    ck_assert_ptr_null(c);
    ck_assert_str_eq(err, want);
}

/* Writes text to a new temp file; path[64] receives its name. */
static void write_temp(const char *text, char *path)
{
    snprintf(path, 64, "/tmp/test_auth_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    ck_assert_int_eq(close(fd), 0);
}

/* ---- the clients file ------------------------------------------------------- */

START_TEST(test_clients_good_file)
{
    harness_keypair a = harness_keypair_new(), b = harness_keypair_new(), c = harness_keypair_new(),
                    d = harness_keypair_new();
    char text[1024], path[64], err[512] = "";
    snprintf(text, sizeof text,
             "# pbrd clients\n"
             "- key: \"%s\"\n"
             "  role: finance\n"
             "  name: MoJ finance desk\n"
             "- {key: '%s', role: operator}\n"
             "- role: provider:serco\n"
             "  key: \"%s\"\n"
             "- key: \"%s\"\n"
             "  role: ingest\n"
             "  name: court-feed\n",
             a.pub, b.pub, c.pub, d.pub);
    write_temp(text, path);
    pbrd_auth_clients *t = NULL;
    int rc = pbrd_auth_clients_load(path, &t, err, sizeof err);
    unlink(path);
    ck_assert_msg(rc == 0, "load failed: %s", err);
    ck_assert_uint_eq(t->n, 4);
    const char *pubs[4] = {a.pub, b.pub, c.pub, d.pub};
    const char *roles[4] = {"finance", "operator", "provider:serco", "ingest"};
    const char *names[4] = {"MoJ finance desk", "", "", "court-feed"};
    const size_t lines[4] = {2, 5, 6, 8};
    for (int i = 0; i < 4; i++) {
        uint8_t bin[32];
        ck_assert_ptr_nonnull(zmq_z85_decode(bin, pubs[i]));
        ck_assert_str_eq(t->v[i].key_z85, pubs[i]);
        ck_assert_mem_eq(t->v[i].key, bin, 32);
        ck_assert_str_eq(t->v[i].role, roles[i]);
        ck_assert_str_eq(t->v[i].name, names[i]);
        ck_assert_uint_eq(t->v[i].line, lines[i]);
        ck_assert_ptr_eq(pbrd_auth_clients_find(t, bin), &t->v[i]);
    }
    uint8_t other[32];
    ck_assert_ptr_nonnull(zmq_z85_decode(other, harness_keypair_new().pub));
    ck_assert_ptr_null(pbrd_auth_clients_find(t, other));
    pbrd_auth_clients_destroy(&t);
}
END_TEST

START_TEST(test_clients_empty_file)
{
    pbrd_auth_clients *t = NULL;
    char err[256] = "";
    ck_assert_int_eq(parse("", &t, err, sizeof err), 0);
    ck_assert_uint_eq(t->n, 0);
    pbrd_auth_clients_destroy(&t);
    ck_assert_int_eq(parse("# nobody yet\n", &t, err, sizeof err), 0);
    ck_assert_uint_eq(t->n, 0);
    pbrd_auth_clients_destroy(&t);
}
END_TEST

START_TEST(test_clients_errors)
{
    harness_keypair a = harness_keypair_new(), b = harness_keypair_new();
    char text[512], want[512];

    /* "- key: " is 7 columns, so a key value starts at column 8; "  role: " is
     * 8 columns, so a role value starts at column 9. */
    snprintf(text, sizeof text, "- key: \"%s\"\n  role: finance\n- key: \"%s\"\n  role: operator\n", a.pub, a.pub);
    assert_parse_error(text, "clients.yaml:3:8: duplicate key (already given at line 1)");

    assert_parse_error("- key: tooShort\n  role: finance\n",
                       "clients.yaml:1:8: key is not a Z85 CURVE public key (40 characters of the Z85 alphabet; "
                       "zmq_z85_decode failed)");

    char bad[41];
    memcpy(bad, b.pub, 41);
    bad[20] = '~'; /* not in the Z85 alphabet */
    snprintf(text, sizeof text, "- role: finance\n  key: \"%s\"\n", bad);
    assert_parse_error(text,
                       "clients.yaml:2:8: key is not a Z85 CURVE public key (40 characters of the Z85 "
                       "alphabet; zmq_z85_decode failed)");

    snprintf(text, sizeof text, "- key: \"%s\"\n  role: admin\n", a.pub);
    assert_parse_error(text,
                       "clients.yaml:2:9: unknown role \"admin\" (expected finance, operator, ingest or "
                       "provider:NAME)");

    snprintf(text, sizeof text, "- key: \"%s\"\n  role: \"provider:\"\n", a.pub);
    assert_parse_error(text,
                       "clients.yaml:2:9: unknown role \"provider:\" (expected finance, operator, ingest "
                       "or provider:NAME)");

    snprintf(text, sizeof text, "- key: \"%s\"\n  role: \"provider:two words\"\n", a.pub);
    assert_parse_error(text,
                       "clients.yaml:2:9: unknown role \"provider:two words\" (expected finance, operator, "
                       "ingest or provider:NAME)");

    snprintf(text, sizeof text, "- key: \"%s\"\n  rule: finance\n", a.pub);
    assert_parse_error(text, "clients.yaml:2:3: unknown field \"rule\" (expected key, role, name)");

    snprintf(text, sizeof text, "- key: \"%s\"\n  role: finance\n  role: operator\n", a.pub);
    assert_parse_error(text, "clients.yaml:3:3: field \"role\" given twice");

    snprintf(text, sizeof text, "- key: \"%s\"\n  name: x\n", a.pub);
    assert_parse_error(text, "clients.yaml:1:3: client has no \"role\"");

    assert_parse_error("- role: finance\n", "clients.yaml:1:3: client has no \"key\"");

    snprintf(text, sizeof text, "key: \"%s\"\nrole: finance\n", a.pub);
    assert_parse_error(text, "clients.yaml:1:1: the clients file must be a list of {key, role, name} mappings");

    assert_parse_error("- just a string\n", "clients.yaml:1:3: each client must be a mapping {key, role, name}");

    /* The third line's "[" opens a flow sequence that never closes. */
    snprintf(text, sizeof text, "- key: \"%s\"\n  role: finance\n  name: [x\n", a.pub);
    pbrd_auth_clients *t = NULL;
    char err[512] = "";
    ck_assert_int_eq(parse(text, &t, err, sizeof err), -1);
    ck_assert_ptr_null(t);
    ck_assert_msg(!strncmp(err, "clients.yaml:", 13), "syntax error without position: %s", err);

    /* Z85 uses YAML indicators ({ [ : & * ! ...): unquoted keys can break the
     * YAML, which must be an error with a hint, never a different key. */
    char brace[41], colon[41];
    memcpy(brace, b.pub, 41), brace[0] = '{';
    memcpy(colon, b.pub, 41), colon[39] = ':';
    const char *unquoted[] = {brace, colon};
    for (int i = 0; i < 2; i++) {
        snprintf(text, sizeof text, "- key: %s\n  role: finance\n", unquoted[i]);
        t = NULL;
        ck_assert_int_eq(parse(text, &t, err, sizeof err), -1);
        ck_assert_ptr_null(t);
        ck_assert_msg(!strncmp(err, "clients.yaml:", 13) && strstr(err, "write keys in quotes") != NULL,
                      "unquoted key %s: %s", unquoted[i], err);
        snprintf(text, sizeof text, "- key: \"%s\"\n  role: finance\n", unquoted[i]);
        ck_assert_msg(parse(text, &t, err, sizeof err) == 0, "quoted key %s: %s", unquoted[i], err);
        ck_assert_str_eq(t->v[0].key_z85, unquoted[i]);
        pbrd_auth_clients_destroy(&t);
    }

    /* The first error wins; a later valid entry does not mask it. */
    snprintf(want, sizeof want, "- key: \"%s\"\n  role: boss\n- key: \"%s\"\n  role: finance\n", a.pub, b.pub);
    assert_parse_error(want,
                       "clients.yaml:2:9: unknown role \"boss\" (expected finance, operator, ingest or "
                       "provider:NAME)");
}
END_TEST

START_TEST(test_clients_missing_file)
{
    pbrd_auth_clients *t = (pbrd_auth_clients *)1;
    char err[512] = "";
    ck_assert_int_eq(pbrd_auth_clients_load("/nonexistent/pbrd/clients.yaml", &t, err, sizeof err), -1);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(err, "/nonexistent/pbrd/clients.yaml") != NULL, "error does not name the file: %s", err);
}
END_TEST

/* ---- the policy --------------------------------------------------------------- */

/* SPEC.md section 7, written out: for each role and op, whether it is
 * allowed about a contract of serco, of sodexo, and with no contract (NULL). */
static const struct {
    const char *role, *op;
    int serco, sodexo, none;
} policy[] = {
    /* finance: everything */
    {"finance", "status", 1, 1, 1},
    {"finance", "contracts", 1, 1, 1},
    {"finance", "statement", 1, 1, 1},
    {"finance", "cohorts", 1, 1, 1},
    {"finance", "settle", 1, 1, 1},
    {"finance", "reload", 1, 1, 1},
    {"finance", "quarantine", 1, 1, 1},
    {"finance", "quarantine_purge", 1, 1, 1},
    {"finance", "verify", 1, 1, 1},
    {"finance", "backup", 1, 1, 1},
    {"finance", "statements", 1, 1, 1},
    {"finance", "explain", 1, 1, 1},
    /* operator: reload, quarantine, read all; not settle */
    {"operator", "status", 1, 1, 1},
    {"operator", "contracts", 1, 1, 1},
    {"operator", "statement", 1, 1, 1},
    {"operator", "cohorts", 1, 1, 1},
    {"operator", "settle", 0, 0, 0},
    {"operator", "reload", 1, 1, 1},
    {"operator", "quarantine", 1, 1, 1},
    {"operator", "quarantine_purge", 1, 1, 1},
    {"operator", "verify", 1, 1, 1},
    {"operator", "backup", 1, 1, 1},
    {"operator", "statements", 1, 1, 1},
    {"operator", "explain", 1, 1, 1},
    /* provider:serco: its own contracts only */
    {"provider:serco", "status", 1, 1, 1},
    {"provider:serco", "contracts", 1, 1, 1},
    {"provider:serco", "statement", 1, 0, 0},
    {"provider:serco", "cohorts", 1, 0, 0},
    {"provider:serco", "settle", 0, 0, 0},
    {"provider:serco", "reload", 0, 0, 0},
    {"provider:serco", "quarantine", 0, 0, 0},
    {"provider:serco", "quarantine_purge", 0, 0, 0},
    {"provider:serco", "verify", 0, 0, 0},
    {"provider:serco", "backup", 0, 0, 0},
    {"provider:serco", "statements", 1, 0, 0},
    {"provider:serco", "explain", 1, 0, 0},
    /* ingest feeds: no API op */
    {"ingest", "status", 0, 0, 0},
    {"ingest", "contracts", 0, 0, 0},
    {"ingest", "statement", 0, 0, 0},
    {"ingest", "cohorts", 0, 0, 0},
    {"ingest", "settle", 0, 0, 0},
    {"ingest", "reload", 0, 0, 0},
    {"ingest", "quarantine", 0, 0, 0},
    {"ingest", "quarantine_purge", 0, 0, 0},
    {"ingest", "verify", 0, 0, 0},
    {"ingest", "backup", 0, 0, 0},
    {"ingest", "statements", 0, 0, 0},
    {"ingest", "explain", 0, 0, 0},
};

START_TEST(test_policy_table)
{
    for (size_t i = 0; i < sizeof policy / sizeof policy[0]; i++) {
        ck_assert_msg(pbrd_role_allows(policy[i].role, policy[i].op, "serco") == policy[i].serco, "%s %s serco",
                      policy[i].role, policy[i].op);
        ck_assert_msg(pbrd_role_allows(policy[i].role, policy[i].op, "sodexo") == policy[i].sodexo, "%s %s sodexo",
                      policy[i].role, policy[i].op);
        ck_assert_msg(pbrd_role_allows(policy[i].role, policy[i].op, NULL) == policy[i].none, "%s %s none",
                      policy[i].role, policy[i].op);
    }
}
END_TEST

START_TEST(test_policy_edges)
{
    const char *ops[] = {"status", "contracts",  "statement",        "cohorts", "settle",
                         "reload", "quarantine", "quarantine_purge", "verify",  "backup"};
    const char *bad_roles[] = {NULL, "", "admin", "Finance", "provider:", "provider", "provider:a b", "finance "};
    for (size_t r = 0; r < sizeof bad_roles / sizeof bad_roles[0]; r++)
        for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
            ck_assert_msg(pbrd_role_allows(bad_roles[r], ops[o], "serco") == 0, "role \"%s\" op %s",
                          bad_roles[r] ? bad_roles[r] : "(null)", ops[o]);
    /* An op outside section 7: only finance ("everything") passes it on. */
    ck_assert_int_eq(pbrd_role_allows("finance", "shutdown", NULL), 1);
    ck_assert_int_eq(pbrd_role_allows("operator", "shutdown", NULL), 0);
    ck_assert_int_eq(pbrd_role_allows("provider:serco", "shutdown", "serco"), 0);
    ck_assert_int_eq(pbrd_role_allows("finance", NULL, NULL), 0);
    /* A provider name that is a prefix of another is a different provider. */
    ck_assert_int_eq(pbrd_role_allows("provider:ser", "statement", "serco"), 0);
    ck_assert_int_eq(pbrd_role_allows("provider:serco", "statement", "ser"), 0);

    ck_assert_int_eq(pbrd_role_can_see_contract("finance", "serco"), 1);
    ck_assert_int_eq(pbrd_role_can_see_contract("operator", "serco"), 1);
    ck_assert_int_eq(pbrd_role_can_see_contract("provider:serco", "serco"), 1);
    ck_assert_int_eq(pbrd_role_can_see_contract("provider:serco", "sodexo"), 0);
    ck_assert_int_eq(pbrd_role_can_see_contract("provider:serco", NULL), 0);
    ck_assert_int_eq(pbrd_role_can_see_contract("ingest", "serco"), 0);
    ck_assert_int_eq(pbrd_role_can_see_contract(NULL, "serco"), 0);

    ck_assert_int_eq(pbrd_role_may_ingest("finance"), 1);
    ck_assert_int_eq(pbrd_role_may_ingest("ingest"), 1);
    ck_assert_int_eq(pbrd_role_may_ingest("operator"), 0);
    ck_assert_int_eq(pbrd_role_may_ingest("provider:serco"), 0);
    ck_assert_int_eq(pbrd_role_may_ingest(NULL), 0);
}
END_TEST

/* ---- the ZAP handler, frame by frame (RFC 27) ------------------------------------ */

/* Sends the frames of a ZAP request (n frames, sizes given). */
static void send_frames(void *s, const char *const *frames, const size_t *sizes, int n)
{
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(zmq_send(s, frames[i], sizes[i], i + 1 < n ? ZMQ_SNDMORE : 0), (int)sizes[i]);
}

/* Receives one reply; frames into f[8] (each NUL-terminated, sizes in len).
 * Returns the number of frames. */
static int recv_frames(void *s, char f[8][256], size_t len[8])
{
    int n = 0, more = 1;
    while (more) {
        ck_assert_int_lt(n, 8);
        int r = zmq_recv(s, f[n], 255, 0);
        ck_assert_int_ge(r, 0);
        len[n] = (size_t)r;
        f[n][r < 255 ? r : 255] = '\0';
        int m = 0;
        size_t ml = sizeof m;
        ck_assert_int_eq(zmq_getsockopt(s, ZMQ_RCVMORE, &m, &ml), 0);
        more = m;
        n++;
    }
    return n;
}

START_TEST(test_zap_protocol)
{
    harness_keypair a = harness_keypair_new(), u = harness_keypair_new();
    char text[256], err[512] = "";
    snprintf(text, sizeof text, "- key: \"%s\"\n  role: provider:serco\n  name: Serco CRC\n", a.pub);
    pbrd_auth_clients *t = NULL;
    ck_assert_int_eq(parse(text, &t, err, sizeof err), 0);
    void *ctx = zmq_ctx_new();
    ck_assert_ptr_nonnull(ctx);
    pbrd_auth *auth = NULL;
    ck_assert_msg(pbrd_auth_start(ctx, t, &auth, err, sizeof err) == 0, "start: %s", err);
    ck_assert_uint_eq(pbrd_auth_nclients(auth), 1);

    void *req = zmq_socket(ctx, ZMQ_REQ);
    ck_assert_ptr_nonnull(req);
    int linger = 0, tmo = 2000;
    zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(req, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    ck_assert_int_eq(zmq_connect(req, "inproc://zeromq.zap.01"), 0);

    uint8_t key[32], ukey[32];
    ck_assert_ptr_nonnull(zmq_z85_decode(key, a.pub));
    ck_assert_ptr_nonnull(zmq_z85_decode(ukey, u.pub));
    char f[8][256];
    size_t len[8];

    /* A known key: 200, User-Id = role, metadata X-Client-Key and X-Client-Name. */
    const char *known[] = {"1.0", "req-7", "", "192.0.2.1", "", "CURVE", (const char *)key};
    const size_t known_sz[] = {3, 5, 0, 9, 0, 5, 32};
    send_frames(req, known, known_sz, 7);
    ck_assert_int_eq(recv_frames(req, f, len), 6);
    ck_assert_str_eq(f[0], "1.0");
    ck_assert_str_eq(f[1], "req-7");
    ck_assert_str_eq(f[2], "200");
    ck_assert_str_eq(f[4], "provider:serco");
    /* ZMTP metadata: name length byte, name, 4-byte big-endian value length, value. */
    uint8_t want[256];
    size_t w = 0;
    want[w++] = 12, memcpy(want + w, "X-Client-Key", 12), w += 12;
    want[w++] = 0, want[w++] = 0, want[w++] = 0, want[w++] = 40, memcpy(want + w, a.pub, 40), w += 40;
    want[w++] = 13, memcpy(want + w, "X-Client-Name", 13), w += 13;
    want[w++] = 0, want[w++] = 0, want[w++] = 0, want[w++] = 9, memcpy(want + w, "Serco CRC", 9), w += 9;
    ck_assert_uint_eq(len[5], w);
    ck_assert_mem_eq(f[5], want, w);

    /* An unknown key: 400, no user id. */
    const char *unknown[] = {"1.0", "req-8", "", "192.0.2.1", "", "CURVE", (const char *)ukey};
    send_frames(req, unknown, known_sz, 7);
    ck_assert_int_eq(recv_frames(req, f, len), 6);
    ck_assert_str_eq(f[1], "req-8");
    ck_assert_str_eq(f[2], "400");
    ck_assert_uint_eq(len[4], 0);

    /* Other mechanisms are refused even without credentials. */
    const char *plain[] = {"1.0", "req-9", "", "192.0.2.1", "", "NULL"};
    const size_t plain_sz[] = {3, 5, 0, 9, 0, 4};
    send_frames(req, plain, plain_sz, 6);
    ck_assert_int_eq(recv_frames(req, f, len), 6);
    ck_assert_str_eq(f[2], "400");

    /* On the ingest domain a provider key is refused, a finance key is not
     * (the same key a is provider:serco; the table is swapped in between). */
    const char *ingest_req[] = {"1.0", "req-11", "ingest", "192.0.2.1", "", "CURVE", (const char *)key};
    const size_t ingest_sz[] = {3, 6, 6, 9, 0, 5, 32};
    send_frames(req, ingest_req, ingest_sz, 7);
    ck_assert_int_eq(recv_frames(req, f, len), 6);
    ck_assert_str_eq(f[1], "req-11");
    ck_assert_str_eq(f[2], "400");
    ck_assert_uint_eq(len[4], 0);
    pbrd_auth_clients *tf = NULL;
    snprintf(text, sizeof text, "- key: \"%s\"\n  role: finance\n", a.pub);
    ck_assert_int_eq(parse(text, &tf, err, sizeof err), 0);
    pbrd_auth_reload(auth, tf);
    send_frames(req, ingest_req, ingest_sz, 7);
    ck_assert_int_eq(recv_frames(req, f, len), 6);
    ck_assert_str_eq(f[2], "200");
    ck_assert_str_eq(f[4], "finance");

    /* A version the handler does not speak: 500. */
    const char *v2[] = {"2.0", "req-10", "", "192.0.2.1", "", "CURVE", (const char *)key};
    const size_t v2_sz[] = {3, 6, 0, 9, 0, 5, 32};
    send_frames(req, v2, v2_sz, 7);
    ck_assert_int_eq(recv_frames(req, f, len), 6);
    ck_assert_str_eq(f[1], "req-10");
    ck_assert_str_eq(f[2], "500");

    /* A second handler on the same context cannot bind and leaves nothing open. */
    pbrd_auth_clients *t2 = NULL;
    ck_assert_int_eq(parse("", &t2, err, sizeof err), 0);
    pbrd_auth *auth2 = (pbrd_auth *)1;
    ck_assert_int_eq(pbrd_auth_start(ctx, t2, &auth2, err, sizeof err), -1);
    ck_assert_ptr_null(auth2);
    ck_assert_msg(strstr(err, "zmq_bind(inproc://zeromq.zap.01)") != NULL, "err: %s", err);

    ck_assert_int_eq(zmq_close(req), 0);
    pbrd_auth_stop(auth);
    ck_assert_int_eq(zmq_ctx_term(ctx), 0);
}
END_TEST

/* ---- real CURVE handshakes over TCP ------------------------------------------------ */

typedef struct server {
    void *ctx;
    void *router;
    void *mon; /* PAIR reading the router's monitor events */
    char endpoint[64];
    harness_keypair key;
    pbrd_auth *auth;
} server;

/* Starts the ZAP handler with the clients text, then a CURVE ROUTER on a
 * free loopback port with a monitor for handshake events. */
static void server_start(server *s, const char *clients_text)
{
    char err[512] = "";
    memset(s, 0, sizeof *s);
    s->key = harness_keypair_new();
    s->ctx = zmq_ctx_new();
    ck_assert_ptr_nonnull(s->ctx);
    pbrd_auth_clients *t = NULL;
    ck_assert_msg(parse(clients_text, &t, err, sizeof err) == 0, "parse: %s", err);
    ck_assert_msg(pbrd_auth_start(s->ctx, t, &s->auth, err, sizeof err) == 0, "start: %s", err);
    s->router = zmq_socket(s->ctx, ZMQ_ROUTER);
    ck_assert_ptr_nonnull(s->router);
    int one = 1, linger = 0;
    ck_assert_int_eq(zmq_setsockopt(s->router, ZMQ_LINGER, &linger, sizeof linger), 0);
    ck_assert_int_eq(zmq_setsockopt(s->router, ZMQ_CURVE_SERVER, &one, sizeof one), 0);
    ck_assert_int_eq(zmq_setsockopt(s->router, ZMQ_CURVE_SECRETKEY, s->key.sec, 40), 0);
    ck_assert_int_eq(zmq_socket_monitor(s->router, "inproc://test-auth-monitor",
                                        ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                                            ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL),
                     0);
    s->mon = zmq_socket(s->ctx, ZMQ_PAIR);
    ck_assert_ptr_nonnull(s->mon);
    ck_assert_int_eq(zmq_setsockopt(s->mon, ZMQ_LINGER, &linger, sizeof linger), 0);
    ck_assert_int_eq(zmq_connect(s->mon, "inproc://test-auth-monitor"), 0);
    ck_assert_int_eq(zmq_bind(s->router, "tcp://127.0.0.1:*"), 0);
    size_t n = sizeof s->endpoint;
    ck_assert_int_eq(zmq_getsockopt(s->router, ZMQ_LAST_ENDPOINT, s->endpoint, &n), 0);
}

/* Closes the router first (the handler must outlive it), then the handler,
 * and asserts that the context terminates. */
static void server_stop(server *s)
{
    ck_assert_int_eq(zmq_socket_monitor(s->router, NULL, 0), 0);
    ck_assert_int_eq(zmq_close(s->mon), 0);
    ck_assert_int_eq(zmq_close(s->router), 0);
    pbrd_auth_stop(s->auth);
    ck_assert_int_eq(zmq_ctx_term(s->ctx), 0);
}

/* Waits up to ms for a monitor event in mask. Returns the event (its value
 * in *value) or 0 on timeout. */
static int wait_event(server *s, int mask, int ms, uint32_t *value)
{
    zmq_pollitem_t it = {s->mon, 0, ZMQ_POLLIN, 0};
    while (zmq_poll(&it, 1, ms) == 1) {
        uint8_t head[6];
        char addr[256];
        ck_assert_int_eq(zmq_recv(s->mon, head, sizeof head, 0), 6);
        ck_assert_int_ge(zmq_recv(s->mon, addr, sizeof addr, 0), 0);
        uint16_t ev;
        uint32_t val;
        memcpy(&ev, head, 2);
        memcpy(&val, head + 2, 4);
        if (ev & mask) {
            if (value)
                *value = val;
            return ev;
        }
    }
    return 0;
}

/* A DEALER client; with key != NULL a CURVE client of the server. */
static void *client_open(server *s, const harness_keypair *key)
{
    harness_keys k = {s->key.pub, key ? key->pub : NULL, key ? key->sec : NULL};
    return harness_dealer_keys(s->ctx, s->endpoint, key ? &k : NULL);
}

/* Sends [empty][body] from a DEALER (the REQ envelope). */
static void client_send(void *c, const char *body)
{
    ck_assert_int_eq(zmq_send(c, "", 0, ZMQ_SNDMORE), 0);
    ck_assert_int_eq(zmq_send(c, body, strlen(body), 0), (int)strlen(body));
}

/* Waits up to ms for a reply [empty][body] on a DEALER. Returns 1 with the
 * body in out[n], or 0. */
static int client_recv(void *c, int ms, char *out, size_t n)
{
    zmq_pollitem_t it = {c, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, ms) != 1)
        return 0;
    ck_assert_int_eq(zmq_recv(c, out, n - 1, 0), 0);
    int r = zmq_recv(c, out, n - 1, 0);
    ck_assert_int_ge(r, 0);
    out[r] = '\0';
    return 1;
}

/* What the server saw of one request. */
typedef struct seen {
    char body[256];
    char role[PBRD_ROLE_MAX];      /* pbrd_auth_role_of, "" when absent */
    char peer_role[PBRD_ROLE_MAX]; /* pbrd_auth_peer_role, "" when refused */
    char name[PBRD_CLIENT_NAME_MAX];
} seen;

/* Waits up to ms for [ident][empty][body] on the router, reads the
 * properties of the body frame and replies [ident][empty]["ok:"+role].
 * Returns 1 (filled *out) or 0 on timeout. */
static int server_serve(server *s, int ms, seen *out)
{
    zmq_pollitem_t it = {s->router, 0, ZMQ_POLLIN, 0};
    memset(out, 0, sizeof *out);
    if (zmq_poll(&it, 1, ms) != 1)
        return 0;
    zmq_msg_t ident, empty, body;
    zmq_msg_init(&ident), zmq_msg_init(&empty), zmq_msg_init(&body);
    ck_assert_int_ge(zmq_msg_recv(&ident, s->router, 0), 0);
    ck_assert_int_eq(zmq_msg_recv(&empty, s->router, 0), 0);
    ck_assert_int_ge(zmq_msg_recv(&body, s->router, 0), 0);
    ck_assert_int_eq(zmq_msg_more(&body), 0);
    snprintf(out->body, sizeof out->body, "%.*s", (int)zmq_msg_size(&body), (const char *)zmq_msg_data(&body));
    if (pbrd_auth_role_of(&body, out->role, sizeof out->role) < 0)
        out->role[0] = '\0';
    if (pbrd_auth_peer_role(s->auth, &body, out->peer_role, sizeof out->peer_role) < 0)
        out->peer_role[0] = '\0';
    const char *name = zmq_msg_gets(&body, "X-Client-Name");
    snprintf(out->name, sizeof out->name, "%s", name ? name : "");
    char reply[128];
    snprintf(reply, sizeof reply, "ok:%s", out->role);
    ck_assert_int_ge(zmq_msg_send(&ident, s->router, ZMQ_SNDMORE), 0);
    ck_assert_int_eq(zmq_send(s->router, "", 0, ZMQ_SNDMORE), 0);
    ck_assert_int_ge(zmq_send(s->router, reply, strlen(reply), 0), 0);
    zmq_msg_close(&empty), zmq_msg_close(&body);
    return 1;
}

START_TEST(test_curve_known_keys_get_their_roles)
{
    harness_keypair fin = harness_keypair_new(), prov = harness_keypair_new();
    char text[512];
    snprintf(text, sizeof text,
             "- key: \"%s\"\n  role: finance\n  name: finance desk\n"
             "- key: \"%s\"\n  role: provider:serco\n",
             fin.pub, prov.pub);
    server s;
    server_start(&s, text);

    void *c1 = client_open(&s, &fin);
    client_send(c1, "{\"op\":\"status\"}");
    seen got;
    ck_assert_int_eq(server_serve(&s, 3000, &got), 1);
    ck_assert_str_eq(got.body, "{\"op\":\"status\"}");
    ck_assert_str_eq(got.role, "finance");
    ck_assert_str_eq(got.peer_role, "finance");
    ck_assert_str_eq(got.name, "finance desk");
    char reply[256];
    ck_assert_int_eq(client_recv(c1, 3000, reply, sizeof reply), 1);
    ck_assert_str_eq(reply, "ok:finance");

    void *c2 = client_open(&s, &prov);
    client_send(c2, "{\"op\":\"contracts\"}");
    ck_assert_int_eq(server_serve(&s, 3000, &got), 1);
    ck_assert_str_eq(got.role, "provider:serco");
    ck_assert_str_eq(got.peer_role, "provider:serco");
    ck_assert_str_eq(got.name, prov.pub); /* no name: the key stands in */
    ck_assert_int_eq(client_recv(c2, 3000, reply, sizeof reply), 1);
    ck_assert_str_eq(reply, "ok:provider:serco");

    /* Without auth, the caller's contract is loopback finance. */
    zmq_msg_t m;
    zmq_msg_init(&m);
    char role[PBRD_ROLE_MAX];
    ck_assert_int_eq(pbrd_auth_role_of(&m, role, sizeof role), -1);
    ck_assert_int_eq(pbrd_auth_peer_role(NULL, &m, role, sizeof role), 0);
    ck_assert_str_eq(role, "finance");
    ck_assert_int_eq(pbrd_auth_peer_role(s.auth, &m, role, sizeof role), -1);
    zmq_msg_close(&m);

    ck_assert_int_eq(zmq_close(c1), 0);
    ck_assert_int_eq(zmq_close(c2), 0);
    server_stop(&s);
}
END_TEST

/* A client cannot claim another key's identity through its own ZMTP
 * metadata: the properties from the ZAP reply are the ones messages carry. */
START_TEST(test_curve_client_metadata_cannot_forge_identity)
{
    harness_keypair fin = harness_keypair_new(), prov = harness_keypair_new();
    char text[512];
    snprintf(text, sizeof text, "- key: \"%s\"\n  role: finance\n- key: \"%s\"\n  role: provider:serco\n", fin.pub,
             prov.pub);
    server s;
    server_start(&s, text);
    void *c = zmq_socket(s.ctx, ZMQ_DEALER);
    ck_assert_ptr_nonnull(c);
    int linger = 0;
    ck_assert_int_eq(zmq_setsockopt(c, ZMQ_LINGER, &linger, sizeof linger), 0);
    char forged[80];
    snprintf(forged, sizeof forged, "X-Client-Key:%s", fin.pub);
    ck_assert_int_eq(zmq_setsockopt(c, ZMQ_METADATA, forged, strlen(forged)), 0);
    ck_assert_int_eq(zmq_setsockopt(c, ZMQ_METADATA, "X-Client-Name:finance", 21), 0);
    ck_assert_int_eq(zmq_setsockopt(c, ZMQ_CURVE_SERVERKEY, s.key.pub, 40), 0);
    ck_assert_int_eq(zmq_setsockopt(c, ZMQ_CURVE_PUBLICKEY, prov.pub, 40), 0);
    ck_assert_int_eq(zmq_setsockopt(c, ZMQ_CURVE_SECRETKEY, prov.sec, 40), 0);
    ck_assert_int_eq(zmq_connect(c, s.endpoint), 0);
    client_send(c, "{\"op\":\"settle\"}");
    seen got;
    ck_assert_int_eq(server_serve(&s, 3000, &got), 1);
    ck_assert_str_eq(got.role, "provider:serco");
    ck_assert_str_eq(got.peer_role, "provider:serco");
    ck_assert_str_eq(got.name, prov.pub);
    ck_assert_int_eq(zmq_close(c), 0);
    server_stop(&s);
}
END_TEST

START_TEST(test_curve_unknown_key_refused_and_logged)
{
    harness_keypair fin = harness_keypair_new(), stranger = harness_keypair_new();
    char text[256];
    snprintf(text, sizeof text, "- key: \"%s\"\n  role: finance\n", fin.pub);
    server s;
    server_start(&s, text);

    /* Capture stderr (the refusal log) in a temp file. */
    char logpath[64];
    write_temp("", logpath);
    int saved = dup(STDERR_FILENO);
    int fd = open(logpath, O_WRONLY | O_APPEND);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
    close(fd);

    void *c = client_open(&s, &stranger);
    client_send(c, "{\"op\":\"settle\",\"quarter\":\"2026-03-31\"}");
    uint32_t status = 0;
    int ev = wait_event(&s, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED, 3000, &status);
    seen got;
    int received = server_serve(&s, 500, &got);
    char reply[256];
    int replied = client_recv(c, 200, reply, sizeof reply);

    ck_assert_int_ge(dup2(saved, STDERR_FILENO), 0);
    close(saved);
    size_t loglen = 0;
    char err[256];
    char *log = pbr_read_file(logpath, &loglen, err, sizeof err);
    unlink(logpath);
    ck_assert_ptr_nonnull(log);

    ck_assert_int_eq(ev, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    ck_assert_uint_eq(status, 400);
    ck_assert_int_eq(received, 0);
    ck_assert_int_eq(replied, 0);
    char want[256];
    snprintf(want, sizeof want, "level=warn msg=\"curve handshake refused\" key=\"%s\" address=\"127.0.0.1\"",
             stranger.pub);
    ck_assert_msg(strstr(log, want) != NULL, "log lacks [%s]: %s", want, log);
    /* The client retries every 100 ms; repeats within 10 s are not logged. */
    ck_assert_msg(strstr(strstr(log, want) + 1, want) == NULL, "refusal logged twice: %s", log);
    free(log);

    ck_assert_int_eq(zmq_close(c), 0);
    server_stop(&s);
}
END_TEST

START_TEST(test_curve_plain_client_gets_nothing_through)
{
    harness_keypair fin = harness_keypair_new();
    char text[256];
    snprintf(text, sizeof text, "- key: \"%s\"\n  role: finance\n", fin.pub);
    server s;
    server_start(&s, text);
    void *c = client_open(&s, NULL);
    client_send(c, "{\"op\":\"status\"}");
    seen got;
    ck_assert_int_eq(server_serve(&s, 500, &got), 0);
    char reply[256];
    ck_assert_int_eq(client_recv(c, 200, reply, sizeof reply), 0);
    ck_assert_int_eq(wait_event(&s, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, 0, NULL), 0);
    ck_assert_int_eq(zmq_close(c), 0);
    server_stop(&s);
}
END_TEST

START_TEST(test_curve_reload_adds_and_removes_keys)
{
    harness_keypair a = harness_keypair_new(), b = harness_keypair_new(), c = harness_keypair_new();
    char text[512], err[512];
    snprintf(text, sizeof text, "- key: \"%s\"\n  role: finance\n- key: \"%s\"\n  role: provider:serco\n", a.pub,
             b.pub);
    server s;
    server_start(&s, text);
    uint32_t status = 0;
    seen got;
    char reply[256];

    /* c is not known yet. */
    void *c_before = client_open(&s, &c);
    client_send(c_before, "{\"op\":\"status\"}");
    ck_assert_int_eq(wait_event(&s, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED, 3000, &status),
                     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    ck_assert_uint_eq(status, 400);
    ck_assert_int_eq(server_serve(&s, 300, &got), 0);
    ck_assert_int_eq(zmq_close(c_before), 0);

    /* a connects and stays connected across the reload. */
    void *a_old = client_open(&s, &a);
    client_send(a_old, "1");
    ck_assert_int_eq(server_serve(&s, 3000, &got), 1);
    ck_assert_str_eq(got.peer_role, "finance");
    ck_assert_int_eq(client_recv(a_old, 3000, reply, sizeof reply), 1);

    /* Rotate: a out, c in as operator, b unchanged. */
    char path[64];
    snprintf(text, sizeof text, "- key: \"%s\"\n  role: provider:serco\n- key: \"%s\"\n  role: operator\n", b.pub,
             c.pub);
    write_temp(text, path);
    int rc = pbrd_auth_reload_file(s.auth, path, err, sizeof err);
    unlink(path);
    ck_assert_msg(rc == 0, "reload: %s", err);
    ck_assert_uint_eq(pbrd_auth_nclients(s.auth), 2);
    /* A broken file keeps the table in force. */
    ck_assert_int_eq(pbrd_auth_reload_file(s.auth, "/nonexistent/clients.yaml", err, sizeof err), -1);
    ck_assert_uint_eq(pbrd_auth_nclients(s.auth), 2);

    void *c_after = client_open(&s, &c);
    client_send(c_after, "2");
    ck_assert_int_eq(server_serve(&s, 3000, &got), 1);
    ck_assert_str_eq(got.body, "2");
    ck_assert_str_eq(got.role, "operator");
    ck_assert_str_eq(got.peer_role, "operator");
    ck_assert_int_eq(client_recv(c_after, 3000, reply, sizeof reply), 1);
    ck_assert_str_eq(reply, "ok:operator");

    /* a's old connection still carries the handshake's User-Id, but its key
     * is no longer in the table, so pbrd_auth_peer_role refuses it. */
    client_send(a_old, "3");
    ck_assert_int_eq(server_serve(&s, 3000, &got), 1);
    ck_assert_str_eq(got.body, "3");
    ck_assert_str_eq(got.role, "finance");
    ck_assert_str_eq(got.peer_role, "");

    /* A new connection with a's key is refused at the handshake. */
    while (wait_event(&s, 0xffff, 0, NULL))
        ; /* drain earlier events */
    void *a_new = client_open(&s, &a);
    client_send(a_new, "4");
    ck_assert_int_eq(wait_event(&s, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED, 3000, &status),
                     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    ck_assert_uint_eq(status, 400);
    ck_assert_int_eq(server_serve(&s, 300, &got), 0);
    ck_assert_int_eq(client_recv(a_new, 100, reply, sizeof reply), 0);

    /* pbrd_auth_reload with an in-memory table brings a back. */
    pbrd_auth_clients *t = NULL;
    snprintf(text, sizeof text, "- key: \"%s\"\n  role: finance\n", a.pub);
    ck_assert_int_eq(parse(text, &t, err, sizeof err), 0);
    pbrd_auth_reload(s.auth, t);
    ck_assert_uint_eq(pbrd_auth_nclients(s.auth), 1);
    void *a_back = client_open(&s, &a);
    client_send(a_back, "5");
    ck_assert_int_eq(server_serve(&s, 3000, &got), 1);
    ck_assert_str_eq(got.body, "5");
    ck_assert_str_eq(got.peer_role, "finance");

    ck_assert_int_eq(zmq_close(a_old), 0);
    ck_assert_int_eq(zmq_close(c_after), 0);
    ck_assert_int_eq(zmq_close(a_new), 0);
    ck_assert_int_eq(zmq_close(a_back), 0);
    server_stop(&s);
}
END_TEST

START_TEST(test_stop_without_traffic)
{
    void *ctx = zmq_ctx_new();
    ck_assert_ptr_nonnull(ctx);
    for (int i = 0; i < 10; i++) { /* start/stop repeatedly: the endpoint is freed each time */
        pbrd_auth_clients *t = NULL;
        char err[256] = "";
        ck_assert_int_eq(parse("", &t, err, sizeof err), 0);
        pbrd_auth *auth = NULL;
        ck_assert_msg(pbrd_auth_start(ctx, t, &auth, err, sizeof err) == 0, "start %d: %s", i, err);
        pbrd_auth_stop(auth);
    }
    pbrd_auth_stop(NULL);
    ck_assert_int_eq(zmq_ctx_term(ctx), 0);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("auth");
    TCase *file = tcase_create("clients file");
    tcase_add_test(file, test_clients_good_file);
    tcase_add_test(file, test_clients_empty_file);
    tcase_add_test(file, test_clients_errors);
    tcase_add_test(file, test_clients_missing_file);
    suite_add_tcase(s, file);
    TCase *pol = tcase_create("policy");
    tcase_add_test(pol, test_policy_table);
    tcase_add_test(pol, test_policy_edges);
    suite_add_tcase(s, pol);
    TCase *zap = tcase_create("zap");
    tcase_set_timeout(zap, 30);
    tcase_add_test(zap, test_zap_protocol);
    tcase_add_test(zap, test_stop_without_traffic);
    tcase_add_test(zap, test_curve_known_keys_get_their_roles);
    tcase_add_test(zap, test_curve_client_metadata_cannot_forge_identity);
    tcase_add_test(zap, test_curve_unknown_key_refused_and_logged);
    tcase_add_test(zap, test_curve_plain_client_gets_nothing_through);
    tcase_add_test(zap, test_curve_reload_adds_and_removes_keys);
    suite_add_tcase(s, zap);
    return s;
}

PBR_CHECK_MAIN(make_suite)
