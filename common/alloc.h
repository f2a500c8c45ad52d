/* Memory: allocation failure aborts the process, in these wrappers, so no caller checks
 * for it (the policy of crun and git). On Linux an allocation that cannot be met is
 * almost never reported by malloc (overcommit; the OOM killer acts instead), so checks
 * for NULL would be error paths no test ever takes. A process that does see one says
 * "out of memory" on stderr and aborts: the store stays whole (blobs are linked only
 * when complete, index.json is replaced atomically), and containerd restarts a shim.
 *
 * Every allocation of the project goes through these (or wp_str_fmt, common/util.h);
 * jansson is given them too, so json_object() and friends never return NULL for want of
 * memory. What can still fail is what has a limit: a wp_buf past its cap (WP_ETOOBIG),
 * which the compiler makes every caller look at (WP_MUST_CHECK). */
#ifndef WP_COMMON_ALLOC_H
#define WP_COMMON_ALLOC_H

#include <stddef.h>

#define WP_MUST_CHECK __attribute__((warn_unused_result))

__attribute__((noreturn)) void wp_alloc_oom(void);
__attribute__((malloc, returns_nonnull)) void *wp_xmalloc(size_t n);
__attribute__((malloc, returns_nonnull)) void *wp_xcalloc(size_t n, size_t size);
__attribute__((returns_nonnull)) void *wp_xrealloc(void *p, size_t n);
/* n * size bytes, aborting on overflow as on failure. */
__attribute__((returns_nonnull)) void *wp_xreallocarray(void *p, size_t n, size_t size);
__attribute__((malloc, returns_nonnull)) char *wp_xstrdup(const char *s);
__attribute__((malloc, returns_nonnull)) char *wp_xstrndup(const char *s, size_t n);

#endif
