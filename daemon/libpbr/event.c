/* event.c -- owns the event model of SPEC.md section 3: parsing one JSON line
 * into a validated pbr_event (every per-event rule: types, required and
 * allowed fields, JSON types, dates, ranges, string limits), the canonical
 * serialisation used for idempotency, and the type and disposal name tables.
 *
 * Cross-event rules (void targets, duplicates, conflicts) belong to the store
 * and the event set, not here.
 *
 * OGRS exactness: jansson turns JSON reals into doubles, which cannot hold
 * 0.1234 exactly. So the "ogrs" value is never read from the double: after
 * jansson has validated the whole line, find_member_text() walks the raw
 * bytes of the top-level object to the "ogrs" member (comparing decoded key
 * text, so "\u006fgrs" is found too; duplicates are already rejected) and
 * ogrs_from_text() reads the JSON number text exactly as digits and a
 * decimal exponent. The value must equal k/10000 for an integer k in
 * 0..10000 (so 0.1234, 0.5, 1, 0, 1.0 and 5e-1 are accepted; 0.12345 has
 * too many decimal places; 1.5 is out of range).
 *
 * Speed: pbr_event_parse first tries a single-pass scanner (the "fast path"
 * below) that accepts only fully valid lines and builds the event with one
 * allocation for all its strings; anything else goes to the jansson-based
 * reference parser, which alone writes error messages. The canonical form is
 * written into one exactly-sized buffer without printf.
 */
#include <jansson.h>
#include <malloc.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbr/utf8.h"
#include "pbr/event.h"

/* ---- name tables ---------------------------------------------------- */

static const char *const type_names[PBR_EV_TYPE_COUNT] = {
    "release", "community_start", "conviction", "reception", "discharge", "void",
};

static const char *const disposal_names[PBR_DISP_COUNT] = {
    "custody", "sso", "community", "fine", "discharge", "caution", "other",
};

/* Returns the name, or "?" for an out-of-range value. */
const char *pbr_event_type_name(pbr_event_type t)
{
    return (unsigned)t < PBR_EV_TYPE_COUNT ? type_names[t] : "?";
}

/* Returns the type for a name, or -1 (also for NULL). */
int pbr_event_type_from_name(const char *s)
{
    for (int i = 0; s && i < PBR_EV_TYPE_COUNT; i++)
        if (strcmp(s, type_names[i]) == 0)
            return i;
    return -1;
}

/* Returns the name, or "?" for an out-of-range value. */
const char *pbr_disposal_name(pbr_disposal d)
{
    return (unsigned)d < PBR_DISP_COUNT ? disposal_names[d] : "?";
}

/* Returns the disposal for a name, or -1 (also for NULL). */
int pbr_disposal_from_name(const char *s)
{
    for (int i = 0; s && i < PBR_DISP_COUNT; i++)
        if (strcmp(s, disposal_names[i]) == 0)
            return i;
    return -1;
}

/* ---- field table ----------------------------------------------------- */

/* Fields in canonical order; validation also runs in this order. */
typedef enum {
    F_ID, F_TYPE, F_OFFENDER, F_DATE, F_RECORDED,
    F_AREA, F_ESTABLISHMENT, F_PROVIDER, F_ORDER, F_SENTENCE_DAYS, F_AGE,
    F_GENDER, F_OGRS, F_PRIOR_SANCTIONS, F_FLAGS,
    F_OFFENCE_DATE, F_OFFENCES, F_CATEGORY, F_DISPOSAL,
    F_TARGET, F_REASON,
    F_COUNT
} field_id;

typedef enum { K_IDENT, K_STRING, K_DATE, K_INT, K_GENDER, K_OGRS, K_FLAGS, K_DISPOSAL, K_TYPE } field_kind;

typedef struct {
    const char *name;
    field_kind kind;
    int32_t min, max; /* K_INT only */
} field_def;

static const field_def fields[F_COUNT] = {
    [F_ID] = {"id", K_IDENT, 0, 0},
    [F_TYPE] = {"type", K_TYPE, 0, 0},
    [F_OFFENDER] = {"offender", K_IDENT, 0, 0},
    [F_DATE] = {"date", K_DATE, 0, 0},
    [F_RECORDED] = {"recorded", K_DATE, 0, 0},
    [F_AREA] = {"area", K_STRING, 0, 0},
    [F_ESTABLISHMENT] = {"establishment", K_STRING, 0, 0},
    [F_PROVIDER] = {"provider", K_STRING, 0, 0},
    [F_ORDER] = {"order", K_STRING, 0, 0},
    [F_SENTENCE_DAYS] = {"sentence_days", K_INT, 0, INT32_MAX},
    [F_AGE] = {"age", K_INT, 10, 100},
    [F_GENDER] = {"gender", K_GENDER, 0, 0},
    [F_OGRS] = {"ogrs", K_OGRS, 0, 0},
    [F_PRIOR_SANCTIONS] = {"prior_sanctions", K_INT, 0, INT32_MAX},
    [F_FLAGS] = {"flags", K_FLAGS, 0, 0},
    [F_OFFENCE_DATE] = {"offence_date", K_DATE, 0, 0},
    [F_OFFENCES] = {"offences", K_INT, 1, INT32_MAX},
    [F_CATEGORY] = {"category", K_STRING, 0, 0},
    [F_DISPOSAL] = {"disposal", K_DISPOSAL, 0, 0},
    [F_TARGET] = {"target", K_IDENT, 0, 0},
    [F_REASON] = {"reason", K_STRING, 0, 0},
};

#define B(f) (1u << (f))
#define COMMON (B(F_ID) | B(F_TYPE) | B(F_OFFENDER) | B(F_DATE) | B(F_RECORDED))
#define COMMON_REQ (B(F_ID) | B(F_TYPE) | B(F_OFFENDER) | B(F_DATE))

/* Which fields each type accepts, and which of those it requires. */
static const uint32_t allowed_fields[PBR_EV_TYPE_COUNT] = {
    [PBR_EV_RELEASE] = COMMON | B(F_AREA) | B(F_ESTABLISHMENT) | B(F_PROVIDER) | B(F_SENTENCE_DAYS) |
                       B(F_AGE) | B(F_GENDER) | B(F_OGRS) | B(F_PRIOR_SANCTIONS) | B(F_FLAGS),
    [PBR_EV_COMMUNITY_START] = COMMON | B(F_AREA) | B(F_PROVIDER) | B(F_ORDER) | B(F_SENTENCE_DAYS) |
                               B(F_AGE) | B(F_GENDER) | B(F_OGRS) | B(F_PRIOR_SANCTIONS) | B(F_FLAGS),
    [PBR_EV_CONVICTION] = COMMON | B(F_OFFENCE_DATE) | B(F_OFFENCES) | B(F_CATEGORY) | B(F_DISPOSAL) |
                          B(F_AREA),
    [PBR_EV_RECEPTION] = COMMON | B(F_AREA) | B(F_ESTABLISHMENT) | B(F_SENTENCE_DAYS) | B(F_AGE) |
                         B(F_GENDER),
    [PBR_EV_DISCHARGE] = COMMON,
    [PBR_EV_VOID] = B(F_ID) | B(F_TYPE) | B(F_DATE) | B(F_RECORDED) | B(F_TARGET) | B(F_REASON),
};

static const uint32_t required_fields[PBR_EV_TYPE_COUNT] = {
    [PBR_EV_RELEASE] = COMMON_REQ | B(F_AREA) | B(F_ESTABLISHMENT) | B(F_SENTENCE_DAYS) | B(F_AGE) |
                       B(F_GENDER),
    [PBR_EV_COMMUNITY_START] = COMMON_REQ | B(F_AREA) | B(F_ORDER) | B(F_SENTENCE_DAYS) | B(F_AGE) |
                               B(F_GENDER),
    [PBR_EV_CONVICTION] = COMMON_REQ | B(F_OFFENCE_DATE),
    [PBR_EV_RECEPTION] = COMMON_REQ | B(F_AREA) | B(F_ESTABLISHMENT) | B(F_AGE) | B(F_GENDER),
    [PBR_EV_DISCHARGE] = COMMON_REQ,
    [PBR_EV_VOID] = B(F_ID) | B(F_TYPE) | B(F_DATE) | B(F_TARGET) | B(F_REASON),
};

/* ---- error context --------------------------------------------------- */

/* What an error message is prefixed with: `release "r1": `, `event "x1": `
 * or `event: `. */
typedef struct {
    char *err;
    size_t errlen;
    const char *type; /* NULL until known */
    const char *id;   /* NULL until valid */
} parse_ctx;

static const char *printable(const char *s, size_t len, char *out, size_t n);

/* Writes `<type> "<id>": <message>` into the context's buffer. Returns -1. */
static int fail(const parse_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(const parse_ctx *c, const char *fmt, ...)
{
    if (!c->err || c->errlen == 0)
        return -1;
    int n;
    char shown[96];
    if (c->id)
        n = snprintf(c->err, c->errlen, "%s \"%s\": ", c->type ? c->type : "event",
                     printable(c->id, strlen(c->id), shown, sizeof shown));
    else
        n = snprintf(c->err, c->errlen, "%s: ", c->type ? c->type : "event");
    if (n < 0 || (size_t)n >= c->errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* Copies s into out (n bytes) for quoting in a message: printable ASCII
 * except quote and backslash as is, anything else as \xNN, cut to about 64
 * characters with "...". Returns out. */
static const char *printable(const char *s, size_t len, char *out, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (o + 8 >= n || o >= 64) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (ch > 0x20 && ch < 0x7f && ch != '"' && ch != '\\')
            out[o++] = (char)ch;
        else if (ch == ' ')
            out[o++] = ' ';
        else
            o += (size_t)snprintf(out + o, n - o, "\\x%02x", ch);
    }
    out[o] = '\0';
    return out;
}

/* ---- raw text of a top-level member (for exact ogrs) ----------------- */

/* Skips JSON whitespace from *p. */
static void skip_ws(const char *s, size_t len, size_t *p)
{
    while (*p < len && (s[*p] == ' ' || s[*p] == '\t' || s[*p] == '\n' || s[*p] == '\r'))
        (*p)++;
}

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Reads the JSON string at *p (which must be '"'), decoding it into key
 * (keylen bytes; characters outside ASCII or beyond keylen-1 bytes make the
 * decoded key unusable: *fits = 0). Leaves *p after the closing quote.
 * Returns 0, or -1 if the text ends first. */
static int scan_string(const char *s, size_t len, size_t *p, char *key, size_t keylen, int *fits)
{
    size_t k = 0;
    *fits = key != NULL;
    if (*p >= len || s[*p] != '"')
        return -1;
    (*p)++;
    while (*p < len) {
        char ch = s[(*p)++];
        int out = -1;
        if (ch == '"') {
            if (key && keylen)
                key[k < keylen ? k : keylen - 1] = '\0';
            return 0;
        }
        if (ch == '\\') {
            if (*p >= len)
                return -1;
            char e = s[(*p)++];
            switch (e) {
            case 'b': out = '\b'; break;
            case 'f': out = '\f'; break;
            case 'n': out = '\n'; break;
            case 'r': out = '\r'; break;
            case 't': out = '\t'; break;
            case 'u': {
                int v = 0;
                for (int i = 0; i < 4; i++) {
                    if (*p >= len)
                        return -1;
                    int h = hex_value(s[(*p)++]);
                    if (h < 0)
                        return -1;
                    v = v * 16 + h;
                }
                out = v < 0x80 ? v : -1;
                break;
            }
            default: out = (unsigned char)e; break;
            }
        } else {
            out = (unsigned char)ch < 0x80 ? (unsigned char)ch : -1;
        }
        if (out < 0 || k + 1 >= keylen)
            *fits = 0;
        else if (*fits)
            key[k++] = (char)out;
    }
    return -1;
}

/* Skips one JSON value at *p (already validated by jansson; still bounded).
 * Returns 0, or -1 if the text ends first. */
static int skip_value(const char *s, size_t len, size_t *p)
{
    int depth = 0, fits;
    while (*p < len) {
        char ch = s[*p];
        if (ch == '"') {
            if (scan_string(s, len, p, NULL, 0, &fits) < 0)
                return -1;
        } else if (ch == '{' || ch == '[') {
            depth++;
            (*p)++;
        } else if (ch == '}' || ch == ']') {
            if (depth == 0)
                return 0; /* end of the enclosing object */
            depth--;
            (*p)++;
        } else if (ch == ',' && depth == 0) {
            return 0;
        } else {
            (*p)++;
        }
        if (depth == 0 && (ch == '"' || ch == '}' || ch == ']')) {
            skip_ws(s, len, p);
            return 0;
        }
    }
    return -1;
}

/* Finds the raw text of top-level member `name` of the object in s. Returns 0
 * with *start and *n set, or -1 if not found. */
static int find_member_text(const char *s, size_t len, const char *name, size_t *start, size_t *n)
{
    size_t p = 0;
    char key[32];
    int fits;
    skip_ws(s, len, &p);
    if (p >= len || s[p] != '{')
        return -1;
    p++;
    for (;;) {
        skip_ws(s, len, &p);
        if (p >= len || s[p] != '"')
            return -1;
        if (scan_string(s, len, &p, key, sizeof key, &fits) < 0)
            return -1;
        skip_ws(s, len, &p);
        if (p >= len || s[p] != ':')
            return -1;
        p++;
        skip_ws(s, len, &p);
        size_t v = p;
        if (skip_value(s, len, &p) < 0)
            return -1;
        if (fits && strcmp(key, name) == 0) {
            size_t e = p;
            while (e > v && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\n' || s[e - 1] == '\r'))
                e--;
            *start = v;
            *n = e - v;
            return 0;
        }
        skip_ws(s, len, &p);
        if (p >= len || s[p] != ',')
            return -1;
        p++;
    }
}

/* Reads JSON number text exactly as ten-thousandths. Returns 0 with *out in
 * 0..10000, -1 when the text is not a number, -2 when it needs more than 4
 * decimal places, -3 when it is outside 0..1. */
static int ogrs_from_text(const char *s, size_t len, int32_t *out)
{
    char digits[32];
    size_t nd = 0, p = 0;
    int neg = 0;
    long exp10 = 0;
    if (p < len && s[p] == '-') {
        neg = 1;
        p++;
    }
    if (p >= len || s[p] < '0' || s[p] > '9')
        return -1;
    /* significant digits with leading zeros dropped; exp10 tracks the scale */
    for (; p < len && s[p] >= '0' && s[p] <= '9'; p++) {
        if (s[p] != '0' || nd > 0) {
            if (nd >= sizeof digits)
                return -3; /* 32 integer digits: far above 1 */
            digits[nd++] = s[p];
        }
    }
    if (p < len && s[p] == '.') {
        p++;
        for (; p < len && s[p] >= '0' && s[p] <= '9'; p++) {
            exp10--;
            if (s[p] != '0' || nd > 0) {
                if (nd >= sizeof digits)
                    return -2; /* more than 32 significant digits */
                digits[nd++] = s[p];
            }
        }
    }
    if (p < len && (s[p] == 'e' || s[p] == 'E')) {
        p++;
        int eneg = 0;
        long e = 0;
        if (p < len && (s[p] == '+' || s[p] == '-'))
            eneg = s[p++] == '-';
        if (p >= len || s[p] < '0' || s[p] > '9')
            return -1;
        for (; p < len && s[p] >= '0' && s[p] <= '9'; p++)
            if (e < 100000)
                e = e * 10 + (s[p] - '0');
        exp10 += eneg ? -e : e;
    }
    if (p != len)
        return -1;
    while (nd > 0 && digits[nd - 1] == '0') {
        nd--;
        exp10++;
    }
    if (nd == 0) {
        *out = 0;
        return 0;
    }
    if (neg)
        return -3;
    if (exp10 < -4)
        return -2;
    /* value = digits x 10^exp10 <= 1 means at most 5 significant digits at scale -4 */
    long scale = exp10 + 4; /* >= 0 */
    if ((long)nd + scale > 5)
        return -3;
    int64_t v = 0;
    for (size_t i = 0; i < nd; i++)
        v = v * 10 + (digits[i] - '0');
    for (long i = 0; i < scale; i++)
        v *= 10;
    if (v > 10000)
        return -3;
    *out = (int32_t)v;
    return 0;
}

/* ---- field readers --------------------------------------------------- */

/* Returns 1 if s (len bytes) is an identifier: 1..64 bytes 0x21..0x7e. */
static int is_identifier(const char *s, size_t len)
{
    if (len < 1 || len > PBR_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

/* Returns a malloc'd copy of a JSON string value, or NULL with err set. */
static char *copy_string(const parse_ctx *c, const field_def *f, json_t *v, int identifier)
{
    if (!json_is_string(v)) {
        fail(c, "field \"%s\" must be a string", f->name);
        return NULL;
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (identifier && !is_identifier(s, len)) {
        fail(c, "field \"%s\" must be 1..%d printable ASCII bytes without spaces", f->name, PBR_ID_MAX);
        return NULL;
    }
    if (len == 0) {
        fail(c, "field \"%s\" is empty", f->name);
        return NULL;
    }
    if (len > PBR_STRING_MAX) {
        fail(c, "field \"%s\" is longer than %d bytes", f->name, PBR_STRING_MAX);
        return NULL;
    }
    if (memchr(s, '\0', len)) { /* cannot happen without JSON_ALLOW_NUL; kept as a guard */
        fail(c, "field \"%s\" contains a NUL byte", f->name);
        return NULL;
    }
    char *copy = strndup(s, len);
    if (!copy)
        fail(c, "out of memory copying field \"%s\"", f->name);
    return copy;
}

/* Reads a date field. Returns 0 or -1 with err set. */
static int read_date(const parse_ctx *c, const field_def *f, json_t *v, pbr_date *out)
{
    char shown[96];
    if (!json_is_string(v))
        return fail(c, "field \"%s\" must be a YYYY-MM-DD string", f->name);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    int rc = pbr_date_parse(s, len, out);
    if (rc == -2)
        return fail(c, "%s \"%s\" is not a real day", f->name, printable(s, len, shown, sizeof shown));
    if (rc != 0)
        return fail(c, "%s \"%s\" is not a YYYY-MM-DD date", f->name, printable(s, len, shown, sizeof shown));
    return 0;
}

/* Reads an integer field with its range. Returns 0 or -1 with err set. */
static int read_int(const parse_ctx *c, const field_def *f, json_t *v, int32_t *out)
{
    if (!json_is_integer(v))
        return fail(c, "field \"%s\" must be an integer", f->name);
    json_int_t x = json_integer_value(v);
    if (x < f->min || x > f->max) {
        if (f->max == INT32_MAX)
            return fail(c, "%s %lld is out of range: must be %d or more", f->name, (long long)x, f->min);
        return fail(c, "%s %lld is out of range %d..%d", f->name, (long long)x, f->min, f->max);
    }
    *out = (int32_t)x;
    return 0;
}

/* Reads gender M/F/X. Returns 0 or -1 with err set. */
static int read_gender(const parse_ctx *c, const field_def *f, json_t *v, char *out)
{
    char shown[96];
    if (!json_is_string(v))
        return fail(c, "field \"%s\" must be a string", f->name);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len != 1 || (s[0] != 'M' && s[0] != 'F' && s[0] != 'X'))
        return fail(c, "gender \"%s\" is not one of M, F, X", printable(s, len, shown, sizeof shown));
    *out = s[0];
    return 0;
}

/* Reads the disposal enum. Returns 0 or -1 with err set. */
static int read_disposal(const parse_ctx *c, const field_def *f, json_t *v, pbr_disposal *out)
{
    char shown[96];
    if (!json_is_string(v))
        return fail(c, "field \"%s\" must be a string", f->name);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    int d = memchr(s, '\0', len) ? -1 : pbr_disposal_from_name(s);
    if (d < 0)
        return fail(c, "disposal \"%s\" is not one of custody, sso, community, fine, discharge, caution, other",
                    printable(s, len, shown, sizeof shown));
    *out = (pbr_disposal)d;
    return 0;
}

/* Reads ogrs exactly from the raw line text. Returns 0 or -1 with err set. */
static int read_ogrs(const parse_ctx *c, const field_def *f, json_t *v, const char *raw, size_t rawlen,
                     int32_t *out)
{
    char shown[96];
    size_t start, n;
    if (!json_is_number(v))
        return fail(c, "field \"%s\" must be a number", f->name);
    if (find_member_text(raw, rawlen, f->name, &start, &n) < 0)
        return fail(c, "field \"%s\": cannot locate its text", f->name);
    int rc = ogrs_from_text(raw + start, n, out);
    printable(raw + start, n, shown, sizeof shown);
    if (rc == -2)
        return fail(c, "ogrs %s has more than 4 decimal places", shown);
    if (rc == -3)
        return fail(c, "ogrs %s is out of range 0..1", shown);
    if (rc != 0)
        return fail(c, "field \"%s\" must be a number", f->name);
    return 0;
}

/* Reads the flags list. Returns 0 or -1 with err set (ev->flags then holds
 * what was read so far; pbr_event_free releases it). */
static int read_flags(const parse_ctx *c, const field_def *f, json_t *v, pbr_event *ev)
{
    if (!json_is_array(v))
        return fail(c, "field \"%s\" must be a list of strings", f->name);
    size_t n = json_array_size(v);
    if (n > PBR_FLAGS_MAX)
        return fail(c, "field \"%s\" has %zu entries, more than %d", f->name, n, PBR_FLAGS_MAX);
    if (n == 0)
        return 0;
    ev->flags = calloc(n, sizeof *ev->flags);
    if (!ev->flags)
        return fail(c, "out of memory reading field \"%s\"", f->name);
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(v, i);
        if (!json_is_string(item))
            return fail(c, "field \"%s\" must be a list of strings", f->name);
        ev->flags[i] = copy_string(c, f, item, 0);
        if (!ev->flags[i])
            return -1;
        ev->nflags++;
    }
    return 0;
}

/* Reads one present field into ev. Returns 0 or -1 with err set. */
static int read_field(const parse_ctx *c, field_id id, json_t *v, const char *raw, size_t rawlen, pbr_event *ev)
{
    const field_def *f = &fields[id];
    char **str = NULL;
    int32_t *num = NULL;
    switch (id) {
    case F_ID: case F_TYPE: return 0; /* read first, by parse_identity */
    case F_OFFENDER: str = &ev->offender; break;
    case F_DATE: return read_date(c, f, v, &ev->date);
    case F_RECORDED: return read_date(c, f, v, &ev->recorded);
    case F_AREA: str = &ev->area; break;
    case F_ESTABLISHMENT: str = &ev->establishment; break;
    case F_PROVIDER: str = &ev->provider; break;
    case F_ORDER: str = &ev->order; break;
    case F_SENTENCE_DAYS: num = &ev->sentence_days; break;
    case F_AGE: num = &ev->age; break;
    case F_GENDER: return read_gender(c, f, v, &ev->gender);
    case F_OGRS: return read_ogrs(c, f, v, raw, rawlen, &ev->ogrs);
    case F_PRIOR_SANCTIONS: num = &ev->prior_sanctions; break;
    case F_FLAGS: return read_flags(c, f, v, ev);
    case F_OFFENCE_DATE: return read_date(c, f, v, &ev->offence_date);
    case F_OFFENCES: num = &ev->offences; break;
    case F_CATEGORY: str = &ev->category; break;
    case F_DISPOSAL: return read_disposal(c, f, v, &ev->disposal);
    case F_TARGET: str = &ev->target; break;
    case F_REASON: str = &ev->reason; break;
    case F_COUNT: break;
    }
    if (num)
        return read_int(c, f, v, num);
    if (str) {
        *str = copy_string(c, f, v, f->kind == K_IDENT);
        return *str ? 0 : -1;
    }
    return fail(c, "internal error: field %d", (int)id);
}

/* Returns the field for a key, or -1. */
static int field_from_name(const char *key)
{
    for (int i = 0; i < F_COUNT; i++)
        if (strcmp(key, fields[i].name) == 0)
            return i;
    return -1;
}

/* ---- parse ----------------------------------------------------------- */

/* Sets the absent markers and defaults of a fresh event. */
static void init_event(pbr_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->date = PBR_DATE_NONE;
    ev->recorded = PBR_DATE_NONE;
    ev->offence_date = PBR_DATE_NONE;
    ev->sentence_days = -1;
    ev->age = -1;
    ev->ogrs = -1;
    ev->prior_sanctions = -1;
    ev->offences = 1;
    ev->disposal = PBR_DISP_OTHER;
}

/* Reads id and type into c and ev. Returns 0 or -1 with err set. */
static int parse_identity(parse_ctx *c, json_t *root, pbr_event *ev)
{
    char shown[96];
    json_t *id = json_object_get(root, "id");
    if (!id)
        return fail(c, "missing required field \"id\"");
    ev->id = copy_string(c, &fields[F_ID], id, 1);
    if (!ev->id)
        return -1;
    c->id = ev->id;
    json_t *type = json_object_get(root, "type");
    if (!type)
        return fail(c, "missing required field \"type\"");
    if (!json_is_string(type))
        return fail(c, "field \"type\" must be a string");
    const char *s = json_string_value(type);
    size_t len = json_string_length(type);
    int t = memchr(s, '\0', len) ? -1 : pbr_event_type_from_name(s);
    if (t < 0)
        return fail(c, "unknown type \"%s\"", printable(s, len, shown, sizeof shown));
    ev->type = (pbr_event_type)t;
    c->type = type_names[t];
    return 0;
}

/* Rejects keys the event's type does not accept. Returns 0 or -1. */
static int reject_unknown_fields(const parse_ctx *c, json_t *root, pbr_event_type t)
{
    char shown[96];
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        int f = field_from_name(key);
        if (f < 0 || !(allowed_fields[t] & B(f)))
            return fail(c, "unknown field \"%s\"", printable(key, strlen(key), shown, sizeof shown));
    }
    return 0;
}

/* Reads every field of the type in canonical order. Returns 0 or -1. */
static int parse_fields(const parse_ctx *c, json_t *root, const char *raw, size_t rawlen, pbr_event *ev)
{
    for (int f = 0; f < F_COUNT; f++) {
        if (!(allowed_fields[ev->type] & B(f)))
            continue;
        json_t *v = json_object_get(root, fields[f].name);
        if (!v) {
            if (required_fields[ev->type] & B(f))
                return fail(c, "missing required field \"%s\"", fields[f].name);
            continue;
        }
        if (read_field(c, (field_id)f, v, raw, rawlen, ev) < 0)
            return -1;
    }
    return 0;
}

/* Applies the rules between fields. Returns 0 or -1. */
static int check_field_relations(const parse_ctx *c, pbr_event *ev)
{
    char a[PBR_DATE_STRLEN], b[PBR_DATE_STRLEN];
    if (ev->recorded == PBR_DATE_NONE)
        ev->recorded = ev->date;
    if (ev->recorded < ev->date) {
        pbr_date_format(ev->recorded, a);
        pbr_date_format(ev->date, b);
        return fail(c, "recorded %s is before date %s", a, b);
    }
    if (ev->type == PBR_EV_CONVICTION && ev->offence_date > ev->date) {
        pbr_date_format(ev->offence_date, a);
        pbr_date_format(ev->date, b);
        return fail(c, "offence_date %s is after date %s", a, b);
    }
    return 0;
}

/* The reference parser: jansson validates the JSON, then the field readers
 * above apply every rule. Returns 0, or -1 with err set and *out left empty. */
int pbr_event_parse_reference(const char *json, size_t len, pbr_event *out, char *err, size_t errlen)
{
    parse_ctx c = {err, errlen, NULL, NULL};
    json_error_t jerr;
    int rc = -1;
    init_event(out);
    if (err && errlen)
        err[0] = '\0';
    if (!json) {
        memset(out, 0, sizeof *out);
        return fail(&c, "no input");
    }
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (err && errlen)
            snprintf(err, errlen, "line is not a JSON object: %s at byte %d", jerr.text, jerr.position);
        memset(out, 0, sizeof *out);
        return -1;
    }
    if (!json_is_object(root)) {
        if (err && errlen)
            snprintf(err, errlen, "line is not a JSON object: it is an array");
        goto done;
    }
    if (parse_identity(&c, root, out) < 0)
        goto done;
    if (reject_unknown_fields(&c, root, out->type) < 0)
        goto done;
    if (parse_fields(&c, root, json, len, out) < 0)
        goto done;
    if (check_field_relations(&c, out) < 0)
        goto done;
    rc = 0;
done:
    json_decref(root);
    if (rc != 0)
        pbr_event_free(out);
    return rc;
}

/* ---- fast path --------------------------------------------------------
 *
 * One pass over the line, no jansson, no allocation until the event is
 * known to be valid. It accepts only what the reference parser accepts and
 * builds the identical event: strict RFC 8259 syntax (strings with every
 * escape and \u surrogate pairs, strict UTF-8, the number grammar), every
 * member a known field at most once, and every per-field rule. Anything
 * else -- any error, and anything it does not bother with (true/false/null,
 * objects, \u0000, integers of more than 10 digits) -- makes it give up, and
 * pbr_event_parse then runs the reference parser, so error messages come
 * from one place only. */

#define FAST_STACK_SCRATCH 2048 /* lines up to this size decode on the stack */

typedef enum { V_NONE = 0, V_STRING, V_INTEGER, V_REAL, V_ARRAY } fast_kind;

/* A member value: V_STRING has its decoded bytes at scratch[off..off+len);
 * V_INTEGER/V_REAL its number token at line[off..off+len); V_ARRAY (flags)
 * has items item_off/item_len[0..len). */
typedef struct {
    fast_kind kind;
    size_t off, len;
} fast_value;

typedef struct {
    const unsigned char *s; /* the line */
    size_t len, p;          /* its length and the read position */
    char *scratch;          /* decoded strings; never more bytes than the line */
    size_t used;
    uint32_t seen;          /* B(field) of every member read */
    fast_value v[F_COUNT];
    size_t item_off[PBR_FLAGS_MAX], item_len[PBR_FLAGS_MAX];
} fast_scan;

static void fast_skip_ws(fast_scan *fs)
{
    while (fs->p < fs->len &&
           (fs->s[fs->p] == ' ' || fs->s[fs->p] == '\t' || fs->s[fs->p] == '\n' || fs->s[fs->p] == '\r'))
        fs->p++;
}

/* Reads 4 hex digits at s[p]. Returns the value, or -1. */
static long read_hex4(const unsigned char *s, size_t len, size_t p)
{
    long v = 0;
    if (len < 4 || p > len - 4)
        return -1;
    for (size_t i = 0; i < 4; i++) {
        int h = hex_value((char)s[p + i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Writes code point cp (not a surrogate, <= 0x10FFFF) as UTF-8 at o.
 * Returns the position after it. */
static char *put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* Decodes the \u escape whose hex digits start at s[*p] (a surrogate pair
 * takes the following \uXXXX too) into *cp and moves *p past it. Returns 0,
 * or -1 for what jansson rejects: bad hex, \u0000, a lone surrogate. */
static int read_unicode_escape(const unsigned char *s, size_t len, size_t *p, uint32_t *cp)
{
    long hi = read_hex4(s, len, *p), lo;
    if (hi <= 0 || (hi >= 0xDC00 && hi <= 0xDFFF))
        return -1;
    *p += 4;
    if (hi < 0xD800 || hi > 0xDBFF) {
        *cp = (uint32_t)hi;
        return 0;
    }
    if (*p + 2 > len || s[*p] != '\\' || s[*p + 1] != 'u')
        return -1;
    lo = read_hex4(s, len, *p + 2);
    if (lo < 0xDC00 || lo > 0xDFFF)
        return -1;
    *p += 6;
    *cp = 0x10000u + (((uint32_t)hi - 0xD800u) << 10) + ((uint32_t)lo - 0xDC00u);
    return 0;
}

/* Decodes the JSON string at the read position (its opening quote) into the
 * scratch buffer; *off and *n say where. Returns 0, or -1 on anything that
 * is not a valid string (control characters, bad escapes, bad UTF-8). */
static int fast_string(fast_scan *fs, size_t *off, size_t *n)
{
    const unsigned char *s = fs->s;
    size_t p = fs->p + 1, len = fs->len;
    char *start = fs->scratch + fs->used, *o = start;
    for (;;) {
        if (p >= len)
            return -1;
        unsigned char c = s[p];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *o++ = (char)c;
            p++;
        } else if (c == '"') {
            break;
        } else if (c >= 0x80) {
            size_t k = pbr_utf8_char_len(s + p, len - p);
            if (k == 0)
                return -1;
            memcpy(o, s + p, k);
            o += k;
            p += k;
        } else if (c == '\\' && p + 1 < len) {
            uint32_t cp;
            c = s[p + 1];
            p += 2;
            switch (c) {
            case '"': case '\\': case '/': *o++ = (char)c; break;
            case 'b': *o++ = '\b'; break;
            case 'f': *o++ = '\f'; break;
            case 'n': *o++ = '\n'; break;
            case 'r': *o++ = '\r'; break;
            case 't': *o++ = '\t'; break;
            case 'u':
                if (read_unicode_escape(s, len, &p, &cp) < 0)
                    return -1;
                o = put_utf8(o, cp);
                break;
            default: return -1;
            }
        } else {
            return -1; /* control character, or a backslash at the end */
        }
    }
    fs->p = p + 1;
    *off = (size_t)(start - fs->scratch);
    *n = (size_t)(o - start);
    fs->used += *n;
    return 0;
}

/* Scans an RFC 8259 number token at the read position. Returns V_INTEGER
 * (no fraction, no exponent) or V_REAL with the token in *off and *n, or -1. */
static int fast_number(fast_scan *fs, size_t *off, size_t *n)
{
    const unsigned char *s = fs->s;
    size_t p = fs->p, len = fs->len;
    int kind = V_INTEGER;
    if (p < len && s[p] == '-')
        p++;
    if (p >= len || s[p] < '0' || s[p] > '9')
        return -1;
    if (s[p] == '0')
        p++;
    else
        while (p < len && s[p] >= '0' && s[p] <= '9')
            p++;
    if (p < len && s[p] == '.') {
        kind = V_REAL;
        if (++p >= len || s[p] < '0' || s[p] > '9')
            return -1;
        while (p < len && s[p] >= '0' && s[p] <= '9')
            p++;
    }
    if (p < len && (s[p] == 'e' || s[p] == 'E')) {
        kind = V_REAL;
        p++;
        if (p < len && (s[p] == '+' || s[p] == '-'))
            p++;
        if (p >= len || s[p] < '0' || s[p] > '9')
            return -1;
        while (p < len && s[p] >= '0' && s[p] <= '9')
            p++;
    }
    *off = fs->p;
    *n = p - fs->p;
    fs->p = p;
    return kind;
}

/* Reads the flags array of strings at the read position ('['). Returns 0
 * with the item count in *n, or -1 (not strings, more than PBR_FLAGS_MAX). */
static int fast_flags(fast_scan *fs, size_t *n)
{
    *n = 0;
    fs->p++;
    fast_skip_ws(fs);
    if (fs->p < fs->len && fs->s[fs->p] == ']') {
        fs->p++;
        return 0;
    }
    for (;;) {
        if (*n >= PBR_FLAGS_MAX || fs->p >= fs->len || fs->s[fs->p] != '"')
            return -1;
        if (fast_string(fs, &fs->item_off[*n], &fs->item_len[*n]) < 0)
            return -1;
        (*n)++;
        fast_skip_ws(fs);
        if (fs->p >= fs->len)
            return -1;
        if (fs->s[fs->p] == ']') {
            fs->p++;
            return 0;
        }
        if (fs->s[fs->p] != ',')
            return -1;
        fs->p++;
        fast_skip_ws(fs);
    }
}

/* Returns the field named by key (len bytes), or -1. */
static int field_from_key(const char *key, size_t len)
{
    static const uint8_t name_len[F_COUNT] = {
        [F_ID] = 2, [F_TYPE] = 4, [F_OFFENDER] = 8, [F_DATE] = 4, [F_RECORDED] = 8, [F_AREA] = 4,
        [F_ESTABLISHMENT] = 13, [F_PROVIDER] = 8, [F_ORDER] = 5, [F_SENTENCE_DAYS] = 13, [F_AGE] = 3,
        [F_GENDER] = 6, [F_OGRS] = 4, [F_PRIOR_SANCTIONS] = 15, [F_FLAGS] = 5, [F_OFFENCE_DATE] = 12,
        [F_OFFENCES] = 8, [F_CATEGORY] = 8, [F_DISPOSAL] = 8, [F_TARGET] = 6, [F_REASON] = 6,
    };
    for (int i = 0; i < F_COUNT; i++)
        if (name_len[i] == len && fields[i].name[0] == key[0] && memcmp(fields[i].name, key, len) == 0)
            return i;
    return -1;
}

/* Reads one member ("key": value) at the read position into fs->v.
 * Returns 0, or -1 (unknown or repeated key, or a value the fast path does
 * not take). */
static int fast_member(fast_scan *fs)
{
    size_t koff, klen;
    if (fs->p >= fs->len || fs->s[fs->p] != '"' || fast_string(fs, &koff, &klen) < 0 || klen == 0)
        return -1;
    int f = field_from_key(fs->scratch + koff, klen);
    fs->used = koff; /* the key's bytes are not needed any more */
    if (f < 0 || (fs->seen & B(f)))
        return -1;
    fs->seen |= B(f);
    fast_skip_ws(fs);
    if (fs->p >= fs->len || fs->s[fs->p] != ':')
        return -1;
    fs->p++;
    fast_skip_ws(fs);
    if (fs->p >= fs->len)
        return -1;
    fast_value *v = &fs->v[f];
    unsigned char c = fs->s[fs->p];
    if (c == '"') {
        v->kind = V_STRING;
        return fast_string(fs, &v->off, &v->len);
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        int kind = fast_number(fs, &v->off, &v->len);
        if (kind < 0)
            return -1;
        v->kind = (fast_kind)kind;
        return 0;
    }
    if (c == '[' && f == F_FLAGS) {
        v->kind = V_ARRAY;
        return fast_flags(fs, &v->len);
    }
    return -1;
}

/* Scans the whole line as one object of members. Returns 0 or -1. */
static int fast_scan_object(fast_scan *fs)
{
    fast_skip_ws(fs);
    if (fs->p >= fs->len || fs->s[fs->p] != '{')
        return -1;
    fs->p++;
    for (;;) {
        fast_skip_ws(fs);
        if (fast_member(fs) < 0)
            return -1;
        fast_skip_ws(fs);
        if (fs->p >= fs->len)
            return -1;
        if (fs->s[fs->p] == '}')
            break;
        if (fs->s[fs->p] != ',')
            return -1;
        fs->p++;
    }
    fs->p++;
    fast_skip_ws(fs);
    return fs->p == fs->len ? 0 : -1;
}

/* Returns the decoded bytes of a V_STRING value. */
static const char *fast_text(const fast_scan *fs, field_id f)
{
    return fs->scratch + fs->v[f].off;
}

/* Returns the index of the name (len bytes) in names[0..n), or -1. */
static int name_index(const char *const *names, int n, const char *s, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strncmp(names[i], s, len) == 0 && names[i][len] == '\0')
            return i;
    return -1;
}

/* Reads an integer token of at most 10 digits into *out. Returns 0 or -1. */
static int fast_integer(const char *s, size_t len, int64_t *out)
{
    size_t p = s[0] == '-';
    int64_t v = 0;
    if (len - p > 10)
        return -1;
    for (; p < len; p++)
        v = v * 10 + (s[p] - '0');
    *out = s[0] == '-' ? -v : v;
    return 0;
}

/* Checks one present field of the scan against the rules and stores its
 * non-string value in ev (strings are copied later). Returns 0 or -1. */
static int fast_check_field(const fast_scan *fs, field_id f, pbr_event *ev)
{
    const fast_value *v = &fs->v[f];
    const field_def *d = &fields[f];
    const char *raw = (const char *)fs->s + v->off;
    int64_t x;
    switch (d->kind) {
    case K_TYPE:
        return 0;
    case K_IDENT:
        return v->kind == V_STRING && is_identifier(fast_text(fs, f), v->len) ? 0 : -1;
    case K_STRING:
        return v->kind == V_STRING && v->len >= 1 && v->len <= PBR_STRING_MAX ? 0 : -1;
    case K_DATE: {
        pbr_date *out = f == F_DATE ? &ev->date : f == F_RECORDED ? &ev->recorded : &ev->offence_date;
        return v->kind == V_STRING && pbr_date_parse(fast_text(fs, f), v->len, out) == 0 ? 0 : -1;
    }
    case K_INT: {
        int32_t *out = f == F_SENTENCE_DAYS ? &ev->sentence_days
                       : f == F_AGE         ? &ev->age
                       : f == F_OFFENCES    ? &ev->offences
                                            : &ev->prior_sanctions;
        if (v->kind != V_INTEGER || fast_integer(raw, v->len, &x) < 0 || x < d->min || x > d->max)
            return -1;
        *out = (int32_t)x;
        return 0;
    }
    case K_GENDER:
        if (v->kind != V_STRING || v->len != 1 || !strchr("MFX", fast_text(fs, f)[0]) || !fast_text(fs, f)[0])
            return -1;
        ev->gender = fast_text(fs, f)[0];
        return 0;
    case K_OGRS:
        return (v->kind == V_INTEGER || v->kind == V_REAL) && ogrs_from_text(raw, v->len, &ev->ogrs) == 0 ? 0 : -1;
    case K_FLAGS:
        if (v->kind != V_ARRAY)
            return -1;
        for (size_t i = 0; i < v->len; i++)
            if (fs->item_len[i] < 1 || fs->item_len[i] > PBR_STRING_MAX)
                return -1;
        return 0;
    case K_DISPOSAL: {
        int disp = v->kind == V_STRING ? name_index(disposal_names, PBR_DISP_COUNT, fast_text(fs, f), v->len) : -1;
        if (disp < 0)
            return -1;
        ev->disposal = (pbr_disposal)disp;
        return 0;
    }
    }
    return -1;
}

/* The string fields of an event, in arena order (id first: the arena
 * starts with it, so free(ev->id) releases the whole block). */
static const field_id string_fields[] = {
    F_ID, F_OFFENDER, F_AREA, F_ESTABLISHMENT, F_PROVIDER, F_ORDER, F_CATEGORY, F_TARGET, F_REASON,
};

/* Returns where ev keeps string field f. */
static char **string_slot(pbr_event *ev, field_id f)
{
    switch (f) {
    case F_OFFENDER: return &ev->offender;
    case F_AREA: return &ev->area;
    case F_ESTABLISHMENT: return &ev->establishment;
    case F_PROVIDER: return &ev->provider;
    case F_ORDER: return &ev->order;
    case F_CATEGORY: return &ev->category;
    case F_TARGET: return &ev->target;
    case F_REASON: return &ev->reason;
    default: return &ev->id;
    }
}

/* Copies the event's strings (and the flags pointer array) into one malloc'd
 * block starting with the id. Returns 0, or -1 when out of memory. */
static int fast_copy_strings(const fast_scan *fs, pbr_event *ev)
{
    size_t total = 0, nflags = fs->seen & B(F_FLAGS) ? fs->v[F_FLAGS].len : 0;
    for (size_t i = 0; i < sizeof string_fields / sizeof string_fields[0]; i++)
        if (fs->seen & B(string_fields[i]))
            total += fs->v[string_fields[i]].len + 1;
    for (size_t i = 0; i < nflags; i++)
        total += fs->item_len[i] + 1;
    size_t ptrs = (total + sizeof(char *) - 1) / sizeof(char *) * sizeof(char *);
    size_t flag_slots = nflags * sizeof(const char *); /* the flags pointer array after the text */
    char *block = malloc(ptrs + flag_slots);
    if (!block)
        return -1;
    char *o = block;
    for (size_t i = 0; i < sizeof string_fields / sizeof string_fields[0]; i++) {
        field_id f = string_fields[i];
        if (!(fs->seen & B(f)))
            continue;
        *string_slot(ev, f) = o;
        memcpy(o, fast_text(fs, f), fs->v[f].len);
        o += fs->v[f].len;
        *o++ = '\0';
    }
    if (nflags > 0) {
        ev->flags = (char **)(void *)(block + ptrs);
        for (size_t i = 0; i < nflags; i++) {
            ev->flags[i] = o;
            memcpy(o, fs->scratch + fs->item_off[i], fs->item_len[i]);
            o += fs->item_len[i];
            *o++ = '\0';
        }
        ev->nflags = nflags;
    }
    return 0;
}

/* Builds the event from a scanned line if every rule holds. Returns 0, or
 * -1 with *ev untouched by allocation (nothing to free). */
static int fast_build(const fast_scan *fs, pbr_event *ev)
{
    if ((fs->seen & (B(F_ID) | B(F_TYPE))) != (B(F_ID) | B(F_TYPE)) || fs->v[F_TYPE].kind != V_STRING)
        return -1;
    int t = name_index(type_names, PBR_EV_TYPE_COUNT, fast_text(fs, F_TYPE), fs->v[F_TYPE].len);
    if (t < 0 || (fs->seen & ~allowed_fields[t]) || (fs->seen & required_fields[t]) != required_fields[t])
        return -1;
    ev->type = (pbr_event_type)t;
    for (int f = 0; f < F_COUNT; f++)
        if ((fs->seen & B(f)) && fast_check_field(fs, (field_id)f, ev) < 0)
            return -1;
    if (ev->recorded == PBR_DATE_NONE)
        ev->recorded = ev->date;
    if (ev->recorded < ev->date || (ev->type == PBR_EV_CONVICTION && ev->offence_date > ev->date))
        return -1;
    return fast_copy_strings(fs, ev);
}

/* The fast path. Returns 0 with *out built, or -1 (give up: *out is then
 * reset and nothing was allocated). */
static int fast_parse(const char *json, size_t len, pbr_event *out)
{
    char stack[FAST_STACK_SCRATCH];
    fast_scan fs;
    int rc;
    memset(&fs, 0, offsetof(fast_scan, v) + sizeof fs.v);
    fs.s = (const unsigned char *)json;
    fs.len = len;
    fs.scratch = len <= sizeof stack ? stack : malloc(len);
    if (!fs.scratch)
        return -1;
    init_event(out);
    rc = fast_scan_object(&fs) == 0 ? fast_build(&fs, out) : -1;
    if (rc != 0)
        init_event(out);
    if (fs.scratch != stack)
        free(fs.scratch);
    return rc;
}

/* Parses and validates one JSON object: the fast path, or the reference
 * parser for anything the fast path gives up on (every error included).
 * Returns 0, or -1 with err set and *out left empty. */
int pbr_event_parse(const char *json, size_t len, pbr_event *out, char *err, size_t errlen)
{
    if (json && fast_parse(json, len, out) == 0) {
        if (err && errlen)
            err[0] = '\0';
        return 0;
    }
    return pbr_event_parse_reference(json, len, out, err, errlen);
}

/* Frees p unless it lies inside the block [base, base + size). */
static void free_unless_inside(void *p, const char *base, size_t size)
{
    uintptr_t x = (uintptr_t)p, b = (uintptr_t)base;
    if (!(size > 0 && x >= b && x < b + size))
        free(p);
}

/* Releases the strings of ev and zeroes it. Safe on a zeroed event and NULL.
 * An event from the fast path keeps all its strings and its flags array in
 * one block that starts at ev->id; one from the reference parser has one
 * allocation each. Live allocations never overlap, so a pointer inside the
 * id's block belongs to that block. */
void pbr_event_free(pbr_event *ev)
{
    if (!ev)
        return;
    const char *base = ev->id;
    size_t size = base ? malloc_usable_size(ev->id) : 0;
    free_unless_inside(ev->offender, base, size);
    free_unless_inside(ev->area, base, size);
    free_unless_inside(ev->provider, base, size);
    free_unless_inside(ev->establishment, base, size);
    free_unless_inside(ev->order, base, size);
    for (size_t i = 0; i < ev->nflags; i++)
        free_unless_inside(ev->flags[i], base, size);
    free_unless_inside(ev->flags, base, size);
    free_unless_inside(ev->category, base, size);
    free_unless_inside(ev->target, base, size);
    free_unless_inside(ev->reason, base, size);
    free(ev->id);
    memset(ev, 0, sizeof *ev);
}

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
    char text[12] = {'"', (char)('0' + y / 1000), (char)('0' + y / 100 % 10), (char)('0' + y / 10 % 10),
                     (char)('0' + y % 10), '-', (char)('0' + m / 10), (char)('0' + m % 10), '-',
                     (char)('0' + dd / 10), (char)('0' + dd % 10), '"'};
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
    default:
        break;
    }
    cw_put(w, "}", 1);
}

/* Returns a bound on the canonical size of ev: its strings exactly, the
 * rest by CANON_FIXED_MAX. */
static size_t canonical_bound(const pbr_event *ev)
{
    const char *strings[] = {ev->id, ev->offender, ev->area, ev->establishment, ev->provider,
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
