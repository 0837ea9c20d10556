/* ingest.h -- the ingest service: a ROUTER socket taking JSON Lines batches
 * (SPEC.md section 7), run in its own threads so API queries never delay an
 * acknowledgement.
 *
 * Envelope: [identity][empty][body] (REQ clients as they are; DEALER clients
 * send the empty frame first). Reply, only after the group holding the batch
 * is durably committed:
 *   {"accepted":n,"duplicates":d,"rejected":r,"errors":[{"line":k,"id":…,"error":"line k: …"}],"last_seq":s}
 * or {"error":"…"} for a bad envelope, an empty batch, an oversized frame or
 * a failed commit (then nothing of that batch is acknowledged).
 *
 * Pipeline and group commit: a socket thread reads each request, splits and
 * validates its lines and encodes the canonical forms, then hands it to a
 * commit thread. That one stores each batch as soon as it is handed over,
 * all the batches of a burst (requests that arrived together; at most
 * PBRD_INGEST_GROUP_BATCHES batches or PBRD_INGEST_GROUP_BYTES bytes) in ONE
 * write transaction, commits it durably, and only then are the replies sent
 * (by the socket thread, in commit order). Validation overlaps storing and
 * the fsync of the previous group.
 *
 * Frame size: ZMQ_MAXMSGSIZE is set to max_frame_bytes, so over TCP/IPC
 * libzmq itself drops a peer that sends a bigger frame (the peer sees no
 * reply and reconnects); frames that reach us by other routes (inproc) are
 * checked again here and answered with an error.
 */
#ifndef PBRD_INGEST_H
#define PBRD_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "pbr/store.h"
#include "pbrd/metrics.h"

#define PBRD_INGEST_GROUP_BATCHES 64
#define PBRD_INGEST_GROUP_BYTES (32u << 20)

typedef struct pbrd_ingest pbrd_ingest;

typedef struct pbrd_ingest_opts {
    void *zctx;           /* shared ZeroMQ context */
    pbr_store *store;     /* shared store (thread-safe, see store.h) */
    const char *endpoint; /* bind endpoint */
    uint64_t max_frame_bytes;
    const char *curve_secret; /* Z85 server secret key, or NULL for no CURVE */
    pbrd_metrics *metrics;    /* counters (batches, lines, commit latency, clients), or NULL */
} pbrd_ingest_opts;

/* Creates and binds the ROUTER socket in the calling thread (so a bind error
 * is reported before READY), then starts the commit and socket threads. Returns 0 and
 * *out, or -1 with err naming the failing call. Stop with pbrd_ingest_stop. */
int pbrd_ingest_start(const pbrd_ingest_opts *opts, pbrd_ingest **out, char *err, size_t errlen);

/* Stops taking new connections, finishes the requests already received
 * (commit + reply), joins the thread and frees everything. Safe on NULL. */
void pbrd_ingest_stop(pbrd_ingest *ing);

#endif
