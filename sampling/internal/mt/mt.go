// Package mt is the 32-bit Mersenne Twister MT19937 (Matsumoto and Nishimura
// 1998) with the seeding and bounded draws of NumPy's legacy RandomState, so
// that Go can draw exactly the permutations that np.random.seed(s) followed
// by np.random.shuffle draws.
package mt

const (
	n         = 624
	m         = 397
	matrixA   = 0x9908b0df
	upperMask = 0x80000000
	lowerMask = 0x7fffffff
)

// MT19937 is the generator's state.
type MT19937 struct {
	key [n]uint32
	pos int
}

// New returns the generator that np.random.seed(seed) makes: init_genrand
// of the low 32 bits of seed.
func New(seed uint32) *MT19937 {
	g := &MT19937{pos: n}
	s := seed
	for i := range g.key {
		g.key[i] = s
		s = 1812433253*(s^(s>>30)) + uint32(i) + 1
	}
	return g
}

func (g *MT19937) generate() {
	var i int
	for ; i < n-m; i++ {
		y := g.key[i]&upperMask | g.key[i+1]&lowerMask
		g.key[i] = g.key[i+m] ^ y>>1 ^ -(y&1)&matrixA
	}
	for ; i < n-1; i++ {
		y := g.key[i]&upperMask | g.key[i+1]&lowerMask
		g.key[i] = g.key[i+m-n] ^ y>>1 ^ -(y&1)&matrixA
	}
	y := g.key[n-1]&upperMask | g.key[0]&lowerMask
	g.key[n-1] = g.key[m-1] ^ y>>1 ^ -(y&1)&matrixA
	g.pos = 0
}

// Uint32 is genrand_int32: the next tempered 32-bit output.
func (g *MT19937) Uint32() uint32 {
	if g.pos == n {
		g.generate()
	}
	y := g.key[g.pos]
	g.pos++
	y ^= y >> 11
	y ^= y << 7 & 0x9d2c5680
	y ^= y << 15 & 0xefc60000
	y ^= y >> 18
	return y
}

// Interval returns a uniform integer in [0, max] as NumPy's legacy
// random_interval draws it: 32-bit outputs masked to the smallest
// all-ones mask covering max, rejected while above max. max must be below
// 2^32 (NumPy switches to 64-bit draws above that).
func (g *MT19937) Interval(max uint32) uint32 {
	if max == 0 {
		return 0
	}
	mask := max
	mask |= mask >> 1
	mask |= mask >> 2
	mask |= mask >> 4
	mask |= mask >> 8
	mask |= mask >> 16
	for {
		if v := g.Uint32() & mask; v <= max {
			return v
		}
	}
}

// Shuffle permutes x in place as NumPy's legacy RandomState.shuffle does a
// one-dimensional array: Fisher–Yates from the last element down, swapping
// x[i] with x[Interval(i)].
func Shuffle[T any](g *MT19937, x []T) {
	for i := len(x) - 1; i > 0; i-- {
		j := g.Interval(uint32(i))
		x[i], x[j] = x[j], x[i]
	}
}
