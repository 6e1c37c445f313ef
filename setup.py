"""Maps the four top-level source folders onto the one import namespace ``tactful``.

``server/`` installs as ``tactful.server``, ``analyzers/`` as ``tactful.analyzers`` and so on:
users' projects have modules called ``server`` or ``feedback`` of their own, so ours never
install at the top level.
"""

from pathlib import Path

from setuptools import setup

FOLDERS = ("server", "analyzers", "suggestion", "feedback")
HERE = Path(__file__).parent

packages: list[str] = []
package_dir: dict[str, str] = {}
for folder in FOLDERS:
    for init in sorted((HERE / folder).rglob("__init__.py")):
        rel = init.parent.relative_to(HERE)
        name = "tactful." + ".".join(rel.parts)
        packages.append(name)
        package_dir[name] = rel.as_posix()

setup(
    packages=packages,
    package_dir=package_dir,
    package_data={"": ["*.json", "*.jsonl.gz", "*.txt", "*.toml", "*.lua", "*.scm"]},
    include_package_data=True,
)
