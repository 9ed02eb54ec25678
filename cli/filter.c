/*
 * Output filters of the display commands (VRP, Comware and IOS have them, and
 * scripts depend on them):
 *
 *   display ... | include REGEX    the lines that match
 *   display ... | exclude REGEX    the lines that do not match
 *   display ... | begin REGEX      from the first line that matches to the end
 *   display ... | count            "Total lines: N"
 *
 * REGEX is a POSIX extended regular expression: the rest of the line after the
 * keyword (a single double-quoted word loses its quotes), so `| include Key Name`
 * looks for "Key Name". The filter starts at the first unquoted "|" word; it
 * applies to commands whose first keyword is `display` (any other line is matched
 * whole, as before). The session parses the filter (filter_parse), runs the
 * command with its output captured and writes what the filter lets through
 * (filter_apply); '?' and Tab after the "|" are answered here too, in the
 * matcher's formats.
 */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"

static const struct {
	const char *kw;
	const char *help;
	enum filter_kind kind;
} filters[] = {
	{ "begin", "Begin with the line that matches the regular expression",
	    FILTER_BEGIN },
	{ "count", "Count the lines of the output", FILTER_COUNT },
	{ "exclude", "Exclude the lines that match the regular expression",
	    FILTER_EXCLUDE },
	{ "include", "Include the lines that match the regular expression",
	    FILTER_INCLUDE },
};
#define NFILTERS (sizeof(filters) / sizeof(filters[0]))
#define REGEX_MAX 255
#define REGEX_COST_MAX 10000	/* copies regcomp may make of the expression */

static size_t
sat_mul(size_t a, size_t b)
{
	return a != 0 && b > (size_t)-1 / 4 / a ? (size_t)-1 / 4 : a * b;
}

/* "{m}", "{m,}", "{m,n}" at P: the copies glibc's regcomp makes of what it
 * repeats (m, m + 1 for the open form, n), and the interval's length in *LEN;
 * 0 when P is not an interval (then "{" is an ordinary character). */
static size_t
interval_copies(const char *p, size_t *len)
{
	const char *q = p + 1;
	size_t m = 0, n = 0;
	int open = 0;

	if (*q < '0' || *q > '9')
		return 0;
	while (*q >= '0' && *q <= '9' && m < 100000)
		m = m * 10 + (size_t)(*q++ - '0');
	if (*q == ',') {
		q++;
		open = *q < '0' || *q > '9';
		while (*q >= '0' && *q <= '9' && n < 100000)
			n = n * 10 + (size_t)(*q++ - '0');
	} else {
		n = m;
	}
	if (*q != '}')
		return 0;
	*len = (size_t)(q + 1 - p);
	n = open ? m + 1 : n > m ? n : m;
	return n > 0 ? n : 1;
}

/*
 * An upper bound of the tree glibc's regcomp builds for the ERE RE: it unrolls
 * repetitions by copying what they repeat ("x+" becomes "xx*", "x{2,5}" five
 * copies), so stacked or nested repetitions multiply: "a" followed by a hundred
 * "+" asks for 2^100 copies and took gigabytes before regcomp gave up (found by
 * make fuzz-long). Each atom counts 1, a group the sum of its contents, a
 * repetition multiplies what it applies to. Saturates instead of overflowing.
 * *BACKREF is set when RE holds a back-reference (\1 to \9, outside a bracket
 * expression): glibc's extension to EREs, matched by backtracking, where
 * "(a*)*(a*)*(a*)*\1\2\3b" took 19 s on one 64-character line.
 */
static size_t
regex_cost(const char *re, int *backref)
{
	size_t total[64], last[64];
	int depth = 0;

	total[0] = last[0] = 0;
	for (const char *p = re; *p != '\0'; p++) {
		size_t atom = 1, mult = 0, ilen = 0;

		switch (*p) {
		case '\\':
			if (p[1] >= '1' && p[1] <= '9')
				*backref = 1;
			if (p[1] != '\0')
				p++;
			break;
		case '[':	/* a bracket expression is one atom */
			p++;
			if (*p == '^')
				p++;
			if (*p == ']')
				p++;
			while (*p != '\0' && *p != ']') {
				if (*p == '[' && (p[1] == ':' || p[1] == '.' ||
				    p[1] == '=')) {
					const char *e = strchr(p + 2, p[1]);

					if (e == NULL || e[1] != ']')
						break;
					p = e + 1;
				}
				p++;
			}
			if (*p == '\0')
				p--;
			break;
		case '(':
			if (depth == 63)
				return (size_t)-1;
			depth++;
			total[depth] = last[depth] = 0;
			continue;
		case ')':
			if (depth == 0)
				break;
			atom = total[depth] + 1;
			depth--;
			break;
		case '|':
			last[depth] = 0;
			continue;
		case '+':
			mult = 2;
			break;
		case '*':
		case '?':
			mult = 1;
			break;
		case '{':
			mult = interval_copies(p, &ilen);
			if (mult != 0)
				p += ilen - 1;
			break;
		default:
			break;
		}
		if (mult != 0) {	/* a repetition of the last atom */
			size_t grown = sat_mul(last[depth], mult);

			total[depth] = total[depth] - last[depth] + grown;
			last[depth] = grown;
		} else {
			total[depth] += atom;
			last[depth] = atom;
		}
		if (total[depth] > REGEX_COST_MAX)
			return total[depth];
	}
	while (depth > 0) {	/* unbalanced: regcomp says so */
		total[depth - 1] += total[depth];
		depth--;
	}
	return total[0];
}

size_t
filter_pipe(const struct cli_tokens *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (!t->v[i].quoted && strcmp(t->v[i].text, "|") == 0)
			return i;
	return t->n;
}

int
gcmd_is_display(const struct grammar *g, const struct gcmd *cmd)
{
	const struct gnode *n = &g->nodes[cmd->start];

	return !cmd->undo && n->kind == GN_KW && strcmp(n->kw, "display") == 0;
}

/* The filter keyword WORD stands for (unique prefix), or -1 with *st. */
static int
filter_word(const char *word, enum cli_status *st)
{
	size_t wl = strlen(word);
	int found = -1, n = 0;

	for (size_t i = 0; i < NFILTERS; i++) {
		if (strcmp(filters[i].kw, word) == 0)
			return (int)i;
		if (wl > 0 && strncmp(filters[i].kw, word, wl) == 0) {
			found = (int)i;
			n++;
		}
	}
	if (n == 1)
		return found;
	*st = n > 1 ? CLI_AMBIGUOUS : CLI_UNRECOGNIZED;
	return -1;
}

enum cli_status
filter_parse(const struct cli_tokens *t, size_t pipe, const char *line,
    struct cli_filter *f, size_t *bad_col, struct sbuf *err)
{
	enum cli_status st = CLI_OK;
	size_t k = pipe + 1;
	char *re;
	int which, rc, backref = 0;

	memset(f, 0, sizeof(*f));
	if (k >= t->n) {
		*bad_col = t->v[pipe].end;
		return CLI_INCOMPLETE;
	}
	if ((which = filter_word(t->v[k].text, &st)) < 0) {
		*bad_col = t->v[k].col;
		return st;
	}
	f->kind = filters[which].kind;
	if (f->kind == FILTER_COUNT) {
		if (k + 1 < t->n) {
			*bad_col = t->v[k + 1].col;
			return CLI_TOO_MANY;
		}
		return CLI_OK;
	}
	if (k + 1 >= t->n) {
		*bad_col = t->v[k].end;
		return CLI_INCOMPLETE;
	}
	/* the rest of the line is the expression */
	if (k + 2 == t->n)
		re = xstrdup(t->v[k + 1].text);
	else
		re = xstrndup(line + t->v[k + 1].col, t->v[t->n - 1].end -
		    t->v[k + 1].col);
	if (strlen(re) > REGEX_MAX) {
		*bad_col = t->v[k + 1].col;
		free(re);
		return CLI_WRONG_PARAM;
	}
	if (regex_cost(re, &backref) > REGEX_COST_MAX) {
		sbuf_printf(err, "The regular expression \"%s\" is too complex: its "
		    "repetitions multiply beyond %d copies.", re, REGEX_COST_MAX);
		free(re);
		f->kind = FILTER_NONE;
		return CLI_OK;
	}
	if (backref) {
		sbuf_printf(err, "The regular expression \"%s\" is not valid: "
		    "back-references (\\1 to \\9) are not part of extended regular "
		    "expressions.", re);
		free(re);
		f->kind = FILTER_NONE;
		return CLI_OK;
	}
	if ((rc = regcomp(&f->re, re, REG_EXTENDED | REG_NOSUB)) != 0) {
		char why[200];

		regerror(rc, &f->re, why, sizeof(why));
		sbuf_printf(err, "The regular expression \"%s\" is not valid: %s.", re,
		    why);
		free(re);
		f->kind = FILTER_NONE;
		return CLI_OK;
	}
	f->compiled = 1;
	free(re);
	return CLI_OK;
}

void
filter_free(struct cli_filter *f)
{
	if (f->compiled)
		regfree(&f->re);
	memset(f, 0, sizeof(*f));
}

void
filter_apply(const struct cli_filter *f, const char *text, struct sbuf *out)
{
	size_t lines = 0;
	int on = f->kind != FILTER_BEGIN;

	for (const char *l = text; *l != '\0';) {
		const char *nl = strchr(l, '\n');
		size_t len = nl != NULL ? (size_t)(nl - l) : strlen(l);
		char *line = xstrndup(l, len);
		int match = f->compiled && regexec(&f->re, line, 0, NULL, 0) == 0;

		lines++;
		if (f->kind == FILTER_BEGIN && match)
			on = 1;
		if ((f->kind == FILTER_INCLUDE && match) ||
		    (f->kind == FILTER_EXCLUDE && !match) ||
		    (f->kind == FILTER_BEGIN && on)) {
			sbuf_add(out, line, len);
			sbuf_putc(out, '\n');
		}
		free(line);
		l += len + (nl != NULL);
	}
	if (f->kind == FILTER_COUNT)
		sbuf_printf(out, "Total lines: %zu\n", lines);
}

static void
caret(size_t col, enum cli_status st, struct sbuf *out)
{
	sbuf_printf(out, "%*s^\n%s\n", (int)col, "", cli_status_msg(st));
}

void
filter_help(const struct cli_tokens *t, size_t pipe, size_t prompt_len,
    struct sbuf *out)
{
	/* the words typed after "|": those before the place asked about */
	size_t k = pipe + 1, upto = t->trailing_space ? t->n : t->n - 1;
	const char *partial = t->trailing_space ? NULL : t->v[t->n - 1].text;
	enum cli_status st = CLI_OK;
	int which;

	if (upto < k) {
		/* "|?": the filters are the next word */
		partial = NULL;
		upto = k;
	}
	if (upto == k) {
		size_t pl = partial != NULL ? strlen(partial) : 0, nk = 0;

		for (size_t i = 0; i < NFILTERS; i++) {
			if (partial != NULL) {
				if (strncmp(filters[i].kw, partial, pl) == 0) {
					sbuf_printf(out, "  %s", filters[i].kw);
					nk++;
				}
				continue;
			}
			sbuf_printf(out, "  %-8s %s\n", filters[i].kw, filters[i].help);
		}
		if (partial != NULL) {
			if (nk == 0)
				caret(prompt_len + t->v[t->n - 1].col, CLI_UNRECOGNIZED,
				    out);
			else
				sbuf_putc(out, '\n');
		}
		return;
	}
	if ((which = filter_word(t->v[k].text, &st)) < 0) {
		caret(prompt_len + t->v[k].col, st, out);
		return;
	}
	if (filters[which].kind == FILTER_COUNT) {
		if (upto > k + 1 || partial != NULL)
			caret(prompt_len + t->v[k + 1].col, CLI_TOO_MANY, out);
		else
			sbuf_puts(out, "  <cr>\n");
		return;
	}
	if (upto == k + 1)
		sbuf_printf(out, "  STRING<1-%d>  Regular expression (POSIX extended), "
		    "the rest of the line\n", REGEX_MAX);
	else
		sbuf_puts(out, "  STRING<1-255>  Regular expression (continued)\n"
		    "  <cr>\n");
}

char **
filter_complete(const struct cli_tokens *t, size_t pipe, size_t *word_start)
{
	const char *partial;
	size_t pl, n = 0;
	char **v = NULL;

	/* only the filter keyword itself completes */
	if (t->n != pipe + 2 || t->trailing_space || t->unterminated)
		return NULL;
	partial = t->v[pipe + 1].text;
	pl = strlen(partial);
	*word_start = t->v[pipe + 1].col;
	for (size_t i = 0; i < NFILTERS; i++) {
		if (strncmp(filters[i].kw, partial, pl) != 0)
			continue;
		v = xrealloc(v, (n + 2) * sizeof(*v));
		v[n++] = xstrdup(filters[i].kw);
		v[n] = NULL;
	}
	return v;
}
