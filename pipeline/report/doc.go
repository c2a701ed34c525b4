// Package report turns a sweep directory (package sweep) into the paper's
// results: a table per imbalance factor × method (× setting) with top-1,
// the standard deviation of per-class accuracy and many/medium/few-shot
// accuracy as means with 95% Student-t confidence intervals over the
// replicates, and the gain over a baseline paired by replicate with its
// paired t interval (Markdown and CSV), the paper's Figures 2 and 3, the
// spread of every run's top-1, learning curves, and one self-contained HTML
// page (Build, Report.Write).
//
// Invariants:
//   - A cell's replicates are the runs that differ only by train.seed and
//     data.lt_seed; the comparison with the baseline pairs runs with equal
//     (train.seed, data.lt_seed) and leaves the others out, counted. A cell
//     of one run has a mean and no interval.
//   - A report only reads: sweep.json and each finished run's final.json and
//     metrics.jsonl. Unfinished runs are listed, and left out of the numbers.
//   - Several directories holding the same sweep (shards that did not share
//     one) merge: a run is taken from the first directory that finished it.
//   - Every file is written atomically; figures are PNGs at a fixed DPI, and
//     a method keeps its colour in every figure.
package report
