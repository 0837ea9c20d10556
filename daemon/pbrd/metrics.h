/* metrics.h -- pbrd's Prometheus endpoint: owns the counters the other
 * modules bump (atomics, any thread), the socket monitors that count
 * connected clients, and the HTTP server (libmicrohttpd, its own thread)
 * that renders them in the Prometheus text format (version 0.0.4) at
 * GET /metrics.
 *
 * Off unless the configuration names an address (`metrics: HOST:PORT`).
 * main creates one pbrd_metrics and passes it to the modules that count;
 * every function here accepts NULL (metrics off) and then does nothing, so
 * a call site needs no test. The metric names are listed in README.md
 * ("Metrics") and rendered by render() in metrics.c.
 *
 * Gauges read at scrape time (events, quarantine, LMDB map, statements per
 * contract) come from the store's read functions, which are thread-safe.
 */
#ifndef PBRD_METRICS_H
#define PBRD_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "pbr/store.h"

typedef struct pbrd_metrics pbrd_metrics;

/* The sockets whose connected clients are counted (pbrd_metrics_watch). */
typedef enum { PBRD_SOCK_INGEST, PBRD_SOCK_API, PBRD_SOCK_PUBLISH, PBRD_SOCK_COUNT } pbrd_metrics_socket;

/* Parses "HOST:PORT" (an IPv4 address, "localhost" or "[IPv6]"; port
 * 1..65535) into *sa. Returns 0, or -1 with err saying what is wrong. */
int pbrd_metrics_parse_address(const char *text, struct sockaddr_storage *sa, char *err, size_t errlen);

/* A new set of counters, all zero. Returns NULL when out of memory. Free
 * with pbrd_metrics_destroy (after pbrd_metrics_stop). */
pbrd_metrics *pbrd_metrics_new(void);
void pbrd_metrics_destroy(pbrd_metrics **mp);

/* Starts monitoring sock (owned by the calling thread, which must not yet
 * have handed it to another thread) for connects and disconnects, counted
 * as clients of `which`, and for failed handshakes, logged at warn as
 * msg="handshake refused" socket=… reason=… (at most one line per socket
 * every 10 s, with the count of those not logged). Call before pbrd_metrics_start. zctx is the
 * socket's context. Returns 0 or -1 with err. */
int pbrd_metrics_watch(pbrd_metrics *m, void *zctx, void *sock, pbrd_metrics_socket which, char *err, size_t errlen);

/* Binds the HTTP endpoint at address (pbrd_metrics_parse_address) and
 * starts the server and the monitor threads; store is read at scrape
 * time. Returns 0 or -1 with err (the bind error, before READY). */
int pbrd_metrics_start(pbrd_metrics *m, const char *address, pbr_store *store, char *err, size_t errlen);

/* Starts only the monitor thread (no HTTP endpoint): with CURVE and no
 * metrics address, so that handshakes refused before the ZAP handler
 * (clients without keys, wrong server key) are still logged. Returns 0 or
 * -1 with err. */
int pbrd_metrics_start_monitor(pbrd_metrics *m, char *err, size_t errlen);

/* Stops the HTTP server and the monitor thread and closes the monitor
 * sockets (call before zmq_ctx_term and before the store closes). Safe
 * when not started. */
void pbrd_metrics_stop(pbrd_metrics *m);

/* ---- counting (any thread) ---------------------------------------------- */

/* One acknowledged ingest batch and its line counts. */
void pbrd_metrics_ingest_batch(pbrd_metrics *m, uint64_t accepted, uint64_t duplicates, uint64_t rejected);

/* One ingest group commit (store and durable commit) that took ns. */
void pbrd_metrics_commit_latency(pbrd_metrics *m, uint64_t ns);

/* One settle run (API op or auto-settle) that took ns; ok is 0 when it
 * ended in an error; issued statements it issued. */
void pbrd_metrics_settle(pbrd_metrics *m, uint64_t ns, int ok, uint64_t issued);

/* A contracts reload: loaded contracts in force afterwards, errors files
 * that did not load (result "error" when errors > 0). initial: the load at
 * start-up (sets the gauges only). */
void pbrd_metrics_reload(pbrd_metrics *m, uint64_t loaded, uint64_t errors, int initial);

/* A ZAP handshake result: role is the accepted key's role (finance,
 * operator, ingest, provider:NAME), or NULL when the key was refused. */
void pbrd_metrics_handshake(pbrd_metrics *m, const char *role);

/* A finished backup op: ok 0 on failure. */
void pbrd_metrics_backup(pbrd_metrics *m, int ok);

/* Monotonic clock in nanoseconds (for the durations above). */
uint64_t pbrd_metrics_now_ns(void);

#endif
