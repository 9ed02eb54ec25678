/*
 * Console handlers of the CMP commands (schemas/cmp.xml): the session checks, the
 * IR/CR/KUR actions, polling stop, the session display and the statistics.
 * The transaction itself runs in pki/pki_cmp.c on the cmp/ engine; this file
 * gathers the session's configuration, names what is missing, and prints.
 */
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../device/device.h"
#include "../storage/storage.h"
#include "cli_int.h"

#define STATS_FILE "cmp-stats"

/* ---- the session view, typed: one binding table (checked when the grammar
 * loads) ---- */

#define F(field) offsetof(struct device_session_cfg, field)
static const struct cli_binding session_fields[] = {
	{ NULL, NULL, CLI_BIND_KEY, F(name) },
	{ "entity", "entity", CLI_BIND_STR, F(entity) },
	{ "ca-name", "name", CLI_BIND_STR, F(ca_name) },
	{ "server-url", "url", CLI_BIND_STR, F(url) },
	{ "server-url", "esc", CLI_BIND_KW, F(url_esc) },
	{ "key-pair", "key", CLI_BIND_STR, F(key) },
	{ "key-pair", "ecc", CLI_BIND_KW, F(key_ecc) },
	{ "key-pair", "regenerate", CLI_BIND_KW, F(regenerate) },
	{ "key-pair", "bits", CLI_BIND_INT, F(regen_bits) },
	{ "auth-method", "signature", CLI_BIND_KW, F(use_signature) },
	{ "mac", "ref", CLI_BIND_STR, F(mac_ref) },
	{ "mac", "secret", CLI_BIND_STR, F(mac_secret) },
	{ "auth-cert", "file", CLI_BIND_STR, F(auth_cert) },
	{ "verify-cert", "file", CLI_BIND_STR, F(verify_cert) },
	{ "integrity", "hmac-sha1", CLI_BIND_KW, F(hmac_sha1) },
	{ "implicit-confirm", NULL, CLI_BIND_SET, F(implicit_confirm) },
	{ "timeout", "seconds", CLI_BIND_INT, F(timeout) },
	{ "auto-update", NULL, CLI_BIND_SET, F(auto_update) },
	{ "expire-time", "percent", CLI_BIND_INT, F(expire_pct) },
};
#undef F

static void
session_defaults(void *obj)
{
	device_session_cfg_init(obj);
}

const struct cli_view_binding cli_cmp_session_view = {
	"pki-cmp-session", session_fields,
	sizeof(session_fields) / sizeof(session_fields[0]),
	sizeof(struct device_session_cfg), session_defaults, NULL,
};


struct cmp_console {
	struct sess_state **v;
	size_t n;
	int loaded;
};

static volatile sig_atomic_t interrupted;

static struct cmp_console *
console(struct cli *c)
{
	if (c->cmp == NULL)
		c->cmp = xcalloc(1, sizeof(struct cmp_console));
	return c->cmp;
}

static void
stats_save(struct cli *c)
{
	struct cmp_console *cc = console(c);
	struct sbuf b = SBUF_INIT;
	char *path = storage_path(storage_store_dir(c->st), STATS_FILE);
	struct pk_err e;

	for (size_t i = 0; i < cc->n; i++) {
		struct sess_state *s = cc->v[i];

		sbuf_printf(&b, "%s %lu %lu %lu %lu %lu %lu\n", s->name, s->sent[ST_IR],
		    s->failed[ST_IR], s->sent[ST_CR], s->failed[ST_CR], s->sent[ST_KUR],
		    s->failed[ST_KUR]);
	}
	if (storage_write_atomic(path, b.s ? b.s : "", b.len, 0600, &e) != 0)
		cli_out(c, "Warning: The CMP statistics were not saved: %s.\n", e.msg);
	sbuf_free(&b);
	free(path);
}


static void
stats_load(struct cli *c)
{
	struct cmp_console *cc = console(c);
	char *path;
	unsigned char *data;
	size_t len;
	char *save = NULL;

	if (cc->loaded)
		return;
	cc->loaded = 1;
	path = storage_path(storage_store_dir(c->st), STATS_FILE);
	if (storage_read(path, 1 << 20, &data, &len, NULL) == 0) {
		for (char *l = strtok_r((char *)data, "\n", &save); l != NULL;
		    l = strtok_r(NULL, "\n", &save)) {
			char name[64];
			unsigned long v[6];

			if (sscanf(l, "%50s %lu %lu %lu %lu %lu %lu", name, &v[0], &v[1],
			    &v[2], &v[3], &v[4], &v[5]) == 7) {
				struct sess_state *s = sess_get(c, name, 1);

				for (int k = 0; k < ST_N; k++) {
					s->sent[k] = v[2 * k];
					s->failed[k] = v[2 * k + 1];
				}
			}
		}
		free(data);
	}
	free(path);
}

struct sess_state *
sess_get(struct cli *c, const char *name, int create)
{
	struct cmp_console *cc = console(c);
	struct sess_state *s;

	stats_load(c);
	for (size_t i = 0; i < cc->n; i++)
		if (pk_strcaseeq(cc->v[i]->name, name))
			return cc->v[i];
	if (!create)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->name = xstrdup(name);
	s->state = "idle";
	cc->v = xrealloc(cc->v, (cc->n + 1) * sizeof(*cc->v));
	cc->v[cc->n++] = s;
	return s;
}

void
cli_cmp_free(struct cli *c)
{
	struct cmp_console *cc = c->cmp;

	if (cc == NULL)
		return;
	for (size_t i = 0; i < cc->n; i++) {
		cli_autoupdate_forget(c, cc->v[i]);
		free(cc->v[i]->name);
		free(cc->v[i]);
	}
	free(cc->v);
	free(cc);
	c->cmp = NULL;
}

void
cli_cmp_count(struct cli *c, struct sess_state *s, int k, int failed)
{
	if (failed)
		s->failed[k]++;
	else
		s->sent[k]++;
	stats_save(c);
}

/* ---- configuration checks ---- */

/* The esc form: "\x3f" stands for '?' (which the console cannot take). */
static char *
url_unescape(const char *url, int esc)
{
	struct sbuf b = SBUF_INIT;

	for (const char *p = url; *p; p++) {
		if (esc && strncmp(p, "\\x3f", 4) == 0) {
			sbuf_putc(&b, '?');
			p += 3;
		} else {
			sbuf_putc(&b, *p);
		}
	}
	return sbuf_take(&b);
}

/* The entity NAME exists and has a common name. */
static int
entity_ok(struct cli *c, const char *name, struct pki_entity *ent)
{
	return cli_config_get(c, &cli_entity_view, name, ent) == 0 &&
	    ent->common_name != NULL;
}

static int
h_session_check(struct cli *c, const struct cli_args *a)
{
	struct device_session_cfg cfg;
	struct pki_entity ent;
	struct pk_err e;
	const char *v;

	if (cli_kw(a, "session")) {	/* pki cmp session NAME / undo */
		struct sess_state *s = sess_get(c, cli_arg(a, "name"), 0);

		if (a->undo && s != NULL && strcmp(s->state, "idle") != 0)
			return cli_error(c, "The CMP session %s has a transaction in "
			    "progress.", s->name);
		return 0;
	}
	if (a->undo)
		return 0;
	if (cli_context(c, &cli_cmp_session_view, &cfg) != 0)
		return cli_error(c, "Not in a CMP session view.");
	if (cli_kw(a, "entity")) {
		if (!entity_ok(c, cli_arg(a, "entity"), &ent))
			return cli_error(c, "The PKI entity %s has no common-name "
			    "configured.", cli_arg(a, "entity"));
	} else if (cli_kw(a, "ca-name")) {
		if (!pki_cmp_dn_ok(cli_arg(a, "name"), &e))
			return cli_error(c, "%s", e.msg);
	} else if (cli_kw(a, "url")) {
		char *u = url_unescape(cli_arg(a, "url"), cli_kw(a, "esc"));
		int bad = strchr(u, ' ') != NULL;

		free(u);
		if (bad)
			return cli_error(c, "The URL is not valid.");
	} else if ((v = cli_arg(a, "file")) != NULL) {
		struct pki_cert_info info;

		if (pki_cert_file_info(c->pki, PKI_FMT_AUTO, v, &info, &e) != 0)
			return cli_error(c, "%s", e.msg);
		if (cli_kw(a, "authentication-cert") && info.key_name[0] == '\0')
			return cli_error(c, "The certificate %s does not match any key "
			    "pair in the device.", v);
	} else if (cli_kw(a, "auto-update")) {
		const char *what = cfg.entity == NULL ? "entity" :
		    cfg.ca_name == NULL ? "CA name" : cfg.url == NULL ? "server URL" :
		    cfg.auth_cert == NULL ? "authentication certificate" :
		    cfg.key == NULL ? "key pair" : NULL;

		if (what != NULL)
			return cli_error(c, "The CMP session %s has no %s configured; "
			    "automatic update needs it.", cfg.name, what);
	}
	return 0;
}

/* ---- actions ---- */

static void
progress(void *arg, const char *text)
{
	struct cli *c = arg;

	cli_out(c, "Info: %s\n", text);
	fflush(c->out);
}

static int
should_stop(void *arg)
{
	struct sess_state *s = arg;

	return s->stop || interrupted;
}

static void
on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static const char *const kind_name[] = { "initial-request", "certificate-request",
	"keyupdate-request" };
static const char *const kind_short[] = { "IR", "CR", "KUR" };

/* Gathers session NAME's configuration into *s (strings borrowed from the tree;
 * *secret and *url are new). Names what is missing for KIND. */
int
cli_cmp_gather(struct cli *c, const char *name, int kind,
    struct pki_cmp_session *s, struct pki_entity *ent, char **secret, char **url)
{
	struct device_session_cfg cfg;
	struct pk_err e;

	memset(s, 0, sizeof(*s));
	*secret = *url = NULL;
	if (cli_config_get(c, &cli_cmp_session_view, name, &cfg) != 0)
		return cli_error(c, "The CMP session %s does not exist.", name);
	s->name = cfg.name;
	if (cfg.url == NULL)
		return cli_error(c, "The CMP session %s has no server URL configured.",
		    cfg.name);
	*url = url_unescape(cfg.url, cfg.url_esc);
	s->url = *url;
	if (cfg.entity == NULL) {
		if (kind != PKI_CMP_KUR)
			return cli_error(c, "The CMP session %s has no entity "
			    "configured.", cfg.name);
	} else {
		if (!entity_ok(c, cfg.entity, ent))
			return cli_error(c, "The PKI entity %s of the CMP session %s has "
			    "no common-name configured.", cfg.entity, cfg.name);
		s->entity = ent;
	}
	if ((s->key_name = cfg.key) == NULL)
		return cli_error(c, "The CMP session %s has no key pair configured.",
		    cfg.name);
	s->regenerate = cfg.regenerate;
	s->regen_bits = cfg.regen_bits;
	s->ca_name = cfg.ca_name;
	s->use_signature = cfg.use_signature;
	s->auth_cert = cfg.auth_cert;
	s->verify_cert = cfg.verify_cert;
	s->hmac_sha1 = cfg.hmac_sha1;
	s->implicit_confirm = cfg.implicit_confirm;
	s->timeout = cfg.timeout;
	if (kind != PKI_CMP_IR && !s->use_signature)
		return cli_error(c, "The CMP session %s uses message authentication "
		    "code protection; a %s must be signed (set cmp-request "
		    "origin-authentication-method signature).", cfg.name,
		    kind == PKI_CMP_CR ? "certificate request" : "key update request");
	if (kind == PKI_CMP_IR && !s->use_signature) {
		s->ref = cfg.mac_ref;
		if (s->ref == NULL || cfg.mac_secret == NULL)
			return cli_error(c, "The CMP session %s has no "
			    "message-authentication-code configured.", cfg.name);
		if (storage_unseal(c->st, cfg.mac_secret, secret, &e) != 0)
			return cli_error(c, "The secret of the CMP session %s cannot be "
			    "used: %s.", cfg.name, e.msg);
		s->secret = *secret;
	} else if (s->auth_cert == NULL) {
		return cli_error(c, "The CMP session %s has no authentication "
		    "certificate configured.", cfg.name);
	}
	return 0;
}

/* Runs KIND for session NAME; prints progress and the outcome. */
static int
run_action(struct cli *c, const char *name, enum pki_cmp_kind kind)
{
	struct pki_cmp_session s;
	struct pki_entity ent;
	struct pki_cmp_outcome o;
	struct sess_state *st;
	char *secret = NULL, *url = NULL;
	struct pk_err e;
	struct sigaction sa, old;
	int rc;

	if (cli_cmp_gather(c, name, kind, &s, &ent, &secret, &url) != 0) {
		storage_wipe_free(secret);
		free(url);
		return -1;
	}
	st = sess_get(c, s.name, 1);
	if (strcmp(st->state, "idle") != 0) {
		storage_wipe_free(secret);
		free(url);
		return cli_error(c, "The CMP session %s has a transaction in progress.",
		    s.name);
	}
	st->stop = 0;
	st->state = "waiting";
	s.should_stop = should_stop;
	s.stop_arg = st;
	s.progress = progress;
	s.progress_arg = c;
	interrupted = 0;
	if (c->interactive) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_sigint;
		sigaction(SIGINT, &sa, &old);
	}
	cli_cmp_count(c, st, kind, 0);
	rc = pki_cmp_request(c->pki, c->st, kind, &s, &o, &e);
	if (c->interactive)
		sigaction(SIGINT, &old, NULL);
	st->state = "idle";
	storage_wipe_free(secret);
	free(url);
	if (rc != 0) {
		cli_cmp_count(c, st, kind, 1);
		snprintf(st->last, sizeof(st->last), "%s failed: %s", kind_short[kind],
		    e.msg);
		cli_error(c, "The %s of the CMP session %s failed: %s", kind_name[kind],
		    s.name, e.msg);
		if (o.status >= 0)
			cli_out(c, "Info: PKIStatus: %s%s%s%s%s%s\n", o.status_name,
			    o.failinfo[0] ? ", failInfo: " : "", o.failinfo,
			    o.status_text[0] ? ", text: \"" : "", o.status_text,
			    o.status_text[0] ? "\"" : "");
		if (o.unauthenticated)
			cli_out(c, "Warning: The error message was not authenticated "
			    "(unprotected or with a protection that did not verify).\n");
		return -1;
	}
	snprintf(st->last, sizeof(st->last), "%s accepted, %s, serial %s", kind_short[kind],
	    o.cert_file, o.serial);
	if (o.key_replaced)
		cli_out(c, "Info: The key pair %s was replaced by the new key pair.\n",
		    s.key_name);
	cli_out(c, "Info: The certificate was saved as flash:/pki/public/%s.\n",
	    o.cert_file);
	if (kind == PKI_CMP_KUR) {
		/* The updated certificate is the session's current one from now on
		 * (with regenerate the old one no longer matches any key pair). */
		struct device_session_cfg cfg;

		if (cli_config_get(c, &cli_cmp_session_view, s.name, &cfg) == 0 &&
		    cfg.auth_cert != NULL && strcmp(cfg.auth_cert, o.cert_file) != 0 &&
		    cli_config_update(c, &cli_cmp_session_view, s.name,
		    offsetof(struct device_session_cfg, auth_cert), o.cert_file) == 0)
			cli_out(c, "Info: The CMP session %s now uses %s as its "
			    "authentication certificate.\n", s.name, o.cert_file);
	}
	cli_autoupdate_reschedule(c, s.name);
	cli_out(c, "Info: Serial number: %s\n", o.serial);
	cli_out(c, "Info: Valid from %s to %s\n", o.not_before, o.not_after);
	for (int i = 0; i < o.ncapubs; i++)
		cli_out(c, "Info: CA certificate saved as flash:/pki/public/%s_ca%d.cer.\n",
		    s.name, i);
	return 0;
}

static int
h_cmp_ir(struct cli *c, const struct cli_args *a)
{
	return run_action(c, cli_arg(a, "session"), PKI_CMP_IR);
}

static int
h_cmp_cr(struct cli *c, const struct cli_args *a)
{
	return run_action(c, cli_arg(a, "session"), PKI_CMP_CR);
}

static int
h_cmp_kur(struct cli *c, const struct cli_args *a)
{
	return run_action(c, cli_arg(a, "session"), PKI_CMP_KUR);
}

static int
h_cmp_poll_stop(struct cli *c, const struct cli_args *a)
{
	struct device_session_cfg cfg;
	struct sess_state *s;

	if (cli_config_get(c, &cli_cmp_session_view, cli_arg(a, "session"), &cfg) != 0)
		return cli_error(c, "The CMP session %s does not exist.",
		    cli_arg(a, "session"));
	s = sess_get(c, cfg.name, 1);
	if (strcmp(s->state, "polling") != 0 && strcmp(s->state, "waiting") != 0) {
		cli_out(c, "Info: The CMP session %s is not polling.\n", cfg.name);
		return 0;
	}
	s->stop = 1;
	cli_out(c, "Info: Polling of the CMP session %s will stop.\n", cfg.name);
	return 0;
}

/* ---- display ---- */

static const char *
or_dash(const char *s)
{
	return s != NULL ? s : "-";
}

static void
show_session(struct cli *c, const struct device_session_cfg *cfg, struct sbuf *b)
{
	struct sess_state *s = sess_get(c, cfg->name, 1);
	char t1[40], t2[40];

	sbuf_printf(b, " Session Name            : %s\n", cfg->name);
	sbuf_printf(b, " Entity                  : %s\n", or_dash(cfg->entity));
	sbuf_printf(b, " CA Name                 : %s\n", or_dash(cfg->ca_name));
	sbuf_printf(b, " Server URL              : %s%s\n", or_dash(cfg->url),
	    cfg->url_esc ? " (esc)" : "");
	if (cfg->key != NULL)
		sbuf_printf(b, " Key Pair                : %s (%s%s)\n", cfg->key,
		    cfg->key_ecc ? "ECC" : "RSA", cfg->regenerate ? ", regenerate" : "");
	else
		sbuf_puts(b, " Key Pair                : -\n");
	sbuf_printf(b, " Authentication Method   : %s\n",
	    cfg->use_signature ? "signature" : "message-authentication-code");
	sbuf_printf(b, " MAC Reference           : %s\n", or_dash(cfg->mac_ref));
	sbuf_printf(b, " Authentication Cert     : %s\n", or_dash(cfg->auth_cert));
	sbuf_printf(b, " Verification Cert       : %s\n", or_dash(cfg->verify_cert));
	sbuf_printf(b, " Integrity Algorithm     : %s\n",
	    cfg->hmac_sha1 ? "hmac-sha1" : "hmac-sha256");
	sbuf_printf(b, " Implicit Confirm        : %s\n",
	    cfg->implicit_confirm ? "Yes" : "No");
	sbuf_printf(b, " Timeout                 : %d s\n", cfg->timeout);
	sbuf_printf(b, " Auto Update             : %s, at %d%% of the validity\n",
	    cfg->auto_update ? "Enabled" : "Disabled", cfg->expire_pct);
	sbuf_printf(b, " State                   : %s\n", s->state);
	sbuf_printf(b, " Last Result             : %s\n", s->last[0] ? s->last : "-");
	if (cfg->auth_cert != NULL) {
		time_t nb, na;
		struct pk_err e;

		if (pki_cert_file_validity(c->pki, cfg->auth_cert, &nb, &na, &e) == 0)
			sbuf_printf(b, " Certificate Validity    : %s to %s%s\n",
			    pk_time_text(nb, t1, sizeof(t1)),
			    pk_time_text(na, t2, sizeof(t2)),
			    na < time(NULL) ? " (expired)" : "");
		else
			sbuf_printf(b, " Certificate Validity    : - (%s)\n", e.msg);
	} else {
		sbuf_puts(b, " Certificate Validity    : -\n");
	}
	if (s->next_update != 0)
		sbuf_printf(b, " Next Update             : %s%s%s\n",
		    pk_time_text(s->next_update, t1, sizeof(t1)),
		    s->next_note[0] ? ", " : "", s->next_note);
	else
		sbuf_puts(b, " Next Update             : -\n");
}

static int
h_cmp_display_session(struct cli *c, const struct cli_args *a)
{
	const char *name = cli_arg(a, "session");
	struct cfg_node **nodes = cli_cfg_list(c, cli_cmp_session_view.view);
	struct sbuf b = SBUF_INIT;
	size_t n = 0;

	for (size_t i = 0; nodes[i] != NULL; i++) {
		struct device_session_cfg cfg;

		if (name != NULL && !pk_strcaseeq(nodes[i]->key, name))
			continue;
		if (n++)
			sbuf_putc(&b, '\n');
		cfg_bind(nodes[i], &cli_cmp_session_view, &cfg);
		show_session(c, &cfg, &b);
	}
	sbuf_printf(&b, "%s Total Number: %zu\n", n ? "\n" : "", n);
	cli_write(c, sbuf_str(&b));
	sbuf_free(&b);
	free(nodes);
	return 0;
}

static int
h_cmp_display_stats(struct cli *c, const struct cli_args *a)
{
	const char *name = cli_arg(a, "session");
	struct cfg_node **nodes = cli_cfg_list(c, cli_cmp_session_view.view);
	size_t shown = 0;

	for (size_t i = 0; nodes[i] != NULL; i++) {
		struct sess_state *s;

		if (name != NULL && !pk_strcaseeq(nodes[i]->key, name))
			continue;
		s = sess_get(c, nodes[i]->key, 1);
		if (shown++)
			cli_out(c, "\n");
		cli_out(c, " CMP Context Name: %s\n", nodes[i]->key);
		cli_out(c, " Ir Send Counts : %lu\n", s->sent[ST_IR]);
		cli_out(c, " Ir Fail Counts : %lu\n", s->failed[ST_IR]);
		cli_out(c, " Cr Send Counts : %lu\n", s->sent[ST_CR]);
		cli_out(c, " Cr Fail Counts : %lu\n", s->failed[ST_CR]);
		cli_out(c, " Kur Send Counts : %lu\n", s->sent[ST_KUR]);
		cli_out(c, " Kur Fail Counts : %lu\n", s->failed[ST_KUR]);
	}
	if (shown == 0)
		cli_out(c, "Info: No CMP session exists.\n");
	free(nodes);
	return 0;
}

static int
h_cmp_reset_stats(struct cli *c, const struct cli_args *a)
{
	const char *name = cli_arg(a, "session");
	struct cmp_console *cc = console(c);

	stats_load(c);
	for (size_t i = 0; i < cc->n; i++) {
		if (name != NULL && !pk_strcaseeq(cc->v[i]->name, name))
			continue;
		memset(cc->v[i]->sent, 0, sizeof(cc->v[i]->sent));
		memset(cc->v[i]->failed, 0, sizeof(cc->v[i]->failed));
	}
	stats_save(c);
	cli_out(c, "Info: The CMP statistics were reset.\n");
	return 0;
}

static void
at_start(void *arg)
{
	cli_autoupdate_all(arg);
}

static void
at_exit(void *arg)
{
	cli_autoupdate_free(arg);
	cli_cmp_free(arg);
}

void
cli_cmp_init(struct cli *c)
{
	cli_install_handler(c, "session_check", h_session_check);
	cli_install_handler(c, "cmp_ir", h_cmp_ir);
	cli_install_handler(c, "cmp_cr", h_cmp_cr);
	cli_install_handler(c, "cmp_kur", h_cmp_kur);
	cli_install_handler(c, "cmp_poll_stop", h_cmp_poll_stop);
	cli_install_handler(c, "cmp_display_session", h_cmp_display_session);
	cli_install_handler(c, "cmp_display_stats", h_cmp_display_stats);
	cli_install_handler(c, "cmp_reset_stats", h_cmp_reset_stats);
	cli_install_view(c, &cli_cmp_session_view, c);
	cli_autoupdate_init(c);
	cli_at_start(c, at_start, c);
	cli_at_exit(c, at_exit, c);
}
