/* contract_model.c -- the contract model's vocabularies and lifecycle: the
 * measure and disposal names, the defaults of a new contract, init/clear of
 * baselines and pay, pbr_contract_destroy (which also frees a partly built
 * contract) and pbr_diag_format.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libpbr/contract_internal.h"

/* ---- shared vocabularies ---------------------------------------------------------- */

const char *const pbr_ct_measures[] = {"binary", "frequency", "clean_period", "custody_nights", "disposals", NULL};
const char *const pbr_ct_disposals[] = {"custody", "sso", "community", "fine", "discharge", "caution", "other", NULL};

const char *pbr_measure_name(pbr_measure m)
{
    return (unsigned)m < PBR_M_DISPOSALS + 1u ? pbr_ct_measures[m] : "unknown";
}

int pbr_ct_disposal_index(const yaml_node_t *k)
{
    for (int i = 0; pbr_ct_disposals[i]; i++)
        if (scalar_is(k, pbr_ct_disposals[i]))
            return i;
    return -1;
}

/* ---- model init / free ------------------------------------------------------------- */

void pbr_ct_baseline_init(pbr_baseline *b)
{
    memset(b, 0, sizeof *b);
    mpq_init(b->rate);
    mpq_init(b->scale);
    mpq_set_ui(b->scale, 1, 1);
    mpq_init(b->ogrs_reference);
    mpq_init(b->nights);
    for (int k = 0; k < PBR_DISP_COUNT; k++)
        mpq_init(b->counts[k]);
}

void pbr_ct_baseline_clear(pbr_baseline *b)
{
    mpq_clear(b->rate);
    mpq_clear(b->scale);
    mpq_clear(b->ogrs_reference);
    mpq_clear(b->nights);
    for (int k = 0; k < PBR_DISP_COUNT; k++)
        mpq_clear(b->counts[k]);
    for (size_t i = 0; i < b->nrates; i++) {
        free(b->rate_keys[i]);
        mpq_clear(b->rate_values[i]);
    }
    free(b->rate_keys);
    free(b->rate_values);
}

void pbr_ct_pay_init(pbr_pay *p)
{
    memset(p, 0, sizeof *p);
    mpq_init(p->threshold);
    mpq_init(p->below);
    p->per = PBR_METRIC_AVOIDED;
    mpq_init(p->price);
    mpq_init(p->max_units);
    mpq_init(p->cap);
    for (int k = 0; k < PBR_DISP_COUNT; k++)
        mpq_init(p->prices[k]);
    mpq_init(p->share);
    mpq_set_ui(p->share, 100, 1);
}

void pbr_ct_pay_clear(pbr_pay *p)
{
    mpq_clear(p->threshold);
    mpq_clear(p->below);
    mpq_clear(p->price);
    mpq_clear(p->max_units);
    mpq_clear(p->cap);
    for (int k = 0; k < PBR_DISP_COUNT; k++)
        mpq_clear(p->prices[k]);
    mpq_clear(p->share);
    for (size_t i = 0; i < p->ntiers; i++) {
        mpq_clear(p->tiers[i].upto);
        mpq_clear(p->tiers[i].price);
    }
    free(p->tiers);
}

static void where_clear(pbr_where *w)
{
    for (size_t i = 0; i < w->nconds; i++) {
        pbr_cond *c = &w->conds[i];
        free(c->nums);
        for (size_t j = 0; j < c->nstrs; j++)
            free(c->strs[j]);
        free(c->strs);
    }
    free(w->conds);
    w->conds = NULL;
    w->nconds = 0;
}

static void segment_clear(pbr_segment *s)
{
    free(s->name);
    where_clear(&s->where);
    pbr_ct_baseline_clear(&s->baseline);
    mpq_clear(s->price);
}

static void outcome_clear(pbr_outcome *o)
{
    free(o->id);
    where_clear(&o->exclude);
    where_clear(&o->where);
    pbr_ct_baseline_clear(&o->baseline);
    pbr_ct_pay_clear(&o->pay);
    for (size_t i = 0; i < o->nsegments; i++)
        segment_clear(&o->segments[i]);
    free(o->segments);
    mpq_clear(o->pooled_threshold);
}

void pbr_contract_destroy(pbr_contract **cp)
{
    if (cp == NULL)
        return;
    pbr_contract *c = *cp;
    *cp = NULL;
    if (!c)
        return;
    free(c->id);
    free(c->title);
    free(c->provider);
    free(c->commissioner);
    mpq_clear(c->contract_cap);
    for (size_t i = 0; i < c->cohort.nwindows; i++)
        free(c->cohort.windows[i].name);
    free(c->cohort.windows);
    where_clear(&c->cohort.where);
    for (size_t i = 0; i < c->nfees; i++) {
        free(c->fees[i].id);
        mpq_clear(c->fees[i].amount);
        mpq_clear(c->fees[i].volume_rate);
        where_clear(&c->fees[i].volume_where);
    }
    free(c->fees);
    for (size_t i = 0; i < c->noutcomes; i++)
        outcome_clear(&c->outcomes[i]);
    free(c->outcomes);
    free(c->bytes);
    free(c);
}

pbr_contract *pbr_ct_contract_new(void)
{
    pbr_contract *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    mpq_init(c->contract_cap);
    c->year_start = 4;
    c->settle_after_days = 30;
    c->run_off = 4;
    c->cohort.period = PBR_PERIOD_YEAR;
    c->cohort.members_first = 1;
    return c;
}

void pbr_diag_format(const pbr_diag *d, char *out, size_t n)
{
    if (n == 0)
        return;
    snprintf(out, n, "%s:%d:%d: %s", d->file, d->line, d->column, d->message);
}
