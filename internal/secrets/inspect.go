package secrets

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"filippo.io/age"
	sopsage "github.com/getsops/sops/v3/age"
	sops "github.com/productgalaxy/sops-deploy-action/internal/xsops"
	"github.com/productgalaxy/sops-deploy-action/internal/xsops/config"
	sopsdotenv "github.com/productgalaxy/sops-deploy-action/internal/xsops/stores/dotenv"
	sopsjson "github.com/productgalaxy/sops-deploy-action/internal/xsops/stores/json"
)

// Format is the sops store a file is read with, as sops picks it from the
// file name's extension.
type Format int

// The formats Inspect reads. Decrypt reads YAML only.
const (
	FormatYAML   Format = iota // .yaml, .yml: this package's loader, held equal to sops' YAML store
	FormatJSON                 // .json: sops' JSON store
	FormatDotenv               // .env: sops' dotenv store
)

// Inspection is what a sops file says about itself, read without any key.
// Every field is public: key paths, recipients and dates, never a value.
type Inspection struct {
	Recipients   []string // age recipients, in file order
	LastModified time.Time
	HasMAC       bool
	Keys         []KeyInfo // every value, in file order
}

// KeyInfo is one value's key path and whether the file's own sops rules
// encrypt it.
type KeyInfo struct {
	Path      string
	Encrypted bool
}

// Inspect runs every check Decrypt runs before it needs a key: the bounds,
// the shape, the sops metadata, age recipients that are real public keys,
// and values in plaintext where the file's own rules (sops' rule walk, not a
// re-implementation) say they are encrypted. It returns the same typed
// errors as Decrypt; a file with no sops metadata gives a *FileError that
// wraps ErrNotEncrypted. It never decrypts and never prints.
func Inspect(data []byte, f Format) (*Inspection, error) {
	quietSops()
	p, err := prepare(data, f)
	if err != nil {
		return nil, err
	}
	md := p.tree.Metadata
	out := &Inspection{Recipients: p.recipients, LastModified: md.LastModified, HasMAC: md.MessageAuthenticationCode != ""}
	i := 0
	walkLeaves(p.tree.Branches[0], func(path string, _ any) {
		out.Keys = append(out.Keys, KeyInfo{Path: path, Encrypted: p.wouldDecrypt[i]})
		i++
	})
	return out, nil
}

// prepared is a file checked up to the point where a key is needed.
type prepared struct {
	tree         sops.Tree
	ageKeys      []*sopsage.MasterKey
	recipients   []string
	wouldDecrypt []bool
}

// prepare loads the sops tree and runs the checks that need no key.
func prepare(data []byte, f Format) (*prepared, error) {
	tree, err := loadFormat(data, f)
	if err != nil {
		return nil, err
	}
	ageKeys, err := ageMasterKeys(tree.Metadata)
	if err != nil {
		return nil, err
	}
	p := &prepared{tree: tree, ageKeys: ageKeys}
	for _, k := range ageKeys {
		// The recipient strings are not covered by the MAC and are printed:
		// accept only real age public keys.
		if !IsAgeRecipient(k.Recipient) {
			return nil, &FileError{Problem: "lists an age recipient that is not an age public key: its sops: age block was edited",
				Fix: "restore the file from git, or re-encrypt it with sops"}
		}
		p.recipients = append(p.recipients, k.Recipient)
	}
	if p.wouldDecrypt, err = classify(tree); err != nil {
		return nil, err
	}
	if err := checkPlaintext(tree, p.wouldDecrypt); err != nil {
		return nil, err
	}
	return p, nil
}

// IsAgeRecipient reports whether s is a native age public key (X25519
// age1… or post-quantum hybrid), the only recipients this action decrypts.
func IsAgeRecipient(s string) bool {
	if _, err := age.ParseX25519Recipient(s); err == nil {
		return true
	}
	_, err := age.ParseHybridRecipient(s)
	return err == nil
}

// loadFormat parses the file into a sops tree with its metadata. The text
// of a parser's error is never passed on: it may quote parts of the file.
func loadFormat(data []byte, f Format) (sops.Tree, error) {
	if f == FormatYAML {
		doc, err := checkShape(data)
		if err != nil {
			return sops.Tree{}, err
		}
		tree, err := loadTree(doc)
		return tree, metadataError(err)
	}
	if len(data) > MaxFileSize {
		return sops.Tree{}, &FileError{Problem: fmt.Sprintf("is %d bytes, larger than the %d-byte limit", len(data), MaxFileSize)}
	}
	if !utf8.Valid(data) {
		return sops.Tree{}, &FileError{Problem: "is not UTF-8 text (is it a binary file?)"}
	}
	var tree sops.Tree
	var err error
	switch f {
	case FormatJSON:
		tree, err = sopsjson.NewStore(&config.JSONStoreConfig{}).LoadEncryptedFile(data)
	case FormatDotenv:
		tree, err = sopsdotenv.NewStore(&config.DotenvStoreConfig{}).LoadEncryptedFile(data)
	default:
		return sops.Tree{}, &UnsupportedError{Problem: "is in a format this action does not read"}
	}
	if err != nil && !errors.Is(err, sops.MetadataNotFound) && !isMetadataErr(data, f) {
		return sops.Tree{}, &FileError{Problem: map[Format]string{FormatJSON: "is not valid JSON", FormatDotenv: "is not a valid .env file (each line is KEY=value or a # comment)"}[f],
			Fix: "sops-encrypted files are written by sops encrypt"}
	}
	if err == nil && len(tree.Branches) == 0 {
		return sops.Tree{}, &FileError{Problem: "is empty", Fix: "commit the sops-encrypted file"}
	}
	return tree, metadataError(err)
}

// isMetadataErr reports whether a store's load error comes from the sops
// metadata rather than from the syntax: the plain parse succeeds.
func isMetadataErr(data []byte, f Format) bool {
	var err error
	switch f {
	case FormatJSON:
		_, err = sopsjson.NewStore(&config.JSONStoreConfig{}).LoadPlainFile(data)
	case FormatDotenv:
		_, err = sopsdotenv.NewStore(&config.DotenvStoreConfig{}).LoadPlainFile(data)
	}
	return err == nil
}

// metadataError turns a tree loader's error into this package's wording.
func metadataError(err error) error {
	var fe *FileError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe):
		return err
	case errors.Is(err, sops.MetadataNotFound):
		return errNotEncrypted()
	}
	// The text of err is not passed on: it may quote parts of the file.
	return &FileError{Problem: "has a sops metadata block that sops cannot read",
		Fix: "re-encrypt the file with sops encrypt, or restore the sops: block from git"}
}

// Rules are sops' choices of which values to encrypt, as a creation rule of
// .sops.yaml states them. Empty fields are unset.
type Rules struct {
	UnencryptedSuffix, EncryptedSuffix             string
	UnencryptedRegex, EncryptedRegex               string
	UnencryptedCommentRegex, EncryptedCommentRegex string
}

// EncryptedUnder reports, for each value of the file in Inspect's order,
// whether sops would encrypt it under rules instead of the file's own: the
// same rule walk, with the rules sops applies when it creates a file (the
// _unencrypted suffix when no rule is set). It reads key names only.
func EncryptedUnder(data []byte, f Format, rules Rules) ([]KeyInfo, error) {
	quietSops()
	tree, err := loadFormat(data, f)
	if err != nil {
		return nil, err
	}
	if rules == (Rules{}) {
		rules.UnencryptedSuffix = sops.DefaultUnencryptedSuffix
	}
	md := &tree.Metadata
	md.UnencryptedSuffix, md.EncryptedSuffix = rules.UnencryptedSuffix, rules.EncryptedSuffix
	md.UnencryptedRegex, md.EncryptedRegex = rules.UnencryptedRegex, rules.EncryptedRegex
	md.UnencryptedCommentRegex, md.EncryptedCommentRegex = rules.UnencryptedCommentRegex, rules.EncryptedCommentRegex
	would, err := classify(tree)
	if err != nil {
		return nil, err
	}
	var out []KeyInfo
	walkLeaves(tree.Branches[0], func(path string, _ any) {
		out = append(out, KeyInfo{Path: path, Encrypted: would[len(out)]})
	})
	return out, nil
}
