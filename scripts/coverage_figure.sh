#!/usr/bin/env bash
# Runs' coverage side by side (docs/goals.md): one panel per run, each the
# share of the run's observations per bin of the true state, one line per
# window of episodes, titled with the run's entropy.
#
#   scripts/coverage_figure.sh --out FIGURE.png [--title TEXT] [--columns 2] LABEL=COVERAGE.json ...
#
# Each COVERAGE.json is what `rl-goals coverage` printed for one run; all
# must share the state, range and bins. Needs gnuplot (pngcairo) and python3.
# Exit 2 on bad flags, 3 on missing or unreadable input.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
prog=coverage_figure

out="" title="" columns=2 runs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || die_usage "--out needs a value"; out="$2"; shift 2 ;;
    --title) [ $# -ge 2 ] || die_usage "--title needs a value"; title="$2"; shift 2 ;;
    --columns) [ $# -ge 2 ] || die_usage "--columns needs a value"; columns="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die_usage "unknown option '$1'" ;;
    *=*) runs+=("$1"); shift ;;
    *) die_usage "'$1' is not LABEL=COVERAGE.json" ;;
  esac
done
[ -n "$out" ] || die_usage "--out is required"
[ ${#runs[@]} -gt 0 ] || die_usage "give at least one LABEL=COVERAGE.json"
[[ "$columns" =~ ^[1-9]$ ]] || die_usage "--columns must be in 1..9"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 - "$work" "$out" "$title" "$columns" "${runs[@]}" <<'EOF' || exit 3
import json, math, os, sys
work, out, title, columns, specs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:]
def fail(message):
    print("coverage_figure: error: " + message, file=sys.stderr)
    sys.exit(1)
runs = []
for spec in specs:
    label, path = spec.split("=", 1)
    try:
        doc = json.load(open(path))
        windows = doc["windows"] or [{"first_episode": 0, "last_episode": doc["episodes"] - 1,
                                      "histogram": doc["histogram"]}]
        shape = (doc["state"], tuple(doc["range"]), doc["bins"])
        if any(len(w["histogram"]) != doc["bins"] for w in windows):
            fail(path + ": a window's histogram does not have " + str(doc["bins"]) + " bins")
    except (OSError, ValueError, KeyError, TypeError) as e:
        fail(path + ": not rl-goals coverage output (" + type(e).__name__ + ")")
    if runs and shape != runs[0]["shape"]:
        fail(path + ": its state, range or bins differ from " + runs[0]["path"] + "'s")
    runs.append({"label": label, "path": path, "doc": doc, "windows": windows, "shape": shape})
state, (low, high), bins = runs[0]["shape"]
width = (high - low) / bins
top = 0.0
for r, run in enumerate(runs):
    for w, window in enumerate(run["windows"]):
        total = sum(window["histogram"]) or 1
        with open(os.path.join(work, "run%d_%d.dat" % (r, w)), "w") as f:
            for b, count in enumerate(window["histogram"]):
                f.write("%g %g\n" % (low + (b + 0.5) * width, count / total))
                top = max(top, count / total)
columns = min(columns, len(runs))
rows = math.ceil(len(runs) / columns)
head = 0.06 if title else 0.0
g = ["set terminal pngcairo size %d,%d font 'sans,10'" % (600 * columns, 360 * rows + (40 if title else 0)),
     "set output '%s'" % out.replace("'", "''"), "set multiplot"]
if title:
    g.append("set label 1 \"%s\" at screen 0.5, screen %f center" % (title.replace('"', "'"), 1 - head / 3))
g += ["set xrange [%g:%g]" % (low, high), "set yrange [0:%g]" % (math.ceil(top * 10 + 0.5) / 10),
      "set xlabel '%s'" % state.replace("_", " "), "set ylabel 'share of observations'", "set key top right"]
for r, run in enumerate(runs):
    g += ["set size %f,%f" % (1.0 / columns, (1 - head) / rows),
          "set origin %f,%f" % ((r % columns) / columns, (1 - head) * (1 - (r // columns + 1) / rows)),
          "set title \"%s: entropy %.2f nats\" noenhanced" % (run["label"].replace('"', "'"), run["doc"]["entropy"])]
    plots = ["'%s' with linespoints title 'episodes %d-%d'" % (os.path.join(work, "run%d_%d.dat" % (r, w)),
             window["first_episode"], window["last_episode"]) for w, window in enumerate(run["windows"])]
    g.append("plot " + ", ".join(plots))
    g.append("unset label 1")
g.append("unset multiplot")
open(os.path.join(work, "figure.gp"), "w").write("\n".join(g) + "\n")
EOF
gnuplot "$work/figure.gp"
echo "$out"
