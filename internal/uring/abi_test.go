package uring

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The Go structures must be the kernel's, byte for byte. The test
// compiles a C program against the system's <linux/io_uring.h> (gcc: make
// deps installs it) that prints each structure's size and each field's
// offset, and compares them with the Go types.
func TestABIMatchesHeader(t *testing.T) {
	structs := []struct {
		c      string
		goType any
		// fields maps Go field names to C member names, in order.
		fields [][2]string
	}{
		{"io_uring_sqe", SQE{}, [][2]string{{"Opcode", "opcode"}, {"Flags", "flags"}, {"Ioprio", "ioprio"}, {"FD", "fd"}, {"Off", "off"}, {"Addr", "addr"}, {"Len", "len"}, {"OpFlags", "msg_flags"}, {"UserData", "user_data"}, {"BufIndex", "buf_group"}, {"Personality", "personality"}, {"FileIndex", "file_index"}, {"Addr3", "addr3"}}},
		{"io_uring_cqe", CQE{}, [][2]string{{"UserData", "user_data"}, {"Res", "res"}, {"Flags", "flags"}}},
		{"io_uring_params", params{}, [][2]string{{"sqEntries", "sq_entries"}, {"cqEntries", "cq_entries"}, {"flags", "flags"}, {"sqThreadIdle", "sq_thread_idle"}, {"features", "features"}, {"wqFD", "wq_fd"}, {"sqOff", "sq_off"}, {"cqOff", "cq_off"}}},
		{"io_sqring_offsets", sqringOffsets{}, [][2]string{{"head", "head"}, {"tail", "tail"}, {"ringMask", "ring_mask"}, {"flags", "flags"}, {"array", "array"}}},
		{"io_cqring_offsets", cqringOffsets{}, [][2]string{{"head", "head"}, {"tail", "tail"}, {"ringMask", "ring_mask"}, {"cqes", "cqes"}}},
		{"io_uring_getevents_arg", getEventsArg{}, [][2]string{{"sigmask", "sigmask"}, {"sigmaskSz", "sigmask_sz"}, {"ts", "ts"}}},
		{"io_uring_probe", probeHead{}, [][2]string{{"lastOp", "last_op"}, {"opsLen", "ops_len"}}},
		{"io_uring_probe_op", probeOp{}, [][2]string{{"op", "op"}, {"flags", "flags"}}},
		{"io_uring_buf_reg", bufReg{}, [][2]string{{"ringAddr", "ring_addr"}, {"ringEntries", "ring_entries"}, {"bgid", "bgid"}}},
		{"io_uring_buf", ringBuf{}, [][2]string{{"addr", "addr"}, {"len", "len"}, {"bid", "bid"}, {"resv", "resv"}}},
		{"io_uring_rsrc_register", rsrcRegister{}, [][2]string{{"nr", "nr"}, {"flags", "flags"}, {"data", "data"}, {"tags", "tags"}}},
	}
	var src strings.Builder
	src.WriteString("#include <stdio.h>\n#include <stddef.h>\n#include <linux/io_uring.h>\nint main(void) {\n")
	var want []string
	for _, s := range structs {
		typ := reflect.TypeOf(s.goType)
		fmt.Fprintf(&src, "printf(\"%s %%zu\\n\", sizeof(struct %s));\n", s.c, s.c)
		want = append(want, fmt.Sprintf("%s %d", s.c, typ.Size()))
		for _, f := range s.fields {
			gf, ok := typ.FieldByName(f[0])
			if !ok {
				t.Fatalf("%v has no field %s", typ, f[0])
			}
			fmt.Fprintf(&src, "printf(\"%s.%s %%zu\\n\", offsetof(struct %s, %s));\n", s.c, f[1], s.c, f[1])
			want = append(want, fmt.Sprintf("%s.%s %d", s.c, f[1], gf.Offset))
		}
	}
	src.WriteString("return 0;\n}\n")
	dir := t.TempDir()
	c := filepath.Join(dir, "abi.c")
	if err := os.WriteFile(c, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "abi")
	if out, err := exec.Command("gcc", "-o", bin, c).CombinedOutput(); err != nil {
		t.Fatalf("gcc (make deps installs it): %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			g := "nothing"
			if i < len(got) {
				g = got[i]
			}
			t.Errorf("Go says %q, the header %q", want[i], g)
		}
	}
}
