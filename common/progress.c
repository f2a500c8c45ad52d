#include "common/progress.h"
#include "common/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REDRAW_MS 100
#define LIVE_MAX 6
#define BAR 20
#define RATE_WINDOW_MS 3000
#define SAMPLES 64

typedef struct item {
	char label[24];
	int64_t total, done;
	bool started, finished;
} item;

struct wp_progress {
	FILE *out;
	char verb[32];
	pthread_mutex_t mu;
	item *items;
	size_t n, finished;
	long long start_ms, last_draw_ms;
	int live_lines;  /* lines of the live area on the screen now */
	/* (time, bytes done) at each draw: the rate is taken over the last few seconds, so
	 * a burst into socket buffers at the start fades out of it */
	struct { long long ms; int64_t done; } samples[SAMPLES];
	size_t nsamples;
};

/* Bytes per second since the last sample at least RATE_WINDOW_MS old (or the start). */
static double rate(wp_progress *p, long long now, int64_t done)
{
	size_t n = p->nsamples < SAMPLES ? p->nsamples : SAMPLES;
	long long t0 = p->start_ms;
	int64_t d0 = 0;

	/* newest to oldest: the first one old enough is the base */
	for (size_t i = 0; i < n; i++) {
		size_t j = (p->nsamples - 1 - i) % SAMPLES;

		if (now - p->samples[j].ms >= RATE_WINDOW_MS) {
			t0 = p->samples[j].ms;
			d0 = p->samples[j].done;
			break;
		}
	}
	p->samples[p->nsamples % SAMPLES].ms = now;
	p->samples[p->nsamples % SAMPLES].done = done;
	p->nsamples++;
	return now > t0 ? (double)(done - d0) * 1000.0 / (double)(now - t0) : 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void wp_progress_size(char *out, size_t outsz, double v)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(out, outsz, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

wp_progress *wp_progress_new(FILE *out, const char *verb)
{
	wp_progress *p;

	if (!out)
		return NULL;
	p = wp_xcalloc(1, sizeof(*p));
	p->out = out;
	wp_str_copy(p->verb, verb, sizeof(p->verb));
	pthread_mutex_init(&p->mu, NULL);
	p->start_ms = now_ms();
	return p;
}

size_t wp_progress_item(wp_progress *p, const char *label, int64_t total)
{
	size_t i;

	if (!p)
		return 0;
	pthread_mutex_lock(&p->mu);
	p->items = wp_xreallocarray(p->items, p->n + 1, sizeof(*p->items));
	memset(&p->items[p->n], 0, sizeof(item));
	snprintf(p->items[p->n].label, sizeof(p->items[p->n].label), "%.19s", label);
	p->items[p->n].total = total;
	i = p->n++;
	pthread_mutex_unlock(&p->mu);
	return i;
}

/* Moves the cursor to the start of the live area and clears it. With p->mu held. */
static void erase_live(wp_progress *p)
{
	if (p->live_lines)
		fprintf(p->out, "\033[%dA\r\033[J", p->live_lines);
	p->live_lines = 0;
}

static void totals(const wp_progress *p, int64_t *done, int64_t *total)
{
	*done = *total = 0;
	for (size_t i = 0; i < p->n; i++) {
		*done += p->items[i].done < p->items[i].total || !p->items[i].total ? p->items[i].done : p->items[i].total;
		*total += p->items[i].total;
	}
}

/* The live area: the items in flight, then the total. With p->mu held. */
static void draw(wp_progress *p)
{
	char a[32], b[32], per_s[32], eta[32] = "";
	int64_t done, total;
	double bps;
	int shown = 0;

	erase_live(p);
	for (size_t i = 0; i < p->n && shown < LIVE_MAX; i++) {
		const item *it = &p->items[i];
		char bar[BAR + 1];
		int fill = it->total > 0 ? (int)(BAR * (double)(it->done > it->total ? it->total : it->done) / (double)it->total) : 0;

		if (!it->started || it->finished)
			continue;
		for (int k = 0; k < BAR; k++)
			bar[k] = k < fill ? '=' : k == fill ? '>' : ' ';
		bar[BAR] = '\0';
		wp_progress_size(a, sizeof(a), (double)it->done);
		wp_progress_size(b, sizeof(b), (double)it->total);
		fprintf(p->out, "  %-19s [%s] %10s / %s\n", it->label, bar, a, b);
		shown++;
	}
	totals(p, &done, &total);
	bps = rate(p, now_ms(), done);
	wp_progress_size(a, sizeof(a), (double)done);
	wp_progress_size(b, sizeof(b), (double)total);
	wp_progress_size(per_s, sizeof(per_s), bps);
	if (bps > 0 && total > done) {
		long long s = (long long)((double)(total - done) / bps + 0.5);

		snprintf(eta, sizeof(eta), "  ETA %lld:%02lld", s / 60, s % 60);
	}
	fprintf(p->out, "  %s %zu/%zu  %s / %s  %s/s%s\n", p->verb, p->finished, p->n, a, b, per_s, eta);
	p->live_lines = shown + 1;
	fflush(p->out);
	p->last_draw_ms = now_ms();
}

static void maybe_draw(wp_progress *p)
{
	if (now_ms() - p->last_draw_ms >= REDRAW_MS)
		draw(p);
}

void wp_progress_set(wp_progress *p, size_t i, int64_t done)
{
	if (!p || i >= p->n)
		return;
	pthread_mutex_lock(&p->mu);
	p->items[i].done = done < 0 ? 0 : done;
	p->items[i].started = true;
	maybe_draw(p);
	pthread_mutex_unlock(&p->mu);
}

void wp_progress_add(wp_progress *p, size_t i, int64_t bytes)
{
	if (!p || i >= p->n)
		return;
	pthread_mutex_lock(&p->mu);
	p->items[i].done += bytes;
	p->items[i].started = true;
	maybe_draw(p);
	pthread_mutex_unlock(&p->mu);
}

void wp_progress_item_done(wp_progress *p, size_t i, const char *outcome)
{
	char size[32];

	if (!p || i >= p->n)
		return;
	pthread_mutex_lock(&p->mu);
	if (!p->items[i].finished) {
		p->items[i].finished = true;
		p->items[i].done = p->items[i].total;
		p->finished++;
		erase_live(p);
		wp_progress_size(size, sizeof(size), (double)p->items[i].total);
		fprintf(p->out, "  %-19s  %-10s %10s\n", p->items[i].label, outcome ? outcome : "done", size);
		draw(p);
	}
	pthread_mutex_unlock(&p->mu);
}

void wp_progress_end(wp_progress *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	erase_live(p);
	fflush(p->out);
	pthread_mutex_unlock(&p->mu);
	pthread_mutex_destroy(&p->mu);
	free(p->items);
	free(p);
}
