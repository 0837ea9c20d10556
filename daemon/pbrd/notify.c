/* notify.c -- owns the sd_notify calls; no-ops without libsystemd. Failures
 * are ignored: sd_notify does nothing when NOTIFY_SOCKET is unset. */
#include "pbrd/notify.h"

#ifdef PBR_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

void pbrd_notify_ready(void)
{
#ifdef PBR_HAVE_SYSTEMD
    sd_notify(0, "READY=1\nSTATUS=serving");
#endif
}

void pbrd_notify_stopping(void)
{
#ifdef PBR_HAVE_SYSTEMD
    sd_notify(0, "STOPPING=1\nSTATUS=draining");
#endif
}

void pbrd_notify_reloading(int done)
{
#ifdef PBR_HAVE_SYSTEMD
    sd_notify(0, done ? "READY=1" : "RELOADING=1");
#else
    (void)done;
#endif
}
