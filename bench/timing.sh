# Timing helpers every bench sources: medians of RUNS runs, in seconds. A failing run is
# never timed: the bench stops with the command's own message (a fast wrong result must
# not win).
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# run_timed CMD [WHO] (eval'ed): prints its wall time in seconds, or stops the bench
# saying which contender's run failed.
run_timed() {
	local s e rc out=${BENCH_TMP:-/tmp}/bench-run.$$
	sync
	[ "${DROP_CACHES:-0}" = 1 ] && echo 3 > /proc/sys/vm/drop_caches
	s=$(date +%s%N); eval "$1" >"$out" 2>&1 && rc=0 || rc=$?; e=$(date +%s%N)
	if [ "$rc" -ne 0 ]; then
		echo "bench: ${2:-a} timed run failed (exit $rc): $1" >&2
		tail -20 "$out" >&2
		rm -f "$out"
		return 1
	fi
	rm -f "$out"
	echo "scale=3; ($e - $s) / 1000000000" | bc
}
# time_cmd SETUP CMD...: CMD after SETUP (eval'ed, untimed), median of RUNS.
time_cmd() {
	local setup=$1; shift
	local cmd=$(printf '%q ' "$@")
	time_runs "$setup" "$cmd"
}
# time_runs SETUP CMD: as time_cmd, CMD eval'ed too ($i is the run number in both).
time_runs() {
	local setup=$1 cmd=$2 t
	for i in $(seq 1 "$RUNS"); do
		eval "$setup" || { echo "bench: setup failed: $setup" >&2; return 1; }
		t=$(run_timed "$cmd") || return 1
		echo "$t"
	done | median
	[ "${PIPESTATUS[0]}" -eq 0 ]
}
# time_interleaved NAME SETUP CMD [NAME SETUP CMD ...]: every contender once per round,
# the order rotated from round to round (so none always runs first, on a cold or warm
# machine), RUNS rounds; prints "NAME MEDIAN" lines. $i is the round in SETUP and CMD.
time_interleaved() {
	local -a names=() setups=() cmds=()
	local n k j t dir=${BENCH_TMP:-/tmp}/bench-times.$$
	while [ $# -ge 3 ]; do names+=("$1"); setups+=("$2"); cmds+=("$3"); shift 3; done
	n=${#names[@]}
	mkdir -p "$dir"
	for i in $(seq 1 "$RUNS"); do
		for k in $(seq 0 $((n - 1))); do
			j=$(( (k + i) % n ))
			eval "${setups[$j]}" || { echo "bench: ${names[$j]}: the setup before round $i failed: ${setups[$j]}" >&2; rm -rf "$dir"; return 1; }
			t=$(run_timed "${cmds[$j]}" "${names[$j]}'s (round $i)") || { rm -rf "$dir"; return 1; }
			echo "$t" >> "$dir/$j"
		done
	done
	for k in $(seq 0 $((n - 1))); do echo "${names[$k]} $(median < "$dir/$k")"; done
	rm -rf "$dir"
}
# pick NAME < time_interleaved's output
pick() { awk -v n="$1" '$1 == n {print $2}'; }
ratio() { echo "scale=2; $1 / $2" | bc; }
