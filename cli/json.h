/* json.h - the CLI's JSON output helpers (the verbs print JSON with fprintf and these). */
#ifndef PGP_CLI_JSON_H
#define PGP_CLI_JSON_H

#include <stdio.h>

/* Prints S as a JSON string (null for NULL), escaping quotes, backslashes and control bytes. */
void json_str(FILE *out, const char *s);

#endif
