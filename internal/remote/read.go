package remote

import (
	"errors"
	"fmt"
	"io"

	"github.com/productgalaxy/sops-deploy-action/internal/secrets"
)

// ErrTooLarge says a file on the host is larger than the caller's bound.
var ErrTooLarge = errors.New("larger than the bound")

// ReadFile reads the file at p on the host, at most max bytes, into
// memory: for comparing the version a deploy replaced (kept as the
// backup) with the new one. Nothing of it is ever printed.
func (c *Conn) ReadFile(p string, max int64) (secrets.Bytes, error) {
	var b []byte
	err := c.op(func() error {
		f, err := c.sftp.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		b, err = io.ReadAll(io.LimitReader(f, max+1))
		return err
	})
	if err != nil {
		return secrets.Bytes{}, &InstallError{Step: "read", Path: p, Err: err}
	}
	if int64(len(b)) > max {
		return secrets.Bytes{}, fmt.Errorf("%q: %w of %d bytes", p, ErrTooLarge, max)
	}
	return secrets.NewBytes(b), nil
}
