/* num.c -- exact decimals: text -> mpq_t, half-even rounding to integers,
 * pence and 6-place display strings. No binary floating point anywhere.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbr/num.h"

/* Returns 0 and sets out, or -1 when s is not a plain decimal. */
int pbr_decimal_parse(const char *s, size_t len, int max_places, mpq_t out)
{
    size_t i = 0, int_digits = 0, frac_digits = 0;
    int neg = 0;
    if (len > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
    }
    char *digits = malloc(len + 1);
    if (digits == NULL)
        return -1;
    size_t nd = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, int_digits++)
        digits[nd++] = s[i];
    if (i < len && s[i] == '.') {
        i++;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, frac_digits++)
            digits[nd++] = s[i];
        if (frac_digits == 0)
            goto bad;
    }
    if (i != len || int_digits == 0 || nd > 60)
        goto bad;
    if (max_places >= 0 && frac_digits > (size_t)max_places)
        goto bad;
    digits[nd] = '\0';
    mpz_t num, den;
    mpz_init_set_str(num, digits, 10);
    mpz_init(den);
    mpz_ui_pow_ui(den, 10, (unsigned long)frac_digits);
    if (neg)
        mpz_neg(num, num);
    mpq_set_num(out, num);
    mpq_set_den(out, den);
    mpq_canonicalize(out);
    mpz_clear(num);
    mpz_clear(den);
    free(digits);
    return 0;
bad:
    free(digits);
    return -1;
}

void pbr_round_half_even(mpz_t out, const mpq_t q)
{
    mpz_t r, twice;
    mpz_init(r);
    mpz_init(twice);
    /* floor division: q = out + r/den with 0 <= r < den */
    mpz_fdiv_qr(out, r, mpq_numref(q), mpq_denref(q));
    mpz_mul_2exp(twice, r, 1);
    int cmp = mpz_cmp(twice, mpq_denref(q));
    if (cmp > 0 || (cmp == 0 && mpz_odd_p(out)))
        mpz_add_ui(out, out, 1);
    mpz_clear(r);
    mpz_clear(twice);
}

int64_t pbr_pounds_to_pence(const mpq_t pounds)
{
    mpq_t p;
    mpz_t z;
    mpq_init(p);
    mpz_init(z);
    mpq_set(p, pounds);
    mpz_mul_ui(mpq_numref(p), mpq_numref(p), 100);
    mpq_canonicalize(p);
    pbr_round_half_even(z, p);
    int64_t v;
    if (mpz_fits_slong_p(z))
        v = (int64_t)mpz_get_si(z);
    else
        v = mpz_sgn(z) < 0 ? INT64_MIN : INT64_MAX;
    mpz_clear(z);
    mpq_clear(p);
    return v;
}

void pbr_format6(const mpq_t q, char *out, size_t n)
{
    mpq_t scaled;
    mpz_t z, ip, fp;
    mpq_init(scaled);
    mpz_init(z);
    mpz_init(ip);
    mpz_init(fp);
    mpq_set(scaled, q);
    mpz_mul_ui(mpq_numref(scaled), mpq_numref(scaled), 1000000);
    mpq_canonicalize(scaled);
    pbr_round_half_even(z, scaled);
    int neg = mpz_sgn(z) < 0;
    mpz_abs(z, z);
    mpz_tdiv_qr_ui(ip, fp, z, 1000000);
    char *is = mpz_get_str(NULL, 10, ip);
    unsigned long f = mpz_get_ui(fp);
    snprintf(out, n, "%s%s.%06lu", neg ? "-" : "", is, f);
    void (*freefunc)(void *, size_t);
    mp_get_memory_functions(NULL, NULL, &freefunc);
    freefunc(is, strlen(is) + 1);
    mpz_clear(fp);
    mpz_clear(ip);
    mpz_clear(z);
    mpq_clear(scaled);
}

void pbr_format_pence(int64_t pence, char *out, size_t n)
{
    uint64_t a = pence < 0 ? (uint64_t)0 - (uint64_t)pence : (uint64_t)pence;
    snprintf(out, n, "%s%llu.%02llu", pence < 0 ? "-" : "", (unsigned long long)(a / 100),
             (unsigned long long)(a % 100));
}
