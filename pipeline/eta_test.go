package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunETAAndFinishedResume trains a tiny run and reads its log: every
// epoch line but the last gives the run's ETA; resuming the finished run
// says there is nothing to train instead of an epoch past the last.
func TestRunETAAndFinishedResume(t *testing.T) {
	needORT(t)
	cfg := tinyConfig(t)
	dir := filepath.Join(t.TempDir(), "run")
	var logs bytes.Buffer
	opts := Options{Log: slog.New(slog.NewJSONHandler(&logs, nil))}
	if _, err := Train(context.Background(), cfg, dir, opts); err != nil {
		t.Fatal(err)
	}
	type line struct {
		Msg    string `json:"msg"`
		Epoch  any    `json:"epoch"`
		RunETA *int64 `json:"run_eta"`
	}
	var epochs []line
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var ln line
		if err := json.Unmarshal([]byte(l), &ln); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if ln.Msg == "epoch" {
			epochs = append(epochs, ln)
		}
	}
	if len(epochs) != cfg.Train.Epochs {
		t.Fatalf("%d epoch lines; want %d:\n%s", len(epochs), cfg.Train.Epochs, logs.String())
	}
	for i, ln := range epochs {
		if last := i == len(epochs)-1; (ln.RunETA == nil) != last {
			t.Errorf("epoch %v: run_eta %v; want one on every epoch but the last", ln.Epoch, ln.RunETA)
		}
	}

	logs.Reset()
	if _, err := Resume(context.Background(), cfg, dir, opts); err != nil {
		t.Fatal(err)
	}
	if got := logs.String(); !strings.Contains(got, "the run has finished; nothing to train") || strings.Contains(got, `"epoch":4`) || strings.Contains(got, "4/3") {
		t.Errorf("resuming the finished run logs:\n%s", got)
	}
}
