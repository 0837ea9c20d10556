/* contract_links.c -- references between components, resolved once every
 * fee and outcome is parsed: a frequency outcome's hurdle (SPEC 5.9.1) and a
 * quarterly fee's advance_of (5.9.5).
 */
#include <string.h>

#include "libpbr/contract_internal.h"

/* The index of the outcome whose id is the text of node v, or -1. */
static int64_t outcome_named(const lctx *x, const yaml_node_t *v)
{
    for (size_t j = 0; j < x->c->noutcomes; j++)
        if (scalar_is(v, x->c->outcomes[j].id))
            return (int64_t)j;
    return -1;
}

/* 1 when a has a segment named name. */
static int has_segment_named(const pbr_outcome *a, const char *name)
{
    for (size_t i = 0; i < a->nsegments; i++)
        if (strcmp(a->segments[i].name, name) == 0)
            return 1;
    return 0;
}

/* hurdle: ID on frequency outcome o: a binary outcome with the same segment
 * names. */
static int resolve_hurdle(lctx *x, const yaml_node_t *v, pbr_outcome *o)
{
    char q[QBUF];
    if (pbr_ct_need_scalar(x, v, "hurdle"))
        return -1;
    int64_t j = outcome_named(x, v);
    if (j < 0)
        return FAIL(x, v, "hurdle: %s is not an outcome of this contract", Q(v, q));
    const pbr_outcome *h = &x->c->outcomes[j];
    if (h->measure != PBR_M_BINARY)
        return FAIL(x, v, "hurdle: %s is a %s outcome; a hurdle must be binary", Q(v, q), pbr_measure_name(h->measure));
    int same = h->nsegments == o->nsegments;
    for (size_t i = 0; same && i < o->nsegments; i++)
        same = has_segment_named(h, o->segments[i].name);
    if (!same)
        return FAIL(x, v, "hurdle: %s and \"%s\" have different segment names (a hurdle line is matched by segment)",
                    Q(v, q), o->id);
    o->has_hurdle = 1;
    o->hurdle = (size_t)j;
    return 0;
}

/* advance_of: ID on quarterly fee f: a binary or frequency outcome whose
 * cohort windows are quarters. */
static int resolve_advance(lctx *x, const yaml_node_t *v, pbr_fee *f)
{
    char q[QBUF];
    if (pbr_ct_need_scalar(x, v, "advance_of"))
        return -1;
    int64_t j = outcome_named(x, v);
    if (j < 0)
        return FAIL(x, v, "advance_of: %s is not an outcome of this contract", Q(v, q));
    const pbr_outcome *o = &x->c->outcomes[j];
    if (o->measure != PBR_M_BINARY && o->measure != PBR_M_FREQUENCY)
        return FAIL(x, v, "advance_of: %s is a %s outcome; an advance is recovered from a binary or frequency one",
                    Q(v, q), pbr_measure_name(o->measure));
    if (x->c->cohort.period != PBR_PERIOD_QUARTER)
        return FAIL(x, v, "advance_of: %s needs quarterly cohorts (period: quarter) to recover each quarter's advance",
                    Q(v, q));
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
