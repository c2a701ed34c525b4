// Package report turns a sweep directory (package sweep) into the paper's
// results: a table per imbalance factor × method with top-1 mean ± std over
// seeds, the standard deviation of per-class accuracy, many/medium/few-shot
// accuracy and the gain over a baseline paired by seed (Markdown and CSV),
// the paper's Figures 2 and 3, learning curves, and one self-contained HTML
// page (Build, Report.Write).
//
// Invariants:
//   - A report only reads: sweep.json and each finished run's final.json and
//     metrics.jsonl. Unfinished runs are listed, and left out of the numbers.
//   - Several directories holding the same sweep (shards that did not share
//     one) merge: a run is taken from the first directory that finished it.
//   - Every file is written atomically; figures are PNGs at a fixed DPI, and
//     a method keeps its colour in every figure.
package report
