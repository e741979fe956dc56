package contracts

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestArtifactsMatchSources compiles the sources again with build.js and
// wants the committed artifacts byte for byte: a source edited without
// `make contracts` fails here.
func TestArtifactsMatchSources(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: cannot recompile the contracts (make e2e-deps installs solc)")
	}
	if _, err := os.Stat(filepath.Join("..", "e2e", "node_modules", "solc", "package.json")); err != nil {
		t.Skip("solcjs is not installed in e2e/node_modules: run make e2e-deps")
	}
	out := t.TempDir()
	cmd := exec.Command(node, "build.js", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.js: %v\n%s", err, b)
	}
	for _, name := range Names {
		committed, err := Artifact(name)
		if err != nil {
			t.Fatal(err)
		}
		built, err := os.ReadFile(filepath.Join(out, name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(committed, built) {
			t.Errorf("artifacts/%s.json is not what the sources compile to: run make contracts", name)
		}
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(Names) {
		t.Errorf("build.js wrote %d artifacts, want %d (%v)", len(entries), len(Names), Names)
	}
}
