/* event_internal.h -- what the event modules share (not public): the field
 * table of SPEC section 3 and the small helpers both parsers use.
 *
 *   event.c            name and field tables, pbr_event_parse (fast path,
 *                      then the reference parser), pbr_event_clear
 *   event_reference.c  the jansson-based reference parser: every error
 *                      message, exact OGRS from the raw text
 *   event_fast.c       the single-pass scanner for fully valid lines
 *   event_canonical.c  the canonical serialisation (idempotency key)
 */
#ifndef PBR_EVENT_INTERNAL_H
#define PBR_EVENT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "pbr/event.h"

/* Fields in canonical order; validation also runs in this order. */
typedef enum {
    F_ID,
    F_TYPE,
    F_OFFENDER,
    F_DATE,
    F_RECORDED,
    F_AREA,
    F_ESTABLISHMENT,
    F_PROVIDER,
    F_ORDER,
    F_SENTENCE_DAYS,
    F_AGE,
    F_GENDER,
    F_OGRS,
    F_PRIOR_SANCTIONS,
    F_FLAGS,
    F_OFFENCE_DATE,
    F_OFFENCES,
    F_CATEGORY,
    F_DISPOSAL,
    F_TARGET,
    F_REASON,
    F_COUNT
} field_id;

typedef enum { K_IDENT, K_STRING, K_DATE, K_INT, K_GENDER, K_OGRS, K_FLAGS, K_DISPOSAL, K_TYPE } field_kind;

typedef struct {
    const char *name;
    field_kind kind;
    int32_t min, max; /* K_INT only */
} field_def;

extern const field_def pbr_ev_fields[F_COUNT];

#define B(f) (1u << (f))
#define COMMON (B(F_ID) | B(F_TYPE) | B(F_OFFENDER) | B(F_DATE) | B(F_RECORDED))
#define COMMON_REQ (B(F_ID) | B(F_TYPE) | B(F_OFFENDER) | B(F_DATE))

/* Which fields each type accepts, and which of those it requires. */
extern const uint32_t pbr_ev_allowed_fields[PBR_EV_TYPE_COUNT];
extern const uint32_t pbr_ev_required_fields[PBR_EV_TYPE_COUNT];

extern const char *const pbr_ev_type_names[PBR_EV_TYPE_COUNT];
extern const char *const pbr_ev_disposal_names[PBR_DISP_COUNT];

/* The value of a hex digit, or -1. */
int pbr_ev_hex_value(char ch);
/* Reads JSON number text exactly as ten-thousandths. Returns 0 with *out in
 * 0..10000, -1 when the text is not a number, -2 when it needs more than 4
 * decimal places, -3 when it is outside 0..1. */
int pbr_ev_ogrs_from_text(const char *s, size_t len, int32_t *out);
/* Returns 1 if s (len bytes) is an identifier: 1..64 bytes 0x21..0x7e. */
int pbr_ev_is_identifier(const char *s, size_t len);
/* Sets the absent markers and defaults of a fresh event. */
void pbr_ev_init(pbr_event *ev);
/* The fast path: returns 0 with *out built, or -1 (give up: *out is then
 * reset and nothing was allocated; the reference parser decides). */
int pbr_ev_fast_parse(const char *json, size_t len, pbr_event *out);

#endif
