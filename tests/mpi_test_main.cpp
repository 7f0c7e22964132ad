// GoogleTest main for tests that run under mpiexec: every rank runs every test, and the job passes
// only if every rank passed (a failure on any rank fails all).
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdio>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (rank != 0) {
    // Only rank 0 prints the progress; other ranks report failures only.
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  const int local_failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  int any_failed = 0;
  MPI_Allreduce(&local_failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (local_failed) std::printf("rank %d: some tests FAILED\n", rank);
  if (rank == 0) std::printf(any_failed ? "MPI TESTS FAILED on %d ranks\n" : "MPI TESTS PASSED on %d ranks\n", size);
  MPI_Finalize();
  return any_failed;
}
