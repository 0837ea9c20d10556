/* event_canonical.c -- owns the canonical serialisation of an event (the
 * idempotency key of ingest and the stored form).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_internal.h"

/* ---- canonical form --------------------------------------------------
 *
 * Written once into one buffer sized from the strings' exact escaped sizes
 * plus a bound for everything else (keys, numbers, dates, punctuation). No
 * printf, no realloc in practice: if the bound were ever short, the writer
 * only counts past the end and the text is written again at its exact size. */

#define CANON_FIXED_MAX 512 /* keys, numbers, dates and punctuation of any event: about 300 bytes */

typedef struct {
    char *out;
    size_t n, cap; /* bytes written (or needed) and room in out */
} cwriter;

static void cw_put(cwriter *w, const char *s, size_t n)
{
    if (n > 0 && w->n + n <= w->cap)
        memcpy(w->out + w->n, s, n);
    w->n += n;
}

/* Returns the size of s as a JSON string literal, quotes included. */
static size_t json_string_size(const char *s)
{
    size_t n = 2;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += *p >= 0x20 && *p != '"' && *p != '\\' ? 1 : *p >= 0x20 ? 2 : 6;
    return n;
}

/* Appends s as a JSON string literal (UTF-8 kept, controls as \u00xx). */
static void cw_json_string(cwriter *w, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    cw_put(w, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        cw_put(w, s + run, i - run);
        run = i + 1;
        if (ch == '"' || ch == '\\') {
            char esc[2] = {'\\', (char)ch};
            cw_put(w, esc, 2);
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
            cw_put(w, esc, 6);
        }
    }
    cw_put(w, s + run, len - run);
    cw_put(w, "\"", 1);
}

/* Appends ,"key": (no comma before the first key). */
static void cw_key(cwriter *w, const char *key, size_t keylen)
{
    if (w->n > 1)
        cw_put(w, ",", 1);
    cw_put(w, "\"", 1);
    cw_put(w, key, keylen);
    cw_put(w, "\":", 2);
}

#define CW_KEY(w, lit) cw_key((w), (lit), sizeof(lit) - 1)

static void cw_str_field(cwriter *w, const char *key, size_t keylen, const char *v)
{
    if (!v)
        return;
    cw_key(w, key, keylen);
    cw_json_string(w, v, strlen(v));
}

#define CW_STR(w, lit, v) cw_str_field((w), (lit), sizeof(lit) - 1, (v))

/* Appends v in decimal (v >= 0), zero-padded to at least width digits. */
static void cw_uint(cwriter *w, uint32_t v, int width)
{
    char digits[12];
    int n = 0;
    do {
        digits[sizeof digits - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0 || n < width);
    cw_put(w, digits + sizeof digits - n, (size_t)n);
}

static void cw_int_field(cwriter *w, const char *key, size_t keylen, int32_t v)
{
    if (v < 0)
        return;
    cw_key(w, key, keylen);
    cw_uint(w, (uint32_t)v, 1);
}

#define CW_INT(w, lit, v) cw_int_field((w), (lit), sizeof(lit) - 1, (v))

/* Appends d as "YYYY-MM-DD" (pbr_date_format's text). */
static void cw_date_field(cwriter *w, const char *key, size_t keylen, pbr_date d)
{
    int y, m, dd;
    if (d == PBR_DATE_NONE)
        return;
    cw_key(w, key, keylen);
    pbr_date_to_ymd(d, &y, &m, &dd);
    if (y < 0 || y > 9999) {
        char s[PBR_DATE_STRLEN];
        pbr_date_format(d, s);
        cw_json_string(w, s, strlen(s));
        return;
    }
    char text[12] = {'"',
                     (char)('0' + y / 1000),
                     (char)('0' + y / 100 % 10),
                     (char)('0' + y / 10 % 10),
                     (char)('0' + y % 10),
                     '-',
                     (char)('0' + m / 10),
                     (char)('0' + m % 10),
                     '-',
                     (char)('0' + dd / 10),
                     (char)('0' + dd % 10),
                     '"'};
    cw_put(w, text, sizeof text);
}

#define CW_DATE(w, lit, v) cw_date_field((w), (lit), sizeof(lit) - 1, (v))

/* Appends ten-thousandths as the shortest exact decimal: 0, 1, 0.25, 0.1234. */
static void cw_ogrs_field(cwriter *w, int32_t v)
{
    if (v < 0)
        return;
    CW_KEY(w, "ogrs");
    cw_uint(w, (uint32_t)(v / 10000), 1);
    int frac = (int)(v % 10000), places = 4;
    if (frac == 0)
        return;
    while (frac % 10 == 0) {
        frac /= 10;
        places--;
    }
    cw_put(w, ".", 1);
    cw_uint(w, (uint32_t)frac, places);
}

/* Writes the canonical JSON of ev through w. */
static void write_canonical(cwriter *w, const pbr_event *ev)
{
    char g[2] = {ev->gender, '\0'};
    cw_put(w, "{", 1);
    CW_STR(w, "id", ev->id);
    CW_STR(w, "type", pbr_event_type_name(ev->type));
    CW_STR(w, "offender", ev->offender);
    CW_DATE(w, "date", ev->date);
    CW_DATE(w, "recorded", ev->recorded == PBR_DATE_NONE ? ev->date : ev->recorded);
    switch (ev->type) {
    case PBR_EV_RELEASE:
    case PBR_EV_COMMUNITY_START:
    case PBR_EV_RECEPTION:
        CW_STR(w, "area", ev->area);
        CW_STR(w, "establishment", ev->establishment);
        CW_STR(w, "provider", ev->provider);
        CW_STR(w, "order", ev->order);
        CW_INT(w, "sentence_days", ev->sentence_days);
        CW_INT(w, "age", ev->age);
        CW_STR(w, "gender", ev->gender ? g : NULL);
        cw_ogrs_field(w, ev->ogrs);
        CW_INT(w, "prior_sanctions", ev->prior_sanctions);
        if (ev->nflags > 0) {
            CW_KEY(w, "flags");
            cw_put(w, "[", 1);
            for (size_t i = 0; i < ev->nflags; i++) {
                if (i)
                    cw_put(w, ",", 1);
                cw_json_string(w, ev->flags[i], strlen(ev->flags[i]));
            }
            cw_put(w, "]", 1);
        }
        break;
    case PBR_EV_CONVICTION:
        CW_DATE(w, "offence_date", ev->offence_date);
        CW_INT(w, "offences", ev->offences);
        CW_STR(w, "category", ev->category);
        CW_STR(w, "disposal", pbr_disposal_name(ev->disposal));
        CW_STR(w, "area", ev->area);
        break;
    case PBR_EV_VOID:
        CW_STR(w, "target", ev->target);
        CW_STR(w, "reason", ev->reason);
        break;
    default: break;
    }
    cw_put(w, "}", 1);
}

/* Returns a bound on the canonical size of ev: its strings exactly, the
 * rest by CANON_FIXED_MAX. */
static size_t canonical_bound(const pbr_event *ev)
{
    const char *strings[] = {ev->id,    ev->offender, ev->area,   ev->establishment, ev->provider,
                             ev->order, ev->category, ev->target, ev->reason};
    size_t n = CANON_FIXED_MAX;
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        if (strings[i])
            n += json_string_size(strings[i]);
    for (size_t i = 0; i < ev->nflags; i++)
        n += json_string_size(ev->flags[i]) + 1;
    return n;
}

/* Writes the canonical JSON of ev and a NUL into buf if they fit in cap
 * bytes; returns the canonical length (NUL not counted) either way. Nothing
 * is allocated; buf is not owned. */
size_t pbr_event_canonical_to(const pbr_event *ev, char *buf, size_t cap)
{
    cwriter w = {buf, 0, cap > 0 ? cap - 1 : 0};
    write_canonical(&w, ev);
    if (w.n < cap)
        buf[w.n] = '\0';
    return w.n;
}

/* Returns the canonical JSON of ev (malloc'd, caller frees) with *len, or
 * NULL on allocation failure. */
char *pbr_event_canonical(const pbr_event *ev, size_t *len)
{
    cwriter w = {NULL, 0, canonical_bound(ev)};
    if (!(w.out = malloc(w.cap + 1)))
        return NULL;
    write_canonical(&w, ev);
    if (w.n > w.cap) { /* the bound was short: write again at the exact size */
        char *bigger = realloc(w.out, w.n + 1);
        if (!bigger) {
            free(w.out);
            return NULL;
        }
        w.out = bigger;
        w.cap = w.n;
        w.n = 0;
        write_canonical(&w, ev);
    }
    w.out[w.n] = '\0';
    if (len)
        *len = w.n;
    return w.out;
}
