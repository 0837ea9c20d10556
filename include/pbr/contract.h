/* contract.h -- the contract model of SPEC.md section 4 and its loader.
 *
 * pbr_contract_parse turns a YAML file's bytes into a pbr_contract: every key
 * checked, every default applied, every decimal kept exact (mpq_t, money in
 * pounds), every error reported as file:line:column. The model is read-only
 * after loading; the evaluator (settle.h) reads it and nothing else.
 * pbr_contract_destroy releases everything the contract owns. The loader is
 * daemon/libpbr/contract.c with one module per section (contract_internal.h
 * lists them).
 */
#ifndef PBR_CONTRACT_H
#define PBR_CONTRACT_H

#include <gmp.h>
#include <stddef.h>
#include <stdint.h>

#include "pbr/date.h"
#include "pbr/event.h"

/* ---- where: conditions on event fields ---------------------------------- */

typedef enum {
    PBR_F_ESTABLISHMENT = 0, /* string */
    PBR_F_AREA,              /* string */
    PBR_F_PROVIDER,          /* string */
    PBR_F_ORDER,             /* string */
    PBR_F_SENTENCE_DAYS,     /* integer */
    PBR_F_AGE,               /* integer */
    PBR_F_GENDER,            /* string "M"/"F"/"X" */
    PBR_F_OGRS,              /* decimal, compared in ten-thousandths */
    PBR_F_PRIOR_SANCTIONS,   /* integer */
    PBR_F_FLAGS,             /* list of strings: matches when any flag is any value */
    PBR_F_REMAND,            /* boolean (receptions) */
    PBR_F_CATEGORY,          /* string (convictions) */
    PBR_F_DISPOSAL,          /* string (convictions) */
    PBR_F_COUNT
} pbr_field;

/* Which fields a where may name, by the events it applies to. */
typedef enum {
    PBR_WHERE_INDEX = 0, /* cohort.where, segments of cohort measures */
    PBR_WHERE_RECEPTION, /* custody_nights where and segments */
    PBR_WHERE_CONVICTION /* exclude, disposals where and segments */
} pbr_where_kind;

/* One key of a where. Numeric fields are compiled to integers (ogrs scaled by
 * 10000): a range is [min, max] inclusive after rounding a decimal bound
 * inward (min up, max down); a list value that is not representable is
 * dropped (it can never match). */
typedef struct pbr_cond {
    pbr_field field;
    int is_range;     /* numeric {min, max} */
    int64_t min, max; /* INT64_MIN / INT64_MAX when that bound is absent */
    int64_t *nums;    /* numeric list (a scalar is a list of one) */
    size_t nnums;
    char **strs; /* string list (a scalar is a list of one) */
    size_t nstrs;
    int boolean; /* PBR_F_REMAND: the wanted value */
} pbr_cond;

typedef struct pbr_where {
    pbr_cond *conds; /* all must match; ncond == 0 matches everything */
    size_t nconds;
} pbr_where;

/* ---- cohort --------------------------------------------------------------- */

typedef enum { PBR_PERIOD_QUARTER = 0, PBR_PERIOD_YEAR, PBR_PERIOD_WHOLE, PBR_PERIOD_WINDOWS } pbr_period;

typedef struct pbr_window {
    char *name;
    pbr_date from, to; /* half-open [from, to) */
} pbr_window;

typedef struct pbr_cohort {
    pbr_event_type index; /* PBR_EV_RELEASE or PBR_EV_COMMUNITY_START */
    pbr_period period;    /* default year */
    pbr_window *windows;  /* PBR_PERIOD_WINDOWS only, in file order */
    size_t nwindows;
    int64_t size;      /* 0 = no cap */
    int members_first; /* 1: first (default), 0: every */
    pbr_where where;
} pbr_cohort;

/* ---- fees ------------------------------------------------------------------ */

typedef struct pbr_fee {
    char *id;
    int dated;         /* 0: per_quarter over [from, to]; 1: one amount on `on` */
    mpq_t amount;      /* pounds: per_quarter or amount */
    pbr_date from, to; /* quarterly: default contract start / end (inclusive days) */
    pbr_date on;       /* dated */
    size_t file_order;
    /* SPEC 5.9.4, quarterly fees only: the yearly volume reconciliation */
    int has_volume;
    pbr_event_type volume_index;  /* PBR_EV_RELEASE or PBR_EV_COMMUNITY_START */
    pbr_where volume_where;       /* index-event fields */
    int64_t volume_lo, volume_hi; /* band [lo, hi], whole numbers, lo <= hi */
    mpq_t volume_rate;            /* pounds per index event outside the band */
    /* SPEC 5.9.5, quarterly fees only: a foundation advance of an outcome */
    int has_advance;
    size_t advance_of; /* index into outcomes: binary/frequency, quarterly cohort */
} pbr_fee;

/* ---- outcomes -------------------------------------------------------------- */

typedef enum {
    PBR_M_BINARY = 0,
    PBR_M_FREQUENCY,
    PBR_M_CLEAN_PERIOD,
    PBR_M_CUSTODY_NIGHTS,
    PBR_M_DISPOSALS
} pbr_measure;

/* SIGNIFICANT is a gate only (SPEC 5.9.3: threshold {significant: z}); per
 * is one of the first three. */
typedef enum { PBR_METRIC_POINTS = 0, PBR_METRIC_PERCENT, PBR_METRIC_AVOIDED, PBR_METRIC_SIGNIFICANT } pbr_metric;

typedef enum {
    PBR_BL_NONE = 0,
    PBR_BL_RATE,      /* {rate: x} */
    PBR_BL_RATES,     /* {rates: {NAME: x, ...}} keyed by window period key */
    PBR_BL_PREDICTED, /* {predicted: ogrs, scale: k} */
    PBR_BL_OGRS_REF,  /* {rate: x, ogrs_reference: r} */
    PBR_BL_HISTORY,   /* {history: n} */
    PBR_BL_NIGHTS,    /* {nights: x} */
    PBR_BL_COUNTS     /* {counts: {custody: x, ...}} */
} pbr_baseline_kind;

typedef struct pbr_baseline {
    pbr_baseline_kind kind;
    mpq_t rate;           /* RATE, OGRS_REF */
    mpq_t scale;          /* PREDICTED (default 1) */
    mpq_t ogrs_reference; /* OGRS_REF */
    char **rate_keys;     /* RATES: period keys, file order */
    mpq_t *rate_values;
    size_t nrates;
    int history_years; /* HISTORY */
    mpq_t nights;      /* NIGHTS */
    int has_count[PBR_DISP_COUNT];
    mpq_t counts[PBR_DISP_COUNT]; /* COUNTS */
} pbr_baseline;

typedef struct pbr_tier {
    int has_upto; /* the last tier may be open */
    mpq_t upto;
    mpq_t price; /* pounds */
} pbr_tier;

typedef struct pbr_pay {
    int has_threshold;
    pbr_metric threshold_metric;
    mpq_t threshold;
    mpq_t below;    /* pounds, default 0 */
    pbr_metric per; /* default avoided */
    int from_threshold;
    int has_price;
    mpq_t price; /* pounds */
    pbr_tier *tiers;
    size_t ntiers;
    int has_max_units;
    mpq_t max_units;
    int has_cap;
    mpq_t cap; /* pounds */
    int weight_ogrs;
    /* disposals */
    int has_prices;
    int has_kind_price[PBR_DISP_COUNT];
    mpq_t prices[PBR_DISP_COUNT]; /* pounds */
    mpq_t share;                  /* percent, default 100 */
} pbr_pay;

typedef struct pbr_segment {
    char *name;
    int has_where;
    pbr_where where;
    int has_baseline;
    pbr_baseline baseline;
    int has_price;
    mpq_t price; /* replaces pay's price and tiers */
} pbr_segment;

typedef struct pbr_outcome {
    char *id;
    pbr_measure measure;
    int follow_up;          /* months, default 12 */
    int waiting;            /* months, default 6 */
    int counts_convictions; /* counts: convictions */
    int per_reoffender;     /* per: reoffender */
    pbr_where exclude;      /* conviction fields */
    pbr_where where;        /* custody_nights: reception fields; disposals: conviction fields */
    int has_baseline;
    pbr_baseline baseline;
    pbr_pay pay;
    pbr_segment *segments;
    size_t nsegments;
    int has_pooled;
    pbr_metric pooled_metric;
    mpq_t pooled_threshold;
    int pooled_over_year; /* SPEC 5.9.2: pooled {over: year} (quarterly cohorts) */
    int has_hurdle;       /* SPEC 5.9.1: frequency only */
    size_t hurdle;        /* index into outcomes: a binary with the same segment names */
    size_t file_order;
} pbr_outcome;

/* ---- the contract ------------------------------------------------------------ */

typedef struct pbr_contract {
    char *id;
    char *title;
    char *provider;
    char *commissioner; /* optional */
    pbr_date start, end;
    int year_start;        /* 1..12, default 4 */
    int settle_after_days; /* default 30 */
    int has_contract_cap;
    mpq_t contract_cap; /* pounds */
    int run_off;        /* default 4 */
    int has_cohort;
    pbr_cohort cohort;
    pbr_fee *fees;
    size_t nfees;
    pbr_outcome *outcomes;
    size_t noutcomes;
    char sha256[65]; /* hex of the file bytes */
    char *bytes;     /* a copy of the file bytes (NUL-terminated) */
    size_t nbytes;
} pbr_contract;

/* One loader error, positions 1-based. */
typedef struct pbr_diag {
    char file[256];
    int line, column;
    char message[PBR_ERR_MAX];
} pbr_diag;

/* Parses a contract from bytes; name is used in diagnostics (the file path).
 * Returns 0 and *out (caller frees with pbr_contract_destroy), or -1 with *diag
 * filled with the first error (file:line:column: message) and *out NULL. */
int pbr_contract_parse(const char *name, const char *bytes, size_t len, pbr_contract **out, pbr_diag *diag);

/* Reads path and parses it. Same returns; I/O errors are reported in diag
 * with line 0, column 0. */
int pbr_contract_load(const char *path, pbr_contract **out, pbr_diag *diag);

/* Frees *cp and sets it to NULL (cp or *cp NULL: nothing to do). */
void pbr_contract_destroy(pbr_contract **cp);

/* Formats a diag as "file:line:column: message" into out. */
void pbr_diag_format(const pbr_diag *d, char *out, size_t n);

const char *pbr_measure_name(pbr_measure m);

#endif
