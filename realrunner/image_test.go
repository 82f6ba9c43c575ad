package realrunner

import (
	"bufio"
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/productgalaxy/sops-deploy-action/internal/dockertest"
)

// TestImageBuilds builds the Dockerfile with BuildKit and with the classic
// builder (act and DOCKER_BUILDKIT=0 runners), and cross-compiles an arm64
// image under BuildKit: the builder stage runs on the build platform, so
// no emulation is needed (none is installed here: a RUN under arm64 would
// fail).
func TestImageBuilds(t *testing.T) {
	e := dockertest.Require(t)
	e.EnsureGoImage(t)
	root := dockertest.RepoRoot(t)

	t.Run("buildkit", func(t *testing.T) {
		img := e.ActionImage(t)
		checkImage(t, e, img, elf.EM_X86_64)
	})
	t.Run("classic", func(t *testing.T) {
		tag := "sops-deploy-action:test-classic"
		d := e.Build(t, root, tag, false)
		t.Logf("classic builder: %s", d.Round(time.Second))
		checkImage(t, e, tag, elf.EM_X86_64)
	})
	t.Run("buildkit arm64", func(t *testing.T) {
		tag := "sops-deploy-action:test-arm64"
		d := e.Build(t, root, tag, true, "--platform", "linux/arm64")
		t.Logf("BuildKit, linux/arm64: %s", d.Round(time.Second))
		checkImage(t, e, tag, elf.EM_AARCH64)
	})
}

// checkImage checks the image's shape and its binary: the entrypoint as
// the Dockerfile says, no user, no working directory, static, of the
// wanted architecture, with no test key inside.
func checkImage(t *testing.T, e *dockertest.Engine, img string, machine elf.Machine) {
	t.Helper()
	cfg := e.Run(t, "image", "inspect", "--format", "{{json .Config.Entrypoint}} user={{.Config.User}} workdir={{.Config.WorkingDir}} size={{.Size}}", img)
	// BuildKit records the default working directory as "/"; the classic
	// builder leaves it empty. Either way the runner's --workdir applies.
	if !imageConfigRE.MatchString(cfg) {
		t.Errorf("image %s config: %s; want the entrypoint /sops-deploy-action, no user, no working directory", img, cfg)
	}
	t.Logf("%s: %s", img, strings.TrimSpace(cfg))
	bin := extract(t, e, img, "/sops-deploy-action")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != machine {
		t.Errorf("image %s holds a %s binary, want %s", img, f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("image %s: the binary is dynamically linked", img)
		}
	}
	b, _ := os.ReadFile(bin)
	if ageSecretKeyRE.Match(b) || strings.Contains(string(b), "TEST-ONLY") {
		t.Errorf("image %s: the binary carries test material", img)
	}
}

var imageConfigRE = regexp.MustCompile(`^\["/sops-deploy-action"\] user= workdir=/? size=`)

// ageSecretKeyRE matches a whole age secret key, as secret scanners do.
var ageSecretKeyRE = regexp.MustCompile(`AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}`)

// extract copies path out of the image into a temporary file.
func extract(t *testing.T, e *dockertest.Engine, img, path string) string {
	t.Helper()
	id := strings.TrimSpace(e.Run(t, "create", img))
	defer e.Run(t, "rm", id)
	dst := filepath.Join(t.TempDir(), filepath.Base(path))
	e.Run(t, "cp", id+":"+path, dst)
	return dst
}

// BenchmarkImageStart measures, for the action's image and for /bin/true
// in a scratch image, the time from `docker run` to the first line the
// action prints (to the exit, for true), as medians of 9 runs, and the
// image's size. Run with
//
//	SOPS_DEPLOY_DOCKER_TESTS=1 go test ./realrunner -run '^$' -bench ImageStart -benchtime 1x
func BenchmarkImageStart(b *testing.B) {
	e := dockertest.Require(b)
	img := e.ActionImage(b)
	trueImg := trueImage(b, e)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		action := medianStart(b, e, img, true)
		base := medianStart(b, e, trueImg, false)
		b.ReportMetric(float64(action.Microseconds())/1000, "action-first-line-ms")
		b.ReportMetric(float64(base.Microseconds())/1000, "true-exit-ms")
		b.ReportMetric(float64(action)/float64(base), "ratio")
	}
	size, _ := strconv.ParseFloat(strings.TrimSpace(e.Run(b, "image", "inspect", "--format", "{{.Size}}", img)), 64)
	b.ReportMetric(size/1e6, "image-MB")
	b.ReportMetric(float64(compressedSize(b, e, img))/1e6, "image-gzip-MB")
}

func trueImage(b *testing.B, e *dockertest.Engine) string {
	const tag = "sops-deploy-test/true:local"
	if e.HasImage(tag) {
		return tag
	}
	dir := b.TempDir()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		b.Fatal("busybox not found")
	}
	data, _ := os.ReadFile(bb)
	os.WriteFile(filepath.Join(dir, "true"), data, 0o755) // busybox runs the applet named by argv[0]
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY true /true\nENTRYPOINT [\"/true\"]\n"), 0o644)
	e.Build(b, dir, tag, true)
	return tag
}

func medianStart(b *testing.B, e *dockertest.Engine, img string, firstLine bool) time.Duration {
	var ds []time.Duration
	for range 9 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := e.Command(ctx, "run", "--rm", "--network", "none", img)
		out, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		if firstLine {
			bufio.NewReader(out).ReadString('\n')
		}
		d := time.Since(start)
		cmd.Wait()
		if !firstLine {
			d = time.Since(start)
		}
		cancel()
		ds = append(ds, d)
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

func compressedSize(b *testing.B, e *dockertest.Engine, img string) int64 {
	cmd := e.Command(context.Background(), "save", img)
	gz := exec.Command("gzip", "-6")
	pipe, _ := cmd.StdoutPipe()
	gz.Stdin = pipe
	out, err := gz.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Start()
	gz.Start()
	var n int64
	buf := make([]byte, 1<<20)
	for {
		k, err := out.Read(buf)
		n += int64(k)
		if err != nil {
			break
		}
	}
	gz.Wait()
	cmd.Wait()
	return n
}
