package pipeline

import "strings"

// Closest returns the known key nearest to key, or "" when none is near
// enough to be a likely misspelling; error messages offer it as "did you
// mean".
func Closest(key string, known []string) string { return closest(key, known) }

// closest returns the known key nearest to key, or "" when none is near
// enough to be a likely misspelling. A key that names only a leaf ("epochs")
// matches the full key that ends in it ("train.epochs").
func closest(key string, known []string) string {
	return closestWithin(key, known, max(2, len(key)/4))
}

// closestWithin is closest with an explicit edit-distance limit.
func closestWithin(key string, known []string, limit int) string {
	best, bestD := "", -1
	for _, k := range known {
		if strings.HasSuffix(k, "."+key) {
			return k
		}
		if d := editDistance(key, k); d <= limit && (bestD < 0 || d < bestD) {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the optimal-string-alignment distance: insertions,
// deletions, substitutions and transpositions of neighbours each cost 1.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// d[i][j] is the distance between ra[:i] and rb[:j].
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
