/* A cache from file identity (device, inode, size, mtime, ctime) to content digest,
 * and from layer content keys to built layers, kept in the store as git keeps its index,
 * so that a rebuild of unchanged input reads no file. An entry whose mtime is not clearly
 * older than the moment the cache was written is "racily clean" and is not trusted: the
 * file could have changed again within the timestamp's granularity. */
#ifndef WP_OCI_STATCACHE_H
#define WP_OCI_STATCACHE_H

#include <stdbool.h>
#include <sys/stat.h>

#include "common/error.h"
#include "oci/layer.h"
#include "oci/store.h"

typedef struct wp_statcache wp_statcache;

/* Never fails: a missing or damaged cache file starts it empty. */
wp_statcache *wp_statcache_open(wp_store *s);
bool wp_statcache_lookup(wp_statcache *c, const struct stat *st, char digest[WP_DIGEST_BUFSZ]);
void wp_statcache_record(wp_statcache *c, const struct stat *st, const char *digest);
bool wp_statcache_layer_get(wp_statcache *c, const char *key, wp_layer_result *out);
void wp_statcache_layer_put(wp_statcache *c, const char *key, const wp_layer_result *res);
int wp_statcache_save(wp_statcache *c, wp_error *err);
/* Saves after a build that succeeded; a cache that cannot be saved is only warned about
 * (the next build hashes again). */
void wp_statcache_save_or_warn(wp_statcache *c);
void wp_statcache_free(wp_statcache *c);

#endif
