/*
 * General console commands (schemas/system.xml): views, display of the
 * configuration and version, save, dir; the system view's binding (the sysname
 * names the device in the prompts). Also the "public-file" object kind (files in
 * flash:/pki/public, for Tab and existence checks).
 */
#include <dirent.h>
#include <histedit.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <libxml/xmlversion.h>

#include "../storage/storage.h"
#include "cli_int.h"

/* The system view, typed: the sysname names the device in every prompt. */
struct sys_cfg {
	const char *sysname;
};

static const struct cli_binding sys_fields[] = {
	{ "sysname", "name", CLI_BIND_STR, offsetof(struct sys_cfg, sysname) },
};

static void
sys_apply(void *arg, const char *key, const void *obj)
{
	const struct sys_cfg *cfg = obj;

	(void)key;
	cli_set_hostname(arg, cfg != NULL ? cfg->sysname : NULL);
}

static const struct cli_view_binding sys_view = {
	"system", sys_fields, 1, sizeof(struct sys_cfg), NULL, sys_apply,
};

#ifndef PKISH_VERSION
#error "PKISH_VERSION comes from the Makefile (the file VERSION)"
#endif

static int
h_system_view(struct cli *c, const struct cli_args *a)
{
	(void)a;
	cli_out(c, " Enter system view, return user view with Ctrl+Z.\n");
	cli_view_set(c, "system");
	return 0;
}

static int
h_quit(struct cli *c, const struct cli_args *a)
{
	(void)a;
	if (strcmp(c->view->name, "user") == 0)
		cli_leave(c);	/* unsaved changes: asked at a terminal */
	return cli_view_up(c);
}

static int
h_return(struct cli *c, const struct cli_args *a)
{
	(void)a;
	cli_view_set(c, "user");
	return 0;
}

static int
h_display_current(struct cli *c, const struct cli_args *a)
{
	struct sbuf b = SBUF_INIT;

	(void)a;
	cfg_render(c->root, 1, &b);
	cli_write(c, sbuf_str(&b));
	sbuf_free(&b);
	return 0;
}

static int
h_display_this(struct cli *c, const struct cli_args *a)
{
	struct sbuf b = SBUF_INIT;

	(void)a;
	cfg_render(c->node, 0, &b);
	cli_write(c, sbuf_str(&b));
	sbuf_free(&b);
	return 0;
}

static int
h_display_version(struct cli *c, const struct cli_args *a)
{
	(void)a;
	cli_out(c, "pkish version %s\n", PKISH_VERSION);
	cli_out(c, "  OpenSSL : %s\n", pk_openssl_version());
	cli_out(c, "  libedit : %d.%d\n", LIBEDIT_MAJOR, LIBEDIT_MINOR);
	cli_out(c, "  libxml2 : %s\n", LIBXML_DOTTED_VERSION);
	return 0;
}

static int
h_save(struct cli *c, const struct cli_args *a)
{
	const char *file = cli_arg(a, "file");
	struct pk_err e;

	if (file == NULL)
		file = "vrpcfg.cfg";
	if (strlen(file) < 5 || strcmp(file + strlen(file) - 4, ".cfg") != 0)
		return cli_error(c, "The file name must end with \".cfg\".");
	if (!storage_name_ok(file, &e))
		return cli_error(c, "%s", e.msg);
	if (c->interactive && !cli_confirm(c, "The current configuration will be "
	    "written to the device.\nAre you sure to continue?[Y/N]", 1))
		return 0;
	return cli_save(c, file);
}

static void
thousands(char *buf, size_t n, long long v)
{
	char raw[32];
	size_t len, o = 0;

	snprintf(raw, sizeof(raw), "%lld", v);
	len = strlen(raw);
	for (size_t i = 0; i < len && o + 2 < n; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = raw[i];
	}
	buf[o] = '\0';
}

static int
h_dir(struct cli *c, const struct cli_args *a)
{
	const char *path = cli_arg(a, "path");
	const char *shown;
	char *dir;
	struct dirent **ents = NULL;
	int n, idx = 0, files = 0;

	if (path == NULL || strcmp(path, "flash:") == 0 || strcmp(path, "flash:/") == 0) {
		dir = xstrdup(storage_root(c->st));
		shown = "flash:/";
	} else if (strcmp(path, "flash:/pki/public/") == 0 ||
	    strcmp(path, "flash:/pki/public") == 0) {
		dir = xstrdup(storage_public_dir(c->st));
		shown = "flash:/pki/public/";
	} else if (strcmp(path, "flash:/pki/") == 0 || strcmp(path, "flash:/pki") == 0) {
		dir = storage_path(storage_root(c->st), "pki");
		shown = "flash:/pki/";
	} else {
		return cli_error(c, "The directory %s does not exist.", path);
	}
	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0) {
		free(dir);
		return cli_error(c, "Cannot read the directory %s.", shown);
	}
	cli_out(c, "Directory of %s\n\n", shown);
	cli_out(c, "  Idx  Attr     Size(Byte)  Date        Time      FileName\n");
	for (int i = 0; i < n; i++) {
		struct stat sb;
		char *p, size[32], date[32];
		struct tm tm;

		if (ents[i]->d_name[0] == '.' || storage_is_temp(ents[i]->d_name)) {
			free(ents[i]);
			continue;
		}
		p = storage_path(dir, ents[i]->d_name);
		if (stat(p, &sb) == 0) {
			localtime_r(&sb.st_mtime, &tm);
			strftime(date, sizeof(date), "%b %d %Y %H:%M:%S", &tm);
			thousands(size, sizeof(size), (long long)sb.st_size);
			cli_out(c, "  %3d  %s  %12s  %s  %s\n", idx++,
			    S_ISDIR(sb.st_mode) ? "drw-" : "-rw-",
			    S_ISDIR(sb.st_mode) ? "-" : size, date, ents[i]->d_name);
			if (!S_ISDIR(sb.st_mode))
				files++;
		}
		free(p);
		free(ents[i]);
	}
	free(ents);
	free(dir);
	if (idx == 0)
		cli_out(c, "  No file found.\n");
	cli_out(c, "\nTotal: %d file(s)\n", files);
	return 0;
}

static char **
list_public(void *arg)
{
	struct cli *c = arg;
	char **names = NULL;

	if (storage_list(storage_public_dir(c->st), &names, NULL) != 0)
		return xcalloc(1, sizeof(char *));
	return names;
}

/* File names are case-sensitive: a case-insensitive check asks the list. */
static int
public_exists(void *arg, const char *name, int nocase)
{
	struct cli *c = arg;

	if (nocase)
		return -1;
	return storage_listed(storage_public_dir(c->st), name);
}

static void
missing_public(void *arg, const char *name, struct sbuf *msg)
{
	(void)arg;
	sbuf_printf(msg, "The file %s does not exist in flash:/pki/public.", name);
}

void
cli_sys_init(struct cli *c)
{
	cli_install_view(c, &sys_view, c);
	cli_install_handler(c, "system_view", h_system_view);
	cli_install_handler(c, "quit", h_quit);
	cli_install_handler(c, "return", h_return);
	cli_install_handler(c, "display_current", h_display_current);
	cli_install_handler(c, "display_this", h_display_this);
	cli_install_handler(c, "display_version", h_display_version);
	cli_install_handler(c, "save", h_save);
	cli_install_handler(c, "dir", h_dir);
	cli_install_object(c, "public-file", list_public, public_exists, missing_public,
	    c);
}
