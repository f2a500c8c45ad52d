#include "oci/gzip.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define CHUNK (128u << 10)
#define DICT (32u << 10)
#define PROBE (8u << 10)
#define MAX_THREADS 16

enum job_state { JOB_FREE, JOB_FILLING, JOB_QUEUED, JOB_RUNNING, JOB_DONE };

typedef struct job {
	unsigned char *in;
	size_t in_len;
	unsigned char dict[DICT];
	size_t dict_len;
	bool last;
	unsigned char *out;
	size_t out_len, out_cap;
	uLong crc;
	int zerr;
	bool stored;     /* coded as stored blocks: the output is framed from in at emit time */
	enum job_state state;
} job;

struct wp_gzip {
	int level, threads;
	wp_gzip_sink sink;
	void *ctx;
	job *jobs;
	unsigned njobs;
	unsigned fill;     /* job being filled */
	unsigned oldest;   /* next job to hand to the sink */
	unsigned next_run; /* next job a worker takes */
	unsigned in_flight;
	unsigned char prev_tail[DICT];
	size_t prev_tail_len;
	uLong crc;
	unsigned long long total;
	bool header_done, stop, failed;
	pthread_t workers[MAX_THREADS];
	int nworkers;
	pthread_mutex_t mu;
	pthread_cond_t work_cv, done_cv;
	z_stream inline_zs;
	bool inline_init;
};

/* Deflated size of the first PROBE bytes of a chunk with the given strategy, or -1. */
static long probe(z_stream *zs, const job *j, int strategy, unsigned char *scratch, size_t cap)
{
	if (deflateReset(zs) != Z_OK || deflateParams(zs, 1, strategy) != Z_OK)
		return -1;
	if (strategy != Z_HUFFMAN_ONLY && j->dict_len && deflateSetDictionary(zs, j->dict, (uInt)j->dict_len) != Z_OK)
		return -1;
	zs->next_in = j->in;
	zs->avail_in = (uInt)(j->in_len < PROBE ? j->in_len : PROBE);
	zs->next_out = scratch;
	zs->avail_out = (uInt)cap;
	if (deflate(zs, Z_SYNC_FLUSH) == Z_STREAM_ERROR || zs->avail_in)
		return -1;
	return (long)(cap - zs->avail_out);
}

enum { CODE_LZ, CODE_HUFFMAN, CODE_STORED };

/* Already-compressed or random data (images, fonts, archives, model weights) gains little
 * or nothing from string matching, the slow part of deflate. The first PROBE bytes of a
 * chunk decide: if Huffman coding alone barely shrinks them the chunk is stored; if
 * matches add less than 3% over Huffman coding the chunk is Huffman-coded (about four
 * times faster than matching); otherwise it is deflated at the chosen level. The choice
 * depends on the bytes only, so the output stays reproducible. */
static int choose_coding(z_stream *zs, const job *j, unsigned char *scratch, size_t cap)
{
	long lz, huff;
	size_t n = j->in_len < PROBE ? j->in_len : PROBE;

	if (j->in_len < 2 * PROBE)
		return CODE_LZ;
	huff = probe(zs, j, Z_HUFFMAN_ONLY, scratch, cap);
	if (huff < 0)
		return CODE_LZ;
	if ((size_t)huff * 100 >= n * 98)
		return CODE_STORED;
	lz = probe(zs, j, Z_DEFAULT_STRATEGY, scratch, cap);
	if (lz < 0)
		return CODE_LZ;
	return lz * 100 > huff * 97 ? CODE_HUFFMAN : CODE_LZ;
}

static int compress_job(z_stream *zs, int level, job *j)
{
	size_t bound = deflateBound(zs, (uLong)j->in_len) + 64;
	unsigned char scratch[PROBE + PROBE / 2 + 256];
	int coding;

	if (j->out_cap < bound) {
		unsigned char *p = realloc(j->out, bound);

		if (!p)
			return Z_MEM_ERROR;
		j->out = p;
		j->out_cap = bound;
	}
	coding = choose_coding(zs, j, scratch, sizeof(scratch));
	j->crc = crc32(0L, j->in, (uInt)j->in_len);
	/* Stored blocks need no deflate pass over the data (nor a copy of it): emit_stored
	 * frames the chunk as zlib's level 0 does (RFC 1951 section 3.2.4), byte for byte. */
	if ((j->stored = coding == CODE_STORED))
		return Z_OK;
	if (deflateReset(zs) != Z_OK ||
	    deflateParams(zs, coding == CODE_STORED ? 0 : coding == CODE_HUFFMAN ? 1 : level,
			  coding == CODE_HUFFMAN ? Z_HUFFMAN_ONLY : Z_DEFAULT_STRATEGY) != Z_OK)
		return Z_STREAM_ERROR;
	if (coding == CODE_LZ && j->dict_len && deflateSetDictionary(zs, j->dict, (uInt)j->dict_len) != Z_OK)
		return Z_STREAM_ERROR;
	zs->next_in = j->in;
	zs->avail_in = (uInt)j->in_len;
	zs->next_out = j->out;
	zs->avail_out = (uInt)j->out_cap;
	if (deflate(zs, j->last ? Z_FINISH : Z_SYNC_FLUSH) == Z_STREAM_ERROR)
		return Z_STREAM_ERROR;
	if (zs->avail_in != 0 || (j->last && zs->avail_out == 0))
		return Z_BUF_ERROR;
	j->out_len = j->out_cap - zs->avail_out;
	return Z_OK;
}

static int zs_init(z_stream *zs, int level)
{
	memset(zs, 0, sizeof(*zs));
	/* Raw deflate (negative window bits): the gzip header and trailer are written here. */
	return deflateInit2(zs, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
}

static void *worker_main(void *arg)
{
	wp_gzip *gz = arg;
	z_stream zs;
	bool ok = zs_init(&zs, gz->level) == Z_OK;

	pthread_mutex_lock(&gz->mu);
	for (;;) {
		job *j;

		while (!gz->stop && gz->jobs[gz->next_run].state != JOB_QUEUED)
			pthread_cond_wait(&gz->work_cv, &gz->mu);
		if (gz->stop)
			break;
		j = &gz->jobs[gz->next_run];
		gz->next_run = (gz->next_run + 1) % gz->njobs;
		j->state = JOB_RUNNING;
		pthread_mutex_unlock(&gz->mu);
		j->zerr = ok ? compress_job(&zs, gz->level, j) : Z_MEM_ERROR;
		pthread_mutex_lock(&gz->mu);
		j->state = JOB_DONE;
		pthread_cond_broadcast(&gz->done_cv);
		pthread_cond_broadcast(&gz->work_cv);
	}
	pthread_mutex_unlock(&gz->mu);
	if (ok)
		deflateEnd(&zs);
	return NULL;
}

int wp_gzip_new(wp_gzip **out, int level, int threads, wp_gzip_sink sink, void *ctx, wp_error *err)
{
	wp_gzip *gz = calloc(1, sizeof(*gz));

	*out = NULL;
	if (!gz)
		return wp_error_set(err, WP_ENOMEM, "out of memory");
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	gz->level = level;
	gz->threads = threads < 0 ? 0 : threads;
	gz->sink = sink;
	gz->ctx = ctx;
	/* Chunks in flight: enough that the in-order hand-off to the sink seldom waits for a
	 * slow chunk (about 4 MiB with 2 threads). */
	gz->njobs = gz->threads ? (unsigned)gz->threads * 8 + 2 : 1;
	gz->jobs = calloc(gz->njobs, sizeof(*gz->jobs));
	gz->crc = crc32(0L, Z_NULL, 0);
	pthread_mutex_init(&gz->mu, NULL);
	pthread_cond_init(&gz->work_cv, NULL);
	pthread_cond_init(&gz->done_cv, NULL);
	if (!gz->jobs) {
		wp_gzip_free(gz);
		return wp_error_set(err, WP_ENOMEM, "out of memory");
	}
	for (unsigned i = 0; i < gz->njobs; i++) {
		gz->jobs[i].in = malloc(CHUNK);
		if (!gz->jobs[i].in) {
			wp_gzip_free(gz);
			return wp_error_set(err, WP_ENOMEM, "out of memory");
		}
	}
	if (gz->threads == 0) {
		if (zs_init(&gz->inline_zs, level) != Z_OK) {
			wp_gzip_free(gz);
			return wp_error_set(err, WP_ENOMEM, "starting gzip failed");
		}
		gz->inline_init = true;
	}
	for (int i = 0; i < gz->threads; i++) {
		if (pthread_create(&gz->workers[i], NULL, worker_main, gz) != 0)
			break;
		gz->nworkers++;
	}
	if (gz->threads && gz->nworkers == 0) {
		wp_gzip_free(gz);
		return wp_error_set(err, WP_EIO, "starting gzip threads failed");
	}
	gz->jobs[0].state = JOB_FILLING;
	*out = gz;
	return 0;
}

static int emit(wp_gzip *gz, const void *data, size_t len, wp_error *err)
{
	int rc = gz->sink(gz->ctx, data, len, err);

	if (rc < 0)
		gz->failed = true;
	return rc;
}

/* A stored chunk as zlib writes it at level 0 with avail_out to spare: blocks of at most
 * 65,535 bytes, each a 3-bit header padded to a byte (BFINAL only on the last block of the
 * last chunk) then LEN and its one's complement, little-endian; a chunk that is not the
 * last ends with an empty stored block, as Z_SYNC_FLUSH does. */
static int emit_stored(wp_gzip *gz, const job *j, wp_error *err)
{
	size_t off = 0;
	int rc;

	do {
		size_t len = j->in_len - off > 65535 ? 65535 : j->in_len - off;
		unsigned char h[5] = { j->last && off + len == j->in_len, (unsigned char)len, (unsigned char)(len >> 8),
				       (unsigned char)~len, (unsigned char)(~len >> 8) };

		if ((rc = emit(gz, h, sizeof(h), err)) < 0 || (len && (rc = emit(gz, j->in + off, len, err)) < 0))
			return rc;
		off += len;
	} while (off < j->in_len);
	if (!j->last) {
		static const unsigned char empty[5] = { 0, 0, 0, 0xff, 0xff };

		return emit(gz, empty, sizeof(empty), err);
	}
	return 0;
}

/* Hands finished jobs to the sink in order; with wait, blocks for the oldest one. */
static int drain(wp_gzip *gz, bool wait, wp_error *err)
{
	for (;;) {
		job *j = &gz->jobs[gz->oldest];
		int rc;

		pthread_mutex_lock(&gz->mu);
		while (wait && gz->in_flight && j->state != JOB_DONE)
			pthread_cond_wait(&gz->done_cv, &gz->mu);
		if (!gz->in_flight || j->state != JOB_DONE) {
			pthread_mutex_unlock(&gz->mu);
			return 0;
		}
		pthread_mutex_unlock(&gz->mu);
		if (j->zerr != Z_OK) {
			gz->failed = true;
			return wp_error_set(err, WP_EIO, "gzip compression failed (zlib error %d)", j->zerr);
		}
		if ((rc = j->stored ? emit_stored(gz, j, err) : emit(gz, j->out, j->out_len, err)) < 0)
			return rc;
		gz->crc = crc32_combine(gz->crc, j->crc, (z_off_t)j->in_len);
		pthread_mutex_lock(&gz->mu);
		j->state = JOB_FREE;
		gz->in_flight--;
		gz->oldest = (gz->oldest + 1) % gz->njobs;
		pthread_mutex_unlock(&gz->mu);
		wait = false;
	}
}

static int submit(wp_gzip *gz, bool last, wp_error *err)
{
	job *j = &gz->jobs[gz->fill];
	int rc;

	if (!gz->header_done) {
		static const unsigned char hdr[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff };

		if ((rc = emit(gz, hdr, sizeof(hdr), err)) < 0)
			return rc;
		gz->header_done = true;
	}
	memcpy(j->dict, gz->prev_tail, gz->prev_tail_len);
	j->dict_len = gz->prev_tail_len;
	j->last = last;
	gz->total += j->in_len;
	if (j->in_len >= DICT) {
		memcpy(gz->prev_tail, j->in + j->in_len - DICT, DICT);
		gz->prev_tail_len = DICT;
	} else {
		size_t keep = gz->prev_tail_len + j->in_len > DICT ? DICT - j->in_len : gz->prev_tail_len;

		memmove(gz->prev_tail, gz->prev_tail + gz->prev_tail_len - keep, keep);
		memcpy(gz->prev_tail + keep, j->in, j->in_len);
		gz->prev_tail_len = keep + j->in_len;
	}
	if (gz->threads == 0) {
		j->zerr = compress_job(&gz->inline_zs, gz->level, j);
		j->state = JOB_DONE;
		gz->in_flight++;
		rc = drain(gz, false, err);
		j->state = JOB_FILLING;
		j->in_len = 0;
		return rc;
	}
	pthread_mutex_lock(&gz->mu);
	j->state = JOB_QUEUED;
	gz->in_flight++;
	pthread_cond_broadcast(&gz->work_cv);
	pthread_mutex_unlock(&gz->mu);
	if ((rc = drain(gz, false, err)) < 0)
		return rc;
	gz->fill = (gz->fill + 1) % gz->njobs;
	if (gz->in_flight == gz->njobs && (rc = drain(gz, true, err)) < 0)
		return rc;
	j = &gz->jobs[gz->fill];
	j->state = JOB_FILLING;
	j->in_len = 0;
	return 0;
}

int wp_gzip_write(wp_gzip *gz, const void *data, size_t len, wp_error *err)
{
	const unsigned char *p = data;

	if (gz->failed)
		return wp_error_set(err, WP_EIO, "gzip stream failed earlier");
	while (len > 0) {
		job *j = &gz->jobs[gz->fill];
		size_t n = CHUNK - j->in_len < len ? CHUNK - j->in_len : len;
		int rc;

		memcpy(j->in + j->in_len, p, n);
		j->in_len += n;
		p += n;
		len -= n;
		if (j->in_len == CHUNK && (rc = submit(gz, false, err)) < 0)
			return rc;
	}
	return 0;
}

int wp_gzip_finish(wp_gzip *gz, wp_error *err)
{
	unsigned char trailer[8];
	int rc;

	if (gz->failed)
		return wp_error_set(err, WP_EIO, "gzip stream failed earlier");
	if ((rc = submit(gz, true, err)) < 0)
		return rc;
	while (gz->in_flight)
		if ((rc = drain(gz, true, err)) < 0)
			return rc;
	for (int i = 0; i < 4; i++) {
		trailer[i] = (unsigned char)(gz->crc >> (8 * i));
		trailer[4 + i] = (unsigned char)(gz->total >> (8 * i));
	}
	return emit(gz, trailer, sizeof(trailer), err);
}

void wp_gzip_free(wp_gzip *gz)
{
	if (!gz)
		return;
	pthread_mutex_lock(&gz->mu);
	gz->stop = true;
	pthread_cond_broadcast(&gz->work_cv);
	pthread_mutex_unlock(&gz->mu);
	for (int i = 0; i < gz->nworkers; i++)
		pthread_join(gz->workers[i], NULL);
	if (gz->inline_init)
		deflateEnd(&gz->inline_zs);
	for (unsigned i = 0; gz->jobs && i < gz->njobs; i++) {
		free(gz->jobs[i].in);
		free(gz->jobs[i].out);
	}
	free(gz->jobs);
	pthread_mutex_destroy(&gz->mu);
	pthread_cond_destroy(&gz->work_cv);
	pthread_cond_destroy(&gz->done_cv);
	free(gz);
}
