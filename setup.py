"""Build step: the top-level ``rules/`` and ``schemas/`` go into the package as ``perfrules/bundled/``.

Policy officers edit the rule pack at the top level of the repository; the wheel must carry it inside the
package so that an installed ``perfrules`` finds its default pack anywhere. Copying at build time keeps a
single copy in the repository. Everything else is declared in ``setup.cfg``.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

BUNDLED = ("rules", "schemas", "maps")


class BuildWithRulePack(build_py):
    """``build_py`` that also copies the bundled rule pack and schemas into the built package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the top-level folders in place
            return
        root = Path(__file__).resolve().parent
        for name in BUNDLED:
            target = Path(self.build_lib) / "perfrules" / "bundled" / name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(root / name, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithRulePack})
