package agentpb

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/sockbench/sockbench/loadgen"
)

// localOnly are the fields of loadgen.Options that stay with the caller
// (StartAt travels in the Start message, on the agent's own clock;
// OnWindow is called by the coordinator on its clock).
var localOnly = map[string]bool{"Progress": true, "VegetaResults": true, "StartAt": true, "OnWindow": true}

// Every option of loadgen.Options travels in a Spec and comes back the
// same: a field added to Options fails here until the Spec carries it (or
// it is named local-only above).
func TestSpecCarriesEveryOption(t *testing.T) {
	var o loadgen.Options
	v := reflect.ValueOf(&o).Elem()
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Name
		if localOnly[name] {
			continue
		}
		// A distinct non-zero value in every field.
		switch f.Kind() {
		case reflect.String:
			f.SetString(name + "-value")
		case reflect.Int, reflect.Int64:
			if f.Type() == reflect.TypeOf(time.Duration(0)) {
				f.SetInt(int64(time.Duration(i+1) * time.Millisecond))
			} else {
				f.SetInt(int64(100 + i))
			}
		case reflect.Float64:
			f.SetFloat(float64(i) + 0.5)
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Slice:
			if f.Type() != reflect.TypeOf([]loadgen.Header(nil)) {
				t.Fatalf("Options.%s: a %s; teach this test and the Spec about it", name, f.Type())
			}
			f.Set(reflect.ValueOf([]loadgen.Header{{Name: "X-A", Value: "1"}, {Name: "X-B", Value: "2"}}))
		default:
			t.Fatalf("Options.%s: a %s; teach this test and the Spec about it", name, f.Type())
		}
	}
	got := SpecFromOptions(o).Options()
	if !reflect.DeepEqual(got, o) {
		t.Errorf("through a Spec:\n got %+v\nwant %+v", got, o)
	}
}

func TestTokenMatches(t *testing.T) {
	want := []byte("0123456789abcdef")
	for _, tc := range []struct {
		name string
		md   metadata.MD
		ok   bool
	}{
		{"right", metadata.Pairs("authorization", "Bearer 0123456789abcdef"), true},
		{"wrong", metadata.Pairs("authorization", "Bearer 0123456789abcdeF"), false},
		{"prefix of it", metadata.Pairs("authorization", "Bearer 0123456789abcde"), false},
		{"longer", metadata.Pairs("authorization", "Bearer 0123456789abcdef0"), false},
		{"no scheme", metadata.Pairs("authorization", "0123456789abcdef"), false},
		{"twice", metadata.Pairs("authorization", "Bearer 0123456789abcdef", "authorization", "Bearer 0123456789abcdef"), false},
		{"missing", metadata.MD{}, false},
	} {
		if got := TokenMatches(tc.md, want); got != tc.ok {
			t.Errorf("%s: TokenMatches = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

func TestReadTokenRefusesShortAndEmptyTokens(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("abc\n"), 0o600)
	if _, err := ReadToken(short); err == nil {
		t.Error("a 3-byte token was accepted")
	}
	long := filepath.Join(dir, "long")
	os.WriteFile(long, bytes.Repeat([]byte("x"), MaxTokenBytes+1), 0o600)
	if _, err := ReadToken(long); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("a token of %d bytes: %v, want a refusal saying how long it may be", MaxTokenBytes+1, err)
	}
	// A file that holds nothing is a mistake (a secret not yet written,
	// a template), not a request for no token.
	for name, content := range map[string]string{"empty": "", "blank": " \n\t\n"} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		if _, err := ReadToken(p); err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "empty") {
			t.Errorf("%s token file: %v, want an error naming %s and saying it is empty", name, err, p)
		}
	}
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte("  0123456789abcdef\n"), 0o600)
	if tok, err := ReadToken(good); err != nil || string(tok) != "0123456789abcdef" {
		t.Errorf("ReadToken = %q, %v", tok, err)
	}
}

// The generated code checked in is what `make proto` makes from
// agent.proto with the pinned plugins.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		t.Skip("protoc is not installed (Debian's protobuf-compiler; `make deps` installs it): cannot check the generated code")
	}
	tool := func(name string) string {
		out, err := exec.Command("go", "tool", "-n", name).Output()
		if err != nil {
			t.Fatalf("go tool -n %s: %v", name, err)
		}
		return string(bytes.TrimSpace(out))
	}
	dir := t.TempDir()
	cmd := exec.Command(protoc, "--proto_path=.",
		"--plugin=protoc-gen-go="+tool("protoc-gen-go"), "--plugin=protoc-gen-go-grpc="+tool("protoc-gen-go-grpc"),
		"--go_out="+dir, "--go_opt=paths=source_relative",
		"--go-grpc_out="+dir, "--go-grpc_opt=paths=source_relative", "agent.proto")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("protoc: %v\n%s", err, out)
	}
	for _, f := range []string{"agent.pb.go", "agent_grpc.pb.go"} {
		want, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what agent.proto generates: run `make proto`", f)
		}
	}
}
