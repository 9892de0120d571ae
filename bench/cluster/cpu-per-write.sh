#!/bin/bash
# cpu-per-write.sh DIR REST_PORT [BENCH ARGS...]
#
# Runs `tidemark bench upsert --seconds 10 BENCH ARGS` against a running
# local cluster (cluster/tmcluster up --dir DIR) and prints, per node and
# thread name, the CPU time (ms) and context switches per write it cost,
# read from /proc/PID/task/*/{stat,status} of the PIDs tmcluster recorded.
# Threads inherit their creator's name (libuv's disk threads are "tm-raft").
# Example: bench/cluster/cpu-per-write.sh /tmp/tmc 19531 --dim 128 --clients 1
set -euo pipefail
dir=$1 port=$2
shift 2
bin=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['bin'])" "$dir/cluster.json")
tick_ms=$((1000 / $(getconf CLK_TCK)))

snap() { # -> "node-N/thread cpu_ms switches" per node and thread name
    for f in "$dir"/node-*.pid; do
        pid=$(cat "$f")
        [[ -d /proc/$pid ]] || continue
        for t in /proc/"$pid"/task/*; do
            name=$(tr ' ' _ < "$t/comm" 2>/dev/null) || continue
            cpu=$(awk -v k="$tick_ms" '{print ($14 + $15) * k}' "$t/stat" 2>/dev/null) || continue
            cs=$(awk '/ctxt_switches/ {s += $2} END {print s}' "$t/status" 2>/dev/null) || continue
            echo "$(basename "$f" .pid)/$name $cpu $cs"
        done
    done | awk '{c[$1] += $2; s[$1] += $3} END {for (k in c) print k, c[k], s[k]}' | sort
}

before=$(mktemp) after=$(mktemp) out=$(mktemp)
trap 'rm -f "$before" "$after" "$out"' EXIT
snap > "$before"
"$bin" bench upsert --port "$port" --seconds 10 "$@" > "$out" 2>&1
snap > "$after"
grep '^upsert' "$out"
n=$(grep -o '[0-9]* requests in' "$out" | head -1 | cut -d' ' -f1)
echo "per write (of $n): CPU µs, context switches"
join -a2 -e0 -o 0,1.2,1.3,2.2,2.3 "$before" "$after" |
    awk -v n="$n" '{cpu = ($4 - $2) * 1000 / n; cs = ($5 - $3) / n; tc += cpu; ts += cs;
                    if (cpu >= 5 || cs >= 0.05) printf "  %-28s %7.1f %6.2f\n", $1, cpu, cs}
                   END {printf "  %-28s %7.1f %6.2f\n", "all nodes", tc, ts}'
