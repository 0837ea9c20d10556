/* report.c -- writes the self-contained HTML report of one contract from
 * its model (report.h): styles inline, charts as inline SVG drawn with
 * integer arithmetic, a data table under every chart, no script. */
#include "pbrctl/report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pbr/money.h"

/* ---- small helpers ---------------------------------------------------------------- */

/* Writes s with & < > " ' escaped. */
static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static int64_t num(json_t *o, const char *k)
{
    return (int64_t)json_integer_value(json_object_get(o, k));
}

static int is_null(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return v == NULL || json_is_null(v);
}

/* Money cell text. */
static const char *gbp(int64_t pence, char buf[PBR_GBP_MAX])
{
    pbr_format_gbp(pence, buf, PBR_GBP_MAX);
    return buf;
}

/* Whole pounds for axis labels: "£1,250,000" ("-£20" for negatives). */
static const char *gbp_axis(int64_t pence, char buf[PBR_GBP_MAX])
{
    pbr_format_gbp(pence, buf, PBR_GBP_MAX);
    char *dot = strrchr(buf, '.');
    if (dot && !strcmp(dot, ".00"))
        *dot = '\0';
    return buf;
}

/* A 6-place decimal string as integer millionths ("0.486224" -> 486224);
 * 0 for null or malformed. */
static int64_t micro(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    if (s == NULL)
        return 0;
    int neg = *s == '-';
    s += neg;
    int64_t whole = 0, frac = 0;
    int places = 0;
    for (; *s >= '0' && *s <= '9'; s++)
        whole = whole * 10 + (*s - '0');
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9' && places < 6; s++, places++)
            frac = frac * 10 + (*s - '0');
    for (; places < 6; places++)
        frac *= 10;
    int64_t v = whole * 1000000 + frac;
    return neg ? -v : v;
}

/* A rate from millionths, with the trailing zeros of "0.480000" kept to 4 places. */
static void rate_text(int64_t m, char *out, size_t n)
{
    int64_t a = m < 0 ? -m : m;
    snprintf(out, n, "%s%" PRId64 ".%04" PRId64, m < 0 ? "-" : "", a / 1000000, (a % 1000000) / 100);
}

/* ---- axes -------------------------------------------------------------------------- */

/* A vertical value axis: values [lo, hi] onto pixels [top, top + height]. */
typedef struct axis {
    int64_t lo, hi, step;
    int top, height;
} axis;

/* The smallest round step (1, 2 or 5 times a power of ten) giving at most
 * 5 intervals over range. */
static int64_t nice_step(int64_t range)
{
    int64_t target = range / 5 + (range % 5 != 0);
    if (target < 1)
        target = 1;
    for (int64_t p = 1;; p *= 10) {
        if (p >= target)
            return p;
        if (2 * p >= target)
            return 2 * p;
        if (5 * p >= target)
            return 5 * p;
    }
}

static void axis_init(axis *a, int64_t lo, int64_t hi, int top, int height)
{
    if (hi <= lo)
        hi = lo + 100;
    a->step = nice_step(hi - lo);
    a->lo = lo >= 0 ? 0 : -((-lo + a->step - 1) / a->step) * a->step;
    a->hi = ((hi + a->step - 1) / a->step) * a->step;
    if (a->hi == a->lo)
        a->hi = a->lo + a->step;
    a->top = top;
    a->height = height;
}

/* The pixel row of value v (integer arithmetic; 128-bit intermediate). */
static int ypix(const axis *a, int64_t v)
{
    __int128 num = (__int128)(a->hi - v) * a->height;
    return a->top + (int)(num / (a->hi - a->lo));
}

/* Grid lines and labels of an axis across [x0, x1]. money: labels in pounds
 * (values in pence), else rates (values in millionths). */
static void draw_grid(FILE *f, const axis *a, int x0, int x1, int money)
{
    for (int64_t v = a->lo; v <= a->hi; v += a->step) {
        char t[PBR_GBP_MAX];
        int y = ypix(a, v);
        fprintf(f, "<line class=\"grid%s\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>", v == 0 ? " zero" : "", x0, x1, y,
                y);
        if (money)
            gbp_axis(v, t);
        else
            rate_text(v, t, sizeof t);
        fprintf(f, "<text class=\"tick\" x=\"%d\" y=\"%d\">", x0 - 6, y + 4);
        esc(f, t);
        fputs("</text>", f);
    }
}

/* Labels under the slots, every k-th one, rotated to fit. */
static void draw_xlabel(FILE *f, int cx, int y, const char *label)
{
    fprintf(f, "<text class=\"xlabel\" transform=\"translate(%d %d) rotate(-40)\">", cx, y);
    esc(f, label);
    fputs("</text>", f);
}

#define VIEW_W 900
#define PLOT_X0 96
#define PLOT_X1 (VIEW_W - 16)

/* ---- payments per quarter -------------------------------------------------------------------- */

typedef struct qsum {
    const char *quarter, *label, *as_of;
    int64_t fees, outcomes, adjustments, total, cumulative; /* cumulative: outcomes + adjustments so far */
    size_t nlines;
    int64_t events;
} qsum;

static qsum *quarter_sums(json_t *statements, size_t *n)
{
    *n = json_array_size(statements);
    qsum *v = calloc(*n + 1, sizeof *v);
    if (v == NULL)
        return NULL;
    int64_t cum = 0;
    size_t i, j;
    json_t *s, *l;
    json_array_foreach(statements, i, s)
    {
        qsum *q = &v[i];
        q->quarter = str(s, "quarter");
        q->label = str(s, "label");
        q->as_of = str(s, "as_of");
        q->total = num(s, "total_pence");
        q->events = num(s, "events_through");
        q->nlines = json_array_size(json_object_get(s, "lines"));
        json_array_foreach(json_object_get(s, "lines"), j, l)
        {
            const char *k = str(l, "kind");
            int64_t a = num(l, "amount_pence");
            if (!strcmp(k, "fee"))
                q->fees += a;
            else if (!strcmp(k, "adjustment"))
                q->adjustments += a;
            else
                q->outcomes += a;
        }
        cum += q->outcomes + q->adjustments;
        q->cumulative = cum;
    }
    return v;
}

/* One part of a stacked bar: up from *pos for positives, down from *neg. */
static void bar_part(FILE *f, const axis *a, int x, int w, const char *cls, int64_t v, int64_t *pos, int64_t *neg)
{
    if (v == 0)
        return;
    int64_t from = v > 0 ? *pos : *neg, to = from + v;
    int y0 = ypix(a, from > to ? from : to), y1 = ypix(a, from > to ? to : from);
    fprintf(f, "<rect class=\"%s\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>", cls, x, y0, w,
            y1 - y0 > 0 ? y1 - y0 : 1);
    if (v > 0)
        *pos = to;
    else
        *neg = to;
}

static void payments_chart(FILE *f, const qsum *q, size_t n, json_t *cap)
{
    int64_t lo = 0, hi = 0, datahi = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t p = 0, m = 0;
        int64_t parts[3] = {q[i].fees, q[i].outcomes, q[i].adjustments};
        for (int k = 0; k < 3; k++)
            *(parts[k] > 0 ? &p : &m) += parts[k];
        hi = p > hi ? p : hi;
        lo = m < lo ? m : lo;
        hi = q[i].cumulative > hi ? q[i].cumulative : hi;
        lo = q[i].cumulative < lo ? q[i].cumulative : lo;
    }
    datahi = hi;
    int show_cap = json_is_integer(cap) && json_integer_value(cap) <= 2 * (datahi > 0 ? datahi : 1);
    if (show_cap && json_integer_value(cap) > hi)
        hi = json_integer_value(cap);
    axis a;
    axis_init(&a, lo, hi, 16, 280);
    int slot = n ? (PLOT_X1 - PLOT_X0) / (int)n : 1, bw = slot * 7 / 10 > 1 ? slot * 7 / 10 : 1;
    int every = (int)(n + 15) / 16;
    fprintf(f,
            "<div class=\"chartbox\"><svg class=\"chart\" id=\"payments\" viewBox=\"0 0 %d 380\" role=\"img\" "
            "aria-labelledby=\"payments-title\"><title id=\"payments-title\">Payments per quarter</title>",
            VIEW_W);
    draw_grid(f, &a, PLOT_X0, PLOT_X1, 1);
    for (size_t i = 0; i < n; i++) {
        int x = PLOT_X0 + (int)i * slot + (slot - bw) / 2;
        char t1[PBR_GBP_MAX];
        fprintf(f, "<g class=\"quarter-bar\" data-quarter=\"%s\"><title>", q[i].quarter);
        esc(f, q[i].label);
        fprintf(f, ": %s</title>", gbp(q[i].total, t1));
        int64_t pos = 0, neg = 0;
        bar_part(f, &a, x, bw, "fees", q[i].fees, &pos, &neg);
        bar_part(f, &a, x, bw, "outcomes", q[i].outcomes, &pos, &neg);
        bar_part(f, &a, x, bw, "adjustments", q[i].adjustments, &pos, &neg);
        fputs("</g>", f);
        if (i % (size_t)every == 0)
            draw_xlabel(f, x + bw / 2, a.top + a.height + 14, q[i].label);
    }
    if (n > 0) {
        fputs("<polyline class=\"cumulative\" points=\"", f);
        for (size_t i = 0; i < n; i++)
            fprintf(f, "%d,%d ", PLOT_X0 + (int)i * slot + slot / 2, ypix(&a, q[i].cumulative));
        fputs("\"/>", f);
    }
    if (show_cap) {
        char t[PBR_GBP_MAX];
        int y = ypix(&a, json_integer_value(cap));
        fprintf(f, "<line class=\"cap\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>", PLOT_X0, PLOT_X1, y, y);
        fprintf(f, "<text class=\"caplabel\" x=\"%d\" y=\"%d\">contract_cap %s</text>", PLOT_X1, y - 5,
                gbp_axis(json_integer_value(cap), t));
    }
    fputs("</svg></div>\n", f);
    fputs("<ul class=\"legend\"><li><span class=\"sw fees\"></span>fees</li>"
          "<li><span class=\"sw outcomes\"></span>outcomes</li>"
          "<li><span class=\"sw adjustments\"></span>adjustments</li>"
          "<li><span class=\"sw line\"></span>cumulative outcome payments (outcomes + adjustments)</li>",
          f);
    if (json_is_integer(cap)) {
        char t[PBR_GBP_MAX];
        int64_t c = json_integer_value(cap), used = n ? q[n - 1].cumulative : 0;
        int64_t bp = c > 0 ? (int64_t)((__int128)used * 10000 / c) : 0;
        fprintf(f, "<li><span class=\"sw cap\"></span>contract_cap %s: %" PRId64 ".%02" PRId64 "%% used%s</li>",
                gbp(c, t), bp / 100, (bp < 0 ? -bp : bp) % 100, show_cap ? "" : " (the cap is above the chart)");
    }
    fputs("</ul>\n", f);
}

static void money_td(FILE *f, int64_t v)
{
    char t[PBR_GBP_MAX];
    fprintf(f, "<td class=\"num%s\">%s</td>", v < 0 ? " neg" : "", gbp(v, t));
}

static void payments_table(FILE *f, const qsum *q, size_t n)
{
    fputs("<div class=\"table\"><table><caption>Payments per quarter (data of the chart)</caption>"
          "<thead><tr><th class=\"t\">Quarter</th><th "
          "class=\"t\">Label</th><th>Fees</th><th>Outcomes</th><th>Adjustments</th>"
          "<th>Total</th><th>Cumulative outcomes</th></tr></thead><tbody>\n",
          f);
    int64_t tf = 0, to = 0, ta = 0, tt = 0;
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "<tr><td>%s</td><td>", q[i].quarter);
        esc(f, q[i].label);
        fputs("</td>", f);
        money_td(f, q[i].fees);
        money_td(f, q[i].outcomes);
        money_td(f, q[i].adjustments);
        money_td(f, q[i].total);
        money_td(f, q[i].cumulative);
        fputs("</tr>\n", f);
        tf += q[i].fees, to += q[i].outcomes, ta += q[i].adjustments, tt += q[i].total;
    }
    fputs("</tbody><tfoot><tr><th colspan=\"2\">Lifetime</th>", f);
    money_td(f, tf);
    money_td(f, to);
    money_td(f, ta);
    money_td(f, tt);
    money_td(f, n ? q[n - 1].cumulative : 0);
    fputs("</tr></tfoot></table></div>\n", f);
}

/* ---- cohort windows ---------------------------------------------------------------------------- */

/* A binary or frequency window line: final (from a statement) or provisional. */
typedef struct wline {
    json_t *line;
    const char *quarter; /* the statement that issued it, or NULL when provisional */
} wline;

static int is_window_line(json_t *l)
{
    return !strcmp(str(l, "kind"), "outcome") && !is_null(l, "reoffenders");
}

static int same_line_key(json_t *a, json_t *b)
{
    return !strcmp(str(a, "component"), str(b, "component")) && !strcmp(str(a, "period"), str(b, "period")) &&
        !strcmp(str(a, "segment"), str(b, "segment"));
}

/* Every window: the final lines in issue order, then the provisional lines
 * of windows not yet final. */
static wline *window_lines(json_t *model, size_t *n)
{
    size_t cap = 16, i, j;
    wline *v = malloc(cap * sizeof *v);
    json_t *s, *l;
    *n = 0;
    if (v == NULL)
        return NULL;
    json_array_foreach(json_object_get(model, "statements"), i, s) json_array_foreach(json_object_get(s, "lines"), j, l)
    {
        if (!is_window_line(l))
            continue;
        if (*n == cap && (v = realloc(v, (cap *= 2) * sizeof *v)) == NULL)
            return NULL;
        v[(*n)++] = (wline){l, str(s, "quarter")};
    }
    json_array_foreach(json_object_get(model, "provisional"), i, l)
    {
        int final = 0;
        for (size_t k = 0; k < *n && !final; k++)
            final = same_line_key(v[k].line, l);
        if (!is_window_line(l) || final)
            continue;
        if (*n == cap && (v = realloc(v, (cap *= 2) * sizeof *v)) == NULL)
            return NULL;
        v[(*n)++] = (wline){l, NULL};
    }
    return v;
}

static void window_chart(FILE *f, const char *component, const wline *w, size_t n)
{
    size_t m = 0;
    int64_t hi = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(str(w[i].line, "component"), component) != 0)
            continue;
        m++;
        int64_t a = micro(w[i].line, "actual"), b = micro(w[i].line, "baseline");
        hi = a > hi ? a : hi;
        hi = b > hi ? b : hi;
    }
    axis a;
    axis_init(&a, 0, hi + hi / 10, 16, 260);
    int slot = m ? (PLOT_X1 - PLOT_X0) / (int)m : 1, every = (int)(m + 15) / 16;
    fprintf(f, "<div class=\"chartbox\"><svg class=\"chart\" viewBox=\"0 0 %d 360\" role=\"img\"><title>", VIEW_W);
    esc(f, component);
    fputs(": actual against baseline per cohort window</title>", f);
    draw_grid(f, &a, PLOT_X0, PLOT_X1, 0);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *l = w[i].line;
        if (strcmp(str(l, "component"), component) != 0)
            continue;
        int cx = PLOT_X0 + (int)k * slot + slot / 2, half = slot / 3 > 18 ? 18 : slot / 3;
        int yb = ypix(&a, micro(l, "baseline")), ya = ypix(&a, micro(l, "actual"));
        const char *gate = w[i].quarter == NULL                  ? "provisional"
            : json_is_false(json_object_get(l, "threshold_met")) ? "missed"
                                                                 : "met";
        fprintf(f, "<line class=\"baseline-mark\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>", cx - half, cx + half, yb,
                yb);
        fprintf(f, "<line class=\"gap %s\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>", gate, cx, cx, yb, ya);
        fprintf(f, "<circle class=\"window-point %s\" cx=\"%d\" cy=\"%d\" r=\"6\"><title>", gate, cx, ya);
        esc(f, str(l, "period"));
        if (!is_null(l, "segment")) {
            fputs(" ", f);
            esc(f, str(l, "segment"));
        }
        fprintf(f, ": actual %s, baseline %s, gate %s</title></circle>", str(l, "actual"), str(l, "baseline"), gate);
        if (k % (size_t)every == 0) {
            char label[160];
            snprintf(label, sizeof label, "%s%s%s", str(l, "period"), is_null(l, "segment") ? "" : " ",
                     str(l, "segment"));
            draw_xlabel(f, cx, a.top + a.height + 14, label);
        }
        k++;
    }
    fputs("</svg></div>\n<ul class=\"legend\"><li><span class=\"sw base\"></span>baseline</li>"
          "<li><span class=\"dot met\"></span>actual, gate met</li>"
          "<li><span class=\"dot missed\"></span>actual, gate missed</li>"
          "<li><span class=\"dot provisional\"></span>provisional (cohort still open)</li></ul>\n",
          f);
}

static void window_table(FILE *f, const char *component, const wline *w, size_t n)
{
    fputs("<div class=\"table\"><table><caption>", f);
    esc(f, component);
    fputs(" per cohort window (data of the chart)</caption><thead><tr><th class=\"t\">Window</th><th "
          "class=\"t\">Segment</th>"
          "<th>Members</th><th>Excluded</th><th>Reoffenders</th><th>Reoffences</th><th>Actual</th>"
          "<th>Baseline</th><th>Points</th><th class=\"t\">Gate</th><th>Amount</th><th "
          "class=\"t\">Status</th></tr></thead><tbody>\n",
          f);
    for (size_t i = 0; i < n; i++) {
        json_t *l = w[i].line;
        if (strcmp(str(l, "component"), component) != 0)
            continue;
        fputs("<tr><td>", f);
        esc(f, str(l, "period"));
        fputs("</td><td>", f);
        esc(f, is_null(l, "segment") ? "-" : str(l, "segment"));
        fprintf(f,
                "</td><td class=\"num\">%" PRId64 "</td><td class=\"num\">%" PRId64 "</td><td class=\"num\">%" PRId64
                "</td><td class=\"num\">%" PRId64 "</td><td class=\"num\">%s</td><td class=\"num\">%s</td>"
                "<td class=\"num\">%s</td><td>%s</td>",
                num(l, "members"), num(l, "excluded"), num(l, "reoffenders"), num(l, "reoffences"), str(l, "actual"),
                str(l, "baseline"), str(l, "points"),
                json_is_false(json_object_get(l, "threshold_met")) ? "missed" : "met");
        money_td(f, num(l, "amount_pence"));
        if (w[i].quarter)
            fprintf(f, "<td class=\"wrap\">issued %s</td></tr>\n", w[i].quarter);
        else
            fprintf(f, "<td class=\"wrap\">open: final on %s</td></tr>\n", str(l, "final_on"));
    }
    fputs("</tbody></table></div>\n", f);
}

/* One chart and table per binary or frequency component. */
static void windows_section(FILE *f, json_t *model)
{
    size_t n;
    wline *w = window_lines(model, &n);
    if (w == NULL || n == 0) {
        free(w);
        return;
    }
    fputs("<section><h2>Cohort windows: actual against baseline</h2>\n"
          "<p class=\"note\">One point per cohort window. The gap between the baseline mark and the point is the "
          "improvement; green: the window's gate was met, red: missed, hollow: still open (provisional "
          "figures, not payable).</p>\n",
          f);
    for (size_t i = 0; i < n; i++) {
        const char *c = str(w[i].line, "component");
        int seen = 0;
        for (size_t k = 0; k < i && !seen; k++)
            seen = !strcmp(str(w[k].line, "component"), c);
        if (seen)
            continue;
        fputs("<figure><figcaption>", f);
        esc(f, c);
        fputs("</figcaption>", f);
        window_chart(f, c, w, n);
        window_table(f, c, w, n);
        fputs("</figure>\n", f);
    }
    fputs("</section>\n", f);
    free(w);
}

/* ---- custody nights ----------------------------------------------------------------------------- */

static int is_custody_line(json_t *l)
{
    const char *p = str(l, "period");
    return !strcmp(str(l, "kind"), "outcome") && is_null(l, "reoffenders") && is_null(l, "points") &&
        !is_null(l, "actual") && strlen(p) == 10 && p[4] == '-' && p[7] == '-';
}

static void custody_chart(FILE *f, json_t *model, const char *component, const char *segment)
{
    size_t i, j, n = 0;
    json_t *s, *l;
    int64_t hi = 0;
#define CUSTODY_FOREACH                                                                \
    json_array_foreach(json_object_get(model, "statements"), i, s) json_array_foreach( \
        json_object_get(s, "lines"), j,                                                \
        l) if (is_custody_line(l) && !strcmp(str(l, "component"), component) && !strcmp(str(l, "segment"), segment))
    CUSTODY_FOREACH
    {
        n++;
        int64_t a = micro(l, "actual"), b = micro(l, "baseline");
        hi = a > hi ? a : hi;
        hi = b > hi ? b : hi;
    }
    axis a;
    axis_init(&a, 0, hi + hi / 10, 16, 260);
    int slot = n ? (PLOT_X1 - PLOT_X0) / (int)n : 1, bw = slot * 6 / 10 > 1 ? slot * 6 / 10 : 1;
    int every = (int)(n + 15) / 16;
    fprintf(f,
            "<div class=\"chartbox\"><svg class=\"chart\" viewBox=\"0 0 %d 360\" role=\"img\"><title>Custody nights "
            "against baseline</title>",
            VIEW_W);
    /* values in millionths of a night; labels whole nights when the step allows */
    for (int64_t v = a.lo; v <= a.hi; v += a.step) {
        int y = ypix(&a, v);
        char t[32];
        if (a.step % 1000000 == 0)
            snprintf(t, sizeof t, "%" PRId64, v / 1000000);
        else
            rate_text(v, t, sizeof t);
        fprintf(f,
                "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/><text class=\"tick\" x=\"%d\" "
                "y=\"%d\">%s</text>",
                PLOT_X0, PLOT_X1, y, y, PLOT_X0 - 6, y + 4, t);
    }
    size_t k = 0;
    CUSTODY_FOREACH
    {
        int x = PLOT_X0 + (int)k * slot + (slot - bw) / 2;
        int64_t nights = micro(l, "actual") / 1000000, base = micro(l, "baseline");
        int y = ypix(&a, nights * 1000000), yb = ypix(&a, base), h = a.top + a.height - y;
        fprintf(f,
                "<rect class=\"nights-bar%s\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"><title>%s: %" PRId64
                " nights, baseline %s</title></rect>",
                nights * 1000000 > base ? " over" : "", x, y, bw, h > 0 ? h : 0, str(l, "period"), nights,
                str(l, "baseline"));
        fprintf(f, "<line class=\"baseline-mark\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>", x - 2, x + bw + 2, yb,
                yb);
        if (k % (size_t)every == 0)
            draw_xlabel(f, x + bw / 2, a.top + a.height + 14, str(s, "label"));
        k++;
    }
    fputs(
        "</svg></div>\n<ul class=\"legend\"><li><span class=\"sw nights\"></span>nights in custody</li>"
        "<li><span class=\"sw over\"></span>above baseline</li><li><span class=\"sw base\"></span>baseline</li></ul>\n",
        f);
    fputs("<div class=\"table\"><table><caption>Custody nights (data of the chart)</caption><thead><tr>"
          "<th "
          "class=\"t\">Quarter</th><th>Spells</th><th>Nights</th><th>Baseline</th><th>Avoided</th><th>Amount</th></"
          "tr></thead>"
          "<tbody>\n",
          f);
    CUSTODY_FOREACH
    {
        fprintf(f,
                "<tr><td>%s</td><td class=\"num\">%" PRId64 "</td><td class=\"num\">%" PRId64
                "</td><td class=\"num\">%s</td><td class=\"num\">%s</td>",
                str(l, "period"), num(l, "members"), micro(l, "actual") / 1000000, str(l, "baseline"),
                str(l, "avoided"));
        money_td(f, num(l, "amount_pence"));
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table></div>\n", f);
#undef CUSTODY_FOREACH
}

static void custody_section(FILE *f, json_t *model)
{
    size_t i, j;
    json_t *s, *l, *seen = json_array();
    json_array_foreach(json_object_get(model, "statements"), i, s) json_array_foreach(json_object_get(s, "lines"), j, l)
    {
        if (!is_custody_line(l))
            continue;
        size_t k;
        json_t *x;
        int dup = 0;
        json_array_foreach(seen, k, x) dup |=
            !strcmp(str(x, "component"), str(l, "component")) && !strcmp(str(x, "segment"), str(l, "segment"));
        if (!dup)
            json_array_append(seen, l);
    }
    if (json_array_size(seen) > 0) {
        fputs("<section><h2>Custody nights against baseline</h2>\n", f);
        json_array_foreach(seen, i, l)
        {
            fputs("<figure><figcaption>", f);
            esc(f, str(l, "component"));
            if (!is_null(l, "segment")) {
                fputs(" &middot; ", f);
                esc(f, str(l, "segment"));
            }
            fputs("</figcaption>", f);
            custody_chart(f, model, str(l, "component"), str(l, "segment"));
            fputs("</figure>\n", f);
        }
        fputs("</section>\n", f);
    }
    json_decref(seen);
}

/* ---- provisional and statements ------------------------------------------------------------------ */

static void provisional_section(FILE *f, json_t *model)
{
    json_t *prov = json_object_get(model, "provisional");
    fputs("<section><h2>Provisional figures of open cohorts</h2>\n", f);
    if (json_array_size(prov) == 0) {
        fputs("<p class=\"note\">No cohort is open: every line is final.</p></section>\n", f);
        return;
    }
    fputs("<p class=\"note\">As of ", f);
    esc(f, str(model, "provisional_as_of"));
    fputs(". Shown, not payable: the figures move until each line is final.</p>\n"
          "<div class=\"table\"><table><thead><tr><th class=\"t\">Component</th><th class=\"t\">Period</th><th "
          "class=\"t\">Segment</th><th>Members</th>"
          "<th>Actual</th><th>Baseline</th><th class=\"t\">Gate</th><th>Amount if final now</th><th class=\"t\">Final "
          "on</th></tr></thead>"
          "<tbody>\n",
          f);
    size_t i;
    json_t *l;
    json_array_foreach(prov, i, l)
    {
        fputs("<tr><td>", f);
        esc(f, str(l, "component"));
        fputs("</td><td>", f);
        esc(f, str(l, "period"));
        fputs("</td><td>", f);
        esc(f, is_null(l, "segment") ? "-" : str(l, "segment"));
        fprintf(f,
                "</td><td class=\"num\">%" PRId64 "</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td>%s</td>",
                num(l, "members"), str(l, "actual"), str(l, "baseline"),
                json_is_false(json_object_get(l, "threshold_met")) ? "missed" : "met");
        money_td(f, num(l, "amount_pence"));
        fprintf(f, "<td>%s</td></tr>\n", str(l, "final_on"));
    }
    fputs("</tbody></table></div></section>\n", f);
}

static void statements_section(FILE *f, const qsum *q, size_t n, const char *sha)
{
    fputs("<section><h2>Statements</h2>\n<div class=\"table\"><table><thead><tr><th class=\"t\">Quarter</th><th "
          "class=\"t\">Label</th>"
          "<th class=\"t\">As of</th><th>Events through</th><th>Lines</th><th>Total</th></tr></thead><tbody>\n",
          f);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "<tr><td>%s</td><td>", q[i].quarter);
        esc(f, q[i].label);
        fprintf(f, "</td><td>%s</td><td class=\"num\">%" PRId64 "</td><td class=\"num\">%zu</td>", q[i].as_of,
                q[i].events, q[i].nlines);
        money_td(f, q[i].total);
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table></div>\n<p class=\"note\">Contract version (SHA-256) of the latest statement: <code>", f);
    esc(f, sha);
    fputs("</code>. Every figure can be traced to its events with <code>pbrctl explain</code>.</p></section>\n", f);
}

/* ---- the page ----------------------------------------------------------------------------------- */

static const char *const css =
    ":root{--fees:#4e79a7;--outcomes:#59a14f;--adjustments:#f28e2b;--cap:#e15759;--ink:#1d2430;--muted:#5b6472;"
    "--rule:#d9dde3}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;"
    "color:var(--ink);background:#f6f7f9}\n"
    "main{max-width:980px;margin:0 auto;padding:16px}\n"
    "header{background:#1d2430;color:#fff;padding:20px 16px}\n"
    "header .inner{max-width:980px;margin:0 auto}\n"
    "header h1{margin:0 0 4px;font-size:1.45em;line-height:1.25}\n"
    "header p{margin:0;color:#c9d1dc}\n"
    ".kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;margin:16px 0}\n"
    ".kpi{background:#fff;border:1px solid var(--rule);border-radius:8px;padding:10px 12px}\n"
    ".kpi b{display:block;font-size:1.15em;font-variant-numeric:tabular-nums}\n"
    ".kpi span{color:var(--muted);font-size:.85em}\n"
    "section{background:#fff;border:1px solid var(--rule);border-radius:8px;padding:14px 16px;margin:16px 0}\n"
    "h2{font-size:1.15em;margin:0 0 8px}\n"
    "figure{margin:0 0 12px}\n"
    "figcaption{font-weight:600;margin:6px 0}\n"
    ".note{color:var(--muted);font-size:.9em;margin:4px 0 10px}\n"
    "svg.chart{width:100%;height:auto;display:block}\n"
    "svg .grid{stroke:#e6e9ee;stroke-width:1}\n"
    "svg .grid.zero{stroke:#8a93a0}\n"
    "svg .tick{font-size:12px;fill:var(--muted);text-anchor:end}\n"
    "svg .xlabel{font-size:12px;fill:var(--muted);text-anchor:end}\n"
    "svg .fees{fill:var(--fees)} svg .outcomes{fill:var(--outcomes)} svg .adjustments{fill:var(--adjustments)}\n"
    "svg .cumulative{fill:none;stroke:var(--ink);stroke-width:2}\n"
    "svg .cap{stroke:var(--cap);stroke-width:2;stroke-dasharray:6 4}\n"
    "svg .caplabel{font-size:12px;fill:var(--cap);text-anchor:end}\n"
    "svg .baseline-mark{stroke:var(--ink);stroke-width:3}\n"
    "svg .gap{stroke-width:2;stroke:#9aa3ad}\n"
    "svg .window-point{stroke-width:2}\n"
    "svg .window-point.met{fill:var(--outcomes);stroke:var(--outcomes)}\n"
    "svg .window-point.missed{fill:var(--cap);stroke:var(--cap)}\n"
    "svg .window-point.provisional{fill:#fff;stroke:var(--fees)}\n"
    "svg .nights-bar{fill:var(--fees)} svg .nights-bar.over{fill:var(--cap)}\n"
    ".legend{list-style:none;display:flex;flex-wrap:wrap;gap:6px 16px;padding:0;margin:6px 0 10px;font-size:.85em;"
    "color:var(--muted)}\n"
    ".sw,.dot{display:inline-block;width:12px;height:12px;margin-right:6px;vertical-align:-1px;border-radius:2px}\n"
    ".sw.fees{background:var(--fees)} .sw.outcomes{background:var(--outcomes)} "
    ".sw.adjustments{background:var(--adjustments)}\n"
    ".sw.line{height:3px;vertical-align:3px;background:var(--ink)} .sw.cap{height:3px;vertical-align:3px;"
    "background:var(--cap)} .sw.base{height:4px;vertical-align:3px;background:var(--ink)}\n"
    ".sw.nights{background:var(--fees)} .sw.over{background:var(--cap)}\n"
    ".dot{border-radius:50%} .dot.met{background:var(--outcomes)} .dot.missed{background:var(--cap)} "
    ".dot.provisional{border:2px solid var(--fees)}\n"
    ".table{overflow-x:auto;-webkit-overflow-scrolling:touch}\n"
    "table{border-collapse:collapse;width:100%;font-size:.84em;font-variant-numeric:tabular-nums}\n"
    "caption{text-align:left;color:var(--muted);padding:4px 0}\n"
    "th,td{padding:4px 6px;border-bottom:1px solid var(--rule);text-align:left;white-space:nowrap}\n"
    "th{background:#f0f2f5;font-weight:600;text-align:right} th.t,tfoot th{text-align:left}\n"
    "td.num{text-align:right} td.neg{color:#b1262c} td.wrap{white-space:normal;min-width:7em}\n"
    "tfoot th,tfoot td{font-weight:700;border-top:2px solid #8a93a0}\n"
    "footer{color:var(--muted);font-size:.8em;text-align:center;padding:8px 0 24px}\n"
    ".chartbox{overflow-x:auto;-webkit-overflow-scrolling:touch}\n"
    "@media (max-width:600px){body{font-size:14px}main{padding:8px}section{padding:10px}"
    "th,td{padding:3px 6px}svg.chart{min-width:640px}svg .tick,svg .xlabel,svg .caplabel{font-size:17px}}\n"
    "@media print{body{background:#fff;font-size:10pt}header{background:none;color:#000;padding:0 0 8pt;"
    "border-bottom:2px solid #000}header p{color:#333}main{max-width:none;padding:0}"
    "section,.kpi{border:none;border-radius:0;padding:0;margin:10pt 0}figure,table,tr{break-inside:avoid}"
    "section{break-inside:auto}.table{overflow:visible}th{background:#eee}svg.chart{max-height:8cm}"
    ".chartbox{overflow:visible}svg.chart{min-width:0}table{font-size:8pt}th,td{white-space:normal;padding:2pt 4pt}"
    "footer{display:none}}\n";

static void kpis(FILE *f, const qsum *q, size_t n, json_t *cap)
{
    int64_t fees = 0, out = 0, adj = 0, tot = 0;
    for (size_t i = 0; i < n; i++)
        fees += q[i].fees, out += q[i].outcomes, adj += q[i].adjustments, tot += q[i].total;
    char t[PBR_GBP_MAX];
    fputs("<div class=\"kpis\">", f);
    fprintf(f, "<div class=\"kpi\"><b>%s</b><span>paid over %zu statement%s</span></div>", gbp(tot, t), n,
            n == 1 ? "" : "s");
    fprintf(f, "<div class=\"kpi\"><b>%s</b><span>fees</span></div>", gbp(fees, t));
    fprintf(f, "<div class=\"kpi\"><b>%s</b><span>outcomes</span></div>", gbp(out, t));
    fprintf(f, "<div class=\"kpi\"><b>%s</b><span>adjustments</span></div>", gbp(adj, t));
    if (json_is_integer(cap))
        fprintf(f, "<div class=\"kpi\"><b>%s</b><span>contract_cap</span></div>", gbp(json_integer_value(cap), t));
    fputs("</div>\n", f);
}

int report_write(FILE *f, json_t *model)
{
    size_t n;
    json_t *sts = json_object_get(model, "statements");
    qsum *q = quarter_sums(sts, &n);
    if (q == NULL)
        return -1;
    json_t *cap = json_object_get(model, "contract_cap_pence");
    fputs("<!DOCTYPE html>\n<html lang=\"en-GB\"><head><meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
          f);
    esc(f, str(model, "contract"));
    fputs(" &middot; ", f);
    esc(f, str(model, "title"));
    fprintf(f, "</title>\n<style>\n%s</style></head><body>\n<header><div class=\"inner\"><h1>", css);
    esc(f, str(model, "title"));
    fputs("</h1><p>Contract <b>", f);
    esc(f, str(model, "contract"));
    fputs("</b> &middot; provider ", f);
    esc(f, str(model, "provider"));
    fputs(" &middot; ", f);
    esc(f, str(model, "source"));
    if (n > 0)
        fprintf(f, " &middot; %zu statements, %s to %s", n, q[0].label, q[n - 1].label);
    fputs("</p></div></header>\n<main>\n", f);
    kpis(f, q, n, cap);
    fputs("<section><h2>Payments per quarter</h2>\n<p class=\"note\">One bar per statement, stacked by fees, "
          "outcomes and adjustments (negative amounts below the line); the line is the running total of outcome "
          "payments, which <code>contract_cap</code> limits (fees are outside the cap).</p>\n",
          f);
    payments_chart(f, q, n, cap);
    payments_table(f, q, n);
    fputs("</section>\n", f);
    windows_section(f, model);
    custody_section(f, model);
    provisional_section(f, model);
    statements_section(f, q, n, n ? str(json_array_get(sts, n - 1), "contract_sha256") : "");
    fputs("<footer>Generated by pbrctl report. Amounts are exact: integer pence, rounded once per line.</footer>\n"
          "</main></body></html>\n",
          f);
    free(q);
    return ferror(f) ? -1 : 0;
}
