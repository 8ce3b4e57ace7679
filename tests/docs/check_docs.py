#!/usr/bin/env python3
"""Checks the command lines and config blocks of README.md and docs/*.md
against the tools, so that the docs cannot drift from them.

Usage: check_docs.py REPO_ROOT BIN_DIR

- Every tool command in a shell block (rl-collect, rl-train, rl-eval,
  rl-label, rl-goals, rl-data, rl-robot, after `$ `, pipes, `&&`, `;`, env assignments
  and `nice`/`nohup` prefixes) is run as `BIN_DIR/TOOL ARGS --print-config`:
  the tool's own parser must accept its verb, flags and values (exit 0).
  Commands with a `...` placeholder are skipped (counted).
- Every `scripts/NAME.sh` command's flags must appear in that script's
  `--help` (scripts/slurm_train.sh passes its arguments to rl-train, so
  they are checked as an rl-train command). `torchrun` and `sbatch`
  options before the command are dropped.
- Every YAML block must be accepted by at least one tool's `--config FILE
  --print-config`.
- Every relative link leads to a file that exists, and its `#anchor` to a
  heading of that file (GitHub's slugs).
- Every row of the README's "Measured figures" table links the doc that
  its figure comes from.
Prints one line per problem (FILE:LINE: ...) and a summary; exit 1 if any.
"""
import glob
import os
import re
import shlex
import subprocess
import sys
import tempfile

TOOLS = ("rl-collect", "rl-train", "rl-eval", "rl-label", "rl-goals", "rl-data", "rl-robot")
SHELL_LANGS = ("", "sh", "bash", "shell", "console")
# Tool + verb pairs a YAML block may belong to.
CONFIG_TARGETS = (["rl-collect"], ["rl-eval"], ["rl-train", "q"], ["rl-train", "sac"], ["rl-goals", "fit"], ["rl-robot", "serve"])


def blocks(path):
    """Yields (language, first line number, text) of each fenced block."""
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^\s*```(\w*)\s*$", lines[i])
        if m:
            start = i + 1
            j = start
            while j < len(lines) and not re.match(r"^\s*```\s*$", lines[j]):
                j += 1
            yield m.group(1), start + 1, "\n".join(lines[start:j])
            i = j + 1
        else:
            i += 1


def commands(text, first_line):
    """Yields (line number, words) of each simple command in a shell block."""
    logical, start = "", first_line
    for k, raw in enumerate(text.split("\n")):
        if not logical:
            start = first_line + k
        line = raw.rstrip()
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        text_line, logical = logical, ""
        stripped = text_line.strip()
        if stripped.startswith("$ "):
            stripped = stripped[2:]
        elif stripped.startswith("#") or not stripped:
            continue
        try:
            lexer = shlex.shlex(stripped, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            lexer.commenters = "#"
            words = list(lexer)
        except ValueError:
            continue
        command = []
        for word in words + [";"]:
            if word in ("|", "||", "&&", ";", "&", "(", ")"):
                if command:
                    yield start, command
                command = []
            else:
                command.append(word)


def strip_prefixes(words):
    """Drops env assignments, nice/nohup/exec/time and redirections."""
    out, i = [], 0
    while i < len(words) and (re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[i]) or
                              words[i] in ("nohup", "exec", "time", "sudo", "nice")):
        if words[i] == "nice" and i + 2 < len(words) and words[i + 1] == "-n":
            i += 3
        else:
            i += 1
    words = words[i:]
    # Launchers: torchrun's and sbatch's own options come before the command they start.
    if words and words[0] in ("torchrun", "sbatch"):
        k = 1
        while k < len(words) and not tool_name(words[k]) and not words[k].endswith(".sh"):
            k += 1
        words = words[k:]
    skip = False
    for w in words:
        if skip:
            skip = False
            continue
        if w in (">", ">>", "<", "2>", "2>>", "&>", ">&"):
            skip = True
            continue
        if re.match(r"^\d*>", w) or w.startswith("<"):
            continue
        out.append(w)
    return out


def tool_name(word):
    base = os.path.basename(word)
    return base if base in TOOLS else None


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path):
    """The anchors of a markdown file's headings (outside fenced blocks)."""
    found, fenced, seen = set(), False, {}
    for line in open(path, encoding="utf-8").read().split("\n"):
        if re.match(r"^\s*```", line):
            fenced = not fenced
            continue
        m = None if fenced else re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    return found


def link_problems(path, rel):
    """Broken relative links of one markdown file (outside fenced blocks)."""
    problems, fenced = [], False
    for number, line in enumerate(open(path, encoding="utf-8").read().split("\n"), 1):
        if re.match(r"^\s*```", line):
            fenced = not fenced
            continue
        if fenced:
            continue
        for target in re.findall(r"\]\(([^)\s]+)\)", line):
            if re.match(r"^[a-z]+:", target):
                continue  # http:, mailto: ...
            file_part, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
            if not os.path.exists(dest):
                problems.append(f"{rel}:{number}: link to {target}: no such file")
            elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
                problems.append(f"{rel}:{number}: link to {target}: no heading with that anchor")
    return problems


def figure_problems(path, rel):
    """Rows of the README's "Measured figures" table that link no source."""
    problems, inside = [], False
    for number, line in enumerate(open(path, encoding="utf-8").read().split("\n"), 1):
        if line.startswith("## "):
            inside = line.strip() == "## Measured figures"
            continue
        if inside and line.startswith("|") and not re.match(r"^\|\s*(what|-+)\s*\|", line):
            if "](" not in line:
                problems.append(f"{rel}:{number}: a measured figure without a link to its source")
    return problems


def main():
    root, bin_dir = sys.argv[1], sys.argv[2]
    files = [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "*.md")))
    problems, checked, skipped, configs = [], 0, 0, 0
    help_cache = {}
    env = dict(os.environ, PERPETUA_BIN=bin_dir)
    for path in files:
        rel = os.path.relpath(path, root)
        problems += link_problems(path, rel)
        if rel == "README.md":
            problems += figure_problems(path, rel)
        for lang, first, text in blocks(path):
            if lang in ("yaml", "yml"):
                configs += 1
                with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
                    f.write(text + "\n")
                    name = f.name
                errors = []
                for target in CONFIG_TARGETS:
                    r = subprocess.run([os.path.join(bin_dir, target[0])] + target[1:] +
                                       ["--config", name, "--print-config"],
                                       capture_output=True, text=True, env=env)
                    if r.returncode == 0:
                        errors = None
                        break
                    errors.append(r.stderr.strip().split("\n")[0])
                os.unlink(name)
                if errors is not None:
                    problems.append(f"{rel}:{first}: no tool accepts this YAML block ({errors[0]})")
                continue
            if lang not in SHELL_LANGS:
                continue
            for line, words in commands(text, first):
                words = strip_prefixes(words)
                if not words:
                    continue
                if words[0] == "bash" and len(words) > 1:
                    words = words[1:]
                tool = tool_name(words[0])
                # A project script: scripts/NAME.sh by any path, or NAME.sh when scripts/ has it.
                m = re.match(r"^(?:.*/)?([\w-]+\.sh)$", words[0])
                script = m.group(1) if m and ("scripts/" in words[0] or
                                              os.path.exists(os.path.join(root, "scripts", m.group(1)))) else None
                if script == "slurm_train.sh" and len(words) > 1 and words[1] != "--help":
                    words, tool, script = ["rl-train"] + words[1:], "rl-train", None  # it runs rl-train
                if any("..." in w and not w.startswith("--") for w in words):
                    if tool or script:
                        skipped += 1
                    continue
                if tool:
                    checked += 1
                    r = subprocess.run([os.path.join(bin_dir, tool)] + words[1:] + ["--print-config"],
                                       capture_output=True, text=True, env=env)
                    if r.returncode != 0:
                        first_error = r.stderr.strip().split("\n")[0]
                        problems.append(f"{rel}:{line}: `{' '.join(words)}`: {first_error}")
                elif script:
                    checked += 1
                    name = script
                    if name not in help_cache:
                        r = subprocess.run(["bash", os.path.join(root, "scripts", name), "--help"],
                                           capture_output=True, text=True, env=env)
                        help_cache[name] = r.stdout + r.stderr
                    passed_on = False  # the word after --train-arg is rl-train's, not the script's
                    for word in words[1:]:
                        flag = word.split("=", 1)[0]
                        if passed_on:
                            passed_on = False
                            continue
                        passed_on = flag == "--train-arg" and "=" not in word
                        if flag.startswith("--") and flag not in help_cache[name]:
                            problems.append(f"{rel}:{line}: scripts/{name} has no flag {flag} (not in its --help)")
    for p in problems:
        print(p)
    print(f"checked {checked} commands and {configs} YAML blocks in {len(files)} files; "
          f"{skipped} commands with '...' placeholders skipped; {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
