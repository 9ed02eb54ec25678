/*
 * cli internals shared by the files of the cli module only (grammar model,
 * registry, matcher, config tree, session). Other modules use cli.h.
 */
#ifndef PKISH_CLI_INT_H
#define PKISH_CLI_INT_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "cli.h"

struct device;
struct loop;


/* ---- grammar model ---- */

enum gtype { GT_STRING, GT_INTEGER, GT_IPV4, GT_IPV6, GT_URL, GT_SECRET };
enum gcharset { GC_ANY, GC_ALPHA, GC_ALNUM, GC_FILENAME };

struct gparam {
	char *name;
	char *help;
	enum gtype type;
	long long min, max;
	int has_min, has_max;
	char *forbid;
	enum gcharset charset;
	char *object;		/* kind of existing object, or NULL */
	int nocase;
	char *ask;		/* secret prompt when omitted, or NULL */
};

enum gnode_kind { GN_KW, GN_PARAM, GN_SPLIT, GN_END };

struct gnode {
	enum gnode_kind kind;
	const char *kw;		/* GN_KW: keyword (borrowed from the grammar strings) */
	const char *help;	/* GN_KW */
	struct gparam *param;	/* GN_PARAM */
	int *out;		/* successors (GN_SPLIT: epsilon edges) */
	size_t nout;
	struct gcmd *cmd;	/* GN_END */
};

struct gview {
	char *name;
	char *parent_name;
	struct gview *parent;
	char *title;
	char *prompt;
	char *noun;
	int order;
	struct gcmd *enter_cmd;	/* the command that enters this view */
	char *file;		/* where it is declared */
	int line;
	/* built once the grammar is loaded (match_prepare), read for every line: */
	int *start;		/* the nodes a line starts from (splits followed) */
	size_t nstart;
	struct gfirst *first;	/* the threads after each first keyword, by keyword */
	size_t nfirst;
	int param_first;	/* a command of the view starts with a parameter */
	int has_secret;		/* a secret param is reachable from its commands */
	int secret_first;	/* a command of the view starts with a secret param */
	/* the binding of the view (grammar_load) and its fields' leaves as the
	 * grammar's strings (NULL: the key), so cfg_bind compares pointers */
	const struct cli_view_binding *bind_vb;
	const char **bind_leaf;
};

/* What the matcher's first step gives for a line whose first word is exactly
 * keyword KW (any case): the start nodes it matched (FROM, in start order) and
 * the threads it leads to (NODE[i], having matched FROM[VIA[i]]). */
struct gfirst {
	const char *kw;
	int *from;
	size_t nfrom;
	int *node, *via;
	size_t n;
};

struct gcmd {
	int order;		/* grammar order: display order of leaves/sections */
	char **views;		/* view names; "*" = all */
	size_t nviews;
	int all_views;
	cli_handler_fn handler;
	cli_handler_fn check;
	const char *leaf;	/* one string per leaf name (pointers compare) */
	struct gview *enter;
	char *key;		/* enter: the param naming the instance */
	int undo;		/* this is the generated undo form */
	struct gcmd *base;	/* undo form: the command it undoes */
	int start;		/* first node */
	const struct gparam *ask;	/* the param asked for when omitted (a
					 * secret with ask=), or NULL */
	char *file;
	int line;
};

struct grammar {
	struct gnode *nodes;
	size_t nnodes, capnodes;
	struct gcmd **cmds;
	size_t ncmds;
	struct gview **views;
	size_t nviews;
	struct gparam **params;
	size_t nparams;
	char **strings;		/* owned strings the nodes borrow */
	size_t nstrings;
};

struct gview *grammar_view(const struct grammar *g, const char *name);
int gcmd_in_view(const struct gcmd *cmd, const struct gview *v);

/* ---- registry (registry.c): what the features registered ---- */

struct reg_handler {
	const char *name;
	cli_handler_fn fn;
};

struct reg_object {
	const char *kind;
	cli_list_fn list;
	cli_exists_fn exists;
	cli_missing_fn missing;
	void *arg;
};

struct reg_view {
	const struct cli_view_binding *vb;
	void *arg;
};

struct cli_registry {
	struct reg_handler *handlers;
	size_t nhandlers;
	struct reg_object *objects;
	size_t nobjects;
	struct reg_view *views;
	size_t nviews;
};

void registry_add_handler(struct cli_registry *r, const char *name, cli_handler_fn fn);
void registry_add_object(struct cli_registry *r, const char *kind, cli_list_fn list,
    cli_exists_fn exists, cli_missing_fn missing, void *arg);
void registry_add_view(struct cli_registry *r, const struct cli_view_binding *vb,
    void *arg);
/* The handler / object kind / view binding registered under NAME, or NULL. */
cli_handler_fn registry_handler(const struct cli_registry *r, const char *name);
const struct reg_object *registry_object(const struct cli_registry *r,
    const char *kind);
const struct reg_view *registry_view(const struct cli_registry *r, const char *view);
/* Names registered twice, one "registry: ..." line each into ERRORS; their count. */
int registry_check(const struct cli_registry *r, struct sbuf *errors);
void registry_free(struct cli_registry *r);

/* Loads every *.xml of DIR (in name order) validated against DIR/cli.xsd, resolving
 * handler names and object kinds in REG and checking its view bindings against the
 * grammar. On error returns -1 with every problem in *errors, one
 * "file:line: message" a line. */
int grammar_load(const char *dir, const struct cli_registry *reg,
    struct grammar **out, struct sbuf *errors);

/* ---- matcher ---- */

/* Builds what the matcher reads for every line (the views' start, first
 * keywords, secrets); the grammar loader calls it once the grammar is whole. */
void match_prepare(struct grammar *g);

/* What the matcher works on: a grammar and a way to find existing objects. It
 * needs no session, flash or PKI store (a unit test gives it a fake lister). */
struct match_env {
	const struct grammar *g;
	/* The names of the existing objects of KIND (a param's object="KIND"): a
	 * NULL-terminated array of new strings, or NULL when there are none (Tab). */
	char **(*objects)(void *arg, const char *kind);
	/* Whether an object of KIND is named NAME: 1 / 0, or -1 (and NULL): the
	 * matcher searches the list. One line's check must not cost a listing of
	 * every object (a configuration of 100,000 lines names thousands). */
	int (*exists)(void *arg, const char *kind, const char *name, int nocase);
	void *arg;
	/* Buffers a line's walk may reuse (match_scratch_new), or NULL: each walk
	 * then allocates its own. One walk at a time uses them. */
	struct match_scratch *scratch;
};

struct match_scratch *match_scratch_new(void);
void match_scratch_free(struct match_scratch *s);

struct match_result {
	enum cli_status status;
	size_t bad_col;		/* column of the caret in the line */
	struct gcmd *cmd;	/* CLI_OK, CLI_MISSING */
	struct cli_args args;	/* CLI_OK: owned arrays, values borrowed from tokens */
	struct gview *view;	/* the view where the command matched */
	const char *missing_kind;	/* CLI_MISSING: the object kind (borrowed) */
	const char *missing_value;	/* CLI_MISSING: the name typed (borrowed) */
};

/* Matches TOKS in view V (falls back to parent views). */
void match_line(const struct match_env *m, const struct gview *v,
    const struct cli_tokens *toks, const char *line, struct match_result *r);
void match_result_free(struct match_result *r);
/* Sets MASK[i] for every token that a secret parameter could take (walking as far
 * as the line matches, in V and the views it falls back to), so a failing line
 * echoes no secret either. MASK has toks->n entries, zeroed by the caller. */
void match_secret_mask(const struct match_env *m, const struct gview *v,
    const struct cli_tokens *toks, unsigned char *mask);
/* '?' text for TOKS in view V into OUT; returns -1 (with a caret error rendered
 * into OUT) when the typed prefix does not match. */
int match_help(const struct match_env *m, const struct gview *v,
    const struct cli_tokens *toks, const char *line, size_t prompt_len,
    struct sbuf *out);
char **match_complete(const struct match_env *m, const struct gview *v,
    const struct cli_tokens *toks, const char *line, size_t *word_start);
/* Type check of one value, the existence of the object it names included; 1
 * valid. */
int param_value_ok(const struct match_env *m, const struct gparam *p,
    const char *value);
/* The same without the existence check. */
int param_type_ok(const struct gparam *p, const char *value);
/* Display form of a param type ("STRING<1-64>"). */
void param_type_text(const struct gparam *p, struct sbuf *out);

/* ---- output filters of display commands (filter.c) ---- */

#include <regex.h>

enum filter_kind { FILTER_NONE, FILTER_INCLUDE, FILTER_EXCLUDE, FILTER_BEGIN,
	FILTER_COUNT };

struct cli_filter {
	enum filter_kind kind;
	regex_t re;
	int compiled;
};

/* The index of the first unquoted "|" word of T, or T->n. */
size_t filter_pipe(const struct cli_tokens *t);
/* 1 when CMD is a display command (its first keyword is "display"). */
int gcmd_is_display(const struct grammar *g, const struct gcmd *cmd);
/* Parses the words after T->v[PIPE] (LINE is the typed line) into *F. A syntax
 * error returns its status with *bad_col; a regular expression that does not
 * compile returns CLI_OK with F->kind FILTER_NONE and the message in ERR. */
enum cli_status filter_parse(const struct cli_tokens *t, size_t pipe,
    const char *line, struct cli_filter *f, size_t *bad_col, struct sbuf *err);
void filter_free(struct cli_filter *f);
/* The lines of TEXT that F lets through (or, count, their number) into OUT. */
void filter_apply(const struct cli_filter *f, const char *text, struct sbuf *out);
/* '?' after the "|" word at PIPE. */
void filter_help(const struct cli_tokens *t, size_t pipe, size_t prompt_len,
    struct sbuf *out);
/* Tab after the "|": the filter keywords completing the last word. */
char **filter_complete(const struct cli_tokens *t, size_t pipe, size_t *word_start);

/* ---- config tree ---- */

struct cfg_leaf {
	const struct gcmd *cmd;	/* the command that set it (grammar order); its
				 * leaf= is the leaf's id */
	/* One block: the args, then the canonical command text (cfg_leaf_text),
	 * then the param values. Names and keywords are the grammar's strings
	 * (the grammar outlives the tree). */
	struct cli_arg *args;
	unsigned nargs;
	unsigned char in_arena;	/* the block is the tree arena's (not freed alone) */
};

struct cfg_node {
	const struct gview *view;	/* NULL for the root */
	const struct gcmd *enter;	/* the command that created it */
	char *key;
	char *header;			/* canonical text of the entering command */
	struct cfg_leaf *leaves;
	size_t nleaves, capleaves;
	struct cfg_node **children;	/* creation order */
	size_t nchildren, capchildren;
	struct cfg_node *parent;
	/* the children by key, one map per view (cfg_child without a scan) */
	struct cfg_index *index;
	size_t nindex;
	/* What the tree's arena holds (cfg_bulk): this node with its key and
	 * header, its leaves array, its children array. Those are never freed
	 * alone. */
	unsigned char in_arena, leaves_in_arena, children_in_arena;
	/* the root only: the arena, and whether new blocks come from it */
	int bulk;
	struct pk_arena *arena;
};

struct cfg_node *cfg_new_root(void);
/* While ON, the nodes and leaves added to ROOT's tree are taken from one arena
 * freed with the tree (cheap for the many objects of a configuration loaded at
 * start); a node or leaf replaced or removed meanwhile keeps its space until
 * then. Off again: new ones come from malloc, as objects a long-running
 * process may drop one by one. */
void cfg_bulk(struct cfg_node *root, int on);
void cfg_free(struct cfg_node *n);
struct cfg_node *cfg_child(struct cfg_node *parent, const struct gview *v,
    const char *key);
struct cfg_node *cfg_add_child(struct cfg_node *parent, const struct gview *v,
    const struct gcmd *enter, const char *key, const char *header);
void cfg_remove_child(struct cfg_node *parent, struct cfg_node *child);
void cfg_set_leaf(struct cfg_node *n, const struct gcmd *cmd, const char *text,
    const struct cli_args *a);
int cfg_unset_leaf(struct cfg_node *n, const char *id);
/* Renders node N (the root: whole configuration) in display format. */
void cfg_render(const struct cfg_node *n, int whole, struct sbuf *out);
/* Structural equality (for the round-trip property). */
int cfg_equal(const struct cfg_node *a, const struct cfg_node *b);
/* Canonical text of a matched command. */
void cfg_canonical(const struct cli_args *a, struct sbuf *out);
/* 1 if leaf ID is set on N. */
int cfg_leaf_set(const struct cfg_node *n, const char *id);
/* Fills OBJ from node N through VB (defaults first; strings borrowed from N). */
void cfg_bind(const struct cfg_node *n, const struct cli_view_binding *vb, void *obj);
/* Sets param NAME of leaf ID of N to VALUE (and the leaf's text); -1 if absent. */
int cfg_leaf_update(struct cfg_node *n, const char *id, const char *name,
    const char *value);

/* ---- session ---- */

struct cli {
	struct grammar *g;
	struct cli_registry reg;	/* what the features registered */
	struct storage *st;
	struct pki *pki;
	struct cfg_node *root;
	struct match_scratch *scratch;	/* the matcher's buffers, reused */
	const struct gview *view;
	struct cfg_node *node;		/* config node of the current view */
	char prompt[256];
	int interactive;
	int done;
	FILE *out;
	struct sbuf *capture;		/* output goes here instead (startup load) */
	struct cli_io io;
	struct device *dev;		/* the device core: CMP sessions, scheduler */
	struct loop *loop;		/* the device's: timers, background completions */
	int daemon;			/* no console: events go to stderr + syslog */
	int stderr_journal;		/* daemon: stderr is the journal, so events
					 * go there only (once) */
	int in_exec;			/* a command line is running */
	int no_prompt;			/* carets count from the line (startup load) */
	size_t end_col;			/* the running line's end, as the console
					 * shows it (cli_incomplete's caret) */
	char *hostname;			/* %s of the prompts, NULL: "pkish" */
	/* cli_unsaved: the configuration when it was loaded at start or last
	 * saved to vrpcfg.cfg is generation saved_gen of the tree (gen counts
	 * its changes); its text is rendered only before the first change after
	 * that (saved: NULL until then), so a start renders nothing. */
	unsigned long gen, saved_gen;
	char *saved;
	/* While the saved configuration loads at start (defer_apply), the
	 * feature's apply of the node whose leaves consecutive lines set runs
	 * once, when another kind of line comes or the load ends (session.c). */
	int defer_apply;
	struct cfg_node *apply_node;
	const struct gview *apply_view;
	void (*redraw)(void *arg);	/* front end: redraw prompt and line */
	void *redraw_arg;
};

/* Config access for tests: the tree root. */
struct cfg_node *cli_cfg_root(struct cli *c);

#endif
