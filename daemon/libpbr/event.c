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
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_internal.h"

/* ---- name tables ---------------------------------------------------- */

const char *const pbr_ev_type_names[PBR_EV_TYPE_COUNT] = {
    "release", "community_start", "conviction", "reception", "discharge", "void",
};

const char *const pbr_ev_disposal_names[PBR_DISP_COUNT] = {
    "custody", "sso", "community", "fine", "discharge", "caution", "other",
};

/* Returns the name, or "?" for an out-of-range value. */
const char *pbr_event_type_name(pbr_event_type t)
{
    return (unsigned)t < PBR_EV_TYPE_COUNT ? pbr_ev_type_names[t] : "?";
}

/* Returns the type for a name, or -1 (also for NULL). */
int pbr_event_type_from_name(const char *s)
{
    for (int i = 0; s && i < PBR_EV_TYPE_COUNT; i++)
        if (strcmp(s, pbr_ev_type_names[i]) == 0)
            return i;
    return -1;
}

/* Returns the name, or "?" for an out-of-range value. */
const char *pbr_disposal_name(pbr_disposal d)
{
    return (unsigned)d < PBR_DISP_COUNT ? pbr_ev_disposal_names[d] : "?";
}

/* Returns the disposal for a name, or -1 (also for NULL). */
int pbr_disposal_from_name(const char *s)
{
    for (int i = 0; s && i < PBR_DISP_COUNT; i++)
        if (strcmp(s, pbr_ev_disposal_names[i]) == 0)
            return i;
    return -1;
}

const field_def pbr_ev_fields[F_COUNT] = {
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

/* Which fields each type accepts, and which of those it requires. */
const uint32_t pbr_ev_allowed_fields[PBR_EV_TYPE_COUNT] = {
    [PBR_EV_RELEASE] = COMMON | B(F_AREA) | B(F_ESTABLISHMENT) | B(F_PROVIDER) | B(F_SENTENCE_DAYS) | B(F_AGE) |
        B(F_GENDER) | B(F_OGRS) | B(F_PRIOR_SANCTIONS) | B(F_FLAGS),
    [PBR_EV_COMMUNITY_START] = COMMON | B(F_AREA) | B(F_PROVIDER) | B(F_ORDER) | B(F_SENTENCE_DAYS) | B(F_AGE) |
        B(F_GENDER) | B(F_OGRS) | B(F_PRIOR_SANCTIONS) | B(F_FLAGS),
    [PBR_EV_CONVICTION] = COMMON | B(F_OFFENCE_DATE) | B(F_OFFENCES) | B(F_CATEGORY) | B(F_DISPOSAL) | B(F_AREA),
    [PBR_EV_RECEPTION] = COMMON | B(F_AREA) | B(F_ESTABLISHMENT) | B(F_SENTENCE_DAYS) | B(F_AGE) | B(F_GENDER),
    [PBR_EV_DISCHARGE] = COMMON,
    [PBR_EV_VOID] = B(F_ID) | B(F_TYPE) | B(F_DATE) | B(F_RECORDED) | B(F_TARGET) | B(F_REASON),
};

const uint32_t pbr_ev_required_fields[PBR_EV_TYPE_COUNT] = {
    [PBR_EV_RELEASE] = COMMON_REQ | B(F_AREA) | B(F_ESTABLISHMENT) | B(F_SENTENCE_DAYS) | B(F_AGE) | B(F_GENDER),
    [PBR_EV_COMMUNITY_START] = COMMON_REQ | B(F_AREA) | B(F_ORDER) | B(F_SENTENCE_DAYS) | B(F_AGE) | B(F_GENDER),
    [PBR_EV_CONVICTION] = COMMON_REQ | B(F_OFFENCE_DATE),
    [PBR_EV_RECEPTION] = COMMON_REQ | B(F_AREA) | B(F_ESTABLISHMENT) | B(F_AGE) | B(F_GENDER),
    [PBR_EV_DISCHARGE] = COMMON_REQ,
    [PBR_EV_VOID] = B(F_ID) | B(F_TYPE) | B(F_DATE) | B(F_TARGET) | B(F_REASON),
};

/* ---- shared helpers ------------------------------------------------- */

int pbr_ev_hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Reads JSON number text exactly as ten-thousandths. Returns 0 with *out in
 * 0..10000, -1 when the text is not a number, -2 when it needs more than 4
 * decimal places, -3 when it is outside 0..1. */
int pbr_ev_ogrs_from_text(const char *s, size_t len, int32_t *out)
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

/* Returns 1 if s (len bytes) is an identifier: 1..64 bytes 0x21..0x7e. */
int pbr_ev_is_identifier(const char *s, size_t len)
{
    if (len < 1 || len > PBR_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

/* Sets the absent markers and defaults of a fresh event. */
void pbr_ev_init(pbr_event *ev)
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

/* ---- parse and free -------------------------------------------------- */

/* Parses and validates one JSON object: the fast path, or the reference
 * parser for anything the fast path gives up on (every error included).
 * Returns 0, or -1 with err set and *out left empty. */
int pbr_event_parse(const char *json, size_t len, pbr_event *out, char *err, size_t errlen)
{
    if (json && pbr_ev_fast_parse(json, len, out) == 0) {
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
void pbr_event_clear(pbr_event *ev)
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
