package remote

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// The SFTP session's first round trip is INIT → VERSION, and pkg/sftp
// waits for VERSION before it sends anything else. OpenSSH's sftp-server
// handles requests in order, INIT first, so nothing is gained by waiting:
// earlyVersion hands pkg/sftp a VERSION at once (claiming the extensions
// this action uses, which pkg/sftp only records) so that the first flight
// follows INIT on the wire, and reads the server's real VERSION off the
// stream before pkg/sftp reads the answers behind it. What the server
// offers is then taken from the real one (Conn.hasExtension), which has
// arrived by the time the first flight is answered.

const (
	fxpInit    = 1
	fxpVersion = 2
	// maxVersionPacket bounds the real VERSION packet: a few extension
	// names and their data.
	maxVersionPacket = 64 << 10
)

// claimedExtensions are those the early VERSION names (pkg/sftp checks
// fsync's data, "1", before it sends an FSYNC).
var claimedExtensions = [][2]string{
	{"posix-rename@openssh.com", "1"},
	{"hardlink@openssh.com", "1"},
	{"fsync@openssh.com", "1"},
}

// earlyVersion is the reader pkg/sftp reads the server's stream through.
type earlyVersion struct {
	r       io.Reader
	pending []byte // what pkg/sftp is still to read before r: the early VERSION

	once sync.Once
	done chan struct{} // closed once the real VERSION was read (or failed)
	ext  map[string]string
	err  error
}

func newEarlyVersion(r io.Reader) *earlyVersion {
	return &earlyVersion{r: r, pending: versionPacket(claimedExtensions), done: make(chan struct{})}
}

func versionPacket(exts [][2]string) []byte {
	body := []byte{fxpVersion, 0, 0, 0, 3}
	for _, e := range exts {
		body = binary.BigEndian.AppendUint32(body, uint32(len(e[0])))
		body = append(body, e[0]...)
		body = binary.BigEndian.AppendUint32(body, uint32(len(e[1])))
		body = append(body, e[1]...)
	}
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

func (v *earlyVersion) Read(p []byte) (int, error) {
	if len(v.pending) > 0 {
		n := copy(p, v.pending)
		v.pending = v.pending[n:]
		return n, nil
	}
	v.once.Do(v.readReal)
	if v.err != nil {
		return 0, v.err
	}
	return v.r.Read(p)
}

// readReal reads the server's VERSION packet.
func (v *earlyVersion) readReal() {
	defer close(v.done)
	var hdr [4]byte
	if _, err := io.ReadFull(v.r, hdr[:]); err != nil {
		v.err = fmt.Errorf("the session ended before the SFTP server's VERSION (the command that Subsystem sftp or a ForceCommand runs exited): %w", err)
		return
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < 5 || n > maxVersionPacket {
		v.err = fmt.Errorf("the SFTP server's first packet has length %d, not a VERSION (does the login print text before sftp-server starts?)", n)
		return
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(v.r, body); err != nil {
		v.err = fmt.Errorf("the SFTP server's VERSION was cut: %w", err)
		return
	}
	if body[0] != fxpVersion {
		v.err = fmt.Errorf("the SFTP server answered INIT with packet type %d, not VERSION", body[0])
		return
	}
	if ver := binary.BigEndian.Uint32(body[1:5]); ver != 3 {
		v.err = fmt.Errorf("the SFTP server speaks version %d; this action speaks version 3", ver)
		return
	}
	ext, err := parseExtensions(body[5:])
	v.ext, v.err = ext, err
}

func parseExtensions(b []byte) (map[string]string, error) {
	ext := map[string]string{}
	next := func() (string, bool) {
		if len(b) < 4 {
			return "", false
		}
		n := binary.BigEndian.Uint32(b)
		if uint64(n) > uint64(len(b)-4) {
			return "", false
		}
		s := string(b[4 : 4+n])
		b = b[4+n:]
		return s, true
	}
	for len(b) > 0 {
		name, ok1 := next()
		data, ok2 := next()
		if !ok1 || !ok2 {
			return nil, errors.New("the SFTP server's VERSION is malformed")
		}
		ext[name] = data
	}
	return ext, nil
}

// real waits for the server's VERSION (pkg/sftp's reader reads it before
// any answer) and returns what it offers.
func (v *earlyVersion) real() (map[string]string, error) {
	<-v.done
	return v.ext, v.err
}
