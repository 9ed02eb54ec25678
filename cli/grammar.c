/*
 * Grammar loading: read every .xml file of DIR, validate each against DIR/cli.xsd, check
 * the whole grammar, then build the immutable model the matcher walks.
 *
 * Files are parsed with XML_PARSE_NONET and without entity substitution; a document
 * with a DTD (internal or external subset) is refused, which keeps out XXE and
 * entity-expansion ("billion laughs") files. Every problem is reported as
 * "file:line: message" and the load fails as a whole.
 *
 * Each command compiles to a small NFA (Thompson construction): keyword and param
 * nodes, split nodes for <optional> and <choice>, and an end node naming the
 * command. A command with undo="yes" also gets its "undo ..." form.
 *
 * Names come from the registry the features filled (handlers, object kinds); each
 * view binding a feature registered is checked here: its view, leaves and
 * parameters must exist, or the load fails naming the view's (or the leaf
 * command's) file:line.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>

#include "../storage/storage.h"
#include "cli_int.h"

struct loader {
	struct grammar *g;
	const struct cli_registry *reg;
	struct sbuf *errors;
	int nerr;
	const char *file;
};

static void
lerr(struct loader *l, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
lerr(struct loader *l, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	sbuf_printf(l->errors, "%s:%d: ", file, line);
	va_start(ap, fmt);
	sbuf_vprintf(l->errors, fmt, ap);
	va_end(ap);
	sbuf_putc(l->errors, '\n');
	l->nerr++;
}

static void
xml_error(void *arg, xmlErrorPtr err)
{
	struct loader *l = arg;
	char msg[512];
	size_t n;

	if (err == NULL || err->level == XML_ERR_WARNING)
		return;
	snprintf(msg, sizeof(msg), "%s", err->message ? err->message : "XML error");
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	lerr(l, err->file ? err->file : l->file, err->line, "%s", msg);
}

static char *
gstr(struct grammar *g, const char *s)
{
	g->strings = xrealloc(g->strings, (g->nstrings + 1) * sizeof(char *));
	g->strings[g->nstrings] = xstrdup(s);
	return g->strings[g->nstrings++];
}

static char *
attr(xmlNode *n, const char *name)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
	char *s;

	if (v == NULL)
		return NULL;
	s = xstrdup((const char *)v);
	xmlFree(v);
	return s;
}

static int
is_el(xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static int
new_node(struct grammar *g, enum gnode_kind kind)
{
	if (g->nnodes == g->capnodes) {
		g->capnodes = g->capnodes ? g->capnodes * 2 : 64;
		g->nodes = xrealloc(g->nodes, g->capnodes * sizeof(*g->nodes));
	}
	memset(&g->nodes[g->nnodes], 0, sizeof(g->nodes[0]));
	g->nodes[g->nnodes].kind = kind;
	return (int)g->nnodes++;
}

static void
node_out(struct grammar *g, int id, int next)
{
	struct gnode *n = &g->nodes[id];

	n->out = xrealloc(n->out, (n->nout + 1) * sizeof(int));
	n->out[n->nout++] = next;
}

static struct gparam *
load_param(struct loader *l, xmlNode *x)
{
	struct gparam *p = xcalloc(1, sizeof(*p));
	char *t = attr(x, "type"), *v;
	int line = xmlGetLineNo(x);

	l->g->params = xrealloc(l->g->params, (l->g->nparams + 1) * sizeof(*p));
	l->g->params[l->g->nparams++] = p;
	p->name = attr(x, "name");
	p->help = attr(x, "help");
	p->forbid = attr(x, "forbid");
	p->object = attr(x, "object");
	p->ask = attr(x, "ask");
	if (strcmp(t, "integer") == 0)
		p->type = GT_INTEGER;
	else if (strcmp(t, "ipv4") == 0)
		p->type = GT_IPV4;
	else if (strcmp(t, "ipv6") == 0)
		p->type = GT_IPV6;
	else if (strcmp(t, "url") == 0)
		p->type = GT_URL;
	else if (strcmp(t, "secret") == 0)
		p->type = GT_SECRET;
	else
		p->type = GT_STRING;
	free(t);
	if ((v = attr(x, "min")) != NULL) {
		p->min = strtoll(v, NULL, 10);
		p->has_min = 1;
		free(v);
	}
	if ((v = attr(x, "max")) != NULL) {
		p->max = strtoll(v, NULL, 10);
		p->has_max = 1;
		free(v);
	}
	if ((v = attr(x, "nocase")) != NULL) {
		p->nocase = strcmp(v, "yes") == 0;
		free(v);
	}
	if ((v = attr(x, "charset")) != NULL) {
		if (strcmp(v, "alpha") == 0)
			p->charset = GC_ALPHA;
		else if (strcmp(v, "alnum") == 0)
			p->charset = GC_ALNUM;
		else if (strcmp(v, "filename") == 0)
			p->charset = GC_FILENAME;
		free(v);
	}
	if ((p->type == GT_STRING || p->type == GT_INTEGER || p->type == GT_URL ||
	    p->type == GT_SECRET) && (!p->has_min || !p->has_max))
		lerr(l, l->file, line, "param '%s' needs min and max", p->name);
	if (p->has_min && p->has_max && p->min > p->max)
		lerr(l, l->file, line, "param '%s': min %lld is above max %lld",
		    p->name, p->min, p->max);
	if ((p->type == GT_STRING || p->type == GT_URL || p->type == GT_SECRET) &&
	    p->has_min && p->min < 0)
		lerr(l, l->file, line, "param '%s': a length cannot be negative",
		    p->name);
	/* object="view-V": the instances of view V; else a kind some feature
	 * registered */
	/* Instances of a view are named case-insensitively (cfg_child). */
	if (p->object != NULL && strncmp(p->object, "view-", 5) == 0)
		p->nocase = 1;
	if (p->object != NULL && (strncmp(p->object, "view-", 5) == 0 ?
	    grammar_view(l->g, p->object + 5) == NULL :
	    registry_object(l->reg, p->object) == NULL))
		lerr(l, l->file, line, "param '%s': unknown object kind '%s'",
		    p->name, p->object);
	if (p->ask != NULL && p->type != GT_SECRET)
		lerr(l, l->file, line, "param '%s': 'ask' is only for secrets", p->name);
	return p;
}

/* Compiles the sequence of children of X; returns the entry node, which leads to
 * NEXT. */
static int compile_seq(struct loader *l, xmlNode *first, int next);

static int
compile_one(struct loader *l, xmlNode *x, int next)
{
	struct grammar *g = l->g;
	int id;

	if (is_el(x, "kw")) {
		char *name = attr(x, "name"), *help = attr(x, "help");

		id = new_node(g, GN_KW);
		g->nodes[id].kw = gstr(g, name);
		g->nodes[id].help = gstr(g, help);
		free(name);
		free(help);
		node_out(g, id, next);
		return id;
	}
	if (is_el(x, "param")) {
		struct gparam *p = load_param(l, x);

		id = new_node(g, GN_PARAM);
		g->nodes[id].param = p;
		node_out(g, id, next);
		return id;
	}
	if (is_el(x, "optional")) {
		int body = compile_seq(l, x->children, next);

		id = new_node(g, GN_SPLIT);
		node_out(g, id, body);
		node_out(g, id, next);
		return id;
	}
	if (is_el(x, "seq"))
		return compile_seq(l, x->children, next);
	if (is_el(x, "choice")) {
		int alts[64], nalts = 0;

		for (xmlNode *c = x->children; c != NULL; c = c->next)
			if (c->type == XML_ELEMENT_NODE && nalts < 64)
				alts[nalts++] = compile_one(l, c, next);
		id = new_node(g, GN_SPLIT);
		for (int i = 0; i < nalts; i++)
			node_out(g, id, alts[i]);
		return id;
	}
	lerr(l, l->file, xmlGetLineNo(x), "unexpected element <%s>", x->name);
	return next;
}

static int
compile_seq(struct loader *l, xmlNode *first, int next)
{
	xmlNode *els[256];
	int n = 0, cur = next;

	for (xmlNode *c = first; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE && n < 256)
			els[n++] = c;
	for (int i = n - 1; i >= 0; i--)
		cur = compile_one(l, els[i], cur);
	return cur;
}

/* Params named anywhere in a command (for key= checks). */
static int
has_param(xmlNode *x, const char *name)
{
	for (xmlNode *c = x->children; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (is_el(c, "param")) {
			char *n = attr(c, "name");
			int eq = strcmp(n, name) == 0;

			free(n);
			if (eq)
				return 1;
		} else if (has_param(c, name)) {
			return 1;
		}
	}
	return 0;
}

struct gview *
grammar_view(const struct grammar *g, const char *name)
{
	for (size_t i = 0; i < g->nviews; i++)
		if (strcmp(g->views[i]->name, name) == 0)
			return g->views[i];
	return NULL;
}

int
gcmd_in_view(const struct gcmd *cmd, const struct gview *v)
{
	if (cmd->all_views)
		return 1;
	for (size_t i = 0; i < cmd->nviews; i++)
		if (strcmp(cmd->views[i], v->name) == 0)
			return 1;
	return 0;
}

static cli_handler_fn
resolve(struct loader *l, xmlNode *x, const char *attrname)
{
	char *name = attr(x, attrname);
	cli_handler_fn fn;

	if (name == NULL)
		return NULL;
	fn = registry_handler(l->reg, name);
	if (fn == NULL)
		lerr(l, l->file, xmlGetLineNo(x), "unknown handler '%s'", name);
	free(name);
	return fn;
}

static struct gcmd *
new_cmd(struct grammar *g)
{
	struct gcmd *c = xcalloc(1, sizeof(*c));

	g->cmds = xrealloc(g->cmds, (g->ncmds + 1) * sizeof(*c));
	c->order = (int)g->ncmds;
	g->cmds[g->ncmds++] = c;
	return c;
}

static void
load_command(struct loader *l, xmlNode *x)
{
	struct grammar *g = l->g;
	struct gcmd *cmd = new_cmd(g);
	char *views = attr(x, "views"), *enter, *undo, *save = NULL;
	int line = xmlGetLineNo(x);
	int end;

	cmd->file = xstrdup(l->file);
	cmd->line = line;
	for (char *tok = strtok_r(views, " \t\n", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t\n", &save)) {
		if (strcmp(tok, "*") == 0) {
			cmd->all_views = 1;
			continue;
		}
		if (grammar_view(g, tok) == NULL)
			lerr(l, l->file, line, "unknown view '%s'", tok);
		cmd->views = xrealloc(cmd->views, (cmd->nviews + 1) * sizeof(char *));
		cmd->views[cmd->nviews++] = xstrdup(tok);
	}
	free(views);
	cmd->handler = resolve(l, x, "handler");
	cmd->check = resolve(l, x, "check");
	{
		/* one string per leaf name, shared by the commands that set it:
		 * the configuration tree and the bindings compare leaves by
		 * pointer */
		char *leaf = attr(x, "leaf");

		if (leaf != NULL) {
			for (size_t i = 0; i + 1 < g->ncmds && cmd->leaf == NULL; i++)
				if (g->cmds[i]->leaf != NULL &&
				    strcmp(g->cmds[i]->leaf, leaf) == 0)
					cmd->leaf = g->cmds[i]->leaf;
			if (cmd->leaf == NULL)
				cmd->leaf = gstr(g, leaf);
			free(leaf);
		}
	}
	cmd->key = attr(x, "key");
	enter = attr(x, "enter");
	if (enter != NULL) {
		cmd->enter = grammar_view(g, enter);
		if (cmd->enter == NULL)
			lerr(l, l->file, line, "unknown view '%s' to enter", enter);
		else if (cmd->enter->enter_cmd != NULL)
			lerr(l, l->file, line, "view '%s' is entered by two commands",
			    enter);
		else
			cmd->enter->enter_cmd = cmd;
		free(enter);
	}
	{
		char *h = attr(x, "handler");
		int kinds = (h != NULL) + (cmd->leaf != NULL) + (cmd->enter != NULL ||
		    cmd->key != NULL);

		free(h);
		if (kinds != 1)
			lerr(l, l->file, line, "a command needs exactly one of handler, "
			    "leaf, or enter with key");
	}
	if ((cmd->enter != NULL) != (cmd->key != NULL))
		lerr(l, l->file, line, "enter and key go together");
	if (cmd->key != NULL && !has_param(x, cmd->key))
		lerr(l, l->file, line, "key '%s' names no param of the command", cmd->key);
	end = new_node(g, GN_END);
	g->nodes[end].cmd = cmd;
	cmd->start = compile_seq(l, x->children, end);

	undo = attr(x, "undo");
	if (undo != NULL && strcmp(undo, "yes") == 0) {
		struct gcmd *u;
		int uend, cur, kw;
		xmlNode *els[64];
		int n = 0;

		if (cmd->leaf == NULL && cmd->enter == NULL)
			lerr(l, l->file, line, "undo is for leaf and view commands");
		u = new_cmd(g);
		*u = *cmd;
		u->order = (int)g->ncmds - 1;
		u->undo = 1;
		u->base = cmd;
		u->views = xcalloc(cmd->nviews + 1, sizeof(char *));
		for (size_t i = 0; i < cmd->nviews; i++)
			u->views[i] = xstrdup(cmd->views[i]);
		u->file = xstrdup(l->file);
		u->leaf = cmd->leaf;
		u->key = cmd->key ? xstrdup(cmd->key) : NULL;
		u->handler = NULL;
		uend = new_node(g, GN_END);
		g->nodes[uend].cmd = u;
		/* undo + leading keywords (+ the key param for a view) */
		for (xmlNode *c = x->children; c != NULL && n < 64; c = c->next) {
			if (c->type != XML_ELEMENT_NODE)
				continue;
			if (is_el(c, "kw")) {
				els[n++] = c;
				continue;
			}
			if (cmd->enter != NULL && is_el(c, "param"))
				els[n++] = c;
			break;
		}
		cur = uend;
		for (int i = n - 1; i >= 0; i--)
			cur = compile_one(l, els[i], cur);
		kw = new_node(g, GN_KW);
		g->nodes[kw].kw = gstr(g, "undo");
		g->nodes[kw].help = gstr(g, "Cancel current configuration");
		node_out(g, kw, cur);
		u->start = kw;
	}
	free(undo);
}

static void
load_view(struct loader *l, xmlNode *x)
{
	struct grammar *g = l->g;
	struct gview *v = xcalloc(1, sizeof(*v));

	v->name = attr(x, "name");
	v->parent_name = attr(x, "parent");
	v->title = attr(x, "title");
	v->prompt = attr(x, "prompt");
	v->noun = attr(x, "noun");
	v->order = (int)g->nviews;
	v->file = xstrdup(l->file);
	v->line = xmlGetLineNo(x);
	if (grammar_view(g, v->name) != NULL)
		lerr(l, l->file, xmlGetLineNo(x), "view '%s' declared twice", v->name);
	g->views = xrealloc(g->views, (g->nviews + 1) * sizeof(v));
	g->views[g->nviews++] = v;
}

/* Node N of CMD's NFA (before its end) that is keyword NAME (kw) or param NAME. */
static const struct gnode *
cmd_node(const struct grammar *g, const struct gcmd *cmd, int kw, const char *name)
{
	unsigned char *seen = xcalloc(g->nnodes + 1, 1);
	int *stack = xmalloc((g->nnodes + 1) * sizeof(int));
	const struct gnode *found = NULL;
	size_t sp = 0;

	stack[sp++] = cmd->start;
	while (sp > 0 && found == NULL) {
		int id = stack[--sp];
		const struct gnode *n = &g->nodes[id];

		if (seen[id])
			continue;
		seen[id] = 1;
		if (kw && n->kind == GN_KW && strcmp(n->kw, name) == 0)
			found = n;
		if (!kw && n->kind == GN_PARAM && strcmp(n->param->name, name) == 0)
			found = n;
		for (size_t i = 0; i < n->nout; i++)
			if (!seen[n->out[i]])
				stack[sp++] = n->out[i];
	}
	free(stack);
	free(seen);
	return found;
}

/* The param of CMD that asks for its value when omitted, or NULL: found once,
 * as the session needs it for every configuration line. */
static const struct gparam *
cmd_ask_param(const struct grammar *g, const struct gcmd *cmd)
{
	unsigned char *seen = xcalloc(g->nnodes + 1, 1);
	int *stack = xmalloc((g->nnodes + 1) * sizeof(int));
	const struct gparam *found = NULL;
	size_t sp = 0;

	stack[sp++] = cmd->start;
	seen[cmd->start] = 1;
	while (sp > 0 && found == NULL) {
		const struct gnode *n = &g->nodes[stack[--sp]];

		if (n->kind == GN_PARAM && n->param->ask != NULL)
			found = n->param;
		for (size_t i = 0; i < n->nout; i++)
			if (!seen[n->out[i]]) {
				seen[n->out[i]] = 1;
				stack[sp++] = n->out[i];
			}
	}
	free(stack);
	free(seen);
	return found;
}

/* Every binding a feature registered names a view, leaf and parameter the grammar
 * has (a renamed leaf would otherwise read as "unset" for ever). */
static void
check_bindings(struct loader *l, const char *dir)
{
	const struct grammar *g = l->g;

	for (size_t i = 0; l->reg != NULL && i < l->reg->nviews; i++) {
		const struct cli_view_binding *vb = l->reg->views[i].vb;
		struct gview *v = grammar_view(g, vb->view);

		if (v == NULL) {
			lerr(l, dir, 0, "a binding names the view '%s' that no grammar "
			    "file declares", vb->view);
			continue;
		}
		/* each field's leaf as the grammar's string (cfg_bind) */
		v->bind_vb = vb;
		free(v->bind_leaf);	/* a view bound twice fails the load */
		v->bind_leaf = xcalloc(vb->nfields + 1, sizeof(*v->bind_leaf));
		for (size_t k = 0; k < vb->nfields; k++) {
			const struct cli_binding *f = &vb->fields[k];
			const struct gcmd *cmd = NULL, *with = NULL;
			int kw = f->type == CLI_BIND_KW;

			if (f->type == CLI_BIND_KEY) {
				if (v->enter_cmd == NULL)
					lerr(l, v->file, v->line, "view '%s' has no "
					    "instances, but a binding reads their key",
					    v->name);
				continue;
			}
			for (size_t c = 0; c < g->ncmds && with == NULL; c++) {
				const struct gcmd *gc = g->cmds[c];

				if (gc->undo || gc->leaf == NULL ||
				    strcmp(gc->leaf, f->leaf) != 0 || !gcmd_in_view(gc, v))
					continue;
				cmd = gc;
				if (f->type == CLI_BIND_SET ||
				    cmd_node(g, gc, kw, f->name) != NULL)
					with = gc;
			}
			if (cmd != NULL)
				v->bind_leaf[k] = cmd->leaf;
			if (cmd == NULL) {
				lerr(l, v->file, v->line, "view '%s' has no leaf '%s' (a "
				    "binding reads it)", v->name, f->leaf);
			} else if (with == NULL) {
				lerr(l, cmd->file, cmd->line, "leaf '%s' of view '%s' has "
				    "no %s '%s' (a binding reads it)", f->leaf, v->name,
				    kw ? "keyword" : "parameter", f->name);
			} else if (f->type == CLI_BIND_INT &&
			    cmd_node(g, with, 0, f->name)->param->type != GT_INTEGER) {
				lerr(l, with->file, with->line, "parameter '%s' of leaf "
				    "'%s' is not an integer (a binding reads a number)",
				    f->name, f->leaf);
			}
		}
	}
}

static int
xml_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static long
doc_rank(xmlDoc *d)
{
	char *r = attr(xmlDocGetRootElement(d), "rank");
	long v = r ? strtol(r, NULL, 10) : 100;

	free(r);
	return v;
}

/* Reads and validates one file; returns the document or NULL. */
static xmlDoc *
read_valid(struct loader *l, xmlSchemaPtr schema, const char *path)
{
	xmlParserCtxtPtr pctx = xmlNewParserCtxt();
	xmlDoc *doc;
	xmlSchemaValidCtxtPtr vctx;
	int before = l->nerr;

	l->file = path;
	if (pctx == NULL)
		return NULL;
	doc = xmlCtxtReadFile(pctx, path, NULL, XML_PARSE_NONET | XML_PARSE_NOCDATA);
	xmlFreeParserCtxt(pctx);
	if (doc == NULL) {
		if (l->nerr == before)
			lerr(l, path, 0, "cannot parse the file");
		return NULL;
	}
	if (doc->intSubset != NULL || doc->extSubset != NULL) {
		lerr(l, path, doc->intSubset ? xmlGetLineNo((xmlNode *)doc->intSubset) : 1,
		    "a DOCTYPE (DTD, entities) is not allowed in a grammar file");
		xmlFreeDoc(doc);
		return NULL;
	}
	vctx = xmlSchemaNewValidCtxt(schema);
	xmlSchemaSetValidStructuredErrors(vctx, xml_error, l);
	if (xmlSchemaValidateDoc(vctx, doc) != 0 && l->nerr == before)
		lerr(l, path, 0, "the file does not validate against cli.xsd");
	xmlSchemaFreeValidCtxt(vctx);
	if (l->nerr != before) {
		xmlFreeDoc(doc);
		return NULL;
	}
	return doc;
}

int
grammar_load(const char *dir, const struct cli_registry *reg, struct grammar **out,
    struct sbuf *errors)
{
	struct loader l = { 0 };
	struct grammar *g = xcalloc(1, sizeof(*g));
	char *xsd = storage_path(dir, "cli.xsd");
	xmlSchemaParserCtxtPtr sp = NULL;
	xmlSchemaPtr schema = NULL;
	char **files = NULL;
	size_t nfiles = 0;
	xmlDoc **docs = NULL;
	DIR *d;
	struct dirent *de;

	*out = NULL;
	l.g = g;
	l.reg = reg;
	l.errors = errors;
	l.nerr = registry_check(reg, errors);
	xmlSetStructuredErrorFunc(&l, xml_error);
	l.file = xsd;
	sp = xmlSchemaNewParserCtxt(xsd);
	if (sp != NULL)
		schema = xmlSchemaParse(sp);
	if (schema == NULL) {
		if (l.nerr == 0)
			lerr(&l, xsd, 0, "cannot load the grammar schema");
		goto out;
	}
	d = opendir(dir);
	if (d == NULL) {
		lerr(&l, dir, 0, "cannot open the grammar directory");
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (n > 4 && strcmp(de->d_name + n - 4, ".xml") == 0) {
			files = xrealloc(files, (nfiles + 1) * sizeof(char *));
			files[nfiles++] = storage_path(dir, de->d_name);
		}
	}
	closedir(d);
	if (nfiles == 0) {
		lerr(&l, dir, 0, "no grammar files (*.xml)");
		goto out;
	}
	qsort(files, nfiles, sizeof(char *), xml_name_cmp);
	docs = xcalloc(nfiles, sizeof(*docs));
	for (size_t i = 0; i < nfiles; i++)
		docs[i] = read_valid(&l, schema, files[i]);
	if (l.nerr)
		goto out;
	/* Rank order (then name): the order of loading and of display sections. */
	for (size_t i = 1; i < nfiles; i++)
		for (size_t k = i; k > 0 && doc_rank(docs[k]) < doc_rank(docs[k - 1]); k--) {
			xmlDoc *doc = docs[k];
			char *f = files[k];

			docs[k] = docs[k - 1];
			files[k] = files[k - 1];
			docs[k - 1] = doc;
			files[k - 1] = f;
		}
	/* Views of all files first, so commands may name views of other files. */
	for (size_t i = 0; i < nfiles; i++) {
		l.file = files[i];
		for (xmlNode *x = xmlDocGetRootElement(docs[i])->children; x; x = x->next)
			if (is_el(x, "view"))
				load_view(&l, x);
	}
	for (size_t i = 0; i < g->nviews; i++) {
		struct gview *v = g->views[i];

		if (v->parent_name != NULL) {
			v->parent = grammar_view(g, v->parent_name);
			if (v->parent == NULL)
				lerr(&l, "grammar", 0, "view '%s': unknown parent '%s'",
				    v->name, v->parent_name);
		}
	}
	if (grammar_view(g, "user") == NULL || grammar_view(g, "system") == NULL)
		lerr(&l, dir, 0, "the views 'user' and 'system' must be declared");
	for (size_t i = 0; i < nfiles; i++) {
		l.file = files[i];
		for (xmlNode *x = xmlDocGetRootElement(docs[i])->children; x; x = x->next)
			if (is_el(x, "command"))
				load_command(&l, x);
	}
	for (size_t i = 0; i < g->nviews; i++) {
		struct gview *v = g->views[i];

		if (v->parent != NULL && v->parent->parent != NULL && v->enter_cmd == NULL)
			lerr(&l, "grammar", 0, "view '%s' has no command entering it",
			    v->name);
	}
	check_bindings(&l, dir);
	if (l.nerr == 0) {
		for (size_t i = 0; i < g->ncmds; i++)
			g->cmds[i]->ask = cmd_ask_param(g, g->cmds[i]);
		match_prepare(g);
	}
out:
	xmlSetStructuredErrorFunc(NULL, NULL);
	for (size_t i = 0; i < nfiles; i++) {
		if (docs != NULL && docs[i] != NULL)
			xmlFreeDoc(docs[i]);
		free(files[i]);
	}
	free(docs);
	free(files);
	xmlSchemaFree(schema);
	xmlSchemaFreeParserCtxt(sp);
	free(xsd);
	if (l.nerr) {
		grammar_free(g);
		return -1;
	}
	*out = g;
	return 0;
}

void
grammar_free(struct grammar *g)
{
	if (g == NULL)
		return;
	for (size_t i = 0; i < g->nnodes; i++)
		free(g->nodes[i].out);
	free(g->nodes);
	for (size_t i = 0; i < g->ncmds; i++) {
		struct gcmd *c = g->cmds[i];

		for (size_t k = 0; k < c->nviews; k++)
			free(c->views[k]);
		free(c->views);
		free(c->key);
		free(c->file);
		free(c);
	}
	free(g->cmds);
	for (size_t i = 0; i < g->nviews; i++) {
		struct gview *v = g->views[i];

		free(v->name);
		free(v->parent_name);
		free(v->title);
		free(v->prompt);
		free(v->noun);
		free(v->file);
		free(v->start);
		free(v->bind_leaf);
		for (size_t k = 0; k < v->nfirst; k++) {
			free(v->first[k].from);
			free(v->first[k].node);
			free(v->first[k].via);
		}
		free(v->first);
		free(v);
	}
	free(g->views);
	for (size_t i = 0; i < g->nparams; i++) {
		struct gparam *p = g->params[i];

		free(p->name);
		free(p->help);
		free(p->forbid);
		free(p->object);
		free(p->ask);
		free(p);
	}
	free(g->params);
	for (size_t i = 0; i < g->nstrings; i++)
		free(g->strings[i]);
	free(g->strings);
	free(g);
}
