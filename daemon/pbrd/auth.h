/* auth.h -- CURVE client authentication and roles for pbrd (SPEC.md section 7).
 *
 * With auth configured, pbrd's sockets are CURVE servers and this module
 * runs the ZAP handler (RFC 27) on the shared ZeroMQ context: a thread with
 * a REP socket bound at inproc://zeromq.zap.01 that checks each connecting
 * client's public key against the clients table (auth.clients, YAML) and
 * refuses unknown keys at the handshake (ZAP status 400, logged as
 * msg="curve handshake refused" key=… address=…).
 *
 * A known key is accepted with ZAP User-Id = its role, and two metadata
 * properties that libzmq attaches to every message of the connection:
 *     "User-Id"       finance | operator | provider:NAME | ingest
 *     "X-Client-Key"  the client's public key, Z85 (40 characters)
 *     "X-Client-Name" the `name:` of the client entry (or the Z85 key)
 * Read them on received frames with pbrd_auth_peer_role (preferred: it
 * re-checks the key against the current table, so a key removed by a
 * reload stops working even on a connection opened before the reload) or
 * pbrd_auth_role_of (the role fixed at the handshake).
 *
 * Wiring (main.c / api.c), in this order:
 *   1. pbrd_auth_clients_load(cfg->clients, &clients, …)
 *   2. pbrd_auth_start(zctx, clients, &auth, …)     BEFORE any CURVE socket binds
 *   3. open the CURVE sockets (pbrd_auth_curve_server), serve; per request
 *      pbrd_auth_peer_role(auth, &body, role, sizeof role) == 0 or refuse,
 *      then pbrd_role_allows(role, op, provider_of_contract_or_NULL).
 *   4. on reload: pbrd_auth_reload_file(auth, cfg->clients, …)
 *   5. close the CURVE sockets, THEN pbrd_auth_stop(auth), then zmq_ctx_term.
 * libzmq 4.3 (without draft API, so no ZMQ_ZAP_ENFORCE_DOMAIN) lets CURVE
 * clients in unauthenticated when no ZAP handler is bound, so the handler
 * must outlive every CURVE socket (steps 2 and 5), and with auth configured
 * a message without a User-Id must be refused, never treated as finance
 * (pbrd_auth_peer_role does exactly that).
 *
 * The ingest socket shares the CURVE server key and this handler; set
 * ZMQ_ZAP_DOMAIN = PBRD_ZAP_DOMAIN_INGEST on it so that only finance and
 * ingest keys can open an ingest connection. The PUB socket has domain
 * PBRD_ZAP_DOMAIN_PUBLISH: only finance and operator keys subscribe
 * (pbrd_role_may_subscribe); a provider's key is refused at the handshake,
 * so no provider sees another's statement totals.
 *
 * Roles (pbrd_role_allows):
 *   finance        every op
 *   operator       every op but settle: status, contracts, statement,
 *                  statements, cohorts, explain, reload, quarantine,
 *                  quarantine_purge, verify, backup, wait (all contracts)
 *   provider:NAME  status, contracts, wait (the caller scopes the reply
 *                  with pbrd_role_can_see_contract), and statement,
 *                  statements, cohorts and explain of contracts whose
 *                  provider is NAME; nothing else
 *   ingest         no API op; may push events (pbrd_role_may_ingest), for
 *                  upstream feeds (an extension: the spec names no role for
 *                  the ingest socket, which shares the CURVE server key)
 */
#ifndef PBRD_AUTH_H
#define PBRD_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#define PBRD_ROLE_MAX 80        /* "provider:" + a 64-byte name + NUL fits */
#define PBRD_CLIENT_NAME_MAX 65 /* name: 1-64 printable ASCII bytes + NUL */

/* The ZAP domain (ZMQ_ZAP_DOMAIN) to set on the ingest socket: there only
 * keys whose role may push events (pbrd_role_may_ingest) are admitted.
 * On any other domain (PBRD_ZAP_DOMAIN_PUBLISH excepted) every known key
 * is admitted. */
#define PBRD_ZAP_DOMAIN_INGEST "ingest"

/* The ZAP domain to set on the PUB socket: there only finance and
 * operator keys are admitted (announcements name every contract and its
 * total; providers wait for their own statements with the API's "wait"
 * op instead). */
#define PBRD_ZAP_DOMAIN_PUBLISH "publish"

/* One entry of the clients file. */
typedef struct pbrd_auth_client {
    uint8_t key[32];                 /* public key, binary */
    char key_z85[41];                /* the same, Z85 */
    char role[PBRD_ROLE_MAX];        /* validated role string */
    char name[PBRD_CLIENT_NAME_MAX]; /* `name:` or "" */
    size_t line;                     /* 1-based line of the entry (messages) */
} pbrd_auth_client;

/* The clients table: n entries, keys distinct. */
typedef struct pbrd_auth_clients {
    size_t n;
    pbrd_auth_client *v;
} pbrd_auth_clients;

typedef struct pbrd_auth pbrd_auth;

/* Reads the clients YAML file at path: a list of mappings
 *     - key: <Z85 public key, 40 characters>
 *       role: finance | operator | provider:NAME | ingest
 *       name: <optional label for logs, 1-64 printable ASCII>
 * An empty file is an empty table (every key refused). Returns 0 and *out
 * (free with pbrd_auth_clients_destroy), or -1 with err as
 * "PATH:LINE:COL: message" (YAML syntax, not a list, bad Z85 key, unknown
 * role, duplicate key, unknown or repeated field, missing key/role) or
 * "PATH: <call>: <reason>" when the file cannot be read. */
int pbrd_auth_clients_load(const char *path, pbrd_auth_clients **out, char *err, size_t errlen);

/* As pbrd_auth_clients_load on len bytes of text; name is used as PATH in
 * messages. Returns 0 and *out, or -1 with err. */
int pbrd_auth_clients_parse(const char *text, size_t len, const char *name, pbrd_auth_clients **out, char *err,
                            size_t errlen);

/* Frees *clientsp and sets it to NULL (NULL is fine). */
void pbrd_auth_clients_destroy(pbrd_auth_clients **clientsp);

/* The entry with this binary public key, or NULL. */
const pbrd_auth_client *pbrd_auth_clients_find(const pbrd_auth_clients *clients, const uint8_t key[32]);

/* Binds the ZAP handler's REP socket at inproc://zeromq.zap.01 on zctx and
 * starts its thread. Takes ownership of clients (also on failure). Returns
 * 0 and *out, or -1 with err naming the failing call (e.g. zmq_bind
 * EADDRINUSE when another handler is bound on this context); on failure
 * nothing is left open. */
int pbrd_auth_start(void *zctx, pbrd_auth_clients *clients, pbrd_auth **out, char *err, size_t errlen);

/* Called (on the ZAP thread) with each handshake's result: the admitted
 * key's role, or NULL when the handshake was refused. */
typedef void (*pbrd_auth_observer)(void *ctx, const char *role);

/* Calls fn(ctx, …) for every handshake from now on (fn NULL: stop); the
 * metrics count handshakes per role this way. Safe on auth NULL. */
void pbrd_auth_set_observer(pbrd_auth *auth, pbrd_auth_observer fn, void *ctx);

/* Replaces the clients table atomically (takes ownership of clients, frees
 * the old one). New handshakes and pbrd_auth_peer_role use the new table
 * from the moment this returns. */
void pbrd_auth_reload(pbrd_auth *auth, pbrd_auth_clients *clients);

/* Loads path and, if it is valid, swaps it in; on error the current table
 * stays in force. Returns 0, or -1 with err as pbrd_auth_clients_load. */
int pbrd_auth_reload_file(pbrd_auth *auth, const char *path, char *err, size_t errlen);

/* Number of keys in the current table. */
size_t pbrd_auth_nclients(pbrd_auth *auth);

/* Stops the handler thread (through its inproc control socket), joins it
 * and frees everything; the handler's sockets are closed when this
 * returns, so zmq_ctx_term can then complete. NULL is fine. */
void pbrd_auth_stop(pbrd_auth *auth);

/* The role libzmq attached to a received message ("User-Id" from the ZAP
 * reply at the handshake) into role[n]. Returns 0, or -1 when the message
 * carries no User-Id (no auth on that socket) or role[] is too small. */
int pbrd_auth_role_of(const zmq_msg_t *msg, char *role, size_t n);

/* The role of the peer that sent msg, for request handling:
 *   auth == NULL (no auth configured: loopback only): "finance", 0;
 *   otherwise the current role of the message's client key (X-Client-Key
 *   looked up in the current table), or -1 when the message has no
 *   authenticated key or the key has been removed since the handshake.
 * Thread-safe. */
int pbrd_auth_peer_role(pbrd_auth *auth, const zmq_msg_t *msg, char *role, size_t n);

/* Whether role may run op (see the table at the top). contract_provider is
 * the provider of the contract the request names (statement, cohorts), or
 * NULL when the op is not about one contract or the contract is unknown
 * (a provider then gets 0, so unknown and foreign contracts look alike).
 * Returns 1 (allowed) or 0 (refused; also for NULL/malformed roles and
 * unknown ops other than for finance). */
int pbrd_role_allows(const char *role, const char *op, const char *contract_provider);

/* Whether role may see a contract of this provider (e.g. in the contracts
 * list): finance and operator see all, provider:NAME only NAME's. Returns
 * 1 or 0. */
int pbrd_role_can_see_contract(const char *role, const char *provider);

/* Whether role may push events on the ingest socket: finance and ingest.
 * Returns 1 or 0. */
int pbrd_role_may_ingest(const char *role);

/* Whether role may subscribe to the PUB socket (every announcement):
 * finance and operator. Returns 1 or 0. */
int pbrd_role_may_subscribe(const char *role);

/* Whether s is a valid role string. Returns 1 or 0. */
int pbrd_role_is_valid(const char *s);

/* Makes sock a CURVE server with the Z85 secret key (40 characters) and,
 * when domain is not NULL, sets its ZAP domain (PBRD_ZAP_DOMAIN_INGEST...),
 * before it binds. The one place pbrd's sockets get their CURVE options.
 * Returns 0, or -1 with err naming the failing zmq_setsockopt. */
int pbrd_auth_curve_server(void *sock, const char *secret_z85, const char *domain, char *err, size_t errlen);

#endif
