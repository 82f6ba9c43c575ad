// Package remote connects to a host over SSH with its host key checked and
// installs a file there atomically over SFTP. It never prints.
package remote

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/productgalaxy/sops-deploy-action/internal/secret"
	ssh "github.com/productgalaxy/sops-deploy-action/internal/xssh"
)

// KeyError reports a problem with the ssh_key input without quoting it.
type KeyError struct {
	Problem string
	Fix     string // how to fix it
}

func (e *KeyError) Error() string { return "input ssh_key: " + e.Problem }

// Hint says how to fix it.
func (e *KeyError) Hint() string { return e.Fix }

// ParseSigner parses the ssh_key input, after undoing what copy-paste does
// to keys (BOM, CRLF, surrounding blank lines), and diagnoses the common
// ways a pasted key is broken.
func ParseSigner(key, passphrase secret.String) (ssh.Signer, error) {
	text := secret.NormalizeKeyText(key.Reveal())
	switch {
	case strings.HasPrefix(text, "ssh-") || strings.HasPrefix(text, "ecdsa-sha2-") || strings.HasPrefix(text, "sk-"):
		return nil, &KeyError{"is a public key, not a private key", "pass the private key file (id_ed25519, not id_ed25519.pub)"}
	case strings.HasPrefix(text, "AGE-SECRET-KEY-") || strings.HasPrefix(text, "#") && strings.Contains(text, "\nAGE-SECRET-KEY-"):
		// The latter is an age-keygen file, which starts with # comments.
		return nil, &KeyError{"is an age key, not an SSH private key", "age keys go in age_key; ssh_key takes an OpenSSH private key"}
	case strings.HasPrefix(text, "PuTTY-User-Key-File"):
		return nil, &KeyError{"is a PuTTY key", "convert it with `puttygen key.ppk -O private-openssh -o id_key`"}
	case !strings.HasPrefix(text, "-----BEGIN "):
		return nil, &KeyError{"does not start with a -----BEGIN … PRIVATE KEY----- line", "pass the whole private key file, including its BEGIN and END lines"}
	case !strings.Contains(text, "\n"):
		return nil, &KeyError{"is on a single line: its line breaks were lost (often replaced by spaces)", "store the key file as is, e.g. `gh secret set DEPLOY_SSH_KEY < id_ed25519`"}
	case !strings.Contains(text, "-----END "):
		return nil, &KeyError{"has no -----END … PRIVATE KEY----- line: it was cut short", "paste the whole key file again"}
	}
	pem := []byte(text + "\n")
	signer, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if passphrase.Len() == 0 {
			return nil, &KeyError{"is encrypted with a passphrase", "set ssh_key_passphrase, or use a deploy key without a passphrase"}
		}
		signer, err = ssh.ParsePrivateKeyWithPassphrase(pem, []byte(passphrase.Reveal()))
		if errors.Is(err, x509.IncorrectPasswordError) {
			return nil, &KeyError{"could not be decrypted with ssh_key_passphrase", "check the passphrase secret"}
		}
	}
	if err != nil {
		// err is not passed on: key parsers may quote the input.
		return nil, &KeyError{"is not a private key x/crypto/ssh can read (OpenSSH, PKCS#1, PKCS#8 or SEC1 PEM)", "export it with `ssh-keygen -p -f key` to the OpenSSH format"}
	}
	return signer, nil
}

// ClientKeyDescription names a signer by type and fingerprint, both public.
func ClientKeyDescription(s ssh.Signer) string {
	return fmt.Sprintf("%s %s", s.PublicKey().Type(), ssh.FingerprintSHA256(s.PublicKey()))
}
