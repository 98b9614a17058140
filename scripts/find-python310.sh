#!/usr/bin/env bash
# Print the path of a Python 3.10 interpreter: Rasa 3.6 runs on 3.10 and not on 3.11.
set -eu
if command -v pyenv >/dev/null 2>&1; then
  for p in "$(pyenv root)"/versions/3.10.*/bin/python; do
    [ -x "$p" ] && { echo "$p"; exit 0; }
  done
fi
for c in python3.10 python3; do
  if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))'; then
    command -v "$c"; exit 0
  fi
done
echo "error: Python 3.10 not found. Install it (e.g. 'pyenv install 3.10') or put python3.10 on PATH." >&2
exit 1
