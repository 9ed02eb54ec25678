/*
 * Check suite for ca/ca_config.c: cmpca.conf read with NCONF (a good file and
 * every kind of bad line, each refused with its file:line or section/key and
 * leaving nothing half-applied), the command line over the file, the checks of
 * the whole, the description that --check-config prints (secrets masked), the
 * routing of URL paths to profiles, the key-type policy, and ca_check (loads,
 * writes nothing).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../ca/ca_int.h"
#include "testutil.h"

static char *dir, *conf;
static struct ca_config cfg;

static void
setup(void)
{
	dir = tu_tmpdir();
	ck_assert_ptr_nonnull(dir);
	ck_assert_int_ge(asprintf(&conf, "%s/cmpca.conf", dir), 0);
	ca_config_init(&cfg);
}

static void
teardown(void)
{
	ca_config_clear(&cfg);
	tu_rmrf(dir);
	free(dir);
	free(conf);
}

static void
write_conf(const char *text)
{
	ck_assert_int_eq(tu_write(conf, text, strlen(text)), 0);
}

/* Loads TEXT as cmpca.conf into a fresh config: 0 or -1 with *e. */
static int
load(const char *text, struct pk_err *e)
{
	ca_config_clear(&cfg);
	ca_config_init(&cfg);
	write_conf(text);
	pk_err_clear(e);
	return ca_config_load(&cfg, conf, e);
}

/* TEXT is refused by the loader (or, with CHECK, by ca_config_check after it)
 * with a message holding WANT, prefixed with the file name. */
static void
refused(const char *text, int check, const char *want)
{
	struct pk_err e;
	int rc = load(text, &e);

	if (rc == 0 && check)
		rc = ca_config_check(&cfg, &e);
	ck_assert_msg(rc == -1, "accepted: %s", text);
	ck_assert_msg(strstr(e.msg, want) != NULL, "\"%s\" not in \"%s\"", want,
	    e.msg);
	ck_assert_msg(strncmp(e.msg, conf, strlen(conf)) == 0 || check,
	    "no file name in \"%s\"", e.msg);
}

static const char good[] =
    "# a lab CA\n"
    "dir = /srv/ca\n"
    "listen = 0.0.0.0:8080\n"
    "ca-cert = $dir/issuing.crt   # the issuing CA\n"
    "ca-key = ${default::dir}/issuing.key\n"
    "extra-certs = /srv/ca/chain.pem\n"
    "threads = 8\n"
    "ref = lab-default\n"
    "secret = top-secret\n"
    "validity = 30d\n"
    "\n"
    "[ zeta ]\n"
    "path = /zeta, /.well-known/cmp/p/zeta\n"
    "secret-file = /srv/ca/zeta.secret\n"
    "trust = /a.pem /b.pem\n"
    "poll = 2\n"
    "check-after = 5\n"
    "implicit-confirm = no\n"
    "key-types = ec:P-256, rsa:3072 ed25519\n"
    "\n"
    "[alpha]\n"
    "ref = alpha-ref\n"
    "validity = 12h\n";

START_TEST(good_file)
{
	struct pk_err e;
	struct ca_profile *a, *z;
	struct sbuf b = SBUF_INIT;

	ck_assert_msg(load(good, &e) == 0, "%s", e.msg);
	ck_assert_msg(ca_config_check(&cfg, &e) == 0, "%s", e.msg);
	ck_assert_str_eq(cfg.file, conf);
	ck_assert_str_eq(cfg.dir, "/srv/ca");
	ck_assert_str_eq(cfg.listen, "0.0.0.0:8080");
	ck_assert_str_eq(cfg.ca_cert, "/srv/ca/issuing.crt");	/* $dir */
	ck_assert_str_eq(cfg.ca_key, "/srv/ca/issuing.key");
	ck_assert_int_eq(cfg.threads, 8);
	ck_assert_int_eq(cfg.timeout, CA_DEFAULT_TIMEOUT);
	/* the default profile: the top of the file, default paths */
	ck_assert_ptr_eq(cfg.profiles[0], &cfg.def);
	ck_assert_str_eq(cfg.def.name, "default");
	ck_assert_str_eq(cfg.def.ref, "lab-default");
	ck_assert_str_eq(cfg.def.secret, "top-secret");
	ck_assert_int_eq(cfg.def.validity, 30 * 86400);
	ck_assert_int_eq(cfg.def.paths.n, 3);
	ck_assert_str_eq(cfg.def.paths.v[0], "/");
	ck_assert_str_eq(cfg.def.paths.v[1], "/pkix/");
	ck_assert_str_eq(cfg.def.paths.v[2], "/.well-known/cmp");
	ck_assert_int_eq(cfg.def.nkey_types, 6);
	/* the sections, in name order */
	ck_assert_int_eq(cfg.nprofiles, 3);
	a = cfg.profiles[1];
	z = cfg.profiles[2];
	ck_assert_str_eq(a->name, "alpha");
	ck_assert_str_eq(z->name, "zeta");
	ck_assert_ptr_eq(ca_config_profile(&cfg, "zeta"), z);
	ck_assert_ptr_null(ca_config_profile(&cfg, "nobody"));
	/* alpha: RFC 9811's labelled path, its own reference, no secret */
	ck_assert_int_eq(a->paths.n, 1);
	ck_assert_str_eq(a->paths.v[0], "/.well-known/cmp/p/alpha");
	ck_assert_str_eq(a->ref, "alpha-ref");
	ck_assert_ptr_null(a->secret);
	ck_assert_ptr_null(a->secret_file);
	ck_assert_int_eq(a->validity, 12 * 3600);
	ck_assert_int_eq(a->poll, 0);
	ck_assert_int_eq(a->implicit_confirm, 1);
	/* zeta: lists split at commas and blanks */
	ck_assert_int_eq(z->paths.n, 2);
	ck_assert_str_eq(z->paths.v[1], "/.well-known/cmp/p/zeta");
	ck_assert_str_eq(z->ref, "zeta");	/* the name by default */
	ck_assert_str_eq(z->secret_file, "/srv/ca/zeta.secret");
	ck_assert_int_eq(z->trust.n, 2);
	ck_assert_str_eq(z->trust.v[1], "/b.pem");
	ck_assert_int_eq(z->poll, 2);
	ck_assert_int_eq(z->check_after, 5);
	ck_assert_int_eq(z->implicit_confirm, 0);
	ck_assert_int_eq(z->nkey_types, 3);
	ck_assert_int_eq(z->key_types[1].type, EVP_PKEY_RSA);
	ck_assert_int_eq(z->key_types[1].param, 3072);
	/* what --check-config prints: everything but the secret */
	ca_config_describe(&cfg, &b);
	ck_assert_ptr_null(strstr(sbuf_str(&b), "top-secret"));
	ck_assert_ptr_nonnull(strstr(sbuf_str(&b), "profile zeta:\n"));
	ck_assert_ptr_nonnull(strstr(sbuf_str(&b),
	    "  secret: ******** (in /srv/ca/zeta.secret)\n"));
	ck_assert_ptr_nonnull(strstr(sbuf_str(&b), "  key-types: ec:P-256, "
	    "rsa:3072, ed25519\n"));
	ck_assert_ptr_nonnull(strstr(sbuf_str(&b), "  validity: 12h\n"));
	ck_assert_ptr_nonnull(strstr(sbuf_str(&b), "(none: MAC-protected "
	    "requests are refused)"));
	sbuf_free(&b);
}
END_TEST

/* Every kind of bad line, with where it is. */
START_TEST(bad_lines)
{
	refused("dir = x\nfoo\n", 0, ":2: missing equal sign");
	refused("dri = x\n", 0, ":1: unknown key 'dri'");
	refused("\n\nvalidity = 5x\n", 0, ":3: validity: invalid duration '5x': "
	    "unit must be s, m, h or d");
	refused("validity = 0\n", 0, "more than zero");
	refused("poll = -1\n", 0, ":1: poll: '-1' is not a number from 0 to 1000");
	refused("threads = 0\n", 0, "threads: '0' is not a number from 1 to 256");
	refused("check-after = 1x\n", 0, "check-after: '1x'");
	refused("implicit-confirm = true\n", 0, "implicit-confirm takes yes or no");
	refused("key-types = dsa\n", 0, "'dsa' is not a key type");
	refused("key-types = rsa:512\n", 0, "from 2048 to 16384");
	refused("key-types = rsa:1024\n", 0, "no key below RSA 2048");
	refused("key-types = ec:secp256k1\n", 0, "not a key type");
	refused("key-types = ec:P-256 ec:prime256v1\n", 0, "listed twice");
	refused("key-types = ,\n", 0, "the list is empty");
	refused("ref =\n", 0, ":1: ref: the value is empty");
	refused("[lab]\ndir = x\n", 0, ":2: dir is a global setting");
	refused("[lab]\nca-key = x\n", 0, "ca-key is a global setting");
	refused("path = pkix\n", 0, ":1: path: 'pkix' must start with '/'");
	refused("path = /P%41\n", 0, "character '%' is not allowed");
	refused("path = /a b\n", 0, "'b' must start with '/'");
	refused("path = /a//b\n", 0, "empty, \".\" or \"..\" segment");
	refused("path = /a/../b\n", 0, "segment");
	refused("path = /a/./\n", 0, "segment");
	refused("path = /a?x\n", 0, "character '?'");
	refused("path = /a /a\n", 0, "'/a' is listed twice");
	refused("path = /a\npath = /b\n", 0,
	    ":2: path is given twice in [default] (first on line 1)");
	refused("[x]\nref = a\n\n[x]\nref = b\n", 0,
	    ":5: ref is given twice in [x] (first on line 2)");
	refused("[a b]\nref = x\n", 0, ":1: profile name 'a b'");
	refused("x = $nope\n", 0, ":1: variable has no value");
	refused(".include /nonexistent/dir/x.cnf\n", 0, ":1: .include "
	    "/nonexistent/dir/x.cnf");
	/* the whole */
	refused("path = /a\n[b]\npath = /a\n", 1,
	    "path /a is served by profile default and by profile b");
	refused("[b]\npath = /.well-known/cmp\n", 1, "path /.well-known/cmp is "
	    "served by profile default and by profile b");
	refused("secret = a\nsecret-file = b\n", 1, "give secret or secret-file, "
	    "not both");
	refused("ca-cert = a.crt\n", 1, "ca-cert and ca-key");
	refused("signer-key = a.key\n", 1, "signer-cert and signer-key");
	refused("admin-ref = adm\n", 1, "admin-ref and admin-secret-file go "
	    "together");
	refused("[x]\nadmin-secret-file = /a\n", 1, "profile x: admin-ref and "
	    "admin-secret-file");
	refused("ref = lab\nadmin-ref = lab\nadmin-secret-file = /a\n", 1,
	    "admin-ref must differ from ref");
}
END_TEST

START_TEST(bad_files)
{
	struct pk_err e;
	char *p;

	/* no such file */
	ck_assert_int_ge(asprintf(&p, "%s/none.conf", dir), 0);
	ck_assert_int_eq(ca_config_load(&cfg, p, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "none.conf"));
	free(p);
	/* binary */
	ck_assert_int_eq(tu_write(conf, "dir = x\n\0\1\2", 11), 0);
	ck_assert_int_eq(ca_config_load(&cfg, conf, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "not a text file"));
}
END_TEST

/* The command line overrides the top of the file; a list option replaces the
 * file's list with what the options give. */
START_TEST(command_line_over_file)
{
	struct pk_err e;

	ck_assert_msg(load("path = /file1 /file2\nvalidity = 2d\n"
	    "secret-file = /f.secret\ntrust = /t1.pem\n", &e) == 0, "%s", e.msg);
	ck_assert_int_eq(ca_config_set(&cfg, NULL, "validity", "3h", CA_SRC_ARGS,
	    &e), 0);
	ck_assert_int_eq(ca_config_set(&cfg, NULL, "path", "/cli1", CA_SRC_ARGS,
	    &e), 0);
	ck_assert_int_eq(ca_config_set(&cfg, NULL, "path", "/cli two,x",
	    CA_SRC_ARGS, &e), -1);	/* one argument, one path: no splitting */
	ck_assert_int_eq(ca_config_set(&cfg, NULL, "path", "/cli2", CA_SRC_ARGS,
	    &e), 0);
	ck_assert_int_eq(ca_config_set(&cfg, NULL, "secret", "s", CA_SRC_ARGS, &e),
	    0);
	ck_assert_int_eq(ca_config_set(&cfg, NULL, "trust", "/my file.pem",
	    CA_SRC_ARGS, &e), 0);
	ck_assert_int_eq(ca_config_check(&cfg, &e), 0);
	ck_assert_int_eq(cfg.def.validity, 3 * 3600);
	ck_assert_int_eq(cfg.def.paths.n, 2);
	ck_assert_str_eq(cfg.def.paths.v[0], "/cli1");
	ck_assert_str_eq(cfg.def.paths.v[1], "/cli2");
	ck_assert_str_eq(cfg.def.secret, "s");
	ck_assert_ptr_null(cfg.def.secret_file);	/* --secret wins */
	ck_assert_int_eq(cfg.def.trust.n, 1);
	ck_assert_str_eq(cfg.def.trust.v[0], "/my file.pem");
	/* a bad option value changes nothing */
	ck_assert_int_eq(ca_config_set(&cfg, NULL, "validity", "9x", CA_SRC_ARGS,
	    &e), -1);
	ck_assert_int_eq(cfg.def.validity, 3 * 3600);
	ck_assert_int_eq(ca_config_set(&cfg, NULL, "key-types", "ec:P-256 dsa",
	    CA_SRC_ARGS, &e), -1);
	ck_assert_int_eq(cfg.def.nkey_types, 6);
	ck_assert_int_eq(ca_config_set(&cfg, NULL, "nope", "1", CA_SRC_ARGS, &e), -1);
}
END_TEST

/* Paths are matched exactly: no case folding, a trailing '/' counts. */
START_TEST(routing)
{
	struct pk_err e;
	const struct ca_profile *lab;

	ck_assert_msg(load("[lab]\npath = /ejbca/publicweb/cmp/lab /lab/\n",
	    &e) == 0, "%s", e.msg);
	ck_assert_int_eq(ca_config_check(&cfg, &e), 0);
	lab = ca_config_profile(&cfg, "lab");
	ck_assert_ptr_eq(ca_config_route(&cfg, "/"), &cfg.def);
	ck_assert_ptr_eq(ca_config_route(&cfg, "/pkix/"), &cfg.def);
	ck_assert_ptr_eq(ca_config_route(&cfg, "/.well-known/cmp"), &cfg.def);
	ck_assert_ptr_eq(ca_config_route(&cfg, "/ejbca/publicweb/cmp/lab"), lab);
	ck_assert_ptr_eq(ca_config_route(&cfg, "/lab/"), lab);
	ck_assert_ptr_null(ca_config_route(&cfg, "/lab"));
	ck_assert_ptr_null(ca_config_route(&cfg, "/pkix"));
	ck_assert_ptr_null(ca_config_route(&cfg, "/PKIX/"));
	ck_assert_ptr_null(ca_config_route(&cfg, "/pKiX/"));
	ck_assert_ptr_null(ca_config_route(&cfg, "/.well-known/cmp/"));
	ck_assert_ptr_null(ca_config_route(&cfg, "/.well-known/cmp/p/lab"));
	ck_assert_ptr_null(ca_config_route(&cfg, "/publicweb/cmp/example"));
	ck_assert_ptr_null(ca_config_route(&cfg, ""));
	ck_assert_ptr_null(ca_config_route(&cfg, NULL));
	/* --path replaces the default profile's paths */
	ck_assert_int_eq(ca_config_set(&cfg, NULL, "path", "/only", CA_SRC_ARGS,
	    &e), 0);
	ck_assert_ptr_eq(ca_config_route(&cfg, "/only"), &cfg.def);
	ck_assert_ptr_null(ca_config_route(&cfg, "/"));
}
END_TEST

START_TEST(key_type_policy)
{
	struct pk_err e;
	EVP_PKEY *p256 = EVP_EC_gen("P-256"), *p384 = EVP_EC_gen("P-384");
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *rsa = EVP_RSA_gen(2048);

	/* the default: all of them */
	ck_assert_int_eq(ca_profile_accepts_key(&cfg.def, p256), 1);
	ck_assert_int_eq(ca_profile_accepts_key(&cfg.def, p384), 1);
	ck_assert_int_eq(ca_profile_accepts_key(&cfg.def, ed), 1);
	ck_assert_int_eq(ca_profile_accepts_key(&cfg.def, rsa), 1);
	ck_assert_int_eq(ca_config_set(&cfg, NULL, "key-types", "ec:P-384 rsa:3072",
	    CA_SRC_ARGS, &e), 0);
	ck_assert_int_eq(ca_profile_accepts_key(&cfg.def, p256), 0);
	ck_assert_int_eq(ca_profile_accepts_key(&cfg.def, p384), 1);
	ck_assert_int_eq(ca_profile_accepts_key(&cfg.def, ed), 0);
	ck_assert_int_eq(ca_profile_accepts_key(&cfg.def, rsa), 0);	/* 2048 */
	ck_assert_int_eq(ca_config_set(&cfg, NULL, "key-types", "rsa", CA_SRC_ARGS,
	    &e), 0);
	ck_assert_int_eq(ca_profile_accepts_key(&cfg.def, rsa), 1);
	EVP_PKEY_free(p256);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(rsa);
}
END_TEST

/* ca_check loads every file named, and writes nothing: no DIR, no database. */
START_TEST(check_writes_nothing)
{
	struct ca *ca = NULL;
	struct pk_err e;
	char *cadir, *text;
	struct stat sb;

	ck_assert_int_ge(asprintf(&cadir, "%s/ca", dir), 0);
	ck_assert_int_ge(asprintf(&text, "dir = %s\n[lab]\nsecret-file = %s/no."
	    "secret\n", cadir, dir), 0);
	ck_assert_msg(load(text, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(ca_config_check(&cfg, &e), 0);
	ck_assert_int_eq(ca_check(&ca, &cfg, &e), -1);
	ck_assert_msg(strstr(e.msg, "profile lab: secret-file:") != NULL &&
	    strstr(e.msg, "no.secret") != NULL, "%s", e.msg);
	ck_assert_int_eq(tu_sh("printf 'lab-secret\\n' > '%s/no.secret'", dir), 0);
	ck_assert_msg(ca_check(&ca, &cfg, &e) == 0, "%s", e.msg);
	ck_assert_ptr_null(ca_get0_cert(ca));	/* made on the first run */
	ck_assert_str_eq(ca_get0_prof(ca, 1)->secret, "lab-secret");
	ck_assert_ptr_null(ca_get0_prof(ca, 0)->secret);
	ca_close(ca);
	ck_assert_int_eq(stat(cadir, &sb), -1);
	free(text);
	free(cadir);
}
END_TEST

/* The example the README and the installation ship parses and checks. */
START_TEST(example_file)
{
	struct ca_config c;
	struct pk_err e;
	char *f;

	ck_assert_int_ge(asprintf(&f, "%s/examples/cmpca.conf", tu_top()), 0);
	ca_config_init(&c);
	ck_assert_msg(ca_config_load(&c, f, &e) == 0, "%s", e.msg);
	ck_assert_msg(ca_config_check(&c, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(c.nprofiles, 3);
	ck_assert_str_eq(c.profiles[2]->name, "test");
	ck_assert_str_eq(c.profiles[2]->paths.v[0], "/.well-known/cmp/p/test");
	ck_assert_ptr_null(c.profiles[1]->secret_file);	/* routers: signed only */
	ca_config_clear(&c);
	free(f);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("ca_config");
	TCase *tc = tcase_create("config");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, good_file);
	tcase_add_test(tc, bad_lines);
	tcase_add_test(tc, bad_files);
	tcase_add_test(tc, command_line_over_file);
	tcase_add_test(tc, routing);
	tcase_add_test(tc, key_type_policy);
	tcase_add_test(tc, check_writes_nothing);
	tcase_add_test(tc, example_file);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
