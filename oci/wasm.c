#include "oci/wasm.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int wp_wasm_kind_of(const unsigned char *h, size_t len)
{
	if (len < 8 || memcmp(h, "\0asm", 4) != 0)
		return WP_WASM_NONE;
	if (h[4] == 1 && h[5] == 0 && h[6] == 0 && h[7] == 0)
		return WP_WASM_MODULE;
	if (h[6] == 1 && h[7] == 0)
		return WP_WASM_COMPONENT;
	return WP_WASM_NONE;
}

int wp_wasm_sniff_file(const char *path, int *kind, wp_error *err)
{
	unsigned char head[8];
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	ssize_t n;

	*kind = WP_WASM_NONE;
	if (fd < 0)
		return wp_error_sys(err, WP_EIO, "opening wasm file '%s'", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return wp_error_set(err, WP_EINVALID, "'%s' is not a regular file", path);
	n = read(fd, head, sizeof(head));
	if (n < 0)
		return wp_error_sys(err, WP_EIO, "reading wasm file '%s'", path);
	*kind = wp_wasm_kind_of(head, (size_t)n);
	if (*kind == WP_WASM_NONE)
		return wp_error_set(err, WP_EINVALID, "'%s' is not a wasm binary (no \\0asm preamble of a module or component)", path);
	return 0;
}

typedef struct reader {
	const unsigned char *p, *end;
} reader;

static int read_u32(reader *r, uint32_t *out)
{
	uint32_t v = 0;

	for (int shift = 0; shift < 35; shift += 7) {
		unsigned char b;

		if (r->p >= r->end)
			return -1;
		b = *r->p++;
		v |= (uint32_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -1;
}

static int read_byte(reader *r, unsigned char *b)
{
	if (r->p >= r->end)
		return -1;
	*b = *r->p++;
	return 0;
}

static int read_name(reader *r, char **out)
{
	uint32_t len;

	if (read_u32(r, &len) < 0 || (size_t)(r->end - r->p) < len)
		return -1;
	*out = wp_xstrndup((const char *)r->p, len);
	r->p += len;
	return 0;
}

/* importname' / exportname': 0x00 name, or 0x01 name followed by a version suffix name. */
static int read_extern_name(reader *r, char **out)
{
	unsigned char tag;
	char *suffix = NULL;

	if (read_byte(r, &tag) < 0 || tag > 1 || read_name(r, out) < 0)
		return -1;
	if (tag == 1) {
		if (read_name(r, &suffix) < 0) {
			free(*out);
			*out = NULL;
			return -1;
		}
		free(suffix);
	}
	return 0;
}

/* externdesc: sort byte(s) then an index or bound. */
static int skip_externdesc(reader *r)
{
	unsigned char tag, b;
	uint32_t idx;

	if (read_byte(r, &tag) < 0)
		return -1;
	switch (tag) {
	case 0x00: /* core module: 0x11 typeidx */
		return read_byte(r, &b) < 0 || read_u32(r, &idx) < 0 ? -1 : 0;
	case 0x01: case 0x04: case 0x05:
		return read_u32(r, &idx);
	case 0x02: /* value bound: 0x00 valueidx | 0x01 valtype */
	case 0x03: /* type bound: 0x00 typeidx | 0x01 (sub resource) */
		if (read_byte(r, &b) < 0)
			return -1;
		if (tag == 0x03 && b == 0x01)
			return 0;
		return read_u32(r, &idx);
	default:
		return -1;
	}
}

/* Takes name. */
static void push_name(char ***list, size_t *n, char *name)
{
	*list = wp_xreallocarray(*list, *n + 1, sizeof(**list));
	(*list)[(*n)++] = name;
}

void wp_wasm_names_release(wp_wasm_names *n)
{
	for (size_t i = 0; i < n->n_imports; i++)
		free(n->imports[i]);
	for (size_t i = 0; i < n->n_exports; i++)
		free(n->exports[i]);
	free(n->imports);
	free(n->exports);
	memset(n, 0, sizeof(*n));
}

int wp_wasm_component_names(const unsigned char *data, size_t len, wp_wasm_names *out, wp_error *err)
{
	reader r = { data + 8, data + len };

	memset(out, 0, sizeof(*out));
	if (wp_wasm_kind_of(data, len) != WP_WASM_COMPONENT)
		return wp_error_set(err, WP_EINVALID, "not a wasm component");
	while (r.p < r.end) {
		unsigned char id;
		uint32_t size, count;
		reader sec;

		if (read_byte(&r, &id) < 0 || read_u32(&r, &size) < 0 || (size_t)(r.end - r.p) < size)
			goto bad;
		sec.p = r.p;
		sec.end = r.p + size;
		r.p += size;
		if (id != 10 && id != 11)
			continue;
		if (read_u32(&sec, &count) < 0)
			goto bad;
		for (uint32_t i = 0; i < count; i++) {
			char *name = NULL;

			if (read_extern_name(&sec, &name) < 0)
				goto bad;
			if (id == 10) {
				if (skip_externdesc(&sec) < 0) {
					free(name);
					goto bad;
				}
				push_name(&out->imports, &out->n_imports, name);
			} else {
				unsigned char sort, opt, core;
				uint32_t idx;

				if (read_byte(&sec, &sort) < 0 || (sort == 0 && read_byte(&sec, &core) < 0) ||
				    read_u32(&sec, &idx) < 0 || read_byte(&sec, &opt) < 0 ||
				    (opt == 1 && skip_externdesc(&sec) < 0) || opt > 1) {
					free(name);
					goto bad;
				}
				push_name(&out->exports, &out->n_exports, name);
			}
		}
	}
	return 0;
bad:
	wp_wasm_names_release(out);
	return wp_error_set(err, WP_EINVALID, "malformed wasm component: cannot read its imports and exports");
}

int wp_wasm_component_names_file(const char *path, wp_wasm_names *out, wp_error *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	void *map;
	int rc;

	memset(out, 0, sizeof(*out));
	if (fd < 0 || fstat(fd, &st) < 0)
		return wp_error_sys(err, WP_EIO, "opening '%s'", path);
	if (st.st_size < 8)
		return wp_error_set(err, WP_EINVALID, "'%s' is not a wasm binary", path);
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return wp_error_sys(err, WP_EIO, "reading '%s'", path);
	rc = wp_wasm_component_names(map, (size_t)st.st_size, out, err);
	munmap(map, (size_t)st.st_size);
	if (rc < 0)
		wp_error_prefix(err, "'%s'", path);
	return rc;
}
