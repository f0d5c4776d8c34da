/* json.h - the CLI's JSON output helpers (the verbs print JSON with fprintf and these). */
#ifndef PGP_CLI_JSON_H
#define PGP_CLI_JSON_H

#include <stdbool.h>
#include <stdio.h>

/* Prints S as a JSON string (null for NULL), escaping quotes, backslashes and control bytes. */
void json_str(FILE *out, const char *s);
/* Prints the compact JSON TEXT (LEN bytes, as the verbs print it: no blanks outside strings)
 * indented by two spaces a level, for `--json=pretty`. */
void json_pretty(FILE *out, const char *text, size_t len);

#endif
