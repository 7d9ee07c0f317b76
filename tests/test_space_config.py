"""The Space builds as it is: the README's front matter matches the pins, and every pinned requirement has
a wheel for the Space's Python (asked of the package index: metadata only, nothing is installed)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib

import pytest

from .conftest import REPO


def front_matter() -> dict[str, str]:
    text = (REPO / "README.md").read_text()
    match = re.match(r"---\n(.*?)\n---\n", text, re.S)
    assert match, "README.md must start with the Spaces front matter"
    return {k.strip(): v.strip().strip('"') for k, v in (line.split(":", 1) for line in match.group(1).splitlines())}


def pins() -> dict[str, str]:
    found = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.txt pins every package exactly: {line!r}"
            found[name.strip()] = version.strip()
    return found


def test_front_matter_matches_the_project():
    meta = front_matter()
    assert meta["sdk"] == "gradio" and meta["sdk_version"] == pins()["gradio"]
    assert (REPO / meta["app_file"]).is_file()
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = requires.removeprefix(">=")
    assert tuple(map(int, meta["python_version"].split("."))) >= tuple(map(int, minimum.split("."))), (
        f"python_version {meta['python_version']} is below pyproject's {requires}"
    )


def wheels_for(python_version: str, requirements: list[str]) -> subprocess.CompletedProcess:
    """pip resolves each requirement to a wheel for that Python on Linux x86-64 (the Spaces machines),
    from PyPI itself (--isolated: no local wheel folders), without installing or downloading wheels."""
    platforms = ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "linux_x86_64"]
    command = [sys.executable, "-m", "pip", "install", "--isolated", "--dry-run", "--ignore-installed", "--no-deps",
               "--only-binary=:all:", "--python-version", python_version, "--target", "/nonexistent-dry-run",
               "--report", "-", "--quiet"]  # fmt: skip
    command += [arg for platform in platforms for arg in ("--platform", platform)]
    command += requirements
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_every_pinned_requirement_has_a_wheel_for_the_spaces_python():
    python = front_matter()["python_version"]
    requirements = [f"{name}=={version}" for name, version in pins().items()]
    result = wheels_for(python, requirements)
    if result.returncode != 0 and ("NewConnectionError" in result.stderr or "ProxyError" in result.stderr):
        pytest.fail(f"the package index is unreachable: {result.stderr[-300:]}")
    assert result.returncode == 0, result.stderr[-2000:]
    resolved = {item["metadata"]["name"].lower().replace("_", "-") for item in json.loads(result.stdout)["install"]}
    assert resolved == {name.lower().replace("_", "-") for name in pins()}
    # The check can fail: the default Python of Spaces (3.10) has no pandas 3.1.1 wheel.
    assert wheels_for("3.10", [f"pandas=={pins()['pandas']}"]).returncode != 0
