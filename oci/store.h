/* The local store: an OCI image layout (oci-layout, index.json, blobs/sha256/<hex>) with
 * wasmpack's own bits under .wasmpack/ (locks, the stat cache, temp files).
 *
 * Blobs are written to an unnamed temp file while they are hashed and linked into place
 * only when complete and verified, so a killed process leaves no partial blob; an existing
 * blob is kept when it verifies and replaced atomically when it does not. index.json changes are atomic and serialised by a lock file.
 * Every process holds a shared lock on .wasmpack/lock while it uses the store; gc takes it
 * exclusively, so it never collects the blobs of a build that has not tagged them yet. */
#ifndef WP_OCI_STORE_H
#define WP_OCI_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/error.h"
#include "oci/graph.h"
#include "oci/storeroot.h"
#include "oci/manifest.h"

typedef struct wp_store {
	char *root;
	int lock_fd;
} wp_store;

/* A store not open yet: wp_store_close on it does nothing (a zeroed one would close fd 0). */
#define WP_STORE_INIT { .root = NULL, .lock_fd = -1 }

/* The lock taken (shared, or exclusive for gc), and NOCREATE for commands that only read. */
enum { WP_STORE_SHARED = 0, WP_STORE_EXCLUSIVE = 1, WP_STORE_NOCREATE = 2 };

/* Opens the layout at root (which the CLI takes from --store, $WASMPACK_STORE, else
 * $XDG_DATA_HOME/wasmpack, else ~/.local/share/wasmpack): a store (a folder with an
 * oci-layout file) is opened; a missing or empty folder becomes one, unless mode has
 * WP_STORE_NOCREATE (then WP_ENOTFOUND: nothing is written); anything else (a file, a
 * folder with other things in it: a mistyped --store) is refused, WP_EINVALID. */
int wp_store_open(wp_store *s, const char *root, int mode, wp_error *err);
/* Any folder with blobs/sha256/<hex> (an OCI layout, containerd's content store), for
 * reading blobs only: nothing is created, nothing locked. */
int wp_store_open_readonly(wp_store *s, const char *root, wp_error *err);
/* A descriptor for a manifest or index blob, its media type read from the blob. */
int wp_store_describe_blob(wp_store *s, const char *digest, wp_descriptor *desc, wp_error *err);
void wp_store_close(wp_store *s);

/* Where the blob digest is (or would be) kept; malloc'ed: the caller frees it. */
char *wp_store_blob_path(const wp_store *s, const char *digest);
bool wp_store_has_blob(const wp_store *s, const char *digest, int64_t *size);
int wp_store_put_blob(wp_store *s, const void *data, size_t len, char digest[WP_DIGEST_BUFSZ], wp_error *err);
/* Reads a blob of at most max bytes and checks it against its digest. */
int wp_store_read_blob(wp_store *s, const char *digest, size_t max, wp_buf *out, wp_error *err);
/* The store as a blob source for the image-graph reader (oci/graph.h); s outlives it. */
wp_blob_source wp_store_source(wp_store *s);
/* The image manifest stored at digest, read (at most WP_MANIFEST_MAX) and parsed into m
 * (wp_manifest_release it); WP_ENOTFOUND, WP_ETOOBIG or WP_EINVALID as the read or the
 * parse says. */
int wp_store_read_manifest(wp_store *s, const char *digest, wp_manifest *m, wp_error *err);

/* Streaming ingest. Bytes are hashed in the caller's thread and written by a helper
 * thread, so hashing and writing overlap. */
typedef struct wp_store_writer wp_store_writer;

int wp_store_writer_new(wp_store *s, wp_store_writer **out, wp_error *err);
int wp_store_writer_write(wp_store_writer *w, const void *data, size_t len, wp_error *err);
/* Direct form, for a caller that is itself a helper thread: hashes and writes in the
 * calling thread without a copy (pieces under 4 KiB are gathered first). Not to be mixed
 * with the forms above on one writer. */
int wp_store_writer_put(wp_store_writer *w, const void *data, size_t len, wp_error *err);
/* Zero-copy form: fill the returned buffer (cap bytes), then submit len of them. */
void *wp_store_writer_buffer(wp_store_writer *w, size_t *cap);
int wp_store_writer_submit(wp_store_writer *w, size_t len, wp_error *err);
/* Finishes, verifies against expect (may be NULL) and links the blob into place; frees w
 * whatever the outcome. */
int wp_store_writer_commit(wp_store_writer *w, const char *expect, char digest[WP_DIGEST_BUFSZ],
			  int64_t *size, wp_error *err);
void wp_store_writer_abort(wp_store_writer *w);

/* index.json */
int wp_store_index_read(wp_store *s, wp_index *ix, wp_error *err);
/* Points name (a full reference) at desc, replacing what it named before. */
int wp_store_tag(wp_store *s, const char *name, const wp_descriptor *desc, wp_error *err);
int wp_store_untag(wp_store *s, const char *name, wp_error *err);
/* Keeps art (an artifact manifest already in the store: its blobs too) as a referrer of
 * subject: an untagged index entry marked WP_ANN_SUBJECT, which gc keeps while the subject
 * is kept, `images` does not list, and wp_store_referrers finds. Once per pair. */
int wp_store_add_referrer(wp_store *s, const wp_descriptor *art, const char *subject, wp_error *err);
/* The store's referrers of subject, as an index's manifests. */
int wp_store_referrers(wp_store *s, const char *subject, wp_index *out, wp_error *err);

/* Finds an image by reference (normalised), by "name@digest", by full digest, or by a
 * unique hex prefix of at least 12 digits. name may be NULL. */
int wp_store_resolve(wp_store *s, const char *what, wp_descriptor *desc, char **name, wp_error *err);

typedef struct wp_gc_result {
	uint64_t blobs_removed;
	uint64_t bytes_removed;
	uint64_t blobs_kept;
	uint64_t blobs_damaged;   /* with verify: blobs whose content did not match their name */
	uint64_t tags_removed;    /* with verify: tags whose manifest was missing or damaged */
} wp_gc_result;

/* Removes every blob that no tag reaches; with verify also every blob whose content does
 * not match its name, and every tag whose manifest is missing or damaged (reported, and
 * gc goes on). Without verify a damaged manifest is an error (WP_EDIGEST) that names the
 * repair. Needs the store opened WP_STORE_EXCLUSIVE. */
int wp_store_gc(wp_store *s, bool verify, wp_gc_result *res, wp_error *err);

/* A folder for wasmpack's own files in the store (".wasmpack/<name>"), malloc'ed. */
char *wp_store_private_path(const wp_store *s, const char *name);

/* Copies a file into the store as a blob, hashing it on the way; expect_st (may be NULL)
 * is the stat taken when the input was scanned: a file that changed since is an error. */
int wp_store_ingest_file(wp_store *s, const char *path, const struct stat *expect_st,
			 char digest[WP_DIGEST_BUFSZ], int64_t *size, wp_error *err);

#endif
