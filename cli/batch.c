/*
 * Batch front end: lines from a file, stdin that is not a terminal, or -c.
 * Each line is echoed after the prompt as a console would show it, then its output.
 * '#' lines and blank lines are skipped; a line ending in '?' prints the help for
 * that position and runs nothing; a failing line does not stop the run unless
 * stop_on_error. The caller prints the summary (cli_batch_summary).
 *
 * A saved configuration is a replayable script: `display current-configuration`
 * (and so vrpcfg.cfg) is the system view's content, VRP-like, without a
 * system-view line. In the user view, a line that is a command of the system view
 * only enters the system view first (silently: the prompt in the echo shows it),
 * so `pkish -f vrpcfg.cfg` and `ssh dev pkish < vrpcfg.cfg` rebuild the
 * configuration; its closing `return` goes back to the user view. A line that is
 * a command of neither view is the user view's error, as at a terminal.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
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
	if (cli_system_line(c, line))
		cli_view_set(c, "system");
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
	/* Read with read(2) through the event loop, so timers (automatic update) and
	 * background completions run while a slow script or an operator's pipe waits. */
	int fd = fileno(in);
	struct sbuf buf = SBUF_INIT;
	size_t start = 0;
	int eof = 0;

	while (!cli_done(c)) {
		char *nl = buf.len > start ? memchr(buf.s + start, '\n', buf.len - start) :
		    NULL;
		char chunk[4096];
		ssize_t n;

		if (nl != NULL || (eof && buf.len > start)) {
			size_t end = nl ? (size_t)(nl - buf.s) : buf.len;
			char *line = xstrndup(buf.s + start, end - start);
			size_t ll = strlen(line);
			int rc;

			while (ll > 0 && line[ll - 1] == '\r')
				line[--ll] = '\0';
			start = nl ? end + 1 : buf.len;
			rc = cli_batch_line(c, b, line);
			free(line);
			if (rc != 0 && b->stop_on_error)
				break;
			continue;
		}
		if (eof)
			break;
		if (start > 0) {
			memmove(buf.s, buf.s + start, buf.len - start);
			buf.len -= start;
			start = 0;
		}
		if (cli_wait_input(c, fd) < 0)
			break;
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			eof = 1;
		else
			sbuf_add(&buf, chunk, (size_t)n);
	}
	sbuf_free(&buf);
	fflush(c->out);
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
