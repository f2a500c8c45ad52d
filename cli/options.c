#include "cli/cli.h"
#include "common/util.h"

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

const wp_cmd *wp_cli_find(const char *name)
{
	for (size_t i = 0; wp_commands[i]; i++)
		if (!strcmp(wp_commands[i]->name, name))
			return wp_commands[i];
	return NULL;
}

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
			char *eq = name ? strchr(name, '=') : NULL;

			if (eq)
				*eq = '\0';
			v = find_val(cli, name);
			if (!v)
				return wp_error_set(&cli->err, WP_EUSAGE, "%s: unknown option '--%s'", cmd->name, name);
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

/* ---- help ---- */

static void opt_label(char *buf, size_t sz, const wp_opt *o)
{
	if (o->short_name)
		snprintf(buf, sz, "-%c, --%s%s%s", o->short_name, o->name, o->kind == WP_OPT_FLAG ? "" : " ",
			 o->kind == WP_OPT_FLAG ? "" : o->metavar);
	else
		snprintf(buf, sz, "    --%s%s%s", o->name, o->kind == WP_OPT_FLAG ? "" : " ",
			 o->kind == WP_OPT_FLAG ? "" : o->metavar);
}

static void print_opts(FILE *f, const wp_opt *opts)
{
	for (size_t i = 0; opts && opts[i].name; i++) {
		char label[96];

		opt_label(label, sizeof(label), &opts[i]);
		fprintf(f, "  %-28s %s%s\n", label, opts[i].help, opts[i].kind == WP_OPT_LIST ? " (repeatable)" : "");
	}
}

void wp_cli_print_usage(FILE *f)
{
	fputs("usage: wasmpack COMMAND [OPTIONS] [ARGS]\n\n"
	      "Package WebAssembly apps as OCI images, move them through registries, run them.\n\n"
	      "Commands:\n", f);
	for (size_t i = 0; wp_commands[i]; i++)
		if (!wp_commands[i]->hidden)
			fprintf(f, "  %-12s %s\n", wp_commands[i]->name, wp_commands[i]->summary);
	fputs("\nGlobal options:\n", f);
	print_opts(f, wp_global_opts);
	fputs("\nRun 'wasmpack COMMAND --help' for a command's options.\n"
	      "Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 auth refused, 5 digest/verification failure.\n", f);
}

void wp_cli_print_cmd_help(FILE *f, const wp_cmd *cmd)
{
	fprintf(f, "usage: wasmpack %s [OPTIONS]%s%s\n\n%s\n", cmd->name, cmd->args[0] ? " " : "", cmd->args,
		cmd->summary);
	if (cmd->opts && cmd->opts[0].name) {
		fputs("\nOptions:\n", f);
		print_opts(f, cmd->opts);
	}
	fputs("\nGlobal options:\n", f);
	print_opts(f, wp_global_opts);
}

/* ---- completions ---- */

static void bash_words(FILE *f, const wp_opt *opts)
{
	for (size_t i = 0; opts && opts[i].name; i++) {
		fprintf(f, " --%s", opts[i].name);
		if (opts[i].short_name)
			fprintf(f, " -%c", opts[i].short_name);
	}
}

static void bash_value_cases(FILE *f, const wp_opt *opts)
{
	for (size_t i = 0; opts && opts[i].name; i++) {
		const wp_opt *o = &opts[i];

		if (o->kind == WP_OPT_FLAG)
			continue;
		fprintf(f, "        --%s", o->name);
		if (o->short_name)
			fprintf(f, "|-%c", o->short_name);
		if (!o->complete || !strcmp(o->complete, "@ref"))
			fputs(") return ;;\n", f);
		else if (!strcmp(o->complete, "@file"))
			fputs(") COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n", f);
		else if (!strcmp(o->complete, "@dir"))
			fputs(") COMPREPLY=($(compgen -d -- \"$cur\")); return ;;\n", f);
		else
			fprintf(f, ") COMPREPLY=($(compgen -W \"%s\" -- \"$cur\")); return ;;\n", o->complete);
	}
}

static void print_bash(FILE *f)
{
	fputs("# bash completion for wasmpack; generated by 'wasmpack completion bash'\n"
	      "_wasmpack() {\n"
	      "    local cur prev cmd i\n"
	      "    cur=\"${COMP_WORDS[COMP_CWORD]}\"\n"
	      "    prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
	      "    cmd=\"\"\n"
	      "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
	      "        case \"${COMP_WORDS[i]}\" in -*) ;; *) cmd=\"${COMP_WORDS[i]}\"; break ;; esac\n"
	      "    done\n"
	      "    case \"$prev\" in\n", f);
	bash_value_cases(f, wp_global_opts);
	fputs("    esac\n"
	      "    if [[ -z \"$cmd\" ]]; then\n"
	      "        COMPREPLY=($(compgen -W \"", f);
	for (size_t i = 0; wp_commands[i]; i++)
		if (!wp_commands[i]->hidden)
			fprintf(f, "%s%s", i ? " " : "", wp_commands[i]->name);
	bash_words(f, wp_global_opts);
	fputs("\" -- \"$cur\"))\n"
	      "        return\n"
	      "    fi\n"
	      "    case \"$cmd\" in\n", f);
	for (size_t i = 0; wp_commands[i]; i++) {
		const wp_cmd *c = wp_commands[i];

		if (c->hidden)
			continue;
		fprintf(f, "    %s)\n        case \"$prev\" in\n", c->name);
		bash_value_cases(f, c->opts);
		fputs("        esac\n        if [[ \"$cur\" == -* ]]; then\n            COMPREPLY=($(compgen -W \"", f);
		bash_words(f, c->opts);
		bash_words(f, wp_global_opts);
		fputs("\" -- \"$cur\"))\n", f);
		if (c->args_complete && !strcmp(c->args_complete, "@file"))
			fputs("        else\n            COMPREPLY=($(compgen -f -- \"$cur\"))\n", f);
		else if (c->args_complete && !strcmp(c->args_complete, "@dir"))
			fputs("        else\n            COMPREPLY=($(compgen -d -- \"$cur\"))\n", f);
		else if (c->args_complete && c->args_complete[0] != '@')
			fprintf(f, "        else\n            COMPREPLY=($(compgen -W \"%s\" -- \"$cur\"))\n", c->args_complete);
		fputs("        fi\n        ;;\n", f);
	}
	fputs("    esac\n}\ncomplete -F _wasmpack wasmpack\n", f);
}

static void zsh_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '[' || *s == ']' || *s == ':' || *s == '\'')
			fputc('\\', f);
		fputc(*s, f);
	}
}

static void zsh_opts(FILE *f, const wp_opt *opts)
{
	for (size_t i = 0; opts && opts[i].name; i++) {
		const wp_opt *o = &opts[i];
		const char *action = "";

		if (o->kind != WP_OPT_FLAG) {
			if (!o->complete || !strcmp(o->complete, "@ref"))
				action = " ";
			else if (!strcmp(o->complete, "@file"))
				action = "_files";
			else if (!strcmp(o->complete, "@dir"))
				action = "_files -/";
		}
		fputs("        '", f);
		if (o->kind == WP_OPT_LIST)
			fputc('*', f);
		if (o->short_name)
			fprintf(f, "(-%c --%s)'{-%c,--%s}'", o->short_name, o->name, o->short_name, o->name);
		else
			fprintf(f, "--%s", o->name);
		fputc('[', f);
		zsh_escape(f, o->help);
		fputc(']', f);
		if (o->kind != WP_OPT_FLAG) {
			fprintf(f, ":%s:", o->metavar);
			if (o->complete && o->complete[0] != '@')
				fprintf(f, "(%s)", o->complete);
			else
				fputs(action, f);
		}
		fputs("' \\\n", f);
	}
}

static void print_zsh(FILE *f)
{
	fputs("#compdef wasmpack\n# zsh completion for wasmpack; generated by 'wasmpack completion zsh'\n"
	      "_wasmpack() {\n"
	      "    local -a commands\n"
	      "    commands=(\n", f);
	for (size_t i = 0; wp_commands[i]; i++) {
		if (wp_commands[i]->hidden)
			continue;
		fprintf(f, "        '%s:", wp_commands[i]->name);
		zsh_escape(f, wp_commands[i]->summary);
		fputs("'\n", f);
	}
	fputs("    )\n"
	      "    if (( CURRENT == 2 )); then\n"
	      "        _describe -t commands 'wasmpack command' commands\n"
	      "        return\n"
	      "    fi\n"
	      "    local cmd=${words[2]}\n"
	      "    shift words\n"
	      "    (( CURRENT-- ))\n"
	      "    case $cmd in\n", f);
	for (size_t i = 0; wp_commands[i]; i++) {
		const wp_cmd *c = wp_commands[i];

		if (c->hidden)
			continue;
		fprintf(f, "    %s)\n        _arguments -s \\\n", c->name);
		zsh_opts(f, c->opts);
		zsh_opts(f, wp_global_opts);
		if (c->max_args != 0) {
			const char *ac = c->args_complete;

			fputs("        '*:argument:", f);
			if (ac && !strcmp(ac, "@file"))
				fputs("_files", f);
			else if (ac && !strcmp(ac, "@dir"))
				fputs("_files -/", f);
			else if (ac && ac[0] != '@')
				fprintf(f, "(%s)", ac);
			else
				fputs(" ", f);
			fputs("'\n", f);
		} else {
			fputs("        && return\n", f);
		}
		fputs("        ;;\n", f);
	}
	fputs("    esac\n}\n_wasmpack \"$@\"\n", f);
}

static void fish_opts(FILE *f, const char *cond, const wp_opt *opts)
{
	for (size_t i = 0; opts && opts[i].name; i++) {
		const wp_opt *o = &opts[i];

		fprintf(f, "complete -c wasmpack -n '%s' -l %s", cond, o->name);
		if (o->short_name)
			fprintf(f, " -s %c", o->short_name);
		if (o->kind != WP_OPT_FLAG) {
			if (o->complete && !strcmp(o->complete, "@file"))
				fputs(" -r -F", f);
			else if (o->complete && !strcmp(o->complete, "@dir"))
				fputs(" -r -a '(__fish_complete_directories)'", f);
			else if (o->complete && o->complete[0] != '@')
				fprintf(f, " -x -a '%s'", o->complete);
			else
				fputs(" -x", f);
		}
		fputs(" -d '", f);
		for (const char *p = o->help; *p; p++) {
			if (*p == '\'' || *p == '\\')
				fputc('\\', f);
			fputc(*p, f);
		}
		fputs("'\n", f);
	}
}

static void print_fish(FILE *f)
{
	fputs("# fish completion for wasmpack; generated by 'wasmpack completion fish'\n"
	      "complete -c wasmpack -f\n", f);
	for (size_t i = 0; wp_commands[i]; i++) {
		if (wp_commands[i]->hidden)
			continue;
		fprintf(f, "complete -c wasmpack -n '__fish_use_subcommand' -a %s -d '", wp_commands[i]->name);
		for (const char *p = wp_commands[i]->summary; *p; p++) {
			if (*p == '\'' || *p == '\\')
				fputc('\\', f);
			fputc(*p, f);
		}
		fputs("'\n", f);
	}
	fish_opts(f, "__fish_use_subcommand", wp_global_opts);
	for (size_t i = 0; wp_commands[i]; i++) {
		const wp_cmd *c = wp_commands[i];
		char cond[96];

		if (c->hidden)
			continue;
		snprintf(cond, sizeof(cond), "__fish_seen_subcommand_from %s", c->name);
		fish_opts(f, cond, c->opts);
		fish_opts(f, cond, wp_global_opts);
		if (c->args_complete && !strcmp(c->args_complete, "@file"))
			fprintf(f, "complete -c wasmpack -n '%s' -F\n", cond);
		else if (c->args_complete && c->args_complete[0] != '@')
			fprintf(f, "complete -c wasmpack -n '%s' -x -a '%s'\n", cond, c->args_complete);
	}
}

int wp_cli_print_completion(FILE *f, const char *shell)
{
	if (!strcmp(shell, "bash"))
		print_bash(f);
	else if (!strcmp(shell, "zsh"))
		print_zsh(f);
	else if (!strcmp(shell, "fish"))
		print_fish(f);
	else
		return WP_EUSAGE;
	return 0;
}

static void man_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else
			fputc(*s, f);
	}
}

static void man_opts(FILE *f, const wp_opt *opts)
{
	for (size_t i = 0; opts && opts[i].name; i++) {
		char label[96];

		opt_label(label, sizeof(label), &opts[i]);
		fputs(".TP\n.B ", f);
		man_text(f, label[0] == ' ' ? label + 4 : label);
		fputc('\n', f);
		man_text(f, opts[i].help);
		fputc('\n', f);
	}
}

void wp_cli_print_man(FILE *f)
{
	fputs(".\\\" generated by 'wasmpack __man' from the option tables; do not edit\n"
	      ".TH WASMPACK 1 \"\" \"wasmpack " WP_VERSION "\" \"User Commands\"\n"
	      ".SH NAME\nwasmpack \\- package WebAssembly apps as OCI images\n"
	      ".SH SYNOPSIS\n.B wasmpack\n\\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGS\\fR]\n"
	      ".SH GLOBAL OPTIONS\n", f);
	man_opts(f, wp_global_opts);
	fputs(".SH COMMANDS\n", f);
	for (size_t i = 0; wp_commands[i]; i++) {
		const wp_cmd *c = wp_commands[i];

		if (c->hidden)
			continue;
		fprintf(f, ".SS \"wasmpack %s", c->name);
		if (c->args[0]) {
			fputc(' ', f);
			man_text(f, c->args);
		}
		fputs("\"\n", f);
		man_text(f, c->summary);
		fputc('\n', f);
		man_opts(f, c->opts);
	}
	fputs(".SH EXIT STATUS\n0 ok, 1 error, 2 usage, 3 not found, 4 auth refused, 5 digest or verification failure.\n"
	      ".SH ENVIRONMENT\n.TP\n.B WASMPACK_STORE\nthe local store\n.TP\n.B SOURCE_DATE_EPOCH\n"
	      "the image creation time, in seconds since the epoch\n", f);
}

