package chain

import (
	"crypto/ecdsa"
	"fmt"

	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/tyler-smith/go-bip39"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// DevAccount is a prefunded, unlocked devnet account.
type DevAccount struct {
	Address common.Address
	Key     *ecdsa.PrivateKey
}

// DeriveAccounts derives n accounts from mnemonic along m/44'/60'/0'/0/i, the
// path anvil, Hardhat and MetaMask use.
func DeriveAccounts(mnemonic string, n int) ([]DevAccount, error) {
	seed, err := bip39.NewSeedWithErrorChecking(mnemonic, "")
	if err != nil {
		return nil, fmt.Errorf("mnemonic: %w", err)
	}
	master, err := hdkeychain.NewMaster(seed, &chaincfg.MainNetParams)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	// m/44'/60'/0'/0
	base := master
	for _, idx := range []uint32{44 + hdkeychain.HardenedKeyStart, 60 + hdkeychain.HardenedKeyStart, hdkeychain.HardenedKeyStart, 0} {
		if base, err = base.Derive(idx); err != nil {
			return nil, fmt.Errorf("derive path: %w", err)
		}
	}
	accounts := make([]DevAccount, n)
	for i := range accounts {
		child, err := base.Derive(uint32(i))
		if err != nil {
			return nil, fmt.Errorf("derive account %d: %w", i, err)
		}
		priv, err := child.ECPrivKey()
		if err != nil {
			return nil, fmt.Errorf("account %d key: %w", i, err)
		}
		key, err := crypto.ToECDSA(priv.Serialize())
		if err != nil {
			return nil, fmt.Errorf("account %d key: %w", i, err)
		}
		accounts[i] = DevAccount{Address: crypto.PubkeyToAddress(key.PublicKey), Key: key}
	}
	return accounts, nil
}
