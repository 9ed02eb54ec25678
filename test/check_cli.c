/*
 * Check suite for cli/: tokenizer, matcher (abbreviation, ambiguity, each caret
 * error and its column), grammar loading (valid, invalid with file:line, XXE and
 * billion-laughs refused, unknown handler), the view bindings checked against the
 * grammar (a renamed leaf, parameter or keyword fails the load with file:line),
 * the matcher alone on a small grammar
 * with a fake object lister (no session, flash or store), and the round-trip
 * property: for many configurations generated at random from the grammar itself,
 * replaying `display current-configuration` into a fresh shell rebuilds an equal
 * tree.
 */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../cli/cli_int.h"
#include "../device/device.h"
#include "../storage/storage.h"
#include "testutil.h"

static char *dir;
static char *schemas;

static void
setup(void)
{
	dir = tu_tmpdir();
	ck_assert_ptr_nonnull(dir);
	if (asprintf(&schemas, "%s/schemas", tu_top()) < 0)
		ck_abort();
}

static void
teardown(void)
{
	tu_rmrf(dir);
	free(dir);
	free(schemas);
}

static const cli_feature_fn features[] = {
	cli_sys_init, cli_pki_init, cli_cmp_init, NULL,
};

static struct cli *
new_cli(void)
{
	struct cli_options o = { 0 };
	struct cli *c;
	struct pk_err e;

	o.flash = dir;
	o.schemas = schemas;
	o.no_startup = 1;
	o.features = features;
	if (cli_new(&c, &o, &e) != 0)
		ck_abort_msg("cli_new: %s", e.msg);
	return c;
}

/* Runs LINE, returns its output (new string) and the status in *rc. */
static char *
run(struct cli *c, const char *line, int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	FILE *old = c->out;
	int r;

	c->out = mem;
	r = cli_exec(c, line);
	c->out = old;
	fclose(mem);
	if (rc != NULL)
		*rc = r;
	return buf;
}

static void
expect(struct cli *c, const char *line, int want_rc, const char *want_out)
{
	int rc;
	char *out = run(c, line, &rc);

	ck_assert_msg(rc == want_rc, "'%s': rc %d, want %d; output:\n%s", line, rc,
	    want_rc, out);
	if (want_out != NULL)
		ck_assert_msg(strstr(out, want_out) != NULL,
		    "'%s': output lacks '%s':\n%s", line, want_out, out);
	free(out);
}

/* The caret's column in OUT (index of '^' in its first line). */
static int
caret_col(const char *out)
{
	size_t n = strcspn(out, "^");

	return out[n] == '^' ? (int)n : -1;
}

START_TEST(tokenizer_basic)
{
	struct cli_tokens t;

	cli_tokenize("  display  current-configuration ", &t);
	ck_assert_uint_eq(t.n, 2);
	ck_assert_str_eq(t.v[0].text, "display");
	ck_assert_uint_eq(t.v[0].col, 2);
	ck_assert_uint_eq(t.v[1].col, 11);
	ck_assert(t.trailing_space);
	ck_assert(!t.help);
	cli_tokens_free(&t);

	cli_tokenize("sysname \"a b?\" ?", &t);
	ck_assert_uint_eq(t.n, 2);
	ck_assert_str_eq(t.v[1].text, "a b?");
	ck_assert(t.v[1].quoted);
	ck_assert(t.help);
	ck_assert(t.trailing_space);
	cli_tokens_free(&t);

	cli_tokenize("dis?", &t);
	ck_assert_uint_eq(t.n, 1);
	ck_assert_str_eq(t.v[0].text, "dis");
	ck_assert(t.help);
	ck_assert(!t.trailing_space);
	cli_tokens_free(&t);

	cli_tokenize("a \"open", &t);
	ck_assert(t.unterminated);
	cli_tokens_free(&t);

	cli_tokenize("x \"q\\\"uote\\\\\"", &t);
	ck_assert_str_eq(t.v[1].text, "q\"uote\\");
	cli_tokens_free(&t);
}
END_TEST

START_TEST(tokenizer_limits)
{
	struct cli_tokens t;
	char *big = malloc(CLI_MAX_LINE * 2);

	memset(big, 'a', CLI_MAX_LINE * 2 - 1);
	for (size_t i = 1; i < CLI_MAX_LINE * 2 - 1; i += 2)
		big[i] = ' ';
	big[CLI_MAX_LINE * 2 - 1] = '\0';
	cli_tokenize(big, &t);
	ck_assert(t.too_many);
	ck_assert_uint_eq(t.n, CLI_MAX_TOKENS);
	cli_tokens_free(&t);
	free(big);
}
END_TEST

START_TEST(abbreviation_and_views)
{
	struct cli *c = new_cli();

	expect(c, "sys", 0, "Enter system view");
	ck_assert_str_eq(cli_prompt(c), "[pkish]");
	expect(c, "sysn dev-1", 0, NULL);
	ck_assert_str_eq(cli_prompt(c), "[dev-1]");
	expect(c, "dis th", 0, "sysname dev-1");
	expect(c, "undo sysn", 0, NULL);
	ck_assert_str_eq(cli_prompt(c), "[pkish]");
	expect(c, "q", 0, NULL);
	ck_assert_str_eq(cli_prompt(c), "<pkish>");
	expect(c, "DISPLAY VERSION", 0, "pkish version");
	expect(c, "q", 0, NULL);
	ck_assert(cli_done(c));
	cli_free(c);
}
END_TEST

START_TEST(caret_errors_and_columns)
{
	struct cli *c = new_cli();
	int rc;
	char *out;

	/* "<pkish>" is 7 columns: the caret counts from the prompt's start */
	out = run(c, "foo", &rc);
	ck_assert_int_eq(rc, -1);
	ck_assert_ptr_nonnull(strstr(out, "Error: Unrecognized command found at '^' position."));
	ck_assert_int_eq(caret_col(out), 7);
	free(out);

	out = run(c, "d", &rc);		/* dir, display */
	ck_assert_ptr_nonnull(strstr(out, "Error: Ambiguous command found at '^' position."));
	ck_assert_int_eq(caret_col(out), 7);
	free(out);

	out = run(c, "display", &rc);
	ck_assert_ptr_nonnull(strstr(out, "Error: Incomplete command found at '^' position."));
	ck_assert_int_eq(caret_col(out), 14);
	free(out);

	out = run(c, "display   version  extra", &rc);
	ck_assert_ptr_nonnull(strstr(out, "Error: Too many parameters found at '^' position."));
	ck_assert_int_eq(caret_col(out), 7 + 19);
	free(out);

	out = run(c, "display bogus", &rc);
	ck_assert_ptr_nonnull(strstr(out, "Unrecognized"));
	ck_assert_int_eq(caret_col(out), 15);
	free(out);

	expect(c, "system-view", 0, NULL);
	/* "[pkish]" 7 columns; sysname value over 64 characters */
	{
		char line[128];

		snprintf(line, sizeof(line), "sysname %065d", 0);
		out = run(c, line, &rc);
		ck_assert_int_eq(rc, -1);
		ck_assert_ptr_nonnull(strstr(out, "Error: Wrong parameter found at '^' position."));
		ck_assert_int_eq(caret_col(out), 15);
		free(out);
	}
	/* '?' is never part of a value unless quoted */
	out = run(c, "sysname a?b", &rc);
	ck_assert_int_eq(rc, -1);
	ck_assert_ptr_nonnull(strstr(out, "Wrong parameter"));
	free(out);
	expect(c, "sysname \"a?b\"", 0, NULL);
	ck_assert_str_eq(cli_prompt(c), "[a?b]");
	expect(c, "undo sysname", 0, NULL);
	out = run(c, "sysname \"unterminated", &rc);
	ck_assert_ptr_nonnull(strstr(out, "Wrong parameter"));
	free(out);
	/* a user-view command is not a system-view command */
	out = run(c, "save", &rc);
	ck_assert_ptr_nonnull(strstr(out, "Unrecognized"));
	free(out);
	/* a missing key, entity or session is named, without a caret */
	out = run(c, "pki rsa local-key-pair destroy k9", &rc);
	ck_assert_int_eq(rc, -1);
	ck_assert_str_eq(out, "Error: The key pair k9 does not exist.\n");
	free(out);
	out = run(c, "pki cmp initial-request session S9", &rc);
	ck_assert_int_eq(rc, -1);
	ck_assert_str_eq(out, "Error: The CMP session S9 does not exist.\n");
	free(out);
	out = run(c, "display pki entity e9", &rc);
	ck_assert_int_eq(rc, -1);
	ck_assert_str_eq(out, "Error: The PKI entity e9 does not exist.\n");
	free(out);
	/* the syntax first: an extra word after the missing name is a caret */
	out = run(c, "pki rsa local-key-pair destroy k9 extra", &rc);
	ck_assert_ptr_nonnull(strstr(out, "Too many parameters"));
	ck_assert_int_eq(caret_col(out), 7 + 34);
	free(out);
	cli_free(c);
}
END_TEST

START_TEST(exact_match_wins_over_prefix)
{
	/* "display" is both complete and a prefix of nothing else; "dir" vs "di": the
	 * exact keyword wins although "dir" and "display" share the prefix. */
	struct cli *c = new_cli();

	expect(c, "dir", 0, "Directory of flash:/");
	expect(c, "di", -1, "Ambiguous");
	cli_free(c);
}
END_TEST

START_TEST(help_output)
{
	struct cli *c = new_cli();
	char *out;

	out = run(c, "display ?", NULL);
	ck_assert_ptr_nonnull(strstr(out, "  current-configuration  Current configuration\n"));
	ck_assert_ptr_nonnull(strstr(out, "  version "));
	free(out);
	out = run(c, "?", NULL);
	ck_assert_ptr_nonnull(strstr(out, "User view commands:\n"));
	ck_assert_ptr_nonnull(strstr(out, "  system-view"));
	free(out);
	out = run(c, "di?", NULL);
	ck_assert_str_eq(out, "  dir  display\n");
	free(out);
	expect(c, "system-view", 0, NULL);
	out = run(c, "sysname ?", NULL);
	ck_assert_ptr_nonnull(strstr(out, "  STRING<1-64>  Host name\n"));
	free(out);
	out = run(c, "sysname x ?", NULL);
	ck_assert_str_eq(out, "  <cr>\n");
	free(out);
	out = run(c, "bogus ?", NULL);
	ck_assert_ptr_nonnull(strstr(out, "Unrecognized"));
	free(out);
	cli_free(c);
}
END_TEST

START_TEST(tab_completion)
{
	struct cli *c = new_cli();
	size_t ws;
	char **v;

	v = cli_complete(c, "dis", &ws);
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v[0], "display");
	ck_assert_ptr_null(v[1]);
	ck_assert_uint_eq(ws, 0);
	cli_strv_free(v);
	/* the output filters after "|" of a display command */
	v = cli_complete(c, "display current-configuration | inc", &ws);
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v[0], "include");
	ck_assert_ptr_null(v[1]);
	ck_assert_uint_eq(ws, 32);
	cli_strv_free(v);
	v = cli_complete(c, "dis cu | c", &ws);
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v[0], "count");
	cli_strv_free(v);
	ck_assert_ptr_null(cli_complete(c, "dis cu | x", &ws));
	v = cli_complete(c, "display c", &ws);
	ck_assert_str_eq(v[0], "current-configuration");
	ck_assert_uint_eq(ws, 8);
	cli_strv_free(v);
	v = cli_complete(c, "d", &ws);
	ck_assert_str_eq(v[0], "dir");
	ck_assert_str_eq(v[1], "display");
	ck_assert_ptr_null(v[2]);
	cli_strv_free(v);
	v = cli_complete(c, "zzz", &ws);
	ck_assert_ptr_null(v);
	cli_free(c);
}
END_TEST

START_TEST(save_and_startup)
{
	struct cli *c = new_cli();
	struct cli_options o = { 0 };
	struct pk_err e;
	char *cfg;

	expect(c, "system-view", 0, NULL);
	expect(c, "sysname saved-name", 0, NULL);
	expect(c, "return", 0, NULL);
	expect(c, "save", 0, "Save the configuration successfully.");
	expect(c, "save other.cfg", 0, "Save the configuration successfully.");
	expect(c, "save ../x.cfg", -1, "Wrong parameter");
	expect(c, "save x.txt", -1, ".cfg");
	cli_free(c);

	o.flash = dir;
	o.schemas = schemas;
	o.features = features;
	ck_assert_int_eq(cli_new(&c, &o, &e), 0);
	ck_assert_str_eq(cli_prompt(c), "<saved-name>");
	/* The device is told every line of a loaded configuration (the load
	 * tells it once per object, after the object's last line): entities
	 * with their last field, a session naming an entity saved before it,
	 * one whose entity was undone, and the entity after the session. */
	expect(c, "system-view", 0, NULL);
	expect(c, "pki entity e1", 0, NULL);
	expect(c, "common-name one.example.com", 0, NULL);
	expect(c, "country CN", 0, NULL);
	expect(c, "fqdn one.example.com", 0, NULL);
	expect(c, "quit", 0, NULL);
	expect(c, "pki cmp session s1", 0, NULL);
	expect(c, "cmp-request entity e1", 0, NULL);
	expect(c, "cmp-request message-authentication-code r1 Secret-1", 0, NULL);
	expect(c, "quit", 0, NULL);
	expect(c, "pki entity e2", 0, NULL);
	expect(c, "common-name two.example.com", 0, NULL);
	expect(c, "organization-unit Ops", 0, NULL);
	expect(c, "return", 0, NULL);
	expect(c, "save", 0, "Save the configuration successfully.");
	cli_free(c);
	ck_assert_int_eq(cli_new(&c, &o, &e), 0);
	ck_assert_str_eq(device_entity_find(c->dev, "e1")->fqdn, "one.example.com");
	ck_assert_str_eq(device_entity_find(c->dev, "e1")->country, "CN");
	ck_assert_str_eq(device_entity_find(c->dev, "e2")->org_unit, "Ops");
	ck_assert_str_eq(device_entity_find(c->dev, "e2")->common_name, "two.example.com");
	ck_assert_ptr_nonnull(device_session_find(c->dev, "s1"));
	ck_assert_str_eq(device_session_cfg(device_session_find(c->dev, "s1"))->entity, "e1");
	expect(c, "display pki cmp session s1", 0, "r1");
	cli_free(c);
	if (asprintf(&cfg, "%s/other.cfg", dir) < 0)
		ck_abort();
	free(cfg);
}
END_TEST

/* A configuration loaded at start is built in the tree's arena (large enough
 * here for its 2 MiB chunks); editing it afterwards (a leaf set again, a leaf
 * undone, a loaded section removed, a new one added) mixes blocks of the arena
 * with blocks of malloc. The tree must equal one built line by line, and free
 * cleanly (valgrind and ASan run this). */
START_TEST(startup_tree_then_edits)
{
	static const char *const edits[] = {
		"system-view", "pki entity e7", "common-name changed.example.com",
		"undo fqdn", "quit", "undo pki entity e8", "pki entity new1",
		"common-name new1.example.com", "return",
	};
	struct cli_options o = { 0 };
	struct sbuf text = SBUF_INIT, a = SBUF_INIT, b = SBUF_INIT;
	struct cli *c, *ref = new_cli();
	struct pk_err e;
	char *path;

	sbuf_puts(&text, "#\n\n");	/* empty lines are skipped */
	for (int i = 0; i < 2000; i++)
		sbuf_printf(&text, "pki entity e%d\n common-name e%d.example.com\n"
		    " country CN\n fqdn e%d.example.com\n#\n", i, i, i);
	sbuf_puts(&text, "return\n");
	if (asprintf(&path, "%s/vrpcfg.cfg", dir) < 0)
		ck_abort();
	tu_write(path, sbuf_str(&text), text.len);
	free(path);
	o.flash = dir;
	o.schemas = schemas;
	o.features = features;
	ck_assert_int_eq(cli_new(&c, &o, &e), 0);
	/* the reference: the same lines typed */
	free(run(ref, "system-view", NULL));
	for (int i = 0; i < 2000; i++) {
		char line[64];

		snprintf(line, sizeof(line), "pki entity e%d", i);
		expect(ref, line, 0, NULL);
		snprintf(line, sizeof(line), "common-name e%d.example.com", i);
		expect(ref, line, 0, NULL);
		expect(ref, "country CN", 0, NULL);
		snprintf(line, sizeof(line), "fqdn e%d.example.com", i);
		expect(ref, line, 0, NULL);
		expect(ref, "quit", 0, NULL);
	}
	free(run(ref, "return", NULL));
	ck_assert(cfg_equal(cli_cfg_root(c), cli_cfg_root(ref)));
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		expect(c, edits[i], 0, NULL);
		expect(ref, edits[i], 0, NULL);
	}
	ck_assert(cfg_equal(cli_cfg_root(c), cli_cfg_root(ref)));
	cli_config_render(c, &a);
	cli_config_render(ref, &b);
	ck_assert_str_eq(sbuf_str(&a), sbuf_str(&b));
	ck_assert_ptr_nonnull(strstr(sbuf_str(&a), "pki entity e7\n common-name "
	    "changed.example.com\n country CN\n#"));
	ck_assert_ptr_null(strstr(sbuf_str(&a), "pki entity e8\n"));
	ck_assert_ptr_nonnull(strstr(sbuf_str(&a), "pki entity new1\n"));
	sbuf_free(&a);
	sbuf_free(&b);
	sbuf_free(&text);
	cli_free(c);
	cli_free(ref);
}
END_TEST

/* ---- grammar loading ---- */

static char *
grammar_dir_with(const char *name, const char *xml)
{
	char *g, *p;

	if (asprintf(&g, "%s/g", dir) < 0)
		return NULL;
	tu_sh("mkdir -p '%s' && cp '%s/cli.xsd' '%s/system.xml' '%s/'", g, schemas,
	    schemas, g);
	if (asprintf(&p, "%s/%s", g, name) < 0)
		return NULL;
	tu_write(p, xml, strlen(xml));
	free(p);
	return g;
}

static void
expect_grammar_error(const char *name, const char *xml, const char *want)
{
	char *g = grammar_dir_with(name, xml);
	struct grammar *gr = NULL;
	struct sbuf errs = SBUF_INIT;
	struct cli *c = new_cli();	/* its registry: every feature's names */

	ck_assert_int_eq(grammar_load(g, &c->reg, &gr, &errs), -1);
	cli_free(c);
	ck_assert_ptr_null(gr);
	ck_assert_msg(strstr(sbuf_str(&errs), want) != NULL, "errors lack '%s':\n%s",
	    want, sbuf_str(&errs));
	sbuf_free(&errs);
	free(g);
}

START_TEST(grammar_valid)
{
	struct grammar *g = NULL;
	struct sbuf errs = SBUF_INIT;
	struct cli *c = new_cli();

	ck_assert_msg(grammar_load(schemas, &c->reg, &g, &errs) == 0, "%s",
	    sbuf_str(&errs));
	cli_free(c);
	ck_assert_ptr_nonnull(grammar_view(g, "user"));
	ck_assert_ptr_nonnull(grammar_view(g, "system"));
	grammar_free(g);
	sbuf_free(&errs);
}
END_TEST

START_TEST(grammar_invalid_reports_file_line)
{
	expect_grammar_error("zz.xml",
	    "<?xml version=\"1.0\"?>\n<grammar xmlns=\"urn:pkish:grammar:1\">\n"
	    "  <command views=\"system\" handler=\"quit\">\n"
	    "    <kw name=\"Bad Keyword\" help=\"x\"/>\n"
	    "  </command>\n</grammar>\n", "zz.xml:4:");
	expect_grammar_error("zz.xml",
	    "<?xml version=\"1.0\"?>\n<grammar xmlns=\"urn:pkish:grammar:1\">\n"
	    "  <command views=\"system\" handler=\"no_such_handler\">\n"
	    "    <kw name=\"x\" help=\"x\"/>\n"
	    "  </command>\n</grammar>\n", "zz.xml:3: unknown handler 'no_such_handler'");
	expect_grammar_error("zz.xml",
	    "<?xml version=\"1.0\"?>\n<grammar xmlns=\"urn:pkish:grammar:1\">\n"
	    "  <command views=\"nowhere\" handler=\"quit\">\n"
	    "    <kw name=\"x\" help=\"x\"/>\n"
	    "  </command>\n</grammar>\n", "zz.xml:3: unknown view 'nowhere'");
	expect_grammar_error("zz.xml",
	    "<?xml version=\"1.0\"?>\n<grammar xmlns=\"urn:pkish:grammar:1\">\n"
	    "  <command views=\"system\" leaf=\"x\">\n"
	    "    <kw name=\"x\" help=\"x\"/>\n"
	    "    <param name=\"v\" type=\"integer\" min=\"9\" max=\"2\" help=\"v\"/>\n"
	    "  </command>\n</grammar>\n", "zz.xml:5: param 'v': min 9 is above max 2");
	expect_grammar_error("zz.xml", "<grammar><unclosed></grammar>\n", "zz.xml:1:");
	/* a missing help text is a schema error */
	expect_grammar_error("zz.xml",
	    "<?xml version=\"1.0\"?>\n<grammar xmlns=\"urn:pkish:grammar:1\">\n"
	    "  <command views=\"system\" handler=\"quit\">\n"
	    "    <kw name=\"x\"/>\n"
	    "  </command>\n</grammar>\n", "zz.xml:4:");
}
END_TEST

START_TEST(grammar_xxe_refused)
{
	char *secret, *xml;

	if (asprintf(&secret, "%s/secret.txt", dir) < 0)
		ck_abort();
	tu_write(secret, "TOPSECRET", 9);
	if (asprintf(&xml, "<?xml version=\"1.0\"?>\n"
	    "<!DOCTYPE grammar [ <!ENTITY xxe SYSTEM \"file://%s\"> ]>\n"
	    "<grammar xmlns=\"urn:pkish:grammar:1\">\n"
	    "  <view name=\"v\" parent=\"system\" title=\"&xxe;\" prompt=\"x\"/>\n"
	    "</grammar>\n", secret) < 0)
		ck_abort();
	expect_grammar_error("zz.xml", xml, "zz.xml:");
	/* and a DTD that is harmless by itself is still refused */
	expect_grammar_error("zz.xml", "<?xml version=\"1.0\"?>\n<!DOCTYPE grammar [ <!ENTITY x \"y\"> ]>\n<grammar xmlns=\"urn:pkish:grammar:1\"/>\n", "DOCTYPE");
	free(xml);
	free(secret);
}
END_TEST

START_TEST(grammar_billion_laughs_refused)
{
	const char *xml = "<?xml version=\"1.0\"?>\n"
	    "<!DOCTYPE grammar [\n"
	    " <!ENTITY a \"aaaaaaaaaa\">\n"
	    " <!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
	    " <!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n"
	    " <!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">\n"
	    " <!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">\n"
	    " <!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\">\n"
	    " <!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">\n"
	    " <!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;\">\n"
	    "]>\n"
	    "<grammar xmlns=\"urn:pkish:grammar:1\">\n"
	    "  <view name=\"v\" parent=\"system\" title=\"&h;\" prompt=\"x\"/>\n"
	    "</grammar>\n";

	expect_grammar_error("zz.xml", xml, "zz.xml:");
}
END_TEST

START_TEST(shell_refuses_invalid_grammar)
{
	char *g = grammar_dir_with("zz.xml", "<grammar/>\n");
	char *out = NULL;
	char *cmd;
	int rc;

	if (asprintf(&cmd, "%s/pkish --no-startup --flash '%s/f' --schemas '%s' "
	    "-c 'display version'", tu_build(), dir, g) < 0)
		ck_abort();
	rc = tu_run(cmd, &out);
	ck_assert_int_eq(rc, 2);
	ck_assert_ptr_nonnull(strstr(out, "zz.xml:1:"));
	ck_assert_ptr_null(strstr(out, "pkish version"));
	free(out);
	free(cmd);
	free(g);
}
END_TEST

/* ---- bindings: checked against the grammar when it loads ---- */

/* The line of PATH of the element whose start tag holds NEEDLE (0: nowhere). Like
 * libxml2, the line where the start tag ends. */
static int
line_of(const char *path, const char *needle)
{
	char *text = tu_read(path, NULL), *hit;
	int line = 1;

	ck_assert_ptr_nonnull(text);
	hit = strstr(text, needle);
	if (hit == NULL) {
		free(text);
		return 0;
	}
	hit = strchr(hit, '>');
	for (const char *p = text; p < hit; p++)
		line += *p == '\n';
	free(text);
	return line;
}

/* A copy of the grammar with SED applied to cmp.xml must fail to load with WANT
 * (where "%s:%d" is the copy's cmp.xml and the line of AT in it). */
static void
expect_binding_error(const char *sed, const char *at, const char *want)
{
	struct cli *c = new_cli();
	struct grammar *g = NULL;
	struct sbuf errs = SBUF_INIT, exp = SBUF_INIT;
	char *gd, *xml;

	if (asprintf(&gd, "%s/renamed", dir) < 0 || asprintf(&xml, "%s/cmp.xml", gd) < 0)
		ck_abort();
	tu_sh("rm -rf '%s' && cp -r '%s' '%s' && sed -i '%s' '%s'", gd, schemas, gd, sed,
	    xml);
	ck_assert_int_gt(line_of(xml, at), 0);
	sbuf_printf(&exp, "%s:%d: ", xml, line_of(xml, at));
	sbuf_puts(&exp, want);
	ck_assert_int_eq(grammar_load(gd, &c->reg, &g, &errs), -1);
	ck_assert_ptr_null(g);
	ck_assert_msg(strstr(sbuf_str(&errs), sbuf_str(&exp)) != NULL,
	    "errors lack '%s':\n%s", sbuf_str(&exp), sbuf_str(&errs));
	sbuf_free(&exp);
	sbuf_free(&errs);
	free(xml);
	free(gd);
	cli_free(c);
}

START_TEST(binding_checked_against_grammar)
{
	char *out = NULL, *cmd;

	/* a renamed leaf: the view's declaration is named */
	expect_binding_error("s/leaf=\"auth-cert\"/leaf=\"auth-certificate\"/",
	    "<view name=\"pki-cmp-session\"",
	    "view 'pki-cmp-session' has no leaf 'auth-cert'");
	/* a renamed parameter: the leaf's command is named */
	expect_binding_error("s/name=\"percent\"/name=\"pct\"/",
	    "leaf=\"expire-time\"",
	    "leaf 'expire-time' of view 'pki-cmp-session' has no parameter 'percent'");
	/* a renamed keyword */
	expect_binding_error("s/kw name=\"hmac-sha1\"/kw name=\"hmac-sha-1\"/",
	    "leaf=\"integrity\"",
	    "leaf 'integrity' of view 'pki-cmp-session' has no keyword 'hmac-sha1'");
	/* an integer turned into a string */
	expect_binding_error("/name=\"seconds\"/s/type=\"integer\"/type=\"string\"/",
	    "leaf=\"timeout\"",
	    "parameter 'seconds' of leaf 'timeout' is not an integer");
	/* and the shell refuses to start on it */
	if (asprintf(&cmd, "%s/pkish --no-startup --flash '%s/f' --schemas '%s/renamed' "
	    "-c 'display version'", tu_build(), dir, dir) < 0)
		ck_abort();
	ck_assert_int_eq(tu_run(cmd, &out), 2);
	ck_assert_ptr_nonnull(strstr(out, "not an integer"));
	free(out);
	free(cmd);
}
END_TEST

/* The grammar's help texts name the defaults the device defines (device.h). */
START_TEST(defaults_in_help_are_the_devices)
{
	struct cli *c = new_cli();
	char want[64];
	int seen = 0;

	for (size_t i = 0; i < c->g->nparams; i++) {
		const struct gparam *p = c->g->params[i];

		if (strcmp(p->name, "seconds") == 0) {
			snprintf(want, sizeof(want), "(default %d)", DEVICE_TIMEOUT_DEFAULT);
			ck_assert_msg(strstr(p->help, want) != NULL, "%s", p->help);
			seen++;
		} else if (strcmp(p->name, "percent") == 0) {
			snprintf(want, sizeof(want), "(default %d)", DEVICE_EXPIRE_DEFAULT);
			ck_assert_msg(strstr(p->help, want) != NULL, "%s", p->help);
			seen++;
		}
	}
	ck_assert_int_eq(seen, 2);
	cli_free(c);
}
END_TEST

/* ---- the matcher alone: a small grammar, a fake object lister, no session ---- */

static int fake_calls;

static char **
fake_objects(void *arg, const char *kind)
{
	const char *const *names = arg;
	char **v;
	size_t n = 0;

	fake_calls++;
	if (strcmp(kind, "thing") != 0)
		return NULL;
	while (names[n] != NULL)
		n++;
	v = xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = xstrdup(names[i]);
	return v;
}

static int fake_exists_calls, fake_cannot_tell;

/* The check of one name: exact names of kind "thing" (or "cannot tell"). */
static int
fake_exists(void *arg, const char *kind, const char *name, int nocase)
{
	const char *const *names = arg;

	fake_exists_calls++;
	if (fake_cannot_tell)
		return -1;
	if (strcmp(kind, "thing") != 0)
		return 0;
	for (size_t i = 0; names[i] != NULL; i++)
		if (nocase ? strcasecmp(names[i], name) == 0 : strcmp(names[i], name) == 0)
			return 1;
	return 0;
}

static int
fake_handler(struct cli *c, const struct cli_args *a)
{
	(void)c;
	(void)a;
	return 0;
}

static char **
no_list(void *arg)
{
	(void)arg;
	return NULL;
}

/* Matches LINE in view V of M; returns the status, the caret column in *col.
 * With WANT_NAME, a match must have given param "name" that value. */
static enum cli_status
match(const struct match_env *m, const struct gview *v, const char *line,
    size_t *col, const char *want_name)
{
	struct cli_tokens t;
	struct match_result r;
	enum cli_status st;

	cli_tokenize(line, &t);
	match_line(m, v, &t, line, &r);
	st = r.status;
	if (col != NULL)
		*col = r.bad_col;
	if (want_name != NULL && st == CLI_OK) {
		/* the values borrow from the tokens: check them here */
		ck_assert_ptr_nonnull(r.cmd);
		ck_assert_str_eq(cli_arg(&r.args, "name"), want_name);
	}
	match_result_free(&r);
	cli_tokens_free(&t);
	return st;
}

START_TEST(matcher_without_session)
{
	static const char *const things[] = { "Alpha", "beta", NULL };
	const char *xml = "<?xml version=\"1.0\"?>\n"
	    "<grammar xmlns=\"urn:pkish:grammar:1\">\n"
	    "  <view name=\"user\" title=\"User\" prompt=\"&lt;t&gt;\"/>\n"
	    "  <view name=\"system\" parent=\"user\" title=\"System\" prompt=\"[t]\"/>\n"
	    "  <command views=\"user\" handler=\"show\">\n"
	    "    <kw name=\"show\" help=\"Show\"/>\n"
	    "    <kw name=\"thing\" help=\"A thing\"/>\n"
	    "    <param name=\"name\" type=\"string\" min=\"1\" max=\"16\" object=\"thing\"\n"
	    "           help=\"Thing name\"/>\n"
	    "  </command>\n"
	    "  <command views=\"user\" handler=\"set\">\n"
	    "    <kw name=\"set\" help=\"Set\"/>\n"
	    "    <kw name=\"level\" help=\"Level\"/>\n"
	    "    <param name=\"n\" type=\"integer\" min=\"1\" max=\"9\" help=\"Level number\"/>\n"
	    "  </command>\n"
	    "  <command views=\"user\" handler=\"show\">\n"
	    "    <kw name=\"shutdown\" help=\"Stop\"/>\n"
	    "  </command>\n"
	    "</grammar>\n";
	struct cli_registry reg = { 0 };
	struct grammar *g = NULL;
	struct sbuf errs = SBUF_INIT, help = SBUF_INIT;
	struct match_env m = { 0 };
	struct cli_tokens t;
	const struct gview *user;
	char *gd, *p, **v;
	size_t col, ws;

	/* a grammar directory with only this file: no system.xml, no flash */
	if (asprintf(&gd, "%s/small", dir) < 0 || asprintf(&p, "%s/t.xml", gd) < 0)
		ck_abort();
	tu_sh("mkdir -p '%s' && cp '%s/cli.xsd' '%s/'", gd, schemas, gd);
	tu_write(p, xml, strlen(xml));
	registry_add_handler(&reg, "show", fake_handler);
	registry_add_handler(&reg, "set", fake_handler);
	registry_add_object(&reg, "thing", no_list, NULL, NULL, NULL);
	ck_assert_msg(grammar_load(gd, &reg, &g, &errs) == 0, "%s", sbuf_str(&errs));
	m.g = g;
	m.objects = fake_objects;
	m.exists = NULL;	/* no check of one name: the list is searched */
	m.arg = (void *)things;
	user = grammar_view(g, "user");

	fake_calls = 0;
	ck_assert_int_eq(match(&m, user, "sho th Alpha", NULL, "Alpha"), CLI_OK);
	ck_assert_int_gt(fake_calls, 0);	/* the existence check asked the lister */
	/* case-sensitive kind: "alpha" is not "Alpha"; a name of the right type
	 * that names nothing is not a syntax error: the object is named */
	ck_assert_int_eq(match(&m, user, "show thing alpha", &col, NULL), CLI_MISSING);
	ck_assert_uint_eq(col, 11);
	ck_assert_int_eq(match(&m, user, "show thing gamma", &col, NULL), CLI_MISSING);
	/* ... but the syntax comes first: a caret for what follows it */
	ck_assert_int_eq(match(&m, user, "show thing gamma x", &col, NULL), CLI_TOO_MANY);
	ck_assert_uint_eq(col, 17);
	/* a value the type refuses is still a wrong parameter */
	ck_assert_int_eq(match(&m, user, "show thing 01234567890123456789", &col, NULL),
	    CLI_WRONG_PARAM);
	ck_assert_int_eq(match(&m, user, "sh", &col, NULL), CLI_AMBIGUOUS);
	ck_assert_uint_eq(col, 0);
	ck_assert_int_eq(match(&m, user, "shutdown", NULL, NULL), CLI_OK);
	ck_assert_int_eq(match(&m, user, "set level 10", &col, NULL), CLI_WRONG_PARAM);
	ck_assert_uint_eq(col, 10);
	ck_assert_int_eq(match(&m, user, "set level 3 x", &col, NULL), CLI_TOO_MANY);
	ck_assert_uint_eq(col, 12);
	ck_assert_int_eq(match(&m, user, "set", &col, NULL), CLI_INCOMPLETE);
	ck_assert_uint_eq(col, 3);
	ck_assert_int_eq(match(&m, user, "bogus", NULL, NULL), CLI_UNRECOGNIZED);

	/* With a check of one name the existence check lists nothing (a line must
	 * not cost a listing of every object); the answers are the same. */
	m.exists = fake_exists;
	fake_calls = fake_exists_calls = 0;
	ck_assert_int_eq(match(&m, user, "sho th Alpha", NULL, "Alpha"), CLI_OK);
	ck_assert_int_eq(match(&m, user, "show thing alpha", &col, NULL), CLI_MISSING);
	ck_assert_uint_eq(col, 11);
	ck_assert_int_eq(fake_calls, 0);
	ck_assert_int_gt(fake_exists_calls, 0);
	/* a check that cannot tell hands over to the list */
	fake_cannot_tell = 1;
	ck_assert_int_eq(match(&m, user, "show thing beta", NULL, "beta"), CLI_OK);
	ck_assert_int_eq(match(&m, user, "show thing gamma", NULL, NULL), CLI_MISSING);
	ck_assert_int_gt(fake_calls, 0);
	fake_cannot_tell = 0;

	/* Tab completes existing objects from the lister */
	cli_tokenize("show thing b", &t);
	v = match_complete(&m, user, &t, "show thing b", &ws);
	cli_tokens_free(&t);
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v[0], "beta");
	ck_assert_ptr_null(v[1]);
	ck_assert_uint_eq(ws, 11);
	cli_strv_free(v);

	/* '?' describes the value expected next */
	cli_tokenize("show thing ", &t);
	ck_assert_int_eq(match_help(&m, user, &t, "show thing ", 3, &help), 0);
	cli_tokens_free(&t);
	ck_assert_str_eq(sbuf_str(&help), "  STRING<1-16>  Thing name\n");

	sbuf_free(&help);
	sbuf_free(&errs);
	grammar_free(g);
	registry_free(&reg);
	free(p);
	free(gd);
}
END_TEST

/* ---- round-trip property ---- */

static unsigned long long rng_state;

static unsigned
rnd(unsigned n)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return n ? (unsigned)((rng_state >> 33) % n) : 0;
}

static void
gen_value(struct cli *c, const struct gparam *p, struct sbuf *out)
{
	static const char chars[] = "abcXYZ019-_.@ \"\\:";
	struct sbuf v = SBUF_INIT;

	if (p->object != NULL) {
		if (strncmp(p->object, "view-", 5) == 0) {
			struct cfg_node **nodes = cli_cfg_list(c, p->object + 5);
			size_t n = 0;

			while (nodes[n])
				n++;
			sbuf_puts(&v, n ? nodes[rnd((unsigned)n)]->key : "none");
			free(nodes);
		} else {
			const struct reg_object *o = registry_object(&c->reg, p->object);
			char **names = o->list(o->arg);

			sbuf_puts(&v, names && names[0] ? names[0] : "none");
			cli_strv_free(names);
		}
	} else {
		switch (p->type) {
		case GT_INTEGER:
			sbuf_printf(&v, "%lld", p->min +
			    (long long)rnd((unsigned)(p->max - p->min + 1)));
			break;
		case GT_IPV4:
			sbuf_printf(&v, "%u.%u.%u.%u", rnd(256), rnd(256), rnd(256),
			    rnd(256));
			break;
		case GT_IPV6:
			sbuf_printf(&v, "2001:db8::%x", rnd(65536));
			break;
		case GT_URL:
			sbuf_printf(&v, "http://ca%u.example:%u/p", rnd(100), 1 + rnd(65535));
			break;
		default: {
			long long lo = p->min < 1 ? 1 : p->min;
			long long hi = p->max < lo ? lo : (p->max > lo + 12 ? lo + 12 : p->max);
			long long len = lo + (long long)rnd((unsigned)(hi - lo + 1));

			for (long long i = 0; i < len; i++) {
				char ch;

				do {
					ch = p->charset == GC_ALPHA ? (char)('A' + rnd(26)) :
					    chars[rnd(sizeof(chars) - 1)];
				} while ((p->forbid && strchr(p->forbid, ch)) ||
				    (p->charset == GC_ALNUM && !isalnum((unsigned char)ch)) ||
				    (p->charset == GC_FILENAME && strchr(" \"\\:@", ch)));
				sbuf_putc(&v, ch);
			}
			if (p->charset == GC_FILENAME)
				sbuf_puts(&v, ".cfg");
		}
		}
	}
	/* quote the way an operator would */
	sbuf_putc(out, '"');
	for (const char *s = sbuf_str(&v); *s; s++) {
		if (*s == '"' || *s == '\\')
			sbuf_putc(out, '\\');
		sbuf_putc(out, *s);
	}
	sbuf_putc(out, '"');
	sbuf_free(&v);
}

/* A random walk through CMD's NFA producing a command line. */
static void
gen_command(struct cli *c, const struct gcmd *cmd, struct sbuf *out)
{
	int id = cmd->start;

	for (int steps = 0; steps < 64; steps++) {
		const struct gnode *n = &c->g->nodes[id];

		if (n->kind == GN_END)
			return;
		if (n->kind == GN_KW) {
			sbuf_printf(out, "%s ", n->kw);
		} else if (n->kind == GN_PARAM) {
			gen_value(c, n->param, out);
			sbuf_putc(out, ' ');
		}
		id = n->out[rnd((unsigned)n->nout)];
	}
}

/* Config commands usable in view V. */
static size_t
config_cmds(struct cli *c, const struct gview *v, const struct gcmd **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < c->g->ncmds && n < max; i++) {
		const struct gcmd *cmd = c->g->cmds[i];

		if (cmd->handler == NULL && gcmd_in_view(cmd, v))
			out[n++] = cmd;
	}
	return n;
}

static void
random_config(struct cli *c)
{
	const struct gcmd *cmds[256];
	int lines = 1 + (int)rnd(25);

	free(run(c, "system-view", NULL));
	if (rnd(2)) {
		/* objects that refer to each other, created in dependency order */
		free(run(c, "pki entity ent-x", NULL));
		free(run(c, "common-name cn-x", NULL));
		free(run(c, "quit", NULL));
		free(run(c, "pki cmp session sess-x", NULL));
		free(run(c, "cmp-request entity ent-x", NULL));
		free(run(c, "quit", NULL));
	}
	for (int i = 0; i < lines; i++) {
		size_t n = config_cmds(c, c->view, cmds, 256);
		struct sbuf line = SBUF_INIT;

		if (n == 0 || rnd(8) == 0) {
			free(run(c, "quit", NULL));
			if (c->view == grammar_view(c->g, "user"))
				free(run(c, "system-view", NULL));
			continue;
		}
		gen_command(c, cmds[rnd((unsigned)n)], &line);
		free(run(c, sbuf_str(&line), NULL));
		sbuf_free(&line);
	}
	free(run(c, "return", NULL));
}

/* The echo of a script's line masks the values of secret params wherever the
 * line matches: the current view, a parent view's command typed in a sub-view,
 * abbreviated keywords, and a line that fails later still hides its secret. A
 * line without a secret param is echoed as typed. */
static void
expect_echo(struct cli *c, const char *line, const char *want)
{
	struct sbuf b = SBUF_INIT;

	cli_echo_text(c, line, &b);
	ck_assert_msg(strcmp(sbuf_str(&b), want) == 0, "echo of '%s': '%s', want '%s'",
	    line, sbuf_str(&b), want);
	sbuf_free(&b);
}

START_TEST(echo_masks_secrets)
{
	struct cli *c = new_cli();

	expect(c, "system-view", 0, NULL);
	expect_echo(c, "pki export rsa-key-pair k1 pem k1.pem password abcdef12",
	    "pki export rsa-key-pair k1 pem k1.pem password ******");
	expect_echo(c, "pki ex rsa k1 pem k1.pem pass abcdef12",
	    "pki ex rsa k1 pem k1.pem pass ******");
	expect_echo(c, "pki entity e1", "pki entity e1");
	expect(c, "pki cmp session s1", 0, NULL);
	expect_echo(c, "cmp-request message-authentication-code ref-1 Secret-1",
	    "cmp-request message-authentication-code ref-1 ******");
	expect_echo(c, "cmp-req message-auth ref-1 \"quoted secret\"",
	    "cmp-req message-auth ref-1 ******");
	expect_echo(c, "cmp-request message-authentication-code ref-1",
	    "cmp-request message-authentication-code ref-1");
	/* the system view's command from the session view */
	expect_echo(c, "pki export ecc-key-pair k2 pkcs12 k2.p12 password abcdef12",
	    "pki export ecc-key-pair k2 pkcs12 k2.p12 password ******");
	expect_echo(c, "cmp-request timeout 60", "cmp-request timeout 60");
	expect_echo(c, "bogus word here", "bogus word here");
	expect_echo(c, "", "");
	cli_free(c);
}
END_TEST

START_TEST(roundtrip_property)
{
	for (unsigned seed = 1; seed <= 300; seed++) {
		struct cli *a = new_cli(), *b = new_cli();
		struct sbuf text = SBUF_INIT, text2 = SBUF_INIT;
		char *save = NULL, *copy;
		int rc;

		rng_state = seed;
		random_config(a);
		cli_config_render(a, &text);
		free(run(b, "system-view", NULL));
		copy = xstrdup(sbuf_str(&text));
		for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			char *out;

			if (l[0] == '#')
				continue;
			out = run(b, l, &rc);
			ck_assert_msg(rc == 0, "seed %u: replay of '%s' failed:\n%s\n"
			    "config:\n%s", seed, l, out, sbuf_str(&text));
			free(out);
		}
		free(copy);
		cli_config_render(b, &text2);
		ck_assert_msg(strcmp(sbuf_str(&text), sbuf_str(&text2)) == 0,
		    "seed %u:\n%s\n---\n%s", seed, sbuf_str(&text), sbuf_str(&text2));
		ck_assert_msg(cfg_equal(cli_cfg_root(a), cli_cfg_root(b)),
		    "seed %u: trees differ:\n%s", seed, sbuf_str(&text));
		sbuf_free(&text);
		sbuf_free(&text2);
		cli_free(a);
		cli_free(b);
	}
}
END_TEST

/* The comparison the property relies on sees a one-value difference. */
START_TEST(cfg_equal_detects_difference)
{
	struct cli *a = new_cli(), *b = new_cli();

	free(run(a, "system-view", NULL));
	free(run(b, "system-view", NULL));
	free(run(a, "pki entity e1", NULL));
	free(run(b, "pki entity e1", NULL));
	free(run(a, "common-name x", NULL));
	free(run(b, "common-name x", NULL));
	ck_assert(cfg_equal(cli_cfg_root(a), cli_cfg_root(b)));
	free(run(b, "common-name y", NULL));
	ck_assert(!cfg_equal(cli_cfg_root(a), cli_cfg_root(b)));
	free(run(b, "common-name x", NULL));
	free(run(b, "quit", NULL));
	free(run(b, "pki entity e2", NULL));
	ck_assert(!cfg_equal(cli_cfg_root(a), cli_cfg_root(b)));
	cli_free(a);
	cli_free(b);
}
END_TEST

/* Hostile lines: arbitrary bytes up to 64 KiB get an answer, never a crash. */
START_TEST(hostile_lines)
{
	struct cli *c = new_cli();
	char *line = malloc(CLI_MAX_LINE + 1);

	rng_state = 42;
	for (int round = 0; round < 200; round++) {
		size_t len = round < 190 ? rnd(200) : CLI_MAX_LINE - rnd(16);

		for (size_t i = 0; i < len; i++) {
			unsigned char ch = (unsigned char)(1 + rnd(255));

			if (rnd(4) == 0)
				ch = (unsigned char)" ?\"\\sd"[rnd(6)];
			line[i] = (char)ch;
		}
		line[len] = '\0';
		free(run(c, line, NULL));
		if (round % 3 == 0)
			free(run(c, "system-view", NULL));
	}
	free(line);
	cli_free(c);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, tokenizer_basic);
	tcase_add_test(tc, tokenizer_limits);
	tcase_add_test(tc, abbreviation_and_views);
	tcase_add_test(tc, caret_errors_and_columns);
	tcase_add_test(tc, exact_match_wins_over_prefix);
	tcase_add_test(tc, help_output);
	tcase_add_test(tc, tab_completion);
	tcase_add_test(tc, save_and_startup);
	tcase_add_test(tc, startup_tree_then_edits);
	tcase_add_test(tc, grammar_valid);
	tcase_add_test(tc, grammar_invalid_reports_file_line);
	tcase_add_test(tc, grammar_xxe_refused);
	tcase_add_test(tc, grammar_billion_laughs_refused);
	tcase_add_test(tc, shell_refuses_invalid_grammar);
	tcase_add_test(tc, matcher_without_session);
	tcase_add_test(tc, binding_checked_against_grammar);
	tcase_add_test(tc, defaults_in_help_are_the_devices);
	tcase_add_test(tc, echo_masks_secrets);
	tcase_add_test(tc, roundtrip_property);
	tcase_add_test(tc, cfg_equal_detects_difference);
	tcase_add_test(tc, hostile_lines);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
