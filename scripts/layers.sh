#!/usr/bin/env bash
# The modules' layering, checked from the #include lines: a folder may include its own
# headers and those of the layers below it, never above or beside:
#
#   common  <-  oci  <-  registry | spin | node  <-  trust  <-  shim  <-  cli
#
# (registry, spin and node stand side by side and include none of each other; trust, the
# supply chain, uses registry and node's cache). A module's headers are its API, except
# those whose first line says "Internal to MODULE/": only MODULE's own files include them.
# Prints every include that breaks a rule, and exits 1 if there is one. The tree checked is
# the checkout's, or the folder given (the tests check a copy with a rule broken).
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
level() {
	case $1 in
	common) echo 0 ;; oci) echo 1 ;; registry | spin | node) echo 2 ;; trust) echo 3 ;; shim) echo 4 ;; cli) echo 5 ;;
	*) echo -1 ;;
	esac
}
bad=0
while IFS=: read -r file _ line; do
	from=${file%%/*}
	to=$(sed -E 's/^#include "([^/"]+)\/.*/\1/' <<<"$line")
	[ "$to" = "$line" ] && continue
	lf=$(level "$from"); lt=$(level "$to")
	[ "$lt" -lt 0 ] && continue
	if [ "$from" != "$to" ] && { [ "$lt" -gt "$lf" ] || [ "$lt" -eq "$lf" ]; }; then
		echo "$file: $line ($from may not include $to)"
		bad=1
	fi
	hdr=$(sed -E 's/^#include "([^"]+)".*/\1/' <<<"$line")
	if [ "$from" != "$to" ] && [ -f "$hdr" ] && head -1 "$hdr" | grep -q "^/\* Internal to $to/"; then
		echo "$file: $line ($hdr is internal to $to/)"
		bad=1
	fi
done < <(grep -Hn '^#include "' common/*.[ch] oci/*.[ch] registry/*.[ch] spin/*.[ch] node/*.[ch] trust/*.[ch] shim/*.[ch] cli/*.[ch] cli/*/*.[ch])
[ "$bad" -eq 0 ] && echo "layers: every include goes down (common <- oci <- registry|spin|node <- trust <- shim <- cli)"
exit "$bad"
