"""Offline checks of the Dockerfile (parsed, not built: no Docker engine here) and of .dockerignore (Docker's
matching rules reimplemented, so the build context can be reproduced and built into a wheel)."""
from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and backslash continuations joined."""
    out, buf = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):
            continue  # comment inside a continued instruction
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        if buf.strip():
            word, _, rest = buf.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
        buf = ""
    if buf.strip():
        word, _, rest = buf.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def stages(text: str) -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for ins in instructions(text):
        if ins[0] == "FROM":
            result.append([])
        if not result:
            if ins[0] in ("ARG",):
                continue
            raise ValueError(f"{ins[0]} before the first FROM")
        result[-1].append(ins)
    return result


def problems(text: str) -> list[str]:
    """What the Wharf image requires of its Dockerfile; empty when all is well."""
    found = []
    st = stages(text)
    if not st:
        return ["no FROM"]
    for s in st:
        base = s[0][1].split()[0]
        if base != "python:3.11-slim":
            found.append(f"stage based on {base}, not python:3.11-slim")
    final = st[-1]
    users = [args for ins, args in final if ins == "USER"]
    if not users:
        found.append("the final stage sets no USER (it would run as root)")
    else:
        user = users[-1].split(":")[0]
        if user in ("root", "0"):
            found.append("the final stage runs as root")
        elif not user.isdigit():
            found.append("USER is not numeric: Kubernetes' runAsNonRoot cannot verify a user name")
    entry = [args for ins, args in final if ins == "ENTRYPOINT"]
    if not entry:
        found.append("no ENTRYPOINT")
    else:
        try:
            value = json.loads(entry[-1])
        except json.JSONDecodeError:
            value = None
        if value != ["wharf"]:
            found.append(f'ENTRYPOINT must be the exec form ["wharf"], is {entry[-1]}')
    runs = [args for s in st for ins, args in s if ins == "RUN"]
    if not any(_pip_installs_dot(r) for r in runs):
        found.append("no `pip install .`")
    elif not any(_pip_installs_dot(r) and _constrained_by_lock(r) for r in runs):
        found.append("`pip install .` does not install from the lock (-c requirements/runtime.txt)")
    exposed = {p.split("/")[0] for ins, args in final if ins == "EXPOSE" for p in args.split()}
    if "8080" not in exposed:
        found.append("port 8080 is not EXPOSEd")
    return found


def _constrained_by_lock(run: str) -> bool:
    words = shlex.split(run)
    return any(a in ("-c", "--constraint") and b == "requirements/runtime.txt" for a, b in zip(words, words[1:]))


def _pip_installs_dot(run: str) -> bool:
    for part in re.split(r"&&|;|\|\|", run):
        words = shlex.split(part)
        if any(w.endswith("pip") for w in words) and "install" in words and "." in words:
            return True
    return False


# ------------------------------------------------------------------------------------------- .dockerignore
def _pattern_regex(pattern: str) -> re.Pattern:
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
            continue
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        out += {"*": "[^/]*", "?": "[^/]"}.get(c, re.escape(c))
        i += 1
    return re.compile(out + "$")


def ignore_rules(text: str) -> list[tuple[bool, re.Pattern, str]]:
    """(negated, regex, pattern) per line of a .dockerignore, in order."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        neg = line.startswith("!")
        pat = line[1:].strip() if neg else line
        pat = pat.strip("/")
        pat = re.sub(r"/+", "/", pat)
        rules.append((neg, _pattern_regex(pat), pat))
    return rules


def is_ignored(rel_path: str, rules) -> bool:
    """Docker's rule: the last pattern that matches the path, or one of its parent directories, decides."""
    parts = rel_path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    ignored = False
    for neg, rx, _ in rules:
        if any(rx.match(c) for c in candidates):
            ignored = not neg
    return ignored


def build_context(root: Path, dockerignore_text: str) -> list[str]:
    """The files (relative, posix) that `docker build root` sends, given the .dockerignore text."""
    rules = ignore_rules(dockerignore_text)
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        # skip ignored directories that no `!pattern` can reach into (.git, .venv, ...)
        dirnames[:] = sorted(d for d in dirnames
                             if not is_ignored(prefix + d, rules) or _may_reinclude(prefix + d, rules))
        out += [prefix + f for f in filenames if not is_ignored(prefix + f, rules)]
    return sorted(out)


def _may_reinclude(rel_dir: str, rules) -> bool:
    for neg, _, pat in rules:
        if neg and (pat.startswith(rel_dir + "/") or pat[:1] in "*?["):
            return True
    return False
