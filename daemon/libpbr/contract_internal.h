/* contract_internal.h -- what the contract loader's modules share (not
 * public): the loader context, the located-error helpers, YAML node access,
 * the typed scalar readers, the model's init/clear and one parser per
 * section of SPEC.md section 4.
 *
 *   contract.c           pbr_contract_parse/load: one YAML document, no
 *                        aliases, the top-level keys, the file's bytes and
 *                        SHA-256 (the contract's identity)
 *   contract_yaml.c      the first error at a node (file:line:column),
 *                        node lookup, key checks, typed scalars
 *   contract_model.c     vocabularies, init/clear of the model's parts,
 *                        pbr_contract_destroy, pbr_diag_format
 *   contract_where.c     the field table and where compilation
 *   contract_cohort.c    cohort, windows and the windows' period keys
 *   contract_fees.c      fees, volume reconciliation (SPEC 5.9.4)
 *   contract_baseline.c  baselines and their forms per measure
 *   contract_pay.c       pay: gates, tiers, key scopes, significance (5.9.3)
 *   contract_outcome.c   outcomes, segments, pooled, completeness
 *   contract_links.c     hurdle (5.9.1) and advance_of (5.9.5) references
 *   contract_rules.c     cross-field rules on the model, free of YAML
 *
 * Every reader and parser returns 0, or -1 with the first error recorded in
 * the context (later errors are ignored). What a parser allocated belongs to
 * the contract under construction, which pbr_contract_destroy releases whether
 * or not parsing finished.
 */
#ifndef PBR_CONTRACT_INTERNAL_H
#define PBR_CONTRACT_INTERNAL_H

#include <gmp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <yaml.h>

#include "pbr/contract.h"

/* ---- limits ------------------------------------------------------------------ */

/* Upper bounds that keep date arithmetic far from overflow. */
#define MAX_MONTHS 1200         /* follow_up, waiting */
#define MAX_SETTLE_DAYS 3660    /* settle_after_days */
#define MAX_RUN_OFF 400         /* run_off */
#define MAX_HISTORY 100         /* baseline history years */
#define MAX_COHORT_WINDOWS 1000 /* cohort windows: listed, or periods from start to end (250 years of quarters) */
#define MAX_LIST_ITEMS 1000     /* fees, outcomes, segments of one outcome (ids are checked pairwise) */
#define KEYS_LINEAR_MAX 16      /* mappings with more keys find duplicates through a hash table */
#define BOUND_LIMIT ((int64_t)1 << 62) /* where bounds are clamped to +-2^62 */
/* SPEC 4 (ruled 2026-12-02): every money amount within +-MONEY_LIMIT pounds,
 * every date within [DATE_MIN, DATE_MAX]. */
#define MONEY_LIMIT 1000000000000L
#define MONEY_LIMIT_TEXT "1,000,000,000,000.00"
#define DATE_MIN_TEXT "1900-01-01"
#define DATE_MAX_TEXT "2199-12-31"
#define GATE_PERCENT_MAX 100 /* a percent or points gate */

/* ---- loader context and diagnostics --------------------------------------- */

typedef struct lctx {
    yaml_document_t *doc;
    pbr_diag *diag;
    int failed;
    pbr_contract *c;
    char **wkeys; /* period keys of the cohort windows (5.7), for rates */
    size_t nwkeys, wkeys_cap;
} lctx;

/* Records the first error at mark m (0-based, reported 1-based); later
 * errors are ignored. Returns -1. */
int pbr_ct_fail(lctx *x, const yaml_mark_t *m, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define FAIL(x, node, ...) pbr_ct_fail((x), &(node)->start_mark, __VA_ARGS__)

/* Writes a scalar's text as a double-quoted, printable-ASCII excerpt (other
 * bytes become '?', long text is cut with "...") into out. Returns out. */
const char *pbr_ct_quoted(const yaml_node_t *n, char *out, size_t size);

#define QBUF 72
#define Q(n, buf) pbr_ct_quoted((n), (buf), sizeof(buf))

/* Reports "out of memory" at n. Returns -1. */
int pbr_ct_oom(lctx *x, const yaml_node_t *n);

/* ---- node access ------------------------------------------------------------ */

static inline yaml_node_t *node_at(lctx *x, int idx)
{
    return yaml_document_get_node(x->doc, idx);
}

static inline int is_scalar(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE;
}

static inline int is_map(const yaml_node_t *n)
{
    return n->type == YAML_MAPPING_NODE;
}

static inline int is_seq(const yaml_node_t *n)
{
    return n->type == YAML_SEQUENCE_NODE;
}

static inline const char *stext(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static inline size_t slen(const yaml_node_t *n)
{
    return n->data.scalar.length;
}

/* 1 when n is a scalar whose text is exactly s. */
static inline int scalar_is(const yaml_node_t *n, const char *s)
{
    size_t l = strlen(s);
    return n && is_scalar(n) && slen(n) == l && memcmp(stext(n), s, l) == 0;
}

/* 1 when a and b are scalars with the same text. */
static inline int same_scalar(const yaml_node_t *a, const yaml_node_t *b)
{
    return is_scalar(a) && is_scalar(b) && slen(a) == slen(b) && memcmp(stext(a), stext(b), slen(a)) == 0;
}

static inline size_t map_size(const yaml_node_t *n)
{
    return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

static inline size_t seq_size(const yaml_node_t *n)
{
    return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

/* Returns the i-th item node of a sequence, or NULL. */
static inline yaml_node_t *seq_item(lctx *x, const yaml_node_t *n, size_t i)
{
    return node_at(x, n->data.sequence.items.start[i]);
}

/* Checks that every key of map is a scalar, appears once, and (when allowed
 * is not NULL) is one of allowed. `in` names the mapping for messages.
 * Reports the first offending key in document order. */
int pbr_ct_check_keys(lctx *x, const yaml_node_t *map, const char *const *allowed, const char *in);
/* Returns the value node for key in map (NULL when absent); *keynode gets the
 * key node when keynode is not NULL. */
yaml_node_t *pbr_ct_find(lctx *x, const yaml_node_t *map, const char *key, yaml_node_t **keynode);
/* Value of a required key, or NULL after reporting it missing at the map. */
yaml_node_t *pbr_ct_require(lctx *x, const yaml_node_t *map, const char *key, const char *in);
/* n is a mapping / a list / a scalar, or an error naming key. */
int pbr_ct_need_map(lctx *x, const yaml_node_t *n, const char *key);
int pbr_ct_need_seq(lctx *x, const yaml_node_t *n, const char *key);
int pbr_ct_need_scalar(lctx *x, const yaml_node_t *n, const char *key);
/* A list of at most max items (key names the list and its items), with
 * *items allocated zeroed for its *cnt items (at least one element); the
 * caller stores *items where the contract's free will find it. */
int pbr_ct_list_alloc(lctx *x, const yaml_node_t *n, const char *key, size_t max, size_t size, void **items,
                      size_t *cnt);

/* ---- typed scalars (each names key in its messages) ----------------------- */

/* Copies a non-empty string value into *out (caller frees). */
int pbr_ct_get_str(lctx *x, const yaml_node_t *n, const char *key, char **out);
/* An identifier: 1..PBR_ID_MAX printable ASCII bytes without spaces (fee and
 * outcome ids, segment and window names: they become line keys). */
int pbr_ct_get_ident(lctx *x, const yaml_node_t *n, const char *key, char **out);
/* Parses an exact decimal into out (already initialised). places >= 0 limits
 * the decimal places (money: 2). */
int pbr_ct_get_decimal(lctx *x, const yaml_node_t *n, const char *key, int places, mpq_t out);
/* A decimal that must be >= 0 (strict: > 0). */
int pbr_ct_get_nonneg(lctx *x, const yaml_node_t *n, const char *key, int places, int strict, mpq_t out);
/* Money: at most 2 places, within +-MONEY_LIMIT; nonneg: reject negative
 * amounts. */
int pbr_ct_get_money(lctx *x, const yaml_node_t *n, const char *key, int nonneg, mpq_t out);
/* A plain integer ("-"? digits) in [min, max]. */
int pbr_ct_get_int(lctx *x, const yaml_node_t *n, const char *key, int64_t min, int64_t max, int64_t *out);
int pbr_ct_get_int32(lctx *x, const yaml_node_t *n, const char *key, int min, int max, int *out);
/* A real date YYYY-MM-DD within DATE_MIN_TEXT..DATE_MAX_TEXT. */
int pbr_ct_get_date(lctx *x, const yaml_node_t *n, const char *key, pbr_date *out);
/* true/True/TRUE or false/False/FALSE. */
int pbr_ct_get_bool(lctx *x, const yaml_node_t *n, const char *key, int *out);
/* One of names (NULL-terminated); *out gets its index. */
int pbr_ct_get_choice(lctx *x, const yaml_node_t *n, const char *key, const char *const *names, int *out);

/* ---- vocabularies and the model (contract_model.c) ------------------------ */

/* Measure names in pbr_measure order; disposal kinds in pbr_disposal order
 * (the same words as the events' disposals). Both NULL-terminated. */
extern const char *const pbr_ct_measures[];
extern const char *const pbr_ct_disposals[];

/* The disposal kind a key names, or -1. */
int pbr_ct_disposal_index(const yaml_node_t *k);

/* A contract with its defaults (SPEC 4), or NULL when out of memory; free
 * with pbr_contract_destroy. */
pbr_contract *pbr_ct_contract_new(void);
/* Zero the part and initialise its rationals with their defaults; _clear
 * releases what the part owns (not the part itself). */
void pbr_ct_baseline_init(pbr_baseline *b);
void pbr_ct_baseline_clear(pbr_baseline *b);
void pbr_ct_pay_init(pbr_pay *p);
void pbr_ct_pay_clear(pbr_pay *p);

/* ---- the sections ------------------------------------------------------------ */

/* Compiles a where mapping (key `key` for messages) of the given kind into w
 * (empty on entry); w is freed by its owner either way. */
int pbr_ct_parse_where(lctx *x, const yaml_node_t *n, const char *key, pbr_where_kind kind, pbr_where *w);
/* The cohort section into x->c->cohort; computes x->wkeys. */
int pbr_ct_parse_cohort(lctx *x, const yaml_node_t *n);
/* The fees list into x->c->fees (advance_of is resolved by the links). */
int pbr_ct_parse_fees(lctx *x, const yaml_node_t *n);
/* A baseline of measure m into b (initialised). */
int pbr_ct_parse_baseline(lctx *x, const yaml_node_t *n, pbr_measure m, pbr_baseline *b);
/* {KIND: x, ...}: disposal kinds to counts (money: amounts of money). */
int pbr_ct_parse_counts(lctx *x, const yaml_node_t *n, const char *key, int money, int *has, mpq_t *vals);
/* {points|percent|avoided|significant: x}: *metric_key gets the metric key. */
int pbr_ct_parse_gate(lctx *x, const yaml_node_t *n, const char *key, pbr_metric *metric, mpq_t value,
                      yaml_node_t **metric_key);
/* A significance gate (5.9.3, at its metric key k) needs binary, or
 * frequency per member. */
int pbr_ct_check_significant(lctx *x, const yaml_node_t *k, const pbr_outcome *o);
/* The pay mapping of outcome o (its measure already known). */
int pbr_ct_parse_pay(lctx *x, const yaml_node_t *n, pbr_outcome *o);
/* The outcomes list into x->c->outcomes (hurdle is resolved by the links). */
int pbr_ct_parse_outcomes(lctx *x, const yaml_node_t *n);
/* Resolves hurdle and advance_of once every component is parsed. */
int pbr_ct_resolve_links(lctx *x, const yaml_node_t *root);

/* ---- cross-field rules on the model (contract_rules.c) -------------------- */

/* Which baseline forms measure m takes, as a bit set of pbr_baseline_kind
 * (0 for clean_period, which takes none). */
unsigned pbr_ct_baseline_forms(pbr_measure m);

/* What an outcome lacks once parsed. */
typedef enum {
    PBR_CT_COMPLETE = 0,
    PBR_CT_NO_PRICE,           /* no price, no tiers, not every segment priced */
    PBR_CT_NO_BASELINE,        /* the measure needs one; no segments */
    PBR_CT_SEGMENT_NO_BASELINE /* *segment: the first without one, and none on the outcome */
} pbr_ct_gap;
/* Checks that o pays something per unit and that every line has a baseline
 * where the measure needs one; *segment is set for
 * PBR_CT_SEGMENT_NO_BASELINE only. */
pbr_ct_gap pbr_ct_outcome_gap(const pbr_outcome *o, size_t *segment);

typedef enum {
    PBR_CT_SIGNIFICANCE_OK = 0,
    PBR_CT_SIGNIFICANCE_MEASURE,       /* neither binary nor frequency */
    PBR_CT_SIGNIFICANCE_PER_REOFFENDER /* the variance is per member */
} pbr_ct_significance;
/* Whether outcome o may carry a significance gate (SPEC 5.9.3). */
pbr_ct_significance pbr_ct_significance_fits(const pbr_outcome *o);

typedef enum {
    PBR_CT_HURDLE_OK = 0,
    PBR_CT_HURDLE_NOT_BINARY,
    PBR_CT_HURDLE_SEGMENTS /* the segment names differ */
} pbr_ct_hurdle;
/* Whether outcome h can be the hurdle of frequency outcome o (SPEC 5.9.1):
 * binary, with the same segment names in any order. */
pbr_ct_hurdle pbr_ct_hurdle_fits(const pbr_outcome *h, const pbr_outcome *o);

typedef enum {
    PBR_CT_ADVANCE_OK = 0,
    PBR_CT_ADVANCE_MEASURE,      /* neither binary nor frequency */
    PBR_CT_ADVANCE_NOT_QUARTERLY /* c's cohort period is not quarter */
} pbr_ct_advance;
/* Whether outcome o of contract c can be the target of a fee's advance_of
 * (SPEC 5.9.5). */
pbr_ct_advance pbr_ct_advance_fits(const pbr_contract *c, const pbr_outcome *o);

/* ---- key scopes ------------------------------------------------------------ */

/* Which measures a key applies to, as a bit set of pbr_measure. */
#define M_BIN (1u << PBR_M_BINARY)
#define M_FRQ (1u << PBR_M_FREQUENCY)
#define M_CLN (1u << PBR_M_CLEAN_PERIOD)
#define M_CUS (1u << PBR_M_CUSTODY_NIGHTS)
#define M_DSP (1u << PBR_M_DISPOSALS)
#define M_ALL (M_BIN | M_FRQ | M_CLN | M_CUS | M_DSP)

typedef struct key_scope {
    const char *key;
    unsigned measures;
} key_scope;

/* Reports the first key of map that does not apply to measure m (scope ends
 * with a NULL key). */
int pbr_ct_check_scope(lctx *x, const yaml_node_t *map, const key_scope *scope, pbr_measure m, const char *in);

#endif
