#include "cli/cli.h"
#include "common/alloc.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

wp_cli_values wp_opts;

const wp_opt wp_global_opts[] = {
	WP_VALUE("store", 0, "DIR", "the local store (env WASMPACK_STORE; default $XDG_DATA_HOME/wasmpack)", "@dir",
		 &wp_opts.store),
	WP_VALUE("format", 0, "FORMAT", "output format: text or json", "text json", &wp_opts.format),
	WP_FLAG("quiet", 'q', "print only errors and the requested data", &wp_opts.quiet),
	WP_FLAG("verbose", 'v', "print what is being done", &wp_opts.verbose),
	WP_FLAG("no-progress", 0, "never draw progress on stderr", &wp_opts.no_progress),
	WP_FLAG("help", 'h', "show help for the command", &wp_opts.help),
	{ 0 },
};

/* The i-th option the command takes, counting its own, then the global ones; NULL past
 * the last. */
static const wp_opt *opt_at(const wp_cmd *cmd, size_t i)
{
	size_t own = 0;

	while (cmd->opts && cmd->opts[own].name)
		own++;
	if (i < own)
		return &cmd->opts[i];
	return wp_global_opts[i - own].name ? &wp_global_opts[i - own] : NULL;
}

static const wp_opt *find_long(const wp_cmd *cmd, const char *name)
{
	const wp_opt *o;

	for (size_t i = 0; (o = opt_at(cmd, i)); i++)
		if (!strcmp(o->name, name))
			return o;
	return NULL;
}

static const wp_opt *find_short(const wp_cmd *cmd, char c)
{
	const wp_opt *o;

	for (size_t i = 0; (o = opt_at(cmd, i)); i++)
		if (o->short_name == c)
			return o;
	return NULL;
}

/* Every field the command's options are bound to, back to its default. */
static void reset_values(const wp_cmd *cmd)
{
	const wp_opt *o;

	for (size_t i = 0; (o = opt_at(cmd, i)); i++)
		switch (o->kind) {
		case WP_OPT_FLAG: *o->to.flag = false; break;
		case WP_OPT_VALUE: *o->to.value = NULL; break;
		case WP_OPT_LIST: wp_strv_release(o->to.list); break;
		case WP_OPT_INT: *o->to.num = 0; break;
		}
}

/* The one place option values are parsed: each into its field, an integer in its range. */
static int set_value(wp_cli *cli, const wp_opt *o, const char *val)
{
	char *end;
	long n;

	switch (o->kind) {
	case WP_OPT_FLAG:
		*o->to.flag = true;
		return 0;
	case WP_OPT_VALUE:
		*o->to.value = val;
		return 0;
	case WP_OPT_LIST:
		wp_strv_push(o->to.list, val);
		return 0;
	case WP_OPT_INT:
		errno = 0;
		n = strtol(val, &end, 10);
		if (end == val || *end || errno || n < o->min || n > o->max)
			return wp_error_set(&cli->err, WP_EUSAGE, "--%s '%s': want a number from %ld to %ld", o->name, val, o->min,
					    o->max);
		*o->to.num = n;
		return 0;
	}
	return 0;
}

/* "; did you mean '--format'?" for a mistyped long option, or "". */
static const char *did_you_mean(const wp_cmd *cmd, const char *name, char *buf, size_t bufsz)
{
	const char *names[128], *hit;
	const wp_opt *o;
	size_t n = 0;

	while (n < WP_ARRAY_LEN(names) && (o = opt_at(cmd, n)))
		names[n++] = o->name;
	hit = wp_str_closest(name, names, n);
	if (!hit)
		return "";
	snprintf(buf, bufsz, "; did you mean '--%s'?", hit);
	return buf;
}

/* "--name[=value]" at argv[*i] (taking the next word as its value when it needs one). */
static int parse_long(wp_cli *cli, int argc, char **argv, int *i)
{
	_cleanup_free_ char *name = wp_xstrdup(argv[*i] + 2);
	char *eq = strchr(name, '=');
	const wp_opt *o;
	char hint[96];

	if (eq)
		*eq = '\0';
	if (!(o = find_long(cli->cmd, name)))
		return wp_error_set(&cli->err, WP_EUSAGE, "%s: unknown option '--%s'%s", cli->cmd->name, name,
				    did_you_mean(cli->cmd, name, hint, sizeof(hint)));
	if (o->kind == WP_OPT_FLAG)
		return eq ? wp_error_set(&cli->err, WP_EUSAGE, "option '--%s' takes no value", name) : set_value(cli, o, NULL);
	if (eq)
		return set_value(cli, o, argv[*i] + 2 + (eq - name) + 1);
	if (*i + 1 < argc)
		return set_value(cli, o, argv[++*i]);
	return wp_error_set(&cli->err, WP_EUSAGE, "option '--%s' needs a value (%s)", name, o->metavar);
}

/* "-abc" or "-oVALUE" at argv[*i]. */
static int parse_short(wp_cli *cli, int argc, char **argv, int *i)
{
	for (const char *c = argv[*i] + 1; *c; c++) {
		const wp_opt *o = find_short(cli->cmd, *c);

		if (!o)
			return wp_error_set(&cli->err, WP_EUSAGE, "%s: unknown option '-%c'", cli->cmd->name, *c);
		if (o->kind == WP_OPT_FLAG) {
			set_value(cli, o, NULL);
			continue;
		}
		if (c[1])
			return set_value(cli, o, c + 1);
		if (*i + 1 < argc)
			return set_value(cli, o, argv[++*i]);
		return wp_error_set(&cli->err, WP_EUSAGE, "option '-%c' needs a value (%s)", *c, o->metavar);
	}
	return 0;
}

int wp_cli_parse(wp_cli *cli, const wp_cmd *cmd, int argc, char **argv)
{
	bool operands_only = false;
	int rc;

	cli->cmd = cmd;
	reset_values(cmd);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (operands_only || a[0] != '-' || !a[1])
			wp_strv_push(&cli->args, a);
		else if (!strcmp(a, "--")) {
			operands_only = true;
			cli->args_before_dashdash = cli->args.len;
		}
		else if ((rc = a[1] == '-' ? parse_long(cli, argc, argv, &i) : parse_short(cli, argc, argv, &i)) < 0)
			return rc;
	}
	if (!operands_only)
		cli->args_before_dashdash = cli->args.len;
	if (wp_opts.help)
		return 0;
	if (wp_opts.format && strcmp(wp_opts.format, "json") && strcmp(wp_opts.format, "text"))
		return wp_error_set(&cli->err, WP_EUSAGE, "--format '%s': use text or json", wp_opts.format);
	cli->json = wp_opts.format && !strcmp(wp_opts.format, "json");
	cli->verbosity = wp_opts.quiet ? 0 : wp_opts.verbose ? 2 : 1;
	cli->progress = !wp_opts.no_progress && cli->verbosity > 0;
	cli->store_root = wp_opts.store;
	if ((int)cli->args.len < cmd->min_args)
		return wp_error_set(&cli->err, WP_EUSAGE, "%s: missing operand: wasmpack %s %s", cmd->name, cmd->name, cmd->args);
	if (cmd->max_args >= 0 && (int)cli->args.len > cmd->max_args)
		return wp_error_set(&cli->err, WP_EUSAGE, "%s: unexpected operand '%s'", cmd->name,
				    cli->args.items[cmd->max_args]);
	return 0;
}

bool wp_cli_opt_given(const wp_opt *o)
{
	switch (o->kind) {
	case WP_OPT_FLAG: return *o->to.flag;
	case WP_OPT_VALUE: return *o->to.value != NULL;
	case WP_OPT_LIST: return o->to.list->len > 0;
	case WP_OPT_INT: return *o->to.num != 0;
	}
	return false;
}

void wp_cli_release(wp_cli *cli)
{
	if (cli->cmd)
		reset_values(cli->cmd);
	wp_strv_release(&cli->args);
}

/* "--verbose" for "-v" before the command: a global's short name in its long form (run
 * has a -v of its own, docker's volume); anything else as it is. */
static const char *long_name(const char *arg)
{
	static char longs[16][40];
	static size_t used;

	if (arg[0] != '-' || arg[1] == '-' || !arg[1] || arg[2])
		return arg;
	for (const wp_opt *o = wp_global_opts; o->name; o++)
		if (o->short_name == arg[1] && o->kind == WP_OPT_FLAG && used < WP_ARRAY_LEN(longs)) {
			snprintf(longs[used], sizeof(longs[used]), "--%s", o->name);
			return longs[used++];
		}
	return arg;
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
	for (int k = 1; k < i; k++)         /* the global options, short ones by their long name: */
		out[n++] = (char *)long_name(argv[k]); /* a command's own -v is not --verbose */
	for (int k = i + 1; k < argc; k++)  /* the rest, as given */
		out[n++] = argv[k];
	return out;
}
