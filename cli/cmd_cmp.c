/*
 * Console handlers of the CMP commands (schemas/cmp.xml): the session checks, the
 * IR/CR/KUR actions, polling stop, the session display and the statistics.
 * The transaction itself runs in pki/pki_cmp.c on the cmp/ engine; this file
 * gathers the session's configuration, names what is missing, and prints.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../device/device.h"
#include "../storage/storage.h"
#include "cli_int.h"

#define STATS_FILE "cmp-stats"


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

static int
h_session_check(struct cli *c, const struct cli_args *a)
{
	struct cfg_node *n = c->node;
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
	if (cli_kw(a, "entity")) {
		struct cfg_node *ent = cli_cfg_find(c, "pki-entity", cli_arg(a, "entity"));

		if (ent == NULL || !cfg_leaf_set(ent, "common-name"))
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
		static const struct {
			const char *leaf, *what;
		} need[] = {
			{ "entity", "entity" },
			{ "ca-name", "CA name" },
			{ "server-url", "server URL" },
			{ "auth-cert", "authentication certificate" },
			{ "key-pair", "key pair" },
		};

		for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
			if (!cfg_leaf_set(n, need[i].leaf))
				return cli_error(c, "The CMP session %s has no %s "
				    "configured; automatic update needs it.", n->key,
				    need[i].what);
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
	struct cfg_node *n = cli_cfg_find(c, "pki-cmp-session", name);
	struct cfg_node *en;
	const char *v, *sname;
	struct pk_err e;

	memset(s, 0, sizeof(*s));
	*secret = *url = NULL;
	if (n == NULL)
		return cli_error(c, "The CMP session %s does not exist.", name);
	sname = n->key;
	s->name = sname;
	if ((v = cfg_leaf_arg(n, "server-url", "url")) == NULL)
		return cli_error(c, "The CMP session %s has no server URL configured.",
		    sname);
	*url = url_unescape(v, cfg_leaf_kw(n, "server-url", "esc"));
	s->url = *url;
	if ((v = cfg_leaf_arg(n, "entity", "entity")) == NULL) {
		if (kind != PKI_CMP_KUR)
			return cli_error(c, "The CMP session %s has no entity "
			    "configured.", sname);
	} else {
		en = cli_cfg_find(c, "pki-entity", v);
		if (en == NULL || !cfg_leaf_set(en, "common-name"))
			return cli_error(c, "The PKI entity %s of the CMP session %s has "
			    "no common-name configured.", v, sname);
		cli_entity_from_node(en, ent);
		s->entity = ent;
	}
	if ((s->key_name = cfg_leaf_arg(n, "key-pair", "key")) == NULL)
		return cli_error(c, "The CMP session %s has no key pair configured.",
		    sname);
	s->regenerate = cfg_leaf_kw(n, "key-pair", "regenerate");
	if ((v = cfg_leaf_arg(n, "key-pair", "bits")) != NULL)
		s->regen_bits = atoi(v);
	s->ca_name = cfg_leaf_arg(n, "ca-name", "name");
	s->use_signature = cfg_leaf_kw(n, "auth-method", "signature");
	s->auth_cert = cfg_leaf_arg(n, "auth-cert", "file");
	s->verify_cert = cfg_leaf_arg(n, "verify-cert", "file");
	s->hmac_sha1 = cfg_leaf_kw(n, "integrity", "hmac-sha1");
	s->implicit_confirm = cfg_leaf_set(n, "implicit-confirm");
	v = cfg_leaf_arg(n, "timeout", "seconds");
	s->timeout = v ? atoi(v) : 120;
	if (kind != PKI_CMP_IR && !s->use_signature)
		return cli_error(c, "The CMP session %s uses message authentication "
		    "code protection; a %s must be signed (set cmp-request "
		    "origin-authentication-method signature).", sname,
		    kind == PKI_CMP_CR ? "certificate request" : "key update request");
	if (kind == PKI_CMP_IR && !s->use_signature) {
		s->ref = cfg_leaf_arg(n, "mac", "ref");
		v = cfg_leaf_arg(n, "mac", "secret");
		if (s->ref == NULL || v == NULL)
			return cli_error(c, "The CMP session %s has no "
			    "message-authentication-code configured.", sname);
		if (storage_unseal(c->st, v, secret, &e) != 0)
			return cli_error(c, "The secret of the CMP session %s cannot be "
			    "used: %s.", sname, e.msg);
		s->secret = *secret;
	} else if (s->auth_cert == NULL) {
		return cli_error(c, "The CMP session %s has no authentication "
		    "certificate configured.", sname);
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
		struct cfg_node *n = cli_cfg_find(c, "pki-cmp-session", s.name);
		const char *cur = n ? cfg_leaf_arg(n, "auth-cert", "file") : NULL;

		if (cur != NULL && strcmp(cur, o.cert_file) != 0 &&
		    cfg_leaf_update(c, n, "auth-cert", "file", o.cert_file) == 0)
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
	struct cfg_node *n = cli_cfg_find(c, "pki-cmp-session", cli_arg(a, "session"));
	struct sess_state *s = sess_get(c, n->key, 1);

	if (strcmp(s->state, "polling") != 0 && strcmp(s->state, "waiting") != 0) {
		cli_out(c, "Info: The CMP session %s is not polling.\n", n->key);
		return 0;
	}
	s->stop = 1;
	cli_out(c, "Info: Polling of the CMP session %s will stop.\n", n->key);
	return 0;
}

/* ---- display ---- */

static const char *
or_dash(const char *s)
{
	return s != NULL ? s : "-";
}

static void
show_session(struct cli *c, struct cfg_node *n, struct sbuf *b)
{
	struct sess_state *s = sess_get(c, n->key, 1);
	const char *key = cfg_leaf_arg(n, "key-pair", "key");
	const char *auth = cfg_leaf_arg(n, "auth-cert", "file");
	const char *url = cfg_leaf_arg(n, "server-url", "url");
	const char *pct = cfg_leaf_arg(n, "expire-time", "percent");
	const char *to = cfg_leaf_arg(n, "timeout", "seconds");

	sbuf_printf(b, " Session Name            : %s\n", n->key);
	sbuf_printf(b, " Entity                  : %s\n",
	    or_dash(cfg_leaf_arg(n, "entity", "entity")));
	sbuf_printf(b, " CA Name                 : %s\n",
	    or_dash(cfg_leaf_arg(n, "ca-name", "name")));
	sbuf_printf(b, " Server URL              : %s%s\n", or_dash(url),
	    cfg_leaf_kw(n, "server-url", "esc") ? " (esc)" : "");
	if (key != NULL)
		sbuf_printf(b, " Key Pair                : %s (%s%s)\n", key,
		    cfg_leaf_kw(n, "key-pair", "ecc") ? "ECC" : "RSA",
		    cfg_leaf_kw(n, "key-pair", "regenerate") ? ", regenerate" : "");
	else
		sbuf_puts(b, " Key Pair                : -\n");
	sbuf_printf(b, " Authentication Method   : %s\n",
	    cfg_leaf_kw(n, "auth-method", "signature") ? "signature" :
	    "message-authentication-code");
	sbuf_printf(b, " MAC Reference           : %s\n",
	    or_dash(cfg_leaf_arg(n, "mac", "ref")));
	sbuf_printf(b, " Authentication Cert     : %s\n", or_dash(auth));
	sbuf_printf(b, " Verification Cert       : %s\n",
	    or_dash(cfg_leaf_arg(n, "verify-cert", "file")));
	sbuf_printf(b, " Integrity Algorithm     : %s\n",
	    cfg_leaf_kw(n, "integrity", "hmac-sha1") ? "hmac-sha1" : "hmac-sha256");
	sbuf_printf(b, " Implicit Confirm        : %s\n",
	    cfg_leaf_set(n, "implicit-confirm") ? "Yes" : "No");
	sbuf_printf(b, " Timeout                 : %s s\n", to ? to : "120");
	sbuf_printf(b, " Auto Update             : %s, at %s%% of the validity\n",
	    cfg_leaf_set(n, "auto-update") ? "Enabled" : "Disabled", pct ? pct : "50");
	sbuf_printf(b, " State                   : %s\n", s->state);
	sbuf_printf(b, " Last Result             : %s\n", s->last[0] ? s->last : "-");
	if (auth != NULL) {
		time_t nb, na;
		struct pk_err e;

		if (pki_cert_file_validity(c->pki, auth, &nb, &na, &e) == 0) {
			char a1[40], a2[40];
			struct tm tm;

			strftime(a1, sizeof(a1), "%Y-%m-%d %H:%M:%S UTC",
			    gmtime_r(&nb, &tm));
			strftime(a2, sizeof(a2), "%Y-%m-%d %H:%M:%S UTC",
			    gmtime_r(&na, &tm));
			sbuf_printf(b, " Certificate Validity    : %s to %s%s\n", a1, a2,
			    na < time(NULL) ? " (expired)" : "");
		} else {
			sbuf_printf(b, " Certificate Validity    : - (%s)\n", e.msg);
		}
	} else {
		sbuf_puts(b, " Certificate Validity    : -\n");
	}
	if (s->next_update != 0) {
		char t[40];
		struct tm tm;

		strftime(t, sizeof(t), "%Y-%m-%d %H:%M:%S UTC",
		    gmtime_r(&s->next_update, &tm));
		sbuf_printf(b, " Next Update             : %s%s%s\n", t,
		    s->next_note[0] ? ", " : "", s->next_note);
	} else {
		sbuf_puts(b, " Next Update             : -\n");
	}
}

static int
h_cmp_display_session(struct cli *c, const struct cli_args *a)
{
	const char *name = cli_arg(a, "session");
	struct cfg_node **nodes = cli_cfg_list(c, "pki-cmp-session");
	struct sbuf b = SBUF_INIT;
	size_t n = 0;

	for (size_t i = 0; nodes[i] != NULL; i++) {
		if (name != NULL && !pk_strcaseeq(nodes[i]->key, name))
			continue;
		if (n++)
			sbuf_putc(&b, '\n');
		show_session(c, nodes[i], &b);
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
	struct cfg_node **nodes = cli_cfg_list(c, "pki-cmp-session");
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
	cli_autoupdate_init(c);
	cli_at_start(c, at_start, c);
	cli_at_exit(c, at_exit, c);
}
