/* spin/: glob matching as Spin's loader does it, and locking small apps: trigger ids made
 * up as Spin makes them, components and variables in order, what is refused. */
#include "tap.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/util.h"
#include "spin/spin.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[64];

/* Writes spin.toml (and an app.wasm) into a fresh folder and locks it. */
static int lock(const char *toml, json_t **out, wp_error *err)
{
	_cleanup_free_ char *path = wp_str_fmt("%s/spin.toml", dir), *wasm = wp_str_fmt("%s/app.wasm", dir);
	_cleanup_free_ char *assets = wp_str_fmt("%s/assets", dir);
	wp_spin_opts o = { .assets_dir = assets, .cache_dir = dir };
	wp_error ignored;

	if (wp_fs_write_atomic(wasm, "\0asm\1\0\0\0", 8, 0644, &ignored) < 0 ||
	    wp_fs_write_atomic(path, toml, strlen(toml), 0644, &ignored) < 0)
		return -1;
	return wp_spin_lock(path, &o, out, err);
}

static const char *trigger_id(json_t *locked, size_t i)
{
	return wp_json_str(json_array_get(json_object_get(locked, "triggers"), i), "id");
}

int main(void)
{
	json_t *locked = NULL;
	wp_error err;

	/* globs: '*' and '?' within a segment, classes, '**' for whole segments */
	ok(wp_spin_glob_match("static/*", "static/a.txt"), "* matches a name");
	ok(!wp_spin_glob_match("static/*", "static/sub/a.txt"), "* stays within a segment");
	ok(wp_spin_glob_match("static/**/*", "static/sub/deeper/a.txt"), "** spans segments");
	ok(wp_spin_glob_match("static/**/*", "static/a.txt"), "** spans none too");
	ok(wp_spin_glob_match("a?c", "abc") && !wp_spin_glob_match("a?c", "a/c"), "? is one character, not a slash");
	ok(wp_spin_glob_match("[a-c]x", "bx") && !wp_spin_glob_match("[a-c]x", "dx"), "classes");
	ok(wp_spin_glob_match("[!a-c]x", "dx") && !wp_spin_glob_match("[!a-c]x", "ax"), "negated classes");

	snprintf(dir, sizeof(dir), "/tmp/wasmpack-unit-spin.XXXXXX");
	if (!ok(mkdtemp(dir) != NULL, "a temp folder"))
		return done_testing();

	/* trigger ids: "<component>-<type>-trigger", else "<type>-trigger<N>", the lowest free */
	ok(lock("spin_manifest_version = 2\n[application]\nname = \"t\"\n"
		"[[trigger.http]]\nroute = \"/a\"\ncomponent = \"a\"\n"
		"[[trigger.http]]\nroute = \"/b\"\ncomponent = \"a\"\n"
		"[[trigger.http]]\nid = \"http-trigger2\"\nroute = \"/c\"\ncomponent = \"a\"\n"
		"[[trigger.http]]\nroute = \"/d\"\ncomponent = \"a\"\n"
		"[component.a]\nsource = \"app.wasm\"\n", &locked, &err) == 0, "lock an app of four triggers");
	is_str(trigger_id(locked, 0), "a-http-trigger", "the first: <component>-<type>-trigger");
	is_str(trigger_id(locked, 1), "http-trigger1", "the second: <type>-trigger1");
	is_str(trigger_id(locked, 2), "http-trigger2", "an id given is kept");
	is_str(trigger_id(locked, 3), "http-trigger3", "the fourth skips the taken 2");
	json_decref(locked);

	/* variables sorted by name, as Spin's BTreeMap */
	ok(lock("spin_manifest_version = 2\n[application]\nname = \"v\"\n[variables]\nzeta = { default = \"1\" }\n"
		"alpha = { required = true }\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"c\"\n"
		"[component.c]\nsource = \"app.wasm\"\n", &locked, &err) == 0, "lock an app with variables");
	{
		const char *k, *first = NULL;
		json_t *v;

		json_object_foreach(json_object_get(locked, "variables"), k, v)
			if (!first)
				first = k;
		is_str(first, "alpha", "variables come sorted");
	}
	json_decref(locked);

	/* refused: a trigger naming no component, a duplicate component id across forms */
	locked = NULL;
	ok(lock("spin_manifest_version = 2\n[application]\nname = \"x\"\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"nope\"\n",
		&locked, &err) < 0 && strstr(err.msg, "refers to component `nope`, which does not exist"),
	   "a trigger naming a missing component is refused");
	ok(lock("spin_manifest_version = 77\n", &locked, &err) < 0 && strstr(err.msg, "invalid manifest version: 77"),
	   "an unknown manifest version is refused");
	wp_fs_rm_rf(dir, &err);
	return done_testing();
}
