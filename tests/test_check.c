/* test_check.c -- the pre-flight checks an operator runs before a reload
 * or a start (issue 13 item 4): `pbrctl check DIR` checks every *.yaml and
 * *.yml of a directory as pbrd loads it, refuses two files defining one
 * contract id, and `pbrd --check [-c CONFIG]` validates the configuration,
 * the contracts, the key and the clients file without starting.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"

static char tmp[64];

static void setup(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/pbr-test-check-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    int rc = system(cmd);
    (void)rc;
}

static void write_text(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* Runs the shell command cmd (stdout and stderr together into *out,
 * malloc'd). Returns its exit status. */
static int run(const char *cmd, char **out)
{
    char full[2048];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    ck_assert_ptr_nonnull(p);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    n = fread(buf, 1, cap - 1, p);
    buf[n] = '\0';
    int st = pclose(p);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define FEE_CONTRACT(id) \
    "contract: " id      \
    "\ntitle: T\nprovider: p\nstart: 2012-04-01\nend: 2014-03-31\nfees:\n  - {id: f, per_quarter: 1.00}\n"

START_TEST(pbrctl_check_directory)
{
    char cmd[512], *out;
    ck_assert_int_eq(mkdir(strcat(strcpy(cmd, tmp), "/c"), 0700), 0);
    write_text("c/a.yaml", FEE_CONTRACT("alpha"));
    write_text("c/b.yml", FEE_CONTRACT("beta"));
    write_text("c/notes.txt", "not a contract\n");
    write_text("c/.hidden.yaml", "not: loaded\n");
    snprintf(cmd, sizeof cmd, "%s/pbrctl check %s/c", pbr_test_build(), tmp);
    int rc = run(cmd, &out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_ptr_nonnull(strstr(out, "/c/a.yaml: ok: contract alpha"));
    ck_assert_ptr_nonnull(strstr(out, "/c/b.yml: ok: contract beta"));
    ck_assert_ptr_null(strstr(out, "notes.txt"));
    ck_assert_ptr_null(strstr(out, "hidden"));
    free(out);
    /* a second file defining alpha: refused, naming both files */
    write_text("c/z.yaml", FEE_CONTRACT("alpha"));
    rc = run(cmd, &out);
    ck_assert_int_eq(rc, 1);
    char want[300];
    snprintf(want, sizeof want, "%s/c/z.yaml:1:1: contract \"alpha\" is already defined in %s/c/a.yaml", tmp, tmp);
    ck_assert_msg(strstr(out, want) != NULL, "no \"%s\" in: %s", want, out);
    ck_assert_ptr_nonnull(strstr(out, "1 of 3 contract files invalid"));
    free(out);
    /* a missing directory or file is an error, not "ok" */
    snprintf(cmd, sizeof cmd, "%s/pbrctl check %s/nothing", pbr_test_build(), tmp);
    rc = run(cmd, &out);
    ck_assert_int_ne(rc, 0);
    free(out);
}
END_TEST

START_TEST(pbrd_check_config_and_contracts)
{
    char cmd[1024], *out;
    ck_assert_int_eq(mkdir(strcat(strcpy(cmd, tmp), "/c"), 0700), 0);
    write_text("c/a.yaml", FEE_CONTRACT("alpha"));
    write_text("good.yaml", "auto_settle: false\n");
    snprintf(cmd, sizeof cmd, "%s/pbrd --check -c %s/good.yaml --contracts %s/c", pbr_test_build(), tmp, tmp);
    int rc = run(cmd, &out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_ptr_nonnull(strstr(out, "pbrd --check: configuration and contracts OK"));
    free(out);
    /* a config error: file:line:col, exit 2 */
    write_text("bad.yaml", "auto_settle: false\ningset: tcp://127.0.0.1:1\n");
    snprintf(cmd, sizeof cmd, "%s/pbrd --check -c %s/bad.yaml --contracts %s/c", pbr_test_build(), tmp, tmp);
    rc = run(cmd, &out);
    ck_assert_int_eq(rc, 2);
    ck_assert_msg(strstr(out, "bad.yaml:2:1: unknown key \"ingset\"") != NULL, "%s", out);
    free(out);
    /* a contract error: file:line:col, exit 1 */
    write_text("c/b.yaml", FEE_CONTRACT("beta") "  - {id: g, per_quarter: 2000000000000.00}\n");
    snprintf(cmd, sizeof cmd, "%s/pbrd --check -c %s/good.yaml --contracts %s/c", pbr_test_build(), tmp, tmp);
    rc = run(cmd, &out);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(out, "/c/b.yaml:8:26: per_quarter: \"2000000000000.00\" is beyond the money limit") != NULL,
                  "%s", out);
    free(out);
    /* unreadable key and clients files */
    write_text("c/b.yaml", FEE_CONTRACT("beta"));
    write_text("auth.yaml",
               "auth:\n  server_secret_key: /nonexistent/server.key_secret\n"
               "  clients: /nonexistent/clients.yaml\n");
    snprintf(cmd, sizeof cmd, "%s/pbrd --check -c %s/auth.yaml --contracts %s/c", pbr_test_build(), tmp, tmp);
    rc = run(cmd, &out);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(out, "auth.server_secret_key: open /nonexistent/server.key_secret") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "/nonexistent/clients.yaml") != NULL, "%s", out);
    free(out);
    /* a missing contracts directory */
    snprintf(cmd, sizeof cmd, "%s/pbrd --check -c %s/good.yaml --contracts %s/none", pbr_test_build(), tmp, tmp);
    rc = run(cmd, &out);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(out, "contracts_dir:") != NULL, "%s", out);
    free(out);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("check");
    TCase *tc = tcase_create("preflight");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, pbrctl_check_directory);
    tcase_add_test(tc, pbrd_check_config_and_contracts);
    suite_add_tcase(s, tc);
    return s;
}

PBR_CHECK_MAIN(make_suite)
