/* test_utf8.c -- the one UTF-8 definition (pbr/utf8.h) shared by the event
 * parser, ingest, the quarantine and API error messages. Each case names
 * the rule of RFC 3629 it checks. */
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "pbr/utf8.h"

static size_t len_of(const char *s, size_t n)
{
    return pbr_utf8_char_len((const unsigned char *)s, n);
}

START_TEST(char_len_accepts_each_width)
{
    ck_assert_uint_eq(len_of("A", 1), 1);
    ck_assert_uint_eq(len_of("\xC2\xA3", 2), 2);         /* U+00A3 pound sign */
    ck_assert_uint_eq(len_of("\xE2\x82\xAC", 3), 3);     /* U+20AC euro sign */
    ck_assert_uint_eq(len_of("\xF0\x9F\x98\x80", 4), 4); /* U+1F600 */
    ck_assert_uint_eq(len_of("\xF4\x8F\xBF\xBF", 4), 4); /* U+10FFFF, the last code point */
}
END_TEST

START_TEST(char_len_rejects_ill_formed)
{
    ck_assert_uint_eq(len_of("\x80", 1), 0);             /* lone continuation byte */
    ck_assert_uint_eq(len_of("\xC0\xAF", 2), 0);         /* overlong '/' (C0 never starts) */
    ck_assert_uint_eq(len_of("\xE0\x80\xAF", 3), 0);     /* overlong 3-byte form of '/' */
    ck_assert_uint_eq(len_of("\xF0\x80\x80\xAF", 4), 0); /* overlong 4-byte form */
    ck_assert_uint_eq(len_of("\xED\xA0\x80", 3), 0);     /* U+D800, a surrogate */
    ck_assert_uint_eq(len_of("\xF4\x90\x80\x80", 4), 0); /* U+110000, above the range */
    ck_assert_uint_eq(len_of("\xE2\x82", 2), 0);         /* truncated: 2 of 3 bytes */
    ck_assert_uint_eq(len_of("\xE2\x28\xA1", 3), 0);     /* second byte not a continuation */
}
END_TEST

START_TEST(valid_prefix_finds_first_bad_byte)
{
    /* 9 ASCII bytes (the 8-byte fast path, then one more), a pound sign
     * (2 bytes), then a stray 0xFF at offset 11 */
    const char s[] = "abcdefghi\xC2\xA3\xFFz";
    ck_assert_uint_eq(pbr_utf8_valid_prefix(s, sizeof s - 1), 11);
    ck_assert_uint_eq(pbr_utf8_valid_prefix("plain ascii text", 16), 16);
    ck_assert_uint_eq(pbr_utf8_valid_prefix("", 0), 0);
    /* a sequence cut by the end of the buffer is invalid at its lead byte */
    ck_assert_uint_eq(pbr_utf8_valid_prefix("ab\xE2\x82", 4), 2);
}
END_TEST

START_TEST(lossy_replaces_each_bad_byte)
{
    /* "a", 0xFF, NUL, "b", 0xC2 (truncated) -> "a" U+FFFD NUL "b" U+FFFD:
     * 1 + 3 + 1 + 1 + 3 = 9 bytes; the NUL is valid UTF-8 and kept */
    const char in[] = {'a', (char)0xFF, '\0', 'b', (char)0xC2};
    size_t n = 0;
    char *out = pbr_utf8_lossy(in, sizeof in, &n);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(n, 9);
    ck_assert_int_eq(memcmp(out, "a\xEF\xBF\xBD\0b\xEF\xBF\xBD", 9), 0);
    ck_assert_int_eq(out[9], '\0');
    ck_assert_uint_eq(pbr_utf8_valid_prefix(out, n), n);
    free(out);
}
END_TEST

/* The first problem wins: a NUL before a bad byte, or a bad byte before a
 * NUL; positions count from 1. */
START_TEST(text_problem_names_the_first_bad_byte)
{
    char why[64];
    ck_assert_int_eq(pbr_utf8_text_problem("caf\xc3\xa9", 5, why, sizeof why), 0);
    ck_assert_int_eq(pbr_utf8_text_problem("", 0, why, sizeof why), 0);
    ck_assert_int_eq(pbr_utf8_text_problem("ab\0c\xff", 5, why, sizeof why), 1);
    ck_assert_str_eq(why, "NUL byte at byte 3");
    ck_assert_int_eq(pbr_utf8_text_problem("ab\xffz\0", 5, why, sizeof why), 1);
    ck_assert_str_eq(why, "invalid UTF-8 at byte 3");
    /* 0xED 0xA0 0x80 is a surrogate (U+D800): bad at its first byte, the 17th */
    ck_assert_int_eq(pbr_utf8_text_problem("0123456789abcdef\xed\xa0\x80", 19, why, sizeof why), 1);
    ck_assert_str_eq(why, "invalid UTF-8 at byte 17");
    ck_assert_int_eq(pbr_utf8_text_problem("\0", 1, NULL, 0), 1);
}
END_TEST

/* RFC 4648 section 10's test vectors. */
START_TEST(base64_rfc4648_vectors)
{
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char *b = pbr_base64(in[i], strlen(in[i]));
        ck_assert_ptr_nonnull(b);
        ck_assert_str_eq(b, out[i]);
        free(b);
    }
    char *b = pbr_base64("\0\xff\xfe", 3); /* 00000000 11111111 11111110 -> A / / + */
    ck_assert_str_eq(b, "AP/+");
    free(b);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("utf8");
    TCase *tc = tcase_create("utf8");
    tcase_add_test(tc, char_len_accepts_each_width);
    tcase_add_test(tc, char_len_rejects_ill_formed);
    tcase_add_test(tc, valid_prefix_finds_first_bad_byte);
    tcase_add_test(tc, lossy_replaces_each_bad_byte);
    tcase_add_test(tc, text_problem_names_the_first_bad_byte);
    tcase_add_test(tc, base64_rfc4648_vectors);
    suite_add_tcase(s, tc);
    return s;
}

PBR_CHECK_MAIN(make_suite)
