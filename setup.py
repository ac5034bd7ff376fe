"""Wheel and pip install (run inside a venv made with --system-site-packages, so the
build sees the torch it will run with):

    pip wheel --no-build-isolation --no-deps .      # -> torch_fuser-<v>-cp3X-...whl
    pip install --no-build-isolation .

Drives the same CMake build as `make` (the tree in $TORCH_FUSER_BUILD_DIR, default
build/, so a wheel after `make` compiles nothing new) and packs the in-place outputs:
libtorch_fuser.so, torch_fuser._C and _build_info.py. The wheel requires exactly the
torch it was built against (a C++ extension is bound to that torch's ABI), and
`import torch_fuser` refuses another one with a message saying so."""
import glob
import os
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.join(ROOT, "torch_fuser")


def project_version():
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        return re.search(r"project\(torch_fuser [^)]*VERSION ([0-9.]+)\)", f.read()).group(1)


def torch_requirement():
    try:
        import torch
    except ImportError as e:
        sys.exit("torch_fuser builds against an installed PyTorch: `import torch` failed (%s)" % e)
    if getattr(torch, "__file__", None) is None:  # this repository's torch/ folder
        sys.exit("torch_fuser builds against an installed PyTorch; %s has none" % sys.executable)
    return "torch==" + torch.__version__


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build_dir = os.path.abspath(os.environ.get("TORCH_FUSER_BUILD_DIR", os.path.join(ROOT, "build")))
        configure = ["cmake", "-S", ROOT, "-B", build_dir, "-G", "Ninja",
                     f"-DTORCH_FUSER_PACKAGE_DIR={PACKAGE}"]
        if not os.path.exists(os.path.join(build_dir, "CMakeCache.txt")):
            # A tree of its own: the Python building the wheel, no tests (no GoogleTest
            # needed). An existing tree (make's) keeps its settings.
            configure += [f"-DPython3_EXECUTABLE={sys.executable}", "-DTORCH_FUSER_BUILD_TESTS=OFF"]
        subprocess.check_call(configure)
        subprocess.check_call(["cmake", "--build", build_dir, "--target", "torch_fuser",
                               "torch_fuser_python"])
        target = os.path.abspath(os.path.dirname(self.get_ext_fullpath(ext.name)))
        os.makedirs(target, exist_ok=True)
        built = glob.glob(os.path.join(PACKAGE, "*.so")) + [os.path.join(PACKAGE, "_build_info.py")]
        for path in built:
            if os.path.abspath(os.path.dirname(path)) != target:
                shutil.copy2(path, target)


setup(
    name="torch_fuser",
    version=project_version(),
    description="Pointwise kernel fusion for TorchScript (CPU C++ and CUDA NVRTC kernels)",
    packages=["torch_fuser"],
    ext_modules=[CMakeExtension("torch_fuser._C")],
    cmdclass={"build_ext": CMakeBuild},
    install_requires=[torch_requirement()],
    python_requires=">=3.8",
    zip_safe=False,
)
