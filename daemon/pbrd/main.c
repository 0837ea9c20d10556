/* main.c -- owns pbrd's process life: options and configuration, the
 * loopback-only rule without auth, daemonising, signals (signalfd in the
 * main poll loop), startup order (store, ingest thread, API, READY) and the
 * orderly shutdown (STOPPING, drain ingest, close, exit 0). */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "pbr/contract_check.h"
#include "pbr/event.h"
#include "pbr/files.h"
#include "pbr/keyfile.h"
#include "pbr/store.h"
#include "pbr/version.h"
#include "pbrd/api.h"
#include "pbrd/config.h"
#include "pbrd/ingest.h"
#include "pbrd/log.h"
#include "pbrd/metrics.h"
#include "pbrd/notify.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pbrd [-c CONFIG] [--data DIR] [--contracts DIR] [--statements DIR]\n"
            "            [--ingest E] [--api E] [--publish E] [--now YYYY-MM-DD] [--foreground]\n"
            "            [--log-level debug|info|warn|error]\n"
            "       pbrd --check [-c CONFIG] [options]   validate the configuration and contracts, then exit\n"
            "       pbrd --help | --version\n"
            "see pbrd(8) and pbrd.yaml(5)\n");
}

enum {
    OPT_DATA = 256,
    OPT_CONTRACTS,
    OPT_STATEMENTS,
    OPT_INGEST,
    OPT_API,
    OPT_PUBLISH,
    OPT_NOW,
    OPT_FG,
    OPT_CHECK,
    OPT_LOG_LEVEL
};

/* Loads defaults, then -c CONFIG, then the flags over it. Returns 0, or 2
 * (usage/config error, message printed). *help is 1 for --help, 2 for
 * --version (the caller prints and exits 0), 3 for --check (the caller
 * checks the finished configuration and exits). */
static int parse_options(int argc, char **argv, pbrd_config *cfg, int *help)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"data", required_argument, NULL, OPT_DATA},
                                             {"contracts", required_argument, NULL, OPT_CONTRACTS},
                                             {"statements", required_argument, NULL, OPT_STATEMENTS},
                                             {"ingest", required_argument, NULL, OPT_INGEST},
                                             {"api", required_argument, NULL, OPT_API},
                                             {"publish", required_argument, NULL, OPT_PUBLISH},
                                             {"now", required_argument, NULL, OPT_NOW},
                                             {"foreground", no_argument, NULL, OPT_FG},
                                             {"help", no_argument, NULL, 'h'},
                                             {"version", no_argument, NULL, 'V'},
                                             {"check", no_argument, NULL, OPT_CHECK},
                                             {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
                                             {NULL, 0, NULL, 0}};
    char err[PBR_ERR_MAX];
    const char *config_path = NULL;
    int c;
    *help = 0;
    /* first pass: only -c, so flags override the file whatever their order */
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1)
        if (c == 'c')
            config_path = optarg;
    if (pbrd_config_defaults(cfg, err, sizeof err) < 0) {
        fprintf(stderr, "pbrd: %s\n", err);
        return 2;
    }
    if (config_path && pbrd_config_load(cfg, config_path, err, sizeof err) < 0) {
        fprintf(stderr, "pbrd: %s\n", err);
        return 2;
    }
    optind = 1;
    opterr = 1;
    int rc = 0;
    while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        char **field = NULL;
        switch (c) {
        case 'c': continue;
        case 'h': *help = 1; return 0;
        case 'V': *help = 2; return 0;
        case OPT_DATA: field = &cfg->data_dir; break;
        case OPT_CONTRACTS: field = &cfg->contracts_dir; break;
        case OPT_STATEMENTS: field = &cfg->statements_dir; break;
        case OPT_INGEST: field = &cfg->ingest; break;
        case OPT_API: field = &cfg->api; break;
        case OPT_PUBLISH: field = &cfg->publish; break;
        case OPT_NOW: field = &cfg->now; break;
        case OPT_LOG_LEVEL: field = &cfg->log_level; break;
        case OPT_FG: cfg->foreground = 1; continue;
        case OPT_CHECK: *help = 3; continue;
        default: usage(stderr); return 2;
        }
        rc = pbrd_config_set(field, optarg, err, sizeof err);
        if (rc < 0) {
            fprintf(stderr, "pbrd: %s\n", err);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pbrd: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (pbrd_config_finish(cfg, err, sizeof err) < 0) {
        fprintf(stderr, "pbrd: %s\n", err);
        return 2;
    }
    return 0;
}

/* 1 if endpoint can only be reached from this host. */
static int endpoint_is_local(const char *e)
{
    if (!strncmp(e, "ipc://", 6) || !strncmp(e, "inproc://", 9))
        return 1;
    if (strncmp(e, "tcp://", 6) != 0)
        return 0;
    const char *h = e + 6;
    return !strncmp(h, "127.", 4) || !strncmp(h, "localhost:", 10) || !strncmp(h, "[::1]:", 6);
}

/* Without auth, every endpoint must be loopback. Returns 0 or 2 (logged). */
static int check_endpoints(const pbrd_config *cfg)
{
    if (cfg->server_secret_key)
        return 0;
    const char *names[] = {"ingest", "api", "publish"};
    const char *eps[] = {cfg->ingest, cfg->api, cfg->publish};
    for (int i = 0; i < 3; i++) {
        if (!endpoint_is_local(eps[i])) {
            pbrd_log(PBRD_LOG_ERROR, "refusing to bind a non-loopback endpoint without auth",
                     "socket=%s endpoint=%s hint=\"set auth.server_secret_key or use tcp://127.0.0.1\"", names[i],
                     eps[i]);
            return 2;
        }
    }
    pbrd_log(PBRD_LOG_WARN, "API is unauthenticated, loopback only", "api=%s", cfg->api);
    return 0;
}

/* Forks: the parent waits until the child is ready (a byte on the pipe) and
 * exits 0, or exits with the child's status if it dies first. Returns the
 * write end of the pipe in the child, or -1 on failure (logged). */
static int daemonize(void)
{
    int fds[2];
    if (pipe(fds) != 0) {
        pbrd_log(PBRD_LOG_ERROR, "daemonize failed", "call=pipe error=\"%s\"", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        pbrd_log(PBRD_LOG_ERROR, "daemonize failed", "call=fork error=\"%s\"", strerror(errno));
        return -1;
    }
    if (pid > 0) {
        close(fds[1]);
        char b;
        ssize_t n = read(fds[0], &b, 1);
        if (n == 1)
            _exit(0);
        int status = 0;
        waitpid(pid, &status, 0);
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
    }
    close(fds[0]);
    if (setsid() < 0)
        pbrd_log(PBRD_LOG_WARN, "setsid failed", "error=\"%s\"", strerror(errno));
    return fds[1];
}

/* Blocks the signals we handle (before any thread starts, so every thread
 * inherits the mask) and returns a signalfd for them, or -1. */
static int open_signalfd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* Reads pending signals: returns 1 when asked to stop; sets the reload flag on SIGHUP. */
static int handle_signals(int sfd, pbrd_api *api)
{
    struct signalfd_siginfo si;
    int stop = 0;
    while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP) {
            pbrd_log(PBRD_LOG_INFO, "SIGHUP received", "action=reload");
            api->reload_requested = 1;
        } else {
            pbrd_log(PBRD_LOG_INFO, "shutdown requested", "signal=%s", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
            stop = 1;
        }
    }
    return stop;
}

#define TICK_MS 10000 /* how often auto-settle looks at the clock */
#define IDLE_MS 250   /* how often idle work (mirroring new events) looks at the store */

/* Monotonic milliseconds. */
static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Polls the API socket and the signalfd until a stop signal. A settle (the
 * settle op, or auto-settle every TICK_MS) runs one statement per turn of
 * the loop, the sockets polled without waiting in between: requests are
 * answered while it runs and SIGTERM ends the daemon between two
 * statements (each one whole: committed with its files, or absent); the
 * settle's client is told it was interrupted. When nothing waits and no
 * settle runs, new events are mirrored into memory (pbrd_service_idle),
 * so a settle need not parse them. Returns 0 or 1. */
static int serve(pbrd_api *api, int sfd)
{
    zmq_pollitem_t items[2] = {{api->router, 0, ZMQ_POLLIN, 0}, {NULL, sfd, ZMQ_POLLIN, 0}};
    int64_t next_tick = mono_ms();
    int mirroring = 0; /* idle work is left to do */
    for (;;) {
        int64_t now = mono_ms();
        if (now >= next_tick) {
            pbrd_api_auto_settle(api);
            next_tick = now + TICK_MS;
        }
        long timeout = pbrd_api_settling(api) || mirroring ? 0 : (long)(next_tick - now);
        if (timeout > IDLE_MS)
            timeout = IDLE_MS;
        long wait_ms = pbrd_wait_next_ms(api, now); /* parked wait requests time out on time */
        if (wait_ms >= 0 && wait_ms < timeout)
            timeout = wait_ms;
        items[0].revents = items[1].revents = 0;
        int n = zmq_poll(items, 2, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            pbrd_log(PBRD_LOG_ERROR, "poll failed", "call=zmq_poll error=\"%s\"", zmq_strerror(errno));
            pbrd_api_settle_interrupt(api, "pbrd failed");
            return 1;
        }
        if ((items[1].revents & ZMQ_POLLIN) && handle_signals(sfd, api)) {
            pbrd_api_settle_interrupt(api, "pbrd is stopping");
            return 0;
        }
        if (api->reload_requested) { /* SIGHUP: systemd sees the unit "reloading" until it is done */
            pbrd_notify_reloading(0);
            json_t *r = pbrd_api_reload(api);
            json_decref(r);
            pbrd_notify_reloading(1);
        }
        if ((items[0].revents & ZMQ_POLLIN) && pbrd_api_serve(api) < 0)
            pbrd_log(PBRD_LOG_WARN, "api receive failed", "call=zmq_msg_recv error=\"%s\"", zmq_strerror(errno));
        pbrd_api_settle_step(api);
        pbrd_wait_expire(api, mono_ms());
        /* never during a settle: its statements must see one event set */
        mirroring = n == 0 && !pbrd_api_settling(api) && api->service != NULL && pbrd_service_idle(api->service) > 0;
    }
}

/* Loads the clients file and starts the ZAP handler (before any CURVE socket
 * binds). Returns 0, or -1 (logged). */
static int start_auth(const pbrd_config *cfg, void *zctx, pbrd_auth **out)
{
    char err[PBR_ERR_MAX], q[PBR_ERR_MAX];
    pbrd_auth_clients *clients = NULL;
    if (cfg->clients == NULL) {
        pbrd_log(PBRD_LOG_ERROR, "auth.clients is required with auth.server_secret_key", NULL);
        return -1;
    }
    if (pbrd_auth_clients_load(cfg->clients, &clients, err, sizeof err) != 0 ||
        pbrd_auth_start(zctx, clients, out, err, sizeof err) != 0) {
        pbrd_log(PBRD_LOG_ERROR, "auth start failed", "error=\"%s\"", pbrd_log_quote(err, q, sizeof q));
        return -1;
    }
    pbrd_log(PBRD_LOG_INFO, "ZAP handler started", "clients=%s keys=%zu", cfg->clients, pbrd_auth_nclients(*out));
    return 0;
}

/* The ZAP handler's observer: counts handshakes per role. */
static void count_handshake(void *metrics, const char *role)
{
    pbrd_metrics_handshake(metrics, role);
}

/* Metrics (cfg->metrics set): counts the API and PUB sockets' clients and
 * starts the HTTP endpoint; with CURVE and no metrics address, only the
 * socket monitors (refused handshakes are logged). Returns 0, or -1
 * (logged). */
static int start_metrics(pbrd_metrics *metrics, const pbrd_config *cfg, pbrd_api *api, pbr_store *store)
{
    char err[PBR_ERR_MAX], q[PBR_ERR_MAX];
    if (metrics == NULL)
        return 0;
    api->metrics = metrics;
    pbrd_auth_set_observer(api->auth, count_handshake, metrics);
    if (pbrd_metrics_watch(metrics, api->zctx, api->router, PBRD_SOCK_API, err, sizeof err) != 0 ||
        pbrd_metrics_watch(metrics, api->zctx, api->pub, PBRD_SOCK_PUBLISH, err, sizeof err) != 0 ||
        (cfg->metrics == NULL ? pbrd_metrics_start_monitor(metrics, err, sizeof err)
                              : pbrd_metrics_start(metrics, cfg->metrics, store, err, sizeof err)) != 0) {
        pbrd_log(PBRD_LOG_ERROR, "metrics start failed", "error=\"%s\"", pbrd_log_quote(err, q, sizeof q));
        return -1;
    }
    if (cfg->metrics != NULL)
        pbrd_log(PBRD_LOG_INFO, "metrics bound", "address=%s path=/metrics", cfg->metrics);
    return 0;
}

#define NOFILE_TARGET 65536 /* open files wanted (systemd/pbrd.service: LimitNOFILE=65536) */

/* Raises the soft limit on open files towards the hard limit (at most
 * NOFILE_TARGET). Every client connection holds a descriptor: at the usual
 * soft default of 1024, a thousand idle connections are enough to leave no
 * descriptor for anyone else (libzmq then cannot accept a connection, and
 * its I/O thread spins on the listening socket until one is closed). */
static void raise_nofile_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t want = (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > NOFILE_TARGET) ? NOFILE_TARGET : rl.rlim_max;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
        return;
    unsigned long long was = (unsigned long long)rl.rlim_cur;
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        pbrd_log(PBRD_LOG_WARN, "open file limit not raised", "soft=%llu hard=%llu error=\"%s\"", was,
                 (unsigned long long)rl.rlim_max, strerror(errno));
    else
        pbrd_log(PBRD_LOG_INFO, "open file limit raised", "from=%llu to=%llu", was, (unsigned long long)want);
}

/* Checks, before anything starts, what would otherwise only fail later or
 * silently: the contracts directory must exist and be readable. Returns 0
 * or 2 (logged). */
static int check_paths(const pbrd_config *cfg)
{
    DIR *d = opendir(cfg->contracts_dir);
    if (d == NULL) {
        pbrd_log(PBRD_LOG_ERROR, "contracts directory unusable", "call=opendir dir=%s error=\"%s\"", cfg->contracts_dir,
                 strerror(errno));
        return 2;
    }
    closedir(d);
    return 0;
}

/* The resources of a running daemon, in start-up order. Every field starts
 * out empty (NULL or -1) so one cleanup releases whatever was acquired. */
typedef struct daemon_res {
    int ready_fd; /* daemonize's pipe to the waiting parent, or -1 */
    int sfd;      /* signalfd, or -1 */
    pbr_store *store;
    void *zctx;
    pbrd_metrics *metrics; /* metrics endpoint and counters (cfg->metrics), or NULL */
    pbrd_auth *auth;       /* ZAP handler (CURVE only); stopped before zmq_ctx_term */
    pbrd_ingest *ing;
    pbrd_api api; /* sockets NULL until opened */
    pbrd_service *svc;
} daemon_res;

/* Releases every acquired resource of r in reverse start-up order. The ZAP
 * handler's sockets and every other socket are closed before zmq_ctx_term,
 * which would otherwise wait for them for ever. */
static void release_all(daemon_res *r)
{
    pbrd_metrics_stop(r->metrics); /* its threads read the service and the store */
    pbrd_service_close(&r->svc);
    pbrd_api_close(&r->api);
    pbrd_ingest_stop(r->ing);
    pbrd_auth_stop(r->auth);
    pbrd_metrics_destroy(&r->metrics); /* after ingest, which counts into it */
    if (r->zctx != NULL)
        zmq_ctx_term(r->zctx);
    pbr_store_close(&r->store);
    if (r->sfd >= 0)
        close(r->sfd);
    if (r->ready_fd >= 0)
        close(r->ready_fd);
    memset(r, 0, sizeof *r);
    r->ready_fd = r->sfd = -1;
}

/* Tells the parent (daemon mode) and systemd that start-up is done. */
static void announce_ready(daemon_res *r, const pbrd_config *cfg)
{
    pbrd_notify_ready();
    if (r->ready_fd >= 0) {
        ssize_t w = write(r->ready_fd, "R", 1);
        (void)w;
        close(r->ready_fd);
        r->ready_fd = -1;
    }
    pbrd_log(PBRD_LOG_INFO, "ready", "pid=%ld now=%s", (long)getpid(), cfg->now ? cfg->now : "(clock)");
}

/* Runs the daemon on a finished configuration. Returns the exit status:
 * 0 after an orderly stop, 2 for a configuration problem found before
 * start-up, 1 for any other start-up or run-time failure. */
static int run(pbrd_config *cfg)
{
    char err[PBR_ERR_MAX], q[PBR_ERR_MAX];
    char secret[41];
    const char *curve = NULL;
    daemon_res r;
    memset(&r, 0, sizeof r);
    r.ready_fd = r.sfd = -1;
    int rc = 2;

    if (check_endpoints(cfg) != 0 || check_paths(cfg) != 0)
        goto out;
    raise_nofile_limit();
    if (cfg->server_secret_key) {
        if (pbr_key_file_read(cfg->server_secret_key, secret, err, sizeof err) < 0) {
            pbrd_log(PBRD_LOG_ERROR, "reading the server secret key failed", "error=\"%s\"",
                     pbrd_log_quote(err, q, sizeof q));
            goto out;
        }
        curve = secret;
        pbrd_log(PBRD_LOG_INFO, "CURVE enabled", "key=%s clients=%s", cfg->server_secret_key,
                 cfg->clients ? cfg->clients : "(none)");
    }
    rc = 1;
    if (!cfg->foreground && (r.ready_fd = daemonize()) < 0)
        goto out;
    if ((r.sfd = open_signalfd()) < 0) {
        pbrd_log(PBRD_LOG_ERROR, "signal setup failed", "call=signalfd error=\"%s\"", strerror(errno));
        goto out;
    }
    if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
        pbrd_log(PBRD_LOG_ERROR, "cannot create data dir", "call=mkdir dir=%s error=\"%s\"", cfg->data_dir,
                 strerror(errno));
        goto out;
    }
    if (pbr_store_open(cfg->data_dir, &r.store, err, sizeof err) != 0) {
        pbrd_log(PBRD_LOG_ERROR, "store open failed", "dir=%s error=\"%s\"", cfg->data_dir,
                 pbrd_log_quote(err, q, sizeof q));
        goto out;
    }
    pbrd_log(PBRD_LOG_INFO, "store opened", "dir=%s", cfg->data_dir);
    if ((r.zctx = zmq_ctx_new()) == NULL) {
        pbrd_log(PBRD_LOG_ERROR, "zmq_ctx_new failed", "error=\"%s\"", zmq_strerror(errno));
        goto out;
    }
    /* With CURVE the socket monitors run even without the metrics endpoint:
     * they log the handshakes refused before the ZAP handler sees them. */
    if ((cfg->metrics != NULL || curve != NULL) && (r.metrics = pbrd_metrics_new()) == NULL) {
        pbrd_log(PBRD_LOG_ERROR, "metrics: out of memory", NULL);
        goto out;
    }
    if (curve != NULL && start_auth(cfg, r.zctx, &r.auth) != 0)
        goto out;
    pbrd_ingest_opts io = {r.zctx, r.store, cfg->ingest, cfg->max_frame_bytes, curve, r.metrics};
    if (pbrd_ingest_start(&io, &r.ing, err, sizeof err) != 0) {
        pbrd_log(PBRD_LOG_ERROR, "ingest start failed", "error=\"%s\"", pbrd_log_quote(err, q, sizeof q));
        goto out;
    }
    pbrd_log(PBRD_LOG_INFO, "ingest bound", "endpoint=%s max_frame_bytes=%llu", cfg->ingest,
             (unsigned long long)cfg->max_frame_bytes);
    if (pbrd_api_open(&r.api, r.zctx, r.store, cfg, curve, err, sizeof err) != 0) {
        pbrd_log(PBRD_LOG_ERROR, "api start failed", "error=\"%s\"", pbrd_log_quote(err, q, sizeof q));
        goto out;
    }
    pbrd_log(PBRD_LOG_INFO, "api bound", "endpoint=%s", cfg->api);
    pbrd_log(PBRD_LOG_INFO, "publish bound", "endpoint=%s", cfg->publish);
    r.api.auth = r.auth;
    pbrd_service_opts so = {cfg->contracts_dir, cfg->statements_dir,   &pbrd_api_events, &r.api,
                            cfg->auto_settle,   pbrd_api_today(&r.api)};
    if (pbrd_service_open(&r.svc, r.store, &so, err, sizeof err) != 0) {
        pbrd_log(PBRD_LOG_ERROR, "settlement service failed to start", "error=\"%s\"",
                 pbrd_log_quote(err, q, sizeof q));
        goto out;
    }
    r.api.service = r.svc;
    pbrd_service_set_metrics(r.svc, r.metrics);
    if (start_metrics(r.metrics, cfg, &r.api, r.store) != 0)
        goto out;
    announce_ready(&r, cfg);
    rc = serve(&r.api, r.sfd);
    pbrd_notify_stopping();
out:
    release_all(&r);
    pbrd_log(rc == 0 ? PBRD_LOG_INFO : PBRD_LOG_ERROR, "exiting", "status=%d", rc);
    return rc;
}

/* pbrd --check: what start-up would refuse, without starting: the
 * endpoints rule, the contracts directory and every contract in it (as a
 * reload loads them: pbr_contracts_check), the server key and the clients
 * file. The config file itself was read by parse_options. Returns 0 when
 * all is well, else 1 (each problem printed). */
static int run_check(const pbrd_config *cfg)
{
    char err[PBR_ERR_MAX];
    int bad = check_endpoints(cfg) != 0;
    size_t n = 0;
    char **paths = pbr_list_contract_files(cfg->contracts_dir, &n, err, sizeof err);
    if (paths == NULL) {
        fprintf(stderr, "pbrd --check: contracts_dir: %s\n", err);
        bad = 1;
    } else {
        size_t nbad = pbr_contracts_check(paths, n, stdout, stderr);
        if (nbad > 0)
            fprintf(stderr, "pbrd --check: %zu of %zu contract files invalid\n", nbad, n);
        bad |= nbad > 0;
        pbr_free_list(paths, n);
    }
    if (cfg->server_secret_key != NULL) {
        char secret[41];
        pbrd_auth_clients *clients = NULL;
        if (pbr_key_file_read(cfg->server_secret_key, secret, err, sizeof err) < 0) {
            fprintf(stderr, "pbrd --check: auth.server_secret_key: %s\n", err);
            bad = 1;
        }
        if (cfg->clients == NULL) {
            fprintf(stderr, "pbrd --check: auth.clients is required with auth.server_secret_key\n");
            bad = 1;
        } else if (pbrd_auth_clients_load(cfg->clients, &clients, err, sizeof err) != 0) {
            fprintf(stderr, "pbrd --check: %s\n", err);
            bad = 1;
        }
        pbrd_auth_clients_destroy(&clients);
    }
    printf("pbrd --check: %s\n", bad ? "problems found" : "configuration and contracts OK");
    return bad;
}

int main(int argc, char **argv)
{
    pbrd_config cfg;
    int help = 0;
    int rc = parse_options(argc, argv, &cfg, &help);
    if (rc != 0) {
        pbrd_config_clear(&cfg);
        return rc;
    }
    if (help == 2) {
        printf("pbrd %s\n", PBR_VERSION);
        pbrd_config_clear(&cfg);
        return 0;
    }
    if (help == 1) {
        usage(stdout);
        pbrd_config_clear(&cfg);
        return 0;
    }
    pbrd_log_level level = PBRD_LOG_INFO;
    if (cfg.log_level != NULL)
        pbrd_log_level_parse(cfg.log_level, &level); /* checked by pbrd_config_finish */
    pbrd_log_setup(level, pbrd_log_stderr_is_journal());
    rc = help == 3 ? run_check(&cfg) : run(&cfg);
    pbrd_config_clear(&cfg);
    return rc;
}
