package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const sshdPath = "/usr/sbin/sshd"

// server is one sshd on its own loopback address. When isolated, it runs
// in a mount namespace where its own directory (dir) is mounted at the
// shared path remoteRoot, as ten real hosts each have their own disk, and
// (unless -real-home) a fresh /etc/skel home is mounted over the login
// user's home: sshd runs every session, sftp-server included, through the
// login shell, and bash then sources ~/.bashrc, so a developer's rc file
// (pyenv init on this machine) would add its cost to every session.
type server struct {
	host, dir, home string
	port            int
	knownHost       string // "[host]:port keytype key comment"
	cmd             *exec.Cmd
	exited          chan struct{}
}

func (s *server) addr() string { return net.JoinHostPort(s.host, strconv.Itoa(s.port)) }

func keygen(path string) error {
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f", path).CombinedOutput(); err != nil {
		return fmt.Errorf("ssh-keygen: %v\n%s", err, out)
	}
	return nil
}

// canUnshare reports whether sshd can get a private mount namespace.
func canUnshare() bool {
	return exec.Command("unshare", "--mount", "--propagation", "private", "true").Run() == nil
}

// startServer starts sshd number i on 127.0.0.i and waits for its banner.
func (h *harness) startServer(i int) (*server, error) {
	s := &server{host: fmt.Sprintf("127.0.0.%d", i), dir: h.remoteRoot}
	sdir := filepath.Join(h.tmp, "sshd", strconv.Itoa(i))
	if err := h.makeDirs(s, sdir, i); err != nil {
		return nil, err
	}
	cfg, err := h.writeConfig(s, sdir)
	if err != nil {
		return nil, err
	}
	if err := h.launch(s, cfg, filepath.Join(sdir, "sshd.log")); err != nil {
		return nil, err
	}
	return s, nil
}

// makeDirs makes the server's directories: sdir for its config and
// keys, and (isolated) the remote directory and home it sees.
func (h *harness) makeDirs(s *server, sdir string, i int) error {
	if h.isolated {
		s.dir = filepath.Join(h.tmp, "hosts", strconv.Itoa(i))
	}
	for _, d := range []string{sdir, filepath.Join(s.dir, "action"), filepath.Join(s.dir, "baseline")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if h.isolated && !h.realHome {
		s.home = filepath.Join(sdir, "home")
		if out, err := exec.Command("cp", "-a", "/etc/skel/.", s.home+"/").CombinedOutput(); err != nil {
			return fmt.Errorf("copy /etc/skel: %v\n%s", err, out)
		}
	}
	return nil
}

// writeConfig makes the host key, picks a free port and writes the
// sshd_config, returning its path.
func (h *harness) writeConfig(s *server, sdir string) (string, error) {
	hostKey := filepath.Join(sdir, "ssh_host_ed25519_key")
	if err := keygen(hostKey); err != nil {
		return "", err
	}
	pub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		return "", err
	}
	l, err := net.Listen("tcp", s.host+":0")
	if err != nil {
		return "", fmt.Errorf("pick a free port on %s: %w", s.host, err)
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	s.knownHost = fmt.Sprintf("[%s]:%d %s", s.host, s.port, strings.TrimSpace(string(pub)))
	cfg := filepath.Join(sdir, "sshd_config")
	conf := fmt.Sprintf(`ListenAddress %s
Port %d
HostKey %s
AuthorizedKeysFile %s
PidFile none
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
UseDNS no
PrintMotd no
LogLevel ERROR
MaxStartups 100
Subsystem sftp /usr/lib/openssh/sftp-server
`, s.host, s.port, hostKey, h.clientKey+".pub")
	return cfg, os.WriteFile(cfg, []byte(conf), 0o600)
}

// launch starts sshd with cfg (isolated: in its own mount namespace) and
// waits for its banner.
func (h *harness) launch(s *server, cfg, logPath string) error {
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	s.cmd = exec.Command(sshdPath, "-D", "-e", "-f", cfg)
	if h.isolated { // unshare and sh exec into sshd: the pid stays sshd's
		s.cmd = exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
			`mount --bind "$1" "$2" && { [ -z "$5" ] || mount --bind "$5" "$6"; } && exec "$3" -D -e -f "$4"`,
			"sh", s.dir, h.remoteRoot, sshdPath, cfg, s.home, h.userHome)
	}
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	// Its own process group: a terminal's Ctrl-C reaches it only through stop.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.exited = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	for deadline := time.Now().Add(10 * time.Second); ; {
		err := banner(s.addr())
		if err == nil {
			return nil
		}
		select {
		case <-s.exited:
			log, _ := os.ReadFile(logPath)
			return fmt.Errorf("sshd on %s exited: %v\n%s", s.addr(), err, log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return fmt.Errorf("sshd on %s: no banner after 10s: %w", s.addr(), err)
		}
	}
}

func banner(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err == nil && !strings.HasPrefix(line, "SSH-2.0-") {
		err = fmt.Errorf("unexpected banner %q", line)
	}
	return err
}

// stop sends SIGTERM, then SIGKILL after 5s, and waits for sshd.
func (s *server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}
