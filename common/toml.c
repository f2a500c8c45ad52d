#include "common/alloc.h"
#include "common/toml.h"
#include "common/buf.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Table flags: how a table came to exist decides what may extend it later (TOML 1.0,
 * "Table" and "Inline Table"). */
enum {
	T_HEADER = 1,    /* defined by a [header] or as an element of [[header]] */
	T_IMPLICIT = 2,  /* created as the parent of a header; a later header may define it */
	T_DOTTED = 4,    /* created by a dotted key */
	T_INLINE = 8,    /* an inline table or anything inside one: frozen */
	T_AOT = 16,      /* an array created by [[header]] */
};

typedef struct parser {
	const char *start, *p, *end;
	wp_error *err;
	jmp_buf jb;
	/* Line counting moves forward only, so looking up lines stays linear overall. */
	const char *line_at;
	int line;
	int depth;
	wp_toml *root;
	struct blk *tail;   /* newest allocation; all of them chain back from here */
	wp_buf sbuf;        /* string being decoded */
} parser;

/* Every allocation of a parse hangs off one chain, so that a failure deep inside a value
 * frees everything at once and a finished document is freed the same way. */
typedef struct blk {
	struct blk *prev;
	bool is_node;
	max_align_t data[];
} blk;

static int line_of(parser *ps, const char *at)
{
	if (at < ps->line_at) {
		ps->line_at = ps->start;
		ps->line = 1;
	}
	for (; ps->line_at < at; ps->line_at++)
		if (*ps->line_at == '\n')
			ps->line++;
	return ps->line;
}

static void fail_at(parser *ps, const char *at, const char *fmt, ...) __attribute__((format(printf, 3, 4), noreturn));

static void fail_at(parser *ps, const char *at, const char *fmt, ...)
{
	char msg[512];
	const char *ls = at;
	va_list ap;

	if (at > ps->end)
		at = ps->end;
	while (ls > ps->start && ls[-1] != '\n')
		ls--;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	wp_error_set(ps->err, WP_EINVALID, "line %d, column %d: %s", line_of(ps, at), (int)(at - ls) + 1, msg);
	longjmp(ps->jb, 1);
}

#define fail(ps, ...) fail_at(ps, (ps)->p, __VA_ARGS__)

static void *xalloc(parser *ps, size_t n, bool node)
{
	blk *b = wp_xcalloc(1, sizeof(*b) + n);

	b->prev = ps->tail;
	b->is_node = node;
	ps->tail = b;
	return b->data;
}

static char *xstrndup(parser *ps, const char *s, size_t n)
{
	char *p = xalloc(ps, n + 1, false);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static wp_toml *new_value(parser *ps, wp_toml_type t, const char *at)
{
	wp_toml *v = xalloc(ps, sizeof(*v), true);

	v->type = t;
	v->line = line_of(ps, at);
	return v;
}

static void free_chain(blk *b)
{
	while (b) {
		blk *prev = b->prev;

		if (b->is_node) {
			wp_toml *v = (wp_toml *)b->data;

			if (v->type == WP_TOML_TABLE) {
				free(v->u.tab.keys);
				free(v->u.tab.klens);
				free(v->u.tab.vals);
				free(v->u.tab.slots);
			} else if (v->type == WP_TOML_ARRAY) {
				free(v->u.arr.items);
			}
		}
		free(b);
		b = prev;
	}
}

void wp_toml_free(wp_toml *root)
{
	if (root)
		free_chain(root->arena);
}

/* Tables keep their keys in order of definition; past TAB_LINEAR keys a hash index finds
 * one in constant time, so a document of n keys parses in O(n), not O(n^2). */
#define TAB_LINEAR 8

static size_t key_hash(const char *key, size_t klen)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (size_t i = 0; i < klen; i++)
		h = (h ^ (unsigned char)key[i]) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 32));
}

static wp_toml *tab_find(const wp_toml *t, const char *key, size_t klen)
{
	if (!t->u.tab.slots) {
		for (size_t i = 0; i < t->u.tab.len; i++)
			if (t->u.tab.klens[i] == klen && !memcmp(t->u.tab.keys[i], key, klen))
				return t->u.tab.vals[i];
		return NULL;
	}
	for (size_t s = key_hash(key, klen) & (t->u.tab.nslots - 1);; s = (s + 1) & (t->u.tab.nslots - 1)) {
		size_t at = t->u.tab.slots[s];

		if (!at)
			return NULL;
		if (t->u.tab.klens[at - 1] == klen && !memcmp(t->u.tab.keys[at - 1], key, klen))
			return t->u.tab.vals[at - 1];
	}
}

static void slot_put(wp_toml *t, size_t pos)
{
	size_t s = key_hash(t->u.tab.keys[pos], t->u.tab.klens[pos]) & (t->u.tab.nslots - 1);

	while (t->u.tab.slots[s])
		s = (s + 1) & (t->u.tab.nslots - 1);
	t->u.tab.slots[s] = pos + 1;
}

static void tab_index(wp_toml *t)
{
	if (t->u.tab.len <= TAB_LINEAR)
		return;
	if (t->u.tab.slots && t->u.tab.len * 2 <= t->u.tab.nslots) {
		slot_put(t, t->u.tab.len - 1);
		return;
	}
	free(t->u.tab.slots);
	t->u.tab.nslots = 64;
	while (t->u.tab.nslots < t->u.tab.len * 4)
		t->u.tab.nslots *= 2;
	t->u.tab.slots = wp_xcalloc(t->u.tab.nslots, sizeof(*t->u.tab.slots));
	for (size_t i = 0; i < t->u.tab.len; i++)
		slot_put(t, i);
}

static void tab_put(wp_toml *t, const char *key, size_t klen, wp_toml *v)
{
	if (t->u.tab.len == t->u.tab.cap) {
		t->u.tab.cap = t->u.tab.cap ? t->u.tab.cap * 2 : 8;
		t->u.tab.keys = wp_xreallocarray(t->u.tab.keys, t->u.tab.cap, sizeof(*t->u.tab.keys));
		t->u.tab.vals = wp_xreallocarray(t->u.tab.vals, t->u.tab.cap, sizeof(*t->u.tab.vals));
		t->u.tab.klens = wp_xreallocarray(t->u.tab.klens, t->u.tab.cap, sizeof(*t->u.tab.klens));
	}
	t->u.tab.keys[t->u.tab.len] = (char *)key;
	t->u.tab.klens[t->u.tab.len] = klen;
	t->u.tab.vals[t->u.tab.len] = v;
	t->u.tab.len++;
	tab_index(t);
}

static void arr_push(wp_toml *a, wp_toml *v)
{
	if (a->u.arr.len == a->u.arr.cap) {
		a->u.arr.cap = a->u.arr.cap ? a->u.arr.cap * 2 : 8;
		a->u.arr.items = wp_xreallocarray(a->u.arr.items, a->u.arr.cap, sizeof(*a->u.arr.items));
	}
	a->u.arr.items[a->u.arr.len++] = v;
}

/* ---- lexical helpers ---- */

static int validate_utf8(parser *ps)
{
	const unsigned char *s = (const unsigned char *)ps->start, *e = (const unsigned char *)ps->end;

	while (s < e) {
		unsigned c = *s;
		size_t n;
		unsigned cp;

		if (c < 0x80) {
			s++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			fail_at(ps, (const char *)s, "invalid UTF-8");
		}
		if ((size_t)(e - s) <= n)
			fail_at(ps, (const char *)s, "invalid UTF-8");
		for (size_t i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				fail_at(ps, (const char *)s, "invalid UTF-8");
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			fail_at(ps, (const char *)s, "invalid UTF-8");
		s += n + 1;
	}
	return 0;
}

static bool at_end(parser *ps)
{
	return ps->p >= ps->end;
}

static char peek(parser *ps, size_t off)
{
	return ps->p + off < ps->end ? ps->p[off] : '\0';
}

static void skip_ws(parser *ps)
{
	while (!at_end(ps) && (*ps->p == ' ' || *ps->p == '\t'))
		ps->p++;
}

static bool is_control(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

static void skip_comment(parser *ps)
{
	if (at_end(ps) || *ps->p != '#')
		return;
	for (ps->p++; !at_end(ps) && *ps->p != '\n'; ps->p++) {
		if (*ps->p == '\r' && peek(ps, 1) == '\n')
			continue;
		if (is_control((unsigned char)*ps->p))
			fail(ps, "control character in a comment");
	}
}

/* Consumes a newline (LF or CRLF); false when none is here. */
static bool eat_newline(parser *ps)
{
	if (peek(ps, 0) == '\n') {
		ps->p++;
		return true;
	}
	if (peek(ps, 0) == '\r' && peek(ps, 1) == '\n') {
		ps->p += 2;
		return true;
	}
	return false;
}

/* Whitespace, comments and newlines, as allowed inside arrays. */
static void skip_ws_nl(parser *ps)
{
	for (;;) {
		skip_ws(ps);
		skip_comment(ps);
		if (!eat_newline(ps)) {
			if (peek(ps, 0) == '\r')
				fail(ps, "carriage return without a line feed");
			return;
		}
	}
}

static void put_utf8(parser *ps, wp_buf *b, unsigned long cp)
{
	char out[4];
	size_t n;

	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		fail(ps, "escape names no Unicode scalar value");
	if (cp < 0x80) {
		out[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		out[0] = (char)(0xf0 | (cp >> 18));
		out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (wp_buf_append(b, out, n) < 0)
		fail(ps, "string too long");
}

static void buf_add(parser *ps, wp_buf *b, const char *s, size_t n)
{
	if (wp_buf_append(b, s, n) < 0)
		fail(ps, "string too long");
}

static void parse_escape(parser *ps, wp_buf *b)
{
	char c = peek(ps, 0);
	int digits = 0;
	unsigned long cp = 0;

	ps->p++;
	switch (c) {
	case 'b': buf_add(ps, b, "\b", 1); return;
	case 't': buf_add(ps, b, "\t", 1); return;
	case 'n': buf_add(ps, b, "\n", 1); return;
	case 'f': buf_add(ps, b, "\f", 1); return;
	case 'r': buf_add(ps, b, "\r", 1); return;
	case '"': buf_add(ps, b, "\"", 1); return;
	case '\\': buf_add(ps, b, "\\", 1); return;
	case 'u': digits = 4; break;
	case 'U': digits = 8; break;
	default:
		ps->p--;
		fail(ps, "invalid escape '\\%c'", c ? c : '0');
	}
	for (int i = 0; i < digits; i++) {
		char h = peek(ps, 0);

		cp <<= 4;
		if (h >= '0' && h <= '9')
			cp |= (unsigned long)(h - '0');
		else if (h >= 'a' && h <= 'f')
			cp |= (unsigned long)(h - 'a' + 10);
		else if (h >= 'A' && h <= 'F')
			cp |= (unsigned long)(h - 'A' + 10);
		else
			fail(ps, "\\%c escape needs %d hex digits", c, digits);
		ps->p++;
	}
	put_utf8(ps, b, cp);
}

/* Strings of all four kinds; p is at the opening quote. */
static char *parse_string(parser *ps, bool allow_multi, size_t *len)
{
	char q = *ps->p;
	bool literal = q == '\'';
	bool multi = allow_multi && peek(ps, 1) == q && peek(ps, 2) == q;
	wp_buf *b = &ps->sbuf;

	wp_buf_reset(b);
	if (multi) {
		ps->p += 3;
		eat_newline(ps);
	} else {
		ps->p++;
	}
	for (;;) {
		char c;

		if (at_end(ps))
			fail(ps, "unterminated string");
		c = *ps->p;
		if (c == q) {
			if (!multi) {
				ps->p++;
				break;
			}
			if (peek(ps, 1) == q && peek(ps, 2) == q) {
				/* Up to two quotes may stand right before the closing three. */
				size_t extra = 0;

				while (extra < 2 && peek(ps, 3 + extra) == q)
					extra++;
				buf_add(ps, b, ps->p, extra);
				ps->p += 3 + extra;
				break;
			}
			buf_add(ps, b, &c, 1);
			ps->p++;
			continue;
		}
		if (c == '\\' && !literal) {
			if (multi) {
				const char *save = ps->p;

				ps->p++;
				skip_ws(ps);
				if (eat_newline(ps)) {
					for (;;) {
						skip_ws(ps);
						if (!eat_newline(ps))
							break;
					}
					continue;
				}
				ps->p = save;
			}
			ps->p++;
			parse_escape(ps, b);
			continue;
		}
		if (c == '\n' || (c == '\r' && peek(ps, 1) == '\n')) {
			if (!multi)
				fail(ps, "newline in a single-line string");
			eat_newline(ps);
			buf_add(ps, b, "\n", 1);
			continue;
		}
		if (is_control((unsigned char)c))
			fail(ps, "control character in a string");
		buf_add(ps, b, &c, 1);
		ps->p++;
	}
	*len = b->len;
	return xstrndup(ps, b->data ? b->data : "", b->len);
}

static bool is_bare(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static char *parse_simple_key(parser *ps, size_t *klen)
{
	const char *s = ps->p;
	char *k;
	size_t len;

	if (peek(ps, 0) == '"' || peek(ps, 0) == '\'') {
		k = parse_string(ps, false, &len);
		*klen = len;
		return k;
	}
	while (!at_end(ps) && is_bare(*ps->p))
		ps->p++;
	if (ps->p == s)
		fail(ps, "expected a key");
	*klen = (size_t)(ps->p - s);
	k = xstrndup(ps, s, *klen);
	return k;
}

typedef struct keypath {
	char *parts[WP_TOML_MAX_DEPTH];
	size_t lens[WP_TOML_MAX_DEPTH];
	size_t n;
} keypath;

static void keypath_free(keypath *k)
{
	k->n = 0;
}

static void parse_key(parser *ps, keypath *k)
{
	k->n = 0;
	for (;;) {
		skip_ws(ps);
		if (k->n == WP_TOML_MAX_DEPTH)
			fail(ps, "key has too many parts");
		k->parts[k->n] = parse_simple_key(ps, &k->lens[k->n]);
		k->n++;
		skip_ws(ps);
		if (peek(ps, 0) != '.')
			return;
		ps->p++;
	}
}

/* ---- scalar values ---- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int digits_at(const char *s, const char *end, int n)
{
	for (int i = 0; i < n; i++)
		if (s + i >= end || !is_digit(s[i]))
			return 0;
	return 1;
}

static int num2(const char *s)
{
	return (s[0] - '0') * 10 + (s[1] - '0');
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* HH:MM:SS[.frac]; returns the end. */
static const char *scan_time(parser *ps, const char *s)
{
	if (!digits_at(s, ps->end, 2) || s + 2 >= ps->end || s[2] != ':' || !digits_at(s + 3, ps->end, 2) ||
	    s + 5 >= ps->end || s[5] != ':' || !digits_at(s + 6, ps->end, 2))
		fail_at(ps, s, "invalid time: want HH:MM:SS");
	if (num2(s) > 23 || num2(s + 3) > 59 || num2(s + 6) > 60)
		fail_at(ps, s, "time out of range");
	s += 8;
	if (s < ps->end && *s == '.') {
		const char *f = ++s;

		while (s < ps->end && is_digit(*s))
			s++;
		if (s == f)
			fail_at(ps, s, "fractional seconds need digits");
	}
	return s;
}

static wp_toml *make_text(parser *ps, wp_toml_type t, const char *s, const char *e, const char *at)
{
	wp_toml *v = new_value(ps, t, at);
	char *txt = xstrndup(ps, s, (size_t)(e - s));

	for (char *c = txt; *c; c++) {
		if (*c == 't' || *c == ' ')
			*c = 'T';
		else if (*c == 'z')
			*c = 'Z';
	}
	v->u.str.s = txt;
	v->u.str.len = strlen(txt);
	return v;
}

static wp_toml *parse_datetime(parser *ps)
{
	const char *s = ps->p, *e;
	int y, m, d;
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (digits_at(s, ps->end, 2) && s + 2 < ps->end && s[2] == ':') {
		e = scan_time(ps, s);
		ps->p = e;
		return make_text(ps, WP_TOML_TIME_LOCAL, s, e, s);
	}
	if (!digits_at(s, ps->end, 4) || s[4] != '-' || !digits_at(s + 5, ps->end, 2) || s + 7 >= ps->end ||
	    s[7] != '-' || !digits_at(s + 8, ps->end, 2))
		fail_at(ps, s, "invalid date: want YYYY-MM-DD");
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + num2(s + 2);
	m = num2(s + 5);
	d = num2(s + 8);
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && leap(y)))
		fail_at(ps, s, "date out of range");
	e = s + 10;
	if (e < ps->end && (*e == 'T' || *e == 't' || (*e == ' ' && e + 1 < ps->end && is_digit(e[1])))) {
		e = scan_time(ps, e + 1);
		if (e < ps->end && (*e == 'Z' || *e == 'z')) {
			e++;
		} else if (e < ps->end && (*e == '+' || *e == '-')) {
			if (!digits_at(e + 1, ps->end, 2) || e + 3 >= ps->end || e[3] != ':' || !digits_at(e + 4, ps->end, 2) ||
			    num2(e + 1) > 23 || num2(e + 4) > 59)
				fail_at(ps, e, "invalid time offset");
			e += 6;
		} else {
			ps->p = e;
			return make_text(ps, WP_TOML_DATETIME_LOCAL, s, e, s);
		}
		ps->p = e;
		return make_text(ps, WP_TOML_DATETIME, s, e, s);
	}
	ps->p = e;
	return make_text(ps, WP_TOML_DATE_LOCAL, s, e, s);
}

/* Digits with single underscores between them; appends the digits to out. */
static bool scan_digits(const char *s, const char *e, bool (*ok)(char), char *out, size_t *olen, size_t omax)
{
	bool prev_digit = false;

	if (s == e)
		return false;
	for (; s < e; s++) {
		if (*s == '_') {
			if (!prev_digit || s + 1 >= e || !ok(s[1]))
				return false;
			prev_digit = false;
			continue;
		}
		if (!ok(*s) || *olen + 1 >= omax)
			return false;
		out[(*olen)++] = *s;
		prev_digit = true;
	}
	out[*olen] = '\0';
	return true;
}

static bool ok_dec(char c) { return c >= '0' && c <= '9'; }
static bool ok_hex(char c) { return ok_dec(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static bool ok_oct(char c) { return c >= '0' && c <= '7'; }
static bool ok_bin(char c) { return c == '0' || c == '1'; }

static wp_toml *parse_number(parser *ps)
{
	const char *s = ps->p, *e = s, *body;
	char digits[512];
	size_t n = 0;
	bool neg = false, signed_ = false;
	wp_toml *v;

	while (e < ps->end && (is_bare(*e) || *e == '+' || *e == '.'))
		e++;
	ps->p = e;
	body = s;
	if (*body == '+' || *body == '-') {
		neg = *body == '-';
		signed_ = true;
		body++;
	}
	if ((size_t)(e - body) == 3 && (!strncmp(body, "inf", 3) || !strncmp(body, "nan", 3))) {
		v = new_value(ps, WP_TOML_FLOAT, s);
		v->u.f = body[0] == 'i' ? (neg ? -INFINITY : INFINITY) : (neg ? -NAN : NAN);
		return v;
	}
	if (e - body > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'o' || body[1] == 'b')) {
		int base = body[1] == 'x' ? 16 : body[1] == 'o' ? 8 : 2;
		bool (*ok)(char) = base == 16 ? ok_hex : base == 8 ? ok_oct : ok_bin;
		unsigned long long u;

		if (signed_ || !scan_digits(body + 2, e, ok, digits, &n, sizeof(digits)))
			fail_at(ps, s, "invalid integer");
		errno = 0;
		u = strtoull(digits, NULL, base);
		if (errno || u > INT64_MAX)
			fail_at(ps, s, "integer out of range");
		v = new_value(ps, WP_TOML_INTEGER, s);
		v->u.i = (int64_t)u;
		return v;
	}
	{
		const char *dot = memchr(body, '.', (size_t)(e - body));
		const char *exp = NULL;
		const char *int_end;

		for (const char *c = body; c < e; c++)
			if (*c == 'e' || *c == 'E') {
				exp = c;
				break;
			}
		int_end = dot ? dot : exp ? exp : e;
		if (dot && exp && exp < dot)
			fail_at(ps, s, "invalid float");
		if (neg)
			digits[n++] = '-';
		if (!scan_digits(body, int_end, ok_dec, digits, &n, sizeof(digits)))
			fail_at(ps, s, "invalid number");
		if (int_end - body > 1 && body[0] == '0')
			fail_at(ps, s, "leading zeros are not allowed");
		if (!dot && !exp) {
			long long i;

			errno = 0;
			i = strtoll(digits, NULL, 10);
			if (errno)
				fail_at(ps, s, "integer out of range");
			v = new_value(ps, WP_TOML_INTEGER, s);
			v->u.i = i;
			return v;
		}
		if (dot) {
			const char *fend = exp ? exp : e;

			digits[n++] = '.';
			if (!scan_digits(dot + 1, fend, ok_dec, digits, &n, sizeof(digits)))
				fail_at(ps, s, "invalid float: digits must follow the '.'");
		}
		if (exp) {
			const char *es = exp + 1;

			digits[n++] = 'e';
			if (es < e && (*es == '+' || *es == '-'))
				digits[n++] = *es++;
			if (!scan_digits(es, e, ok_dec, digits, &n, sizeof(digits)))
				fail_at(ps, s, "invalid float exponent");
		}
		v = new_value(ps, WP_TOML_FLOAT, s);
		v->u.f = strtod(digits, NULL);
		return v;
	}
}

static void freeze(wp_toml *v)
{
	if (v->type == WP_TOML_TABLE) {
		v->flags |= T_INLINE;
		for (size_t i = 0; i < v->u.tab.len; i++)
			freeze(v->u.tab.vals[i]);
	} else if (v->type == WP_TOML_ARRAY) {
		v->flags |= T_INLINE;
		for (size_t i = 0; i < v->u.arr.len; i++)
			freeze(v->u.arr.items[i]);
	}
}

static wp_toml *parse_value(parser *ps);
static void set_keyval(parser *ps, wp_toml *table, keypath *k, wp_toml *v, const char *at);

static wp_toml *parse_array(parser *ps)
{
	wp_toml *a = new_value(ps, WP_TOML_ARRAY, ps->p);

	ps->p++;
	for (;;) {
		skip_ws_nl(ps);
		if (peek(ps, 0) == ']') {
			ps->p++;
			return a;
		}
		arr_push(a, parse_value(ps));
		skip_ws_nl(ps);
		if (peek(ps, 0) == ',') {
			ps->p++;
			continue;
		}
		if (peek(ps, 0) == ']') {
			ps->p++;
			return a;
		}
		fail(ps, "expected ',' or ']' in an array");
	}
}

static wp_toml *parse_inline_table(parser *ps)
{
	wp_toml *t = new_value(ps, WP_TOML_TABLE, ps->p);
	bool first = true;

	ps->p++;
	skip_ws(ps);
	if (peek(ps, 0) == '}') {
		ps->p++;
		return t;
	}
	for (;;) {
		keypath k;
		const char *at;
		wp_toml *v;

		if (!first) {
			skip_ws(ps);
			if (peek(ps, 0) == '}') {
				ps->p++;
				break;
			}
			if (peek(ps, 0) != ',')
				fail(ps, "expected ',' or '}' in an inline table");
			ps->p++;
		}
		first = false;
		skip_ws(ps);
		at = ps->p;
		parse_key(ps, &k);
		if (peek(ps, 0) != '=') {
			keypath_free(&k);
			fail(ps, "expected '=' after a key");
		}
		ps->p++;
		skip_ws(ps);
		v = parse_value(ps);
		set_keyval(ps, t, &k, v, at);
		keypath_free(&k);
	}
	freeze(t);
	return t;
}

static wp_toml *parse_value(parser *ps)
{
	char c = peek(ps, 0);
	wp_toml *v;

	if (++ps->depth > WP_TOML_MAX_DEPTH)
		fail(ps, "values nested too deeply");
	if (c == '"' || c == '\'') {
		const char *at = ps->p;
		size_t len;
		char *s = parse_string(ps, true, &len);

		v = new_value(ps, WP_TOML_STRING, at);
		v->u.str.s = s;
		v->u.str.len = len;
	} else if (c == '[') {
		v = parse_array(ps);
	} else if (c == '{') {
		v = parse_inline_table(ps);
	} else if (!strncmp(ps->p, "true", (size_t)(ps->end - ps->p) < 4 ? 0 : 4) && (size_t)(ps->end - ps->p) >= 4 &&
		   !is_bare(peek(ps, 4))) {
		v = new_value(ps, WP_TOML_BOOL, ps->p);
		v->u.b = true;
		ps->p += 4;
	} else if ((size_t)(ps->end - ps->p) >= 5 && !strncmp(ps->p, "false", 5) && !is_bare(peek(ps, 5))) {
		v = new_value(ps, WP_TOML_BOOL, ps->p);
		v->u.b = false;
		ps->p += 5;
	} else if (is_digit(c) && ((digits_at(ps->p, ps->end, 4) && peek(ps, 4) == '-') ||
				   (digits_at(ps->p, ps->end, 2) && peek(ps, 2) == ':'))) {
		v = parse_datetime(ps);
	} else if (is_digit(c) || c == '+' || c == '-' || c == 'i' || c == 'n') {
		v = parse_number(ps);
	} else {
		fail(ps, "expected a value");
	}
	ps->depth--;
	return v;
}

/* ---- tables ---- */

static void set_keyval(parser *ps, wp_toml *table, keypath *k, wp_toml *v, const char *at)
{
	wp_toml *t = table;

	for (size_t i = 0; i + 1 < k->n; i++) {
		wp_toml *child = tab_find(t, k->parts[i], k->lens[i]);

		if (!child) {
			child = new_value(ps, WP_TOML_TABLE, at);
			child->flags = T_DOTTED | (t->flags & T_INLINE);
			tab_put(t, k->parts[i], k->lens[i], child);
		} else if (child->type != WP_TOML_TABLE || (child->flags & (T_HEADER | T_IMPLICIT)) ||
			   ((child->flags & T_INLINE) && !(table->flags & T_INLINE))) {
			fail_at(ps, at, "cannot add to '%s': it is already defined", k->parts[i]);
		}
		t = child;
	}
	if (tab_find(t, k->parts[k->n - 1], k->lens[k->n - 1]))
		fail_at(ps, at, "duplicate key '%s'", k->parts[k->n - 1]);
	tab_put(t, k->parts[k->n - 1], k->lens[k->n - 1], v);
}

static wp_toml *walk_header(parser *ps, keypath *k, const char *at)
{
	wp_toml *t = ps->root;

	for (size_t i = 0; i + 1 < k->n; i++) {
		wp_toml *child = tab_find(t, k->parts[i], k->lens[i]);

		if (!child) {
			child = new_value(ps, WP_TOML_TABLE, at);
			child->flags = T_IMPLICIT;
			tab_put(t, k->parts[i], k->lens[i], child);
		} else if (child->type == WP_TOML_ARRAY && (child->flags & T_AOT) && child->u.arr.len) {
			child = child->u.arr.items[child->u.arr.len - 1];
		} else if (child->type != WP_TOML_TABLE || (child->flags & T_INLINE)) {
			fail_at(ps, at, "'%s' is already defined as a value", k->parts[i]);
		}
		t = child;
	}
	return t;
}

/* [a.b] or [[a.b]]; returns the table that the following key/values go into. */
static wp_toml *parse_header(parser *ps)
{
	const char *at = ps->p;
	bool aot = peek(ps, 1) == '[';
	keypath k;
	wp_toml *parent, *t;
	const char *last;

	ps->p += aot ? 2 : 1;
	parse_key(ps, &k);
	if (peek(ps, 0) != ']' || (aot && peek(ps, 1) != ']')) {
		keypath_free(&k);
		fail(ps, aot ? "expected ']]' after a table name" : "expected ']' after a table name");
	}
	ps->p += aot ? 2 : 1;
	parent = walk_header(ps, &k, at);
	last = k.parts[k.n - 1];
	t = tab_find(parent, last, k.lens[k.n - 1]);
	if (aot) {
		wp_toml *elem;

		if (!t) {
			t = new_value(ps, WP_TOML_ARRAY, at);
			t->flags = T_AOT;
			tab_put(parent, last, k.lens[k.n - 1], t);
		} else if (t->type != WP_TOML_ARRAY || !(t->flags & T_AOT)) {
			keypath_free(&k);
			fail_at(ps, at, "cannot define '%s' as an array of tables: it is already defined", last);
		}
		elem = new_value(ps, WP_TOML_TABLE, at);
		elem->flags = T_HEADER;
		arr_push(t, elem);
		t = elem;
	} else if (!t) {
		t = new_value(ps, WP_TOML_TABLE, at);
		t->flags = T_HEADER;
		tab_put(parent, last, k.lens[k.n - 1], t);
	} else if (t->type == WP_TOML_TABLE && (t->flags & T_IMPLICIT)) {
		t->flags = (t->flags & ~(unsigned)T_IMPLICIT) | T_HEADER;
	} else {
		keypath_free(&k);
		fail_at(ps, at, "table '%s' is defined twice", last);
	}
	keypath_free(&k);
	return t;
}

/* After an expression: optional whitespace and comment, then a newline or the end. */
static void end_of_line(parser *ps)
{
	skip_ws(ps);
	skip_comment(ps);
	if (at_end(ps))
		return;
	if (!eat_newline(ps))
		fail(ps, peek(ps, 0) == '\r' ? "carriage return without a line feed" : "expected the end of the line");
}

static void clear_flags(wp_toml *v)
{
	v->flags = 0;
	if (v->type == WP_TOML_TABLE)
		for (size_t i = 0; i < v->u.tab.len; i++)
			clear_flags(v->u.tab.vals[i]);
	else if (v->type == WP_TOML_ARRAY)
		for (size_t i = 0; i < v->u.arr.len; i++)
			clear_flags(v->u.arr.items[i]);
}

int wp_toml_parse(const char *data, size_t len, wp_toml **out, wp_error *err)
{
	parser ps;
	wp_toml *root;
	wp_toml *cur;

	*out = NULL;
	memset(&ps, 0, sizeof(ps));
	ps.start = ps.p = ps.line_at = data;
	ps.end = data + len;
	ps.err = err;
	ps.line = 1;
	wp_buf_init(&ps.sbuf, 64u << 20);
	if (setjmp(ps.jb)) {
		free_chain(ps.tail);
		wp_buf_release(&ps.sbuf);
		return err ? err->code : WP_EINVALID;
	}
	validate_utf8(&ps);
	if (len >= 3 && !memcmp(data, "\xef\xbb\xbf", 3))
		ps.p += 3;
	if (memchr(data, '\0', len))
		fail_at(&ps, (const char *)memchr(data, '\0', len), "NUL character");
	root = new_value(&ps, WP_TOML_TABLE, data);
	ps.root = root;
	cur = root;
	while (!at_end(&ps)) {
		skip_ws(&ps);
		if (at_end(&ps))
			break;
		if (peek(&ps, 0) == '#' || peek(&ps, 0) == '\n' || peek(&ps, 0) == '\r') {
			end_of_line(&ps);
			continue;
		}
		if (peek(&ps, 0) == '[') {
			cur = parse_header(&ps);
		} else {
			keypath k;
			const char *at = ps.p;
			wp_toml *v;

			parse_key(&ps, &k);
			if (peek(&ps, 0) != '=') {
				keypath_free(&k);
				fail(&ps, "expected '=' after a key");
			}
			ps.p++;
			skip_ws(&ps);
			ps.depth = 0;
			v = parse_value(&ps);
			if (v->type == WP_TOML_TABLE || v->type == WP_TOML_ARRAY)
				freeze(v);
			set_keyval(&ps, cur, &k, v, at);
			keypath_free(&k);
		}
		end_of_line(&ps);
	}
	clear_flags(root);
	root->arena = ps.tail;
	wp_buf_release(&ps.sbuf);
	*out = root;
	return 0;
}

const wp_toml *wp_toml_get(const wp_toml *table, const char *key)
{
	if (!table || table->type != WP_TOML_TABLE)
		return NULL;
	return tab_find(table, key, strlen(key));
}

const char *wp_toml_get_str(const wp_toml *table, const char *key)
{
	const wp_toml *v = wp_toml_get(table, key);

	return v && v->type == WP_TOML_STRING ? v->u.str.s : NULL;
}

const wp_toml *wp_toml_get_table(const wp_toml *table, const char *key)
{
	const wp_toml *v = wp_toml_get(table, key);

	return v && v->type == WP_TOML_TABLE ? v : NULL;
}

const wp_toml *wp_toml_get_array(const wp_toml *table, const char *key)
{
	const wp_toml *v = wp_toml_get(table, key);

	return v && v->type == WP_TOML_ARRAY ? v : NULL;
}

const char *wp_toml_type_name(wp_toml_type t)
{
	static const char *names[] = { "table", "array", "string", "integer", "float", "bool",
				       "datetime", "datetime-local", "date-local", "time-local" };

	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "unknown";
}
