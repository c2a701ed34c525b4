// Package rng is the keyed pseudo-random generator behind every random
// choice in sampling and sampling/dataset.
//
// A Stream is a splitmix64 sequence whose start is a hash of integer keys
// (seed, epoch, class, position, ...), so any random choice can be
// recomputed from its coordinates alone: no generator state is carried from
// one batch, worker or run to the next. The algorithms are spelled out here,
// not taken from math/rand, so streams stay byte-identical across Go releases.
package rng
