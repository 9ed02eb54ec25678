/*
 * ca_config: cmpca's configuration, from the command line and cmpca.conf.
 *
 * Contract (ca.h): one table of keys (below) defines every setting once: its
 * name (the cmpca.conf key and the long option without "--"), whether it is
 * global or belongs to a profile, how its value is parsed, and its default.
 * ca_config_set() is the one way a value gets in, from the command line or the
 * file, so both are validated alike.
 *
 * cmpca.conf is read with OpenSSL's NCONF (the syntax of openssl.cnf and of the
 * `openssl cmp -port` server's configuration): `key = value` lines, `[section]`
 * headers, `#` comments, `$var` / `${section::var}` / `$ENV::VAR` expansion,
 * `.include`. The top of the file (NCONF's section "default") holds the global
 * keys and the default profile's; every other section is a profile named after
 * it. NCONF keeps the last of two equal keys silently; a light scan of the
 * file's lines gives each key its line number for messages and refuses a key
 * given twice in one section.
 *
 * Paths: exact, byte for byte (no case folding, "/pkix" and "/pkix/" are two
 * paths); the query string is not part of the path.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/conf.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>

#include "../storage/storage.h"
#include "ca.h"

#define MAX_DURATION		(100LL * 366 * 86400)
#define MAX_NAME		64	/* bytes of a profile name */
#define MAX_REF			128	/* bytes of a reference */
#define DEFAULT_RSA_BITS	2048
#define MIN_RSA_BITS		2048	/* ca_issue's floor, CA_MIN_RSA_BITS */

/* ---- the keys ---- */

enum scope { GLOBAL, PROFILE };
enum kind {
	K_STR,		/* a string (not empty) */
	K_FILE,		/* a file name */
	K_SECRET,	/* the PBM secret, masked when shown */
	K_SECRET_FILE,	/* the file that holds it */
	K_INT,		/* an integer from min to max */
	K_BOOL,		/* yes or no */
	K_DURATION,	/* ca_parse_duration */
	K_PATHS,	/* a list of URL paths */
	K_FILES,	/* a list of files */
	K_KEY_TYPES	/* a list of key types */
};

struct key {
	const char *name;
	enum scope scope;
	enum kind kind;
	size_t off;		/* in struct ca_config (GLOBAL) or ca_profile */
	long min, max;		/* K_INT */
};

#define G(n, k, f)	{ n, GLOBAL, k, offsetof(struct ca_config, f), 0, 0 }
#define GI(n, f, a, b)	{ n, GLOBAL, K_INT, offsetof(struct ca_config, f), a, b }
#define P(n, k, f)	{ n, PROFILE, k, offsetof(struct ca_profile, f), 0, 0 }
#define PI(n, f, a, b)	{ n, PROFILE, K_INT, offsetof(struct ca_profile, f), a, b }

/* Every setting, in the order --check-config shows them. */
static const struct key keys[] = {
	G("dir", K_FILE, dir),
	G("listen", K_STR, listen),
	G("ca-cert", K_FILE, ca_cert),
	G("ca-key", K_FILE, ca_key),
	G("signer-cert", K_FILE, signer_cert),
	G("signer-key", K_FILE, signer_key),
	G("extra-certs", K_FILE, extra_certs),
	G("capubs", K_FILE, capubs),
	G("previous-ca-cert", K_FILE, previous_ca_cert),
	G("tls-cert", K_FILE, tls_cert),
	G("tls-key", K_FILE, tls_key),
	GI("threads", threads, 1, 256),
	GI("timeout", timeout, 1, 3600),
	GI("max-per-address", max_per_address, 1, 512),
	GI("auth-fail-limit", auth_fail_limit, 0, 100000),
	GI("auth-fail-window", auth_fail_window, 1, 86400),
	G("confirm-wait", K_DURATION, confirm_wait),
	G("retention", K_DURATION, retention),
	P("path", K_PATHS, paths),
	P("ref", K_STR, ref),
	P("secret", K_SECRET, secret),
	P("secret-file", K_SECRET_FILE, secret_file),
	P("admin-ref", K_STR, admin_ref),
	P("admin-secret-file", K_FILE, admin_secret_file),
	P("trust", K_FILES, trust),
	P("validity", K_DURATION, validity),
	PI("poll", poll, 0, 1000),
	PI("check-after", check_after, 0, 86400),
	P("implicit-confirm", K_BOOL, implicit_confirm),
	P("key-types", K_KEY_TYPES, key_types),
	P("allow-subject-change", K_BOOL, allow_subject_change),
};
#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

static const struct key *
find_key(const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* ---- strings the config owns ---- */

static const char *
pool_dup(struct ca_config *c, const char *s)
{
	char *d = xstrdup(s);

	c->pool = xrealloc(c->pool, (c->npool + 1) * sizeof(*c->pool));
	c->pool[c->npool++] = d;
	return d;
}

static void
list_add(struct ca_strlist *l, const char *s)
{
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = s;
}

static void
list_clear(struct ca_strlist *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* ---- key types ---- */

static const struct {
	const char *name;	/* as in key-types */
	int type, param;
} key_type_names[] = {
	{ "rsa", EVP_PKEY_RSA, 0 },
	{ "ec:P-256", EVP_PKEY_EC, NID_X9_62_prime256v1 },
	{ "ec:P-384", EVP_PKEY_EC, NID_secp384r1 },
	{ "ec:P-521", EVP_PKEY_EC, NID_secp521r1 },
	{ "ed25519", EVP_PKEY_ED25519, 0 },
	{ "ed448", EVP_PKEY_ED448, 0 },
};
#define NKEY_TYPE_NAMES	(sizeof(key_type_names) / sizeof(key_type_names[0]))

/* The default: RSA of 2048 bits and more, the NIST curves, EdDSA. */
static void
default_key_types(struct ca_profile *p)
{
	size_t i;

	p->nkey_types = 0;
	for (i = 0; i < NKEY_TYPE_NAMES; i++) {
		p->key_types[i].type = key_type_names[i].type;
		p->key_types[i].param = key_type_names[i].type == EVP_PKEY_RSA ?
		    DEFAULT_RSA_BITS : key_type_names[i].param;
		p->nkey_types++;
	}
}

/* One key type: "rsa" (2048 bits and more), "rsa:BITS" (BITS and more),
 * "ec:P-256" (or its OpenSSL name "ec:prime256v1"), "ed25519", "ed448". */
static int
parse_key_type(const char *s, struct ca_key_type *kt, struct pk_err *e)
{
	size_t i;
	char *end;
	long bits;
	int nid;

	if (strncmp(s, "rsa:", 4) == 0) {
		errno = 0;
		bits = strtol(s + 4, &end, 10);
		if (s[4] < '0' || s[4] > '9' || *end != '\0' || errno != 0 ||
		    bits < MIN_RSA_BITS || bits > 16384)
			return pk_err_set(e, "'%s': the RSA size is a number of bits "
			    "from %d to 16384 (no key below RSA %d is ever "
			    "certified)", s, MIN_RSA_BITS, MIN_RSA_BITS);
		kt->type = EVP_PKEY_RSA;
		kt->param = (int)bits;
		return 0;
	}
	for (i = 0; i < NKEY_TYPE_NAMES; i++)
		if (strcmp(s, key_type_names[i].name) == 0) {
			kt->type = key_type_names[i].type;
			kt->param = kt->type == EVP_PKEY_RSA ? DEFAULT_RSA_BITS :
			    key_type_names[i].param;
			return 0;
		}
	if (strncmp(s, "ec:", 3) == 0 && (nid = OBJ_sn2nid(s + 3)) != NID_undef &&
	    (nid == NID_X9_62_prime256v1 || nid == NID_secp384r1 ||
	    nid == NID_secp521r1)) {
		kt->type = EVP_PKEY_EC;
		kt->param = nid;
		return 0;
	}
	return pk_err_set(e, "'%s' is not a key type (rsa, rsa:BITS, ec:P-256, "
	    "ec:P-384, ec:P-521, ed25519, ed448)", s);
}

static void
key_type_text(const struct ca_key_type *kt, struct sbuf *b)
{
	size_t i;

	if (kt->type == EVP_PKEY_RSA) {
		sbuf_printf(b, "rsa:%d", kt->param);
		return;
	}
	for (i = 0; i < NKEY_TYPE_NAMES; i++)
		if (key_type_names[i].type == kt->type &&
		    key_type_names[i].param == kt->param) {
			sbuf_puts(b, key_type_names[i].name);
			return;
		}
	sbuf_puts(b, "?");
}

int
ca_profile_accepts_key(const struct ca_profile *p, EVP_PKEY *key)
{
	char grp[64];
	size_t i;
	int type = EVP_PKEY_get_base_id(key), nid = NID_undef;

	if (type == EVP_PKEY_EC) {
		if (!EVP_PKEY_get_utf8_string_param(key, "group", grp, sizeof(grp),
		    NULL))
			return 0;
		nid = OBJ_txt2nid(grp);
		if (nid == NID_undef)
			nid = EC_curve_nist2nid(grp);
	}
	ERR_clear_error();
	for (i = 0; i < p->nkey_types; i++) {
		const struct ca_key_type *kt = &p->key_types[i];

		if (kt->type != type)
			continue;
		if (type == EVP_PKEY_RSA && EVP_PKEY_get_bits(key) >= kt->param)
			return 1;
		if (type == EVP_PKEY_EC && nid == kt->param)
			return 1;
		if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC)
			return 1;
	}
	return 0;
}

/* ---- durations ---- */

int
ca_parse_duration(const char *s, long *secs, struct pk_err *e)
{
	long long v = 0, mul = 86400;	/* a bare number means days */
	const char *p = s;

	if (s == NULL || *s < '0' || *s > '9')
		return pk_err_set(e, "invalid duration '%s' (expected e.g. 20s, 10m, "
		    "2h, 30d or a number of days)", s != NULL ? s : "");
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (*p - '0');
		if (v > MAX_DURATION)
			return pk_err_set(e, "duration '%s' is too long", s);
	}
	switch (*p) {
	case '\0':
		break;
	case 's':
		mul = 1;
		break;
	case 'm':
		mul = 60;
		break;
	case 'h':
		mul = 3600;
		break;
	case 'd':
		mul = 86400;
		break;
	default:
		return pk_err_set(e, "invalid duration '%s': unit must be s, m, h or d",
		    s);
	}
	if (*p != '\0' && p[1] != '\0')
		return pk_err_set(e, "invalid duration '%s': trailing text", s);
	if (v == 0)
		return pk_err_set(e, "duration '%s' must be more than zero", s);
	if (v * mul > MAX_DURATION)
		return pk_err_set(e, "duration '%s' is too long", s);
	*secs = (long)(v * mul);
	return 0;
}

static void
duration_text(long s, struct sbuf *b)
{
	if (s % 86400 == 0)
		sbuf_printf(b, "%ldd", s / 86400);
	else if (s % 3600 == 0)
		sbuf_printf(b, "%ldh", s / 3600);
	else if (s % 60 == 0)
		sbuf_printf(b, "%ldm", s / 60);
	else
		sbuf_printf(b, "%lds", s);
}

/* ---- paths ---- */

/* A path a profile may be served at: absolute, at most CA_MAX_PATH bytes, made
 * of RFC 3986 3.3 pchar characters and '/', no percent-encoding (the HTTP
 * server decodes it before matching), no empty, "." or ".." segment except a
 * final empty one (a trailing '/'). */
static int
check_path(const char *p, struct pk_err *e)
{
	const char *s;
	size_t n = strlen(p);

	if (p[0] != '/')
		return pk_err_set(e, "'%s' must start with '/'", p);
	if (n > CA_MAX_PATH)
		return pk_err_set(e, "'%.40s...' is longer than %d bytes", p,
		    CA_MAX_PATH);
	for (s = p; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) &&
		    strchr("/-._~!$&'()*+,;=:@", *s) == NULL)
			return pk_err_set(e, "'%s': character '%c' is not "
			    "allowed (RFC 3986 3.3; no percent-encoding)", p, *s);
	for (s = p; *s != '\0'; s++) {
		const char *seg = s + 1, *end;

		if (*s != '/')
			continue;
		end = strchr(seg, '/');
		n = end != NULL ? (size_t)(end - seg) : strlen(seg);
		if ((n == 0 && end != NULL) || (n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return pk_err_set(e, "'%s' has an empty, \".\" or \"..\" "
			    "segment", p);
	}
	return 0;
}

/* ---- setting a value ---- */

static int
parse_int(const char *s, long min, long max, long *out, struct pk_err *e)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		return pk_err_set(e, "'%s' is not a number from %ld to %ld", s, min,
		    max);
	*out = v;
	return 0;
}

/* Calls FN for every item of a list value: split at commas and blanks (from
 * the file), or the whole value (one command-line argument). */
static int
each_item(const char *value, int split, int (*fn)(void *, const char *,
    struct pk_err *), void *arg, struct pk_err *e)
{
	char *copy, *tok, *save = NULL;
	int rc = 0, n = 0;

	if (!split)
		return fn(arg, value, e);
	copy = xstrdup(value);
	for (tok = strtok_r(copy, ", \t", &save); tok != NULL && rc == 0;
	    tok = strtok_r(NULL, ", \t", &save)) {
		rc = fn(arg, tok, e);
		n++;
	}
	free(copy);
	if (rc == 0 && n == 0)
		return pk_err_set(e, "the list is empty");
	return rc;
}

struct list_ctx {
	struct ca_config *c;
	struct ca_strlist *l;
	int paths;
};

static int
add_list_item(void *arg, const char *item, struct pk_err *e)
{
	struct list_ctx *x = arg;
	size_t i;

	if (x->paths) {
		if (check_path(item, e) != 0)
			return -1;
		for (i = 0; i < x->l->n; i++)
			if (strcmp(x->l->v[i], item) == 0)
				return pk_err_set(e, "'%s' is listed twice", item);
	}
	list_add(x->l, pool_dup(x->c, item));
	return 0;
}

static int
add_key_type(void *arg, const char *item, struct pk_err *e)
{
	struct ca_profile *p = arg;
	struct ca_key_type kt;
	size_t i;

	if (parse_key_type(item, &kt, e) != 0)
		return -1;
	for (i = 0; i < p->nkey_types; i++)
		if (p->key_types[i].type == kt.type &&
		    (kt.type == EVP_PKEY_RSA || p->key_types[i].param == kt.param))
			return pk_err_set(e, "key type '%s' is listed twice", item);
	if (p->nkey_types >= CA_MAX_KEY_TYPES)
		return pk_err_set(e, "more than %d key types", CA_MAX_KEY_TYPES);
	p->key_types[p->nkey_types++] = kt;
	return 0;
}

int
ca_config_set(struct ca_config *c, struct ca_profile *p, const char *name,
    const char *value, enum ca_src src, struct pk_err *e)
{
	const struct key *k = find_key(name);
	struct list_ctx lc;
	struct ca_key_type saved[CA_MAX_KEY_TYPES];
	size_t nsaved;
	void *base;
	long v = 0;
	int rc;

	if (k == NULL)
		return pk_err_set(e, "unknown key '%s'", name);
	if (k->scope == GLOBAL && p != NULL)
		return pk_err_set(e, "%s is a global setting: set it at the top of "
		    "the file, not in a profile's section", name);
	if (p == NULL)
		p = &c->def;
	base = k->scope == GLOBAL ? (void *)c : (void *)p;
	if (value == NULL)
		value = "";
	switch (k->kind) {
	case K_STR:
	case K_FILE:
	case K_SECRET:
	case K_SECRET_FILE:
		if (*value == '\0')
			return pk_err_set(e, "%s: the value is empty", name);
		if (k->kind == K_STR && (strcmp(name, "ref") == 0 ||
		    strcmp(name, "admin-ref") == 0) && strlen(value) > MAX_REF)
			return pk_err_set(e, "%s: longer than %d bytes", name,
			    MAX_REF);
		*(const char **)((char *)base + k->off) = pool_dup(c, value);
		if (k->kind == K_SECRET || k->kind == K_SECRET_FILE) {
			/* the one given last wins: the command line over the
			 * file, never both from one source */
			if (p->secret_src != src) {
				if (k->kind == K_SECRET)
					p->secret_file = NULL;
				else
					p->secret = NULL;
			}
			p->secret_src = src;
		}
		return 0;
	case K_INT:
		if (parse_int(value, k->min, k->max, &v, e) != 0)
			return pk_err_set(e, "%s: '%s' is not a number from %ld to "
			    "%ld", name, value, k->min, k->max);
		*(int *)((char *)base + k->off) = (int)v;
		return 0;
	case K_BOOL:
		if (strcmp(value, "yes") == 0)
			*(int *)((char *)base + k->off) = 1;
		else if (strcmp(value, "no") == 0)
			*(int *)((char *)base + k->off) = 0;
		else
			return pk_err_set(e, "%s takes yes or no, not '%s'", name,
			    value);
		return 0;
	case K_DURATION:
		if (ca_parse_duration(value, &v, e) != 0) {
			struct pk_err e2 = *e;

			return pk_err_set(e, "%s: %s", name, e2.msg);
		}
		*(long *)((char *)base + k->off) = v;
		return 0;
	case K_PATHS:
	case K_FILES:
		lc.c = c;
		lc.l = (struct ca_strlist *)((char *)base + k->off);
		lc.paths = k->kind == K_PATHS;
		if (lc.l->src != src)
			list_clear(lc.l);	/* the command line replaces */
		lc.l->src = src;
		if (each_item(value, src != CA_SRC_ARGS, add_list_item, &lc, e) != 0) {
			struct pk_err e2 = *e;

			return pk_err_set(e, "%s: %s", name, e2.msg);
		}
		return 0;
	case K_KEY_TYPES:
		/* the whole list at once: the new one replaces the default */
		memcpy(saved, p->key_types, sizeof(saved));
		nsaved = p->nkey_types;
		p->nkey_types = 0;
		rc = each_item(value, 1, add_key_type, p, e);
		if (rc != 0) {
			struct pk_err e2 = *e;

			memcpy(p->key_types, saved, sizeof(saved));
			p->nkey_types = nsaved;
			return pk_err_set(e, "%s: %s", name, e2.msg);
		}
		return 0;
	}
	return pk_err_set(e, "%s: unhandled", name);
}

/* ---- life cycle ---- */

static void
profile_init(struct ca_profile *p, const char *name)
{
	memset(p, 0, sizeof(*p));
	p->name = name;
	p->validity = CA_DEFAULT_VALIDITY;
	p->check_after = CA_DEFAULT_CHECK_AFTER;
	p->implicit_confirm = 1;
	default_key_types(p);
}

void
ca_config_init(struct ca_config *c)
{
	memset(c, 0, sizeof(*c));
	c->dir = CA_DEFAULT_DIR;
	c->listen = CA_DEFAULT_LISTEN;
	c->threads = CA_DEFAULT_THREADS;
	c->timeout = CA_DEFAULT_TIMEOUT;
	c->max_per_address = CA_DEFAULT_PER_ADDRESS;
	c->auth_fail_limit = CA_DEFAULT_AUTH_FAIL_LIMIT;
	c->auth_fail_window = CA_DEFAULT_AUTH_FAIL_WINDOW;
	c->confirm_wait = CA_DEFAULT_CONFIRM_WAIT;
	c->retention = CA_DEFAULT_RETENTION;
	c->max_request = CA_MAX_REQUEST;
	profile_init(&c->def, CA_DEFAULT_PROFILE);
	c->def.ref = CA_DEFAULT_REF;
	c->profiles = xmalloc(sizeof(*c->profiles));
	c->profiles[0] = &c->def;
	c->nprofiles = 1;
}

void
ca_config_clear(struct ca_config *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nprofiles; i++) {
		list_clear(&c->profiles[i]->paths);
		list_clear(&c->profiles[i]->trust);
		if (c->profiles[i] != &c->def)
			free(c->profiles[i]);
	}
	free(c->profiles);
	c->profiles = NULL;
	c->nprofiles = 0;
	for (i = 0; i < c->npool; i++)
		storage_wipe_free(c->pool[i]);
	free(c->pool);
	c->pool = NULL;
	c->npool = 0;
}

struct ca_profile *
ca_config_profile(struct ca_config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nprofiles; i++)
		if (strcmp(c->profiles[i]->name, name) == 0)
			return c->profiles[i];
	return NULL;
}

static struct ca_profile *
add_profile(struct ca_config *c, const char *name)
{
	struct ca_profile *p = xmalloc(sizeof(*p));

	profile_init(p, pool_dup(c, name));
	p->ref = p->name;	/* the reference defaults to the profile's name */
	c->profiles = xrealloc(c->profiles, (c->nprofiles + 1) *
	    sizeof(*c->profiles));
	c->profiles[c->nprofiles++] = p;
	return p;
}

/* ---- cmpca.conf ---- */

/* Where a key was written: the light line scan of the file. */
struct key_line {
	char *section, *key;
	int line;
};

struct scan {
	struct key_line *v;
	size_t n;
};

static void
scan_free(struct scan *sc)
{
	size_t i;

	for (i = 0; i < sc->n; i++) {
		free(sc->v[i].section);
		free(sc->v[i].key);
	}
	free(sc->v);
}

static char *
trimmed(const char *s, size_t n)
{
	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	return xstrndup(s, n);
}

/* The line of SECTION's KEY, 0 when the scan did not see it (an .include). */
static int
key_line(const struct scan *sc, const char *section, const char *key)
{
	size_t i;

	for (i = sc->n; i > 0; i--)
		if (strcmp(sc->v[i - 1].section, section) == 0 &&
		    strcmp(sc->v[i - 1].key, key) == 0)
			return sc->v[i - 1].line;
	return 0;
}

/* ".include [=] PATH" (OpenSSL 3.0 skips a missing file silently): the file
 * must exist. A path with a variable, or relative under OPENSSL_CONF_INCLUDE,
 * is left to NCONF. */
static int
check_include(const char *file, int line, const char *s, size_t n,
    struct pk_err *e)
{
	char *d, *p;
	int rc = 0;

	if (n < 8 || strncmp(s, ".include", 8) != 0)
		return 0;
	d = trimmed(s + 8, n - 8);
	p = d;
	if (*p == '=')
		p++;
	while (isspace((unsigned char)*p))
		p++;
	if (*p != '\0' && strchr(p, '$') == NULL &&
	    (*p == '/' || getenv("OPENSSL_CONF_INCLUDE") == NULL) &&
	    access(p, R_OK) != 0)
		rc = pk_err_set(e, "%s:%d: .include %s: %s", file, line, p,
		    strerror(errno));
	free(d);
	return rc;
}

/* Scans TEXT like NCONF's default syntax: "[section]" headers, "key = value"
 * lines, '#' comments, '\' continuations, ".include"/".pragma" directives.
 * A key given twice in one section is an error (NCONF keeps the last one). */
static int
scan_lines(const char *file, const char *text, struct scan *sc,
    struct pk_err *e)
{
	const char *p = text, *nl, *eq, *end;
	char *section = xstrdup("default"), *key, *colons;
	int line = 0, cont = 0, first;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		end = nl != NULL ? nl : p + strlen(p);
		line++;
		if (cont) {
			/* a continuation of the previous line */
		} else {
			const char *s = p;

			while (s < end && isspace((unsigned char)*s))
				s++;
			if (s < end && *s == '[') {
				const char *r = memchr(s, ']', (size_t)(end - s));

				if (r != NULL) {
					free(section);
					section = trimmed(s + 1, (size_t)(r - s - 1));
					/* the header itself: key "" */
					sc->v = xrealloc(sc->v, (sc->n + 1) *
					    sizeof(*sc->v));
					sc->v[sc->n].section = xstrdup(section);
					sc->v[sc->n].key = xstrdup("");
					sc->v[sc->n].line = line;
					sc->n++;
				}
			} else if (s < end && *s == '.' &&
			    check_include(file, line, s, (size_t)(end - s), e) != 0) {
				free(section);
				return -1;
			} else if (s < end && *s != '#' && *s != '.' &&
			    (eq = memchr(s, '=', (size_t)(end - s))) != NULL) {
				key = trimmed(s, (size_t)(eq - s));
				colons = strstr(key, "::");
				first = key_line(sc, colons != NULL ? "" : section, key);
				if (colons == NULL && first > 0) {
					pk_err_set(e, "%s:%d: %s is given twice in [%s] "
					    "(first on line %d); give every value on "
					    "one line", file, line, key, section, first);
					free(key);
					free(section);
					return -1;
				}
				sc->v = xrealloc(sc->v, (sc->n + 1) * sizeof(*sc->v));
				sc->v[sc->n].section = xstrdup(colons != NULL ? "" :
				    section);
				sc->v[sc->n].key = key;
				sc->v[sc->n].line = line;
				sc->n++;
			}
		}
		/* an odd number of backslashes at the end continues the line */
		{
			const char *b = end;
			int nb = 0;

			while (b > p && (b[-1] == '\r' || b[-1] == ' ' ||
			    b[-1] == '\t'))
				b--;
			while (b > p && b[-1] == '\\') {
				b--;
				nb++;
			}
			cont = nb % 2 == 1;
		}
		p = nl != NULL ? nl + 1 : end;
	}
	free(section);
	return 0;
}

/* A profile name: what RFC 9811's label and our path characters allow. */
static int
check_profile_name(const char *n, struct pk_err *e)
{
	const char *s;

	if (*n == '\0' || strlen(n) > MAX_NAME)
		return pk_err_set(e, "a profile name has 1 to %d characters",
		    MAX_NAME);
	for (s = n; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("-._~", *s) == NULL)
			return pk_err_set(e, "profile name '%s': character '%c' is "
			    "not allowed (letters, digits, '-', '.', '_', '~')",
			    n, *s);
	return 0;
}

static int
cmp_cstr(const char *const *a, const char *const *b)
{
	return strcmp(*a, *b);
}

/* Applies the values of SECTION to P (NULL: the top). */
static int
load_section(struct ca_config *c, CONF *conf, const char *section,
    struct ca_profile *p, const char *file, const struct scan *sc,
    struct pk_err *e)
{
	STACK_OF(CONF_VALUE) *vals = NCONF_get_section(conf, section);
	struct pk_err e2;
	int i, line;

	for (i = 0; i < sk_CONF_VALUE_num(vals); i++) {
		CONF_VALUE *cv = sk_CONF_VALUE_value(vals, i);

		pk_err_clear(&e2);
		if (ca_config_set(c, p, cv->name, cv->value, CA_SRC_FILE, &e2) == 0)
			continue;
		line = key_line(sc, section, cv->name);
		if (line > 0)
			return pk_err_set(e, "%s:%d: %s", file, line, e2.msg);
		return pk_err_set(e, "%s: [%s] %s: %s", file, section, cv->name,
		    e2.msg);
	}
	return 0;
}

int
ca_config_load(struct ca_config *c, const char *file, struct pk_err *e)
{
	CONF *conf = NULL;
	STACK_OF(OPENSSL_CSTRING) *names = NULL;
	struct scan sc = { NULL, 0 };
	struct ca_profile *p;
	struct pk_err e2;
	unsigned char *text = NULL;
	size_t len = 0;
	long eline = -1;
	int i, rc = -1;

	c->file = pool_dup(c, file);
	if (storage_read(file, STORAGE_MAX_FILE, &text, &len, e) != 0)
		goto out;
	if (strlen((char *)text) != len) {
		pk_err_set(e, "%s: not a text file", file);
		goto out;
	}
	if (scan_lines(file, (char *)text, &sc, e) != 0)
		goto out;
	if ((conf = NCONF_new(NULL)) == NULL) {
		pk_err_ossl(e, "out of memory");
		goto out;
	}
	if (!NCONF_load(conf, file, &eline)) {
		const char *why = ERR_reason_error_string(ERR_peek_last_error());

		if (eline > 0)
			pk_err_set(e, "%s:%ld: %s", file, eline, why != NULL ? why :
			    "syntax error");
		else
			pk_err_set(e, "%s: %s", file, why != NULL ? why :
			    "cannot read the file");
		ERR_clear_error();
		goto out;
	}
	if (load_section(c, conf, "default", NULL, file, &sc, e) != 0)
		goto out;
	if ((names = NCONF_get_section_names(conf)) == NULL) {
		pk_err_ossl(e, "%s: cannot list its sections", file);
		goto out;
	}
	sk_OPENSSL_CSTRING_set_cmp_func(names, cmp_cstr);
	sk_OPENSSL_CSTRING_sort(names);
	for (i = 0; i < sk_OPENSSL_CSTRING_num(names); i++) {
		const char *n = sk_OPENSSL_CSTRING_value(names, i);

		if (strcmp(n, "default") == 0)
			continue;
		pk_err_clear(&e2);
		if (check_profile_name(n, &e2) != 0) {
			int line = key_line(&sc, n, "");

			if (line > 0)
				pk_err_set(e, "%s:%d: %s", file, line, e2.msg);
			else
				pk_err_set(e, "%s: [%s]: %s", file, n, e2.msg);
			goto out;
		}
		p = add_profile(c, n);
		if (load_section(c, conf, n, p, file, &sc, e) != 0)
			goto out;
	}
	rc = 0;
out:
	sk_OPENSSL_CSTRING_free(names);
	NCONF_free(conf);
	scan_free(&sc);
	if (text != NULL) {
		OPENSSL_cleanse(text, len);
		free(text);
	}
	ERR_clear_error();
	return rc;
}

/* ---- the whole ---- */

int
ca_config_check(struct ca_config *c, struct pk_err *e)
{
	static const char *const def_paths[] = CA_DEFAULT_PATHS;
	struct ca_profile *p, *q;
	size_t i, j, k, l;
	char *lp;

	if ((c->ca_cert == NULL) != (c->ca_key == NULL))
		return pk_err_set(e, "ca-cert and ca-key (--ca-cert and --ca-key) go "
		    "together");
	if ((c->tls_cert == NULL) != (c->tls_key == NULL))
		return pk_err_set(e, "tls-cert and tls-key (--tls-cert and "
		    "--tls-key) go together");
	if ((c->signer_cert == NULL) != (c->signer_key == NULL))
		return pk_err_set(e, "signer-cert and signer-key (--signer-cert and "
		    "--signer-key) go together");
	for (i = 0; i < c->nprofiles; i++) {
		p = c->profiles[i];
		if (p->paths.n == 0) {
			if (p == &c->def) {
				for (j = 0; j < sizeof(def_paths) / sizeof(*def_paths); j++)
					list_add(&p->paths, def_paths[j]);
			} else {
				if (asprintf(&lp, "%s%s", CA_PROFILE_PATH_PREFIX,
				    p->name) < 0)
					return pk_err_set(e, "out of memory");
				list_add(&p->paths, pool_dup(c, lp));
				free(lp);
			}
		}
		if (p->secret != NULL && p->secret_file != NULL)
			return pk_err_set(e, "profile %s: give secret or secret-file, "
			    "not both", p->name);
		if (p->nkey_types == 0)
			return pk_err_set(e, "profile %s: key-types is empty", p->name);
		if (p->ref == NULL || *p->ref == '\0')
			return pk_err_set(e, "profile %s: no reference (ref)", p->name);
		if ((p->admin_ref == NULL) != (p->admin_secret_file == NULL))
			return pk_err_set(e, "profile %s: admin-ref and "
			    "admin-secret-file go together", p->name);
		if (p->admin_ref != NULL && strcmp(p->admin_ref, p->ref) == 0)
			return pk_err_set(e, "profile %s: admin-ref must differ "
			    "from ref (the enrolment reference revokes nothing)",
			    p->name);
	}
	/* RFC 6712 3.3: a path names one service */
	for (i = 0; i < c->nprofiles; i++)
		for (j = i; j < c->nprofiles; j++) {
			p = c->profiles[i];
			q = c->profiles[j];
			for (k = 0; k < p->paths.n; k++)
				for (l = i == j ? k + 1 : 0; l < q->paths.n; l++)
					if (strcmp(p->paths.v[k], q->paths.v[l]) == 0)
						return pk_err_set(e, "path %s is served "
						    "by profile %s and by profile %s",
						    p->paths.v[k], p->name, q->name);
		}
	return 0;
}

const struct ca_profile *
ca_config_route(const struct ca_config *c, const char *path)
{
	size_t i, j;

	if (path == NULL)
		return NULL;
	for (i = 0; i < c->nprofiles; i++)
		for (j = 0; j < c->profiles[i]->paths.n; j++)
			if (strcmp(c->profiles[i]->paths.v[j], path) == 0)
				return c->profiles[i];
	return NULL;
}

/* ---- description ---- */

static void
describe_value(const struct ca_config *c, const struct ca_profile *p,
    const struct key *k, struct sbuf *b)
{
	const void *base = k->scope == GLOBAL ? (const void *)c : (const void *)p;
	const char *s;
	const struct ca_strlist *l;
	size_t i;

	switch (k->kind) {
	case K_STR:
	case K_FILE:
	case K_SECRET_FILE:
		s = *(const char *const *)((const char *)base + k->off);
		sbuf_puts(b, s != NULL ? s : "(none)");
		break;
	case K_SECRET:
		/* never the secret itself, nor its length */
		if (p->secret != NULL)
			sbuf_printf(b, "******** (%s%s)", p->secret_src ==
			    CA_SRC_ARGS ? "given with --secret" : "set in ",
			    p->secret_src == CA_SRC_ARGS ? "" : c->file);
		else if (p->secret_file != NULL)
			sbuf_printf(b, "******** (in %s)", p->secret_file);
		else if (p == &c->def)
			sbuf_printf(b, "******** (in %s/secret, made on the first "
			    "run)", c->dir);
		else
			sbuf_puts(b, "(none: MAC-protected requests are refused)");
		break;
	case K_INT:
		sbuf_printf(b, "%d", *(const int *)((const char *)base + k->off));
		break;
	case K_BOOL:
		sbuf_puts(b, *(const int *)((const char *)base + k->off) ? "yes" :
		    "no");
		break;
	case K_DURATION:
		duration_text(*(const long *)((const char *)base + k->off), b);
		break;
	case K_PATHS:
	case K_FILES:
		l = (const struct ca_strlist *)((const char *)base + k->off);
		if (l->n == 0)
			sbuf_puts(b, "(none)");
		for (i = 0; i < l->n; i++)
			sbuf_printf(b, "%s%s", i > 0 ? " " : "", l->v[i]);
		break;
	case K_KEY_TYPES:
		for (i = 0; i < p->nkey_types; i++) {
			if (i > 0)
				sbuf_puts(b, ", ");
			key_type_text(&p->key_types[i], b);
		}
		break;
	}
}

void
ca_config_describe(const struct ca_config *c, struct sbuf *b)
{
	size_t i, j;

	sbuf_puts(b, "global:\n");
	for (j = 0; j < NKEYS; j++) {
		if (keys[j].scope != GLOBAL)
			continue;
		sbuf_printf(b, "  %s: ", keys[j].name);
		describe_value(c, NULL, &keys[j], b);
		sbuf_putc(b, '\n');
	}
	for (i = 0; i < c->nprofiles; i++) {
		const struct ca_profile *p = c->profiles[i];

		sbuf_printf(b, "profile %s:\n", p->name);
		for (j = 0; j < NKEYS; j++) {
			if (keys[j].scope != PROFILE || keys[j].kind == K_SECRET_FILE)
				continue;
			sbuf_printf(b, "  %s: ", keys[j].name);
			describe_value(c, p, &keys[j], b);
			sbuf_putc(b, '\n');
		}
	}
}
