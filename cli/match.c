/*
 * The matcher: one walk of the grammar NFA serves execution, '?' and Tab.
 *
 * A set of threads (NFA node + the nodes matched so far) advances token by token.
 * At each token: an exact keyword match wins over prefix matches; several distinct
 * keywords matching by prefix is ambiguous; a keyword wins over a parameter value;
 * parameters are type checked (length, range, IPv4/IPv6, URL, secret). Errors
 * name the first bad token's column: Unrecognized (no keyword fits), Wrong
 * parameter (a value was expected but does not fit), Ambiguous, Too many
 * parameters (every command already ended), Incomplete (the line stops before any
 * command ends). A value that names an object (object="KIND") which does not
 * exist is not a syntax error: the walk goes on, and a line whose syntax is right
 * ends in CLI_MISSING with that value and kind, which the session words as
 * "The key pair k9 does not exist.".
 *
 * The matcher works on a grammar and an object lister (struct match_env), not on
 * a session: it can run without a flash or a PKI store (test/check_cli.c does).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "../storage/storage.h"
#include "cli_int.h"

struct thread {
	int node;
	int *path;	/* node matched by each token */
	size_t n;
};

struct tset {
	struct thread *v;
	size_t n, cap;
};

static void
tset_free(struct tset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].path);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int
tset_has(const struct tset *s, int node)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].node == node)
			return 1;
	return 0;
}

/* Adds NODE (following split edges) with PATH (copied). */
static void
tset_add(const struct grammar *g, struct tset *s, int node, const int *path, size_t n,
    int depth)
{
	const struct gnode *gn = &g->nodes[node];

	if (depth > 64)
		return;
	if (gn->kind == GN_SPLIT) {
		for (size_t i = 0; i < gn->nout; i++)
			tset_add(g, s, gn->out[i], path, n, depth + 1);
		return;
	}
	if (tset_has(s, node))
		return;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 32;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n].node = node;
	s->v[s->n].n = n;
	s->v[s->n].path = xmalloc((n + 1) * sizeof(int));
	if (n)
		memcpy(s->v[s->n].path, path, n * sizeof(int));
	s->n++;
}

static void
start_set(const struct match_env *m, const struct gview *v, struct tset *s)
{
	for (size_t i = 0; i < m->g->ncmds; i++)
		if (gcmd_in_view(m->g->cmds[i], v))
			tset_add(m->g, s, m->g->cmds[i]->start, NULL, 0, 0);
}

/* ---- parameter types ---- */

static int
all_digits(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

static int
has_ctrl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

static int
len_ok(const struct gparam *p, const char *v)
{
	long long n = (long long)strlen(v);

	return n >= p->min && n <= p->max;
}

static int
object_ok(const struct match_env *m, const struct gparam *p, const char *v)
{
	char **names = m->objects(m->arg, p->object);
	int found = 0;

	for (size_t i = 0; names != NULL && names[i] != NULL && !found; i++)
		found = p->nocase ? pk_strcaseeq(names[i], v) : strcmp(names[i], v) == 0;
	cli_strv_free(names);
	return found;
}

int
param_type_ok(const struct gparam *p, const char *v)
{
	if (has_ctrl(v))
		return 0;
	switch (p->type) {
	case GT_INTEGER: {
		long long n;

		if (!all_digits(v) || strlen(v) > 18)
			return 0;
		n = strtoll(v, NULL, 10);
		return n >= p->min && n <= p->max;
	}
	case GT_IPV4: {
		unsigned char buf[4];

		return inet_pton(AF_INET, v, buf) == 1;
	}
	case GT_IPV6: {
		unsigned char buf[16];

		return strchr(v, ':') != NULL && inet_pton(AF_INET6, v, buf) == 1;
	}
	case GT_URL: {
		const char *rest;

		if (!len_ok(p, v) || strchr(v, ' ') != NULL)
			return 0;
		if (pk_strncaseeq(v, "http://", 7))
			rest = v + 7;
		else if (pk_strncaseeq(v, "https://", 8))
			rest = v + 8;
		else
			return 0;
		return *rest != '\0' && *rest != '/' && *rest != ':';
	}
	case GT_SECRET:
		if (storage_is_sealed(v))
			return strlen(v) <= 1024;
		if (!len_ok(p, v))
			return 0;
		break;
	case GT_STRING:
		if (!len_ok(p, v))
			return 0;
		break;
	}
	if (p->forbid != NULL && strpbrk(v, p->forbid) != NULL)
		return 0;
	for (const char *s = v; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (p->charset == GC_ALPHA && !isalpha(ch))
			return 0;
		if (p->charset == GC_ALNUM && !isalnum(ch))
			return 0;
	}
	if (p->charset == GC_FILENAME && !storage_name_ok(v, NULL))
		return 0;
	return 1;
}

int
param_value_ok(const struct match_env *m, const struct gparam *p, const char *v)
{
	return param_type_ok(p, v) && (p->object == NULL || object_ok(m, p, v));
}

void
param_type_text(const struct gparam *p, struct sbuf *out)
{
	switch (p->type) {
	case GT_INTEGER:
		sbuf_printf(out, "INTEGER<%lld-%lld>", p->min, p->max);
		break;
	case GT_IPV4:
		sbuf_puts(out, "X.X.X.X");
		break;
	case GT_IPV6:
		sbuf_puts(out, "X:X::X:X");
		break;
	default:
		sbuf_printf(out, "STRING<%lld-%lld>", p->min, p->max);
		break;
	}
}

/* ---- the walk ---- */

struct walk {
	enum cli_status status;
	size_t bad;		/* index of the bad token */
	struct tset s;		/* threads after the last consumed token */
	/* the first token that names an object that does not exist (taken for the
	 * syntax, reported once the whole line matches) */
	int missing;
	size_t missing_tok;
	const struct gparam *missing_param;
};

/* Advances S by token T; returns the new status (CLI_OK when some thread took it).
 * A value that fits a parameter's type but names no existing object of its kind
 * is taken when nothing else takes it, and *MISSING set to that parameter: the
 * syntax goes on being checked (a caret for syntax), and the caller names the
 * missing object (VRP: "The key pair k9 does not exist."). */
static enum cli_status
step(const struct match_env *m, struct tset *s, const struct cli_token *tok,
    const struct gparam **missing)
{
	const char *t = tok->text;
	/* CLI.md: '?' is never part of a value, unless quoted (a literal then). */
	int value_ok = tok->quoted || strchr(t, '?') == NULL;
	const struct grammar *g = m->g;
	struct tset next = { 0 };
	int exact = 0, nparam_cand = 0, nparam_ok = 0, nparam_absent = 0, any_tok = 0;
	const char *seen[64];
	size_t nseen = 0, tl = strlen(t);
	int prefix_distinct;

	/* What T could be here: an exact keyword, distinct keywords it prefixes, or a
	 * value some parameter accepts. */
	for (size_t i = 0; i < s->n; i++) {
		const struct gnode *n = &g->nodes[s->v[i].node];

		if (n->kind == GN_KW) {
			size_t k;

			any_tok = 1;
			if (pk_strcaseeq(n->kw, t)) {
				exact = 1;
				continue;
			}
			if (tl == 0 || !pk_strncaseeq(n->kw, t, tl) || strlen(n->kw) <= tl)
				continue;
			for (k = 0; k < nseen; k++)
				if (pk_strcaseeq(seen[k], n->kw))
					break;
			if (k == nseen && nseen < 64)
				seen[nseen++] = n->kw;
		} else if (n->kind == GN_PARAM) {
			any_tok = 1;
			nparam_cand++;
			if (value_ok && param_value_ok(m, n->param, t))
				nparam_ok++;
			else if (value_ok && n->param->object != NULL &&
			    param_type_ok(n->param, t))
				nparam_absent++;
		}
	}
	if (!any_tok)
		return CLI_TOO_MANY;
	prefix_distinct = (int)nseen;
	if (!exact && prefix_distinct > 1)
		return CLI_AMBIGUOUS;
	for (size_t i = 0; i < s->n; i++) {
		const struct thread *th = &s->v[i];
		const struct gnode *n = &g->nodes[th->node];
		int take = 0;

		if (exact)
			take = n->kind == GN_KW && pk_strcaseeq(n->kw, t);
		else if (prefix_distinct == 1)
			take = n->kind == GN_KW && pk_strncaseeq(n->kw, t, tl) &&
			    strlen(n->kw) > tl;
		else if (nparam_ok)
			take = n->kind == GN_PARAM && value_ok &&
			    param_value_ok(m, n->param, t);
		else if (nparam_absent) {
			take = n->kind == GN_PARAM && value_ok &&
			    n->param->object != NULL && param_type_ok(n->param, t);
			if (take && missing != NULL && *missing == NULL)
				*missing = n->param;
		}
		if (take) {
			int *path = xmalloc((th->n + 1) * sizeof(int));

			memcpy(path, th->path, th->n * sizeof(int));
			path[th->n] = th->node;
			for (size_t k = 0; k < n->nout; k++)
				tset_add(g, &next, n->out[k], path, th->n + 1, 0);
			free(path);
		}
	}
	if (next.n == 0) {
		tset_free(&next);
		return nparam_cand ? CLI_WRONG_PARAM : CLI_UNRECOGNIZED;
	}
	tset_free(s);
	*s = next;
	return CLI_OK;
}

/* Walks tokens [0, upto) of TOKS from view V. */
static void
walk(const struct match_env *m, const struct gview *v, const struct cli_tokens *toks, size_t upto,
    struct walk *w)
{
	memset(w, 0, sizeof(*w));
	start_set(m, v, &w->s);
	for (size_t i = 0; i < upto; i++) {
		const struct gparam *missing = NULL;
		enum cli_status st = step(m, &w->s, &toks->v[i], &missing);

		if (st != CLI_OK) {
			w->status = st;
			w->bad = i;
			return;
		}
		if (missing != NULL && !w->missing) {
			w->missing = 1;
			w->missing_tok = i;
			w->missing_param = missing;
		}
	}
	w->status = CLI_OK;
}

static const struct thread *
ended(const struct match_env *m, const struct tset *s)
{
	const struct thread *best = NULL;

	for (size_t i = 0; i < s->n; i++) {
		const struct gnode *n = &m->g->nodes[s->v[i].node];

		if (n->kind == GN_END &&
		    (best == NULL || n->cmd->order < m->g->nodes[best->node].cmd->order))
			best = &s->v[i];
	}
	return best;
}

static void
fill_args(const struct match_env *m, const struct thread *th, const struct cli_tokens *toks,
    struct match_result *r)
{
	struct gcmd *cmd = m->g->nodes[th->node].cmd;

	r->cmd = cmd;
	r->args.undo = cmd->undo;
	r->args.n = th->n;
	r->args.v = xcalloc(th->n + 1, sizeof(struct cli_arg));
	for (size_t i = 0; i < th->n; i++) {
		const struct gnode *n = &m->g->nodes[th->path[i]];

		if (n->kind == GN_KW) {
			r->args.v[i].name = n->kw;
			r->args.v[i].value = n->kw;
			r->args.v[i].is_kw = 1;
		} else {
			r->args.v[i].name = n->param->name;
			r->args.v[i].value = toks->v[i].text;
			r->args.v[i].secret = n->param->type == GT_SECRET;
		}
	}
}

static void
match_in(const struct match_env *m, const struct gview *v, const struct cli_tokens *toks,
    const char *line, struct match_result *r)
{
	struct walk w;

	memset(r, 0, sizeof(*r));
	r->view = (struct gview *)v;
	if (toks->unterminated) {
		/* The open quote's token is the bad one. */
		r->status = CLI_WRONG_PARAM;
		r->bad_col = toks->n ? toks->v[toks->n - 1].col : 0;
		return;
	}
	walk(m, v, toks, toks->n, &w);
	if (w.status != CLI_OK) {
		r->status = w.status;
		r->bad_col = toks->v[w.bad].col;
	} else if (toks->too_many) {
		r->status = CLI_TOO_MANY;
		r->bad_col = strlen(line);
	} else {
		const struct thread *th = ended(m, &w.s);

		if (th == NULL) {
			r->status = CLI_INCOMPLETE;
			r->bad_col = toks->n ? toks->v[toks->n - 1].end : 0;
		} else if (w.missing) {
			r->status = CLI_MISSING;
			r->cmd = m->g->nodes[th->node].cmd;
			r->bad_col = toks->v[w.missing_tok].col;
			r->missing_kind = w.missing_param->object;
			r->missing_value = toks->v[w.missing_tok].text;
		} else {
			r->status = CLI_OK;
			fill_args(m, th, toks, r);
		}
	}
	tset_free(&w.s);
}

void
match_line(const struct match_env *m, const struct gview *v, const struct cli_tokens *toks,
    const char *line, struct match_result *r)
{
	match_in(m, v, toks, line, r);
	if (r->status == CLI_OK || toks->n == 0)
		return;
	/* Like VRP, a command of an enclosing view (not the user view) is accepted in
	 * a sub-view and leaves it; the error reported is the current view's. */
	for (const struct gview *p = v->parent; p != NULL && p->parent != NULL;
	    p = p->parent) {
		struct match_result pr;

		match_in(m, p, toks, line, &pr);
		if (pr.status == CLI_OK) {
			match_result_free(r);
			*r = pr;
			return;
		}
		match_result_free(&pr);
	}
}

/* Advances S by T without type checks: any parameter slot takes it, keywords by
 * prefix. Used only to find where secrets sit in a line that does not match. */
static void
step_lenient(const struct match_env *m, struct tset *s, const char *t)
{
	struct tset next = { 0 };
	size_t tl = strlen(t);

	for (size_t i = 0; i < s->n; i++) {
		const struct thread *th = &s->v[i];
		const struct gnode *n = &m->g->nodes[th->node];

		if (n->kind == GN_PARAM ||
		    (n->kind == GN_KW && pk_strncaseeq(n->kw, t, tl)))
			for (size_t k = 0; k < n->nout; k++)
				tset_add(m->g, &next, n->out[k], th->path, th->n, 0);
	}
	tset_free(s);
	*s = next;
}

void
match_secret_mask(const struct match_env *m, const struct gview *v, const struct cli_tokens *toks,
    unsigned char *mask)
{
	/* Views where the line could match: the current one and its parents (the
	 * fallback of match_line), each walked as far as the line goes. */
	for (const struct gview *w = v; w != NULL; w = w->parent) {
		struct tset s = { 0 };

		if (w != v && w->parent == NULL)
			break;
		start_set(m, w, &s);
		for (size_t i = 0; i < toks->n; i++) {
			for (size_t k = 0; k < s.n; k++) {
				const struct gnode *n = &m->g->nodes[s.v[k].node];

				if (n->kind == GN_PARAM && n->param->type == GT_SECRET)
					mask[i] = 1;
			}
			if (step(m, &s, &toks->v[i], NULL) != CLI_OK)
				step_lenient(m, &s, toks->v[i].text);
			if (s.n == 0)
				break;
		}
		tset_free(&s);
	}
}

void
match_result_free(struct match_result *r)
{
	free(r->args.v);
	r->args.v = NULL;
	r->args.n = 0;
}

/* ---- '?' ---- */

struct cand {
	const char *name;
	const char *help;
	const struct gparam *param;
};

static int
cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if ((x->param != NULL) != (y->param != NULL))
		return x->param != NULL ? -1 : 1;
	if (x->param != NULL)
		return 0;
	return strcmp(x->name, y->name);
}

/* Distinct next tokens of S (keywords with PREFIX when prefix != NULL). */
static size_t
candidates(const struct match_env *m, const struct tset *s, const char *prefix,
    struct cand **out, int *can_end)
{
	struct cand *v = NULL;
	size_t n = 0, pl = prefix ? strlen(prefix) : 0;

	*can_end = 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct gnode *gn = &m->g->nodes[s->v[i].node];
		size_t k;

		if (gn->kind == GN_END) {
			*can_end = 1;
			continue;
		}
		if (gn->kind == GN_KW) {
			if (prefix && !pk_strncaseeq(gn->kw, prefix, pl))
				continue;
			for (k = 0; k < n; k++)
				if (v[k].param == NULL && strcmp(v[k].name, gn->kw) == 0)
					break;
			if (k < n)
				continue;
			v = xrealloc(v, (n + 1) * sizeof(*v));
			v[n].name = gn->kw;
			v[n].help = gn->help;
			v[n].param = NULL;
			n++;
		} else if (gn->kind == GN_PARAM) {
			for (k = 0; k < n; k++)
				if (v[k].param == gn->param)
					break;
			if (k < n)
				continue;
			v = xrealloc(v, (n + 1) * sizeof(*v));
			v[n].name = gn->param->name;
			v[n].help = gn->param->help;
			v[n].param = gn->param;
			n++;
		}
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cand_cmp);
	*out = v;
	return n;
}

/* 1 when a display command ends in S: its output may be filtered ("|"). */
static int
display_may_end(const struct match_env *m, const struct tset *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct gnode *n = &m->g->nodes[s->v[i].node];

		if (n->kind == GN_END && gcmd_is_display(m->g, n->cmd))
			return 1;
	}
	return 0;
}

static void
render_list(const struct cand *v, size_t n, int can_end, struct sbuf *out)
{
	size_t width = 4;
	struct sbuf t = SBUF_INIT;

	for (size_t i = 0; i < n; i++) {
		size_t w;

		sbuf_reset(&t);
		if (v[i].param)
			param_type_text(v[i].param, &t);
		else
			sbuf_puts(&t, v[i].name);
		w = t.len;
		if (w > width)
			width = w;
	}
	for (size_t i = 0; i < n; i++) {
		sbuf_reset(&t);
		if (v[i].param)
			param_type_text(v[i].param, &t);
		else
			sbuf_puts(&t, v[i].name);
		sbuf_printf(out, "  %-*s  %s\n", (int)width, sbuf_str(&t), v[i].help);
	}
	if (can_end)
		sbuf_puts(out, "  <cr>\n");
	sbuf_free(&t);
}

static void
render_caret(size_t col, enum cli_status st, struct sbuf *out)
{
	for (size_t i = 0; i < col; i++)
		sbuf_putc(out, ' ');
	sbuf_puts(out, "^\n");
	sbuf_printf(out, "%s\n", cli_status_msg(st));
}

int
match_help(const struct match_env *m, const struct gview *v, const struct cli_tokens *toks,
    const char *line, size_t prompt_len, struct sbuf *out)
{
	struct walk w;
	struct cand *cv = NULL;
	size_t n, upto;
	int can_end;
	const char *partial = NULL;

	(void)line;
	if (toks->n == 0) {
		/* bare '?': the view's commands */
		walk(m, v, toks, 0, &w);
		n = candidates(m, &w.s, NULL, &cv, &can_end);
		sbuf_printf(out, "%s:\n", v->title);
		render_list(cv, n, 0, out);
		free(cv);
		tset_free(&w.s);
		return 0;
	}
	upto = toks->trailing_space ? toks->n : toks->n - 1;
	if (!toks->trailing_space)
		partial = toks->v[toks->n - 1].text;
	walk(m, v, toks, upto, &w);
	if (w.status != CLI_OK) {
		render_caret(prompt_len + toks->v[w.bad].col, w.status, out);
		tset_free(&w.s);
		return -1;
	}
	n = candidates(m, &w.s, partial, &cv, &can_end);
	if (partial != NULL) {
		size_t nk = 0;

		for (size_t i = 0; i < n; i++)
			if (cv[i].param == NULL) {
				sbuf_printf(out, "%s%s", nk ? "  " : "  ", cv[i].name);
				nk++;
			}
		if (nk) {
			sbuf_putc(out, '\n');
		} else {
			/* no keyword: show the value expected here, if any */
			size_t np = 0;

			for (size_t i = 0; i < n; i++)
				if (cv[i].param != NULL)
					cv[np++] = cv[i];
			if (np)
				render_list(cv, np, 0, out);
			else {
				free(cv);
				tset_free(&w.s);
				render_caret(prompt_len + toks->v[toks->n - 1].col,
				    CLI_UNRECOGNIZED, out);
				return -1;
			}
		}
	} else {
		if (n == 0 && !can_end) {
			free(cv);
			tset_free(&w.s);
			return 0;
		}
		render_list(cv, n, 0, out);
		if (can_end && display_may_end(m, &w.s))
			sbuf_puts(out, "  |  Matching output\n");
		if (can_end)
			sbuf_puts(out, "  <cr>\n");
	}
	free(cv);
	tset_free(&w.s);
	return 0;
}

/* ---- Tab ---- */

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
strv_add_unique(char ***v, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i], s) == 0)
			return;
	*v = xrealloc(*v, (*n + 2) * sizeof(char *));
	(*v)[(*n)++] = xstrdup(s);
	(*v)[*n] = NULL;
}

char **
match_complete(const struct match_env *m, const struct gview *v, const struct cli_tokens *toks,
    const char *line, size_t *word_start)
{
	struct walk w;
	char **res = NULL;
	size_t n = 0, upto;
	const char *partial;

	*word_start = strlen(line);
	if (toks->n == 0 || toks->trailing_space || toks->unterminated)
		return NULL;
	upto = toks->n - 1;
	partial = toks->v[upto].text;
	*word_start = toks->v[upto].col;
	walk(m, v, toks, upto, &w);
	if (w.status == CLI_OK) {
		size_t pl = strlen(partial);

		for (size_t i = 0; i < w.s.n; i++) {
			const struct gnode *gn = &m->g->nodes[w.s.v[i].node];

			if (gn->kind == GN_KW && pk_strncaseeq(gn->kw, partial, pl)) {
				strv_add_unique(&res, &n, gn->kw);
			} else if (gn->kind == GN_PARAM && gn->param->object != NULL) {
				char **names = m->objects(m->arg, gn->param->object);

				for (size_t k = 0; names && names[k]; k++)
					if (gn->param->nocase ?
					    pk_strncaseeq(names[k], partial, pl) :
					    strncmp(names[k], partial, pl) == 0)
						strv_add_unique(&res, &n, names[k]);
				cli_strv_free(names);
			}
		}
	}
	tset_free(&w.s);
	if (n > 1)
		qsort(res, n, sizeof(char *), str_cmp);
	return res;
}

void
cli_strv_free(char **v)
{
	if (v == NULL)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

const char *
cli_status_msg(enum cli_status st)
{
	switch (st) {
	case CLI_UNRECOGNIZED:
		return "Error: Unrecognized command found at '^' position.";
	case CLI_INCOMPLETE:
		return "Error: Incomplete command found at '^' position.";
	case CLI_AMBIGUOUS:
		return "Error: Ambiguous command found at '^' position.";
	case CLI_WRONG_PARAM:
		return "Error: Wrong parameter found at '^' position.";
	case CLI_TOO_MANY:
		return "Error: Too many parameters found at '^' position.";
	case CLI_MISSING:
		return "Error: The object does not exist.";
	default:
		return "";
	}
}
