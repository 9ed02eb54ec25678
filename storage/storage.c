/*
 * storage: flash root, atomic file writes, bare-name checks, sealed secrets.
 * Contract in storage.h.
 */
#include "storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define SEAL_KEY_FILE "seal.key"
#define TMP_INFIX ".tmp-"	/* PATH.tmp-PID-XXXXXX: an atomic write's temp file */
#define SEAL_KEY_LEN 32
#define SEAL_IV_LEN 12
#define SEAL_TAG_LEN 16
#define SEAL_AAD "pkish-sealed-secret-v1"

struct storage {
	char *root;
	char *pub;
	char *store;
	unsigned char key[SEAL_KEY_LEN];
	/* AES-256-GCM, fetched from the provider at the first seal or unseal
	 * (not at start: a start that touches no secret does not initialise
	 * libcrypto), then reused: a saved configuration checks one sealed
	 * secret per CMP session */
	_Atomic(EVP_CIPHER *) gcm;
};

/* The sealing cipher (borrowed), or NULL. Any thread may ask first. */
static const EVP_CIPHER *
seal_cipher(struct storage *st)
{
	EVP_CIPHER *c = atomic_load(&st->gcm), *fresh;

	if (c != NULL)
		return c;
	if ((fresh = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL)) == NULL)
		return NULL;
	if (atomic_compare_exchange_strong(&st->gcm, &c, fresh))
		return fresh;
	EVP_CIPHER_free(fresh);	/* another thread's is there: C */
	return c;
}

static int
mkdir_mode(const char *path, mode_t mode, int enforce, struct pk_err *e)
{
	struct stat sb;

	if (mkdir(path, mode) != 0 && errno != EEXIST)
		return pk_err_set(e, "cannot create %s: %s", path, strerror(errno));
	if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
		return pk_err_set(e, "%s is not a directory", path);
	if (enforce && (sb.st_mode & 07777) != mode && chmod(path, mode) != 0)
		return pk_err_set(e, "cannot set mode of %s: %s", path, strerror(errno));
	return 0;
}

static int
load_seal_key(struct storage *st, struct pk_err *e)
{
	char *path = storage_path(st->store, SEAL_KEY_FILE);
	unsigned char *data = NULL;
	size_t len = 0;
	int rc = -1;

	if (access(path, F_OK) != 0) {
		if (RAND_priv_bytes(st->key, sizeof(st->key)) != 1) {
			pk_err_ossl(e, "cannot create the sealing key");
			goto out;
		}
		rc = storage_write_atomic(path, st->key, sizeof(st->key), 0600, e);
		goto out;
	}
	if (storage_read(path, 1024, &data, &len, e) != 0)
		goto out;
	if (len != SEAL_KEY_LEN) {
		pk_err_set(e, "the sealing key %s is corrupt (%zu bytes)", path, len);
		goto out;
	}
	memcpy(st->key, data, SEAL_KEY_LEN);
	rc = 0;
out:
	if (data != NULL) {
		OPENSSL_cleanse(data, len);
		free(data);
	}
	free(path);
	return rc;
}

/* The writer's pid when NAME is an atomic write's temporary file
 * (NAME.tmp-PID-XXXXXX, as storage_write_atomic makes them), else 0. */
static long
temp_writer(const char *name)
{
	const char *t = strstr(name, TMP_INFIX), *q;
	char *end;
	long pid;

	if (t == NULL)
		return 0;
	q = t + strlen(TMP_INFIX);
	if (*q < '1' || *q > '9')
		return 0;
	errno = 0;
	pid = strtol(q, &end, 10);
	if (*end != '-' || strlen(end + 1) != 6 || errno != 0 || pid <= 0)
		return 0;
	return pid;
}

int
storage_is_temp(const char *name)
{
	return temp_writer(name) != 0;
}

/*
 * Removes from DIR the temporary files of atomic writes whose writer is gone
 * (killed between mkstemp and rename: the file it was replacing is intact).
 * A temp file of a live process (another pkish on the same flash, writing
 * now) is left alone; so is any other file. Returns the number removed.
 */
int
storage_sweep_temps(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		long pid = temp_writer(de->d_name);

		if (pid == 0 || pid == (long)getpid())
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;	/* alive (or not ours to ask): leave it */
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	return n;
}

int
storage_open(struct storage **out, const char *root, struct pk_err *e)
{
	struct storage *st = xcalloc(1, sizeof(*st));
	char *pki;

	*out = NULL;
	st->root = xstrdup(root);
	pki = storage_path(root, "pki");
	st->pub = storage_path(pki, "public");
	st->store = storage_path(pki, ".store");
	if (mkdir_mode(root, 0755, 0, e) != 0 || mkdir_mode(pki, 0755, 0, e) != 0 ||
	    mkdir_mode(st->pub, 0755, 0, e) != 0 ||
	    mkdir_mode(st->store, 0700, 1, e) != 0 || load_seal_key(st, e) != 0) {
		free(pki);
		storage_close(st);
		return -1;
	}
	free(pki);
	/* what a kill during a write left behind */
	storage_sweep_temps(st->root);
	storage_sweep_temps(st->pub);
	storage_sweep_temps(st->store);
	*out = st;
	return 0;
}

void
storage_close(struct storage *st)
{
	if (st == NULL)
		return;
	OPENSSL_cleanse(st->key, sizeof(st->key));
	EVP_CIPHER_free(atomic_load(&st->gcm));
	free(st->root);
	free(st->pub);
	free(st->store);
	free(st);
}

const char *
storage_root(const struct storage *st)
{
	return st->root;
}

const char *
storage_public_dir(const struct storage *st)
{
	return st->pub;
}

const char *
storage_store_dir(const struct storage *st)
{
	return st->store;
}

int
storage_name_ok(const char *name, struct pk_err *e)
{
	size_t n = strlen(name);

	if (n == 0 || n > 255)
		return pk_err_set(e, "The file name must be 1 to 255 characters."), 0;
	if (strcmp(name, ".") == 0 || strstr(name, "..") != NULL)
		return pk_err_set(e, "The file name must not contain \"..\"."), 0;
	if (name[0] == '.')
		return pk_err_set(e, "The file name must not start with \".\"."), 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p == '/' || *p == '\\')
			return pk_err_set(e, "The file name must be a bare name "
			    "in flash:/pki/public (no '/' or '\\')."), 0;
		if (*p < 0x20 || *p == 0x7f)
			return pk_err_set(e, "The file name must not contain "
			    "control characters."), 0;
	}
	return 1;
}

char *
storage_path(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = xmalloc(a + b + 2);

	memcpy(p, dir, a);
	p[a] = '/';
	memcpy(p + a + 1, name, b + 1);
	return p;
}

static int
fsync_dir_of(const char *path)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int fd, rc;

	if (slash == NULL) {
		free(dir);
		dir = xstrdup(".");
	} else if (slash == dir) {
		slash[1] = '\0';
	} else {
		*slash = '\0';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	free(dir);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
storage_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
    struct pk_err *e)
{
	size_t n = strlen(path);
	char *tmp = xmalloc(n + 40);
	const unsigned char *p = data;
	int fd;

	/* the writer's pid in the name: a start can tell a dead writer's
	 * leftover from a live one's write in progress (storage_sweep_temps) */
	snprintf(tmp, n + 40, "%s" TMP_INFIX "%ld-XXXXXX", path, (long)getpid());
	fd = mkstemp(tmp);
	if (fd < 0) {
		pk_err_set(e, "cannot write %s: %s", path, strerror(errno));
		free(tmp);
		return -1;
	}
	if (fchmod(fd, mode) != 0)
		goto fail;
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	free(tmp);
	if (fsync_dir_of(path) != 0)
		return pk_err_set(e, "cannot sync the directory of %s: %s", path,
		    strerror(errno));
	return 0;
fail:
	pk_err_set(e, "cannot write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return -1;
}

int
storage_read(const char *path, size_t max, unsigned char **data, size_t *len,
    struct pk_err *e)
{
	struct stat sb;
	unsigned char *buf = NULL;
	size_t have = 0;
	int fd;

	*data = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return pk_err_set(e, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return pk_err_set(e, "%s is not a regular file", path);
	}
	if ((size_t)sb.st_size > max) {
		close(fd);
		return pk_err_set(e, "%s is too large (%lld bytes, at most %zu)", path,
		    (long long)sb.st_size, max);
	}
	buf = xmalloc((size_t)sb.st_size + 1);
	while (have < (size_t)sb.st_size) {
		ssize_t r = read(fd, buf + have, (size_t)sb.st_size - have);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			pk_err_set(e, "cannot read %s: %s", path, strerror(errno));
			close(fd);
			free(buf);
			return -1;
		}
		if (r == 0)
			break;
		have += (size_t)r;
	}
	close(fd);
	buf[have] = '\0';
	*data = buf;
	*len = have;
	return 0;
}

FILE *
storage_open_read(const char *path, size_t max, struct pk_err *e)
{
	struct stat sb;
	FILE *f;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		pk_err_set(e, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		pk_err_set(e, "%s is not a regular file", path);
		return NULL;
	}
	if ((size_t)sb.st_size > max) {
		close(fd);
		pk_err_set(e, "%s is too large (%lld bytes, at most %zu)", path,
		    (long long)sb.st_size, max);
		return NULL;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		pk_err_set(e, "cannot open %s: %s", path, strerror(errno));
		close(fd);
	}
	return f;
}

int
storage_remove(const char *path, struct pk_err *e)
{
	if (unlink(path) != 0)
		return pk_err_set(e, "cannot delete %s: %s", path, strerror(errno));
	fsync_dir_of(path);
	return 0;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What storage_list skips: hidden files and the temporary files of an atomic
 * write in progress. */
static int
list_skips(const char *name)
{
	return name[0] == '.' || storage_is_temp(name);
}

int
storage_listed(const char *dir, const char *name)
{
	struct stat sb;
	char *p;
	int r;

	if (list_skips(name) || strchr(name, '/') != NULL || name[0] == '\0')
		return 0;
	p = storage_path(dir, name);
	r = lstat(p, &sb) == 0 && S_ISREG(sb.st_mode);
	free(p);
	return r;
}

int
storage_list(const char *dir, char ***names, struct pk_err *e)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0;

	*names = NULL;
	if (d == NULL)
		return pk_err_set(e, "cannot list %s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		char *p;
		struct stat sb;

		if (list_skips(de->d_name))
			continue;
		p = storage_path(dir, de->d_name);
		if (lstat(p, &sb) == 0 && S_ISREG(sb.st_mode)) {
			v = xrealloc(v, (n + 2) * sizeof(*v));
			v[n++] = xstrdup(de->d_name);
		}
		free(p);
	}
	closedir(d);
	if (v == NULL)
		v = xcalloc(1, sizeof(*v));
	v[n] = NULL;
	qsort(v, n, sizeof(*v), cmp_names);
	*names = v;
	return 0;
}

void
storage_list_free(char **names)
{
	if (names == NULL)
		return;
	for (char **p = names; *p; p++)
		free(*p);
	free(names);
}

int
storage_is_sealed(const char *text)
{
	size_t n = strlen(text), pl = strlen(STORAGE_SEAL_PREFIX);

	if (n < 2 * pl + 4 || strncmp(text, STORAGE_SEAL_PREFIX, pl) != 0 ||
	    strcmp(text + n - pl, STORAGE_SEAL_PREFIX) != 0)
		return 0;
	for (size_t i = pl; i < n - pl; i++) {
		char c = text[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '='))
			return 0;
	}
	return (n - 2 * pl) % 4 == 0;
}

int
storage_seal(struct storage *st, const char *plain, char **sealed, struct pk_err *e)
{
	size_t pn = strlen(plain), raw_len = SEAL_IV_LEN + pn + SEAL_TAG_LEN;
	unsigned char *raw = xmalloc(raw_len);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	const EVP_CIPHER *gcm = seal_cipher(st);
	int outl, rc = -1;
	char *b64 = NULL;

	*sealed = NULL;
	if (ctx == NULL || gcm == NULL || RAND_bytes(raw, SEAL_IV_LEN) != 1 ||
	    EVP_EncryptInit_ex(ctx, gcm, NULL, st->key, raw) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &outl, (const unsigned char *)SEAL_AAD,
	    (int)strlen(SEAL_AAD)) != 1 ||
	    EVP_EncryptUpdate(ctx, raw + SEAL_IV_LEN, &outl,
	    (const unsigned char *)plain, (int)pn) != 1 ||
	    EVP_EncryptFinal_ex(ctx, raw + SEAL_IV_LEN + outl, &outl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN,
	    raw + SEAL_IV_LEN + pn) != 1) {
		pk_err_ossl(e, "cannot seal the secret");
		goto out;
	}
	b64 = xmalloc(4 * ((raw_len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)b64, raw, (int)raw_len);
	{
		struct sbuf b = SBUF_INIT;

		sbuf_printf(&b, "%s%s%s", STORAGE_SEAL_PREFIX, b64,
		    STORAGE_SEAL_PREFIX);
		*sealed = sbuf_take(&b);
	}
	rc = 0;
out:
	OPENSSL_cleanse(raw, raw_len);
	free(raw);
	free(b64);
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int
storage_unseal(struct storage *st, const char *sealed, char **plain, struct pk_err *e)
{
	size_t pl = strlen(STORAGE_SEAL_PREFIX), n, raw_cap, raw_len, ct_len;
	unsigned char *raw = NULL;
	EVP_CIPHER_CTX *ctx = NULL;
	char *out = NULL;
	int outl, rc = -1, dec;

	*plain = NULL;
	if (!storage_is_sealed(sealed))
		return pk_err_set(e, "not a sealed secret (expected %s...%s)",
		    STORAGE_SEAL_PREFIX, STORAGE_SEAL_PREFIX);
	n = strlen(sealed) - 2 * pl;
	raw_cap = n / 4 * 3 + 3;
	raw = xmalloc(raw_cap);
	dec = EVP_DecodeBlock(raw, (const unsigned char *)sealed + pl, (int)n);
	if (dec < 0) {
		pk_err_set(e, "the sealed secret is not valid base64");
		goto out;
	}
	raw_len = (size_t)dec;
	/* EVP_DecodeBlock counts padding bytes as output; remove them. */
	if (n >= 1 && sealed[pl + n - 1] == '=')
		raw_len--;
	if (n >= 2 && sealed[pl + n - 2] == '=')
		raw_len--;
	if (raw_len < SEAL_IV_LEN + SEAL_TAG_LEN) {
		pk_err_set(e, "the sealed secret is truncated");
		goto out;
	}
	ct_len = raw_len - SEAL_IV_LEN - SEAL_TAG_LEN;
	out = xmalloc(ct_len + 1);
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL || seal_cipher(st) == NULL ||
	    EVP_DecryptInit_ex(ctx, seal_cipher(st), NULL, st->key, raw) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &outl, (const unsigned char *)SEAL_AAD,
	    (int)strlen(SEAL_AAD)) != 1 ||
	    EVP_DecryptUpdate(ctx, (unsigned char *)out, &outl, raw + SEAL_IV_LEN,
	    (int)ct_len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN,
	    raw + SEAL_IV_LEN + ct_len) != 1 ||
	    EVP_DecryptFinal_ex(ctx, (unsigned char *)out + outl, &outl) != 1) {
		ERR_clear_error();
		pk_err_set(e, "the sealed secret failed authentication "
		    "(tampered, or sealed on another device)");
		OPENSSL_cleanse(out, ct_len + 1);
		free(out);
		out = NULL;
		goto out;
	}
	out[ct_len] = '\0';
	if (strlen(out) != ct_len) {
		pk_err_set(e, "the sealed secret contains a NUL byte");
		storage_wipe_free(out);
		out = NULL;
		goto out;
	}
	*plain = out;
	rc = 0;
out:
	if (raw != NULL) {
		OPENSSL_cleanse(raw, raw_cap);
		free(raw);
	}
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

void
storage_wipe_free(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}
