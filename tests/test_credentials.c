/* test_credentials.c -- the server key under the shipped unit (issue 13,
 * item 6). The unit runs pbrd as a DynamicUser, which cannot read a 0600
 * root-owned secret key; LoadCredential= gives the service a copy in
 * $CREDENTIALS_DIRECTORY readable by it alone, and the auth paths of
 * pbrd.yaml may name ${CREDENTIALS_DIRECTORY}. Checked: the expansion and
 * its errors (file:line:column), and a daemon started as an unprivileged
 * user (nobody) that gets its key that way and answers a CURVE client,
 * beside the same daemon pointed at the root-only key, which cannot start.
 * The unprivileged cases need root to change user; they say so and pass
 * without checking anything when the tests do not run as root. */
#include <grp.h>
#include <pwd.h>

#include "daemon_harness.h"
#include "pbrd/config.h"

/* Writes text to path and sets its owner and mode. */
static void write_file_as(const char *path, const char *text, uid_t uid, gid_t gid, mode_t mode)
{
    harness_write_text(path, text);
    ck_assert_int_eq(chown(path, uid, gid), 0);
    ck_assert_int_eq(chmod(path, mode), 0);
}

/* Loads the config text (written to a temporary file) into cfg. Returns
 * pbrd_config_load's result; *path gets the file's name (caller unlinks). */
static int load_config_text(const char *text, pbrd_config *cfg, char *path, size_t pathlen, char *err, size_t errlen)
{
    snprintf(path, pathlen, "/tmp/pbrd-cred-cfg-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    harness_write_text(path, text);
    ck_assert_int_eq(pbrd_config_defaults(cfg, err, errlen), 0);
    return pbrd_config_load(cfg, path, err, errlen);
}

START_TEST(config_expands_credentials_directory)
{
    pbrd_config cfg;
    char path[64], err[512];
    setenv("CREDENTIALS_DIRECTORY", "/run/credentials/pbrd.service", 1);
    int rc = load_config_text("auth:\n"
                              "  server_secret_key: ${CREDENTIALS_DIRECTORY}/server.key_secret\n"
                              "  clients: /etc/pbrd/clients.yaml\n",
                              &cfg, path, sizeof path, err, sizeof err);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_str_eq(cfg.server_secret_key, "/run/credentials/pbrd.service/server.key_secret");
    ck_assert_str_eq(cfg.clients, "/etc/pbrd/clients.yaml");
    pbrd_config_clear(&cfg);
    /* the clients file may come the same way */
    rc = load_config_text("auth:\n"
                          "  server_secret_key: /k\n"
                          "  clients: \"${CREDENTIALS_DIRECTORY}/clients.yaml\"\n",
                          &cfg, path, sizeof path, err, sizeof err);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_str_eq(cfg.clients, "/run/credentials/pbrd.service/clients.yaml");
    pbrd_config_clear(&cfg);
    unlink(path);
}
END_TEST

/* Outside a unit with LoadCredential= the variable is unset: a located
 * error saying where it comes from, never a path starting with "${". */
START_TEST(config_credentials_directory_unset_is_an_error)
{
    pbrd_config cfg;
    char path[64], err[512], want[600];
    unsetenv("CREDENTIALS_DIRECTORY");
    int rc = load_config_text("auth:\n"
                              "  server_secret_key: ${CREDENTIALS_DIRECTORY}/server.key_secret\n"
                              "  clients: /etc/pbrd/clients.yaml\n",
                              &cfg, path, sizeof path, err, sizeof err);
    ck_assert_int_eq(rc, -1);
    /* the value starts at line 2, column 22 ("  server_secret_key: " is 21 characters) */
    snprintf(want, sizeof want,
             "%s:2:22: auth.server_secret_key uses ${CREDENTIALS_DIRECTORY}, which is not set: systemd sets it "
             "for a unit with LoadCredential= (see pbrd(8), KEYS UNDER SYSTEMD)",
             path);
    ck_assert_str_eq(err, want);
    pbrd_config_clear(&cfg);
    unlink(path);
}
END_TEST

START_TEST(config_other_variables_are_errors)
{
    pbrd_config cfg;
    char path[64], err[512], want[600];
    setenv("CREDENTIALS_DIRECTORY", "/run/credentials/pbrd.service", 1);
    int rc = load_config_text("auth:\n  server_secret_key: /k\n  clients: ${HOME}/clients.yaml\n", &cfg, path,
                              sizeof path, err, sizeof err);
    ck_assert_int_eq(rc, -1);
    snprintf(want, sizeof want,
             "%s:3:12: auth.clients: only ${CREDENTIALS_DIRECTORY} may be used in it (got \"${HOME}/clients.yaml\")",
             path);
    ck_assert_str_eq(err, want);
    pbrd_config_clear(&cfg);
    unlink(path);
}
END_TEST

/* ---- an unprivileged daemon ------------------------------------------------ */

typedef struct unpriv {
    daemon_t d;      /* d.dir: the data dir, owned by the service user */
    char etc[200];   /* like /etc/pbrd: root-owned, the secret key 0600 */
    char creds[300]; /* like $CREDENTIALS_DIRECTORY: the service user's, 0500 */
    uid_t uid;
    gid_t gid;
    harness_keypair server, client;
} unpriv;

/* Whether the tests run as root (needed to start pbrd as another user);
 * says why the case checks nothing when they do not. */
static int running_as_root(const char *test)
{
    if (geteuid() == 0)
        return 1;
    fprintf(stderr, "%s: SKIPPED: needs root to start pbrd as the unprivileged user nobody\n", test);
    return 0;
}

/* The layout of a host with the shipped unit: /etc/pbrd (root's; the
 * secret key 0600, the clients file and config world-readable), the
 * credentials directory systemd makes (the service user's, 0500, the key
 * 0400) and the state directory (the service user's, 0700). key_path is
 * what the config names as auth.server_secret_key (NULL: the root-only key
 * in the etc directory). */
static void unpriv_prepare(unpriv *u, const char *key_path)
{
    struct passwd *pw = getpwnam("nobody");
    ck_assert_msg(pw != NULL, "no user \"nobody\"");
    u->uid = pw->pw_uid;
    u->gid = pw->pw_gid;
    u->server = harness_keypair_new();
    u->client = harness_keypair_new();
    daemon_prepare(&u->d, NULL);
    ck_assert_int_eq(chown(u->d.dir, u->uid, u->gid), 0);
    ck_assert_int_lt(strlen(u->d.dir), 100);
    snprintf(u->etc, sizeof u->etc, "%.100s.etc", u->d.dir);
    snprintf(u->creds, sizeof u->creds, "%s.creds", u->d.dir);
    ck_assert_int_eq(mkdir(u->etc, 0755), 0);
    ck_assert_int_eq(mkdir(u->creds, 0700), 0);

    char path[400], text[1200], secret_line[64];
    snprintf(secret_line, sizeof secret_line, "%s\n", u->server.sec);
    snprintf(path, sizeof path, "%s/server.key_secret", u->etc);
    write_file_as(path, secret_line, 0, 0, 0600);
    snprintf(path, sizeof path, "%s/server.key_secret", u->creds); /* LoadCredential='s copy */
    write_file_as(path, secret_line, u->uid, u->gid, 0400);
    ck_assert_int_eq(chown(u->creds, u->uid, u->gid), 0);
    ck_assert_int_eq(chmod(u->creds, 0500), 0);

    snprintf(path, sizeof path, "%s/clients.yaml", u->etc);
    snprintf(text, sizeof text, "- key: \"%s\"\n  role: finance\n  name: finance desk\n", u->client.pub);
    write_file_as(path, text, 0, 0, 0644);
    if (key_path != NULL)
        snprintf(text, sizeof text, "auth:\n  server_secret_key: %s\n  clients: %s/clients.yaml\n", key_path, u->etc);
    else
        snprintf(text, sizeof text, "auth:\n  server_secret_key: %s/server.key_secret\n  clients: %s/clients.yaml\n",
                 u->etc, u->etc);
    snprintf(u->d.config, sizeof u->d.config, "%s/pbrd.yaml", u->etc);
    write_file_as(u->d.config, text, 0, 0, 0644);

    snprintf(u->d.curve_server, sizeof u->d.curve_server, "%s", u->server.pub);
    snprintf(u->d.curve_public, sizeof u->d.curve_public, "%s", u->client.pub);
    snprintf(u->d.curve_secret, sizeof u->d.curve_secret, "%s", u->client.sec);
}

/* Forks pbrd as the unprivileged user (its groups cleared) with
 * CREDENTIALS_DIRECTORY=u->creds; its stderr goes to DIR.log. */
static void unpriv_spawn(unpriv *u)
{
    char bin[512], log[320];
    snprintf(bin, sizeof bin, "%s/pbrd", pbr_test_build());
    snprintf(log, sizeof log, "%s.log", u->d.dir);
    char *argv[] = {bin,           "-c",         u->d.config, "--foreground", "--data", u->d.dir,
                    "--contracts", u->d.dir,     "--ingest",  u->d.ingest,    "--api",  u->d.api,
                    "--publish",   u->d.publish, "--now",     "2020-06-30",   NULL};
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0)
            dup2(fd, STDERR_FILENO);
        if (setgroups(0, NULL) != 0 || setgid(u->gid) != 0 || setuid(u->uid) != 0)
            _exit(126);
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* after setuid, which clears it */
        setenv("CREDENTIALS_DIRECTORY", u->creds, 1);
        execv(bin, argv);
        _exit(127);
    }
    u->d.pid = pid;
}

/* Removes what unpriv_prepare made and the context. */
static void unpriv_cleanup(unpriv *u)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", u->etc, u->creds);
    int rc = system(cmd);
    (void)rc;
}

/* The daemon's log (first 4 KiB) into buf. */
static const char *unpriv_log(const unpriv *u, char *buf, size_t n)
{
    char path[320];
    snprintf(path, sizeof path, "%s.log", u->d.dir);
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f) {
        size_t k = fread(buf, 1, n - 1, f);
        buf[k] = '\0';
        fclose(f);
    }
    return buf;
}

/* The recipe of the unit: pbrd as nobody reads the key from its credential
 * copy and answers a CURVE client on the API and the ingest socket. */
START_TEST(unprivileged_daemon_reads_key_from_credentials)
{
    if (!running_as_root("unprivileged_daemon_reads_key_from_credentials"))
        return;
    unpriv u;
    char log[4096];
    unpriv_prepare(&u, "${CREDENTIALS_DIRECTORY}/server.key_secret");
    unpriv_spawn(&u);
    char *r = NULL;
    for (int i = 0; i < 100 && !r; i++) {
        r = request_d(&u.d, u.d.api, "{\"op\":\"status\"}", 15, 100);
        int st;
        ck_assert_msg(r || waitpid(u.d.pid, &st, WNOHANG) == 0, "pbrd as nobody exited early: %s",
                      unpriv_log(&u, log, sizeof log));
    }
    ck_assert_msg(r != NULL, "no CURVE reply from pbrd as nobody within 10 s: %s", unpriv_log(&u, log, sizeof log));
    json_t *st = parse_reply(r);
    ck_assert_int_eq(geti(st, "events"), 0);
    json_decref(st);
    /* the daemon really runs as nobody */
    ck_assert_int_eq(pid_proc_long(u.d.pid, "status", "Uid: %ld"), (long)u.uid);
    /* and can write its store: an event is accepted */
    json_t *in = ingest_batch(&u.d,
                              "{\"id\":\"r1\",\"type\":\"release\",\"offender\":\"A\","
                              "\"date\":\"2020-04-15\",\"area\":\"NORTH\",\"establishment\":\"HMP-N\","
                              "\"provider\":\"serco\",\"sentence_days\":120,\"age\":30,\"gender\":\"M\","
                              "\"ogrs\":0.1234}\n");
    ck_assert_int_eq(geti(in, "accepted"), 1);
    json_decref(in);
    ck_assert_msg(strstr(unpriv_log(&u, log, sizeof log), "CURVE enabled") != NULL, "%s", log);
    daemon_finish(&u.d);
    unpriv_cleanup(&u);
}
END_TEST

/* What the unit did before the recipe: the config names the root-only key,
 * the unprivileged daemon cannot read it and exits at once, saying why. */
START_TEST(unprivileged_daemon_cannot_read_root_only_key)
{
    if (!running_as_root("unprivileged_daemon_cannot_read_root_only_key"))
        return;
    unpriv u;
    char log[4096];
    unpriv_prepare(&u, NULL); /* the config names /etc/pbrd's key itself */
    unpriv_spawn(&u);
    int st = 0;
    pid_t w = 0;
    for (int i = 0; i < 1000 && w == 0; i++) {
        w = waitpid(u.d.pid, &st, WNOHANG);
        if (w == 0)
            usleep(10000);
    }
    ck_assert_msg(w == u.d.pid, "pbrd as nobody kept running with a key it cannot read");
    u.d.pid = 0;
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0);
    unpriv_log(&u, log, sizeof log);
    ck_assert_msg(strstr(log, "reading the server secret key failed") != NULL, "%s", log);
    ck_assert_msg(strstr(log, "Permission denied") != NULL, "%s", log);
    daemon_finish(&u.d);
    unpriv_cleanup(&u);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("credentials");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, config_expands_credentials_directory);
    tcase_add_test(tc, config_credentials_directory_unset_is_an_error);
    tcase_add_test(tc, config_other_variables_are_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("unprivileged");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, unprivileged_daemon_reads_key_from_credentials);
    tcase_add_test(tc, unprivileged_daemon_cannot_read_root_only_key);
    suite_add_tcase(s, tc);
    return s;
}

PBR_CHECK_MAIN(make_suite)
