/* contract_links.c -- references between components, resolved once every
 * fee and outcome is parsed: a frequency outcome's hurdle (SPEC 5.9.1) and a
 * quarterly fee's advance_of (5.9.5).
 */
#include "libpbr/contract_internal.h"

/* The outcome a reference v names (key names the reference in messages):
 * returns its index, or -1 after reporting v as not a single value or not
 * an outcome of this contract. */
static int64_t outcome_ref(lctx *x, const yaml_node_t *v, const char *key)
{
    char q[QBUF];
    if (pbr_ct_need_scalar(x, v, key))
        return -1;
    for (size_t j = 0; j < x->c->noutcomes; j++)
        if (scalar_is(v, x->c->outcomes[j].id))
            return (int64_t)j;
    return FAIL(x, v, "%s: %s is not an outcome of this contract", key, Q(v, q));
}

/* hurdle: ID on frequency outcome o: a binary outcome with the same segment
 * names. */
static int resolve_hurdle(lctx *x, const yaml_node_t *v, pbr_outcome *o)
{
    char q[QBUF];
    int64_t j = outcome_ref(x, v, "hurdle");
    if (j < 0)
        return -1;
    const pbr_outcome *h = &x->c->outcomes[j];
    switch (pbr_ct_hurdle_fits(h, o)) {
    case PBR_CT_HURDLE_OK: break;
    case PBR_CT_HURDLE_NOT_BINARY:
        return FAIL(x, v, "hurdle: %s is a %s outcome; a hurdle must be binary", Q(v, q), pbr_measure_name(h->measure));
    case PBR_CT_HURDLE_SEGMENTS:
        return FAIL(x, v, "hurdle: %s and \"%s\" have different segment names (a hurdle line is matched by segment)",
                    Q(v, q), o->id);
    }
    o->has_hurdle = 1;
    o->hurdle = (size_t)j;
    return 0;
}

/* advance_of: ID on quarterly fee f: a binary or frequency outcome whose
 * cohort windows are quarters. */
static int resolve_advance(lctx *x, const yaml_node_t *v, pbr_fee *f)
{
    char q[QBUF];
    int64_t j = outcome_ref(x, v, "advance_of");
    if (j < 0)
        return -1;
    const pbr_outcome *o = &x->c->outcomes[j];
    switch (pbr_ct_advance_fits(x->c, o)) {
    case PBR_CT_ADVANCE_OK: break;
    case PBR_CT_ADVANCE_MEASURE:
        return FAIL(x, v, "advance_of: %s is a %s outcome; an advance is recovered from a binary or frequency one",
                    Q(v, q), pbr_measure_name(o->measure));
    case PBR_CT_ADVANCE_NOT_QUARTERLY:
        return FAIL(x, v, "advance_of: %s needs quarterly cohorts (period: quarter) to recover each quarter's advance",
                    Q(v, q));
    }
    f->has_advance = 1;
    f->advance_of = (size_t)j;
    return 0;
}

/* Resolves the references between components once all are parsed. */
int pbr_ct_resolve_links(lctx *x, const yaml_node_t *root)
{
    const pbr_contract *c = x->c;
    yaml_node_t *outs = pbr_ct_find(x, root, "outcomes", NULL), *fees = pbr_ct_find(x, root, "fees", NULL), *item, *v;
    for (size_t i = 0; outs && i < c->noutcomes; i++)
        if ((item = seq_item(x, outs, i)) && (v = pbr_ct_find(x, item, "hurdle", NULL)) &&
            resolve_hurdle(x, v, &c->outcomes[i]))
            return -1;
    for (size_t i = 0; fees && i < c->nfees; i++)
        if ((item = seq_item(x, fees, i)) && (v = pbr_ct_find(x, item, "advance_of", NULL)) &&
            resolve_advance(x, v, &c->fees[i]))
            return -1;
    return 0;
}
