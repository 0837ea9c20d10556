/* gen.c -- owns pbrgen, the seeded synthetic event generator (SPEC.md
 * section 8): offenders with an OGRS score, index events (releases with
 * their custody spell, community orders), reconvictions whose two-year
 * probability follows the OGRS score, remand and sentenced custody spells,
 * voids with corrections, late records, and optional malformed lines.
 *
 * Determinism: all randomness comes from xoshiro256** streams seeded with
 * splitmix64 from the seed; probabilities are integers (per 10,000 or per
 * million) and no libm function is used, so the same options give the same
 * bytes on any machine. Offenders are generated one at a time; each
 * offender's lines are written together, sorted by (date, generation order),
 * so a void always follows its target.
 */
#include <stdlib.h>
#include <string.h>

#include "pbr/event.h"
#include "pbr/gen.h"

/* ---- random numbers -------------------------------------------------- */

typedef struct {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Returns a number in [0, n) (n >= 1). */
static uint32_t rng_below(rng *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Returns 1 with probability per10000 / 10000. */
static int rng_chance(rng *r, uint32_t per10000)
{
    return rng_below(r, 10000) < per10000;
}

/* Picks an index from a table of integer weights. */
static int rng_weighted(rng *r, const uint16_t *w, int n)
{
    uint32_t total = 0;
    for (int i = 0; i < n; i++)
        total += w[i];
    uint32_t x = rng_below(r, total);
    for (int i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

/* ---- the world ------------------------------------------------------- */

#define NAREAS 11
static const char *const area_names[NAREAS] = {
    "NORTH", "SOUTH", "EAST", "WEST", "NEWHAM", "LEWISHAM", "MANCHESTER", "PETERBOROUGH", "DONCASTER", "LEEDS", "X",
};
/* the local establishment of each area, same index */
static const char *const establishment_names[NAREAS] = {
    "HMP-N",           "HMP-S",       "HMP-CHELMSFORD", "HMP-BRISTOL",
    "HMP-PENTONVILLE", "HMP-BRIXTON", "HMP-MANCHESTER", "HMP-PETERBOROUGH",
    "HMP-DONCASTER",   "HMP-LEEDS",   "HMP-X",
};
static const uint16_t area_weights[NAREAS] = {12, 12, 10, 10, 10, 10, 12, 8, 8, 6, 2};

#define NPROVIDERS 8
static const char *const provider_names[NPROVIDERS] = {
    "serco", "sodexo", "g4s", "crc-london", "crc-gm", "crc-north", "nacro", "st-giles",
};

#define NCATEGORIES 5
static const char *const category_names[NCATEGORIES] = {"violence", "acquisitive", "breach", "drugs", "other"};
static const uint16_t category_weights[NCATEGORIES] = {20, 35, 15, 15, 15};

static const uint16_t disposal_weights[PBR_DISP_COUNT] = {18, 10, 25, 27, 8, 5, 7};

#define NREASONS 4
static const char *const reason_names[NREASONS] = {
    "wrong person",
    "duplicate record",
    "data entry error",
    "conviction quashed",
};

#define ID_LEN 32

/* One generated event, before formatting. */
typedef struct {
    uint8_t type;
    uint8_t area, establishment;
    int8_t provider; /* -1 none */
    uint8_t is_sso;  /* community_start order */
    uint8_t ppo;
    uint8_t category, disposal;
    uint8_t conv_area; /* conviction: 1 if area is written */
    uint8_t reason;
    uint8_t is_target; /* voided by a later event: never made malformed */
    char gender;
    uint32_t seq; /* generation order within the offender */
    pbr_date date, recorded, offence_date;
    int32_t sentence_days, age, ogrs, prior, offences;
    char id[ID_LEN];
    char target[ID_LEN];
} gev;

/* One offender's profile. */
typedef struct {
    uint64_t k;
    char gender;
    uint8_t area, ppo;
    int32_t risk; /* reoffending probability per 10,000 within two years */
    int32_t ogrs; /* as written on index events, -1 for none */
    int32_t prior;
    pbr_date birth;
} offender;

/* Generation state: options, streams, the current offender's events and the
 * output buffer. */
typedef struct {
    const pbr_gen_opts *o;
    rng r; /* the world */
    rng m; /* malformed-line decisions: independent of the world */
    uint32_t malformed_ppm;
    pbr_date horizon;
    pbr_date busy_until; /* the current offender's last event, PBR_DATE_MAX while in custody for good */
    gev *ev;
    size_t nev, cap;
    char *out;
    size_t outlen;
    FILE *fp;
    int64_t lines;
    int write_failed;
} gen_state;

#define OUTBUF (1u << 20)
#define LINE_MAX_BYTES 1024

void pbr_gen_defaults(pbr_gen_opts *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->offenders = 1000;
    o->from = pbr_date_from_ymd(2011, 4, 1);
    o->to = pbr_date_from_ymd(2016, 3, 31);
    o->malformed_rate = 0;
    o->voids = 1;
    o->late = 1;
}

/* Age in whole years on day d of someone born on b. */
static int32_t age_on(pbr_date b, pbr_date d)
{
    int by, bm, bd, y, m, dd;
    pbr_date_to_ymd(b, &by, &bm, &bd);
    pbr_date_to_ymd(d, &y, &m, &dd);
    int32_t a = y - by;
    if (m < bm || (m == bm && dd < bd))
        a--;
    return a < 10 ? 10 : a > 100 ? 100 : a;
}

/* Returns a new event slot for the current offender (zeroed, seq set), or
 * NULL on allocation failure. */
static gev *new_event(gen_state *g, uint8_t type, pbr_date date)
{
    if (g->nev == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 64;
        gev *p = realloc(g->ev, cap * sizeof *p);
        if (!p)
            return NULL;
        g->ev = p;
        g->cap = cap;
    }
    gev *e = &g->ev[g->nev];
    memset(e, 0, sizeof *e);
    e->type = type;
    e->date = date;
    e->recorded = date;
    e->seq = (uint32_t)g->nev;
    e->provider = -1;
    e->sentence_days = -1;
    e->age = -1;
    e->ogrs = -1;
    e->prior = -1;
    e->offences = 1;
    e->disposal = PBR_DISP_OTHER;
    if (date > g->busy_until)
        g->busy_until = date;
    g->nev++;
    return e;
}

/* Sets the recording lag of e: usually none, often days, sometimes months
 * (only with late records on; the draws happen either way). */
static void set_recorded(gen_state *g, gev *e, int conviction)
{
    uint32_t x = rng_below(&g->r, 10000);
    uint32_t lag;
    if (x < (conviction ? 400u : 150u))
        lag = 60 + rng_below(&g->r, 340);
    else if (x < 2500)
        lag = 1 + rng_below(&g->r, 20);
    else
        lag = 0;
    if (g->o->late)
        e->recorded = e->date + (pbr_date)lag;
}

/* Names e after its offender and position. */
static void name_event(const offender *p, gev *e, char prefix)
{
    snprintf(e->id, sizeof e->id, "%c%llu-%u", prefix, (unsigned long long)p->k, e->seq);
}

/* Adds a reception (remand when sentence_days < 0) and, unless it falls
 * beyond the horizon, its discharge. Returns 0 or -1 on allocation failure. */
static int add_custody_spell(gen_state *g, const offender *p, pbr_date in, pbr_date out, int32_t sentence_days,
                             uint8_t establishment)
{
    if (in > g->horizon)
        return 0;
    gev *r = new_event(g, PBR_EV_RECEPTION, in);
    if (!r)
        return -1;
    name_event(p, r, 'E');
    r->area = p->area;
    r->establishment = establishment;
    r->sentence_days = sentence_days;
    r->age = age_on(p->birth, in);
    r->gender = p->gender;
    set_recorded(g, r, 0);
    if (out > g->horizon) {
        g->busy_until = PBR_DATE_MAX; /* still in custody */
        return 0;
    }
    gev *d = new_event(g, PBR_EV_DISCHARGE, out);
    if (!d)
        return -1;
    name_event(p, d, 'E');
    set_recorded(g, d, 0);
    return 0;
}

/* Draws a sentence length in days: mostly short, some long. */
static int32_t draw_custodial_sentence(gen_state *g)
{
    if (rng_chance(&g->r, 7000))
        return 14 + (int32_t)rng_below(&g->r, 351);
    return 365 + (int32_t)rng_below(&g->r, 3286);
}

/* Adds one conviction at offence date od, with its lag, disposal and any
 * custody; *freed is the day custody ends (od when there is none).
 * Returns 0 or -1 on allocation failure. */
static int add_conviction(gen_state *g, const offender *p, pbr_date od, pbr_date *freed_out)
{
    *freed_out = od;
    /* offence-to-conviction lag: skewed, median about three months */
    uint32_t u = rng_below(&g->r, 1000);
    pbr_date cd = od + 1 + (pbr_date)((uint64_t)u * u * u * 720 / 1000000000ULL);
    int remand = rng_chance(&g->r, 1000) && cd - od > 3;
    pbr_date remand_in = od + 1 + (pbr_date)rng_below(&g->r, (uint32_t)(cd - od - 1 > 0 ? cd - od - 1 : 1));
    int with_area = rng_chance(&g->r, 5000);
    if (cd > g->horizon)
        return 0;
    gev *c = new_event(g, PBR_EV_CONVICTION, cd);
    if (!c)
        return -1;
    name_event(p, c, 'E');
    c->offence_date = od;
    c->offences = 1 + (int32_t)(rng_chance(&g->r, 3000) + rng_chance(&g->r, 1500));
    c->category = (uint8_t)rng_weighted(&g->r, category_weights, NCATEGORIES);
    c->disposal = (uint8_t)rng_weighted(&g->r, disposal_weights, PBR_DISP_COUNT);
    c->conv_area = (uint8_t)with_area;
    c->area = p->area;
    set_recorded(g, c, 1);
    int custody = c->disposal == PBR_DISP_CUSTODY;
    int32_t sentence = custody ? draw_custodial_sentence(g) : -1;
    pbr_date freed = cd + (custody ? sentence / 2 : 0);
    *freed_out = freed;
    if (remand && remand_in < cd)
        return add_custody_spell(g, p, remand_in, freed, -1, p->area);
    if (custody)
        return add_custody_spell(g, p, cd, freed, sentence, p->area);
    return 0;
}

/* Adds the reconvictions following index date i: with probability risk at
 * least one offence in the next two years (front-loaded), then more with
 * falling probability. Returns 0 or -1. */
static int add_reoffending(gen_state *g, const offender *p, pbr_date i)
{
    if (!rng_chance(&g->r, (uint32_t)p->risk))
        return 0;
    uint32_t a = rng_below(&g->r, 730), b = rng_below(&g->r, 730);
    pbr_date od = i + (pbr_date)(a < b ? a : b);
    for (int n = 0; n < 5; n++) {
        pbr_date freed;
        if (add_conviction(g, p, od, &freed) < 0)
            return -1;
        if (!rng_chance(&g->r, (uint32_t)(p->risk / 2 + 1500)))
            break;
        od += 7 + (pbr_date)rng_below(&g->r, 300);
        if (od <= freed) /* no offending from inside */
            od = freed + 1 + (pbr_date)rng_below(&g->r, 90);
        if (od > g->horizon)
            break;
    }
    return 0;
}

/* Adds one index event: a release with the custody spell before it, or a
 * community order. The first index event falls on s (its custody may start
 * earlier); later ones start their custody on s. Sets *index to the index
 * date, or PBR_DATE_NONE when it would fall after `to` (nothing added).
 * Returns 0 or -1. */
static int add_index_event(gen_state *g, const offender *p, pbr_date s, int first, pbr_date *index)
{
    pbr_date d = s;
    *index = PBR_DATE_NONE;
    int release = rng_chance(&g->r, 5500);
    int sso = rng_chance(&g->r, 4000);
    int has_provider = rng_chance(&g->r, 4000);
    int provider = release ? (int)rng_below(&g->r, 3) : 3 + (int)rng_below(&g->r, NPROVIDERS - 3);
    int has_ogrs = rng_chance(&g->r, 9000);
    uint8_t estab = rng_chance(&g->r, 8000) ? p->area : (uint8_t)rng_weighted(&g->r, area_weights, NAREAS);
    int32_t sentence;
    if (release)
        sentence = draw_custodial_sentence(g);
    else if (sso)
        sentence = 14 + (int32_t)rng_below(&g->r, 717);
    else
        sentence = 180 + 30 * (int32_t)rng_below(&g->r, 19);
    pbr_date served = sentence / 2 > 0 ? sentence / 2 : 1;
    if (release && !first)
        d = s + served;
    if (d > g->o->to)
        return 0;
    *index = d;
    if (release) {
        pbr_date in = d - served;
        if (add_custody_spell(g, p, in, d, sentence, estab) < 0)
            return -1;
    }
    gev *e = new_event(g, release ? PBR_EV_RELEASE : PBR_EV_COMMUNITY_START, d);
    if (!e)
        return -1;
    name_event(p, e, 'E');
    e->area = p->area;
    e->establishment = estab;
    e->provider = has_provider ? (int8_t)provider : -1;
    e->is_sso = (uint8_t)sso;
    e->sentence_days = sentence;
    e->age = age_on(p->birth, d);
    e->gender = p->gender;
    e->ogrs = has_ogrs ? p->ogrs : -1;
    e->prior = p->prior;
    e->ppo = p->ppo;
    set_recorded(g, e, 0);
    return 0;
}

/* Adds a void of event t (and sometimes a corrected copy with a new id).
 * Returns 0 or -1. */
static int add_void(gen_state *g, const offender *p, size_t t)
{
    pbr_date vd = g->ev[t].recorded + 1 + (pbr_date)rng_below(&g->r, 120);
    int correct = rng_chance(&g->r, 5000);
    /* "conviction quashed" (the last reason) only for convictions */
    uint8_t reason = (uint8_t)rng_below(&g->r, g->ev[t].type == PBR_EV_CONVICTION ? NREASONS : NREASONS - 1);
    gev *v = new_event(g, PBR_EV_VOID, vd);
    if (!v)
        return -1;
    gev *target = &g->ev[t]; /* after new_event: the array may have moved */
    target->is_target = 1;
    name_event(p, v, 'V');
    memcpy(v->target, target->id, sizeof v->target);
    v->reason = reason;
    if (!correct)
        return 0;
    gev *c = new_event(g, g->ev[t].type, g->ev[t].date);
    if (!c)
        return -1;
    uint32_t seq = c->seq;
    *c = g->ev[t];
    c->seq = seq;
    c->is_target = 0;
    c->recorded = vd;
    size_t idlen = strlen(c->id);
    if (idlen + 1 < sizeof c->id) { /* ids here are short: "E<k>-<seq>" */
        c->id[idlen] = 'c';
        c->id[idlen + 1] = '\0';
    }
    if (c->type == PBR_EV_CONVICTION)
        c->offences = c->offences < 5 ? c->offences + 1 : 1;
    else if (c->age >= 0)
        c->age = c->age < 100 ? c->age + 1 : 99;
    return 0;
}

/* Generates offender k's events into g->ev. Returns 0 or -1. */
static int generate_offender(gen_state *g, uint64_t k)
{
    offender p;
    const pbr_gen_opts *o = g->o;
    memset(&p, 0, sizeof p);
    p.k = k;
    uint32_t gx = rng_below(&g->r, 10000);
    p.gender = gx < 8500 ? 'M' : gx < 9800 ? 'F' : 'X';
    p.area = (uint8_t)rng_weighted(&g->r, area_weights, NAREAS);
    p.ppo = (uint8_t)rng_chance(&g->r, 500);
    /* OGRS: triangular on 0..1 (mode 0.5), PPOs shifted up */
    int32_t ogrs = (int32_t)((rng_below(&g->r, 10001) + rng_below(&g->r, 10001)) / 2);
    if (p.ppo)
        ogrs = ogrs + (10000 - ogrs) / 2;
    p.ogrs = ogrs;
    p.risk = ogrs;
    p.prior = ogrs * 25 / 10000 + (int32_t)rng_below(&g->r, 8) + (p.ppo ? 12 : 0);
    int32_t span = o->to - o->from + 1;
    pbr_date d = o->from + (pbr_date)rng_below(&g->r, (uint32_t)(span > 0 ? span : 1));
    int32_t age = rng_chance(&g->r, 200)
        ? 15 + (int32_t)rng_below(&g->r, 3)
        : 18 + (int32_t)(rng_below(&g->r, 12) + rng_below(&g->r, 12) + rng_below(&g->r, 16));
    if (age > 30 && rng_chance(&g->r, 1500))
        age += (int32_t)rng_below(&g->r, 20); /* a tail of older offenders */
    p.birth = d - age * 365 - age / 4 - (pbr_date)rng_below(&g->r, 365);
    uint32_t nx = rng_below(&g->r, 10000);
    int nindex = nx < 7000 ? 1 : nx < 9000 ? 2 : 3;

    g->nev = 0;
    g->busy_until = PBR_DATE_NONE;
    for (int n = 0; n < nindex; n++) {
        pbr_date index;
        if (add_index_event(g, &p, d, n == 0, &index) < 0)
            return -1;
        if (index == PBR_DATE_NONE)
            break;
        if (add_reoffending(g, &p, index) < 0)
            return -1;
        if (g->busy_until >= o->to)
            break;
        d = g->busy_until + 30 + (pbr_date)rng_below(&g->r, 600);
    }
    /* voids of earlier events (never of voids or corrections) */
    size_t n0 = g->nev;
    for (size_t t = 0; t < n0; t++) {
        int hit = rng_chance(&g->r, 40);
        if (hit && o->voids && !g->ev[t].is_target && add_void(g, &p, t) < 0)
            return -1;
    }
    return 0;
}

/* ---- output ---------------------------------------------------------- */

static int by_date_then_seq(const void *a, const void *b)
{
    const gev *x = a, *y = b;
    if (x->date != y->date)
        return x->date < y->date ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

typedef enum {
    MAL_NONE,
    MAL_TRUNCATED,
    MAL_BAD_DATE,
    MAL_UNKNOWN_FIELD,
    MAL_OUT_OF_RANGE,
    MAL_UNKNOWN_TYPE,
    MAL_NO_ID,
    MAL_RECORDED_BEFORE,
    MAL_NOT_OBJECT,
    MAL_COUNT
} malformation;

typedef struct {
    char *p;
    size_t n;
} line;

static void put(line *l, const char *s)
{
    size_t n = strlen(s);
    memcpy(l->p + l->n, s, n);
    l->n += n;
}

static void put_uint(line *l, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        l->p[l->n++] = tmp[--n];
}

static void put_int(line *l, int64_t v)
{
    if (v < 0) {
        l->p[l->n++] = '-';
        put_uint(l, (uint64_t)(-v));
    } else {
        put_uint(l, (uint64_t)v);
    }
}

/* Writes ,"key":"value" (key already carries its leading comma). */
static void put_kv(line *l, const char *key, const char *v)
{
    put(l, key);
    l->p[l->n++] = '"';
    put(l, v);
    l->p[l->n++] = '"';
}

static void put_date_kv(line *l, const char *key, pbr_date d)
{
    char s[PBR_DATE_STRLEN];
    pbr_date_format(d, s);
    put_kv(l, key, s);
}

static void put_ogrs(line *l, int32_t v)
{
    put(l, ",\"ogrs\":");
    put_uint(l, (uint64_t)(v / 10000));
    int frac = v % 10000;
    if (frac == 0)
        return;
    char digits[5] = {(char)('0' + frac / 1000), (char)('0' + frac / 100 % 10), (char)('0' + frac / 10 % 10),
                      (char)('0' + frac % 10), '\0'};
    for (int i = 3; i > 0 && digits[i] == '0'; i--)
        digits[i] = '\0';
    l->p[l->n++] = '.';
    put(l, digits);
}

/* Formats e of offender `who` as one JSON line (with its newline) into l,
 * applying the malformation mal. */
static void format_event(line *l, const gev *e, const char *who, malformation mal)
{
    int y, m, d;
    if (mal == MAL_NOT_OBJECT) {
        put(l, "[\"not\",\"an\",\"object\"]\n");
        return;
    }
    put(l, "{");
    if (mal != MAL_NO_ID) {
        put_kv(l, "\"id\":", e->id);
        put(l, ",");
    }
    if (mal == MAL_UNKNOWN_TYPE || (mal == MAL_OUT_OF_RANGE && (e->type == PBR_EV_DISCHARGE || e->type == PBR_EV_VOID)))
        put_kv(l, "\"type\":", "parole");
    else
        put_kv(l, "\"type\":", pbr_event_type_name((pbr_event_type)e->type));
    if (e->type != PBR_EV_VOID)
        put_kv(l, ",\"offender\":", who);
    if (mal == MAL_BAD_DATE) {
        char bad[32];
        pbr_date_to_ymd(e->date, &y, &m, &d);
        snprintf(bad, sizeof bad, "%04d-02-30", y % 10000);
        put_kv(l, ",\"date\":", bad);
    } else {
        put_date_kv(l, ",\"date\":", e->date);
    }
    if (mal == MAL_RECORDED_BEFORE)
        put_date_kv(l, ",\"recorded\":", e->date - 10);
    else if (e->recorded != e->date)
        put_date_kv(l, ",\"recorded\":", e->recorded);
    switch (e->type) {
    case PBR_EV_RELEASE:
    case PBR_EV_COMMUNITY_START:
    case PBR_EV_RECEPTION:
        put_kv(l, ",\"area\":", area_names[e->area]);
        if (e->type != PBR_EV_COMMUNITY_START)
            put_kv(l, ",\"establishment\":", establishment_names[e->establishment]);
        if (e->type != PBR_EV_RECEPTION && e->provider >= 0)
            put_kv(l, ",\"provider\":", provider_names[e->provider]);
        if (e->type == PBR_EV_COMMUNITY_START)
            put_kv(l, ",\"order\":", e->is_sso ? "SSO" : "CO");
        if (e->sentence_days >= 0) {
            put(l, ",\"sentence_days\":");
            put_int(l, e->sentence_days);
        }
        put(l, ",\"age\":");
        put_int(l, mal == MAL_OUT_OF_RANGE ? 7 : e->age);
        put(l, e->gender == 'M' ? ",\"gender\":\"M\"" : e->gender == 'F' ? ",\"gender\":\"F\"" : ",\"gender\":\"X\"");
        if (e->type == PBR_EV_RECEPTION)
            break;
        if (e->ogrs >= 0)
            put_ogrs(l, e->ogrs);
        put(l, ",\"prior_sanctions\":");
        put_int(l, e->prior);
        if (e->ppo)
            put(l, ",\"flags\":[\"PPO\"]");
        break;
    case PBR_EV_CONVICTION:
        put_date_kv(l, ",\"offence_date\":", mal == MAL_OUT_OF_RANGE ? e->date + 30 : e->offence_date);
        put(l, ",\"offences\":");
        put_int(l, e->offences);
        put_kv(l, ",\"category\":", category_names[e->category]);
        put_kv(l, ",\"disposal\":", pbr_disposal_name((pbr_disposal)e->disposal));
        if (e->conv_area)
            put_kv(l, ",\"area\":", area_names[e->area]);
        break;
    case PBR_EV_VOID:
        put_kv(l, ",\"target\":", e->target);
        put_kv(l, ",\"reason\":", reason_names[e->reason]);
        break;
    default: break;
    }
    if (mal == MAL_UNKNOWN_FIELD)
        put(l, ",\"colour\":\"blue\"");
    put(l, "}\n");
    if (mal == MAL_TRUNCATED) {
        l->n /= 2;
        l->p[l->n++] = '\n';
    }
}

/* Writes the buffered output. Returns 0 or -1 on a write error. */
static int flush_output(gen_state *g)
{
    if (g->outlen && fwrite(g->out, 1, g->outlen, g->fp) != g->outlen) {
        g->write_failed = 1;
        return -1;
    }
    g->outlen = 0;
    return 0;
}

/* Sorts and writes the current offender's events. Returns 0 or -1. */
static int write_offender(gen_state *g, const char *who)
{
    qsort(g->ev, g->nev, sizeof *g->ev, by_date_then_seq);
    for (size_t i = 0; i < g->nev; i++) {
        const gev *e = &g->ev[i];
        malformation mal = MAL_NONE;
        if (g->malformed_ppm && rng_below(&g->m, 1000000) < g->malformed_ppm && !e->is_target)
            mal = (malformation)(1 + rng_below(&g->m, MAL_COUNT - 1));
        if (g->outlen + LINE_MAX_BYTES > OUTBUF && flush_output(g) < 0)
            return -1;
        line l = {g->out + g->outlen, 0};
        format_event(&l, e, who, mal);
        g->outlen += l.n;
        g->lines++;
    }
    return 0;
}

/* Writes the stream for o to out. Returns the number of lines, or -1 on a
 * write or allocation error. */
int64_t pbr_gen_write(const pbr_gen_opts *o, FILE *out)
{
    gen_state g;
    int64_t rc = -1;
    memset(&g, 0, sizeof g);
    g.o = o;
    g.fp = out;
    rng_seed(&g.r, o->seed);
    rng_seed(&g.m, o->seed ^ 0x6d616c666f726d65ULL);
    if (o->malformed_rate > 0)
        g.malformed_ppm = o->malformed_rate >= 1 ? 1000000u : (uint32_t)(o->malformed_rate * 1000000.0 + 0.5);
    g.horizon = pbr_add_months(o->to, 36);
    g.out = malloc(OUTBUF);
    if (!g.out)
        goto done;
    for (uint64_t k = 0; k < o->offenders; k++) {
        char who[ID_LEN];
        snprintf(who, sizeof who, "PN%09llu%c", (unsigned long long)k, (char)('A' + (char)(k % 23)));
        if (generate_offender(&g, k) < 0 || write_offender(&g, who) < 0)
            goto done;
    }
    if (flush_output(&g) < 0 || fflush(out) != 0)
        goto done;
    rc = g.lines;
done:
    free(g.ev);
    free(g.out);
    return rc;
}
