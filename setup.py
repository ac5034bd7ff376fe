"""pip install --no-build-isolation .   (inside a venv made with --system-site-packages)

Drives the same CMake build as `make`, writing libtorch_fuser.so and torch_fuser._C into
the wheel's torch_fuser/ package directory."""
import os
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        package_dir = os.path.abspath(os.path.dirname(self.get_ext_fullpath(ext.name)))
        build_dir = os.path.join(ROOT, "build-pip")
        configure = [
            "cmake", "-S", ROOT, "-B", build_dir, "-G", "Ninja",
            "-DCMAKE_BUILD_TYPE=Release",
            f"-DPython3_EXECUTABLE={sys.executable}",
            f"-DTORCH_FUSER_PACKAGE_DIR={package_dir}",
            "-DTORCH_FUSER_BUILD_TESTS=OFF",
        ]
        subprocess.check_call(configure)
        subprocess.check_call(["cmake", "--build", build_dir])


setup(
    name="torch_fuser",
    version="0.1.0",
    description="Pointwise kernel fusion for TorchScript (CPU C++ and CUDA NVRTC kernels)",
    packages=["torch_fuser"],
    ext_modules=[CMakeExtension("torch_fuser._C")],
    cmdclass={"build_ext": CMakeBuild},
    python_requires=">=3.8",
    zip_safe=False,
)
