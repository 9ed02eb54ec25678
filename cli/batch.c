/*
 * Batch front end: lines from a file, stdin that is not a terminal, or -c.
 * Each line is echoed after the prompt as a console would show it, then its output.
 * '#' lines and blank lines are skipped; a line ending in '?' prints the help for
 * that position and runs nothing; a failing line does not stop the run unless
 * stop_on_error. The caller prints the summary (cli_batch_summary).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"

static void
record_failure(struct cli_batch *b, size_t lineno)
{
	b->failed++;
	b->failed_lines = xrealloc(b->failed_lines, b->failed * sizeof(size_t));
	b->failed_lines[b->failed - 1] = lineno;
}

int
cli_batch_line(struct cli *c, struct cli_batch *b, const char *line)
{
	const char *p = line;
	size_t len = strlen(line);

	b->lineno++;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	b->total++;
	if (len > CLI_MAX_LINE) {
		cli_out(c, "%s%.64s...\n", cli_prompt(c), line);
		cli_error(c, "The command is too long (more than %d characters).",
		    CLI_MAX_LINE);
		record_failure(b, b->lineno);
		return -1;
	}
	{
		struct sbuf echo = SBUF_INIT;

		cli_echo_text(c, line, &echo);
		cli_out(c, "%s%s\n", cli_prompt(c), sbuf_str(&echo));
		sbuf_free(&echo);
	}
	if (cli_exec(c, line) != 0) {
		record_failure(b, b->lineno);
		return -1;
	}
	return 0;
}

int
cli_batch_file(struct cli *c, struct cli_batch *b, FILE *in)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	while (!cli_done(c) && (n = getline(&line, &cap, in)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (cli_batch_line(c, b, line) != 0 && b->stop_on_error)
			break;
	}
	free(line);
	fflush(stdout);
	return b->failed ? -1 : 0;
}

int
cli_batch_summary(struct cli_batch *b, FILE *err)
{
	if (b->failed == 0)
		return 0;
	fprintf(err, "pkish: %zu of %zu lines failed (lines ", b->failed, b->total);
	for (size_t i = 0; i < b->failed; i++)
		fprintf(err, "%s%zu", i ? ", " : "", b->failed_lines[i]);
	fprintf(err, ")\n");
	return 1;
}

void
cli_batch_free(struct cli_batch *b)
{
	free(b->failed_lines);
	memset(b, 0, sizeof(*b));
}
