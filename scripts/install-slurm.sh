#!/usr/bin/env bash
# Installs Debian's Slurm (controller, node daemon, client commands) for the Slurm job scripts and
# their test (tests/slurm/test_slurm.sh). Idempotent: does nothing when everything is installed, and
# runs apt-get update only when something is missing. Needs root (or sudo). It starts no service.
#
# - slurmctld, slurmd, slurm-client: pull in slurm-wlm-basic-plugins (which holds mpi_pmix.so),
#   munge and the libraries they link. --no-install-recommends skips slurm-wlm-plugins (extra
#   plugins with heavy dependencies we do not use).
# - libpmix-dev: Slurm's mpi/pmix plugin dlopen()s the unversioned
#   /usr/lib/x86_64-linux-gnu/pmix2/lib/libpmix.so, which only the -dev package ships. Without it
#   `srun --mpi=pmix` cannot start Open MPI ranks. (libopenmpi-dev already depends on it.)
# - openmpi-bin: mpirun, the job scripts' fallback launcher inside an allocation.
set -euo pipefail

# policy-rc.d may refuse to start the services during installation; that is fine (we start none).
exec bash "$(dirname "$0")/apt-install.sh" install-slurm slurmctld slurmd slurm-client libpmix-dev openmpi-bin
