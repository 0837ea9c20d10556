/* date.h -- calendar dates as day numbers, month arithmetic, settlement quarters.
 *
 * A pbr_date is the number of days since 1970-01-01 in the proleptic Gregorian
 * calendar. All period arithmetic of SPEC.md 5.1 lives here: add_months with
 * clamping, quarters and settlement years aligned to a contract's year_start,
 * and their labels. Pure functions, no clock.
 */
#ifndef PBR_DATE_H
#define PBR_DATE_H

#include <stddef.h>
#include <stdint.h>

typedef int32_t pbr_date;

#define PBR_DATE_NONE INT32_MIN /* "absent" */
#define PBR_DATE_MAX INT32_MAX  /* "never" */
#define PBR_DATE_STRLEN 11      /* "YYYY-MM-DD" + NUL */

/* Parses exactly "YYYY-MM-DD" (len bytes, no NUL needed).
 * Returns 0 on success, -1 when the text is not of that shape, -2 when it is
 * shaped right but names an impossible day (2023-02-30). */
int pbr_date_parse(const char *s, size_t len, pbr_date *out);

/* Writes "YYYY-MM-DD" and a NUL into out (at least PBR_DATE_STRLEN bytes). */
void pbr_date_format(pbr_date d, char *out);

pbr_date pbr_date_from_ymd(int y, int m, int d);
void pbr_date_to_ymd(pbr_date d, int *y, int *m, int *dd);

/* add_months(d, k): same day of month, clamped to the target month's last day. */
pbr_date pbr_add_months(pbr_date d, int k);

/* First day of the settlement quarter containing d (quarters aligned to the
 * first of month year_start, 1..12). */
pbr_date pbr_quarter_of(pbr_date d, int year_start);

/* First day of the settlement year containing d. */
pbr_date pbr_year_of(pbr_date d, int year_start);

/* "2013-14 Q2" (year_start != 1) or "2013 Q3" (year_start == 1) for the
 * quarter starting on q. out must hold at least 16 bytes. */
void pbr_quarter_label(pbr_date q, int year_start, char *out, size_t n);

/* "2013-14" or "2013" for the settlement year starting on y. */
void pbr_year_label(pbr_date y, int year_start, char *out, size_t n);

#endif
