/*
 * The console session: the features' registrations, current view and its
 * configuration node, the prompt, dispatch of matched commands (handlers, config
 * leaves, views; after a change the feature binding the view is told), output
 * (cli_out, and cli_notify for lines nobody typed a command for), questions.
 * The session owns the device (device/: CMP sessions, the event loop) that the
 * features talk to; it names no feature itself. Front ends (batch.c, edit.c) feed
 * it lines; handlers print through cli_out().
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "../device/device.h"
#include "../pki/pki.h"
#include "../storage/storage.h"
#include "cli_int.h"

/* ---- registration (each feature's init) ---- */

void
cli_install_handler(struct cli *c, const char *name, cli_handler_fn fn)
{
	registry_add_handler(&c->reg, name, fn);
}

void
cli_install_object(struct cli *c, const char *kind, cli_list_fn list,
    cli_exists_fn exists, cli_missing_fn missing, void *arg)
{
	registry_add_object(&c->reg, kind, list, exists, missing, arg);
}

void
cli_install_view(struct cli *c, const struct cli_view_binding *vb, void *arg)
{
	registry_add_view(&c->reg, vb, arg);
}

const char *
cli_arg(const struct cli_args *a, const char *name)
{
	for (size_t i = 0; i < a->n; i++)
		if (!a->v[i].is_kw && strcmp(a->v[i].name, name) == 0)
			return a->v[i].value;
	return NULL;
}

int
cli_kw(const struct cli_args *a, const char *kw)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].is_kw && strcmp(a->v[i].name, kw) == 0)
			return 1;
	return 0;
}

/* ---- the matcher's view of the session ---- */

/* Existing objects of KIND: instances of a view ("view-NAME") or a registered
 * kind. */
static char **
session_objects(void *arg, const char *kind)
{
	struct cli *c = arg;
	const struct reg_object *o;

	if (strncmp(kind, "view-", 5) == 0) {
		struct cfg_node **nodes = cli_cfg_list(c, kind + 5);
		char **names;
		size_t n = 0;

		while (nodes[n] != NULL)
			n++;
		names = xcalloc(n + 1, sizeof(*names));
		for (size_t i = 0; i < n; i++)
			names[i] = xstrdup(nodes[i]->key);
		free(nodes);
		return names;
	}
	o = registry_object(&c->reg, kind);
	return o != NULL ? o->list(o->arg) : NULL;
}

/* Whether an object of KIND is named NAME: an instance of a view through the
 * configuration tree's index, a registered kind through its check. */
static int
session_exists(void *arg, const char *kind, const char *name, int nocase)
{
	struct cli *c = arg;
	const struct reg_object *o;

	if (strncmp(kind, "view-", 5) == 0) {
		const struct gview *v = grammar_view(c->g, kind + 5);
		const struct cfg_node *n = v != NULL ? cfg_child(c->root, v, name) : NULL;

		return n != NULL && (nocase || strcmp(n->key, name) == 0);
	}
	o = registry_object(&c->reg, kind);
	if (o == NULL)
		return 0;
	return o->exists != NULL ? o->exists(o->arg, name, nocase) : -1;
}

static struct match_env
env(struct cli *c)
{
	struct match_env m = { c->g, session_objects, session_exists, c, c->scratch };

	return m;
}

/* ---- output ---- */

/* Everything the console shows goes through cli_vout and cli_write: to the
 * session's out, or into c->capture while a startup line runs. */
void
cli_vout(struct cli *c, const char *fmt, va_list ap)
{
	if (c->capture != NULL)
		sbuf_vprintf(c->capture, fmt, ap);
	else
		vfprintf(c->out, fmt, ap);
}

void
cli_out(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vout(c, fmt, ap);
	va_end(ap);
}

void
cli_write(struct cli *c, const char *text)
{
	if (c->capture != NULL)
		sbuf_puts(c->capture, text);
	else
		fputs(text, c->out);
}

void
cli_notify(struct cli *c, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (c->daemon) {
		int prio = strncmp(buf, "Info", 4) == 0 ? LOG_INFO : LOG_WARNING;
		char ts[40];

		if (c->stderr_journal) {
			/* once: the journal stamps it; the sd-daemon(3) prefix
			 * gives the priority */
			fprintf(stderr, "<%d>%s\n", prio, buf);
			fflush(stderr);
			return;
		}
		pk_time_text(time(NULL), ts, sizeof(ts));
		fprintf(stderr, "%s pkish: %s\n", ts, buf);
		fflush(stderr);
		syslog(prio, "%s", buf);
		return;
	}
	if (c->redraw != NULL && !c->in_exec) {
		/* hide the prompt and typed text, print, redraw them */
		cli_out(c, "\r\033[K%s\n", buf);
		fflush(c->out);
		c->redraw(c->redraw_arg);
		return;
	}
	cli_out(c, "%s\n", buf);
	fflush(c->out);
}

int
cli_error(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	cli_write(c, "Error: ");
	va_start(ap, fmt);
	cli_vout(c, fmt, ap);
	va_end(ap);
	cli_write(c, "\n");
	return -1;
}

int
cli_confirm(struct cli *c, const char *question, int batch_answer)
{
	char *ans;
	int yes;

	/* CLI.md: in batch mode nothing prompts; the documented answer is taken. */
	if (!c->interactive || c->io.read_line == NULL)
		return batch_answer;
	fflush(c->out);
	ans = c->io.read_line(c->io.arg, question, 1);
	yes = ans != NULL && (ans[0] == 'y' || ans[0] == 'Y');
	free(ans);
	return yes;
}

int
cli_incomplete(struct cli *c)
{
	cli_out(c, "%*s^\n%s\n", (int)c->end_col, "", cli_status_msg(CLI_INCOMPLETE));
	return -1;
}

char *
cli_ask_secret_once(struct cli *c, const char *prompt)
{
	if (!c->interactive || c->io.read_line == NULL)
		return NULL;
	fflush(c->out);
	return c->io.read_line(c->io.arg, prompt, 0);
}

char *
cli_ask_secret(struct cli *c, const char *prompt, const char *again)
{
	char *a, *b;

	if (!c->interactive || c->io.read_line == NULL)
		return NULL;
	fflush(c->out);
	a = c->io.read_line(c->io.arg, prompt, 0);
	if (a == NULL)
		return NULL;
	b = c->io.read_line(c->io.arg, again, 0);
	if (b == NULL || strcmp(a, b) != 0) {
		cli_error(c, "The two passwords are different.");
		storage_wipe_free(a);
		storage_wipe_free(b);
		return NULL;
	}
	storage_wipe_free(b);
	return a;
}

void
cli_set_io(struct cli *c, const struct cli_io *io)
{
	c->io = *io;
}

/* ---- saving ---- */

#define STARTUP_FILE "vrpcfg.cfg"

/* The configuration as it is now is the saved one. */
static void
remember_saved(struct cli *c)
{
	free(c->saved);
	c->saved = NULL;
	c->saved_gen = c->gen;
}

/* Called before every change of the tree: the first change after the saved
 * generation keeps the saved text (rendered now, while the tree still is it). */
static void
config_will_change(struct cli *c)
{
	if (c->gen == c->saved_gen && c->saved == NULL) {
		struct sbuf b = SBUF_INIT;

		cfg_render(c->root, 1, &b);
		c->saved = sbuf_take(&b);
	}
	c->gen++;
}

int
cli_save(struct cli *c, const char *file)
{
	struct sbuf b = SBUF_INIT;
	struct pk_err e;
	char *path;
	int rc;

	cfg_render(c->root, 1, &b);
	path = storage_path(storage_root(c->st), file);
	rc = storage_write_atomic(path, b.s, b.len, 0644, &e);
	free(path);
	sbuf_free(&b);
	if (rc != 0)
		return cli_error(c, "Failed to save the configuration: %s.", e.msg);
	if (strcmp(file, STARTUP_FILE) == 0)
		remember_saved(c);
	cli_out(c, "Save the configuration successfully.\n");
	return 0;
}

int
cli_unsaved(struct cli *c)
{
	struct sbuf b = SBUF_INIT;
	int differs;

	if (c->gen == c->saved_gen)
		return 0;
	cfg_render(c->root, 1, &b);
	differs = c->saved == NULL || strcmp(c->saved, sbuf_str(&b)) != 0;
	sbuf_free(&b);
	return differs;
}

void
cli_leave(struct cli *c)
{
	if (!c->interactive || c->io.read_line == NULL || !cli_unsaved(c))
		return;
	cli_out(c, "Warning: The current configuration has not been saved; it will "
	    "be lost when pkish ends.\n");
	if (cli_confirm(c, "Save it to flash:/" STARTUP_FILE " now? [Y/N]:", 0))
		cli_save(c, STARTUP_FILE);
	fflush(c->out);
}

/* ---- state ---- */

int
cli_done(const struct cli *c)
{
	return c->done;
}

void
cli_set_hostname(struct cli *c, const char *name)
{
	free(c->hostname);
	c->hostname = name != NULL ? xstrdup(name) : NULL;
}

struct cfg_node *
cli_cfg_root(struct cli *c)
{
	return c->root;
}

struct cfg_node **
cli_cfg_list(struct cli *c, const char *view)
{
	const struct gview *v = grammar_view(c->g, view);
	struct cfg_node **out = xcalloc(c->root->nchildren + 1, sizeof(*out));
	size_t n = 0;

	for (size_t i = 0; v != NULL && i < c->root->nchildren; i++)
		if (c->root->children[i]->view == v)
			out[n++] = c->root->children[i];
	out[n] = NULL;
	return out;
}

void
cli_config_render(struct cli *c, struct sbuf *out)
{
	cfg_render(c->root, 1, out);
}

/* ---- typed configuration ---- */

/* The node of instance KEY of VB's view (the root for a view without instances). */
static struct cfg_node *
bound_node(struct cli *c, const struct cli_view_binding *vb, const char *key)
{
	const struct gview *v = grammar_view(c->g, vb->view);

	if (v == NULL)
		return NULL;
	if (v->enter_cmd == NULL)
		return c->root;
	return key != NULL ? cfg_child(c->root, v, key) : NULL;
}

int
cli_context(struct cli *c, const struct cli_view_binding *vb, void *obj)
{
	if (strcmp(c->view->name, vb->view) != 0 || c->node == NULL)
		return -1;
	cfg_bind(c->node, vb, obj);
	return 0;
}

int
cli_config_get(struct cli *c, const struct cli_view_binding *vb, const char *key,
    void *obj)
{
	struct cfg_node *n = bound_node(c, vb, key);

	if (n == NULL)
		return -1;
	cfg_bind(n, vb, obj);
	return 0;
}

int
cli_config_update(struct cli *c, const struct cli_view_binding *vb,
    const char *key, size_t offset, const char *value)
{
	struct cfg_node *n = bound_node(c, vb, key);

	for (size_t i = 0; n != NULL && i < vb->nfields; i++)
		if (vb->fields[i].offset == offset && vb->fields[i].type == CLI_BIND_STR) {
			config_will_change(c);
			return cfg_leaf_update(n, vb->fields[i].leaf, vb->fields[i].name,
			    value);
		}
	return -1;
}

/* Tells the feature bound to view V that node N changed (or, N NULL, that its
 * instance KEY was removed). */
static void
apply(struct cli *c, const struct gview *v, const struct cfg_node *n, const char *key)
{
	const struct reg_view *rv = registry_view(&c->reg, v->name);
	void *obj;

	if (rv == NULL || rv->vb->apply == NULL)
		return;
	if (n == NULL) {
		rv->vb->apply(rv->arg, key, NULL);
		return;
	}
	obj = xcalloc(1, rv->vb->size);
	cfg_bind(n, rv->vb, obj);
	rv->vb->apply(rv->arg, n->key, obj);
	free(obj);
}

/* Runs the apply that waits (defer_apply), if any. */
static void
apply_pending(struct cli *c)
{
	struct cfg_node *n = c->apply_node;

	if (n == NULL)
		return;
	c->apply_node = NULL;
	apply(c, c->apply_view, n, NULL);
}

/* Applies node N of view V now, or, while the configuration loads, when the
 * lines that set N's leaves are done. */
static void
apply_node(struct cli *c, const struct gview *v, struct cfg_node *n)
{
	if (!c->defer_apply) {
		apply(c, v, n, NULL);
		return;
	}
	if (c->apply_node != n)
		apply_pending(c);
	c->apply_node = n;
	c->apply_view = v;
}

const char *
cli_prompt(struct cli *c)
{
	/* written in place (twice per line of a script: the echo and the caret
	 * column), truncated as the buffer is */
	const char *f = c->view->prompt;
	size_t i = 0, cap = sizeof(c->prompt) - 1;

	for (; *f && i < cap; f++) {
		const char *sub = NULL;

		if (f[0] == '%' && f[1] == 's')
			sub = c->hostname != NULL ? c->hostname : "pkish";
		else if (f[0] == '%' && f[1] == 'k')
			sub = c->node && c->node->key ? c->node->key : "";
		if (sub == NULL) {
			c->prompt[i++] = *f;
			continue;
		}
		f++;
		for (; *sub && i < cap; sub++)
			c->prompt[i++] = *sub;
	}
	c->prompt[i] = '\0';
	return c->prompt;
}

/* Moves to view V (an ancestor of the current one, or a view without a node). */
static void
leave_to(struct cli *c, const struct gview *v)
{
	while (c->view != v && c->view->parent != NULL) {
		if (c->node != NULL && c->node->view == c->view && c->node->parent)
			c->node = c->node->parent;
		c->view = c->view->parent;
	}
}

int
cli_view_up(struct cli *c)
{
	if (c->view->parent == NULL) {
		c->done = 1;
		return 0;
	}
	leave_to(c, c->view->parent);
	return 0;
}

void
cli_view_set(struct cli *c, const char *view)
{
	const struct gview *v = grammar_view(c->g, view);

	if (v == NULL)
		return;
	if (strcmp(view, "user") == 0 || strcmp(view, "system") == 0) {
		c->view = v;
		c->node = c->root;
	}
}

/* Seals plain secrets in A (values replaced by new strings kept in OWNED). */
static int
seal_secrets(struct cli *c, const struct gcmd *cmd, struct cli_args *a,
    char **owned, size_t *nowned, size_t line_end, size_t prompt_len)
{
	const struct gparam *ask = cmd->ask;
	int have_ask = 0;

	for (size_t i = 0; i < a->n; i++) {
		struct pk_err e;
		char *sealed = NULL, *plain = NULL;

		/* the matcher marked the values of secret params */
		if (a->v[i].is_kw || !a->v[i].secret)
			continue;
		if (ask != NULL && a->v[i].name == ask->name)
			have_ask = 1;
		if (storage_is_sealed(a->v[i].value)) {
			if (storage_unseal(c->st, a->v[i].value, &plain, &e) != 0)
				return cli_error(c, "The cipher text of the secret "
				    "cannot be used: %s.", e.msg);
			storage_wipe_free(plain);
			continue;
		}
		if (storage_seal(c->st, a->v[i].value, &sealed, &e) != 0)
			return cli_error(c, "%s.", e.msg);
		owned[(*nowned)++] = sealed;
		a->v[i].value = sealed;
	}
	if (ask != NULL && !have_ask && !a->undo) {
		char *plain = cli_ask_secret(c, ask->ask, "Please enter the password again:");
		char *sealed = NULL;
		struct pk_err e;

		if (plain == NULL) {
			if (!c->interactive) {
				cli_out(c, "%*s^\n%s\n", (int)(prompt_len + line_end), "",
				    cli_status_msg(CLI_INCOMPLETE));
			}
			return -1;
		}
		if (strlen(plain) < (size_t)ask->min || strlen(plain) > (size_t)ask->max) {
			storage_wipe_free(plain);
			return cli_error(c, "The password must be %lld to %lld characters.",
			    ask->min, ask->max);
		}
		if (storage_seal(c->st, plain, &sealed, &e) != 0) {
			storage_wipe_free(plain);
			return cli_error(c, "%s.", e.msg);
		}
		storage_wipe_free(plain);
		owned[(*nowned)++] = sealed;
		a->v = xrealloc(a->v, (a->n + 2) * sizeof(*a->v));
		a->v[a->n].name = ask->name;
		a->v[a->n].value = sealed;
		a->v[a->n].is_kw = 0;
		a->v[a->n].secret = 1;
		a->n++;
	}
	return 0;
}

static int
exec_config(struct cli *c, struct match_result *r, size_t line_end, size_t prompt_len)
{
	struct gcmd *cmd = r->cmd;
	struct cli_args *a = &r->args;
	struct sbuf text = SBUF_INIT;
	char *owned[16];
	size_t nowned = 0;
	int rc = -1;

	/* a waiting apply waits on only through the lines setting leaves of its
	 * node (a leaf's check reads its line and other objects, whose applies
	 * ran when their views were left; enter and undo checks may read the
	 * device: it is told first) */
	if (cmd->enter != NULL || cmd->undo || c->node != c->apply_node)
		apply_pending(c);
	if (cmd->enter != NULL) {
		const char *key = cli_arg(a, cmd->key);
		struct cfg_node *n = cfg_child(c->node, cmd->enter, key);

		if (cmd->undo) {
			if (n == NULL) {
				rc = cli_error(c, "The %s %s does not exist.",
				    cmd->enter->noun ? cmd->enter->noun : "object", key);
				goto out;
			}
			if (cmd->check && cmd->check(c, a) != 0)
				goto out;
			{
				char *k = xstrdup(n->key);

				config_will_change(c);
				cfg_remove_child(c->node, n);
				apply(c, cmd->enter, NULL, k);
				free(k);
			}
			rc = 0;
			goto out;
		}
		if (n == NULL) {
			if (cmd->check && cmd->check(c, a) != 0)
				goto out;
			config_will_change(c);
			n = cfg_add_child(c->node, cmd->enter, cmd, key, a->line);
			apply(c, cmd->enter, n, NULL);
		}
		c->view = cmd->enter;
		c->node = n;
		rc = 0;
		goto out;
	}
	/* a leaf */
	if (cmd->undo) {
		if (!cfg_leaf_set(c->node, cmd->leaf)) {
			rc = 0;	/* undoing what is not set is harmless, like VRP */
			goto out;
		}
		if (cmd->check && cmd->check(c, a) != 0)
			goto out;
		config_will_change(c);
		cfg_unset_leaf(c->node, cmd->leaf);
		apply(c, c->view, c->node, NULL);
		rc = 0;
		goto out;
	}
	if (seal_secrets(c, cmd, a, owned, &nowned, line_end, prompt_len) != 0)
		goto out;
	if (cmd->check && cmd->check(c, a) != 0)
		goto out;
	/* the line's canonical text, unless a secret was sealed in it */
	if (nowned > 0)
		cfg_canonical(a, &text);
	config_will_change(c);
	cfg_set_leaf(c->node, cmd, nowned > 0 ? sbuf_str(&text) : a->line, a);
	apply_node(c, c->view, c->node);
	rc = 0;
out:
	for (size_t i = 0; i < nowned; i++)
		free(owned[i]);
	sbuf_free(&text);
	return rc;
}

/* "Error: The CMP session S9 does not exist.": NAME names no object of KIND
 * (the instances of a view, or a kind a feature registered with its words). */
static void
missing_error(struct cli *c, const char *kind, const char *name)
{
	struct sbuf msg = SBUF_INIT;
	const struct reg_object *o;

	if (strncmp(kind, "view-", 5) == 0) {
		const struct gview *v = grammar_view(c->g, kind + 5);

		sbuf_printf(&msg, "The %s %s does not exist.",
		    v != NULL && v->noun != NULL ? v->noun : kind + 5, name);
	} else if ((o = registry_object(&c->reg, kind)) != NULL &&
	    o->missing != NULL) {
		o->missing(o->arg, name, &msg);
	} else {
		sbuf_printf(&msg, "The %s %s does not exist.", kind, name);
	}
	cli_error(c, "%s", sbuf_str(&msg));
	sbuf_free(&msg);
}

/* Frees B after wiping it: a command's canonical text holds its secrets in
 * clear (a handler's password). */
static void
sbuf_wipe_free(struct sbuf *b)
{
	if (b->s != NULL)
		explicit_bzero(b->s, b->len);
	sbuf_free(b);
}

/* Matches TOKS in the current view into *R. With an unquoted "|" after a display
 * command, only the words before it are the command (*pipe: the index of "|"),
 * the rest is its output filter; otherwise *pipe is TOKS->n and the whole line is
 * matched. */
static void
match_cmd(struct cli *c, const struct cli_tokens *toks, const char *line,
    struct match_result *r, size_t *pipe)
{
	struct match_env m = env(c);

	*pipe = filter_pipe(toks);
	if (*pipe < toks->n) {
		struct cli_tokens head = *toks;

		head.n = *pipe;
		head.too_many = 0;
		match_line(&m, c->view, &head, line, r);
		if ((r->status == CLI_OK || r->status == CLI_MISSING) &&
		    gcmd_is_display(c->g, r->cmd) && r->cmd->handler != NULL)
			return;
		match_result_free(r);
		*pipe = toks->n;
	}
	match_line(&m, c->view, toks, line, r);
}

/* Runs the handler of R with its output through filter F (NULL: none). */
static int
run_handler(struct cli *c, struct match_result *r, const struct cli_filter *f)
{
	struct sbuf cap = SBUF_INIT, out = SBUF_INIT;
	struct sbuf *prev = c->capture;
	int rc;

	if (f == NULL)
		return r->cmd->handler(c, &r->args);
	c->capture = &cap;
	rc = r->cmd->handler(c, &r->args);
	c->capture = prev;
	if (rc == 0)
		filter_apply(f, sbuf_str(&cap), &out);
	else
		sbuf_puts(&out, sbuf_str(&cap));	/* a failure is never filtered */
	cli_write(c, sbuf_str(&out));
	sbuf_free(&out);
	sbuf_free(&cap);
	return rc;
}

int
cli_exec(struct cli *c, const char *line)
{
	struct cli_tokens toks;
	struct match_result r;
	struct cli_filter f;
	size_t plen, pipe;
	int rc, handler;

	memset(&f, 0, sizeof(f));
	cli_tokenize(line, &toks);
	if (toks.help) {
		cli_help(c, line);
		cli_tokens_free(&toks);
		return 0;
	}
	if (toks.n == 0) {
		cli_tokens_free(&toks);
		return 0;
	}
	plen = c->no_prompt ? 0 : strlen(cli_prompt(c));
	match_cmd(c, &toks, line, &r, &pipe);
	if (r.status == CLI_MISSING) {
		/* the syntax is right: name the object, no caret */
		missing_error(c, r.missing_kind, r.missing_value);
		match_result_free(&r);
		cli_tokens_free(&toks);
		return -1;
	}
	if (r.status != CLI_OK) {
		cli_out(c, "%*s^\n%s\n", (int)(plen + r.bad_col), "",
		    cli_status_msg(r.status));
		match_result_free(&r);
		cli_tokens_free(&toks);
		return -1;
	}
	for (size_t i = 0; i < r.args.n; i++) {
		/* the masked form recalled from the history is not a secret */
		if (r.args.v[i].secret && strcmp(r.args.v[i].value, "******") == 0) {
			cli_error(c, "The secret ****** is the masked form the history "
			    "keeps; type the secret itself.");
			match_result_free(&r);
			cli_tokens_free(&toks);
			return -1;
		}
	}
	if (pipe < toks.n) {
		struct sbuf err = SBUF_INIT;
		size_t bad = 0;
		enum cli_status st = filter_parse(&toks, pipe, line, &f, &bad, &err);

		if (st != CLI_OK || f.kind == FILTER_NONE) {
			if (st != CLI_OK)
				cli_out(c, "%*s^\n%s\n", (int)(plen + bad), "",
				    cli_status_msg(st));
			else
				cli_error(c, "%s", sbuf_str(&err));
			sbuf_free(&err);
			filter_free(&f);
			match_result_free(&r);
			cli_tokens_free(&toks);
			return -1;
		}
		sbuf_free(&err);
	}
	if (r.view != c->view)
		leave_to(c, r.view);
	{
		struct sbuf canon = SBUF_INIT;

		cfg_canonical(&r.args, &canon);
		r.args.line = sbuf_str(&canon);
		c->end_col = plen + toks.v[toks.n - 1].end;
		c->in_exec++;
		handler = r.cmd->handler != NULL;
		if (handler) {
			apply_pending(c);
			rc = run_handler(c, &r, pipe < toks.n ? &f : NULL);
		}
		else
			rc = exec_config(c, &r, toks.v[toks.n - 1].end, plen);
		c->in_exec--;
		sbuf_wipe_free(&canon);
	}
	filter_free(&f);
	match_result_free(&r);
	cli_tokens_free(&toks);
	/* What a command printed is seen at once at a terminal and after an action
	 * or a display; the lines of a configuration script are not flushed one by
	 * one (a write each would cost more than running them): the batch front
	 * end flushes before it waits for input and at the end. */
	if (c->interactive || handler)
		fflush(c->out);
	return rc;
}

int
cli_system_line(struct cli *c, const char *line)
{
	const struct gview *user = grammar_view(c->g, "user");
	const struct gview *sys = grammar_view(c->g, "system");
	struct match_env m = env(c);
	struct cli_tokens toks;
	struct match_result r;
	int yes = 0;

	if (c->view != user || sys == NULL)
		return 0;
	cli_tokenize(line, &toks);
	if (toks.n > 0 && !toks.help) {
		match_line(&m, user, &toks, line, &r);
		yes = r.status != CLI_OK && r.status != CLI_MISSING;
		match_result_free(&r);
		if (yes) {
			match_line(&m, sys, &toks, line, &r);
			yes = r.status == CLI_OK || r.status == CLI_MISSING;
			match_result_free(&r);
		}
	}
	cli_tokens_free(&toks);
	return yes;
}

void
cli_echo_text(struct cli *c, const char *line, struct sbuf *out)
{
	struct cli_tokens toks;
	unsigned char *mask;
	size_t from = 0;

	cli_tokenize(line, &toks);
	mask = xcalloc(toks.n + 1, 1);
	{
		struct match_env m = env(c);

		match_secret_mask(&m, c->view, &toks, mask);
	}
	for (size_t i = 0; i < toks.n; i++) {
		if (!mask[i])
			continue;
		sbuf_add(out, line + from, toks.v[i].col - from);
		sbuf_puts(out, "******");
		from = toks.v[i].end;
	}
	sbuf_puts(out, line + from);
	free(mask);
	cli_tokens_free(&toks);
}

void
cli_help(struct cli *c, const char *line)
{
	struct cli_tokens toks;
	struct sbuf out = SBUF_INIT;
	struct match_result r;
	size_t pipe;

	struct match_env m = env(c);

	cli_tokenize(line, &toks);
	if ((pipe = filter_pipe(&toks)) < toks.n) {
		match_cmd(c, &toks, line, &r, &pipe);
		match_result_free(&r);
	}
	if (pipe < toks.n)
		filter_help(&toks, pipe, strlen(cli_prompt(c)), &out);
	else
		match_help(&m, c->view, &toks, line, strlen(cli_prompt(c)), &out);
	cli_write(c, sbuf_str(&out));
	fflush(c->out);
	sbuf_free(&out);
	cli_tokens_free(&toks);
}

char **
cli_complete(struct cli *c, const char *line, size_t *word_start)
{
	struct cli_tokens toks;
	char **v;

	struct match_env m = env(c);
	struct match_result r;
	size_t pipe;

	cli_tokenize(line, &toks);
	if ((pipe = filter_pipe(&toks)) < toks.n) {
		match_cmd(c, &toks, line, &r, &pipe);
		match_result_free(&r);
	}
	if (pipe < toks.n)
		v = filter_complete(&toks, pipe, word_start);
	else
		v = match_complete(&m, c->view, &toks, line, word_start);
	cli_tokens_free(&toks);
	return v;
}

/* Runs a saved configuration silently from the system view; failed lines are
 * reported on stderr with their line numbers and what they printed. The file is
 * read as a stream (a large configuration needs no buffer of its size). Empty
 * lines are not numbered, and a NUL byte ends the file: what reading it whole
 * and splitting it at newlines always did. */
int
cli_load_config(struct cli *c, const char *path, const char *shown)
{
	FILE *f;
	size_t lineno = 0, cap = 0;
	ssize_t got;
	struct pk_err e;
	struct sbuf out = SBUF_INIT;
	char *l = NULL, iobuf[64 * 1024];
	int failed = 0, nul = 0;

	if ((f = storage_open_read(path, STORAGE_MAX_FILE, &e)) == NULL)
		return -1;
	setvbuf(f, iobuf, _IOFBF, sizeof(iobuf));
	cli_view_set(c, "system");
	c->capture = &out;
	c->no_prompt = 1;
	c->defer_apply = 1;
	cfg_bulk(c->root, 1);
	while (!nul && (got = getline(&l, &cap, f)) > 0) {
		const char *p = l;
		size_t n = (size_t)got;

		if (memchr(l, '\0', n) != NULL) {
			n = strlen(l);
			nul = 1;
		}
		if (n > 0 && l[n - 1] == '\n')
			l[--n] = '\0';
		if (n == 0)
			continue;
		lineno++;
		while (*p == ' ')
			p++;
		if (*p == '#' || *p == '\0')
			continue;
		sbuf_reset(&out);
		if (cli_exec(c, l) != 0) {
			fprintf(stderr, "pkish: %s, line %zu:\n%s\n%s", shown, lineno, l,
			    sbuf_str(&out));
			failed++;
		}
	}
	apply_pending(c);
	cfg_bulk(c->root, 0);
	c->defer_apply = 0;
	c->no_prompt = 0;
	c->capture = NULL;
	sbuf_free(&out);
	fclose(f);
	free(l);
	cli_view_set(c, "user");
	return failed ? -1 : 0;
}

/* 1 when standard error is the systemd journal: JOURNAL_STREAM ("DEV:INODE",
 * set by systemd for a service whose output goes to the journal) names the
 * file standard error is (systemd.exec(5)). Under systemd the daemon's stderr and
 * syslog both reach the journal, so it then logs each message once. */
static int
stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat sb;
	char end;

	if (js == NULL || sscanf(js, "%llu:%llu%c", &dev, &ino, &end) != 2 ||
	    fstat(STDERR_FILENO, &sb) != 0)
		return 0;
	return (unsigned long long)sb.st_dev == dev &&
	    (unsigned long long)sb.st_ino == ino;
}

int
cli_new(struct cli **out, const struct cli_options *o, struct pk_err *e)
{
	struct cli *c = xcalloc(1, sizeof(*c));
	struct sbuf errs = SBUF_INIT;

	*out = NULL;
	c->out = stdout;
	c->interactive = o->interactive;
	c->daemon = o->daemon;
	if (c->daemon && !(c->stderr_journal = stderr_is_journal()))
		openlog("pkish", LOG_PID, LOG_DAEMON);
	if (storage_open(&c->st, o->flash, e) != 0)
		goto fail;
	if (pki_open(&c->pki, c->st, e) != 0)
		goto fail;
	if (pki_load_warnings(c->pki)[0] != '\0')
		fprintf(stderr, "pkish: device store: %s", pki_load_warnings(c->pki));
	{
		struct sbuf rep = SBUF_INIT;

		device_journal_recover(c->pki, c->st, &rep);
		for (char *l = rep.s, *nl; l != NULL && *l; l = nl ? nl + 1 : NULL) {
			nl = strchr(l, '\n');
			fprintf(stderr, "pkish: %.*s\n", nl ? (int)(nl - l) : (int)strlen(l),
			    l);
		}
		sbuf_free(&rep);
	}
	if (device_new(&c->dev, c->st, c->pki, NULL, e) != 0)
		goto fail;
	c->loop = device_loop(c->dev);
	c->root = cfg_new_root();
	c->scratch = match_scratch_new();
	/* The features register their handlers and object kinds; the grammar then
	 * resolves its names among them. */
	for (size_t i = 0; o->features != NULL && o->features[i] != NULL; i++)
		o->features[i](c);
	if (grammar_load(o->schemas, &c->reg, &c->g, &errs) != 0) {
		pk_err_set(e, "invalid grammar in %s:\n%s", o->schemas, sbuf_str(&errs));
		sbuf_free(&errs);
		goto fail;
	}
	c->view = grammar_view(c->g, "user");
	c->node = c->root;
	if (!o->no_startup) {
		char *cfg = storage_path(o->flash, STARTUP_FILE);

		if (access(cfg, F_OK) == 0)
			cli_load_config(c, cfg, "flash:/" STARTUP_FILE);
		free(cfg);
	}
	/* what leaving without save would lose is measured from here */
	remember_saved(c);
	*out = c;
	return 0;
fail:
	cli_free(c);
	return -1;
}

void
cli_free(struct cli *c)
{
	if (c == NULL)
		return;
	device_free(c->dev);
	cfg_free(c->root);
	pki_close(c->pki);
	storage_close(c->st);
	grammar_free(c->g);
	match_scratch_free(c->scratch);
	registry_free(&c->reg);
	free(c->hostname);
	free(c->saved);
	free(c);
}

/* ---- waiting and the daemon ---- */

int
cli_wait_input(struct cli *c, int fd)
{
	return loop_wait(c->loop, fd, -1);
}

int
cli_daemon_run(struct cli *c)
{
	/* the start's garbage (the grammar's XML trees, the configuration's
	 * replay) is freed by now but still held by malloc: a daemon lives
	 * long, give it back (glibc; a third of the idle daemon's own pages) */
	malloc_trim(0);
	return device_daemon_run(c->dev);
}
