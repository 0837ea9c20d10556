/* event.h -- the event model of SPEC.md section 3: parsing one JSON line into
 * a validated pbr_event, and its canonical serialisation (the bytes stored and
 * compared for idempotency).
 *
 * A pbr_event owns all its strings; pbr_event_clear releases them.
 */
#ifndef PBR_EVENT_H
#define PBR_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "pbr/date.h"

#define PBR_ID_MAX 64      /* identifiers: 1..64 printable ASCII bytes, no spaces */
#define PBR_STRING_MAX 256 /* other strings (area, reason, ...): at most this many bytes */
#define PBR_FLAGS_MAX 32   /* at most this many flags per index event */
#define PBR_ERR_MAX 512    /* size of error buffers used across libpbr */

typedef enum {
    PBR_EV_RELEASE = 0,
    PBR_EV_COMMUNITY_START,
    PBR_EV_CONVICTION,
    PBR_EV_RECEPTION,
    PBR_EV_DISCHARGE,
    PBR_EV_VOID,
    PBR_EV_TYPE_COUNT
} pbr_event_type;

typedef enum {
    PBR_DISP_CUSTODY = 0,
    PBR_DISP_SSO,
    PBR_DISP_COMMUNITY,
    PBR_DISP_FINE,
    PBR_DISP_DISCHARGE,
    PBR_DISP_CAUTION,
    PBR_DISP_OTHER,
    PBR_DISP_COUNT
} pbr_disposal;

/* Absent optional integers are -1; absent strings NULL; absent gender 0. */
typedef struct pbr_event {
    char *id;
    pbr_event_type type;
    char *offender; /* NULL for void */
    pbr_date date;
    pbr_date recorded; /* defaults to date */

    /* release, community_start, reception */
    char *area;              /* conviction: optional area too */
    char *provider;          /* release, community_start */
    char *establishment;     /* release, reception */
    char *order;             /* community_start */
    int32_t sentence_days;   /* -1 absent (reception: remand) */
    int32_t age;             /* -1 absent */
    char gender;             /* 'M', 'F', 'X' or 0 */
    int32_t ogrs;            /* ten-thousandths, 0..10000; -1 absent */
    int32_t prior_sanctions; /* -1 absent */
    char **flags;            /* nflags strings */
    size_t nflags;

    /* conviction */
    pbr_date offence_date;
    int32_t offences; /* default 1 */
    char *category;
    pbr_disposal disposal; /* default PBR_DISP_OTHER */

    /* void */
    char *target;
    char *reason;
} pbr_event;

const char *pbr_event_type_name(pbr_event_type t);
/* Returns the type for a name, or -1. */
int pbr_event_type_from_name(const char *s);
const char *pbr_disposal_name(pbr_disposal d);
/* Returns the disposal for a name, or -1. */
int pbr_disposal_from_name(const char *s);

/* Parses and validates one JSON object (len bytes, need not be NUL
 * terminated) into *out. Returns 0 on success. On failure returns -1,
 * leaves *out empty (nothing to free) and writes into err (errlen bytes) a
 * message naming the event and field, without a "line N: " prefix, e.g.
 *   conviction "c-991": offence_date 2024-03-02 is after date 2024-02-28
 *   event "x1": unknown field "colour"
 *   line is not a JSON object: ...
 * Cross-event rules (void targets, duplicates) are the caller's. */
int pbr_event_parse(const char *json, size_t len, pbr_event *out, char *err, size_t errlen);

/* The jansson-based reference parser that pbr_event_parse falls back to for
 * every line its single-pass scanner does not accept (all errors included).
 * Same contract and, by design, the same results; for tests and fuzzing. */
int pbr_event_parse_reference(const char *json, size_t len, pbr_event *out, char *err, size_t errlen);

/* Releases the strings of ev and zeroes it. Safe on a zeroed event. */
void pbr_event_clear(pbr_event *ev);

/* Canonical serialisation: compact JSON, keys in a fixed order, defaults made
 * explicit (recorded, offences, disposal), numbers in canonical form. Two
 * events are "identical content" iff their canonical forms are equal.
 * Returns a malloc'd NUL-terminated string (caller frees) and its length in
 * *len, or NULL on allocation failure. */
char *pbr_event_canonical(const pbr_event *ev, size_t *len);

/* The same bytes written into a caller's buffer, for callers that encode
 * many events without a malloc each: writes the canonical JSON and a NUL
 * into buf when both fit in cap bytes, and returns the canonical length
 * (without the NUL) in every case, so a return value >= cap means "nothing
 * usable was written: call again with at least that + 1 bytes". buf may be
 * NULL when cap is 0. Allocates nothing. */
size_t pbr_event_canonical_to(const pbr_event *ev, char *buf, size_t cap);

#endif
