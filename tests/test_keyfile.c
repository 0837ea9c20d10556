/* test_keyfile.c -- the one CURVE key-file reader (pbr/keyfile.h) used by
 * pbrd and pbrctl: a file holds 40 Z85 characters and a newline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "pbr/keyfile.h"

/* Writes text to a fresh temp file; returns its path in buf. */
static const char *key_file(char *buf, size_t n, const char *text)
{
    snprintf(buf, n, "/tmp/pbr-test-key-XXXXXX");
    int fd = mkstemp(buf);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return buf;
}

/* A real Z85 key (from zmq_curve_keypair's alphabet): 40 characters. */
#define GOOD "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"

START_TEST(reads_a_key_with_or_without_newline)
{
    char path[64], out[PBR_KEY_Z85_LEN + 1], err[256];
    ck_assert_int_eq(pbr_key_file_read(key_file(path, sizeof path, GOOD "\n"), out, err, sizeof err), 0);
    ck_assert_str_eq(out, GOOD);
    unlink(path);
    ck_assert_int_eq(pbr_key_file_read(key_file(path, sizeof path, GOOD "\r\n"), out, err, sizeof err), 0);
    ck_assert_str_eq(out, GOOD);
    unlink(path);
    ck_assert_int_eq(pbr_key_file_read(key_file(path, sizeof path, GOOD), out, err, sizeof err), 0);
    ck_assert_str_eq(out, GOOD);
    unlink(path);
}
END_TEST

START_TEST(refuses_wrong_length_alphabet_and_missing_file)
{
    char path[64], out[PBR_KEY_Z85_LEN + 1], err[256];
    /* 39 characters */
    ck_assert_int_eq(pbr_key_file_read(key_file(path, sizeof path, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf\n"), out,
                                       err, sizeof err),
                     -1);
    ck_assert_ptr_nonnull(strstr(err, "found 39"));
    ck_assert_ptr_nonnull(strstr(err, path));
    unlink(path);
    /* 40 characters, but '~' (position 5) is not in the Z85 alphabet */
    ck_assert_int_eq(pbr_key_file_read(key_file(path, sizeof path, "rq:r~>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n"), out,
                                       err, sizeof err),
                     -1);
    ck_assert_ptr_nonnull(strstr(err, "character 5"));
    unlink(path);
    ck_assert_int_eq(pbr_key_file_read("/nonexistent/pbr.key", out, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/pbr.key"));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("keyfile");
    TCase *tc = tcase_create("keyfile");
    tcase_add_test(tc, reads_a_key_with_or_without_newline);
    tcase_add_test(tc, refuses_wrong_length_alphabet_and_missing_file);
    suite_add_tcase(s, tc);
    return s;
}

PBR_CHECK_MAIN(make_suite)
