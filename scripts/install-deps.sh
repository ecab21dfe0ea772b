#!/usr/bin/env bash
# Installs everything Weave needs to build, test and run, from Debian 12 packages only.
# Idempotent: run it again at any time; packages already present are left as they are.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  openmpi-bin libopenmpi-dev               # MPI
  libhdf5-openmpi-dev hdf5-tools            # parallel HDF5 (+ h5dump/h5ls for users)
  libfaiss-dev libopenblas-dev libopenblas0-pthread  # faiss on OpenBLAS, not the reference BLAS
  libboost-graph-dev                        # disjoint sets for the sequential greedy oracle
  libfmt-dev libcli11-dev libtomlplusplus-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev
  python3-h5py python3-numpy                # the h5py examples and format tests (/usr/bin/python3)
)
# scripts/install-slurm.sh runs this with --slurm: the packages of the Slurm job tests instead.
if [ "${1:-}" = "--slurm" ]; then
  packages=(slurmctld slurmd slurm-client munge)
fi
# With --benchmarks: what the benchmark scripts add (benchmarks/scaling.py draws its plots with
# matplotlib; benchmarks/make_text_corpus.py embeds the manual pages with scikit-learn).
if [ "${1:-}" = "--benchmarks" ]; then
  packages=(python3-matplotlib python3-sklearn)
fi
# The optional GPU backend (weave knn --backend cuda) also needs NVIDIA's CUDA toolkit (nvcc,
# cuBLASLt) and NCCL, which Debian 12 does not package in usable versions; where they are installed
# (say /usr/local/cuda), CMake finds them, and where they are not, the backend is left out.

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps${1:+ $1}: all ${#packages[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps${1:+ $1}: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

# faiss must run on OpenBLAS (pthread build), which is many times faster than the reference BLAS.
if [ "${1:-}" != "--slurm" ] && command -v update-alternatives >/dev/null; then
  arch_triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
  blas="/usr/lib/${arch_triplet}/openblas-pthread/libblas.so.3"
  lapack="/usr/lib/${arch_triplet}/openblas-pthread/liblapack.so.3"
  [ -e "$blas" ] && $SUDO update-alternatives --set "libblas.so.3-${arch_triplet}" "$blas" || true
  [ -e "$lapack" ] && $SUDO update-alternatives --set "liblapack.so.3-${arch_triplet}" "$lapack" || true
fi
echo "install-deps${1:+ $1}: done"
