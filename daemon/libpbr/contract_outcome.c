/* contract_outcome.c -- the outcomes section (SPEC 4): each outcome's id,
 * measure and the keys its measure takes, segments, pooled gates (5.6,
 * 5.9.2), and the check that every line has a price and, where the measure
 * needs one, a baseline. A frequency outcome's hurdle is resolved with the
 * other links (contract_links.c).
 */
#include <string.h>

#include "libpbr/contract_internal.h"

static pbr_where_kind where_kind_of(pbr_measure m)
{
    return m == PBR_M_CUSTODY_NIGHTS ? PBR_WHERE_RECEPTION
        : m == PBR_M_DISPOSALS       ? PBR_WHERE_CONVICTION
                                     : PBR_WHERE_INDEX;
}

static int parse_segment(lctx *x, const yaml_node_t *n, pbr_outcome *o, size_t idx)
{
    static const char *const keys[] = {"name", "where", "baseline", "price", NULL};
    pbr_segment *s = &o->segments[idx];
    yaml_node_t *v, *k;
    char q[QBUF];
    if (pbr_ct_need_map(x, n, "segments") || pbr_ct_check_keys(x, n, keys, "segment"))
        return -1;
    if (!(v = pbr_ct_require(x, n, "name", "segment")) || pbr_ct_get_ident(x, v, "name", &s->name))
        return -1;
    for (size_t j = 0; j < idx; j++)
        if (strcmp(o->segments[j].name, s->name) == 0)
            return FAIL(x, v, "name: duplicate segment name %s", Q(v, q));
    if ((v = pbr_ct_find(x, n, "where", NULL))) {
        s->has_where = 1;
        if (pbr_ct_parse_where(x, v, "where", where_kind_of(o->measure), &s->where))
            return -1;
    }
    if ((v = pbr_ct_find(x, n, "baseline", &k))) {
        if (o->measure == PBR_M_CLEAN_PERIOD)
            return FAIL(x, k, "segment: \"baseline\" does not apply to clean_period");
        if (pbr_ct_parse_baseline(x, v, o->measure, &s->baseline))
            return -1;
        s->has_baseline = 1;
    }
    if ((v = pbr_ct_find(x, n, "price", &k))) {
        if (o->measure == PBR_M_DISPOSALS)
            return FAIL(x, k, "segment: \"price\" does not apply to disposals (pay.prices values them)");
        if (pbr_ct_get_money(x, v, "price", 1, s->price))
            return -1;
        s->has_price = 1;
    }
    return 0;
}

static int parse_segments(lctx *x, const yaml_node_t *n, pbr_outcome *o)
{
    size_t cnt;
    if (pbr_ct_list_alloc(x, n, "segments", MAX_LIST_ITEMS, sizeof *o->segments, (void **)&o->segments, &cnt))
        return -1;
    if (cnt == 0)
        return FAIL(x, n, "segments: an empty list excludes every member");
    for (size_t i = 0; i < cnt; i++) {
        pbr_ct_baseline_init(&o->segments[i].baseline);
        mpq_init(o->segments[i].price);
        o->nsegments++;
    }
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *s = seq_item(x, n, i);
        if (!s || parse_segment(x, s, o, i))
            return -1;
    }
    return 0;
}

/* pooled: {over: whole|year, threshold: {...}} (5.6; over: year is the
 * annual top-up of 5.9.2, quarterly cohorts only). */
static int parse_pooled(lctx *x, const yaml_node_t *n, pbr_outcome *o)
{
    static const char *const keys[] = {"over", "threshold", NULL};
    static const char *const overs[] = {"whole", "year", NULL};
    yaml_node_t *v, *mk;
    int i;
    if (pbr_ct_need_map(x, n, "pooled") || pbr_ct_check_keys(x, n, keys, "pooled"))
        return -1;
    if ((v = pbr_ct_find(x, n, "over", NULL))) {
        if (pbr_ct_get_choice(x, v, "over", overs, &i))
            return -1;
        o->pooled_over_year = i == 1;
        if (o->pooled_over_year && x->c->cohort.period != PBR_PERIOD_QUARTER)
            return FAIL(x, v, "over: year tops up quarterly cohorts; the cohort has no period: quarter");
    }
    if (!(v = pbr_ct_require(x, n, "threshold", "pooled")))
        return -1;
    if (pbr_ct_parse_gate(x, v, "threshold", &o->pooled_metric, o->pooled_threshold, &mk))
        return -1;
    if (o->pooled_metric == PBR_METRIC_SIGNIFICANT && pbr_ct_check_significant(x, mk, o))
        return -1;
    o->has_pooled = 1;
    return 0;
}

/* Checks that the component pays something per unit and that every line has a
 * baseline where the measure needs one (outcome map n, pay node pay). */
static int check_outcome_complete(lctx *x, const yaml_node_t *n, const yaml_node_t *pay, const pbr_outcome *o)
{
    size_t seg = 0;
    switch (pbr_ct_outcome_gap(o, &seg)) {
    case PBR_CT_COMPLETE: return 0;
    case PBR_CT_NO_PRICE:
        return FAIL(x, pay, "pay: missing price (give price%s, or a price on every segment)",
                    o->measure == PBR_M_BINARY || o->measure == PBR_M_FREQUENCY ? " or tiers" : "");
    case PBR_CT_NO_BASELINE:
        return FAIL(x, n, "missing key \"baseline\" in outcome (%s needs one)", pbr_measure_name(o->measure));
    case PBR_CT_SEGMENT_NO_BASELINE: break;
    }
    const yaml_node_t *segs = pbr_ct_find(x, n, "segments", NULL);
    const yaml_node_t *s = segs ? seq_item(x, segs, seg) : n;
    return FAIL(x, s ? s : n, "segment \"%s\": no baseline, and the component has none", o->segments[seg].name);
}

static int parse_outcome(lctx *x, const yaml_node_t *n, pbr_outcome *o)
{
    static const char *const keys[] = {"id",    "measure",  "follow_up", "waiting",  "counts", "per",    "exclude",
                                       "where", "baseline", "pay",       "segments", "pooled", "hurdle", NULL};
    static const key_scope scope[] = {{"follow_up", M_BIN | M_FRQ | M_CLN},
                                      {"waiting", M_BIN | M_FRQ | M_CLN | M_DSP},
                                      {"counts", M_BIN | M_FRQ},
                                      {"per", M_FRQ},
                                      {"exclude", M_ALL & ~M_CUS},
                                      {"where", M_CUS | M_DSP},
                                      {"baseline", M_ALL & ~M_CLN},
                                      {"pooled", M_BIN | M_FRQ},
                                      {"hurdle", M_FRQ},
                                      {NULL, 0}};
    static const char *const counts[] = {"offences", "convictions", NULL};
    static const char *const pers[] = {"member", "reoffender", NULL};
    const pbr_contract *c = x->c;
    yaml_node_t *v, *idn, *pay;
    int i;
    char q[QBUF];
    if (pbr_ct_need_map(x, n, "outcomes") || pbr_ct_check_keys(x, n, keys, "outcome"))
        return -1;
    if (!(idn = pbr_ct_require(x, n, "id", "outcome")) || pbr_ct_get_ident(x, idn, "id", &o->id))
        return -1;
    for (size_t j = 0; j < c->noutcomes; j++)
        if (&c->outcomes[j] != o && c->outcomes[j].id && strcmp(c->outcomes[j].id, o->id) == 0)
            return FAIL(x, idn, "id: duplicate outcome id %s", Q(idn, q));
    /* Fee and outcome lines share the line key (component, period, segment),
     * so an outcome may not reuse a fee's id either. */
    for (size_t j = 0; j < c->nfees; j++)
        if (c->fees[j].id && strcmp(c->fees[j].id, o->id) == 0)
            return FAIL(x, idn, "id: %s is already the id of a fee (line keys would collide)", Q(idn, q));
    if (!(v = pbr_ct_require(x, n, "measure", "outcome")) || pbr_ct_get_choice(x, v, "measure", pbr_ct_measures, &i))
        return -1;
    o->measure = (pbr_measure)i;
    if ((o->measure == PBR_M_BINARY || o->measure == PBR_M_FREQUENCY || o->measure == PBR_M_CLEAN_PERIOD) &&
        !c->has_cohort)
        return FAIL(x, v, "measure: %s needs a cohort (there is no cohort section)", pbr_measure_name(o->measure));
    if (pbr_ct_check_scope(x, n, scope, o->measure, "outcome"))
        return -1;
    if ((v = pbr_ct_find(x, n, "follow_up", NULL)) && pbr_ct_get_int32(x, v, "follow_up", 1, MAX_MONTHS, &o->follow_up))
        return -1;
    if ((v = pbr_ct_find(x, n, "waiting", NULL)) && pbr_ct_get_int32(x, v, "waiting", 0, MAX_MONTHS, &o->waiting))
        return -1;
    if ((v = pbr_ct_find(x, n, "counts", NULL))) {
        if (pbr_ct_get_choice(x, v, "counts", counts, &i))
            return -1;
        o->counts_convictions = i == 1;
    }
    if ((v = pbr_ct_find(x, n, "per", NULL))) {
        if (pbr_ct_get_choice(x, v, "per", pers, &i))
            return -1;
        o->per_reoffender = i == 1;
    }
    if ((v = pbr_ct_find(x, n, "exclude", NULL)) &&
        pbr_ct_parse_where(x, v, "exclude", PBR_WHERE_CONVICTION, &o->exclude))
        return -1;
    if ((v = pbr_ct_find(x, n, "where", NULL)) &&
        pbr_ct_parse_where(x, v, "where", where_kind_of(o->measure), &o->where))
        return -1;
    if ((v = pbr_ct_find(x, n, "baseline", NULL))) {
        if (pbr_ct_parse_baseline(x, v, o->measure, &o->baseline))
            return -1;
        o->has_baseline = 1;
    }
    if (!(pay = pbr_ct_require(x, n, "pay", "outcome")) || pbr_ct_parse_pay(x, pay, o))
        return -1;
    if ((v = pbr_ct_find(x, n, "segments", NULL)) && parse_segments(x, v, o))
        return -1;
    if ((v = pbr_ct_find(x, n, "pooled", NULL)) && parse_pooled(x, v, o))
        return -1;
    return check_outcome_complete(x, n, pay, o);
}

int pbr_ct_parse_outcomes(lctx *x, const yaml_node_t *n)
{
    pbr_contract *c = x->c;
    size_t cnt;
    if (pbr_ct_list_alloc(x, n, "outcomes", MAX_LIST_ITEMS, sizeof *c->outcomes, (void **)&c->outcomes, &cnt))
        return -1;
    for (size_t i = 0; i < cnt; i++) {
        pbr_outcome *o = &c->outcomes[i];
        o->follow_up = 12;
        o->waiting = 6;
        o->file_order = i;
        pbr_ct_baseline_init(&o->baseline);
        pbr_ct_pay_init(&o->pay);
        mpq_init(o->pooled_threshold);
        c->noutcomes++;
    }
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *o = seq_item(x, n, i);
        if (!o || parse_outcome(x, o, &c->outcomes[i]))
            return -1;
    }
    return 0;
}
