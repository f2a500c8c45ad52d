#!/bin/sh
# Embeds files in the binaries: for each FILE NAME pair, a C array NAME holding FILE's
# bytes and a closing NUL (node/runners/* become node/engine.c's runners this way; the
# Makefile writes the header under $(O)/gen).
# usage: scripts/embed.sh FILE NAME [FILE NAME ...] > HEADER
set -eu
echo "/* Made by scripts/embed.sh from node/runners: edit those files, not this one. */"
while [ $# -ge 2 ]; do
	printf 'static const char %s[] = {\n' "$2"
	od -An -v -tx1 "$1" | sed -e 's/ \([0-9a-f][0-9a-f]\)/0x\1, /g' -e 's/^ *//'
	printf '0x00 };\n'
	shift 2
done
