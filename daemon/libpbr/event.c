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
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Parses and validates one JSON object. Returns 0, or -1 with err set and
 * *out left empty. */
int pbr_event_parse(const char *json, size_t len, pbr_event *out, char *err, size_t errlen)
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

/* Releases the strings of ev and zeroes it. Safe on a zeroed event and NULL. */
void pbr_event_free(pbr_event *ev)
{
    if (!ev)
        return;
    free(ev->id);
    free(ev->offender);
    free(ev->area);
    free(ev->provider);
    free(ev->establishment);
    free(ev->order);
    for (size_t i = 0; i < ev->nflags; i++)
        free(ev->flags[i]);
    free(ev->flags);
    free(ev->category);
    free(ev->target);
    free(ev->reason);
    memset(ev, 0, sizeof *ev);
}

/* ---- canonical form -------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} sbuf;

/* Appends n bytes; on allocation failure marks the buffer failed. */
static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->buf, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->buf = p;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

/* Appends s as a JSON string literal (UTF-8 kept, controls escaped). */
static void sb_json_string(sbuf *b, const char *s)
{
    char esc[8];
    sb_put(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"' || ch == '\\') {
            esc[0] = '\\';
            esc[1] = (char)ch;
            sb_put(b, esc, 2);
        } else if (ch < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", ch);
            sb_put(b, esc, 6);
        } else {
            sb_put(b, (const char *)p, 1);
        }
    }
    sb_put(b, "\"", 1);
}

/* Appends ,"key": (no comma before the first key). */
static void sb_key(sbuf *b, const char *key)
{
    sb_put(b, b->len > 1 ? ",\"" : "\"", b->len > 1 ? 2 : 1);
    sb_puts(b, key);
    sb_put(b, "\":", 2);
}

static void sb_str_field(sbuf *b, const char *key, const char *v)
{
    if (!v)
        return;
    sb_key(b, key);
    sb_json_string(b, v);
}

static void sb_int_field(sbuf *b, const char *key, int32_t v)
{
    char num[16];
    if (v < 0)
        return;
    sb_key(b, key);
    snprintf(num, sizeof num, "%d", (int)v);
    sb_puts(b, num);
}

static void sb_date_field(sbuf *b, const char *key, pbr_date d)
{
    char s[PBR_DATE_STRLEN];
    if (d == PBR_DATE_NONE)
        return;
    pbr_date_format(d, s);
    sb_key(b, key);
    sb_json_string(b, s);
}

/* Writes ten-thousandths as the shortest exact decimal: 0, 1, 0.25, 0.1234. */
static void sb_ogrs_field(sbuf *b, int32_t v)
{
    char num[16];
    if (v < 0)
        return;
    sb_key(b, "ogrs");
    if (v % 10000 == 0) {
        snprintf(num, sizeof num, "%d", (int)(v / 10000));
    } else {
        int frac = (int)(v % 10000), places = 4;
        while (frac % 10 == 0) {
            frac /= 10;
            places--;
        }
        snprintf(num, sizeof num, "%d.%0*d", (int)(v / 10000), places, frac);
    }
    sb_puts(b, num);
}

/* Returns the canonical JSON of ev (malloc'd, caller frees) with *len, or
 * NULL on allocation failure. */
char *pbr_event_canonical(const pbr_event *ev, size_t *len)
{
    sbuf b = {0};
    char g[2] = {ev->gender, '\0'};
    sb_put(&b, "{", 1);
    sb_str_field(&b, "id", ev->id);
    sb_str_field(&b, "type", pbr_event_type_name(ev->type));
    sb_str_field(&b, "offender", ev->offender);
    sb_date_field(&b, "date", ev->date);
    sb_date_field(&b, "recorded", ev->recorded == PBR_DATE_NONE ? ev->date : ev->recorded);
    switch (ev->type) {
    case PBR_EV_RELEASE:
    case PBR_EV_COMMUNITY_START:
    case PBR_EV_RECEPTION:
        sb_str_field(&b, "area", ev->area);
        sb_str_field(&b, "establishment", ev->establishment);
        sb_str_field(&b, "provider", ev->provider);
        sb_str_field(&b, "order", ev->order);
        sb_int_field(&b, "sentence_days", ev->sentence_days);
        sb_int_field(&b, "age", ev->age);
        sb_str_field(&b, "gender", ev->gender ? g : NULL);
        sb_ogrs_field(&b, ev->ogrs);
        sb_int_field(&b, "prior_sanctions", ev->prior_sanctions);
        if (ev->nflags > 0) {
            sb_key(&b, "flags");
            sb_put(&b, "[", 1);
            for (size_t i = 0; i < ev->nflags; i++) {
                if (i)
                    sb_put(&b, ",", 1);
                sb_json_string(&b, ev->flags[i]);
            }
            sb_put(&b, "]", 1);
        }
        break;
    case PBR_EV_CONVICTION:
        sb_date_field(&b, "offence_date", ev->offence_date);
        sb_int_field(&b, "offences", ev->offences);
        sb_str_field(&b, "category", ev->category);
        sb_str_field(&b, "disposal", pbr_disposal_name(ev->disposal));
        sb_str_field(&b, "area", ev->area);
        break;
    case PBR_EV_VOID:
        sb_str_field(&b, "target", ev->target);
        sb_str_field(&b, "reason", ev->reason);
        break;
    default:
        break;
    }
    sb_put(&b, "}", 1);
    if (b.failed) {
        free(b.buf);
        return NULL;
    }
    if (len)
        *len = b.len;
    return b.buf;
}
