/*
 * The registry: what each feature registered from its init (handlers by name,
 * object kinds with their listers, view bindings). The grammar loader resolves the
 * names of the grammar files here and checks the bindings against the grammar; the
 * session asks it for existing objects and for whom to tell about a changed
 * configuration node. None of them knows a feature. Names are borrowed from the
 * caller (literals).
 */
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"

void
registry_add_handler(struct cli_registry *r, const char *name, cli_handler_fn fn)
{
	r->handlers = xrealloc(r->handlers, (r->nhandlers + 1) * sizeof(*r->handlers));
	r->handlers[r->nhandlers].name = name;
	r->handlers[r->nhandlers].fn = fn;
	r->nhandlers++;
}

void
registry_add_object(struct cli_registry *r, const char *kind, cli_list_fn list,
    cli_missing_fn missing, void *arg)
{
	r->objects = xrealloc(r->objects, (r->nobjects + 1) * sizeof(*r->objects));
	r->objects[r->nobjects].kind = kind;
	r->objects[r->nobjects].list = list;
	r->objects[r->nobjects].missing = missing;
	r->objects[r->nobjects].arg = arg;
	r->nobjects++;
}

void
registry_add_view(struct cli_registry *r, const struct cli_view_binding *vb, void *arg)
{
	r->views = xrealloc(r->views, (r->nviews + 1) * sizeof(*r->views));
	r->views[r->nviews].vb = vb;
	r->views[r->nviews].arg = arg;
	r->nviews++;
}

cli_handler_fn
registry_handler(const struct cli_registry *r, const char *name)
{
	for (size_t i = 0; r != NULL && i < r->nhandlers; i++)
		if (strcmp(r->handlers[i].name, name) == 0)
			return r->handlers[i].fn;
	return NULL;
}

const struct reg_object *
registry_object(const struct cli_registry *r, const char *kind)
{
	for (size_t i = 0; r != NULL && i < r->nobjects; i++)
		if (strcmp(r->objects[i].kind, kind) == 0)
			return &r->objects[i];
	return NULL;
}

const struct reg_view *
registry_view(const struct cli_registry *r, const char *view)
{
	for (size_t i = 0; r != NULL && i < r->nviews; i++)
		if (strcmp(r->views[i].vb->view, view) == 0)
			return &r->views[i];
	return NULL;
}

int
registry_check(const struct cli_registry *r, struct sbuf *errors)
{
	int n = 0;

	/* Two features claiming one name would make the grammar's meaning depend on
	 * the order of their inits. */
	for (size_t i = 0; r != NULL && i < r->nhandlers; i++)
		for (size_t k = 0; k < i; k++)
			if (strcmp(r->handlers[i].name, r->handlers[k].name) == 0) {
				sbuf_printf(errors, "registry: handler '%s' is registered "
				    "twice\n", r->handlers[i].name);
				n++;
			}
	for (size_t i = 0; r != NULL && i < r->nobjects; i++)
		for (size_t k = 0; k < i; k++)
			if (strcmp(r->objects[i].kind, r->objects[k].kind) == 0) {
				sbuf_printf(errors, "registry: object kind '%s' is "
				    "registered twice\n", r->objects[i].kind);
				n++;
			}
	for (size_t i = 0; r != NULL && i < r->nviews; i++)
		for (size_t k = 0; k < i; k++)
			if (strcmp(r->views[i].vb->view, r->views[k].vb->view) == 0) {
				sbuf_printf(errors, "registry: view '%s' is bound "
				    "twice\n", r->views[i].vb->view);
				n++;
			}
	return n;
}

void
registry_free(struct cli_registry *r)
{
	free(r->handlers);
	free(r->objects);
	free(r->views);
	memset(r, 0, sizeof(*r));
}
