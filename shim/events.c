#include "shim/events.h"
#include "common/pb.h"
#include "shim/ttrpc.h"
#include "common/log.h"
#include "common/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define QUEUE_MAX 1024

typedef struct event {
	char *topic;
	wp_buf any;          /* the Envelope, ready to send */
	struct event *next;
} event;

struct wp_events {
	char *address, *ns;
	pthread_mutex_t mu;
	pthread_cond_t cv, drained;
	event *head, *tail;
	size_t len;
	bool closing, busy;
	pthread_t thread;
	int fd;
	uint32_t stream;
};

static void send_one(wp_events *ev, event *e)
{
	wp_error err;

	for (int attempt = 0; attempt < 3; attempt++) {
		if (ev->fd < 0 && wp_ttrpc_dial(ev->address, &ev->fd, &err) < 0) {
			usleep(50000);
			continue;
		}
		ev->stream += 2;
		if (wp_ttrpc_call(ev->fd, ev->stream, "containerd.services.events.ttrpc.v1.Events", "Forward", &e->any, 5000,
				  NULL, &err) == 0)
			return;
		close(ev->fd);
		ev->fd = -1;
	}
	wp_info("event %s not delivered to containerd: %s", e->topic, err.msg);
}

static void *run(void *arg)
{
	wp_events *ev = arg;

	pthread_mutex_lock(&ev->mu);
	for (;;) {
		event *e;

		while (!ev->head && !ev->closing)
			pthread_cond_wait(&ev->cv, &ev->mu);
		if (!ev->head)
			break;
		e = ev->head;
		ev->head = e->next;
		if (!ev->head)
			ev->tail = NULL;
		ev->len--;
		ev->busy = true;
		pthread_mutex_unlock(&ev->mu);
		send_one(ev, e);
		free(e->topic);
		wp_buf_release(&e->any);
		free(e);
		pthread_mutex_lock(&ev->mu);
		ev->busy = false;
		if (!ev->head)
			pthread_cond_broadcast(&ev->drained);
	}
	pthread_mutex_unlock(&ev->mu);
	return NULL;
}

wp_events *wp_events_new(const char *address, const char *ns)
{
	wp_events *ev = wp_xcalloc(1, sizeof(*ev));

	ev->fd = -1;
	ev->stream = 1;
	ev->ns = wp_xstrdup(ns ? ns : "default");
	pthread_mutex_init(&ev->mu, NULL);
	pthread_cond_init(&ev->cv, NULL);
	pthread_cond_init(&ev->drained, NULL);
	if (address && *address) {
		pthread_attr_t attr;

		ev->address = wp_xstrdup(address);
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 256u << 10);
		if (pthread_create(&ev->thread, &attr, run, ev) != 0) {
			free(ev->address);
			ev->address = NULL;
		}
		pthread_attr_destroy(&attr);
	}
	return ev;
}

void wp_events_publish(wp_events *ev, const char *topic, const char *type, const wp_buf *payload)
{
	event *e;
	wp_buf env;
	struct timespec now;

	wp_debug("event %s", topic);
	if (!ev || !ev->address)
		return;
	e = wp_xcalloc(1, sizeof(*e));
	clock_gettime(CLOCK_REALTIME, &now);
	/* ForwardRequest {envelope = 1}; Envelope {timestamp = 1, namespace = 2, topic = 3,
	 * event = 4 (Any)} */
	wp_buf_init(&env, WP_TTRPC_MAX);
	wp_buf_init(&e->any, WP_TTRPC_MAX);
	e->topic = wp_xstrdup(topic);
	if (wp_pb_put_timestamp(&env, 1, &now) < 0 || wp_pb_put_str(&env, 2, ev->ns) < 0 || wp_pb_put_str(&env, 3, topic) < 0 ||
	    wp_pb_put_any(&env, 4, type, payload) < 0 || wp_pb_put_msg(&e->any, 1, &env) < 0) {
		wp_buf_release(&env);
		wp_buf_release(&e->any);
		free(e->topic);
		free(e);
		return;
	}
	wp_buf_release(&env);
	pthread_mutex_lock(&ev->mu);
	if (ev->len >= QUEUE_MAX || ev->closing) {
		pthread_mutex_unlock(&ev->mu);
		wp_info("event %s dropped: the queue to containerd is full", topic);
		wp_buf_release(&e->any);
		free(e->topic);
		free(e);
		return;
	}
	if (ev->tail)
		ev->tail->next = e;
	else
		ev->head = e;
	ev->tail = e;
	ev->len++;
	pthread_cond_signal(&ev->cv);
	pthread_mutex_unlock(&ev->mu);
}

void wp_events_close(wp_events *ev, int timeout_ms)
{
	if (!ev)
		return;
	if (ev->address) {
		struct timespec dl;

		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += timeout_ms / 1000;
		dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (dl.tv_nsec >= 1000000000) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000;
		}
		pthread_mutex_lock(&ev->mu);
		while ((ev->head || ev->busy) && pthread_cond_timedwait(&ev->drained, &ev->mu, &dl) == 0)
			;
		ev->closing = true;
		pthread_cond_signal(&ev->cv);
		pthread_mutex_unlock(&ev->mu);
		if (ev->head || ev->busy) {
			/* containerd does not take them: the thread is left to the process's end. */
			pthread_detach(ev->thread);
			return;
		}
		pthread_join(ev->thread, NULL);
	}
	for (event *e = ev->head, *n; e; e = n) {
		n = e->next;
		free(e->topic);
		wp_buf_release(&e->any);
		free(e);
	}
	if (ev->fd >= 0)
		close(ev->fd);
	pthread_mutex_destroy(&ev->mu);
	pthread_cond_destroy(&ev->cv);
	pthread_cond_destroy(&ev->drained);
	free(ev->address);
	free(ev->ns);
	free(ev);
}
