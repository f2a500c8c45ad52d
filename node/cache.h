/* The node cache's bookkeeping: who uses each unpacked app, and which are running.
 *
 * The cache (<root>/<manifest hex>/) is shared: every store of a user (or, as root, every
 * store and the containerd shim) unpacks into the same place. So each entry has a users
 * file, <root>/.users/<hex>, one line per user: a store's real path, or "containerd:NS"
 * for apps the shim fetched; and a lock file, <root>/.users/<hex>.lock, on which every
 * run of the entry holds a shared lock for as long as its engine lives (the descriptor
 * is inherited across exec). gc of a store takes the store off the entries it no longer
 * holds and removes only an entry no one needs: no listed store holds its manifest, no
 * other user is listed, and no run holds its lock. Entries from before this bookkeeping
 * (no users file) are removed only when unused for 30 days.
 *
 * Only libc: the front (cli/front) holds and claims entries on a warm run. */
#ifndef WP_NODE_CACHE_H
#define WP_NODE_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

/* Adds user (a store's real path, or "containerd:NS") to the users of entry hex, if it
 * is not listed yet. Bookkeeping: a failure is reported, and the run goes on. */
int wp_cache_claim(const char *root, const char *hex, const char *user, wp_error *err);
/* A descriptor holding a shared lock on entry hex for as long as it (or a copy across
 * exec) stays open, or -1 with err set (the lock could not be had within
 * WASMPACK_LOCK_TIMEOUT: wp_fs_lock_wait). Not close-on-exec: the engine that replaces the
 * caller keeps it. The lock files and their folder are the cache owner's alone (0600,
 * 0700; tightened where an earlier version made them open), so no other user can hold
 * one to stop runs, the shim or gc. */
int wp_cache_hold(const char *root, const char *hex, wp_error *err);
/* The cache and its .users/ are the running user's (wp_fs_check_owner): 0, or an error
 * naming the one that is not. wp_cache_hold checks it first. */
int wp_cache_check(const char *root, wp_error *err);

typedef struct wp_cache_gc_result {
	uint64_t removed;      /* entries removed */
	uint64_t kept_in_use;  /* entries a run holds, or another store or containerd uses */
	uint64_t evicted;      /* entries removed to keep the cache within its caps */
} wp_cache_gc_result;

/* Whether a user that is not a store ("containerd:ADDRESS:NS", or "containerd:NS" as
 * earlier versions wrote it) still needs the entry whose manifest is digest: 1 yes, 0 no
 * (containerd no longer holds that content), -1 cannot tell (kept). */
typedef int (*wp_cache_user_fn)(void *ctx, const char *user, const char *digest);

/* gc for the store at store_root (its real path is what users list): the entries whose
 * manifest it no longer holds lose it as a user, other users are asked about through
 * still_needed (may be NULL: they keep theirs), and entries no one needs go; folders left
 * by an unpack that was killed (".tmp-*", older than ten minutes) go too; then the caps
 * (wp_cache_enforce). */
void wp_cache_gc(const char *root, const char *store_root, wp_cache_user_fn still_needed, void *ctx,
		 wp_cache_gc_result *res);

/* The node cache's caps: $WASMPACK_CACHE_MAX_SIZE (bytes, or with K, M, G, T; default 20G)
 * and $WASMPACK_CACHE_MAX_ENTRIES (default 500, unpacked apps and compiled forms
 * together), else max_size and max_entries under [cache] in config.toml. Past either, the
 * least recently used entries are removed first; an entry a live task or run holds, and
 * keep (the one just made, may be NULL), never are. The number removed. */
uint64_t wp_cache_enforce(const char *root, const char *keep);
void wp_cache_limits(uint64_t *max_bytes, uint64_t *max_entries);

#endif
