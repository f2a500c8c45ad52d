/* A Spin HTTP component in C, with the component model's canonical ABI written by hand
 * (no wit-bindgen in Debian 12): clang builds the core module with no libc, `jco embed`
 * adds testdata/http/world.wit and `jco new` makes the component
 * (scripts/http-component.sh). The tests route to it:
 *   /hello            200 "hello from a C component", with GREETING from the env
 *   /echo             the request's body back (streamed through, any size)
 *   .../headers       each request header as "name: value" lines, then the GREETING of the
 *                     component's env as "x-greeting: ..."
 *   /status/NNN       status NNN with no body at all (a null body)
 *   /stream           three chunks, 300 ms apart
 *   /env/NAME         the component's environment variable NAME
 *   /var/NAME         Spin's variable NAME (fermyon:spin/variables)
 *   /kv/STORE/KEY     GET reads, PUT/POST writes the body (fermyon:spin/key-value)
 *   /file/PATH        the file PATH from the component's files
 *   /fetch/HOST:PORT/PATH   an outbound GET of http://HOST:PORT/PATH, its body back
 *   /sqlite           (-DWITH_SQLITE) opens Spin's database "default": what the host says
 *   /poke             (-DWITH_UNKNOWN) calls an interface no host provides
 *   anything else     200 "route PATH" */
#include <stddef.h>
#include <stdint.h>

#define IMPORT(mod, name) __attribute__((import_module(mod), import_name(name)))
#define HTTP "wasi:http/types@0.2.12"
#define IO "wasi:io/streams@0.2.12"
#define POLL "wasi:io/poll@0.2.12"

/* ---- no libc: memory, strings ---- */
static uintptr_t heap_top;

__attribute__((export_name("cabi_realloc"))) void *cabi_realloc(void *old, size_t old_len, size_t align, size_t len)
{
	extern unsigned char __heap_base;
	uintptr_t p;

	if (!heap_top)
		heap_top = (uintptr_t)&__heap_base;
	p = (heap_top + align - 1) & ~(uintptr_t)(align - 1);
	if (p + len > __builtin_wasm_memory_size(0) * 65536u) {
		size_t pages = (p + len - __builtin_wasm_memory_size(0) * 65536u + 65535) / 65536;

		if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1)
			__builtin_trap();
	}
	heap_top = p + len;
	if (old)
		for (size_t i = 0; i < old_len && i < len; i++)
			((unsigned char *)p)[i] = ((unsigned char *)old)[i];
	return (void *)p;
}

static size_t slen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

static int prefix(const char *s, size_t n, const char *p)
{
	size_t k = slen(p);

	if (n < k)
		return 0;
	for (size_t i = 0; i < k; i++)
		if (s[i] != p[i])
			return 0;
	return 1;
}

static int same(const char *a, size_t an, const char *b)
{
	return an == slen(b) && prefix(a, an, b);
}

static int eqn(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

typedef struct {
	char *p;
	size_t n, cap;
} buf;

static void put(buf *b, const void *d, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 256) + n;

		b->p = cabi_realloc(b->p, b->n, 1, cap);
		b->cap = cap;
	}
	for (size_t i = 0; i < n; i++)
		b->p[b->n + i] = ((const char *)d)[i];
	b->n += n;
}

static void puts_(buf *b, const char *s)
{
	put(b, s, slen(s));
}

/* ---- the imports ---- */
IMPORT(HTTP, "[constructor]fields") int32_t fields_new(void);
IMPORT(HTTP, "[method]fields.append") void fields_append(int32_t, const char *, size_t, const void *, size_t, void *ret);
IMPORT(HTTP, "[method]fields.entries") void fields_entries(int32_t, void *ret);
IMPORT(HTTP, "[method]incoming-request.method") void req_method(int32_t, void *ret);
IMPORT(HTTP, "[method]incoming-request.path-with-query") void req_path(int32_t, void *ret);
IMPORT(HTTP, "[method]incoming-request.headers") int32_t req_headers(int32_t);
IMPORT(HTTP, "[method]incoming-request.consume") void req_consume(int32_t, void *ret);
IMPORT(HTTP, "[method]incoming-body.stream") void inbody_stream(int32_t, void *ret);
IMPORT(HTTP, "[static]incoming-body.finish") int32_t inbody_finish(int32_t);
IMPORT(HTTP, "[constructor]outgoing-response") int32_t resp_new(int32_t headers);
IMPORT(HTTP, "[method]outgoing-response.set-status-code") int32_t resp_status(int32_t, int32_t);
IMPORT(HTTP, "[method]outgoing-response.body") void resp_body(int32_t, void *ret);
IMPORT(HTTP, "[method]outgoing-body.write") void outbody_write(int32_t, void *ret);
IMPORT(HTTP, "[static]outgoing-body.finish") void outbody_finish(int32_t, int32_t, int32_t, void *ret);
IMPORT(HTTP, "[static]response-outparam.set")
void outparam_set(int32_t, int32_t, int32_t, int32_t, int64_t, int32_t, int32_t, int32_t, int32_t);
IMPORT(HTTP, "[constructor]outgoing-request") int32_t oreq_new(int32_t headers);
IMPORT(HTTP, "[method]outgoing-request.set-scheme") int32_t oreq_scheme(int32_t, int32_t, int32_t, const char *, size_t);
IMPORT(HTTP, "[method]outgoing-request.set-authority") int32_t oreq_authority(int32_t, int32_t, const char *, size_t);
IMPORT(HTTP, "[method]outgoing-request.set-path-with-query") int32_t oreq_path(int32_t, int32_t, const char *, size_t);
IMPORT(HTTP, "[method]future-incoming-response.subscribe") int32_t fut_subscribe(int32_t);
IMPORT(HTTP, "[method]future-incoming-response.get") void fut_get(int32_t, void *ret);
IMPORT(HTTP, "[method]incoming-response.status") int32_t iresp_status(int32_t);
IMPORT(HTTP, "[method]incoming-response.consume") void iresp_consume(int32_t, void *ret);
IMPORT(HTTP, "[resource-drop]output-stream") void drop_out(int32_t);
IMPORT("wasi:http/outgoing-handler@0.2.12", "handle") void out_handle(int32_t, int32_t, int32_t, void *ret);
IMPORT(IO, "[method]input-stream.blocking-read") void in_read(int32_t, int64_t, void *ret);
IMPORT(IO, "[method]output-stream.blocking-write-and-flush") void out_write(int32_t, const void *, size_t, void *ret);
IMPORT(IO, "[resource-drop]output-stream") void io_drop_out(int32_t);
IMPORT(POLL, "[method]pollable.block") void poll_block(int32_t);
IMPORT("wasi:clocks/monotonic-clock@0.2.12", "subscribe-duration") int32_t sleep_for(int64_t);
IMPORT("wasi:cli/environment@0.2.12", "get-environment") void get_env(void *ret);
IMPORT("wasi:filesystem/preopens@0.2.12", "get-directories") void get_dirs(void *ret);
IMPORT("wasi:filesystem/types@0.2.12", "[method]descriptor.open-at")
void open_at(int32_t, int32_t, const char *, size_t, int32_t, int32_t, void *ret);
IMPORT("wasi:filesystem/types@0.2.12", "[method]descriptor.read-via-stream") void read_via(int32_t, int64_t, void *ret);
#ifndef WASI_ONLY
IMPORT("fermyon:spin/variables@2.0.0", "get") void var_get(const char *, size_t, void *ret);
IMPORT("fermyon:spin/key-value@2.0.0", "[static]store.open") void kv_open(const char *, size_t, void *ret);
IMPORT("fermyon:spin/key-value@2.0.0", "[method]store.get") void kv_get(int32_t, const char *, size_t, void *ret);
IMPORT("fermyon:spin/key-value@2.0.0", "[method]store.set") void kv_set(int32_t, const char *, size_t, const void *, size_t, void *ret);
#endif

#ifdef WITH_SQLITE
IMPORT("fermyon:spin/sqlite@2.0.0", "[static]connection.open") void sqlite_open(const char *, size_t, void *ret);
#endif
#ifdef WITH_UNKNOWN
IMPORT("wasmpack:http-hello/unknown", "poke") void poke(void);
#endif

/* return areas, 8-aligned */
static uint64_t ret_area[8];
#define R8(off) (((uint8_t *)ret_area)[off])
#define R32(off) (*(int32_t *)((uint8_t *)ret_area + (off)))

/* ---- a response ---- */
typedef struct {
	int32_t outparam, resp, body, out;
} reply;

static void header(int32_t fields, const char *k, const char *v)
{
	fields_append(fields, k, slen(k), v, slen(v), ret_area);
}

/* Sends the status and headers; body: whether there is one. */
static void start(reply *r, int status, const char *type, int body)
{
	int32_t h = fields_new();

	if (type)
		header(h, "content-type", type);
	r->resp = resp_new(h);
	resp_status(r->resp, status);
	r->body = r->out = -1;
	if (body) {
		resp_body(r->resp, ret_area);
		r->body = R32(4);
		outbody_write(r->body, ret_area);
		r->out = R32(4);
	}
	/* ok(response) */
	outparam_set(r->outparam, 0, r->resp, 0, 0, 0, 0, 0, 0);
}

static void write_all(reply *r, const void *d, size_t n)
{
	const char *p = d;

	while (n) {
		size_t k = n > 4096 ? 4096 : n;

		out_write(r->out, p, k, ret_area);
		if (R8(0))
			return;
		p += k;
		n -= k;
	}
}

static void finish(reply *r)
{
	if (r->out >= 0)
		io_drop_out(r->out);
	if (r->body >= 0)
		outbody_finish(r->body, 0, 0, ret_area);
}

static void text(reply *r, int status, const char *s, size_t n)
{
	start(r, status, "text/plain", 1);
	write_all(r, s, n);
	finish(r);
}

/* The component's environment variable name (n bytes): 1 with its value, else 0. */
static int env_get(const char *name, size_t n, const char **v, size_t *vn)
{
	struct kv {
		const char *k;
		size_t kn;
		const char *v;
		size_t vn;
	} *env;
	size_t count;

	get_env(ret_area);
	env = (struct kv *)(uintptr_t)R32(0);
	count = (size_t)R32(4);
	for (size_t i = 0; i < count; i++)
		if (env[i].kn == n && eqn(env[i].k, name, n)) {
			*v = env[i].v;
			*vn = env[i].vn;
			return 1;
		}
	return 0;
}

/* Copies an input stream to the reply until it closes. */
static void pump(reply *r, int32_t in)
{
	for (;;) {
		in_read(in, 65536, ret_area);
		if (R8(0))
			return;
		{
			const char *p = (const char *)(uintptr_t)R32(4);
			size_t n = (size_t)R32(8);

			write_all(r, p, n);
			heap_top = (uintptr_t)p; /* the chunk is sent: its memory is free again */
		}
	}
}

#ifndef WASI_ONLY
static void handle_kv(reply *r, int32_t req, const char *rest, size_t n, int is_write)
{
	size_t slash = 0;
	int32_t store;

	while (slash < n && rest[slash] != '/')
		slash++;
	kv_open(rest, slash, ret_area);
	if (R8(0)) {
		buf b = { 0 };

		puts_(&b, R8(4) == 1 ? "no-such-store" : R8(4) == 2 ? "access-denied" : "error");
		text(r, 500, b.p, b.n);
		return;
	}
	store = R32(4);
	if (slash < n)
		slash++;
	if (is_write) {
		buf v = { 0 };
		int32_t body, in;

		req_consume(req, ret_area);
		body = R32(4);
		inbody_stream(body, ret_area);
		in = R32(4);
		for (;;) {
			in_read(in, 65536, ret_area);
			if (R8(0))
				break;
			put(&v, (const void *)(uintptr_t)R32(4), (size_t)R32(8));
		}
		kv_set(store, rest + slash, n - slash, v.p, v.n, ret_area);
		text(r, R8(0) ? 500 : 200, "stored\n", 7);
		return;
	}
	kv_get(store, rest + slash, n - slash, ret_area);
	if (R8(0))
		text(r, 500, "error\n", 6);
	else if (!R8(4))
		text(r, 404, "no such key\n", 12);
	else
		text(r, 200, (const char *)(uintptr_t)R32(8), (size_t)R32(12));
}

#endif

static void handle_fetch(reply *r, const char *rest, size_t n)
{
	size_t slash = 0;
	int32_t oreq, fut, in;

	while (slash < n && rest[slash] != '/')
		slash++;
	oreq = oreq_new(fields_new());
	oreq_scheme(oreq, 1, 0, 0, 0); /* some(HTTP) */
	oreq_authority(oreq, 1, rest, slash);
	oreq_path(oreq, 1, slash < n ? rest + slash : "/", slash < n ? n - slash : 1);
	out_handle(oreq, 0, 0, ret_area);
	if (R8(0)) {
		buf b = { 0 };
		static const char digits[] = "0123456789";
		int code = R8(8);

		puts_(&b, "outbound refused: error-code ");
		if (code >= 10)
			put(&b, &digits[code / 10], 1);
		put(&b, &digits[code % 10], 1);
		puts_(&b, "\n");
		text(r, 502, b.p, b.n);
		return;
	}
	fut = R32(8);
	poll_block(fut_subscribe(fut));
	fut_get(fut, ret_area);
	if (!R8(0) || R8(8) || R8(16)) {
		text(r, 502, "outbound failed\n", 16);
		return;
	}
	{
		int32_t resp = R32(24), body;

		iresp_consume(resp, ret_area);
		body = R32(4);
		inbody_stream(body, ret_area);
		in = R32(4);
		start(r, iresp_status(resp), "text/plain", 1);
		pump(r, in);
		finish(r);
	}
}

static void handle_file(reply *r, const char *path, size_t n)
{
	int32_t dir, fd;
	struct dirent_ {
		int32_t fd;
		const char *name;
		size_t len;
	} *dirs;
	size_t count;

	get_dirs(ret_area);
	dirs = (struct dirent_ *)(uintptr_t)R32(0);
	count = (size_t)R32(4);
	if (!count) {
		text(r, 500, "no preopens\n", 12);
		return;
	}
	dir = dirs[0].fd;
	open_at(dir, 0, path, n, 0, 1 /* read */, ret_area);
	if (R8(0)) {
		text(r, 404, "no such file\n", 13);
		return;
	}
	fd = R32(4);
	read_via(fd, 0, ret_area);
	if (R8(0)) {
		text(r, 500, "cannot read\n", 12);
		return;
	}
	start(r, 200, "application/octet-stream", 1);
	pump(r, R32(4));
	finish(r);
}

static void handle_hello(reply *r)
{
	buf b = { 0 };
	const char *v;
	size_t vn;

	puts_(&b, "hello from a C component");
	if (env_get("GREETING", 8, &v, &vn)) {
		puts_(&b, ", ");
		put(&b, v, vn);
	}
	puts_(&b, "\n");
	text(r, 200, b.p, b.n);
}

static void handle_echo(reply *r, int32_t req)
{
	int32_t body, in;

	req_consume(req, ret_area);
	body = R32(4);
	inbody_stream(body, ret_area);
	in = R32(4);
	start(r, 200, "application/octet-stream", 1);
	pump(r, in);
	finish(r);
}

/* The request's headers as the component sees them, and GREETING as x-greeting. */
static void handle_headers(reply *r, int32_t req)
{
	struct ent {
		const char *k;
		size_t kn;
		const char *v;
		size_t vn;
	} *e;
	size_t count, vn;
	const char *v;
	buf b = { 0 };

	fields_entries(req_headers(req), ret_area);
	e = (struct ent *)(uintptr_t)R32(0);
	count = (size_t)R32(4);
	for (size_t i = 0; i < count; i++) {
		put(&b, e[i].k, e[i].kn);
		puts_(&b, ": ");
		put(&b, e[i].v, e[i].vn);
		puts_(&b, "\n");
	}
	if (env_get("GREETING", 8, &v, &vn)) {
		puts_(&b, "x-greeting: ");
		put(&b, v, vn);
		puts_(&b, "\n");
	}
	text(r, 200, b.p, b.n);
}

static void handle_stream(reply *r)
{
	start(r, 200, "text/plain", 1);
	for (int i = 0; i < 3; i++) {
		char line[] = "chunk 0\n";

		line[6] = (char)('1' + i);
		if (i)
			poll_block(sleep_for(300000000LL));
		write_all(r, line, 8);
	}
	finish(r);
}

static void handle_env(reply *r, const char *name, size_t n)
{
	const char *v;
	size_t vn;

	if (env_get(name, n, &v, &vn))
		text(r, 200, v, vn);
	else
		text(r, 404, "unset\n", 6);
}

#ifndef WASI_ONLY
static void handle_var(reply *r, const char *name, size_t n)
{
	static const char *const kinds[] = { "invalid-name", "undefined", "provider", "other" };
	buf b = { 0 };

	var_get(name, n, ret_area);
	if (!R8(0)) {
		text(r, 200, (const char *)(uintptr_t)R32(4), (size_t)R32(8));
		return;
	}
	puts_(&b, kinds[R8(4) & 3]);
	puts_(&b, ": ");
	put(&b, (const char *)(uintptr_t)R32(8), (size_t)R32(12));
	puts_(&b, "\n");
	text(r, 500, b.p, b.n);
}
#endif

#ifdef WITH_SQLITE
static void handle_sqlite(reply *r)
{
	static const char *const errs[] = { "no-such-database", "access-denied", "invalid-connection", "database-full", "io" };
	buf b = { 0 };

	sqlite_open("default", 7, ret_area);
	if (!R8(0)) {
		text(r, 200, "opened\n", 7);
		return;
	}
	puts_(&b, "sqlite: ");
	puts_(&b, errs[R8(4) < 5 ? R8(4) : 4]);
	puts_(&b, "\n");
	text(r, 500, b.p, b.n);
}
#endif

static void handle_other(reply *r, const char *path, size_t n)
{
	buf b = { 0 };

	puts_(&b, "route ");
	put(&b, path, n);
	puts_(&b, "\n");
	text(r, 200, b.p, b.n);
}

__attribute__((export_name("wasi:http/incoming-handler@0.2.12#handle"))) void handle(int32_t req, int32_t outparam)
{
	reply r = { .outparam = outparam };
	const char *path;
	size_t n;
	int method;

	req_method(req, ret_area);
	method = R8(0); /* get, head, post, put, ... */
	(void)method;
	req_path(req, ret_area);
	path = R8(0) ? (const char *)(uintptr_t)R32(4) : "/";
	n = R8(0) ? (size_t)R32(8) : 1;
	for (size_t i = 0; i < n; i++)
		if (path[i] == '?')
			n = i;
	if (same(path, n, "/hello"))
		handle_hello(&r);
	else if (same(path, n, "/echo"))
		handle_echo(&r, req);
	else if ((n >= 8 && same(path + n - 8, 8, "/headers")) || (n >= 9 && same(path + n - 9, 9, "/headers/")))
		handle_headers(&r, req);
	else if (prefix(path, n, "/status/") && n == 11)
		start(&r, (path[8] - '0') * 100 + (path[9] - '0') * 10 + (path[10] - '0'), 0, 0);
	else if (same(path, n, "/stream"))
		handle_stream(&r);
	else if (prefix(path, n, "/env/"))
		handle_env(&r, path + 5, n - 5);
#ifndef WASI_ONLY
	else if (prefix(path, n, "/var/"))
		handle_var(&r, path + 5, n - 5);
	else if (prefix(path, n, "/kv/"))
		handle_kv(&r, req, path + 4, n - 4, method == 3 || method == 2);
#endif
#ifdef WITH_SQLITE
	else if (same(path, n, "/sqlite"))
		handle_sqlite(&r);
#endif
#ifdef WITH_UNKNOWN
	else if (same(path, n, "/poke")) {
		poke();
		text(&r, 200, "poked\n", 6);
	}
#endif
	else if (prefix(path, n, "/file/"))
		handle_file(&r, path + 6, n - 6);
	else if (prefix(path, n, "/fetch/"))
		handle_fetch(&r, path + 7, n - 7);
	else
		handle_other(&r, path, n);
}
