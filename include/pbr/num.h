/* num.h -- exact decimals on GMP rationals: parsing from text, half-even
 * rounding to pence and to the 6-place display strings of SPEC.md section 6.
 *
 * Nothing here goes through binary floating point.
 */
#ifndef PBR_NUM_H
#define PBR_NUM_H

#include <gmp.h>
#include <stddef.h>
#include <stdint.h>

/* Parses an exact decimal: optional '-', digits, optionally '.' and digits
 * (no exponent, no '+', no leading '.', at most max_places decimals; pass -1
 * for no limit). Sets out. Returns 0, or -1 when the text is not such a
 * decimal (out is then unspecified). */
int pbr_decimal_parse(const char *s, size_t len, int max_places, mpq_t out);

/* Rounds q to the nearest integer, ties to even, into out. */
void pbr_round_half_even(mpz_t out, const mpq_t q);

/* Pounds (exact) -> whole pence, half to even. Aborts never; saturates to
 * INT64 limits only for absurd inputs. */
int64_t pbr_pounds_to_pence(const mpq_t pounds);

/* Writes q rounded half-even to 6 decimal places ("-0.500000", "12.000000")
 * into out (n bytes). A result that rounds to zero is written "0.000000". */
void pbr_format6(const mpq_t q, char *out, size_t n);

/* Writes an integer-of-pence amount as pounds "1234.50" / "-0.05". */
void pbr_format_pence(int64_t pence, char *out, size_t n);

#endif
