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

/* A thread: where it is in the NFA and the nodes its tokens matched, kept as a
 * chain of history entries (each token's node and the entry before it), so that
 * advancing a thread allocates nothing of its own. */
struct thread {
	int node;
	int hist;	/* the entry of its last token, -1 before the first */
	size_t n;	/* tokens matched */
};

struct hent {
	int node;
	int prev;
};

struct tset {
	struct thread *v;
	size_t n, cap;
	struct thread *spare;	/* the other buffer: the next step's threads */
	size_t capspare;
	struct hent *h;	/* the history the threads' paths are chained in */
	size_t nh, caph;
};

static void
tset_free(struct tset *s)
{
	free(s->v);
	free(s->spare);
	free(s->h);
	memset(s, 0, sizeof(*s));
}

/* The buffers of the walks of a session's lines: a configuration of 100,000
 * lines walks 100,000 times, and buffers grown once serve them all. */
struct match_scratch {
	struct tset s;
};

struct match_scratch *
match_scratch_new(void)
{
	return xcalloc(1, sizeof(struct match_scratch));
}

void
match_scratch_free(struct match_scratch *sc)
{
	if (sc == NULL)
		return;
	tset_free(&sc->s);
	free(sc);
}

/* An empty thread set for a walk of M: the scratch buffers when M has them. */
static void
tset_take(const struct match_env *m, struct tset *s)
{
	if (m->scratch == NULL) {
		memset(s, 0, sizeof(*s));
		return;
	}
	*s = m->scratch->s;
	memset(&m->scratch->s, 0, sizeof(m->scratch->s));
	s->n = 0;
	s->nh = 0;
}

/* Ends the walk's use of S: its buffers go back to M's scratch, or are freed. */
static void
tset_give(const struct match_env *m, struct tset *s)
{
	if (m->scratch == NULL || m->scratch->s.v != NULL || m->scratch->s.h != NULL) {
		tset_free(s);
		return;
	}
	m->scratch->s = *s;
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

static void
tset_push(struct tset *s, int node, int hist, size_t n)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 32;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n].node = node;
	s->v[s->n].hist = hist;
	s->v[s->n].n = n;
	s->n++;
}

/* Adds NODE (following split edges) whose path is HIST (N tokens). */
static void
tset_add(const struct grammar *g, struct tset *s, int node, int hist, size_t n,
    int depth)
{
	const struct gnode *gn = &g->nodes[node];

	if (depth > 64)
		return;
	if (gn->kind == GN_SPLIT) {
		for (size_t i = 0; i < gn->nout; i++)
			tset_add(g, s, gn->out[i], hist, n, depth + 1);
		return;
	}
	if (tset_has(s, node))
		return;
	tset_push(s, node, hist, n);
}

/* Records that a thread at history entry PREV matched NODE; the new entry. */
static int
hist_push(struct tset *s, int node, int prev)
{
	if (s->nh == s->caph) {
		s->caph = s->caph ? s->caph * 2 : 32;
		s->h = xrealloc(s->h, s->caph * sizeof(*s->h));
	}
	s->h[s->nh].node = node;
	s->h[s->nh].prev = prev;
	return (int)s->nh++;
}

/* The threads S continues with: NEXT's (S's history kept; S's old buffer is
 * the spare one the next step fills). */
static void
tset_advance(struct tset *s, struct tset *next)
{
	s->spare = s->v;
	s->capspare = s->cap;
	s->v = next->v;
	s->n = next->n;
	s->cap = next->cap;
	memset(next, 0, sizeof(*next));
}

/* ---- what is built once per grammar (match_prepare) ---- */

static inline unsigned char
fold(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* strcmp of the ASCII-folded strings: the order of a view's first keywords. */
static int
fold_cmp(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;

	for (; *x && fold(*x) == fold(*y); x++, y++)
		;
	return (int)fold(*x) - (int)fold(*y);
}

static int
gfirst_cmp(const void *a, const void *b)
{
	return fold_cmp(((const struct gfirst *)a)->kw, ((const struct gfirst *)b)->kw);
}

static int step(const struct match_env *m, struct tset *s, const struct cli_token *tok,
    const struct gparam **missing);

/* The first step of every line from view V whose first word is exactly the
 * keyword KW is the same: it is taken once here, by step() itself on V's start,
 * and kept. */
static void
prepare_first(const struct grammar *g, struct gview *v, const char *kw)
{
	struct match_env m = { g, NULL, NULL, NULL, NULL };
	struct cli_token tok = { (char *)kw, 0, 0, 0 };
	struct tset s = { 0 };
	struct gfirst *f;

	for (size_t i = 0; i < v->nstart; i++)
		tset_push(&s, v->start[i], -1, 0);
	if (step(&m, &s, &tok, NULL) == CLI_OK) {
		v->first = xrealloc(v->first, (v->nfirst + 1) * sizeof(*v->first));
		f = &v->first[v->nfirst++];
		f->kw = kw;
		f->nfrom = s.nh;
		f->from = xcalloc(s.nh + 1, sizeof(int));
		for (size_t i = 0; i < s.nh; i++)
			f->from[i] = s.h[i].node;	/* their prev is -1: one token */
		f->n = s.n;
		f->node = xcalloc(s.n + 1, sizeof(int));
		f->via = xcalloc(s.n + 1, sizeof(int));
		for (size_t i = 0; i < s.n; i++) {
			f->node[i] = s.v[i].node;
			f->via[i] = s.v[i].hist;
		}
	}
	tset_free(&s);
}

void
match_prepare(struct grammar *g)
{
	unsigned char *seen = xcalloc(g->nnodes + 1, 1);
	int *stack = xmalloc((g->nnodes + 1) * sizeof(int));

	for (size_t i = 0; i < g->nviews; i++) {
		struct gview *v = g->views[i];
		struct tset s = { 0 };
		size_t sp = 0;

		/* the start: the view's commands' first nodes in grammar order,
		 * splits followed, each node once */
		for (size_t c = 0; c < g->ncmds; c++)
			if (gcmd_in_view(g->cmds[c], v))
				tset_add(g, &s, g->cmds[c]->start, -1, 0, 0);
		v->nstart = s.n;
		v->start = xcalloc(s.n + 1, sizeof(int));
		for (size_t k = 0; k < s.n; k++) {
			v->start[k] = s.v[k].node;
			if (g->nodes[s.v[k].node].kind == GN_PARAM) {
				v->param_first = 1;
				if (g->nodes[s.v[k].node].param->type == GT_SECRET)
					v->secret_first = 1;
			}
		}
		tset_free(&s);
		/* the first keywords, each once (whatever its case) */
		for (size_t k = 0; k < v->nstart; k++) {
			const struct gnode *n = &g->nodes[v->start[k]];
			size_t f;

			if (n->kind != GN_KW || n->kw[0] == '\0')
				continue;
			for (f = 0; f < v->nfirst; f++)
				if (pk_strcaseeq(v->first[f].kw, n->kw))
					break;
			if (f == v->nfirst)
				prepare_first(g, v, n->kw);
		}
		if (v->nfirst > 1)
			qsort(v->first, v->nfirst, sizeof(*v->first), gfirst_cmp);
		/* a secret param reachable from the view's commands? */
		memset(seen, 0, g->nnodes + 1);
		for (size_t k = 0; k < v->nstart; k++) {
			seen[v->start[k]] = 1;
			stack[sp++] = v->start[k];
		}
		while (sp > 0 && !v->has_secret) {
			const struct gnode *n = &g->nodes[stack[--sp]];

			if (n->kind == GN_PARAM && n->param->type == GT_SECRET)
				v->has_secret = 1;
			for (size_t k = 0; k < n->nout; k++)
				if (!seen[n->out[k]]) {
					seen[n->out[k]] = 1;
					stack[sp++] = n->out[k];
				}
		}
	}
	free(stack);
	free(seen);
}

/* The prepared first step of view V for the word T, or NULL; *NONE is set when
 * no first keyword of V even begins with T. */
static const struct gfirst *
first_of(const struct gview *v, const char *t, int *none)
{
	size_t lo = 0, hi = v->nfirst;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = fold_cmp(v->first[mid].kw, t);

		if (c == 0)
			return &v->first[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* the keywords T prefixes sort right after where T would be */
	*none = lo == v->nfirst || !pk_strncaseeq(v->first[lo].kw, t, strlen(t));
	return NULL;
}

/* S becomes the threads after the prepared first step F (S empty; its buffers
 * are kept when large enough). */
static void
tset_from_first(struct tset *s, const struct gfirst *f)
{
	if (s->caph < f->nfrom || s->caph < 16) {
		s->caph = f->nfrom < 16 ? 16 : f->nfrom;
		s->h = xrealloc(s->h, s->caph * sizeof(*s->h));
	}
	for (size_t k = 0; k < f->nfrom; k++) {
		s->h[k].node = f->from[k];
		s->h[k].prev = -1;
	}
	s->nh = f->nfrom;
	if (s->cap < f->n || s->cap < 32) {
		s->cap = f->n < 32 ? 32 : f->n;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	for (size_t k = 0; k < f->n; k++) {
		s->v[k].node = f->node[k];
		s->v[k].hist = f->via[k];
		s->v[k].n = 1;
	}
	s->n = f->n;
}

/* The start of a line in view V (built when the grammar loaded: the view's
 * commands' first nodes in grammar order, each once). */
static void
start_set(const struct match_env *m, const struct gview *v, struct tset *s)
{
	(void)m;
	if (s->cap < v->nstart) {
		s->cap = v->nstart < 32 ? 32 : v->nstart;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	for (size_t i = 0; i < v->nstart; i++)
		tset_push(s, v->start[i], -1, 0);
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
	int found = m->exists != NULL ? m->exists(m->arg, p->object, v, p->nocase) : -1;
	char **names;

	if (found >= 0)
		return found;
	names = m->objects(m->arg, p->object);
	found = 0;

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

/* What a token is for one thread (step). */
enum tclass { TC_NONE, TC_EXACT, TC_PREFIX, TC_PARAM, TC_PARAM_OK, TC_PARAM_ABSENT };

/* Advances S by token T; returns the new status (CLI_OK when some thread took it).
 * A value that fits a parameter's type but names no existing object of its kind
 * is taken when nothing else takes it, and *MISSING set to that parameter: the
 * syntax goes on being checked (a caret for syntax), and the caller names the
 * missing object (VRP: "The key pair k9 does not exist.").
 *
 * One pass classifies every thread (the keywords compared once each, a first
 * character that differs settling most of them); parameter values are checked
 * only when no keyword takes the token, as only then can a parameter take it. */
static int
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
	unsigned char cls_buf[256], *cls = cls_buf, t0 = fold((unsigned char)t[0]);
	enum tclass want;

	if (s->n > sizeof(cls_buf))
		cls = xmalloc(s->n);
	/* What T could be here: an exact keyword, distinct keywords it prefixes, or a
	 * value some parameter accepts. */
	for (size_t i = 0; i < s->n; i++) {
		const struct gnode *n = &g->nodes[s->v[i].node];

		cls[i] = TC_NONE;
		if (n->kind == GN_KW) {
			size_t k;

			any_tok = 1;
			if (fold((unsigned char)n->kw[0]) != t0 || tl == 0) {
				/* neither equal nor a prefix ("" is only equal to "") */
				if (tl == 0 && n->kw[0] == '\0') {
					cls[i] = TC_EXACT;
					exact = 1;
				}
				continue;
			}
			if (pk_strcaseeq(n->kw, t)) {
				cls[i] = TC_EXACT;
				exact = 1;
				continue;
			}
			if (!pk_strncaseeq(n->kw, t, tl) || strlen(n->kw) <= tl)
				continue;
			cls[i] = TC_PREFIX;
			for (k = 0; k < nseen; k++)
				if (pk_strcaseeq(seen[k], n->kw))
					break;
			if (k == nseen && nseen < 64)
				seen[nseen++] = n->kw;
		} else if (n->kind == GN_PARAM) {
			any_tok = 1;
			nparam_cand++;
			cls[i] = TC_PARAM;
		}
	}
	if (!any_tok) {
		if (cls != cls_buf)
			free(cls);
		return CLI_TOO_MANY;
	}
	if (!exact && nseen > 1) {
		if (cls != cls_buf)
			free(cls);
		return CLI_AMBIGUOUS;
	}
	if (exact) {
		want = TC_EXACT;
	} else if (nseen == 1) {
		want = TC_PREFIX;
	} else {
		/* no keyword: the parameters' turn */
		for (size_t i = 0; i < s->n && value_ok; i++) {
			const struct gparam *p;

			if (cls[i] != TC_PARAM)
				continue;
			p = g->nodes[s->v[i].node].param;
			if (param_value_ok(m, p, t)) {
				cls[i] = TC_PARAM_OK;
				nparam_ok++;
			} else if (p->object != NULL && param_type_ok(p, t)) {
				cls[i] = TC_PARAM_ABSENT;
				nparam_absent++;
			}
		}
		want = nparam_ok ? TC_PARAM_OK : nparam_absent ? TC_PARAM_ABSENT : TC_NONE;
	}
	next.v = s->spare;
	next.cap = s->capspare;
	for (size_t i = 0; i < s->n && want != TC_NONE; i++) {
		const struct thread *th = &s->v[i];
		const struct gnode *n = &g->nodes[th->node];
		int hi;

		if (cls[i] != want)
			continue;
		if (want == TC_PARAM_ABSENT && missing != NULL && *missing == NULL)
			*missing = n->param;
		hi = hist_push(s, th->node, th->hist);
		for (size_t k = 0; k < n->nout; k++)
			tset_add(g, &next, n->out[k], hi, th->n + 1, 0);
	}
	if (cls != cls_buf)
		free(cls);
	if (next.n == 0) {
		s->spare = next.v;
		s->capspare = next.cap;
		return nparam_cand ? CLI_WRONG_PARAM : CLI_UNRECOGNIZED;
	}
	tset_advance(s, &next);
	return CLI_OK;
}

/* Walks tokens [0, upto) of TOKS from view V. */
static void
walk(const struct match_env *m, const struct gview *v, const struct cli_tokens *toks, size_t upto,
    struct walk *w)
{
	const struct gfirst *f = NULL;
	size_t i = 0;
	int none = 0;

	memset(w, 0, sizeof(*w));
	tset_take(m, &w->s);
	if (upto > 0)
		f = first_of(v, toks->v[0].text, &none);
	if (upto > 0 && f == NULL && none && v->nfirst > 0 && !v->param_first &&
	    toks->v[0].text[0] != '\0') {
		/* what step() would find on the start: keywords, none equal to the
		 * word or beginning with it, and no parameter */
		w->status = CLI_UNRECOGNIZED;
		w->bad = 0;
		return;
	}
	if (f != NULL) {
		/* the first word is a keyword of the view: its step was taken when
		 * the grammar loaded */
		tset_from_first(&w->s, f);
		i = 1;
	} else {
		start_set(m, v, &w->s);
	}
	for (; i < upto; i++) {
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
fill_args(const struct match_env *m, const struct thread *th, const struct hent *hist,
    const struct cli_tokens *toks, struct match_result *r)
{
	struct gcmd *cmd = m->g->nodes[th->node].cmd;
	int h = th->hist;

	r->cmd = cmd;
	r->args.undo = cmd->undo;
	r->args.n = th->n;
	r->args.v = xcalloc(th->n + 1, sizeof(struct cli_arg));
	/* the path, last token first */

	for (size_t i = th->n; i-- > 0; h = hist[h].prev) {
		const struct gnode *n = &m->g->nodes[hist[h].node];

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
			fill_args(m, th, w.s.h, toks, r);
		}
	}
	tset_give(m, &w.s);
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

	next.v = s->spare;
	next.cap = s->capspare;
	for (size_t i = 0; i < s->n; i++) {
		const struct thread *th = &s->v[i];
		const struct gnode *n = &m->g->nodes[th->node];

		if (n->kind == GN_PARAM ||
		    (n->kind == GN_KW && pk_strncaseeq(n->kw, t, tl)))
			for (size_t k = 0; k < n->nout; k++)
				tset_add(m->g, &next, n->out[k], th->hist, th->n, 0);
	}
	tset_advance(s, &next);
}

void
match_secret_mask(const struct match_env *m, const struct gview *v, const struct cli_tokens *toks,
    unsigned char *mask)
{
	/* Views where the line could match: the current one and its parents (the
	 * fallback of match_line), each walked as far as the line goes. */
	for (const struct gview *w = v; w != NULL; w = w->parent) {
		struct tset s = { 0 };
		const struct gfirst *f = NULL;
		size_t i = 0;
		int none = 0;

		if (w != v && w->parent == NULL)
			break;
		if (!w->has_secret)
			continue;	/* no thread of W can be at a secret */
		if (toks->n > 0 && toks->v[0].text[0] != '\0')
			f = first_of(w, toks->v[0].text, &none);
		if (f != NULL || (none && !w->param_first && w->nfirst > 0)) {
			/* the first word settles the first step as in walk(): it is
			 * the prepared one (F), or no thread takes the word even
			 * leniently (no keyword begins with it, no parameter) */
			if (w->secret_first)
				mask[0] = 1;
			if (f == NULL)
				continue;
			tset_from_first(&s, f);
			i = 1;
		} else {
			start_set(m, w, &s);
		}
		for (; i < toks->n; i++) {
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
