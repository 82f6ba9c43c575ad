package secrets

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/logging"
	sops "github.com/productgalaxy/sops-deploy-action/internal/xsops"
	"github.com/productgalaxy/sops-deploy-action/internal/xsops/aes"
	"github.com/productgalaxy/sops-deploy-action/internal/xsops/config"
	"github.com/productgalaxy/sops-deploy-action/internal/xsops/stores"
	sopsyaml "github.com/productgalaxy/sops-deploy-action/internal/xsops/stores/yaml"
	"go.yaml.in/yaml/v3"
)

// Bounds on the encrypted file. They keep a hostile or broken file from
// costing unbounded time or memory before anything else is checked.
const (
	// MaxFileSize is far above a realistic secrets file (10,000 keys with
	// their sops envelopes take about 3 MiB) and far below what would strain
	// the runner.
	MaxFileSize = 16 << 20
	// maxDepth bounds mapping and list nesting; a Compose secrets file is
	// flat or nearly so.
	maxDepth = 32
	// maxNodes bounds the number of YAML nodes (keys, values, list items).
	maxNodes = 500_000
)

// Result is a decrypted file.
type Result struct {
	// Plaintext is the file exactly as `sops decrypt` prints it.
	Plaintext Bytes
	// Leaves lists every value in file order.
	Leaves []Leaf
	// Recipients lists the file's age recipients (public keys).
	Recipients []string
	// LastModified is the sops lastmodified timestamp.
	LastModified time.Time
}

// Unencrypted returns the key paths the file's own rules leave in plaintext.
func (r *Result) Unencrypted() []string {
	var out []string
	for _, l := range r.Leaves {
		if !l.Encrypted && l.Type != "null" {
			out = append(out, l.Path)
		}
	}
	return out
}

var quietOnce sync.Once

// quietSops silences sops' package loggers: some of them log values (for
// example an undecryptable comment) and none of them should reach the
// workflow log.
func quietSops() {
	quietOnce.Do(func() {
		for _, l := range logging.Loggers {
			l.SetOutput(io.Discard)
		}
	})
}

// Decrypt checks and decrypts a sops YAML file in memory with the given
// identities only: it never consults the environment, HOME, or runs any
// command. The file is refused, before any key is used, when its shape is
// wrong or when values that should be encrypted are in plaintext.
func Decrypt(encrypted []byte, ids Identities) (*Result, error) {
	quietSops()
	p, err := prepare(encrypted, FormatYAML)
	if err != nil {
		return nil, err
	}
	tree, ageKeys, wouldDecrypt := p.tree, p.ageKeys, p.wouldDecrypt
	res := &Result{LastModified: tree.Metadata.LastModified, Recipients: p.recipients}

	dataKey, err := dataKey(ageKeys, ids, res.Recipients)
	if err != nil {
		return nil, err
	}
	cipher := &recordingCipher{inner: aes.NewCipher(), comments: commentSet(tree.Branches[0])}
	mac, err := tree.Decrypt(dataKey, cipher)
	if err != nil {
		// The text of err is not passed on: sops' errors can quote values.
		if cipher.failed != "" {
			return nil, &IntegrityError{Key: cipher.failed, Problem: "does not decrypt: the ENC[…] value was edited, or moved from another key"}
		}
		return nil, &IntegrityError{Problem: "a value does not decrypt: the file was edited after sops encrypted it"}
	}
	if err := verifyMAC(tree.Metadata, dataKey, mac); err != nil {
		return nil, err
	}
	plain, err := sopsyaml.NewStore(&config.YAMLStoreConfig{}).EmitPlainFile(tree.Branches)
	if err != nil {
		return nil, &FileError{Problem: "could not be rendered as YAML after decryption"}
	}
	res.Plaintext = NewBytes(plain)

	walkLeaves(tree.Branches[0], func(path string, v any) {
		typ, text := leafText(v)
		res.Leaves = append(res.Leaves, Leaf{Path: path, Value: NewString(text), Type: typ})
	})
	if len(res.Leaves) != len(wouldDecrypt) {
		return nil, &FileError{Problem: "has a structure sops cannot walk consistently", Fix: "re-encrypt the file with sops encrypt"}
	}
	for i := range res.Leaves {
		res.Leaves[i].Encrypted = wouldDecrypt[i]
	}
	return res, nil
}

func errNotEncrypted() error {
	return &FileError{cause: ErrNotEncrypted, Problem: "has no sops metadata block: it is not a sops-encrypted file",
		Fix: "encrypt it with `sops encrypt --in-place <file>`; if it was ever committed with real values, they are in git history: rotate them"}
}

var lineRE = regexp.MustCompile(`line (\d+)`)

// loadTree builds the sops tree (values and metadata) from the document.
func loadTree(doc *yaml.Node) (sops.Tree, error) {
	branch, err := loadBranch(doc)
	if err != nil {
		return sops.Tree{}, err
	}
	branches, md, err := stores.ExtractMetadata(sops.TreeBranches{branch}, stores.MetadataOpts{Flatten: stores.MetadataFlattenNone})
	if err != nil {
		return sops.Tree{}, err
	}
	return sops.Tree{Branches: branches, Metadata: md}, nil
}

// parseShape parses the file as YAML nodes and enforces the bounds and the
// structure before sops sees it, and returns the document. Its errors quote
// nothing from the file.
func parseShape(data []byte) (*yaml.Node, error) {
	if err := checkBytes(data); err != nil {
		return nil, err
	}
	doc, err := decodeOne(data)
	if err != nil {
		return nil, err
	}
	if err := checkTop(doc); err != nil {
		return nil, err
	}
	if err := checkNodes(doc.Content[0]); err != nil {
		return nil, err
	}
	return doc, nil
}

// checkBytes bounds the file's size and requires UTF-8 text.
func checkBytes(data []byte) error {
	switch {
	case len(data) > MaxFileSize:
		return &FileError{Problem: fmt.Sprintf("is %d bytes, larger than the %d-byte limit", len(data), MaxFileSize),
			Fix: "a secrets file this large is not a Compose secrets file; check the file input"}
	case len(bytes.TrimSpace(data)) == 0:
		return &FileError{Problem: "is empty", Fix: "commit the sops-encrypted file, or fix the file input"}
	case !utf8.Valid(data):
		return &FileError{Problem: "is not UTF-8 text (is it a binary file?)", Fix: "the file must be a sops-encrypted YAML file"}
	}
	return nil
}

// decodeOne decodes the file's one YAML document. A syntax error names
// its line only: the YAML library's message can quote the file.
func decodeOne(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if err == io.EOF {
			break
		}
		if err != nil {
			fe := &FileError{Problem: "is not valid YAML", Fix: "check indentation and quoting near that line; sops-encrypted files are written by sops encrypt"}
			if m := lineRE.FindStringSubmatch(err.Error()); m != nil {
				fe.Line, _ = strconv.Atoi(m[1])
			}
			return nil, fe
		}
		docs = append(docs, &n)
	}
	if len(docs) != 1 {
		return nil, &FileError{Problem: fmt.Sprintf("holds %d YAML documents; one is expected", len(docs)),
			Fix: "keep one document (no --- separators) in the secrets file"}
	}
	return docs[0], nil
}

// checkTop requires a mapping of key names at the top level.
func checkTop(doc *yaml.Node) error {
	if len(doc.Content) == 0 || (doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].ShortTag() == "!!null") {
		return &FileError{Problem: "is empty", Fix: "commit the sops-encrypted file, or fix the file input"}
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		kind := "a single value"
		if top.Kind == yaml.SequenceNode {
			kind = "a list"
		}
		return &FileError{Line: top.Line, Problem: fmt.Sprintf("has %s at the top level, not a mapping of secret names to values", kind),
			Fix: "the installed file is read by key name (database_url: …); put the values under key names"}
	}
	return nil
}

// checkNodes bounds the node count and the depth under top, and refuses
// anchors and aliases.
func checkNodes(top *yaml.Node) error {
	nodes := 0
	var walk func(n *yaml.Node, depth int) error
	walk = func(n *yaml.Node, depth int) error {
		nodes++
		if nodes > maxNodes {
			return &FileError{Line: n.Line, Problem: fmt.Sprintf("has more than %d YAML nodes", maxNodes), Fix: "split the file or remove unused keys"}
		}
		if depth > maxDepth {
			return &FileError{Line: n.Line, Problem: fmt.Sprintf("nests values deeper than %d levels", maxDepth), Fix: "flatten the secrets file"}
		}
		if n.Kind == yaml.AliasNode || n.Anchor != "" {
			return &FileError{Line: n.Line, Problem: "uses YAML anchors or aliases, which sops never writes",
				Fix: "re-encrypt the file with sops encrypt from a plaintext without anchors"}
		}
		for _, c := range n.Content {
			if err := walk(c, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(top, 1)
}

// checkShape is parseShape, and refuses a document without a sops block.
func checkShape(data []byte) (*yaml.Node, error) {
	doc, err := parseShape(data)
	if err != nil {
		return nil, err
	}
	top := doc.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "sops" {
			return doc, nil
		}
	}
	return nil, errNotEncrypted()
}

// ageMasterKeys returns the file's age master keys, refusing what this
// action does not decrypt.
func ageMasterKeys(md sops.Metadata) ([]*sopsage.MasterKey, error) {
	if len(md.KeyGroups) != 1 {
		return nil, &UnsupportedError{Problem: fmt.Sprintf("uses %d sops key groups (Shamir secret sharing), which this action does not support", len(md.KeyGroups)),
			Fix: "encrypt the file to plain age recipients, without key_groups or shamir_threshold"}
	}
	var out []*sopsage.MasterKey
	var other []string
	for _, k := range md.KeyGroups[0] {
		if a, ok := k.(*sopsage.MasterKey); ok {
			out = append(out, a)
		} else {
			other = append(other, k.TypeToIdentifier())
		}
	}
	if len(out) == 0 {
		return nil, &UnsupportedError{Problem: fmt.Sprintf("has no age recipient (it is encrypted to %s only)", strings.Join(other, ", ")),
			Fix: "add the environment's age recipient to .sops.yaml and run sops updatekeys on the file"}
	}
	return out, nil
}

// dataKey unwraps the sops data key with the user's identities only. The
// identities are applied to the tree's own master keys, so sops never falls
// back to SOPS_AGE_KEY*, HOME or SOPS_AGE_KEY_CMD.
func dataKey(keys []*sopsage.MasterKey, ids Identities, fileRecipients []string) ([]byte, error) {
	parsed := sopsage.ParsedIdentities(ids.ids)
	mine := make(map[string]bool, len(ids.Recipients))
	for _, r := range ids.Recipients {
		mine[r] = true
	}
	// Try the master keys whose recipient we hold first; the others can
	// only fail.
	var matching []*sopsage.MasterKey
	for _, k := range keys {
		if mine[k.Recipient] {
			matching = append(matching, k)
		}
	}
	if len(matching) == 0 {
		return nil, &NoMatchingKeyError{FileRecipients: fileRecipients, KeyRecipients: ids.Recipients}
	}
	for _, k := range matching {
		parsed.ApplyToMasterKey(k)
		if dk, err := k.Decrypt(); err == nil && len(dk) == 32 {
			return dk, nil
		}
	}
	return nil, &IntegrityError{Problem: fmt.Sprintf("the sops data key wrapped for %s does not decrypt with the matching age key: the sops: age block was edited", matching[0].Recipient)}
}

func verifyMAC(md sops.Metadata, dataKey []byte, computed string) error {
	if md.MessageAuthenticationCode == "" {
		return &IntegrityError{Problem: "has no MAC in its sops block, so its integrity cannot be checked"}
	}
	stored, err := aes.NewCipher().Decrypt(md.MessageAuthenticationCode, dataKey, md.LastModified.Format(time.RFC3339))
	if err != nil {
		return &IntegrityError{Problem: "has a MAC that does not decrypt: the mac or lastmodified field of the sops block was edited"}
	}
	s, ok := stored.(string)
	if !ok || subtle.ConstantTimeCompare([]byte(s), []byte(computed)) != 1 {
		return &IntegrityError{Problem: "does not match its MAC: values were changed, added, removed or reordered after sops encrypted the file"}
	}
	return nil
}

// recordingCipher wraps the sops AES cipher, remembers which key failed to
// decrypt, and hides the inner error (it can quote the value).
type recordingCipher struct {
	inner    sops.Cipher
	comments map[string]bool
	failed   string
}

var errValue = errors.New("value does not decrypt")

func (c *recordingCipher) Encrypt(any, []byte, string) (string, error) {
	return "", errors.New("encryption is not used")
}

func (c *recordingCipher) Decrypt(ct string, key []byte, ad string) (any, error) {
	v, err := c.inner.Decrypt(ct, key, ad)
	if err != nil {
		if c.comments[ct] {
			return nil, errValue // sops keeps an undecryptable comment as is
		}
		c.failed = pathFromAD(ad)
		return nil, errValue
	}
	return v, nil
}

// pathFromAD turns sops' additional data ("db:password:") into a key path.
func pathFromAD(ad string) string {
	return strings.ReplaceAll(strings.TrimSuffix(ad, ":"), ":", ".")
}

func leafText(v any) (typ, text string) {
	switch v := v.(type) {
	case string:
		return "str", v
	case int:
		return "int", strconv.Itoa(v)
	case float64:
		return "float", strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return "bool", strconv.FormatBool(v)
	case time.Time:
		return "time", v.Format(time.RFC3339Nano)
	case []byte:
		return "bytes", string(v)
	case nil:
		return "null", ""
	}
	return fmt.Sprintf("%T", v), ""
}
