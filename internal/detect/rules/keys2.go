package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"math/big"
	"strings"

	"github.com/rekeyhq/rekey/internal/detect"
)

// Private keys outside PEM: WireGuard interface keys and BIP-32 extended
// private keys, each checked for the structure its specification gives.
func moreKeyRules() []*detect.Rule {
	wgKey := func(seed string) string { return base64.StdEncoding.EncodeToString(fakeBytes(seed, 32)) }
	return []*detect.Rule{
		{
			ID:          "wireguard-private-key",
			Provider:    "wireguard",
			Description: "WireGuard interface private key or peer preshared key (PrivateKey = / PresharedKey = base64 of 32 bytes) in a wg-quick configuration",
			Source:      "https://man7.org/linux/man-pages/man8/wg.8.html",
			Keywords:    []string{"privatekey", "presharedkey"},
			Regex:       re(`(?:^|[^\w])(?:PrivateKey|PresharedKey)[ \t]*=[ \t]*(?P<secret>[A-Za-z0-9+/]{43}=)`),
			Validate:    base64Bytes(32),
			MinEntropy:  4.0,
			Severity:    detect.Critical,
			Examples: []string{
				"[Interface]\nAddress = 10.8.0.2/24\nPrivateKey = " + wgKey("wg-1") + "\nListenPort = 51820\n",
				"[Peer]\nPublicKey = " + wgKey("wg-2") + "\nPresharedKey = " + wgKey("wg-3") + "\nAllowedIPs = 0.0.0.0/0\n",
			},
			NoMatch: []string{"PrivateKey = <output of wg genkey>", "PublicKey = " + wgKey("wg-4")},
		},
		{
			ID:          "nats-nkey-seed",
			Provider:    "nats",
			Description: "NATS NKey seed of a user, account or operator (SU/SA/SO + base32 of the Ed25519 seed with a CRC16 checksum)",
			Source:      "https://github.com/nats-io/nkeys",
			Keywords:    []string{"sua", "saa", "soa"},
			Regex:       re(`\b(?P<secret>S[UAO]A[A-Z2-7]{55})\b`),
			Validate:    func(v []byte) bool { return nkeySeed(v) && except(nkeyDocumentedSeed)(v) },
			Severity:    detect.Critical,
			Examples: []string{
				"-----BEGIN USER NKEY SEED-----\n" + fakeNkeySeed('U', "nkey-1") + "\n------END USER NKEY SEED------\n",
				"  nkey_seed: " + fakeNkeySeed('A', "nkey-2"),
			},
			NoMatch: []string{
				"seed: " + flipLast(fakeNkeySeed('U', "nkey-3")),
				"> cat user.seed\n" + nkeyDocumentedSeed,
				"nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4",
			},
		},
		{
			ID:          "bip32-extended-private-key",
			Provider:    "bitcoin",
			Description: "BIP-32 extended private key (xprv / tprv, Base58Check with its double-SHA-256 checksum): the root of a wallet's keys",
			Source:      "https://github.com/bitcoin/bips/blob/master/bip-0032.mediawiki",
			Keywords:    []string{"xprv", "tprv"},
			Regex:       re(`\b(?P<secret>[xt]prv[1-9A-HJ-NP-Za-km-z]{107,108})\b`),
			Validate:    func(v []byte) bool { return extendedPrivateKey(v) && except(bip32TestVector1)(v) },
			Severity:    detect.Critical,
			Examples: []string{
				"WALLET_XPRV=" + fakeXprv(bip32Mainnet, "xprv-1"),
				`{"network": "testnet", "root": "` + fakeXprv(bip32Testnet, "tprv-1") + `"}`,
			},
			NoMatch: []string{
				"root: " + flipLast(fakeXprv(bip32Mainnet, "xprv-2")),
				"Chain m: ext prv: " + bip32TestVector1,
				"xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8YtGqsefD265TMg7usUDFdp6W1EGMcet8",
			},
		},
	}
}

// base64Bytes accepts standard base64 that decodes to exactly n bytes.
func base64Bytes(n int) func([]byte) bool {
	return func(v []byte) bool {
		b, err := base64.StdEncoding.DecodeString(string(v))
		return err == nil && len(b) == n
	}
}

// nkeyDocumentedSeed is the sample user seed in the nk utility's README.
const nkeyDocumentedSeed = "SUAKYRHVIOREXV7EUZTBHUHL7NUMHPMAS7QMDU3GTIUWEI5LDNOXD43IZY"

// nkeyTypes are the base32 letters of the key types whose seeds the rule
// reports: user, account and operator. Server and cluster seeds (SN, SC)
// are left out: they rarely leave the servers, and their three-letter
// prefixes ("sna", "sca") are in every other word of ordinary text, which
// would make them poor prefilter keywords.
const nkeyTypes = "UAO"

var nkeyBase32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// nkeySeed checks the NKeys seed layout: base32 (no padding) of two prefix
// bytes (S, then the key type), the 32-byte seed and the CRC16 (XMODEM)
// of the first 34 bytes, little-endian.
func nkeySeed(v []byte) bool {
	raw, err := nkeyBase32.DecodeString(string(v))
	if err != nil || len(raw) != 36 || raw[0]>>3 != 18 {
		return false
	}
	kind := (raw[0]&7)<<5 | raw[1]>>3
	if kind&7 != 0 || !strings.ContainsRune(nkeyTypes, rune(base32Std[kind>>3])) {
		return false
	}
	return crc16(raw[:34]) == uint16(raw[34])|uint16(raw[35])<<8
}

// crc16 is CRC-16/XMODEM (polynomial 0x1021, initial value 0).
func crc16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// fakeNkeySeed encodes a made-up seed of the given key type.
func fakeNkeySeed(kind byte, seed string) string {
	t := byte(strings.IndexByte(base32Std, kind)) << 3
	raw := append([]byte{18<<3 | t>>5, (t & 31) << 3}, fakeBytes(seed, 32)...)
	sum := crc16(raw)
	return nkeyBase32.EncodeToString(append(raw, byte(sum), byte(sum>>8)))
}

// bip32TestVector1 is the master private key of BIP-32's first test
// vector, printed in the specification and in every library's tests.
const bip32TestVector1 = "xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi"

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// BIP-32 version bytes of extended private keys.
var (
	bip32Mainnet = []byte{0x04, 0x88, 0xAD, 0xE4}
	bip32Testnet = []byte{0x04, 0x35, 0x83, 0x94}
)

// extendedPrivateKey checks BIP-32 serialization: Base58Check of 78 bytes
// (version, depth, fingerprint, child number, chain code, 0x00 and the
// 32-byte key) whose last 4 bytes are the first 4 of SHA-256(SHA-256(data)).
func extendedPrivateKey(v []byte) bool {
	b, ok := base58Decode(string(v))
	if !ok || len(b) != 82 {
		return false
	}
	data, sum := b[:78], b[78:]
	h := sha256.Sum256(data)
	h = sha256.Sum256(h[:])
	if !bytes.Equal(h[:4], sum) {
		return false
	}
	version := data[:4]
	return (bytes.Equal(version, bip32Mainnet) || bytes.Equal(version, bip32Testnet)) && data[45] == 0
}

func base58Decode(s string) ([]byte, bool) {
	n := new(big.Int)
	for _, c := range []byte(s) {
		d := strings.IndexByte(base58Alphabet, c)
		if d < 0 {
			return nil, false
		}
		n.Mul(n, big.NewInt(58))
		n.Add(n, big.NewInt(int64(d)))
	}
	out := n.Bytes()
	for i := 0; i < len(s) && s[i] == '1'; i++ {
		out = append([]byte{0}, out...)
	}
	return out, true
}

func base58Encode(b []byte) string {
	n := new(big.Int).SetBytes(b)
	var out []byte
	mod := new(big.Int)
	for n.Sign() > 0 {
		n.DivMod(n, big.NewInt(58), mod)
		out = append([]byte{base58Alphabet[mod.Int64()]}, out...)
	}
	for i := 0; i < len(b) && b[i] == 0; i++ {
		out = append([]byte{'1'}, out...)
	}
	return string(out)
}

// fakeXprv serializes a made-up master key with the given version bytes.
func fakeXprv(version []byte, seed string) string {
	data := append([]byte{}, version...)
	data = append(data, 0, 0, 0, 0, 0, 0, 0, 0, 0) // depth, parent fingerprint, child number
	data = append(data, fakeBytes(seed+"-chain", 32)...)
	data = append(data, 0)
	data = append(data, fakeBytes(seed+"-key", 32)...)
	h := sha256.Sum256(data)
	h = sha256.Sum256(h[:])
	return base58Encode(append(data, h[:4]...))
}
