#!/usr/bin/env bash
# `make test-wheel`: builds the wheel as a pip user does, installs it into a fresh venv
# that sees the system's torch (--system-site-packages), and runs the Python tests from
# outside the repository against the installed package.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
build=${BUILD_DIR:-build}
work=$repo/$build/wheel
py=$(tools/find_python.sh)
rm -rf "$work"
mkdir -p "$work/tests"

"$py" -m venv --system-site-packages "$work/venv"
venv_py=$work/venv/bin/python
# When the build's Python is itself a venv, --system-site-packages shows the base
# interpreter's packages, not that venv's torch: point the new venv at them too.
# (Checked from / : this repository's torch/ folder would import as a namespace package.)
if ! (cd / && "$venv_py" -c 'import torch; torch.__version__') > /dev/null 2>&1; then
  "$py" -c 'import site; print("\n".join(site.getsitepackages()))' \
    > "$("$venv_py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/build_python_site.pth"
fi
# The wheel packs the outputs of the build tree `make` uses: nothing recompiles.
TORCH_FUSER_BUILD_DIR=$repo/$build "$venv_py" -m pip wheel --no-build-isolation --no-deps \
  --no-index -w "$work/dist" . > "$work/pip-wheel.log" 2>&1 || { tail -30 "$work/pip-wheel.log"; exit 1; }
wheel=$(ls "$work"/dist/torch_fuser-*.whl)
torch_version=$("$venv_py" -c 'import torch; print(torch.__version__)')
"$venv_py" - "$wheel" "$torch_version" <<'PY'
import re, sys, zipfile
wheel, torch_version = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    names = z.namelist()
    metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
# "torch==V" or, from older wheel tools, "torch (==V)"
required = r"^Requires-Dist: torch ?\(?==%s\)?$" % re.escape(torch_version)
assert re.search(required, metadata, re.M), "wheel metadata lacks %s:\n%s" % (required, metadata)
for part in ("torch_fuser/libtorch_fuser.so", "torch_fuser/_build_info.py", "torch_fuser/_C."):
    assert any(n.startswith(part) for n in names), "wheel lacks %s: %s" % (part, names)
print("test-wheel: %s requires torch==%s" % (wheel.rsplit("/", 1)[1], torch_version))
PY
"$venv_py" -m pip install --no-index --no-deps "$wheel" > "$work/pip-install.log" 2>&1 \
  || { tail -30 "$work/pip-install.log"; exit 1; }

cp test/test_jit_fuser.py "$work/tests/"
cd "$work/tests"
where=$(env PYTHONPATH= "$venv_py" -c 'import torch_fuser; print(torch_fuser.__file__)')
case $where in
  "$work/venv/"*) echo "test-wheel: imports the installed package ($where)" ;;
  *) echo "test-wheel: imported $where, not the installed wheel" >&2; exit 1 ;;
esac
env PYTHONPATH= "$venv_py" -m pytest -q -p no:cacheprovider test_jit_fuser.py
