// Command checkdeps enforces the package rules of DESIGN.md §3 on non-test
// imports: roles never import each other or rpc/, shared code lives in
// chain/ and storage/, go-ethereum's executor (core, triedb) is called only
// from chain/ and storage/, and nothing imports go-ethereum's beacon/*.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

const module = "github.com/meganode/meganode/"

// allowed lists, per top-level package, which of this module's packages it
// may import. node/, cmd/ and tools/ may import anything.
var allowed = map[string][]string{
	"chain":     {},
	"storage":   {"chain"},
	"eigenda":   {"chain", "storage"},
	"p2p":       {"chain"},
	"sequencer": {"chain", "storage", "eigenda", "p2p", "l1"},
	"replica":   {"chain", "storage", "eigenda", "p2p", "l1"},
	"fullnode":  {"chain", "storage", "eigenda", "p2p", "l1"},
	"prover":    {"chain", "storage", "eigenda", "p2p", "l1"},
	"rpc":       {"chain"},
	"gateway":   {"chain", "rpc"}, // a process of its own; it uses rpc/'s codecs, rpc/ never imports it
	"bench":     {"chain"},
	"contracts": {},
	// l1/ binds the contracts for the roles (which may import it), never the roles.
	"l1": {"chain", "contracts"},
}

// executor packages only chain/ (and storage/, which owns the databases) call;
// tools/ (test-data generators, not part of the node) may too.
var executor = []string{"github.com/ethereum/go-ethereum/core", "github.com/ethereum/go-ethereum/triedb"}

type pkg struct {
	ImportPath string
	Imports    []string
}

func top(path string) string {
	rest := strings.TrimPrefix(path, module)
	return strings.SplitN(rest, "/", 2)[0]
}

func main() {
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "go list:", err)
		os.Exit(2)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var problems []string
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			fmt.Fprintln(os.Stderr, "decode:", err)
			os.Exit(2)
		}
		from := top(p.ImportPath)
		rules, restricted := allowed[from]
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, "github.com/ethereum/go-ethereum/beacon") {
				problems = append(problems, fmt.Sprintf("%s imports %s: go-ethereum's beacon packages are not allowed", p.ImportPath, imp))
			}
			for _, ex := range executor {
				if (imp == ex || strings.HasPrefix(imp, ex+"/")) && from != "chain" && from != "storage" && from != "tools" && !isTypeOnly(imp) {
					problems = append(problems, fmt.Sprintf("%s imports %s: go-ethereum's executor is called through chain/", p.ImportPath, imp))
				}
			}
			if !restricted || !strings.HasPrefix(imp, module) {
				continue
			}
			to := top(imp)
			if to == from {
				continue
			}
			ok := false
			for _, a := range rules {
				if a == to {
					ok = true
				}
			}
			if !ok {
				problems = append(problems, fmt.Sprintf("%s imports %s: %s/ may import only %v of this module", p.ImportPath, imp, from, rules))
			}
		}
	}
	for _, p := range problems {
		fmt.Println(p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
	fmt.Println("check-deps: package rules hold")
}

// isTypeOnly names go-ethereum packages under core/ that hold data types and
// interfaces, not execution: using their types is not calling the executor.
func isTypeOnly(imp string) bool {
	switch imp {
	case "github.com/ethereum/go-ethereum/core/types", "github.com/ethereum/go-ethereum/core/state":
		return true
	}
	return false
}
