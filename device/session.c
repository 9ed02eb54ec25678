/*
 * The device and its CMP sessions: configuration (typed, copied from what the
 * console binds), runtime state, statistics (in the store, file cmp-stats: one line
 * "NAME sentIR failedIR sentCR failedCR sentKUR failedKUR" per session), the
 * entities the sessions name, and the console's requests (device_request: resolve
 * the configuration, run the transaction, store the result, count it;
 * device_ca_certs: the genm caCerts, not counted).
 *
 * A session's record outlives its configuration: its statistics stay when it is
 * removed and are found again when a session of that name is configured.
 */
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../storage/storage.h"
#include "device_int.h"

#define STATS_FILE "cmp-stats"

/* The one table of the request kinds. */
static const struct {
	const char *name, *action, *suffix;
} kinds[DEVICE_REQ_N] = {
	[DEVICE_IR] = { "IR", "initial-request", "ir" },
	[DEVICE_CR] = { "CR", "certificate-request", "cr" },
	[DEVICE_KUR] = { "KUR", "keyupdate-request", "kur" },
};

const char *
device_req_name(enum device_req k)
{
	return kinds[k].name;
}

const char *
device_req_action(enum device_req k)
{
	return kinds[k].action;
}

const char *
device_req_suffix(enum device_req k)
{
	return kinds[k].suffix;
}

void
device_session_cfg_init(struct device_session_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->timeout = DEVICE_TIMEOUT_DEFAULT;
	cfg->expire_pct = DEVICE_EXPIRE_DEFAULT;
	cfg->regen_bits = DEVICE_REGEN_BITS_SAME;
}

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

int
device_url_ok(const char *url, int esc, struct pk_err *e)
{
	char *u = url_unescape(url, esc);
	int ok = strchr(u, ' ') == NULL;

	free(u);
	if (!ok)
		pk_err_set(e, "The URL is not valid.");
	return ok;
}

void
device_emit(struct device *d, const struct device_event *ev)
{
	if (d->event != NULL)
		d->event(d->event_arg, ev);
}

/* ---- statistics ---- */

static struct device_session *record(struct device *d, const char *name, int create);

static int
stats_save(struct device *d, struct pk_err *e)
{
	struct sbuf b = SBUF_INIT;
	char *path;
	int rc;

	if (d->st == NULL)
		return 0;
	for (size_t i = 0; i < d->nall; i++) {
		struct device_session *s = d->all[i];

		sbuf_printf(&b, "%s %lu %lu %lu %lu %lu %lu\n", s->name, s->sent[DEVICE_IR],
		    s->failed[DEVICE_IR], s->sent[DEVICE_CR], s->failed[DEVICE_CR],
		    s->sent[DEVICE_KUR], s->failed[DEVICE_KUR]);
	}
	path = storage_path(storage_store_dir(d->st), STATS_FILE);
	rc = storage_write_atomic(path, b.s ? b.s : "", b.len, 0600, e);
	free(path);
	sbuf_free(&b);
	return rc;
}

static void
stats_load(struct device *d)
{
	char *path, *save = NULL;
	unsigned char *data;
	size_t len;

	if (d->st == NULL)
		return;
	path = storage_path(storage_store_dir(d->st), STATS_FILE);
	if (storage_read(path, 1 << 20, &data, &len, NULL) == 0) {
		for (char *l = strtok_r((char *)data, "\n", &save); l != NULL;
		    l = strtok_r(NULL, "\n", &save)) {
			char name[64];
			unsigned long v[6];

			if (sscanf(l, "%50s %lu %lu %lu %lu %lu %lu", name, &v[0], &v[1],
			    &v[2], &v[3], &v[4], &v[5]) == 7) {
				struct device_session *s = record(d, name, 1);

				for (int k = 0; k < DEVICE_REQ_N; k++) {
					s->sent[k] = v[2 * k];
					s->failed[k] = v[2 * k + 1];
				}
			}
		}
		free(data);
	}
	free(path);
}

void
session_count(struct device *d, struct device_session *s, enum device_req kind,
    int failed)
{
	struct pk_err e;

	if (failed)
		s->failed[kind]++;
	else
		s->sent[kind]++;
	if (stats_save(d, &e) != 0) {
		struct device_event ev = { .kind = DEVICE_EV_STATS_NOT_SAVED,
			.session = s->name, .text = e.msg };

		device_emit(d, &ev);
	}
}

int
device_stats_reset(struct device *d, const char *name, struct pk_err *e)
{
	for (size_t i = 0; i < d->nall; i++) {
		if (name != NULL && !pk_strcaseeq(d->all[i]->name, name))
			continue;
		memset(d->all[i]->sent, 0, sizeof(d->all[i]->sent));
		memset(d->all[i]->failed, 0, sizeof(d->all[i]->failed));
	}
	return stats_save(d, e);
}

/* ---- the device ---- */

const char *
device_key_user(const struct device *d, const char *name)
{
	for (size_t i = 0; i < d->norder; i++)
		if (d->order[i]->cfg.key != NULL &&
		    pk_strcaseeq(d->order[i]->cfg.key, name))
			return d->order[i]->cfg.name;
	return NULL;
}

/* pki's hook: a key pair a configured session names cannot be destroyed. */
static int
key_in_use(void *arg, const char *key)
{
	return device_key_user(arg, key) != NULL;
}

int
device_new(struct device **out, struct storage *st, struct pki *p,
    const struct device_ops *ops, struct pk_err *e)
{
	struct device *d = xcalloc(1, sizeof(*d));

	(void)e;
	d->st = st;
	d->pki = p;
	d->pipe[0] = d->pipe[1] = -1;
	pk_map_init(&d->records, 1);
	pk_map_init(&d->entities, 1);
	if (ops != NULL)
		d->ops = *ops;
	d->loop = loop_new(device_clock, d);
	if (p != NULL)
		pki_set_key_in_use_hook(p, key_in_use, d);
	stats_load(d);
	*out = d;
	return 0;
}

static void
cfg_free_strings(struct device_session_cfg *c)
{
	free((char *)c->name);
	free((char *)c->entity);
	free((char *)c->ca_name);
	free((char *)c->url);
	free((char *)c->key);
	storage_wipe_free((char *)c->mac_secret);
	free((char *)c->mac_ref);
	free((char *)c->auth_cert);
	free((char *)c->verify_cert);
	memset(c, 0, sizeof(*c));
}

static void
entity_free_strings(struct pki_entity *ent)
{
	free((char *)ent->name);
	free((char *)ent->common_name);
	free((char *)ent->country);
	free((char *)ent->state);
	free((char *)ent->locality);
	free((char *)ent->organization);
	free((char *)ent->org_unit);
	free((char *)ent->fqdn);
	free((char *)ent->ip_address);
	free((char *)ent->email);
}

void
device_free(struct device *d)
{
	if (d == NULL)
		return;
	worker_drain(d);
	if (d->pki != NULL)
		pki_set_key_in_use_hook(d->pki, NULL, NULL);
	for (size_t i = 0; i < d->nall; i++) {
		au_forget(d, d->all[i]);
		cfg_free_strings(&d->all[i]->cfg);
		free(d->all[i]->name);
		free(d->all[i]);
	}
	free(d->all);
	pk_map_clear(&d->records);
	free(d->order);
	{
		size_t pos = 0;
		void *ent;

		while (pk_map_next(&d->entities, &pos, NULL, &ent)) {
			entity_free_strings(ent);
			free(ent);
		}
		pk_map_clear(&d->entities);
	}
	loop_free(d->loop);
	free(d);
}

void
device_set_event_fn(struct device *d, device_event_fn fn, void *arg)
{
	d->event = fn;
	d->event_arg = arg;
}

struct loop *
device_loop(struct device *d)
{
	return d->loop;
}

/* The clock: the injected one, else the wall clock. */
int64_t
device_clock(void *arg)
{
	const struct device *d = arg;

	return d->ops.now != NULL ? d->ops.now(d->ops.arg) : pk_wall_ms();
}

int64_t
device_now(const struct device *d)
{
	return device_clock((void *)d);
}

int
device_cert_validity(struct device *d, const char *file, time_t *nb, time_t *na,
    struct pk_err *e)
{
	if (d->ops.validity != NULL)
		return d->ops.validity(d->ops.arg, file, nb, na, e);
	if (d->pki == NULL)
		return pk_err_set(e, "The device has no PKI store.");
	return enrol_cert_validity(d->pki, file, nb, na, e);
}

int
device_auth_cert_info(struct device *d, const char *name,
    struct pki_cert_info *info, struct pk_err *e)
{
	if (d->pki == NULL)
		return pk_err_set(e, "The device has no PKI store.");
	return enrol_auth_cert_info(d->pki, name, info, e);
}

const char *
device_result_file(const char *name, enum device_req kind, char *buf, size_t n)
{
	snprintf(buf, n, "%s_%s.cer", name, kinds[kind].suffix);
	return buf;
}

/* ---- entities ---- */

static char *
dup0(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* The string fields of struct pki_entity after its name. */
static const size_t entity_fields[] = {
	offsetof(struct pki_entity, common_name), offsetof(struct pki_entity, country),
	offsetof(struct pki_entity, state), offsetof(struct pki_entity, locality),
	offsetof(struct pki_entity, organization), offsetof(struct pki_entity, org_unit),
	offsetof(struct pki_entity, fqdn), offsetof(struct pki_entity, ip_address),
	offsetof(struct pki_entity, email),
};
#define ENT_FIELD(e, off) (*(const char **)(void *)((char *)(e) + (off)))

static struct pki_entity *
entity_slot(const struct device *d, const char *name)
{
	return name != NULL ? pk_map_get(&d->entities, name) : NULL;
}

void
device_entity_set(struct device *d, const struct pki_entity *ent)
{
	struct pki_entity *slot = entity_slot(d, ent->name);
	struct pki_entity old;

	memset(&old, 0, sizeof(old));
	if (slot == NULL)
		slot = xcalloc(1, sizeof(*slot));
	else
		old = *slot;
	/* every line of an entity's section lands here: a field that did not
	 * change keeps its copy (taken out of OLD, which is freed) */
	for (size_t i = 0; i < sizeof(entity_fields) / sizeof(entity_fields[0]); i++) {
		const char *v = ENT_FIELD(ent, entity_fields[i]);
		const char **o = &ENT_FIELD(&old, entity_fields[i]);

		if (*o != NULL && v != NULL && strcmp(*o, v) == 0) {
			ENT_FIELD(slot, entity_fields[i]) = *o;
			*o = NULL;
		} else {
			ENT_FIELD(slot, entity_fields[i]) = dup0(v);
		}
	}
	if (old.name != NULL && strcmp(old.name, ent->name) == 0) {
		slot->name = old.name;
		old.name = NULL;
	} else {
		/* new, or the name changed case: keyed by the new copy before
		 * the old one is freed */
		slot->name = dup0(ent->name);
		pk_map_put(&d->entities, slot->name, slot);
	}
	entity_free_strings(&old);
}

void
device_entity_remove(struct device *d, const char *name)
{
	struct pki_entity *slot = entity_slot(d, name);

	if (slot == NULL)
		return;
	pk_map_del(&d->entities, slot->name);
	entity_free_strings(slot);
	free(slot);
}

const struct pki_entity *
device_entity_find(const struct device *d, const char *name)
{
	return entity_slot(d, name);
}

const char *
device_entity_user(const struct device *d, const char *name)
{
	for (size_t i = 0; i < d->norder; i++)
		if (d->order[i]->cfg.entity != NULL &&
		    pk_strcaseeq(d->order[i]->cfg.entity, name))
			return d->order[i]->cfg.name;
	return NULL;
}

/* ---- sessions ---- */

/* The record of NAME (case-insensitive), created when CREATE. */
static struct device_session *
record(struct device *d, const char *name, int create)
{
	struct device_session *s = name != NULL ? pk_map_get(&d->records, name) : NULL;

	if (s != NULL || !create)
		return s;
	s = xcalloc(1, sizeof(*s));
	s->d = d;
	s->name = xstrdup(name);
	s->state = "idle";
	atomic_init(&s->stop, 0);
	if (d->nall == d->capall) {
		d->capall = d->capall ? 2 * d->capall : 16;
		d->all = xrealloc(d->all, d->capall * sizeof(*d->all));
	}
	d->all[d->nall++] = s;
	pk_map_put(&d->records, s->name, s);
	return s;
}

static int
str_differ(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

void
device_session_set(struct device *d, const struct device_session_cfg *cfg)
{
	struct device_session *s = record(d, cfg->name, 1);
	struct device_session_cfg old = s->cfg;
	int was = s->configured;

	s->cfg = *cfg;
	s->cfg.name = dup0(cfg->name);
	s->cfg.entity = dup0(cfg->entity);
	s->cfg.ca_name = dup0(cfg->ca_name);
	s->cfg.url = dup0(cfg->url);
	s->cfg.key = dup0(cfg->key);
	s->cfg.mac_ref = dup0(cfg->mac_ref);
	s->cfg.mac_secret = dup0(cfg->mac_secret);
	s->cfg.auth_cert = dup0(cfg->auth_cert);
	s->cfg.verify_cert = dup0(cfg->verify_cert);
	if (!was) {
		s->configured = 1;
		if (d->norder == d->caporder) {
			d->caporder = d->caporder ? 2 * d->caporder : 16;
			d->order = xrealloc(d->order, d->caporder * sizeof(*d->order));
		}
		d->order[d->norder++] = s;
	}
	/* The next update depends on these only. */
	if (!was || old.auto_update != cfg->auto_update ||
	    old.expire_pct != cfg->expire_pct || str_differ(old.auth_cert, cfg->auth_cert))
		au_reschedule(d, s);
	if (!was || old.auto_update != cfg->auto_update)
		au_root_reschedule(d, s);
	cfg_free_strings(&old);
}

void
device_session_remove(struct device *d, const char *name)
{
	struct device_session *s = device_session_find(d, name);

	if (s == NULL)
		return;
	s->configured = 0;
	cfg_free_strings(&s->cfg);
	for (size_t i = 0; i < d->norder; i++)
		if (d->order[i] == s) {
			memmove(d->order + i, d->order + i + 1,
			    (d->norder - i - 1) * sizeof(*d->order));
			d->norder--;
			break;
		}
	au_reschedule(d, s);	/* not configured: cancels its timers */
	au_root_reschedule(d, s);
}

struct device_session *
device_session_find(struct device *d, const char *name)
{
	struct device_session *s = record(d, name, 0);

	return s != NULL && s->configured ? s : NULL;
}

size_t
device_session_count(const struct device *d)
{
	return d->norder;
}

struct device_session *
device_session_at(struct device *d, size_t i)
{
	return i < d->norder ? d->order[i] : NULL;
}

const struct device_session_cfg *
device_session_cfg(const struct device_session *s)
{
	return &s->cfg;
}

void
device_session_status(const struct device_session *s,
    struct device_session_status *out)
{
	out->state = s->state;
	out->last = s->last;
	out->next_update = s->next_update;
	out->next_note = s->next_note;
	memcpy(out->sent, s->sent, sizeof(out->sent));
	memcpy(out->failed, s->failed, sizeof(out->failed));
}

int
device_session_busy(struct device *d, const char *name)
{
	struct device_session *s = record(d, name, 0);

	return s != NULL && strcmp(s->state, "idle") != 0;
}

int
device_session_stop(struct device *d, const char *name)
{
	struct device_session *s = device_session_find(d, name);

	if (s == NULL)
		return -1;
	/* a console request (waiting, polling) or an automatic update in its
	 * worker thread (updating): the transaction asks should_stop while it
	 * connects, waits for an answer or polls */
	if (strcmp(s->state, "idle") == 0)
		return 0;
	atomic_store(&s->stop, 1);
	return 1;
}

/* ---- requests ---- */

/* The MAC reference and the unsealed secret of CFG into P (*secret new). */
static int
mac_params(struct device *d, const struct device_session_cfg *cfg,
    struct enrol_params *p, char **secret, struct pk_err *e)
{
	struct pk_err why;

	p->ref = cfg->mac_ref;
	if (p->ref == NULL || cfg->mac_secret == NULL)
		return pk_err_set(e, "The CMP session %s has no "
		    "message-authentication-code configured.", cfg->name);
	if (d->st == NULL ||
	    storage_unseal(d->st, cfg->mac_secret, secret, &why) != 0)
		return pk_err_set(e, "The secret of the CMP session %s cannot be "
		    "used: %s.", cfg->name, d->st ? why.msg : "no store");
	p->secret = *secret;
	return 0;
}

/* What every request of session S shares: its name, the server (URL, CA
 * name, TLS anchor), the MAC kind and the timeout. *url is the unescaped URL
 * (free it). */
static int
params_common(struct device *d, const struct device_session_cfg *cfg,
    struct enrol_params *p, char **secret, char **url, struct pk_err *e)
{
	memset(p, 0, sizeof(*p));
	*secret = *url = NULL;
	p->name = cfg->name;
	if (cfg->url == NULL)
		return pk_err_set(e, "The CMP session %s has no server URL configured.",
		    cfg->name);
	*url = url_unescape(cfg->url, cfg->url_esc);
	p->url = *url;
	p->ca_name = cfg->ca_name;
	p->use_signature = cfg->use_signature;
	p->auth_cert = cfg->auth_cert;
	p->verify_cert = cfg->verify_cert;
	p->hmac_sha1 = cfg->hmac_sha1;
	p->pbmac1 = cfg->pbmac1;
	p->timeout = cfg->timeout;
	p->now_ms = device_now(d);
	return 0;
}

/* How a request of KIND is protected. origin-authentication-method governs the
 * IR (and the genm, protected as the IR is) only: CR and KUR are always signed
 * with the authentication certificate's key (RFC 4210 5.3.3, 5.3.5: they come
 * from an entity that already holds a certificate). */
static int
params_protection(struct device *d, const struct device_session_cfg *cfg,
    enum device_req kind, struct enrol_params *p, char **secret,
    struct pk_err *e)
{
	if (kind == DEVICE_IR && !p->use_signature)
		return mac_params(d, cfg, p, secret, e);
	if (p->auth_cert == NULL)
		return pk_err_set(e, "The CMP session %s has no authentication "
		    "certificate configured%s.", cfg->name, kind == DEVICE_IR ? "" :
		    kind == DEVICE_CR ? " (a certificate request is signed with it)" :
		    " (a key update request is signed with it)");
	return 0;
}

int
session_params_genm(struct device *d, struct device_session *s,
    struct enrol_params *p, char **secret, char **url, struct pk_err *e)
{
	if (params_common(d, &s->cfg, p, secret, url, e) != 0)
		return -1;
	return params_protection(d, &s->cfg, DEVICE_IR, p, secret, e);
}

int
session_params(struct device *d, struct device_session *s, enum device_req kind,
    struct enrol_params *p, char **secret, char **url, struct pk_err *e)
{
	const struct device_session_cfg *cfg = &s->cfg;

	if (params_common(d, cfg, p, secret, url, e) != 0)
		return -1;
	if (cfg->entity == NULL) {
		if (kind != DEVICE_KUR)
			return pk_err_set(e, "The CMP session %s has no entity "
			    "configured.", cfg->name);
	} else {
		p->entity = device_entity_find(d, cfg->entity);
		if (p->entity == NULL || p->entity->common_name == NULL)
			return pk_err_set(e, "The PKI entity %s of the CMP session %s has "
			    "no common-name configured.", cfg->entity, cfg->name);
	}
	if ((p->key_name = cfg->key) == NULL)
		return pk_err_set(e, "The CMP session %s has no key pair configured.",
		    cfg->name);
	p->regenerate = cfg->regenerate;
	p->regen_bits = cfg->regen_bits;
	p->implicit_confirm = cfg->implicit_confirm;
	p->template_query = cfg->template_query &&
	    (kind == DEVICE_IR || kind == DEVICE_KUR);
	return params_protection(d, cfg, kind, p, secret, e);
}

int
device_call_should_stop(void *arg)
{
	struct device_call *k = arg;

	return atomic_load(&k->s->stop) ||
	    (k->cancelled != NULL && k->cancelled(k->arg));
}

void
device_call_progress(void *arg, const char *text)
{
	struct device_call *k = arg;
	struct device_event ev = { .kind = DEVICE_EV_PROGRESS, .session = k->s->name,
		.text = text };

	device_emit(k->d, &ev);
}

int
device_request(struct device *d, const char *name, enum device_req kind,
    int (*cancelled)(void *arg), void *arg, struct device_result *r,
    struct pk_err *e)
{
	struct device_session *s = device_session_find(d, name);
	struct device_call k = { .d = d, .s = s, .cancelled = cancelled,
		.arg = arg };
	struct enrol_params p;
	struct enrol_job *job = NULL;
	char *secret = NULL, *url = NULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	if (s == NULL)
		return pk_err_set(e, "The CMP session %s does not exist.", name);
	if (d->pki == NULL || d->st == NULL) {
		pk_err_set(e, "The device has no PKI store.");
		goto out;
	}
	if (session_params(d, s, kind, &p, &secret, &url, e) != 0)
		goto out;
	if (strcmp(s->state, "idle") != 0) {
		pk_err_set(e, "The CMP session %s has a transaction in progress.",
		    s->cfg.name);
		goto out;
	}
	p.should_stop = device_call_should_stop;
	p.stop_arg = &k;
	p.progress = device_call_progress;
	p.progress_arg = &k;
	/* refused while preparing (a certificate that is missing, expired, matches
	 * no key pair): nothing went out, nothing is counted */
	if (enrol_prepare(d->pki, kind, &p, &job, e) != 0)
		goto out;
	atomic_store(&s->stop, 0);
	s->state = "waiting";
	r->sent = 1;
	session_count(d, s, kind, 0);
	enrol_run(job);
	rc = enrol_finish(d->pki, d->st, job, r, e);
	s->state = "idle";
	if (rc != 0) {
		session_count(d, s, kind, 1);
		snprintf(s->last, sizeof(s->last), "%s failed: %s", kinds[kind].name,
		    e->msg);
		goto out;
	}
	snprintf(s->last, sizeof(s->last), "%s accepted, %s, serial %s",
	    kinds[kind].name, r->cert_file, r->serial);
	/* After a KUR the session signs with the new certificate (with regenerate
	 * the old one no longer matches any key pair). */
	if (kind == DEVICE_KUR && s->cfg.auth_cert != NULL &&
	    strcmp(s->cfg.auth_cert, r->cert_file) != 0) {
		free((char *)s->cfg.auth_cert);
		s->cfg.auth_cert = xstrdup(r->cert_file);
		r->auth_cert_changed = 1;
	}
	au_reschedule(d, s);
out:
	enrol_job_free(job);
	storage_wipe_free(secret);
	free(url);
	return rc;
}

void
device_ca_certs_clear(struct device_ca_certs *r)
{
	if (r == NULL)
		return;
	free(r->certs);
	memset(r, 0, sizeof(*r));
	r->status = -1;
}

int
device_ca_certs(struct device *d, const char *name,
    int (*cancelled)(void *arg), void *arg, struct device_ca_certs *r,
    struct pk_err *e)
{
	struct device_session *s = device_session_find(d, name);
	struct device_call k = { .d = d, .s = s, .cancelled = cancelled,
		.arg = arg };
	struct enrol_params p;
	char *secret = NULL, *url = NULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	if (s == NULL)
		return pk_err_set(e, "The CMP session %s does not exist.", name);
	if (d->pki == NULL || d->st == NULL) {
		pk_err_set(e, "The device has no PKI store.");
		goto out;
	}
	if (session_params_genm(d, s, &p, &secret, &url, e) != 0)
		goto out;
	if (strcmp(s->state, "idle") != 0) {
		pk_err_set(e, "The CMP session %s has a transaction in progress.",
		    s->cfg.name);
		goto out;
	}
	p.should_stop = device_call_should_stop;
	p.stop_arg = &k;
	p.progress = device_call_progress;
	p.progress_arg = &k;
	atomic_store(&s->stop, 0);
	s->state = "waiting";
	rc = enrol_ca_certs(d->pki, d->st, &p, r, e);
	s->state = "idle";
	if (rc != 0 && r->sent)
		snprintf(s->last, sizeof(s->last), "caCerts failed: %s", e->msg);
	else if (rc == 0)
		snprintf(s->last, sizeof(s->last), "caCerts: %zu CA certificate%s "
		    "saved", r->n, r->n == 1 ? "" : "s");
out:
	storage_wipe_free(secret);
	free(url);
	return rc;
}
