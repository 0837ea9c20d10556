/* event_fast.c -- owns the single-pass scanner for fully valid event lines:
 * it builds the event with one allocation for all its strings and gives up
 * (returns -1) on anything unusual, which the reference parser then handles.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbr/utf8.h"
#include "event_internal.h"

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
    uint32_t seen; /* B(field) of every member read */
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
        int h = pbr_ev_hex_value((char)s[p + i]);
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
            case '"':
            case '\\':
            case '/': *o++ = (char)c; break;
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
        [F_ID] = 2,
        [F_TYPE] = 4,
        [F_OFFENDER] = 8,
        [F_DATE] = 4,
        [F_RECORDED] = 8,
        [F_AREA] = 4,
        [F_ESTABLISHMENT] = 13,
        [F_PROVIDER] = 8,
        [F_ORDER] = 5,
        [F_SENTENCE_DAYS] = 13,
        [F_AGE] = 3,
        [F_GENDER] = 6,
        [F_OGRS] = 4,
        [F_PRIOR_SANCTIONS] = 15,
        [F_FLAGS] = 5,
        [F_OFFENCE_DATE] = 12,
        [F_OFFENCES] = 8,
        [F_CATEGORY] = 8,
        [F_DISPOSAL] = 8,
        [F_TARGET] = 6,
        [F_REASON] = 6,
    };
    for (int i = 0; i < F_COUNT; i++)
        if (name_len[i] == len && pbr_ev_fields[i].name[0] == key[0] && memcmp(pbr_ev_fields[i].name, key, len) == 0)
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
    const field_def *d = &pbr_ev_fields[f];
    const char *raw = (const char *)fs->s + v->off;
    int64_t x;
    switch (d->kind) {
    case K_TYPE: return 0;
    case K_IDENT: return v->kind == V_STRING && pbr_ev_is_identifier(fast_text(fs, f), v->len) ? 0 : -1;
    case K_STRING: return v->kind == V_STRING && v->len >= 1 && v->len <= PBR_STRING_MAX ? 0 : -1;
    case K_DATE: {
        pbr_date *out = f == F_DATE ? &ev->date : f == F_RECORDED ? &ev->recorded : &ev->offence_date;
        return v->kind == V_STRING && pbr_date_parse(fast_text(fs, f), v->len, out) == 0 ? 0 : -1;
    }
    case K_INT: {
        int32_t *out = f == F_SENTENCE_DAYS ? &ev->sentence_days
            : f == F_AGE                    ? &ev->age
            : f == F_OFFENCES               ? &ev->offences
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
        return (v->kind == V_INTEGER || v->kind == V_REAL) && pbr_ev_ogrs_from_text(raw, v->len, &ev->ogrs) == 0 ? 0
                                                                                                                 : -1;
    case K_FLAGS:
        if (v->kind != V_ARRAY)
            return -1;
        for (size_t i = 0; i < v->len; i++)
            if (fs->item_len[i] < 1 || fs->item_len[i] > PBR_STRING_MAX)
                return -1;
        return 0;
    case K_DISPOSAL: {
        int disp =
            v->kind == V_STRING ? name_index(pbr_ev_disposal_names, PBR_DISP_COUNT, fast_text(fs, f), v->len) : -1;
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
    int t = name_index(pbr_ev_type_names, PBR_EV_TYPE_COUNT, fast_text(fs, F_TYPE), fs->v[F_TYPE].len);
    if (t < 0 || (fs->seen & ~pbr_ev_allowed_fields[t]) ||
        (fs->seen & pbr_ev_required_fields[t]) != pbr_ev_required_fields[t])
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
int pbr_ev_fast_parse(const char *json, size_t len, pbr_event *out)
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
    pbr_ev_init(out);
    rc = fast_scan_object(&fs) == 0 ? fast_build(&fs, out) : -1;
    if (rc != 0)
        pbr_ev_init(out);
    if (fs.scratch != stack)
        free(fs.scratch);
    return rc;
}
