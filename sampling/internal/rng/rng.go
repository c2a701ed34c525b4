package rng

import (
	"math"
	"math/bits"
)

const golden = 0x9e3779b97f4a7c15

// mix is the splitmix64 finaliser: a bijection on uint64 with good avalanche.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Key hashes its parts, in order, into one 64-bit key. Distinct part lists
// give unrelated keys; tags (small constants naming the use) keep streams
// for different purposes apart.
func Key(parts ...uint64) uint64 {
	h := uint64(0x6a09e667f3bcc909)
	for _, p := range parts {
		h = mix(h ^ mix(p+golden))
	}
	return h
}

// Stream is a splitmix64 generator. The zero value is a valid stream.
type Stream struct{ s uint64 }

// New returns the stream keyed by parts (see Key).
func New(parts ...uint64) Stream { return Stream{s: Key(parts...)} }

// Uint64 returns the next 64 random bits.
func (r *Stream) Uint64() uint64 {
	r.s += golden
	return mix(r.s)
}

// IntN returns a uniform integer in [0, n) by Lemire's multiply-and-reject
// method. It panics if n <= 0.
func (r *Stream) IntN(n int) int {
	if n <= 0 {
		panic("rng: IntN with n <= 0")
	}
	un := uint64(n)
	hi, lo := bits.Mul64(r.Uint64(), un)
	if lo < un {
		thresh := -un % un
		for lo < thresh {
			hi, lo = bits.Mul64(r.Uint64(), un)
		}
	}
	return int(hi)
}

// Float64 returns a uniform float64 in [0, 1) with 53 random bits.
func (r *Stream) Float64() float64 {
	return float64(r.Uint64()>>11) * (1.0 / (1 << 53))
}

// Norm returns a standard normal variate (Box–Muller; one of the pair is
// discarded, which keeps the stream stateless between calls).
func (r *Stream) Norm() float64 {
	u := 1 - r.Float64() // (0, 1]
	v := r.Float64()
	return math.Sqrt(-2*math.Log(u)) * math.Cos(2*math.Pi*v)
}

// Shuffle permutes x in place (Fisher–Yates, from the end).
func Shuffle[T any](r *Stream, x []T) {
	for i := len(x) - 1; i > 0; i-- {
		j := r.IntN(i + 1)
		x[i], x[j] = x[j], x[i]
	}
}

// Perm returns a uniform random permutation of 0..n-1.
func (r *Stream) Perm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	Shuffle(r, p)
	return p
}
