"""The tree a newcomer reads: one import path, no links, no copies of shared rules."""

import ast
import importlib
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "pipeline_shared": ROOT / "pipeline_shared",
    "recommender": ROOT / "training_image" / "recommender",
    "external_functions": ROOT / "lambda_src" / "external_functions",
    "snowflake_integration": ROOT / "lambda_src" / "snowflake_integration",
    "sagemaker_cleanup": ROOT / "lambda_src" / "sagemaker_cleanup",
    "idle_endpoints": ROOT / "lambda_src" / "idle_endpoints",
    "stacks": ROOT / "stacks",
    "snowflake_sql": ROOT / "snowflake_sql",
    "local_mode": ROOT / "local_mode",
    "operator_cli": ROOT / "operator_cli",
    "infra_review": ROOT / "infra_review",
}


def tracked_files() -> list[Path]:
    git = shutil.which("git") or "git"
    listed = subprocess.run([git, "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / name for name in listed.decode().split("\0") if name]


def test_the_tree_has_no_symbolic_links():
    assert [p.relative_to(ROOT) for p in tracked_files() if p.is_symlink()] == []


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_every_first_party_package_imports_from_its_own_folder(name):
    module = importlib.import_module(name)
    assert Path(module.__file__).parent == PACKAGES[name]


def test_product_code_never_edits_sys_path():
    offenders = []
    for path in tracked_files():
        if path.suffix != ".py" or path.is_relative_to(ROOT / "tests") or not path.exists():
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Attribute) and node.attr == "path" and getattr(node.value, "id", None) == "sys":
                offenders.append(path.relative_to(ROOT))
    assert offenders == []


def console_scripts() -> dict[str, str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def test_the_clis_are_console_scripts():
    assert set(console_scripts()) == {
        "recommender",
        "recommender-local",
        "recommender-load",
        "recommender-sql",
        "recommender-bootstrap",
    }


@pytest.mark.parametrize("script", sorted(console_scripts()))
def test_every_console_script_answers_help(script, capsys):
    module, _, function = console_scripts()[script].partition(":")
    with pytest.raises(SystemExit) as done:
        getattr(importlib.import_module(module), function)(["--help"])
    assert done.value.code == 0
    assert f"usage: {script}" in capsys.readouterr().out
