/* Creates or deletes a container record through containerd's gRPC API (what the shim's
 * artifact path needs and containerd 1.6's ctr cannot make for images it cannot unpack):
 *   ctd_container SOCKET NS create ID IMAGE RUNTIME SPEC.json
 *   ctd_container SOCKET NS delete ID
 *   ctd_container SOCKET NS image NAME      (prints the image's target digest) */
#include "common/fs.h"
#include "node/cdclient.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	wp_error err = WP_ERROR_INIT;
	wp_cdclient cd;
	int rc = 2;

	if (argc < 5)
		goto usage;
	cd.socket = argv[1];
	cd.ns = argv[2];
	if (!strcmp(argv[3], "create") && argc == 8) {
		wp_buf spec;

		wp_buf_init(&spec, 1 << 20);
		rc = wp_fs_read_file(argv[7], 1 << 20, &spec, &err);
		if (rc == 0)
			rc = wp_cdclient_container_create(&cd, argv[4], argv[5], argv[6], spec.data, &err);
		wp_buf_release(&spec);
	} else if (!strcmp(argv[3], "delete") && argc == 5) {
		rc = wp_cdclient_container_delete(&cd, argv[4], &err);
	} else if (!strcmp(argv[3], "image") && argc == 5) {
		wp_descriptor d;

		if ((rc = wp_cdclient_image_target(&cd, argv[4], &d, &err)) == 0) {
			printf("%s %s %lld\n", d.media_type, d.digest, (long long)d.size);
			wp_descriptor_release(&d);
		}
	} else
		goto usage;
	if (rc < 0) {
		fprintf(stderr, "ctd_container: %s\n", err.msg);
		return 1;
	}
	return 0;
usage:
	fprintf(stderr, "usage: ctd_container SOCKET NS create ID IMAGE RUNTIME SPEC.json | delete ID | image NAME\n");
	return rc;
}
