#include "shim/oom.h"
#include "common/alloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct wp_oom_set {
	int epoll_fd, stop_fd;    /* stop_fd (an eventfd in the set) ends the thread */
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;       /* started */
	void (*fired)(void *ctx, wp_cgroup_oom *watch);
	void *ctx;
};

static void *serve(void *arg)
{
	wp_oom_set *s = arg;

	for (;;) {
		struct epoll_event ev[8];
		int n = epoll_wait(s->epoll_fd, ev, 8, -1);

		if (n < 0 && errno != EINTR)
			return NULL;
		for (int i = 0; i < n; i++) {
			if (ev[i].data.ptr == NULL)
				return NULL; /* stop_fd */
			s->fired(s->ctx, ev[i].data.ptr);
		}
	}
}

wp_oom_set *wp_oom_set_new(void (*fired)(void *ctx, wp_cgroup_oom *watch), void *ctx)
{
	wp_oom_set *s = wp_xcalloc(1, sizeof(*s));
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	s->fired = fired;
	s->ctx = ctx;
	pthread_mutex_init(&s->mu, NULL);
	s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->epoll_fd < 0 || s->stop_fd < 0 || epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->stop_fd, &ev) < 0) {
		if (s->epoll_fd >= 0)
			close(s->epoll_fd);
		if (s->stop_fd >= 0)
			close(s->stop_fd);
		s->epoll_fd = s->stop_fd = -1;
	}
	return s;
}

int wp_oom_set_add(wp_oom_set *s, wp_cgroup_oom *w)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = w };
	int rc = 0;

	if (s->epoll_fd < 0)
		return -1;
	pthread_mutex_lock(&s->mu);
	if (!s->started) {
		pthread_attr_t attr;

		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 128u << 10);
		s->started = pthread_create(&s->thread, &attr, serve, s) == 0;
		pthread_attr_destroy(&attr);
	}
	if (!s->started || epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, w->fd, &ev) < 0)
		rc = -1;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

void wp_oom_set_remove(wp_oom_set *s, wp_cgroup_oom *w)
{
	if (s->epoll_fd >= 0)
		epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, w->fd, NULL);
}

void wp_oom_set_free(wp_oom_set *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	if (s->started) {
		(void)!write(s->stop_fd, &one, sizeof(one));
		pthread_join(s->thread, NULL);
	}
	if (s->epoll_fd >= 0)
		close(s->epoll_fd);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
