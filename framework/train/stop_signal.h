// Stop requests from the cluster: SIGTERM and SIGUSR1 (Slurm sends one of them before preempting or at the
// end of a job's time limit, `#SBATCH --signal=USR1@120`) set a flag that the Trainer polls between steps; it
// then writes a checkpoint and exits cleanly, and `trainer.resume=true` continues the run.
//
// The flag is process-wide by nature (a signal has no other address); the handler only stores the signal
// number into a lock-free std::atomic<int>, which is async-signal-safe. Under MPI each rank receives the
// signal itself (Slurm signals every task); agreeing on when to stop is the Trainer's job.
#pragma once

namespace ptlab::train {

/// Installs the SIGTERM and SIGUSR1 handlers (idempotent). Other signals keep their default handling;
/// SIGINT (Ctrl-C) still ends the process at once.
void install_stop_handlers();

/// Whether a stop signal arrived since the last clear_stop_request().
bool stop_requested();

/// The signal that requested the stop (SIGTERM or SIGUSR1; the latest if several), 0 when none.
int stop_signal();

/// Forgets a stop request (after acting on it, or in tests).
void clear_stop_request();

/// Sets the flag as if signal `sig` (> 0) had arrived, without raising it.
void request_stop_for_testing(int sig);

}  // namespace ptlab::train
