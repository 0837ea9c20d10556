/* test_diffeval.c -- a differential test of the evaluator: the current one
 * (libpbr) against the reference kept in tests/ref_eval/ (the evaluator as
 * it was before issue 12's optimisation, renamed ref_*), on random
 * contracts over random generated streams. Every statement of every
 * contract's series must be byte-identical canonical JSON, and so must the
 * provisional lines (the cohorts query) at random dates: "figures unchanged
 * to the penny" proven beyond the fixtures.
 *
 * The streams are pbrgen's (voids and late records included), with extra
 * late `recorded` dates and extra voids recorded at random dates, loaded
 * either in one strict finish (simulate) or in several incremental ones (the
 * daemon), and settled over every events_through or a smaller one. The
 * contracts draw every measure, several outcomes, segments, exclusions,
 * pooled gates, tiers, caps, OGRS weights and baselines, every cohort
 * period and windows with a size, fees and a contract cap, and the keys
 * of SPEC 5.9 (hurdles, annual pooled top-ups, significance gates,
 * volume-reconciled and advanced fees). The case count
 * grows with PBR_DIFF_ROUNDS (default 40 contracts per case).
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "pbr/contract.h"
#include "pbr/event.h"
#include "pbr/eventset.h"
#include "pbr/gen.h"
#include "pbr/settle.h"
#include "pbr/statement.h"

/* the reference (tests/ref_eval/, compiled with rename.h) */
pbr_ledger *ref_pbr_ledger_new(void);
void ref_pbr_ledger_free(pbr_ledger *l);
int ref_pbr_settle_quarter(const pbr_contract *c, pbr_version_fn versions, void *vctx, const pbr_eventset *ev,
                           uint64_t events_through, pbr_date q, pbr_ledger *ledger, pbr_statement **out, char *err,
                           size_t errlen);
int ref_pbr_provisional_lines(const pbr_contract *c, const pbr_eventset *ev, uint64_t events_through, pbr_date d,
                              pbr_line **lines, size_t *n, char *err, size_t errlen);

/* ---- a small deterministic RNG ---------------------------------------------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnext(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int rint_(rng *r, int lo, int hi) /* [lo, hi] */
{
    return lo + (int)(rnext(r) % (uint64_t)(hi - lo + 1));
}

static int chance(rng *r, int percent)
{
    return rint_(r, 1, 100) <= percent;
}

/* ---- text building ------------------------------------------------------------------------ */

typedef struct buf {
    char *s;
    size_t n, cap;
} buf;

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        size_t room = b->cap - b->n;
        int k = vsnprintf(b->s ? b->s + b->n : NULL, room, fmt, ap);
        va_end(ap);
        ck_assert_int_ge(k, 0);
        if ((size_t)k < room) {
            b->n += (size_t)k;
            return;
        }
        b->cap = (b->cap + (size_t)k + 1) * 2;
        b->s = realloc(b->s, b->cap);
        ck_assert_ptr_nonnull(b->s);
    }
}

/* ---- random contracts ---------------------------------------------------------------------- */

static const char *const AREAS[] = {"NORTH", "SOUTH", "EAST", "WEST", "NEWHAM", "LEWISHAM", "MANCHESTER", "LEEDS"};
static const char *const CATS[] = {"violence", "acquisitive", "breach", "drugs", "other"};

static void date_str(pbr_date d, char out[PBR_DATE_STRLEN])
{
    pbr_date_format(d, out);
}

/* A where on index fields (release / community_start). */
static void index_where(rng *r, buf *b, int allow_empty)
{
    int n = 0;
    put(b, "{");
#define SEP() put(b, n++ ? ", " : "")
    if (chance(r, 35)) {
        SEP();
        put(b, "area: [%s, %s]", AREAS[rint_(r, 0, 7)], AREAS[rint_(r, 0, 7)]);
    }
    if (chance(r, 35)) {
        SEP();
        put(b, "sentence_days: {max: %d}", rint_(r, 100, 900));
    }
    if (chance(r, 30)) {
        SEP();
        put(b, "age: {min: %d}", rint_(r, 16, 30));
    }
    if (chance(r, 20)) {
        SEP();
        put(b, "gender: %s", chance(r, 50) ? "M" : "F");
    }
    if (chance(r, 15)) {
        SEP();
        put(b, "flags: [PPO]");
    }
    if (chance(r, 15)) {
        SEP();
        put(b, "ogrs: {min: 0.%02d}", rint_(r, 10, 60));
    }
    if (chance(r, 10)) {
        SEP();
        put(b, "prior_sanctions: {max: %d}", rint_(r, 3, 30));
    }
    if (n == 0 && !allow_empty)
        put(b, "age: {min: 18}");
#undef SEP
    put(b, "}");
}

static void gate(rng *r, buf *b, const char *key, int custody)
{
    static const char *const metrics[] = {"points", "percent", "avoided"};
    int m = custody ? rint_(r, 1, 2) : rint_(r, 0, 2);
    int v = m == 2 ? rint_(r, -40, 60) : rint_(r, -5, 15);
    put(b, "%s: {%s: %d%s}", key, metrics[m], v, chance(r, 30) ? ".5" : "");
}

/* pay for binary/frequency/clean/custody. */
static void pay_block(rng *r, buf *b, const char *measure, int significant_ok)
{
    int custody = !strcmp(measure, "custody_nights"), clean = !strcmp(measure, "clean_period");
    static const char *const pers[] = {"point", "percent", "avoided"};
    static const char *const gates[] = {"points", "percent", "avoided"};
    put(b, "    pay:\n");
    if (clean) {
        put(b, "      price: %d.%02d\n", rint_(r, 100, 3000), rint_(r, 0, 99));
        if (chance(r, 50))
            put(b, "      weight: ogrs\n");
        if (chance(r, 30))
            put(b, "      cap: %d.00\n", rint_(r, 1000, 50000));
        return;
    }
    int per = custody ? rint_(r, 1, 2) : rint_(r, 0, 2);
    int has_gate = chance(r, 60);
    int gm = custody ? rint_(r, 1, 2) : rint_(r, 0, 2);
    if (has_gate && significant_ok && chance(r, 25)) {
        gm = 3; /* 5.9.3: a significance gate; from_threshold cannot apply */
        put(b, "      threshold: {significant: %d.%02d}\n", rint_(r, 0, 2), rint_(r, 0, 99));
        if (chance(r, 50))
            put(b, "      below: -%d.00\n", rint_(r, 0, 500000));
    } else if (has_gate) {
        int v = gm == 2 ? rint_(r, -40, 60) : rint_(r, -5, 15);
        put(b, "      threshold: {%s: %d%s}\n", gates[gm], v, chance(r, 30) ? ".25" : "");
        if (chance(r, 50))
            put(b, "      below: -%d.00\n", rint_(r, 0, 500000));
    }
    put(b, "      per: %s\n", pers[per]);
    if (has_gate && gm == per && chance(r, 50))
        put(b, "      from_threshold: true\n");
    if (!custody && chance(r, 30)) {
        put(b,
            "      tiers:\n        - {upto: %d, price: %d.00}\n        - {upto: %d, price: %d.50}\n"
            "        - {price: %d.00}\n",
            rint_(r, 1, 10), rint_(r, 100, 5000), rint_(r, 11, 60), rint_(r, 100, 5000), rint_(r, 100, 9000));
    } else {
        put(b, "      price: %d.%02d\n", rint_(r, 10, 90000), rint_(r, 0, 99));
    }
    if (!custody && chance(r, 40))
        put(b, "      max_units: %d%s\n", rint_(r, 1, 40), chance(r, 30) ? ".5" : "");
    if (chance(r, 30))
        put(b, "      cap: %d.00\n", rint_(r, 1000, 900000));
    if (!custody && chance(r, 25))
        put(b, "      weight: ogrs\n");
}

static void segments(rng *r, buf *b, const char *measure, int disposals, int n)
{
    put(b, "    segments:\n");
    for (int i = 0; i < n; i++) {
        put(b, "      - {name: s%d", i);
        if (i < n - 1 || chance(r, 40)) {
            if (disposals)
                put(b, ", where: {category: [%s]}", CATS[rint_(r, 0, 4)]);
            else if (chance(r, 50))
                put(b, ", where: {gender: %s}", chance(r, 50) ? "M" : "F");
            else
                put(b, ", where: {age: {max: %d}}", rint_(r, 20, 45));
        }
        if (!strcmp(measure, "binary") && chance(r, 40))
            put(b, ", baseline: {rate: 0.%02d}", rint_(r, 10, 90));
        if (!strcmp(measure, "custody_nights") && chance(r, 40))
            put(b, ", baseline: {nights: %d}", rint_(r, 100, 5000));
        if (!disposals && strcmp(measure, "custody_nights") && chance(r, 30))
            put(b, ", price: %d.00", rint_(r, 100, 5000));
        put(b, "}\n");
    }
}

/* Outcome k: nseg segments (0 = none); quarterly: the cohort is quarterly
 * (5.9.2 pooled over: year); hurdle: the binary outcome a frequency outcome
 * is paid under (5.9.1), or -1. */
static void outcome(rng *r, buf *b, int k, const char *measure, const char *const wkeys[], int nw, int nseg,
                    int quarterly, int hurdle)
{
    put(b, "  - id: o%d\n    measure: %s\n", k, measure);
    if (hurdle >= 0)
        put(b, "    hurdle: o%d\n", hurdle);
    int binfreq = !strcmp(measure, "binary") || !strcmp(measure, "frequency");
    int clean = !strcmp(measure, "clean_period"), custody = !strcmp(measure, "custody_nights");
    int disposals = !strcmp(measure, "disposals");
    if (binfreq || clean)
        put(b, "    follow_up: %d\n", rint_(r, 3, 24));
    if (binfreq || clean || disposals)
        put(b, "    waiting: %d\n", rint_(r, 0, 9));
    if (binfreq && chance(r, 50))
        put(b, "    counts: %s\n", chance(r, 50) ? "offences" : "convictions");
    int per_reoffender = 0;
    if (!strcmp(measure, "frequency") && chance(r, 50)) {
        per_reoffender = chance(r, 50);
        put(b, "    per: %s\n", per_reoffender ? "reoffender" : "member");
    }
    if (!custody && chance(r, 35))
        put(b, "    exclude: {category: [%s]}\n", CATS[rint_(r, 0, 4)]);
    if (custody || disposals) {
        if (chance(r, 70))
            put(b, "    where: {area: [%s, %s]}\n", AREAS[rint_(r, 0, 7)], AREAS[rint_(r, 0, 7)]);
    }
    if (!strcmp(measure, "binary")) {
        int f = rint_(r, 0, 3);
        if (f == 0 || nw == 0)
            put(b, "    baseline: {rate: 0.%02d}\n", rint_(r, 5, 95));
        else if (f == 1)
            put(b, "    baseline: {predicted: ogrs%s}\n", chance(r, 50) ? ", scale: 0.9" : "");
        else if (f == 2)
            put(b, "    baseline: {rate: 0.%02d, ogrs_reference: 0.%02d}\n", rint_(r, 20, 80), rint_(r, 20, 80));
        else {
            put(b, "    baseline:\n      rates: {");
            for (int i = 0; i < nw; i++)
                put(b, "%s%s: 0.%02d", i ? ", " : "", wkeys[i], rint_(r, 0, 99)); /* SPEC 4: in [0, 1] */
            put(b, "}\n");
        }
    } else if (!strcmp(measure, "frequency")) {
        put(b, "    baseline: {rate: %d.%02d}\n", rint_(r, 0, 2), rint_(r, 0, 99));
    } else if (custody) {
        if (chance(r, 50))
            put(b, "    baseline: {history: %d}\n", rint_(r, 1, 3));
        else
            put(b, "    baseline: {nights: %d}\n", rint_(r, 100, 20000));
    } else if (disposals) {
        if (chance(r, 50))
            put(b, "    baseline: {history: %d}\n", rint_(r, 1, 2));
        else
            put(b, "    baseline:\n      counts: {custody: %d, sso: %d, community: %d, fine: %d}\n", rint_(r, 0, 80),
                rint_(r, 0, 80), rint_(r, 0, 80), rint_(r, 0, 200));
    }
    if (disposals) {
        put(b, "    pay:\n      prices: {custody: %d.00, sso: %d.00, community: %d.50, fine: %d.00}\n      share: %d\n",
            rint_(r, 1000, 9000), rint_(r, 100, 3000), rint_(r, 100, 3000), rint_(r, 10, 300), rint_(r, 10, 100));
    } else {
        pay_block(r, b, measure, binfreq && !per_reoffender);
    }
    if (binfreq && chance(r, 40)) {
        put(b, "    pooled:\n");
        if (quarterly && chance(r, 50))
            put(b, "      over: year\n");
        if (!per_reoffender && chance(r, 25)) {
            put(b, "      threshold: {significant: 1.%02d}\n", rint_(r, 0, 99));
        } else {
            put(b, "      ");
            gate(r, b, "threshold", 0);
            put(b, "\n");
        }
    }
    if (nseg > 0)
        segments(r, b, measure, disposals, nseg);
}

/* A random contract's YAML (malloc'd). */
static char *random_contract(rng *r, int k)
{
    buf b = {NULL, 0, 0};
    static const char *const measures[] = {"binary", "frequency", "clean_period", "custody_nights", "disposals"};
    int nout = rint_(r, 1, 3), meas[3], cohort = 0;
    for (int i = 0; i < nout; i++) {
        meas[i] = chance(r, 70) ? rint_(r, 0, 2) : rint_(r, 0, 4);
        cohort |= meas[i] <= 2;
    }
    pbr_date start = pbr_add_months(pbr_date_from_ymd(2011, 1, 1), rint_(r, 0, 30)) + rint_(r, 0, 1) * rint_(r, 0, 27);
    pbr_date end = pbr_add_months(start, rint_(r, 6, 40)) - 1;
    char ds[PBR_DATE_STRLEN], de[PBR_DATE_STRLEN];
    date_str(start, ds);
    date_str(end, de);
    put(&b, "contract: rnd%d\ntitle: random\nprovider: p\ncommissioner: c\nstart: %s\nend: %s\n", k, ds, de);
    if (chance(r, 50))
        put(&b, "year_start: %d\n", rint_(r, 1, 12));
    put(&b, "settle_after_days: %d\n", rint_(r, 0, 90));
    if (chance(r, 30))
        put(&b, "run_off: %d\n", rint_(r, 0, 6));
    if (chance(r, 25))
        put(&b, "contract_cap: %d.00\n", rint_(r, 1000, 2000000));
    const char *wkeys[3] = {"W1", "W2", "W3"};
    int nw = 0, quarterly = 0;
    if (cohort) {
        put(&b, "cohort:\n  index: %s\n", chance(r, 60) ? "release" : "community_start");
        int p = rint_(r, 0, 3);
        if (p == 3) {
            nw = 3;
            pbr_date a = start, m1 = start + (end - start) / 3 + rint_(r, 0, 20), m2 = m1 + (end - start) / 3;
            char s0[PBR_DATE_STRLEN], s1[PBR_DATE_STRLEN], s2[PBR_DATE_STRLEN], s3[PBR_DATE_STRLEN];
            date_str(a, s0);
            date_str(m1, s1);
            date_str(m2, s2);
            date_str(end + 1, s3);
            put(&b,
                "  windows:\n    - {name: W1, from: %s, to: %s}\n    - {name: W2, from: %s, to: %s}\n"
                "    - {name: W3, from: %s, to: %s}\n",
                s0, s1, s1, s2, s2, s3);
        } else {
            put(&b, "  period: %s\n", p == 0 ? "quarter" : p == 1 ? "year" : "whole");
            quarterly = p == 0;
        }
        if (chance(r, 25))
            put(&b, "  size: %d\n", rint_(r, 1, 40));
        if (chance(r, 30))
            put(&b, "  members: every\n");
        if (chance(r, 80)) {
            put(&b, "  where: ");
            index_where(r, &b, 0);
            put(&b, "\n");
        }
    }
    int nseg[3], binary_plain = -1, advanced = -1;
    for (int i = 0; i < nout; i++) {
        nseg[i] = meas[i] != 2 && chance(r, 35) ? rint_(r, 1, 3) : 0;
        if (meas[i] == 0 && nseg[i] == 0 && binary_plain < 0)
            binary_plain = i;
        if (meas[i] <= 1 && advanced < 0)
            advanced = i;
    }
    int fees = chance(r, 40), volume = chance(r, 20), advance = quarterly && advanced >= 0 && chance(r, 30);
    if (fees || volume || advance)
        put(&b, "fees:\n");
    if (fees) {
        put(&b, "  - {id: f1, per_quarter: %d.00}\n", rint_(r, 100, 90000));
        if (chance(r, 50))
            put(&b, "  - {id: f2, on: %s, amount: -%d.00}\n", de, rint_(r, 100, 9000));
    }
    if (volume) { /* 5.9.4 */
        int lo = rint_(r, 0, 60);
        put(&b, "  - id: vol\n    per_quarter: %d.00\n    volume:\n      index: %s\n", rint_(r, 100, 9000),
            chance(r, 50) ? "release" : "community_start");
        if (chance(r, 60)) {
            put(&b, "      where: ");
            index_where(r, &b, 0);
            put(&b, "\n");
        }
        put(&b, "      band: [%d, %d]\n      rate: %d.%02d\n", lo, lo + rint_(r, 0, 80), rint_(r, 1, 900),
            rint_(r, 0, 99));
    }
    if (advance) /* 5.9.5 */
        put(&b, "  - {id: adv, per_quarter: %d.00, advance_of: o%d}\n", rint_(r, 100, 20000), advanced);
    put(&b, "outcomes:\n");
    for (int i = 0; i < nout; i++) {
        int hurdle =
            meas[i] == 1 && nseg[i] == 0 && binary_plain >= 0 && binary_plain != i && chance(r, 50) ? binary_plain : -1;
        outcome(r, &b, i, measures[meas[i]], wkeys, nw, nseg[i], quarterly, hurdle);
    }
    return b.s;
}

/* ---- random streams --------------------------------------------------------------------- */

/* Generates a stream of n offenders (seed) into an event set, with extra
 * late records and voids; incremental: several non-strict finishes. */
static pbr_eventset *random_set(rng *r, uint64_t seed, uint64_t n, int incremental)
{
    pbr_gen_opts g;
    pbr_gen_defaults(&g);
    g.seed = seed;
    g.offenders = n;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(pbr_gen_write(&g, f), 0);
    ck_assert_int_eq(fclose(f), 0);
    pbr_eventset *set = pbr_eventset_new();
    ck_assert_ptr_nonnull(set);
    char err[PBR_ERR_MAX];
    uint64_t seq = 0;
    size_t nextra = 0;
    int finishes = incremental ? rint_(r, 2, 5) : 1;
    size_t nlines = 0;
    for (char *p = text; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
        nlines++;
    size_t line = 0, per_finish = nlines / (size_t)finishes + 1;
    char *p = text;
    while (*p) {
        char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        pbr_event ev;
        if (pbr_event_parse(p, l, &ev, err, sizeof err) == 0) {
            if (ev.type != PBR_EV_VOID && chance(r, 12))
                ev.recorded = ev.date + rint_(r, 0, 900);
            ck_assert_int_eq(pbr_eventset_add(set, &ev, ++seq, err, sizeof err), 0);
            if (ev.type != PBR_EV_VOID && chance(r, 3)) {
                pbr_event v;
                memset(&v, 0, sizeof v);
                char id[64];
                snprintf(id, sizeof id, "XV-%zu", nextra++);
                v.id = id;
                v.type = PBR_EV_VOID;
                v.target = ev.id;
                v.date = ev.date + rint_(r, 0, 400);
                v.recorded = v.date;
                ck_assert_int_eq(pbr_eventset_add(set, &v, ++seq, err, sizeof err), 0);
            }
            pbr_event_clear(&ev);
        }
        p = nl ? nl + 1 : p + l;
        if (incremental && ++line % per_finish == 0)
            ck_assert_msg(pbr_eventset_finish(set, 0, err, sizeof err) == 0, "%s", err);
    }
    ck_assert_msg(pbr_eventset_finish(set, !incremental, err, sizeof err) == 0, "%s", err);
    free(text);
    return set;
}

/* ---- comparing ------------------------------------------------------------------------------ */

/* Fails the test when a and b differ, showing where (Check's messages are
 * short: 150 bytes of each side from the first difference). */
static void same_text(const char *what, const char *a, const char *b, const char *yaml)
{
    if (strcmp(a, b) == 0)
        return;
    size_t i = 0;
    while (a[i] && a[i] == b[i])
        i++;
    size_t from = i > 60 ? i - 60 : 0;
    fprintf(stderr, "diffeval: %s differs; contract:\n%s\n", what, yaml);
    ck_abort_msg("%s differs at byte %zu: new ...%.150s | ref ...%.150s", what, i, a + from, b + from);
}

static char *lines_json(const pbr_line *v, size_t n)
{
    buf b = {NULL, 0, 0};
    put(&b, "[");
    for (size_t i = 0; i < n; i++) {
        char *j = pbr_line_to_json(&v[i], NULL);
        ck_assert_ptr_nonnull(j);
        put(&b, "%s%s", i ? "," : "", j);
        free(j);
    }
    put(&b, "]");
    return b.s;
}

/* Collects the canonical JSON of each statement of a series. */
typedef struct collected {
    char **json;
    size_t n;
} collected;

static int collect(void *ctx, const pbr_statement *s)
{
    collected *c = ctx;
    c->json = realloc(c->json, (c->n + 1) * sizeof *c->json);
    ck_assert_ptr_nonnull(c->json);
    c->json[c->n] = pbr_statement_to_json(s, NULL);
    ck_assert_ptr_nonnull(c->json[c->n]);
    c->n++;
    return 0;
}

/* Settles c's whole series with both evaluators, and with the parallel
 * driver of pbrctl simulate; returns the statements compared (fails the
 * test at the first difference). */
static size_t compare_series(const pbr_contract *c, const pbr_eventset *set, uint64_t through, const char *yaml)
{
    char err[PBR_ERR_MAX], rerr[PBR_ERR_MAX], perr[PBR_ERR_MAX];
    pbr_ledger *a = pbr_ledger_new(), *b = ref_pbr_ledger_new();
    ck_assert(a != NULL && b != NULL);
    size_t n = 0;
    collected par = {NULL, 0};
    pbr_eval_view view = {.contract = c, .events = set, .events_through = through};
    pbr_series_request series = {.through = PBR_DATE_MAX, .each = collect, .ctx = &par, .threads = 2};
    int prc = pbr_settle_all_parallel(&view, &series, perr, sizeof perr);
    for (pbr_date q = pbr_contract_first_quarter(c); q <= pbr_contract_last_quarter(c); q = pbr_add_months(q, 3)) {
        pbr_statement *sa = NULL, *sb = NULL;
        int ra = pbr_settle_quarter(&view, &(pbr_settle_request){.quarter = q}, a, &sa, err, sizeof err);
        int rb = ref_pbr_settle_quarter(c, NULL, NULL, set, through, q, b, &sb, rerr, sizeof rerr);
        ck_assert_int_eq(ra, rb);
        if (ra != 0) {
            ck_assert_str_eq(err, rerr);
            ck_assert_int_eq(prc, -1);
            ck_assert_str_eq(perr, err);
            break;
        }
        char *ja = pbr_statement_to_json(sa, NULL), *jb = pbr_statement_to_json(sb, NULL);
        ck_assert(ja != NULL && jb != NULL);
        same_text("statement", ja, jb, yaml);
        ck_assert_uint_lt(n, par.n);
        same_text("statement (parallel)", par.json[n], ja, yaml);
        free(ja);
        free(jb);
        pbr_statement_destroy(&sa);
        pbr_statement_destroy(&sb);
        n++;
    }
    if (prc == 0)
        ck_assert_uint_eq(par.n, n);
    for (size_t i = 0; i < par.n; i++)
        free(par.json[i]);
    free(par.json);
    pbr_ledger_destroy(&a);
    ref_pbr_ledger_free(b);
    return n;
}

static void compare_provisional(rng *r, const pbr_contract *c, const pbr_eventset *set, uint64_t through,
                                const char *yaml)
{
    char err[PBR_ERR_MAX];
    for (int k = 0; k < 3; k++) {
        pbr_date d = c->start + rint_(r, -30, 1800);
        pbr_line *la = NULL, *lb = NULL;
        size_t na = 0, nb = 0;
        pbr_eval_view view = {.contract = c, .events = set, .events_through = through, .as_of = d};
        ck_assert_int_eq(pbr_provisional_lines(&view, &la, &na, err, sizeof err), 0);
        ck_assert_int_eq(ref_pbr_provisional_lines(c, set, through, d, &lb, &nb, err, sizeof err), 0);
        char *ja = lines_json(la, na), *jb = lines_json(lb, nb);
        same_text("provisional lines", ja, jb, yaml);
        free(ja);
        free(jb);
        free(la);
        free(lb);
    }
}

static int rounds(void)
{
    const char *e = getenv("PBR_DIFF_ROUNDS");
    int n = e && *e ? atoi(e) : 40;
    return n > 0 ? n : 40;
}

/* One case: a stream (strict or incremental) and rounds() random contracts. */
static void run_case(uint64_t seed, int incremental)
{
    rng r = {seed * 7919 + (uint64_t)incremental};
    pbr_eventset *set = random_set(&r, seed, (uint64_t)rint_(&r, 150, 600), incremental);
    size_t statements = 0, contracts = 0;
    for (int k = 0; k < rounds(); k++) {
        char *yaml = random_contract(&r, k);
        pbr_contract *c = NULL;
        pbr_diag d;
        if (pbr_contract_parse("random.yaml", yaml, strlen(yaml), &c, &d) != 0) {
            char msg[PBR_ERR_MAX + 300];
            pbr_diag_format(&d, msg, sizeof msg);
            fprintf(stderr, "diffeval: generated contract does not parse:\n%s\n", yaml);
            ck_abort_msg("generated contract does not parse: %s", msg);
        }
        uint64_t last = pbr_eventset_last_seq(set);
        uint64_t through = chance(&r, 70) ? last : (uint64_t)rint_(&r, 1, (int)last);
        statements += compare_series(c, set, through, yaml);
        compare_provisional(&r, c, set, through, yaml);
        contracts++;
        pbr_contract_destroy(&c);
        free(yaml);
    }
    /* the comparison must have had something to compare */
    ck_assert_uint_eq(contracts, (size_t)rounds());
    ck_assert_uint_gt(statements, contracts);
    pbr_eventset_destroy(&set);
}

START_TEST(strict_streams)
{
    run_case(1 + (uint64_t)_i, 0);
}
END_TEST

START_TEST(incremental_streams)
{
    run_case(101 + (uint64_t)_i, 1);
}
END_TEST

/* The generator must yield statements with money in them, or the
 * comparison above proves little: over many contracts some lines pay. */
START_TEST(random_contracts_pay_something)
{
    rng r = {42};
    pbr_eventset *set = random_set(&r, 42, 400, 0);
    char err[PBR_ERR_MAX];
    int paying = 0, nonzero_lines = 0;
    for (int k = 0; k < 30; k++) {
        char *yaml = random_contract(&r, k);
        pbr_contract *c = NULL;
        pbr_diag d;
        if (pbr_contract_parse("random.yaml", yaml, strlen(yaml), &c, &d) != 0)
            fprintf(stderr, "diffeval: generated contract does not parse:\n%s\n", yaml);
        ck_assert_ptr_nonnull(c);
        pbr_ledger *l = pbr_ledger_new();
        int any = 0;
        pbr_eval_view view = {.contract = c, .events = set, .events_through = pbr_eventset_last_seq(set)};
        for (pbr_date q = pbr_contract_first_quarter(c); q <= pbr_contract_last_quarter(c); q = pbr_add_months(q, 3)) {
            pbr_statement *s = NULL;
            ck_assert_int_eq(pbr_settle_quarter(&view, &(pbr_settle_request){.quarter = q}, l, &s, err, sizeof err), 0);
            for (size_t i = 0; i < s->nlines; i++) {
                if (s->lines[i].kind != PBR_LINE_FEE && s->lines[i].amount_pence != 0) {
                    any = 1;
                    nonzero_lines++;
                }
            }
            pbr_statement_destroy(&s);
        }
        paying += any;
        pbr_ledger_destroy(&l);
        pbr_contract_destroy(&c);
        free(yaml);
    }
    ck_assert_int_ge(paying, 5);
    ck_assert_int_ge(nonzero_lines, 20);
    pbr_eventset_destroy(&set);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("diffeval");
    TCase *t = tcase_create("differential");
    tcase_set_timeout(t, 600);
    tcase_add_loop_test(t, strict_streams, 0, 3);
    tcase_add_loop_test(t, incremental_streams, 0, 3);
    tcase_add_test(t, random_contracts_pay_something);
    suite_add_tcase(s, t);
    return s;
}

PBR_CHECK_MAIN(make_suite)
