/* contract_baseline.c -- baselines (SPEC 4): which forms each measure takes
 * (rate, rates per cohort window, predicted from OGRS, OGRS reference,
 * history, nights, counts per disposal kind) and their values.
 */
#include <stdlib.h>
#include <string.h>

#include "libpbr/contract_internal.h"

/* 1 when a window period key is key (text of node k). */
static int is_window_key(const lctx *x, const yaml_node_t *k)
{
    for (size_t i = 0; i < x->nwkeys; i++)
        if (scalar_is(k, x->wkeys[i]))
            return 1;
    return 0;
}

/* A baseline rate >= 0; with proportion (a binary measure's) also <= 1. */
static int get_rate(lctx *x, const yaml_node_t *n, const char *key, int proportion, mpq_t out)
{
    char q[QBUF];
    if (pbr_ct_get_nonneg(x, n, key, -1, 0, out))
        return -1;
    if (proportion && mpq_cmp_ui(out, 1, 1) > 0)
        return FAIL(x, n, "%s: %s is above 1 (a binary rate is a proportion: 0.45, not 45)", key, Q(n, q));
    return 0;
}

/* {rates: {KEY: x}}: keys are exactly the cohort windows' period keys;
 * with proportion every rate is in [0, 1]. */
static int parse_rates(lctx *x, const yaml_node_t *n, int proportion, pbr_baseline *b)
{
    char q[QBUF];
    if (pbr_ct_need_map(x, n, "rates") || pbr_ct_check_keys(x, n, NULL, "rates"))
        return -1;
    size_t np = map_size(n);
    b->rate_keys = calloc(np ? np : 1, sizeof *b->rate_keys);
    b->rate_values = calloc(np ? np : 1, sizeof *b->rate_values);
    if (!b->rate_keys || !b->rate_values)
        return pbr_ct_oom(x, n);
    for (size_t i = 0; i < np; i++) {
        mpq_init(b->rate_values[i]);
        b->nrates++;
    }
    for (size_t i = 0; i < np; i++) {
        yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
        yaml_node_t *k = node_at(x, p->key), *v = node_at(x, p->value);
        if (!k || !v)
            return FAIL(x, n, "rates: malformed mapping");
        if (!is_window_key(x, k))
            return FAIL(x, k, "rates: %s is not a cohort window of this contract", Q(k, q));
        if (pbr_ct_get_str(x, k, "rates", &b->rate_keys[i]) || get_rate(x, v, "rates", proportion, b->rate_values[i]))
            return -1;
    }
    for (size_t w = 0; w < x->nwkeys; w++) {
        int found = 0;
        for (size_t i = 0; i < np && !found; i++)
            found = strcmp(b->rate_keys[i], x->wkeys[w]) == 0;
        if (!found)
            return FAIL(x, n, "rates: missing cohort \"%s\"", x->wkeys[w]);
    }
    return 0;
}

/* {counts: {custody: x, ...}}: disposal kinds to yearly counts. */
int pbr_ct_parse_counts(lctx *x, const yaml_node_t *n, const char *key, int money, int *has, mpq_t *vals)
{
    char q[QBUF];
    if (pbr_ct_need_map(x, n, key) || pbr_ct_check_keys(x, n, pbr_ct_disposals, key))
        return -1;
    if (map_size(n) == 0)
        return FAIL(x, n, "%s: lists no disposal kinds", key);
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(x, p->key), *v = node_at(x, p->value);
        int d = pbr_ct_disposal_index(k);
        if (d < 0 || !v)
            return FAIL(x, k ? k : n, "%s: %s is not a disposal kind", key, Q(k, q));
        if (money ? pbr_ct_get_money(x, v, key, 1, vals[d]) : pbr_ct_get_nonneg(x, v, key, -1, 0, vals[d]))
            return -1;
        has[d] = 1;
    }
    return 0;
}

int pbr_ct_parse_baseline(lctx *x, const yaml_node_t *n, pbr_measure m, pbr_baseline *b)
{
    static const char *const keys[] = {"rate",    "rates",  "predicted", "scale", "ogrs_reference",
                                       "history", "nights", "counts",    NULL};
    yaml_node_t *kr = NULL, *krs = NULL, *kp = NULL, *ks = NULL, *ko = NULL, *kh = NULL, *kn = NULL, *kc = NULL;
    yaml_node_t *rate, *rates, *pred, *scale, *oref, *hist, *nights, *counts, *form;
    char q[QBUF];
    if (pbr_ct_need_map(x, n, "baseline") || pbr_ct_check_keys(x, n, keys, "baseline"))
        return -1;
    rate = pbr_ct_find(x, n, "rate", &kr);
    rates = pbr_ct_find(x, n, "rates", &krs);
    pred = pbr_ct_find(x, n, "predicted", &kp);
    scale = pbr_ct_find(x, n, "scale", &ks);
    oref = pbr_ct_find(x, n, "ogrs_reference", &ko);
    hist = pbr_ct_find(x, n, "history", &kh);
    nights = pbr_ct_find(x, n, "nights", &kn);
    counts = pbr_ct_find(x, n, "counts", &kc);
    if (oref && !rate)
        return FAIL(x, ko, "ogrs_reference: needs rate");
    if (scale && !pred)
        return FAIL(x, ks, "scale: applies only to predicted");
    int nforms = !!rate + !!rates + !!pred + !!hist + !!nights + !!counts;
    if (nforms == 0)
        return FAIL(x, n, "baseline: give one of rate, rates, predicted, history, nights or counts");
    if (nforms > 1)
        return FAIL(x, n, "baseline: give only one of rate, rates, predicted, history, nights or counts");
    if (rate) {
        b->kind = oref ? PBR_BL_OGRS_REF : PBR_BL_RATE;
        form = oref ? ko : kr;
    } else if (rates) {
        b->kind = PBR_BL_RATES;
        form = krs;
    } else if (pred) {
        b->kind = PBR_BL_PREDICTED;
        form = kp;
    } else if (hist) {
        b->kind = PBR_BL_HISTORY;
        form = kh;
    } else if (nights) {
        b->kind = PBR_BL_NIGHTS;
        form = kn;
    } else {
        b->kind = PBR_BL_COUNTS;
        form = kc;
    }
    if (!(pbr_ct_baseline_forms(m) & (1u << b->kind))) {
        if (b->kind == PBR_BL_PREDICTED || b->kind == PBR_BL_OGRS_REF)
            return FAIL(x, form, "baseline: %s (an OGRS baseline) applies only to binary, not %s", Q(form, q),
                        pbr_measure_name(m));
        return FAIL(x, form, "baseline: %s does not apply to %s", Q(form, q), pbr_measure_name(m));
    }
    int proportion = m == PBR_M_BINARY; /* a binary rate is a share of the cohort: [0, 1] */
    switch (b->kind) {
    case PBR_BL_RATE: return get_rate(x, rate, "rate", proportion, b->rate);
    case PBR_BL_OGRS_REF:
        if (get_rate(x, rate, "rate", proportion, b->rate))
            return -1;
        return pbr_ct_get_nonneg(x, oref, "ogrs_reference", -1, 1, b->ogrs_reference);
    case PBR_BL_RATES: return parse_rates(x, rates, proportion, b);
    case PBR_BL_PREDICTED:
        if (pbr_ct_need_scalar(x, pred, "predicted"))
            return -1;
        if (!scalar_is(pred, "ogrs"))
            return FAIL(x, pred, "predicted: %s is not ogrs", Q(pred, q));
        return scale ? pbr_ct_get_nonneg(x, scale, "scale", -1, 0, b->scale) : 0;
    case PBR_BL_HISTORY: return pbr_ct_get_int32(x, hist, "history", 1, MAX_HISTORY, &b->history_years);
    case PBR_BL_NIGHTS: return pbr_ct_get_nonneg(x, nights, "nights", -1, 0, b->nights);
    case PBR_BL_COUNTS: return pbr_ct_parse_counts(x, counts, "counts", 0, b->has_count, b->counts);
    case PBR_BL_NONE: break;
    }
    return 0;
}
