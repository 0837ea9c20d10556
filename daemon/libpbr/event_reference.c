/* event_reference.c -- owns the reference parser of one event line: jansson
 * validates the JSON, then every per-event rule of SPEC section 3 is checked
 * field by field with a message naming the field. The fast path
 * (event_fast.c) hands every line it does not accept here, so all error
 * messages come from this file. OGRS is read exactly from the raw text (see
 * event.c).
 */
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_internal.h"

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
                    int h = pbr_ev_hex_value(s[(*p)++]);
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

/* ---- field readers --------------------------------------------------- */

/* Returns a malloc'd copy of a JSON string value, or NULL with err set. */
static char *copy_string(const parse_ctx *c, const field_def *f, json_t *v, int identifier)
{
    if (!json_is_string(v)) {
        fail(c, "field \"%s\" must be a string", f->name);
        return NULL;
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (identifier && !pbr_ev_is_identifier(s, len)) {
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
static int read_ogrs(const parse_ctx *c, const field_def *f, json_t *v, const char *raw, size_t rawlen, int32_t *out)
{
    char shown[96];
    size_t start, n;
    if (!json_is_number(v))
        return fail(c, "field \"%s\" must be a number", f->name);
    if (find_member_text(raw, rawlen, f->name, &start, &n) < 0)
        return fail(c, "field \"%s\": cannot locate its text", f->name);
    int rc = pbr_ev_ogrs_from_text(raw + start, n, out);
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
 * what was read so far; pbr_event_clear releases it). */
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
    const field_def *f = &pbr_ev_fields[id];
    char **str = NULL;
    int32_t *num = NULL;
    switch (id) {
    case F_ID:
    case F_TYPE: return 0; /* read first, by parse_identity */
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
        if (strcmp(key, pbr_ev_fields[i].name) == 0)
            return i;
    return -1;
}

/* ---- parse ----------------------------------------------------------- */

/* Reads id and type into c and ev. Returns 0 or -1 with err set. */
static int parse_identity(parse_ctx *c, json_t *root, pbr_event *ev)
{
    char shown[96];
    json_t *id = json_object_get(root, "id");
    if (!id)
        return fail(c, "missing required field \"id\"");
    ev->id = copy_string(c, &pbr_ev_fields[F_ID], id, 1);
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
    c->type = pbr_ev_type_names[t];
    return 0;
}

/* Rejects keys the event's type does not accept. Returns 0 or -1. */
static int reject_unknown_fields(const parse_ctx *c, json_t *root, pbr_event_type t)
{
    char shown[96];
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        int f = field_from_name(key);
        if (f < 0 || !(pbr_ev_allowed_fields[t] & B(f)))
            return fail(c, "unknown field \"%s\"", printable(key, strlen(key), shown, sizeof shown));
    }
    return 0;
}

/* Reads every field of the type in canonical order. Returns 0 or -1. */
static int parse_fields(const parse_ctx *c, json_t *root, const char *raw, size_t rawlen, pbr_event *ev)
{
    for (int f = 0; f < F_COUNT; f++) {
        if (!(pbr_ev_allowed_fields[ev->type] & B(f)))
            continue;
        json_t *v = json_object_get(root, pbr_ev_fields[f].name);
        if (!v) {
            if (pbr_ev_required_fields[ev->type] & B(f))
                return fail(c, "missing required field \"%s\"", pbr_ev_fields[f].name);
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
    pbr_ev_init(out);
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
        pbr_event_clear(out);
    return rc;
}
