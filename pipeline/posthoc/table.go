package posthoc

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// WriteTable writes the report as two tables, validation then test: one row
// per method with its choice, top-1, the SD of per-class accuracy, the shot
// groups and the worst class, in percent, and the seconds it took. The
// heading names the checkpoint and its epoch.
func WriteTable(w io.Writer, r *Report) error {
	if len(r.Methods) == 0 {
		return fmt.Errorf("posthoc: the report has no methods")
	}
	shots := r.Methods[0].Test.ShotThresholds().Labels()
	head := []string{"method", "choice", "top-1", "SD", shortShot(shots[0]), shortShot(shots[1]), shortShot(shots[2]), "worst", "worst class", "s"}
	var b strings.Builder
	fmt.Fprintf(&b, "%s, checkpoint epoch %d", r.Checkpoint, r.Epoch)
	if r.Step != 0 {
		fmt.Fprintf(&b, " + %d steps of epoch %d (taken mid-epoch)", r.Step, r.Epoch+1)
	}
	b.WriteString("\n\n")
	for _, split := range []string{"val", "test"} {
		rows := [][]string{head}
		for _, m := range r.Methods {
			mt := m.Val
			if split == "test" {
				mt = m.Test
			}
			worst := ""
			if mt.WorstClass >= 0 && mt.WorstClass < len(r.Classes) {
				worst = fmt.Sprintf("%d %s", mt.WorstClass, r.Classes[mt.WorstClass])
			}
			secs := fmt.Sprintf("%.2f", m.Seconds)
			if m.Method == Plain {
				secs = "–"
			}
			rows = append(rows, []string{m.Method, m.Choice.String(), pct(&mt.Top1), pct(&mt.SD), pct(mt.Many), pct(mt.Medium), pct(mt.Few), pct(&mt.Worst), worst, secs})
		}
		width := make([]int, len(head))
		for _, row := range rows {
			for i, c := range row {
				width[i] = max(width[i], utf8.RuneCountInString(c))
			}
		}
		if split == "val" {
			fmt.Fprintf(&b, "validation (%s images per class, chooses τ and schedules)\n", perClass(r.ValCounts))
		} else {
			fmt.Fprintf(&b, "\ntest\n")
		}
		for k, row := range rows {
			for i, c := range row {
				pad := width[i] - utf8.RuneCountInString(c)
				switch {
				case i < 2 || i == 8: // text, left-aligned
					b.WriteString(c + strings.Repeat(" ", pad))
				default:
					b.WriteString(strings.Repeat(" ", pad) + c)
				}
				if i < len(row)-1 {
					b.WriteString("  ")
				}
			}
			b.WriteString("\n")
			if k == 0 {
				total := 2 * (len(width) - 1)
				for _, n := range width {
					total += n
				}
				b.WriteString(strings.Repeat("-", total) + "\n")
			}
		}
	}
	fmt.Fprintf(&b, "accuracy in %%; features %.2f s\n", r.FeatureSeconds)
	_, err := io.WriteString(w, b.String())
	return err
}

// shortShot turns "many-shot (>100)" into "many>100".
func shortShot(label string) string {
	name, rest, _ := strings.Cut(label, "-shot (")
	return name + strings.TrimSuffix(rest, ")")
}

func pct(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f", 100**v)
}

// perClass renders the validation images per class: "20", or "8–20" when
// they differ.
func perClass(counts []int) string {
	if len(counts) == 0 {
		return "0"
	}
	lo, hi := counts[0], counts[0]
	for _, c := range counts {
		lo, hi = min(lo, c), max(hi, c)
	}
	if lo == hi {
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d–%d", lo, hi)
}
