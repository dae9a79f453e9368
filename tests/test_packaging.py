"""environment.yml (for conda users) lists the same dependencies as pyproject.toml."""

import re
import tomllib

import yaml

from tests.conftest import ROOT


def _normalise(requirement: str) -> tuple[str, str]:
    requirement = requirement.split("#")[0].strip().replace(" ", "")
    name, spec = re.match(r"^([A-Za-z0-9_.\-\[\]]+)(.*)$", requirement).groups()
    return name.lower().replace("_", "-"), spec


def test_environment_yml_agrees_with_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_normalise(r) for r in
              [*project["dependencies"], *project["optional-dependencies"]["test"]]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            listed |= {_normalise(r) for r in dep["pip"]}
        elif not dep.startswith(("python=", "pip")) or dep.startswith("pip:"):
            listed.add(_normalise(dep))
    assert listed == wanted
    assert "python=3.11" in env["dependencies"]


def test_the_cx_command_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["cx"] == "cxlib.cli:main"
