#include "cli/cli.h"
#include "common/alloc.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const wp_opt wp_global_opts[] = {
	{ "store", 0, WP_OPT_VALUE, "DIR", "the local store (env WASMPACK_STORE; default $XDG_DATA_HOME/wasmpack)", "@dir" },
	{ "format", 0, WP_OPT_VALUE, "FORMAT", "output format: text or json", "text json" },
	{ "quiet", 'q', WP_OPT_FLAG, NULL, "print only errors and the requested data", NULL },
	{ "verbose", 'v', WP_OPT_FLAG, NULL, "print what is being done", NULL },
	{ "no-progress", 0, WP_OPT_FLAG, NULL, "never draw progress on stderr", NULL },
	{ "help", 'h', WP_OPT_FLAG, NULL, "show help for the command", NULL },
	{ 0 },
};

static size_t count_opts(const wp_opt *o)
{
	size_t n = 0;

	while (o && o[n].name)
		n++;
	return n;
}

static wp_opt_value *find_val(const wp_cli *cli, const char *name)
{
	for (size_t i = 0; i < cli->n_vals; i++)
		if (!strcmp(cli->vals[i].opt->name, name))
			return &cli->vals[i];
	return NULL;
}

static wp_opt_value *find_short(const wp_cli *cli, char c)
{
	for (size_t i = 0; i < cli->n_vals; i++)
		if (cli->vals[i].opt->short_name == c)
			return &cli->vals[i];
	return NULL;
}

static int set_value(wp_opt_value *v, const char *val)
{
	if (v->opt->kind == WP_OPT_FLAG) {
		v->set = true;
		return 0;
	}
	if (v->opt->kind == WP_OPT_VALUE && v->values.len) {
		free(v->values.items[0]);
		v->values.items[0] = wp_xstrdup(val);
		v->set = true;
		return 0;
	}
	v->set = true;
	wp_strv_push(&v->values, val);
	return 0;
}

/* "; did you mean '--format'?" for a mistyped long option, or "". */
static const char *did_you_mean(const wp_cli *cli, const char *name, char *buf, size_t bufsz)
{
	const char **names = wp_xcalloc(cli->n_vals + 1, sizeof(char *));
	const char *hit;

	for (size_t i = 0; i < cli->n_vals; i++)
		names[i] = cli->vals[i].opt->name;
	hit = wp_str_closest(name, names, cli->n_vals);
	free(names);
	if (!hit)
		return "";
	snprintf(buf, bufsz, "; did you mean '--%s'?", hit);
	return buf;
}

int wp_cli_parse(wp_cli *cli, const wp_cmd *cmd, int argc, char **argv)
{
	size_t ng = count_opts(wp_global_opts), nc = count_opts(cmd->opts);
	bool operands_only = false;
	const char *fmt;

	cli->cmd = cmd;
	cli->vals = wp_xcalloc(ng + nc, sizeof(*cli->vals));
	for (size_t i = 0; i < nc; i++)
		cli->vals[cli->n_vals++].opt = &cmd->opts[i];
	for (size_t i = 0; i < ng; i++)
		cli->vals[cli->n_vals++].opt = &wp_global_opts[i];
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		wp_opt_value *v;
		int rc;

		if (operands_only || a[0] != '-' || !a[1]) {
			wp_strv_push(&cli->args, a);
			continue;
		}
		if (!strcmp(a, "--")) {
			operands_only = true;
			continue;
		}
		if (a[1] == '-') {
			_cleanup_free_ char *name = wp_xstrdup(a + 2);
			char *eq = strchr(name, '=');

			if (eq)
				*eq = '\0';
			v = find_val(cli, name);
			if (!v) {
				char hint[96];

				return wp_error_set(&cli->err, WP_EUSAGE, "%s: unknown option '--%s'%s", cmd->name, name,
						    did_you_mean(cli, name, hint, sizeof(hint)));
			}
			if (v->opt->kind == WP_OPT_FLAG) {
				if (eq)
					return wp_error_set(&cli->err, WP_EUSAGE, "option '--%s' takes no value", name);
				rc = set_value(v, NULL);
			} else if (eq) {
				rc = set_value(v, eq + 1);
			} else if (i + 1 < argc) {
				rc = set_value(v, argv[++i]);
			} else {
				return wp_error_set(&cli->err, WP_EUSAGE, "option '--%s' needs a value (%s)", name, v->opt->metavar);
			}
			if (rc < 0)
				return rc;
			continue;
		}
		for (const char *c = a + 1; *c; c++) {
			v = find_short(cli, *c);
			if (!v)
				return wp_error_set(&cli->err, WP_EUSAGE, "%s: unknown option '-%c'", cmd->name, *c);
			if (v->opt->kind == WP_OPT_FLAG) {
				set_value(v, NULL);
				continue;
			}
			if (c[1])
				rc = set_value(v, c + 1);
			else if (i + 1 < argc)
				rc = set_value(v, argv[++i]);
			else
				return wp_error_set(&cli->err, WP_EUSAGE, "option '-%c' needs a value (%s)", *c, v->opt->metavar);
			if (rc < 0)
				return rc;
			break;
		}
	}
	if (wp_cli_flag(cli, "help"))
		return 0;
	fmt = wp_cli_value(cli, "format");
	if (fmt && strcmp(fmt, "json") && strcmp(fmt, "text"))
		return wp_error_set(&cli->err, WP_EUSAGE, "--format '%s': use text or json", fmt);
	cli->json = fmt && !strcmp(fmt, "json");
	cli->verbosity = wp_cli_flag(cli, "quiet") ? 0 : wp_cli_flag(cli, "verbose") ? 2 : 1;
	cli->progress = !wp_cli_flag(cli, "no-progress") && cli->verbosity > 0;
	cli->store_root = wp_cli_value(cli, "store");
	if ((int)cli->args.len < cmd->min_args)
		return wp_error_set(&cli->err, WP_EUSAGE, "%s: missing operand: wasmpack %s %s", cmd->name, cmd->name, cmd->args);
	if (cmd->max_args >= 0 && (int)cli->args.len > cmd->max_args)
		return wp_error_set(&cli->err, WP_EUSAGE, "%s: unexpected operand '%s'", cmd->name,
				    cli->args.items[cmd->max_args]);
	return 0;
}

void wp_cli_release(wp_cli *cli)
{
	for (size_t i = 0; i < cli->n_vals; i++)
		wp_strv_release(&cli->vals[i].values);
	free(cli->vals);
	wp_strv_release(&cli->args);
}

const char *wp_cli_value(const wp_cli *cli, const char *name)
{
	wp_opt_value *v = find_val(cli, name);

	return v && v->values.len ? v->values.items[v->values.len - 1] : NULL;
}

const wp_strv *wp_cli_list(const wp_cli *cli, const char *name)
{
	wp_opt_value *v = find_val(cli, name);

	return v ? &v->values : NULL;
}

bool wp_cli_flag(const wp_cli *cli, const char *name)
{
	wp_opt_value *v = find_val(cli, name);

	return v && v->set;
}

/* Global options may come before the command too ("wasmpack --store DIR images"): they
 * are moved to just behind the command name, where every command's parser takes them,
 * and before any operand or "--" (after which they would be the app's arguments). */
char **wp_cli_hoist_globals(int argc, char **argv)
{
	char **out;
	int i = 1, n = 1;

	while (i < argc && argv[i][0] == '-' && argv[i][1] && strcmp(argv[i], "-h") && strcmp(argv[i], "--help") &&
	       strcmp(argv[i], "--version") && strcmp(argv[i], "--")) {
		const char *name = argv[i] + (argv[i][1] == '-' ? 2 : 1);
		bool takes_value = false;

		for (const wp_opt *o = wp_global_opts; o->name; o++)
			if ((argv[i][1] == '-' && !strcmp(name, o->name)) || (argv[i][1] != '-' && name[0] == o->short_name && !name[1]))
				takes_value = o->kind != WP_OPT_FLAG;
		i += takes_value && !strchr(argv[i], '=') ? 2 : 1;
	}
	if (i == 1 || i >= argc)
		return argv;
	out = wp_xcalloc((size_t)argc + 1, sizeof(char *));
	out[0] = argv[0];
	out[n++] = argv[i];                 /* the command */
	for (int k = 1; k < i; k++)         /* the global options */
		out[n++] = argv[k];
	for (int k = i + 1; k < argc; k++)  /* the rest, as given */
		out[n++] = argv[k];
	return out;
}
