/* notify.h -- systemd readiness notification (sd_notify). Without
 * PBR_HAVE_SYSTEMD (libsystemd not found at build time) every call is a no-op.
 */
#ifndef PBRD_NOTIFY_H
#define PBRD_NOTIFY_H

/* READY=1 once every socket is bound. */
void pbrd_notify_ready(void);
/* STOPPING=1 when shutdown begins. */
void pbrd_notify_stopping(void);
/* RELOADING=1 (done 0) before and READY=1 (done 1) after a reload asked
 * for by SIGHUP (the unit's ExecReload). */
void pbrd_notify_reloading(int done);

#endif
