#include "cli/cli.h"
#include "common/json.h"
#include "common/util.h"
#include "spin/spin.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const wp_opt opts[] = {
	{ "from", 'f', WP_OPT_VALUE, "MANIFEST", "the spin.toml (default PATH/spin.toml)", "@file" },
	{ "assets-dir", 0, WP_OPT_VALUE, "DIR", "where to copy the components' files (default a new temp folder)", "@dir" },
	{ "follow-links", 0, WP_OPT_FLAG, NULL, "copy what symbolic links leaving the app folder point at (default: refuse them)", NULL },
	{ 0 },
};

static int run(wp_cli *cli)
{
	_cleanup_free_ char *manifest = wp_cli_spin_manifest(cli->args.len ? cli->args.items[0] : NULL,
							      wp_cli_value(cli, "from"));
	wp_spin_opts o = { .assets_dir = wp_cli_value(cli, "assets-dir"), .follow_links = wp_cli_flag(cli, "follow-links") };
	json_t *locked = NULL;
	int rc;

	rc = wp_spin_lock(manifest, &o, &locked, &cli->err);
	if (rc == 0) {
		wp_json_print(locked, cli->out);
		json_decref(locked);
	}
	return rc;
}

const wp_cmd wp_cmd_lock = {
	"lock", "[PATH]", "print the locked app (Spin's spin.lock JSON) of a spin.toml", opts, 0, 1, "@file", run, false, NULL,
};
