#!/usr/bin/env bash
# Prints the first Python interpreter that can `import torch`.
# $PYTHON wins when set; the python3 first on PATH may lack torch (see PLATFORM.md).
set -u
for candidate in ${PYTHON:-} python3 /usr/bin/python3 python; do
  path=$(command -v "$candidate" 2>/dev/null) || continue
  if "$path" -c 'import torch; torch.ones(1)' >/dev/null 2>&1; then
    echo "$path"
    exit 0
  fi
done
echo "error: no Python that can 'import torch' was found (set PYTHON=...)" >&2
exit 1
