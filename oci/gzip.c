#include "common/alloc.h"
#include "oci/gzip.h"
#include "common/crc32.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define CHUNK (128u << 10)
#define DICT (32u << 10)
#define PROBE (8u << 10)
/* Content runs shorter than this are coded with what surrounds them. */
#define MIN_STORED_RUN 256u
/* Pieces shorter than this are deflated with a small hash table: resetting the full one
 * (64 KiB) for each short run of tar framing would cost more than coding it. */
#define SMALL_PIECE (16u << 10)
#define MAX_THREADS 16

enum job_state { JOB_FREE, JOB_FILLING, JOB_QUEUED, JOB_RUNNING, JOB_DONE };

/* A stretch of a chunk and how it is coded: deflated into out[out_off..+out_len], or
 * stored, framed from in[off..+len] when it is handed on. */
typedef struct piece {
	size_t off, len;
	size_t out_off, out_len;
	bool stored;
} piece;

typedef struct job {
	unsigned char *in;
	size_t in_len;
	unsigned char dict[DICT];
	size_t dict_len;
	bool last;
	/* Where the kind of the bytes changes: kind0 at offset 0, flipping at each mark. */
	int kind0;
	size_t *marks;
	size_t nmarks, marks_cap;
	piece *pieces;
	size_t npieces, pieces_cap;
	bool planned;      /* pieces already cut (by the caller, to see what the chunk costs) */
	unsigned char *out;
	size_t out_len, out_cap;
	int zerr;
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
	int kind;          /* of the bytes written next */
	unsigned char prev_tail[DICT];
	size_t prev_tail_len;
	uLong crc;
	unsigned long long total;
	bool header_done, stop;
	atomic_bool failed;
	pthread_t workers[MAX_THREADS];
	int nworkers;
	/* With threads, finished chunks go to the sink from a thread of their own, in order,
	 * straight from the chunk buffers: the caller only fills chunks. */
	pthread_t drainer;
	bool drainer_started;
	wp_error drain_err;
	pthread_mutex_t mu;
	pthread_cond_t work_cv, done_cv, space_cv;
	/* Wake-ups are what costs on a busy machine (an interrupt to another processor, a
	 * context switch), so sleepers are counted and woken in batches. */
	int idle_workers;
	unsigned unclaimed;  /* queued chunks no worker has taken */
	bool filler_waits;   /* the caller waits for room */
	struct coder *inline_coder;
};

/* A worker's deflate state: a full one for long pieces, a small one for short ones. */
typedef struct coder {
	z_stream big, small;
	bool big_ok, small_ok;
} coder;

/* log2(x) in 16.16 fixed point, by integer arithmetic only (the same on every machine, so
 * the coding choices and the output stay reproducible): the integer part is the top bit,
 * each fraction bit comes from squaring the mantissa. */
static uint64_t log2_q16(uint32_t x)
{
	int k = 31 - __builtin_clz(x);
	uint64_t m = (uint64_t)x << (31 - k), r = (uint64_t)k << 16;

	for (int bit = 15; bit >= 0; bit--) {
		m = (m * m) >> 31;
		if (m >= (1ull << 32)) {
			r |= 1ull << bit;
			m >>= 1;
		}
	}
	return r;
}

/* k log2(k) in 16.16 fixed point for every count a probe can see. */
#define ENTROPY_PROBE 4096u
static uint64_t klogk[ENTROPY_PROBE + 1];
static pthread_once_t klogk_once = PTHREAD_ONCE_INIT;

static void klogk_init(void)
{
	for (uint32_t k = 1; k <= ENTROPY_PROBE; k++)
		klogk[k] = k * log2_q16(k);
}

/* Already-compressed or random data (images, fonts, archives, model weights) gains nothing
 * from deflate, which is slowest on exactly such data. If the byte frequencies of the first
 * 4 KiB leave less than 2% (at least 64 bytes) for any entropy coder to save, the run is
 * stored. Random bytes show a saving of about 23 bytes from sampling alone. */
static bool incompressible(const unsigned char *p, size_t n)
{
	uint16_t hist[4][256] = { { 0 } };
	uint64_t bits;
	size_t i = 0, m = n < ENTROPY_PROBE ? n : ENTROPY_PROBE;

	pthread_once(&klogk_once, klogk_init);
	for (; i + 4 <= m; i += 4) {
		hist[0][p[i]]++;
		hist[1][p[i + 1]]++;
		hist[2][p[i + 2]]++;
		hist[3][p[i + 3]]++;
	}
	for (; i < m; i++)
		hist[0][p[i]]++;
	/* the entropy in bits, times m: m log2(m) - sum of k log2(k) over the byte counts k */
	bits = klogk[m];
	for (int c = 0; c < 256; c++)
		bits -= klogk[hist[0][c] + hist[1][c] + hist[2][c] + hist[3][c]];
	/* saving in bytes = m - bits/8, with bits in 1/65536 */
	{
		uint64_t coded = bits / (8u << 16), limit = m / 50 > 64 ? m / 50 : 64;

		return coded + limit >= m;
	}
}

/* Deflated size of the first PROBE bytes of a piece with the given strategy, or -1. */
static long probe(z_stream *zs, const unsigned char *p, size_t n, const unsigned char *dict, size_t dict_len,
		  int strategy, unsigned char *scratch, size_t cap)
{
	if (deflateReset(zs) != Z_OK || deflateParams(zs, 1, strategy) != Z_OK)
		return -1;
	if (strategy != Z_HUFFMAN_ONLY && dict_len && deflateSetDictionary(zs, dict, (uInt)dict_len) != Z_OK)
		return -1;
	zs->next_in = (unsigned char *)p;
	zs->avail_in = (uInt)(n < PROBE ? n : PROBE);
	zs->next_out = scratch;
	zs->avail_out = (uInt)cap;
	if (deflate(zs, Z_SYNC_FLUSH) == Z_STREAM_ERROR || zs->avail_in)
		return -1;
	return (long)(cap - zs->avail_out);
}

enum { CODE_LZ, CODE_HUFFMAN };

/* Data that entropy coding shrinks but string matching hardly does (some media formats)
 * is Huffman-coded, about four times faster than matching: if matches add less than 3%
 * over Huffman coding on the first PROBE bytes. */
static int choose_coding(z_stream *zs, const unsigned char *p, size_t n, const unsigned char *dict, size_t dict_len)
{
	unsigned char scratch[PROBE + PROBE / 2 + 256];
	long lz, huff;

	if (n < 2 * PROBE)
		return CODE_LZ;
	huff = probe(zs, p, n, dict, dict_len, Z_HUFFMAN_ONLY, scratch, sizeof(scratch));
	if (huff < 0)
		return CODE_LZ;
	lz = probe(zs, p, n, dict, dict_len, Z_DEFAULT_STRATEGY, scratch, sizeof(scratch));
	if (lz < 0)
		return CODE_LZ;
	return lz * 100 > huff * 97 ? CODE_HUFFMAN : CODE_LZ;
}

static int add_piece(job *j, size_t off, size_t len, bool stored)
{
	if (j->npieces && j->pieces[j->npieces - 1].stored == stored) {
		j->pieces[j->npieces - 1].len += len;
		return 0;
	}
	if (j->npieces == j->pieces_cap) {
		size_t cap = j->pieces_cap ? j->pieces_cap * 2 : 16;

		j->pieces = wp_xreallocarray(j->pieces, cap, sizeof(*j->pieces));
		j->pieces_cap = cap;
	}
	j->pieces[j->npieces++] = (piece){ .off = off, .len = len, .stored = stored };
	return 0;
}

/* Cuts a chunk into pieces: content runs that look incompressible are stored, everything
 * else (framing, short or compressible content) is deflated, adjacent ones together. */
static int plan_pieces(job *j)
{
	size_t off = 0;
	int kind = j->kind0;

	j->npieces = 0;
	for (size_t m = 0; m <= j->nmarks; m++) {
		size_t end = m < j->nmarks ? j->marks[m] : j->in_len;

		if (end > off) {
			bool stored = kind == WP_GZIP_CONTENT && end - off >= MIN_STORED_RUN &&
				      incompressible(j->in + off, end - off);

			if (add_piece(j, off, end - off, stored) < 0)
				return -1;
		}
		off = end;
		kind = !kind;
	}
	if (j->npieces == 0 && add_piece(j, 0, 0, false) < 0)
		return -1;
	return 0;
}

static int deflate_piece(coder *c, int level, job *j, piece *pc, bool finish)
{
	bool small = pc->len < SMALL_PIECE;
	z_stream *zs = small ? &c->small : &c->big;
	/* The previous chunk's tail as a preset dictionary, no more of it than the piece is
	 * long (loading it costs as much as coding that many bytes). A piece inside the chunk
	 * follows a stored one, whose bytes would not match anything: it starts afresh. */
	const unsigned char *dict = j->dict;
	size_t dict_len = pc->off ? 0 : j->dict_len < pc->len ? j->dict_len : pc->len;
	int coding;
	size_t bound;

	if (!(small ? c->small_ok : c->big_ok))
		return Z_MEM_ERROR;
	dict += j->dict_len - dict_len;
	coding = small ? CODE_LZ : choose_coding(zs, j->in + pc->off, pc->len, dict, dict_len);
	bound = deflateBound(zs, (uLong)pc->len) + 64;
	if (j->out_cap - j->out_len < bound) {
		j->out = wp_xrealloc(j->out, j->out_len + bound);
		j->out_cap = j->out_len + bound;
	}
	if (deflateReset(zs) != Z_OK ||
	    deflateParams(zs, coding == CODE_HUFFMAN ? 1 : level, coding == CODE_HUFFMAN ? Z_HUFFMAN_ONLY : Z_DEFAULT_STRATEGY) != Z_OK)
		return Z_STREAM_ERROR;
	if (coding == CODE_LZ && dict_len && deflateSetDictionary(zs, dict, (uInt)dict_len) != Z_OK)
		return Z_STREAM_ERROR;
	zs->next_in = j->in + pc->off;
	zs->avail_in = (uInt)pc->len;
	zs->next_out = j->out + j->out_len;
	zs->avail_out = (uInt)(j->out_cap - j->out_len);
	if (deflate(zs, finish ? Z_FINISH : Z_SYNC_FLUSH) == Z_STREAM_ERROR)
		return Z_STREAM_ERROR;
	if (zs->avail_in != 0 || (finish && zs->avail_out == 0))
		return Z_BUF_ERROR;
	pc->out_off = j->out_len;
	pc->out_len = j->out_cap - j->out_len - zs->avail_out;
	j->out_len += pc->out_len;
	return Z_OK;
}

static int compress_job(coder *c, int level, job *j)
{
	int rc;

	j->out_len = 0;
	if (!j->planned && plan_pieces(j) < 0)
		return Z_MEM_ERROR;
	/* Stored pieces need no deflate pass over the data (nor a copy of it): emit_stored
	 * frames them as zlib's level 0 does (RFC 1951 section 3.2.4). */
	for (size_t i = 0; i < j->npieces; i++)
		if (!j->pieces[i].stored &&
		    (rc = deflate_piece(c, level, j, &j->pieces[i], j->last && i + 1 == j->npieces)) != Z_OK)
			return rc;
	return Z_OK;
}

static void coder_end(coder *c)
{
	if (c->big_ok)
		deflateEnd(&c->big);
	if (c->small_ok)
		deflateEnd(&c->small);
	c->big_ok = c->small_ok = false;
}

static void start_job(wp_gzip *gz, job *j);
static void *drainer_main(void *arg);

static void coder_init(coder *c, int level)
{
	memset(c, 0, sizeof(*c));
	/* Raw deflate (negative window bits): the gzip header and trailer are written here. */
	c->big_ok = deflateInit2(&c->big, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK;
	c->small_ok = deflateInit2(&c->small, level, Z_DEFLATED, -15, 1, Z_DEFAULT_STRATEGY) == Z_OK;
}

static void *worker_main(void *arg)
{
	wp_gzip *gz = arg;
	coder c;

	coder_init(&c, gz->level);
	pthread_mutex_lock(&gz->mu);
	for (;;) {
		job *j;

		while (!gz->stop && gz->jobs[gz->next_run].state != JOB_QUEUED) {
			gz->idle_workers++;
			pthread_cond_wait(&gz->work_cv, &gz->mu);
			gz->idle_workers--;
		}
		if (gz->stop)
			break;
		j = &gz->jobs[gz->next_run];
		gz->unclaimed--;
		gz->next_run = (gz->next_run + 1) % gz->njobs;
		j->state = JOB_RUNNING;
		pthread_mutex_unlock(&gz->mu);
		j->zerr = compress_job(&c, gz->level, j);
		pthread_mutex_lock(&gz->mu);
		j->state = JOB_DONE;
		if (j == &gz->jobs[gz->oldest])
			pthread_cond_signal(&gz->done_cv);
	}
	pthread_mutex_unlock(&gz->mu);
	coder_end(&c);
	return NULL;
}

int wp_gzip_new(wp_gzip **out, int level, int threads, wp_gzip_sink sink, void *ctx, wp_error *err)
{
	wp_gzip *gz = wp_xcalloc(1, sizeof(*gz));

	*out = NULL;
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	gz->level = level;
	gz->threads = threads < 0 ? 0 : threads;
	gz->sink = sink;
	gz->ctx = ctx;
	gz->kind = WP_GZIP_CONTENT;
	/* Chunks in flight: enough that the in-order hand-off to the sink seldom waits for a
	 * slow chunk (about 4 MiB with 2 threads). */
	gz->njobs = gz->threads ? (unsigned)gz->threads * 8 + 2 : 1;
	gz->jobs = wp_xcalloc(gz->njobs, sizeof(*gz->jobs));
	gz->crc = crc32(0L, Z_NULL, 0);
	pthread_mutex_init(&gz->mu, NULL);
	pthread_cond_init(&gz->work_cv, NULL);
	pthread_cond_init(&gz->done_cv, NULL);
	pthread_cond_init(&gz->space_cv, NULL);
	for (unsigned i = 0; i < gz->njobs; i++) {
		gz->jobs[i].in = wp_xmalloc(CHUNK);
	}
	{
		gz->inline_coder = wp_xmalloc(sizeof(*gz->inline_coder));
		if (gz->inline_coder)
			coder_init(gz->inline_coder, level);
		if (!gz->inline_coder || !gz->inline_coder->big_ok || !gz->inline_coder->small_ok) {
			wp_gzip_free(gz);
			return wp_error_set(err, WP_ENOMEM, "starting gzip failed");
		}
	}
	for (int i = 0; i < gz->threads; i++) {
		if (pthread_create(&gz->workers[i], NULL, worker_main, gz) != 0)
			break;
		gz->nworkers++;
	}
	if (gz->threads && gz->nworkers && pthread_create(&gz->drainer, NULL, drainer_main, gz) == 0)
		gz->drainer_started = true;
	if (gz->threads && !gz->drainer_started) {
		wp_gzip_free(gz);
		return wp_error_set(err, WP_EIO, "starting gzip threads failed");
	}
	start_job(gz, &gz->jobs[0]);
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

/* Stored bytes as zlib writes them at level 0: blocks of at most 65,535 bytes, each a
 * 3-bit header padded to a byte (BFINAL only on the last block of the stream) then LEN
 * and its one's complement, little-endian (RFC 1951 section 3.2.4). */
static int emit_stored(wp_gzip *gz, const unsigned char *p, size_t n, bool final, wp_error *err)
{
	size_t off = 0;
	int rc;

	do {
		size_t len = n - off > 65535 ? 65535 : n - off;
		unsigned char h[5] = { final && off + len == n, (unsigned char)len, (unsigned char)(len >> 8),
				       (unsigned char)~len, (unsigned char)(~len >> 8) };

		if ((rc = emit(gz, h, sizeof(h), err)) < 0 || (len && (rc = emit(gz, p + off, len, err)) < 0))
			return rc;
		off += len;
	} while (off < n);
	return 0;
}

/* A chunk's pieces in order. A chunk that is not the last and ends stored closes with an
 * empty stored block, as zlib's Z_SYNC_FLUSH does, so a wholly stored chunk is byte for
 * byte zlib's level 0 output. */
static int emit_job(wp_gzip *gz, const job *j, wp_error *err)
{
	int rc;

	for (size_t i = 0; i < j->npieces; i++) {
		const piece *pc = &j->pieces[i];

		rc = pc->stored ? emit_stored(gz, j->in + pc->off, pc->len, j->last && i + 1 == j->npieces, err)
				: emit(gz, j->out + pc->out_off, pc->out_len, err);
		if (rc < 0)
			return rc;
	}
	if (!j->last && j->npieces && j->pieces[j->npieces - 1].stored) {
		static const unsigned char empty[5] = { 0, 0, 0, 0xff, 0xff };

		return emit(gz, empty, sizeof(empty), err);
	}
	return 0;
}

/* A coded chunk to the sink, and into the running CRC (taken here, in order: the thread
 * that hands chunks on has time to spare, the filling one does not). */
static int hand_over(wp_gzip *gz, const job *j, wp_error *err)
{
	int rc;

	if (j->zerr != Z_OK)
		return wp_error_set(err, WP_EIO, "gzip compression failed (zlib error %d)", j->zerr);
	if ((rc = emit_job(gz, j, err)) < 0)
		return rc;
	gz->crc = wp_crc32((uint32_t)gz->crc, j->in, j->in_len);
	return 0;
}

static void *drainer_main(void *arg)
{
	wp_gzip *gz = arg;

	pthread_mutex_lock(&gz->mu);
	for (;;) {
		job *j = &gz->jobs[gz->oldest];
		int rc = 0;

		while (!gz->stop && !(gz->in_flight && j->state == JOB_DONE))
			pthread_cond_wait(&gz->done_cv, &gz->mu);
		if (!(gz->in_flight && j->state == JOB_DONE))
			break;
		pthread_mutex_unlock(&gz->mu);
		/* After a failure the chunks are still taken off, so that nobody waits for room. */
		if (!gz->failed)
			rc = hand_over(gz, j, &gz->drain_err);
		pthread_mutex_lock(&gz->mu);
		if (rc < 0)
			gz->failed = true;
		j->state = JOB_FREE;
		gz->in_flight--;
		gz->oldest = (gz->oldest + 1) % gz->njobs;
		if (gz->in_flight == 0 || (gz->filler_waits && gz->in_flight + 4 <= gz->njobs))
			pthread_cond_signal(&gz->space_cv);
	}
	pthread_mutex_unlock(&gz->mu);
	return NULL;
}

static int drained_error(wp_gzip *gz, wp_error *err)
{
	if (gz->drain_err.code) {
		*err = gz->drain_err;
		return err->code;
	}
	return wp_error_set(err, WP_EIO, "gzip stream failed earlier");
}

static size_t deflated_bytes(const job *j)
{
	size_t n = 0;

	for (size_t i = 0; i < j->npieces; i++)
		if (!j->pieces[i].stored)
			n += j->pieces[i].len;
	return n;
}

static void start_job(wp_gzip *gz, job *j)
{
	j->planned = false;
	j->state = JOB_FILLING;
	j->in_len = 0;
	j->nmarks = 0;
	j->kind0 = gz->kind;
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
		j->zerr = compress_job(gz->inline_coder, gz->level, j);
		if ((rc = hand_over(gz, j, err)) < 0)
			gz->failed = true;
		start_job(gz, j);
		return rc;
	}
	/* A chunk with little to deflate (stored contents, tar framing) is cheaper to finish
	 * here than to hand to a worker: waking one costs about as much as the work. Only
	 * when no chunk waits for a worker, so that they still take chunks in order. */
	j->planned = plan_pieces(j) == 0;
	pthread_mutex_lock(&gz->mu);
	gz->in_flight++;
	if (j->planned && gz->unclaimed == 0 && deflated_bytes(j) < SMALL_PIECE) {
		j->state = JOB_RUNNING;
		gz->next_run = (gz->next_run + 1) % gz->njobs;
		pthread_mutex_unlock(&gz->mu);
		j->zerr = compress_job(gz->inline_coder, gz->level, j);
		pthread_mutex_lock(&gz->mu);
		j->state = JOB_DONE;
		if (j == &gz->jobs[gz->oldest])
			pthread_cond_signal(&gz->done_cv);
	} else {
		j->state = JOB_QUEUED;
		gz->unclaimed++;
		/* an idle worker is woken for two chunks at a time, or for the last */
		if (gz->idle_workers && (gz->unclaimed >= 2 || last || gz->in_flight >= gz->njobs - 1))
			pthread_cond_signal(&gz->work_cv);
	}
	gz->fill = (gz->fill + 1) % gz->njobs;
	while (gz->jobs[gz->fill].state != JOB_FREE && !gz->failed) {
		gz->filler_waits = true;
		pthread_cond_wait(&gz->space_cv, &gz->mu);
		gz->filler_waits = false;
	}
	pthread_mutex_unlock(&gz->mu);
	if (gz->failed)
		return drained_error(gz, err);
	start_job(gz, &gz->jobs[gz->fill]);
	return 0;
}

void wp_gzip_hint(wp_gzip *gz, wp_gzip_kind kind)
{
	gz->kind = kind == WP_GZIP_FRAMING ? WP_GZIP_FRAMING : WP_GZIP_CONTENT;
}

/* Records where the kind of the bytes in the job being filled changes. */
static void note_kind(wp_gzip *gz, job *j)
{
	int cur = j->kind0 ^ (int)(j->nmarks & 1);

	if (cur == gz->kind)
		return;
	if (j->in_len == 0) {
		j->kind0 = gz->kind;
		return;
	}
	if (j->nmarks && j->marks[j->nmarks - 1] == j->in_len) {
		j->nmarks--;
		return;
	}
	if (j->nmarks == j->marks_cap) {
		j->marks_cap = j->marks_cap ? j->marks_cap * 2 : 64;
		j->marks = wp_xreallocarray(j->marks, j->marks_cap, sizeof(*j->marks));
	}
	j->marks[j->nmarks++] = j->in_len;
}

void *wp_gzip_reserve(wp_gzip *gz, size_t *room, wp_error *err)
{
	job *j = &gz->jobs[gz->fill];

	if (gz->failed) {
		drained_error(gz, err);
		return NULL;
	}
	note_kind(gz, j);
	*room = CHUNK - j->in_len;
	return j->in + j->in_len;
}

int wp_gzip_commit(wp_gzip *gz, size_t n, wp_error *err)
{
	job *j = &gz->jobs[gz->fill];

	j->in_len += n;
	return j->in_len == CHUNK ? submit(gz, false, err) : 0;
}

int wp_gzip_write(wp_gzip *gz, const void *data, size_t len, wp_error *err)
{
	const unsigned char *p = data;

	if (gz->failed)
		return drained_error(gz, err);
	while (len > 0) {
		job *j = &gz->jobs[gz->fill];
		size_t n = CHUNK - j->in_len < len ? CHUNK - j->in_len : len;
		int rc;

		note_kind(gz, j);
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
		return drained_error(gz, err);
	if ((rc = submit(gz, true, err)) < 0)
		return rc;
	if (gz->threads) {
		pthread_mutex_lock(&gz->mu);
		while (gz->in_flight)
			pthread_cond_wait(&gz->space_cv, &gz->mu);
		pthread_mutex_unlock(&gz->mu);
		if (gz->failed)
			return drained_error(gz, err);
	}
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
	pthread_cond_broadcast(&gz->done_cv);
	pthread_mutex_unlock(&gz->mu);
	for (int i = 0; i < gz->nworkers; i++)
		pthread_join(gz->workers[i], NULL);
	if (gz->drainer_started)
		pthread_join(gz->drainer, NULL);
	if (gz->inline_coder) {
		coder_end(gz->inline_coder);
		free(gz->inline_coder);
	}
	for (unsigned i = 0; gz->jobs && i < gz->njobs; i++) {
		free(gz->jobs[i].in);
		free(gz->jobs[i].out);
		free(gz->jobs[i].marks);
		free(gz->jobs[i].pieces);
	}
	free(gz->jobs);
	pthread_mutex_destroy(&gz->mu);
	pthread_cond_destroy(&gz->work_cv);
	pthread_cond_destroy(&gz->done_cv);
	pthread_cond_destroy(&gz->space_cv);
	free(gz);
}
