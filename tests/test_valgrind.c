/* test_valgrind.c -- the daemon is valgrind-clean: runs tests/valgrind.sh
 * (a short pbrd session under memcheck: ingest, settle, queries, verify,
 * reload, SIGTERM) and requires it to report no error and no leak.
 * Skipped in sanitizer builds (ASan and valgrind do not mix).
 */
#include <stdlib.h>
#include <sys/wait.h>

#include "check_main.h"

START_TEST(daemon_is_valgrind_clean)
{
    if (getenv("PBR_SANITIZED") != NULL)
        return;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s/tests/valgrind.sh %s", pbr_test_root(), pbr_test_build());
    int st = system(cmd);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "valgrind.sh failed (status %d)", st);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("valgrind");
    TCase *tc = tcase_create("pbrd");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, daemon_is_valgrind_clean);
    suite_add_tcase(s, tc);
    return s;
}

PBR_CHECK_MAIN(make_suite)
