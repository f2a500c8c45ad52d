/* The command line: one table of commands, each with its table of options. Parsing
 * (cli/options.c, which the front links too), --help, the man page and the bash/zsh/fish
 * completions (cli/help.c) all come from these tables, so they cannot disagree. */
#ifndef WP_CLI_CLI_H
#define WP_CLI_CLI_H

#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>

#include "common/error.h"
#include "common/version.h"
#include "oci/build.h"
#include "oci/ref.h"
#include "oci/store.h"
#include "registry/client.h"

typedef enum { WP_OPT_FLAG, WP_OPT_VALUE, WP_OPT_LIST } wp_opt_kind;

typedef struct wp_opt {
	const char *name;       /* long name, without "--" */
	char short_name;        /* 0 for none */
	wp_opt_kind kind;
	const char *metavar;    /* for VALUE and LIST */
	const char *help;
	const char *complete;   /* NULL, "@file", "@dir", "@ref", or space-separated words */
} wp_opt;

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

typedef struct wp_opt_value {
	const wp_opt *opt;
	wp_strv values;
	bool set;
} wp_opt_value;

typedef struct wp_cli {
	const wp_cmd *cmd;
	wp_opt_value *vals;
	size_t n_vals;
	wp_strv args;           /* operands, including those after "--" */
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
/* Fills cli from argv (argv[0] is the command name); WP_EUSAGE with a message on error. */
int wp_cli_parse(wp_cli *cli, const wp_cmd *cmd, int argc, char **argv);
void wp_cli_release(wp_cli *cli);
const char *wp_cli_value(const wp_cli *cli, const char *name);
const wp_strv *wp_cli_list(const wp_cli *cli, const char *name);
bool wp_cli_flag(const wp_cli *cli, const char *name);
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
 * with the default store, else a folder inside the store. */
char *wp_cli_cache_root(const wp_store *s);
/* SOURCE: an image in the store (by reference or digest), oci:DIR[:NAME],
 * oci-archive:FILE[:NAME], or a registry reference not in the store (pulled through it);
 * containerd:DIR@DIGEST is read in place (wp_cli_containerd_source). */
int wp_cli_resolve_source(wp_cli *cli, wp_store *s, const char *src, wp_descriptor *d);
/* containerd:DIR@DIGEST sources: ro opened read-only on the content store, d the manifest.
 * ro must come initialised ({ .lock_fd = -1 }): it is closed whatever this returns. */
int wp_cli_containerd_source(wp_cli *cli, const char *src, wp_store *ro, wp_descriptor *d);

/* Referrers (cli/cmd_referrers.c). REF parsed, with its registry named (attach, discover,
 * sign and verify speak to a registry only). */
int wp_cli_registry_ref(wp_cli *cli, const char *what, wp_ref *ref);
/* The manifest ref names in its registry, as a descriptor. */
int wp_cli_subject_of(wp_client *r, const wp_ref *ref, wp_descriptor *d, wp_error *err);
/* An artifact manifest of type with layers (in the store s), whose subject is subject,
 * pushed by digest to ref's repository and recorded as its referrer; art its descriptor
 * (artifactType and annotations set), *api whether the registry's referrers API holds it. */
int wp_cli_attach(wp_cli *cli, wp_client *r, wp_store *s, const wp_ref *ref, const wp_descriptor *subject,
		  const char *type, wp_descriptor *layers, size_t n_layers, const wp_kvlist *annotations,
		  wp_descriptor *art, bool *api);

/* The referrers of subject (and theirs) from ref's repository into the store, kept there
 * with their subject; and the store's referrers of subject pushed to ref's repository and
 * recorded there. *count gains one per artifact. */
int wp_cli_pull_referrers(wp_cli *cli, wp_client *r, const wp_ref *ref, wp_store *s, const char *subject, int depth,
			  size_t *count);
int wp_cli_push_referrers(wp_cli *cli, wp_client *r, const wp_ref *ref, wp_store *s, const char *subject, int depth,
			  size_t *count);
/* Signatures (cli/cmd_sign.c): 0 when a Sigstore bundle referring to digest in ref's
 * repository verifies with one of keys (v and sig say which); WP_EDIGEST saying why not;
 * other codes when the registry could not be asked. */
struct wp_sigstore_verified;
int wp_cli_verify_signed(wp_client *r, const wp_ref *ref, const char *digest, const wp_strv *keys,
			 const wp_strv *predicate_types,
			 struct wp_sigstore_verified *v, char sig[WP_DIGEST_BUFSZ], wp_error *err);
/* The node's signature policy (cli/policy.c, node/policy.h) for an image named name
 * ("registry/repository", NULL when it has none) whose manifest is digest: 0 when no rule
 * applies or the rule's keys signed it (verdicts remembered in cache_root when given);
 * WP_EDIGEST saying which rule, which keys and why not; a registry that cannot be asked
 * fails closed. given: --policy, else $WASMPACK_POLICY, else /etc/wasmpack/policy.toml. */
int wp_cli_policy_check(wp_cli *cli, const char *given, const char *name, const char *digest, const char *cache_root);
/* The same for an image known under several names (containerd's): every rule that one of
 * them falls under must be met. */
int wp_cli_policy_check_names(wp_cli *cli, const char *given, const wp_strv *names, const char *digest,
			      const char *cache_root);
/* The name a policy judges a reference by (registry/repository), added to names once;
 * nothing for what is no reference. */
void wp_cli_policy_add_name(wp_strv *names, const char *reference);
/* The same for what run and unpack were given (src, resolved to the manifest d; the name
 * from src when it names a registry, else the store's name for it), with --policy. */
int wp_cli_policy_for_source(wp_cli *cli, wp_store *s, const char *src, const wp_descriptor *d, const char *cache_root);

/* run's options (cli/run_opts.c): the front parses a warm run with the same table. */
extern const wp_opt wp_cmd_run_opts[];
/* What run's options say of the run (engine, env, folders, network, and how a Spin HTTP
 * app serves); WP_EUSAGE for a value that is none. */
struct wp_run_spec;
int wp_cli_run_spec(wp_cli *cli, struct wp_run_spec *spec);

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
	{ "plain-http", 0, WP_OPT_FLAG, NULL, "talk HTTP, not HTTPS, to the registry", NULL }, \
	{ "insecure", 0, WP_OPT_FLAG, NULL, "do not verify the registry's TLS certificate", NULL }, \
	{ "ca-file", 0, WP_OPT_VALUE, "FILE", "trust the CA certificates in FILE too", "@file" }

struct wp_client_opts;
int wp_cli_reg_opts(wp_cli *cli, struct wp_client_opts *o);
/* Where progress is drawn: stderr when it is a terminal and neither --quiet nor
 * --no-progress was given, else NULL (common/progress.h then draws nothing). */
FILE *wp_cli_progress_out(const wp_cli *cli);

/* The spin.toml named by -f, or PATH itself, or PATH/spin.toml when PATH is a folder. */
char *wp_cli_spin_manifest(const char *path, const char *from);


#endif
