/*
 * Terminal front end on libedit: prompt that follows the view, '?' help that
 * redraws the typed line, Tab completion (repeated Tab cycles through the
 * candidates), history, Ctrl+Z as `return`. Only used when stdin is a terminal.
 * Context reaches the callbacks through EL_CLIENTDATA, not globals.
 *
 * Secrets typed inline (a MAC secret, a key file password): the history keeps
 * the masked form, the line is redrawn masked once entered, and every copy of
 * the typed line (ours and libedit's) is wiped after use. Ctrl+D, like `quit`
 * in the user view, asks about unsaved configuration changes (cli_leave).
 */
#include <errno.h>
#include <histedit.h>
#include <wchar.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "../storage/storage.h"
#include "cli_int.h"

struct edit {
	struct cli *c;
	EditLine *el;
	History *hist;
	char **cands;		/* Tab cycle state */
	size_t ncands, idx;
	char *after;		/* the line as the last Tab left it */
	int ctrl_z;		/* Ctrl+Z was pressed: run `return` */
};

static struct edit *
ctx(EditLine *el)
{
	void *p = NULL;

	el_get(el, EL_CLIENTDATA, &p);
	return p;
}

static char *
prompt_fn(EditLine *el)
{
	return (char *)cli_prompt(ctx(el)->c);
}

static char *
line_upto_cursor(EditLine *el)
{
	const LineInfo *li = el_line(el);

	return xstrndup(li->buffer, (size_t)(li->cursor - li->buffer));
}

static int
inside_quotes(const char *s)
{
	int q = 0;

	for (; *s; s++) {
		if (q && *s == '\\' && s[1]) {
			s++;
			continue;
		}
		if (*s == '"')
			q = !q;
	}
	return q;
}

/* libedit's read function: waits through the event loop, so timers and background
 * completions run while the operator types. */
static int
getc_fn(EditLine *el, wchar_t *wc)
{
	struct edit *ed = ctx(el);
	mbstate_t mbs;
	char buf[8];
	size_t n = 0;

	memset(&mbs, 0, sizeof(mbs));
	for (;;) {
		ssize_t r;
		size_t k;

		if (cli_wait_input(ed->c, STDIN_FILENO) < 0)
			return -1;
		r = read(STDIN_FILENO, buf + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		n++;
		memset(&mbs, 0, sizeof(mbs));
		k = mbrtowc(wc, buf, n, &mbs);
		if (k == (size_t)-2 && n < sizeof(buf))
			continue;
		if (k == (size_t)-1 || k == (size_t)-2)
			*wc = (wchar_t)(unsigned char)buf[0];
		return 1;
	}
}

static void
redraw(void *arg)
{
	struct edit *ed = arg;

	el_set(ed->el, EL_REFRESH);
}

static unsigned char
help_fn(EditLine *el, int ch)
{
	struct edit *ed = ctx(el);
	char *cur = line_upto_cursor(el);
	struct sbuf line = SBUF_INIT;

	(void)ch;
	if (inside_quotes(cur)) {
		free(cur);
		el_insertstr(el, "?");
		return CC_REFRESH;
	}
	sbuf_printf(&line, "%s?", cur);
	fputs("?\n", stdout);
	cli_help(ed->c, sbuf_str(&line));
	fflush(stdout);
	sbuf_free(&line);
	free(cur);
	return CC_REDISPLAY;
}

static void
reset_cycle(struct edit *ed)
{
	cli_strv_free(ed->cands);
	ed->cands = NULL;
	ed->ncands = ed->idx = 0;
	free(ed->after);
	ed->after = NULL;
}

static unsigned char
tab_fn(EditLine *el, int ch)
{
	struct edit *ed = ctx(el);
	char *cur = line_upto_cursor(el);
	size_t ws;

	(void)ch;
	if (ed->cands != NULL && ed->after != NULL && strcmp(cur, ed->after) == 0) {
		/* cycle: replace the word the previous Tab inserted */
		el_deletestr(el, (int)strlen(ed->cands[ed->idx]) + 1);
		ed->idx = (ed->idx + 1) % ed->ncands;
	} else {
		reset_cycle(ed);
		ed->cands = cli_complete(ed->c, cur, &ws);
		if (ed->cands == NULL || ed->cands[0] == NULL) {
			reset_cycle(ed);
			free(cur);
			return CC_ERROR;
		}
		for (ed->ncands = 0; ed->cands[ed->ncands]; ed->ncands++)
			;
		el_deletestr(el, (int)(strlen(cur) - ws));
	}
	el_insertstr(el, ed->cands[ed->idx]);
	el_insertstr(el, " ");
	free(cur);
	free(ed->after);
	ed->after = line_upto_cursor(el);
	if (ed->ncands == 1)
		reset_cycle(ed);
	return CC_REFRESH;
}

static unsigned char
ctrl_z_fn(EditLine *el, int ch)
{
	(void)ch;
	ctx(el)->ctrl_z = 1;
	return CC_NEWLINE;
}

static unsigned char
ctrl_c_fn(EditLine *el, int ch)
{
	const LineInfo *li = el_line(el);

	(void)ch;
	el_cursor(el, (int)(li->lastchar - li->cursor));
	li = el_line(el);
	el_deletestr(el, (int)(li->cursor - li->buffer));
	fputs("^C\n", stdout);
	return CC_REDISPLAY;
}

/* One line from the terminal's descriptor, read a byte at a time: no stdio buffer
 * keeps a copy of it (the line may be a secret), and a grown buffer's old copy is
 * wiped before it is freed. NULL at end of input or on a read error. */
static char *
read_fd_line(int fd)
{
	size_t cap = 128, n = 0;
	char *line = xmalloc(cap);

	for (;;) {
		char ch;
		ssize_t r = read(fd, &ch, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (n > 0)
				break;		/* a last line without its newline */
			storage_wipe_free(line);
			return NULL;
		}
		if (ch == '\n')
			break;
		if (n + 1 == cap) {
			char *bigger = xmalloc(cap * 2);

			memcpy(bigger, line, n);
			explicit_bzero(line, cap);
			free(line);
			line = bigger;
			cap *= 2;
		}
		line[n++] = ch;
	}
	while (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	return line;
}

/* Questions and secrets: plain line reads on the terminal, echo off for secrets. */
static char *
read_answer(void *arg, const char *prompt, int echo)
{
	struct termios old, raw;
	char *line;
	int restore = 0;

	(void)arg;
	fputs(prompt, stdout);
	fflush(stdout);
	if (!echo && tcgetattr(STDIN_FILENO, &old) == 0) {
		raw = old;
		raw.c_lflag &= ~(tcflag_t)ECHO;
		restore = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
	}
	line = read_fd_line(STDIN_FILENO);
	if (restore) {
		tcsetattr(STDIN_FILENO, TCSANOW, &old);
		fputc('\n', stdout);
	}
	return line;
}

/* libedit's copies of the line just read (the returned buffer and its own line
 * buffer): wiped, since the line may hold a secret. */
static void
wipe_editor_line(struct edit *ed, const char *l)
{
	const LineInfoW *li = el_wline(ed->el);

	explicit_bzero((char *)l, strlen(l));
	if (li != NULL && li->lastchar > li->buffer)
		explicit_bzero((wchar_t *)li->buffer,
		    (size_t)(li->lastchar - li->buffer) * sizeof(wchar_t));
}

/* The history keeps the line as the console echoes it: a secret typed inline
 * is kept as ******, never in clear (Up-arrow shows the masked form). When the
 * line held one, the line just typed is redrawn masked on the screen too. */
static void
remember(struct edit *ed, const char *line)
{
	struct sbuf masked = SBUF_INIT;
	HistEvent ev;

	cli_echo_text(ed->c, line, &masked);
	history(ed->hist, &ev, H_ENTER, sbuf_str(&masked));
	if (strcmp(sbuf_str(&masked), line) != 0) {
		const char *prompt = cli_prompt(ed->c);
		struct winsize ws;
		size_t cols = 80, width = strlen(prompt) + strlen(line), rows;

		if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
			cols = ws.ws_col;
		rows = width / cols + 1;
		/* up to the line's first row, clear to the end, print it masked */
		printf("\033[%zuA\r\033[J%s%s\n", rows, prompt, sbuf_str(&masked));
		fflush(stdout);
	}
	explicit_bzero(masked.s, masked.len);
	sbuf_free(&masked);
}

int
cli_edit_run(struct cli *c)
{
	struct edit ed = { 0 };
	HistEvent ev;
	struct cli_io io = { read_answer, NULL };

	ed.c = c;
	cli_set_io(c, &io);
	ed.el = el_init("pkish", stdin, stdout, stderr);
	if (ed.el == NULL)
		return -1;
	ed.hist = history_init();
	history(ed.hist, &ev, H_SETSIZE, 200);
	el_set(ed.el, EL_CLIENTDATA, &ed);
	el_set(ed.el, EL_EDITOR, "emacs");
	el_set(ed.el, EL_PROMPT, prompt_fn);
	el_set(ed.el, EL_HIST, history, ed.hist);
	el_set(ed.el, EL_SETTY, "-d", "-isig", NULL);
	el_set(ed.el, EL_GETCFN, getc_fn);
	c->redraw = redraw;
	c->redraw_arg = &ed;
	el_set(ed.el, EL_ADDFN, "pkish-help", "Show the help", help_fn);
	el_set(ed.el, EL_ADDFN, "pkish-complete", "Complete the word", tab_fn);
	el_set(ed.el, EL_ADDFN, "pkish-return", "Return to user view", ctrl_z_fn);
	el_set(ed.el, EL_ADDFN, "pkish-cancel", "Cancel the line", ctrl_c_fn);
	el_set(ed.el, EL_BIND, "?", "pkish-help", NULL);
	el_set(ed.el, EL_BIND, "^I", "pkish-complete", NULL);
	el_set(ed.el, EL_BIND, "^Z", "pkish-return", NULL);
	el_set(ed.el, EL_BIND, "^C", "pkish-cancel", NULL);
	while (!cli_done(c)) {
		int count = 0;
		const char *l = el_gets(ed.el, &count);
		char *line;
		size_t n;

		reset_cycle(&ed);
		if (ed.ctrl_z) {
			/* Ctrl+Z: whatever was typed is dropped, like VRP */
			ed.ctrl_z = 0;
			fputc('\n', stdout);
			cli_exec(c, "return");
			continue;
		}
		if (l == NULL || count <= 0) {
			/* Ctrl+D (or the end of the terminal's input) */
			fputc('\n', stdout);
			cli_leave(c);
			break;
		}
		line = xstrdup(l);
		wipe_editor_line(&ed, l);
		n = strlen(line);
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n > 0)
			remember(&ed, line);
		cli_exec(c, line);
		explicit_bzero(line, n);
		free(line);
	}
	reset_cycle(&ed);
	c->redraw = NULL;
	c->redraw_arg = NULL;
	history_end(ed.hist);
	el_end(ed.el);
	return 0;
}
