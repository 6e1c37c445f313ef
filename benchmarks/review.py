"""Review figures on real histories: comments outside changed lines, review time, and what the
model may misplace.

Run: ``.venv/bin/python benchmarks/review.py [--commits 20] [--llm-commits 5]``; prints JSON.

Histories reviewed commit by commit (each commit's parent is the base, its tree the working tree,
exactly as ``tactful review`` sees uncommitted work):

- ``click``: a history built from click's released source distributions on PyPI (8.0.3 … 8.5.1,
  one commit per release, so each commit is the real change between two releases). The sdists
  are downloaded once (``corpora.download``) into the user cache folder.
- ``tactful``: this repository's own last commits.

Figures:

- ``outside_changed_lines``: comments whose line is not an added or rewritten line of the commit,
  checked against ``git diff -U0`` parsed here independently of tactful's diff reader (must be 0).
- ``review_500_lines_s``: rule-based review (structural rules, ruff, reviewer suggestions) of a
  500-line diff: click 8.1.8 with the first hunks of the 8.2.0 change applied until 500 lines
  changed; median and max of five runs (must be < 2 s).
- ``llm``: reviews with a fake OpenAI-compatible model that answers, per file, comments on
  unchanged lines, on lines past the end, on line 0 and below, with a quote that is not the
  line's code, numbered prose, garbage bodies and server errors, next to one genuine comment.
  ``misplaced_shown`` counts shown comments not on a changed line or not a genuine one (must
  be 0).
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from corpora import download, unpack

from tactful.analyzers.diff import working_tree_diff
from tactful.analyzers.userdirs import cache_dir
from tactful.suggestion.review import ReviewOptions, review_diff
from tactful.suggestion.review.llm import LlmReviewConfig, files_to_ask

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fixtures.fake_llm import FakeLLM, Reply  # noqa: E402

CLICK_VERSIONS = [
    "8.0.3",
    "8.0.4",
    "8.1.0",
    "8.1.1",
    "8.1.2",
    "8.1.3",
    "8.1.4",
    "8.1.5",
    "8.1.6",
    "8.1.7",
    "8.1.8",
    "8.2.0",
    "8.2.1",
    "8.3.0",
    "8.3.1",
    "8.3.2",
    "8.3.3",
    "8.4.0",
    "8.4.1",
    "8.4.2",
    "8.5.0",
    "8.5.1",
]
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", re.MULTILINE)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def new_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Benchmark")
    git(path, "config", "user.email", "benchmark@example.com")
    git(path, "config", "commit.gpgsign", "false")
    return path


# -- histories ----------------------------------------------------------------------------------


def click_sdists() -> list[Path]:
    folder = cache_dir() / "benchmarks" / "click-sdists"
    return [download(f"click=={version}", folder) for version in CLICK_VERSIONS]


def click_history(work: Path) -> Path:
    """One commit per click release, each the release's whole source tree."""
    repo = new_repo(work / "click")
    for sdist in click_sdists():
        version = sdist.name.removeprefix("click-").removesuffix(".tar.gz")
        unpacked = unpack(sdist, Path(tempfile.mkdtemp(dir=work)) / "tree")
        for child in repo.iterdir():
            if child.name != ".git":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        for child in unpacked.iterdir():
            destination = repo / child.name
            if child.is_dir():
                shutil.copytree(child, destination)
            else:
                shutil.copy2(child, destination)
        git(repo, "add", "-A")
        git(
            repo,
            "commit",
            "-q",
            "-m",
            f"click {version}",
            "--author",
            "click maintainers <maintainers@example.com>",
        )
        shutil.rmtree(unpacked.parent)
    return repo


def tactful_history(work: Path) -> Path:
    target = work / "tactful"
    subprocess.run(
        ["git", "clone", "-q", "--no-checkout", str(ROOT), str(target)],
        check=True,
        capture_output=True,
    )
    return target


def replay(source: Path, work: Path, name: str, count: int) -> tuple[Path, list[str]]:
    """A clone of ``source`` and its last ``count`` commits (those with a parent), oldest first."""
    clone = work / f"replay-{name}"
    subprocess.run(
        ["git", "clone", "-q", "--no-checkout", str(source), str(clone)],
        check=True,
        capture_output=True,
    )
    git(clone, "config", "user.name", "Benchmark")
    git(clone, "config", "user.email", "benchmark@example.com")
    commits = git(clone, "rev-list", "--first-parent", "--no-merges", f"-n{count}", "HEAD").split()
    with_parent = [
        c for c in commits if len(git(clone, "rev-list", "--parents", "-n1", c).split()) > 1
    ]
    return clone, list(reversed(with_parent))


def stage(clone: Path, commit: str) -> None:
    """Working tree and index at ``commit``, HEAD at its parent: the commit as uncommitted work."""
    git(clone, "checkout", "-q", "-f", "--detach", commit)
    git(clone, "clean", "-q", "-fdx")
    git(clone, "reset", "-q", "--soft", f"{commit}^")


def changed_lines_by_git(clone: Path) -> dict[str, set[int]]:
    """New-side changed lines (one-based) per path, read from ``git diff -U0`` directly."""
    out = git(
        clone,
        "diff",
        "-U0",
        "-M",
        "--no-color",
        "--no-ext-diff",
        "--cached",
        "--dst-prefix=b/",
        "--src-prefix=a/",
        "HEAD",
    )
    found: dict[str, set[int]] = {}
    current = None
    for line in out.split("\n"):
        if line.startswith("+++ "):
            current = line[6:] if line.startswith("+++ b/") else None
            if current is not None:
                found.setdefault(current, set())
        elif line.startswith("@@") and current is not None:
            match = _HUNK.match(line)
            if match:
                start, count = int(match.group(1)), int(match.group(2) or 1)
                found[current].update(range(start, start + count))
    return found


# -- figures ------------------------------------------------------------------------------------


def review_history(clone: Path, commits: list[str]) -> dict[str, object]:
    rows = []
    outside = 0
    rules: dict[str, int] = {}
    for commit in commits:
        stage(clone, commit)
        truth = changed_lines_by_git(clone)
        started = time.perf_counter()
        diff = working_tree_diff(clone)
        review = review_diff(diff, ReviewOptions())
        elapsed = time.perf_counter() - started
        misplaced = [c for c in review.comments if c.line + 1 not in truth.get(c.path, set())]
        outside += len(misplaced)
        for comment in review.comments:
            rules[comment.rule] = rules.get(comment.rule, 0) + 1
        rows.append(
            {
                "commit": commit[:12],
                "files": len(diff.files),
                "changed_lines": sum(len(f.changed_lines) for f in diff.files),
                "comments": len(review.comments),
                "outside_changed_lines": len(misplaced),
                "seconds": round(elapsed, 3),
            }
        )
    return {
        "commits": len(rows),
        "comments": sum(r["comments"] for r in rows),
        "outside_changed_lines": outside,
        "rules": dict(sorted(rules.items(), key=lambda item: -item[1])),
        "median_s": round(statistics.median(r["seconds"] for r in rows), 3) if rows else None,
        "max_s": max((r["seconds"] for r in rows), default=None),
        "per_commit": rows,
    }


def five_hundred_line_diff(work: Path) -> dict[str, object]:
    """click 8.1.8 with the first hunks of its change to 8.2.0 applied: a real 500-line diff."""
    sdists = {p.name: p for p in click_sdists()}
    old = unpack(sdists["click-8.1.8.tar.gz"], Path(tempfile.mkdtemp(dir=work)) / "tree")
    new = unpack(sdists["click-8.2.0.tar.gz"], Path(tempfile.mkdtemp(dir=work)) / "tree")
    repo = new_repo(work / "diff500")
    shutil.copytree(old / "src", repo / "src")
    shutil.copytree(old / "tests", repo / "tests")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "click 8.1.8")
    candidates: dict[str, tuple[Path, int]] = {}
    for folder in ("src", "tests"):
        for path in sorted((new / folder).rglob("*.py")):
            relative = path.relative_to(new).as_posix()
            before_path = old / relative
            before = before_path.read_text().splitlines() if before_path.exists() else []
            matcher = difflib.SequenceMatcher(
                None, before, path.read_text().splitlines(), autojunk=False
            )
            size = sum(j2 - j1 for tag, _i1, _i2, j1, j2 in matcher.get_opcodes() if tag != "equal")
            if size:
                candidates[relative] = (path, size)
    # Whole files of the release (so every file is real, parsable code), chosen so that their
    # changed lines add up to 500, or as close as the release allows.
    for relative in _closest_subset({k: v[1] for k, v in candidates.items()}, 500):
        target = repo / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(candidates[relative][0], target)
    diff = working_tree_diff(repo)
    changed = sum(len(f.changed_lines) for f in diff.files)
    times = []
    comments = 0
    for _ in range(5):
        started = time.perf_counter()
        review = review_diff(working_tree_diff(repo), ReviewOptions())
        times.append(time.perf_counter() - started)
        comments = len(review.comments)
    return {
        "changed_lines": changed,
        "files": len(diff.files),
        "comments": comments,
        "median_s": round(statistics.median(times), 3),
        "max_s": round(max(times), 3),
    }


def _closest_subset(sizes: dict[str, int], goal: int) -> list[str]:
    """Names whose sizes add up closest to ``goal`` (subset sum over reachable totals)."""
    reachable: dict[int, list[str]] = {0: []}
    for name, size in sorted(sizes.items()):
        for total, names in list(reachable.items()):
            new_total = total + size
            if new_total <= goal * 2 and new_total not in reachable:
                reachable[new_total] = [*names, name]
    best = min(reachable, key=lambda total: (abs(total - goal), total))
    return reachable[best]


def adversarial_replies(diff, config: LlmReviewConfig, genuine: dict[str, str]) -> list[Reply]:
    """One answer per file the model is asked about, in the order it is asked."""
    replies = []
    for index, change in enumerate(files_to_ask(diff, config)):
        changed = sorted(change.changed_lines)
        unchanged = [n for n in range(len(change.lines) - 1) if n not in change.changed_lines]
        kind = index % 4
        if kind == 1:
            replies.append(Reply(garbage=True))
            continue
        if kind == 2:
            replies.append(
                Reply("1. Looks fine.\n2. Consider refactoring line 3.\nL7 maybe rename")
            )
            continue
        if kind == 3 and index % 8 == 3:
            replies.append(Reply(status=500))
            continue
        items: list[object] = []
        for line in unchanged[:3]:
            items.append(
                {
                    "line": line + 1,
                    "quote": change.lines[line],
                    "comment": f"misplaced: unchanged line {line + 1}",
                }
            )
        items += [
            {"line": len(change.lines) + 50, "comment": "misplaced: past the end"},
            {"line": 0, "comment": "misplaced: line zero"},
            {"line": -4, "comment": "misplaced: negative"},
            {"line": "twelve", "comment": "misplaced: not a number"},
            {"line": None, "comment": "misplaced: no line"},
        ]
        if changed:
            line = changed[0]
            items.append(
                {
                    "line": line + 1,
                    "quote": "this is not the code on that line",
                    "comment": "misplaced: quote does not match",
                }
            )
            if change.lines[line].strip():
                body = f"genuine comment on {change.path}:{line + 1}"
                genuine[body] = change.path
                items.append(
                    {"line": line + 1, "quote": change.lines[line].strip(), "comment": body}
                )
        replies.append(Reply("Sure! ```json\n" + json.dumps({"comments": items}) + "\n```"))
    return replies


def llm_run(clone: Path, commits: list[str]) -> dict[str, object]:
    fake = FakeLLM()
    config = LlmReviewConfig(model="openai/fake", api_base=fake.url, timeout_s=20)
    shown = misplaced = genuine_shown = planted_misplaced = 0
    try:
        for commit in commits:
            stage(clone, commit)
            truth = changed_lines_by_git(clone)
            diff = working_tree_diff(clone)
            genuine: dict[str, str] = {}
            replies = adversarial_replies(diff, config, genuine)
            fake.script(*replies)
            planted_misplaced += sum(
                r.text.count("misplaced") or 1 for r in replies if "genuine" not in r.text
            ) + sum(r.text.count("misplaced") for r in replies if "genuine" in r.text)
            review = review_diff(
                diff, ReviewOptions(llm=config, reviewers=False, max_per_file=50, max_total=1000)
            )
            for comment in (c for c in review.comments if c.origin == "llm"):
                shown += 1
                on_changed_line = comment.line + 1 in truth.get(comment.path, set())
                if not on_changed_line or comment.message not in genuine:
                    misplaced += 1
                else:
                    genuine_shown += 1
    finally:
        fake.close()
    return {
        "commits": len(commits),
        "requests": len(fake.requests),
        "planted_misplaced": planted_misplaced,
        "shown": shown,
        "genuine_shown": genuine_shown,
        "misplaced_shown": misplaced,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--commits", type=int, default=20)
    parser.add_argument("--llm-commits", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tactful-review-bench-"))
    try:
        click = click_history(work)
        results: dict[str, object] = {}
        for name, source in (("click", click), ("tactful", tactful_history(work))):
            clone, commits = replay(source, work, name, args.commits)
            results[name] = review_history(clone, commits)
            if name == "click":
                results["llm"] = llm_run(clone, commits[-args.llm_commits :])
        results["review_500_lines"] = five_hundred_line_diff(work)
        results["outside_changed_lines"] = sum(
            results[name]["outside_changed_lines"] for name in ("click", "tactful")
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
