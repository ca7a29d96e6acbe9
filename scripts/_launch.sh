# Sourced by the reproduction scripts: how each Python step is started.
#   NPROC=N            N processes on this machine (one per GPU), through torchrun --standalone
#   TORCHRUN_ARGS="…"  any torchrun flags instead, e.g. for several nodes:
#                      "--nnodes 2 --node-rank 0 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint host:29500"
# The default (neither set) is one plain process, as the published commands run.
launch() {  # launch SCRIPT.py ARGS...
  if [ -n "${TORCHRUN_ARGS:-}" ]; then
    local torchrun_args
    read -r -a torchrun_args <<< "$TORCHRUN_ARGS"
    $PYTHON -m torch.distributed.run "${torchrun_args[@]}" "$@"
  elif [ "${NPROC:-1}" -gt 1 ]; then
    $PYTHON -m torch.distributed.run --standalone --nproc-per-node "$NPROC" "$@"
  else
    $PYTHON "$@"
  fi
}
