#!/usr/bin/env bash
# Measures what the Foundation issue asks for, on this machine:
#   1. process start -> first full frame in tmux, shipdeck vs a minimal ratatui
#      app built the same way (../shared/tools/baseline), as a ratio;
#   2. idle CPU of the demo over a window (default 60 s), as % of one core;
#   3. RSS at the start and end of a soak (default: the same window).
# Usage: scripts/measure-tui.sh [IDLE_SECONDS] [SOAK_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
idle=${1:-60}
soak=${2:-$idle}
tools=../shared/tools

cargo build --release --quiet
CARGO_TARGET_DIR=/tmp/baseline-target cargo build --release --quiet --manifest-path "$tools/baseline/Cargo.toml"

work=$(mktemp -d)
trap 'rm -rf "$work"; tmux kill-session -t measure-idle 2>/dev/null || true' EXIT
bin=$PWD/target/release/shipdeck

echo "== first frame (7 runs each, median)"
base=$(python3 "$tools/first_frame.py" "BASELINE READY" q 7 -- /tmp/baseline-target/release/baseline | tail -1 | cut -d= -f2)
# Run from an empty dir with an empty XDG config so shipdeck opens the demo.
ours=$(cd "$work" && XDG_CONFIG_HOME="$work" SHIPDECK_STATE_DIR="$work" python3 "$OLDPWD/$tools/first_frame.py" DEMO q 7 -- "$bin" | tail -1 | cut -d= -f2)
echo "baseline_ms=$base shipdeck_ms=$ours ratio=$(python3 -c "print(round($ours/$base, 2))")"

echo "== idle CPU over ${idle}s and RSS over ${soak}s (demo fleet running, no keys pressed)"
tmux new-session -d -s measure-idle -x 160 -y 48 "cd $work && XDG_CONFIG_HOME=$work SHIPDECK_STATE_DIR=$work $bin"
sleep 3
pane=$(tmux list-panes -t measure-idle -F '#{pane_pid}')
pid=$(pgrep -P "$pane" | head -1 || true)
[ -n "$pid" ] || pid=$pane
hz=$(getconf CLK_TCK)
ticks() { awk '{print $14+$15}' "/proc/$pid/stat"; }
rss() { awk '/VmRSS/{print $2}' "/proc/$pid/status"; }
rss0=$(rss); t0=$(ticks)
sleep "$idle"
t1=$(ticks)
echo "idle_cpu_percent=$(python3 -c "print(round(100*($t1-$t0)/$hz/$idle, 2))")"
if [ "$soak" -gt "$idle" ]; then sleep $((soak - idle)); fi
echo "rss_start_kb=$rss0 rss_end_kb=$(rss)"
tmux send-keys -t measure-idle q
