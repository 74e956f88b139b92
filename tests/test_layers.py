"""The import arrows of ARCHITECTURE.md. import-linter cannot follow the package-dir mapping
(socialdesk.screens lives in screens/), so this reads every module's imports itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UI = ("textual", "rich")
CORE = ("socialdesk.services", "socialdesk.screens", "socialdesk.app", "socialdesk.cli", "socialdesk.demo")

FORBIDDEN = {
    "screens": ("socialdesk.adapters", "sqlalchemy", "httpx"),
    "store": UI + CORE + ("socialdesk.adapters", "socialdesk.rules", "socialdesk.config", "httpx"),
    "adapters": UI + CORE + ("socialdesk.store", "socialdesk.rules", "socialdesk.config", "sqlalchemy"),
    "socialdesk/rules": UI + CORE + ("socialdesk.store", "socialdesk.adapters", "sqlalchemy", "httpx",
                                     "socket", "sqlite3", "subprocess", "urllib.request"),
}
PACKAGE = {"screens": "socialdesk.screens", "store": "socialdesk.store", "adapters": "socialdesk.adapters",
           "socialdesk/rules": "socialdesk.rules"}


def broken_imports(root: Path, folder: str) -> list[str]:
    broken = []
    for path in sorted((root / folder).rglob("*.py")):
        package = ".".join([PACKAGE[folder], *path.parent.relative_to(root / folder).parts])
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: resolve against the module's package
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    names.add(".".join(base + ([node.module] if node.module else [])))
                elif node.module:
                    names.add(node.module)
        broken += [f"{path.relative_to(root)} imports {name}" for name in sorted(names)
                   for bad in FORBIDDEN[folder] if name == bad or name.startswith(bad + ".")]
    return broken


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_layer_imports_follow_the_arrows(folder):
    assert list((ROOT / folder).rglob("*.py")), f"nothing to check in {folder}"
    assert broken_imports(ROOT, folder) == []


def test_the_check_catches_a_forbidden_import(tmp_path):
    (tmp_path / "screens").mkdir()
    (tmp_path / "screens" / "bad.py").write_text("from socialdesk.adapters.mastodon import MastodonAdapter\n")
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "ok.py").write_text("from . import models\nfrom ..services import ingest\n")
    assert broken_imports(tmp_path, "screens") == ["screens/bad.py imports socialdesk.adapters.mastodon"]
    assert broken_imports(tmp_path, "store") == ["store/ok.py imports socialdesk.services"]
