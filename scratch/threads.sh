#!/bin/bash
# Per-thread CPU (ms per ~1 s) of the channel daemons while `npm run bench -- channels` runs: the
# session-8 figure in docs/channels.md ("Where the CPU goes at 1,000/s"). Start it, then the bench:
#   scratch/threads.sh > /tmp/thr.log & CHANNEL_BENCH_SINGLE_ONLY=1 CHANNEL_BENCH_PAYMENTS=1000 CHANNEL_BENCH_OPEN_PAYMENTS=8000 CHANNEL_BENCH_SWEEP= npm run bench -- channels; kill %1
# Each line: time | <alias> main <ms> | <alias> <thread name> <ms> (other threads summed by name).
prev=""
while true; do
  cur=$(for pid in $(pgrep -f "channel node --chain-rpc"); do alias=$(tr '\0' ' ' < /proc/$pid/cmdline 2>/dev/null | grep -o -- "--alias [a-z]*" | cut -d' ' -f2); for t in /proc/$pid/task/*; do tid=$(basename $t); read -a f < $t/stat 2>/dev/null || continue; kind=other; [ "$tid" = "$pid" ] && kind=main; echo "$alias/$tid/$kind/$(cat $t/comm 2>/dev/null | tr ' ' _) $(( (${f[13]} + ${f[14]}) * 10 ))"; done; done | sort)
  if [ -n "$prev" ]; then join <(echo "$prev") <(echo "$cur") | awk '{d=$3-$2; split($1,a,"/"); k=a[1]" "a[3]; if(a[3]=="other") k=a[1]" "a[4]; s[k]+=d} END {line=""; for (k in s) if (s[k]>0) line=line" | "k" "s[k]; print strftime("%T") line}'; fi
  prev="$cur"; sleep 1
done
