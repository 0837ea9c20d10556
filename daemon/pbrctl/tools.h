/* tools.h -- helpers shared by the commands for the people who use the
 * figures (cmd_statements.c, cmd_explain.c, cmd_diff.c, cmd_report.c) and
 * the API calls of cmd_query.c:
 *   api_call.c   one API request with a progress line on a terminal
 */
#ifndef PBRCTL_TOOLS_H
#define PBRCTL_TOOLS_H

#include <jansson.h>

#include "pbrctl/format.h"
#include "pbrctl/pbrctl.h"

/* Sends req (stolen) on the API and returns the reply (caller decrefs), or
 * NULL after printing "pbrctl CMD: why" (*status: 2 transport, 1 an
 * {"error":…} reply). While waiting more than a second on a terminal it
 * shows a progress line "CMD: waiting for pbrd Ns". */
json_t *tools_api_call(const pbrctl_opts *o, const char *cmd, json_t *req, int *status);

/* The same, returning the raw reply bytes (malloc'd) for replies kept byte
 * for byte (statements). */
char *tools_api_call_raw(const pbrctl_opts *o, const char *cmd, json_t *req, int *status);

/* Parses "--format NAME" style options: returns the index of the format in
 * names (NULL-terminated) or -1 after printing an error. */
int tools_format_index(const char *cmd, const char *value, const char *const *names);

#endif
