// Package sweep trains a grid of runs: it expands a sweep file (a base run
// config, methods and a grid of keys to lists of values; configs/README.md,
// "Sweeps") into named runs (Load), trains them into one directory one or
// several at a time (Train), splits the grid into shards for processes or
// machines that share the directory (Shard, ParseShard), and writes the
// Kubernetes Indexed Job or Slurm job array that runs it one run per task
// (Job). Each run is one pipeline run; package report turns a sweep
// directory into tables and figures.
//
// Invariants:
//   - Runs that differ only by train.seed and data.lt_seed are replicates
//     of one group (Run.Group); every other grid key makes a setting.
//   - A sweep's run order and names are a pure function of its file, so
//     every shard of it, and every task of an emitted job, agrees on which
//     runs are whose.
//   - A run directory belongs to one process at a time: Train holds a lock
//     per run (flock on unix), which the kernel drops when the process dies.
//   - A rerun skips finished runs (after checking that their config still
//     matches) and resumes interrupted ones from their checkpoint.
//   - Files a sweep writes (sweep.json, the emitted job) are replaced
//     atomically.
package sweep
