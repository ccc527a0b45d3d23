package otp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
)

// keys are derived from the server secret, one per purpose, so the MAC
// key never doubles as the encryption key.
type keys struct {
	mac  []byte
	aead cipher.AEAD
}

// MinSecretLen is the shortest accepted server secret, in bytes.
const MinSecretLen = 32

// ErrWeakSecret reports a server secret shorter than MinSecretLen.
var ErrWeakSecret = errors.New("otp: the server secret must be at least 32 bytes")

func deriveKeys(secret []byte) (keys, error) {
	if len(secret) < MinSecretLen {
		return keys{}, ErrWeakSecret
	}
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte("atlas otp " + label))
		return m.Sum(nil)
	}
	block, err := aes.NewCipher(derive("seal"))
	if err != nil {
		return keys{}, fmt.Errorf("otp keys: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return keys{}, fmt.Errorf("otp keys: %w", err)
	}
	return keys{mac: derive("mac"), aead: aead}, nil
}

// newCode returns a uniformly random 6-digit code from crypto/rand.
func newCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("otp code: %w", err)
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// newChallengeID returns 32 lower-case hex digits (128 random bits).
func newChallengeID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("otp challenge id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// hash is the stored verifier of a code: HMAC-SHA256 over the challenge id
// and the code, so equal codes of two challenges hash differently.
func (k keys) hash(challengeID, code string) []byte {
	m := hmac.New(sha256.New, k.mac)
	m.Write([]byte(challengeID + ":" + code))
	return m.Sum(nil)
}

// matches compares a typed code with the stored hash in constant time.
func (k keys) matches(challengeID, code string, stored []byte) bool {
	return hmac.Equal(k.hash(challengeID, code), stored)
}

// seal encrypts code for the send-otp job (AES-256-GCM, random nonce, the
// challenge id as associated data, so a box cannot be moved to another
// challenge).
func (k keys) seal(challengeID, code string) ([]byte, error) {
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("otp seal: %w", err)
	}
	return k.aead.Seal(nonce, nonce, []byte(code), []byte(challengeID)), nil
}

// open decrypts a sealed code.
func (k keys) open(challengeID string, box []byte) (string, error) {
	n := k.aead.NonceSize()
	if len(box) < n {
		return "", errors.New("otp: sealed code too short")
	}
	code, err := k.aead.Open(nil, box[:n], box[n:], []byte(challengeID))
	if err != nil {
		return "", fmt.Errorf("otp: open sealed code: %w", err)
	}
	return string(code), nil
}
