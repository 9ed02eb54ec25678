/*
 * storage: the device's flash.
 *
 * The flash root is a directory (default ./flash). Layout:
 *   ROOT/vrpcfg.cfg        saved configuration
 *   ROOT/pki/public/       certificate files (operator-visible, flash:/pki/public/)
 *   ROOT/pki/.store/       device store, 0700: keys (0600), certificates, sealing key
 *
 * Every write is atomic: a temp file in the same directory, fsync, rename, fsync of
 * the directory, so a crash leaves the old or the new file, never a torn one.
 * Names given at the console are bare names inside pki/public: storage_name_ok()
 * rejects anything that could escape it before the file system is touched.
 *
 * Secrets are sealed with AES-256-GCM under a 256-bit device key kept in the store
 * (created on first open) and written as "%^%#<base64(iv|ciphertext|tag)>%^%#".
 *
 * storage knows nothing of PKI. Returns: 0 success, -1 failure with *e filled.
 */
#ifndef PKISH_STORAGE_H
#define PKISH_STORAGE_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "../util/util.h"

#define STORAGE_MAX_FILE (16u * 1024 * 1024)	/* cap on any file we read */
#define STORAGE_SEAL_PREFIX "%^%#"

struct storage;

/* Opens (creating as needed) the flash root ROOT with pki/public (0755) and
 * pki/.store (0700, mode enforced). Creates the sealing key on first use.
 * Removes the temporary files that killed writers left in the three places
 * (storage_sweep_temps). */
int storage_open(struct storage **out, const char *root, struct pk_err *e);
void storage_close(struct storage *st);
/* Removes DIR's temporary files of atomic writes whose writer process is gone
 * (a live writer's are left alone); returns how many. */
int storage_sweep_temps(const char *dir);
/* 1 when NAME is the temporary file of an atomic write (NAME.tmp-PID-XXXXXX),
 * which listings hide; any other name, "notes.tmp" too, is an ordinary file. */
int storage_is_temp(const char *name);

const char *storage_root(const struct storage *st);
/* Absolute-or-relative paths of the three places; borrowed strings. */
const char *storage_public_dir(const struct storage *st);
const char *storage_store_dir(const struct storage *st);

/* 1 if NAME is a valid bare file name for flash:/pki/public: 1..255 bytes, no '/',
 * not "." or "..", no "..", no control characters, no backslash. Else 0 and *e
 * says why (e may be NULL). */
int storage_name_ok(const char *name, struct pk_err *e);

/* A new string "DIR/NAME" (free it). NAME must already be validated. */
char *storage_path(const char *dir, const char *name);

/* Atomically replaces PATH with DATA (temp file PATH.tmp-PID-XXXXXX + fsync +
 * rename + dir fsync). */
int storage_write_atomic(const char *path, const void *data, size_t len,
    mode_t mode, struct pk_err *e);
/* Reads a whole regular file of at most MAX bytes into a new buffer (NUL-terminated
 * for convenience; *len excludes the NUL). */
int storage_read(const char *path, size_t max, unsigned char **data, size_t *len,
    struct pk_err *e);
/* Opens a regular file of at most MAX bytes for reading as a stream, with the
 * checks of storage_read (no symbolic link, a regular file, its size), for a
 * caller that reads it line by line rather than whole (a large configuration:
 * no buffer of its size to fault in). fclose() it. */
FILE *storage_open_read(const char *path, size_t max, struct pk_err *e);
/* Removes PATH and fsyncs its directory. A missing file is an error. */
int storage_remove(const char *path, struct pk_err *e);

/* Regular files of DIR in name order. *names is a NULL-terminated array; free with
 * storage_list_free(). Hidden files (leading '.') and temp files are skipped. */
int storage_list(const char *dir, char ***names, struct pk_err *e);
void storage_list_free(char **names);
/* 1 when storage_list(DIR) would list NAME (one lstat, no listing), else 0. */
int storage_listed(const char *dir, const char *name);

/* Seals PLAIN into "%^%#...%^%#" (a new string). Each call uses a fresh IV. */
int storage_seal(struct storage *st, const char *plain, char **sealed,
    struct pk_err *e);
/* Opens the sealed form; a tampered, truncated or foreign cipher text is an error
 * ("authentication failed"), never garbage. *plain is a new string; wipe with
 * storage_wipe_free(). */
int storage_unseal(struct storage *st, const char *sealed, char **plain,
    struct pk_err *e);
/* 1 when TEXT has the sealed shape (prefix, base64, suffix). Does not decrypt. */
int storage_is_sealed(const char *text);
/* Zeroes then frees a NUL-terminated secret. Accepts NULL. */
void storage_wipe_free(char *s);

#endif
