/* Internal to spin/ (scripts/layers.sh keeps other modules out). */
/* The loader's model of a spin.toml, shared by the files of spin/: spin.c (TOML helpers),
 * manifest.c (the TOML read into the model: v1 and v2, triggers, components, variables,
 * allowed hosts), files.c (globs, and the components' files copied or collected), lock.c
 * (the model written as Spin's locked app). Names shared between them carry wp_spin__. */
#ifndef WP_SPIN_SPIN_INT_H
#define WP_SPIN_SPIN_INT_H

#include <jansson.h>
#include <stdbool.h>

#include "common/buf.h"
#include "common/strv.h"
#include "common/toml.h"
#include "spin/spin.h"

/* The messages of every bad outbound host, and the hosts once their templates are
 * expanded, at most. */
#define HOST_ERRORS_MAX (1u << 16)
#define HOSTS_EXPANDED_MAX (1u << 16)

/* The largest spin.toml read. */
#define MANIFEST_MAX (16u << 20)

typedef struct trig {
	char *type;
	char *id;
	char *component;
	const wp_toml *table;   /* the trigger's own table (config keys) */
	json_t *config;         /* v1: the component's [component.trigger] */
} trig;

typedef struct comp {
	char *id;
	const wp_toml *t;
	bool v1;
} comp;

typedef struct loader {
	wp_spin_files *collect;
	char *root;
	int rootfd;           /* root, open: files' links are judged against it */
	bool follow_links;
	char *manifest;
	char *assets;
	char *assets_tmp;    /* the temp folder made for them when no one named one */
	char *cache;
	bool own_assets;
	wp_toml *doc;
	json_t *variables;    /* name -> locked variable */
	json_t *defaults;     /* name -> default value, for checking templates */
	trig *trigs;
	size_t ntrigs;
	comp *comps;
	size_t ncomps;
	json_t *comp_pos;     /* component id -> position in comps: lookups stay O(1) */
	json_t *globals;      /* trigger type -> global config */
	int version;
	wp_error *err;
} loader;

/* spin/spin.c */
const char *wp_spin__id_problem(const char *id, char delim);
json_t *wp_spin__sorted(json_t *o);
bool wp_spin__str_array(const wp_toml *a, wp_strv *out);
const wp_toml *wp_spin__tget(const wp_toml *t, const char *k);
json_t *wp_spin__toml_to_json(const wp_toml *v);
const char *wp_spin__tstr(const wp_toml *t, const char *k);

/* spin/manifest.c */
int wp_spin__check_outbound(loader *l, const wp_strv *hosts);
int wp_spin__convert_http_hosts(loader *l, const wp_strv *http, bool allow_db, wp_strv *out);
comp *wp_spin__find_comp(loader *l, const char *id);
int wp_spin__load_manifest(loader *l);
void wp_spin__loader_release(loader *l);
bool wp_spin__service_chaining(const wp_strv *hosts);

/* spin/files.c */
int wp_spin__copy_files(loader *l, const char *id, const wp_toml *files, const wp_strv *exclude, char **mount);
int wp_spin__inside_app(loader *l, const char *p, wp_buf *out);

#endif
