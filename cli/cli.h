/*
 * cli: the console shell.
 *
 * Pieces (one file each): tokenizer (token.c), grammar model loaded from
 * the grammar files schemas/NAME.xml, validated against cli.xsd (grammar.c), the matcher serving
 * execution, '?' and Tab (match.c), the output filters of display commands
 * (filter.c), the configuration tree and its rendering
 * (config.c), the session: views, prompt, dispatch, output (session.c), the general
 * commands (cmd_sys.c), the batch and libedit front ends (batch.c, edit.c), the
 * program (main.c).
 *
 * Features (cmd_sys.c, cmd_pki.c, cmd_cmp.c) register their handlers and object
 * kinds from their init (registry.c); the session core, the grammar loader and the
 * matcher name no feature. Handlers are C functions named in the grammar
 * ("handler", "check"), resolved among the registered ones when the
 * grammar loads. A handler prints through cli_out()/cli_error() and returns 0 (the
 * line succeeded) or -1 (it failed).
 *
 * This module never includes OpenSSL headers.
 */
#ifndef PKISH_CLI_H
#define PKISH_CLI_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "../util/util.h"

struct cli;
struct grammar;
struct cfg_node;

/* ---- tokenizer ------------------------------------------------------- */

#define CLI_MAX_TOKENS 128
#define CLI_MAX_LINE (64 * 1024)

struct cli_token {
	char *text;	/* unquoted value */
	size_t col;	/* column of the first character in the line */
	size_t end;	/* column just past the token (closing quote included) */
	int quoted;
};

struct cli_tokens {
	struct cli_token *v;
	size_t n;
	int trailing_space;	/* the line ends in white space after the last token */
	int help;		/* the line ended in an unquoted '?' (removed) */
	int unterminated;	/* a double quote was not closed */
	int too_many;		/* more than CLI_MAX_TOKENS tokens (rest dropped) */
};

/* Splits LINE. Double quotes group (a '?' inside quotes is text); an unquoted '?' at
 * the end of the line sets help and is not part of any token. Never fails. */
void cli_tokenize(const char *line, struct cli_tokens *out);
void cli_tokens_free(struct cli_tokens *t);

/* ---- handlers ---------------------------------------------------------- */

struct cli_arg {
	const char *name;	/* keyword name, or param name */
	const char *value;	/* the typed value (keywords: the full keyword) */
	int is_kw;
	int secret;		/* a param of type secret (masked when echoed) */
};

struct cli_args {
	struct cli_arg *v;
	size_t n;
	int undo;		/* the "undo ..." form was used */
	const char *line;	/* the canonical command text */
};

/* The value of param NAME, or NULL if it was not given. */
const char *cli_arg(const struct cli_args *a, const char *name);
/* 1 if keyword KW was typed (optional keywords, choices). */
int cli_kw(const struct cli_args *a, const char *kw);

typedef int (*cli_handler_fn)(struct cli *c, const struct cli_args *a);

/* Lists the existing objects of a kind (for Tab and the existence check of params
 * with object="KIND"). Returns a NULL-terminated array of new strings. */
typedef char **(*cli_list_fn)(void *arg);
/* Words the error for NAME, which names no existing object of the kind, into MSG
 * without "Error: " ("The key pair k9 does not exist."). */
typedef void (*cli_missing_fn)(void *arg, const char *name, struct sbuf *msg);

/* ---- feature registration ----------------------------------------------
 * Each feature (cmd_sys.c, cmd_pki.c, cmd_cmp.c) has an init that registers its
 * handlers, object kinds and view bindings on the session (FRR's install_element
 * from each daemon's init); the program lists the features
 * (cli_options.features). An init runs once the device is open (c->dev) and
 * before the grammar loads, which resolves the names and checks the bindings,
 * failing on anything nobody registered. Names are borrowed: pass literals. */

typedef void (*cli_feature_fn)(struct cli *c);

/* The features of pkish (cmd_sys.c, cmd_pki.c, cmd_cmp.c). */
void cli_sys_init(struct cli *c);
void cli_pki_init(struct cli *c);
void cli_cmp_init(struct cli *c);

/* Handler NAME (the grammar's handler= or check=) is FN. */
void cli_install_handler(struct cli *c, const char *name, cli_handler_fn fn);
/* Params with object="KIND" name one of LIST(ARG); a name that is none of them is
 * answered with MISSING's words (NULL: "The KIND NAME does not exist."). */
void cli_install_object(struct cli *c, const char *kind, cli_list_fn list,
    cli_missing_fn missing, void *arg);

/* ---- typed configuration: bindings ------------------------------------------
 * A feature reads the configuration of a view as a struct of its own, filled from
 * the view's configuration node through one binding table: a field per entry (leaf
 * id + param name -> offset and type). The grammar loader checks every table
 * against the grammar: a leaf or parameter that the grammar does not have fails
 * the load with the file:line of the view (or of the leaf's command). Nothing
 * looks a leaf up by its name at run time. */

enum cli_bind_type {
	CLI_BIND_KEY,	/* const char *: the instance's key (leaf and name NULL) */
	CLI_BIND_STR,	/* const char *: param NAME of LEAF, unchanged when unset */
	CLI_BIND_INT,	/* int: param NAME (an integer) of LEAF, unchanged when unset */
	CLI_BIND_KW,	/* int: 1 when keyword NAME was part of LEAF, else 0 */
	CLI_BIND_SET,	/* int: 1 when LEAF is set, else 0 (name NULL) */
};

struct cli_binding {
	const char *leaf;
	const char *name;
	enum cli_bind_type type;
	size_t offset;		/* of the field in the bound struct */
};

struct cli_view_binding {
	const char *view;	/* the grammar's view name */
	const struct cli_binding *fields;
	size_t nfields;
	size_t size;		/* of the bound struct */
	void (*init)(void *obj);	/* its defaults (NULL: all zero) */
	/* A node of the view was created or changed (OBJ is bound from it; its
	 * strings are borrowed for the call) or removed (OBJ NULL). NULL: nobody
	 * needs to know. Runs after the change, also while the startup
	 * configuration loads. */
	void (*apply)(void *arg, const char *key, const void *obj);
};

/* VB describes view VB->view (one binding per view); ARG goes to its apply. */
void cli_install_view(struct cli *c, const struct cli_view_binding *vb, void *arg);
/* Typed context for handlers (FRR VTY_DECLVAR_CONTEXT): the configuration of the
 * current view bound into OBJ. -1 when the current view is not VB's. */
int cli_context(struct cli *c, const struct cli_view_binding *vb, void *obj);
/* Instance KEY (case-insensitive) of VB's view bound into OBJ; -1 when there is
 * none. */
int cli_config_get(struct cli *c, const struct cli_view_binding *vb, const char *key,
    void *obj);
/* Sets the CLI_BIND_STR field at OFFSET of instance KEY of VB's view to VALUE in
 * the configuration tree: state that changed under the configuration (a key update
 * renames the session's certificate). Calls no apply. -1 when there is no such
 * instance, leaf or field. */
int cli_config_update(struct cli *c, const struct cli_view_binding *vb,
    const char *key, size_t offset, const char *value);
/* The name in prompts (%s in a view's prompt); NULL: "pkish". */
void cli_set_hostname(struct cli *c, const char *name);

/* ---- grammar ------------------------------------------------------------ */

void grammar_free(struct grammar *g);

/* ---- matcher ------------------------------------------------------------ */

enum cli_status {
	CLI_OK = 0,
	CLI_UNRECOGNIZED,
	CLI_INCOMPLETE,
	CLI_AMBIGUOUS,
	CLI_WRONG_PARAM,
	CLI_TOO_MANY,
	CLI_MISSING,		/* the syntax is right, a named object does not exist */
};

/* The message of a caret error ("Error: Unrecognized command found at '^' position."). */
const char *cli_status_msg(enum cli_status st);

/* ---- session ------------------------------------------------------------ */

struct cli_options {
	const char *flash;	/* flash root directory */
	const char *schemas;	/* grammar directory */
	int interactive;	/* a person at a terminal: prompts, confirmations */
	int no_startup;		/* do not load flash:/vrpcfg.cfg */
	int daemon;		/* --daemon: events to stderr and syslog */
	const cli_feature_fn *features;	/* NULL-terminated: the features to init */
};

int cli_new(struct cli **out, const struct cli_options *o, struct pk_err *e);
void cli_free(struct cli *c);

/* Runs one input line: returns 0 when it succeeded or was skipped, -1 when it
 * failed (caret error or a handler failure). Output goes to the session's out. */
int cli_exec(struct cli *c, const char *line);
/* 1 when LINE, in the user view, is a command of the system view only (a line
 * of a saved configuration): batch mode enters the system view for it. */
int cli_system_line(struct cli *c, const char *line);
/* LINE as the console echoes it: values of secret parameters replaced by
 * asterisks (matched in the current view). Appends to OUT. */
void cli_echo_text(struct cli *c, const char *line, struct sbuf *out);
/* Prints the '?' help for LINE (which may end in '?', removed). */
void cli_help(struct cli *c, const char *line);
/* Completion candidates for the last (partial) word of LINE: a NULL-terminated
 * array of full words (free with cli_strv_free), and *word_start the column where
 * the partial word begins. */
char **cli_complete(struct cli *c, const char *line, size_t *word_start);
void cli_strv_free(char **v);

/* The prompt for the current view ("<pkish>", "[pkish-pki-entity-E]"). */
const char *cli_prompt(struct cli *c);
/* Goes up one view (`quit`); in user view marks the session done. */
int cli_view_up(struct cli *c);
/* Jumps to the user or system view. */
void cli_view_set(struct cli *c, const char *view);
/* Runs the saved configuration PATH silently from the system view (errors to
 * stderr, named SHOWN); -1 if it cannot be read or a line failed. */
int cli_load_config(struct cli *c, const char *path, const char *shown);
/* 1 once `quit` was given in user view. */
int cli_done(const struct cli *c);
/* Writes the configuration to flash:/FILE (a checked bare name) atomically and
 * prints "Save the configuration successfully."; saving flash:/vrpcfg.cfg makes
 * the configuration the saved one. -1 (printed) on failure. */
int cli_save(struct cli *c, const char *file);
/* 1 when the configuration differs from the one loaded at start or last saved
 * to flash:/vrpcfg.cfg. */
int cli_unsaved(struct cli *c);
/* The shell is about to end (quit in the user view, Ctrl+D): at a terminal,
 * unsaved changes are announced and the operator is asked whether to save them
 * first; batch mode says nothing. */
void cli_leave(struct cli *c);

/* Output: everything the console shows goes through these. */
void cli_out(struct cli *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void cli_vout(struct cli *c, const char *fmt, va_list ap);
void cli_write(struct cli *c, const char *text);
/* Prints a line that was not asked for (an event of the device): at a terminal
 * the prompt and typed text are hidden and redrawn around it; in daemon mode it
 * goes to stderr (with the time) and syslog; while a command runs it is output
 * like the command's. When stderr is the systemd journal (JOURNAL_STREAM), the
 * daemon writes each line once, to stderr with its sd-daemon priority prefix. */
void cli_notify(struct cli *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prints "Error: <msg>" and returns -1. */
int cli_error(struct cli *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* For a handler whose line lacks a value that batch mode cannot ask for (a
 * secret): the caret after the line and "Error: Incomplete command found at '^'
 * position."; returns -1. */
int cli_incomplete(struct cli *c);
/* Asks for a secret once at a terminal, without echo: a new string (wipe it with
 * storage_wipe_free), NULL in batch mode or at the end of input. */
char *cli_ask_secret_once(struct cli *c, const char *prompt);
/* Asks QUESTION at a terminal (answer y/n); in batch mode prints the question with
 * the automatic answer BATCH_ANSWER and returns it. 1 yes, 0 no. */
int cli_confirm(struct cli *c, const char *question, int batch_answer);
/* Asks for a secret twice at a terminal (no echo); NULL in batch mode or when the
 * two differ (message printed). The result is wiped by storage_wipe_free(). */
char *cli_ask_secret(struct cli *c, const char *prompt, const char *again);

/* The interactive front end may install these to read answers and secrets. */
struct cli_io {
	/* Reads one line without the newline (NULL at EOF). echo=0 hides typing. */
	char *(*read_line)(void *arg, const char *prompt, int echo);
	void *arg;
};
void cli_set_io(struct cli *c, const struct cli_io *io);

/* ---- batch front end ---- */

struct cli_batch {
	size_t lineno;		/* lines read so far (numbering continues across inputs) */
	size_t total;		/* lines run (not blank, not comments) */
	size_t failed;
	size_t *failed_lines;
	int stop_on_error;
};

/* One input line: echoed after the prompt, then run. -1 if it failed. */
int cli_batch_line(struct cli *c, struct cli_batch *b, const char *line);
/* Every line of IN (stops early on `quit` in user view, or the first failure with
 * stop_on_error). -1 if any line failed. */
int cli_batch_file(struct cli *c, struct cli_batch *b, FILE *in);
/* Prints "pkish: N of M lines failed (lines a, b, ...)" to ERR when lines failed;
 * returns the exit status (0 or 1). */
int cli_batch_summary(struct cli_batch *b, FILE *err);
void cli_batch_free(struct cli_batch *b);

/* ---- daemon ---- */

/* Runs scheduled work (automatic update) until SIGTERM or SIGINT. */
int cli_daemon_run(struct cli *c);
/* Waits (running timers and background completions) until FD is readable. 1
 * readable, -1 error. */
int cli_wait_input(struct cli *c, int fd);

/* ---- terminal front end (libedit) ---- */

/* Runs the interactive console on the terminal until `quit` in user view or EOF. */
int cli_edit_run(struct cli *c);

/* ---- configuration tree --------------------------------------------------- */

/* Instances of VIEW under the root, in creation order: NULL-terminated, borrowed
 * nodes in a new array (free() the array). */
struct cfg_node **cli_cfg_list(struct cli *c, const char *view);

/* Whole configuration as `display current-configuration` shows it. */
void cli_config_render(struct cli *c, struct sbuf *out);

#endif
