package node

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/rs/zerolog"

	"github.com/meganode/meganode/storage"
)

// newSeqDevnet is a devnet running the sequencer alone, not started.
func newSeqDevnet(t *testing.T, cfg Config) *Devnet {
	t.Helper()
	cfg.RPC.Port, cfg.Roles = 0, []string{RoleSequencer}
	d, err := NewDevnet(cfg, zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDevnetGenesisTime: a devnet's genesis takes the time it is given
// (meganode devnet's start time, as anvil's), 0 without; one reopened on its
// data directory keeps the stored genesis.
func TestDevnetGenesisTime(t *testing.T) {
	d := newSeqDevnet(t, DefaultConfig())
	if got := d.store.Genesis().Time(); got != 0 {
		t.Errorf("genesis time %d without one given, want 0", got)
	}
	d.Stop(context.Background())

	at := uint64(1_700_000_000)
	cfg := DefaultConfig()
	cfg.GenesisTime = &at
	d = newSeqDevnet(t, cfg)
	if got := d.store.Genesis().Time(); got != at {
		t.Errorf("genesis time %d, want the configured %d", got, at)
	}
	d.Stop(context.Background())

	cfg = DefaultConfig()
	cfg.Storage = storage.Config{Dir: "/data", FS: vfs.NewMem(), NoSync: true}
	cfg.GenesisTime = &at
	d = newSeqDevnet(t, cfg)
	want := d.store.Genesis().Hash()
	d.Stop(context.Background())
	later := at + 1000
	cfg.GenesisTime = &later // the stored chain's genesis wins
	d = newSeqDevnet(t, cfg)
	defer d.Stop(context.Background())
	if got := d.store.Genesis(); got.Hash() != want || got.Time() != at {
		t.Errorf("reopened genesis %s at %d, want the stored %s at %d", got.Hash(), got.Time(), want, at)
	}
}

func TestStateFileGenesisTime(t *testing.T) {
	dir := t.TempDir()
	at := uint64(1_700_000_000)
	cfg := DefaultConfig()
	cfg.GenesisTime = &at
	d := newSeqDevnet(t, cfg)
	file := filepath.Join(dir, "state.json")
	if err := d.SaveStateFile(file); err != nil {
		t.Fatal(err)
	}
	d.Stop(context.Background())
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	zero := uint64(0)
	for _, tc := range []struct {
		name string
		path string
		want *uint64
	}{
		{"devnet's", file, &at},
		{"missing", filepath.Join(dir, "none.json"), nil},
		{"older meganode's", write("old.json", `{"block":{},"accounts":{},"best_block_number":0,"meganode_genesis":"0x74ceec1ef3bb63cb102f86d67897504fd7d319ecadaa286f30058ea3f93191cb"}`), &zero},
		{"anvil's", write("anvil.json", `{"block":{},"accounts":{},"best_block_number":0}`), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := StateFileGenesisTime(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
