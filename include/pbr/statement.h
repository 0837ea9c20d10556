/* statement.h -- settlement statements (SPEC.md section 6): the in-memory
 * form produced by the evaluator, its canonical JSON bytes, and the YAML, CSV
 * and text renderings for people.
 *
 * Canonical JSON is one line, keys in the order of section 6, separators
 * ", " and ": ", decimals as 6-place half-even strings, money as integer
 * pence. Renderings work from that JSON, so pbrctl renders what the daemon
 * returns exactly as it renders what simulate computes.
 */
#ifndef PBR_STATEMENT_H
#define PBR_STATEMENT_H

#include <stddef.h>
#include <stdint.h>

#include "pbr/date.h"

typedef enum { PBR_LINE_FEE = 0, PBR_LINE_OUTCOME, PBR_LINE_POOLED, PBR_LINE_ADJUSTMENT } pbr_line_kind;

#define PBR_NUMSTR 40 /* a 6-place decimal string; "" means null */

typedef struct pbr_line {
    pbr_line_kind kind;
    char component[72]; /* fee or outcome id */
    char period[32];    /* quarter first day, year label, window name, "all", "pooled" */
    int has_segment;
    char segment[64];
    pbr_date final_on;
    /* outcome / pooled: nullable counts (-1 = null) */
    int64_t members, excluded, reoffenders, reoffences;
    char actual[PBR_NUMSTR], baseline[PBR_NUMSTR], points[PBR_NUMSTR];
    char percent[PBR_NUMSTR], avoided[PBR_NUMSTR], units[PBR_NUMSTR];
    int threshold_met;      /* -1 null, 0 false, 1 true */
    int64_t computed_pence; /* before contract_cap (5.5.6); not rendered */
    int64_t amount_pence;   /* paid */
    int64_t previous_pence; /* adjustment */
} pbr_line;

typedef struct pbr_statement {
    char contract[64];
    char sha256[65];
    pbr_date quarter;
    char label[16];
    pbr_date start, end, as_of;
    uint64_t events_through;
    pbr_line *lines;
    size_t nlines;
    pbr_line *provisional;
    size_t nprovisional;
    int64_t total_pence;
} pbr_statement;

/* The JSON name of a line kind ("fee", "outcome", "pooled", "adjustment"). */
const char *pbr_line_kind_name(pbr_line_kind k);

/* Frees a statement made by the evaluator (pbr_settle_quarter) and sets *sp
 * to NULL; safe on NULL and on a NULL *sp. */
void pbr_statement_destroy(pbr_statement **sp);
/* Frees the lines of a statement embedded in another struct and empties it
 * (the struct itself is the caller's). */
void pbr_statement_clear(pbr_statement *s);

/* Canonical JSON (one line, no trailing newline). Returns malloc'd text
 * (caller frees) and *len, or NULL on allocation failure. */
char *pbr_statement_to_json(const pbr_statement *s, size_t *len);

/* Canonical JSON of one line (the objects of "lines" and "provisional"). */
char *pbr_line_to_json(const pbr_line *l, size_t *len);

typedef enum { PBR_FMT_JSON = 0, PBR_FMT_YAML, PBR_FMT_CSV, PBR_FMT_TEXT } pbr_format;

/* Returns the format for "json"/"yaml"/"csv"/"text", or -1. */
int pbr_format_from_name(const char *name);

/* Renders a statement given as canonical JSON into fmt. JSON is returned as
 * is. Returns malloc'd text (caller frees), or NULL with err set when the
 * input is not a statement. */
char *pbr_statement_render(const char *json, size_t len, pbr_format fmt, char *err, size_t errlen);

/* As pbr_statement_render, with the contract's title (NULL = "") for the
 * CSV's title column. CSV columns: contract, title, quarter, label,
 * section (lines, provisional, total), the line's keys in the order of
 * section 6 with previous_gbp and amount_gbp (exact pounds, two decimals)
 * beside the pence; text cells that could run as spreadsheet formulas are
 * prefixed with ' (money.h). Text shows pounds as £1,234,567.89. */
char *pbr_statement_render_titled(const char *json, size_t len, pbr_format fmt, const char *title, char *err,
                                  size_t errlen);

#endif
