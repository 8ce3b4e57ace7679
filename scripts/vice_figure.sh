#!/usr/bin/env bash
# The picture of a VICE run with questions (docs/vice.md): a row of the last
# questions the run asked, each with its answer, and the classifier's
# P(success) along the frames of a few episodes (one successful).
#
#   scripts/vice_figure.sh --train DIR --data DATASET --out FIGURE.png [--questions 8]
#
# --train is the run's rl-train --out (its latest.ckpt and queries/), --data
# a dataset whose episodes are scored (e.g. the loop's DIR/data). Needs
# gnuplot (pngcairo) and python3. Exit 2 on bad flags, 3 on missing input.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
prog=vice_figure

train="" data="" out="" questions=8
while [ $# -gt 0 ]; do
  case "$1" in
    --train) train="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --questions) questions="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die_usage "unknown option '$1'" ;;
  esac
done
[ -n "$train" ] && [ -n "$data" ] && [ -n "$out" ] || die_usage "--train, --data and --out are required"
[[ "$questions" =~ ^[1-9][0-9]?$ ]] || die_usage "--questions must be in 1..99"
[ -f "$train/latest.ckpt" ] || { echo "$prog: error: $train/latest.ckpt: no checkpoint" >&2; exit 3; }
[ -f "$train/queries/queries.jsonl" ] || { echo "$prog: error: $train/queries: no questions" >&2; exit 3; }
bin="$(tools_dir "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$bin/rl-label" score --classifier "$train/latest.ckpt" --data "$data" --frames >"$work/frames.tsv"
python3 - "$train/queries" "$work" "$questions" "$out" <<'EOF'
import json, os, sys
queries, work, count, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def lines(path):
    if not os.path.exists(path):
        return []
    rows = []
    for line in open(path).read().split("\n"):
        try:
            rows.append(json.loads(line))
        except ValueError:
            pass
    return rows
asked = [q for q in lines(os.path.join(queries, "queries.jsonl")) if isinstance(q, dict)][-count:]
answers = {}
for a in lines(os.path.join(queries, "answers.jsonl")):
    if isinstance(a, dict) and "id" in a and a["id"] not in answers:
        answers[a["id"]] = a.get("label", "?")
# Episodes: the first successful one whose score rises, and two failed ones.
episodes = {}
for row in open(os.path.join(work, "frames.tsv")):
    name, t, p, success = row.rstrip("\n").split("\t")
    episodes.setdefault(name, {"p": [], "success": success == "1"})["p"].append(float(p))
good = [n for n, e in episodes.items() if e["success"]][:1]
bad = [n for n, e in episodes.items() if not e["success"]][:2]
chosen = good + bad
for i, name in enumerate(chosen):
    with open(os.path.join(work, "episode%d.dat" % i), "w") as f:
        for t, p in enumerate(episodes[name]["p"]):
            f.write("%d %f\n" % (t, p))
n = max(1, len(asked))
g = ["set terminal pngcairo size %d,520 font 'sans,10'" % max(640, 110 * n), "set output '%s'" % out,
     "set multiplot", "unset key", "unset border", "unset tics"]
for i, q in enumerate(asked):
    label = answers.get(q["id"], "unanswered")
    colour = {"success": "#2e7d32", "failure": "#c62828"}.get(label, "#555555")
    g += ["set size %f,0.45" % (1.0 / n), "set origin %f,0.52" % (i / n),
          "set title \"q%d: %s\\nP=%.2f\" textcolor rgb '%s'" % (q["id"], label, q["probability"], colour),
          "set size ratio -1",
          "plot '%s' binary filetype=png with rgbimage" % os.path.join(queries, q["image"])]
g += ["set size ratio 0", "set size 1,0.5", "set origin 0,0", "set border", "set tics", "set key top left",
      "set title 'the classifier along three episodes of the run' textcolor rgb 'black'", "set xlabel 'step'",
      "set ylabel 'P(success)'", "set yrange [0:1]"]
styles = ["lw 2 lc rgb '#2e7d32'", "lw 1.5 lc rgb '#c62828'", "lw 1.5 dt 2 lc rgb '#c62828'"]
plots = []
for i, name in enumerate(chosen):
    title = ("a successful episode" if episodes[name]["success"] else "a failed episode")
    plots.append("'%s' with lines %s title '%s'" % (os.path.join(work, "episode%d.dat" % i), styles[i], title))
if plots:
    g.append("plot " + ", ".join(plots))
g.append("unset multiplot")
open(os.path.join(work, "figure.gp"), "w").write("\n".join(g) + "\n")
EOF
gnuplot "$work/figure.gp"
echo "$out"
