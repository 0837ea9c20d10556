/* contract_cohort.c -- the cohort section (SPEC 4, 5.2): index event, period
 * or listed windows, size, members and where, and the period keys of every
 * cohort window (5.7) that per-window baseline rates are checked against.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "libpbr/contract_internal.h"
#include "pbr/mem.h"

/* Appends a window's period key (the array grows by doubling). */
static int add_wkey(lctx *x, const yaml_node_t *at, const char *key)
{
    if (pbr_grow((void **)&x->wkeys, &x->wkeys_cap, x->nwkeys + 1, sizeof *x->wkeys) != 0)
        return pbr_ct_oom(x, at);
    if (!(x->wkeys[x->nwkeys] = strdup(key)))
        return pbr_ct_oom(x, at);
    x->nwkeys++;
    return 0;
}

/* Fails at the cohort node when start..end holds more than
 * MAX_COHORT_WINDOWS periods (quarters or years from `first`). */
static int check_period_count(lctx *x, const yaml_node_t *at, pbr_date first, int months, const char *what)
{
    const pbr_contract *c = x->c;
    /* periods from first (<= start) through end: whole months between them / months, plus one */
    int y0, m0, d0, y1, m1, d1;
    pbr_date_to_ymd(first, &y0, &m0, &d0);
    pbr_date_to_ymd(c->end, &y1, &m1, &d1);
    int64_t span = ((int64_t)y1 - y0) * 12 + m1 - m0;
    if (span / months + 1 <= MAX_COHORT_WINDOWS)
        return 0;
    char s[PBR_DATE_STRLEN], e[PBR_DATE_STRLEN];
    pbr_date_format(c->start, s);
    pbr_date_format(c->end, e);
    return FAIL(x, at, "cohort: %s to %s makes %" PRId64 " %s cohorts; at most %d are supported", s, e,
                span / months + 1, what, MAX_COHORT_WINDOWS);
}

/* Computes the period keys of every cohort window (5.2, 5.7) into x->wkeys. */
static int compute_window_keys(lctx *x, const yaml_node_t *at)
{
    const pbr_contract *c = x->c;
    char buf[PBR_ID_MAX + 16];
    switch (c->cohort.period) {
    case PBR_PERIOD_QUARTER:
        if (check_period_count(x, at, pbr_quarter_of(c->start, c->year_start), 3, "quarterly"))
            return -1;
        for (pbr_date q = pbr_quarter_of(c->start, c->year_start); q <= c->end; q = pbr_add_months(q, 3)) {
            pbr_date_format(q, buf);
            if (add_wkey(x, at, buf))
                return -1;
        }
        return 0;
    case PBR_PERIOD_YEAR:
        if (check_period_count(x, at, pbr_year_of(c->start, c->year_start), 12, "yearly"))
            return -1;
        for (pbr_date y = pbr_year_of(c->start, c->year_start); y <= c->end; y = pbr_add_months(y, 12)) {
            pbr_year_label(y, c->year_start, buf, sizeof buf);
            if (add_wkey(x, at, buf))
                return -1;
        }
        return 0;
    case PBR_PERIOD_WHOLE: return add_wkey(x, at, "all");
    case PBR_PERIOD_WINDOWS:
        for (size_t i = 0; i < c->cohort.nwindows; i++)
            if (add_wkey(x, at, c->cohort.windows[i].name))
                return -1;
        return 0;
    }
    return 0;
}

static int parse_windows(lctx *x, const yaml_node_t *n, pbr_cohort *co)
{
    static const char *const keys[] = {"name", "from", "to", NULL};
    char q[QBUF];
    size_t cnt;
    if (pbr_ct_list_alloc(x, n, "windows", MAX_COHORT_WINDOWS, sizeof *co->windows, (void **)&co->windows, &cnt))
        return -1;
    if (cnt == 0)
        return FAIL(x, n, "windows: an empty list has no cohorts");
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *w = seq_item(x, n, i), *vn, *vf, *vt;
        pbr_window *win = &co->windows[i];
        if (!w || pbr_ct_need_map(x, w, "windows") || pbr_ct_check_keys(x, w, keys, "window"))
            return -1;
        if (!(vn = pbr_ct_require(x, w, "name", "window")) || !(vf = pbr_ct_require(x, w, "from", "window")) ||
            !(vt = pbr_ct_require(x, w, "to", "window")))
            return -1;
        if (pbr_ct_get_ident(x, vn, "name", &win->name))
            return -1;
        co->nwindows++;
        for (size_t j = 0; j < i; j++)
            if (strcmp(co->windows[j].name, win->name) == 0)
                return FAIL(x, vn, "name: duplicate window name %s", Q(vn, q));
        if (pbr_ct_get_date(x, vf, "from", &win->from) || pbr_ct_get_date(x, vt, "to", &win->to))
            return -1;
        if (win->from >= win->to)
            return FAIL(x, vt, "to: %s is not after from", Q(vt, q));
        /* half-open [from, to) against the contract's [start, end + 1) */
        if (win->to <= x->c->start || win->from > x->c->end) {
            char a[PBR_DATE_STRLEN], b[PBR_DATE_STRLEN];
            pbr_date_format(x->c->start, a);
            pbr_date_format(x->c->end, b);
            return FAIL(x, w, "window %s: no day of it is in the contract (%s to %s)", Q(vn, q), a, b);
        }
        for (size_t j = 0; j < i; j++) {
            const pbr_window *o = &co->windows[j];
            if (win->from < o->to && o->from < win->to)
                return FAIL(x, w, "window %s overlaps window \"%s\"", Q(vn, q), o->name);
        }
    }
    return 0;
}

int pbr_ct_parse_cohort(lctx *x, const yaml_node_t *n)
{
    static const char *const keys[] = {"index", "period", "windows", "size", "members", "where", NULL};
    static const char *const indexes[] = {"release", "community_start", NULL};
    static const char *const periods[] = {"quarter", "year", "whole", NULL};
    static const char *const members[] = {"first", "every", NULL};
    pbr_cohort *co = &x->c->cohort;
    yaml_node_t *v, *k;
    int i;
    x->c->has_cohort = 1;
    co->period = PBR_PERIOD_YEAR;
    co->members_first = 1;
    if (pbr_ct_need_map(x, n, "cohort") || pbr_ct_check_keys(x, n, keys, "cohort"))
        return -1;
    if (!(v = pbr_ct_require(x, n, "index", "cohort")) || pbr_ct_get_choice(x, v, "index", indexes, &i))
        return -1;
    co->index = i == 0 ? PBR_EV_RELEASE : PBR_EV_COMMUNITY_START;
    if ((v = pbr_ct_find(x, n, "period", NULL))) {
        if (pbr_ct_get_choice(x, v, "period", periods, &i))
            return -1;
        co->period = (pbr_period)i;
    }
    if ((v = pbr_ct_find(x, n, "windows", &k))) {
        if (pbr_ct_find(x, n, "period", NULL))
            return FAIL(x, k, "windows: give either period or windows, not both");
        co->period = PBR_PERIOD_WINDOWS;
        if (parse_windows(x, v, co))
            return -1;
    }
    if ((v = pbr_ct_find(x, n, "size", NULL)) && pbr_ct_get_int(x, v, "size", 1, INT64_MAX, &co->size))
        return -1;
    if ((v = pbr_ct_find(x, n, "members", NULL))) {
        if (pbr_ct_get_choice(x, v, "members", members, &i))
            return -1;
        co->members_first = i == 0;
    }
    if ((v = pbr_ct_find(x, n, "where", NULL)) && pbr_ct_parse_where(x, v, "where", PBR_WHERE_INDEX, &co->where))
        return -1;
    return compute_window_keys(x, n);
}
