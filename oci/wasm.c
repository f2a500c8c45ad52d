#include "oci/wasm.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
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

/* The next section of a component: its id, and a reader over its contents. */
static int next_section(reader *r, unsigned char *id, reader *sec)
{
	uint32_t size;

	if (read_byte(r, id) < 0 || read_u32(r, &size) < 0 || (size_t)(r->end - r->p) < size)
		return -1;
	sec->p = r->p;
	sec->end = r->p + size;
	r->p += size;
	return 0;
}

/* ---- component types: enough to read the function names of an imported instance ---- */

#define TYPE_DEPTH_MAX 32

static int skip_bytes(reader *r, uint32_t n)
{
	if ((size_t)(r->end - r->p) < n)
		return -1;
	r->p += n;
	return 0;
}

static int skip_label(reader *r)
{
	uint32_t len;

	return read_u32(r, &len) < 0 ? -1 : skip_bytes(r, len);
}

/* valtype: a primitive (one byte, 0x64 and up, a negative s33) or a type index. */
static int skip_valtype(reader *r)
{
	uint32_t idx;

	if (r->p >= r->end)
		return -1;
	if (*r->p >= 0x40 && *r->p < 0x80) {
		r->p++;
		return 0;
	}
	return read_u32(r, &idx);
}

static int skip_opt_valtype(reader *r)
{
	unsigned char t;

	if (read_byte(r, &t) < 0 || t > 1)
		return -1;
	return t ? skip_valtype(r) : 0;
}

static int skip_vec(reader *r, int (*each)(reader *r))
{
	uint32_t n;

	if (read_u32(r, &n) < 0 || n > (uint32_t)(r->end - r->p))
		return -1;
	for (uint32_t i = 0; i < n; i++)
		if (each(r) < 0)
			return -1;
	return 0;
}

static int skip_labelled_valtype(reader *r)
{
	return skip_label(r) < 0 ? -1 : skip_valtype(r);
}

static int skip_case(reader *r)
{
	unsigned char zero;

	return skip_label(r) < 0 || skip_opt_valtype(r) < 0 || read_byte(r, &zero) < 0 || zero != 0 ? -1 : 0;
}

/* alias: sort, then its target; *outer_self is the index an outer alias of count 0 (this
 * very component's own index space) names, else UINT32_MAX. */
static int read_alias(reader *r, unsigned char *sort_out, uint32_t *outer_self)
{
	unsigned char sort, core, target;
	uint32_t a, b;

	*outer_self = UINT32_MAX;
	if (read_byte(r, &sort) < 0 || (sort == 0x00 && read_byte(r, &core) < 0) || read_byte(r, &target) < 0)
		return -1;
	*sort_out = sort;
	switch (target) {
	case 0x00: case 0x01:
		return read_u32(r, &a) < 0 ? -1 : skip_label(r);
	case 0x02:
		if (read_u32(r, &a) < 0 || read_u32(r, &b) < 0)
			return -1;
		if (a == 0)
			*outer_self = b;
		return 0;
	default:
		return -1;
	}
}

static int skip_alias(reader *r, unsigned char *sort_out)
{
	uint32_t ignored;

	return read_alias(r, sort_out, &ignored);
}

/* core:deftype as instance types hold it: a core function type only. */
static int skip_core_deftype(reader *r)
{
	unsigned char tag;
	uint32_t n;

	if (read_byte(r, &tag) < 0 || tag != 0x60)
		return -1;
	for (int k = 0; k < 2; k++)
		if (read_u32(r, &n) < 0 || skip_bytes(r, n) < 0)
			return -1;
	return 0;
}

static int skip_deftype(reader *r, int depth);

/* The declarations of an instance (or component) type; with funcs, the names of the
 * functions it exports are added there. */
static int walk_decls(reader *r, int depth, bool component, wp_strv *funcs)
{
	uint32_t n;

	if (read_u32(r, &n) < 0 || n > (uint32_t)(r->end - r->p))
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		unsigned char tag, sort;
		char *name = NULL;
		int rc = 0;

		if (read_byte(r, &tag) < 0)
			return -1;
		switch (tag) {
		case 0x00:
			rc = skip_core_deftype(r);
			break;
		case 0x01:
			rc = skip_deftype(r, depth + 1);
			break;
		case 0x02:
			rc = skip_alias(r, &sort);
			break;
		case 0x03: /* importdecl, in a component type */
		case 0x04: /* exportdecl */
			if (tag == 0x03 && !component)
				return -1;
			if (read_extern_name(r, &name) < 0)
				return -1;
			if (tag == 0x04 && funcs && r->p < r->end && *r->p == 0x01)
				wp_strv_push(funcs, name);
			free(name);
			rc = skip_externdesc(r);
			break;
		default:
			return -1;
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int skip_deftype(reader *r, int depth)
{
	unsigned char tag, b;
	uint32_t idx;

	if (depth > TYPE_DEPTH_MAX || read_byte(r, &tag) < 0)
		return -1;
	if ((tag >= 0x73 && tag <= 0x7f) || tag == 0x64) /* a primitive */
		return 0;
	switch (tag) {
	case 0x72: return skip_vec(r, skip_labelled_valtype);   /* record */
	case 0x71: return skip_vec(r, skip_case);               /* variant */
	case 0x70: case 0x6b: return skip_valtype(r);           /* list, option */
	case 0x67: return skip_valtype(r) < 0 ? -1 : read_u32(r, &idx); /* fixed-size list */
	case 0x6f: return skip_vec(r, skip_valtype);            /* tuple */
	case 0x6e: case 0x6d: return skip_vec(r, skip_label);   /* flags, enum */
	case 0x6a: return skip_opt_valtype(r) < 0 ? -1 : skip_opt_valtype(r); /* result */
	case 0x69: case 0x68: return read_u32(r, &idx);         /* own, borrow */
	case 0x66: case 0x65: return skip_opt_valtype(r);       /* stream, future */
	case 0x40: case 0x43: /* func (0x43: async): params, then one result or a named list */
		if (skip_vec(r, skip_labelled_valtype) < 0 || read_byte(r, &b) < 0)
			return -1;
		return b == 0x00 ? skip_valtype(r) : b == 0x01 ? skip_vec(r, skip_labelled_valtype) : -1;
	case 0x41: return walk_decls(r, depth, true, NULL);     /* component */
	case 0x42: return walk_decls(r, depth, false, NULL);    /* instance */
	case 0x3f: /* resource: rep i32, then an optional destructor */
		if (read_byte(r, &b) < 0 || b != 0x7f || read_byte(r, &b) < 0 || b > 1)
			return -1;
		return b ? read_u32(r, &idx) : 0;
	default:
		return -1;
	}
}

/* Each type index: its instance type; NULL for another kind of type; UNKNOWN for one this
 * reader cannot follow (an alias of another instance's export, a type imported with only
 * a bound): an import of such a type is listed as unresolved. */
static const unsigned char unknown_type;
#define UNKNOWN (&unknown_type)

typedef struct import_walk {
	wp_wasm_import_funcs *out;
	const unsigned char **types;
	size_t n_types;
	const unsigned char *limit; /* the end of the section being read: an instance type lies before it */
	const unsigned char *made;  /* the entry being read made a type index: its entry */
	bool type_made;
} import_walk;

static const unsigned char *type_at(const import_walk *w, uint32_t idx)
{
	return idx < w->n_types ? w->types[idx] : UNKNOWN;
}

/* An imported instance of type it: its name and, when the type can be followed, its functions. */
static int add_import(import_walk *w, char *name, const unsigned char *it)
{
	wp_wasm_import_funcs *out = w->out;
	int rc = 0;

	out->names = wp_xreallocarray(out->names, out->n + 1, sizeof(*out->names));
	out->funcs = wp_xreallocarray(out->funcs, out->n + 1, sizeof(*out->funcs));
	out->unresolved = wp_xreallocarray(out->unresolved, out->n + 1, sizeof(*out->unresolved));
	out->names[out->n] = name;
	memset(&out->funcs[out->n], 0, sizeof(out->funcs[out->n]));
	out->unresolved[out->n] = !it || it == UNKNOWN;
	if (it && it != UNKNOWN) {
		reader t = { it + 1, w->limit };

		rc = walk_decls(&t, 0, false, &out->funcs[out->n]);
	}
	out->n++;
	return rc;
}

/* An import (section 10): an instance is listed; a type imported is equal to one of ours,
 * or only bounded. */
static int read_import(import_walk *w, reader *sec)
{
	char *name = NULL;
	unsigned char b, bound;
	uint32_t idx;
	reader desc;
	int rc = 0;

	if (read_extern_name(sec, &name) < 0)
		return -1;
	desc = *sec;
	if (read_byte(&desc, &b) < 0)
		rc = -1;
	else if (b == 0x05 && read_u32(&desc, &idx) < 0)
		rc = -1;
	else if (b == 0x05) {
		rc = add_import(w, name, type_at(w, idx)); /* name is the list's now */
		name = NULL;
	} else if (b == 0x03) {
		w->type_made = true;
		w->made = UNKNOWN;
		if (read_byte(&desc, &bound) == 0 && bound == 0x00 && read_u32(&desc, &idx) == 0)
			w->made = type_at(w, idx);
	}
	free(name);
	return rc < 0 ? -1 : skip_externdesc(sec);
}

/* An export (section 11): a type exported is a new index for the type it names. */
static int read_export(import_walk *w, reader *sec)
{
	char *name = NULL;
	unsigned char sort, b;
	uint32_t idx;

	if (read_extern_name(sec, &name) < 0)
		return -1;
	free(name);
	if (read_byte(sec, &sort) < 0 || (sort == 0 && read_byte(sec, &b) < 0) || read_u32(sec, &idx) < 0 ||
	    read_byte(sec, &b) < 0 || b > 1 || (b == 1 && skip_externdesc(sec) < 0))
		return -1;
	w->type_made = sort == 0x03;
	w->made = type_at(w, idx);
	return 0;
}

/* One entry of a type (7), alias (6), import (10) or export (11) section. */
static int read_entry(import_walk *w, unsigned char id, reader *sec)
{
	const unsigned char *at = sec->p;
	unsigned char sort;
	uint32_t self;

	w->made = NULL;
	w->type_made = false;
	switch (id) {
	case 7:
		if (skip_deftype(sec, 0) < 0)
			return -1;
		w->type_made = true;
		w->made = *at == 0x42 ? at : NULL;
		return 0;
	case 6:
		if (read_alias(sec, &sort, &self) < 0)
			return -1;
		w->type_made = sort == 0x03;
		/* an outer alias of this component's own type is that type */
		w->made = type_at(w, self);
		return 0;
	case 10:
		return read_import(w, sec);
	default:
		return read_export(w, sec);
	}
}

/* Calls fn on each entry of the component's sections whose id is in ids, with the reader
 * on the entry and the section's end; -1 when the component is malformed, or fn says so. */
typedef int (*entry_fn)(void *ctx, unsigned char id, reader *sec, const unsigned char *section_end);

static int each_entry(const unsigned char *data, size_t len, const char *ids, entry_fn fn, void *ctx)
{
	reader r = { data + 8, data + len };

	while (r.p < r.end) {
		unsigned char id;
		uint32_t count;
		reader sec;

		if (next_section(&r, &id, &sec) < 0)
			return -1;
		if (!id || !strchr(ids, id))
			continue;
		if (read_u32(&sec, &count) < 0 || count > (size_t)(sec.end - sec.p))
			return -1;
		for (uint32_t i = 0; i < count; i++)
			if (fn(ctx, id, &sec, r.p) < 0)
				return -1;
	}
	return 0;
}

static int import_entry(void *ctx, unsigned char id, reader *sec, const unsigned char *section_end)
{
	import_walk *w = ctx;

	w->limit = section_end;
	if (read_entry(w, id, sec) < 0)
		return -1;
	if (w->type_made) {
		w->types = wp_xreallocarray(w->types, w->n_types + 1, sizeof(*w->types));
		w->types[w->n_types++] = w->made;
	}
	return 0;
}

int wp_wasm_component_import_funcs(const unsigned char *data, size_t len, wp_wasm_import_funcs *out, wp_error *err)
{
	import_walk w = { .out = out };
	int rc;

	memset(out, 0, sizeof(*out));
	if (wp_wasm_kind_of(data, len) != WP_WASM_COMPONENT)
		return wp_error_set(err, WP_EINVALID, "not a wasm component");
	rc = each_entry(data, len, "\x06\x07\x0a\x0b", import_entry, &w);
	free(w.types);
	if (rc == 0)
		return 0;
	wp_wasm_import_funcs_release(out);
	return wp_error_set(err, WP_EINVALID, "malformed wasm component: cannot read the types of its imports");
}

#undef UNKNOWN

void wp_wasm_import_funcs_release(wp_wasm_import_funcs *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->names[i]);
		wp_strv_release(&f->funcs[i]);
	}
	free(f->names);
	free(f->funcs);
	free(f->unresolved);
	memset(f, 0, sizeof(*f));
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

/* An import's or an export's name (sections 10 and 11), listed. */
static int name_entry(void *ctx, unsigned char id, reader *sec, const unsigned char *section_end)
{
	wp_wasm_names *out = ctx;
	char *name = NULL;
	unsigned char sort, opt, core;
	uint32_t idx;

	(void)section_end;
	if (read_extern_name(sec, &name) < 0)
		return -1;
	if (id == 10 ? skip_externdesc(sec) < 0
		     : read_byte(sec, &sort) < 0 || (sort == 0 && read_byte(sec, &core) < 0) || read_u32(sec, &idx) < 0 ||
			       read_byte(sec, &opt) < 0 || opt > 1 || (opt == 1 && skip_externdesc(sec) < 0)) {
		free(name);
		return -1;
	}
	if (id == 10)
		push_name(&out->imports, &out->n_imports, name);
	else
		push_name(&out->exports, &out->n_exports, name);
	return 0;
}

int wp_wasm_component_names(const unsigned char *data, size_t len, wp_wasm_names *out, wp_error *err)
{
	memset(out, 0, sizeof(*out));
	if (wp_wasm_kind_of(data, len) != WP_WASM_COMPONENT)
		return wp_error_set(err, WP_EINVALID, "not a wasm component");
	if (each_entry(data, len, "\x0a\x0b", name_entry, out) == 0)
		return 0;
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
