"""Stable comment ids, deduplication, caps, what dismissals teach, and suggested reviewers, on
real repositories."""

from __future__ import annotations

from fixtures.workspace import Workspace

from tactful.analyzers.diff import working_tree_diff
from tactful.feedback.review import dismissal, load_memory, memory_from_events
from tactful.feedback.store import FeedbackStore
from tactful.suggestion.review import Memory, ReviewOptions, review_diff, review_working_tree

DEBUG = "def f(x):\n    print(x)\n    breakpoint()\n    return x\n"


def ids_by_line(review) -> dict[int, str]:
    return {c.line + 1: c.id for c in review.comments}


def test_ids_survive_unrelated_edits_and_reindentation(workspace: Workspace) -> None:
    workspace.write("a.py", "def f(x):\n    return x\n")
    workspace.commit("init")
    workspace.write("a.py", DEBUG)
    before = review_working_tree(workspace.root, options=ReviewOptions(reviewers=False))

    workspace.write("a.py", "LIMIT = 3\n\n\n" + DEBUG.replace("    print(x)", "    print( x )"))
    after = review_working_tree(workspace.root, options=ReviewOptions(reviewers=False))

    assert [c.line + 1 for c in before.comments] == [2, 3]
    assert [c.line + 1 for c in after.comments] == [5, 6]
    assert ids_by_line(before)[2] == ids_by_line(after)[5]
    assert ids_by_line(before)[3] == ids_by_line(after)[6]


def test_identical_lines_get_distinct_ids_and_duplicates_merge(workspace: Workspace) -> None:
    workspace.write("a.py", "x = 1\n")
    workspace.commit("init")
    # T201 (ruff's print rule) says what our debug-leftover rule says: one comment per line.
    workspace.write("pyproject.toml", '[tool.ruff.lint]\nextend-select = ["T20"]\n')
    workspace.write("a.py", "x = 1\nprint(x)\nprint(x)\n")

    review = review_working_tree(workspace.root, options=ReviewOptions(reviewers=False))

    assert [(c.line + 1, c.rule) for c in review.comments] == [
        (2, "debug-leftover"),
        (3, "debug-leftover"),
    ]
    assert len({c.id for c in review.comments}) == 2


def test_caps_per_file_and_overall_keep_the_most_useful(workspace: Workspace) -> None:
    workspace.write("a.py", "x = 1\n")
    workspace.write("b.py", "x = 1\n")
    workspace.commit("init")
    noisy = "x = 1\n" + "".join(f"# TODO item {i}\n" for i in range(6)) + "breakpoint()\n"
    workspace.write("a.py", noisy)
    workspace.write("b.py", noisy)
    diff = working_tree_diff(workspace.root)

    review = review_diff(diff, ReviewOptions(reviewers=False, max_per_file=3, max_total=4))

    assert len(review.comments) == 4 and review.hidden == 10
    assert {c.path for c in review.comments} == {"a.py", "b.py"}
    # The breakpoint of each file outranks its TODOs.
    assert sum(c.rule == "debug-leftover" for c in review.comments) == 2


def test_dismissed_comment_is_not_shown_again_and_its_rule_sinks(workspace: Workspace) -> None:
    workspace.write("a.py", "x = 1\n")
    workspace.commit("init")
    workspace.write("a.py", "x = 1\n# TODO one\n# TODO two\nbreakpoint()\n")
    root = str(workspace.root.resolve())
    options = ReviewOptions(reviewers=False)
    first = review_working_tree(workspace.root, options=options)
    todo = next(c for c in first.comments if c.line + 1 == 2)

    store_file = workspace.root.parent / "feedback.sqlite3"
    with FeedbackStore(store_file) as store:
        assert store.record(dismissal(todo.id, root, rule=todo.rule, source=todo.origin), wait=True)
        memory = load_memory(store, root)
    assert memory == load_memory(store_file, root)  # read back from the file, read-only
    assert todo.id in memory.dismissed

    again = review_working_tree(workspace.root, options=options, memory=memory)
    assert todo.id not in {c.id for c in again.comments}
    other_todo = next(c for c in again.comments if c.rule == "todo-added")
    assert other_todo.score < next(c for c in first.comments if c.line + 1 == 3).score

    # Three dismissals of the rule and its comments drop below the cut altogether.
    taught = memory_from_events([dismissal(f"id{i}", root, rule="todo-added") for i in range(3)])
    quiet = review_working_tree(workspace.root, options=options, memory=taught)
    assert [c.rule for c in quiet.comments] == ["debug-leftover"]
    assert Memory().weight("todo-added") == 1.0 > taught.weight("todo-added")


def test_reviewers_are_the_authors_of_the_changed_code_not_me(workspace: Workspace) -> None:
    workspace.write("dev.py", "d = 1\n")
    workspace.commit("the repository's own user (Dev) writes dev.py")
    workspace.write("a.py", "".join(f"a{i} = {i}\n" for i in range(10)))
    workspace.commit("alice writes a", author="Alice <alice@example.com>")
    workspace.write("b.py", "b = 1\n")
    workspace.commit("bob writes b", author="Bob <bob@example.com>")
    workspace.write("a.py", "".join(f"a{i} = {i}\n" for i in range(8)) + "a8 = 80\na9 = 90\n")
    workspace.commit("carol edits a", author="Carol <carol@example.com>")
    # Dev's change rewrites two of Alice's lines, one of Carol's, and one of Dev's own.
    workspace.write(
        "a.py",
        "a0 = 100\na1 = 101\n"
        + "".join(f"a{i} = {i}\n" for i in range(2, 8))
        + "a8 = 800\na9 = 90\n",
    )
    workspace.write("dev.py", "d = 2\n")

    review = review_working_tree(workspace.root, options=ReviewOptions(ruff=False))

    assert [(r.name, r.lines, r.commits) for r in review.reviewers] == [
        ("Alice", 2, 1),
        ("Carol", 1, 1),
    ]
    assert review.reviewers[0].score > review.reviewers[1].score
