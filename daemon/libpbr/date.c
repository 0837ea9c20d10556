/* date.c -- civil dates as day numbers and the period arithmetic of
 * SPEC.md 5.1 (add_months with clamping, settlement quarters and years).
 *
 * Day numbers use the days-from-civil algorithm on the proleptic Gregorian
 * calendar; everything is integer arithmetic.
 */
#include <stdio.h>
#include <string.h>

#include "pbr/date.h"

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* Returns the day number of y-m-d (m 1..12, d 1..31; no validation). */
pbr_date pbr_date_from_ymd(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (pbr_date)(era * 146097 + doe - 719468);
}

/* Splits a day number into year, month (1..12) and day (1..31). */
void pbr_date_to_ymd(pbr_date z, int *y, int *m, int *dd)
{
    int64_t zz = (int64_t)z + 719468;
    int64_t era = (zz >= 0 ? zz : zz - 146096) / 146097;
    int64_t doe = zz - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t mm = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (mm <= 2));
    *m = (int)mm;
    *dd = (int)d;
}

static int two_digits(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

/* Returns 0, -1 (not YYYY-MM-DD) or -2 (no such day). */
int pbr_date_parse(const char *s, size_t len, pbr_date *out)
{
    static const char shape[] = "dddd-dd-dd";
    if (s == NULL || len != 10)
        return -1;
    for (size_t i = 0; i < 10; i++) {
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != '-')
            return -1;
    }
    int y = two_digits(s) * 100 + two_digits(s + 2);
    int m = two_digits(s + 5);
    int d = two_digits(s + 8);
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return -2;
    *out = pbr_date_from_ymd(y, m, d);
    return 0;
}

void pbr_date_format(pbr_date d, char *out)
{
    int y, m, dd;
    pbr_date_to_ymd(d, &y, &m, &dd);
    if (y < 0 || y > 9999) {
        snprintf(out, PBR_DATE_STRLEN, "%s", y < 0 ? "0000-01-01" : "9999-12-31");
        return;
    }
    snprintf(out, PBR_DATE_STRLEN, "%04d-%02d-%02d", y, m, dd);
}

pbr_date pbr_add_months(pbr_date d, int k)
{
    int y, m, dd;
    pbr_date_to_ymd(d, &y, &m, &dd);
    int idx = y * 12 + (m - 1) + k;
    int ny = idx >= 0 ? idx / 12 : -((-idx + 11) / 12);
    int nm = idx - ny * 12 + 1;
    int dim = days_in_month(ny, nm);
    return pbr_date_from_ymd(ny, nm, dd > dim ? dim : dd);
}

/* Index of the settlement month count: months since year 0 shifted so that
 * multiples of 12 fall on year_start. */
static int shifted_month_index(pbr_date d, int year_start)
{
    int y, m, dd;
    pbr_date_to_ymd(d, &y, &m, &dd);
    return y * 12 + (m - 1) - (year_start - 1);
}

static pbr_date first_of_shifted(int idx, int year_start)
{
    int abs_idx = idx + (year_start - 1);
    int y = abs_idx >= 0 ? abs_idx / 12 : -((-abs_idx + 11) / 12);
    return pbr_date_from_ymd(y, abs_idx - y * 12 + 1, 1);
}

static int floor_div(int a, int b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

pbr_date pbr_quarter_of(pbr_date d, int year_start)
{
    int idx = shifted_month_index(d, year_start);
    return first_of_shifted(floor_div(idx, 3) * 3, year_start);
}

pbr_date pbr_year_of(pbr_date d, int year_start)
{
    int idx = shifted_month_index(d, year_start);
    return first_of_shifted(floor_div(idx, 12) * 12, year_start);
}

void pbr_year_label(pbr_date ystart, int year_start, char *out, size_t n)
{
    int y, m, dd;
    pbr_date_to_ymd(ystart, &y, &m, &dd);
    if (year_start == 1)
        snprintf(out, n, "%04d", y);
    else
        snprintf(out, n, "%04d-%02d", y, (y + 1) % 100);
}

void pbr_quarter_label(pbr_date q, int year_start, char *out, size_t n)
{
    pbr_date ys = pbr_year_of(q, year_start);
    char ylabel[16];
    pbr_year_label(ys, year_start, ylabel, sizeof ylabel);
    int qn = (shifted_month_index(q, year_start) - shifted_month_index(ys, year_start)) / 3 + 1;
    snprintf(out, n, "%s Q%d", ylabel, qn);
}
