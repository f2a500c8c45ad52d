#!/usr/bin/env bash
# The memory policy holds and the compiler enforces it (common/alloc.h): every allocation
# of the project goes through the aborting wrappers, and a wp_buf append whose result is
# ignored does not compile. And the modules' includes go one way (scripts/layers.sh), and no
# function outside tests/ is over 100 lines (scripts/funcs.sh).
. "$(dirname "$0")/lib.bash"
cd "$ROOT"
raw=$(grep -nE '(^|[^_[:alnum:].>])(malloc|calloc|realloc|reallocarray|strdup|strndup)\(' \
	common/*.c oci/*.c registry/*.c spin/*.c node/*.c trust/*.c shim/*.c cli/*.c cli/*/*.c | grep -v '^common/alloc\.c:' | grep -v '^\S*:[0-9]*:\s*/\?\*')
is "$raw" "" "no allocation outside common/alloc.c's wrappers"
cat > "$TMP/ignored.c" <<'C'
#include "common/buf.h"
int f(wp_buf *b);
int f(wp_buf *b)
{
	wp_buf_append(b, "x", 1);
	return 0;
}
C
out=$(${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Werror -I. -c -o /dev/null "$TMP/ignored.c" 2>&1); rc=$?
[ "$rc" -ne 0 ]; ok $? "ignoring a wp_buf append's result does not compile"
like "$out" "ignoring return value of .wp_buf_append" "the compiler says so"
sed -i 's/\twp_buf_append(b, "x", 1);/\tif (wp_buf_append(b, "x", 1) < 0)\n\t\treturn -1;/' "$TMP/ignored.c"
check "checking it compiles" ${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Werror -I. -c -o /dev/null "$TMP/ignored.c"
check "the modules' layering holds (scripts/layers.sh)" "$ROOT/scripts/layers.sh"
mkdir -p "$TMP/tree"
cp -r common oci registry spin node trust shim cli "$TMP/tree/"
printf '#include "shim/app.h"\n' >> "$TMP/tree/cli/cmd_tags.c"
out=$("$ROOT/scripts/layers.sh" "$TMP/tree"); rc=$?
is "$rc" "1" "an include of another module's internal header breaks the layering"
like "$out" "cli/cmd_tags.c: #include \"shim/app.h\" \(shim/app.h is internal to shim/\)" "naming it"
cp cli/cmd_tags.c "$TMP/tree/cli/cmd_tags.c"
printf '#include "cli/cli.h"\n' >> "$TMP/tree/trust/verdict.c"
out=$("$ROOT/scripts/layers.sh" "$TMP/tree"); rc=$?
is "$rc:$out" "1:trust/verdict.c: #include \"cli/cli.h\" (trust may not include cli)" "and so does trust/ reaching up into cli/"
out=$("$ROOT/scripts/funcs.sh"); rc=$?
is "$rc:$out" "0:" "no C function outside tests/ is over 100 lines (scripts/funcs.sh)"
out=$("$ROOT/scripts/funcs.sh" 20 | head -1)
like "$out" "^ +[0-9]+ [a-z]+/.*\.c:[0-9]+ [a-z_0-9]+$" "and it does measure them (the longest over 20: $out)"
done_testing
