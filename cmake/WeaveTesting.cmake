# weave_add_mpi_test(NAME SOURCES a.cpp ... RANKS 1 2 3 [LABELS ...] [TIMEOUT s])
#
# Builds one GoogleTest program with the MPI-aware main and registers it with ctest once per rank
# count, as NAME.np<R>, under mpiexec (oversubscribed: CI has 2 cores). Open MPI refuses to run as
# root unless told; the environment here says so, so nobody has to set it by hand. A program whose
# tests were all skipped (GPU tests without a GPU) exits 77: ctest lists it as skipped, not passed.
set(WEAVE_TEST_ENVIRONMENT
  "OMPI_ALLOW_RUN_AS_ROOT=1"
  "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"
  "OMPI_MCA_rmaps_base_oversubscribe=1"
  "OMPI_MCA_hwloc_base_binding_policy=none"
  "OMPI_MCA_mpi_yield_when_idle=1"
  "OMP_NUM_THREADS=1"
  "OPENBLAS_NUM_THREADS=1")

function(weave_add_mpi_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;RANKS;LABELS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE weave_mpi_gtest_main)
  foreach(np IN LISTS ARG_RANKS)
    add_test(NAME ${name}.np${np}
             COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${np} ${MPIEXEC_PREFLAGS}
                     $<TARGET_FILE:${name}> ${MPIEXEC_POSTFLAGS})
    set_tests_properties(${name}.np${np} PROPERTIES
      ENVIRONMENT "${WEAVE_TEST_ENVIRONMENT}"
      LABELS "mpi;${ARG_LABELS}"
      TIMEOUT ${ARG_TIMEOUT}
      SKIP_RETURN_CODE 77
      PROCESSORS ${np})
  endforeach()
endfunction()

# weave_add_e2e_test(NAME COMMAND ... [LABELS ...]): a test driving the weave program (scripts).
function(weave_add_e2e_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "COMMAND;LABELS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_test(NAME ${name} COMMAND ${ARG_COMMAND})
  set_tests_properties(${name} PROPERTIES
    ENVIRONMENT "${WEAVE_TEST_ENVIRONMENT};WEAVE=$<TARGET_FILE:weave>;MPIEXEC=${MPIEXEC_EXECUTABLE}"
    LABELS "e2e;${ARG_LABELS}"
    TIMEOUT ${ARG_TIMEOUT}
    SKIP_RETURN_CODE 77)
endfunction()
