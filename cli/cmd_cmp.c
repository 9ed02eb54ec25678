/*
 * Console handlers of the CMP commands (schemas/cmp.xml): the session view's
 * binding (struct device_session_cfg; each change is handed to the device), the
 * checks of its commands, the IR/CR/KUR actions, the CA certificates request
 * (genm caCerts), polling stop, the session display
 * and the statistics, and the rendering of the device's events (automatic update,
 * daemon). The CMP-session domain is in device/; this file turns arguments into
 * device calls and prints what they return.
 */
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../device/device.h"
#include "../pki/pki.h"
#include "cli_int.h"

/* ---- the session view, typed: one binding table, checked when the grammar
 * loads ---- */

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
	{ "integrity", "pbmac1-sha256", CLI_BIND_KW, F(pbmac1) },
	{ "implicit-confirm", NULL, CLI_BIND_SET, F(implicit_confirm) },
	{ "template-query", NULL, CLI_BIND_SET, F(template_query) },
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

/* Every change of a session's configuration goes to the device. */
static void
session_apply(void *arg, const char *key, const void *obj)
{
	struct cli *c = arg;

	if (obj != NULL)
		device_session_set(c->dev, obj);
	else
		device_session_remove(c->dev, key);
}

static const struct cli_view_binding session_view = {
	"pki-cmp-session", session_fields,
	sizeof(session_fields) / sizeof(session_fields[0]),
	sizeof(struct device_session_cfg), session_defaults, session_apply,
};

/* ---- configuration checks ---- */

/* check= of the session view's commands: the rules the grammar cannot say. */
static int
h_session_check(struct cli *c, const struct cli_args *a)
{
	struct device_session_cfg cfg;
	const struct pki_entity *ent;
	struct pk_err e;
	const char *v;

	if (cli_kw(a, "session")) {	/* pki cmp session NAME / undo */
		const char *name = cli_arg(a, "name");

		if (a->undo && device_session_busy(c->dev, name))
			return cli_error(c, "The CMP session %s has a transaction in "
			    "progress.", device_session_cfg(device_session_find(c->dev,
			    name))->name);
		return 0;
	}
	if (a->undo)
		return 0;
	if (cli_context(c, &session_view, &cfg) != 0)
		return cli_error(c, "This is not a CMP session view.");
	if (cli_kw(a, "entity")) {
		ent = device_entity_find(c->dev, cli_arg(a, "entity"));
		if (ent == NULL || ent->common_name == NULL)
			return cli_error(c, "The PKI entity %s has no common-name "
			    "configured.", cli_arg(a, "entity"));
	} else if (cli_kw(a, "ca-name")) {
		if (!device_ca_name_ok(cli_arg(a, "name"), &e))
			return cli_error(c, "%s", e.msg);
	} else if (cli_kw(a, "url")) {
		if (!device_url_ok(cli_arg(a, "url"), cli_kw(a, "esc"), &e))
			return cli_error(c, "%s", e.msg);
	} else if ((v = cli_arg(a, "file")) != NULL &&
	    cli_kw(a, "authentication-cert")) {
		/* an imported local certificate by its name first, else the file
		 * (device.h: the file is only the way in) */
		struct pki_cert_info info;

		if (device_auth_cert_info(c->dev, v, &info, &e) != 0)
			return cli_error(c, "%s", e.msg);
		if (info.key_name[0] == '\0')
			return cli_error(c, "The certificate %s does not match any key "
			    "pair in the device.", v);
	} else if (v != NULL) {
		/* verification-cert: an imported CA certificate, else the file */
		struct pki_cert_info info;

		if (pki_cert_get0(c->pki, PKI_CERT_CA, v) == NULL &&
		    pki_cert_file_info(c->pki, PKI_FMT_AUTO, v, &info, &e) != 0)
			return cli_error(c, "%s", e.msg);
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

static volatile sig_atomic_t interrupted;

static void
on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int
was_interrupted(void *arg)
{
	(void)arg;
	return interrupted;
}

/* Runs KIND for session NAME; prints the outcome. A failure is one Error line
 * with its cause (the device's message carries the CA's status, failInfo and
 * text, and whether the answer was authenticated): nothing before it claims a
 * success, nothing after it repeats it. An existing result file is replaced only
 * after a question at a terminal; in batch mode it is replaced and said so. */
static int
run_action(struct cli *c, const char *name, enum device_req kind)
{
	const struct device_session *s = device_session_find(c->dev, name);
	struct device_result r;
	struct pk_err e;
	struct sigaction sa, old;
	char file[300], q[512];
	int rc, existed;

	if (s != NULL)
		name = device_session_cfg(s)->name;
	device_result_file(name, kind, file, sizeof(file));
	existed = pki_public_exists(c->pki, file);
	if (existed && c->interactive) {
		snprintf(q, sizeof(q), "Warning: The file flash:/pki/public/%s exists and "
		    "will be replaced by the new certificate. Continue? [Y/N]:", file);
		if (!cli_confirm(c, q, 1)) {
			cli_out(c, "Info: The %s was not sent.\n", device_req_action(kind));
			return 0;
		}
	}
	interrupted = 0;
	if (c->interactive) {
		/* Ctrl+C stops the transaction in any phase (connecting, waiting
		 * for the answer, polling: the engine asks was_interrupted every
		 * 100 ms, and the signal interrupts its waits); the console keeps
		 * running. No SA_RESTART: a wait returns at once. */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_sigint;
		sigaction(SIGINT, &sa, &old);
	}
	rc = device_request(c->dev, name, kind, was_interrupted, NULL, &r, &e);
	if (c->interactive)
		sigaction(SIGINT, &old, NULL);
	/* the terminal echoed "^C" where the cursor was: the outcome goes on a
	 * line of its own */
	if (c->interactive && interrupted)
		cli_write(c, "\n");
	if (rc != 0 && !r.sent)
		return cli_error(c, "%s", e.msg);
	if (rc != 0)
		return cli_error(c, "The %s of the CMP session %s failed: %s",
		    device_req_action(kind), name, e.msg);
	{
		const struct device_session_cfg *cfg =
		    device_session_cfg(device_session_find(c->dev, name));

		if (r.key_replaced)
			cli_out(c, "Info: The key pair %s was replaced by the new key "
			    "pair.\n", cfg->key);
		if (existed && strcmp(file, r.cert_file) == 0)
			cli_out(c, "Info: The existing file flash:/pki/public/%s was "
			    "overwritten.\n", r.cert_file);
		cli_out(c, "Info: The certificate was saved as flash:/pki/public/%s.\n",
		    r.cert_file);
		if (r.local_record == 1)
			cli_out(c, "Info: The certificate was imported as the local "
			    "certificate %s.\n", r.cert_file);
		else if (r.local_record == 2)
			cli_out(c, "Info: The imported local certificate %s was "
			    "replaced.\n", r.cert_file);
		/* the running configuration follows the device */
		if (r.auth_cert_changed && cli_config_update(c, &session_view, cfg->name,
		    offsetof(struct device_session_cfg, auth_cert), r.cert_file) == 0)
			cli_out(c, "Info: The CMP session %s now uses %s as its "
			    "authentication certificate.\n", cfg->name, r.cert_file);
		cli_out(c, "Info: Serial number: %s\n", r.serial);
		cli_out(c, "Info: Valid from %s to %s\n", r.not_before, r.not_after);
		for (int i = 0; i < r.ncapubs; i++)
			cli_out(c, "Info: CA certificate saved as "
			    "flash:/pki/public/%s_ca%d.cer.\n", cfg->name, i);
	}
	return 0;
}

static int
h_cmp_ir(struct cli *c, const struct cli_args *a)
{
	return run_action(c, cli_arg(a, "session"), DEVICE_IR);
}

static int
h_cmp_cr(struct cli *c, const struct cli_args *a)
{
	return run_action(c, cli_arg(a, "session"), DEVICE_CR);
}

static int
h_cmp_kur(struct cli *c, const struct cli_args *a)
{
	return run_action(c, cli_arg(a, "session"), DEVICE_KUR);
}

/* pki cmp ca-certificates session S: genm caCerts (RFC 9483 4.3.1). The
 * certificates are saved, not imported: each is shown (subject, issuer,
 * validity, SHA-256 fingerprint) so the operator can check it before `pki
 * import-certificate ca`. A failure is one Error line with its cause. */
static int
h_cmp_ca_certs(struct cli *c, const struct cli_args *a)
{
	const char *name = cli_arg(a, "session");
	const struct device_session *s = device_session_find(c->dev, name);
	struct device_ca_certs r;
	struct pk_err e;
	struct sigaction sa, old;
	int rc, *existed = NULL;

	if (s != NULL)
		name = device_session_cfg(s)->name;
	/* which files are there before (said after the overwrite) */
	existed = xcalloc(DEVICE_CA_CERTS_MAX, sizeof(*existed));
	for (int i = 0; i < DEVICE_CA_CERTS_MAX; i++) {
		char f[300];

		snprintf(f, sizeof(f), "%s_ca%d.cer", name, i);
		existed[i] = pki_public_exists(c->pki, f);
	}
	interrupted = 0;
	if (c->interactive) {
		/* Ctrl+C stops the exchange, as for run_action */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_sigint;
		sigaction(SIGINT, &sa, &old);
	}
	rc = device_ca_certs(c->dev, name, was_interrupted, NULL, &r, &e);
	if (c->interactive)
		sigaction(SIGINT, &old, NULL);
	if (c->interactive && interrupted)
		cli_write(c, "\n");
	if (rc != 0) {
		int sent = r.sent;

		free(existed);
		device_ca_certs_clear(&r);
		if (!sent)
			return cli_error(c, "%s", e.msg);
		return cli_error(c, "The CA certificates request of the CMP session %s "
		    "failed: %s", name, e.msg);
	}
	if (r.n == 0)
		cli_out(c, "Info: The CA has no CA certificates to send (its caCerts "
		    "answer carries no value).\n");
	else
		cli_out(c, "Info: The CA sent %zu CA certificate%s; %s not imported "
		    "(check the fingerprint before pki import-certificate ca).\n",
		    r.n, r.n == 1 ? "" : "s", r.n == 1 ? "it is" : "they are");
	for (size_t i = 0; i < r.n; i++) {
		const struct pki_cert_info *in = &r.certs[i].info;

		if (existed[i])
			cli_out(c, "Info: The existing file flash:/pki/public/%s was "
			    "overwritten.\n", r.certs[i].file);
		cli_out(c, "Info: CA certificate saved as flash:/pki/public/%s.\n",
		    r.certs[i].file);
		cli_out(c, "  Subject            : %s\n", in->subject);
		cli_out(c, "  Issuer             : %s%s\n", in->issuer,
		    in->self_signed ? " (self-signed)" : "");
		cli_out(c, "  Serial Number      : %s\n", in->serial);
		cli_out(c, "  Valid from %s to %s\n", in->not_before,
		    in->not_after);
		cli_out(c, "  SHA256 fingerprint : %s\n", in->fingerprint);
	}
	free(existed);
	device_ca_certs_clear(&r);
	return 0;
}

/* pki cmp root-ca-update session S: asks the CA now whether its root CA key
 * was updated (genm rootCaCert, RFC 9483 4.3.2); a new root is installed
 * only after the rollover verified under the imported old root. */
static int
h_cmp_root_update(struct cli *c, const struct cli_args *a)
{
	const char *name = cli_arg(a, "session");
	const struct device_session *s = device_session_find(c->dev, name);
	struct device_root_update r;
	struct pk_err e;
	struct sigaction sa, old;
	int rc;

	if (s != NULL)
		name = device_session_cfg(s)->name;
	interrupted = 0;
	if (c->interactive) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_sigint;
		sigaction(SIGINT, &sa, &old);
	}
	rc = device_root_ca_update(c->dev, name, was_interrupted, NULL, &r, &e);
	if (c->interactive)
		sigaction(SIGINT, &old, NULL);
	if (c->interactive && interrupted)
		cli_write(c, "\n");
	if (rc != 0) {
		if (!r.sent)
			return cli_error(c, "%s", e.msg);
		return cli_error(c, "The root CA update request of the CMP session %s "
		    "failed: %s", name, e.msg);
	}
	if (!r.update) {
		cli_out(c, "Info: The CA has no update of the root CA certificate %s.\n",
		    r.old_root[0] ? r.old_root : "-");
		return 0;
	}
	if (r.known)
		cli_out(c, "Info: The CA's new root CA certificate is imported already "
		    "as %s.\n", r.file);
	else
		cli_out(c, "Info: The CA's new root CA certificate verified under the "
		    "old root %s (newWithOld) and was installed as "
		    "flash:/pki/public/%s; the old root stays.\n",
		    r.old_root[0] ? r.old_root : "-", r.file);
	cli_out(c, "  Subject            : %s\n", r.info.subject);
	cli_out(c, "  Valid from %s to %s\n", r.info.not_before, r.info.not_after);
	cli_out(c, "  SHA256 fingerprint : %s\n", r.info.fingerprint);
	return 0;
}

static int
h_cmp_poll_stop(struct cli *c, const struct cli_args *a)
{
	const char *name = cli_arg(a, "session");
	int rc = device_session_stop(c->dev, name);

	if (rc < 0)
		return cli_error(c, "The CMP session %s does not exist.", name);
	name = device_session_cfg(device_session_find(c->dev, name))->name;
	if (rc == 0)
		cli_out(c, "Info: The CMP session %s has no transaction in "
		    "progress.\n", name);
	else
		cli_out(c, "Info: The transaction of the CMP session %s will "
		    "stop.\n", name);
	return 0;
}

/* ---- display ---- */

static const char *
or_dash(const char *s)
{
	return s != NULL ? s : "-";
}

static void
show_session(struct cli *c, struct device_session *s, struct sbuf *b)
{
	const struct device_session_cfg *cfg = device_session_cfg(s);
	struct device_session_status st;
	struct device_root_status rs;
	char t1[40], t2[40];

	device_session_status(s, &st);
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
	    cfg->pbmac1 ? "pbmac1-sha256" : cfg->hmac_sha1 ? "hmac-sha1" :
	    "hmac-sha256");
	sbuf_printf(b, " Implicit Confirm        : %s\n",
	    cfg->implicit_confirm ? "Yes" : "No");
	sbuf_printf(b, " Timeout                 : %d s\n", cfg->timeout);
	sbuf_printf(b, " Auto Update             : %s, at %d%% of the validity\n",
	    cfg->auto_update ? "Enabled" : "Disabled", cfg->expire_pct);
	sbuf_printf(b, " State                   : %s\n", st.state);
	sbuf_printf(b, " Last Result             : %s\n", st.last[0] ? st.last : "-");
	if (cfg->auth_cert != NULL) {
		time_t nb, na;
		struct pk_err e;

		if (device_cert_validity(c->dev, cfg->auth_cert, &nb, &na, &e) == 0)
			sbuf_printf(b, " Certificate Validity    : %s to %s%s\n",
			    pk_time_text(nb, t1, sizeof(t1)),
			    pk_time_text(na, t2, sizeof(t2)),
			    (int64_t)na * 1000 < device_now(c->dev) ? " (expired)" : "");
		else
			sbuf_printf(b, " Certificate Validity    : - (%s)\n", e.msg);
	} else {
		sbuf_puts(b, " Certificate Validity    : -\n");
	}
	if (st.next_update != 0)
		sbuf_printf(b, " Next Update             : %s%s%s\n",
		    pk_time_text(st.next_update, t1, sizeof(t1)),
		    st.next_note[0] ? ", " : "", st.next_note);
	else
		sbuf_puts(b, " Next Update             : -\n");
	/* the root CA checks: shown once one has happened */
	device_root_status(s, &rs);
	if (rs.checked != 0) {
		sbuf_printf(b, " Root CA Check           : %s, %s\n",
		    pk_time_text(rs.checked, t1, sizeof(t1)), rs.result);
		if (rs.fingerprint[0] != '\0')
			sbuf_printf(b, " New Root CA             : %s, SHA256 %s\n",
			    rs.file, rs.fingerprint);
		if (rs.next != 0)
			sbuf_printf(b, " Next Root CA Check      : %s\n",
			    pk_time_text(rs.next, t1, sizeof(t1)));
	}
}

static int
h_cmp_display_session(struct cli *c, const struct cli_args *a)
{
	const char *name = cli_arg(a, "session");
	struct sbuf b = SBUF_INIT;
	size_t n = 0;

	for (size_t i = 0; i < device_session_count(c->dev); i++) {
		struct device_session *s = device_session_at(c->dev, i);

		if (name != NULL && !pk_strcaseeq(device_session_cfg(s)->name, name))
			continue;
		if (n++)
			sbuf_putc(&b, '\n');
		show_session(c, s, &b);
	}
	sbuf_printf(&b, "%s Total Number: %zu\n", n ? "\n" : "", n);
	cli_write(c, sbuf_str(&b));
	sbuf_free(&b);
	return 0;
}

static int
h_cmp_display_stats(struct cli *c, const struct cli_args *a)
{
	const char *name = cli_arg(a, "session");
	size_t shown = 0;

	for (size_t i = 0; i < device_session_count(c->dev); i++) {
		struct device_session *s = device_session_at(c->dev, i);
		struct device_session_status st;

		if (name != NULL && !pk_strcaseeq(device_session_cfg(s)->name, name))
			continue;
		device_session_status(s, &st);
		if (shown++)
			cli_out(c, "\n");
		/* the vendor's layout, spelling and columns: the three Send lines,
		 * then the three fail lines */
		cli_out(c, " CMP Context Name: %s\n", device_session_cfg(s)->name);
		cli_out(c, " %-22s: %lu\n", "Ir Send Counts", st.sent[DEVICE_IR]);
		cli_out(c, " %-22s: %lu\n", "Cr Send Counts", st.sent[DEVICE_CR]);
		cli_out(c, " %-22s: %lu\n", "Kur Send Counts", st.sent[DEVICE_KUR]);
		cli_out(c, " %-20s: %lu\n", "Ir Faild Counts", st.failed[DEVICE_IR]);
		cli_out(c, " %-20s: %lu\n", "Cr Faild Counts", st.failed[DEVICE_CR]);
		cli_out(c, " %-20s: %lu\n", "Kur Faild Counts", st.failed[DEVICE_KUR]);
	}
	if (shown == 0)
		cli_out(c, "Info: No CMP session exists.\n");
	return 0;
}

static int
h_cmp_reset_stats(struct cli *c, const struct cli_args *a)
{
	struct pk_err e;

	if (device_stats_reset(c->dev, cli_arg(a, "session"), &e) != 0)
		cli_out(c, "Warning: The CMP statistics were not saved: %s.\n", e.msg);
	cli_out(c, "Info: The CMP statistics were reset.\n");
	return 0;
}

/* ---- the device's events ---- */

static void
on_event(void *arg, const struct device_event *ev)
{
	struct cli *c = arg;
	const struct device_result *r = ev->result;

	switch (ev->kind) {
	case DEVICE_EV_PROGRESS:
		cli_notify(c, "Info: %s", ev->text);
		break;
	case DEVICE_EV_AU_START:
		cli_notify(c, "Info: The CMP session %s is updating its certificate "
		    "(KUR%s).", ev->session, ev->regenerate ? " with a new key pair" : "");
		break;
	case DEVICE_EV_AU_DONE:
		cli_notify(c, "Info: The certificate of the CMP session %s was updated "
		    "automatically: serial %s, valid from %s to %s%s.", ev->session,
		    r->serial, r->not_before, r->not_after,
		    r->key_replaced ? ", new key pair" : "");
		break;
	case DEVICE_EV_AU_FAILED:
		if (ev->delay_ms < 0)
			cli_notify(c, "Warning: The automatic update of the CMP session %s "
			    "failed (attempt %d): %s The old certificate stays in use.",
			    ev->session, ev->attempt, ev->text);
		else
			cli_notify(c, "Warning: The automatic update of the CMP session %s "
			    "failed (attempt %d): %s The old certificate stays in use; next "
			    "attempt in %lld s.", ev->session, ev->attempt, ev->text,
			    (long long)(ev->delay_ms + 999) / 1000);
		break;
	case DEVICE_EV_AU_NOT_STARTED:
		cli_notify(c, "Warning: The automatic update of the CMP session %s cannot "
		    "start (attempt %d): %s Next attempt in %lld s.", ev->session,
		    ev->attempt, ev->text, (long long)(ev->delay_ms + 999) / 1000);
		break;
	case DEVICE_EV_CERT_EXPIRED:
		cli_notify(c, "Warning: The certificate %s of the CMP session %s has "
		    "expired; automatic update needs a valid certificate (request a new "
		    "one with pki cmp initial-request).", ev->file, ev->session);
		break;
	case DEVICE_EV_STATS_NOT_SAVED:
		cli_notify(c, "Warning: The CMP statistics were not saved: %s.", ev->text);
		break;
	case DEVICE_EV_DAEMON_START:
		cli_notify(c, "Info: pkish daemon started: %zu CMP session(s) with "
		    "automatic update.", ev->count);
		break;
	case DEVICE_EV_DAEMON_STOP:
		cli_notify(c, "Info: pkish daemon stopping.");
		break;
	case DEVICE_EV_ROOT_INSTALLED:
		cli_notify(c, "Info: The CMP session %s installed the CA's new root CA "
		    "certificate (RFC 9480 2.15, verified under the old root %s): "
		    "flash:/pki/public/%s, subject %s, SHA256 fingerprint %s.",
		    ev->session, ev->root->old_root[0] ? ev->root->old_root : "-",
		    ev->root->file, ev->root->info.subject, ev->root->info.fingerprint);
		break;
	case DEVICE_EV_ROOT_FAILED:
		if (ev->delay_ms < 0)
			cli_notify(c, "Warning: The root CA check of the CMP session %s "
			    "failed (attempt %d): %s.", ev->session, ev->attempt,
			    ev->text);
		else
			cli_notify(c, "Warning: The root CA check of the CMP session %s "
			    "failed (attempt %d): %s; next attempt in %lld s.",
			    ev->session, ev->attempt, ev->text,
			    (long long)(ev->delay_ms + 999) / 1000);
		break;
	}
}

void
cli_cmp_init(struct cli *c)
{
	device_set_event_fn(c->dev, on_event, c);
	cli_install_view(c, &session_view, c);
	cli_install_handler(c, "session_check", h_session_check);
	cli_install_handler(c, "cmp_ir", h_cmp_ir);
	cli_install_handler(c, "cmp_cr", h_cmp_cr);
	cli_install_handler(c, "cmp_kur", h_cmp_kur);
	cli_install_handler(c, "cmp_poll_stop", h_cmp_poll_stop);
	cli_install_handler(c, "cmp_ca_certs", h_cmp_ca_certs);
	cli_install_handler(c, "cmp_root_update", h_cmp_root_update);
	cli_install_handler(c, "cmp_display_session", h_cmp_display_session);
	cli_install_handler(c, "cmp_display_stats", h_cmp_display_stats);
	cli_install_handler(c, "cmp_reset_stats", h_cmp_reset_stats);
}
