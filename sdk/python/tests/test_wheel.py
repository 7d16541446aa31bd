"""The SDK as a user gets it: a wheel built from this directory, installed
into a fresh virtual environment outside the repository, and the guide's
example run from there against the relay."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from .conftest import EXAMPLE, SDK_DIR, Relay, need, run_example


def test_wheel_installs_into_a_fresh_venv_and_runs_the_example(relay: Relay, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(SDK_DIR)],
        check=True,
    )
    [wheel] = dist.glob("agent_otp-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "agent_otp/py.typed" in names and "agent_otp/__init__.py" in names
    assert not any(n.startswith(("tests/", "examples/")) for n in names), names

    home = tmp_path / "user-project"  # no path into the repository
    home.mkdir()
    subprocess.run([sys.executable, "-m", "venv", str(home / "venv")], check=True)
    py = home / "venv" / "bin" / "python"
    pip = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
        capture_output=True, text=True,
    )
    need(pip.returncode == 0, f"pip could not install the wheel's dependencies: {pip.stderr[-500:]}")
    script = home / "agent.py"
    shutil.copy(EXAMPLE, script)

    # The installed package, not the source tree, is what the example imports.
    where = subprocess.run(
        [str(py), "-c", "import agent_otp; print(agent_otp.__file__)"], cwd=home, capture_output=True, text=True,
        check=True,
    )
    assert str(home / "venv") in where.stdout and str(SDK_DIR) not in where.stdout

    agent = relay.create_agent("wheel-test-key", test=True)
    res = run_example(relay, agent, python=str(py), script=script, cwd=home, code="161803")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "Received OTP: 161803\n", res.stderr

