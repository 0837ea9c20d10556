/* check_main.h -- the main() shared by every Check test program.
 *
 * A test file defines `static Suite *make_suite(void)` and ends with
 * PBR_CHECK_MAIN(make_suite). Tests find the repository root through
 * $PBR_ROOT (default ".") and built binaries through $PBR_BUILD (default
 * "build"); pbr_test_path() joins them.
 */
#ifndef PBR_CHECK_MAIN_H
#define PBR_CHECK_MAIN_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

static inline const char *pbr_test_root(void)
{
    const char *r = getenv("PBR_ROOT");
    return r && *r ? r : ".";
}

static inline const char *pbr_test_build(void)
{
    const char *b = getenv("PBR_BUILD");
    return b && *b ? b : "build";
}

/* Writes root/rel into buf and returns buf. */
static inline const char *pbr_test_path(char *buf, size_t n, const char *rel)
{
    snprintf(buf, n, "%s/%s", pbr_test_root(), rel);
    return buf;
}

#define PBR_CHECK_MAIN(make_suite)                        \
    int main(void)                                        \
    {                                                     \
        SRunner *sr = srunner_create(make_suite());       \
        srunner_run_all(sr, CK_NORMAL);                   \
        int failed = srunner_ntests_failed(sr);           \
        srunner_free(sr);                                 \
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE; \
    }

#endif
