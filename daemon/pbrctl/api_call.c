/* api_call.c -- one API request with a progress line on a terminal while
 * pbrd works (settle and verify can take minutes), see tools.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "pbr/event.h"
#include "pbrctl/client.h"
#include "pbrctl/tools.h"

/* Waits for the reply in slices of 200 ms, updating the progress line.
 * Returns the body (malloc'd) or NULL with err. */
static char *wait_reply(pbrctl_client *c, const char *cmd, char *err, size_t errlen)
{
    progress p;
    char label[64];
    snprintf(label, sizeof label, "%s: waiting for pbrd", cmd);
    progress_start(&p, label);
    int waited = 0;
    while (waited < c->timeout_ms) {
        int slice = c->timeout_ms - waited < 200 ? c->timeout_ms - waited : 200;
        int rc = pbrctl_client_wait(c, slice, err, errlen); /* connection problems end the wait at once */
        if (rc < 0) {
            progress_done(&p);
            return NULL;
        }
        if (rc > 0)
            break;
        waited += slice;
        progress_update(&p, 0, 0);
    }
    progress_done(&p);
    char *body = NULL;
    size_t len;
    if (pbrctl_client_recv(c, &body, &len, err, errlen) != 0)
        return NULL;
    return body;
}

char *tools_api_call_raw(const pbrctl_opts *o, const char *cmd, json_t *req, int *status)
{
    char err[PBR_ERR_MAX], *text = req ? json_dumps(req, JSON_COMPACT) : NULL, *body = NULL;
    json_decref(req);
    *status = 2;
    if (text == NULL) {
        fprintf(stderr, "pbrctl %s: out of memory\n", cmd);
        return NULL;
    }
    pbrctl_client c;
    if (pbrctl_client_open(&c, o, o->api, err, sizeof err) != 0) {
        fprintf(stderr, "pbrctl %s: %s\n", cmd, err);
        free(text);
        return NULL;
    }
    if (pbrctl_client_send(&c, text, strlen(text), err, sizeof err) != 0 ||
        (body = wait_reply(&c, cmd, err, sizeof err)) == NULL)
        fprintf(stderr, "pbrctl %s: %s\n", cmd, err);
    pbrctl_client_close(&c);
    free(text);
    if (body == NULL)
        return NULL;
    json_t *j = json_loads(body, 0, NULL);
    const char *e = json_string_value(json_object_get(j, "error"));
    if (j == NULL || e != NULL) {
        fprintf(stderr, "pbrctl %s: %s\n", cmd, e ? e : "the reply is not JSON");
        json_decref(j);
        free(body);
        *status = e ? 1 : 2;
        return NULL;
    }
    json_decref(j);
    *status = 0;
    return body;
}

json_t *tools_api_call(const pbrctl_opts *o, const char *cmd, json_t *req, int *status)
{
    char *body = tools_api_call_raw(o, cmd, req, status);
    json_t *reply = body ? json_loads(body, 0, NULL) : NULL;
    free(body);
    if (body != NULL && reply == NULL) {
        fprintf(stderr, "pbrctl %s: out of memory\n", cmd);
        *status = 2;
    }
    return reply;
}

int tools_format_index(const char *cmd, const char *value, const char *const *names)
{
    for (int i = 0; names[i]; i++) {
        if (!strcmp(value, names[i]))
            return i;
    }
    fprintf(stderr, "pbrctl %s: unknown --format \"%s\" (", cmd, value);
    for (int i = 0; names[i]; i++)
        fprintf(stderr, "%s%s", i ? ", " : "", names[i]);
    fprintf(stderr, ")\n");
    return -1;
}
