// Package dataset loads, generates and reshapes the labelled image sets
// that longtail trains on.
//
// A Set holds every image in memory as uint8 C×H×W planes (CHW, the layout
// of CIFAR's binary records), image i at Pix[i*C*H*W:], with Labels[i] in
// [0, len(Classes)). Sets are plain values: functions that derive a set
// (Subset, LongTail) copy the pixels, so a result never aliases its source;
// readers return fresh sets that the caller owns.
//
// Sources:
//   - ReadCIFAR10 and ReadCIFAR100: the official binary archives (MD5
//     verified) or their extracted folders;
//   - ReadImageFolder: root/{train,test}/<class>/*.{png,jpg,jpeg}, as a
//     folder or a .tar.gz, classes sorted by name;
//   - Synthetic: a seeded built-in task of coloured, textured shapes whose
//     classes partly overlap, the no-download default.
//
// LongTail cuts a balanced training set down to an exponential or step
// profile (LongTailCounts), choosing the kept images of each class by a
// seed; test sets are never cut. Every random choice here derives from a
// seed through sampling/internal/rng, so results are identical across runs,
// machines, Go releases and GOMAXPROCS.
//
// Errors wrap ErrFormat (bad data: truncated or oversized files, labels
// out of range, undecodable or mismatched images, empty classes),
// ErrChecksum or ErrArgument, and name the file, offset or key at fault.
// Files are written atomically (temporary file, then rename).
package dataset
