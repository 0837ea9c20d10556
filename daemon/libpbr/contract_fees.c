/* contract_fees.c -- the fees section (SPEC 4): quarterly and dated fees, and
 * the yearly volume reconciliation of a quarterly fee (SPEC 5.9.4). A fee's
 * advance_of is resolved with the other links (contract_links.c).
 */
#include <inttypes.h>
#include <string.h>

#include "libpbr/contract_internal.h"

/* volume: {index, where, band: [lo, hi], rate} of a quarterly fee (5.9.4). */
static int parse_volume(lctx *x, const yaml_node_t *n, pbr_fee *f)
{
    static const char *const keys[] = {"index", "where", "band", "rate", NULL};
    static const char *const indexes[] = {"release", "community_start", NULL};
    yaml_node_t *v, *lo, *hi;
    int i;
    if (pbr_ct_need_map(x, n, "volume") || pbr_ct_check_keys(x, n, keys, "volume"))
        return -1;
    if (!(v = pbr_ct_require(x, n, "index", "volume")) || pbr_ct_get_choice(x, v, "index", indexes, &i))
        return -1;
    f->volume_index = i == 0 ? PBR_EV_RELEASE : PBR_EV_COMMUNITY_START;
    if ((v = pbr_ct_find(x, n, "where", NULL)) && pbr_ct_parse_where(x, v, "where", PBR_WHERE_INDEX, &f->volume_where))
        return -1;
    if (!(v = pbr_ct_require(x, n, "band", "volume")) || pbr_ct_need_seq(x, v, "band"))
        return -1;
    if (seq_size(v) != 2)
        return FAIL(x, v, "band: give two whole numbers [lo, hi]");
    if (!(lo = seq_item(x, v, 0)) || !(hi = seq_item(x, v, 1)) ||
        pbr_ct_get_int(x, lo, "band", 0, INT32_MAX, &f->volume_lo) ||
        pbr_ct_get_int(x, hi, "band", 0, INT32_MAX, &f->volume_hi))
        return -1;
    if (f->volume_lo > f->volume_hi)
        return FAIL(x, v, "band: lo %" PRId64 " is greater than hi %" PRId64, f->volume_lo, f->volume_hi);
    if (!(v = pbr_ct_require(x, n, "rate", "volume")) || pbr_ct_get_money(x, v, "rate", 1, f->volume_rate))
        return -1;
    f->has_volume = 1;
    return 0;
}

static int parse_fee(lctx *x, const yaml_node_t *n, pbr_fee *f)
{
    static const char *const keys[] = {"id", "per_quarter", "from", "to", "on", "amount", "volume", "advance_of", NULL};
    const pbr_contract *c = x->c;
    char q[QBUF], a[PBR_DATE_STRLEN], b[PBR_DATE_STRLEN];
    yaml_node_t *v, *k;
    if (pbr_ct_need_map(x, n, "fees") || pbr_ct_check_keys(x, n, keys, "fee"))
        return -1;
    if (!(v = pbr_ct_require(x, n, "id", "fee")) || pbr_ct_get_ident(x, v, "id", &f->id))
        return -1;
    for (size_t i = 0; i < c->nfees; i++)
        if (c->fees[i].id && &c->fees[i] != f && strcmp(c->fees[i].id, f->id) == 0)
            return FAIL(x, v, "id: duplicate fee id %s", Q(v, q));
    yaml_node_t *pq = pbr_ct_find(x, n, "per_quarter", NULL), *on = pbr_ct_find(x, n, "on", NULL);
    if (pq) {
        if ((v = pbr_ct_find(x, n, "on", &k)) || (v = pbr_ct_find(x, n, "amount", &k)))
            return FAIL(x, k, "fee: %s cannot be used with per_quarter", Q(k, q));
        if (pbr_ct_get_money(x, pq, "per_quarter", 0, f->amount))
            return -1;
        f->from = c->start;
        f->to = c->end;
        pbr_date_format(c->start, a);
        pbr_date_format(c->end, b);
        if ((v = pbr_ct_find(x, n, "from", NULL))) {
            if (pbr_ct_get_date(x, v, "from", &f->from))
                return -1;
            if (f->from < c->start || f->from > c->end)
                return FAIL(x, v, "from: %s is outside the contract (%s to %s)", Q(v, q), a, b);
        }
        if ((v = pbr_ct_find(x, n, "to", NULL))) {
            if (pbr_ct_get_date(x, v, "to", &f->to))
                return -1;
            if (f->to < c->start || f->to > c->end)
                return FAIL(x, v, "to: %s is outside the contract (%s to %s)", Q(v, q), a, b);
            if (f->to < f->from)
                return FAIL(x, v, "to: %s is before from", Q(v, q));
        }
        if ((v = pbr_ct_find(x, n, "volume", NULL)) && parse_volume(x, v, f))
            return -1;
        return 0;
    }
    if (!on)
        return FAIL(x, n, "fee: needs per_quarter, or on and amount");
    if ((v = pbr_ct_find(x, n, "from", &k)) || (v = pbr_ct_find(x, n, "to", &k)) ||
        (v = pbr_ct_find(x, n, "volume", &k)) || (v = pbr_ct_find(x, n, "advance_of", &k)))
        return FAIL(x, k, "fee: %s applies only to per_quarter fees", Q(k, q));
    f->dated = 1;
    f->from = f->to = PBR_DATE_NONE;
    if (pbr_ct_get_date(x, on, "on", &f->on))
        return -1;
    if (!(v = pbr_ct_require(x, n, "amount", "fee")) || pbr_ct_get_money(x, v, "amount", 0, f->amount))
        return -1;
    return 0;
}

int pbr_ct_parse_fees(lctx *x, const yaml_node_t *n)
{
    pbr_contract *c = x->c;
    size_t cnt;
    if (pbr_ct_list_alloc(x, n, "fees", MAX_LIST_ITEMS, sizeof *c->fees, (void **)&c->fees, &cnt))
        return -1;
    for (size_t i = 0; i < cnt; i++) {
        mpq_init(c->fees[i].amount);
        mpq_init(c->fees[i].volume_rate);
        c->fees[i].file_order = i;
        c->nfees++;
    }
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *f = seq_item(x, n, i);
        if (!f || parse_fee(x, f, &c->fees[i]))
            return -1;
    }
    return 0;
}
