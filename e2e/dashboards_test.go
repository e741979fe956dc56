package e2e

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// dashboard is the part of a Grafana dashboard the check reads.
type dashboard struct {
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID      int    `json:"id"`
		Title   string `json:"title"`
		GridPos *struct {
			X, Y, W, H int
		} `json:"gridPos"`
		Targets []struct {
			Expr  string `json:"expr"`
			RefID string `json:"refId"`
		} `json:"targets"`
	} `json:"panels"`
}

var metricRef = regexp.MustCompile(`\b(?:meganode|gateway)_[a-z0-9_]+\b`)

// exported scrapes url/metrics and returns every sample name in it.
func exported(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

// TestDashboards: every metric the Grafana dashboards in ops/grafana
// reference is exported by a running network — a devnet (sequencer,
// replica, full node, prover and DA in one process), an HA sequencer
// candidate with a replica over p2p, and a gateway in front of the devnet.
func TestDashboards(t *testing.T) {
	files, err := filepath.Glob("../ops/grafana/*.json")
	if err != nil || len(files) < 2 {
		t.Fatalf("dashboards in ops/grafana: %v %v", files, err)
	}
	refs := map[string][]string{} // metric → where it is used
	uids := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
			t.Errorf("%s: uid %q, title %q, %d panels: want all three", f, d.UID, d.Title, len(d.Panels))
		}
		if other, ok := uids[d.UID]; ok {
			t.Errorf("%s and %s share uid %s", f, other, d.UID)
		}
		uids[d.UID] = f
		if !slices.ContainsFunc(d.Templating.List, func(v struct {
			Name string `json:"name"`
			Type string `json:"type"`
		}) bool {
			return v.Name == "datasource" && v.Type == "datasource"
		}) {
			t.Errorf("%s: no datasource variable (the boards are imported into any Prometheus datasource)", f)
		}
		for _, p := range d.Panels {
			if p.GridPos == nil || p.GridPos.W == 0 || len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no position or no query", f, p.Title)
			}
			for _, tg := range p.Targets {
				for _, m := range metricRef.FindAllString(tg.Expr, -1) {
					refs[m] = append(refs[m], filepath.Base(f)+": "+p.Title)
				}
			}
		}
	}

	d := startDevnet(t)
	gw := startMeganode(t, "gateway", "--sequencer", d.URL, "--replica", d.ReplicaURL, "--fullnode", d.FullNodeURL)
	dir := t.TempDir()
	keyFile, signer := writeKey(t, dir, "sequencer.key")
	raft := "127.0.0.1:" + freePort(t)
	ha := startMeganode(t, "sequencer", "--datadir", filepath.Join(dir, "seq"), "--sequencer.key", keyFile, "--p2p.listen", "/ip4/127.0.0.1/tcp/0",
		"--ha.id", "a", "--ha.addr", raft, "--ha.peers", "a="+raft)
	rep := startMeganode(t, "replica", "--datadir", filepath.Join(dir, "rep"), "--p2p.listen", "/ip4/127.0.0.1/tcp/0", "--p2p.peers", ha.P2P,
		"--sequencer.address", signer.Hex(), "--sequencer.url", ha.URL)
	waitMetric(t, ha, "meganode_ha_leader", 1)

	// Traffic that makes the labelled series appear: calls per method on
	// every node over HTTP and websocket, through the gateway, one it
	// refuses, and a transfer.
	for _, n := range []*devnet{d, gw, ha, rep} {
		var bn string
		if err := n.client(t).Call(&bn, "eth_blockNumber"); err != nil {
			t.Fatalf("%s: %v", n.URL, err)
		}
	}
	for _, n := range []*devnet{d, ha, rep} { // and over websocket
		ws, err := gethrpc.Dial(n.WS)
		if err != nil {
			t.Fatalf("%s: %v", n.WS, err)
		}
		var bn string
		err = ws.Call(&bn, "eth_blockNumber")
		ws.Close()
		if err != nil {
			t.Fatalf("%s: %v", n.WS, err)
		}
	}
	_ = gw.client(t).Call(nil, "debug_traceTransaction", "0x00")
	var hash string
	if err := gw.client(t).Call(&hash, "eth_sendTransaction", map[string]any{"from": addr0, "to": addr2, "value": "0x1"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // a block seals, DA posts, the gateway polls

	have := map[string]bool{}
	for _, n := range []string{d.URL, d.ReplicaURL, d.FullNodeURL, gw.URL, ha.URL, rep.URL} {
		for m := range exported(t, n) {
			have[m] = true
		}
	}
	var missing []string
	for m, where := range refs {
		if !have[m] {
			missing = append(missing, m+" (used by "+strings.Join(where, "; ")+")")
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("the dashboards reference metrics no node exports:\n%s", strings.Join(missing, "\n"))
	}
	t.Logf("%d dashboards, %d metrics referenced, all exported", len(files), len(refs))
}
