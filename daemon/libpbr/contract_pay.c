/* contract_pay.c -- the pay mapping of an outcome (SPEC 4, 5.9.3): which pay
 * keys apply to which measure, threshold gates (points, percent, avoided,
 * significant), per, from_threshold, price or tiers, max_units, cap, OGRS
 * weighting, and disposals' prices and share.
 */
#include <stdlib.h>

#include "libpbr/contract_internal.h"

static const char *const GATE_METRICS[] = {"points", "percent", "avoided", "significant", NULL}; /* pbr_metric order */
static const char *const PER_METRICS[] = {"point", "percent", "avoided", NULL};                  /* pbr_metric order */

/* {points|percent|avoided|significant: x}: exactly one metric key. A
 * significance z (5.9.3) must not be negative. */
int pbr_ct_parse_gate(lctx *x, const yaml_node_t *n, const char *key, pbr_metric *metric, mpq_t value,
                      yaml_node_t **metric_key)
{
    if (pbr_ct_need_map(x, n, key) || pbr_ct_check_keys(x, n, GATE_METRICS, key))
        return -1;
    if (map_size(n) != 1)
        return FAIL(x, n, "%s: give exactly one of points, percent, avoided or significant", key);
    yaml_node_pair_t *p = n->data.mapping.pairs.start;
    yaml_node_t *k = node_at(x, p->key), *v = node_at(x, p->value);
    if (!k || !v)
        return FAIL(x, n, "%s: malformed mapping", key);
    for (int i = 0; GATE_METRICS[i]; i++)
        if (scalar_is(k, GATE_METRICS[i]))
            *metric = (pbr_metric)i;
    *metric_key = k;
    if (*metric == PBR_METRIC_SIGNIFICANT)
        return pbr_ct_get_nonneg(x, v, GATE_METRICS[*metric], -1, 0, value);
    if (pbr_ct_get_decimal(x, v, GATE_METRICS[*metric], -1, value))
        return -1;
    if ((*metric == PBR_METRIC_POINTS || *metric == PBR_METRIC_PERCENT) && mpq_cmp_ui(value, GATE_PERCENT_MAX, 1) > 0) {
        char q[QBUF];
        return FAIL(x, v, "%s: %s is above 100", GATE_METRICS[*metric], Q(v, q));
    }
    return 0;
}

static int parse_tiers(lctx *x, const yaml_node_t *n, pbr_pay *p)
{
    static const char *const keys[] = {"upto", "price", NULL};
    char q[QBUF];
    if (pbr_ct_need_seq(x, n, "tiers"))
        return -1;
    size_t cnt = seq_size(n);
    if (cnt == 0)
        return FAIL(x, n, "tiers: an empty list pays nothing (give price instead)");
    p->tiers = calloc(cnt, sizeof *p->tiers);
    if (!p->tiers)
        return pbr_ct_oom(x, n);
    for (size_t i = 0; i < cnt; i++) {
        mpq_init(p->tiers[i].upto);
        mpq_init(p->tiers[i].price);
        p->ntiers++;
    }
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *t = seq_item(x, n, i), *v;
        pbr_tier *tier = &p->tiers[i];
        if (!t || pbr_ct_need_map(x, t, "tiers") || pbr_ct_check_keys(x, t, keys, "tier"))
            return -1;
        if (!(v = pbr_ct_require(x, t, "price", "tier")) || pbr_ct_get_money(x, v, "price", 1, tier->price))
            return -1;
        if (!(v = pbr_ct_find(x, t, "upto", NULL))) {
            if (i + 1 < cnt)
                return FAIL(x, t, "tiers: only the last tier may leave out upto");
            continue;
        }
        tier->has_upto = 1;
        if (pbr_ct_get_nonneg(x, v, "upto", -1, 1, tier->upto))
            return -1;
        if (i > 0 && mpq_cmp(tier->upto, p->tiers[i - 1].upto) <= 0)
            return FAIL(x, v, "upto: %s does not rise above the previous tier's upto", Q(v, q));
    }
    return 0;
}

/* Reports the first key of map that does not apply to measure m. */
int pbr_ct_check_scope(lctx *x, const yaml_node_t *map, const key_scope *scope, pbr_measure m, const char *in)
{
    char q[QBUF];
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(x, p->key);
        for (size_t i = 0; scope[i].key; i++)
            if (scalar_is(k, scope[i].key) && !(scope[i].measures & (1u << m)))
                return FAIL(x, k, "%s: %s does not apply to %s", in, Q(k, q), pbr_measure_name(m));
    }
    return 0;
}

/* A significance gate (5.9.3, at its metric key k) needs V: binary, or
 * frequency per member. */
int pbr_ct_check_significant(lctx *x, const yaml_node_t *k, const pbr_outcome *o)
{
    switch (pbr_ct_significance_fits(o)) {
    case PBR_CT_SIGNIFICANCE_OK: return 0;
    case PBR_CT_SIGNIFICANCE_MEASURE:
        return FAIL(x, k, "significant: applies to binary and frequency, not %s", pbr_measure_name(o->measure));
    case PBR_CT_SIGNIFICANCE_PER_REOFFENDER:
        return FAIL(x, k, "significant: needs per: member (the gate's variance is per member, not per reoffender)");
    }
    return 0;
}

int pbr_ct_parse_pay(lctx *x, const yaml_node_t *n, pbr_outcome *o)
{
    static const char *const keys[] = {"threshold", "below", "per",    "from_threshold", "price", "tiers",
                                       "max_units", "cap",   "weight", "prices",         "share", NULL};
    static const key_scope scope[] = {{"threshold", M_BIN | M_FRQ | M_CUS},
                                      {"below", M_BIN | M_FRQ | M_CUS},
                                      {"per", M_BIN | M_FRQ | M_CUS},
                                      {"from_threshold", M_BIN | M_FRQ | M_CUS},
                                      {"price", M_ALL & ~M_DSP},
                                      {"tiers", M_BIN | M_FRQ},
                                      {"max_units", M_BIN | M_FRQ},
                                      {"cap", M_ALL & ~M_DSP},
                                      {"weight", M_ALL & ~M_DSP},
                                      {"prices", M_DSP},
                                      {"share", M_DSP},
                                      {NULL, 0}};
    static const char *const weights[] = {"none", "ogrs", NULL};
    pbr_pay *p = &o->pay;
    pbr_measure m = o->measure;
    yaml_node_t *v, *k, *gate_key = NULL, *per_node = NULL;
    int i;
    char q[QBUF];
    if (pbr_ct_need_map(x, n, "pay") || pbr_ct_check_keys(x, n, keys, "pay") ||
        pbr_ct_check_scope(x, n, scope, m, "pay"))
        return -1;
    if ((v = pbr_ct_find(x, n, "threshold", NULL))) {
        if (pbr_ct_parse_gate(x, v, "threshold", &p->threshold_metric, p->threshold, &gate_key))
            return -1;
        p->has_threshold = 1;
        if (m == PBR_M_CUSTODY_NIGHTS && p->threshold_metric == PBR_METRIC_POINTS)
            return FAIL(x, gate_key, "threshold: custody_nights has no points metric (use avoided or percent)");
        if (p->threshold_metric == PBR_METRIC_SIGNIFICANT && pbr_ct_check_significant(x, gate_key, o))
            return -1;
    }
    if ((v = pbr_ct_find(x, n, "below", NULL)) && pbr_ct_get_money(x, v, "below", 0, p->below))
        return -1;
    if ((per_node = pbr_ct_find(x, n, "per", NULL))) {
        if (pbr_ct_get_choice(x, per_node, "per", PER_METRICS, &i))
            return -1;
        p->per = (pbr_metric)i;
        if (m == PBR_M_CUSTODY_NIGHTS && p->per == PBR_METRIC_POINTS)
            return FAIL(x, per_node, "per: custody_nights pays per avoided or percent, not point");
    }
    if ((v = pbr_ct_find(x, n, "from_threshold", &k))) {
        if (pbr_ct_get_bool(x, v, "from_threshold", &p->from_threshold))
            return -1;
        if (p->from_threshold && !p->has_threshold)
            return FAIL(x, k, "from_threshold: there is no threshold");
        if (p->from_threshold && p->threshold_metric == PBR_METRIC_SIGNIFICANT)
            return FAIL(x, k, "from_threshold: a significance gate has no value to count units from");
        if (p->from_threshold && p->threshold_metric != p->per)
            return FAIL(x, k, "from_threshold: the gate is in %s but per is %s", GATE_METRICS[p->threshold_metric],
                        PER_METRICS[p->per]);
    }
    if ((v = pbr_ct_find(x, n, "price", NULL))) {
        if (pbr_ct_get_money(x, v, "price", 1, p->price))
            return -1;
        p->has_price = 1;
    }
    if ((v = pbr_ct_find(x, n, "tiers", &k))) {
        if (p->has_price)
            return FAIL(x, k, "tiers: give either price or tiers, not both");
        if (parse_tiers(x, v, p))
            return -1;
    }
    if ((v = pbr_ct_find(x, n, "max_units", NULL))) {
        if (pbr_ct_get_nonneg(x, v, "max_units", -1, 0, p->max_units))
            return -1;
        p->has_max_units = 1;
    }
    if ((v = pbr_ct_find(x, n, "cap", NULL))) {
        if (pbr_ct_get_money(x, v, "cap", 1, p->cap))
            return -1;
        p->has_cap = 1;
    }
    if ((v = pbr_ct_find(x, n, "weight", NULL))) {
        if (pbr_ct_get_choice(x, v, "weight", weights, &i))
            return -1;
        p->weight_ogrs = i == 1;
        if (p->weight_ogrs && !(m == PBR_M_BINARY || m == PBR_M_FREQUENCY || m == PBR_M_CLEAN_PERIOD))
            return FAIL(x, v, "weight: ogrs applies only to binary, frequency and clean_period, not %s",
                        pbr_measure_name(m));
    }
    if (m == PBR_M_DISPOSALS) {
        if (!(v = pbr_ct_require(x, n, "prices", "pay")))
            return -1;
        if (pbr_ct_parse_counts(x, v, "prices", 1, p->has_kind_price, p->prices))
            return -1;
        p->has_prices = 1;
        if ((v = pbr_ct_find(x, n, "share", NULL))) {
            if (pbr_ct_get_nonneg(x, v, "share", -1, 1, p->share))
                return -1;
            if (mpq_cmp_ui(p->share, 100, 1) > 0)
                return FAIL(x, v, "share: %s is more than 100 percent", Q(v, q));
        }
    }
    return 0;
}
