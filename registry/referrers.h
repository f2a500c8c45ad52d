/* OCI 1.1 referrers on a registry: what points at a manifest through its `subject`
 * (signatures, SBOMs, attestations). Registries with the referrers API list them at
 * GET /v2/<name>/referrers/<digest>; for the others (Distribution 2.8 among them) clients
 * keep the list themselves in an index tagged sha256-<hex of the subject> (the fallback
 * tag schema of distribution-spec 1.1), which every attach updates. */
#ifndef WP_REGISTRY_REFERRERS_H
#define WP_REGISTRY_REFERRERS_H

#include <stdbool.h>

#include "common/error.h"
#include "oci/manifest.h"
#include "registry/client.h"

/* The most referrers of one subject read (a registry listing more is cut short, with a
 * warning): each costs requests, and a hostile registry could list any number. */
#define WP_REFERRERS_MAX 512

/* The fallback tag of a subject digest: "sha256-<hex>" (malloc'ed). */
char *wp_referrers_tag(const char *subject_digest);

/* The referrers of subject in repo, as an index's manifests (artifactType, annotations
 * and all), filtered by artifact_type when given; *via_api says whether the registry's
 * API answered or the fallback tag was read. No referrers is an empty index, not an
 * error. */
int wp_referrers_list(wp_client *r, const char *repo, const char *subject, const char *artifact_type, wp_index *out,
		      bool *via_api, wp_error *err);

/* After artifact (a manifest whose subject is subject) was pushed to repo: on a registry
 * without the referrers API, artifact is added to the fallback tag's index (once: an
 * artifact already listed is not added again). *via_api as above. */
int wp_referrers_record(wp_client *r, const char *repo, const char *subject, const wp_descriptor *artifact,
			bool *via_api, wp_error *err);

#endif
