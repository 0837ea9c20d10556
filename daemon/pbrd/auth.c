/* auth.c -- owns CURVE client authentication: the clients file (libyaml),
 * the ZAP handler thread (RFC 27) that admits known keys and refuses the
 * rest, the per-message role lookup and the role policy of SPEC.md
 * section 7. See auth.h for the wiring order. */
#include "pbrd/auth.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yaml.h>
#include <zmq.h>

#include "pbr/err.h"
#include "pbr/files.h"
#include "pbr/yamldoc.h"
#include "pbrd/log.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_VERSION "1.0"
#define ZAP_MAX_FRAMES 8         /* CURVE requests have 7 */
#define ZAP_FIELD_MAX 256        /* domain, address, mechanism copies */
#define REFUSAL_QUIET_SECONDS 10 /* repeated refusals of one key are counted, not logged */
#define PROVIDER_PREFIX "provider:"
#define PROVIDER_PREFIX_LEN (sizeof PROVIDER_PREFIX - 1)
#define NAME_MAX_LEN 64

struct pbrd_auth {
    void *zctx;
    void *zap;             /* REP at ZAP_ENDPOINT; used by the thread only */
    void *ctl_thread;      /* thread's end of the control PAIR */
    void *ctl_caller;      /* caller's end: pbrd_auth_stop sends on it */
    char ctl_endpoint[64]; /* inproc endpoint of the control PAIR */
    pthread_t thread;
    pthread_mutex_t lock; /* guards clients */
    pbrd_auth_clients *clients;
    pbrd_auth_observer observer; /* told each handshake's result, or NULL (guarded by lock) */
    void *observer_ctx;
    char last_refused[41]; /* refusal log throttle (thread only) */
    struct timespec last_refused_at;
    unsigned long repeats;
};

/* ---- roles and policy ---------------------------------------------------- */

/* Whether s is 1-64 bytes of printable ASCII without spaces. */
static int is_identifier(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] <= 0x20 || (unsigned char)s[n] >= 0x7f)
            return 0;
    return n >= 1 && n <= NAME_MAX_LEN;
}

/* The NAME of "provider:NAME", or NULL if role is not a provider role. */
static const char *provider_name_of(const char *role)
{
    if (strncmp(role, PROVIDER_PREFIX, PROVIDER_PREFIX_LEN) != 0)
        return NULL;
    return role + PROVIDER_PREFIX_LEN;
}

int pbrd_role_is_valid(const char *s)
{
    if (!s)
        return 0;
    if (!strcmp(s, "finance") || !strcmp(s, "operator") || !strcmp(s, "ingest"))
        return 1;
    const char *name = provider_name_of(s);
    return name && is_identifier(name);
}

/* Whether op is one of the NULL-terminated list. */
static int op_in(const char *op, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(op, *list))
            return 1;
    return 0;
}

int pbrd_role_allows(const char *role, const char *op, const char *contract_provider)
{
    static const char *const operator_ops[] = {"status",     "contracts", "statement", "cohorts",    "reload",
                                               "quarantine", "verify",    "backup",    "statements", "quarantine_purge",
                                               "explain",    "wait",      NULL};
    static const char *const provider_list_ops[] = {"status", "contracts", "wait", NULL};
    static const char *const provider_contract_ops[] = {"statement", "cohorts", "statements", "explain", NULL};
    if (!role || !op || !pbrd_role_is_valid(role))
        return 0;
    if (!strcmp(role, "finance"))
        return 1;
    if (!strcmp(role, "operator"))
        return op_in(op, operator_ops);
    const char *name = provider_name_of(role);
    if (!name)
        return 0; /* ingest: no API op */
    if (op_in(op, provider_list_ops))
        return 1;
    if (op_in(op, provider_contract_ops))
        return contract_provider != NULL && !strcmp(contract_provider, name);
    return 0;
}

int pbrd_role_can_see_contract(const char *role, const char *provider)
{
    if (!role || !pbrd_role_is_valid(role))
        return 0;
    if (!strcmp(role, "finance") || !strcmp(role, "operator"))
        return 1;
    const char *name = provider_name_of(role);
    return name && provider && !strcmp(name, provider);
}

int pbrd_role_may_subscribe(const char *role)
{
    return role && (!strcmp(role, "finance") || !strcmp(role, "operator"));
}

int pbrd_role_may_ingest(const char *role)
{
    return role && (!strcmp(role, "finance") || !strcmp(role, "ingest"));
}

/* ---- the clients file ---------------------------------------------------- */

void pbrd_auth_clients_destroy(pbrd_auth_clients **clientsp)
{
    if (clientsp == NULL)
        return;
    pbrd_auth_clients *clients = *clientsp;
    *clientsp = NULL;
    if (!clients)
        return;
    free(clients->v);
    free(clients);
}

const pbrd_auth_client *pbrd_auth_clients_find(const pbrd_auth_clients *clients, const uint8_t key[32])
{
    for (size_t i = 0; clients && i < clients->n; i++)
        if (!memcmp(clients->v[i].key, key, 32))
            return &clients->v[i];
    return NULL;
}

/* Decodes a 40-character Z85 key into key[32]. Returns 0 or -1. */
static int decode_key(const char *z85, uint8_t key[32])
{
    if (strlen(z85) != 40)
        return -1;
    return zmq_z85_decode(key, z85) ? 0 : -1;
}

/* Parsing state of one file. */
typedef struct clients_parse {
    const char *name; /* for messages */
    yaml_document_t *doc;
    pbrd_auth_clients *out;
    char *err;
    size_t errlen;
} clients_parse;

/* Reads the key: value into c. Returns 0 or -1. */
static int read_client_key(clients_parse *p, const yaml_node_t *v, pbrd_auth_client *c)
{
    if (v->type != YAML_SCALAR_NODE || pbr_yaml_is_null(v))
        return pbr_yaml_errf(p->err, p->errlen, p->name, v,
                             "key must be a Z85 public key (40 characters, in quotes: key: \"<key>\")");
    const char *z = (const char *)v->data.scalar.value;
    if (decode_key(z, c->key) < 0)
        return pbr_yaml_errf(p->err, p->errlen, p->name, v,
                             "key is not a Z85 CURVE public key (40 characters of the Z85 alphabet; zmq_z85_decode "
                             "failed)");
    memcpy(c->key_z85, z, 41);
    for (size_t i = 0; i < p->out->n; i++)
        if (!memcmp(p->out->v[i].key, c->key, 32))
            return pbr_yaml_errf(p->err, p->errlen, p->name, v, "duplicate key (already given at line %zu)",
                                 p->out->v[i].line);
    return 0;
}

/* Reads the role: value into c. Returns 0 or -1. */
static int read_client_role(clients_parse *p, const yaml_node_t *v, pbrd_auth_client *c)
{
    const char *r = v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value : NULL;
    if (!r || !pbrd_role_is_valid(r)) {
        char q[128];
        return pbr_yaml_errf(p->err, p->errlen, p->name, v,
                             "unknown role \"%s\" (expected finance, operator, ingest or provider:NAME)",
                             r ? pbrd_log_quote(r, q, sizeof q) : "(not a string)");
    }
    snprintf(c->role, sizeof c->role, "%s", r);
    return 0;
}

/* Reads the name: value into c. Returns 0 or -1. */
static int read_client_name(clients_parse *p, const yaml_node_t *v, pbrd_auth_client *c)
{
    const char *s = v->type == YAML_SCALAR_NODE && !pbr_yaml_is_null(v) ? (const char *)v->data.scalar.value : NULL;
    size_t len = s ? strlen(s) : 0;
    int ok = len >= 1 && len <= NAME_MAX_LEN;
    for (size_t i = 0; ok && i < len; i++)
        ok = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f;
    if (!ok)
        return pbr_yaml_errf(p->err, p->errlen, p->name, v, "name must be 1-64 printable ASCII characters");
    memcpy(c->name, s, len + 1);
    return 0;
}

/* Reads one list item (a mapping) and appends it. Returns 0 or -1. */
static int read_client(clients_parse *p, const yaml_node_t *item)
{
    if (item->type != YAML_MAPPING_NODE)
        return pbr_yaml_errf(p->err, p->errlen, p->name, item, "each client must be a mapping {key, role, name}");
    pbrd_auth_client c;
    memset(&c, 0, sizeof c);
    c.line = item->start_mark.line + 1;
    int have_key = 0, have_role = 0, have_name = 0;
    for (yaml_node_pair_t *pr = item->data.mapping.pairs.start; pr < item->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(p->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(p->doc, pr->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE)
            return pbr_yaml_errf(p->err, p->errlen, p->name, k ? k : item, "field names must be strings");
        const char *f = (const char *)k->data.scalar.value;
        int *seen = !strcmp(f, "key") ? &have_key
            : !strcmp(f, "role")      ? &have_role
            : !strcmp(f, "name")      ? &have_name
                                      : NULL;
        if (!seen) {
            char q[128];
            return pbr_yaml_errf(p->err, p->errlen, p->name, k, "unknown field \"%s\" (expected key, role, name)",
                                 pbrd_log_quote(f, q, sizeof q));
        }
        if (*seen)
            return pbr_yaml_errf(p->err, p->errlen, p->name, k, "field \"%s\" given twice", f);
        *seen = 1;
        int rc = seen == &have_key ? read_client_key(p, v, &c)
            : seen == &have_role   ? read_client_role(p, v, &c)
                                   : read_client_name(p, v, &c);
        if (rc < 0)
            return -1;
    }
    if (!have_key)
        return pbr_yaml_errf(p->err, p->errlen, p->name, item, "client has no \"key\"");
    if (!have_role)
        return pbr_yaml_errf(p->err, p->errlen, p->name, item, "client has no \"role\"");
    p->out->v[p->out->n++] = c;
    return 0;
}

/* Reads the document's root (a list, or nothing). Returns 0 or -1. */
static int read_clients_root(clients_parse *p)
{
    yaml_node_t *root = yaml_document_get_root_node(p->doc);
    if (!root || pbr_yaml_is_null(root))
        return 0;
    if (root->type != YAML_SEQUENCE_NODE)
        return pbr_yaml_errf(p->err, p->errlen, p->name, root,
                             "the clients file must be a list of {key, role, name} mappings");
    size_t n = (size_t)(root->data.sequence.items.top - root->data.sequence.items.start);
    p->out->v = calloc(n ? n : 1, sizeof *p->out->v);
    if (!p->out->v)
        return pbr_errf(p->err, p->errlen, "%s: calloc: out of memory", p->name);
    for (yaml_node_item_t *it = root->data.sequence.items.start; it < root->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(p->doc, *it);
        if (!item)
            return pbr_errf(p->err, p->errlen, "%s: yaml_document_get_node: bad item", p->name);
        if (read_client(p, item) < 0)
            return -1;
    }
    return 0;
}

int pbrd_auth_clients_parse(const char *text, size_t len, const char *name, pbrd_auth_clients **out, char *err,
                            size_t errlen)
{
    *out = NULL;
    pbrd_auth_clients *t = calloc(1, sizeof *t);
    if (!t)
        return pbr_errf(err, errlen, "%s: calloc: out of memory", name);
    yaml_document_t doc;
    pbr_yaml_problem problem;
    int rc = -1;
    if (pbr_yaml_load_one(text, len, "clients file", &doc, &problem) != 0) {
        pbr_errf(err, errlen, "%s:%zu:%zu: %s (write keys in quotes: key: \"<40 characters>\")", name, problem.line,
                 problem.column, problem.message);
        goto out_table;
    }
    clients_parse p = {name, &doc, t, err, errlen};
    rc = read_clients_root(&p);
    yaml_document_delete(&doc);
out_table:
    if (rc == 0)
        *out = t;
    else
        pbrd_auth_clients_destroy(&t);
    return rc;
}

int pbrd_auth_clients_load(const char *path, pbrd_auth_clients **out, char *err, size_t errlen)
{
    size_t len = 0;
    *out = NULL;
    char *text = pbr_read_file(path, &len, err, errlen);
    if (!text)
        return -1;
    int rc = pbrd_auth_clients_parse(text, len, path, out, err, errlen);
    free(text);
    return rc;
}

/* ---- the ZAP handler ------------------------------------------------------ */

/* Copies frame m into out[n] as a NUL-terminated string (truncated). */
static void frame_to_string(zmq_msg_t *m, char *out, size_t n)
{
    size_t len = zmq_msg_size(m);
    if (len >= n)
        len = n - 1;
    memcpy(out, zmq_msg_data(m), len);
    out[len] = '\0';
    for (size_t i = 0; i < len; i++)
        if (out[i] == '\0')
            out[i] = '?';
}

/* Appends one ZMTP metadata property (name-length byte, name, 4-byte
 * big-endian value length, value) to buf at *used. Returns 0 or -1 when it
 * does not fit. */
static int put_property(uint8_t *buf, size_t cap, size_t *used, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    if (nl > 255 || *used + 1 + nl + 4 + vl > cap)
        return -1;
    uint8_t *p = buf + *used;
    *p++ = (uint8_t)nl;
    memcpy(p, name, nl), p += nl;
    *p++ = (uint8_t)(vl >> 24), *p++ = (uint8_t)(vl >> 16), *p++ = (uint8_t)(vl >> 8), *p++ = (uint8_t)vl;
    memcpy(p, value, vl);
    *used += 1 + nl + 4 + vl;
    return 0;
}

/* The outcome of one ZAP request. */
typedef struct zap_verdict {
    const char *status; /* "200", "400", "500" */
    const char *text;
    char user_id[PBRD_ROLE_MAX];
    uint8_t metadata[256];
    size_t metadata_len;
    char key_z85[41]; /* "" when there is no CURVE key */
    char name[PBRD_CLIENT_NAME_MAX];
} zap_verdict;

/* Looks the CURVE key up in the current table and fills v. On the
 * "ingest" ZAP domain only roles that may push events are admitted, on
 * the "publish" domain only finance and operator. */
static void judge_curve_key(pbrd_auth *a, const char *domain, const uint8_t key[32], zap_verdict *v)
{
    zmq_z85_encode(v->key_z85, key, 32);
    pthread_mutex_lock(&a->lock);
    const pbrd_auth_client *c = pbrd_auth_clients_find(a->clients, key);
    if (c) {
        snprintf(v->user_id, sizeof v->user_id, "%s", c->role);
        snprintf(v->name, sizeof v->name, "%s", c->name[0] ? c->name : c->key_z85);
    }
    pthread_mutex_unlock(&a->lock);
    if (!c) {
        v->status = "400", v->text = "unknown client key";
        return;
    }
    if (!strcmp(domain, PBRD_ZAP_DOMAIN_INGEST) && !pbrd_role_may_ingest(v->user_id)) {
        v->status = "400", v->text = "role may not push events";
        v->user_id[0] = '\0';
        return;
    }
    if (!strcmp(domain, PBRD_ZAP_DOMAIN_PUBLISH) && !pbrd_role_may_subscribe(v->user_id)) {
        v->status = "400", v->text = "role may not subscribe to announcements";
        v->user_id[0] = '\0';
        return;
    }
    v->metadata_len = 0;
    if (put_property(v->metadata, sizeof v->metadata, &v->metadata_len, "X-Client-Key", v->key_z85) < 0 ||
        put_property(v->metadata, sizeof v->metadata, &v->metadata_len, "X-Client-Name", v->name) < 0) {
        v->status = "500", v->text = "metadata too large";
        return;
    }
    v->status = "200", v->text = "OK";
}

/* Logs a refusal, except repeats of the last refused key within
 * REFUSAL_QUIET_SECONDS: those are counted and the count is logged with
 * that key's next line (or on its own line when another key comes). */
static void log_refusal(pbrd_auth *a, const zap_verdict *v, const char *domain, const char *address,
                        const char *mechanism)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int same_key = v->key_z85[0] && !strcmp(v->key_z85, a->last_refused);
    if (same_key && now.tv_sec - a->last_refused_at.tv_sec < REFUSAL_QUIET_SECONDS) {
        a->repeats++;
        return;
    }
    char qa[2 * ZAP_FIELD_MAX], qm[2 * ZAP_FIELD_MAX], qd[2 * ZAP_FIELD_MAX], repeats[48] = "";
    if (a->repeats > 0 && same_key)
        snprintf(repeats, sizeof repeats, " repeats_not_logged=%lu", a->repeats);
    else if (a->repeats > 0)
        pbrd_log(PBRD_LOG_WARN, "curve handshake refusals not logged", "key=\"%s\" repeats_not_logged=%lu",
                 a->last_refused, a->repeats);
    pbrd_log(PBRD_LOG_WARN, "curve handshake refused",
             "key=\"%s\" address=\"%s\" mechanism=\"%s\" domain=\"%s\" reason=\"%s\"%s",
             v->key_z85[0] ? v->key_z85 : "-", pbrd_log_quote(address, qa, sizeof qa),
             pbrd_log_quote(mechanism, qm, sizeof qm), pbrd_log_quote(domain, qd, sizeof qd), v->text, repeats);
    snprintf(a->last_refused, sizeof a->last_refused, "%s", v->key_z85);
    a->last_refused_at = now;
    a->repeats = 0;
}

/* Sends the six reply frames. Returns 0 or -1 (errno). */
static int send_zap_reply(void *zap, zmq_msg_t *request_id, const zap_verdict *v)
{
    if (zmq_send(zap, ZAP_VERSION, strlen(ZAP_VERSION), ZMQ_SNDMORE) < 0 ||
        zmq_send(zap, zmq_msg_data(request_id), zmq_msg_size(request_id), ZMQ_SNDMORE) < 0 ||
        zmq_send(zap, v->status, strlen(v->status), ZMQ_SNDMORE) < 0 ||
        zmq_send(zap, v->text, strlen(v->text), ZMQ_SNDMORE) < 0 ||
        zmq_send(zap, v->user_id, strlen(v->user_id), ZMQ_SNDMORE) < 0 ||
        zmq_send(zap, v->metadata, v->metadata_len, 0) < 0)
        return -1;
    return 0;
}

/* Receives one request (all its frames) into f[]; *nf is the number of
 * frames (frames beyond ZAP_MAX_FRAMES are dropped but counted). Returns
 * 0, or -1 (errno) with nothing left open. */
static int recv_zap_request(void *zap, zmq_msg_t f[ZAP_MAX_FRAMES], int *nf)
{
    int more = 1;
    *nf = 0;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, zap, 0) < 0) {
            int e = errno;
            zmq_msg_close(&m);
            for (int i = 0; i < *nf && i < ZAP_MAX_FRAMES; i++)
                zmq_msg_close(&f[i]);
            errno = e;
            return -1;
        }
        more = zmq_msg_more(&m);
        if (*nf < ZAP_MAX_FRAMES)
            f[*nf] = m;
        else
            zmq_msg_close(&m);
        (*nf)++;
    }
    return 0;
}

/* Reads one ZAP request and answers it. Returns 0, or -1 (errno) on a
 * socket error. */
static int serve_zap_request(pbrd_auth *a)
{
    zmq_msg_t f[ZAP_MAX_FRAMES];
    int nf = 0;
    if (recv_zap_request(a->zap, f, &nf) < 0)
        return -1;
    zap_verdict v;
    memset(&v, 0, sizeof v);
    char version[16] = "", domain[ZAP_FIELD_MAX] = "", address[ZAP_FIELD_MAX] = "", mechanism[ZAP_FIELD_MAX] = "";
    if (nf >= 1)
        frame_to_string(&f[0], version, sizeof version);
    if (nf >= 3)
        frame_to_string(&f[2], domain, sizeof domain);
    if (nf >= 4)
        frame_to_string(&f[3], address, sizeof address);
    if (nf >= 6)
        frame_to_string(&f[5], mechanism, sizeof mechanism);
    if (nf < 6 || nf > ZAP_MAX_FRAMES || strcmp(version, ZAP_VERSION) != 0)
        v.status = "500", v.text = "malformed ZAP request";
    else if (strcmp(mechanism, "CURVE") != 0)
        v.status = "400", v.text = "only CURVE clients are admitted";
    else if (nf != 7 || zmq_msg_size(&f[6]) != 32)
        v.status = "400", v.text = "malformed CURVE credentials";
    else
        judge_curve_key(a, domain, zmq_msg_data(&f[6]), &v);
    /* Logged before replying, so the line exists once the handshake ends. */
    if (strcmp(v.status, "200") != 0) {
        log_refusal(a, &v, domain, address, mechanism);
    } else {
        char qa[2 * ZAP_FIELD_MAX], qn[2 * PBRD_CLIENT_NAME_MAX];
        pbrd_log(PBRD_LOG_INFO, "curve client admitted", "name=\"%s\" role=%s key=\"%s\" address=\"%s\"",
                 pbrd_log_quote(v.name, qn, sizeof qn), v.user_id, v.key_z85, pbrd_log_quote(address, qa, sizeof qa));
    }
    pthread_mutex_lock(&a->lock);
    pbrd_auth_observer observer = a->observer;
    void *observer_ctx = a->observer_ctx;
    pthread_mutex_unlock(&a->lock);
    if (observer != NULL)
        observer(observer_ctx, strcmp(v.status, "200") == 0 ? v.user_id : NULL);
    int rc = 0;
    if (nf >= 2) {
        rc = send_zap_reply(a->zap, &f[1], &v);
    } else { /* no request id to echo, but REP still owes a reply */
        zmq_msg_t empty;
        zmq_msg_init(&empty);
        rc = send_zap_reply(a->zap, &empty, &v);
        zmq_msg_close(&empty);
    }
    int e = errno;
    if (rc < 0)
        pbrd_log(PBRD_LOG_ERROR, "zap reply not sent", "call=zmq_send error=\"%s\"", zmq_strerror(e));
    for (int i = 0; i < nf && i < ZAP_MAX_FRAMES; i++)
        zmq_msg_close(&f[i]);
    errno = e;
    return rc;
}

/* The handler thread: answers ZAP requests until a message arrives on the
 * control socket (or the context terminates), then closes its sockets. */
static void *zap_thread_main(void *arg)
{
    pbrd_auth *a = arg;
    zmq_pollitem_t items[2] = {{a->zap, 0, ZMQ_POLLIN, 0}, {a->ctl_thread, 0, ZMQ_POLLIN, 0}};
    for (;;) {
        if (zmq_poll(items, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            if (errno != ETERM)
                pbrd_log(PBRD_LOG_ERROR, "zap handler stopped", "call=zmq_poll error=\"%s\"", zmq_strerror(errno));
            break;
        }
        if (items[1].revents & ZMQ_POLLIN)
            break;
        if ((items[0].revents & ZMQ_POLLIN) && serve_zap_request(a) < 0 && errno == ETERM)
            break;
    }
    /* zmq_close releases endpoints asynchronously; unbinding inproc
     * endpoints is synchronous, so a new handler can bind at once. */
    zmq_unbind(a->zap, ZAP_ENDPOINT);
    zmq_unbind(a->ctl_thread, a->ctl_endpoint);
    zmq_close(a->zap);
    zmq_close(a->ctl_thread);
    a->zap = a->ctl_thread = NULL;
    return NULL;
}

/* Creates a socket with linger 0. Returns it or NULL with err. */
static void *new_socket(void *zctx, int type, char *err, size_t errlen)
{
    void *s = zmq_socket(zctx, type);
    if (!s) {
        pbr_errf(err, errlen, "zmq_socket: %s", zmq_strerror(errno));
        return NULL;
    }
    int linger = 0;
    if (zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) != 0) {
        pbr_errf(err, errlen, "zmq_setsockopt(ZMQ_LINGER): %s", zmq_strerror(errno));
        zmq_close(s);
        return NULL;
    }
    return s;
}

/* Creates and binds/connects the three sockets. Returns 0 or -1 with err
 * (sockets created so far are closed). */
static int open_handler_sockets(pbrd_auth *a, char *err, size_t errlen)
{
    char *ctl_endpoint = a->ctl_endpoint;
    snprintf(a->ctl_endpoint, sizeof a->ctl_endpoint, "inproc://pbrd-auth-control-%p", (void *)a);
    a->zap = new_socket(a->zctx, ZMQ_REP, err, errlen);
    if (!a->zap)
        return -1;
    if (zmq_bind(a->zap, ZAP_ENDPOINT) != 0) {
        pbr_errf(err, errlen, "zmq_bind(%s): %s", ZAP_ENDPOINT, zmq_strerror(errno));
        goto fail_zap;
    }
    a->ctl_thread = new_socket(a->zctx, ZMQ_PAIR, err, errlen);
    if (!a->ctl_thread)
        goto fail_zap;
    if (zmq_bind(a->ctl_thread, ctl_endpoint) != 0) {
        pbr_errf(err, errlen, "zmq_bind(%s): %s", ctl_endpoint, zmq_strerror(errno));
        goto fail_ctl_thread;
    }
    a->ctl_caller = new_socket(a->zctx, ZMQ_PAIR, err, errlen);
    if (!a->ctl_caller)
        goto fail_ctl_thread;
    if (zmq_connect(a->ctl_caller, ctl_endpoint) != 0) {
        pbr_errf(err, errlen, "zmq_connect(%s): %s", ctl_endpoint, zmq_strerror(errno));
        goto fail_ctl_caller;
    }
    return 0;
fail_ctl_caller:
    zmq_close(a->ctl_caller);
fail_ctl_thread:
    zmq_close(a->ctl_thread);
fail_zap:
    zmq_close(a->zap);
    a->zap = a->ctl_thread = a->ctl_caller = NULL;
    return -1;
}

/* Starts the thread with every signal blocked (signals belong to main's
 * signalfd). Returns 0 or the pthread_create error. */
static int start_thread_without_signals(pbrd_auth *a)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&a->thread, NULL, zap_thread_main, a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

void pbrd_auth_set_observer(pbrd_auth *auth, pbrd_auth_observer fn, void *ctx)
{
    if (auth == NULL)
        return;
    pthread_mutex_lock(&auth->lock);
    auth->observer = fn;
    auth->observer_ctx = ctx;
    pthread_mutex_unlock(&auth->lock);
}

int pbrd_auth_start(void *zctx, pbrd_auth_clients *clients, pbrd_auth **out, char *err, size_t errlen)
{
    *out = NULL;
    pbrd_auth *a = calloc(1, sizeof *a);
    if (!a) {
        pbrd_auth_clients_destroy(&clients);
        return pbr_errf(err, errlen, "calloc: out of memory");
    }
    a->zctx = zctx;
    a->clients = clients;
    int rc = pthread_mutex_init(&a->lock, NULL);
    if (rc != 0) {
        pbr_errf(err, errlen, "pthread_mutex_init: %s", strerror(rc));
        goto fail_alloc;
    }
    if (open_handler_sockets(a, err, errlen) < 0)
        goto fail_mutex;
    rc = start_thread_without_signals(a);
    if (rc != 0) {
        pbr_errf(err, errlen, "pthread_create: %s", strerror(rc));
        goto fail_sockets;
    }
    *out = a;
    return 0;
fail_sockets:
    zmq_close(a->ctl_caller);
    zmq_close(a->ctl_thread);
    zmq_close(a->zap);
fail_mutex:
    pthread_mutex_destroy(&a->lock);
fail_alloc:
    pbrd_auth_clients_destroy(&a->clients);
    free(a);
    return -1;
}

void pbrd_auth_stop(pbrd_auth *auth)
{
    if (!auth)
        return;
    /* PAIR with a connected peer and no HWM pressure: the send cannot block
     * for long; if it fails the context is terminating and the thread sees
     * ETERM instead. */
    if (zmq_send(auth->ctl_caller, "STOP", 4, 0) < 0)
        pbrd_log(PBRD_LOG_WARN, "zap handler stop", "call=zmq_send error=\"%s\"", zmq_strerror(errno));
    pthread_join(auth->thread, NULL);
    zmq_close(auth->ctl_caller);
    pthread_mutex_destroy(&auth->lock);
    pbrd_auth_clients_destroy(&auth->clients);
    free(auth);
}

void pbrd_auth_reload(pbrd_auth *auth, pbrd_auth_clients *clients)
{
    pthread_mutex_lock(&auth->lock);
    pbrd_auth_clients *old = auth->clients;
    auth->clients = clients;
    pthread_mutex_unlock(&auth->lock);
    pbrd_auth_clients_destroy(&old);
}

int pbrd_auth_reload_file(pbrd_auth *auth, const char *path, char *err, size_t errlen)
{
    pbrd_auth_clients *c = NULL;
    if (pbrd_auth_clients_load(path, &c, err, errlen) < 0)
        return -1;
    size_t n = c->n;
    pbrd_auth_reload(auth, c);
    pbrd_log(PBRD_LOG_INFO, "clients reloaded", "file=%s keys=%zu", path, n);
    return 0;
}

size_t pbrd_auth_nclients(pbrd_auth *auth)
{
    pthread_mutex_lock(&auth->lock);
    size_t n = auth->clients ? auth->clients->n : 0;
    pthread_mutex_unlock(&auth->lock);
    return n;
}

/* ---- per-message roles ---------------------------------------------------- */

int pbrd_auth_role_of(const zmq_msg_t *msg, char *role, size_t n)
{
    const char *uid = zmq_msg_gets(msg, "User-Id");
    if (!uid || !*uid || strlen(uid) >= n)
        return -1;
    memcpy(role, uid, strlen(uid) + 1);
    return 0;
}

int pbrd_auth_peer_role(pbrd_auth *auth, const zmq_msg_t *msg, char *role, size_t n)
{
    if (!auth) {
        if (n < sizeof "finance")
            return -1;
        memcpy(role, "finance", sizeof "finance");
        return 0;
    }
    const char *z85 = zmq_msg_gets(msg, "X-Client-Key");
    uint8_t key[32];
    if (!z85 || decode_key(z85, key) < 0)
        return -1;
    int rc = -1;
    pthread_mutex_lock(&auth->lock);
    const pbrd_auth_client *c = pbrd_auth_clients_find(auth->clients, key);
    if (c && strlen(c->role) < n) {
        memcpy(role, c->role, strlen(c->role) + 1);
        rc = 0;
    }
    pthread_mutex_unlock(&auth->lock);
    return rc;
}

int pbrd_auth_curve_server(void *sock, const char *secret_z85, const char *domain, char *err, size_t errlen)
{
    int one = 1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0)
        return pbr_errf(err, errlen, "zmq_setsockopt(ZMQ_CURVE_SERVER): %s", zmq_strerror(errno));
    if (zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, secret_z85, 40) != 0)
        return pbr_errf(err, errlen, "zmq_setsockopt(ZMQ_CURVE_SECRETKEY): %s", zmq_strerror(errno));
    if (domain != NULL && zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) != 0)
        return pbr_errf(err, errlen, "zmq_setsockopt(ZMQ_ZAP_DOMAIN %s): %s", domain, zmq_strerror(errno));
    return 0;
}
