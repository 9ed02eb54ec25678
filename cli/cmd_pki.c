/*
 * Console handlers of the PKI commands (schemas/pki.xml): entities (the view's
 * binding to struct pki_entity; each change is handed to the device, whose CMP
 * sessions name entities), key pairs, certificates. Domain logic is in pki/; this
 * file reads arguments, asks the operator where CLI.md says so, and prints.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../device/device.h"
#include "../pki/pki.h"
#include "../storage/storage.h"
#include "cli_int.h"

/* ---- entities ---- */

/* The entity view, typed as pki/'s struct pki_entity: one binding table
 * (checked when the grammar loads). */
#define F(field) offsetof(struct pki_entity, field)
static const struct cli_binding entity_fields[] = {
	{ NULL, NULL, CLI_BIND_KEY, F(name) },
	{ "common-name", "cn", CLI_BIND_STR, F(common_name) },
	{ "country", "cc", CLI_BIND_STR, F(country) },
	{ "state", "st", CLI_BIND_STR, F(state) },
	{ "locality", "l", CLI_BIND_STR, F(locality) },
	{ "organization", "o", CLI_BIND_STR, F(organization) },
	{ "organization-unit", "ou", CLI_BIND_STR, F(org_unit) },
	{ "fqdn", "fqdn", CLI_BIND_STR, F(fqdn) },
	{ "ip-address", "ipv4", CLI_BIND_STR, F(ip_address) },
	{ "ip-address", "ipv6", CLI_BIND_STR, F(ip_address) },
	{ "email", "email", CLI_BIND_STR, F(email) },
};
#undef F

/* Every change of an entity goes to the device (its CMP sessions name them). */
static void
entity_apply(void *arg, const char *key, const void *obj)
{
	struct cli *c = arg;

	if (obj != NULL)
		device_entity_set(c->dev, obj);
	else
		device_entity_remove(c->dev, key);
}

static const struct cli_view_binding entity_view = {
	"pki-entity", entity_fields, sizeof(entity_fields) / sizeof(entity_fields[0]),
	sizeof(struct pki_entity), NULL, entity_apply,
};

/* check= of `pki entity` (undo: not while a session uses it) and of the entity
 * fields whose rules the grammar cannot say (fqdn, email). */
static int
h_entity_check(struct cli *c, const struct cli_args *a)
{
	struct pk_err e;
	const char *v;

	if (cli_kw(a, "entity") && a->undo) {
		const char *name = cli_arg(a, "name");
		const char *s = device_entity_user(c->dev, name);

		if (s != NULL)
			return cli_error(c, "The PKI entity %s is used by the CMP session "
			    "%s and cannot be deleted.", name, s);
		return 0;
	}
	if (a->undo)
		return 0;
	if ((v = cli_arg(a, "fqdn")) != NULL &&
	    !pki_entity_value_ok(PKI_ENT_FQDN, v, &e))
		return cli_error(c, "%s", e.msg);
	if ((v = cli_arg(a, "email")) != NULL &&
	    !pki_entity_value_ok(PKI_ENT_EMAIL, v, &e))
		return cli_error(c, "%s", e.msg);
	return 0;
}

static int
h_display_entity(struct cli *c, const struct cli_args *a)
{
	const char *name = cli_arg(a, "name");
	struct cfg_node **nodes = cli_cfg_list(c, entity_view.view);
	struct pki_entity *ents;
	struct sbuf out = SBUF_INIT;
	size_t n = 0;

	for (size_t i = 0; nodes[i] != NULL; i++)
		n++;
	ents = xcalloc(n + 1, sizeof(*ents));
	n = 0;
	for (size_t i = 0; nodes[i] != NULL; i++)
		if (name == NULL || pk_strcaseeq(nodes[i]->key, name))
			cfg_bind(nodes[i], &entity_view, &ents[n++]);
	pki_entity_display(ents, n, &out);
	cli_write(c, sbuf_str(&out));
	sbuf_free(&out);
	free(ents);
	free(nodes);
	return 0;
}

/* ---- key pairs ---- */

/* A key pair a CMP session uses is neither destroyed nor replaced: said before
 * any question, naming the session. */
static int
key_in_use(struct cli *c, const char *name, const char *what)
{
	const char *user = device_key_user(c->dev, name);

	if (user == NULL)
		return 0;
	cli_error(c, "The key pair %s is used by the CMP session %s and cannot be %s.",
	    name, user, what);
	return 1;
}

/* 1: go on (no key pair NAME, or the operator agreed to replace it of type T);
 * 0: the operator said no; -1: refused (printed). */
static int
confirm_replace(struct cli *c, const char *name, enum pki_key_type type)
{
	enum pki_key_type t = pki_key_exists(c->pki, name);

	if (t == PKI_KEY_ANY)
		return 1;
	if (t != type) {
		cli_error(c, "The key pair %s exists and is an %s key pair; destroy it "
		    "first.", name, t == PKI_KEY_RSA ? "RSA" : "ECC");
		return -1;
	}
	if (key_in_use(c, name, "replaced"))
		return -1;
	cli_out(c, "Info: The key pair %s already exists.\n", name);
	return cli_confirm(c, "Are you sure you want to replace it? [y/n]:", 1);
}

static int
h_rsa_create(struct cli *c, const struct cli_args *a)
{
	const char *name = cli_arg(a, "key"), *bits_s = cli_arg(a, "bits");
	struct pk_err e;
	int bits = bits_s ? atoi(bits_s) : 0, used, rc;

	if (!pki_key_name_ok(name, &e))
		return cli_error(c, "%s", e.msg);
	if (bits_s == NULL && c->interactive && c->io.read_line != NULL) {
		char *ans, q[64];

		cli_out(c, "The range of public key size is (2048 ~ 4096).\n");
		cli_out(c, "NOTE: Key pair generation will take a short while.\n");
		fflush(c->out);
		snprintf(q, sizeof(q), "Please input the modulus [default = %d]:",
		    PKI_RSA_DEFAULT_BITS);
		ans = c->io.read_line(c->io.arg, q, 1);
		if (ans != NULL && ans[0] != '\0') {
			char *end;
			long v = strtol(ans, &end, 10);

			if (*end != '\0' || v < PKI_RSA_MIN_BITS || v > PKI_RSA_MAX_BITS) {
				free(ans);
				return cli_error(c, "The modulus must be an integer from "
				    "2048 to 4096.");
			}
			bits = (int)v;
		}
		free(ans);
	}
	if ((rc = confirm_replace(c, name, PKI_KEY_RSA)) <= 0)
		return rc;
	cli_out(c, "Info: The name of the new key-pair will be: %s\n", name);
	cli_out(c, "Generating key-pairs...\n");
	fflush(c->out);
	if (pki_key_create_rsa(c->pki, name, bits, cli_kw(a, "exportable"), &used,
	    &e) != 0)
		return cli_error(c, "%s", e.msg);
	if (bits != 0 && used != bits)
		cli_out(c, "Info: The modulus %d is odd; %d bits are used.\n", bits, used);
	cli_out(c, "Generating key-pairs finished\n");
	return 0;
}

static int
h_ecc_create(struct cli *c, const struct cli_args *a)
{
	const char *name = cli_arg(a, "key"), *curve = NULL;
	const char *const *curves = pki_ec_curves();
	struct pk_err e;
	int rc;

	for (size_t i = 0; curves[i] != NULL; i++)
		if (cli_kw(a, curves[i]))
			curve = curves[i];
	if (curve == NULL)
		return cli_error(c, "Unsupported curve.");
	if (!pki_key_name_ok(name, &e))
		return cli_error(c, "%s", e.msg);
	if ((rc = confirm_replace(c, name, PKI_KEY_EC)) <= 0)
		return rc;
	cli_out(c, "Info: The name of the new key-pair will be: %s\n", name);
	cli_out(c, "Generating key-pairs...\n");
	fflush(c->out);
	if (pki_key_create_ec(c->pki, curve, name, cli_kw(a, "exportable"), &e) != 0)
		return cli_error(c, "%s", e.msg);
	cli_out(c, "Generating key-pairs finished\n");
	return 0;
}

static int
key_destroy(struct cli *c, const struct cli_args *a, enum pki_key_type t)
{
	const char *name = cli_arg(a, "key");
	struct pk_err e;

	if (key_in_use(c, name, "deleted"))
		return -1;
	if (c->interactive &&
	    !cli_confirm(c, "Are you sure you want to delete the key pair? [y/n]:", 1))
		return 0;
	if (pki_key_destroy(c->pki, t, name, &e) != 0)
		return cli_error(c, "%s", e.msg);
	cli_out(c, "Info: Delete %s key pair success.\n", t == PKI_KEY_RSA ? "RSA" : "ECC");
	return 0;
}

static int
h_rsa_destroy(struct cli *c, const struct cli_args *a)
{
	return key_destroy(c, a, PKI_KEY_RSA);
}

static int
h_ecc_destroy(struct cli *c, const struct cli_args *a)
{
	return key_destroy(c, a, PKI_KEY_EC);
}

static int
key_display(struct cli *c, const struct cli_args *a, enum pki_key_type t)
{
	struct sbuf out = SBUF_INIT;
	struct pk_err e;
	int rc;

	rc = pki_key_display(c->pki, t, cli_arg(a, "key"), &out, &e);
	if (rc == 0)
		cli_write(c, sbuf_str(&out));
	sbuf_free(&out);
	return rc == 0 ? 0 : cli_error(c, "%s", e.msg);
}

static int
h_rsa_display(struct cli *c, const struct cli_args *a)
{
	return key_display(c, a, PKI_KEY_RSA);
}

static int
h_ecc_display(struct cli *c, const struct cli_args *a)
{
	return key_display(c, a, PKI_KEY_EC);
}

/* A password given on the line: plain, or the sealed form of the configuration
 * (unsealed into *plain, which the caller wipes). NULL with the error printed. */
static const char *
line_password(struct cli *c, const char *pw, char **plain)
{
	struct pk_err e;

	*plain = NULL;
	if (pw == NULL || !storage_is_sealed(pw))
		return pw;
	if (storage_unseal(c->st, pw, plain, &e) != 0) {
		cli_error(c, "The password cannot be used: %s.", e.msg);
		return NULL;
	}
	return *plain;
}

/* FILE in flash:/pki/public is about to be written: 1 go on (it does not exist,
 * the operator agreed, or batch mode, where *replaced says it was), 0 not. */
static int
confirm_overwrite(struct cli *c, const char *file, int *replaced)
{
	char q[512];

	*replaced = pki_public_exists(c->pki, file);
	if (!*replaced || !c->interactive)
		return 1;
	snprintf(q, sizeof(q), "Warning: The file flash:/pki/public/%s exists and will "
	    "be overwritten. Continue? [Y/N]:", file);
	return cli_confirm(c, q, 1);
}

/* pki export {rsa|ecc}-key-pair KEY {pem|pkcs12} FILE password PW */
static int
h_key_export(struct cli *c, const struct cli_args *a)
{
	const char *name = cli_arg(a, "key"), *file = cli_arg(a, "file");
	int pkcs12 = cli_kw(a, "pkcs12"), replaced, rc;
	const char *pw;
	char *plain;
	struct pk_err e;

	if (!confirm_overwrite(c, file, &replaced)) {
		cli_out(c, "Info: The key pair %s was not exported.\n", name);
		return 0;
	}
	if ((pw = line_password(c, cli_arg(a, "password"), &plain)) == NULL)
		return -1;
	rc = pki_key_export(c->pki, cli_kw(a, "rsa-key-pair") ? PKI_KEY_RSA :
	    PKI_KEY_EC, name, pkcs12 ? PKI_KEYFMT_PKCS12 : PKI_KEYFMT_PEM, file, pw,
	    PKI_EXPORT_OVERWRITE, &e);
	storage_wipe_free(plain);
	if (rc != 0)
		return cli_error(c, "%s", e.msg);
	if (replaced)
		cli_out(c, "Info: The existing file flash:/pki/public/%s was "
		    "overwritten.\n", file);
	cli_out(c, "Info: The key pair %s was exported to flash:/pki/public/%s%s.\n",
	    name, file, pkcs12 ? " in PKCS12 format" : "");
	return 0;
}

/* pki import {rsa|ecc}-key-pair KEY [exclude-cert] {pem|pkcs12} FILE [exportable]
 * [password PW]: the file is read first (is it encrypted?), the password asked
 * for at a terminal only when it is needed; refusals come before questions. */
static int
h_key_import(struct cli *c, const struct cli_args *a)
{
	enum pki_key_type type = cli_kw(a, "rsa-key-pair") ? PKI_KEY_RSA : PKI_KEY_EC;
	enum pki_key_format fmt = cli_kw(a, "pkcs12") ? PKI_KEYFMT_PKCS12 :
	    PKI_KEYFMT_PEM;
	const char *name = cli_arg(a, "key"), *file = cli_arg(a, "file"), *pw;
	const char *tname = type == PKI_KEY_RSA ? "RSA" : "ECC";
	struct pki_key_import_result res;
	unsigned flags = 0;
	char *plain = NULL, *asked = NULL;
	struct pk_err e;
	int need, rc = -1;

	if (!pki_key_name_ok(name, &e))
		return cli_error(c, "%s", e.msg);
	if ((need = pki_key_file_needs_password(c->pki, fmt, file, &e)) < 0)
		return cli_error(c, "%s", e.msg);
	if ((rc = confirm_replace(c, name, type)) <= 0)
		return rc;
	if (pki_key_exists(c->pki, name) != PKI_KEY_ANY)
		flags |= PKI_IMPORT_REPLACE;
	if (cli_kw(a, "exportable"))
		flags |= PKI_IMPORT_EXPORTABLE;
	if (cli_kw(a, "exclude-cert"))
		flags |= PKI_IMPORT_EXCLUDE_CERT;
	if ((pw = line_password(c, cli_arg(a, "password"), &plain)) == NULL &&
	    cli_arg(a, "password") != NULL)
		return -1;
	if (pw == NULL && need) {
		/* CLI.md: asked once at a terminal; in batch mode a secret that
		 * would be asked for is an incomplete command */
		if (!c->interactive)
			return cli_incomplete(c);
		asked = cli_ask_secret_once(c, "The current password is required, please "
		    "enter the password <length 1-32>:");
		if (asked == NULL || asked[0] == '\0' ||
		    strlen(asked) > PKI_IMPORT_PASSWORD_MAX) {
			storage_wipe_free(asked);
			return cli_error(c, "The password must be 1 to %d characters.",
			    PKI_IMPORT_PASSWORD_MAX);
		}
		pw = asked;
	}
	rc = pki_key_import(c->pki, type, name, fmt, file, pw, flags, &res, &e);
	storage_wipe_free(plain);
	storage_wipe_free(asked);
	if (rc != 0)
		return cli_error(c, "%s", e.msg);
	if (res.weak)
		cli_out(c, "Warning: Keys less than 3072 digits impose security "
		    "risks...\n");
	if (res.cert_imported)
		cli_out(c, "Info: The certificate in the file was imported as the local "
		    "certificate %s.\n", res.cert_name);
	cli_out(c, "Info: Succeeded in importing the %s key pair in %s format.\n",
	    tname, fmt == PKI_KEYFMT_PKCS12 ? "PKCS12" : "PEM");
	return 0;
}

/* ---- certificates ---- */

static enum pki_cert_kind
cert_kind(const struct cli_args *a)
{
	return cli_kw(a, "ca") ? PKI_CERT_CA : PKI_CERT_LOCAL;
}

static int
h_cert_import(struct cli *c, const struct cli_args *a)
{
	enum pki_cert_kind kind = cert_kind(a);
	enum pki_cert_format fmt = cli_kw(a, "der") ? PKI_FMT_DER :
	    cli_kw(a, "pem") ? PKI_FMT_PEM : PKI_FMT_AUTO;
	const char *file = cli_arg(a, "file");
	struct pki_cert_info info;
	struct pk_err e;

	if (kind == PKI_CERT_CA) {
		if (pki_cert_file_info(c->pki, fmt, file, &info, &e) != 0)
			return cli_error(c, "%s", e.msg);
		cli_out(c, "The CA's Subject is %s\n", info.subject);
		cli_out(c, "The CA's fingerprint is:\n");
		cli_out(c, "  SHA256 fingerprint: %s\n", info.fingerprint);
		if (c->interactive &&
		    !cli_confirm(c, "Is the fingerprint correct? [Y/N]:", 1)) {
			cli_out(c, "Info: The certificate was not imported.\n");
			return 0;
		}
	}
	if (pki_cert_import(c->pki, kind, cli_arg(a, "realm"), fmt, file,
	    cli_arg(a, "certname"), &info, &e) != 0)
		return cli_error(c, "%s", e.msg);
	if (kind == PKI_CERT_LOCAL)
		cli_out(c, "Info: The certificate matches the key pair %s.\n",
		    info.key_name);
	cli_out(c, "Info: Succeeded in importing the certificate.\n");
	if (c->interactive && cli_confirm(c, "Warning: The file in the flash will be "
	    "deleted. Please select 'N' if you want to keep it. Please select [Y/N]:", 0)) {
		char *path = storage_path(storage_public_dir(c->st), file);

		if (storage_remove(path, &e) != 0)
			cli_error(c, "%s", e.msg);
		free(path);
	}
	return 0;
}

static int
h_cert_delete(struct cli *c, const struct cli_args *a)
{
	struct pk_err e;

	if (pki_cert_delete(c->pki, cert_kind(a), cli_arg(a, "file"),
	    cli_arg(a, "realm"), &e) != 0)
		return cli_error(c, "%s", e.msg);
	cli_out(c, "Info: Succeeded in deleting the certificate.\n");
	return 0;
}

static int
h_cert_display(struct cli *c, const struct cli_args *a)
{
	struct sbuf out = SBUF_INIT;
	struct pk_err e;
	int rc;

	rc = pki_cert_display(c->pki, cert_kind(a), cli_arg(a, "file"),
	    cli_arg(a, "realm"), &out, &e);
	if (rc == 0)
		cli_write(c, sbuf_str(&out));
	sbuf_free(&out);
	return rc == 0 ? 0 : cli_error(c, "%s", e.msg);
}

static int
h_cert_validate(struct cli *c, const struct cli_args *a)
{
	struct sbuf out = SBUF_INIT;
	struct pk_err e;
	int rc, valid = 0;

	rc = pki_cert_validate(c->pki, cert_kind(a), cli_arg(a, "file"), &out, &valid,
	    &e);
	if (rc == 0)
		cli_write(c, sbuf_str(&out));
	sbuf_free(&out);
	return rc == 0 ? 0 : cli_error(c, "%s", e.msg);
}

/* ---- object kinds ---- */

static char **
list_rsa(void *arg)
{
	struct cli *c = arg;

	return pki_key_names(c->pki, PKI_KEY_RSA);
}

static char **
list_ecc(void *arg)
{
	struct cli *c = arg;

	return pki_key_names(c->pki, PKI_KEY_EC);
}

static char **
list_keys(void *arg)
{
	struct cli *c = arg;

	return pki_key_names(c->pki, PKI_KEY_ANY);
}

static char **
list_cert_records(void *arg)
{
	struct cli *c = arg;
	char **ca = pki_cert_names(c->pki, PKI_CERT_CA);
	char **lo = pki_cert_names(c->pki, PKI_CERT_LOCAL);
	size_t n = 0, m = 0;
	char **all;

	while (ca && ca[n])
		n++;
	while (lo && lo[m])
		m++;
	all = xcalloc(n + m + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		all[i] = ca[i];
	for (size_t i = 0; i < m; i++)
		all[n + i] = lo[i];
	free(ca);
	free(lo);
	return all;
}

/* A key pair name that is not of the kind asked for: either no such key pair, or
 * one of the other type. */
static void
missing_key_of(struct cli *c, const char *name, enum pki_key_type want,
    struct sbuf *msg)
{
	enum pki_key_type t = pki_key_exists(c->pki, name);

	if (t != PKI_KEY_ANY && want != PKI_KEY_ANY && t != want)
		sbuf_printf(msg, "The key pair %s is an %s key pair, not an %s one.",
		    name, t == PKI_KEY_RSA ? "RSA" : "ECC",
		    want == PKI_KEY_RSA ? "RSA" : "ECC");
	else
		sbuf_printf(msg, "The key pair %s does not exist.", name);
}

static void
missing_rsa(void *arg, const char *name, struct sbuf *msg)
{
	missing_key_of(arg, name, PKI_KEY_RSA, msg);
}

static void
missing_ecc(void *arg, const char *name, struct sbuf *msg)
{
	missing_key_of(arg, name, PKI_KEY_EC, msg);
}

static void
missing_key(void *arg, const char *name, struct sbuf *msg)
{
	missing_key_of(arg, name, PKI_KEY_ANY, msg);
}

static void
missing_cert(void *arg, const char *name, struct sbuf *msg)
{
	(void)arg;
	sbuf_printf(msg, "The certificate %s does not exist in the device.", name);
}

void
cli_pki_init(struct cli *c)
{
	cli_install_view(c, &entity_view, c);
	cli_install_handler(c, "entity_check", h_entity_check);
	cli_install_handler(c, "display_entity", h_display_entity);
	cli_install_handler(c, "rsa_create", h_rsa_create);
	cli_install_handler(c, "rsa_destroy", h_rsa_destroy);
	cli_install_handler(c, "rsa_display", h_rsa_display);
	cli_install_handler(c, "ecc_create", h_ecc_create);
	cli_install_handler(c, "ecc_destroy", h_ecc_destroy);
	cli_install_handler(c, "ecc_display", h_ecc_display);
	cli_install_handler(c, "key_export", h_key_export);
	cli_install_handler(c, "key_import", h_key_import);
	cli_install_handler(c, "cert_import", h_cert_import);
	cli_install_handler(c, "cert_delete", h_cert_delete);
	cli_install_handler(c, "cert_display", h_cert_display);
	cli_install_handler(c, "cert_validate", h_cert_validate);
	cli_install_object(c, "rsa-key", list_rsa, missing_rsa, c);
	cli_install_object(c, "ecc-key", list_ecc, missing_ecc, c);
	cli_install_object(c, "key", list_keys, missing_key, c);
	cli_install_object(c, "cert-record", list_cert_records, missing_cert, c);
}
