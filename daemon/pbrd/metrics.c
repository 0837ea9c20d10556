/* metrics.c -- owns pbrd's Prometheus endpoint (metrics.h): the counters
 * (C11 atomics, bumped from any thread), the socket-monitor thread that
 * counts connected clients, and the libmicrohttpd server that renders the
 * text exposition format at GET /metrics. */
#include "pbrd/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "pbr/err.h"
#include "pbrd/log.h"

#define METRICS_MAX_CONNECTIONS 16    /* concurrent scrapes */
#define METRICS_CONNECTION_TIMEOUT 10 /* seconds an idle HTTP connection is kept */
#define MONITOR_POLL_MS 200           /* how often the monitor thread looks at `stopping` */
#define HANDSHAKE_QUIET_SECONDS 10    /* failed handshakes per socket logged at most this often */
#define MONITOR_EVENTS                                                                    \
    (ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | \
     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)

/* Commit latency histogram bucket bounds (seconds, and in ns). */
static const char *const bucket_le[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
                                        "0.05",   "0.1",   "0.25",   "0.5",   "1",    "2.5"};
static const uint64_t bucket_ns[] = {500000,   1000000,   2500000,   5000000,   10000000,   25000000,
                                     50000000, 100000000, 250000000, 500000000, 1000000000, 2500000000};
#define NBUCKETS (sizeof bucket_ns / sizeof bucket_ns[0])

/* Role kinds of the ZAP handshake counter. */
enum { ROLE_FINANCE, ROLE_OPERATOR, ROLE_INGEST, ROLE_PROVIDER, ROLE_REFUSED, ROLE_COUNT };
static const char *const role_names[ROLE_COUNT] = {"finance", "operator", "ingest", "provider", "refused"};
static const char *const socket_names[PBRD_SOCK_COUNT] = {"ingest", "api", "publish"};

struct pbrd_metrics {
    /* ingest */
    atomic_uint_fast64_t batches, stored, duplicates, rejected;
    atomic_uint_fast64_t commit_buckets[NBUCKETS + 1]; /* per bucket (not cumulative); last: +Inf */
    atomic_uint_fast64_t commit_sum_ns, commit_count;
    /* settlement */
    atomic_uint_fast64_t settle_ok, settle_error, settle_last_ns, settle_last_issued;
    atomic_uint_fast64_t reload_ok, reload_error, contracts_loaded, contract_errors;
    atomic_uint_fast64_t backup_ok, backup_error;
    /* clients */
    atomic_int_fast64_t connected[PBRD_SOCK_COUNT];
    /* the descriptors counted in `connected`, one bit per fd (monitor thread
     * only): a connection accepted before its socket was watched is never
     * counted, so its disconnection must not be either */
    unsigned char *open_fds[PBRD_SOCK_COUNT];
    size_t open_fds_bytes[PBRD_SOCK_COUNT];
    atomic_uint_fast64_t handshakes[ROLE_COUNT];
    /* machinery (main thread only, except as noted) */
    void *monitors[PBRD_SOCK_COUNT]; /* PAIR sockets; owned by the monitor thread once it runs */
    atomic_int stopping;             /* read by the monitor thread */
    pthread_t monitor_thread;
    int monitor_started;
    time_t handshake_logged_at[PBRD_SOCK_COUNT]; /* monitor thread only: throttle of failed-handshake lines */
    unsigned long handshake_unlogged[PBRD_SOCK_COUNT];
    uint64_t handshake_logged_kind[PBRD_SOCK_COUNT];
    struct MHD_Daemon *httpd;
    pbr_store *store; /* read by the HTTP thread */
    atomic_uint_fast64_t scrapes;
};

uint64_t pbrd_metrics_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the address -------------------------------------------------------- */

int pbrd_metrics_parse_address(const char *text, struct sockaddr_storage *sa, char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(text, ':');
    memset(sa, 0, sizeof *sa);
    if (colon == NULL || colon == text)
        return pbr_errf(err, errlen, "\"%s\" is not HOST:PORT (e.g. 127.0.0.1:9301)", text);
    size_t hlen = (size_t)(colon - text);
    if (text[0] == '[') {
        if (hlen < 3 || text[hlen - 1] != ']')
            return pbr_errf(err, errlen, "\"%s\": an IPv6 address is written [ADDR]:PORT", text);
        hlen -= 2;
        text++;
    }
    if (hlen >= sizeof host)
        return pbr_errf(err, errlen, "\"%s\": host too long", text);
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    char *end = NULL;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 || port == 0 || port > 65535)
        return pbr_errf(err, errlen, "\"%s\": the port must be a number from 1 to 65535", colon + 1);
    if (!strcmp(host, "localhost"))
        snprintf(host, sizeof host, "127.0.0.1");
    struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        return 0;
    }
    return pbr_errf(err, errlen, "\"%s\" is not an IP address (write 127.0.0.1, [::1] or localhost)", host);
}

/* 1 when sa is a loopback address. */
static int is_loopback(const struct sockaddr_storage *sa)
{
    if (sa->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

/* ---- life ---------------------------------------------------------------- */

pbrd_metrics *pbrd_metrics_new(void)
{
    pbrd_metrics *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    /* calloc's zero bytes are valid zero atomics on every target we build for;
     * the explicit init keeps the C11 rule. */
    atomic_init(&m->stopping, 0);
    return m;
}

void pbrd_metrics_destroy(pbrd_metrics **mp)
{
    if (mp == NULL)
        return;
    pbrd_metrics *m = *mp;
    *mp = NULL;
    if (m == NULL)
        return;
    pbrd_metrics_stop(m);
    for (int i = 0; i < PBRD_SOCK_COUNT; i++)
        free(m->open_fds[i]);
    free(m);
}

/* ---- counting -------------------------------------------------------------- */

void pbrd_metrics_ingest_batch(pbrd_metrics *m, uint64_t accepted, uint64_t duplicates, uint64_t rejected)
{
    if (m == NULL)
        return;
    atomic_fetch_add(&m->batches, 1);
    atomic_fetch_add(&m->stored, accepted);
    atomic_fetch_add(&m->duplicates, duplicates);
    atomic_fetch_add(&m->rejected, rejected);
}

void pbrd_metrics_commit_latency(pbrd_metrics *m, uint64_t ns)
{
    if (m == NULL)
        return;
    size_t b = 0;
    while (b < NBUCKETS && ns > bucket_ns[b])
        b++;
    atomic_fetch_add(&m->commit_buckets[b], 1);
    atomic_fetch_add(&m->commit_sum_ns, ns);
    atomic_fetch_add(&m->commit_count, 1);
}

void pbrd_metrics_settle(pbrd_metrics *m, uint64_t ns, int ok, uint64_t issued)
{
    if (m == NULL)
        return;
    atomic_fetch_add(ok ? &m->settle_ok : &m->settle_error, 1);
    atomic_store(&m->settle_last_ns, ns);
    atomic_store(&m->settle_last_issued, issued);
}

void pbrd_metrics_reload(pbrd_metrics *m, uint64_t loaded, uint64_t errors, int initial)
{
    if (m == NULL)
        return;
    if (!initial)
        atomic_fetch_add(errors ? &m->reload_error : &m->reload_ok, 1);
    atomic_store(&m->contracts_loaded, loaded);
    atomic_store(&m->contract_errors, errors);
}

void pbrd_metrics_handshake(pbrd_metrics *m, const char *role)
{
    if (m == NULL)
        return;
    int k = ROLE_REFUSED;
    if (role == NULL)
        k = ROLE_REFUSED;
    else if (!strcmp(role, "finance"))
        k = ROLE_FINANCE;
    else if (!strcmp(role, "operator"))
        k = ROLE_OPERATOR;
    else if (!strcmp(role, "ingest"))
        k = ROLE_INGEST;
    else if (!strncmp(role, "provider:", 9))
        k = ROLE_PROVIDER;
    atomic_fetch_add(&m->handshakes[k], 1);
}

void pbrd_metrics_backup(pbrd_metrics *m, int ok)
{
    if (m != NULL)
        atomic_fetch_add(ok ? &m->backup_ok : &m->backup_error, 1);
}

/* ---- socket monitors ---------------------------------------------------------- */

int pbrd_metrics_watch(pbrd_metrics *m, void *zctx, void *sock, pbrd_metrics_socket which, char *err, size_t errlen)
{
    if (m == NULL)
        return 0;
    if (which >= PBRD_SOCK_COUNT || m->monitors[which] != NULL || m->monitor_started)
        return pbr_errf(err, errlen, "pbrd_metrics_watch: socket %d already watched or started", (int)which);
    char endpoint[96];
    snprintf(endpoint, sizeof endpoint, "inproc://pbrd-metrics-monitor-%s-%p", socket_names[which], (void *)m);
    if (zmq_socket_monitor(sock, endpoint, MONITOR_EVENTS) != 0)
        return pbr_errf(err, errlen, "zmq_socket_monitor(%s): %s", socket_names[which], zmq_strerror(errno));
    void *pair = zmq_socket(zctx, ZMQ_PAIR);
    if (pair == NULL)
        return pbr_errf(err, errlen, "zmq_socket(PAIR): %s", zmq_strerror(errno));
    int linger = 0;
    zmq_setsockopt(pair, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(pair, endpoint) != 0) {
        pbr_errf(err, errlen, "zmq_connect(%s): %s", endpoint, zmq_strerror(errno));
        zmq_close(pair);
        return -1;
    }
    m->monitors[which] = pair;
    return 0;
}

/* Why a handshake on a CURVE server socket failed, in words. */
static const char *handshake_failure_reason(uint16_t event, uint32_t value)
{
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        return "the client closed the connection during the handshake (a client without CURVE keys, or with a "
               "server key that is not ours)";
    if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        return "security mechanism mismatch (a client without CURVE keys)";
    if (value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC || value == ZMQ_PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE)
        return "CURVE cryptographic error (a client with a server key that is not ours)";
    return "protocol error";
}

/* Logs a handshake refused before the ZAP handler saw it (auth.c logs the
 * ones it refuses); repeats of the same failure on a socket within
 * HANDSHAKE_QUIET_SECONDS are counted and the count logged with the next
 * line. */
static void log_failed_handshake(pbrd_metrics *m, int which, uint16_t event, uint32_t value)
{
    time_t now = time(NULL);
    uint64_t kind = (uint64_t)event << 32 | value;
    if (m->handshake_logged_at[which] != 0 && kind == m->handshake_logged_kind[which] &&
        now - m->handshake_logged_at[which] < HANDSHAKE_QUIET_SECONDS) {
        m->handshake_unlogged[which]++;
        return;
    }
    pbrd_log(PBRD_LOG_WARN, "handshake refused",
             "socket=%s reason=\"%s\" event=0x%x value=0x%" PRIx32 " repeats_not_logged=%lu", socket_names[which],
             handshake_failure_reason(event, value), (unsigned)event, value, m->handshake_unlogged[which]);
    m->handshake_logged_at[which] = now;
    m->handshake_logged_kind[which] = kind;
    m->handshake_unlogged[which] = 0;
}

/* Marks fd open (on) or closed for socket which. Returns 1 when its state
 * changed, 0 when it did not (closing an fd that was never counted, or no
 * memory to track it: then it is not counted at all). */
static int track_fd(pbrd_metrics *m, int which, uint32_t fd, int on)
{
    size_t byte = fd / 8;
    unsigned char bit = (unsigned char)(1u << (fd % 8));
    if (byte >= m->open_fds_bytes[which]) {
        if (!on)
            return 0;
        size_t n = m->open_fds_bytes[which] ? m->open_fds_bytes[which] : 1024;
        while (n <= byte)
            n *= 2;
        unsigned char *grown = realloc(m->open_fds[which], n);
        if (grown == NULL)
            return 0;
        memset(grown + m->open_fds_bytes[which], 0, n - m->open_fds_bytes[which]);
        m->open_fds[which] = grown;
        m->open_fds_bytes[which] = n;
    }
    unsigned char *slot = &m->open_fds[which][byte];
    if (!!(*slot & bit) == !!on)
        return 0;
    *slot = on ? (unsigned char)(*slot | bit) : (unsigned char)(*slot & ~bit);
    return 1;
}

/* Reads one monitor event ([uint16 event][uint32 value: the fd] then the
 * endpoint) from pair and counts it for socket which. */
static void read_monitor_event(pbrd_metrics *m, void *pair, int which)
{
    zmq_msg_t part;
    uint16_t event = 0;
    uint32_t value = 0; /* the fd (ACCEPTED, DISCONNECTED) or the failure's code */
    int first = 1, more = 1;
    while (more) {
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, pair, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            return;
        }
        if (first && zmq_msg_size(&part) >= 6) {
            memcpy(&event, zmq_msg_data(&part), sizeof event);
            memcpy(&value, (const char *)zmq_msg_data(&part) + 2, sizeof value);
        }
        first = 0;
        more = zmq_msg_more(&part);
        zmq_msg_close(&part);
    }
    if (event == ZMQ_EVENT_ACCEPTED && track_fd(m, which, value, 1))
        atomic_fetch_add(&m->connected[which], 1);
    else if (event == ZMQ_EVENT_DISCONNECTED && track_fd(m, which, value, 0))
        atomic_fetch_sub(&m->connected[which], 1);
    else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL || event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
        log_failed_handshake(m, which, event, value);
}

/* The monitor thread: counts accepted and closed connections of the
 * watched sockets until `stopping`, then closes its PAIR sockets. */
static void *monitor_main(void *arg)
{
    pbrd_metrics *m = arg;
    zmq_pollitem_t items[PBRD_SOCK_COUNT];
    int which[PBRD_SOCK_COUNT], n = 0;
    pthread_setname_np(pthread_self(), "pbrd-metrics");
    for (int i = 0; i < PBRD_SOCK_COUNT; i++) {
        if (m->monitors[i] == NULL)
            continue;
        items[n] = (zmq_pollitem_t){m->monitors[i], 0, ZMQ_POLLIN, 0};
        which[n++] = i;
    }
    while (!atomic_load(&m->stopping)) {
        int rc = zmq_poll(items, n, MONITOR_POLL_MS);
        if (rc < 0 && errno != EINTR)
            break;
        for (int i = 0; rc > 0 && i < n; i++)
            if (items[i].revents & ZMQ_POLLIN)
                read_monitor_event(m, items[i].socket, which[i]);
    }
    for (int i = 0; i < PBRD_SOCK_COUNT; i++) {
        if (m->monitors[i] != NULL)
            zmq_close(m->monitors[i]);
        m->monitors[i] = NULL;
    }
    return NULL;
}

/* ---- rendering ------------------------------------------------------------------ */

/* Writes a metric's HELP and TYPE lines. */
static void header(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(FILE *f, const char *name, const char *help, uint64_t v)
{
    header(f, name, "counter", help);
    fprintf(f, "%s %" PRIu64 "\n", name, v);
}

static void gauge(FILE *f, const char *name, const char *help, uint64_t v)
{
    header(f, name, "gauge", help);
    fprintf(f, "%s %" PRIu64 "\n", name, v);
}

/* Nanoseconds as seconds with 9 decimals (exact, no floating point). */
static void print_seconds(FILE *f, uint64_t ns)
{
    fprintf(f, "%" PRIu64 ".%09" PRIu64, ns / 1000000000u, ns % 1000000000u);
}

/* A label value with \, " and newline escaped (the exposition format's rule). */
static void print_label_value(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fprintf(f, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

typedef struct per_contract {
    FILE *f;
    char contract[512];
    uint64_t n;
} per_contract;

static void flush_contract(per_contract *p)
{
    if (p->n == 0)
        return;
    fputs("pbrd_statements_issued_total{contract=\"", p->f);
    print_label_value(p->f, p->contract);
    fprintf(p->f, "\"} %" PRIu64 "\n", p->n);
}

/* Counts the statement keys of one contract in a row (keys come sorted). */
static int count_statement(void *ctx, const char *contract, const char *quarter)
{
    (void)quarter;
    per_contract *p = ctx;
    if (strcmp(p->contract, contract) != 0) {
        flush_contract(p);
        snprintf(p->contract, sizeof p->contract, "%s", contract);
        p->n = 0;
    }
    p->n++;
    return 0;
}

static void render_ingest(pbrd_metrics *m, FILE *f)
{
    counter(f, "pbrd_events_stored_total", "Events stored (acknowledged as accepted) since start.",
            atomic_load(&m->stored));
    counter(f, "pbrd_events_duplicate_total", "Event lines that repeated a stored event exactly (not stored again).",
            atomic_load(&m->duplicates));
    counter(f, "pbrd_events_rejected_total", "Event lines rejected and quarantined since start.",
            atomic_load(&m->rejected));
    counter(f, "pbrd_ingest_batches_total", "Ingest batches answered with counts since start.",
            atomic_load(&m->batches));
    const char *h = "pbrd_ingest_commit_seconds";
    header(f, h, "histogram",
           "Time to durably commit one ingest group (one LMDB transaction holding one or more batches).");
    uint64_t cum = 0;
    for (size_t b = 0; b <= NBUCKETS; b++) {
        cum += atomic_load(&m->commit_buckets[b]);
        fprintf(f, "%s_bucket{le=\"%s\"} %" PRIu64 "\n", h, b < NBUCKETS ? bucket_le[b] : "+Inf", cum);
    }
    fprintf(f, "%s_sum ", h);
    print_seconds(f, atomic_load(&m->commit_sum_ns));
    fprintf(f, "\n%s_count %" PRIu64 "\n", h, cum);
}

static void render_store(pbrd_metrics *m, FILE *f)
{
    pbr_store_stats st;
    char err[PBR_ERR_MAX];
    if (pbr_store_get_stats(m->store, &st, err, sizeof err) != 0) {
        pbrd_log(PBRD_LOG_WARN, "metrics: store figures unavailable", "error=\"%s\"", err);
        return;
    }
    gauge(f, "pbrd_store_events", "Events in the store.", st.events);
    gauge(f, "pbrd_store_last_seq", "Sequence number of the last stored event.", st.last_seq);
    gauge(f, "pbrd_quarantine_records", "Records in the quarantine (rejected input kept for inspection).",
          st.quarantined);
    gauge(f, "pbrd_lmdb_map_size_bytes", "Size of the LMDB memory map (grows by itself).", st.map_size);
    gauge(f, "pbrd_lmdb_map_used_bytes", "Bytes of the LMDB map in use (up to the last used page).", st.map_used);
    header(f, "pbrd_statements_issued_total", "counter", "Statements issued, per contract (from the store).");
    per_contract p = {f, "", 0};
    if (pbr_store_foreach_statement_key(m->store, count_statement, &p, err, sizeof err) != 0)
        pbrd_log(PBRD_LOG_WARN, "metrics: statement counts unavailable", "error=\"%s\"", err);
    flush_contract(&p);
}

static void render_service(pbrd_metrics *m, FILE *f)
{
    header(f, "pbrd_settle_runs_total", "counter", "Settle runs (API op and auto-settle) by result.");
    fprintf(f, "pbrd_settle_runs_total{result=\"ok\"} %" PRIu64 "\n", (uint64_t)atomic_load(&m->settle_ok));
    fprintf(f, "pbrd_settle_runs_total{result=\"error\"} %" PRIu64 "\n", (uint64_t)atomic_load(&m->settle_error));
    header(f, "pbrd_settle_last_duration_seconds", "gauge", "Duration of the last settle run.");
    fputs("pbrd_settle_last_duration_seconds ", f);
    print_seconds(f, atomic_load(&m->settle_last_ns));
    fputc('\n', f);
    gauge(f, "pbrd_settle_last_issued", "Statements issued by the last settle run.",
          atomic_load(&m->settle_last_issued));
    header(f, "pbrd_reloads_total", "counter", "Contract reloads (SIGHUP or the reload op) by result.");
    fprintf(f, "pbrd_reloads_total{result=\"ok\"} %" PRIu64 "\n", (uint64_t)atomic_load(&m->reload_ok));
    fprintf(f, "pbrd_reloads_total{result=\"error\"} %" PRIu64 "\n", (uint64_t)atomic_load(&m->reload_error));
    gauge(f, "pbrd_contracts_loaded", "Contracts in force after the last load.", atomic_load(&m->contracts_loaded));
    gauge(f, "pbrd_contract_errors", "Contract files that failed to load at the last load.",
          atomic_load(&m->contract_errors));
    header(f, "pbrd_backups_total", "counter", "Backup ops by result.");
    fprintf(f, "pbrd_backups_total{result=\"ok\"} %" PRIu64 "\n", (uint64_t)atomic_load(&m->backup_ok));
    fprintf(f, "pbrd_backups_total{result=\"error\"} %" PRIu64 "\n", (uint64_t)atomic_load(&m->backup_error));
}

static void render_clients(pbrd_metrics *m, FILE *f)
{
    header(f, "pbrd_clients_connected", "gauge", "Open client connections per socket (socket monitor).");
    for (int i = 0; i < PBRD_SOCK_COUNT; i++) {
        int64_t v = atomic_load(&m->connected[i]);
        fprintf(f, "pbrd_clients_connected{socket=\"%s\"} %" PRId64 "\n", socket_names[i], v < 0 ? 0 : v);
    }
    header(f, "pbrd_auth_handshakes_total", "counter",
           "CURVE handshakes decided by the ZAP handler, by the client key's role (refused: unknown key).");
    for (int i = 0; i < ROLE_COUNT; i++)
        fprintf(f, "pbrd_auth_handshakes_total{role=\"%s\"} %" PRIu64 "\n", role_names[i],
                (uint64_t)atomic_load(&m->handshakes[i]));
    counter(f, "pbrd_metrics_scrapes_total", "Scrapes of this endpoint since start.", atomic_load(&m->scrapes));
}

/* The whole page (malloc'd, *len bytes), or NULL when out of memory. */
static char *render(pbrd_metrics *m, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (f == NULL)
        return NULL;
    atomic_fetch_add(&m->scrapes, 1);
    render_ingest(m, f);
    render_store(m, f);
    render_service(m, f);
    render_clients(m, f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---- HTTP ----------------------------------------------------------------------------- */

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, char *body, size_t len,
                                  enum MHD_ResponseMemoryMode mode, const char *type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (r == NULL) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* GET /metrics: the page; anything else: 404 or 405. */
static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)upload;
    (void)con_cls;
    static char not_found[] = "not found: the metrics are at /metrics\n";
    static char not_allowed[] = "method not allowed: use GET\n";
    const char *plain = "text/plain; charset=utf-8";
    if (*upload_size != 0)
        *upload_size = 0;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, not_allowed, strlen(not_allowed), MHD_RESPMEM_PERSISTENT,
                          plain);
    if (strcmp(url, "/metrics") != 0)
        return reply_text(c, MHD_HTTP_NOT_FOUND, not_found, strlen(not_found), MHD_RESPMEM_PERSISTENT, plain);
    size_t len = 0;
    char *page = render(cls, &len);
    if (page == NULL)
        return MHD_NO;
    return reply_text(c, MHD_HTTP_OK, page, len, MHD_RESPMEM_MUST_FREE, "text/plain; version=0.0.4; charset=utf-8");
}

/* libmicrohttpd's error messages, as log lines. */
static void httpd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512], q[600];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    pbrd_log(PBRD_LOG_WARN, "metrics http", "error=\"%s\"", pbrd_log_quote(msg, q, sizeof q));
}

int pbrd_metrics_start_monitor(pbrd_metrics *m, char *err, size_t errlen)
{
    if (m == NULL)
        return pbr_errf(err, errlen, "metrics: not created");
    int rc = pthread_create(&m->monitor_thread, NULL, monitor_main, m);
    if (rc != 0)
        return pbr_errf(err, errlen, "pthread_create(metrics monitor): %s", strerror(rc));
    m->monitor_started = 1;
    return 0;
}

int pbrd_metrics_start(pbrd_metrics *m, const char *address, pbr_store *store, char *err, size_t errlen)
{
    struct sockaddr_storage sa;
    if (m == NULL)
        return pbr_errf(err, errlen, "metrics: not created");
    if (pbrd_metrics_parse_address(address, &sa, err, errlen) != 0)
        return -1;
    m->store = store;
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    uint16_t port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                                   : ((struct sockaddr_in *)&sa)->sin_port);
    m->httpd = MHD_start_daemon(flags, port, NULL, NULL, handle, m, MHD_OPTION_EXTERNAL_LOGGER, httpd_log, NULL,
                                MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT,
                                (unsigned)METRICS_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
                                (unsigned)METRICS_CONNECTION_TIMEOUT, MHD_OPTION_END);
    if (m->httpd == NULL)
        return pbr_errf(err, errlen, "MHD_start_daemon(%s): cannot listen (address in use or not local?)", address);
    if (pbrd_metrics_start_monitor(m, err, errlen) != 0) {
        MHD_stop_daemon(m->httpd);
        m->httpd = NULL;
        return -1;
    }
    if (!is_loopback(&sa))
        pbrd_log(PBRD_LOG_WARN, "metrics endpoint is not loopback: anyone who can reach it can read it", "metrics=%s",
                 address);
    return 0;
}

void pbrd_metrics_stop(pbrd_metrics *m)
{
    if (m == NULL)
        return;
    if (m->httpd != NULL) {
        MHD_stop_daemon(m->httpd);
        m->httpd = NULL;
    }
    if (m->monitor_started) {
        atomic_store(&m->stopping, 1);
        pthread_join(m->monitor_thread, NULL);
        m->monitor_started = 0;
    }
    for (int i = 0; i < PBRD_SOCK_COUNT; i++) { /* watched but never started */
        if (m->monitors[i] != NULL)
            zmq_close(m->monitors[i]);
        m->monitors[i] = NULL;
    }
}
