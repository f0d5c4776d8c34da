/* json.c - see json.h. */
#include "json.h"

void json_str(FILE *out, const char *s)
{
	if (!s) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", out);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

void json_pretty(FILE *out, const char *text, size_t len)
{
	int depth = 0;
	bool in_str = false, esc = false;

	for (size_t i = 0; i < len; i++) {
		char ch = text[i];

		if (in_str) {
			fputc(ch, out);
			if (esc)
				esc = false;
			else if (ch == '\\')
				esc = true;
			else if (ch == '"')
				in_str = false;
			continue;
		}
		switch (ch) {
		case '"':
			in_str = true;
			fputc(ch, out);
			break;
		case '{':
		case '[':
			/* an empty object or array stays on its line */
			if (i + 1 < len && (text[i + 1] == '}' || text[i + 1] == ']')) {
				fputc(ch, out);
				fputc(text[++i], out);
				break;
			}
			depth++;
			fprintf(out, "%c\n%*s", ch, 2 * depth, "");
			break;
		case '}':
		case ']':
			depth = depth > 0 ? depth - 1 : 0;
			fprintf(out, "\n%*s%c", 2 * depth, "", ch);
			break;
		case ',':
			fprintf(out, ",\n%*s", 2 * depth, "");
			break;
		case ':':
			fputs(": ", out);
			break;
		default:
			fputc(ch, out);
		}
	}
}
