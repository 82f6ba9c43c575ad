package remote

import (
	"errors"
	"fmt"
	"io"

	"github.com/productgalaxy/sops-deploy-action/internal/secret"
)

// ErrTooLarge says a file on the host is larger than the caller's bound.
var ErrTooLarge = errors.New("larger than the bound")

// ReadFile reads the file at p on the host, at most max bytes, into
// memory: for comparing the version a deploy replaced (kept as the
// backup) with the new one. Nothing of it is ever printed. With size ≥ 0
// (the size the file is known to have) it costs two round trips: the
// OPEN, then every READ at once; the handle is left to the end of the
// session, which closes it. With size < 0 it reads to the end and closes.
func (c *Conn) ReadFile(p string, size, max int64) (secret.Bytes, error) {
	if size > max {
		return secret.Bytes{}, fmt.Errorf("%q: %w of %d bytes", p, ErrTooLarge, max)
	}
	var b []byte
	err := c.op(func() error {
		f, err := c.sftp.Open(p)
		if err != nil {
			return err
		}
		if size >= 0 {
			b = make([]byte, size)
			n, err := f.ReadAt(b, 0)
			b = b[:n]
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return err
		}
		defer f.Close()
		b, err = io.ReadAll(io.LimitReader(f, max+1))
		return err
	})
	if err != nil {
		return secret.Bytes{}, &InstallError{Step: "read", Path: p, Err: err}
	}
	if int64(len(b)) > max {
		return secret.Bytes{}, fmt.Errorf("%q: %w of %d bytes", p, ErrTooLarge, max)
	}
	return secret.NewBytes(b), nil
}
