/*
 * The configuration tree: generic, driven by the grammar.
 *
 * A node is the root (user/system view) or an instance of a named view (pki entity
 * E). A leaf is what one config command set: its id (grammar leaf=), the canonical
 * command text and the matched arguments. Rendering walks the tree in grammar order
 * (leaves by their command's order; sections by their entering command's order,
 * instances in creation order), VRP style: sections separated by '#', children
 * indented one space, closing 'return'. Replaying the rendered text rebuilds an
 * equal tree (cfg_equal), which test/check_cli.c checks as a property.
 *
 * Features read a node only as a typed struct through their view's binding
 * (cfg_bind); the leaf names of a binding were checked against the grammar when
 * it loaded.
 */
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"

/* The instances of one view under a node, by key (case-insensitive, as the
 * console's names): a look-up costs the same with 10 or 100,000 of them. The
 * children array keeps their creation order for rendering. */
struct cfg_index {
	const struct gview *view;
	struct pk_map map;
};

static struct pk_map *
index_of(const struct cfg_node *n, const struct gview *v)
{
	for (size_t i = 0; i < n->nindex; i++)
		if (n->index[i].view == v)
			return &n->index[i].map;
	return NULL;
}

struct cfg_node *
cfg_new_root(void)
{
	return xcalloc(1, sizeof(struct cfg_node));
}

static struct cfg_node *
root_of(struct cfg_node *n)
{
	while (n->parent != NULL)
		n = n->parent;
	return n;
}

/* The arena new blocks of N's tree come from, or NULL (malloc). */
static struct pk_arena *
bulk_arena(struct cfg_node *n)
{
	n = root_of(n);
	if (!n->bulk)
		return NULL;
	if (n->arena == NULL)
		n->arena = xcalloc(1, sizeof(*n->arena));
	return n->arena;
}

void
cfg_bulk(struct cfg_node *root, int on)
{
	root->bulk = on;
}

/* The canonical text of leaf L: after its args in its block. */
static const char *
leaf_text(const struct cfg_leaf *l)
{
	return (const char *)(l->args + l->nargs);
}

static void
leaf_clear(struct cfg_leaf *l)
{
	if (!l->in_arena)
		free(l->args);
	l->args = NULL;
}

/* Fills L for CMD with TEXT and the N args V: one block holds the args, the text
 * and the values of the params (names and keywords stay the grammar's), from
 * ARENA when not NULL. */
static void
leaf_fill(struct cfg_leaf *l, const struct gcmd *cmd, const char *text,
    const struct cli_arg *v, size_t n, struct pk_arena *arena)
{
	size_t size = n * sizeof(struct cli_arg) + strlen(text) + 1;
	char *p;

	for (size_t i = 0; i < n; i++)
		if (!v[i].is_kw)
			size += strlen(v[i].value) + 1;
	l->cmd = cmd;
	l->nargs = (unsigned)n;
	l->in_arena = arena != NULL;
	l->args = arena != NULL ? pk_arena_alloc(arena, size) : xmalloc(size);
	p = (char *)(l->args + n);
	p = stpcpy(p, text) + 1;
	for (size_t i = 0; i < n; i++) {
		l->args[i] = v[i];
		if (!v[i].is_kw) {
			l->args[i].value = p;
			p = stpcpy(p, v[i].value) + 1;
		}
	}
}

void
cfg_free(struct cfg_node *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->nleaves; i++)
		leaf_clear(&n->leaves[i]);
	if (!n->leaves_in_arena)
		free(n->leaves);
	for (size_t i = 0; i < n->nchildren; i++)
		cfg_free(n->children[i]);
	if (!n->children_in_arena)
		free(n->children);
	for (size_t i = 0; i < n->nindex; i++)
		pk_map_clear(&n->index[i].map);
	free(n->index);
	if (n->parent == NULL) {
		/* the root: after every node above, the arena they were in */
		pk_arena_free(n->arena);
		free(n->arena);
	}
	if (n->in_arena)
		return;
	free(n->key);
	free(n->header);
	free(n);
}

/* Grows the array *V (of *CAP elements of SIZE, *IN_ARENA its origin) to hold
 * one more than N: doubled, from the arena A or from malloc. */
static void
grow(void **v, size_t n, size_t *cap, size_t size, unsigned char *in_arena,
    size_t first, struct pk_arena *a)
{
	size_t ncap;
	void *nv;

	if (n < *cap)
		return;
	ncap = *cap ? *cap * 2 : first;
	if (a == NULL && !*in_arena) {
		*v = xrealloc(*v, ncap * size);
	} else {
		nv = a != NULL ? pk_arena_alloc(a, ncap * size) : xmalloc(ncap * size);
		if (n > 0)
			memcpy(nv, *v, n * size);
		if (!*in_arena)
			free(*v);
		*v = nv;
		*in_arena = a != NULL;
	}
	*cap = ncap;
}

struct cfg_node *
cfg_child(struct cfg_node *parent, const struct gview *v, const char *key)
{
	struct pk_map *m = index_of(parent, v);

	return m != NULL && key != NULL ? pk_map_get(m, key) : NULL;
}

struct cfg_node *
cfg_add_child(struct cfg_node *parent, const struct gview *v, const struct gcmd *enter,
    const char *key, const char *header)
{
	struct pk_arena *a = bulk_arena(parent);
	struct cfg_node *c;
	struct pk_map *m;

	if (a != NULL) {
		c = memset(pk_arena_alloc(a, sizeof(*c)), 0, sizeof(*c));
		c->in_arena = 1;
		c->key = pk_arena_strdup(a, key);
		c->header = pk_arena_strdup(a, header);
	} else {
		c = xcalloc(1, sizeof(*c));
		c->key = xstrdup(key);
		c->header = xstrdup(header);
	}
	c->view = v;
	c->enter = enter;
	c->parent = parent;
	grow((void **)&parent->children, parent->nchildren, &parent->capchildren,
	    sizeof(*parent->children), &parent->children_in_arena, 8, a);
	parent->children[parent->nchildren++] = c;
	m = index_of(parent, v);
	if (m == NULL) {
		parent->index = xrealloc(parent->index,
		    (parent->nindex + 1) * sizeof(*parent->index));
		parent->index[parent->nindex].view = v;
		m = &parent->index[parent->nindex++].map;
		pk_map_init(m, 1);
	}
	pk_map_put(m, c->key, c);
	return c;
}

void
cfg_remove_child(struct cfg_node *parent, struct cfg_node *child)
{
	struct pk_map *m = index_of(parent, child->view);

	if (m != NULL && pk_map_get(m, child->key) == child)
		pk_map_del(m, child->key);
	/* the order is kept: one move of the later pointers (a removal is a
	 * single command, never a per-line cost of a configuration) */
	for (size_t i = parent->nchildren; i-- > 0;) {
		if (parent->children[i] != child)
			continue;
		memmove(parent->children + i, parent->children + i + 1,
		    (parent->nchildren - i - 1) * sizeof(*parent->children));
		parent->nchildren--;
		cfg_free(child);
		return;
	}
}

static struct cfg_leaf *
find_leaf(const struct cfg_node *n, const char *id)
{
	/* leaf ids are the grammar's strings, one per name: most callers hold
	 * that string */
	for (size_t i = 0; i < n->nleaves; i++)
		if (n->leaves[i].cmd->leaf == id)
			return &n->leaves[i];
	for (size_t i = 0; i < n->nleaves; i++)
		if (strcmp(n->leaves[i].cmd->leaf, id) == 0)
			return &n->leaves[i];
	return NULL;
}

/* The leaf of N whose id is the grammar's string ID, or NULL. */
static struct cfg_leaf *
find_leaf_id(const struct cfg_node *n, const char *id)
{
	for (size_t i = 0; i < n->nleaves; i++)
		if (n->leaves[i].cmd->leaf == id)
			return &n->leaves[i];
	return NULL;
}

void
cfg_set_leaf(struct cfg_node *n, const struct gcmd *cmd, const char *text,
    const struct cli_args *a)
{
	struct cfg_leaf *l = find_leaf(n, cmd->leaf);
	struct pk_arena *arena = bulk_arena(n);

	if (l != NULL) {
		leaf_clear(l);
	} else {
		grow((void **)&n->leaves, n->nleaves, &n->capleaves, sizeof(*n->leaves),
		    &n->leaves_in_arena, 8, arena);
		l = &n->leaves[n->nleaves++];
	}
	memset(l, 0, sizeof(*l));
	leaf_fill(l, cmd, text, a->v, a->n, arena);
}

int
cfg_unset_leaf(struct cfg_node *n, const char *id)
{
	struct cfg_leaf *l = find_leaf(n, id);

	if (l == NULL)
		return -1;
	leaf_clear(l);
	memmove(l, l + 1, (size_t)((n->leaves + n->nleaves) - (l + 1)) * sizeof(*l));
	n->nleaves--;
	return 0;
}

/* Quotes a value when the tokenizer would split or misread it. */
static void
put_value(struct sbuf *out, const char *v)
{
	/* Outside quotes a backslash is literal; quotes only when the tokenizer
	 * would split or misread the value. */
	int q = *v == '\0' || strpbrk(v, " \t\"?") != NULL;

	if (!q) {
		sbuf_puts(out, v);
		return;
	}
	sbuf_putc(out, '"');
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			sbuf_putc(out, '\\');
		sbuf_putc(out, *v);
	}
	sbuf_putc(out, '"');
}

void
cfg_canonical(const struct cli_args *a, struct sbuf *out)
{
	for (size_t i = 0; i < a->n; i++) {
		if (i)
			sbuf_putc(out, ' ');
		if (a->v[i].is_kw)
			sbuf_puts(out, a->v[i].value);
		else
			put_value(out, a->v[i].value);
	}
}

/* Items of a node (leaves and children) in display order. */
struct item {
	int order;
	size_t seq;
	const struct cfg_leaf *leaf;
	const struct cfg_node *child;
};

static int
item_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static struct item *
items(const struct cfg_node *n, size_t *count)
{
	struct item *v = xcalloc(n->nleaves + n->nchildren + 1, sizeof(*v));
	size_t k = 0;

	for (size_t i = 0; i < n->nleaves; i++, k++) {
		v[k].order = n->leaves[i].cmd->order;
		v[k].seq = k;
		v[k].leaf = &n->leaves[i];
	}
	for (size_t i = 0; i < n->nchildren; i++, k++) {
		v[k].order = n->children[i]->enter->order;
		v[k].seq = k;
		v[k].child = n->children[i];
	}
	qsort(v, k, sizeof(*v), item_cmp);
	*count = k;
	return v;
}

static void
render_node(const struct cfg_node *n, int depth, struct sbuf *out)
{
	size_t k;
	struct item *v = items(n, &k);

	for (size_t i = 0; i < k; i++) {
		if (v[i].leaf != NULL) {
			sbuf_printf(out, "%*s%s\n", depth, "", leaf_text(v[i].leaf));
		} else {
			sbuf_printf(out, "%*s%s\n", depth, "", v[i].child->header);
			render_node(v[i].child, depth + 1, out);
		}
	}
	free(v);
}

void
cfg_render(const struct cfg_node *n, int whole, struct sbuf *out)
{
	size_t k;
	struct item *v;

	if (n->view != NULL) {
		/* display this in a sub-view: just this section */
		sbuf_puts(out, "#\n");
		sbuf_printf(out, "%s\n", n->header);
		render_node(n, 1, out);
		sbuf_puts(out, "#\nreturn\n");
		return;
	}
	v = items(n, &k);
	sbuf_puts(out, "#\n");
	for (size_t i = 0; i < k; i++) {
		if (v[i].leaf != NULL) {
			if (i > 0 && v[i - 1].child != NULL)
				sbuf_puts(out, "#\n");
			sbuf_printf(out, "%s\n", leaf_text(v[i].leaf));
		} else if (whole) {
			if (i > 0)
				sbuf_puts(out, "#\n");
			sbuf_printf(out, "%s\n", v[i].child->header);
			render_node(v[i].child, 1, out);
		}
	}
	if (k > 0)
		sbuf_puts(out, "#\n");
	sbuf_puts(out, "return\n");
	free(v);
}

static int
leaf_equal(const struct cfg_leaf *a, const struct cfg_leaf *b)
{
	if (strcmp(a->cmd->leaf, b->cmd->leaf) != 0 ||
	    strcmp(leaf_text(a), leaf_text(b)) != 0 ||
	    a->nargs != b->nargs)
		return 0;
	for (size_t i = 0; i < a->nargs; i++)
		if (strcmp(a->args[i].name, b->args[i].name) != 0 ||
		    strcmp(a->args[i].value, b->args[i].value) != 0)
			return 0;
	return 1;
}

int
cfg_equal(const struct cfg_node *a, const struct cfg_node *b)
{
	if ((a->view == NULL) != (b->view == NULL) ||
	    (a->view != NULL && strcmp(a->view->name, b->view->name) != 0) ||
	    a->nleaves != b->nleaves ||
	    a->nchildren != b->nchildren)
		return 0;
	if ((a->key == NULL) != (b->key == NULL) ||
	    (a->key != NULL && strcmp(a->key, b->key) != 0))
		return 0;
	for (size_t i = 0; i < a->nleaves; i++) {
		const struct cfg_leaf *l = find_leaf(b, a->leaves[i].cmd->leaf);

		if (l == NULL || !leaf_equal(&a->leaves[i], l))
			return 0;
	}
	/* Sections of different kinds render in grammar order whatever their
	 * creation order, so children are matched by (view, key). */
	for (size_t i = 0; i < a->nchildren; i++) {
		const struct cfg_node *o = NULL;

		/* the trees may come from two loads of the grammar: views match
		 * by name */
		for (size_t k = 0; k < b->nindex && o == NULL; k++)
			if (strcmp(b->index[k].view->name,
			    a->children[i]->view->name) == 0)
				o = pk_map_get(&b->index[k].map, a->children[i]->key);
		if (o == NULL || !cfg_equal(a->children[i], o))
			return 0;
	}
	return 1;
}

/* ---- typed access (bindings) ---- */

int
cfg_leaf_set(const struct cfg_node *n, const char *id)
{
	return n != NULL && find_leaf(n, id) != NULL;
}

/* The argument of leaf L named NAME: a param (kw 0) or a keyword (kw 1). */
static const struct cli_arg *
leaf_arg(const struct cfg_leaf *l, int kw, const char *name)
{
	for (size_t i = 0; l != NULL && i < l->nargs; i++)
		if (l->args[i].is_kw == kw && strcmp(l->args[i].name, name) == 0)
			return &l->args[i];
	return NULL;
}

void
cfg_bind(const struct cfg_node *n, const struct cli_view_binding *vb, void *obj)
{
	/* the view's leaves of VB's fields, resolved when the grammar loaded */
	const char *const *ids = n->view != NULL && n->view->bind_vb == vb ?
	    n->view->bind_leaf : NULL;

	memset(obj, 0, vb->size);
	if (vb->init != NULL)
		vb->init(obj);
	for (size_t i = 0; i < vb->nfields; i++) {
		const struct cli_binding *f = &vb->fields[i];
		char *field = (char *)obj + f->offset;
		const struct cfg_leaf *l = f->leaf == NULL ? NULL : ids != NULL ?
		    find_leaf_id(n, ids[i]) : find_leaf(n, f->leaf);
		const struct cli_arg *a;

		switch (f->type) {
		case CLI_BIND_KEY:
			*(const char **)(void *)field = n->key;
			break;
		case CLI_BIND_STR:
			/* unset: the default stays (two params of a choice may fill one
			 * field) */
			if ((a = leaf_arg(l, 0, f->name)) != NULL)
				*(const char **)(void *)field = a->value;
			break;
		case CLI_BIND_INT:
			/* the grammar checked the range; unset: the default stays */
			if ((a = leaf_arg(l, 0, f->name)) != NULL)
				*(int *)(void *)field = atoi(a->value);
			break;
		case CLI_BIND_KW:
			*(int *)(void *)field = leaf_arg(l, 1, f->name) != NULL;
			break;
		case CLI_BIND_SET:
			*(int *)(void *)field = l != NULL;
			break;
		}
	}
}

int
cfg_leaf_update(struct cfg_node *n, const char *id, const char *name,
    const char *value)
{
	struct cfg_leaf *l = find_leaf(n, id);
	const struct cli_arg *arg = leaf_arg(l, 0, name);
	struct cfg_leaf nl;
	struct cli_arg *v;
	struct cli_args a;
	struct sbuf t = SBUF_INIT;

	if (arg == NULL)
		return -1;
	/* a new block with the new value (the old one holds the old value) */
	v = xcalloc(l->nargs + 1, sizeof(*v));
	memcpy(v, l->args, l->nargs * sizeof(*v));
	v[arg - l->args].value = value;
	a.v = v;
	a.n = l->nargs;
	cfg_canonical(&a, &t);
	leaf_fill(&nl, l->cmd, sbuf_str(&t), v, a.n, bulk_arena(n));
	leaf_clear(l);
	*l = nl;
	sbuf_free(&t);
	free(v);
	return 0;
}
