/* The node's signature policy: which images must be signed, and by which keys, before
 * they run (wasmpack run and unpack, and the shim at Create).
 *
 *   # /etc/wasmpack/policy.toml (or WASMPACK_POLICY, or --policy)
 *   [[rule]]
 *   match = "registry.example.com/team"      # a registry, a registry/repository prefix,
 *   keys = ["keys/team.pub"]                 # or "*" for every image; keys: PEM public
 *                                            # keys (relative to the policy's folder)
 *   [[rule]]
 *   match = "registry.example.com/team/sandbox"
 *   keys = []                                # no signature needed here
 *
 * A rule may name the DSSE predicate types that count as a signature (predicate_types =
 * [...], default ["https://sigstore.dev/cosign/sign/v1"]): an SBOM or a provenance signed
 * with the same key is not one.
 *
 * The longest match wins; an image no rule matches runs as before. A rule is satisfied
 * when a Sigstore bundle referring to the image's manifest verifies with one of its keys
 * (trust/sigstore.h). The file is read strictly: an unknown key, a rule without match or
 * keys, a key file that is missing, is an error (a typo must not open the node). */
#ifndef WP_NODE_POLICY_H
#define WP_NODE_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "common/strv.h"

#define WP_POLICY_DIR "/etc/wasmpack"
#define WP_POLICY_DEFAULT WP_POLICY_DIR "/policy.toml"

typedef struct wp_policy_rule {
	char *match;    /* normalised (wp_policy_normalize) */
	char *written;  /* as the file has it, for messages */
	wp_strv keys;   /* real paths */
	wp_strv predicate_types; /* the DSSE statements that count as a signature */
	int line;
} wp_policy_rule;

typedef struct wp_policy {
	char *path;
	wp_policy_rule *rules;
	size_t n_rules;
} wp_policy;

/* The policy file in effect: given (--policy), else $WASMPACK_POLICY, else the default
 * when it exists; NULL when none is. */
const char *wp_policy_path(const char *given);
/* The one spelling of a registry/repository name that rules and images are compared in:
 * the host lower-cased, without a trailing dot or ":443", Docker Hub's aliases as
 * docker.io and its one-part repositories under library/, a name without a host as
 * Docker Hub's; "*" stays. Malloc'ed; NULL for NULL. */
char *wp_policy_normalize(const char *name);
int wp_policy_load(const char *path, wp_policy *p, wp_error *err);
void wp_policy_release(wp_policy *p);
/* The rule for an image named name ("registry/repository", NULL when the image has no
 * name): the longest match, "*" last; NULL when none applies. */
const wp_policy_rule *wp_policy_match(const wp_policy *p, const char *name);

/* A verdict remembered in the node cache: digest was verified under rule (its keys, by
 * content), so a later start need not ask the registry again. */
bool wp_policy_remembered(const char *cache_root, const char *digest, const wp_policy_rule *rule);
void wp_policy_remember(const char *cache_root, const char *digest, const wp_policy_rule *rule);

#endif
