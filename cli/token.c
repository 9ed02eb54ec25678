/*
 * Tokenizer: splits a console line into tokens with their columns.
 * Double quotes group (and may hold spaces and '?'); a backslash inside quotes
 * escapes '"' and '\'. An unquoted '?' ending the line asks for help and is not a
 * token. Any byte sequence is accepted: the tokenizer never fails; the matcher
 * reports what makes no sense.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int
is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

void
cli_tokenize(const char *line, struct cli_tokens *t)
{
	size_t i = 0, n = strlen(line), cap = 0, used = 0;

	memset(t, 0, sizeof(*t));
	if (n > CLI_MAX_LINE)
		n = CLI_MAX_LINE;
	/* A trailing unquoted '?' is help: find it by scanning with quote state. */
	{
		int inq = 0;
		size_t last_q = (size_t)-1;

		for (size_t k = 0; k < n; k++) {
			if (inq && line[k] == '\\' && k + 1 < n) {
				k++;
				continue;
			}
			if (line[k] == '"')
				inq = !inq;
			else if (!inq && line[k] == '?')
				last_q = k;
		}
		if (last_q != (size_t)-1) {
			size_t k = last_q + 1;

			while (k < n && is_space(line[k]))
				k++;
			if (k == n) {
				t->help = 1;
				n = last_q;
			}
		}
	}
	/* The texts of all tokens in one buffer: unquoting never lengthens a
	 * token, and each gets one NUL, so a line of N bytes needs 2N + 1. */
	t->buf = xmalloc(2 * n + 1);
	while (i < n) {
		char *b = t->buf + used, *p = b;
		size_t col;
		int quoted = 0;

		while (i < n && is_space(line[i]))
			i++;
		if (i >= n)
			break;
		col = i;
		while (i < n && !is_space(line[i])) {
			if (line[i] == '"') {
				quoted = 1;
				i++;
				while (i < n && line[i] != '"') {
					if (line[i] == '\\' && i + 1 < n &&
					    (line[i + 1] == '"' || line[i + 1] == '\\'))
						i++;
					*p++ = line[i];
					i++;
				}
				if (i >= n) {
					t->unterminated = 1;
					break;
				}
				i++;	/* closing quote */
				continue;
			}
			*p++ = line[i];
			i++;
		}
		if (t->n == CLI_MAX_TOKENS) {
			t->too_many = 1;
			explicit_bzero(b, (size_t)(p - b));	/* dropped: wiped now */
			break;
		}
		*p++ = '\0';
		used += (size_t)(p - b);
		if (t->n == cap) {
			cap = cap ? cap * 2 : 8;
			t->v = xrealloc(t->v, cap * sizeof(*t->v));
		}
		t->v[t->n].text = b;
		t->v[t->n].col = col;
		t->v[t->n].end = i;
		t->v[t->n].quoted = quoted;
		t->n++;
	}
	t->trailing_space = n > 0 && is_space(line[n - 1]);
	if (t->help && (n == 0 || is_space(line[n - 1])))
		t->trailing_space = 1;
	if (t->help && n == 0)
		t->trailing_space = 1;
}

void
cli_tokens_free(struct cli_tokens *t)
{
	/* a token may be a secret typed inline: wiped before it is freed */
	for (size_t i = 0; i < t->n; i++)
		explicit_bzero(t->v[i].text, strlen(t->v[i].text));
	free(t->buf);
	free(t->v);
	memset(t, 0, sizeof(*t));
}
