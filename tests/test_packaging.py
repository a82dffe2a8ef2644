"""The built wheel is the product: every module, the bundled rule pack and the schemas must be inside it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from perfrules.rulepack.pack import load_pack

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True)
    (wheel,) = out.glob("perfrules-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


def test_wheel_holds_every_module(wheel_names: set[str]) -> None:
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "perfrules").rglob("*.py")}
    assert modules - wheel_names == set()


def test_wheel_holds_the_rule_pack_and_schemas(wheel_names: set[str]) -> None:
    for folder in ("rules", "schemas"):
        files = {p.relative_to(ROOT).as_posix() for p in (ROOT / folder).rglob("*") if p.is_file()}
        assert files, folder
        bundled = {f"perfrules/bundled/{f}" for f in files}
        assert bundled - wheel_names == set(), f"{folder}/ files missing from the wheel"


def test_version_names_the_package_and_the_default_pack() -> None:
    proc = subprocess.run([str(Path(sys.executable).parent / "perfrules"), "--version"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    pack_version = load_pack(ROOT / "rules").version
    assert proc.stdout.startswith("perfrules 0.") and f"rule pack {pack_version}" in proc.stdout
