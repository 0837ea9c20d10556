/* eventset.h -- a compact, in-memory, read-optimised set of events: the input
 * of evaluation.
 *
 * Events are added in any order (from a JSONL file read as a set, or from the
 * store's log); pbr_eventset_finish() resolves voids and sorts every
 * offender's events by (date, id), so evaluation reads one person's history
 * as a contiguous slice and never depends on arrival order. Strings are
 * interned as symbols (uint32, 0 = absent). The set owns all its memory.
 */
#ifndef PBR_EVENTSET_H
#define PBR_EVENTSET_H

#include <stddef.h>
#include <stdint.h>

#include "pbr/event.h"

typedef uint32_t pbr_sym; /* 0 = absent */

/* One event in compact form. Fields not meaningful for the type are 0/-1. */
typedef struct pbr_ev {
    uint64_t seq; /* store sequence number, or line number offline */
    pbr_date date;
    pbr_date recorded;
    uint32_t offender; /* offender index, 0..noffenders-1 (offenders sorted by name) */
    uint32_t id;       /* offset of the NUL-terminated id in the set's id arena */
    uint32_t void_ix;  /* first void targeting it (index into the void table), 0 = none */
    uint8_t type;      /* pbr_event_type */
    uint8_t gender;    /* 'M','F','X' or 0 */
    uint8_t disposal;  /* pbr_disposal */
    uint8_t pad;
    pbr_sym area;
    pbr_sym establishment;   /* release, reception */
    pbr_sym provider;        /* index events */
    pbr_sym order;           /* community_start */
    pbr_sym category;        /* conviction */
    uint32_t flags;          /* index into the flag-list table, 0 = none */
    int32_t sentence_days;   /* -1 absent */
    int32_t age;             /* -1 absent */
    int32_t ogrs;            /* ten-thousandths, -1 absent */
    int32_t prior_sanctions; /* -1 absent */
    pbr_date offence_date;   /* conviction */
    int32_t offences;        /* conviction */
} pbr_ev;

/* A void applied to an event: entry 0 of the table is unused; next chains
 * further voids of the same target (0 = end). */
typedef struct pbr_evvoid {
    uint64_t seq;
    pbr_date recorded;
    uint32_t next;
} pbr_evvoid;

typedef struct pbr_eventset pbr_eventset;

/* Returns a new empty set, or NULL on allocation failure. Free with
 * pbr_eventset_destroy. */
pbr_eventset *pbr_eventset_new(void);
/* Frees *setp and sets it to NULL (setp or *setp NULL: nothing to do). */
void pbr_eventset_destroy(pbr_eventset **setp);

/* Adds a validated event with its sequence number. Voids are kept aside and
 * applied by pbr_eventset_finish. Adding after finish is allowed; call finish
 * again before the next evaluation. Returns 0, or -1 on allocation failure
 * (err says so). */
int pbr_eventset_add(pbr_eventset *set, const pbr_event *ev, uint64_t seq, char *err, size_t errlen);

/* Adds ev like pbr_eventset_add, but as a member of a set (reading a file):
 * an id added by this function before is not added again. id_hash is
 * pbr_hash_bytes of ev->id, computed by the caller (which may do it on
 * another thread). When the id is known, the known event's canonical bytes
 * (pbr_event_canonical of the event as it was added: the set keeps every
 * field of the canonical form) are compared with ev's, byte for byte, as
 * the daemon's store compares a re-sent event with the stored one.
 * Returns 0 (added), 1 (the id is known with the same canonical bytes:
 * skipped), 2 (the id is known with different bytes: not added) or -1 on
 * allocation failure (err). When every event came through this function, a
 * strict finish knows the ids are unique without checking them again. */
int pbr_eventset_add_unique(pbr_eventset *set, const pbr_event *ev, uint64_t seq, uint64_t id_hash, char *err,
                            size_t errlen);
/* A hint that an id with this hash will be added soon (the caller runs a
 * few events ahead, so the id table's cache misses overlap). */
void pbr_eventset_prefetch_id(const pbr_eventset *set, uint64_t id_hash);
/* Frees the id table of pbr_eventset_add_unique (call before finish, whose
 * sort needs the memory). */
void pbr_eventset_end_unique(pbr_eventset *set);

/* Resolves voids and sorts. With strict_voids, a void whose target is not in
 * the set, or which targets a void, is an error (simulate: "a void must
 * target an event of the file"): returns -1 with err naming the void's id.
 * Returns 0 on success. */
int pbr_eventset_finish(pbr_eventset *set, int strict_voids, char *err, size_t errlen);

/* Number of (non-void) events, and the highest seq added (voids included). */
size_t pbr_eventset_count(const pbr_eventset *set);
uint64_t pbr_eventset_last_seq(const pbr_eventset *set);

/* Offenders, each with its events sorted by (date, id). */
size_t pbr_eventset_offenders(const pbr_eventset *set);
const pbr_ev *pbr_eventset_offender_events(const pbr_eventset *set, uint32_t offender, size_t *n);
const char *pbr_eventset_offender_name(const pbr_eventset *set, uint32_t offender);

/* All (non-void) events in offender order. */
const pbr_ev *pbr_eventset_all(const pbr_eventset *set, size_t *n);

/* The positions (indexes into pbr_eventset_all) of the events of one type,
 * ascending, so in (offender, date, id) order; valid until the next finish.
 * NULL with *n = 0 before the first finish or for an unknown type. */
const uint32_t *pbr_eventset_of_type(const pbr_eventset *set, int type, size_t *n);

/* The id string of an event. */
const char *pbr_eventset_id(const pbr_eventset *set, const pbr_ev *ev);

/* Symbol for a string, or 0 when the set has never seen it. */
pbr_sym pbr_eventset_lookup(const pbr_eventset *s, const char *str);
const char *pbr_eventset_symbol(const pbr_eventset *set, pbr_sym sym);

/* The flag symbols of flag-list index f (0 = empty list). */
const pbr_sym *pbr_eventset_flags(const pbr_eventset *set, uint32_t f, size_t *n);

/* Reads a JSON Lines file (path "-" = stdin) as a set, the way `pbrctl
 * simulate` does: blank lines skipped; each line parsed with pbr_event_parse;
 * an id seen before with identical content is skipped, with different
 * content rejected; then pbr_eventset_finish(strict voids). Events get seq
 * 1, 2, ... in file order (voids included), so *nread = the number of events
 * read = events_through. For each rejected line on_reject (if not NULL) is
 * called with the 1-based line number and a message.
 * Returns 0, or -1 with err (I/O, memory, or a void whose target is not in
 * the file). */
typedef void (*pbr_reject_fn)(void *ctx, size_t line, const char *message);
int pbr_eventset_read_jsonl(pbr_eventset *set, const char *path, pbr_reject_fn on_reject, void *ctx, uint64_t *nread,
                            char *err, size_t errlen);

/* The void table (valid after finish). */
const pbr_evvoid *pbr_eventset_voids(const pbr_eventset *set);

/* Visibility as of date d, counting only events with seq <= max_seq:
 * recorded <= d and not voided by a void recorded <= d (with seq <= max_seq). */
static inline int pbr_ev_visible(const pbr_ev *e, const pbr_evvoid *voids, pbr_date d, uint64_t max_seq)
{
    if (e->seq > max_seq || e->recorded > d)
        return 0;
    for (uint32_t v = e->void_ix; v != 0; v = voids[v].next) {
        if (voids[v].recorded <= d && voids[v].seq <= max_seq)
            return 0;
    }
    return 1;
}

#endif
