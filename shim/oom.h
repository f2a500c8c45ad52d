/* Internal to shim/ (scripts/layers.sh keeps other modules out). */
/* The OOM watches of a shim's tasks: one epoll set served by one thread, which calls back
 * when a watched cgroup's OOM counter moves. The thread is stopped and joined when the set
 * is freed, so nothing it uses is freed under it. */
#ifndef WP_SHIM_OOM_H
#define WP_SHIM_OOM_H

#include "shim/cgroup.h"

typedef struct wp_oom_set wp_oom_set;

/* fired(ctx, watch) runs on the set's thread for every event of a watch (the callback
 * checks wp_cgroup_oom_fired, and that the watch is still one of its tasks'). */
wp_oom_set *wp_oom_set_new(void (*fired)(void *ctx, wp_cgroup_oom *watch), void *ctx);
/* Starts watching w (the thread starts with the first); 0, or -1 and w is not watched. */
int wp_oom_set_add(wp_oom_set *s, wp_cgroup_oom *w);
void wp_oom_set_remove(wp_oom_set *s, wp_cgroup_oom *w);
/* Stops the thread, waits for it, frees the set (not the watches). NULL is fine. */
void wp_oom_set_free(wp_oom_set *s);

#endif
