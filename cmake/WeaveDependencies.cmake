# Every dependency is a Debian 12 package (scripts/install-deps.sh); nothing is downloaded.
find_package(MPI REQUIRED COMPONENTS C CXX)

# Debian's parallel HDF5 (libhdf5-openmpi-dev); FindHDF5 needs the C language enabled.
set(HDF5_PREFER_PARALLEL TRUE)
find_package(HDF5 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR "Weave needs parallel HDF5 (Debian: libhdf5-openmpi-dev); found a serial HDF5 at ${HDF5_INCLUDE_DIRS}")
endif()

# Debian's faiss target needs OpenMP found first.
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(BLAS REQUIRED)
find_package(faiss REQUIRED)
find_package(Boost 1.74 REQUIRED)           # Boost.Graph is header-only
find_package(fmt REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(tomlplusplus 3 REQUIRED)          # weave run CONFIG.toml
find_package(Threads REQUIRED)
