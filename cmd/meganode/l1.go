package main

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/l1"
	"github.com/meganode/meganode/node"
)

// l1Flags point a sequencer (or a devnet) at its L1 (docs/l1.md).
func l1Flags(devnet bool) []cli.Flag {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "l1.url", Usage: "the L1's JSON-RPC URL (anvil, geth): deposits to its portal are taken into L2 blocks", EnvVars: env("L1_URL")},
		&cli.StringFlag{Name: "l1.portal", Usage: "the portal's address on --l1.url (meganode l1 deploy prints it)", EnvVars: env("L1_PORTAL")},
		&cli.Uint64Flag{Name: "l1.confirmations", Usage: "L1 blocks that must follow a deposit's block before it is taken (a shallower L1 reorg never reaches L2)", EnvVars: env("L1_CONFIRMATIONS")},
		&cli.Uint64Flag{Name: "l1.start-block", Usage: "first L1 block read for deposits: the portal's deployment block", EnvVars: env("L1_START_BLOCK")},
		&cli.DurationFlag{Name: "l1.poll", Value: time.Second, Usage: "how often the L1 head is read", EnvVars: env("L1_POLL")},
	}
	if !devnet {
		flags = append(flags, proposerFlags()...)
		flags = append(flags, inboxFlag,
			&cli.StringFlag{Name: "l1.batcher-key", Usage: "file holding the hex key of the inbox's batcher: every blob posted to DA is recorded in --l1.da-inbox", EnvVars: env("L1_BATCHER_KEY")})
	}
	if devnet {
		flags[1].(*cli.StringFlag).Usage += "; a devnet without it deploys the contracts on --l1.url from its first dev account"
		flags = append(flags,
			&cli.BoolFlag{Name: "l1.embedded", Usage: "run an L1 in process (go-ethereum's simulated backend, chain id 1337, the dev accounts funded; JSON-RPC on http.port+4) with the contracts deployed; default on for a realtime devnet in memory without --l1.url", EnvVars: env("L1_EMBEDDED")},
			&cli.DurationFlag{Name: "l1.block-time", Value: time.Second, Usage: "block time of the embedded L1", EnvVars: env("L1_BLOCK_TIME")},
			&cli.DurationFlag{Name: "l1.sequencing-window", Usage: "the devnet's full node replaces a block whose deposit cursor is older than the L1 block this long before it, by the block that forces the deposits in (off by default on a devnet: time travel moves L2 time past the L1's)", EnvVars: env("L1_SEQUENCING_WINDOW")},
		)
	}
	return flags
}

// proposerFlags make a sequencer or full node post output roots.
func proposerFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "l1.output-oracle", Usage: "the OutputOracle's address on --l1.url (meganode l1 deploy prints it)", EnvVars: env("L1_OUTPUT_ORACLE")},
		&cli.StringFlag{Name: "l1.proposer-key", Usage: "file holding the hex key of the oracle's proposer: this node posts the output root of every block its provers proved (sealed, without a ladder)", EnvVars: env("L1_PROPOSER_KEY")},
	}
}

// inboxFlag names the DA inbox on --l1.url.
var inboxFlag = &cli.StringFlag{Name: "l1.da-inbox", Usage: "the DAInbox's address on --l1.url: DA commitments are read from (a follower) or recorded in (a sequencer with --l1.batcher-key) its records, and a block is safe once its blob is recorded there", EnvVars: env("L1_DA_INBOX")}

// followerL1Flags point a replica or full node at the L1: DA commitments
// from the inbox, and for a full node output proposals.
func followerL1Flags(fullnode bool) []cli.Flag {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "l1.url", Usage: "the L1's JSON-RPC URL", EnvVars: env("L1_URL")},
		inboxFlag,
		&cli.Uint64Flag{Name: "l1.confirmations", Usage: "L1 blocks that must follow an inbox record before it is read", EnvVars: env("L1_CONFIRMATIONS")},
		&cli.Uint64Flag{Name: "l1.start-block", Usage: "first L1 block read: the contracts' deployment block", EnvVars: env("L1_START_BLOCK")},
		&cli.DurationFlag{Name: "l1.poll", Value: time.Second, Usage: "how often the L1 is read", EnvVars: env("L1_POLL")},
	}
	if fullnode {
		flags = append(flags, &cli.StringFlag{Name: "l1.portal", Usage: "the portal's address on --l1.url: every block's deposits are checked against its logs", EnvVars: env("L1_PORTAL")},
			&cli.DurationFlag{Name: "l1.sequencing-window", Value: l1.DefaultSequencingWindow, Usage: "with --l1.portal: a block's deposit cursor may not be older than the L1 block this long before it; a block that breaks a deposit rule is replaced by the block that forces the deposits in (0: no window)", EnvVars: env("L1_SEQUENCING_WINDOW")})
		return append(flags, proposerFlags()...)
	}
	flags = append(flags, &cli.StringFlag{Name: "l1.portal", Usage: "the portal's address on --l1.url: every block's deposits are checked against its logs, and the replica stops at a block that breaks a deposit rule", EnvVars: env("L1_PORTAL")},
		&cli.DurationFlag{Name: "l1.sequencing-window", Value: l1.DefaultSequencingWindow, Usage: "with --l1.portal: a block's deposit cursor may not be older than the L1 block this long before it (0: no window)", EnvVars: env("L1_SEQUENCING_WINDOW")})
	return append(flags, proposerFlags()[0]) // the oracle: finality anchored on L1
}

// applyFollowerL1Flags fills a follower's L1 config.
func applyFollowerL1Flags(c *cli.Context, cfg *node.L1Config) error {
	cfg.URL = c.String("l1.url")
	cfg.Confirmations, cfg.StartBlock, cfg.Poll = c.Uint64("l1.confirmations"), c.Uint64("l1.start-block"), c.Duration("l1.poll")
	cfg.SequencingWindow = c.Duration("l1.sequencing-window")
	var err error
	if cfg.DAInbox, err = addressFlag(c, "l1.da-inbox"); err != nil {
		return err
	}
	if cfg.Portal, err = addressFlag(c, "l1.portal"); err != nil {
		return err
	}
	if c.IsSet("l1.proposer-key") || c.IsSet("l1.output-oracle") {
		if err := applyProposerFlags(c, cfg); err != nil {
			return err
		}
	}
	if cfg.URL == "" && (cfg.DAInbox != (common.Address{}) || cfg.Portal != (common.Address{})) {
		return errors.New("--l1.da-inbox and --l1.portal need --l1.url")
	}
	return nil
}

// addressFlag parses an optional address flag.
func addressFlag(c *cli.Context, name string) (common.Address, error) {
	s := c.String(name)
	if s == "" {
		return common.Address{}, nil
	}
	if !common.IsHexAddress(s) {
		return common.Address{}, fmt.Errorf("--%s: %q is not an address", name, s)
	}
	return common.HexToAddress(s), nil
}

// readKeyFile reads a hex secp256k1 key that must exist.
func readKeyFile(flag, path string) (*ecdsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flag, err)
	}
	key, err := crypto.HexToECDSA(strings.TrimPrefix(strings.TrimSpace(string(data)), "0x"))
	if err != nil {
		return nil, fmt.Errorf("--%s %s: %w", flag, path, err)
	}
	return key, nil
}

// applyProposerFlags fills the proposer part of cfg.
func applyProposerFlags(c *cli.Context, cfg *node.L1Config) error {
	var err error
	if cfg.OutputOracle, err = addressFlag(c, "l1.output-oracle"); err != nil {
		return err
	}
	if path := c.String("l1.proposer-key"); path != "" {
		cfg.ProposerKey, err = readKeyFile("l1.proposer-key", path)
	}
	return err
}

// challengerFlags make a prover challenge disagreeing outputs on L1.
func challengerFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "l1.url", Usage: "the L1's JSON-RPC URL, where output roots that disagree with this prover's attestations are challenged", EnvVars: env("L1_URL")},
		&cli.StringFlag{Name: "l1.output-oracle", Usage: "the OutputOracle's address on --l1.url; the prover's key must be one of its challengers", EnvVars: env("L1_OUTPUT_ORACLE")},
		&cli.Uint64Flag{Name: "l1.start-block", Usage: "first L1 block read: the oracle's deployment block", EnvVars: env("L1_START_BLOCK")},
		&cli.StringFlag{Name: "l1.challenger-key", Usage: "file holding the hex key of the L1 account that pays for challenges (the prover's key signs them)", EnvVars: env("L1_CHALLENGER_KEY")},
		&cli.StringFlag{Name: "l1.portal", Usage: "the portal's address on --l1.url: a block whose deposit cursor is not the L1's block, or older than the sequencing window allows, is not attested", EnvVars: env("L1_PORTAL")},
		&cli.Uint64Flag{Name: "l1.confirmations", Usage: "L1 blocks that must follow a block before it is read", EnvVars: env("L1_CONFIRMATIONS")},
		&cli.DurationFlag{Name: "l1.poll", Value: time.Second, Usage: "how often the L1 is read", EnvVars: env("L1_POLL")},
		&cli.DurationFlag{Name: "l1.sequencing-window", Value: l1.DefaultSequencingWindow, Usage: "with --l1.portal: a block's deposit cursor may not be older than the L1 block this long before it (0: no window)", EnvVars: env("L1_SEQUENCING_WINDOW")},
	}
}

// applyChallengerFlags fills a prover's L1 config.
func applyChallengerFlags(c *cli.Context, cfg *node.L1Config) error {
	cfg.URL, cfg.StartBlock = c.String("l1.url"), c.Uint64("l1.start-block")
	cfg.Confirmations, cfg.Poll, cfg.SequencingWindow = c.Uint64("l1.confirmations"), c.Duration("l1.poll"), c.Duration("l1.sequencing-window")
	var err error
	if cfg.Portal, err = addressFlag(c, "l1.portal"); err != nil {
		return err
	}
	if cfg.Portal != (common.Address{}) && cfg.URL == "" {
		return errors.New("--l1.portal needs --l1.url")
	}
	if cfg.OutputOracle, err = addressFlag(c, "l1.output-oracle"); err != nil {
		return err
	}
	if path := c.String("l1.challenger-key"); path != "" {
		cfg.ChallengeSenderKey, err = readKeyFile("l1.challenger-key", path)
	}
	return err
}

// applyL1Flags fills cfg from the L1 flags.
func applyL1Flags(c *cli.Context, cfg *node.L1Config) error {
	cfg.URL = c.String("l1.url")
	if s := c.String("l1.portal"); s != "" {
		if !common.IsHexAddress(s) {
			return fmt.Errorf("--l1.portal: %q is not an address", s)
		}
		cfg.Portal = common.HexToAddress(s)
	}
	cfg.Confirmations, cfg.StartBlock, cfg.Poll = c.Uint64("l1.confirmations"), c.Uint64("l1.start-block"), c.Duration("l1.poll")
	if c.IsSet("l1.proposer-key") || c.IsSet("l1.output-oracle") {
		if err := applyProposerFlags(c, cfg); err != nil {
			return err
		}
	}
	if c.IsSet("l1.da-inbox") || c.IsSet("l1.batcher-key") {
		var err error
		if cfg.DAInbox, err = addressFlag(c, "l1.da-inbox"); err != nil {
			return err
		}
		if path := c.String("l1.batcher-key"); path != "" {
			if cfg.BatcherKey, err = readKeyFile("l1.batcher-key", path); err != nil {
				return err
			}
		}
	}
	if cfg.URL == "" && (cfg.Portal != (common.Address{}) || c.IsSet("l1.confirmations") || c.IsSet("l1.start-block")) {
		return errors.New("--l1.portal, --l1.confirmations and --l1.start-block need --l1.url")
	}
	return nil
}

// applyDevL1Flags decides a devnet's L1: --l1.url, the embedded one, or none.
func applyDevL1Flags(c *cli.Context, cfg *node.Config) error {
	if err := applyL1Flags(c, &cfg.L1); err != nil {
		return err
	}
	cfg.L1.BlockTime = c.Duration("l1.block-time")
	cfg.L1.SequencingWindow = c.Duration("l1.sequencing-window")
	if c.IsSet("l1.embedded") {
		cfg.L1.Embedded = c.Bool("l1.embedded")
		if cfg.L1.Embedded && (cfg.Storage.Dir != "" || c.String("state") != "") {
			return errors.New("the embedded L1 lives in memory and would forget the deposits a --datadir or --state chain took: give that devnet an L1 with --l1.url")
		}
		return nil
	}
	// A test suite's automined devnet, a fork and a kept chain get none
	// unless asked: nothing there waits on deposits.
	cfg.L1.Embedded = cfg.L1.URL == "" && cfg.Sequencer.Mining == chain.MineRealtime && cfg.Fork.URL == "" && cfg.Storage.Dir == "" && c.String("state") == ""
	return nil
}

// l1Command holds the L1 tools.
func l1Command() *cli.Command {
	return &cli.Command{
		Name:  "l1",
		Usage: "L1 settlement tools",
		Subcommands: []*cli.Command{{
			Name:  "deploy",
			Usage: "deploy the L1 contracts (OutputOracle, Portal, DAInbox) and print their addresses as JSON",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "l1.url", Usage: "the L1's JSON-RPC URL", Required: true, EnvVars: env("L1_URL")},
				&cli.StringFlag{Name: "private-key", Usage: "hex key of the deployer (it pays the gas)", Required: true, EnvVars: env("L1_PRIVATE_KEY")},
				&cli.StringFlag{Name: "proposer", Usage: "address that posts output roots (default: the deployer)"},
				&cli.StringFlag{Name: "batcher", Usage: "address that records DA blobs (default: the deployer)"},
				&cli.StringSliceFlag{Name: "challenger", Usage: "a prover's signing address allowed to challenge outputs (repeat for a set)"},
				&cli.Uint64Flag{Name: "submission-interval", Value: l1.DefaultConfig().SubmissionInterval, Usage: "L2 blocks between output proposals"},
				&cli.DurationFlag{Name: "finalization-period", Value: l1.DefaultConfig().FinalizationPeriod, Usage: "challenge window of an output"},
				&cli.DurationFlag{Name: "proof-maturity-delay", Value: l1.DefaultConfig().ProofMaturityDelay, Usage: "time from proving a withdrawal to finalizing it"},
			},
			Action: runL1Deploy,
		}},
	}
}

// deployOutput is what l1 deploy prints.
type deployOutput struct {
	l1.Addresses
	StartBlock uint64 `json:"startBlock"` // the block of the first deployment: --l1.start-block
}

func runL1Deploy(c *cli.Context) error {
	key, err := crypto.HexToECDSA(strings.TrimPrefix(c.String("private-key"), "0x"))
	if err != nil {
		return fmt.Errorf("--private-key: %w", err)
	}
	ctx, cancel := context.WithTimeout(c.Context, 2*time.Minute)
	defer cancel()
	client, err := ethclient.DialContext(ctx, c.String("l1.url"))
	if err != nil {
		return fmt.Errorf("--l1.url: %w", err)
	}
	defer client.Close()
	id, err := client.ChainID(ctx)
	if err != nil {
		return fmt.Errorf("L1 chain id: %w", err)
	}
	deployer := crypto.PubkeyToAddress(key.PublicKey)
	addr := func(flag string) (common.Address, error) {
		s := c.String(flag)
		if s == "" {
			return deployer, nil
		}
		if !common.IsHexAddress(s) {
			return common.Address{}, fmt.Errorf("--%s: %q is not an address", flag, s)
		}
		return common.HexToAddress(s), nil
	}
	cfg := l1.DefaultConfig()
	if cfg.Proposer, err = addr("proposer"); err != nil {
		return err
	}
	if cfg.Batcher, err = addr("batcher"); err != nil {
		return err
	}
	for _, s := range c.StringSlice("challenger") {
		if !common.IsHexAddress(s) {
			return fmt.Errorf("--challenger: %q is not an address", s)
		}
		cfg.Challengers = append(cfg.Challengers, common.HexToAddress(s))
	}
	cfg.SubmissionInterval = c.Uint64("submission-interval")
	cfg.FinalizationPeriod, cfg.ProofMaturityDelay = c.Duration("finalization-period"), c.Duration("proof-maturity-delay")
	dep, err := l1.Deploy(ctx, client, bind.NewKeyedTransactor(key, id), cfg)
	if err != nil {
		return err
	}
	out := deployOutput{Addresses: dep.Addresses, StartBlock: dep.Receipts[0].BlockNumber.Uint64()}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
