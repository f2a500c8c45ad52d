/* The command line: one table of commands, each with its table of options. Parsing
 * (cli/options.c, which the front links too), --help, the man page and the bash/zsh/fish
 * completions (cli/help.c) all come from these tables, so they cannot disagree. */
#ifndef WP_CLI_CLI_H
#define WP_CLI_CLI_H

#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>

#include "common/error.h"
#include "common/strv.h"
#include "common/version.h"
#include "oci/build.h"
#include "oci/ref.h"
#include "oci/store.h"
#include "registry/client.h"

typedef enum { WP_OPT_FLAG, WP_OPT_VALUE, WP_OPT_LIST, WP_OPT_INT } wp_opt_kind;

/* Every option's value, one typed field each (one command runs per process): the option
 * tables bind each option to its field, the parser (cli/options.c) fills them, and the
 * commands read them, so a mistyped option is a compile error, not a NULL at run time.
 * Strings point into argv; lists are the parser's (wp_cli_release frees them). */
typedef struct wp_cli_values {
	/* global */
	const char *store, *format;
	bool quiet, verbose, no_progress, help;
	/* registries */
	bool plain_http, insecure;
	const char *ca_file;
	long concurrency;               /* 0: the client's default */
	/* images and sources */
	const char *platform, *policy, *digestfile, *output, *input, *from, *key, *raw, *artifact_type;
	bool all_platforms, referrers, remote, all;
	/* build and lock */
	wp_strv tags, wasm, files, env, args, annotations, outputs;
	const char *layout, *assets_dir;
	bool follow_links, push;
	long gzip_level;                /* 0: the default */
	/* run */
	const char *engine, *network, *listen, *state_dir, *runtime_config_file, *workdir;
	bool rm;
	wp_strv dirs, variables;
	long workers;                   /* 0: one per core */
	/* login */
	const char *username, *password;
	bool password_stdin;
	/* gc, rmi */
	bool verify, force;
	const char *containerd;
	/* verify */
	wp_strv predicate_types;
	/* the shim's helpers */
	const char *address, *namespace, *cache, *digest;
	bool with_files;
} wp_cli_values;

extern wp_cli_values wp_opts;

typedef struct wp_opt {
	const char *name;       /* long name, without "--" */
	char short_name;        /* 0 for none */
	wp_opt_kind kind;
	const char *metavar;    /* for VALUE, LIST and INT */
	const char *help;
	const char *complete;   /* NULL, "@file", "@dir", "@ref", or space-separated words */
	union {                 /* where the parser puts the value, by kind */
		bool *flag;
		const char **value;
		wp_strv *list;
		long *num;
	} to;
	long min, max;          /* INT: the range a value must fall in */
} wp_opt;

/* The option table's entries: each bound to its typed field of wp_opts. */
#define WP_FLAG(n, s, h, dest) { .name = n, .short_name = s, .kind = WP_OPT_FLAG, .help = h, .to.flag = dest }
#define WP_VALUE(n, s, mv, h, c, dest) \
	{ .name = n, .short_name = s, .kind = WP_OPT_VALUE, .metavar = mv, .help = h, .complete = c, .to.value = dest }
#define WP_LIST(n, s, mv, h, c, dest) \
	{ .name = n, .short_name = s, .kind = WP_OPT_LIST, .metavar = mv, .help = h, .complete = c, .to.list = dest }
#define WP_INT(n, s, mv, h, c, lo, hi, dest) \
	{ .name = n, .short_name = s, .kind = WP_OPT_INT, .metavar = mv, .help = h, .complete = c, .to.num = dest, \
	  .min = lo, .max = hi }

struct wp_cli;

typedef struct wp_cmd {
	const char *name;
	const char *args;       /* synopsis of the operands, "" for none */
	const char *summary;
	const wp_opt *opts;     /* ends with a zeroed entry */
	int min_args, max_args; /* max -1: any number */
	const char *args_complete;
	int (*run)(struct wp_cli *cli);
	bool hidden;
	const char *examples;   /* lines ending --help and the man page's entry, or NULL */
} wp_cmd;

typedef struct wp_cli {
	const wp_cmd *cmd;
	wp_strv args;           /* operands, including those after "--" */
	size_t args_before_dashdash; /* how many of them came before a "--" (all when none) */
	bool json;
	int verbosity;          /* 0 quiet, 1 normal, 2 verbose */
	bool progress;
	const char *store_root;
	FILE *out;
	wp_error err;
	bool engine_ran;        /* run: the engine ran under wasmpack's init and ended with */
	int engine_status;      /* this wait status, which the process ends with */
} wp_cli;

extern const wp_opt wp_global_opts[];
extern const wp_cmd *const wp_commands[];

const wp_cmd *wp_cli_find(const char *name);
/* Global options may come before the command too ("wasmpack --store DIR images"): a
 * copy of argv with them moved behind the command, where every command's parser takes
 * them; argv itself when there is nothing to move (free the result only if it is not). */
char **wp_cli_hoist_globals(int argc, char **argv);
/* Fills cli from argv (argv[0] is the command name) and wp_opts from the command's and the
 * global options (every field of those tables reset first); WP_EUSAGE with a message on
 * error, an INT out of its range among them. */
int wp_cli_parse(wp_cli *cli, const wp_cmd *cmd, int argc, char **argv);
void wp_cli_release(wp_cli *cli);
/* Whether the last parse gave option o (a flag set, a value, a list item, a number). */
bool wp_cli_opt_given(const wp_opt *o);
/* The commands' shared helpers live in cli/helpers.c. */
/* The store of --store, $WASMPACK_STORE or the default place, opened in mode
 * (WP_STORE_NOCREATE for commands that only read: they never make a store). */
int wp_cli_open_store(wp_cli *cli, wp_store *s, int mode);
/* Whether a reference names its registry host ("localhost:5000/app", "ghcr.io/x/app"),
 * as opposed to a short name ("app:v1", "library/app") or an id. */
bool wp_cli_names_registry(const char *ref);
/* Neither --store nor $WASMPACK_STORE: the built-in place, which may not exist yet. */
bool wp_cli_store_is_default(const wp_cli *cli);
/* The node cache `run` unpacks into: $WASMPACK_CACHE, /var/lib/wasmpack/cache for root
 * with the default store, else a folder inside the store. Malloc'ed. */
char *wp_cli_cache_root(const wp_store *s);
/* SOURCE: an image in the store (by reference or digest), oci:DIR[:NAME],
 * oci-archive:FILE[:NAME], or a registry reference not in the store (pulled through it);
 * containerd:DIR@DIGEST is read in place (wp_cli_containerd_source). */
int wp_cli_resolve_source(wp_cli *cli, wp_store *s, const char *src, wp_descriptor *d);
/* The store's names nearest to what, appended to cli->err ("; the store has: app:v1"). */
void wp_cli_append_nearest(wp_cli *cli, wp_store *s, const char *what);
/* containerd:DIR@DIGEST sources: ro opened read-only on the content store, d the manifest.
 * ro must come initialised ({ .lock_fd = -1 }): it is closed whatever this returns. */
int wp_cli_containerd_source(wp_cli *cli, const char *src, wp_store *ro, wp_descriptor *d);

/* REF parsed, with its registry named (attach, discover, sign and verify speak to a
 * registry only; cli/cmd_referrers.c). */
int wp_cli_registry_ref(wp_cli *cli, const char *what, wp_ref *ref);
/* The node's signature policy (trust/trust.h's wp_trust_policy_check) with the command's
 * registry options, for an image known under names whose manifest is digest. given:
 * --policy, else $WASMPACK_POLICY, else /etc/wasmpack/policy.toml; tag_ref as
 * wp_trust_check's. */
int wp_cli_policy_check_names(wp_cli *cli, const char *given, const wp_strv *names, const char *digest,
			      const char *cache_root, const char *tag_ref);
/* The same for what run and unpack were given (src, resolved to the manifest d; the name
 * from src when it names a registry, and the store's names for it), with --policy. */
int wp_cli_policy_for_source(wp_cli *cli, wp_store *s, const char *src, const wp_descriptor *d, const char *cache_root);

/* run's options (cli/run_opts.c): the front parses a warm run with the same table. */
extern const wp_opt wp_cmd_run_opts[];
/* What run's options (parsed into wp_opts) say of the run: engine, env, folders, network,
 * and how a Spin HTTP app serves. spec borrows wp_opts' strings and lists. */
struct wp_run_spec;
void wp_cli_run_spec(struct wp_run_spec *spec);
/* Hints on stderr for app arguments that look like a mistaken option (an existing
 * "/host:/guest" given after the image, a typographic dash), given before any "--". */
void wp_cli_run_hints(const wp_cli *cli);

void wp_cli_print_usage(FILE *f);
void wp_cli_print_cmd_help(FILE *f, const wp_cmd *cmd);
int wp_cli_print_completion(FILE *f, const char *shell);
void wp_cli_print_man(FILE *f);

/* "12.3 MiB" */
void wp_cli_human_size(char *out, size_t outsz, long long bytes);
/* Prints the build/push style summary of an image: the digest in text, an object in JSON
 * with extra's fields added (extra is consumed; may be NULL). */
int wp_cli_print_image(wp_cli *cli, const wp_descriptor *manifest, const wp_manifest *m,
		       const wp_strv *tags, json_t *extra);

/* Options every command that talks to a registry takes. */
#define WP_CLI_REGISTRY_OPTS \
	WP_FLAG("plain-http", 0, "talk HTTP, not HTTPS, to the registry", &wp_opts.plain_http), \
	WP_FLAG("insecure", 0, "do not verify the registry's TLS certificate", &wp_opts.insecure), \
	WP_VALUE("ca-file", 0, "FILE", "trust the CA certificates in FILE too", "@file", &wp_opts.ca_file)
#define WP_CLI_CONCURRENCY_OPT \
	WP_INT("concurrency", 0, "N", "blobs transferred at once (default 4)", NULL, 1, 64, &wp_opts.concurrency)

struct wp_client_opts;
int wp_cli_reg_opts(wp_cli *cli, struct wp_client_opts *o);
/* Where progress is drawn: stderr when it is a terminal and neither --quiet nor
 * --no-progress was given, else NULL (common/progress.h then draws nothing). */
FILE *wp_cli_progress_out(const wp_cli *cli);

/* The spin.toml named by -f, or PATH itself, or PATH/spin.toml when PATH is a folder;
 * malloc'ed. */
char *wp_cli_spin_manifest(const char *path, const char *from);


#endif
