#!/usr/bin/env bash
# Install llama-cpp-python into the venv from a wheel built for a portable CPU target.
#
# Why: built with llama.cpp's default (GGML_NATIVE), the wheel uses every instruction set of
# the build machine, AMX included, and its AMX matrix kernels segfault on Sapphire Rapids
# CPUs in the first multi-token decode (llama.cpp#20824). pip's wheel cache does not key
# wheels by CMAKE_ARGS, so a cached native build would be reused whatever we set. The wheel
# is therefore built here, with fixed flags (AVX2 class, no AMX, no -march=native), into a
# cache folder named after the version and the flags, and installed from there.
#
#   scripts/install_llama.sh VENV_PYTHON
set -euo pipefail

python="$1"
version="$(sed -n 's/.*"llama-cpp-python\[server\]==\([0-9.]*\)".*/\1/p' "$(dirname "$0")/../pyproject.toml")"
[ -n "$version" ] || { echo "llama-cpp-python version not found in pyproject.toml" >&2; exit 1; }
flags="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
key="$(printf '%s %s' "$version" "$flags" | sha256sum | cut -c1-12)"
cache="${SEEDSCOPE_WHEEL_CACHE:-$HOME/.cache/seedscope-wheels}/llama-$version-$key"

if ! ls "$cache"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    echo "building llama-cpp-python $version for a portable CPU target (about 5 minutes)"
    mkdir -p "$cache.tmp"
    CMAKE_ARGS="$flags" "$python" -m pip wheel --quiet --no-deps --no-cache-dir \
        --no-binary llama-cpp-python "llama-cpp-python==$version" -w "$cache.tmp"
    rm -rf "$cache" && mv "$cache.tmp" "$cache"
fi
"$python" -m pip install --quiet --force-reinstall --no-deps "$cache"/llama_cpp_python-*.whl
# Its dependencies (numpy, jinja2, ... and the [server] extra) come from the registry.
"$python" -m pip install --quiet "llama-cpp-python[server]==$version" --find-links "$cache"
