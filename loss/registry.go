package loss

import "sort"

// entry describes one named loss.
type entry struct {
	name    string
	weights string // default class weighting
	build   func(params) (Loss, error)
}

// registry is the table of losses by name. Adding a loss means a file with
// its builder and a line here.
func registry() []entry {
	return []entry{
		{"balanced_softmax", WeightsNone, newBalancedSoftmax},
		{"cb", WeightsCB, newCE},
		{"ce", WeightsNone, newCE},
		{"focal", WeightsNone, newFocal},
		{"ldam", WeightsNone, newLDAM},
		{"logit_adjust", WeightsNone, newLogitAdjust},
		{"weighted_ce", WeightsClamped, newCE},
	}
}

func lookup(name string) (entry, bool) {
	for _, e := range registry() {
		if e.name == name {
			return e, true
		}
	}
	return entry{}, false
}

// Names lists the loss names Config.Name accepts, sorted.
func Names() []string {
	var out []string
	for _, e := range registry() {
		out = append(out, e.name)
	}
	sort.Strings(out)
	return out
}
