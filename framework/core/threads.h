// The intra-op thread count of LibTorch (and the BLAS under it).
//
// LibTorch's own default depends on the build and the environment (OMP_NUM_THREADS, and Debian's 1.13
// started with one thread, wasting every other core); ptlab always sets the count explicitly:
// `runtime.threads` when it is > 0, otherwise all cores of the node divided by
// the number of ranks on the node (at least 1), so that `mpirun -np 2` on 2 cores does not oversubscribe.
#pragma once

namespace ptlab {

/// Threads to use for `requested` (0 = automatic) with `ranks_on_node` processes sharing the node.
int choose_thread_count(int requested, int ranks_on_node, int cores);

/// Applies choose_thread_count() to LibTorch (at::set_num_threads) and returns the count applied.
/// `cores` defaults to the cores this process may run on (sched_getaffinity), not the machine's total.
int configure_threads(int requested, int ranks_on_node);

/// Cores this process may run on.
int available_cores();

/// Processes a launcher started on this node, from its environment (OMPI_COMM_WORLD_LOCAL_SIZE,
/// MPI_LOCALNRANKS, SLURM_STEP_TASKS_PER_NODE); 0 when not started by one. Readable before MPI_Init.
int launcher_ranks_on_node();

}  // namespace ptlab
