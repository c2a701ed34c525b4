package loss

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestWithDefaults(t *testing.T) {
	got := Config{}.WithDefaults(10)
	want := Config{
		Name: "ce", Weights: "none", Lo: 1, Hi: math.Pow(10, 0.25), Beta: 0.9999,
		Normalize: "batch", Gamma: 1, MaxMargin: 0.5, Scale: 30, Tau: 1,
	}
	if got != want {
		t.Errorf("defaults\n got %+v\nwant %+v", got, want)
	}
	if math.Abs(got.Hi-1.7783) > 0.5e-4 {
		t.Errorf("default hi %v; want 1.7783", got.Hi)
	}
	weights := []struct {
		c    Config
		want string
	}{
		{Config{Name: "weighted_ce"}, "clamped"},
		{Config{Name: "cb"}, "cb"},
		{Config{Name: "ldam", DRWEpoch: 160}, "cb"},
		{Config{Name: "ldam"}, "none"},
		{Config{Name: "weighted_ce", DRWEpoch: 160}, "clamped"},
		{Config{Name: "weighted_ce", Weights: "inverse"}, "inverse"},
	}
	for _, tt := range weights {
		if got := tt.c.WithDefaults(10).Weights; got != tt.want {
			t.Errorf("%+v: weights %q; want %q", tt.c, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		c    Config
		key  string // "" means valid
	}{
		{"zero value", Config{}, ""},
		{"paper", Config{Name: "weighted_ce", Weights: "clamped"}, ""},
		{"ldam-drw", Config{Name: "ldam", DRWEpoch: 160, Normalize: "weights"}, ""},
		{"every loss name", Config{Name: "logit_adjust", Tau: 1.5}, ""},
		{"unknown name", Config{Name: "softmax"}, "loss.name"},
		{"unknown weights", Config{Weights: "sqrt"}, "loss.weights"},
		{"cb with other weights", Config{Name: "cb", Weights: "clamped"}, "loss.weights"},
		{"negative beta", Config{Beta: -0.1}, "loss.beta"},
		{"beta one", Config{Beta: 1}, "loss.beta"},
		{"NaN beta", Config{Beta: math.NaN()}, "loss.beta"},
		{"lo above hi", Config{Lo: 2, Hi: 1.5}, "loss.lo"},
		{"negative lo", Config{Lo: -1}, "loss.lo"},
		{"negative hi", Config{Hi: -1}, "loss.hi"},
		{"unknown normalize", Config{Normalize: "mean"}, "loss.normalize"},
		{"negative gamma", Config{Gamma: -1}, "loss.gamma"},
		{"negative margin", Config{MaxMargin: -0.5}, "loss.max_margin"},
		{"negative scale", Config{Scale: -30}, "loss.scale"},
		{"negative tau", Config{Tau: -1}, "loss.tau"},
		{"negative drw", Config{DRWEpoch: -1}, "loss.drw_epoch"},
		{"drw without weights", Config{DRWEpoch: 160, Weights: "none"}, "loss.drw_epoch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate(10)
			if tt.key == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("error %v; want ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tt.key+":") {
				t.Errorf("error %q does not name %s", err, tt.key)
			}
			if _, nerr := New(tt.c, countsIF100); !errors.Is(nerr, ErrInvalidConfig) {
				t.Errorf("New accepted the config: %v", nerr)
			}
		})
	}
}

func TestValidateJoinsEveryProblem(t *testing.T) {
	err := Config{Name: "x", Beta: -1, Gamma: -1}.Validate(10)
	for _, key := range []string{"loss.name:", "loss.beta:", "loss.gamma:"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error %v does not name %s", err, key)
		}
	}
}

func TestValidateClasses(t *testing.T) {
	if err := (Config{}).Validate(1); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("1 class: error %v; want ErrInvalidConfig", err)
	}
}

func TestNewRejectsEmptyClass(t *testing.T) {
	for _, name := range Names() {
		_, err := New(Config{Name: name}, []int{100, 50, 0, 10})
		if !errors.Is(err, ErrEmptyClass) || !strings.Contains(err.Error(), "class 2") {
			t.Errorf("%s: error %v; want ErrEmptyClass naming class 2", name, err)
		}
	}
}

func TestNamesBuild(t *testing.T) {
	want := []string{"balanced_softmax", "cb", "ce", "focal", "ldam", "logit_adjust", "weighted_ce"}
	got := Names()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("Names() = %v; want %v", got, want)
	}
	for _, name := range got {
		l := mustNew(t, Config{Name: name}, countsIF100)
		if _, ok := l.(Scheduled); !ok {
			t.Errorf("%s does not implement Scheduled", name)
		}
		_, affine := l.(Affiner)
		if affine == (name == "focal") {
			t.Errorf("%s: implements Affiner = %v", name, affine)
		}
	}
}
