/* notify.h -- systemd readiness notification (sd_notify). Without
 * PBR_HAVE_SYSTEMD (libsystemd not found at build time) every call is a no-op.
 */
#ifndef PBRD_NOTIFY_H
#define PBRD_NOTIFY_H

/* READY=1 once every socket is bound. */
void pbrd_notify_ready(void);
/* STOPPING=1 when shutdown begins. */
void pbrd_notify_stopping(void);
/* RELOADING=1 ... READY=1 around a reload (hook for the settlement service). */
void pbrd_notify_reloading(int done);

#endif
