package action

import (
	"encoding/json"
	"errors"
	"io/fs"

	"github.com/productgalaxy/sops-deploy-action/internal/remote"
	"github.com/productgalaxy/sops-deploy-action/internal/report"
	"github.com/productgalaxy/sops-deploy-action/internal/secrets"
)

// changedKeys names the keys a deploy added, removed and changed on a
// host, comparing in memory the version it replaced with the new one. The
// install reads that version in its own round trips; a retry that found
// the new version already in place reads the backup instead. Names only:
// no value, and no digest of one, leaves memory. When the replaced
// version is not at hand (a retry with backup: false, a version too large
// or not a secrets document) the result says it is unknown.
func (d *hostDeployer) changedKeys(conn *remote.Conn, inst *remote.Installed, changed bool) *report.KeyChanges {
	var prev secrets.Bytes
	var err error
	switch {
	case !changed:
		return &report.KeyChanges{}
	case inst.HasPrevious:
		prev = inst.Previous
	case inst.Changed && inst.Replaced < 0:
		// This attempt installed over nothing.
		err = fs.ErrNotExist
	case inst.Changed && inst.Replaced > secrets.MaxFileSize:
		return &report.KeyChanges{Unknown: "the replaced version is too large to compare with"}
	case !d.cfg.Backup || inst.Backup == "":
		return &report.KeyChanges{Unknown: "the replaced version was not read during the install, and backup is off, so it was not kept to compare with"}
	default:
		prev, err = conn.ReadFile(inst.Backup, inst.Replaced, secrets.MaxFileSize)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// No replaced version means nothing was there before: every key
		// is new.
		kc := &report.KeyChanges{}
		for _, l := range d.leaves {
			kc.Added = append(kc.Added, l.Path)
		}
		return kc
	case err != nil:
		return &report.KeyChanges{Unknown: "the replaced version could not be read back"}
	}
	old, err := secrets.PlainLeaves(prev.Reveal())
	if err != nil {
		return &report.KeyChanges{Unknown: "the replaced version is not a secrets document"}
	}
	kc := &report.KeyChanges{}
	kc.Added, kc.Removed, kc.Changed = diffKeys(old, d.leaves)
	return kc
}

// changedKeysJSON renders the changed_keys output: for each host whose
// changes are known, the key names added, removed and changed.
func changedKeysJSON(hosts []report.Host) string {
	type entry struct {
		Added   []string `json:"added"`
		Removed []string `json:"removed"`
		Changed []string `json:"changed"`
	}
	out := map[string]entry{}
	for _, h := range hosts {
		if h.Keys == nil || h.Keys.Unknown != "" {
			continue
		}
		out[h.Label] = entry{nonNil(h.Keys.Added), nonNil(h.Keys.Removed), nonNil(h.Keys.Changed)}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}
