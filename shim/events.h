/* Internal to shim/ (scripts/layers.sh keeps other modules out). */
/* Task events to containerd: containerd.services.events.ttrpc.v1.Events/Forward on
 * $TTRPC_ADDRESS, in order, from a thread of their own so no request waits on them. */
#ifndef WP_SHIM_EVENTS_H
#define WP_SHIM_EVENTS_H

#include "common/buf.h"

typedef struct wp_events wp_events;

/* address may be NULL or empty: events are then only logged. */
wp_events *wp_events_new(const char *address, const char *ns);
/* Queues an event (topic "/tasks/exit", type "containerd.events.TaskExit"). */
void wp_events_publish(wp_events *ev, const char *topic, const char *type, const wp_buf *payload);
/* Sends what is queued (waiting at most timeout_ms) and stops the thread. */
void wp_events_close(wp_events *ev, int timeout_ms);

#endif
