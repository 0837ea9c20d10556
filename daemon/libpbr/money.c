/* money.c -- pounds for text views and CSV cells for spreadsheets (money.h). */
#include "pbr/money.h"

#include <stdio.h>
#include <string.h>

/* The magnitude of pence as unsigned (INT64_MIN included). */
static uint64_t magnitude(int64_t pence)
{
    return pence < 0 ? (uint64_t)0 - (uint64_t)pence : (uint64_t)pence;
}

void pbr_format_gbp(int64_t pence, char *out, size_t n)
{
    uint64_t a = magnitude(pence), pounds = a / 100;
    char digits[24], grouped[40];
    int nd = snprintf(digits, sizeof digits, "%llu", (unsigned long long)pounds);
    size_t g = 0;
    for (int i = 0; i < nd; i++) {
        if (i > 0 && (nd - i) % 3 == 0)
            grouped[g++] = ',';
        grouped[g++] = digits[i];
    }
    grouped[g] = '\0';
    snprintf(out, n, "%s\xc2\xa3%s.%02llu", pence < 0 ? "-" : "", grouped, (unsigned long long)(a % 100));
}

void pbr_format_gbp_plain(int64_t pence, char *out, size_t n)
{
    uint64_t a = magnitude(pence);
    snprintf(out, n, "%s%llu.%02llu", pence < 0 ? "-" : "", (unsigned long long)(a / 100),
             (unsigned long long)(a % 100));
}

int pbr_csv_is_formula(const char *s)
{
    return s[0] != '\0' && strchr("=+-@\t\r", s[0]) != NULL;
}

int pbr_csv_cell(const char *s, int text, char *out, size_t n)
{
    int quote = strpbrk(s, ",\"\n\r") != NULL;
    int prefix = text && pbr_csv_is_formula(s);
    size_t need = strlen(s) + 1 + (size_t)prefix + (quote ? 2 : 0);
    for (const char *p = s; quote && *p; p++)
        need += *p == '"';
    if (n == 0 || need > n) {
        if (n > 0)
            out[0] = '\0';
        return -1;
    }
    size_t k = 0;
    if (quote)
        out[k++] = '"';
    if (prefix)
        out[k++] = '\'';
    for (const char *p = s; *p; p++) {
        if (quote && *p == '"')
            out[k++] = '"';
        out[k++] = *p;
    }
    if (quote)
        out[k++] = '"';
    out[k] = '\0';
    return 0;
}
