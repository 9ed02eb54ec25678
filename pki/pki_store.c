/*
 * pki store: opening the device store (flash/pki/.store) and loading every key
 * pair and certificate file in it, the load warnings, reads of
 * flash:/pki/public, and the small helpers the store files share (header lines,
 * names). The file formats are in pki_int.h; key pairs are in pki_key.c,
 * certificates in pki_cert.c. Contract in pki.h.
 */
#include "pki_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../storage/storage.h"

const char *
pki_type_word(enum pki_key_type t)
{
	return t == PKI_KEY_EC ? "ECC" : "RSA";
}

int
pki_simple_name_ok(const char *what, const char *name, struct pk_err *e)
{
	size_t n = name != NULL ? strlen(name) : 0;

	if (n < 1 || n > PKI_NAME_MAX)
		return pk_err_set(e, "The %s must be 1 to %d characters.", what,
		    PKI_NAME_MAX), 0;
	for (const unsigned char *q = (const unsigned char *)name; *q; q++)
		if (*q <= 0x20 || *q >= 0x7f || *q == '?' || *q == '"')
			return pk_err_set(e, "The %s must not contain spaces, '?', "
			    "'\"' or non-printable characters.", what), 0;
	return 1;
}

void
pki_names_free(char **names)
{
	if (names == NULL)
		return;
	for (char **q = names; *q != NULL; q++)
		free(*q);
	free(names);
}

/* A "field: value" line of a store file header, or NULL. */
static const char *
header_value(const char *text, const char *field)
{
	size_t fl = strlen(field);

	for (const char *l = text; l != NULL && *l != '\0';) {
		if (strncmp(l, "-----BEGIN", 10) == 0)
			return NULL;
		if (strncmp(l, field, fl) == 0 && l[fl] == ':' && l[fl + 1] == ' ')
			return l + fl + 2;
		l = strchr(l, '\n');
		if (l != NULL)
			l++;
	}
	return NULL;
}

char *
pki_header_dup(const char *text, const char *field)
{
	const char *v = header_value(text, field);
	size_t n;

	if (v == NULL)
		return NULL;
	n = strcspn(v, "\r\n");
	return xstrndup(v, n);
}

int
pki_no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* ---- open / close --------------------------------------------------- */

int
pki_open(struct pki **out, struct storage *st, struct pk_err *e)
{
	struct pki *p = xcalloc(1, sizeof(*p));
	char **names = NULL;
	int rc = -1;

	*out = NULL;
	p->st = st;
	sbuf_init(&p->warnings);
	pki_cas_rebuild(p);
	if (storage_list(storage_store_dir(st), &names, e) != 0)
		goto out;
	for (char **n = names; *n != NULL; n++) {
		char *path;
		struct pk_err le;
		struct keyrec *k;
		struct certrec *c;
		size_t l = strlen(*n);
		int r;

		if (l < 5 || strcmp(*n + l - 4, ".pem") != 0)
			continue;
		path = storage_path(storage_store_dir(st), *n);
		pk_err_clear(&le);
		if (strncmp(*n, "key-", 4) == 0) {
			if ((r = pki_keyrec_load(p, path, &k, &le)) == 0)
				pki_keyrec_put(p, k);
		} else if (strncmp(*n, "cert-", 5) == 0) {
			if ((r = pki_certrec_load(p, path, &c, &le)) == 0)
				pki_certrec_put(p, c);
		} else {
			r = 0;
		}
		if (r != 0)
			sbuf_printf(&p->warnings, "Warning: skipped %s: %s\n", path,
			    le.msg);
		free(path);
	}
	*out = p;
	p = NULL;
	rc = 0;
out:
	storage_list_free(names);
	pki_close(p);
	return rc;
}

void
pki_close(struct pki *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nkeys; i++)
		pki_keyrec_free(p->keys[i]);
	free(p->keys);
	for (size_t i = 0; i < p->ncerts; i++)
		pki_certrec_free(p->certs[i]);
	free(p->certs);
	sk_X509_pop_free(p->cas, X509_free);
	sbuf_free(&p->warnings);
	free(p);
}

const char *
pki_load_warnings(const struct pki *p)
{
	return sbuf_str(&p->warnings);
}

/* ---- flash:/pki/public ---------------------------------------------- */

int
pki_public_read(struct pki *p, const char *name, unsigned char **data, size_t *len,
    struct pk_err *e)
{
	struct stat sb;
	char *path;
	int rc;

	*data = NULL;
	*len = 0;
	/* Checked before any file system access (DESIGN.md: bare names only). */
	if (name == NULL || !storage_name_ok(name, e))
		return -1;
	path = storage_path(storage_public_dir(p->st), name);
	if (lstat(path, &sb) != 0 && errno == ENOENT) {
		free(path);
		return pk_err_set(e, "The file %s does not exist in flash:/pki/public.",
		    name);
	}
	rc = storage_read(path, PKI_FILE_MAX, data, len, e);
	free(path);
	return rc;
}
