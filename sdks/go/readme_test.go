package sanhu

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// The README's example, compiled and run as written against the real server (with a fresh phone
// number), from the server's directory, where `sanhu serve` wrote sanhu-credentials.json: a program
// of its own, in a module that uses this one.
func TestTheReadmeExample(t *testing.T) {
	credentialsFile := credentials(t, "SANHU_TEST_CREDENTIALS")
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	match := regexp.MustCompile("(?s)```go\n(.*?)```").FindSubmatch(readme)
	if match == nil || strings.Count(strings.TrimSpace(string(match[1])), "\n") != 4 {
		t.Fatalf("the README has no five-line go block")
	}
	example := strings.Replace(string(match[1]), "13800000001", newPhone(), 1)
	here, _ := os.Getwd()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example\n\ngo 1.18\n\nrequire sanhu/sdks/go v0.0.0\n\nreplace sanhu/sdks/go => " + here + "\n",
		"main.go": "package main\n\nimport (\n\t\"context\"\n\t\"fmt\"\n\n\tsanhu \"sanhu/sdks/go\"\n)\n\nfunc main() {\n\tctx := context.Background()\n" +
			example + "\tif err != nil {\n\t\tpanic(err)\n\t}\n\tfmt.Println(wallet.Balance)\n}\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	build := exec.Command(goTool, "build", "-o", filepath.Join(dir, "example"), ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOPROXY=off", "GOFLAGS=-mod=mod")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("the README example does not build: %v\n%s", err, out)
	}
	run := exec.Command(filepath.Join(dir, "example"))
	run.Dir = filepath.Dir(credentialsFile)
	out, err := run.CombinedOutput()
	if err != nil || string(out) != "0\n" {
		t.Fatalf("the README example printed %q (%v), want 0", out, err)
	}
}
