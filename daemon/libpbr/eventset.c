/* eventset.c -- the compact in-memory event set evaluation reads.
 *
 * Owns: the events (pbr_ev, 80 bytes each), an arena of event ids, two
 * intern tables (symbols for strings such as areas; offender ids), the flag
 * lists and the void table. pbr_eventset_finish renumbers offenders in name
 * order and sorts events by (offender, date, id), so nothing that evaluation
 * reads depends on the order in which events were added, and indexes the
 * positions of each type, so a measure reads only the events it uses.
 */
#include <stdlib.h>
#include <string.h>

#include "pbr/eventset.h"
#include "pbr/strtab.h"
#include "pbr/err.h"
#include "pbr/mem.h"

/* ---- the set ------------------------------------------------------------------------- */

typedef struct pending_void {
    uint32_t id;     /* offset in the id arena */
    uint32_t target; /* offset in the id arena */
    uint32_t reason; /* offset in the id arena, or NO_REASON */
    uint64_t seq;
    pbr_date date;
    pbr_date recorded;
} pending_void;

#define NO_REASON UINT32_MAX
#define VOID_REF 0x80000000u /* an entry ref with this bit is a pending void's index */

struct pbr_eventset {
    pbr_ev *evs;
    size_t nevs, cap;
    char *ids; /* id arena */
    size_t ids_len, ids_cap;
    pbr_strtab syms; /* symbol k is syms index k-1 */
    pbr_strtab offenders;
    uint32_t *offender_rank;                  /* offender table index -> rank by name (after finish) */
    uint32_t *rank_to_tab;                    /* rank -> offender table index */
    size_t *offender_start;                   /* events of rank r: [start[r], start[r+1]) */
    uint32_t *type_pos;                       /* positions in evs grouped by type, ascending within a type */
    size_t type_start[PBR_EV_TYPE_COUNT + 1]; /* type t: type_pos[type_start[t] .. type_start[t+1]) */
    pbr_sym *flag_syms;                       /* flag lists: concatenated symbols */
    size_t nflag_syms, flag_syms_cap;
    uint32_t *flag_lists; /* list k (k >= 1): flag_syms[flag_lists[2k] .. +flag_lists[2k+1]] */
    size_t nflag_lists, flag_lists_cap;
    pending_void *pending;
    size_t npending, pending_cap;
    pbr_evvoid *voids; /* entry 0 unused */
    size_t nvoids;
    uint64_t last_seq;
    int sorted;               /* events are in (offender rank, date, id) order */
    size_t nranked;           /* the first nranked events carry ranks, not table indexes */
    size_t nranked_offenders; /* offenders ranked by the last finish */
    size_t npending_done;     /* pending voids attached (or found targetless) by a finish */
    pending_void *unresolved; /* voids whose target was not in the set (non-strict) */
    size_t nunresolved, unresolved_cap;
    /* pbr_eventset_add_unique: id -> entry k (an event or a void), while loading */
    uint32_t *uslots; /* k + 1, 0 = empty */
    size_t nuslots;
    uint32_t *uid;  /* k -> id offset in the arena */
    uint32_t *uref; /* k -> index in evs, or VOID_REF | index in pending */
    size_t nu, ucap, urcap;
    int ids_unique; /* every id was added through add_unique */
};

pbr_eventset *pbr_eventset_new(void)
{
    pbr_eventset *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    /* list 0 is the empty flag list */
    s->flag_lists = calloc(2, sizeof *s->flag_lists);
    s->voids = calloc(1, sizeof *s->voids);
    if (s->flag_lists == NULL || s->voids == NULL) {
        pbr_eventset_destroy(&s);
        return NULL;
    }
    s->flag_lists_cap = 2;
    s->nflag_lists = 1;
    s->nvoids = 1;
    s->sorted = 1;
    s->ids_unique = 1;
    return s;
}

void pbr_eventset_destroy(pbr_eventset **sp)
{
    if (sp == NULL)
        return;
    pbr_eventset *s = *sp;
    *sp = NULL;
    if (s == NULL)
        return;
    free(s->evs);
    free(s->ids);
    pbr_strtab_clear(&s->syms);
    pbr_strtab_clear(&s->offenders);
    free(s->unresolved);
    free(s->offender_rank);
    free(s->rank_to_tab);
    free(s->offender_start);
    free(s->type_pos);
    free(s->flag_syms);
    free(s->flag_lists);
    free(s->pending);
    free(s->voids);
    pbr_eventset_end_unique(s);
    free(s);
}

/* Copies an id into the arena; returns its offset or -1. */
static int64_t store_id(pbr_eventset *s, const char *id)
{
    size_t len = strlen(id) + 1;
    if (s->ids_len + len > UINT32_MAX)
        return -1;
    if (pbr_grow((void **)&s->ids, &s->ids_cap, s->ids_len + len, 1) != 0)
        return -1;
    memcpy(s->ids + s->ids_len, id, len);
    s->ids_len += len;
    return (int64_t)(s->ids_len - len);
}

/* Interns an optional string; returns the symbol (0 for NULL) or -1. */
static int64_t intern_sym(pbr_eventset *s, const char *str)
{
    if (str == NULL)
        return 0;
    int64_t i = pbr_strtab_intern(&s->syms, str, NULL);
    return i < 0 ? -1 : i + 1;
}

/* Adds the flag list of ev; returns its index (0 = none) or -1. */
static int64_t add_flag_list(pbr_eventset *s, const pbr_event *ev)
{
    if (ev->nflags == 0)
        return 0;
    if (pbr_grow((void **)&s->flag_syms, &s->flag_syms_cap, s->nflag_syms + ev->nflags, sizeof(pbr_sym)) != 0 ||
        pbr_grow((void **)&s->flag_lists, &s->flag_lists_cap, 2 * (s->nflag_lists + 1), sizeof(uint32_t)) != 0)
        return -1;
    size_t base = s->nflag_syms;
    for (size_t i = 0; i < ev->nflags; i++) {
        int64_t sym = intern_sym(s, ev->flags[i]);
        if (sym < 0)
            return -1;
        s->flag_syms[s->nflag_syms++] = (pbr_sym)sym;
    }
    s->flag_lists[2 * s->nflag_lists] = (uint32_t)base;
    s->flag_lists[2 * s->nflag_lists + 1] = (uint32_t)ev->nflags;
    return (int64_t)s->nflag_lists++;
}

static int add_void(pbr_eventset *s, const pbr_event *ev, uint64_t seq, char *err, size_t errlen)
{
    if (pbr_grow((void **)&s->pending, &s->pending_cap, s->npending + 1, sizeof *s->pending) != 0)
        return pbr_errf(err, errlen, "eventset: out of memory");
    int64_t id = store_id(s, ev->id), target = store_id(s, ev->target);
    int64_t reason = ev->reason ? store_id(s, ev->reason) : NO_REASON;
    if (id < 0 || target < 0 || reason < 0 || (ev->reason && reason == NO_REASON))
        return pbr_errf(err, errlen, "eventset: out of memory");
    pending_void *pv = &s->pending[s->npending++];
    pv->id = (uint32_t)id;
    pv->target = (uint32_t)target;
    pv->reason = (uint32_t)reason;
    pv->seq = seq;
    pv->date = ev->date;
    pv->recorded = ev->recorded;
    s->sorted = 0;
    return 0;
}

/* Adds ev (see pbr_eventset_add). */
static int add_event(pbr_eventset *s, const pbr_event *ev, uint64_t seq, char *err, size_t errlen)
{
    if (seq > s->last_seq)
        s->last_seq = seq;
    if (ev->type == PBR_EV_VOID)
        return add_void(s, ev, seq, err, errlen);
    if (pbr_grow((void **)&s->evs, &s->cap, s->nevs + 1, sizeof *s->evs) != 0)
        return pbr_errf(err, errlen, "eventset: out of memory");
    pbr_ev *e = &s->evs[s->nevs];
    memset(e, 0, sizeof *e);
    int64_t id = store_id(s, ev->id);
    int64_t off = pbr_strtab_intern(&s->offenders, ev->offender ? ev->offender : "", NULL);
    int64_t area = intern_sym(s, ev->area), est = intern_sym(s, ev->establishment);
    int64_t prov = intern_sym(s, ev->provider), ord = intern_sym(s, ev->order);
    int64_t cat = intern_sym(s, ev->category), flags = add_flag_list(s, ev);
    if (id < 0 || off < 0 || area < 0 || est < 0 || prov < 0 || ord < 0 || cat < 0 || flags < 0)
        return pbr_errf(err, errlen, "eventset: out of memory");
    e->seq = seq;
    e->date = ev->date;
    e->recorded = ev->recorded;
    e->offender = (uint32_t)off;
    e->id = (uint32_t)id;
    e->type = (uint8_t)ev->type;
    e->gender = (uint8_t)ev->gender;
    e->disposal = (uint8_t)ev->disposal;
    e->area = (pbr_sym)area;
    e->establishment = (pbr_sym)est;
    e->provider = (pbr_sym)prov;
    e->order = (pbr_sym)ord;
    e->category = (pbr_sym)cat;
    e->flags = (uint32_t)flags;
    e->sentence_days = ev->sentence_days;
    e->age = ev->age;
    e->ogrs = ev->ogrs;
    e->prior_sanctions = ev->prior_sanctions;
    e->offence_date = ev->offence_date;
    e->offences = ev->offences;
    s->nevs++;
    s->sorted = 0;
    return 0;
}

int pbr_eventset_add(pbr_eventset *s, const pbr_event *ev, uint64_t seq, char *err, size_t errlen)
{
    s->ids_unique = 0;
    return add_event(s, ev, seq, err, errlen);
}

/* ---- adding a file as a set: the id table ---------------------------------------------- */

/* The slot of id (length len, hash h) in the id table, or the empty slot
 * where it would go. */
static size_t uslot_of(const pbr_eventset *s, const char *id, size_t len, uint64_t h)
{
    size_t mask = s->nuslots - 1, i = (size_t)h & mask;
    while (s->uslots[i] != 0) {
        const char *x = s->ids + s->uid[s->uslots[i] - 1];
        if (memcmp(x, id, len + 1) == 0)
            break;
        i = (i + 1) & mask;
    }
    return i;
}

/* Doubles the id table's slots. Returns 0 or -1. */
static int urehash(pbr_eventset *s)
{
    size_t n = s->nuslots ? s->nuslots * 2 : 1u << 16;
    uint32_t *slots = calloc(n, sizeof *slots);
    if (slots == NULL)
        return -1;
    for (size_t k = 0; k < s->nu; k++) {
        const char *id = s->ids + s->uid[k];
        size_t i = (size_t)pbr_hash_bytes(id, strlen(id)) & (n - 1);
        while (slots[i] != 0)
            i = (i + 1) & (n - 1);
        slots[i] = (uint32_t)k + 1;
    }
    free(s->uslots);
    s->uslots = slots;
    s->nuslots = n;
    return 0;
}

void pbr_eventset_prefetch_id(const pbr_eventset *s, uint64_t id_hash)
{
    if (s->nuslots > 0)
        __builtin_prefetch(&s->uslots[(size_t)id_hash & (s->nuslots - 1)]);
}

/* The symbol's string, or NULL for 0 (absent). */
static const char *sym_str(const pbr_eventset *s, pbr_sym sym)
{
    return sym == 0 ? NULL : pbr_strtab_str(&s->syms, sym - 1);
}

/* Fills *out with the event of entry ref (see uref) as it was added: every
 * field of the canonical form (pbr_ev and pending_void keep them all).
 * The strings point into s; *flags (malloc'd, the caller frees it) holds
 * the flag list. Returns 0, or -1 on allocation failure. */
static int event_of_entry(const pbr_eventset *s, uint32_t ref, pbr_event *out, char ***flags)
{
    memset(out, 0, sizeof *out);
    *flags = NULL;
    if (ref & VOID_REF) {
        const pending_void *pv = &s->pending[ref & ~VOID_REF];
        out->type = PBR_EV_VOID;
        out->id = s->ids + pv->id;
        out->target = s->ids + pv->target;
        out->reason = pv->reason == NO_REASON ? NULL : s->ids + pv->reason;
        out->date = pv->date;
        out->recorded = pv->recorded;
        return 0;
    }
    const pbr_ev *e = &s->evs[ref];
    out->type = (pbr_event_type)e->type;
    out->id = s->ids + e->id;
    out->offender = (char *)pbr_strtab_str(&s->offenders, e->offender);
    out->date = e->date;
    out->recorded = e->recorded;
    out->area = (char *)sym_str(s, e->area);
    out->establishment = (char *)sym_str(s, e->establishment);
    out->provider = (char *)sym_str(s, e->provider);
    out->order = (char *)sym_str(s, e->order);
    out->category = (char *)sym_str(s, e->category);
    out->sentence_days = e->sentence_days;
    out->age = e->age;
    out->gender = (char)e->gender;
    out->ogrs = e->ogrs;
    out->prior_sanctions = e->prior_sanctions;
    out->offence_date = e->offence_date;
    out->offences = e->offences;
    out->disposal = (pbr_disposal)e->disposal;
    if (e->flags != 0) {
        size_t base = s->flag_lists[2 * e->flags], n = s->flag_lists[2 * e->flags + 1];
        *flags = malloc(n * sizeof **flags);
        if (*flags == NULL)
            return -1;
        for (size_t i = 0; i < n; i++)
            (*flags)[i] = (char *)sym_str(s, s->flag_syms[base + i]);
        out->flags = *flags;
        out->nflags = n;
    }
    return 0;
}

/* Whether entry ref and ev have the same canonical bytes: 1 yes, 0 no, -1
 * on allocation failure. */
static int entry_has_canonical_of(const pbr_eventset *s, uint32_t ref, const pbr_event *ev)
{
    pbr_event known;
    char **flags;
    if (event_of_entry(s, ref, &known, &flags) != 0)
        return -1;
    size_t alen = 0, blen = 0;
    char *a = pbr_event_canonical(&known, &alen), *b = pbr_event_canonical(ev, &blen);
    int same = a == NULL || b == NULL ? -1 : alen == blen && memcmp(a, b, alen) == 0;
    free(b);
    free(a);
    free(flags);
    return same;
}

int pbr_eventset_add_unique(pbr_eventset *s, const pbr_event *ev, uint64_t seq, uint64_t id_hash, char *err,
                            size_t errlen)
{
    if ((s->nu + 1) * 2 > s->nuslots && urehash(s) != 0)
        return pbr_errf(err, errlen, "eventset: out of memory");
    size_t slot = uslot_of(s, ev->id, strlen(ev->id), id_hash);
    if (s->uslots[slot] != 0) {
        int same = entry_has_canonical_of(s, s->uref[s->uslots[slot] - 1], ev);
        if (same < 0)
            return pbr_errf(err, errlen, "eventset: out of memory");
        return same ? 1 : 2;
    }
    if (s->nu + 1 >= UINT32_MAX || s->nevs >= VOID_REF || s->npending >= VOID_REF ||
        pbr_grow((void **)&s->uid, &s->ucap, s->nu + 1, sizeof *s->uid) != 0 ||
        pbr_grow((void **)&s->uref, &s->urcap, s->nu + 1, sizeof *s->uref) != 0)
        return pbr_errf(err, errlen, "eventset: out of memory");
    if (add_event(s, ev, seq, err, errlen) != 0)
        return -1;
    int is_void = ev->type == PBR_EV_VOID;
    s->uid[s->nu] = is_void ? s->pending[s->npending - 1].id : s->evs[s->nevs - 1].id;
    s->uref[s->nu] = is_void ? VOID_REF | (uint32_t)(s->npending - 1) : (uint32_t)(s->nevs - 1);
    s->uslots[slot] = (uint32_t)++s->nu;
    return 0;
}

void pbr_eventset_end_unique(pbr_eventset *s)
{
    free(s->uslots);
    free(s->uid);
    free(s->uref);
    s->uslots = s->uid = NULL;
    s->uref = NULL;
    s->nuslots = s->nu = s->ucap = s->urcap = 0;
}

/* ---- finish: rank offenders, sort, resolve voids -------------------------------------- */

static int cmp_offender_names(const void *a, const void *b, void *ctx)
{
    const pbr_strtab *t = ctx;
    return strcmp(pbr_strtab_str(t, *(const uint32_t *)a), pbr_strtab_str(t, *(const uint32_t *)b));
}

static int cmp_events(const void *a, const void *b, void *ctx)
{
    const pbr_eventset *s = ctx;
    const pbr_ev *x = a, *y = b;
    if (x->offender != y->offender)
        return x->offender < y->offender ? -1 : 1;
    if (x->date != y->date)
        return x->date < y->date ? -1 : 1;
    int c = strcmp(s->ids + x->id, s->ids + y->id);
    if (c != 0)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Replaces the rank tables with rank (table index -> rank) and order (rank
 * -> table index) of n offenders, now carried by every event; takes
 * ownership of both. */
static void install_ranks(pbr_eventset *s, uint32_t *rank, uint32_t *order, size_t n)
{
    free(s->offender_rank);
    free(s->rank_to_tab);
    s->offender_rank = rank;
    s->rank_to_tab = order;
    s->nranked = s->nevs;
    s->nranked_offenders = n;
}

/* Renumbers every event's offender to its rank by name. Events that were
 * ranked by an earlier finish (the first nranked) are first mapped back to
 * table indexes. Returns 0 or -1. */
static int rank_offenders(pbr_eventset *s)
{
    size_t n = s->offenders.n;
    uint32_t *rank = malloc((n + 1) * sizeof *rank), *order = malloc((n + 1) * sizeof *order);
    if (rank == NULL || order == NULL) {
        free(rank);
        free(order);
        return -1;
    }
    for (size_t i = 0; i < s->nranked; i++)
        s->evs[i].offender = s->rank_to_tab[s->evs[i].offender];
    for (size_t i = 0; i < n; i++)
        order[i] = (uint32_t)i;
    if (n > 1)
        qsort_r(order, n, sizeof *order, cmp_offender_names, &s->offenders);
    for (size_t r = 0; r < n; r++)
        rank[order[r]] = (uint32_t)r;
    for (size_t i = 0; i < s->nevs; i++)
        s->evs[i].offender = rank[s->evs[i].offender];
    install_ranks(s, rank, order, n);
    return 0;
}

static int build_offender_starts(pbr_eventset *s)
{
    size_t n = s->offenders.n;
    free(s->offender_start); /* first: the peak of a finish is what counts */
    s->offender_start = NULL;
    size_t *start = calloc(n + 1, sizeof *start);
    if (start == NULL)
        return -1;
    for (size_t i = 0; i < s->nevs; i++)
        start[s->evs[i].offender + 1]++;
    for (size_t r = 0; r < n; r++)
        start[r + 1] += start[r];
    s->offender_start = start;
    return 0;
}

/* Builds the per-type position index (a stable counting sort of the
 * positions by type), so measures read only the events of the types they
 * use, still in (offender, date, id) order. Returns 0 or -1. */
static int build_type_index(pbr_eventset *s)
{
    free(s->type_pos); /* first: the peak of a finish is what counts */
    s->type_pos = NULL;
    uint32_t *pos = malloc((s->nevs ? s->nevs : 1) * sizeof *pos);
    if (pos == NULL)
        return -1;
    size_t next[PBR_EV_TYPE_COUNT + 1];
    memset(s->type_start, 0, sizeof s->type_start);
    for (size_t i = 0; i < s->nevs; i++)
        s->type_start[s->evs[i].type + 1]++;
    for (int t = 0; t < PBR_EV_TYPE_COUNT; t++)
        s->type_start[t + 1] += s->type_start[t];
    memcpy(next, s->type_start, sizeof next);
    for (size_t i = 0; i < s->nevs; i++)
        pos[next[s->evs[i].type]++] = (uint32_t)i;
    s->type_pos = pos;
    return 0;
}

typedef struct id_index {
    uint32_t *slots; /* event index + 1, or 0 */
    size_t nslots;
} id_index;

/* Builds a hash of event id -> event index. Returns 0 or -1. */
static int build_id_index(const pbr_eventset *s, id_index *ix)
{
    size_t nslots = 1024;
    while (nslots < s->nevs * 2 + 2)
        nslots *= 2;
    ix->slots = calloc(nslots, sizeof *ix->slots);
    if (ix->slots == NULL)
        return -1;
    ix->nslots = nslots;
    for (size_t i = 0; i < s->nevs; i++) {
        const char *id = s->ids + s->evs[i].id;
        size_t h = (size_t)pbr_hash_bytes(id, strlen(id)) & (nslots - 1);
        while (ix->slots[h] != 0)
            h = (h + 1) & (nslots - 1);
        ix->slots[h] = (uint32_t)i + 1;
    }
    return 0;
}

/* Returns the index of the event with this id, or -1. */
static int64_t find_event(const pbr_eventset *s, const id_index *ix, const char *id)
{
    size_t h = (size_t)pbr_hash_bytes(id, strlen(id)) & (ix->nslots - 1);
    while (ix->slots[h] != 0) {
        uint32_t i = ix->slots[h] - 1;
        if (strcmp(s->ids + s->evs[i].id, id) == 0)
            return i;
        h = (h + 1) & (ix->nslots - 1);
    }
    return -1;
}

static int cmp_pending(const void *a, const void *b, void *ctx)
{
    const pbr_eventset *s = ctx;
    const pending_void *x = a, *y = b;
    if (x->recorded != y->recorded)
        return x->recorded < y->recorded ? -1 : 1;
    int c = strcmp(s->ids + x->id, s->ids + y->id);
    return c != 0 ? c : (x->seq < y->seq ? -1 : x->seq > y->seq);
}

/* Keeps a copy of a void whose target is not (yet) in the set, so that a
 * later incremental finish can attach it. Returns 0 or -1 on allocation
 * failure. */
static int remember_unresolved(pbr_eventset *s, const pending_void *pv)
{
    if (pbr_grow((void **)&s->unresolved, &s->unresolved_cap, s->nunresolved + 1, sizeof *s->unresolved) != 0)
        return -1;
    s->unresolved[s->nunresolved++] = *pv;
    return 0;
}

/* For each of the n voids pv[0..n), the position in evs of the first event
 * whose id is its target, or -1: one pass over the events, looking each id
 * up in a small hash of the targets (no hash of every id). Returns a
 * malloc'd array (caller frees) or NULL on allocation failure. */
static int64_t *find_targets(const pbr_eventset *s, const pending_void *pv, size_t n)
{
    size_t nslots = 16;
    while (nslots < 2 * n)
        nslots *= 2;
    int64_t *t = malloc((n ? n : 1) * sizeof *t);
    uint64_t *th = malloc((n ? n : 1) * sizeof *th);
    uint32_t *slots = calloc(nslots, sizeof *slots); /* void index + 1 */
    if (t == NULL || th == NULL || slots == NULL) {
        free(t);
        free(th);
        free(slots);
        return NULL;
    }
    for (size_t j = 0; j < n; j++) {
        const char *target = s->ids + pv[j].target;
        t[j] = -1;
        th[j] = pbr_hash_bytes(target, strlen(target));
        size_t h = (size_t)th[j] & (nslots - 1);
        while (slots[h] != 0)
            h = (h + 1) & (nslots - 1);
        slots[h] = (uint32_t)j + 1;
    }
    for (size_t i = 0; i < s->nevs && n > 0; i++) {
        const char *id = s->ids + s->evs[i].id;
        uint64_t hid = pbr_hash_bytes(id, strlen(id));
        for (size_t h = (size_t)hid & (nslots - 1); slots[h] != 0; h = (h + 1) & (nslots - 1)) {
            size_t j = slots[h] - 1;
            if (t[j] < 0 && th[j] == hid && strcmp(s->ids + pv[j].target, id) == 0)
                t[j] = (int64_t)i;
        }
    }
    free(th);
    free(slots);
    return t;
}

/* Attaches void pv to event t (a position in evs). */
static void attach_void(pbr_eventset *s, const pending_void *pv, size_t t)
{
    pbr_evvoid *nv = &s->voids[s->nvoids];
    nv->seq = pv->seq;
    nv->recorded = pv->recorded;
    nv->next = s->evs[t].void_ix;
    s->evs[t].void_ix = (uint32_t)s->nvoids++;
}

/* Attaches every void to its target. Returns 0 or -1 with err. */
static int resolve_voids(pbr_eventset *s, int strict, char *err, size_t errlen)
{
    for (size_t i = 0; i < s->nevs; i++)
        s->evs[i].void_ix = 0;
    s->nvoids = 1;
    s->nunresolved = 0;
    s->npending_done = s->npending;
    if (s->npending == 0)
        return 0;
    pbr_evvoid *v = realloc(s->voids, (s->npending + 1) * sizeof *v);
    if (v == NULL)
        return pbr_errf(err, errlen, "eventset: out of memory");
    s->voids = v;
    /* a stable order, so the chains do not depend on arrival order */
    qsort_r(s->pending, s->npending, sizeof *s->pending, cmp_pending, s);
    int64_t *targets = find_targets(s, s->pending, s->npending);
    if (targets == NULL)
        return pbr_errf(err, errlen, "eventset: out of memory");
    for (size_t i = s->npending; i-- > 0;) {
        const pending_void *pv = &s->pending[i];
        if (targets[i] >= 0) {
            attach_void(s, pv, (size_t)targets[i]);
            continue;
        }
        if (!strict) {
            if (remember_unresolved(s, pv) != 0) {
                free(targets);
                return pbr_errf(err, errlen, "eventset: out of memory");
            }
            continue;
        }
        int is_void = 0;
        for (size_t j = 0; j < s->npending; j++)
            is_void |= strcmp(s->ids + s->pending[j].id, s->ids + pv->target) == 0;
        pbr_errf(err, errlen, "void \"%s\": target \"%s\" %s", s->ids + pv->id, s->ids + pv->target,
                 is_void ? "is a void (a void may not target a void)" : "is not an event of the input");
        free(targets);
        return -1;
    }
    free(targets);
    return 0;
}

/* Checks that no two events share an id. Returns 0 or -1 with err. */
static int check_unique_ids(const pbr_eventset *s, char *err, size_t errlen)
{
    id_index ix;
    if (build_id_index(s, &ix) != 0)
        return pbr_errf(err, errlen, "eventset: out of memory");
    for (size_t i = 0; i < s->nevs; i++) {
        int64_t j = find_event(s, &ix, s->ids + s->evs[i].id);
        if (j >= 0 && (size_t)j != i) {
            pbr_errf(err, errlen, "event \"%s\" appears twice", s->ids + s->evs[i].id);
            free(ix.slots);
            return -1;
        }
    }
    free(ix.slots);
    return 0;
}

/* ---- incremental finish --------------------------------------------------------------
 * After a finish, pbr_eventset_add only appends: the first nranked events are
 * sorted and carry ranks; the rest carry offender table indexes. The
 * incremental finish merges the new offenders into the name order, sorts the
 * new events alone and merges them in, and attaches only the new voids. The
 * result is the same event order and the same visibility as a full finish
 * (the order of a target's void chain may differ; visibility does not
 * depend on it), at a cost proportional to the new events plus one pass
 * over the old ones, instead of a sort and an id hash of everything. */

/* Merges the offenders added since the last finish into the rank order and
 * renumbers every event's offender to its new rank. Returns 0 or -1. */
static int rank_new_offenders(pbr_eventset *s)
{
    size_t n_old = s->nranked_offenders, n = s->offenders.n, k = n - n_old;
    if (k == 0) {
        for (size_t i = s->nranked; i < s->nevs; i++)
            s->evs[i].offender = s->offender_rank[s->evs[i].offender];
        s->nranked = s->nevs;
        return 0;
    }
    uint32_t *fresh = malloc(k * sizeof *fresh), *order = malloc(n * sizeof *order);
    uint32_t *rank = malloc(n * sizeof *rank), *remap = malloc((n_old + 1) * sizeof *remap);
    if (fresh == NULL || order == NULL || rank == NULL || remap == NULL) {
        free(fresh);
        free(order);
        free(rank);
        free(remap);
        return -1;
    }
    for (size_t j = 0; j < k; j++)
        fresh[j] = (uint32_t)(n_old + j);
    if (k > 1)
        qsort_r(fresh, k, sizeof *fresh, cmp_offender_names, &s->offenders);
    size_t i = 0, j = 0;
    for (size_t r = 0; r < n; r++) {
        int take_fresh = j < k &&
            (i == n_old ||
             strcmp(pbr_strtab_str(&s->offenders, fresh[j]), pbr_strtab_str(&s->offenders, s->rank_to_tab[i])) < 0);
        if (take_fresh) {
            order[r] = fresh[j++];
        } else {
            remap[i] = (uint32_t)r;
            order[r] = s->rank_to_tab[i++];
        }
        rank[order[r]] = (uint32_t)r;
    }
    for (size_t e = 0; e < s->nranked; e++)
        s->evs[e].offender = remap[s->evs[e].offender];
    for (size_t e = s->nranked; e < s->nevs; e++)
        s->evs[e].offender = rank[s->evs[e].offender];
    free(fresh);
    free(remap);
    install_ranks(s, rank, order, n);
    return 0;
}

/* The number of events in sorted evs[0, n) that order before *e. */
static size_t count_before(const pbr_eventset *s, size_t n, const pbr_ev *e)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_events(&s->evs[mid], e, (void *)s) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Sorts the events [nold, nevs) and merges them into the sorted [0, nold),
 * moving runs of old events with memmove from the back. Returns 0 or -1. */
static int merge_new_events(pbr_eventset *s, size_t nold)
{
    size_t k = s->nevs - nold;
    if (k == 0)
        return 0;
    if (k > 1)
        qsort_r(s->evs + nold, k, sizeof *s->evs, cmp_events, s);
    pbr_ev *fresh = malloc(k * sizeof *fresh);
    if (fresh == NULL)
        return -1;
    memcpy(fresh, s->evs + nold, k * sizeof *fresh);
    size_t end = s->nevs, old_end = nold;
    for (size_t j = k; j-- > 0;) {
        size_t lo = count_before(s, old_end, &fresh[j]);
        size_t run = old_end - lo;
        memmove(s->evs + end - run, s->evs + lo, run * sizeof *s->evs);
        end -= run;
        old_end = lo;
        s->evs[--end] = fresh[j];
    }
    free(fresh);
    return 0;
}

/* Attaches the voids added since the last finish, and retries those whose
 * target was missing, to their targets (one pass over the events, only
 * when there is such a void). Returns 0 or -1 with err. */
static int resolve_new_voids(pbr_eventset *s, char *err, size_t errlen)
{
    size_t nnew = s->npending - s->npending_done, nretry = s->nunresolved, n = nnew + nretry;
    if (n == 0)
        return 0;
    pbr_evvoid *v = realloc(s->voids, (s->nvoids + n) * sizeof *v);
    pending_void *all = malloc(n * sizeof *all);
    if (v != NULL)
        s->voids = v;
    if (v == NULL || all == NULL) {
        free(all);
        return pbr_errf(err, errlen, "eventset: out of memory");
    }
    if (nretry > 0)
        memcpy(all, s->unresolved, nretry * sizeof *all);
    memcpy(all + nretry, s->pending + s->npending_done, nnew * sizeof *all);
    int64_t *targets = find_targets(s, all, n);
    if (targets == NULL) {
        free(all);
        return pbr_errf(err, errlen, "eventset: out of memory");
    }
    s->nunresolved = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (targets[i] >= 0)
            attach_void(s, &all[i], (size_t)targets[i]);
        else if (remember_unresolved(s, &all[i]) != 0)
            rc = pbr_errf(err, errlen, "eventset: out of memory");
    }
    s->npending_done = s->npending;
    free(targets);
    free(all);
    return rc;
}

/* The incremental finish (see above). Returns 0 or -1 with err. */
static int finish_incrementally(pbr_eventset *s, char *err, size_t errlen)
{
    size_t nold = s->nranked;
    if (rank_new_offenders(s) != 0 || merge_new_events(s, nold) != 0 || build_offender_starts(s) != 0 ||
        build_type_index(s) != 0)
        return pbr_errf(err, errlen, "eventset: out of memory");
    if (resolve_new_voids(s, err, errlen) != 0)
        return -1;
    s->sorted = 1;
    return 0;
}

int pbr_eventset_finish(pbr_eventset *s, int strict, char *err, size_t errlen)
{
    /* a set finished before, and not strict: only what was added needs work */
    if (!strict && s->offender_start != NULL)
        return finish_incrementally(s, err, errlen);
    if (rank_offenders(s) != 0)
        return pbr_errf(err, errlen, "eventset: out of memory");
    if (s->nevs > 1)
        qsort_r(s->evs, s->nevs, sizeof *s->evs, cmp_events, s);
    if (build_offender_starts(s) != 0 || build_type_index(s) != 0)
        return pbr_errf(err, errlen, "eventset: out of memory");
    if (strict && !s->ids_unique && check_unique_ids(s, err, errlen) != 0)
        return -1;
    if (resolve_voids(s, strict, err, errlen) != 0)
        return -1;
    s->sorted = 1;
    return 0;
}

size_t pbr_eventset_count(const pbr_eventset *s)
{
    return s->nevs;
}

uint64_t pbr_eventset_last_seq(const pbr_eventset *s)
{
    return s->last_seq;
}

size_t pbr_eventset_offenders(const pbr_eventset *s)
{
    return s->offender_start ? s->offenders.n : 0;
}

const pbr_ev *pbr_eventset_offender_events(const pbr_eventset *s, uint32_t r, size_t *n)
{
    *n = s->offender_start[r + 1] - s->offender_start[r];
    return s->evs + s->offender_start[r];
}

const char *pbr_eventset_offender_name(const pbr_eventset *s, uint32_t r)
{
    return pbr_strtab_str(&s->offenders, s->rank_to_tab[r]);
}

const pbr_ev *pbr_eventset_all(const pbr_eventset *s, size_t *n)
{
    *n = s->nevs;
    return s->evs;
}

const uint32_t *pbr_eventset_of_type(const pbr_eventset *s, int type, size_t *n)
{
    if (s->type_pos == NULL || type < 0 || type >= PBR_EV_TYPE_COUNT) {
        *n = 0;
        return NULL;
    }
    *n = s->type_start[type + 1] - s->type_start[type];
    return s->type_pos + s->type_start[type];
}

const char *pbr_eventset_id(const pbr_eventset *s, const pbr_ev *ev)
{
    return s->ids + ev->id;
}

pbr_sym pbr_eventset_lookup(const pbr_eventset *s, const char *str)
{
    int64_t i = pbr_strtab_find(&s->syms, str);
    return i < 0 ? 0 : (pbr_sym)(i + 1);
}

const char *pbr_eventset_symbol(const pbr_eventset *s, pbr_sym sym)
{
    return sym == 0 ? NULL : pbr_strtab_str(&s->syms, sym - 1);
}

const pbr_sym *pbr_eventset_flags(const pbr_eventset *s, uint32_t f, size_t *n)
{
    *n = f == 0 ? 0 : s->flag_lists[2 * f + 1];
    return f == 0 ? NULL : s->flag_syms + s->flag_lists[2 * f];
}

const pbr_evvoid *pbr_eventset_voids(const pbr_eventset *s)
{
    return s->voids;
}
