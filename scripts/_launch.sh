# Sourced by the reproduction scripts: how each Python step is started.
#   NPROC=N            N processes on this machine (one per GPU), through torchrun --standalone
#   TORCHRUN_ARGS="…"  any torchrun flags instead, e.g. for several nodes:
#                      "--nnodes 2 --node-rank 0 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint host:29500"
# The default (neither set) is one plain process, as the published commands run.
#
# What torchrun (python -m torch.distributed.run) does when a run stops early, and what launch makes of it:
# - It starts each rank in a session of its own, so Ctrl-C (SIGINT; SIGTERM, SIGHUP and SIGQUIT alike) reaches
#   torchrun only. torchrun logs "Received 2 death signal, shutting down workers", sends the signal on to every
#   rank, waits for them (SIGKILL after its 30 s shutdown timeout), then dies of an uncaught SignalException:
#   a traceback and exit status 1, after our ranks' own "Interrupted..." lines and status 130.
# - When a rank fails (status 2 for a user error) it logs "failed (exitcode: 2) local_rank: ...", stops the other
#   ranks with SIGTERM and dies of a ChildFailedError: a traceback ending in a summary of every failed rank's
#   exit code, and exit status 1.
# launch runs torchrun through _TORCHRUN below, which catches those two exceptions and exits without the
# traceback: with 128 + the signal (130 for Ctrl-C), or, after one line naming the failed ranks, with the exit
# status of the rank that failed first (128 + N for one killed by signal N). The ranks' output is left untouched.
_TORCHRUN='
import runpy, sys
from torch.distributed.elastic.multiprocessing.api import SignalException
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

try:
    runpy.run_module("torch.distributed.run", run_name="__main__", alter_sys=True)  # python -m torch.distributed.run
except (SignalException, KeyboardInterrupt) as exc:
    sys.exit(128 + int(getattr(exc, "sigval", 2)))
except ChildFailedError as exc:
    rank, failure = exc.get_first_failure()
    code = failure.exitcode if failure.exitcode > 0 else 128 - failure.exitcode if failure.exitcode < 0 else 1
    failed = ", ".join(f"{r} ({f.exitcode})" for r, f in sorted(exc.failures.items()))
    print(f"torchrun: rank {rank} failed first, exit status {failure.exitcode}; failed ranks (status): {failed}",
          file=sys.stderr, flush=True)
    sys.exit(code)
'
launch() {  # launch SCRIPT.py ARGS...
  if [ -n "${TORCHRUN_ARGS:-}" ]; then
    local torchrun_args
    read -r -a torchrun_args <<< "$TORCHRUN_ARGS"
    $PYTHON -c "$_TORCHRUN" "${torchrun_args[@]}" "$@"
  elif [ "${NPROC:-1}" -gt 1 ]; then
    $PYTHON -c "$_TORCHRUN" --standalone --nproc-per-node "$NPROC" "$@"
  else
    $PYTHON "$@"
  fi
}
