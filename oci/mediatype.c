#include "oci/mediatype.h"

#include <string.h>

bool wp_mediatype_is_index(const char *mt)
{
	return mt && (!strcmp(mt, WP_MT_OCI_INDEX) || !strcmp(mt, WP_MT_DOCKER_LIST));
}

bool wp_mediatype_is_manifest(const char *mt)
{
	return mt && (!strcmp(mt, WP_MT_OCI_MANIFEST) || !strcmp(mt, WP_MT_DOCKER_MANIFEST));
}
