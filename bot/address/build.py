"""Compile the resolver core with mypyc: ``python -m bot.address.build`` (``make install``).

Writes ``<venv>/address-native/`` (see :mod:`bot.address._native`): the extension modules
of ``data.py`` and ``resolver.py`` and the digests of the sources they come from. The
source tree is left as it is; without a build (or after an edit) the package runs as pure
Python. Needs a C compiler and mypy (a development dependency, which ships mypyc).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from bot.address import _native

REPO = _native.SOURCE_DIR.parent.parent


def build() -> list[Path]:
    """Compile, then replace the previous build; returns the files installed."""
    from mypyc.build import mypycify
    from setuptools import setup

    sources = [f"bot/address/{name}.py" for name in _native.COMPILED]
    digests = _native.digests()  # of the sources as they are when compiling starts
    with tempfile.TemporaryDirectory(prefix="address-native-") as tmp:
        work = Path(tmp)
        cwd = Path.cwd()
        os.chdir(REPO)  # mypyc names modules by their path from the repository root
        try:
            extensions = mypycify(sources, opt_level="3", separate=True, target_dir=str(work / "c"))
            setup(
                name="bot-address-native",
                packages=[],
                py_modules=[],
                ext_modules=extensions,
                script_args=[
                    "--quiet",
                    "build_ext",
                    "--build-lib",
                    str(work / "lib"),
                    "--build-temp",
                    str(work / "tmp"),
                ],
            )
        finally:
            os.chdir(cwd)
        built = sorted((work / "lib" / "bot" / "address").glob("*.so"))
        if not built:
            raise RuntimeError("mypyc produced no extension module")
        shutil.rmtree(_native.ROOT, ignore_errors=True)
        _native.PACKAGE_DIR.mkdir(parents=True)
        installed = [Path(shutil.copy2(path, _native.PACKAGE_DIR)) for path in built]
    _native.MANIFEST.write_text(json.dumps(digests, indent=1) + "\n", encoding="utf-8")
    return installed


def main() -> int:
    installed = build()
    names = ", ".join(path.name for path in installed)
    print(f"address resolver compiled into {_native.PACKAGE_DIR}: {names}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
