/*
 * libFuzzer target: the startup configuration loader. Each input is the text of
 * flash:/vrpcfg.cfg, loaded through cli_load_config() (cli.h), the entry point
 * pkish uses at start: lines split at newlines, comments and blank lines
 * skipped, every other line run from the system view, failures reported with
 * their line numbers. Build with `make fuzz`; run build/fuzz/fuzz_config.
 *
 * One session serves every input (building one loads and validates the grammar,
 * which would make the target a hundred times slower); after each input the
 * configuration is undone (`undo` of every top-level line of `display
 * current-configuration`, until nothing is left), and when the input left key
 * pairs or certificates in the store, the session and its flash are made anew,
 * so each input starts from an empty device.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../cli/cli_int.h"

static const cli_feature_fn features[] = {
	cli_sys_init, cli_pki_init, cli_cmp_init, NULL,
};
static struct cli *c;
/* the flash in memory when there is a tmpfs: the store's writes fsync, which on
 * a disk would make the target a few times slower */
static char dir[] = "/dev/shm/pkish-fuzzcfg.XXXXXX";
static char cfg[sizeof(dir) + 16];
static FILE *devnull;

static void
rm_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char p[4096];

	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
			rm_tree(p);
		}
		closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

/* at exit (libFuzzer and the replay program end with exit()): the flash goes */
static void
rm_dir(void)
{
	rm_tree(dir);
}

static void
session_new(void)
{
	struct cli_options o = { 0 };
	struct pk_err e;

	o.flash = dir;
	o.schemas = getenv("PKISH_SCHEMA_DIR") ? getenv("PKISH_SCHEMA_DIR") :
	    PKISH_SCHEMA_DIR;
	o.no_startup = 1;
	o.features = features;
	if (cli_new(&c, &o, &e) != 0) {
		fprintf(stderr, "fuzz_config: %s\n", e.msg);
		abort();
	}
	c->out = devnull;
}

static void
setup(void)
{
	if (mkdtemp(dir) == NULL) {	/* no tmpfs: on the disk */
		strcpy(dir, "/tmp/pkish-fuzzcfg.XXXXXX");
		if (mkdtemp(dir) == NULL)
			abort();
	}
	atexit(rm_dir);
	snprintf(cfg, sizeof(cfg), "%s/vrpcfg.cfg", dir);
	if ((devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	session_new();
}

/* 1 when the store holds a key pair or a certificate. */
static int
store_used(void)
{
	char p[sizeof(dir) + 16];
	DIR *d;
	struct dirent *de;
	int used = 0;

	snprintf(p, sizeof(p), "%s/pki/.store", dir);
	if ((d = opendir(p)) == NULL)
		return 1;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "key-", 4) == 0 ||
		    strncmp(de->d_name, "cert-", 5) == 0)
			used = 1;
	closedir(d);
	return used;
}

/* Undoes the configuration: `undo LINE` (else `undo WORD`) for every top-level
 * line of the rendered configuration, last first, a few rounds (a session
 * holds its entity). 0 when nothing is left. */
static int
undo_all(void)
{
	for (int round = 0; round < 4; round++) {
		struct sbuf r = SBUF_INIT, cmd = SBUF_INIT;
		char *lines[512];
		int n = 0, left;

		cli_config_render(c, &r);
		for (char *l = r.s, *nl; l != NULL && *l; l = nl ? nl + 1 : NULL) {
			nl = strchr(l, '\n');
			if (nl != NULL)
				*nl = '\0';
			if (*l != ' ' && *l != '#' && strcmp(l, "return") != 0 &&
			    n < (int)(sizeof(lines) / sizeof(lines[0])))
				lines[n++] = l;
		}
		left = n;
		cli_view_set(c, "system");
		for (int i = n - 1; i >= 0; i--) {
			sbuf_reset(&cmd);
			sbuf_printf(&cmd, "undo %s", lines[i]);
			if (cli_exec(c, sbuf_str(&cmd)) == 0) {
				left--;
				continue;
			}
			sbuf_reset(&cmd);
			sbuf_printf(&cmd, "undo %.*s", (int)strcspn(lines[i], " "),
			    lines[i]);
			if (cli_exec(c, sbuf_str(&cmd)) == 0)
				left--;
		}
		cli_view_set(c, "user");
		sbuf_free(&r);
		sbuf_free(&cmd);
		if (left == 0)
			return 0;
	}
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f;

	if (c == NULL)
		setup();
	if (size > 256 * 1024)
		return 0;
	if ((f = fopen(cfg, "wb")) == NULL)
		abort();
	if (fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	cli_load_config(c, cfg, "flash:/vrpcfg.cfg");
	c->done = 0;
	/* the next input starts from an empty device */
	if (undo_all() != 0 || store_used()) {
		cli_free(c);
		rm_tree(dir);
		if (mkdir(dir, 0700) != 0)
			abort();
		session_new();
	}
	return 0;
}
