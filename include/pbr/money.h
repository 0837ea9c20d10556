/* money.h -- money and cells for people and spreadsheets: pounds with a
 * sign, thousands separators and the pound sign for text views, and CSV
 * cells that a spreadsheet reads as data (quoted when needed; text cells
 * that begin with = + - @ tab or CR prefixed with ' so they are never run as
 * formulas). Amounts are integer pence throughout: nothing here rounds.
 */
#ifndef PBR_MONEY_H
#define PBR_MONEY_H

#include <stddef.h>
#include <stdint.h>

/* Longest output of pbr_format_gbp, NUL included ("-£92,233,720,368,547,758.08"). */
#define PBR_GBP_MAX 40

/* Writes pence as "£1,234,567.89" or "-£0.05" into out (n bytes; n >=
 * PBR_GBP_MAX never truncates). */
void pbr_format_gbp(int64_t pence, char *out, size_t n);

/* Writes pence as an exact two-decimal number without separators
 * ("1234567.89", "-0.05"): the amount_gbp column of CSV files. */
void pbr_format_gbp_plain(int64_t pence, char *out, size_t n);

/* Does s begin with a character a spreadsheet takes as a formula (= + - @,
 * tab, carriage return)? */
int pbr_csv_is_formula(const char *s);

/* Writes s as one CSV cell into out (n bytes): quoted (with "" for ") when
 * it holds a comma, quote, CR or LF; when text is non-zero and s looks like
 * a formula it is prefixed with ' (inside the quotes). Numeric columns pass
 * text = 0 so a negative amount stays a number. Returns 0, or -1 when out
 * is too small (out then holds an empty string). */
int pbr_csv_cell(const char *s, int text, char *out, size_t n);

#endif
