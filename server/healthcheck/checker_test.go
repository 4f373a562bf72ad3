package healthcheck_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tokend/tokend/server/healthcheck"
	"github.com/tokend/tokend/server/storage/faulty"
	"github.com/tokend/tokend/server/storage/sqlite"
)

func TestCheckerReportsChanges(t *testing.T) {
	t.Parallel()
	real, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "tokend.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = real.Close() })
	st := faulty.New(real)
	var changes []bool
	c := healthcheck.New(st, time.Second, nil, func(up bool) { changes = append(changes, up) })

	steps := []struct {
		name  string
		setup func()
		want  bool
	}{
		{"working", func() {}, true},
		{"store goes away", func() { st.Break(nil) }, false},
		{"still away", func() {}, false},
		{"store is back", st.Repair, true},
		{"still back", func() {}, true},
	}
	for _, s := range steps {
		s.setup()
		if got := c.Check(t.Context()); got != s.want || c.Up() != s.want {
			t.Errorf("%s: Check = %v, Up = %v; want %v", s.name, got, c.Up(), s.want)
		}
	}
	if want := []bool{false, true}; !slices.Equal(changes, want) {
		t.Errorf("changes reported %v, want %v (each change once)", changes, want)
	}

	// A check whose caller gives up says nothing about the store.
	st.Break(nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if !c.Check(ctx) {
		t.Error("a canceled check turned the store down")
	}
}
