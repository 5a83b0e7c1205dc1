// Package agentpb is the wire protocol between a sockbench coordinator and
// its agents (agent.proto, and the code protoc generates from it), with
// what both ends need to speak it alike: the protocol version, the mapping
// between loadgen.Options and the Spec that carries them, and the
// credentials every call bears.
package agentpb

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"runtime/debug"
	"sync"
	"time"
)

// ProtocolVersion is checked on connect (Hello): a coordinator and an agent
// of different versions refuse each other, naming both versions.
const ProtocolVersion = 1

// BuildVersion names this sockbench build: the module version and the
// first bytes of the executable's SHA-256, which tells two builds apart
// even when both are "(devel)".
var BuildVersion = sync.OnceValue(func() string {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	if exe, err := os.Executable(); err == nil {
		if sum, err := FileSum(exe); err == nil {
			v += "+" + sum[:12]
		}
	}
	return v
})

// FileSum is the hex SHA-256 of the file at path: what tells one sockbench
// build from another.
func FileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Timing both ends of an attack stream rely on.
const (
	// HeartbeatInterval is how often an agent reports between seconds, so that a
	// coordinator tells a silent agent from a busy one.
	HeartbeatInterval = 500 * time.Millisecond
	// Grace is how long past its warm-up and window an attack may run
	// before the agent ends it, whatever the coordinator says.
	Grace = 5 * time.Second
)
