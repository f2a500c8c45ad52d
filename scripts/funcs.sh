#!/usr/bin/env bash
# The length of every C function outside tests/ (from the line of its name to its closing
# brace at column 0), longest first; exits 1 when one is over the limit (default 100
# lines), as CONVENTIONS.md and issue 24 set it. `scripts/funcs.sh 60` lists those over 60.
set -euo pipefail
cd "$(dirname "$0")/.."
limit=${1:-100}
awk -v limit="$limit" '
	FNR == 1 { name = ""; start = 0 }
	/^[a-zA-Z_].*\(/ && !/;[[:space:]]*$/ && !/^(typedef|struct|enum|union|static const|const|extern|#)/ {
		line = $0; sub(/\(.*/, "", line); n = split(line, w, /[ *]+/); name = w[n]; start = FNR
	}
	/^\{/ && name != "" && start == 0 { start = FNR }
	/^\}/ && name != "" {
		len = FNR - start + 1
		if (len > limit) { printf "%5d %s:%d %s\n", len, FILENAME, start, name; over = 1 }
		name = ""
	}
	END { exit over }
' $(git ls-files '*.c' | grep -v '^tests/') | sort -rn
