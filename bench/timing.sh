# Timing helpers every bench sources: medians of RUNS runs, in seconds.
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# time_cmd SETUP CMD...: CMD after SETUP (eval'ed, untimed), median of RUNS.
time_cmd() {
	local setup=$1; shift
	for _ in $(seq 1 "$RUNS"); do
		eval "$setup"
		local s e
		s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N)
		echo "scale=3; ($e - $s) / 1000000000" | bc
	done | median
}
# time_runs SETUP CMD: as time_cmd, CMD eval'ed too ($i is the run number in both).
time_runs() {
	local setup=$1 cmd=$2
	for i in $(seq 1 "$RUNS"); do
		eval "$setup"
		local s e
		s=$(date +%s%N); eval "$cmd" >/dev/null 2>&1; e=$(date +%s%N)
		echo "scale=3; ($e - $s) / 1000000000" | bc
	done | median
}
ratio() { echo "scale=2; $1 / $2" | bc; }
