// Package contracts holds the Solidity sources of meganode's L1 contracts
// (src/: Portal, OutputOracle, DAInbox) and their committed build artifacts
// (artifacts/, one JSON per contract: abi, bytecode, deployedBytecode), with
// the L2's message passer (../chain/contracts) compiled beside them.
// `make contracts` regenerates the artifacts with solcjs (build.js); the test
// checks the committed ones are what the sources compile to. The package only
// embeds the artifacts: l1/ binds and deploys them.
package contracts

import (
	"embed"
	"fmt"
)

//go:embed artifacts/*.json
var artifacts embed.FS

// Names of the contracts with an artifact.
const (
	Portal        = "Portal"
	OutputOracle  = "OutputOracle"
	DAInbox       = "DAInbox"
	MessagePasser = "L2ToL1MessagePasser"
)

// Names lists every artifact.
var Names = []string{Portal, OutputOracle, DAInbox, MessagePasser}

// Artifact returns the JSON artifact of the contract name.
func Artifact(name string) ([]byte, error) {
	b, err := artifacts.ReadFile("artifacts/" + name + ".json")
	if err != nil {
		return nil, fmt.Errorf("contracts: no artifact %q", name)
	}
	return b, nil
}
