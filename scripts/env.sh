# Sourced by the scripts: lets Open MPI run as root (containers, CI) and oversubscribe small
# machines. On a cluster, your site's mpirun/srun settings apply instead.
export OMPI_ALLOW_RUN_AS_ROOT=1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_mpi_yield_when_idle=1
