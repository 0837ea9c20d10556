/* summary.h -- totals of statements for people: a statement's payable
 * lines split into fees, outcomes (outcome and pooled lines) and
 * adjustments, and the running totals per settlement year and over a
 * contract's life that `pbrctl simulate`, `statements`, `diff` and
 * `report` print. Integer pence only: totals are sums of the rounded lines
 * (SPEC.md 5.5.5).
 */
#ifndef PBR_SUMMARY_H
#define PBR_SUMMARY_H

#include <stddef.h>
#include <stdint.h>

#include "pbr/statement.h"

typedef struct pbr_split {
    int64_t fees, outcomes, adjustments;
} pbr_split;

/* fees + outcomes + adjustments. */
int64_t pbr_split_total(const pbr_split *s);
void pbr_split_add(pbr_split *into, const pbr_split *s);

/* Adds the amount of one line (by its kind name: "fee", "outcome",
 * "pooled", "adjustment"; others are ignored) to s. */
void pbr_split_add_line(pbr_split *s, const char *kind, int64_t amount_pence);

/* The split of a statement's payable lines. */
void pbr_split_statement(const pbr_statement *st, pbr_split *out);

/* The settlement year of a quarter label: "2013-14 Q2" -> "2013-14",
 * "2013 Q3" -> "2013"; a label without " Q" is copied whole. */
void pbr_year_of_label(const char *label, char *out, size_t n);

/* Running totals of a sequence of statements in quarter order: one entry
 * per settlement year (in order) and the lifetime. */
typedef struct pbr_year_total {
    char year[16];
    pbr_split split;
} pbr_year_total;

typedef struct pbr_totals {
    pbr_year_total *years;
    size_t nyears, cap;
    pbr_split life;
} pbr_totals;

/* One row of the `statements` op for a statement given as canonical JSON:
 * a new {quarter,label,as_of,events_through,contract_sha256,lines,
 * fees_pence,outcomes_pence,adjustments_pence,total_pence} object, or NULL
 * when the text is not a statement (or out of memory). */
struct json_t;
struct json_t *pbr_statement_summary_json(const char *json, size_t len);

/* Adds one statement's split under its quarter label. Returns 0, or -1 when
 * out of memory. Free with pbr_totals_clear (a zeroed pbr_totals is empty). */
int pbr_totals_add(pbr_totals *t, const char *label, const pbr_split *s);
/* Releases the rows of t and zeroes it. Safe on a zeroed pbr_totals. */
void pbr_totals_clear(pbr_totals *t);

#endif
