"""Training cost of the shipped script: wall time and peak memory of `rasa train`.

Runs `rasa train` twice in child processes with a private, empty training cache:
cold (everything trained) and warm (nothing changed, everything from the cache), the
way `make run` and `make publish` meet it. Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RASA = Path(sys.executable).with_name("rasa")


def train(out: Path, cache: Path) -> tuple[float, float]:
    """One `rasa train` in a fresh child; (seconds, peak RSS in MB of that child)."""
    env = {
        **os.environ,
        "RASA_CACHE_DIRECTORY": str(cache),
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    # Peak RSS of children is a running maximum: measure each run in its own wrapper.
    probe = (
        "import resource, subprocess, sys;"
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL,"
        " stderr=subprocess.DEVNULL);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    started = time.perf_counter()
    result = subprocess.run(  # noqa: S603 - our own interpreter and rasa
        [sys.executable, "-c", probe, str(RASA), "train", "--out", str(out), "--quiet"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    return seconds, int(result.stdout.strip().splitlines()[-1]) / 1024


def main() -> int:
    """Cold and warm training, side by side."""
    argparse.ArgumentParser(description=__doc__).parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        cache, out = Path(tmp) / "cache", Path(tmp) / "models"
        cold = train(out, cache)
        warm = train(out, cache)
    print(f"cpu cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    print(f"{'run':<32}{'wall s':>10}{'peak RSS MB':>14}")
    print(f"{'cold (empty cache)':<32}{cold[0]:>10.1f}{cold[1]:>14.0f}")
    print(f"{'warm (nothing changed)':<32}{warm[0]:>10.1f}{warm[1]:>14.0f}")
    print(f"self RSS MB: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
